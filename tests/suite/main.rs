//! The integration test binary: one binary, one module per concern (link time stays low).

mod bad_specs;
mod batches;
mod cli;
mod fault_server;
mod faults;
mod fuzz;
mod hostile;
mod interruptions;
mod ladder;
mod live;
mod measure;
mod report;
mod secrets;

/// The package root; cargo runs tests from it, but say so explicitly.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The JSON a run printed, after checking that it exited 0 (its stderr says why when not).
pub fn json_ok(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Runs the built binary with arguments from the package root.
pub fn modecollapse(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(args)
        .current_dir(root())
        .env_remove("MODECOLLAPSE_MODE")
        .env_remove("MODECOLLAPSE_MODELS")
        .output()
        .expect("the binary runs")
}
