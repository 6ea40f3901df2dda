//! Handler behaviour against in-memory storage: fast, and covering the failure paths that are hard
//! to provoke on real storage. The same flows run against S3/DynamoDB in `tests/`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use super::{get_asset, upload};
use crate::app::App;
use crate::auth::issue_key;
use crate::config::Config;
use crate::domain::{AssetKey, CompanyId, Visibility};
use crate::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use crate::storage::{ApiKeyRepo, BlobStore};

/// 128x128 with transparency: its renditions are PNGs.
const PNG: &[u8] = include_bytes!("../../tests/fixtures/logo.png");
/// 175 KB opaque photo: its renditions are JPEGs.
const JPEG: &[u8] = include_bytes!("../../tests/fixtures/photo.jpg");
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
const BOUNDARY: &str = "----asset-test-boundary";

struct Harness {
    app: App,
    blobs: Arc<MemoryBlobStore>,
    assets: Arc<MemoryAssetRepo>,
    keys: Arc<MemoryApiKeyRepo>,
    uploads: Arc<MemoryUploadRepo>,
    acme_key: String,
    globex_key: String,
}

impl Harness {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::from_lookup(|name| match name {
            "ASSETS_TABLE" => Some("assets".into()),
            "ASSETS_BUCKET" => Some("bucket".into()),
            _ => None,
        })
        .unwrap();
        tweak(&mut config);
        let blobs = Arc::new(MemoryBlobStore::default());
        let assets = Arc::new(MemoryAssetRepo::default());
        let keys = Arc::new(MemoryApiKeyRepo::default());
        let uploads = Arc::new(MemoryUploadRepo::default());
        let acme = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
            .await
            .unwrap();
        let globex = issue_key(keys.as_ref(), CompanyId::parse("globex").unwrap())
            .await
            .unwrap();
        Self {
            app: App::new(
                config,
                blobs.clone(),
                assets.clone(),
                keys.clone(),
                blobs.clone(),
                uploads.clone(),
            ),
            blobs,
            assets,
            keys,
            uploads,
            acme_key: acme.0.expose().to_owned(),
            globex_key: globex.0.expose().to_owned(),
        }
    }

    async fn upload(
        &self,
        visibility: Visibility,
        key: Option<&str>,
        body: Vec<u8>,
    ) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("https://api.example.com/api/v1/partner/asset/upload/private")
            .header(header::HOST, "api.example.com")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            );
        if let Some(key) = key {
            builder = builder.header("x-api-key", key);
        }
        upload(
            &self.app,
            visibility,
            builder.body(Body::Binary(body)).unwrap(),
        )
        .await
    }

    /// An upload by acme of just a file part.
    async fn upload_file(
        &self,
        visibility: Visibility,
        file_name: &str,
        file: &[u8],
    ) -> Response<Body> {
        self.upload(
            visibility,
            Some(&self.acme_key),
            form(&[("file", Some(file_name), file)]),
        )
        .await
    }

    async fn upload_ok(&self, visibility: Visibility, file: &[u8], name: &str) -> Value {
        let response = self
            .upload(
                visibility,
                Some(&self.acme_key),
                form(&[
                    ("name", None, name.as_bytes()),
                    ("file", Some("f.bin"), file),
                ]),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            body_text(&response)
        );
        json(&response)
    }

    async fn get(
        &self,
        key: &str,
        api_key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        self.read(Method::GET, key, api_key, query, headers).await
    }

    async fn head(
        &self,
        key: &str,
        api_key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        self.read(Method::HEAD, key, api_key, query, headers).await
    }

    async fn read(
        &self,
        method: Method,
        key: &str,
        api_key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!(
                "https://api.example.com/api/v1/partner/asset/{key}"
            ));
        if let Some(api_key) = api_key {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {api_key}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request: Request = builder
            .body(Body::Empty)
            .unwrap()
            .with_path_parameters(HashMap::from([("assetKey".to_string(), key.to_string())]))
            .with_query_string_parameters(
                query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
            );
        get_asset(&self.app, request).await
    }

    fn nothing_stored(&self) -> bool {
        self.blobs.is_empty() && self.assets.is_empty()
    }
}

fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, content) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(filename) = filename {
            body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn body_text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("JSON body")
}

fn error_code(response: &Response<Body>) -> String {
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    json(response)["error"]["code"].as_str().unwrap().to_owned()
}

fn header_of<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn private_upload_answers_the_contract_fields() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;

    let contract = [
        "id",
        "companyId",
        "created",
        "modified",
        "deleted",
        "updated",
        "name",
        "key",
        "type",
        "publicURL",
        "active",
        "priority",
        "secured",
        "thumbURL",
        "mediumURL",
        "largeURL",
        "largeX2URL",
        "origURL",
        "platformFileUrl",
    ];
    for field in contract {
        assert!(asset.get(field).is_some(), "missing {field}");
    }
    assert_eq!(asset["companyId"], "acme");
    assert_eq!(asset["name"], "Logo");
    assert_eq!(asset["type"], "IMAGE");
    assert_eq!(asset["contentType"], "image/png");
    assert_eq!(asset["secured"], true);
    assert_eq!(asset["deleted"], false);
    assert_eq!(asset["updated"], false);
    assert_eq!(asset["active"], true);
    assert_eq!(asset["priority"], 0);
    assert_eq!(asset["publicURL"], Value::Null);
    assert_eq!(asset["created"], asset["modified"]);
    let key = asset["key"].as_str().unwrap();
    assert!(AssetKey::parse(key).is_some());
    assert_eq!(
        asset["origURL"],
        format!("https://api.example.com/api/v1/partner/asset/{key}")
    );
    assert_eq!(
        asset["platformFileUrl"],
        format!("memory://companies/acme/assets/{key}/original")
    );
    let (stored, content_type) = h
        .blobs
        .object(&format!("companies/acme/assets/{key}/original"))
        .unwrap();
    assert_eq!(&stored[..], PNG);
    assert_eq!(content_type, "image/png");
    assert_eq!(h.assets.len(), 1);
}

#[tokio::test]
async fn public_upload_has_a_public_url_and_uses_the_configured_base() {
    let h = Harness::with(|c| c.public_base_url = Some("https://cdn.example.com/v".into())).await;
    let asset = h.upload_ok(Visibility::Public, PDF, "").await;
    let key = asset["key"].as_str().unwrap();
    let url = format!("https://cdn.example.com/v/api/v1/partner/asset/{key}");
    assert_eq!(asset["secured"], false);
    assert_eq!(asset["publicURL"], url);
    assert_eq!(asset["origURL"], url);
    // An empty name falls back to the file part's filename.
    assert_eq!(asset["name"], "f.bin");
    assert_eq!(asset["type"], "DOCUMENT");
}

