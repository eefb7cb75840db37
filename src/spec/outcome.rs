//! Outcome sets: which continuations count as which outcome, and how far a partial
//! continuation can still go.
//!
//! The definition every method shares (README, "Measurement"): for an integer outcome N written
//! with prefix `p` (the post's leading space), P(N) is the probability that the continuation
//! starts with `p` followed by the canonical decimal of N (no leading zeros) and the next
//! character is not a digit, or generation ends there. A continuation such as " 97." or
//! " 97 is" counts as 97; " 970", " 097" and "  97" count as no outcome.

use super::classifier::Classifier;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest outcome set a spec may declare; keeps reachability sets and reports bounded.
pub const MAX_OUTCOMES: u64 = 100_000;

/// The set of outcomes a claim is about.
///
/// Integers and choices are decided by a prefix of the continuation, so every method can
/// measure them; categories and classifiers judge a whole completion, so only `sample` can.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeSet {
    /// Integers `lo..=hi`, each written as `prefix` + canonical decimal.
    Integers(IntegerRange),
    /// A list of texts such as `" A"`, `" B"`: the continuation starts with one of them and the
    /// next character is not a letter, digit or `_` (or generation ends there).
    Choices(ChoiceList),
    /// Named regular expressions over the whole completion; the first that matches decides.
    Categories(CategoryList),
    /// A named classifier with two outcomes (see `classifier.rs`).
    Classifier(Classifier),
}

/// An outcome as an expectation names it: `97`, `A` or `leaves`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum OutcomeRef {
    /// An integer outcome.
    Integer(u64),
    /// A choice (its text without surrounding whitespace), a category or a classifier outcome.
    Name(String),
}

impl std::fmt::Display for OutcomeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutcomeRef::Integer(n) => write!(f, "{n}"),
            OutcomeRef::Name(s) => f.write_str(s),
        }
    }
}

/// Texts a continuation may start with, e.g. `[" A", " B", " C", " D"]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChoiceList {
    /// The texts, in outcome order.
    pub texts: Vec<String>,
}

/// Named regular expressions, tried in order.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryList {
    /// (name, pattern) in outcome order.
    pub categories: Vec<Category>,
}

/// One named regular expression.
#[derive(Debug, Clone, Serialize)]
pub struct Category {
    /// The outcome's name.
    pub name: String,
    /// The pattern as written (Rust `regex` syntax).
    pub regex: String,
    #[serde(skip)]
    compiled: regex::Regex,
}

impl PartialEq for CategoryList {
    fn eq(&self, other: &Self) -> bool {
        self.categories.len() == other.categories.len()
            && self
                .categories
                .iter()
                .zip(&other.categories)
                .all(|(a, b)| a.name == b.name && a.regex == b.regex)
    }
}

/// Characters that continue a word: a choice followed by one of them is a different word.
fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl ChoiceList {
    fn name(&self, index: usize) -> String {
        self.texts[index].trim().to_string()
    }

    fn classify(&self, text: &str) -> PrefixState {
        let mut open = false;
        for (i, choice) in self.texts.iter().enumerate() {
            if let Some(rest) = text.strip_prefix(choice.as_str()) {
                match rest.chars().next() {
                    None => open = true,
                    Some(c) if !continues_word(c) => return PrefixState::Complete(i),
                    Some(_) => {}
                }
            } else if choice.starts_with(text) {
                open = true;
            }
        }
        if open {
            PrefixState::Open
        } else {
            PrefixState::Dead
        }
    }

    fn reachable(&self, text: &str) -> Vec<usize> {
        if let PrefixState::Complete(i) = self.classify(text) {
            return vec![i];
        }
        (0..self.texts.len())
            .filter(|&i| self.texts[i].starts_with(text))
            .collect()
    }
}

/// Integers `lo..=hi` written with a common prefix (usually one space).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegerRange {
    /// The text before the digits, e.g. `" "`.
    pub prefix: String,
    /// The smallest outcome.
    pub lo: u64,
    /// The largest outcome.
    pub hi: u64,
}

