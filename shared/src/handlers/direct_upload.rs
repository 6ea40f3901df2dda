//! The direct-upload routes under `/api/v1/partner/asset/uploads/{visibility}` (issue 10): start,
//! part URLs, complete, status and abort, each also in the form `@uppy/aws-s3` calls under the same
//! base (`s3/params`, `s3/multipart/...`; [`Protocol::Uppy`]). The bytes go to S3; these only sign,
//! check and record. Callers are a company's API key or an upload token ([`Uploader`]).

use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use super::finalize::{Finalized, Trigger, finalize};
use super::upload::choose_name;
use crate::app::App;
use crate::auth::{self, AuthError, now_ms};
use crate::domain::{
    AssetKey, AssetType, PendingUpload, Transfer, UploadId, UploadLimits, UploadState, Uploader,
    parse_sha256, part_count, part_size, plan_transfer,
};
use crate::http::{
    ApiError, CompanyAsset, CompleteUpload, PartUrl, Protocol, StartUpload, StartedUpload,
    UploadPath, UploadStatus, UppyCompleted, UppyCreateMultipart, UppyCreated, UppyParams,
    UppyPart, UppySignedPart, base_url, json_response, observed, presented_api_key, upload_path,
};
use crate::storage::{Claim, Transition};

/// How long `complete` waits for a finalize that another trigger is running (the bucket's event
/// usually starts one as soon as the bytes land) before answering 202: inside API Gateway's
/// 30-second limit with room for the rest of the request.
const COMPLETE_WAIT: Duration = Duration::from_secs(20);
const COMPLETE_POLL: Duration = Duration::from_millis(250);

/// `POST .../uploads/{visibility}`: records a pending upload and answers how to send the bytes
/// (201 [`StartedUpload`]). Errors: 400 for a body that is not a [`StartUpload`] or a bad field,
/// 413 above `MAX_DIRECT_UPLOAD_BYTES`, 401 without a valid key.
pub async fn start_upload(app: &App, req: Request) -> Response<Body> {
    observed(
        "POST /uploads/{visibility}[/s3/multipart] | GET .../s3/params",
        req,
        |req| async move { answer(&req, try_start(app, &req).await) },
    )
    .await
}

/// `GET .../uploads/{visibility}/{uploadId}/parts/{partNumber}`: a presigned `PUT` for one part.
pub async fn part_url(app: &App, req: Request) -> Response<Body> {
    observed(
        "GET /uploads/{visibility}/{uploadId}/parts/{partNumber} | .../s3/multipart/{uploadId}/{partNumber}",
        req,
        |req| async move {
            answer(&req, try_part_url(app, &req).await)
        },
    )
    .await
}

/// `POST .../uploads/{visibility}/{uploadId}/complete`: finalizes the upload and answers the
/// `CompanyAsset` (200), the refusal (the small upload's status and body), or 202 with the status
/// when another finalize of it is still running or the file is above
/// [`super::finalize::SYNC_FINALIZE_MAX_BYTES`] (the bucket's event finalizes it; poll the status).
pub async fn complete_upload(app: &App, req: Request) -> Response<Body> {
    observed(
        "POST /uploads/{visibility}[/s3/multipart]/{uploadId}/complete",
        req,
        |req| async move { answer(&req, try_complete(app, &req).await) },
    )
    .await
}

/// `GET .../uploads/{visibility}/{uploadId}`: `pending`, `ready` (with the asset), `refused`
/// (with why) or `aborted`.
pub async fn upload_status(app: &App, req: Request) -> Response<Body> {
    observed(
        "GET /uploads/{visibility}[/s3/multipart]/{uploadId}",
        req,
        |req| async move { answer(&req, try_status(app, &req).await) },
    )
    .await
}

/// `DELETE .../uploads/{visibility}/{uploadId}`: ends a pending upload and removes its bytes and
/// parts; from then on it is unknown (404). A finished or finalizing one is a 409.
pub async fn abort_upload(app: &App, req: Request) -> Response<Body> {
    observed(
        "DELETE /uploads/{visibility}[/s3/multipart]/{uploadId}",
        req,
        |req| async move { answer(&req, try_abort(app, &req).await) },
    )
    .await
}

