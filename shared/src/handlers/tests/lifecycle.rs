//! List, update, delete and erase, and the stream's purge and invalidation, against in-memory
//! storage. The same flows run through the real SDK against moto in `tests/lifecycle.rs` and over
//! HTTP in `tests/e2e_lifecycle.rs`.

use super::*;
use crate::domain::{Asset, DEFAULT_RETENTION};
use crate::handlers::{delete_asset, handle_asset_events, list_assets, update_asset};
use crate::storage::AssetRepo;
use crate::storage::memory::{MemoryCdn, MemorySigningKeys};

const API: &str = "https://api.example.com/api/v1/partner/asset";

/// A request to a lifecycle route: `path_and_query` after `/api/v1/partner/asset`.
fn call(
    method: Method,
    path_and_query: &str,
    key: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("{API}{path_and_query}"))
        .header(header::HOST, "api.example.com");
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned())))
        .unwrap();
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    request.with_query_string_parameters(query)
}

impl Harness {
    async fn lifecycle() -> Self {
        let mut h = Self::new().await;
        h.app.signing = Arc::new(MemorySigningKeys::default());
        h
    }

    async fn list(&self, key: &str, query: &str) -> Response<Body> {
        list_assets(&self.app, call(Method::GET, query, Some(key), None, &[])).await
    }

    /// Every asset key of `key`'s company in list order, following cursors `limit` at a time.
    async fn list_all(&self, key: &str, filters: &str, limit: usize) -> Vec<String> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut query = format!("?limit={limit}{filters}");
            if let Some(cursor) = &cursor {
                query.push_str(&format!("&cursor={cursor}"));
            }
            let page = self.list(key, &query).await;
            assert_eq!(page.status(), StatusCode::OK, "{}", body_text(&page));
            let page = json(&page);
            let assets = page["assets"].as_array().unwrap();
            assert!(assets.len() <= limit);
            keys.extend(assets.iter().map(|a| a["key"].as_str().unwrap().to_owned()));
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return keys,
            }
        }
        panic!("the list never ended");
    }

    async fn patch(
        &self,
        key: &str,
        asset: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        update_asset(
            &self.app,
            call(
                Method::PATCH,
                &format!("/{asset}"),
                Some(key),
                Some(body),
                headers,
            ),
        )
        .await
    }

    async fn delete(&self, key: &str, asset: &str, query: &str) -> Response<Body> {
        delete_asset(
            &self.app,
            call(
                Method::DELETE,
                &format!("/{asset}{query}"),
                Some(key),
                None,
                &[],
            ),
        )
        .await
    }

    async fn stored(&self, asset: &str) -> Option<Asset> {
        self.assets
            .find(&AssetKey::parse(asset).unwrap())
            .await
            .unwrap()
    }

    /// Uploads acme's assets with distinct creation times, oldest first; returns their keys.
    async fn uploaded(&self, files: &[(Visibility, &[u8])]) -> Vec<String> {
        let mut keys = Vec::new();
        for (i, (visibility, file)) in files.iter().enumerate() {
            let body = self.upload_ok(*visibility, file, &format!("f{i}")).await;
            let key = body["key"].as_str().unwrap().to_owned();
            // Creation times 1 s apart, so "newest first" has one answer.
            self.assets.update(&AssetKey::parse(&key).unwrap(), |a| {
                a.created_ms = 1_700_000_000_000 + i as i64 * 1000;
                a.modified_ms = a.created_ms;
            });
            keys.push(key);
        }
        keys
    }
}

