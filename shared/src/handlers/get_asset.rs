use std::time::Duration;

use headers::{ETag, HeaderMapExt, IfNoneMatch};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, now_ms};
use crate::domain::{AssetKey, Reader, RenditionSize, SignedUrlGrant};
use crate::http::{
    ApiError, AssetHeaders, Part, SignedUrlParams, asset_head, asset_key_param, asset_response,
    handle_error_flag, not_modified, observed, partial_response, presented_api_key, redirect,
    rendition_param, requested_part, signed_url_params, without_body,
};
use crate::storage::PresignedGet;

/// `GET` and `HEAD /api/v1/partner/asset/{assetKey}`. A HEAD gets the GET's status and headers
/// and no body; its inline answers are made from the metadata alone. With `expires` and
/// `signature` (a URL minted by `sign_asset_url`) and no API key, a private asset is served to
/// whoever holds the URL until it expires, `Cache-Control: private, max-age=<seconds it still
/// lives>` (at most 30 days); a changed, expired or foreign signature is a 404, the signing
/// secret unavailable a 503.
pub async fn get_asset(app: &App, req: Request) -> Response<Body> {
    observed("GET /{assetKey}", req, |req| async move {
        let response = match handle_error_flag(&req) {
            Ok(placeholder) => try_get(app, &req)
                .await
                .unwrap_or_else(|err| err.into_response(placeholder)),
            Err(err) => err.into_response(false),
        };
        if req.method() == Method::HEAD {
            without_body(response)
        } else {
            response
        }
    })
    .await
}

async fn try_get(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let company = auth::company_for_key(app.keys.as_ref(), presented_api_key(req)?).await?;
    let key = asset_key_param(req)?;
    let wanted = rendition_param(req)?;
    // An API key decides who reads, signature parameters or not; without one, a signed URL's
    // parameters are checked before any storage is read, and its remaining life bounds caching.
    let signed = match company {
        Some(_) => None,
        None => signed_url_params(req)?,
    };
    let signed_for_s = match signed {
        Some(params) => Some(verified(app, &key, wanted, &params).await?),
        None => None,
    };
    let reader = match (&company, signed_for_s) {
        (Some(company), _) => Reader::Company(company),
        (None, Some(_)) => Reader::SignedUrl,
        (None, None) => Reader::Anonymous,
    };
    // Unknown, deleted and other companies' private assets all look the same: not found.
    let asset = app
        .assets
        .find(&key)
        .await?
        .filter(|asset| asset.readable_by(reader))
        .ok_or(ApiError::NotFound)?;
    // The original, or one of its renditions: a non-image has none, so asking for one is a 404.
    let (object_key, size, headers) = match wanted {
        None => (
            asset.object_key.clone(),
            asset.size,
            AssetHeaders::for_asset(&asset),
        ),
        Some(wanted) => {
            let rendition = asset.rendition(wanted).ok_or(ApiError::NotFound)?;
            (
                asset.rendition_object_key(wanted),
                rendition.bytes,
                AssetHeaders::for_rendition(&asset, rendition),
            )
        }
    };
    let headers = match signed_for_s {
        Some(remaining_s) => headers.for_signed_url(remaining_s),
        None => headers,
    };
    if client_copy_is_current(req, &headers.etag) {
        return Ok(not_modified(&headers));
    }
    if size <= app.config.inline_max_bytes {
        return inline(app, req, &asset.key, &object_key, size, &headers).await;
    }
    // Too large for a Lambda response: hand the client a short-lived direct download, which
    // never outlives the signed URL it was reached through.
    let presign_ttl = signed_for_s.map_or(app.config.presign_ttl, |remaining_s| {
        app.config.presign_ttl.min(Duration::from_secs(remaining_s))
    });
    let cache_control = AssetHeaders::presigned_cache_control(presign_ttl);
    let url = app
        .blobs
        .presign_get(
            &object_key,
            &PresignedGet {
                expires_in: presign_ttl,
                content_type: headers.content_type.clone(),
                content_disposition: headers.content_disposition.clone(),
                cache_control: cache_control.clone(),
            },
        )
        .await?;
    Ok(redirect(&url, &headers, &cache_control))
}

/// Checks a signed URL's parameters against `key` and the `size` asked for (both are signed) with
/// the current and previous signing secrets; answers the seconds it still lives. A changed,
/// expired or foreign signature is the 404 of an unknown asset; an unreadable secret a 503.
async fn verified(
    app: &App,
    key: &AssetKey,
    size: Option<RenditionSize>,
    params: &SignedUrlParams,
) -> Result<u64, ApiError> {
    let keys = app.signing.keys().await?;
    let grant = SignedUrlGrant {
        key: key.clone(),
        size,
        expires_s: params.expires_s,
    };
    let now_s = now_ms() / 1000;
    grant
        .verify(&keys, &params.signature, now_s)
        .map_err(|refusal| {
            // Why, for the operator; never the signature itself.
            tracing::info!(%refusal, "signed URL refused");
            ApiError::NotFound
        })?;
    Ok(grant.remaining_s(now_s))
}

/// An answer small enough to carry its bytes: a HEAD's headers (nothing read), the whole
/// representation of `size` bytes, one range of it, or a 416.
async fn inline(
    app: &App,
    req: &Request,
    asset_key: &AssetKey,
    object_key: &str,
    size: u64,
    headers: &AssetHeaders,
) -> Result<Response<Body>, ApiError> {
    let part = requested_part(req.method(), req.headers(), &headers.etag, size);
    if part == Part::Unsatisfiable {
        return Err(ApiError::RangeNotSatisfiable {
            complete_length: size,
        });
    }
    if req.method() == Method::HEAD {
        return Ok(asset_head(headers, size));
    }
    let bytes = match &part {
        Part::Bytes(range) => app.blobs.get_range(object_key, range.clone()).await?,
        Part::Whole | Part::Unsatisfiable => app.blobs.get(object_key).await?,
    };
    // Only possible if a metadata write landed after its upload had been given up on: there is
    // nothing to serve, so the asset does not exist for the client.
    let bytes = bytes.ok_or_else(|| {
        tracing::error!(%asset_key, "metadata exists but the object is missing");
        ApiError::NotFound
    })?;
    Ok(match part {
        Part::Bytes(range) => partial_response(headers, range, size, Vec::from(bytes)),
        Part::Whole | Part::Unsatisfiable => asset_response(headers, Vec::from(bytes)),
    })
}

fn client_copy_is_current(req: &Request, etag: &str) -> bool {
    let Some(if_none_match) = req.headers().typed_get::<IfNoneMatch>() else {
        return false;
    };
    etag.parse::<ETag>()
        .is_ok_and(|etag| !if_none_match.precondition_passes(&etag))
}
