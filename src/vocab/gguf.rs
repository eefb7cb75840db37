//! The vocabulary inside a GGUF file: its metadata header, read directly (no tensor data).
//!
//! Why our own reader: the format's header is a flat list of typed key/value pairs, and the
//! vocabulary is three of them (`tokenizer.ggml.model`, `.tokens`, `.token_type`); a crate for
//! it would bring tensor handling we never use. The reader stops after the key/value section,
//! so a 250 MB model costs a few megabytes of reading.

use super::{TokenBytes, VocabError, Vocabulary, VocabularySource};
use std::io::{BufReader, Read};
use std::path::Path;

/// GGUF value types (the format's `gguf_type`).
const T_U8: u32 = 0;
const T_I8: u32 = 1;
const T_U16: u32 = 2;
const T_I16: u32 = 3;
const T_U32: u32 = 4;
const T_I32: u32 = 5;
const T_F32: u32 = 6;
const T_BOOL: u32 = 7;
const T_STRING: u32 = 8;
const T_ARRAY: u32 = 9;
const T_U64: u32 = 10;
const T_I64: u32 = 11;
const T_F64: u32 = 12;

/// llama.cpp's token types (`llama_token_type`).
const TOKEN_NORMAL: i32 = 1;
const TOKEN_UNKNOWN: i32 = 2;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;
const TOKEN_UNUSED: i32 = 5;
const TOKEN_BYTE: i32 = 6;

/// Longest string or array the reader accepts: a guard against a corrupt length field
/// allocating gigabytes (the largest real vocabularies hold about 260,000 tokens).
const MAX_LEN: u64 = 1 << 24;

struct Reader<R> {
    inner: R,
    path: String,
}

