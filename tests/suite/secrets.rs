//! Secrets and spending: a key in the environment reaches the server and nothing else — no
//! file, no output, no error message, whatever the server answers — and `--max-requests` stops
//! a live run at its budget keeping what was recorded.

use crate::fault_server::{Fault, FaultServer};
use crate::faults::{
    MODEL, NEXT_TOKEN, SET_ID, assert_recorded_exactly, probe_project, recording_path,
};
use std::path::Path;
use std::process::Output;

// Deliberately not shaped like a real provider key, so that secret scanners do not flag it.
const SENTINEL: &str = "Zq8sNtL-test-key-Vw3k7d6c5b4a3210Mx";
const KEY_ENV: &str = "MODECOLLAPSE_TEST_KEY";

/// Runs the binary in a project with the sentinel key in its environment (or without it).
fn run(root: &Path, args: &[&str], with_key: bool) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"));
    cmd.args(args)
        .current_dir(root)
        .env_remove("MODECOLLAPSE_MODE");
    if with_key {
        cmd.env(KEY_ENV, SENTINEL);
    } else {
        cmd.env_remove(KEY_ENV);
    }
    cmd.output().expect("the binary runs")
}

/// Whether a text holds the key or any 12-character piece of it (an excerpt cut mid-key).
fn leaks(text: &str) -> Option<&str> {
    let pieces = SENTINEL.len() - 12 + 1;
    (0..pieces)
        .map(|i| &SENTINEL[i..i + 12])
        .find(|piece| text.contains(piece))
}

fn assert_no_trace_in_files(root: &Path) -> usize {
    let mut stack = vec![root.to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                assert_eq!(leaks(&text), None, "key written to {}", p.display());
            }
        }
    }
    files
}

