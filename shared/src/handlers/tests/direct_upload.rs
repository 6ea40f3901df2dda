//! Direct uploads against in-memory storage: start, parts, complete, status, abort and the
//! bucket's event, every refusal and the tenancy rule. The same flows run through the real SDK
//! against moto in `tests/aws_storage.rs` and over HTTP in `tests/e2e_watch.rs`.

use super::*;
use crate::domain::{UploadId, sha256_hex};
use crate::handlers::{
    abort_upload, complete_upload, finalize_staged_object, part_url, start_upload, upload_status,
};

const UPLOADS: &str = "https://api.example.com/api/v1/partner/asset/uploads";

pub(super) fn request(
    method: Method,
    url: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(url)
        .header(header::HOST, "api.example.com");
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    let body = match body {
        Some(value) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::Text(value.to_string())
        }
        None => Body::Empty,
    };
    builder.body(body).unwrap()
}

/// A generated PDF-looking document of exactly `len` bytes.
pub(super) fn document(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..len - bytes.len()).map(|i| b'a' + (i % 26) as u8));
    bytes
}

pub(super) fn event_for(key: &str) -> crate::handlers::ObjectCreatedEvent {
    // The shape of S3's event message (S3 User Guide, "Event message structure").
    serde_json::from_value(serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-11-30T00:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "finalize",
                "bucket": {
                    "name": "bucket",
                    "ownerIdentity": {"principalId": "EXAMPLE"},
                    "arn": "arn:aws:s3:::bucket"
                },
                "object": {"key": key, "size": 1, "eTag": "0", "sequencer": "0"}
            }
        }]
    }))
    .unwrap()
}

/// The same as EventBridge delivers it (S3 User Guide, "EventBridge message structure").
fn eventbridge_event_for(key: &str) -> crate::handlers::ObjectCreatedEvent {
    serde_json::from_value(serde_json::json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-30T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::bucket"],
        "detail": {
            "version": "0",
            "bucket": {"name": "bucket"},
            "object": {"key": key, "size": 700, "etag": "0", "sequencer": "0"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject"
        }
    }))
    .unwrap()
}

impl Harness {
    pub(super) async fn start(&self, visibility: &str, key: &str, body: Value) -> Response<Body> {
        start_upload(
            &self.app,
            request(
                Method::POST,
                &format!("{UPLOADS}/{visibility}"),
                Some(key),
                Some(body),
            ),
        )
        .await
    }

    /// Starts an upload as acme; answers its id and the 201 body.
    pub(super) async fn start_ok(&self, body: Value) -> (UploadId, Value) {
        let response = self.start("private", &self.acme_key, body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&response)
        );
        let started = json(&response);
        let id = UploadId::parse(started["uploadId"].as_str().unwrap()).unwrap();
        (id, started)
    }

    pub(super) fn staging_key(&self, id: &UploadId) -> String {
        format!("staging/acme/{id}")
    }

    pub(super) async fn complete(&self, id: &UploadId, key: &str) -> Response<Body> {
        self.complete_with(id, key, None).await
    }

    pub(super) async fn complete_with(
        &self,
        id: &UploadId,
        key: &str,
        body: Option<Value>,
    ) -> Response<Body> {
        complete_upload(
            &self.app,
            request(
                Method::POST,
                &format!("{UPLOADS}/private/{id}/complete"),
                Some(key),
                body,
            ),
        )
        .await
    }

    pub(super) async fn status(&self, id: &UploadId, key: &str) -> Response<Body> {
        upload_status(
            &self.app,
            request(
                Method::GET,
                &format!("{UPLOADS}/private/{id}"),
                Some(key),
                None,
            ),
        )
        .await
    }

    pub(super) async fn part(&self, id: &UploadId, key: &str, number: &str) -> Response<Body> {
        part_url(
            &self.app,
            request(
                Method::GET,
                &format!("{UPLOADS}/private/{id}/parts/{number}"),
                Some(key),
                None,
            ),
        )
        .await
    }

    pub(super) async fn abort(&self, id: &UploadId, key: &str) -> Response<Body> {
        abort_upload(
            &self.app,
            request(
                Method::DELETE,
                &format!("{UPLOADS}/private/{id}"),
                Some(key),
                None,
            ),
        )
        .await
    }

    pub(super) fn s3_upload_id(&self, id: &UploadId) -> String {
        let mut found = None;
        self.uploads.update(id, |u| {
            if let crate::domain::Transfer::Multipart { s3_upload_id } = &u.transfer {
                found = Some(s3_upload_id.clone());
            }
        });
        found.expect("a multipart upload")
    }
}

