//! Recordings on disk: every response a live server gave, keyed by its canonical request.
//!
//! Layout: `recordings/<model-set>/<model>.jsonl`, one file per model so that a pull request
//! that adds a prompt adds lines to a few files. Each file is JSON lines:
//!
//! ```text
//! {"format":"modecollapse-recording","version":2}
//! {"prompt":"<sha>","text":"Q: Tell me a random integer…"}        one line per prompt text
//! {"key":"<sha>","prompt":"<sha>","api":"completions","model":"…","ids":[236743],
//!  "top_k":20,"top":[[236819,"9",-1.23],…],"model_id":"…","recorded":"2026-11-27"}
//! {"end":"modecollapse-recording","lines":42,"sha256":"<hex>"}      the closing line
//! ```
//!
//! Prompt texts are stored once and referenced, so a 100-node tree does not repeat the prompt
//! 100 times. Lines are sorted (prompts, then responses by prompt and continuation) so that
//! re-recording yields a readable diff. A line's `key` is recomputed on load: a hand-edited
//! request is detected and reported with its path and line. The closing line (format version
//! 2) counts the lines before it and carries the SHA-256 of their text, so that a file cut at a
//! line boundary (which leaves only valid lines) or a hand-edited response (whose key still
//! matches) is detected too, and reported with its path rather than used. Version 1 files,
//! written before the closing line existed, are still read (with the per-line checks only) and
//! are rewritten as version 2 when a recording is added to them.
//!
//! Invariants: files are replaced atomically (write a temporary file, fsync, rename) under an
//! exclusive lock, merging what other writers added meanwhile; nothing here does HTTP.

use crate::error::RecordError;
use crate::request::{
    Batch, Completion, LogprobRequest, LoraScale, Request, Response, SampleRequest, TokenKind,
    TopLogprobs, TopToken,
};
use crate::spec::Api;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The recording format version this build writes (it also reads version 1).
pub const RECORDING_VERSION: u32 = 2;

/// The first version, without the closing checksum line.
const LEGACY_VERSION: u32 = 1;

const FORMAT_NAME: &str = "modecollapse-recording";

/// A recorded response and when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The normalised response.
    pub response: Response,
    /// The date it was recorded, `YYYY-MM-DD` (UTC).
    pub recorded: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
}

/// The closing line: how many lines precede it and the SHA-256 of their text.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: String,
    lines: usize,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptLine {
    prompt: String,
    text: String,
}

/// A candidate as stored: `[id, text, logprob]`, the most compact readable form. The logprob
/// is written as the shortest text that round-trips its single-precision value.
///
/// Where the text is not the whole story the row says so, and only there, so that every row
/// written before token kinds existed reads as it always did:
///
/// ```text
/// [236819, "9", -1.23]            text: the token's bytes are its text's UTF-8
/// [1, "", -10.7]                  empty text: a special token (llama.cpp's control tokens)
/// [100257, "<|endoftext|>", -3, null]   a special token the server named (OpenAI)
/// [432, "\u{fffd}", -9.57, "c2"]        exact bytes in hex, which are not UTF-8; the text is
///                                   their lossy rendering
/// [123, null, -0.5]               only the id is known (vLLM's `token_id:123`)
/// ```
struct TokenRow(TopToken);

impl Serialize for TokenRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = &self.0;
        let lp = t.logprob as f32;
        match &t.kind {
            TokenKind::Text => (t.id, &t.text, lp).serialize(s),
            TokenKind::Special if t.text.is_empty() => (t.id, &t.text, lp).serialize(s),
            TokenKind::Special => (t.id, &t.text, lp, None::<&str>).serialize(s),
            TokenKind::Bytes(b) => (t.id, &t.text, lp, hex::encode(b)).serialize(s),
            TokenKind::IdOnly => (t.id, None::<&str>, lp).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TokenRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TokenRow, D::Error> {
        d.deserialize_seq(TokenRowVisitor)
    }
}

struct TokenRowVisitor;

impl<'de> serde::de::Visitor<'de> for TokenRowVisitor {
    type Value = TokenRow;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a token row [id, text, logprob] with an optional fourth element")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<TokenRow, A::Error> {
        use serde::de::Error;
        let missing = |i| A::Error::invalid_length(i, &self);
        let id: Option<u32> = seq.next_element()?.ok_or_else(|| missing(0))?;
        let text: Option<String> = seq.next_element()?.ok_or_else(|| missing(1))?;
        let lp: f32 = seq.next_element()?.ok_or_else(|| missing(2))?;
        let extra: Option<Option<String>> = seq.next_element()?;
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("a token row has at most four elements"));
        }
        token_from_row(id, text, f64::from(lp), extra)
            .map(TokenRow)
            .map_err(A::Error::custom)
    }
}

