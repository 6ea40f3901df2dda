//! Hostile input, table-driven: each case names its request, the status it must get and, when
//! refused, that nothing at all was stored. Storage is in memory (the same handlers run against
//! moto in `aws_storage.rs` and over HTTP in `e2e_watch.rs`).

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::{CompanyId, UploadId};
use asset_service::storage::memory::MemorySigningKeys;
use asset_service::storage::memory::{
    MemoryApiKeyRepo, MemoryAssetRepo, MemoryBlobStore, MemoryUploadRepo,
};
use asset_service::{
    App, Visibility, abort_upload, complete_upload, delete_asset, get_asset, list_assets, part_url,
    sign_asset_url, start_upload, update_asset, upload, upload_status,
};
use lambda_http::http::{HeaderName, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

const BOUNDARY: &str = "hostile-boundary";

struct Stack {
    app: App,
    blobs: Arc<MemoryBlobStore>,
    assets: Arc<MemoryAssetRepo>,
    acme: String,
    globex: String,
}

async fn stack() -> Stack {
    let mut config = Config::from_lookup(|name| match name {
        "ASSETS_TABLE" | "ASSETS_BUCKET" => Some("x".into()),
        _ => None,
    })
    .unwrap();
    config.max_upload_bytes = 1024 * 1024;
    config.inline_max_bytes = 1024 * 1024;
    let keys = Arc::new(MemoryApiKeyRepo::default());
    let acme = issue_key(keys.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap()
        .0;
    let globex = issue_key(keys.as_ref(), CompanyId::parse("globex").unwrap())
        .await
        .unwrap()
        .0;
    let blobs = Arc::new(MemoryBlobStore::default());
    let assets = Arc::new(MemoryAssetRepo::default());
    Stack {
        app: App::new(
            config,
            blobs.clone(),
            assets.clone(),
            keys,
            blobs.clone(),
            Arc::new(MemoryUploadRepo::default()),
        )
        .with_signing(Arc::new(MemorySigningKeys::default())),
        blobs,
        assets,
        acme: acme.expose().to_owned(),
        globex: globex.expose().to_owned(),
    }
}

/// One multipart part: (field name, filename, extra header lines, body).
type Part<'a> = (&'a str, Option<&'a str>, &'a str, Vec<u8>);

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, extra_headers, content) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(filename) = filename {
            body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(extra_headers.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn file(name: &str, bytes: &[u8]) -> Part<'static> {
    (
        "file",
        Some(Box::leak(name.to_owned().into_boxed_str())),
        "",
        bytes.to_vec(),
    )
}

fn text(field: &'static str, value: &[u8]) -> Part<'static> {
    (field, None, "", value.to_vec())
}

fn upload_request(key: &str, content_type: Option<&str>, body: Vec<u8>) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .header("x-api-key", key);
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Body::Binary(body)).unwrap()
}

fn form_type() -> Option<&'static str> {
    Some("multipart/form-data; boundary=hostile-boundary")
}

fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    png.extend_from_slice(b"\x08\x02\0\0\0\0\0\0\0\0\0\0\0IDAT");
    png.extend(std::iter::repeat_n(0u8, 512));
    png
}

fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg =
        b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xC0\0\x11\x08".to_vec();
    jpeg.extend_from_slice(&height.to_be_bytes());
    jpeg.extend_from_slice(&width.to_be_bytes());
    jpeg.extend_from_slice(b"\x03\x01\x22\0\x02\x11\x01\x03\x11\x01\xFF\xD9");
    jpeg
}

