//! The JSON bodies of `POST /api/v1/partner/asset/{assetKey}/url` (openapi.yaml, `SignAssetUrl`,
//! `SignedAssetUrl`).

use serde::{Deserialize, Serialize};

use super::ApiError;

/// What to sign. An empty body is every default: the original, for
/// `DEFAULT_SIGNED_URL_LIFETIME`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignAssetUrl {
    /// `thumb`, `medium`, `large` or `largeX2` (any case); absent or null: the original.
    pub size: Option<String>,
    /// Seconds the URL works, 1 to `MAX_SIGNED_URL_LIFETIME` (604,800).
    pub expires_in: Option<u64>,
}

impl SignAssetUrl {
    /// Errors: 400 `invalid_body` for a body that is neither empty nor this object (unknown
    /// fields included: a misspelt `expiresIn` must not silently mean the default).
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        serde_json::from_slice(body).map_err(|err| {
            ApiError::bad_request(
                "invalid_body",
                format!(
                    "the body must be empty or {{\"size\"?: \"thumb\"|\"medium\"|\"large\"|\"largeX2\", \"expiresIn\"?: seconds}}: {err}"
                ),
            )
        })
    }
}

/// The 201 answer: a URL that reads the asset (or the rendition) without any header.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedAssetUrl {
    /// Absolute, on the API's base URL: `{base}/api/v1/partner/asset/{key}?[size=..&]expires=..&signature=..`.
    pub url: String,
    /// Unix milliseconds from which the URL answers 404 (like every time in this API).
    pub expires_at: i64,
    /// The rendition it reads; null for the original.
    pub size: Option<&'static str>,
}
