//! HEIF images (ISO/IEC 23008-12): HEIC (HEVC-coded, iPhone and many Android photos) and AVIF
//! (AV1-coded). One container parser (`heifer-isobmff`) reads the header for both: the primary
//! item (`pitm`), its size (`ispe`, or the `grid` derivation's output size), its transforms
//! (`clap`, `irot`, `imir`), colour (`colr`: ICC or nclx) and alpha (`auxl`). HEVC pixels come
//! from `heifer` (pure Rust, grid tiles, alpha, 8-12 bit, transforms); AV1 pixels from `rav1d`
//! (dav1d's Rust port) in [`av1`]. Why these decoders: ARCHITECTURE.md, "HEIC and AVIF".
//!
//! Untrusted input: the item, reference and tile counts are bounded before the container is
//! walked, the size limits are checked from `ispe` before any pixel buffer exists, and the
//! decoders get the same pixel limit for every frame they allocate.

mod av1;

use heifer_isobmff::boxes::{ColorInfo, Property};
use heifer_isobmff::{BoxIter, HeifFile, ItemId};

use super::decode::{Decoded, Raster, panic_is_corrupt};
use super::orient::Orientation;
use super::pixels::Pixels;
use super::{DecodeLimits, RenditionError};

/// Most entries an `iinf`, `iloc` or `ipma` box may list. The container parser matches items to
/// their locations and properties pairwise, so its work grows with the square of these counts; an
/// iPhone photo has about 60 items (48 tiles), a 48 MP one about 200.
pub(crate) const MAX_ITEMS: u32 = 4096;

/// Most tiles a grid image may have: a 48 MP iPhone photo has 192 tiles of 512x512, and 1024
/// tiles of 512x512 are 268 MP, beyond the pixel limit anyway.
pub(crate) const MAX_TILES: u32 = 1024;

/// How many derivations (`grid`, `iden`, `iovl`) may be stacked on one another.
const MAX_DERIVATION_DEPTH: u32 = 4;

/// The alpha auxiliary image types of HEVC (ISO/IEC 23008-12 6.5.8) and of MPEG-B (used by AVIF).
const ALPHA_URNS: [&str; 2] = [
    "urn:mpeg:hevc:2015:auxid:1",
    "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
];

fn corrupt(err: impl std::fmt::Display) -> RenditionError {
    RenditionError::Corrupt(err.to_string())
}

/// The coding of the pixels behind the primary item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    Hevc,
    Av1,
}

/// A clean aperture (`clap`), resolved to whole pixels of the coded image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Crop {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

/// What the header says about the primary image, read before any pixel is decoded.
#[derive(Debug)]
pub(crate) struct Header {
    codec: Codec,
    /// Coded size (`ispe` / grid output size), stored axes.
    pub width: u32,
    pub height: u32,
    pub crop: Option<Crop>,
    /// `irot` then `imir`, as the one EXIF orientation that does the same.
    pub orientation: Orientation,
}

/// Decodes the primary image of a HEIC, HEIF or AVIF file.
pub(crate) fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded, RenditionError> {
    let file = open(bytes)?;
    let header = header(&file, limits)?;
    let icc_profile = icc_profile(&file, file.primary_id);
    let decoded = panic_is_corrupt("HEIF", || match header.codec {
        Codec::Hevc => decode_hevc(bytes, limits),
        Codec::Av1 => {
            av1::decode(&file, &header, limits).map(|pixels| (pixels, header.orientation))
        }
    })?;
    let (pixels, orientation) = decoded;
    Ok(Decoded {
        raster: Raster {
            width: pixels.width(),
            height: pixels.height(),
            pixels,
            icc_profile,
        },
        orientation,
    })
}

/// HEVC through `heifer`, which also composes grids and alpha and applies `clap`, `irot` and
/// `imir` itself: its pixels are upright.
fn decode_hevc(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(Pixels, Orientation), RenditionError> {
    let options = heifer::Options {
        // The upload function has about one vCPU; threads would only compete with each other.
        max_threads: 1,
        max_pixels: limits.max_pixels.max(1),
    };
    let image = heifer::decode_rgba8(bytes, &options).map_err(corrupt)?;
    limits.check(u64::from(image.width), u64::from(image.height))?;
    Ok((
        Pixels::from_rgba(image.data, image.width, image.height),
        Orientation::Normal,
    ))
}

/// Parses the container after bounding the counts that its parser's work depends on.
fn open(bytes: &[u8]) -> Result<HeifFile<'_>, RenditionError> {
    check_counts(bytes)?;
    HeifFile::parse(bytes).map_err(corrupt)
}