#[tokio::test]
async fn lists_are_newest_first_paged_filtered_and_per_company() {
    let h = Harness::lifecycle().await;
    let keys = h
        .uploaded(&[
            (Visibility::Private, PDF),
            (Visibility::Public, PNG),
            (Visibility::Private, JPEG),
            (Visibility::Public, PDF),
            (Visibility::Private, PDF),
        ])
        .await;
    let newest_first: Vec<String> = keys.iter().rev().cloned().collect();
    for limit in [1, 2, 5, 200] {
        assert_eq!(
            h.list_all(&h.acme_key, "", limit).await,
            newest_first,
            "limit {limit}"
        );
    }
    let page = json(&h.list(&h.acme_key, "").await);
    assert!(page.get("nextCursor").is_none());
    let first = &page["assets"][0];
    assert_eq!(first["key"], keys[4].as_str());
    assert_eq!(first["etag"], "\"v1\"");
    assert_eq!(first["companyId"], "acme");

    assert_eq!(
        h.list_all(&h.acme_key, "&type=IMAGE", 1).await,
        vec![keys[2].clone(), keys[1].clone()]
    );
    assert_eq!(
        h.list_all(&h.acme_key, "&secured=false", 1).await,
        vec![keys[3].clone(), keys[1].clone()]
    );
    assert_eq!(
        h.list_all(&h.acme_key, "&secured=true&type=document", 2)
            .await,
        vec![keys[4].clone(), keys[0].clone()]
    );
    // Another company sees none of them.
    assert!(h.list_all(&h.globex_key, "", 50).await.is_empty());
}

