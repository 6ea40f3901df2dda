//! Signed URLs against in-memory storage: minting (owner only, bounds, inactive and non-image
//! assets), reading without headers, every way a URL can be changed, expiry, rotation of the
//! secret, the secret unavailable, and caching that never outlives the URL. The same flows run
//! through `cargo lambda watch` and a browser in `tests/e2e_signed_urls.rs`, and the Secrets
//! Manager adapter against moto in `tests/signing_secret.rs`.

use std::sync::atomic::Ordering;

use super::*;
use crate::auth::now_ms;
use crate::domain::{Asset, MAX_SIGNED_URL_LIFETIME, RenditionSize, SignedUrlGrant, SigningKeys};
use crate::handlers::sign_asset_url;
use crate::storage::AssetRepo;
use crate::storage::memory::MemorySigningKeys;

const API: &str = "https://api.example.com/api/v1/partner/asset";

/// The harness with a signing secret of `secret` (no previous one).
async fn signing_harness(secret: &[u8]) -> (Harness, Arc<MemorySigningKeys>) {
    let mut h = Harness::new().await;
    let signing = Arc::new(MemorySigningKeys::default());
    *signing.keys.lock().unwrap() = SigningKeys::new(secret.to_vec(), None);
    h.app.signing = signing.clone();
    (h, signing)
}

impl Harness {
    async fn sign(&self, asset_key: &str, api_key: Option<&str>, body: &str) -> Response<Body> {
        let mut builder = lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri(format!("{API}/{asset_key}/url"))
            .header(header::HOST, "api.example.com")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(api_key) = api_key {
            builder = builder.header("x-api-key", api_key);
        }
        let request: Request = builder
            .body(Body::Text(body.to_owned()))
            .unwrap()
            .with_path_parameters(HashMap::from([(
                "assetKey".to_string(),
                asset_key.to_string(),
            )]));
        sign_asset_url(&self.app, request).await
    }

    /// acme mints a URL; answers it.
    async fn signed_url(&self, asset_key: &str, body: &str) -> String {
        let response = self.sign(asset_key, Some(&self.acme_key), body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            body_text(&response)
        );
        json(&response)["url"].as_str().unwrap().to_owned()
    }

    /// A GET of `url` (a signed URL of this API) as a browser's `<img>` sends it: no header, plus
    /// `extra` query parameters and `headers`.
    async fn get_url(
        &self,
        method: Method,
        url: &str,
        api_key: Option<&str>,
        extra: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response<Body> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let key = path.rsplit('/').next().unwrap().to_owned();
        let mut pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.read(method, &key, api_key, &pairs, headers).await
    }

    async fn set_asset(&self, key: &str, change: impl FnOnce(&mut Asset)) {
        let key = AssetKey::parse(key).unwrap();
        let mut asset = self.assets.find(&key).await.unwrap().unwrap();
        let version = asset.version;
        change(&mut asset);
        asset.version += 1;
        self.assets.replace(&asset, version).await.unwrap();
    }
}

/// `url` with query parameter `name` set to `value` (added when absent).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let mut found = false;
    let mut pairs: Vec<String> = query
        .split('&')
        .map(|p| {
            if p.split_once('=').unwrap().0 == name {
                found = true;
                format!("{name}={value}")
            } else {
                p.to_owned()
            }
        })
        .collect();
    if !found {
        pairs.push(format!("{name}={value}"));
    }
    format!("{path}?{}", pairs.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{url} has no {name}"))
}

