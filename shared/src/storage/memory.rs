//! In-memory adapters for fast handler tests. They keep the same contracts as the AWS adapters
//! (conditional insert, missing object is `None`) and can be told to fail, so failure paths are
//! testable without a network.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    ApiKeyRepo, AssetRepo, BlobStore, CdnInvalidator, Claim, MultipartCompletion, PresignedGet,
    PresignedPost, PresignedRequest, SigningKeyStore, StagedObject, StagingArea, StorageError,
    Transition, UploadRepo, UploadedPart,
};
use crate::domain::{
    ApiKeyHash, ApiKeyRecord, Asset, AssetKey, ListPage, ListPosition, ListQuery, PendingUpload,
    SigningKeys, UploadId, UploadState, UploadTokenRecord, sha256_hex,
};

fn unavailable(flag: &AtomicBool) -> Result<(), StorageError> {
    if flag.load(Ordering::SeqCst) {
        Err(StorageError::Unavailable("injected failure".into()))
    } else {
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryBlobStore {
    objects: Mutex<HashMap<String, (Bytes, String)>>,
    pub fail: AtomicBool,
    /// `Some(n)`: n more writes succeed, every later one fails (a store that goes away in the
    /// middle of an upload); reads and deletes still work.
    pub put_budget: Mutex<Option<usize>>,
    /// Open multipart uploads: S3 upload id -> (object key, parts by number).
    multipart: Mutex<HashMap<String, OpenMultipart>>,
}

impl MemoryBlobStore {
    pub fn object(&self, key: &str) -> Option<(Bytes, String)> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.objects.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys of every stored object, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects.lock().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Test hook: what a client's presigned `PUT` does.
    pub fn client_put(&self, key: &str, bytes: impl Into<Bytes>) {
        self.objects.lock().unwrap().insert(
            key.to_owned(),
            (bytes.into(), "application/octet-stream".to_owned()),
        );
    }

    /// Test hook: what a client's presigned part `PUT` does; answers the part's ETag, `None` for
    /// an unknown upload.
    pub fn client_put_part(
        &self,
        s3_upload_id: &str,
        number: u32,
        bytes: impl Into<Bytes>,
    ) -> Option<String> {
        let bytes = bytes.into();
        let etag = part_etag(&bytes);
        let mut uploads = self.multipart.lock().unwrap();
        let (_, parts) = uploads.get_mut(s3_upload_id)?;
        parts.insert(number, bytes);
        Some(etag)
    }

    /// Test hook: the S3 upload id of the open multipart upload of `key`.
    pub fn open_multipart_id(&self, key: &str) -> Option<String> {
        let uploads = self.multipart.lock().unwrap();
        uploads
            .iter()
            .find(|(_, (object_key, _))| object_key == key)
            .map(|(id, _)| id.clone())
    }

    /// Number of multipart uploads neither completed nor aborted.
    pub fn open_multipart_uploads(&self) -> usize {
        self.multipart.lock().unwrap().len()
    }
}

/// An open multipart upload: its object key and its parts by number.
type OpenMultipart = (String, BTreeMap<u32, Bytes>);

fn part_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &sha256_hex(bytes)[..32])
}

#[async_trait]
impl StagingArea for MemoryBlobStore {
    async fn presign_put(
        &self,
        key: &str,
        size: u64,
        sha256: Option<&str>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        unavailable(&self.fail)?;
        let mut headers = vec![("content-length".to_owned(), size.to_string())];
        if let Some(sha256) = sha256 {
            headers.push(("x-amz-checksum-sha256".to_owned(), sha256.to_owned()));
        }
        Ok(PresignedRequest {
            method: "PUT".to_owned(),
            url: format!(
                "https://blobs.invalid/{key}?expires={}",
                expires_in.as_secs()
            ),
            headers,
            expires_at: std::time::SystemTime::now() + expires_in,
        })
    }

