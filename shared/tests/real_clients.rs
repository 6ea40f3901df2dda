//! Real HTTP clients against the running stack (`scripts/test.sh` starts it and sets
//! `E2E_BASE_URL`): curl, Python `requests` and `httpx` (in the project's `.venv`), Node's own
//! `fetch` and the `form-data` package (`tests/clients/node`), and headless Chromium doing
//! `fetch` + `FormData`. Each uploads files with hard names and the test reads them back: the
//! stored name (NFC), the bytes, and the `Content-Disposition` of the GET.
//! `scripts/bootstrap.sh` installs every client; with `REQUIRE_LOCAL_AWS=1` a missing one fails.
//! Clients that are not on the machine are replayed byte for byte in `handlers/tests/clients.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::domain::CompanyId;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::percent_decode_str;
use reqwest::StatusCode;
use serde_json::Value;

/// Quote, semicolon, a typed `%20`, NFD accents (as macOS file names are), CJK and an emoji.
const HARD_NFD: &str = "quote\"semi;colon%20 Re\u{301}sume\u{301} – 名前 😀.pdf";
/// What the service must store for it: the same, in NFC.
const HARD_NFC: &str = "quote\"semi;colon%20 Résumé – 名前 😀.pdf";

/// A 200-character name with a few accents and a backslash-free mix of punctuation.
fn long_name() -> String {
    let stem: String = "Année 2026 – rapport; «final» 100% "
        .chars()
        .cycle()
        .take(196)
        .collect();
    format!("{stem}.pdf")
}

struct Target {
    base: String,
    key: String,
    workspace: PathBuf,
    scratch: PathBuf,
    file: PathBuf,
}

