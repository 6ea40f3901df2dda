//! HEAD and byte ranges (RFC 9110 §9.3.2, §14) against in-memory storage: the answers' statuses,
//! headers and bodies, and that a HEAD never reads an object.

use std::sync::atomic::Ordering;

use lambda_http::http::{HeaderMap, StatusCode, header};
use lambda_http::{Body, Response};

use super::{Harness, JPEG, PNG, error_code, header_of, json};
use crate::domain::{AssetKey, Visibility};

/// Every header of a GET's answer, as a HEAD must repeat it (RFC 9110 §9.3.2).
fn same_headers(get: &Response<Body>, head: &Response<Body>) {
    let names = |map: &HeaderMap| {
        let mut names: Vec<String> = map.keys().map(|name| name.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(get.headers()), names(head.headers()));
    for (name, value) in get.headers() {
        assert_eq!(head.headers().get(name), Some(value), "{name}");
    }
}

fn head_matches_get(get: &Response<Body>, head: &Response<Body>) {
    assert_eq!(head.status(), get.status());
    same_headers(get, head);
    assert!(head.body().is_empty());
}

#[tokio::test]
async fn head_answers_the_gets_headers_and_length_without_reading_the_object() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let get = h.get(key, Some(&h.acme_key), &[], &[]).await;
    let head = h.head(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    head_matches_get(&get, &head);
    assert_eq!(
        header_of(&head, "content-length"),
        PNG.len().to_string(),
        "the length of the GET's body"
    );
    assert_eq!(header_of(&head, "accept-ranges"), "bytes");

    // The metadata is enough: with the blob store down, GET fails and HEAD still answers.
    h.blobs.fail.store(true, Ordering::SeqCst);
    assert_eq!(
        h.get(key, Some(&h.acme_key), &[], &[]).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let head = h.head(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header_of(&head, "content-length"), PNG.len().to_string());
}

#[tokio::test]
async fn head_of_a_rendition_has_the_renditions_length_and_type() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    for size in ["thumb", "largeX2"] {
        let get = h.get(key, None, &[("size", size)], &[]).await;
        let head = h.head(key, None, &[("size", size)], &[]).await;
        assert_eq!(head.status(), StatusCode::OK);
        head_matches_get(&get, &head);
        assert_eq!(
            header_of(&head, "content-length"),
            get.body().len().to_string(),
            "{size}"
        );
        assert_eq!(header_of(&head, "content-type"), "image/png");
    }
}

#[tokio::test]
async fn head_of_a_large_asset_is_the_same_redirect() {
    let h = Harness::with(|c| c.inline_max_bytes = 10).await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let get = h.get(key, None, &[], &[]).await;
    let head = h.head(key, None, &[], &[]).await;
    assert_eq!(head.status(), StatusCode::FOUND);
    head_matches_get(&get, &head);
    assert_eq!(header_of(&get, "accept-ranges"), "bytes");
    // Ranges of a redirected asset are S3's: the redirect is the same with or without one.
    let ranged = h.get(key, None, &[], &[("range", "bytes=0-9")]).await;
    assert_eq!(ranged.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn head_errors_have_the_gets_status_and_headers_without_a_body() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    // Another company's private asset: the same 404 as an unknown one.
    let get = h.get(key, Some(&h.globex_key), &[], &[]).await;
    let head = h.head(key, Some(&h.globex_key), &[], &[]).await;
    assert_eq!(error_code(&get), "not_found");
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(head.headers()[header::CONTENT_TYPE], "application/json");
    assert!(head.body().is_empty());
    assert_eq!(
        header_of(&head, "content-length"),
        get.body().len().to_string()
    );
    let unknown = h
        .head(&AssetKey::generate().to_string(), None, &[], &[])
        .await;
    head_matches_get(&unknown, &head);

    // handleError=true: the placeholder's headers and length, no image bytes.
    let get = h.get(key, None, &[("handleError", "true")], &[]).await;
    let head = h.head(key, None, &[("handleError", "true")], &[]).await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&head, "content-type"), "image/png");
    head_matches_get(&get, &head);
    assert_eq!(
        header_of(&head, "content-length"),
        get.body().len().to_string()
    );
}

#[tokio::test]
async fn head_ignores_range_and_keeps_conditional_requests() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let etag = header_of(&h.get(key, None, &[], &[]).await, "etag").to_owned();
    // Range is defined for GET only (RFC 9110 §14.2): a HEAD describes the whole representation.
    let head = h.head(key, None, &[], &[("range", "bytes=0-9")]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header_of(&head, "content-length"), PNG.len().to_string());
    assert!(head.headers().get("content-range").is_none());
    let head = h.head(key, None, &[], &[("range", "bytes=99999-")]).await;
    assert_eq!(head.status(), StatusCode::OK);
    let cached = h.head(key, None, &[], &[("if-none-match", &etag)]).await;
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    assert!(cached.body().is_empty());
}

/// A public JPEG asset (175 KB) and its ETag.
async fn photo_asset(h: &Harness) -> (String, String) {
    let asset = h.upload_ok(Visibility::Public, JPEG, "photo").await;
    let key = asset["key"].as_str().unwrap().to_owned();
    (key, format!("\"{}\"", asset["sha256"].as_str().unwrap()))
}

async fn ranged(h: &Harness, key: &str, range: &str) -> Response<Body> {
    h.get(key, None, &[], &[("range", range)]).await
}

fn assert_partial(response: &Response<Body>, whole: &[u8], first: usize, last: usize) {
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.body().as_ref(), &whole[first..=last]);
    assert_eq!(
        header_of(response, "content-range"),
        format!("bytes {first}-{last}/{}", whole.len())
    );
    assert_eq!(
        header_of(response, "content-length"),
        (last - first + 1).to_string()
    );
    assert_eq!(header_of(response, "accept-ranges"), "bytes");
}

