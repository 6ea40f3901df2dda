//! `template.yaml` keeps its promises: each function's IAM policy grants exactly the AWS actions its
//! code calls (found by running the handlers over recording storage), on exactly the bucket prefix and
//! table it uses, with no wildcards; storage is private, encrypted, recoverable and retained; routes
//! match the `cargo lambda watch` router.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::{ApiKeyHash, ApiKeyRecord, Asset, AssetKey, CompanyId};
use asset_service::storage::memory::{MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore};
use asset_service::storage::{
    ApiKeyRepo, AssetRepo, BlobStore, PresignedGet, StorageError, dynamo, s3,
};
use asset_service::{App, Visibility, get_asset, upload};
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
}

#[async_trait]
impl BlobStore for Recording<Arc<MemoryBlobStore>> {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        self.note("put");
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.note("get");
        self.inner.get(key).await
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<Bytes>, StorageError> {
        self.note("get_range");
        self.inner.get_range(key, range).await
    }
    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.note("delete");
        self.inner.delete(key).await
    }
    async fn presign_get(&self, key: &str, req: &PresignedGet) -> Result<String, StorageError> {
        self.note("presign_get");
        self.inner.presign_get(key, req).await
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
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
}

struct Fixture {
    app: App,
    calls: Calls,
    blobs: Arc<MemoryBlobStore>,
    assets: Arc<MemoryAssetRepo>,
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
    let (secret, _) = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let calls = Calls::default();
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
    );
    Fixture {
        app,
        calls,
        blobs,
        assets,
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
    out
}

fn required_actions(methods: &BTreeSet<String>) -> BTreeSet<String> {
    let mut actions = BTreeSet::new();
    for method in methods {
        if let Some((_, action)) = s3::IAM_ACTIONS.iter().find(|(m, _)| m == method) {
            actions.insert(action.to_string());
        } else if let Some((_, list)) = dynamo::IAM_ACTIONS.iter().find(|(m, _)| m == method) {
            actions.extend(list.iter().map(|a| a.to_string()));
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

const FUNCTIONS: [(&str, &str); 3] = [
    ("UploadPrivateFunction", "upload-private"),
    ("UploadPublicFunction", "upload-public"),
    ("GetAssetFunction", "get-asset"),
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
                        "s3" => (
                            "!Sub".to_owned(),
                            "${AssetsBucket.Arn}/companies/*".to_owned(),
                        ),
                        "dynamodb" => ("!GetAtt".to_owned(), "AssetsTable.Arn".to_owned()),
                        "logs" => {
                            let group = logical.replace("Function", "LogGroup");
                            ("!GetAtt".to_owned(), format!("{group}.Arn"))
                        }
                        other => panic!("{role_name}: unexpected service {other}"),
                    };
                    assert_eq!(resource, expected, "{role_name}: resource of {action}");
                    if service != "logs" {
                        granted.insert(action.clone());
                    }
                }
            }
        }
        let required = required_actions(&called[binary]);
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
        assert!(
            function["Properties"]["Timeout"].as_u64().unwrap() <= 29,
            "under the API's 30 s"
        );

        // Every API route is served by the same function under `cargo lambda watch`.
        let events = function["Properties"]["Events"].as_mapping().unwrap();
        for (_, event) in events {
            assert_eq!(event["Type"], "HttpApi");
            assert_eq!(event["Properties"]["PayloadFormatVersion"], "2.0");
            let method = event["Properties"]["Method"].as_str().unwrap();
            let path = event["Properties"]["Path"].as_str().unwrap();
            let route = format!("{{ method = \"{method}\", function = \"{binary}\" }}");
            let routed = cargo_toml
                .lines()
                .find(|line| line.starts_with(&format!("\"{path}\" = [")))
                .is_some_and(|line| line.contains(&route));
            assert!(routed, "watch router lacks {path} {route}");
        }
    }
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
    let rules = as_list(&bucket["LifecycleConfiguration"]["Rules"]);
    assert!(
        rules
            .iter()
            .any(|r| r["Status"] == "Enabled" && !r["AbortIncompleteMultipartUpload"].is_null())
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
    // The schema the DynamoDB adapter (and `asset-admin setup`) uses.
    assert_eq!(table["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(table["AttributeDefinitions"][0]["AttributeType"], "S");

    let api = &resource(&template, "AssetsApi")["Properties"];
    assert!(api["DefaultRouteSettings"]["ThrottlingBurstLimit"].is_tagged());
    assert!(api["DefaultRouteSettings"]["ThrottlingRateLimit"].is_tagged());
    assert!(api["AccessLogSettings"]["DestinationArn"].is_tagged());
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
