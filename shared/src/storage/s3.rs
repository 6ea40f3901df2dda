//! S3 adapter for [`BlobStore`].

use std::ops::RangeInclusive;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{BlobStore, PresignedGet, StorageError};

/// The IAM action each [`BlobStore`] method needs on the bucket's objects. `template.yaml` grants a
/// function exactly the actions of the methods it calls; a test holds the two together, so keep
/// this table in step with the SDK calls below.
pub const IAM_ACTIONS: &[(&str, &str)] = &[
    ("put", "s3:PutObject"),
    ("get", "s3:GetObject"),
    ("get_range", "s3:GetObject"),
    ("delete", "s3:DeleteObject"),
    // A presigned URL carries the signer's permissions: GetObject, nothing more.
    ("presign_get", "s3:GetObject"),
];

pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
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
