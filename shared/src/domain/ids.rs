use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills a buffer from the operating system's CSPRNG.
///
/// Keys and ids must be unguessable; a failing OS RNG is not something to paper over with a weaker
/// source, so this panics (the Lambda sandbox is then unusable anyway).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    buf
}

/// The company (partner) that owns assets and API keys.
///
/// Restricted to a small URL- and S3-safe alphabet because it becomes an S3 key prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompanyId(String);

#[derive(Debug, thiserror::Error)]
#[error("company id must be 1-64 characters of A-Z, a-z, 0-9, '-' or '_'")]
pub struct InvalidCompanyId;

impl CompanyId {
    pub fn parse(raw: &str) -> Result<Self, InvalidCompanyId> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidCompanyId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CompanyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The public, unguessable handle of an asset: 144 random bits as 24 URL-safe base64 characters,
/// so it is one path segment and never derived from anything the client sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssetKey(String);

const RANDOM_ID_BYTES: usize = 18;
const RANDOM_ID_LEN: usize = 24;

/// 144 random bits as 24 URL-safe base64 characters: the shape of every public handle the service
/// makes ([`AssetKey`], [`super::UploadId`]).
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<RANDOM_ID_BYTES>())
}

/// Whether `raw` has the shape [`random_id`] makes.
pub(crate) fn is_random_id(raw: &str) -> bool {
    raw.len() == RANDOM_ID_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AssetKey {
    pub fn generate() -> Self {
        Self(random_id())
    }

    /// Accepts only strings this service could have generated; anything else cannot name an asset.
    pub fn parse(raw: &str) -> Option<Self> {
        is_random_id(raw).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AssetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_asset_keys_parse_and_differ() {
        let a = AssetKey::generate();
        let b = AssetKey::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), RANDOM_ID_LEN);
        assert_eq!(AssetKey::parse(a.as_str()), Some(a));
    }

    #[test]
    fn asset_key_rejects_foreign_strings() {
        for raw in [
            "",
            "short",
            "../../../../../etc/passwd",
            "aaaaaaaaaaaaaaaaaaaaaaa/",
            "ééééééééééééé",
        ] {
            assert_eq!(AssetKey::parse(raw), None, "{raw}");
        }
    }

    #[test]
    fn company_id_is_prefix_safe() {
        assert!(CompanyId::parse("acme-corp_1").is_ok());
        for raw in ["", "a/b", "a b", "..", &"x".repeat(65)] {
            assert!(CompanyId::parse(raw).is_err(), "{raw}");
        }
    }
}
