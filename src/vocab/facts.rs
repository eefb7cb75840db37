//! The vocabulary facts a measurement used, recorded beside the responses
//! (`recordings/<set>/<model>.vocab.json`), so that replay needs no tokenizer file and a
//! changed tokenizer is detected by its fingerprint.
//!
//! One small JSON file per model: the vocabulary's source, size and fingerprint, and per
//! outcome set the viable tokens (one per line, sorted by id, so that a change reviews as
//! changed lines). Written atomically (temporary file, rename).

use crate::error::RecordError;
use crate::spec::OutcomeSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FORMAT: &str = "modecollapse-vocabulary";
const VERSION: u32 = 1;

/// A token that can change an outcome of a set at some open prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViableToken {
    /// Token id.
    pub id: u32,
    /// Its text when its bytes are UTF-8, else the lossy rendering.
    pub text: String,
    /// Its bytes in hex, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl ViableToken {
    /// A viable token from its id and bytes.
    pub fn new(id: u32, bytes: &[u8]) -> ViableToken {
        match std::str::from_utf8(bytes) {
            Ok(s) => ViableToken {
                id,
                text: s.to_string(),
                hex: None,
            },
            Err(_) => ViableToken {
                id,
                text: String::from_utf8_lossy(bytes).into_owned(),
                hex: Some(hex::encode(bytes)),
            },
        }
    }

    /// Whether this token's bytes are exactly `bytes`.
    pub fn has_bytes(&self, bytes: &[u8]) -> bool {
        match &self.hex {
            Some(h) => hex::decode(h).is_ok_and(|b| b == bytes),
            None => self.text.as_bytes() == bytes,
        }
    }
}

/// What the measurement of one outcome set used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeFacts {
    /// Every token that can change an outcome at some open prefix; every other token ends
    /// the continuation as the end of generation would.
    pub viable: Vec<ViableToken>,
    /// Per open prefix, how many tokens that are not viable turn it into no outcome where
    /// ending there would decide one (words after `" A"`): only their number matters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub killers: BTreeMap<String, usize>,
}

impl OutcomeFacts {
    /// The viable token with this id.
    pub fn by_id(&self, id: u32) -> Option<&ViableToken> {
        self.viable.iter().find(|v| v.id == id)
    }

    /// The viable token with these bytes (the first, where two share them).
    pub fn by_bytes(&self, bytes: &[u8]) -> Option<&ViableToken> {
        self.viable.iter().find(|v| v.has_bytes(bytes))
    }

    /// The viable tokens a response did not list, and the listed tokens that are not viable.
    /// A listed token is matched by id, or without one by its exact bytes, and removes one
    /// viable token at most, so the unlisted ones are never under-counted.
    pub fn unlisted<'a, 't>(
        &'a self,
        listed: &'t [crate::request::TopToken],
    ) -> (Vec<&'a ViableToken>, Vec<&'t crate::request::TopToken>) {
        let mut remaining: Vec<&ViableToken> = self.viable.iter().collect();
        let mut other = Vec::new();
        for tok in listed {
            let hit = match tok.id {
                Some(id) => remaining.iter().position(|v| v.id == id),
                None => tok
                    .exact_bytes()
                    .and_then(|b| remaining.iter().position(|v| v.has_bytes(b))),
            };
            match hit {
                Some(i) => {
                    remaining.swap_remove(i);
                }
                None => other.push(tok),
            }
        }
        (remaining, other)
    }
}

/// One model's vocabulary facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabularyFacts {
    /// Always `modecollapse-vocabulary`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Where the vocabulary was read from (`gguf (llama)`, `tiktoken cl100k_base`, …).
    pub source: String,
    /// Number of token ids.
    pub size: usize,
    /// [`Vocabulary::fingerprint`](super::Vocabulary::fingerprint).
    pub fingerprint: String,
    /// Per outcome set (keyed by [`outcome_key`]).
    pub outcome_sets: BTreeMap<String, OutcomeFacts>,
}

impl VocabularyFacts {
    /// Facts for a vocabulary, with no outcome set yet.
    pub fn new(vocab: &super::Vocabulary) -> VocabularyFacts {
        VocabularyFacts {
            format: FORMAT.into(),
            version: VERSION,
            source: vocab.source().to_string(),
            size: vocab.len(),
            fingerprint: vocab.fingerprint(),
            outcome_sets: BTreeMap::new(),
        }
    }
}

/// The key of an outcome set in the facts file: its canonical JSON.
pub fn outcome_key(outcomes: &OutcomeSet) -> String {
    serde_json::to_string(outcomes).expect("outcome sets serialise")
}

