//! A partner's web page uploads with Uppy (`@uppy/core` + `@uppy/aws-s3` 5.x from npm,
//! `tests/clients/node`) in a real browser (headless Chromium, Debian's `chromium`), against the
//! local stack `scripts/test.sh` starts: the functions under `cargo lambda watch`, moto, and
//! `s3-event-relay` finalizing single-request uploads from the bucket's events.
//!
//! The test mints an upload token with the partner's API key (the page never sees the key) and
//! opens the page (`tests/clients/node/uppy/page.mjs`) with it. The page's site
//! (`uppy/server.mjs`) serves the page and passes `/api/` to watch, one origin as behind
//! CloudFront; it is also Chromium's proxy, answering CORS for moto from the bucket's CORS
//! configuration as S3 does (moto leaves `ETag` unexposed, README "From a browser with Uppy").
//! The page uploads a 12 MB PDF in parts and an 8 MB PNG by one presigned POST, waits for the
//! PNG's finalize, and displays its thumbnail. Then, with the API key: both assets exist with the
//! page's bytes, the image has its renditions; and the token is refused for the other
//! visibility, and a garbage token is 401.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use asset_service::Visibility;
use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::{CompanyId, UploadTokenRecord, UploadTokenSecret, sha256_hex};
use asset_service::storage::ApiKeyRepo;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Above the page's multipart threshold (10 MiB): three parts of 5 MiB, 5 MiB and the rest.
const PDF_BYTES: usize = 12_000_000;
/// Noise does not compress: an RGB PNG of these pixels is a little over 8 MB, below the threshold.
const PNG_SIDE: (u32, u32) = (1700, 1600);

/// A tool the test drives; missing, it fails the suite (`REQUIRE_LOCAL_AWS=1`) and is a loud skip
/// elsewhere.
fn available(what: &str, present: bool) -> bool {
    if !present {
        assert!(
            std::env::var("REQUIRE_LOCAL_AWS").as_deref() != Ok("1"),
            "{what} is missing; scripts/bootstrap.sh installs it"
        );
        eprintln!("SKIPPED: {what} is not installed (scripts/bootstrap.sh installs it)");
    }
    present
}

/// A PDF header and then deterministic bytes: `application/pdf` to the content sniffing.
fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n"
        .iter()
        .copied()
        .chain((0..PDF_BYTES - 9).map(|i| (i % 251) as u8 ^ (i / 251 % 256) as u8))
        .collect()
}

/// An RGB PNG of deterministic noise (xorshift), so the file is as large as its pixels.
fn noise_png() -> Vec<u8> {
    let (width, height) = PNG_SIDE;
    let mut state: u32 = 0x9E37_79B9;
    let pixels: Vec<u8> = (0..width * height * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// A child process killed (and reaped) when the test ends, passing or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stdout, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn chromium(dir: &Path, proxy: &str, url: &str) -> Killed {
    let log = std::fs::File::create(dir.join("chromium.log")).unwrap();
    Killed(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--enable-logging=stderr",
                "--v=0",
                &format!("--user-data-dir={}", dir.join("profile").display()),
                // Every request through the site's proxy, loopback included (Chromium bypasses
                // proxies for loopback unless told `<-loopback>`).
                &format!("--proxy-server={proxy}"),
                "--proxy-bypass-list=<-loopback>",
            ])
            .arg(url)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("chromium starts"),
    )
}

