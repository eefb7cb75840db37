//! Sending canonical requests over HTTP with timeouts, retries and key hygiene.
//!
//! Key hygiene: the key is read from the environment variable the model set names, sent only in
//! the `Authorization` header, only over HTTPS or to a loopback address, and never appears in an
//! error: errors carry the URL (which holds no key) and the start of the response body.

use super::retry::{RetryPolicy, retry_after_secs, transient_status};
use super::wire::{
    error_in_body, parse_completions, parse_response, provider_name, request_body, sample_body,
    unsendable,
};
use crate::error::{ClientError, WireError};
use crate::request::{Completion, LogprobRequest, Request, Response, SampleRequest, TopLogprobs};
use crate::spec::{Api, ModelEntry};
use std::time::Duration;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

/// An HTTP client for OpenAI-compatible servers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    options: ClientOptions,
}

/// Whether a URL's host is a loopback address, where a key may travel without TLS.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A number in [0, 1) for jitter; the clock's nanoseconds are random enough to de-synchronise
/// retries and keep replays (which never retry) deterministic.
fn jitter_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

impl Client {
    /// Builds a client. Redirects are not followed: a redirect to another host would carry the
    /// key there, and OpenAI-compatible APIs do not redirect.
    pub fn new(options: ClientOptions) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Transport {
                url: String::new(),
                attempts: 0,
                message: e.to_string(),
            })?;
        Ok(Client { http, options })
    }

    /// Sends any request and returns the response of its kind. A sample of a batch gets the
    /// choice it stands for; [`Client::complete_batch`] gets every choice with one request.
    pub async fn send(&self, model: &ModelEntry, req: &Request) -> Result<Response, ClientError> {
        match req {
            Request::Logprobs(r) => self.top_logprobs(model, r).await.map(Response::Logprobs),
            Request::Sample(r) => {
                let index = r.batch.map_or(0, |b| b.index) as usize;
                let mut choices = self.complete_batch(model, r).await?;
                Ok(Response::Sample(choices.swap_remove(index)))
            }
        }
    }

    /// Asks a model for the top next-token log-probabilities of a request.
    pub async fn top_logprobs(
        &self,
        model: &ModelEntry,
        req: &LogprobRequest,
    ) -> Result<TopLogprobs, ClientError> {
        if let Some(message) = unsendable(model.provider, req) {
            return Err(ClientError::Unsendable {
                provider: provider_name(model.provider),
                message,
            });
        }
        let body = request_body(model.provider, req);
        // llama.cpp and vLLM (asked with `return_tokens_as_token_ids`) name top tokens by id,
        // which extending a prefix by ids needs. OpenAI's legacy completions name them by text
        // (or `bytes:` for a piece of a character) only: there the exact bytes identify a
        // token, and the model's vocabulary gives its id.
        let want_ids = model.provider.takes_token_ids() && req.api == Api::Completions;
        self.post(model, req.api, &body, |bytes| {
            parse_response(bytes, want_ids, req.top_k)
        })
        .await
    }

    /// Asks a model for the completions of a sample's request: one request with `"n"` = the
    /// batch's size (1 for a sample alone), every choice in `index` order. Another number of
    /// choices than asked is a [`ClientError::ChoiceCount`].
    pub async fn complete_batch(
        &self,
        model: &ModelEntry,
        req: &SampleRequest,
    ) -> Result<Vec<Completion>, ClientError> {
        let body = sample_body(model.provider, req);
        self.post(model, req.api, &body, |bytes| {
            parse_completions(bytes, req.api, req.n())
        })
        .await
    }

    /// POSTs a body with the key, retrying transient failures, and parses a 200 response.
    async fn post<T>(
        &self,
        model: &ModelEntry,
        api: Api,
        body: &serde_json::Value,
        parse: impl Fn(&[u8]) -> Result<T, WireError>,
    ) -> Result<T, ClientError> {
        let path = match api {
            Api::Completions => "completions",
            Api::Chat => "chat/completions",
        };
        let url_text = format!(
            "{}/{path}",
            model.effective_base_url().trim_end_matches('/')
        );
        let url = reqwest::Url::parse(&url_text).map_err(|e| ClientError::Transport {
            url: url_text.clone(),
            attempts: 0,
            message: format!("invalid URL: {e}"),
        })?;
        let key = match &model.api_key_env {
            None => None,
            Some(var) => {
                let key = std::env::var(var)
                    .ok()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| ClientError::MissingKey(var.clone()))?;
                if url.scheme() != "https" && !is_loopback(&url) {
                    return Err(ClientError::InsecureKeyTransport(url_text));
                }
                Some(key)
            }
        };
        let policy = &self.options.retry;
        let transport = |attempts, e: &reqwest::Error| ClientError::Transport {
            url: url_text.clone(),
            attempts,
            message: redact(&describe(e), key.as_deref()),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self.http.post(url.clone()).json(body);
            if let Some(k) = &key {
                builder = builder.bearer_auth(k);
            }
            let last = attempt >= policy.attempts;
            let (retry_after, failure) = match builder.send().await {
                Err(e) => (None, transport(attempt, &e)),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after_secs(v, std::time::SystemTime::now()));
                    match resp.bytes().await {
                        Err(e) => (None, transport(attempt, &e)),
                        // A body that ends inside its JSON was cut off on the way (a server or
                        // proxy that closed early without a Content-Length): worth retrying,
                        // unlike a complete body of the wrong shape.
                        Ok(bytes) if status == 200 && ends_mid_json(&bytes) => (
                            None,
                            ClientError::Shape {
                                url: url_text.clone(),
                                message: format!(
                                    "the response body ended mid-JSON after {} bytes ({attempt} \
                                     attempt(s))",
                                    bytes.len()
                                ),
                            },
                        ),
                        // A server that echoes the key in a response (a proxy's debug field,
                        // a model name) would have it recorded; such a response is refused.
                        Ok(bytes)
                            if status == 200
                                && key.as_deref().is_some_and(|k| contains(&bytes, k)) =>
                        {
                            // An error object that quotes the key still says what went wrong.
                            return Err(match error_in_body(&bytes) {
                                Some(message) => ClientError::Server {
                                    url: url_text.clone(),
                                    message: redact(&message, key.as_deref()),
                                },
                                None => ClientError::Shape {
                                    url: url_text.clone(),
                                    message: "the response contains the API key; it is not \
                                              recorded"
                                        .into(),
                                },
                            });
                        }
                        Ok(bytes) if status == 200 => {
                            return parse(&bytes).map_err(|e| {
                                client_error(e, &url_text, model.max_top_logprobs, key.as_deref())
                            });
                        }
                        Ok(bytes) => {
                            let err = ClientError::Status {
                                url: url_text.clone(),
                                status,
                                attempts: attempt,
                                body: body_excerpt(&bytes, key.as_deref()),
                            };
                            if !transient_status(status) {
                                return Err(err);
                            }
                            (retry_after, err)
                        }
                    }
                }
            };
            if last {
                return Err(failure);
            }
            tokio::time::sleep(policy.delay(attempt, retry_after, jitter_unit())).await;
        }
    }
}

