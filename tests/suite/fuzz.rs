//! A proptest fuzz harness over everything that parses outside input: spec and model-set
//! files (as bytes and as text), response bodies, and recording files. Each target is fed
//! arbitrary input and mutations of real input (the shipped specs, the bad-spec corpus, the
//! real wire fixtures, real recordings) and must never panic; parsers that accept an input must
//! uphold their invariants.
//!
//! `cargo test` runs every target briefly. The long run is the `#[ignore]`d `fuzz_long`:
//! `MODECOLLAPSE_FUZZ_CASES=200000 cargo test --release --test suite fuzz_long -- --ignored
//! --nocapture` (cases per target; without the variable it does nothing, so that `.ci/run`,
//! which runs every ignored test, stays short) prints the time each target took.

use modecollapse::client::parse;
use modecollapse::record::check_recording;
use modecollapse::spec::{Api, parse_model_set, parse_spec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Cases per target in plain `cargo test`.
const QUICK: u32 = 300;

/// Runs a target: `cases` inputs from `strategy`, each checked by `check`; panics (in the
/// target or in `check`) are failures, shrunk to a small input.
fn fuzz<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    check: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, check) {
        panic!("fuzz target {name}: {e}");
    }
}

/// Texts of a directory's files with an extension (seeds for mutation).
fn seeds(dir: &str, ext: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(crate::root().join(dir))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

/// Fragments that mean something to YAML, JSON or the expectation grammar.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    ",",
    "&a ",
    "*a",
    "&a [*a, *a]",
    "!!str ",
    "!!binary ",
    "|",
    "|-",
    ">",
    "\"",
    "'",
    "#",
    "\n",
    "\r\n",
    "\t",
    "  ",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.2\n",
    "\0",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "99999999999999999999",
    "-1",
    "1e400",
    "-0",
    ".nan",
    ".inf",
    "~",
    "null",
    "true",
    "0x1F",
    "entropy(",
    "mode(",
    "prob(",
    "coverage(*)",
    ">=",
    "==",
    "+",
    "\\u",
    "\\",
    "<<: ",
    "é",
    "😀",
    "\u{10FFFF}",
    "version: 2\n",
    "kind: ",
    "top_k: 0",
    "max_requests: 4294967296",
    "samples: 0",
    "level: 2",
    "first: \" 100\"",
    "last: \" 0\"",
];

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Token { at: usize, token: usize },
    Duplicate { at: usize, len: usize, to: usize },
    Flip { at: usize, bit: u8 },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        1 => (at, 0usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (at, prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (at, 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Token { at, token }),
        1 => (at, 0usize..128, any::<usize>())
            .prop_map(|(at, len, to)| Mutation::Duplicate { at, len, to }),
        1 => (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        1 => at.prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = data.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match m {
            Mutation::Delete { at, len } => {
                let a = pos(*at);
                let b = (a + len).min(n);
                data.drain(a..b);
            }
            Mutation::Insert { at, bytes } => {
                let a = pos(*at);
                data.splice(a..a, bytes.iter().copied());
            }
            Mutation::Token { at, token } => {
                let a = pos(*at);
                data.splice(a..a, TOKENS[*token].bytes());
            }
            Mutation::Duplicate { at, len, to } => {
                let a = pos(*at);
                let b = (a + len).min(n);
                let piece: Vec<u8> = data[a..b].to_vec();
                let t = pos(*to);
                data.splice(t..t, piece);
            }
            Mutation::Flip { at, bit } => {
                if n > 0 {
                    data[at % n] ^= 1 << bit;
                }
            }
            Mutation::Truncate { at } => data.truncate(pos(*at)),
        }
    }
    data
}

/// Arbitrary bytes, or a seed with one to eight mutations.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (0..n, prop::collection::vec(mutation(), 1..8))
            .prop_map(move |(i, ms)| apply(seeds[i].clone(), &ms)),
    ]
}

fn spec_seeds() -> Vec<Vec<u8>> {
    let mut s = seeds("specs", "yaml");
    s.extend(seeds("tests/bad-specs", "yaml"));
    s
}

