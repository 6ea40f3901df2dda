//! The asset lifecycle on real storage: the list index (GSI) query and its pages, conditional
//! replace and remove, erasure and the retention purge, through the real AWS SDK clients against
//! the local stand-in (moto), and Secrets Manager's current and previous signing secrets.

mod support;

use std::sync::Arc;

use asset_service::app::App;
use asset_service::auth::issue_key;
use asset_service::domain::{
    Asset, AssetKey, CompanyId, ListFilter, ListPosition, ListQuery, NewAsset, Visibility,
    detect_content, sha256_hex,
};
use asset_service::storage::dynamo::{DynamoTable, asset_stream_image};
use asset_service::storage::secrets::SecretsManagerKeys;
use asset_service::storage::{AssetRepo, SigningKeyStore, StorageError};
use asset_service::{delete_asset, handle_asset_events, list_assets, update_asset, upload};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

fn asset_of(company: &str, created_ms: i64, visibility: Visibility) -> Asset {
    let bytes = b"%PDF-1.4\n";
    Asset::create(NewAsset {
        key: AssetKey::generate(),
        company_id: CompanyId::parse(company).unwrap(),
        name: format!("{company}-{created_ms}.pdf"),
        visibility,
        content: &detect_content(bytes, None).unwrap(),
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        dimensions: None,
        renditions: Vec::new(),
        now_ms: created_ms,
    })
}

async fn page(repo: &DynamoTable, query: &ListQuery) -> (Vec<AssetKey>, Option<ListPosition>) {
    let page = repo.list(query).await.unwrap();
    (page.assets.into_iter().map(|a| a.key).collect(), page.next)
}

#[tokio::test]
async fn the_list_index_pages_newest_first_per_company() {
    let Some((_, storage)) = support::provisioned("list").await else {
        return;
    };
    let repo = storage.table.as_ref();
    let mut acme = Vec::new();
    // Three at the same millisecond: the key orders them.
    for (i, created) in [1_000, 2_000, 3_000, 3_000, 3_000, 4_000]
        .into_iter()
        .enumerate()
    {
        let visibility = if i % 2 == 0 {
            Visibility::Private
        } else {
            Visibility::Public
        };
        let asset = asset_of("acme", 1_700_000_000_000 + created, visibility);
        repo.insert(&asset).await.unwrap();
        acme.push(asset);
    }
    let other = asset_of("globex", 1_700_000_009_000, Visibility::Public);
    repo.insert(&other).await.unwrap();
    acme.sort_by_key(|a| std::cmp::Reverse(a.list_position().sort_key()));
    let expected: Vec<AssetKey> = acme.iter().map(|a| a.key.clone()).collect();

    for limit in [1, 2, 4, 200] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let (keys, next) = page(
                repo,
                &ListQuery {
                    company: CompanyId::parse("acme").unwrap(),
                    filter: ListFilter::default(),
                    limit,
                    after: after.clone(),
                },
            )
            .await;
            assert!(keys.len() <= limit);
            seen.extend(keys);
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "limit {limit}");
    }
    // Filters apply after the index read, as a FilterExpression would.
    let (public, _) = page(
        repo,
        &ListQuery {
            company: CompanyId::parse("acme").unwrap(),
            filter: ListFilter {
                secured: Some(false),
                ..ListFilter::default()
            },
            limit: 200,
            after: None,
        },
    )
    .await;
    let expected_public: Vec<AssetKey> = acme
        .iter()
        .filter(|a| a.visibility == Visibility::Public)
        .map(|a| a.key.clone())
        .collect();
    assert_eq!(public, expected_public);

    // Only asset items are in the index: keys, tokens and uploads carry no createdSk.
    let (globex, _) = page(
        repo,
        &ListQuery {
            company: CompanyId::parse("globex").unwrap(),
            filter: ListFilter::default(),
            limit: 50,
            after: None,
        },
    )
    .await;
    assert_eq!(globex, vec![other.key.clone()]);
}

