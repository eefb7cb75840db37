//! Divergences between two distributions over the same outcomes, and the bounds they imply.
//!
//! What: Kullback–Leibler divergence, total variation distance and Jensen–Shannon divergence of
//! two probability vectors, Pinsker's inequality (KL → total variation), the sharp
//! Fannes–Audenaert continuity bound (total variation → entropy gap), and their composition
//! (KL → entropy gap).
//!
//! Why: a claim such as "model B's output distribution is within ε of model A's" is stated in
//! one of these divergences, while the figures we certify are entropies; the bounds translate
//! one into the other without assuming anything about the distributions.
//!
//! Conventions: natural logarithms, so everything is in nats. `p[i]` and `q[i]` are the
//! probabilities of the same outcome `i`; the caller normalises (each sums to 1), as
//! [`crate::stats::normalized`] does. Entries must be finite and non-negative and the two
//! slices equally long and non-empty; anything else is a [`DivergenceError`], never a panic.

use crate::stats::binary_entropy;

/// Bad input to a divergence or bound.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DivergenceError {
    /// The two distributions have different numbers of outcomes.
    #[error("failed to compare distributions: {left} outcomes against {right}")]
    LengthMismatch {
        /// Outcomes in the first distribution.
        left: usize,
        /// Outcomes in the second distribution.
        right: usize,
    },
    /// There are no outcomes at all.
    #[error("failed to compare distributions: they have no outcomes")]
    Empty,
    /// A probability is negative, infinite or NaN.
    #[error(
        "failed to compare distributions: probability {value} at index {index} is not a finite non-negative number"
    )]
    InvalidProbability {
        /// Index of the offending entry.
        index: usize,
        /// The entry.
        value: f64,
    },
    /// A divergence handed to a bound is negative or NaN.
    #[error("failed to bound: divergence {0} is not a non-negative number")]
    InvalidDivergence(f64),
    /// A total variation distance handed to a bound is negative or NaN.
    #[error("failed to bound: total variation {0} is not a non-negative number")]
    InvalidTotalVariation(f64),
    /// A bound needs at least one outcome.
    #[error("failed to bound: the number of outcomes must be at least 1")]
    NoOutcomes,
}

fn check(p: &[f64], q: &[f64]) -> Result<(), DivergenceError> {
    if p.len() != q.len() {
        return Err(DivergenceError::LengthMismatch {
            left: p.len(),
            right: q.len(),
        });
    }
    if p.is_empty() {
        return Err(DivergenceError::Empty);
    }
    for (index, &value) in p.iter().chain(q).enumerate() {
        if !(value.is_finite() && value >= 0.0) {
            let index = index % p.len();
            return Err(DivergenceError::InvalidProbability { index, value });
        }
    }
    Ok(())
}

/// One term of KL(p‖q) in the form p ln(p/q) − p + q (scipy.special.kl_div).
///
/// Why this form rather than p ln(p/q) alone: each term is non-negative (ln x ≤ x − 1), so the
/// sum can never come out slightly negative from rounding, while the extra −p + q terms add up
/// to zero when both vectors sum to 1. Callers of the bounds need KL ≥ 0.
fn kl_term(p: f64, q: f64) -> f64 {
    if p == 0.0 {
        q
    } else if q == 0.0 {
        f64::INFINITY
    } else {
        // max(0, ·) removes a last-ulp negative when p ≈ q; the exact value is ≥ 0.
        (p * (p / q).ln() - p + q).max(0.0)
    }
}

/// Kullback–Leibler divergence KL(p‖q) = Σ pᵢ ln(pᵢ/qᵢ), in nats.
///
/// Infinite (`f64::INFINITY`) when some qᵢ = 0 < pᵢ: q then gives no chance to an outcome p can
/// produce. Not symmetric. Agrees with `scipy.stats.entropy(p, q)` for normalised inputs.
pub fn kl(p: &[f64], q: &[f64]) -> Result<f64, DivergenceError> {
    check(p, q)?;
    Ok(p.iter().zip(q).map(|(&a, &b)| kl_term(a, b)).sum())
}

/// Total variation distance ½ Σ |pᵢ − qᵢ|, in [0, 1]. Symmetric.
pub fn total_variation(p: &[f64], q: &[f64]) -> Result<f64, DivergenceError> {
    check(p, q)?;
    Ok(0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>())
}

/// Jensen–Shannon divergence ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, in nats, in [0, ln 2].
///
/// This is the divergence, not the distance: `scipy.spatial.distance.jensenshannon(p, q)`
/// returns its square root. Symmetric and always finite.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> Result<f64, DivergenceError> {
    check(p, q)?;
    let sum: f64 = p
        .iter()
        .zip(q)
        .map(|(&a, &b)| {
            let m = 0.5 * (a + b);
            kl_term(a, m) + kl_term(b, m)
        })
        .sum();
    Ok(0.5 * sum)
}

