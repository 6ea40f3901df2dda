//! Signed requests that let a client send an upload's bytes straight to S3, so they never pass
//! through a Lambda (issue 10): one presigned `PUT` whose size and checksum are signed, presigned
//! `UploadPart` URLs for a multipart upload, and a browser `POST` form whose policy bounds the size.
//!
//! What is signed is what S3 enforces, and moto checks none of it: the unit tests below pin the
//! signed headers and the policy's conditions, the moto tests (`shared/tests/s3_presign.rs`) that
//! the requests store the bytes under the right key.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::{PresignedRequest as SdkPresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::StorageError;
use super::s3::unavailable;

/// `success_action_status` of the POST form: S3 then answers `201 Created` with an XML body naming
/// `Location`, `Bucket`, `Key` and `ETag` (AWS, "POST Object"), instead of an empty `204`. Uppy's
/// `@uppy/aws-s3` reads `<Location>` from that body (its docs, "POST uploads").
pub const POST_SUCCESS_STATUS: &str = "201";

/// The bucket's CORS rule that lets a web page send these requests to S3 from another origin
/// (the template's `AssetsBucket` `CorsConfiguration`; `asset-admin setup` puts the same rule on a
/// local bucket; `shared/tests/template.rs` keeps the two equal). Origins are the deployment's.
pub struct BrowserUploadCors {
    /// `PUT` (a presigned `PUT`, each part of a multipart upload) and `POST` (the form).
    pub allowed_methods: &'static [&'static str],
    /// Request headers a page may send: the `Content-Type` and the SHA-256 a presigned `PUT`
    /// signs ([`PresignedRequest::headers`]).
    pub allowed_headers: &'static [&'static str],
    /// Response headers a page may read. `ETag`: a multipart client names every part by it at
    /// completion, and `@uppy/aws-s3` 5.x waits forever on an upload whose `ETag` it cannot read
    /// (`uploadPartBytes` in its `src/index.ts` returns without resolving); `Location`: the same
    /// function reads it after a form `POST` and logs an error without it.
    pub exposed_headers: &'static [&'static str],
    /// How long a browser may cache the preflight answer, seconds.
    pub max_age_seconds: i32,
}

/// See [`BrowserUploadCors`].
pub const BROWSER_UPLOAD_CORS: BrowserUploadCors = BrowserUploadCors {
    allowed_methods: &["PUT", "POST"],
    allowed_headers: &["content-type", "x-amz-checksum-sha256"],
    exposed_headers: &["ETag", "Location"],
    max_age_seconds: 600,
};

/// One request the client sends itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedRequest {
    /// Absolute URL, signature in its query (`X-Amz-Signature`, `X-Amz-SignedHeaders`, ...).
    pub url: String,
    /// `"PUT"` for both kinds made here.
    pub method: String,
    /// Headers the client must send, with exactly these values: each is in the signature
    /// (`X-Amz-SignedHeaders`), so S3 refuses the request if one is missing or different. Names are
    /// lowercase. `host` is not listed (the client's HTTP stack sends it from the URL), and
    /// `content-length` is set by every HTTP client from the body: it means "send exactly this
    /// many bytes" (browsers may not set it by hand, and need not).
    pub headers: Vec<(String, String)>,
    /// When S3 starts refusing the URL: signing time + `expires_in`, whole seconds. It can die
    /// sooner if the signer's credentials expire first (a Lambda's session credentials last hours).
    pub expires_at: SystemTime,
}

/// A browser-based upload: an HTML form (`multipart/form-data`) POSTed to `url` with every
/// `fields` entry as a form field and the file as the last field, named `file` (AWS, "Creating an
/// HTML Form (Using AWS Signature Version 4)"; S3 ignores fields after the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedPost {
    /// The bucket's URL: `https://{bucket}.s3.{region}.amazonaws.com/` on AWS, `{endpoint}/{bucket}`
    /// on a path-style endpoint (local stand-ins). Taken from the SDK's own endpoint resolution.
    pub url: String,
    /// Form fields, in no required order: `key`, `policy`, `x-amz-algorithm`, `x-amz-credential`,
    /// `x-amz-date`, `x-amz-signature`, `success_action_status`, and `Content-Type` /
    /// `x-amz-security-token` when there is one.
    pub fields: BTreeMap<String, String>,
    /// The policy's `expiration`: S3 refuses the form from then on (same credential caveat as
    /// [`PresignedRequest::expires_at`]).
    pub expires_at: SystemTime,
}

