//! In-memory adapters for fast handler tests. They keep the same contracts as the AWS adapters
//! (conditional insert, missing object is `None`) and can be told to fail, so failure paths are
//! testable without a network.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use super::{ApiKeyRepo, AssetRepo, BlobStore, PresignedGet, StorageError};
use crate::domain::{ApiKeyHash, ApiKeyRecord, Asset, AssetKey};

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
}

#[derive(Default)]
pub struct MemoryApiKeyRepo {
    keys: Mutex<HashMap<String, ApiKeyRecord>>,
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
}
