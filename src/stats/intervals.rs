//! Confidence intervals for entropy estimates from sampled counts, and for binomial proportions.
//!
//! What: a multinomial bootstrap over a count vector (percentile and BCa intervals, with an
//! O(k) jackknife for the BCa acceleration), a delta-method interval for the plug-in entropy as
//! a cross-check, and Wilson and Clopper–Pearson intervals for a proportion x / n.
//!
//! Why: sampled figures (entropy of observed completions, the share of one outcome) carry
//! sampling error; these turn a point estimate into an interval a verdict can use.
//!
//! Conventions:
//! * Entropy in nats (natural logarithms).
//! * `level` is the two-sided confidence level in (0, 1), e.g. 0.95; each tail gets
//!   (1 − level) / 2.
//! * A count vector `counts` stands for N = Σ counts observations: category i repeated
//!   `counts[i]` times. A statistic maps a count vector (always of the same length k) to a
//!   figure.
//! * Quantiles of replicates use numpy's default definition (`method='linear'`, Hyndman & Fan
//!   type 7): for sorted values x₀ ≤ … ≤ x_{B−1} and probability q, h = (B − 1)q and the
//!   quantile is x_⌊h⌋ + (h − ⌊h⌋)(x_{⌊h⌋+1} − x_⌊h⌋), so `np.quantile(x, q)` (equivalently
//!   `np.percentile(x, 100q)`) reproduces it.
//! * All randomness comes from [`Rng::seeded`], so a (counts, statistic, b, seed) quadruple
//!   always gives the same replicates.

use super::rng::Rng;
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF, Normal};

/// Default number of bootstrap resamples.
pub const DEFAULT_BOOTSTRAP_RESAMPLES: usize = 2000;

/// Above this many observations the resampler looks categories up by binary search over the
/// cumulative counts instead of a table with one entry per observation (memory stays O(k)). Both
/// lookups map observation j to the same category, so the replicates do not depend on which is
/// used.
const MAX_OBSERVATION_TABLE: u64 = 1 << 22;

/// Why an interval could not be formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntervalError {
    /// The count vector sums to zero.
    #[error("failed to resample: the counts hold no observations")]
    NoObservations,
    /// The counts sum past `u64::MAX`.
    #[error("failed to resample: the total count overflows u64")]
    TooManyObservations,
    /// `b = 0` resamples were asked for.
    #[error("failed to bootstrap: the number of resamples must be at least 1")]
    NoResamples,
    /// An interval was asked of an empty replicate vector.
    #[error("failed to form an interval: no replicates")]
    NoReplicates,
    /// A replicate, estimate or jackknife value is NaN or infinite.
    #[error("failed to form an interval: {0} is not finite")]
    NotFinite(&'static str),
    /// The confidence level is not strictly between 0 and 1.
    #[error("failed to form an interval: confidence level {0} is outside (0, 1)")]
    Level(f64),
    /// A proportion over zero trials.
    #[error("failed to bound a proportion: n = 0 trials")]
    NoTrials,
    /// More successes than trials.
    #[error("failed to bound a proportion: x = {x} successes exceed n = {n} trials")]
    TooManySuccesses {
        /// Successes.
        x: u64,
        /// Trials.
        n: u64,
    },
    /// statrs rejected a distribution's parameters (not expected for valid x, n).
    #[error("failed to build the {0} distribution")]
    Distribution(&'static str),
}

/// A bootstrap interval with the inputs that fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapInterval {
    /// The statistic of the observed counts.
    pub estimate: f64,
    /// Percentile interval (low, high).
    pub percentile: (f64, f64),
    /// Bias-corrected and accelerated interval (low, high).
    pub bca: (f64, f64),
    /// Number of resamples.
    pub b: usize,
    /// Seed of the resampling stream.
    pub seed: u64,
    /// Two-sided confidence level.
    pub level: f64,
}

/// A normal-approximation interval: estimate ± z · standard error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NormalInterval {
    /// The point estimate.
    pub estimate: f64,
    /// Its estimated standard error.
    pub std_error: f64,
    /// (estimate − z·se, estimate + z·se); not clamped.
    pub interval: (f64, f64),
}

fn check_level(level: f64) -> Result<(), IntervalError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(IntervalError::Level(level))
    }
}

fn total(counts: &[u64]) -> Result<u64, IntervalError> {
    counts
        .iter()
        .try_fold(0u64, |acc, &c| acc.checked_add(c))
        .ok_or(IntervalError::TooManyObservations)
}

fn std_normal() -> Normal {
    Normal::standard()
}

