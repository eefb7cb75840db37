//! Guaranteed bounds on outcome probabilities and entropy when part of the probability mass is
//! unresolved (unseen beyond top-k, or not expanded).
//!
//! The model: outcome N has resolved mass `L[N]` (known to belong to N); each unresolved chunk
//! `j` has mass `m_j` that may belong to any outcome in its reach set `S_j`, or to no outcome at
//! all. The true absolute probabilities are `P = L + a` for some split `a` of the chunks; the
//! figures are over the normalised `q = P / ΣP`.
//!
//! Bounds (each guaranteed; all but the entropy upper bound relax the chunk structure):
//! * `P[N] ∈ [L[N], U[N]]`, `U[N] = L[N] + D[N]`, `D[N] = Σ_{j: N∈S_j} m_j`; coverage
//!   `ΣP ∈ [C0, C0 + M]` with `C0 = ΣL`, `M = Σ_{S_j≠∅} m_j`.
//! * `q[N] ≥ L[N] / (C0 + M)` and `q[N] ≤ U[N] / (C0 − L[N] + U[N])` (all of N's reachable
//!   mass added to N alone maximises its share).
//! * Entropy upper bound: the maximum of H(P/ΣP) over the exact feasible set, each chunk split
//!   over its own reach or none (not the relaxation above, which lets a chunk that can only
//!   become outcome 0 pour onto outcomes 50..99). The maximiser is a level fill: every outcome
//!   raised towards a common level λ as far as the chunks reaching it allow (innermost reach
//!   sets first), the rest to none, at the λ where adding more stops paying; exact when the
//!   reach sets are laminar (nested or disjoint, as a prefix tree's are). The figure reported is
//!   a Gibbs-inequality certificate computed from that point, which is a valid bound for any
//!   reach sets and equals the maximum up to rounding in the laminar case. Details and proof
//!   at `flow_optimum`.
//! * Entropy lower bound: for a fixed added total A, H is concave in the split, so over the
//!   simplex of splits (a superset of the feasible ones) it is smallest at a vertex, all of A on
//!   one reachable outcome; along A ∈ [0, M] that is a mixture of q0 = L/C0 and a point mass,
//!   on which entropy is concave, so the minimum is at A = 0 or A = M:
//!   `min(H(q0), min_N H((1−t)q0 + t·e_N))`, `t = M / (C0 + M)`.

