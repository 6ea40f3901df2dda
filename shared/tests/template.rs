//! `template.yaml` keeps its promises: each function's IAM policy grants exactly the AWS actions its
//! code calls (found by running the handlers over recording storage), on exactly the bucket prefix and
//! table it uses, with no wildcards; storage is private, encrypted, recoverable and retained; routes
//! match the `cargo lambda watch` router.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use asset_service::auth::issue_key;
use asset_service::config::Config;
use std::time::Duration;

use asset_service::domain::{
    ApiKeyHash, ApiKeyRecord, Asset, AssetKey, CompanyId, ListPage, ListQuery, PendingUpload,
    SigningKeys, UploadId, UploadState, UploadTokenRecord,
};
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemorySigningKeys, MemoryUploadRepo,
};
use asset_service::storage::{
    ApiKeyRepo, AssetRepo, BlobStore, Claim, MultipartCompletion, PresignedGet, PresignedPost,
    PresignedRequest, SigningKeyStore, StagedObject, StagingArea, StorageError, Transition,
    UploadRepo, UploadedPart, dynamo, s3, secrets,
};
use asset_service::{
    App, Visibility, abort_upload, complete_upload, delete_asset, finalize_staged_object,
    get_asset, handle_asset_events, list_assets, mint_upload_token, part_url, sign_asset_url,
    start_upload, update_asset, upload, upload_status,
};
use async_trait::async_trait;
use bytes::Bytes;
use lambda_http::{Body, RequestExt};
use serde_norway::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

// ------------------------------------------------------------------ what the code calls

type Calls = Arc<Mutex<BTreeSet<String>>>;

struct Recording<T> {
    inner: T,
    calls: Calls,
}

impl<T> Recording<T> {
    fn note(&self, method: &str) {
        self.calls.lock().unwrap().insert(method.to_owned());
    }

    /// A bucket call, with the top prefix of the key it names (`companies`, `staging`): the IAM
    /// policy grants each action on exactly the prefixes it is used on.
    fn note_object(&self, method: &str, key: &str) {
        let prefix = key.split('/').next().unwrap_or_default();
        self.note(&format!("{method} {prefix}"));
    }
}

#[async_trait]
impl BlobStore for Recording<Arc<MemoryBlobStore>> {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        self.note_object("put", key);
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.note_object("get", key);
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<Bytes>, StorageError> {
        self.note_object("get_range", key);
        self.inner.get_range(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.note_object("delete", key);
        self.inner.delete(key).await
    }
    async fn presign_get(&self, key: &str, req: &PresignedGet) -> Result<String, StorageError> {
        self.note_object("presign_get", key);
        self.inner.presign_get(key, req).await
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

#[async_trait]
impl asset_service::storage::CdnInvalidator
    for Recording<Arc<asset_service::storage::memory::MemoryCdn>>
{
    async fn invalidate(&self, path: &str) -> Result<(), StorageError> {
        self.note("CdnInvalidator::invalidate");
        self.inner.invalidate(path).await
    }
}

#[async_trait]
impl SigningKeyStore for Recording<Arc<MemorySigningKeys>> {
    async fn keys(&self) -> Result<SigningKeys, StorageError> {
        self.note("SigningKeyStore::keys");
        self.inner.keys().await
    }
}

#[async_trait]
impl AssetRepo for Recording<Arc<MemoryAssetRepo>> {
    async fn insert(&self, asset: &Asset) -> Result<(), StorageError> {
        self.note("AssetRepo::insert");
        self.inner.insert(asset).await
    }
    async fn find(&self, key: &AssetKey) -> Result<Option<Asset>, StorageError> {
        self.note("AssetRepo::find");
        self.inner.find(key).await
    }
    async fn replace(&self, asset: &Asset, expected_version: u64) -> Result<(), StorageError> {
        self.note("AssetRepo::replace");
        self.inner.replace(asset, expected_version).await
    }
    async fn remove(&self, key: &AssetKey, expected_version: u64) -> Result<(), StorageError> {
        self.note("AssetRepo::remove");
        self.inner.remove(key, expected_version).await
    }
    async fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        self.note("AssetRepo::list");
        self.inner.list(query).await
    }
}

#[async_trait]
impl ApiKeyRepo for Recording<Arc<MemoryApiKeyRepo>> {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StorageError> {
        self.note("ApiKeyRepo::insert");
        self.inner.insert(record).await
    }
    async fn find(&self, hash: &ApiKeyHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        self.note("ApiKeyRepo::find");
        self.inner.find(hash).await
    }
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.note("ApiKeyRepo::list");
        self.inner.list().await
    }
    async fn revoke(&self, key_id: &str) -> Result<bool, StorageError> {
        self.note("ApiKeyRepo::revoke");
        self.inner.revoke(key_id).await
    }
    async fn insert_upload_token(&self, record: &UploadTokenRecord) -> Result<(), StorageError> {
        self.note("ApiKeyRepo::insert_upload_token");
        self.inner.insert_upload_token(record).await
    }
    async fn find_upload_token(
        &self,
        hash: &ApiKeyHash,
    ) -> Result<Option<UploadTokenRecord>, StorageError> {
        self.note("ApiKeyRepo::find_upload_token");
        self.inner.find_upload_token(hash).await
    }
}

#[async_trait]
impl StagingArea for Recording<Arc<MemoryBlobStore>> {
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        sha256: Option<&str>,
        ttl: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        self.note_object("presign_put", key);
        self.inner.presign_put(key, size, sha256, ttl).await
    }
    async fn presign_post(
        &self,
        key: &str,
        max_bytes: u64,
        ttl: Duration,
    ) -> Result<PresignedPost, StorageError> {
        self.note_object("presign_post", key);
        self.inner.presign_post(key, max_bytes, ttl).await
    }
    async fn create_multipart(&self, key: &str) -> Result<String, StorageError> {
        self.note_object("create_multipart", key);
        self.inner.create_multipart(key).await
    }
    async fn presign_part(
        &self,
        key: &str,
        id: &str,
        n: u32,
        ttl: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        self.note_object("presign_part", key);
        self.inner.presign_part(key, id, n, ttl).await
    }
    async fn list_parts(
        &self,
        key: &str,
        id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StorageError> {
        self.note_object("list_parts", key);
        self.inner.list_parts(key, id).await
    }
    async fn complete_multipart(
        &self,
        key: &str,
        id: &str,
        parts: &[UploadedPart],
    ) -> Result<MultipartCompletion, StorageError> {
        self.note_object("complete_multipart", key);
        self.inner.complete_multipart(key, id, parts).await
    }
    async fn abort_multipart(&self, key: &str, id: &str) -> Result<(), StorageError> {
        self.note_object("abort_multipart", key);
        self.inner.abort_multipart(key, id).await
    }
    async fn head(&self, key: &str) -> Result<Option<StagedObject>, StorageError> {
        self.note_object("head", key);
        self.inner.head(key).await
    }
    async fn read_prefix(&self, key: &str, len: u64) -> Result<Bytes, StorageError> {
        self.note_object("read_prefix", key);
        self.inner.read_prefix(key, len).await
    }
    async fn sha256(&self, key: &str) -> Result<String, StorageError> {
        self.note_object("sha256", key);
        self.inner.sha256(key).await
    }
    async fn copy(&self, from: &str, to: &str, content_type: &str) -> Result<(), StorageError> {
        self.note_object("copy_from", from);
        self.note_object("copy_to", to);
        self.inner.copy(from, to, content_type).await
    }
}

#[async_trait]
impl UploadRepo for Recording<Arc<MemoryUploadRepo>> {
    async fn insert(&self, upload: &PendingUpload) -> Result<(), StorageError> {
        self.note("UploadRepo::insert");
        self.inner.insert(upload).await
    }
    async fn find(&self, id: &UploadId) -> Result<Option<PendingUpload>, StorageError> {
        self.note("UploadRepo::find");
        self.inner.find(id).await
    }
    async fn settle(&self, id: &UploadId, state: &UploadState) -> Result<Transition, StorageError> {
        self.note("UploadRepo::settle");
        self.inner.settle(id, state).await
    }
    async fn claim(
        &self,
        id: &UploadId,
        now_s: i64,
        lease: Duration,
    ) -> Result<Claim, StorageError> {
        self.note("UploadRepo::claim");
        self.inner.claim(id, now_s, lease).await
    }
    async fn release(&self, id: &UploadId) -> Result<(), StorageError> {
        self.note("UploadRepo::release");
        self.inner.release(id).await
    }
}

struct Fixture {
    app: App,
    calls: Calls,
    blobs: Arc<MemoryBlobStore>,
    assets: Arc<MemoryAssetRepo>,
    uploads: Arc<MemoryUploadRepo>,
    key: String,
}

async fn fixture(inline_max_bytes: u64) -> Fixture {
    let mut config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" | "ASSETS_BUCKET" => Some("x".into()),
        _ => None,
    })
    .unwrap();
    config.inline_max_bytes = inline_max_bytes;
    let blobs = Arc::new(MemoryBlobStore::default());
    let assets = Arc::new(MemoryAssetRepo::default());
    let keys = Arc::new(MemoryApiKeyRepo::default());
    let uploads = Arc::new(MemoryUploadRepo::default());
    let (secret, _) = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let calls = Calls::default();
    let signing = Arc::new(Recording {
        inner: Arc::new(MemorySigningKeys::default()),
        calls: calls.clone(),
    });
    let app = App::new(
        config,
        Arc::new(Recording {
            inner: blobs.clone(),
            calls: calls.clone(),
        }),
        Arc::new(Recording {
            inner: assets.clone(),
            calls: calls.clone(),
        }),
        Arc::new(Recording {
            inner: keys,
            calls: calls.clone(),
        }),
        Arc::new(Recording {
            inner: blobs.clone(),
            calls: calls.clone(),
        }),
        Arc::new(Recording {
            inner: uploads.clone(),
            calls: calls.clone(),
        }),
    )
    .with_signing(signing);
    Fixture {
        app,
        calls,
        blobs,
        assets,
        uploads,
        key: secret.expose().to_owned(),
    }
}

