//! One test per spec file: evaluate it on every model set (replaying recordings unless
//! `MODECOLLAPSE_MODE` says otherwise) and compare each (spec, model set) with its snapshot under
//! `snapshots/`. Strict claims that do not hold fail here; tracked ones fail only when their
//! verdicts or figures changed (review with `cargo insta review`).
//!
//! With `MODECOLLAPSE_VERSIONS=all` the recorded versions (`recordings/SET@VERSION/`) are checked
//! too, each against its own snapshot `spec@SET@VERSION`; a spec a version did not record is
//! reported as not recorded there, not as a failure.

use modecollapse::project::{Project, RunOptions, mode_from_env};
use modecollapse::report::snapshot_value;
use rstest::rstest;
use std::path::PathBuf;

#[rstest]
fn spec(#[files("specs/*.yaml")] path: PathBuf) {
    let project = Project::new(crate::root());
    let relative = path
        .strip_prefix(crate::root())
        .unwrap_or(&path)
        .to_path_buf();
    let catalog = project
        .load(&[relative], &[])
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(u) = catalog.untestable.first() {
        // Not-testable claims are listed, never run; their snapshot keeps the reason in review.
        insta::with_settings!({
            snapshot_path => crate::root().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            info => &relative_display(&path),
        }, {
            insta::assert_yaml_snapshot!(u.spec.id.clone(), u.spec);
        });
        return;
    }
    let mode = mode_from_env().unwrap_or_else(|e| panic!("{e}"));
    let result = project
        .run(&catalog, RunOptions::new(mode))
        .unwrap_or_else(|e| panic!("{e}"));
    let claim = &result.claims[0];
    assert!(
        !claim.model_sets.is_empty(),
        "no model set binds a role of {}",
        claim.spec.id
    );
    for set in &claim.model_sets {
        insta::with_settings!({
            snapshot_path => crate::root().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            info => &format!("{} on model set {}", relative_display(&path), set.model_set),
        }, {
            insta::assert_yaml_snapshot!(format!("{}@{}", claim.spec.id, set.model_set), snapshot_value(claim, set));
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
}

fn relative_display(path: &std::path::Path) -> String {
    path.strip_prefix(crate::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every recorded version of every set, against its own snapshots.
fn check_versions(project: &Project, path: &std::path::Path) {
    let versions = modecollapse::spec::recorded_versions(&project.recordings_dir());
    if versions.is_empty() {
        return;
    }
    let relative = path
        .strip_prefix(crate::root())
        .unwrap_or(path)
        .to_path_buf();
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
        insta::with_settings!({
            snapshot_path => crate::root().join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            info => &format!("{} on model set {}", relative_display(path), set.model_set),
        }, {
            insta::assert_yaml_snapshot!(format!("{}@{}", claim.spec.id, set.model_set), snapshot_value(claim, set));
        });
    }
}