use super::entropy::{entropy_nats, normalized};
use serde::Serialize;
use std::collections::BTreeMap;

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
        Interval {
            point: x,
            low: x,
            high: x,
        }
    }

    /// The mean of the points, of the lows and of the highs: the mean of lower bounds bounds
    /// the mean from below, and likewise above. `None` for no values.
    pub fn mean(values: impl IntoIterator<Item = Interval>) -> Option<Interval> {
        let all: Vec<Interval> = values.into_iter().collect();
        if all.is_empty() {
            return None;
        }
        let n = all.len() as f64;
        Some(Interval {
            point: all.iter().map(|v| v.point).sum::<f64>() / n,
            low: all.iter().map(|v| v.low).sum::<f64>() / n,
            high: all.iter().map(|v| v.high).sum::<f64>() / n,
        })
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
        self.chunks
            .iter()
            .filter(|c| !c.reach.is_empty())
            .map(|c| c.mass)
            .sum()
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
        self.lower
            .iter()
            .zip(self.reachable_per_outcome())
            .map(|(l, d)| l + d.min(m))
            .collect()
    }

    /// Coverage ΣP.
    pub fn coverage(&self) -> Interval {
        let c0 = self.resolved();
        Interval {
            point: c0,
            low: c0,
            high: (c0 + self.reachable_unresolved()).min(1.0).max(c0),
        }
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
                let high = if u > 0.0 && denom > 0.0 {
                    (u / denom).min(1.0)
                } else {
                    0.0
                };
                Interval {
                    point,
                    low,
                    high: high.max(point),
                }
            })
            .collect()
    }

    /// The normalised probability of the most likely outcome.
    pub fn mode_share(&self) -> Interval {
        let shares = self.shares();
        let fold = |f: fn(&Interval) -> f64| shares.iter().map(f).fold(0.0, f64::max);
        Interval {
            point: fold(|i| i.point),
            low: fold(|i| i.low),
            high: fold(|i| i.high),
        }
    }

    /// The outcome that is the mode whatever the unresolved mass does, if there is one.
    pub fn certain_mode(&self) -> Option<usize> {
        let upper = self.upper();
        let best = self.point_mode()?;
        let l = self.lower[best];
        upper
            .iter()
            .enumerate()
            .all(|(n, &u)| n == best || l > u)
            .then_some(best)
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

    /// The greatest entropy any feasible split reaches, certified (never below the true maximum).
    fn max_entropy(&self) -> f64 {
        self.max_entropy_with_witness().0
    }

    /// The certified upper bound on H(q), with the feasible split (if any) it was certified
    /// from: the bound is within floating-point error of that split's entropy whenever the
    /// reach sets are laminar. See `flow_optimum` for the algorithm.
    fn max_entropy_with_witness(&self) -> (f64, Option<Fill>) {
        let groups = self.reach_groups();
        let k = self.lower.len();
        if groups.is_empty() {
            let h = entropy_nats(&normalized(&self.lower));
            return (
                h,
                Some(Fill {
                    p: self.lower.clone(),
                    split: Vec::new(),
                }),
            );
        }
        if self.resolved() <= 0.0 {
            // Nothing resolved: H(P/ΣP) is scale-free and the feasible set contains every small
            // multiple of the uniform vector over the reachable outcomes, so the supremum is
            // ln(#reachable) (and nothing can exceed it).
            let mut reachable = vec![false; k];
            groups
                .iter()
                .flat_map(|g| &g.reach)
                .for_each(|&n| reachable[n] = true);
            let count = reachable.iter().filter(|&&r| r).count();
            return ((count as f64).ln(), None);
        }
        let witness = flow_optimum(&self.lower, &groups);
        let witness_h = entropy_nats(&normalized(&witness.p));
        let mut bound = gibbs_bound(&self.lower, &groups, &witness.p);
        if !is_laminar(&groups, k) {
            // The certificate is valid for any family, but the fill is only proven optimal for
            // laminar ones: also certify from the relaxed problem's maximiser, which gives about
            // the relaxed bound, so that the result is never much looser than it.
            bound = bound.min(gibbs_bound(&self.lower, &groups, &self.relaxed_max_point()));
        }
        // The certificate is ≥ the witness's entropy in exact arithmetic; keep it so in floats.
        (bound.max(witness_h), Some(witness))
    }

    /// The chunks that can become an outcome, one per distinct reach set (sorted, without
    /// repeats), smallest reach first. Merging chunks of equal reach loses nothing: a split
    /// of the merged mass is a split of the parts, in proportion.
    fn reach_groups(&self) -> Vec<Chunk> {
        let mut by_reach: BTreeMap<Vec<usize>, f64> = BTreeMap::new();
        for c in self.chunks.iter().filter(|c| c.mass > 0.0) {
            let mut reach = c.reach.clone();
            reach.sort_unstable();
            reach.dedup();
            if !reach.is_empty() {
                *by_reach.entry(reach).or_default() += c.mass;
            }
        }
        let mut groups: Vec<Chunk> = by_reach
            .into_iter()
            .map(|(reach, mass)| Chunk { mass, reach })
            .collect();
        // Stable, so ties keep the map's order and the result is deterministic.
        groups.sort_by_key(|g| g.reach.len());
        groups
    }

    /// The maximiser of the relaxed problem (per-outcome caps U and one budget M instead of the
    /// chunks): water-fillings `clamp(λ, L, U)`, searched over λ on every segment between
    /// breakpoints (golden section, where H is unimodal) and at the breakpoints. Only used as
    /// a reference point for the certificate when the reach sets are not laminar.
    fn relaxed_max_point(&self) -> Vec<f64> {
        let upper = self.upper();
        let m = self.reachable_unresolved();
        let lower = &self.lower;
        let fill = |lambda: f64| -> Vec<f64> {
            lower
                .iter()
                .zip(&upper)
                .map(|(&l, &u)| l.max(lambda.min(u)))
                .collect()
        };
        let added =
            |lambda: f64| -> f64 { fill(lambda).iter().zip(lower).map(|(p, l)| p - l).sum() };
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
        let mut best = (f64::NEG_INFINITY, lo);
        let mut consider = |x: f64| {
            let hx = h(x);
            if hx > best.0 {
                best = (hx, x);
            }
        };
        points.iter().for_each(|&x| consider(x));
        // Within a segment the active set is fixed and H is unimodal in λ.
        for w in points.windows(2) {
            let (mut a, mut b) = (w[0], w[1]);
            let g = 0.618_033_988_749_895;
            for _ in 0..60 {
                let x1 = b - g * (b - a);
                let x2 = a + g * (b - a);
                if h(x1) < h(x2) { a = x1 } else { b = x2 }
            }
            consider(0.5 * (a + b));
        }
        fill(best.1)
    }
}

/// A feasible split: the probabilities `p`, and per group the mass it gives to each outcome of
/// its reach (in `reach` order; the rest of its mass goes to no outcome).
#[derive(Debug, Clone)]
struct Fill {
    p: Vec<f64>,
    /// Read only by the tests, which check from it that the witness is feasible.
    #[cfg_attr(not(test), allow(dead_code))]
    split: Vec<Vec<f64>>,
}

/// P(λ): groups in order (smallest reach first), each raising the lowest outcomes of its reach
/// to a common level of at most λ, as far as its mass allows.
fn fill_to_level(lower: &[f64], groups: &[Chunk], lambda: f64) -> Fill {
    let mut p = lower.to_vec();
    let mut split = Vec::with_capacity(groups.len());
    for g in groups {
        let mut below: Vec<f64> = g
            .reach
            .iter()
            .map(|&n| p[n])
            .filter(|&x| x < lambda)
            .collect();
        below.sort_by(f64::total_cmp);
        // The level w that the mass reaches when spread over the k lowest outcomes is
        // (m + their sum) / k; it is final once it does not pass the next outcome (or λ).
        let mut level = lambda;
        let mut sum = 0.0;
        for (i, &x) in below.iter().enumerate() {
            sum += x;
            let next = below.get(i + 1).copied().unwrap_or(lambda);
            let w = (g.mass + sum) / (i + 1) as f64;
            if w <= next {
                level = w.min(lambda);
                break;
            }
        }
        let given: Vec<f64> = g
            .reach
            .iter()
            .map(|&n| {
                let add = (level - p[n]).max(0.0);
                p[n] += add;
                add
            })
            .collect();
        split.push(given);
    }
    Fill { p, split }
}