fn animated_gif(frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff".to_vec();
    gif.extend_from_slice(b"!\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
    for _ in 0..frames {
        gif.extend_from_slice(b"!\xf9\x04\0\x01\0\0\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0");
    }
    gif.push(b';');
    gif
}

struct UploadCase {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn upload_cases() -> Vec<UploadCase> {
    let png = support::PNG.to_vec();
    let case = |name, body, status| UploadCase {
        name,
        content_type: form_type(),
        body,
        status,
    };
    let mut many_names = Vec::new();
    for _ in 0..5000 {
        many_names.push(text("name", b"x"));
    }
    many_names.push(file("a.png", &png));
    let mut many_unknown: Vec<Part<'_>> = (0..5000).map(|_| text("junk", b"x")).collect();
    many_unknown.push(file("a.png", &png));
    let mut truncated_jpeg = support::JPEG.to_vec();
    truncated_jpeg.truncate(support::JPEG.len() / 2);
    let huge_header = format!("X-Padding: {}\r\n", "a".repeat(60_000));
    vec![
        case(
            "truncated multipart",
            multipart(&[file("a.png", &png)])[..200].to_vec(),
            400,
        ),
        case(
            "garbage multipart",
            b"this is not a multipart body at all".to_vec(),
            400,
        ),
        UploadCase {
            name: "missing boundary",
            content_type: Some("multipart/form-data"),
            body: multipart(&[file("a.png", &png)]),
            status: 400,
        },
        UploadCase {
            name: "wrong boundary",
            content_type: Some("multipart/form-data; boundary=other"),
            body: multipart(&[file("a.png", &png)]),
            status: 400,
        },
        UploadCase {
            name: "not multipart",
            content_type: Some("application/json"),
            body: b"{\"file\":1}".to_vec(),
            status: 400,
        },
        UploadCase {
            name: "no content type",
            content_type: None,
            body: multipart(&[file("a.png", &png)]),
            status: 400,
        },
        case(
            "no parts at all",
            format!("--{BOUNDARY}--\r\n").into_bytes(),
            400,
        ),
        case(
            "duplicate file parts",
            multipart(&[file("a.png", &png), file("b.png", &png)]),
            400,
        ),
        case("thousands of tiny name parts", multipart(&many_names), 400),
        case("thousands of unknown parts", multipart(&many_unknown), 400),
        case(
            "part without a name",
            multipart(&[("", None, "", b"x".to_vec()), file("a.png", &png)]),
            400,
        ),
        case(
            "non-UTF-8 name",
            multipart(&[text("name", b"\xff\xfe\xfd"), file("a.png", &png)]),
            400,
        ),
        case(
            "overlong name",
            multipart(&[
                text("name", "n".repeat(10_000).as_bytes()),
                file("a.png", &png),
            ]),
            400,
        ),
        case(
            "unknown assetType",
            multipart(&[text("assetType", b"EXECUTABLE"), file("a.png", &png)]),
            400,
        ),
        case("zero-byte file", multipart(&[file("empty.png", b"")]), 400),
        case("one NUL byte", multipart(&[file("x.bin", b"\0")]), 415),
        case(
            "file over the limit",
            multipart(&[file("big.txt", &vec![b'a'; 1024 * 1024 + 1])]),
            413,
        ),
        case(
            "body far over the limit",
            multipart(&[file("big.txt", &vec![b'a'; 3 * 1024 * 1024])]),
            413,
        ),
        case(
            "lying extension and assetType",
            multipart(&[text("assetType", b"DOCUMENT"), file("report.pdf", &png)]),
            422,
        ),
        case(
            "HTML with script",
            multipart(&[file(
                "a.html",
                b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>",
            )]),
            415,
        ),
        case(
            "HTML named .txt",
            multipart(&[file("notes.txt", b"  <body onload=alert(1)>hi</body>")]),
            415,
        ),
        case(
            "SVG with script",
            multipart(&[file(
                "a.svg",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            )]),
            415,
        ),
        case(
            "XML",
            multipart(&[file("a.xml", b"<?xml version=\"1.0\"?><x/>")]),
            415,
        ),
        case(
            "ELF executable",
            multipart(&[file(
                "a.png",
                &[&b"\x7FELF\x02\x01\x01"[..], &[0u8; 57]].concat(),
            )]),
            415,
        ),
        case(
            "Windows executable",
            multipart(&[file("a.jpg", &[&b"MZ\x90\0"[..], &[0u8; 60]].concat())]),
            415,
        ),
        case(
            "PNG claiming 100000x100000",
            multipart(&[file("bomb.png", &png_claiming(100_000, 100_000))]),
            422,
        ),
        case(
            "PNG decompression bomb (60 MP)",
            multipart(&[file("bomb.png", &png_claiming(10_000, 6_000))]),
            422,
        ),
        case(
            "JPEG claiming 65535x65535",
            multipart(&[file("big.jpg", &jpeg_claiming(65_535, 65_535))]),
            422,
        ),
        case(
            "PNG with a cut-off header",
            multipart(&[file("cut.png", &png[..20])]),
            422,
        ),
        // Images are decoded for their renditions: whatever does not decode is refused whole
        // (nothing stored), and animations are bounded (MAX_ANIMATION_FRAMES, 1000).
        case(
            "truncated JPEG",
            multipart(&[file("half.jpg", &truncated_jpeg)]),
            422,
        ),
        case(
            "animated GIF with 5000 frames",
            multipart(&[file("many.gif", &animated_gif(5000))]),
            422,
        ),
        case(
            "animated GIF with 50 frames",
            multipart(&[file("few.gif", &animated_gif(50))]),
            200,
        ),
        case(
            "GIF/JS polyglot",
            multipart(&[file(
                "poly.gif",
                b"GIF89a/*\x01\0\x01\0\0\0\0*/=alert(1);//;",
            )]),
            422,
        ),
        case("one-byte text file", multipart(&[file("a.txt", b"a")]), 200),
        case(
            "huge part header",
            multipart(&[("file", Some("a.png"), &huge_header, png.clone())]),
            200,
        ),
    ]
}

#[tokio::test]
async fn hostile_uploads_get_their_status_and_refusals_store_nothing() {
    let cases = upload_cases();
    assert!(cases.len() >= 30);
    for case in cases {
        let s = stack().await;
        let response = upload(
            &s.app,
            Visibility::Private,
            upload_request(&s.acme, case.content_type, case.body),
        )
        .await;
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref())
            .unwrap_or_else(|_| panic!("{}: body is not JSON", case.name));
        assert_eq!(
            response.status().as_u16(),
            case.status,
            "{}: {body}",
            case.name
        );
        if case.status == 200 {
            // One asset: its original, plus four renditions when it is an image.
            let objects = if body["type"] == "IMAGE" { 5 } else { 1 };
            assert_eq!(
                (s.blobs.len(), s.assets.len()),
                (objects, 1),
                "{}",
                case.name
            );
        } else {
            assert!(body["error"]["code"].is_string(), "{}: {body}", case.name);
            assert!(
                s.blobs.is_empty() && s.assets.is_empty(),
                "{}: something was stored",
                case.name
            );
        }
    }
}

async fn upload_named(
    s: &Stack,
    name: &[u8],
    filename: &str,
    visibility: Visibility,
) -> serde_json::Value {
    let body = multipart(&[text("name", name), file(filename, support::PNG)]);
    let response = upload(
        &s.app,
        visibility,
        upload_request(&s.acme, form_type(), body),
    )
    .await;
    assert_eq!(response.status(), 200);
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn get_request(
    raw_key: &str,
    key: Option<&str>,
    headers: &[(&str, &str)],
    query: &[(&str, &str)],
) -> Request {
    let mut builder = lambda_http::http::Request::builder().method("GET");
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    let mut request = builder
        .body(Body::Empty)
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "assetKey".to_string(),
            raw_key.to_string(),
        )]))
        .with_query_string_parameters(
            query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
        );
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

