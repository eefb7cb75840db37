//! Wire JSON of `/v1/completions` and `/v1/chat/completions`: request bodies and the response
//! shapes servers actually send.
//!
//! Two logprob shapes exist. The list shape, `logprobs.content[i].top_logprobs[] = {id?, token,
//! bytes?, logprob}`, comes from llama.cpp (with ids), OpenAI chat and vLLM chat. The map
//! shape, `logprobs.top_logprobs[i] = {token: logprob}`, comes from OpenAI's legacy completions
//! and vLLM's completions, keyed by the token's text, or by `"token_id:123"` when vLLM is asked
//! for `return_tokens_as_token_ids`.
//!
//! Token bytes are kept exactly ([`TopToken`]'s kinds): a `bytes` array that is not UTF-8, or
//! OpenAI's `bytes:\xe2\x80` names for byte-level pieces of a character, become exact bytes; a
//! token with no bytes (`bytes: null` or `[]`) is special; a `token_id:` name is id-only.

use crate::error::WireError;
use crate::request::{Completion, LogprobRequest, LoraScale, SampleRequest, TopLogprobs, TopToken};
use crate::spec::{Api, Provider};
use serde::Deserialize;
use serde_json::{Value, json};

/// A provider's name as model sets write it.
pub(crate) fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Openai => "openai",
        Provider::Vllm => "vllm",
        Provider::LlamaCpp => "llama_cpp",
    }
}

/// Why a request cannot be sent to a provider, or `None` when it can: a prompt that continues
/// by token ids needs a server that takes them in the form this client sends.
pub(crate) fn unsendable(provider: Provider, req: &LogprobRequest) -> Option<String> {
    let ids = !req.prompt_ids.is_empty() || !req.continuation_ids.is_empty();
    if req.api == Api::Chat && ids {
        return Some("a chat prompt cannot be given or continued as token ids".into());
    }
    if !req.prompt_ids.is_empty() && !req.continuation_text.is_empty() {
        return Some("a token-array prompt cannot be continued by text".into());
    }
    if req.prompt_ids.is_empty()
        && !req.continuation_ids.is_empty()
        && provider != Provider::LlamaCpp
    {
        return Some(
            "this server does not take text mixed with token ids (`[text, id, …]`, which only \
             llama.cpp reads); a prompt continued by ids needs the prompt's own ids \
             (`prompt_ids`, from the model's tokenizer), to be sent as one token array"
                .into(),
        );
    }
    None
}

/// The request body for a canonical request.
pub(crate) fn request_body(provider: Provider, req: &LogprobRequest) -> Value {
    let mut body = match req.api {
        Api::Completions => {
            let prompt = if !req.prompt_ids.is_empty() {
                // A pure token array: vLLM and OpenAI's legacy completions read it as the
                // prompt's tokens, exactly.
                Value::from(
                    req.prompt_ids
                        .iter()
                        .chain(&req.continuation_ids)
                        .copied()
                        .collect::<Vec<u32>>(),
                )
            } else if req.continuation_ids.is_empty() {
                Value::from(format!("{}{}", req.prompt, req.continuation_text))
            } else {
                // llama.cpp reads `[text, id, id, …]` as the text's tokens followed by these
                // ids, so the prefix is extended exactly, not re-tokenised.
                let mut parts = vec![Value::from(req.prompt.clone())];
                parts.extend(req.continuation_ids.iter().map(|&id| Value::from(id)));
                Value::Array(parts)
            };
            json!({
                "model": req.model,
                "prompt": prompt,
                "max_tokens": 1,
                "logprobs": req.top_k,
                "temperature": 0.0,
                "n": 1,
            })
        }
        Api::Chat => json!({
            "model": req.model,
            "messages": [{"role": "user", "content": req.prompt}],
            "max_tokens": 1,
            "logprobs": true,
            "top_logprobs": req.top_k,
            "temperature": 0.0,
            "n": 1,
        }),
    };
    if provider == Provider::LlamaCpp {
        // Measured: with the prompt cache on, a node's logprobs depend on the previous request
        // (up to 0.18 nats of entropy on gemma-3-270m). Off, they reproduce.
        body["cache_prompt"] = Value::Bool(false);
        add_lora(&mut body, &req.lora);
    }
    if provider == Provider::Vllm && req.api == Api::Completions {
        // vLLM names top tokens by text by default, which loses their ids (that extending a
        // prefix needs), turns byte-fallback tokens into "" and can merge two tokens of equal
        // text into one key; with this flag it names each `token_id:<id>`.
        body["return_tokens_as_token_ids"] = Value::Bool(true);
    }
    body
}

