//! `POST /api/v1/partner/asset/upload-tokens`: a partner's server mints a short-lived upload token
//! for one web page (issue 10), so the page never holds the partner's API key.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, AuthError};
use crate::domain::{Visibility, token_bounds};
use crate::http::presented_api_key;
use crate::http::{ApiError, MintUploadToken, MintedUploadToken, json_response, observed};

/// Answers 201 [`MintedUploadToken`] (the token shown this once). Only an API key may mint: a
/// token presented here is a 401. Errors: 400 `invalid_body` / `invalid_field` for a body that is
/// not a [`MintUploadToken`] or bounds out of range (`maxBytes` 1..=`MAX_DIRECT_UPLOAD_BYTES`,
/// `expiresIn` 60..=3600 s).
pub async fn mint_upload_token(app: &App, req: Request) -> Response<Body> {
    observed("POST /upload-tokens", req, |req| async move {
        try_mint(app, &req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_mint(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let company = auth::company_for_key(app.keys.as_ref(), presented_api_key(req)?)
        .await?
        .ok_or(AuthError::Missing)?;
    let body = MintUploadToken::parse(req.body().as_ref())?;
    let visibility = Visibility::parse(&body.visibility).ok_or_else(|| {
        ApiError::bad_request("invalid_field", "visibility must be public or private")
    })?;
    let (max_bytes, lifetime) = token_bounds(
        body.max_bytes,
        body.expires_in,
        app.config.upload_limits.max_bytes,
    )
    .map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))?;
    let (secret, record) =
        auth::issue_upload_token(app.keys.as_ref(), company, visibility, max_bytes, lifetime)
            .await?;
    tracing::info!(
        token_id = record.token_id(),
        visibility = visibility.as_str(),
        "upload token minted"
    );
    Ok(json_response(
        StatusCode::CREATED,
        &MintedUploadToken {
            token: secret.expose().to_owned(),
            token_id: record.token_id().to_owned(),
            visibility: visibility.as_str(),
            max_bytes,
            expires_at: record.expires_at_s * 1000,
        },
    ))
}
