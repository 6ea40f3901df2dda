//! Upload tokens: what a partner's web page sends instead of the partner's API key (issue 10).
//!
//! A partner's server mints one with its API key for one visibility, a size cap and minutes of
//! life, and hands it to one page. The token can start and drive direct uploads within those
//! bounds and nothing else: no reads, no small uploads, no uploads another credential started.
//! Like API keys, tokens are shown once and stored only as their SHA-256.

use std::fmt;
use std::time::Duration;

use super::api_key::{generate_secret, secret_hash};
use super::{ApiKeyHash, CompanyId, Visibility};

/// The prefix that tells a token from an API key (`ak_`) at a glance, for people and for secret
/// scanners.
pub const UPLOAD_TOKEN_PREFIX: &str = "ut_";
/// A token's life when the minting request names none: long enough to pick a file and send it
/// over a slow connection, short enough that a token left in a page's source soon dies.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The shortest and longest lives a token may be minted with.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// A token as handed out once. Never stored, never logged: only its hash is.
pub struct UploadTokenSecret(String);

impl UploadTokenSecret {
    /// 256 random bits behind [`UPLOAD_TOKEN_PREFIX`].
    pub fn generate() -> Self {
        Self(generate_secret(UPLOAD_TOKEN_PREFIX))
    }

    /// Whether a presented credential is meant as an upload token (rather than an API key).
    pub fn is_token(presented: &str) -> bool {
        presented.trim().starts_with(UPLOAD_TOKEN_PREFIX)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form of a presented token (see [`ApiKeyHash`]).
    pub fn hash_of(presented: &str) -> ApiKeyHash {
        secret_hash(presented.trim())
    }

    pub fn hash(&self) -> ApiKeyHash {
        secret_hash(&self.0)
    }
}

impl fmt::Debug for UploadTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadTokenSecret(<redacted>)")
    }
}

/// A minted token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadTokenRecord {
    pub hash: ApiKeyHash,
    pub company_id: CompanyId,
    /// The only visibility it may upload to.
    pub visibility: Visibility,
    /// The largest file it may send, in bytes.
    pub max_bytes: u64,
    pub created_ms: i64,
    /// Unix seconds; from then on the token is refused (and DynamoDB's TTL removes the record).
    pub expires_at_s: i64,
}

impl UploadTokenRecord {
    /// The token's public id (the start of its hash), recorded on the uploads it starts so only
    /// it (or the company's API key) can act on them.
    pub fn token_id(&self) -> &str {
        self.hash.key_id()
    }

    pub fn expired(&self, now_s: i64) -> bool {
        self.expires_at_s <= now_s
    }
}

/// Who is driving a direct upload: a company's API key (any upload of the company, either
/// visibility) or an upload token (its own uploads, its visibility, its size cap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uploader {
    ApiKey(CompanyId),
    Token(UploadTokenRecord),
}

impl Uploader {
    pub fn company(&self) -> &CompanyId {
        match self {
            Self::ApiKey(company) => company,
            Self::Token(token) => &token.company_id,
        }
    }

    /// The token's public id; `None` for an API key.
    pub fn token_id(&self) -> Option<&str> {
        match self {
            Self::ApiKey(_) => None,
            Self::Token(token) => Some(token.token_id()),
        }
    }

    /// Whether it may upload to `visibility`.
    pub fn may_upload_to(&self, visibility: Visibility) -> bool {
        match self {
            Self::ApiKey(_) => true,
            Self::Token(token) => token.visibility == visibility,
        }
    }

    /// The largest file it may send: the service's limit, or the token's smaller cap.
    pub fn max_bytes(&self, service_max_bytes: u64) -> u64 {
        match self {
            Self::ApiKey(_) => service_max_bytes,
            Self::Token(token) => token.max_bytes.min(service_max_bytes),
        }
    }
}

/// What a minting request may ask for, already read from the request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    #[error("expiresIn must be from {min} to {max} seconds")]
    Lifetime { min: u64, max: u64 },
    #[error("maxBytes must be from 1 to {limit} bytes (MAX_DIRECT_UPLOAD_BYTES)")]
    MaxBytes { limit: u64 },
}

