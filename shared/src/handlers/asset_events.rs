//! `asset-events`: the table's stream, for what must follow a change of an asset's record
//! ([`after_change`]): the purge of a soft-deleted asset's bytes once the TTL removes its record
//! at the end of the retention, and the CDN invalidation of an asset the public can no longer read.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures_util::future::try_join_all;

use crate::app::App;
use crate::domain::{AfterChange, after_change};
use crate::storage::StorageError;
use crate::storage::dynamo::asset_from_stream_image;

/// A batch of the table's stream records, as Lambda's event source mapping delivers it.
pub type TableStreamEvent = Event;

/// DynamoDB Streams' own identity for deletions made by Time to Live (DynamoDB Developer Guide,
/// "DynamoDB Streams and Time to Live"): `userIdentity.type` "Service", `principalId`
/// "dynamodb.amazonaws.com".
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// Handles the records in order and answers the first that failed (its sequence number), so
/// Lambda retries from there (`ReportBatchItemFailures`); every effect is idempotent, so records
/// done twice are harmless. Records of other items (keys, uploads) pass through.
pub async fn handle_asset_events(app: &App, event: TableStreamEvent) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        if let Err(err) = handle_record(app, &record).await {
            tracing::error!(error = %err, event_id = %record.event_id, "stream record failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

async fn handle_record(app: &App, record: &EventRecord) -> Result<(), StorageError> {
    let expired = record
        .user_identity
        .as_ref()
        .is_some_and(|who| who.type_ == "Service" && who.principal_id == TTL_PRINCIPAL);
    let old = asset_from_stream_image(record.change.old_image.clone())?;
    let new = asset_from_stream_image(record.change.new_image.clone())?;
    for effect in after_change(old.as_ref(), new.as_ref(), expired) {
        let Some(asset) = old.as_ref() else { continue };
        match effect {
            AfterChange::PurgeBytes => {
                let objects = asset.object_keys();
                try_join_all(objects.iter().map(|key| app.blobs.delete(key))).await?;
                tracing::info!(asset_key = %asset.key, objects = objects.len(), "retention ended; bytes purged");
            }
            AfterChange::DropCdnCopies => {
                if let Some(cdn) = &app.cdn {
                    cdn.invalidate(&format!("/api/v1/partner/asset/{}", asset.key))
                        .await?;
                    tracing::info!(asset_key = %asset.key, "CDN copies invalidated");
                }
            }
        }
    }
    Ok(())
}
