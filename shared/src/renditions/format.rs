//! Which format an image's renditions are written in, decided once per image from its decoded
//! pixels (README, "Formats"):
//!
//! - any pixel not fully opaque: PNG;
//! - a graphic: PNG. JPEG's 4:2:0 averages colour over 2x2 pixels and rings at hard edges, which
//!   turns a one-pixel red dot olive and smears a checkerboard grey. A graphic is an image with at
//!   most [`PALETTE_COLOURS`] distinct colours (every palette image: PNG, GIF, BMP and TIFF
//!   palettes hold at most 256) or, if all its pixels are grey, at most [`GREY_LEVELS`] levels
//!   (a greyscale photograph has a couple of hundred; bilevel and 4-bit scans have 2 to 16), or
//!   with at most [`FLAT_MAX_COLOURS`] colours and flat areas (at
//!   least half of all horizontally neighbouring pixels identical: logos with anti-aliased edges,
//!   charts, screenshots), or an image of at most [`SMALL_PIXELS`] pixels (64 x 64), where a
//!   2x2 chroma block is a visible part of the picture;
//! - everything else, photographs: progressive JPEG. A JPEG original is a photograph unless it
//!   is small: counting colours in lossy pixels measures the noise, not the picture.
//!
//! A PNG rendition with at most 256 colours is written as a palette PNG (README, "Formats").

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::pixels::Pixels;

/// Colours a palette PNG can hold; also the "few colours" bound for a graphic.
pub(crate) const PALETTE_COLOURS: usize = 256;

/// The most grey levels a greyscale graphic may have.
pub(crate) const GREY_LEVELS: usize = 16;

/// The most colours a flat-area graphic may have: anti-aliased logos and charts have a few hundred
/// to a few thousand, photographs tens of thousands even on a white background.
pub(crate) const FLAT_MAX_COLOURS: usize = 4096;

/// Images of at most this many pixels become PNG whatever they show.
pub(crate) const SMALL_PIXELS: u64 = 64 * 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    Jpeg,
    Png,
}

/// Whether a `width` x `height` image (full resolution) is small enough to be a PNG in any case.
pub(crate) fn is_small(width: u32, height: u32) -> bool {
    u64::from(width) * u64::from(height) <= SMALL_PIXELS
}

/// The output format for an image whose full-resolution size is `width` x `height` and whose
/// decoded pixels are `pixels`; `from_jpeg` when the original is a JPEG.
pub(crate) fn choose(pixels: &Pixels, width: u32, height: u32, from_jpeg: bool) -> Output {
    if pixels.has_alpha() || is_small(width, height) {
        return Output::Png;
    }
    let data = match pixels {
        Pixels::Rgb(rgb) if !from_jpeg => &rgb.data,
        // Small JPEGs are decoded to RGB so that they can be written as PNG.
        _ => return Output::Jpeg,
    };
    let channels = 3;
    let colours = count_colours(data, channels, FLAT_MAX_COLOURS);
    let few = if is_grey(data) {
        GREY_LEVELS
    } else {
        PALETTE_COLOURS
    };
    if colours <= few
        || (colours <= FLAT_MAX_COLOURS && is_flat(data, channels, pixels.width() as usize))
    {
        Output::Png
    } else {
        Output::Jpeg
    }
}

/// Distinct colours among `channels`-byte pixels, counted up to `cap + 1` (then it stops: a
/// photograph is known as one after a few thousand pixels).
pub(crate) fn count_colours(data: &[u8], channels: usize, cap: usize) -> usize {
    let mut seen: HashSet<u32, BuildHasherDefault<PixelHasher>> = HashSet::default();
    let mut previous = None;
    for pixel in data.chunks_exact(channels) {
        let colour = pack(pixel);
        // Graphics are runs of one colour: skip the lookup while the run lasts.
        if previous == Some(colour) {
            continue;
        }
        previous = Some(colour);
        if seen.insert(colour) && seen.len() > cap {
            break;
        }
    }
    seen.len()
}

pub(crate) fn pack(pixel: &[u8]) -> u32 {
    pixel
        .iter()
        .fold(0u32, |acc, &byte| (acc << 8) | u32::from(byte))
}

/// Every RGB pixel grey (R = G = B).
fn is_grey(rgb: &[u8]) -> bool {
    rgb.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2])
}

/// At least half of the horizontally neighbouring pixel pairs identical, looking at every 4th row.
fn is_flat(data: &[u8], channels: usize, width: usize) -> bool {
    let row_len = width * channels;
    if width < 2 || row_len == 0 {
        return false;
    }
    let (mut pairs, mut equal) = (0usize, 0usize);
    for row in data.chunks_exact(row_len).step_by(4) {
        for (a, b) in row
            .chunks_exact(channels)
            .zip(row.chunks_exact(channels).skip(1))
        {
            pairs += 1;
            equal += usize::from(a == b);
        }
    }
    equal * 2 >= pairs
}