/// The bounds of a new token: `max_bytes` defaults to, and may not exceed, the service's own
/// direct-upload limit; the life defaults to [`DEFAULT_TOKEN_LIFETIME`] within
/// [`MIN_TOKEN_LIFETIME`]..=[`MAX_TOKEN_LIFETIME`].
pub fn token_bounds(
    max_bytes: Option<u64>,
    lifetime_s: Option<u64>,
    service_max_bytes: u64,
) -> Result<(u64, Duration), TokenRequestError> {
    let max_bytes = match max_bytes {
        None => service_max_bytes,
        Some(n) if (1..=service_max_bytes).contains(&n) => n,
        Some(_) => {
            return Err(TokenRequestError::MaxBytes {
                limit: service_max_bytes,
            });
        }
    };
    let lifetime = match lifetime_s.map(Duration::from_secs) {
        None => DEFAULT_TOKEN_LIFETIME,
        Some(d) if (MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&d) => d,
        Some(_) => {
            return Err(TokenRequestError::Lifetime {
                min: MIN_TOKEN_LIFETIME.as_secs(),
                max: MAX_TOKEN_LIFETIME.as_secs(),
            });
        }
    };
    Ok((max_bytes, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_like_keys() {
        let a = UploadTokenSecret::generate();
        let b = UploadTokenSecret::generate();
        assert!(a.expose().starts_with(UPLOAD_TOKEN_PREFIX));
        assert_ne!(a.expose(), b.expose());
        assert!(UploadTokenSecret::is_token(a.expose()));
        assert!(!UploadTokenSecret::is_token("ak_something"));
        assert_eq!(UploadTokenSecret::hash_of(a.expose()), a.hash());
        assert_eq!(
            UploadTokenSecret::hash_of(&format!(" {} ", a.expose())),
            a.hash()
        );
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn bounds_default_and_refuse_out_of_range() {
        const MAX: u64 = 5 << 30;
        assert_eq!(
            token_bounds(None, None, MAX),
            Ok((MAX, DEFAULT_TOKEN_LIFETIME))
        );
        assert_eq!(
            token_bounds(Some(1), Some(60), MAX),
            Ok((1, Duration::from_secs(60)))
        );
        assert_eq!(
            token_bounds(Some(MAX), Some(3600), MAX),
            Ok((MAX, Duration::from_secs(3600)))
        );
        for bad in [0, MAX + 1] {
            assert_eq!(
                token_bounds(Some(bad), None, MAX),
                Err(TokenRequestError::MaxBytes { limit: MAX })
            );
        }
        for bad in [0, 59, 3601] {
            assert!(matches!(
                token_bounds(None, Some(bad), MAX),
                Err(TokenRequestError::Lifetime { .. })
            ));
        }
    }

    #[test]
    fn a_token_is_bound_to_its_visibility_and_cap() {
        let acme = CompanyId::parse("acme").unwrap();
        let token = Uploader::Token(UploadTokenRecord {
            hash: UploadTokenSecret::generate().hash(),
            company_id: acme.clone(),
            visibility: Visibility::Private,
            max_bytes: 1000,
            created_ms: 0,
            expires_at_s: 100,
        });
        assert!(token.may_upload_to(Visibility::Private));
        assert!(!token.may_upload_to(Visibility::Public));
        assert_eq!(token.max_bytes(5000), 1000);
        assert_eq!(token.max_bytes(500), 500);
        assert_eq!(token.company(), &acme);
        assert_eq!(token.token_id().map(str::len), Some(16));
        let key = Uploader::ApiKey(acme);
        assert!(key.may_upload_to(Visibility::Public) && key.may_upload_to(Visibility::Private));
        assert_eq!(key.max_bytes(5000), 5000);
        assert_eq!(key.token_id(), None);
    }

    #[test]
    fn a_token_expires_at_its_second() {
        let record = UploadTokenRecord {
            hash: UploadTokenSecret::generate().hash(),
            company_id: CompanyId::parse("acme").unwrap(),
            visibility: Visibility::Public,
            max_bytes: 10,
            created_ms: 0,
            expires_at_s: 100,
        };
        assert!(!record.expired(99));
        assert!(record.expired(100));
        assert_eq!(record.token_id().len(), 16);
    }
}
