//! Pure business rules: what an asset is, who may read it, which content is accepted and how
//! partner keys look. Nothing in here knows about HTTP, Lambda or AWS.

mod api_key;
mod asset;
mod content;
mod ids;
mod lifecycle;
mod rendition;
mod signature;
mod upload;
mod upload_token;

pub(crate) use api_key::hex as hex_encode;
pub use api_key::{ApiKeyHash, ApiKeyRecord, ApiKeySecret};
pub use asset::{
    Asset, AssetType, MAX_NAME_CHARS, NameTooLong, NewAsset, Reader, StoredRendition,
    UnknownAssetType, Visibility, clean_asset_name, name_from_filename, sha256_hex,
};
pub use content::{
    ContentRejection, DetectedContent, ImageLimits, detect_content, display_filename,
    extension_for as content_extension, inline_safe as content_inline_safe,
};
pub(crate) use ids::random_id;
pub use ids::{AssetKey, CompanyId, InvalidCompanyId, random_bytes};
pub use lifecycle::{
    AfterChange, AssetChange, DEFAULT_LIST_LIMIT, DEFAULT_RETENTION, ListFilter, ListPage,
    ListPosition, ListQuery, MAX_LIST_LIMIT, Precondition, after_change,
};
pub use rendition::{InvalidRenditionSizes, RenditionSize, RenditionSizes, fit_within};
pub use signature::{
    DEFAULT_SIGNED_URL_LIFETIME, InvalidCursor, InvalidLifetime, MAX_SIGNED_URL_LIFETIME,
    SignedUrlError, SignedUrlGrant, SigningKeys, open_cursor, seal_cursor, signed_url_lifetime,
};
pub use upload::{
    MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES, PendingUpload, PlanError, Refusal, STAGING_PREFIX,
    Transfer, UploadId, UploadLimits, UploadState, hex_decode, parse_sha256, parse_staging_key,
    part_count, part_size, plan_transfer, staging_key,
};
pub use upload_token::{
    DEFAULT_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME, TokenRequestError,
    UPLOAD_TOKEN_PREFIX, UploadTokenRecord, UploadTokenSecret, Uploader, token_bounds,
};
