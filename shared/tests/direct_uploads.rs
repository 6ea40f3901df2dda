//! Direct uploads through the real SDK clients against the local AWS stand-in (moto): the S3
//! staging adapter (presigned PUTs and parts sent by an HTTP client, multipart listing and
//! joining, ranged reads, streamed hashing, copies), the DynamoDB upload records (conditional
//! state changes, the finalize lease) and the handlers end to end on that storage, the 24 MP photo
//! included. moto checks no signature or checksum: `storage/s3_presign` pins those.

mod support;

use std::time::Duration;

use asset_service::App;
use asset_service::domain::{
    AssetKey, CompanyId, MIN_PART_BYTES, PendingUpload, Refusal, Transfer, UploadId, UploadState,
    Visibility, sha256_hex,
};
use asset_service::storage::{
    BlobStore, Claim, MultipartCompletion, StagingArea, Transition, UploadRepo, UploadedPart,
};
use asset_service::{
    abort_upload, complete_upload, mint_upload_token, part_url, start_upload, upload_status,
};
use lambda_http::RequestExt;
use lambda_http::{Body, Request};
use serde_json::{Value, json};

/// Sends `body` with a presigned request as a client would: its method, URL and listed headers.
async fn send_presigned(
    http: &reqwest::Client,
    signed: &Value,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = http.put(signed["url"].as_str().unwrap());
    for (name, value) in signed["headers"].as_object().unwrap() {
        // HTTP clients set Content-Length from the body; it is signed, so it must be this one.
        if name != "content-length" {
            request = request.header(name, value.as_str().unwrap());
        } else {
            assert_eq!(value.as_str().unwrap(), body.len().to_string());
        }
    }
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn the_s3_staging_area_signs_joins_reads_hashes_and_copies() {
    let Some((config, storage)) = support::provisioned("staging").await else {
        return;
    };
    let staging = storage.blobs.as_ref();
    let http = reqwest::Client::new();
    let ttl = Duration::from_secs(600);

    // One presigned PUT, with the size (and checksum) it was signed for.
    let file = support::PDF.to_vec();
    let key = "staging/acme/AAAAAAAAAAAAAAAAAAAAAAAA";
    let signed = staging
        .presign_put(key, file.len() as u64, Some(&sha256_hex(&file)), ttl)
        .await
        .unwrap();
    assert_eq!(signed.method, "PUT");
    assert!(
        signed
            .headers
            .iter()
            .any(|(n, _)| n == "x-amz-checksum-sha256")
    );
    let headers: serde_json::Map<String, Value> = signed
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let as_json = json!({"url": signed.url, "headers": headers});
    let put = send_presigned(&http, &as_json, file.clone()).await;
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(
        staging.head(key).await.unwrap().unwrap().size,
        file.len() as u64
    );
    assert_eq!(
        staging.read_prefix(key, 8).await.unwrap().as_ref(),
        b"%PDF-1.4"
    );
    assert_eq!(staging.sha256(key).await.unwrap(), sha256_hex(&file));
    let copied = "companies/acme/assets/x/original";
    staging.copy(key, copied, "application/pdf").await.unwrap();
    assert_eq!(storage.blobs.get(copied).await.unwrap().unwrap(), file);
    let head = storage
        .s3
        .head_object()
        .bucket(&config.bucket_name)
        .key(copied)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/pdf"));
    assert_eq!(staging.head("staging/acme/none").await.unwrap(), None);

    // A multipart upload: two parts through presigned part URLs, joined by S3.
    let key = "staging/acme/BBBBBBBBBBBBBBBBBBBBBBBB";
    let first: Vec<u8> = (0..MIN_PART_BYTES).map(|i| (i % 251) as u8).collect();
    let second = b"the last part may be small".to_vec();
    let s3_upload_id = staging.create_multipart(key).await.unwrap();
    let parts = put_parts(&http, staging, key, &s3_upload_id, &[&first, &second]).await;
    // ListParts (Uppy's resume) answers what S3 holds, ETags quoted as the part PUTs answered
    // (moto through scripts/moto_server.py, which corrects moto's root element).
    let listed = staging
        .list_parts(key, &s3_upload_id)
        .await
        .unwrap()
        .expect("the multipart upload is open");
    assert_eq!(listed, parts);
    assert_eq!(
        staging.list_parts(key, "no-such-upload").await.unwrap(),
        None
    );
    assert_eq!(
        staging
            .complete_multipart(key, &s3_upload_id, &parts)
            .await
            .unwrap(),
        MultipartCompletion::Completed
    );
    // Completing twice (a retried finalize) is no error: S3 answers the same success for a
    // while, then NoSuchUpload; either way the object is whole.
    assert!(matches!(
        staging
            .complete_multipart(key, &s3_upload_id, &parts)
            .await
            .unwrap(),
        MultipartCompletion::Completed | MultipartCompletion::Unknown
    ));
    let joined = [first.as_slice(), second.as_slice()].concat();
    assert_eq!(staging.sha256(key).await.unwrap(), sha256_hex(&joined));

    // S3 refuses parts under 5 MiB but the last; an aborted upload is gone.
    let key = "staging/acme/CCCCCCCCCCCCCCCCCCCCCCCC";
    let s3_upload_id = staging.create_multipart(key).await.unwrap();
    let small = vec![7u8; 1000];
    let parts = put_parts(&http, staging, key, &s3_upload_id, &[&small, &small]).await;
    assert_eq!(
        staging
            .complete_multipart(key, &s3_upload_id, &parts)
            .await
            .unwrap(),
        MultipartCompletion::InvalidParts("EntityTooSmall".into())
    );
    staging.abort_multipart(key, &s3_upload_id).await.unwrap();
    // Aborting twice is harmless.
    staging.abort_multipart(key, &s3_upload_id).await.unwrap();
    assert_eq!(staging.head(key).await.unwrap(), None);
}

/// PUTs each part through its presigned URL; answers them as S3 named them (their ETags).
async fn put_parts(
    http: &reqwest::Client,
    staging: &dyn StagingArea,
    key: &str,
    s3_upload_id: &str,
    parts: &[&Vec<u8>],
) -> Vec<UploadedPart> {
    let mut uploaded = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let number = i as u32 + 1;
        let signed = staging
            .presign_part(key, s3_upload_id, number, Duration::from_secs(600))
            .await
            .unwrap();
        assert!(signed.headers.is_empty());
        let response = http
            .put(&signed.url)
            .body(part.to_vec())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        uploaded.push(UploadedPart {
            number,
            size: part.len() as u64,
            etag: response.headers()["etag"].to_str().unwrap().to_owned(),
        });
    }
    uploaded
}

