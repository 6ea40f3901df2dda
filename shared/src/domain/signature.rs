//! The service's own signatures: URLs that read a private asset without headers, and list cursors
//! bound to the company that got them. Both are HMAC-SHA256 (RFC 2104) with a secret kept in AWS
//! Secrets Manager; the current secret signs, the current and the previous one verify, so a
//! rotation never breaks what was handed out under the secret before.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

use super::rendition::RenditionSize;
use super::{AssetKey, CompanyId, ListPosition};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Longest life of a signed URL: 7 days, the same bound SigV4 puts on presigned URLs.
pub const MAX_SIGNED_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default life of a signed URL when the request names none: 1 hour.
pub const DEFAULT_SIGNED_URL_LIFETIME: Duration = Duration::from_secs(3600);

/// The secrets: Secrets Manager's `AWSCURRENT` version signs; it and `AWSPREVIOUS` verify.
#[derive(Clone)]
pub struct SigningKeys {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.debug_struct("SigningKeys")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    pub fn new(current: impl Into<Vec<u8>>, previous: Option<Vec<u8>>) -> Self {
        Self {
            current: current.into(),
            previous,
        }
    }

    /// `purpose` separates the uses of one secret: a URL signature can never pass as a cursor's.
    fn sign(&self, purpose: &str, message: &str) -> String {
        URL_SAFE_NO_PAD.encode(mac(&self.current, purpose, message))
    }

    /// Constant-time check against the current secret, then the previous one.
    fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|key| {
                keyed(key, purpose, message)
                    .verify_slice(&signature)
                    .is_ok()
            })
    }
}

fn keyed(key: &[u8], purpose: &str, message: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(purpose.as_bytes());
    mac.update(b"\n");
    mac.update(message.as_bytes());
    mac
}

fn mac(key: &[u8], purpose: &str, message: &str) -> Vec<u8> {
    keyed(key, purpose, message)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// What a signed URL grants: reading one representation (`size`: `None` for the original) of one
/// asset until `expires_s` (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUrlGrant {
    pub key: AssetKey,
    pub size: Option<RenditionSize>,
    pub expires_s: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    #[error("the signature does not match")]
    Mismatch,
    #[error("the URL has expired")]
    Expired,
}

impl SignedUrlGrant {
    fn message(&self) -> String {
        let size = self.size.map_or("original", |s| s.as_str());
        format!("{}\n{size}\n{}", self.key, self.expires_s)
    }

    /// The URL-safe base64 HMAC of the key, the size and the expiry (43 characters).
    pub fn sign(&self, keys: &SigningKeys) -> String {
        keys.sign("signed-url/v1", &self.message())
    }

    /// Checks a presented signature at `now_s`: a signature of another asset, size or expiry, or
    /// of a secret older than the previous one, does not match.
    pub fn verify(
        &self,
        keys: &SigningKeys,
        signature: &str,
        now_s: i64,
    ) -> Result<(), SignedUrlError> {
        if !keys.verify("signed-url/v1", &self.message(), signature) {
            return Err(SignedUrlError::Mismatch);
        }
        if now_s >= self.expires_s {
            return Err(SignedUrlError::Expired);
        }
        Ok(())
    }

    /// Seconds the URL still lives at `now_s` (0 once expired).
    pub fn remaining_s(&self, now_s: i64) -> u64 {
        u64::try_from(self.expires_s - now_s).unwrap_or(0)
    }
}

/// A requested signed-URL lifetime outside 1 s..=[`MAX_SIGNED_URL_LIFETIME`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expiresIn must be 1 to {} seconds", MAX_SIGNED_URL_LIFETIME.as_secs())]
pub struct InvalidLifetime;

/// The life of a URL about to be signed: `expires_in_s` seconds, or
/// [`DEFAULT_SIGNED_URL_LIFETIME`] when the request names none.
pub fn signed_url_lifetime(expires_in_s: Option<u64>) -> Result<Duration, InvalidLifetime> {
    match expires_in_s {
        None => Ok(DEFAULT_SIGNED_URL_LIFETIME),
        Some(s) if (1..=MAX_SIGNED_URL_LIFETIME.as_secs()).contains(&s) => {
            Ok(Duration::from_secs(s))
        }
        Some(_) => Err(InvalidLifetime),
    }
}

/// A list cursor is not the company's, was altered, or was never one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not valid")]
pub struct InvalidCursor;

/// The opaque `nextCursor` of a list page: the position, and an HMAC over it and the company it
/// was given to. Another company's cursor fails the check exactly as an altered one does.
pub fn seal_cursor(keys: &SigningKeys, company: &CompanyId, position: &ListPosition) -> String {
    let payload = position.sort_key();
    let signature = keys.sign("list-cursor/v1", &format!("{company}\n{payload}"));
    format!("{}.{signature}", URL_SAFE_NO_PAD.encode(payload))
}

