//! `differs(a, b)`: do two models' distributions over the outcomes differ?
//!
//! Sampled: a permutation test of the 2 × (K + 1) table of completions (the outcomes and
//! "other") with the G statistic. Its null hypothesis is that the two samples come from the
//! same distribution — equality of distributions, not of entropies: two different distributions
//! with equal entropy are "different" here. Logprob methods: the distributions surely differ
//! when some outcome's guaranteed share intervals are disjoint. Never refuted: equality cannot
//! be shown, only bounded (`entropy(a) ~= entropy(b) +- m`).

use super::{Evidence, Tested};
use crate::measure::{Measurement, SampledDifference};
use crate::spec::{ClaimSpec, Method, ModelEntry};
use crate::stats::hypothesis::{TwoSampleStatistic, permutation_test};
use crate::verdict::{Verdict, test_verdict};

/// Decides `differs(a, b)` on two measurements.
pub(super) fn differs(
    spec: &ClaimSpec,
    binding: &[&ModelEntry],
    figures: &[&Measurement],
) -> (Verdict, Evidence) {
    let (a, b) = (figures[0], figures[1]);
    let names = format!("{} vs {}", binding[0].name, binding[1].name);
    let evidence = |rule: String, difference: Option<Tested>| Evidence {
        lhs: None,
        rhs: None,
        margin: 0.0,
        rule: format!("{names}: {rule}"),
        difference,
        divergence: None,
    };
    if let (
        Some(sa),
        Some(sb),
        Method::Sample {
            resamples,
            seed,
            level,
            ..
        },
    ) = (&a.sampled, &b.sampled, &spec.method)
    {
        let with_other = |s: &crate::measure::Sampled| {
            let mut v = s.counts.clone();
            v.push(s.other);
            v
        };
        let alpha = 1.0 - level;
        return match permutation_test(
            &with_other(sa),
            &with_other(sb),
            TwoSampleStatistic::G,
            *resamples as usize,
            seed ^ 0x0d1f_fe45,
        ) {
            Ok(t) => {
                let (verdict, rule) = test_verdict(t.p_value, 1.0, alpha);
                let tested = Tested {
                    difference: SampledDifference {
                        test: format!(
                            "permutation test of equal distributions (G = {:.3}, {resamples} \
                             relabellings); its null is equal distributions, not equal entropies",
                            t.statistic
                        ),
                        estimate: t.statistic,
                        low: f64::NAN,
                        high: f64::NAN,
                        p_greater: t.p_value,
                        p_less: 1.0,
                    },
                    p_value: t.p_value,
                    p_adjusted: t.p_value,
                    p_opposite_adjusted: 1.0,
                    alpha,
                };
                (verdict, evidence(rule, Some(tested)))
            }
            Err(e) => (
                Verdict::Inconclusive,
                evidence(format!("failed to test: {e}"), None),
            ),
        };
    }
    // Bounds: some outcome surely has more probability under one model than under the other.
    let apart = a
        .shares
        .iter()
        .zip(&b.shares)
        .position(|(x, y)| x.low > y.high || y.low > x.high);
    match apart {
        Some(i) => (
            Verdict::Holds,
            evidence(
                format!(
                    "the guaranteed share intervals of {:?} are disjoint",
                    spec.outcomes.label(i)
                ),
                None,
            ),
        ),
        None => (
            Verdict::Inconclusive,
            evidence(
                "every outcome's share intervals overlap: the bounds cannot tell them apart".into(),
                None,
            ),
        ),
    }
}
