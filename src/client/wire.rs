//! Wire JSON of `/v1/completions` and `/v1/chat/completions`: request bodies and the response
//! shapes servers actually send.
//!
//! Two logprob shapes exist for completions: llama.cpp (and OpenAI chat) send
//! `logprobs.content[i].top_logprobs[] = {id?, token, bytes?, logprob}`; OpenAI's legacy
//! completions (and vLLM) send `logprobs.top_logprobs[i] = {token: logprob}`, without ids.

use crate::request::{Completion, LogprobRequest, SampleRequest, TopLogprobs, TopToken};
use crate::spec::{Api, Provider};
use serde::Deserialize;
use serde_json::{Value, json};

/// The request body for a canonical request.
pub(crate) fn request_body(provider: Provider, req: &LogprobRequest) -> Value {
    let mut body = match req.api {
        Api::Completions => {
            let prompt = if req.continuation_ids.is_empty() {
                Value::from(format!("{}{}", req.prompt, req.continuation_text))
            } else {
                // llama.cpp and vLLM read `[text, id, id, …]` as the text's tokens followed by
                // these ids, so the prefix is extended exactly, not re-tokenised.
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
    }
    body
}

#[derive(Deserialize)]
struct ChatMessage {
    content: Option<String>,
}

/// Why a response body could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum WireError {
    /// The body is not the response shape; the message says what is missing.
    Shape(String),
    /// The server answered with another number of choices than the request's `n`.
    ChoiceCount {
        /// Choices asked for.
        asked: u32,
        /// Choices returned.
        got: usize,
    },
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

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Shape(m) => f.write_str(m),
            WireError::ChoiceCount { asked, got } => {
                write!(
                    f,
                    "{got} choices in the response where n = {asked} were asked"
                )
            }
        }
    }
}

/// Parses a sampled completion (`choices[0].text`, or `choices[0].message.content` for chat).
pub fn parse_completion(body: &[u8], api: Api) -> Result<Completion, String> {
    let (resp, choice) = first_choice(body)?;
    completion_of(&resp, choice, 0, api)
}

