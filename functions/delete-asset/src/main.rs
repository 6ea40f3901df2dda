//! Lambda for `DELETE /api/v1/partner/asset/{assetKey}: soft delete, or erasure with ?erase=true`.

use asset_service::{App, delete_asset, init_tracing};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(delete_asset(app, req).await)
    }))
    .await
}
