//! Calibration by simulation: coverage of the entropy intervals and the false-positive rate of the ordering test on known distributions over 101 outcomes.
//!
//! Run: `cargo run --release --example calibration -- [--runs 1000] [--out docs/calibration.md]`.
//!
//! What it measures (the statistics issue's acceptance items):
//! 1. For three known distributions over K = 101 outcomes and several sample sizes N, how often
//!    each 95% interval the code offers contains the TRUE entropy (coverage, with its
//!    Monte-Carlo standard error), its mean width, and the bias and RMSE of the point estimate.
//!    Every interval is made by `measure::entropy_figure`, the function a sampled measurement
//!    uses, so "default" below is exactly what a spec gets without overrides.
//! 2. How often `entropy(a) > entropy(b)` would "hold" when a and b are drawn from the SAME
//!    distribution: the two-sample BCa rule (`stats::two_sample::bootstrap_difference`) and the
//!    older rule (two separate 95% figures that do not overlap).
//!
//! Determinism: every run draws from its own `stats::rng::Rng`, seeded from (seed, part,
//! distribution, N, run), so the output does not depend on `--threads` and a rerun with the
//! same flags reproduces every number (only the date and the runtime change).
//!
//! With `--out FILE` the generated part replaces what lies between the markers
//! `<!-- calibration:begin -->` and `<!-- calibration:end -->` in FILE (or makes a new FILE), so
//! the hand-written conclusions around the tables survive a rerun.

use clap::Parser;
use modecollapse::measure::entropy_figure;
use modecollapse::stats::entropy_nats;
use modecollapse::stats::estimators::{Estimator, NSB_BELOW_SAMPLES_PER_OUTCOME};
use modecollapse::stats::intervals::{
    bootstrap_replicates, delta_method_plug_in, percentile_interval,
};
use modecollapse::stats::rng::Rng;
use modecollapse::stats::two_sample::{DifferenceMethod, bootstrap_difference};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Outcomes: " 0".." 100".
const K: usize = 101;
/// The integer the collapsed distribution sits on (text-davinci-002's " 97").
const MODE: usize = 97;
/// Mass on the mode of the collapsed distribution.
const MODE_MASS: f64 = 0.8;
const LEVEL: f64 = 0.95;
/// The coverage band the issue asks for, in percent.
const TARGET: (f64, f64) = (93.0, 97.0);
/// The false-positive rate the ordering test must not exceed.
const ALPHA: f64 = 0.05;
const BEGIN: &str = "<!-- calibration:begin -->";
const END: &str = "<!-- calibration:end -->";
const CANDIDATES_BEGIN: &str = "<!-- calibration-candidates:begin -->";
const CANDIDATES_END: &str = "<!-- calibration-candidates:end -->";
/// The estimators that are bootstrapped.
const BOOTSTRAPPED: [Estimator; 4] = [
    Estimator::PlugIn,
    Estimator::MillerMadow,
    Estimator::Grassberger,
    Estimator::ChaoShen,
];

#[derive(Parser, Debug)]
#[command(about = "Coverage of the entropy intervals and FPR of the ordering test, by simulation")]
struct Args {
    /// Simulated runs per (distribution, N).
    #[arg(long, default_value_t = 1000)]
    runs: usize,
    /// Write the tables into this Markdown file (between the markers); stdout otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sample sizes N.
    #[arg(long, value_delimiter = ',', default_values_t = [50u64, 200, 1000, 2000])]
    sizes: Vec<u64>,
    /// Bootstrap resamples of every interval, and of the ordering test when its statistic is
    /// cheap (not NSB).
    #[arg(long, default_value_t = 2000)]
    resamples: usize,
    /// Bootstrap resamples of the ordering test when its statistic is NSB. Each NSB evaluation
    /// takes 0.2–0.8 ms, and a run of the test takes 2·(B + K) of them.
    #[arg(long, default_value_t = 500)]
    nsb_ordering_resamples: usize,
    /// Also run the ordering test at `--resamples` for NSB at the smallest N, on the same
    /// draws, to show what the smaller B changes.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    resample_check: bool,
    /// Also simulate the ordering rules of this study (the two-sample BCa difference and
    /// non-overlap). The verdict's ordering test today is simulated by
    /// `examples/ordering_test.rs` (`docs/ordering-test.md`); `--ordering false` runs the
    /// coverage part only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    ordering: bool,
    /// Instead of the study above, measure intervals the code does not offer (on the same
    /// draws as the coverage tables) and write them between their own markers.
    #[arg(long)]
    candidates: bool,
    /// Worker threads (the runs are independent; the results do not depend on this).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// A known distribution over the K outcomes.
struct Distribution {
    name: &'static str,
    definition: &'static str,
    p: Vec<f64>,
    /// Cumulative probabilities, the last exactly 1, for inverse-CDF draws.
    cdf: Vec<f64>,
    entropy: f64,
}

impl Distribution {
    fn new(name: &'static str, definition: &'static str, weights: Vec<f64>) -> Distribution {
        let total: f64 = weights.iter().sum();
        let p: Vec<f64> = weights.iter().map(|w| w / total).collect();
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = p
            .iter()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        // Rounding could leave the last value a hair below 1, and a uniform draw above it.
        cdf[K - 1] = 1.0;
        // The uniform's entropy is ln K, where every estimate and interval is clipped; summed
        // term by term it could round a hair above the clip and count every interval as a miss.
        let entropy = entropy_nats(&p).min((K as f64).ln());
        Distribution {
            name,
            definition,
            p,
            cdf,
            entropy,
        }
    }