fn upload_request(key: &str) -> lambda_http::Request {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\r\n--b--\r\n";
    lambda_http::http::Request::builder()
        .method("POST")
        .header("x-api-key", key)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(Body::Binary(body.to_vec()))
        .unwrap()
}

fn get_request(asset_key: &str, key: Option<&str>, etag: Option<&str>) -> lambda_http::Request {
    request(
        "GET",
        asset_key,
        key,
        etag.map(|etag| ("if-none-match", etag)),
    )
}

fn request(
    method: &str,
    asset_key: &str,
    key: Option<&str>,
    header: Option<(&str, &str)>,
) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder().method(method);
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    if let Some((name, value)) = header {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::Empty)
        .unwrap()
        .with_path_parameters(std::collections::HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )]))
}

/// Every storage method each function's handler can reach, over its success and failure paths.
async fn methods_called() -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (function, visibility) in [
        ("upload-private", Visibility::Private),
        ("upload-public", Visibility::Public),
    ] {
        let f = fixture(1 << 20).await;
        f.calls.lock().unwrap().clear();
        assert_eq!(
            upload(&f.app, visibility, upload_request(&f.key))
                .await
                .status(),
            200
        );
        // The clean-up path: metadata write fails, the object is deleted.
        f.assets
            .fail
            .store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            upload(&f.app, visibility, upload_request(&f.key))
                .await
                .status(),
            503
        );
        assert!(
            f.blobs.len() == 1,
            "clean-up removed the failed upload's object"
        );
        out.insert(function, f.calls.lock().unwrap().clone());
    }

    let mut get_calls = BTreeSet::new();
    for inline_max in [1 << 20, 1] {
        let f = fixture(inline_max).await;
        let response = upload(&f.app, Visibility::Private, upload_request(&f.key)).await;
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let asset_key = asset["key"].as_str().unwrap();
        let etag = format!("\"{}\"", asset["sha256"].as_str().unwrap());
        f.calls.lock().unwrap().clear();
        let served = get_asset(&f.app, get_request(asset_key, Some(&f.key), None)).await;
        assert!(matches!(served.status().as_u16(), 200 | 302));
        let cached = get_asset(&f.app, get_request(asset_key, Some(&f.key), Some(&etag))).await;
        assert_eq!(cached.status(), 304);
        let anonymous = get_asset(&f.app, get_request(asset_key, None, None)).await;
        assert_eq!(anonymous.status(), 404);
        let ranged = request("GET", asset_key, Some(&f.key), Some(("range", "bytes=0-1")));
        let ranged = get_asset(&f.app, ranged).await;
        assert!(matches!(ranged.status().as_u16(), 206 | 302));
        let head = get_asset(&f.app, request("HEAD", asset_key, Some(&f.key), None)).await;
        assert!(matches!(head.status().as_u16(), 200 | 302));
        get_calls.extend(f.calls.lock().unwrap().iter().cloned());
    }
    out.insert("get-asset", get_calls);
    signed_url_calls(&mut out).await;
    direct_upload_calls(&mut out).await;
    lifecycle_calls(&mut out).await;
    out
}

/// A JSON request to the lifecycle routes (`asset_key`: the `{assetKey}` path parameter).
fn lifecycle_request(
    method: &str,
    uri: &str,
    asset_key: Option<&str>,
    key: &str,
    body: &str,
) -> lambda_http::Request {
    let req = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_owned()))
        .unwrap();
    let query: std::collections::HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let req = req.with_query_string_parameters(query);
    match asset_key {
        Some(asset_key) => req.with_path_parameters(std::collections::HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )])),
        None => req,
    }
}

