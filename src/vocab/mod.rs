//! A model's vocabulary as data (token id → bytes, or special), and the facts about it that
//! make the logprob methods exact: which tokens can still change an outcome.
//!
//! Why: at a node such as `" 4"`, the mass that top-k leaves unseen could become 4 or 40..49
//! as far as the response shows. The vocabulary decides it: if the only tokens that can extend
//! `" 4"` into another outcome are the ten digits, and those are listed, every unseen token
//! ends the number and the unseen mass belongs to 4 exactly; an unlisted digit has at most the
//! probability of the smallest listed token. [`Vocabulary::viable`] computes those tokens once
//! per outcome set; the measurement records them ([`facts`]) so that replay needs no
//! tokenizer file, and a changed vocabulary is detected by its fingerprint.
//!
//! Sources: a GGUF file ([`gguf`], llama.cpp), a Hugging Face `tokenizer.json` ([`hf`], vLLM,
//! TGI, hosted open-weight models), or a named tiktoken encoding ([`tiktoken`], OpenAI).

mod byte_level;
pub mod facts;
mod gguf;
mod hf;
mod tiktoken;

pub use crate::error::VocabError;
pub use facts::{FactsStore, OutcomeFacts, ViableToken, VocabularyFacts};
pub use tiktoken::encode as encode_tiktoken;

use crate::spec::{OutcomeSet, PrefixState, TokenizerKind, TokenizerSpec};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::Path;

/// What a token id stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenBytes {
    /// Ordinary text (possibly part of a UTF-8 character).
    Bytes(Vec<u8>),
    /// A control, unknown or unused token: no text. The logprob methods read it as the end of
    /// generation, as they read a special token in a response.
    Special,
}

/// Where a vocabulary was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VocabularySource {
    /// A GGUF file's `tokenizer.ggml.*` metadata, with its tokenizer model (`llama`, `gpt2`).
    Gguf {
        /// `tokenizer.ggml.model`.
        tokenizer_model: String,
    },
    /// A Hugging Face `tokenizer.json`.
    HfJson,
    /// A named tiktoken encoding.
    Tiktoken {
        /// The encoding name, e.g. `cl100k_base`.
        encoding: String,
    },
}

impl std::fmt::Display for VocabularySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VocabularySource::Gguf { tokenizer_model } => write!(f, "gguf ({tokenizer_model})"),
            VocabularySource::HfJson => f.write_str("tokenizer.json"),
            VocabularySource::Tiktoken { encoding } => write!(f, "tiktoken {encoding}"),
        }
    }
}

/// A vocabulary: token `i` is `tokens[i]`.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    source: VocabularySource,
    tokens: Vec<TokenBytes>,
}

impl Vocabulary {
    /// A vocabulary from its tokens in id order.
    pub fn new(source: VocabularySource, tokens: Vec<TokenBytes>) -> Vocabulary {
        Vocabulary { source, tokens }
    }

    /// Loads the vocabulary a model set declares. File paths come from the environment
    /// variable the declaration names, since tokenizer files live outside the project.
    pub fn load(spec: &TokenizerSpec) -> Result<Vocabulary, VocabError> {
        match spec.kind {
            TokenizerKind::Tiktoken => {
                let name = spec.encoding.as_deref().unwrap_or_default();
                tiktoken::load(name)
            }
            TokenizerKind::Gguf | TokenizerKind::HfJson => {
                let var = spec.path_env.as_deref().unwrap_or_default();
                let path = std::env::var_os(var)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| VocabError::PathUnset(var.to_string()))?;
                let path = Path::new(&path);
                match spec.kind {
                    TokenizerKind::Gguf => gguf::read(path),
                    _ => hf::read(path),
                }
            }
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token with this id.
    pub fn token(&self, id: u32) -> Option<&TokenBytes> {
        self.tokens.get(id as usize)
    }

    /// Where it was read from.
    pub fn source(&self) -> &VocabularySource {
        &self.source
    }

    /// SHA-256 over every token's id, kind and bytes (first 16 bytes, hex): equal
    /// fingerprints mean the same id → bytes map, whatever file it came from.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for (id, t) in self.tokens.iter().enumerate() {
            h.update((id as u64).to_le_bytes());
            match t {
                TokenBytes::Special => h.update([0u8]),
                TokenBytes::Bytes(b) => {
                    h.update([1u8]);
                    h.update((b.len() as u64).to_le_bytes());
                    h.update(b);
                }
            }
        }
        hex::encode(&h.finalize()[..16])
    }

    /// What the vocabulary can do at the open prefixes of `outcomes` (see [`open_prefixes`]):
    /// the *viable* tokens, which move some open prefix to another state than ending there
    /// would (an open one, or another outcome), sorted by id; and per open prefix the number
    /// of other tokens that *kill* it (turn an outcome the prefix would end as into none, as
    /// a letter after `" A"` does). Every remaining token, and every special token, has the
    /// effect of ending generation at every open prefix.
    ///
    /// A token is *inert* at an open prefix `s` when `s + token` classifies as ending at `s`
    /// would (the same outcome, or no outcome). Decided states are closed under extension (a
    /// continuation that decides an outcome cannot be undone by more text), so a token whose
    /// first character is already inert at every open prefix is inert whatever follows; only
    /// tokens whose first character is not are checked in full. A token that does not start
    /// with a whole UTF-8 character is kept (viable) unless no outcome text has a non-ASCII
    /// character, in which case its first character, non-ASCII, cannot continue one.
    pub fn viable(&self, outcomes: &OutcomeSet) -> OutcomeFacts {
        let open = open_prefixes(outcomes);
        let ends: Vec<Option<usize>> = open.iter().map(|s| outcomes.classify_end(s)).collect();
        let ascii_outcomes = (0..outcomes.len()).all(|i| outcomes.label(i).is_ascii());
        // What `token` does at open prefix i: None when inert, Some(true) when it kills.
        let effect = |i: usize, text: &str| {
            let state = outcomes.classify(&format!("{}{text}", open[i]));
            match (ends[i], state) {
                (Some(n), PrefixState::Complete(m)) if n == m => None,
                (None, PrefixState::Dead) => None,
                (Some(_), PrefixState::Dead) => Some(true),
                _ => Some(false),
            }
        };
        let mut live_first: std::collections::HashMap<char, bool> = Default::default();
        let mut viable = Vec::new();
        let mut kills = vec![0usize; open.len()];
        for (id, t) in self.tokens.iter().enumerate() {
            let TokenBytes::Bytes(bytes) = t else {
                continue;
            };
            if bytes.is_empty() {
                // No text: continues nothing (and is read as the end of generation).
                continue;
            }
            let text = match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(e) if e.valid_up_to() > 0 => String::from_utf8_lossy(bytes).into_owned(),
                Err(_) => {
                    if !ascii_outcomes {
                        viable.push(ViableToken::new(id as u32, bytes));
                    }
                    continue;
                }
            };
            let first = text
                .chars()
                .next()
                .expect("non-empty text has a first character");
            let live = *live_first.entry(first).or_insert_with(|| {
                (0..open.len()).any(|i| effect(i, &first.to_string()).is_some())
            });
            if !live {
                continue;
            }
            let effects: Vec<Option<bool>> = (0..open.len()).map(|i| effect(i, &text)).collect();
            if effects.contains(&Some(false)) {
                viable.push(ViableToken::new(id as u32, bytes));
            } else {
                for (i, e) in effects.iter().enumerate() {
                    kills[i] += usize::from(*e == Some(true));
                }
            }
        }
        OutcomeFacts {
            viable,
            killers: open
                .into_iter()
                .zip(kills)
                .filter(|(_, k)| *k > 0)
                .collect(),
        }
    }
}

