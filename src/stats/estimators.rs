//! Entropy estimators (nats) from category counts: plug-in, Miller–Madow, Grassberger, Chao–Shen
//! and NSB.
//!
//! # What
//! Each estimator takes `counts` (how often each observed category occurred; zeros allowed,
//! categories never observed may be left out) and `k`, the size of the outcome set, and returns
//! an estimate of the Shannon entropy H = −Σ pᵢ ln pᵢ of the distribution that produced them, in
//! nats (natural logarithms throughout).
//!
//! # Why several
//! The plug-in estimate is biased low, badly so when samples are few relative to `k`, which is
//! exactly the regime in which a mode-collapse claim is tested. Miller–Madow and Grassberger
//! correct the leading bias; Chao–Shen corrects for unseen categories through the sample
//! coverage; NSB is a Bayesian estimate (with a posterior standard deviation) that stays
//! sensible when N ≪ k. [`Estimator::default_for`] is NSB (see its doc for why).
//!
//! # Conventions
//! - Every estimate is clipped to [0, ln k], the range the true entropy lies in. Only the
//!   bias-corrected estimators (Miller–Madow, Grassberger, Chao–Shen) move materially outside it
//!   (Grassberger gives γ + ln 2 ≈ 1.27 nats for a single observation; Chao–Shen can exceed ln k
//!   when most observations are singletons); for plug-in and NSB the clip only removes rounding
//!   excursions. The unclipped formulas are kept private (`*_raw`) and tested on their own.
//! - Errors: empty or all-zero counts, `k` smaller than the number of observed categories, and
//!   a total count that overflows u64 are rejected; nothing here panics on user input.
//! - NSB integrates numerically; its tolerance is [`NSB_QUADRATURE_TOLERANCE`] and its agreement
//!   with a 50-digit mpmath reference is checked to [`NSB_REFERENCE_TOLERANCE`].
//!
//! References: Miller (1955); Grassberger (2003), arXiv:physics/0307138; Chao & Shen (2003),
//! Environ. Ecol. Stat. 10:429; Nemenman, Shafee & Bialek (2002), "Entropy and inference,
//! revisited"; Nemenman, Bialek & de Ruyter van Steveninck (2004), PRE 69:056111; Wolpert &
//! Wolf (1995), PRE 52:6841 (posterior moments of H under a Dirichlet).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use statrs::function::gamma::digamma;

use crate::stats::entropy_nats;

/// Samples per outcome below which a sampled figure carries the small-sample warning: N < 10·k
/// (no interval is calibrated there on skewed distributions; `docs/calibration.md`).
///
/// One constant so that the calibration simulation can move it.
pub const NSB_BELOW_SAMPLES_PER_OUTCOME: u64 = 10;

/// Relative tolerance of the NSB quadrature: subdivision stops once the summed Kronrod–Gauss
/// differences are below this fraction of the normaliser (for the normaliser and for the mean,
/// i.e. about this many nats on the mean) and of the second central moment (so about half this,
/// relatively, on the standard deviation).
pub const NSB_QUADRATURE_TOLERANCE: f64 = 1e-10;

/// Agreement of [`nsb`] with the 50-digit mpmath reference that the tests assert: absolute, in
/// nats, on the posterior mean and on the posterior standard deviation. Ten times the
/// quadrature tolerance; the Kronrod–Gauss error estimate is pessimistic for these smooth
/// integrands, so the observed agreement is far better (printed by the reference test).
pub const NSB_REFERENCE_TOLERANCE: f64 = 1e-9;

/// Why an entropy estimate could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimatorError {
    /// The counts are empty or all zero.
    #[error("failed to estimate entropy: no observations (counts are empty or all zero)")]
    NoObservations,
    /// More categories were observed than the outcome set has.
    #[error("failed to estimate entropy: {observed} categories observed but k is {k}")]
    KTooSmall {
        /// Number of non-zero counts.
        observed: usize,
        /// The outcome-set size given.
        k: usize,
    },
    /// The counts add up to more than u64 can hold.
    #[error("failed to estimate entropy: the total count overflows u64")]
    CountOverflow,
    /// An estimator name that [`Estimator::parse`] does not know.
    #[error(
        "failed to parse estimator {0:?}: expected plug_in, miller_madow, grassberger, chao_shen or nsb"
    )]
    UnknownEstimator(String),
}

/// The entropy estimators this module offers, by name in specs and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Estimator {
    /// Maximum likelihood: −Σ p̂ ln p̂.
    PlugIn,
    /// Plug-in + (m − 1)/(2N).
    MillerMadow,
    /// Grassberger (2003).
    Grassberger,
    /// Chao & Shen (2003), coverage-adjusted Horvitz–Thompson.
    ChaoShen,
    /// Nemenman–Shafee–Bialek posterior mean.
    Nsb,
}

impl Estimator {
    /// Every estimator, in a fixed order.
    pub const ALL: [Estimator; 5] = [
        Estimator::PlugIn,
        Estimator::MillerMadow,
        Estimator::Grassberger,
        Estimator::ChaoShen,
        Estimator::Nsb,
    ];

    /// The name used in specs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Estimator::PlugIn => "plug_in",
            Estimator::MillerMadow => "miller_madow",
            Estimator::Grassberger => "grassberger",
            Estimator::ChaoShen => "chao_shen",
            Estimator::Nsb => "nsb",
        }
    }

    /// The estimator called `name` (exactly as [`Estimator::as_str`] spells it).
    pub fn parse(name: &str) -> Result<Estimator, EstimatorError> {
        Estimator::ALL
            .into_iter()
            .find(|e| e.as_str() == name)
            .ok_or_else(|| EstimatorError::UnknownEstimator(name.to_string()))
    }

    /// The estimate in nats, clipped to [0, ln k] (for NSB, the posterior mean).
    pub fn estimate(self, counts: &[u64], k: usize) -> Result<f64, EstimatorError> {
        match self {
            Estimator::PlugIn => plug_in(counts, k),
            Estimator::MillerMadow => miller_madow(counts, k),
            Estimator::Grassberger => grassberger(counts, k),
            Estimator::ChaoShen => chao_shen(counts, k),
            Estimator::Nsb => nsb(counts, k).map(|e| e.mean),
        }
    }

    /// The default for `n` samples over `k` outcomes: NSB, at every N.
    ///
    /// Why: simulated (`docs/calibration.md`, 1,000 runs per cell, K = 101), NSB with its
    /// posterior interval is the best-calibrated pair the code offers at every N from 50 to 2000
    /// and on every distribution tried. The previous switch to Grassberger (with a BCa interval)
    /// from 10 samples per outcome covered the true entropy only 52–90% of the time at N = 2000:
    /// a bootstrap of a bias-corrected estimator is centred on the plug-in value, not on the
    /// estimate. The arguments are kept so that a better-calibrated choice by N and k can return.
    pub fn default_for(n: u64, k: usize) -> Estimator {
        let _ = (n, k);
        Estimator::Nsb
    }
}