/// list-assets (with a cursor), update-asset, delete-asset (soft and erase) and asset-events (a
/// deleted asset's record removed by the TTL).
async fn lifecycle_calls(out: &mut BTreeMap<&'static str, BTreeSet<String>>) {
    const BASE: &str = "https://api.example.com/api/v1/partner/asset";
    let f = fixture(1 << 20).await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let response = upload(&f.app, Visibility::Public, upload_request(&f.key)).await;
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        keys.push(asset["key"].as_str().unwrap().to_owned());
    }

    f.calls.lock().unwrap().clear();
    let first = list_assets(
        &f.app,
        lifecycle_request("GET", &format!("{BASE}?limit=1"), None, &f.key, ""),
    )
    .await;
    let first: serde_json::Value = serde_json::from_slice(first.body().as_ref()).unwrap();
    let cursor = first["nextCursor"].as_str().expect("a second page");
    let second = list_assets(
        &f.app,
        lifecycle_request(
            "GET",
            &format!("{BASE}?limit=1&cursor={cursor}"),
            None,
            &f.key,
            "",
        ),
    )
    .await;
    assert_eq!(second.status(), 200);
    out.insert("list-assets", f.calls.lock().unwrap().clone());

    f.calls.lock().unwrap().clear();
    let patched = update_asset(
        &f.app,
        lifecycle_request(
            "PATCH",
            &format!("{BASE}/{}", keys[0]),
            Some(&keys[0]),
            &f.key,
            r#"{"name":"renamed.pdf"}"#,
        ),
    )
    .await;
    assert_eq!(patched.status(), 200);
    out.insert("update-asset", f.calls.lock().unwrap().clone());

    f.calls.lock().unwrap().clear();
    for (asset_key, query) in [(&keys[0], ""), (&keys[1], "?erase=true")] {
        let deleted = delete_asset(
            &f.app,
            lifecycle_request(
                "DELETE",
                &format!("{BASE}/{asset_key}{query}"),
                Some(asset_key),
                &f.key,
                "",
            ),
        )
        .await;
        assert_eq!(deleted.status(), 200);
    }
    assert_eq!(f.blobs.len(), 1, "the erased asset's object is gone");
    out.insert("delete-asset", f.calls.lock().unwrap().clone());

    let deleted = f
        .assets
        .find(&AssetKey::parse(&keys[0]).unwrap())
        .await
        .unwrap()
        .unwrap();
    // With the CDN on, the delete's record on the stream (public before, not after) invalidates.
    let app = f.app.with_cdn(Arc::new(Recording {
        inner: Arc::new(asset_service::storage::memory::MemoryCdn::default()),
        calls: f.calls.clone(),
    }));
    let mut live = deleted.clone();
    live.deleted = false;
    f.calls.lock().unwrap().clear();
    let event = serde_json::json!({"Records": [{
        "eventID": "0",
        "eventName": "MODIFY",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "SequenceNumber": "0",
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "OldImage": dynamo::asset_stream_image(&live),
            "NewImage": dynamo::asset_stream_image(&deleted),
        },
    }, {
        "eventID": "1",
        "eventName": "REMOVE",
        "awsRegion": "us-east-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "OldImage": dynamo::asset_stream_image(&deleted),
        },
    }]});
    let answer = handle_asset_events(&app, serde_json::from_value(event).unwrap()).await;
    assert!(answer.batch_item_failures.is_empty());
    assert!(f.blobs.is_empty(), "the purge removed the last object");
    out.insert("asset-events", f.calls.lock().unwrap().clone());
}

// Signed URLs (issue 13).
fn sign_request(asset_key: &str, key: &str, body: &str) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://api.example.com/api/v1/partner/asset/{asset_key}/url"
        ))
        .header("x-api-key", key)
        .body(Body::Text(body.to_owned()))
        .unwrap()
        .with_path_parameters(std::collections::HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )]))
}

/// sign-asset-url minting (and refusing another company), and get-asset reading through signed
/// URLs, inline and redirected, changed and intact.
async fn signed_url_calls(out: &mut BTreeMap<&'static str, BTreeSet<String>>) {
    for inline_max in [1 << 20, 1] {
        let f = fixture(inline_max).await;
        let response = upload(&f.app, Visibility::Private, upload_request(&f.key)).await;
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let asset_key = asset["key"].as_str().unwrap();
        f.calls.lock().unwrap().clear();
        let minted = sign_asset_url(&f.app, sign_request(asset_key, &f.key, "")).await;
        assert_eq!(minted.status(), 201);
        let missing = sign_request("AAAAAAAAAAAAAAAAAAAAAAAA", &f.key, "");
        assert_eq!(sign_asset_url(&f.app, missing).await.status(), 404);
        out.entry("sign-asset-url")
            .or_default()
            .extend(std::mem::take(&mut *f.calls.lock().unwrap()));
        let minted: serde_json::Value = serde_json::from_slice(minted.body().as_ref()).unwrap();
        let url = minted["url"].as_str().unwrap();
        let query: Vec<(&str, &str)> = url
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        let signed = |query: &[(&str, &str)]| {
            get_request(asset_key, None, None).with_query_string_parameters(
                query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<std::collections::HashMap<_, _>>(),
            )
        };
        let served = get_asset(&f.app, signed(&query)).await;
        assert!(matches!(served.status().as_u16(), 200 | 302));
        let changed = [query[0], ("signature", "x")];
        assert_eq!(get_asset(&f.app, signed(&changed)).await.status(), 404);
        out.entry("get-asset")
            .or_default()
            .extend(std::mem::take(&mut *f.calls.lock().unwrap()));
    }
}

const PHOTO: &[u8] = include_bytes!("fixtures/photo.jpg");
const UPLOADS: &str = "https://api.example.com/api/v1/partner/asset/uploads/private";

fn json_request(
    method: &str,
    url: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> lambda_http::Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-api-key", key)
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap()
}