/// The request body for one sampled completion.
pub(crate) fn sample_body(provider: Provider, req: &SampleRequest) -> Value {
    let mut body = match req.api {
        Api::Completions => json!({"model": req.model, "prompt": req.prompt}),
        Api::Chat => {
            json!({"model": req.model, "messages": [{"role": "user", "content": req.prompt}]})
        }
    };
    body["max_tokens"] = json!(req.max_tokens);
    body["temperature"] = json!(req.temperature);
    // A batch sends the seed of its first sample and asks for all its choices at once.
    body["seed"] = json!(req.seed);
    body["n"] = json!(req.n());
    body["top_p"] = json!(1.0);
    if provider == Provider::LlamaCpp {
        // The same reason as for logprobs: a sample must not depend on the previous request.
        body["cache_prompt"] = Value::Bool(false);
        // llama.cpp truncates the distribution by default (top_k 40, min_p 0.05, …); a sample
        // must come from the model's distribution at the temperature, so every truncation and
        // penalty is switched off. Measured: with the defaults, gemma-3-270m's sampled entropy
        // on the Q/A prompt was 1.23 nats against an exact 1.97.
        body["top_k"] = json!(0);
        body["min_p"] = json!(0.0);
        body["typical_p"] = json!(1.0);
        body["repeat_penalty"] = json!(1.0);
        body["presence_penalty"] = json!(0.0);
        body["frequency_penalty"] = json!(0.0);
        add_lora(&mut body, &req.lora);
    }
    body
}

/// llama.cpp's per-request adapter scales. Checked live (xllamacpp 2026.10.11549, two
/// adapters loaded at scale 1): a non-empty list sets every adapter it does not name to 0,
/// while `[]` or no list keeps the server's scales; so only a non-empty list is sent, and a
/// model without `lora:` sends none (its body is what it was before adapters existed).
fn add_lora(body: &mut Value, lora: &[LoraScale]) {
    if !lora.is_empty() {
        body["lora"] = Value::Array(
            lora.iter()
                .map(|l| json!({"id": l.id, "scale": l.scale}))
                .collect(),
        );
    }
}

#[derive(Deserialize)]
struct ChatMessage {
    content: Option<String>,
}

/// Parses a sampled completion (`choices[0].text`, or `choices[0].message.content` for chat).
pub fn parse_completion(body: &[u8], api: Api) -> Result<Completion, WireError> {
    let (resp, choice) = only_choice(body)?;
    completion_of(&resp, choice, 0, api).map_err(WireError::Shape)
}

/// Parses the `n` sampled completions of a request that asked for `n` choices, in the order
/// of their `index` (position where a server sends none). A server that returns another number
/// of choices, or indices that are not `0..n` once each, is refused: recording its choices
/// under the request's keys would record samples it was not asked for.
pub fn parse_completions(body: &[u8], api: Api, n: u32) -> Result<Vec<Completion>, WireError> {
    let mut resp = response_of(body)?;
    let choices = std::mem::take(&mut resp.choices);
    if choices.is_empty() {
        return Err("no choices in the response".into());
    }
    if choices.len() != n as usize {
        return Err(WireError::ChoiceCount {
            asked: n,
            got: choices.len(),
        });
    }
    let mut slots: Vec<Option<Completion>> = vec![None; n as usize];
    for (position, choice) in choices.into_iter().enumerate() {
        let index = choice.index.map_or(position, |i| i as usize);
        let completion = completion_of(&resp, choice, index, api)?;
        match slots.get_mut(index) {
            Some(slot @ None) => *slot = Some(completion),
            Some(Some(_)) => return Err(format!("choice index {index} appears twice").into()),
            None => {
                return Err(format!("choice index {index} is outside 0..{n}").into());
            }
        }
    }
    Ok(slots
        .into_iter()
        .map(|c| c.expect("n distinct indices below n"))
        .collect())
}

/// The completion of one choice.
fn completion_of(
    resp: &Response,
    choice: Choice,
    index: usize,
    api: Api,
) -> Result<Completion, String> {
    let text = match api {
        Api::Completions => choice
            .text
            .ok_or_else(|| format!("no `text` in choices[{index}]"))?,
        Api::Chat => choice
            .message
            .and_then(|m| m.content)
            .ok_or_else(|| format!("no `message.content` in choices[{index}]"))?,
    };
    Ok(Completion {
        text,
        finish_reason: choice.finish_reason,
        model_id: resp.model.clone(),
        fingerprint: resp.system_fingerprint.clone(),
    })
}

/// The response shape shared by completions and chat completions; each parser reads the
/// fields of its kind.
#[derive(Deserialize)]
struct Response {
    model: Option<String>,
    system_fingerprint: Option<String>,
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    /// The choice's place among the `n` asked for.
    index: Option<u32>,
    logprobs: Option<Logprobs>,
    text: Option<String>,
    message: Option<ChatMessage>,
    finish_reason: Option<String>,
}

/// The longest part of a server's error message that is quoted.
const MESSAGE_CHARS: usize = 300;

/// The server's message when a body is an error object rather than a response: OpenAI's
/// `{"error": {"message": …, "type": …, "code": …}}` (also sent with status 200 by some
/// proxies), `{"error": "…"}`, or vLLM's `{"object": "error", "message": …}`.
fn error_message(value: &Value) -> Option<String> {
    let describe = |e: &Value| -> String {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut parts = Vec::new();
        match e.get("message") {
            Some(m) => parts.push(text(m)),
            None if !e.is_object() => parts.push(text(e)),
            None => parts.push(e.to_string()),
        }
        for field in ["type", "code"] {
            if let Some(v) = e.get(field).filter(|v| !v.is_null()) {
                parts.push(format!("{field} {}", text(v)));
            }
        }
        parts.retain(|p| !p.is_empty());
        parts.join("; ").chars().take(MESSAGE_CHARS).collect()
    };
    match value.get("error") {
        Some(e) if !e.is_null() => return Some(describe(e)),
        _ => {}
    }
    if value.get("object").and_then(Value::as_str) == Some("error") {
        return Some(describe(value));
    }
    None
}

