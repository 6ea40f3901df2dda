//! One plain async function per Lambda: `lambda_http::Request` in, `Response` out, no runtime needed.

mod get_asset;
mod upload;

pub use get_asset::get_asset;
pub use upload::upload;

#[cfg(test)]
mod tests;
