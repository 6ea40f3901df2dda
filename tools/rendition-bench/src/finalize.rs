//! The finalize of a direct upload (issue 10), measured like the renditions: the `complete` call's
//! whole path (`complete_upload`: key lookup, the upload's lease, `head`, the 1 MiB ranged sniff,
//! content rules, the read of the staged image, its SHA-256, decode + renditions, the copy of the
//! staged original to the asset's key, the rendition writes, the metadata, settling, removing the
//! staged bytes), in a fresh child process per measurement, median of N runs and the process's
//! peak memory (VmHWM), side by side with the renditions alone of the same photo.
//!
//! Storage is in-process memory by default: the function's own CPU time and memory, no network.
//! The staged original lives in that memory as it would after the function's GET, so it counts
//! toward the peak as it does in Lambda. With `--s3` the real AWS adapters run against the
//! endpoint of `AWS_ENDPOINT_URL` (the local stack's moto): the function's real SDK buffers, and a
//! wall time dominated by moto (one Python process), not by S3.

use std::sync::Arc;
use std::time::Instant;

use asset_service::App;
use asset_service::app::AwsStorage;
use asset_service::auth::{issue_key, now_ms};
use asset_service::config::Config;
use asset_service::domain::{
    AssetKey, CompanyId, PendingUpload, Transfer, UploadId, UploadState, Visibility, sha256_hex,
};
use asset_service::storage::BlobStore;
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use bytes::Bytes;
use lambda_http::Body;

/// Where the staged bytes and records live during a measurement.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Memory,
    /// The AWS adapters against `AWS_ENDPOINT_URL`, bucket and table from `ASSETS_BUCKET` /
    /// `ASSETS_TABLE` (made if missing).
    S3,
}

/// An app with one company's key, ready to stage uploads.
struct Bench {
    app: App,
    key: String,
    blobs: Arc<dyn BlobStore>,
}

async fn bench_app(storage: Storage) -> Bench {
    let company = CompanyId::parse("bench").expect("company id");
    match storage {
        Storage::Memory => {
            let config = Config::from_lookup(|name| match name {
                "ASSETS_TABLE" | "ASSETS_BUCKET" => Some("bench".into()),
                _ => None,
            })
            .expect("bench configuration");
            let blobs = Arc::new(MemoryBlobStore::default());
            let keys = Arc::new(MemoryApiKeyRepo::default());
            let (secret, _) = issue_key(keys.as_ref(), company).await.expect("key");
            let app = App::new(
                config,
                blobs.clone(),
                Arc::new(MemoryAssetRepo::default()),
                keys,
                blobs.clone(),
                Arc::new(MemoryUploadRepo::default()),
            );
            Bench {
                app,
                key: secret.expose().to_owned(),
                blobs,
            }
        }
        Storage::S3 => {
            let config = Config::from_env().expect("--s3 reads the functions' environment");
            assert!(
                config.aws_endpoint_url.is_some(),
                "--s3 is for the local stack: set AWS_ENDPOINT_URL"
            );
            let storage = AwsStorage::connect(&config).await;
            storage
                .blobs
                .ensure_bucket(storage.region.as_deref())
                .await
                .expect("bucket");
            storage.table.ensure_table().await.expect("table");
            let (secret, _) = issue_key(storage.table.as_ref(), company)
                .await
                .expect("key");
            let blobs: Arc<dyn BlobStore> = storage.blobs.clone();
            let app = App::new(
                config,
                storage.blobs.clone(),
                storage.table.clone(),
                storage.table.clone(),
                storage.blobs,
                storage.table,
            );
            Bench {
                app,
                key: secret.expose().to_owned(),
                blobs,
            }
        }
    }
}

/// Stages `bytes` as a started single-PUT upload whose client announced its size and SHA-256 (as
/// the README's sequence does), and answers the `complete` request for it.
async fn staged(bench: &Bench, bytes: &Bytes, sha256: &str) -> lambda_http::Request {
    let now = now_ms();
    let upload = PendingUpload {
        id: UploadId::generate(),
        company_id: CompanyId::parse("bench").expect("company id"),
        visibility: Visibility::Private,
        name: "photo.jpg".into(),
        declared_type: None,
        declared_size: Some(bytes.len() as u64),
        declared_sha256: Some(sha256.to_owned()),
        max_bytes: bench.app.config.upload_limits.max_bytes,
        token_id: None,
        asset_key: AssetKey::generate(),
        transfer: Transfer::SingleRequest,
        state: UploadState::Pending,
        created_ms: now,
        expires_at_s: now / 1000 + 3600,
    };
    bench.app.uploads.insert(&upload).await.expect("record");
    bench
        .blobs
        .put(
            &upload.staging_key(),
            bytes.clone(),
            "application/octet-stream",
        )
        .await
        .expect("staged bytes");
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://bench.test/api/v1/partner/asset/uploads/private/{}/complete",
            upload.id
        ))
        .header("x-api-key", &bench.key)
        .body(Body::Empty)
        .expect("request")
}

/// Child mode: finalizes `path` `iterations` times after a warm-up (as a warm instance would) and
/// answers the median and fastest wall time of the `complete` call in ms.
pub fn measure(path: &str, iterations: usize, storage: Storage) -> (f64, f64) {
    // A Lambda function's runtime: tokio, renditions on a blocking thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let bytes = Bytes::from(std::fs::read(path).expect("read photo"));
        let sha256 = sha256_hex(&bytes);
        let mut shared = None;
        let mut times = Vec::with_capacity(iterations);
        for run in 0..=iterations {
            // In memory, a fresh store each run, so stored assets do not pile up in the peak.
            if storage == Storage::Memory || shared.is_none() {
                shared = Some(bench_app(storage).await);
            }
            let bench = shared.as_ref().expect("bench app");
            let request = staged(bench, &bytes, &sha256).await;
            let start = Instant::now();
            let response = asset_service::complete_upload(&bench.app, request).await;
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(
                response.status(),
                200,
                "{}",
                String::from_utf8_lossy(response.body().as_ref())
            );
            std::hint::black_box(response);
            if run > 0 {
                times.push(elapsed);
            }
        }
        let min = times.iter().copied().fold(f64::INFINITY, f64::min);
        (crate::median(times), min)
    })
}
