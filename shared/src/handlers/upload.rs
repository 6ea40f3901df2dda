use bytes::Bytes;
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::app::App;
use crate::auth::{self, AuthError, now_ms};
use crate::domain::{
    Asset, AssetKey, AssetType, NewAsset, StoredRendition, Visibility, clean_asset_name,
    detect_content, name_from_filename, sha256_hex,
};
use crate::http::{
    ApiError, CompanyAsset, base_url, observed, parse_upload_form, presented_api_key,
};
use crate::renditions::{self, Rendered, Rendition};

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
    let rendered = if dimensions.is_some() {
        Some(make_renditions(app, form.file.clone(), content.mime).await?)
    } else {
        None
    };

    let asset = Asset::create(NewAsset {
        key: AssetKey::generate(),
        company_id,
        name,
        visibility,
        content: &content,
        size: form.file.len() as u64,
        sha256: sha256_hex(&form.file),
        // As displayed, like the renditions: a portrait photo stored sideways is reported upright,
        // and the size is the decoder's (a GIF's first frame may reach past its header's screen).
        dimensions: rendered.as_ref().map(|r| (r.width, r.height)),
        renditions: rendered
            .iter()
            .flat_map(|r| &r.renditions)
            .map(|r| StoredRendition::describe(r.size, r.content_type, &r.bytes, r.width, r.height))
            .collect(),
        now_ms: now_ms(),
    });
    let renditions = rendered.map(|r| r.renditions).unwrap_or_default();
    store(app, &asset, Original::Bytes(form.file), renditions).await?;
    let location = app.blobs.location(&asset.object_key);
    Ok(CompanyAsset::new(&asset, &base, location).response(StatusCode::OK))
}

/// Renditions are made during the upload (ARCHITECTURE.md, "Renditions"): an image that cannot
/// be rendered is refused before anything is stored, and every URL in the answer works at once.
/// The pixel work runs off the async runtime's threads.
pub(super) async fn make_renditions(
    app: &App,
    bytes: Bytes,
    mime: &str,
) -> Result<Rendered, ApiError> {
    let sizes = app.config.rendition_sizes;
    let limits = app.config.decode_limits();
    let mime = mime.to_owned();
    tokio::task::spawn_blocking(move || renditions::render(&bytes, &mime, &sizes, &limits))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "rendition task failed");
            ApiError::Internal
        })?
        .map_err(ApiError::from)
}

/// Where an asset's original comes from when it is stored.
pub(super) enum Original {
    /// The bytes of a small upload, in hand.
    Bytes(Bytes),
    /// A direct upload's staged object, copied inside the bucket.
    Staged { object_key: String },
}

/// Bytes first, then metadata: metadata must never point at missing bytes. The original and its
/// renditions are written concurrently; if any write fails, all are removed. If the metadata write
/// reports failure, a consistent read tells whether it landed anyway (a lost response): if it did,
/// the upload succeeded; otherwise the objects are removed so a failed upload leaves nothing behind.
/// Callers own `asset.key` alone (a fresh key, or a direct upload's key under its finalize lease),
/// so an asset found under it with the same checksum is this write's.
pub(super) async fn store(
    app: &App,
    asset: &Asset,
    original: Original,
    renditions: Vec<Rendition>,
) -> Result<(), ApiError> {
    let mut keys = vec![asset.object_key.clone()];
    let original_write = async {
        match original {
            Original::Bytes(bytes) => {
                app.blobs
                    .put(&asset.object_key, bytes, &asset.content_type)
                    .await
            }
            Original::Staged { object_key } => {
                app.staging
                    .copy(&object_key, &asset.object_key, &asset.content_type)
                    .await
            }
        }
    };
    let rendition_writes = renditions.into_iter().map(|r| {
        let key = asset.rendition_object_key(r.size);
        keys.push(key.clone());
        async move {
            app.blobs
                .put(&key, Bytes::from(r.bytes), r.content_type)
                .await
        }
    });
    let rendition_writes = futures_util::future::join_all(rendition_writes);
    let (original_result, rendition_results) =
        futures_util::future::join(original_write, rendition_writes).await;
    if let Some(err) = std::iter::once(original_result)
        .chain(rendition_results)
        .find_map(Result::err)
    {
        remove_objects(app, &keys).await;
        return Err(err.into());
    }
    let Err(err) = app.assets.insert(asset).await else {
        return Ok(());
    };
    if let Ok(Some(stored)) = app.assets.find(&asset.key).await
        && stored.company_id == asset.company_id
        && stored.sha256 == asset.sha256
    {
        tracing::warn!(asset_key = %asset.key, "metadata write reported failure but landed");
        return Ok(());
    }
    remove_objects(app, &keys).await;
    Err(err.into())
}

/// Best effort: a failure here is logged for operators, the client already gets an error.
async fn remove_objects(app: &App, keys: &[String]) {
    let deletes = keys.iter().map(|key| async move {
        if let Err(cleanup) = app.blobs.delete(key).await {
            tracing::error!(
                object_key = %key,
                error = %cleanup,
                "could not remove an object of a failed upload"
            );
        }
    });
    futures_util::future::join_all(deletes).await;
}

/// The `name` field wins; else the file part's filename without any client path; else a fallback.
pub(super) fn choose_name(name: Option<&str>, filename: Option<&str>) -> Result<String, ApiError> {
    if let Some(name) = name {
        let cleaned = clean_asset_name(name)
            .map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))?;
        if let Some(cleaned) = cleaned {
            return Ok(cleaned);
        }
    }
    Ok(filename
        .and_then(name_from_filename)
        .unwrap_or_else(|| FALLBACK_NAME.to_owned()))
}

fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Text(text) => Bytes::from(text.into_bytes()),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    }
}
