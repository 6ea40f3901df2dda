//! The S3 and DynamoDB adapters and the handlers on top of them, through the real AWS SDK clients
//! over HTTP against the local stand-in (moto by default; any endpoint in `AWS_ENDPOINT_URL`).

mod support;

use std::sync::Arc;
use std::time::Duration;

use asset_service::app::App;
use asset_service::auth::issue_key;
use asset_service::domain::{
    ApiKeySecret, Asset, AssetKey, CompanyId, NewAsset, Visibility, detect_content, sha256_hex,
};
use asset_service::storage::dynamo::DynamoTable;
use asset_service::storage::{
    ApiKeyRepo, AssetRepo, BlobStore, CdnInvalidator, PresignedGet, StorageError,
};
use asset_service::{get_asset, upload};
use bytes::Bytes;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

fn sample_asset(bytes: &[u8], visibility: Visibility) -> Asset {
    let content = detect_content(bytes, None).unwrap();
    Asset::create(NewAsset {
        key: AssetKey::generate(),
        company_id: CompanyId::parse("acme").unwrap(),
        name: "sample".into(),
        visibility,
        content: &content,
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        dimensions: None,
        renditions: Vec::new(),
        now_ms: 1_700_000_000_000,
    })
}

#[tokio::test]
async fn s3_blob_store_round_trip_and_presign() {
    let Some((config, storage)) = support::provisioned("blobs").await else {
        return;
    };
    let blobs = storage.blobs.as_ref();
    let key = "companies/acme/assets/k/original";
    blobs
        .put(key, Bytes::from_static(support::JPEG), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(
        blobs.get(key).await.unwrap().as_deref(),
        Some(support::JPEG)
    );
    let head = storage
        .s3
        .head_object()
        .bucket(&config.bucket_name)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(
        blobs.location(key),
        format!("s3://{}/{key}", config.bucket_name)
    );

    let url = blobs
        .presign_get(
            key,
            &PresignedGet {
                expires_in: Duration::from_secs(120),
                content_type: "image/jpeg".into(),
                content_disposition: "inline; filename=\"a.jpg\"".into(),
                cache_control: "private, max-age=96".into(),
            },
        )
        .await
        .unwrap();
    // moto does not check signatures or expiry, so check what the URL asks for...
    assert!(url.contains("X-Amz-Expires=120"), "{url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("response-content-type=image%2Fjpeg"), "{url}");
    assert!(url.contains("response-content-disposition=inline"), "{url}");
    assert!(url.contains("response-cache-control=private"), "{url}");
    assert!(
        url.contains(&format!("/{}/companies/acme/", config.bucket_name)),
        "path-style: {url}"
    );
    // ...and that it really downloads the object.
    let fetched = reqwest::get(&url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-type"], "image/jpeg");
    assert_eq!(fetched.bytes().await.unwrap(), support::JPEG);

    blobs.delete(key).await.unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), None);
    blobs
        .delete(key)
        .await
        .expect("deleting a missing object is fine");
}

/// `BlobStore::get_range` is S3's ranged GetObject: exactly the asked bytes, cut at the end of
/// the object, `None` for a missing one; and a presigned URL (the redirect of large assets)
/// serves ranges itself.
#[tokio::test]
async fn s3_ranged_get_returns_exactly_the_part() {
    let Some((_, storage)) = support::provisioned("ranges").await else {
        return;
    };
    let blobs = storage.blobs.as_ref();
    let key = "companies/acme/assets/r/original";
    let bytes = support::JPEG;
    let len = bytes.len() as u64;
    blobs
        .put(key, Bytes::from_static(bytes), "image/jpeg")
        .await
        .unwrap();
    for range in [0..=0, 0..=99, 1000..=1999, len - 10..=len - 1, 0..=len - 1] {
        let part = blobs.get_range(key, range.clone()).await.unwrap().unwrap();
        let (first, last) = (*range.start() as usize, *range.end() as usize);
        assert_eq!(&part[..], &bytes[first..=last], "{range:?}");
    }
    let cut = blobs.get_range(key, len - 5..=len + 100).await.unwrap();
    assert_eq!(cut.as_deref(), Some(&bytes[bytes.len() - 5..]));
    assert_eq!(
        blobs
            .get_range("companies/acme/assets/none/original", 0..=9)
            .await
            .unwrap(),
        None
    );

    let url = blobs
        .presign_get(
            key,
            &PresignedGet {
                expires_in: Duration::from_secs(120),
                content_type: "image/jpeg".into(),
                content_disposition: "inline".into(),
                cache_control: "private, max-age=96".into(),
            },
        )
        .await
        .unwrap();
    let fetched = reqwest::Client::new()
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), 206);
    assert_eq!(
        fetched.headers()["content-range"],
        format!("bytes 10-19/{len}").as_str()
    );
    assert_eq!(&fetched.bytes().await.unwrap()[..], &bytes[10..20]);
}