#[tokio::test]
async fn cursors_are_bound_to_their_company_and_tamper_proof() {
    let h = Harness::lifecycle().await;
    h.uploaded(&[(Visibility::Private, PDF), (Visibility::Private, PDF)])
        .await;
    let page = json(&h.list(&h.acme_key, "?limit=1").await);
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let foreign = h.list(&h.globex_key, &format!("?cursor={cursor}")).await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&foreign), "invalid_cursor");
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [tampered.as_str(), "x", "", "abc.def"] {
        let answer = h.list(&h.acme_key, &format!("?cursor={bad}")).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad}");
        // The same answer for all: nothing about whose cursor it was.
        assert_eq!(body_text(&answer), body_text(&foreign));
    }
    // A secret rotation keeps cursors handed out under the previous secret.
    let signing = Arc::new(MemorySigningKeys::default());
    let old = signing.keys.lock().unwrap().clone();
    *signing.keys.lock().unwrap() = crate::domain::SigningKeys::new(
        b"a brand new secret".to_vec(),
        Some(b"memory signing secret".to_vec()),
    );
    drop(old);
    let mut rotated = h;
    rotated.app.signing = signing;
    let next = rotated
        .list(&rotated.acme_key, &format!("?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next.status(), StatusCode::OK, "{}", body_text(&next));
}

#[tokio::test]
async fn list_parameters_are_checked_and_a_key_is_required() {
    let h = Harness::lifecycle().await;
    for bad in [
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?type=PICTURE",
        "?active=yes",
        "?deleted=",
    ] {
        let answer = h.list(&h.acme_key, bad).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&answer), "invalid_parameter");
    }
    let anonymous = list_assets(&h.app, call(Method::GET, "", None, None, &[])).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Without its signing secret the list cannot seal cursors: 503, never an unsigned cursor.
    let mut unsigned = Harness::new().await;
    unsigned.uploaded(&[(Visibility::Private, PDF)]).await;
    let answer = unsigned.list(&unsigned.acme_key, "").await;
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    unsigned.app.signing = Arc::new(MemorySigningKeys::default());
    assert_eq!(
        unsigned.list(&unsigned.acme_key, "").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn patches_change_named_fields_under_if_match() {
    let h = Harness::lifecycle().await;
    let key = h.uploaded(&[(Visibility::Public, PDF)]).await.remove(0);
    let changed = h
        .patch(
            &h.acme_key,
            &key,
            r#"{"name":"Q3 report.pdf","priority":7}"#,
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK, "{}", body_text(&changed));
    assert_eq!(header_of(&changed, "etag"), "\"v2\"");
    let body = json(&changed);
    assert_eq!(body["name"], "Q3 report.pdf");
    assert_eq!(body["priority"], 7);
    assert_eq!(body["active"], true);
    assert_eq!(body["updated"], true);
    assert_eq!(body["etag"], "\"v2\"");
    assert!(body["modified"].as_i64().unwrap() > body["created"].as_i64().unwrap());

    // A client still holding v1 loses: 412, and nothing changes.
    let stale = h
        .patch(
            &h.acme_key,
            &key,
            r#"{"name":"other.pdf"}"#,
            &[("if-match", "\"v1\"")],
        )
        .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(error_code(&stale), "precondition_failed");
    assert_eq!(h.stored(&key).await.unwrap().name, "Q3 report.pdf");
    // `*` and a list holding the current tag pass; no If-Match applies to the current version.
    for headers in [
        &[("if-match", "*")][..],
        &[("if-match", "\"v9\", \"v3\"")],
        &[],
    ] {
        let answer = h
            .patch(&h.acme_key, &key, r#"{"priority":1}"#, headers)
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "{headers:?}");
    }
    assert_eq!(h.stored(&key).await.unwrap().version, 5);
    // The download's name follows the rename.
    let served = h.get(&key, None, &[], &[]).await;
    assert!(header_of(&served, "content-disposition").contains("Q3 report.pdf"));

    for (body, code) in [
        ("{}", "invalid_body"),
        (r#"{"key":"x"}"#, "invalid_body"),
        (r#"{"name":""}"#, "invalid_field"),
        (r#"{"priority":"high"}"#, "invalid_body"),
        ("not json", "invalid_body"),
    ] {
        let answer = h.patch(&h.acme_key, &key, body, &[]).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&answer), code, "{body}");
    }
    let junk = h
        .patch(
            &h.acme_key,
            &key,
            r#"{"priority":1}"#,
            &[("if-match", "v5")],
        )
        .await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn only_the_owner_may_change_or_delete() {
    let h = Harness::lifecycle().await;
    let key = h.uploaded(&[(Visibility::Public, PDF)]).await.remove(0);
    let before = h.stored(&key).await.unwrap();
    let unknown = AssetKey::generate().to_string();
    let mut answers = Vec::new();
    for asset in [key.as_str(), unknown.as_str()] {
        answers.push(
            h.patch(&h.globex_key, asset, r#"{"active":false}"#, &[])
                .await,
        );
        answers.push(h.delete(&h.globex_key, asset, "").await);
        answers.push(h.delete(&h.globex_key, asset, "?erase=true").await);
    }
    // Byte for byte the answer of a key that names nothing.
    for answer in &answers {
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(body_text(answer), body_text(&answers[3]));
    }
    assert_eq!(h.stored(&key).await.unwrap(), before);
    assert_eq!(h.blobs.len(), 1);
    let anonymous = update_asset(
        &h.app,
        call(
            Method::PATCH,
            &format!("/{key}"),
            None,
            Some(r#"{"active":false}"#),
            &[],
        ),
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn inactive_assets_are_served_to_their_owner_alone() {
    let h = Harness::lifecycle().await;
    let keys = h
        .uploaded(&[(Visibility::Public, PNG), (Visibility::Private, PDF)])
        .await;
    for key in &keys {
        let hidden = h.patch(&h.acme_key, key, r#"{"active":false}"#, &[]).await;
        assert_eq!(hidden.status(), StatusCode::OK);
        assert_eq!(json(&hidden)["active"], false);
    }
    let public = &keys[0];
    assert_eq!(
        h.get(public, None, &[], &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(public, None, &[("size", "thumb")], &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(public, Some(&h.globex_key), &[], &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    for key in &keys {
        assert_eq!(
            h.get(key, Some(&h.acme_key), &[], &[]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            h.head(key, Some(&h.acme_key), &[], &[]).await.status(),
            StatusCode::OK
        );
    }
    // Still listed (it is not deleted), and found by the filter.
    assert_eq!(h.list_all(&h.acme_key, "&active=false", 5).await.len(), 2);
    assert!(h.list_all(&h.acme_key, "&active=true", 5).await.is_empty());
    // Shown again.
    let shown = h
        .patch(&h.acme_key, public, r#"{"active":true}"#, &[])
        .await;
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(h.get(public, None, &[], &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_soft_delete_hides_the_asset_at_once_and_twice_is_harmless() {
    let h = Harness::lifecycle().await;
    let keys = h
        .uploaded(&[(Visibility::Public, PNG), (Visibility::Private, PDF)])
        .await;
    let image = &keys[0];
    let deleted = h.delete(&h.acme_key, image, "").await;
    assert_eq!(deleted.status(), StatusCode::OK, "{}", body_text(&deleted));
    let body = json(&deleted);
    assert_eq!(
        (body["deleted"].as_bool(), body["erased"].as_bool()),
        (Some(true), Some(false))
    );
    let purge_after = body["purgeAfter"].as_i64().unwrap();
    let stored = h.stored(image).await.unwrap();
    assert!(stored.deleted && stored.updated);
    assert_eq!(
        purge_after,
        (stored.modified_ms / 1000 + DEFAULT_RETENTION.as_secs() as i64) * 1000
    );
    for api_key in [None, Some(h.acme_key.as_str())] {
        for query in [&[][..], &[("size", "thumb")], &[("size", "largeX2")]] {
            assert_eq!(
                h.get(image, api_key, query, &[]).await.status(),
                StatusCode::NOT_FOUND
            );
            assert_eq!(
                h.head(image, api_key, query, &[]).await.status(),
                StatusCode::NOT_FOUND
            );
        }
    }
    // The bytes stay for the retention; the purge removes them.
    assert_eq!(h.blobs.len(), 6);
    assert_eq!(h.list_all(&h.acme_key, "", 10).await, vec![keys[1].clone()]);
    assert_eq!(
        h.list_all(&h.acme_key, "&deleted=true", 10).await,
        vec![image.clone()]
    );
    let again = h.delete(&h.acme_key, image, "").await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(json(&again), body);
    assert_eq!(h.stored(image).await.unwrap(), stored);
    // A deleted asset cannot be changed.
    let patched = h.patch(&h.acme_key, image, r#"{"active":true}"#, &[]).await;
    assert_eq!(patched.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_erasure_leaves_nothing_of_the_asset() {
    let h = Harness::lifecycle().await;
    let keys = h
        .uploaded(&[(Visibility::Public, JPEG), (Visibility::Private, PDF)])
        .await;
    let photo = &keys[0];
    assert_eq!(h.blobs.len(), 6);
    let erased = h.delete(&h.acme_key, photo, "?erase=true").await;
    assert_eq!(erased.status(), StatusCode::OK, "{}", body_text(&erased));
    let body = json(&erased);
    assert_eq!(body["erased"], true);
    assert_eq!(body["objectsRemoved"], 5);
    assert!(body.get("purgeAfter").is_none());
    assert!(h.stored(photo).await.is_none());
    assert!(h.blobs.keys().iter().all(|k| !k.contains(photo.as_str())));
    assert_eq!(h.blobs.len(), 1);
    assert_eq!(
        h.get(photo, Some(&h.acme_key), &[], &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.delete(&h.acme_key, photo, "?erase=true").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.delete(&h.acme_key, photo, "").await.status(),
        StatusCode::NOT_FOUND
    );

    // A soft-deleted asset can still be erased, within its retention.
    let document = &keys[1];
    assert_eq!(
        h.delete(&h.acme_key, document, "").await.status(),
        StatusCode::OK
    );
    let erased = h.delete(&h.acme_key, document, "?erase=1").await;
    assert_eq!(erased.status(), StatusCode::OK);
    assert!(h.nothing_stored());

    let bad = h.delete(&h.acme_key, document, "?erase=maybe").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_failed_erasure_keeps_the_record_for_a_retry() {
    let h = Harness::lifecycle().await;
    let key = h.uploaded(&[(Visibility::Private, PNG)]).await.remove(0);
    h.blobs.fail.store(true, Ordering::SeqCst);
    let failed = h.delete(&h.acme_key, &key, "?erase=true").await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        h.stored(&key).await.is_some(),
        "the record still names the bytes"
    );
    h.blobs.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        h.delete(&h.acme_key, &key, "?erase=true").await.status(),
        StatusCode::OK
    );
    assert!(h.nothing_stored());
}

/// A stream record as Lambda delivers it (DynamoDB Streams, `NEW_AND_OLD_IMAGES`).
fn stream_record(
    sequence: &str,
    name: &str,
    old: Option<&Asset>,
    new: Option<&Asset>,
    by_ttl: bool,
) -> Value {
    let mut images = serde_json::Map::new();
    if let Some(old) = old {
        images.insert(
            "OldImage".into(),
            serde_json::to_value(crate::storage::dynamo::asset_stream_image(old)).unwrap(),
        );
    }
    if let Some(new) = new {
        images.insert(
            "NewImage".into(),
            serde_json::to_value(crate::storage::dynamo::asset_stream_image(new)).unwrap(),
        );
    }
    images.insert("SequenceNumber".into(), sequence.into());
    images.insert("SizeBytes".into(), 100.into());
    images.insert("StreamViewType".into(), "NEW_AND_OLD_IMAGES".into());
    let mut record = serde_json::json!({
        "eventID": sequence,
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": images,
    });
    if by_ttl {
        record["userIdentity"] =
            serde_json::json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    record
}

#[tokio::test]
async fn the_stream_purges_expired_deletions_and_drops_cdn_copies() {
    let mut h = Harness::lifecycle().await;
    let cdn = Arc::new(MemoryCdn::default());
    h.app.cdn = Some(cdn.clone());
    let keys = h
        .uploaded(&[(Visibility::Public, PNG), (Visibility::Private, PDF)])
        .await;
    let live = h.stored(&keys[0]).await.unwrap();
    assert_eq!(
        h.delete(&h.acme_key, &keys[0], "").await.status(),
        StatusCode::OK
    );
    let deleted = h.stored(&keys[0]).await.unwrap();
    let private = h.stored(&keys[1]).await.unwrap();
    let events = serde_json::json!({"Records": [
        // The delete: a public asset stops being public.
        stream_record("1", "MODIFY", Some(&live), Some(&deleted), false),
        // A live asset's record removed by a TTL (never written by the service): bytes kept.
        stream_record("2", "REMOVE", Some(&private), None, true),
    ]});
    let answer = handle_asset_events(&h.app, serde_json::from_value(events).unwrap()).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(
        *cdn.invalidated.lock().unwrap(),
        vec![format!("/api/v1/partner/asset/{}", keys[0])]
    );
    assert_eq!(h.blobs.len(), 6);

    // The retention ends: the TTL removes the deleted record, the purge its five objects.
    let expired = serde_json::json!({"Records": [
        stream_record("3", "REMOVE", Some(&deleted), None, true),
    ]});
    let answer =
        handle_asset_events(&h.app, serde_json::from_value(expired.clone()).unwrap()).await;
    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(h.blobs.keys(), vec![private.object_key.clone()]);
    // Delivered twice (Lambda retries batches): nothing more happens, nothing fails.
    let again = handle_asset_events(&h.app, serde_json::from_value(expired).unwrap()).await;
    assert!(again.batch_item_failures.is_empty());
}

#[tokio::test]
async fn a_failed_purge_is_reported_for_retry_from_that_record() {
    let h = Harness::lifecycle().await;
    let keys = h
        .uploaded(&[(Visibility::Public, PDF), (Visibility::Public, PDF)])
        .await;
    for key in &keys {
        assert_eq!(
            h.delete(&h.acme_key, key, "").await.status(),
            StatusCode::OK
        );
    }
    let first = h.stored(&keys[0]).await.unwrap();
    let second = h.stored(&keys[1]).await.unwrap();
    h.blobs.fail.store(true, Ordering::SeqCst);
    let events = serde_json::json!({"Records": [
        stream_record("10", "REMOVE", Some(&first), None, true),
        stream_record("11", "REMOVE", Some(&second), None, true),
    ]});
    let answer = handle_asset_events(&h.app, serde_json::from_value(events).unwrap()).await;
    let failed: Vec<_> = answer
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![Some("10".to_owned())]);
    assert_eq!(h.blobs.len(), 2);
}
