//! Faults on the wire: the fault responder (`fault_server.rs`) between the client and real
//! response bodies. Transient faults are retried and the run succeeds; permanent ones end with
//! an error naming the spec, model set, model, prompt and request; and after every run the
//! recordings hold exactly the valid responses, never a partial or wrong one.
//!
//! Offline (the responder serves `tests/fixtures/wire/`), except the `#[ignore]`d test at the
//! end, which puts the responder as a proxy in front of the real local gemma server.

use crate::fault_server::{Fault, FaultServer, logprobs_fixture, sample_fixture};
use modecollapse::client::{ClientOptions, RetryPolicy};
use modecollapse::project::{Project, RunOptions};
use modecollapse::request::{LogprobRequest, Request, SampleRequest};
use modecollapse::run::RunResult;
use modecollapse::source::Mode;
use modecollapse::spec::Api;
use rstest::rstest;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The spec of the fault tests, measured on the responder.
pub const SPEC_ID: &str = "fault-probe";
/// Its model set.
pub const SET_ID: &str = "faulty";
/// Its one model (named like the real model whose responses the fixtures are).
pub const MODEL: &str = "gemma-3-270m";

/// The prompt texts of the probe spec: distinct, so that each is its own request.
pub fn prompt_text(i: usize) -> String {
    format!(
        "$echo \"Hello!\"\n$echo \"random number: $(shuf -i 1-100 -n 1)\"\n# probe {i}\nrandom number:"
    )
}

/// A temporary project holding one spec (`method` is its YAML method block, one line per
/// field) with `prompts` prompts and a model set with one model at `base_url`.
/// `model_extra` is added to the model's YAML (e.g. `api_key_env: …`).
pub fn probe_project(
    base_url: &str,
    method: &str,
    prompts: usize,
    model_extra: &str,
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("specs")).unwrap();
    std::fs::create_dir_all(root.join("models")).unwrap();
    let mut spec = format!(
        "version: 1\nid: {SPEC_ID}\nclaim: A probe for the fault tests; its figures are not a claim.\n\
         source: tests/suite/faults.rs\nstatus: tracked\nroles: [base]\nprompts:\n"
    );
    for i in 1..=prompts {
        let text = serde_json::to_string(&prompt_text(i)).unwrap();
        spec.push_str(&format!("  - name: p{i}\n    text: {text}\n"));
    }
    spec.push_str("outcomes:\n  kind: integers\n  first: \" 0\"\n  last: \" 100\"\nmethod:\n");
    for line in method.lines() {
        spec.push_str(&format!("  {}\n", line.trim()));
    }
    spec.push_str("expect:\n  - that: coverage(base) >= 0\n");
    std::fs::write(root.join(format!("specs/{SPEC_ID}.yaml")), spec).unwrap();
    let mut models = format!(
        "version: 1\nid: {SET_ID}\ndescription: the fault responder of the tests\nmodels:\n  \
         - name: {MODEL}\n    role: base\n    provider: llama_cpp\n    base_url: {base_url}\n    \
         model: {MODEL}\n    api: completions\n    status: live\n    max_top_logprobs: 1000\n    \
         vocab_size: 262144\n    concurrency: 1\n"
    );
    for line in model_extra.lines() {
        models.push_str(&format!("    {}\n", line.trim()));
    }
    std::fs::write(root.join(format!("models/{SET_ID}.yaml")), models).unwrap();
    dir
}

/// `next_token` with top 20: one request per prompt.
pub const NEXT_TOKEN: &str = "kind: next_token\ntop_k: 20";

/// Client settings for tests: short backoff, a generous timeout unless a test needs a short one.
pub fn client_options(timeout: Duration, attempts: u32) -> ClientOptions {
    ClientOptions {
        timeout,
        retry: RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(5),
        },
    }
}

