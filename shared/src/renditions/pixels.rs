//! Pixel buffers in the two shapes the pipeline keeps: JPEG's own YCbCr planes (never turned into
//! RGB, which saves a colour conversion each way) and interleaved RGB/RGBA for everything else.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{PixelType, ResizeOptions, Resizer};

use super::RenditionError;
use super::colour::SrgbConversion;
use super::orient::Orientation;

/// One 8-bit plane; `stride` x `rows` is the buffer, `width` x `height` the picture inside it.
pub(crate) struct Plane {
    pub data: Vec<u8>,
    pub stride: usize,
    pub rows: usize,
    pub width: u32,
    pub height: u32,
}

impl Plane {
    pub fn tight(data: Vec<u8>, width: u32, height: u32) -> Self {
        Self {
            data,
            stride: width as usize,
            rows: height as usize,
            width,
            height,
        }
    }

    fn is_tight(&self) -> bool {
        self.stride == self.width as usize
    }

    /// The plane copied into a `width` x `height` buffer, the edge pixels repeated: what an
    /// encoder that works in whole chroma blocks expects.
    pub fn padded(&self, width: usize, height: usize) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut out = Vec::with_capacity(width * height);
        for row in 0..height {
            let src = &self.data[row.min(h - 1) * self.stride..][..w];
            out.extend_from_slice(src);
            out.resize(out.len() + (width - w), src[w - 1]);
        }
        out
    }
}

pub(crate) enum Pixels {
    /// Luma and, unless the JPEG is greyscale, Cb and Cr (possibly subsampled).
    YCbCr {
        y: Plane,
        chroma: Option<[Plane; 2]>,
    },
    Rgb(Interleaved),
    Rgba(Interleaved),
}

pub(crate) struct Interleaved {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn internal(err: impl std::fmt::Display) -> RenditionError {
    RenditionError::Internal(err.to_string())
}

impl Pixels {
    /// RGBA pixels, kept as RGBA only if some pixel is not fully opaque: an opaque image becomes
    /// a JPEG, which is several times smaller than a PNG.
    pub fn from_rgba(data: Vec<u8>, width: u32, height: u32) -> Self {
        if data.chunks_exact(4).all(|p| p[3] == u8::MAX) {
            let rgb = data
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            Self::Rgb(Interleaved {
                data: rgb,
                width,
                height,
            })
        } else {
            Self::Rgba(Interleaved {
                data,
                width,
                height,
            })
        }
    }

    pub fn width(&self) -> u32 {
        match self {
            Self::YCbCr { y, .. } => y.width,
            Self::Rgb(p) | Self::Rgba(p) => p.width,
        }
    }

    pub fn height(&self) -> u32 {
        match self {
            Self::YCbCr { y, .. } => y.height,
            Self::Rgb(p) | Self::Rgba(p) => p.height,
        }
    }

    pub fn has_alpha(&self) -> bool {
        matches!(self, Self::Rgba(_))
    }

    /// Resized to `width` x `height` (Lanczos3); chroma planes go to the 4:2:0 size of the result,
    /// which is what the JPEG encoder takes. A no-op when nothing changes.
    pub fn resized(
        self,
        width: u32,
        height: u32,
        resizer: &mut Resizer,
    ) -> Result<Self, RenditionError> {
        Ok(match self {
            Self::YCbCr { y, chroma } => {
                let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
                let chroma = match chroma {
                    Some([cb, cr]) => Some([
                        resize_plane(cb, cw, ch, resizer)?,
                        resize_plane(cr, cw, ch, resizer)?,
                    ]),
                    None => None,
                };
                Self::YCbCr {
                    y: resize_plane(y, width, height, resizer)?,
                    chroma,
                }
            }
            Self::Rgb(p) => Self::Rgb(resize_interleaved(
                p,
                PixelType::U8x3,
                width,
                height,
                resizer,
            )?),
            Self::Rgba(p) => Self::Rgba(resize_interleaved(
                p,
                PixelType::U8x4,
                width,
                height,
                resizer,
            )?),
        })
    }

