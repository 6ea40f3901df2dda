//! Direct uploads end to end over HTTP, as the README tells a partner's server to do them: the
//! functions under `cargo lambda watch`, bytes sent with the presigned requests straight to the
//! local S3 (moto), and the bucket's events handed to `upload-finalize` by `s3-event-relay`
//! (`scripts/test.sh` starts all three).

mod support;

use std::time::{Duration, Instant};

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::{CompanyId, sha256_hex};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Stack {
    base: String,
    http: Client,
    storage: AwsStorage,
    bucket: String,
    acme: String,
    globex: String,
}

async fn stack() -> Option<Stack> {
    let (base, config) = support::e2e_target()?;
    let storage = AwsStorage::connect(&config).await;
    let company = |id: &str| CompanyId::parse(id).unwrap();
    let (acme, _) = issue_key(storage.table.as_ref(), company("e2e-direct-acme"))
        .await
        .unwrap();
    let (globex, _) = issue_key(storage.table.as_ref(), company("e2e-direct-globex"))
        .await
        .unwrap();
    Some(Stack {
        base,
        http: Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        storage,
        bucket: config.bucket_name,
        acme: acme.expose().to_owned(),
        globex: globex.expose().to_owned(),
    })
}

impl Stack {
    fn uploads(&self) -> String {
        format!("{}/api/v1/partner/asset/uploads/private", self.base)
    }

    async fn call(
        &self,
        method: &str,
        url: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), url)
            .header("x-api-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    async fn start(&self, body: Value) -> Value {
        let (status, started) = self
            .call("POST", &self.uploads(), &self.acme, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        started
    }

    /// A PUT with a presigned request: its URL and headers (Content-Length comes from the body).
    async fn put(&self, signed: &Value, body: Vec<u8>) -> reqwest::Response {
        let mut request = self.http.put(signed["url"].as_str().unwrap());
        for (name, value) in signed["headers"].as_object().unwrap() {
            if name != "content-length" {
                request = request.header(name, value.as_str().unwrap());
            }
        }
        let response = request.body(body).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response
    }

    /// The asset's bytes through the API (a redirect to S3 above the inline limit).
    async fn read_back(&self, asset: &Value) -> Vec<u8> {
        let response = self
            .http
            .get(asset["origURL"].as_str().unwrap())
            .header("x-api-key", &self.acme)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.bytes().await.unwrap().to_vec()
    }

    async fn staged_objects(&self) -> Vec<String> {
        let listed = self
            .storage
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix("staging/e2e-direct-acme/")
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }
}

