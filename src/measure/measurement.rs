//! A measurement's figures, and the entry point that picks the method.

use super::{enumerate, next_token, sample};
use crate::error::MeasureError;
use crate::source::{FetchError, Fetched, FetchedBatch, Source};
use crate::spec::{ClaimSpec, Method, ModelEntry, OutcomeSet, PromptSpec, RealMetric};
use crate::stats::{Interval, MassBounds};
use std::collections::BTreeSet;
use std::path::Path;

/// What is being measured, for requests and for error messages.
pub struct MeasurementTarget<'a> {
    /// The spec.
    pub spec: &'a ClaimSpec,
    /// The spec's file (for the "record it with" command).
    pub spec_path: &'a Path,
    /// The model set id.
    pub model_set: &'a str,
    /// The model.
    pub model: &'a ModelEntry,
    /// The prompt.
    pub prompt: &'a PromptSpec,
}

impl MeasurementTarget<'_> {
    pub(crate) fn fail(&self, err: FetchError) -> MeasureError {
        match err {
            FetchError::Missing => MeasureError::MissingRecording {
                spec: self.spec.id.clone(),
                model_set: self.model_set.to_string(),
                model: self.model.name.clone(),
                prompt: self.prompt.name.clone(),
                command: format!(
                    "modecollapse run {} --models {} --mode record",
                    self.spec_path.display(),
                    self.model_set
                ),
            },
            FetchError::Client { request, source } => MeasureError::Client {
                spec: self.spec.id.clone(),
                model_set: self.model_set.to_string(),
                model: self.model.name.clone(),
                prompt: self.prompt.name.clone(),
                request,
                source,
            },
            FetchError::Record(e) => MeasureError::Record(e),
            FetchError::Budget(n) => MeasureError::BudgetExhausted(n),
        }
    }

    pub(crate) fn unsupported(&self, message: impl Into<String>) -> MeasureError {
        MeasureError::Unsupported {
            spec: self.spec.id.clone(),
            model: self.model.name.clone(),
            message: message.into(),
        }
    }
}

/// The figures of one (model, prompt), each with its interval.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// `next_token` or `enumerate`.
    pub method: &'static str,
    /// Entropy of the normalised outcome distribution, nats.
    pub entropy: Interval,
    /// Total probability of the outcome set.
    pub coverage: Interval,
    /// The outcome with the most resolved probability.
    pub mode: Option<usize>,
    /// Whether `mode` is the mode whatever the unresolved mass does.
    pub mode_certain: bool,
    /// Normalised probability of the mode.
    pub mode_prob: Interval,
    /// Normalised probability of every outcome.
    pub shares: Vec<Interval>,
    /// Probability mass the method could not resolve (unseen beyond top-k or not expanded)
    /// that may still become an outcome.
    pub unresolved: f64,
    /// Probability mass known to become no outcome (" between", " 970", end of text).
    pub dead: f64,
    /// Requests the measurement took (recorded or live).
    pub requests: u32,
    /// Of those, requests sent to a server in this run.
    pub live_requests: u32,
    /// Model ids the server reported.
    pub model_ids: BTreeSet<String>,
    /// `system_fingerprint`s the server reported.
    pub fingerprints: BTreeSet<String>,
    /// Dates the responses were recorded.
    pub recorded: BTreeSet<String>,
    /// For the `sample` method: the counts behind the figures.
    pub sampled: Option<sample::Sampled>,
    /// Reasons to trust a figure less than its interval suggests.
    pub warnings: Vec<String>,
    /// For `next_token`: the post's uncertainty bar on the entropy (a heuristic, not a bound;
    /// `entropy` holds the guaranteed one).
    pub post_bar: Option<Interval>,
}

impl Measurement {
    /// The point shares, normalised to sum to 1: the distribution footnote 3's divergences are
    /// taken between (all zeros stay zeros).
    pub(crate) fn point_distribution(&self) -> Vec<f64> {
        let p: Vec<f64> = self.shares.iter().map(|s| s.point.max(0.0)).collect();
        let total: f64 = p.iter().sum();
        if total > 0.0 {
            p.iter().map(|x| x / total).collect()
        } else {
            p
        }
    }

    /// A measurement of an exactly known distribution over the outcomes (coverage 1): for unit
    /// tests elsewhere in the crate, which need figures and not a fetch.
    #[cfg(test)]
    pub(crate) fn of_distribution(p: &[f64]) -> Measurement {
        let exact = Interval::exact;
        let mode = (0..p.len()).max_by(|a, b| p[*a].total_cmp(&p[*b]));
        Measurement {
            method: "enumerate",
            entropy: exact(crate::stats::entropy_nats(p)),
            coverage: exact(1.0),
            mode,
            mode_certain: true,
            mode_prob: exact(mode.map_or(0.0, |i| p[i])),
            shares: p.iter().map(|x| exact(*x)).collect(),
            unresolved: 0.0,
            dead: 0.0,
            requests: 0,
            live_requests: 0,
            model_ids: Default::default(),
            fingerprints: Default::default(),
            recorded: Default::default(),
            sampled: None,
            warnings: Vec::new(),
            post_bar: None,
        }
    }