impl fmt::Display for Estimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Estimator {
    type Err = EstimatorError;

    fn from_str(s: &str) -> Result<Estimator, EstimatorError> {
        Estimator::parse(s)
    }
}

/// The NSB posterior summary of H, in nats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NsbEstimate {
    /// Posterior mean E[H | n], clipped to [0, ln k].
    pub mean: f64,
    /// Posterior standard deviation √Var[H | n].
    pub std: f64,
}

/// What every estimator needs from validated counts.
struct Tally {
    /// Total count N (> 0).
    n: f64,
    /// Number of non-zero counts (observed categories).
    m: usize,
    /// ln k.
    ln_k: f64,
}

fn tally(counts: &[u64], k: usize) -> Result<Tally, EstimatorError> {
    let mut n: u64 = 0;
    let mut m = 0usize;
    for &c in counts {
        n = n.checked_add(c).ok_or(EstimatorError::CountOverflow)?;
        m += usize::from(c > 0);
    }
    if n == 0 {
        return Err(EstimatorError::NoObservations);
    }
    if k < m {
        return Err(EstimatorError::KTooSmall { observed: m, k });
    }
    Ok(Tally {
        n: n as f64,
        m,
        ln_k: (k as f64).ln(),
    })
}

fn clip(h: f64, ln_k: f64) -> f64 {
    h.clamp(0.0, ln_k)
}

/// Plug-in (maximum-likelihood) entropy −Σ p̂ᵢ ln p̂ᵢ with p̂ᵢ = nᵢ/N.
pub fn plug_in(counts: &[u64], k: usize) -> Result<f64, EstimatorError> {
    let t = tally(counts, k)?;
    Ok(clip(plug_in_raw(counts, t.n), t.ln_k))
}

fn plug_in_raw(counts: &[u64], n: f64) -> f64 {
    let p: Vec<f64> = counts.iter().map(|&c| c as f64 / n).collect();
    entropy_nats(&p)
}

/// Miller–Madow: plug-in + (m − 1)/(2N), m = number of non-zero counts; clipped to [0, ln k].
pub fn miller_madow(counts: &[u64], k: usize) -> Result<f64, EstimatorError> {
    let t = tally(counts, k)?;
    Ok(clip(miller_madow_raw(counts, &t), t.ln_k))
}

fn miller_madow_raw(counts: &[u64], t: &Tally) -> f64 {
    plug_in_raw(counts, t.n) + (t.m as f64 - 1.0) / (2.0 * t.n)
}

/// Grassberger (2003): ln N − (1/N) Σ nᵢ G(nᵢ) with
/// G(n) = ψ(n) + ½(−1)ⁿ [ψ((n+1)/2) − ψ(n/2)]; clipped to [0, ln k].
pub fn grassberger(counts: &[u64], k: usize) -> Result<f64, EstimatorError> {
    let t = tally(counts, k)?;
    Ok(clip(grassberger_raw(counts, t.n), t.ln_k))
}

fn grassberger_raw(counts: &[u64], n: f64) -> f64 {
    let weighted: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let x = c as f64;
            let half_diff = 0.5 * (digamma((x + 1.0) / 2.0) - digamma(x / 2.0));
            let g = if c % 2 == 0 {
                digamma(x) + half_diff
            } else {
                digamma(x) - half_diff
            };
            x * g
        })
        .sum();
    n.ln() - weighted / n
}

/// Chao & Shen (2003): coverage Ĉ = 1 − f₁/N (f₁ singletons; f₁ − 1 in place of f₁ when every
/// observation is a singleton, so that Ĉ > 0), p̃ᵢ = Ĉ nᵢ/N and
/// Ĥ = −Σ p̃ᵢ ln p̃ᵢ / (1 − (1 − p̃ᵢ)ᴺ); clipped to [0, ln k].
pub fn chao_shen(counts: &[u64], k: usize) -> Result<f64, EstimatorError> {
    let t = tally(counts, k)?;
    Ok(clip(chao_shen_raw(counts, t.n), t.ln_k))
}

fn chao_shen_raw(counts: &[u64], n: f64) -> f64 {
    let mut f1 = counts.iter().filter(|&&c| c == 1).count() as f64;
    if f1 == n {
        f1 = n - 1.0;
    }
    let coverage = 1.0 - f1 / n;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = coverage * c as f64 / n;
            // 1 − (1 − p)^N without losing it to rounding when p is small.
            let inclusion = -(n * (-p).ln_1p()).exp_m1();
            -p * p.ln() / inclusion
        })
        .sum()
}

/// Trigamma ψ₁(x) = d²/dx² ln Γ(x) for x > 0 (NaN for x ≤ 0 or NaN).
///
/// Recurrence ψ₁(x) = ψ₁(x+1) + 1/x² up to x ≥ 10, then the asymptotic series
/// 1/x + 1/(2x²) + Σ B₂ⱼ/x²ʲ⁺¹ through B₁₄: at x = 10 the first omitted term (B₁₆/x¹⁷) is
/// below 1e-15 relative; from x = 6 the same accuracy would take about twice as many terms.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x.is_infinite() {
        return 0.0;
    }
    let mut z = x;
    let mut shifted = 0.0;
    while z < 10.0 {
        shifted += 1.0 / (z * z);
        z += 1.0;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    // B2 = 1/6, B4 = −1/30, B6 = 1/42, B8 = −1/30, B10 = 5/66, B12 = −691/2730, B14 = 7/6.
    let tail = r
        * r2
        * (1.0 / 6.0
            - r2 * (1.0 / 30.0
                - r2 * (1.0 / 42.0
                    - r2 * (1.0 / 30.0
                        - r2 * (5.0 / 66.0 - r2 * (691.0 / 2730.0 - r2 * 7.0 / 6.0))))));
    let series = r + 0.5 * r2 + tail;
    series + shifted
}

