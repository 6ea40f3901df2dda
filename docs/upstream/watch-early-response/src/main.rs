//! The smallest function that shows the stall: every invocation answers an API Gateway v2 response
//! whose base64 body decodes to `RESPONSE_BYTES` zero bytes (default 4 MiB, 5.6 MB of JSON).
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let bytes: usize = std::env::var("RESPONSE_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(4 << 20);
    let body = base64_of_zeros(bytes);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let body = body.clone();
        async move {
            Ok::<_, Error>(json!({
                "statusCode": 200,
                "headers": {"content-type": "application/octet-stream"},
                "multiValueHeaders": {},
                "cookies": [],
                "isBase64Encoded": true,
                "body": body,
            }))
        }
    }))
    .await
}

fn base64_of_zeros(bytes: usize) -> String {
    let mut text = "A".repeat(bytes.div_ceil(3) * 4);
    let len = text.len();
    match bytes % 3 {
        1 => text.replace_range(len - 2.., "=="),
        2 => text.replace_range(len - 1.., "="),
        _ => {}
    }
    text
}
