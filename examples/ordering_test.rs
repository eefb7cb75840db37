//! The false-positive rate of the ordering test between two sampled entropies, simulated.
//!
//! The verdict's test (`measure::difference`): a z-test of the difference of the two figures'
//! estimates, each with its jackknife standard error (`stats::two_sample::entropy_with_error`;
//! for NSB at least its posterior sd). Simulated here with the same functions, next to the
//! augmented-bootstrap standard error and the forms used before (NSB's posterior sd alone; an
//! ordinary percentile bootstrap of the difference).
//!
//! Two kinds of true null, K = 101, outcome distributions as in `docs/calibration.md` (uniform;
//! Zipf p ∝ 1/i; collapsed: 0.8 on one outcome, Zipf over the other 100):
//! - equal distributions: every "H(a) − H(b) > 0" that holds is a false positive;
//! - the boundary of a margin between different distributions: with Δ the true H(a) − H(b),
//!   "H(a) − H(b) > Δ" and "H(a) − H(b) < Δ" are both false, so each holds at most α of the
//!   time for a calibrated test. This is the null a margin or equivalence claim meets, and the
//!   one where an estimator's bias (which differs between a high and a low entropy) shows.
//!
//! "Holds" when the one-sided p-value is below α = 0.025. Deterministic (the crate's seeded
//! generator; every test of a cell sees the same draws).
//!
//! Run: `cargo run --release --example ordering_test [-- RUNS [RESAMPLES]]` (defaults 1000 runs
//! per cell; RESAMPLES, default 1000, for the augmented-bootstrap standard errors and the
//! percentile bootstrap — NSB's augmented one uses 200, as `interval: augmented` does).

use modecollapse::stats::entropy_nats;
use modecollapse::stats::estimators::{Estimator, nsb};
use modecollapse::stats::rng::Rng;
use modecollapse::stats::two_sample::{
    DifferenceMethod, EstimateWithError, NSB_STANDARD_ERROR_RESAMPLES, StandardError,
    bootstrap_difference, entropy_with_error, normal_difference,
};
use std::sync::Mutex;

const K: usize = 101;
const ALPHA: f64 = 0.025;
const SIZES: [usize; 3] = [50, 200, 1000];

fn zipf(n: usize) -> Vec<f64> {
    let h: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
    (1..=n).map(|i| 1.0 / i as f64 / h).collect()
}

/// N categorical draws by inverse CDF.
fn draw(p: &[f64], n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut cdf = Vec::with_capacity(p.len());
    let mut acc = 0.0;
    for &x in p {
        acc += x;
        cdf.push(acc);
    }
    let mut counts = vec![0u64; p.len()];
    for _ in 0..n {
        let u = rng.uniform() * acc;
        let i = cdf.partition_point(|&c| c <= u).min(p.len() - 1);
        counts[i] += 1;
    }
    counts
}

/// The tests compared; the first is the verdict's default.
const TESTS: [&str; 9] = [
    "NSB, z-test, jackknife se (the verdict; the default estimator)",
    "NSB, z-test, augmented-bootstrap se",
    "NSB, posterior sd only (before)",
    "Grassberger, z-test, jackknife se (the verdict)",
    "Grassberger, z-test, augmented-bootstrap se",
    "Chao-Shen, z-test, jackknife se (the verdict)",
    "Miller-Madow, z-test, jackknife se (the verdict)",
    "plug-in, z-test, jackknife se (the verdict)",
    "Grassberger, percentile bootstrap of the difference (before)",
];

/// One-sided p-values (of "d > Δ", "d < Δ") of every test on one pair of samples.
fn p_values(a: &[u64], b: &[u64], delta: f64, resamples: usize, seed: u64) -> Vec<(f64, f64)> {
    let z = |estimator: Estimator, how: fn(u64) -> StandardError| {
        let ea = entropy_with_error(a, estimator, how(seed)).expect("valid counts");
        let eb = entropy_with_error(b, estimator, how(seed ^ 0xb)).expect("valid counts");
        let d = normal_difference(ea, eb, delta, 0.95);
        (d.p_greater, d.p_less)
    };
    let jackknife: fn(u64) -> StandardError = |_| StandardError::Jackknife;
    let augmented =
        |resamples: usize| move |seed: u64| StandardError::Augmented { resamples, seed };
    let z_augmented = |estimator: Estimator, resamples: usize| {
        let how = augmented(resamples);
        let ea = entropy_with_error(a, estimator, how(seed)).expect("valid counts");
        let eb = entropy_with_error(b, estimator, how(seed ^ 0xb)).expect("valid counts");
        let d = normal_difference(ea, eb, delta, 0.95);
        (d.p_greater, d.p_less)
    };
    let posterior = |c: &[u64]| {
        let e = nsb(c, K).expect("valid counts");
        EstimateWithError {
            estimate: e.mean,
            standard_error: e.std,
        }
    };
    let before = normal_difference(posterior(a), posterior(b), delta, 0.95);
    let grassberger = |c: &[u64]| Estimator::Grassberger.estimate(c, K).unwrap_or(f64::NAN);
    let percentile =
        bootstrap_difference(a, b, &grassberger, resamples, seed).expect("valid counts");
    vec![
        z(Estimator::Nsb, jackknife),
        z_augmented(Estimator::Nsb, NSB_STANDARD_ERROR_RESAMPLES),
        (before.p_greater, before.p_less),
        z(Estimator::Grassberger, jackknife),
        z_augmented(Estimator::Grassberger, resamples),
        z(Estimator::ChaoShen, jackknife),
        z(Estimator::MillerMadow, jackknife),
        z(Estimator::PlugIn, jackknife),
        (
            percentile.p_greater(delta, DifferenceMethod::Percentile),
            percentile.p_less(delta, DifferenceMethod::Percentile),
        ),
    ]
}

