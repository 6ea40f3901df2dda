//! What every owner-only route (PATCH, DELETE, signing) starts with: the caller's company, from
//! its API key, and the asset it names, if it is that company's.

use lambda_http::Request;

use crate::app::App;
use crate::auth::{self, AuthError};
use crate::domain::{Asset, CompanyId};
use crate::http::{ApiError, asset_key_param, presented_api_key};

/// The calling company and its asset named by the path. Errors: 401 without a valid API key; 404
/// for a key that names no asset, another company's asset (the same answer, byte for byte, so a
/// key's existence never leaks), or, unless `deleted_too`, a deleted one.
pub(super) async fn owned_asset(
    app: &App,
    req: &Request,
    deleted_too: bool,
) -> Result<(CompanyId, Asset), ApiError> {
    let company = auth::company_for_key(app.keys.as_ref(), presented_api_key(req)?)
        .await?
        .ok_or(AuthError::Missing)?;
    let key = asset_key_param(req)?;
    let asset = app
        .assets
        .find(&key)
        .await?
        .filter(|asset| asset.company_id == company && (deleted_too || !asset.deleted))
        .ok_or(ApiError::NotFound)?;
    Ok((company, asset))
}

/// Conditional writes retry this often on a lost race before answering 409: each retry re-reads
/// the asset, so only a burst of changes to one asset can exhaust them.
pub(super) const WRITE_ATTEMPTS: usize = 3;
