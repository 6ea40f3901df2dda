//! `POST /api/v1/partner/asset/{assetKey}/url`: the owner of an asset mints a URL that reads it
//! (or one of its renditions) without any header until it expires, for `<img>` tags and links on
//! a partner's pages. What the URL carries and how `get-asset` checks it: `domain::signature`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::owned::owned_asset;
use crate::app::App;
use crate::auth::now_ms;
use crate::domain::{RenditionSize, SignedUrlGrant, signed_url_lifetime};
use crate::http::{ApiError, SignAssetUrl, SignedAssetUrl, base_url, json_response, observed};

/// Answers 201 [`SignedAssetUrl`]. Errors: 401 without a valid API key; 404 for an unknown or
/// deleted asset or another company's (public ones too: only the owner signs), byte for byte
/// get-asset's 404; 400 `invalid_body` / `invalid_field` for a body that is not a
/// [`SignAssetUrl`], an unknown `size` or an `expiresIn` outside 1..=604,800 s; 400
/// `invalid_field` for a `size` the asset has no rendition of (not an image); 409
/// `asset_inactive` for an inactive asset (signed URLs never serve one); 503 when the signing
/// secret or storage is unavailable.
pub async fn sign_asset_url(app: &App, req: Request) -> Response<Body> {
    observed("POST /{assetKey}/url", req, |req| async move {
        try_sign(app, &req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_sign(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    // Only the owner signs, whatever the asset's visibility: anything else is get-asset's 404.
    let (_, asset) = owned_asset(app, req, false).await?;
    let body = SignAssetUrl::parse(req.body().as_ref())?;
    let size = body
        .size
        .as_deref()
        .map(|raw| {
            RenditionSize::parse(raw).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "size must be one of thumb, medium, large, largeX2 (any case), or absent for \
                     the original",
                )
            })
        })
        .transpose()?;
    let lifetime = signed_url_lifetime(body.expires_in)
        .map_err(|err| ApiError::bad_request("invalid_field", err.to_string()))?;
    // A URL minted now would answer 404 until the asset is active again: refuse it, so the
    // partner learns why instead of handing out a broken link.
    if !asset.active {
        return Err(ApiError::Conflict {
            code: "asset_inactive",
            message: "the asset is inactive and signed URLs never serve inactive assets; \
                      activate it first (PATCH {\"active\": true})"
                .into(),
        });
    }
    if let Some(size) = size
        && asset.rendition(size).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!(
                "this asset has no {size} rendition (only images have renditions); omit size to sign the original"
            ),
        ));
    }
    let keys = app.signing.keys().await?;
    let grant = SignedUrlGrant {
        key: asset.key.clone(),
        size,
        expires_s: now_ms() / 1000 + lifetime.as_secs() as i64,
    };
    let signature = grant.sign(&keys);
    let size_param = size.map_or(String::new(), |s| format!("size={s}&"));
    let url = format!(
        "{}/api/v1/partner/asset/{}?{size_param}expires={}&signature={signature}",
        base_url(&app.config, req),
        grant.key,
        grant.expires_s,
    );
    tracing::info!(
        size = size.map_or("original", RenditionSize::as_str),
        lifetime_s = lifetime.as_secs(),
        "signed URL minted"
    );
    Ok(json_response(
        StatusCode::CREATED,
        &SignedAssetUrl {
            url,
            expires_at: grant.expires_s * 1000,
            size: size.map(RenditionSize::as_str),
        },
    ))
}
