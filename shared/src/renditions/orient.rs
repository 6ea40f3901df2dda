//! EXIF orientation: read from the file's metadata, applied to the (small) rendition pixels so
//! that renditions display upright without any metadata of their own.

use std::io::Cursor;

/// The eight EXIF orientations (tag 0x0112), named by what turns the stored pixels upright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    Normal,
    FlipHorizontal,
    Rotate180,
    FlipVertical,
    Transpose,
    Rotate90,
    Transverse,
    Rotate270,
}

impl Orientation {
    pub fn from_exif_value(value: u32) -> Self {
        match value {
            2 => Self::FlipHorizontal,
            3 => Self::Rotate180,
            4 => Self::FlipVertical,
            5 => Self::Transpose,
            6 => Self::Rotate90,
            7 => Self::Transverse,
            8 => Self::Rotate270,
            // 1, absent, or out of range: a bad tag is not worth refusing the image for.
            _ => Self::Normal,
        }
    }

    /// From the EXIF block of a JPEG, PNG, WebP or TIFF file; `Normal` when there is none or it
    /// is unreadable.
    ///
    /// PNG's `eXIf` chunk and WebP's `EXIF` chunk hold a bare TIFF structure by their specs, but
    /// writers also put JPEG's `Exif\0\0` APP1 prefix in front of it (Pillow's WebP writer,
    /// ImageMagick, older exiftool): both are read, in any chunk position.
    pub fn from_exif_container(bytes: &[u8]) -> Self {
        let reader = exif::Reader::new();
        let exif = match chunk_exif(bytes) {
            Some(raw) => reader.read_raw(raw.strip_prefix(EXIF_PREFIX).unwrap_or(raw).to_vec()),
            None => reader.read_from_container(&mut Cursor::new(bytes)),
        };
        exif.ok()
            .and_then(|exif| {
                exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                    .and_then(|field| field.value.get_uint(0))
            })
            .map_or(Self::Normal, Self::from_exif_value)
    }

    /// Whether width and height trade places.
    pub fn swaps_axes(self) -> bool {
        matches!(
            self,
            Self::Transpose | Self::Rotate90 | Self::Transverse | Self::Rotate270
        )
    }

    /// The displayed size of an image stored as `width` x `height`.
    pub fn displayed(self, width: u32, height: u32) -> (u32, u32) {
        if self.swaps_axes() {
            (height, width)
        } else {
            (width, height)
        }
    }

    /// The stored size of an image displayed as `width` x `height`.
    pub fn stored(self, width: u32, height: u32) -> (u32, u32) {
        self.displayed(width, height)
    }

    /// Returns the pixels of a tightly packed `width` x `height` image with `channels` bytes per
    /// pixel, turned upright, and the new width and height.
    pub fn apply(
        self,
        data: &[u8],
        width: u32,
        height: u32,
        channels: usize,
    ) -> (Vec<u8>, u32, u32) {
        if self == Self::Normal {
            return (data.to_vec(), width, height);
        }
        let (w, h) = (width as usize, height as usize);
        let (out_w, out_h) = self.displayed(width, height);
        let (ow, oh) = (out_w as usize, out_h as usize);
        let mut out = vec![0u8; data.len()];
        for dy in 0..oh {
            for dx in 0..ow {
                // Where the upright pixel (dx, dy) is stored.
                let (sx, sy) = match self {
                    Self::Normal => (dx, dy),
                    Self::FlipHorizontal => (w - 1 - dx, dy),
                    Self::Rotate180 => (w - 1 - dx, h - 1 - dy),
                    Self::FlipVertical => (dx, h - 1 - dy),
                    Self::Transpose => (dy, dx),
                    Self::Rotate90 => (dy, h - 1 - dx),
                    Self::Transverse => (w - 1 - dy, h - 1 - dx),
                    Self::Rotate270 => (w - 1 - dy, dx),
                };
                let src = (sy * w + sx) * channels;
                let dst = (dy * ow + dx) * channels;
                out[dst..dst + channels].copy_from_slice(&data[src..src + channels]);
            }
        }
        (out, out_w, out_h)
    }
}

/// JPEG's APP1 identifier, which some writers also put in front of PNG and WebP EXIF chunks.
const EXIF_PREFIX: &[u8] = b"Exif\0\0";

/// The EXIF chunk of a PNG (`eXIf`) or WebP (`EXIF`) file, as stored; `None` for other formats
/// and files without one.
fn chunk_exif(bytes: &[u8]) -> Option<&[u8]> {
    if let Some(mut rest) = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n") {
        // Length (big-endian), type, data, CRC.
        while rest.len() >= 8 {
            let len = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
            let data = rest.get(8..8usize.checked_add(len)?)?;
            match &rest[4..8] {
                b"eXIf" => return Some(data),
                b"IEND" => return None,
                _ => rest = rest.get(12 + len..)?,
            }
        }
        None
    } else if bytes.get(..4) == Some(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        // FourCC, length (little-endian), data padded to an even length.
        let mut rest = &bytes[12..];
        while rest.len() >= 8 {
            let len = u32::from_le_bytes(rest[4..8].try_into().ok()?) as usize;
            let data = rest.get(8..8usize.checked_add(len)?)?;
            if &rest[..4] == b"EXIF" {
                return Some(data);
            }
            rest = rest
                .get((8 + len).checked_add(len % 2)?..)
                .unwrap_or_default();
        }
        None
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x2 image, one byte per pixel:
    /// ```text
    /// 1 2 3
    /// 4 5 6
    /// ```
    const STORED: [u8; 6] = [1, 2, 3, 4, 5, 6];

    fn upright(value: u32) -> (Vec<u8>, u32, u32) {
        Orientation::from_exif_value(value).apply(&STORED, 3, 2, 1)
    }

    #[test]
    fn each_exif_orientation_turns_the_pixels_upright() {
        assert_eq!(upright(1), (vec![1, 2, 3, 4, 5, 6], 3, 2));
        assert_eq!(upright(2), (vec![3, 2, 1, 6, 5, 4], 3, 2));
        assert_eq!(upright(3), (vec![6, 5, 4, 3, 2, 1], 3, 2));
        assert_eq!(upright(4), (vec![4, 5, 6, 1, 2, 3], 3, 2));
        // Transposed: 2 wide, 3 high.
        assert_eq!(upright(5), (vec![1, 4, 2, 5, 3, 6], 2, 3));
        // Rotated 90 degrees clockwise: the left column becomes the top row, read bottom-up.
        assert_eq!(upright(6), (vec![4, 1, 5, 2, 6, 3], 2, 3));
        assert_eq!(upright(7), (vec![6, 3, 5, 2, 4, 1], 2, 3));
        assert_eq!(upright(8), (vec![3, 6, 2, 5, 1, 4], 2, 3));
    }

    #[test]
    fn multi_byte_pixels_move_as_a_whole() {
        let rgb = [1, 1, 1, 2, 2, 2];
        let (out, w, h) = Orientation::Rotate90.apply(&rgb, 2, 1, 3);
        assert_eq!((out, w, h), (vec![1, 1, 1, 2, 2, 2], 1, 2));
    }

    #[test]
    fn missing_or_bad_values_mean_normal() {
        assert_eq!(Orientation::from_exif_value(0), Orientation::Normal);
        assert_eq!(Orientation::from_exif_value(9), Orientation::Normal);
        assert_eq!(
            Orientation::from_exif_container(b"not an image"),
            Orientation::Normal
        );
    }
}
