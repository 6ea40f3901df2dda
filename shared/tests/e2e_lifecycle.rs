//! List, update, delete and erase end to end over HTTP: the functions under `cargo lambda watch`
//! against moto (`scripts/test.sh` starts both), as a partner's server calls them with curl-like
//! requests, and the bucket and table checked through the SDK afterwards.

mod support;

use std::time::Duration;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::CompanyId;
use asset_service::storage::AssetRepo;
use reqwest::header::{ETAG, IF_MATCH};
use reqwest::{Client, StatusCode};
use serde_json::Value;

struct Stack {
    base: String,
    http: Client,
    storage: AwsStorage,
    bucket: String,
    table: String,
    acme: String,
    globex: String,
}

async fn stack(prefix: &str) -> Option<Stack> {
    let (base, config) = support::e2e_target()?;
    let storage = AwsStorage::connect(&config).await;
    // Fresh companies per test: the list of each starts empty.
    let suffix = asset_service::domain::AssetKey::generate().as_str()[..8].to_ascii_lowercase();
    let company = |name: &str| CompanyId::parse(&format!("{prefix}-{name}-{suffix}")).unwrap();
    let (acme, _) = issue_key(storage.table.as_ref(), company("acme"))
        .await
        .unwrap();
    let (globex, _) = issue_key(storage.table.as_ref(), company("globex"))
        .await
        .unwrap();
    Some(Stack {
        base: format!("{base}/api/v1/partner/asset"),
        http: Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        storage,
        bucket: config.bucket_name,
        table: config.table_name,
        acme: acme.expose().to_owned(),
        globex: globex.expose().to_owned(),
    })
}

impl Stack {
    async fn upload(&self, visibility: &str, name: &str, bytes: &[u8]) -> Value {
        let form = reqwest::multipart::Form::new()
            .text("name", name.to_owned())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
            );
        let response = self
            .http
            .post(format!("{}/upload/{visibility}", self.base))
            .header("x-api-key", &self.acme)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[ETAG], "\"v1\"");
        response.json().await.unwrap()
    }

    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.http.request(
            method.parse().unwrap(),
            format!("{}{path_and_query}", self.base),
        );
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    async fn status_of_get(&self, asset: &str, key: Option<&str>, query: &str) -> StatusCode {
        self.send("GET", &format!("/{asset}{query}"), key, &[], None)
            .await
            .0
    }

    /// Every key listed for `key`'s company, following cursors.
    async fn list_all(&self, key: &str, query: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, _, page) = self
                .send(
                    "GET",
                    &format!("?limit=2{query}{cursor}"),
                    Some(key),
                    &[],
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for asset in page["assets"].as_array().unwrap() {
                keys.push(asset["key"].as_str().unwrap().to_owned());
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return keys,
            }
        }
    }
}