#[tokio::test]
async fn uploads_need_a_valid_key() {
    let h = Harness::new().await;
    let body = || form(&[("file", Some("a.png"), PNG)]);
    for key in [None, Some("ak_not-a-key"), Some("")] {
        let response = h.upload(Visibility::Private, key, body()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(error_code(&response), "unauthorized");
    }
    let revoked = h
        .keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.company_id.as_str() == "globex")
        .unwrap();
    h.keys.revoke(revoked.key_id()).await.unwrap();
    let response = h
        .upload(Visibility::Private, Some(&h.globex_key), body())
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_store_nothing() {
    let h = Harness::with(|c| c.max_upload_bytes = 1000).await;
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (
            form(&[("name", None, b"x")]),
            StatusCode::BAD_REQUEST,
            "missing_file",
        ),
        (
            form(&[("file", Some("a"), b"")]),
            StatusCode::BAD_REQUEST,
            "empty_file",
        ),
        (
            b"not multipart at all".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_multipart",
        ),
        (
            form(&[
                ("file", Some("a.png"), PNG),
                ("assetType", None, b"PICTURE"),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            form(&[
                ("file", Some("a.png"), PNG),
                ("assetType", None, b"DOCUMENT"),
            ]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "asset_type_mismatch",
        ),
        (
            form(&[(
                "file",
                Some("a.html"),
                b"<html><script>alert(1)</script></html>",
            )]),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            form(&[(
                "file",
                Some("a.exe"),
                b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0",
            )]),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            form(&[("file", Some("big.txt"), &[b'a'; 1001])]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            form(&[
                ("file", Some("a.png"), PNG),
                ("name", None, "n".repeat(300).as_bytes()),
            ]),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let response = h.upload(Visibility::Private, Some(&h.acme_key), body).await;
        assert_eq!(response.status(), status, "{}", body_text(&response));
        assert_eq!(error_code(&response), code);
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // Too large for this endpoint is not too large for the service.
            let message = json(&response)["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                message.contains("POST /api/v1/partner/asset/uploads/"),
                "{message}"
            );
        }
    }
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn declared_asset_type_is_accepted_when_it_matches() {
    let h = Harness::new().await;
    let response = h
        .upload(
            Visibility::Private,
            Some(&h.acme_key),
            form(&[("assetType", None, b"image"), ("file", Some("x.png"), PNG)]),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(&response)["type"], "IMAGE");
}

#[tokio::test]
async fn failed_metadata_write_removes_the_object() {
    let h = Harness::new().await;
    h.assets.fail.store(true, Ordering::SeqCst);
    let response = h.upload_file(Visibility::Private, "a.png", PNG).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&response), "storage_unavailable");
    h.assets.fail.store(false, Ordering::SeqCst);
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn metadata_write_whose_response_was_lost_is_a_success() {
    let h = Harness::new().await;
    h.assets.lose_insert_response.store(true, Ordering::SeqCst);
    let response = h.upload_file(Visibility::Private, "a.png", PNG).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        body_text(&response)
    );
    let key = json(&response)["key"].as_str().unwrap().to_owned();
    // The original and its four renditions are kept, with their metadata.
    assert_eq!((h.blobs.len(), h.assets.len()), (5, 1));
    let served = h.get(&key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(served.body().as_ref(), PNG);
}

#[tokio::test]
async fn metadata_without_its_object_is_not_found() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    h.blobs
        .delete(&format!("companies/acme/assets/{key}/original"))
        .await
        .unwrap();
    let response = h.get(key, None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failed_object_write_stores_no_metadata() {
    let h = Harness::new().await;
    h.blobs.fail.store(true, Ordering::SeqCst);
    let response = h.upload_file(Visibility::Public, "a.png", PNG).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    h.blobs.fail.store(false, Ordering::SeqCst);
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn get_serves_bytes_with_caching_and_security_headers() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let response = h.get(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), PNG);
    assert_eq!(header_of(&response, "content-type"), "image/png");
    assert_eq!(
        header_of(&response, "content-length"),
        PNG.len().to_string()
    );
    assert_eq!(
        header_of(&response, "cache-control"),
        "private, max-age=2592000"
    );
    assert_eq!(
        header_of(&response, "etag"),
        format!("\"{}\"", asset["sha256"].as_str().unwrap())
    );
    assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
    assert_eq!(
        header_of(&response, "content-security-policy"),
        "default-src 'none'; sandbox"
    );
    assert_eq!(
        header_of(&response, "content-disposition"),
        "inline; filename=\"logo.png\"; filename*=UTF-8''logo.png"
    );
}

#[tokio::test]
async fn public_documents_are_cached_publicly_and_downloaded() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PDF, "Q3 \"report\"").await;
    let response = h.get(asset["key"].as_str().unwrap(), None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), PDF);
    assert_eq!(
        header_of(&response, "cache-control"),
        "public, max-age=2592000, immutable"
    );
    assert_eq!(
        header_of(&response, "content-disposition"),
        "attachment; filename=\"Q3 _report_.pdf\"; filename*=UTF-8''Q3%20%22report%22.pdf"
    );
}

#[tokio::test]
async fn matching_if_none_match_is_not_modified() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let etag = format!("\"{}\"", asset["sha256"].as_str().unwrap());
    let response = h.get(key, None, &[], &[("if-none-match", &etag)]).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert!(response.body().is_empty());
    assert_eq!(header_of(&response, "etag"), etag);
    assert_eq!(
        header_of(&response, "cache-control"),
        "public, max-age=2592000, immutable"
    );
    let other = h
        .get(key, None, &[], &[("if-none-match", "\"something-else\"")])
        .await;
    assert_eq!(other.status(), StatusCode::OK);
    let star = h.get(key, None, &[], &[("if-none-match", "*")]).await;
    assert_eq!(star.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn large_assets_redirect_to_a_short_lived_presigned_url() {
    let h = Harness::with(|c| c.inline_max_bytes = 10).await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let response = h.get(asset["key"].as_str().unwrap(), None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.body().is_empty());
    assert!(header_of(&response, "location").starts_with("https://blobs.invalid/companies/acme/"));
    assert_eq!(
        header_of(&response, "cache-control"),
        "private, max-age=240"
    );
}

#[tokio::test]
async fn private_assets_are_invisible_to_others() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let anonymous = h.get(key, None, &[], &[]).await;
    let other_company = h.get(key, Some(&h.globex_key), &[], &[]).await;
    let unknown = h
        .get(
            &AssetKey::generate().to_string(),
            Some(&h.acme_key),
            &[],
            &[],
        )
        .await;
    for response in [&anonymous, &other_company, &unknown] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json(response), json(&unknown), "responses must not differ");
    }
    let bad_key = h.get(key, Some("ak_wrong"), &[], &[]).await;
    assert_eq!(bad_key.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deleted_assets_are_gone() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = AssetKey::parse(asset["key"].as_str().unwrap()).unwrap();
    h.assets.update(&key, |a| a.deleted = true);
    assert_eq!(
        h.get(key.as_str(), Some(&h.acme_key), &[], &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn handle_error_serves_a_placeholder_under_the_true_status() {
    let h = Harness::new().await;
    let missing = AssetKey::generate().to_string();
    let response = h.get(&missing, None, &[("handleError", "true")], &[]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&response, "content-type"), "image/png");
    assert_eq!(header_of(&response, "cache-control"), "no-store");
    assert!(response.body().as_ref().starts_with(b"\x89PNG"));

    let plain = h
        .get(&missing, None, &[("handleError", "false")], &[])
        .await;
    assert_eq!(error_code(&plain), "not_found");
    let bogus = h
        .get(&missing, None, &[("handleError", "maybe")], &[])
        .await;
    assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&bogus), "invalid_parameter");
    // Any other bad parameter under handleError=true: the placeholder, still a 400.
    let bad_size = h
        .get(
            &missing,
            None,
            &[("handleError", "true"), ("size", "huge")],
            &[],
        )
        .await;
    assert_eq!(bad_size.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header_of(&bad_size, "content-type"), "image/png");

    h.assets.fail.store(true, Ordering::SeqCst);
    let down = h.get(&missing, None, &[("handleError", "true")], &[]).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_of(&down, "content-type"), "image/png");
    let down_json = h.get(&missing, None, &[], &[]).await;
    assert_eq!(error_code(&down_json), "storage_unavailable");
}

