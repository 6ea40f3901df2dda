//! The handlers' own CPU per request, with storage answered from memory: what a GET or an upload
//! costs inside the Lambda besides the network. Run: `cargo bench -p asset-service --bench handlers`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::CompanyId;
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use asset_service::{App, Visibility, get_asset, upload};
use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::{Body, Request, RequestExt};

const PNG: &[u8] = include_bytes!("../tests/fixtures/logo.png");
const JPEG: &[u8] = include_bytes!("../tests/fixtures/photo.jpg");

fn multipart(bytes: &[u8]) -> Vec<u8> {
    let mut body =
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n".to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--b--\r\n");
    body
}

fn upload_request(key: &str, body: &[u8]) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .header("host", "api.example.com")
        .header("x-api-key", key)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(Body::Binary(body.to_vec()))
        .unwrap()
}

fn get_request(asset_key: &str, key: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("GET")
        .header("x-api-key", key)
        .body(Body::Empty)
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )]))
}

fn handlers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" | "ASSETS_BUCKET" => Some("bench".into()),
        _ => None,
    })
    .unwrap();
    let keys = Arc::new(MemoryApiKeyRepo::default());
    let (secret, _) = runtime
        .block_on(issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap()))
        .unwrap();
    let key = secret.expose().to_owned();
    let app = App::new(
        config,
        Arc::new(MemoryBlobStore::default()),
        Arc::new(MemoryAssetRepo::default()),
        keys,
        Arc::new(MemoryBlobStore::default()),
        Arc::new(MemoryUploadRepo::default()),
    );

    for (label, bytes) in [("png-852B", PNG), ("jpeg-175KB", JPEG)] {
        let response = runtime.block_on(upload(
            &app,
            Visibility::Private,
            upload_request(&key, &multipart(bytes)),
        ));
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let asset_key = asset["key"].as_str().unwrap().to_owned();
        c.bench_function(&format!("get_asset/{label}"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(get_asset(&app, get_request(&asset_key, &key)).await) })
        });
    }
    // Only the small file: every iteration stores a new asset in memory.
    let body = multipart(PNG);
    c.bench_function("upload/png-852B", |b| {
        b.to_async(&runtime).iter(|| async {
            black_box(upload(&app, Visibility::Private, upload_request(&key, &body)).await)
        })
    });
}

criterion_group!(benches, handlers);
criterion_main!(benches);
