//! A form part's `Content-Disposition` (RFC 7578 §4.2) read the way the common HTTP clients really
//! write it, which is not one way. What each client sends was taken from its source or
//! documentation; README "Uploading from any client" has the table and the tests replay each one.
//!
//! - Quoted values: RFC 9110 quoted-pairs `\"` and `\\` (Go `mime/multipart`, Ruby `Net::HTTP`,
//!   Spring, Apache HttpClient 5, `curl --form-escape`, and `\\` from Python `requests`/urllib3
//!   and `httpx`). Any other backslash is a character of the name: browsers never escape it.
//! - Quotes nobody escaped (`form-data` on npm, Guzzle before psr7 2.8): a quote ends the value
//!   only where a new parameter or the end of the header follows it.
//! - `%22`, `%0D`, `%0A`: the HTML standard's escapes for `"`, CR and LF (browsers, curl 7.81+,
//!   urllib3 1.25+/2.x, `httpx`, undici `fetch`, axios, OkHttp, Guzzle 2.8+). No other percent
//!   sequence is decoded there: a `%20` the person typed stays `%20`.
//! - `filename*` (RFC 8187 / RFC 2231 §4, with §3 continuations) wins over `filename` when it
//!   decodes (.NET, urllib3 before 1.25, Apache HttpClient 5.5+).
//! - RFC 2047 encoded words in `filename` (.NET, Spring with a multipart charset).
//! - A `filename` made only of RFC 8187 attr-chars and `%XX`, with at least one escape above
//!   0x7F forming UTF-8: Apache HttpClient 5's EXTENDED mode percent-encodes every filename so.
//!   A name of plain ASCII escapes (`a%20b`) cannot be told from a typed one and is kept.
//! - Bytes that are not UTF-8: ISO-8859-1, as the WHATWG reads it (windows-1252), which is what
//!   Apache HttpClient 5's LEGACY mode and Ruby's `Net::HTTP` with a Latin-1 charset send.
//! - Parameter names in any case.

use std::collections::BTreeMap;

use encoding_rs::{Encoding, WINDOWS_1252};
use percent_encoding::percent_decode;

use super::encoded_word::{self, hex_byte};

/// Most RFC 2231 §3 continuation sections read; more is no file name anyone sends.
const MAX_SECTIONS: u32 = 64;
/// Longest parameter name looked at when deciding whether a quote ends a value.
const MAX_PARAM_NAME: usize = 64;

/// The `name` and `filename` of one part as text: decoded, but neither normalised nor cleaned
/// (the domain's name rule does that).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PartDisposition {
    pub name: Option<String>,
    pub filename: Option<String>,
}

/// Reads the raw bytes of a part's `Content-Disposition` value. Never fails: what cannot be
/// understood is absent, and the caller decides what an absent name means.
pub fn parse(raw: &[u8]) -> PartDisposition {
    let mut name = None;
    let mut filename = None;
    let mut extended = None;
    let mut sections: BTreeMap<u32, (bool, Vec<u8>)> = BTreeMap::new();
    for (key, value) in parameters(raw) {
        match key.as_str() {
            "name" if name.is_none() => name = Some(plain_value(&value)),
            "filename" if filename.is_none() => filename = Some(plain_value(&value)),
            "filename*" if extended.is_none() => extended = ext_value(&value),
            other => {
                let Some(section) = other.strip_prefix("filename*") else {
                    continue;
                };
                let (index, encoded) = match section.strip_suffix('*') {
                    Some(index) => (index, true),
                    None => (section, false),
                };
                if let Ok(index) = index.parse::<u32>()
                    && index < MAX_SECTIONS
                {
                    sections.entry(index).or_insert((encoded, value));
                }
            }
        }
    }
    PartDisposition {
        name,
        filename: extended.or_else(|| continued(&sections)).or(filename),
    }
}