/// Runs every spec of a project on every model set through the library.
pub fn run_project(
    root: &Path,
    mode: Mode,
    client: ClientOptions,
) -> Result<RunResult, modecollapse::Error> {
    let project = Project::new(root);
    let catalog = project.load(&[], &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut options = RunOptions::new(mode);
    options.client = client;
    project.run(&catalog, options)
}

/// The recording file of the probe model.
pub fn recording_path(root: &Path) -> PathBuf {
    root.join(format!("recordings/{SET_ID}/{MODEL}.jsonl"))
}

/// The logprob request of prompt `i` of the probe spec.
pub fn logprob_request(i: usize, top_k: u32) -> Request {
    Request::Logprobs(LogprobRequest {
        api: Api::Completions,
        model: MODEL.into(),
        prompt: prompt_text(i),
        prompt_ids: Vec::new(),
        continuation_ids: Vec::new(),
        continuation_text: String::new(),
        top_k,
        lora: Vec::new(),
    })
}

/// The response lines of a recording file (none when it does not exist), after checking that
/// every line is JSON and the file starts with the format header.
pub fn response_lines(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().expect("a header")).unwrap();
    assert_eq!(
        header["format"],
        "modecollapse-recording",
        "{}",
        path.display()
    );
    lines
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))
        })
        .filter(|v| v.get("key").is_some())
        .collect()
}

/// Asserts that the recording holds exactly `expected` responses and that each is the valid
/// answer, unaltered: its top logprobs are the fixture's first `top_k` (id, text, logprob at
/// single precision), or its completion is the fixture's.
pub fn assert_recorded_exactly(root: &Path, expected: usize) {
    let path = recording_path(root);
    let lines = response_lines(&path);
    assert_eq!(lines.len(), expected, "responses in {}", path.display());
    let fixture = logprobs_fixture();
    let candidates = fixture["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        .as_array()
        .unwrap();
    let sample = sample_fixture();
    for line in &lines {
        if let Some(top) = line["top"].as_array() {
            let k = line["top_k"].as_u64().unwrap() as usize;
            assert_eq!(top.len(), k, "a full list of top logprobs: {line}");
            for (row, c) in top.iter().zip(candidates) {
                let bytes: Vec<u8> = c["bytes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_u64().unwrap() as u8)
                    .collect();
                let text = if bytes.is_empty() {
                    c["token"].as_str().unwrap().to_string()
                } else {
                    String::from_utf8_lossy(&bytes).into_owned()
                };
                assert_eq!(row[0], c["id"], "{line}");
                assert_eq!(row[1].as_str().unwrap(), text, "{line}");
                assert_eq!(
                    row[2].as_f64().unwrap() as f32,
                    c["logprob"].as_f64().unwrap() as f32,
                    "{line}"
                );
            }
        } else {
            assert_eq!(
                line["completion"]["text"], sample["choices"][0]["text"],
                "{line}"
            );
            assert_eq!(
                line["completion"]["finish"],
                sample["choices"][0]["finish_reason"]
            );
        }
    }
}

fn status(code: u16) -> Fault {
    Fault::Status {
        code,
        retry_after: None,
    }
}

#[rstest]
#[case::http_500(status(500))]
#[case::http_502(status(502))]
#[case::http_503(status(503))]
#[case::http_429_without_retry_after(status(429))]
#[case::connection_reset(Fault::Reset)]
#[case::body_cut_mid_json(Fault::CutBody)]
#[case::body_shorter_than_its_content_length(Fault::CutBodyWithLength)]
fn transient_fault_is_retried_and_the_run_succeeds(#[case] fault: Fault) {
    let server = FaultServer::fixtures();
    // Prompt 1 meets the fault twice, then gets through; prompt 2 gets through at once.
    server.script([fault.clone(), fault, Fault::Pass]);
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 2, "");
    let client = client_options(Duration::from_secs(60), 4);
    run_project(project.path(), Mode::Record, client).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.count(), 4, "two faults and two answers");
    assert_recorded_exactly(project.path(), 2);
    // The recording replays without a server.
    run_project(project.path(), Mode::Replay, ClientOptions::default()).unwrap();
}

#[test]
fn a_response_slower_than_the_timeout_is_retried() {
    let server = FaultServer::fixtures();
    server.script([Fault::Slow(Duration::from_secs(6))]);
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 1, "");
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(2), 4),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // At least the slow attempt and one answer (a loaded machine may time out more).
    assert!(server.count() >= 2);
    assert_eq!(server.seen()[0].fault, Fault::Slow(Duration::from_secs(6)));
    assert_recorded_exactly(project.path(), 1);
}

