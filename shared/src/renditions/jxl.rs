//! JPEG XL (ISO/IEC 18181), bare codestream or ISOBMFF container, through `jxl` (jxl-rs, the
//! JPEG XL authors' Rust decoder, the one Chromium ships). Why this decoder: ARCHITECTURE.md,
//! "JPEG XL".
//!
//! Untrusted input: the size limits are checked from the image header (`BasicInfo`) before any
//! pixel buffer exists, and the decoder's own sample limit bounds every frame, preview and
//! reference frame it allocates (a JPEG XL frame may be larger than the image). Only the first
//! displayed frame is decoded: decoding stops there, so an animation's length costs nothing.

use jxl::api::{
    AlphaMode, Event, ExtraChannel, JxlColorEncoding, JxlColorProfile, JxlDecoder,
    JxlDecoderOptions, JxlOutputBuffer, JxlPixelFormat,
};

use super::decode::{Decoded, Raster, panic_is_corrupt};
use super::orient::Orientation;
use super::pixels::Pixels;
use super::{DecodeLimits, RenditionError};

/// Channels per pixel the decoder's sample limit allows for: colour plus extra channels (alpha,
/// depth, spot colours...), of which the Main profile's level 5 (ISO/IEC 18181-2), which the
/// decoder enforces by default, allows at most 4.
const MAX_CHANNELS: u64 = 3 + 4;

fn corrupt(err: impl std::fmt::Display) -> RenditionError {
    RenditionError::Corrupt(err.to_string())
}

fn truncated() -> RenditionError {
    RenditionError::Corrupt("the JPEG XL data ends before the picture does (truncated file)".into())
}

/// Decodes the first displayed frame of a JPEG XL file to upright RGB(A) pixels. The decoder
/// applies the header's orientation itself, so the result carries [`Orientation::Normal`].
///
/// Errors: [`RenditionError::TooLarge`] from the header; [`RenditionError::Corrupt`] for a
/// malformed or truncated file (including a panic inside the decoder);
/// [`RenditionError::UnsupportedFormat`] for a CMYK image (a `Black` extra channel).
pub(crate) fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded, RenditionError> {
    let raster = panic_is_corrupt("JPEG XL", || decode_first_frame(bytes, limits))?;
    Ok(Decoded {
        raster,
        orientation: Orientation::Normal,
    })
}

fn decode_first_frame(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    let mut options = JxlDecoderOptions::default();
    options.sample_limit = Some(
        limits
            .max_pixels
            .saturating_mul(MAX_CHANNELS)
            .try_into()
            .unwrap_or(usize::MAX),
    );
    // Renditions are straight-alpha PNGs.
    options.alpha_mode = AlphaMode::Unpremultiplied;
    let mut decoder = JxlDecoder::new(options);
    let mut input = bytes;
    loop {
        match decoder.process(&mut input, None, None).map_err(corrupt)? {
            Event::BasicInfo => break,
            Event::NeedMoreInput { .. } => return Err(truncated()),
            _ => {}
        }
    }
    let info = decoder
        .basic_info()
        .ok_or_else(|| corrupt("no image header"))?;
    // As displayed: the decoder has swapped the axes already for a transposing orientation.
    let (width, height) = info.size;
    limits.check(width as u64, height as u64)?;
    if info
        .extra_channels
        .iter()
        .any(|channel| channel.ec_type == ExtraChannel::Black)
    {
        return Err(RenditionError::UnsupportedFormat("CMYK JPEG XL".to_owned()));
    }
    decoder
        .set_pixel_format(JxlPixelFormat::rgba8(info.extra_channels.len()))
        .map_err(corrupt)?;
    let row_bytes = width * 4;
    let mut data = vec![0u8; row_bytes * height];
    loop {
        let mut buffers = [JxlOutputBuffer::new(&mut data, height, row_bytes)];
        match decoder
            .process(&mut input, Some(&mut buffers), None)
            .map_err(corrupt)?
        {
            Event::FrameComplete { .. } => break,
            Event::Complete => return Err(corrupt("no displayed frame")),
            Event::NeedMoreInput { .. } => return Err(truncated()),
            Event::BasicInfo | Event::FrameHeader => {}
        }
    }
    // The pixels are in the output profile: sRGB for XYB-coded (lossy) images unless the file
    // names a colour space the decoder can write directly, the file's own profile otherwise.
    // Anything but sRGB goes through the pipeline's ICC-to-sRGB conversion.
    let icc_profile = decoder
        .output_color_profile()
        .filter(|profile| !is_srgb(profile))
        .and_then(|profile| profile.try_as_icc())
        .map(|icc| icc.into_owned());
    let (width, height) = (width as u32, height as u32);
    Ok(Raster {
        pixels: Pixels::from_rgba(data, width, height),
        width,
        height,
        icc_profile,
    })
}

fn is_srgb(profile: &JxlColorProfile) -> bool {
    [false, true].into_iter().any(|grey| {
        profile.same_color_encoding(&JxlColorProfile::Simple(JxlColorEncoding::srgb(grey)))
    })
}

#[cfg(test)]
pub(crate) mod tests;
