//! Storage ports: the few operations the handlers need from a blob store and from the metadata
//! tables, with S3/DynamoDB adapters for production and in-memory ones for fast tests.

use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::domain::{
    ApiKeyHash, ApiKeyRecord, Asset, AssetKey, ListPage, ListQuery, PendingUpload, SigningKeys,
    UploadId, UploadState, UploadTokenRecord,
};

pub mod cloudfront;
pub mod dynamo;
pub mod memory;
pub mod s3;
pub mod s3_presign;
pub mod secrets;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend could not be reached or refused to work (network, throttling, missing table or
    /// bucket, credentials). The caller may retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A conditional write found an existing record: nothing was overwritten.
    #[error("record already exists")]
    AlreadyExists,
    /// A conditional change found the record gone or at another version than the one it was
    /// read at: nothing was written.
    #[error("record changed since it was read")]
    Conflict,
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
    /// Writes `asset` over the stored record only if that record is still at `expected_version`
    /// (the version it was read at); `Conflict` otherwise, and nothing is written.
    async fn replace(&self, asset: &Asset, expected_version: u64) -> Result<(), StorageError>;
    /// Removes the record only if it is still at `expected_version` (an erasure); `Conflict`
    /// otherwise.
    async fn remove(&self, key: &AssetKey, expected_version: u64) -> Result<(), StorageError>;
    /// A page of one company's assets, newest first, read from an index keyed by company and
    /// creation time (never a scan). The index is eventually consistent: a write shows in the
    /// list within about a second.
    async fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError>;
}

/// The secrets that sign URLs and list cursors (Secrets Manager's current and previous versions).
#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Read once per instance and kept: a rotation reaches an instance when it next starts.
    async fn keys(&self) -> Result<SigningKeys, StorageError>;
}

/// Tells a CDN in front of the GET path to drop its copies of an asset.
#[async_trait]
pub trait CdnInvalidator: Send + Sync {
    /// Every cached representation under `path` (a path prefix: all sizes and signatures).
    async fn invalidate(&self, path: &str) -> Result<(), StorageError>;
}

/// The partners' credentials: API keys, and the short-lived upload tokens minted with them. Both
/// are stored only as the SHA-256 of the secret.
#[async_trait]
pub trait ApiKeyRepo: Send + Sync {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StorageError>;
    async fn find(&self, hash: &ApiKeyHash) -> Result<Option<ApiKeyRecord>, StorageError>;
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StorageError>;
    /// Marks the key with this public id revoked; `false` when no key has that id.
    async fn revoke(&self, key_id: &str) -> Result<bool, StorageError>;
    /// Stores a minted upload token (by its hash, like a key); `AlreadyExists` rather than
    /// overwriting one.
    async fn insert_upload_token(&self, record: &UploadTokenRecord) -> Result<(), StorageError>;
    /// The token with this hash, expired or not (the caller decides; the table's TTL removes
    /// expired ones within days).
    async fn find_upload_token(
        &self,
        hash: &ApiKeyHash,
    ) -> Result<Option<UploadTokenRecord>, StorageError>;
}

pub use s3_presign::{PresignedPost, PresignedRequest};

/// One uploaded part of a multipart upload, as the blob store lists it (S3 `ListParts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    /// 1 to 10,000.
    pub number: u32,
    /// Bytes.
    pub size: u64,
    /// The part's ETag, quoted as S3 answers it; completing the upload names each part by it.
    pub etag: String,
}

/// The outcome of completing a multipart upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultipartCompletion {
    Completed,
    /// S3 knows no such multipart upload: completed by an earlier call, aborted or expired.
    Unknown,
    /// S3 refused the parts as sent (`EntityTooSmall`: a part but the last under 5 MiB;
    /// `InvalidPart`, `InvalidPartOrder`); the S3 error code is given.
    InvalidParts(String),
}

/// What finalize learns about a staged object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedObject {
    /// Bytes.
    pub size: u64,
}