/// The response, with errors in the JSON of the path's protocol.
fn answer(req: &Request, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|err| match upload_path(req).map(|p| p.protocol) {
        Ok(Protocol::Uppy) => err.into_uppy_response(),
        _ => err.into_response(false),
    })
}

/// Who calls, and that they may upload to the path's visibility. Errors: 401 without a valid,
/// live credential; 403 `token_visibility` for a token of the other visibility.
async fn caller(app: &App, req: &Request, path: &UploadPath) -> Result<Uploader, ApiError> {
    let uploader = auth::uploader_for(app.keys.as_ref(), presented_api_key(req)?, now_ms() / 1000)
        .await?
        .ok_or(AuthError::Missing)?;
    if !uploader.may_upload_to(path.visibility) {
        return Err(ApiError::Forbidden {
            code: "token_visibility",
            message: format!(
                "this upload token is not for {} uploads",
                path.visibility.as_str()
            ),
        });
    }
    Ok(uploader)
}

/// Records a new pending upload of `uploader` (bytes not yet sent): the asset key is reserved and
/// the upload expires after `PENDING_UPLOAD_TTL_SECONDS`.
fn new_upload(
    app: &App,
    uploader: &Uploader,
    path: &UploadPath,
    name: String,
    declared_type: Option<AssetType>,
    declared_size: Option<u64>,
    declared_sha256: Option<String>,
) -> PendingUpload {
    let now = now_ms();
    PendingUpload {
        id: UploadId::generate(),
        company_id: uploader.company().clone(),
        visibility: path.visibility,
        name,
        declared_type,
        declared_size,
        declared_sha256,
        max_bytes: uploader.max_bytes(app.config.upload_limits.max_bytes),
        token_id: uploader.token_id().map(str::to_owned),
        asset_key: AssetKey::generate(),
        transfer: Transfer::SingleRequest,
        state: UploadState::Pending,
        created_ms: now,
        expires_at_s: now / 1000 + app.config.pending_upload_ttl.as_secs() as i64,
    }
}

/// Stores `upload`; on failure the multipart upload just created for it is aborted.
async fn record(app: &App, upload: &PendingUpload) -> Result<(), ApiError> {
    if let Err(err) = app.uploads.insert(upload).await {
        if let Transfer::Multipart { s3_upload_id } = &upload.transfer {
            let _ = app
                .staging
                .abort_multipart(&upload.staging_key(), s3_upload_id)
                .await;
        }
        return Err(err.into());
    }
    Ok(())
}

fn parse_asset_type(raw: Option<&str>) -> Result<Option<AssetType>, ApiError> {
    raw.map(str::parse::<AssetType>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))
}

async fn try_start(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = upload_path(req)?;
    let uploader = caller(app, req, &path).await?;
    match (path.protocol, &path.upload_id, path.rest.as_slice()) {
        (Protocol::Native, None, []) => start_native(app, req, &uploader, &path).await,
        (Protocol::Uppy, None, [params]) if params == "params" => {
            uppy_params(app, req, &uploader, &path).await
        }
        (Protocol::Uppy, None, []) => uppy_create(app, req, &uploader, &path).await,
        _ => Err(ApiError::NotFound),
    }
}

