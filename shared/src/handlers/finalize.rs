//! Finalize: turns a direct upload's staged bytes into an asset by the small upload's rules. One
//! code path, two triggers: the client's `complete` call and the bucket's `ObjectCreated` event
//! (ARCHITECTURE.md, "Direct uploads").

use std::time::Duration;

use bytes::Bytes;

use super::upload::{Original, make_renditions, store};
use crate::app::App;
use crate::auth::now_ms;
use crate::domain::{
    Asset, ContentRejection, NewAsset, PendingUpload, StoredRendition, Transfer, UploadId,
    UploadState, detect_content, sha256_hex,
};
use crate::http::ApiError;
use crate::storage::{Claim, MultipartCompletion, StagingArea, UploadedPart};

/// Bytes read from the start of a staged file to identify it: `infer` needs a few KB, an image
/// header scan may pass 64 KB EXIF, XMP and ICC segments first.
pub const SNIFF_BYTES: u64 = 1024 * 1024;

/// Who runs a finalize, which decides how long it may hold the upload and how much it may take on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The client's `complete` call: answered inside API Gateway's 30 s, so it finalizes files up
    /// to [`SYNC_FINALIZE_MAX_BYTES`] and leaves larger ones to the bucket's event.
    Complete,
    /// The bucket's `ObjectCreated` event: `upload-finalize`, 15 minutes.
    BucketEvent,
}

/// Largest file `complete` finalizes itself: reading it once for its checksum and copying it
/// within S3 take about 5 s per 512 MiB at S3's 100 MB/s per connection, well inside the function.
pub const SYNC_FINALIZE_MAX_BYTES: u64 = 512 * 1024 * 1024;

impl Trigger {
    /// The lease: just over the running function's timeout (template.yaml), so it outlives the
    /// finalize that took it and no longer.
    pub fn lease(self) -> Duration {
        match self {
            Self::Complete => Duration::from_secs(30),
            Self::BucketEvent => Duration::from_secs(901),
        }
    }

    fn max_bytes(self) -> u64 {
        match self {
            Self::Complete => SYNC_FINALIZE_MAX_BYTES,
            Self::BucketEvent => u64::MAX,
        }
    }
}

/// What a finalize achieved.
#[derive(Debug)]
pub enum Finalized {
    /// The asset exists (made now or by an earlier finalize).
    Ready(Box<Asset>),
    /// Another finalize of this upload is running; its outcome will be recorded.
    InProgress,
}

/// Finalizes `upload_id` of `company`: answers the asset, or the refusal recorded for it.
///
/// Errors: [`ApiError::NotFound`] when there is no such upload of this company (or it expired or
/// was aborted); [`ApiError::Refused`] (or the refusal's own error, the first time) when the file
/// breaks a rule, after its bytes are removed; [`ApiError::Conflict`] `upload_incomplete` when its
/// bytes have not arrived; storage errors leave it pending for a retry.
pub async fn finalize(
    app: &App,
    company: &crate::domain::CompanyId,
    upload_id: &UploadId,
    trigger: Trigger,
    parts: Option<&[UploadedPart]>,
) -> Result<Finalized, ApiError> {
    let now_s = now_ms() / 1000;
    // Another company's upload is unknown to this caller, and it never takes that upload's lease.
    match app.uploads.find(upload_id).await? {
        Some(upload) if upload.owned_by(company) => {}
        _ => return Err(ApiError::NotFound),
    }
    let upload = match app.uploads.claim(upload_id, now_s, trigger.lease()).await? {
        Claim::Missing => return Err(ApiError::NotFound),
        Claim::Busy => return Ok(Finalized::InProgress),
        Claim::Settled(upload) => return settled_outcome(app, &upload).await,
        Claim::Acquired(upload) => upload,
    };
    if upload.expires_at_s < now_s {
        app.uploads.release(upload_id).await?;
        return Err(ApiError::NotFound);
    }
    match make_asset(app, &upload, trigger, parts).await {
        Ok(None) => {
            // Too large to finish here: the bucket's event (fired when the bytes were complete)
            // finalizes it, retrying while this lease is held.
            app.uploads.release(&upload.id).await?;
            Ok(Finalized::InProgress)
        }
        Ok(Some(asset)) => {
            app.uploads.settle(&upload.id, &UploadState::Ready).await?;
            remove_staged(app, &upload).await;
            tracing::info!(upload_id = %upload.id, asset_key = %asset.key, "upload finalized");
            Ok(Finalized::Ready(Box::new(asset)))
        }
        Err(err) => match err.refusal() {
            Some(refusal) => {
                remove_staged(app, &upload).await;
                app.uploads
                    .settle(&upload.id, &UploadState::Refused(refusal))
                    .await?;
                tracing::info!(upload_id = %upload.id, code = err.code(), "upload refused");
                Err(err)
            }
            None => {
                // Not the file's fault (storage, or its bytes not there yet): a later finalize
                // retries from the start.
                if let Err(release) = app.uploads.release(&upload.id).await {
                    tracing::error!(upload_id = %upload.id, error = %release, "could not release");
                }
                Err(err)
            }
        },
    }
}

