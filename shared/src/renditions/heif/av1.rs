//! AVIF pixels: each `av01` item is one AV1 temporal unit, decoded by `rav1d` (dav1d's Rust
//! port, through dav1d's C-shaped API: the only `unsafe` here) and converted to RGB with the
//! `yuv` crate. Grids are composed tile by tile, the alpha item becomes the alpha channel, and
//! `clap` crops; `irot`/`imir` are left to the rendition pipeline as an [`Orientation`].
//!
//! [`Orientation`]: crate::renditions::Orientation

use std::ffi::c_uint;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use heifer_isobmff::boxes::{ColorInfo, Property};
use heifer_isobmff::{HeifFile, ItemId};
use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::headers::{
    DAV1D_PIXEL_LAYOUT_I400, DAV1D_PIXEL_LAYOUT_I420, DAV1D_PIXEL_LAYOUT_I422,
    DAV1D_PIXEL_LAYOUT_I444,
};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_picture_unref, dav1d_send_data,
};
use yuv::{YuvGrayImage, YuvPlanarImage, YuvRange, YuvStandardMatrix};

use super::{Header, MAX_TILES, alpha_item, corrupt};
use crate::renditions::pixels::Pixels;
use crate::renditions::{DecodeLimits, RenditionError};

/// Pictures one item may produce: a still image is one frame, a layered one up to four
/// (AV1 operating points); more is not a picture but an attempt to make the decoder work.
const MAX_PICTURES_PER_ITEM: usize = 8;

