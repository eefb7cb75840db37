//! `modecollapse plan`: how many samples per model a sampled claim needs, from a pilot recording.
//!
//! For each comparison of two sampled figures (`entropy(a) > entropy(b) + m`, `prob(a, x) >
//! prob(b, x)`, …) the pilot's counts give each figure's per-sample variance σ² (delta method:
//! for entropy Σ p ln²p − H², for a share p(1 − p)); the effect to detect is the margin when the
//! spec names one, else the pilot's own difference. With a one-sided test at α and power 1 − β,
//! n = (z₁₋α + z₁₋β)² (σa² + σb²) / δ² samples in the outcome set per model (equal n for both),
//! and n / coverage completions, since completions outside the outcome set carry no
//! information about its entropy (Miller 2024, §"power analysis", for the same normal
//! approximation). The delta method ignores estimator bias, which matters when samples are few
//! against the outcome set; `docs/calibration.md` shows where.

use crate::measure::Measurement;
use crate::run::RunResult;
use crate::spec::{Condition, Method, Operand, RealMetric};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// One comparison's sample size.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    /// The claim.
    pub claim: String,
    /// The model set.
    pub model_set: String,
    /// The expectation as written.
    pub that: String,
    /// The prompt.
    pub prompt: String,
    /// Left and right models.
    pub models: (String, String),
    /// Completions per model in the pilot.
    pub pilot_samples: u64,
    /// The pilot's difference lhs − rhs.
    pub pilot_difference: f64,
    /// The effect the plan detects (the margin, or the pilot difference when the margin is 0).
    pub effect: f64,
    /// Where the effect came from: `margin` or `pilot`.
    pub effect_from: &'static str,
    /// Per-sample standard deviations of the two figures.
    pub sd: (f64, f64),
    /// Samples needed in the outcome set, per model (`None`: no effect to detect).
    pub needed_in_set: Option<u64>,
    /// Completions needed per model (divided by the lower pilot coverage).
    pub needed_samples: Option<u64>,
}

/// Per-sample variance of a metric from sampled counts, or `None` for metrics the delta method
/// here does not cover.
fn per_sample_variance(metric: &RealMetric, m: &Measurement, index: Option<usize>) -> Option<f64> {
    let s = m.sampled.as_ref()?;
    let n: u64 = s.counts.iter().sum();
    if n == 0 {
        return None;
    }
    let p: Vec<f64> = s.counts.iter().map(|&c| c as f64 / n as f64).collect();
    match metric {
        RealMetric::Entropy => Some(entropy_variance(&s.counts)),
        RealMetric::Prob(_) => index.map(|i| p[i] * (1.0 - p[i])),
        RealMetric::ModeProb => {
            let top = p.iter().copied().fold(0.0, f64::max);
            Some(top * (1.0 - top))
        }
        RealMetric::Coverage => {
            let c = n as f64 / (n + s.other) as f64;
            Some(c * (1.0 - c))
        }
        RealMetric::Ece | RealMetric::Accuracy => None,
    }
}

/// The delta-method per-sample variance of the plug-in entropy, Σ p ln²p − H² (Basharin
/// 1959), in the centred form Σ p (ln p + H)² that does not cancel near uniform.
pub fn entropy_variance(counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let p = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 / n as f64);
    let h: f64 = p.clone().map(|x| -x * x.ln()).sum();
    p.map(|x| x * (x.ln() + h).powi(2)).sum()
}

/// Samples per model for a one-sided normal test of a difference `effect` with per-sample
/// variances `va`, `vb`; `u64::MAX` when there is no effect to detect.
pub fn needed_per_model(va: f64, vb: f64, effect: f64, alpha: f64, power: f64) -> u64 {
    let normal = Normal::standard();
    let z = normal.inverse_cdf(1.0 - alpha) + normal.inverse_cdf(power);
    if effect > 0.0 && effect.is_finite() {
        (z * z * (va + vb) / (effect * effect)).ceil().max(2.0) as u64
    } else {
        u64::MAX
    }
}

