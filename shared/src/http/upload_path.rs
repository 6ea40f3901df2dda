use std::borrow::Cow;

use lambda_http::Request;
use percent_encoding::percent_decode_str;

use super::ApiError;
use crate::domain::{UploadId, Visibility};

/// Which client protocol a direct-upload path speaks: the service's own routes, or the backend
/// protocol `@uppy/aws-s3` (4.x/5.x, `endpoint` option) expects under the same base URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `.../uploads/{visibility}[/{uploadId}[/parts/{n} | /complete]]`.
    Native,
    /// `.../uploads/{visibility}/s3/params` and `.../s3/multipart[/{uploadId}[/{n} | /complete]]`.
    Uppy,
}

/// The parts of a direct-upload path, `.../uploads/{visibility}[/{uploadId}[/...]]` or its Uppy
/// form `.../uploads/{visibility}/s3/multipart[/{uploadId}[/...]]`, read from the path itself so
/// it works the same behind API Gateway (any stage prefix) and locally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadPath {
    pub protocol: Protocol,
    pub visibility: Visibility,
    /// `None` for the start route; a segment that is not a well-formed upload id is a 404.
    pub upload_id: Option<UploadId>,
    /// Segments after the upload id (`["parts", "3"]`, `["complete"]`; Uppy's `["3"]`), or for
    /// Uppy's `s3/params` `["params"]`; percent-decoded.
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
    let mut protocol = Protocol::Native;
    if rest.as_slice().first().is_some_and(|s| s == "s3") {
        protocol = Protocol::Uppy;
        match rest.nth(1).map(|s| s.as_ref()) {
            Some("params") if rest.len() == 0 => {
                return Ok(UploadPath {
                    protocol,
                    visibility,
                    upload_id: None,
                    rest: vec!["params".to_owned()],
                });
            }
            Some("multipart") => {}
            _ => return Err(ApiError::NotFound),
        }
    }
    let upload_id = rest
        .next()
        .map(|id| UploadId::parse(id).ok_or(ApiError::NotFound))
        .transpose()?;
    Ok(UploadPath {
        protocol,
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
        assert_eq!(start.protocol, Protocol::Native);
        for bad in [
            "/api/v1/partner/asset/uploads/secret",
            "/api/v1/partner/asset/uploads",
            "/api/v1/partner/asset/uploads/public/not-an-id",
            "/api/v1/partner/asset/x",
            "/api/v1/partner/asset/uploads/public/s3",
            "/api/v1/partner/asset/uploads/public/s3/other",
            "/api/v1/partner/asset/uploads/public/s3/multipart/not-an-id",
        ] {
            assert!(
                matches!(parse_upload_path(bad), Err(ApiError::NotFound)),
                "{bad}"
            );
        }
    }

    #[test]
    fn uppy_paths_name_the_same_uploads() {
        let id = UploadId::generate();
        let base = "/api/v1/partner/asset/uploads/private/s3";
        let params = parse_upload_path(&format!("{base}/params")).unwrap();
        assert_eq!(
            (params.protocol, params.upload_id, params.rest.as_slice()),
            (Protocol::Uppy, None, ["params".to_owned()].as_slice())
        );
        let create = parse_upload_path(&format!("{base}/multipart")).unwrap();
        assert_eq!(
            (create.protocol, create.upload_id, create.rest.len()),
            (Protocol::Uppy, None, 0)
        );
        let part = parse_upload_path(&format!("{base}/multipart/{id}/7")).unwrap();
        assert_eq!(part.protocol, Protocol::Uppy);
        assert_eq!(part.visibility, Visibility::Private);
        assert_eq!(part.upload_id, Some(id.clone()));
        assert_eq!(part.rest, ["7"]);
        let complete = parse_upload_path(&format!("{base}/multipart/{id}/complete")).unwrap();
        assert_eq!(complete.rest, ["complete"]);
    }
}
