use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

use super::content::DetectedContent;
use super::rendition::RenditionSize;
use super::{AssetKey, CompanyId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AssetType {
    Image,
    Document,
    Video,
    Audio,
    Other,
}

#[derive(Debug, thiserror::Error)]
#[error("assetType must be one of IMAGE, DOCUMENT, VIDEO, AUDIO, OTHER")]
pub struct UnknownAssetType;

impl AssetType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "IMAGE",
            Self::Document => "DOCUMENT",
            Self::Video => "VIDEO",
            Self::Audio => "AUDIO",
            Self::Other => "OTHER",
        }
    }
}

impl FromStr for AssetType {
    type Err = UnknownAssetType;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        [
            Self::Image,
            Self::Document,
            Self::Video,
            Self::Audio,
            Self::Other,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(raw.trim()))
        .ok_or(UnknownAssetType)
    }
}

impl fmt::Display for AssetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may read an asset: private ones only its company, public ones anyone holding the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    Private,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "private" => Some(Self::Private),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// Everything known about a stored asset. The bytes live in the blob store under `object_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    pub id: String,
    pub key: AssetKey,
    pub company_id: CompanyId,
    pub name: String,
    pub asset_type: AssetType,
    pub visibility: Visibility,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes: the checksum partners can verify and the source of the ETag.
    pub sha256: String,
    /// Width and height in pixels, for images.
    pub dimensions: Option<(u32, u32)>,
    pub object_key: String,
    /// The stored renditions of an image, largest first; empty for every other asset.
    pub renditions: Vec<StoredRendition>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub deleted: bool,
    /// `false` hides the asset from everyone but its company's API key (see [`Asset::readable_by`]).
    pub active: bool,
    /// The partner's own ordering number; the service never interprets it.
    pub priority: i32,
    /// `true` once the metadata has been changed after the upload (`PATCH`, `DELETE`).
    pub updated: bool,
    /// Incremented by every change of the metadata: the source of its ETag and the condition of
    /// every write after the first (optimistic concurrency, never a lost update).
    pub version: u64,
    /// Unix seconds after which a soft-deleted asset's bytes and record are purged; `None` while
    /// the asset is not deleted.
    pub purge_at_s: Option<i64>,
}

/// What is known about one stored rendition. Its bytes live next to the original's
/// (`Asset::rendition_object_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRendition {
    pub size: RenditionSize,
    pub content_type: String,
    pub bytes: u64,
    /// Hex SHA-256 of the rendition's bytes: its ETag, independent of the original's.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

impl StoredRendition {
    pub fn describe(
        size: RenditionSize,
        content_type: &str,
        bytes: &[u8],
        width: u32,
        height: u32,
    ) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            size,
            content_type: content_type.to_owned(),
            bytes: bytes.len() as u64,
            sha256: super::api_key::hex(&Sha256::digest(bytes)),
            width,
            height,
        }
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }
}

/// The facts an upload establishes before anything is stored.
pub struct NewAsset<'a> {
    /// [`AssetKey::generate`] for a small upload; the key reserved when a direct upload started.
    pub key: AssetKey,
    pub company_id: CompanyId,
    pub name: String,
    pub visibility: Visibility,
    pub content: &'a DetectedContent,
    /// Length of the original, in bytes.
    pub size: u64,
    /// Hex SHA-256 of the original ([`sha256_hex`]).
    pub sha256: String,
    pub dimensions: Option<(u32, u32)>,
    pub renditions: Vec<StoredRendition>,
    pub now_ms: i64,
}

impl Asset {
    pub fn create(new: NewAsset<'_>) -> Self {
        let key = new.key;
        let object_key = Self::object_key_for(&new.company_id, &key);
        Self {
            id: uuid_v4(),
            object_key,
            key,
            company_id: new.company_id,
            name: new.name,
            asset_type: new.content.asset_type,
            visibility: new.visibility,
            content_type: new.content.mime.to_owned(),
            size: new.size,
            sha256: new.sha256,
            dimensions: new.dimensions,
            renditions: new.renditions,
            created_ms: new.now_ms,
            modified_ms: new.now_ms,
            deleted: false,
            active: true,
            priority: 0,
            updated: false,
            version: 1,
            purge_at_s: None,
        }
    }