#[tokio::test]
async fn percent_encoded_and_malformed_keys() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    assert_eq!(
        h.get(&encoded, None, &[], &[]).await.status(),
        StatusCode::OK
    );
    for bad in ["..", "%2F..%2Fetc%2Fpasswd", "caf%C3%A9", "%FF%FE", "x"] {
        let response = h.get(bad, None, &[], &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

const SIZES: [&str; 4] = ["thumb", "medium", "large", "largeX2"];
const URL_FIELDS: [&str; 4] = ["thumbURL", "mediumURL", "largeURL", "largeX2URL"];

#[tokio::test]
async fn image_uploads_answer_rendition_urls_that_serve_each_rendition() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, JPEG, "Harbour.jpg").await;
    let key = asset["key"].as_str().unwrap();
    let (width, height) = (
        asset["width"].as_u64().unwrap() as usize,
        asset["height"].as_u64().unwrap() as usize,
    );
    let mut previous_side = 0;
    for (size, field) in SIZES.iter().zip(URL_FIELDS) {
        assert_eq!(
            asset[field],
            format!("https://api.example.com/api/v1/partner/asset/{key}?size={size}")
        );
        let response = h.get(key, Some(&h.acme_key), &[("size", size)], &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{size}");
        assert_eq!(header_of(&response, "content-type"), "image/jpeg");
        assert_eq!(
            header_of(&response, "cache-control"),
            "private, max-age=2592000"
        );
        assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
        assert_eq!(
            header_of(&response, "content-disposition"),
            format!("inline; filename=\"Harbour-{size}.jpg\"; filename*=UTF-8''Harbour-{size}.jpg")
        );
        let body = response.body().as_ref();
        let etag = header_of(&response, "etag");
        assert_ne!(etag, format!("\"{}\"", asset["sha256"].as_str().unwrap()));
        let image = turbojpeg::decompress(body, turbojpeg::PixelFormat::RGB).unwrap();
        let box_side = match *size {
            "thumb" => 160,
            "medium" => 480,
            "large" => 1024,
            _ => 2048,
        };
        let longest = image.width.max(image.height);
        assert_eq!(longest, box_side.min(width.max(height)), "{size}");
        assert!(
            longest >= previous_side,
            "each size is at least the one before"
        );
        previous_side = longest;
        // Aspect ratio kept to within a pixel's rounding.
        let expected_h = image.width * height / width;
        assert!(
            image.height.abs_diff(expected_h) <= 1,
            "{size}: {}x{}",
            image.width,
            image.height
        );

        let stored = h
            .blobs
            .object(&format!("companies/acme/assets/{key}/{size}"))
            .expect("rendition stored next to the original");
        assert_eq!(&stored.0[..], body);

        let revalidated = h
            .get(
                key,
                Some(&h.acme_key),
                &[("size", size)],
                &[("if-none-match", etag)],
            )
            .await;
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED, "{size}");
        // The original's validator does not match a rendition.
        let original_etag = format!("\"{}\"", asset["sha256"].as_str().unwrap());
        let stale = h
            .get(
                key,
                Some(&h.acme_key),
                &[("size", size)],
                &[("if-none-match", &original_etag)],
            )
            .await;
        assert_eq!(stale.status(), StatusCode::OK);
    }
    let original = h.get(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(
        original.body().as_ref(),
        JPEG,
        "origURL still serves the untouched original"
    );
}

#[tokio::test]
async fn private_renditions_are_as_private_as_their_original() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let key = asset["key"].as_str().unwrap();
    let unknown = h
        .get(
            &AssetKey::generate().to_string(),
            Some(&h.acme_key),
            &[],
            &[],
        )
        .await;
    for size in SIZES {
        let own = h.get(key, Some(&h.acme_key), &[("size", size)], &[]).await;
        assert_eq!(own.status(), StatusCode::OK);
        assert_eq!(
            header_of(&own, "content-type"),
            "image/png",
            "transparency kept"
        );
        let anonymous = h.get(key, None, &[("size", size)], &[]).await;
        let other = h
            .get(key, Some(&h.globex_key), &[("size", size)], &[])
            .await;
        for response in [&anonymous, &other] {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{size}");
            assert_eq!(json(response), json(&unknown));
        }
    }
}

