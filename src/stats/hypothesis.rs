//! Hypothesis tests: comparing count distributions, paired comparisons, equivalence, multiplicity.
//!
//! What:
//! - two-sample and r-sample comparisons of category counts: a label-permutation test
//!   ([`permutation_test`]), the asymptotic chi-square and G tests of homogeneity
//!   ([`chi_square_homogeneity`], [`g_test_homogeneity`]) with a rule for when they are
//!   unreliable ([`asymptotic_unreliable`]), and their Monte Carlo conditional version
//!   ([`monte_carlo_conditional`]);
//! - paired comparisons across prompts: [`paired_t`], [`wilcoxon_signed_rank_exact`],
//!   [`sign_test`], and the prompt-clustered bootstrap [`cluster_bootstrap_mean_diff`];
//! - equivalence and non-inferiority (TOST): [`tost_equivalence`], [`non_inferiority`] and their
//!   interval forms;
//! - adjusted p-values: [`holm`], [`benjamini_hochberg`].
//!
//! Why: "model B is as diverse as model A" and "the fine-tune collapsed the distribution" are
//! claims about two distributions measured with noise; these are the standard tests for them,
//! written so that every number is reproducible (our own seeded [`Rng`], never the `rand` crate).
//!
//! Conventions: natural logarithms (entropies in nats); count tables are given as rows =
//! samples, columns = categories; a category whose column total is zero carries no
//! information and is dropped before any computation; differences are `x − y` (new minus
//! reference); Monte Carlo p-values are (1 + #{T* ≥ T}) / (1 + B), never 0. Bad input is a
//! [`HypothesisError`], never a panic.

use statrs::distribution::{Binomial, ChiSquared, ContinuousCDF, DiscreteCDF, StudentsT};
use statrs::function::gamma::checked_gamma_ur;

use crate::stats::rng::Rng;
use crate::stats::{entropy_nats, normalized};

/// The most pooled observations a resampling test will hold in memory (one `u32` label each,
/// so at most 40 MB). Beyond that, use the asymptotic tests (after [`asymptotic_unreliable`]).
pub const MAX_POOLED_OBSERVATIONS: u64 = 10_000_000;

/// The smallest expected count at which [`asymptotic_unreliable`] trusts the chi-square
/// approximation (see there for the rule).
pub const MIN_EXPECTED_COUNT: f64 = 5.0;

/// Above this many non-zero differences [`wilcoxon_signed_rank_exact`] uses the normal
/// approximation: the exact recursion costs O(n³), and at this size the approximation's error
/// is far below anything a p-value is used for.
pub const MAX_EXACT_WILCOXON: usize = 1000;

/// Bad input to a test.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HypothesisError {
    /// Rows of a count table (or the two samples) have different numbers of categories.
    #[error("failed to compare samples: sample {row} has {got} categories, expected {expected}")]
    CategoryMismatch {
        /// The offending sample (row), 0-based.
        row: usize,
        /// Categories in that row.
        got: usize,
        /// Categories in the first row.
        expected: usize,
    },
    /// A sample has no observations at all.
    #[error("failed to compare samples: sample {0} has no observations")]
    EmptySample(usize),
    /// A homogeneity test needs at least two samples.
    #[error("failed to compare samples: need at least two samples, got {0}")]
    TooFewSamples(usize),
    /// There are no categories.
    #[error("failed to compare samples: there are no categories")]
    NoCategories,
    /// The counts do not fit in a `u64` when summed.
    #[error("failed to compare samples: the total count overflows")]
    Overflow,
    /// A resampling test would need more memory than [`MAX_POOLED_OBSERVATIONS`] allows.
    #[error(
        "failed to resample: {0} pooled observations exceed the limit of {MAX_POOLED_OBSERVATIONS}; use the asymptotic test"
    )]
    TooManyObservations(u64),
    /// Zero resamples were asked for.
    #[error("failed to resample: the number of resamples must be at least 1")]
    NoResamples,
    /// Paired arrays of different lengths.
    #[error("failed to pair values: {left} against {right}")]
    LengthMismatch {
        /// Length of the first array.
        left: usize,
        /// Length of the second array.
        right: usize,
    },
    /// Too few values for the test.
    #[error("failed to test: need at least {needed} values, got {got}")]
    TooFewValues {
        /// The minimum.
        needed: usize,
        /// What was given.
        got: usize,
    },
    /// A value is infinite or NaN.
    #[error("failed to test: value {value} at index {index} is not finite")]
    NonFinite {
        /// Index of the offending value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// All paired differences are equal, so the t statistic is 0/0.
    #[error("failed to run the paired t-test: every difference is zero")]
    ZeroVariance,
    /// Every difference is zero, so a signed test has nothing to rank.
    #[error("failed to test: every difference is zero")]
    AllZero,
    /// A significance level outside the allowed range.
    #[error("failed to test: alpha {value} is outside (0, {upper})")]
    InvalidAlpha {
        /// The level given.
        value: f64,
        /// The exclusive upper end of the allowed range.
        upper: f64,
    },
    /// A confidence level outside (0, 1).
    #[error("failed to build an interval: level {0} is outside (0, 1)")]
    InvalidLevel(f64),
    /// A standard error that is not a positive finite number.
    #[error("failed to test: standard error {0} is not a positive finite number")]
    InvalidStandardError(f64),
    /// A margin that is not a positive finite number.
    #[error("failed to test: margin {0} is not a positive finite number")]
    InvalidMargin(f64),
    /// An estimate that is not finite.
    #[error("failed to test: estimate {0} is not finite")]
    InvalidEstimate(f64),
    /// An interval whose ends are not finite or not ordered.
    #[error("failed to test: [{lower}, {upper}] is not an interval")]
    InvalidInterval {
        /// Lower end.
        lower: f64,
        /// Upper end.
        upper: f64,
    },
    /// A p-value outside [0, 1] or NaN.
    #[error("failed to adjust p-values: {value} at index {index} is not in [0, 1]")]
    InvalidPValue {
        /// Index of the offending p-value.
        index: usize,
        /// The value.
        value: f64,
    },
}

type Result<T> = std::result::Result<T, HypothesisError>;

/// How a [`TestResult`]'s p-value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PValueMethod {
    /// The asymptotic chi-square distribution of the statistic.
    ChiSquare,
    /// Student's t distribution (exact under normal differences).
    StudentT,
    /// The normal approximation (for the signed-rank test: with tie correction, no continuity
    /// correction).
    Normal,
    /// The exact null distribution.
    Exact,
    /// Monte Carlo resampling with this many resamples.
    MonteCarlo {
        /// Number of resampled statistics.
        resamples: usize,
    },
}

/// The outcome of a test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The observed statistic (its meaning is documented on each test).
    pub statistic: f64,
    /// The p-value, in (0, 1] for Monte Carlo tests and [0, 1] otherwise.
    pub p_value: f64,
    /// Degrees of freedom of the reference distribution, where it has any.
    pub df: Option<f64>,
    /// How the p-value was computed.
    pub method: PValueMethod,
    /// Observations the test used: total count for count tests, pairs for [`paired_t`],
    /// non-zero differences for [`wilcoxon_signed_rank_exact`] and [`sign_test`].
    pub n: u64,
}

// ---------------------------------------------------------------------------------------------
// Count tables
// ---------------------------------------------------------------------------------------------