/// The token a row stands for; only the forms [`TokenRow`] writes are accepted, so that reading
/// and writing a file gives it back byte for byte.
fn token_from_row(
    id: Option<u32>,
    text: Option<String>,
    logprob: f64,
    extra: Option<Option<String>>,
) -> Result<TopToken, String> {
    match (text, extra) {
        (None, None) => id
            .map(|id| TopToken::id_only(id, logprob))
            .ok_or_else(|| "a token row without text needs an id".to_string()),
        (None, Some(_)) => Err("a token row without text has three elements".into()),
        (Some(text), None) => Ok(TopToken::new(id, text, logprob)),
        (Some(text), Some(None)) if !text.is_empty() => Ok(TopToken::special(id, text, logprob)),
        (Some(_), Some(None)) => Err("a special token without a name has three elements".into()),
        (Some(text), Some(Some(hex))) => {
            let bytes =
                hex::decode(&hex).map_err(|e| format!("token bytes {hex:?} are not hex: {e}"))?;
            let token = TopToken::from_bytes(id, bytes, logprob);
            match token.kind {
                TokenKind::Bytes(_) if token.text == text => Ok(token),
                TokenKind::Bytes(_) => Err(format!(
                    "token text {text:?} is not the rendering of its bytes {hex}"
                )),
                _ => Err(format!("token bytes {hex} are UTF-8, written as text")),
            }
        }
    }
}

/// Sampling settings of a sample line. `batch` is written only for a sample that came from a
/// request with `n > 1`, so lines of unbatched samples (all lines before batches existed) read
/// and write exactly as before.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleParams {
    temperature: f64,
    max_tokens: u32,
    seed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<Batch>,
}

/// The completion of a sample line.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompletionRow {
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finish: Option<String>,
}

/// A response line: logprob lines carry `ids`/`text`/`top_k`/`top`, sample lines carry
/// `sample`/`completion`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseLine {
    key: String,
    prompt: String,
    api: Api,
    model: String,
    /// The prompt as token ids, for requests that send a token-array prompt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    prompt_ids: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ids: Vec<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top: Option<Vec<TokenRow>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sample: Option<SampleParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completion: Option<CompletionRow>,
    /// The LoRA adapters applied, for models that name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lora: Vec<LoraScale>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    recorded: String,
}

enum Line {
    Response(Box<ResponseLine>),
    Prompt(PromptLine),
    End(Trailer),
}

/// Parses one line: a response line carries `key`, the closing line `end`, a prompt line
/// neither.
fn parse_line(line: &str) -> Result<Line, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if value.get("end").is_some() {
        Trailer::deserialize(value)
            .map(Line::End)
            .map_err(|e| format!("closing line: {e}"))
    } else if value.get("key").is_some() {
        ResponseLine::deserialize(value)
            .map(|r| Line::Response(Box::new(r)))
            .map_err(|e| format!("response line: {e}"))
    } else {
        PromptLine::deserialize(value)
            .map(Line::Prompt)
            .map_err(|e| format!("prompt line: {e}"))
    }
}

/// One recording file in memory.
type Entries = BTreeMap<String, (Request, Recorded)>;

#[derive(Default)]
struct RecordingFile {
    entries: Entries,
    dirty: BTreeMap<String, ()>,
}

