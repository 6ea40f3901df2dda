use std::ops::RangeInclusive;
use std::time::Duration;

use headers::{AcceptRanges, ContentLength, ContentRange, HeaderMapExt};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::domain::{Asset, Reader, StoredRendition, display_filename};

/// Thirty days: assets never change under a key, so clients may keep them that long.
pub const ASSET_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// Sent with every asset byte we serve: no MIME sniffing, and no script even if a browser is talked
/// into rendering a document.
pub(super) const SECURITY_HEADERS: [(header::HeaderName, &str); 2] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    ),
];

/// The representation headers of one stored asset, shared by the 200, 206, 304 and 302 answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetHeaders {
    pub content_type: String,
    pub content_disposition: String,
    pub cache_control: String,
    pub etag: String,
}

impl AssetHeaders {
    pub fn for_asset(asset: &Asset) -> Self {
        let extension = crate::domain::content_extension(&asset.content_type);
        let filename = display_filename(&asset.name, extension);
        let disposition = if crate::domain::content_inline_safe(&asset.content_type) {
            "inline"
        } else {
            "attachment"
        };
        Self {
            content_type: asset.content_type.clone(),
            content_disposition: content_disposition(disposition, &filename),
            // Shared caches (a CDN, a proxy) may keep only what every viewer may read: an
            // inactive public asset is its owner's alone (`Asset::readable_by`), so it is
            // `private` like a private one, or a CDN would hand the owner's copy to anyone.
            cache_control: if asset.readable_by(Reader::Anonymous) {
                format!("public, max-age={ASSET_MAX_AGE_SECS}, immutable")
            } else {
                format!("private, max-age={ASSET_MAX_AGE_SECS}")
            },
            etag: asset.etag(),
        }
    }

    /// A rendition is served like its original (same caching and access), under its own type,
    /// validator and a filename that says which rendition it is.
    pub fn for_rendition(asset: &Asset, rendition: &StoredRendition) -> Self {
        let extension = crate::domain::content_extension(&rendition.content_type);
        let stem = asset
            .name
            .rsplit_once('.')
            .map_or(asset.name.as_str(), |(stem, _)| stem);
        let filename = format!("{stem}-{}.{extension}", rendition.size);
        Self {
            content_type: rendition.content_type.clone(),
            content_disposition: content_disposition("inline", &filename),
            etag: rendition.etag(),
            ..Self::for_asset(asset)
        }
    }

    /// The same representation reached through a signed URL: `private` (never a shared cache's:
    /// the URL is a credential) and cached at most as long as the URL still lives
    /// (`remaining_s` seconds, capped at [`ASSET_MAX_AGE_SECS`]), never `immutable`.
    pub fn for_signed_url(self, remaining_s: u64) -> Self {
        Self {
            cache_control: format!("private, max-age={}", remaining_s.min(ASSET_MAX_AGE_SECS)),
            ..self
        }
    }

    /// Cache lifetime for a redirect or a presigned download: always shorter than the URL lives, so
    /// no cache keeps a link that has already expired.
    pub fn presigned_cache_control(ttl: Duration) -> String {
        let ttl = ttl.as_secs();
        let margin = (ttl / 5).max(1);
        format!("private, max-age={}", ttl.saturating_sub(margin))
    }
}

/// RFC 6266 `Content-Disposition` with an ASCII fallback `filename` and the exact UTF-8 name in
/// `filename*`. Quotes, backslashes, path separators and control characters never reach the header;
/// the fallback also loses `;`, `%` and `=` so naive parsers cannot mistake it for parameters.
pub fn content_disposition(disposition: &str, filename: &str) -> String {
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let safe: String = filename
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let fallback: String = safe
        .chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | ';' | '%' | '=') => c,
            _ => '_',
        })
        .collect();
    format!(
        "{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(&safe, ATTR_CHAR)
    )
}

/// Caching, validator and security headers, and `Accept-Ranges: bytes` (RFC 9110 §14.3): every
/// inline body serves byte ranges, and a redirect's target (S3) does too.
fn with_asset_headers(
    mut builder: lambda_http::http::response::Builder,
    headers: &AssetHeaders,
) -> lambda_http::http::response::Builder {
    builder = builder
        .header(header::CACHE_CONTROL, &headers.cache_control)
        .header(header::ETAG, &headers.etag);
    for (name, value) in SECURITY_HEADERS {
        builder = builder.header(name, value);
    }
    if let Some(map) = builder.headers_mut() {
        map.typed_insert(AcceptRanges::bytes());
    }
    builder
}