/// ln Γ(x + n) − ln Γ(x) for x > 0 and integer-valued n ≥ 0 (the log rising factorial).
fn ln_rising(x: f64, n: f64) -> f64 {
    if n <= 16.0 {
        let mut s = 0.0;
        let mut j = 0.0;
        while j < n {
            s += (x + j).ln();
            j += 1.0;
        }
        return s;
    }
    if x < 10.0 {
        // Shift x up to ≥ 10 where Stirling's series is accurate: (x)_n = (x)_s (x+s)_(n−s).
        let s = (10.0 - x).ceil();
        return ln_rising(x, s) + ln_rising(x + s, n - s);
    }
    // (x − ½) ln(1 + n/x) + n (ln(x + n) − 1) + S(x + n) − S(x): nothing large cancels.
    (x - 0.5) * (n / x).ln_1p() + n * ((x + n).ln() - 1.0) + stirling_tail_difference(x, n)
}

/// S(x + n) − S(x), S(z) = Σ B₂ⱼ / (2j (2j − 1) z²ʲ⁻¹) through j = 7, the Stirling-series
/// remainder of ln Γ(z) − [(z − ½) ln z − z + ½ ln 2π]; below 1e-15 absolute for z ≥ 10.
fn stirling_tail_difference(x: f64, n: f64) -> f64 {
    fn s(z: f64) -> f64 {
        let r = 1.0 / z;
        let r2 = r * r;
        r * (1.0 / 12.0
            - r2 * (1.0 / 360.0
                - r2 * (1.0 / 1260.0
                    - r2 * (1.0 / 1680.0
                        - r2 * (1.0 / 1188.0 - r2 * (691.0 / 360_360.0 - r2 / 156.0))))))
    }
    s(x + n) - s(x)
}

/// ln Γ(x + n) − ln Γ(x) − (n ln n − n) for x > 0, integer-valued n ≥ 1.
///
/// Why: the NSB log evidence is a sum of log rising factorials of size ~N ln N whose
/// β-independent parts cancel; computed as they stand, their rounding (~ε N ln N, 1e-5 at
/// N = 10⁹) would be noise in the posterior weights. Subtracting n ln n − n term by term
/// (Σ over categories of nᵢ ln nᵢ − nᵢ minus N ln N − N is a constant) leaves a value of
/// size ~x ln(n/x) + x, so the rounding left scales with x = kβ, not N, which is what
/// matters when the posterior sits at kβ ≲ N.
fn ln_rising_less_n_ln_n(x: f64, n: f64) -> f64 {
    if n <= 16.0 {
        return ln_rising(x, n) - (n * n.ln() - n);
    }
    if x < 10.0 {
        // (x)_n = (x)_s (x+s)_(n−s), and (n−s) ln(n−s) − n ln n = n ln(1 − s/n) − s ln(n−s).
        let s = (10.0 - x).ceil();
        return ln_rising(x, s) + ln_rising_less_n_ln_n(x + s, n - s) + n * (-s / n).ln_1p()
            - s * (n - s).ln()
            + s;
    }
    (x - 0.5) * (n / x).ln_1p() + n * (x / n).ln_1p() + stirling_tail_difference(x, n)
}

/// ln Γ(x + n) − ln Γ(x) − n ln x for x > 0, integer-valued n ≥ 1: ≈ n²/(2x) for x ≫ n.
///
/// The counterpart of [`ln_rising_less_n_ln_n`] for a posterior at kβ ≳ N (near-uniform
/// counts): Σ nᵢ ln β − N ln(kβ) = −N ln k is the constant removed.
fn ln_rising_less_n_ln_x(x: f64, n: f64) -> f64 {
    if n <= 16.0 {
        let mut s = 0.0;
        let mut j = 1.0;
        while j < n {
            s += (j / x).ln_1p();
            j += 1.0;
        }
        return s;
    }
    if x < 10.0 {
        // Nothing large cancels here: both terms are ~n ln n.
        return ln_rising(x, n) - n * x.ln();
    }
    // (x + n − ½) ln(1 + y) − n with y = n/x, = x φ(y) − ½ ln(1 + y).
    let y = n / x;
    x * one_plus_y_log_one_plus_y_less_y(y) - 0.5 * y.ln_1p() + stirling_tail_difference(x, n)
}

/// φ(y) = (1 + y) ln(1 + y) − y ≥ 0, by its series Σⱼ₌₂ (−1)ʲ yʲ/(j(j−1)) for small y, where
/// the direct form would cancel.
fn one_plus_y_log_one_plus_y_less_y(y: f64) -> f64 {
    if y >= 0.25 {
        return (1.0 + y) * y.ln_1p() - y;
    }
    let mut sum = 0.0;
    let mut power = y * y; // y^j, j = 2
    let mut j = 2.0;
    loop {
        let term = power / (j * (j - 1.0));
        sum += term;
        if term.abs() <= 1e-17 * sum {
            return sum;
        }
        power *= -y;
        j += 1.0;
        if j > 60.0 {
            return sum;
        }
    }
}

/// dξ/dβ = k ψ₁(kβ + 1) − ψ₁(β + 1), the NSB prior density over β (ξ(β) = E[H | β]).
///
/// For β ≥ 20 the two terms agree to ~1/(2β) relatively, so the difference is taken term by
/// term in the asymptotic series: (1 − 1/k)/(2β²) − Σⱼ B₂ⱼ (1 − k⁻²ʲ)/β²ʲ⁺¹.
fn dxi_dbeta(k: f64, beta: f64) -> f64 {
    if beta < 20.0 {
        return k * trigamma(k * beta + 1.0) - trigamma(beta + 1.0);
    }
    const BERNOULLI: [f64; 7] = [
        1.0 / 6.0,
        -1.0 / 30.0,
        1.0 / 42.0,
        -1.0 / 30.0,
        5.0 / 66.0,
        -691.0 / 2730.0,
        7.0 / 6.0,
    ];
    let r = 1.0 / beta;
    let r2 = r * r;
    let inv_k2 = 1.0 / (k * k);
    let mut sum = 0.0;
    let mut r_pow = r * r2; // β^−(2j+1)
    let mut k_pow = inv_k2; // k^−2j
    for b in BERNOULLI {
        sum += b * (1.0 - k_pow) * r_pow;
        r_pow *= r2;
        k_pow *= inv_k2;
    }
    (1.0 - 1.0 / k) * 0.5 * r2 - sum
}

/// Which constant the NSB log evidence is computed without (see [`ln_rising_less_n_ln_n`] and
/// [`ln_rising_less_n_ln_x`]): chosen once per estimate from where the posterior peaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EvidenceForm {
    /// kβ ≤ N: remove nᵢ ln nᵢ − nᵢ from each log rising factorial.
    SmallBeta,
    /// kβ > N: remove nᵢ ln β (N ln kβ for the normaliser).
    LargeBeta,
}

