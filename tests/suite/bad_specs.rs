//! The bad-spec corpus: every file `tests/bad-specs/<case>.yaml` must make `modecollapse
//! validate` exit with code 2 and print exactly `tests/bad-specs/<case>.expected` (an error with
//! file:line:column and the expected form), never panic.

use rstest::rstest;
use std::path::PathBuf;

const CORPUS: &str = "tests/bad-specs";

/// Files a case validates: the case itself, plus its `-twin` for cross-file checks.
fn files_of(case: &str) -> Vec<String> {
    let mut files = vec![format!("{CORPUS}/{case}.yaml")];
    let twin = format!("{CORPUS}/{case}-twin.yaml");
    if crate::root().join(&twin).exists() {
        files.push(twin);
    }
    files
}

fn check(case: &str) {
    let files = files_of(case);
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = crate::modecollapse(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "case {case}: exit code; stderr:\n{stderr}"
    );
    let expected =
        std::fs::read_to_string(crate::root().join(CORPUS).join(format!("{case}.expected")))
            .unwrap_or_else(|e| panic!("case {case} has no .expected file: {e}"));
    assert_eq!(stderr, expected, "case {case}: error text");
    let located = regex::Regex::new(r"(?m)^tests/bad-specs/[a-z0-9-]+\.yaml:\d+:\d+: ").unwrap();
    assert!(
        located.is_match(&stderr),
        "case {case}: the error names file:line:column"
    );
}

#[rstest]
fn bad_spec(#[files("tests/bad-specs/*.yaml")] path: PathBuf) {
    let case = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 file name");
    if case.ends_with("-twin") {
        return; // validated together with its case
    }
    check(case);
}

#[test]
fn every_case_has_an_expectation_file_and_vice_versa() {
    let dir = crate::root().join(CORPUS);
    let stems = |ext: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|s| !s.ends_with("-twin"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(stems("yaml"), stems("expected"));
}

#[test]
fn unreadable_file_is_located_and_exits_2() {
    // A directory where a file is expected cannot be committed to git, so it is made here.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unreadable.yaml");
    std::fs::create_dir(&path).unwrap();
    let out = crate::modecollapse(&["validate", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1:1: failed to read the file", path.display())),
        "{stderr}"
    );
}

#[test]
fn missing_file_is_located_and_exits_2() {
    let out = crate::modecollapse(&["validate", "specs/no-such-spec.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("specs/no-such-spec.yaml:1:1: failed to read the file"),
        "{stderr}"
    );
}

#[test]
fn all_problems_of_a_run_are_reported_together() {
    let out = crate::modecollapse(&[
        "validate",
        "tests/bad-specs/unknown-field.yaml",
        "tests/bad-specs/wrong-type.yaml",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown-field.yaml:6:1") && stderr.contains("wrong-type.yaml:16:10"),
        "{stderr}"
    );
}
