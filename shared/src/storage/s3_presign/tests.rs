//! What S3 alone enforces (moto checks no signature, policy or checksum): the signed headers of the
//! presigned URLs and the conditions of the POST policy, read back out of what the code produced.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::*;

const BUCKET: &str = "assets-bucket";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjE/session+token=";

fn credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        "ASIAEXAMPLEKEY",
        "example/secret+key",
        Some(SESSION_TOKEN.into()),
        None,
        "test",
    ))
}

/// A presigner whose client never sends anything: presigning only needs credentials, region and
/// endpoint.
fn presigner_at(path_style_endpoint: Option<&str>) -> S3Presigner {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(credentials());
    if let Some(endpoint) = path_style_endpoint {
        config = config.endpoint_url(endpoint).force_path_style(true);
    }
    S3Presigner::new(Client::from_conf(config.build()), credentials(), BUCKET)
}

fn presigner() -> S3Presigner {
    presigner_at(None)
}

/// The URL's query parameters, percent-decoded.
fn query(url: &str) -> BTreeMap<String, String> {
    let (_, query) = url.split_once('?').expect("presigned URL has a query");
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn header<'a>(request: &'a PresignedRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn presigned_put_signs_its_size_checksum_and_type() {
    let digest = [0xab; 32];
    let put = presigner()
        .presign_put(
            "staging/acme/u1",
            5_300_123,
            Some(digest),
            Some("image/jpeg"),
            Duration::from_secs(900),
        )
        .await
        .unwrap();
    let query = query(&put.url);

    assert_eq!(put.method, "PUT");
    assert!(
        put.url
            .starts_with("https://assets-bucket.s3.eu-west-1.amazonaws.com/staging/acme/u1?"),
        "{}",
        put.url
    );
    // What S3 recomputes the signature over: a different size, body checksum or type is refused.
    assert_eq!(
        query["X-Amz-SignedHeaders"],
        "content-length;content-type;host;x-amz-checksum-sha256"
    );
    assert_eq!(header(&put, "content-length"), Some("5300123"));
    assert_eq!(
        header(&put, "x-amz-checksum-sha256"),
        Some(BASE64.encode(digest).as_str())
    );
    assert_eq!(header(&put, "content-type"), Some("image/jpeg"));
    assert_eq!(put.headers.len(), 3, "{:?}", put.headers);
    // The checksum is a header, never a query parameter (S3 ignores it there: aws-sdk issue 480),
    // and no SDK-only checksum header is asked of the client.
    assert!(
        query
            .keys()
            .all(|k| !k.to_ascii_lowercase().contains("checksum")),
        "{query:?}"
    );
    assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
    assert_eq!(query["X-Amz-Expires"], "900");
    assert_eq!(query["X-Amz-Security-Token"], SESSION_TOKEN);
    assert!(query["X-Amz-Credential"].starts_with("ASIAEXAMPLEKEY/"));
    assert!(query["X-Amz-Credential"].ends_with("/eu-west-1/s3/aws4_request"));
    let signed_at = query_time(&query["X-Amz-Date"]);
    assert_eq!(put.expires_at, signed_at + Duration::from_secs(900));
}

#[tokio::test]
async fn presigned_put_without_checksum_or_type_still_signs_its_size() {
    let put = presigner()
        .presign_put("staging/acme/u2", 0, None, None, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        query(&put.url)["X-Amz-SignedHeaders"],
        "content-length;host"
    );
    assert_eq!(put.headers, vec![("content-length".into(), "0".into())]);
}

#[tokio::test]
async fn presigned_upload_part_signs_only_the_host() {
    let part = presigner()
        .presign_upload_part(
            "staging/acme/u3",
            "upload~id/with+chars",
            2,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    let query = query(&part.url);
    assert_eq!(part.method, "PUT");
    assert!(
        part.url
            .starts_with("https://assets-bucket.s3.eu-west-1.amazonaws.com/staging/acme/u3?")
    );
    assert_eq!(query["X-Amz-SignedHeaders"], "host");
    assert_eq!(query["partNumber"], "2");
    assert_eq!(query["uploadId"], "upload~id/with+chars");
    assert_eq!(query["X-Amz-Expires"], "3600");
    assert!(part.headers.is_empty(), "{:?}", part.headers);
}

#[tokio::test]
async fn expiry_over_seven_days_is_refused() {
    let week_and_a_second = Duration::from_secs(7 * 24 * 3600 + 1);
    let presigner = presigner();
    assert!(matches!(
        presigner
            .presign_put("k", 1, None, None, week_and_a_second)
            .await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        presigner
            .presign_upload_part("k", "u", 1, week_and_a_second)
            .await,
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        presigner
            .presigned_post("k", 1, None, week_and_a_second)
            .await,
        Err(StorageError::Unavailable(_))
    ));
    // Exactly seven days is SigV4's limit, and allowed.
    presigner
        .presign_put("k", 1, None, None, Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
}

/// `X-Amz-Date` (`20261130T004500Z`) as a time.
fn query_time(amz_date: &str) -> SystemTime {
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &amz_date[0..4],
        &amz_date[4..6],
        &amz_date[6..8],
        &amz_date[9..11],
        &amz_date[11..13],
        &amz_date[13..15]
    );
    DateTime::from_str(&iso, DateTimeFormat::DateTime)
        .unwrap()
        .try_into()
        .unwrap()
}

/// AWS's worked example ("Example: Browser-Based Upload using HTTP POST (Using AWS Signature
/// Version 4)", S3 API Reference): its example credentials, date and base64 policy, and the
/// signature the page gives for them.
#[test]
fn post_signature_matches_the_aws_worked_example() {
    const POLICY: &str = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
    // 2015-12-29T00:00:00Z, the example's x-amz-date.
    let date = UNIX_EPOCH + Duration::from_secs(1_451_347_200);
    let policy = String::from_utf8(BASE64.decode(POLICY).unwrap()).unwrap();
    assert!(policy.contains(r#"{"x-amz-date": "20151229T000000Z" }"#));

    assert_eq!(
        sign_post_policy(
            POLICY,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            date,
            "us-east-1"
        ),
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    );
    // The signing key's date is the day of the signing time, not the instant.
    assert_eq!(
        sign_post_policy(
            POLICY,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            date + Duration::from_secs(86_399),
            "us-east-1"
        ),
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    );
}

fn example_policy<'a>(
    content_type: Option<&'a str>,
    session_token: Option<&'a str>,
) -> PostPolicy<'a> {
    PostPolicy {
        bucket: "sigv4examplebucket",
        key: "staging/acme/u4",
        max_bytes: 5_368_709_120,
        content_type,
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token,
        region: "us-east-1",
        now: UNIX_EPOCH + Duration::from_secs(1_451_347_200),
        expires_in: Duration::from_secs(36 * 3600),
    }
}

#[test]
fn post_policy_pins_bucket_key_size_and_every_field() {
    let (fields, expires_at) = example_policy(Some("image/png"), Some(SESSION_TOKEN))
        .fields()
        .unwrap();
    let policy: Value = serde_json::from_slice(&BASE64.decode(&fields["policy"]).unwrap()).unwrap();

    assert_eq!(policy["expiration"], "2015-12-30T12:00:00Z");
    assert_eq!(
        expires_at,
        UNIX_EPOCH + Duration::from_secs(1_451_347_200 + 36 * 3600)
    );
    let credential = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request";
    assert_eq!(
        policy["conditions"],
        json!([
            {"bucket": "sigv4examplebucket"},
            ["content-length-range", 0, 5_368_709_120_u64],
            {"key": "staging/acme/u4"},
            {"success_action_status": "201"},
            {"Content-Type": "image/png"},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": credential},
            {"x-amz-date": "20151229T000000Z"},
            {"x-amz-security-token": SESSION_TOKEN},
        ])
    );
    // S3 refuses a form field no condition covers, except these (AWS, "Creating a POST Policy").
    let unconditioned: Vec<&str> = fields
        .keys()
        .map(String::as_str)
        .filter(|name| {
            !policy["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c.get(*name).is_some())
        })
        .collect();
    assert_eq!(unconditioned, ["policy", "x-amz-signature"]);
    for (name, value) in &fields {
        if let Some(condition) = policy["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|c| c.get(name))
        {
            assert_eq!(condition, value, "{name}");
        }
    }
    assert_eq!(
        fields["x-amz-signature"],
        sign_post_policy(
            &fields["policy"],
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            UNIX_EPOCH + Duration::from_secs(1_451_347_200),
            "us-east-1"
        )
    );
}

#[test]
fn post_policy_without_type_or_session_token_has_neither() {
    let (fields, _) = example_policy(None, None).fields().unwrap();
    let policy: Value = serde_json::from_slice(&BASE64.decode(&fields["policy"]).unwrap()).unwrap();
    let names: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "key",
            "policy",
            "success_action_status",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-signature",
        ]
    );
    assert_eq!(policy["conditions"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn presigned_post_uses_the_sdks_bucket_url_and_credentials() {
    let post = presigner()
        .presigned_post(
            "staging/acme/u5",
            1024,
            Some("video/mp4"),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(
        post.url,
        "https://assets-bucket.s3.eu-west-1.amazonaws.com/"
    );
    assert_eq!(post.fields["key"], "staging/acme/u5");
    assert_eq!(post.fields["x-amz-security-token"], SESSION_TOKEN);
    let credential = &post.fields["x-amz-credential"];
    assert!(credential.starts_with("ASIAEXAMPLEKEY/"), "{credential}");
    assert!(credential.ends_with("/eu-west-1/s3/aws4_request"));
    let signed_at = query_time(&post.fields["x-amz-date"]);
    assert_eq!(post.expires_at, signed_at + Duration::from_secs(600));
    assert_eq!(
        post.fields["x-amz-signature"],
        sign_post_policy(
            &post.fields["policy"],
            "example/secret+key",
            signed_at,
            "eu-west-1"
        )
    );

    let local = presigner_at(Some("http://127.0.0.1:4621"))
        .presigned_post("staging/acme/u5", 1024, None, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(local.url, "http://127.0.0.1:4621/assets-bucket");
}

#[test]
fn bucket_url_removes_exactly_the_key() {
    let cases = [
        (
            "https://b.s3.eu-west-1.amazonaws.com/a/b/c?X-Amz-Date=1",
            "a/b/c",
            "https://b.s3.eu-west-1.amazonaws.com/",
        ),
        (
            "http://127.0.0.1:4621/b/a/b/c?X-Amz-Date=1",
            "a/b/c",
            "http://127.0.0.1:4621/b",
        ),
        (
            "https://b.s3.eu-west-1.amazonaws.com/caf%C3%A9%20%2B/x?q",
            "café +/x",
            "https://b.s3.eu-west-1.amazonaws.com/",
        ),
        (
            "http://localhost:4621/b/a//b?q",
            "a//b",
            "http://localhost:4621/b",
        ),
    ];
    for (object_url, key, expected) in cases {
        assert_eq!(
            bucket_url(object_url, key).unwrap(),
            expected,
            "{object_url}"
        );
    }
    for (object_url, key) in [
        ("https://b.s3.amazonaws.com/other?q", "key"),
        ("https://b.s3.amazonaws.com/a/b?q", "x/a/b"),
        ("/no/scheme", "scheme"),
    ] {
        assert!(
            matches!(
                bucket_url(object_url, key),
                Err(StorageError::Unavailable(_))
            ),
            "{object_url}"
        );
    }
}

#[tokio::test]
async fn real_sdk_keys_with_odd_characters_find_the_bucket_url() {
    let presigner = presigner_at(Some("http://127.0.0.1:4621"));
    for key in ["staging/a b/ü+%?#", "plain"] {
        let post = presigner
            .presigned_post(key, 1, None, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(post.url, "http://127.0.0.1:4621/assets-bucket", "{key}");
        assert_eq!(post.fields["key"], key);
    }
}