/// The counts as {count value: multiplicity}, zero-count categories included (k − m of them):
/// every NSB sum depends on a category only through its count, and there are far fewer
/// distinct counts than categories.
struct Histogram {
    /// (count, number of categories with that count), ascending by count.
    groups: Vec<(f64, f64)>,
    k: f64,
    n: f64,
}

impl Histogram {
    fn new(counts: &[u64], k: usize) -> Histogram {
        let mut map: BTreeMap<u64, u64> = BTreeMap::new();
        let mut m = 0usize;
        let mut n = 0u64;
        for &c in counts.iter().filter(|&&c| c > 0) {
            *map.entry(c).or_insert(0) += 1;
            m += 1;
            n += c;
        }
        let mut groups: Vec<(f64, f64)> = Vec::with_capacity(map.len() + 1);
        if k > m {
            groups.push((0.0, (k - m) as f64));
        }
        groups.extend(map.into_iter().map(|(c, r)| (c as f64, r as f64)));
        Histogram {
            groups,
            k: k as f64,
            n: n as f64,
        }
    }

    /// The β-dependent part of ln P(n | β) (P up to the multinomial coefficient,
    /// ln Γ(kβ) − ln Γ(N + kβ) + Σᵢ [ln Γ(nᵢ + β) − ln Γ(β)]) in the given form, and the sum of
    /// the magnitudes of its terms (its rounding is ~ε times that). ln P(n | β) is the value
    /// plus `Histogram::form_offset`.
    fn ln_evidence_part(&self, beta: f64, form: EvidenceForm) -> (f64, f64) {
        let part = match form {
            EvidenceForm::SmallBeta => ln_rising_less_n_ln_n,
            EvidenceForm::LargeBeta => ln_rising_less_n_ln_x,
        };
        let head = -part(self.k * beta, self.n);
        let (mut value, mut magnitude) = (head, head.abs());
        for &(c, r) in &self.groups {
            if c > 0.0 {
                let term = r * part(beta, c);
                value += term;
                magnitude += term.abs();
            }
        }
        (value, magnitude)
    }

    /// ln P(n | β) − ln_evidence_part(β, form): Σ nᵢ ln nᵢ − N ln N for the small-β form,
    /// −N ln k for the large-β form. Large, but constant, so the posterior never needs it.
    #[cfg(test)]
    fn form_offset(&self, form: EvidenceForm) -> f64 {
        match form {
            EvidenceForm::SmallBeta => {
                let s: f64 = self
                    .groups
                    .iter()
                    .filter(|g| g.0 > 0.0)
                    .map(|&(c, r)| r * c * c.ln())
                    .sum();
                s - self.n * self.n.ln()
            }
            EvidenceForm::LargeBeta => -self.n * self.k.ln(),
        }
    }

    /// Log of the posterior density over t = ln β, ln P(n | β) + ln dξ/dβ + ln β, up to a
    /// constant that depends on the form.
    fn ln_density(&self, t: f64, form: EvidenceForm) -> f64 {
        let beta = t.exp();
        let v = self.ln_evidence_part(beta, form).0 + dxi_dbeta(self.k, beta).ln() + t;
        if v.is_nan() { f64::NEG_INFINITY } else { v }
    }

    /// E[H | n, β] and Var[H | n, β] under the Dirichlet(nᵢ + β) posterior, with aᵢ = nᵢ + β,
    /// A = Σ aᵢ. The mean is E[H] = ψ(A+1) − Σ (aᵢ/A) ψ(aᵢ+1). The second moment is Wolpert &
    /// Wolf's (1995; Nemenman et al. 2004, appendix)
    ///   E[H²] = [Σ_{i≠j} aᵢaⱼ ((ψ(aᵢ+1) − ψ(A+2))(ψ(aⱼ+1) − ψ(A+2)) − ψ₁(A+2))
    ///           + Σᵢ aᵢ(aᵢ+1) ((ψ(aᵢ+2) − ψ(A+2))² + ψ₁(aᵢ+2) − ψ₁(A+2))] / (A(A+1)),
    /// but E[H²] − E[H]² loses everything below ε·E[H]² ≈ 1e-15 to cancellation, which is the
    /// whole variance once A is large. So the variance is taken in the algebraically equal form
    /// (qᵢ = aᵢ/A, e = 1/(A+1), νᵢ = ψ(A+2) − ψ(aᵢ+1), ωᵢ = νᵢ − 1/(aᵢ+1), T = ψ₁(A+2),
    /// Tᵢ = ψ₁(aᵢ+2))
    ///   Var = e (2E[H] + e − (E[H] + e)²) + (1 − e) [Σ qᵢ² (Tᵢ − (2νᵢ − 1/(aᵢ+1))/(aᵢ+1)) − T]
    ///         + e Σ qᵢ (ωᵢ² + Tᵢ − T),
    /// whose terms are O(1/A), so the rounding left is ~ε/A (the reference script checks the
    /// E[H²] formula against direct integration over the Dirichlet density; the unit tests
    /// check this form against it at 50 digits).
    fn conditional_moments(&self, beta: f64) -> (f64, f64) {
        let a_tot = self.n + self.k * beta;
        let e = 1.0 / (a_tot + 1.0);
        let psi_a1 = digamma(a_tot + 1.0);
        let psi_a2 = psi_a1 + e;
        let tri = trigamma(a_tot + 2.0);
        let mut mean_sum = 0.0; // Σ aᵢ ψ(aᵢ+1)
        let mut sq = 0.0; // Σ qᵢ² (Tᵢ − (2νᵢ − 1/(aᵢ+1))/(aᵢ+1))
        let mut lin = 0.0; // Σ qᵢ (ωᵢ² + Tᵢ − T)
        for &(c, r) in &self.groups {
            let a = c + beta;
            let q = a / a_tot;
            let psi1 = digamma(a + 1.0);
            let inv = 1.0 / (a + 1.0);
            let nu = psi_a2 - psi1;
            let omega = nu - inv;
            let tri_i = trigamma(a + 2.0);
            mean_sum += r * a * psi1;
            sq += r * q * q * (tri_i - (2.0 * nu - inv) * inv);
            lin += r * q * (omega * omega + tri_i - tri);
        }
        let mean = psi_a1 - mean_sum / a_tot;
        let var = e * (2.0 * mean + e - (mean + e) * (mean + e)) + (1.0 - e) * (sq - tri) + e * lin;
        (mean, var.max(0.0))
    }
}

