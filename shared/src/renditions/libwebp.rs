//! Still WebP pixels through libwebp (bundled, statically linked): its SIMD VP8 decoder and
//! YUV->RGB conversion are about three times faster than the pure-Rust decoder on a 12 MP photo
//! (`tools/rendition-bench`). The container (size, alpha, animation, ICC) is still read by
//! `image-webp`, which does that without decoding.

/// Decodes a still WebP of `width` x `height` into tightly packed RGB, or RGBA when `alpha`.
/// `None` when libwebp refuses the data (corrupt, truncated, or a size other than announced).
pub(crate) fn decode_still(bytes: &[u8], width: u32, height: u32, alpha: bool) -> Option<Vec<u8>> {
    let channels = if alpha { 4 } else { 3 };
    let stride = width as usize * channels;
    let mut pixels = vec![0u8; stride.checked_mul(height as usize)?];
    let stride = i32::try_from(stride).ok()?;
    // SAFETY: libwebp reads `bytes.len()` bytes from `bytes` and writes at most `pixels.len()`
    // bytes into `pixels`, rows `stride` apart; it returns null instead of writing past either
    // (a picture larger than the buffer is refused). Both slices outlive the call.
    let written = unsafe {
        if alpha {
            libwebp_sys::WebPDecodeRGBAInto(
                bytes.as_ptr(),
                bytes.len(),
                pixels.as_mut_ptr(),
                pixels.len(),
                stride,
            )
        } else {
            libwebp_sys::WebPDecodeRGBInto(
                bytes.as_ptr(),
                bytes.len(),
                pixels.as_mut_ptr(),
                pixels.len(),
                stride,
            )
        }
    };
    (!written.is_null()).then_some(pixels)
}