fn pending(company: &str) -> PendingUpload {
    PendingUpload {
        id: UploadId::generate(),
        company_id: CompanyId::parse(company).unwrap(),
        visibility: Visibility::Public,
        name: "Scan \"2026\" é.pdf".into(),
        declared_type: Some(asset_service::domain::AssetType::Document),
        declared_size: Some(12_345_678),
        declared_sha256: Some(sha256_hex(b"x")),
        max_bytes: 100 << 20,
        token_id: Some("0123456789abcdef".into()),
        asset_key: AssetKey::generate(),
        transfer: Transfer::Multipart {
            s3_upload_id: "s3-upload-id".into(),
        },
        state: UploadState::Pending,
        created_ms: 1_764_460_800_123,
        expires_at_s: 1_764_547_200,
    }
}

#[tokio::test]
async fn dynamodb_upload_records_settle_once_under_one_lease() {
    let Some((config, storage)) = support::provisioned("uploads").await else {
        return;
    };
    let repo = storage.table.as_ref();
    let upload = pending("acme");
    repo.insert(&upload).await.unwrap();
    assert!(matches!(
        repo.insert(&upload).await,
        Err(asset_service::storage::StorageError::AlreadyExists)
    ));
    assert_eq!(repo.find(&upload.id).await.unwrap(), Some(upload.clone()));
    let bare = PendingUpload {
        declared_type: None,
        declared_size: None,
        declared_sha256: None,
        transfer: Transfer::SingleRequest,
        ..pending("globex")
    };
    repo.insert(&bare).await.unwrap();
    assert_eq!(repo.find(&bare.id).await.unwrap(), Some(bare.clone()));

    // One lease at a time; an expired lease can be taken over; a release frees it.
    let lease = Duration::from_secs(30);
    let now = 1_800_000_000;
    assert_eq!(
        repo.claim(&upload.id, now, lease).await.unwrap(),
        Claim::Acquired(upload.clone())
    );
    assert_eq!(
        repo.claim(&upload.id, now + 1, lease).await.unwrap(),
        Claim::Busy
    );
    assert!(matches!(
        repo.claim(&upload.id, now + 31, lease).await.unwrap(),
        Claim::Acquired(_)
    ));
    repo.release(&upload.id).await.unwrap();
    assert!(matches!(
        repo.claim(&upload.id, now + 32, lease).await.unwrap(),
        Claim::Acquired(_)
    ));

    // Settled once; the refusal is kept; later changes and claims see it.
    let refusal = Refusal {
        status: 415,
        code: "unsupported_media_type".into(),
        message: "markup (HTML, SVG, XML) can carry script and is not accepted".into(),
    };
    let refused = UploadState::Refused(refusal);
    assert_eq!(
        repo.settle(&upload.id, &refused).await.unwrap(),
        Transition::Done
    );
    assert_eq!(
        repo.settle(&upload.id, &UploadState::Ready).await.unwrap(),
        Transition::AlreadySettled(refused.clone())
    );
    let stored = repo.find(&upload.id).await.unwrap().unwrap();
    assert_eq!(stored.state, refused);
    assert_eq!(
        repo.claim(&upload.id, now + 100, lease).await.unwrap(),
        Claim::Settled(stored)
    );
    let unknown = UploadId::generate();
    assert_eq!(
        repo.claim(&unknown, now, lease).await.unwrap(),
        Claim::Missing
    );
    assert_eq!(
        repo.settle(&unknown, &UploadState::Ready).await.unwrap(),
        Transition::Missing
    );
    repo.release(&unknown).await.unwrap();
    // The TTL attribute DynamoDB expires records by (template.yaml).
    let item = storage
        .dynamo
        .get_item()
        .table_name(&config.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("UPLOAD#{}", upload.id)),
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
        &upload.expires_at_s.to_string()
    );
}