    async fn presign_post(
        &self,
        key: &str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> Result<PresignedPost, StorageError> {
        unavailable(&self.fail)?;
        Ok(PresignedPost {
            url: "https://blobs.invalid/".to_owned(),
            fields: BTreeMap::from([
                ("key".to_owned(), key.to_owned()),
                ("x-max-bytes".to_owned(), max_bytes.to_string()),
            ]),
            expires_at: std::time::SystemTime::now() + expires_in,
        })
    }

    async fn create_multipart(&self, key: &str) -> Result<String, StorageError> {
        unavailable(&self.fail)?;
        let id = UploadId::generate().to_string();
        self.multipart
            .lock()
            .unwrap()
            .insert(id.clone(), (key.to_owned(), BTreeMap::new()));
        Ok(id)
    }

    async fn presign_part(
        &self,
        key: &str,
        s3_upload_id: &str,
        part_number: u32,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        unavailable(&self.fail)?;
        Ok(PresignedRequest {
            method: "PUT".to_owned(),
            url: format!(
                "https://blobs.invalid/{key}?uploadId={s3_upload_id}&partNumber={part_number}&expires={}",
                expires_in.as_secs()
            ),
            headers: Vec::new(),
            expires_at: std::time::SystemTime::now() + expires_in,
        })
    }

    async fn list_parts(
        &self,
        _key: &str,
        s3_upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self
            .multipart
            .lock()
            .unwrap()
            .get(s3_upload_id)
            .map(|(_, parts)| {
                parts
                    .iter()
                    .map(|(number, bytes)| UploadedPart {
                        number: *number,
                        size: bytes.len() as u64,
                        etag: part_etag(bytes),
                    })
                    .collect()
            }))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        s3_upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<MultipartCompletion, StorageError> {
        unavailable(&self.fail)?;
        let mut uploads = self.multipart.lock().unwrap();
        let Some((_, stored)) = uploads.get(s3_upload_id) else {
            return Ok(MultipartCompletion::Unknown);
        };
        let mut joined = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            match stored.get(&part.number) {
                Some(bytes) if !last && (bytes.len() as u64) < crate::domain::MIN_PART_BYTES => {
                    return Ok(MultipartCompletion::InvalidParts("EntityTooSmall".into()));
                }
                Some(bytes) if part_etag(bytes) == part.etag => joined.extend_from_slice(bytes),
                // The client named a part it never sent.
                _ => return Ok(MultipartCompletion::InvalidParts("InvalidPart".into())),
            }
        }
        uploads.remove(s3_upload_id);
        drop(uploads);
        self.client_put(key, joined);
        Ok(MultipartCompletion::Completed)
    }