/// Rewrites the probe model's `base_url`.
fn point_at(root: &Path, url: &str) {
    let path = root.join(format!("models/{SET_ID}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("base_url:") {
                format!("    base_url: {url}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

fn echo(code: u16) -> Fault {
    // `Retry-After: 0` makes the retries of transient statuses immediate.
    Fault::Status {
        code,
        retry_after: Some("0".into()),
    }
}

#[test]
fn a_key_in_the_environment_appears_in_no_file_output_or_error_message() {
    let server = FaultServer::fixtures();
    let elsewhere = FaultServer::fixtures();
    let project = probe_project(
        &server.base_url(),
        NEXT_TOKEN,
        2,
        &format!("api_key_env: {KEY_ENV}"),
    );
    let root = project.path();
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let record = ["run", "--models", SET_ID, "--mode", "record"];
    let refresh = ["run", "--models", SET_ID, "--mode", "refresh"];

    // Record: the key goes to the (loopback) server as a bearer token, and only there.
    let out = run(root, &record, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        server
            .seen()
            .iter()
            .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {SENTINEL}"))),
        "the key is sent"
    );
    outputs.push(("record".into(), out));
    assert_recorded_exactly(root, 2);
    // Replay and report, as a table and as JSON.
    for args in [
        &["run", "--models", SET_ID][..],
        &["run", "--models", SET_ID, "--format", "json"],
        &["validate"],
        &["list"],
    ] {
        let out = run(root, args, true);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        outputs.push((format!("{args:?}"), out));
    }

    // Every way a server can fail, several of them echoing the Authorization header back in
    // an error body (with the key across the client's excerpt cut), in a field the parser
    // quotes, or in a field that would be recorded; and a redirect to another host whose
    // URL carries the key.
    let redirect = format!("{}/completions?stolen=yes", elsewhere.base_url());
    let faults = [
        ("401 echoing the header", echo(401)),
        ("403 echoing the header", echo(403)),
        ("500 echoing the header, every attempt", echo(500)),
        ("429 echoing the header, every attempt", echo(429)),
        ("503 echoing the header, every attempt", echo(503)),
        ("the header where a number belongs", Fault::EchoKeyInShape),
        (
            "the header as the model id of a valid answer",
            Fault::EchoKeyInModel,
        ),
        ("a redirect to another host", Fault::Redirect(redirect)),
        ("a body cut mid-JSON, every attempt", Fault::CutBody),
        ("a reset, every attempt", Fault::Reset),
        ("wrong shape", Fault::Body("{\"error\":\"no\"}".into())),
    ];
    for (what, fault) in faults {
        server.set_default(fault);
        let out = run(root, &refresh, true);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((what.into(), out));
    }
    server.set_default(Fault::Slow(std::time::Duration::from_secs(3)));
    let out = run(root, &[&refresh[..], &["--timeout", "0.2"]].concat(), true);
    assert_eq!(out.status.code(), Some(3));
    outputs.push(("slower than the timeout".into(), out));
    assert_eq!(elsewhere.count(), 0, "the redirect was not followed");
    // Nothing any failing server said was recorded.
    assert_recorded_exactly(root, 2);

    // Failures before any request: nothing listening, a remote host over plain HTTP, no key.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    point_at(root, &format!("http://{closed}/v1"));
    let out = run(root, &refresh, true);
    assert_eq!(out.status.code(), Some(3));
    outputs.push(("connection refused".into(), out));
    point_at(root, "http://192.0.2.1:8091/v1");
    let out = run(root, &refresh, true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither https nor a loopback"));
    outputs.push(("a remote host over plain HTTP".into(), out));
    point_at(root, &server.base_url());
    let out = run(root, &refresh, false);
    assert!(String::from_utf8_lossy(&out.stderr).contains(KEY_ENV));
    outputs.push(("no key".into(), out));
    let out = run(
        root,
        &[&refresh[..], &["--max-requests", "1"]].concat(),
        true,
    );
    assert_eq!(out.status.code(), Some(3));
    outputs.push(("over budget".into(), out));
    // Recordings that are damaged, then missing.
    let path = recording_path(root);
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let out = run(root, &["run", "--models", SET_ID], true);
    assert_eq!(out.status.code(), Some(3));
    outputs.push(("a damaged recording".into(), out));
    std::fs::remove_file(&path).unwrap();
    let out = run(root, &["run", "--models", SET_ID], true);
    // A set without recordings is reported with the command that records it.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("--mode record"), "{said}");
    outputs.push(("a missing recording".into(), out));
    std::fs::write(&path, good).unwrap();

    for (what, out) in &outputs {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(leaks(&text), None, "{what}: key in {stream}:\n{text}");
        }
    }
    let files = assert_no_trace_in_files(root);
    assert!(files >= 4, "specs, models, the recording and its lock");
    eprintln!(
        "{} runs, {} requests with the key, {files} files: no trace of the key",
        outputs.len(),
        server.count()
    );
}

/// `enumerate` on the fixtures responder: the real root distribution of `footnote1-bash` at
/// every node, enough to grow a tree of a few dozen requests.
const ENUMERATE: &str = "kind: enumerate\ntop_k: 20\nroot_top_k: 1000";

#[test]
fn max_requests_stops_cleanly_at_the_budget_keeping_what_was_recorded() {
    let server = FaultServer::fixtures();
    let project = probe_project(&server.base_url(), ENUMERATE, 1, "");
    let root = project.path();
    let args = ["run", "--models", SET_ID, "--mode", "record"];
    let out = run(root, &[&args[..], &["--max-requests", "5"]].concat(), false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "stopped at the request budget of 5 live request(s); what was recorded is kept"
        ),
        "{stderr}"
    );
    assert_eq!(server.count(), 5, "no request past the budget");
    assert_recorded_exactly(root, 5);
    // A budget of zero makes no request and changes nothing.
    let out = run(root, &[&args[..], &["--max-requests", "0"]].concat(), false);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(server.count(), 5);
    assert_recorded_exactly(root, 5);
    // Without a budget the run completes, requesting only what the budget left out.
    server.clear_seen();
    let out = run(root, &args, false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = crate::faults::response_lines(&recording_path(root)).len();
    assert!(total > 5, "{total}");
    assert_eq!(server.count(), total - 5);
    assert_recorded_exactly(root, total);
    let out = run(root, &["run", "--models", SET_ID], false);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        root.join(format!("recordings/{SET_ID}/{MODEL}.jsonl"))
            .exists()
    );
}
