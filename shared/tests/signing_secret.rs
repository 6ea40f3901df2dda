//! The signing secret through the real Secrets Manager client against moto (`storage::secrets`):
//! created once, read once per instance (current and, after a rotation, previous), and rotated
//! without breaking URLs signed under the secret before, but only for one rotation.

mod support;

use asset_service::app::AwsStorage;
use asset_service::auth::now_ms;
use asset_service::domain::{
    AssetKey, CompanyId, ListPosition, RenditionSize, SignedUrlError, SignedUrlGrant, open_cursor,
    seal_cursor,
};
use asset_service::storage::{SigningKeyStore, StorageError};

#[tokio::test]
async fn secrets_manager_keys_rotate_without_breaking_urls_of_the_previous_secret() {
    let Some(mut config) = support::local_config("signing_secret") else {
        return;
    };
    let name = format!("it-signing-{}", AssetKey::generate());
    config.signing_secret_id = Some(name.clone());
    // Each connect is a new Lambda instance: it reads the secret once, on first use.
    let instance = || async { AwsStorage::connect(&config).await.signing.unwrap() };

    let first = instance().await;
    match first.keys().await {
        Err(StorageError::Unavailable(_)) => {}
        other => panic!("no secret yet must be unavailable (a 503), got {other:?}"),
    }
    // Creating is idempotent: a second setup keeps the first value.
    first.ensure_secret().await.unwrap();
    let keys_1 = first.keys().await.unwrap();
    first.ensure_secret().await.unwrap();
    let again = instance().await.keys().await.unwrap();

    let now_s = now_ms() / 1000;
    let grant = SignedUrlGrant {
        key: AssetKey::generate(),
        size: Some(RenditionSize::Thumb),
        expires_s: now_s + 3600,
    };
    let url_1 = grant.sign(&keys_1);
    assert_eq!(grant.sign(&again), url_1, "ensure_secret kept the value");
    assert_eq!(grant.verify(&keys_1, &url_1, now_s), Ok(()));

    first.rotate().await.unwrap();
    // The running instance keeps what it read; a new one reads current and previous.
    assert_eq!(grant.sign(&first.keys().await.unwrap()), url_1);
    let keys_2 = instance().await.keys().await.unwrap();
    let url_2 = grant.sign(&keys_2);
    assert_ne!(url_2, url_1, "the rotation put a new current secret");
    assert_eq!(
        grant.verify(&keys_2, &url_1, now_s),
        Ok(()),
        "URLs of the previous secret still verify"
    );
    assert_eq!(grant.verify(&keys_2, &url_2, now_s), Ok(()));
    // List cursors ride on the same secret and rotation.
    let acme = CompanyId::parse("acme").unwrap();
    let position = ListPosition {
        created_ms: 1_700_000_000_000,
        key: AssetKey::generate(),
    };
    let cursor_1 = seal_cursor(&keys_1, &acme, &position);
    assert_eq!(open_cursor(&keys_2, &acme, &cursor_1), Ok(position.clone()));

    instance().await.rotate().await.unwrap();
    let keys_3 = instance().await.keys().await.unwrap();
    assert_eq!(
        grant.verify(&keys_3, &url_1, now_s),
        Err(SignedUrlError::Mismatch),
        "two rotations later the first secret is gone"
    );
    assert_eq!(grant.verify(&keys_3, &url_2, now_s), Ok(()));
    assert!(open_cursor(&keys_3, &acme, &cursor_1).is_err());
}