/// NSB: the posterior mean and standard deviation of H under a mixture of symmetric
/// Dirichlet(β) priors over the k outcomes, weighted so that the prior is flat in
/// ξ(β) = E[H | β] = ψ(kβ+1) − ψ(β+1) (Nemenman, Shafee & Bialek 2002).
///
/// How: the posterior density over t = ln β, P(n | β) ξ'(β) β, is evaluated in log space and
/// without the large β-independent constants of ln P(n | β), so that its rounding does not
/// grow with N. Its peak is found on a grid (step ½ over t ∈ [−50, 50], extended outward
/// while the maximum sits at an edge) refined by golden section; its width from where the log
/// density has dropped by ½. The integration range runs out to where the log density is 60
/// below the peak (the tails fall at least like e^−|t|, so what is cut is below e^−60 of the
/// peak), partitioned at the peak ± width·2ʲ so that even a very narrow peak is resolved, and
/// is integrated by adaptive Gauss–Kronrod (7/15) to [`NSB_QUADRATURE_TOLERANCE`]. Assumes any
/// secondary mode is at least as wide as the grid step. Should the log density's own rounding
/// exceed that tolerance (N or kβ ≳ 10⁸), the rounding level is the tolerance instead. The
/// posterior variance is E_β[Var(H | β)] + Var_β(E[H | β]), both from the same integrals,
/// centred on E[H | β*] so that nothing cancels. With k = 1 the entropy is 0 exactly.
pub fn nsb(counts: &[u64], k: usize) -> Result<NsbEstimate, EstimatorError> {
    let t = tally(counts, k)?;
    if k == 1 {
        return Ok(NsbEstimate {
            mean: 0.0,
            std: 0.0,
        });
    }
    let hist = Histogram::new(counts, k);
    let (mean, var) = nsb_moments(&hist);
    Ok(NsbEstimate {
        mean: clip(mean, t.ln_k),
        std: var.max(0.0).sqrt(),
    })
}

const GRID_STEP: f64 = 0.5;
const GRID_HALF_RANGE: f64 = 50.0;
/// Far enough that e^t stays finite with k up to 2⁶⁴ (k e^300 < f64::MAX).
const T_LIMIT: f64 = 300.0;
/// How far below the peak (in log density) the integration range reaches.
const TAIL_DROP: f64 = 60.0;
const MAX_INTERVALS: usize = 1000;

/// Posterior mean and variance of H for k ≥ 2.
fn nsb_moments(hist: &Histogram) -> (f64, f64) {
    // The small-β form locates the peak; the form for the integral is chosen after.
    let f = |t: f64| hist.ln_density(t, EvidenceForm::SmallBeta);

    // 1. Coarse grid, extended outward while the best point is at an edge.
    let mut grid: Vec<(f64, f64)> = Vec::new();
    let steps = (2.0 * GRID_HALF_RANGE / GRID_STEP) as usize;
    for i in 0..=steps {
        let t = -GRID_HALF_RANGE + i as f64 * GRID_STEP;
        grid.push((t, f(t)));
    }
    let argmax = |g: &[(f64, f64)]| {
        let mut best = 0;
        for (i, &(_, v)) in g.iter().enumerate() {
            if v > g[best].1 {
                best = i;
            }
        }
        best
    };
    loop {
        let best = argmax(&grid);
        let (t_first, t_last) = (grid[0].0, grid[grid.len() - 1].0);
        if best == 0 && t_first > -T_LIMIT {
            let t = t_first - GRID_STEP;
            grid.insert(0, (t, f(t)));
        } else if best == grid.len() - 1 && t_last < T_LIMIT {
            let t = t_last + GRID_STEP;
            grid.push((t, f(t)));
        } else {
            break;
        }
    }
    let best = argmax(&grid);

    // 2. Golden-section refinement of the peak between the neighbouring grid points.
    let lo = grid[best.saturating_sub(1)].0;
    let hi = grid[(best + 1).min(grid.len() - 1)].0;
    let mut t_star = golden_max(&f, lo, hi);
    let refined = f(t_star);
    if refined.is_nan() || refined < grid[best].1 {
        t_star = grid[best].0;
    }

    // From here on, the form whose rounding is smallest at the peak, and the grid shifted to
    // it (the forms differ by a constant).
    let form = if hist.k * t_star.exp() <= hist.n {
        EvidenceForm::SmallBeta
    } else {
        EvidenceForm::LargeBeta
    };
    let offset = hist.ln_density(t_star, form) - f(t_star);
    let f = |t: f64| hist.ln_density(t, form);
    for g in &mut grid {
        g.1 += offset;
    }
    let l_star = f(t_star);
    // Rounding noise of the log density, as it shows (relatively) in the weights: refining
    // below it would only chase noise. It exceeds the tolerance only for extreme inputs
    // (N or kβ around 10⁸ and beyond).
    let noise = 4.0 * f64::EPSILON * hist.ln_evidence_part(t_star.exp(), form).1;

    // 3. Width: where the log density has dropped by ½ (σ for a Gaussian peak), each side.
    let half_width = |dir: f64| {
        let drop = |d: f64| l_star - f(t_star + dir * d);
        let mut d = 0.25;
        if drop(d) > 0.5 {
            while drop(d) > 0.5 && d > 1e-12 {
                d /= 2.0;
            }
        } else {
            while drop(d) <= 0.5 && d < 64.0 && (t_star + dir * 2.0 * d).abs() < T_LIMIT {
                d *= 2.0;
            }
        }
        d
    };
    let width = half_width(-1.0).min(half_width(1.0));

    // 4. Integration range: out to TAIL_DROP below the peak, and over every grid point above it.
    let reach = |dir: f64| {
        let mut d = width;
        loop {
            let t = (t_star + dir * d).clamp(-T_LIMIT, T_LIMIT);
            if l_star - f(t) > TAIL_DROP || t.abs() >= T_LIMIT {
                return t;
            }
            d *= 2.0;
        }
    };
    let mut t_lo = reach(-1.0);
    let mut t_hi = reach(1.0);
    for &(t, v) in &grid {
        if l_star - v <= TAIL_DROP {
            t_lo = t_lo.min((t - GRID_STEP).max(-T_LIMIT));
            t_hi = t_hi.max((t + GRID_STEP).min(T_LIMIT));
        }
    }

    // 5. Break points at the peak ± width·2ʲ.
    let mut points = vec![t_lo, t_star, t_hi];
    for dir in [-1.0, 1.0] {
        let mut d = width;
        loop {
            let t = t_star + dir * d;
            if t <= t_lo || t >= t_hi {
                break;
            }
            points.push(t);
            d *= 2.0;
        }
    }
    points.sort_by(f64::total_cmp);
    points.dedup();

    // 6. Integrate (w, w (m − c), w (v + (m − c)²)) with w = e^(ℓ(t) − ℓ*) and c the
    //    conditional mean at the peak: centring keeps E[H²] − E[H]² from cancelling.
    let center = hist.conditional_moments(t_star.exp()).0;
    let integrand = |t: f64| -> [f64; 3] {
        let w = (f(t) - l_star).exp();
        if !w.is_finite() || w <= 0.0 {
            return [0.0; 3];
        }
        let (m, v) = hist.conditional_moments(t.exp());
        let d = m - center;
        [w, w * d, w * (v + d * d)]
    };
    let tolerance = NSB_QUADRATURE_TOLERANCE.max(noise);
    let integrals = adaptive_gauss_kronrod(&integrand, &points, tolerance);
    let [i0, i1, i2] = integrals;
    if i0.is_nan() || i0 <= 0.0 {
        // Cannot happen for valid counts (the density at the peak is 1); stay finite anyway.
        return (center, 0.0);
    }
    let shift = i1 / i0;
    (center + shift, i2 / i0 - shift * shift)
}