    /// Objects sit under a per-company prefix so a bucket policy or a lifecycle rule can address one
    /// partner's data, and the asset key keeps every upload apart.
    pub fn object_key_for(company: &CompanyId, key: &AssetKey) -> String {
        format!("companies/{company}/assets/{key}/original")
    }

    /// Renditions sit beside the original, under the same company prefix.
    pub fn rendition_object_key(&self, size: RenditionSize) -> String {
        let prefix = self.object_key.trim_end_matches("/original");
        format!("{prefix}/{size}")
    }

    pub fn rendition(&self, size: RenditionSize) -> Option<&StoredRendition> {
        self.renditions.iter().find(|r| r.size == size)
    }

    /// The one access rule: a deleted asset is nobody's; an inactive one (`active: false`) is its
    /// company's alone, whatever its visibility, and no signed URL serves it; otherwise a public
    /// one is everybody's, and a private one its company's or the holder's of a valid signed URL.
    pub fn readable_by(&self, reader: Reader<'_>) -> bool {
        let owner = matches!(reader, Reader::Company(company) if *company == self.company_id);
        if self.deleted {
            return false;
        }
        if !self.active {
            return owner;
        }
        match self.visibility {
            Visibility::Public => true,
            Visibility::Private => owner || reader == Reader::SignedUrl,
        }
    }

    /// Every object stored for the asset: the original and its renditions.
    pub fn object_keys(&self) -> Vec<String> {
        std::iter::once(self.object_key.clone())
            .chain(
                self.renditions
                    .iter()
                    .map(|r| self.rendition_object_key(r.size)),
            )
            .collect()
    }

    /// A strong validator: the content never changes under a key, so its hash identifies it.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256)
    }
}

/// Who asks to read an asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader<'a> {
    /// No credentials: a browser, a CDN, a shared link.
    Anonymous,
    /// A company's API key.
    Company(&'a CompanyId),
    /// A valid, unexpired signed URL for exactly this asset and size, minted by its company.
    SignedUrl,
}

impl<'a> Reader<'a> {
    pub fn from_company(company: Option<&'a CompanyId>) -> Self {
        company.map_or(Self::Anonymous, Self::Company)
    }
}

/// Lower-case hex SHA-256 of `bytes`: an asset's checksum and ETag.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    super::api_key::hex(&Sha256::digest(bytes))
}

fn uuid_v4() -> String {
    let mut b = super::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = super::api_key::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::detect_content;

    fn asset(visibility: Visibility) -> Asset {
        let bytes = b"%PDF-1.4\n%...";
        let content = detect_content(bytes, None).unwrap();
        Asset::create(NewAsset {
            key: AssetKey::generate(),
            company_id: CompanyId::parse("acme").unwrap(),
            name: "doc".into(),
            visibility,
            content: &content,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            dimensions: None,
            renditions: Vec::new(),
            now_ms: 1,
        })
    }

    #[test]
    fn private_assets_are_readable_only_by_their_company() {
        let a = asset(Visibility::Private);
        let acme = CompanyId::parse("acme").unwrap();
        let other = CompanyId::parse("globex").unwrap();
        assert!(a.readable_by(Reader::Company(&acme)));
        assert!(!a.readable_by(Reader::Company(&other)));
        assert!(!a.readable_by(Reader::Anonymous));
        assert!(a.readable_by(Reader::SignedUrl));
    }

    #[test]
    fn public_assets_are_readable_by_anyone_until_deleted() {
        let mut a = asset(Visibility::Public);
        assert!(a.readable_by(Reader::Anonymous));
        a.deleted = true;
        assert!(!a.readable_by(Reader::Anonymous));
        assert!(!a.readable_by(Reader::Company(&a.company_id.clone())));
        assert!(!a.readable_by(Reader::SignedUrl));
    }

    #[test]
    fn inactive_assets_are_served_to_their_company_alone() {
        let acme = CompanyId::parse("acme").unwrap();
        let other = CompanyId::parse("globex").unwrap();
        for visibility in [Visibility::Public, Visibility::Private] {
            let mut a = asset(visibility);
            a.active = false;
            assert!(a.readable_by(Reader::Company(&acme)));
            assert!(!a.readable_by(Reader::Company(&other)));
            assert!(!a.readable_by(Reader::Anonymous));
            assert!(!a.readable_by(Reader::SignedUrl));
        }
    }

    #[test]
    fn created_asset_has_prefixed_object_key_and_checksum() {
        let a = asset(Visibility::Private);
        assert_eq!(
            a.object_key,
            format!("companies/acme/assets/{}/original", a.key)
        );
        assert_eq!(a.sha256.len(), 64);
        assert_eq!(a.etag(), format!("\"{}\"", a.sha256));
        assert_eq!(a.id.len(), 36);
        assert_eq!(&a.id[14..15], "4");
    }

    #[test]
    fn asset_type_parses_case_insensitively() {
        assert_eq!("image".parse::<AssetType>().unwrap(), AssetType::Image);
        assert_eq!(
            "DOCUMENT".parse::<AssetType>().unwrap(),
            AssetType::Document
        );
        assert!("picture".parse::<AssetType>().is_err());
    }
}

