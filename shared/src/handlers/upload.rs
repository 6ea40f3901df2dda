use bytes::Bytes;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, AuthError, now_ms};
use crate::domain::{Asset, AssetType, NewAsset, Visibility, clean_asset_name, detect_content};
use crate::http::{
    ApiError, CompanyAsset, base_url, json_response, observed, parse_upload_form, presented_api_key,
};

/// Name given to an upload that has neither a `name` field nor a usable filename.
const FALLBACK_NAME: &str = "asset";

/// `POST /api/v1/partner/asset/upload/{private|public}`.
pub async fn upload(app: &App, visibility: Visibility, req: Request) -> Response<Body> {
    let route = match visibility {
        Visibility::Private => "POST /upload/private",
        Visibility::Public => "POST /upload/public",
    };
    observed(route, req, |req| async move {
        try_upload(app, visibility, req)
            .await
            .unwrap_or_else(|err| err.into_response(false))
    })
    .await
}

async fn try_upload(
    app: &App,
    visibility: Visibility,
    req: Request,
) -> Result<Response<Body>, ApiError> {
    let company_id = auth::company_for_key(app.keys.as_ref(), presented_api_key(&req)?)
        .await?
        .ok_or(AuthError::Missing)?;
    let base = base_url(&app.config, &req);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let form = parse_upload_form(
        content_type.as_deref(),
        body_bytes(req.into_body()),
        app.config.max_upload_bytes,
    )
    .await?;

    // Present means it must be one of the types: an empty value is an error, not "absent".
    let declared = form
        .asset_type
        .as_deref()
        .map(str::parse::<AssetType>)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))?;
    let content = detect_content(&form.file, form.filename.as_deref())?;
    content.check_declared(declared)?;
    let dimensions = content.check_image(&form.file, app.config.image_limits)?;
    let name = choose_name(form.name.as_deref(), form.filename.as_deref())?;

    let asset = Asset::create(NewAsset {
        company_id,
        name,
        visibility,
        content: &content,
        bytes: &form.file,
        dimensions,
        now_ms: now_ms(),
    });
    store(app, &asset, form.file).await?;
    let location = app.blobs.location(&asset.object_key);
    Ok(json_response(
        StatusCode::OK,
        &CompanyAsset::new(&asset, &base, location),
    ))
}

/// Bytes first, then metadata: metadata must never point at missing bytes. If the metadata write
/// reports failure, a consistent read tells whether it landed anyway (a lost response): if it did,
/// the upload succeeded; otherwise the object is removed so a failed upload leaves nothing behind.
async fn store(app: &App, asset: &Asset, bytes: Bytes) -> Result<(), ApiError> {
    app.blobs
        .put(&asset.object_key, bytes, &asset.content_type)
        .await?;
    let Err(err) = app.assets.insert(asset).await else {
        return Ok(());
    };
    if let Ok(Some(stored)) = app.assets.find(&asset.key).await
        && stored == *asset
    {
        tracing::warn!(asset_key = %asset.key, "metadata write reported failure but landed");
        return Ok(());
    }
    if let Err(cleanup) = app.blobs.delete(&asset.object_key).await {
        tracing::error!(
            object_key = %asset.object_key,
            error = %cleanup,
            "could not remove the object of a failed upload"
        );
    }
    Err(err.into())
}

/// The `name` field wins; else the file part's filename without any client path; else a fallback.
fn choose_name(name: Option<&str>, filename: Option<&str>) -> Result<String, ApiError> {
    if let Some(name) = name {
        let cleaned = clean_asset_name(name)
            .map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))?;
        if let Some(cleaned) = cleaned {
            return Ok(cleaned);
        }
    }
    let from_file = filename
        .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
        .map(|f| {
            f.chars()
                .take(crate::domain::MAX_NAME_CHARS)
                .collect::<String>()
        })
        .and_then(|f| clean_asset_name(&f).ok().flatten());
    Ok(from_file.unwrap_or_else(|| FALLBACK_NAME.to_owned()))
}

fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Text(text) => Bytes::from(text.into_bytes()),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    }
}
