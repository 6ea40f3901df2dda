//! Lambda for `PATCH /api/v1/partner/asset/{assetKey}: rename, re-order, hide or show an asset`.

use asset_service::{App, init_tracing, update_asset};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(update_asset(app, req).await)
    }))
    .await
}