/// An HTTP-date (IMF-fixdate) for a `Retry-After` header.
fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let days = (secs / 86_400) as i64;
    let (y, m, d) = modecollapse::record::civil_from_days(days);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    let s = secs % 86_400;
    format!(
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[test]
fn http_dates_render_as_the_rfc_example() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
}

#[rstest]
#[case::in_seconds(false)]
#[case::as_an_http_date(true)]
fn a_429_with_retry_after_waits_as_told(#[case] as_date: bool) {
    let server = FaultServer::fixtures();
    let value = if as_date {
        // Two seconds ahead at one-second resolution: a wait of more than one second.
        http_date(SystemTime::now() + Duration::from_secs(2))
    } else {
        "1".to_string()
    };
    server.script([Fault::Status {
        code: 429,
        retry_after: Some(value.clone()),
    }]);
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 1, "");
    // The backoff alone would wait about 10 ms; only the header explains a wait of a second.
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(900),
        "Retry-After {value:?} honoured: waited {waited:?}"
    );
    assert_recorded_exactly(project.path(), 1);
}

#[test]
fn an_unreadable_retry_after_falls_back_to_the_backoff() {
    let server = FaultServer::fixtures();
    server.script([Fault::Status {
        code: 503,
        retry_after: Some("whenever you like".into()),
    }]);
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 1, "");
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.count(), 2);
    assert_recorded_exactly(project.path(), 1);
}

/// Checks that an error names everything a reader needs to find the failing request.
pub fn assert_names_the_request(err: &str, prompt: usize, req: &Request) {
    for needle in [
        format!("spec `{SPEC_ID}`"),
        format!("set `{SET_ID}`"),
        format!("model `{MODEL}`"),
        format!("prompt `p{prompt}`"),
        format!("request {}", req.key()),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in: {err}");
    }
}

const WRONG_TYPES: &str = r#"{"choices":[{"logprobs":{"content":[{"top_logprobs":[{"id":1,"token":" ","logprob":"high"}]}]}}]}"#;

#[rstest]
#[case::http_400(status(400), 1, "HTTP 400 after 1 attempt(s)")]
#[case::http_401(status(401), 1, "HTTP 401 after 1 attempt(s)")]
#[case::http_404(status(404), 1, "HTTP 404 after 1 attempt(s)")]
#[case::error_object_with_status_200(Fault::Body(r#"{"error":{"message":"model not loaded"}}"#.into()), 1, "the server answered with an error: model not loaded")]
// vLLM's error object, as pasted in https://github.com/vllm-project/vllm-metal/issues/680
// (sent there with status 500; here with 200, as proxies that wrap errors do).
#[case::vllm_error_object_with_status_200(Fault::Body(r#"{"error":{"message":"2326","type":"InternalServerError","code":500}}"#.into()), 1, "the server answered with an error: 2326; type InternalServerError; code 500")]
#[case::more_choices_than_asked(Fault::Body(r#"{"choices":[{"logprobs":null},{"logprobs":null}]}"#.into()), 1, "the response has 2 choices, more than asked; the server does not honour `n`")]
#[case::wrong_shape_no_choices(Fault::Body(r#"{"choices":[]}"#.into()), 1, "no choices in the response")]
#[case::wrong_shape_array(Fault::Body("[1,2,3]".into()), 1, "unexpected JSON")]
#[case::wrong_shape_types(Fault::Body(WRONG_TYPES.into()), 1, "unexpected JSON")]
#[case::not_json(Fault::Body("<html>busy</html>".into()), 1, "unexpected JSON")]
#[case::missing_logprobs(Fault::NoLogprobs, 1, "no logprobs in the response")]
#[case::fewer_top_logprobs_than_asked(
    Fault::FewerTop(5),
    1,
    "5 top logprobs in the response where 20 were asked"
)]
#[case::http_500_on_every_attempt(status(500), 3, "HTTP 500 after 3 attempt(s)")]
#[case::http_503_on_every_attempt(status(503), 3, "HTTP 503 after 3 attempt(s)")]
#[case::reset_on_every_attempt(Fault::Reset, 3, "after 3 attempt(s)")]
#[case::body_cut_on_every_attempt(Fault::CutBody, 3, "ended mid-JSON")]
fn permanent_fault_ends_with_a_clear_error_and_records_nothing_wrong(
    #[case] fault: Fault,
    #[case] attempts: usize,
    #[case] message: &str,
) {
    let server = FaultServer::fixtures();
    // Prompt 1 gets through; prompt 2 meets the fault on every attempt.
    server.script([Fault::Pass]);
    server.set_default(fault);
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 2, "");
    let err = run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .expect_err("a permanent fault fails the run")
    .to_string();
    assert!(err.contains(message), "missing {message:?} in: {err}");
    assert_names_the_request(&err, 2, &logprob_request(2, 20));
    assert_eq!(server.count(), 1 + attempts, "retried only if transient");
    // What was answered before the fault is kept; nothing of the fault is.
    assert_recorded_exactly(project.path(), 1);
    // Once the fault is gone, only the missing request is made.
    server.set_default(Fault::Pass);
    server.clear_seen();
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.count(), 1);
    assert_eq!(server.seen()[0].body["prompt"], prompt_text(2));
    assert_recorded_exactly(project.path(), 2);
}

