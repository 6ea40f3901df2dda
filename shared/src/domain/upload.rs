//! Direct uploads: a file the client sends straight to the blob store's staging area, then
//! finalized into an [`Asset`](super::Asset) by the same rules as a small upload (issue 10).
//!
//! Life of one: started (a [`PendingUpload`] is recorded, the asset key is reserved) -> bytes land
//! under [`PendingUpload::staging_key`] -> finalize checks them and either makes the asset
//! ([`UploadState::Ready`]) or refuses them ([`UploadState::Refused`], bytes removed). Started
//! uploads that never finish expire ([`PendingUpload::expires_at_s`]).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{AssetKey, AssetType, CompanyId, Visibility, random_bytes};

/// S3's smallest part, except the last (Amazon S3 User Guide, "Amazon S3 multipart upload limits").
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// The part size offered when the file is small enough: large enough for few requests, small
/// enough that a retried part costs little on a phone connection.
pub const PREFERRED_PART_BYTES: u64 = 16 * 1024 * 1024;

/// The public handle of a direct upload: 144 random bits as 24 URL-safe base64 characters, like
/// an [`AssetKey`] (and never derived from anything the client sent).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    pub fn generate() -> Self {
        Self(URL_SAFE_NO_PAD.encode(random_bytes::<18>()))
    }

    /// Accepts only strings this service could have generated.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 24
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the bytes travel: in one request (a presigned `PUT`, or the browser form `POST` of Uppy's
/// `s3/params`), or as an S3 multipart upload whose parts the client has signed one by one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transfer {
    SingleRequest,
    /// `s3_upload_id` is S3's `UploadId` of the multipart upload (never shown to clients).
    Multipart {
        s3_upload_id: String,
    },
}

/// Why finalize refused an upload, as the client is told: the same status, code and message a
/// small upload of the same bytes gets (415, 422, ...). Stored with the upload so a later status
/// request answers the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadState {
    /// Started; its bytes may or may not have arrived.
    Pending,
    /// Finalized: the asset under [`PendingUpload::asset_key`] exists.
    Ready,
    Refused(Refusal),
    /// Ended by its company before it was finalized; its bytes are removed.
    Aborted,
}

impl UploadState {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Refused(_) => "refused",
            Self::Aborted => "aborted",
        }
    }
}

/// A direct upload as recorded when it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub id: UploadId,
    pub company_id: CompanyId,
    pub visibility: Visibility,
    pub name: String,
    /// The client's `assetType`, checked against the content at finalize.
    pub declared_type: Option<AssetType>,
    /// The size the client announced, in bytes; `None` when the protocol has no size (Uppy's
    /// single-request uploads), in which case only the configured maximum applies.
    pub declared_size: Option<u64>,
    /// Hex SHA-256 the client announced; a different file is refused at finalize.
    pub declared_sha256: Option<String>,
    /// The largest file finalize accepts for it, in bytes: the service's limit, or the smaller
    /// cap of the upload token that started it.
    pub max_bytes: u64,
    /// The public id of the upload token that started it; `None` when an API key did. A token
    /// acts only on the uploads it started.
    pub token_id: Option<String>,
    /// Reserved when the upload starts, so every finalize of it makes the same asset.
    pub asset_key: AssetKey,
    pub transfer: Transfer,
    pub state: UploadState,
    pub created_ms: i64,
    /// Unix seconds after which an unfinished upload is forgotten (DynamoDB TTL) and its staged
    /// bytes are removed (the bucket's lifecycle rule on the staging prefix).
    pub expires_at_s: i64,
}

/// Where staged bytes live: apart from every asset, under one prefix that the bucket's lifecycle
/// rule and event notification address, and per company like the assets.
pub const STAGING_PREFIX: &str = "staging/";

impl PendingUpload {
    pub fn staging_key(&self) -> String {
        staging_key(&self.company_id, &self.id)
    }

    /// The upload's company may act on it; anyone else gets the answer an unknown upload gets.
    pub fn owned_by(&self, company: &CompanyId) -> bool {
        &self.company_id == company
    }

    /// Whether `uploader` may act on it: its company's API key, or the token that started it.
    pub fn accessible_by(&self, uploader: &super::Uploader) -> bool {
        self.owned_by(uploader.company())
            && match uploader.token_id() {
                None => true,
                Some(token) => self.token_id.as_deref() == Some(token),
            }
    }
}

pub fn staging_key(company: &CompanyId, id: &UploadId) -> String {
    format!("{STAGING_PREFIX}{company}/{id}")
}

/// The company and upload a staged object belongs to, from its key; `None` for any key this
/// service did not hand out (an event for it is ignored).
pub fn parse_staging_key(key: &str) -> Option<(CompanyId, UploadId)> {
    let rest = key.strip_prefix(STAGING_PREFIX)?;
    let (company, id) = rest.split_once('/')?;
    Some((CompanyId::parse(company).ok()?, UploadId::parse(id)?))
}