#[tokio::test]
async fn replace_and_remove_are_conditional_on_the_version_read() {
    let Some((config, storage)) = support::provisioned("versions").await else {
        return;
    };
    let repo = storage.table.as_ref();
    let asset = asset_of("acme", 1_700_000_000_000, Visibility::Public);
    repo.insert(&asset).await.unwrap();

    let mut first = asset.clone();
    first.apply(
        &asset_service::domain::AssetChange {
            name: Some("first.pdf".into()),
            ..Default::default()
        },
        1_700_000_001_000,
    );
    repo.replace(&first, 1).await.unwrap();
    // A second writer that also read version 1 loses and changes nothing.
    let mut second = asset.clone();
    second.apply(
        &asset_service::domain::AssetChange {
            name: Some("second.pdf".into()),
            ..Default::default()
        },
        1_700_000_002_000,
    );
    assert!(matches!(
        repo.replace(&second, 1).await,
        Err(StorageError::Conflict)
    ));
    let stored = repo.find(&asset.key).await.unwrap().unwrap();
    assert_eq!(stored, first);
    assert!(matches!(
        repo.remove(&asset.key, 1).await,
        Err(StorageError::Conflict)
    ));
    // A soft delete writes the TTL attribute the purge waits for.
    let mut deleted = stored.clone();
    assert!(deleted.soft_delete(1_700_000_003_000, config.retention));
    repo.replace(&deleted, 2).await.unwrap();
    let item = storage
        .dynamo
        .get_item()
        .table_name(&config.table_name)
        .key("pk", AttributeValue::S(format!("ASSET#{}", asset.key)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        item["expiresAt"],
        AttributeValue::N((1_700_000_003 + 30 * 24 * 3600).to_string())
    );
    assert_eq!(repo.find(&asset.key).await.unwrap().unwrap(), deleted);
    repo.remove(&asset.key, 3).await.unwrap();
    assert_eq!(repo.find(&asset.key).await.unwrap(), None);
    assert!(matches!(
        repo.remove(&asset.key, 3).await,
        Err(StorageError::Conflict)
    ));

    // A record written before versions existed (no `version`, `active`, `priority`, `updated`)
    // reads as version 1 and takes a change conditional on it.
    let legacy = asset_of("acme", 1_700_000_000_000, Visibility::Private);
    repo.insert(&legacy).await.unwrap();
    storage
        .dynamo
        .update_item()
        .table_name(&config.table_name)
        .key("pk", AttributeValue::S(format!("ASSET#{}", legacy.key)))
        .update_expression("REMOVE version, active, priority, updated")
        .send()
        .await
        .unwrap();
    let read = repo.find(&legacy.key).await.unwrap().unwrap();
    assert_eq!(read, legacy);
    let mut changed = read.clone();
    changed.active = false;
    changed.version = 2;
    repo.replace(&changed, 1).await.unwrap();
    assert!(!repo.find(&legacy.key).await.unwrap().unwrap().active);
}

fn api(method: &str, path_and_query: &str, key: &str, body: Option<&str>) -> Request {
    let request = lambda_http::http::Request::builder()
        .method(method)
        .uri(format!("/api/v1/partner/asset{path_and_query}"))
        .header("x-api-key", key)
        .body(body.map_or(Body::Empty, |b| Body::Text(b.to_owned())))
        .unwrap();
    let query: std::collections::HashMap<String, String> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    request.with_query_string_parameters(query)
}

fn json_of(response: &lambda_http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn the_lifecycle_on_real_storage_ends_with_nothing_left() {
    let Some((mut config, storage)) = support::provisioned("lifecycle").await else {
        return;
    };
    // The signing secret, as `asset-admin setup` makes it on a local stack.
    config.signing_secret_id = Some(format!("{}-signing", config.table_name));
    signing_keys(&config).await.ensure_secret().await.unwrap();
    let app = App::on_aws(config.clone()).await;
    let (secret, _) = issue_key(storage.table.as_ref(), CompanyId::parse("acme").unwrap())
        .await
        .unwrap();
    let key = secret.expose();
    let mut keys = Vec::new();
    for (name, file) in [("photo.jpg", support::JPEG), ("doc.pdf", support::PDF)] {
        let uploaded = upload(
            &app,
            Visibility::Public,
            support::upload_request(key, name, name, file),
        )
        .await;
        assert_eq!(uploaded.status(), 200);
        assert_eq!(uploaded.headers()["etag"], "\"v1\"");
        keys.push(json_of(&uploaded)["key"].as_str().unwrap().to_owned());
    }
    let (photo, document) = (&keys[0], &keys[1]);

    // The index follows the writes (moto's at once; DynamoDB's within about a second).
    let listed = json_of(&list_assets(&app, api("GET", "?limit=1", key, None)).await);
    assert_eq!(listed["assets"][0]["key"], document.as_str());
    let cursor = listed["nextCursor"].as_str().unwrap();
    let listed = json_of(
        &list_assets(
            &app,
            api("GET", &format!("?limit=1&cursor={cursor}"), key, None),
        )
        .await,
    );
    assert_eq!(listed["assets"][0]["key"], photo.as_str());

    let patched = update_asset(
        &app,
        api(
            "PATCH",
            &format!("/{photo}"),
            key,
            Some(r#"{"name":"Cover.jpg","active":false}"#),
        )
        .with_path_parameters(std::collections::HashMap::from([(
            "assetKey".to_string(),
            photo.clone(),
        )])),
    )
    .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(json_of(&patched)["etag"], "\"v2\"");

    // Erase the photo: its five objects and its record go before the answer.
    let erased = delete_asset(
        &app,
        api("DELETE", &format!("/{photo}?erase=true"), key, None),
    )
    .await;
    assert_eq!(erased.status(), 200, "{:?}", erased.body());
    assert_eq!(json_of(&erased)["objectsRemoved"], 5);
    let objects = support::object_keys(&storage, &config.bucket_name).await;
    assert!(
        objects.iter().all(|k| !k.contains(photo.as_str())),
        "{objects:?}"
    );
    let scan = storage
        .dynamo
        .scan()
        .table_name(&config.table_name)
        .send()
        .await
        .unwrap();
    let text = format!("{:?}", scan.items());
    assert!(
        !text.contains(photo.as_str()),
        "the table keeps nothing of the erased asset"
    );
    assert!(!text.contains("Cover.jpg"));

    // Soft-delete the document, then let its retention end: the TTL's removal on the stream
    // purges its bytes.
    let deleted = delete_asset(&app, api("DELETE", &format!("/{document}"), key, None)).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        support::object_keys(&storage, &config.bucket_name)
            .await
            .len(),
        1
    );
    let record = storage
        .table
        .find(&AssetKey::parse(document).unwrap())
        .await
        .unwrap()
        .unwrap();
    let event = serde_json::json!({"Records": [{
        "eventID": "1",
        "eventName": "REMOVE",
        "awsRegion": "us-east-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "SequenceNumber": "100",
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "OldImage": asset_stream_image(&record),
        },
    }]});
    let answer = handle_asset_events(&app, serde_json::from_value(event).unwrap()).await;
    assert!(answer.batch_item_failures.is_empty());
    assert!(
        support::object_keys(&storage, &config.bucket_name)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn secrets_manager_keeps_the_previous_secret_through_one_rotation() {
    let Some(config) = support::local_config("secrets") else {
        return;
    };
    let mut config = config;
    config.signing_secret_id = Some(format!("{}-signing", config.table_name));
    let first = signing_keys(&config).await;
    first.ensure_secret().await.unwrap();
    first.ensure_secret().await.unwrap();
    let grant = asset_service::domain::SignedUrlGrant {
        key: AssetKey::generate(),
        size: None,
        expires_s: i64::MAX,
    };
    let signature = grant.sign(&first.keys().await.unwrap());
    // A cursor too: rotation keeps what was handed out under the old secret.
    let company = CompanyId::parse("acme").unwrap();
    let position = asset_of("acme", 5, Visibility::Public).list_position();
    let cursor =
        asset_service::domain::seal_cursor(&first.keys().await.unwrap(), &company, &position);

    first.rotate().await.unwrap();
    // An instance keeps what it read; a new one reads both versions.
    assert_eq!(
        grant.verify(&first.keys().await.unwrap(), &signature, 0),
        Ok(())
    );
    let rotated = signing_keys(&config).await;
    let keys = rotated.keys().await.unwrap();
    assert_ne!(grant.sign(&keys), signature, "the new secret signs");
    assert_eq!(
        grant.verify(&keys, &signature, 0),
        Ok(()),
        "the previous one verifies"
    );
    assert_eq!(
        asset_service::domain::open_cursor(&keys, &company, &cursor),
        Ok(position)
    );

    rotated.rotate().await.unwrap();
    let twice = signing_keys(&config).await;
    assert_eq!(
        grant.verify(&twice.keys().await.unwrap(), &signature, 0),
        Err(asset_service::domain::SignedUrlError::Mismatch)
    );
}

/// A new instance's view of the signing secret (`SIGNING_SECRET_ID`), with the service's own
/// client set-up.
async fn signing_keys(config: &asset_service::config::Config) -> Arc<SecretsManagerKeys> {
    asset_service::app::AwsStorage::connect(config)
        .await
        .signing
        .expect("SIGNING_SECRET_ID is set")
}