#[tokio::test]
async fn list_update_delete_and_erase_over_http() {
    let Some(s) = stack("e2e-life").await else {
        return;
    };
    let photo = s.upload("public", "photo.jpg", support::JPEG).await;
    let document = s.upload("private", "doc.pdf", support::PDF).await;
    let logo = s.upload("public", "logo.png", support::PNG).await;
    let key_of = |v: &Value| v["key"].as_str().unwrap().to_owned();
    let (photo, document, logo) = (key_of(&photo), key_of(&document), key_of(&logo));

    // Newest first, two at a time.
    assert_eq!(
        s.list_all(&s.acme, "").await,
        vec![logo.clone(), document.clone(), photo.clone()]
    );
    assert_eq!(
        s.list_all(&s.acme, "&type=image&secured=false").await,
        vec![logo.clone(), photo.clone()]
    );
    assert!(s.list_all(&s.globex, "").await.is_empty());
    // A cursor is no use to another company.
    let (_, _, page) = s.send("GET", "?limit=1", Some(&s.acme), &[], None).await;
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let (status, _, body) = s
        .send(
            "GET",
            &format!("?cursor={cursor}"),
            Some(&s.globex),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_cursor");

    // Rename under If-Match; a stale version is refused.
    let (status, headers, body) = s
        .send(
            "PATCH",
            &format!("/{photo}"),
            Some(&s.acme),
            &[(IF_MATCH.as_str(), "\"v1\"")],
            Some(r#"{"name":"Cover photo.jpg","priority":3}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[ETAG], "\"v2\"");
    assert_eq!(
        (body["name"].as_str(), body["priority"].as_i64()),
        (Some("Cover photo.jpg"), Some(3))
    );
    let (status, _, body) = s
        .send(
            "PATCH",
            &format!("/{photo}"),
            Some(&s.acme),
            &[(IF_MATCH.as_str(), "\"v1\"")],
            Some(r#"{"name":"lost update.jpg"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _, _) = s
        .send(
            "PATCH",
            &format!("/{photo}"),
            Some(&s.globex),
            &[],
            Some(r#"{"active":false}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Hidden: the public URL stops working for everyone but the owner.
    let (status, _, _) = s
        .send(
            "PATCH",
            &format!("/{photo}"),
            Some(&s.acme),
            &[],
            Some(r#"{"active":false}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.status_of_get(&photo, None, "").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.status_of_get(&photo, None, "?size=thumb").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.status_of_get(&photo, Some(&s.acme), "?size=thumb").await,
        StatusCode::OK
    );

    // Soft delete: 404 at once for every read, out of the default list, twice harmless.
    assert_eq!(s.status_of_get(&logo, None, "").await, StatusCode::OK);
    let (status, _, deleted) = s
        .send("DELETE", &format!("/{logo}"), Some(&s.acme), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert!(deleted["purgeAfter"].as_i64().is_some());
    for query in ["", "?size=thumb", "?size=largeX2"] {
        assert_eq!(
            s.status_of_get(&logo, None, query).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            s.status_of_get(&logo, Some(&s.acme), query).await,
            StatusCode::NOT_FOUND
        );
    }
    let head = s.send("HEAD", &format!("/{logo}"), None, &[], None).await.0;
    assert_eq!(head, StatusCode::NOT_FOUND);
    let (status, _, again) = s
        .send("DELETE", &format!("/{logo}"), Some(&s.acme), &[], None)
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &deleted));
    assert_eq!(
        s.list_all(&s.acme, "").await,
        vec![document.clone(), photo.clone()]
    );
    assert_eq!(
        s.list_all(&s.acme, "&deleted=true").await,
        vec![logo.clone()]
    );

    // Erase: nothing of the photo is left in the bucket or the table.
    let (status, _, erased) = s
        .send(
            "DELETE",
            &format!("/{photo}?erase=true"),
            Some(&s.acme),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["objectsRemoved"], 5);
    let company = erased_company(&s, &document).await;
    let left = s
        .storage
        .s3
        .list_objects_v2()
        .bucket(&s.bucket)
        .prefix(format!("companies/{company}/assets/{photo}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0), "{:?}", left.contents());
    let item = s
        .storage
        .dynamo
        .get_item()
        .table_name(&s.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("ASSET#{photo}")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(item.item.is_none());
    assert_eq!(
        s.status_of_get(&photo, Some(&s.acme), "").await,
        StatusCode::NOT_FOUND
    );
    let (status, _, _) = s
        .send(
            "DELETE",
            &format!("/{photo}?erase=true"),
            Some(&s.acme),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The private document is untouched by all of this.
    assert_eq!(
        s.status_of_get(&document, Some(&s.acme), "").await,
        StatusCode::OK
    );
}

/// The company of acme's stored asset `asset` (the tests' companies have random suffixes).
async fn erased_company(s: &Stack, asset: &str) -> String {
    s.storage
        .table
        .find(&asset_service::domain::AssetKey::parse(asset).unwrap())
        .await
        .unwrap()
        .unwrap()
        .company_id
        .to_string()
}

/// The retention's end through the real `asset-events` binary: watch's Lambda Invoke API hands it
/// the table stream's record of the TTL removing a soft-deleted asset, and the asset's objects
/// leave the bucket.
#[tokio::test]
async fn the_purge_function_removes_an_expired_deletion_s_bytes() {
    let Some(s) = stack("e2e-purge").await else {
        return;
    };
    let uploaded = s.upload("public", "logo.png", support::PNG).await;
    let key = uploaded["key"].as_str().unwrap().to_owned();
    let (status, _, _) = s
        .send("DELETE", &format!("/{key}"), Some(&s.acme), &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let record = s
        .storage
        .table
        .find(&asset_service::domain::AssetKey::parse(&key).unwrap())
        .await
        .unwrap()
        .unwrap();
    let prefix = format!("companies/{}/assets/{key}/", record.company_id);
    let count = || async {
        s.storage
            .s3
            .list_objects_v2()
            .bucket(&s.bucket)
            .prefix(&prefix)
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0)
    };
    assert_eq!(count().await, 5, "a soft delete keeps the bytes");
    let event = serde_json::json!({"Records": [{
        "eventID": "e2e-1",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "SequenceNumber": "1",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "OldImage": asset_service::storage::dynamo::asset_stream_image(&record),
        },
    }]});
    let watch = s.base.trim_end_matches("/api/v1/partner/asset");
    let answer = s
        .http
        .post(format!(
            "{watch}/2015-03-31/functions/asset-events/invocations"
        ))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    assert_eq!(
        count().await,
        0,
        "the purge removed the original and its renditions"
    );
}
