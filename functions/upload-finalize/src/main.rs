//! Lambda for the bucket's `Object Created` events on the staging prefix (EventBridge; locally S3
//! notifications through a queue): finalizes direct uploads whose clients never call `complete`
//! (Uppy's single-request uploads, for one).

use asset_service::{App, ObjectCreatedEvent, finalize_staged_object, init_tracing};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Finalize makes renditions: they reuse the memory of earlier ones in a warm instance.
    asset_service::renditions::keep_freed_memory();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ObjectCreatedEvent>| async move {
            finalize_staged_object(app, event.payload).await?;
            Ok::<_, Error>(())
        },
    ))
    .await
}
