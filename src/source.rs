//! Where responses come from: recordings, a live server, or both, by mode.

use crate::client::Client;
use crate::error::{ClientError, MeasureError, RecordError, VocabError};
use crate::record::{Recorded, RecordingStore, today_utc};
use crate::request::{Request, Response, SampleRequest, TopLogprobs};
use crate::spec::{ModelEntry, ModelStatus, OutcomeSet};
use crate::vocab::facts::outcome_key;
use crate::vocab::{FactsStore, OutcomeFacts, Vocabulary, VocabularyFacts};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a run treats recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Use recordings only; a missing one is an error (the default, and what CI runs).
    Replay,
    /// Use recordings; request and record what is missing.
    Record,
    /// Request everything again and overwrite the recordings.
    Refresh,
    /// Request everything; read and write no recordings.
    Live,
}

impl Mode {
    /// The name used on the command line and in `MODECOLLAPSE_MODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replay => "replay",
            Mode::Record => "record",
            Mode::Refresh => "refresh",
            Mode::Live => "live",
        }
    }

    /// Parses `MODECOLLAPSE_MODE`-style names.
    pub fn parse(s: &str) -> Option<Mode> {
        [Mode::Replay, Mode::Record, Mode::Refresh, Mode::Live]
            .into_iter()
            .find(|m| m.as_str() == s)
    }

    fn contacts_servers(self) -> bool {
        self != Mode::Replay
    }
}

/// A response and where it came from.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The response, of the request's kind.
    pub response: Response,
    /// The date it was recorded (today for live responses).
    pub recorded: String,
    /// Whether it was requested from a server in this run.
    pub live: bool,
}

/// The responses to the samples of one batch, in choice order.
#[derive(Debug, Clone)]
pub struct FetchedBatch {
    /// One response per sample of the batch.
    pub fetched: Vec<Fetched>,
    /// Whether a request was sent to a server for it (once per batch, whatever its size).
    pub live_request: bool,
}

/// Why a response could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No recording, and the mode (or the model's status) forbids asking a server.
    #[error("no recording")]
    Missing,
    /// The server failed on a request.
    #[error("{request}: {source}")]
    Client {
        /// The request, described (see [`Request::describe`]).
        request: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// The recordings failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The live request budget is used up.
    #[error("request budget of {0} used up")]
    Budget(u64),
}

/// Responses by mode, with a budget on live requests and a hook for progress display.
pub struct Source {
    mode: Mode,
    store: Arc<RecordingStore>,
    client: Option<Client>,
    budget: Option<u64>,
    live_requests: AtomicU64,
    on_live_request: Option<Box<dyn Fn() + Send + Sync>>,
    missing_is_unavailable: bool,
    facts: FactsStore,
    vocabularies: Mutex<BTreeMap<(String, String), Arc<VocabularyFacts>>>,
}

impl Fetched {
    /// The log-probabilities of a logprob response.
    pub fn logprobs(&self) -> &TopLogprobs {
        match &self.response {
            Response::Logprobs(t) => t,
            // The store pairs every request with a response of its kind, and so does the client.
            Response::Sample(_) => unreachable!("a logprob request answered with a sample"),
        }
    }
}

impl Source {
    /// A source. `client` is needed by every mode but replay.
    pub fn new(mode: Mode, store: Arc<RecordingStore>, client: Option<Client>) -> Source {
        Source {
            mode,
            client,
            budget: None,
            live_requests: AtomicU64::new(0),
            on_live_request: None,
            missing_is_unavailable: false,
            facts: FactsStore::new(store.root()),
            store,
            vocabularies: Mutex::default(),
        }
    }

