//! Batched sampling (`max_n` > 1) end to end, offline: the fault responder answers a request
//! for two samples with the real two-choice body of gemma-3-270m on a two-slot llama.cpp server
//! (`tests/fixtures/wire/gemma-sample-qa-seed1-n2.json`) and a request for one with the real
//! one-choice body.

use crate::fault_server::{Fault, FaultServer, sample_fixture, sample_n2_fixture};
use crate::faults::{
    MODEL, SET_ID, client_options, probe_project, prompt_text, recording_path, response_lines,
    run_project,
};
use modecollapse::project::{Project, RunOptions};
use modecollapse::record::{Recorded, RecordingStore};
use modecollapse::request::{Batch, Completion, Request, Response, SampleRequest};
use modecollapse::run::RunResult;
use modecollapse::source::Mode;
use modecollapse::spec::Api;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Five samples: with `max_n: 2`, two batches of two and one sample alone.
const FIVE: &str = "kind: sample\nsamples: 5\ntemperature: 1.0\nmax_tokens: 6\nseed: 1";

fn record(root: &Path, max_requests: Option<u64>) -> Result<RunResult, modecollapse::Error> {
    let project = Project::new(root);
    let catalog = project.load(&[], &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut options = RunOptions::new(Mode::Record);
    options.client = client_options(Duration::from_secs(60), 2);
    options.max_requests = max_requests;
    project.run(&catalog, options)
}

/// (counts, other, requests, live requests) of the probe's one measurement.
fn figures(result: &RunResult) -> (Vec<u64>, u64, u32, u32) {
    let m = result.claims[0].model_sets[0].measurements[0]
        .measurement
        .as_ref()
        .expect("measured");
    let s = m.sampled.as_ref().expect("sampled");
    (s.counts.clone(), s.other, m.requests, m.live_requests)
}

/// The `(seed, batch)` of every recorded sample line, in file order, with its text.
fn recorded_samples(root: &Path) -> Vec<(u64, Value, String)> {
    response_lines(&recording_path(root))
        .iter()
        .map(|l| {
            (
                l["sample"]["seed"].as_u64().unwrap(),
                l["sample"]["batch"].clone(),
                l["completion"]["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn batch_request(index: u32) -> Request {
    Request::Sample(SampleRequest {
        api: Api::Completions,
        model: MODEL.into(),
        prompt: prompt_text(1),
        temperature: 1.0,
        max_tokens: 6,
        seed: 1,
        batch: Some(Batch { n: 2, index }),
        lora: Vec::new(),
    })
}

#[test]
fn a_batch_is_one_request_each_choice_is_recorded_and_replay_is_offline() {
    let server = FaultServer::fixtures();
    let project = probe_project(&server.base_url(), FIVE, 1, "max_n: 2");
    let live = record(project.path(), None).unwrap_or_else(|e| panic!("{e}"));
    // Two requests with n = 2 and one with n = 1, each sending the seed of its first sample.
    let sent: Vec<(u64, u64)> = server
        .seen()
        .iter()
        .map(|s| {
            (
                s.body["seed"].as_u64().unwrap(),
                s.body["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sent, [(1, 2), (3, 2), (5, 1)]);
    let (counts, other, requests, live_requests) = figures(&live);
    assert_eq!((requests, live_requests), (3, 3));
    assert_eq!(counts.iter().sum::<u64>() + other, 5);
    // Every sample under its own key, its batch recorded beside its seed.
    let n2 = sample_n2_fixture();
    let (c0, c1) = (
        n2["choices"][0]["text"].as_str().unwrap(),
        n2["choices"][1]["text"].as_str().unwrap(),
    );
    let alone = sample_fixture()["choices"][0]["text"].clone();
    let b = |index: u32| serde_json::json!({"n": 2, "index": index});
    assert_eq!(
        recorded_samples(project.path()),
        [
            (1, b(0), c0.to_string()),
            (1, b(1), c1.to_string()),
            (3, b(0), c0.to_string()),
            (3, b(1), c1.to_string()),
            (5, Value::Null, alone.as_str().unwrap().to_string()),
        ]
    );
    // Replay: the same keys from the same spec and max_n, no server.
    drop(server);
    let replay = run_project(
        project.path(),
        Mode::Replay,
        client_options(Duration::from_secs(5), 1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(figures(&replay), (counts, other, 3, 0));
}

#[test]
fn the_budget_counts_a_batch_once_and_the_next_run_requests_only_what_is_missing() {
    let server = FaultServer::fixtures();
    let project = probe_project(&server.base_url(), FIVE, 1, "max_n: 2");
    let err = record(project.path(), Some(2)).expect_err("the budget stops the run");
    assert!(err.to_string().contains("request budget of 2"), "{err}");
    // Two live requests: two batches, four samples, kept.
    assert_eq!(server.count(), 2);
    assert_eq!(recorded_samples(project.path()).len(), 4);
    server.clear_seen();
    let result = record(project.path(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sent_seeds(&server),
        [5],
        "only the missing sample is requested"
    );
    let (_, _, requests, live) = figures(&result);
    assert_eq!((requests, live), (3, 1));
    assert_eq!(recorded_samples(project.path()).len(), 5);
}

#[test]
fn a_half_recorded_batch_is_requested_again_and_only_its_missing_choice_is_stored() {
    let server = FaultServer::fixtures();
    let project = probe_project(&server.base_url(), FIVE, 1, "max_n: 2");
    // Choice 0 of the first batch is recorded (dated so that it can be told apart), choice 1
    // is not: as a merge of two writers, or a hand-pruned file, could leave it.
    let store = RecordingStore::new(project.path().join("recordings"));
    let kept = Recorded {
        response: Response::Sample(Completion {
            text: sample_n2_fixture()["choices"][0]["text"]
                .as_str()
                .unwrap()
                .into(),
            finish_reason: Some("length".into()),
            model_id: None,
            fingerprint: None,
        }),
        recorded: "2026-01-02".into(),
    };
    store.put(SET_ID, MODEL, &batch_request(0), kept).unwrap();
    store.flush().unwrap();
    let result = record(project.path(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sent_seeds(&server),
        [1, 3, 5],
        "the half batch is one request again"
    );
    assert_eq!(figures(&result).3, 3);
    let lines = response_lines(&recording_path(project.path()));
    assert_eq!(lines.len(), 5);
    let dated: Vec<&str> = lines
        .iter()
        .filter(|l| l["sample"]["seed"] == 1)
        .map(|l| l["recorded"].as_str().unwrap())
        .collect();
    assert_eq!(
        dated[0], "2026-01-02",
        "the recorded choice is kept as it was"
    );
    assert_ne!(dated[1], "2026-01-02");
}

#[test]
fn another_number_of_choices_than_asked_is_a_clear_error_and_the_batch_is_not_recorded() {
    let server = FaultServer::fixtures();
    // A server that ignores `n` and answers one choice (the real one-choice body).
    server.set_default(Fault::Body(sample_fixture().to_string()));
    let project = probe_project(&server.base_url(), FIVE, 1, "max_n: 2");
    let err = record(project.path(), None)
        .expect_err("one choice for n = 2")
        .to_string();
    assert!(
        err.contains("failed to get 2 completions")
            && err.contains("the response has 1 choice(s)")
            && err.contains("`max_n`"),
        "{err}"
    );
    assert!(err.contains("choice 0 of a batch of n = 2"), "{err}");
    // Each request once (not retried: the server would answer alike): both batches refused,
    // the sample alone (n = 1) answered by the same body and recorded.
    let sent: Vec<u64> = server
        .seen()
        .iter()
        .map(|s| s.body["n"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [2, 2, 1]);
    let recorded = recorded_samples(project.path());
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].0, &recorded[0].1), (5, &Value::Null));
}

#[test]
fn max_n_must_be_at_least_one() {
    let project = probe_project("http://127.0.0.1:9/v1", FIVE, 1, "max_n: 0");
    let Err(err) = Project::new(project.path()).load(&[], &[]) else {
        panic!("max_n 0 is refused");
    };
    let err = err.to_string();
    assert!(err.contains("`max_n` must be at least 1"), "{err}");
}

/// The seed of every request the server saw, in order.
fn sent_seeds(server: &FaultServer) -> Vec<u64> {
    server
        .seen()
        .iter()
        .map(|s| s.body["seed"].as_u64().unwrap())
        .collect()
}