fn header_value(value: &str) -> HeaderValue {
    // Every value we build is visible ASCII; fall back rather than panic if that ever changes.
    HeaderValue::from_str(value)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// A representation's answer without its body: its headers and `Content-Length` (the body's
/// length in bytes, or for a HEAD the length the GET's body has, RFC 9110 §8.6).
fn representation(
    status: StatusCode,
    headers: &AssetHeaders,
    content_length: u64,
) -> lambda_http::http::response::Builder {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, header_value(&headers.content_type))
        .header(
            header::CONTENT_DISPOSITION,
            header_value(&headers.content_disposition),
        );
    if let Some(map) = builder.headers_mut() {
        map.typed_insert(ContentLength(content_length));
    }
    with_asset_headers(builder, headers)
}

/// `200` with the asset's bytes.
pub fn asset_response(headers: &AssetHeaders, bytes: Vec<u8>) -> Response<Body> {
    representation(StatusCode::OK, headers, bytes.len() as u64)
        .body(Body::Binary(bytes))
        .expect("asset response headers are valid")
}

/// `200` to a HEAD: the GET's headers, `Content-Length` the size of the body a GET would get
/// (`content_length` bytes), no body. Read from the metadata: no byte is fetched.
pub fn asset_head(headers: &AssetHeaders, content_length: u64) -> Response<Body> {
    representation(StatusCode::OK, headers, content_length)
        .body(Body::Empty)
        .expect("asset response headers are valid")
}

/// `206 Partial Content` (RFC 9110 §15.3.7): `bytes` are the offsets `range` (inclusive) of a
/// representation of `complete_length` bytes, named in `Content-Range`.
pub fn partial_response(
    headers: &AssetHeaders,
    range: RangeInclusive<u64>,
    complete_length: u64,
    bytes: Vec<u8>,
) -> Response<Body> {
    let mut builder = representation(StatusCode::PARTIAL_CONTENT, headers, bytes.len() as u64);
    if let (Some(map), Ok(content_range)) = (
        builder.headers_mut(),
        ContentRange::bytes(range, complete_length),
    ) {
        map.typed_insert(content_range);
    }
    builder
        .body(Body::Binary(bytes))
        .expect("partial response headers are valid")
}

/// A HEAD's answer made from the GET's: same status and headers, no body. A body the GET would
/// have carried (an error's JSON, the placeholder) keeps its length in `Content-Length`.
pub fn without_body(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let length = body.as_ref().len() as u64;
    if length > 0 && !parts.headers.contains_key(header::CONTENT_LENGTH) {
        parts.headers.typed_insert(ContentLength(length));
    }
    Response::from_parts(parts, Body::Empty)
}

/// `304`: the client's copy is current.
pub fn not_modified(headers: &AssetHeaders) -> Response<Body> {
    with_asset_headers(
        Response::builder().status(StatusCode::NOT_MODIFIED),
        headers,
    )
    .body(Body::Empty)
    .expect("304 headers are valid")
}

/// `302` to a presigned download.
pub fn redirect(location: &str, headers: &AssetHeaders, cache_control: &str) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, header_value(location))
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::ETAG, &headers.etag);
    for (name, value) in SECURITY_HEADERS {
        builder = builder.header(name, value);
    }
    if let Some(map) = builder.headers_mut() {
        map.typed_insert(AcceptRanges::bytes());
    }
    builder
        .body(Body::Empty)
        .expect("redirect headers are valid")
}

pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(
            serde_json::to_string(value).expect("response body serialises"),
        ))
        .expect("json response is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_is_rfc6266_and_injection_free() {
        let value = content_disposition("attachment", "evil\"\r\nSet-Cookie: x=1;/..\\é.pdf");
        assert!(!value.contains('\r') && !value.contains('\n'));
        assert!(HeaderValue::from_str(&value).is_ok());
        assert!(value.starts_with("attachment; filename=\"evil_"));
        let fallback = value
            .split("filename=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(!fallback.contains('/') && !fallback.contains('\\') && !fallback.contains(';'));
        assert!(
            value.ends_with("filename*=UTF-8''evil%22__Set-Cookie%3A%20x%3D1%3B_.._%C3%A9.pdf")
        );
    }

    #[test]
    fn presigned_caching_never_outlives_the_url() {
        assert_eq!(
            AssetHeaders::presigned_cache_control(Duration::from_secs(300)),
            "private, max-age=240"
        );
        assert_eq!(
            AssetHeaders::presigned_cache_control(Duration::from_secs(2)),
            "private, max-age=1"
        );
    }
}