/// Starts an upload of `file` (in parts when `multipart`) and puts its bytes as the client would;
/// answers its id and the body its `complete` sends.
async fn started(
    f: &Fixture,
    file: &[u8],
    multipart: bool,
) -> (UploadId, Option<serde_json::Value>) {
    let response = start_upload(
        &f.app,
        json_request(
            "POST",
            UPLOADS,
            &f.key,
            Some(serde_json::json!({"size": file.len(), "multipart": multipart})),
        ),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let id = UploadId::parse(body["uploadId"].as_str().unwrap()).unwrap();
    let staging_key = format!("staging/acme/{id}");
    if multipart {
        let signed = part_url(
            &f.app,
            json_request("GET", &format!("{UPLOADS}/{id}/parts/1"), &f.key, None),
        )
        .await;
        assert_eq!(signed.status(), 200);
        let s3_upload_id = f.blobs.open_multipart_id(&staging_key).unwrap();
        let etag = f
            .blobs
            .client_put_part(&s3_upload_id, 1, file.to_vec())
            .unwrap();
        let parts = serde_json::json!({"parts": [{"partNumber": 1, "etag": etag}]});
        (id, Some(parts))
    } else {
        f.blobs.client_put(&staging_key, file.to_vec());
        (id, None)
    }
}

fn staged_event(id: &UploadId) -> asset_service::ObjectCreatedEvent {
    serde_json::from_value(serde_json::json!({
        "detail": {"bucket": {"name": "x"}, "object": {"key": format!("staging/acme/{id}")}}
    }))
    .unwrap()
}

/// The direct-upload functions, over success, refusal and clean-up paths.
async fn direct_upload_calls(out: &mut BTreeMap<&'static str, BTreeSet<String>>) {
    let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();

    // upload-start, upload-part (inside `started`), upload-status, upload-abort.
    let f = fixture(1 << 20).await;
    started(&f, &pdf, false).await;
    let (multipart, _) = started(&f, &pdf, true).await;
    f.uploads
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let failed = start_upload(
        &f.app,
        json_request(
            "POST",
            UPLOADS,
            &f.key,
            Some(serde_json::json!({"size": 9, "multipart": true})),
        ),
    )
    .await;
    assert_eq!(failed.status(), 503);
    assert_eq!(
        f.blobs.open_multipart_uploads(),
        1,
        "the failed start's parts were aborted"
    );
    f.uploads
        .fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let calls = std::mem::take(&mut *f.calls.lock().unwrap());
    out.insert(
        "upload-start",
        calls
            .iter()
            .filter(|c| !c.contains("presign_part"))
            .cloned()
            .collect(),
    );
    out.insert(
        "upload-part",
        [
            "ApiKeyRepo::find",
            "UploadRepo::find",
            "presign_part staging",
        ]
        .into_iter()
        .map(str::to_owned)
        .filter(|c| calls.contains(c))
        .collect(),
    );
    let status = upload_status(
        &f.app,
        json_request("GET", &format!("{UPLOADS}/{multipart}"), &f.key, None),
    )
    .await;
    assert_eq!(status.status(), 200);
    out.insert(
        "upload-status",
        std::mem::take(&mut *f.calls.lock().unwrap()),
    );
    let aborted = abort_upload(
        &f.app,
        json_request("DELETE", &format!("{UPLOADS}/{multipart}"), &f.key, None),
    )
    .await;
    assert_eq!(aborted.status(), 200);
    out.insert(
        "upload-abort",
        std::mem::take(&mut *f.calls.lock().unwrap()),
    );

    // The Uppy protocol with an upload token: the same functions, and upload-token's mint.
    let f = fixture(1 << 20).await;
    f.calls.lock().unwrap().clear();
    let minted = mint_upload_token(
        &f.app,
        json_request(
            "POST",
            "https://api.example.com/api/v1/partner/asset/upload-tokens",
            &f.key,
            Some(serde_json::json!({"visibility": "private"})),
        ),
    )
    .await;
    assert_eq!(minted.status(), 201);
    out.insert(
        "upload-token",
        std::mem::take(&mut *f.calls.lock().unwrap()),
    );
    let minted: serde_json::Value = serde_json::from_slice(minted.body().as_ref()).unwrap();
    let token = minted["token"].as_str().unwrap();
    let uppy = format!("{UPLOADS}/s3");
    let mut uppy_calls = |function: &'static str, f: &Fixture| {
        let calls = std::mem::take(&mut *f.calls.lock().unwrap());
        out.entry(function).or_default().extend(calls);
    };
    let params = start_upload(
        &f.app,
        json_request("GET", &format!("{uppy}/params"), token, None),
    )
    .await;
    assert_eq!(params.status(), 200);
    let created = start_upload(
        &f.app,
        json_request(
            "POST",
            &format!("{uppy}/multipart"),
            token,
            Some(serde_json::json!({"filename": "a.pdf"})),
        ),
    )
    .await;
    assert_eq!(created.status(), 201);
    uppy_calls("upload-start", &f);
    let created: serde_json::Value = serde_json::from_slice(created.body().as_ref()).unwrap();
    let id = created["uploadId"].as_str().unwrap();
    let signed = part_url(
        &f.app,
        json_request("GET", &format!("{uppy}/multipart/{id}/1"), token, None),
    )
    .await;
    assert_eq!(signed.status(), 200);
    uppy_calls("upload-part", &f);
    let listed = upload_status(
        &f.app,
        json_request("GET", &format!("{uppy}/multipart/{id}"), token, None),
    )
    .await;
    assert_eq!(listed.status(), 200);
    uppy_calls("upload-status", &f);
    let aborted = abort_upload(
        &f.app,
        json_request("DELETE", &format!("{uppy}/multipart/{id}"), token, None),
    )
    .await;
    assert_eq!(aborted.status(), 200);
    uppy_calls("upload-abort", &f);

    // upload-complete and upload-finalize: an image, a multipart document, a refusal, and a
    // write that fails (what was written is removed).
    for function in ["upload-complete", "upload-finalize"] {
        let f = fixture(1 << 20).await;
        let image = started(&f, PHOTO, false).await;
        let document = started(&f, &pdf, true).await;
        let refused = started(&f, b"<html><script></script></html>", false).await;
        let (failing, _) = started(&f, &pdf, false).await;
        f.calls.lock().unwrap().clear();
        for ((id, parts), status) in [(&image, 200), (&document, 200), (&refused, 415)] {
            if function == "upload-complete" {
                let url = format!("{UPLOADS}/{id}/complete");
                let done =
                    complete_upload(&f.app, json_request("POST", &url, &f.key, parts.clone()))
                        .await;
                assert_eq!(done.status(), status);
            } else {
                // The bucket's event comes once the object is whole: for parts, after the
                // client's complete joined them (not this function's call).
                if let Some(parts) = parts {
                    let key = format!("staging/acme/{id}");
                    let s3_upload_id = f.blobs.open_multipart_id(&key).unwrap();
                    let etag = parts["parts"][0]["etag"].as_str().unwrap().to_owned();
                    let part = UploadedPart {
                        number: 1,
                        size: 0,
                        etag,
                    };
                    f.blobs
                        .complete_multipart(&key, &s3_upload_id, &[part])
                        .await
                        .unwrap();
                }
                finalize_staged_object(&f.app, staged_event(id))
                    .await
                    .unwrap();
            }
        }
        // The copy of the original fails: whatever was written is removed.
        *f.blobs.put_budget.lock().unwrap() = Some(0);
        if function == "upload-complete" {
            let done = complete_upload(
                &f.app,
                json_request(
                    "POST",
                    &format!("{UPLOADS}/{failing}/complete"),
                    &f.key,
                    None,
                ),
            )
            .await;
            assert_eq!(done.status(), 503);
        } else {
            assert!(
                finalize_staged_object(&f.app, staged_event(&failing))
                    .await
                    .is_err()
            );
        }
        let calls = f.calls.lock().unwrap().clone();
        assert!(
            calls.contains("delete companies"),
            "{function}: clean-up ran"
        );
        out.insert(function, calls);
    }
}

/// `"{action} {resource}"`: the bucket prefix for S3 actions, `table` for DynamoDB's, `secret`
/// for Secrets Manager's.
fn required_actions(methods: &BTreeSet<String>) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for call in methods {
        let (method, prefix) = call.split_once(' ').unwrap_or((call, ""));
        if let Some((_, action)) = s3::IAM_ACTIONS.iter().find(|(m, _)| *m == method) {
            actions.insert(format!("{action} {prefix}"));
        } else if let Some((_, list)) = dynamo::IAM_ACTIONS.iter().find(|(m, _)| *m == method) {
            // Queries read the list index, which has its own ARN; every other call the table.
            actions.extend(list.iter().map(|a| match *a {
                "dynamodb:Query" => format!("{a} index"),
                _ => format!("{a} table"),
            }));
        } else if let Some((_, list)) = secrets::IAM_ACTIONS.iter().find(|(m, _)| *m == method) {
            actions.extend(list.iter().map(|a| format!("{a} secret")));
        } else if let Some((_, list)) = asset_service::storage::cloudfront::IAM_ACTIONS
            .iter()
            .find(|(m, _)| *m == method)
        {
            actions.extend(list.iter().map(|a| format!("{a} distribution")));
        } else {
            panic!("no IAM action known for storage method {method}");
        }
    }
    actions
}

// ------------------------------------------------------------------ what the template says

fn template() -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    serde_norway::from_str(&text).expect("template.yaml parses")
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    let found = &template["Resources"][name];
    assert!(!found.is_null(), "resource {name} missing");
    found
}