/// Parses the `n` sampled completions of a request that asked for `n` choices, in the order
/// of their `index` (position where a server sends none). A server that returns another number
/// of choices, or indices that are not `0..n` once each, is refused: recording its choices
/// under the request's keys would record samples it was not asked for.
pub fn parse_completions(body: &[u8], api: Api, n: u32) -> Result<Vec<Completion>, WireError> {
    let mut resp: Response =
        serde_json::from_slice(body).map_err(|e| format!("unexpected JSON: {e}"))?;
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

/// The response and its first choice (the only one: requests ask for `n: 1`).
fn first_choice(body: &[u8]) -> Result<(Response, Choice), String> {
    let mut resp: Response =
        serde_json::from_slice(body).map_err(|e| format!("unexpected JSON: {e}"))?;
    if resp.choices.is_empty() {
        return Err("no choices in the response".into());
    }
    let choice = resp.choices.swap_remove(0);
    Ok((resp, choice))
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
    bytes: Option<Vec<u8>>,
    logprob: f64,
}

/// Parses a response body into top log-probabilities; the error says what is missing.
///
/// `top_k` is the number asked for: a list shape (`logprobs.content`) with fewer is rejected,
/// since a server that silently caps the list would be recorded under a request it did not
/// answer. The legacy map shape may legitimately hold fewer (two tokens with the same text
/// share one key), so it is not checked.
pub fn parse_response(body: &[u8], want_ids: bool, top_k: u32) -> Result<TopLogprobs, String> {
    let (resp, choice) = first_choice(body)?;
    let logprobs = choice.logprobs.ok_or("no logprobs in the response")?;
    let tokens = if let Some(content) = logprobs.content {
        let first = content
            .into_iter()
            .next()
            .ok_or("logprobs.content is empty")?;
        let tokens = first
            .top_logprobs
            .into_iter()
            .map(|c| {
                // `bytes` is authoritative where given: a token can be part of a UTF-8
                // character, which `token` cannot show.
                let text = match c.bytes {
                    Some(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
                    _ => c.token,
                };
                TopToken {
                    id: c.id,
                    text,
                    logprob: c.logprob,
                }
            })
            .collect::<Vec<_>>();
        if !tokens.is_empty() && tokens.len() < top_k as usize {
            return Err(format!(
                "{} top logprobs in the response where {top_k} were asked; if the server caps \
                 them, set the model's `max_top_logprobs` to its cap",
                tokens.len()
            ));
        }
        tokens
    } else if let Some(top) = logprobs.top_logprobs {
        let first = top
            .into_iter()
            .next()
            .flatten()
            .ok_or("logprobs.top_logprobs is empty")?;
        let mut tokens = first
            .into_iter()
            .map(|(text, lp)| {
                lp.as_f64()
                    .map(|logprob| TopToken {
                        id: None,
                        text,
                        logprob,
                    })
                    .ok_or_else(|| format!("logprob of a top token is not a number: {lp}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        tokens.sort_by(|a, b| {
            b.logprob
                .total_cmp(&a.logprob)
                .then_with(|| a.text.cmp(&b.text))
        });
        tokens
    } else {
        return Err("logprobs has neither `content` nor `top_logprobs`".into());
    };
    if tokens.is_empty() {
        return Err("no top logprobs in the response".into());
    }
    // Servers compute log-probabilities in single precision and print them with 15–17 digits;
    // keeping the single-precision value loses nothing, halves the recordings, and makes live
    // and replayed figures bit-identical.
    let mut tokens = tokens;
    for t in &mut tokens {
        t.logprob = f64::from(t.logprob as f32);
    }
    if let Some(bad) = tokens
        .iter()
        .find(|t| t.logprob.is_nan() || t.logprob > 1e-6)
    {
        return Err(format!(
            "invalid logprob {} for token {:?}",
            bad.logprob, bad.text
        ));
    }
    if want_ids && tokens.iter().any(|t| t.id.is_none()) {
        return Err("top logprobs carry no token ids, which extending prefixes by id needs".into());
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

    #[test]
    fn parses_llama_cpp_content_shape() {
        let body = br#"{"model":"gemma","choices":[{"text":" ","logprobs":{"content":[{"id":236743,"token":" ","bytes":[32],"logprob":-0.5,
            "top_logprobs":[{"id":236743,"token":" ","bytes":[32],"logprob":-0.5},{"id":1,"token":"","bytes":[],"logprob":-2.0}]}]}}]}"#;
        let t = parse_response(body, true, 2).unwrap();
        assert_eq!(t.tokens.len(), 2);
        assert_eq!(
            t.tokens[0],
            TopToken {
                id: Some(236743),
                text: " ".into(),
                logprob: -0.5
            }
        );
        assert_eq!(t.tokens[1].text, "");
        assert_eq!(t.model_id.as_deref(), Some("gemma"));
    }

    #[test]
    fn parses_openai_legacy_shape() {
        let body = br#"{"model":"text-davinci-003","choices":[{"logprobs":{"tokens":[" 97"],"top_logprobs":[{" 97":-0.1," 42":-3.0}]}}]}"#;
        let t = parse_response(body, false, 5).unwrap();
        assert_eq!(t.tokens[0].text, " 97");
        assert!(
            parse_response(body, true, 2)
                .unwrap_err()
                .contains("no token ids")
        );
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert!(
            parse_response(b"{\"choices\":[]}", false, 1)
                .unwrap_err()
                .contains("no choices")
        );
        assert!(
            parse_response(b"{\"choices\":[{}]}", false, 1)
                .unwrap_err()
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
                .contains("unexpected JSON")
        );
        let positive = br#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"token":"a","logprob":0.5}]}]}}]}"#;
        assert!(
            parse_response(positive, false, 1)
                .unwrap_err()
                .contains("invalid logprob")
        );
        let two = br#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-1.5}]}]}}]}"#;
        assert!(
            parse_response(two, false, 3)
                .unwrap_err()
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
            continuation_ids: vec![5, 6],
            continuation_text: String::new(),
            top_k: 20,
        };
        let body = request_body(Provider::LlamaCpp, &req);
        assert_eq!(body["prompt"], json!(["Q", 5, 6]));
        assert_eq!(body["cache_prompt"], json!(false));
        assert!(
            request_body(Provider::Openai, &req)
                .get("cache_prompt")
                .is_none()
        );
    }
}
