//! One entry point over the per-format decoders.

use super::orient::Orientation;
use super::pixels::Pixels;
use super::{DecodeLimits, RenditionError, heif, jpeg, jxl, raster, tiff};
use crate::domain::{RenditionSize, RenditionSizes};

/// What a format decoder gives back: pixels (possibly already shrunk on load) and colour facts.
pub(crate) struct Raster {
    pub pixels: Pixels,
    /// The full-resolution size in stored (not displayed) axes; `pixels` may be smaller.
    pub width: u32,
    pub height: u32,
    pub icc_profile: Option<Vec<u8>>,
}

pub(crate) struct Decoded {
    pub raster: Raster,
    pub orientation: Orientation,
}

pub(crate) fn decode(
    bytes: &[u8],
    mime: &str,
    sizes: &RenditionSizes,
    limits: &DecodeLimits,
) -> Result<Decoded, RenditionError> {
    let raster = match mime {
        // Orientation never changes the longest side, so the shrink-on-load scale ignores it.
        "image/jpeg" => jpeg::decode(bytes, sizes.longest_side(RenditionSize::LargeX2), limits)?,
        "image/png" => raster::decode_png(bytes, limits)?,
        "image/gif" => raster::decode_gif(bytes, limits)?,
        "image/webp" => raster::decode_webp(bytes, limits)?,
        "image/tiff" => tiff::decode(bytes, limits)?,
        "image/bmp" => raster::decode_bmp(bytes, limits)?,
        // HEIF's own transforms (irot, imir) orient it; its EXIF orientation must be ignored.
        "image/heic" | "image/heif" | "image/avif" => return heif::decode(bytes, limits),
        // JPEG XL's decoder applies the header's orientation itself.
        "image/jxl" => return jxl::decode(bytes, limits),
        other => return Err(RenditionError::UnsupportedFormat(other.to_owned())),
    };
    let orientation = match mime {
        "image/gif" | "image/bmp" => Orientation::Normal,
        // JPEG APP1, PNG eXIf, WebP EXIF, and TIFF's own IFD 0 (its Orientation tag).
        _ => Orientation::from_exif_container(bytes),
    };
    Ok(Decoded {
        raster,
        orientation,
    })
}

/// Runs a young pure-Rust decoder (`format` names it in the log) on hostile bytes: a panic inside
/// it is a bad image (422 `invalid_image`), not a failed request. The decoder's state is dropped
/// with the unwind; nothing outlives it.
pub(crate) fn panic_is_corrupt<T>(
    format: &str,
    decode: impl FnOnce() -> Result<T, RenditionError>,
) -> Result<T, RenditionError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).map_err(|_| {
        tracing::warn!(format, "decoder panicked on an upload");
        RenditionError::Corrupt("the decoder could not read the image".into())
    })?
}