#[test]
fn a_response_slower_than_the_timeout_every_time_ends_with_a_timeout_error() {
    let server = FaultServer::fixtures();
    server.set_default(Fault::Slow(Duration::from_secs(5)));
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 1, "");
    let err = run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_millis(500), 2),
    )
    .expect_err("never answered in time")
    .to_string();
    assert!(
        err.contains("timed out") && err.contains("after 2 attempt(s)"),
        "{err}"
    );
    assert_names_the_request(&err, 1, &logprob_request(1, 20));
    assert_recorded_exactly(project.path(), 0);
}

/// A loopback address where nothing listens.
fn closed_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn connection_refused_on_every_attempt_ends_with_a_clear_error() {
    let addr = closed_port();
    let project = probe_project(&format!("http://{addr}/v1"), NEXT_TOKEN, 1, "");
    let err = run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .expect_err("nothing listens")
    .to_string();
    assert!(
        err.contains("connection failed") && err.contains("after 3 attempt(s)"),
        "{err}"
    );
    assert_names_the_request(&err, 1, &logprob_request(1, 20));
    assert!(!recording_path(project.path()).exists(), "nothing recorded");
}

#[test]
fn connection_refused_until_the_server_comes_up_is_retried() {
    let addr = closed_port();
    let project = probe_project(&format!("http://{addr}/v1"), NEXT_TOKEN, 1, "");
    // The server comes up half a second into the run; the client's waits add up to ~5 s.
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        FaultServer::fixtures_at(addr)
    });
    let client = ClientOptions {
        timeout: Duration::from_secs(60),
        retry: RetryPolicy {
            attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        },
    };
    let result = run_project(project.path(), Mode::Record, client);
    let server = late.join().unwrap();
    result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.count(), 1, "the refused attempts never reached it");
    assert_recorded_exactly(project.path(), 1);
}

const SAMPLE: &str = "kind: sample\nsamples: 3\ntemperature: 1.0\nmax_tokens: 6\nseed: 1";

#[test]
fn sampled_completions_survive_transient_faults() {
    let server = FaultServer::fixtures();
    server.script([
        status(503),
        Fault::Pass,
        Fault::CutBody,
        Fault::Reset,
        Fault::Pass,
        status(429),
        Fault::Pass,
    ]);
    let project = probe_project(&server.base_url(), SAMPLE, 1, "");
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 4),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.count(), 7);
    assert_recorded_exactly(project.path(), 3);
}

#[test]
fn a_sampled_completion_of_the_wrong_shape_is_not_recorded() {
    let server = FaultServer::fixtures();
    server.script([Fault::Pass]);
    server.set_default(Fault::Body(
        r#"{"choices":[{"finish_reason":"stop"}]}"#.into(),
    ));
    let project = probe_project(&server.base_url(), SAMPLE, 1, "");
    let err = run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .expect_err("no text in the completion")
    .to_string();
    assert!(err.contains("no `text` in choices[0]"), "{err}");
    let second = Request::Sample(SampleRequest {
        api: Api::Completions,
        model: MODEL.into(),
        prompt: prompt_text(1),
        temperature: 1.0,
        max_tokens: 6,
        seed: 2,
        batch: None,
        lora: Vec::new(),
    });
    assert_names_the_request(&err, 1, &second);
    assert!(err.contains("sample with seed 2"), "{err}");
    // Samples are flushed in batches; the one answered before the fault is kept.
    assert_recorded_exactly(project.path(), 1);
}