/// The client error of a 200 response that could not be used.
fn client_error(e: WireError, url: &str, max_top_logprobs: u32, key: Option<&str>) -> ClientError {
    let url = url.to_string();
    match e {
        WireError::Shape(message) => ClientError::Shape {
            url,
            message: redact(&message, key),
        },
        WireError::ChoiceCount { asked, got } => ClientError::ChoiceCount { url, asked, got },
        WireError::TopCount {
            asked,
            got,
            by_text,
        } => ClientError::TopCount {
            url,
            asked,
            got,
            max_top_logprobs,
            by_text,
        },
        WireError::Server(message) => ClientError::Server {
            url,
            message: redact(&message, key),
        },
    }
}

/// A transport error without the URL repeated (the caller adds it) and without any header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body failed"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Whether a body is the start of a JSON value that was cut off.
fn ends_mid_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err_and(|e| e.is_eof())
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// Masks the key should a server (or a parser quoting the body) echo it back.
fn redact(text: &str, key: Option<&str>) -> String {
    match key {
        Some(k) if !k.is_empty() => text.replace(k, "[redacted]"),
        _ => text.to_string(),
    }
}

/// The start of an error body, with the key masked should a server echo it back. Masked before
/// it is cut, so that a key straddling the cut cannot leave its first characters behind.
fn body_excerpt(bytes: &[u8], key: Option<&str>) -> String {
    let text = redact(&String::from_utf8_lossy(bytes), key);
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(is_loopback(&u("http://127.0.0.1:8091/v1")));
        assert!(is_loopback(&u("http://localhost/v1")));
        assert!(is_loopback(&u("http://[::1]:80/v1")));
        assert!(!is_loopback(&u("http://example.com/v1")));
        assert!(!is_loopback(&u("http://10.0.0.1/v1")));
        // Look-alikes of a loopback host are remote.
        assert!(!is_loopback(&u("http://127.0.0.1@example.com/v1")));
        assert!(!is_loopback(&u("http://localhost.example.com/v1")));
        assert!(!is_loopback(&u("http://127.0.0.1.nip.io/v1")));
        assert!(!is_loopback(&u("http://[::ffff:127.0.0.1]/v1")));
    }

    #[test]
    fn excerpts_mask_an_echoed_key() {
        assert_eq!(
            body_excerpt(b"bad key sk-secret", Some("sk-secret")),
            "bad key [redacted]"
        );
        // Regression: the excerpt was cut before masking, so a key straddling character 300
        // left its first characters in the error message.
        let body = format!("{}sk-secret-key", "x".repeat(295));
        let excerpt = body_excerpt(body.as_bytes(), Some("sk-secret-key"));
        assert!(!excerpt.contains("sk-se"), "{excerpt}");
    }

    #[test]
    fn cut_bodies_are_told_from_wrong_shapes() {
        assert!(ends_mid_json(b"{\"choices\":[{\"text\":\" 4"));
        assert!(ends_mid_json(b""));
        assert!(!ends_mid_json(b"{\"error\":\"x\"}"));
        assert!(!ends_mid_json(b"<html>"));
    }
}