/// The primary image of an AVIF file as RGB(A), cropped to its clean aperture, not yet turned.
pub(super) fn decode(
    file: &HeifFile<'_>,
    header: &Header,
    limits: &DecodeLimits,
) -> Result<Pixels, RenditionError> {
    let mut decoder = Decoder::new(limits)?;
    let id = file.primary_id;
    let colour = decode_image(file, id, Channels::Rgba, &mut decoder, limits)?;
    let (width, height) = (colour.width, colour.height);
    if (width, height) != (header.width, header.height) {
        return Err(corrupt(format!(
            "the image is {width}x{height} pixels, its header says {}x{}",
            header.width, header.height
        )));
    }
    let mut rgba = colour.data;
    if let Some(alpha_id) = alpha_item(file, id) {
        let alpha = decode_image(file, alpha_id, Channels::Luma, &mut decoder, limits)?;
        if (alpha.width, alpha.height) != (width, height) {
            return Err(corrupt("the alpha plane's size differs from the image's"));
        }
        for (pixel, a) in rgba.chunks_exact_mut(4).zip(alpha.data) {
            pixel[3] = a;
        }
    }
    let (rgba, width, height) = match header.crop {
        Some(c) => {
            let row = width as usize * 4;
            let data = rgba
                .chunks_exact(row)
                .skip(c.top as usize)
                .take(c.height as usize)
                .flat_map(|line| &line[c.left as usize * 4..(c.left + c.width) as usize * 4])
                .copied()
                .collect();
            (data, c.width, c.height)
        }
        None => (rgba, width, height),
    };
    Ok(Pixels::from_rgba(rgba, width, height))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Channels {
    /// RGBA, opaque.
    Rgba,
    /// The luma plane alone: an alpha image.
    Luma,
}

impl Channels {
    fn count(self) -> usize {
        match self {
            Self::Rgba => 4,
            Self::Luma => 1,
        }
    }
}

/// Tightly packed 8-bit samples, `channels` per pixel.
struct Canvas {
    data: Vec<u8>,
    width: u32,
    height: u32,
}

/// A coded `av01` item, or a `grid` of them.
fn decode_image(
    file: &HeifFile<'_>,
    id: ItemId,
    channels: Channels,
    decoder: &mut Decoder,
    limits: &DecodeLimits,
) -> Result<Canvas, RenditionError> {
    let item_type = file.item(id).map_err(corrupt)?.item_type;
    match &item_type.0 {
        b"av01" => decode_coded(file, id, None, channels, decoder, limits),
        b"grid" => decode_grid(file, id, channels, decoder, limits),
        _ => Err(RenditionError::UnsupportedFormat(format!(
            "AVIF with `{item_type}` images"
        ))),
    }
}

/// ISO/IEC 23008-12 6.6.2.3: tiles of one size, row by row, cropped to the output size.
fn decode_grid(
    file: &HeifFile<'_>,
    id: ItemId,
    channels: Channels,
    decoder: &mut Decoder,
    limits: &DecodeLimits,
) -> Result<Canvas, RenditionError> {
    let grid = file.grid(id).map_err(corrupt)?;
    let (rows, columns) = (u32::from(grid.rows), u32::from(grid.columns));
    let tiles = file.referenced_items(id, b"dimg");
    if rows * columns > MAX_TILES || tiles.len() != (rows * columns) as usize {
        return Err(corrupt("the grid's tiles do not match its layout"));
    }
    let (width, height) = (grid.output_width, grid.output_height);
    limits.check(u64::from(width), u64::from(height))?;
    // The grid's colour information describes its tiles when they carry none of their own.
    let grid_colour = nclx(file, id);
    let n = channels.count();
    let mut canvas = vec![0u8; width as usize * height as usize * n];
    let mut tile_size = None;
    for (index, &tile_id) in tiles.iter().enumerate() {
        if file.item(tile_id).map_err(corrupt)?.item_type.0 != *b"av01" {
            return Err(corrupt("a grid tile is not an AV1 image"));
        }
        let tile = decode_coded(file, tile_id, grid_colour, channels, decoder, limits)?;
        let (tw, th) = *tile_size.get_or_insert((tile.width, tile.height));
        if (tile.width, tile.height) != (tw, th) {
            return Err(corrupt("the grid's tiles differ in size"));
        }
        // The tiles must cover the output, and no column or row of tiles may lie wholly outside.
        if u64::from(tw) * u64::from(columns) < u64::from(width)
            || u64::from(th) * u64::from(rows) < u64::from(height)
            || u64::from(tw) * u64::from(columns - 1) >= u64::from(width)
            || u64::from(th) * u64::from(rows - 1) >= u64::from(height)
        {
            return Err(corrupt("the grid's tiles do not cover its size"));
        }
        let (column, row) = (index as u32 % columns, index as u32 / columns);
        let (left, top) = (column * tw, row * th);
        let visible_w = tw.min(width - left) as usize * n;
        let visible_h = th.min(height - top) as usize;
        for y in 0..visible_h {
            let src = &tile.data[y * tw as usize * n..][..visible_w];
            let dst = ((top as usize + y) * width as usize + left as usize) * n;
            canvas[dst..dst + visible_w].copy_from_slice(src);
        }
    }
    Ok(Canvas {
        data: canvas,
        width,
        height,
    })
}

/// The matrix coefficients and range of the item's `nclx` colour information, if any.
fn nclx(file: &HeifFile<'_>, id: ItemId) -> Option<(u16, bool)> {
    file.item_properties(id).ok()?.find_map(|p| match p {
        Property::Color(ColorInfo::Nclx {
            matrix, full_range, ..
        }) => Some((*matrix, *full_range)),
        _ => None,
    })
}

fn decode_coded(
    file: &HeifFile<'_>,
    id: ItemId,
    inherited_colour: Option<(u16, bool)>,
    channels: Channels,
    decoder: &mut Decoder,
    limits: &DecodeLimits,
) -> Result<Canvas, RenditionError> {
    let declared = file.image_size(id).map_err(corrupt)?;
    if let Some((w, h)) = declared {
        limits.check(u64::from(w), u64::from(h))?;
    }
    let data = file.item_data(id).map_err(corrupt)?;
    let picture = decoder.decode(&data)?;
    let (width, height) = picture.size();
    limits.check(u64::from(width), u64::from(height))?;
    if declared.is_some_and(|size| size != (width, height)) {
        return Err(corrupt("an AV1 frame's size differs from its ispe"));
    }
    // The container's colour information overrides the bitstream's (ISO/IEC 23000-22, 7.3.6.4).
    let colour = nclx(file, id).or(inherited_colour);
    picture.to_canvas(channels, colour)
}

/// A dav1d context (two threads, two frame contexts), closed on drop.
struct Decoder {
    context: Option<Dav1dContext>,
}

impl Decoder {
    fn new(limits: &DecodeLimits) -> Result<Self, RenditionError> {
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: `dav1d_default_settings` writes every field of the settings it is given.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new_unchecked(settings.as_mut_ptr()));
            settings.assume_init()
        };
        // Two frame contexts, not one: with a single one, rav1d 1.1 unwraps a frame header its
        // error path has already taken and aborts the process on a corrupt frame (rav1d issue
        // #1497, PR #1503; the panic cannot unwind through its `extern "C"` API). Two need two
        // threads. A still image is one frame, so the second context costs only its setup.
        settings.n_threads = 2;
        settings.max_frame_delay = 2;
        // Film grain is part of the picture the encoder meant to show.
        settings.apply_grain = 1;
        // Frames larger than the pixel limit are refused by the decoder before it allocates them,
        // whatever the container claimed.
        settings.frame_size_limit = c_uint::try_from(limits.max_pixels).unwrap_or(c_uint::MAX);
        let mut context = None;
        // SAFETY: both pointers are to live locals; dav1d copies the settings.
        let result = unsafe {
            dav1d_open(
                Some(NonNull::from(&mut context)),
                Some(NonNull::from(&mut settings)),
            )
        };
        if result.0 != 0 || context.is_none() {
            return Err(RenditionError::Internal(format!(
                "AV1 decoder setup failed ({})",
                result.0
            )));
        }
        Ok(Self { context })
    }

    /// Decodes one temporal unit and returns its last picture (the highest layer of a layered
    /// image).
    fn decode(&mut self, bytes: &[u8]) -> Result<Picture, RenditionError> {
        let context = self.context;
        let mut data = Dav1dData::default();
        // SAFETY: `dav1d_data_create` allocates `len` bytes owned by `data`, which we fill and
        // then hand to the decoder; `data` is unreferenced whatever happens below.
        unsafe {
            let buffer = dav1d_data_create(Some(NonNull::from(&mut data)), bytes.len());
            if buffer.is_null() {
                return Err(corrupt("the AV1 data is empty or cannot be buffered"));
            }
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer, bytes.len());
        }
        let mut last: Option<Picture> = None;
        let mut pictures = 0;
        let outcome = (|| {
            loop {
                // SAFETY: `context` is open and `data` is a live Dav1dData.
                let sent = unsafe { dav1d_send_data(context, Some(NonNull::from(&mut data))) };
                match sent.0 {
                    // dav1d takes a whole temporal unit or none of it.
                    0 => break,
                    e if e == -libc::EAGAIN => {}
                    e => return Err(corrupt(format!("AV1 decoding failed ({e})"))),
                }
                // The decoder holds a picture: take it so that it can accept the rest (the second
                // request waits for frame threads, see below).
                let picture = match self.next_picture()? {
                    Some(picture) => Some(picture),
                    None => self.next_picture()?,
                };
                match picture {
                    Some(picture) => {
                        pictures += 1;
                        last = Some(picture);
                    }
                    None => return Err(corrupt("the AV1 decoder stalled")),
                }
                if pictures > MAX_PICTURES_PER_ITEM {
                    return Err(corrupt("an AV1 item holds too many frames"));
                }
            }
            // With frame threads, the first request after the data only switches the decoder to
            // draining (EAGAIN); the next ones wait for the frames in flight. Two answers without
            // a picture in a row mean there is none left.
            let mut empty = 0;
            while empty < 2 {
                match self.next_picture()? {
                    Some(picture) => {
                        empty = 0;
                        pictures += 1;
                        last = Some(picture);
                        if pictures > MAX_PICTURES_PER_ITEM {
                            return Err(corrupt("an AV1 item holds too many frames"));
                        }
                    }
                    None => empty += 1,
                }
            }
            Ok(())
        })();
        // SAFETY: `data` is either consumed (empty) or still ours to release.
        unsafe { dav1d_data_unref(Some(NonNull::from(&mut data))) };
        outcome?;
        last.ok_or_else(|| corrupt("the AV1 data holds no picture"))
    }

    fn next_picture(&mut self) -> Result<Option<Picture>, RenditionError> {
        // Wrapped before the call: dav1d writes a picture even when it has none to give (an
        // empty one, see `Picture::release`), and `Picture` releases it on every path.
        let mut picture = Picture(Dav1dPicture::default());
        // SAFETY: `context` is open; `picture` is written by dav1d and released by `Picture`.
        let result =
            unsafe { dav1d_get_picture(self.context, Some(NonNull::from(&mut picture.0))) };
        match result.0 {
            0 => Ok(Some(picture)),
            e if e == -libc::EAGAIN => Ok(None),
            e => Err(corrupt(format!("AV1 decoding failed ({e})"))),
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once (dav1d sets it to None).
        unsafe { dav1d_close(Some(NonNull::from(&mut self.context))) };
    }
}