#[tokio::test]
async fn names_cannot_inject_headers_or_paths() {
    let s = stack().await;
    for (name, filename) in [
        (&b"../../etc/passwd"[..], "x.png"),
        (b"a\r\nSet-Cookie: session=stolen", "x.png"),
        (b"quote\"; filename=evil.exe", "x.png"),
        (b"back\\slash/and/slash", "x.png"),
        ("ünïcødé ✓ 名前".as_bytes(), "x.png"),
        (b"", "C:\\fakepath\\..\\..\\secret.png"),
    ] {
        let asset = upload_named(&s, name, filename, Visibility::Public).await;
        let stored_name = asset["name"].as_str().unwrap();
        assert!(!stored_name.contains(['\r', '\n']));
        let key = asset["key"].as_str().unwrap();
        assert!(
            !key.contains(['/', '.']),
            "asset key independent of the name"
        );
        let response = get_asset(&s.app, get_request(key, None, &[], &[])).await;
        assert_eq!(response.status(), 200);
        let disposition = response.headers()["content-disposition"].to_str().unwrap();
        assert!(!disposition.contains(['\r', '\n']));
        let fallback = disposition
            .split("filename=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(!fallback.contains(['/', '\\', ';', '"']), "{disposition}");
        assert_eq!(disposition.matches("filename=").count(), 1, "{disposition}");
        assert_eq!(
            disposition.matches("filename*=").count(),
            1,
            "{disposition}"
        );
    }
    let asset = upload_named(&s, b"", "C:\\fakepath\\secret.png", Visibility::Public).await;
    assert_eq!(asset["name"], "secret.png");
}

/// (what, raw path key, API key, headers, query, expected status)
type GetCase<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Vec<(&'a str, String)>,
    Vec<(&'a str, &'a str)>,
    u16,
);

#[tokio::test]
async fn hostile_gets() {
    let s = stack().await;
    let asset = upload_named(&s, b"logo", "logo.png", Visibility::Public).await;
    let key = asset["key"].as_str().unwrap().to_owned();
    let cases: Vec<GetCase> = vec![
        ("dot-dot", "..".into(), None, vec![], vec![], 404),
        (
            "encoded traversal",
            "..%2F..%2Fetc%2Fpasswd".into(),
            None,
            vec![],
            vec![],
            404,
        ),
        (
            "encoded slash inside a key",
            format!("{}%2F{}", &key[..12], &key[12..]),
            None,
            vec![],
            vec![],
            404,
        ),
        (
            "unicode key",
            "clé-été-ünïcødé-名前".into(),
            None,
            vec![],
            vec![],
            404,
        ),
        (
            "bad percent-encoding",
            "%FF%FE%00".into(),
            None,
            vec![],
            vec![],
            404,
        ),
        ("NUL in key", "abc%00def".into(), None, vec![], vec![], 404),
        (
            "very long key",
            "k".repeat(10_000),
            None,
            vec![],
            vec![],
            404,
        ),
        (
            "oversized If-None-Match",
            key.clone(),
            None,
            vec![("if-none-match", format!("\"{}\"", "x".repeat(64 * 1024)))],
            vec![],
            200,
        ),
        (
            "many If-None-Match tags",
            key.clone(),
            None,
            vec![(
                "if-none-match",
                (0..2000)
                    .map(|i| format!("\"{i}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            )],
            vec![],
            200,
        ),
        (
            "malformed If-None-Match",
            key.clone(),
            None,
            vec![("if-none-match", "not-an-etag".into())],
            vec![],
            200,
        ),
        (
            "bogus handleError",
            key.clone(),
            None,
            vec![],
            vec![("handleError", "yes please")],
            400,
        ),
        (
            "huge API key",
            key.clone(),
            Some(&*Box::leak("k".repeat(10_000).into_boxed_str())),
            vec![],
            vec![],
            401,
        ),
        (
            "basic auth instead of a key",
            key.clone(),
            None,
            vec![("authorization", "Basic YWRtaW46YWRtaW4=".into())],
            vec![],
            401,
        ),
    ];
    for (name, raw_key, api_key, headers, query, status) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = get_asset(&s.app, get_request(&raw_key, api_key, &headers, &query)).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
    }
}

fn comparable(response: &Response<Body>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers.sort();
    (
        response.status().as_u16(),
        headers,
        response.body().as_ref().to_vec(),
    )
}

/// For the GET endpoint, another company's private asset is indistinguishable from one that does
/// not exist: same status, same headers, same body, with and without `handleError`. Uploads always
/// belong to the caller's company, whatever the form says.
#[tokio::test]
async fn cross_tenant_matrix() {
    let s = stack().await;
    let private = upload_named(&s, b"secret", "secret.png", Visibility::Private).await;
    let public = upload_named(&s, b"shared", "shared.png", Visibility::Public).await;
    let private_key = private["key"].as_str().unwrap();
    let public_key = public["key"].as_str().unwrap();
    let missing = "AAAAAAAAAAAAAAAAAAAAAAAA";

    for query in [vec![], vec![("handleError", "true")]] {
        for reader in [Some(s.globex.as_str()), None] {
            let foreign = get_asset(&s.app, get_request(private_key, reader, &[], &query)).await;
            let unknown = get_asset(&s.app, get_request(missing, reader, &[], &query)).await;
            assert_eq!(foreign.status(), 404);
            assert_eq!(
                comparable(&foreign),
                comparable(&unknown),
                "reader {reader:?} {query:?}"
            );
            let etag = format!("\"{}\"", private["sha256"].as_str().unwrap());
            let probing = get_asset(
                &s.app,
                get_request(private_key, reader, &[("if-none-match", &etag)], &query),
            )
            .await;
            assert_eq!(
                comparable(&probing),
                comparable(&unknown),
                "ETag probing reveals nothing"
            );
        }
        let own = get_asset(&s.app, get_request(private_key, Some(&s.acme), &[], &query)).await;
        assert_eq!(own.status(), 200);
        for reader in [Some(s.globex.as_str()), None, Some(s.acme.as_str())] {
            let shared = get_asset(&s.app, get_request(public_key, reader, &[], &query)).await;
            assert_eq!(shared.status(), 200);
        }
    }

    // A second company's upload is its own, even when it names the first company in the form.
    let body = multipart(&[text("companyId", b"acme"), file("x.png", support::PNG)]);
    let refused = upload(
        &s.app,
        Visibility::Private,
        upload_request(&s.globex, form_type(), body),
    )
    .await;
    assert_eq!(
        refused.status(),
        400,
        "unknown fields are refused, not interpreted"
    );
    let body = multipart(&[file("x.png", support::PNG)]);
    let response = upload(
        &s.app,
        Visibility::Private,
        upload_request(&s.globex, form_type(), body),
    )
    .await;
    let theirs: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(theirs["companyId"], "globex");
    assert!(
        theirs["platformFileUrl"]
            .as_str()
            .unwrap()
            .contains("/companies/globex/")
    );
}

/// A lifecycle request (`path_and_query` after `/api/v1/partner/asset`) with its query parameters
/// and, for `/{assetKey}`, its path parameter, as API Gateway hands them over.
fn lifecycle_api(method: &str, path_and_query: &str, key: &str, body: Option<&str>) -> Request {
    let request = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!(
            "https://api.example.com/api/v1/partner/asset{path_and_query}"
        ))
        .header("x-api-key", key)
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned())))
        .unwrap();
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let path_key = path_and_query
        .strip_prefix('/')
        .map(|rest| rest.split('?').next().unwrap_or_default().to_owned());
    let request = request.with_query_string_parameters(query);
    match path_key {
        Some(asset_key) => {
            request.with_path_parameters(HashMap::from([("assetKey".to_string(), asset_key)]))
        }
        None => request,
    }
}