fn text_id(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn corrupt(path: &Path, line: usize, message: impl Into<String>) -> RecordError {
    RecordError::Corrupt {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a reader can do about a damaged file.
const REMEDY: &str = "restore it from version control, or delete it and record again";

/// The checksum of the closing line: SHA-256 over each preceding line and a newline. Lines as
/// `str::lines` splits them, so a checkout that turns newlines into CRLF does not break it.
fn checksum<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Checks a recording file's text as loading it would, returning how many responses it holds;
/// public for the fuzz harness (`tests/suite/fuzz.rs`).
#[doc(hidden)]
pub fn check_recording(path: &Path, text: &str) -> Result<usize, RecordError> {
    parse_file(path, text).map(|entries| entries.len())
}

/// Parses a recording file; every malformed line is an error naming the line, and a file
/// whose closing line is missing or does not match is an error naming the file.
fn parse_file(path: &Path, text: &str) -> Result<Entries, RecordError> {
    let all: Vec<&str> = text.lines().collect();
    let first = *all
        .first()
        .ok_or_else(|| corrupt(path, 1, "empty file; expected the format header"))?;
    let header: Header =
        serde_json::from_str(first).map_err(|e| corrupt(path, 1, format!("bad header: {e}")))?;
    if header.format != FORMAT_NAME
        || !(header.version == RECORDING_VERSION || header.version == LEGACY_VERSION)
    {
        return Err(corrupt(
            path,
            1,
            format!(
                "format {} version {}; this build reads {FORMAT_NAME} versions \
                 {LEGACY_VERSION} and {RECORDING_VERSION}",
                header.format, header.version
            ),
        ));
    }
    let sealed = header.version == RECORDING_VERSION;
    let mut prompts = BTreeMap::new();
    let mut entries = BTreeMap::new();
    let mut closed = false;
    for (i, line) in all.iter().enumerate().skip(1) {
        let n = i + 1;
        if closed {
            return Err(corrupt(
                path,
                n,
                format!("a line after the closing line (edited by hand?); {REMEDY}"),
            ));
        }
        let parsed = parse_line(line).map_err(|e| {
            if n == all.len() && !text.ends_with('\n') {
                corrupt(
                    path,
                    n,
                    format!("the file ends mid-line (truncated?); {REMEDY}"),
                )
            } else {
                corrupt(path, n, format!("not a recording line: {e}"))
            }
        })?;
        match parsed {
            Line::End(t) => {
                if !sealed {
                    return Err(corrupt(
                        path,
                        n,
                        "a closing line in a version 1 file (edited by hand?)",
                    ));
                }
                if t.end != FORMAT_NAME
                    || t.lines != i
                    || t.sha256 != checksum(all[..i].iter().copied())
                {
                    return Err(corrupt(
                        path,
                        n,
                        format!(
                            "the file does not match its closing line, which counts {} lines \
                             and their checksum (edited by hand, or cut?); {REMEDY}",
                            t.lines
                        ),
                    ));
                }
                closed = true;
            }
            Line::Prompt(p) => {
                if text_id(&p.text) != p.prompt {
                    return Err(corrupt(
                        path,
                        n,
                        "prompt text does not match its id (edited by hand?)",
                    ));
                }
                prompts.insert(p.prompt, p.text);
            }
            Line::Response(r) => {
                let prompt = prompts
                    .get(&r.prompt)
                    .ok_or_else(|| corrupt(path, n, format!("unknown prompt id {}", r.prompt)))?;
                let (request, response) = line_to_entry(
                    r.api,
                    r.model,
                    prompt.clone(),
                    r.prompt_ids,
                    r.ids,
                    r.text,
                    r.top_k,
                    r.top,
                    r.sample,
                    r.completion,
                    r.lora,
                    r.model_id,
                    r.fingerprint,
                )
                .map_err(|m| corrupt(path, n, m))?;
                if request.key() != r.key {
                    return Err(corrupt(
                        path,
                        n,
                        "key does not match the request (edited by hand?)",
                    ));
                }
                entries.insert(
                    r.key,
                    (
                        request,
                        Recorded {
                            response,
                            recorded: r.recorded,
                        },
                    ),
                );
            }
        }
    }
    if sealed && !closed {
        return Err(corrupt(
            path,
            all.len() + 1,
            format!("the file ends without its closing line (truncated?); {REMEDY}"),
        ));
    }
    Ok(entries)
}

/// Renders entries in the canonical, sorted form.
fn render_file(entries: &Entries) -> String {
    let mut out = serde_json::to_string(&Header {
        format: FORMAT_NAME.into(),
        version: RECORDING_VERSION,
    })
    .expect("header");
    out.push('\n');
    let prompts: BTreeMap<String, &str> = entries
        .values()
        .map(|(r, _)| (text_id(r.prompt()), r.prompt()))
        .collect();
    for (id, text) in &prompts {
        out.push_str(
            &serde_json::to_string(&PromptLine {
                prompt: id.clone(),
                text: (*text).to_string(),
            })
            .expect("prompt"),
        );
        out.push('\n');
    }
    let mut rows: Vec<_> = entries
        .iter()
        .map(|(key, (req, rec))| (sort_key(req), key, req, rec))
        .collect();
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (_, key, req, rec) in rows {
        out.push_str(&serde_json::to_string(&entry_to_line(key, req, rec)).expect("line"));
        out.push('\n');
    }
    let trailer = Trailer {
        end: FORMAT_NAME.into(),
        lines: out.lines().count(),
        sha256: checksum(out.lines()),
    };
    out.push_str(&serde_json::to_string(&trailer).expect("closing line"));
    out.push('\n');
    out
}

/// Orders lines by prompt, then kind, then continuation or seed, so a tree reads top-down and
/// samples in seed order.
fn sort_key(req: &Request) -> (String, u8, Vec<u32>, String, u64, u64) {
    match req {
        Request::Logprobs(r) => (
            text_id(&r.prompt),
            0,
            r.continuation_ids.clone(),
            r.continuation_text.clone(),
            u64::from(r.top_k),
            0,
        ),
        // A batch's samples follow each other in choice order; unbatched samples sort as before.
        Request::Sample(r) => (
            text_id(&r.prompt),
            1,
            Vec::new(),
            format!("{}:{}", r.temperature, r.max_tokens),
            r.seed,
            r.batch.map_or(0, |b| u64::from(b.index)),
        ),
    }
}

fn entry_to_line(key: &str, req: &Request, rec: &Recorded) -> ResponseLine {
    let mut line = ResponseLine {
        key: key.to_string(),
        prompt: text_id(req.prompt()),
        api: Api::Completions,
        model: req.model().to_string(),
        prompt_ids: Vec::new(),
        ids: Vec::new(),
        text: String::new(),
        top_k: None,
        top: None,
        sample: None,
        completion: None,
        lora: req.lora().to_vec(),
        model_id: rec.response.model_id().map(str::to_string),
        fingerprint: rec.response.fingerprint().map(str::to_string),
        recorded: rec.recorded.clone(),
    };
    match (req, &rec.response) {
        (Request::Logprobs(r), Response::Logprobs(t)) => {
            line.api = r.api;
            line.prompt_ids = r.prompt_ids.clone();
            line.ids = r.continuation_ids.clone();
            line.text = r.continuation_text.clone();
            line.top_k = Some(r.top_k);
            line.top = Some(t.tokens.iter().map(|t| TokenRow(t.clone())).collect());
        }
        (Request::Sample(r), Response::Sample(c)) => {
            line.api = r.api;
            line.sample = Some(SampleParams {
                temperature: r.temperature,
                max_tokens: r.max_tokens,
                seed: r.seed,
                batch: r.batch,
            });
            line.completion = Some(CompletionRow {
                text: c.text.clone(),
                finish: c.finish_reason.clone(),
            });
        }
        _ => unreachable!("put() pairs each request with a response of its kind"),
    }
    line
}

/// Rebuilds a request and its response from a line's fields; the error says what is missing.
#[allow(clippy::too_many_arguments)]
fn line_to_entry(
    api: Api,
    model: String,
    prompt: String,
    prompt_ids: Vec<u32>,
    ids: Vec<u32>,
    text: String,
    top_k: Option<u32>,
    top: Option<Vec<TokenRow>>,
    sample: Option<SampleParams>,
    completion: Option<CompletionRow>,
    lora: Vec<LoraScale>,
    model_id: Option<String>,
    fingerprint: Option<String>,
) -> Result<(Request, Response), String> {
    match (top_k, top, sample, completion) {
        (Some(top_k), Some(top), None, None) => {
            if top.is_empty() {
                return Err("response has no top tokens".into());
            }
            let tokens = top.into_iter().map(|TokenRow(t)| t).collect();
            let request = LogprobRequest {
                api,
                model,
                prompt,
                prompt_ids,
                continuation_ids: ids,
                continuation_text: text,
                top_k,
                lora,
            };
            Ok((
                Request::Logprobs(request),
                Response::Logprobs(TopLogprobs {
                    tokens,
                    model_id,
                    fingerprint,
                }),
            ))
        }
        (None, None, Some(p), Some(c))
            if ids.is_empty() && text.is_empty() && prompt_ids.is_empty() =>
        {
            let request = SampleRequest {
                api,
                model,
                prompt,
                temperature: p.temperature,
                max_tokens: p.max_tokens,
                seed: p.seed,
                batch: p.batch,
                lora,
            };
            if request.batch.is_some_and(|b| b.n < 2 || b.index >= b.n) {
                return Err("a sample's batch needs n >= 2 and an index below n".into());
            }
            let completion = Completion {
                text: c.text,
                finish_reason: c.finish,
                model_id,
                fingerprint,
            };
            Ok((Request::Sample(request), Response::Sample(completion)))
        }
        _ => Err("a line needs either `top_k` and `top`, or `sample` and `completion`".into()),
    }
}

/// The recordings of a project, loaded lazily per file and written back atomically.
pub struct RecordingStore {
    root: PathBuf,
    files: Mutex<BTreeMap<PathBuf, RecordingFile>>,
}

impl RecordingStore {
    /// A store rooted at `root` (usually `recordings/`).
    pub fn new(root: impl Into<PathBuf>) -> RecordingStore {
        RecordingStore {
            root: root.into(),
            files: Mutex::new(BTreeMap::new()),
        }
    }

    /// The recordings folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding a model's recordings.
    pub fn path_for(&self, model_set: &str, model: &str) -> PathBuf {
        self.root.join(model_set).join(format!("{model}.jsonl"))
    }

    fn with_file<T>(
        &self,
        path: &Path,
        f: impl FnOnce(&mut RecordingFile) -> T,
    ) -> Result<T, RecordError> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if !files.contains_key(path) {
            let entries = match std::fs::read_to_string(path) {
                Ok(text) => parse_file(path, &text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(io(path)(e)),
            };
            files.insert(
                path.to_path_buf(),
                RecordingFile {
                    entries,
                    dirty: BTreeMap::new(),
                },
            );
        }
        Ok(f(files.get_mut(path).expect("inserted above")))
    }

    /// The recorded response to a request, if any.
    pub fn get(
        &self,
        model_set: &str,
        model: &str,
        req: &Request,
    ) -> Result<Option<Recorded>, RecordError> {
        let path = self.path_for(model_set, model);
        self.with_file(&path, |f| f.entries.get(&req.key()).map(|(_, r)| r.clone()))
    }

    /// Adds (or replaces) a response in memory; [`flush`](Self::flush) writes it.
    pub fn put(
        &self,
        model_set: &str,
        model: &str,
        req: &Request,
        recorded: Recorded,
    ) -> Result<(), RecordError> {
        let path = self.path_for(model_set, model);
        let key = req.key();
        self.with_file(&path, |f| {
            f.entries.insert(key.clone(), (req.clone(), recorded));
            f.dirty.insert(key, ());
        })
    }

    /// Writes every file with new entries: under an exclusive lock, re-reads what is on disk
    /// (another process may have added entries), merges, writes a temporary file, fsyncs it and
    /// renames it over the old one. An interrupted run therefore leaves either the old or the
    /// new file, never a torn one.
    pub fn flush(&self) -> Result<(), RecordError> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        for (path, file) in files.iter_mut() {
            if file.dirty.is_empty() {
                continue;
            }
            let dir = path.parent().expect("recording files live in a set folder");
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let lock_path = path.with_extension("jsonl.lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(io(&lock_path))?;
            lock.lock().map_err(io(&lock_path))?;
            remove_stale_temporaries(path);
            let mut merged = match std::fs::read_to_string(path) {
                Ok(text) => parse_file(path, &text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
                Err(e) => return Err(io(path)(e)),
            };
            for key in file.dirty.keys() {
                if let Some(entry) = file.entries.get(key) {
                    merged.insert(key.clone(), entry.clone());
                }
            }
            let tmp = path.with_extension(format!("jsonl.tmp.{}", std::process::id()));
            {
                let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
                out.write_all(render_file(&merged).as_bytes())
                    .map_err(io(&tmp))?;
                out.sync_all().map_err(io(&tmp))?;
            }
            std::fs::rename(&tmp, path).map_err(io(path))?;
            // The rename is durable only once the directory is synced (a power cut could
            // otherwise bring back the old file); failing to sync loses nothing now.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            drop(lock);
            file.entries = merged;
            file.dirty.clear();
        }
        Ok(())
    }
}

/// Removes temporary files a writer killed mid-flush left beside a recording. Called under the
/// file's lock: temporaries are only written under it, so any that exist now are orphans.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!("{}.tmp.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Today's date in UTC as `YYYY-MM-DD`, from the system clock (no time-zone database needed).
pub fn today_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's civil-from-days
/// algorithm); shared with the tests that write HTTP dates.
#[doc(hidden)]
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic responses: these test the file format only, never a measurement.
    fn request(ids: Vec<u32>) -> Request {
        Request::Logprobs(LogprobRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "Q: x\nA:".into(),
            prompt_ids: Vec::new(),
            continuation_ids: ids,
            continuation_text: String::new(),
            top_k: 2,
            lora: Vec::new(),
        })
    }

    fn recorded(lp: f64) -> Recorded {
        Recorded {
            response: Response::Logprobs(TopLogprobs {
                tokens: vec![TopToken::new(Some(7), " ", lp)],
                model_id: Some("m.gguf".into()),
                fingerprint: None,
            }),
            recorded: "2026-11-27".into(),
        }
    }

    #[test]
    fn round_trips_and_shares_prompt_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        store
            .put("local", "m", &request(vec![]), recorded(-0.125))
            .unwrap();
        store
            .put("local", "m", &request(vec![7]), recorded(-0.25))
            .unwrap();
        store.flush().unwrap();
        let text = std::fs::read_to_string(store.path_for("local", "m")).unwrap();
        assert_eq!(text.matches("Q: x").count(), 1, "{text}");
        let fresh = RecordingStore::new(dir.path());
        assert_eq!(
            fresh.get("local", "m", &request(vec![7])).unwrap(),
            Some(recorded(-0.25))
        );
        assert_eq!(fresh.get("local", "m", &request(vec![8])).unwrap(), None);
    }

    #[test]
    fn merges_with_another_writer() {
        let dir = tempfile::tempdir().unwrap();
        let a = RecordingStore::new(dir.path());
        let b = RecordingStore::new(dir.path());
        a.put("s", "m", &request(vec![1]), recorded(-0.125))
            .unwrap();
        b.put("s", "m", &request(vec![2]), recorded(-0.25)).unwrap();
        a.flush().unwrap();
        b.flush().unwrap();
        let fresh = RecordingStore::new(dir.path());
        assert!(fresh.get("s", "m", &request(vec![1])).unwrap().is_some());
        assert!(fresh.get("s", "m", &request(vec![2])).unwrap().is_some());
    }

    /// The error a damaged copy of a recording gives when it is read.
    fn read_error(dir: &Path, text: &str) -> String {
        std::fs::write(dir.join("s/m.jsonl"), text).unwrap();
        RecordingStore::new(dir)
            .get("s", "m", &request(vec![1]))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn detects_hand_edits_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        store
            .put("s", "m", &request(vec![1]), recorded(-0.125))
            .unwrap();
        store
            .put("s", "m", &request(vec![2]), recorded(-0.25))
            .unwrap();
        store.flush().unwrap();
        let text = std::fs::read_to_string(store.path_for("s", "m")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            5,
            "header, prompt, two responses, closing line"
        );
        let d = dir.path();
        let err = read_error(d, &text.replace("\"ids\":[1]", "\"ids\":[3]"));
        assert!(
            err.contains("m.jsonl:3") && err.contains("key does not match"),
            "{err}"
        );
        // A response edited by hand keeps its key; the closing line catches it.
        let err = read_error(d, &text.replacen("-0.125", "-0.5", 1));
        assert!(
            err.contains("m.jsonl:5") && err.contains("does not match its closing line"),
            "{err}"
        );
        let err = read_error(d, &text[..text.len() - 20]);
        assert!(
            err.contains("m.jsonl:5") && err.contains("ends mid-line (truncated?)"),
            "{err}"
        );
        // Cut at a line boundary: every remaining line is valid, the closing line is gone.
        let cut = format!("{}\n", lines[..4].join("\n"));
        let err = read_error(d, &cut);
        assert!(
            err.contains("m.jsonl:5") && err.contains("ends without its closing line"),
            "{err}"
        );
        // A line removed from the middle.
        let gap = format!("{}\n{}\n", lines[..3].join("\n"), lines[4]);
        let err = read_error(d, &gap);
        assert!(err.contains("does not match its closing line"), "{err}");
        let err = read_error(d, &format!("{text}{}\n", lines[3]));
        assert!(err.contains("after the closing line"), "{err}");
        // Every message names the file and says what to do.
        assert!(
            err.contains(&d.join("s/m.jsonl").display().to_string())
                && err.contains("record again")
        );
        // Newlines turned into CRLF by a checkout do not break the checksum.
        std::fs::write(d.join("s/m.jsonl"), text.replace('\n', "\r\n")).unwrap();
        assert!(
            RecordingStore::new(d)
                .get("s", "m", &request(vec![1]))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn version_1_files_are_read_and_rewritten_as_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        store
            .put("s", "m", &request(vec![1]), recorded(-0.125))
            .unwrap();
        store.flush().unwrap();
        let path = store.path_for("s", "m");
        let text = std::fs::read_to_string(&path).unwrap();
        let v1: String = text
            .lines()
            .filter(|l| !l.starts_with("{\"end\""))
            .map(|l| format!("{}\n", l.replace("\"version\":2", "\"version\":1")))
            .collect();
        std::fs::write(&path, &v1).unwrap();
        let fresh = RecordingStore::new(dir.path());
        assert_eq!(
            fresh.get("s", "m", &request(vec![1])).unwrap(),
            Some(recorded(-0.125))
        );
        fresh
            .put("s", "m", &request(vec![2]), recorded(-0.25))
            .unwrap();
        fresh.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"format\":\"modecollapse-recording\",\"version\":2}"));
        assert!(
            text.lines().last().unwrap().starts_with("{\"end\""),
            "{text}"
        );
    }

    #[test]
    fn a_flush_removes_temporaries_of_writers_that_died() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        let orphan = dir.path().join("s/m.jsonl.tmp.999999");
        std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
        std::fs::write(&orphan, "half a file").unwrap();
        store
            .put("s", "m", &request(vec![1]), recorded(-0.125))
            .unwrap();
        store.flush().unwrap();
        assert!(!orphan.exists());
        let names: Vec<String> = std::fs::read_dir(dir.path().join("s"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| n == "m.jsonl" || n == "m.jsonl.lock"),
            "{names:?}"
        );
    }

    #[test]
    fn sample_lines_round_trip_beside_logprob_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        let sample = Request::Sample(SampleRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "Q: x\nA:".into(),
            temperature: 1.0,
            max_tokens: 8,
            seed: 3,
            batch: None,
            lora: Vec::new(),
        });
        let completion = Recorded {
            response: Response::Sample(Completion {
                text: " 42\n".into(),
                finish_reason: Some("stop".into()),
                model_id: None,
                fingerprint: None,
            }),
            recorded: "2026-11-27".into(),
        };
        store.put("s", "m", &sample, completion.clone()).unwrap();
        store
            .put("s", "m", &request(vec![1]), recorded(-0.125))
            .unwrap();
        store.flush().unwrap();
        let text = std::fs::read_to_string(store.path_for("s", "m")).unwrap();
        assert_eq!(text.matches("Q: x").count(), 1, "{text}");
        let fresh = RecordingStore::new(dir.path());
        assert_eq!(fresh.get("s", "m", &sample).unwrap(), Some(completion));
        assert_ne!(sample.key(), request(vec![]).key());
        // The line of an unbatched sample has no `batch` field: the format is unchanged.
        assert!(!text.contains("batch"), "{text}");
    }

    #[test]
    fn batched_sample_lines_record_their_batch_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        let choice = |index, text: &str| {
            let req = Request::Sample(SampleRequest {
                api: Api::Completions,
                model: "m".into(),
                prompt: "Q: x\nA:".into(),
                temperature: 1.0,
                max_tokens: 8,
                seed: 5,
                batch: Some(Batch { n: 2, index }),
                lora: Vec::new(),
            });
            let rec = Recorded {
                response: Response::Sample(Completion {
                    text: text.into(),
                    finish_reason: Some("length".into()),
                    model_id: None,
                    fingerprint: None,
                }),
                recorded: "2026-11-27".into(),
            };
            (req, rec)
        };
        let (a, ra) = choice(0, " 7");
        let (b, rb) = choice(1, " 8");
        store.put("s", "m", &b, rb.clone()).unwrap();
        store.put("s", "m", &a, ra.clone()).unwrap();
        store.flush().unwrap();
        let text = std::fs::read_to_string(store.path_for("s", "m")).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains("\"sample\"")).collect();
        // Choice order, each line naming its batch.
        assert!(lines[0].contains(r#""batch":{"n":2,"index":0}"#), "{text}");
        assert!(lines[1].contains(r#""batch":{"n":2,"index":1}"#), "{text}");
        let fresh = RecordingStore::new(dir.path());
        assert_eq!(fresh.get("s", "m", &a).unwrap(), Some(ra));
        assert_eq!(fresh.get("s", "m", &b).unwrap(), Some(rb));
        // A batch index outside its batch is refused on load, never used.
        let bad = text.replace(r#""n":2,"index":1"#, r#""n":2,"index":2"#);
        let err = read_error(dir.path(), &bad);
        assert!(err.contains("an index below n"), "{err}");
    }

    #[test]
    fn dates() {
        let d = today_utc();
        assert_eq!(d.len(), 10);
        assert!(d.as_str() >= "2026-01-01");
    }

    /// A token row as written, and the token read back from it.
    fn row_round_trip(t: &TopToken) -> (String, TopToken) {
        let text = serde_json::to_string(&TokenRow(t.clone())).unwrap();
        let back: TokenRow = serde_json::from_str(&text).unwrap();
        (text, back.0)
    }

    #[test]
    fn token_rows_are_compact_and_lossless() {
        // Synthetic tokens: the row format only.
        let cases = [
            (
                TopToken::new(Some(236819), "9", -1.25),
                r#"[236819,"9",-1.25]"#,
            ),
            (TopToken::new(Some(1), "", -10.5), r#"[1,"",-10.5]"#),
            (
                TopToken::special(Some(100257), "<|endoftext|>", -3.0),
                r#"[100257,"<|endoftext|>",-3.0,null]"#,
            ),
            (
                TopToken::from_bytes(Some(432), vec![0xc2], -9.5),
                "[432,\"\u{fffd}\",-9.5,\"c2\"]",
            ),
            (
                TopToken::from_bytes(None, vec![0xe2, 0x80], -0.5),
                "[null,\"\u{fffd}\",-0.5,\"e280\"]",
            ),
            (TopToken::id_only(123, -0.5), "[123,null,-0.5]"),
        ];
        for (token, row) in cases {
            let (text, back) = row_round_trip(&token);
            assert_eq!(text, row);
            assert_eq!(back, token, "{row}");
        }
        // Every row of the old form reads as it was recorded: an empty text is a special token.
        let old: TokenRow = serde_json::from_str(r#"[68,"",-12.653922]"#).unwrap();
        assert!(old.0.ends_generation() && old.0.exact_bytes().is_none());
    }

    #[test]
    fn token_rows_of_other_forms_are_refused() {
        for (row, why) in [
            (r#"[1,null,-0.5,"c2"]"#, "without text"),
            (r#"[null,null,-0.5]"#, "needs an id"),
            (r#"[1,"",-0.5,null]"#, "without a name"),
            (r#"[1,"x",-0.5,"zz"]"#, "not hex"),
            (r#"[1,"A",-0.5,"41"]"#, "are UTF-8"),
            (r#"[1,"x",-0.5,"c2"]"#, "not the rendering"),
            (r#"[1,"x",-0.5,null,1]"#, "at most four"),
            (r#"[1,"x"]"#, "invalid length"),
        ] {
            let err = serde_json::from_str::<TokenRow>(row)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(why), "{row}: {err}");
        }
    }

    #[test]
    fn a_token_array_prompt_is_recorded_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordingStore::new(dir.path());
        let Request::Logprobs(mut r) = request(vec![5]) else {
            unreachable!()
        };
        r.prompt_ids = vec![1, 2, 3];
        let req = Request::Logprobs(r);
        let rec = Recorded {
            response: Response::Logprobs(TopLogprobs {
                tokens: vec![
                    TopToken::id_only(9, -0.25),
                    TopToken::new(Some(2), "", -2.0),
                ],
                model_id: None,
                fingerprint: None,
            }),
            recorded: "2026-12-02".into(),
        };
        store.put("s", "m", &req, rec.clone()).unwrap();
        store.flush().unwrap();
        let text = std::fs::read_to_string(store.path_for("s", "m")).unwrap();
        assert!(text.contains(r#""prompt_ids":[1,2,3],"ids":[5]"#), "{text}");
        assert!(text.contains(r#"[[9,null,-0.25],[2,"",-2.0]]"#), "{text}");
        let fresh = RecordingStore::new(dir.path());
        assert_eq!(fresh.get("s", "m", &req).unwrap(), Some(rec));
        // The same request without prompt ids is another request.
        assert_eq!(fresh.get("s", "m", &request(vec![5])).unwrap(), None);
    }

    #[test]
    fn every_committed_recording_reads_and_renders_byte_for_byte() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("recordings");
        let mut files = 0;
        let mut special = 0;
        for set in std::fs::read_dir(&root).unwrap() {
            let set = set.unwrap().path();
            for file in std::fs::read_dir(&set).unwrap() {
                let path = file.unwrap().path();
                if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let entries = parse_file(&path, &text).unwrap();
                if text
                    .lines()
                    .next()
                    .unwrap()
                    .contains(&format!("\"version\":{RECORDING_VERSION}"))
                {
                    assert_eq!(render_file(&entries), text, "{}", path.display());
                }
                for (_, (_, rec)) in entries {
                    if let Response::Logprobs(t) = rec.response {
                        for tok in &t.tokens {
                            // llama.cpp names every token by id and bytes: text, special, or
                            // (the ladder's lists of 1000) exact bytes; never id-only.
                            assert!(!tok.is_id_only(), "{}", path.display());
                            special += usize::from(tok.ends_generation());
                        }
                    }
                }
                files += 1;
            }
        }
        assert!(
            files >= 4 && special > 0,
            "{files} files, {special} special tokens"
        );
    }
}