/// Spec texts straight into the parser and validator.
fn spec_text_target(cases: u32) -> usize {
    let accepted = AtomicUsize::new(0);
    fuzz("spec text", cases, input(spec_seeds()), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if parse_spec(Path::new("fuzz.yaml"), &text).is_ok() {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    accepted.into_inner()
}

fn model_set_target(cases: u32) -> usize {
    let accepted = AtomicUsize::new(0);
    fuzz(
        "model-set text",
        cases,
        input(seeds("models", "yaml")),
        |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            if parse_model_set(Path::new("fuzz.yaml"), &text).is_ok() {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        },
    );
    accepted.into_inner()
}

/// Spec files as bytes through the whole loader: size cap, UTF-8, nesting, parsing, and the
/// cross-file checks against the shipped model sets. Every rejection is located.
fn spec_file_target(cases: u32) -> usize {
    let accepted = AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("fuzz.yaml");
    let models = crate::root().join("models");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fuzz("spec file", cases, input(spec_seeds()), |bytes| {
        std::fs::write(&spec, &bytes).unwrap();
        match modecollapse::spec::load_catalog(std::slice::from_ref(&spec), &empty, &models) {
            Ok(_) => {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(modecollapse::error::SpecError::Invalid(problems)) => {
                prop_assert!(!problems.is_empty());
                for p in problems {
                    prop_assert!(p.location.line >= 1 && p.location.column >= 1, "{}", p);
                    prop_assert!(!p.message.is_empty());
                }
            }
            Err(e) => prop_assert!(false, "not a located problem: {}", e),
        }
        Ok(())
    });
    accepted.into_inner()
}

/// JSON-aware mutations of a wire body: replace, drop or retype values at random paths.
#[derive(Debug, Clone)]
enum JsonEdit {
    Replace { path: Vec<usize>, value: JsonLeaf },
    Remove { path: Vec<usize> },
    TruncateArray { path: Vec<usize>, len: usize },
}

#[derive(Debug, Clone)]
enum JsonLeaf {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    EmptyArray,
    EmptyObject,
}

impl JsonLeaf {
    fn value(&self) -> Value {
        match self {
            JsonLeaf::Null => Value::Null,
            JsonLeaf::Bool(b) => Value::Bool(*b),
            JsonLeaf::Int(i) => Value::from(*i),
            JsonLeaf::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            JsonLeaf::Str(s) => Value::String(s.clone()),
            JsonLeaf::EmptyArray => Value::Array(Vec::new()),
            JsonLeaf::EmptyObject => Value::Object(Default::default()),
        }
    }
}

fn json_leaf() -> impl Strategy<Value = JsonLeaf> {
    prop_oneof![
        Just(JsonLeaf::Null),
        any::<bool>().prop_map(JsonLeaf::Bool),
        any::<i64>().prop_map(JsonLeaf::Int),
        prop_oneof![
            any::<f64>(),
            Just(0.5),
            Just(-0.0),
            Just(1e-300),
            Just(-1e300)
        ]
        .prop_map(JsonLeaf::Float),
        ".{0,8}".prop_map(JsonLeaf::Str),
        Just(JsonLeaf::EmptyArray),
        Just(JsonLeaf::EmptyObject),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let path = prop::collection::vec(any::<usize>(), 0..8);
    prop_oneof![
        (path.clone(), json_leaf()).prop_map(|(path, value)| JsonEdit::Replace { path, value }),
        path.clone().prop_map(|path| JsonEdit::Remove { path }),
        (path, 0usize..4).prop_map(|(path, len)| JsonEdit::TruncateArray { path, len }),
    ]
}

/// The child a path index picks (by position among an object's keys or an array's items).
fn child(v: &mut Value, i: usize) -> Option<&mut Value> {
    match v {
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            a.get_mut(i % n)
        }
        Value::Object(o) if !o.is_empty() => {
            let n = o.len();
            o.values_mut().nth(i % n)
        }
        _ => None,
    }
}

fn edit_json(v: &mut Value, edit: &JsonEdit) {
    let (path, last) = match edit {
        JsonEdit::Replace { path, .. }
        | JsonEdit::Remove { path }
        | JsonEdit::TruncateArray { path, .. } => (path, path.last().copied()),
    };
    let mut node = v;
    let steps = path.len().saturating_sub(1);
    for &i in &path[..steps] {
        match child(node, i) {
            Some(c) => node = c,
            None => return,
        }
    }
    match edit {
        JsonEdit::Replace { value, .. } => match last.and_then(|i| child(node, i)) {
            Some(c) => *c = value.value(),
            None => *node = value.value(),
        },
        JsonEdit::Remove { .. } => match (node, last) {
            (Value::Object(o), Some(i)) if !o.is_empty() => {
                let key = o.keys().nth(i % o.len()).cloned().unwrap();
                o.remove(&key);
            }
            (Value::Array(a), Some(i)) if !a.is_empty() => {
                let n = a.len();
                a.remove(i % n);
            }
            _ => {}
        },
        JsonEdit::TruncateArray { len, .. } => {
            if let Some(Value::Array(a)) = last.and_then(|i| child(node, i)) {
                a.truncate(*len);
            }
        }
    }
}

/// Real bodies, smaller: the logprobs fixture cut to its first 40 candidates (mutations then
/// reach every level of it), and the sample fixtures (one choice, and two).
fn wire_seeds() -> Vec<Value> {
    let mut logprobs = crate::fault_server::logprobs_fixture();
    if let Some(top) =
        logprobs["choices"][0]["logprobs"]["content"][0]["top_logprobs"].as_array_mut()
    {
        top.truncate(40);
    }
    let legacy = serde_json::json!({"model": "text-davinci-003", "choices": [{"logprobs": {
        "tokens": [" 97"], "top_logprobs": [{" 97": -0.1, " 42": -3.0, "\n": -4.5}]}}]});
    let mut seeds = vec![
        logprobs,
        crate::fault_server::sample_fixture(),
        crate::fault_server::sample_n2_fixture(),
        legacy,
    ];
    // The real bodies of other servers (provenance in tests/fixtures/wire/README.md).
    for name in [
        "vllm-completions-qwen3-top5.json",
        "vllm-chat-ministral-top2.json",
        "openai-chat-logprobs-top2.json",
        "openai-legacy-instruct-logprobs0.json",
        "together-chat-codellama-logprobs1.json",
    ] {
        let path = crate::root().join("tests/fixtures/wire").join(name);
        seeds.push(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap());
    }
    seeds
}

fn wire_input() -> impl Strategy<Value = Vec<u8>> {
    let values = wire_seeds();
    let as_bytes: Vec<Vec<u8>> = values
        .iter()
        .map(|v| serde_json::to_vec(v).unwrap())
        .collect();
    let n = values.len();
    prop_oneof![
        1 => input(as_bytes),
        3 => (0..n, prop::collection::vec(json_edit(), 1..6)).prop_map(move |(i, edits)| {
            let mut v = values[i].clone();
            for e in &edits {
                edit_json(&mut v, e);
            }
            serde_json::to_vec(&v).unwrap()
        }),
    ]
}

/// Response bodies into both parsers; what they accept upholds the response invariants.
fn wire_target(cases: u32) -> usize {
    let accepted = AtomicUsize::new(0);
    fuzz(
        "wire response",
        cases,
        (wire_input(), any::<bool>(), 1u32..64),
        |(bytes, want_ids, top_k)| {
            if let Ok(t) = parse::logprobs(&bytes, want_ids, top_k) {
                accepted.fetch_add(1, Ordering::Relaxed);
                prop_assert!(!t.tokens.is_empty());
                for tok in &t.tokens {
                    prop_assert!(!tok.logprob.is_nan() && tok.logprob <= 1e-6, "{:?}", tok);
                    prop_assert!(!want_ids || tok.id.is_some());
                    // Exact bytes are known unless the token has none or only its id is.
                    prop_assert_eq!(
                        tok.exact_bytes().is_none(),
                        tok.ends_generation() || tok.is_id_only(),
                        "{:?}",
                        tok
                    );
                    if let Some(b) = tok.exact_bytes() {
                        prop_assert!(!b.is_empty());
                    }
                }
            }
            let _ = parse::completion(&bytes, Api::Completions);
            let _ = parse::completion(&bytes, Api::Chat);
            // A batch's parser: whatever the body, it yields exactly n completions or an error.
            for n in 1..=3 {
                if let Ok(c) = parse::completions(&bytes, Api::Completions, n) {
                    prop_assert_eq!(c.len(), n as usize);
                }
            }
            Ok(())
        },
    );
    accepted.into_inner()
}

/// Seeds: the first lines of the real recordings (format 1) and a format 2 file.
fn recording_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for name in ["gemma-3-270m", "smollm2-135m-instruct"] {
        let text =
            std::fs::read_to_string(crate::root().join(format!("recordings/local/{name}.jsonl")))
                .unwrap();
        // The header, the prompt lines and a few responses of each kind.
        let lines: Vec<&str> = text.lines().collect();
        let mut seed: Vec<&str> = lines.iter().take(8).copied().collect();
        seed.extend(lines.iter().filter(|l| l.contains("\"sample\"")).take(3));
        out.push(format!("{}\n", seed.join("\n")).into_bytes());
    }
    // A version 2 file, written by the store.
    let server = crate::fault_server::FaultServer::fixtures();
    let project =
        crate::faults::probe_project(&server.base_url(), crate::faults::NEXT_TOKEN, 2, "");
    crate::faults::run_project(
        project.path(),
        modecollapse::source::Mode::Record,
        crate::faults::client_options(std::time::Duration::from_secs(60), 2),
    )
    .unwrap();
    let mut v2 = std::fs::read(crate::faults::recording_path(project.path())).unwrap();
    // Keep the seed small: only the first 12 candidates of each response.
    v2 = String::from_utf8(v2)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Some(top) = v.get_mut("top").and_then(Value::as_array_mut) {
                top.truncate(12);
            }
            format!("{}\n", serde_json::to_string(&v).unwrap())
        })
        .collect::<String>()
        .into_bytes();
    out.push(v2);
    out
}