/// `!Ref X` / `!GetAtt X.Arn` / `!Sub "..."` as (tag, argument text).
fn intrinsic(value: &Value) -> Option<(String, String)> {
    match value {
        Value::Tagged(tagged) => {
            let arg = match &tagged.value {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_owned(),
            };
            Some((tagged.tag.to_string(), arg))
        }
        _ => None,
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

const FUNCTIONS: [(&str, &str); 15] = [
    ("UploadPrivateFunction", "upload-private"),
    ("UploadPublicFunction", "upload-public"),
    ("GetAssetFunction", "get-asset"),
    ("UploadStartFunction", "upload-start"),
    ("UploadPartFunction", "upload-part"),
    ("UploadStatusFunction", "upload-status"),
    ("UploadAbortFunction", "upload-abort"),
    ("UploadTokenFunction", "upload-token"),
    ("UploadCompleteFunction", "upload-complete"),
    ("UploadFinalizeFunction", "upload-finalize"),
    ("ListAssetsFunction", "list-assets"),
    ("UpdateAssetFunction", "update-asset"),
    ("DeleteAssetFunction", "delete-asset"),
    ("AssetEventsFunction", "asset-events"),
    // Signed URLs (issue 13).
    ("SignAssetUrlFunction", "sign-asset-url"),
];

#[tokio::test]
async fn each_function_is_granted_exactly_what_its_code_calls() {
    let template = template();
    let called = methods_called().await;
    for (logical, binary) in FUNCTIONS {
        let function = resource(&template, logical);
        let (tag, role_ref) = intrinsic(&function["Properties"]["Role"]).expect("explicit role");
        assert_eq!(tag, "!GetAtt");
        let role_name = role_ref.trim_end_matches(".Arn");
        let role = resource(&template, role_name);
        assert!(
            role["Properties"]["ManagedPolicyArns"].is_null(),
            "{role_name}: no managed policies"
        );

        let mut granted = BTreeSet::new();
        for policy in as_list(&role["Properties"]["Policies"]) {
            for statement in as_list(&policy["PolicyDocument"]["Statement"]) {
                // `!If [CdnEnabled, statement, NoValue]`: what the role holds with the option on.
                let statement = match statement {
                    Value::Tagged(tagged) if tagged.tag == "!If" => &tagged.value[1],
                    other => other,
                };
                assert_eq!(statement["Effect"], "Allow");
                let actions = strings(&statement["Action"]);
                let resource = intrinsic(&statement["Resource"]).unwrap_or_else(|| {
                    panic!("{role_name}: literal resource {:?}", statement["Resource"])
                });
                for action in &actions {
                    assert!(
                        !action.contains('*'),
                        "{role_name}: wildcard action {action}"
                    );
                    let (service, _) = action.split_once(':').unwrap();
                    let expected = match service {
                        "s3" => {
                            let prefix = resource
                                .1
                                .strip_prefix("${AssetsBucket.Arn}/")
                                .and_then(|p| p.strip_suffix("/*"))
                                .filter(|p| ["companies", "staging"].contains(p))
                                .unwrap_or_else(|| {
                                    panic!("{role_name}: {action} on {:?}", resource)
                                });
                            granted.insert(format!("{action} {prefix}"));
                            resource.clone()
                        }
                        "dynamodb" if resource.1 == "${AssetsTable.Arn}/index/byCompany" => {
                            granted.insert(format!("{action} index"));
                            resource.clone()
                        }
                        // The event source mapping reads the stream for the function.
                        "dynamodb" if resource.1 == "AssetsTable.StreamArn" => {
                            granted.insert(format!("{action} stream"));
                            resource.clone()
                        }
                        "dynamodb" => {
                            granted.insert(format!("{action} table"));
                            ("!GetAtt".to_owned(), "AssetsTable.Arn".to_owned())
                        }
                        // Signed URLs (issue 13): only the signing secret, by its own ARN.
                        "secretsmanager" => {
                            granted.insert(format!("{action} secret"));
                            ("!Ref".to_owned(), "SigningSecret".to_owned())
                        }
                        "cloudfront" => {
                            granted.insert(format!("{action} distribution"));
                            (
                                "!Sub".to_owned(),
                                "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${AssetsCdn}"
                                    .to_owned(),
                            )
                        }
                        // The stream consumer's on-failure destination.
                        "sqs" => {
                            granted.insert(format!("{action} failures"));
                            ("!GetAtt".to_owned(), "AssetEventsFailures.Arn".to_owned())
                        }
                        "logs" => {
                            let group = logical.replace("Function", "LogGroup");
                            ("!GetAtt".to_owned(), format!("{group}.Arn"))
                        }
                        other => panic!("{role_name}: unexpected service {other}"),
                    };
                    assert_eq!(resource, expected, "{role_name}: resource of {action}");
                }
            }
        }
        let mut required = required_actions(&called[binary]);
        if binary == "asset-events" {
            // Not calls of its code: what Lambda needs to deliver the table's stream to it and
            // to park the records it gave up on (Lambda Developer Guide, "Using Lambda with
            // DynamoDB").
            required.extend(
                [
                    "dynamodb:DescribeStream stream",
                    "dynamodb:GetRecords stream",
                    "dynamodb:GetShardIterator stream",
                    "dynamodb:ListStreams stream",
                    "sqs:SendMessage failures",
                ]
                .map(str::to_owned),
            );
        }
        assert_eq!(
            granted, required,
            "{logical}: granted vs called ({:?})",
            called[binary]
        );
    }
}

#[test]
fn functions_are_built_and_logged_as_documented() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    let arch = intrinsic(&as_list(&globals["Architectures"])[0].clone()).unwrap();
    assert_eq!(arch, ("!Ref".to_owned(), "Architecture".to_owned()));
    assert_eq!(template["Parameters"]["Architecture"]["Default"], "arm64");
    let cargo_toml = std::fs::read_to_string(format!("{ROOT}/Cargo.toml")).unwrap();
    for (logical, binary) in FUNCTIONS {
        let function = resource(&template, logical);
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], binary);
        assert_eq!(function["Properties"]["CodeUri"], ".");
        assert!(std::path::Path::new(&format!("{ROOT}/functions/{binary}/Cargo.toml")).exists());
        let logging = &function["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON");
        let group = logical.replace("Function", "LogGroup");
        assert_eq!(
            intrinsic(&logging["LogGroup"]),
            Some(("!Ref".into(), group.clone()))
        );
        assert!(resource(&template, &group)["Properties"]["RetentionInDays"].is_tagged());
        assert!(function["Properties"]["MemorySize"].is_number());
        let timeout = function["Properties"]["Timeout"].as_u64().unwrap();

        // Every API route is served by the same function under `cargo lambda watch`.
        let events = function["Properties"]["Events"].as_mapping().unwrap();
        for (_, event) in events {
            if event["Type"] == "DynamoDB" {
                // The table's stream; locally the tests hand its records to the handler.
                assert_eq!(binary, "asset-events");
                continue;
            }
            if event["Type"] == "EventBridgeRule" {
                // The bucket's events for staged uploads; locally `s3-event-relay` delivers them.
                assert_eq!(binary, "upload-finalize");
                assert!(timeout <= 900, "Lambda's limit");
                continue;
            }
            assert_eq!(event["Type"], "HttpApi");
            assert!(timeout <= 29, "{logical}: under the API's 30 s");
            assert_eq!(event["Properties"]["PayloadFormatVersion"], "2.0");
            let method = event["Properties"]["Method"].as_str().unwrap();
            let path = event["Properties"]["Path"].as_str().unwrap();
            let route = format!("{{ method = \"{method}\", function = \"{binary}\" }}");
            let entry = router_entry(&cargo_toml, path)
                .unwrap_or_else(|| panic!("watch router lacks {path}"));
            assert!(
                entry.contains(&route),
                "watch router lacks {route} on {path}"
            );
        }
    }
}

/// The router entry of `path` in Cargo.toml's `[workspace.metadata.lambda.watch.router]`: from its
/// line to the line that closes its list.
fn router_entry(cargo_toml: &str, path: &str) -> Option<String> {
    let start = cargo_toml.find(&format!("\n\"{path}\" = ["))?;
    let rest = &cargo_toml[start + 1..];
    let end = rest
        .find("}]\n")
        .map(|i| i + 2)
        .into_iter()
        .chain(rest.find("\n]\n").map(|i| i + 2))
        .min()?;
    Some(rest[..end].to_owned())
}

