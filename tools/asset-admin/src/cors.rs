//! The local bucket's CORS rule, so a web page can send direct uploads to moto from another
//! origin as it does to S3 (README, "From a browser with Uppy"). On AWS the template sets the
//! same rule ([`BROWSER_UPLOAD_CORS`]) with the `CorsAllowOrigin` parameter; none of this runs there.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use asset_service::storage::s3_presign::BROWSER_UPLOAD_CORS;

/// The origins allowed locally: `CORS_ALLOW_ORIGIN`, comma-separated (e.g.
/// `http://localhost:5173`), else `*`: any page on the developer's machine.
pub fn allowed_origins() -> Vec<String> {
    let origins: Vec<String> = std::env::var("CORS_ALLOW_ORIGIN")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();
    if origins.is_empty() {
        vec!["*".to_owned()]
    } else {
        origins
    }
}

/// Replaces the bucket's CORS configuration with the one rule browsers' direct uploads need, for
/// `origins` (PutBucketCors replaces the whole configuration, so running it again converges).
pub async fn ensure_bucket_cors(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    origins: &[String],
) -> Result<(), String> {
    let cors = &BROWSER_UPLOAD_CORS;
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(origins.to_vec()))
        .set_allowed_methods(Some(
            cors.allowed_methods.iter().map(|m| m.to_string()).collect(),
        ))
        .set_allowed_headers(Some(
            cors.allowed_headers.iter().map(|h| h.to_string()).collect(),
        ))
        .set_expose_headers(Some(
            cors.exposed_headers.iter().map(|h| h.to_string()).collect(),
        ))
        .max_age_seconds(cors.max_age_seconds)
        .build()
        .map_err(|e| e.to_string())?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(rule)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("CORS of bucket {bucket}: {}", DisplayErrorContext(&e)))?;
    Ok(())
}