/// The answer for an upload an earlier call settled.
async fn settled_outcome(app: &App, upload: &PendingUpload) -> Result<Finalized, ApiError> {
    match &upload.state {
        UploadState::Ready => app
            .assets
            .find(&upload.asset_key)
            .await?
            .map(|asset| Finalized::Ready(Box::new(asset)))
            .ok_or(ApiError::NotFound),
        UploadState::Refused(refusal) => Err(ApiError::Refused(refusal.clone())),
        UploadState::Aborted | UploadState::Pending => Err(ApiError::NotFound),
    }
}

/// The checks and writes of one finalize, under its lease. Any refusal comes back as the error
/// a small upload of the same bytes gets.
async fn make_asset(
    app: &App,
    upload: &PendingUpload,
    trigger: Trigger,
    parts: Option<&[UploadedPart]>,
) -> Result<Option<Asset>, ApiError> {
    let staging_key = upload.staging_key();
    if let Transfer::Multipart { s3_upload_id } = &upload.transfer {
        complete_parts(app.staging.as_ref(), &staging_key, s3_upload_id, parts).await?;
    }
    let staged = app
        .staging
        .head(&staging_key)
        .await?
        .ok_or_else(incomplete)?;
    // The service's limit, or the smaller cap of the upload token that started it.
    let limit = upload.max_bytes;
    if staged.size > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    if let Some(declared) = upload.declared_size
        && declared != staged.size
    {
        return Err(ApiError::Unprocessable {
            code: "size_mismatch",
            message: format!(
                "the upload announced {declared} bytes but {} arrived",
                staged.size
            ),
        });
    }
    if staged.size == 0 {
        return Err(ContentRejection::Empty.into());
    }
    if staged.size > trigger.max_bytes() {
        return Ok(None);
    }
    let head = app.staging.read_prefix(&staging_key, SNIFF_BYTES).await?;
    let window = sniff_window(&head, head.len() as u64 == staged.size);
    let content = detect_content(window, Some(&upload.name))?;
    content.check_declared(upload.declared_type)?;

    let is_image = content.asset_type == crate::domain::AssetType::Image;
    let (sha256, rendered) = if is_image {
        if staged.size > app.config.max_image_file_bytes {
            return Err(ApiError::Unprocessable {
                code: "image_too_large",
                message: format!(
                    "image files are limited to {} bytes for renditions",
                    app.config.max_image_file_bytes
                ),
            });
        }
        let bytes = if head.len() as u64 == staged.size {
            head
        } else {
            app.blobs.get(&staging_key).await?.ok_or_else(incomplete)?
        };
        content.check_image(&bytes, app.config.image_limits)?;
        let sha256 = sha256_hex(&bytes);
        check_checksum(upload, &sha256)?;
        let rendered = make_renditions(app, bytes, content.mime).await?;
        (sha256, Some(rendered))
    } else {
        let sha256 = app.staging.sha256(&staging_key).await?;
        check_checksum(upload, &sha256)?;
        (sha256, None)
    };

    let asset = Asset::create(NewAsset {
        key: upload.asset_key.clone(),
        company_id: upload.company_id.clone(),
        name: upload.name.clone(),
        visibility: upload.visibility,
        content: &content,
        size: staged.size,
        sha256,
        dimensions: rendered.as_ref().map(|r| (r.width, r.height)),
        renditions: rendered
            .iter()
            .flat_map(|r| &r.renditions)
            .map(|r| StoredRendition::describe(r.size, r.content_type, &r.bytes, r.width, r.height))
            .collect(),
        now_ms: now_ms(),
    });
    // A retried finalize whose earlier run stored the asset but lost its lease before settling.
    if let Some(existing) = app.assets.find(&asset.key).await? {
        return Ok(Some(existing));
    }
    let renditions = rendered.map(|r| r.renditions).unwrap_or_default();
    store(
        app,
        &asset,
        Original::Staged {
            object_key: staging_key,
        },
        renditions,
    )
    .await?;
    Ok(Some(asset))
}