/// Where a partial continuation stands relative to an outcome set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixState {
    /// The continuation already decides this outcome (by index); further text cannot change it.
    Complete(usize),
    /// The continuation can no longer become any outcome.
    Dead,
    /// The continuation may still become an outcome; more tokens are needed.
    Open,
}

impl OutcomeSet {
    /// Number of outcomes.
    pub fn len(&self) -> usize {
        match self {
            OutcomeSet::Integers(r) => (r.hi - r.lo + 1) as usize,
            OutcomeSet::Choices(c) => c.texts.len(),
            OutcomeSet::Categories(c) => c.categories.len(),
            OutcomeSet::Classifier(_) => 2,
        }
    }

    /// Whether a prefix of the continuation decides the outcome, so that the logprob methods
    /// (`next_token`, `enumerate`) can measure it.
    pub fn decided_by_prefix(&self) -> bool {
        matches!(self, OutcomeSet::Integers(_) | OutcomeSet::Choices(_))
    }

    /// The YAML `kind` of this set.
    pub fn kind(&self) -> &'static str {
        match self {
            OutcomeSet::Integers(_) => "integers",
            OutcomeSet::Choices(_) => "choices",
            OutcomeSet::Categories(_) => "categories",
            OutcomeSet::Classifier(_) => "classifier",
        }
    }

    /// Whether the set is empty (never true for a validated spec).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of outcome `index`, e.g. `" 97"`.
    pub fn label(&self, index: usize) -> String {
        match self {
            OutcomeSet::Integers(r) => format!("{}{}", r.prefix, r.lo + index as u64),
            OutcomeSet::Choices(c) => c.texts[index].clone(),
            _ => self.name(index),
        }
    }

    /// The name of outcome `index` as expectations write it (`97`, `A`, `leaves`).
    pub fn name(&self, index: usize) -> String {
        match self {
            OutcomeSet::Integers(r) => (r.lo + index as u64).to_string(),
            OutcomeSet::Choices(c) => c.name(index),
            OutcomeSet::Categories(c) => c.categories[index].name.clone(),
            OutcomeSet::Classifier(c) => c.outcome_names()[index].to_string(),
        }
    }

    /// The value of outcome `index` in JSON: a number for integers (`97`), else its name.
    pub fn value(&self, index: usize) -> serde_json::Value {
        match self {
            OutcomeSet::Integers(r) => serde_json::Value::from(r.lo + index as u64),
            _ => serde_json::Value::from(self.name(index)),
        }
    }

    /// The index of a named outcome, if it is in the set.
    pub fn index_of(&self, outcome: &OutcomeRef) -> Option<usize> {
        match (self, outcome) {
            (OutcomeSet::Integers(r), OutcomeRef::Integer(n)) => {
                (r.lo..=r.hi).contains(n).then(|| (n - r.lo) as usize)
            }
            (OutcomeSet::Integers(_), OutcomeRef::Name(_)) => None,
            (_, outcome) => {
                let want = outcome.to_string();
                (0..self.len()).find(|&i| self.name(i) == want)
            }
        }
    }

    /// Classifies a continuation that may continue with more text. Sets not decided by a
    /// prefix (validated away for the logprob methods) call every text dead.
    pub fn classify(&self, text: &str) -> PrefixState {
        match self {
            OutcomeSet::Integers(r) => r.classify(text),
            OutcomeSet::Choices(c) => c.classify(text),
            OutcomeSet::Categories(_) | OutcomeSet::Classifier(_) => PrefixState::Dead,
        }
    }

    /// The outcome decided if generation ends right after `text` (an end-of-generation token).
    pub fn classify_end(&self, text: &str) -> Option<usize> {
        match self {
            OutcomeSet::Integers(r) => match r.split(text)? {
                (digits, "") => r.index_of(digits),
                _ => None,
            },
            OutcomeSet::Choices(c) => c.texts.iter().position(|t| t == text),
            OutcomeSet::Categories(_) | OutcomeSet::Classifier(_) => None,
        }
    }

    /// The outcome of a whole sampled completion. For prefix-decided sets: decided by its
    /// text, or by its end when the text stops right after a number and generation `ended` on
    /// its own (a completion cut off by `max_tokens` right after " 9" could have gone on to
    /// " 97", so it is no outcome). Categories: the first whose pattern matches. Classifiers:
    /// their own rule, which may leave a cut-off completion undecided.
    pub fn classify_completion(&self, text: &str, ended: bool) -> Option<usize> {
        match self {
            OutcomeSet::Categories(c) => c
                .categories
                .iter()
                .position(|cat| cat.compiled.is_match(text)),
            OutcomeSet::Classifier(c) => c.classify(text, ended),
            OutcomeSet::Integers(_) | OutcomeSet::Choices(_) => match self.classify(text) {
                PrefixState::Complete(n) => Some(n),
                PrefixState::Open if ended => self.classify_end(text),
                PrefixState::Open | PrefixState::Dead => None,
            },
        }
    }

    /// Every outcome a continuation that starts with `text` can still become, ascending.
    /// Empty for dead continuations; one element for complete ones.
    pub fn reachable(&self, text: &str) -> Vec<usize> {
        match self {
            OutcomeSet::Integers(r) => r.reachable(text),
            OutcomeSet::Choices(c) => c.reachable(text),
            OutcomeSet::Categories(_) | OutcomeSet::Classifier(_) => Vec::new(),
        }
    }
}