/// The server's message when a body is an error object (see [`parse_response`]).
pub(crate) fn error_in_body(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| error_message(&v))
}

/// The response of a body, or what it is instead.
fn response_of(body: &[u8]) -> Result<Response, WireError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("unexpected JSON: {e}"))?;
    if let Some(message) = error_message(&value) {
        return Err(WireError::Server(message));
    }
    serde_json::from_value(value).map_err(|e| format!("unexpected JSON: {e}").into())
}

/// The response and its one choice (requests for logprobs and lone samples ask for `n: 1`).
fn only_choice(body: &[u8]) -> Result<(Response, Choice), WireError> {
    let mut resp = response_of(body)?;
    match resp.choices.len() {
        0 => Err("no choices in the response".into()),
        1 => {
            let choice = resp.choices.swap_remove(0);
            Ok((resp, choice))
        }
        got => Err(WireError::ChoiceCount { asked: 1, got }),
    }
}

#[derive(Deserialize)]
struct Logprobs {
    content: Option<Vec<ContentPosition>>,
    top_logprobs: Option<Vec<Option<serde_json::Map<String, Value>>>>,
}

#[derive(Deserialize)]
struct ContentPosition {
    top_logprobs: Vec<ContentCandidate>,
}

#[derive(Deserialize)]
struct ContentCandidate {
    id: Option<u32>,
    token: String,
    /// Absent (`None`), `null` (`Some(None)`) or an array: absent says nothing, null says the
    /// token has no bytes.
    #[serde(default, deserialize_with = "present")]
    bytes: Option<Option<Vec<u8>>>,
    logprob: f64,
}

/// Deserialises a field that is present (possibly `null`), as opposed to absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The id of a vLLM `token_id:<id>` name.
fn token_id_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("token_id:")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The bytes of an OpenAI `bytes:\xe2\x80` name (a byte-level piece of a character; seen with
/// and without a space after the colon).
fn bytes_name(name: &str) -> Option<Vec<u8>> {
    let rest = name.strip_prefix("bytes:")?;
    let mut rest = rest.strip_prefix(' ').unwrap_or(rest).as_bytes();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let [b'\\', b'x', hi, lo, tail @ ..] = rest else {
            return None;
        };
        let hex = [*hi, *lo];
        out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        rest = tail;
    }
    (!out.is_empty()).then_some(out)
}

/// A token named by text alone (the legacy map's keys, and list entries without `bytes`).
fn token_by_name(id: Option<u32>, name: String, logprob: f64) -> TopToken {
    if let Some(n) = token_id_name(&name).filter(|n| id.is_none_or(|id| id == *n)) {
        return TopToken::id_only(n, logprob);
    }
    match bytes_name(&name) {
        Some(bytes) => TopToken::from_bytes(id, bytes, logprob),
        // An empty name is a special token, as llama.cpp and older recordings mean it.
        None => TopToken::new(id, name, logprob),
    }
}

/// A candidate of the list shape.
fn content_token(c: ContentCandidate) -> TopToken {
    let named_id = token_id_name(&c.token).filter(|n| c.id.is_none_or(|id| id == *n));
    match (c.bytes, named_id) {
        (None, _) => token_by_name(c.id, c.token, c.logprob),
        // vLLM with `return_tokens_as_token_ids`: its `bytes` are the decoded token's, which
        // is empty or U+FFFD for a byte-fallback piece, or the placeholder's own; only other
        // bytes say more than the id.
        (Some(Some(b)), Some(n))
            if !b.is_empty() && b != c.token.as_bytes() && !contains_replacement(&b) =>
        {
            TopToken::from_bytes(Some(n), b, c.logprob)
        }
        (Some(_), Some(n)) => TopToken::id_only(n, c.logprob),
        // `bytes` is authoritative where given: a token can be part of a UTF-8 character,
        // which `token` cannot show.
        (Some(Some(b)), None) if !b.is_empty() => TopToken::from_bytes(c.id, b, c.logprob),
        // No bytes (`null`, or llama.cpp's `[]` with an empty token): a special token.
        (Some(_), None) => TopToken::special(c.id, c.token, c.logprob),
    }
}

/// Whether bytes hold U+FFFD, the mark of a lossy decode.
fn contains_replacement(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w == [0xef, 0xbf, 0xbd])
}

