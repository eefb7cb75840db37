//! Outcome sets: which continuations count as which outcome, and how far a partial
//! continuation can still go.
//!
//! The definition every method shares (README, "Measurement"): for an integer outcome N written
//! with prefix `p` (the post's leading space), P(N) is the probability that the continuation
//! starts with `p` followed by the canonical decimal of N (no leading zeros) and the next
//! character is not a digit, or generation ends there. A continuation such as " 97." or
//! " 97 is" counts as 97; " 970", " 097" and "  97" count as no outcome.

use serde::{Deserialize, Serialize};

/// The largest outcome set a spec may declare; keeps reachability sets and reports bounded.
pub const MAX_OUTCOMES: u64 = 100_000;

/// The set of outcomes a claim is about. An enum so that choice lists and regex categories
/// can join as further variants with their own classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeSet {
    /// Integers `lo..=hi`, each written as `prefix` + canonical decimal.
    Integers(IntegerRange),
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
        }
    }

    /// The value of outcome `index` as it is written in expectations and JSON (`97`).
    pub fn value(&self, index: usize) -> serde_json::Value {
        match self {
            OutcomeSet::Integers(r) => serde_json::Value::from(r.lo + index as u64),
        }
    }

    /// The index of an integer outcome, if it is in the set.
    pub fn index_of_integer(&self, n: u64) -> Option<usize> {
        match self {
            OutcomeSet::Integers(r) => (r.lo..=r.hi).contains(&n).then(|| (n - r.lo) as usize),
        }
    }

    /// Classifies a continuation that may continue with more text.
    pub fn classify(&self, text: &str) -> PrefixState {
        match self {
            OutcomeSet::Integers(r) => r.classify(text),
        }
    }

    /// The outcome decided if generation ends right after `text` (an end-of-generation token).
    pub fn classify_end(&self, text: &str) -> Option<usize> {
        match self {
            OutcomeSet::Integers(r) => match r.split(text)? {
                (digits, "") => r.index_of(digits),
                _ => None,
            },
        }
    }

    /// The outcome of a whole sampled completion: decided by its text, or by its end when the
    /// text stops right after a number and generation `ended` on its own (a completion cut off
    /// by `max_tokens` right after " 9" could have gone on to " 97", so it is no outcome).
    pub fn classify_completion(&self, text: &str, ended: bool) -> Option<usize> {
        match self.classify(text) {
            PrefixState::Complete(n) => Some(n),
            PrefixState::Open if ended => self.classify_end(text),
            PrefixState::Open | PrefixState::Dead => None,
        }
    }

    /// Every outcome a continuation that starts with `text` can still become, ascending.
    /// Empty for dead continuations; one element for complete ones.
    pub fn reachable(&self, text: &str) -> Vec<usize> {
        match self {
            OutcomeSet::Integers(r) => r.reachable(text),
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutcomeSetYaml {
    kind: OutcomeKind,
    first: Option<String>,
    last: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutcomeKind {
    Integers,
}

impl TryFrom<OutcomeSetYaml> for OutcomeSet {
    type Error = String;

    fn try_from(raw: OutcomeSetYaml) -> Result<Self, String> {
        match raw.kind {
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