/// Maximiser of a unimodal `f` on [lo, hi] by golden-section search.
fn golden_max(f: &impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    let inv_phi = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (lo, hi);
    let mut c = b - inv_phi * (b - a);
    let mut d = a + inv_phi * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if (b - a).abs() <= 1e-13 * (1.0 + a.abs()) {
            break;
        }
        if fc > fd {
            b = d;
            d = c;
            fd = fc;
            c = b - inv_phi * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + inv_phi * (b - a);
            fd = f(d);
        }
    }
    0.5 * (a + b)
}

/// Kronrod 15-point abscissae (non-negative half) and weights; Gauss 7-point weights for the
/// odd-indexed abscissae (QUADPACK's qk15).
const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// One 15-point Kronrod estimate and its error estimate for each component, as QUADPACK's
/// qk15 makes it: |K − G| scaled by min(1, (200 |K − G| / ∫|f − mean|)^1.5), floored at
/// 50 ε ∫|f|. The scaling is what lets the rule stop on a smooth integrand whose values carry
/// rounding noise: the log evidence is a sum of terms of size ~N ln N, so for N ≳ 10⁵ its
/// rounding (~ε N ln N) shows up in |K − G| without being integration error.
fn gk15(f: &impl Fn(f64) -> [f64; 3], a: f64, b: f64) -> ([f64; 3], [f64; 3]) {
    let half = 0.5 * (b - a);
    let mid = 0.5 * (a + b);
    let fc = f(mid);
    let mut left = [[0.0; 3]; 7];
    let mut right = [[0.0; 3]; 7];
    for i in 0..7 {
        let dx = half * XGK[i];
        left[i] = f(mid - dx);
        right[i] = f(mid + dx);
    }
    let mut value = [0.0; 3];
    let mut err = [0.0; 3];
    for j in 0..3 {
        let mut kron = WGK[7] * fc[j];
        let mut gauss = WG[3] * fc[j];
        let mut abs_sum = WGK[7] * fc[j].abs();
        for i in 0..7 {
            kron += WGK[i] * (left[i][j] + right[i][j]);
            abs_sum += WGK[i] * (left[i][j].abs() + right[i][j].abs());
            if i % 2 == 1 {
                gauss += WG[i / 2] * (left[i][j] + right[i][j]);
            }
        }
        let mean = 0.5 * kron;
        let mut asc = WGK[7] * (fc[j] - mean).abs();
        for i in 0..7 {
            asc += WGK[i] * ((left[i][j] - mean).abs() + (right[i][j] - mean).abs());
        }
        let (res_abs, res_asc) = (abs_sum * half.abs(), asc * half.abs());
        let mut e = ((kron - gauss) * half).abs();
        if res_asc > 0.0 && e > 0.0 {
            e = res_asc * (200.0 * e / res_asc).powf(1.5).min(1.0);
        }
        value[j] = kron * half;
        err[j] = e.max(50.0 * f64::EPSILON * res_abs);
    }
    (value, err)
}