/// The texts at which a continuation is still open for `outcomes`: every prefix of an
/// outcome's text (`""`, `" "`, `" 9"`, `" 97"` for `" 97"`) that classifies as open. These
/// are the only texts an enumeration expands, since an open continuation can still become an
/// outcome and so is a prefix of one.
pub fn open_prefixes(outcomes: &OutcomeSet) -> Vec<String> {
    let mut set = BTreeSet::new();
    for i in 0..outcomes.len() {
        let label = outcomes.label(i);
        for (cut, _) in label.char_indices().chain([(label.len(), ' ')]) {
            let s = &label[..cut];
            if outcomes.classify(s) == PrefixState::Open {
                set.insert(s.to_string());
            }
        }
    }
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::IntegerRange;

    fn zero_to_100() -> OutcomeSet {
        OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 0,
            hi: 100,
        })
    }

    /// A synthetic vocabulary (unit test data): digits, a byte-fallback digit, a space, words.
    fn synthetic() -> Vocabulary {
        let b = |s: &str| TokenBytes::Bytes(s.as_bytes().to_vec());
        Vocabulary::new(
            VocabularySource::HfJson,
            vec![
                TokenBytes::Special,
                b(" "),
                b("9"),
                b("7"),
                b(" between"),
                b("."),
                b("  "),
                b("97"),
                b(" 4"),
                b("x9"),
                TokenBytes::Bytes(vec![0xe2]),
                b(""),
            ],
        )
    }

    #[test]
    fn open_prefixes_of_zero_to_100() {
        let open = open_prefixes(&zero_to_100());
        // "", " ", " 0".." 9", " 10".." 99", " 100": 1 + 1 + 10 + 90 + 1.
        assert_eq!(open.len(), 103);
        assert!(open.contains(&String::new()) && open.contains(&" 100".to_string()));
    }

    #[test]
    fn viable_tokens_are_those_that_extend_a_number() {
        let v = synthetic();
        let facts = v.viable(&zero_to_100());
        let ids: Vec<u32> = facts.viable.iter().map(|t| t.id).collect();
        assert!(facts.killers.is_empty(), "{:?}", facts.killers);
        // " " (root → open), "9", "7", "97" (extend digits), " 4" (root → open " 4").
        // Not: " between", ".", "  " (inert everywhere), "x9", a lone UTF-8 lead byte
        // (the outcomes are ASCII), the empty token, the special token.
        assert_eq!(ids, vec![1, 2, 3, 7, 8]);
    }

    #[test]
    fn word_tokens_kill_a_choice_and_are_counted_not_listed() {
        let b = |s: &str| TokenBytes::Bytes(s.as_bytes().to_vec());
        let v = Vocabulary::new(
            VocabularySource::HfJson,
            vec![b(" A"), b(" B"), b("pple"), b("."), b(" Apple"), b("x")],
        );
        let choices = OutcomeSet::Choices(crate::spec::ChoiceList {
            texts: vec![" A".into(), " B".into()],
        });
        let facts = v.viable(&choices);
        let ids: Vec<u32> = facts.viable.iter().map(|t| t.id).collect();
        // " A", " B" decide outcomes at the root; "pple" and "x" kill " A" and " B"; "." and
        // " Apple" are inert everywhere.
        assert_eq!(ids, vec![0, 1]);
        assert_eq!(facts.killers.get(" A"), Some(&2));
        assert_eq!(facts.killers.get(" B"), Some(&2));
    }

    #[test]
    fn fingerprint_changes_with_any_token() {
        let a = synthetic();
        let mut tokens = a.tokens.clone();
        tokens[5] = TokenBytes::Bytes(b"!".to_vec());
        let b = Vocabulary::new(VocabularySource::HfJson, tokens);
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), synthetic().fingerprint());
    }
}
