//! Speed targets of the statistics (issue: BCa and NSB on a realistic sample).
//!
//! Targets on one core of the project machine: a 2,000-resample BCa interval on 1,000 samples
//! over 101 outcomes under 50 ms; NSB on the same counts under 10 ms. Also timed, without a
//! target from the issue: the NSB standard errors of the ordering test (jackknife) and of
//! `interval: augmented`.
//! Run with `cargo bench --bench stats`.

use criterion::{Criterion, criterion_group, criterion_main};
use modecollapse::stats::estimators::Estimator;
use modecollapse::stats::intervals::bootstrap_interval;
use modecollapse::stats::rng::Rng;
use modecollapse::stats::two_sample::{StandardError, entropy_with_error};
use std::hint::black_box;

/// 1,000 draws over 101 outcomes from a collapsed distribution (half the mass on one outcome,
/// the rest spread), seeded, so the bench measures a realistic, fixed input.
fn counts() -> Vec<u64> {
    let mut rng = Rng::seeded(97);
    let mut counts = vec![0u64; 101];
    for _ in 0..1000 {
        let i = if rng.uniform() < 0.5 {
            97
        } else {
            rng.below(101) as usize
        };
        counts[i] += 1;
    }
    counts
}

fn bench(c: &mut Criterion) {
    let counts = counts();
    // NSB is not bootstrapped (its interval is its posterior), so only the others are.
    for estimator in [
        Estimator::PlugIn,
        Estimator::MillerMadow,
        Estimator::Grassberger,
    ] {
        let stat = move |x: &[u64]| estimator.estimate(x, 101).unwrap_or(f64::NAN);
        c.bench_function(
            &format!("bca_2000_n1000_k101_{}", estimator.as_str()),
            |b| b.iter(|| bootstrap_interval(black_box(&counts), &stat, 2000, 7, 0.95).unwrap()),
        );
    }
    c.bench_function("nsb_n1000_k101", |b| {
        b.iter(|| Estimator::Nsb.estimate(black_box(&counts), 101).unwrap())
    });
    // The ordering test's standard error of one NSB figure (one NSB per seen outcome), and
    // `interval: augmented`'s (200 NSB evaluations).
    c.bench_function("nsb_jackknife_se_n1000_k101", |b| {
        b.iter(|| {
            entropy_with_error(black_box(&counts), Estimator::Nsb, StandardError::Jackknife)
                .unwrap()
        })
    });
    c.bench_function("nsb_augmented_se_200_n1000_k101", |b| {
        let how = StandardError::Augmented {
            resamples: 200,
            seed: 7,
        };
        b.iter(|| entropy_with_error(black_box(&counts), Estimator::Nsb, how).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
