//! Storage ports: the few operations the handlers need from a blob store and from the metadata
//! tables, with S3/DynamoDB adapters for production and in-memory ones for fast tests.

use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::domain::{ApiKeyHash, ApiKeyRecord, Asset, AssetKey};

pub mod dynamo;
pub mod memory;
pub mod s3;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend could not be reached or refused to work (network, throttling, missing table or
    /// bucket, credentials). The caller may retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A conditional write found an existing record: nothing was overwritten.
    #[error("record already exists")]
    AlreadyExists,
    /// A stored record could not be read back into the domain model.
    #[error("stored record is invalid: {0}")]
    Corrupt(String),
}

/// Response overrides carried inside a presigned URL, so the redirected download is served with the
/// same type, disposition and (shorter) caching as an inline answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedGet {
    pub expires_in: Duration,
    pub content_type: String,
    pub content_disposition: String,
    pub cache_control: String,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(
        &self,
        object_key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError>;
    /// `Ok(None)` when there is no such object.
    async fn get(&self, object_key: &str) -> Result<Option<Bytes>, StorageError>;
    /// The bytes at offsets `range` (first and last, inclusive) of an object, S3's ranged
    /// GetObject (`Range: bytes=first-last`); a range reaching past the end stops at the end.
    /// `Ok(None)` when there is no such object. Callers pass ranges that start inside the object
    /// (checked against its stored size first).
    async fn get_range(
        &self,
        object_key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<Bytes>, StorageError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, object_key: &str) -> Result<(), StorageError>;
    async fn presign_get(
        &self,
        object_key: &str,
        request: &PresignedGet,
    ) -> Result<String, StorageError>;
    /// Where an object lives, for operators (`s3://bucket/key`).
    fn location(&self, object_key: &str) -> String;
}

#[async_trait]
pub trait AssetRepo: Send + Sync {
    /// Stores a new asset; `AlreadyExists` rather than overwriting one with the same key.
    async fn insert(&self, asset: &Asset) -> Result<(), StorageError>;
    async fn find(&self, key: &AssetKey) -> Result<Option<Asset>, StorageError>;
}

#[async_trait]
pub trait ApiKeyRepo: Send + Sync {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StorageError>;
    async fn find(&self, hash: &ApiKeyHash) -> Result<Option<ApiKeyRecord>, StorageError>;
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StorageError>;
    /// Marks the key with this public id revoked; `false` when no key has that id.
    async fn revoke(&self, key_id: &str) -> Result<bool, StorageError>;
}
