//! Secrets Manager adapter for [`SigningKeyStore`]: the secret's `AWSCURRENT` version signs, its
//! `AWSPREVIOUS` version (present after the first rotation) still verifies.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use tokio::sync::OnceCell;

use super::s3::unavailable;
use super::{SigningKeyStore, StorageError};
use crate::domain::SigningKeys;

/// The IAM actions [`SigningKeyStore::keys`] needs on the secret (template.yaml grants them).
pub const IAM_ACTIONS: &[(&str, &[&str])] =
    &[("SigningKeyStore::keys", &["secretsmanager:GetSecretValue"])];

/// Shortest secret accepted: 32 bytes, HMAC-SHA256's output size (RFC 2104 §3 advises keys no
/// shorter than the output).
pub const MIN_SECRET_BYTES: usize = 32;

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
    /// Read on the first request that needs it and kept for the instance's life.
    keys: OnceCell<SigningKeys>,
}

impl SecretsManagerKeys {
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            keys: OnceCell::new(),
        }
    }

    /// The secret's value at `stage`; `None` when no version has that stage (no rotation yet).
    async fn version(&self, stage: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(err) => return Err(unavailable(err)),
        };
        let value = out
            .secret_string
            .map(String::into_bytes)
            .or_else(|| out.secret_binary.map(|b| b.into_inner()))
            .ok_or_else(|| StorageError::Corrupt("the signing secret has no value".into()))?;
        if value.len() < MIN_SECRET_BYTES {
            return Err(StorageError::Corrupt(format!(
                "the signing secret is shorter than {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Some(value))
    }

    /// Puts a new random secret as `AWSCURRENT`; Secrets Manager moves the old one to
    /// `AWSPREVIOUS` (operators and tests; in production a rotation schedule may do the same).
    pub async fn rotate(&self) -> Result<(), StorageError> {
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(new_secret())
            .send()
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Creates the secret with a random value unless it exists (local stacks; on AWS the template
    /// owns it).
    pub async fn ensure_secret(&self) -> Result<(), StorageError> {
        let result = self
            .client
            .create_secret()
            .name(&self.secret_id)
            .secret_string(new_secret())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_exists_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// 48 random bytes as 64 URL-safe characters.
fn new_secret() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::domain::random_bytes::<48>())
}

#[async_trait]
impl SigningKeyStore for SecretsManagerKeys {
    async fn keys(&self) -> Result<SigningKeys, StorageError> {
        self.keys
            .get_or_try_init(|| async {
                let current = self.version("AWSCURRENT").await?.ok_or_else(|| {
                    StorageError::Unavailable("the signing secret has no current version".into())
                })?;
                Ok(SigningKeys::new(
                    current,
                    self.version("AWSPREVIOUS").await?,
                ))
            })
            .await
            .cloned()
    }
}

/// The service runs without a signing secret (`SIGNING_SECRET_ID` unset): signed URLs and list
/// cursors answer 503 rather than being signed with something guessable.
pub struct NoSigningKeys;

#[async_trait]
impl SigningKeyStore for NoSigningKeys {
    async fn keys(&self) -> Result<SigningKeys, StorageError> {
        Err(StorageError::Unavailable(
            "SIGNING_SECRET_ID is not set".into(),
        ))
    }
}