#[tokio::test]
async fn dynamo_asset_repo_never_overwrites() {
    let Some((_, storage)) = support::provisioned("assets").await else {
        return;
    };
    let repo: &dyn AssetRepo = storage.table.as_ref();
    let asset = sample_asset(support::PDF, Visibility::Private);
    repo.insert(&asset).await.unwrap();
    assert_eq!(repo.find(&asset.key).await.unwrap(), Some(asset.clone()));
    let mut impostor = sample_asset(support::PNG, Visibility::Public);
    impostor.key = asset.key.clone();
    assert!(matches!(
        repo.insert(&impostor).await,
        Err(StorageError::AlreadyExists)
    ));
    assert_eq!(
        repo.find(&asset.key).await.unwrap(),
        Some(asset),
        "original kept"
    );
    assert_eq!(repo.find(&AssetKey::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn dynamo_key_repo_issues_lists_and_revokes() {
    let Some((config, storage)) = support::provisioned("keys").await else {
        return;
    };
    let repo = storage.table.as_ref();
    let (secret, record) = issue_key(repo, CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let (_, other) = issue_key(repo, CompanyId::parse("globex").unwrap())
        .await
        .unwrap();
    let found = ApiKeyRepo::find(repo, &secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, record);
    assert_eq!(
        ApiKeyRepo::find(repo, &ApiKeySecret::generate().hash())
            .await
            .unwrap(),
        None
    );
    let listed = ApiKeyRepo::list(repo).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&record) && listed.contains(&other));
    assert!(repo.revoke(record.key_id()).await.unwrap());
    assert!(
        ApiKeyRepo::find(repo, &secret.hash())
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        !ApiKeyRepo::find(repo, &other.hash)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(!repo.revoke("ffffffffffffffff").await.unwrap());
    // The raw secret is nowhere in the table.
    let scan = storage
        .dynamo
        .scan()
        .table_name(&config.table_name)
        .send()
        .await
        .unwrap();
    assert!(!format!("{:?}", scan.items()).contains(secret.expose()));
}

fn json(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn upload_and_get_through_s3_and_dynamodb() {
    let Some((mut config, storage)) = support::provisioned("handlers").await else {
        return;
    };
    config.inline_max_bytes = 100_000;
    let (secret, _) = issue_key(storage.table.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let app = App::new(
        config.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );

    let mut keys = Vec::new();
    for (bytes, file_name, mime) in [
        (support::PNG, "logo.png", "image/png"),
        (support::PDF, "doc.pdf", "application/pdf"),
        (support::JPEG, "photo.jpg", "image/jpeg"),
    ] {
        let response = upload(
            &app,
            Visibility::Private,
            support::upload_request(secret.expose(), "asset", file_name, bytes),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let asset = json(&response);
        let key = asset["key"].as_str().unwrap().to_owned();
        let object_key = format!("companies/acme/assets/{key}/original");
        assert_eq!(
            asset["platformFileUrl"],
            format!("s3://{}/{object_key}", config.bucket_name)
        );
        assert_eq!(asset["contentType"], mime);
        // Bytes and metadata are both really stored.
        let stored = storage
            .s3
            .get_object()
            .bucket(&config.bucket_name)
            .key(&object_key)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.content_type(), Some(mime));
        assert_eq!(stored.body.collect().await.unwrap().into_bytes(), bytes);
        let item = AssetRepo::find(storage.table.as_ref(), &AssetKey::parse(&key).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.object_key, object_key);
        // Images: four renditions in S3 next to the original, listed in the metadata, served by
        // `?size=` exactly as stored.
        let expected_renditions = if mime.starts_with("image/") { 4 } else { 0 };
        assert_eq!(item.renditions.len(), expected_renditions, "{mime}");
        for rendition in &item.renditions {
            let size = rendition.size.as_str();
            let stored = storage
                .s3
                .get_object()
                .bucket(&config.bucket_name)
                .key(format!("companies/acme/assets/{key}/{size}"))
                .send()
                .await
                .unwrap();
            assert_eq!(stored.content_type(), Some(rendition.content_type.as_str()));
            let stored = stored.body.collect().await.unwrap().into_bytes();
            assert_eq!(stored.len() as u64, rendition.bytes);
            let served = get_asset(
                &app,
                support::get_request(&key, Some(secret.expose()), &[("size", size)]),
            )
            .await;
            if rendition.bytes <= config.inline_max_bytes {
                assert_eq!(served.status(), StatusCode::OK, "{size}");
                assert_eq!(served.body().as_ref(), &stored[..], "{size}");
            } else {
                // Large renditions take the presigned path like large originals.
                assert_eq!(served.status(), StatusCode::FOUND, "{size}");
                let location = served.headers()["location"].to_str().unwrap();
                let fetched = reqwest::get(location).await.unwrap();
                assert_eq!(
                    fetched.headers()["content-type"],
                    rendition.content_type.as_str()
                );
                assert_eq!(fetched.bytes().await.unwrap(), stored, "{size}");
            }
        }
        keys.push((key, bytes, mime));
    }

    for (key, bytes, mime) in &keys {
        let response = get_asset(&app, support::get_request(key, Some(secret.expose()), &[])).await;
        if bytes.len() as u64 <= config.inline_max_bytes {
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["content-type"], *mime);
            assert_eq!(response.body().as_ref(), *bytes);
        } else {
            assert_eq!(response.status(), StatusCode::FOUND);
            let location = response.headers()["location"].to_str().unwrap();
            let fetched = reqwest::get(location).await.unwrap();
            assert_eq!(fetched.headers()["content-type"], *mime);
            assert_eq!(fetched.bytes().await.unwrap(), *bytes);
        }
        let anonymous = get_asset(&app, support::get_request(key, None, &[])).await;
        assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
        // A Range GET of an inline asset: S3's ranged GetObject behind a 206.
        if bytes.len() as u64 <= config.inline_max_bytes {
            let mut ranged = support::get_request(key, Some(secret.expose()), &[]);
            ranged
                .headers_mut()
                .insert("range", "bytes=-7".parse().unwrap());
            let part = get_asset(&app, ranged).await;
            assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "{mime}");
            assert_eq!(part.body().as_ref(), &bytes[bytes.len() - 7..], "{mime}");
            assert_eq!(
                part.headers()["content-range"],
                format!(
                    "bytes {}-{}/{}",
                    bytes.len() - 7,
                    bytes.len() - 1,
                    bytes.len()
                )
                .as_str()
            );
        }
    }
}

#[tokio::test]
async fn failed_metadata_write_leaves_no_object_in_s3() {
    let Some((config, storage)) = support::provisioned("orphans").await else {
        return;
    };
    let (secret, _) = issue_key(storage.table.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    // Keys resolve, but asset metadata goes to a table that does not exist: the write fails after
    // the object was stored.
    let missing_table = Arc::new(DynamoTable::new(storage.dynamo.clone(), "no-such-table"));
    let app = App::new(
        config.clone(),
        storage.blobs.clone(),
        missing_table,
        storage.table.clone(),
        storage.blobs.clone(),
        storage.table.clone(),
    );
    let response = upload(
        &app,
        Visibility::Public,
        support::upload_request(secret.expose(), "x", "logo.png", support::PNG),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(&response)["error"]["code"], "storage_unavailable");
    assert_eq!(
        support::object_keys(&storage, &config.bucket_name).await,
        Vec::<String>::new()
    );
}

/// A CloudFront client on the local stand-in, built as `AwsStorage` builds its clients.
async fn cloudfront_client(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client)
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_cloudfront::Client::new(&sdk)
}

/// A distribution in front of an HTTP API, as the template makes it (the fields moto needs).
async fn create_distribution(client: &aws_sdk_cloudfront::Client) -> String {
    use aws_sdk_cloudfront::types::{
        CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, Origin, OriginProtocolPolicy,
        Origins, ViewerProtocolPolicy,
    };
    let origin = Origin::builder()
        .id("api")
        .domain_name("abc123.execute-api.us-east-1.amazonaws.com")
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference(AssetKey::generate().as_str())
        .comment("asset API")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("api")
                .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                .cache_policy_id("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = client
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .expect("create distribution");
    created.distribution().unwrap().id().to_owned()
}

/// The paths and caller reference of each invalidation of `distribution`, oldest first.
async fn invalidations(
    client: &aws_sdk_cloudfront::Client,
    distribution: &str,
) -> Vec<(Vec<String>, String)> {
    let listed = client
        .list_invalidations()
        .distribution_id(distribution)
        .send()
        .await
        .expect("list invalidations");
    let mut out = Vec::new();
    for summary in listed.invalidation_list().unwrap().items() {
        let got = client
            .get_invalidation()
            .distribution_id(distribution)
            .id(summary.id())
            .send()
            .await
            .expect("get invalidation");
        let batch = got.invalidation().unwrap().invalidation_batch().unwrap();
        out.push((
            batch.paths().unwrap().items().to_vec(),
            batch.caller_reference().to_owned(),
        ));
    }
    out
}

/// `CloudFrontInvalidator` through the real SDK: one invalidation per call, for the asset's path
/// and every query-string variant under it (a trailing `*`: its renditions and signed URLs), each
/// with its own caller reference (CloudFront treats a repeated reference as the same request, so
/// a second delete must not reuse one); an unknown distribution is a storage error, not a panic.
#[tokio::test]
async fn cloudfront_invalidator_invalidates_an_asset_path_and_its_variants() {
    let Some(mut config) = support::local_config("cdn") else {
        return;
    };
    let endpoint = config.aws_endpoint_url.clone().unwrap();
    let client = cloudfront_client(&endpoint).await;
    let distribution = create_distribution(&client).await;
    config.cdn_distribution_id = Some(distribution.clone());
    // As a function builds it from CDN_DISTRIBUTION_ID.
    let app = App::on_aws(config.clone()).await;
    let cdn = app
        .cdn
        .as_ref()
        .expect("CDN_DISTRIBUTION_ID set: an invalidator");

    let key = AssetKey::generate();
    let path = format!("/api/v1/partner/asset/{}", key.as_str());
    assert!(invalidations(&client, &distribution).await.is_empty());
    cdn.invalidate(&path).await.expect("invalidate");
    cdn.invalidate(&path).await.expect("invalidate again");

    let done = invalidations(&client, &distribution).await;
    assert_eq!(done.len(), 2, "{done:?}");
    for (paths, _) in &done {
        assert_eq!(paths, &[format!("{path}*")]);
    }
    assert_ne!(done[0].1, done[1].1, "caller references are unique");

    let mut elsewhere = config.clone();
    elsewhere.cdn_distribution_id = Some("E000000NOTHERE".into());
    let missing = asset_service::app::AwsStorage::connect(&elsewhere)
        .await
        .cdn
        .unwrap();
    assert!(matches!(
        missing.invalidate(&path).await,
        Err(StorageError::Unavailable(_))
    ));
}