    async fn abort_multipart(&self, _key: &str, s3_upload_id: &str) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        self.multipart.lock().unwrap().remove(s3_upload_id);
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<Option<StagedObject>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.object(key).map(|(bytes, _)| StagedObject {
            size: bytes.len() as u64,
        }))
    }

    async fn read_prefix(&self, key: &str, len: u64) -> Result<Bytes, StorageError> {
        unavailable(&self.fail)?;
        let (bytes, _) = self
            .object(key)
            .ok_or_else(|| StorageError::Unavailable("NoSuchKey".into()))?;
        Ok(bytes.slice(..(len as usize).min(bytes.len())))
    }

    async fn sha256(&self, key: &str) -> Result<String, StorageError> {
        unavailable(&self.fail)?;
        let (bytes, _) = self
            .object(key)
            .ok_or_else(|| StorageError::Unavailable("NoSuchKey".into()))?;
        Ok(sha256_hex(&bytes))
    }

    async fn copy(&self, from: &str, to: &str, content_type: &str) -> Result<(), StorageError> {
        let (bytes, _) = self
            .object(from)
            .ok_or_else(|| StorageError::Unavailable("NoSuchKey".into()))?;
        self.put(to, bytes, content_type).await
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        if let Some(left) = self.put_budget.lock().unwrap().as_mut() {
            if *left == 0 {
                return Err(StorageError::Unavailable("injected failure".into()));
            }
            *left -= 1;
        }
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), (bytes, content_type.to_owned()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.object(key).map(|(bytes, _)| bytes))
    }

    async fn get_range(
        &self,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<Bytes>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.object(key).map(|(bytes, _)| {
            // As S3: a range that reaches past the end stops at the end.
            let len = bytes.len() as u64;
            let start = (*range.start()).min(len) as usize;
            let end = range.end().saturating_add(1).min(len) as usize;
            bytes.slice(start..end.max(start))
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn presign_get(&self, key: &str, req: &PresignedGet) -> Result<String, StorageError> {
        unavailable(&self.fail)?;
        Ok(format!(
            "https://blobs.invalid/{key}?expires={}&type={}",
            req.expires_in.as_secs(),
            req.content_type
        ))
    }

    fn location(&self, key: &str) -> String {
        format!("memory://{key}")
    }
}

#[derive(Default)]
pub struct MemoryAssetRepo {
    assets: Mutex<HashMap<String, Asset>>,
    pub fail: AtomicBool,
    /// Store the asset, then report failure: a write whose response was lost.
    pub lose_insert_response: AtomicBool,
}

impl MemoryAssetRepo {
    pub fn len(&self) -> usize {
        self.assets.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Test hook: change a stored asset in place (e.g. mark it deleted).
    pub fn update(&self, key: &AssetKey, change: impl FnOnce(&mut Asset)) {
        if let Some(asset) = self.assets.lock().unwrap().get_mut(key.as_str()) {
            change(asset);
        }
    }
}

#[async_trait]
impl AssetRepo for MemoryAssetRepo {
    async fn insert(&self, asset: &Asset) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut assets = self.assets.lock().unwrap();
        if assets.contains_key(asset.key.as_str()) {
            return Err(StorageError::AlreadyExists);
        }
        assets.insert(asset.key.as_str().to_owned(), asset.clone());
        if self.lose_insert_response.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable("injected lost response".into()));
        }
        Ok(())
    }

    async fn find(&self, key: &AssetKey) -> Result<Option<Asset>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.assets.lock().unwrap().get(key.as_str()).cloned())
    }

    async fn replace(&self, asset: &Asset, expected_version: u64) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut assets = self.assets.lock().unwrap();
        match assets.get_mut(asset.key.as_str()) {
            Some(stored) if stored.version == expected_version => {
                *stored = asset.clone();
                Ok(())
            }
            _ => Err(StorageError::Conflict),
        }
    }

    async fn remove(&self, key: &AssetKey, expected_version: u64) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut assets = self.assets.lock().unwrap();
        match assets.get(key.as_str()) {
            Some(stored) if stored.version == expected_version => {
                assets.remove(key.as_str());
                Ok(())
            }
            _ => Err(StorageError::Conflict),
        }
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        unavailable(&self.fail)?;
        let after = query.after.as_ref().map(ListPosition::sort_key);
        let mut matching: Vec<Asset> = self
            .assets
            .lock()
            .unwrap()
            .values()
            .filter(|a| a.company_id == query.company && query.filter.matches(a))
            .filter(|a| {
                after
                    .as_ref()
                    .is_none_or(|after| a.list_position().sort_key() < *after)
            })
            .cloned()
            .collect();
        matching.sort_by_key(|a| std::cmp::Reverse(a.list_position().sort_key()));
        let more = matching.len() > query.limit;
        matching.truncate(query.limit);
        let next = more
            .then(|| matching.last().map(Asset::list_position))
            .flatten();
        Ok(ListPage {
            assets: matching,
            next,
        })
    }
}

/// Fixed signing secrets, or none (`fail`: the secret cannot be read).
pub struct MemorySigningKeys {
    pub keys: Mutex<SigningKeys>,
    pub fail: AtomicBool,
}

impl Default for MemorySigningKeys {
    fn default() -> Self {
        Self {
            keys: Mutex::new(SigningKeys::new(b"memory signing secret".to_vec(), None)),
            fail: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl SigningKeyStore for MemorySigningKeys {
    async fn keys(&self) -> Result<SigningKeys, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.keys.lock().unwrap().clone())
    }
}

/// Records every invalidation asked for.
#[derive(Default)]
pub struct MemoryCdn {
    pub invalidated: Mutex<Vec<String>>,
    pub fail: AtomicBool,
}

#[async_trait]
impl CdnInvalidator for MemoryCdn {
    async fn invalidate(&self, path: &str) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        self.invalidated.lock().unwrap().push(path.to_owned());
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryApiKeyRepo {
    keys: Mutex<HashMap<String, ApiKeyRecord>>,
    upload_tokens: Mutex<HashMap<String, UploadTokenRecord>>,
    pub fail: AtomicBool,
}

#[async_trait]
impl ApiKeyRepo for MemoryApiKeyRepo {
    async fn insert(&self, record: &ApiKeyRecord) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut keys = self.keys.lock().unwrap();
        if keys.contains_key(record.hash.as_str()) {
            return Err(StorageError::AlreadyExists);
        }
        keys.insert(record.hash.as_str().to_owned(), record.clone());
        Ok(())
    }