/// For every lifecycle route, another company's asset is indistinguishable from one that does
/// not exist (same status, headers and body), nothing about it changes, and it never shows in
/// another company's list; a cursor works only for the company it was given to.
#[tokio::test]
async fn cross_tenant_matrix_for_the_lifecycle() {
    let s = stack().await;
    let mut keys = Vec::new();
    for visibility in [Visibility::Private, Visibility::Public] {
        let asset = upload_named(&s, b"acme's", "acme.png", visibility).await;
        keys.push(asset["key"].as_str().unwrap().to_owned());
    }
    let before: Vec<_> = {
        let mut all = Vec::new();
        for key in &keys {
            let stored = asset_service::storage::AssetRepo::find(
                s.assets.as_ref(),
                &asset_service::domain::AssetKey::parse(key).unwrap(),
            )
            .await
            .unwrap();
            all.push(stored);
        }
        all
    };
    let objects = s.blobs.len();
    let missing = "AAAAAAAAAAAAAAAAAAAAAAAA";
    type Route = fn(&str) -> (&'static str, String, Option<&'static str>);
    let routes: [Route; 5] = [
        |k| ("PATCH", format!("/{k}"), Some(r#"{"name":"pwned"}"#)),
        |k| ("PATCH", format!("/{k}"), Some(r#"{"active":false}"#)),
        |k| ("DELETE", format!("/{k}"), None),
        |k| ("DELETE", format!("/{k}?erase=true"), None),
        |k| ("DELETE", format!("/{k}?erase=1"), None),
    ];
    for route in routes {
        for key in &keys {
            let (method, foreign_path, body) = route(key);
            let (_, missing_path, _) = route(missing);
            let call = |path: String| {
                let request = lifecycle_api(method, &path, &s.globex, body);
                let app = &s.app;
                async move {
                    match method {
                        "PATCH" => update_asset(app, request).await,
                        _ => delete_asset(app, request).await,
                    }
                }
            };
            let foreign = call(foreign_path.clone()).await;
            let unknown = call(missing_path).await;
            assert_eq!(foreign.status(), 404, "{method} {foreign_path}");
            assert_eq!(
                comparable(&foreign),
                comparable(&unknown),
                "{method} {foreign_path}"
            );
        }
    }
    for (key, before) in keys.iter().zip(&before) {
        let after = asset_service::storage::AssetRepo::find(
            s.assets.as_ref(),
            &asset_service::domain::AssetKey::parse(key).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(&after, before, "{key} is unchanged");
    }
    assert_eq!(s.blobs.len(), objects, "no object was removed");

    // Lists: each company sees its own only, whatever the filters; acme's cursor is a 400 for
    // globex and reveals nothing (the same answer as a made-up cursor).
    for query in [
        "",
        "?deleted=true",
        "?secured=true",
        "?secured=false",
        "?active=false",
    ] {
        let page = list_assets(&s.app, lifecycle_api("GET", query, &s.globex, None)).await;
        assert_eq!(page.status(), 200);
        let page: serde_json::Value = serde_json::from_slice(page.body().as_ref()).unwrap();
        assert_eq!(page["assets"], json!([]), "{query}");
    }
    let page = list_assets(&s.app, lifecycle_api("GET", "?limit=1", &s.acme, None)).await;
    let page: serde_json::Value = serde_json::from_slice(page.body().as_ref()).unwrap();
    let cursor = page["nextCursor"].as_str().unwrap();
    let foreign = list_assets(
        &s.app,
        lifecycle_api("GET", &format!("?cursor={cursor}"), &s.globex, None),
    )
    .await;
    let made_up = list_assets(
        &s.app,
        lifecycle_api("GET", "?cursor=MDAwMDAwMDAwMDAwMCNB.AAAA", &s.globex, None),
    )
    .await;
    assert_eq!(foreign.status(), 400);
    assert_eq!(comparable(&foreign), comparable(&made_up));
    let own = list_assets(
        &s.app,
        lifecycle_api("GET", &format!("?cursor={cursor}"), &s.acme, None),
    )
    .await;
    assert_eq!(own.status(), 200);
}

// ------------------------------------------------------------------ signed URLs (issue 13)

fn sign_request(asset_key: &str, key: &str, body: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://assets.test/api/v1/partner/asset/{asset_key}/url"
        ))
        .header("x-api-key", key)
        .body(Body::Text(body.to_owned()))
        .unwrap()
        .with_path_parameters(HashMap::from([(
            "assetKey".to_string(),
            asset_key.to_string(),
        )]))
}

/// The query pairs of a minted URL's, plus `extra`.
fn signed_query<'a>(url: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs: Vec<(&str, &str)> = url
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .collect();
    pairs.extend_from_slice(extra);
    pairs
}

/// Signing (`POST /{assetKey}/url`): another company's key gets, byte for byte, the 404 of an
/// unknown asset for every asset of the first company (private, public, with any body), and
/// mints nothing. A signed URL reads only the asset, size and expiry it was minted for, and a
/// key presented with it decides: another company's key cannot borrow it.
#[tokio::test]
async fn cross_tenant_matrix_for_signed_urls() {
    let mut s = stack().await;
    s.app.signing = Arc::new(asset_service::storage::memory::MemorySigningKeys::default());
    let private = upload_named(&s, b"secret", "secret.png", Visibility::Private).await;
    let public = upload_named(&s, b"shared", "shared.png", Visibility::Public).await;
    let other = upload_named(&s, b"other", "other.png", Visibility::Private).await;
    let private_key = private["key"].as_str().unwrap();
    let public_key = public["key"].as_str().unwrap();
    let other_key = other["key"].as_str().unwrap();
    let missing = "AAAAAAAAAAAAAAAAAAAAAAAA";

    for body in [
        "",
        "{}",
        r#"{"size": "thumb"}"#,
        r#"{"expiresIn": 60}"#,
        "{",
    ] {
        let unknown = sign_asset_url(&s.app, sign_request(missing, &s.globex, body)).await;
        for asset_key in [private_key, public_key] {
            let foreign = sign_asset_url(&s.app, sign_request(asset_key, &s.globex, body)).await;
            assert_eq!(
                comparable(&foreign),
                comparable(&unknown),
                "{asset_key} {body}"
            );
        }
    }
    let unknown = get_asset(&s.app, get_request(missing, None, &[], &[])).await;
    let foreign = sign_asset_url(&s.app, sign_request(private_key, &s.globex, "")).await;
    assert_eq!(foreign.status(), 404);
    assert_eq!(foreign.body().as_ref(), unknown.body().as_ref());

    let minted = sign_asset_url(&s.app, sign_request(private_key, &s.acme, "")).await;
    assert_eq!(minted.status(), 201);
    let minted: serde_json::Value = serde_json::from_slice(minted.body().as_ref()).unwrap();
    let url = minted["url"].as_str().unwrap();
    let query = signed_query(url, &[]);
    let read = get_asset(&s.app, get_request(private_key, None, &[], &query)).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.body().as_ref(), support::PNG);

    for query in [query.clone(), signed_query(url, &[("handleError", "true")])] {
        // The signature on another asset of the same company, or on an unknown key.
        for (asset_key, reader) in [
            (other_key, None),
            (missing, None),
            (private_key, Some(s.globex.as_str())),
        ] {
            let borrowed = get_asset(&s.app, get_request(asset_key, reader, &[], &query)).await;
            let plain: Vec<(&str, &str)> = query
                .iter()
                .copied()
                .filter(|(k, _)| *k == "handleError")
                .collect();
            let unknown = get_asset(&s.app, get_request(missing, reader, &[], &plain)).await;
            assert_eq!(borrowed.status(), 404, "{asset_key} {reader:?}");
            assert_eq!(comparable(&borrowed), comparable(&unknown));
        }
    }
    assert_eq!(s.assets.len(), 3, "nothing minted, changed or stored");
}

fn upload_api(method: &str, url: &str, key: &str, body: Option<serde_json::Value>) -> Request {
    lambda_http::http::Request::builder()
        .method(method)
        .uri(url)
        .header("x-api-key", key)
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_string())))
        .unwrap()
}

