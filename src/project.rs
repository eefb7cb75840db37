//! A project on disk: where specs, model sets and recordings live, and the one entry point that
//! runs a catalog (used by the binary and by `cargo test`).

use crate::client::{Client, ClientOptions};
use crate::error::{Error, SpecError};
use crate::record::RecordingStore;
use crate::run::{RunResult, run};
use crate::source::{Mode, Source};
use crate::spec::{Catalog, load_catalog};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable that sets the mode for `cargo test` (and the CLI default).
pub const MODE_ENV: &str = "MODECOLLAPSE_MODE";

/// The variable `models_from_env` reads: which model sets to evaluate when no `--models` is given.
pub const MODELS_ENV: &str = "MODECOLLAPSE_MODELS";

/// A project rooted at a directory holding `specs/`, `models/` and `recordings/`.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

/// How to run.
pub struct RunOptions {
    /// Replay, record, refresh or live.
    pub mode: Mode,
    /// Live requests allowed before stopping (`--max-requests`).
    pub max_requests: Option<u64>,
    /// HTTP settings.
    pub client: ClientOptions,
    /// Called after every live request.
    pub on_live_request: Option<Box<dyn Fn() + Send + Sync>>,
    /// Report a (model, prompt) whose recording is missing as unavailable instead of failing
    /// (for `diff`, where a version may hold only some specs).
    pub missing_is_unavailable: bool,
}

impl RunOptions {
    /// Options for a mode with default client settings.
    pub fn new(mode: Mode) -> RunOptions {
        RunOptions {
            mode,
            max_requests: None,
            client: ClientOptions::default(),
            on_live_request: None,
            missing_is_unavailable: false,
        }
    }
}

impl Project {
    /// A project at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Project {
        Project { root: root.into() }
    }

    /// The project root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `specs/`.
    pub fn spec_dir(&self) -> PathBuf {
        self.root.join("specs")
    }

    /// `models/`.
    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    /// `recordings/`.
    pub fn recordings_dir(&self) -> PathBuf {
        self.root.join("recordings")
    }

    /// Loads the given spec files (or all of `specs/`) and the named model sets (or all).
    pub fn load(
        &self,
        spec_files: &[PathBuf],
        model_sets: &[String],
    ) -> Result<Catalog, SpecError> {
        let mut catalog = load_catalog(spec_files, &self.spec_dir(), &self.models_dir())?;
        catalog.select_model_sets(model_sets)?;
        Ok(catalog)
    }

    /// Runs a catalog to completion on a private runtime.
    pub fn run(&self, catalog: &Catalog, options: RunOptions) -> Result<RunResult, Error> {
        let store = Arc::new(RecordingStore::new(self.recordings_dir()));
        let client = if options.mode == Mode::Replay {
            None
        } else {
            Some(Client::new(options.client).map_err(|source| {
                crate::error::MeasureError::Client {
                    spec: String::new(),
                    model_set: String::new(),
                    model: String::new(),
                    prompt: String::new(),
                    request: "no request: the HTTP client failed to start".into(),
                    source,
                }
            })?)
        };
        let mut source = Source::new(options.mode, store, client)
            .with_budget(options.max_requests)
            .with_missing_as_unavailable(options.missing_is_unavailable);
        if let Some(hook) = options.on_live_request {
            source = source.with_progress(hook);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime starts");
        let result = runtime.block_on(run(catalog, &source));
        // Keep what was recorded even when the run failed part-way.
        source.flush()?;
        result
    }
}

/// The model sets `MODECOLLAPSE_MODELS` names (comma- or space-separated, `SET` or
/// `SET@VERSION`), for `run`, `report` and `cargo test` when no `--models` is given; empty (every
/// set) when unset. An unknown name is the catalog's error when it is loaded.
pub fn models_from_env() -> Vec<String> {
    std::env::var(MODELS_ENV)
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The mode from `MODECOLLAPSE_MODE`, replay when unset; an unknown value is an error message.
pub fn mode_from_env() -> Result<Mode, String> {
    match std::env::var(MODE_ENV) {
        Err(_) => Ok(Mode::Replay),
        Ok(v) if v.is_empty() => Ok(Mode::Replay),
        Ok(v) => Mode::parse(&v)
            .ok_or_else(|| format!("{MODE_ENV}={v:?} is not one of replay, record, refresh, live")),
    }
}
