//! The false-positive rate of the ordering test `entropy(a) > entropy(b)` between two sampled
//! figures, simulated for every form the code can use.
//!
//! NSB figures (the default below 10 samples per outcome) are compared by
//! `stats::two_sample::nsb_posterior_difference`; other estimators by
//! `stats::two_sample::bootstrap_difference` with the percentile p-value (the verdict's form)
//! and, for comparison, the BCa one. "holds" when the one-sided p-value of "d > 0" is below
//! α = 0.025. Here a and b are drawn from the SAME distribution, so every "holds" is a false
//! positive: the rate should be at most 0.025 (and at most 0.05, the two-sided level). Distributions over K = 101 outcomes as in
//! `docs/calibration.md`: uniform, Zipf (p ∝ 1/i) and collapsed (0.8 on one outcome, the rest
//! Zipf over the other 100). Deterministic (the crate's own seeded generator).
//!
//! Run: `cargo run --release --example ordering_test [-- RUNS [RESAMPLES]]` (defaults 1000 runs
//! per cell and 1000 bootstrap resamples).

use modecollapse::stats::estimators::Estimator;
use modecollapse::stats::rng::Rng;
use modecollapse::stats::two_sample::{
    DifferenceMethod, bootstrap_difference, nsb_posterior_difference,
};

const K: usize = 101;
const ALPHA: f64 = 0.025;

fn zipf(n: usize) -> Vec<f64> {
    let h: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
    (1..=n).map(|i| 1.0 / i as f64 / h).collect()
}

fn distributions() -> Vec<(&'static str, Vec<f64>)> {
    let mut collapsed = vec![0.8];
    collapsed.extend(zipf(K - 1).into_iter().map(|p| 0.2 * p));
    vec![
        ("uniform", vec![1.0 / K as f64; K]),
        ("zipf", zipf(K)),
        ("collapsed", collapsed),
    ]
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

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let resamples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    println!(
        "false-positive rate of `entropy(a) > entropy(b)` with a and b drawn from the same \
         distribution (K = {K}, one-sided alpha = {ALPHA}, {runs} runs per cell, {resamples} \
         bootstrap resamples; Monte-Carlo standard error in parentheses)\n"
    );
    println!("| distribution | test | N = 50 | N = 200 | N = 1000 |");
    println!("|---|---|---|---|---|");
    let tests: [(&str, Option<(Estimator, DifferenceMethod)>); 5] = [
        ("NSB posterior difference (the NSB default)", None),
        (
            "plug-in, bootstrap percentile",
            Some((Estimator::PlugIn, DifferenceMethod::Percentile)),
        ),
        (
            "Grassberger, bootstrap percentile (the verdict's form)",
            Some((Estimator::Grassberger, DifferenceMethod::Percentile)),
        ),
        (
            "Grassberger, bootstrap BCa (not used: see docs)",
            Some((Estimator::Grassberger, DifferenceMethod::Bca)),
        ),
        (
            "Miller-Madow, bootstrap percentile",
            Some((Estimator::MillerMadow, DifferenceMethod::Percentile)),
        ),
    ];
    for (d, (name, p)) in distributions().iter().enumerate() {
        for (t, (label, form)) in tests.iter().enumerate() {
            let mut row = format!("| {name} | {label} |");
            for (j, n) in [50usize, 200, 1000].into_iter().enumerate() {
                // The same draws for every test of a cell: differences are the tests', not luck.
                let mut rng = Rng::seeded(0x0bd3_0000 + (d * 10 + j) as u64);
                let mut holds = 0usize;
                for run in 0..runs {
                    let a = draw(p, n, &mut rng);
                    let b = draw(p, n, &mut rng);
                    let p_greater = match form {
                        None => {
                            nsb_posterior_difference(&a, &b, K, 0.0, 0.95)
                                .expect("non-empty counts")
                                .p_greater
                        }
                        Some((estimator, method)) => {
                            let stat = |c: &[u64]| estimator.estimate(c, K).unwrap_or(f64::NAN);
                            bootstrap_difference(&a, &b, &stat, resamples, run as u64)
                                .expect("non-empty counts")
                                .p_greater(0.0, *method)
                        }
                    };
                    if p_greater < ALPHA {
                        holds += 1;
                    }
                }
                let rate = holds as f64 / runs as f64;
                let se = (rate * (1.0 - rate) / runs as f64).sqrt();
                row.push_str(&format!(" {rate:.3} ({se:.3}) |"));
            }
            println!("{row}");
            let _ = t;
        }
    }
}
