//! Hostile spec and model-set files that cannot live in the bad-spec corpus (too large, not
//! files at all, or made to measure): each is rejected with a located error, quickly.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The limits of `src/spec/load.rs` (`MAX_FILE_BYTES`, `MAX_FLOW_DEPTH`), as a user meets them.
const MAX_FILE_BYTES: u64 = 1 << 20;
const MAX_FLOW_DEPTH: usize = 64;

/// Runs `modecollapse validate` in a project, failing if it has not ended after a minute (it
/// takes milliseconds; the limit only keeps a regression from hanging the suite).
fn validate_in(root: &Path, files: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .arg("validate")
        .args(files)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("validate {files:?} still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// A project with the shipped specs and models; `extra` files are written into it.
fn project_with(extra: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["specs", "models"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(crate::root().join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    for (name, bytes) in extra {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn shipped_spec() -> String {
    std::fs::read_to_string(crate::root().join("specs/footnote1-bash.yaml")).unwrap()
}

fn assert_rejected(out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(expected),
        "missing {expected:?} in:\n{stderr}"
    );
}

#[test]
fn a_spec_over_the_size_cap_is_rejected_before_parsing() {
    let mut text = shipped_spec().replace("id: footnote1-bash", "id: huge");
    let pad = MAX_FILE_BYTES as usize + 1 - text.len() - 2;
    text.push_str(&format!("#{}\n", "x".repeat(pad)));
    assert_eq!(text.len() as u64, MAX_FILE_BYTES + 1);
    let project = project_with(&[("specs/huge.yaml", text.into_bytes())]);
    let out = validate_in(project.path(), &["specs/huge.yaml"]);
    assert_rejected(
        &out,
        &format!(
            "specs/huge.yaml:1:1: file is {} bytes; at most {MAX_FILE_BYTES} are accepted",
            MAX_FILE_BYTES + 1
        ),
    );
}

#[test]
fn a_model_set_over_the_size_cap_is_rejected() {
    let mut text = std::fs::read_to_string(crate::root().join("models/local.yaml"))
        .unwrap()
        .replace("id: local", "id: huge");
    text.push_str(&format!("#{}\n", "x".repeat(MAX_FILE_BYTES as usize)));
    let project = project_with(&[("models/huge.yaml", text.into_bytes())]);
    let out = validate_in(project.path(), &[]);
    assert_rejected(&out, "models/huge.yaml:1:1: file is ");
}

#[cfg(unix)]
#[test]
fn a_device_without_end_is_read_no_further_than_the_cap() {
    // /dev/zero reports no size; reading it whole would never end.
    let out = validate_in(&crate::root(), &["/dev/zero"]);
    assert_rejected(
        &out,
        &format!("/dev/zero:1:1: file holds more than {MAX_FILE_BYTES} bytes, the most accepted"),
    );
}

#[test]
fn a_megabyte_of_brackets_is_rejected_at_the_nesting_limit() {
    // Parsed, this would take most of an hour: the parser's time is quadratic in the depth.
    let spec = shipped_spec().replace("id: footnote1-bash", "id: brackets");
    let n = (MAX_FILE_BYTES as usize - spec.len() - 16) / 2;
    let text = format!("{spec}notes: {}{}\n", "[".repeat(n), "]".repeat(n));
    let line = spec.lines().count() + 1;
    let project = project_with(&[("specs/brackets.yaml", text.into_bytes())]);
    let out = validate_in(project.path(), &["specs/brackets.yaml"]);
    assert_rejected(
        &out,
        &format!(
            "specs/brackets.yaml:{line}:{}: flow collections (`[…]`, `{{…}}`) are nested more \
             than {MAX_FLOW_DEPTH} deep",
            "notes: ".len() + MAX_FLOW_DEPTH + 1
        ),
    );
}

#[test]
fn a_model_set_that_is_not_utf8_is_located() {
    let mut bytes = std::fs::read(crate::root().join("models/local.yaml")).unwrap();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let project = project_with(&[("models/local.yaml", bytes)]);
    let out = validate_in(project.path(), &[]);
    let lines = std::fs::read_to_string(crate::root().join("models/local.yaml"))
        .unwrap()
        .lines()
        .count();
    assert_rejected(
        &out,
        &format!("models/local.yaml:{}:6: file is not valid UTF-8", lines + 1),
    );
}

#[test]
fn anchors_and_aliases_used_as_intended_still_load() {
    // Sharing a prompt text through an alias is legitimate YAML; the limits must allow it.
    let text = shipped_spec()
        .replace("id: footnote1-bash", "id: aliased")
        .replace("    text: |-\n", "    text: &shell |-\n")
        .replace(
            "outcomes:\n",
            "  - name: bash_shuf_again\n    text: *shell\noutcomes:\n",
        );
    assert!(text.contains("*shell"), "{text}");
    let project = project_with(&[("specs/aliased.yaml", text.into_bytes())]);
    let out = validate_in(project.path(), &["specs/aliased.yaml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
