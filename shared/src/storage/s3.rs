//! S3 adapter for [`BlobStore`].

use std::ops::RangeInclusive;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use std::time::Duration;

use aws_sdk_s3::config::SharedCredentialsProvider;

use super::s3_presign::S3Presigner;
use super::{
    BlobStore, MultipartCompletion, PresignedGet, PresignedPost, PresignedRequest, StagedObject,
    StagingArea, StorageError, UploadedPart,
};

/// The IAM action each [`BlobStore`] and [`StagingArea`] method needs on the objects it names. `template.yaml` grants a
/// function exactly the actions of the methods it calls; a test holds the two together, so keep
/// this table in step with the SDK calls below.
pub const IAM_ACTIONS: &[(&str, &str)] = &[
    ("put", "s3:PutObject"),
    ("get", "s3:GetObject"),
    ("get_range", "s3:GetObject"),
    ("delete", "s3:DeleteObject"),
    // A presigned URL carries the signer's permissions: GetObject, nothing more.
    ("presign_get", "s3:GetObject"),
    // The staging area of direct uploads (`StagingArea`). Multipart uploads and their parts are
    // authorised as s3:PutObject (S3 User Guide, "Multipart upload API and permissions").
    ("presign_put", "s3:PutObject"),
    ("presign_post", "s3:PutObject"),
    ("create_multipart", "s3:PutObject"),
    ("presign_part", "s3:PutObject"),
    ("list_parts", "s3:ListMultipartUploadParts"),
    ("complete_multipart", "s3:PutObject"),
    ("abort_multipart", "s3:AbortMultipartUpload"),
    ("head", "s3:GetObject"),
    ("read_prefix", "s3:GetObject"),
    ("sha256", "s3:GetObject"),
    // CopyObject reads the source and writes the destination (recorded as two calls).
    ("copy_from", "s3:GetObject"),
    ("copy_to", "s3:PutObject"),
];

/// One rule of the bucket's lifecycle configuration: objects under `prefix` (the whole bucket when
/// `None`) expire `expiration_days` after their creation; multipart uploads never completed are
/// aborted, their parts removed, `abort_incomplete_multipart_days` after they began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: &'static str,
    pub prefix: Option<&'static str>,
    pub expiration_days: Option<i32>,
    pub abort_incomplete_multipart_days: Option<i32>,
}

/// The bucket's lifecycle rules: what removes abandoned direct uploads (README, "Uploading large
/// files"). `template.yaml` sets them on AWS and `asset-admin setup` on a local bucket
/// ([`S3BlobStore::ensure_lifecycle_rules`]); a test holds the template to this list. Staged bytes
/// live as long as their upload's record (`PENDING_UPLOAD_TTL_SECONDS`' default, one day; S3
/// counts lifecycle ages in whole days).
pub const LIFECYCLE_RULES: [LifecycleRule; 2] = [
    LifecycleRule {
        id: "abort-incomplete-multipart-uploads",
        prefix: None,
        expiration_days: None,
        abort_incomplete_multipart_days: Some(1),
    },
    LifecycleRule {
        id: "expire-staged-uploads",
        prefix: Some(crate::domain::STAGING_PREFIX),
        expiration_days: Some((crate::config::DEFAULT_PENDING_UPLOAD_TTL_SECS / 86_400) as i32),
        abort_incomplete_multipart_days: None,
    },
];

pub struct S3BlobStore {
    client: Client,
    bucket: String,
    /// Signs the direct uploads' requests (`StagingArea`).
    presigner: S3Presigner,
}

impl S3BlobStore {
    /// `credentials`: the provider `client` was built with (see [`S3Presigner::new`]).
    pub fn new(client: Client, credentials: SharedCredentialsProvider, bucket: &str) -> Self {
        Self {
            presigner: S3Presigner::new(client.clone(), credentials, bucket),
            client,
            bucket: bucket.to_owned(),
        }
    }

    /// The signer of this bucket's upload requests, browser POST forms included.
    pub fn presigner(&self) -> &S3Presigner {
        &self.presigner
    }

