//! `DELETE /api/v1/partner/asset/{assetKey}[?erase=true]`: soft delete with a retention period,
//! or an erasure that leaves nothing of the asset behind.

use futures_util::future::try_join_all;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::owned::{WRITE_ATTEMPTS, owned_asset};
use crate::app::App;
use crate::auth::now_ms;
use crate::domain::{Asset, Precondition};
use crate::http::{ApiError, DeletedAsset, if_match, json_response, observed, query_bool};
use crate::storage::StorageError;

/// Answers 200 [`DeletedAsset`]. The owner only (another company's, or an unknown key: 404).
///
/// - Soft delete (default): from this answer on, every GET, HEAD and rendition of the asset is a
///   404 and it leaves the default list; its bytes and record are purged after `RETENTION_DAYS`
///   by the table's TTL and the `asset-events` function. Deleting a deleted asset changes nothing
///   and answers the same.
/// - `erase=true`: the original and every rendition are deleted from the bucket, then the record
///   itself, before the answer. Bytes go first, so a failure part-way leaves a record a retry
///   finishes, never unlisted bytes. An erased asset is a 404 for every route, this one included.
///
/// `If-Match` applies as on `PATCH` (412). Errors: 400 (`erase`, `If-Match`), 401, 404, 409, 412,
/// 503.
pub async fn delete_asset(app: &App, req: Request) -> Response<Body> {
    observed("DELETE /{assetKey}", req, |req| async move {
        try_delete(app, &req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_delete(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let precondition = if_match(req)?;
    let erase = match req
        .query_string_parameters_ref()
        .and_then(|p| p.first("erase"))
    {
        None => false,
        Some(raw) => query_bool(raw).ok_or_else(|| {
            ApiError::bad_request("invalid_parameter", "erase must be true or false")
        })?,
    };
    for _ in 0..WRITE_ATTEMPTS {
        let (_, asset) = owned_asset(app, req, true).await?;
        if !precondition.holds_for(&asset) {
            return Err(ApiError::PreconditionFailed);
        }
        let outcome = if erase {
            erase_asset(app, &asset).await
        } else {
            soft_delete(app, asset).await
        };
        match outcome {
            Ok(answer) => return Ok(json_response(StatusCode::OK, &answer)),
            Err(StorageError::Conflict) if matches!(precondition, Precondition::Tags(_)) => {
                return Err(ApiError::PreconditionFailed);
            }
            Err(StorageError::Conflict) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(StorageError::Conflict.into())
}

async fn soft_delete(app: &App, mut asset: Asset) -> Result<DeletedAsset, StorageError> {
    let read_version = asset.version;
    if asset.soft_delete(now_ms(), app.config.retention) {
        app.assets.replace(&asset, read_version).await?;
        tracing::info!(asset_key = %asset.key, purge_at_s = asset.purge_at_s, "asset deleted");
    }
    Ok(DeletedAsset {
        key: asset.key.to_string(),
        deleted: true,
        erased: false,
        modified: asset.modified_ms,
        purge_after: asset.purge_at_s.map(|s| s * 1000),
        objects_removed: None,
    })
}

async fn erase_asset(app: &App, asset: &Asset) -> Result<DeletedAsset, StorageError> {
    let objects = asset.object_keys();
    // Deleting a missing object is not an error: a retry after a partial erasure goes through.
    try_join_all(objects.iter().map(|key| app.blobs.delete(key))).await?;
    app.assets.remove(&asset.key, asset.version).await?;
    tracing::info!(asset_key = %asset.key, objects = objects.len(), "asset erased");
    Ok(DeletedAsset {
        key: asset.key.to_string(),
        deleted: true,
        erased: true,
        modified: now_ms(),
        purge_after: None,
        objects_removed: Some(objects.len()),
    })
}
