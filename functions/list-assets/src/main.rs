//! Lambda for `GET /api/v1/partner/asset: a company's assets, a page at a time`.

use asset_service::{App, init_tracing, list_assets};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    // Built once per cold start and shared by every invocation of this instance.
    let app = App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(list_assets(app, req).await)
    }))
    .await
}