#[tokio::test]
async fn a_single_put_upload_becomes_the_asset_a_small_upload_makes() {
    let h = Harness::new().await;
    let sha = sha256_hex(JPEG);
    let (id, started) = h
        .start_ok(serde_json::json!({
            "name": "photo.jpg", "assetType": "image", "size": JPEG.len(), "sha256": sha
        }))
        .await;
    assert_eq!(started["status"], "pending");
    assert_eq!(started["upload"]["method"], "PUT");
    // Size and checksum are signed: S3 refuses any other body (pinned for S3 in storage tests).
    assert_eq!(
        started["upload"]["headers"]["content-length"],
        JPEG.len().to_string()
    );
    assert!(started["upload"]["headers"]["x-amz-checksum-sha256"].is_string());
    assert!(started.get("partSize").is_none());
    assert_eq!(
        started["completeUrl"],
        format!("{UPLOADS}/private/{id}/complete")
    );
    // Pending: no asset yet, and the reserved key is invisible.
    let pending = h.status(&id, &h.acme_key).await;
    assert_eq!(json(&pending)["status"], "pending");
    assert!(h.assets.is_empty());

    h.blobs.client_put(&h.staging_key(&id), JPEG);
    let done = h.complete(&id, &h.acme_key).await;
    assert_eq!(done.status(), StatusCode::OK, "{}", body_text(&done));
    let asset = json(&done);
    assert_eq!(asset["name"], "photo.jpg");
    assert_eq!(asset["type"], "IMAGE");
    assert_eq!(asset["contentType"], "image/jpeg");
    assert_eq!(asset["size"], JPEG.len());
    assert_eq!(asset["sha256"], sha);
    assert_eq!(asset["secured"], true);
    assert!(asset["thumbURL"].as_str().unwrap().ends_with("?size=thumb"));
    let key = asset["key"].as_str().unwrap();
    let original = h.get(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(original.body().as_ref(), JPEG);
    let thumb = h
        .get(key, Some(&h.acme_key), &[("size", "thumb")], &[])
        .await;
    assert_eq!(thumb.status(), StatusCode::OK);
    // The staged bytes are gone; the original and its four renditions remain.
    assert_eq!(h.blobs.len(), 5);
    assert!(h.blobs.object(&h.staging_key(&id)).is_none());

    // A retried complete and a duplicate event make no second asset.
    let again = h.complete(&id, &h.acme_key).await;
    assert_eq!(json(&again)["key"], key);
    finalize_staged_object(&h.app, event_for(&h.staging_key(&id)))
        .await
        .unwrap();
    assert_eq!(h.assets.len(), 1);
    assert_eq!(h.blobs.len(), 5);
    let status = json(&h.status(&id, &h.acme_key).await);
    assert_eq!(status["status"], "ready");
    assert_eq!(status["asset"]["key"], key);
}

#[tokio::test]
async fn a_multipart_upload_is_joined_from_its_parts() {
    let h = Harness::new().await;
    let file = document(40_000_000);
    let (id, started) = h
        .start_ok(serde_json::json!({"name": "scan.pdf", "size": file.len(), "multipart": true}))
        .await;
    let part_size = started["partSize"].as_u64().unwrap() as usize;
    assert_eq!(started["partCount"], 3);
    assert!(started.get("upload").is_none());
    for bad in ["0", "4", "x", "-1"] {
        let response = h.part(&id, &h.acme_key, bad).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_code(&response), "invalid_part_number");
    }
    let s3_upload_id = h.s3_upload_id(&id);
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(part_size).enumerate() {
        let signed = json(&h.part(&id, &h.acme_key, &(i + 1).to_string()).await);
        assert_eq!(signed["method"], "PUT");
        assert_eq!(signed["partNumber"], i + 1);
        assert!(signed["url"].as_str().unwrap().contains("partNumber="));
        let etag = h
            .blobs
            .client_put_part(&s3_upload_id, i as u32 + 1, chunk.to_vec())
            .unwrap();
        // Uppy's spelling of the same fields.
        parts.push(serde_json::json!({"PartNumber": i + 1, "ETag": etag}));
    }
    // Parts must be named, and named right; neither mistake ends the upload.
    let unnamed = h.complete(&id, &h.acme_key).await;
    assert_eq!(unnamed.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&unnamed), "upload_incomplete");
    let mut wrong = parts.clone();
    wrong[1]["ETag"] = Value::String("\"0000\"".into());
    let misnamed = h
        .complete_with(&id, &h.acme_key, Some(serde_json::json!({"parts": wrong})))
        .await;
    assert_eq!(misnamed.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&misnamed), "invalid_parts");
    let bad_body = h
        .complete_with(&id, &h.acme_key, Some(serde_json::json!({"parts": "all"})))
        .await;
    assert_eq!(error_code(&bad_body), "invalid_body");
    assert_eq!(json(&h.status(&id, &h.acme_key).await)["status"], "pending");
    let done = h
        .complete_with(&id, &h.acme_key, Some(serde_json::json!({"parts": parts})))
        .await;
    assert_eq!(done.status(), StatusCode::OK, "{}", body_text(&done));
    let asset = json(&done);
    assert_eq!(asset["contentType"], "application/pdf");
    assert_eq!(asset["size"], file.len());
    assert_eq!(asset["sha256"], sha256_hex(&file));
    assert!(asset["thumbURL"].is_null());
    let stored = h
        .blobs
        .object(&format!(
            "companies/acme/assets/{}/original",
            asset["key"].as_str().unwrap()
        ))
        .unwrap();
    assert_eq!(stored.0.as_ref(), file.as_slice());
    assert_eq!(h.blobs.open_multipart_uploads(), 0);
    assert_eq!(h.blobs.len(), 1);
    // A finished upload has no more parts to sign.
    let late = h.part(&id, &h.acme_key, "1").await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn refused_uploads_leave_nothing_and_answer_as_a_small_upload_would() {
    let h = Harness::new().await;
    // (what is announced, what arrives, status, code)
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    let mut huge_png = PNG.to_vec();
    huge_png[16..24].copy_from_slice(&[0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30]);
    let cases: [(Value, Vec<u8>, u16, &str); 5] = [
        (
            serde_json::json!({"name": "a.pdf", "size": 1000}),
            document(999),
            422,
            "size_mismatch",
        ),
        (
            serde_json::json!({"name": "cat.jpg", "assetType": "IMAGE", "size": html.len()}),
            html.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            serde_json::json!({"name": "big.png", "size": huge_png.len()}),
            huge_png.clone(),
            422,
            "image_too_large",
        ),
        (
            serde_json::json!({"name": "a.pdf", "size": 500, "sha256": sha256_hex(b"other")}),
            document(500),
            422,
            "checksum_mismatch",
        ),
        (
            serde_json::json!({"name": "a.pdf", "assetType": "VIDEO", "size": 500}),
            document(500),
            422,
            "asset_type_mismatch",
        ),
    ];
    for (announced, arriving, status, code) in cases {
        let (id, _) = h.start_ok(announced).await;
        h.blobs.client_put(&h.staging_key(&id), arriving);
        let refused = h.complete(&id, &h.acme_key).await;
        assert_eq!(refused.status().as_u16(), status, "{code}");
        assert_eq!(error_code(&refused), code);
        // Recorded: the status and a retried complete answer the same.
        let recorded = json(&h.status(&id, &h.acme_key).await);
        assert_eq!(recorded["status"], "refused");
        assert_eq!(recorded["refusal"]["status"], status);
        assert_eq!(recorded["refusal"]["code"], code);
        let again = h.complete(&id, &h.acme_key).await;
        assert_eq!(again.status().as_u16(), status);
        assert_eq!(error_code(&again), code);
        assert!(h.nothing_stored(), "{code}: {:?}", h.blobs.keys());
    }
}

