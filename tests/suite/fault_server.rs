//! A fault-injecting HTTP responder and proxy for the client tests: it answers each request
//! with the next fault of a script (then with the default), and logs what it saw.
//!
//! Valid answers come either from the real response bodies in `tests/fixtures/wire/` (so the
//! fault tests run offline) or from a real upstream server (the `#[ignore]`d tests proxy to
//! the local llama.cpp servers). Hand-rolled HTTP/1.1 on std threads: every answer closes its
//! connection, which keeps the parsing small and makes every request a new connection, so a
//! fault never leaks into the next request through a pooled connection.

use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the responder does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The valid answer.
    Pass,
    /// Read the request, then reset the connection (RST) without answering.
    Reset,
    /// Answer with this status; `retry_after` is sent as the `Retry-After` header. The body
    /// echoes the request's `Authorization` header (as careless servers do) so that tests can
    /// check it never reaches an error message.
    Status {
        /// The HTTP status.
        code: u16,
        /// The `Retry-After` header's value.
        retry_after: Option<String>,
    },
    /// Wait this long before answering validly (longer than the client's timeout).
    Slow(Duration),
    /// Send the first half of the valid body without a Content-Length, then close: the body
    /// looks complete to HTTP but ends mid-JSON.
    CutBody,
    /// Announce the valid body's full Content-Length, send half of it, then close.
    CutBodyWithLength,
    /// Answer 200 with this body (valid JSON of the wrong shape, or anything else).
    Body(String),
    /// Answer 200 with a wrong-shape body that carries the `Authorization` header where a
    /// number belongs, so that the parser's error message quotes it.
    EchoKeyInShape,
    /// The valid answer with the `Authorization` header as its `model`, so that a client that
    /// records it writes the key to a file.
    EchoKeyInModel,
    /// The valid answer without its `logprobs`.
    NoLogprobs,
    /// The valid answer with only this many top logprobs.
    FewerTop(usize),
    /// Answer `307 Temporary Redirect` to this URL.
    Redirect(String),
    /// Answer 200 with an error object whose message echoes the `Authorization` header (as a
    /// careless proxy might), so that tests can check the key never reaches an error message.
    ErrorObjectEchoingKey,
}

/// One request the responder saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The JSON body.
    pub body: Value,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// What was done with it.
    pub fault: Fault,
    /// When it arrived.
    pub at: Instant,
}

/// Where valid answers come from.
#[derive(Clone)]
enum Backend {
    /// The real bodies of `tests/fixtures/wire/`.
    Fixtures {
        logprobs: Arc<Value>,
        sample: Arc<Value>,
        sample_n2: Arc<Value>,
    },
    /// A real server at this address (`host:port`).
    Upstream(String),
    /// One real response body of another server (`tests/fixtures/wire/`), served as it is to
    /// every request.
    Static(Arc<Value>),
    /// The real gemma body with its top tokens renamed the way vLLM names them when asked for
    /// `return_tokens_as_token_ids` (`{"token_id:<id>": logprob}`, the legacy map), its first
    /// `logprobs` candidates as a server would give. A synthetic conversion of a real body:
    /// no public vLLM body of that shape with top logprobs was found.
    VllmTokenIds(Arc<Value>),
}

struct State {
    script: Mutex<VecDeque<Fault>>,
    default: Mutex<Fault>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
    backend: Backend,
    /// Faults applied since the start (not reset by `clear_seen`).
    total_faults: AtomicUsize,
}

/// A running responder; stops accepting when dropped.
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<State>,
}