/// Parses a response body into top log-probabilities; the error says what is missing.
///
/// `top_k` is the number asked for. A response with fewer (distinct) candidates is refused with
/// [`WireError::TopCount`], never recorded under a request it did not answer: OpenAI's legacy
/// completions cap the list at 5, and a map keyed by text can merge two tokens. One with more
/// keeps the `top_k` most probable: the legacy shape may add the sampled token to the list
/// ("up to logprobs + 1"), which is not the next of the top.
pub fn parse_response(body: &[u8], want_ids: bool, top_k: u32) -> Result<TopLogprobs, WireError> {
    let (resp, choice) = only_choice(body)?;
    let logprobs = choice.logprobs.ok_or("no logprobs in the response")?;
    let (mut tokens, by_text) = if let Some(content) = logprobs.content {
        let first = content
            .into_iter()
            .next()
            .ok_or("logprobs.content is empty")?;
        let tokens: Vec<TopToken> = first.top_logprobs.into_iter().map(content_token).collect();
        (tokens, false)
    } else if let Some(top) = logprobs.top_logprobs {
        let first = top
            .into_iter()
            .next()
            .flatten()
            .ok_or("logprobs.top_logprobs is empty")?;
        let mut tokens = first
            .into_iter()
            .map(|(name, lp)| {
                lp.as_f64()
                    .map(|logprob| token_by_name(None, name, logprob))
                    .ok_or_else(|| format!("logprob of a top token is not a number: {lp}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A map has no order; most probable first, ties by id and text, so that the
        // recording is deterministic.
        tokens.sort_by(|a, b| {
            b.logprob
                .total_cmp(&a.logprob)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.text.cmp(&b.text))
        });
        let by_text = tokens.iter().any(|t| t.id.is_none());
        (tokens, by_text)
    } else {
        return Err(
            "no top logprobs in the response: its `logprobs` hold neither `content` nor \
                    `top_logprobs`, only the sampled tokens' (as OpenAI's legacy completions \
                    send for `logprobs: 0`, and Together's chat for `logprobs: 1`)"
                .into(),
        );
    };
    if tokens.is_empty() {
        return Err("no top logprobs in the response".into());
    }
    if tokens.len() < top_k as usize {
        return Err(WireError::TopCount {
            asked: top_k,
            got: tokens.len(),
            by_text,
        });
    }
    if tokens.len() > top_k as usize {
        // Stable: a list already in the server's order keeps it.
        tokens.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
        tokens.truncate(top_k as usize);
    }
    // Servers compute log-probabilities in single precision and print them with 15–17 digits;
    // keeping the single-precision value loses nothing, halves the recordings, and makes live
    // and replayed figures bit-identical.
    for t in &mut tokens {
        t.logprob = f64::from(t.logprob as f32);
    }
    if let Some(bad) = tokens
        .iter()
        .find(|t| t.logprob.is_nan() || t.logprob > 1e-6)
    {
        return Err(format!("invalid logprob {} for token {:?}", bad.logprob, bad.text).into());
    }
    if want_ids && tokens.iter().any(|t| t.id.is_none()) {
        return Err(
            "top logprobs carry no token ids, which extending prefixes by id needs \
                    (vLLM names tokens by id when asked with `return_tokens_as_token_ids`, \
                    which `provider: vllm` sends; a server that ignores it is too old)"
                .into(),
        );
    }
    Ok(TopLogprobs {
        tokens,
        model_id: resp.model,
        fingerprint: resp.system_fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::TokenKind;

    #[test]
    fn parses_llama_cpp_content_shape() {
        let body = br#"{"model":"gemma","choices":[{"text":" ","logprobs":{"content":[{"id":236743,"token":" ","bytes":[32],"logprob":-0.5,
            "top_logprobs":[{"id":236743,"token":" ","bytes":[32],"logprob":-0.5},{"id":1,"token":"","bytes":[],"logprob":-2.0}]}]}}]}"#;
        let t = parse_response(body, true, 2).unwrap();
        assert_eq!(t.tokens.len(), 2);
        assert_eq!(t.tokens[0], TopToken::new(Some(236743), " ", -0.5));
        assert_eq!(t.tokens[1].text, "");
        assert!(t.tokens[1].ends_generation());
        assert_eq!(t.model_id.as_deref(), Some("gemma"));
    }

    #[test]
    fn parses_openai_legacy_shape() {
        let body = br#"{"model":"text-davinci-003","choices":[{"logprobs":{"tokens":[" 97"],"top_logprobs":[{" 97":-0.1," 42":-3.0}]}}]}"#;
        let t = parse_response(body, false, 2).unwrap();
        assert_eq!(t.tokens[0].text, " 97");
        // Five asked, two given: refused, never recorded as the top five.
        assert_eq!(
            parse_response(body, false, 5).unwrap_err(),
            WireError::TopCount {
                asked: 5,
                got: 2,
                by_text: true
            }
        );
        assert!(
            parse_response(body, true, 2)
                .unwrap_err()
                .to_string()
                .contains("no token ids")
        );
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert!(
            parse_response(b"{\"choices\":[]}", false, 1)
                .unwrap_err()
                .to_string()
                .contains("no choices")
        );
        assert!(
            parse_response(b"{\"choices\":[{}]}", false, 1)
                .unwrap_err()
                .to_string()
                .contains("no logprobs")
        );
        assert!(
            parse_response(
                b"{\"choices\":[{\"logprobs\":{\"content\":[{\"top_logprobs\":[]}]}}]}",
                false,
                1
            )
            .is_err()
        );
        assert!(
            parse_response(b"{\"choi", false, 1)
                .unwrap_err()
                .to_string()
                .contains("unexpected JSON")
        );
        let positive = br#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"token":"a","logprob":0.5}]}]}}]}"#;
        assert!(
            parse_response(positive, false, 1)
                .unwrap_err()
                .to_string()
                .contains("invalid logprob")
        );
        let two = br#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-1.5}]}]}}]}"#;
        assert!(
            parse_response(two, false, 3)
                .unwrap_err()
                .to_string()
                .contains("2 top logprobs in the response where 3 were asked")
        );
    }

    #[test]
    fn parses_completions_and_chat() {
        let c = parse_completion(
            br#"{"model":"m","choices":[{"text":" 42\n","finish_reason":"stop"}]}"#,
            Api::Completions,
        )
        .unwrap();
        assert_eq!((c.text.as_str(), c.ended()), (" 42\n", true));
        let c = parse_completion(
            br#"{"choices":[{"message":{"content":"42"},"finish_reason":"length"}]}"#,
            Api::Chat,
        )
        .unwrap();
        assert_eq!((c.text.as_str(), c.ended()), ("42", false));
        assert!(
            parse_completion(br#"{"choices":[{}]}"#, Api::Completions)
                .unwrap_err()
                .to_string()
                .contains("no `text`")
        );
    }

    /// A real response: gemma-3-270m on a two-slot llama.cpp server, asked for n = 2 with
    /// seed 1 (`tests/fixtures/wire/capture_sample_n2.py`).
    const N2_FIXTURE: &[u8] =
        include_bytes!("../../tests/fixtures/wire/gemma-sample-qa-seed1-n2.json");

    #[test]
    fn parses_every_choice_of_a_real_n2_response() {
        let c = parse_completions(N2_FIXTURE, Api::Completions, 2).unwrap();
        assert_eq!(c.len(), 2);
        // Choice 0 is the committed recording of seed 1, choice 1 that of seed 2 (both
        // recorded one request each on a one-slot server): llama.cpp seeds choice j with
        // seed + j, so the two choices are two independent samples, not one sample twice.
        assert_eq!(c[0].text, ":0..~10");
        assert_eq!(c[1].text, " between 0 and 1");
        assert!(c.iter().all(|c| !c.ended()));
        assert!(
            c[0].model_id
                .as_deref()
                .unwrap()
                .ends_with("gemma-3-270m-q4_k_m.gguf")
        );
        assert_eq!(c[1].fingerprint.as_deref(), Some("b0-unknown"));
        // Asked for another n, the same body is refused with the typed error.
        assert_eq!(
            parse_completions(N2_FIXTURE, Api::Completions, 3).unwrap_err(),
            WireError::ChoiceCount { asked: 3, got: 2 }
        );
        assert_eq!(
            parse_completions(N2_FIXTURE, Api::Completions, 1).unwrap_err(),
            WireError::ChoiceCount { asked: 1, got: 2 }
        );
    }

    #[test]
    fn choices_are_ordered_by_index_and_checked() {
        // Synthetic bodies: parsing edge cases only, never model output.
        let swapped = br#"{"choices":[{"text":"b","index":1},{"text":"a","index":0}]}"#;
        let c = parse_completions(swapped, Api::Completions, 2).unwrap();
        assert_eq!((c[0].text.as_str(), c[1].text.as_str()), ("a", "b"));
        let no_index = br#"{"choices":[{"text":"a"},{"text":"b"}]}"#;
        let c = parse_completions(no_index, Api::Completions, 2).unwrap();
        assert_eq!((c[0].text.as_str(), c[1].text.as_str()), ("a", "b"));
        let twice = br#"{"choices":[{"text":"a","index":0},{"text":"b","index":0}]}"#;
        assert!(
            parse_completions(twice, Api::Completions, 2)
                .unwrap_err()
                .to_string()
                .contains("index 0 appears twice")
        );
        let outside = br#"{"choices":[{"text":"a","index":0},{"text":"b","index":2}]}"#;
        assert!(
            parse_completions(outside, Api::Completions, 2)
                .unwrap_err()
                .to_string()
                .contains("outside 0..2")
        );
        let chat =
            br#"{"choices":[{"message":{"content":"x"},"index":0},{"message":{},"index":1}]}"#;
        assert!(
            parse_completions(chat, Api::Chat, 2)
                .unwrap_err()
                .to_string()
                .contains("no `message.content` in choices[1]")
        );
        assert_eq!(
            parse_completions(br#"{"choices":[{"text":"a"}]}"#, Api::Completions, 2)
                .unwrap_err()
                .to_string(),
            "1 choices in the response where n = 2 were asked"
        );
    }

    #[test]
    fn a_batch_sends_n_and_its_first_seed() {
        let req = SampleRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "Q".into(),
            temperature: 1.0,
            max_tokens: 6,
            seed: 7,
            batch: Some(crate::request::Batch { n: 2, index: 1 }),
            lora: Vec::new(),
        };
        let body = sample_body(Provider::LlamaCpp, &req);
        assert_eq!((&body["n"], &body["seed"]), (&json!(2), &json!(7)));
        let alone = SampleRequest { batch: None, ..req };
        assert_eq!(sample_body(Provider::Openai, &alone)["n"], json!(1));
    }

    #[test]
    fn mixed_prompt_and_cache_flag() {
        let req = LogprobRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "Q".into(),
            prompt_ids: Vec::new(),
            continuation_ids: vec![5, 6],
            continuation_text: String::new(),
            top_k: 20,
            lora: Vec::new(),
        };
        let body = request_body(Provider::LlamaCpp, &req);
        assert_eq!(body["prompt"], json!(["Q", 5, 6]));
        assert_eq!(body["cache_prompt"], json!(false));
        assert!(body.get("lora").is_none(), "{body}");
        assert!(
            request_body(Provider::Openai, &req)
                .get("cache_prompt")
                .is_none()
        );
    }

    #[test]
    fn llama_cpp_is_sent_the_adapters_of_the_model_and_only_them() {
        let lora = vec![
            LoraScale { id: 0, scale: 0.0 },
            LoraScale { id: 2, scale: 1.0 },
        ];
        let req = LogprobRequest {
            lora: lora.clone(),
            ..logprob_request(Vec::new(), vec![5], Api::Completions)
        };
        let want = json!([{"id": 0, "scale": 0.0}, {"id": 2, "scale": 1.0}]);
        assert_eq!(request_body(Provider::LlamaCpp, &req)["lora"], want);
        let sample = SampleRequest {
            api: Api::Completions,
            model: "m".into(),
            prompt: "Q".into(),
            temperature: 1.0,
            max_tokens: 6,
            seed: 7,
            batch: None,
            lora,
        };
        assert_eq!(sample_body(Provider::LlamaCpp, &sample)["lora"], want);
        let plain = SampleRequest {
            lora: Vec::new(),
            ..sample
        };
        assert!(
            sample_body(Provider::LlamaCpp, &plain)
                .get("lora")
                .is_none()
        );
    }

    /// A real fixture of `tests/fixtures/wire/` (provenance in its README).
    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/wire")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn llama_cpp_control_and_byte_fallback_tokens_keep_what_they_are() {
        let t =
            parse_response(&fixture("gemma-logprobs-bash-space-top317.json"), true, 317).unwrap();
        assert_eq!(t.tokens.len(), 317);
        let by_id = |id: u32| t.tokens.iter().find(|t| t.id == Some(id)).unwrap();
        assert_eq!(
            by_id(236770),
            &TopToken::new(Some(236770), "1", f64::from(-0.525_273_1_f32))
        );
        // `<eos>` and the unused control tokens: no text, no bytes.
        for id in [1, 67, 68, 69] {
            let tok = by_id(id);
            assert_eq!(tok.kind, TokenKind::Special, "{tok:?}");
            assert!(tok.ends_generation() && tok.exact_bytes().is_none());
        }
        // `<0xC2>`: `"token": ""` with its byte. Before token kinds it was recorded as U+FFFD.
        let half = by_id(432);
        assert_eq!(half.kind, TokenKind::Bytes(vec![0xc2]));
        assert_eq!(half.exact_bytes(), Some(&[0xc2][..]));
        assert!(!half.ends_generation());
        // `"token": "\u{fffd}"` with `"bytes": [164]`: the byte is what counts.
        assert_eq!(by_id(402).exact_bytes(), Some(&[164][..]));
        let bytes = t
            .tokens
            .iter()
            .filter(|t| matches!(t.kind, TokenKind::Bytes(_)))
            .count();
        assert!(bytes >= 15, "{bytes} byte-level tokens");
    }

    #[test]
    fn a_real_vllm_completions_body_parses_by_text_and_is_refused_where_ids_are_needed() {
        let body = fixture("vllm-completions-qwen3-top5.json");
        let t = parse_response(&body, false, 5).unwrap();
        let texts: Vec<&str> = t.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["7", "3", "1", "2", "9"]);
        assert!(
            t.tokens
                .iter()
                .all(|t| t.id.is_none() && t.kind == TokenKind::Text)
        );
        assert_eq!(
            t.model_id.as_deref(),
            Some("Intel/Qwen3-Coder-Next-int4-AutoRound")
        );
        // Five in the body where twenty were asked: refused, never recorded as a top 20.
        assert_eq!(
            parse_response(&body, false, 20).unwrap_err(),
            WireError::TopCount {
                asked: 20,
                got: 5,
                by_text: true
            }
        );
        let err = parse_response(&body, true, 5).unwrap_err().to_string();
        assert!(err.contains("return_tokens_as_token_ids"), "{err}");
    }

    #[test]
    fn real_chat_bodies_of_vllm_and_openai_parse_with_their_bytes() {
        let t = parse_response(&fixture("vllm-chat-ministral-top2.json"), false, 2).unwrap();
        assert_eq!(
            t.tokens[0],
            TopToken::new(None, "{", f64::from(-0.037_105_113_267_898_56_f64 as f32))
        );
        assert_eq!(t.tokens[1].exact_bytes(), Some(&b"{}"[..]));
        let t = parse_response(&fixture("openai-chat-logprobs-top2.json"), false, 2).unwrap();
        let texts: Vec<&str> = t.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["Hello", "Hi"]);
        assert_eq!(t.model_id.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            parse_response(&fixture("openai-chat-logprobs-top2.json"), false, 5).unwrap_err(),
            WireError::TopCount {
                asked: 5,
                got: 2,
                by_text: false
            }
        );
        // The body's third position lists `<|end|>` with `"bytes": null`; read from there
        // (the real body with its first two positions removed), it is a special token.
        let mut v: Value =
            serde_json::from_slice(&fixture("openai-chat-logprobs-top2.json")).unwrap();
        v["choices"][0]["logprobs"]["content"]
            .as_array_mut()
            .unwrap()
            .drain(..2);
        let t = parse_response(&serde_json::to_vec(&v).unwrap(), false, 2).unwrap();
        assert_eq!(t.tokens[0].text, " How");
        assert_eq!(
            t.tokens[1],
            TopToken::special(None, "<|end|>", f64::from(-10.953_937_f32))
        );
        assert!(t.tokens[1].ends_generation());
    }

    #[test]
    fn bodies_without_top_tokens_say_what_they_hold() {
        for name in [
            "openai-legacy-instruct-logprobs0.json",
            "together-chat-codellama-logprobs1.json",
        ] {
            let err = parse_response(&fixture(name), false, 5)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("no top logprobs in the response") && err.contains("only the sampled"),
                "{name}: {err}"
            );
        }
        // Their sampled text still parses.
        let c = parse_completion(
            &fixture("openai-legacy-instruct-logprobs0.json"),
            Api::Completions,
        )
        .unwrap();
        assert_eq!(c.text, "\n\nBonjour, monde !");
        let c = parse_completion(
            &fixture("together-chat-codellama-logprobs1.json"),
            Api::Chat,
        )
        .unwrap();
        assert_eq!(c.text, "1. Define the function with the async keyword.");
    }

    // Synthetic bodies below: shapes no public body was found for, and parsing edge cases;
    // never model output.

    #[test]
    fn vllm_token_id_names_become_id_only_tokens() {
        let body = br#"{"choices":[{"logprobs":{"tokens":["token_id:220"],"top_logprobs":[{"token_id:220":-0.1,"token_id:16":-2.5,"token_id:128009":-3.0}]}}]}"#;
        let t = parse_response(body, true, 3).unwrap();
        assert_eq!(
            t.tokens,
            [
                TopToken::id_only(220, -0.1f32 as f64),
                TopToken::id_only(16, -2.5),
                TopToken::id_only(128009, -3.0),
            ]
        );
        assert!(
            t.tokens
                .iter()
                .all(|t| t.exact_bytes().is_none() && !t.ends_generation())
        );
        // Up to logprobs + 1 entries (the sampled token added): the top k are kept.
        let t = parse_response(body, true, 2).unwrap();
        assert_eq!(t.tokens.len(), 2);
        assert_eq!(t.tokens[1].id, Some(16));
        // Not an id: a text that merely looks like one.
        for name in ["token_id:", "token_id:x1", "token_id: 5"] {
            let body =
                format!(r#"{{"choices":[{{"logprobs":{{"top_logprobs":[{{"{name}":-0.1}}]}}}}]}}"#);
            let t = parse_response(body.as_bytes(), false, 1).unwrap();
            assert_eq!(t.tokens[0].kind, TokenKind::Text, "{name}");
        }
    }

    #[test]
    fn vllm_chat_token_ids_keep_bytes_only_where_they_say_more_than_the_id() {
        let body = br#"{"choices":[{"logprobs":{"content":[{"token":"token_id:9707","logprob":-0.1,"top_logprobs":[
            {"token":"token_id:9707","logprob":-0.1,"bytes":[72,105]},
            {"token":"token_id:5","logprob":-2.0,"bytes":[]},
            {"token":"token_id:6","logprob":-3.0,"bytes":[239,191,189]},
            {"token":"token_id:7","logprob":-4.0,"bytes":[116,111,107,101,110,95,105,100,58,55]},
            {"token":"token_id:8","logprob":-5.0}]}]}}]}"#;
        let t = parse_response(body, true, 5).unwrap();
        assert_eq!(t.tokens[0], TopToken::new(Some(9707), "Hi", -0.1f32 as f64));
        for tok in &t.tokens[1..] {
            assert!(tok.is_id_only(), "{tok:?}");
        }
    }

    #[test]
    fn openai_bytes_names_become_exact_bytes() {
        let body = br#"{"choices":[{"logprobs":{"top_logprobs":[{"bytes:\\xe2\\x80":-0.5,"bytes: \\x99":-1.5," ok":-2.0,"bytes:\\xzz":-3.0}]}}]}"#;
        let t = parse_response(body, false, 4).unwrap();
        assert_eq!(t.tokens[0].kind, TokenKind::Bytes(vec![0xe2, 0x80]));
        assert_eq!(t.tokens[1].kind, TokenKind::Bytes(vec![0x99]));
        assert_eq!(t.tokens[2].kind, TokenKind::Text);
        // Not a well-formed bytes name: kept as the text it is.
        assert_eq!(t.tokens[3].text, r"bytes:\xzz");
        // Chat names such a piece by its bytes too, and `bytes` is authoritative.
        let body = br#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"token":"bytes:\\xe4","logprob":-0.5,"bytes":[228]}]}]}}]}"#;
        let t = parse_response(body, false, 1).unwrap();
        assert_eq!(t.tokens[0].exact_bytes(), Some(&[228][..]));
    }

    #[test]
    fn error_objects_with_status_200_report_the_server_s_message() {
        for (body, message) in [
            (
                r#"{"error":{"message":"model not loaded","type":"invalid_request_error","code":null}}"#,
                "model not loaded; type invalid_request_error",
            ),
            (r#"{"error":"upstream timed out"}"#, "upstream timed out"),
            (
                r#"{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}"#,
                "max_tokens is too large; type BadRequestError; code 400",
            ),
        ] {
            for err in [
                parse_response(body.as_bytes(), false, 1).unwrap_err(),
                parse_completion(body.as_bytes(), Api::Completions).unwrap_err(),
                parse_completions(body.as_bytes(), Api::Chat, 2).unwrap_err(),
            ] {
                assert_eq!(err, WireError::Server(message.into()), "{body}");
            }
        }
        // A response that carries `"error": null` is a response.
        let body = br#"{"error":null,"choices":[{"text":"x"}]}"#;
        assert_eq!(parse_completion(body, Api::Completions).unwrap().text, "x");
        // A long message is cut.
        let long = format!(r#"{{"error":{{"message":"{}"}}}}"#, "m".repeat(5000));
        let WireError::Server(m) = parse_response(long.as_bytes(), false, 1).unwrap_err() else {
            panic!()
        };
        assert_eq!(m.len(), MESSAGE_CHARS);
    }

    #[test]
    fn more_choices_than_asked_are_refused_for_logprobs_too() {
        let body = br#"{"choices":[{"logprobs":{"top_logprobs":[{"a":-0.1}]}},{"logprobs":{"top_logprobs":[{"b":-0.1}]}}]}"#;
        assert_eq!(
            parse_response(body, false, 1).unwrap_err(),
            WireError::ChoiceCount { asked: 1, got: 2 }
        );
    }

    fn logprob_request(
        prompt_ids: Vec<u32>,
        continuation_ids: Vec<u32>,
        api: Api,
    ) -> LogprobRequest {
        LogprobRequest {
            api,
            model: "m".into(),
            prompt: "Q".into(),
            prompt_ids,
            continuation_ids,
            continuation_text: String::new(),
            top_k: 20,
            lora: Vec::new(),
        }
    }

    #[test]
    fn vllm_is_asked_for_token_ids_and_token_array_prompts_are_pure() {
        let req = logprob_request(vec![1, 2], vec![7], Api::Completions);
        let body = request_body(Provider::Vllm, &req);
        assert_eq!(body["prompt"], json!([1, 2, 7]));
        assert_eq!(body["return_tokens_as_token_ids"], json!(true));
        assert!(body.get("cache_prompt").is_none());
        assert_eq!(unsendable(Provider::Vllm, &req), None);
        // OpenAI's legacy completions take the same token array, without the vLLM flag.
        let body = request_body(Provider::Openai, &req);
        assert_eq!(body["prompt"], json!([1, 2, 7]));
        assert!(body.get("return_tokens_as_token_ids").is_none());
        // llama.cpp keeps its mixed form when there are no prompt ids.
        let mixed = logprob_request(Vec::new(), vec![7], Api::Completions);
        assert_eq!(
            request_body(Provider::LlamaCpp, &mixed)["prompt"],
            json!(["Q", 7])
        );
        // Chat is text: no flag, no ids.
        let chat = logprob_request(Vec::new(), Vec::new(), Api::Chat);
        assert!(
            request_body(Provider::Vllm, &chat)
                .get("return_tokens_as_token_ids")
                .is_none()
        );
    }

    #[test]
    fn requests_a_provider_cannot_take_are_refused_before_sending() {
        let mixed = logprob_request(Vec::new(), vec![7], Api::Completions);
        assert_eq!(unsendable(Provider::LlamaCpp, &mixed), None);
        for provider in [Provider::Vllm, Provider::Openai] {
            let why = unsendable(provider, &mixed).unwrap();
            assert!(why.contains("prompt_ids"), "{why}");
        }
        let chat = logprob_request(vec![1], Vec::new(), Api::Chat);
        assert!(unsendable(Provider::Vllm, &chat).unwrap().contains("chat"));
        let text_after_ids = LogprobRequest {
            continuation_text: " 9".into(),
            ..logprob_request(vec![1], Vec::new(), Api::Completions)
        };
        assert!(
            unsendable(Provider::Vllm, &text_after_ids)
                .unwrap()
                .contains("continued by text")
        );
    }
}