/// The staging area of direct uploads: presigned writes, S3 multipart uploads, and the reads,
/// copy and hashing finalize needs. Keys are always made by the service
/// ([`crate::domain::staging_key`]), never taken from a client.
#[async_trait]
pub trait StagingArea: Send + Sync {
    /// A `PUT` of exactly `size` bytes (and, when given, exactly the file with this hex SHA-256)
    /// to `object_key`, valid for `expires_in`.
    async fn presign_put(
        &self,
        object_key: &str,
        size: u64,
        sha256: Option<&str>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError>;
    /// A browser form `POST` (Uppy's single-request upload, which announces no size) of one file
    /// of 1 to `max_bytes` bytes to `object_key`, valid for `expires_in`.
    async fn presign_post(
        &self,
        object_key: &str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> Result<PresignedPost, StorageError>;
    /// Starts an S3 multipart upload; answers its S3 `UploadId`.
    async fn create_multipart(&self, object_key: &str) -> Result<String, StorageError>;
    /// A `PUT` of part `part_number` (1..=10,000) of a multipart upload.
    async fn presign_part(
        &self,
        object_key: &str,
        s3_upload_id: &str,
        part_number: u32,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError>;
    /// The parts uploaded so far, by number; `None` when S3 knows no such multipart upload
    /// (completed, aborted or expired).
    async fn list_parts(
        &self,
        object_key: &str,
        s3_upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StorageError>;
    /// Joins the parts into the object.
    async fn complete_multipart(
        &self,
        object_key: &str,
        s3_upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<MultipartCompletion, StorageError>;
    /// Ends a multipart upload and frees its parts; an unknown upload is not an error.
    async fn abort_multipart(
        &self,
        object_key: &str,
        s3_upload_id: &str,
    ) -> Result<(), StorageError>;
    /// `Ok(None)` when there is no such object.
    async fn head(&self, object_key: &str) -> Result<Option<StagedObject>, StorageError>;
    /// Up to `len` bytes from the start of the object (fewer when it is shorter).
    async fn read_prefix(&self, object_key: &str, len: u64) -> Result<Bytes, StorageError>;
    /// Hex SHA-256 of the whole object, streamed (never held in memory at once).
    async fn sha256(&self, object_key: &str) -> Result<String, StorageError>;
    /// Server-side copy of an object up to 5 GiB (S3 `CopyObject`), stored under `content_type`.
    async fn copy(&self, from: &str, to: &str, content_type: &str) -> Result<(), StorageError>;
}

/// What happened to a conditional state change of an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The upload was pending and now has the new state.
    Done,
    /// The upload had already left `pending`; its state is unchanged and given here.
    AlreadySettled(UploadState),
    /// No such upload (never started, or expired).
    Missing,
}

/// The answer to a finalize's claim on an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This caller alone may finalize it until the lease ends or it settles or releases it.
    Acquired(PendingUpload),
    /// Another finalize holds an unexpired lease.
    Busy,
    /// Already ready, refused or aborted.
    Settled(PendingUpload),
    /// No such upload (never started, or expired).
    Missing,
}

#[async_trait]
pub trait UploadRepo: Send + Sync {
    /// Records a started upload; `AlreadyExists` rather than overwriting one.
    async fn insert(&self, upload: &PendingUpload) -> Result<(), StorageError>;
    /// Strongly consistent: a status request right after finalize sees its outcome.
    async fn find(&self, id: &UploadId) -> Result<Option<PendingUpload>, StorageError>;
    /// Moves a pending upload to `state`, only if it is still pending, and ends any lease: two
    /// finalizes of the same upload settle it once.
    async fn settle(&self, id: &UploadId, state: &UploadState) -> Result<Transition, StorageError>;
    /// Takes the finalize lease of a pending upload until `now_s + lease` (Unix seconds), if no
    /// one holds an unexpired one: finalizes of one upload never run at once, so one of them
    /// failing can never remove what another has stored.
    async fn claim(
        &self,
        id: &UploadId,
        now_s: i64,
        lease: Duration,
    ) -> Result<Claim, StorageError>;
    /// Ends this caller's lease without settling (a transient failure: a later finalize retries).
    async fn release(&self, id: &UploadId) -> Result<(), StorageError>;
}