/// The direct-upload handler behind `method` and the path after the upload id.
async fn direct_route(app: &App, method: &str, rest: &str, request: Request) -> Response<Body> {
    match (method, rest) {
        ("GET", "") => upload_status(app, request).await,
        ("GET", _) => part_url(app, request).await,
        ("POST", _) => complete_upload(app, request).await,
        _ => abort_upload(app, request).await,
    }
}

/// The direct-upload routes (status, part URLs, complete, abort): another company's key gets,
/// byte for byte, the 404 of an upload that does not exist, and changes nothing: the upload stays
/// pending with its parts, and its owner completes it afterwards.
#[tokio::test]
async fn cross_tenant_matrix_for_direct_uploads() {
    let s = stack().await;
    let uploads = "https://assets.test/api/v1/partner/asset/uploads/private";
    let started = start_upload(
        &s.app,
        upload_api(
            "POST",
            uploads,
            &s.acme,
            Some(json!({"name": "q3.pdf", "size": support::PDF.len(), "multipart": true})),
        ),
    )
    .await;
    assert_eq!(started.status(), 201);
    let started: serde_json::Value = serde_json::from_slice(started.body().as_ref()).unwrap();
    let id = UploadId::parse(started["uploadId"].as_str().unwrap()).unwrap();
    let part = part_url(
        &s.app,
        upload_api("GET", &format!("{uploads}/{id}/parts/1"), &s.acme, None),
    )
    .await;
    assert_eq!(part.status(), 200);
    let staging_key = format!("staging/acme/{id}");
    let s3_upload_id = s.blobs.open_multipart_id(&staging_key).unwrap();
    let etag = s
        .blobs
        .client_put_part(&s3_upload_id, 1, support::PDF.to_vec())
        .unwrap();
    let parts = json!({"parts": [{"partNumber": 1, "etag": etag}]});
    let before = s.app.uploads.find(&id).await.unwrap().unwrap();

    let unknown = UploadId::generate();
    type Route = (&'static str, &'static str, Option<serde_json::Value>);
    let routes: [Route; 5] = [
        ("GET", "", None),
        ("GET", "/parts/1", None),
        ("GET", "/parts/2", None),
        ("POST", "/complete", Some(parts.clone())),
        ("DELETE", "", None),
    ];
    for (method, rest, body) in &routes {
        let call = |upload: &UploadId, key: &str| {
            upload_api(
                method,
                &format!("{uploads}/{upload}{rest}"),
                key,
                body.clone(),
            )
        };
        let foreign = direct_route(&s.app, method, rest, call(&id, &s.globex)).await;
        let missing = direct_route(&s.app, method, rest, call(&unknown, &s.globex)).await;
        let missing_for_owner = direct_route(&s.app, method, rest, call(&unknown, &s.acme)).await;
        assert_eq!(foreign.status(), 404, "{method} {rest}");
        assert_eq!(
            comparable(&foreign),
            comparable(&missing),
            "{method} {rest}: a foreign upload is an unknown one"
        );
        assert_eq!(comparable(&foreign), comparable(&missing_for_owner));
    }

    // Nothing changed: the same record, its parts still open, no asset, nothing stored.
    assert_eq!(s.app.uploads.find(&id).await.unwrap().unwrap(), before);
    assert_eq!(
        s.blobs.open_multipart_id(&staging_key).as_deref(),
        Some(s3_upload_id.as_str())
    );
    assert!(s.assets.is_empty());
    let status = upload_status(
        &s.app,
        upload_api("GET", &format!("{uploads}/{id}"), &s.acme, None),
    )
    .await;
    let status: serde_json::Value = serde_json::from_slice(status.body().as_ref()).unwrap();
    assert_eq!(status["status"], "pending");
    let done = complete_upload(
        &s.app,
        upload_api(
            "POST",
            &format!("{uploads}/{id}/complete"),
            &s.acme,
            Some(parts),
        ),
    )
    .await;
    assert_eq!(done.status(), 200);
    let asset: serde_json::Value = serde_json::from_slice(done.body().as_ref()).unwrap();
    assert_eq!(asset["companyId"], "acme");
    assert_eq!(asset["contentType"], "application/pdf");
}

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Logs carry request facts only: never API keys, file contents, names, query strings or presigned
/// URLs, even at trace level.
#[tokio::test]
async fn logs_never_contain_secrets_or_content() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut s = stack().await;
    s.app.config.inline_max_bytes = 10; // force presigned redirects
    let marker = b"CONTENT-MARKER-7f3a9c plain text that must not be logged";
    let body = multipart(&[text("name", b"NAME-MARKER-2b8e"), file("notes.txt", marker)]);
    let response = upload(
        &s.app,
        Visibility::Private,
        upload_request(&s.acme, form_type(), body),
    )
    .await;
    assert_eq!(response.status(), 200);
    let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let key = asset["key"].as_str().unwrap();
    let redirect = get_asset(
        &s.app,
        get_request(key, Some(&s.acme), &[], &[("handleError", "false")]),
    )
    .await;
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let _ = upload(
        &s.app,
        Visibility::Private,
        upload_request("ak_WRONG-KEY-MARKER", form_type(), vec![]),
    )
    .await;
    s.assets
        .fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = get_asset(&s.app, get_request(key, Some(&s.globex), &[], &[])).await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("\"route\""),
        "the request lines were captured: {text}"
    );
    for secret in [
        s.acme.as_str(),
        s.globex.as_str(),
        "ak_WRONG-KEY-MARKER",
        "CONTENT-MARKER",
        "NAME-MARKER",
        location.as_str(),
        "handleError",
    ] {
        assert!(!text.contains(secret), "logs contain {secret}");
    }
}
