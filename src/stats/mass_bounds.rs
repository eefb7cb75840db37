//! Guaranteed bounds on outcome probabilities and entropy when part of the probability mass is
//! unresolved (unseen beyond top-k, or not expanded).
//!
//! The model: outcome N has resolved mass `L[N]` (known to belong to N); each unresolved chunk
//! `j` has mass `m_j` that may belong to any outcome in its reach set `S_j`, or to no outcome at
//! all. The true absolute probabilities are `P = L + a` for some split `a` of the chunks; the
//! figures are over the normalised `q = P / ΣP`.
//!
//! Bounds (each a relaxation of the chunk structure, hence guaranteed):
//! * `P[N] ∈ [L[N], U[N]]`, `U[N] = L[N] + D[N]`, `D[N] = Σ_{j: N∈S_j} m_j`; coverage
//!   `ΣP ∈ [C0, C0 + M]` with `C0 = ΣL`, `M = Σ_{S_j≠∅} m_j`.
//! * `q[N] ≥ L[N] / (C0 + M)` and `q[N] ≤ U[N] / (C0 − L[N] + U[N])` (all of N's reachable
//!   mass added to N alone maximises its share).
//! * Entropy upper bound: the maximum of H(P/ΣP) over `L ≤ P ≤ U`, `Σ(P − L) ≤ M`. Its
//!   maximisers are water-fillings `P(λ) = clamp(λ, L, U)`; H is searched over λ on every
//!   segment between breakpoints (golden section, where H is unimodal) and at the breakpoints.
//! * Entropy lower bound: for a fixed added total A, H is concave in the split, so over the
//!   simplex of splits (a superset of the feasible ones) it is smallest at a vertex, all of A on
//!   one reachable outcome; along A ∈ [0, M] that is a mixture of q0 = L/C0 and a point mass,
//!   on which entropy is concave, so the minimum is at A = 0 or A = M:
//!   `min(H(q0), min_N H((1−t)q0 + t·e_N))`, `t = M / (C0 + M)`.

use super::entropy::{entropy_nats, normalized};
use serde::Serialize;

/// Unresolved mass and the outcomes it may still become.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Absolute probability mass.
    pub mass: f64,
    /// Outcome indices it may become (it may also become no outcome).
    pub reach: Vec<usize>,
}

/// A figure with its guaranteed bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The point estimate.
    pub point: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// A figure known exactly.
    pub fn exact(x: f64) -> Interval {
        Interval { point: x, low: x, high: x }
    }
}

/// Resolved masses and unresolved chunks over an outcome set of `lower.len()` outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct MassBounds {
    /// Resolved mass per outcome.
    pub lower: Vec<f64>,
    /// Unresolved chunks.
    pub chunks: Vec<Chunk>,
}

/// Tolerance added outward to computed entropy bounds, covering floating-point error.
const SLACK: f64 = 1e-9;

impl MassBounds {
    /// Resolved coverage C0.
    pub fn resolved(&self) -> f64 {
        self.lower.iter().sum()
    }

    /// Unresolved mass that may still become some outcome, M.
    pub fn reachable_unresolved(&self) -> f64 {
        self.chunks.iter().filter(|c| !c.reach.is_empty()).map(|c| c.mass).sum()
    }

    /// D[N]: unresolved mass that may become outcome N.
    fn reachable_per_outcome(&self) -> Vec<f64> {
        let mut d = vec![0.0; self.lower.len()];
        for c in &self.chunks {
            for &n in &c.reach {
                d[n] += c.mass;
            }
        }
        d
    }

    /// U[N] = L[N] + D[N].
    pub fn upper(&self) -> Vec<f64> {
        let m = self.reachable_unresolved();
        self.lower.iter().zip(self.reachable_per_outcome()).map(|(l, d)| l + d.min(m)).collect()
    }

    /// Coverage ΣP.
    pub fn coverage(&self) -> Interval {
        let c0 = self.resolved();
        Interval { point: c0, low: c0, high: (c0 + self.reachable_unresolved()).min(1.0).max(c0) }
    }

    /// Normalised probability of each outcome.
    pub fn shares(&self) -> Vec<Interval> {
        let c0 = self.resolved();
        let m = self.reachable_unresolved();
        let upper = self.upper();
        self.lower
            .iter()
            .zip(upper)
            .map(|(&l, u)| {
                let point = if c0 > 0.0 { l / c0 } else { 0.0 };
                let low = if c0 + m > 0.0 { l / (c0 + m) } else { 0.0 };
                let denom = c0 - l + u;
                let high = if u > 0.0 && denom > 0.0 { (u / denom).min(1.0) } else { 0.0 };
                Interval { point, low, high: high.max(point) }
            })
            .collect()
    }

