//! The command line as a contract: JSON keys, exit codes, messages.

use serde_json::Value;
use std::path::Path;

/// Copies the project's specs, models and recordings into a temporary project.
fn temp_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["specs", "models", "recordings"] {
        copy_dir(&crate::root().join(sub), &dir.path().join(sub));
    }
    dir
}

/// Rewrites a spec of a temporary project with `edit`.
fn edit_spec(project: &Path, spec: &str, edit: impl FnOnce(String) -> String) {
    let path = project.join("specs").join(spec);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

/// The text of a spec with its `expect:` block replaced by these expectations.
fn with_expectations(text: String, expect: &[&str]) -> String {
    let head = &text[..text.find("expect:").unwrap()];
    let lines: Vec<String> = expect.iter().map(|e| format!("  - that: {e}\n")).collect();
    format!("{head}expect:\n{}", lines.concat())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else if !e.file_name().to_string_lossy().ends_with(".lock") {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Runs the binary inside another project (paths on the command line are relative to it).
fn run_in(root: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(args)
        .current_dir(root)
        .env_remove("MODECOLLAPSE_MODE")
        .output()
        .expect("the binary runs")
}

#[test]
fn json_contract_on_committed_recordings() {
    let out = crate::modecollapse(&["run", "--models", "local", "--format", "json"]);
    let json = crate::json_ok(&out);
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["mode"], "replay");
    let claims = json["claims"].as_array().unwrap();
    let spec_count = std::fs::read_dir(crate::root().join("specs"))
        .unwrap()
        .count();
    let untestable = json["not_testable"].as_array().unwrap();
    assert_eq!(
        claims.len() + untestable.len(),
        spec_count,
        "every shipped spec is evaluated on `local` or listed as not testable"
    );
    for u in untestable {
        assert_eq!(u["status"], "not_testable");
        assert!(!u["reason"].as_str().unwrap().is_empty());
    }
    for claim in claims {
        for key in ["id", "claim", "source", "status", "file", "model_sets"] {
            assert!(claim.get(key).is_some(), "claim lacks `{key}`");
        }
        // A claim whose roles only the ladder binds (overopt, entreg, sft_on_rlhf) has no
        // model set here: listed, with nothing to evaluate.
        let Some(set) = claim["model_sets"].as_array().unwrap().first() else {
            continue;
        };
        assert_eq!(set["model_set"], "local");
        for e in set["expectations"].as_array().unwrap() {
            assert!(e["verdict"].is_string() && e["that"].is_string());
        }
        for m in set["measurements"].as_array().unwrap() {
            for key in [
                "model",
                "role",
                "prompt",
                "entropy",
                "entropy_low",
                "entropy_high",
                "coverage",
                "mode",
                "mode_prob",
                "requests",
            ] {
                assert!(m.get(key).is_some(), "measurement lacks `{key}`");
            }
            let (lo, pt, hi) = (
                m["entropy_low"].as_f64().unwrap(),
                m["entropy"].as_f64().unwrap(),
                m["entropy_high"].as_f64().unwrap(),
            );
            assert!(lo <= pt && pt <= hi, "{lo} <= {pt} <= {hi}");
            assert_eq!(m["live_requests"], 0, "replay never requests");
            if m["method"] == "enumerate" {
                assert!(
                    m["requests"].as_u64().unwrap() <= 110,
                    "0..100 takes about 103 requests"
                );
            }
        }
    }
}

#[test]
fn table_lists_retired_models_as_such() {
    let out = crate::modecollapse(&["run", "specs/davinci-97-collapse.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("text-davinci-002") && table.contains("retired, cannot be recorded"),
        "{table}"
    );
}

#[test]
fn a_new_prompt_without_recordings_exits_3_and_says_how_to_record() {
    let project = temp_project();
    // What a pull request that adds a prompt looks like: the set is recorded, the prompt is not.
    edit_spec(project.path(), "footnote1-bash.yaml", |t| {
        t.replace("random number:", "a new random number:")
    });
    let out = run_in(
        project.path(),
        &["run", "specs/footnote1-bash.yaml", "--models", "local"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    for needle in [
        "footnote1-bash",
        "model set `local`",
        "model `gemma-3-270m`",
        "modecollapse run specs/footnote1-bash.yaml --models local --mode record",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
    }
}

#[test]
fn a_set_never_recorded_is_reported_per_set_with_the_command() {
    let project = temp_project();
    std::fs::remove_dir_all(project.path().join("recordings")).unwrap();
    let out = run_in(
        project.path(),
        &["run", "specs/footnote1-bash.yaml", "--models", "local"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "not recorded yet: record with `modecollapse run --models local --mode record`"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("unavailable"), "{stdout}");
}

#[test]
fn strict_claim_that_fails_exits_1() {
    let project = temp_project();
    edit_spec(project.path(), "footnote1-bash.yaml", |t| {
        t.replace("status: tracked", "status: strict")
    });
    let out = run_in(
        project.path(),
        &["run", "specs/footnote1-bash.yaml", "--models", "local"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The recorded local models do not reach 90% coverage on the bash prompt.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("STRICT CLAIM FAILED"), "{stdout}");
}

#[test]
fn invalid_mode_in_environment_exits_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(["run", "specs/footnote1-bash.yaml"])
        .current_dir(crate::root())
        .env("MODECOLLAPSE_MODE", "sometimes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MODECOLLAPSE_MODE"));
}

#[test]
fn unknown_model_set_exits_2_and_lists_known_ones() {
    let out = crate::modecollapse(&["run", "--models", "nope"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("local") && stderr.contains("openai-2023"),
        "{stderr}"
    );
}

#[test]
fn list_and_validate_succeed_on_the_shipped_specs() {
    let out = crate::modecollapse(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crate::modecollapse(&["list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("davinci-97-collapse") && stdout.contains("openai-2023"),
        "{stdout}"
    );
}

#[test]
fn replay_is_byte_stable() {
    let a = crate::modecollapse(&["run", "--format", "json"]);
    let b = crate::modecollapse(&["run", "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn estimate_prints_every_estimator_with_intervals() {
    let out = crate::modecollapse(&[
        "estimate", "--counts", "5,3,2", "--k", "101", "--format", "json",
    ]);
    let json = crate::json_ok(&out);
    assert_eq!(
        (json["n"].as_u64(), json["k"].as_u64()),
        (Some(10), Some(101))
    );
    assert_eq!(
        json["default_estimator"], "nsb",
        "10 samples over 101 outcomes"
    );
    let names: Vec<&str> = json["estimators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["estimator"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["plug_in", "miller_madow", "grassberger", "chao_shen", "nsb"]
    );
    // Plug-in of (0.5, 0.3, 0.2) is 1.0296530140645737 nats (scipy.stats.entropy).
    assert!(
        (json["estimators"][0]["estimate"].as_f64().unwrap() - 1.0296530140645737).abs() < 1e-12
    );
    for row in json["estimators"].as_array().unwrap() {
        let (lo, hi) = (
            row["augmented"][0].as_f64().unwrap(),
            row["augmented"][1].as_f64().unwrap(),
        );
        let point = row["estimate"].as_f64().unwrap();
        assert!(row["standard_error"].as_f64().unwrap() > 0.0, "{row}");
        assert!(lo <= point && point <= hi, "{row}");
    }
    let table = crate::modecollapse(&["estimate", "--counts", "5,3,2"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("default for this N and K: nsb"));
    // The README shows this very output; keep them one.
    let readme = std::fs::read_to_string(crate::root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "$ modecollapse estimate --counts 5,3,2\n{table}```"
        )),
        "README's `estimate` example differs from the output:\n{table}"
    );
    let empty = crate::modecollapse(&["estimate", "--counts", "0,0"]);
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn readme_results_table_is_current() {
    let out = crate::modecollapse(&["run", "--format", "markdown"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let path = crate::root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- results:begin -->\n", "<!-- results:end -->");
    let start = readme.find(begin).expect("README has the results markers") + begin.len();
    let stop = readme.find(end).expect("README has the results markers");
    if readme[start..stop] == table {
        return;
    }
    if std::env::var_os("MODECOLLAPSE_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "the README's results table is stale; regenerate it with \
         `MODECOLLAPSE_UPDATE_README=1 cargo test readme` (it runs `modecollapse run --format markdown`)"
    );
}

#[test]
fn plan_gives_samples_per_model_from_the_pilot() {
    let out = crate::modecollapse(&[
        "plan",
        "specs/sampled-random-integer.yaml",
        "--models",
        "local",
        "--format",
        "json",
    ]);
    let rows = crate::json_ok(&out);
    let row = &rows.as_array().expect("a list of rows")[0];
    assert_eq!(row["that"], "entropy(dpo) > entropy(base)");
    assert_eq!(row["pilot_samples"], 200);
    assert_eq!(row["effect_from"], "pilot");
    let needed = row["needed_in_set"].as_u64().unwrap();
    // A difference of ~2.65 nats with per-sample sds under 1 needs only a handful of samples.
    assert!((2..50).contains(&needed), "{row}");
    assert!(row["needed_samples"].as_u64().unwrap() >= needed);
}

#[test]
fn equivalence_within_a_margin_is_tested_two_one_sided() {
    let project = temp_project();
    // The recorded difference entropy(dpo) − entropy(base) is about 2.65 nats, 95% interval
    // about [2.14, 3.16] (see the snapshot).
    edit_spec(project.path(), "sampled-random-integer.yaml", |t| {
        with_expectations(
            t,
            &[
                "entropy(dpo) ~= entropy(base) +- 3.5",
                "entropy(dpo) ~= entropy(base) +- 1.0",
                "entropy(dpo) ~= entropy(base) +- 2.7",
            ],
        )
    });
    let out = run_in(
        project.path(),
        &[
            "run",
            "specs/sampled-random-integer.yaml",
            "--models",
            "local",
            "--format",
            "json",
        ],
    );
    let json = crate::json_ok(&out);
    let expectations = json["claims"][0]["model_sets"][0]["expectations"]
        .as_array()
        .unwrap();
    let verdicts: Vec<&str> = expectations
        .iter()
        .map(|e| e["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["holds", "refuted", "inconclusive"]);
    let tested = &expectations[0]["instances"][0]["evidence"]["difference"];
    assert!(
        tested["test"]
            .as_str()
            .unwrap()
            .starts_with("TOST within ±3.5"),
        "{tested}"
    );
    assert!(tested["p_adjusted"].as_f64().unwrap() >= tested["p_value"].as_f64().unwrap());
}

#[test]
fn differs_uses_a_permutation_test_for_samples_and_bounds_otherwise() {
    let project = temp_project();
    for spec in ["sampled-random-integer.yaml", "footnote1-bash.yaml"] {
        edit_spec(project.path(), spec, |t| {
            with_expectations(t, &["differs(base, dpo)"])
        });
    }
    let out = run_in(
        project.path(),
        &[
            "run",
            "specs/sampled-random-integer.yaml",
            "specs/footnote1-bash.yaml",
            "--models",
            "local",
            "--format",
            "json",
        ],
    );
    let json = crate::json_ok(&out);
    for claim in json["claims"].as_array().unwrap() {
        let e = &claim["model_sets"][0]["expectations"][0];
        // gemma and SmolLM2 answer very differently on both prompts.
        assert_eq!(e["verdict"], "holds", "{e}");
        let evidence = &e["instances"][0]["evidence"];
        if claim["id"] == "sampled-random-integer" {
            let test = evidence["difference"]["test"].as_str().unwrap();
            assert!(
                test.starts_with("permutation test of equal distributions"),
                "{test}"
            );
            assert!(evidence["difference"]["p_value"].as_f64().unwrap() < 0.05);
        } else {
            assert!(
                evidence["rule"].as_str().unwrap().contains("disjoint"),
                "{evidence}"
            );
        }
    }
}

#[test]
fn junit_fails_strict_claims_only_and_skips_what_does_not_apply() {
    let project = temp_project();
    edit_spec(project.path(), "footnote1-bash.yaml", |t| {
        t.replace("status: tracked", "status: strict")
    });
    let out = run_in(
        project.path(),
        &[
            "run",
            "specs/footnote1-bash.yaml",
            "specs/davinci-97-collapse.yaml",
            "--models",
            "local",
            "--format",
            "junit",
        ],
    );
    // The strict claim's refuted expectation fails the run and is the one <failure>.
    assert_eq!(out.status.code(), Some(1));
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    assert!(
        xml.contains("tests=\"6\" failures=\"1\" skipped=\"4\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("name=\"coverage(*) &gt;= 0.9\"><failure message=\"strict claim: refuted\">"),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.matches("</testcase>").count()
    );
}

#[test]
fn new_scaffolds_a_valid_spec_and_never_overwrites() {
    let project = temp_project();
    let out = run_in(project.path(), &["new", "my-claim"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = project.path().join("specs/my-claim.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("id: my-claim") && text.contains("# "),
        "{text}"
    );
    let out = run_in(project.path(), &["validate", "specs/my-claim.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = run_in(project.path(), &["new", "my-claim"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("failed to create"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "not overwritten"
    );
    let bad = run_in(project.path(), &["new", "../escape"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid id"));
}

#[test]
fn the_example_workflow_runs_the_suite_offline_on_pull_requests() {
    let text = std::fs::read_to_string(crate::root().join(".github/workflows/claims.yml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    assert!(doc["on"].as_mapping().unwrap().contains_key("pull_request"));
    let steps = doc["jobs"]["claims"]["steps"].as_sequence().unwrap();
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.contains(&"cargo test --locked"), "{runs:?}");
    assert!(
        runs.iter().any(|r| r.contains("--format junit")),
        "{runs:?}"
    );
    // Offline: no step gets a key or sets the mode to anything but replay.
    assert!(
        !text.contains("secrets.") && !text.contains("MODECOLLAPSE_MODE"),
        "{text}"
    );
}

#[test]
fn committed_schemas_are_current_and_every_shipped_file_names_its_schema() {
    use modecollapse::spec::schema;
    for (file, value) in [
        (schema::SPEC_SCHEMA_FILE, schema::spec_schema()),
        (schema::MODEL_SET_SCHEMA_FILE, schema::model_set_schema()),
    ] {
        let committed = std::fs::read_to_string(crate::root().join("schema").join(file)).unwrap();
        assert!(
            committed == schema::render(&value),
            "schema/{file} is stale: regenerate it with `cargo run -- schema`"
        );
    }
    for (dir, file) in [
        ("specs", schema::SPEC_SCHEMA_FILE),
        ("models", schema::MODEL_SET_SCHEMA_FILE),
    ] {
        for e in std::fs::read_dir(crate::root().join(dir)).unwrap() {
            let path = e.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let want = format!("# yaml-language-server: $schema=../schema/{file}");
            assert!(
                text.starts_with(&want),
                "{} does not start with `{want}`",
                path.display()
            );
        }
    }
}

#[test]
fn diff_between_two_recorded_versions_lists_the_changes() {
    let out = crate::modecollapse(&[
        "diff",
        "local",
        "local@parallel2",
        "specs/footnote1-bash.yaml",
        "specs/sampled-random-integer.yaml",
        "--format",
        "json",
    ]);
    let diffs = crate::json_ok(&out);
    let figure = |claim: &str, model: &str| -> Value {
        let c = diffs
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["claim"] == claim)
            .unwrap_or_else(|| panic!("{claim} in {diffs}"));
        c["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["model"] == model)
            .unwrap()
            .clone()
    };
    // Two slots and concurrent requests moved gemma's logprobs (recorded, not simulated). With
    // the vocabulary the bounds are under 0.005 nats wide, so the 0.08-nat move is a change
    // the data prove (before, 0.6-nat-wide bounds could only call it "moved within bounds").
    let gemma = figure("footnote1-bash", "gemma-3-270m");
    assert_eq!(gemma["drift"], "changed (bounds disjoint)", "{gemma}");
    assert!(gemma["delta"].as_f64().unwrap().abs() > 0.01, "{gemma}");
    let sampled = figure("sampled-random-integer", "gemma-3-270m");
    assert!(
        sampled["test"]
            .as_str()
            .unwrap()
            .contains("G test of homogeneity"),
        "{sampled}"
    );
    assert!(sampled["p_adjusted"].as_f64().is_some(), "{sampled}");
    // A version that is not recorded at all is named, never a crash.
    let bad = crate::modecollapse(&["run", "--models", "local@../x"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("version"));
}

/// No shipped spec is `not_testable` any more (the ladder made the last three testable), so
/// this keeps the form working: listed with its reason, never run, and not an error.
#[test]
fn a_not_testable_spec_is_listed_with_its_reason() {
    let project = temp_project();
    std::fs::write(
        project.path().join("specs/untestable-example.yaml"),
        "version: 1\nid: untestable-example\nclaim: A claim about training data.\n\
         source: Nowhere.\nstatus: not_testable\nreason: The data are not released.\n",
    )
    .unwrap();
    let out = run_in(
        project.path(),
        &[
            "run",
            "--models",
            "local",
            "--format",
            "json",
            "specs/untestable-example.yaml",
            "specs/footnote1-bash.yaml",
        ],
    );
    let json = crate::json_ok(&out);
    let listed = json["not_testable"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], "untestable-example");
    assert_eq!(listed[0]["reason"], "The data are not released.");
    assert_eq!(json["summary"]["not_testable"], 1);
}

#[test]
fn modecollapse_models_limits_the_sets_when_no_flag_is_given() {
    let run = |models: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
            .args(args)
            .current_dir(crate::root())
            .env_remove("MODECOLLAPSE_MODE")
            .env("MODECOLLAPSE_MODELS", models)
            .output()
            .expect("the binary runs")
    };
    let sets = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["claims"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["model_sets"].as_array().unwrap())
            .map(|s| s["model_set"].as_str().unwrap().to_string())
            .collect()
    };
    let spec = "specs/footnote1-bash.yaml";
    let only_local = crate::json_ok(&run("local", &["run", spec, "--format", "json"]));
    assert_eq!(sets(&only_local), ["local".to_string()].into());
    let two = crate::json_ok(&run("local, ladder", &["run", spec, "--format", "json"]));
    assert_eq!(
        sets(&two),
        ["ladder".to_string(), "local".to_string()].into()
    );
    // The flag wins over the variable.
    let flag = crate::json_ok(&run(
        "local",
        &["run", spec, "--models", "ladder", "--format", "json"],
    ));
    assert_eq!(sets(&flag), ["ladder".to_string()].into());
    // A name that is no set is an input error that names it.
    let typo = run("locl", &["run", spec]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("locl"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
}