fn api(method: &str, url: &str, key: &str, body: Option<Value>) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-api-key", key)
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap()
}

fn json_of(response: &lambda_http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn the_24_mp_photo_uploads_directly_and_html_in_disguise_leaves_nothing() {
    let Some((config, storage)) = support::provisioned("direct").await else {
        return;
    };
    let app = App::new(
        config.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );
    let (secret, _) =
        asset_service::auth::issue_key(storage.table.as_ref(), CompanyId::parse("acme").unwrap())
            .await
            .unwrap();
    let key = secret.expose();
    let http = reqwest::Client::new();
    let uploads = "https://assets.test/api/v1/partner/asset/uploads/public";

    // The photo a small upload refuses with 413 (5.3 MB).
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/bench/photo-24mp.jpg"
    ))
    .expect("../shared/bench/photo-24mp.jpg");
    let started = start_upload(
        &app,
        api(
            "POST",
            uploads,
            key,
            Some(json!({"name": "photo-24mp.jpg", "size": photo.len(), "sha256": sha256_hex(&photo)})),
        ),
    )
    .await;
    assert_eq!(started.status(), 201);
    let started = json_of(&started);
    let put = send_presigned(&http, &started["upload"], photo.clone()).await;
    assert!(put.status().is_success());
    let id = started["uploadId"].as_str().unwrap();
    let done = complete_upload(
        &app,
        api("POST", &format!("{uploads}/{id}/complete"), key, None),
    )
    .await;
    assert_eq!(done.status(), 200, "{:?}", done.body());
    let asset = json_of(&done);
    assert_eq!(asset["size"], photo.len());
    assert_eq!(asset["contentType"], "image/jpeg");
    let pixels = asset["width"].as_u64().unwrap() * asset["height"].as_u64().unwrap();
    assert_eq!(pixels, 24_000_000);
    let asset_key = asset["key"].as_str().unwrap();
    let prefix = format!("companies/acme/assets/{asset_key}/");
    let mut stored: Vec<String> = support::object_keys(&storage, &config.bucket_name)
        .await
        .into_iter()
        .filter(|k| !k.starts_with("staging/"))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        ["large", "largeX2", "medium", "original", "thumb"].map(|s| format!("{prefix}{s}"))
    );
    assert_eq!(
        storage
            .blobs
            .get(&format!("{prefix}original"))
            .await
            .unwrap()
            .unwrap(),
        photo
    );
    let status =
        json_of(&upload_status(&app, api("GET", &format!("{uploads}/{id}"), key, None)).await);
    assert_eq!(status["status"], "ready");

    // An HTML page announced as an image: refused as a small upload would be, nothing left.
    let html = b"<!doctype html><html><body onload=alert(1)></body></html>".to_vec();
    let started = json_of(
        &start_upload(
            &app,
            api(
                "POST",
                uploads,
                key,
                Some(json!({"name": "cat.jpg", "assetType": "IMAGE", "size": html.len()})),
            ),
        )
        .await,
    );
    assert!(
        send_presigned(&http, &started["upload"], html)
            .await
            .status()
            .is_success()
    );
    let id = started["uploadId"].as_str().unwrap();
    let refused = complete_upload(
        &app,
        api("POST", &format!("{uploads}/{id}/complete"), key, None),
    )
    .await;
    assert_eq!(refused.status(), 415);
    assert_eq!(json_of(&refused)["error"]["code"], "unsupported_media_type");
    let left: Vec<String> = support::object_keys(&storage, &config.bucket_name).await;
    assert!(left.iter().all(|k| k.starts_with(&prefix)), "{left:?}");
}