    async fn find(&self, hash: &ApiKeyHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.keys.lock().unwrap().get(hash.as_str()).cloned())
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.keys.lock().unwrap().values().cloned().collect())
    }

    async fn revoke(&self, key_id: &str) -> Result<bool, StorageError> {
        unavailable(&self.fail)?;
        let mut keys = self.keys.lock().unwrap();
        let found = keys.values_mut().find(|r| r.key_id() == key_id);
        Ok(found.map(|r| r.revoked = true).is_some())
    }

    async fn insert_upload_token(&self, record: &UploadTokenRecord) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut tokens = self.upload_tokens.lock().unwrap();
        if tokens.contains_key(record.hash.as_str()) {
            return Err(StorageError::AlreadyExists);
        }
        tokens.insert(record.hash.as_str().to_owned(), record.clone());
        Ok(())
    }

    async fn find_upload_token(
        &self,
        hash: &ApiKeyHash,
    ) -> Result<Option<UploadTokenRecord>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self
            .upload_tokens
            .lock()
            .unwrap()
            .get(hash.as_str())
            .cloned())
    }
}

#[derive(Default)]
pub struct MemoryUploadRepo {
    uploads: Mutex<HashMap<String, PendingUpload>>,
    /// Finalize leases: upload id -> Unix second they end.
    leases: Mutex<HashMap<String, i64>>,
    pub fail: AtomicBool,
}

impl MemoryUploadRepo {
    /// Test hook: change a stored upload in place (e.g. make it expire).
    pub fn update(&self, id: &UploadId, change: impl FnOnce(&mut PendingUpload)) {
        if let Some(upload) = self.uploads.lock().unwrap().get_mut(id.as_str()) {
            change(upload);
        }
    }
}

#[async_trait]
impl UploadRepo for MemoryUploadRepo {
    async fn insert(&self, upload: &PendingUpload) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        let mut uploads = self.uploads.lock().unwrap();
        if uploads.contains_key(upload.id.as_str()) {
            return Err(StorageError::AlreadyExists);
        }
        uploads.insert(upload.id.as_str().to_owned(), upload.clone());
        Ok(())
    }

    async fn find(&self, id: &UploadId) -> Result<Option<PendingUpload>, StorageError> {
        unavailable(&self.fail)?;
        Ok(self.uploads.lock().unwrap().get(id.as_str()).cloned())
    }

    async fn settle(&self, id: &UploadId, state: &UploadState) -> Result<Transition, StorageError> {
        unavailable(&self.fail)?;
        let mut uploads = self.uploads.lock().unwrap();
        Ok(match uploads.get_mut(id.as_str()) {
            None => Transition::Missing,
            Some(upload) if upload.state != UploadState::Pending => {
                Transition::AlreadySettled(upload.state.clone())
            }
            Some(upload) => {
                upload.state = state.clone();
                self.leases.lock().unwrap().remove(id.as_str());
                Transition::Done
            }
        })
    }

    async fn claim(
        &self,
        id: &UploadId,
        now_s: i64,
        lease: Duration,
    ) -> Result<Claim, StorageError> {
        unavailable(&self.fail)?;
        let uploads = self.uploads.lock().unwrap();
        let Some(upload) = uploads.get(id.as_str()) else {
            return Ok(Claim::Missing);
        };
        if upload.state != UploadState::Pending {
            return Ok(Claim::Settled(upload.clone()));
        }
        let mut leases = self.leases.lock().unwrap();
        if leases.get(id.as_str()).is_some_and(|until| *until >= now_s) {
            return Ok(Claim::Busy);
        }
        leases.insert(id.as_str().to_owned(), now_s + lease.as_secs() as i64);
        Ok(Claim::Acquired(upload.clone()))
    }

    async fn release(&self, id: &UploadId) -> Result<(), StorageError> {
        unavailable(&self.fail)?;
        self.leases.lock().unwrap().remove(id.as_str());
        Ok(())
    }
}