#[tokio::test]
async fn complete_before_the_bytes_is_a_conflict_and_the_upload_stays_pending() {
    let h = Harness::new().await;
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "a.pdf", "size": 600}))
        .await;
    let early = h.complete(&id, &h.acme_key).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&early), "upload_incomplete");
    assert_eq!(json(&h.status(&id, &h.acme_key).await)["status"], "pending");
    // The event of an object that is not complete yet changes nothing either; then it arrives.
    h.blobs.client_put(&h.staging_key(&id), document(600));
    finalize_staged_object(&h.app, event_for(&h.staging_key(&id)))
        .await
        .unwrap();
    assert_eq!(json(&h.status(&id, &h.acme_key).await)["status"], "ready");
}

#[tokio::test]
async fn the_bucket_event_alone_finalizes_and_foreign_keys_are_ignored() {
    let h = Harness::new().await;
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "a.pdf", "size": 700}))
        .await;
    h.blobs.client_put(&h.staging_key(&id), document(700));
    // A key naming another company than the upload's, and keys outside the staging area.
    for foreign in [
        format!("staging/globex/{id}"),
        "companies/acme/assets/x/original".to_owned(),
        format!("staging/acme/{}", UploadId::generate()),
    ] {
        finalize_staged_object(&h.app, event_for(&foreign))
            .await
            .unwrap();
    }
    assert!(h.assets.is_empty());
    // Another bucket's event for the same key.
    let mut other_bucket = serde_json::to_value(serde_json::json!({})).unwrap();
    other_bucket["Records"] = serde_json::json!([{"s3": {"bucket": {"name": "elsewhere"}, "object": {"key": h.staging_key(&id)}}}]);
    finalize_staged_object(&h.app, serde_json::from_value(other_bucket).unwrap())
        .await
        .unwrap();
    assert!(h.assets.is_empty());
    finalize_staged_object(&h.app, eventbridge_event_for(&h.staging_key(&id)))
        .await
        .unwrap();
    assert_eq!(h.assets.len(), 1);
    // A storage failure is an error, so Lambda retries the event.
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "b.pdf", "size": 700}))
        .await;
    h.blobs.client_put(&h.staging_key(&id), document(700));
    h.assets.fail.store(true, Ordering::SeqCst);
    assert!(
        finalize_staged_object(&h.app, event_for(&h.staging_key(&id)))
            .await
            .is_err()
    );
    h.assets.fail.store(false, Ordering::SeqCst);
    finalize_staged_object(&h.app, event_for(&h.staging_key(&id)))
        .await
        .unwrap();
    assert_eq!(h.assets.len(), 2);
}

