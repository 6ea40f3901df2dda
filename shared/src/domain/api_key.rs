use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::{CompanyId, random_bytes};

/// A partner's secret API key as handed out once. Never stored, never logged: only its hash is.
pub struct ApiKeySecret(String);

const KEY_PREFIX: &str = "ak_";
/// Longest header value worth hashing; anything longer cannot be one of our keys.
const MAX_PRESENTED_LEN: usize = 256;

impl ApiKeySecret {
    /// 256 random bits behind a recognisable prefix (so secret scanners can spot leaked keys).
    pub fn generate() -> Self {
        Self(generate_secret(KEY_PREFIX))
    }

    /// Wraps a key presented by a client; `None` when it cannot possibly be a key.
    pub fn from_presented(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        (!raw.is_empty() && raw.len() <= MAX_PRESENTED_LEN).then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> ApiKeyHash {
        secret_hash(&self.0)
    }
}

/// `prefix` followed by 256 random bits in URL-safe base64 (43 characters).
pub(crate) fn generate_secret(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// The stored form of a secret (an API key or an upload token): its SHA-256, hex-encoded.
pub(crate) fn secret_hash(secret: &str) -> ApiKeyHash {
    ApiKeyHash(hex(&Sha256::digest(secret.as_bytes())))
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// SHA-256 of a key (or of an upload token), hex-encoded: what the table is indexed by. Looking a key up by its hash
/// means no secret is ever compared byte by byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    pub fn from_hex(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short public identifier for listing and revoking a key without knowing the secret.
    pub fn key_id(&self) -> &str {
        &self.0[..16.min(self.0.len())]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub hash: ApiKeyHash,
    pub company_id: CompanyId,
    pub created_ms: i64,
    pub revoked: bool,
}

impl ApiKeyRecord {
    pub fn key_id(&self) -> &str {
        self.hash.key_id()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_and_hash_stably() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert!(a.expose().len() >= KEY_PREFIX.len() + 43);
        assert_ne!(a.expose(), b.expose());
        let again = ApiKeySecret::from_presented(a.expose()).unwrap();
        assert_eq!(a.hash(), again.hash());
        assert_eq!(a.hash().as_str().len(), 64);
        assert_eq!(a.hash().key_id().len(), 16);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKeySecret::generate();
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn absurd_presented_values_are_not_keys() {
        assert!(ApiKeySecret::from_presented("").is_none());
        assert!(ApiKeySecret::from_presented("   ").is_none());
        assert!(ApiKeySecret::from_presented(&"k".repeat(1000)).is_none());
    }
}