#[tokio::test]
async fn the_24_mp_photo_by_one_put_and_40_mb_in_parts_read_back_byte_for_byte() {
    let Some(stack) = stack().await else {
        return;
    };
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/bench/photo-24mp.jpg"
    ))
    .unwrap();
    let started = stack
        .start(json!({"name": "photo-24mp.jpg", "size": photo.len(), "sha256": sha256_hex(&photo)}))
        .await;
    stack.put(&started["upload"], photo.clone()).await;
    let (status, asset) = stack
        .call(
            "POST",
            started["completeUrl"].as_str().unwrap(),
            &stack.acme,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{asset}");
    assert_eq!(asset["contentType"], "image/jpeg");
    assert_eq!(asset["sha256"], sha256_hex(&photo));
    assert_eq!(stack.read_back(&asset).await, photo);
    let thumb = stack
        .http
        .get(asset["thumbURL"].as_str().unwrap())
        .header("x-api-key", &stack.acme)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");

    // 40 MB in three parts, named with the ETags S3 answered.
    let file: Vec<u8> = b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..40_000_000 - 9).map(|i: u32| (i % 253) as u8))
        .collect();
    let started = stack
        .start(json!({"name": "scan.pdf", "size": file.len(), "multipart": true}))
        .await;
    let part_size = started["partSize"].as_u64().unwrap() as usize;
    assert_eq!(started["partCount"], 3);
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(part_size).enumerate() {
        let url = format!("{}/{}", started["partsUrl"].as_str().unwrap(), i + 1);
        let (status, signed) = stack.call("GET", &url, &stack.acme, None).await;
        assert_eq!(status, StatusCode::OK, "{signed}");
        let response = stack.put(&signed, chunk.to_vec()).await;
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({"partNumber": i + 1, "etag": etag}));
    }
    // Another company cannot sign, complete, see or abort it.
    let status_url = started["statusUrl"].as_str().unwrap();
    for (method, url) in [
        ("GET", format!("{}/parts/1", status_url)),
        ("POST", started["completeUrl"].as_str().unwrap().to_owned()),
        ("GET", status_url.to_owned()),
        ("DELETE", status_url.to_owned()),
    ] {
        let (status, body) = stack.call(method, &url, &stack.globex, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {url}: {body}");
    }
    let (status, asset) = stack
        .call(
            "POST",
            started["completeUrl"].as_str().unwrap(),
            &stack.acme,
            Some(json!({"parts": parts})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{asset}");
    assert_eq!(asset["size"], file.len());
    assert_eq!(asset["sha256"], sha256_hex(&file));
    assert_eq!(stack.read_back(&asset).await, file);
    // A retried complete answers the same asset.
    let (status, again) = stack
        .call(
            "POST",
            started["completeUrl"].as_str().unwrap(),
            &stack.acme,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["key"], asset["key"]);
}

#[tokio::test]
async fn the_bucket_event_finalizes_an_upload_nobody_completes_and_refusals_leave_nothing() {
    let Some(stack) = stack().await else {
        return;
    };
    // Never completed by the client: the bucket's event (moto -> queue -> relay -> finalize).
    let started = stack
        .start(json!({"name": "doc.pdf", "size": support::PDF.len()}))
        .await;
    stack.put(&started["upload"], support::PDF.to_vec()).await;
    let status_url = started["statusUrl"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let (status, body) = stack.call("GET", status_url, &stack.acme, None).await;
        assert_eq!(status, StatusCode::OK);
        if body["status"] == "ready" {
            break body;
        }
        assert_eq!(body["status"], "pending");
        assert!(
            Instant::now() < deadline,
            "not finalized by the event: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(stack.read_back(&ready["asset"]).await, support::PDF);

    // A size lie, an HTML page disguised as an image, and an image over the pixel limit (a PNG
    // header claiming 100,000 x 100,000, a decompression bomb): refused, their bytes removed.
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(b"\x08\x02\0\0\0\0\0\0\0\0\0\0\0IDAT");
    bomb.extend(std::iter::repeat_n(0u8, 512));
    for (announced, sent, status, code) in [
        (
            json!({"name": "a.pdf", "size": support::PDF.len() + 1}),
            support::PDF.to_vec(),
            422,
            "size_mismatch",
        ),
        (
            json!({"name": "cat.jpg", "assetType": "IMAGE", "size": html.len()}),
            html.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            json!({"name": "bomb.png", "size": bomb.len()}),
            bomb.clone(),
            422,
            "image_too_large",
        ),
    ] {
        let started = stack.start(announced).await;
        // A size lie cannot be sent with the signed URL (S3 refuses another length), so it
        // arrives the way a client that ignored the URL's headers would: straight to the bucket.
        let key = started["upload"]["url"].as_str().unwrap();
        let staging_key = key
            .split('?')
            .next()
            .unwrap()
            .split(&format!("/{}/", stack.bucket))
            .nth(1)
            .unwrap()
            .to_owned();
        stack
            .storage
            .s3
            .put_object()
            .bucket(&stack.bucket)
            .key(&staging_key)
            .body(sent.into())
            .send()
            .await
            .unwrap();
        let (got, body) = stack
            .call(
                "POST",
                started["completeUrl"].as_str().unwrap(),
                &stack.acme,
                None,
            )
            .await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["error"]["code"], code);
        let (_, recorded) = stack
            .call(
                "GET",
                started["statusUrl"].as_str().unwrap(),
                &stack.acme,
                None,
            )
            .await;
        assert_eq!(recorded["status"], "refused");
        assert_eq!(recorded["refusal"]["code"], code);
    }
    // Give the duplicate events of the refused uploads time to be handled, then nothing of them
    // (nor of the finalized one) is left in the staging area.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stack.staged_objects().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            stack.staged_objects().await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The Uppy protocol over HTTP with an upload token, as a partner's page drives it through
/// `@uppy/aws-s3` (the browser itself: `e2e_browser_uppy.rs`): the partner's server mints the
/// token; the page creates a multipart upload, signs and sends 12 MB in three parts straight to the
/// bucket, lists them, completes; then sends a file by the form POST of `s3/params`, which only the
/// bucket's event finalizes. The token works nowhere else.
#[tokio::test]
async fn uppy_with_an_upload_token_over_http() {
    let Some(stack) = stack().await else {
        return;
    };
    let (key, _) = issue_key(
        stack.storage.table.as_ref(),
        CompanyId::parse("e2e-uppy").unwrap(),
    )
    .await
    .unwrap();
    let api = format!("{}/api/v1/partner/asset", stack.base);
    let (status, minted) = stack
        .call(
            "POST",
            &format!("{api}/upload-tokens"),
            key.expose(),
            Some(json!({"visibility": "public", "maxBytes": 20_000_000})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap().to_owned();
    let endpoint = format!("{api}/uploads/public");
    let bearer = |method: &str, url: String| {
        stack
            .http
            .request(method.parse().unwrap(), url)
            .bearer_auth(&token)
            .header("accept", "application/json")
    };

    let file: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..12_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8))
        .collect();
    let created: Value = bearer("POST", format!("{endpoint}/s3/multipart"))
        .json(&json!({"filename": "scan.pdf", "type": "application/pdf", "metadata": {"name": "scan.pdf"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["uploadId"].as_str().unwrap().to_owned();
    let staged = created["key"].as_str().unwrap().to_owned();
    let query = format!("?key={}", staged.replace('/', "%2F"));
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(5 * 1024 * 1024).enumerate() {
        let n = i + 1;
        let signed: Value = bearer("GET", format!("{endpoint}/s3/multipart/{id}/{n}{query}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sent = stack.put(&signed, chunk.to_vec()).await;
        let etag = sent.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(json!({"PartNumber": n, "ETag": etag}));
    }
    assert_eq!(parts.len(), 3);
    let listed: Value = bearer("GET", format!("{endpoint}/s3/multipart/{id}{query}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"PartNumber": p["PartNumber"], "ETag": p["ETag"]}))
        .collect();
    assert_eq!(listed, parts);
    let done = bearer(
        "POST",
        format!("{endpoint}/s3/multipart/{id}/complete{query}"),
    )
    .json(&json!({"parts": parts}))
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["location"], done["asset"]["origURL"]);
    let read = stack
        .http
        .get(done["location"].as_str().unwrap())
        .header("x-api-key", key.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(sha256_hex(&read.bytes().await.unwrap()), sha256_hex(&file));

    // A single request: the form POST to the bucket, then nothing but the bucket's event.
    let params: Value = bearer(
        "GET",
        format!("{endpoint}/s3/params?filename=note.pdf&type=application%2Fpdf&metadata%5BassetType%5D=DOCUMENT"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(params["method"], "POST");
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in params["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    let note = support::PDF.to_vec();
    // With a filename, as a browser sends a File (moto reads a file part without one as text).
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(note.clone()).file_name("note.pdf"),
    );
    let posted = stack
        .http
        .post(params["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    let upload_id = params["fields"]["key"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let status: Value = bearer("GET", format!("{endpoint}/{upload_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] == "ready" {
            break status;
        }
        assert_eq!(status["status"], "pending", "{status}");
        assert!(Instant::now() < deadline, "not finalized by the event");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(ready["asset"]["name"], "note.pdf");
    assert_eq!(ready["asset"]["sha256"], sha256_hex(&note), "{ready}");

    // The token is for public uploads only, and for nothing but uploads.
    let private = bearer("POST", format!("{api}/uploads/private/s3/multipart"))
        .json(&json!({"filename": "a.pdf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), StatusCode::FORBIDDEN);
    let read = bearer("GET", done["location"].as_str().unwrap().to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
    let forged = stack
        .http
        .get(format!("{endpoint}/{upload_id}"))
        .bearer_auth("ut_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

/// An abandoned upload on the stack `asset-admin setup` made: started in parts, one part sent,
/// never completed. The bucket's lifecycle configuration, read back from moto, is the template's
/// (`storage::s3::LIFECYCLE_RULES`) and covers its staging key twice over (its parts are aborted
/// after a day, an object there expires after a day), and its record expires with it (`expiresAt`
/// = start + `PENDING_UPLOAD_TTL_SECONDS`, DynamoDB's TTL attribute). moto runs neither rule nor
/// TTL; what the routes answer once it has expired: `direct_uploads.rs`.
#[tokio::test]
async fn an_abandoned_upload_is_covered_by_the_bucket_lifecycle_and_the_record_ttl() {
    let Some(stack) = stack().await else {
        return;
    };
    let config = asset_service::config::Config::from_env().unwrap();
    let size = asset_service::domain::MIN_PART_BYTES + 1;
    let before_s = asset_service::auth::now_ms() / 1000;
    let started = stack
        .start(json!({"name": "abandoned.bin", "size": size, "multipart": true}))
        .await;
    let after_s = asset_service::auth::now_ms() / 1000;
    let id = started["uploadId"].as_str().unwrap();
    let staging_key = format!("staging/e2e-direct-acme/{id}");
    let (status, part) = stack
        .call(
            "GET",
            &format!("{}/1", started["partsUrl"].as_str().unwrap()),
            &stack.acme,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{part}");
    stack
        .put(
            &part,
            vec![0u8; started["partSize"].as_u64().unwrap() as usize],
        )
        .await;

    // The lifecycle rules, as the SDK reads them back.
    let lifecycle = stack
        .storage
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&stack.bucket)
        .send()
        .await
        .expect("asset-admin setup puts the template's lifecycle rules");
    // (id, prefix, expiration days, days before unfinished parts are aborted)
    type Rule = (String, String, Option<i32>, Option<i32>);
    let read: Vec<Rule> = lifecycle
        .rules()
        .iter()
        .map(|rule| {
            assert_eq!(rule.status().as_str(), "Enabled");
            (
                rule.id().unwrap_or_default().to_owned(),
                rule.filter()
                    .and_then(|f| f.prefix())
                    .unwrap_or_default()
                    .to_owned(),
                rule.expiration().and_then(|e| e.days()),
                rule.abort_incomplete_multipart_upload()
                    .and_then(|a| a.days_after_initiation()),
            )
        })
        .collect();
    let expected: Vec<Rule> = asset_service::storage::s3::LIFECYCLE_RULES
        .iter()
        .map(|rule| {
            (
                rule.id.to_owned(),
                rule.prefix.unwrap_or_default().to_owned(),
                rule.expiration_days,
                rule.abort_incomplete_multipart_days,
            )
        })
        .collect();
    assert_eq!(read, expected);
    let covering = |pick: fn(&Rule) -> Option<i32>| {
        read.iter()
            .filter(|rule| staging_key.starts_with(&rule.1))
            .find_map(pick)
    };
    assert_eq!(covering(|rule| rule.3), Some(1), "its parts are aborted");
    assert_eq!(covering(|rule| rule.2), Some(1), "a staged object expires");
    // What the abort rule will act on: the open multipart upload at its key.
    let open = stack
        .storage
        .s3
        .list_multipart_uploads()
        .bucket(&stack.bucket)
        .prefix(&staging_key)
        .send()
        .await
        .unwrap();
    assert_eq!(open.uploads().len(), 1);

    // The record's TTL: start + PENDING_UPLOAD_TTL_SECONDS (the answer's expiresAt, in ms).
    let ttl = config.pending_upload_ttl.as_secs() as i64;
    let expires_ms = started["expiresAt"].as_i64().unwrap();
    assert!(
        (before_s + ttl) * 1000 <= expires_ms && expires_ms <= (after_s + ttl) * 1000,
        "{expires_ms} is not start + {ttl} s"
    );
    let item = stack
        .storage
        .dynamo
        .get_item()
        .table_name(&config.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("UPLOAD#{id}")),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item[asset_service::storage::dynamo::TTL_ATTRIBUTE]
            .as_n()
            .unwrap(),
        &(expires_ms / 1000).to_string()
    );
    let (status, pending) = stack
        .call(
            "GET",
            started["statusUrl"].as_str().unwrap(),
            &stack.acme,
            None,
        )
        .await;
    assert_eq!(
        (status, &pending["status"]),
        (StatusCode::OK, &json!("pending"))
    );
}
