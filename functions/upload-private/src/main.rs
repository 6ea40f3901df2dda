//! Lambda for `POST /api/v1/partner/asset/upload/private`.

use asset_service::{App, Visibility, init_tracing, upload};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Renditions reuse the memory of earlier uploads in a warm instance.
    asset_service::renditions::keep_freed_memory();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(upload(app, Visibility::Private, req).await)
    }))
    .await
}