/// Adaptive Gauss–Kronrod over the partition `points`: bisects the interval with the largest
/// scaled error until the total errors meet the relative tolerance `tol` (components 0 and 1
/// relative to the integral of component 0, component 2 relative to its own integral), or
/// [`MAX_INTERVALS`] is reached (then the best estimate so far is returned).
fn adaptive_gauss_kronrod(f: &impl Fn(f64) -> [f64; 3], points: &[f64], tol: f64) -> [f64; 3] {
    struct Piece {
        a: f64,
        b: f64,
        value: [f64; 3],
        err: [f64; 3],
    }
    let mut pieces: Vec<Piece> = points
        .windows(2)
        .map(|w| {
            let (value, err) = gk15(f, w[0], w[1]);
            Piece {
                a: w[0],
                b: w[1],
                value,
                err,
            }
        })
        .collect();
    loop {
        let mut total = [0.0; 3];
        let mut err = [0.0; 3];
        for p in &pieces {
            for j in 0..3 {
                total[j] += p.value[j];
                err[j] += p.err[j];
            }
        }
        // Component 2 (the second central moment) relative to itself, but never finer than
        // tol² of the normaliser: a variance of 1e-18 needs no 1e-28 absolute accuracy.
        let scale = [
            total[0].abs(),
            total[0].abs(),
            total[2].abs().max(tol * total[0].abs()),
        ];
        let done = (0..3).all(|j| err[j] <= tol * scale[j] || err[j] <= f64::MIN_POSITIVE);
        if done || pieces.len() >= MAX_INTERVALS {
            return total;
        }
        let badness = |p: &Piece| {
            (0..3)
                .map(|j| {
                    if scale[j] > 0.0 {
                        p.err[j] / scale[j]
                    } else {
                        p.err[j]
                    }
                })
                .fold(0.0, f64::max)
        };
        let worst = (0..pieces.len())
            .max_by(|&x, &y| badness(&pieces[x]).total_cmp(&badness(&pieces[y])))
            .unwrap_or(0);
        let Piece { a, b, .. } = pieces.swap_remove(worst);
        let mid = 0.5 * (a + b);
        if !(mid > a && mid < b) {
            // The interval cannot be split further in f64; accept what we have.
            return total;
        }
        for (x, y) in [(a, mid), (mid, b)] {
            let (value, err) = gk15(f, x, y);
            pieces.push(Piece {
                a: x,
                b: y,
                value,
                err,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::Rng;
    use proptest::prelude::*;
    use serde_json::Value;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/estimators.json");

    fn fixture() -> Value {
        serde_json::from_str(FIXTURE).expect("fixture parses")
    }

    fn counts_of(v: &Value) -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    }

    fn num(v: &Value, key: &str) -> f64 {
        v[key].as_f64().unwrap_or_else(|| panic!("{key} missing"))
    }

    fn rel_err(got: f64, want: f64) -> f64 {
        (got - want).abs() / want.abs().max(1.0)
    }

    #[test]
    fn trigamma_matches_mpmath() {
        // Relative 1e-12 (values reach 1e16 at x = 1e-8).
        for row in fixture()["trigamma"].as_array().unwrap() {
            let (x, want) = (num(row, "x"), num(row, "value"));
            let got = trigamma(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "ψ1({x}) = {got}, mpmath {want}"
            );
        }
        assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan() && trigamma(f64::NAN).is_nan());
        assert_eq!(trigamma(f64::INFINITY), 0.0);
    }

    #[test]
    fn ln_rising_matches_mpmath() {
        // Relative to max(1, |value|): 1e-13.
        for row in fixture()["ln_pochhammer"].as_array().unwrap() {
            let (x, n, want) = (num(row, "x"), num(row, "n"), num(row, "value"));
            let got = ln_rising(x, n);
            assert!(
                rel_err(got, want) < 1e-13,
                "ln (x)_n at x={x}, n={n}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn evidence_forms_agree_with_ln_rising() {
        // Where nothing cancels, the two forms must equal ln_rising less their constants; this
        // covers every branch (n ≤ 16 or not, x < 10 or not, the φ series or not).
        for x in [1e-9, 0.3, 7.5, 10.0, 37.0, 1e3, 2.5e4] {
            for n in [1.0, 5.0, 16.0, 17.0, 40.0, 900.0, 3e4] {
                let r = ln_rising(x, n);
                let tol = 1e-13 * r.abs().max(1.0);
                let small = ln_rising_less_n_ln_n(x, n) + (n * n.ln() - n);
                let large = ln_rising_less_n_ln_x(x, n) + n * x.ln();
                assert!(
                    (small - r).abs() < tol,
                    "less_n_ln_n x={x} n={n}: {small} vs {r}"
                );
                assert!(
                    (large - r).abs() < tol,
                    "less_n_ln_x x={x} n={n}: {large} vs {r}"
                );
            }
        }
    }

    #[test]
    fn phi_series_matches_direct_form() {
        let direct = |y: f64| (1.0 + y) * y.ln_1p() - y;
        for y in [0.01, 0.1, 0.2, 0.2499] {
            let got = one_plus_y_log_one_plus_y_less_y(y);
            assert!(
                (got / direct(y) - 1.0).abs() < 1e-12,
                "φ({y}) = {got} vs {}",
                direct(y)
            );
        }
        // Tiny y: φ = y²/2 − y³/6 + y⁴/12 − …, where the direct form has cancelled to nothing.
        let y: f64 = 1e-6;
        let want = y * y / 2.0 - y.powi(3) / 6.0 + y.powi(4) / 12.0;
        assert!((one_plus_y_log_one_plus_y_less_y(y) / want - 1.0).abs() < 1e-15);
    }

    #[test]
    fn prior_density_matches_mpmath() {
        for row in fixture()["dxi_dbeta"].as_array().unwrap() {
            let (k, beta, want) = (num(row, "k"), num(row, "beta"), num(row, "value"));
            let got = dxi_dbeta(k, beta);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "ξ'({beta}) k={k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn conditional_moments_match_mpmath() {
        for row in fixture()["nsb_conditional"].as_array().unwrap() {
            let counts = counts_of(&row["counts"]);
            let k = num(row, "k") as usize;
            let beta = num(row, "beta");
            let hist = Histogram::new(&counts, k);
            let (mean, var) = hist.conditional_moments(beta);
            assert!(
                (mean - num(row, "mean")).abs() < 1e-12,
                "{row}: mean {mean}"
            );
            assert!(
                (var.sqrt() - num(row, "std")).abs() < 1e-9,
                "{row}: std {}",
                var.sqrt()
            );
            for form in [EvidenceForm::SmallBeta, EvidenceForm::LargeBeta] {
                let lev = hist.ln_evidence_part(beta, form).0 + hist.form_offset(form);
                assert!(
                    rel_err(lev, num(row, "log_evidence")) < 1e-12,
                    "{row} {form:?}: {lev}"
                );
            }
        }
    }

    /// The acceptance test: every case against scipy / mpmath. Deterministic estimators to 1e-9
    /// absolute (all values are O(1) nats); NSB to NSB_REFERENCE_TOLERANCE absolute.
    #[test]
    fn estimators_match_reference() {
        let mut worst_deterministic: f64 = 0.0;
        let mut worst_nsb: f64 = 0.0;
        for case in fixture()["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let counts = counts_of(&case["counts"]);
            let k = num(case, "k") as usize;
            let t = tally(&counts, k).unwrap();
            let checks = [
                ("plug_in", plug_in(&counts, k).unwrap()),
                ("miller_madow", miller_madow(&counts, k).unwrap()),
                ("miller_madow_raw", miller_madow_raw(&counts, &t)),
                ("grassberger", grassberger(&counts, k).unwrap()),
                ("grassberger_raw", grassberger_raw(&counts, t.n)),
                ("chao_shen", chao_shen(&counts, k).unwrap()),
                ("chao_shen_raw", chao_shen_raw(&counts, t.n)),
            ];
            for (key, got) in checks {
                let err = (got - num(case, key)).abs();
                worst_deterministic = worst_deterministic.max(err);
                assert!(err < 1e-9, "{name} {key}: {got} vs {}", num(case, key));
            }
            let e = nsb(&counts, k).unwrap();
            let (dm, ds) = (
                (e.mean - num(case, "nsb_mean")).abs(),
                (e.std - num(case, "nsb_std")).abs(),
            );
            worst_nsb = worst_nsb.max(dm).max(ds);
            assert!(
                dm < NSB_REFERENCE_TOLERANCE,
                "{name} nsb mean {} vs {}",
                e.mean,
                case["nsb_mean"]
            );
            assert!(
                ds < NSB_REFERENCE_TOLERANCE,
                "{name} nsb std {} vs {}",
                e.std,
                case["nsb_std"]
            );
            assert_eq!(Estimator::Nsb.estimate(&counts, k).unwrap(), e.mean);
        }
        eprintln!("max |error|: deterministic {worst_deterministic:e}, nsb {worst_nsb:e}");
    }

    #[test]
    fn rejects_bad_input() {
        for e in Estimator::ALL {
            assert_eq!(e.estimate(&[], 3), Err(EstimatorError::NoObservations));
            assert_eq!(e.estimate(&[0, 0], 3), Err(EstimatorError::NoObservations));
            assert_eq!(
                e.estimate(&[1, 2, 0, 3], 2),
                Err(EstimatorError::KTooSmall { observed: 3, k: 2 })
            );
            assert_eq!(
                e.estimate(&[u64::MAX, 1], 2),
                Err(EstimatorError::CountOverflow)
            );
        }
        assert!(nsb(&[1, 1], 1).is_err());
        let err = Estimator::parse("nsb2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to parse estimator \"nsb2\": expected plug_in, miller_madow, grassberger, chao_shen or nsb"
        );
        assert!(
            EstimatorError::NoObservations
                .to_string()
                .starts_with("failed to")
        );
    }

    #[test]
    fn names_round_trip() {
        for e in Estimator::ALL {
            assert_eq!(Estimator::parse(e.as_str()), Ok(e));
            assert_eq!(e.to_string().parse::<Estimator>(), Ok(e));
        }
        assert_eq!(Estimator::parse("plug_in"), Ok(Estimator::PlugIn));
        assert_eq!(Estimator::parse("chao_shen"), Ok(Estimator::ChaoShen));
    }

    #[test]
    fn default_rule() {
        assert_eq!(Estimator::default_for(50, 101), Estimator::Nsb);
        assert_eq!(Estimator::default_for(1010, 101), Estimator::Nsb);
        assert_eq!(Estimator::default_for(u64::MAX, usize::MAX), Estimator::Nsb);
    }

    #[test]
    fn one_outcome_has_zero_entropy() {
        for e in Estimator::ALL {
            assert_eq!(e.estimate(&[7], 1), Ok(0.0), "{e}");
        }
        assert_eq!(
            nsb(&[7, 0, 0], 1),
            Ok(NsbEstimate {
                mean: 0.0,
                std: 0.0
            })
        );
    }

    #[test]
    fn nsb_large_n_matches_the_asymptotics() {
        // N = 10⁷: the posterior over β is narrow, so a quadrature that missed its peak would
        // be far off. For large N the posterior of H is ≈ Normal(plug-in, Var[ln p]/N).
        let counts = [6_000_000u64, 3_000_000, 1_000_000];
        let e = nsb(&counts, 3).unwrap();
        let p = [0.6f64, 0.3, 0.1];
        let h: f64 = p.iter().map(|x| -x * x.ln()).sum();
        let m2: f64 = p.iter().map(|x| x * x.ln() * x.ln()).sum();
        let sd = ((m2 - h * h) / 1e7).sqrt();
        assert!((e.mean - h).abs() < 1e-6, "mean {} vs {h}", e.mean);
        assert!((e.std / sd - 1.0).abs() < 0.01, "std {} vs {sd}", e.std);
        // Exactly uniform counts push the posterior towards β → ∞; it must stay finite.
        let e = nsb(&[1_000_000; 101], 101).unwrap();
        assert!(
            (e.mean - 101f64.ln()).abs() < 1e-4 && e.std.is_finite(),
            "{e:?}"
        );
    }

    fn shuffled(counts: &[u64], seed: u64) -> Vec<u64> {
        let mut v = counts.to_vec();
        Rng::seeded(seed).shuffle(&mut v);
        v
    }

    /// Non-empty counts with at least one non-zero entry, and a k that admits them.
    fn counts_and_k(max_count: u64) -> impl Strategy<Value = (Vec<u64>, usize)> {
        (prop::collection::vec(0..=max_count, 1..12), 0usize..40).prop_map(|(mut c, extra)| {
            if c.iter().all(|&x| x == 0) {
                c[0] = 1;
            }
            let k = c.iter().filter(|&&x| x > 0).count() + extra;
            (c, k)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn plug_in_in_range_and_miller_madow_above((counts, k) in counts_and_k(60)) {
            let ln_k = (k as f64).ln();
            let pi = plug_in(&counts, k).unwrap();
            prop_assert!((0.0..=ln_k).contains(&pi));
            prop_assert!(miller_madow(&counts, k).unwrap() >= pi);
        }

        #[test]
        fn invariant_under_permutation((counts, k) in counts_and_k(60), seed in any::<u64>()) {
            let other = shuffled(&counts, seed);
            for e in Estimator::ALL {
                let (a, b) = (e.estimate(&counts, k).unwrap(), e.estimate(&other, k).unwrap());
                prop_assert!((a - b).abs() < 1e-12, "{e}: {a} vs {b}");
            }
            let (a, b) = (nsb(&counts, k).unwrap(), nsb(&other, k).unwrap());
            prop_assert!((a.std - b.std).abs() < 1e-12);
        }

        #[test]
        fn nsb_in_range((counts, k) in counts_and_k(200)) {
            let ln_k = (k as f64).ln();
            let e = nsb(&counts, k).unwrap();
            prop_assert!(e.mean >= 0.0 && e.mean <= ln_k, "{e:?}");
            prop_assert!(e.std >= 0.0 && e.std.is_finite(), "{e:?}");
            // The unclipped posterior mean is itself inside (a mixture of E[H | β] ∈ [0, ln k]).
            if k > 1 {
                let (mean, _) = nsb_moments(&Histogram::new(&counts, k));
                prop_assert!(mean >= -1e-12 && mean <= ln_k + 1e-12, "{mean} vs ln k {ln_k}");
            }
        }

        #[test]
        fn all_finite_and_clipped(
            counts in prop::collection::vec(prop_oneof![Just(0u64), 1u64..4, 1u64..1_000_000_000], 1..8),
            extra in prop_oneof![0usize..3, 0usize..100_000],
        ) {
            let mut counts = counts;
            if counts.iter().all(|&x| x == 0) {
                counts[0] = 1;
            }
            let k = counts.iter().filter(|&&x| x > 0).count() + extra;
            let ln_k = (k as f64).ln();
            for e in Estimator::ALL {
                let h = e.estimate(&counts, k).unwrap();
                prop_assert!(h.is_finite() && (0.0..=ln_k).contains(&h), "{e} {counts:?} k={k}: {h}");
            }
            prop_assert!(nsb(&counts, k).unwrap().std.is_finite());
        }
    }
}
