//! Expectations across prompts (`over: paired` and `over: pooled`): per-prompt figures in,
//! one tested difference out.
//!
//! Why two forms: a claim such as "the base model does not have the highest entropy" is about
//! prompts as a population, so its unit of replication is the prompt (Miller 2024, "Adding
//! Error Bars to Evals"): `paired` tests the per-prompt differences with the exact one-sided
//! Wilcoxon signed-rank test (valid for any number of prompts, though with n prompts no p-value
//! falls below 2⁻ⁿ), and `pooled` compares one aggregate per model (a mean, or the expected
//! calibration error, which has no per-prompt value) with a bootstrap over prompts.

use crate::measure::SampledDifference;
use crate::stats::hypothesis::{
    cluster_bootstrap_mean_diff, paired_t, sign_test, wilcoxon_signed_rank_one_sided,
};
use crate::stats::intervals::{bias_correction, percentile_interval};
use crate::stats::rng::Rng;
use crate::stats::two_sample::{Difference, DifferenceMethod};

/// Bootstrap resamples of prompts.
pub const PROMPT_RESAMPLES: usize = 2000;

/// One prompt's figure for a pooled aggregate: the metric's point value, the mode's share and
/// whether the mode is the prompt's answer (for `ece` and `accuracy`).
#[derive(Debug, Clone, Copy)]
pub struct PromptPoint {
    /// The metric's point value on this prompt.
    pub value: f64,
    /// The normalised share of the mode.
    pub confidence: f64,
    /// Whether the mode is the answer.
    pub correct: bool,
}

/// What a pooled side aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The mean of the per-prompt values.
    Mean,
    /// Expected calibration error over [`ECE_BINS`] equal-width bins of confidence.
    Ece,
    /// The share of prompts answered correctly.
    Accuracy,
}

/// Bins of the expected calibration error (the usual choice, Guo et al. 2017).
pub const ECE_BINS: usize = 10;

/// The aggregate of `points` at the prompt indices `idx`.
pub fn aggregate(kind: Aggregate, points: &[PromptPoint], idx: &[usize]) -> f64 {
    let n = idx.len() as f64;
    match kind {
        Aggregate::Mean => idx.iter().map(|&i| points[i].value).sum::<f64>() / n,
        Aggregate::Accuracy => idx.iter().filter(|&&i| points[i].correct).count() as f64 / n,
        Aggregate::Ece => {
            let mut conf = [0.0f64; ECE_BINS];
            let mut hits = [0.0f64; ECE_BINS];
            let mut count = [0usize; ECE_BINS];
            for &i in idx {
                let c = points[i].confidence.clamp(0.0, 1.0);
                // Bins are (k/B, (k+1)/B]; a confidence of exactly 0 goes to the first.
                let b = ((c * ECE_BINS as f64).ceil() as usize).clamp(1, ECE_BINS) - 1;
                conf[b] += c;
                hits[b] += f64::from(u8::from(points[i].correct));
                count[b] += 1;
            }
            (0..ECE_BINS)
                .filter(|&b| count[b] > 0)
                .map(|b| (hits[b] - conf[b]).abs())
                .sum::<f64>()
                / n
        }
    }
}

/// `over: paired`: the differences lhs − rhs − margin per prompt, tested one-sided both ways.
pub fn paired(
    lhs: &[f64],
    rhs: &[f64],
    margin: f64,
    seed: u64,
    level: f64,
) -> Result<SampledDifference, String> {
    let d: Vec<f64> = lhs.iter().zip(rhs).map(|(l, r)| l - r - margin).collect();
    let n = d.len();
    let (p_greater, p_less, note) = match (
        wilcoxon_signed_rank_one_sided(&d, true),
        wilcoxon_signed_rank_one_sided(&d, false),
    ) {
        (Ok(g), Ok(l)) => (
            g.p_value,
            l.p_value,
            format!("{:?}", g.method).to_lowercase(),
        ),
        // Every difference exactly zero: no evidence either way.
        _ => (1.0, 1.0, "all differences zero".into()),
    };
    let sign = sign_test(&d).map(|t| t.p_value).unwrap_or(1.0);
    let t = paired_t(lhs, rhs).map(|t| t.p_value).unwrap_or(f64::NAN);
    let raw: Vec<f64> = lhs.iter().zip(rhs).map(|(l, r)| l - r).collect();
    let mean = raw.iter().sum::<f64>() / n as f64;
    let (low, high) = if n >= 2 {
        cluster_bootstrap_mean_diff(&raw, PROMPT_RESAMPLES, seed, level)
            .map(|c| (c.lower, c.upper))
            .map_err(|e| e.to_string())?
    } else {
        (mean, mean)
    };
    Ok(SampledDifference {
        test: format!(
            "one-sided Wilcoxon signed-rank over {n} prompts ({note}; smallest attainable p \
             {:.3}); two-sided sign test p = {sign:.4}, paired t p = {t:.4}; interval: \
             prompt-level bootstrap of the mean difference",
            0.5f64.powi(n as i32)
        ),
        estimate: mean,
        low,
        high,
        p_greater,
        p_less,
    })
}

