//! RFC 2047 encoded words (`=?utf-8?B?UsOpc3Vtw6k=?=`) in a form part's `filename`: .NET's
//! `MultipartFormDataContent` writes every non-ASCII filename as one such word (beside an RFC 8187
//! `filename*`), Spring's `FormHttpMessageConverter` with a `multipartCharset` as several.
//!
//! A small module rather than the `rfc2047-decoder` crate: that crate brings a parser-combinator
//! library and a charset stack of its own for what is forty lines over `base64` and `encoding_rs`,
//! both already in the build.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use encoding_rs::Encoding;

/// Base64 as RFC 2047 §4.1 writes it, tolerating a missing `=` padding (some encoders drop it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One `=?charset?encoding?text?=` found in a value, as byte offsets into it.
struct Word {
    start: usize,
    end: usize,
    encoding: &'static Encoding,
    bytes: Vec<u8>,
}

/// Decodes every well-formed encoded word in `value` (RFC 2047 §6.1), dropping the white space
/// between adjacent words (§6.2) and joining adjacent words of one charset before decoding, so a
/// character split across two words survives. Words that cannot be decoded (unknown charset, bad
/// Base64, bytes invalid in their charset) stay as they are (§6.3). `None` when nothing was decoded.
pub fn decode(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut decoded_any = false;
    let mut cursor = 0;
    let mut run: Option<Run> = None;
    for word in words(value) {
        let gap = &value[cursor..word.start];
        match &mut run {
            Some(open)
                if open.encoding == word.encoding && gap.chars().all(char::is_whitespace) =>
            {
                open.end = word.end;
                open.bytes.extend_from_slice(&word.bytes);
            }
            _ => {
                if let Some(done) = run.take() {
                    decoded_any |= done.write(value, &mut out);
                    // Space between two words of different charsets is dropped too (§6.2).
                    if !gap.chars().all(char::is_whitespace) {
                        out.push_str(gap);
                    }
                } else {
                    out.push_str(gap);
                }
                run = Some(Run {
                    start: word.start,
                    end: word.end,
                    encoding: word.encoding,
                    bytes: word.bytes,
                });
            }
        }
        cursor = word.end;
    }
    if let Some(done) = run.take() {
        decoded_any |= done.write(value, &mut out);
    }
    out.push_str(&value[cursor..]);
    decoded_any.then_some(out)
}

/// Adjacent words of one charset, as a byte range of the value and their joined bytes.
struct Run {
    start: usize,
    end: usize,
    encoding: &'static Encoding,
    bytes: Vec<u8>,
}

impl Run {
    /// Writes the decoded text, or the words as they were sent when their bytes are not text in
    /// their charset. Whether anything was decoded.
    fn write(self, value: &str, out: &mut String) -> bool {
        match self
            .encoding
            .decode_without_bom_handling_and_without_replacement(&self.bytes)
        {
            Some(text) => {
                out.push_str(&text);
                true
            }
            None => {
                out.push_str(&value[self.start..self.end]);
                false
            }
        }
    }
}

fn words(value: &str) -> Vec<Word> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = value[from..].find("=?") {
        let start = from + offset;
        match word_at(value, start) {
            Some(word) => {
                from = word.end;
                found.push(word);
            }
            None => from = start + 2,
        }
    }
    found
}

/// `=?charset[*language]?B|Q?encoded-text?=` at `start`, decoded to bytes in its charset.
fn word_at(value: &str, start: usize) -> Option<Word> {
    let rest = &value[start + 2..];
    let (charset, rest) = rest.split_once('?')?;
    let (kind, rest) = rest.split_once('?')?;
    let close = rest.find("?=")?;
    let text = &rest[..close];
    if text.contains(char::is_whitespace) || charset.is_empty() {
        return None;
    }
    // RFC 2231 §5 lets a language follow the charset: `utf-8*en`.
    let label = charset.split('*').next().unwrap_or(charset);
    let encoding = Encoding::for_label(label.as_bytes())?;
    let bytes = match kind {
        "B" | "b" => BASE64.decode(text).ok()?,
        "Q" | "q" => q_decode(text)?,
        _ => return None,
    };
    let end = start + 2 + charset.len() + 1 + kind.len() + 1 + close + 2;
    Some(Word {
        start,
        end,
        encoding,
        bytes,
    })
}

/// The "Q" encoding (RFC 2047 §4.2): `_` is a space, `=XX` a byte, anything else itself.
fn q_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(hex_byte(hex)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Two hexadecimal digits (either case) as a byte.
pub(super) fn hex_byte(hex: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    match hex {
        [high, low] => Some((digit(*high)? * 16 + digit(*low)?) as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_dotnet_base64_words() {
        assert_eq!(
            decode("=?utf-8?B?UsOpc3Vtw6kg4oCTIFEzLnBkZg==?=").as_deref(),
            Some("Résumé – Q3.pdf")
        );
        // .NET writes one word however long the name: no 75-character limit is enforced.
        let long = "é".repeat(200);
        let word = format!(
            "=?utf-8?B?{}?=",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &long)
        );
        assert_eq!(decode(&word), Some(long));
    }

    #[test]
    fn decodes_q_words_and_joins_adjacent_ones() {
        assert_eq!(
            decode("=?UTF-8?Q?R=C3=A9sum=C3=A9_Q3.pdf?=").as_deref(),
            Some("Résumé Q3.pdf")
        );
        // A character split over two words (jakarta.mail splits long text into several).
        assert_eq!(
            decode("=?UTF-8?Q?R=C3?= =?UTF-8?Q?=A9.pdf?=").as_deref(),
            Some("Ré.pdf")
        );
        assert_eq!(
            decode("=?utf-8?b?5ZCN5YmN?= =?iso-8859-1?q?=E9?=").as_deref(),
            Some("名前é")
        );
        assert_eq!(
            decode("=?utf-8*en?Q?a?= x").as_deref(),
            Some("a x"),
            "RFC 2231 language suffix, and the text after a word is kept"
        );
    }

    #[test]
    fn leaves_what_is_not_an_encoded_word() {
        assert_eq!(decode("plain.pdf"), None);
        assert_eq!(decode("a=?b.pdf"), None);
        assert_eq!(decode("=?nonsense?B?QQ==?="), None);
        assert_eq!(decode("=?utf-8?B?***?="), None);
        assert_eq!(decode("=?utf-8?X?abc?="), None);
        assert_eq!(
            decode("=?utf-8?B?/w==?="),
            None,
            "0xFF is not UTF-8: kept as typed"
        );
        assert_eq!(decode("=?utf-8?Q?=ZZ?="), None);
        assert_eq!(
            decode("x =?utf-8?Q?a?= y").as_deref(),
            Some("x a y"),
            "space next to plain text is kept"
        );
    }
}
