//! What an expectation's verdict rests on: the figures compared, the test and its p-values,
//! the divergences — the types the reports render.

use crate::measure::SampledDifference;
use crate::spec::Over;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;

/// One expectation on one model set.
#[derive(Debug, Serialize)]
pub struct ExpectationResult {
    /// The condition as written.
    pub that: String,
    /// How its instances combine.
    pub over: Over,
    /// Combined over instances.
    pub verdict: Verdict,
    /// Why, when there are no instances or models are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One per prompt and binding of roles to models.
    pub instances: Vec<Instance>,
}

/// An expectation on one prompt with one model per role.
#[derive(Debug, Serialize)]
pub struct Instance {
    /// The prompt name.
    pub prompt: String,
    /// Role (or `*`) → model name.
    pub models: BTreeMap<String, String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The figures compared and the rule applied.
    pub evidence: Evidence,
}

/// The figures behind a verdict.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// Left side (or the mode's measurement).
    pub lhs: Option<Figure>,
    /// Right side.
    pub rhs: Option<Figure>,
    /// Added to the right side.
    pub margin: f64,
    /// The rule or reason.
    pub rule: String,
    /// For two sampled figures: the test of their difference, which decides the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<Tested>,
    /// For `kl_bound`: the divergences and the bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<DivergenceEvidence>,
}

/// Footnote 3's bound, computed on the two normalised point distributions over the outcome set.
#[derive(Debug, Serialize)]
pub struct DivergenceEvidence {
    /// KL(P‖Q), nats (infinite when Q misses an outcome P has; serialised as null then).
    pub kl: f64,
    /// Total variation distance.
    pub tv: f64,
    /// Jensen–Shannon divergence, nats.
    pub js: f64,
    /// Pinsker's bound on TV from KL, √(KL/2) capped at 1.
    pub pinsker_tv: f64,
    /// The Fannes–Audenaert bound on |H(P) − H(Q)| at Pinsker's TV.
    pub bound: f64,
    /// |H(P) − H(Q)|.
    pub gap: f64,
    /// bound − gap.
    pub slack: f64,
}

/// A difference tested, with its p-values before and after the correction for the family of
/// tests in this (claim, model set).
#[derive(Debug, Serialize)]
pub struct Tested {
    /// The difference and its interval.
    #[serde(flatten)]
    pub difference: SampledDifference,
    /// One-sided p-value of the expectation's direction.
    pub p_value: f64,
    /// That p-value after Holm's correction over every tested instance of the claim.
    pub p_adjusted: f64,
    /// One-sided p-value of the opposite direction (evidence that refutes), Holm-adjusted.
    pub p_opposite_adjusted: f64,
    /// The one-sided level each adjusted p-value is compared with: (1 − level) / 2.
    pub alpha: f64,
}

/// One side of a comparison.
#[derive(Debug, Serialize)]
pub struct Figure {
    /// What it is, e.g. `entropy(rlhf)` or `0.5`.
    pub label: String,
    /// Model name, for metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Point estimate.
    pub point: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}
