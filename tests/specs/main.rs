//! One test per spec file, found when the tests run (a spec added after the test binary was
//! built is tested at once): evaluate it on every model set (replaying recordings unless
//! `MODECOLLAPSE_MODE` says otherwise) and compare each (spec, model set) with its snapshot under
//! `snapshots/`. Strict claims that do not hold fail here; tracked ones fail only when their
//! verdicts or figures changed (review with `cargo insta review`).
//!
//! `MODECOLLAPSE_MODELS=SET,…` limits the model sets, as for `run` (`MODECOLLAPSE_MODE=live
//! MODECOLLAPSE_MODELS=local cargo test --test specs` checks one live set and no other).
//!
//! With `MODECOLLAPSE_VERSIONS=all` the recorded versions (`recordings/SET@VERSION/`) are checked
//! too, each against its own snapshot `spec@SET@VERSION`; a spec a version did not record is
//! reported as not recorded there, not as a failure.
//!
//! Its own test binary (`harness = false`, datatest-stable's harness) because libtest knows only
//! the tests compiled in; every other integration test is in `tests/suite`.

use modecollapse::project::{Project, RunOptions, mode_from_env};
use modecollapse::report::snapshot_value;
use std::path::{Path, PathBuf};

datatest_stable::harness! {
    { test = spec, root = "specs", pattern = r"\.yaml$" },
}

/// The package root; cargo runs tests from it, but say so explicitly.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// insta's settings for a snapshot of this binary: flat files under `snapshots/`, named by the
/// caller, with `info` saying which spec and set it is.
fn snapshot_settings(info: &str) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_info(&info);
    settings
}

fn spec(path: &Path) -> datatest_stable::Result<()> {
    let path = root().join(path);
    let project = Project::new(root());
    let relative = path.strip_prefix(root()).unwrap_or(&path).to_path_buf();
    // MODECOLLAPSE_MODELS limits the sets, as it does for `run` (e.g. live against one server).
    let only = modecollapse::project::models_from_env();
    let catalog = project
        .load(&[relative], &only)
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(u) = catalog.untestable.first() {
        // Not-testable claims are listed, never run; their snapshot keeps the reason in review.
        snapshot_settings(&relative_display(&path)).bind(|| {
            insta::assert_yaml_snapshot!(u.spec.id.clone(), u.spec);
        });
        return Ok(());
    }
    let mode = mode_from_env().unwrap_or_else(|e| panic!("{e}"));
    let result = project
        .run(&catalog, RunOptions::new(mode))
        .unwrap_or_else(|e| panic!("{e}"));
    let claim = &result.claims[0];
    if claim.model_sets.is_empty() && !only.is_empty() {
        // None of the sets asked for binds this claim's roles: nothing to check here.
        return Ok(());
    }
    assert!(
        !claim.model_sets.is_empty(),
        "no model set binds a role of {}",
        claim.spec.id
    );
    for set in &claim.model_sets {
        let info = format!("{} on model set {}", relative_display(&path), set.model_set);
        snapshot_settings(&info).bind(|| {
            insta::assert_yaml_snapshot!(
                format!("{}@{}", claim.spec.id, set.model_set),
                snapshot_value(claim, set)
            );
        });
    }
    if std::env::var("MODECOLLAPSE_VERSIONS").as_deref() == Ok("all") {
        check_versions(&project, &path);
    }
    assert!(
        !claim.strict_failure(),
        "strict claim {} does not hold:\n{}",
        claim.spec.id,
        modecollapse::report::to_table(&result)
    );
    Ok(())
}

fn relative_display(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every recorded version of every set, against its own snapshots.
fn check_versions(project: &Project, path: &Path) {
    let versions = modecollapse::spec::recorded_versions(&project.recordings_dir());
    if versions.is_empty() {
        return;
    }
    let relative = path.strip_prefix(root()).unwrap_or(path).to_path_buf();
    let catalog = project
        .load(&[relative], &versions)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut options = RunOptions::new(modecollapse::source::Mode::Replay);
    options.missing_is_unavailable = true;
    let result = project
        .run(&catalog, options)
        .unwrap_or_else(|e| panic!("{e}"));
    let claim = &result.claims[0];
    for set in &claim.model_sets {
        let info = format!("{} on model set {}", relative_display(path), set.model_set);
        snapshot_settings(&info).bind(|| {
            insta::assert_yaml_snapshot!(
                format!("{}@{}", claim.spec.id, set.model_set),
                snapshot_value(claim, set)
            );
        });
    }
}