/// Where the local gemma server listens (`host:port`), as `.ci/run` starts it.
pub fn gemma_upstream() -> String {
    let url = std::env::var("MODECOLLAPSE_GEMMA_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8091/v1".into());
    let url = url::Url::parse(&url).expect("MODECOLLAPSE_GEMMA_URL is a URL");
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}

/// A temporary project with `footnote1-bash` and the `local` set reduced to gemma-3-270m
/// behind `base_url` (the real recordings are not copied).
pub fn gemma_only_project(base_url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("specs")).unwrap();
    std::fs::create_dir_all(root.join("models")).unwrap();
    std::fs::copy(
        crate::root().join("specs/footnote1-bash.yaml"),
        root.join("specs/footnote1-bash.yaml"),
    )
    .unwrap();
    let text = std::fs::read_to_string(crate::root().join("models/local.yaml")).unwrap();
    let gemma_only = text
        .split("  - name: smollm2-135m-instruct")
        .next()
        .unwrap();
    let text = gemma_only
        .replace("http://127.0.0.1:8091/v1", base_url)
        .replace("    base_url_env: MODECOLLAPSE_GEMMA_URL\n", "");
    std::fs::write(root.join("models/local.yaml"), text).unwrap();
    dir
}

/// The gemma measurement of `footnote1-bash` from the committed recordings.
pub fn committed_gemma_bash() -> modecollapse::measure::Measurement {
    let project = Project::new(crate::root());
    let catalog = project
        .load(&["specs/footnote1-bash.yaml".into()], &["local".into()])
        .unwrap();
    let result = project
        .run(&catalog, RunOptions::new(Mode::Replay))
        .unwrap();
    result.claims[0].model_sets[0]
        .measurements
        .iter()
        .find(|m| m.model == MODEL)
        .and_then(|m| m.measurement.clone())
        .unwrap()
}

/// Asserts that a measurement agrees with the committed one (the live tolerance: 0.01).
pub fn assert_agrees_with_committed(m: &modecollapse::measure::Measurement) {
    let r = committed_gemma_bash();
    for (x, y, what) in [
        (r.entropy.point, m.entropy.point, "entropy"),
        (r.entropy.low, m.entropy.low, "entropy_low"),
        (r.entropy.high, m.entropy.high, "entropy_high"),
        (r.coverage.point, m.coverage.point, "coverage"),
        (r.mode_prob.point, m.mode_prob.point, "mode_prob"),
    ] {
        assert!((x - y).abs() <= 0.01, "{what}: committed {x} vs {y}");
    }
    assert_eq!(r.mode, m.mode);
    assert_eq!(r.requests, m.requests);
}

#[test]
#[ignore = "needs the local llama.cpp servers; run by .ci/run"]
fn faults_between_the_client_and_the_real_server_lose_nothing() {
    let proxy = FaultServer::proxy(&gemma_upstream());
    // Every sixth request meets a transient fault, cycling through all of them. (A response
    // slower than the timeout is tested offline: the shared server can be busy for a minute,
    // so the timeout here must be generous.)
    let faults = [
        status(503),
        Fault::Status {
            code: 429,
            retry_after: Some("1".into()),
        },
        Fault::Reset,
        Fault::CutBody,
        Fault::CutBodyWithLength,
        status(500),
        status(502),
        status(429),
    ];
    let script: Vec<Fault> = (0..400)
        .map(|i| {
            if i % 6 == 3 {
                faults[(i / 6) % faults.len()].clone()
            } else {
                Fault::Pass
            }
        })
        .collect();
    proxy.script(script);
    let project = gemma_only_project(&proxy.base_url());
    let result = run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(300), 6),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = result.claims[0].model_sets[0].measurements[0]
        .measurement
        .clone()
        .unwrap();
    let seen = proxy.seen();
    let injected = seen.iter().filter(|s| s.fault != Fault::Pass).count();
    let passed = seen.len() - injected;
    eprintln!(
        "{} requests through the proxy: {injected} faults injected, {passed} answered",
        seen.len()
    );
    assert!(injected >= 15, "{injected} faults injected");
    assert_eq!(passed, m.requests as usize, "every answer was needed once");
    assert_eq!(m.live_requests, m.requests);
    // Every answer is recorded once, and nothing else.
    let lines = response_lines(&project.path().join("recordings/local/gemma-3-270m.jsonl"));
    assert_eq!(lines.len(), m.requests as usize);
    assert_agrees_with_committed(&m);
    // The recording replays to the very same figures.
    let replay = run_project(project.path(), Mode::Replay, ClientOptions::default()).unwrap();
    let r = replay.claims[0].model_sets[0].measurements[0]
        .measurement
        .clone()
        .unwrap();
    assert_eq!(
        (r.entropy, r.coverage, r.mode),
        (m.entropy, m.coverage, m.mode)
    );
}