    /// A tightly packed copy, turned upright.
    pub fn oriented(&self, orientation: Orientation) -> Self {
        let plane = |p: &Plane| {
            let (data, w, h) = orientation.apply(&p.data, p.width, p.height, 1);
            Plane::tight(data, w, h)
        };
        let interleaved = |p: &Interleaved, channels| {
            let (data, width, height) = orientation.apply(&p.data, p.width, p.height, channels);
            Interleaved {
                data,
                width,
                height,
            }
        };
        match self {
            Self::YCbCr { y, chroma } => Self::YCbCr {
                y: plane(y),
                chroma: chroma.as_ref().map(|[cb, cr]| [plane(cb), plane(cr)]),
            },
            Self::Rgb(p) => Self::Rgb(interleaved(p, 3)),
            Self::Rgba(p) => Self::Rgba(interleaved(p, 4)),
        }
    }

    /// Converts RGB(A) pixels to sRGB. YCbCr planes are only kept for JPEGs that are sRGB already.
    pub fn convert(&mut self, srgb: &SrgbConversion) -> Result<(), RenditionError> {
        match self {
            Self::YCbCr { .. } => Ok(()),
            Self::Rgb(p) | Self::Rgba(p) => srgb.apply(&mut p.data),
        }
    }
}

fn resize_plane(
    src: Plane,
    width: u32,
    height: u32,
    resizer: &mut Resizer,
) -> Result<Plane, RenditionError> {
    if src.width == width && src.height == height && src.is_tight() {
        return Ok(src);
    }
    let view = ImageRef::new(src.stride as u32, src.rows as u32, &src.data, PixelType::U8)
        .map_err(internal)?;
    let mut dst = Image::new(width, height, PixelType::U8);
    let options = ResizeOptions::new().crop(0.0, 0.0, f64::from(src.width), f64::from(src.height));
    resizer
        .resize(&view, &mut dst, &options)
        .map_err(internal)?;
    Ok(Plane::tight(dst.into_vec(), width, height))
}

fn resize_interleaved(
    src: Interleaved,
    pixel_type: PixelType,
    width: u32,
    height: u32,
    resizer: &mut Resizer,
) -> Result<Interleaved, RenditionError> {
    if src.width == width && src.height == height {
        return Ok(src);
    }
    let view = ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(internal)?;
    let mut dst = Image::new(width, height, pixel_type);
    // RGBA is resized premultiplied (the default) so transparent pixels do not bleed colour.
    resizer
        .resize(&view, &mut dst, &ResizeOptions::new())
        .map_err(internal)?;
    Ok(Interleaved {
        data: dst.into_vec(),
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_repeats_the_last_column_and_row() {
        let plane = Plane {
            data: vec![1, 2, 0, 3, 4, 0],
            stride: 3,
            rows: 2,
            width: 2,
            height: 2,
        };
        assert_eq!(plane.padded(3, 3), vec![1, 2, 2, 3, 4, 4, 3, 4, 4]);
    }

    #[test]
    fn opaque_rgba_becomes_rgb_and_translucent_stays_rgba() {
        let opaque = Pixels::from_rgba(vec![1, 2, 3, 255, 4, 5, 6, 255], 2, 1);
        assert!(matches!(&opaque, Pixels::Rgb(p) if p.data == [1, 2, 3, 4, 5, 6]));
        let translucent = Pixels::from_rgba(vec![1, 2, 3, 255, 4, 5, 6, 0], 2, 1);
        assert!(translucent.has_alpha());
    }

    #[test]
    fn chroma_follows_the_4_2_0_size_of_odd_luma() {
        let mut resizer = Resizer::new();
        let pixels = Pixels::YCbCr {
            y: Plane::tight(vec![128; 16 * 16], 16, 16),
            chroma: Some([
                Plane::tight(vec![128; 8 * 8], 8, 8),
                Plane::tight(vec![128; 8 * 8], 8, 8),
            ]),
        };
        let Pixels::YCbCr { y, chroma } = pixels.resized(7, 5, &mut resizer).unwrap() else {
            panic!("planes stay planes");
        };
        assert_eq!((y.width, y.height), (7, 5));
        let [cb, cr] = chroma.unwrap();
        assert_eq!((cb.width, cb.height, cr.width, cr.height), (4, 3, 4, 3));
    }
}
