//! End to end over HTTP: the three real function binaries under `cargo lambda watch` (its router
//! serving the real paths), talking to the local AWS stand-in. `scripts/test.sh` starts both with
//! `INLINE_MAX_BYTES=100000` (so the JPEG fixture takes the presigned-redirect path) and
//! `MAX_UPLOAD_BYTES=3145728` (room for a 2.2 MB iPhone HEIC).

mod support;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::CompanyId;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::Value;

struct Stack {
    base: String,
    http: Client,
    acme: String,
    globex: String,
    inline_max: usize,
    max_upload: usize,
}

async fn stack() -> Option<Stack> {
    let (base, config) = support::e2e_target()?;
    let storage = AwsStorage::connect(&config).await;
    let company = |id: &str| CompanyId::parse(id).unwrap();
    let (acme, _) = issue_key(storage.table.as_ref(), company("e2e-acme"))
        .await
        .unwrap();
    let (globex, _) = issue_key(storage.table.as_ref(), company("e2e-globex"))
        .await
        .unwrap();
    Some(Stack {
        base,
        http: Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap(),
        acme: acme.expose().to_owned(),
        globex: globex.expose().to_owned(),
        inline_max: config.inline_max_bytes as usize,
        max_upload: config.max_upload_bytes as usize,
    })
}

fn form(name: Option<&str>, asset_type: Option<&str>, file_name: &str, bytes: &[u8]) -> Form {
    let mut form = Form::new();
    if let Some(name) = name {
        form = form.text("name", name.to_owned());
    }
    if let Some(asset_type) = asset_type {
        form = form.text("assetType", asset_type.to_owned());
    }
    form.part(
        "file",
        Part::bytes(bytes.to_vec()).file_name(file_name.to_owned()),
    )
}

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/partner/asset/{path}", self.base)
    }

    async fn upload(&self, visibility: &str, key: Option<&str>, form: Form) -> Response {
        let mut request = self
            .http
            .post(self.url(&format!("upload/{visibility}")))
            .multipart(form);
        if let Some(key) = key {
            request = request.header("X-Api-Key", key);
        }
        request.send().await.expect("upload request")
    }

    async fn get(&self, url: &str, key: Option<&str>) -> Response {
        let mut request = self.http.get(url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("get request")
    }
}

async fn error_code(response: Response) -> String {
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap().to_owned()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
}

/// Fetches an asset, following a presigned redirect by hand so both legs can be checked.
async fn fetch_bytes(stack: &Stack, url: &str, key: Option<&str>, expected_type: &str) -> Vec<u8> {
    let response = stack.get(url, key).await;
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&response, "content-security-policy"),
        "default-src 'none'; sandbox"
    );
    assert!(header(&response, "etag").starts_with('"'));
    if response.status() == StatusCode::FOUND {
        assert!(header(&response, "cache-control").starts_with("private, max-age="));
        let location = header(&response, "location").to_owned();
        assert!(location.contains("X-Amz-Signature="));
        let download = stack.http.get(&location).send().await.unwrap();
        assert_eq!(download.status(), StatusCode::OK);
        assert_eq!(header(&download, "content-type"), expected_type);
        return download.bytes().await.unwrap().to_vec();
    }
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), expected_type);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn uploads_read_back_byte_for_byte_with_the_right_headers() {
    let Some(stack) = stack().await else { return };
    let files: [(&[u8], &str, &str, &str); 3] = [
        (support::JPEG, "photo.jpg", "image/jpeg", "IMAGE"),
        (support::PNG, "logo.png", "image/png", "IMAGE"),
        (support::PDF, "document.pdf", "application/pdf", "DOCUMENT"),
    ];
    assert!(
        support::JPEG.len() > stack.inline_max,
        "the JPEG must take the redirect path"
    );
    for visibility in ["private", "public"] {
        for (bytes, file_name, mime, asset_type) in files {
            let response = stack
                .upload(
                    visibility,
                    Some(&stack.acme),
                    form(None, Some(asset_type), file_name, bytes),
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{visibility} {file_name}"
            );
            let asset: Value = response.json().await.unwrap();
            assert_eq!(asset["name"], file_name);
            assert_eq!(asset["type"], asset_type);
            assert_eq!(asset["companyId"], "e2e-acme");
            assert_eq!(asset["secured"], visibility == "private");
            let key = asset["key"].as_str().unwrap();
            let orig = asset["origURL"].as_str().unwrap();
            assert_eq!(orig, stack.url(key));
            assert!(
                asset["platformFileUrl"]
                    .as_str()
                    .unwrap()
                    .starts_with("s3://")
            );

            let owner_copy = fetch_bytes(&stack, orig, Some(&stack.acme), mime).await;
            assert!(owner_copy == bytes, "{visibility} {file_name} differs");

            let inline = stack.get(orig, Some(&stack.acme)).await;
            if bytes.len() <= stack.inline_max {
                let expected_cache = if visibility == "public" {
                    "public, max-age=2592000, immutable"
                } else {
                    "private, max-age=2592000"
                };
                assert_eq!(header(&inline, "cache-control"), expected_cache);
                let disposition = header(&inline, "content-disposition");
                let expected = if mime.starts_with("image/") {
                    "inline;"
                } else {
                    "attachment;"
                };
                assert!(disposition.starts_with(expected), "{disposition}");
            }
            let etag = header(&inline, "etag").to_owned();
            let revalidated = stack
                .http
                .get(orig)
                .bearer_auth(&stack.acme)
                .header("If-None-Match", &etag)
                .send()
                .await
                .unwrap();
            assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
            assert_eq!(header(&revalidated, "etag"), etag);

            let stranger = stack.get(orig, Some(&stack.globex)).await;
            let anonymous = stack.get(orig, None).await;
            if visibility == "public" {
                assert_eq!(asset["publicURL"], orig);
                assert!(fetch_bytes(&stack, orig, None, mime).await == bytes);
                assert!(matches!(
                    stranger.status(),
                    StatusCode::OK | StatusCode::FOUND
                ));
                assert!(matches!(
                    anonymous.status(),
                    StatusCode::OK | StatusCode::FOUND
                ));
            } else {
                assert_eq!(asset["publicURL"], Value::Null);
                assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
                assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
                assert_eq!(error_code(stranger).await, "not_found");
            }
        }
    }
}