/// Standard normal CDF Φ(z) to ~1e-15 absolute.
///
/// Why not statrs' `Normal::cdf`: in statrs 0.19 it is off by up to ~5e-11 (measured at
/// z = ±1.96 against scipy's `ndtr`; its `erfc` is the culprit, see statrs-dev/statrs#412), and BCa feeds Φ straight into a quantile level, where B·Δα moves the
/// endpoint. Φ(z) = ½(1 + erf(z/√2)) with erf from the all-positive series (Abramowitz & Stegun
/// 7.1.6) erf x = (2/√π) e^{−x²} Σ_{n≥0} 2ⁿ x^{2n+1} / (1·3·…·(2n+1)), which has no
/// cancellation; beyond |z| ≈ 9.2 (x > 6.5) Φ is within 1e-19 of 0 or 1.
fn std_normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = z.abs() / std::f64::consts::SQRT_2;
    if x > 6.5 {
        return if z > 0.0 { 1.0 } else { 0.0 };
    }
    let two_x2 = 2.0 * x * x;
    let (mut term, mut sum) = (x, x);
    let mut n = 0u32;
    loop {
        n += 1;
        term *= two_x2 / f64::from(2 * n + 1);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    let erf = (std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp() * sum).min(1.0);
    if z >= 0.0 {
        0.5 + 0.5 * erf
    } else {
        0.5 - 0.5 * erf
    }
}

/// `b` multinomial bootstrap replicates of `statistic`: each draws N = Σ counts observations
/// with replacement (observation index `rng.below(N)`, mapped to its category), counts them into
/// a vector of the same length as `counts`, and applies `statistic`. `b = 0` gives an empty
/// vector.
///
/// One scratch count vector is reused across replicates; observation → category goes through
/// a table of N category indices (O(1) per draw) or, for very large N, a binary search over the
/// cumulative counts. Fails when there are no observations or their total overflows.
pub fn bootstrap_replicates(
    counts: &[u64],
    statistic: &dyn Fn(&[u64]) -> f64,
    b: usize,
    seed: u64,
) -> Result<Vec<f64>, IntervalError> {
    replicates_with_table_limit(counts, statistic, b, seed, MAX_OBSERVATION_TABLE)
}

/// [`bootstrap_replicates`] with the table/binary-search threshold as a parameter, so tests can
/// drive both lookups on small inputs.
fn replicates_with_table_limit(
    counts: &[u64],
    statistic: &dyn Fn(&[u64]) -> f64,
    b: usize,
    seed: u64,
    table_limit: u64,
) -> Result<Vec<f64>, IntervalError> {
    let n = total(counts)?;
    if n == 0 {
        return Err(IntervalError::NoObservations);
    }
    let mut rng = Rng::seeded(seed);
    let mut scratch = vec![0u64; counts.len()];
    let mut out = Vec::with_capacity(b);

    if n <= table_limit && u32::try_from(counts.len()).is_ok() {
        // Observation j belongs to the category whose cumulative range holds j.
        let mut table = Vec::with_capacity(n as usize);
        for (i, &c) in counts.iter().enumerate() {
            table.extend(std::iter::repeat_n(i as u32, c as usize));
        }
        for _ in 0..b {
            scratch.fill(0);
            for _ in 0..n {
                let j = rng.below(n) as usize;
                scratch[table[j] as usize] += 1;
            }
            out.push(statistic(&scratch));
        }
    } else {
        // ends[i] = counts[0] + … + counts[i]; observation j is in the first category with
        // ends[i] > j.
        let ends: Vec<u64> = counts
            .iter()
            .scan(0u64, |acc, &c| {
                *acc += c;
                Some(*acc)
            })
            .collect();
        for _ in 0..b {
            scratch.fill(0);
            for _ in 0..n {
                let j = rng.below(n);
                let i = ends.partition_point(|&e| e <= j);
                scratch[i] += 1;
            }
            out.push(statistic(&scratch));
        }
    }
    Ok(out)
}

/// Leave-one-out values of `statistic` over the N observations, grouped: leaving out any one
/// observation of category i gives the same count vector (`counts[i] − 1`), so the jackknife
/// needs one call per non-empty category. Returns `(value, multiplicity = counts[i])` for each
/// non-empty category, in category order; empty when there are no observations.
pub fn jackknife_counts(counts: &[u64], statistic: &dyn Fn(&[u64]) -> f64) -> Vec<(f64, u64)> {
    let mut scratch = counts.to_vec();
    let mut out = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        scratch[i] = c - 1;
        out.push((statistic(&scratch), c));
        scratch[i] = c;
    }
    out
}

/// The jackknife variance from grouped leave-one-out values `(θ_(i), m_i)` (as
/// [`jackknife_counts`] gives them): (n − 1)/n · Σ m (θ_(i) − θ̄)², n = Σ m (Efron & Tibshirani
/// 1993, eq. 11.5). Why it is the variance of the ordering test: by the Efron–Stein inequality
/// (Efron & Stein 1981) its expectation is at least the variance of the statistic on n − 1
/// observations, for any symmetric statistic of i.i.d. data, so a test built on it errs on the
/// conservative side; the bootstrap's variance has no such guarantee, and for entropy it falls
/// short where outcomes go unseen. 0 when there are fewer than two observations.
pub fn jackknife_variance(jackknife: &[(f64, u64)]) -> f64 {
    let n: f64 = jackknife.iter().map(|&(_, m)| m as f64).sum();
    if n < 2.0 {
        return 0.0;
    }
    let mean = jackknife.iter().map(|&(v, m)| m as f64 * v).sum::<f64>() / n;
    (n - 1.0) / n
        * jackknife
            .iter()
            .map(|&(v, m)| m as f64 * (v - mean).powi(2))
            .sum::<f64>()
}

