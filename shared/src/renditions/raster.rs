//! PNG, GIF, WebP and BMP through the pure-Rust decoders of the image-rs family. None of these formats
//! can shrink on load, so they decode at full size; the size limits keep that bounded.

use std::io::Cursor;

use super::decode::Raster;
use super::libwebp;
use super::pixels::{Interleaved, Pixels};
use super::{DecodeLimits, RenditionError};

fn corrupt(err: impl std::fmt::Display) -> RenditionError {
    RenditionError::Corrupt(err.to_string())
}

/// Bytes a decoder may allocate for an image within `limits` (RGBA at the pixel limit, plus room
/// for a decoder's own line buffers).
pub(crate) fn decoder_memory(limits: &DecodeLimits) -> usize {
    (limits.max_pixels as usize)
        .saturating_mul(4)
        .saturating_add(16 << 20)
}

fn check_frames(frames: u32, limits: &DecodeLimits) -> Result<(), RenditionError> {
    if frames > limits.max_frames {
        return Err(RenditionError::TooManyFrames {
            max_frames: limits.max_frames,
        });
    }
    Ok(())
}

pub(crate) fn decode_png(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: decoder_memory(limits),
        },
    );
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    limits.check(u64::from(width), u64::from(height))?;
    if let Some(animation) = info.animation_control {
        check_frames(animation.num_frames, limits)?;
    }
    let icc_profile = info.icc_profile.as_ref().map(|icc| icc.to_vec());
    let len = reader
        .output_buffer_size()
        .ok_or_else(|| corrupt("image too large for memory"))?;
    let mut buf = vec![0; len];
    // The default image: for an animated PNG, its first frame.
    let frame = reader.next_frame(&mut buf).map_err(corrupt)?;
    buf.truncate(frame.buffer_size());
    let pixels = match frame.color_type {
        png::ColorType::Rgb => Pixels::Rgb(Interleaved {
            data: buf,
            width,
            height,
        }),
        png::ColorType::Rgba => Pixels::from_rgba(buf, width, height),
        png::ColorType::Grayscale => Pixels::Rgb(Interleaved {
            data: buf.iter().flat_map(|&g| [g, g, g]).collect(),
            width,
            height,
        }),
        png::ColorType::GrayscaleAlpha => Pixels::from_rgba(
            buf.chunks_exact(2)
                .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
                .collect(),
            width,
            height,
        ),
        png::ColorType::Indexed => {
            return Err(RenditionError::Internal(
                "palette PNG was not expanded".into(),
            ));
        }
    };
    Ok(Raster {
        pixels,
        width,
        height,
        icc_profile,
    })
}

/// The first frame, composed onto the logical screen; every further frame is only counted.
///
/// A first frame that reaches past the logical screen (off-spec, but written by real encoders)
/// grows the picture to the union of the two, as Chromium does (Wuffs' `frame-out-of-bounds`
/// notes list what each decoder does: Firefox moves the frame to the origin, gdk-pixbuf clips).
pub(crate) fn decode_gif(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    options.set_memory_limit(gif::MemoryLimit::Bytes(
        (decoder_memory(limits) as u64)
            .try_into()
            .map_err(|_| RenditionError::Internal("zero GIF memory limit".into()))?,
    ));
    let mut decoder = options.read_info(Cursor::new(bytes)).map_err(corrupt)?;
    let (screen_w, screen_h) = (u32::from(decoder.width()), u32::from(decoder.height()));
    limits.check(u64::from(screen_w), u64::from(screen_h))?;
    let frame = decoder
        .read_next_frame()
        .map_err(corrupt)?
        .ok_or_else(|| corrupt("the GIF has no frames"))?;
    let (left, top) = (usize::from(frame.left), usize::from(frame.top));
    let (frame_w, frame_h) = (usize::from(frame.width), usize::from(frame.height));
    let width = screen_w.max((left + frame_w) as u32);
    let height = screen_h.max((top + frame_h) as u32);
    limits.check(u64::from(width), u64::from(height))?;
    let (w, h) = (width as usize, height as usize);
    let mut canvas = vec![0u8; w * h * 4];
    // A zero-width frame draws nothing (and must not be split into zero-sized rows).
    for (row, line) in frame.buffer.chunks_exact(frame_w.max(1) * 4).enumerate() {
        let y = top + row;
        if y >= h || frame_w == 0 {
            break;
        }
        let start = (y * w + left) * 4;
        canvas[start..start + frame_w * 4].copy_from_slice(line);
    }
    let mut frames = 1;
    while decoder.next_frame_info().map_err(corrupt)?.is_some() {
        frames += 1;
        check_frames(frames, limits)?;
    }
    Ok(Raster {
        pixels: Pixels::from_rgba(canvas, width, height),
        width,
        height,
        icc_profile: None,
    })
}

/// A still WebP, or the first frame of an animated one.
pub(crate) fn decode_webp(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    limits.check(u64::from(width), u64::from(height))?;
    if decoder.is_animated() {
        check_frames(decoder.num_frames(), limits)?;
    }
    decoder.set_memory_limit(decoder_memory(limits));
    let icc_profile = decoder.icc_profile().map_err(corrupt)?;
    let buf = if decoder.is_animated() {
        // libwebp's simple API has no animation: image-webp composes the first frame.
        let len = decoder
            .output_buffer_size()
            .ok_or_else(|| corrupt("image too large for memory"))?;
        let mut buf = vec![0; len];
        decoder.read_frame(&mut buf).map_err(corrupt)?;
        buf
    } else {
        libwebp::decode_still(bytes, width, height, decoder.has_alpha())
            .ok_or_else(|| corrupt("libwebp could not decode the image"))?
    };
    let pixels = if decoder.has_alpha() {
        Pixels::from_rgba(buf, width, height)
    } else {
        Pixels::Rgb(Interleaved {
            data: buf,
            width,
            height,
        })
    };
    Ok(Raster {
        pixels,
        width,
        height,
        icc_profile,
    })
}

/// A BMP through the `image` crate's decoder (only its `bmp` feature): 1 to 32 bits a pixel,
/// palettes, bit fields, RLE4/RLE8, OS/2 and Windows headers, bottom-up and top-down rows.
pub(crate) fn decode_bmp(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    use image::ImageDecoder;

    let mut decoder = image::codecs::bmp::BmpDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    limits.check(u64::from(width), u64::from(height))?;
    let mut budget = image::Limits::default();
    budget.max_alloc = Some(decoder_memory(limits) as u64);
    decoder.set_limits(budget).map_err(corrupt)?;
    let colour = decoder.color_type();
    let len = usize::try_from(decoder.total_bytes())
        .map_err(|_| corrupt("image too large for memory"))?;
    let mut buf = vec![0; len];
    decoder.read_image(&mut buf).map_err(corrupt)?;
    let pixels = match colour {
        image::ColorType::Rgb8 => Pixels::Rgb(Interleaved {
            data: buf,
            width,
            height,
        }),
        image::ColorType::Rgba8 => Pixels::from_rgba(buf, width, height),
        other => {
            return Err(RenditionError::Internal(format!(
                "BMP decoded as {other:?}"
            )));
        }
    };
    Ok(Raster {
        pixels,
        width,
        height,
        icc_profile: None,
    })
}