/// A multiplicative hash for packed pixels: SipHash would cost more than the counting.
#[derive(Default)]
pub(crate) struct PixelHasher(u64);

impl Hasher for PixelHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::renditions::pixels::Interleaved;

    fn rgb(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Pixels {
        let data = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| pixel(x, y))
            .collect();
        Pixels::Rgb(Interleaved {
            data,
            width,
            height,
        })
    }

    fn choose_for(pixels: &Pixels) -> Output {
        choose(pixels, pixels.width(), pixels.height(), false)
    }

    /// Every pixel a different colour, no two neighbours alike: noise, a stand-in for a photo.
    fn noise(x: u32, y: u32, colours: u32) -> [u8; 3] {
        let i = (y * 7919 + x * 104_729) % colours;
        [(i % 256) as u8, (i / 256) as u8, (i * 37 % 251) as u8]
    }

    #[test]
    fn at_most_256_colours_is_a_graphic_and_257_a_photo() {
        let n = |x: u32, y: u32| (y * 100 + x) % 257;
        let c256 = rgb(100, 100, |x, y| noise(x, y, 256));
        assert_eq!(count_colours(&rgb_data(&c256), 3, 5000), 256);
        assert_eq!(choose_for(&c256), Output::Png);
        let c257 = rgb(100, 100, |x, y| {
            let i = n(x, y);
            [(i % 256) as u8, (i / 256) as u8, 9]
        });
        assert_eq!(count_colours(&rgb_data(&c257), 3, 5000), 257);
        assert_eq!(choose_for(&c257), Output::Jpeg);
    }

    fn rgb_data(pixels: &Pixels) -> Vec<u8> {
        match pixels {
            Pixels::Rgb(p) | Pixels::Rgba(p) => p.data.clone(),
            Pixels::YCbCr { .. } => unreachable!(),
        }
    }

    #[test]
    fn a_greyscale_photograph_is_a_photograph_and_a_bilevel_scan_a_graphic() {
        let grey = |x: u32, y: u32| {
            let v = ((x * 7 + y * 13) % 200) as u8;
            [v, v, v]
        };
        let photo = rgb(100, 100, grey);
        assert!(count_colours(&rgb_data(&photo), 3, 5000) <= 256);
        assert_eq!(choose_for(&photo), Output::Jpeg);
        let sixteen = rgb(100, 100, |x, y| grey(x, y).map(|v| v / 16 * 16));
        assert_eq!(choose_for(&sixteen), Output::Png);
    }

    #[test]
    fn small_images_are_graphics_whatever_they_show() {
        let small = rgb(64, 64, |x, y| noise(x, y, 100_000));
        assert_eq!(choose_for(&small), Output::Png);
        let larger = rgb(65, 64, |x, y| noise(x, y, 100_000));
        assert_eq!(choose_for(&larger), Output::Jpeg);
    }

    #[test]
    fn flat_areas_with_a_few_thousand_colours_are_a_graphic() {
        // A logo: a flat field with a noisy band of 1000 colours in the middle third.
        let logo = rgb(300, 300, |x, y| {
            if (100..200).contains(&x) {
                noise(x, y, 1000)
            } else {
                [250, 250, 250]
            }
        });
        assert_eq!(choose_for(&logo), Output::Png);
        // The same with 5000 colours in the band: a photograph on a white background.
        let product = rgb(300, 300, |x, y| {
            if (100..200).contains(&x) {
                noise(x, y, 5000)
            } else {
                [255, 255, 255]
            }
        });
        assert_eq!(choose_for(&product), Output::Jpeg);
        // Few flat areas (a third of the pairs) and 1000 colours: a photograph.
        let busy = rgb(300, 300, |x, y| {
            if x < 100 {
                [255, 255, 255]
            } else {
                noise(x, y, 1000)
            }
        });
        assert_eq!(choose_for(&busy), Output::Jpeg);
    }

    #[test]
    fn a_jpeg_original_is_a_photograph_unless_small() {
        let flat = rgb(100, 100, |_, _| [200, 0, 0]);
        assert_eq!(choose(&flat, 100, 100, true), Output::Jpeg);
        assert_eq!(choose(&flat, 100, 100, false), Output::Png);
        let small = rgb(64, 64, |_, _| [200, 0, 0]);
        assert_eq!(choose(&small, 64, 64, true), Output::Png);
    }

    #[test]
    fn transparency_is_always_png() {
        let rgba = Pixels::Rgba(Interleaved {
            data: [1, 2, 3, 0].repeat(100 * 100),
            width: 100,
            height: 100,
        });
        assert_eq!(choose_for(&rgba), Output::Png);
    }
}
