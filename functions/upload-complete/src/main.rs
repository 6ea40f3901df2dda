//! Lambda for `POST /api/v1/partner/asset/uploads/{visibility}/{uploadId}/complete`.

use asset_service::{App, complete_upload, init_tracing};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Finalize makes renditions: they reuse the memory of earlier ones in a warm instance.
    asset_service::renditions::keep_freed_memory();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(complete_upload(app, req).await)
    }))
    .await
}
