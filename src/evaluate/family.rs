//! The family of tests of one (claim, model set) and the correction over it (Holm by default,
//! Benjamini–Hochberg when the spec says `multiplicity: benjamini_hochberg`).

use super::ExpectationResult;
use super::expectations::combine;
use crate::spec::Multiplicity;
use crate::stats::hypothesis::{benjamini_hochberg, holm};
use crate::verdict::test_verdict;

/// The correction over every tested instance of the claim on this model set: each direction's
/// p-values are adjusted as one family, and the verdicts decided again.
pub(super) fn adjust_for_multiplicity(
    expectations: &mut [ExpectationResult],
    multiplicity: Multiplicity,
) {
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
    let (adjust, name): (fn(&[f64]) -> _, _) = match multiplicity {
        Multiplicity::Holm => (holm, "Holm"),
        Multiplicity::BenjaminiHochberg => (benjamini_hochberg, "Benjamini-Hochberg"),
    };
    let (Ok(hold), Ok(refute)) = (adjust(&hold), adjust(&refute)) else {
        return;
    };
    for (n, &(e, i)) in tested.iter().enumerate() {
        let instance = &mut expectations[e].instances[i];
        let t = instance.evidence.difference.as_mut().expect("filtered");
        t.p_adjusted = hold[n];
        t.p_opposite_adjusted = refute[n];
        let (verdict, _) = test_verdict(t.p_adjusted, t.p_opposite_adjusted, t.alpha);
        instance.verdict = verdict;
        instance.evidence.rule = format!(
            "{} ({name} over {} tests)",
            instance.evidence.rule,
            tested.len()
        );
    }
    for r in expectations.iter_mut() {
        if !r.instances.is_empty() {
            r.verdict = combine(r.over, &r.instances);
        }
    }
}
