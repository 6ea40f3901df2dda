use std::borrow::Cow;

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use percent_encoding::percent_decode_str;

use super::ApiError;
use crate::config::Config;
use crate::domain::{AssetKey, RenditionSize};

const API_KEY_HEADER: &str = "x-api-key";

/// The API key the client presented: `X-Api-Key`, or `Authorization: Bearer <key>`.
/// A header that is present but unusable is an invalid key, not an anonymous request.
pub fn presented_api_key(req: &Request) -> Result<Option<&str>, ApiError> {
    const INVALID: ApiError = ApiError::Unauthorized("the API key is not valid");
    let headers = req.headers();
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return value.to_str().map(Some).map_err(|_| INVALID);
    }
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => {
            let value = value.to_str().map_err(|_| INVALID)?;
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    Ok(Some(token.trim()))
                }
                _ => Err(INVALID),
            }
        }
    }
}

/// The absolute origin (plus stage path) clients reach this API at: `PUBLIC_BASE_URL` when
/// configured, else the request's host and API Gateway stage.
pub fn base_url(config: &Config, req: &Request) -> String {
    if let Some(base) = &config.public_base_url {
        return base.clone();
    }
    let context = req.request_context_ref();
    let (domain, stage) = match context {
        Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.domain_name.clone(), ctx.stage.clone()),
        _ => (None, None),
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or(domain)
        .unwrap_or_else(|| "localhost".to_owned());
    let scheme = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or("https");
    match stage.as_deref() {
        None | Some("" | "$default") => format!("{scheme}://{host}"),
        Some(stage) => format!("{scheme}://{host}/{stage}"),
    }
}

/// `handleError`: absent (false), or a boolean as the common clients write one (see
/// [`query_bool`]); any other value, the empty one included, is a client error.
pub fn handle_error_flag(req: &Request) -> Result<bool, ApiError> {
    let params = req.query_string_parameters_ref();
    let Some(value) = params.and_then(|p| p.first("handleError")) else {
        return Ok(false);
    };
    query_bool(value).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            "handleError must be true or false (any case), 1 or 0",
        )
    })
}

/// A query-string boolean: `true`/`false` in any case (Python `requests` and `httpx` send `True`
/// from a Python `True`; JavaScript, Go, Java and .NET send `true`/`false`, .NET's `bool` prints
/// `True`), or `1`/`0` (PHP's `http_build_query` writes `true` as `1`, `false` as `0`).
pub fn query_bool(value: &str) -> Option<bool> {
    match value {
        "1" => Some(true),
        "0" => Some(false),
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Spellings of a query boolean and what [`query_bool`] makes of each (`None`: a 400), shared by
/// the parser's unit test and the handler test that sends each one.
#[cfg(test)]
pub(crate) const QUERY_BOOL_SPELLINGS: [(&str, Option<bool>); 16] = [
    ("true", Some(true)),
    ("True", Some(true)),
    ("TRUE", Some(true)),
    ("tRuE", Some(true)),
    ("1", Some(true)),
    ("false", Some(false)),
    ("False", Some(false)),
    ("FALSE", Some(false)),
    ("0", Some(false)),
    ("", None),
    ("yes", None),
    ("on", None),
    (" true", None),
    ("01", None),
    ("2", None),
    ("truee", None),
];

/// The `size` query parameter of a GET: absent for the original, else one of the renditions.
pub fn rendition_param(req: &Request) -> Result<Option<RenditionSize>, ApiError> {
    let params = req.query_string_parameters_ref();
    let Some(value) = params.and_then(|p| p.first("size")) else {
        return Ok(None);
    };
    RenditionSize::parse(value).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_parameter",
            "size must be one of thumb, medium, large, largeX2 (any case)",
        )
    })
}

/// The asset routes' common prefix.
const ASSET_PATH: &str = "/api/v1/partner/asset/";

/// The `expires` (Unix seconds) and `signature` query parameters of a signed URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUrlParams {
    pub expires_s: i64,
    pub signature: String,
}