/// Joins a multipart upload's parts as the client names them (part numbers with the ETags S3
/// answered; S3 refuses any that do not match what it holds), as S3's own CompleteMultipartUpload
/// asks. Already joined (an earlier finalize, or the event of the joined object) is fine.
async fn complete_parts(
    staging: &dyn StagingArea,
    staging_key: &str,
    s3_upload_id: &str,
    named: Option<&[UploadedPart]>,
) -> Result<(), ApiError> {
    if staging.head(staging_key).await?.is_some() {
        return Ok(());
    }
    let Some(parts) = named.filter(|parts| !parts.is_empty()) else {
        return Err(ApiError::Conflict {
            code: "upload_incomplete",
            message: "a multipart upload is completed with its parts: \
                      {\"parts\": [{\"partNumber\", \"etag\"}]}"
                .into(),
        });
    };
    match staging
        .complete_multipart(staging_key, s3_upload_id, parts)
        .await?
    {
        MultipartCompletion::Completed | MultipartCompletion::Unknown => Ok(()),
        // The client may name them again: not a refusal of the file.
        MultipartCompletion::InvalidParts(code) => Err(ApiError::Conflict {
            code: "invalid_parts",
            message: format!(
                "the parts cannot be joined ({code}): each must be named by the ETag S3 answered \
                 for it, in order, and every part but the last must be at least 5 MiB"
            ),
        }),
    }
}

fn check_checksum(upload: &PendingUpload, sha256: &str) -> Result<(), ApiError> {
    match &upload.declared_sha256 {
        Some(declared) if declared != sha256 => Err(ApiError::Unprocessable {
            code: "checksum_mismatch",
            message: format!("the file's SHA-256 is {sha256}, not the {declared} announced"),
        }),
        _ => Ok(()),
    }
}

fn incomplete() -> ApiError {
    ApiError::Conflict {
        code: "upload_incomplete",
        message: "the file has not been uploaded yet".into(),
    }
}

/// The bytes content detection sees: the whole file, or its first [`SNIFF_BYTES`] cut back to a
/// whole UTF-8 character, so a long text file is not mistaken for binary where the window ends
/// inside a character.
fn sniff_window(head: &Bytes, whole_file: bool) -> &[u8] {
    if whole_file {
        return head;
    }
    match std::str::from_utf8(head) {
        Err(err) if err.error_len().is_none() => &head[..err.valid_up_to()],
        _ => head,
    }
}

/// Best effort: the bucket's lifecycle rule on the staging prefix removes what is left.
async fn remove_staged(app: &App, upload: &PendingUpload) {
    let key = upload.staging_key();
    if let Transfer::Multipart { s3_upload_id } = &upload.transfer
        && let Err(err) = app.staging.abort_multipart(&key, s3_upload_id).await
    {
        tracing::warn!(upload_id = %upload.id, error = %err, "could not abort the parts");
    }
    if let Err(err) = app.blobs.delete(&key).await {
        tracing::warn!(upload_id = %upload.id, error = %err, "could not remove staged bytes");
    }
}

/// A finalize triggered by the bucket failed in a way a retry may fix (storage unavailable); the
/// Lambda service retries the event (twice, for asynchronous invocations).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of the event's uploads could not be finalized yet")]
pub struct RetryLater {
    pub failed: usize,
}