/// `(lower-case name, value bytes)` for each parameter after the disposition type.
fn parameters(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut params = Vec::new();
    let Some(mut pos) = raw.iter().position(|&b| b == b';') else {
        return params;
    };
    while pos < raw.len() {
        while pos < raw.len() && (raw[pos] == b';' || is_ows(raw[pos])) {
            pos += 1;
        }
        let Some(eq) = raw[pos..].iter().position(|&b| b == b'=' || b == b';') else {
            break;
        };
        let eq = pos + eq;
        if raw[eq] == b';' {
            pos = eq;
            continue;
        }
        let key = String::from_utf8_lossy(trim_ows(&raw[pos..eq])).to_ascii_lowercase();
        pos = eq + 1;
        while pos < raw.len() && is_ows(raw[pos]) {
            pos += 1;
        }
        let value = if raw.get(pos) == Some(&b'"') {
            let (value, end) = quoted(raw, pos + 1);
            pos = end;
            value
        } else {
            let end = raw[pos..]
                .iter()
                .position(|&b| b == b';')
                .map_or(raw.len(), |i| pos + i);
            let value = trim_ows(&raw[pos..end]).to_vec();
            pos = end;
            value
        };
        params.push((key, value));
    }
    params
}

/// A quoted value starting after its opening quote: `(value, position after it)`.
fn quoted(raw: &[u8], start: usize) -> (Vec<u8>, usize) {
    scan_quoted(raw, start, true)
        // A browser's name ending in a backslash (`"a\"`) looks like an escaped closing quote.
        .or_else(|| scan_quoted(raw, start, false))
        // Never closed: the rest of the header is the value.
        .unwrap_or_else(|| (raw[start..].to_vec(), raw.len()))
}

fn scan_quoted(raw: &[u8], start: usize, quoted_pairs: bool) -> Option<(Vec<u8>, usize)> {
    let mut value = Vec::new();
    let mut i = start;
    while i < raw.len() {
        match raw[i] {
            b'\\' if quoted_pairs && matches!(raw.get(i + 1), Some(b'"' | b'\\')) => {
                value.push(raw[i + 1]);
                i += 2;
            }
            b'"' if ends_value(&raw[i + 1..]) => return Some((value, i + 1)),
            b => {
                value.push(b);
                i += 1;
            }
        }
    }
    None
}

/// Whether what follows a quote is the end of the header or `; token=`, i.e. the quote closed
/// the value rather than being a character of it.
fn ends_value(rest: &[u8]) -> bool {
    let rest = trim_start_ows(rest);
    let Some((&b';', next)) = rest.split_first() else {
        return rest.is_empty();
    };
    let next = trim_start_ows(next);
    if next.is_empty() {
        return true;
    }
    let window = &next[..next.len().min(MAX_PARAM_NAME + 1)];
    match window.iter().position(|&b| b == b'=') {
        Some(eq) => {
            let name = trim_ows(&window[..eq]);
            !name.is_empty() && name.iter().all(|&b| is_tchar(b))
        }
        None => false,
    }
}

/// A `name` or `filename` value as text, with each client's encoding undone (module docs).
fn plain_value(raw: &[u8]) -> String {
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text.to_owned(),
        Err(_) => WINDOWS_1252.decode_without_bom_handling(raw).0.into_owned(),
    };
    if let Some(decoded) = encoded_word::decode(&text) {
        return decoded;
    }
    if let Some(decoded) = percent_encoded_utf8(&text) {
        return decoded;
    }
    text.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// Apache HttpClient 5 EXTENDED: only attr-chars and `%XX`, one escape at least above 0x7F, and
/// UTF-8 once decoded.
fn percent_encoded_utf8(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut non_ascii = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            non_ascii |= hex_byte(bytes.get(i + 1..i + 3)?)? >= 0x80;
            i += 3;
        } else if is_attr_char(bytes[i]) {
            i += 1;
        } else {
            return None;
        }
    }
    if !non_ascii {
        return None;
    }
    String::from_utf8(percent_decode(bytes).collect()).ok()
}

