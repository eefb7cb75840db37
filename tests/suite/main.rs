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
mod specs;

/// The package root; cargo runs tests from it, but say so explicitly.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the built binary with arguments from the package root.
pub fn modecollapse(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_modecollapse"))
        .args(args)
        .current_dir(root())
        .env_remove("MODECOLLAPSE_MODE")
        .output()
        .expect("the binary runs")
}