/// How AWS announces that a staged object is complete, in either of its two shapes. Only the
/// bucket and key are read; everything else in the message is ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum ObjectCreatedEvent {
    /// EventBridge's `Object Created` event (source `aws.s3`): what the deployed rule delivers
    /// (template.yaml; Amazon S3 User Guide, "EventBridge message structure").
    EventBridge { detail: ObjectRef },
    /// An S3 event notification (`Records`): what S3 sends to SQS, SNS or Lambda, and what the
    /// local stack's relay forwards from moto (S3 User Guide, "Event message structure").
    Notification {
        #[serde(rename = "Records")]
        records: Vec<NotificationRecord>,
    },
}

#[derive(Debug, serde::Deserialize)]
pub struct ObjectRef {
    pub bucket: BucketRef,
    pub object: ObjectKey,
}

#[derive(Debug, serde::Deserialize)]
pub struct BucketRef {
    pub name: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct ObjectKey {
    /// URL-encoded, `+` for space.
    pub key: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct NotificationRecord {
    pub s3: ObjectRef,
}

impl ObjectCreatedEvent {
    fn objects(self) -> Vec<ObjectRef> {
        match self {
            Self::EventBridge { detail } => vec![detail],
            Self::Notification { records } => records.into_iter().map(|r| r.s3).collect(),
        }
    }
}

/// `upload-finalize`: a staged object is complete. Its key says whose upload it is
/// (`staging/{companyId}/{uploadId}`). Keys this service did not hand out, and other buckets'
/// events, are ignored, as are uploads already settled. Refusals are recorded on the upload;
/// failures a retry may fix, and uploads another finalize holds, are an error, so Lambda retries
/// the event (twice, for the asynchronous invocations EventBridge makes).
pub async fn finalize_staged_object(
    app: &App,
    event: ObjectCreatedEvent,
) -> Result<(), RetryLater> {
    let mut failed = 0;
    for object in event.objects() {
        if object.bucket.name != app.config.bucket_name {
            tracing::warn!("event for another bucket ignored");
            continue;
        }
        // Event keys are URL-encoded with '+' for space (S3 User Guide, "Event message structure").
        let key = object.object.key.replace('+', " ");
        let key = percent_encoding::percent_decode_str(&key).decode_utf8_lossy();
        let Some((company, upload_id)) = crate::domain::parse_staging_key(&key) else {
            tracing::warn!("event for an object outside the staging area ignored");
            continue;
        };
        match finalize(app, &company, &upload_id, Trigger::BucketEvent, None).await {
            Ok(Finalized::Ready(_)) => {}
            Ok(Finalized::InProgress) => {
                // Another finalize holds the upload; it may give up (a `complete` leaves large
                // files to this event), so this event is retried until the upload is settled.
                tracing::info!(%upload_id, "upload busy; the event will be retried");
                failed += 1;
            }
            Err(err) if err.refusal().is_some() => {}
            Err(ApiError::NotFound) => {
                tracing::info!(%upload_id, "event for an unknown, foreign or expired upload");
            }
            Err(ApiError::Conflict { .. }) => {
                tracing::info!(%upload_id, "event for an upload whose bytes are not complete");
            }
            Err(err) => {
                tracing::warn!(%upload_id, code = err.code(), "finalize failed; will be retried");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        Err(RetryLater { failed })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sniff_window_never_ends_inside_a_character() {
        let text = Bytes::from("aé".repeat(10));
        let cut = text.slice(..4); // "a", "é" (two bytes), "a": whole characters
        assert_eq!(sniff_window(&cut, false), &cut[..]);
        let cut = text.slice(..2); // 'a' + half of 'é'
        assert_eq!(sniff_window(&cut, false), b"a");
        // The whole file is judged as it is.
        assert_eq!(sniff_window(&cut, true), &cut[..]);
        let binary = Bytes::from_static(&[0xff, 0xd8, 0xff, 0xe0]);
        assert_eq!(sniff_window(&binary, false), &binary[..]);
    }
}