/// RFC 8187 `ext-value`: `charset'[language]'pct-encoded`. Quoted forms (Apache HttpClient 5.5+
/// quotes it) arrive here already unquoted.
fn ext_value(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, '\'');
    let (charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes: Vec<u8> = percent_decode(encoded.as_bytes()).collect();
    decode_in(charset, &bytes)
}

/// RFC 2231 §3/§4: `filename*0*=utf-8''a%20; filename*1=b`, sections joined in order from 0.
fn continued(sections: &BTreeMap<u32, (bool, Vec<u8>)>) -> Option<String> {
    let mut charset = None;
    let mut bytes = Vec::new();
    for (expected, (&index, (encoded, value))) in sections.iter().enumerate() {
        if index as usize != expected {
            break;
        }
        let mut value = value.as_slice();
        if index == 0 && *encoded {
            let text = std::str::from_utf8(value).ok()?;
            let mut parts = text.splitn(3, '\'');
            charset = Some(parts.next()?.to_owned());
            parts.next()?;
            value = parts.next()?.as_bytes();
        }
        if *encoded {
            bytes.extend(percent_decode(value));
        } else {
            bytes.extend_from_slice(value);
        }
    }
    if bytes.is_empty() {
        return None;
    }
    match charset {
        Some(charset) => decode_in(&charset, &bytes),
        None => Some(plain_value(&bytes)),
    }
}

