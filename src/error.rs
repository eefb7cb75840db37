//! Typed errors at each boundary of the library, with lowercase "failed to …" messages.
//!
//! Why one file: a user-facing failure has to map to one of the documented exit codes
//! (see [`ExitCode`](crate::ExitCode)), and keeping the error types together makes that mapping
//! easy to audit. Every message is a fragment that reads after "error: ".

use std::path::PathBuf;

/// A location inside a spec or model-set file, 1-based as editors show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// One problem found in a spec or model-set file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SpecProblem {
    /// Where the problem is.
    pub location: Location,
    /// What is wrong and, where it helps, the expected form.
    pub message: String,
}

/// Failure to load or validate specs and model sets (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// One or more problems inside files; every problem found is listed.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<SpecProblem>),
    /// A spec or model set named on the command line does not exist.
    #[error("failed to find {kind} `{name}`; known: {known}")]
    UnknownName {
        /// "spec" or "model set".
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
}

fn render_problems(problems: &[SpecProblem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    format!("failed to load specs:\n{}", lines.join("\n"))
}

/// Failure talking to a model provider (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The environment variable that should hold the API key is unset or empty.
    #[error("failed to read the API key: environment variable `{0}` is not set")]
    MissingKey(String),
    /// A key would be sent in clear text to a non-loopback host.
    #[error("failed to send the API key: {0} is neither https nor a loopback address")]
    InsecureKeyTransport(String),
    /// The request could not be sent or the connection failed, after all retries.
    #[error("failed to reach {url} after {attempts} attempt(s): {message}")]
    Transport {
        /// The endpoint URL (never carries the key).
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong on the last attempt.
        message: String,
    },
    /// The server answered with an error status, after all retries where it was transient.
    #[error(
        "failed to get a response from {url}: HTTP {status} after {attempts} attempt(s): {body}"
    )]
    Status {
        /// The endpoint URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The start of the response body.
        body: String,
    },
    /// The server answered 200 but not with the expected shape.
    #[error("failed to parse the response of {url}: {message}")]
    Shape {
        /// The endpoint URL.
        url: String,
        /// What was missing or malformed.
        message: String,
    },
    /// The server answered a request for `n` completions with another number of choices;
    /// nothing of it is recorded (which choice answers which sample would be a guess).
    #[error("{}", choice_count_message(.url, *.asked, *.got))]
    ChoiceCount {
        /// The endpoint URL.
        url: String,
        /// Choices asked for (`n`).
        asked: u32,
        /// Choices returned.
        got: usize,
    },
    /// The server answered with fewer top log-probabilities than asked; nothing is recorded,
    /// since a list recorded under a request it did not answer would read as the top `asked`.
    #[error(
        "failed to get {asked} top logprobs from {url}: {got} top logprobs in the response where \
         {asked} were asked; the model's `max_top_logprobs` is {max_top_logprobs}: if the server \
         caps them (OpenAI's legacy completions return at most 5), set it to {got}{}",
        merged_tokens_note(*.by_text)
    )]
    TopCount {
        /// The endpoint URL.
        url: String,
        /// Top log-probabilities asked for.
        asked: u32,
        /// Top log-probabilities returned.
        got: usize,
        /// The model's `max_top_logprobs`.
        max_top_logprobs: u32,
        /// Whether the response named its tokens by text only (the legacy map shape).
        by_text: bool,
    },
    /// The server answered 200 with an error object instead of a response.
    #[error("failed to get a response from {url}: the server answered with an error: {message}")]
    Server {
        /// The endpoint URL.
        url: String,
        /// The server's message (with the key masked, should it echo it).
        message: String,
    },
    /// The request cannot be expressed on this provider's wire format.
    #[error("failed to build the request for {provider}: {message}")]
    Unsendable {
        /// The provider's name as the model set writes it.
        provider: &'static str,
        /// What the provider does not take.
        message: String,
    },
}

/// What a response that names tokens by text alone may also have done.
fn merged_tokens_note(by_text: bool) -> &'static str {
    if by_text {
        "; a server that names tokens only by text can also merge two tokens of equal text into \
         one (vLLM names them by id with `return_tokens_as_token_ids`, which `provider: vllm` \
         sends)"
    } else {
        ""
    }
}

/// The message of [`ClientError::ChoiceCount`]: the advice depends on which way the count is
/// off.
fn choice_count_message(url: &str, asked: u32, got: usize) -> String {
    if got > asked as usize {
        format!(
            "failed to get {asked} completion(s) from {url}: the response has {got} choices, more \
             than asked; the server does not honour `n`, and nothing of the response is recorded \
             (which choice answers which request would be a guess)"
        )
    } else {
        format!(
            "failed to get {asked} completions from {url}: the response has {got} choice(s); if \
             the server caps `n`, set the model's `max_n` to its cap (llama.cpp: its slots, \
             n_parallel)"
        )
    }
}