/// The probe project with its model served by `provider` on `api` (the probe's defaults are
/// llama.cpp and completions).
fn probe_project_on(
    base_url: &str,
    method: &str,
    provider: &str,
    api: &str,
    model_extra: &str,
) -> tempfile::TempDir {
    let dir = probe_project(base_url, method, 1, model_extra);
    let path = dir.path().join(format!("models/{SET_ID}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("provider: llama_cpp", &format!("provider: {provider}"))
        .replace("api: completions", &format!("api: {api}"));
    std::fs::write(path, text).unwrap();
    dir
}

/// Runs the binary in a project (the CLI, as a user runs it).
fn cli(root: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(args)
        .current_dir(root)
        .env_remove("MODECOLLAPSE_MODE")
        .output()
        .expect("the binary runs")
}

/// The `top` rows of the one response line of the probe model's recording.
fn recorded_rows(root: &Path) -> Vec<Value> {
    let lines = response_lines(&recording_path(root));
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines[0]["top"].as_array().unwrap().clone()
}

const RECORD: [&str; 5] = ["run", "--models", SET_ID, "--mode", "record"];

/// A real body of another server, through the responder and the CLI: recorded as the server
/// gave it, then replayed without a server.
#[rstest]
#[case::vllm_completions_by_text(
    "vllm-completions-qwen3-top5.json",
    "openai",
    "completions",
    5,
    r#"[null,"7",-0.000024199193]"#
)]
#[case::vllm_chat(
    "vllm-chat-ministral-top2.json",
    "vllm",
    "chat",
    2,
    r#"[null,"{}",-3.3124957]"#
)]
#[case::openai_chat(
    "openai-chat-logprobs-top2.json",
    "openai",
    "chat",
    2,
    r#"[null,"Hi",-1.3190403]"#
)]
fn a_real_body_of_another_server_is_recorded_and_replayed(
    #[case] fixture: &str,
    #[case] provider: &str,
    #[case] api: &str,
    #[case] top_k: u32,
    #[case] row: &str,
) {
    let server = FaultServer::serving(fixture);
    let method = format!("kind: next_token\ntop_k: {top_k}");
    let project = probe_project_on(&server.base_url(), &method, provider, api, "");
    let root = project.path();
    let out = cli(root, &RECORD);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.count(), 1);
    let rows = recorded_rows(root);
    assert_eq!(rows.len(), top_k as usize);
    let row: Value = serde_json::from_str(row).unwrap();
    assert!(rows.contains(&row), "{row} in {rows:?}");
    // Replayed without a server.
    drop(server);
    let out = cli(root, &["run", "--models", SET_ID, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Real bodies a measurement cannot use, through the CLI: a clear error and nothing recorded.
#[rstest]
// OpenAI's legacy completions list at most 5 top tokens; the same map shape from vLLM, asked for
// 20, must not be recorded as a top 20.
#[case::five_where_twenty_were_asked(
    "vllm-completions-qwen3-top5.json",
    "openai",
    "completions",
    20,
    "5 top logprobs in the response where 20 were asked; the model's `max_top_logprobs` is 1000: \
     if the server caps them (OpenAI's legacy completions return at most 5), set it to 5"
)]
// vLLM asked for ids (`return_tokens_as_token_ids`) that a server answers by text.
#[case::vllm_without_token_ids(
    "vllm-completions-qwen3-top5.json",
    "vllm",
    "completions",
    5,
    "top logprobs carry no token ids"
)]
#[case::openai_legacy_without_top_tokens(
    "openai-legacy-instruct-logprobs0.json",
    "openai",
    "completions",
    5,
    "no top logprobs in the response"
)]
#[case::together_chat_without_top_tokens(
    "together-chat-codellama-logprobs1.json",
    "openai",
    "chat",
    1,
    "only the sampled tokens'"
)]
fn a_real_body_a_measurement_cannot_use_is_a_clear_error(
    #[case] fixture: &str,
    #[case] provider: &str,
    #[case] api: &str,
    #[case] top_k: u32,
    #[case] message: &str,
) {
    let server = FaultServer::serving(fixture);
    let method = format!("kind: next_token\ntop_k: {top_k}");
    let project = probe_project_on(&server.base_url(), &method, provider, api, "");
    let out = cli(project.path(), &RECORD);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(message), "missing {message:?} in: {stderr}");
    assert!(stderr.contains(&format!("model `{MODEL}`")), "{stderr}");
    assert_eq!(server.count(), 1, "not retried");
    assert!(!recording_path(project.path()).exists(), "nothing recorded");
    if provider == "vllm" && api == "completions" {
        assert_eq!(server.seen()[0].body["return_tokens_as_token_ids"], true);
    }
}

