//! TIFF through image-rs's pure-Rust `tiff` crate: the first page (IFD 0) only; later pages are
//! never walked, so their number costs nothing. Greyscale (1 to 16 bits, with alpha), RGB(A),
//! palette (1 to 8 bits), CMYK(A) and JPEG-compressed YCbCr, 8 or 16 bits a sample, chunky or
//! planar, uncompressed, LZW, Deflate, PackBits, JPEG or CCITT G3/G4. 16-bit samples keep their
//! high byte. The limits are checked against the IFD's size before any pixel is read, and the
//! decoder may allocate no more than the other decoders (`raster::decoder_memory`), so 16-bit
//! files are held to half the pixels.

use std::io::Cursor;

use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::{ExtraSamples, SampleFormat, Tag};

use super::colour::{self, CmykConversion};
use super::decode::Raster;
use super::pixels::{Interleaved, Pixels};
use super::raster::decoder_memory;
use super::{DecodeLimits, RenditionError};

fn corrupt(err: tiff::TiffError) -> RenditionError {
    RenditionError::Corrupt(err.to_string())
}

fn unsupported(what: impl std::fmt::Display) -> RenditionError {
    RenditionError::UnsupportedFormat(format!("TIFF with {what}"))
}

pub(crate) fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Raster, RenditionError> {
    let mut budget = Limits::default();
    budget.decoding_buffer_size = decoder_memory(limits);
    budget.intermediate_buffer_size = decoder_memory(limits);
    // Tags read later are capped too; the ICC profile, which can be larger, is read directly.
    budget.ifd_value_size = MAX_TAG_BYTES as usize;
    // The crate reads IFD 0's layout tags in `Decoder::new`, before `with_limits` applies, and
    // holds every value as a 32-byte `Value`: fuzzing found one tag count making a 64 MiB
    // allocation. Those tags are measured here first.
    if let Some((_, entries)) = ifd0(bytes)
        && entries.iter().any(|&(tag, kind, count, _)| {
            LAYOUT_TAGS.contains(&tag) && u64::from(count) * type_size(kind) > MAX_TAG_BYTES
        })
    {
        return Err(RenditionError::Corrupt(
            "a TIFF tag holds too many values".into(),
        ));
    }
    // The crate reads no palette images; a copy that calls them greyscale yields the indices.
    let palette_copy = indices_as_grey(bytes);
    let palette = palette_copy.is_some();
    let mut decoder = Decoder::new(Cursor::new(palette_copy.as_deref().unwrap_or(bytes)))
        .map_err(corrupt)?
        .with_limits(budget);
    let (width, height) = decoder.dimensions().map_err(corrupt)?;
    limits.check(u64::from(width), u64::from(height))?;
    let too_large = || RenditionError::TooLarge {
        width: u64::from(width),
        height: u64::from(height),
        max_pixels: limits.max_pixels,
        max_side: limits.max_side,
    };

    let colour = match decoder.colortype().map_err(corrupt)? {
        ColorType::Gray(bits) if palette => ColorType::Palette(bits),
        colour => colour,
    };
    let format = decoder
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(corrupt)?
        .unwrap_or_default();
    if format
        .iter()
        .any(|&f| SampleFormat::from_u16(f) != Some(SampleFormat::Uint))
    {
        return Err(unsupported("signed or floating-point samples"));
    }
    let icc_profile = icc_profile(bytes);
    let associated_alpha = decoder
        .find_tag_unsigned_vec::<u16>(Tag::ExtraSamples)
        .ok()
        .flatten()
        .is_some_and(|extra| {
            extra.first().copied().and_then(ExtraSamples::from_u16)
                == Some(ExtraSamples::AssociatedAlpha)
        });
    let colour_map = match colour {
        ColorType::Palette(_) => Some(decoder.get_tag_u16_vec(Tag::ColorMap).map_err(corrupt)?),
        _ => None,
    };

    let mut result = DecodingResult::U8(Vec::new());
    let layout = decoder
        .read_image_to_buffer(&mut result)
        .map_err(|err| match err {
            tiff::TiffError::LimitsExceeded => too_large(),
            other => corrupt(other),
        })?;
    let samples = match result {
        DecodingResult::U8(samples) => samples,
        // Only the high byte of a 16-bit sample reaches an 8-bit rendition.
        DecodingResult::U16(samples) => samples.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => return Err(unsupported(format!("{colour:?} samples"))),
    };
    let bytes_per_sample = (colour.bit_depth() as usize).div_ceil(8);
    // The decoder falls back to reading one plane when all of them exceed its budget.
    if samples.len() * bytes_per_sample < layout.complete_len {
        return Err(too_large());
    }
    let samples = if layout.planes > 1 {
        let plane = layout.plane_stride.map_or(0, |n| n.get()) / bytes_per_sample;
        interleave(&samples, layout.planes, plane)
    } else {
        samples
    };

    let (w, h) = (width as usize, height as usize);
    let pixels = match colour {
        ColorType::Gray(bits @ (1 | 2 | 4)) => {
            let row_bytes = (w * usize::from(bits)).div_ceil(8);
            let max = (1u32 << bits) - 1;
            let grey =
                unpack(&samples, bits, w, h, row_bytes).map(|v| (u32::from(v) * 255 / max) as u8);
            Pixels::Rgb(Interleaved {
                data: grey.flat_map(|g| [g, g, g]).collect(),
                width,
                height,
            })
        }
        ColorType::Gray(8 | 16) => Pixels::Rgb(Interleaved {
            data: samples
                .iter()
                .take(w * h)
                .flat_map(|&g| [g, g, g])
                .collect(),
            width,
            height,
        }),
        ColorType::Multiband {
            bit_depth: 8 | 16,
            num_samples: 2,
        } => Pixels::from_rgba(
            straight(
                samples
                    .chunks_exact(2)
                    .take(w * h)
                    .flat_map(|ga| [ga[0], ga[0], ga[0], ga[1]])
                    .collect(),
                associated_alpha,
            ),
            width,
            height,
        ),
        ColorType::Palette(bits @ (1 | 2 | 4 | 8)) => {
            let map = colour_map.unwrap_or_default();
            let entries = 1usize << bits;
            if map.len() < 3 * entries {
                return Err(RenditionError::Corrupt("TIFF colour map too short".into()));
            }
            let row_bytes = (w * usize::from(bits)).div_ceil(8);
            let rgb = unpack(&samples, bits, w, h, row_bytes)
                .flat_map(|i| {
                    let i = usize::from(i);
                    [map[i], map[entries + i], map[2 * entries + i]].map(|c| (c >> 8) as u8)
                })
                .collect();
            Pixels::Rgb(Interleaved {
                data: rgb,
                width,
                height,
            })
        }
        ColorType::RGB(8 | 16) => Pixels::Rgb(Interleaved {
            data: take(samples, w * h * 3)?,
            width,
            height,
        }),
        ColorType::RGBA(8 | 16) => Pixels::from_rgba(
            straight(take(samples, w * h * 4)?, associated_alpha),
            width,
            height,
        ),
        ColorType::YCbCr(8) => Pixels::Rgb(Interleaved {
            data: take(samples, w * h * 3)?
                .chunks_exact(3)
                .flat_map(ycbcr_to_rgb)
                .collect(),
            width,
            height,
        }),
        ColorType::CMYK(8 | 16) | ColorType::CMYKA(8 | 16) => {
            let channels = if matches!(colour, ColorType::CMYK(_)) {
                4
            } else {
                5
            };
            let samples = take(samples, w * h * channels)?;
            let cmyk: Vec<u8> = samples
                .chunks_exact(channels)
                .flat_map(|p| [p[0], p[1], p[2], p[3]])
                .collect();
            // TIFF stores ink amounts (0 = no ink), as ICC profiles expect.
            let rgb = match icc_profile.as_deref().and_then(CmykConversion::from_icc) {
                Some(conversion) => conversion.apply(&cmyk)?,
                None => colour::naive_cmyk_to_rgb(&cmyk),
            };
            if channels == 5 {
                let rgba = rgb
                    .chunks_exact(3)
                    .zip(samples.chunks_exact(5))
                    .flat_map(|(c, p)| [c[0], c[1], c[2], p[4]])
                    .collect();
                Pixels::from_rgba(straight(rgba, associated_alpha), width, height)
            } else {
                Pixels::Rgb(Interleaved {
                    data: rgb,
                    width,
                    height,
                })
            }
        }
        other => return Err(unsupported(format!("{other:?} pixels"))),
    };
    let cmyk = matches!(colour, ColorType::CMYK(_) | ColorType::CMYKA(_));
    Ok(Raster {
        pixels,
        width,
        height,
        // A CMYK profile has been applied already; an RGB or grey one is applied later.
        icc_profile: if cmyk { None } else { icc_profile },
    })
}