/// What a client may ask for when it starts an upload, already read from the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest file accepted, in bytes (`MAX_DIRECT_UPLOAD_BYTES`, default 5 GiB).
    pub max_bytes: u64,
    /// Files above this size are sent in parts (`MULTIPART_THRESHOLD_BYTES`, default 64 MiB).
    pub multipart_threshold: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is empty")]
    Empty,
}

/// How a file of `size` bytes is sent: in one `PUT` up to the threshold unless `multipart` is
/// asked for, else in parts of [`part_size`].
pub fn plan_transfer(size: u64, multipart: bool, limits: &UploadLimits) -> Result<bool, PlanError> {
    if size == 0 {
        return Err(PlanError::Empty);
    }
    if size > limits.max_bytes {
        return Err(PlanError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    Ok(multipart || size > limits.multipart_threshold)
}

/// Part size for a multipart upload of `size` bytes: [`PREFERRED_PART_BYTES`], grown (to a whole
/// MiB) when the file would otherwise need more than [`MAX_PARTS`] parts. Every part but the last
/// is this size.
pub fn part_size(size: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    needed.clamp(PREFERRED_PART_BYTES, MAX_PART_BYTES)
}

/// Number of parts of [`part_size`] that make `size` bytes.
pub fn part_count(size: u64) -> u64 {
    size.div_ceil(part_size(size)).max(1)
}

/// Parses a client's SHA-256: 64 hex digits (any case) or the base64 S3 uses in
/// `x-amz-checksum-sha256`; answers lower-case hex.
pub fn parse_sha256(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(raw.to_ascii_lowercase());
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    (bytes.len() == 32).then(|| super::api_key::hex(&bytes))
}

/// Bytes of an even-length hex string (any case); `None` for anything else.
pub fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    fn limits() -> UploadLimits {
        UploadLimits {
            max_bytes: 5 * GIB,
            multipart_threshold: 64 * 1024 * 1024,
        }
    }

    #[test]
    fn small_files_go_in_one_put_unless_parts_are_asked_for() {
        assert_eq!(plan_transfer(5_300_000, false, &limits()), Ok(false));
        assert_eq!(plan_transfer(5_300_000, true, &limits()), Ok(true));
        assert_eq!(plan_transfer(64 * 1024 * 1024, false, &limits()), Ok(false));
        assert_eq!(
            plan_transfer(64 * 1024 * 1024 + 1, false, &limits()),
            Ok(true)
        );
        assert_eq!(plan_transfer(0, false, &limits()), Err(PlanError::Empty));
        assert_eq!(
            plan_transfer(5 * GIB + 1, true, &limits()),
            Err(PlanError::TooLarge { limit: 5 * GIB })
        );
    }

    #[test]
    fn parts_stay_within_s3_limits() {
        for size in [
            1,
            MIN_PART_BYTES,
            40_000_000,
            200 << 20,
            5 * GIB,
            5 * 1024 * GIB,
        ] {
            let part = part_size(size);
            assert!((MIN_PART_BYTES..=MAX_PART_BYTES).contains(&part), "{size}");
            assert!(part_count(size) <= MAX_PARTS, "{size}");
            assert!(part * part_count(size) >= size, "{size}");
        }
        assert_eq!(part_size(40_000_000), PREFERRED_PART_BYTES);
        assert_eq!(part_count(40_000_000), 3);
        // 5 TiB / 10,000 parts needs 525 MiB parts (S3's own worked figure: 5 TiB in 10,000 parts).
        assert_eq!(part_size(5 * 1024 * GIB), 525 * 1024 * 1024);
    }

    #[test]
    fn staging_keys_round_trip_and_reject_others() {
        let company = CompanyId::parse("acme").unwrap();
        let id = UploadId::generate();
        let key = staging_key(&company, &id);
        assert!(key.starts_with("staging/acme/"));
        assert_eq!(parse_staging_key(&key), Some((company, id)));
        for other in [
            "companies/acme/assets/x/original",
            "staging/acme",
            "staging/a b/AAAAAAAAAAAAAAAAAAAAAAAA",
            "staging/acme/short",
            "staging/acme/AAAAAAAAAAAAAAAAAAAAAAAA/extra",
        ] {
            assert_eq!(parse_staging_key(other), None, "{other}");
        }
    }

    #[test]
    fn sha256_is_read_as_hex_or_base64() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_sha256(&hex.to_uppercase()).as_deref(), Some(hex));
        assert_eq!(
            parse_sha256("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").as_deref(),
            Some(hex)
        );
        assert_eq!(parse_sha256("abc"), None);
        assert_eq!(parse_sha256(&"g".repeat(64)), None);
    }
}