    /// The vocabulary facts for measuring `outcomes` on a model: in replay, those recorded
    /// beside its responses (none for recordings made without a tokenizer); otherwise computed
    /// from the model's declared tokenizer, checked against the recorded fingerprint (a
    /// changed vocabulary must be recorded as a new version) and recorded (but in `live`
    /// mode). A model without a `tokenizer:`, or whose tokenizer file is not named in this
    /// environment, uses whatever facts are recorded.
    // MeasureError is what every measurement returns (its async methods are not linted for
    // size); boxing it here alone would only add a conversion.
    #[allow(clippy::result_large_err)]
    pub fn vocabulary_facts(
        &self,
        model_set: &str,
        model: &ModelEntry,
        outcomes: &OutcomeSet,
    ) -> Result<Option<OutcomeFacts>, MeasureError> {
        let key = outcome_key(outcomes);
        let recorded = self.facts.get(model_set, &model.name)?;
        let from_recording = || {
            recorded
                .as_ref()
                .and_then(|f| f.outcome_sets.get(&key).cloned())
        };
        let Some(spec) = model
            .tokenizer
            .as_ref()
            .filter(|_| self.mode.contacts_servers())
        else {
            return Ok(from_recording());
        };
        let fail = |source| MeasureError::Vocabulary {
            model_set: model_set.to_string(),
            model: model.name.clone(),
            source,
        };
        // One vocabulary load per model per run; the facts of each outcome set are added to it.
        let mut cache = self.vocabularies.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (model_set.to_string(), model.name.clone());
        if let Some(f) = cache.get(&slot).and_then(|f| f.outcome_sets.get(&key)) {
            return Ok(Some(f.clone()));
        }
        let vocab = match Vocabulary::load(spec) {
            Ok(v) => v,
            // No file here: the recorded facts still hold (their fingerprint is checked
            // wherever the file is available); without them the measurement warns.
            Err(VocabError::PathUnset(_)) => return Ok(from_recording()),
            Err(e) => return Err(fail(e)),
        };
        let mut facts = match cache.get(&slot) {
            Some(f) => (**f).clone(),
            None => VocabularyFacts::new(&vocab),
        };
        if let Some(r) = &recorded {
            let refresh = self.mode == Mode::Refresh;
            if r.fingerprint != facts.fingerprint && !refresh {
                return Err(fail(VocabError::Changed {
                    path: self
                        .facts
                        .path_for(model_set, &model.name)
                        .display()
                        .to_string(),
                    recorded: r.fingerprint.clone(),
                    found: facts.fingerprint.clone(),
                }));
            }
            if r.fingerprint == facts.fingerprint {
                for (k, v) in &r.outcome_sets {
                    facts
                        .outcome_sets
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
            }
        }
        let of_set = vocab.viable(outcomes);
        facts.outcome_sets.insert(key, of_set.clone());
        if self.mode != Mode::Live && recorded.as_ref() != Some(&facts) {
            self.facts.put(model_set, &model.name, &facts)?;
        }
        cache.insert(slot, Arc::new(facts));
        Ok(Some(of_set))
    }

    /// Stops live requests after `n` (`--max-requests`).
    pub fn with_budget(mut self, n: Option<u64>) -> Source {
        self.budget = n;
        self
    }

    /// Calls `hook` after each live request (the CLI's progress bar).
    pub fn with_progress(mut self, hook: impl Fn() + Send + Sync + 'static) -> Source {
        self.on_live_request = Some(Box::new(hook));
        self
    }

    /// Whether a missing recording is reported as unavailable rather than an error.
    pub fn with_missing_as_unavailable(mut self, yes: bool) -> Source {
        self.missing_is_unavailable = yes;
        self
    }

    /// See [`Source::with_missing_as_unavailable`].
    pub fn missing_is_unavailable(&self) -> bool {
        self.missing_is_unavailable
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether any recording of this model of this set exists on disk.
    pub fn has_recordings(&self, model_set: &str, model: &str) -> bool {
        self.store.path_for(model_set, model).exists()
    }

    /// Live requests made so far.
    pub fn live_requests(&self) -> u64 {
        self.live_requests.load(Ordering::Relaxed)
    }

    /// The response to a request for a model of a set.
    pub async fn fetch(
        &self,
        model_set: &str,
        model: &ModelEntry,
        req: &Request,
    ) -> Result<Fetched, FetchError> {
        let use_recordings = self.mode != Mode::Live;
        let may_request = self.mode.contacts_servers() && model.status == ModelStatus::Live;
        if use_recordings
            && (self.mode != Mode::Refresh || !may_request)
            && let Some(Recorded { response, recorded }) =
                self.store.get(model_set, &model.name, req)?
        {
            return Ok(Fetched {
                response,
                recorded,
                live: false,
            });
        }
        let client = self.spend_live_request(may_request)?;
        let response = client
            .send(model, req)
            .await
            .map_err(|source| FetchError::Client {
                request: req.describe(),
                source,
            })?;
        let recorded = today_utc();
        if use_recordings {
            self.store.put(
                model_set,
                &model.name,
                req,
                Recorded {
                    response: response.clone(),
                    recorded: recorded.clone(),
                },
            )?;
        }
        if let Some(hook) = &self.on_live_request {
            hook();
        }
        Ok(Fetched {
            response,
            recorded,
            live: true,
        })
    }

    /// The responses to one batch of samples: the requests of choices `0..n` of one batch (see
    /// [`crate::request::Batch`]), or a single unbatched sample. Recorded responses are used as
    /// [`Source::fetch`] uses them; when any choice is missing (or in refresh mode), the batch
    /// is requested again with ONE live request, which counts once against the budget, and each
    /// choice is stored under its own key. Choices already recorded keep their recording (on
    /// record, only what is missing is written), so a batch cut in half by an interrupted or
    /// merged run is completed without rewriting the half it had.
    pub async fn fetch_batch(
        &self,
        model_set: &str,
        model: &ModelEntry,
        batch: &[SampleRequest],
    ) -> Result<FetchedBatch, FetchError> {
        let first = batch.first().expect("a batch has at least one sample");
        assert_eq!(
            batch.len(),
            first.n() as usize,
            "a batch holds its n samples"
        );
        let requests: Vec<Request> = batch.iter().cloned().map(Request::Sample).collect();
        let use_recordings = self.mode != Mode::Live;
        let may_request = self.mode.contacts_servers() && model.status == ModelStatus::Live;
        let mut have: Vec<Option<Recorded>> = vec![None; requests.len()];
        if use_recordings && (self.mode != Mode::Refresh || !may_request) {
            for (slot, req) in have.iter_mut().zip(&requests) {
                *slot = self.store.get(model_set, &model.name, req)?;
            }
            if have.iter().all(Option::is_some) {
                let fetched = have
                    .into_iter()
                    .flatten()
                    .map(|Recorded { response, recorded }| Fetched {
                        response,
                        recorded,
                        live: false,
                    })
                    .collect();
                return Ok(FetchedBatch {
                    fetched,
                    live_request: false,
                });
            }
        }
        let client = self.spend_live_request(may_request)?;
        let choices = client
            .complete_batch(model, first)
            .await
            .map_err(|source| FetchError::Client {
                request: requests[0].describe(),
                source,
            })?;
        let today = today_utc();
        let mut fetched = Vec::with_capacity(requests.len());
        // The client returns exactly n choices, in index order.
        for ((req, kept), choice) in requests.iter().zip(have).zip(choices) {
            if let Some(Recorded { response, recorded }) = kept {
                fetched.push(Fetched {
                    response,
                    recorded,
                    live: false,
                });
                continue;
            }
            let response = Response::Sample(choice);
            if use_recordings {
                self.store.put(
                    model_set,
                    &model.name,
                    req,
                    Recorded {
                        response: response.clone(),
                        recorded: today.clone(),
                    },
                )?;
            }
            fetched.push(Fetched {
                response,
                recorded: today.clone(),
                live: true,
            });
        }
        if let Some(hook) = &self.on_live_request {
            hook();
        }
        Ok(FetchedBatch {
            fetched,
            live_request: true,
        })
    }

    /// The client for one live request, counted against the budget; `Missing` when this mode or
    /// model may not contact a server.
    fn spend_live_request(&self, may_request: bool) -> Result<&Client, FetchError> {
        if !may_request {
            return Err(FetchError::Missing);
        }
        let client = self.client.as_ref().ok_or(FetchError::Missing)?;
        let n = self.live_requests.fetch_add(1, Ordering::SeqCst);
        if let Some(budget) = self.budget
            && n >= budget
        {
            return Err(FetchError::Budget(budget));
        }
        Ok(client)
    }

    /// Writes new recordings to disk (atomically). Called after every tree level, so an
    /// interrupted run keeps what it recorded.
    pub fn flush(&self) -> Result<(), RecordError> {
        if self.mode == Mode::Live {
            Ok(())
        } else {
            self.store.flush()
        }
    }
}
