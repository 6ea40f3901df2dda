//! The headers that decide what a shared cache (the CDN in front of the API, README "CDN", or any
//! proxy) may keep and hand to another viewer: only a public, active asset's bytes and their
//! validations are `public`; anything read with the owner's rights is `private`; every error,
//! JSON or placeholder image, is `no-store`. CloudFront stores neither `private` nor `no-store`
//! answers with the template's MinTTL of 0 (CloudFront Developer Guide, "Manage how long content
//! stays in the cache"), and honours `no-store` on a 404 (for other errors the template sets the
//! error-caching TTL to 0).

use std::sync::atomic::Ordering;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

use super::{Harness, JPEG, PNG, header_of};
use crate::domain::{AssetKey, Visibility};

const PUBLIC: &str = "public, max-age=2592000, immutable";

fn cache_control(response: &Response<Body>) -> &str {
    header_of(response, "cache-control")
}

/// Could a shared cache keep this answer for another viewer? (RFC 9111 §3: not with `no-store`
/// or `private`; this service never relies on heuristics, so anything else says `public`.)
fn shareable(response: &Response<Body>) -> bool {
    let value = cache_control(response);
    let directives: Vec<&str> = value.split(',').map(str::trim).collect();
    assert!(
        directives.contains(&"public")
            || directives.contains(&"no-store")
            || directives.iter().any(|d| d.starts_with("private")),
        "every answer says outright whether it may be shared: {value}"
    );
    !directives.contains(&"no-store") && !directives.iter().any(|d| d.starts_with("private"))
}

#[tokio::test]
async fn a_public_asset_its_renditions_and_their_validations_are_shareable_and_immutable() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, JPEG, "photo").await;
    let key = asset["key"].as_str().unwrap();
    let thumb_etag =
        header_of(&h.get(key, None, &[("size", "thumb")], &[]).await, "etag").to_owned();
    let answers = [
        h.get(key, None, &[], &[]).await,
        h.head(key, None, &[], &[]).await,
        h.get(key, None, &[("size", "thumb")], &[]).await,
        h.get(key, None, &[("size", "large")], &[("range", "bytes=0-99")])
            .await,
        h.get(
            key,
            None,
            &[("size", "thumb")],
            &[("if-none-match", &thumb_etag)],
        )
        .await,
        // The owner's key changes nothing about a public asset: the bytes are everyone's.
        h.get(key, Some(&h.acme_key), &[], &[]).await,
        // Another company's key too.
        h.get(key, Some(&h.globex_key), &[("size", "medium")], &[])
            .await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 206, 304, 200, 200]);
    for response in &answers {
        assert_eq!(cache_control(response), PUBLIC);
        assert!(shareable(response));
    }
}

#[tokio::test]
async fn a_private_asset_is_never_shareable_in_any_answer() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Private, JPEG, "photo").await;
    let key = asset["key"].as_str().unwrap();
    let owner = Some(h.acme_key.as_str());
    let etag = header_of(&h.get(key, owner, &[], &[]).await, "etag").to_owned();
    let answers = [
        h.get(key, owner, &[], &[]).await,
        h.head(key, owner, &[], &[]).await,
        h.get(key, owner, &[("size", "thumb")], &[]).await,
        h.get(key, owner, &[], &[("range", "bytes=0-99")]).await,
        h.get(key, owner, &[], &[("if-none-match", &etag)]).await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 206, 304]);
    for response in &answers {
        assert_eq!(cache_control(response), "private, max-age=2592000");
        assert!(!shareable(response));
    }

    // Too large to answer inline: the redirect to S3 is the owner's too, and short-lived.
    let h = Harness::with(|c| c.inline_max_bytes = 10).await;
    for visibility in [Visibility::Private, Visibility::Public] {
        let asset = h.upload_ok(visibility, PNG, "logo").await;
        let key = asset["key"].as_str().unwrap();
        let redirect = h.get(key, Some(&h.acme_key), &[], &[]).await;
        assert_eq!(redirect.status(), StatusCode::FOUND);
        assert!(!shareable(&redirect), "{}", cache_control(&redirect));
    }
}