async fn start_native(
    app: &App,
    req: &Request,
    uploader: &Uploader,
    path: &UploadPath,
) -> Result<Response<Body>, ApiError> {
    let body = StartUpload::parse(req.body().as_ref())?;
    let declared_type = parse_asset_type(body.asset_type.as_deref())?;
    let declared_sha256 = body
        .sha256
        .as_deref()
        .map(|raw| {
            parse_sha256(raw).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_field",
                    "sha256 must be 64 hex digits or 44 characters of base64",
                )
            })
        })
        .transpose()?;
    let limits = UploadLimits {
        max_bytes: uploader.max_bytes(app.config.upload_limits.max_bytes),
        ..app.config.upload_limits.clone()
    };
    let multipart = plan_transfer(body.size, body.multipart, &limits)?;
    let name = choose_name(body.name.as_deref(), None)?;
    let mut upload = new_upload(
        app,
        uploader,
        path,
        name,
        declared_type,
        Some(body.size),
        declared_sha256,
    );
    let staging_key = upload.staging_key();
    let ttl = app.config.upload_url_ttl;
    let single = if multipart {
        let s3_upload_id = app.staging.create_multipart(&staging_key).await?;
        upload.transfer = Transfer::Multipart { s3_upload_id };
        None
    } else {
        Some(
            app.staging
                .presign_put(
                    &staging_key,
                    body.size,
                    upload.declared_sha256.as_deref(),
                    ttl,
                )
                .await?,
        )
    };
    record(app, &upload).await?;
    let url = upload_url(app, req, &upload);
    let started = StartedUpload {
        upload_id: upload.id.to_string(),
        status: upload.state.as_str(),
        expires_at: upload.expires_at_s * 1000,
        upload: single.map(Into::into),
        part_size: multipart.then(|| part_size(body.size)),
        part_count: multipart.then(|| part_count(body.size)),
        parts_url: multipart.then(|| format!("{url}/parts")),
        complete_url: format!("{url}/complete"),
        status_url: url,
    };
    Ok(json_response(StatusCode::CREATED, &started))
}

/// Uppy's `GET s3/params?filename=...&metadata[assetType]=...`: a single-request upload that
/// announces no size, so the form's policy caps it at the caller's limit and finalize (run by the
/// bucket's event: Uppy never calls back) checks the rest.
async fn uppy_params(
    app: &App,
    req: &Request,
    uploader: &Uploader,
    path: &UploadPath,
) -> Result<Response<Body>, ApiError> {
    let query = req.query_string_parameters_ref();
    let param = |name: &str| query.and_then(|q| q.first(name));
    let declared_type = parse_asset_type(param("metadata[assetType]"))?;
    let name = choose_name(None, param("filename"))?;
    let upload = new_upload(app, uploader, path, name, declared_type, None, None);
    let ttl = app.config.upload_url_ttl;
    let form = app
        .staging
        .presign_post(&upload.staging_key(), upload.max_bytes, ttl)
        .await?;
    record(app, &upload).await?;
    Ok(json_response(
        StatusCode::OK,
        &UppyParams::new(form, ttl.as_secs()),
    ))
}

/// Uppy's `POST s3/multipart` (`{filename, type, metadata}`): a multipart upload of unannounced
/// size, capped at finalize.
async fn uppy_create(
    app: &App,
    req: &Request,
    uploader: &Uploader,
    path: &UploadPath,
) -> Result<Response<Body>, ApiError> {
    let body = UppyCreateMultipart::parse(req.body().as_ref())?;
    let declared_type = parse_asset_type(body.asset_type())?;
    let name = choose_name(None, body.filename.as_deref())?;
    let mut upload = new_upload(app, uploader, path, name, declared_type, None, None);
    let staging_key = upload.staging_key();
    let s3_upload_id = app.staging.create_multipart(&staging_key).await?;
    upload.transfer = Transfer::Multipart { s3_upload_id };
    record(app, &upload).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &UppyCreated {
            upload_id: upload.id.to_string(),
            key: staging_key,
        },
    ))
}