#[tokio::test]
async fn public_renditions_are_cached_publicly() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, JPEG, "harbour").await;
    let key = asset["key"].as_str().unwrap();
    let response = h.get(key, None, &[("size", "thumb")], &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, "cache-control"),
        "public, max-age=2592000, immutable"
    );
}

#[tokio::test]
async fn documents_have_no_renditions() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, PDF, "report").await;
    for field in URL_FIELDS {
        assert_eq!(asset[field], Value::Null, "{field}");
    }
    let key = asset["key"].as_str().unwrap();
    let missing = h.get(key, None, &[("size", "thumb")], &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(&missing), "not_found");
    let placeholder = h
        .get(
            key,
            None,
            &[("size", "thumb"), ("handleError", "true")],
            &[],
        )
        .await;
    assert_eq!(placeholder.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&placeholder, "content-type"), "image/png");
    let bogus = h.get(key, None, &[("size", "huge")], &[]).await;
    assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&bogus), "invalid_parameter");
    assert_eq!(h.blobs.len(), 1, "only the original is stored");
}

#[tokio::test]
async fn images_that_do_not_decode_are_refused_and_store_nothing() {
    let h = Harness::new().await;
    let truncated = &JPEG[..JPEG.len() / 2];
    let response = h
        .upload_file(Visibility::Private, "half.jpg", truncated)
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&response), "invalid_image");
    assert!(h.nothing_stored());

    let h = Harness::with(|config| config.max_animation_frames = 1).await;
    let two_frames = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
    let response = h
        .upload_file(Visibility::Private, "a.gif", two_frames)
        .await;
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        body_text(&response)
    );
    assert_eq!(error_code(&response), "too_many_frames");
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn a_failed_rendition_write_removes_every_object() {
    let h = Harness::new().await;
    *h.blobs.put_budget.lock().unwrap() = Some(2);
    let response = h.upload_file(Visibility::Private, "photo.jpg", JPEG).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        h.nothing_stored(),
        "the two objects that were written are removed again"
    );
}