impl Drop for Target {
    /// The scratch folder holds the upload, pages and Chromium profiles: a few MB per run.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

async fn target(client: &str) -> Option<Target> {
    let (base, config) = support::e2e_target()?;
    let storage = AwsStorage::connect(&config).await;
    let (key, _) = issue_key(
        storage.table.as_ref(),
        CompanyId::parse("real-clients").unwrap(),
    )
    .await
    .unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scratch = std::env::temp_dir().join(format!(
        "real-clients-{client}-{}",
        asset_service::domain::AssetKey::generate()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let file = scratch.join("upload.pdf");
    std::fs::write(&file, support::PDF).unwrap();
    Some(Target {
        base,
        key: key.expose().to_owned(),
        workspace,
        scratch,
        file,
    })
}

/// Whether a client is there; under `scripts/test.sh` (`REQUIRE_LOCAL_AWS=1`) it must be.
fn available(what: &str, present: bool) -> bool {
    if !present {
        assert!(
            std::env::var("REQUIRE_LOCAL_AWS").as_deref() != Ok("1"),
            "{what} is missing; scripts/bootstrap.sh installs it"
        );
        eprintln!("skipped: {what} is not installed (scripts/bootstrap.sh installs it)");
    }
    present
}

/// Runs a client that prints the HTTP status, then the answer's body; returns the upload's JSON.
fn run(command: &mut Command, what: &str) -> Value {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{what} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (status, body) = stdout
        .trim()
        .split_once('\n')
        .unwrap_or_else(|| panic!("{what}: unexpected output {stdout}"));
    assert_eq!(status.trim(), "200", "{what}: {body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
}

/// The asset must carry `expected` as its name, serve the uploaded bytes, and name them so in its
/// `Content-Disposition` (`filename*`, RFC 6266/8187), with nothing that could split a header.
async fn check_read_back(asset: &Value, expected: &str, what: &str) {
    assert_eq!(asset["name"], expected, "{what}: stored name");
    let response = reqwest::get(asset["origURL"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{what}");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!disposition.contains(['\r', '\n']), "{what}: {disposition}");
    let encoded = disposition
        .split("filename*=UTF-8''")
        .nth(1)
        .unwrap_or_else(|| panic!("{what}: {disposition}"));
    assert_eq!(
        percent_decode_str(encoded).decode_utf8().unwrap(),
        expected,
        "{what}: Content-Disposition {disposition}"
    );
    assert_eq!(
        &response.bytes().await.unwrap()[..],
        support::PDF,
        "{what}: bytes"
    );
}

/// The two names every client uploads, with what must be stored for each.
fn names() -> [(String, String); 2] {
    let long = long_name();
    assert_eq!(long.chars().count(), 200);
    [
        (HARD_NFD.to_owned(), HARD_NFC.to_owned()),
        (long.clone(), long),
    ]
}

#[tokio::test]
async fn curl_uploads_keep_their_names() {
    let Some(t) = target("curl").await else {
        return;
    };
    for (sent, expected) in names() {
        // curl's -F syntax: a double-quoted filename takes `\"` and `\\` (curl(1), --form).
        let quoted = sent.replace('\\', "\\\\").replace('"', "\\\"");
        let body = t.scratch.join("curl-answer.json");
        let output = Command::new("curl")
            .args(["-sS", "-o"])
            .arg(&body)
            .args(["-w", "%{http_code}", "-H"])
            .arg(format!("X-Api-Key: {}", t.key))
            .arg("-F")
            .arg(format!(
                "file=@{};filename=\"{quoted}\";type=application/pdf",
                t.file.display()
            ))
            .arg(format!("{}/api/v1/partner/asset/upload/public", t.base))
            .output()
            .expect("curl runs");
        let answer = std::fs::read_to_string(&body).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "200",
            "curl: {answer}"
        );
        let asset: Value = serde_json::from_str(&answer).unwrap();
        check_read_back(&asset, &expected, "curl").await;
    }
}

#[tokio::test]
async fn python_requests_and_httpx_keep_names_and_booleans() {
    let Some(t) = target("python").await else {
        return;
    };
    let python = t.workspace.join(".venv/bin/python");
    let script = t.workspace.join("tests/clients/python/upload.py");
    for client in ["requests", "httpx"] {
        let present = python.exists()
            && Command::new(&python)
                .args(["-c", &format!("import {client}")])
                .status()
                .is_ok_and(|s| s.success());
        if !available(&format!("Python {client}"), present) {
            continue;
        }
        for (sent, expected) in names() {
            let asset = run(
                Command::new(&python)
                    .arg(&script)
                    .args([client, &t.base, &t.key])
                    .arg(&t.file)
                    .arg(&sent),
                client,
            );
            check_read_back(&asset, &expected, client).await;
        }
    }
    if !python.exists() {
        return;
    }
    // Issue 11: `params={"handleError": True}` is sent as `handleError=True` and must give the
    // placeholder image under the truthful status, not a 400.
    let output = Command::new(&python)
        .arg(&script)
        .args(["requests-flag", &t.base, "AAAAAAAAAAAAAAAAAAAAAAAA"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"404"), "{stdout}");
    assert_eq!(lines.get(1), Some(&"image/png"), "{stdout}");
    assert!(lines[2].ends_with("handleError=True"), "{stdout}");
}

#[tokio::test]
async fn node_fetch_and_form_data_keep_their_names() {
    let Some(t) = target("node").await else {
        return;
    };
    let folder = t.workspace.join("tests/clients/node");
    let node = Command::new("node").arg("--version").output().is_ok();
    for client in ["fetch", "form-data"] {
        let present = node && (client == "fetch" || folder.join("node_modules/form-data").exists());
        if !available(&format!("Node {client}"), present) {
            continue;
        }
        for (sent, expected) in names() {
            let asset = run(
                Command::new("node")
                    .arg(folder.join("upload.mjs"))
                    .args([client, &t.base, &t.key])
                    .arg(&t.file)
                    .arg(&sent),
                client,
            );
            check_read_back(&asset, &expected, client).await;
        }
    }
}

#[tokio::test]
async fn headless_chromium_fetch_form_data_keeps_names() {
    let Some(t) = target("chromium").await else {
        return;
    };
    let present = Command::new("chromium").arg("--version").output().is_ok();
    if !available("chromium", present) {
        return;
    }
    for (index, (sent, expected)) in names().into_iter().enumerate() {
        let config = serde_json::json!({
            "url": format!("{}/api/v1/partner/asset/upload/public", t.base),
            "key": t.key,
            "name": sent,
            "file": BASE64.encode(support::PDF),
        });
        let page = t.scratch.join(format!("upload-{index}.html"));
        std::fs::write(&page, browser_page(&config)).unwrap();
        let profile = t.scratch.join(format!("profile-{index}"));
        // The page is a file: URL, so its fetch to the stack is cross-origin: web security is off
        // for this throwaway profile only. --virtual-time-budget lets the page finish its fetch
        // before --dump-dom prints the result it wrote into the body.
        let output = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-web-security",
                "--no-first-run",
                "--virtual-time-budget=30000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs");
        let dom = String::from_utf8_lossy(&output.stdout);
        let encoded = dom
            .split("<body>")
            .nth(1)
            .and_then(|rest| rest.split("</body>").next())
            .map(|body| body.rsplit("</script>").next().unwrap_or(body).trim())
            .unwrap_or_else(|| {
                panic!(
                    "chromium printed no page: {dom}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                )
            });
        let result: Value = serde_json::from_slice(
            &BASE64
                .decode(encoded)
                .unwrap_or_else(|e| panic!("chromium page result {encoded:?}: {e}")),
        )
        .unwrap();
        assert_eq!(result["status"], 200, "chromium: {result}");
        let asset: Value = serde_json::from_str(result["body"].as_str().unwrap()).unwrap();
        check_read_back(&asset, &expected, "chromium").await;
    }
}

/// A page that uploads `config.file` as a `File` named `config.name` with `fetch` + `FormData`
/// and writes `{status, body}` (Base64 of the JSON, so no markup escaping) into its body.
fn browser_page(config: &Value) -> String {
    let config = BASE64.encode(config.to_string());
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>upload</title><body><script>
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const text = (value) => btoa(String.fromCharCode(...new TextEncoder().encode(value)));
(async () => {{
  const config = JSON.parse(new TextDecoder().decode(bytes("{config}")));
  const form = new FormData();
  form.append("file", new File([bytes(config.file)], config.name, {{ type: "application/pdf" }}));
  const response = await fetch(config.url, {{
    method: "POST", headers: {{ "X-Api-Key": config.key }}, body: form }});
  const body = await response.text();
  document.body.textContent = text(JSON.stringify({{ status: response.status, body }}));
}})().catch((error) => {{
  document.body.textContent = text(JSON.stringify({{ status: 0, body: String(error) }}));
}});
</script></body>"#
    )
}
