//! Makes the four renditions of an image. Decodes once (shrunk on load where the format allows),
//! resizes in a cascade from the largest rendition down, converts to sRGB, applies the EXIF
//! orientation and encodes. Metadata never reaches the output: only pixels are carried over.
//!
//! Pure computation: no HTTP, no storage. Every failure is a [`RenditionError`], never a panic.

mod colour;
mod decode;
mod encode;
mod format;
mod heap;
mod heif;
mod jpeg;
mod jxl;
mod libwebp;
mod orient;
mod pixels;
mod raster;
mod tiff;

use fast_image_resize::Resizer;

use crate::domain::{ImageLimits, RenditionSize, RenditionSizes};
use colour::SrgbConversion;
use encode::Encoder;
pub use heap::keep_freed_memory;
pub use orient::Orientation;

/// What may be decoded at all. The pixel and side limits are checked against each decoder's own
/// header before any pixel buffer is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_pixels: u64,
    pub max_side: u64,
    /// Animated GIF/PNG/WebP: only the first frame is rendered, but a file with more frames than
    /// this is refused rather than walked.
    pub max_frames: u32,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_side: 20_000,
            max_frames: 1_000,
        }
    }
}

/// Every rendition of an image, and the image's own size as displayed (after orientation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Full-resolution width and height in pixels, as displayed: what the asset reports.
    pub width: u32,
    pub height: u32,
    /// Largest first.
    pub renditions: Vec<Rendition>,
}

/// One encoded rendition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    pub size: RenditionSize,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenditionError {
    #[error(
        "{0} images get no renditions; upload a JPEG, PNG, GIF, WebP, HEIC, AVIF, JPEG XL, TIFF or BMP image"
    )]
    UnsupportedFormat(String),
    #[error("the image is corrupt or truncated ({0})")]
    Corrupt(String),
    #[error(
        "the image is {width}x{height} pixels; at most {max_pixels} pixels and {max_side} pixels per side are accepted"
    )]
    TooLarge {
        width: u64,
        height: u64,
        max_pixels: u64,
        max_side: u64,
    },
    #[error("the animation has more than {max_frames} frames")]
    TooManyFrames { max_frames: u32 },
    /// A bug rather than a bad image (a buffer of the wrong size, say).
    #[error("rendition pipeline failure: {0}")]
    Internal(String),
}

impl DecodeLimits {
    pub(crate) fn check(&self, width: u64, height: u64) -> Result<(), RenditionError> {
        if width == 0 || height == 0 {
            return Err(RenditionError::Corrupt("zero-sized image".into()));
        }
        let limits = ImageLimits {
            max_pixels: self.max_pixels,
            max_side: self.max_side,
        };
        if !limits.admits(width, height) {
            return Err(RenditionError::TooLarge {
                width,
                height,
                max_pixels: self.max_pixels,
                max_side: self.max_side,
            });
        }
        Ok(())
    }
}

/// The formats [`render`] takes, by MIME type.
pub fn renders(mime: &str) -> bool {
    matches!(
        mime,
        "image/jpeg"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "image/heic"
            | "image/heif"
            | "image/avif"
            | "image/tiff"
            | "image/bmp"
            | "image/jxl"
    )
}

/// Makes every rendition of `bytes` (of type `mime`), largest first, and reports the image's
/// displayed size.
pub fn render(
    bytes: &[u8],
    mime: &str,
    sizes: &RenditionSizes,
    limits: &DecodeLimits,
) -> Result<Rendered, RenditionError> {
    let decode::Decoded {
        raster,
        orientation,
    } = decode::decode(bytes, mime, sizes, limits)?;
    let (width, height) = orientation.displayed(raster.width, raster.height);
    let output = format::choose(
        &raster.pixels,
        raster.width,
        raster.height,
        mime == "image/jpeg",
    );
    let srgb = raster
        .icc_profile
        .as_deref()
        .and_then(|icc| SrgbConversion::from_icc(icc, raster.pixels.has_alpha()));

    let mut resizer = Resizer::new();
    let mut encoder = Encoder::new()?;
    let mut current = raster.pixels;
    let mut renditions = Vec::with_capacity(RenditionSize::ALL.len());
    for size in RenditionSize::ALL {
        // Sizes are decided on the image as displayed, then mapped back to the stored axes.
        let (shown_w, shown_h) = sizes.fit(size, width, height);
        let (stored_w, stored_h) = orientation.stored(shown_w, shown_h);
        // Each rendition comes from the one before it: the cascade reads ever fewer pixels.
        current = current.resized(stored_w, stored_h, &mut resizer)?;
        let mut pixels = current.oriented(orientation);
        if let Some(srgb) = &srgb {
            pixels.convert(srgb)?;
        }
        let (content_type, bytes) = encoder.encode(&pixels, output)?;
        renditions.push(Rendition {
            size,
            content_type,
            width: pixels.width(),
            height: pixels.height(),
            bytes,
        });
    }
    Ok(Rendered {
        width,
        height,
        renditions,
    })
}

#[cfg(test)]
pub(crate) use heif::tests as heif_samples;
#[cfg(test)]
pub(crate) use jxl::tests as jxl_files;

/// Also the image builders of the handler tests.
#[cfg(test)]
pub(crate) mod tests;