#[test]
fn vllm_token_ids_are_asked_for_parsed_and_recorded_as_id_only_tokens() {
    let server = FaultServer::vllm_token_ids();
    let project = probe_project_on(&server.base_url(), NEXT_TOKEN, "vllm", "completions", "");
    let root = project.path();
    let out = cli(root, &RECORD);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent = &server.seen()[0].body;
    assert_eq!(sent["return_tokens_as_token_ids"], true);
    assert_eq!(sent["prompt"], prompt_text(1));
    assert!(sent.get("cache_prompt").is_none(), "a llama.cpp flag");
    // Each row is `[id, null, logprob]`: the id is known, the text waits for a vocabulary.
    let rows = recorded_rows(root);
    let fixture = logprobs_fixture();
    let first = &fixture["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0];
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter().all(|r| r[1].is_null() && r[0].is_u64()),
        "{rows:?}"
    );
    assert_eq!(rows[0][0], first["id"]);
    let out = cli(root, &["run", "--models", SET_ID]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn enumerate_on_vllm_without_prompt_ids_says_what_it_needs() {
    // A child continues the prompt by ids, which vLLM takes only as a whole token array; this
    // build encodes prompts only for tiktoken encodings, so it refuses before any request.
    let server = FaultServer::fixtures();
    let method = "kind: enumerate\ntop_k: 5\nroot_top_k: 20";
    let project = probe_project_on(&server.base_url(), method, "vllm", "completions", "");
    let out = cli(project.path(), &RECORD);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("`enumerate` on vLLM needs the prompt as token ids"),
        "{stderr}"
    );
}

#[test]
fn an_error_object_with_status_200_is_reported_without_the_key() {
    const KEY: &str = "Wq7rNtL-wire-test-key-Hb2k9d8c7";
    let server = FaultServer::fixtures();
    server.set_default(Fault::ErrorObjectEchoingKey);
    let project = probe_project(
        &server.base_url(),
        NEXT_TOKEN,
        1,
        "api_key_env: MODECOLLAPSE_WIRE_TEST_KEY",
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(RECORD)
        .current_dir(project.path())
        .env_remove("MODECOLLAPSE_MODE")
        .env("MODECOLLAPSE_WIRE_TEST_KEY", KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the server answered with an error: Incorrect API key provided: Bearer [redacted]; type invalid_request_error"),
        "{stderr}"
    );
    assert!(!stderr.contains(&KEY[..12]), "{stderr}");
    assert!(!recording_path(project.path()).exists());
}

/// A model entry of the probe set on another provider, as a model set would declare it.
fn entry(base_url: &str, provider: &str) -> modecollapse::spec::ModelEntry {
    serde_yaml::from_str(&format!(
        "name: {MODEL}\nrole: base\nprovider: {provider}\nbase_url: {base_url}\nmodel: {MODEL}\n\
         api: completions\nstatus: live\nmax_top_logprobs: 1000\n"
    ))
    .unwrap()
}

#[test]
fn token_array_prompts_reach_the_server_as_one_array() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client =
        modecollapse::client::Client::new(client_options(Duration::from_secs(60), 1)).unwrap();
    let Request::Logprobs(mut req) = logprob_request(1, 5) else {
        unreachable!()
    };
    req.prompt_ids = vec![2, 106, 1645];
    req.continuation_ids = vec![236743];
    // vLLM: the ids come back as `token_id:` names.
    let vllm = FaultServer::vllm_token_ids();
    let t = runtime
        .block_on(client.top_logprobs(&entry(&vllm.base_url(), "vllm"), &req))
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = &vllm.seen()[0].body;
    assert_eq!(sent["prompt"], serde_json::json!([2, 106, 1645, 236743]));
    assert_eq!(sent["return_tokens_as_token_ids"], true);
    assert!(t.tokens.iter().all(|t| t.is_id_only()) && t.tokens.len() == 5);
    // OpenAI's legacy completions (here the same map shape from a real vLLM body): tokens come
    // back by text, which is what that API gives; no id is demanded of them.
    let openai = FaultServer::serving("vllm-completions-qwen3-top5.json");
    let t = runtime
        .block_on(client.top_logprobs(&entry(&openai.base_url(), "openai"), &req))
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = &openai.seen()[0].body;
    assert_eq!(sent["prompt"], serde_json::json!([2, 106, 1645, 236743]));
    assert!(sent.get("return_tokens_as_token_ids").is_none());
    assert_eq!(t.tokens[0].exact_bytes(), Some(&b"7"[..]));
    // llama.cpp takes the same array too.
    let llama = FaultServer::fixtures();
    runtime
        .block_on(client.top_logprobs(&entry(&llama.base_url(), "llama_cpp"), &req))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        llama.seen()[0].body["prompt"],
        serde_json::json!([2, 106, 1645, 236743])
    );
}

