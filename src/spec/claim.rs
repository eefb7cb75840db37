//! The claim spec: one claim of the post per YAML file under `specs/`.

use super::expectation::{Condition, parse_condition};
use super::{OutcomeSet, Role, Version};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One claim, as written in `specs/<id>.yaml` (format version 1; see README "Spec format").
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    /// Format version; this build reads `1`.
    pub version: Version,
    /// Unique id, used in snapshots, recordings' error messages and the CLI.
    pub id: String,
    /// The claim in words, faithful to the post.
    pub claim: String,
    /// Where in the post the claim comes from.
    pub source: String,
    /// Whether a failure fails the run (`strict`) or only changes the snapshot (`tracked`).
    pub status: ClaimStatus,
    /// The roles the claim compares; models of other roles are not measured.
    pub roles: Vec<Role>,
    /// Named prompts, verbatim from the post where it gives them. With `dataset`, the prompts
    /// made from its rows (the file lists none then).
    #[serde(default)]
    pub prompts: Vec<PromptSpec>,
    /// Prompts made from the rows of a data file instead of listed one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Dataset>,
    /// What counts as an outcome.
    #[schemars(with = "super::outcome::OutcomeSetYaml")]
    pub outcomes: OutcomeSet,
    /// How the distribution over outcomes is measured.
    #[schemars(with = "MethodYaml")]
    pub method: Method,
    /// The claim as expectations over metrics, evaluated per prompt.
    #[schemars(with = "Vec<ExpectationYaml>")]
    pub expect: Vec<Expectation>,
    /// Free-form remarks (caveats from the post, reconstruction notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The correction over the claim's tests on a model set (default `holm`).
    #[serde(default)]
    pub multiplicity: Multiplicity,
}

/// How the p-values of a claim's tests on one model set are corrected together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Multiplicity {
    /// Holm's step-down: controls the family-wise error rate (no test wrongly holds, at α).
    #[default]
    Holm,
    /// Benjamini–Hochberg: controls the false discovery rate (for claims with many tests, such
    /// as one per question).
    BenjaminiHochberg,
}

/// A claim of the post that cannot be tested through an API, kept so that reports list it
/// with its reason instead of dropping it silently (`status: not_testable`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntestableSpec {
    /// Format version; this build reads `1`.
    pub version: Version,
    /// Unique id among all specs.
    pub id: String,
    /// The claim in words, faithful to the post.
    pub claim: String,
    /// Where in the post the claim comes from.
    pub source: String,
    /// Always `not_testable` (also spelled `not-testable`).
    pub status: UntestableStatus,
    /// Why no API measurement can test it.
    pub reason: String,
    /// Free-form remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// The one status an [`UntestableSpec`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UntestableStatus {
    /// Cannot be tested through an API.
    #[serde(alias = "not-testable")]
    NotTestable,
}

/// Whether a claim gates the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// A verdict other than "holds" (or not applicable) fails the run, exit code 1.
    Strict,
    /// The verdict is recorded in the snapshot; a change shows up in review.
    Tracked,
}

/// A named prompt.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    /// Short name used in reports and `prompts:` filters.
    pub name: String,
    /// The prompt text, sent as is to completions APIs and as one user message to chat APIs.
    pub text: String,
    /// The correct outcome, for claims about accuracy and calibration (`A`, `97`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// A data file whose rows become prompts: one JSON object per line.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The file, relative to the spec's directory; it must stay inside the project.
    pub file: String,
    /// The prompt text, with `{field}` or `{field.sub}` replaced by the row's values
    /// (`{{` and `}}` for literal braces).
    pub template: String,
    /// The field that names each prompt (default `id`).
    #[serde(default = "default_name_field")]
    pub name: String,
    /// The field holding the correct outcome, if the claim needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

fn default_name_field() -> String {
    "id".into()
}

/// How an expectation's instances over prompts (and model bindings) decide its verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Over {
    /// On every prompt: refuted if any instance is, holds only if all hold.
    #[default]
    Each,
    /// On some prompt: holds if any instance holds, refuted only if all are.
    Any,
    /// Across prompts, as paired differences lhs − rhs per prompt: a one-sided exact Wilcoxon
    /// signed-rank test (sign test and paired t reported beside it).
    Paired,
    /// Across prompts, as one aggregate per side (the mean of the metric, or `ece`/`accuracy`),
    /// with a prompt-level bootstrap of the difference.
    Pooled,
}