/// The tags `tiff` 0.11 reads when it opens a page (`decoder/image.rs`), and ColorMap, read here:
/// ImageWidth, ImageLength, BitsPerSample, Compression, PhotometricInterpretation, StripOffsets,
/// SamplesPerPixel, RowsPerStrip, StripByteCounts, PlanarConfiguration, Predictor, TileWidth,
/// TileLength, TileOffsets, TileByteCounts, ColorMap, ExtraSamples, SampleFormat, JPEGTables,
/// YCbCrSubSampling.
const LAYOUT_TAGS: [u16; 20] = [
    256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 320, 338, 339, 347,
    530,
];

/// Raw bytes a layout tag may hold: 64k strip or tile offsets, far beyond real files (a 20,000-row
/// image in one-row strips needs 80 KB).
const MAX_TAG_BYTES: u64 = 256 * 1024;

/// Bytes a value of TIFF type `kind` takes (TIFF 6.0 and BigTIFF types; unknown types count 8).
fn type_size(kind: u16) -> u64 {
    match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        _ => 8,
    }
}

/// An IFD entry: tag, type, count, and where its four-byte value field is in the file.
type Entry = (u16, u16, u32, usize);

/// IFD 0's entries of a classic (not Big) TIFF, with the byte order (`true`: little-endian).
fn ifd0(bytes: &[u8]) -> Option<(bool, Vec<Entry>)> {
    let little = match bytes.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let ifd = u32_at(bytes, 4, little)? as usize;
    let count = usize::from(u16_at(ifd)?);
    let entries = (0..count)
        .map(|i| {
            let entry = ifd.checked_add(2 + i * 12)?;
            Some((
                u16_at(entry)?,
                u16_at(entry + 2)?,
                u32_at(bytes, entry + 4, little)?,
                entry + 8,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((little, entries))
}

fn u32_at(bytes: &[u8], at: usize, little: bool) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// The ICC profile (tag 34675, bytes) of IFD 0, borrowed from the file.
fn icc_profile(bytes: &[u8]) -> Option<Vec<u8>> {
    let (little, entries) = ifd0(bytes)?;
    let &(_, kind, count, field) = entries.iter().find(|(tag, ..)| *tag == 34675)?;
    // UNDEFINED or BYTE; four bytes or fewer would be inline, and no profile is that small.
    if !matches!(kind, 1 | 7) || count <= 4 {
        return None;
    }
    let at = u32_at(bytes, field, little)? as usize;
    bytes
        .get(at..at.checked_add(count as usize)?)
        .map(<[u8]>::to_vec)
}

/// A copy of a palette TIFF (PhotometricInterpretation 3 in IFD 0) whose IFD 0 says BlackIsZero
/// (1) instead: the `tiff` crate refuses palette images but reads their indices as grey samples,
/// and the colour map is applied here. `None` for every other file (and for BigTIFF).
fn indices_as_grey(bytes: &[u8]) -> Option<Vec<u8>> {
    let (little, entries) = ifd0(bytes)?;
    // PhotometricInterpretation, SHORT, one value of 3 (RGB palette).
    let &(_, _, _, field) = entries
        .iter()
        .find(|&&(tag, kind, count, _)| tag == 262 && kind == 3 && count == 1)?;
    let value = bytes.get(field..field + 2)?;
    let three = if little { [3, 0] } else { [0, 3] };
    if value != three {
        return None;
    }
    let mut copy = bytes.to_vec();
    copy[field..field + 2].copy_from_slice(if little { &[1, 0] } else { &[0, 1] });
    Some(copy)
}

/// The first `len` samples, or an error when the decoder gave fewer.
fn take(mut samples: Vec<u8>, len: usize) -> Result<Vec<u8>, RenditionError> {
    if samples.len() < len {
        return Err(RenditionError::Corrupt("TIFF image data too short".into()));
    }
    samples.truncate(len);
    Ok(samples)
}

/// Planar samples (all of plane 0, then all of plane 1, ...) interleaved pixel by pixel.
fn interleave(samples: &[u8], planes: usize, plane_len: usize) -> Vec<u8> {
    (0..plane_len)
        .flat_map(|i| {
            (0..planes).map(move |p| samples.get(p * plane_len + i).copied().unwrap_or(0))
        })
        .collect()
}

/// `bits`-bit samples, most significant first, rows starting on a byte boundary.
fn unpack(
    samples: &[u8],
    bits: u8,
    width: usize,
    height: usize,
    row_bytes: usize,
) -> impl Iterator<Item = u8> + '_ {
    let per_byte = 8 / usize::from(bits);
    let mask = ((1u16 << bits) - 1) as u8;
    (0..height).flat_map(move |y| {
        (0..width).map(move |x| {
            let byte = samples
                .get(y * row_bytes + x / per_byte)
                .copied()
                .unwrap_or(0);
            let shift = 8 - usize::from(bits) * (x % per_byte + 1);
            (byte >> shift) & mask
        })
    })
}

/// RGBA with alpha unpremultiplied when the file says it is premultiplied ("associated").
fn straight(mut rgba: Vec<u8>, associated: bool) -> Vec<u8> {
    if associated {
        for p in rgba.chunks_exact_mut(4) {
            let a = u32::from(p[3]);
            if a > 0 && a < 255 {
                for c in &mut p[..3] {
                    *c = (u32::from(*c) * 255 / a).min(255) as u8;
                }
            }
        }
    }
    rgba
}

/// JPEG's full-range BT.601 YCbCr (what JPEG-compressed TIFFs hold) to RGB.
fn ycbcr_to_rgb(p: &[u8]) -> [u8; 3] {
    let (y, cb, cr) = (
        f32::from(p[0]),
        f32::from(p[1]) - 128.0,
        f32::from(p[2]) - 128.0,
    );
    [
        y + 1.402 * cr,
        y - 0.344_136 * cb - 0.714_136 * cr,
        y + 1.772 * cb,
    ]
    .map(|v| v.round().clamp(0.0, 255.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_byte_samples_unpack_most_significant_first() {
        // Two rows of 3 two-bit samples: 0b00_01_10_xx, 0b11_10_01_xx.
        let samples = [0b0001_1000, 0b1110_0100];
        let values: Vec<u8> = unpack(&samples, 2, 3, 2, 1).collect();
        assert_eq!(values, [0, 1, 2, 3, 2, 1]);
        let bits: Vec<u8> = unpack(&[0b1010_0000], 1, 3, 1, 1).collect();
        assert_eq!(bits, [1, 0, 1]);
    }

    #[test]
    fn planes_are_interleaved_and_premultiplied_alpha_undone() {
        assert_eq!(interleave(&[1, 2, 3, 4, 5, 6], 3, 2), [1, 3, 5, 2, 4, 6]);
        assert_eq!(straight(vec![64, 32, 0, 128], true), [127, 63, 0, 128]);
        assert_eq!(straight(vec![64, 32, 0, 128], false), [64, 32, 0, 128]);
    }

    #[test]
    fn ycbcr_grey_stays_grey_and_red_is_red() {
        assert_eq!(ycbcr_to_rgb(&[128, 128, 128]), [128, 128, 128]);
        // JPEG's YCbCr of sRGB red (255, 0, 0).
        let red = ycbcr_to_rgb(&[76, 85, 255]);
        assert!(red[0] >= 253 && red[1] <= 2 && red[2] <= 2, "{red:?}");
    }
}
