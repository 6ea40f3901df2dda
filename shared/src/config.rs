//! Every environment variable the service reads, read here once per cold start and validated, so a
//! misconfigured function fails at start-up with a clear message instead of on a request.

use std::time::Duration;

use crate::domain::{ImageLimits, MIN_PART_BYTES, RenditionSizes, UploadLimits};
use crate::renditions::DecodeLimits;

/// Lambda's synchronous payload limit; request and response bodies are base64-encoded inside it.
pub const LAMBDA_PAYLOAD_LIMIT: u64 = 6 * 1024 * 1024;
/// Largest file whose base64 form, plus multipart framing and the event envelope, still fits.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 * 1024 * 1024;
/// Largest object returned inline; base64 makes 4 MiB about 5.6 MB, under the 6 MB response limit.
pub const DEFAULT_INLINE_MAX_BYTES: u64 = 4 * 1024 * 1024;
pub const DEFAULT_PRESIGN_TTL_SECS: u64 = 300;
/// SigV4 presigned URLs cannot live longer than seven days.
const MAX_PRESIGN_TTL_SECS: u64 = 7 * 24 * 3600;
/// Largest direct upload: S3's `CopyObject` moves at most 5 GiB in one request (Amazon S3 API
/// Reference, CopyObject), and finalize copies the staged object to the asset's key.
pub const MAX_DIRECT_UPLOAD_BYTES: u64 = 5 * 1024 * 1024 * 1024;
pub const DEFAULT_MULTIPART_THRESHOLD_BYTES: u64 = 64 * 1024 * 1024;
/// An hour: a 5 GiB file at 20 Mbit/s takes about 36 minutes.
pub const DEFAULT_UPLOAD_URL_TTL_SECS: u64 = 3600;
/// Started uploads are forgotten after a day; the bucket's lifecycle rule on the staging prefix
/// (template.yaml) removes their bytes and unfinished multipart uploads after the same day.
pub const DEFAULT_PENDING_UPLOAD_TTL_SECS: u64 = 24 * 3600;
/// Largest image file finalize reads whole to make renditions: 256 MiB (a 50 MP 16-bit PNG is
/// about 200 MB), inside the finalize functions' memory.
pub const DEFAULT_MAX_IMAGE_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub bucket_name: String,
    /// Origin (and stage path) of the public API, e.g. `https://assets.example.com`; when absent,
    /// URLs are derived from each request's host and stage.
    pub public_base_url: Option<String>,
    pub presign_ttl: Duration,
    pub max_upload_bytes: u64,
    pub inline_max_bytes: u64,
    /// A local AWS stand-in (moto, LocalStack). Setting it also switches S3 to path-style addressing.
    pub aws_endpoint_url: Option<String>,
    pub aws: AwsTuning,
    /// Images larger than this are refused from their header, before any decoding.
    pub image_limits: ImageLimits,
    /// Longest side of each rendition (`RENDITION_SIZES`, smallest first: thumb, medium, large,
    /// largeX2).
    pub rendition_sizes: RenditionSizes,
    /// Animated images with more frames than this are refused (only the first is rendered).
    pub max_animation_frames: u32,
    /// Direct uploads: largest file (`MAX_DIRECT_UPLOAD_BYTES`) and the size above which parts
    /// are used (`MULTIPART_THRESHOLD_BYTES`).
    pub upload_limits: UploadLimits,
    /// Life of a presigned upload or part URL (`UPLOAD_URL_TTL_SECONDS`).
    pub upload_url_ttl: Duration,
    /// Life of a started upload (`PENDING_UPLOAD_TTL_SECONDS`).
    pub pending_upload_ttl: Duration,
    /// Largest image file whose renditions finalize makes (`MAX_IMAGE_FILE_BYTES`); a larger
    /// image is refused as too large.
    pub max_image_file_bytes: u64,
    /// The Secrets Manager secret (name or ARN) that signs URLs and list cursors
    /// (`SIGNING_SECRET_ID`); without it those answer 503.
    pub signing_secret_id: Option<String>,
    /// The CloudFront distribution in front of the GET path (`CDN_DISTRIBUTION_ID`), invalidated
    /// when an asset is deleted; `None` when there is no CDN.
    pub cdn_distribution_id: Option<String>,
    /// How long a soft-deleted asset's bytes are kept (`RETENTION_DAYS`, 1 to 3650, default 30).
    pub retention: Duration,
}

impl Config {
    pub fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.image_limits.max_pixels,
            max_side: self.image_limits.max_side,
            max_frames: self.max_animation_frames,
        }
    }
}