/// How a distribution over outcomes is measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// The post's method: one request, the top-k next-token log-probabilities, outcomes that are
    /// single tokens. Its interval is the post's uncertainty bar, not a guaranteed bound.
    NextToken {
        /// Top log-probabilities asked for (capped by the model's `max_top_logprobs`).
        top_k: u32,
    },
    /// Exact multi-token outcomes by expanding the tree of token prefixes, with guaranteed
    /// bounds on every figure.
    Enumerate {
        /// Top log-probabilities asked for at the lightest nodes.
        top_k: u32,
        /// Top log-probabilities asked for at the root (probability 1); a node of probability
        /// p gets `clamp(ceil(root_top_k · p), top_k, root_top_k)`, so the unseen mass a node
        /// leaves behind shrinks where it matters.
        root_top_k: u32,
        /// Nodes with less absolute probability than this are not expanded (their mass is
        /// carried as unresolved in the bounds).
        min_mass: f64,
        /// Requests one measurement may spend; the most probable nodes are expanded first.
        max_requests: u32,
    },
    /// N sampled completions per (model, prompt), each with its own seed, outcomes extracted
    /// from the text; figures are estimates with confidence intervals.
    Sample {
        /// Completions per (model, prompt).
        samples: u32,
        /// Sampling temperature.
        temperature: f64,
        /// Longest completion, in tokens.
        max_tokens: u32,
        /// Sample i is drawn with seed `seed + i`, so replays are exact.
        seed: u64,
        /// Entropy estimator (`plug_in`, `miller_madow`, `grassberger`, `chao_shen`, `nsb`);
        /// `None` picks by the number of samples against the outcome-set size.
        estimator: Option<String>,
        /// Entropy interval: `bca` or `percentile` (seeded bootstrap), `posterior` (NSB's
        /// posterior mean ± z·sd, NSB only), or `augmented` (the estimate ± z · its standard
        /// error from the augmented bootstrap, any estimator). `None`: `posterior` for NSB,
        /// `bca` otherwise — resampling a few samples makes NSB's estimates jump, and the
        /// posterior is cheap.
        interval: Option<String>,
        /// Bootstrap resamples (default 2000).
        resamples: u32,
        /// Confidence level of every interval (default 0.95).
        level: f64,
    },
}