impl IntegerRange {
    /// Splits `text` into (digits, rest after digits) when it starts with the prefix;
    /// `None` when it does not (or is shorter than the prefix).
    fn split<'t>(&self, text: &'t str) -> Option<(&'t str, &'t str)> {
        let rest = text.strip_prefix(self.prefix.as_str())?;
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        Some(rest.split_at(end))
    }

    fn max_digits(&self) -> usize {
        self.hi.to_string().len()
    }

    /// The outcome index of a canonical digit string, if in range.
    fn index_of(&self, digits: &str) -> Option<usize> {
        if digits.is_empty() || digits.len() > self.max_digits() || !canonical(digits) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        (self.lo..=self.hi)
            .contains(&n)
            .then(|| (n - self.lo) as usize)
    }

    fn classify(&self, text: &str) -> PrefixState {
        let Some((digits, after)) = self.split(text) else {
            return if self.prefix.starts_with(text) {
                PrefixState::Open
            } else {
                PrefixState::Dead
            };
        };
        if digits.is_empty() {
            return if after.is_empty() {
                PrefixState::Open
            } else {
                PrefixState::Dead
            };
        }
        if !after.is_empty() {
            return match self.index_of(digits) {
                Some(i) => PrefixState::Complete(i),
                None => PrefixState::Dead,
            };
        }
        if self.reachable(text).is_empty() {
            PrefixState::Dead
        } else {
            PrefixState::Open
        }
    }

    fn reachable(&self, text: &str) -> Vec<usize> {
        let all = || (0..=(self.hi - self.lo) as usize).collect::<Vec<_>>();
        let Some((digits, after)) = self.split(text) else {
            return if self.prefix.starts_with(text) {
                all()
            } else {
                Vec::new()
            };
        };
        if !after.is_empty() {
            return if digits.is_empty() {
                Vec::new()
            } else {
                self.index_of(digits).into_iter().collect()
            };
        }
        if digits.is_empty() {
            return all();
        }
        if !canonical(digits) || digits.len() > self.max_digits() {
            return Vec::new();
        }
        // Outcomes whose decimal starts with `digits`: the number itself, and for each extra
        // length L the block digits·10^L ..= digits·10^L + 10^L − 1, clipped to the range.
        let mut out = Vec::new();
        let mut block_lo: u64 = digits.parse().expect("checked digits");
        let mut width: u64 = 1;
        for _ in digits.len()..=self.max_digits() {
            let block_hi = block_lo + width - 1;
            let (a, b) = (block_lo.max(self.lo), block_hi.min(self.hi));
            if a <= b {
                out.extend((a..=b).map(|n| (n - self.lo) as usize));
            }
            if digits == "0" {
                break; // "0" followed by digits is never canonical
            }
            block_lo *= 10;
            width *= 10;
        }
        out.sort_unstable();
        out
    }
}