/// Pinsker's inequality as a bound: TV(p, q) ≤ min(1, √(KL(p‖q)/2)).
///
/// An infinite divergence gives the trivial bound 1.
pub fn pinsker_tv_bound(kl: f64) -> Result<f64, DivergenceError> {
    if kl.is_nan() || kl < 0.0 {
        return Err(DivergenceError::InvalidDivergence(kl));
    }
    Ok((kl / 2.0).sqrt().min(1.0))
}

/// The sharp continuity bound for Shannon entropy (Audenaert 2007, "A sharp continuity estimate
/// for the von Neumann entropy", J. Phys. A 40, 8127; the classical case of commuting states):
/// for two distributions on `d` outcomes at total variation distance `t`,
///
/// |H(P) − H(Q)| ≤ t ln(d − 1) + h(t)   for t ≤ 1 − 1/d,   and ≤ ln d beyond,
///
/// where h is the binary entropy in nats. The two pieces meet at t = 1 − 1/d, where the first
/// equals ln d. Values of `t` above 1 (rounding) are treated as "beyond". With d = 1 both
/// distributions are the same point mass, so the bound is 0.
pub fn fannes_audenaert(t: f64, d: usize) -> Result<f64, DivergenceError> {
    if t.is_nan() || t < 0.0 {
        return Err(DivergenceError::InvalidTotalVariation(t));
    }
    if d == 0 {
        return Err(DivergenceError::NoOutcomes);
    }
    if d == 1 {
        return Ok(0.0);
    }
    let d_f = d as f64;
    if t >= 1.0 - 1.0 / d_f {
        return Ok(d_f.ln());
    }
    Ok(t * (d_f - 1.0).ln() + binary_entropy(t))
}

