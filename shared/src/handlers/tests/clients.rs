//! Uploads replayed byte for byte as each common HTTP client writes them, one row per client and
//! encoding variant, built from the client's source or documentation (cited per row). The clients
//! that are on the test machine are also driven for real against the running stack
//! (`tests/real_clients.rs`); README "Uploading from any client" sums both up.
//!
//! Each row must store the name the person chose, NFC-normalised, read back with the same bytes
//! and a `Content-Disposition` whose `filename*` is that name.

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Response};
use percent_encoding::percent_decode_str;

use super::{Harness, PDF, body_text, error_code, header_of, json};
use crate::domain::Visibility;
use crate::handlers::{get_asset, upload};

/// The hard name most rows send, and what the service must store for it.
const HARD: &str = "quote\"semi;colon%20 Résumé – 名前 😀.pdf";

/// A request as a client writes it: its `Content-Type`, then each part as (header lines, body),
/// then what follows the closing delimiter.
struct Wire {
    content_type: String,
    boundary: String,
    preamble: &'static [u8],
    parts: Vec<(Vec<u8>, Vec<u8>)>,
    epilogue: &'static [u8],
}

impl Wire {
    fn new(boundary: &str, content_type: String) -> Self {
        Self {
            content_type,
            boundary: boundary.to_owned(),
            preamble: b"",
            parts: Vec::new(),
            epilogue: b"\r\n",
        }
    }

    /// `multipart/form-data; boundary=<boundary>`, the most common spelling.
    fn plain(boundary: &str) -> Self {
        Self::new(
            boundary,
            format!("multipart/form-data; boundary={boundary}"),
        )
    }

    fn part(mut self, headers: impl AsRef<[u8]>, body: &[u8]) -> Self {
        self.parts.push((headers.as_ref().to_vec(), body.to_vec()));
        self
    }

