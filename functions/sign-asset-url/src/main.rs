//! Lambda for `POST /api/v1/partner/asset/{assetKey}/url` (signed URLs for private assets).

use asset_service::{App, init_tracing, sign_asset_url};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Built once per cold start and shared by every invocation of this instance; the signing
    // secret is read on the first request that needs it and kept (storage::secrets).
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(sign_asset_url(app, req).await)
    }))
    .await
}
