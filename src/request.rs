//! Canonical measurement requests and normalised responses: what is hashed, recorded and
//! measured. Provider-independent; the client maps them to and from wire JSON.
//!
//! Two kinds: a next-token log-probability request (the logprob methods) and one sampled
//! completion (the `sample` method).

use crate::spec::Api;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One next-token log-probability request: a prompt, optionally continued by token ids or
/// text, and how many top log-probabilities to return. Always one generated token at
/// temperature 0: the logprob methods read the distribution, not the sample.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogprobRequest {
    /// Endpoint kind.
    pub api: Api,
    /// Model name as sent.
    pub model: String,
    /// The prompt text.
    pub prompt: String,
    /// The prompt as token ids, from the model's tokenizer; when set, the request sends
    /// `prompt_ids ++ continuation_ids` as a pure token-array prompt (vLLM and OpenAI's legacy
    /// completions take one; neither takes text mixed with ids). Serialised only when set, so
    /// the key of every request without it is what it was before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_ids: Vec<u32>,
    /// Token ids that continue the prompt (servers that take mixed prompts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continuation_ids: Vec<u32>,
    /// Text that continues the prompt (servers that do not take token ids).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub continuation_text: String,
    /// Top log-probabilities asked for.
    pub top_k: u32,
    /// The LoRA adapters the server applies, and at which scale (the model's `lora:`).
    /// Serialised only when non-empty, so the key of every request without adapters is what
    /// it was before they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lora: Vec<LoraScale>,
}

/// One LoRA adapter of a server and the scale a request applies it at (llama.cpp's
/// per-request `"lora": [{"id": i, "scale": s}]`). The id is the adapter's place in the order
/// the server loaded them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoraScale {
    /// The adapter's id: its index in the server's load order (`GET /lora-adapters`).
    pub id: u32,
    /// The scale it is applied at: 0 switches it off, 1 applies it as trained.
    pub scale: f64,
}

// Equal and hashed by the scale's bits, so that a request stays a key-like value.
impl PartialEq for LoraScale {
    fn eq(&self, other: &LoraScale) -> bool {
        self.id == other.id && self.scale.to_bits() == other.scale.to_bits()
    }
}

impl Eq for LoraScale {}

impl std::hash::Hash for LoraScale {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.scale.to_bits().hash(state);
    }
}

impl LogprobRequest {
    /// The recording key: SHA-256 over the canonical JSON of the request (endpoint, model,
    /// prompt, continuation, parameters; never headers, keys or host), first 16 bytes in hex.
    pub fn key(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("request serialises");
        let digest = Sha256::digest(&canonical);
        hex::encode(&digest[..16])
    }
}

/// One sampled completion: the prompt, sampling settings and the seed that makes it replayable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    /// Endpoint kind.
    pub api: Api,
    /// Model name as sent.
    pub model: String,
    /// The prompt text.
    pub prompt: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// Longest completion, in tokens.
    pub max_tokens: u32,
    /// The seed of this sample (the spec's seed plus the sample's index); for a batch, the
    /// seed of its first sample, which is the seed the one request of the batch sends.
    pub seed: u64,
    /// Where this sample sits in a batch answered by one request with `n` choices (the model's
    /// `max_n`); `None` for a sample requested alone. Serialised only when present, so the key
    /// of every unbatched sample is what it was before batches existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Batch>,
    /// The LoRA adapters applied (see [`LogprobRequest::lora`]); serialised only when
    /// non-empty, so every key without adapters is unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lora: Vec<LoraScale>,
}

/// A sample's place in a batch: one request with `"n": n` whose choice `index` it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Choices the batch's request asks for (at least 2).
    pub n: u32,
    /// This sample's choice, `0..n`.
    pub index: u32,
}

impl SampleRequest {
    /// Choices the request for this sample asks for: the batch's `n`, or 1.
    pub fn n(&self) -> u32 {
        self.batch.map_or(1, |b| b.n)
    }
}

/// A sampled completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Why generation stopped (`stop`, `length`), as the server said.
    pub finish_reason: Option<String>,
    /// The model id the server reported.
    pub model_id: Option<String>,
    /// The server's `system_fingerprint`, if any.
    pub fingerprint: Option<String>,
}

impl Completion {
    /// Whether generation ended on its own (not cut off by `max_tokens`).
    pub fn ended(&self) -> bool {
        self.finish_reason.as_deref() != Some("length")
    }
}

/// Any request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Top next-token log-probabilities.
    Logprobs(LogprobRequest),
    /// One sampled completion.
    Sample(SampleRequest),
}