/// Why a response body could not be used (the client adds the URL; see [`ClientError`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// The body is not the response shape; the message says what is missing.
    #[error("{0}")]
    Shape(String),
    /// The server answered with another number of choices than the request's `n`.
    #[error("{got} choices in the response where n = {asked} were asked")]
    ChoiceCount {
        /// Choices asked for.
        asked: u32,
        /// Choices returned.
        got: usize,
    },
    /// The server answered with fewer top log-probabilities than asked.
    #[error("{got} top logprobs in the response where {asked} were asked")]
    TopCount {
        /// Top log-probabilities asked for.
        asked: u32,
        /// Top log-probabilities returned (distinct entries).
        got: usize,
        /// Whether the response named its tokens by text only (a map keyed by token text).
        by_text: bool,
    },
    /// The body is an error object (`{"error": …}`, or vLLM's `{"object": "error", …}`).
    #[error("the server answered with an error: {0}")]
    Server(String),
}

impl From<String> for WireError {
    fn from(message: String) -> WireError {
        WireError::Shape(message)
    }
}

impl From<&str> for WireError {
    fn from(message: &str) -> WireError {
        WireError::Shape(message.to_string())
    }
}

/// Failure reading or writing recordings.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// I/O on a recording file.
    #[error("failed to access recording {path}: {source}")]
    Io {
        /// The recording file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A recording file exists but is not a valid recording.
    #[error("failed to read recording {path}:{line}: {message}")]
    Corrupt {
        /// The recording file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Failure to measure a (model, prompt) pair (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// Replay mode found no recording for a request.
    #[error(
        "failed to find a recording for spec `{spec}`, model set `{model_set}`, model `{model}` \
         (prompt `{prompt}`); record it with: {command}"
    )]
    MissingRecording {
        /// Spec id.
        spec: String,
        /// Model set id.
        model_set: String,
        /// Model name.
        model: String,
        /// Prompt name.
        prompt: String,
        /// The command that records it.
        command: String,
    },
    /// The provider failed.
    #[error(
        "failed to measure spec `{spec}` on model `{model}` of set `{model_set}` (prompt \
         `{prompt}`, {request}): {source}"
    )]
    Client {
        /// Spec id.
        spec: String,
        /// Model set id.
        model_set: String,
        /// Model name.
        model: String,
        /// Prompt name.
        prompt: String,
        /// The request that failed, described (key and continuation or seed).
        request: String,
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// Recordings could not be read or written.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The method cannot run on this model (for example `enumerate` on a chat API).
    #[error("failed to measure spec `{spec}` on model `{model}`: {message}")]
    Unsupported {
        /// Spec id.
        spec: String,
        /// Model name.
        model: String,
        /// Why.
        message: String,
    },
    /// The live request budget (`--max-requests`) was used up.
    #[error("stopped at the request budget of {0} live request(s); what was recorded is kept")]
    BudgetExhausted(u64),
    /// The model's declared tokenizer could not be used.
    #[error("failed to use the tokenizer of model `{model}` of set `{model_set}`: {source}")]
    Vocabulary {
        /// Model set id.
        model_set: String,
        /// Model name.
        model: String,
        /// The cause.
        #[source]
        source: VocabError,
    },
}

/// Failure to read a model's vocabulary, or a vocabulary that differs from the recorded one.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The environment variable that names the tokenizer file is unset.
    #[error(
        "environment variable `{0}` (the tokenizer file's path) is not set; \
         `scripts/local-models.sh env` prints it for the local models"
    )]
    PathUnset(String),
    /// The tokenizer file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a vocabulary this build reads.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// No such tiktoken encoding.
    #[error("unknown tiktoken encoding `{name}`; known: {known}")]
    UnknownEncoding {
        /// The name asked for.
        name: String,
        /// The encodings this build has.
        known: String,
    },
    /// The vocabulary is not the one the recordings were made with.
    #[error(
        "the vocabulary has fingerprint {found} but the recordings were made with {recorded} \
         ({path}); record the changed tokenizer as a new version (`--models SET@VERSION \
         --mode record`)"
    )]
    Changed {
        /// The facts file.
        path: String,
        /// The recorded fingerprint.
        recorded: String,
        /// The loaded vocabulary's fingerprint.
        found: String,
    },
}

/// Any failure of a whole run, mapped to an exit code by [`Error::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid specs or model sets.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Measurement failed (boxed: it carries the names a user needs, and is rare).
    #[error(transparent)]
    Measure(Box<MeasureError>),
    /// Recordings could not be read or written.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// The process exit codes, a documented contract (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The run completed and no strict claim failed.
    Ok = 0,
    /// A strict claim did not hold.
    StrictFailed = 1,
    /// Invalid input: a spec, model set or command-line argument.
    InvalidInput = 2,
    /// Missing recordings or a provider failure.
    Unavailable = 3,
}

impl From<MeasureError> for Error {
    fn from(e: MeasureError) -> Error {
        Error::Measure(Box::new(e))
    }
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Spec(_) => ExitCode::InvalidInput,
            Error::Measure(_) | Error::Record(_) => ExitCode::Unavailable,
        }
    }
}