#[test]
fn enumerate_on_openai_legacy_sends_the_tiktoken_encoding_and_records_its_facts() {
    // The real map-shape body (five digit tokens by text, no ids) answers every request; the
    // model declares cl100k_base, so the prompt goes out as that encoding's token array and
    // the vocabulary's facts (fingerprint, viable tokens) are recorded beside the response.
    let server = FaultServer::serving("vllm-completions-qwen3-top5.json");
    let method = "kind: enumerate\ntop_k: 5\nroot_top_k: 5";
    let extra = "tokenizer: {kind: tiktoken, encoding: cl100k_base}";
    let project = probe_project_on(&server.base_url(), method, "openai", "completions", extra);
    let out = cli(project.path(), &RECORD);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let sent = &server.seen()[0].body;
    let want = modecollapse::vocab::encode_tiktoken("cl100k_base", &prompt_text(1)).unwrap();
    assert_eq!(sent["prompt"], serde_json::json!(want), "{sent}");
    let facts = std::fs::read_to_string(
        project
            .path()
            .join(format!("recordings/{SET_ID}/{MODEL}.vocab.json")),
    )
    .unwrap();
    assert!(
        facts.contains("tiktoken cl100k_base") && facts.contains("\"size\": 100277"),
        "{facts}"
    );
    // Replay needs neither the server nor the encoding's facts recomputed, and agrees.
    drop(server);
    let live: Value = serde_json::from_slice(
        &cli(
            project.path(),
            &[
                "run", "--models", SET_ID, "--mode", "record", "--format", "json",
            ],
        )
        .stdout,
    )
    .unwrap();
    let replay = cli(
        project.path(),
        &["run", "--models", SET_ID, "--format", "json"],
    );
    assert_eq!(replay.status.code(), Some(0));
    let replay: Value = serde_json::from_slice(&replay.stdout).unwrap();
    let m = &replay["claims"][0]["model_sets"][0]["measurements"][0];
    assert_eq!(m, &live["claims"][0]["model_sets"][0]["measurements"][0]);
    // The root lists only digits, which cannot start " N"; the one viable token (" ") is
    // unlisted and holds at most the fifth probability: the coverage is bounded by it.
    assert!(m["coverage_high"].as_f64().unwrap() < 1e-5, "{m}");
}