/// The BCa acceleration from grouped jackknife values `(θ_(i), m_i)`, each standing for `m_i`
/// identical leave-one-out values (Efron & Tibshirani 1993, eq. 14.15, with weights):
/// θ̄ = Σ mθ / Σ m, a = Σ m(θ̄ − θ)³ / (6 [Σ m(θ̄ − θ)²]^{3/2}).
///
/// Returns 0 when a is undefined (no values, or all equal). |a| ≤ 1/6 always (Σ|d|³ ≤
/// (Σd²)^{3/2}), so the BCa adjustment stays finite.
pub fn acceleration(jackknife: &[(f64, u64)]) -> f64 {
    let weight: f64 = jackknife.iter().map(|&(_, m)| m as f64).sum();
    if weight == 0.0 {
        return 0.0;
    }
    let mean = jackknife.iter().map(|&(v, m)| m as f64 * v).sum::<f64>() / weight;
    let (mut s2, mut s3) = (0.0, 0.0);
    for &(v, m) in jackknife {
        let d = mean - v;
        s2 += m as f64 * d * d;
        s3 += m as f64 * d * d * d;
    }
    let a = s3 / (6.0 * s2.powf(1.5));
    if s2 > 0.0 && a.is_finite() { a } else { 0.0 }
}

/// The numpy-'linear' quantile of already sorted, non-empty values (see the module guide).
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let h = last as f64 * q;
    let lo = (h.floor().max(0.0) as usize).min(last);
    let hi = (lo + 1).min(last);
    let t = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    // numpy's _lerp: interpolate from the nearer end, which keeps the result monotone in t and
    // exact at t = 1.
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

fn sorted_finite(replicates: &[f64]) -> Result<Vec<f64>, IntervalError> {
    if replicates.is_empty() {
        return Err(IntervalError::NoReplicates);
    }
    if !replicates.iter().all(|x| x.is_finite()) {
        return Err(IntervalError::NotFinite("a replicate"));
    }
    let mut sorted = replicates.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted)
}

/// Percentile interval: the (1 − level)/2 and (1 + level)/2 quantiles of the replicates
/// (numpy 'linear' quantiles, so `np.percentile(replicates, [2.5, 97.5])` at level 0.95).
pub fn percentile_interval(replicates: &[f64], level: f64) -> Result<(f64, f64), IntervalError> {
    check_level(level)?;
    let sorted = sorted_finite(replicates)?;
    let tail = (1.0 - level) / 2.0;
    Ok((
        quantile_sorted(&sorted, tail),
        quantile_sorted(&sorted, 1.0 - tail),
    ))
}

/// The bias correction z0 = Φ⁻¹(share of replicates below θ̂), ties counted as half (so
/// replicates all equal to θ̂ give z0 = 0 rather than −∞). ±∞ when θ̂ is outside every
/// replicate.
pub fn bias_correction(theta_hat: f64, replicates: &[f64]) -> f64 {
    let (mut below, mut tied) = (0usize, 0usize);
    for &r in replicates {
        if r < theta_hat {
            below += 1;
        } else if r == theta_hat {
            tied += 1;
        }
    }
    let share = (below as f64 + 0.5 * tied as f64) / replicates.len() as f64;
    if share <= 0.0 {
        f64::NEG_INFINITY
    } else if share >= 1.0 {
        f64::INFINITY
    } else {
        std_normal().inverse_cdf(share)
    }
}

/// The BCa-adjusted probability Φ(z0 + (z0 + zα) / (1 − a(z0 + zα))), taking limits where the
/// formula has none: z0 = ±∞ gives 0 or 1 (the limit for any finite a), and a denominator ≤ 0
/// (possible only for |z0 + zα| ≥ 6) gives the value at the pole, 1 for w > 0 and 0 for w < 0,
/// which keeps the map monotone in zα.
fn adjusted_level(z0: f64, z_alpha: f64, a: f64) -> f64 {
    if z0.is_infinite() {
        return if z0 > 0.0 { 1.0 } else { 0.0 };
    }
    let w = z0 + z_alpha;
    let den = 1.0 - a * w;
    if den <= 0.0 {
        return if w > 0.0 { 1.0 } else { 0.0 };
    }
    std_normal_cdf(z0 + w / den)
}

