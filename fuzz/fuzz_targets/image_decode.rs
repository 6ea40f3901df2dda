//! The rendition pipeline on any bytes that pass content detection as a renderable image: it must
//! answer renditions that fit their boxes or a rendition error, never panic, hang or report an
//! internal failure. Limits are small so a claimed size cannot exhaust the fuzzer's memory cap.
#![no_main]

use asset_service::domain::{RenditionSizes, detect_content};
use asset_service::renditions::{self, DecodeLimits, RenditionError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(content) = detect_content(data, None) else { return };
    if !renditions::renders(content.mime) {
        return;
    }
    let sizes = RenditionSizes::new([16, 48, 96, 160]).unwrap();
    let limits = DecodeLimits { max_pixels: 1_000_000, max_side: 4_000, max_frames: 64 };
    match renditions::render(data, content.mime, &sizes, &limits) {
        Ok(rendered) => {
            assert!(rendered.width >= 1 && rendered.height >= 1);
            assert_eq!(rendered.renditions.len(), 4);
            for r in &rendered.renditions {
                assert!(r.width >= 1 && r.height >= 1);
                assert!(r.width.max(r.height) <= sizes.longest_side(r.size));
                assert!(!r.bytes.is_empty());
            }
        }
        Err(RenditionError::Internal(detail)) => panic!("internal failure: {detail}"),
        Err(_) => {}
    }
});
