//! Every sample event in `events/` parses as the event its function receives (API Gateway HTTP API
//! v2, or for `upload-finalize` EventBridge's `Object Created` and an S3 notification's `Records`)
//! and is answered by its function's handler (storage in memory; the key placeholder swapped for a
//! key). A file in `events/` that no test here runs fails the suite.

use std::sync::Arc;

use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::{AssetKey, CompanyId, PendingUpload, Transfer, UploadId, UploadState};
use asset_service::storage::StagingArea;
use asset_service::storage::memory::MemorySigningKeys;
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use asset_service::{
    App, ObjectCreatedEvent, TableStreamEvent, Visibility, abort_upload, complete_upload,
    delete_asset, finalize_staged_object, get_asset, handle_asset_events, list_assets,
    mint_upload_token, part_url, sign_asset_url, start_upload, update_asset, upload, upload_status,
};
use lambda_http::http::HeaderValue;
use lambda_http::{Request, RequestExt};

/// Every file in `events/`, each run by a test below.
const SAMPLES: [&str; 18] = [
    "get-asset.json",
    "get-asset-handle-error.json",
    "upload-private.json",
    "upload-public.json",
    "upload-start.json",
    "upload-part.json",
    "upload-status.json",
    "upload-complete.json",
    "upload-abort.json",
    "upload-token.json",
    "upload-finalize-eventbridge.json",
    "upload-finalize-s3-notification.json",
    "list-assets.json",
    "update-asset.json",
    "delete-asset.json",
    "delete-asset-erase.json",
    "asset-events-ttl-purge.json",
    "sign-asset-url.json",
];

/// The upload the direct-upload samples name (their path's `{uploadId}` and staging key).
const SAMPLE_UPLOAD_ID: &str = "ZXZlbnRzYW1wbGV1cGxvYWQx";

/// The bucket the `upload-finalize` samples name.
const SAMPLE_BUCKET: &str = "assets-bucket";

fn sample_text(name: &str) -> String {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str) -> Request {
    lambda_http::request::from_str(&sample_text(name))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// An API Gateway event with the key placeholder replaced by `key`.
fn keyed_event(name: &str, key: &str) -> Request {
    let mut request = event(name);
    assert!(
        request.request_context_ref().is_some(),
        "{name} is an API Gateway event"
    );
    assert!(
        request.headers().contains_key("x-api-key"),
        "{name} carries the key placeholder"
    );
    request
        .headers_mut()
        .insert("x-api-key", HeaderValue::from_str(key).unwrap());
    request
}

#[test]
fn every_sample_event_is_run_by_a_test() {
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut known: Vec<String> = SAMPLES.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(found, known, "add a new sample to SAMPLES and to a test");
}

async fn app() -> (App, String) {
    let (app, key, _) = app_with_storage().await;
    (app, key)
}

/// The app on memory storage (bucket [`SAMPLE_BUCKET`]), acme's key, and the bucket.
async fn app_with_storage() -> (App, String, Arc<MemoryBlobStore>) {
    let config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" => Some("t".into()),
        "ASSETS_BUCKET" => Some(SAMPLE_BUCKET.into()),
        _ => None,
    })
    .unwrap();
    let keys = Arc::new(MemoryApiKeyRepo::default());
    let (secret, _) = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let blobs = Arc::new(MemoryBlobStore::default());
    let app = App::new(
        config,
        blobs.clone(),
        Arc::new(MemoryAssetRepo::default()),
        keys,
        blobs.clone(),
        Arc::new(MemoryUploadRepo::default()),
    );
    (app, secret.expose().to_owned(), blobs)
}