/// Signs upload requests for one bucket with the client's region, endpoint and clock.
#[derive(Clone, Debug)]
pub struct S3Presigner {
    client: Client,
    credentials: SharedCredentialsProvider,
    bucket: String,
}

impl S3Presigner {
    /// `credentials` must be the provider `client` was built with: the SDK config's
    /// (`SdkConfig::credentials_provider()`, the one `aws_config::load` resolved). The client signs
    /// the presigned requests itself; the POST policy needs the secret key, and an S3 `Config`
    /// no longer hands out its provider (`Config::credentials_provider` always answers `None`
    /// since release-2023-11-15, per its deprecation note).
    pub fn new(
        client: Client,
        credentials: SharedCredentialsProvider,
        bucket: impl Into<String>,
    ) -> Self {
        Self {
            client,
            credentials,
            bucket: bucket.into(),
        }
    }

    /// A presigned `PutObject` of exactly `content_length` bytes.
    ///
    /// Signed (S3 refuses the upload otherwise): `content-length` (another size is a
    /// `SignatureDoesNotMatch`), `x-amz-checksum-sha256` when `sha256` is given (S3 computes the
    /// body's SHA-256 and refuses a mismatch with `BadDigest`; AWS, "Checking object integrity"),
    /// and `content-type` when given. The header is the checksum's only effective place: S3 ignores
    /// one hoisted into the query (aws-sdk issue 480); this SDK keeps it a header.
    ///
    /// `expires_in`: at most 7 days (SigV4 query authentication's limit, `X-Amz-Expires`).
    /// Errors: `Unavailable` when `expires_in` is over the limit or the credentials cannot be had.
    /// Nothing is sent to S3. IAM: a presigned request carries its signer's permissions, so the
    /// signing function needs `s3:PutObject` on the key.
    pub async fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        sha256: Option<[u8; 32]>,
        content_type: Option<&str>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let content_length = i64::try_from(content_length)
            .map_err(|_| StorageError::Unavailable("content length over i64".into()))?;
        let (config, expires_at) = self.presigning_config(expires_in)?;
        // The SDK omits only its *default* content-length (0, from the empty body) when presigning;
        // an explicit one is serialised as a header, and its SigV4 signer signs every header except
        // authorization, user-agent, x-amzn-trace-id and transfer-encoding (aws-sigv4
        // `SigningSettings::default`; smithy-rs PR 1216 fixed aws-sdk-rust issue 466 this way).
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(content_length)
            .set_checksum_sha256(sha256.map(|digest| BASE64.encode(digest)))
            .set_content_type(content_type.map(str::to_owned))
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(PresignedRequest::from_sdk(&presigned, expires_at))
    }

    /// A presigned `UploadPart` of part `part_number` (1 to 10,000; AWS, "UploadPart") of the
    /// multipart upload `upload_id` of `key`.
    ///
    /// Only `host` is signed: the size of a part is not known when the Uppy protocol asks for its
    /// URL, so S3's own part rules apply (each part but the last at least 5 MiB, at most 5 GiB;
    /// AWS, "Amazon S3 multipart upload limits"); the whole object is checked at finalize. S3
    /// answers the part's `ETag` header, which `CompleteMultipartUpload` needs.
    ///
    /// `expires_in`, errors and IAM as for [`Self::presign_put`] (`UploadPart` is authorised by
    /// `s3:PutObject`; AWS, "Multipart upload API and permissions").
    pub async fn presign_upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let (config, expires_at) = self.presigning_config(expires_in)?;
        let presigned = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(PresignedRequest::from_sdk(&presigned, expires_at))
    }

    /// A browser-based POST upload of one object of at most `max_bytes` bytes, stored under
    /// exactly `key`.
    ///
    /// The policy (AWS, "Creating a POST Policy") has `expiration` = now + `expires_in` and the
    /// conditions `{"bucket"}`, `{"key"}` (exact), `["content-length-range", 0, max_bytes]` (S3
    /// refuses a larger file with `EntityTooLarge`), `{"success_action_status": "201"}`,
    /// `{"Content-Type"}` when given (exact), and the signing fields `x-amz-algorithm`,
    /// `x-amz-credential`, `x-amz-date` and `x-amz-security-token` (session credentials, as a
    /// Lambda's always are). Every field S3 receives must match a condition, so the form cannot add
    /// metadata, an ACL or another key. The policy's base64 is signed with the SigV4 signing key of
    /// the client's credentials, region and the `s3` service (AWS, "Authenticating Requests:
    /// Browser-Based Uploads Using POST (AWS Signature Version 4)"). The Rust SDK has no presigned
    /// POST, so the policy is built here and signed with `aws-sigv4`'s own key derivation.
    ///
    /// `expires_in`: at most 7 days, like the other two. Errors: `Unavailable` when the client has
    /// no region, the credentials cannot be had, or `expires_in` is over the limit. Nothing is sent
    /// to S3. IAM: `s3:PutObject` for the signer, as for [`Self::presign_put`].
    pub async fn presigned_post(
        &self,
        key: &str,
        max_bytes: u64,
        content_type: Option<&str>,
        expires_in: Duration,
    ) -> Result<PresignedPost, StorageError> {
        // Same limit and clock as the presigned requests; the config is also what finds the URL.
        let (config, _) = self.presigning_config(expires_in)?;
        let now = config.start_time();
        let region = self
            .client
            .config()
            .region()
            .ok_or_else(|| StorageError::Unavailable("S3 client has no region".into()))?
            .to_string();
        // Asked on every call, without the client's identity cache: on Lambda the provider reads
        // the environment (AWS_ACCESS_KEY_ID, ..., AWS_SESSION_TOKEN), which costs nothing.
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            StorageError::Unavailable(format!("credentials: {}", DisplayErrorContext(&e)))
        })?;
        // The bucket's URL as the SDK resolves it (virtual-hosted on AWS, path-style on a local
        // endpoint, FIPS/dual-stack if configured): a presigned PutObject of the same key, minus
        // the key. Presigning sends nothing.
        let located = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        let url = bucket_url(located.uri(), key)?;
        let policy = PostPolicy {
            bucket: &self.bucket,
            key,
            max_bytes,
            content_type,
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            region: &region,
            now,
            expires_in,
        };
        let (fields, expires_at) = policy.fields()?;
        Ok(PresignedPost {
            url,
            fields,
            expires_at,
        })
    }

    /// The SDK's presigning config, started at the client's clock (whole seconds, as SigV4 signs
    /// them), and the resulting expiry.
    fn presigning_config(
        &self,
        expires_in: Duration,
    ) -> Result<(PresigningConfig, SystemTime), StorageError> {
        let now = self
            .client
            .config()
            .time_source()
            .map_or_else(SystemTime::now, |clock| clock.now());
        let now = whole_seconds(now);
        let expires_in = Duration::from_secs(expires_in.as_secs());
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(expires_in)
            .build()
            .map_err(|e| StorageError::Unavailable(format!("presigning config: {e}")))?;
        Ok((config, now + expires_in))
    }
}

