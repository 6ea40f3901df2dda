//! Upload tokens and the Uppy protocol routes against in-memory storage: minting and its bounds,
//! what a token may and may not do, and each `@uppy/aws-s3` call with the JSON it reads. The same
//! flows run through the real SDK against moto in `tests/direct_uploads.rs`.

use super::direct_upload::{document, event_for, request};
use super::*;
use crate::handlers::{
    abort_upload, complete_upload, finalize_staged_object, mint_upload_token, part_url,
    start_upload, upload_status,
};

const API: &str = "https://api.example.com/api/v1/partner/asset";

impl Harness {
    async fn mint(&self, key: &str, body: Value) -> Response<Body> {
        mint_upload_token(
            &self.app,
            request(
                Method::POST,
                &format!("{API}/upload-tokens"),
                Some(key),
                Some(body),
            ),
        )
        .await
    }

    /// A fresh token of acme's.
    async fn token(&self, body: Value) -> String {
        let minted = self.mint(&self.acme_key, body).await;
        assert_eq!(
            minted.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&minted)
        );
        json(&minted)["token"].as_str().unwrap().to_owned()
    }
}

fn uppy(visibility: &str, rest: &str) -> String {
    format!("{API}/uploads/{visibility}/s3/{rest}")
}

#[tokio::test]
async fn tokens_are_minted_by_keys_only_within_bounds() {
    let h = Harness::new().await;
    let minted = h
        .mint(&h.acme_key, serde_json::json!({"visibility": "public"}))
        .await;
    assert_eq!(minted.status(), StatusCode::CREATED);
    assert_eq!(minted.headers()["cache-control"], "no-store");
    let body = json(&minted);
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("ut_"));
    assert_eq!(body["visibility"], "public");
    assert_eq!(body["maxBytes"], h.app.config.upload_limits.max_bytes);
    let lifetime_ms = body["expiresAt"].as_i64().unwrap() - crate::auth::now_ms();
    assert!((880_000..=900_000).contains(&lifetime_ms), "{lifetime_ms}");
    // Stored by its hash only.
    let stored = h
        .keys
        .find_upload_token(&crate::domain::UploadTokenSecret::hash_of(token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token_id(), body["tokenId"]);

    for (bad, code) in [
        (serde_json::json!({"visibility": "secret"}), "invalid_field"),
        (
            serde_json::json!({"visibility": "public", "maxBytes": 0}),
            "invalid_field",
        ),
        (
            serde_json::json!({"visibility": "public", "maxBytes": (5u64 << 30) + 1}),
            "invalid_field",
        ),
        (
            serde_json::json!({"visibility": "public", "expiresIn": 59}),
            "invalid_field",
        ),
        (
            serde_json::json!({"visibility": "public", "expiresIn": 3601}),
            "invalid_field",
        ),
        (
            serde_json::json!({"visibility": "public", "company": "globex"}),
            "invalid_body",
        ),
        (serde_json::json!({}), "invalid_body"),
    ] {
        let refused = h.mint(&h.acme_key, bad.clone()).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json(&refused)["error"]["code"], code, "{bad}");
    }
    // A token cannot mint tokens, and no credential mints nothing.
    let by_token = h
        .mint(token, serde_json::json!({"visibility": "public"}))
        .await;
    assert_eq!(by_token.status(), StatusCode::UNAUTHORIZED);
    assert!(
        json(&by_token)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only by the direct-upload routes")
    );
    let anonymous = mint_upload_token(
        &h.app,
        request(
            Method::POST,
            &format!("{API}/upload-tokens"),
            None,
            Some(serde_json::json!({"visibility": "public"})),
        ),
    )
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_uploads_within_its_visibility_cap_and_life_only() {
    let h = Harness::new().await;
    let token = h
        .token(serde_json::json!({"visibility": "private", "maxBytes": 1000}))
        .await;
    // Its visibility, under its cap: started and completed like any upload.
    let pdf = document(900);
    let started = h
        .start("private", &token, serde_json::json!({"size": pdf.len()}))
        .await;
    assert_eq!(
        started.status(),
        StatusCode::CREATED,
        "{}",
        body_text(&started)
    );
    let id = crate::domain::UploadId::parse(json(&started)["uploadId"].as_str().unwrap()).unwrap();
    h.blobs.client_put(&h.staging_key(&id), pdf.clone());
    let done = h.complete(&id, &token).await;
    assert_eq!(done.status(), StatusCode::OK, "{}", body_text(&done));
    assert_eq!(json(&done)["secured"], true);
    // The company's API key sees the token's upload; the token sees nothing the key started.
    assert_eq!(h.status(&id, &h.acme_key).await.status(), StatusCode::OK);
    let (by_key, _) = h.start_ok(serde_json::json!({"size": 10})).await;
    assert_eq!(
        h.status(&by_key, &token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.abort(&by_key, &token).await.status(),
        StatusCode::NOT_FOUND
    );
    // Nor what another token of the same company started.
    let other = h.token(serde_json::json!({"visibility": "private"})).await;
    assert_eq!(h.status(&id, &other).await.status(), StatusCode::NOT_FOUND);

    // Over its cap: 413 naming the cap, nothing recorded.
    let big = h
        .start("private", &token, serde_json::json!({"size": 1001}))
        .await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body_text(&big).contains("1000 bytes"));
    // The other visibility: 403, on the native and the Uppy routes alike.
    let public = h
        .start("public", &token, serde_json::json!({"size": 10}))
        .await;
    assert_eq!(public.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(&public)["error"]["code"], "token_visibility");
    // A token is no API key anywhere else.
    let read = get_asset(
        &h.app,
        request(
            Method::GET,
            &format!("{API}/{}", json(&done)["key"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .with_path_parameters(HashMap::from([(
            "assetKey".to_string(),
            json(&done)["key"].as_str().unwrap().to_string(),
        )])),
    )
    .await;
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);

    // Past its life: 401 "expired" (a token minted with no life left); a made-up token: 401.
    let (dead, _) = crate::auth::issue_upload_token(
        h.keys.as_ref(),
        CompanyId::parse("acme").unwrap(),
        Visibility::Private,
        1000,
        std::time::Duration::ZERO,
    )
    .await
    .unwrap();
    for (credential, message) in [
        (dead.expose(), "the upload token has expired"),
        ("ut_not-a-token", "the upload token is not valid"),
    ] {
        let refused = h.status(&id, credential).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(json(&refused)["error"]["message"], message);
    }
}

#[tokio::test]
async fn uppy_multipart_calls_get_the_json_uppy_reads() {
    let h = Harness::new().await;
    let token = h.token(serde_json::json!({"visibility": "public"})).await;
    let created = start_upload(
        &h.app,
        request(
            Method::POST,
            &uppy("public", "multipart"),
            Some(&token),
            Some(serde_json::json!({
                "filename": "Quarterly report.pdf", "type": "application/pdf",
                "metadata": {"name": "Quarterly report.pdf", "type": "application/pdf", "assetType": "DOCUMENT"}
            })),
        ),
    )
    .await;
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "{}",
        body_text(&created)
    );
    let created = json(&created);
    let id = created["uploadId"].as_str().unwrap().to_owned();
    let staging_key = format!("staging/acme/{id}");
    assert_eq!(created["key"], staging_key);

    // Sign and send two parts as Uppy does (5 MiB, then the rest).
    let file = document(5 * 1024 * 1024 + 1234);
    let mut parts = Vec::new();
    let s3_upload_id = h.blobs.open_multipart_id(&staging_key).unwrap();
    for (n, chunk) in file.chunks(5 * 1024 * 1024).enumerate() {
        let n = n + 1;
        let signed = part_url(
            &h.app,
            request(
                Method::GET,
                &uppy(
                    "public",
                    &format!("multipart/{id}/{n}?key={}", staging_key.replace('/', "%2F")),
                ),
                Some(&token),
                None,
            ),
        )
        .await;
        assert_eq!(signed.status(), StatusCode::OK, "{}", body_text(&signed));
        let signed = json(&signed);
        assert_eq!(signed["method"], "PUT");
        assert!(signed["url"].is_string() && signed["headers"].is_object());
        assert_eq!(signed["expires"], h.app.config.upload_url_ttl.as_secs());
        let etag = h
            .blobs
            .client_put_part(&s3_upload_id, n as u32, chunk.to_vec())
            .unwrap();
        parts.push(serde_json::json!({"PartNumber": n, "ETag": etag}));
    }
    // Uppy's resume: the parts so far, PartNumber a number, ETag as S3 answered it.
    let listed = upload_status(
        &h.app,
        request(
            Method::GET,
            &uppy("public", &format!("multipart/{id}")),
            Some(&token),
            None,
        ),
    )
    .await;
    assert_eq!(listed.status(), StatusCode::OK);
    let listed = json(&listed);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["PartNumber"], 1);
    assert_eq!(listed[1]["ETag"], parts[1]["ETag"]);
    assert_eq!(listed[1]["Size"], 1234);
    // Part numbers Uppy never sends: 400 with a top-level message Uppy shows its user.
    let zero = part_url(
        &h.app,
        request(
            Method::GET,
            &uppy("public", &format!("multipart/{id}/0")),
            Some(&token),
            None,
        ),
    )
    .await;
    assert_eq!(zero.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(&zero)["message"], json(&zero)["error"]["message"]);

    let done = complete_upload(
        &h.app,
        request(
            Method::POST,
            &uppy("public", &format!("multipart/{id}/complete")),
            Some(&token),
            Some(serde_json::json!({"parts": parts})),
        ),
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK, "{}", body_text(&done));
    let done = json(&done);
    assert_eq!(done["status"], "ready");
    assert_eq!(done["location"], done["asset"]["origURL"]);
    assert_eq!(done["key"], done["asset"]["key"]);
    assert!(
        done.get("error").is_none(),
        "a 2xx with `error` is a failure to Uppy"
    );
    assert_eq!(done["asset"]["name"], "Quarterly report.pdf");
    assert_eq!(done["asset"]["type"], "DOCUMENT");
    assert_eq!(done["asset"]["size"], file.len());
    assert_eq!(done["asset"]["secured"], false);
    // Completing again answers the same asset; listing a finished upload is a conflict.
    let again = complete_upload(
        &h.app,
        request(
            Method::POST,
            &uppy("public", &format!("multipart/{id}/complete")),
            Some(&token),
            Some(serde_json::json!({"parts": parts})),
        ),
    )
    .await;
    assert_eq!(json(&again)["key"], done["key"]);
    let listed = upload_status(
        &h.app,
        request(
            Method::GET,
            &uppy("public", &format!("multipart/{id}")),
            Some(&token),
            None,
        ),
    )
    .await;
    assert_eq!(listed.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn uppy_single_requests_are_capped_forms_finalized_by_the_event() {
    let h = Harness::new().await;
    let token = h
        .token(serde_json::json!({"visibility": "public", "maxBytes": 2000}))
        .await;
    let params_request = |filename: &str| {
        request(Method::GET, &uppy("public", "params"), Some(&token), None)
            .with_query_string_parameters(HashMap::from([
                ("filename".to_string(), filename.to_string()),
                ("type".to_string(), "image/jpeg".to_string()),
                ("metadata[assetType]".to_string(), "IMAGE".to_string()),
            ]))
    };
    let params = start_upload(&h.app, params_request("cat.jpg")).await;
    assert_eq!(params.status(), StatusCode::OK, "{}", body_text(&params));
    let params = json(&params);
    assert_eq!(params["method"], "POST");
    assert!(params["fields"].is_object() && params["headers"].is_object());
    let staged = params["fields"]["key"].as_str().unwrap().to_owned();
    // The form is capped at the token's limit (the S3 adapter puts it in the POST policy's
    // content-length-range: storage/s3_presign tests).
    assert_eq!(params["fields"]["x-max-bytes"], "2000");
    let id = staged.rsplit('/').next().unwrap().to_owned();

    // HTML announced as a JPEG: the event refuses it as a small upload would, nothing left.
    h.blobs
        .client_put(&staged, &b"<html><script>alert(1)</script></html>"[..]);
    finalize_staged_object(&h.app, event_for(&staged))
        .await
        .unwrap();
    let status = h.status_of("public", &id, &token).await;
    assert_eq!(status["status"], "refused");
    assert_eq!(status["refusal"]["status"], 415);
    assert!(h.blobs.get(&staged).await.unwrap().is_none());

    // Over the token's cap (the form's policy stops this on S3; moto lets it through): 413.
    let params = json(&start_upload(&h.app, params_request("big.pdf")).await);
    let staged = params["fields"]["key"].as_str().unwrap().to_owned();
    h.blobs.client_put(&staged, document(2001));
    finalize_staged_object(&h.app, event_for(&staged))
        .await
        .unwrap();
    let status = h
        .status_of("public", staged.rsplit('/').next().unwrap(), &token)
        .await;
    assert_eq!(status["refusal"]["status"], 413);
    assert_eq!(status["refusal"]["code"], "payload_too_large");

    // A PDF within the cap but sent where the page announced an image (metadata[assetType]).
    let params = json(&start_upload(&h.app, params_request("memo.pdf")).await);
    let staged = params["fields"]["key"].as_str().unwrap().to_owned();
    let memo = document(1500);
    h.blobs.client_put(&staged, memo.clone());
    finalize_staged_object(&h.app, event_for(&staged))
        .await
        .unwrap();
    let status = h
        .status_of("public", staged.rsplit('/').next().unwrap(), &token)
        .await;
    assert_eq!(status["status"], "refused");
    assert_eq!(status["refusal"]["code"], "asset_type_mismatch");
}

#[tokio::test]
async fn uppy_abort_answers_json_and_the_upload_is_gone() {
    let h = Harness::new().await;
    let created = start_upload(
        &h.app,
        request(
            Method::POST,
            &uppy("private", "multipart"),
            Some(&h.acme_key),
            Some(
                serde_json::json!({"filename": "a.pdf", "type": "application/pdf", "metadata": {}}),
            ),
        ),
    )
    .await;
    let id = json(&created)["uploadId"].as_str().unwrap().to_owned();
    // Another company cannot abort it (404, the same as unknown).
    let foreign = abort_upload(
        &h.app,
        request(
            Method::DELETE,
            &uppy("private", &format!("multipart/{id}")),
            Some(&h.globex_key),
            None,
        ),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&foreign)["message"], "asset not found");
    let aborted = abort_upload(
        &h.app,
        request(
            Method::DELETE,
            &uppy("private", &format!("multipart/{id}")),
            Some(&h.acme_key),
            None,
        ),
    )
    .await;
    assert_eq!(aborted.status(), StatusCode::OK);
    assert_eq!(json(&aborted)["status"], "aborted");
    assert_eq!(h.blobs.open_multipart_uploads(), 0);
    let gone = upload_status(
        &h.app,
        request(
            Method::GET,
            &uppy("private", &format!("multipart/{id}")),
            Some(&h.acme_key),
            None,
        ),
    )
    .await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // Unknown Uppy paths are 404s.
    for path in ["other", "multipart/x/y/z"] {
        let unknown = start_upload(
            &h.app,
            request(
                Method::POST,
                &uppy("private", path),
                Some(&h.acme_key),
                None,
            ),
        )
        .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

impl Harness {
    async fn status_of(&self, visibility: &str, id: &str, key: &str) -> Value {
        let response = upload_status(
            &self.app,
            request(
                Method::GET,
                &format!("{API}/uploads/{visibility}/{id}"),
                Some(key),
                None,
            ),
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            body_text(&response)
        );
        json(&response)
    }
}