fn max_age(response: &Response<Body>) -> u64 {
    let cache_control = header_of(response, "cache-control");
    assert!(
        cache_control.starts_with("private, max-age=") && !cache_control.contains("immutable"),
        "{cache_control}"
    );
    cache_control
        .trim_start_matches("private, max-age=")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_minted_url_reads_a_private_rendition_and_the_original_without_headers() {
    let (h, _) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();

    let minted = h
        .sign(
            key,
            Some(&h.acme_key),
            r#"{"size": "THUMB", "expiresIn": 120}"#,
        )
        .await;
    assert_eq!(minted.status(), StatusCode::CREATED);
    assert_eq!(header_of(&minted, "cache-control"), "no-store");
    let minted = json(&minted);
    assert_eq!(minted["size"], "thumb");
    let url = minted["url"].as_str().unwrap();
    let expires = param(url, "expires").parse::<i64>().unwrap();
    assert_eq!(minted["expiresAt"], expires * 1000);
    assert!(expires > now_ms() / 1000 && expires <= now_ms() / 1000 + 120);
    assert_eq!(
        url,
        format!(
            "{API}/{key}?size=thumb&expires={expires}&signature={}",
            param(url, "signature")
        )
    );
    assert_eq!(param(url, "signature").len(), 43);

    let thumb = h.get_url(Method::GET, url, None, &[], &[]).await;
    assert_eq!(thumb.status(), StatusCode::OK, "{}", body_text(&thumb));
    let (stored, _) = h
        .blobs
        .object(&format!("companies/acme/assets/{key}/thumb"))
        .unwrap();
    assert_eq!(thumb.body().as_ref(), &stored[..]);
    let age = max_age(&thumb);
    assert!(age > 0 && age <= 120, "max-age {age} outlives the URL");
    // HEAD and a revalidation answer the same headers; the 304 keeps the URL's lifetime too.
    let head = h.get_url(Method::HEAD, url, None, &[], &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(max_age(&head) <= 120);
    let etag = header_of(&thumb, "etag").to_owned();
    let revalidated = h
        .get_url(Method::GET, url, None, &[], &[("if-none-match", &etag)])
        .await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(max_age(&revalidated) <= 120);

    // The original: no size in the URL; the default lifetime (an hour).
    let minted = h.sign(key, Some(&h.acme_key), "").await;
    let minted = json(&minted);
    assert_eq!(minted["size"], Value::Null);
    let url = minted["url"].as_str().unwrap();
    assert!(!url.contains("size="));
    let original = h.get_url(Method::GET, url, None, &[], &[]).await;
    assert_eq!(original.status(), StatusCode::OK);
    assert_eq!(original.body().as_ref(), PNG);
    let age = max_age(&original);
    assert!(age > 3500 && age <= 3600, "{age}");
}

#[tokio::test]
async fn changed_expired_and_foreign_signatures_are_the_404_of_an_unknown_asset() {
    let (h, signing) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Private, JPEG, "Photo").await;
    let key = asset["key"].as_str().unwrap();
    let url = h.signed_url(key, r#"{"size": "thumb"}"#).await;
    assert_eq!(
        h.get_url(Method::GET, &url, None, &[], &[]).await.status(),
        StatusCode::OK
    );

    let signature = param(&url, "signature");
    let flipped = format!(
        "{}{}",
        if signature.starts_with('A') { "B" } else { "A" },
        &signature[1..]
    );
    let expires = param(&url, "expires").parse::<i64>().unwrap();
    // A URL of another secret (another deployment), for this very asset and size.
    let foreign = SignedUrlGrant {
        key: AssetKey::parse(key).unwrap(),
        size: Some(RenditionSize::Thumb),
        expires_s: expires,
    }
    .sign(&SigningKeys::new(b"someone else's secret".to_vec(), None));
    // A genuine signature that has expired (signed here with the service's own secret).
    let expired_at = now_ms() / 1000 - 5;
    let expired = SignedUrlGrant {
        key: AssetKey::parse(key).unwrap(),
        size: Some(RenditionSize::Thumb),
        expires_s: expired_at,
    }
    .sign(&signing.keys.lock().unwrap());
    let other = h.upload_ok(Visibility::Private, PNG, "Other").await;
    let other_key = other["key"].as_str().unwrap();
    let changed = [
        with_param(&url, "signature", &flipped),
        with_param(&url, "signature", &signature[..42]),
        with_param(&url, "signature", ""),
        with_param(&url, "signature", &foreign),
        with_param(&url, "size", "medium"),
        url.replace("size=thumb&", ""),
        with_param(&url, "expires", &(expires + 1).to_string()),
        with_param(&url, "expires", &format!("+{expires}")),
        with_param(&url, "expires", "x"),
        url.replace(&format!("&signature={signature}"), ""),
        url.replace(&format!("expires={expires}&"), ""),
        url.replace(key, other_key),
        with_param(
            &with_param(&url, "expires", &expired_at.to_string()),
            "signature",
            &expired,
        ),
    ];
    let unknown = h
        .get("AAAAAAAAAAAAAAAAAAAAAAAA", None, &[("size", "thumb")], &[])
        .await;
    let unknown_placeholder = h
        .get(
            "AAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            &[("size", "thumb"), ("handleError", "true")],
            &[],
        )
        .await;
    for changed in &changed {
        let response = h.get_url(Method::GET, changed, None, &[], &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{changed}");
        assert_eq!(error_code(&response), "not_found");
        assert_eq!(response.body().as_ref(), unknown.body().as_ref());
        assert_eq!(header_of(&response, "cache-control"), "no-store");
        // Under handleError=true an <img> gets the placeholder picture, still a 404.
        let placeholder = h
            .get_url(Method::GET, changed, None, &[("handleError", "true")], &[])
            .await;
        assert_eq!(placeholder.status(), StatusCode::NOT_FOUND, "{changed}");
        assert_eq!(header_of(&placeholder, "content-type"), "image/png");
        assert_eq!(
            placeholder.body().as_ref(),
            unknown_placeholder.body().as_ref()
        );
    }
    // The size check is case-blind on the value, like ?size= itself: `THUMB` reads the thumb,
    // but only under a signature of exactly that size.
    assert_eq!(
        h.get_url(
            Method::GET,
            &url.replace("size=thumb", "size=Thumb"),
            None,
            &[],
            &[]
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_api_key_decides_over_signature_parameters() {
    let (h, _) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();
    let url = h.signed_url(key, r#"{"expiresIn": 60}"#).await;
    let broken = with_param(&url, "signature", "broken");

    // The owner's key reads it with a broken signature, cached as any keyed read.
    let own = h
        .get_url(Method::GET, &broken, Some(&h.acme_key), &[], &[])
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(header_of(&own, "cache-control"), "private, max-age=2592000");
    // Signature parameters the key makes irrelevant are not even parsed.
    let half = url
        .split("&signature=")
        .next()
        .unwrap()
        .replace("expires=", "expires=x");
    let own = h
        .get_url(Method::GET, &half, Some(&h.acme_key), &[], &[])
        .await;
    assert_eq!(own.status(), StatusCode::OK, "{half}");
    // Another company's key cannot borrow a valid signature; an invalid key is a 401.
    let foreign = h
        .get_url(Method::GET, &url, Some(&h.globex_key), &[], &[])
        .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let invalid = h
        .get_url(Method::GET, &url, Some("ak_not-a-key"), &[], &[])
        .await;
    assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_public_asset_read_through_a_signed_url_is_cached_privately() {
    let (h, _) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Public, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();
    let url = h
        .signed_url(key, r#"{"size": "medium", "expiresIn": 30}"#)
        .await;
    let response = h.get_url(Method::GET, &url, None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(max_age(&response) <= 30);
    // Its plain URL stays public and immutable.
    let plain = h.get(key, None, &[("size", "medium")], &[]).await;
    assert_eq!(
        header_of(&plain, "cache-control"),
        "public, max-age=2592000, immutable"
    );
}

#[tokio::test]
async fn a_redirect_and_its_presigned_url_never_outlive_the_signed_url() {
    let (mut h, _) = signing_harness(b"secret one").await;
    h.app.config.inline_max_bytes = 10;
    h.app.config.presign_ttl = std::time::Duration::from_secs(300);
    let asset = h.upload_ok(Visibility::Private, PDF, "Report").await;
    let key = asset["key"].as_str().unwrap();

    let short = h.signed_url(key, r#"{"expiresIn": 40}"#).await;
    let response = h.get_url(Method::GET, &short, None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = header_of(&response, "location");
    let presigned_s: u64 = location
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(presigned_s > 0 && presigned_s <= 40, "{presigned_s}");
    assert!(max_age(&response) < presigned_s);

    // A URL that outlives PRESIGN_TTL_SECONDS: the presigned download keeps its own TTL.
    let long = h.signed_url(key, r#"{"expiresIn": 86400}"#).await;
    let response = h.get_url(Method::GET, &long, None, &[], &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(header_of(&response, "location").contains("expires=300&"));
    assert_eq!(max_age(&response), 240);
}

#[tokio::test]
async fn urls_minted_before_a_rotation_verify_until_the_next_one() {
    let (h, signing) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();
    let before = h.signed_url(key, r#"{"size": "thumb"}"#).await;

    *signing.keys.lock().unwrap() =
        SigningKeys::new(b"secret two".to_vec(), Some(b"secret one".to_vec()));
    let hr = &h;
    let status =
        |url: String| async move { hr.get_url(Method::GET, &url, None, &[], &[]).await.status() };
    assert_eq!(
        status(before.clone()).await,
        StatusCode::OK,
        "previous secret"
    );
    let after_first = h.signed_url(key, r#"{"size": "thumb"}"#).await;
    assert_ne!(
        param(&after_first, "signature"),
        param(&before, "signature"),
        "new URLs are signed with the new secret"
    );
    assert_eq!(status(after_first.clone()).await, StatusCode::OK);

    *signing.keys.lock().unwrap() =
        SigningKeys::new(b"secret three".to_vec(), Some(b"secret two".to_vec()));
    assert_eq!(
        status(before).await,
        StatusCode::NOT_FOUND,
        "two rotations later"
    );
    assert_eq!(status(after_first).await, StatusCode::OK);
}

#[tokio::test]
async fn the_secret_unavailable_is_a_503_for_signed_reads_only() {
    let (h, signing) = signing_harness(b"secret one").await;
    let private = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = private["key"].as_str().unwrap();
    let url = h.signed_url(key, "").await;
    signing.fail.store(true, Ordering::SeqCst);

    let minted = h.sign(key, Some(&h.acme_key), "").await;
    assert_eq!(minted.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&minted), "storage_unavailable");
    let read = h.get_url(Method::GET, &url, None, &[], &[]).await;
    assert_eq!(read.status(), StatusCode::SERVICE_UNAVAILABLE);
    let placeholder = h
        .get_url(Method::GET, &url, None, &[("handleError", "true")], &[])
        .await;
    assert_eq!(placeholder.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_of(&placeholder, "content-type"), "image/png");
    // Reads without signature parameters never touch the secret.
    let keyed = h.get(key, Some(&h.acme_key), &[], &[]).await;
    assert_eq!(keyed.status(), StatusCode::OK);

    // No secret configured at all (SIGNING_SECRET_ID unset): the same 503.
    let unconfigured = Harness::new().await;
    let asset = unconfigured
        .upload_ok(Visibility::Private, PNG, "Logo")
        .await;
    let key = asset["key"].as_str().unwrap();
    let minted = unconfigured
        .sign(key, Some(&unconfigured.acme_key), "")
        .await;
    assert_eq!(minted.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn only_the_owner_mints_and_only_for_what_exists() {
    let (h, _) = signing_harness(b"secret one").await;
    let private = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let public = h.upload_ok(Visibility::Public, PNG, "Shared").await;
    let key = private["key"].as_str().unwrap();
    let public_key = public["key"].as_str().unwrap();
    let missing = "AAAAAAAAAAAAAAAAAAAAAAAA";

    for api_key in [None, Some("ak_not-a-key"), Some("")] {
        let response = h.sign(key, api_key, "").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{api_key:?}");
    }
    // Another company: the 404 of an unknown asset, for its private and its public assets alike,
    // byte for byte get-asset's.
    let unknown = h.sign(missing, Some(&h.globex_key), "").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let get_404 = h.get(missing, None, &[], &[]).await;
    assert_eq!(unknown.body().as_ref(), get_404.body().as_ref());
    for (asset_key, body) in [
        (key, ""),
        (public_key, ""),
        (key, r#"{"size": "thumb"}"#),
        (key, r#"{"size": "thumb", "expiresIn": 60}"#),
    ] {
        let foreign = h.sign(asset_key, Some(&h.globex_key), body).await;
        assert_eq!(foreign.status(), StatusCode::NOT_FOUND, "{body}");
        assert_eq!(foreign.body().as_ref(), unknown.body().as_ref());
        assert_eq!(
            foreign.headers(),
            h.sign(missing, Some(&h.globex_key), body).await.headers()
        );
    }
    for malformed in ["not-a-key", "AAAA"] {
        assert_eq!(
            h.sign(malformed, Some(&h.acme_key), "").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    // Deleted: 404, and URLs minted before stop working.
    let url = h.signed_url(key, "").await;
    h.set_asset(key, |a| a.deleted = true).await;
    assert_eq!(
        h.sign(key, Some(&h.acme_key), "").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get_url(Method::GET, &url, None, &[], &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn inactive_assets_get_no_url_and_their_urls_pause() {
    let (h, _) = signing_harness(b"secret one").await;
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();
    let url = h.signed_url(key, r#"{"size": "large"}"#).await;

    h.set_asset(key, |a| a.active = false).await;
    let refused = h.sign(key, Some(&h.acme_key), "").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(&refused), "asset_inactive");
    // Another company still learns nothing: 404.
    assert_eq!(
        h.sign(key, Some(&h.globex_key), "").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get_url(Method::GET, &url, None, &[], &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    // The owner's key still reads it.
    assert_eq!(
        h.get(key, Some(&h.acme_key), &[], &[]).await.status(),
        StatusCode::OK
    );
    // Active again: the unexpired URL works again.
    h.set_asset(key, |a| a.active = true).await;
    assert_eq!(
        h.get_url(Method::GET, &url, None, &[], &[]).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bodies_sizes_and_lifetimes_outside_the_contract_are_400s() {
    let (h, _) = signing_harness(b"secret one").await;
    let image = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let document = h.upload_ok(Visibility::Private, PDF, "Report").await;
    let key = image["key"].as_str().unwrap();
    let max = MAX_SIGNED_URL_LIFETIME.as_secs();
    for (body, code) in [
        ("{", "invalid_body"),
        ("[]", "invalid_body"),
        ("\"thumb\"", "invalid_body"),
        (r#"{"expires_in": 60}"#, "invalid_body"),
        (r#"{"expiresIn": "60"}"#, "invalid_body"),
        (r#"{"expiresIn": -1}"#, "invalid_body"),
        (r#"{"expiresIn": 1.5}"#, "invalid_body"),
        (r#"{"size": 1}"#, "invalid_body"),
        (r#"{"expiresIn": 0}"#, "invalid_field"),
        (&format!(r#"{{"expiresIn": {}}}"#, max + 1), "invalid_field"),
        (r#"{"size": "huge"}"#, "invalid_field"),
        (r#"{"size": ""}"#, "invalid_field"),
    ] {
        let response = h.sign(key, Some(&h.acme_key), body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(&response), code, "{body}");
    }
    for body in [
        "{}".to_owned(),
        " \n".to_owned(),
        r#"{"size": null, "expiresIn": null}"#.to_owned(),
        format!(r#"{{"size": "largeX2", "expiresIn": {max}}}"#),
        r#"{"expiresIn": 1}"#.to_owned(),
    ] {
        let response = h.sign(key, Some(&h.acme_key), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    }
    // A document has no renditions to sign.
    let response = h
        .sign(
            document["key"].as_str().unwrap(),
            Some(&h.acme_key),
            r#"{"size": "thumb"}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&response), "invalid_field");
    assert!(body_text(&response).contains("no thumb rendition"));
}

#[tokio::test]
async fn urls_are_absolute_on_the_configured_base() {
    let h = Harness::with(|c| c.public_base_url = Some("https://cdn.example.com/v".into())).await;
    let mut h = h;
    h.app.signing = Arc::new(MemorySigningKeys::default());
    let asset = h.upload_ok(Visibility::Private, PNG, "Logo").await;
    let key = asset["key"].as_str().unwrap();
    let url = h.signed_url(key, r#"{"size": "medium"}"#).await;
    assert!(
        url.starts_with(&format!(
            "https://cdn.example.com/v/api/v1/partner/asset/{key}?size=medium&expires="
        )),
        "{url}"
    );
}