/// The position in a cursor sealed for `company`.
pub fn open_cursor(
    keys: &SigningKeys,
    company: &CompanyId,
    cursor: &str,
) -> Result<ListPosition, InvalidCursor> {
    let (payload, signature) = cursor.split_once('.').ok_or(InvalidCursor)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?;
    let payload = String::from_utf8(payload).map_err(|_| InvalidCursor)?;
    if !keys.verify(
        "list-cursor/v1",
        &format!("{company}\n{payload}"),
        signature,
    ) {
        return Err(InvalidCursor);
    }
    ListPosition::parse_sort_key(&payload).ok_or(InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SigningKeys {
        SigningKeys::new(
            b"current secret".to_vec(),
            Some(b"previous secret".to_vec()),
        )
    }

    fn grant() -> SignedUrlGrant {
        SignedUrlGrant {
            key: AssetKey::generate(),
            size: Some(RenditionSize::Thumb),
            expires_s: 2_000,
        }
    }

    #[test]
    fn signed_urls_verify_until_they_expire() {
        let g = grant();
        let signature = g.sign(&keys());
        assert_eq!(signature.len(), 43);
        assert_eq!(g.verify(&keys(), &signature, 1_999), Ok(()));
        assert_eq!(g.remaining_s(1_999), 1);
        assert_eq!(
            g.verify(&keys(), &signature, 2_000),
            Err(SignedUrlError::Expired)
        );
        assert_eq!(g.remaining_s(3_000), 0);
    }

    #[test]
    fn lifetimes_default_to_an_hour_and_stop_at_seven_days() {
        assert_eq!(signed_url_lifetime(None), Ok(DEFAULT_SIGNED_URL_LIFETIME));
        assert_eq!(signed_url_lifetime(Some(1)), Ok(Duration::from_secs(1)));
        assert_eq!(
            signed_url_lifetime(Some(604_800)),
            Ok(MAX_SIGNED_URL_LIFETIME)
        );
        assert_eq!(signed_url_lifetime(Some(0)), Err(InvalidLifetime));
        assert_eq!(signed_url_lifetime(Some(604_801)), Err(InvalidLifetime));
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let g = grant();
        let signature = g.sign(&keys());
        let other_size = SignedUrlGrant {
            size: None,
            ..g.clone()
        };
        let other_expiry = SignedUrlGrant {
            expires_s: 99_999,
            ..g.clone()
        };
        let other_key = SignedUrlGrant {
            key: AssetKey::generate(),
            ..g.clone()
        };
        for changed in [other_size, other_expiry, other_key] {
            assert_eq!(
                changed.verify(&keys(), &signature, 0),
                Err(SignedUrlError::Mismatch)
            );
        }
        let mut flipped = signature.into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            g.verify(&keys(), &flipped, 0),
            Err(SignedUrlError::Mismatch)
        );
        assert_eq!(g.verify(&keys(), "%%%", 0), Err(SignedUrlError::Mismatch));
    }

    #[test]
    fn a_rotation_keeps_urls_of_the_previous_secret_only() {
        let g = grant();
        let before = SigningKeys::new(b"s1".to_vec(), None);
        let signature = g.sign(&before);
        let rotated = SigningKeys::new(b"s2".to_vec(), Some(b"s1".to_vec()));
        assert_eq!(g.verify(&rotated, &signature, 0), Ok(()));
        let rotated_twice = SigningKeys::new(b"s3".to_vec(), Some(b"s2".to_vec()));
        assert_eq!(
            g.verify(&rotated_twice, &signature, 0),
            Err(SignedUrlError::Mismatch)
        );
    }

    #[test]
    fn cursors_are_bound_to_their_company() {
        let acme = CompanyId::parse("acme").unwrap();
        let globex = CompanyId::parse("globex").unwrap();
        let position = ListPosition {
            created_ms: 1_700_000_000_000,
            key: AssetKey::generate(),
        };
        let cursor = seal_cursor(&keys(), &acme, &position);
        assert_eq!(open_cursor(&keys(), &acme, &cursor), Ok(position.clone()));
        assert_eq!(open_cursor(&keys(), &globex, &cursor), Err(InvalidCursor));
        // A URL signature is no cursor signature, even over the same text.
        let (payload, _) = cursor.split_once('.').unwrap();
        let forged = format!(
            "{payload}.{}",
            keys().sign("signed-url/v1", &format!("acme\n{}", position.sort_key()))
        );
        assert_eq!(open_cursor(&keys(), &acme, &forged), Err(InvalidCursor));
        for bad in ["", ".", "abc", "abc.def", &cursor[1..]] {
            assert_eq!(
                open_cursor(&keys(), &acme, bad),
                Err(InvalidCursor),
                "{bad}"
            );
        }
    }
}