/// Timeouts and retries for every AWS call: a request must fail with 503 well inside the Lambda
/// timeout rather than hang on a dead dependency. The longest chain is an upload whose metadata
/// write hangs: the write and the read that checks it each use up one operation timeout, so two of
/// them (2 x 10 s) plus the object's removal fit the upload functions' 29 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsTuning {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl Default for AwsTuning {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests can supply variables without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required =
            |name: &str| get(name).ok_or_else(|| ConfigError(format!("{name} is not set")));
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| ConfigError(format!("{name} must be a whole number, got {v:?}")))
            })
        };

        let public_base_url = get("PUBLIC_BASE_URL")
            .map(|url| validate_url("PUBLIC_BASE_URL", url))
            .transpose()?;
        let aws_endpoint_url = get("AWS_ENDPOINT_URL")
            .map(|url| validate_url("AWS_ENDPOINT_URL", url))
            .transpose()?;

        let presign_ttl = number("PRESIGN_TTL_SECONDS", DEFAULT_PRESIGN_TTL_SECS)?;
        if !(2..=MAX_PRESIGN_TTL_SECS).contains(&presign_ttl) {
            return Err(ConfigError(format!(
                "PRESIGN_TTL_SECONDS must be between 2 and {MAX_PRESIGN_TTL_SECS}"
            )));
        }
        let max_upload_bytes = number("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)?;
        let inline_max_bytes = number("INLINE_MAX_BYTES", DEFAULT_INLINE_MAX_BYTES)?;
        for (name, value) in [
            ("MAX_UPLOAD_BYTES", max_upload_bytes),
            ("INLINE_MAX_BYTES", inline_max_bytes),
        ] {
            // base64 grows a body by 4/3; beyond this the payload cannot fit Lambda's limit at all.
            if value == 0 || value > LAMBDA_PAYLOAD_LIMIT * 3 / 4 {
                return Err(ConfigError(format!(
                    "{name} must be between 1 and {} bytes",
                    LAMBDA_PAYLOAD_LIMIT * 3 / 4
                )));
            }
        }

        let retention_days = number(
            "RETENTION_DAYS",
            crate::domain::DEFAULT_RETENTION.as_secs() / (24 * 3600),
        )?;
        if !(1..=3650).contains(&retention_days) {
            return Err(ConfigError(
                "RETENTION_DAYS must be between 1 and 3650".into(),
            ));
        }
        let upload_limits = UploadLimits {
            max_bytes: number("MAX_DIRECT_UPLOAD_BYTES", MAX_DIRECT_UPLOAD_BYTES)?,
            multipart_threshold: number(
                "MULTIPART_THRESHOLD_BYTES",
                DEFAULT_MULTIPART_THRESHOLD_BYTES,
            )?,
        };
        if !(1..=MAX_DIRECT_UPLOAD_BYTES).contains(&upload_limits.max_bytes) {
            return Err(ConfigError(format!(
                "MAX_DIRECT_UPLOAD_BYTES must be between 1 and {MAX_DIRECT_UPLOAD_BYTES}"
            )));
        }
        if upload_limits.multipart_threshold < MIN_PART_BYTES {
            return Err(ConfigError(format!(
                "MULTIPART_THRESHOLD_BYTES must be at least {MIN_PART_BYTES} (S3's smallest part)"
            )));
        }
        let upload_url_ttl = number("UPLOAD_URL_TTL_SECONDS", DEFAULT_UPLOAD_URL_TTL_SECS)?;
        if !(60..=MAX_PRESIGN_TTL_SECS).contains(&upload_url_ttl) {
            return Err(ConfigError(format!(
                "UPLOAD_URL_TTL_SECONDS must be between 60 and {MAX_PRESIGN_TTL_SECS}"
            )));
        }
        let pending_upload_ttl = number(
            "PENDING_UPLOAD_TTL_SECONDS",
            DEFAULT_PENDING_UPLOAD_TTL_SECS,
        )?;
        if pending_upload_ttl < upload_url_ttl {
            return Err(ConfigError(
                "PENDING_UPLOAD_TTL_SECONDS must be at least UPLOAD_URL_TTL_SECONDS".into(),
            ));
        }

        Ok(Self {
            table_name: required("ASSETS_TABLE")?,
            bucket_name: required("ASSETS_BUCKET")?,
            public_base_url,
            presign_ttl: Duration::from_secs(presign_ttl),
            max_upload_bytes,
            inline_max_bytes,
            aws_endpoint_url,
            aws: AwsTuning {
                connect_timeout: Duration::from_millis(number("AWS_CONNECT_TIMEOUT_MS", 1_000)?),
                attempt_timeout: Duration::from_millis(number("AWS_ATTEMPT_TIMEOUT_MS", 5_000)?),
                operation_timeout: Duration::from_millis(number(
                    "AWS_OPERATION_TIMEOUT_MS",
                    10_000,
                )?),
                max_attempts: number("AWS_MAX_ATTEMPTS", 3)?.clamp(1, 10) as u32,
            },
            image_limits: ImageLimits {
                max_pixels: number("MAX_IMAGE_PIXELS", ImageLimits::default().max_pixels)?,
                max_side: number("MAX_IMAGE_SIDE", ImageLimits::default().max_side)?,
            },
            rendition_sizes: match lookup("RENDITION_SIZES").filter(|v| !v.trim().is_empty()) {
                Some(raw) => parse_rendition_sizes(&raw)?,
                None => RenditionSizes::default(),
            },
            max_animation_frames: number(
                "MAX_ANIMATION_FRAMES",
                u64::from(DecodeLimits::default().max_frames),
            )?
            .clamp(1, u64::from(u32::MAX)) as u32,
            upload_limits,
            upload_url_ttl: Duration::from_secs(upload_url_ttl),
            pending_upload_ttl: Duration::from_secs(pending_upload_ttl),
            max_image_file_bytes: number("MAX_IMAGE_FILE_BYTES", DEFAULT_MAX_IMAGE_FILE_BYTES)?,
            signing_secret_id: get("SIGNING_SECRET_ID"),
            cdn_distribution_id: get("CDN_DISTRIBUTION_ID"),
            retention: Duration::from_secs(retention_days * 24 * 3600),
        })
    }
}

