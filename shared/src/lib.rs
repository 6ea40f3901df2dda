//! The asset service: everything the three Lambda functions and the admin command share.
//!
//! Request path: `main` (functions/*) -> [`handlers`] -> [`http`] parsing -> [`auth`] ->
//! [`domain`] decision -> [`storage`] port -> S3/DynamoDB adapter -> [`http`] response.

pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod renditions;
pub mod storage;
pub mod telemetry;

pub use app::App;
pub use domain::Visibility;
pub use handlers::{
    ObjectCreatedEvent, RetryLater, TableStreamEvent, abort_upload, complete_upload, delete_asset,
    finalize_staged_object, get_asset, handle_asset_events, list_assets, mint_upload_token,
    part_url, sign_asset_url, start_upload, update_asset, upload, upload_status,
};
pub use telemetry::init_tracing;
