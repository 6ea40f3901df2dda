//! The local stack's stand-in for the bucket's S3 -> Lambda event notification: objects created
//! under the staging prefix notify an SQS queue, which `tools/s3-event-relay` hands to the finalize
//! function through `cargo lambda watch` (moto cannot invoke a function it does not run). On AWS
//! the SAM template owns the real notification; none of this is created there.

use aws_config::BehaviorVersion;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where direct uploads put their bytes before finalize (issue 10); only objects created there
/// are events.
pub const STAGING_PREFIX: &str = "staging/";

/// The bucket notification's id (S3's `configurationId` in every event).
pub const NOTIFICATION_ID: &str = "staging-object-created";

/// Seconds a received message stays invisible: a failed invocation is tried again this long after.
/// Lambda waits a minute and then two before its retries of an asynchronous event; locally a
/// short wait keeps the edit-and-retry loop short.
pub const VISIBILITY_TIMEOUT_SECONDS: u32 = 10;

/// Receives before a message moves to the dead-letter queue: Lambda tries an asynchronous event
/// (S3's kind) three times, the first attempt and two retries (Lambda developer guide, "Error
/// handling and automatic retries").
pub const MAX_RECEIVE_COUNT: u32 = 3;

/// The queues `setup` made: events and their dead letters.
pub struct EventQueues {
    pub queue: String,
    pub dead_letters: String,
}

/// The events queue's name: `ASSETS_EVENTS_QUEUE`, else `{bucket}-events` (a bucket name's dots,
/// which SQS names may not hold, become dashes). Its dead-letter queue is `{queue}-dlq`.
pub fn queue_name(bucket: &str) -> String {
    std::env::var("ASSETS_EVENTS_QUEUE")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("{}-events", bucket.replace('.', "-")))
}

/// Creates the queue and its dead-letter queue if missing, sets their attributes, and points the
/// bucket's notification at the queue. Every step converges, so it runs on every start; setting
/// the notification makes S3 (and moto) send an `s3:TestEvent`, which the relay skips.
pub async fn ensure_event_queue(
    endpoint: &str,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<EventQueues, String> {
    let sqs = sqs_client(endpoint).await;
    let queue = queue_name(bucket);
    let dead_letters = format!("{queue}-dlq");

    let (_, dead_letters_arn) = ensure_queue(&sqs, &dead_letters).await?;
    let (queue_url, queue_arn) = ensure_queue(&sqs, &queue).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letters_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    });
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECONDS.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| format!("queue {queue}: {}", DisplayErrorContext(&e)))?;

    let staging = S3KeyFilter::builder()
        .filter_rules(
            FilterRule::builder()
                .name(FilterRuleName::Prefix)
                .value(STAGING_PREFIX)
                .build(),
        )
        .build();
    let notification = QueueConfiguration::builder()
        .id(NOTIFICATION_ID)
        .queue_arn(&queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(staging)
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(notification)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "notification of bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(EventQueues {
        queue,
        dead_letters,
    })
}

/// The queue's URL and ARN, creating it if missing (`CreateQueue` without attributes answers the
/// existing queue's URL; attributes are set separately, so changing them never conflicts).
async fn ensure_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<(String, String), String> {
    let failed = |e: &dyn std::fmt::Display| format!("queue {name}: {e}");
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| failed(&DisplayErrorContext(&e)))?
        .queue_url
        .ok_or_else(|| failed(&"no URL in the answer"))?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| failed(&DisplayErrorContext(&e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| failed(&"no ARN in the answer"))?;
    Ok((url, arn))
}

/// An SQS client for the local endpoint, on the same HTTP stack as the service's clients
/// (`shared/src/app.rs`: hyper 1 with rustls on ring), credentials and region from the environment.
async fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_sqs::Client::new(&sdk)
}
