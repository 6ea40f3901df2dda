//! Signed URLs end to end: the real `sign-asset-url` and `get-asset` binaries under `cargo lambda
//! watch`, the signing secret in moto's Secrets Manager (`asset-admin setup` made it;
//! `scripts/test.sh` sets `SIGNING_SECRET_ID`). A URL is minted with the API key and read with
//! no header at all, by an HTTP client and by headless Chromium's `<img>`.

mod support;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::CompanyId;
use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::{Value, json};

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
    let (acme, _) = issue_key(storage.table.as_ref(), company("e2e-signed-acme"))
        .await
        .unwrap();
    let (globex, _) = issue_key(storage.table.as_ref(), company("e2e-signed-globex"))
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

impl Stack {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/partner/asset/{path}", self.base)
    }

    /// acme's private upload of `bytes`; answers the `CompanyAsset`.
    async fn upload_private(&self, file_name: &str, bytes: &[u8]) -> Value {
        let form = Form::new().part(
            "file",
            Part::bytes(bytes.to_vec()).file_name(file_name.to_owned()),
        );
        let response = self
            .http
            .post(self.url("upload/private"))
            .header("X-Api-Key", &self.acme)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn sign(&self, asset_key: &str, api_key: &str, body: Value) -> Response {
        self.http
            .post(self.url(&format!("{asset_key}/url")))
            .header("X-Api-Key", api_key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// acme mints; answers the URL.
    async fn signed_url(&self, asset_key: &str, body: Value) -> String {
        let response = self.sign(asset_key, &self.acme, body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let minted: Value = response.json().await.unwrap();
        minted["url"].as_str().unwrap().to_owned()
    }

    /// A GET with no header at all.
    async fn bare_get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
}

fn max_age(response: &Response) -> u64 {
    let cache_control = header(response, "cache-control");
    cache_control
        .strip_prefix("private, max-age=")
        .unwrap_or_else(|| panic!("{cache_control}"))
        .parse()
        .unwrap()
}

fn tampered(url: &str) -> String {
    let (rest, signature) = url.rsplit_once("signature=").unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{rest}signature={first}{}", &signature[1..])
}

#[tokio::test]
async fn a_signed_url_reads_a_private_asset_without_headers_until_changed() {
    let Some(stack) = stack().await else { return };
    let asset = stack.upload_private("logo.png", support::PNG).await;
    let key = asset["key"].as_str().unwrap();
    let plain = stack.bare_get(asset["thumbURL"].as_str().unwrap()).await;
    assert_eq!(
        plain.status(),
        StatusCode::NOT_FOUND,
        "private without a key"
    );

    let response = stack
        .sign(key, &stack.acme, json!({"size": "thumb", "expiresIn": 300}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let minted: Value = response.json().await.unwrap();
    let url = minted["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}?size=thumb&expires=",
            asset["origURL"].as_str().unwrap()
        )),
        "{url}"
    );
    let thumb = stack.bare_get(url).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    assert_eq!(header(&thumb, "content-type"), "image/png");
    let age = max_age(&thumb);
    assert!(age > 0 && age <= 300, "max-age {age}");
    let signed_bytes = thumb.bytes().await.unwrap();
    let keyed = stack
        .http
        .get(asset["thumbURL"].as_str().unwrap())
        .header("X-Api-Key", &stack.acme)
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
    assert_eq!(signed_bytes, keyed.bytes().await.unwrap());

    // Any change is the 404 of an unknown asset; the placeholder under handleError=true.
    for changed in [
        tampered(url),
        url.replace("size=thumb", "size=medium"),
        url.replace("expires=", "expires=1"),
    ] {
        let response = stack.bare_get(&changed).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{changed}");
        assert_eq!(header(&response, "content-type"), "application/json");
        let response = stack.bare_get(&format!("{changed}&handleError=true")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, "content-type"), "image/png");
    }
    // Another company cannot mint for it.
    let foreign = stack.sign(key, &stack.globex, json!({})).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let unauthenticated = stack
        .http
        .post(stack.url(&format!("{key}/url")))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

/// An original above the inline limit: the signed URL redirects to a presigned S3 download that
/// lives no longer than it, and the download is the file.
#[tokio::test]
async fn a_signed_url_of_a_large_original_redirects_within_its_life() {
    let Some(stack) = stack().await else { return };
    let mut big_pdf = support::PDF.to_vec();
    while big_pdf.len() < stack.inline_max + 50_000 {
        big_pdf.extend_from_slice(b"% padding to take the presigned-redirect path\n");
    }
    let asset = stack.upload_private("scan.pdf", &big_pdf).await;
    let url = stack
        .signed_url(asset["key"].as_str().unwrap(), json!({"expiresIn": 60}))
        .await;
    let response = stack.bare_get(&url).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(max_age(&response) < 60);
    let location = header(&response, "location").to_owned();
    let presigned_s: u64 = location
        .split("X-Amz-Expires=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{location}"));
    assert!(presigned_s <= 60, "presigned for {presigned_s} s");
    let download = stack.http.get(&location).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().await.unwrap(), big_pdf);
}

/// What the feature is for: a partner's page shows a private asset's thumbnail in an `<img>`
/// (which sends no API key) through a signed URL, and a broken image once the URL is tampered
/// with. Headless Chromium (Debian's `chromium`, `scripts/bootstrap.sh`) loads the page.
#[tokio::test]
async fn a_browser_shows_a_private_thumbnail_through_a_signed_url_and_not_a_tampered_one() {
    let Some(stack) = stack().await else { return };
    let photo = support::JPEG;
    let asset = stack.upload_private("photo.jpg", photo).await;
    let url = stack
        .signed_url(
            asset["key"].as_str().unwrap(),
            json!({"size": "thumb", "expiresIn": 600}),
        )
        .await;
    let images = [
        ("signed", url.clone()),
        ("tampered", tampered(&url)),
        ("unsigned", asset["thumbURL"].as_str().unwrap().to_owned()),
    ];
    let tags: String = images
        .iter()
        .map(|(id, src)| {
            format!("<img id=\"{id}\" src=\"{src}\" onerror=\"this.dataset.failed=1\">")
        })
        .collect();
    // After every image has loaded (or failed), the page writes what each one shows.
    let page = format!(
        "<!doctype html><html><body>{tags}<script>\
         addEventListener('load', () => {{ document.body.dataset.result = \
         [...document.images].map(i => i.id + '=' + i.naturalWidth + 'x' + i.naturalHeight + \
         (i.dataset.failed ? ':error' : '')).join(' '); }});\
         </script></body></html>"
    );
    let dir = std::env::temp_dir().join(format!("e2e-signed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("signed.html");
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
    let result = dom
        .split("data-result=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| {
            panic!(
                "no result in the page: {dom}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    // The signed thumb is displayed (longest side 160 px); the others are broken images.
    let shown: Vec<&str> = result.split(' ').collect();
    let [signed, tampered, unsigned] = shown[..] else {
        panic!("{result}")
    };
    let (w, h) = signed
        .strip_prefix("signed=")
        .and_then(|size| size.split_once('x'))
        .unwrap_or_else(|| panic!("{result}"));
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    assert!(w > 0 && h > 0 && w.max(h) == 160, "{result}");
    assert_eq!(tampered, "tampered=0x0:error");
    assert_eq!(unsigned, "unsigned=0x0:error");
}
