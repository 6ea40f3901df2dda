//! The JSON `@uppy/aws-s3` 4.x/5.x exchanges with its backend (its `endpoint` option), as its
//! source reads and writes it (`src/index.ts`, `src/HTTPCommunicationQueue.ts` at the
//! `@uppy/aws-s3@5.1.0` tag; Companion's `controllers/s3.js` answers the same shapes). Field names
//! are Uppy's, S3-cased where Uppy uses S3's (`PartNumber`, `ETag`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ApiError, CompanyAsset};
use crate::storage::{PresignedPost, PresignedRequest, UploadedPart};

/// `POST s3/multipart`'s body: `{filename, type, metadata}`. Uppy sends no size. `type` is not
/// trusted (the content is sniffed at finalize), so it is not read.
#[derive(Debug, Default, Deserialize)]
pub struct UppyCreateMultipart {
    pub filename: Option<String>,
    /// Every allowed `file.meta` field as a string; `assetType` is read from here.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl UppyCreateMultipart {
    /// Errors: 400 `invalid_body`.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!("the body must be {{\"filename\", \"type\", \"metadata\"}}: {err}"),
            )
        })
    }

    /// `metadata.assetType` when it is a string.
    pub fn asset_type(&self) -> Option<&str> {
        self.metadata.get("assetType").and_then(|v| v.as_str())
    }
}

/// `GET s3/params`'s answer: a browser form POST (`fields` first, the file last). Uppy defaults the
/// method to POST and needs `fields` to be an object.
#[derive(Debug, Serialize)]
pub struct UppyParams {
    pub method: &'static str,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    /// Seconds the form stays valid.
    pub expires: u64,
}

impl UppyParams {
    pub fn new(post: PresignedPost, expires: u64) -> Self {
        Self {
            method: "POST",
            url: post.url,
            fields: post.fields,
            headers: BTreeMap::new(),
            expires,
        }
    }
}

/// `POST s3/multipart`'s answer. Uppy sends `uploadId` back in every later path and `key` as a
/// query parameter; `uploadId` is this service's upload id (S3's own never leaves the service),
/// and `key` is only echoed, never trusted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UppyCreated {
    pub upload_id: String,
    pub key: String,
}

/// `GET s3/multipart/{uploadId}/{partNumber}`'s answer. `expires` (seconds) becomes Uppy's
/// timeout for the part's `PUT`.
#[derive(Debug, Serialize)]
pub struct UppySignedPart {
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, String>,
    pub expires: u64,
}

impl UppySignedPart {
    pub fn new(request: PresignedRequest, expires: u64) -> Self {
        Self {
            url: request.url,
            method: request.method,
            headers: request.headers.into_iter().collect(),
            expires,
        }
    }
}

/// One element of `GET s3/multipart/{uploadId}`'s answer (a JSON array): Uppy matches
/// `PartNumber` as a number and sends `ETag` back verbatim, quotes included.
#[derive(Debug, Serialize)]
pub struct UppyPart {
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "Size")]
    pub size: u64,
}

impl From<UploadedPart> for UppyPart {
    fn from(part: UploadedPart) -> Self {
        Self {
            part_number: part.number,
            etag: part.etag,
            size: part.size,
        }
    }
}

/// `POST s3/multipart/{uploadId}/complete`'s answer: Uppy takes `location` as the file's
/// `uploadURL` and hands the whole body to `upload-success`.
#[derive(Debug, Serialize)]
pub struct UppyCompleted {
    /// The asset's URL (`origURL`), or while finalize still runs, the upload's status URL.
    pub location: String,
    /// The asset key (reserved at start, so known before the asset is ready).
    pub key: String,
    /// `ready`, or `pending` while the bucket's event finalizes a large file.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<CompanyAsset>,
}
