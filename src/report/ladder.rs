//! The ladder view of a model set: each model's mean entropy against its mean KL from the set's
//! base, with footnote 3's envelope around the base's entropy. Pure: measurements in, figures out.
//!
//! Why means over prompts and not one point per (model, prompt): a ladder has ten rungs or so and
//! a claim five prompts, and fifty labelled points are unreadable; the per-prompt figures are in
//! the claim's own charts and verdict table. The envelope stays a bound for the means: the gap
//! bound g(KL) (Pinsker, then Fannes–Audenaert) is concave and non-decreasing in KL, so by
//! Jensen |mean H(P) − mean H(base)| ≤ mean g(KLᵢ) ≤ g(mean KLᵢ).

use crate::measure::Measurement;
use crate::run::SetResult;
use crate::spec::{ClaimSpec, Condition, Role};
use crate::stats::Interval;
use crate::stats::divergence::{entropy_gap_bound_from_kl, kl};

/// One model's place on the ladder, averaged over the prompts both it and the base were
/// measured on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rung {
    /// The model's name in the set.
    pub model: String,
    /// Its role.
    pub role: Role,
    /// Mean KL(model ‖ base) over the prompts, nats, from the point distributions normalised
    /// over the outcome set (as footnote 3's check computes it); infinite when, on some prompt,
    /// the base gives an outcome no probability that the model gives some.
    pub kl: f64,
    /// Mean entropy over the same prompts: the mean of the points, of the lows and of the highs.
    pub entropy: Interval,
    /// How many prompts the means are over.
    pub prompts: usize,
}

/// The ladder of one (claim, model set).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ladder {
    /// The base's name in the set.
    pub base: String,
    /// Every measured model, the base first (at KL 0), then in the set's order.
    pub rungs: Vec<Rung>,
    /// Number of outcomes (the envelope's d).
    pub outcomes: usize,
}

impl Ladder {
    /// The base's mean entropy (the envelope's centre).
    pub fn base_entropy(&self) -> f64 {
        self.rungs[0].entropy.point
    }

    /// Footnote 3's envelope at a mean KL: the lowest and highest mean entropy a model at that
    /// KL from the base can have, clipped to [0, ln d].
    pub fn envelope(&self, kl: f64) -> (f64, f64) {
        let width = entropy_gap_bound_from_kl(kl.max(0.0), self.outcomes)
            .unwrap_or((self.outcomes as f64).ln());
        let centre = self.base_entropy();
        (
            (centre - width).max(0.0),
            (centre + width).min((self.outcomes as f64).ln()),
        )
    }
}

/// Whether a claim asks for footnote 3's bound, which is where the ladder view belongs.
pub(crate) fn wants_ladder(spec: &ClaimSpec) -> bool {
    spec.expect
        .iter()
        .any(|e| matches!(e.condition, Condition::KlBound { .. }))
}

