//! The `sample` method: N seeded completions per (model, prompt), outcomes read from the text.
//!
//! Sample i has seed `seed + i`. With the model's `max_n` > 1, samples i..i+n are one request
//! with `"n": n` and the seed of sample i (on llama.cpp, measured: choice j of that request is
//! the sample a lone request with seed `seed + i + j` gives, so the samples are the same
//! independent draws either way); each is recorded under its own key, which names its batch.
//!
//! Each completion is classified with the same definition as the logprob methods (a completion
//! " 97." is 97; one cut off by `max_tokens` right after digits is no outcome, since more digits
//! could have followed). Completions that are no outcome are counted, never dropped: they are
//! the complement of the coverage. Figures are estimates with intervals at the spec's level:
//! coverage, shares and the mode's share with Wilson intervals; entropy with the chosen
//! estimator and a seeded bootstrap interval (BCa by default).

use super::measurement::{FetchLog, Measurement, MeasurementTarget};
use crate::error::MeasureError;
use crate::request::{Batch, Response, SampleRequest};
use crate::source::Source;
use crate::stats::Interval;
use crate::stats::estimators::{Estimator, nsb};
use crate::stats::intervals::{bootstrap_interval, wilson};
use crate::stats::two_sample::{StandardError, entropy_with_error};
use futures::StreamExt;
use statrs::distribution::{ContinuousCDF, Normal};

pub(super) struct Params<'a> {
    pub samples: u32,
    pub temperature: f64,
    pub max_tokens: u32,
    pub seed: u64,
    pub estimator: Option<&'a str>,
    pub interval: Option<&'a str>,
    pub resamples: u32,
    pub level: f64,
    /// Completions per request (the model's `max_n`).
    pub max_n: u32,
}

/// Recordings are flushed after every this many completions, so an interrupted run keeps them.
const FLUSH_EVERY: usize = 50;

pub(super) async fn measure(
    t: &MeasurementTarget<'_>,
    source: &Source,
    p: Params<'_>,
) -> Result<Measurement, MeasureError> {
    let outcomes = &t.spec.outcomes;
    let batches = batches(
        &SampleRequest {
            api: t.model.api,
            model: t.model.model.clone(),
            prompt: t.prompt.text.clone(),
            temperature: p.temperature,
            max_tokens: p.max_tokens,
            seed: p.seed,
            batch: None,
            lora: t.model.lora.clone(),
        },
        p.samples,
        p.max_n,
    );
    let mut counts = vec![0u64; outcomes.len()];
    let mut other = 0u64;
    let mut log = FetchLog::default();
    // The texts of each batch of two or more, for the check that its choices are independent.
    let mut batch_texts: Vec<Vec<String>> = Vec::new();
    // Flush about every FLUSH_EVERY completions, whatever the batch size.
    let per_flush = FLUSH_EVERY.div_ceil(p.max_n.max(1) as usize);
    for group in batches.chunks(per_flush) {
        let fetched: Vec<_> = futures::stream::iter(
            group
                .iter()
                .map(|batch| source.fetch_batch(t.model_set, t.model, batch)),
        )
        .buffered(t.model.concurrency.max(1) as usize)
        .collect()
        .await;
        source.flush()?;
        for b in fetched {
            let b = b.map_err(|e| t.fail(e))?;
            log.note_batch(&b);
            let mut texts = Vec::with_capacity(b.fetched.len());
            for f in &b.fetched {
                let Response::Sample(c) = &f.response else {
                    unreachable!("a sample request answered with logprobs");
                };
                match outcomes.classify_completion(&c.text, c.ended()) {
                    Some(n) => counts[n] += 1,
                    None => other += 1,
                }
                texts.push(c.text.clone());
            }
            if texts.len() > 1 {
                batch_texts.push(texts);
            }
        }
    }
    let mut m = figures(&p, counts, other, &log)
        .map_err(|e| t.unsupported(format!("failed to compute a figure: {e}")))?;
    m.warnings.extend(repeated_choices_warning(&batch_texts));
    Ok(m)
}

/// The requests of `samples` samples grouped into batches of at most `max_n`: samples
/// i..i+n form one batch whose requests all carry the seed of sample i, choice j being
/// sample i + j. A batch of one (`max_n` 1, or the last sample of an odd count) is a plain
/// sample without a batch, keyed exactly as before batches existed. The grouping depends only
/// on the spec and `max_n`, so a replay finds the same keys.
fn batches(template: &SampleRequest, samples: u32, max_n: u32) -> Vec<Vec<SampleRequest>> {
    let max_n = max_n.max(1);
    (0..samples)
        .step_by(max_n as usize)
        .map(|i| {
            let n = max_n.min(samples - i);
            let seed = template.seed.wrapping_add(u64::from(i));
            (0..n)
                .map(|index| SampleRequest {
                    seed,
                    batch: (n > 1).then_some(Batch { n, index }),
                    ..template.clone()
                })
                .collect()
        })
        .collect()
}