/// θ = ΣP·e^{−H(P/ΣP)} = exp(Σ q ln P): adding mass to an outcome below θ raises the entropy.
fn threshold(p: &[f64]) -> f64 {
    let q = normalized(p);
    q.iter()
        .zip(p)
        .filter(|(q, _)| **q > 0.0)
        .map(|(q, p)| q * p.ln())
        .sum::<f64>()
        .exp()
}

// The flow-aware upper bound on the entropy, and why it is exact.
//
// Notation: P = L + a, T = ΣP, q = P/T, H = H(q). The added vectors a that some split of the
// chunks produces are exactly the polymatroid Q = {a ≥ 0 : a(S) ≤ f(S) for all S},
// f(S) = Σ_{j: S_j ∩ S ≠ ∅} m_j (max-flow/min-cut on chunks → outcomes).
//
// 1. Shape of the maximiser. ∂H/∂P_N = (ln θ − ln P_N)/T with θ = T·e^{−H} = exp(Σ q ln P):
//    adding to outcome N raises H iff P_N < θ. At a maximiser P* (threshold θ*) every outcome
//    that received mass has P*_N ≤ θ* (else moving a little of it to "none" would raise H), and
//    no outcome with P*_N < θ* can be raised within Q (else raising it would raise H). So a* is
//    a maximal vector, a base, of the polymatroid Q_λ = Q ∩ {P ≤ max(L, λ)} at λ = θ*. All bases
//    of Q_λ have the same total, hence the same T, and at fixed T, H = ln T − Σ P ln P / T is
//    strictly concave in P: a* is the unique best base of Q_θ*, and since Σ P ln P is
//    separable, symmetric and strictly convex in P, that is the most uniform base. Hence
//        max H = max over λ of H(P(λ)),  P(λ) = L + the most uniform base of Q_λ:
//    every P(λ) is feasible, and λ = θ* attains the maximum.
//
// 2. The fill computes that base when the reach sets are laminar. Groups go smallest reach
//    first (so inner sets before the sets containing them); each raises the lowest outcomes of
//    its reach to a common level w ≤ λ until its mass or the room below λ runs out, the rest
//    going to "none". A base is the most uniform one iff no exchange makes it more uniform:
//    whenever ε can move from u to v (staying in the polymatroid), P_v ≥ P_u (Fujishige,
//    "Submodular Functions and Optimization", the lexicographically optimal base). In chunk
//    terms an exchange is a path u → v₁ → … → v: a group that gave to u reaches v₁, a group
//    that gave to v₁ reaches v₂, and so on. One step: say group j gave to u and v ∈ S_j, and
//    let k be the last group that gave to u. k is j or came after it, and S_k meets S_j (at u),
//    so by laminarity and the order S_k ⊇ S_j ∋ v. Right after k every outcome of S_k was at
//    least w_k, later groups only raise outcomes, and none raised u again: finally
//    P_v ≥ w_k = P_u. Chaining steps, P never decreases along a path. A group with mass left
//    over raised all of its reach to λ, so any path from it ends at an outcome already at its
//    cap max(L, λ): nothing can be added, so the fill is a base of Q_λ. (The same two facts
//    show P(λ) is also the most uniform point of Q with its total A(λ), used below: an
//    exchange that reroutes a group's freed mass through a group with mass left over ends at
//    P_v ≥ λ ≥ P_u, since an outcome that received mass is at most λ.)
//
// 3. The search over λ. Let V(A) be the best H over feasible a with total A. V is
//    quasi-concave: H is quasi-concave in P ({H ≥ h} = {T ln T − Σ P ln P ≥ hT} is convex), so
//    the average of maximisers for totals A₁ and A₂ is feasible for the average total and at
//    least as good as the worse of them. By 2, H(P(λ)) = V(A(λ)) with A(λ), the rank of Q_λ,
//    continuous and non-decreasing: H(P(λ)) is unimodal in λ. Between breakpoints the outcomes
//    at level λ rise at rate 1 and nothing else moves (groups that ran out below λ keep their
//    fill), so dH/dλ = (#at level λ / T)·(ln θ − ln λ): H rises exactly while λ < θ(λ). (Where
//    nothing is at level λ, H and θ are constant, and the test still flips at most once.)
//    Bisection on that sign finds the maximum to machine precision.
//
// 4. The certificate. Validity rests on none of 1–3 (nor on laminarity, nor on floating-point
//    luck in the search): for any reference distribution q̂, Gibbs' inequality gives, for every
//    feasible q, H(q) ≤ −Σ q ln q̂ = (Σ w_N P_N)/(Σ P_N) with w = −ln q̂, and the maximum of
//    that ratio over all splits is computed exactly (`gibbs_bound`). At q̂ = q* it equals H*:
//    by 1 a group that kept mass back reaches only outcomes with P ≥ θ*, i.e. w ≤ H*, and a
//    group gives only to its lowest, i.e. best-w, outcomes, at P ≤ θ*, i.e. w ≥ H*; so the ratio
//    at P* (which is H*) cannot be beaten. With q̂ from the bisection the bound is tight to
//    rounding.