/// Efron's BCa interval (Efron 1987; Efron & Tibshirani 1993 §14.3): the replicate quantiles at
/// α1 = Φ(z0 + (z0 + z_lo)/(1 − a(z0 + z_lo))) and α2 likewise with z_hi, where z_lo, z_hi =
/// Φ⁻¹((1 ∓ level)/2), z0 from [`bias_correction`] (ties half) and a from [`acceleration`]
/// over the grouped jackknife values (use multiplicity 1 for an ordinary jackknife).
///
/// Degenerate cases give a point, never NaN: replicates all equal to θ̂ give z0 = 0 and that
/// value; θ̂ outside every replicate gives the nearest extreme replicate; an undefined
/// acceleration counts as 0.
pub fn bca_interval(
    theta_hat: f64,
    replicates: &[f64],
    jackknife: &[(f64, u64)],
    level: f64,
) -> Result<(f64, f64), IntervalError> {
    check_level(level)?;
    if !theta_hat.is_finite() {
        return Err(IntervalError::NotFinite("the estimate"));
    }
    if !jackknife.iter().all(|(v, _)| v.is_finite()) {
        return Err(IntervalError::NotFinite("a jackknife value"));
    }
    bca_interval_with_acceleration(theta_hat, replicates, acceleration(jackknife), level)
}

/// [`bca_interval`] with the acceleration given (e.g. the several-sample form of
/// `stats::two_sample`).
pub fn bca_interval_with_acceleration(
    theta_hat: f64,
    replicates: &[f64],
    a: f64,
    level: f64,
) -> Result<(f64, f64), IntervalError> {
    check_level(level)?;
    if !theta_hat.is_finite() {
        return Err(IntervalError::NotFinite("the estimate"));
    }
    let sorted = sorted_finite(replicates)?;
    let z0 = bias_correction(theta_hat, &sorted);
    let normal = std_normal();
    let tail = (1.0 - level) / 2.0;
    let alpha1 = adjusted_level(z0, normal.inverse_cdf(tail), a);
    let alpha2 = adjusted_level(z0, normal.inverse_cdf(1.0 - tail), a);
    Ok((
        quantile_sorted(&sorted, alpha1),
        quantile_sorted(&sorted, alpha2),
    ))
}

/// Bootstrap the statistic of `counts`: `b` replicates from `seed`, then the percentile and BCa
/// intervals at `level` (BCa acceleration from [`jackknife_counts`]). Use
/// [`DEFAULT_BOOTSTRAP_RESAMPLES`] for `b` unless there is a reason not to.
pub fn bootstrap_interval(
    counts: &[u64],
    statistic: &dyn Fn(&[u64]) -> f64,
    b: usize,
    seed: u64,
    level: f64,
) -> Result<BootstrapInterval, IntervalError> {
    check_level(level)?;
    if b == 0 {
        return Err(IntervalError::NoResamples);
    }
    let replicates = bootstrap_replicates(counts, statistic, b, seed)?;
    let estimate = statistic(counts);
    let jackknife = jackknife_counts(counts, statistic);
    Ok(BootstrapInterval {
        estimate,
        percentile: percentile_interval(&replicates, level)?,
        bca: bca_interval(estimate, &replicates, &jackknife, level)?,
        b,
        seed,
        level,
    })
}

/// Delta-method interval for the plug-in entropy H = −Σ p ln p, p = counts / N:
/// H ± z·sqrt((Σ p (ln p)² − H²) / N), z = Φ⁻¹((1 + level)/2) (Basharin 1959). A cross-check
/// for the bootstrap; it ignores the plug-in's downward bias and is not clamped at 0.
///
/// The variance is computed in the equivalent centred form Σ p (ln p + H)², which avoids the
/// cancellation of the textbook form near the uniform distribution (where it is ≈ 0).
pub fn delta_method_plug_in(counts: &[u64], level: f64) -> Result<NormalInterval, IntervalError> {
    check_level(level)?;
    let n = total(counts)?;
    if n == 0 {
        return Err(IntervalError::NoObservations);
    }
    let n = n as f64;
    let h = plug_in_entropy(counts);
    let variance: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            let d = p.ln() + h;
            p * d * d
        })
        .sum();
    let std_error = (variance / n).sqrt();
    let z = std_normal().inverse_cdf(0.5 + level / 2.0);
    Ok(NormalInterval {
        estimate: h,
        std_error,
        interval: (h - z * std_error, h + z * std_error),
    })
}