/// A digit string is canonical when it has no leading zero (except "0" itself).
fn canonical(digits: &str) -> bool {
    digits == "0" || !digits.starts_with('0')
}

/// The form outcome sets take in YAML: `kind` plus the fields of that kind. Kept flat (not a
/// serde-tagged enum) so that every field error keeps its line and column.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutcomeSetYaml {
    kind: OutcomeKind,
    first: Option<String>,
    last: Option<String>,
    choices: Option<Vec<String>>,
    categories: Option<Vec<CategoryYaml>>,
    classifier: Option<ClassifierKind>,
    lines: Option<usize>,
    max_period: Option<usize>,
    min_repeats: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CategoryYaml {
    name: String,
    regex: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum OutcomeKind {
    Integers,
    Choices,
    Categories,
    Classifier,
}

#[derive(Debug, Deserialize, Clone, Copy, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ClassifierKind {
    LeavesWithinLines,
    RepetitionLoop,
}

/// The most lines `leaves_within_lines` may look at, and the longest loop period: beyond
/// these the judgements stop meaning what their names say.
const MAX_LINES: usize = 1000;
const MAX_PERIOD: usize = 50;

/// Names of choices and categories: what expectations can write after `prob(role, …)`.
fn valid_outcome_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl OutcomeSetYaml {
    /// The fields given that `kind` does not take, for a clear error.
    fn stray_fields(&self, allowed: &[&str]) -> Vec<&'static str> {
        let given = [
            ("first", self.first.is_some()),
            ("last", self.last.is_some()),
            ("choices", self.choices.is_some()),
            ("categories", self.categories.is_some()),
            ("classifier", self.classifier.is_some()),
            ("lines", self.lines.is_some()),
            ("max_period", self.max_period.is_some()),
            ("min_repeats", self.min_repeats.is_some()),
        ];
        given
            .into_iter()
            .filter(|(name, set)| *set && !allowed.contains(name))
            .map(|(name, _)| name)
            .collect()
    }
}

impl TryFrom<OutcomeSetYaml> for OutcomeSet {
    type Error = String;