/// The maximiser of H(P/ΣP) over the feasible set (exact for laminar reach sets): the level
/// fill P(λ) at the λ where λ = θ(P(λ)), found by bisection (see the comment above).
fn flow_optimum(lower: &[f64], groups: &[Chunk]) -> Fill {
    let mut reachable_lower = f64::INFINITY;
    let mut reachable_upper = 0.0_f64;
    let mut d = vec![0.0; lower.len()];
    for g in groups {
        g.reach.iter().for_each(|&n| d[n] += g.mass);
    }
    for (n, &dn) in d.iter().enumerate() {
        if dn > 0.0 {
            reachable_lower = reachable_lower.min(lower[n]);
            reachable_upper = reachable_upper.max(lower[n] + dn);
        }
    }
    // Below the smallest reachable L nothing is added; above the largest reachable L + D
    // nothing changes any more (every group has run out), so the optimum lies in between.
    let (mut a, mut b) = (reachable_lower.max(0.0), reachable_upper);
    for _ in 0..300 {
        let mid = 0.5 * (a + b);
        if mid <= a || mid >= b {
            break;
        }
        if mid < threshold(&fill_to_level(lower, groups, mid).p) {
            a = mid
        } else {
            b = mid
        }
    }
    let (fa, fb) = (
        fill_to_level(lower, groups, a),
        fill_to_level(lower, groups, b),
    );
    if entropy_nats(&normalized(&fa.p)) >= entropy_nats(&normalized(&fb.p)) {
        fa
    } else {
        fb
    }
}

/// An upper bound on H(q) over every feasible split, valid for any reach sets: Gibbs'
/// inequality against the reference `p_ref` (normalised to q̂) bounds H(q) by the ratio
/// Σ w_N P_N / Σ P_N, w = −ln q̂, whose maximum over the splits is exact here.
fn gibbs_bound(lower: &[f64], groups: &[Chunk], p_ref: &[f64]) -> f64 {
    let q_ref = normalized(p_ref);
    let w: Vec<f64> = q_ref
        .iter()
        .map(|&q| if q > 0.0 { -q.ln() } else { f64::INFINITY })
        .collect();
    let (mut num, mut den) = (0.0, 0.0);
    for (&l, &wn) in lower.iter().zip(&w) {
        if l > 0.0 {
            num += l * wn;
            den += l;
        }
    }
    // The ratio is linear in each group's split, so a group gives everything to its best-w
    // outcome or everything to none. Taking groups by best w, a group raises the ratio iff its
    // w exceeds the current ratio; once one does not, no later one does.
    let mut best: Vec<(f64, f64)> = groups
        .iter()
        .map(|g| {
            (
                g.reach
                    .iter()
                    .map(|&n| w[n])
                    .fold(f64::NEG_INFINITY, f64::max),
                g.mass,
            )
        })
        .collect();
    best.sort_by(|x, y| y.0.total_cmp(&x.0));
    let mut ratio = num / den;
    for (wg, m) in best {
        if wg <= ratio {
            break;
        }
        num += m * wg;
        den += m;
        ratio = num / den;
    }
    ratio
}

/// Whether every two reach sets are nested or disjoint (a prefix tree's always are).
fn is_laminar(groups: &[Chunk], k: usize) -> bool {
    let words = k.div_ceil(64).max(1);
    let sets: Vec<Vec<u64>> = groups
        .iter()
        .map(|g| {
            let mut bits = vec![0u64; words];
            g.reach.iter().for_each(|&n| bits[n / 64] |= 1 << (n % 64));
            bits
        })
        .collect();
    sets.iter().enumerate().all(|(i, a)| {
        sets[i + 1..].iter().all(|b| {
            let meet = a.iter().zip(b).any(|(x, y)| x & y != 0);
            let a_in_b = a.iter().zip(b).all(|(x, y)| x & !y == 0);
            let b_in_a = a.iter().zip(b).all(|(x, y)| y & !x == 0);
            !meet || a_in_b || b_in_a
        })
    })
}

impl Interval {
    fn clamp_high(self, k: usize) -> Interval {
        let cap = (k.max(1) as f64).ln() + SLACK;
        Interval {
            high: self.high.min(cap),
            ..self
        }
    }

