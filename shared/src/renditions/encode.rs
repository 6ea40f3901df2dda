//! Output formats: progressive JPEG (quality 80, 4:2:0) for photographs, PNG for graphics and
//! transparency (`format.rs` decides), as a palette PNG when the rendition has at most 256 colours.
//! Only pixels are written: no EXIF, GPS, XMP or ICC.

use turbojpeg::{Compressor, Image, PixelFormat, Subsamp, YuvPlanesImage};

use std::collections::HashMap;

use super::RenditionError;
use super::format::{self, Output};
use super::pixels::{Interleaved, Pixels, Plane};

pub const JPEG_QUALITY: i32 = 80;

fn internal(err: impl std::fmt::Display) -> RenditionError {
    RenditionError::Internal(err.to_string())
}

/// Reused for all renditions of an image, so libjpeg-turbo sets up once.
pub(crate) struct Encoder {
    jpeg: Compressor,
}

impl Encoder {
    pub fn new() -> Result<Self, RenditionError> {
        let mut jpeg = Compressor::new().map_err(internal)?;
        jpeg.set_quality(JPEG_QUALITY).map_err(internal)?;
        jpeg.set_subsamp(Subsamp::Sub2x2).map_err(internal)?;
        jpeg.set_progressive(true).map_err(internal)?;
        Ok(Self { jpeg })
    }

    /// The content type and bytes of `pixels` (tightly packed, upright, sRGB) as `output`.
    pub fn encode(
        &mut self,
        pixels: &Pixels,
        output: Output,
    ) -> Result<(&'static str, Vec<u8>), RenditionError> {
        match (output, pixels) {
            (Output::Jpeg, Pixels::YCbCr { y, chroma }) => {
                Ok(("image/jpeg", self.jpeg_from_planes(y, chroma.as_ref())?))
            }
            (Output::Jpeg, Pixels::Rgb(rgb)) => Ok(("image/jpeg", self.jpeg_from_rgb(rgb)?)),
            (Output::Png, Pixels::Rgb(rgb)) => Ok(("image/png", png(rgb, 3)?)),
            (Output::Png, Pixels::Rgba(rgba)) => Ok(("image/png", png(rgba, 4)?)),
            (Output::Jpeg, Pixels::Rgba(_)) | (Output::Png, Pixels::YCbCr { .. }) => Err(
                RenditionError::Internal(format!("no {output:?} encoder for these pixels")),
            ),
        }
    }

    fn jpeg_from_planes(
        &mut self,
        y: &Plane,
        chroma: Option<&[Plane; 2]>,
    ) -> Result<Vec<u8>, RenditionError> {
        let (width, height) = (y.width as usize, y.height as usize);
        // libjpeg-turbo reads 4:2:0 planes in whole 2x2 blocks: luma is padded to even sizes.
        let (y_w, y_h) = (width.next_multiple_of(2), height.next_multiple_of(2));
        let (c_w, c_h) = (y_w / 2, y_h / 2);
        let y_plane = y.padded(y_w, y_h);
        let (cb, cr) = match chroma {
            Some([cb, cr]) => (cb.padded(c_w, c_h), cr.padded(c_w, c_h)),
            // Greyscale: neutral chroma.
            None => (vec![128; c_w * c_h], vec![128; c_w * c_h]),
        };
        let image = YuvPlanesImage {
            y_plane: &y_plane[..],
            u_plane: &cb[..],
            v_plane: &cr[..],
            width,
            height,
            y_stride: y_w,
            u_stride: c_w,
            v_stride: c_w,
            subsamp: Subsamp::Sub2x2,
        };
        self.jpeg
            .compress_yuv_planes_to_vec(&image)
            .map_err(internal)
    }

    fn jpeg_from_rgb(&mut self, rgb: &Interleaved) -> Result<Vec<u8>, RenditionError> {
        let image = Image {
            pixels: &rgb.data[..],
            width: rgb.width as usize,
            pitch: rgb.width as usize * 3,
            height: rgb.height as usize,
            format: PixelFormat::RGB,
        };
        self.jpeg.compress_to_vec(image).map_err(internal)
    }
}

/// A PNG of `channels`-byte pixels (RGB or RGBA): indexed, with transparency in `tRNS`, when
/// there are at most 256 colours, else truecolour.
fn png(pixels: &Interleaved, channels: usize) -> Result<Vec<u8>, RenditionError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, pixels.width, pixels.height);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let indexed = palette(&pixels.data, channels);
    match &indexed {
        Some((palette, alphas, _)) => {
            encoder.set_color(png::ColorType::Indexed);
            encoder.set_palette(palette.as_slice());
            if channels == 4 {
                encoder.set_trns(alphas.as_slice());
            }
        }
        None if channels == 4 => encoder.set_color(png::ColorType::Rgba),
        None => encoder.set_color(png::ColorType::Rgb),
    }
    let mut writer = encoder.write_header().map_err(internal)?;
    let data = indexed
        .as_ref()
        .map_or(&pixels.data, |(_, _, indices)| indices);
    writer.write_image_data(data).map_err(internal)?;
    writer.finish().map_err(internal)?;
    Ok(out)
}

/// The palette (RGB triples), its alpha values and every pixel's index, when `data` has at most
/// 256 distinct colours.
fn palette(data: &[u8], channels: usize) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    if format::count_colours(data, channels, format::PALETTE_COLOURS) > format::PALETTE_COLOURS {
        return None;
    }
    let mut index: HashMap<u32, u8, std::hash::BuildHasherDefault<format::PixelHasher>> =
        HashMap::default();
    let (mut rgb, mut alphas) = (Vec::new(), Vec::new());
    let indices = data
        .chunks_exact(channels)
        .map(|pixel| {
            *index.entry(format::pack(pixel)).or_insert_with(|| {
                rgb.extend_from_slice(&pixel[..3]);
                alphas.push(pixel.get(3).copied().unwrap_or(u8::MAX));
                (alphas.len() - 1) as u8
            })
        })
        .collect();
    Some((rgb, alphas, indices))
}
