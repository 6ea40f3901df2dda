//! `multipart/form-data` upload bodies, parsed with `multer` under strict limits: only the three
//! contract fields, each at most once, the file within the configured size.

use bytes::Bytes;
use futures_util::stream;
use multer::{Constraints, Multipart, SizeLimit};

use super::ApiError;

/// Room for the multipart framing and the two text fields on top of the file itself.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Generous for a name or an asset type; anything longer is not a value we want.
const TEXT_FIELD_LIMIT: u64 = 4 * 1024;

#[derive(Debug, Default)]
pub struct UploadForm {
    pub file: Bytes,
    /// The filename on the file part, if the client sent one.
    pub filename: Option<String>,
    pub name: Option<String>,
    pub asset_type: Option<String>,
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_multipart", message)
}

/// The whole request body must fit comfortably around the largest allowed file.
pub fn max_body_bytes(max_file_bytes: u64) -> u64 {
    max_file_bytes + FORM_OVERHEAD_BYTES
}

pub async fn parse_upload_form(
    content_type: Option<&str>,
    body: Bytes,
    max_file_bytes: u64,
) -> Result<UploadForm, ApiError> {
    let content_type =
        content_type.ok_or_else(|| malformed("Content-Type must be multipart/form-data"))?;
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| malformed("Content-Type must be multipart/form-data with a boundary"))?;
    if body.len() as u64 > max_body_bytes(max_file_bytes) {
        return Err(ApiError::PayloadTooLarge {
            limit: max_file_bytes,
        });
    }
    let constraints = Constraints::new()
        .allowed_fields(vec!["file", "name", "assetType"])
        .size_limit(
            SizeLimit::new()
                .whole_stream(max_body_bytes(max_file_bytes))
                .per_field(TEXT_FIELD_LIMIT)
                .for_field("file", max_file_bytes),
        );
    let body_stream = stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = Multipart::with_constraints(body_stream, boundary, constraints);

    let mut form = UploadForm::default();
    let mut seen_file = false;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| form_error(e, max_file_bytes))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if std::mem::replace(&mut seen_file, true) {
                    return Err(malformed("only one file part is allowed"));
                }
                form.filename = field.file_name().map(str::to_owned);
                form.file = field
                    .bytes()
                    .await
                    .map_err(|e| form_error(e, max_file_bytes))?;
            }
            "name" | "assetType" => {
                let slot = if name == "name" {
                    &mut form.name
                } else {
                    &mut form.asset_type
                };
                if slot.is_some() {
                    return Err(malformed(format!("field {name} appears more than once")));
                }
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| form_error(e, max_file_bytes))?;
                let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_field",
                        format!("field {name} must be UTF-8 text"),
                    )
                })?;
                *slot = Some(text);
            }
            _ => unreachable!("multer only yields allowed fields"),
        }
    }
    if !seen_file {
        return Err(ApiError::bad_request(
            "missing_file",
            "the form has no file part",
        ));
    }
    if form.file.is_empty() {
        return Err(ApiError::bad_request("empty_file", "the file is empty"));
    }
    Ok(form)
}

