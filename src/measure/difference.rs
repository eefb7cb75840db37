//! The difference of one metric between two sampled measurements, with its interval and the
//! one-sided p-values that decide `metric(a) > metric(b) + margin` (and the other operators).
//!
//! Entropies: a percentile bootstrap of the difference (each sample resampled on its own, with
//! the first figure's estimator for both) or, for NSB, the difference of the posteriors. Shares (prob,
//! mode_prob, coverage): Newcombe's score interval for a difference of proportions, since the
//! bootstrap of a share at 0 or n successes has no spread.
//!
//! Why not compare the two figures' own intervals: two 95% intervals that do not overlap is a
//! test at roughly the 0.5% level, so real differences go "inconclusive" far too often; the
//! interval of the difference is the test the claim asks for (its false-positive rate under
//! equal distributions is simulated in `docs/calibration.md`). The bootstrap shares the
//! share's weakness for an entropy whose sample sits in one outcome (no spread): such a figure
//! gets the small-sample warning when samples are few against the outcome set.

use super::Measurement;
use crate::spec::{OutcomeSet, RealMetric};
use crate::stats::estimators::Estimator;
use crate::stats::two_sample::{
    DifferenceMethod, bootstrap_difference, newcombe_difference, newcombe_p_value,
    nsb_posterior_difference,
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
    let k = outcomes.len();
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
    if sa.estimator == "nsb"
        && sb.estimator == "nsb"
        && sa.interval == "posterior"
        && sb.interval == "posterior"
    {
        return Some(posterior_difference(
            &sa.counts, &sb.counts, k, margin, settings,
        ));
    }
    let estimator_a = Estimator::parse(sa.estimator).ok()?;
    let statistic = |v: &[u64]| -> f64 {
        if v.iter().all(|&c| c == 0) {
            return 0.0;
        }
        estimator_a.estimate(v, k).unwrap_or(f64::NAN)
    };
    // Percentile, whatever the figures' own interval: simulated under equal distributions, the
    // two-sample BCa p-value rejected up to 15% of true nulls at a nominal 2.5% (the
    // per-sample acceleration swings the interval), the percentile one 0-4.8%
    // (docs/ordering-test.md).
    let method = DifferenceMethod::Percentile;
    let run = || -> Result<SampledDifference, String> {
        let d = bootstrap_difference(
            &sa.counts,
            &sb.counts,
            &statistic,
            settings.resamples,
            settings.seed ^ 0xd1ff_5eed,
        )
        .map_err(|e| e.to_string())?;
        let (low, high) = d
            .interval(method, settings.level)
            .map_err(|e| e.to_string())?;
        Ok(SampledDifference {
            test: format!(
                "bootstrap of the difference (percentile, {} resamples, each sample resampled on its own)",
                settings.resamples
            ),
            estimate: d.estimate,
            low,
            high,
            p_greater: d.p_greater(margin, method),
            p_less: d.p_less(margin, method),
        })
    };
    Some(run())
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

/// NSB entropies: see [`nsb_posterior_difference`].
fn posterior_difference(
    a: &[u64],
    b: &[u64],
    k: usize,
    margin: f64,
    settings: DifferenceSettings,
) -> Result<SampledDifference, String> {
    let d = nsb_posterior_difference(a, b, k, margin, settings.level).map_err(|e| e.to_string())?;
    Ok(SampledDifference {
        test: "difference of independent NSB posteriors (normal approximation)".into(),
        estimate: d.estimate,
        low: d.low,
        high: d.high,
        p_greater: d.p_greater,
        p_less: d.p_less,
    })
}
