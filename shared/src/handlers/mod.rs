//! One plain async function per Lambda: `lambda_http::Request` in, `Response` out, no runtime needed.

mod asset_events;
mod delete_asset;
mod direct_upload;
mod finalize;
mod get_asset;
mod list_assets;
mod owned;
mod sign_asset_url;
mod update_asset;
mod upload;
mod upload_token;

pub use asset_events::{TableStreamEvent, handle_asset_events};
pub use delete_asset::delete_asset;
pub use list_assets::list_assets;
pub use update_asset::update_asset;

pub use direct_upload::{abort_upload, complete_upload, part_url, start_upload, upload_status};
pub use finalize::{ObjectCreatedEvent, RetryLater, finalize_staged_object};
pub use get_asset::get_asset;
pub use sign_asset_url::sign_asset_url;
pub use upload::upload;
pub use upload_token::mint_upload_token;

#[cfg(test)]
mod tests;