async fn try_part_url(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = upload_path(req)?;
    let uploader = caller(app, req, &path).await?;
    let part_number = match (path.protocol, path.rest.as_slice()) {
        (Protocol::Native, [parts, number]) if parts == "parts" => number.parse::<u32>().ok(),
        (Protocol::Uppy, [number]) => number.parse::<u32>().ok(),
        _ => return Err(ApiError::NotFound),
    };
    let upload = own_upload(app, &uploader, &path).await?;
    let Transfer::Multipart { s3_upload_id } = &upload.transfer else {
        return Err(not_multipart());
    };
    if upload.state != UploadState::Pending {
        return Err(settled_conflict(&upload));
    }
    let parts = upload
        .declared_size
        .map_or(crate::domain::MAX_PARTS, part_count);
    let part_number = part_number
        .filter(|n| (1..=parts).contains(&u64::from(*n)))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_part_number",
                format!("partNumber must be a whole number from 1 to {parts}"),
            )
        })?;
    let ttl = app.config.upload_url_ttl;
    let request = app
        .staging
        .presign_part(&upload.staging_key(), s3_upload_id, part_number, ttl)
        .await?;
    if path.protocol == Protocol::Uppy {
        return Ok(json_response(
            StatusCode::OK,
            &UppySignedPart::new(request, ttl.as_secs()),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &PartUrl {
            part_number,
            request: request.into(),
            expires: ttl.as_secs(),
        },
    ))
}

async fn try_complete(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = upload_path(req)?;
    let uploader = caller(app, req, &path).await?;
    if path.rest != ["complete"] {
        return Err(ApiError::NotFound);
    }
    let upload = own_upload(app, &uploader, &path).await?;
    let company = upload.company_id.clone();
    let parts = CompleteUpload::parse(req.body().as_ref())?.uploaded_parts();
    let base = base_url(&app.config, req);
    let started = tokio::time::Instant::now();
    loop {
        match finalize(
            app,
            &company,
            &upload.id,
            Trigger::Complete,
            parts.as_deref(),
        )
        .await?
        {
            Finalized::Ready(asset) => {
                let location = app.blobs.location(&asset.object_key);
                let asset = CompanyAsset::new(&asset, &base, location);
                if path.protocol == Protocol::Uppy {
                    return Ok(json_response(
                        StatusCode::OK,
                        &UppyCompleted {
                            location: asset.orig_url.clone(),
                            key: asset.key.clone(),
                            status: UploadState::Ready.as_str(),
                            asset: Some(asset),
                        },
                    ));
                }
                return Ok(json_response(StatusCode::OK, &asset));
            }
            Finalized::InProgress if started.elapsed() < COMPLETE_WAIT => {
                // Worth waiting for unless the file is one `complete` leaves to the event.
                let large = app
                    .staging
                    .head(&upload.staging_key())
                    .await?
                    .is_some_and(|o| o.size > super::finalize::SYNC_FINALIZE_MAX_BYTES);
                if large {
                    return pending(app, req, &uploader, &path).await;
                }
                tokio::time::sleep(COMPLETE_POLL).await;
            }
            Finalized::InProgress => return pending(app, req, &uploader, &path).await,
        }
    }
}

/// 202 with the upload's status: finalize continues elsewhere.
async fn pending(
    app: &App,
    req: &Request,
    uploader: &Uploader,
    path: &UploadPath,
) -> Result<Response<Body>, ApiError> {
    let upload = own_upload(app, uploader, path).await?;
    if path.protocol == Protocol::Uppy {
        return Ok(json_response(
            StatusCode::ACCEPTED,
            &UppyCompleted {
                location: upload_url(app, req, &upload),
                key: upload.asset_key.to_string(),
                status: upload.state.as_str(),
                asset: None,
            },
        ));
    }
    Ok(json_response(
        StatusCode::ACCEPTED,
        &UploadStatus::of(&upload, None),
    ))
}

async fn try_status(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = upload_path(req)?;
    let uploader = caller(app, req, &path).await?;
    if !path.rest.is_empty() {
        return Err(ApiError::NotFound);
    }
    let upload = own_upload(app, &uploader, &path).await?;
    if path.protocol == Protocol::Uppy {
        return uppy_list_parts(app, &upload).await;
    }
    let asset = match upload.state {
        UploadState::Ready => {
            let asset = app
                .assets
                .find(&upload.asset_key)
                .await?
                .ok_or(ApiError::NotFound)?;
            let location = app.blobs.location(&asset.object_key);
            Some(CompanyAsset::new(
                &asset,
                &base_url(&app.config, req),
                location,
            ))
        }
        _ => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &UploadStatus::of(&upload, asset),
    ))
}