/// A validated count table with its all-zero columns dropped.
struct Table {
    counts: Vec<Vec<u64>>,
    row_totals: Vec<u64>,
    col_totals: Vec<u64>,
    total: u64,
}

impl Table {
    fn new<R: AsRef<[u64]>>(rows: &[R]) -> Result<Table> {
        if rows.len() < 2 {
            return Err(HypothesisError::TooFewSamples(rows.len()));
        }
        let width = rows[0].as_ref().len();
        if width == 0 {
            return Err(HypothesisError::NoCategories);
        }
        let mut col_totals = vec![0u64; width];
        let mut row_totals = Vec::with_capacity(rows.len());
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != width {
                return Err(HypothesisError::CategoryMismatch {
                    row,
                    got: r.len(),
                    expected: width,
                });
            }
            let mut sum = 0u64;
            for (col, &c) in col_totals.iter_mut().zip(r) {
                *col = col.checked_add(c).ok_or(HypothesisError::Overflow)?;
                sum = sum.checked_add(c).ok_or(HypothesisError::Overflow)?;
            }
            if sum == 0 {
                return Err(HypothesisError::EmptySample(row));
            }
            row_totals.push(sum);
        }
        let total = row_totals
            .iter()
            .try_fold(0u64, |a, &b| a.checked_add(b))
            .ok_or(HypothesisError::Overflow)?;
        // A category nobody observed has expected count 0 in every row: it contributes nothing
        // to either statistic and no degree of freedom (scipy refuses such tables outright).
        let keep: Vec<usize> = (0..width).filter(|&j| col_totals[j] > 0).collect();
        let counts = rows
            .iter()
            .map(|r| keep.iter().map(|&j| r.as_ref()[j]).collect())
            .collect();
        let col_totals = keep.iter().map(|&j| col_totals[j]).collect();
        Ok(Table {
            counts,
            row_totals,
            col_totals,
            total,
        })
    }

    fn expected(&self, i: usize, j: usize) -> f64 {
        self.row_totals[i] as f64 * self.col_totals[j] as f64 / self.total as f64
    }

    fn df(&self) -> u64 {
        (self.counts.len() as u64 - 1) * (self.col_totals.len() as u64 - 1)
    }

    /// Pearson's X² = Σ (O − E)²/E.
    fn chi_square(&self, counts: &[Vec<u64>]) -> f64 {
        let mut x2 = 0.0;
        for (i, row) in counts.iter().enumerate() {
            for (j, &o) in row.iter().enumerate() {
                let e = self.expected(i, j);
                x2 += (o as f64 - e).powi(2) / e;
            }
        }
        x2
    }

    /// The likelihood-ratio statistic G = 2 Σ O ln(O/E) (terms with O = 0 are 0).
    fn g(&self, counts: &[Vec<u64>]) -> f64 {
        let mut g = 0.0;
        for (i, row) in counts.iter().enumerate() {
            for (j, &o) in row.iter().enumerate() {
                if o > 0 {
                    let o = o as f64;
                    g += o * (o / self.expected(i, j)).ln();
                }
            }
        }
        // G ≥ 0 exactly (it is 2N times a KL divergence); rounding can leave −1e-16.
        (2.0 * g).max(0.0)
    }

    /// |H(row 0) − H(row 1)| with plug-in (maximum-likelihood) entropies.
    fn abs_entropy_difference(counts: &[Vec<u64>]) -> f64 {
        let h = |row: &[u64]| {
            entropy_nats(&normalized(
                &row.iter().map(|&c| c as f64).collect::<Vec<_>>(),
            ))
        };
        (h(&counts[0]) - h(&counts[1])).abs()
    }

    /// The number of resampled tables whose statistic is at least the observed one, among
    /// `resamples` random tables with both margins fixed.
    ///
    /// A random table with fixed margins is drawn by shuffling the pooled category labels and
    /// dealing them out to the samples in order: under the null that the samples come from one
    /// distribution, every assignment of labels to samples is equally likely (exchangeability),
    /// and the row totals (sample sizes) and column totals (pooled counts) are unchanged.
    fn count_at_least(
        &self,
        observed: f64,
        resamples: usize,
        seed: u64,
        statistic: impl Fn(&Table, &[Vec<u64>]) -> f64,
    ) -> Result<usize> {
        if resamples == 0 {
            return Err(HypothesisError::NoResamples);
        }
        if self.total > MAX_POOLED_OBSERVATIONS {
            return Err(HypothesisError::TooManyObservations(self.total));
        }
        let mut labels: Vec<u32> = Vec::with_capacity(self.total as usize);
        for (j, &c) in self.col_totals.iter().enumerate() {
            labels.extend(std::iter::repeat_n(j as u32, c as usize));
        }
        // Statistics of mirror-image tables can differ in the last bits; count those as ties,
        // as R's chisq.test does, so rounding never makes a p-value smaller than it should be.
        let threshold = observed - 1e-10 * observed.abs().max(1.0);
        let mut rng = Rng::seeded(seed);
        let mut counts = vec![vec![0u64; self.col_totals.len()]; self.counts.len()];
        let mut hits = 0;
        for _ in 0..resamples {
            // Shuffling the already-shuffled labels again still gives a uniform permutation.
            rng.shuffle(&mut labels);
            let mut start = 0usize;
            for (row, &n) in counts.iter_mut().zip(&self.row_totals) {
                row.iter_mut().for_each(|c| *c = 0);
                for &label in &labels[start..start + n as usize] {
                    row[label as usize] += 1;
                }
                start += n as usize;
            }
            if statistic(self, &counts) >= threshold {
                hits += 1;
            }
        }
        Ok(hits)
    }
}

fn monte_carlo_p(hits: usize, resamples: usize) -> f64 {
    (1 + hits) as f64 / (1 + resamples) as f64
}

/// The statistic of a two-sample [`permutation_test`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoSampleStatistic {
    /// |H(a) − H(b)| with plug-in entropies in nats: sensitive to a change of diversity.
    AbsEntropyDifference,
    /// The G (likelihood-ratio) statistic of the 2 × c table: sensitive to any change.
    G,
}

/// The statistic of a [`monte_carlo_conditional`] test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStatistic {
    /// Pearson's X².
    ChiSquare,
    /// The likelihood-ratio statistic G.
    G,
}

/// A two-sample permutation test on category counts `a` and `b` (same categories, same order).
///
/// The null hypothesis is that the two samples come from the SAME distribution, so that the
/// sample labels are exchangeable — it is a test of equality of distributions, NOT of equality
/// of entropies: two different distributions with equal entropy violate the null, and the
/// [`TwoSampleStatistic::AbsEntropyDifference`] statistic merely aims the test's power at
/// differences in diversity. The p-value is (1 + #{T* ≥ T}) / (1 + `resamples`) over
/// relabelled samples drawn with a generator seeded by `seed`. `statistic` in the result is
/// the observed T.
pub fn permutation_test(
    a: &[u64],
    b: &[u64],
    statistic: TwoSampleStatistic,
    resamples: usize,
    seed: u64,
) -> Result<TestResult> {
    let table = Table::new(&[a, b])?;
    let stat = move |t: &Table, counts: &[Vec<u64>]| match statistic {
        TwoSampleStatistic::AbsEntropyDifference => Table::abs_entropy_difference(counts),
        TwoSampleStatistic::G => t.g(counts),
    };
    let observed = stat(&table, &table.counts);
    let hits = table.count_at_least(observed, resamples, seed, stat)?;
    Ok(TestResult {
        statistic: observed,
        p_value: monte_carlo_p(hits, resamples),
        df: None,
        method: PValueMethod::MonteCarlo { resamples },
        n: table.total,
    })
}