/// Bytes in a named charset (WHATWG labels: `utf-8`, `iso-8859-1`, ...); `None` when the charset is
/// unknown or the bytes are not valid in it.
fn decode_in(label: &str, bytes: &[u8]) -> Option<String> {
    let encoding = Encoding::for_label(label.trim().as_bytes())?;
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_start_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let bytes = trim_start_ows(bytes);
    let end = bytes.iter().rposition(|&b| !is_ows(b)).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 8187 §3.2.1 `attr-char`.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filename(header: &[u8]) -> Option<String> {
        parse(header).filename
    }

    #[test]
    fn reads_name_and_filename_in_any_order_and_case() {
        assert_eq!(
            parse(br#"form-data; name="file"; filename="a b.pdf""#),
            PartDisposition {
                name: Some("file".into()),
                filename: Some("a b.pdf".into())
            }
        );
        let reordered = parse(b"form-data; FILENAME=x.pdf; Name=file");
        assert_eq!(reordered.name.as_deref(), Some("file"));
        assert_eq!(reordered.filename.as_deref(), Some("x.pdf"));
        assert_eq!(parse(b"form-data").name, None);
        assert_eq!(parse(b"form-data; name").name, None);
        assert_eq!(
            parse(br#"form-data; name="first"; name="second""#)
                .name
                .as_deref(),
            Some("first")
        );
    }

    #[test]
    fn quoted_pairs_and_literal_backslashes() {
        // Go and Ruby: `a"b\c.txt`.
        assert_eq!(
            filename(br#"form-data; name="file"; filename="a\"b\\c.txt""#).as_deref(),
            Some(r#"a"b\c.txt"#)
        );
        // A browser never escapes a backslash.
        assert_eq!(
            filename(br#"form-data; name="file"; filename="C:\fakepath\x.png""#).as_deref(),
            Some(r"C:\fakepath\x.png")
        );
        // ... even a last one, which looks like an escaped quote.
        assert_eq!(
            filename(br#"form-data; name="file"; filename="trailing\""#).as_deref(),
            Some(r"trailing\")
        );
    }

    #[test]
    fn unescaped_quotes_stay_in_the_name() {
        // form-data on npm writes the name as it is.
        assert_eq!(
            filename(br#"form-data; name="file"; filename="quote"semi;colon%20.jpg""#).as_deref(),
            Some(r#"quote"semi;colon%20.jpg"#)
        );
        assert_eq!(
            filename(br#"form-data; name="file"; filename="say "hi".txt"; size=3"#).as_deref(),
            Some(r#"say "hi".txt"#)
        );
        assert_eq!(
            parse(br#"form-data; name="file"; filename="never closed"#)
                .filename
                .as_deref(),
            Some("never closed")
        );
    }

    #[test]
    fn html_escapes_only() {
        assert_eq!(
            filename(br#"form-data; name="file"; filename="quote%22semi;colon%20.jpg""#).as_deref(),
            Some(r#"quote"semi;colon%20.jpg"#)
        );
        assert_eq!(
            filename(br#"form-data; name="file"; filename="a%0D%0Ab%25.txt""#).as_deref(),
            Some("a\r\nb%25.txt")
        );
        assert_eq!(
            filename(br#"form-data; name="file"; filename="100%.txt""#).as_deref(),
            Some("100%.txt")
        );
    }

    #[test]
    fn ext_value_wins_and_its_charset_is_honoured() {
        assert_eq!(
            filename(
                b"form-data; name=file; filename=\"=?utf-8?B?UsOpc3Vtw6kg4oCTIFEzLnBkZg==?=\"; \
                  filename*=utf-8''R%C3%A9sum%C3%A9%20%E2%80%93%20Q3.pdf"
            )
            .as_deref(),
            Some("Résumé – Q3.pdf")
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename*=iso-8859-1'fr'R%E9sum%E9.pdf")
                .as_deref(),
            Some("Résumé.pdf")
        );
        // Quoted, as Apache HttpClient 5.5+ writes it.
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"R?sum?\"; filename*=\"UTF-8''R%C3%A9sum%C3%A9\"")
                .as_deref(),
            Some("Résumé")
        );
        // Undecodable: the plain filename is used.
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"plain.pdf\"; filename*=klingon''x")
                .as_deref(),
            Some("plain.pdf")
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"plain.pdf\"; filename*=utf-8''%FF")
                .as_deref(),
            Some("plain.pdf")
        );
    }

    #[test]
    fn rfc2231_continuations() {
        assert_eq!(
            filename(
                b"form-data; name=\"file\"; filename*1*=%A9.pdf; filename*0*=utf-8''R%C3; filename*2=\"!\""
            )
            .as_deref(),
            Some("Ré.pdf!")
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename*0=\"a \"; filename*1=\"b.txt\"")
                .as_deref(),
            Some("a b.txt")
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"x\"; filename*1=\"gap\"").as_deref(),
            Some("x"),
            "sections must start at 0"
        );
    }

    #[test]
    fn apache_extended_percent_encoding() {
        assert_eq!(
            filename(
                b"form-data; name=\"file\"; filename=\"R%C3%A9sum%C3%A9%20%E2%80%93%20Q3.pdf\""
            )
            .as_deref(),
            Some("Résumé – Q3.pdf")
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"report%20final.pdf\"").as_deref(),
            Some("report%20final.pdf"),
            "ASCII-only escapes are kept as typed"
        );
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"a b%C3%A9.pdf\"").as_deref(),
            Some("a b%C3%A9.pdf"),
            "a space is not an attr-char: not Apache's encoding"
        );
    }

    #[test]
    fn latin1_bytes_and_raw_utf8() {
        assert_eq!(
            filename(b"form-data; name=\"file\"; filename=\"R\xe9sum\xe9.pdf\"").as_deref(),
            Some("Résumé.pdf")
        );
        assert_eq!(
            filename("form-data; name=\"file\"; filename=\"名前 😀.png\"".as_bytes()).as_deref(),
            Some("名前 😀.png")
        );
    }

    #[test]
    fn hostile_headers_stay_bounded() {
        let many_quotes = [
            &b"form-data; name=\"file\"; filename=\""[..],
            &b"\"x".repeat(50_000),
        ]
        .concat();
        assert!(parse(&many_quotes).filename.is_some());
        let many_params = b"; a=b".repeat(50_000);
        assert_eq!(parse(&many_params), PartDisposition::default());
    }
}