/// Refuses files whose `iinf`, `iloc` or `ipma` box declares more than [`MAX_ITEMS`] entries.
fn check_counts(bytes: &[u8]) -> Result<(), RenditionError> {
    for top in BoxIter::new(bytes) {
        let top = top.map_err(corrupt)?;
        if top.header.box_type.0 != *b"meta" {
            continue;
        }
        // `meta` is a FullBox: version and flags first.
        let children = top
            .content
            .get(4..)
            .ok_or_else(|| corrupt("short meta box"))?;
        for child in BoxIter::new(children) {
            let child = child.map_err(corrupt)?;
            let content = child.content;
            let count = match &child.header.box_type.0 {
                b"iinf" => entry_count(content, |v| if v == 0 { 2 } else { 4 }, 4),
                // version, flags, two bytes of field sizes, then the count.
                b"iloc" => entry_count(content, |v| if v < 2 { 2 } else { 4 }, 6),
                b"iprp" => {
                    for property in BoxIter::new(content) {
                        let property = property.map_err(corrupt)?;
                        if property.header.box_type.0 == *b"ipma" {
                            check_count(entry_count(property.content, |_| 4, 4))?;
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            check_count(count)?;
        }
    }
    Ok(())
}

/// The entry count of a FullBox whose count field (of `width(version)` bytes) sits at `at`.
fn entry_count(content: &[u8], width: impl Fn(u8) -> usize, at: usize) -> Option<u32> {
    let version = *content.first()?;
    let field = content.get(at..at + width(version))?;
    Some(field.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
}

fn check_count(count: Option<u32>) -> Result<(), RenditionError> {
    match count {
        Some(n) if n > MAX_ITEMS => Err(corrupt(format!(
            "the file lists {n} items; at most {MAX_ITEMS} are read"
        ))),
        _ => Ok(()),
    }
}

/// Reads the primary item's header and checks it against `limits`.
pub(crate) fn header(file: &HeifFile<'_>, limits: &DecodeLimits) -> Result<Header, RenditionError> {
    let id = file.primary_id;
    let codec = codec(file, id, 0)?;
    let item_type = file.item(id).map_err(corrupt)?.item_type.0;
    let (width, height) = if item_type == *b"grid" {
        let grid = file.grid(id).map_err(corrupt)?;
        let tiles = u32::from(grid.rows) * u32::from(grid.columns);
        if tiles > MAX_TILES {
            return Err(corrupt(format!(
                "the grid has {tiles} tiles; at most {MAX_TILES} are read"
            )));
        }
        if file.referenced_items(id, b"dimg").len() != tiles as usize {
            return Err(corrupt("the grid's tile count does not match its layout"));
        }
        (grid.output_width, grid.output_height)
    } else {
        file.image_size(id)
            .map_err(corrupt)?
            .ok_or_else(|| corrupt("the primary image has no size (ispe)"))?
    };
    limits.check(u64::from(width), u64::from(height))?;
    let mut crop = None;
    let mut rotation = 0;
    let mut mirror = None;
    // HEIF requires this order of association: clap, then irot, then imir.
    for property in file.item_properties(id).map_err(corrupt)? {
        match *property {
            Property::CleanAperture {
                width: cw,
                height: ch,
                horiz_offset,
                vert_offset,
            } => crop = clean_aperture(width, height, cw, ch, horiz_offset, vert_offset),
            Property::Rotation(quarters) => rotation = quarters,
            Property::Mirror(top_bottom) => mirror = Some(top_bottom),
            _ => {}
        }
    }
    Ok(Header {
        codec,
        width,
        height,
        crop,
        orientation: orientation(rotation, mirror),
    })
}

/// The codec of a coded item, or of the first input of a derived one.
fn codec(file: &HeifFile<'_>, id: ItemId, depth: u32) -> Result<Codec, RenditionError> {
    let item_type = file.item(id).map_err(corrupt)?.item_type;
    match &item_type.0 {
        b"hvc1" | b"hev1" => Ok(Codec::Hevc),
        b"av01" => Ok(Codec::Av1),
        b"grid" | b"iden" | b"iovl" if depth < MAX_DERIVATION_DEPTH => {
            match file.referenced_items(id, b"dimg").first() {
                Some(&input) if input != id => codec(file, input, depth + 1),
                _ => Err(corrupt("a derived image without inputs")),
            }
        }
        _ => Err(RenditionError::UnsupportedFormat(format!(
            "HEIF with `{item_type}` images"
        ))),
    }
}

/// `irot` (anticlockwise quarter turns) followed by `imir` (`Some(true)`: top and bottom
/// exchanged, `Some(false)`: left and right), as the EXIF orientation that turns the stored
/// pixels the same way.
pub(crate) fn orientation(quarters: u8, mirror: Option<bool>) -> Orientation {
    use Orientation::*;
    match (quarters % 4, mirror) {
        (0, None) => Normal,
        (0, Some(false)) | (2, Some(true)) => FlipHorizontal,
        (0, Some(true)) | (2, Some(false)) => FlipVertical,
        (1, None) => Rotate270,
        (1, Some(false)) | (3, Some(true)) => Transverse,
        (1, Some(true)) | (3, Some(false)) => Transpose,
        (2, None) => Rotate180,
        _ => Rotate90,
    }
}

/// A `clap` box resolved to whole pixels (ISO/IEC 14496-12 12.1.4: the aperture is centred on the
/// picture's centre plus the offsets). `None` when it is the whole picture or does not fit in it:
/// a broken crop is ignored, as browsers do, rather than refusing the photo.
fn clean_aperture(
    width: u32,
    height: u32,
    clean_width: (u32, u32),
    clean_height: (u32, u32),
    horiz_offset: (i32, u32),
    vert_offset: (i32, u32),
) -> Option<Crop> {
    let ratio = |(n, d): (u32, u32)| (d != 0).then(|| f64::from(n) / f64::from(d));
    let signed = |(n, d): (i32, u32)| (d != 0).then(|| f64::from(n) / f64::from(d));
    let (cw, ch) = (ratio(clean_width)?.round(), ratio(clean_height)?.round());
    let left = (f64::from(width) - cw) / 2.0 + signed(horiz_offset)?;
    let top = (f64::from(height) - ch) / 2.0 + signed(vert_offset)?;
    let (left, top) = (left.round(), top.round());
    let fits = cw >= 1.0
        && ch >= 1.0
        && left >= 0.0
        && top >= 0.0
        && left + cw <= f64::from(width)
        && top + ch <= f64::from(height);
    if !fits || (cw as u32, ch as u32) == (width, height) {
        return None;
    }
    Some(Crop {
        left: left as u32,
        top: top as u32,
        width: cw as u32,
        height: ch as u32,
    })
}

/// The colour profile the pixels are in: the embedded ICC profile, or one made from the `nclx`
/// primaries when they are not sRGB's (BT.709). `None` means sRGB.
fn icc_profile(file: &HeifFile<'_>, id: ItemId) -> Option<Vec<u8>> {
    if let Ok(Some(icc)) = file.icc_profile(id) {
        return Some(icc.to_vec());
    }
    let (primaries, transfer) = nclx(file, id)?;
    // 1: BT.709 (sRGB's primaries), 2: unspecified, which HEIF readers take as sRGB.
    if matches!(primaries, 1 | 2) {
        return None;
    }
    let cicp = moxcms::CicpProfile {
        color_primaries: u8::try_from(primaries).ok()?.try_into().ok()?,
        transfer_characteristics: u8::try_from(transfer)
            .ok()
            .and_then(|t| t.try_into().ok())
            .unwrap_or(moxcms::TransferCharacteristics::Srgb),
        matrix_coefficients: moxcms::MatrixCoefficients::Bt709,
        full_range: true,
    };
    moxcms::ColorProfile::new_from_cicp(cicp).encode().ok()
}

/// The `nclx` primaries and transfer characteristics of an item, or of its first input.
fn nclx(file: &HeifFile<'_>, id: ItemId) -> Option<(u16, u16)> {
    let mut current = id;
    for _ in 0..MAX_DERIVATION_DEPTH {
        let own = file.item_properties(current).ok()?.find_map(|p| match p {
            Property::Color(ColorInfo::Nclx {
                primaries,
                transfer,
                ..
            }) => Some((*primaries, *transfer)),
            _ => None,
        });
        if own.is_some() {
            return own;
        }
        current = *file.referenced_items(current, b"dimg").first()?;
    }
    None
}

/// The alpha plane of `id`, if it has one (an `auxl` item of an alpha type).
fn alpha_item(file: &HeifFile<'_>, id: ItemId) -> Option<ItemId> {
    file.referencing_items(id, b"auxl")
        .into_iter()
        .find(|&aux| {
            file.item_properties(aux).is_ok_and(|mut props| {
                props.any(
                    |p| matches!(p, Property::AuxiliaryType(t) if ALPHA_URNS.contains(&t.as_str())),
                )
            })
        })
}

/// Also the sample readers of the handler tests.
#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod unit_tests {
    use super::*;

    /// Rotates a `w` x `h` single-byte image `quarters` times anticlockwise, then mirrors it, the
    /// way ISO/IEC 23008-12 describes `irot` and `imir`.
    fn transform(data: &[u8], w: usize, h: usize, quarters: u8, mirror: Option<bool>) -> Vec<u8> {
        let (mut img, mut w, mut h) = (data.to_vec(), w, h);
        for _ in 0..quarters {
            // Anticlockwise: the right column becomes the top row.
            let mut out = vec![0; img.len()];
            for y in 0..h {
                for x in 0..w {
                    out[(w - 1 - x) * h + y] = img[y * w + x];
                }
            }
            (img, w, h) = (out, h, w);
        }
        match mirror {
            Some(true) => img.chunks_exact(w).rev().flatten().copied().collect(),
            Some(false) => img
                .chunks_exact(w)
                .flat_map(|row| row.iter().rev().copied())
                .collect(),
            None => img,
        }
    }

    #[test]
    fn irot_and_imir_map_to_the_exif_orientation_that_does_the_same() {
        let stored = [1, 2, 3, 4, 5, 6];
        for quarters in 0..4 {
            for mirror in [None, Some(true), Some(false)] {
                let expected = transform(&stored, 3, 2, quarters, mirror);
                let (got, ..) = orientation(quarters, mirror).apply(&stored, 3, 2, 1);
                assert_eq!(got, expected, "irot {quarters}, imir {mirror:?}");
            }
        }
    }

    #[test]
    fn clean_apertures_are_centred_and_broken_ones_ignored() {
        let crop = clean_aperture(100, 80, (50, 1), (40, 1), (0, 1), (0, 1));
        assert_eq!(
            crop,
            Some(Crop {
                left: 25,
                top: 20,
                width: 50,
                height: 40
            })
        );
        let shifted = clean_aperture(100, 80, (50, 1), (40, 1), (-25, 1), (10, 2));
        assert_eq!(shifted.map(|c| (c.left, c.top)), Some((0, 25)));
        // The whole picture, a zero denominator, or an aperture outside the picture: no crop.
        assert_eq!(
            clean_aperture(100, 80, (100, 1), (80, 1), (0, 1), (0, 1)),
            None
        );
        assert_eq!(
            clean_aperture(100, 80, (50, 0), (40, 1), (0, 1), (0, 1)),
            None
        );
        assert_eq!(
            clean_aperture(100, 80, (50, 1), (40, 1), (30, 1), (0, 1)),
            None
        );
        assert_eq!(
            clean_aperture(100, 80, (200, 1), (40, 1), (0, 1), (0, 1)),
            None
        );
    }

    #[test]
    fn entry_counts_are_read_per_version() {
        // iinf version 0: a 16-bit count after version and flags.
        assert_eq!(
            entry_count(&[0, 0, 0, 0, 0x12, 0x34], |v| if v == 0 { 2 } else { 4 }, 4),
            Some(0x1234)
        );
        assert_eq!(
            entry_count(&[1, 0, 0, 0, 0, 1, 0, 0], |v| if v == 0 { 2 } else { 4 }, 4),
            Some(0x10000)
        );
        assert_eq!(entry_count(&[0, 0], |_| 2, 4), None);
        assert!(check_count(Some(MAX_ITEMS)).is_ok());
        assert!(check_count(Some(MAX_ITEMS + 1)).is_err());
    }
}