    fn try_from(raw: OutcomeSetYaml) -> Result<Self, String> {
        let (kind, allowed): (&str, &[&str]) = match raw.kind {
            OutcomeKind::Integers => ("integers", &["first", "last"]),
            OutcomeKind::Choices => ("choices", &["choices"]),
            OutcomeKind::Categories => ("categories", &["categories"]),
            OutcomeKind::Classifier => (
                "classifier",
                match raw.classifier {
                    Some(ClassifierKind::LeavesWithinLines) => &["classifier", "lines"],
                    Some(ClassifierKind::RepetitionLoop) => {
                        &["classifier", "max_period", "min_repeats"]
                    }
                    None => &["classifier", "lines", "max_period", "min_repeats"],
                },
            ),
        };
        let stray = raw.stray_fields(allowed);
        if !stray.is_empty() {
            return Err(format!(
                "`{}` does not apply to kind `{kind}`; it takes {}",
                stray.join("`, `"),
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        match raw.kind {
            OutcomeKind::Choices => choices_from(raw.choices.unwrap_or_default()),
            OutcomeKind::Categories => categories_from(raw.categories.unwrap_or_default()),
            OutcomeKind::Classifier => {
                let form = "expected `classifier: leaves_within_lines` with `lines: N`, or \
                            `classifier: repetition_loop` with `max_period: N` and optional \
                            `min_repeats: N` (default 2)";
                match raw.classifier {
                    None => Err(format!("classifier outcome set needs `classifier`: {form}")),
                    Some(ClassifierKind::LeavesWithinLines) => match raw.lines {
                        Some(lines) if (1..=MAX_LINES).contains(&lines) => {
                            Ok(OutcomeSet::Classifier(Classifier::LeavesWithinLines {
                                lines,
                            }))
                        }
                        Some(lines) => Err(format!("lines: {lines} is not in 1..={MAX_LINES}")),
                        None => Err(format!("leaves_within_lines needs `lines`: {form}")),
                    },
                    Some(ClassifierKind::RepetitionLoop) => {
                        let max_period = raw
                            .max_period
                            .ok_or_else(|| format!("repetition_loop needs `max_period`: {form}"))?;
                        let min_repeats = raw.min_repeats.unwrap_or(2);
                        if !(1..=MAX_PERIOD).contains(&max_period) {
                            return Err(format!(
                                "max_period: {max_period} is not in 1..={MAX_PERIOD}"
                            ));
                        }
                        if !(2..=100).contains(&min_repeats) {
                            return Err(format!("min_repeats: {min_repeats} is not in 2..=100"));
                        }
                        Ok(OutcomeSet::Classifier(Classifier::RepetitionLoop {
                            max_period,
                            min_repeats,
                        }))
                    }
                }
            }
            OutcomeKind::Integers => {
                let form =
                    "expected `first` and `last` as quoted texts such as \" 0\" and \" 100\"";
                let (Some(first), Some(last)) = (raw.first, raw.last) else {
                    return Err(format!(
                        "integers outcome set needs `first` and `last`: {form}"
                    ));
                };
                let (p1, lo) =
                    split_integer_text(&first).map_err(|e| format!("first: {e}; {form}"))?;
                let (p2, hi) =
                    split_integer_text(&last).map_err(|e| format!("last: {e}; {form}"))?;
                if p1 != p2 {
                    return Err(format!(
                        "`first` and `last` must share the text before the digits, got {p1:?} and {p2:?}"
                    ));
                }
                if lo > hi {
                    return Err(format!(
                        "empty outcome range: first {lo} is greater than last {hi}"
                    ));
                }
                if hi - lo + 1 > MAX_OUTCOMES {
                    return Err(format!(
                        "outcome range has {} outcomes; at most {MAX_OUTCOMES}",
                        hi - lo + 1
                    ));
                }
                Ok(OutcomeSet::Integers(IntegerRange { prefix: p1, lo, hi }))
            }
        }
    }
}

impl<'de> Deserialize<'de> for OutcomeSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OutcomeSet::try_from(OutcomeSetYaml::deserialize(d)?)
            .map_err(|e| serde::de::Error::custom(format!("outcomes: {e}")))
    }
}

fn choices_from(texts: Vec<String>) -> Result<OutcomeSet, String> {
    let form = "expected a list of at least two texts such as [\" A\", \" B\"]";
    if texts.len() < 2 {
        return Err(format!(
            "a choices outcome set needs at least two choices: {form}"
        ));
    }
    if texts.len() as u64 > MAX_OUTCOMES {
        return Err(format!("{} choices; at most {MAX_OUTCOMES}", texts.len()));
    }
    let list = ChoiceList { texts };
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in list.texts.iter().enumerate() {
        let name = list.name(i);
        if !valid_outcome_name(&name) {
            return Err(format!(
                "choice {t:?}: without surrounding whitespace it must be letters, digits or `_` \
                 (expectations name it that way)"
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(format!("choice {t:?} repeats the name `{name}`"));
        }
        if t.ends_with(|c: char| !continues_word(c)) {
            return Err(format!(
                "choice {t:?} must end with a letter, digit or `_`, since what follows decides it"
            ));
        }
    }
    Ok(OutcomeSet::Choices(list))
}

fn categories_from(raw: Vec<CategoryYaml>) -> Result<OutcomeSet, String> {
    if raw.is_empty() {
        return Err(
            "a categories outcome set needs at least one `- name: …` with `regex: …`".into(),
        );
    }
    let mut categories = Vec::new();
    for c in raw {
        if !valid_outcome_name(&c.name) {
            return Err(format!(
                "category name {:?} must be letters, digits or `_`",
                c.name
            ));
        }
        if categories.iter().any(|k: &Category| k.name == c.name) {
            return Err(format!("category `{}` is listed twice", c.name));
        }
        // The size limit keeps a hostile pattern from taking the loader's memory.
        let compiled = regex::RegexBuilder::new(&c.regex)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("category `{}`: invalid regex: {e}", c.name))?;
        categories.push(Category {
            name: c.name,
            regex: c.regex,
            compiled,
        });
    }
    Ok(OutcomeSet::Categories(CategoryList { categories }))
}

/// Splits `" 97"` into (`" "`, 97). The digits must be canonical and end the text.
fn split_integer_text(text: &str) -> Result<(String, u64), String> {
    let start = text
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no digits"))?;
    let (prefix, digits) = text.split_at(start);
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{text:?} must end with its digits"));
    }
    if !canonical(digits) {
        return Err(format!("{text:?} has a leading zero"));
    }
    let n = digits
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    Ok((prefix.to_string(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_to_hundred() -> OutcomeSet {
        OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 0,
            hi: 100,
        })
    }

    #[test]
    fn classify_follows_the_definition() {
        let set = zero_to_hundred();
        assert_eq!(set.classify(""), PrefixState::Open);
        assert_eq!(set.classify(" "), PrefixState::Open);
        assert_eq!(set.classify(" 9"), PrefixState::Open);
        assert_eq!(set.classify(" 97"), PrefixState::Open);
        assert_eq!(set.classify(" 97."), PrefixState::Complete(97));
        assert_eq!(set.classify(" 97 is"), PrefixState::Complete(97));
        assert_eq!(set.classify(" 970"), PrefixState::Dead);
        assert_eq!(set.classify(" 07"), PrefixState::Dead);
        assert_eq!(set.classify(" 0"), PrefixState::Open);
        assert_eq!(set.classify(" 0,"), PrefixState::Complete(0));
        assert_eq!(set.classify(" 100"), PrefixState::Open);
        assert_eq!(set.classify(" 101"), PrefixState::Dead);
        assert_eq!(set.classify("  97"), PrefixState::Dead);
        assert_eq!(set.classify("97"), PrefixState::Dead);
        assert_eq!(set.classify(" x"), PrefixState::Dead);
    }

    #[test]
    fn reachable_sets() {
        let set = zero_to_hundred();
        assert_eq!(set.reachable("").len(), 101);
        assert_eq!(
            set.reachable(" 9"),
            vec![9, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]
        );
        assert_eq!(set.reachable(" 10"), vec![10, 100]);
        assert_eq!(set.reachable(" 0"), vec![0]);
        assert_eq!(set.reachable(" 97"), vec![97]);
        assert_eq!(set.reachable(" 97!"), vec![97]);
        assert!(set.reachable(" 970").is_empty());
        assert_eq!(set.classify_end(" 97"), Some(97));
        assert_eq!(set.classify_end(" "), None);
    }

    #[test]
    fn completions() {
        let set = zero_to_hundred();
        assert_eq!(set.classify_completion(" 97\n", false), Some(97));
        assert_eq!(set.classify_completion(" 97", true), Some(97));
        assert_eq!(set.classify_completion(" 97", false), None);
        assert_eq!(set.classify_completion(" between 1 and 2", true), None);
        assert_eq!(set.classify_completion("", true), None);
    }

    #[test]
    fn range_from_one() {
        let set = OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 1,
            hi: 100,
        });
        assert_eq!(set.classify(" 0"), PrefixState::Dead);
        assert_eq!(
            set.reachable(" 1"),
            vec![0, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 99]
        );
        assert_eq!(set.classify(" 1\n"), PrefixState::Complete(0));
    }

    #[test]
    fn yaml_forms() {
        let ok = |y: &str| serde_yaml::from_str::<OutcomeSet>(y);
        assert_eq!(
            ok("kind: integers\nfirst: \" 0\"\nlast: \" 100\"").unwrap(),
            zero_to_hundred()
        );
        let err = ok("kind: integers\nfirst: \" 100\"\nlast: \" 0\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty outcome range"), "{err}");
        let err = ok("kind: integers\nfirst: \" 0\"\nlast: \"100\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("share the text"), "{err}");
        let err = ok("kind: integers\nfirst: \" 00\"\nlast: \" 100\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("leading zero"), "{err}");
    }
}
