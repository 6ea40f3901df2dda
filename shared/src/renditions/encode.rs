//! Output formats: opaque renditions become progressive JPEG (quality 80, 4:2:0), renditions with
//! transparency become PNG. Only pixels are written: no EXIF, GPS, XMP or ICC.

use turbojpeg::{Compressor, Image, PixelFormat, Subsamp, YuvPlanesImage};

use super::RenditionError;
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

    /// The content type and bytes of `pixels` (tightly packed, upright, sRGB).
    pub fn encode(&mut self, pixels: &Pixels) -> Result<(&'static str, Vec<u8>), RenditionError> {
        match pixels {
            Pixels::YCbCr { y, chroma } => self.jpeg_from_planes(y, chroma.as_ref()),
            Pixels::Rgb(rgb) => self.jpeg_from_rgb(rgb),
            Pixels::Rgba(rgba) => png_from_rgba(rgba),
        }
        .map(|bytes| {
            let content_type = if pixels.has_alpha() {
                "image/png"
            } else {
                "image/jpeg"
            };
            (content_type, bytes)
        })
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

fn png_from_rgba(rgba: &Interleaved) -> Result<Vec<u8>, RenditionError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, rgba.width, rgba.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(internal)?;
    writer.write_image_data(&rgba.data).map_err(internal)?;
    writer.finish().map_err(internal)?;
    Ok(out)
}
