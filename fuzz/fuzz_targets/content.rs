//! Content detection and the image header check: any bytes (and a filename hint) must be accepted
//! with a known type or refused with a rejection, never panic; accepted images are within limits.
#![no_main]

use asset_service::domain::{ImageLimits, detect_content};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let hint = if data.first().is_some_and(|b| b & 1 == 1) { Some("data.csv") } else { None };
    let Ok(content) = detect_content(data, hint) else { return };
    assert!(!content.mime.is_empty());
    let limits = ImageLimits { max_pixels: 50_000_000, max_side: 20_000 };
    if let Ok(Some((width, height))) = content.check_image(data, limits) {
        assert!(width > 0 && height > 0);
        assert!(u64::from(width) * u64::from(height) <= limits.max_pixels);
    }
});