/// A decoded picture, released on drop.
struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        self.release();
    }
}

impl Picture {
    /// Gives the picture's references back to rav1d. rav1d 1.1 allocates an empty ITU-T T.35
    /// list (48 bytes) for every picture it writes out, the empty one `dav1d_picture_unref` leaves
    /// behind and the one `dav1d_get_picture` writes when it has no picture included, and never
    /// frees it: LeakSanitizer found it under the `image_decode` fuzz target on the AVIF seeds.
    /// It is freed here, after the unref, as its owner would.
    fn release(&mut self) {
        // SAFETY: the picture came from `dav1d_get_picture` (or is all empty) and is released once.
        unsafe { dav1d_picture_unref(Some(NonNull::from(&mut self.0))) };
        self.0.itut_t35 = None;
        self.0.n_itut_t35 = 0;
        if let Some(list) = self.0.itut_t35_ref.take() {
            // SAFETY: rav1d made this reference with `RawArc::from_arc` when it wrote the empty
            // picture, and the pointer to its contents was cleared above: nothing else uses it.
            drop(unsafe { list.into_arc() });
        }
    }
}

impl Picture {
    fn size(&self) -> (u32, u32) {
        let p = &self.0.p;
        (
            u32::try_from(p.w).unwrap_or(0),
            u32::try_from(p.h).unwrap_or(0),
        )
    }