/// Uppy's `GET s3/multipart/{uploadId}` (resuming): the parts S3 holds so far, as a JSON array.
async fn uppy_list_parts(app: &App, upload: &PendingUpload) -> Result<Response<Body>, ApiError> {
    let Transfer::Multipart { s3_upload_id } = &upload.transfer else {
        return Err(not_multipart());
    };
    if upload.state != UploadState::Pending {
        return Err(settled_conflict(upload));
    }
    let parts = app
        .staging
        .list_parts(&upload.staging_key(), s3_upload_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let parts: Vec<UppyPart> = parts.into_iter().map(Into::into).collect();
    Ok(json_response(StatusCode::OK, &parts))
}

async fn try_abort(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = upload_path(req)?;
    let uploader = caller(app, req, &path).await?;
    if !path.rest.is_empty() {
        return Err(ApiError::NotFound);
    }
    let upload = own_upload(app, &uploader, &path).await?;
    // Under the finalize lease, so an abort never races a finalize that is storing the asset.
    let upload = match app
        .uploads
        .claim(&upload.id, now_ms() / 1000, Trigger::Complete.lease())
        .await?
    {
        Claim::Acquired(upload) => upload,
        Claim::Settled(upload) => return Err(settled_conflict(&upload)),
        Claim::Busy => {
            return Err(ApiError::Conflict {
                code: "upload_finalizing",
                message: "the upload is being finalized and can no longer be aborted".into(),
            });
        }
        Claim::Missing => return Err(ApiError::NotFound),
    };
    let staging_key = upload.staging_key();
    if let Transfer::Multipart { s3_upload_id } = &upload.transfer {
        app.staging
            .abort_multipart(&staging_key, s3_upload_id)
            .await?;
    }
    app.blobs.delete(&staging_key).await?;
    match app
        .uploads
        .settle(&upload.id, &UploadState::Aborted)
        .await?
    {
        Transition::Done | Transition::AlreadySettled(UploadState::Aborted) => {}
        other => {
            tracing::error!(upload_id = %upload.id, ?other, "abort found the upload settled");
        }
    }
    let mut upload = upload;
    upload.state = UploadState::Aborted;
    Ok(json_response(
        StatusCode::OK,
        &UploadStatus::of(&upload, None),
    ))
}

/// The upload named by the path, if the caller may act on it (its company's key, or the token
/// that started it), of the path's visibility, not expired and not aborted (an aborted upload is
/// gone): anything else answers the same 404 as an unknown one.
async fn own_upload(
    app: &App,
    uploader: &Uploader,
    path: &UploadPath,
) -> Result<PendingUpload, ApiError> {
    let id = path.upload_id.as_ref().ok_or(ApiError::NotFound)?;
    let upload = app.uploads.find(id).await?.ok_or(ApiError::NotFound)?;
    let expired = upload.state == UploadState::Pending && upload.expires_at_s < now_ms() / 1000;
    let aborted = upload.state == UploadState::Aborted;
    if !upload.accessible_by(uploader) || upload.visibility != path.visibility || expired || aborted
    {
        return Err(ApiError::NotFound);
    }
    Ok(upload)
}

fn not_multipart() -> ApiError {
    ApiError::Conflict {
        code: "not_multipart",
        message: "this upload is sent in one request; it has no parts".into(),
    }
}

fn settled_conflict(upload: &PendingUpload) -> ApiError {
    ApiError::Conflict {
        code: "upload_settled",
        message: format!("the upload is already {}", upload.state.as_str()),
    }
}

/// `{base}/api/v1/partner/asset/uploads/{visibility}/{uploadId}`.
fn upload_url(app: &App, req: &Request, upload: &PendingUpload) -> String {
    format!(
        "{}/api/v1/partner/asset/uploads/{}/{}",
        base_url(&app.config, req),
        upload.visibility.as_str(),
        upload.id
    )
}
