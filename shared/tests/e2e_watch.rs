//! End to end over HTTP: the three real function binaries under `cargo lambda watch` (its router
//! serving the real paths), talking to the local AWS stand-in. `scripts/test.sh` starts both with
//! `INLINE_MAX_BYTES=4000000` (a 4 MB original is answered inline, through the emulator: the case
//! that used to stall it; a generated document above it takes the presigned-redirect path) and the
//! production `MAX_UPLOAD_BYTES` (4 MiB).

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
    // A valid PDF padded with comment lines past the inline limit takes the redirect path.
    let mut big_pdf = support::PDF.to_vec();
    while big_pdf.len() < stack.inline_max + 50_000 {
        big_pdf.extend_from_slice(b"% padding to take the presigned-redirect path\n");
    }
    let files: [(&[u8], &str, &str, &str); 4] = [
        (support::JPEG, "photo.jpg", "image/jpeg", "IMAGE"),
        (support::PNG, "logo.png", "image/png", "IMAGE"),
        (support::PDF, "document.pdf", "application/pdf", "DOCUMENT"),
        (&big_pdf, "scan.pdf", "application/pdf", "DOCUMENT"),
    ];
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
            form(None, None, "big.txt", &vec![b'a'; 4 * 1024 * 1024 + 1]),
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
/// A HEAD and the matching GET: same status and headers (bar the date), no body, and a
/// `Content-Length` that is the GET body's length. Returns the GET's body.
async fn head_matches_get(stack: &Stack, url: &str, key: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut head = stack.http.head(url);
    let mut get = stack.http.get(url);
    if let Some(key) = key {
        head = head.bearer_auth(key);
        get = get.bearer_auth(key);
    }
    let head = head.send().await.expect("head request");
    let get = get.send().await.expect("get request");
    assert_eq!(head.status(), get.status(), "{url}");
    let strip = |response: &Response| {
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            // Two presigned URLs may be signed in different seconds.
            .filter(|(name, _)| *name != "date" && *name != "location")
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        headers
    };
    assert_eq!(strip(&head), strip(&get), "{url}");
    let status = get.status();
    assert_eq!(
        head.headers().contains_key("location"),
        get.headers().contains_key("location")
    );
    let head_length = header(&head, "content-length").to_owned();
    assert!(
        head.bytes().await.unwrap().is_empty(),
        "{url}: a HEAD has no body"
    );
    let body = get.bytes().await.unwrap().to_vec();
    if status != StatusCode::FOUND {
        assert_eq!(head_length, body.len().to_string(), "{url}");
    }
    (status, body)
}

/// `GET` with a `Range` (and optionally an `If-Range`).
async fn ranged(stack: &Stack, url: &str, range: &str, if_range: Option<&str>) -> Response {
    let mut request = stack.http.get(url).header("Range", range);
    if let Some(if_range) = if_range {
        request = request.header("If-Range", if_range);
    }
    request.send().await.expect("ranged request")
}

async fn assert_part(response: Response, whole: &[u8], first: usize, last: usize) {
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&response, "content-range"),
        format!("bytes {first}-{last}/{}", whole.len())
    );
    assert_eq!(header(&response, "accept-ranges"), "bytes");
    let body = response.bytes().await.unwrap();
    assert!(body[..] == whole[first..=last], "bytes {first}-{last}");
}