fn asymptotic(table: &Table, statistic: f64) -> TestResult {
    let df = table.df();
    let p_value = if df == 0 {
        // One category observed (or one sample): the samples cannot differ.
        1.0
    } else {
        // df ≥ 1, so the distribution exists.
        ChiSquared::new(df as f64)
            .map(|d| d.sf(statistic))
            .unwrap_or(f64::NAN)
    };
    TestResult {
        statistic,
        p_value,
        df: Some(df as f64),
        method: PValueMethod::ChiSquare,
        n: table.total,
    }
}

/// Pearson's chi-square test of homogeneity of `table` (rows = samples, columns = categories).
///
/// Statistic X² = Σ (O − E)²/E with E = row total × column total / N; degrees of freedom
/// (r − 1)(c′ − 1) where c′ counts the categories with a non-zero column total; p-value from
/// the chi-square survival function. No continuity correction (as
/// `scipy.stats.chi2_contingency(table, correction=False)`). Check [`asymptotic_unreliable`]
/// first, and use [`monte_carlo_conditional`] when it says so.
pub fn chi_square_homogeneity<R: AsRef<[u64]>>(table: &[R]) -> Result<TestResult> {
    let table = Table::new(table)?;
    let x2 = table.chi_square(&table.counts);
    Ok(asymptotic(&table, x2))
}

/// The G (likelihood-ratio) test of homogeneity: G = 2 Σ O ln(O/E), otherwise as
/// [`chi_square_homogeneity`] (`scipy.stats.chi2_contingency(table, correction=False,
/// lambda_="log-likelihood")`). G equals 2N times the mutual information, in nats, between
/// sample and category.
pub fn g_test_homogeneity<R: AsRef<[u64]>>(table: &[R]) -> Result<TestResult> {
    let table = Table::new(table)?;
    let g = table.g(&table.counts);
    Ok(asymptotic(&table, g))
}

/// The smallest expected count E = row total × column total / N over the categories with a
/// non-zero column total.
pub fn min_expected_count<R: AsRef<[u64]>>(table: &[R]) -> Result<f64> {
    let table = Table::new(table)?;
    let mut min = f64::INFINITY;
    for i in 0..table.counts.len() {
        for j in 0..table.col_totals.len() {
            min = min.min(table.expected(i, j));
        }
    }
    Ok(min)
}

/// Whether the chi-square approximation behind [`chi_square_homogeneity`] and
/// [`g_test_homogeneity`] should not be trusted for `table`.
///
/// The rule: unreliable when any expected count (over categories with a non-zero column
/// total) is below [`MIN_EXPECTED_COUNT`] = 5. This is deliberately stricter than Cochran's
/// (1954) rule (no expected count below 1 and at most 20% below 5), because the G statistic's
/// approximation degrades sooner than Pearson's; when it fires, use [`monte_carlo_conditional`],
/// which is valid for any counts.
pub fn asymptotic_unreliable<R: AsRef<[u64]>>(table: &[R]) -> Result<bool> {
    Ok(min_expected_count(table)? < MIN_EXPECTED_COUNT)
}

/// The Monte Carlo conditional test of homogeneity: the p-value of `statistic` computed over
/// `resamples` random tables with both margins fixed (drawn by permuting the pooled labels;
/// the null is that all samples come from one distribution), (1 + #{T* ≥ T}) / (1 + B).
///
/// Valid whatever the expected counts, which is why it is the fallback when
/// [`asymptotic_unreliable`] says so. `df` in the result is that of the asymptotic test, for
/// reference.
pub fn monte_carlo_conditional<R: AsRef<[u64]>>(
    table: &[R],
    statistic: TableStatistic,
    resamples: usize,
    seed: u64,
) -> Result<TestResult> {
    let table = Table::new(table)?;
    let stat = move |t: &Table, counts: &[Vec<u64>]| match statistic {
        TableStatistic::ChiSquare => t.chi_square(counts),
        TableStatistic::G => t.g(counts),
    };
    let observed = stat(&table, &table.counts);
    let hits = table.count_at_least(observed, resamples, seed, stat)?;
    Ok(TestResult {
        statistic: observed,
        p_value: monte_carlo_p(hits, resamples),
        df: Some(table.df() as f64),
        method: PValueMethod::MonteCarlo { resamples },
        n: table.total,
    })
}

// ---------------------------------------------------------------------------------------------
// Paired comparisons
// ---------------------------------------------------------------------------------------------

fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(HypothesisError::NonFinite {
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

fn mean_and_sd(d: &[f64]) -> (f64, f64) {
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n;
    // Two passes: the one-pass formula loses everything when the spread is small.
    let ss: f64 = d.iter().map(|x| (x - mean).powi(2)).sum();
    (mean, (ss / (n - 1.0)).sqrt())
}

/// P(|Z| ≥ |z|) for a standard normal Z, as the chi-square(1) tail Q(½, z²/2).
///
/// Why not statrs' `erfc` (or `Normal`, which uses it): in statrs 0.19 it is off by up to
/// ~1e-10 relative (erfc(0.5) by 5e-11, against mpmath), while the regularised incomplete gamma
/// function agrees with scipy to ~1e-15 and has no cancellation in the tail.
fn normal_two_sided(z: f64) -> f64 {
    let x = 0.5 * z * z;
    if x == 0.0 {
        1.0
    } else if x.is_infinite() {
        0.0
    } else {
        // a = ½ and 0 < x < ∞ are valid arguments.
        checked_gamma_ur(0.5, x).unwrap_or(f64::NAN)
    }
}

/// P(Z ≥ z) for a standard normal Z (half of the two-sided tail, reflected for z < 0).
fn normal_sf(z: f64) -> f64 {
    let half = 0.5 * normal_two_sided(z);
    if z >= 0.0 { half } else { 1.0 - half }
}

/// The paired t-test of mean(x − y) = 0 (`scipy.stats.ttest_rel(x, y)`).
///
/// Statistic t = mean(d) / (sd(d)/√n) with the n − 1 sample standard deviation, `df` = n − 1,
/// two-sided p-value from Student's t. Needs n ≥ 2. If every difference is the same non-zero
/// number the statistic is ±∞ and p = 0 (as scipy); if every difference is zero the test is
/// undefined and this is an error.
pub fn paired_t(x: &[f64], y: &[f64]) -> Result<TestResult> {
    if x.len() != y.len() {
        return Err(HypothesisError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(HypothesisError::TooFewValues {
            needed: 2,
            got: x.len(),
        });
    }
    check_finite(x)?;
    check_finite(y)?;
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    check_finite(&d)?;
    let n = d.len();
    let (mean, sd) = mean_and_sd(&d);
    let df = (n - 1) as f64;
    let (statistic, p_value) = if sd == 0.0 {
        if mean == 0.0 {
            return Err(HypothesisError::ZeroVariance);
        }
        (mean.signum() * f64::INFINITY, 0.0)
    } else {
        let t = mean / (sd / (n as f64).sqrt());
        // The unit t distribution exists for every df ≥ 1.
        let p = StudentsT::new(0.0, 1.0, df)
            .map(|dist| 2.0 * dist.sf(t.abs()))
            .unwrap_or(f64::NAN);
        (t, p.min(1.0))
    };
    Ok(TestResult {
        statistic,
        p_value,
        df: Some(df),
        method: PValueMethod::StudentT,
        n: n as u64,
    })
}

/// Ranks 1..=n of `values` (all positive), ties sharing their average rank, and Σ (t³ − t)
/// over tie groups of size t.
fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean is below.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        let t = (end - start) as f64;
        tie_sum += t * t * t - t;
        start = end;
    }
    (ranks, tie_sum)
}

/// P(R⁺ ≤ k) under the signed-rank null for n untied ranks: every one of the 2ⁿ sign patterns
/// is equally likely. Dynamic programming over ranks i = 1..n of the distribution of the sum
/// of the positive ranks, kept only up to k (all that is needed), with each step halving so the
/// table holds probabilities rather than counts that would overflow.
fn signed_rank_cdf(n: usize, k: usize) -> f64 {
    let mut dist = vec![0.0f64; k + 1];
    dist[0] = 1.0;
    for i in 1..=n {
        for s in (0..=k).rev() {
            let with_i = if s >= i { dist[s - i] } else { 0.0 };
            dist[s] = 0.5 * (dist[s] + with_i);
        }
    }
    dist.iter().sum::<f64>().min(1.0)
}

/// The rank sum of the positive differences, with what the tests need beside it.
struct SignedRanks {
    /// Non-zero differences.
    n: usize,
    /// Sum of the (average) ranks of |d| over the positive differences.
    r_plus: f64,
    /// Σ(t³ − t) over groups of tied |d|.
    tie_sum: f64,
}

/// Drops zeros (Wilcoxon's convention) and ranks |d| with average ranks for ties.
fn signed_ranks(d: &[f64]) -> Result<SignedRanks> {
    check_finite(d)?;
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    if nonzero.is_empty() {
        return Err(HypothesisError::AllZero);
    }
    let abs: Vec<f64> = nonzero.iter().map(|x| x.abs()).collect();
    let (ranks, tie_sum) = average_ranks(&abs);
    let r_plus = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    Ok(SignedRanks {
        n: nonzero.len(),
        r_plus,
        tie_sum,
    })
}

/// The Wilcoxon signed-rank test of symmetry about zero of the paired differences `d`.
///
/// Zeros are dropped first (Wilcoxon's convention; scipy's `zero_method='wilcox'`), leaving n
/// differences ranked by absolute value. The statistic is min(R⁺, R⁻), the smaller of the rank
/// sums of the positive and negative differences (scipy's two-sided statistic).
///
/// Without ties among |d| (and n ≤ [`MAX_EXACT_WILCOXON`]) the two-sided p-value
/// 2·P(R⁺ ≤ min(R⁺, R⁻)) (capped at 1) comes from the exact null distribution, computed by
/// dynamic programming over the ranks (`scipy.stats.wilcoxon(d, method='exact')`), and
/// `method` is [`PValueMethod::Exact`]. With ties the exact distribution does not apply to
/// average ranks, so the test falls back to the normal approximation with the tie-corrected
/// variance n(n+1)(2n+1)/24 − Σ(t³ − t)/48 and no continuity correction
/// (`scipy.stats.wilcoxon(d, method='asymptotic')`), and says so with `method` =
/// [`PValueMethod::Normal`].
pub fn wilcoxon_signed_rank_exact(d: &[f64]) -> Result<TestResult> {
    let SignedRanks { n, r_plus, tie_sum } = signed_ranks(d)?;
    let nf = n as f64;
    let total = nf * (nf + 1.0) / 2.0;
    let r_minus = total - r_plus;
    let statistic = r_plus.min(r_minus);
    if tie_sum == 0.0 && n <= MAX_EXACT_WILCOXON {
        // Untied ranks are 1..=n, so the rank sums are integers.
        let k = statistic.round() as usize;
        let p_value = (2.0 * signed_rank_cdf(n, k)).min(1.0);
        return Ok(TestResult {
            statistic,
            p_value,
            df: None,
            method: PValueMethod::Exact,
            n: n as u64,
        });
    }
    let mean = total / 2.0;
    let variance = (nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie_sum / 2.0) / 24.0;
    let z = (r_plus - mean) / variance.sqrt();
    Ok(TestResult {
        statistic,
        p_value: normal_two_sided(z).min(1.0),
        df: None,
        method: PValueMethod::Normal,
        n: n as u64,
    })
}

/// The one-sided Wilcoxon signed-rank test: H₁ that the differences lean positive
/// (`greater`) or negative. Same zero and tie conventions as [`wilcoxon_signed_rank_exact`];
/// the statistic is R⁺ and the p-value P(R⁺ ≥ r⁺) (or P(R⁺ ≤ r⁺)) under the null, exact
/// without ties, else from the normal approximation
/// (`scipy.stats.wilcoxon(d, alternative='greater' | 'less')`). With n differences the
/// smallest attainable p-value is 2⁻ⁿ: four prompts can never show p < 0.05.
pub fn wilcoxon_signed_rank_one_sided(d: &[f64], greater: bool) -> Result<TestResult> {
    let SignedRanks { n, r_plus, tie_sum } = signed_ranks(d)?;
    let nf = n as f64;
    let total = nf * (nf + 1.0) / 2.0;
    if tie_sum == 0.0 && n <= MAX_EXACT_WILCOXON {
        // P(R⁺ ≥ r) = P(R⁺ ≤ total − r) by the symmetry of the null distribution.
        let k = if greater { total - r_plus } else { r_plus };
        return Ok(TestResult {
            statistic: r_plus,
            p_value: signed_rank_cdf(n, k.round() as usize),
            df: None,
            method: PValueMethod::Exact,
            n: n as u64,
        });
    }
    let variance = (nf * (nf + 1.0) * (2.0 * nf + 1.0) - tie_sum / 2.0) / 24.0;
    let z = (r_plus - total / 2.0) / variance.sqrt();
    let z = if greater { z } else { -z };
    Ok(TestResult {
        statistic: r_plus,
        p_value: normal_sf(z),
        df: None,
        method: PValueMethod::Normal,
        n: n as u64,
    })
}

/// The exact two-sided sign test: under the null each non-zero difference is positive with
/// probability ½ (`scipy.stats.binomtest(k, n, 0.5)`).
///
/// Zeros are dropped. The statistic is k, the number of positive differences (scipy reports
/// k/n); the p-value is min(1, 2·P(X ≤ min(k, n − k))) for X ~ Binomial(n, ½), which is what
/// scipy's "outcomes no more likely than the observed one" rule gives for p = ½.
pub fn sign_test(d: &[f64]) -> Result<TestResult> {
    check_finite(d)?;
    let n = d.iter().filter(|&&x| x != 0.0).count() as u64;
    if n == 0 {
        return Err(HypothesisError::AllZero);
    }
    let k = d.iter().filter(|&&x| x > 0.0).count() as u64;
    let tail = k.min(n - k);
    // n ≥ 1 and p = ½ are always valid parameters.
    let p = Binomial::new(0.5, n)
        .map(|b| b.cdf(tail))
        .unwrap_or(f64::NAN);
    Ok(TestResult {
        statistic: k as f64,
        p_value: (2.0 * p).min(1.0),
        df: None,
        method: PValueMethod::Exact,
        n,
    })
}

/// The result of [`cluster_bootstrap_mean_diff`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterBootstrap {
    /// Mean of the per-prompt differences (each prompt weighs the same).
    pub mean: f64,
    /// The clustered (prompt-level) standard error sd/√n, with the n − 1 standard deviation.
    pub standard_error: f64,
    /// The standard deviation of the bootstrap means (n − 1 denominator over resamples); it
    /// estimates the same quantity as `standard_error`.
    pub bootstrap_standard_error: f64,
    /// Lower end of the percentile interval.
    pub lower: f64,
    /// Upper end of the percentile interval.
    pub upper: f64,
    /// The interval's nominal coverage.
    pub level: f64,
    /// Number of prompts.
    pub prompts: usize,
    /// Number of bootstrap resamples.
    pub resamples: usize,
}