fn render(facts: &VocabularyFacts) -> String {
    // Hand-laid JSON: one viable token a line, so that a diff shows which tokens changed.
    let mut s = String::from("{\n");
    let field = |k: &str, v: String| format!("  {}: {v},\n", serde_json::to_string(k).unwrap());
    s += &field("format", serde_json::to_string(&facts.format).unwrap());
    s += &field("version", facts.version.to_string());
    s += &field("source", serde_json::to_string(&facts.source).unwrap());
    s += &field("size", facts.size.to_string());
    s += &field(
        "fingerprint",
        serde_json::to_string(&facts.fingerprint).unwrap(),
    );
    s += "  \"outcome_sets\": {";
    let sets: Vec<String> = facts
        .outcome_sets
        .iter()
        .map(|(k, f)| {
            let rows: Vec<String> = f
                .viable
                .iter()
                .map(|t| format!("      {}", serde_json::to_string(t).unwrap()))
                .collect();
            let killers = if f.killers.is_empty() {
                String::new()
            } else {
                format!(
                    ",\n     \"killers\": {}",
                    serde_json::to_string(&f.killers).unwrap()
                )
            };
            format!(
                "\n    {}: {{\"viable\": [\n{}\n    ]{killers}}}",
                serde_json::to_string(k).unwrap(),
                rows.join(",\n")
            )
        })
        .collect();
    s += &sets.join(",");
    s += if sets.is_empty() {
        "}\n}\n"
    } else {
        "\n  }\n}\n"
    };
    s
}

/// The facts files of a recordings folder, read once each.
#[derive(Debug)]
pub struct FactsStore {
    root: PathBuf,
    cache: Mutex<BTreeMap<PathBuf, Option<VocabularyFacts>>>,
}

impl FactsStore {
    /// Facts under `root` (the recordings folder).
    pub fn new(root: impl Into<PathBuf>) -> FactsStore {
        FactsStore {
            root: root.into(),
            cache: Mutex::default(),
        }
    }

    /// `recordings/<set>/<model>.vocab.json`.
    pub fn path_for(&self, model_set: &str, model: &str) -> PathBuf {
        self.root
            .join(model_set)
            .join(format!("{model}.vocab.json"))
    }

    /// The recorded facts of a model, if any.
    pub fn get(
        &self,
        model_set: &str,
        model: &str,
    ) -> Result<Option<VocabularyFacts>, RecordError> {
        let path = self.path_for(model_set, model);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = cache.get(&path) {
            return Ok(f.clone());
        }
        let facts = read(&path)?;
        cache.insert(path, facts.clone());
        Ok(facts)
    }

    /// Records a model's facts (atomically).
    pub fn put(
        &self,
        model_set: &str,
        model: &str,
        facts: &VocabularyFacts,
    ) -> Result<(), RecordError> {
        let path = self.path_for(model_set, model);
        write_atomic(&path, &render(facts))?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, Some(facts.clone()));
        Ok(())
    }
}

fn read(path: &Path) -> Result<Option<VocabularyFacts>, RecordError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RecordError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let facts: VocabularyFacts = serde_json::from_str(&text).map_err(|e| RecordError::Corrupt {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("not a vocabulary facts file: {e}"),
    })?;
    if facts.format != FORMAT || facts.version != VERSION {
        return Err(RecordError::Corrupt {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "format {:?} version {} (this build reads {FORMAT:?} version {VERSION})",
                facts.format, facts.version
            ),
        });
    }
    Ok(Some(facts))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), RecordError> {
    let io = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("vocab.json.tmp{}", std::process::id()));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_one_token_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = FactsStore::new(dir.path());
        // Synthetic facts (unit test data).
        let mut facts = VocabularyFacts {
            format: FORMAT.into(),
            version: VERSION,
            source: "gguf (llama)".into(),
            size: 3,
            fingerprint: "00".into(),
            outcome_sets: BTreeMap::new(),
        };
        facts.outcome_sets.insert(
            "k".into(),
            OutcomeFacts {
                viable: vec![ViableToken::new(1, b" "), ViableToken::new(2, &[0xe2])],
                killers: [(" A".to_string(), 7)].into(),
            },
        );
        store.put("s", "m", &facts).unwrap();
        let text = std::fs::read_to_string(store.path_for("s", "m")).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.contains("\"id\"")).count(),
            2,
            "{text}"
        );
        assert_eq!(
            FactsStore::new(dir.path()).get("s", "m").unwrap(),
            Some(facts)
        );
        assert!(
            FactsStore::new(dir.path())
                .get("s", "other")
                .unwrap()
                .is_none()
        );
        assert!(ViableToken::new(2, &[0xe2]).has_bytes(&[0xe2]));
    }
}