/// `"160,480,1024,2048"`: thumb, medium, large and largeX2, in pixels.
fn parse_rendition_sizes(raw: &str) -> Result<RenditionSizes, ConfigError> {
    let invalid = || {
        ConfigError(format!(
            "RENDITION_SIZES must be four pixel sizes, smallest first (thumb,medium,large,largeX2), got {raw:?}"
        ))
    };
    let numbers = raw
        .split(',')
        .map(|part| part.trim().parse::<u32>().map_err(|_| invalid()))
        .collect::<Result<Vec<_>, _>>()?;
    let four: [u32; 4] = numbers.try_into().map_err(|_| invalid())?;
    RenditionSizes::new(four).map_err(|err| ConfigError(format!("RENDITION_SIZES: {err}")))
}

fn validate_url(name: &str, url: String) -> Result<String, ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(ConfigError(format!(
            "{name} must be an http(s) URL, got {url:?}"
        )))
    }
}

/// Log settings are read before anything else so start-up errors are logged in the right format:
/// JSON whenever running inside Lambda (or asked for), plain text for a terminal. The filter is
/// `RUST_LOG` verbatim when set, else the level from `LOG_LEVEL` / `AWS_LAMBDA_LOG_LEVEL` for our
/// code with the AWS SDK and HTTP stack held at `warn` (their debug output includes request details).
pub fn log_settings() -> (LogFormat, String) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let json = match var("LOG_FORMAT").as_deref() {
        Some(v) => v.eq_ignore_ascii_case("json"),
        None => var("AWS_LAMBDA_FUNCTION_NAME").is_some(),
    };
    let filter = var("RUST_LOG").unwrap_or_else(|| {
        let level = var("LOG_LEVEL")
            .or_else(|| var("AWS_LAMBDA_LOG_LEVEL"))
            .unwrap_or_else(|| "info".to_owned())
            .to_ascii_lowercase();
        let quiet = [
            "aws_config",
            "aws_smithy_runtime",
            "aws_smithy_runtime_api",
            "aws_sdk_s3",
            "aws_sdk_dynamodb",
            "hyper",
            "hyper_util",
            "h2",
            "rustls",
            "lambda_runtime",
            "lambda_http",
        ];
        quiet
            .iter()
            .fold(level, |f, target| format!("{f},{target}=warn"))
    });
    (
        if json {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
        filter,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_fit_the_lambda_payload_limit() {
        let c = config(&[("ASSETS_TABLE", "t"), ("ASSETS_BUCKET", "b")]).unwrap();
        assert_eq!(c.max_upload_bytes, DEFAULT_MAX_UPLOAD_BYTES);
        assert!(c.max_upload_bytes * 4 / 3 + 64 * 1024 < LAMBDA_PAYLOAD_LIMIT);
        assert!(c.inline_max_bytes * 4 / 3 < LAMBDA_PAYLOAD_LIMIT);
        assert_eq!(c.presign_ttl, Duration::from_secs(300));
        assert_eq!(c.public_base_url, None);
        assert_eq!(c.aws, AwsTuning::default());
    }

    #[test]
    fn values_are_validated() {
        assert!(config(&[("ASSETS_BUCKET", "b")]).is_err());
        let base = [("ASSETS_TABLE", "t"), ("ASSETS_BUCKET", "b")];
        for bad in [
            ("PRESIGN_TTL_SECONDS", "0"),
            ("PRESIGN_TTL_SECONDS", "soon"),
            ("MAX_UPLOAD_BYTES", "99999999"),
            ("INLINE_MAX_BYTES", "0"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("MAX_DIRECT_UPLOAD_BYTES", "5368709121"),
            ("MULTIPART_THRESHOLD_BYTES", "1000"),
            ("UPLOAD_URL_TTL_SECONDS", "604801"),
            ("PENDING_UPLOAD_TTL_SECONDS", "60"),
        ] {
            let mut vars = base.to_vec();
            vars.push(bad);
            assert!(config(&vars).is_err(), "{bad:?} accepted");
        }
        let c = config(&[
            ("ASSETS_TABLE", "t"),
            ("ASSETS_BUCKET", "b"),
            ("PUBLIC_BASE_URL", "https://cdn.example.com/prod/"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ])
        .unwrap();
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://cdn.example.com/prod")
        );
        assert_eq!(c.aws_endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    }
}