#[test]
fn storage_is_private_encrypted_recoverable_and_retained() {
    let template = template();
    for name in ["AssetsBucket", "AssetsTable"] {
        let r = resource(&template, name);
        assert_eq!(r["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(r["UpdateReplacePolicy"], "Retain", "{name}");
    }
    let bucket = &resource(&template, "AssetsBucket")["Properties"];
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(
            bucket["PublicAccessBlockConfiguration"][flag], true,
            "{flag}"
        );
    }
    assert_eq!(
        bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    assert!(!bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"].is_null());
    // The lifecycle rules are exactly the list `asset-admin setup` puts on a local bucket
    // (`storage::s3::LIFECYCLE_RULES`): unfinished multipart uploads aborted, and direct uploads
    // never finalized, whose staged bytes expire with their records.
    // (Id, Prefix, ExpirationInDays, AbortIncompleteMultipartUpload's DaysAfterInitiation)
    type Rule = (String, Option<String>, Option<i64>, Option<i64>);
    let rules: Vec<Rule> = as_list(&bucket["LifecycleConfiguration"]["Rules"])
        .into_iter()
        .map(|r| {
            assert_eq!(r["Status"], "Enabled", "{r:?}");
            assert!(
                r["Filter"].is_null(),
                "Prefix, as LIFECYCLE_RULES says: {r:?}"
            );
            (
                r["Id"].as_str().expect("every rule has an Id").to_owned(),
                r["Prefix"].as_str().map(str::to_owned),
                r["ExpirationInDays"].as_i64(),
                r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].as_i64(),
            )
        })
        .collect();
    let shared: Vec<Rule> = asset_service::storage::s3::LIFECYCLE_RULES
        .iter()
        .map(|r| {
            (
                r.id.to_owned(),
                r.prefix.map(str::to_owned),
                r.expiration_days.map(i64::from),
                r.abort_incomplete_multipart_days.map(i64::from),
            )
        })
        .collect();
    assert_eq!(
        rules, shared,
        "template.yaml and asset-admin's lifecycle rules differ"
    );
    assert!(shared.iter().any(
        |r| r.1.as_deref() == Some(asset_service::domain::STAGING_PREFIX)
            && r.2
                == Some((asset_service::config::DEFAULT_PENDING_UPLOAD_TTL_SECS / 86_400) as i64)
    ));
    assert!(shared.iter().any(|r| r.1.is_none() && r.3.is_some()));

    // The bucket announces new staged objects (to the finalize function's EventBridge rule).
    assert_eq!(
        bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"],
        true
    );
    let policy = &resource(&template, "AssetsBucketPolicy")["Properties"];
    assert_eq!(
        intrinsic(&policy["Bucket"]),
        Some(("!Ref".into(), "AssetsBucket".into()))
    );
    let statements = as_list(&policy["PolicyDocument"]["Statement"]);
    assert!(statements.iter().any(|s| {
        s["Effect"] == "Deny" && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    }));

    let table = &resource(&template, "AssetsTable")["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(
        intrinsic(&table["DeletionProtectionEnabled"]),
        Some(("!Ref".into(), "TableDeletionProtection".into()))
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"],
        dynamo::TTL_ATTRIBUTE
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    // The schema the DynamoDB adapter (and `asset-admin setup`) uses.
    assert_eq!(table["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(table["AttributeDefinitions"][0]["AttributeType"], "S");

    let api = &resource(&template, "AssetsApi")["Properties"];
    assert!(api["DefaultRouteSettings"]["ThrottlingBurstLimit"].is_tagged());
    assert!(api["DefaultRouteSettings"]["ThrottlingRateLimit"].is_tagged());
    assert!(api["AccessLogSettings"]["DestinationArn"].is_tagged());
}

/// Browsers' direct uploads: the bucket's CORS rule (when `CorsAllowOrigin` is set) is
/// `BROWSER_UPLOAD_CORS`, the one `asset-admin setup` puts on a local bucket and the browser test
/// runs against: same methods, request headers, exposed headers (`ETag`, without which a multipart
/// upload from Uppy never completes) and max age; origins from the parameter.
#[test]
fn bucket_cors_is_the_rule_browsers_are_tested_with() {
    use asset_service::storage::s3_presign::BROWSER_UPLOAD_CORS;
    let template = template();
    let bucket = &resource(&template, "AssetsBucket")["Properties"];
    let Value::Tagged(cors) = &bucket["CorsConfiguration"] else {
        panic!("CorsConfiguration is an !If on CorsEnabled");
    };
    assert_eq!(cors.tag.to_string(), "!If");
    assert_eq!(cors.value[0], "CorsEnabled");
    assert_eq!(
        intrinsic(&cors.value[2]),
        Some(("!Ref".into(), "AWS::NoValue".into()))
    );
    let rules = as_list(&cors.value[1]["CorsRules"]);
    let [rule] = rules[..] else {
        panic!("one CORS rule: {rules:?}");
    };
    let origins = as_list(&rule["AllowedOrigins"]);
    assert_eq!(origins.len(), 1);
    assert_eq!(
        intrinsic(origins[0]),
        Some(("!Ref".into(), "CorsAllowOrigin".into()))
    );
    assert_eq!(
        strings(&rule["AllowedMethods"]),
        BROWSER_UPLOAD_CORS.allowed_methods
    );
    assert_eq!(
        strings(&rule["AllowedHeaders"]),
        BROWSER_UPLOAD_CORS.allowed_headers
    );
    assert_eq!(
        strings(&rule["ExposedHeaders"]),
        BROWSER_UPLOAD_CORS.exposed_headers
    );
    assert!(strings(&rule["ExposedHeaders"]).contains(&"ETag".to_owned()));
    assert_eq!(
        rule["MaxAge"].as_i64(),
        Some(i64::from(BROWSER_UPLOAD_CORS.max_age_seconds))
    );
}

trait IsTagged {
    fn is_tagged(&self) -> bool;
}

impl IsTagged for Value {
    fn is_tagged(&self) -> bool {
        matches!(self, Value::Tagged(_))
    }
}

/// A hung dependency must end in the service's own 503, not a Lambda timeout: an upload can spend
/// two SDK operation timeouts (the metadata write and the read that checks it), a GET one.
#[test]
fn function_timeouts_hold_the_sdk_timeout_budget() {
    let template = template();
    let tuning = asset_service::config::AwsTuning::default();
    let operation = tuning.operation_timeout.as_secs();
    for (logical, operations) in [
        ("UploadPrivateFunction", 2),
        ("UploadPublicFunction", 2),
        ("GetAssetFunction", 1),
        // Key, multipart upload, record.
        ("UploadStartFunction", 2),
        ("UploadPartFunction", 2),
        ("UploadStatusFunction", 2),
        ("UploadAbortFunction", 2),
        ("UploadCompleteFunction", 2),
        // Key, asset (and the secret, once per instance).
        ("SignAssetUrlFunction", 2),
    ] {
        let timeout = resource(&template, logical)["Properties"]["Timeout"]
            .as_u64()
            .unwrap();
        assert!(
            timeout >= operations * operation + 2,
            "{logical}: {timeout} s cannot hold {operations} x {operation} s SDK operations"
        );
    }
}

// ------------------------------------------------------------------ the CDN (README, "CDN")

/// CloudFront's managed origin request policy `AllViewerExceptHostHeader` (CloudFront Developer
/// Guide, "Use managed origin request policies"): every viewer header but `Host`.
const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
/// The asset GET path, as a CloudFront path pattern.
const ASSET_PATH_PATTERN: &str = "/api/v1/partner/asset/*";

fn cdn_config(template: &Value) -> &Value {
    &resource(template, "AssetsCdn")["Properties"]["DistributionConfig"]
}

/// `(path pattern, behaviour)` in CloudFront's order: the listed ones first, the default last.
fn cdn_behaviours(template: &Value) -> Vec<(String, &Value)> {
    let config = cdn_config(template);
    as_list(&config["CacheBehaviors"])
        .into_iter()
        .map(|b| (b["PathPattern"].as_str().unwrap().to_owned(), b))
        .chain([("*".to_owned(), &config["DefaultCacheBehavior"])])
        .collect()
}

/// CloudFront's path pattern match: `*` any run of characters, `?` one, case-sensitive.
fn path_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            path_matches(&pattern[1..], path)
                || (!path.is_empty() && path_matches(pattern, &path[1..]))
        }
        (Some(b'?'), Some(_)) => path_matches(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => path_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// The cache policy (its logical name) CloudFront applies to a request for `path`.
fn cdn_policy_for(template: &Value, path: &str) -> String {
    let (_, behaviour) = cdn_behaviours(template)
        .into_iter()
        .find(|(pattern, _)| path_matches(pattern.as_bytes(), path.as_bytes()))
        .expect("the default behaviour matches everything");
    let (tag, policy) = intrinsic(&behaviour["CachePolicyId"]).expect("a policy of the template");
    assert_eq!(tag, "!Ref");
    policy
}

fn cdn_cache_policy<'a>(template: &'a Value, name: &str) -> &'a Value {
    &resource(template, name)["Properties"]["CachePolicyConfig"]
}

/// Every method and path the template routes to a function, with its path parameters filled in.
fn api_routes(template: &Value) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] == "HttpApi" {
                let path = event["Properties"]["Path"].as_str().unwrap();
                // A parameter as a client fills it (an asset key is 22 characters of base64url).
                let filled = path
                    .split('/')
                    .map(|s| {
                        if s.starts_with('{') {
                            "Ab3_x-Yz09Ab3_x-Yz09Ab"
                        } else {
                            s
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                let method = event["Properties"]["Method"].as_str().unwrap();
                routes.push((method.to_owned(), filled));
            }
        }
    }
    routes
}

/// Off unless asked for, and then all of it: no CloudFront resource or output exists without
/// `EnableCdn=true`.
#[test]
fn cdn_is_off_by_default_and_wholly_conditional() {
    let template = template();
    let parameter = &template["Parameters"]["EnableCdn"];
    assert_eq!(parameter["Default"], "false");
    assert_eq!(strings(&parameter["AllowedValues"]), ["true", "false"]);
    let Value::Tagged(condition) = &template["Conditions"]["CdnEnabled"] else {
        panic!("CdnEnabled is a condition");
    };
    assert_eq!(condition.tag.to_string(), "!Equals");
    assert_eq!(
        intrinsic(&condition.value[0]),
        Some(("!Ref".into(), "EnableCdn".into()))
    );
    assert_eq!(condition.value[1], "true");

    let mut cloudfront = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"]
            .as_str()
            .unwrap()
            .starts_with("AWS::CloudFront::")
        {
            let name = name.as_str().unwrap();
            assert_eq!(resource["Condition"], "CdnEnabled", "{name}");
            cloudfront.insert(name.to_owned());
        }
    }
    assert_eq!(
        cloudfront,
        BTreeSet::from(
            [
                "AssetsCdn",
                "AssetsCdnCachePolicy",
                "AssetsCdnPassThroughPolicy"
            ]
            .map(String::from)
        )
    );
    for (name, output) in template["Outputs"].as_mapping().unwrap() {
        let text = serde_norway::to_string(output).unwrap();
        if cloudfront.iter().any(|r| text.contains(r.as_str())) {
            assert_eq!(output["Condition"], "CdnEnabled", "output {name:?}");
        }
    }
}

/// The asset cache policy: keyed on the path, the rendition and a signed URL's parameters only;
/// one copy per key whatever the viewer accepts; nothing kept that the origin does not mark
/// cacheable, and a public asset kept as long as its `max-age`.
#[test]
fn cdn_cache_policy_keys_assets_on_path_size_and_signature_only() {
    let template = template();
    let policy = cdn_cache_policy(&template, "AssetsCdnCachePolicy");
    let key = &policy["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(
        key["QueryStringsConfig"]["QueryStringBehavior"],
        "whitelist"
    );
    assert_eq!(
        strings(&key["QueryStringsConfig"]["QueryStrings"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["expires", "signature", "size"].map(String::from))
    );
    assert_eq!(key["CookiesConfig"]["CookieBehavior"], "none");
    // No header varies an asset's bytes. Authorization is in the key only because CloudFront
    // forwards it on a GET or HEAD no other way (an origin request policy naming it is refused
    // with a 400): anonymous viewers, who send none, share one entry; x-api-key is forwarded by
    // the origin request policy and is not in the key.
    assert_eq!(key["HeadersConfig"]["HeaderBehavior"], "whitelist");
    assert_eq!(strings(&key["HeadersConfig"]["Headers"]), ["Authorization"]);
    assert_eq!(key["EnableAcceptEncodingGzip"], false);
    assert_eq!(key["EnableAcceptEncodingBrotli"], false);
    // MinTTL 0: above it CloudFront would keep `private` and `no-store` answers too.
    assert_eq!(policy["MinTTL"].as_u64(), Some(0));
    assert_eq!(policy["DefaultTTL"].as_u64(), Some(0));
    let public = public_asset_cache_control();
    let max_age: u64 = public
        .split(", ")
        .find_map(|d| d.strip_prefix("max-age="))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{public}"));
    assert_eq!(policy["MaxTTL"].as_u64(), Some(max_age), "{public}");

    // Everything else passes through: nothing kept, and what reaches the API is keyed on both
    // credentials and every query string, so even a response that asked to be kept would serve
    // no other caller.
    let pass = cdn_cache_policy(&template, "AssetsCdnPassThroughPolicy");
    assert_eq!(pass["MinTTL"].as_u64(), Some(0));
    assert_eq!(pass["DefaultTTL"].as_u64(), Some(0));
    assert!(pass["MaxTTL"].as_u64().unwrap() <= 1);
    let key = &pass["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(key["QueryStringsConfig"]["QueryStringBehavior"], "all");
    assert_eq!(key["CookiesConfig"]["CookieBehavior"], "none");
    assert_eq!(
        strings(&key["HeadersConfig"]["Headers"]),
        ["Authorization", "x-api-key"]
    );
    assert_eq!(key["EnableAcceptEncodingGzip"], false);
    assert_eq!(key["EnableAcceptEncodingBrotli"], false);
}

/// What the GET handler sends for a public asset: the header the CDN's MaxTTL follows.
fn public_asset_cache_control() -> String {
    let content = asset_service::domain::detect_content(b"%PDF-1.7\n", None).unwrap();
    let asset = Asset::create(asset_service::domain::NewAsset {
        key: AssetKey::generate(),
        company_id: CompanyId::parse("acme").unwrap(),
        name: "a.pdf".into(),
        visibility: Visibility::Public,
        content: &content,
        size: 9,
        sha256: "0".repeat(64),
        dimensions: None,
        renditions: Vec::new(),
        now_ms: 1_700_000_000_000,
    });
    asset_service::http::AssetHeaders::for_asset(&asset).cache_control
}

/// Every route of the API works through the CDN (the URLs it hands out lead there), only the
/// asset GET is ever cached, no behaviour compresses, and none sends the viewer's `Host` to API
/// Gateway (which finds the API by its own host name).
#[test]
fn cdn_caches_only_the_asset_get_and_passes_everything_else_through() {
    let template = template();
    let config = cdn_config(&template);
    let origins = as_list(&config["Origins"]);
    let [origin] = origins[..] else {
        panic!("one origin: {origins:?}")
    };
    assert_eq!(
        intrinsic(&origin["DomainName"]),
        Some((
            "!Sub".into(),
            "${AssetsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}".into()
        ))
    );
    assert_eq!(
        origin["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );
    assert!(
        origin["OriginPath"].is_null(),
        "the HTTP API's $default stage has no path"
    );
    assert_eq!(
        template["Outputs"]["ApiUrl"]["Value"],
        Value::Tagged(Box::new(serde_norway::value::TaggedValue {
            tag: serde_norway::value::Tag::new("Sub"),
            value: Value::String(
                "https://${AssetsApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}".into()
            ),
        })),
        "the CDN's origin is the API's URL"
    );

    for (pattern, behaviour) in cdn_behaviours(&template) {
        assert_eq!(behaviour["TargetOriginId"], origin["Id"], "{pattern}");
        assert_eq!(behaviour["ViewerProtocolPolicy"], "https-only", "{pattern}");
        assert_eq!(
            behaviour["Compress"], false,
            "{pattern}: images are compressed"
        );
        assert_eq!(
            behaviour["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST_HEADER,
            "{pattern}: every viewer header but Host"
        );
        assert_eq!(strings(&behaviour["CachedMethods"]), ["GET", "HEAD"]);
        assert_eq!(
            strings(&behaviour["AllowedMethods"])
                .into_iter()
                .collect::<BTreeSet<_>>(),
            BTreeSet::from(
                ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"].map(String::from)
            ),
            "{pattern}: writes pass through"
        );
    }
    assert!(
        template["Resources"]
            .as_mapping()
            .unwrap()
            .values()
            .all(|r| r["Type"] != "AWS::CloudFront::OriginRequestPolicy"),
        "a custom origin request policy would need its own check that Host stays out"
    );

    let routes = api_routes(&template);
    assert!(routes.len() > 10, "{routes:?}");
    let asset = format!(
        "{}Ab3_x-Yz09Ab3_x-Yz09Ab",
        ASSET_PATH_PATTERN.trim_end_matches('*')
    );
    assert!(
        routes.contains(&("GET".into(), asset.clone())),
        "the asset GET route: {routes:?}"
    );
    for (method, path) in &routes {
        let policy = cdn_policy_for(&template, path);
        if matches!(method.as_str(), "GET" | "HEAD") && *path == asset {
            assert_eq!(policy, "AssetsCdnCachePolicy", "{method} {path}");
        } else if matches!(method.as_str(), "GET" | "HEAD") {
            assert_eq!(policy, "AssetsCdnPassThroughPolicy", "{method} {path}");
        }
    }
    // The list route (no trailing key) and anything unknown fall to the default behaviour.
    assert_eq!(
        cdn_policy_for(&template, "/api/v1/partner/asset"),
        "AssetsCdnPassThroughPolicy"
    );
}

/// No error is kept for another viewer: CloudFront keeps 4xx/5xx answers for 10 s unless told
/// otherwise and honours `no-store` only on 404, 410, 414 and 501 (Developer Guide, "Control how
/// long CloudFront caches errors"), so each code it caches has an error-caching TTL of 0.
#[test]
fn cdn_never_caches_errors() {
    let template = template();
    let responses: BTreeMap<i64, &Value> = as_list(&cdn_config(&template)["CustomErrorResponses"])
        .into_iter()
        .map(|r| (r["ErrorCode"].as_i64().unwrap(), r))
        .collect();
    // Every code a distribution's CustomErrorResponses accept, but 416, which CloudFront never
    // caches (Developer Guide, "Control how long CloudFront caches errors").
    for code in [400, 403, 404, 405, 414, 500, 501, 502, 503, 504] {
        let response = responses
            .get(&code)
            .unwrap_or_else(|| panic!("no error caching TTL for {code}"));
        assert_eq!(response["ErrorCachingMinTTL"].as_i64(), Some(0), "{code}");
        // The API's own answer reaches the viewer: its JSON body, or the placeholder image.
        assert!(response["ResponsePagePath"].is_null(), "{code}");
        assert!(response["ResponseCode"].is_null(), "{code}");
    }
}

/// With the CDN on, the URLs the API hands out lead to it: `PUBLIC_BASE_URL` is the CDN's own
/// domain when one is given (else the operator's `PublicBaseUrl`, README "CDN"). It never names
/// the distribution: the HttpApi's body names every API function, the distribution names the API,
/// so an API function naming the distribution is a cycle CloudFormation refuses.
#[test]
fn public_base_url_leads_to_the_cdn_without_a_cycle() {
    let template = template();
    let Value::Tagged(url) =
        &template["Globals"]["Function"]["Environment"]["Variables"]["PUBLIC_BASE_URL"]
    else {
        panic!("PUBLIC_BASE_URL is an !If");
    };
    assert_eq!(url.tag.to_string(), "!If");
    assert_eq!(url.value[0], "HasPublicBaseUrl");
    assert_eq!(
        intrinsic(&url.value[1]),
        Some(("!Ref".into(), "PublicBaseUrl".into()))
    );
    let Value::Tagged(alias) = &url.value[2] else {
        panic!("else the CDN's domain");
    };
    assert_eq!(alias.tag.to_string(), "!If");
    assert_eq!(alias.value[0], "CdnHasAlias");
    let cdn_url = ("!Sub".to_owned(), "https://${CdnDomainName}".to_owned());
    assert_eq!(intrinsic(&alias.value[1]), Some(cdn_url.clone()));
    assert_eq!(
        intrinsic(&alias.value[2]),
        Some(("!Ref".into(), "AWS::NoValue".into()))
    );
    // The alias is the CDN's only when the CDN is on and has its certificate.
    let has_alias = serde_norway::to_string(&template["Conditions"]["CdnHasAlias"]).unwrap();
    for needed in ["CdnEnabled", "CdnDomainName", "CdnCertificateArn"] {
        assert!(has_alias.contains(needed), "CdnHasAlias: {has_alias}");
    }
    let config = cdn_config(&template);
    let aliases = serde_norway::to_string(&config["Aliases"]).unwrap();
    assert!(
        aliases.contains("CdnHasAlias") && aliases.contains("CdnDomainName"),
        "{aliases}"
    );
    let certificate = serde_norway::to_string(&config["ViewerCertificate"]).unwrap();
    assert!(certificate.contains("CdnCertificateArn"), "{certificate}");
    // The CdnUrl output is the same URL.
    let Value::Tagged(output) = &template["Outputs"]["CdnUrl"]["Value"] else {
        panic!("CdnUrl is an !If");
    };
    assert_eq!(output.value[0], "CdnHasAlias");
    assert_eq!(intrinsic(&output.value[1]), Some(cdn_url));

    // No API function (nor the Globals every function gets) names the distribution.
    let globals = serde_norway::to_string(&template["Globals"]).unwrap();
    assert!(!globals.contains("AssetsCdn"));
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let routed = resource["Properties"]["Events"]
            .as_mapping()
            .is_some_and(|events| events.values().any(|e| e["Type"] == "HttpApi"));
        if routed {
            let text = serde_norway::to_string(resource).unwrap();
            assert!(
                !text.contains("AssetsCdn"),
                "{name:?} names the CDN: a cycle"
            );
            // Nor does its role (the function names the role).
            if let Some((_, role)) = intrinsic(&resource["Properties"]["Role"]) {
                let role = resource_text(&template, role.trim_end_matches(".Arn"));
                assert!(!role.contains("AssetsCdn"), "{name:?}'s role names the CDN");
            }
        }
    }
}

fn resource_text(template: &Value, name: &str) -> String {
    serde_norway::to_string(resource(template, name)).unwrap()
}

/// Signed URLs (issue 13): the secret is generated by CloudFormation, never written in the
/// template, long enough for HMAC-SHA256 (`secrets::MIN_SECRET_BYTES`) and free of punctuation
/// (nothing to escape in an environment or a shell); every function is told its ARN.
#[test]
fn the_signing_secret_is_generated_and_named_to_every_function() {
    let template = template();
    let secret = resource(&template, "SigningSecret");
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    let generate = &secret["Properties"]["GenerateSecretString"];
    let length = generate["PasswordLength"].as_u64().unwrap();
    assert!(length >= 64 && length as usize >= secrets::MIN_SECRET_BYTES);
    assert_eq!(generate["ExcludePunctuation"], true);
    assert!(secret["Properties"]["SecretString"].is_null());
    assert_eq!(
        intrinsic(
            &template["Globals"]["Function"]["Environment"]["Variables"]["SIGNING_SECRET_ID"]
        ),
        Some(("!Ref".into(), "SigningSecret".into()))
    );
}