#[tokio::test]
async fn sideways_photos_are_reported_and_rendered_upright() {
    use crate::renditions::tests::{exif, jpeg, with_segment};
    let h = Harness::new().await;
    // Stored 400x200 with EXIF orientation 6: displayed 200x400.
    let sideways = with_segment(&jpeg(400, 200), 0xE1, &exif(6));
    let asset = h.upload_ok(Visibility::Public, &sideways, "portrait").await;
    assert_eq!(
        (asset["width"].as_u64(), asset["height"].as_u64()),
        (Some(200), Some(400))
    );
    let key = asset["key"].as_str().unwrap();
    let thumb = h.get(key, None, &[("size", "thumb")], &[]).await;
    let header = turbojpeg::read_header(thumb.body().as_ref()).unwrap();
    assert_eq!((header.width, header.height), (80, 160));
    let original = h.get(key, None, &[], &[]).await;
    assert_eq!(
        original.body().as_ref(),
        &sideways[..],
        "the original keeps its EXIF"
    );
}

/// Query booleans as the common clients write them (issue 11: Python `requests` sends `True`).
#[tokio::test]
async fn handle_error_reads_every_common_boolean_spelling() {
    let h = Harness::new().await;
    let missing = AssetKey::generate().to_string();
    // (spelling, Some(placeholder?) or None for a 400)
    for (spelling, expected) in crate::http::QUERY_BOOL_SPELLINGS {
        let response = h
            .get(&missing, None, &[("handleError", spelling)], &[])
            .await;
        match expected {
            Some(placeholder) => {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{spelling:?}");
                let content_type = header_of(&response, "content-type");
                let want = if placeholder {
                    "image/png"
                } else {
                    "application/json"
                };
                assert_eq!(content_type, want, "{spelling:?}");
            }
            None => {
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{spelling:?}");
                assert_eq!(error_code(&response), "invalid_parameter", "{spelling:?}");
            }
        }
    }
}