fn figures(
    p: &Params<'_>,
    counts: Vec<u64>,
    other: u64,
    log: &FetchLog,
) -> Result<Measurement, String> {
    let k = counts.len();
    let inside: u64 = counts.iter().sum();
    let total = inside + other;
    let (c_lo, c_hi) = wilson(inside, total, p.level).map_err(|e| e.to_string())?;
    let coverage = Interval {
        point: inside as f64 / total as f64,
        low: c_lo,
        high: c_hi,
    };
    let shares: Vec<Interval> = counts
        .iter()
        .map(|&c| {
            if inside == 0 {
                return Interval {
                    point: 0.0,
                    low: 0.0,
                    high: 1.0,
                };
            }
            let (low, high) = wilson(c, inside, p.level).unwrap_or((0.0, 1.0));
            Interval {
                point: c as f64 / inside as f64,
                low,
                high,
            }
        })
        .collect();
    let mode = (inside > 0).then(|| {
        (0..k)
            .max_by(|&a, &b| counts[a].cmp(&counts[b]).then(b.cmp(&a)))
            .expect("k > 0")
    });
    let mode_certain =
        mode.is_some_and(|m| (0..k).all(|n| n == m || shares[m].low > shares[n].high));
    let estimator = p
        .estimator
        .map(|name| Estimator::parse(name).expect("validated with the spec"));
    // The bootstrap stream depends on the spec's seed only, so a replay is byte-identical.
    let figure = entropy_figure(
        &counts,
        estimator,
        p.interval,
        p.resamples as usize,
        p.seed ^ 0x5eed_b007,
        p.level,
    )?;
    let (entropy, estimator, interval) = (figure.entropy, figure.estimator, figure.interval);
    Ok(Measurement {
        method: "sample",
        entropy,
        coverage,
        mode,
        mode_certain,
        mode_prob: mode.map_or(Interval::exact(0.0), |m| shares[m]),
        shares,
        unresolved: 0.0,
        dead: other as f64 / total as f64,
        requests: log.requests,
        live_requests: log.live,
        model_ids: log.model_ids.clone(),
        fingerprints: log.fingerprints.clone(),
        recorded: log.recorded.clone(),
        warnings: small_sample_warning(inside, k)
            .into_iter()
            .chain(one_outcome_warning(&counts))
            .collect(),
        post_bar: None,
        sampled: Some(Sampled {
            counts,
            other,
            estimator: estimator.as_str(),
            interval: interval.to_string(),
        }),
    })
}

/// A sampled entropy figure and how it was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntropyFigure {
    /// Point estimate and interval, nats.
    pub entropy: Interval,
    /// The estimator that made the point.
    pub estimator: Estimator,
    /// The interval method: `posterior`, `bca`, `percentile` or `augmented`.
    pub interval: &'static str,
}