/// acme's pending upload named by the samples, as `upload-start` records it.
fn sample_upload(transfer: Transfer, size: u64) -> PendingUpload {
    let now_ms = 1_795_813_200_000_i64;
    PendingUpload {
        id: UploadId::parse(SAMPLE_UPLOAD_ID).expect("the samples' upload id is well formed"),
        company_id: CompanyId::parse("acme").unwrap(),
        visibility: Visibility::Private,
        name: "Q3 report.pdf".into(),
        declared_type: None,
        declared_size: Some(size),
        declared_sha256: None,
        max_bytes: 5 << 30,
        token_id: None,
        asset_key: AssetKey::generate(),
        transfer,
        state: UploadState::Pending,
        created_ms: now_ms,
        // Far ahead: the samples' upload must not expire while the suite runs.
        expires_at_s: i64::from(i32::MAX),
    }
}

fn json_of(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn direct_upload_events_reach_their_handlers() {
    let (app, key, blobs) = app_with_storage().await;

    let response = start_upload(&app, keyed_event("upload-start.json", &key)).await;
    assert_eq!(response.status(), 201, "upload-start.json");
    let started = json_of(&response);
    assert_eq!(started["status"], "pending");
    assert!(
        started["partsUrl"].as_str().unwrap().starts_with(
            "https://abc123.execute-api.us-east-1.amazonaws.com/api/v1/partner/asset/uploads/private/"
        ),
        "{started}"
    );

    // The upload the other samples name: in parts, nothing sent yet.
    let staging_key = format!("staging/acme/{SAMPLE_UPLOAD_ID}");
    let s3_upload_id = blobs.create_multipart(&staging_key).await.unwrap();
    let upload = sample_upload(Transfer::Multipart { s3_upload_id }, 71_680_000);
    app.uploads.insert(&upload).await.unwrap();

    let response = part_url(&app, keyed_event("upload-part.json", &key)).await;
    assert_eq!(response.status(), 200, "upload-part.json");
    assert_eq!(json_of(&response)["method"], "PUT");

    let response = upload_status(&app, keyed_event("upload-status.json", &key)).await;
    assert_eq!(response.status(), 200, "upload-status.json");
    assert_eq!(json_of(&response)["status"], "pending");

    // Its part 1 was never sent, so S3 holds nothing under the sample's ETag.
    let response = complete_upload(&app, keyed_event("upload-complete.json", &key)).await;
    assert_eq!(response.status(), 409, "upload-complete.json");
    assert_eq!(json_of(&response)["error"]["code"], "invalid_parts");

    let response = abort_upload(&app, keyed_event("upload-abort.json", &key)).await;
    assert_eq!(response.status(), 200, "upload-abort.json");
    assert_eq!(json_of(&response)["status"], "aborted");
    let response = upload_status(&app, keyed_event("upload-status.json", &key)).await;
    assert_eq!(response.status(), 404, "aborted, it is gone");
}

#[tokio::test]
async fn finalize_events_make_the_staged_upload_an_asset() {
    let pdf = include_bytes!("fixtures/document.pdf");
    for name in [
        "upload-finalize-eventbridge.json",
        "upload-finalize-s3-notification.json",
    ] {
        // What lambda_runtime does with the invocation's payload.
        let event: ObjectCreatedEvent = serde_json::from_str(&sample_text(name))
            .unwrap_or_else(|e| panic!("events/{name}: {e}"));
        let (app, _, blobs) = app_with_storage().await;
        let upload = sample_upload(Transfer::SingleRequest, pdf.len() as u64);
        app.uploads.insert(&upload).await.unwrap();
        blobs.client_put(&upload.staging_key(), pdf.to_vec());

        finalize_staged_object(&app, event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let asset = app.assets.find(&upload.asset_key).await.unwrap();
        let asset = asset.unwrap_or_else(|| panic!("{name} made no asset"));
        assert_eq!(asset.content_type, "application/pdf", "{name}");
        assert_eq!(
            app.uploads.find(&upload.id).await.unwrap().unwrap().state,
            UploadState::Ready,
            "{name}"
        );
    }
}

#[tokio::test]
async fn upload_events_create_assets() {
    let (app, key) = app().await;
    for (file, visibility) in [
        ("upload-private.json", Visibility::Private),
        ("upload-public.json", Visibility::Public),
    ] {
        let mut request = event(file);
        assert!(
            request.request_context_ref().is_some(),
            "{file} is an API Gateway event"
        );
        request
            .headers_mut()
            .insert("x-api-key", HeaderValue::from_str(&key).unwrap());
        let response = upload(&app, visibility, request).await;
        assert_eq!(response.status(), 200, "{file}");
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(asset["type"], "IMAGE");
        assert_eq!(asset["name"], "Company logo");
        assert_eq!(asset["secured"], visibility == Visibility::Private);
        let orig = asset["origURL"].as_str().unwrap();
        assert!(orig.starts_with(
            "https://abc123.execute-api.us-east-1.amazonaws.com/api/v1/partner/asset/"
        ));
    }
}

#[tokio::test]
async fn get_events_reach_the_handler() {
    let (app, _) = app().await;
    let request = event("get-asset.json");
    assert_eq!(
        request
            .path_parameters_ref()
            .and_then(|p| p.first("assetKey"))
            .map(str::len),
        Some(24)
    );
    let response = get_asset(&app, request).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");

    let response = get_asset(&app, event("get-asset-handle-error.json")).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn the_token_event_mints_a_token_its_visibility_and_cap() {
    let (app, key, _) = app_with_storage().await;
    let response = mint_upload_token(&app, keyed_event("upload-token.json", &key)).await;
    assert_eq!(response.status(), 201, "upload-token.json");
    let minted = json_of(&response);
    assert!(minted["token"].as_str().unwrap().starts_with("ut_"));
    assert_eq!(minted["visibility"], "public");
    assert_eq!(minted["maxBytes"], 104_857_600);
}

/// The asset the lifecycle samples name (their path's `{assetKey}`).
const SAMPLE_ASSET_KEY: &str = "Zm9vYmFyYmF6cXV4MTIzNDU2";

/// acme's public PDF under [`SAMPLE_ASSET_KEY`], stored with its bytes.
async fn sample_asset(app: &App) -> asset_service::domain::Asset {
    let pdf = include_bytes!("fixtures/document.pdf");
    let content = asset_service::domain::detect_content(pdf, None).unwrap();
    let asset = asset_service::domain::Asset::create(asset_service::domain::NewAsset {
        key: AssetKey::parse(SAMPLE_ASSET_KEY).unwrap(),
        company_id: CompanyId::parse("acme").unwrap(),
        name: "Q3 report.pdf".into(),
        visibility: Visibility::Public,
        content: &content,
        size: pdf.len() as u64,
        sha256: asset_service::domain::sha256_hex(pdf),
        dimensions: None,
        renditions: Vec::new(),
        now_ms: 1_795_813_200_000,
    });
    app.blobs
        .put(&asset.object_key, pdf.to_vec().into(), "application/pdf")
        .await
        .unwrap();
    app.assets.insert(&asset).await.unwrap();
    asset
}

#[tokio::test]
async fn lifecycle_events_reach_their_handlers() {
    let (app, key, blobs) = app_with_storage().await;
    let app = app.with_signing(Arc::new(MemorySigningKeys::default()));
    sample_asset(&app).await;

    let response = list_assets(&app, keyed_event("list-assets.json", &key)).await;
    assert_eq!(response.status(), 200, "list-assets.json");
    let page = json_of(&response);
    assert_eq!(page["assets"][0]["key"], SAMPLE_ASSET_KEY);
    assert_eq!(
        page["assets"][0]["origURL"],
        format!(
            "https://abc123.execute-api.us-east-1.amazonaws.com/api/v1/partner/asset/{SAMPLE_ASSET_KEY}"
        )
    );

    let response = update_asset(&app, keyed_event("update-asset.json", &key)).await;
    assert_eq!(response.status(), 200, "update-asset.json");
    assert_eq!(json_of(&response)["name"], "Q3 report (final).pdf");
    // The sample's If-Match names version 1: sent again, it is stale.
    let response = update_asset(&app, keyed_event("update-asset.json", &key)).await;
    assert_eq!(response.status(), 412, "update-asset.json a second time");

    let response = delete_asset(&app, keyed_event("delete-asset.json", &key)).await;
    assert_eq!(response.status(), 200, "delete-asset.json");
    assert_eq!(json_of(&response)["erased"], false);
    assert_eq!(blobs.len(), 1, "a soft delete keeps the bytes");
    let response = delete_asset(&app, keyed_event("delete-asset-erase.json", &key)).await;
    assert_eq!(response.status(), 200, "delete-asset-erase.json");
    assert_eq!(json_of(&response)["objectsRemoved"], 1);
    assert!(blobs.is_empty());
}

#[tokio::test]
async fn the_stream_sample_purges_the_deleted_asset() {
    let name = "asset-events-ttl-purge.json";
    // What lambda_runtime does with the invocation's payload.
    let event: TableStreamEvent =
        serde_json::from_str(&sample_text(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"));
    let (app, _, blobs) = app_with_storage().await;
    sample_asset(&app).await;
    assert_eq!(blobs.len(), 1);
    let answer = handle_asset_events(&app, event).await;
    assert!(answer.batch_item_failures.is_empty(), "{name}");
    assert!(blobs.is_empty(), "{name}: the purge removed the original");
}

/// Signed URLs (issue 13): the sample mints a URL for the thumb of acme's image under the sample
/// key, on the event's host, and that URL reads the thumb without any header.
#[tokio::test]
async fn the_sign_event_mints_a_url_that_reads_the_thumb() {
    use asset_service::domain::{Asset, NewAsset, RenditionSize, StoredRendition, detect_content};
    use asset_service::storage::memory::MemorySigningKeys;
    let (app, key, blobs) = app_with_storage().await;
    let app = app.with_signing(Arc::new(MemorySigningKeys::default()));
    let png = include_bytes!("fixtures/logo.png");
    let content = detect_content(png, None).unwrap();
    let asset = Asset::create(NewAsset {
        key: AssetKey::parse("Zm9vYmFyYmF6cXV4MTIzNDU2").unwrap(),
        company_id: CompanyId::parse("acme").unwrap(),
        name: "logo.png".into(),
        visibility: Visibility::Private,
        content: &content,
        size: png.len() as u64,
        sha256: asset_service::domain::sha256_hex(png),
        dimensions: Some((128, 128)),
        renditions: vec![StoredRendition::describe(
            RenditionSize::Thumb,
            "image/png",
            png,
            128,
            128,
        )],
        now_ms: 1_795_813_200_000,
    });
    app.assets.insert(&asset).await.unwrap();
    asset_service::storage::BlobStore::put(
        blobs.as_ref(),
        &asset.rendition_object_key(RenditionSize::Thumb),
        bytes::Bytes::from_static(png),
        "image/png",
    )
    .await
    .unwrap();

    let response = sign_asset_url(&app, keyed_event("sign-asset-url.json", &key)).await;
    assert_eq!(response.status(), 201, "sign-asset-url.json");
    let minted = json_of(&response);
    assert_eq!(minted["size"], "thumb");
    let url = minted["url"].as_str().unwrap();
    let query = url
        .strip_prefix(
            "https://abc123.execute-api.us-east-1.amazonaws.com/api/v1/partner/asset/\
             Zm9vYmFyYmF6cXV4MTIzNDU2?",
        )
        .unwrap_or_else(|| panic!("{url}"));
    let params: std::collections::HashMap<String, String> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut read = event("get-asset.json");
    read.headers_mut().remove("if-none-match");
    let read = read.with_query_string_parameters(params);
    let response = get_asset(&app, read).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), png);
}