#[tokio::test]
async fn another_company_sees_an_upload_as_unknown() {
    let h = Harness::new().await;
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "a.pdf", "size": 40_000_000, "multipart": true}))
        .await;
    h.blobs.client_put(&h.staging_key(&id), document(800));
    let unknown = UploadId::generate();
    for (upload, key) in [(&id, &h.globex_key), (&unknown, &h.acme_key)] {
        for response in [
            h.status(upload, key).await,
            h.part(upload, key, "1").await,
            h.complete(upload, key).await,
            h.abort(upload, key).await,
        ] {
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert_eq!(error_code(&response), "not_found");
        }
    }
    // The upload's own visibility is part of its address.
    let public_path = upload_status(
        &h.app,
        request(
            Method::GET,
            &format!("{UPLOADS}/public/{id}"),
            Some(&h.acme_key),
            None,
        ),
    )
    .await;
    assert_eq!(public_path.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&h.status(&id, &h.acme_key).await)["status"], "pending");
}

#[tokio::test]
async fn aborting_ends_the_parts_and_expiry_forgets_the_upload() {
    let h = Harness::new().await;
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "a.pdf", "size": 40_000_000, "multipart": true}))
        .await;
    let s3_upload_id = h.s3_upload_id(&id);
    assert!(
        h.blobs
            .client_put_part(&s3_upload_id, 1, document(1000))
            .is_some()
    );
    let aborted = h.abort(&id, &h.acme_key).await;
    assert_eq!(aborted.status(), StatusCode::OK, "{}", body_text(&aborted));
    assert_eq!(json(&aborted)["status"], "aborted");
    assert_eq!(h.blobs.open_multipart_uploads(), 0);
    // From then on it is gone, as a deleted resource is.
    assert_eq!(
        h.abort(&id, &h.acme_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.status(&id, &h.acme_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.complete(&id, &h.acme_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.part(&id, &h.acme_key, "1").await.status(),
        StatusCode::NOT_FOUND
    );

    // A finalize in progress cannot be aborted.
    let (busy, _) = h
        .start_ok(serde_json::json!({"name": "b.pdf", "size": 900}))
        .await;
    h.app
        .uploads
        .claim(
            &busy,
            crate::auth::now_ms() / 1000,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let refused = h.abort(&busy, &h.acme_key).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&refused), "upload_finalizing");

    // Past its expiry an unfinished upload is unknown, whatever DynamoDB's TTL has not swept yet.
    let (old, _) = h
        .start_ok(serde_json::json!({"name": "c.pdf", "size": 900}))
        .await;
    h.blobs.client_put(&h.staging_key(&old), document(900));
    h.uploads.update(&old, |u| u.expires_at_s = 1);
    assert_eq!(
        h.status(&old, &h.acme_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.complete(&old, &h.acme_key).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(h.assets.is_empty());
}

#[tokio::test]
async fn bad_starts_get_clear_errors_and_record_nothing() {
    let h = Harness::new().await;
    let cases: [(Option<Value>, u16, &str); 7] = [
        (None, 400, "invalid_body"),
        (Some(serde_json::json!({"name": "a"})), 400, "invalid_body"),
        (Some(serde_json::json!({"size": 0})), 400, "empty_file"),
        (
            Some(serde_json::json!({"size": 5u64 * 1024 * 1024 * 1024 + 1})),
            413,
            "payload_too_large",
        ),
        (
            Some(serde_json::json!({"size": 10, "sha256": "abc"})),
            400,
            "invalid_field",
        ),
        (
            Some(serde_json::json!({"size": 10, "assetType": "PICTURE"})),
            400,
            "invalid_field",
        ),
        (
            Some(serde_json::json!({"size": 10, "name": "x".repeat(256)})),
            400,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let response = start_upload(
            &h.app,
            request(
                Method::POST,
                &format!("{UPLOADS}/private"),
                Some(&h.acme_key),
                body,
            ),
        )
        .await;
        assert_eq!(response.status().as_u16(), status, "{code}");
        assert_eq!(error_code(&response), code);
    }
    let anonymous = start_upload(
        &h.app,
        request(
            Method::POST,
            &format!("{UPLOADS}/private"),
            None,
            Some(serde_json::json!({"size": 10})),
        ),
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let elsewhere = h
        .start("secret", &h.acme_key, serde_json::json!({"size": 10}))
        .await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    assert_eq!(h.blobs.open_multipart_uploads(), 0);
    assert!(h.nothing_stored());
    // Nothing was recorded: a new upload is the only one.
    let (id, _) = h.start_ok(serde_json::json!({"size": 10})).await;
    assert!(h.app.uploads.find(&id).await.unwrap().is_some());
    assert!(
        h.app
            .staging
            .head(&h.staging_key(&id))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_and_a_retry_finishes_the_upload() {
    let h = Harness::new().await;
    let (id, _) = h
        .start_ok(serde_json::json!({"name": "photo.jpg", "size": JPEG.len()}))
        .await;
    h.blobs.client_put(&h.staging_key(&id), JPEG);
    // The store goes away after two writes (the copy and one rendition).
    *h.blobs.put_budget.lock().unwrap() = Some(2);
    let failed = h.complete(&id, &h.acme_key).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        h.blobs.keys(),
        [h.staging_key(&id)],
        "only the staged bytes remain"
    );
    assert!(h.assets.is_empty());
    assert_eq!(json(&h.status(&id, &h.acme_key).await)["status"], "pending");
    *h.blobs.put_budget.lock().unwrap() = None;
    let done = h.complete(&id, &h.acme_key).await;
    assert_eq!(done.status(), StatusCode::OK, "{}", body_text(&done));
    assert_eq!(h.blobs.len(), 5);
}
