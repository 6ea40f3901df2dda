use headers::{AcceptRanges, ContentRange, HeaderMapExt};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::placeholder::placeholder_response;
use crate::auth::AuthError;
use crate::domain::{ContentRejection, PlanError, Refusal};
use crate::renditions::RenditionError;
use crate::storage::StorageError;

/// Every way a request can fail, as the client sees it. This is the only place that decides
/// statuses and error codes; internals (SDK messages, paths) never reach the body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the credential may not do this (an upload token used for the other
    /// visibility).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("asset not found")]
    NotFound,
    #[error("the file is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// A multipart `POST /upload/...` over its limit (Lambda's 6 MB payload): the answer names
    /// the direct upload, which takes files of any size.
    #[error(
        "the file is larger than the limit of {limit} bytes for this endpoint; send it as a direct \
         upload instead: POST /api/v1/partner/asset/uploads/{{private|public}} with its size \
         (README, \"Uploading large files\")"
    )]
    SmallUploadTooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The request is valid but the resource is not in a state to take it (a direct upload
    /// completed before its bytes arrived).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// `If-Match` named a version of the asset's metadata that is no longer current (RFC 9110
    /// §13.1.1): another change came first, and nothing was written.
    #[error("the asset has changed since the version named in If-Match; read it again")]
    PreconditionFailed,
    /// A direct upload that finalize refused: answered again, exactly as first decided.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// No byte range of a GET's `Range` starts inside the representation (RFC 9110 §15.5.17);
    /// `complete_length` is the representation's size in bytes, sent as `Content-Range: bytes */n`.
    #[error("the requested byte range lies outside the {complete_length} bytes of the asset")]
    RangeNotSatisfiable { complete_length: u64 },
    #[error("storage is temporarily unavailable, please retry")]
    StorageUnavailable,
    #[error("the request could not be completed")]
    Internal,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
    /// The message again at the top level, for Uppy only: `@uppy/companion-client` shows a 4xx
    /// body's top-level `message` to the user (`UserFacingApiError`) and otherwise only "Failed
    /// request with status: N".
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } | Self::SmallUploadTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Refused(refusal) => {
                StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Self::Conflict { code, .. } => code,
            Self::Refused(refusal) => &refusal.code,
            Self::BadRequest { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { code, .. } => code,
            Self::NotFound => "not_found",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge { .. } | Self::SmallUploadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::Unprocessable { code, .. } => code,
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::StorageUnavailable => "storage_unavailable",
            Self::Internal => "internal",
        }
    }

    /// What a direct upload records when finalize refuses it for this reason; `None` for errors
    /// that are not the file's fault (storage, internal), after which finalize is retried.
    pub fn refusal(&self) -> Option<Refusal> {
        let status = self.status();
        let not_the_files_fault = [StatusCode::CONFLICT, StatusCode::NOT_FOUND].contains(&status);
        (status.is_client_error() && !not_the_files_fault).then(|| Refusal {
            status: status.as_u16(),
            code: self.code().to_owned(),
            message: self.to_string(),
        })
    }

    /// The JSON error answer, or with `placeholder` (GET's `handleError=true`) an image body under
    /// the same truthful status, so an `<img>` shows something instead of a broken icon.
    ///
    /// A `416` is always the JSON answer with `Content-Range: bytes */{length}`, `handleError` or
    /// not: the asset exists and can be shown, only the client's byte position is wrong (a media
    /// player or download manager resuming past the end, never an `<img>`, which sends no
    /// `Range`). A placeholder there would stand in for content the asset has, and the
    /// `Content-Range` is what lets the client correct its request.
    pub fn into_response(self, placeholder: bool) -> Response<Body> {
        if placeholder && !matches!(self, Self::RangeNotSatisfiable { .. }) {
            return placeholder_response(self.status());
        }
        self.json_response(false)
    }

    /// The JSON error answer on the Uppy protocol routes: the same body plus a top-level
    /// `message` (see [`ErrorBody`]).
    pub fn into_uppy_response(self) -> Response<Body> {
        self.json_response(true)
    }

    fn json_response(self, top_level_message: bool) -> Response<Body> {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
            },
            message: top_level_message.then(|| self.to_string()),
        };
        let mut builder = Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if matches!(self, Self::Unauthorized(_)) {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer realm=\"assets\"");
        }
        if let (Self::RangeNotSatisfiable { complete_length }, Some(headers)) =
            (&self, builder.headers_mut())
        {
            headers.typed_insert(ContentRange::unsatisfied_bytes(*complete_length));
            headers.typed_insert(AcceptRanges::bytes());
        }
        builder
            .body(Body::from(
                serde_json::to_string(&body).expect("error body serialises"),
            ))
            .expect("static error response is valid")
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        tracing::error!(error = %err, "storage call failed");
        match err {
            StorageError::Unavailable(_) => Self::StorageUnavailable,
            // Handlers that write conditionally retry or answer 412 themselves; one that reaches
            // here lost a race it could not resolve.
            StorageError::Conflict => Self::Conflict {
                code: "concurrent_change",
                message: "the asset changed while this request ran; please retry".into(),
            },
            StorageError::AlreadyExists | StorageError::Corrupt(_) => Self::Internal,
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(err: PlanError) -> Self {
        match err {
            PlanError::TooLarge { limit } => Self::PayloadTooLarge { limit },
            PlanError::Empty => Self::bad_request("empty_file", err.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Missing => Self::Unauthorized("an API key is required (X-Api-Key header)"),
            AuthError::Invalid => Self::Unauthorized("the API key is not valid"),
            AuthError::InvalidToken => Self::Unauthorized("the upload token is not valid"),
            AuthError::TokenExpired => Self::Unauthorized("the upload token has expired"),
            AuthError::TokenNotAccepted => Self::Unauthorized(
                "upload tokens are accepted only by the direct-upload routes \
                 (/api/v1/partner/asset/uploads/...); use an API key here",
            ),
            AuthError::Storage(err) => err.into(),
        }
    }
}

impl From<ContentRejection> for ApiError {
    fn from(err: ContentRejection) -> Self {
        match err {
            ContentRejection::Empty => Self::bad_request("empty_file", err.to_string()),
            ContentRejection::TypeMismatch { .. } => Self::Unprocessable {
                code: "asset_type_mismatch",
                message: err.to_string(),
            },
            ContentRejection::ImageTooLarge { .. } => Self::Unprocessable {
                code: "image_too_large",
                message: err.to_string(),
            },
            ContentRejection::UnreadableImage => Self::Unprocessable {
                code: "invalid_image",
                message: err.to_string(),
            },
            ContentRejection::NotAllowed(_)
            | ContentRejection::Markup
            | ContentRejection::Unrecognised => Self::UnsupportedMediaType(err.to_string()),
        }
    }
}

impl From<RenditionError> for ApiError {
    fn from(err: RenditionError) -> Self {
        let code = match &err {
            RenditionError::UnsupportedFormat(_) => "no_renditions_for_format",
            RenditionError::Corrupt(_) => "invalid_image",
            RenditionError::TooLarge { .. } => "image_too_large",
            RenditionError::TooManyFrames { .. } => "too_many_frames",
            RenditionError::Internal(detail) => {
                tracing::error!(error = %detail, "rendition pipeline failure");
                return Self::Internal;
            }
        };
        Self::Unprocessable {
            code,
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(err: ApiError) -> (u16, serde_json::Value) {
        let response = err.into_response(false);
        let value = serde_json::from_slice(response.body().as_ref()).unwrap();
        (response.status().as_u16(), value)
    }

    #[test]
    fn errors_are_json_with_code_and_message() {
        let (status, body) = json(ApiError::PayloadTooLarge { limit: 10 });
        assert_eq!(status, 413);
        assert_eq!(body["error"]["code"], "payload_too_large");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("10 bytes")
        );
    }

    #[test]
    fn storage_internals_never_reach_the_client() {
        let err: ApiError =
            StorageError::Unavailable("dispatch failure: connection refused 127.0.0.1".into())
                .into();
        let (status, body) = json(err);
        assert_eq!(status, 503);
        assert!(!body.to_string().contains("127.0.0.1"));
    }

    #[test]
    fn unsatisfiable_ranges_name_the_length_even_under_handle_error() {
        for placeholder in [false, true] {
            let response = ApiError::RangeNotSatisfiable {
                complete_length: 1234,
            }
            .into_response(placeholder);
            assert_eq!(response.status(), 416);
            assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */1234");
            assert_eq!(response.headers()[header::ACCEPT_RANGES], "bytes");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["error"]["code"], "range_not_satisfiable");
        }
    }

    #[test]
    fn content_rejections_map_to_415_422_400() {
        let cases: [(ContentRejection, u16); 3] = [
            (ContentRejection::Markup, 415),
            (
                ContentRejection::TypeMismatch {
                    declared: crate::domain::AssetType::Image,
                    detected: crate::domain::AssetType::Document,
                    mime: "application/pdf",
                },
                422,
            ),
            (ContentRejection::Empty, 400),
        ];
        for (rejection, status) in cases {
            assert_eq!(ApiError::from(rejection).status().as_u16(), status);
        }
    }
}