/// HEAD and byte ranges over HTTP on an image (original and rendition), an error, the
/// placeholder and a redirected asset.
#[tokio::test]
async fn head_and_ranges_of_an_image() {
    let Some(stack) = stack().await else { return };
    let response = stack
        .upload(
            "public",
            Some(&stack.acme),
            form(None, Some("IMAGE"), "photo.jpg", support::JPEG),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset: Value = response.json().await.unwrap();
    for url in [
        asset["origURL"].as_str().unwrap(),
        asset["mediumURL"].as_str().unwrap(),
    ] {
        let (status, whole) = head_matches_get(&stack, url, None).await;
        assert_eq!(status, StatusCode::OK);
        let len = whole.len();
        assert_part(ranged(&stack, url, "bytes=0-99", None).await, &whole, 0, 99).await;
        assert_part(
            ranged(&stack, url, "bytes=-500", None).await,
            &whole,
            len - 500,
            len - 1,
        )
        .await;
        assert_part(
            ranged(&stack, url, "bytes=1000-", None).await,
            &whole,
            1000,
            len - 1,
        )
        .await;
        let past = ranged(&stack, url, &format!("bytes={len}-"), None).await;
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(header(&past, "content-range"), format!("bytes */{len}"));
        assert_eq!(error_code(past).await, "range_not_satisfiable");

        let etag = header(&stack.get(url, None).await, "etag").to_owned();
        assert_part(
            ranged(&stack, url, "bytes=10-19", Some(&etag)).await,
            &whole,
            10,
            19,
        )
        .await;
        let changed = ranged(&stack, url, "bytes=10-19", Some("\"older\"")).await;
        assert_eq!(changed.status(), StatusCode::OK);
        assert!(changed.bytes().await.unwrap()[..] == whole[..]);
    }

    // Errors: the GET's status and headers, and the length of the body a GET gets.
    let (status, _) = head_matches_get(&stack, &stack.url("AAAAAAAAAAAAAAAAAAAAAAAA"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let placeholder = format!("{}?handleError=true", stack.url("AAAAAAAAAAAAAAAAAAAAAAAA"));
    let (status, body) = head_matches_get(&stack, &placeholder, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.starts_with(b"\x89PNG"));

    // Above the inline limit: the same redirect, whose target (S3) serves ranges itself.
    let mut big_pdf = support::PDF.to_vec();
    while big_pdf.len() < stack.inline_max + 50_000 {
        big_pdf.extend_from_slice(b"% padding to take the presigned-redirect path\n");
    }
    let response = stack
        .upload(
            "private",
            Some(&stack.acme),
            form(None, None, "scan.pdf", &big_pdf),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset: Value = response.json().await.unwrap();
    let url = asset["origURL"].as_str().unwrap();
    let (status, _) = head_matches_get(&stack, url, Some(&stack.acme)).await;
    assert_eq!(status, StatusCode::FOUND);
    let (status, _) = head_matches_get(&stack, url, Some(&stack.globex)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let redirect = stack.get(url, Some(&stack.acme)).await;
    let location = header(&redirect, "location").to_owned();
    let part = stack
        .http
        .get(&location)
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_part(part, &big_pdf, 0, 99).await;
}

/// Small test videos made at test time by Debian's `ffmpeg` (scripts/bootstrap.sh): 6 s of
/// 640x360 noise at 2 Mbit/s, about 1.5 MB each. H.264 in MP4 with the index at the front
/// (`+faststart`, what Safari and Chromium need to start before the end has arrived), and VP8 in
/// WebM. Both are decoded by Debian's Chromium.
fn test_videos(dir: &std::path::Path) -> [(std::path::PathBuf, &'static str); 2] {
    let source = "testsrc2=duration=6:size=640x360:rate=25,noise=alls=30:allf=t";
    let mp4 = dir.join("clip.mp4");
    let webm = dir.join("clip.webm");
    let encodes: [(&std::path::Path, &[&str]); 2] = [
        (
            &mp4,
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-b:v",
                "2M",
                "-maxrate",
                "2M",
                "-bufsize",
                "1M",
                "-movflags",
                "+faststart",
            ],
        ),
        (
            &webm,
            &[
                "-c:v",
                "libvpx",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "2M",
            ],
        ),
    ];
    for (output, codec) in encodes {
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", source])
            .args(codec)
            .arg(output)
            .status()
            .expect("ffmpeg (Debian package, scripts/bootstrap.sh) must be installed");
        assert!(status.success(), "ffmpeg made {}", output.display());
    }
    [(mp4, "video/mp4"), (webm, "video/webm")]
}

/// Chromium's net log (`--log-net-log`): per asset key, the `Range` each request sent and the
/// status line each got.
fn ranged_requests(
    netlog: &std::path::Path,
) -> std::collections::HashMap<String, Vec<(String, String)>> {
    let log: Value = serde_json::from_slice(&std::fs::read(netlog).unwrap()).expect("net log");
    let mut requests: std::collections::HashMap<u64, (String, String)> = Default::default();
    let mut statuses: std::collections::HashMap<u64, String> = Default::default();
    for event in log["events"].as_array().unwrap() {
        let id = event["source"]["id"].as_u64().unwrap_or_default();
        let params = &event["params"];
        let Some(headers) = params["headers"].as_array() else {
            continue;
        };
        let headers: Vec<&str> = headers.iter().filter_map(Value::as_str).collect();
        if let Some(line) = params["line"].as_str() {
            let range = headers
                .iter()
                .find_map(|h| h.strip_prefix("Range: "))
                .unwrap_or_default();
            requests.insert(id, (line.trim().to_owned(), range.to_owned()));
        } else if let Some(status) = headers.first().filter(|h| h.starts_with("HTTP/")) {
            statuses.insert(id, (*status).to_owned());
        }
    }
    let mut by_asset: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for (id, (line, range)) in requests {
        let Some(key) = line.split("/api/v1/partner/asset/").nth(1) else {
            continue;
        };
        let key = key.split([' ', '?']).next().unwrap().to_owned();
        let status = statuses.remove(&id).unwrap_or_default();
        by_asset.entry(key).or_default().push((range, status));
    }
    by_asset
}

/// Video assets end to end: HEAD and ranges over HTTP, and a real browser (headless Chromium)
/// playing them from `<video>` elements through the local stack: it reads the duration, seeks
/// near the end and can play there, and every request it made was a `Range` request answered
/// `206` (browsers' media players ask for ranges; Safari plays only from servers that answer them).
#[tokio::test]
async fn a_browser_plays_and_seeks_video_assets_through_ranges() {
    let Some(stack) = stack().await else { return };
    let dir = std::env::temp_dir().join(format!("e2e-video-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut videos = Vec::new();
    for (path, mime) in test_videos(&dir) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() < 3_000_000 && bytes.len() <= stack.inline_max);
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let response = stack
            .upload(
                "public",
                Some(&stack.acme),
                form(None, Some("VIDEO"), &name, &bytes),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let asset: Value = response.json().await.unwrap();
        assert_eq!(asset["contentType"], mime);
        let url = asset["origURL"].as_str().unwrap().to_owned();
        let (status, whole) = head_matches_get(&stack, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(whole == bytes, "{name} byte for byte");
        let middle = bytes.len() / 2;
        assert_part(
            ranged(
                &stack,
                &url,
                &format!("bytes={middle}-{}", middle + 65_535),
                None,
            )
            .await,
            &bytes,
            middle,
            middle + 65_535,
        )
        .await;
        videos.push((asset["key"].as_str().unwrap().to_owned(), url, mime));
    }

    let elements: String = videos
        .iter()
        .map(|(key, url, _)| {
            format!("<video id=\"{key}\" preload=\"auto\" muted src=\"{url}\"></video>")
        })
        .collect();
    // Per video: at loadedmetadata seek to 1 s before the end; once seeked and able to play
    // there, note duration and position. When both are in (or failed), write them into the body.
    let page = format!(
        "<!doctype html><html><body>{elements}<script>\
         const results = {{}};\
         const videos = [...document.querySelectorAll('video')];\
         for (const video of videos) {{\
           const report = (outcome) => {{\
             results[video.id] = {{ outcome, duration: video.duration, time: video.currentTime,\
               ready: video.readyState, error: video.error && video.error.message }};\
             if (Object.keys(results).length === videos.length)\
               document.body.dataset.result = JSON.stringify(results);\
           }};\
           video.addEventListener('error', () => report('error'));\
           video.addEventListener('loadedmetadata', () => {{ video.currentTime = video.duration - 1; }});\
           video.addEventListener('seeked', () => {{\
             if (video.readyState >= 3) report('seeked');\
             else video.addEventListener('canplay', () => report('seeked'), {{ once: true }});\
           }}, {{ once: true }});\
         }}\
         </script></body></html>"
    );
    let html = dir.join("videos.html");
    std::fs::write(&html, page).unwrap();
    let netlog = dir.join("netlog.json");
    let output = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            &format!("--log-net-log={}", netlog.display()),
            "--virtual-time-budget=30000",
            "--dump-dom",
        ])
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium (Debian package, scripts/bootstrap.sh) must be installed");
    let dom = String::from_utf8_lossy(&output.stdout);
    let result = dom
        .split("data-result=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "no result in the page: {dom}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .replace("&quot;", "\"");
    let result: Value = serde_json::from_str(&result).unwrap();
    let requests = ranged_requests(&netlog);
    let _ = std::fs::remove_dir_all(&dir);
    for (key, _, mime) in &videos {
        let video = &result[key];
        assert_eq!(video["outcome"], "seeked", "{mime}: {video}");
        let duration = video["duration"].as_f64().unwrap();
        assert!((duration - 6.0).abs() < 0.05, "{mime}: duration {duration}");
        assert!(
            (video["time"].as_f64().unwrap() - 5.0).abs() < 0.05,
            "{mime}: {video}"
        );
        let seen = requests
            .get(key)
            .unwrap_or_else(|| panic!("{mime}: no request in {requests:?}"));
        // Only answered requests: a media player cancels some once it has what it needs.
        let answered: Vec<_> = seen
            .iter()
            .filter(|(_, status)| !status.is_empty())
            .collect();
        assert!(!answered.is_empty(), "{mime}: {seen:?}");
        for (range, status) in answered {
            assert!(
                range.starts_with("bytes="),
                "{mime}: every request a Range: {seen:?}"
            );
            assert!(
                status.contains(" 206 "),
                "{mime}: every answer a 206: {seen:?}"
            );
        }
    }
}

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

/// A valid JPEG of exactly `len` bytes: the fixture photo with comment (COM) segments inserted
/// after SOI. Decoders skip them, so it renders like the photo while its original is `len` bytes.
fn jpeg_of_len(len: usize) -> Vec<u8> {
    let (soi, rest) = support::JPEG.split_at(2);
    let mut out = soi.to_vec();
    let mut missing = len - support::JPEG.len();
    while missing > 0 {
        // A segment is FF FE, then a 2-byte length that counts itself and the payload (at most
        // 65,535), then the payload: 4 to 65,537 bytes in all. Never leave fewer than 4 to fill.
        let mut segment = missing.min(65_537);
        if (1..4).contains(&(missing - segment)) {
            segment -= 4;
        }
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((segment - 2) as u16).to_be_bytes());
        out.resize(out.len() + segment - 4, b' ');
        missing -= segment;
    }
    out.extend_from_slice(rest);
    assert_eq!(out.len(), len);
    out
}

/// Regression test of the local stack's stall (README, "Reliability"): `cargo lambda watch` lost
/// the end of multi-megabyte responses after concurrent requests, so later GETs got no answer at all.
/// 16 concurrent and then 16 sequential GETs of a 4 MB original and of its largest rendition must
/// each be answered, whole, within a bound that is generous for debug binaries (a hang detector,
/// not a speed assertion).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_responses_are_answered_concurrently_and_then_one_by_one() {
    const ANSWER_BOUND: std::time::Duration = std::time::Duration::from_secs(20);
    let Some(stack) = stack().await else { return };
    let original = jpeg_of_len(4_000_000);
    assert!(
        original.len() <= stack.inline_max,
        "answered inline, through the emulator"
    );
    let response = stack
        .upload(
            "public",
            Some(&stack.acme),
            form(Some("Large"), Some("IMAGE"), "large.jpg", &original),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let asset: Value = response.json().await.unwrap();
    let orig_url = asset["origURL"].as_str().unwrap().to_owned();
    let rendition_url = asset["largeX2URL"].as_str().unwrap().to_owned();
    let rendition = fetch_bytes(&stack, &rendition_url, None, "image/jpeg").await;

    let http = Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(ANSWER_BOUND)
        .build()
        .unwrap();
    for (url, expected) in [(&orig_url, &original), (&rendition_url, &rendition)] {
        let get = || async {
            let response = http
                .get(url.as_str())
                .send()
                .await
                .expect("answered within the bound");
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            let body = response.bytes().await.expect("whole body within the bound");
            assert!(
                body.as_ref() == expected.as_slice(),
                "{url}: {} bytes differ",
                body.len()
            );
        };
        futures_util::future::join_all((0..16).map(|_| get())).await;
        for _ in 0..16 {
            get().await;
        }
    }
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