/// Any response, matching its request's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// Top next-token log-probabilities.
    Logprobs(TopLogprobs),
    /// One sampled completion.
    Sample(Completion),
}

impl Request {
    /// The recording key (see [`LogprobRequest::key`]); sample keys hash a tagged form so the
    /// two kinds can never collide.
    pub fn key(&self) -> String {
        match self {
            Request::Logprobs(r) => r.key(),
            Request::Sample(r) => {
                let canonical = serde_json::to_vec(&("sample", r)).expect("request serialises");
                hex::encode(&Sha256::digest(&canonical)[..16])
            }
        }
    }

    /// A short description for error messages: the key and what sets the request apart from
    /// the others of its measurement (the continuation, or the seed), never the prompt text.
    pub fn describe(&self) -> String {
        let what = match self {
            Request::Logprobs(r) if !r.prompt_ids.is_empty() => format!(
                "top {} logprobs after the prompt as {} token ids and token ids {:?}",
                r.top_k,
                r.prompt_ids.len(),
                r.continuation_ids
            ),
            Request::Logprobs(r) if !r.continuation_ids.is_empty() => format!(
                "top {} logprobs after token ids {:?}",
                r.top_k, r.continuation_ids
            ),
            Request::Logprobs(r) if !r.continuation_text.is_empty() => {
                format!("top {} logprobs after {:?}", r.top_k, r.continuation_text)
            }
            Request::Logprobs(r) => format!("top {} logprobs at the end of the prompt", r.top_k),
            Request::Sample(r) => {
                let batch = r.batch.map_or(String::new(), |b| {
                    format!(" (choice {} of a batch of n = {})", b.index, b.n)
                });
                format!(
                    "sample with seed {}{batch}, temperature {}, max_tokens {}",
                    r.seed, r.temperature, r.max_tokens
                )
            }
        };
        let lora = self.lora();
        let lora = if lora.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = lora
                .iter()
                .map(|l| format!("{}@{}", l.id, l.scale))
                .collect();
            format!(", LoRA {}", list.join(" "))
        };
        format!("request {}: {what}{lora}", self.key())
    }

    /// The LoRA adapters the request applies.
    pub fn lora(&self) -> &[LoraScale] {
        match self {
            Request::Logprobs(r) => &r.lora,
            Request::Sample(r) => &r.lora,
        }
    }

    /// The model name.
    pub fn model(&self) -> &str {
        match self {
            Request::Logprobs(r) => &r.model,
            Request::Sample(r) => &r.model,
        }
    }

    /// The prompt text.
    pub fn prompt(&self) -> &str {
        match self {
            Request::Logprobs(r) => &r.prompt,
            Request::Sample(r) => &r.prompt,
        }
    }
}

impl Response {
    /// The model id the server reported.
    pub fn model_id(&self) -> Option<&str> {
        match self {
            Response::Logprobs(r) => r.model_id.as_deref(),
            Response::Sample(r) => r.model_id.as_deref(),
        }
    }

    /// The server's fingerprint.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            Response::Logprobs(r) => r.fingerprint.as_deref(),
            Response::Sample(r) => r.fingerprint.as_deref(),
        }
    }
}

/// One candidate next token.
///
/// `text` is what reads as the token; `kind` says what the server reported beyond it. Build
/// tokens with the constructors ([`TopToken::new`], [`TopToken::from_bytes`],
/// [`TopToken::special`], [`TopToken::id_only`]), which keep the two consistent; read them with
/// [`TopToken::ends_generation`] and [`TopToken::exact_bytes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopToken {
    /// Token id, where the server reports one.
    pub id: Option<u32>,
    /// Token text: the token's text for [`TokenKind::Text`]; the lossy rendering of its bytes
    /// for [`TokenKind::Bytes`]; the server's name for it, or empty, for
    /// [`TokenKind::Special`]; empty for [`TokenKind::IdOnly`].
    pub text: String,
    /// Natural log-probability.
    pub logprob: f64,
    /// What the token's bytes are known to be.
    #[serde(default, skip_serializing_if = "TokenKind::is_text")]
    pub kind: TokenKind,
}

/// What a server reported of a token's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The token's bytes are its text's UTF-8.
    #[default]
    Text,
    /// The token's exact bytes, which are not valid UTF-8: a byte-level piece of a character
    /// (llama.cpp's `bytes`, OpenAI's `bytes:\xNN` names). `text` is their lossy rendering.
    Bytes(Vec<u8>),
    /// A token with no bytes, a special (control) token: llama.cpp sends `""` with `bytes: []`,
    /// OpenAI `bytes: null`. Read as the end of generation.
    Special,
    /// The server reported only the token's id (vLLM with `return_tokens_as_token_ids`:
    /// `"token_id:123"`); its text and bytes are unknown until a vocabulary supplies them.
    IdOnly,
}

