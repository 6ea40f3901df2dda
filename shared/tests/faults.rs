//! Failing dependencies, through the real SDK clients: a small fault-injecting TCP proxy sits between
//! the service and the local AWS stand-in, one per service (S3, DynamoDB assets), and refuses,
//! hangs or answers 503. Every upload must answer 503 with a JSON error, promptly (the configured SDK
//! timeouts, not a Lambda timeout), and leave storage consistent: no metadata without its object,
//! no object without its metadata. GETs must answer 503 or the placeholder, never hang.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::CompanyId;
use asset_service::{App, Visibility, get_asset, upload};
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A hang detector, not a performance assertion: far above the SDK budget configured below
/// (2 attempts x 1 s, 3 s per operation), far below anything a caller would wait for.
const HANG_GUARD: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Forward,
    /// Accept, then close at once: the request is never processed.
    Refuse,
    /// Accept and read, never answer.
    Hang,
    /// Answer every request `503 Service Unavailable`.
    Unavailable,
}

/// Starts a proxy to `upstream` on a free loopback port applying `fault` to every connection.
async fn proxy(upstream: SocketAddr, fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                match fault {
                    Fault::Forward => {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    }
                    Fault::Refuse => drop(inbound),
                    Fault::Hang => {
                        let mut buf = vec![0u8; 64 * 1024];
                        while matches!(inbound.read(&mut buf).await, Ok(n) if n > 0) {}
                    }
                    Fault::Unavailable => {
                        let mut buf = vec![0u8; 64 * 1024];
                        let _ = inbound.read(&mut buf).await;
                        let _ = inbound
                            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    addr
}

struct Scenario {
    app: App,
    direct: AwsStorage,
    config: Config,
    key: String,
}

/// Storage provisioned directly on the stand-in; the app reaches S3 and the asset table through
/// proxies with the given faults (API keys are always read directly, so authentication works).
async fn scenario(name: &str, s3_fault: Fault, assets_fault: Fault) -> Option<Scenario> {
    let mut config = support::local_config(name)?;
    config.aws.connect_timeout = Duration::from_millis(500);
    config.aws.attempt_timeout = Duration::from_secs(1);
    config.aws.operation_timeout = Duration::from_secs(3);
    config.aws.max_attempts = 2;
    config.inline_max_bytes = 1024 * 1024;
    let direct = AwsStorage::connect(&config).await;
    direct
        .blobs
        .ensure_bucket(direct.region.as_deref())
        .await
        .unwrap();
    direct.table.ensure_table().await.unwrap();
    let (secret, _) = issue_key(direct.table.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();

    let upstream: SocketAddr = config
        .aws_endpoint_url
        .as_deref()
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let via = |addr: SocketAddr| {
        let mut c = config.clone();
        c.aws_endpoint_url = Some(format!("http://{addr}"));
        c
    };
    let s3 = AwsStorage::connect(&via(proxy(upstream, s3_fault).await)).await;
    let assets = AwsStorage::connect(&via(proxy(upstream, assets_fault).await)).await;
    let app = App::new(
        config.clone(),
        s3.blobs.clone(),
        assets.table.clone(),
        direct.table.clone(),
        s3.blobs.clone(),
        direct.table.clone(),
    );
    Some(Scenario {
        app,
        direct,
        config,
        key: secret.expose().to_owned(),
    })
}

async fn guarded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung for {HANG_GUARD:?}"))
}

/// Objects and asset items as the stand-in holds them, read directly (not through the proxies).
async fn stored(s: &Scenario) -> (BTreeSet<String>, BTreeSet<String>) {
    let listed = s
        .direct
        .s3
        .list_objects_v2()
        .bucket(&s.config.bucket_name)
        .send()
        .await
        .unwrap();
    let objects = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    let scan = s
        .direct
        .dynamo
        .scan()
        .table_name(&s.config.table_name)
        .send()
        .await
        .unwrap();
    let items = scan
        .items()
        .iter()
        .filter(|item| matches!(item.get("kind"), Some(AttributeValue::S(k)) if k == "asset"))
        .flat_map(|item| {
            // The original and every rendition the item lists, each next to the original.
            let Some(AttributeValue::S(original)) = item.get("objectKey") else {
                return Vec::new();
            };
            let prefix = original.trim_end_matches("original");
            let renditions = match item.get("renditions") {
                Some(AttributeValue::L(list)) => list.as_slice(),
                _ => &[],
            };
            std::iter::once(original.clone())
                .chain(renditions.iter().filter_map(|r| {
                    let size = r.as_m().ok()?.get("size")?.as_s().ok()?;
                    Some(format!("{prefix}{size}"))
                }))
                .collect()
        })
        .collect();
    (objects, items)
}

async fn assert_consistent(s: &Scenario, what: &str) -> usize {
    let (objects, items) = stored(s).await;
    assert_eq!(
        objects, items,
        "{what}: objects and metadata must match one to one"
    );
    // The number of assets: each has one original (and, for images, four renditions).
    objects
        .iter()
        .filter(|key| key.ends_with("/original"))
        .count()
}

#[tokio::test]
async fn failing_storage_during_upload_is_a_prompt_503_and_leaves_nothing_half_written() {
    let cases = [
        ("s3-refuse", Fault::Refuse, Fault::Forward),
        ("s3-hang", Fault::Hang, Fault::Forward),
        ("s3-503", Fault::Unavailable, Fault::Forward),
        ("ddb-refuse", Fault::Forward, Fault::Refuse),
        ("ddb-hang", Fault::Forward, Fault::Hang),
        ("ddb-503", Fault::Forward, Fault::Unavailable),
    ];
    for (name, s3_fault, assets_fault) in cases {
        let Some(s) = scenario(name, s3_fault, assets_fault).await else {
            return;
        };
        let started = std::time::Instant::now();
        let response = guarded(
            name,
            upload(
                &s.app,
                Visibility::Private,
                support::upload_request(&s.key, "logo", "logo.png", support::PNG),
            ),
        )
        .await;
        eprintln!("{name}: {} in {:?}", response.status(), started.elapsed());
        assert_eq!(response.status(), 503, "{name}");
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "storage_unavailable", "{name}");
        assert_eq!(
            assert_consistent(&s, name).await,
            0,
            "{name}: nothing stored"
        );
    }
}

#[tokio::test]
async fn failing_storage_during_get_is_503_or_the_placeholder() {
    for (name, s3_fault, assets_fault) in [
        ("get-s3-hang", Fault::Hang, Fault::Forward),
        ("get-s3-503", Fault::Unavailable, Fault::Forward),
        ("get-ddb-refuse", Fault::Forward, Fault::Refuse),
        ("get-ddb-hang", Fault::Forward, Fault::Hang),
    ] {
        let Some(s) = scenario(name, s3_fault, assets_fault).await else {
            return;
        };
        // Store an asset with healthy storage, then read it through the faulty path.
        let healthy = App::new(
            s.config.clone(),
            s.direct.blobs.clone(),
            s.direct.table.clone(),
            s.direct.table.clone(),
            s.direct.blobs.clone(),
            s.direct.table.clone(),
        );
        let response = upload(
            &healthy,
            Visibility::Public,
            support::upload_request(&s.key, "logo", "logo.png", support::PNG),
        )
        .await;
        assert_eq!(response.status(), 200);
        let asset: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let asset_key = asset["key"].as_str().unwrap();

        let plain = guarded(
            name,
            get_asset(&s.app, support::get_request(asset_key, None, &[])),
        )
        .await;
        assert_eq!(plain.status(), 503, "{name}");
        assert_eq!(plain.headers()["content-type"], "application/json");
        let placeholder = guarded(
            name,
            get_asset(
                &s.app,
                support::get_request(asset_key, None, &[("handleError", "true")]),
            ),
        )
        .await;
        assert_eq!(placeholder.status(), 503, "{name}");
        assert_eq!(placeholder.headers()["content-type"], "image/png");
        assert_eq!(assert_consistent(&s, name).await, 1);
    }
}

#[tokio::test]
async fn a_retried_upload_makes_two_intact_assets() {
    let Some(s) = scenario("retry", Fault::Forward, Fault::Forward).await else {
        return;
    };
    let first = upload(
        &s.app,
        Visibility::Private,
        support::upload_request(&s.key, "logo", "logo.png", support::PNG),
    )
    .await;
    let second = upload(
        &s.app,
        Visibility::Private,
        support::upload_request(&s.key, "logo", "logo.png", support::PNG),
    )
    .await;
    let first: serde_json::Value = serde_json::from_slice(first.body().as_ref()).unwrap();
    let second: serde_json::Value = serde_json::from_slice(second.body().as_ref()).unwrap();
    assert_ne!(first["key"], second["key"]);
    assert_ne!(first["id"], second["id"]);
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(assert_consistent(&s, "retry").await, 2);
    for asset in [&first, &second] {
        let key = asset["key"].as_str().unwrap();
        let response = get_asset(&s.app, support::get_request(key, Some(&s.key), &[])).await;
        assert_eq!(response.body().as_ref(), support::PNG);
    }
}

#[tokio::test]
async fn the_stand_in_itself_stopped() {
    let Some(mut config) = support::local_config("stopped") else {
        return;
    };
    // Bind and drop a listener: a port that was just free and now refuses.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.aws_endpoint_url = Some(format!("http://{closed}"));
    config.aws.max_attempts = 2;
    let storage = AwsStorage::connect(&config).await;
    let app = App::new(
        config,
        storage.blobs.clone(),
        storage.table.clone(),
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );
    let response = guarded(
        "upload",
        upload(
            &app,
            Visibility::Private,
            support::upload_request("ak_x", "logo", "logo.png", support::PNG),
        ),
    )
    .await;
    assert_eq!(response.status(), 503);
    let placeholder = guarded(
        "get",
        get_asset(
            &app,
            support::get_request("AAAAAAAAAAAAAAAAAAAAAAAA", None, &[("handleError", "true")]),
        ),
    )
    .await;
    assert_eq!(placeholder.status(), 503);
    assert_eq!(placeholder.headers()["content-type"], "image/png");
    let json = guarded(
        "get",
        get_asset(
            &app,
            support::get_request("AAAAAAAAAAAAAAAAAAAAAAAA", None, &[]),
        ),
    )
    .await;
    assert_eq!(json.status(), 503);
    assert_eq!(json.headers()["content-type"], "application/json");
}
