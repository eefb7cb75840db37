//! The difference of one metric between two sampled measurements, with its interval and the
//! one-sided p-values that decide `metric(a) > metric(b) + margin` (and the other operators).
//!
//! Entropies: a z-test of the difference of the two estimates (the first figure's estimator for
//! both), each with its jackknife standard error, which the Efron–Stein inequality makes
//! conservative in expectation (the bootstrap's falls short where outcomes go unseen). Shares (prob, mode_prob, coverage):
//! Newcombe's score interval for a difference of proportions, since the bootstrap of a share at
//! 0 or n successes has no spread.
//!
//! Why not compare the two figures' own intervals: two 95% intervals that do not overlap is a
//! test at roughly the 0.5% level, so real differences go "inconclusive" far too often; the
//! interval of the difference is the test the claim asks for (its false-positive rate under
//! equal distributions and at a margin's boundary is simulated in `docs/ordering-test.md`).

use super::Measurement;
use crate::spec::{OutcomeSet, RealMetric};
use crate::stats::estimators::Estimator;
use crate::stats::two_sample::{
    StandardError, entropy_with_error, newcombe_difference, newcombe_p_value, normal_difference,
};
use serde::Serialize;

/// How a difference was tested.
#[derive(Debug, Clone, Serialize)]
pub struct SampledDifference {
    /// The test, e.g. `bootstrap difference (bca, 2000 resamples)`.
    pub test: String,
    /// metric(a) − metric(b).
    pub estimate: f64,
    /// Two-sided interval of the difference at the method's level.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// One-sided p-value of "difference > margin".
    pub p_greater: f64,
    /// One-sided p-value of "difference < margin".
    pub p_less: f64,
}

/// The bootstrap settings of a sampled spec.
#[derive(Debug, Clone, Copy)]
pub struct DifferenceSettings {
    /// Resamples.
    pub resamples: usize,
    /// The spec's seed (the bootstrap stream derives from it, so replays are identical).
    pub seed: u64,
    /// Two-sided level of the interval.
    pub level: f64,
}

/// The difference metric(a) − metric(b) tested against `margin`, when both measurements are
/// sampled; `None` otherwise (the figures' bounds decide then).
pub fn sampled_difference(
    metric: &RealMetric,
    a: &Measurement,
    b: &Measurement,
    outcomes: &OutcomeSet,
    margin: f64,
    settings: DifferenceSettings,
) -> Option<Result<SampledDifference, String>> {
    if metric.across_prompts_only() {
        return None;
    }
    let (sa, sb) = (a.sampled.as_ref()?, b.sampled.as_ref()?);
    // Shares are proportions: Newcombe's interval, which keeps its width at 0 and n successes.
    let share = |s: &super::Sampled| -> Option<(u64, u64)> {
        let inside: u64 = s.counts.iter().sum();
        match metric {
            RealMetric::Prob(o) => Some((s.counts[outcomes.index_of(o)?], inside)),
            RealMetric::ModeProb => Some((s.counts.iter().copied().max()?, inside)),
            RealMetric::Coverage => Some((inside, inside + s.other)),
            _ => None,
        }
    };
    if let (Some((x1, n1)), Some((x2, n2))) = (share(sa), share(sb)) {
        return Some(proportion_difference(
            x1,
            n1,
            x2,
            n2,
            margin,
            settings.level,
        ));
    }

    if *metric != RealMetric::Entropy {
        return None;
    }
    Some(entropy_difference(sa, sb, margin, settings))
}

/// Two sampled entropies: the z-test of the difference of the figures' estimates with jackknife
/// standard errors (see [`entropy_with_error`] and `stats::intervals::jackknife_variance`);
/// both with the first figure's estimator, so that like is compared with like.
fn entropy_difference(
    sa: &super::Sampled,
    sb: &super::Sampled,
    margin: f64,
    settings: DifferenceSettings,
) -> Result<SampledDifference, String> {
    let estimator = Estimator::parse(sa.estimator).map_err(|e| e.to_string())?;
    let side = |counts: &[u64]| {
        if counts.iter().all(|&c| c == 0) {
            return Err("a model has no completions in the outcome set".to_string());
        }
        entropy_with_error(counts, estimator, StandardError::Jackknife).map_err(|e| e.to_string())
    };
    let d = normal_difference(side(&sa.counts)?, side(&sb.counts)?, margin, settings.level);
    Ok(SampledDifference {
        test: format!(
            "z-test of the difference of {estimator} estimates, jackknife standard errors{}",
            if estimator == Estimator::Nsb {
                " (at least the posterior sd)"
            } else {
                ""
            }
        ),
        estimate: d.estimate,
        low: d.low,
        high: d.high,
        p_greater: d.p_greater,
        p_less: d.p_less,
    })
}

/// Two shares: Newcombe's hybrid score interval and the p-values that invert it.
fn proportion_difference(
    x1: u64,
    n1: u64,
    x2: u64,
    n2: u64,
    margin: f64,
    level: f64,
) -> Result<SampledDifference, String> {
    if n1 == 0 || n2 == 0 {
        return Err("a model has no completions in the outcome set".into());
    }
    let (low, high) = newcombe_difference(x1, n1, x2, n2, level).map_err(|e| e.to_string())?;
    let p = |greater| newcombe_p_value(x1, n1, x2, n2, margin, greater).map_err(|e| e.to_string());
    Ok(SampledDifference {
        test: format!(
            "Newcombe's score interval of the difference of proportions ({x1}/{n1} vs {x2}/{n2})"
        ),
        estimate: x1 as f64 / n1 as f64 - x2 as f64 / n2 as f64,
        low,
        high,
        p_greater: p(true)?,
        p_less: p(false)?,
    })
}
