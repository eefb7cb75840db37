//! Model sets: files under `models/` that bind roles to concrete models behind an API.

use super::{Role, Version};
use crate::request::LoraScale;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A model set, as written in `models/<id>.yaml` (format version 1).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSet {
    /// Format version; this build reads `1`.
    pub version: Version,
    /// Unique id, e.g. `local` or `openai-2023`.
    pub id: String,
    /// What the set is and why its role bindings are what they are.
    pub description: String,
    /// The models, each bound to a role. A role may be bound to several models (the post's
    /// davinci and code-davinci-002 are both `base`); expectations then hold for each.
    pub models: Vec<ModelEntry>,
    /// Specs this set does not measure, each with the reason (e.g. the hours its samples
    /// would take on this machine). In every mode they are reported on the set as not recorded,
    /// with the reason, instead of measured (a missing recording would be an error); remove an
    /// entry to record the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_recorded: Vec<NotRecorded>,
}

/// A spec a model set does not measure (`not_recorded:`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotRecorded {
    /// The spec's id.
    pub spec: String,
    /// Why it is not recorded on this set.
    pub reason: String,
}

/// One model of a set.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Name unique within the set, used in reports and recording file names.
    pub name: String,
    /// The role the model stands for.
    pub role: Role,
    /// The kind of server; decides which extensions are sent.
    pub provider: Provider,
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// An environment variable that, when set, overrides `base_url` (for local ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url_env: Option<String>,
    /// The model name sent in requests.
    pub model: String,
    /// Which endpoint to use.
    pub api: Api,
    /// The environment variable that holds the API key; none for local servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Whether the model can still be recorded.
    pub status: ModelStatus,
    /// The most top log-probabilities the API returns per position (OpenAI completions: 5,
    /// chat: 20; llama.cpp and vLLM: as configured).
    pub max_top_logprobs: u32,
    /// Vocabulary size, for the `next_token` uncertainty bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<u64>,
    /// The model's tokenizer. With it the logprob methods know which unseen tokens can still
    /// change an outcome, which makes `enumerate` exact and `next_token`'s bounds tight; the
    /// facts used are recorded beside the responses, so replay needs no tokenizer file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<TokenizerSpec>,
    /// The fewest top log-probabilities `enumerate` asks this model for at any node (default:
    /// the spec's `top_k`). For a vocabulary whose viable tokens never rank high (gemma's
    /// byte-fallback digits `<0x30>`..`<0x39>`), a deeper list is what makes the figures
    /// exact: each unlisted viable token is bounded by the smallest listed probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enumerate_min_top_k: Option<u32>,
    /// The LoRA adapters of the server this model is, with their scales: every request for
    /// the model carries the list (llama.cpp's per-request `lora`), so it is part of the
    /// recording key and one server serves several models. Ids are the server's load order
    /// (`scripts/local-models.sh` loads `adapters/<set>/manifest.json`'s rungs in order). On
    /// llama.cpp a non-empty list sets every adapter it does not name to scale 0 (checked
    /// live), while an empty or absent list leaves the server's own scales; so a base served
    /// beside adapters lists one at scale 0. Only for `llama_cpp`; ids unique, scales finite;
    /// every model of the set on the same server names its adapters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lora: Vec<LoraScale>,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// The most completions one `sample` request asks for (the API's `n`); default 1, one
    /// request per sample. With `max_n: k`, samples i..i+k are one request with `"n": k` and
    /// the seed of sample i. OpenAI and vLLM take n > 1; llama.cpp takes n up to its server's
    /// slots (`n_parallel`) and refuses more. Changing it changes the recording keys of every
    /// sampled measurement of the model (they record which batch a sample came from).
    #[serde(default = "default_max_n", skip_serializing_if = "is_one")]
    pub max_n: u32,
    /// Facts about the model that a reader of a report needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn default_concurrency() -> u32 {
    2
}

fn default_max_n() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// Where a model's vocabulary comes from (`tokenizer:` in a model set).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// `gguf` (llama.cpp's model file), `hf_json` (a Hugging Face `tokenizer.json`) or
    /// `tiktoken` (a named OpenAI encoding, built in).
    pub kind: TokenizerKind,
    /// For `gguf` and `hf_json`: the environment variable that holds the file's path (files
    /// live outside the project, so the path is never written in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_env: Option<String>,
    /// For `tiktoken`: `r50k_base`, `p50k_base`, `cl100k_base` or `o200k_base`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// The kinds of tokenizer declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// A GGUF file's vocabulary.
    Gguf,
    /// A Hugging Face `tokenizer.json`.
    HfJson,
    /// A named tiktoken encoding.
    Tiktoken,
}

impl TokenizerSpec {
    /// Checks that the fields of the kind are given, and only those.
    pub(crate) fn check(&self) -> Result<(), String> {
        match (self.kind, &self.path_env, &self.encoding) {
            (TokenizerKind::Tiktoken, None, Some(_)) => Ok(()),
            (TokenizerKind::Tiktoken, _, _) => Err(
                "a `tiktoken` tokenizer takes `encoding:` (e.g. cl100k_base) and no `path_env:`"
                    .into(),
            ),
            (_, Some(v), None) if !v.is_empty() => Ok(()),
            (kind, _, _) => Err(format!(
                "a `{}` tokenizer takes `path_env:` (the environment variable that holds the \
                 file's path) and no `encoding:`",
                if kind == TokenizerKind::Gguf {
                    "gguf"
                } else {
                    "hf_json"
                }
            )),
        }
    }
}

/// The kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// api.openai.com: completions take token arrays but not text mixed with token ids.
    Openai,
    /// A vLLM server: takes `[text, id, …]`-style prompts through token ids.
    Vllm,
    /// A llama.cpp server: takes mixed prompts; the prompt cache is disabled per request.
    LlamaCpp,
}

impl Provider {
    /// Whether prompts can continue text with token ids, so that prefixes are extended
    /// exactly rather than by re-tokenised text.
    pub fn takes_token_ids(self) -> bool {
        matches!(self, Provider::Vllm | Provider::LlamaCpp)
    }
}

/// Which OpenAI-compatible endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `/v1/completions`
    Completions,
    /// `/v1/chat/completions`
    Chat,
}

/// Whether a model can be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Served; missing recordings are an error.
    Live,
    /// No longer served; without recordings it is reported as "retired, cannot be recorded".
    Retired,
}

impl ModelEntry {
    /// The base URL to use: the override from `base_url_env` when set, else `base_url`.
    pub fn effective_base_url(&self) -> String {
        self.base_url_env
            .as_deref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| self.base_url.clone())
    }
}

impl ModelSet {
    /// Models bound to a role.
    pub fn models_for(&self, role: Role) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter().filter(move |m| m.role == role)
    }

    /// Why the set does not measure a spec, if it says so (`not_recorded:`).
    pub fn not_recorded(&self, spec_id: &str) -> Option<&str> {
        self.not_recorded
            .iter()
            .find(|n| n.spec == spec_id)
            .map(|n| n.reason.as_str())
    }

    /// Whether any model is bound to the role.
    pub fn binds(&self, role: Role) -> bool {
        self.models_for(role).next().is_some()
    }
}