    fn with_point_if_empty(self, c0: f64) -> Interval {
        if c0 > 0.0 {
            self
        } else {
            Interval { point: 0.0, ..self }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_intervals_is_the_mean_of_each_end() {
        let iv = |point, low, high| Interval { point, low, high };
        assert_eq!(Interval::mean([]), None);
        assert_eq!(
            Interval::mean([iv(1.0, 0.5, 2.0), iv(3.0, 2.5, 3.0)]),
            Some(iv(2.0, 1.5, 2.5))
        );
    }

    // Synthetic instances: these check the bounds against brute force, not any model.

    /// A tiny deterministic generator, so the test needs no dependency and never flakes.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn random_instance(rng: &mut Lcg, k: usize) -> MassBounds {
        let mut lower: Vec<f64> = (0..k)
            .map(|_| if rng.next() < 0.3 { 0.0 } else { rng.next() })
            .collect();
        let mut chunks: Vec<Chunk> = (0..3)
            .map(|_| Chunk {
                mass: rng.next(),
                reach: (0..k).filter(|_| rng.next() < 0.5).collect(),
            })
            .collect();
        let total: f64 = lower.iter().sum::<f64>()
            + chunks.iter().map(|c| c.mass).sum::<f64>()
            + rng.next() * 0.5;
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
                weights = (0..weights.len())
                    .map(|i| if i == pick { 1.0 } else { 0.0 })
                    .collect();
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
                assert!(
                    hq >= h.low - 1e-12 && hq <= h.high + 1e-12,
                    "H={hq} outside {h:?} for {b:?}"
                );
                assert!(c >= cov.low - 1e-12 && c <= cov.high + 1e-12);
                for (n, s) in shares.iter().enumerate() {
                    assert!(
                        q[n] >= s.low - 1e-12 && q[n] <= s.high + 1e-12,
                        "q[{n}]={} outside {s:?}",
                        q[n]
                    );
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
        let b = MassBounds {
            lower: vec![0.5, 0.1, 0.1],
            chunks: vec![Chunk {
                mass: 0.3,
                reach: vec![1, 2],
            }],
        };
        let h = b.entropy();
        let best = entropy_nats(&normalized(&[0.5, 0.25, 0.25]));
        assert!((h.high - best).abs() < 1e-6, "{h:?} vs {best}");
        // Lower: the unresolved mass may become no outcome at all, which leaves q0 = L/ΣL,
        // less spread than any split that adds mass to outcome 1 or 2.
        let worst = entropy_nats(&normalized(&[0.5, 0.1, 0.1]));
        assert!(
            h.low <= worst + 1e-12 && h.low >= worst - 1e-6,
            "{h:?} vs {worst}"
        );
    }

    #[test]
    fn no_unresolved_mass_gives_exact_figures() {
        let b = MassBounds {
            lower: vec![0.2, 0.6, 0.0],
            chunks: vec![Chunk {
                mass: 0.2,
                reach: vec![],
            }],
        };
        let h = b.entropy();
        assert!((h.high - h.low) < 1e-8);
        assert_eq!(
            b.coverage(),
            Interval {
                point: 0.8,
                low: 0.8,
                high: 0.8
            }
        );
        assert_eq!(b.certain_mode(), Some(1));
        assert!((b.mode_share().point - 0.75).abs() < 1e-12);
    }
    // --- The flow-aware entropy upper bound ---

    /// A random laminar instance, shaped like the caller's: a random prefix tree whose node 0
    /// is the root (no outcome) and whose node i ≥ 1 is outcome i − 1, hanging under a random
    /// earlier node; a chunk at a node reaches the outcomes of its subtree.
    fn random_laminar_instance(rng: &mut Lcg, k: usize) -> MassBounds {
        let parent: Vec<usize> = (0..=k).map(|i| (rng.next() * i as f64) as usize).collect();
        let subtree = |node: usize| -> Vec<usize> {
            (1..=k)
                .filter(|&i| {
                    let mut v = i;
                    while v != node && v != 0 {
                        v = parent[v];
                    }
                    v == node
                })
                .map(|i| i - 1)
                .collect()
        };
        let mut lower: Vec<f64> = (0..k)
            .map(|_| if rng.next() < 0.3 { 0.0 } else { rng.next() })
            .collect();
        let count = 1 + (rng.next() * 6.0) as usize;
        let mut chunks: Vec<Chunk> = (0..count)
            .map(|_| {
                let node = (rng.next() * (k + 1) as f64) as usize;
                // Masses over several orders of magnitude, as in real trees.
                Chunk {
                    mass: rng.next() * 10f64.powf(-2.0 * rng.next()),
                    reach: subtree(node),
                }
            })
            .collect();
        let total: f64 = lower.iter().sum::<f64>()
            + chunks.iter().map(|c| c.mass).sum::<f64>()
            + rng.next() * 0.5;
        lower.iter_mut().for_each(|x| *x /= total);
        chunks.iter_mut().for_each(|c| c.mass /= total);
        MassBounds { lower, chunks }
    }

    /// H(P/ΣP), or −∞ for the empty distribution.
    fn h_of(p: &[f64]) -> f64 {
        if p.iter().sum::<f64>() > 0.0 {
            entropy_nats(&normalized(p))
        } else {
            f64::NEG_INFINITY
        }
    }

    /// Hill-climbing over the exact feasible set, sharing nothing with the level fill: the
    /// state is each chunk's split over its reach and "none" (the last slot); a move carries a
    /// part of one slot to another slot of the same chunk and is kept when H rises.
    fn local_search_max(rng: &mut Lcg, b: &MassBounds, starts: usize, steps: usize) -> f64 {
        let movable: Vec<&Chunk> = b.chunks.iter().filter(|c| !c.reach.is_empty()).collect();
        let mut best = h_of(&b.lower);
        if movable.is_empty() {
            return best;
        }
        let fractions = [1.0, 0.5, 0.1, 1e-2, 1e-3, 1e-4, 1e-6];
        for start in 0..starts {
            let mut x: Vec<Vec<f64>> = movable
                .iter()
                .map(|c| {
                    let slots = c.reach.len() + 1;
                    let mut w: Vec<f64> = (0..slots).map(|_| rng.next()).collect();
                    if start % 2 == 1 {
                        let pick = (rng.next() * slots as f64) as usize;
                        w = (0..slots)
                            .map(|i| if i == pick { 1.0 } else { 0.0 })
                            .collect();
                    }
                    let total: f64 = w.iter().sum();
                    w.iter().map(|v| c.mass * v / total).collect()
                })
                .collect();
            let mut p = b.lower.clone();
            for (c, xc) in movable.iter().zip(&x) {
                c.reach.iter().zip(xc).for_each(|(&n, v)| p[n] += v);
            }
            let mut h = h_of(&p);
            for _ in 0..steps {
                let j = (rng.next() * movable.len() as f64) as usize;
                let reach = &movable[j].reach;
                let slots = reach.len() + 1;
                let from = (rng.next() * slots as f64) as usize;
                let to = (from + 1 + (rng.next() * (slots - 1) as f64) as usize) % slots;
                let fraction = if rng.next() < 0.5 {
                    fractions[(rng.next() * fractions.len() as f64) as usize]
                } else {
                    rng.next()
                };
                let amount = x[j][from] * fraction;
                if amount <= 0.0 || from == to {
                    continue;
                }
                let mut trial = p.clone();
                if from < reach.len() {
                    trial[reach[from]] -= amount;
                }
                if to < reach.len() {
                    trial[reach[to]] += amount;
                }
                let ht = h_of(&trial);
                if ht > h {
                    h = ht;
                    p = trial;
                    x[j][from] -= amount;
                    x[j][to] += amount;
                }
            }
            best = best.max(h);
        }
        best
    }

    /// The witness is a feasible split: each group gives non-negative amounts within its own
    /// reach summing to at most its mass, and P = L + what the groups give.
    fn assert_feasible(b: &MassBounds, w: &Fill) {
        let groups = b.reach_groups();
        assert_eq!(w.split.len(), groups.len());
        let mut p = b.lower.clone();
        for (g, given) in groups.iter().zip(&w.split) {
            assert_eq!(given.len(), g.reach.len());
            assert!(given.iter().all(|&v| v >= 0.0));
            assert!(
                given.iter().sum::<f64>() <= g.mass * (1.0 + 1e-12),
                "{g:?} gives {given:?}"
            );
            g.reach.iter().zip(given).for_each(|(&n, v)| p[n] += v);
        }
        for (a, b) in p.iter().zip(&w.p) {
            assert!((a - b).abs() <= 1e-15, "{p:?} vs {:?}", w.p);
        }
    }

    /// The first-order (KKT) conditions at the witness, checked per group (merging chunks of
    /// equal reach changes no condition): no group can move mass from where it put some (an outcome, or none) to anywhere else in
    /// its reach ∪ {none} and raise H. H(P/ΣP) is pseudo-concave in the split (concave
    /// T ln T − Σ P ln P over the linear T), so a point meeting them is a global maximum.
    /// Returns the largest directional derivative found (≤ tolerance when optimal).
    fn kkt_violation(b: &MassBounds, w: &Fill) -> f64 {
        let t: f64 = w.p.iter().sum();
        let theta = threshold(&w.p);
        // ∂H/∂P_N = (ln θ − ln P_N)/T; "none" has derivative 0.
        let grad = |n: usize| {
            if w.p[n] > 0.0 {
                (theta.ln() - w.p[n].ln()) / t
            } else {
                f64::INFINITY
            }
        };
        let groups = b.reach_groups();
        let mut worst = f64::NEG_INFINITY;
        for (g, given) in groups.iter().zip(&w.split) {
            let best_in_reach = g
                .reach
                .iter()
                .map(|&n| grad(n))
                .fold(f64::NEG_INFINITY, f64::max);
            let best_target = best_in_reach.max(0.0);
            let kept = g.mass - given.iter().sum::<f64>();
            if kept > 1e-12 * g.mass {
                worst = worst.max(best_target);
            }
            for (&n, &v) in g.reach.iter().zip(given) {
                if v > 1e-12 * g.mass {
                    worst = worst.max(best_target - grad(n));
                }
            }
        }
        worst
    }

    #[test]
    fn flow_bound_is_the_maximum_on_random_laminar_instances() {
        let mut rng = Lcg(7);
        let (mut worst_gap, mut worst_excess, mut worst_search_shortfall) =
            (0.0_f64, f64::NEG_INFINITY, 0.0_f64);
        for _ in 0..300 {
            let k = 2 + (rng.next() * 8.0) as usize;
            let b = random_laminar_instance(&mut rng, k);
            assert!(is_laminar(&b.reach_groups(), k));
            let (bound, witness) = b.max_entropy_with_witness();
            let Some(witness) = witness else { continue };
            assert_feasible(&b, &witness);
            // Tight: the feasible witness attains the certified bound.
            let gap = bound - h_of(&witness.p);
            worst_gap = worst_gap.max(gap);
            assert!(gap <= 1e-9, "gap {gap} for {b:?}");
            assert!(kkt_violation(&b, &witness) <= 1e-9, "{b:?} {witness:?}");
            // Guaranteed: an independent optimiser never beats it.
            let searched = local_search_max(&mut rng, &b, 6, 3000);
            worst_excess = worst_excess.max(searched - bound);
            assert!(
                searched <= bound + 1e-9,
                "local search {searched} > bound {bound} for {b:?}"
            );
            worst_search_shortfall = worst_search_shortfall.max(bound - searched);
            // The flow-aware bound is never looser than the relaxed one.
            let relaxed = h_of(&b.relaxed_max_point());
            assert!(bound <= relaxed + 1e-9, "{bound} > relaxed {relaxed}");
            assert!(b.entropy().high >= bound);
        }
        // The search is strong enough to mean something: it gets close to the bound.
        assert!(
            worst_search_shortfall < 1e-3,
            "local search fell {worst_search_shortfall} short"
        );
        eprintln!(
            "gap ≤ {worst_gap:e}, search excess ≤ {worst_excess:e}, shortfall ≤ {worst_search_shortfall:e}"
        );
    }

    #[test]
    fn flow_bound_stays_valid_on_non_laminar_reach_sets() {
        let mut rng = Lcg(11);
        let mut seen_non_laminar = 0;
        for _ in 0..200 {
            let k = 2 + (rng.next() * 6.0) as usize;
            let b = random_instance(&mut rng, k);
            seen_non_laminar += usize::from(!is_laminar(&b.reach_groups(), k));
            let (bound, witness) = b.max_entropy_with_witness();
            if let Some(w) = &witness {
                assert_feasible(&b, w);
                assert!(h_of(&w.p) <= bound + 1e-12);
            }
            let searched = local_search_max(&mut rng, &b, 4, 3000);
            assert!(
                searched <= bound + 1e-9,
                "local search {searched} > bound {bound} for {b:?}"
            );
        }
        assert!(seen_non_laminar > 50);
    }

    #[test]
    fn flow_bound_hand_computed_examples() {
        // L = (0.4, 0.1, 0.1); 0.2 can only become outcome 0, 0.1 can become 1 or 2.
        // Outcome 0 is above θ = T·e^{−H} whatever happens (≈ 0.26 at the optimum), so its chunk
        // goes to none; the other fills outcomes 1 and 2 to 0.15 each: P = (0.4, 0.15, 0.15),
        // H = −(4/7) ln(4/7) − (3/7) ln(3/14) ≈ 0.97997. The relaxation instead spent the
        // budget M = 0.3 on outcomes 1 and 2 up to their caps 0.2: H(0.5, 0.25, 0.25) = 1.5 ln 2.
        let b = MassBounds {
            lower: vec![0.4, 0.1, 0.1],
            chunks: vec![
                Chunk {
                    mass: 0.2,
                    reach: vec![0],
                },
                Chunk {
                    mass: 0.1,
                    reach: vec![1, 2],
                },
            ],
        };
        let exact = -(4.0 / 7.0) * (4.0_f64 / 7.0).ln() - (3.0 / 7.0) * (3.0_f64 / 14.0).ln();
        assert!((exact - 0.979_971).abs() < 1e-6);
        assert!(
            (b.entropy().high - exact).abs() < 1e-8,
            "{:?} vs {exact}",
            b.entropy()
        );
        assert!((h_of(&b.relaxed_max_point()) - 1.5 * std::f64::consts::LN_2).abs() < 1e-8);

        // Nesting: L = (0.3, 0, 0); 0.3 may become 1 or 2, 0.1 only 1, 0.5 only 0 (listed
        // outer first, to show the order is the fill's, not the input's). Inner first: 0.1
        // takes outcome 1 to 0.1, then 0.3 lifts outcome 2 to 0.1 and both to 0.2. Outcome 0's
        // chunk goes to none (θ = exp((3/7) ln 0.3 + (4/7) ln 0.2) ≈ 0.238 < 0.3).
        // H(3/7, 2/7, 2/7) ≈ 1.07899; filling outer first would give P = (0.3, 0.25, 0.15).
        // The relaxation reaches the uniform (0.3, 0.3, 0.3): ln 3.
        let b = MassBounds {
            lower: vec![0.3, 0.0, 0.0],
            chunks: vec![
                Chunk {
                    mass: 0.3,
                    reach: vec![1, 2],
                },
                Chunk {
                    mass: 0.1,
                    reach: vec![1],
                },
                Chunk {
                    mass: 0.5,
                    reach: vec![0],
                },
            ],
        };
        let exact = -(3.0 / 7.0) * (3.0_f64 / 7.0).ln() - (4.0 / 7.0) * (2.0_f64 / 7.0).ln();
        assert!((exact - 1.078_992).abs() < 1e-6);
        let (bound, witness) = b.max_entropy_with_witness();
        let p = witness.expect("a witness").p;
        assert!(
            p.iter()
                .zip([0.3, 0.2, 0.2])
                .all(|(a, b)| (a - b).abs() < 1e-12),
            "{p:?}"
        );
        assert!((bound - exact).abs() < 1e-12, "{bound} vs {exact}");
        assert!((h_of(&b.relaxed_max_point()) - 3.0_f64.ln()).abs() < 1e-8);
        let mut rng = Lcg(3);
        assert!(local_search_max(&mut rng, &b, 4, 5000) <= bound + 1e-12);
    }

    #[test]
    fn flow_bound_edge_cases() {
        // Nothing resolved: every small multiple of the uniform split over the reachable
        // outcomes is feasible, so the bound is ln(#reachable) = ln 2.
        let b = MassBounds {
            lower: vec![0.0, 0.0, 0.0],
            chunks: vec![Chunk {
                mass: 0.5,
                reach: vec![0, 2],
            }],
        };
        assert!((b.max_entropy() - 2.0_f64.ln()).abs() < 1e-15);
        // A chunk that reaches only the largest outcome adds nothing to the bound.
        let b = MassBounds {
            lower: vec![0.5, 0.25, 0.25],
            chunks: vec![Chunk {
                mass: 0.9,
                reach: vec![0],
            }],
        };
        assert!((b.max_entropy() - h_of(&b.lower)).abs() < 1e-12);
        // Repeated and duplicate reach sets merge into one group; 0.5 could lift outcome 1 to
        // 0.6, but stopping at 0.5 (the rest to none) gives the uniform ln 2.
        let b = MassBounds {
            lower: vec![0.5, 0.1],
            chunks: vec![
                Chunk {
                    mass: 0.2,
                    reach: vec![1, 1],
                },
                Chunk {
                    mass: 0.3,
                    reach: vec![1],
                },
            ],
        };
        assert_eq!(
            b.reach_groups(),
            vec![Chunk {
                mass: 0.2 + 0.3,
                reach: vec![1]
            }]
        );
        assert!((b.max_entropy() - std::f64::consts::LN_2).abs() < 1e-12);
        // Laminarity check.
        let c = |reach: Vec<usize>| Chunk { mass: 1.0, reach };
        assert!(is_laminar(
            &[c(vec![0]), c(vec![2, 3]), c(vec![0, 1, 2, 3])],
            4
        ));
        assert!(!is_laminar(&[c(vec![0, 1]), c(vec![1, 2])], 3));
        assert!(!is_laminar(&[c(vec![0, 70]), c(vec![70, 100])], 101));
    }

    /// A real measurement from the recordings (`specs/footnote1-bash.yaml` and
    /// `specs/footnote1-qa-random-integer.yaml`, local models): 101 outcomes, 103 chunks from
    /// the prefix tree.
    fn fixture(json: &str) -> MassBounds {
        let v: serde_json::Value = serde_json::from_str(json).expect("fixture json");
        let floats = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect()
        };
        let chunks = v["chunks"]
            .as_array()
            .expect("chunks")
            .iter()
            .map(|c| Chunk {
                mass: c["mass"].as_f64().expect("mass"),
                reach: floats(&c["reach"])
                    .into_iter()
                    .map(|n| n as usize)
                    .collect(),
            })
            .collect();
        MassBounds {
            lower: floats(&v["lower"]),
            chunks,
        }
    }

    #[test]
    fn flow_bound_on_real_measurements() {
        // (fixture, entropy_high with the relaxed bound, entropy_high now)
        let cases = [
            (
                include_str!("../../tests/fixtures/mass_bounds/bash-gemma-3-270m.json"),
                2.875_913_790,
                2.786_362_066,
            ),
            (
                include_str!("../../tests/fixtures/mass_bounds/bash-smollm2-135m-instruct.json"),
                3.236_836_570,
                3.192_378_328,
            ),
            // The unresolved mass is ~13% of the resolved here, much of it in chunks that reach
            // a single outcome.
            (
                include_str!(
                    "../../tests/fixtures/mass_bounds/qa-random-integer-gemma-3-270m.json"
                ),
                2.322_541_149,
                2.154_084_488,
            ),
        ];
        for (json, relaxed_high, flow_high) in cases {
            let b = fixture(json);
            assert!(is_laminar(&b.reach_groups(), b.lower.len()));
            let relaxed = h_of(&b.relaxed_max_point());
            assert!(
                (relaxed + SLACK - relaxed_high).abs() < 1e-8,
                "relaxed {relaxed}"
            );
            let h = b.entropy();
            assert!((h.high - flow_high).abs() < 1e-8, "{h:?}");
            let (bound, witness) = b.max_entropy_with_witness();
            let witness = witness.expect("a witness");
            assert_feasible(&b, &witness);
            assert!(
                bound - h_of(&witness.p) <= 1e-10,
                "gap {}",
                bound - h_of(&witness.p)
            );
            assert!(kkt_violation(&b, &witness) <= 1e-9);
        }
    }
}
