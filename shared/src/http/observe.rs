use std::future::Future;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// Runs a handler and writes the one log line per request: request id, route, status, latency.
/// Nothing from the body, the query or the headers is logged (keys and presigned URLs live there).
pub async fn observed<F, Fut>(route: &'static str, req: Request, handler: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let started = Instant::now();
    let request_id = request_id(&req);
    let method = req.method().clone();
    let response = handler(req).await;
    let status = response.status().as_u16();
    // Microsecond resolution is plenty for a log line and keeps it short.
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    if status >= 500 {
        tracing::warn!(%request_id, route, %method, status, latency_ms, "request");
    } else {
        tracing::info!(%request_id, route, %method, status, latency_ms, "request");
    }
    response
}

fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) if ctx.request_id.is_some() => {
            ctx.request_id.clone().unwrap_or_default()
        }
        _ => req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_else(|| "-".to_owned()),
    }
}
