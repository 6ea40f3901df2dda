//! Shared set-up for tests that need the local AWS stand-in (and, for end-to-end tests, a running
//! `cargo lambda watch`). `scripts/test.sh` starts both and sets `REQUIRE_LOCAL_AWS=1`, which turns a
//! missing stack into a failure instead of a skip.
#![allow(dead_code)]

use std::collections::HashMap;

use asset_service::config::Config;
use lambda_http::{Body, Request, RequestExt};

pub const JPEG: &[u8] = include_bytes!("../fixtures/photo.jpg");
pub const PNG: &[u8] = include_bytes!("../fixtures/logo.png");
pub const PDF: &[u8] = include_bytes!("../fixtures/document.pdf");

/// A real file from `../shared/samples/` (beside the repository; never committed into it).
pub fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn required() -> bool {
    std::env::var("REQUIRE_LOCAL_AWS").is_ok_and(|v| v == "1")
}

fn skip(what: &str) -> Option<Config> {
    if required() {
        panic!("{what} is not configured but REQUIRE_LOCAL_AWS=1; run scripts/test.sh");
    }
    eprintln!("skipped: {what} is not configured (run scripts/test.sh)");
    None
}

/// A configuration pointing at fresh, uniquely named storage on the local stand-in, or `None` when
/// no stand-in is configured.
pub fn local_config(test: &str) -> Option<Config> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => return skip("AWS_ENDPOINT_URL"),
    };
    let suffix = asset_service::domain::AssetKey::generate()
        .as_str()
        .to_ascii_lowercase()
        .replace(['_', '-'], "0");
    let bucket = format!("it-{}-{}", test.replace('_', "-"), &suffix[..10]);
    let table = format!("it-{test}-{}", &suffix[..10]);
    let mut config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" => Some(table.clone()),
        "ASSETS_BUCKET" => Some(bucket.clone()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "PUBLIC_BASE_URL" => Some("https://assets.test".into()),
        _ => None,
    })
    .expect("test configuration is valid");
    config.bucket_name.truncate(63);
    Some(config)
}

/// The base URL of the `cargo lambda watch` started by `scripts/test.sh`, with the storage names
/// the functions behind it use.
pub fn e2e_target() -> Option<(String, Config)> {
    let base = match std::env::var("E2E_BASE_URL") {
        Ok(base) if !base.is_empty() => base,
        _ => {
            skip("E2E_BASE_URL")?;
            unreachable!()
        }
    };
    let config = Config::from_env().expect("ASSETS_TABLE and ASSETS_BUCKET are set for e2e tests");
    Some((base, config))
}

/// An upload as a partner sends it: a `name` field and one file part, with an API key.
pub fn upload_request(api_key: &str, name: &str, file_name: &str, bytes: &[u8]) -> Request {
    let boundary = "it-boundary-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/api/v1/partner/asset/upload/private")
        .header("x-api-key", api_key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::Binary(body))
        .unwrap()
}

/// A GET as API Gateway hands it to the function: the key as path parameter, an optional API key,
/// query parameters.
pub fn get_request(asset_key: &str, api_key: Option<&str>, query: &[(&str, &str)]) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method("GET")
        .uri(format!("/api/v1/partner/asset/{asset_key}"));
    if let Some(api_key) = api_key {
        builder = builder.header("x-api-key", api_key);
    }
    builder
        .body(Body::Empty)
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )]))
        .with_query_string_parameters(
            query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        )
}

/// A config for `test` (see [`local_config`]) with its bucket and table made (twice: making them
/// is idempotent, and a second call must not fail); `None` when no local stack is configured.
pub async fn provisioned(test: &str) -> Option<(Config, asset_service::app::AwsStorage)> {
    let config = local_config(test)?;
    let storage = asset_service::app::AwsStorage::connect(&config).await;
    for _ in 0..2 {
        storage
            .blobs
            .ensure_bucket(storage.region.as_deref())
            .await
            .expect("bucket");
        storage.table.ensure_table().await.expect("table");
    }
    Some((config, storage))
}

/// Every object key in `bucket` (one page: the tests' buckets hold far fewer than 1,000).
pub async fn object_keys(storage: &asset_service::app::AwsStorage, bucket: &str) -> Vec<String> {
    let listed = storage
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list objects");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}