impl<R: Read> Reader<R> {
    fn bad(&self, what: impl Into<String>) -> VocabError {
        VocabError::Malformed {
            path: self.path.clone(),
            message: what.into(),
        }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], VocabError> {
        let mut b = [0u8; N];
        self.inner
            .read_exact(&mut b)
            .map_err(|_| self.bad("the file ends inside its metadata"))?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, VocabError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, VocabError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn len(&mut self) -> Result<usize, VocabError> {
        let n = self.u64()?;
        if n > MAX_LEN {
            return Err(self.bad(format!("a length of {n} is implausible")));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<Vec<u8>, VocabError> {
        let n = self.len()?;
        let mut b = vec![0u8; n];
        self.inner
            .read_exact(&mut b)
            .map_err(|_| self.bad("the file ends inside a string"))?;
        Ok(b)
    }

    fn skip(&mut self, n: u64) -> Result<(), VocabError> {
        let copied = std::io::copy(&mut (&mut self.inner).take(n), &mut std::io::sink())
            .map_err(|_| self.bad("the file ends inside its metadata"))?;
        if copied != n {
            return Err(self.bad("the file ends inside its metadata"));
        }
        Ok(())
    }

    fn scalar_size(&self, ty: u32) -> Result<u64, VocabError> {
        Ok(match ty {
            T_U8 | T_I8 | T_BOOL => 1,
            T_U16 | T_I16 => 2,
            T_U32 | T_I32 | T_F32 => 4,
            T_U64 | T_I64 | T_F64 => 8,
            _ => return Err(self.bad(format!("unknown value type {ty}"))),
        })
    }

    /// Skips one value of type `ty`.
    fn skip_value(&mut self, ty: u32) -> Result<(), VocabError> {
        match ty {
            T_STRING => {
                let n = self.len()?;
                self.skip(n as u64)
            }
            T_ARRAY => {
                let elem = self.u32()?;
                let n = self.len()?;
                if elem == T_STRING || elem == T_ARRAY {
                    (0..n).try_for_each(|_| self.skip_value(elem))
                } else {
                    let size = self.scalar_size(elem)?;
                    self.skip(size * n as u64)
                }
            }
            _ => {
                let size = self.scalar_size(ty)?;
                self.skip(size)
            }
        }
    }
}

/// Reads the vocabulary of the GGUF file at `path`.
pub(super) fn read(path: &Path) -> Result<Vocabulary, VocabError> {
    let file = std::fs::File::open(path).map_err(|source| VocabError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(BufReader::new(file), &path.display().to_string())
}

fn parse(inner: impl Read, path: &str) -> Result<Vocabulary, VocabError> {
    let mut r = Reader {
        inner,
        path: path.to_string(),
    };
    if &r.bytes::<4>()? != b"GGUF" {
        return Err(r.bad("not a GGUF file (no `GGUF` magic)"));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(r.bad(format!("GGUF version {version} (this build reads 2 and 3)")));
    }
    let _tensors = r.u64()?;
    let kv_count = r.u64()?;
    let mut model = None;
    let mut tokens: Option<Vec<Vec<u8>>> = None;
    let mut types: Option<Vec<i32>> = None;
    for _ in 0..kv_count {
        let key = r.string()?;
        let ty = r.u32()?;
        match (key.as_slice(), ty) {
            (b"tokenizer.ggml.model", T_STRING) => model = Some(r.string()?),
            (b"tokenizer.ggml.tokens", T_ARRAY) => {
                let elem = r.u32()?;
                let n = r.len()?;
                if elem != T_STRING {
                    return Err(r.bad("`tokenizer.ggml.tokens` is not an array of strings"));
                }
                tokens = Some((0..n).map(|_| r.string()).collect::<Result<_, _>>()?);
            }
            (b"tokenizer.ggml.token_type", T_ARRAY) => {
                let elem = r.u32()?;
                let n = r.len()?;
                if elem != T_I32 {
                    return Err(r.bad("`tokenizer.ggml.token_type` is not an array of i32"));
                }
                types = Some(
                    (0..n)
                        .map(|_| r.bytes::<4>().map(i32::from_le_bytes))
                        .collect::<Result<_, _>>()?,
                );
            }
            _ => r.skip_value(ty)?,
        }
        if model.is_some() && tokens.is_some() && types.is_some() {
            break;
        }
    }
    let model = model.ok_or_else(|| r.bad("no `tokenizer.ggml.model`"))?;
    let tokens = tokens.ok_or_else(|| r.bad("no `tokenizer.ggml.tokens`"))?;
    let types = types.unwrap_or_else(|| vec![TOKEN_NORMAL; tokens.len()]);
    if types.len() != tokens.len() {
        return Err(r.bad(format!(
            "{} token types for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    let model = String::from_utf8_lossy(&model).into_owned();
    let decode: fn(&[u8]) -> Option<Vec<u8>> = match model.as_str() {
        // SentencePiece (Gemma, Llama 2): "▁" stands for a space.
        "llama" | "t5" => |t| Some(spm_piece(t)),
        // Byte-level BPE (GPT-2, SmolLM2, Llama 3, Qwen): printable stand-ins for bytes.
        "gpt2" => super::byte_level::decode,
        other => {
            return Err(r.bad(format!(
                "tokenizer model `{other}` (this build reads `llama` and `gpt2` vocabularies)"
            )));
        }
    };
    let tokens = tokens
        .iter()
        .zip(&types)
        .map(|(text, &ty)| match ty {
            TOKEN_CONTROL | TOKEN_UNKNOWN | TOKEN_UNUSED => TokenBytes::Special,
            TOKEN_BYTE => {
                byte_token(text).map_or(TokenBytes::Special, |b| TokenBytes::Bytes(vec![b]))
            }
            TOKEN_USER_DEFINED => TokenBytes::Bytes(text.clone()),
            _ => decode(text).map_or(TokenBytes::Special, TokenBytes::Bytes),
        })
        .collect();
    Ok(Vocabulary::new(
        VocabularySource::Gguf {
            tokenizer_model: model,
        },
        tokens,
    ))
}

/// A SentencePiece piece's bytes: "▁" (U+2581) is a space.
pub(super) fn spm_piece(text: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(text)
        .replace('\u{2581}', " ")
        .into_bytes()
}

/// The byte of a `<0xNN>` byte-fallback token.
pub(super) fn byte_token(text: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(text).ok()?;
    let hex = s.strip_prefix("<0x")?.strip_suffix('>')?;
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic GGUF header (unit test data, not a real model): three tokens, one of each
    /// kind, plus a key of every other type that must be skipped.
    fn synthetic(model: &str, tokens: &[&str], types: &[i32]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(b"GGUF");
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(5u64.to_le_bytes());
        let s = |b: &mut Vec<u8>, s: &[u8]| {
            b.extend((s.len() as u64).to_le_bytes());
            b.extend(s);
        };
        s(&mut b, b"general.alignment");
        b.extend(T_U32.to_le_bytes());
        b.extend(32u32.to_le_bytes());
        s(&mut b, b"tokenizer.ggml.scores");
        b.extend(T_ARRAY.to_le_bytes());
        b.extend(T_F32.to_le_bytes());
        b.extend((tokens.len() as u64).to_le_bytes());
        for _ in tokens {
            b.extend(0f32.to_le_bytes());
        }
        s(&mut b, b"tokenizer.ggml.model");
        b.extend(T_STRING.to_le_bytes());
        s(&mut b, model.as_bytes());
        s(&mut b, b"tokenizer.ggml.tokens");
        b.extend(T_ARRAY.to_le_bytes());
        b.extend(T_STRING.to_le_bytes());
        b.extend((tokens.len() as u64).to_le_bytes());
        for t in tokens {
            s(&mut b, t.as_bytes());
        }
        s(&mut b, b"tokenizer.ggml.token_type");
        b.extend(T_ARRAY.to_le_bytes());
        b.extend(T_I32.to_le_bytes());
        b.extend((types.len() as u64).to_le_bytes());
        for t in types {
            b.extend(t.to_le_bytes());
        }
        b
    }

    #[test]
    fn reads_sentencepiece_tokens_bytes_and_specials() {
        let data = synthetic(
            "llama",
            &["<eos>", "\u{2581}97", "<0x39>", "9"],
            &[TOKEN_CONTROL, TOKEN_NORMAL, TOKEN_BYTE, TOKEN_NORMAL],
        );
        let v = parse(data.as_slice(), "synthetic.gguf").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v.token(0), Some(&TokenBytes::Special));
        assert_eq!(v.token(1), Some(&TokenBytes::Bytes(b" 97".to_vec())));
        assert_eq!(v.token(2), Some(&TokenBytes::Bytes(b"9".to_vec())));
        assert_eq!(v.token(3), Some(&TokenBytes::Bytes(b"9".to_vec())));
    }

    #[test]
    fn reads_byte_level_tokens() {
        // "Ġ" is the byte-level stand-in for a space.
        let data = synthetic("gpt2", &["<|endoftext|>", "\u{120}9", "7"], &[3, 1, 1]);
        let v = parse(data.as_slice(), "synthetic.gguf").unwrap();
        assert_eq!(v.token(1), Some(&TokenBytes::Bytes(b" 9".to_vec())));
    }

    #[test]
    fn rejects_truncated_and_foreign_files() {
        let data = synthetic("llama", &["a"], &[1]);
        let err = parse(&data[..data.len() - 2], "x.gguf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.gguf") && err.contains("ends"), "{err}");
        let err = parse(&b"PK\x03\x04rest"[..], "x.gguf")
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic"), "{err}");
        let data = synthetic("rwkv", &["a"], &[1]);
        let err = parse(data.as_slice(), "x.gguf").unwrap_err().to_string();
        assert!(err.contains("rwkv"), "{err}");
    }
}
