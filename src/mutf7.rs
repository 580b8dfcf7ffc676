//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): what IMAP puts on the wire, while people
//! (config, logs, `status`) see UTF-8. Printable ASCII stands for itself except `&`, written
//! `&-`; any other run of characters is UTF-16BE in base64 with `,` for `/`, no padding, between
//! `&` and `-`.
//!
//! Hand-written rather than the `utf7-imap` crate: that one passes DEL (0x7f) through unencoded,
//! decodes leniently (a broken name cannot be reported) and pulls in a second base64.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Characters that stand for themselves: printable US-ASCII.
fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// UTF-8 → modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // 1 byte → 2 characters, 2 → 3, 3 → 4; no padding.
        for k in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
        }
    }
    out.push('-');
    run.clear();
}

/// Why a name from the server (or the config) is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0:?} is not printable ASCII, so not modified UTF-7")]
    NotAscii(char),
    #[error("a `&` is not closed by `-`")]
    Unterminated,
    #[error("{0:?} inside `&…-` is not modified base64")]
    BadBase64(char),
    #[error("`&…-` does not hold whole UTF-16 characters")]
    BadUtf16,
    #[error("`&…-` encodes characters that must be written directly")]
    NotCanonical,
}

/// Modified UTF-7 → UTF-8, strictly.
pub fn decode(wire: &str) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(wire.len());
    let mut chars = wire.chars();
    while let Some(c) = chars.next() {
        if !is_direct(c) {
            return Err(DecodeError::NotAscii(c));
        }
        if c != '&' {
            out.push(c);
            continue;
        }
        let mut bits = 0u32;
        let mut nbits = 0u32;
        let mut bytes: Vec<u8> = Vec::new();
        let mut empty = true;
        loop {
            let Some(c) = chars.next() else {
                return Err(DecodeError::Unterminated);
            };
            if c == '-' {
                break;
            }
            empty = false;
            let v = ALPHABET
                .iter()
                .position(|&a| char::from(a) == c)
                .ok_or(DecodeError::BadBase64(c))?;
            bits = bits << 6 | v as u32;
            nbits += 6;
            if nbits >= 8 {
                nbits -= 8;
                bytes.push((bits >> nbits) as u8);
                bits &= (1 << nbits) - 1;
            }
        }
        if empty {
            out.push('&');
            continue;
        }
        // Leftover bits must be zero padding of less than one base64 digit.
        if nbits >= 6 || bits != 0 || !bytes.len().is_multiple_of(2) {
            return Err(DecodeError::BadUtf16);
        }
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|p| u16::from_be_bytes([p[0], p[1]]))
            .collect();
        let text = String::from_utf16(&units).map_err(|_| DecodeError::BadUtf16)?;
        if text.chars().any(is_direct) {
            return Err(DecodeError::NotCanonical);
        }
        out.push_str(&text);
    }
    Ok(out)
}

/// The name to show a person for a name the server sent: decoded, or as sent when it is not
/// valid modified UTF-7 (some servers send raw UTF-8).
pub fn display(wire: &str) -> String {
    decode(wire).unwrap_or_else(|_| wire.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_examples() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(),
            "~peter/mail/台北/日本語"
        );
        assert_eq!(encode("R&D"), "R&-D");
        assert_eq!(decode("R&-D").unwrap(), "R&D");
        assert_eq!(decode("&Jjo-!").unwrap(), "☺!");
    }

    #[test]
    fn folders_offices_use() {
        for (utf8, wire) in [
            ("INBOX.询盘", "INBOX.&i+J22A-"),
            (
                "Входящие/Заказы",
                "&BBIERQQ+BDQETwRJBDgENQ-/&BBcEMAQ6BDAENwRL-",
            ),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("Gelöschte Elemente", "Gel&APY-schte Elemente"),
            ("INBOX", "INBOX"),
            ("", ""),
        ] {
            assert_eq!(encode(utf8), wire, "{utf8}");
            assert_eq!(decode(wire).unwrap(), utf8, "{wire}");
        }
    }

    #[test]
    fn outside_the_bmp_and_control_characters() {
        // A surrogate pair, and DEL / TAB, which are not printable ASCII.
        for s in ["📦 Orders", "a\u{7f}b", "tab\there", "ß&😀&x"] {
            let w = encode(s);
            assert!(w.chars().all(is_direct), "{w}");
            assert_eq!(decode(&w).unwrap(), s, "{w}");
        }
    }

    #[test]
    fn every_length_round_trips() {
        // Runs of 1..=7 UTF-16 units cover every base64 remainder.
        for n in 1..=7 {
            let s: String = "ж".repeat(n);
            assert_eq!(decode(&encode(&s)).unwrap(), s);
            let s: String = format!("x{}y", "询".repeat(n));
            assert_eq!(decode(&encode(&s)).unwrap(), s);
        }
    }

    #[test]
    fn broken_names_are_errors() {
        assert_eq!(decode("INBOX.&i+J22A"), Err(DecodeError::Unterminated));
        assert_eq!(decode("询盘"), Err(DecodeError::NotAscii('询')));
        assert_eq!(decode("&i*J-"), Err(DecodeError::BadBase64('*')));
        // Odd byte count / non-zero padding bits.
        assert_eq!(decode("&AG-"), Err(DecodeError::BadUtf16));
        assert_eq!(decode("&AGH-"), Err(DecodeError::BadUtf16));
        // A lone high surrogate.
        assert_eq!(decode("&2D0-"), Err(DecodeError::BadUtf16));
        // "a" must be written directly.
        assert_eq!(decode("&AGE-"), Err(DecodeError::NotCanonical));
        assert_eq!(display("Raw 询盘"), "Raw 询盘");
        assert_eq!(display("&i+J22A-"), "询盘");
    }
}