#[tokio::test]
async fn every_error_status_over_http() {
    let Some(stack) = stack().await else { return };
    let png = || form(Some("logo"), None, "logo.png", support::PNG);

    let no_key = stack.upload("private", None, png()).await;
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(no_key).await, "unauthorized");
    let bad_key = stack
        .upload("public", Some("ak_not-a-real-key"), png())
        .await;
    assert_eq!(bad_key.status(), StatusCode::UNAUTHORIZED);

    let malformed = stack
        .http
        .post(stack.url("upload/private"))
        .header("X-Api-Key", &stack.acme)
        .header("Content-Type", "multipart/form-data; boundary=nope")
        .body("--nope\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntruncated")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(malformed).await, "invalid_multipart");

    let cases: [(Form, StatusCode, &str); 5] = [
        (
            Form::new().text("name", "x"),
            StatusCode::BAD_REQUEST,
            "missing_file",
        ),
        (
            form(None, None, "big.txt", &vec![b'a'; stack.max_upload + 1]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            form(
                None,
                None,
                "x.html",
                b"<!doctype html><script>alert(1)</script>",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            form(None, Some("DOCUMENT"), "logo.png", support::PNG),
            StatusCode::UNPROCESSABLE_ENTITY,
            "asset_type_mismatch",
        ),
        (
            form(None, Some("SOUND"), "logo.png", support::PNG),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
    ];
    for (form, status, code) in cases {
        let response = stack.upload("private", Some(&stack.acme), form).await;
        assert_eq!(response.status(), status, "{code}");
        assert_eq!(error_code(response).await, code);
    }

    let missing = stack.url("AAAAAAAAAAAAAAAAAAAAAAAA");
    let not_found = stack.get(&missing, Some(&stack.acme)).await;
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(not_found).await, "not_found");
    let placeholder = stack
        .get(&format!("{missing}?handleError=true"), None)
        .await;
    assert_eq!(placeholder.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&placeholder, "content-type"), "image/png");
    assert_eq!(header(&placeholder, "cache-control"), "no-store");
    assert!(placeholder.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let bogus = stack
        .get(&format!("{missing}?handleError=perhaps"), None)
        .await;
    assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
    let traversal = stack.get(&stack.url("..%2F..%2Fetc%2Fpasswd"), None).await;
    assert_eq!(traversal.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn percent_encoded_keys_are_decoded() {
    let Some(stack) = stack().await else { return };
    let response = stack
        .upload(
            "public",
            Some(&stack.acme),
            form(Some("logo"), None, "logo.png", support::PNG),
        )
        .await;
    let asset: Value = response.json().await.unwrap();
    let key = asset["key"].as_str().unwrap();
    let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    let bytes = fetch_bytes(&stack, &stack.url(&encoded), None, "image/png").await;
    assert!(bytes == support::PNG);
}

/// Every rendition URL of a fresh upload works at once, through the real functions and storage,
/// for its owner only.
#[tokio::test]
async fn every_rendition_url_of_a_fresh_upload_serves_its_rendition() {
    let Some(stack) = stack().await else { return };
    let response = stack
        .upload(
            "private",
            Some(&stack.acme),
            form(Some("Harbour"), Some("IMAGE"), "photo.jpg", support::JPEG),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset: Value = response.json().await.unwrap();
    let (width, height) = (
        asset["width"].as_u64().unwrap() as usize,
        asset["height"].as_u64().unwrap() as usize,
    );
    let fields = [
        ("thumbURL", 160),
        ("mediumURL", 480),
        ("largeURL", 1024),
        ("largeX2URL", 2048),
    ];
    for (field, box_side) in fields {
        let url = asset[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} set"));
        assert!(url.starts_with(&stack.base), "{url}");
        let bytes = fetch_bytes(&stack, url, Some(&stack.acme), "image/jpeg").await;
        let image = turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).unwrap();
        assert_eq!(
            image.width.max(image.height),
            box_side.min(width.max(height)),
            "{field}"
        );
        assert!(
            !bytes.windows(4).any(|w| w == b"Exif"),
            "{field} has no EXIF"
        );
        let stranger = stack.get(url, Some(&stack.globex)).await;
        assert_eq!(stranger.status(), StatusCode::NOT_FOUND, "{field}");
        let anonymous = stack.get(url, None).await;
        assert_eq!(anonymous.status(), StatusCode::NOT_FOUND, "{field}");
    }
    let original = fetch_bytes(
        &stack,
        asset["origURL"].as_str().unwrap(),
        Some(&stack.acme),
        "image/jpeg",
    )
    .await;
    assert_eq!(original, support::JPEG);

    let document = stack
        .upload(
            "public",
            Some(&stack.acme),
            form(None, None, "document.pdf", support::PDF),
        )
        .await;
    let document: Value = document.json().await.unwrap();
    assert_eq!(document["thumbURL"], Value::Null);
    let url = format!("{}?size=thumb", document["origURL"].as_str().unwrap());
    assert_eq!(stack.get(&url, None).await.status(), StatusCode::NOT_FOUND);
}

/// The real iPhone photo (12 MP grid HEIC, Display P3), uploaded publicly through `cargo lambda
/// watch`: its four renditions are JPEGs that a browser (headless Chromium, Debian's `chromium`,
/// installed by `scripts/bootstrap.sh`) displays in `<img>` elements, upright.
#[tokio::test]
async fn a_browser_displays_the_renditions_of_an_iphone_heic() {
    let Some(stack) = stack().await else { return };
    let heic = support::sample("ianare__iphone_13_pro_max.HEIC");
    let response = stack
        .upload(
            "public",
            Some(&stack.acme),
            form(None, None, "IMG_0001.HEIC", &heic),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset: Value = response.json().await.unwrap();
    assert_eq!(asset["contentType"], "image/heic");
    assert_eq!(
        (asset["width"].as_u64(), asset["height"].as_u64()),
        (Some(3024), Some(4032))
    );
    let original = fetch_bytes(
        &stack,
        asset["origURL"].as_str().unwrap(),
        None,
        "image/heic",
    )
    .await;
    assert_eq!(original, heic, "the original byte for byte");

    let fields = ["thumbURL", "mediumURL", "largeURL", "largeX2URL"];
    let images: String = fields
        .iter()
        .map(|field| format!("<img src=\"{}\">", asset[field].as_str().unwrap()))
        .collect();
    // After every image has loaded (or failed), the page writes their natural sizes into its body.
    let page = format!(
        "<!doctype html><html><body>{images}<script>\
         addEventListener('load', () => {{ document.body.dataset.sizes = \
         [...document.images].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(' '); }});\
         </script></body></html>"
    );
    let dir = std::env::temp_dir().join(format!("e2e-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("renditions.html");
    std::fs::write(&html, page).unwrap();
    let output = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (Debian package, scripts/bootstrap.sh) must be installed");
    let _ = std::fs::remove_dir_all(&dir);
    let dom = String::from_utf8_lossy(&output.stdout);
    let sizes = dom
        .split("data-sizes=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "no sizes in the page: {dom}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    // Every rendition displayed (naturalWidth > 0), portrait, at its box size.
    assert_eq!(sizes, "120x160 360x480 768x1024 1536x2048");
}