impl TokenKind {
    /// Whether this is [`TokenKind::Text`] (the default, not serialised).
    pub fn is_text(&self) -> bool {
        matches!(self, TokenKind::Text)
    }
}

impl TopToken {
    /// A token known by its text. An empty text is a special token, as every recording made
    /// before [`TokenKind`] existed means by it (llama.cpp's control tokens have no text).
    pub fn new(id: Option<u32>, text: impl Into<String>, logprob: f64) -> TopToken {
        let text = text.into();
        let kind = if text.is_empty() {
            TokenKind::Special
        } else {
            TokenKind::Text
        };
        TopToken {
            id,
            text,
            logprob,
            kind,
        }
    }

    /// A token known by its exact bytes: [`TokenKind::Text`] when they are UTF-8,
    /// [`TokenKind::Bytes`] (with their lossy rendering as text) when not, and
    /// [`TokenKind::Special`] when there are none.
    pub fn from_bytes(id: Option<u32>, bytes: Vec<u8>, logprob: f64) -> TopToken {
        match String::from_utf8(bytes) {
            Ok(text) => TopToken::new(id, text, logprob),
            Err(e) => {
                let bytes = e.into_bytes();
                TopToken {
                    id,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    logprob,
                    kind: TokenKind::Bytes(bytes),
                }
            }
        }
    }

    /// A special token (no bytes), with the name the server gave it, if any.
    pub fn special(id: Option<u32>, name: impl Into<String>, logprob: f64) -> TopToken {
        TopToken {
            id,
            text: name.into(),
            logprob,
            kind: TokenKind::Special,
        }
    }

    /// A token the server named only by its id.
    pub fn id_only(id: u32, logprob: f64) -> TopToken {
        TopToken {
            id: Some(id),
            text: String::new(),
            logprob,
            kind: TokenKind::IdOnly,
        }
    }

    /// Whether the token ends generation: a special token. (The wire cannot tell an
    /// end-of-generation token from another control token: llama.cpp renders gemma's
    /// `<unused62>` as `""` too, and generation goes on after it. A vocabulary can.)
    pub fn ends_generation(&self) -> bool {
        match self.kind {
            TokenKind::Special => true,
            TokenKind::Text => self.text.is_empty(),
            TokenKind::Bytes(_) | TokenKind::IdOnly => false,
        }
    }

    /// The token's exact bytes: its text's UTF-8 or the bytes the server reported; `None` for
    /// a special token (it has none) and for an id-only token (unknown without a vocabulary).
    pub fn exact_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            TokenKind::Text if self.text.is_empty() => None,
            TokenKind::Text => Some(self.text.as_bytes()),
            TokenKind::Bytes(b) => Some(b),
            TokenKind::Special | TokenKind::IdOnly => None,
        }
    }

    /// Whether the server reported only the token's id.
    pub fn is_id_only(&self) -> bool {
        matches!(self.kind, TokenKind::IdOnly)
    }
}