fn recording_target(cases: u32) -> usize {
    let accepted = AtomicUsize::new(0);
    fuzz("recording file", cases, input(recording_seeds()), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        match check_recording(Path::new("fuzz.jsonl"), &text) {
            Ok(_) => {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => prop_assert!(e.to_string().contains("fuzz.jsonl"), "{}", e),
        }
        Ok(())
    });
    accepted.into_inner()
}

#[test]
fn fuzz_spec_text() {
    spec_text_target(QUICK);
}

#[test]
fn fuzz_model_set_text() {
    model_set_target(QUICK);
}

#[test]
fn fuzz_spec_files() {
    spec_file_target(QUICK / 3);
}

#[test]
fn fuzz_wire_responses() {
    wire_target(QUICK);
}

#[test]
fn fuzz_recording_files() {
    recording_target(QUICK);
}

/// A target's name, its runner (returning how many inputs were accepted) and its cases.
type Target = (&'static str, fn(u32) -> usize, u32);

#[test]
#[ignore = "long: MODECOLLAPSE_FUZZ_CASES cases per target"]
fn fuzz_long() {
    // Only on request: `.ci/run` runs every ignored test, and this one takes minutes.
    let Some(cases) = std::env::var("MODECOLLAPSE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        eprintln!("fuzz_long: set MODECOLLAPSE_FUZZ_CASES (e.g. 200000) to run it");
        return;
    };
    let started = Instant::now();
    let targets: [Target; 5] = [
        ("spec text", spec_text_target, cases),
        ("model-set text", model_set_target, cases),
        // Each case writes a file; a tenth as many keeps this target's time in line.
        ("spec file", spec_file_target, cases / 10),
        ("wire response", wire_target, cases),
        ("recording file", recording_target, cases),
    ];
    for (name, target, n) in targets {
        let t = Instant::now();
        let accepted = target(n);
        eprintln!(
            "fuzz {name}: {n} cases ({accepted} accepted), no panic, {:.1?}",
            t.elapsed()
        );
    }
    eprintln!("fuzz: all targets in {:.1?}", started.elapsed());
}
