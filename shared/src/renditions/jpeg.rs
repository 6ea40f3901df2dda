//! JPEG through libjpeg-turbo: decoded straight to YCbCr planes at the largest DCT scale (1, 1/2,
//! 1/4, 1/8) that still covers the largest rendition, so a 24 MP photo is never expanded to
//! 24 MP of RGB.

use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp, YuvImage};

use super::decode::Raster;
use super::pixels::{Interleaved, Pixels, Plane};
use super::{DecodeLimits, RenditionError, colour};
use crate::domain::fit_within;

fn corrupt(err: turbojpeg::Error) -> RenditionError {
    RenditionError::Corrupt(err.to_string())
}

pub(crate) fn decode(
    bytes: &[u8],
    largest_side: u32,
    limits: &DecodeLimits,
) -> Result<Raster, RenditionError> {
    let mut decompressor =
        Decompressor::new().map_err(|err| RenditionError::Internal(err.to_string()))?;
    let header = decompressor.read_header(bytes).map_err(corrupt)?;
    limits.check(header.width as u64, header.height as u64)?;
    let (width, height) = (header.width as u32, header.height as u32);
    if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Err(RenditionError::UnsupportedFormat("CMYK JPEG".into()));
    }

    let (target_w, target_h) = fit_within(width, height, largest_side);
    let scale = shrink_on_load(width, height, target_w, target_h);
    decompressor.set_scaling_factor(scale).map_err(corrupt)?;
    let scaled = header.scaled(scale);

    let icc_profile = icc_profile(bytes);
    let needs_rgb = header.colorspace == Colorspace::RGB
        || icc_profile.as_deref().is_some_and(colour::needs_conversion);
    let pixels = if needs_rgb {
        let mut image = Image {
            pixels: vec![0; scaled.width * scaled.height * 3],
            width: scaled.width,
            pitch: scaled.width * 3,
            height: scaled.height,
            format: PixelFormat::RGB,
        };
        decompressor
            .decompress(bytes, image.as_deref_mut())
            .map_err(corrupt)?;
        Pixels::Rgb(Interleaved {
            data: image.pixels,
            width: scaled.width as u32,
            height: scaled.height as u32,
        })
    } else {
        decode_planes(
            &mut decompressor,
            bytes,
            scaled.width,
            scaled.height,
            header.subsamp,
        )?
    };
    Ok(Raster {
        pixels,
        width,
        height,
        // Only RGB output still needs converting; planes are kept only for sRGB images.
        icc_profile: if needs_rgb { icc_profile } else { None },
    })
}

/// The smallest DCT scale whose output still covers `target_w` x `target_h`.
fn shrink_on_load(width: u32, height: u32, target_w: u32, target_h: u32) -> ScalingFactor {
    [8, 4, 2]
        .into_iter()
        .map(|denom| ScalingFactor::new(1, denom))
        .find(|scale| {
            scale.scale(width as usize) >= target_w as usize
                && scale.scale(height as usize) >= target_h as usize
        })
        .unwrap_or(ScalingFactor::ONE)
}

fn decode_planes(
    decompressor: &mut Decompressor,
    bytes: &[u8],
    width: usize,
    height: usize,
    subsamp: Subsamp,
) -> Result<Pixels, RenditionError> {
    let align = 1;
    let len = turbojpeg::yuv_pixels_len(width, align, height, subsamp).map_err(corrupt)?;
    let mut image = YuvImage {
        pixels: vec![0; len],
        width,
        align,
        height,
        subsamp,
    };
    decompressor
        .decompress_to_yuv(bytes, image.as_deref_mut())
        .map_err(corrupt)?;

    let (y_stride, y_rows) = image.y_size();
    let (c_stride, c_rows) = image.uv_size();
    let y_len = y_stride * y_rows;
    let mut data = image.pixels;
    let luma_only = subsamp == Subsamp::Gray;
    let chroma = if luma_only {
        None
    } else {
        let c_len = c_stride * c_rows;
        // The picture inside each chroma plane: the luma size divided by the subsampling.
        let c_width = width.div_ceil(subsamp.mcu_width() / 8) as u32;
        let c_height = height.div_ceil(subsamp.mcu_height() / 8) as u32;
        let plane = |data: Vec<u8>| Plane {
            data,
            stride: c_stride,
            rows: c_rows,
            width: c_width,
            height: c_height,
        };
        let cr = data.split_off(y_len + c_len);
        let cb = data.split_off(y_len);
        Some([plane(cb), plane(cr)])
    };
    data.truncate(y_len);
    Ok(Pixels::YCbCr {
        y: Plane {
            data,
            stride: y_stride,
            rows: y_rows,
            width: width as u32,
            height: height as u32,
        },
        chroma,
    })
}

/// The ICC profile of a JPEG: the APP2 "ICC_PROFILE" chunks before the first scan, in order.
fn icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    const TAG: &[u8] = b"ICC_PROFILE\0";
    let mut chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut pos = 2;
    while let Some(&[0xFF, marker]) = bytes.get(pos..pos + 2) {
        match marker {
            0xFF => {
                pos += 1;
                continue;
            }
            // Start of scan or end of image: the headers are over.
            0xDA | 0xD9 => break,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes(
            bytes.get(pos + 2..pos + 4)?.try_into().ok()?,
        ));
        let body = bytes.get(pos + 4..(pos + 2 + len).max(pos + 4))?;
        if marker == 0xE2
            && let Some(rest) = body.strip_prefix(TAG)
            && rest.len() > 2
        {
            chunks.push((rest[0], &rest[2..]));
        }
        pos += 2 + len.max(2);
    }
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(sequence, _)| *sequence);
    Some(
        chunks
            .into_iter()
            .flat_map(|(_, data)| data.iter().copied())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dct_scale_is_the_smallest_that_still_covers_the_largest_rendition() {
        // 12 MP: half of 4000 is 2000, short of 2048, so it decodes at full size.
        assert_eq!(shrink_on_load(4000, 3000, 2048, 1536), ScalingFactor::ONE);
        // 24 MP: half of 6000 is 3000 >= 2048, a quarter (1500) is not.
        assert_eq!(
            shrink_on_load(6000, 4000, 2048, 1365),
            ScalingFactor::new(1, 2)
        );
        assert_eq!(
            shrink_on_load(17000, 1000, 2048, 120),
            ScalingFactor::new(1, 8)
        );
        assert_eq!(shrink_on_load(300, 200, 300, 200), ScalingFactor::ONE);
    }

    #[test]
    fn icc_chunks_are_joined_in_sequence_order() {
        let app2 = |seq: u8, data: &[u8]| {
            let mut body = b"ICC_PROFILE\0".to_vec();
            body.extend([seq, 2]);
            body.extend(data);
            let mut seg = vec![0xFF, 0xE2];
            seg.extend(((body.len() + 2) as u16).to_be_bytes());
            seg.extend(body);
            seg
        };
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(app2(2, b"world"));
        jpeg.extend(app2(1, b"hello "));
        jpeg.extend([0xFF, 0xDA, 0, 2]);
        assert_eq!(icc_profile(&jpeg).as_deref(), Some(&b"hello world"[..]));
        assert_eq!(icc_profile(&[0xFF, 0xD8, 0xFF, 0xE2]), None);
        assert_eq!(icc_profile(&[0xFF, 0xD8, 0xFF, 0xDA]), None);
    }
}
