//! CloudFront adapter for [`CdnInvalidator`]: one invalidation per deleted asset.

use async_trait::async_trait;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use super::s3::unavailable;
use super::{CdnInvalidator, StorageError};

/// The IAM actions [`CdnInvalidator::invalidate`] needs on the distribution.
pub const IAM_ACTIONS: &[(&str, &[&str])] = &[(
    "CdnInvalidator::invalidate",
    &["cloudfront:CreateInvalidation"],
)];

pub struct CloudFrontInvalidator {
    client: Client,
    distribution_id: String,
}

impl CloudFrontInvalidator {
    pub fn new(client: Client, distribution_id: impl Into<String>) -> Self {
        Self {
            client,
            distribution_id: distribution_id.into(),
        }
    }
}

#[async_trait]
impl CdnInvalidator for CloudFrontInvalidator {
    async fn invalidate(&self, path: &str) -> Result<(), StorageError> {
        // A path ending in `*` drops every cached query-string variant under it (CloudFront
        // Developer Guide, "Specifying the objects to invalidate").
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(1)
                    .items(format!("{path}*"))
                    .build()
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?,
            )
            // Unique per request: CloudFront treats a repeated reference as the same request.
            .caller_reference(crate::domain::random_id())
            .build()
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        self.client
            .create_invalidation()
            .distribution_id(&self.distribution_id)
            .invalidation_batch(batch)
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