/// Estimator names a spec may give.
pub const ESTIMATOR_NAMES: [&str; 5] =
    ["plug_in", "miller_madow", "grassberger", "chao_shen", "nsb"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MethodYaml {
    kind: MethodKind,
    top_k: Option<u32>,
    root_top_k: Option<u32>,
    min_mass: Option<f64>,
    max_requests: Option<u32>,
    samples: Option<u32>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    seed: Option<u64>,
    estimator: Option<String>,
    interval: Option<String>,
    resamples: Option<u32>,
    level: Option<f64>,
}

impl MethodYaml {
    /// The names of the fields that are set, to reject those that belong to another kind.
    fn set_fields(&self) -> Vec<&'static str> {
        let set = [
            ("top_k", self.top_k.is_some()),
            ("root_top_k", self.root_top_k.is_some()),
            ("min_mass", self.min_mass.is_some()),
            ("max_requests", self.max_requests.is_some()),
            ("samples", self.samples.is_some()),
            ("temperature", self.temperature.is_some()),
            ("max_tokens", self.max_tokens.is_some()),
            ("seed", self.seed.is_some()),
            ("estimator", self.estimator.is_some()),
            ("interval", self.interval.is_some()),
            ("resamples", self.resamples.is_some()),
            ("level", self.level.is_some()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name)
            .collect()
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum MethodKind {
    NextToken,
    Enumerate,
    Sample,
}

impl MethodKind {
    fn name(&self) -> &'static str {
        match self {
            MethodKind::NextToken => "next_token",
            MethodKind::Enumerate => "enumerate",
            MethodKind::Sample => "sample",
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        match self {
            MethodKind::NextToken => &["top_k"],
            MethodKind::Enumerate => &["top_k", "root_top_k", "min_mass", "max_requests"],
            MethodKind::Sample => &[
                "samples",
                "temperature",
                "max_tokens",
                "seed",
                "estimator",
                "interval",
                "resamples",
                "level",
            ],
        }
    }
}

impl TryFrom<MethodYaml> for Method {
    type Error = String;

    fn try_from(raw: MethodYaml) -> Result<Self, String> {
        let allowed = raw.kind.fields();
        if let Some(other) = raw.set_fields().into_iter().find(|f| !allowed.contains(f)) {
            return Err(format!(
                "`{other}` does not belong to `{}`, which takes {}",
                raw.kind.name(),
                allowed.join(", ")
            ));
        }
        let top_k = raw.top_k.unwrap_or(20);
        if top_k == 0 {
            return Err("`top_k` must be at least 1".into());
        }
        match raw.kind {
            MethodKind::NextToken => Ok(Method::NextToken { top_k }),
            MethodKind::Enumerate => {
                let min_mass = raw.min_mass.unwrap_or(0.0);
                if !(0.0..1.0).contains(&min_mass) {
                    return Err(format!("`min_mass` must be in [0, 1), got {min_mass}"));
                }
                let max_requests = raw.max_requests.unwrap_or(250);
                if max_requests == 0 {
                    return Err("`max_requests` must be at least 1".into());
                }
                Ok(Method::Enumerate {
                    top_k,
                    root_top_k: raw.root_top_k.unwrap_or(top_k).max(1),
                    min_mass,
                    max_requests,
                })
            }
            MethodKind::Sample => {
                let samples = raw.samples.ok_or(
                    "`sample` needs `samples`, the number of completions per model and prompt",
                )?;
                if samples == 0 {
                    return Err("`samples` must be at least 1".into());
                }
                let temperature = raw.temperature.unwrap_or(1.0);
                if !(temperature.is_finite() && temperature >= 0.0) {
                    return Err(format!(
                        "`temperature` must be a non-negative number, got {temperature}"
                    ));
                }
                if let Some(e) = &raw.estimator
                    && !ESTIMATOR_NAMES.contains(&e.as_str())
                {
                    return Err(format!(
                        "unknown estimator `{e}`; expected one of {}",
                        ESTIMATOR_NAMES.join(", ")
                    ));
                }
                let interval = raw.interval;
                if let Some(i) = &interval {
                    if !["bca", "percentile", "posterior", "augmented"].contains(&i.as_str()) {
                        return Err(format!(
                            "unknown interval `{i}`; expected bca, percentile, posterior or \
                             augmented"
                        ));
                    }
                    if i == "posterior" && raw.estimator.as_deref().is_some_and(|e| e != "nsb") {
                        return Err("`interval: posterior` needs `estimator: nsb`".into());
                    }
                }
                let level = raw.level.unwrap_or(0.95);
                if !(level > 0.5 && level < 1.0) {
                    return Err(format!("`level` must be in (0.5, 1), got {level}"));
                }
                let resamples = raw.resamples.unwrap_or(2000);
                if resamples < 100 {
                    return Err(format!("`resamples` must be at least 100, got {resamples}"));
                }
                Ok(Method::Sample {
                    samples,
                    temperature,
                    max_tokens: raw.max_tokens.unwrap_or(8).max(1),
                    seed: raw.seed.unwrap_or(0),
                    estimator: raw.estimator,
                    interval,
                    resamples,
                    level,
                })
            }
        }
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Method::try_from(MethodYaml::deserialize(d)?)
            .map_err(|e| serde::de::Error::custom(format!("method: {e}")))
    }
}

/// One expectation: a condition, optionally restricted to some prompts.
#[derive(Debug, Clone, Serialize)]
pub struct Expectation {
    /// The condition as written.
    pub that: String,
    /// The parsed condition.
    #[serde(skip)]
    pub condition: Condition,
    /// Prompt names it applies to; every prompt when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompts: Option<Vec<String>>,
    /// Why the expectation is there (a quote or caveat from the post).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How instances over prompts combine (default `each`).
    #[serde(skip_serializing_if = "is_each")]
    pub over: Over,
    /// Below this coverage (the lower bound of any model's) an instance is inconclusive, not
    /// decided: a comparison of entropies over outcomes a model barely outputs says little.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_coverage: Option<f64>,
}

fn is_each(o: &Over) -> bool {
    *o == Over::Each
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExpectationYaml {
    that: String,
    prompts: Option<Vec<String>>,
    note: Option<String>,
    #[serde(default)]
    over: Over,
    min_coverage: Option<f64>,
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = ExpectationYaml::deserialize(d)?;
        let condition = parse_condition(&raw.that).map_err(|e| {
            serde::de::Error::custom(format!("invalid expectation `{}`: {e}", raw.that))
        })?;
        Ok(Expectation {
            that: raw.that,
            condition,
            prompts: raw.prompts,
            note: raw.note,
            over: raw.over,
            min_coverage: raw.min_coverage,
        })
    }
}

impl ClaimSpec {
    /// The prompts an expectation applies to.
    pub fn prompts_of<'a>(
        &'a self,
        e: &'a Expectation,
    ) -> impl Iterator<Item = &'a PromptSpec> + 'a {
        self.prompts.iter().filter(move |p| {
            e.prompts
                .as_ref()
                .is_none_or(|names| names.contains(&p.name))
        })
    }
}