    /// N multinomial draws: N categorical draws by inverse CDF.
    fn draw(&self, n: u64, rng: &mut Rng) -> Vec<u64> {
        let mut counts = vec![0u64; K];
        for _ in 0..n {
            let u = rng.uniform();
            counts[self.cdf.partition_point(|&c| c <= u)] += 1;
        }
        counts
    }
}

fn distributions() -> Vec<Distribution> {
    let uniform = vec![1.0; K];
    let zipf: Vec<f64> = (1..=K).map(|rank| 1.0 / rank as f64).collect();
    // The other 100 outcomes, in increasing order of their integer, get Zipf ranks 1..100.
    let others: f64 = (1..K).map(|rank| 1.0 / rank as f64).sum();
    let mut collapsed = vec![0.0; K];
    let mut rank = 0;
    for (i, w) in collapsed.iter_mut().enumerate() {
        if i == MODE {
            *w = MODE_MASS;
        } else {
            rank += 1;
            *w = (1.0 - MODE_MASS) / (rank as f64 * others);
        }
    }
    vec![
        Distribution::new(
            "uniform",
            "p_i = 1/101 for each of the 101 outcomes",
            uniform,
        ),
        Distribution::new(
            "zipf",
            "p_i ∝ 1/i for i = 1..101 (Zipf, s = 1; outcome \" i−1\" has rank i)",
            zipf,
        ),
        Distribution::new(
            "collapsed",
            "p = 0.8 on \" 97\"; the other 100 outcomes, in increasing order of their integer \
             (\" 0\"..\" 96\", \" 98\"..\" 100\"), get 0.2 · (1/r) / H₁₀₀ for rank r = 1..100 \
             (H₁₀₀ = Σ_{r≤100} 1/r)",
            collapsed,
        ),
    ]
}

/// An estimator/interval pair, made as a sampled measurement makes it.
#[derive(Clone, Copy)]
enum Pair {
    /// What `figures` makes without overrides.
    Default,
    /// An estimator with a named interval (`posterior`, `bca`, `percentile`).
    Figure(Estimator, &'static str),
    /// The delta-method interval of the plug-in estimate (offered by `modecollapse estimate`).
    Delta,
}

impl Pair {
    fn label(self) -> String {
        match self {
            Pair::Default => "**default** (no overrides)".to_string(),
            Pair::Figure(e, i) => format!("{} + {i}", e.as_str()),
            Pair::Delta => "plug_in + delta method".to_string(),
        }
    }
}

fn pairs() -> Vec<Pair> {
    let mut out = vec![Pair::Default];
    for e in BOOTSTRAPPED {
        out.push(Pair::Figure(e, "percentile"));
        out.push(Pair::Figure(e, "bca"));
        out.push(Pair::Figure(e, "augmented"));
    }
    out.push(Pair::Figure(Estimator::Nsb, "posterior"));
    out.push(Pair::Figure(Estimator::Nsb, "augmented"));
    out.push(Pair::Delta);
    out
}

/// (low, high, point) of one interval in one run.
type Made = (f64, f64, f64);

/// A rate in percent and its Monte-Carlo standard error.
type Rate = (f64, f64);

/// A stream seed for (part, distribution, N, run, stream): SplitMix64 steps, so nearby
/// tuples give unrelated streams.
fn stream_seed(master: u64, parts: [u64; 5]) -> u64 {
    let mut x = master;
    for v in parts {
        x = (x ^ v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    x
}

/// `f(run)` for every run on `threads` workers, in run order.
fn parallel<T: Send>(runs: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..runs).map(|_| None).collect();
    let results: Vec<Vec<(usize, T)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let r = next.fetch_add(1, Ordering::Relaxed);
                        if r >= runs {
                            return mine;
                        }
                        mine.push((r, f(r)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .collect()
    });
    for (r, t) in results.into_iter().flatten() {
        slots[r] = Some(t);
    }
    slots
        .into_iter()
        .map(|t| t.expect("every run done"))
        .collect()
}

/// Every pair's interval on one simulated sample.
fn coverage_run(d: &Distribution, n: u64, seed: u64, resamples: usize) -> Vec<Made> {
    let mut rng = Rng::seeded(seed);
    let counts = d.draw(n, &mut rng);
    // As in a measurement, one bootstrap stream per sample, shared by every estimator.
    let boot_seed = rng.next_u64();
    let made = |e: Option<Estimator>, i: Option<&str>| -> Made {
        let f = entropy_figure(&counts, e, i, resamples, boot_seed, LEVEL)
            .expect("simulated counts are valid");
        (f.entropy.low, f.entropy.high, f.entropy.point)
    };
    let default = entropy_figure(&counts, None, None, resamples, boot_seed, LEVEL)
        .expect("simulated counts are valid");
    pairs()
        .into_iter()
        .map(|pair| match pair {
            Pair::Default => (
                default.entropy.low,
                default.entropy.high,
                default.entropy.point,
            ),
            // The default is one of the pairs: the same call with the same seed, so reuse it.
            Pair::Figure(e, i) if e == default.estimator && i == default.interval => (
                default.entropy.low,
                default.entropy.high,
                default.entropy.point,
            ),
            Pair::Figure(e, i) => made(Some(e), Some(i)),
            Pair::Delta => {
                let d = delta_method_plug_in(&counts, LEVEL).expect("valid counts");
                (d.interval.0, d.interval.1, d.estimate)
            }
        })
        .collect()
}

/// Summary of one cell: coverage and the rest over the runs.
#[derive(Default, Clone, Copy)]
struct Cell {
    runs: f64,
    covered: f64,
    /// Intervals entirely below the truth.
    below: f64,
    width: f64,
    error: f64,
    squared_error: f64,
}

impl Cell {
    fn add(&mut self, (low, high, point): Made, truth: f64) {
        self.runs += 1.0;
        if low <= truth && truth <= high {
            self.covered += 1.0;
        } else if high < truth {
            self.below += 1.0;
        }
        self.width += high - low;
        self.error += point - truth;
        self.squared_error += (point - truth).powi(2);
    }

    fn coverage(&self) -> f64 {
        100.0 * self.covered / self.runs
    }

    fn coverage_se(&self) -> f64 {
        let c = self.covered / self.runs;
        100.0 * (c * (1.0 - c) / self.runs).sqrt()
    }
}

/// What the ordering test and the old rule said on one pair of samples.
struct OrderingOutcome {
    /// Lower end of the two-sided 95% BCa interval of H(a) − H(b) is above 0.
    holds_bca: bool,
    /// p_greater(0, BCa) < 0.025.
    p_below: bool,
    /// Same, at the check B (when run).
    holds_bca_check: Option<bool>,
    /// The two default figures do not overlap: low(a) > high(b).
    holds_old: bool,
}

/// NSB memoised on the sorted counts within one run. NSB depends on the counts only through
/// their multiset (it sums over the histogram of counts), so the cached value is bit-identical;
/// at N = 50 most bootstrap resamples repeat a histogram already seen (94% on the uniform).
struct MemoNsb {
    cache: RefCell<HashMap<Vec<u64>, f64>>,
}

impl MemoNsb {
    fn estimate(&self, counts: &[u64]) -> f64 {
        let mut key: Vec<u64> = counts.iter().copied().filter(|&c| c > 0).collect();
        key.sort_unstable();
        if let Some(&v) = self.cache.borrow().get(&key) {
            return v;
        }
        let v = Estimator::Nsb.estimate(counts, K).unwrap_or(f64::NAN);
        self.cache.borrow_mut().insert(key, v);
        v
    }
}

fn ordering_run(
    d: &Distribution,
    n: u64,
    seed: u64,
    b: usize,
    check_b: Option<usize>,
    figure_resamples: usize,
) -> OrderingOutcome {
    let mut rng = Rng::seeded(seed);
    let a = d.draw(n, &mut rng);
    let bb = d.draw(n, &mut rng);
    let test_seed = rng.next_u64();
    let estimator = Estimator::default_for(n, K);
    let memo = MemoNsb {
        cache: RefCell::new(HashMap::new()),
    };
    let stat = |c: &[u64]| match estimator {
        Estimator::Nsb => memo.estimate(c),
        e => e.estimate(c, K).unwrap_or(f64::NAN),
    };
    let decide = |b: usize| {
        let diff = bootstrap_difference(&a, &bb, &stat, b, test_seed).expect("valid counts");
        let (low, _) = diff
            .interval(DifferenceMethod::Bca, LEVEL)
            .expect("finite replicates");
        let p = diff.p_greater(0.0, DifferenceMethod::Bca);
        (low > 0.0, p < (1.0 - LEVEL) / 2.0)
    };
    // The larger B first: the smaller one then finds its NSB values in the memo.
    let check = check_b.map(|cb| decide(cb).0);
    let (holds_bca, p_below) = decide(b);
    // The old rule compares the two figures as a measurement makes them; both measurements of
    // one spec share the spec's bootstrap seed.
    let boot_seed = rng.next_u64();
    let fig = |c: &[u64]| {
        entropy_figure(c, None, None, figure_resamples, boot_seed, LEVEL)
            .expect("valid counts")
            .entropy
    };
    let (fa, fb) = (fig(&a), fig(&bb));
    OrderingOutcome {
        holds_bca,
        p_below,
        holds_bca_check: check,
        holds_old: fa.low > fb.high,
    }
}

/// A rate in percent with its Monte-Carlo standard error.
fn rate(hits: usize, runs: usize) -> Rate {
    let p = hits as f64 / runs as f64;
    (100.0 * p, 100.0 * (p * (1.0 - p) / runs as f64).sqrt())
}

/// One ordering cell: the rates over the runs of one (distribution, N).
struct OrderingCell {
    new: Rate,
    old: Rate,
    /// The rate at the check B, when run.
    check: Option<Rate>,
    /// Runs where the interval rule and the p-value rule disagreed.
    disagreements: usize,
}

/// Everything computed so far; `None` cells are still to come.
struct Results {
    /// [distribution][size] → one cell per pair.
    coverage: Vec<Vec<Option<Vec<Cell>>>>,
    /// [distribution][size].
    ordering: Vec<Vec<Option<OrderingCell>>>,
    coverage_secs: f64,
    ordering_secs: f64,
    /// Total runtime once finished.
    total_secs: Option<f64>,
}

fn main() {
    let args = Args::parse();
    let started = Instant::now();
    let dists = distributions();
    let sizes = args.sizes.clone();
    let date = modecollapse::record::today_utc();
    if args.candidates {
        candidates(&args, &dists, &date);
        return;
    }
    let mut results = Results {
        coverage: vec![vec![None; sizes.len()]; dists.len()],
        ordering: (0..dists.len())
            .map(|_| (0..sizes.len()).map(|_| None).collect())
            .collect(),
        coverage_secs: 0.0,
        ordering_secs: 0.0,
        total_secs: None,
    };
    // Written after every cell, so an interrupted run leaves what it had.
    let publish = |results: &Results| {
        if let Some(path) = &args.out {
            write_out(path, &render(&args, &dists, &date, results), BEGIN, END);
        }
    };

    // Part 1: coverage.
    let t1 = Instant::now();
    for (di, d) in dists.iter().enumerate() {
        for (ni, &n) in sizes.iter().enumerate() {
            let t = Instant::now();
            let made = parallel(args.runs, args.threads, |r| {
                let seed = stream_seed(args.seed, [1, di as u64, n, r as u64, 0]);
                coverage_run(d, n, seed, args.resamples)
            });
            let mut cells = vec![Cell::default(); pairs().len()];
            for run in &made {
                for (pi, &m) in run.iter().enumerate() {
                    cells[pi].add(m, d.entropy);
                }
            }
            eprintln!(
                "coverage {} N={n}: {:.1}s (default {:.1}%)",
                d.name,
                t.elapsed().as_secs_f64(),
                cells[0].coverage()
            );
            results.coverage[di][ni] = Some(cells);
            results.coverage_secs = t1.elapsed().as_secs_f64();
            publish(&results);
        }
    }

    // Part 2: the ordering test under the null.
    let t2 = Instant::now();
    let smallest = sizes.iter().copied().min().unwrap_or(0);
    for (di, d) in dists.iter().enumerate().filter(|_| args.ordering) {
        for (ni, &n) in sizes.iter().enumerate() {
            let t = Instant::now();
            let nsb = Estimator::default_for(n, K) == Estimator::Nsb;
            let b = if nsb {
                args.nsb_ordering_resamples
            } else {
                args.resamples
            };
            let check_b = (nsb
                && args.resample_check
                && n == smallest
                && args.resamples != args.nsb_ordering_resamples)
                .then_some(args.resamples);
            let outcomes = parallel(args.runs, args.threads, |r| {
                let seed = stream_seed(args.seed, [2, di as u64, n, r as u64, 0]);
                ordering_run(d, n, seed, b, check_b, args.resamples)
            });
            let count =
                |f: &dyn Fn(&OrderingOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
            let cell = OrderingCell {
                new: rate(count(&|o| o.holds_bca), args.runs),
                old: rate(count(&|o| o.holds_old), args.runs),
                check: check_b
                    .map(|_| rate(count(&|o| o.holds_bca_check == Some(true)), args.runs)),
                disagreements: count(&|o| o.holds_bca != o.p_below),
            };
            eprintln!(
                "ordering {} N={n} (B={b}): {:.1}s, BCa {:.1}%, old {:.1}%",
                d.name,
                t.elapsed().as_secs_f64(),
                cell.new.0,
                cell.old.0
            );
            results.ordering[di][ni] = Some(cell);
            results.ordering_secs = t2.elapsed().as_secs_f64();
            publish(&results);
        }
    }
    results.total_secs = Some(started.elapsed().as_secs_f64());
    match &args.out {
        None => print!("{}", render(&args, &dists, &date, &results)),
        Some(_) => publish(&results),
    }
    eprintln!("total {:.1} min", started.elapsed().as_secs_f64() / 60.0);
}

/// The generated Markdown, markers included; cells still to come show as "…".
fn render(args: &Args, dists: &[Distribution], date: &str, results: &Results) -> String {
    let pair_list = pairs();
    let sizes = &args.sizes;
    let pending = " … |";
    let mut md = String::new();

    let command = {
        let mut c = format!(
            "cargo run --release --example calibration -- --runs {} --sizes {} --resamples {} \
             --nsb-ordering-resamples {} --threads {} --seed {}",
            args.runs,
            sizes
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
            args.resamples,
            args.nsb_ordering_resamples,
            args.threads,
            args.seed
        );
        if !args.resample_check {
            c.push_str(" --resample-check false");
        }
        if !args.ordering {
            c.push_str(" --ordering false");
        }
        if let Some(out) = &args.out {
            let _ = write!(c, " --out {}", out.display());
        }
        c
    };
    let _ = writeln!(md, "{BEGIN}");
    let _ = writeln!(
        md,
        "<!-- Generated by examples/calibration.rs; edit the text outside the markers. -->\n"
    );
    let _ = writeln!(md, "Command: `{command}`  ");
    let _ = writeln!(md, "Date: {date}  ");
    let _ = writeln!(
        md,
        "K = {K} outcomes; {} runs per (distribution, N); 95% two-sided intervals; {} bootstrap \
         resamples per interval; entropies in nats. The small-sample warning is shown below \
         N = {} (10 samples per outcome).\n",
        args.runs,
        args.resamples,
        NSB_BELOW_SAMPLES_PER_OUTCOME * K as u64
    );

    let _ = writeln!(md, "### Coverage of the true entropy\n");
    let _ = writeln!(
        md,
        "Cell: coverage % ± Monte-Carlo s.e., then in brackets the % of intervals lying entirely \
         *below* the truth (the rest of the misses lie above). ✓ marks coverage within the \
         target {}–{} %. \"default\" is what a spec gets without overrides: {}.\n",
        TARGET.0,
        TARGET.1,
        sizes
            .iter()
            .map(|&n| format!("{} at N = {n}", default_label(n)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let header = |md: &mut String, first: &str| {
        let _ = write!(md, "| {first} |");
        for n in sizes {
            let _ = write!(md, " N = {n} |");
        }
        let _ = write!(md, "\n|---|");
        for _ in sizes {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
    };
    for (di, d) in dists.iter().enumerate() {
        let row = &results.coverage[di];
        let _ = writeln!(
            md,
            "#### {} — H = {:.4} nats (ln K = {:.4})\n\n{}. Largest p = {:.4}.\n",
            d.name,
            d.entropy,
            (K as f64).ln(),
            d.definition,
            d.p.iter().copied().fold(0.0, f64::max)
        );
        header(&mut md, "estimator + interval: coverage");
        for (pi, pair) in pair_list.iter().enumerate() {
            let _ = write!(md, "| {} |", pair.label());
            for cells in row {
                let Some(cells) = cells else {
                    md.push_str(pending);
                    continue;
                };
                let cell = &cells[pi];
                let c = cell.coverage();
                let ok = if (TARGET.0..=TARGET.1).contains(&c) {
                    " ✓"
                } else {
                    ""
                };
                let _ = write!(
                    md,
                    " {c:.1} ± {:.1} ({:.1}↓){ok} |",
                    cell.coverage_se(),
                    100.0 * cell.below / cell.runs
                );
            }
            md.push('\n');
        }
        md.push('\n');
        header(&mut md, "mean width (nats)");
        for (pi, pair) in pair_list.iter().enumerate() {
            let _ = write!(md, "| {} |", pair.label());
            for cells in row {
                match cells {
                    Some(cells) => {
                        let _ = write!(md, " {:.3} |", cells[pi].width / cells[pi].runs);
                    }
                    None => md.push_str(pending),
                }
            }
            md.push('\n');
        }
        md.push('\n');
        header(&mut md, "point estimate: bias / RMSE (nats)");
        // The point depends on the estimator only (percentile and BCa share it).
        for (pi, pair) in pair_list.iter().enumerate() {
            let label = match pair {
                Pair::Figure(e, "bca") => e.as_str().to_string(),
                Pair::Figure(Estimator::Nsb, "posterior") => "nsb".to_string(),
                _ => continue,
            };
            let _ = write!(md, "| {label} |");
            for cells in row {
                match cells {
                    Some(cells) => {
                        let cell = &cells[pi];
                        let _ = write!(
                            md,
                            " {:+.3} / {:.3} |",
                            cell.error / cell.runs,
                            (cell.squared_error / cell.runs).sqrt()
                        );
                    }
                    None => md.push_str(pending),
                }
            }
            md.push('\n');
        }
        md.push('\n');
    }

    if !args.ordering {
        let _ = writeln!(
            md,
            "### Ordering test\n\nNot run here (`--ordering false`): the verdict's ordering test is \
             simulated by `examples/ordering_test.rs`, in `docs/ordering-test.md`.\n"
        );
    } else {
        let smallest = sizes.iter().copied().min().unwrap_or(0);
        let _ = writeln!(
            md,
            "### Ordering test under the null: a and b from the same distribution\n\n\
             Rate (% ± MC s.e.) at which `entropy(a) > entropy(b)` would hold, both figures sampled \
             with N samples each. **BCa difference**: lower end of the 95% two-sided BCa interval \
             of H(a) − H(b) (`two_sample::bootstrap_difference`, the default estimator for N) above \
             0 — a one-sided test at 2.5%. **Old rule**: the two default figures do not overlap, \
             low(a) > high(b). Must be ≤ α = {ALPHA} within MC error. B: {} bootstrap resamples \
             where the statistic is NSB, {} otherwise.\n",
            args.nsb_ordering_resamples, args.resamples
        );
        let _ = write!(md, "| distribution | rule |");
        for n in sizes {
            let _ = write!(md, " N = {n} |");
        }
        let _ = write!(md, "\n|---|---|");
        for _ in sizes {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
        for (di, d) in dists.iter().enumerate() {
            let row = &results.ordering[di];
            for (rule, new) in [("BCa difference", true), ("old: no overlap", false)] {
                let _ = write!(md, "| {} | {rule} |", d.name);
                for cell in row {
                    let Some(cell) = cell else {
                        md.push_str(pending);
                        continue;
                    };
                    let (p, se) = if new { cell.new } else { cell.old };
                    let verdict = if p / 100.0 <= ALPHA + 1.96 * se / 100.0 {
                        ""
                    } else {
                        " **above α**"
                    };
                    let _ = write!(md, " {p:.1} ± {se:.1}{verdict} |");
                }
                md.push('\n');
            }
        }
        md.push('\n');
        let done: Vec<&OrderingCell> = results.ordering.iter().flatten().flatten().collect();
        let disagreements: usize = done.iter().map(|c| c.disagreements).sum();
        let _ = writeln!(
            md,
            "The interval rule and `p_greater(0, BCa) < 0.025` disagreed in {disagreements} of {} \
             tests (they agree up to the replicate grid).\n",
            args.runs * done.len()
        );
        let check_rows: Vec<(String, Rate, Rate)> = dists
            .iter()
            .zip(&results.ordering)
            .flat_map(|(d, row)| {
                sizes.iter().zip(row).filter_map(move |(n, cell)| {
                    let cell = cell.as_ref()?;
                    Some((format!("{} N = {n}", d.name), cell.new, cell.check?))
                })
            })
            .collect();
        if !check_rows.is_empty() {
            let _ = writeln!(
                md,
                "What the smaller B changes (same draws, same seeds; NSB at N = {smallest}):\n\n\
                 | distribution | B = {} | B = {} |\n|---|---:|---:|",
                args.nsb_ordering_resamples, args.resamples
            );
            for (name, small, large) in &check_rows {
                let _ = writeln!(
                    md,
                    "| {name} | {:.1} ± {:.1} | {:.1} ± {:.1} |",
                    small.0, small.1, large.0, large.1
                );
            }
            md.push('\n');
        }
    }
    let show = |r: Option<Rate>| r.map_or("…".to_string(), |(p, se)| format!("{p:.1} ± {se:.1}"));
    if args.ordering {
        let _ = writeln!(
            md,
            "### Headline\n\n| distribution | N | default figure | coverage % | BCa-difference FPR % | \
             old-rule FPR % |\n|---|---:|---|---:|---:|---:|"
        );
    } else {
        let _ = writeln!(
            md,
            "### Headline\n\n| distribution | N | default figure | coverage % |\n|---|---:|---|---:|"
        );
    }
    for (di, d) in dists.iter().enumerate() {
        for (ni, &n) in sizes.iter().enumerate() {
            let how = default_label(n);
            let coverage = results.coverage[di][ni]
                .as_ref()
                .map(|cells| (cells[0].coverage(), cells[0].coverage_se()));
            let mut row = format!("| {} | {n} | {how} | {} |", d.name, show(coverage));
            if args.ordering {
                let ordering = results.ordering[di][ni].as_ref();
                let _ = write!(
                    row,
                    " {} | {} |",
                    show(ordering.map(|c| c.new)),
                    show(ordering.map(|c| c.old))
                );
            }
            let _ = writeln!(md, "{row}");
        }
    }
    match results.total_secs {
        Some(total) => {
            let _ = writeln!(
                md,
                "\nRuntime: {:.1} min wall-clock on {} thread(s) (coverage {:.1} min, ordering \
                 test {:.1} min{}).",
                total / 60.0,
                args.threads,
                results.coverage_secs / 60.0,
                results.ordering_secs / 60.0,
                if args.ordering { "" } else { ", not run" }
            );
        }
        None => {
            let _ = writeln!(
                md,
                "\nRuntime: still running (the cells marked … are to come)."
            );
        }
    }
    let _ = writeln!(md, "{END}");
    md
}

/// What a spec gets without overrides at N samples, e.g. "nsb + posterior", as
/// `entropy_figure` itself reports it.
fn default_label(n: u64) -> String {
    let mut counts = vec![0u64; K];
    counts[0] = n.max(1);
    // A point mass keeps a bootstrap default cheap; only the labels are read.
    let f = entropy_figure(&counts, None, None, 100, 0, LEVEL).expect("valid counts");
    format!("{} + {}", f.estimator.as_str(), f.interval)
}

/// Puts `md` (which starts with `begin` and ends with `end`) between those markers of `path`
/// (or makes the file), keeping the text around them.
fn write_out(path: &std::path::Path, md: &str, begin: &str, end: &str) {
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(begin), old.find(end)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{}{}", &old[..b], md.trim_end(), &old[e + end.len()..])
            }
            _ => format!("{old}\n{md}"),
        },
        Err(_) => format!("# Calibration of the entropy intervals\n\n{md}"),
    };
    // Through a temporary file and a rename, so a reader (or an interruption) never sees half.
    let tmp = path.with_extension("md.tmp");
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
        eprintln!("failed to write {}: {e}", path.display());
        std::process::exit(2);
    }
}

/// The candidate interval on one sample, per bootstrapped estimator: the bootstrap's own truth
/// is the plug-in entropy of the sample, H(p̂), not the estimate θ̂, so the error θ̂ − H is
/// mimicked by θ̂* − H(p̂) and the interval is [θ̂ − (q₉₇.₅ − H(p̂)), θ̂ − (q₂.₅ − H(p̂))] (the
/// "basic" interval, centred where the bootstrap is), widened to contain θ̂ and clipped to
/// [0, ln K] like the figures. Same draws and bootstrap stream as [`coverage_run`].
fn candidate_run(d: &Distribution, n: u64, seed: u64, resamples: usize) -> Vec<Made> {
    let mut rng = Rng::seeded(seed);
    let counts = d.draw(n, &mut rng);
    let boot_seed = rng.next_u64();
    let ln_k = (K as f64).ln();
    let h0 = Estimator::PlugIn
        .estimate(&counts, K)
        .expect("valid counts");
    BOOTSTRAPPED
        .into_iter()
        .map(|e| {
            let stat = |c: &[u64]| e.estimate(c, K).unwrap_or(f64::NAN);
            let replicates =
                bootstrap_replicates(&counts, &stat, resamples, boot_seed).expect("valid counts");
            let (q_lo, q_hi) = percentile_interval(&replicates, LEVEL).expect("finite");
            let estimate = stat(&counts);
            let low = (estimate + h0 - q_hi).min(estimate).clamp(0.0, ln_k);
            let high = (estimate + h0 - q_lo).max(estimate).clamp(0.0, ln_k);
            (low, high, estimate)
        })
        .collect()
}

/// The difference H(a) − H(b) with Grassberger as the statistic, bootstrapped as the verdict
/// does: (estimate, percentile interval, plug-in-centred basic interval, percentile p-value of
/// "d > 0").
fn difference_forms(a: &[u64], b: &[u64], resamples: usize, seed: u64) -> DifferenceForms {
    let stat = |c: &[u64]| Estimator::Grassberger.estimate(c, K).unwrap_or(f64::NAN);
    let diff = bootstrap_difference(a, b, &stat, resamples, seed).expect("valid counts");
    let (q_lo, q_hi) = diff
        .interval(DifferenceMethod::Percentile, LEVEL)
        .expect("finite replicates");
    let plug = |c: &[u64]| Estimator::PlugIn.estimate(c, K).expect("valid counts");
    // The bootstrap's own truth for the difference is the plug-in difference.
    let d0 = plug(a) - plug(b);
    DifferenceForms {
        estimate: diff.estimate,
        percentile: (q_lo, q_hi),
        basic: (diff.estimate - (q_hi - d0), diff.estimate - (q_lo - d0)),
        p_percentile: diff.p_greater(0.0, DifferenceMethod::Percentile),
    }
}

/// What [`difference_forms`] returns.
struct DifferenceForms {
    estimate: f64,
    percentile: (f64, f64),
    basic: (f64, f64),
    p_percentile: f64,
}

/// The difference forms on two samples of the same distribution: the same draws and test seed
/// as [`ordering_run`]. Returns (percentile holds, basic holds).
fn null_difference_run(d: &Distribution, n: u64, seed: u64, resamples: usize) -> (bool, bool) {
    let mut rng = Rng::seeded(seed);
    let a = d.draw(n, &mut rng);
    let b = d.draw(n, &mut rng);
    let f = difference_forms(&a, &b, resamples, rng.next_u64());
    (f.p_percentile < (1.0 - LEVEL) / 2.0, f.basic.0 > 0.0)
}

/// The difference forms on samples of two different distributions: (percentile, basic), each
/// as (low, high, estimate).
fn alternative_difference_run(
    x: &Distribution,
    y: &Distribution,
    n: u64,
    seed: u64,
    resamples: usize,
) -> [Made; 2] {
    let mut rng = Rng::seeded(seed);
    let a = x.draw(n, &mut rng);
    let b = y.draw(n, &mut rng);
    let f = difference_forms(&a, &b, resamples, rng.next_u64());
    [
        (f.percentile.0, f.percentile.1, f.estimate),
        (f.basic.0, f.basic.1, f.estimate),
    ]
}

/// The candidate study: coverage and width of [`candidate_run`]'s intervals.
fn candidates(args: &Args, dists: &[Distribution], date: &str) {
    let started = Instant::now();
    let sizes = &args.sizes;
    let mut md = String::new();
    let _ = writeln!(md, "{CANDIDATES_BEGIN}");
    let _ = writeln!(
        md,
        "<!-- Generated by examples/calibration.rs --candidates; edit the text outside the \
         markers. -->\n"
    );
    let mut command = format!(
        "cargo run --release --example calibration -- --candidates --runs {} --sizes {} \
         --resamples {} --threads {} --seed {}",
        args.runs,
        sizes
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.resamples,
        args.threads,
        args.seed
    );
    if let Some(out) = &args.out {
        let _ = write!(command, " --out {}", out.display());
    }
    let _ = writeln!(md, "Command: `{command}`  \nDate: {date}  ");
    let _ = writeln!(
        md,
        "Not offered by the code: the bootstrap interval centred on the plug-in entropy of the \
         sample (the bootstrap's own truth), [θ̂ − (q₉₇.₅ − H(p̂)), θ̂ − (q₂.₅ − H(p̂))], on the \
         same draws and bootstrap streams as the coverage tables ({} runs, B = {}). Cell: \
         coverage % ± MC s.e. (% entirely below the truth) · mean width.\n",
        args.runs, args.resamples
    );
    for (di, d) in dists.iter().enumerate() {
        let mut cells = vec![vec![Cell::default(); sizes.len()]; BOOTSTRAPPED.len()];
        for (ni, &n) in sizes.iter().enumerate() {
            let made = parallel(args.runs, args.threads, |r| {
                let seed = stream_seed(args.seed, [1, di as u64, n, r as u64, 0]);
                candidate_run(d, n, seed, args.resamples)
            });
            for run in &made {
                for (ei, &m) in run.iter().enumerate() {
                    cells[ei][ni].add(m, d.entropy);
                }
            }
            eprintln!("candidates {} N={n}", d.name);
        }
        let _ = write!(md, "| {} (H = {:.4}) |", d.name, d.entropy);
        for n in sizes {
            let _ = write!(md, " N = {n} |");
        }
        let _ = write!(md, "\n|---|");
        for _ in sizes {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
        for (ei, e) in BOOTSTRAPPED.iter().enumerate() {
            let _ = write!(md, "| {} + basic (plug-in centred) |", e.as_str());
            for cell in &cells[ei] {
                let c = cell.coverage();
                let ok = if (TARGET.0..=TARGET.1).contains(&c) {
                    " ✓"
                } else {
                    ""
                };
                let _ = write!(
                    md,
                    " {c:.1} ± {:.1} ({:.1}↓){ok} · {:.3} |",
                    cell.coverage_se(),
                    100.0 * cell.below / cell.runs,
                    cell.width / cell.runs
                );
            }
            md.push('\n');
        }
        md.push('\n');
    }
    // The same idea for the difference test between two sampled figures, with Grassberger as
    // the statistic (cheap enough to bootstrap in full; NSB is not).
    let header = |md: &mut String, first: &str| {
        let _ = write!(md, "| {first} |");
        for n in sizes {
            let _ = write!(md, " N = {n} |");
        }
        let _ = write!(md, "\n|---|");
        for _ in sizes {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
    };
    let _ = writeln!(
        md,
        "**Difference test under the null** (a and b from the same distribution, the same draws \
         and seeds as the ordering table; Grassberger statistic, B = {}): % of runs where \
         `entropy(a) > entropy(b)` would hold. *percentile*: the verdict's form for a \
         bootstrapped estimator (one-sided percentile p-value below 0.025); *basic*: the lower \
         end of the plug-in-centred 95% interval of the difference, [d̂ − (q₉₇.₅ − d₀), \
         d̂ − (q₂.₅ − d₀)] with d₀ the plug-in difference, above 0. Nominal: 2.5 %.\n",
        args.resamples
    );
    header(&mut md, "distribution: form");
    for (di, d) in dists.iter().enumerate() {
        let mut rows = [Vec::new(), Vec::new()];
        for &n in sizes {
            let holds = parallel(args.runs, args.threads, |r| {
                let seed = stream_seed(args.seed, [2, di as u64, n, r as u64, 0]);
                null_difference_run(d, n, seed, args.resamples)
            });
            rows[0].push(rate(holds.iter().filter(|h| h.0).count(), args.runs));
            rows[1].push(rate(holds.iter().filter(|h| h.1).count(), args.runs));
            eprintln!("candidates: null difference {} N={n}", d.name);
        }
        for (form, row) in ["percentile", "basic (plug-in centred)"].iter().zip(&rows) {
            let _ = write!(md, "| {}: {form} |", d.name);
            for (p, se) in row {
                let _ = write!(md, " {p:.1} ± {se:.1} |");
            }
            md.push('\n');
        }
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "**Coverage of a true difference** between two different distributions (each sample N \
         draws; Grassberger statistic, B = {}): coverage % ± MC s.e. (% entirely below the \
         truth) · mean width of the 95% interval of H(a) − H(b).\n",
        args.resamples
    );
    header(&mut md, "a − b (true difference): form");
    for (pi, (xi, yi)) in [(1usize, 2usize), (0, 1)].into_iter().enumerate() {
        let (x, y) = (&dists[xi], &dists[yi]);
        let truth = x.entropy - y.entropy;
        let mut cells = [
            vec![Cell::default(); sizes.len()],
            vec![Cell::default(); sizes.len()],
        ];
        for (ni, &n) in sizes.iter().enumerate() {
            let made = parallel(args.runs, args.threads, |r| {
                let seed = stream_seed(args.seed, [3, pi as u64, n, r as u64, 0]);
                alternative_difference_run(x, y, n, seed, args.resamples)
            });
            for run in &made {
                for (fi, &m) in run.iter().enumerate() {
                    cells[fi][ni].add(m, truth);
                }
            }
            eprintln!("candidates: difference {} − {} N={n}", x.name, y.name);
        }
        for (form, row) in ["percentile", "basic (plug-in centred)"].iter().zip(&cells) {
            let _ = write!(md, "| {} − {} ({truth:.4}): {form} |", x.name, y.name);
            for cell in row {
                let _ = write!(
                    md,
                    " {:.1} ± {:.1} ({:.1}↓) · {:.3} |",
                    cell.coverage(),
                    cell.coverage_se(),
                    100.0 * cell.below / cell.runs,
                    cell.width / cell.runs
                );
            }
            md.push('\n');
        }
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "Runtime: {:.1} min wall-clock on {} thread(s).",
        started.elapsed().as_secs_f64() / 60.0,
        args.threads
    );
    let _ = writeln!(md, "{CANDIDATES_END}");
    match &args.out {
        None => print!("{md}"),
        Some(path) => write_out(path, &md, CANDIDATES_BEGIN, CANDIDATES_END),
    }
}