    /// The normalised probability of the most likely outcome.
    pub fn mode_share(&self) -> Interval {
        let shares = self.shares();
        let fold = |f: fn(&Interval) -> f64| shares.iter().map(f).fold(0.0, f64::max);
        Interval { point: fold(|i| i.point), low: fold(|i| i.low), high: fold(|i| i.high) }
    }

    /// The outcome that is the mode whatever the unresolved mass does, if there is one.
    pub fn certain_mode(&self) -> Option<usize> {
        let upper = self.upper();
        let best = self.point_mode()?;
        let l = self.lower[best];
        upper.iter().enumerate().all(|(n, &u)| n == best || l > u).then_some(best)
    }

    /// The outcome with the most resolved mass (ties go to the smaller index).
    pub fn point_mode(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (n, &l) in self.lower.iter().enumerate() {
            if l > 0.0 && best.is_none_or(|b| l > self.lower[b]) {
                best = Some(n);
            }
        }
        best
    }

    /// Entropy (nats) of the normalised distribution, with guaranteed bounds.
    pub fn entropy(&self) -> Interval {
        let c0 = self.resolved();
        let point = entropy_nats(&normalized(&self.lower));
        let high = self.max_entropy().max(point) + SLACK;
        let low = (self.min_entropy_bound().min(point) - SLACK).max(0.0);
        Interval { point, low, high }
            .clamp_high(self.lower.len())
            .with_point_if_empty(c0)
    }

    fn min_entropy_bound(&self) -> f64 {
        let c0 = self.resolved();
        let m = self.reachable_unresolved();
        if c0 <= 0.0 {
            return 0.0;
        }
        let q0 = normalized(&self.lower);
        let mut best = entropy_nats(&q0);
        if m <= 0.0 {
            return best;
        }
        let t = m / (c0 + m);
        let d = self.reachable_per_outcome();
        let base: Vec<f64> = q0.iter().map(|q| (1.0 - t) * q).collect();
        // H((1−t)q0 + t e_N) differs from H((1−t)q0 without N's term) only in N's term.
        let term = |x: f64| if x > 0.0 { -x * x.ln() } else { 0.0 };
        let total: f64 = base.iter().map(|&x| term(x)).sum();
        for (n, &dn) in d.iter().enumerate() {
            if dn > 0.0 {
                let h = total - term(base[n]) + term(base[n] + t);
                best = best.min(h);
            }
        }
        best
    }

    fn max_entropy(&self) -> f64 {
        let upper = self.upper();
        let m = self.reachable_unresolved();
        let lower = &self.lower;
        let fill = |lambda: f64| -> Vec<f64> {
            lower.iter().zip(&upper).map(|(&l, &u)| l.max(lambda.min(u))).collect()
        };
        let added = |lambda: f64| -> f64 { fill(lambda).iter().zip(lower).map(|(p, l)| p - l).sum() };
        let h = |lambda: f64| entropy_nats(&normalized(&fill(lambda)));
        let lo = lower.iter().copied().fold(f64::INFINITY, f64::min).max(0.0);
        let hi_all = upper.iter().copied().fold(0.0, f64::max);
        // The largest λ whose fill stays within the budget M.
        let lambda_max = if added(hi_all) <= m {
            hi_all
        } else {
            let (mut a, mut b) = (lo, hi_all);
            for _ in 0..200 {
                let mid = 0.5 * (a + b);
                if added(mid) <= m { a = mid } else { b = mid }
            }
            a
        };
        let mut points: Vec<f64> = lower
            .iter()
            .chain(upper.iter())
            .copied()
            .filter(|&x| x > lo && x < lambda_max)
            .chain([lo, lambda_max])
            .collect();
        points.sort_by(f64::total_cmp);
        points.dedup();
        let mut best = points.iter().map(|&x| h(x)).fold(0.0, f64::max);
        // Within a segment the active set is fixed and H is unimodal in λ.
        for w in points.windows(2) {
            let (mut a, mut b) = (w[0], w[1]);
            let g = 0.618_033_988_749_895;
            for _ in 0..60 {
                let x1 = b - g * (b - a);
                let x2 = a + g * (b - a);
                if h(x1) < h(x2) { a = x1 } else { b = x2 }
            }
            best = best.max(h(0.5 * (a + b)));
        }
        best
    }
}

impl Interval {
    fn clamp_high(self, k: usize) -> Interval {
        let cap = (k.max(1) as f64).ln() + SLACK;
        Interval { high: self.high.min(cap), ..self }
    }