fn form_error(err: multer::Error, max_file_bytes: u64) -> ApiError {
    match err {
        multer::Error::FieldSizeExceeded { field_name, .. }
            if field_name.as_deref() == Some("file") =>
        {
            ApiError::PayloadTooLarge {
                limit: max_file_bytes,
            }
        }
        multer::Error::StreamSizeExceeded { .. } => ApiError::PayloadTooLarge {
            limit: max_file_bytes,
        },
        multer::Error::FieldSizeExceeded { field_name, .. } => ApiError::bad_request(
            "invalid_field",
            format!(
                "field {} is longer than {TEXT_FIELD_LIMIT} bytes",
                field_name.unwrap_or_default()
            ),
        ),
        multer::Error::UnknownField { field_name } => ApiError::bad_request(
            "invalid_field",
            match field_name {
                Some(name) => format!(
                    "unexpected form field {:?}; allowed: file, name, assetType",
                    name.chars().take(64).collect::<String>()
                ),
                None => "every form part needs a name".to_owned(),
            },
        ),
        other => malformed(format!("the multipart body is malformed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "XyZ";

    fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    fn part(name: &str, filename: Option<&str>, body: &[u8]) -> Vec<u8> {
        let mut out = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"");
        if let Some(f) = filename {
            out.push_str(&format!("; filename=\"{f}\""));
        }
        out.push_str("\r\n\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
        out
    }

    fn form(parts: &[Vec<u8>]) -> Bytes {
        let mut body = parts.concat();
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        Bytes::from(body)
    }

    async fn parse(body: Bytes, limit: u64) -> Result<UploadForm, ApiError> {
        parse_upload_form(Some(&content_type()), body, limit).await
    }

    fn status(result: Result<UploadForm, ApiError>) -> u16 {
        result.unwrap_err().status().as_u16()
    }

    #[tokio::test]
    async fn reads_the_three_fields() {
        let body = form(&[
            part("name", None, "Résumé".as_bytes()),
            part("assetType", None, b"DOCUMENT"),
            part("file", Some("cv.pdf"), b"%PDF-1.4"),
        ]);
        let parsed = parse(body, 1024).await.unwrap();
        assert_eq!(parsed.name.as_deref(), Some("Résumé"));
        assert_eq!(parsed.asset_type.as_deref(), Some("DOCUMENT"));
        assert_eq!(parsed.filename.as_deref(), Some("cv.pdf"));
        assert_eq!(&parsed.file[..], b"%PDF-1.4");
    }

    #[tokio::test]
    async fn refuses_bad_forms() {
        let file = part("file", Some("a.pdf"), b"%PDF-1.4");
        assert_eq!(
            status(parse(form(&[part("name", None, b"x")]), 1024).await),
            400
        );
        assert_eq!(
            status(parse(form(&[file.clone(), file.clone()]), 1024).await),
            400
        );
        assert_eq!(
            status(parse(form(&[part("file", Some("a"), b"")]), 1024).await),
            400
        );
        assert_eq!(
            status(parse(form(&[file.clone(), part("evil", None, b"1")]), 1024).await),
            400
        );
        assert_eq!(
            status(parse(form(&[file.clone(), part("name", None, b"\xff\xfe")]), 1024).await),
            400
        );
        assert_eq!(
            status(
                parse(
                    form(&[
                        part("name", None, b"a"),
                        part("name", None, b"b"),
                        file.clone()
                    ]),
                    1024
                )
                .await
            ),
            400
        );
        let truncated = Bytes::from(file[..file.len() - 4].to_vec());
        assert_eq!(status(parse(truncated, 1024).await), 400);
        assert_eq!(
            status(
                parse_upload_form(
                    Some("multipart/form-data"),
                    form(std::slice::from_ref(&file)),
                    1024
                )
                .await
            ),
            400
        );
        assert_eq!(
            status(
                parse_upload_form(
                    Some("application/json"),
                    form(std::slice::from_ref(&file)),
                    1024
                )
                .await
            ),
            400
        );
        assert_eq!(
            status(parse_upload_form(None, form(&[file]), 1024).await),
            400
        );
    }

    #[tokio::test]
    async fn enforces_the_file_limit() {
        let at_limit = form(&[part("file", Some("a.txt"), &[b'a'; 100])]);
        assert!(parse(at_limit, 100).await.is_ok());
        let over = form(&[part("file", Some("a.txt"), &[b'a'; 101])]);
        assert_eq!(status(parse(over, 100).await), 413);
        let huge_body = form(&[part("file", Some("a.txt"), &vec![b'a'; 200 * 1024])]);
        assert_eq!(status(parse(huge_body, 100).await), 413);
        let long_name = form(&[part("name", None, &[b'n'; 5000]), part("file", None, b"x")]);
        assert_eq!(status(parse(long_name, 100).await), 400);
    }
}
