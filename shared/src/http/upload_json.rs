//! The JSON bodies of the direct-upload routes (openapi.yaml, `StartUpload`, `StartedUpload`,
//! `UploadStatus`, `PartUrl`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApiError, CompanyAsset};
use crate::domain::{PendingUpload, Refusal};
use crate::storage::PresignedRequest;

/// `POST .../uploads/{visibility}`: what the client will send.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartUpload {
    pub name: Option<String>,
    pub asset_type: Option<String>,
    /// Bytes.
    pub size: u64,
    /// Hex (64 digits) or base64 SHA-256 of the file.
    pub sha256: Option<String>,
    /// Ask for a multipart upload below the threshold too.
    #[serde(default)]
    pub multipart: bool,
}

impl StartUpload {
    /// Errors: 400 `invalid_body` naming what is wrong, for a body that is not this object.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!("the body must be a JSON object with a numeric size: {err}"),
            )
        })
    }
}

/// `POST .../complete`: optional; the parts of a multipart upload, as S3 answered each part's
/// `PUT` (its `ETag` header). Without it the parts S3 lists are joined.
#[derive(Debug, Default, Deserialize)]
pub struct CompleteUpload {
    pub parts: Option<Vec<CompletedPartJson>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletedPartJson {
    /// 1 to 10,000; Uppy spells it `PartNumber`.
    #[serde(alias = "PartNumber")]
    pub part_number: u32,
    /// Uppy spells it `ETag`.
    #[serde(alias = "ETag")]
    pub etag: String,
}

impl CompleteUpload {
    /// An empty body is no parts. Errors: 400 `invalid_body`.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!(
                    "the body must be empty or {{\"parts\": [{{\"partNumber\", \"etag\"}}]}}: {err}"
                ),
            )
        })
    }

    pub fn uploaded_parts(&self) -> Option<Vec<crate::storage::UploadedPart>> {
        self.parts.as_ref().map(|parts| {
            parts
                .iter()
                .map(|p| crate::storage::UploadedPart {
                    number: p.part_number,
                    size: 0,
                    etag: p.etag.clone(),
                })
                .collect()
        })
    }
}

/// A presigned request as clients send it: method, URL and the headers to send with it.
#[derive(Debug, Serialize)]
pub struct SignedRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

impl From<PresignedRequest> for SignedRequest {
    fn from(r: PresignedRequest) -> Self {
        Self {
            method: r.method,
            url: r.url,
            headers: r.headers.into_iter().collect(),
        }
    }
}

/// The 201 answer to a start.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartedUpload {
    pub upload_id: String,
    pub status: &'static str,
    /// Unix milliseconds after which the upload is forgotten.
    pub expires_at: i64,
    /// A single-request upload: send the file with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<SignedRequest>,
    /// A multipart upload: every part is this many bytes but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_count: Option<u64>,
    /// `GET` a part's URL at `{partsUrl}/{partNumber}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_url: Option<String>,
    pub status_url: String,
    pub complete_url: String,
}

/// A part's presigned `PUT`, valid `expires` seconds.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartUrl {
    pub part_number: u32,
    #[serde(flatten)]
    pub request: SignedRequest,
    pub expires: u64,
}

/// `GET .../uploads/{visibility}/{uploadId}` and the 202 of a complete still in progress.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadStatus {
    pub upload_id: String,
    /// `pending`, `ready`, `refused` or `aborted`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<CompanyAsset>,
    /// Why it was refused: the status, code and message a small upload of the file gets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusalJson>,
}

#[derive(Debug, Serialize)]
pub struct RefusalJson {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl UploadStatus {
    pub fn of(upload: &PendingUpload, asset: Option<CompanyAsset>) -> Self {
        Self {
            upload_id: upload.id.to_string(),
            status: upload.state.as_str(),
            asset,
            refusal: match &upload.state {
                crate::domain::UploadState::Refused(Refusal {
                    status,
                    code,
                    message,
                }) => Some(RefusalJson {
                    status: *status,
                    code: code.clone(),
                    message: message.clone(),
                }),
                _ => None,
            },
        }
    }
}

/// `POST /api/v1/partner/asset/upload-tokens`: the bounds of a new upload token.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MintUploadToken {
    /// `public` or `private`: the only visibility the token uploads to.
    pub visibility: String,
    /// The largest file it may send, in bytes (default and most: `MAX_DIRECT_UPLOAD_BYTES`).
    pub max_bytes: Option<u64>,
    /// Seconds it lives (60 to 3600, default 900).
    pub expires_in: Option<u64>,
}

impl MintUploadToken {
    /// Errors: 400 `invalid_body`.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!(
                    "the body must be {{\"visibility\": \"public\"|\"private\", \"maxBytes\"?, \"expiresIn\"?}}: {err}"
                ),
            )
        })
    }
}

/// The 201 answer to a mint: the token itself is shown here once and never again.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MintedUploadToken {
    pub token: String,
    /// Its public id, recorded on the uploads it starts.
    pub token_id: String,
    pub visibility: &'static str,
    pub max_bytes: u64,
    /// Unix milliseconds from which it is refused.
    pub expires_at: i64,
}