/// The top next-token log-probabilities and what identifies the model that gave them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprobs {
    /// Candidates in the order the server returned them (descending probability).
    pub tokens: Vec<TopToken>,
    /// The model id the server reported.
    pub model_id: Option<String>,
    /// The server's `system_fingerprint`, if any.
    pub fingerprint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64, batch: Option<Batch>) -> Request {
        Request::Sample(SampleRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "p".into(),
            temperature: 1.0,
            max_tokens: 6,
            seed,
            batch,
            lora: Vec::new(),
        })
    }

    #[test]
    fn unbatched_sample_keys_are_unchanged_and_batches_have_their_own() {
        // The key of a sample without a batch, as computed before batches existed (the
        // committed recordings hold keys like it): the batch field must not alter it.
        assert_eq!(sample(1, None).key(), "ac283c6370c71a7ecb3920e59aa83e28");
        let b = |n, index| Some(Batch { n, index });
        let keys = [
            sample(1, None).key(),
            sample(1, b(2, 0)).key(),
            sample(1, b(2, 1)).key(),
            sample(1, b(3, 0)).key(),
        ];
        let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
    }

    #[test]
    fn key_depends_on_every_field_and_is_stable() {
        let r = LogprobRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "p".into(),
            prompt_ids: Vec::new(),
            continuation_ids: vec![1, 2],
            continuation_text: String::new(),
            top_k: 20,
            lora: Vec::new(),
        };
        let k = r.key();
        assert_eq!(k.len(), 32);
        assert_eq!(k, r.clone().key());
        assert_ne!(
            k,
            LogprobRequest {
                top_k: 21,
                ..r.clone()
            }
            .key()
        );
        assert_ne!(
            k,
            LogprobRequest {
                continuation_ids: vec![1],
                ..r.clone()
            }
            .key()
        );
        assert_ne!(
            k,
            LogprobRequest {
                model: "n".into(),
                ..r
            }
            .key()
        );
    }

    #[test]
    fn prompt_ids_leave_old_keys_alone_and_change_the_key_when_set() {
        let r = LogprobRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "p".into(),
            prompt_ids: Vec::new(),
            continuation_ids: vec![1, 2],
            continuation_text: String::new(),
            top_k: 20,
            lora: Vec::new(),
        };
        // The canonical JSON of a request without prompt ids has no trace of the field.
        let canonical = String::from_utf8(serde_json::to_vec(&r).unwrap()).unwrap();
        assert!(!canonical.contains("prompt_ids"), "{canonical}");
        let with = LogprobRequest {
            prompt_ids: vec![9, 8],
            ..r.clone()
        };
        assert_ne!(r.key(), with.key());
    }

    #[test]
    fn lora_leaves_old_keys_alone_and_each_selection_has_its_own_key() {
        let r = LogprobRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "p".into(),
            prompt_ids: Vec::new(),
            continuation_ids: vec![1, 2],
            continuation_text: String::new(),
            top_k: 20,
            lora: Vec::new(),
        };
        // Pinned: the key of this request as computed before adapters existed.
        assert_eq!(r.key(), "fa826390676e9016589af2174265ae3e");
        let canonical = String::from_utf8(serde_json::to_vec(&r).unwrap()).unwrap();
        assert!(!canonical.contains("lora"), "{canonical}");
        let with = |lora: &[(u32, f64)]| {
            LogprobRequest {
                lora: lora
                    .iter()
                    .map(|&(id, scale)| LoraScale { id, scale })
                    .collect(),
                ..r.clone()
            }
            .key()
        };
        let keys = [
            r.key(),
            with(&[(0, 0.0)]),
            with(&[(0, 1.0)]),
            with(&[(1, 1.0)]),
            with(&[(0, 0.5)]),
            with(&[(0, 1.0), (1, 0.0)]),
        ];
        let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{keys:?}");
        // Samples too: an unbatched sample's pinned key holds, and an adapter changes it.
        let Request::Sample(plain) = sample(1, None) else {
            unreachable!()
        };
        let adapted = Request::Sample(SampleRequest {
            lora: vec![LoraScale { id: 0, scale: 1.0 }],
            ..plain
        });
        assert_ne!(adapted.key(), "ac283c6370c71a7ecb3920e59aa83e28");
        assert!(
            adapted.describe().ends_with(", LoRA 0@1"),
            "{}",
            adapted.describe()
        );
    }

    #[test]
    fn token_kinds_answer_the_enumeration_s_questions() {
        let text = TopToken::new(Some(1), " 9", -0.1);
        assert_eq!(text.kind, TokenKind::Text);
        assert_eq!(text.exact_bytes(), Some(&b" 9"[..]));
        assert!(!text.ends_generation());
        // An empty text is a special token, as every older recording means it.
        let empty = TopToken::new(Some(1), "", -0.1);
        assert_eq!(empty.kind, TokenKind::Special);
        assert!(empty.ends_generation());
        assert_eq!(empty.exact_bytes(), None);
        // Half of a UTF-8 character keeps its byte; its text is the lossy rendering.
        let half = TopToken::from_bytes(Some(432), vec![0xc2], -9.5);
        assert_eq!(half.kind, TokenKind::Bytes(vec![0xc2]));
        assert_eq!(half.text, "\u{fffd}");
        assert_eq!(half.exact_bytes(), Some(&[0xc2][..]));
        assert!(!half.ends_generation());
        assert_eq!(
            TopToken::from_bytes(None, b"ok".to_vec(), -1.0),
            TopToken::new(None, "ok", -1.0)
        );
        assert!(TopToken::from_bytes(Some(1), Vec::new(), -1.0).ends_generation());
        let named = TopToken::special(Some(100257), "<|endoftext|>", -3.0);
        assert!(named.ends_generation());
        assert_eq!(named.exact_bytes(), None);
        let id = TopToken::id_only(123, -0.5);
        assert!(id.is_id_only() && !id.ends_generation());
        assert_eq!(id.exact_bytes(), None);
        // A literal of the old shape (no kind) still reads its empty text as special.
        let literal = TopToken {
            id: None,
            text: String::new(),
            logprob: -1.0,
            kind: TokenKind::default(),
        };
        assert!(literal.ends_generation());
    }
}