/// An inactive asset (`active: false`) is its owner's alone, whatever its visibility: the
/// owner's copy of a public one must not say `public`, or the CDN would keep it and hand it to
/// anyone who asks for the same path.
#[tokio::test]
async fn an_inactive_public_asset_is_private_to_its_owner() {
    let h = Harness::new().await;
    let asset = h.upload_ok(Visibility::Public, JPEG, "photo").await;
    let key = AssetKey::parse(asset["key"].as_str().unwrap()).unwrap();
    h.assets.update(&key, |a| a.active = false);

    let owner = Some(h.acme_key.as_str());
    for response in [
        h.get(key.as_str(), owner, &[], &[]).await,
        h.head(key.as_str(), owner, &[], &[]).await,
        h.get(key.as_str(), owner, &[("size", "thumb")], &[]).await,
    ] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(cache_control(&response), "private, max-age=2592000");
    }
    let anonymous = h.get(key.as_str(), None, &[], &[]).await;
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
    assert!(!shareable(&anonymous));

    // Active again: public again.
    h.assets.update(&key, |a| a.active = true);
    assert_eq!(
        cache_control(&h.get(key.as_str(), None, &[], &[]).await),
        PUBLIC
    );
}

/// Every error says `no-store`, as JSON and as the `handleError=true` placeholder: the asset may
/// appear, become readable or come back, and one viewer's 401 or 404 is not another's.
#[tokio::test]
async fn every_error_and_every_placeholder_is_no_store() {
    let h = Harness::new().await;
    let private = h.upload_ok(Visibility::Private, PNG, "logo").await;
    let private = private["key"].as_str().unwrap().to_owned();
    let public = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let public = public["key"].as_str().unwrap().to_owned();
    let deleted = h.upload_ok(Visibility::Public, PNG, "logo").await;
    let deleted = AssetKey::parse(deleted["key"].as_str().unwrap()).unwrap();
    h.assets.update(&deleted, |a| a.deleted = true);
    let unknown = AssetKey::generate().to_string();

    for placeholder in [false, true] {
        let flag: &[(&str, &str)] = if placeholder {
            &[("handleError", "true")]
        } else {
            &[]
        };
        let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
            flag.iter().chain(extra).copied().collect()
        };
        let cases = [
            // 404: unknown, deleted, another's private asset, a private one without a key.
            (404, h.get(&unknown, None, &with(&[]), &[]).await),
            (
                404,
                h.get(deleted.as_str(), Some(&h.acme_key), &with(&[]), &[])
                    .await,
            ),
            (
                404,
                h.get(&private, Some(&h.globex_key), &with(&[]), &[]).await,
            ),
            (404, h.get(&private, None, &with(&[]), &[]).await),
            (404, h.head(&private, None, &with(&[]), &[]).await),
            // 401: a key that is not one.
            (401, h.get(&public, Some("ak_wrong"), &with(&[]), &[]).await),
            // 400: a rendition size that does not exist.
            (
                400,
                h.get(&public, None, &with(&[("size", "huge")]), &[]).await,
            ),
            // 416: always JSON with Content-Range, placeholder or not.
            (
                416,
                h.get(&public, None, &with(&[]), &[("range", "bytes=999999-")])
                    .await,
            ),
        ];
        for (status, response) in &cases {
            assert_eq!(response.status().as_u16(), *status, "{placeholder}");
            assert_eq!(
                cache_control(response),
                "no-store",
                "{status} {placeholder}"
            );
            assert!(!shareable(response));
            let image = header_of(response, "content-type") == "image/png";
            assert_eq!(
                image,
                placeholder && *status != 416,
                "{status} {placeholder}"
            );
        }
        // A 404 for a private asset is byte for byte the unknown key's: nothing to tell apart.
        assert_eq!(cases[0].1.body().as_ref(), cases[2].1.body().as_ref());
        assert_eq!(cases[0].1.body().as_ref(), cases[3].1.body().as_ref());
    }
    // A bad handleError value is a JSON 400 (the flag itself cannot be trusted).
    let bad_flag = h.get(&public, None, &[("handleError", "maybe")], &[]).await;
    assert_eq!(bad_flag.status(), StatusCode::BAD_REQUEST);
    assert_eq!(cache_control(&bad_flag), "no-store");

    // 503: storage down.
    h.assets.fail.store(true, Ordering::SeqCst);
    for flag in [&[][..], &[("handleError", "true")][..]] {
        let down = h.get(&public, None, flag, &[]).await;
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(cache_control(&down), "no-store");
    }
}
