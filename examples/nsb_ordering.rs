//! The false-positive rate of the ordering test between two NSB figures, simulated.
//!
//! `entropy(a) > entropy(b)` with both figures sampled and NSB (the default below 10 samples
//! per outcome) is decided by `stats::two_sample::nsb_posterior_difference`: it holds when the
//! one-sided p-value of "d > 0" is below α = 0.025. Here a and b are drawn from the SAME
//! distribution, so every "holds" is a false positive; the rate should be ≤ 0.05 (the issue's
//! bound) and ideally near 0.025. Distributions over K = 101 outcomes as in
//! `docs/calibration.md`: uniform, Zipf (p ∝ 1/i) and collapsed (0.8 on one outcome, the rest
//! Zipf over the other 100). Deterministic (the crate's own seeded generator).
//!
//! Run: `cargo run --release --example nsb_ordering [-- RUNS]` (default 1000 runs per cell).

use modecollapse::stats::rng::Rng;
use modecollapse::stats::two_sample::nsb_posterior_difference;

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
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    println!(
        "false-positive rate of `entropy(a) > entropy(b)` between two NSB figures drawn from the \
         same distribution (K = {K}, alpha = {ALPHA} one-sided, {runs} runs per cell; \
         Monte-Carlo standard error in parentheses)\n"
    );
    println!("| distribution | N = 50 | N = 200 | N = 1000 |");
    println!("|---|---|---|---|");
    for (d, (name, p)) in distributions().iter().enumerate() {
        let mut row = format!("| {name} |");
        for (j, n) in [50usize, 200, 1000].into_iter().enumerate() {
            let mut rng = Rng::seeded(0x0bd3_0000 + (d * 10 + j) as u64);
            let mut holds = 0usize;
            for _ in 0..runs {
                let a = draw(p, n, &mut rng);
                let b = draw(p, n, &mut rng);
                let t = nsb_posterior_difference(&a, &b, K, 0.0, 0.95).expect("non-empty counts");
                if t.p_greater < ALPHA {
                    holds += 1;
                }
            }
            let rate = holds as f64 / runs as f64;
            let se = (rate * (1.0 - rate) / runs as f64).sqrt();
            row.push_str(&format!(" {rate:.3} ({se:.3}) |"));
        }
        println!("{row}");
    }
}
