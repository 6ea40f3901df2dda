//! `PATCH /api/v1/partner/asset/{assetKey}`: rename, re-order, hide or show an asset.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use super::owned::{WRITE_ATTEMPTS, owned_asset};
use crate::app::App;
use crate::auth::now_ms;
use crate::domain::Precondition;
use crate::http::{ApiError, AssetPatch, CompanyAsset, base_url, if_match, observed};
use crate::storage::StorageError;

/// Answers 200 with the changed [`CompanyAsset`] and its new `ETag`. The owner only: another
/// company's asset, an unknown or a deleted one is a 404. With `If-Match`, the change applies
/// only to that version: any other current version is a 412 and nothing is written, so two
/// clients editing at once never lose an update. Without it, the change applies to whatever is
/// current (re-read on a race). Errors: 400 (body, `If-Match`), 401, 404, 409 (a burst of
/// concurrent changes outlasted the retries), 412, 503.
pub async fn update_asset(app: &App, req: Request) -> Response<Body> {
    observed("PATCH /{assetKey}", req, |req| async move {
        try_update(app, &req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_update(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let precondition = if_match(req)?;
    let change = AssetPatch::parse(req.body().as_ref())?;
    for _ in 0..WRITE_ATTEMPTS {
        let (_, mut asset) = owned_asset(app, req, false).await?;
        if !precondition.holds_for(&asset) {
            return Err(ApiError::PreconditionFailed);
        }
        let read_version = asset.version;
        asset.apply(&change, now_ms());
        match app.assets.replace(&asset, read_version).await {
            Ok(()) => {
                tracing::info!(asset_key = %asset.key, version = asset.version, "asset updated");
                let location = app.blobs.location(&asset.object_key);
                return Ok(
                    CompanyAsset::new(&asset, &base_url(&app.config, req), location)
                        .response(StatusCode::OK),
                );
            }
            // Someone changed it after our read: the version the client named is gone.
            Err(StorageError::Conflict) if matches!(precondition, Precondition::Tags(_)) => {
                return Err(ApiError::PreconditionFailed);
            }
            Err(StorageError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(StorageError::Conflict.into())
}
