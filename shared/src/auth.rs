//! Partner authentication: a presented API key (or, on the direct-upload routes, an upload token)
//! is hashed and looked up; its record names the company. Secrets are never compared directly and
//! never stored.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::domain::{
    ApiKeyRecord, ApiKeySecret, CompanyId, UploadTokenRecord, UploadTokenSecret, Uploader,
    Visibility,
};
use crate::storage::{ApiKeyRepo, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an API key is required")]
    Missing,
    #[error("the API key is not valid")]
    Invalid,
    #[error("the upload token is not valid")]
    InvalidToken,
    #[error("the upload token has expired")]
    TokenExpired,
    /// An upload token where only an API key will do (everything but the direct-upload routes).
    #[error("upload tokens are accepted only by the direct-upload routes")]
    TokenNotAccepted,
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
    if UploadTokenSecret::is_token(raw) {
        return Err(AuthError::TokenNotAccepted);
    }
    let secret = ApiKeySecret::from_presented(raw).ok_or(AuthError::Invalid)?;
    match keys.find(&secret.hash()).await? {
        Some(record) if !record.revoked => Ok(Some(record.company_id)),
        _ => Err(AuthError::Invalid),
    }
}

/// Who drives a direct upload: an API key's company, or a live upload token (`ut_...`);
/// `Ok(None)` when nothing was presented. Errors: `InvalidToken` for an unknown token,
/// `TokenExpired` for one past its life, the key errors of [`company_for_key`] otherwise.
pub async fn uploader_for(
    keys: &dyn ApiKeyRepo,
    presented: Option<&str>,
    now_s: i64,
) -> Result<Option<Uploader>, AuthError> {
    match presented {
        Some(raw) if UploadTokenSecret::is_token(raw) => {
            if raw.trim().len() > MAX_TOKEN_CHARS {
                return Err(AuthError::InvalidToken);
            }
            let record = keys
                .find_upload_token(&UploadTokenSecret::hash_of(raw))
                .await?
                .ok_or(AuthError::InvalidToken)?;
            if record.expired(now_s) {
                return Err(AuthError::TokenExpired);
            }
            Ok(Some(Uploader::Token(record)))
        }
        other => Ok(company_for_key(keys, other).await?.map(Uploader::ApiKey)),
    }
}

/// Longest presented token worth hashing (ours are 46 characters).
const MAX_TOKEN_CHARS: usize = 256;

/// Mints and stores an upload token for `company` (see [`crate::domain::Uploader`]): shown once,
/// stored as its hash, dead after `lifetime`.
pub async fn issue_upload_token(
    keys: &dyn ApiKeyRepo,
    company_id: CompanyId,
    visibility: Visibility,
    max_bytes: u64,
    lifetime: Duration,
) -> Result<(UploadTokenSecret, UploadTokenRecord), StorageError> {
    let secret = UploadTokenSecret::generate();
    let created_ms = now_ms();
    let record = UploadTokenRecord {
        hash: secret.hash(),
        company_id,
        visibility,
        max_bytes,
        created_ms,
        expires_at_s: created_ms / 1000 + lifetime.as_secs() as i64,
    };
    keys.insert_upload_token(&record).await?;
    Ok((secret, record))
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
    async fn upload_tokens_authenticate_uploads_only_until_they_expire() {
        let repo = MemoryApiKeyRepo::default();
        let acme = CompanyId::parse("acme").unwrap();
        let (token, record) = issue_upload_token(
            &repo,
            acme.clone(),
            Visibility::Public,
            1000,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        let now = record.created_ms / 1000;
        match uploader_for(&repo, Some(token.expose()), now)
            .await
            .unwrap()
        {
            Some(Uploader::Token(found)) => assert_eq!(found, record),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            uploader_for(&repo, Some(token.expose()), now + 60).await,
            Err(AuthError::TokenExpired)
        ));
        assert!(matches!(
            uploader_for(&repo, Some("ut_forged"), now).await,
            Err(AuthError::InvalidToken)
        ));
        // A token is no API key: the other routes refuse it without looking it up.
        assert!(matches!(
            company_for_key(&repo, Some(token.expose())).await,
            Err(AuthError::TokenNotAccepted)
        ));
        let (key, _) = issue_key(&repo, acme.clone()).await.unwrap();
        assert_eq!(
            uploader_for(&repo, Some(key.expose()), now).await.unwrap(),
            Some(Uploader::ApiKey(acme))
        );
        assert_eq!(uploader_for(&repo, None, now).await.unwrap(), None);
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