    /// Creates the bucket if it does not exist yet (local stacks and tests; on AWS the SAM template
    /// owns the bucket).
    pub async fn ensure_bucket(&self, region: Option<&str>) -> Result<(), StorageError> {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

        let mut request = self.client.create_bucket().bucket(&self.bucket);
        if let Some(region) = region.filter(|r| *r != "us-east-1") {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Puts [`LIFECYCLE_RULES`] on the bucket, replacing its lifecycle configuration (local
    /// stacks; on AWS the SAM template owns it). moto stores the rules and answers them back but
    /// never runs them: nothing expires locally.
    pub async fn ensure_lifecycle_rules(&self) -> Result<(), StorageError> {
        use aws_sdk_s3::types::{
            AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
            LifecycleExpiration, LifecycleRule as SdkRule, LifecycleRuleFilter,
        };

        let rules = LIFECYCLE_RULES
            .iter()
            .map(|rule| {
                SdkRule::builder()
                    .id(rule.id)
                    .status(ExpirationStatus::Enabled)
                    // An empty prefix is the whole bucket (S3 API, LifecycleRuleFilter).
                    .filter(
                        LifecycleRuleFilter::builder()
                            .prefix(rule.prefix.unwrap_or(""))
                            .build(),
                    )
                    .set_expiration(
                        rule.expiration_days
                            .map(|days| LifecycleExpiration::builder().days(days).build()),
                    )
                    .set_abort_incomplete_multipart_upload(
                        rule.abort_incomplete_multipart_days.map(|days| {
                            AbortIncompleteMultipartUpload::builder()
                                .days_after_initiation(days)
                                .build()
                        }),
                    )
                    .build()
                    .map_err(|err| StorageError::Unavailable(err.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let configuration = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|err| StorageError::Unavailable(err.to_string()))?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(configuration)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

impl S3BlobStore {
    /// GetObject, whole or with an HTTP `Range`; `None` for a missing key.
    async fn get_object(
        &self,
        object_key: &str,
        range: Option<String>,
    ) -> Result<Option<Bytes>, StorageError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .set_range(range)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(unavailable(err)),
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Unavailable(format!("reading object body: {e}")))?;
        Ok(Some(body.into_bytes()))
    }
}

pub(crate) fn unavailable<E, R>(err: SdkError<E, R>) -> StorageError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StorageError::Unavailable(DisplayErrorContext(&err).to_string())
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        object_key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn get(&self, object_key: &str) -> Result<Option<Bytes>, StorageError> {
        self.get_object(object_key, None).await
    }

    async fn get_range(
        &self,
        object_key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<Bytes>, StorageError> {
        // S3 takes one RFC 9110 byte range (multiple ranges are not supported by GetObject).
        let range = format!("bytes={}-{}", range.start(), range.end());
        self.get_object(object_key, Some(range)).await
    }

    async fn delete(&self, object_key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn presign_get(
        &self,
        object_key: &str,
        request: &PresignedGet,
    ) -> Result<String, StorageError> {
        let config = PresigningConfig::expires_in(request.expires_in)
            .map_err(|e| StorageError::Unavailable(format!("presigning config: {e}")))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .response_content_type(&request.content_type)
            .response_content_disposition(&request.content_disposition)
            .response_cache_control(&request.cache_control)
            .presigned(config)
            .await
            .map_err(unavailable)?;
        Ok(presigned.uri().to_owned())
    }

    fn location(&self, object_key: &str) -> String {
        format!("s3://{}/{}", self.bucket, object_key)
    }
}

fn is_no_such_upload<E: aws_sdk_s3::error::ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("NoSuchUpload")
}

#[async_trait]
impl StagingArea for S3BlobStore {
    async fn presign_put(
        &self,
        object_key: &str,
        size: u64,
        sha256: Option<&str>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let digest = sha256
            .map(|hex| {
                crate::domain::hex_decode(hex)
                    .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
                    .ok_or_else(|| StorageError::Corrupt("checksum is not a hex SHA-256".into()))
            })
            .transpose()?;
        self.presigner
            .presign_put(object_key, size, digest, None, expires_in)
            .await
    }

    async fn presign_post(
        &self,
        object_key: &str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> Result<PresignedPost, StorageError> {
        self.presigner
            .presigned_post(object_key, max_bytes, None, expires_in)
            .await
    }

    async fn create_multipart(&self, object_key: &str) -> Result<String, StorageError> {
        let output = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
            .map_err(unavailable)?;
        output.upload_id.ok_or_else(|| {
            StorageError::Corrupt("CreateMultipartUpload answered no UploadId".into())
        })
    }

    async fn presign_part(
        &self,
        object_key: &str,
        s3_upload_id: &str,
        part_number: u32,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let part_number = i32::try_from(part_number)
            .map_err(|_| StorageError::Corrupt("part number over i32".into()))?;
        self.presigner
            .presign_upload_part(object_key, s3_upload_id, part_number, expires_in)
            .await
    }

    async fn list_parts(
        &self,
        object_key: &str,
        s3_upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StorageError> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let page = match self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(object_key)
                .upload_id(s3_upload_id)
                .set_part_number_marker(marker)
                .send()
                .await
            {
                Ok(page) => page,
                Err(err) if err.as_service_error().is_some_and(is_no_such_upload) => {
                    return Ok(None);
                }
                Err(err) => return Err(unavailable(err)),
            };
            for part in page.parts() {
                parts.push(UploadedPart {
                    number: part.part_number().unwrap_or_default().max(0) as u32,
                    size: part.size().unwrap_or_default().max(0) as u64,
                    etag: part.e_tag().unwrap_or_default().to_owned(),
                });
            }
            if page.is_truncated() != Some(true) {
                return Ok(Some(parts));
            }
            marker = page.next_part_number_marker;
        }
    }

    async fn complete_multipart(
        &self,
        object_key: &str,
        s3_upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<MultipartCompletion, StorageError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.number as i32)
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        match self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key)
            .upload_id(s3_upload_id)
            .multipart_upload(completed)
            .send()
            .await
        {
            Ok(_) => Ok(MultipartCompletion::Completed),
            Err(err) => match err.as_service_error().and_then(|e| {
                use aws_sdk_s3::error::ProvideErrorMetadata;
                e.code()
            }) {
                Some("NoSuchUpload") => Ok(MultipartCompletion::Unknown),
                Some(code @ ("EntityTooSmall" | "InvalidPart" | "InvalidPartOrder")) => {
                    Ok(MultipartCompletion::InvalidParts(code.to_owned()))
                }
                _ => Err(unavailable(err)),
            },
        }
    }

    async fn abort_multipart(
        &self,
        object_key: &str,
        s3_upload_id: &str,
    ) -> Result<(), StorageError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(object_key)
            .upload_id(s3_upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(is_no_such_upload) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn head(&self, object_key: &str) -> Result<Option<StagedObject>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(StagedObject {
                size: output.content_length().unwrap_or_default().max(0) as u64,
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn read_prefix(&self, object_key: &str, len: u64) -> Result<Bytes, StorageError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await
            .map_err(unavailable)?;
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Unavailable(format!("reading object body: {e}")))?;
        Ok(body.into_bytes())
    }

    async fn sha256(&self, object_key: &str) -> Result<String, StorageError> {
        use sha2::{Digest, Sha256};
        let mut output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
            .map_err(unavailable)?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = output
            .body
            .try_next()
            .await
            .map_err(|e| StorageError::Unavailable(format!("reading object body: {e}")))?
        {
            hasher.update(&chunk);
        }
        Ok(crate::domain::hex_encode(&hasher.finalize()))
    }

    async fn copy(&self, from: &str, to: &str, content_type: &str) -> Result<(), StorageError> {
        use aws_sdk_s3::types::MetadataDirective;
        // Keys are the service's own ([A-Za-z0-9_/-]), so the copy source needs no escaping.
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(format!("{}/{}", self.bucket, from))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(content_type)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
