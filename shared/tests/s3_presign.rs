//! Direct uploads (issue 10) through the real SDK against the local stand-in: the bytes go from an
//! HTTP client straight to the presigned request, never through the SDK, and are read back.
//! moto checks neither signatures nor policies, so what S3 enforces is pinned by the unit tests in
//! `storage/s3_presign/tests.rs`; this proves the requests are well-formed and land on the key.

mod support;

use std::time::Duration;

use asset_service::app::AwsStorage;
use asset_service::config::Config;
use asset_service::storage::s3_presign::{PresignedRequest, S3Presigner};
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_sdk_s3::config::SharedCredentialsProvider;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use sha2::{Digest, Sha256};

const LIFE: Duration = Duration::from_secs(600);

async fn presigner(test: &str) -> Option<(Config, AwsStorage, S3Presigner)> {
    let config = support::local_config(test)?;
    let storage = AwsStorage::connect(&config).await;
    storage
        .blobs
        .ensure_bucket(storage.region.as_deref())
        .await
        .expect("bucket");
    // Where the storage clients' default chain finds them here (scripts/lib.sh sets them), as on
    // Lambda: the environment.
    let credentials = SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new());
    let presigner = S3Presigner::new(storage.s3.clone(), credentials, &config.bucket_name);
    Some((config, storage, presigner))
}

/// Bytes that differ at every offset, so a misplaced or repeated chunk cannot compare equal.
fn generated(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// Sends a presigned request as a client would: its method, URL and listed headers, and the body.
async fn send(request: &PresignedRequest, body: Vec<u8>) -> reqwest::Response {
    let http = reqwest::Client::new();
    let mut builder = http.request(request.method.parse().unwrap(), &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(body)
        .send()
        .await
        .expect("request reaches the stand-in")
}

async fn object(storage: &AwsStorage, bucket: &str, key: &str) -> (Vec<u8>, Option<String>) {
    let output = storage
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("object stored");
    let content_type = output.content_type().map(str::to_owned);
    let bytes = output.body.collect().await.unwrap().into_bytes().to_vec();
    (bytes, content_type)
}

async fn keys(storage: &AwsStorage, bucket: &str) -> Vec<String> {
    storage
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn presigned_put_with_its_headers_stores_the_bytes() {
    let Some((config, storage, presigner)) = presigner("presign_put").await else {
        return;
    };
    let bytes = generated(300_001, 1);
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let key = "staging/acme/put 1 é";
    let put = presigner
        .presign_put(
            key,
            bytes.len() as u64,
            Some(digest),
            Some("application/pdf"),
            LIFE,
        )
        .await
        .unwrap();

    let response = send(&put, bytes.clone()).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let (stored, content_type) = object(&storage, &config.bucket_name, key).await;
    assert!(stored == bytes, "stored bytes differ");
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    assert_eq!(keys(&storage, &config.bucket_name).await, [key]);
}

#[tokio::test]
async fn multipart_upload_through_presigned_part_urls_reads_back_equal() {
    let Some((config, storage, presigner)) = presigner("presign_parts").await else {
        return;
    };
    let bucket = &config.bucket_name;
    let key = "staging/acme/multipart";
    // S3's minimum for every part but the last (AWS, "Amazon S3 multipart upload limits").
    let parts = [generated(5 * 1024 * 1024 + 7, 2), generated(123_457, 3)];
    let upload_id = storage
        .s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("video/mp4")
        .send()
        .await
        .unwrap()
        .upload_id
        .expect("upload id");

    let mut completed = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let number = index as i32 + 1;
        let request = presigner
            .presign_upload_part(key, &upload_id, number, LIFE)
            .await
            .unwrap();
        let response = send(&request, part.clone()).await;
        assert_eq!(response.status(), 200, "part {number}");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(etag)
                .build(),
        );
    }
    storage
        .s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let (stored, content_type) = object(&storage, bucket, key).await;
    assert!(stored == parts.concat(), "stored bytes differ");
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
}

#[tokio::test]
async fn presigned_post_form_stores_the_file_under_exactly_the_key() {
    let Some((config, storage, presigner)) = presigner("presign_post").await else {
        return;
    };
    let bytes = generated(70_001, 4);
    let key = "staging/acme/post";
    let post = presigner
        .presigned_post(key, 1 << 20, Some("image/png"), LIFE)
        .await
        .unwrap();

    // A browser form: the fields, then the file last (S3 ignores fields after it). The file's own
    // name and type must not matter: the key and type come from the signed fields.
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &post.fields {
        form = form.text(name.clone(), value.clone());
    }
    let file = reqwest::multipart::Part::bytes(bytes.clone())
        .file_name("holiday.jpg")
        .mime_str("application/octet-stream")
        .unwrap();
    let response = reqwest::Client::new()
        .post(&post.url)
        .multipart(form.part("file", file))
        .send()
        .await
        .unwrap();
    // success_action_status is honoured; S3's XML body with it is not (moto answers it empty).
    assert_eq!(response.status(), 201);

    let (stored, content_type) = object(&storage, &config.bucket_name, key).await;
    assert!(stored == bytes, "stored bytes differ");
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(keys(&storage, &config.bucket_name).await, [key]);
}