/// The ladder of a set: `None` unless exactly one model has the role `base`, it is measured, and
/// at least two other models are measured on a prompt it was measured on.
pub(crate) fn ladder(spec: &ClaimSpec, set: &SetResult) -> Option<Ladder> {
    let mut bases = set
        .measurements
        .iter()
        .filter(|p| p.role == Role::Base)
        .map(|p| p.model.as_str())
        .collect::<Vec<_>>();
    bases.sort_unstable();
    bases.dedup();
    let [base] = bases[..] else {
        return None;
    };
    let base_on = |prompt: &str| {
        set.measurements
            .iter()
            .find(|p| p.model == base && p.prompt == prompt)
            .and_then(|p| p.measurement.as_ref())
    };
    let mut order = set.models();
    order.sort_by_key(|(m, _)| *m != base);
    let rungs: Vec<Rung> = order
        .into_iter()
        .filter_map(|(model, role)| {
            let pairs: Vec<(&Measurement, &Measurement)> = set
                .measurements
                .iter()
                .filter(|p| p.model == model)
                .filter_map(|p| Some((p.measurement.as_ref()?, base_on(&p.prompt)?)))
                .collect();
            if pairs.is_empty() {
                return None;
            }
            let n = pairs.len() as f64;
            let kls: Vec<f64> = pairs
                .iter()
                .map(|(m, b)| {
                    kl(&m.point_distribution(), &b.point_distribution()).unwrap_or(f64::INFINITY)
                })
                .collect();
            Some(Rung {
                model: model.to_string(),
                role,
                kl: kls.iter().sum::<f64>() / n,
                entropy: Interval::mean(pairs.iter().map(|(m, _)| m.entropy))?,
                prompts: pairs.len(),
            })
        })
        .collect();
    (rungs.len() >= 3 && rungs[0].model == base).then(|| Ladder {
        base: base.to_string(),
        rungs,
        outcomes: spec.outcomes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::MeasuredPair;
    use crate::spec::parse_spec;
    use std::path::Path;

    // Synthetic distributions (unit test) over three outcomes and two prompts.
    fn spec(expect: &str) -> ClaimSpec {
        let yaml = format!(
            "version: 1\nid: t\nclaim: c\nsource: s\nstatus: tracked\n\
             roles: [base, rlhf, overopt]\nprompts:\n  - name: a\n    text: A\n\
             \x20 - name: b\n    text: B\n\
             outcomes: {{kind: integers, first: \" 0\", last: \" 2\"}}\n\
             method: {{kind: enumerate, top_k: 20, root_top_k: 1000}}\n\
             expect:\n  - that: {expect}\n"
        );
        parse_spec(Path::new("specs/t.yaml"), &yaml).unwrap()
    }

    fn pair(model: &str, role: Role, prompt: &str, p: Option<&[f64]>) -> MeasuredPair {
        MeasuredPair {
            model: model.into(),
            role,
            prompt: prompt.into(),
            measurement: p.map(Measurement::of_distribution),
            unavailable: p.is_none().then(|| "not recorded".into()),
        }
    }

    fn set(pairs: Vec<MeasuredPair>) -> SetResult {
        SetResult {
            model_set: "s".into(),
            measurements: pairs,
            expectations: Vec::new(),
        }
    }

    const UNIFORM: [f64; 3] = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
    const PEAKED: [f64; 3] = [0.8, 0.1, 0.1];

    #[test]
    fn means_kl_from_the_base_and_entropy_over_the_shared_prompts() {
        let spec = spec("kl_bound(*, *)");
        assert!(wants_ladder(&spec));
        let s = set(vec![
            pair("r", Role::Rlhf, "a", Some(&UNIFORM)),
            pair("r", Role::Rlhf, "b", Some(&UNIFORM)),
            pair("base", Role::Base, "a", Some(&PEAKED)),
            pair("base", Role::Base, "b", Some(&UNIFORM)),
            // measured on a prompt the base was not: that prompt does not count
            pair("o", Role::Overopt, "a", Some(&[1.0, 0.0, 0.0])),
            pair("o", Role::Overopt, "b", Some(&PEAKED)),
        ]);
        let l = ladder(&spec, &s).unwrap();
        assert_eq!(l.base, "base");
        let names: Vec<&str> = l.rungs.iter().map(|r| r.model.as_str()).collect();
        assert_eq!(
            names,
            ["base", "r", "o"],
            "the base first, then the set's order"
        );
        assert_eq!(l.rungs[0].kl, 0.0);
        // KL(uniform ‖ peaked) on prompt a, 0 on prompt b (the same distribution):
        let kl_a: f64 = UNIFORM
            .iter()
            .zip(PEAKED)
            .map(|(p, q)| p * (p / q).ln())
            .sum();
        assert!(
            (l.rungs[1].kl - kl_a / 2.0).abs() < 1e-12,
            "{:?}",
            l.rungs[1]
        );
        let h = |p: &[f64]| {
            -p.iter()
                .filter(|x| **x > 0.0)
                .map(|x| x * x.ln())
                .sum::<f64>()
        };
        assert!((l.rungs[0].entropy.point - (h(&PEAKED) + h(&UNIFORM)) / 2.0).abs() < 1e-12);
        assert_eq!(l.rungs[2].prompts, 2);
        assert!(
            l.rungs[2].kl.is_finite(),
            "zeros in the model, not the base: finite"
        );
    }

    #[test]
    fn the_envelope_is_the_bound_around_the_base_clipped_to_the_entropy_range() {
        let spec = spec("kl_bound(*, *)");
        let s = set(vec![
            pair("base", Role::Base, "a", Some(&PEAKED)),
            pair("r", Role::Rlhf, "a", Some(&UNIFORM)),
            pair("o", Role::Overopt, "a", Some(&UNIFORM)),
        ]);
        let l = ladder(&spec, &s).unwrap();
        assert_eq!(l.envelope(0.0), (l.base_entropy(), l.base_entropy()));
        let (low, high) = l.envelope(100.0);
        assert_eq!((low, high), (0.0, 3f64.ln()));
        for r in &l.rungs {
            let (low, high) = l.envelope(r.kl);
            assert!(low <= r.entropy.point && r.entropy.point <= high, "{r:?}");
        }
    }

    #[test]
    fn no_ladder_without_one_measured_base_and_two_more_models() {
        let with_kl = spec("kl_bound(*, *)");
        assert!(!wants_ladder(&spec("entropy(rlhf) > entropy(base)")));
        let two = set(vec![
            pair("base", Role::Base, "a", Some(&PEAKED)),
            pair("r", Role::Rlhf, "a", Some(&UNIFORM)),
        ]);
        assert_eq!(ladder(&with_kl, &two), None);
        let unmeasured_base = set(vec![
            pair("base", Role::Base, "a", None),
            pair("r", Role::Rlhf, "a", Some(&UNIFORM)),
            pair("o", Role::Overopt, "a", Some(&UNIFORM)),
        ]);
        assert_eq!(ladder(&with_kl, &unmeasured_base), None);
        let two_bases = set(vec![
            pair("b1", Role::Base, "a", Some(&PEAKED)),
            pair("b2", Role::Base, "a", Some(&PEAKED)),
            pair("r", Role::Rlhf, "a", Some(&UNIFORM)),
        ]);
        assert_eq!(ladder(&with_kl, &two_bases), None);
    }
}