/// `over: pooled`: agg(lhs) − agg(rhs) with a bootstrap over prompts (the same resampled
/// prompts for both sides, since both models answered the same prompts).
#[allow(clippy::too_many_arguments)]
pub fn pooled(
    lhs: (Aggregate, &[PromptPoint]),
    rhs: Option<(Aggregate, &[PromptPoint])>,
    constant: f64,
    margin: f64,
    seed: u64,
    level: f64,
) -> Result<SampledDifference, String> {
    let n = lhs.1.len();
    let all: Vec<usize> = (0..n).collect();
    let value = |idx: &[usize]| {
        aggregate(lhs.0, lhs.1, idx) - rhs.map_or(constant, |(k, p)| aggregate(k, p, idx))
    };
    let estimate = value(&all);
    let mut rng = Rng::seeded(seed);
    let mut replicates = Vec::with_capacity(PROMPT_RESAMPLES);
    let mut idx = vec![0usize; n];
    for _ in 0..PROMPT_RESAMPLES {
        for slot in idx.iter_mut() {
            *slot = rng.below(n as u64) as usize;
        }
        replicates.push(value(&idx));
    }
    let (low, high) = percentile_interval(&replicates, level).map_err(|e| e.to_string())?;
    replicates.sort_by(f64::total_cmp);
    let d = Difference {
        estimate,
        z0: bias_correction(estimate, &replicates),
        replicates,
        acceleration: 0.0,
    };
    Ok(SampledDifference {
        test: format!(
            "prompt-level bootstrap over {n} prompts (percentile, {PROMPT_RESAMPLES} resamples)"
        ),
        estimate,
        low,
        high,
        p_greater: d.p_greater(margin, DifferenceMethod::Percentile),
        p_less: d.p_less(margin, DifferenceMethod::Percentile),
    })
}

#[cfg(test)]
mod tests {
    //! Synthetic per-prompt figures (unit tests of the statistics, not model output).
    use super::*;

    fn pt(confidence: f64, correct: bool) -> PromptPoint {
        PromptPoint {
            value: confidence,
            confidence,
            correct,
        }
    }

    #[test]
    fn ece_by_hand() {
        // Bin (0.9, 1]: confidences 0.95, 0.95, one right → |1 − 1.9| = 0.9.
        // Bin (0.5, 0.6]: 0.55 right → |1 − 0.55| = 0.45. ECE = (0.9 + 0.45) / 3.
        let p = [pt(0.95, true), pt(0.95, false), pt(0.55, true)];
        let e = aggregate(Aggregate::Ece, &p, &[0, 1, 2]);
        assert!((e - 1.35 / 3.0).abs() < 1e-12, "{e}");
        assert_eq!(aggregate(Aggregate::Accuracy, &p, &[0, 1, 2]), 2.0 / 3.0);
        // Perfectly calibrated: confidence 1 and always right.
        assert_eq!(aggregate(Aggregate::Ece, &[pt(1.0, true)], &[0]), 0.0);
    }

    #[test]
    fn paired_direction_and_floor() {
        let l = [1.0, 2.0, 3.0, 4.0];
        let r = [0.75, 1.5, 2.25, 3.0];
        let d = paired(&l, &r, 0.0, 1, 0.95).unwrap();
        // Four positive, untied differences: exact one-sided p = 1/16, never below 0.05.
        assert!((d.p_greater - 0.0625).abs() < 1e-12, "{}", d.p_greater);
        assert_eq!(d.p_less, 1.0);
        assert!((d.estimate - 0.625).abs() < 1e-12);
    }

    #[test]
    fn pooled_difference_of_means() {
        let a: Vec<PromptPoint> = (0..40).map(|i| pt(0.6 + 0.001 * i as f64, true)).collect();
        let b: Vec<PromptPoint> = (0..40).map(|i| pt(0.3 + 0.001 * i as f64, false)).collect();
        let d = pooled(
            (Aggregate::Mean, &a),
            Some((Aggregate::Mean, &b)),
            0.0,
            0.0,
            3,
            0.95,
        )
        .unwrap();
        assert!((d.estimate - 0.3).abs() < 1e-9);
        assert!(d.low > 0.29 && d.high < 0.31);
        assert!(d.p_greater < 0.001);
    }
}