/// Enumerations in any case: `assetType=image` is `IMAGE`, `size=THUMB` is `thumb`.
#[tokio::test]
async fn enumerations_are_read_in_any_case() {
    let h = Harness::new().await;
    for spelling in ["IMAGE", "image", "Image", "iMaGe"] {
        let response = h
            .upload(
                Visibility::Public,
                Some(&h.acme_key),
                form(&[
                    ("assetType", None, spelling.as_bytes()),
                    ("file", Some("x.png"), PNG),
                ]),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{spelling}");
        assert_eq!(json(&response)["type"], "IMAGE", "{spelling}");
    }
    let asset = h.upload_ok(Visibility::Public, PNG, "logo.png").await;
    let key = asset["key"].as_str().unwrap();
    for (spelling, canonical) in [
        ("THUMB", "thumb"),
        ("Medium", "medium"),
        ("largex2", "largeX2"),
        ("LARGEX2", "largeX2"),
    ] {
        let response = h.get(key, None, &[("size", spelling)], &[]).await;
        let reference = h.get(key, None, &[("size", canonical)], &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{spelling}");
        assert_eq!(
            header_of(&response, "etag"),
            header_of(&reference, "etag"),
            "{spelling}"
        );
    }
    let unknown = h.get(key, None, &[("size", "thumbnail")], &[]).await;
    assert_eq!(error_code(&unknown), "invalid_parameter");
}

mod cdn_sharing;
mod clients;
mod direct_upload;
mod lifecycle;
mod ranges;
mod signed_urls;
mod upload_tokens;

#[tokio::test]
async fn uploads_of_every_rendered_format_answer_a_company_asset_with_renditions() {
    use crate::renditions::tests::sample;
    // (sample, its content type, size as displayed, the renditions' type)
    let cases = [
        ("ianare__BSG1.tiff", "image/tiff", (635, 348), "image/jpeg"),
        (
            "ljt__shira_bird8.bmp",
            "image/bmp",
            (192, 144),
            "image/jpeg",
        ),
        (
            "sharp__Channel_digital_image_CMYK_color.jpg",
            "image/jpeg",
            (500, 333),
            "image/jpeg",
        ),
        (
            "pillow__junk_jpeg_header.jpg",
            "image/jpeg",
            (1024, 768),
            "image/jpeg",
        ),
        ("imagers__oob.gif", "image/gif", (40, 40), "image/png"),
        ("pngsuite__basn3p01.png", "image/png", (32, 32), "image/png"),
        (
            "pillow__hopper_orientation_6.webp",
            "image/webp",
            (128, 128),
            "image/jpeg",
        ),
        // Named .heic, but its major brand is `mif1`: a HEIF file (HEVC-coded).
        (
            "mdex__cheers_1440x960.heic",
            "image/heif",
            (1440, 960),
            "image/jpeg",
        ),
        // Stored 427x640, turned by its irot and imir.
        (
            "pillow__rot1mir0.avif",
            "image/avif",
            (640, 427),
            "image/jpeg",
        ),
    ];
    let h = Harness::new().await;
    for (name, content_type, (width, height), rendition_type) in cases {
        let file = sample(name);
        let asset = h.upload_ok(Visibility::Public, &file, name).await;
        assert_eq!(asset["contentType"], content_type, "{name}");
        assert_eq!(asset["type"], "IMAGE", "{name}");
        assert_eq!(
            (asset["width"].as_u64(), asset["height"].as_u64()),
            (Some(width), Some(height)),
            "{name}"
        );
        let key = asset["key"].as_str().unwrap();
        for (size, field) in SIZES.iter().zip(URL_FIELDS) {
            assert!(asset[field].as_str().is_some(), "{name} {field}");
            let response = h.get(key, None, &[("size", size)], &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{name} {size}");
            assert_eq!(
                header_of(&response, "content-type"),
                rendition_type,
                "{name} {size}"
            );
        }
        let original = h.get(key, None, &[], &[]).await;
        assert_eq!(
            original.body().as_ref(),
            &file[..],
            "{name}: kept byte for byte"
        );
    }
}

#[tokio::test]
async fn a_truncated_jpeg_is_refused_as_truncated_and_nothing_is_stored() {
    use crate::renditions::tests::sample;
    let h = Harness::new().await;
    let whole = sample("pillow__jpeg_ff00_header.jpg");
    let response = h
        .upload_file(Visibility::Public, "cut.jpg", &whole[..whole.len() * 3 / 4])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&response), "invalid_image");
    assert!(
        body_text(&response).contains("truncated"),
        "{}",
        body_text(&response)
    );
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn an_iphone_heic_is_kept_as_uploaded_and_rendered_upright_in_jpeg() {
    use crate::renditions::heif_samples::IPHONE;
    use crate::renditions::tests::sample;
    let h = Harness::new().await;
    let heic = sample(IPHONE);
    let asset = h.upload_ok(Visibility::Private, &heic, "IMG_0001").await;
    assert_eq!(asset["contentType"], "image/heic");
    // Stored 4032x3024 with irot 3 (and EXIF orientation 6, which HEIF readers do not apply).
    assert_eq!(
        (asset["width"].as_u64(), asset["height"].as_u64()),
        (Some(3024), Some(4032))
    );
    let key = asset["key"].as_str().unwrap();
    for (size, (width, height)) in
        SIZES
            .iter()
            .zip([(120, 160), (360, 480), (768, 1024), (1536, 2048)])
    {
        let response = h.get(key, Some(&h.acme_key), &[("size", size)], &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{size}");
        assert_eq!(header_of(&response, "content-type"), "image/jpeg", "{size}");
        let header = turbojpeg::read_header(response.body().as_ref()).unwrap();
        assert_eq!((header.width, header.height), (width, height), "{size}");
    }
    let original = h.get(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(header_of(&original, "content-type"), "image/heic");
    assert_eq!(
        original.body().as_ref(),
        &heic[..],
        "the original byte for byte"
    );
}

#[tokio::test]
async fn a_jpeg_xl_is_kept_as_uploaded_and_rendered_and_a_cut_one_refused() {
    use crate::renditions::jxl_files::{cjxl, photo, png_rgb};
    let h = Harness::new().await;
    let jxl = cjxl(&png_rgb(&photo(640, 480), 640, 480), "png", &["-d", "1"]);
    let asset = h.upload_ok(Visibility::Public, &jxl, "scan").await;
    assert_eq!(asset["contentType"], "image/jxl");
    assert_eq!(
        (asset["width"].as_u64(), asset["height"].as_u64()),
        (Some(640), Some(480))
    );
    let key = asset["key"].as_str().unwrap();
    for size in SIZES {
        let response = h.get(key, None, &[("size", size)], &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{size}");
        assert_eq!(header_of(&response, "content-type"), "image/jpeg", "{size}");
    }
    let original = h.get(key, None, &[], &[]).await;
    assert_eq!(header_of(&original, "content-type"), "image/jxl");
    assert_eq!(
        original.body().as_ref(),
        &jxl[..],
        "the original byte for byte"
    );

    let h = Harness::new().await;
    let response = h
        .upload_file(Visibility::Public, "cut.jxl", &jxl[..jxl.len() / 2])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&response), "invalid_image");
    assert!(h.nothing_stored());
}

#[tokio::test]
async fn a_transparent_avif_gets_png_renditions_and_a_damaged_heic_is_refused() {
    use crate::renditions::tests::sample;
    let h = Harness::new().await;
    let avif = sample("pillow__transparency.avif");
    let asset = h.upload_ok(Visibility::Public, &avif, "logo").await;
    assert_eq!(asset["contentType"], "image/avif");
    let key = asset["key"].as_str().unwrap();
    let thumb = h.get(key, None, &[("size", "thumb")], &[]).await;
    assert_eq!(header_of(&thumb, "content-type"), "image/png");

    let heic = sample("mdex__cheers_1440x960.heic");
    let response = h
        .upload_file(Visibility::Private, "cut.heic", &heic[..heic.len() / 2])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body_text(&response).contains("invalid_image"),
        "{}",
        body_text(&response)
    );
    assert_eq!(
        (h.blobs.len(), h.assets.len()),
        (5, 1),
        "only the AVIF and its renditions are stored"
    );
}