    /// One plane as tightly packed 8-bit samples (`bpc` > 8 rounded down to 8 bits).
    fn plane(&self, index: usize, width: usize, height: usize) -> Result<Vec<u8>, RenditionError> {
        let picture = &self.0;
        let stride = picture.stride[index.min(1)];
        let bpc = picture.p.bpc;
        let bytes_per_sample = if bpc > 8 { 2 } else { 1 };
        let row_bytes = width * bytes_per_sample;
        let stride = usize::try_from(stride)
            .ok()
            .filter(|&s| s >= row_bytes)
            .ok_or_else(|| corrupt("an AV1 picture has an unusable stride"))?;
        let base = picture.data[index].ok_or_else(|| corrupt("an AV1 picture lacks a plane"))?;
        let len = stride * (height - 1) + row_bytes;
        // SAFETY: dav1d's picture holds `height` rows of `stride` bytes for this plane, at least
        // `row_bytes` of each in use; the slice lives no longer than `self`.
        let bytes = unsafe { std::slice::from_raw_parts(base.as_ptr().cast::<u8>(), len) };
        let mut out = Vec::with_capacity(width * height);
        for row in bytes.chunks(stride).take(height) {
            let row = &row[..row_bytes];
            if bytes_per_sample == 1 {
                out.extend_from_slice(row);
            } else {
                let shift = (bpc - 8) as u32;
                let half = 1u32 << (shift - 1);
                out.extend(row.chunks_exact(2).map(|s| {
                    let v = u32::from(u16::from_ne_bytes([s[0], s[1]]));
                    ((v + half) >> shift).min(255) as u8
                }));
            }
        }
        Ok(out)
    }

