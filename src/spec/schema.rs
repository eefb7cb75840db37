//! JSON Schemas of spec and model-set files, generated from the Rust types that read them, for
//! editors with a YAML language server (each shipped file names its schema on line 1).
//!
//! The schemas describe the YAML forms (`kind:` plus the fields of that kind), which is what a
//! user writes; rules that span fields (an expectation's roles must be in `roles`, a `kind`'s
//! required fields) are checked by `modecollapse validate`, not by the schema.

use super::claim::{ClaimSpec, UntestableSpec};
use super::model_set::ModelSet;
use serde_json::Value;

/// The schema of a spec file: a claim, or a not-testable claim.
pub fn spec_schema() -> Value {
    let claim = schemars::schema_for!(ClaimSpec);
    let untestable = schemars::schema_for!(UntestableSpec);
    let mut claim = serde_json::to_value(claim).expect("a schema is JSON");
    let untestable = serde_json::to_value(untestable).expect("a schema is JSON");
    // One document: the claim's definitions plus the not-testable form as an alternative.
    let defs = claim
        .get_mut("$defs")
        .and_then(Value::as_object_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut defs = serde_json::Map::from_iter(defs);
    if let Some(extra) = untestable.get("$defs").and_then(Value::as_object) {
        for (k, v) in extra {
            defs.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let strip = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
            o.remove("$defs");
        }
        v
    };
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "modecollapse spec",
        "description": "One claim per file (README, \"Spec format\"); `status: not_testable` files take the second form.",
        "anyOf": [strip(claim), strip(untestable)],
        "$defs": defs,
    })
}

/// The schema of a model-set file.
pub fn model_set_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ModelSet)).expect("a schema is JSON")
}

/// The file name each schema is committed under (in `schema/`).
pub const SPEC_SCHEMA_FILE: &str = "spec.schema.json";
/// The model-set schema's file name.
pub const MODEL_SET_SCHEMA_FILE: &str = "model-set.schema.json";

/// A schema as committed: pretty JSON with a final newline.
pub fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("a schema is JSON");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_name_the_fields_users_write() {
        let spec = render(&spec_schema());
        for field in [
            "\"claim\"",
            "\"outcomes\"",
            "\"method\"",
            "\"expect\"",
            "\"reason\"",
            "\"min_coverage\"",
        ] {
            assert!(spec.contains(field), "{field} missing");
        }
        let set = render(&model_set_schema());
        for field in ["\"base_url\"", "\"max_top_logprobs\"", "\"llama_cpp\""] {
            assert!(set.contains(field), "{field} missing");
        }
    }
}
