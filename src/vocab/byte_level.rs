//! Byte-level BPE's printable stand-ins for bytes (GPT-2's `bytes_to_unicode`), decoded back.
//!
//! Byte-level tokenizers (GPT-2, SmolLM2, Llama 3, Qwen) store each token as a string in which
//! every byte is one printable character: the printable Latin-1 bytes stand for themselves and
//! the other 68 bytes for U+0100 onwards, in byte order.

/// The byte a stand-in character represents, if it is one.
fn byte_of(c: char) -> Option<u8> {
    let c = c as u32;
    let printable = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    if printable(c) {
        return Some(c as u8);
    }
    // The n-th non-printable byte (in byte order) is U+0100 + n.
    let n = c.checked_sub(0x100)?;
    (0u32..256)
        .filter(|&b| !printable(b))
        .nth(n as usize)
        .map(|b| b as u8)
}

/// The bytes of a byte-level token, or `None` when a character is not a byte stand-in (such
/// a token is treated as special by the caller).
pub(super) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    std::str::from_utf8(text)
        .ok()?
        .chars()
        .map(byte_of)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins_cover_every_byte_once() {
        let mut seen = [false; 256];
        for c in (0x21u32..0x200).filter_map(char::from_u32) {
            if let Some(b) = byte_of(c) {
                assert!(!seen[b as usize], "byte {b} twice");
                seen[b as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
        // GPT-2's table: space is U+0120 "Ġ", newline U+010A "Ċ".
        assert_eq!(decode("\u{120}97".as_bytes()), Some(b" 97".to_vec()));
        assert_eq!(decode("\u{10a}".as_bytes()), Some(b"\n".to_vec()));
        assert_eq!(decode("\u{2581}".as_bytes()), None);
    }
}
