use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::json_response;

use crate::domain::{Asset, AssetType, RenditionSize, Visibility};

/// The contract's `CompanyAsset` object, field names exactly as in `assets-api.txt`, plus a few
/// extra facts partners find useful (content type, size, checksum).
#[derive(Debug, Serialize)]
pub struct CompanyAsset {
    pub id: String,
    #[serde(rename = "companyId")]
    pub company_id: String,
    pub created: i64,
    pub modified: i64,
    pub deleted: bool,
    pub updated: bool,
    pub name: String,
    pub key: String,
    #[serde(rename = "type")]
    pub asset_type: AssetType,
    #[serde(rename = "publicURL")]
    pub public_url: Option<String>,
    pub active: bool,
    pub priority: i32,
    pub secured: bool,
    #[serde(rename = "thumbURL")]
    pub thumb_url: Option<String>,
    #[serde(rename = "mediumURL")]
    pub medium_url: Option<String>,
    #[serde(rename = "largeURL")]
    pub large_url: Option<String>,
    #[serde(rename = "largeX2URL")]
    pub large_x2_url: Option<String>,
    #[serde(rename = "origURL")]
    pub orig_url: String,
    #[serde(rename = "platformFileUrl")]
    pub platform_file_url: String,
    #[serde(rename = "contentType")]
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The metadata's entity tag ([`Asset::metadata_etag`]), also sent as the `ETag` header of an
    /// answer about one asset: `If-Match` of a `PATCH` or `DELETE` names it.
    pub etag: String,
}

impl CompanyAsset {
    /// `base_url` is the API's absolute origin; `location` names the stored object.
    pub fn new(asset: &Asset, base_url: &str, location: String) -> Self {
        let orig_url = format!("{base_url}/api/v1/partner/asset/{}", asset.key);
        // Only renditions that exist get a URL: non-images have none.
        let rendition_url = |size: RenditionSize| {
            asset
                .rendition(size)
                .map(|_| format!("{orig_url}?size={size}"))
        };
        Self {
            id: asset.id.clone(),
            company_id: asset.company_id.to_string(),
            created: asset.created_ms,
            modified: asset.modified_ms,
            deleted: asset.deleted,
            updated: asset.updated,
            name: asset.name.clone(),
            key: asset.key.to_string(),
            asset_type: asset.asset_type,
            public_url: (asset.visibility == Visibility::Public).then(|| orig_url.clone()),
            active: asset.active,
            priority: asset.priority,
            secured: asset.visibility == Visibility::Private,
            thumb_url: rendition_url(RenditionSize::Thumb),
            medium_url: rendition_url(RenditionSize::Medium),
            large_url: rendition_url(RenditionSize::Large),
            large_x2_url: rendition_url(RenditionSize::LargeX2),
            orig_url,
            platform_file_url: location,
            content_type: asset.content_type.clone(),
            size: asset.size,
            sha256: asset.sha256.clone(),
            width: asset.dimensions.map(|(w, _)| w),
            height: asset.dimensions.map(|(_, h)| h),
            etag: asset.metadata_etag(),
        }
    }

    /// The JSON answer about this one asset, its metadata's `ETag` in the header.
    pub fn response(&self, status: StatusCode) -> Response<Body> {
        let mut response = json_response(status, self);
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}
