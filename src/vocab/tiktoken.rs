//! OpenAI's named BPE encodings (tiktoken), embedded in the `tiktoken-rs` crate.
//!
//! Why embedded: OpenAI's models are only reachable through the API, which never returns its
//! vocabulary; the encodings are public, fixed by name, and shipped inside the crate, so the
//! suite needs no file and no download for them.

use super::{TokenBytes, VocabError, Vocabulary, VocabularySource};
use tiktoken_rs::CoreBPE;

/// The encodings this build knows, and the models that use them.
pub const ENCODINGS: &[(&str, &str)] = &[
    ("r50k_base", "GPT-3: davinci, curie, babbage, ada"),
    (
        "p50k_base",
        "code-davinci-002, text-davinci-002, text-davinci-003",
    ),
    (
        "cl100k_base",
        "davinci-002, babbage-002, gpt-3.5-turbo(-instruct), gpt-4",
    ),
    ("o200k_base", "gpt-4o, gpt-4o-mini"),
];

fn bpe(name: &str) -> Option<&'static CoreBPE> {
    Some(match name {
        "r50k_base" => tiktoken_rs::r50k_base_singleton(),
        "p50k_base" => tiktoken_rs::p50k_base_singleton(),
        "cl100k_base" => tiktoken_rs::cl100k_base_singleton(),
        "o200k_base" => tiktoken_rs::o200k_base_singleton(),
        _ => return None,
    })
}

/// The vocabulary of the named encoding: ranks in order, special tokens (`<|endoftext|>`)
/// and unassigned ranks as [`TokenBytes::Special`].
pub(super) fn load(name: &str) -> Result<Vocabulary, VocabError> {
    let bpe = bpe(name).ok_or_else(|| VocabError::UnknownEncoding {
        name: name.to_string(),
        known: ENCODINGS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let specials: std::collections::BTreeSet<u32> = bpe
        .special_tokens()
        .into_iter()
        .flat_map(|s| bpe.encode_with_special_tokens(s))
        .collect();
    let end = specials.iter().next_back().map_or(0, |s| s + 1);
    // Ordinary ranks are dense from 0; the specials sit after them (with gaps in cl100k).
    let mut tokens = Vec::with_capacity(end as usize);
    let mut rank = 0u32;
    loop {
        let t = if specials.contains(&rank) {
            TokenBytes::Special
        } else {
            match bpe.decode_bytes(&[rank]) {
                Ok(b) => TokenBytes::Bytes(b),
                Err(_) if rank < end => TokenBytes::Special,
                Err(_) => break,
            }
        };
        tokens.push(t);
        rank += 1;
    }
    Ok(Vocabulary::new(
        VocabularySource::Tiktoken {
            encoding: name.to_string(),
        },
        tokens,
    ))
}

/// Encodes `text` as the named encoding would (no special tokens), for token-array prompts.
pub fn encode(name: &str, text: &str) -> Option<Vec<u32>> {
    Some(bpe(name)?.encode_ordinary(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{IntegerRange, OutcomeSet};

    #[test]
    fn gpt3_has_single_token_numbers_and_later_encodings_do_not() {
        // The post's premise: " 97" is one GPT-3 token; the point of declaring tokenizers is
        // that it is not on cl100k_base or o200k_base.
        let r50k = load("r50k_base").unwrap();
        assert_eq!(r50k.len(), 50_257);
        assert_eq!(encode("r50k_base", " 97").unwrap().len(), 1);
        assert_eq!(encode("cl100k_base", " 97").unwrap().len(), 2);
        assert_eq!(encode("o200k_base", " 97").unwrap().len(), 2);
        let cl = load("cl100k_base").unwrap();
        assert_eq!(cl.len(), 100_277);
        let zero_to_100 = OutcomeSet::Integers(IntegerRange {
            prefix: " ".into(),
            lo: 0,
            hi: 100,
        });
        // cl100k_base holds every 1-3 digit string as a token, with and without a space.
        let viable = cl.viable(&zero_to_100).viable;
        // " " and the number tokens "0".."100" (cl100k_base has every 1-3 digit string).
        assert!(viable.len() >= 102, "{}", viable.len());
    }

    #[test]
    fn unknown_encoding_lists_the_known_ones() {
        let err = load("gpt5_base").unwrap_err().to_string();
        assert!(
            err.contains("gpt5_base") && err.contains("cl100k_base"),
            "{err}"
        );
    }
}