/// Linear interpolation between order statistics ("type 7", numpy's default quantile).
fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Mean paired difference across prompts with a prompt-clustered standard error and a
/// bootstrap percentile interval.
///
/// `diffs_by_prompt[i]` is the difference (new − reference) measured on prompt i, already
/// averaged over that prompt's samples. Samples from one prompt are correlated, so the unit of
/// independent replication is the prompt: following Miller (2024), "Adding Error Bars to Evals:
/// A Statistical Approach to Language Model Evaluations" (arXiv:2411.00640), we compare models
/// by paired differences and compute the standard error over clusters (prompts), which with one
/// paired difference per cluster is sd/√n. The bootstrap resamples prompts with replacement
/// `b` times (seeded by `seed`) and reports the (1 − level)/2 and (1 + level)/2 quantiles of
/// the resampled means (type-7 interpolation). Needs at least two prompts.
pub fn cluster_bootstrap_mean_diff(
    diffs_by_prompt: &[f64],
    b: usize,
    seed: u64,
    level: f64,
) -> Result<ClusterBootstrap> {
    let n = diffs_by_prompt.len();
    if n < 2 {
        return Err(HypothesisError::TooFewValues { needed: 2, got: n });
    }
    check_finite(diffs_by_prompt)?;
    if b == 0 {
        return Err(HypothesisError::NoResamples);
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(HypothesisError::InvalidLevel(level));
    }
    let (mean, sd) = mean_and_sd(diffs_by_prompt);
    let mut rng = Rng::seeded(seed);
    let mut means: Vec<f64> = (0..b)
        .map(|_| {
            (0..n)
                .map(|_| diffs_by_prompt[rng.below(n as u64) as usize])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let bootstrap_standard_error = if b > 1 { mean_and_sd(&means).1 } else { 0.0 };
    means.sort_by(f64::total_cmp);
    Ok(ClusterBootstrap {
        mean,
        standard_error: sd / (n as f64).sqrt(),
        bootstrap_standard_error,
        lower: quantile_sorted(&means, (1.0 - level) / 2.0),
        upper: quantile_sorted(&means, (1.0 + level) / 2.0),
        level,
        prompts: n,
        resamples: b,
    })
}

// ---------------------------------------------------------------------------------------------
// Equivalence and non-inferiority
// ---------------------------------------------------------------------------------------------

fn check_normal_inputs(estimate: f64, se: f64, margin: f64) -> Result<()> {
    if !estimate.is_finite() {
        return Err(HypothesisError::InvalidEstimate(estimate));
    }
    if !(se.is_finite() && se > 0.0) {
        return Err(HypothesisError::InvalidStandardError(se));
    }
    check_margin(margin)
}

fn check_margin(margin: f64) -> Result<()> {
    if !(margin.is_finite() && margin > 0.0) {
        return Err(HypothesisError::InvalidMargin(margin));
    }
    Ok(())
}

fn check_interval(lower: f64, upper: f64) -> Result<()> {
    if !(lower.is_finite() && upper.is_finite() && lower <= upper) {
        return Err(HypothesisError::InvalidInterval { lower, upper });
    }
    Ok(())
}

/// The result of [`tost_equivalence`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tost {
    /// p-value of the test of H₀: d ≤ −margin against d > −margin.
    pub p_lower: f64,
    /// p-value of the test of H₀: d ≥ margin against d < margin.
    pub p_upper: f64,
    /// max(p_lower, p_upper), the TOST p-value.
    pub p_value: f64,
    /// Whether both one-sided tests reject at α, i.e. `p_value < alpha`: the difference is
    /// shown to lie within (−margin, margin).
    pub equivalent: bool,
}

/// Two one-sided tests (Schuirmann 1987) of equivalence: is the true difference d within
/// (−margin, margin)?
///
/// `estimate` is d̂ with a normal sampling distribution of standard error `se`. The lower test
/// rejects H₀: d ≤ −margin when p_lower = P(Z ≥ (d̂ + margin)/se) < α, the upper rejects
/// H₀: d ≥ margin when p_upper = P(Z ≤ (d̂ − margin)/se) < α, and equivalence holds iff both
/// reject; the TOST p-value is the larger of the two.
///
/// Consistency (tested): equivalence at α holds exactly when the (1 − 2α) confidence interval
/// d̂ ± z₁₋α·se lies inside (−margin, margin) — which is [`equivalence_from_interval`], the form
/// to use when only such an interval is available. `alpha` must be in (0, ½) so that the
/// interval exists.
pub fn tost_equivalence(estimate: f64, se: f64, margin: f64, alpha: f64) -> Result<Tost> {
    check_normal_inputs(estimate, se, margin)?;
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(HypothesisError::InvalidAlpha {
            value: alpha,
            upper: 0.5,
        });
    }
    let p_lower = normal_sf((estimate + margin) / se);
    let p_upper = normal_sf((margin - estimate) / se);
    let p_value = p_lower.max(p_upper);
    Ok(Tost {
        p_lower,
        p_upper,
        p_value,
        equivalent: p_value < alpha,
    })
}

/// Equivalence from a (1 − 2α) confidence interval [lower, upper] for the difference: holds
/// iff the interval lies strictly inside (−margin, margin). Same decision as
/// [`tost_equivalence`] at α.
pub fn equivalence_from_interval(lower: f64, upper: f64, margin: f64) -> Result<bool> {
    check_interval(lower, upper)?;
    check_margin(margin)?;
    Ok(lower > -margin && upper < margin)
}

/// Which way a difference d = new − reference is good, for [`non_inferiority`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger d is better (e.g. more entropy when guarding against collapse): non-inferior
    /// means d > −margin.
    HigherIsBetter,
    /// Smaller d is better: non-inferior means d < margin.
    LowerIsBetter,
}

/// The result of [`non_inferiority`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonInferiority {
    /// The one-sided p-value.
    pub p_value: f64,
    /// Whether the test rejects "worse by at least the margin" at α (`p_value < alpha`).
    pub non_inferior: bool,
}

