//! The HTTP edge: reading requests (multipart, headers, query), building responses, and the single
//! place where errors become statuses and JSON bodies.

mod company_asset;
mod error;
mod lifecycle_json;
mod multipart;
mod observe;
mod placeholder;
mod range;
mod request;
mod response;
mod signed_url_json;
mod upload_json;
mod upload_path;
mod uppy_json;

pub use company_asset::CompanyAsset;
pub use error::ApiError;
pub use lifecycle_json::{AssetPage, AssetPatch, DeletedAsset, ListParams, if_match, list_params};
pub use multipart::{UploadForm, parse_upload_form};
pub use observe::observed;
pub use range::{Part, requested_part};
#[cfg(test)]
pub(crate) use request::QUERY_BOOL_SPELLINGS;
pub use request::{
    SignedUrlParams, asset_key_param, base_url, handle_error_flag, presented_api_key, query_bool,
    rendition_param, signed_url_params,
};
pub use response::{
    AssetHeaders, asset_head, asset_response, json_response, not_modified, partial_response,
    redirect, without_body,
};
pub use signed_url_json::{SignAssetUrl, SignedAssetUrl};
pub use upload_json::{
    CompleteUpload, CompletedPartJson, MintUploadToken, MintedUploadToken, PartUrl, RefusalJson,
    SignedRequest, StartUpload, StartedUpload, UploadStatus,
};
pub use upload_path::{Protocol, UploadPath, upload_path};
pub use uppy_json::{
    UppyCompleted, UppyCreateMultipart, UppyCreated, UppyParams, UppyPart, UppySignedPart,
};