    /// The file part with the given header lines (CRLF-separated, without the final CRLF).
    fn file(self, headers: impl AsRef<[u8]>) -> Self {
        self.part(headers, PDF)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut body = self.preamble.to_vec();
        for (headers, content) in &self.parts {
            body.extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
            body.extend_from_slice(headers);
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{}--", self.boundary).as_bytes());
        body.extend_from_slice(self.epilogue);
        body
    }
}

impl Harness {
    async fn upload_wire(&self, wire: &Wire) -> Response<Body> {
        let request = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("https://api.example.com/api/v1/partner/asset/upload/public")
            .header(header::HOST, "api.example.com")
            .header(header::CONTENT_TYPE, wire.content_type.as_bytes())
            .header("x-api-key", &self.acme_key)
            .body(Body::Binary(wire.bytes()))
            .unwrap();
        upload(&self.app, Visibility::Public, request).await
    }
}

/// `filename*` of a served `Content-Disposition`, decoded.
fn served_filename(disposition: &str) -> String {
    let encoded = disposition
        .split("filename*=UTF-8''")
        .nth(1)
        .unwrap_or_else(|| panic!("no filename* in {disposition}"));
    percent_decode_str(encoded)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn cd(params: &str) -> String {
    format!("Content-Disposition: form-data; {params}")
}

/// (client and variant, its wire bytes, the name it must be stored under)
fn rows() -> Vec<(&'static str, Wire, String)> {
    let hard = HARD.to_owned();
    let nfd_hard = "quote\"semi;colon%20 Re\u{301}sume\u{301} – 名前 😀.pdf";
    let resume = "Résumé – Q3.pdf".to_owned();
    let resume_pct = "R%C3%A9sum%C3%A9%20%E2%80%93%20Q3.pdf";
    let long: String = format!("{}.pdf", "Ä".repeat(196));
    // A backslash is a Windows path separator to the service (old browsers sent whole paths):
    // the name is what follows it, however the client escaped it.
    let backslash = "slash ü.pdf".to_owned();
    vec![
        // HTML standard, "multipart/form-data encoding algorithm" (whatwg/html#6282): `"`, CR, LF
        // as %22, %0D, %0A; nothing else escaped. Chromium and WebKit did so already, Firefox since
        // 90 (Gecko bug 1686765; before, `\"`, which is the Go row below).
        (
            "Chromium fetch + FormData",
            Wire::plain("----WebKitFormBoundaryq8mZ4tUeC9Ffl2Jd").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        (
            "Firefox <form> (CR LF in the file name)",
            Wire::plain("----geckoformboundary1e6b4d3c2a59f8e7").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="two%0D%0Alines.pdf""#)
            )),
            "twolines.pdf".to_owned(),
        ),
        (
            "Chromium, a name field beside the file",
            Wire::plain("----WebKitFormBoundaryq8mZ4tUeC9Ffl2Jd")
                .part(cd(r#"name="name""#), HARD.as_bytes())
                .file(format!(
                    "{}\r\nContent-Type: application/pdf",
                    cd(r#"name="file"; filename="x.pdf""#)
                )),
            hard.clone(),
        ),
        (
            "Safari on macOS (NFD file name)",
            Wire::plain("----WebKitFormBoundaryAbCdEfGhIjKlMnOp").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(&format!(
                    r#"name="file"; filename="{}""#,
                    nfd_hard.replace('"', "%22")
                ))
            )),
            hard.clone(),
        ),
        (
            "browser, a name ending in a backslash",
            Wire::plain("----WebKitFormBoundaryq8mZ4tUeC9Ffl2Jd").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="end\""#)
            )),
            // Read as `end\` (the quote closes the value; see `disposition`), and a backslash is a
            // path separator, so nothing is left of the name: the fallback, not a 400.
            "asset".to_owned(),
        ),
        (
            "browser, 200-character name",
            Wire::plain("----WebKitFormBoundaryq8mZ4tUeC9Ffl2Jd").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(&format!(r#"name="file"; filename="{long}""#))
            )),
            long.clone(),
        ),
        // curl 7.81+ (lib/mime.c, escape_string with the HTML table) percent-escapes like browsers.
        (
            "curl -F file=@...;filename=... (7.81+)",
            Wire::plain("------------------------d74496d66958873e").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // `--form-escape` (CURLMIMEOPT_FORMESCAPE), and curl before 7.81: backslash-escapes.
        (
            "curl --form-escape, curl < 7.81, PHP CURLFile on such a libcurl",
            Wire::plain("------------------------d74496d66958873e").file(format!(
                "{}\r\nContent-Type: application/octet-stream",
                cd(r#"name="file"; filename="quote\"semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // urllib3 2.x format_multipart_header_param: %22, %0A, %0D; backslash raw. No part
        // Content-Type when requests is given (name, fileobj).
        (
            "Python requests on urllib3 2.x",
            Wire::plain("5e1fbd4c0a9a4d1e8e3c0f2b7a6d9c41").file(cd(
                r#"name="file"; filename="back\slash ü.pdf""#,
            )),
            backslash.clone(),
        ),
        // urllib3 1.25-1.26 format_header_param_html5 and httpx's _multipart: %22, `\` as `\\`,
        // controls as %XX.
        (
            "Python requests on urllib3 1.26 / httpx",
            Wire::plain("f3a8a7c5e9b84b8c9d9f0e1d2c3b4a59").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="back\\slash ü.pdf""#)
            )),
            backslash.clone(),
        ),
        // urllib3 before 1.25 (format_header_param, RFC 2231 via email.utils.encode_rfc2231).
        (
            "Python requests on urllib3 < 1.25 (RFC 2231)",
            Wire::plain("1f0e8a9b2c3d4e5f60718293a4b5c6d7").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(
                    "name=\"file\"; filename*=utf-8''quote%22semi%3Bcolon%2520%20R%C3%A9sum%C3%A9%20%E2%80%93%20%E5%90%8D%E5%89%8D%20%F0%9F%98%80.pdf"
                )
            )),
            hard.clone(),
        ),
        // undici (Node's fetch) FormData: the HTML standard's escapes.
        (
            "Node fetch (undici) + FormData",
            Wire::plain("----formdata-undici-052468218046").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // form-data (npm) before 4.0.6, _getContentDisposition: `filename="' + filename + '"'`,
        // nothing escaped (4.0.6 escapes like browsers: driven for real in tests/real_clients.rs).
        (
            "form-data (npm) < 4.0.6, also axios and got with it",
            Wire::plain("--------------------------515890814546601021194782").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote"semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // axios' formDataToStream (spec FormData on Node): escapeName, %0D %0A %22.
        (
            "axios with a spec FormData (Node)",
            Wire::plain("axios-1.7-boundary-Qk9Ly8xh2rTt4nL0vY1wZ3").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // OkHttp MultipartBody.appendQuotedString: %0A %0D %22; OkHttp 3 also wrote Content-Length.
        (
            "OkHttp",
            Wire::plain("6b8f4c2e-1d3a-4f5b-9c7e-0a2b4d6f8e1c").file(format!(
                "{}\r\nContent-Type: application/pdf\r\nContent-Length: {}",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#),
                PDF.len()
            )),
            hard.clone(),
        ),
        // Spring FormHttpMessageConverter / MultipartHttpMessageWriter: ContentDisposition with
        // encodeQuotedPairs (`\"`, `\\`), UTF-8 header bytes, no space in the Content-Type.
        (
            "Spring RestTemplate / WebClient",
            Wire::new(
                "Yk3u9V0q_zT2mB7nQ1xR8wE5-LpA6sD4",
                "multipart/form-data;boundary=Yk3u9V0q_zT2mB7nQ1xR8wE5-LpA6sD4".to_owned(),
            )
            .part(
                format!(
                    "{}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 6",
                    cd(r#"name="assetType""#)
                ),
                b"document",
            )
            .file(format!(
                "{}\r\nContent-Type: application/pdf\r\nContent-Length: {}",
                cd(r#"name="file"; filename="quote\"semi;colon%20 Résumé – 名前 😀.pdf""#),
                PDF.len()
            )),
            hard.clone(),
        ),
        // Spring with setMultipartCharset(UTF-8): MimeUtility.encodeText, RFC 2047 words.
        (
            "Spring with a multipart charset (RFC 2047 Q words)",
            Wire::plain("Yk3u9V0q_zT2mB7nQ1xR8wE5-LpA6sD4").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(
                    r#"name="file"; filename="=?UTF-8?Q?R=C3=A9sum=C3=A9_=E2=80=93?= =?UTF-8?Q?_Q3.pdf?=""#
                )
            )),
            resume.clone(),
        ),
        // Spring 6 ContentDisposition.filename(name, UTF_8): RFC 2047 Q word and filename*.
        (
            "Spring 6 ContentDisposition with a charset",
            Wire::plain("Yk3u9V0q_zT2mB7nQ1xR8wE5-LpA6sD4").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(&format!(
                    r#"name="file"; filename="=?UTF-8?Q?R=C3=A9sum=C3=A9_=E2=80=93_Q3.pdf?="; filename*=UTF-8''{resume_pct}"#
                ))
            )),
            resume.clone(),
        ),
        // Apache HttpClient 5 STRICT (the default): MimeField.getBody quotes with `\"`, `\\`;
        // header bytes US-ASCII; addTextBody's default ISO-8859-1 text.
        (
            "Apache HttpClient 5 STRICT (ISO-8859-1 text field)",
            Wire::plain("ypW3nhUbh9QKG5HJbf8rZ9cw5sFdJtD7xtj")
                .part(
                    format!(
                        "{}\r\nContent-Type: text/plain; charset=ISO-8859-1",
                        cd(r#"name="name""#)
                    ),
                    b"R\xe9sum\xe9 \"final\" v2.pdf",
                )
                .file(format!(
                    "{}\r\nContent-Type: application/octet-stream",
                    cd(r#"name="file"; filename="x.pdf""#)
                )),
            r#"Résumé "final" v2.pdf"#.to_owned(),
        ),
        // 5.5+ adds filename* (quoted) when the name is not ISO-8859-1; the ASCII filename has `?`.
        (
            "Apache HttpClient 5.5+ STRICT (filename*)",
            Wire::plain("ypW3nhUbh9QKG5HJbf8rZ9cw5sFdJtD7xtj").file(format!(
                "{}\r\nContent-Type: application/octet-stream",
                cd(&format!(
                    r#"name="file"; filename="R?sum? ? Q3.pdf"; filename*="UTF-8''{resume_pct}""#
                ))
            )),
            resume.clone(),
        ),
        // LEGACY: header bytes in the builder's charset, ISO-8859-1 when none is set.
        (
            "Apache HttpClient 5 LEGACY (ISO-8859-1 header bytes)",
            Wire::plain("ypW3nhUbh9QKG5HJbf8rZ9cw5sFdJtD7xtj").file(
                [
                    &b"Content-Disposition: form-data; name=\"file\"; filename=\"R\xe9sum\xe9.pdf\""[..],
                    b"\r\nContent-Type: application/octet-stream",
                ]
                .concat(),
            ),
            "Résumé.pdf".to_owned(),
        ),
        // EXTENDED (HttpRFC7578Multipart): the filename percent-encoded as RFC 8187 attr-chars, in
        // quotes and without a charset; 5.5+ also filename*.
        (
            "Apache HttpClient 5.4 EXTENDED",
            Wire::plain("ypW3nhUbh9QKG5HJbf8rZ9cw5sFdJtD7xtj").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(&format!(r#"name="file"; filename="{resume_pct}""#))
            )),
            resume.clone(),
        ),
        (
            "Apache HttpClient 5.5+ EXTENDED",
            Wire::plain("ypW3nhUbh9QKG5HJbf8rZ9cw5sFdJtD7xtj").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(&format!(
                    r#"name="file"; filename="{resume_pct}"; filename*="UTF-8''{resume_pct}""#
                ))
            )),
            resume.clone(),
        ),
        // .NET MultipartFormDataContent.Add(content, name, fileName): quoted boundary, token
        // name unquoted, RFC 2047 B word for non-ASCII plus filename* (ContentDispositionHeaderValue).
        (
            ".NET HttpClient (issue 11's request)",
            Wire::new(
                "4c1d7a0e-3f5b-4c9a-8e2d-6b7f1a9c3e5d",
                "multipart/form-data; boundary=\"4c1d7a0e-3f5b-4c9a-8e2d-6b7f1a9c3e5d\""
                    .to_owned(),
            )
            .file(format!(
                "Content-Type: application/pdf\r\n{}",
                cd(&format!(
                    "name=file; filename=\"=?utf-8?B?UsOpc3Vtw6kg4oCTIFEzLnBkZg==?=\"; filename*=utf-8''{resume_pct}"
                ))
            )),
            resume.clone(),
        ),
        (
            ".NET HttpClient, StringContent name field",
            Wire::new(
                "4c1d7a0e-3f5b-4c9a-8e2d-6b7f1a9c3e5d",
                "multipart/form-data; boundary=\"4c1d7a0e-3f5b-4c9a-8e2d-6b7f1a9c3e5d\""
                    .to_owned(),
            )
            .part(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: form-data; name=name",
                HARD.as_bytes(),
            )
            .file(format!(
                "Content-Type: application/pdf\r\n{}",
                cd("name=file; filename=x.pdf; filename*=utf-8''x.pdf")
            )),
            hard.clone(),
        ),
        // Go mime/multipart FileContentDisposition: escapeQuotes (`\\`, `\"`); sorted headers.
        (
            "Go mime/multipart CreateFormFile",
            Wire::plain("3f9b1d6c0e8a4b2f7d5c9e1a3b6d8f0c2e4a6b8d0f1c3e5a7b9d1f3a5c7e").file(format!(
                "{}\r\nContent-Type: application/octet-stream",
                cd(r#"name="file"; filename="quote\"semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        (
            "Go mime/multipart, backslash",
            Wire::plain("3f9b1d6c0e8a4b2f7d5c9e1a3b6d8f0c2e4a6b8d0f1c3e5a7b9d1f3a5c7e").file(format!(
                "{}\r\nContent-Type: application/octet-stream",
                cd(r#"name="file"; filename="back\\slash ü.pdf""#)
            )),
            backslash.clone(),
        ),
        // Guzzle psr7 2.8+ escapeContentDispositionParameter: %0D %0A %22; before, nothing escaped.
        (
            "PHP Guzzle (psr7 2.8+)",
            Wire::plain("7c2e3f1a9b8d4e6f0a1b2c3d4e5f6a7b8c9d0e1f").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        (
            "PHP Guzzle (psr7 before 2.8, with Content-Length)",
            Wire::plain("7c2e3f1a9b8d4e6f0a1b2c3d4e5f6a7b8c9d0e1f").file(format!(
                "{}\r\nContent-Length: {}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote"semi;colon%20 Résumé – 名前 😀.pdf""#),
                PDF.len()
            )),
            hard.clone(),
        ),
        // PHP's curl extension hands CURLFile to libcurl: the curl rows above; this one's libcurl
        // is 7.81+.
        (
            "PHP CURLFile (libcurl 7.81+)",
            Wire::plain("------------------------a1b2c3d4e5f60718").file(format!(
                "{}\r\nContent-Type: application/pdf",
                cd(r#"name="file"; filename="quote%22semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // Ruby Net::HTTP#set_form multipart: quote_string backslash-escapes `\` and `"`.
        (
            "Ruby Net::HTTP set_form",
            Wire::plain("xVp3jE0a-Jq9KfN4_zT7mW2rL8sD1bH6yG5cU0oI3eA").file(format!(
                "{}\r\nContent-Type: application/octet-stream",
                cd(r#"name="file"; filename="quote\"semi;colon%20 Résumé – 名前 😀.pdf""#)
            )),
            hard.clone(),
        ),
        // ... with `charset: 'ISO-8859-1'`: the name in Latin-1 bytes.
        (
            "Ruby Net::HTTP set_form, charset ISO-8859-1",
            Wire::plain("xVp3jE0a-Jq9KfN4_zT7mW2rL8sD1bH6yG5cU0oI3eA").file(
                [
                    &b"Content-Disposition: form-data; name=\"file\"; filename=\"R\xe9sum\xe9.pdf\""[..],
                    b"\r\nContent-Type: application/octet-stream",
                ]
                .concat(),
            ),
            "Résumé.pdf".to_owned(),
        ),
        // Faraday (faraday-multipart -> multipart-post FilePart#build_head): nothing escaped,
        // Content-Length and Content-Transfer-Encoding: binary.
        (
            "Ruby Faraday (multipart-post)",
            Wire::plain("-----------RubyMultipartPost-9a8b7c6d5e4f3a2b1c0d").file(format!(
                "{}\r\nContent-Length: {}\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: binary",
                cd(r#"name="file"; filename="quote"semi;colon%20 Résumé – 名前 😀.pdf""#),
                PDF.len()
            )),
            hard.clone(),
        ),
        // Framing variants: a preamble (Apache HttpClient 5 setPreamble), no CRLF after the
        // closing delimiter, an epilogue.
        (
            "preamble, no final CRLF",
            Wire {
                preamble: b"This is a multi-part message in MIME format.\r\n",
                epilogue: b"",
                ..Wire::plain("simple-boundary").file(cd(r#"name="file"; filename="a.pdf""#))
            },
            "a.pdf".to_owned(),
        ),
        (
            "epilogue after the closing delimiter",
            Wire {
                epilogue: b"\r\nthis is the epilogue\r\n",
                ..Wire::plain("simple-boundary").file(cd(r#"name="file"; filename="a.pdf""#))
            },
            "a.pdf".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn every_client_encoding_stores_the_chosen_name() {
    let h = Harness::new().await;
    for (client, wire, expected) in rows() {
        let response = h.upload_wire(&wire).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{client}: {}",
            body_text(&response)
        );
        let asset = json(&response);
        assert_eq!(asset["name"], expected.as_str(), "{client}");
        let key = asset["key"].as_str().unwrap();
        let served = get_asset(
            &h.app,
            lambda_http::http::Request::builder()
                .uri(format!(
                    "https://api.example.com/api/v1/partner/asset/{key}"
                ))
                .body(Body::Empty)
                .unwrap(),
        )
        .await;
        assert_eq!(served.status(), StatusCode::OK, "{client}");
        assert_eq!(served.body().as_ref(), PDF, "{client}: bytes");
        let disposition = header_of(&served, "content-disposition");
        assert!(!disposition.contains(['\r', '\n']), "{client}");
        // Served under the name, with the type's extension when it has none.
        let served_as = crate::domain::display_filename(&expected, "pdf");
        assert_eq!(served_filename(disposition), served_as, "{client}");
    }
}

#[tokio::test]
async fn encodings_no_client_may_use_are_refused_clearly() {
    let h = Harness::new().await;
    let lf_only = [
        &b"--b\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\n\n"[..],
        PDF,
        b"\n--b--\n",
    ]
    .concat();
    let rows: [(&str, Vec<u8>, &str); 4] = [
        (
            "base64 transfer encoding (RFC 7578 §4.7)",
            Wire::plain("b")
                .file(format!(
                    "{}\r\nContent-Transfer-Encoding: base64",
                    cd(r#"name="file"; filename="a.pdf""#)
                ))
                .bytes(),
            "invalid_multipart",
        ),
        (
            "unknown charset on a text field",
            Wire::plain("b")
                .part(
                    format!(
                        "{}\r\nContent-Type: text/plain; charset=x-klingon",
                        cd(r#"name="name""#)
                    ),
                    b"x",
                )
                .file(cd(r#"name="file"; filename="a.pdf""#))
                .bytes(),
            "invalid_field",
        ),
        (
            "text not in its declared charset",
            Wire::plain("b")
                .part(
                    format!(
                        "{}\r\nContent-Type: text/plain; charset=utf-8",
                        cd(r#"name="name""#)
                    ),
                    b"\xff",
                )
                .file(cd(r#"name="file"; filename="a.pdf""#))
                .bytes(),
            "invalid_field",
        ),
        // No common client writes bare LF line endings (all write CRLF, as RFC 2046 requires).
        ("bare LF line endings", lf_only, "invalid_multipart"),
    ];
    for (what, body, code) in rows {
        let request = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("https://api.example.com/api/v1/partner/asset/upload/public")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=b")
            .header("x-api-key", &h.acme_key)
            .body(Body::Binary(body))
            .unwrap();
        let response = upload(&h.app, Visibility::Public, request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(error_code(&response), code, "{what}");
    }
    assert!(h.nothing_stored());
}
