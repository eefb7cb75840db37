//! Interruptions and concurrent writers: a recording run killed with SIGKILL resumes and
//! re-requests only what is missing; processes and threads recording into one folder at once
//! lose nothing; a damaged recording file is reported with its path, never used.

use crate::fault_server::{Fault, FaultServer};
use crate::faults::{
    MODEL, NEXT_TOKEN, SET_ID, assert_agrees_with_committed, assert_recorded_exactly,
    client_options, gemma_only_project, gemma_upstream, logprob_request, probe_project,
    recording_path, response_lines, run_project,
};
use modecollapse::record::{Recorded, RecordingStore};
use modecollapse::request::{Request, Response, TopLogprobs, TopToken};
use modecollapse::source::Mode;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary in a project directory.
fn spawn_in(root: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(args)
        .current_dir(root)
        .env_remove("MODECOLLAPSE_MODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// The continuation ids of every logprob request a proxy saw (`[text, id, id, …]` prompts).
fn requested_continuations(seen: &[crate::fault_server::Seen]) -> Vec<Vec<u64>> {
    seen.iter()
        .map(|s| match &s.body["prompt"] {
            Value::Array(parts) => parts[1..].iter().filter_map(Value::as_u64).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The continuation ids of every response in a recording file.
fn recorded_continuations(path: &Path) -> BTreeSet<Vec<u64>> {
    response_lines(path)
        .iter()
        .map(|l| {
            l["ids"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// Loads a recording file through the library (every line and the closing line checked).
fn assert_intact(recordings: &Path, set: &str, model: &str) {
    let store = RecordingStore::new(recordings);
    let probe = logprob_request(1, 20);
    if let Err(e) = store.get(set, model, &probe) {
        panic!("a recording file is damaged: {e}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(recordings.join(set))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp."))
                .collect()
        })
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
#[ignore = "needs the local llama.cpp servers; run by .ci/run"]
fn a_recording_run_killed_twice_resumes_and_requests_only_what_is_missing() {
    let proxy = FaultServer::proxy(&gemma_upstream());
    let project = gemma_only_project(&proxy.base_url());
    let root = project.path();
    let recording = root.join("recordings/local/gemma-3-270m.jsonl");
    let args = [
        "run",
        "specs/footnote1-bash.yaml",
        "--models",
        "local",
        "--mode",
        "record",
        "--timeout",
        "300",
    ];
    let mut on_disk = BTreeSet::new();
    let mut requested_in_all = 0;
    // Kill the first run inside the third tree level (after two flushes), the second inside
    // the fourth (ninety requests, one flush at its end); the third run completes.
    for kill_after in [Some(5), Some(30), None] {
        proxy.clear_seen();
        let mut child = spawn_in(root, &args);
        if let Some(n) = kill_after {
            let start = Instant::now();
            while proxy.count() < n {
                assert!(
                    start.elapsed() < Duration::from_secs(1800),
                    "the run made {} requests in 30 minutes",
                    proxy.count()
                );
                assert!(child.try_wait().unwrap().is_none(), "the run ended early");
                std::thread::sleep(Duration::from_millis(20));
            }
            child.kill().unwrap(); // SIGKILL: no destructor, no flush
            child.wait().unwrap();
        } else {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let seen = proxy.seen();
        requested_in_all += seen.len();
        // This run asked only for what was not on disk when it started.
        for ids in requested_continuations(&seen) {
            assert!(
                !on_disk.contains(&ids),
                "re-requested {ids:?}, which was recorded"
            );
        }
        if recording.exists() {
            assert_intact(&root.join("recordings"), "local", MODEL);
        }
        let now = recorded_continuations(&recording);
        assert!(now.is_superset(&on_disk), "a kill lost recorded entries");
        eprintln!(
            "run killed after {kill_after:?} requests: {} requests made, {} entries on disk",
            seen.len(),
            now.len()
        );
        on_disk = now;
    }
    assert_eq!(on_disk.len(), 103, "the whole tree is recorded");
    let result = run_project(root, Mode::Replay, Default::default()).unwrap();
    let m = result.claims[0].model_sets[0].measurements[0]
        .measurement
        .clone()
        .unwrap();
    assert_agrees_with_committed(&m);
    eprintln!("{requested_in_all} requests in all for a tree of 103");
}

/// The sample method, `samples` completions from seed `seed`.
fn sample_method(samples: u32, seed: u64) -> String {
    format!("kind: sample\nsamples: {samples}\ntemperature: 1.0\nmax_tokens: 6\nseed: {seed}")
}

#[test]
fn two_processes_recording_into_one_folder_lose_nothing() {
    let server = FaultServer::fixtures();
    // Slow enough that the runs overlap through all their flushes.
    server.set_default(Fault::Slow(Duration::from_millis(2)));
    let project = probe_project(&server.base_url(), &sample_method(250, 1), 1, "");
    let root = project.path();
    // More specs on the same model and prompt, with other seeds: the same recording file.
    let a = std::fs::read_to_string(root.join("specs/fault-probe.yaml")).unwrap();
    for (id, seed) in [("b", 1001), ("c", 2001)] {
        let other = a
            .replace("id: fault-probe", &format!("id: fault-probe-{id}"))
            .replace("seed: 1", &format!("seed: {seed}"));
        std::fs::write(root.join(format!("specs/fault-probe-{id}.yaml")), other).unwrap();
    }
    let record =
        |spec: &str| spawn_in(root, &["run", spec, "--models", SET_ID, "--mode", "record"]);
    // Four processes at once, each flushing every 50 samples; two record the same keys.
    let children = [
        record("specs/fault-probe.yaml"),
        record("specs/fault-probe-b.yaml"),
        record("specs/fault-probe-c.yaml"),
        record("specs/fault-probe.yaml"),
    ];
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Each distinct request at least once; the two runs of one spec may both request a
    // sample, or the later one may find it already recorded by the other (when it starts
    // after a flush), so between 750 and 1000 requests.
    let requests = server.count();
    assert!((750..=1000).contains(&requests), "{requests} requests");
    assert_recorded_exactly(root, 750);
    assert_intact(&root.join("recordings"), SET_ID, MODEL);
    // Every spec replays from the merged file.
    let out = spawn_in(root, &["run", "--models", SET_ID])
        .wait_with_output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn entry(i: u32) -> (Request, Recorded) {
    let req = logprob_request(1, 20);
    let Request::Logprobs(mut r) = req else {
        unreachable!()
    };
    r.continuation_ids = vec![i];
    (
        Request::Logprobs(r),
        Recorded {
            // Synthetic: this tests the file under concurrent writers, never a measurement.
            response: Response::Logprobs(TopLogprobs {
                tokens: vec![TopToken::new(Some(i), format!("{i}"), -0.5)],
                model_id: None,
                fingerprint: None,
            }),
            recorded: "2026-11-27".into(),
        },
    )
}

#[test]
fn threads_recording_into_one_file_lose_nothing_and_readers_never_see_a_torn_file() {
    const THREADS: u32 = 8;
    const EACH: u32 = 25;
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().to_path_buf();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A reader that loads the file afresh in a loop while the writers flush.
    let reader = {
        let (recordings, stop) = (recordings.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let store = RecordingStore::new(&recordings);
                if let Err(e) = store.get("s", MODEL, &entry(0).0) {
                    panic!("a reader saw a damaged file: {e}");
                }
                reads += 1;
            }
            reads
        })
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let recordings = recordings.clone();
            std::thread::spawn(move || {
                // Each thread has its own store, as separate processes would.
                let store = RecordingStore::new(&recordings);
                for i in 0..EACH {
                    let (req, rec) = entry(t * EACH + i);
                    store.put("s", MODEL, &req, rec).unwrap();
                    store.flush().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = reader.join().unwrap();
    let fresh = RecordingStore::new(&recordings);
    for i in 0..THREADS * EACH {
        let (req, rec) = entry(i);
        assert_eq!(fresh.get("s", MODEL, &req).unwrap(), Some(rec), "entry {i}");
    }
    let lines = response_lines(&recordings.join(format!("s/{MODEL}.jsonl")));
    assert_eq!(lines.len(), (THREADS * EACH) as usize);
    assert!(reads > 0);
}

/// Records the probe spec (two prompts) through the fixtures responder into a new project.
fn recorded_probe() -> (FaultServer, tempfile::TempDir) {
    let server = FaultServer::fixtures();
    let project = probe_project(&server.base_url(), NEXT_TOKEN, 2, "");
    run_project(
        project.path(),
        Mode::Record,
        client_options(Duration::from_secs(60), 3),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_recorded_exactly(project.path(), 2);
    (server, project)
}

#[test]
fn a_damaged_recording_is_reported_with_its_path_and_never_used() {
    let (server, project) = recorded_probe();
    let root = project.path();
    let path = recording_path(root);
    let good = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "cut mid-line",
            good[..good.len() - 30].to_string(),
            "ends mid-line",
        ),
        (
            "cut at a line boundary",
            format!("{}\n", lines[..lines.len() - 1].join("\n")),
            "ends without its closing line",
        ),
        (
            "a response edited by hand",
            good.replacen("-1.1514657", "-0.1514657", 1),
            "does not match its closing line",
        ),
        (
            "a request edited by hand",
            good.replacen("\"top_k\":20", "\"top_k\":21", 1),
            "key does not match the request",
        ),
        ("emptied", String::new(), "empty file"),
        (
            "a future format version",
            good.replacen("\"version\":2", "\"version\":3", 1),
            "version 3",
        ),
    ];
    for (what, text, message) in cases {
        std::fs::write(&path, &text).unwrap();
        for mode in ["replay", "record"] {
            let out = spawn_in(root, &["run", "--models", SET_ID, "--mode", mode])
                .wait_with_output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{what} ({mode}): {stderr}");
            assert!(
                stderr.contains(&format!("recordings/{SET_ID}/{MODEL}.jsonl:"))
                    && stderr.contains(message),
                "{what} ({mode}): {stderr}"
            );
            // Never silently replaced either: the damaged file is left for a human to see.
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{what}");
        }
    }
    assert_eq!(server.count(), 2, "no run requested anything");
}