/// The entropy figure of a sampled measurement from its counts over `counts.len()` outcomes:
/// the estimator (`None`: [`Estimator::default_for`] the samples in the set) and the interval
/// (`None`: `posterior` for NSB, `bca` otherwise), with `resamples` bootstrap resamples drawn
/// from `seed`, at `level`.
///
/// Public so that the calibration simulation (`examples/calibration.rs`) measures exactly what
/// a measurement reports.
pub fn entropy_figure(
    counts: &[u64],
    estimator: Option<Estimator>,
    interval: Option<&str>,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<EntropyFigure, String> {
    let k = counts.len();
    let inside: u64 = counts.iter().sum();
    // `interval: posterior` names NSB's posterior, so it implies the estimator; otherwise the
    // default follows the samples in the set.
    let estimator = match (estimator, interval) {
        (Some(e), _) => e,
        (None, Some("posterior")) => Estimator::Nsb,
        (None, _) => Estimator::default_for(inside, k),
    };
    let interval = match (interval, estimator) {
        (Some("posterior"), _) | (None, Estimator::Nsb) => "posterior",
        (Some("percentile"), _) => "percentile",
        (Some("augmented"), _) => "augmented",
        _ => "bca",
    };
    let ln_k = (k as f64).ln();
    let entropy = if inside == 0 {
        Interval {
            point: 0.0,
            low: 0.0,
            high: ln_k,
        }
    } else if interval == "posterior" {
        let post = nsb(counts, k).map_err(|e| e.to_string())?;
        let z = Normal::standard().inverse_cdf(0.5 + level / 2.0);
        Interval {
            point: post.mean,
            low: (post.mean - z * post.std).max(0.0),
            high: (post.mean + z * post.std).min(ln_k),
        }
    } else if interval == "augmented" {
        let e = entropy_with_error(
            counts,
            estimator,
            StandardError::Augmented { resamples, seed },
        )
        .map_err(|e| e.to_string())?;
        let z = Normal::standard().inverse_cdf(0.5 + level / 2.0);
        Interval {
            point: e.estimate,
            low: (e.estimate - z * e.standard_error).max(0.0),
            high: (e.estimate + z * e.standard_error).min(ln_k),
        }
    } else {
        let stat = |c: &[u64]| estimator.estimate(c, k).unwrap_or(f64::NAN);
        let boot =
            bootstrap_interval(counts, &stat, resamples, seed, level).map_err(|e| e.to_string())?;
        let (low, high) = if interval == "percentile" {
            boot.percentile
        } else {
            boot.bca
        };
        // A biased estimator's bootstrap interval can miss its own estimate; the figure's
        // interval always contains its point.
        Interval {
            point: boot.estimate,
            low: low.min(boot.estimate),
            high: high.max(boot.estimate),
        }
    };
    Ok(EntropyFigure {
        entropy,
        estimator,
        interval,
    })
}

/// One-sided p-value below which [`repeated_choices_warning`] warns: a false alarm on a
/// server with independent choices about once in a thousand batched measurements.
const REPEATED_CHOICES_ALPHA: f64 = 1e-3;

/// A warning when the choices of a batch look like one sample repeated rather than independent
/// samples: a server that seeds every choice of a request alike would return the same text n
/// times, and every batch would count one draw n times. Measured on llama.cpp, choice j gets
/// seed + j (independent); OpenAI and vLLM were not measured here, and a vLLM user reported
/// identical choices (vllm-project/vllm#10852), so every batched measurement is checked.
///
/// The check: under independence, choices 0 and 1 of a batch agree as often as choice 0 of a
/// batch and choice 1 of the next (both are two independent draws of the same distribution).
/// A one-sided sign test over the batches compares the two; repeated choices agree within
/// every batch and only by chance across, so they show as many more agreements within.
fn repeated_choices_warning(batches: &[Vec<String>]) -> Option<String> {
    let b = batches.len();
    if b < 2 {
        return None;
    }
    let within: Vec<bool> = batches.iter().map(|t| t[0] == t[1]).collect();
    let across: Vec<bool> = (0..b)
        .map(|i| batches[i][0] == batches[(i + 1) % b][1])
        .collect();
    let d: Vec<f64> = within
        .iter()
        .zip(&across)
        .map(|(&w, &a)| f64::from(u8::from(w)) - f64::from(u8::from(a)))
        .collect();
    let more_within = d.iter().filter(|&&x| x > 0.0).count();
    let more_across = d.iter().filter(|&&x| x < 0.0).count();
    if more_within <= more_across {
        return None;
    }
    // The two-sided exact sign test halved: the one-sided tail of the side observed.
    let p = crate::stats::hypothesis::sign_test(&d).ok()?.p_value / 2.0;
    let same = within.iter().filter(|&&w| w).count();
    let same_across = across.iter().filter(|&&a| a).count();
    (p < REPEATED_CHOICES_ALPHA).then(|| {
        format!(
            "the choices within a batch were identical in {same} of {b} batches, against \
             {same_across} of {b} pairs across batches (one-sided sign test p = {p:.1e}): the \
             server's `n` may repeat one sample instead of drawing independent ones; set the \
             model's `max_n: 1`, or check the server with scripts/n-choices-check.py"
        )
    })
}

/// A warning when the samples in the outcome set are few against its size: there no entropy
/// interval is reliably calibrated (measured on the local models: 37 samples over 101 outcomes
/// gave an NSB interval of [0.84, 1.64] nats for an exact entropy of 1.97).
fn small_sample_warning(inside: u64, k: usize) -> Option<String> {
    let needed = crate::stats::estimators::NSB_BELOW_SAMPLES_PER_OUTCOME * k as u64;
    (inside < needed).then(|| {
        format!(
            "only {inside} samples in the outcome set for {k} outcomes (fewer than {needed}): the \
             entropy interval may be too narrow; read its verdicts as indicative"
        )
    })
}

/// A warning when every sample in the outcome set fell on one outcome: the bootstrap then
/// has no spread, so an entropy interval of [0, 0] says nothing about how small it really is
/// (shares keep their Wilson width).
fn one_outcome_warning(counts: &[u64]) -> Option<String> {
    let seen: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
    (seen.len() == 1 && counts[seen[0]] > 0).then(|| {
        format!(
            "all {} samples in the outcome set fell on one outcome: the entropy interval has no \
             spread and understates its uncertainty",
            counts[seen[0]]
        )
    })
}

/// What a sampled measurement counted.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// Completions per outcome.
    pub counts: Vec<u64>,
    /// Completions that are no outcome.
    pub other: u64,
    /// The entropy estimator used.
    pub estimator: &'static str,
    /// The bootstrap interval used for entropy.
    pub interval: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Api;

    #[test]
    fn posterior_implies_nsb_and_augmented_takes_any_estimator() {
        // Synthetic counts (a unit test of the figure's plumbing, not model output).
        let counts = [12u64, 7, 3, 1, 1, 0, 0, 0, 0, 0];
        let f = entropy_figure(&counts, None, Some("posterior"), 100, 1, 0.95).unwrap();
        assert_eq!((f.estimator, f.interval), (Estimator::Nsb, "posterior"));
        for e in Estimator::ALL {
            let f = entropy_figure(&counts, Some(e), Some("augmented"), 300, 1, 0.95).unwrap();
            assert_eq!(f.interval, "augmented");
            assert_eq!(f.entropy.point, e.estimate(&counts, counts.len()).unwrap());
            assert!(f.entropy.low < f.entropy.point && f.entropy.point < f.entropy.high);
            assert!(f.entropy.high <= (counts.len() as f64).ln());
        }
    }

    fn template() -> SampleRequest {
        SampleRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "p".into(),
            temperature: 1.0,
            max_tokens: 6,
            seed: 10,
            batch: None,
            lora: Vec::new(),
        }
    }

    /// (seed, (n, index)) of each request of a batch.
    type Shape = Vec<(u64, Option<(u32, u32)>)>;

    /// The shape of every batch.
    fn shape(b: &[Vec<SampleRequest>]) -> Vec<Shape> {
        b.iter()
            .map(|batch| {
                batch
                    .iter()
                    .map(|r| (r.seed, r.batch.map(|b| (b.n, b.index))))
                    .collect()
            })
            .collect()
    }

    /// Synthetic batches (test data for the check, not model output): `pairs[i]` are the two
    /// choices of batch i.
    fn texts(pairs: &[(&str, &str)]) -> Vec<Vec<String>> {
        pairs
            .iter()
            .map(|(a, b)| vec![a.to_string(), b.to_string()])
            .collect()
    }

    #[test]
    fn repeated_choices_are_flagged_and_independent_ones_are_not() {
        let words = ["7", "42", "13", "97", "3", "55", "21", "88", "64", "9"];
        // Every batch one sample twice, over ten different samples: flagged.
        let repeated: Vec<(&str, &str)> = (0..40).map(|i| (words[i % 10], words[i % 10])).collect();
        let w = repeated_choices_warning(&texts(&repeated)).expect("flagged");
        assert!(w.contains("identical in 40 of 40 batches"), "{w}");
        // Independent-looking choices: agreements as often within as across.
        let mixed: Vec<(&str, &str)> = (0..40)
            .map(|i| (words[i % 10], words[(i * 7 + 3) % 10]))
            .collect();
        assert_eq!(repeated_choices_warning(&texts(&mixed)), None);
        // A collapsed distribution agrees everywhere: no evidence either way, no warning.
        let collapsed: Vec<(&str, &str)> = (0..40).map(|_| ("97", "97")).collect();
        assert_eq!(repeated_choices_warning(&texts(&collapsed)), None);
        // Too few batches to tell: no warning.
        assert_eq!(repeated_choices_warning(&texts(&repeated[..5])), None);
    }

    #[test]
    fn max_n_1_is_one_unbatched_request_per_sample() {
        let b = batches(&template(), 3, 1);
        assert_eq!(
            shape(&b),
            [vec![(10, None)], vec![(11, None)], vec![(12, None)]]
        );
    }

    #[test]
    fn batches_carry_the_seed_of_their_first_sample() {
        let b = batches(&template(), 5, 2);
        assert_eq!(
            shape(&b),
            [
                vec![(10, Some((2, 0))), (10, Some((2, 1)))],
                vec![(12, Some((2, 0))), (12, Some((2, 1)))],
                // The odd sample out is a plain sample: the key max_n 1 gives it.
                vec![(14, None)],
            ]
        );
        // Every sample once, and no two requests alike: no sample can be a duplicate key.
        let keys: std::collections::BTreeSet<_> = b
            .iter()
            .flatten()
            .map(|r| crate::request::Request::Sample(r.clone()).key())
            .collect();
        assert_eq!(keys.len(), 5);
        let b = batches(&template(), 7, 3);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(b[1][2].seed, 13);
    }
}
