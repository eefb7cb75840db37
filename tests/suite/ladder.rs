//! The ladder set (models/ladder.yaml) against what the server loads
//! (adapters/ladder/manifest.json, in order: adapter i is the manifest's i-th rung), and its
//! base against the plain gemma of `local` (the same requests, identical logprobs).

use modecollapse::spec::parse_model_set;
use sha2::{Digest, Sha256};

/// The manifest's rungs in their order, each with its file and sha256.
fn manifest_rungs() -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(crate::root().join("adapters/ladder/manifest.json")).unwrap();
    // serde_json keeps the file's order (`preserve_order`): the order is the adapter ids.
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["rungs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, r)| {
            let file = r["file"].as_str().unwrap().to_string();
            let sha = r["sha256"].as_str().unwrap().to_string();
            (n.clone(), file, sha)
        })
        .collect()
}

#[test]
fn each_ladder_model_applies_its_own_committed_adapter_by_its_manifest_place() {
    let path = crate::root().join("models/ladder.yaml");
    let set = parse_model_set(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    let rungs = manifest_rungs();
    assert!(!rungs.is_empty());
    let mut bases = 0;
    for m in &set.models {
        assert!(!m.lora.is_empty(), "{}: no `lora:`", m.name);
        assert!(
            m.lora.iter().all(|l| (l.id as usize) < rungs.len()),
            "{}: an adapter id beyond the manifest's {} rungs",
            m.name,
            rungs.len()
        );
        let on: Vec<_> = m.lora.iter().filter(|l| l.scale != 0.0).collect();
        if m.role == modecollapse::spec::Role::Base {
            assert!(on.is_empty(), "the base applies no adapter");
            bases += 1;
            continue;
        }
        assert_eq!(on.len(), 1, "{}: one adapter", m.name);
        assert_eq!(on[0].scale, 1.0, "{}: applied as trained", m.name);
        let (rung, file, sha) = &rungs[on[0].id as usize];
        assert_eq!(
            &m.name, rung,
            "adapter {} is the manifest's {rung}",
            on[0].id
        );
        // The rung's role is the name's stem (overopt-kl1 → overopt), or the stem names a
        // second run of the role's objective (overopt_gradual-kl2 → overopt).
        let stem = rung.split('-').next().unwrap();
        assert!(
            stem == m.role.as_str() || stem == format!("{}_gradual", m.role),
            "{}: role {} for a rung of {stem}",
            m.name,
            m.role
        );
        // Only committed adapters: the file is there and is what the manifest says.
        let bytes = std::fs::read(crate::root().join("adapters/ladder").join(file))
            .unwrap_or_else(|e| panic!("{}: adapter {file}: {e}", m.name));
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha, "{file}");
    }
    assert_eq!(bases, 1);
    // What the set says it does not record names real specs.
    for n in &set.not_recorded {
        assert!(
            crate::root()
                .join(format!("specs/{}.yaml", n.spec))
                .exists(),
            "not_recorded: no spec {}",
            n.spec
        );
    }
}

/// What a logprob line asks (prompt id, continuation ids, continuation text, top k), and the
/// tokens it lists as (id, logprob).
type LogprobLines =
    std::collections::BTreeMap<(String, String, String, u64), Vec<(Option<u64>, f64)>>;

/// The logprob lines of a recording.
fn logprob_lines(path: &std::path::Path) -> LogprobLines {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("key").is_some() && v.get("top").is_some())
        .map(|v| {
            let what = (
                v["prompt"].as_str().unwrap().to_string(),
                v.get("ids").map_or(String::new(), |i| i.to_string()),
                v.get("text").map_or(String::new(), |t| t.to_string()),
                v["top_k"].as_u64().unwrap(),
            );
            let top = v["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (t[0].as_u64(), t[2].as_f64().unwrap()))
                .collect();
            (what, top)
        })
        .collect()
}

#[test]
fn the_ladder_base_with_every_adapter_at_scale_0_gave_exactly_the_plain_gemma_logprobs() {
    // Recorded from two servers: the ladder's (every adapter loaded, the request naming
    // adapter 0 at scale 0, one thread) and local's gemma (no adapter, two threads).
    let ladder = logprob_lines(&crate::root().join("recordings/ladder/gemma-3-270m.jsonl"));
    let local = logprob_lines(&crate::root().join("recordings/local/gemma-3-270m.jsonl"));
    let mut common = 0;
    for (what, top) in &ladder {
        if let Some(plain) = local.get(what) {
            assert_eq!(top, plain, "{what:?}");
            common += 1;
        }
    }
    assert!(common >= 100, "only {common} requests in common");
}