    fn to_canvas(
        &self,
        channels: Channels,
        container_colour: Option<(u16, bool)>,
    ) -> Result<Canvas, RenditionError> {
        let (width, height) = self.size();
        let (w, h) = (width as usize, height as usize);
        if w == 0 || h == 0 {
            return Err(corrupt("an AV1 picture has no pixels"));
        }
        // SAFETY: a decoded picture always points at its sequence header.
        let sequence = self
            .0
            .seq_hdr
            .map(|s| unsafe { s.as_ref() })
            .ok_or_else(|| corrupt("an AV1 picture lacks its sequence header"))?;
        let (matrix, full_range) =
            container_colour.unwrap_or((sequence.mtrx as u16, sequence.color_range != 0));
        let range = if full_range {
            YuvRange::Full
        } else {
            YuvRange::Limited
        };
        let luma = self.plane(0, w, h)?;
        if channels == Channels::Luma {
            let data = match range {
                YuvRange::Full => luma,
                // Limited-range alpha: 16..235 stretched to 0..255.
                YuvRange::Limited => luma
                    .into_iter()
                    .map(|y| ((i32::from(y) - 16) * 255 / 219).clamp(0, 255) as u8)
                    .collect(),
            };
            return Ok(Canvas {
                data,
                width,
                height,
            });
        }
        let mut rgba = vec![0u8; w * h * 4];
        let stride = width * 4;
        let layout = self.0.p.layout;
        let converted = if layout == DAV1D_PIXEL_LAYOUT_I400 {
            let gray = YuvGrayImage {
                y_plane: &luma,
                y_stride: width,
                width,
                height,
            };
            yuv::yuv400_to_rgba(&gray, &mut rgba, stride, range, yuv_matrix(matrix)?)
        } else {
            let (cw, ch) = match layout {
                DAV1D_PIXEL_LAYOUT_I420 => (w.div_ceil(2), h.div_ceil(2)),
                DAV1D_PIXEL_LAYOUT_I422 => (w.div_ceil(2), h),
                DAV1D_PIXEL_LAYOUT_I444 => (w, h),
                _ => return Err(corrupt("an AV1 picture has an unknown chroma layout")),
            };
            let (u, v) = (self.plane(1, cw, ch)?, self.plane(2, cw, ch)?);
            let planar = YuvPlanarImage {
                y_plane: &luma,
                y_stride: width,
                u_plane: &u,
                u_stride: cw as u32,
                v_plane: &v,
                v_stride: cw as u32,
                width,
                height,
            };
            match layout {
                // Matrix 0 (identity): the planes are G, B and R.
                DAV1D_PIXEL_LAYOUT_I444 if matrix == 0 => {
                    yuv::gbr_to_rgba(&planar, &mut rgba, stride, range)
                }
                DAV1D_PIXEL_LAYOUT_I444 => {
                    yuv::yuv444_to_rgba(&planar, &mut rgba, stride, range, yuv_matrix(matrix)?)
                }
                DAV1D_PIXEL_LAYOUT_I422 => {
                    yuv::yuv422_to_rgba(&planar, &mut rgba, stride, range, yuv_matrix(matrix)?)
                }
                _ => yuv::yuv420_to_rgba(&planar, &mut rgba, stride, range, yuv_matrix(matrix)?),
            }
        };
        converted.map_err(|err| RenditionError::Internal(format!("YUV conversion: {err:?}")))?;
        Ok(Canvas {
            data: rgba,
            width,
            height,
        })
    }
}

/// CICP matrix coefficients (ITU-T H.273) to the `yuv` crate's matrices. Unspecified (2) is
/// BT.601, as libavif and browsers take it.
fn yuv_matrix(matrix: u16) -> Result<YuvStandardMatrix, RenditionError> {
    Ok(match matrix {
        1 => YuvStandardMatrix::Bt709,
        2 | 5 | 6 => YuvStandardMatrix::Bt601,
        4 => YuvStandardMatrix::Fcc,
        7 => YuvStandardMatrix::Smpte240,
        9 | 10 => YuvStandardMatrix::Bt2020,
        other => {
            return Err(RenditionError::UnsupportedFormat(format!(
                "AVIF with matrix coefficients {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_picture_holds_nothing_rav1d_allocated() {
        let decoder = Decoder::new(&DecodeLimits::default()).unwrap();
        // Nothing sent: no picture to give, and rav1d still writes an empty one out.
        let mut picture = Picture(Dav1dPicture::default());
        // SAFETY: the context is open and the picture is a live local.
        let result =
            unsafe { dav1d_get_picture(decoder.context, Some(NonNull::from(&mut picture.0))) };
        assert_eq!(result.0, -libc::EAGAIN);
        picture.release();
        assert!(picture.0.itut_t35_ref.is_none());
        assert!(picture.0.itut_t35.is_none());
        assert!(picture.0.r#ref.is_none() && picture.0.frame_hdr_ref.is_none());
    }
}