/// (cell, size, per test the rates of "> Δ" and "< Δ" holding).
type CellRates = (usize, usize, Vec<(f64, f64)>);

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let resamples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let uniform = vec![1.0 / K as f64; K];
    let z = zipf(K);
    let mut collapsed = vec![0.8];
    collapsed.extend(zipf(K - 1).into_iter().map(|p| 0.2 * p));
    let cells: Vec<(&str, &[f64], &[f64])> = vec![
        ("uniform = uniform", &uniform, &uniform),
        ("Zipf = Zipf", &z, &z),
        ("collapsed = collapsed", &collapsed, &collapsed),
        ("uniform vs Zipf, at Δ", &uniform, &z),
        ("Zipf vs collapsed, at Δ", &z, &collapsed),
    ];
    // (cell, size) → rates of "> Δ" and "< Δ" holding, per test.
    let results: Mutex<Vec<CellRates>> = Mutex::new(Vec::new());
    let jobs: Mutex<Vec<(usize, usize)>> = Mutex::new(
        (0..cells.len())
            .flat_map(|c| (0..SIZES.len()).map(move |s| (c, s)))
            .collect(),
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    // Not `while let`: its guard would hold the lock through the whole job.
                    let job = jobs.lock().unwrap().pop();
                    let Some((c, s)) = job else { break };
                    let (_, pa, pb) = cells[c];
                    let delta = entropy_nats(pa) - entropy_nats(pb);
                    let n = SIZES[s];
                    let mut rng = Rng::seeded(0x0bd3_0000 + (c * 10 + s) as u64);
                    let mut holds = vec![(0usize, 0usize); TESTS.len()];
                    for run in 0..runs {
                        let a = draw(pa, n, &mut rng);
                        let b = draw(pb, n, &mut rng);
                        for (t, (g, l)) in p_values(&a, &b, delta, resamples, run as u64)
                            .into_iter()
                            .enumerate()
                        {
                            holds[t].0 += usize::from(g < ALPHA);
                            holds[t].1 += usize::from(l < ALPHA);
                        }
                    }
                    let rates = holds
                        .iter()
                        .map(|&(g, l)| (g as f64 / runs as f64, l as f64 / runs as f64))
                        .collect();
                    eprintln!("{} N = {n}: done", cells[c].0);
                    results.lock().unwrap().push((c, s, rates));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|&(c, s, _)| (c, s));
    let se = (ALPHA * (1.0 - ALPHA) / runs as f64).sqrt();
    println!(
        "Share of runs where a true-null ordering \"holds\" (one-sided alpha = {ALPHA}, K = {K}, \
         {runs} runs per cell, {resamples} resamples; at alpha the Monte-Carlo standard error is \
         {se:.4}). Equal distributions: \"H(a) > H(b)\". At Δ: \"> Δ\" / \"< Δ\".\n"
    );
    println!("| distributions | test | N = 50 | N = 200 | N = 1000 |");
    println!("|---|---|---|---|---|");
    for (c, (name, pa, pb)) in cells.iter().enumerate() {
        let equal = pa == pb;
        for (t, test) in TESTS.iter().enumerate() {
            let mut row = format!("| {name} | {test} |");
            for s in 0..SIZES.len() {
                let (_, _, rates) = results
                    .iter()
                    .find(|(rc, rs, _)| *rc == c && *rs == s)
                    .expect("every cell ran");
                let (g, l) = rates[t];
                if equal {
                    row.push_str(&format!(" {g:.3} |"));
                } else {
                    row.push_str(&format!(" {g:.3} / {l:.3} |"));
                }
            }
            println!("{row}");
        }
    }
}
