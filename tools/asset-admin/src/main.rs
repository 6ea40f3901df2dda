//! Operator command for the asset service.
//!
//! ```text
//! asset-admin setup                 create the bucket and table if missing (local stacks), put the
//!                                   template's lifecycle rules on the bucket; with AWS_ENDPOINT_URL
//!                                   set, also the staging events queue (events.rs) and the bucket's
//!                                   CORS rule for browsers (cors.rs)
//! asset-admin key create COMPANY    issue a key; the secret is printed once, on the last line
//! asset-admin key list [COMPANY]    list keys (id, company, created, state); never secrets
//! asset-admin key revoke KEY_ID     revoke a key by the id shown in `key list`
//! asset-admin signing-secret rotate put a new signing secret (SIGNING_SECRET_ID) as current; the
//!                                   old one becomes previous and still verifies
//! ```
//!
//! With `SIGNING_SECRET_ID` set and `AWS_ENDPOINT_URL` set, `setup` also creates that secret with a
//! random value (on AWS the template owns it).
//!
//! It reads the same environment as the functions (`ASSETS_TABLE`, `ASSETS_BUCKET`, `AWS_REGION`,
//! optional `AWS_ENDPOINT_URL`), so it works against the local stack and against AWS alike; and
//! `ASSETS_EVENTS_QUEUE` and `CORS_ALLOW_ORIGIN` (local stack only; [`events::queue_name`],
//! [`cors::allowed_origins`]).

mod cors;
mod events;

use std::process::ExitCode;

use asset_service::app::AwsStorage;
use asset_service::auth::issue_key;
use asset_service::config::Config;
use asset_service::domain::CompanyId;
use asset_service::storage::ApiKeyRepo;

const USAGE: &str = "usage:
  asset-admin setup
  asset-admin key create COMPANY_ID
  asset-admin key list [COMPANY_ID]
  asset-admin key revoke KEY_ID
  asset-admin signing-secret rotate";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("asset-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The template's lifecycle rules on the bucket (`storage::s3::LIFECYCLE_RULES`, one list for
/// both), so a local bucket reads back what a deployed one holds; only AWS runs them.
async fn ensure_lifecycle_rules(storage: &AwsStorage) -> Result<(), String> {
    storage
        .blobs
        .ensure_lifecycle_rules()
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "bucket lifecycle: {}",
        asset_service::storage::s3::LIFECYCLE_RULES
            .iter()
            .map(|rule| rule.id)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

async fn run(args: &[&str]) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let storage = || AwsStorage::connect(&config);
    match args {
        ["setup"] => {
            let storage = storage().await;
            storage
                .blobs
                .ensure_bucket(storage.region.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            storage
                .table
                .ensure_table()
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "bucket {} and table {} are ready",
                config.bucket_name, config.table_name
            );
            ensure_lifecycle_rules(&storage).await?;
            // Only a local stack: on AWS the template's notification invokes finalize itself.
            if let Some(endpoint) = &config.aws_endpoint_url {
                let queues =
                    events::ensure_event_queue(endpoint, &storage.s3, &config.bucket_name).await?;
                println!(
                    "objects created under {} notify queue {} (dead letters: {})",
                    events::STAGING_PREFIX,
                    queues.queue,
                    queues.dead_letters
                );
                if let Some(signing) = &storage.signing {
                    signing.ensure_secret().await.map_err(|e| e.to_string())?;
                    println!(
                        "signing secret {} is ready",
                        config.signing_secret_id.as_deref().unwrap_or_default()
                    );
                }
                let origins = cors::allowed_origins();
                cors::ensure_bucket_cors(&storage.s3, &config.bucket_name, &origins).await?;
                println!(
                    "browsers may upload to bucket {} from origins {}",
                    config.bucket_name,
                    origins.join(", ")
                );
            }
            Ok(())
        }
        ["key", "create", company] => {
            let company = CompanyId::parse(company).map_err(|e| e.to_string())?;
            let storage = storage().await;
            let (secret, record) = issue_key(storage.table.as_ref(), company)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "created key {} for company {}; store it now, it is not shown again:",
                record.key_id(),
                record.company_id
            );
            println!("{}", secret.expose());
            Ok(())
        }
        ["key", "list", rest @ ..] if rest.len() <= 1 => {
            let storage = storage().await;
            let mut keys = storage.table.list().await.map_err(|e| e.to_string())?;
            keys.retain(|k| rest.first().is_none_or(|c| k.company_id.as_str() == *c));
            keys.sort_by_key(|k| k.created_ms);
            println!(
                "{:<16}  {:<24}  {:>13}  state",
                "key id", "company", "created (ms)"
            );
            for key in keys {
                let state = if key.revoked { "revoked" } else { "active" };
                println!(
                    "{:<16}  {:<24}  {:>13}  {state}",
                    key.key_id(),
                    key.company_id,
                    key.created_ms
                );
            }
            Ok(())
        }
        ["key", "revoke", key_id] => {
            let storage = storage().await;
            if storage
                .table
                .revoke(key_id)
                .await
                .map_err(|e| e.to_string())?
            {
                println!("key {key_id} revoked");
                Ok(())
            } else {
                Err(format!("no key with id {key_id}"))
            }
        }
        ["signing-secret", "rotate"] => {
            let storage = storage().await;
            let signing = storage.signing.ok_or("SIGNING_SECRET_ID is not set")?;
            signing.rotate().await.map_err(|e| e.to_string())?;
            println!(
                "signing secret {} rotated: new URLs and cursors use the new value; those made \
                 with the old one verify until the next rotation",
                config.signing_secret_id.as_deref().unwrap_or_default()
            );
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    }
}
