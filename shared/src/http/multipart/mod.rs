//! `multipart/form-data` upload bodies: `multer` finds the parts under a whole-body limit; each
//! part's headers are then read here, the way the common HTTP clients really write them
//! (`disposition`, `encoded_word`). Only the three contract fields, each at most once, the file
//! within the configured size.

mod disposition;
mod encoded_word;

use bytes::{Bytes, BytesMut};
use encoding_rs::Encoding;
use futures_util::stream;
use http::header::{CONTENT_DISPOSITION, HeaderName};
use multer::{Constraints, Field, Multipart, SizeLimit};

use super::ApiError;

/// Room for the multipart framing and the two text fields on top of the file itself.
const FORM_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Generous for a name or an asset type; anything longer is not a value we want.
const TEXT_FIELD_LIMIT: u64 = 4 * 1024;
/// RFC 7578 §4.7 forbids senders to use anything but these; none of the common clients do.
const IDENTITY_TRANSFER_ENCODINGS: [&str; 3] = ["7bit", "8bit", "binary"];
const CONTENT_TRANSFER_ENCODING: HeaderName = HeaderName::from_static("content-transfer-encoding");

#[derive(Debug, Default)]
pub struct UploadForm {
    pub file: Bytes,
    /// The filename on the file part as the client meant it (decoded, not yet normalised or
    /// cleaned), if it sent one.
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

/// Parses an upload form. Errors: 400 `invalid_multipart` (not multipart, malformed, duplicate
/// file, unsupported `Content-Transfer-Encoding`), 400 `invalid_field` (unknown or repeated field,
/// text over 4 KB or not text in its charset), 400 `missing_file` / `empty_file`, 413 when the
/// file is over `max_file_bytes`.
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
        return Err(ApiError::SmallUploadTooLarge {
            limit: max_file_bytes,
        });
    }
    // Only the whole-body limit is multer's: its own reading of field names is not the one the
    // clients need (no `filename*`, no parameter names in other cases), so fields and their limits
    // are decided below, on our reading of each part's headers.
    let constraints = Constraints::new()
        .size_limit(SizeLimit::new().whole_stream(max_body_bytes(max_file_bytes)));
    let body_stream = stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = Multipart::with_constraints(body_stream, boundary, constraints);

    let mut form = UploadForm::default();
    let mut seen_file = false;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| form_error(e, max_file_bytes))?
    {
        let disposition = field
            .headers()
            .get(CONTENT_DISPOSITION)
            .map(|value| disposition::parse(value.as_bytes()))
            .unwrap_or_default();
        check_transfer_encoding(&field)?;
        let name = disposition.name.ok_or_else(|| {
            ApiError::bad_request("invalid_field", "every form part needs a name")
        })?;
        match name.as_str() {
            "file" => {
                if std::mem::replace(&mut seen_file, true) {
                    return Err(malformed("only one file part is allowed"));
                }
                form.filename = disposition.filename;
                form.file = read_field(&mut field, max_file_bytes)
                    .await
                    .map_err(|e| match e {
                        FieldError::TooLong => ApiError::SmallUploadTooLarge {
                            limit: max_file_bytes,
                        },
                        FieldError::Multipart(e) => form_error(e, max_file_bytes),
                    })?;
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
                let bytes =
                    read_field(&mut field, TEXT_FIELD_LIMIT)
                        .await
                        .map_err(|e| match e {
                            FieldError::TooLong => ApiError::bad_request(
                                "invalid_field",
                                format!("field {name} is longer than {TEXT_FIELD_LIMIT} bytes"),
                            ),
                            FieldError::Multipart(e) => form_error(e, max_file_bytes),
                        })?;
                *slot = Some(field_text(&field, &name, &bytes)?);
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!(
                        "unexpected form field {:?}; allowed: file, name, assetType",
                        other.chars().take(64).collect::<String>()
                    ),
                ));
            }
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

enum FieldError {
    TooLong,
    Multipart(multer::Error),
}

/// A part's bytes, refused as soon as they pass `limit`.
async fn read_field(field: &mut Field<'_>, limit: u64) -> Result<Bytes, FieldError> {
    let mut bytes = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(FieldError::Multipart)? {
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(FieldError::TooLong);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// A text field in the charset its part declares (Apache HttpClient 5's `addTextBody` sends
/// `text/plain; charset=ISO-8859-1` by default, Spring and .NET `charset=UTF-8`), else UTF-8.
fn field_text(field: &Field<'_>, name: &str, bytes: &[u8]) -> Result<String, ApiError> {
    let charset = field
        .content_type()
        .and_then(|mime| mime.get_param("charset"))
        .map(|charset| charset.as_str().to_owned());
    let encoding = match &charset {
        None => encoding_rs::UTF_8,
        Some(label) => Encoding::for_label(label.as_bytes()).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "field {name} declares an unknown charset {:?}",
                    label.chars().take(40).collect::<String>()
                ),
            )
        })?,
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "field {name} must be text in {}",
                    charset.as_deref().unwrap_or("UTF-8")
                ),
            )
        })
}

/// Parts are sent as they are; a declared encoding other than identity would be stored encoded.
fn check_transfer_encoding(field: &Field<'_>) -> Result<(), ApiError> {
    let Some(value) = field.headers().get(CONTENT_TRANSFER_ENCODING) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or_default().trim();
    if IDENTITY_TRANSFER_ENCODINGS
        .iter()
        .any(|identity| identity.eq_ignore_ascii_case(value))
    {
        return Ok(());
    }
    Err(malformed(format!(
        "Content-Transfer-Encoding {:?} is not supported (RFC 7578 §4.7: send the bytes as they are)",
        value.chars().take(40).collect::<String>()
    )))
}

fn form_error(err: multer::Error, max_file_bytes: u64) -> ApiError {
    match err {
        multer::Error::StreamSizeExceeded { .. } => ApiError::SmallUploadTooLarge {
            limit: max_file_bytes,
        },
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
