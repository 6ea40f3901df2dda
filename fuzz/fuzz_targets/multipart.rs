//! The upload form parser: any Content-Type line and body must give a form or a 4xx error, never a
//! panic, a hang or an allocation beyond the limits. Input: Content-Type, '\n', body.
#![no_main]

use asset_service::http::parse_upload_form;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const MAX_FILE_BYTES: u64 = 64 * 1024;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().unwrap();
}

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]).into_owned(), &data[i + 1..]),
        None => ("multipart/form-data; boundary=X".to_owned(), data),
    };
    let body = Bytes::copy_from_slice(body);
    let result = RUNTIME.with(|rt| rt.block_on(parse_upload_form(Some(&content_type), body, MAX_FILE_BYTES)));
    match result {
        Ok(form) => {
            assert!(!form.file.is_empty());
            assert!(form.file.len() as u64 <= MAX_FILE_BYTES);
        }
        Err(err) => assert!(err.status().is_client_error(), "{err:?}"),
    }
});