/// Longest asset name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 255;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("name must be at most {MAX_NAME_CHARS} characters")]
pub struct NameTooLong;

/// Cleans a client-supplied asset name: normalised to Unicode NFC (macOS file names arrive
/// decomposed, NFD; the same name must be the same string whatever the client's platform), control
/// characters (CR/LF included) dropped so the name can never split a header or a log line, and
/// surrounding space trimmed. The limit applies to the NFC name before anything is dropped, in
/// characters, as the API contract states it. `Ok(None)` when nothing is left.
pub fn clean_asset_name(raw: &str) -> Result<Option<String>, NameTooLong> {
    let normalised: String = raw.nfc().collect();
    if normalised.chars().count() > MAX_NAME_CHARS {
        return Err(NameTooLong);
    }
    let cleaned: String = normalised.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    Ok((!cleaned.is_empty()).then(|| cleaned.to_owned()))
}

/// The asset name a file part's filename gives: its last path segment (old browsers and some
/// clients send `C:\path\file.png`), cut to [`MAX_NAME_CHARS`] after NFC normalisation, cleaned as
/// [`clean_asset_name`]. `None` when nothing is left.
pub fn name_from_filename(filename: &str) -> Option<String> {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let cut: String = base.nfc().take(MAX_NAME_CHARS).collect();
    clean_asset_name(&cut).ok().flatten()
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_lose_control_characters_and_space() {
        assert_eq!(
            clean_asset_name("  a\r\nb\t.pdf "),
            Ok(Some("ab.pdf".into()))
        );
        assert_eq!(clean_asset_name(" \r\n "), Ok(None));
        assert_eq!(
            clean_asset_name("../x/y.png"),
            Ok(Some("../x/y.png".into()))
        );
        assert_eq!(
            clean_asset_name(&"é".repeat(255))
                .unwrap()
                .unwrap()
                .chars()
                .count(),
            255
        );
        assert_eq!(clean_asset_name(&"é".repeat(256)), Err(NameTooLong));
        assert_eq!(clean_asset_name(&"\u{b}".repeat(256)), Err(NameTooLong));
    }

    #[test]
    fn names_are_nfc_and_counted_so() {
        let nfd = "Cafe\u{301} de\u{301}ja\u{300} vu.jpg";
        assert_eq!(clean_asset_name(nfd), Ok(Some("Café déjà vu.jpg".into())));
        // 255 accented letters sent decomposed are 510 code points, but 255 characters.
        assert!(clean_asset_name(&"e\u{301}".repeat(255)).unwrap().is_some());
        assert_eq!(clean_asset_name(&"e\u{301}".repeat(256)), Err(NameTooLong));
    }

    #[test]
    fn filenames_lose_client_paths_and_are_cut_after_nfc() {
        assert_eq!(
            name_from_filename("C:\\fakepath\\x.png").as_deref(),
            Some("x.png")
        );
        assert_eq!(name_from_filename("a/b/c.pdf").as_deref(), Some("c.pdf"));
        assert_eq!(name_from_filename("dir/"), None);
        let long = name_from_filename(&"e\u{301}".repeat(300)).unwrap();
        assert_eq!(long, "é".repeat(MAX_NAME_CHARS));
    }
}
