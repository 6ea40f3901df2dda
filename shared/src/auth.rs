//! Partner authentication: a presented API key is hashed and looked up; the key's record names the
//! company. Secrets are never compared directly and never stored.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::{ApiKeyRecord, ApiKeySecret, CompanyId};
use crate::storage::{ApiKeyRepo, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required")]
    Missing,
    #[error("the API key is not valid")]
    Invalid,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The company a presented key belongs to; `Ok(None)` when no key was presented at all.
pub async fn company_for_key(
    keys: &dyn ApiKeyRepo,
    presented: Option<&str>,
) -> Result<Option<CompanyId>, AuthError> {
    let Some(raw) = presented else {
        return Ok(None);
    };
    let secret = ApiKeySecret::from_presented(raw).ok_or(AuthError::Invalid)?;
    match keys.find(&secret.hash()).await? {
        Some(record) if !record.revoked => Ok(Some(record.company_id)),
        _ => Err(AuthError::Invalid),
    }
}

/// Creates and stores a new key for `company`. The secret is returned once and exists nowhere else.
pub async fn issue_key(
    keys: &dyn ApiKeyRepo,
    company_id: CompanyId,
) -> Result<(ApiKeySecret, ApiKeyRecord), StorageError> {
    let secret = ApiKeySecret::generate();
    let record = ApiKeyRecord {
        hash: secret.hash(),
        company_id,
        created_ms: now_ms(),
        revoked: false,
    };
    keys.insert(&record).await?;
    Ok((secret, record))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryApiKeyRepo;

    #[tokio::test]
    async fn issued_keys_authenticate_until_revoked() {
        let repo = MemoryApiKeyRepo::default();
        let acme = CompanyId::parse("acme").unwrap();
        let (secret, record) = issue_key(&repo, acme.clone()).await.unwrap();
        assert_eq!(
            company_for_key(&repo, Some(secret.expose())).await.unwrap(),
            Some(acme)
        );
        assert!(repo.revoke(record.key_id()).await.unwrap());
        assert!(matches!(
            company_for_key(&repo, Some(secret.expose())).await,
            Err(AuthError::Invalid)
        ));
    }

    #[tokio::test]
    async fn unknown_and_absent_keys() {
        let repo = MemoryApiKeyRepo::default();
        assert_eq!(company_for_key(&repo, None).await.unwrap(), None);
        assert!(matches!(
            company_for_key(&repo, Some("ak_nope")).await,
            Err(AuthError::Invalid)
        ));
        assert!(!repo.revoke("0000000000000000").await.unwrap());
    }
}