fn fixture(name: &str) -> Value {
    let path = crate::root().join("tests/fixtures/wire").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The real root response of `footnote1-bash` on gemma-3-270m (top 1000).
pub fn logprobs_fixture() -> Value {
    fixture("gemma-logprobs-bash-top1000.json")
}

/// A real sampled completion of gemma-3-270m.
pub fn sample_fixture() -> Value {
    fixture("gemma-sample-qa-seed1.json")
}

/// A real response of gemma-3-270m (two slots) to a request for n = 2 samples.
pub fn sample_n2_fixture() -> Value {
    fixture("gemma-sample-qa-seed1-n2.json")
}

impl FaultServer {
    /// A responder serving the wire fixtures, on a free loopback port.
    pub fn fixtures() -> FaultServer {
        Self::start(
            "127.0.0.1:0",
            Backend::Fixtures {
                logprobs: Arc::new(logprobs_fixture()),
                sample: Arc::new(sample_fixture()),
                sample_n2: Arc::new(sample_n2_fixture()),
            },
        )
    }

    /// A responder that answers every request with the real body `tests/fixtures/wire/<name>`.
    pub fn serving(name: &str) -> FaultServer {
        Self::start("127.0.0.1:0", Backend::Static(Arc::new(fixture(name))))
    }

    /// A responder that answers logprob requests as vLLM with `return_tokens_as_token_ids`
    /// would, from the real gemma body (see [`Backend::VllmTokenIds`]).
    pub fn vllm_token_ids() -> FaultServer {
        Self::start(
            "127.0.0.1:0",
            Backend::VllmTokenIds(Arc::new(logprobs_fixture())),
        )
    }

    /// A proxy to a real server at `upstream` (`host:port`), on a free loopback port.
    pub fn proxy(upstream: &str) -> FaultServer {
        Self::start("127.0.0.1:0", Backend::Upstream(upstream.to_string()))
    }

    /// A responder serving the wire fixtures on a given address (to come up where a client
    /// was refused before).
    pub fn fixtures_at(addr: SocketAddr) -> FaultServer {
        Self::start(
            &addr.to_string(),
            Backend::Fixtures {
                logprobs: Arc::new(logprobs_fixture()),
                sample: Arc::new(sample_fixture()),
                sample_n2: Arc::new(sample_n2_fixture()),
            },
        )
    }

    fn start(bind: &str, backend: Backend) -> FaultServer {
        let listener = TcpListener::bind(bind).expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            script: Mutex::new(VecDeque::new()),
            default: Mutex::new(Fault::Pass),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            backend,
            total_faults: AtomicUsize::new(0),
        });
        let accept_state = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&accept_state);
                std::thread::spawn(move || {
                    // A client that gave up (timeout) makes writes fail; that is expected.
                    let _ = handle(stream, &state);
                });
            }
        });
        FaultServer { addr, state }
    }

    /// `http://127.0.0.1:<port>/v1`, for a model set's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next requests get these faults, in order; later ones get the default.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        let mut s = self.state.script.lock().unwrap();
        s.clear();
        s.extend(faults);
    }

    /// What requests get once the script is used up (initially [`Fault::Pass`]).
    pub fn set_default(&self, fault: Fault) {
        *self.state.default.lock().unwrap() = fault;
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests seen so far.
    pub fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        self.state.seen.lock().unwrap().clear();
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // A tally for the closing note of issue 6 (seen with `--nocapture`).
        let injected = self.state.total_faults.load(Ordering::SeqCst);
        if injected > 0 {
            eprintln!("fault server: {injected} faults injected");
        }
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and releases the port.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// A request as read off the socket.
struct Incoming {
    path: String,
    authorization: Option<String>,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Incoming> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "authorization" => authorization = Some(value),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Incoming {
        path,
        authorization,
        body,
    })
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(
    mut stream: &TcpStream,
    code: u16,
    extra_headers: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra_headers}\r\n",
        reason(code),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// The valid answer to a request: from the fixtures (the first `logprobs` candidates, as the
/// server would give), or from the upstream server.
fn valid_answer(state: &State, req: &Incoming, body: &Value) -> std::io::Result<(u16, Vec<u8>)> {
    match &state.backend {
        Backend::Fixtures {
            logprobs,
            sample,
            sample_n2,
        } => {
            let answer = match body.get("logprobs").and_then(Value::as_u64) {
                Some(k) => {
                    let mut v = (**logprobs).clone();
                    let top = v["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                        .as_array_mut()
                        .expect("the fixture has top logprobs");
                    top.truncate(k as usize);
                    v
                }
                // A request for two samples gets the real two-choice body; like llama.cpp
                // with two slots, the responder takes no more.
                None if body.get("n").and_then(Value::as_u64) == Some(2) => (**sample_n2).clone(),
                None => (**sample).clone(),
            };
            Ok((200, serde_json::to_vec(&answer).unwrap()))
        }
        Backend::Upstream(addr) => forward(addr, &req.path, &req.body),
        Backend::Static(answer) => Ok((200, serde_json::to_vec(&**answer).unwrap())),
        Backend::VllmTokenIds(gemma) => {
            let k = body.get("logprobs").and_then(Value::as_u64).unwrap_or(1) as usize;
            let candidates = gemma["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                .as_array()
                .expect("the fixture has top logprobs");
            let top: serde_json::Map<String, Value> = candidates
                .iter()
                .take(k)
                .map(|c| (format!("token_id:{}", c["id"]), c["logprob"].clone()))
                .collect();
            let first = &candidates[0];
            let answer = serde_json::json!({
                "object": "text_completion",
                "model": gemma["model"],
                "choices": [{
                    "index": 0,
                    "text": first["token"],
                    "logprobs": {
                        "text_offset": [0],
                        "token_logprobs": [first["logprob"]],
                        "tokens": [format!("token_id:{}", first["id"])],
                        "top_logprobs": [top],
                    },
                    "finish_reason": "length",
                }],
            });
            Ok((200, serde_json::to_vec(&answer).unwrap()))
        }
    }
}

/// Sends the request to the upstream server and returns its status and body.
fn forward(addr: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let mut up = TcpStream::connect(addr)?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    up.write_all(head.as_bytes())?;
    up.write_all(body)?;
    let mut reader = BufReader::new(up);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(502);
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            out.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        out.resize(n, 0);
        reader.read_exact(&mut out)?;
    } else {
        reader.read_to_end(&mut out)?;
    }
    Ok((code, out))
}

fn handle(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let req = read_request(&stream)?;
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let fault = {
        let mut script = state.script.lock().unwrap();
        script
            .pop_front()
            .unwrap_or_else(|| state.default.lock().unwrap().clone())
    };
    if fault != Fault::Pass {
        state.total_faults.fetch_add(1, Ordering::SeqCst);
    }
    state.seen.lock().unwrap().push(Seen {
        body: body.clone(),
        authorization: req.authorization.clone(),
        fault: fault.clone(),
        at: Instant::now(),
    });
    let echo = req.authorization.clone().unwrap_or_default();
    match fault {
        Fault::Pass => {
            let (code, answer) = valid_answer(state, &req, &body)?;
            respond(&stream, code, "", &answer)
        }
        Fault::Reset => {
            // Linger 0: close() sends RST instead of FIN, as a crashed peer or a middlebox does.
            socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
            drop(stream);
            Ok(())
        }
        Fault::Status { code, retry_after } => {
            let headers = retry_after
                .map(|v| format!("Retry-After: {v}\r\n"))
                .unwrap_or_default();
            // Padding puts the echoed key across the client's 300-character excerpt cut (its
            // first 15 characters before it, given a three-digit status).
            let body = format!(
                "{{\"error\":{{\"code\":{code},\"pad\":\"{}\",\"message\":\"rejected \
                 Authorization: {echo} for {}\"}}}}",
                "x".repeat(213),
                req.path
            );
            respond(&stream, code, &headers, body.as_bytes())
        }
        Fault::Slow(wait) => {
            std::thread::sleep(wait);
            let (code, answer) = valid_answer(state, &req, &body)?;
            respond(&stream, code, "", &answer)
        }
        Fault::CutBody => {
            let (_, answer) = valid_answer(state, &req, &body)?;
            let mut s = &stream;
            s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            )?;
            s.write_all(&answer[..answer.len() / 2])?;
            s.flush()
        }
        Fault::CutBodyWithLength => {
            let (_, answer) = valid_answer(state, &req, &body)?;
            let mut s = &stream;
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    answer.len()
                )
                .as_bytes(),
            )?;
            s.write_all(&answer[..answer.len() / 2])?;
            s.flush()
        }
        Fault::Body(text) => respond(&stream, 200, "", text.as_bytes()),
        Fault::EchoKeyInShape => {
            let body = serde_json::json!({"choices": [{"logprobs": {"content": [{"top_logprobs": [
                {"id": echo, "token": " ", "logprob": -0.5}
            ]}]}}]});
            respond(&stream, 200, "", body.to_string().as_bytes())
        }
        Fault::EchoKeyInModel => {
            let (_, answer) = valid_answer(state, &req, &body)?;
            let mut v: Value = serde_json::from_slice(&answer).unwrap();
            v["model"] = Value::String(echo);
            respond(&stream, 200, "", v.to_string().as_bytes())
        }
        Fault::NoLogprobs => {
            let (_, answer) = valid_answer(state, &req, &body)?;
            let mut v: Value = serde_json::from_slice(&answer).unwrap();
            v["choices"][0]
                .as_object_mut()
                .map(|c| c.remove("logprobs"));
            respond(&stream, 200, "", v.to_string().as_bytes())
        }
        Fault::FewerTop(n) => {
            let (_, answer) = valid_answer(state, &req, &body)?;
            let mut v: Value = serde_json::from_slice(&answer).unwrap();
            if let Some(top) =
                v["choices"][0]["logprobs"]["content"][0]["top_logprobs"].as_array_mut()
            {
                top.truncate(n);
            }
            respond(&stream, 200, "", v.to_string().as_bytes())
        }
        Fault::ErrorObjectEchoingKey => {
            let body = serde_json::json!({"error": {
                "message": format!("Incorrect API key provided: {echo}"),
                "type": "invalid_request_error",
            }});
            respond(&stream, 200, "", body.to_string().as_bytes())
        }
        Fault::Redirect(to) => {
            let headers = format!("Location: {to}\r\n");
            respond(&stream, 307, &headers, b"{\"moved\":true}")
        }
    }
}