    fn with_point_if_empty(self, c0: f64) -> Interval {
        if c0 > 0.0 { self } else { Interval { point: 0.0, ..self } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic instances: these check the bounds against brute force, not any model.

    /// A tiny deterministic generator, so the test needs no dependency and never flakes.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn random_instance(rng: &mut Lcg, k: usize) -> MassBounds {
        let mut lower: Vec<f64> = (0..k).map(|_| if rng.next() < 0.3 { 0.0 } else { rng.next() }).collect();
        let mut chunks: Vec<Chunk> = (0..3)
            .map(|_| Chunk { mass: rng.next(), reach: (0..k).filter(|_| rng.next() < 0.5).collect() })
            .collect();
        let total: f64 = lower.iter().sum::<f64>() + chunks.iter().map(|c| c.mass).sum::<f64>() + rng.next() * 0.5;
        lower.iter_mut().for_each(|x| *x /= total);
        chunks.iter_mut().for_each(|c| c.mass /= total);
        MassBounds { lower, chunks }
    }

    /// One feasible P: each chunk split at random among its reach and "no outcome".
    fn random_feasible(rng: &mut Lcg, b: &MassBounds, extreme: bool) -> Vec<f64> {
        let mut p = b.lower.clone();
        for c in &b.chunks {
            let mut weights: Vec<f64> = (0..=c.reach.len()).map(|_| rng.next()).collect();
            if extreme {
                let pick = (rng.next() * weights.len() as f64) as usize;
                weights = (0..weights.len()).map(|i| if i == pick { 1.0 } else { 0.0 }).collect();
            }
            let total: f64 = weights.iter().sum();
            for (i, &n) in c.reach.iter().enumerate() {
                p[n] += c.mass * weights[i] / total;
            }
        }
        p
    }

    #[test]
    fn bounds_contain_every_feasible_distribution() {
        let mut rng = Lcg(42);
        for _ in 0..300 {
            let k = 2 + (rng.next() * 6.0) as usize;
            let b = random_instance(&mut rng, k);
            let h = b.entropy();
            let cov = b.coverage();
            let shares = b.shares();
            let mode = b.mode_share();
            for i in 0..200 {
                let p = random_feasible(&mut rng, &b, i % 2 == 0);
                let c: f64 = p.iter().sum();
                if c <= 0.0 {
                    continue;
                }
                let q = normalized(&p);
                let hq = entropy_nats(&q);
                assert!(hq >= h.low - 1e-12 && hq <= h.high + 1e-12, "H={hq} outside {h:?} for {b:?}");
                assert!(c >= cov.low - 1e-12 && c <= cov.high + 1e-12);
                for (n, s) in shares.iter().enumerate() {
                    assert!(q[n] >= s.low - 1e-12 && q[n] <= s.high + 1e-12, "q[{n}]={} outside {s:?}", q[n]);
                }
                let qmax = q.iter().copied().fold(0.0, f64::max);
                assert!(qmax >= mode.low - 1e-12 && qmax <= mode.high + 1e-12);
            }
        }
    }

    #[test]
    fn upper_bound_is_attained_by_water_filling() {
        // L = (0.5, 0.1, 0.1), 0.3 unresolved reaching outcomes 1 and 2: the maximum is
        // reached by filling both to 0.25 each.
        let b = MassBounds { lower: vec![0.5, 0.1, 0.1], chunks: vec![Chunk { mass: 0.3, reach: vec![1, 2] }] };
        let h = b.entropy();
        let best = entropy_nats(&normalized(&[0.5, 0.25, 0.25]));
        assert!((h.high - best).abs() < 1e-6, "{h:?} vs {best}");
        // Lower: the unresolved mass may become no outcome at all, which leaves q0 = L/ΣL,
        // less spread than any split that adds mass to outcome 1 or 2.
        let worst = entropy_nats(&normalized(&[0.5, 0.1, 0.1]));
        assert!(h.low <= worst + 1e-12 && h.low >= worst - 1e-6, "{h:?} vs {worst}");
    }

    #[test]
    fn no_unresolved_mass_gives_exact_figures() {
        let b = MassBounds { lower: vec![0.2, 0.6, 0.0], chunks: vec![Chunk { mass: 0.2, reach: vec![] }] };
        let h = b.entropy();
        assert!((h.high - h.low) < 1e-8);
        assert_eq!(b.coverage(), Interval { point: 0.8, low: 0.8, high: 0.8 });
        assert_eq!(b.certain_mode(), Some(1));
        assert!((b.mode_share().point - 0.75).abs() < 1e-12);
    }
}