fn bearer(method: &str, url: &str, token: &str, body: Option<Value>) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"))
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap()
}

/// The Uppy protocol (`@uppy/aws-s3` 5.x with `endpoint`) driven as Uppy drives it, with an upload
/// token, on moto through the real SDK: create, sign three parts, PUT them with an HTTP client,
/// list them (Uppy's resume), complete; then a single-request form POST that only the bucket's
/// event finalizes. The token record itself round-trips through DynamoDB.
#[tokio::test]
async fn uppy_uploads_with_a_token_on_real_storage() {
    let Some((config, storage)) = support::provisioned("uppy").await else {
        return;
    };
    let app = App::new(
        config.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );
    let acme = CompanyId::parse("acme").unwrap();
    let (secret, _) = asset_service::auth::issue_key(storage.table.as_ref(), acme.clone())
        .await
        .unwrap();
    let minted = mint_upload_token(
        &app,
        api(
            "POST",
            "https://assets.test/api/v1/partner/asset/upload-tokens",
            secret.expose(),
            Some(json!({"visibility": "public", "maxBytes": 20_000_000, "expiresIn": 600})),
        ),
    )
    .await;
    assert_eq!(minted.status(), 201);
    let minted = json_of(&minted);
    let token = minted["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ut_"));
    assert_eq!(minted["maxBytes"], 20_000_000);
    // Stored as its hash only, with the table's TTL attribute at its expiry.
    let stored = asset_service::storage::ApiKeyRepo::find_upload_token(
        storage.table.as_ref(),
        &asset_service::domain::UploadTokenSecret::hash_of(&token),
    )
    .await
    .unwrap()
    .expect("the token is stored by its hash");
    assert_eq!(stored.company_id, acme);
    assert_eq!(
        stored.expires_at_s * 1000,
        minted["expiresAt"].as_i64().unwrap()
    );

    let http = reqwest::Client::new();
    let endpoint = "https://assets.test/api/v1/partner/asset/uploads/public";
    let file: Vec<u8> = b"%PDF-1.7\n"
        .iter()
        .copied()
        .chain((0..12_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8))
        .collect();
    let created = start_upload(
        &app,
        bearer(
            "POST",
            &format!("{endpoint}/s3/multipart"),
            &token,
            Some(json!({"filename": "scan.pdf", "type": "application/pdf", "metadata": {"name": "scan.pdf", "assetType": "DOCUMENT"}})),
        ),
    )
    .await;
    assert_eq!(created.status(), 201, "{:?}", created.body());
    let created = json_of(&created);
    let id = created["uploadId"].as_str().unwrap().to_owned();
    assert_eq!(created["key"], format!("staging/acme/{id}"));

    let mut sent = Vec::new();
    for (i, chunk) in file.chunks(MIN_PART_BYTES as usize).enumerate() {
        let n = i + 1;
        let signed = json_of(
            &part_url(
                &app,
                bearer(
                    "GET",
                    &format!("{endpoint}/s3/multipart/{id}/{n}?key=ignored"),
                    &token,
                    None,
                ),
            )
            .await,
        );
        assert_eq!(signed["method"], "PUT");
        assert!(signed["expires"].as_u64().unwrap() > 0);
        let put = http
            .put(signed["url"].as_str().unwrap())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "part {n}: {}", put.status());
        sent.push(json!({"PartNumber": n, "ETag": put.headers()["etag"].to_str().unwrap()}));
    }
    assert_eq!(sent.len(), 3);
    let listed = upload_status(
        &app,
        bearer(
            "GET",
            &format!("{endpoint}/s3/multipart/{id}"),
            &token,
            None,
        ),
    )
    .await;
    assert_eq!(listed.status(), 200);
    let listed = json_of(&listed);
    let listed: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"PartNumber": p["PartNumber"], "ETag": p["ETag"]}))
        .collect();
    assert_eq!(listed, sent);

    // The same token for the other visibility, and another credential's view of the upload.
    let private = upload_status(
        &app,
        bearer(
            "GET",
            &format!("https://assets.test/api/v1/partner/asset/uploads/private/s3/multipart/{id}"),
            &token,
            None,
        ),
    )
    .await;
    assert_eq!(private.status(), 403);
    assert_eq!(
        json_of(&private)["message"],
        "this upload token is not for private uploads"
    );

    let done = complete_upload(
        &app,
        bearer(
            "POST",
            &format!("{endpoint}/s3/multipart/{id}/complete"),
            &token,
            Some(json!({"parts": sent})),
        ),
    )
    .await;
    assert_eq!(done.status(), 200, "{:?}", done.body());
    let done = json_of(&done);
    assert_eq!(done["status"], "ready");
    let asset = &done["asset"];
    assert_eq!(done["location"], asset["origURL"]);
    assert_eq!(done["key"], asset["key"]);
    assert_eq!(asset["size"], file.len());
    assert_eq!(asset["sha256"], sha256_hex(&file));
    assert_eq!(asset["name"], "scan.pdf");
    let original = format!(
        "companies/acme/assets/{}/original",
        asset["key"].as_str().unwrap()
    );
    assert_eq!(storage.blobs.get(&original).await.unwrap().unwrap(), file);

    // A single-request upload: Uppy's form POST straight to the bucket, then only the event.
    let params = start_upload(
        &app,
        bearer(
            "GET",
            &format!("{endpoint}/s3/params?filename=note.pdf&type=application%2Fpdf"),
            &token,
            None,
        )
        .with_query_string_parameters(std::collections::HashMap::from([(
            "filename".to_string(),
            "note.pdf".to_string(),
        )])),
    )
    .await;
    assert_eq!(params.status(), 200, "{:?}", params.body());
    let params = json_of(&params);
    assert_eq!(params["method"], "POST");
    let small = b"%PDF-1.4\nsmall".to_vec();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in params["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_owned());
    }
    // With a filename, as a browser sends a File (moto reads a file part without one as text).
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(small.clone()).file_name("note.pdf"),
    );
    let posted = http
        .post(params["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    let staged = params["fields"]["key"].as_str().unwrap();
    let event = serde_json::from_value(json!({
        "Records": [{"s3": {"bucket": {"name": config.bucket_name}, "object": {"key": staged, "size": small.len()}}}]
    }))
    .unwrap();
    asset_service::finalize_staged_object(&app, event)
        .await
        .unwrap();
    let upload_id = staged.rsplit('/').next().unwrap();
    let status = json_of(
        &upload_status(
            &app,
            bearer("GET", &format!("{endpoint}/{upload_id}"), &token, None),
        )
        .await,
    );
    assert_eq!(status["status"], "ready", "{status}");
    assert_eq!(status["asset"]["name"], "note.pdf");
    assert_eq!(status["asset"]["sha256"], sha256_hex(&small));
}

/// An abandoned upload, at the level where its expiry can be reached in a test: an app whose
/// `PENDING_UPLOAD_TTL_SECONDS` is one second (the environment allows no less than the URLs'
/// 60 s), on the real adapters. Started in parts, one part sent, never completed: once its
/// record's `expiresAt` has passed, every route answers the 404 of an unknown upload and no
/// finalize makes an asset of it. On AWS, DynamoDB's TTL then deletes the record and the bucket's
/// lifecycle rules its parts (`e2e_direct_uploads.rs` reads those rules back); moto runs neither.
#[tokio::test]
async fn an_abandoned_upload_expires_for_every_route_and_never_becomes_an_asset() {
    let Some((mut config, storage)) = support::provisioned("expiry").await else {
        return;
    };
    config.pending_upload_ttl = Duration::from_secs(1);
    let app = App::new(
        config.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );
    let (secret, _) =
        asset_service::auth::issue_key(storage.table.as_ref(), CompanyId::parse("acme").unwrap())
            .await
            .unwrap();
    let key = secret.expose();
    let uploads = "https://assets.test/api/v1/partner/asset/uploads/private";
    let size = MIN_PART_BYTES as usize + 1024;
    let started = start_upload(
        &app,
        api(
            "POST",
            uploads,
            key,
            Some(json!({"name": "abandoned.bin", "size": size, "multipart": true})),
        ),
    )
    .await;
    assert_eq!(started.status(), 201);
    let started = json_of(&started);
    let id = UploadId::parse(started["uploadId"].as_str().unwrap()).unwrap();
    let record = UploadRepo::find(storage.table.as_ref(), &id)
        .await
        .unwrap()
        .unwrap();
    // expiresAt = start + PENDING_UPLOAD_TTL_SECONDS, in the answer (ms) and the record (s).
    assert_eq!(record.expires_at_s, record.created_ms / 1000 + 1);
    assert_eq!(started["expiresAt"], record.expires_at_s * 1000);

    // One part sent, as a client that gives up after it.
    let part = part_url(
        &app,
        api("GET", &format!("{uploads}/{id}/parts/1"), key, None),
    )
    .await;
    assert_eq!(part.status(), 200);
    let part = json_of(&part);
    let sent = reqwest::Client::new()
        .put(part["url"].as_str().unwrap())
        .body(vec![7u8; started["partSize"].as_u64().unwrap() as usize])
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success());
    let etag = sent.headers()["etag"].to_str().unwrap().to_owned();
    let status = upload_status(&app, api("GET", &format!("{uploads}/{id}"), key, None)).await;
    assert_eq!(status.status(), 200, "still pending before it expires");

    // Wait for the record's second to pass (expired means expiresAt < now, in whole seconds).
    for _ in 0..50 {
        if asset_service::auth::now_ms() / 1000 > record.expires_at_s {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let unknown = UploadId::generate();
    let parts = json!({"parts": [{"partNumber": 1, "etag": etag}]});
    for upload_id in [id.as_str(), unknown.as_str()] {
        let status = upload_status(
            &app,
            api("GET", &format!("{uploads}/{upload_id}"), key, None),
        )
        .await;
        let part = part_url(
            &app,
            api("GET", &format!("{uploads}/{upload_id}/parts/2"), key, None),
        )
        .await;
        let complete = complete_upload(
            &app,
            api(
                "POST",
                &format!("{uploads}/{upload_id}/complete"),
                key,
                Some(parts.clone()),
            ),
        )
        .await;
        let abort = abort_upload(
            &app,
            api("DELETE", &format!("{uploads}/{upload_id}"), key, None),
        )
        .await;
        for (route, response) in [
            ("status", status),
            ("parts", part),
            ("complete", complete),
            ("abort", abort),
        ] {
            assert_eq!(response.status(), 404, "{route} of {upload_id}");
            assert_eq!(json_of(&response)["error"]["code"], "not_found", "{route}");
        }
    }
    // The bucket's event for its key (had the client completed the parts itself) makes nothing.
    let event: asset_service::ObjectCreatedEvent = serde_json::from_value(json!({
        "detail": {"bucket": {"name": config.bucket_name},
                   "object": {"key": format!("staging/acme/{id}")}}
    }))
    .unwrap();
    asset_service::finalize_staged_object(&app, event)
        .await
        .unwrap();
    assert_eq!(
        asset_service::storage::AssetRepo::find(storage.table.as_ref(), &record.asset_key)
            .await
            .unwrap(),
        None
    );
    let stored: Vec<String> = support::object_keys(&storage, &config.bucket_name).await;
    assert!(stored.is_empty(), "{stored:?}");
    // Its part is left to the bucket's AbortIncompleteMultipartUpload rule.
    let open = storage
        .s3
        .list_multipart_uploads()
        .bucket(&config.bucket_name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        open.uploads()
            .iter()
            .filter_map(|u| u.key())
            .collect::<Vec<_>>(),
        [format!("staging/acme/{id}")]
    );
}