/// Sample sizes for every comparison of two sampled figures in the run, at one-sided level
/// `alpha` and the given power.
pub fn plan(result: &RunResult, alpha: f64, power: f64) -> Vec<PlanRow> {
    let mut rows = Vec::new();
    for claim in &result.claims {
        if !matches!(claim.spec.method, Method::Sample { .. }) {
            continue;
        }
        for set in &claim.model_sets {
            for (e, spec_e) in set.expectations.iter().zip(&claim.spec.expect) {
                let Condition::Compare {
                    lhs: Operand::Metric { metric, .. },
                    rhs:
                        Operand::Metric {
                            metric: rhs_metric, ..
                        },
                    margin,
                    ..
                } = &spec_e.condition
                else {
                    continue;
                };
                if metric != rhs_metric {
                    continue;
                }
                let index = match metric {
                    RealMetric::Prob(o) => claim.spec.outcomes.index_of(o),
                    _ => None,
                };
                for inst in &e.instances {
                    let find = |name: &str| {
                        set.measurements
                            .iter()
                            .find(|m| m.model == name && m.prompt == inst.prompt)
                            .and_then(|m| m.measurement.as_ref())
                    };
                    let (Some(l), Some(r)) = (
                        inst.evidence.lhs.as_ref().and_then(|f| f.model.as_deref()),
                        inst.evidence.rhs.as_ref().and_then(|f| f.model.as_deref()),
                    ) else {
                        continue;
                    };
                    let (Some(ml), Some(mr)) = (find(l), find(r)) else {
                        continue;
                    };
                    let (Some(vl), Some(vr)) = (
                        per_sample_variance(metric, ml, index),
                        per_sample_variance(metric, mr, index),
                    ) else {
                        continue;
                    };
                    let diff = ml
                        .metric(metric, &claim.spec.outcomes)
                        .map(|i| i.point)
                        .zip(mr.metric(metric, &claim.spec.outcomes).map(|i| i.point))
                        .map_or(f64::NAN, |(a, b)| a - b);
                    let (effect, from) = if *margin != 0.0 {
                        (margin.abs(), "margin")
                    } else {
                        (diff.abs(), "pilot")
                    };
                    let needed_in_set = needed_per_model(vl, vr, effect, alpha, power);
                    let coverage = ml.coverage.point.min(mr.coverage.point);
                    let needed_samples = if coverage > 0.0 && needed_in_set != u64::MAX {
                        (needed_in_set as f64 / coverage).ceil() as u64
                    } else {
                        u64::MAX
                    };
                    let pilot_samples = ml
                        .sampled
                        .as_ref()
                        .map_or(0, |s| s.counts.iter().sum::<u64>() + s.other);
                    rows.push(PlanRow {
                        claim: claim.spec.id.clone(),
                        model_set: set.model_set.clone(),
                        that: e.that.clone(),
                        prompt: inst.prompt.clone(),
                        models: (l.to_string(), r.to_string()),
                        pilot_samples,
                        pilot_difference: diff,
                        effect,
                        effect_from: from,
                        sd: (vl.sqrt(), vr.sqrt()),
                        needed_in_set: (needed_in_set != u64::MAX).then_some(needed_in_set),
                        needed_samples: (needed_samples != u64::MAX).then_some(needed_samples),
                    });
                }
            }
        }
    }
    rows
}

/// The plan as a table for people.
pub fn plan_table(rows: &[PlanRow], alpha: f64, power: f64) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "samples per model to detect each effect with power {power} at one-sided alpha {alpha}\n"
    );
    if rows.is_empty() {
        out.push_str("no comparison of two sampled figures with pilot recordings\n");
    }
    for r in rows {
        let n = |x: Option<u64>| x.map_or("unbounded (no effect)".to_string(), |x| x.to_string());
        let _ = writeln!(
            out,
            "{} @ {} — {} on {} ({} vs {})\n  pilot: {} completions, difference {:.3}; effect {:.3} \
             (from the {}); per-sample sd {:.3} and {:.3}\n  needed: {} in the outcome set, {} completions per model",
            r.claim,
            r.model_set,
            r.that,
            r.prompt,
            r.models.0,
            r.models.1,
            r.pilot_samples,
            r.pilot_difference,
            r.effect,
            r.effect_from,
            r.sd.0,
            r.sd.1,
            n(r.needed_in_set),
            n(r.needed_samples)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_size_by_hand() {
        // (1.959964 + 0.841621)² · (0.5 + 0.5) / 0.25² = 125.6 → 126 per model.
        assert_eq!(needed_per_model(0.5, 0.5, 0.25, 0.025, 0.8), 126);
        // Halving the effect quadruples n.
        assert_eq!(needed_per_model(0.5, 0.5, 0.125, 0.025, 0.8), 503);
        assert_eq!(needed_per_model(0.5, 0.5, 0.0, 0.025, 0.8), u64::MAX);
    }

    #[test]
    fn entropy_variance_agrees_with_the_delta_interval() {
        // Synthetic counts (a unit test of the statistics). The delta-method interval's
        // standard error is sqrt(variance / N).
        let counts = [40u64, 25, 20, 10, 5];
        let n = 100.0;
        let d = crate::stats::intervals::delta_method_plug_in(&counts, 0.95).unwrap();
        assert!((entropy_variance(&counts) / n - d.std_error.powi(2)).abs() < 1e-12);
        assert_eq!(entropy_variance(&[7, 0, 0]), 0.0);
    }
}
