//! The family of tests of one (claim, model set) and Holm's correction over it.

use super::ExpectationResult;
use super::expectations::combine;
use crate::stats::hypothesis::holm;
use crate::verdict::test_verdict;

/// Holm's correction over every tested instance of the claim on this model set: each
/// direction's p-values are adjusted as one family, and the verdicts decided again.
pub(super) fn adjust_for_multiplicity(expectations: &mut [ExpectationResult]) {
    let tested: Vec<(usize, usize)> = expectations
        .iter()
        .enumerate()
        .flat_map(|(e, r)| {
            r.instances
                .iter()
                .enumerate()
                .filter(|(_, i)| i.evidence.difference.is_some())
                .map(move |(i, _)| (e, i))
        })
        .collect();
    if tested.len() < 2 {
        return;
    }
    let get = |ex: &[ExpectationResult], (e, i): (usize, usize)| -> (f64, f64) {
        let t = ex[e].instances[i]
            .evidence
            .difference
            .as_ref()
            .expect("filtered");
        (t.p_value, t.p_opposite_adjusted)
    };
    let hold: Vec<f64> = tested.iter().map(|&at| get(expectations, at).0).collect();
    let refute: Vec<f64> = tested.iter().map(|&at| get(expectations, at).1).collect();
    let (Ok(hold), Ok(refute)) = (holm(&hold), holm(&refute)) else {
        return;
    };
    for (n, &(e, i)) in tested.iter().enumerate() {
        let instance = &mut expectations[e].instances[i];
        let t = instance.evidence.difference.as_mut().expect("filtered");
        t.p_adjusted = hold[n];
        t.p_opposite_adjusted = refute[n];
        let (verdict, rule) = test_verdict(t.p_adjusted, t.p_opposite_adjusted, t.alpha);
        instance.verdict = verdict;
        instance.evidence.rule = format!("{rule} (Holm over {} tests)", tested.len());
    }
    for r in expectations.iter_mut() {
        if !r.instances.is_empty() {
            r.verdict = combine(r.over, &r.instances);
        }
    }
}