/// A one-sided non-inferiority test: is the new system no worse than the reference by
/// `margin` or more?
///
/// With [`Direction::HigherIsBetter`], H₀: d ≤ −margin and p = P(Z ≥ (d̂ + margin)/se); with
/// [`Direction::LowerIsBetter`], H₀: d ≥ margin and p = P(Z ≤ (d̂ − margin)/se). Rejecting at α is
/// the same as the corresponding end of the (1 − 2α) interval clearing the margin
/// ([`non_inferiority_from_interval`]). `alpha` must be in (0, ½).
pub fn non_inferiority(
    estimate: f64,
    se: f64,
    margin: f64,
    alpha: f64,
    direction: Direction,
) -> Result<NonInferiority> {
    check_normal_inputs(estimate, se, margin)?;
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(HypothesisError::InvalidAlpha {
            value: alpha,
            upper: 0.5,
        });
    }
    let p_value = match direction {
        Direction::HigherIsBetter => normal_sf((estimate + margin) / se),
        Direction::LowerIsBetter => normal_sf((margin - estimate) / se),
    };
    Ok(NonInferiority {
        p_value,
        non_inferior: p_value < alpha,
    })
}

/// Non-inferiority from a (1 − 2α) confidence interval for d: with higher-is-better, holds iff
/// lower > −margin; with lower-is-better, iff upper < margin.
pub fn non_inferiority_from_interval(
    lower: f64,
    upper: f64,
    margin: f64,
    direction: Direction,
) -> Result<bool> {
    check_interval(lower, upper)?;
    check_margin(margin)?;
    Ok(match direction {
        Direction::HigherIsBetter => lower > -margin,
        Direction::LowerIsBetter => upper < margin,
    })
}

// ---------------------------------------------------------------------------------------------
// Multiple comparisons
// ---------------------------------------------------------------------------------------------

/// Validates p-values and returns the indices that sort them ascending (stable).
fn sorted_order(p: &[f64]) -> Result<Vec<usize>> {
    if let Some(index) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(HypothesisError::InvalidPValue {
            index,
            value: p[index],
        });
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    Ok(order)
}

/// Holm's (1979) step-down adjusted p-values, controlling the family-wise error rate.
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted value of p₍ᵢ₎ is min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎);
/// returned in input order. Reject hypothesis i at level α iff its adjusted p ≤ α.
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    let order = sorted_order(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((m - rank) as f64 * p_values[i]).min(1.0);
        adjusted[i] = running;
    }
    Ok(adjusted)
}