impl PresignedRequest {
    /// Only the signed headers (`X-Amz-SignedHeaders` of the URL) are handed to the client. In a
    /// Lambda the SDK also adds an unsigned `x-amzn-trace-id` (its recursion detection, from
    /// `_X_AMZN_TRACE_ID`): a browser told to send it must ask the bucket's CORS rule for it in the
    /// preflight, which refuses it, so Uppy's part uploads failed (shared/tests/e2e_browser_uppy.rs).
    fn from_sdk(presigned: &SdkPresignedRequest, expires_at: SystemTime) -> Self {
        let url = presigned.uri().to_owned();
        let signed: Vec<String> = url
            .split_once('?')
            .map(|(_, query)| query)
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="))
            .flat_map(|list| {
                percent_encoding::percent_decode_str(list)
                    .decode_utf8_lossy()
                    .split(';')
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        Self {
            method: presigned.method().to_owned(),
            headers: presigned
                .headers()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .filter(|(name, _)| signed.contains(name))
                .collect(),
            url,
            expires_at,
        }
    }
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `https://host[/bucket]` of a presigned object URL: the URL without its query and without the
/// trailing path segments that spell `key` (the SDK percent-encodes each segment and keeps `/`).
/// Errors if those segments do not decode to `key` (an endpoint shape this code does not know).
fn bucket_url(object_url: &str, key: &str) -> Result<String, StorageError> {
    let shape_error =
        || StorageError::Unavailable(format!("unexpected presigned URL shape for key {key:?}"));
    let uri: http::Uri = object_url.parse().map_err(|_| shape_error())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(shape_error());
    };
    let path = uri.path();
    let key_segments = key.split('/').count();
    let mut cut = path.len();
    for _ in 0..key_segments {
        cut = path[..cut].rfind('/').ok_or_else(shape_error)?;
    }
    let spelled_key = percent_encoding::percent_decode_str(&path[cut + 1..])
        .decode_utf8()
        .map_err(|_| shape_error())?;
    if spelled_key != key {
        return Err(shape_error());
    }
    let prefix = &path[..cut];
    Ok(format!(
        "{scheme}://{authority}{}",
        if prefix.is_empty() { "/" } else { prefix }
    ))
}

/// Everything a POST policy is made of; `fields` builds and signs it.
struct PostPolicy<'a> {
    bucket: &'a str,
    key: &'a str,
    max_bytes: u64,
    content_type: Option<&'a str>,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: Option<&'a str>,
    region: &'a str,
    /// Whole seconds.
    now: SystemTime,
    expires_in: Duration,
}

impl PostPolicy<'_> {
    /// The form fields (policy and signature included) and the policy's expiry.
    fn fields(&self) -> Result<(BTreeMap<String, String>, SystemTime), StorageError> {
        let expires_at = self.now + self.expires_in;
        // ISO 8601, UTC: `2026-11-30T01:00:00Z` for the policy, its basic form `20261130T010000Z`
        // for x-amz-date (AWS, "Creating a POST Policy"; "Authenticating Requests ... POST").
        let iso = |time: SystemTime| {
            DateTime::from(time)
                .fmt(DateTimeFormat::DateTime)
                .map_err(|e| StorageError::Unavailable(format!("formatting a date: {e}")))
        };
        let expiration = iso(expires_at)?;
        let amz_date = iso(self.now)?.replace(['-', ':'], "");
        let credential = format!(
            "{}/{}/{}/s3/aws4_request",
            self.access_key_id,
            &amz_date[..8],
            self.region
        );

        let mut fields = BTreeMap::new();
        let mut conditions = vec![
            json!({ "bucket": self.bucket }),
            json!(["content-length-range", 0, self.max_bytes]),
        ];
        let mut field = |name: &str, value: &str| {
            conditions.push(json!({ name: value }));
            fields.insert(name.to_owned(), value.to_owned());
        };
        field("key", self.key);
        field("success_action_status", POST_SUCCESS_STATUS);
        if let Some(content_type) = self.content_type {
            field("Content-Type", content_type);
        }
        field("x-amz-algorithm", "AWS4-HMAC-SHA256");
        field("x-amz-credential", &credential);
        field("x-amz-date", &amz_date);
        if let Some(token) = self.session_token {
            field("x-amz-security-token", token);
        }
        let policy = json!({ "expiration": expiration, "conditions": conditions });
        let policy = BASE64.encode(policy.to_string());
        let signature = sign_post_policy(&policy, self.secret_access_key, self.now, self.region);
        fields.insert("policy".into(), policy);
        fields.insert("x-amz-signature".into(), signature);
        Ok((fields, expires_at))
    }
}

/// The hex SigV4 signature of a POST policy: HMAC-SHA256 of the policy's base64 text (the string
/// to sign) under the signing key of `secret`, the UTC date of `time`, `region` and `s3` (AWS,
/// "Authenticating Requests: Browser-Based Uploads Using POST (AWS Signature Version 4)",
/// "Calculating a Signature").
fn sign_post_policy(policy_base64: &str, secret: &str, time: SystemTime, region: &str) -> String {
    let signing_key = aws_sigv4::sign::v4::generate_signing_key(secret, time, region, "s3");
    aws_sigv4::sign::v4::calculate_signature(signing_key, policy_base64.as_bytes())
}

#[cfg(test)]
mod tests;
