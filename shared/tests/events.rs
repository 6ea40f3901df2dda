//! Every sample event in `events/` parses as the API Gateway HTTP API v2 event it claims to be and
//! is answered by its function's handler (storage in memory; the key placeholder swapped for a key).

use std::sync::Arc;

use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::CompanyId;
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use asset_service::{App, Visibility, get_asset, upload};
use lambda_http::http::HeaderValue;
use lambda_http::{Request, RequestExt};

fn event(name: &str) -> Request {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn app() -> (App, String) {
    let config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" => Some("t".into()),
        "ASSETS_BUCKET" => Some("b".into()),
        _ => None,
    })
    .unwrap();
    let keys = Arc::new(MemoryApiKeyRepo::default());
    let (secret, _) = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let app = App::new(
        config,
        Arc::new(MemoryBlobStore::default()),
        Arc::new(MemoryAssetRepo::default()),
        keys,
        Arc::new(MemoryBlobStore::default()),
        Arc::new(MemoryUploadRepo::default()),
    );
    (app, secret.expose().to_owned())
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
