use std::borrow::Cow;

use lambda_http::Request;
use percent_encoding::percent_decode_str;

use super::ApiError;
use crate::domain::{UploadId, Visibility};

/// The parts of a direct-upload path, `.../uploads/{visibility}[/{uploadId}[/...]]`, read from
/// the path itself so it works the same behind API Gateway (any stage prefix) and locally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadPath {
    pub visibility: Visibility,
    /// `None` for the start route; a segment that is not a well-formed upload id is a 404.
    pub upload_id: Option<UploadId>,
    /// Segments after the upload id (`["parts", "3"]`, `["complete"]`), percent-decoded.
    pub rest: Vec<String>,
}

/// Errors: [`ApiError::NotFound`] for a path without `uploads/{private|public}` or with a
/// malformed upload id (such an upload cannot exist).
pub fn upload_path(req: &Request) -> Result<UploadPath, ApiError> {
    parse_upload_path(req.uri().path())
}

fn parse_upload_path(path: &str) -> Result<UploadPath, ApiError> {
    let segments: Vec<Cow<'_, str>> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy())
        .collect();
    let at = segments
        .iter()
        .position(|s| s == "uploads")
        .ok_or(ApiError::NotFound)?;
    let mut rest = segments[at + 1..].iter();
    let visibility = rest
        .next()
        .and_then(|v| Visibility::parse(v))
        .ok_or(ApiError::NotFound)?;
    let upload_id = rest
        .next()
        .map(|id| UploadId::parse(id).ok_or(ApiError::NotFound))
        .transpose()?;
    Ok(UploadPath {
        visibility,
        upload_id,
        rest: rest.map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_paths_are_read_behind_any_prefix() {
        let id = UploadId::generate();
        let p = parse_upload_path(&format!(
            "/prod/api/v1/partner/asset/uploads/public/{id}/parts/3"
        ))
        .unwrap();
        assert_eq!(p.visibility, Visibility::Public);
        assert_eq!(p.upload_id, Some(id));
        assert_eq!(p.rest, ["parts", "3"]);
        let start = parse_upload_path("/api/v1/partner/asset/uploads/private").unwrap();
        assert_eq!(start.visibility, Visibility::Private);
        assert_eq!(start.upload_id, None);
        for bad in [
            "/api/v1/partner/asset/uploads/secret",
            "/api/v1/partner/asset/uploads",
            "/api/v1/partner/asset/uploads/public/not-an-id",
            "/api/v1/partner/asset/x",
        ] {
            assert!(
                matches!(parse_upload_path(bad), Err(ApiError::NotFound)),
                "{bad}"
            );
        }
    }
}