    pub(crate) fn from_bounds(
        method: &'static str,
        bounds: &MassBounds,
        dead: f64,
        log: &FetchLog,
    ) -> Measurement {
        let mode = bounds.point_mode();
        Measurement {
            method,
            entropy: bounds.entropy(),
            coverage: bounds.coverage(),
            mode,
            mode_certain: mode.is_some() && bounds.certain_mode() == mode,
            mode_prob: bounds.mode_share(),
            shares: bounds.shares(),
            unresolved: bounds.reachable_unresolved(),
            dead,
            requests: log.requests,
            live_requests: log.live,
            model_ids: log.model_ids.clone(),
            fingerprints: log.fingerprints.clone(),
            recorded: log.recorded.clone(),
            sampled: None,
            warnings: Vec::new(),
            post_bar: None,
        }
    }

    /// The figures of two guaranteed descriptions of the same measurement: each interval is
    /// the intersection of the two (both contain the truth, so their intersection does), the
    /// point is `self`'s, clamped into it.
    pub(crate) fn intersect(&self, other: &Measurement) -> Measurement {
        let both = |a: Interval, b: Interval| {
            let low = a.low.max(b.low);
            let high = a.high.min(b.high).max(low);
            Interval {
                point: a.point.clamp(low, high),
                low,
                high,
            }
        };
        let mut m = self.clone();
        m.entropy = both(self.entropy, other.entropy);
        m.coverage = both(self.coverage, other.coverage);
        m.mode_prob = both(self.mode_prob, other.mode_prob);
        m.shares = self
            .shares
            .iter()
            .zip(&other.shares)
            .map(|(&a, &b)| both(a, b))
            .collect();
        m.mode_certain = self.mode_certain || (other.mode_certain && other.mode == self.mode);
        m.unresolved = self.unresolved.min(other.unresolved);
        m
    }

    /// A real-valued metric as an interval.
    pub fn metric(&self, metric: &RealMetric, outcomes: &OutcomeSet) -> Option<Interval> {
        match metric {
            RealMetric::Entropy => Some(self.entropy),
            RealMetric::Coverage => Some(self.coverage),
            RealMetric::ModeProb => Some(self.mode_prob),
            RealMetric::Prob(n) => outcomes.index_of(n).map(|i| self.shares[i]),
            RealMetric::Ece | RealMetric::Accuracy => None,
        }
    }
}

/// What identifies the responses a measurement used.
#[derive(Debug, Default)]
pub(crate) struct FetchLog {
    pub requests: u32,
    pub live: u32,
    pub model_ids: BTreeSet<String>,
    pub fingerprints: BTreeSet<String>,
    pub recorded: BTreeSet<String>,
}

impl FetchLog {
    pub fn note(&mut self, f: &Fetched) {
        self.requests += 1;
        self.live += u32::from(f.live);
        self.note_response(f);
    }

    /// Notes a batch of samples: one request (live or not), however many samples it holds.
    pub fn note_batch(&mut self, b: &FetchedBatch) {
        self.requests += 1;
        self.live += u32::from(b.live_request);
        for f in &b.fetched {
            self.note_response(f);
        }
    }

    /// Notes what identifies a response's model and when it was recorded.
    fn note_response(&mut self, f: &Fetched) {
        self.model_ids
            .extend(f.response.model_id().map(str::to_string));
        self.fingerprints
            .extend(f.response.fingerprint().map(str::to_string));
        self.recorded.insert(f.recorded.clone());
    }
}

/// Measures one (model, prompt) with the spec's method.
pub async fn measure(
    target: &MeasurementTarget<'_>,
    source: &Source,
) -> Result<Measurement, MeasureError> {
    match &target.spec.method {
        Method::NextToken { top_k } => next_token::measure(target, source, *top_k).await,
        Method::Enumerate {
            top_k,
            root_top_k,
            min_mass,
            max_requests,
        } => {
            enumerate::measure(
                target,
                source,
                enumerate::Params {
                    top_k: *top_k,
                    root_top_k: *root_top_k,
                    min_mass: *min_mass,
                    max_requests: *max_requests,
                },
            )
            .await
        }
        Method::Sample {
            samples,
            temperature,
            max_tokens,
            seed,
            estimator,
            interval,
            resamples,
            level,
        } => {
            sample::measure(
                target,
                source,
                sample::Params {
                    samples: *samples,
                    temperature: *temperature,
                    max_tokens: *max_tokens,
                    seed: *seed,
                    estimator: estimator.as_deref(),
                    interval: interval.as_deref(),
                    resamples: *resamples,
                    level: *level,
                    max_n: target.model.max_n,
                },
            )
            .await
        }
    }
}