/// A bound on |H(P) − H(Q)| from KL(P‖Q) on `d` outcomes: `fannes_audenaert(pinsker_tv_bound(kl), d)`.
///
/// Why the composition is valid: write g(T) for the Fannes–Audenaert bound. On [0, 1 − 1/d],
/// f(T) = T ln(d − 1) + h(T) has derivative f′(T) = ln(d − 1) + ln((1 − T)/T), which is ≥ 0
/// exactly when (d − 1)(1 − T) ≥ T, i.e. T ≤ 1 − 1/d; so f is non-decreasing there and reaches
/// f(1 − 1/d) = ln d (h(1 − 1/d) = ln d − (1 − 1/d) ln(d − 1)). Beyond that point g is the
/// constant ln d. Hence g is non-decreasing on all of [0, ∞), and TV ≤ pinsker(KL) gives
/// |H(P) − H(Q)| ≤ g(TV) ≤ g(pinsker(KL)).
pub fn entropy_gap_bound_from_kl(kl: f64, d: usize) -> Result<f64, DivergenceError> {
    fannes_audenaert(pinsker_tv_bound(kl)?, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::entropy_nats;
    use proptest::prelude::*;
    use serde_json::Value;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/divergence.json");

    fn vec_of(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    /// Absolute error, or relative error for values above 1 (none of these exceed ln d).
    fn err(got: f64, want: f64) -> f64 {
        if got == want {
            return 0.0;
        }
        (got - want).abs() / want.abs().max(1.0)
    }

    #[test]
    fn matches_the_reference_fixture() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        let mut worst: f64 = 0.0;
        let mut n = 0;
        for case in fixture["pairs"].as_array().unwrap() {
            let p = vec_of(&case["p"]);
            let q = vec_of(&case["q"]);
            let name = case["name"].as_str().unwrap();
            let want_kl = &case["kl"];
            let got_kl = kl(&p, &q).unwrap();
            if want_kl.is_string() {
                assert_eq!(want_kl.as_str(), Some("inf"), "{name}");
                assert_eq!(got_kl, f64::INFINITY, "{name}");
            } else {
                worst = worst.max(err(got_kl, want_kl.as_f64().unwrap()));
            }
            worst = worst.max(err(
                total_variation(&p, &q).unwrap(),
                case["tv"].as_f64().unwrap(),
            ));
            worst = worst.max(err(
                jensen_shannon(&p, &q).unwrap(),
                case["js"].as_f64().unwrap(),
            ));
            n += 1;
        }
        for case in fixture["bounds"].as_array().unwrap() {
            let d = case["d"].as_u64().unwrap() as usize;
            let t = case["t"].as_f64().unwrap();
            let got = fannes_audenaert(t, d).unwrap();
            worst = worst.max(err(got, case["fannes_audenaert"].as_f64().unwrap()));
            let k = case["kl"].as_f64().unwrap();
            worst = worst.max(err(
                pinsker_tv_bound(k).unwrap(),
                case["pinsker"].as_f64().unwrap(),
            ));
            let gap = entropy_gap_bound_from_kl(k, d).unwrap();
            worst = worst.max(err(gap, case["gap_from_kl"].as_f64().unwrap()));
            n += 1;
        }
        assert!(n >= 20, "only {n} cases");
        assert!(worst < 1e-9, "worst error {worst:e}");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(kl(&[0.5, 0.5], &[1.0, 0.0]), Ok(f64::INFINITY));
        assert_eq!(kl(&[1.0, 0.0], &[0.5, 0.5]), Ok(std::f64::consts::LN_2));
        assert_eq!(kl(&[0.3, 0.7], &[0.3, 0.7]), Ok(0.0));
        assert!(
            (jensen_shannon(&[1.0, 0.0], &[0.0, 1.0]).unwrap() - std::f64::consts::LN_2).abs()
                < 1e-15
        );
        assert_eq!(total_variation(&[1.0, 0.0], &[0.0, 1.0]), Ok(1.0));
        assert_eq!(pinsker_tv_bound(f64::INFINITY), Ok(1.0));
        assert_eq!(pinsker_tv_bound(0.0), Ok(0.0));
        assert_eq!(fannes_audenaert(0.0, 5), Ok(0.0));
        assert_eq!(fannes_audenaert(0.3, 1), Ok(0.0));
        assert_eq!(fannes_audenaert(1.2, 4), Ok(4f64.ln()));
        // The two pieces meet at t = 1 − 1/d.
        let d = 7usize;
        let t = 1.0 - 1.0 / d as f64;
        let left = t * 6f64.ln() + binary_entropy(t);
        assert!((left - 7f64.ln()).abs() < 1e-14);
        assert_eq!(entropy_gap_bound_from_kl(f64::INFINITY, 3), Ok(3f64.ln()));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            kl(&[1.0], &[0.5, 0.5]),
            Err(DivergenceError::LengthMismatch { left: 1, right: 2 })
        );
        assert_eq!(total_variation(&[], &[]), Err(DivergenceError::Empty));
        assert!(matches!(
            jensen_shannon(&[0.5, 0.5], &[f64::NAN, 1.0]),
            Err(DivergenceError::InvalidProbability { index: 0, .. })
        ));
        assert!(matches!(
            kl(&[-0.1, 1.1], &[0.5, 0.5]),
            Err(DivergenceError::InvalidProbability { index: 0, .. })
        ));
        assert!(pinsker_tv_bound(-1e-3).is_err());
        assert!(pinsker_tv_bound(f64::NAN).is_err());
        assert!(fannes_audenaert(f64::NAN, 3).is_err());
        assert!(fannes_audenaert(-0.1, 3).is_err());
        assert_eq!(fannes_audenaert(0.1, 0), Err(DivergenceError::NoOutcomes));
        let message = kl(&[1.0], &[]).unwrap_err().to_string();
        assert!(message.starts_with("failed to"), "{message}");
    }

    /// A pair of random distributions on the same 1..=8 outcomes, some entries exactly zero.
    fn pair() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
        (1usize..=8).prop_flat_map(|d| {
            let entry = prop_oneof![1 => Just(0.0), 4 => 0.0..1.0f64];
            (
                prop::collection::vec(entry.clone(), d),
                prop::collection::vec(entry, d),
            )
                .prop_filter("non-zero mass", |(p, q)| {
                    p.iter().sum::<f64>() > 0.0 && q.iter().sum::<f64>() > 0.0
                })
                .prop_map(|(p, q)| (crate::stats::normalized(&p), crate::stats::normalized(&q)))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn pinsker_holds((p, q) in pair()) {
            let tv = total_variation(&p, &q).unwrap();
            let k = kl(&p, &q).unwrap();
            prop_assert!(k >= 0.0);
            prop_assert!(tv <= pinsker_tv_bound(k).unwrap() + 1e-12, "tv {tv} kl {k}");
        }

        #[test]
        fn fannes_audenaert_holds((p, q) in pair()) {
            let gap = (entropy_nats(&p) - entropy_nats(&q)).abs();
            let tv = total_variation(&p, &q).unwrap();
            let bound = fannes_audenaert(tv, p.len()).unwrap();
            prop_assert!(gap <= bound + 1e-12, "gap {gap} bound {bound}");
            let k = kl(&p, &q).unwrap();
            prop_assert!(gap <= entropy_gap_bound_from_kl(k, p.len()).unwrap() + 1e-12);
        }

        #[test]
        fn fannes_audenaert_is_monotone(d in 1usize..50, a in 0.0..1.0f64, b in 0.0..1.0f64) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(fannes_audenaert(lo, d).unwrap() <= fannes_audenaert(hi, d).unwrap() + 1e-15);
        }

        #[test]
        fn symmetric_and_bounded((p, q) in pair()) {
            let js = jensen_shannon(&p, &q).unwrap();
            prop_assert!((0.0..=std::f64::consts::LN_2 + 1e-12).contains(&js));
            prop_assert_eq!(js, jensen_shannon(&q, &p).unwrap());
            let tv = total_variation(&p, &q).unwrap();
            prop_assert!((0.0..=1.0 + 1e-12).contains(&tv));
            prop_assert_eq!(tv, total_variation(&q, &p).unwrap());
            prop_assert_eq!(kl(&p, &p).unwrap(), 0.0);
        }
    }
}
