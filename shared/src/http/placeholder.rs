use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};

use super::response::SECURITY_HEADERS;

/// A 64x64 grey "missing picture" PNG, shown by `<img>` tags when `handleError=true`.
const PLACEHOLDER_PNG: &[u8] = include_bytes!("../../assets/placeholder.png");

pub(super) fn placeholder_response(status: StatusCode) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "image/png")
        .header(header::CONTENT_LENGTH, PLACEHOLDER_PNG.len())
        // The asset may appear later (or access may change): never cache the stand-in.
        .header(header::CACHE_CONTROL, "no-store");
    for (name, value) in SECURITY_HEADERS {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::Binary(PLACEHOLDER_PNG.to_vec()))
        .expect("static placeholder response is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_a_png_with_the_original_status() {
        let response = placeholder_response(StatusCode::NOT_FOUND);
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "image/png");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(response.body().as_ref().starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
