//! `GET /api/v1/partner/asset`: the calling company's assets, newest first, a page at a time.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, AuthError};
use crate::domain::{ListQuery, open_cursor, seal_cursor};
use crate::http::{
    ApiError, AssetPage, CompanyAsset, base_url, json_response, list_params, observed,
    presented_api_key,
};

/// Answers 200 [`AssetPage`]: up to `limit` (1 to 200, default 50) of the caller's assets that
/// match the filters (`type`, `secured`, `active`, `deleted`; by default not deleted), and a
/// `nextCursor` while more may follow. A cursor is sealed for the company it was given to:
/// another company's, an altered or a made-up one is a 400 `invalid_cursor` that says nothing
/// more. Errors: 400, 401, 503 (storage, or the signing secret that seals cursors).
pub async fn list_assets(app: &App, req: Request) -> Response<Body> {
    observed("GET /", req, |req| async move {
        try_list(app, &req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let company = auth::company_for_key(app.keys.as_ref(), presented_api_key(req)?)
        .await?
        .ok_or(AuthError::Missing)?;
    let params = list_params(req)?;
    let keys = app.signing.keys().await?;
    let after = params
        .cursor
        .as_deref()
        .map(|cursor| {
            open_cursor(&keys, &company, cursor)
                .map_err(|err| ApiError::bad_request("invalid_cursor", err.to_string()))
        })
        .transpose()?;
    let page = app
        .assets
        .list(&ListQuery {
            company: company.clone(),
            filter: params.filter,
            limit: params.limit,
            after,
        })
        .await?;
    let base = base_url(&app.config, req);
    let body = AssetPage {
        assets: page
            .assets
            .iter()
            .map(|asset| CompanyAsset::new(asset, &base, app.blobs.location(&asset.object_key)))
            .collect(),
        next_cursor: page
            .next
            .as_ref()
            .map(|next| seal_cursor(&keys, &company, next)),
    };
    Ok(json_response(StatusCode::OK, &body))
}