/// The signed-URL parameters of a GET: `None` when neither `expires` nor `signature` is present
/// (an ordinary GET). One without the other, or an `expires` that is not a whole number of
/// seconds, is a signed URL that was changed: 404, exactly like a wrong signature.
pub fn signed_url_params(req: &Request) -> Result<Option<SignedUrlParams>, ApiError> {
    let params = req.query_string_parameters_ref();
    let expires = params.and_then(|p| p.first("expires"));
    let signature = params.and_then(|p| p.first("signature"));
    match (expires, signature) {
        (None, None) => Ok(None),
        (Some(expires), Some(signature)) => {
            let expires_s = expires
                .parse::<i64>()
                .ok()
                .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
                .ok_or(ApiError::NotFound)?;
            Ok(Some(SignedUrlParams {
                expires_s,
                signature: signature.to_owned(),
            }))
        }
        _ => Err(ApiError::NotFound),
    }
}

/// The `{assetKey}` path segment, percent-decoded (local runners pass it encoded, API Gateway
/// decoded), taken from the path parameters or else the last segment of the path. Anything that is
/// not a well-formed key cannot name an asset: 404.
pub fn asset_key_param(req: &Request) -> Result<AssetKey, ApiError> {
    let from_params = req
        .path_parameters_ref()
        .and_then(|p| p.first("assetKey"))
        .map(str::to_owned);
    // Without path parameters: the segment after `/asset/` (`.../asset/{assetKey}/url` too),
    // else the last one.
    let raw = from_params.unwrap_or_else(|| {
        let path = req.uri().path();
        let segment = match path.split_once(ASSET_PATH) {
            Some((_, rest)) => rest.split('/').next(),
            None => path.rsplit('/').next(),
        };
        segment.unwrap_or_default().to_owned()
    });
    let decoded: Cow<'_, str> = percent_decode_str(&raw)
        .decode_utf8()
        .map_err(|_| ApiError::NotFound)?;
    AssetKey::parse(&decoded).ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::{Body, RequestExt};

    use super::*;

    fn config(public_base_url: Option<&str>) -> Config {
        let mut config = Config::from_lookup(|name| match name {
            "ASSETS_TABLE" | "ASSETS_BUCKET" => Some("x".into()),
            _ => None,
        })
        .unwrap();
        config.public_base_url = public_base_url.map(str::to_owned);
        config
    }

    fn request(stage: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("/api/v1/partner/asset/x");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.stage = Some(stage.to_owned());
        context.domain_name = Some("abc.execute-api.eu-west-1.amazonaws.com".to_owned());
        builder
            .body(Body::Empty)
            .unwrap()
            .with_request_context(RequestContext::ApiGatewayV2(context))
    }

    #[test]
    fn base_url_comes_from_config_else_host_and_stage() {
        let req = request("prod", &[("host", "api.example.com")]);
        assert_eq!(
            base_url(&config(None), &req),
            "https://api.example.com/prod"
        );
        assert_eq!(
            base_url(&config(Some("https://cdn.example.com")), &req),
            "https://cdn.example.com"
        );
        let default_stage = request("$default", &[("x-forwarded-proto", "http")]);
        assert_eq!(
            base_url(&config(None), &default_stage),
            "http://abc.execute-api.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn the_asset_key_is_the_segment_after_asset_without_path_parameters() {
        let key = "Zm9vYmFyYmF6cXV4MTIzNDU2";
        for path in [
            format!("/api/v1/partner/asset/{key}"),
            format!("/prod/api/v1/partner/asset/{key}/url"),
            format!("/elsewhere/{key}"),
        ] {
            let req = lambda_http::http::Request::builder()
                .uri(path.as_str())
                .body(Body::Empty)
                .unwrap();
            assert_eq!(asset_key_param(&req).unwrap().as_str(), key, "{path}");
        }
    }

    #[test]
    fn query_booleans_as_clients_write_them() {
        for (value, expected) in QUERY_BOOL_SPELLINGS {
            assert_eq!(query_bool(value), expected, "{value:?}");
        }
    }

    #[test]
    fn api_key_from_either_header() {
        let key = |headers: &[(&str, &str)]| {
            presented_api_key(&request("$default", headers)).map(|k| k.map(str::to_owned))
        };
        assert_eq!(
            key(&[("x-api-key", "ak_1")]).unwrap().as_deref(),
            Some("ak_1")
        );
        assert_eq!(
            key(&[("authorization", "Bearer ak_2")]).unwrap().as_deref(),
            Some("ak_2")
        );
        assert_eq!(
            key(&[("authorization", "bearer  ak_3 ")])
                .unwrap()
                .as_deref(),
            Some("ak_3")
        );
        assert_eq!(key(&[]).unwrap(), None);
        assert!(key(&[("authorization", "Basic dXNlcjpwYXNz")]).is_err());
    }
}