/// Plug-in (maximum-likelihood) entropy of counts, nats; 0 for no observations.
fn plug_in_entropy(counts: &[u64]) -> f64 {
    let n: f64 = counts.iter().map(|&c| c as f64).sum();
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

fn check_proportion(x: u64, n: u64, level: f64) -> Result<(), IntervalError> {
    check_level(level)?;
    if n == 0 {
        return Err(IntervalError::NoTrials);
    }
    if x > n {
        return Err(IntervalError::TooManySuccesses { x, n });
    }
    Ok(())
}

/// Wilson score interval for x successes in n trials (no continuity correction), as
/// `scipy.stats.binomtest(x, n).proportion_ci(level, method='wilson')`: centre
/// (2np̂ + z²)/(2(n + z²)) ± z·sqrt(4np̂q̂ + z²)/(2(n + z²)), with the exact ends 0 at x = 0 and 1
/// at x = n.
pub fn wilson(x: u64, n: u64, level: f64) -> Result<(f64, f64), IntervalError> {
    check_proportion(x, n, level)?;
    let z = std_normal().inverse_cdf(0.5 + level / 2.0);
    let (xf, nf) = (x as f64, n as f64);
    let p = xf / nf;
    let q = (n - x) as f64 / nf;
    let z2 = z * z;
    let denom = 2.0 * (nf + z2);
    let center = (2.0 * xf + z2) / denom;
    let delta = z / denom * (4.0 * nf * p * q + z2).sqrt();
    let lo = if x == 0 {
        0.0
    } else {
        (center - delta).max(0.0)
    };
    let hi = if x == n {
        1.0
    } else {
        (center + delta).min(1.0)
    };
    Ok((lo, hi))
}

/// Clopper–Pearson ("exact") interval: lower = Beta(x, n − x + 1) quantile at (1 − level)/2,
/// upper = Beta(x + 1, n − x) quantile at (1 + level)/2 (statrs inverse CDF), with the exact
/// ends 0 at x = 0 and 1 at x = n. Matches `scipy.stats.binomtest(x, n)
/// .proportion_ci(level, method='exact')`.
pub fn clopper_pearson(x: u64, n: u64, level: f64) -> Result<(f64, f64), IntervalError> {
    check_proportion(x, n, level)?;
    let tail = (1.0 - level) / 2.0;
    let (xf, nf) = (x as f64, n as f64);
    let lo = if x == 0 {
        0.0
    } else {
        Beta::new(xf, nf - xf + 1.0)
            .map_err(|_| IntervalError::Distribution("beta"))?
            .inverse_cdf(tail)
    };
    let hi = if x == n {
        1.0
    } else {
        Beta::new(xf + 1.0, nf - xf)
            .map_err(|_| IntervalError::Distribution("beta"))?
            .inverse_cdf(1.0 - tail)
    };
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Rng;
    use proptest::prelude::*;
    use serde_json::Value;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/intervals.json");
    /// Absolute tolerance against the reference (every fixture value is O(1)).
    const TOL: f64 = 1e-9;

    fn fixture() -> Value {
        serde_json::from_str(FIXTURE).expect("fixture parses")
    }

    fn f(v: &Value) -> f64 {
        v.as_f64().expect("a number")
    }

    fn pair(v: &Value) -> (f64, f64) {
        (f(&v[0]), f(&v[1]))
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().expect("an array").iter().map(f).collect()
    }

    fn u64s(v: &Value) -> Vec<u64> {
        let a = v.as_array().expect("an array");
        a.iter().map(|x| x.as_u64().expect("a count")).collect()
    }

    fn jack(v: &Value) -> Vec<(f64, u64)> {
        let a = v.as_array().expect("an array");
        a.iter()
            .map(|e| (f(&e[0]), e[1].as_u64().expect("a multiplicity")))
            .collect()
    }

    /// Records the largest error seen and fails beyond TOL.
    fn close(max_err: &mut f64, got: f64, want: f64, what: &str) {
        let err = (got - want).abs();
        *max_err = max_err.max(err);
        assert!(err <= TOL, "{what}: got {got}, want {want} (error {err:e})");
    }

    #[test]
    fn binomial_matches_scipy() {
        let doc = fixture();
        let mut max_err = 0.0f64;
        for case in doc["binomial"]["cases"].as_array().unwrap() {
            let x = case["x"].as_u64().unwrap();
            let n = case["n"].as_u64().unwrap();
            let level = f(&case["level"]);
            let what = format!("x={x} n={n} level={level}");
            let (lo, hi) = wilson(x, n, level).unwrap();
            let (wl, wh) = pair(&case["wilson"]);
            close(&mut max_err, lo, wl, &format!("wilson low {what}"));
            close(&mut max_err, hi, wh, &format!("wilson high {what}"));
            let (lo, hi) = clopper_pearson(x, n, level).unwrap();
            let (cl, ch) = pair(&case["clopper_pearson"]);
            close(&mut max_err, lo, cl, &format!("clopper-pearson low {what}"));
            close(
                &mut max_err,
                hi,
                ch,
                &format!("clopper-pearson high {what}"),
            );
        }
        eprintln!("binomial max abs error {max_err:e}");
    }

    #[test]
    fn bootstrap_intervals_match_the_numpy_reference() {
        let doc = fixture();
        let normal = std_normal();
        let mut max_err = 0.0f64;
        for case in doc["bootstrap"]["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let theta = f(&case["theta_hat"]);
            let reps = floats(&case["replicates"]);
            let jk = jack(&case["jackknife"]);
            for e in case["expected"].as_array().unwrap() {
                let level = f(&e["level"]);
                let what = format!("{name} level {level}");
                let (lo, hi) = percentile_interval(&reps, level).unwrap();
                let (pl, ph) = pair(&e["percentile"]);
                close(&mut max_err, lo, pl, &format!("percentile low {what}"));
                close(&mut max_err, hi, ph, &format!("percentile high {what}"));
                let (lo, hi) = bca_interval(theta, &reps, &jk, level).unwrap();
                let (bl, bh) = pair(&e["bca"]);
                close(&mut max_err, lo, bl, &format!("bca low {what}"));
                close(&mut max_err, hi, bh, &format!("bca high {what}"));
                // The intermediate quantities, so a mismatch says where it starts.
                let z0 = bias_correction(theta, &reps);
                match e["z0_infinite"].as_i64().unwrap() {
                    0 => close(&mut max_err, z0, f(&e["z0"]), &format!("z0 {what}")),
                    s => assert_eq!(z0, s as f64 * f64::INFINITY, "z0 {what}"),
                }
                let a = acceleration(&jk);
                close(&mut max_err, a, f(&e["acceleration"]), &format!("a {what}"));
                let tail = (1.0 - level) / 2.0;
                let a1 = adjusted_level(z0, normal.inverse_cdf(tail), a);
                close(&mut max_err, a1, f(&e["alpha1"]), &format!("alpha1 {what}"));
            }
            // Cases built from counts: our O(k) jackknife reproduces the stored values, and its
            // weighted acceleration equals the ungrouped O(N) jackknife's.
            if let Some(counts) = case.get("counts") {
                let counts = u64s(counts);
                let ours = jackknife_counts(&counts, &plug_in_entropy);
                assert_eq!(ours.len(), jk.len(), "{name}");
                for (&(v, m), &(w, k)) in ours.iter().zip(&jk) {
                    assert_eq!(m, k, "{name}");
                    close(&mut max_err, v, w, &format!("jackknife {name}"));
                }
                let full = f(&case["full_jackknife_acceleration"]);
                close(
                    &mut max_err,
                    acceleration(&ours),
                    full,
                    &format!("full a {name}"),
                );
                close(&mut max_err, plug_in_entropy(&counts), theta, name);
            }
        }
        eprintln!("bootstrap max abs error {max_err:e}");
    }

    #[test]
    fn normal_cdf_matches_scipy_ndtr() {
        let doc = fixture();
        let mut max_err = 0.0f64;
        for case in doc["normal_cdf"]["cases"].as_array().unwrap() {
            let (z, want) = (f(&case["z"]), f(&case["cdf"]));
            let err = (std_normal_cdf(z) - want).abs();
            max_err = max_err.max(err);
            assert!(err <= 1e-15, "Φ({z}) = {} want {want}", std_normal_cdf(z));
        }
        assert_eq!(std_normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(std_normal_cdf(f64::NEG_INFINITY), 0.0);
        assert!(std_normal_cdf(f64::NAN).is_nan());
        eprintln!("normal cdf max abs error {max_err:e}");
    }

    #[test]
    fn delta_method_matches_mpmath() {
        let doc = fixture();
        let mut max_err = 0.0f64;
        for case in doc["delta"]["cases"].as_array().unwrap() {
            let counts = u64s(&case["counts"]);
            let level = f(&case["level"]);
            let what = format!("{counts:?} level {level}");
            let got = delta_method_plug_in(&counts, level).unwrap();
            close(&mut max_err, got.estimate, f(&case["estimate"]), &what);
            close(&mut max_err, got.std_error, f(&case["std_error"]), &what);
            let (lo, hi) = pair(&case["interval"]);
            close(&mut max_err, got.interval.0, lo, &what);
            close(&mut max_err, got.interval.1, hi, &what);
        }
        eprintln!("delta max abs error {max_err:e}");
    }

    fn skewed_counts() -> Vec<u64> {
        (1..=101u64).map(|i| 1000 / (i * 5) + 1).collect()
    }

    #[test]
    fn bootstrap_is_reproducible_for_a_seed() {
        let counts = skewed_counts();
        let a = bootstrap_interval(&counts, &plug_in_entropy, 300, 7, 0.95).unwrap();
        let b = bootstrap_interval(&counts, &plug_in_entropy, 300, 7, 0.95).unwrap();
        assert_eq!(a, b);
        let c = bootstrap_interval(&counts, &plug_in_entropy, 300, 8, 0.95).unwrap();
        assert_ne!(a.percentile, c.percentile);
        assert_eq!(a.estimate, plug_in_entropy(&counts));
        assert!(a.percentile.0 < a.estimate && a.estimate < a.percentile.1);
        assert!(a.bca.0 < a.bca.1);
    }

    #[test]
    fn table_and_binary_search_lookups_agree() {
        // Both observation → category lookups map observation j to the same category, so the
        // threshold between them is a pure speed choice: the replicates must be identical.
        let counts = [3u64, 0, 5, 1, 7, 0, 2];
        let fingerprint = |c: &[u64]| c.iter().fold(0.0, |acc, &k| acc * 31.0 + k as f64);
        let table = replicates_with_table_limit(&counts, &fingerprint, 200, 5, u64::MAX).unwrap();
        let search = replicates_with_table_limit(&counts, &fingerprint, 200, 5, 0).unwrap();
        assert_eq!(table, search);
        assert_eq!(
            table,
            bootstrap_replicates(&counts, &fingerprint, 200, 5).unwrap()
        );

        // And the first replicate equals a hand-rolled draw: observation rng.below(N), mapped to
        // its category.
        let n: u64 = counts.iter().sum();
        let mut observations = Vec::new();
        for (i, &c) in counts.iter().enumerate() {
            observations.extend(std::iter::repeat_n(i, c as usize));
        }
        let mut rng = Rng::seeded(5);
        let mut v = [0u64; 7];
        for _ in 0..n {
            v[observations[rng.below(n) as usize]] += 1;
        }
        assert_eq!(table[0], fingerprint(&v));
        assert_eq!(v.iter().sum::<u64>(), n);
        assert_eq!((v[1], v[5]), (0, 0));
    }

    #[test]
    fn one_category_gives_a_point() {
        let counts = [0u64, 40, 0];
        let reps = bootstrap_replicates(&counts, &plug_in_entropy, 50, 1).unwrap();
        assert!(reps.iter().all(|&r| r == 0.0));
        let (lo, hi) = percentile_interval(&reps, 0.95).unwrap();
        assert_eq!((lo, hi), (0.0, 0.0));
        let all = bootstrap_interval(&counts, &plug_in_entropy, 50, 1, 0.95).unwrap();
        assert_eq!(all.bca, (0.0, 0.0));
        assert_eq!(all.percentile, (0.0, 0.0));
        let delta = delta_method_plug_in(&counts, 0.95).unwrap();
        assert_eq!(delta.interval, (0.0, 0.0));
    }

    #[test]
    fn bca_equals_percentile_when_symmetric() {
        // Symmetric replicates and jackknife: z0 = 0 (ties half) and a = 0 exactly.
        let reps: Vec<f64> = (0..=200).map(|i| 2.0 + (i as f64 - 100.0) * 0.01).collect();
        let jk = [(1.9, 3), (2.0, 1), (2.1, 3)];
        assert_eq!(bias_correction(2.0, &reps), 0.0);
        assert_eq!(acceleration(&jk), 0.0);
        let p = percentile_interval(&reps, 0.9).unwrap();
        let b = bca_interval(2.0, &reps, &jk, 0.9).unwrap();
        assert!(
            (p.0 - b.0).abs() < 1e-12 && (p.1 - b.1).abs() < 1e-12,
            "{p:?} {b:?}"
        );

        // A statistic that is symmetric in distribution: the mean category index of counts
        // symmetric about the middle category.
        let counts = [5u64, 20, 50, 20, 5];
        let mean_index = |c: &[u64]| {
            let n: u64 = c.iter().sum();
            c.iter()
                .enumerate()
                .map(|(i, &k)| i as f64 * k as f64)
                .sum::<f64>()
                / n as f64
        };
        let r = bootstrap_interval(&counts, &mean_index, 2000, 3, 0.95).unwrap();
        assert!((r.percentile.0 - r.bca.0).abs() < 0.03, "{r:?}");
        assert!((r.percentile.1 - r.bca.1).abs() < 0.03, "{r:?}");
    }

    #[test]
    fn degenerate_adjustments_are_limits_not_nan() {
        assert_eq!(adjusted_level(f64::NEG_INFINITY, 1.96, 0.1), 0.0);
        assert_eq!(adjusted_level(f64::INFINITY, -1.96, -0.1), 1.0);
        // 1 − a(z0 + zα) ≤ 0: past the pole.
        assert_eq!(adjusted_level(5.0, 1.96, 1.0 / 6.0), 1.0);
        assert_eq!(adjusted_level(-5.0, -1.96, -1.0 / 6.0), 0.0);
        assert_eq!(acceleration(&[]), 0.0);
        assert_eq!(acceleration(&[(1.0, 4)]), 0.0);
        assert_eq!(acceleration(&[(1.0, 0)]), 0.0);
        // θ̂ outside every replicate: both ends at the nearest extreme.
        let reps = [1.0, 2.0, 3.0];
        assert_eq!(bca_interval(0.0, &reps, &[], 0.95).unwrap(), (1.0, 1.0));
        assert_eq!(bca_interval(9.0, &reps, &[], 0.95).unwrap(), (3.0, 3.0));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let stat: &dyn Fn(&[u64]) -> f64 = &plug_in_entropy;
        assert_eq!(
            bootstrap_replicates(&[], stat, 5, 0),
            Err(IntervalError::NoObservations)
        );
        assert_eq!(
            bootstrap_replicates(&[0, 0], stat, 5, 0),
            Err(IntervalError::NoObservations)
        );
        assert_eq!(
            bootstrap_replicates(&[u64::MAX, 1], stat, 5, 0),
            Err(IntervalError::TooManyObservations)
        );
        assert_eq!(bootstrap_replicates(&[2, 1], stat, 0, 0), Ok(vec![]));
        assert_eq!(
            bootstrap_interval(&[2, 1], stat, 0, 0, 0.9),
            Err(IntervalError::NoResamples)
        );
        for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
            assert!(matches!(
                percentile_interval(&[1.0], level),
                Err(IntervalError::Level(_))
            ));
            assert!(matches!(wilson(1, 2, level), Err(IntervalError::Level(_))));
            assert!(matches!(
                clopper_pearson(1, 2, level),
                Err(IntervalError::Level(_))
            ));
            assert!(matches!(
                delta_method_plug_in(&[1, 2], level),
                Err(IntervalError::Level(_))
            ));
        }
        assert_eq!(
            percentile_interval(&[], 0.9),
            Err(IntervalError::NoReplicates)
        );
        assert!(matches!(
            percentile_interval(&[1.0, f64::NAN], 0.9),
            Err(IntervalError::NotFinite(_))
        ));
        assert!(matches!(
            bca_interval(f64::NAN, &[1.0], &[], 0.9),
            Err(IntervalError::NotFinite(_))
        ));
        assert!(matches!(
            bca_interval(1.0, &[1.0], &[(f64::INFINITY, 1)], 0.9),
            Err(IntervalError::NotFinite(_))
        ));
        let nan_stat: &dyn Fn(&[u64]) -> f64 = &|_| f64::NAN;
        assert!(matches!(
            bootstrap_interval(&[2, 1], nan_stat, 10, 0, 0.9),
            Err(IntervalError::NotFinite(_))
        ));
        assert_eq!(wilson(0, 0, 0.95), Err(IntervalError::NoTrials));
        assert_eq!(clopper_pearson(0, 0, 0.95), Err(IntervalError::NoTrials));
        assert_eq!(
            wilson(3, 2, 0.95),
            Err(IntervalError::TooManySuccesses { x: 3, n: 2 })
        );
        assert_eq!(
            clopper_pearson(3, 2, 0.95),
            Err(IntervalError::TooManySuccesses { x: 3, n: 2 })
        );
        assert_eq!(
            delta_method_plug_in(&[], 0.95),
            Err(IntervalError::NoObservations)
        );
        assert_eq!(
            IntervalError::NoTrials.to_string(),
            "failed to bound a proportion: n = 0 trials"
        );
    }

    #[test]
    fn jackknife_is_one_call_per_nonempty_category() {
        let calls = std::cell::Cell::new(0);
        let stat = |c: &[u64]| {
            calls.set(calls.get() + 1);
            plug_in_entropy(c)
        };
        let jk = jackknife_counts(&[4, 0, 1, 9], &stat);
        assert_eq!(calls.get(), 3);
        assert_eq!(
            jk.iter().map(|&(_, m)| m).collect::<Vec<_>>(),
            vec![4, 1, 9]
        );
        assert_eq!(jk[1].0, plug_in_entropy(&[4, 0, 0, 9]));
        assert!(jackknife_counts(&[0, 0], &stat).is_empty());
    }

    /// Timing of the default-size bootstrap; run with
    /// `cargo test --release --lib stats::intervals -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_bootstrap_interval() {
        let counts: Vec<u64> = {
            // 101 categories, N = 1000, Zipf-like.
            let mut c: Vec<u64> = (1..=101u64).map(|i| 5000 / (i * 26)).collect();
            let short = 1000 - c.iter().sum::<u64>();
            c[0] += short;
            c
        };
        assert_eq!(counts.iter().sum::<u64>(), 1000);
        let mut best = f64::INFINITY;
        for seed in 0..5 {
            let start = std::time::Instant::now();
            let r = bootstrap_interval(
                &counts,
                &plug_in_entropy,
                DEFAULT_BOOTSTRAP_RESAMPLES,
                seed,
                0.95,
            )
            .unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            best = best.min(ms);
            eprintln!("seed {seed}: {ms:.2} ms {r:?}");
        }
        eprintln!("best of 5: {best:.2} ms");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn percentile_contains_the_median_replicate(
            counts in prop::collection::vec(0u64..30, 1..12),
            seed in any::<u64>(),
            level in 0.5f64..0.99,
        ) {
            prop_assume!(counts.iter().sum::<u64>() > 0);
            let reps = bootstrap_replicates(&counts, &plug_in_entropy, 60, seed).unwrap();
            let (lo, hi) = percentile_interval(&reps, level).unwrap();
            let mut sorted = reps.clone();
            sorted.sort_by(f64::total_cmp);
            let median = quantile_sorted(&sorted, 0.5);
            prop_assert!(lo <= median && median <= hi, "{lo} {median} {hi}");
            let jk = jackknife_counts(&counts, &plug_in_entropy);
            let (blo, bhi) = bca_interval(plug_in_entropy(&counts), &reps, &jk, level).unwrap();
            prop_assert!(blo <= bhi && blo >= sorted[0] && bhi <= sorted[sorted.len() - 1]);
        }

        #[test]
        fn proportion_intervals_lie_in_the_unit_interval_and_contain_the_share(
            n in 1u64..2000,
            x_frac in 0.0f64..=1.0,
            level in 0.5f64..0.999,
        ) {
            let x = ((n as f64) * x_frac).round() as u64;
            let share = x as f64 / n as f64;
            for (name, (lo, hi)) in [
                ("wilson", wilson(x, n, level).unwrap()),
                ("clopper-pearson", clopper_pearson(x, n, level).unwrap()),
            ] {
                prop_assert!(
                    (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
                    "{name} ({lo}, {hi})"
                );
                prop_assert!(lo <= share && share <= hi, "{name} ({lo}, {hi}) ∌ {share}");
            }
        }
    }
}
