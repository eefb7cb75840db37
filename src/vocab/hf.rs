//! The vocabulary of a Hugging Face `tokenizer.json` (vLLM, TGI and hosted open-weight models).
//!
//! Only the vocabulary is read (ids, pieces, added tokens, and how the decoder turns pieces
//! into bytes), with serde_json: encoding text is not needed for the facts the measurement
//! uses, so the `tokenizers` crate and its native dependencies are not pulled in.

use super::{TokenBytes, VocabError, Vocabulary, VocabularySource, byte_level, gguf};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// Largest `tokenizer.json` read (the largest real ones are about 30 MB).
const MAX_BYTES: u64 = 256 << 20;
/// Largest id accepted, against an id that would allocate gigabytes.
const MAX_ID: u64 = 1 << 24;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    added_tokens: Vec<Added>,
    #[serde(default)]
    decoder: Option<Value>,
    model: Model,
}

#[derive(Deserialize)]
struct Added {
    id: u64,
    content: String,
    #[serde(default)]
    special: bool,
}

#[derive(Deserialize)]
struct Model {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    vocab: Value,
    #[serde(default)]
    byte_fallback: bool,
}

/// How the decoder maps a piece to bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Decoding {
    /// GPT-2 style byte stand-ins.
    ByteLevel,
    /// SentencePiece style: "▁" is a space.
    Metaspace,
    /// Pieces are their text.
    Plain,
}

fn decoder_types(v: &Value, out: &mut Vec<String>) {
    if let Some(t) = v.get("type").and_then(Value::as_str) {
        out.push(t.to_string());
    }
    // `Replace` with "▁" → " " is how Llama-style decoders spell Metaspace.
    if v.get("type").and_then(Value::as_str) == Some("Replace")
        && v.pointer("/pattern/String").and_then(Value::as_str) == Some("\u{2581}")
    {
        out.push("Metaspace".into());
    }
    if let Some(list) = v.get("decoders").and_then(Value::as_array) {
        list.iter().for_each(|d| decoder_types(d, out));
    }
}

pub(super) fn read(path: &Path) -> Result<Vocabulary, VocabError> {
    let display = path.display().to_string();
    let read_err = |source| VocabError::Read {
        path: display.clone(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_BYTES {
        return Err(VocabError::Malformed {
            path: display,
            message: format!("{len} bytes, more than a tokenizer.json holds"),
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    parse(&bytes, &display)
}

fn parse(bytes: &[u8], path: &str) -> Result<Vocabulary, VocabError> {
    let bad = |message: String| VocabError::Malformed {
        path: path.to_string(),
        message,
    };
    let file: File =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not a tokenizer.json: {e}")))?;
    let mut types = Vec::new();
    if let Some(d) = &file.decoder {
        decoder_types(d, &mut types);
    }
    let decoding = if types.iter().any(|t| t == "ByteLevel") {
        Decoding::ByteLevel
    } else if types.iter().any(|t| t == "Metaspace") {
        Decoding::Metaspace
    } else {
        Decoding::Plain
    };
    let byte_fallback = file.model.byte_fallback || types.iter().any(|t| t == "ByteFallback");
    let mut pieces: Vec<(u64, String)> = match (&file.model.kind.as_deref(), &file.model.vocab) {
        (Some("WordPiece"), _) => {
            return Err(bad(
                "a WordPiece vocabulary (an encoder model, not a generative one)".into(),
            ));
        }
        (_, Value::Object(map)) => map
            .iter()
            .map(|(piece, id)| {
                id.as_u64()
                    .map(|id| (id, piece.clone()))
                    .ok_or_else(|| bad(format!("the id of {piece:?} is not a number")))
            })
            .collect::<Result<_, _>>()?,
        // Unigram: a list of [piece, score]; the id is the position.
        (_, Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .get(0)
                    .and_then(Value::as_str)
                    .map(|p| (i as u64, p.to_string()))
                    .ok_or_else(|| bad(format!("vocab entry {i} is not [piece, score]")))
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("`model.vocab` is neither a map nor a list".into())),
    };
    let size = pieces
        .iter()
        .map(|(id, _)| id + 1)
        .chain(file.added_tokens.iter().map(|a| a.id + 1))
        .max()
        .unwrap_or(0);
    if size > MAX_ID {
        return Err(bad(format!("token id {} is implausible", size - 1)));
    }
    pieces.sort();
    let mut tokens = vec![TokenBytes::Special; size as usize];
    for (id, piece) in &pieces {
        let b = piece.as_bytes();
        tokens[*id as usize] = match (byte_fallback, gguf::byte_token(b)) {
            (true, Some(byte)) => TokenBytes::Bytes(vec![byte]),
            _ => match decoding {
                Decoding::ByteLevel => {
                    byte_level::decode(b).map_or(TokenBytes::Special, TokenBytes::Bytes)
                }
                Decoding::Metaspace => TokenBytes::Bytes(gguf::spm_piece(b)),
                Decoding::Plain => TokenBytes::Bytes(b.to_vec()),
            },
        };
    }
    // Added tokens override: special ones have no text; others are literal text.
    for a in &file.added_tokens {
        tokens[a.id as usize] = if a.special {
            TokenBytes::Special
        } else {
            TokenBytes::Bytes(a.content.clone().into_bytes())
        };
    }
    Ok(Vocabulary::new(VocabularySource::HfJson, tokens))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic tokenizer.json files (unit test data) in the two shapes real ones have.
    #[test]
    fn byte_level_bpe_with_added_special_tokens() {
        let json = r#"{"added_tokens":[{"id":3,"content":"<|im_end|>","special":true}],
            "decoder":{"type":"ByteLevel"},
            "model":{"type":"BPE","vocab":{"\u0120":0,"9":1,"\u012097":2,"<|im_end|>":3}}}"#;
        let v = parse(json.as_bytes(), "t.json").unwrap();
        assert_eq!(v.token(0), Some(&TokenBytes::Bytes(b" ".to_vec())));
        assert_eq!(v.token(2), Some(&TokenBytes::Bytes(b" 97".to_vec())));
        assert_eq!(v.token(3), Some(&TokenBytes::Special));
    }

    #[test]
    fn sentencepiece_bpe_with_byte_fallback() {
        let json = r#"{"decoder":{"type":"Sequence","decoders":[
                {"type":"Replace","pattern":{"String":"\u2581"},"content":" "},
                {"type":"ByteFallback"},{"type":"Fuse"}]},
            "model":{"type":"BPE","byte_fallback":true,"vocab":{"<unk>":0,"<0x39>":1,"\u2581":2,"9":3}},
            "added_tokens":[{"id":0,"content":"<unk>","special":true}]}"#;
        let v = parse(json.as_bytes(), "t.json").unwrap();
        assert_eq!(v.token(1), Some(&TokenBytes::Bytes(b"9".to_vec())));
        assert_eq!(v.token(2), Some(&TokenBytes::Bytes(b" ".to_vec())));
        assert_eq!(v.token(0), Some(&TokenBytes::Special));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        let err = parse(b"[1,2]", "t.json").unwrap_err().to_string();
        assert!(err.contains("t.json"), "{err}");
        let wp = r#"{"model":{"type":"WordPiece","vocab":{"a":0}}}"#;
        assert!(
            parse(wp.as_bytes(), "t.json")
                .unwrap_err()
                .to_string()
                .contains("WordPiece")
        );
    }
}