/// Benjamini–Hochberg (1995) adjusted p-values ("q-values"), controlling the false discovery
/// rate under independence or positive dependence.
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎, the adjusted value of p₍ᵢ₎ is min(1, min_{j ≥ i} m·p₍ⱼ₎/j); returned in
/// input order (`scipy.stats.false_discovery_control(p, method='bh')`).
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>> {
    let order = sorted_order(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 1.0;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(m as f64 * p_values[i] / (rank + 1) as f64);
        adjusted[i] = running;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;
    use statrs::distribution::Normal;

    const FIXTURE: &str = include_str!("../../tests/fixtures/stats/hypothesis.json");

    fn fixture() -> Value {
        serde_json::from_str(FIXTURE).unwrap()
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    fn table(v: &Value) -> Vec<Vec<u64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect()
            })
            .collect()
    }

    /// Statistics: relative error above 1, absolute below. p-values: absolute.
    fn rel(got: f64, want: f64) -> f64 {
        if got == want {
            0.0
        } else {
            (got - want).abs() / want.abs().max(1.0)
        }
    }

    /// Records the largest error seen and fails on anything above 1e-9.
    struct Worst(f64);

    impl Worst {
        fn check(&mut self, what: &str, got: f64, want: f64) {
            let e = rel(got, want);
            assert!(e < 1e-9, "{what}: got {got:e}, want {want:e}");
            self.0 = self.0.max(e);
        }
    }

    #[test]
    fn homogeneity_matches_scipy() {
        let mut worst = Worst(0.0);
        for case in fixture()["homogeneity"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let t = table(&case["table"]);
            let chi = chi_square_homogeneity(&t).unwrap();
            let g = g_test_homogeneity(&t).unwrap();
            worst.check(name, chi.statistic, case["chi2"].as_f64().unwrap());
            worst.check(name, chi.p_value, case["chi2_p"].as_f64().unwrap());
            worst.check(name, g.statistic, case["g"].as_f64().unwrap());
            worst.check(name, g.p_value, case["g_p"].as_f64().unwrap());
            let df = case["df"].as_f64().unwrap();
            assert_eq!((chi.df, g.df), (Some(df), Some(df)), "{name}");
            assert_eq!(chi.method, PValueMethod::ChiSquare);
            let min = case["min_expected"].as_f64().unwrap();
            worst.check(name, min_expected_count(&t).unwrap(), min);
            assert_eq!(asymptotic_unreliable(&t).unwrap(), min < 5.0, "{name}");
        }
    }

    #[test]
    fn paired_tests_match_scipy() {
        let f = fixture();
        let mut worst = Worst(0.0);
        for case in f["paired_t"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let r = paired_t(&floats(&case["x"]), &floats(&case["y"])).unwrap();
            worst.check(name, r.statistic, case["t"].as_f64().unwrap());
            worst.check(name, r.p_value, case["p"].as_f64().unwrap());
            assert_eq!(r.df, Some(case["df"].as_f64().unwrap()));
        }
        for case in f["wilcoxon"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let r = wilcoxon_signed_rank_exact(&floats(&case["d"])).unwrap();
            worst.check(name, r.statistic, case["statistic"].as_f64().unwrap());
            worst.check(name, r.p_value, case["p"].as_f64().unwrap());
            let method = if case["method"] == "exact" {
                PValueMethod::Exact
            } else {
                PValueMethod::Normal
            };
            assert_eq!(r.method, method, "{name}");
            assert_eq!(r.n, case["n"].as_u64().unwrap(), "{name}");
            let d = floats(&case["d"]);
            let greater = wilcoxon_signed_rank_one_sided(&d, true).unwrap();
            let less = wilcoxon_signed_rank_one_sided(&d, false).unwrap();
            worst.check(name, greater.p_value, case["p_greater"].as_f64().unwrap());
            worst.check(name, less.p_value, case["p_less"].as_f64().unwrap());
        }
        for case in f["sign"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let r = sign_test(&floats(&case["d"])).unwrap();
            assert_eq!(r.statistic, case["k"].as_f64().unwrap(), "{name}");
            assert_eq!(r.n, case["n"].as_u64().unwrap(), "{name}");
            worst.check(name, r.p_value, case["p"].as_f64().unwrap());
        }
        for case in f["cluster_bootstrap"].as_array().unwrap() {
            let r = cluster_bootstrap_mean_diff(&floats(&case["d"]), 200, 1, 0.95).unwrap();
            worst.check("bootstrap mean", r.mean, case["mean"].as_f64().unwrap());
            worst.check(
                "bootstrap se",
                r.standard_error,
                case["se"].as_f64().unwrap(),
            );
        }
    }

    #[test]
    fn equivalence_and_adjustments_match_scipy() {
        let f = fixture();
        let mut worst = Worst(0.0);
        for case in f["tost"].as_array().unwrap() {
            let get = |k: &str| case[k].as_f64().unwrap();
            let (est, se, margin, alpha) =
                (get("estimate"), get("se"), get("margin"), get("alpha"));
            let r = tost_equivalence(est, se, margin, alpha).unwrap();
            worst.check("p_lower", r.p_lower, get("p_lower"));
            worst.check("p_upper", r.p_upper, get("p_upper"));
            worst.check("p", r.p_value, get("p"));
            assert_eq!(r.equivalent, case["equivalent"].as_bool().unwrap());
            let ci = floats(&case["ci"]);
            assert_eq!(
                equivalence_from_interval(ci[0], ci[1], margin).unwrap(),
                r.equivalent
            );
            let hi = non_inferiority(est, se, margin, alpha, Direction::HigherIsBetter).unwrap();
            let lo = non_inferiority(est, se, margin, alpha, Direction::LowerIsBetter).unwrap();
            worst.check("ni higher", hi.p_value, get("p_lower"));
            worst.check("ni lower", lo.p_value, get("p_upper"));
            assert_eq!(
                hi.non_inferior,
                case["non_inferior_higher"].as_bool().unwrap()
            );
            assert_eq!(
                lo.non_inferior,
                case["non_inferior_lower"].as_bool().unwrap()
            );
            assert_eq!(
                non_inferiority_from_interval(ci[0], ci[1], margin, Direction::HigherIsBetter)
                    .unwrap(),
                hi.non_inferior
            );
            assert_eq!(
                non_inferiority_from_interval(ci[0], ci[1], margin, Direction::LowerIsBetter)
                    .unwrap(),
                lo.non_inferior
            );
        }
        for case in f["adjust"].as_array().unwrap() {
            let p = floats(&case["p"]);
            for (got, want) in holm(&p).unwrap().into_iter().zip(floats(&case["holm"])) {
                worst.check("holm", got, want);
            }
            for (got, want) in benjamini_hochberg(&p)
                .unwrap()
                .into_iter()
                .zip(floats(&case["bh"]))
            {
                worst.check("bh", got, want);
            }
        }
    }

    #[test]
    fn monte_carlo_agrees_with_the_exact_conditional_p() {
        const B: usize = 4000;
        for case in fixture()["exact_conditional"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let t = table(&case["table"]);
            let exact = |k: &str| case["p"][k].as_f64().unwrap();
            let runs = [
                (
                    "chi2",
                    monte_carlo_conditional(&t, TableStatistic::ChiSquare, B, 3).unwrap(),
                ),
                (
                    "g",
                    monte_carlo_conditional(&t, TableStatistic::G, B, 4).unwrap(),
                ),
                (
                    "g",
                    permutation_test(&t[0], &t[1], TwoSampleStatistic::G, B, 5).unwrap(),
                ),
                (
                    "abs_entropy_difference",
                    permutation_test(&t[0], &t[1], TwoSampleStatistic::AbsEntropyDifference, B, 6)
                        .unwrap(),
                ),
            ];
            for (key, r) in runs {
                let p = exact(key);
                // Four Monte Carlo standard errors, plus the +1 of the estimator.
                let tolerance = 4.0 * (p * (1.0 - p) / B as f64).sqrt() + 1.0 / B as f64;
                assert!(
                    (r.p_value - p).abs() <= tolerance,
                    "{name} {key}: {} vs exact {p}",
                    r.p_value
                );
                assert!(
                    (r.statistic - case["statistics"][key].as_f64().unwrap()).abs() < 1e-9,
                    "{name} {key}"
                );
                assert_eq!(r.method, PValueMethod::MonteCarlo { resamples: B });
            }
        }
    }

    #[test]
    fn monte_carlo_is_reproducible_and_sane() {
        let a = [12, 7, 3, 0, 1];
        let b = [6, 6, 5, 4, 2];
        for stat in [
            TwoSampleStatistic::AbsEntropyDifference,
            TwoSampleStatistic::G,
        ] {
            let first = permutation_test(&a, &b, stat, 500, 42).unwrap();
            assert_eq!(first, permutation_test(&a, &b, stat, 500, 42).unwrap());
            assert!(first.p_value > 0.0 && first.p_value <= 1.0);
            // Identical samples: the observed statistic is the smallest possible, p = 1.
            assert_eq!(permutation_test(&a, &a, stat, 200, 1).unwrap().p_value, 1.0);
            // Clearly different samples: no relabelling is as extreme, p = 1/(B + 1).
            let skewed = [100, 0, 0, 0, 0];
            let flat = [20, 20, 20, 20, 20];
            let r = permutation_test(&skewed, &flat, stat, 999, 7).unwrap();
            assert_eq!(r.p_value, 1.0 / 1000.0, "{stat:?}");
        }
        let t = [vec![3, 1, 0, 2], vec![0, 4, 4, 1], vec![2, 2, 2, 2]];
        for stat in [TableStatistic::ChiSquare, TableStatistic::G] {
            let first = monte_carlo_conditional(&t, stat, 300, 9).unwrap();
            assert_eq!(first, monte_carlo_conditional(&t, stat, 300, 9).unwrap());
            assert!(first.p_value > 0.0 && first.p_value <= 1.0);
            assert_eq!(first.df, Some(6.0));
        }
        assert!(asymptotic_unreliable(&t).unwrap());
    }

    #[test]
    fn cluster_bootstrap_is_reproducible_and_sane() {
        let d: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 11) as f64 - 4.0) / 10.0)
            .collect();
        let r = cluster_bootstrap_mean_diff(&d, 2000, 11, 0.9).unwrap();
        assert_eq!(r, cluster_bootstrap_mean_diff(&d, 2000, 11, 0.9).unwrap());
        assert!(r.lower < r.mean && r.mean < r.upper, "{r:?}");
        // The percentile interval is close to mean ± 1.645 SE for a sample this size.
        assert!(
            (r.upper - r.lower) / (2.0 * 1.645 * r.standard_error) - 1.0 < 0.15,
            "{r:?}"
        );
        assert!(
            (r.bootstrap_standard_error / r.standard_error - 1.0).abs() < 0.1,
            "{r:?}"
        );
        assert_eq!((r.prompts, r.resamples, r.level), (40, 2000, 0.9));
        let one = cluster_bootstrap_mean_diff(&[0.5, 0.5], 1, 0, 0.5).unwrap();
        assert_eq!((one.lower, one.upper, one.standard_error), (0.5, 0.5, 0.0));
    }

    #[test]
    fn edge_cases() {
        // Every difference the same non-zero number: infinite t, p = 0 (as scipy).
        let r = paired_t(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((r.statistic, r.p_value), (f64::INFINITY, 0.0));
        assert!(holm(&[]).unwrap().is_empty());
        assert!(benjamini_hochberg(&[]).unwrap().is_empty());
        // A 1000-pair all-positive sample still uses the exact distribution: p = 2·2⁻¹⁰⁰⁰.
        let d: Vec<f64> = (1..=1000).map(f64::from).collect();
        let r = wilcoxon_signed_rank_exact(&d).unwrap();
        assert_eq!(r.method, PValueMethod::Exact);
        assert!(
            (r.p_value / 2f64.powi(-999) - 1.0).abs() < 1e-9,
            "{}",
            r.p_value
        );
        let d: Vec<f64> = (1..=1001).map(f64::from).collect();
        assert_eq!(
            wilcoxon_signed_rank_exact(&d).unwrap().method,
            PValueMethod::Normal
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        use HypothesisError as E;
        assert_eq!(
            permutation_test(&[1, 2], &[1], TwoSampleStatistic::G, 10, 0).unwrap_err(),
            E::CategoryMismatch {
                row: 1,
                got: 1,
                expected: 2
            }
        );
        assert_eq!(
            permutation_test(&[1, 2], &[0, 0], TwoSampleStatistic::G, 10, 0).unwrap_err(),
            E::EmptySample(1)
        );
        assert_eq!(
            permutation_test(&[1, 2], &[3, 1], TwoSampleStatistic::G, 0, 0).unwrap_err(),
            E::NoResamples
        );
        assert_eq!(
            permutation_test(&[], &[], TwoSampleStatistic::G, 10, 0).unwrap_err(),
            E::NoCategories
        );
        assert_eq!(
            chi_square_homogeneity(&[[1u64, 2]]).unwrap_err(),
            E::TooFewSamples(1)
        );
        assert_eq!(
            g_test_homogeneity(&[[u64::MAX, 2], [1, 1]]).unwrap_err(),
            E::Overflow
        );
        assert_eq!(
            monte_carlo_conditional(
                &[[MAX_POOLED_OBSERVATIONS, 1], [1, 1]],
                TableStatistic::G,
                10,
                0
            )
            .unwrap_err(),
            E::TooManyObservations(MAX_POOLED_OBSERVATIONS + 3)
        );
        assert_eq!(
            paired_t(&[1.0], &[1.0, 2.0]).unwrap_err(),
            E::LengthMismatch { left: 1, right: 2 }
        );
        assert_eq!(
            paired_t(&[1.0], &[2.0]).unwrap_err(),
            E::TooFewValues { needed: 2, got: 1 }
        );
        assert_eq!(
            paired_t(&[1.0, 2.0], &[1.0, 2.0]).unwrap_err(),
            E::ZeroVariance
        );
        assert!(matches!(
            paired_t(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(E::NonFinite { index: 1, .. })
        ));
        assert_eq!(
            wilcoxon_signed_rank_exact(&[0.0, 0.0]).unwrap_err(),
            E::AllZero
        );
        assert_eq!(wilcoxon_signed_rank_exact(&[]).unwrap_err(), E::AllZero);
        assert_eq!(sign_test(&[0.0]).unwrap_err(), E::AllZero);
        assert!(matches!(
            sign_test(&[f64::INFINITY]),
            Err(E::NonFinite { index: 0, .. })
        ));
        assert_eq!(
            cluster_bootstrap_mean_diff(&[1.0], 10, 0, 0.9).unwrap_err(),
            E::TooFewValues { needed: 2, got: 1 }
        );
        assert_eq!(
            cluster_bootstrap_mean_diff(&[1.0, 2.0], 10, 0, 1.0).unwrap_err(),
            E::InvalidLevel(1.0)
        );
        assert_eq!(
            cluster_bootstrap_mean_diff(&[1.0, 2.0], 0, 0, 0.9).unwrap_err(),
            E::NoResamples
        );
        assert_eq!(
            tost_equivalence(0.0, 1.0, 1.0, 0.5).unwrap_err(),
            E::InvalidAlpha {
                value: 0.5,
                upper: 0.5
            }
        );
        assert_eq!(
            tost_equivalence(0.0, 0.0, 1.0, 0.05).unwrap_err(),
            E::InvalidStandardError(0.0)
        );
        assert_eq!(
            tost_equivalence(0.0, 1.0, -1.0, 0.05).unwrap_err(),
            E::InvalidMargin(-1.0)
        );
        assert!(matches!(
            tost_equivalence(f64::NAN, 1.0, 1.0, 0.05),
            Err(E::InvalidEstimate(_))
        ));
        assert!(non_inferiority(0.0, 1.0, 1.0, 0.0, Direction::HigherIsBetter).is_err());
        assert_eq!(
            equivalence_from_interval(1.0, 0.0, 2.0).unwrap_err(),
            E::InvalidInterval {
                lower: 1.0,
                upper: 0.0
            }
        );
        assert!(non_inferiority_from_interval(0.0, 1.0, 0.0, Direction::LowerIsBetter).is_err());
        assert_eq!(
            holm(&[0.1, 1.5]).unwrap_err(),
            E::InvalidPValue {
                index: 1,
                value: 1.5
            }
        );
        assert!(benjamini_hochberg(&[f64::NAN]).is_err());
        let message = paired_t(&[1.0], &[2.0]).unwrap_err().to_string();
        assert!(message.starts_with("failed to"), "{message}");
    }

    fn p_values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![1 => Just(0.0), 1 => Just(1.0), 1 => Just(0.01), 6 => 0.0..=1.0f64],
            0..20,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// TOST rejects at α exactly when the (1 − 2α) interval d̂ ± z₁₋α·se lies inside
        /// (−margin, margin); the same for the one-sided non-inferiority tests.
        #[test]
        fn tost_agrees_with_the_interval(
            estimate in -3.0..3.0f64,
            se in 0.01..2.0f64,
            margin in 0.01..3.0f64,
            alpha in 0.001..0.499f64,
        ) {
            let z = Normal::new(0.0, 1.0).unwrap().inverse_cdf(1.0 - alpha);
            let (lower, upper) = (estimate - z * se, estimate + z * se);
            // Exactly on the boundary the two computations may round differently.
            prop_assume!((lower + margin).abs() > 1e-7 && (upper - margin).abs() > 1e-7);
            let tost = tost_equivalence(estimate, se, margin, alpha).unwrap();
            prop_assert_eq!(tost.equivalent, equivalence_from_interval(lower, upper, margin).unwrap());
            prop_assert_eq!(tost.p_value, tost.p_lower.max(tost.p_upper));
            for direction in [Direction::HigherIsBetter, Direction::LowerIsBetter] {
                let ni = non_inferiority(estimate, se, margin, alpha, direction).unwrap();
                prop_assert_eq!(ni.non_inferior, non_inferiority_from_interval(lower, upper, margin, direction).unwrap());
            }
        }

        /// Adjusted p-values are at least the raw ones, at most 1, monotone in the raw ones, and
        /// Holm's are never below Benjamini–Hochberg's ((m − i + 1)·i ≥ m for 1 ≤ i ≤ m).
        #[test]
        fn adjustments_are_monotone_and_capped(p in p_values()) {
            let h = holm(&p).unwrap();
            let b = benjamini_hochberg(&p).unwrap();
            for i in 0..p.len() {
                prop_assert!(p[i] <= b[i] + 1e-15 && b[i] <= h[i] + 1e-15 && h[i] <= 1.0);
                for j in 0..p.len() {
                    if p[i] <= p[j] {
                        prop_assert!(h[i] <= h[j] && b[i] <= b[j]);
                    }
                }
            }
        }

        /// Negating every difference leaves the two-sided signed-rank and sign tests unchanged.
        #[test]
        fn signed_tests_are_symmetric(d in prop::collection::vec(prop_oneof![1 => Just(0.0), 4 => -5.0..5.0f64, 1 => (-3i32..3).prop_map(f64::from)], 1..40)) {
            let neg: Vec<f64> = d.iter().map(|x| -x).collect();
            match (wilcoxon_signed_rank_exact(&d), wilcoxon_signed_rank_exact(&neg)) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a.statistic, b.statistic);
                    prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
                    prop_assert!((0.0..=1.0).contains(&a.p_value));
                }
                (a, b) => prop_assert_eq!(a, b),
            }
            match (sign_test(&d), sign_test(&neg)) {
                (Ok(a), Ok(b)) => prop_assert!((a.p_value - b.p_value).abs() < 1e-12),
                (a, b) => prop_assert!(a.is_err() && b.is_err()),
            }
        }
    }
}