struct Stack {
    base: String,
    http: Client,
    key: String,
}

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/partner/asset/{path}", self.base)
    }

    async fn mint(&self, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url("upload-tokens"))
            .header("x-api-key", &self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("x-api-key", &self.key)
            .send()
            .await
            .unwrap()
    }

    /// `GET s3/params` of the Uppy protocol with a bearer token.
    async fn params(&self, visibility: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(&format!("uploads/{visibility}/s3/params")))
            .query(&[("filename", "report.pdf"), ("type", "application/pdf")])
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn uppy_in_a_browser_uploads_in_parts_and_by_post_with_an_upload_token() {
    let Some((base, config)) = support::e2e_target() else {
        return;
    };
    let node_folder = PathBuf::from(ROOT).join("tests/clients/node");
    let node = Command::new("node").arg("--version").output().is_ok()
        && node_folder.join("node_modules/@uppy/aws-s3").exists()
        && node_folder.join("node_modules/esbuild").exists();
    if !available("node with tests/clients/node's packages (npm ci)", node)
        || !available(
            "chromium",
            Command::new("chromium").arg("--version").output().is_ok(),
        )
    {
        return;
    }
    let storage = AwsStorage::connect(&config).await;
    let (key, _) = issue_key(
        storage.table.as_ref(),
        CompanyId::parse("e2e-uppy").unwrap(),
    )
    .await
    .unwrap();
    let stack = Stack {
        base: base.clone(),
        http: Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap(),
        key: key.expose().to_owned(),
    };

    // The partner's server mints the page's token.
    let (status, minted) = stack
        .mint(json!({"visibility": "public", "maxBytes": 16 * 1024 * 1024}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ut_"), "{minted}");
    assert_eq!(minted["visibility"], "public");
    assert_eq!(minted["maxBytes"], 16 * 1024 * 1024);

    let dir = std::env::temp_dir().join(format!("e2e-uppy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (pdf, png) = (pdf(), noise_png());
    assert!(
        png.len() > 8_000_000 && png.len() < 10 * 1024 * 1024,
        "{}",
        png.len()
    );
    std::fs::write(dir.join("report.pdf"), &pdf).unwrap();
    std::fs::write(dir.join("noise.png"), &png).unwrap();

    let s3_endpoint = config
        .aws_endpoint_url
        .clone()
        .expect("a local S3 endpoint");
    let mut server = Killed(
        Command::new("node")
            .arg(node_folder.join("uppy/server.mjs"))
            .args([&base, &s3_endpoint])
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node starts"),
    );
    let said = lines(&mut server.0);
    let site = said
        .recv_timeout(Duration::from_secs(120))
        .expect("the site starts")
        .strip_prefix("listening ")
        .expect("the site's first line names its URL")
        .to_owned();
    let page = format!(
        "{site}/#token={token}&visibility=public&files=report.pdf:application/pdf,noise.png:image/png"
    );
    let browser = chromium(&dir, &site, &page);

    // What the site saw until the page reported (a bound against a hang, not a timing).
    let mut log = Vec::new();
    let result = loop {
        match said.recv_timeout(Duration::from_secs(300)) {
            Ok(line) => match line.strip_prefix("result ") {
                Some(result) => break serde_json::from_str::<Value>(result).unwrap(),
                None => log.push(line),
            },
            Err(_) => panic!(
                "the page reported nothing; the site saw:\n{}\nchromium:\n{}",
                log.join("\n"),
                std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default()
            ),
        }
    };
    drop(browser);
    drop(server);
    let context = format!("{result:#}\nthe site saw:\n{}", log.join("\n"));
    assert!(result["pageError"].is_null(), "{context}");
    assert_eq!(result["failed"], json!([]), "{context}");

    // The protocol as the plugin spoke it: the PDF in three signed parts and a complete, the PNG
    // by the parameters of one POST; every call answered 2xx.
    let calls = |prefix: &str| {
        log.iter()
            .filter(|l| l.starts_with(prefix))
            .cloned()
            .collect::<Vec<_>>()
    };
    let uppy = "api POST /api/v1/partner/asset/uploads/public/s3/multipart";
    assert_eq!(calls(&format!("{uppy} ")).len(), 1, "{context}");
    assert_eq!(
        calls(&format!("{uppy}/")).len(),
        1,
        "one complete: {context}"
    );
    let signs = calls("api GET /api/v1/partner/asset/uploads/public/s3/multipart/");
    assert_eq!(signs.len(), 3, "{context}");
    assert_eq!(
        calls("api GET /api/v1/partner/asset/uploads/public/s3/params ").len(),
        1,
        "{context}"
    );
    for line in calls("api ") {
        assert!(
            line.ends_with(" 200") || line.ends_with(" 201"),
            "{context}"
        );
    }
    // The bytes went to S3 directly: three part PUTs and a POST, each preflighted and allowed.
    assert_eq!(calls("s3 PUT 200").len(), 3, "{context}");
    assert_eq!(calls("s3 POST 201").len(), 1, "{context}");
    assert!(calls("s3 OPTIONS 403").is_empty(), "{context}");

    // The PDF: `complete` answered its asset.
    let uploaded = &result["files"]["report.pdf"];
    assert_eq!(uploaded["uploaded"], true, "{context}");
    let pdf_asset = &uploaded["body"]["asset"];
    assert_eq!(uploaded["body"]["key"], pdf_asset["key"], "{context}");
    assert_eq!(
        uploaded["body"]["location"], pdf_asset["origURL"],
        "{context}"
    );
    assert_eq!(pdf_asset["contentType"], "application/pdf");
    assert_eq!(pdf_asset["sha256"], sha256_hex(&pdf));

    // The PNG: finalized by the bucket's event, found ready by polling, thumbnail displayed.
    let uploaded = &result["files"]["noise.png"];
    assert_eq!(uploaded["uploaded"], true, "{context}");
    assert_eq!(uploaded["status"]["status"], 200, "{context}");
    assert_eq!(uploaded["status"]["body"]["status"], "ready", "{context}");
    let png_asset = &uploaded["status"]["body"]["asset"];
    assert_eq!(png_asset["contentType"], "image/png");
    assert_eq!(png_asset["sha256"], sha256_hex(&png));
    let thumbnail = &uploaded["thumbnail"];
    assert!(
        thumbnail["naturalWidth"].as_u64().unwrap_or(0) > 0,
        "{context}"
    );
    assert_eq!(thumbnail["naturalWidth"], 160, "{context}");

    // With the API key: both assets exist and hold the page's bytes; the image's renditions too.
    for (asset, bytes) in [(pdf_asset, &pdf), (png_asset, &png)] {
        let response = stack.get(asset["origURL"].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let read = response.bytes().await.unwrap();
        assert_eq!(sha256_hex(&read), sha256_hex(bytes), "{asset}");
        assert!(read == bytes.as_slice());
    }
    for field in ["thumbURL", "mediumURL", "largeURL", "largeX2URL"] {
        let response = stack.get(png_asset[field].as_str().unwrap()).await;
        assert_eq!(response.status(), StatusCode::OK, "{field}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("image/"),
            "{field}"
        );
        assert!(!response.bytes().await.unwrap().is_empty(), "{field}");
    }

    // The page's token is for public uploads only; a token nobody minted is no token.
    let (status, body) = stack.params("public", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = stack.params("private", &token).await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "{status} {body}"
    );
    let (status, body) = stack
        .params("public", "ut_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // A token past its expiry (stored as minting stores one, but dated a minute ago).
    let expired = UploadTokenSecret::generate();
    let now_ms = asset_service::auth::now_ms();
    storage
        .table
        .insert_upload_token(&UploadTokenRecord {
            hash: expired.hash(),
            company_id: CompanyId::parse("e2e-uppy").unwrap(),
            visibility: Visibility::Public,
            max_bytes: 16 * 1024 * 1024,
            created_ms: now_ms - 120_000,
            expires_at_s: now_ms / 1000 - 60,
        })
        .await
        .unwrap();
    let (status, body) = stack.params("public", expired.expose()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
