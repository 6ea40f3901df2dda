//! Lambda for the bucket's `s3:ObjectCreated:*` events on the staging prefix: finalizes direct
//! uploads whose clients never call `complete` (Uppy's single-request uploads, for one).

use asset_service::{App, finalize_s3_event, init_tracing};
use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Finalize makes renditions: they reuse the memory of earlier ones in a warm instance.
    asset_service::renditions::keep_freed_memory();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        finalize_s3_event(app, event.payload).await?;
        Ok::<_, Error>(())
    }))
    .await
}
