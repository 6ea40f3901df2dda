//! Lambda for the table's stream (DynamoDB Streams, new and old images): purges a deleted asset's
//! bytes when the TTL removes its record after the retention, and invalidates the CDN's copies of
//! an asset the public can no longer read.

use asset_service::{App, TableStreamEvent, handle_asset_events, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<TableStreamEvent>| async move {
            Ok::<_, Error>(handle_asset_events(app, event.payload).await)
        },
    ))
    .await
}