#[tokio::test]
async fn ranges_of_an_inline_original() {
    let h = Harness::new().await;
    let (key, etag) = photo_asset(&h).await;
    let len = JPEG.len();
    assert!(
        len > 1000,
        "the fixture is long enough for the ranges below"
    );

    let first = ranged(&h, &key, "bytes=0-99").await;
    assert_partial(&first, JPEG, 0, 99);
    // A part carries the whole representation's validator, type and caching.
    assert_eq!(header_of(&first, "etag"), etag);
    assert_eq!(header_of(&first, "content-type"), "image/jpeg");
    assert_eq!(
        header_of(&first, "cache-control"),
        "public, max-age=2592000, immutable"
    );
    assert_eq!(header_of(&first, "x-content-type-options"), "nosniff");
    assert_partial(
        &ranged(&h, &key, "bytes=-500").await,
        JPEG,
        len - 500,
        len - 1,
    );
    assert_partial(&ranged(&h, &key, "bytes=100-").await, JPEG, 100, len - 1);
    assert_partial(&ranged(&h, &key, "bytes=0-").await, JPEG, 0, len - 1);
    assert_partial(&ranged(&h, &key, "bytes=-999999").await, JPEG, 0, len - 1);
    assert_partial(
        &ranged(&h, &key, "bytes=10-999999").await,
        JPEG,
        10,
        len - 1,
    );
    // Overlapping ranges are coalesced; disjoint ones get the whole asset.
    assert_partial(&ranged(&h, &key, "bytes=0-9,5-19").await, JPEG, 0, 19);
    let disjoint = ranged(&h, &key, "bytes=0-9,20-29").await;
    assert_eq!(disjoint.status(), StatusCode::OK);
    assert_eq!(disjoint.body().as_ref(), JPEG);
    // A Range that is not a valid bytes range is ignored.
    let invalid = ranged(&h, &key, "bytes=9-1").await;
    assert_eq!(invalid.status(), StatusCode::OK);
    assert_eq!(invalid.body().as_ref(), JPEG);
}

#[tokio::test]
async fn ranges_past_the_end_are_416_with_the_length() {
    let h = Harness::new().await;
    let (key, _) = photo_asset(&h).await;
    let len = JPEG.len();
    for handle_error in ["false", "true"] {
        let response = h
            .get(
                &key,
                None,
                &[("handleError", handle_error)],
                &[("range", &format!("bytes={len}-"))],
            )
            .await;
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            header_of(&response, "content-range"),
            format!("bytes */{len}")
        );
        // A byte-range error of an asset that exists: the JSON error, never the placeholder.
        assert_eq!(error_code(&response), "range_not_satisfiable");
        assert!(
            json(&response)["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&len.to_string())
        );
    }
}

#[tokio::test]
async fn if_range_sends_the_part_only_for_the_same_representation() {
    let h = Harness::new().await;
    let (key, etag) = photo_asset(&h).await;
    let with = |if_range: String, range: &'static str| {
        let key = key.clone();
        let h = &h;
        async move {
            h.get(
                &key,
                None,
                &[],
                &[("range", range), ("if-range", &if_range)],
            )
            .await
        }
    };
    assert_partial(&with(etag.clone(), "bytes=0-9").await, JPEG, 0, 9);
    for other in [
        "\"0000\"".to_owned(),
        format!("W/{etag}"),
        "Sun, 29 Nov 2026 10:00:00 GMT".to_owned(),
    ] {
        let whole = with(other.clone(), "bytes=0-9").await;
        assert_eq!(whole.status(), StatusCode::OK, "{other}");
        assert_eq!(whole.body().as_ref(), JPEG);
        assert!(whole.headers().get("content-range").is_none());
    }
    // A changed representation is sent whole, even where the range could not be satisfied.
    let changed = with("\"0000\"".to_owned(), "bytes=999999-").await;
    assert_eq!(changed.status(), StatusCode::OK);
}

#[tokio::test]
async fn if_none_match_takes_precedence_over_range() {
    let h = Harness::new().await;
    let (key, etag) = photo_asset(&h).await;
    // RFC 9110 §13.2.2: If-None-Match is evaluated before Range.
    for range in ["bytes=0-9", "bytes=999999-"] {
        let response = h
            .get(
                &key,
                None,
                &[],
                &[("if-none-match", &etag), ("range", range)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{range}");
        assert_eq!(header_of(&response, "accept-ranges"), "bytes");
    }
}

#[tokio::test]
async fn ranges_of_renditions_are_parts_of_the_rendition() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, JPEG, "Harbour.jpg").await;
    let key = asset["key"].as_str().unwrap();
    for size in ["thumb", "large"] {
        let whole = h.get(key, None, &[("size", size)], &[]).await;
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(header_of(&whole, "accept-ranges"), "bytes");
        let whole = whole.body().as_ref().to_vec();
        let part = h
            .get(key, None, &[("size", size)], &[("range", "bytes=0-99")])
            .await;
        assert_partial(&part, &whole, 0, 99);
        assert_eq!(header_of(&part, "content-type"), "image/jpeg");
        let tail = h
            .get(key, None, &[("size", size)], &[("range", "bytes=-10")])
            .await;
        assert_partial(&tail, &whole, whole.len() - 10, whole.len() - 1);
        let past = h
            .get(
                key,
                None,
                &[("size", size)],
                &[("range", &format!("bytes={}-", whole.len()))],
            )
            .await;
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(
            header_of(&past, "content-range"),
            format!("bytes */{}", whole.len())
        );
    }
}
