//! The claim spec: one claim of the post per YAML file under `specs/`.

use super::expectation::{Condition, parse_condition};
use super::{OutcomeSet, Role, Version};
use serde::{Deserialize, Serialize};

/// One claim, as written in `specs/<id>.yaml` (format version 1; see README "Spec format").
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Named prompts, verbatim from the post where it gives them.
    pub prompts: Vec<PromptSpec>,
    /// What counts as an outcome.
    pub outcomes: OutcomeSet,
    /// How the distribution over outcomes is measured.
    pub method: Method,
    /// The claim as expectations over metrics, evaluated per prompt.
    pub expect: Vec<Expectation>,
    /// Free-form remarks (caveats from the post, reconstruction notes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Whether a claim gates the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// A verdict other than "holds" (or not applicable) fails the run, exit code 1.
    Strict,
    /// The verdict is recorded in the snapshot; a change shows up in review.
    Tracked,
}

/// A named prompt.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromptSpec {
    /// Short name used in reports and `prompts:` filters.
    pub name: String,
    /// The prompt text, sent as is to completions APIs and as one user message to chat APIs.
    pub text: String,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodYaml {
    kind: MethodKind,
    top_k: Option<u32>,
    root_top_k: Option<u32>,
    min_mass: Option<f64>,
    max_requests: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MethodKind {
    NextToken,
    Enumerate,
}

impl TryFrom<MethodYaml> for Method {
    type Error = String;

    fn try_from(raw: MethodYaml) -> Result<Self, String> {
        let top_k = raw.top_k.unwrap_or(20);
        if top_k == 0 {
            return Err("`top_k` must be at least 1".into());
        }
        match raw.kind {
            MethodKind::NextToken => {
                if raw.root_top_k.is_some() || raw.min_mass.is_some() || raw.max_requests.is_some()
                {
                    return Err(
                        "`next_token` takes only `top_k`; `root_top_k`, `min_mass` and \
                                `max_requests` belong to `enumerate`"
                            .into(),
                    );
                }
                Ok(Method::NextToken { top_k })
            }
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectationYaml {
    that: String,
    prompts: Option<Vec<String>>,
    note: Option<String>,
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
