//! HEIC/HEIF and AVIF on the real samples in `../shared/samples/` (README there): sizes as
//! displayed, orientation, colour, alpha and the primary item checked against libheif's
//! `heif-convert` (Debian `libheif-examples`, installed by `scripts/bootstrap.sh`), limits and
//! damaged files.

use std::path::PathBuf;
use std::process::Command;

use fast_image_resize::Resizer;

use super::*;
use crate::domain::{RenditionSize, RenditionSizes};
use crate::renditions::colour::SrgbConversion;
use crate::renditions::pixels::Interleaved;
use crate::renditions::tests::{psnr, sample, scratch_dir};
use crate::renditions::{Rendered, render};

fn sample_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples")
        .join(name)
}

pub(crate) const IPHONE: &str = "ianare__iphone_13_pro_max.HEIC";
const NOKIA: &str = "ianare__HMD_Nokia_8.3_5G.heif";
const SMALL_HEIF: &str = "ianare__samplefilehub.heif";
const CHEERS: &str = "mdex__cheers_1440x960.heic";
const FOX_8BIT: &str = "avifsamples__fox.profile0.8bpc.yuv420.avif";
const FOX_10BIT: &str = "avifsamples__fox.profile1.10bpc.yuv444.avif";
const ROTATED: &str = "pillow__rot1mir0.avif";
const TRANSPARENT: &str = "pillow__transparency.avif";
const PITM: &str = "sharp__pitm.avif";

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

fn mime(name: &str) -> &'static str {
    if name.ends_with(".avif") {
        "image/avif"
    } else {
        "image/heic"
    }
}

fn rendered(name: &str) -> Rendered {
    render(
        &sample(name),
        mime(name),
        &RenditionSizes::default(),
        &limits(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Full-resolution RGB(A) of our decode, upright.
fn decoded_upright(name: &str) -> (Vec<u8>, u32, u32, usize) {
    let Decoded {
        raster,
        orientation,
    } = decode(&sample(name), &limits()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (data, channels) = match raster.pixels {
        Pixels::Rgb(p) => (p.data, 3),
        Pixels::Rgba(p) => (p.data, 4),
        Pixels::YCbCr { .. } => panic!("HEIF pixels are RGB"),
    };
    let (data, w, h) = orientation.apply(&data, raster.width, raster.height, channels);
    (data, w, h, channels)
}

/// The reference decode: libheif's `heif-convert` to PNG (no colour management, like our raw
/// decode), read back as 8-bit RGB(A). For a multi-image file it writes one PNG per top-level
/// image; `index` picks the one that is the primary image.
fn reference(name: &str, index: Option<usize>) -> (Vec<u8>, u32, u32, usize) {
    // Tests run in parallel and two of them decode the same sample.
    let dir = scratch_dir("heif-ref");
    let out = dir.join(format!("{name}.png"));
    let status = Command::new("heif-convert")
        .arg("--quiet")
        .arg(sample_path(name))
        .arg(&out)
        .status()
        .expect("heif-convert (Debian libheif-examples, scripts/bootstrap.sh) must be installed");
    assert!(status.success(), "heif-convert failed on {name}");
    let png = match index {
        Some(i) => dir.join(format!("{name}-{i}.png")),
        None => out,
    };
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    if info.bit_depth == png::BitDepth::Sixteen {
        // Big-endian samples: the high byte, rounded.
        buf = buf
            .chunks_exact(2)
            .map(|s| ((u32::from(u16::from_be_bytes([s[0], s[1]])) + 128) / 257) as u8)
            .collect();
    }
    let _ = std::fs::remove_dir_all(&dir);
    (buf, info.width, info.height, info.color_type.samples())
}

#[test]
fn each_sample_renders_at_its_displayed_size() {
    // (sample, displayed width and height, the largeX2 rendition's content type)
    let cases = [
        // Stored 4032x3024 with irot 3 (and an EXIF orientation of 6 that must not be applied again).
        (IPHONE, (3024, 4032), "image/jpeg"),
        (NOKIA, (3456, 4608), "image/jpeg"),
        (SMALL_HEIF, (640, 426), "image/jpeg"),
        (CHEERS, (1440, 960), "image/jpeg"),
        (FOX_8BIT, (1204, 800), "image/jpeg"),
        (FOX_10BIT, (1204, 800), "image/jpeg"),
        // Stored 427x640 with irot 1 and imir.
        (ROTATED, (640, 427), "image/jpeg"),
        (TRANSPARENT, (64, 64), "image/png"),
        // The primary item is a 2x2 grid of AV1 tiles, among other images.
        (PITM, (4096, 800), "image/jpeg"),
    ];
    let sizes = RenditionSizes::default();
    for (name, (width, height), content_type) in cases {
        let Rendered {
            width: shown_w,
            height: shown_h,
            renditions,
        } = rendered(name);
        assert_eq!((shown_w, shown_h), (width, height), "{name}");
        assert_eq!(renditions.len(), 4, "{name}");
        for r in &renditions {
            let expected = sizes.fit(r.size, width, height);
            assert_eq!((r.width, r.height), expected, "{name} {:?}", r.size);
            assert_eq!(r.content_type, content_type, "{name} {:?}", r.size);
            let (ow, oh) = encoded_size(&r.bytes, r.content_type);
            assert_eq!(
                (ow, oh),
                expected,
                "{name}: the encoded rendition's own size"
            );
        }
    }
}

#[test]
fn decodes_match_libheif_orientation_alpha_and_primary_item_included() {
    // (sample, heif-convert's output index for the primary image, least PSNR in dB).
    // HEVC: heifer and libde265 decode the same bitstream; what differs is YCbCr->RGB rounding and
    // chroma upsampling. Measured: iPhone 48.3, Nokia 50.6, 640x426 45.6, cheers 43.0; AVIF (rav1d
    // against libheif's AV1 decoder): fox 52.5, fox 10-bit 4:4:4 49.8, rot1mir0 58.9, transparency
    // 61.6, pitm 58.7. A wrong orientation, alpha or item falls far below these.
    let cases = [
        (IPHONE, None, 45.0),
        (SMALL_HEIF, None, 42.0),
        (CHEERS, None, 40.0),
        (FOX_8BIT, None, 45.0),
        (FOX_10BIT, None, 45.0),
        (ROTATED, None, 45.0),
        (TRANSPARENT, None, 45.0),
        (PITM, Some(5), 45.0),
    ];
    for (name, index, least) in cases {
        let (ours, w, h, channels) = decoded_upright(name);
        let (theirs, rw, rh, ref_channels) = reference(name, index);
        assert_eq!((w, h), (rw, rh), "{name}: size as displayed");
        let db = psnr(&ours, channels, &theirs, ref_channels);
        println!("{name}: {db:.2} dB against heif-convert");
        assert!(db >= least, "{name}: {db:.2} dB < {least}");
        if ref_channels == 4 {
            assert_eq!(channels, 4, "{name}: alpha kept");
            let alpha_error = ours
                .chunks_exact(4)
                .zip(theirs.chunks_exact(4))
                .map(|(a, b)| a[3].abs_diff(b[3]))
                .max();
            assert!(
                alpha_error.is_some_and(|e| e <= 2),
                "{name}: alpha {alpha_error:?}"
            );
        }
    }
}

#[test]
fn a_display_p3_iphone_photo_comes_out_in_srgb() {
    let bytes = sample(IPHONE);
    let Decoded { raster, .. } = decode(&bytes, &limits()).unwrap();
    let icc = raster
        .icc_profile
        .expect("the iPhone photo carries its Display P3 profile");
    assert!(crate::renditions::colour::needs_conversion(&icc));
    // Reference: libheif's pixels (still P3), resized to the medium rendition and converted with
    // the same profile. Without the conversion our rendition would sit as far from it as the
    // unconverted reference does.
    let (theirs, w, h, channels) = reference(IPHONE, None);
    assert_eq!(channels, 3);
    let medium = rendered(IPHONE)
        .renditions
        .into_iter()
        .find(|r| r.size == RenditionSize::Medium)
        .unwrap();
    let ours = jpeg_rgb(&medium.bytes);
    let mut resizer = Resizer::new();
    let Pixels::Rgb(small) = Pixels::Rgb(Interleaved {
        data: theirs,
        width: w,
        height: h,
    })
    .resized(medium.width, medium.height, &mut resizer)
    .unwrap() else {
        panic!("RGB stays RGB")
    };
    let mut converted = small.data.clone();
    SrgbConversion::from_icc(&icc, false)
        .unwrap()
        .apply(&mut converted)
        .unwrap();
    let right = psnr(&ours, 3, &converted, 3);
    let unconverted = psnr(&ours, 3, &small.data, 3);
    println!(
        "P3 -> sRGB: {right:.2} dB against converted, {unconverted:.2} dB against unconverted"
    );
    // JPEG q80 and the rendition cascade keep both figures near 30 dB; the gap is the colour.
    assert!(right >= 30.0, "{right:.2} dB");
    assert!(
        right > unconverted + 1.0,
        "{right:.2} vs {unconverted:.2} dB"
    );
}

#[test]
fn the_header_is_checked_against_the_limits_before_decoding() {
    let small = DecodeLimits {
        max_pixels: 500_000,
        ..limits()
    };
    for name in [IPHONE, PITM, FOX_8BIT] {
        let err = decode(&sample(name), &small).err();
        assert!(
            matches!(err, Some(RenditionError::TooLarge { .. })),
            "{name}: {err:?}"
        );
    }
    // A 29 KB file whose ispe claims 100000 x 100000: refused from the header, nothing allocated.
    let mut bomb = sample(SMALL_HEIF);
    let at = find(&bomb, b"ispe") + 8;
    bomb[at..at + 8].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]);
    let err = decode(&bomb, &limits()).err();
    assert!(
        matches!(
            err,
            Some(RenditionError::TooLarge {
                width: 100_000,
                height: 100_000,
                ..
            })
        ),
        "{err:?}"
    );
}

/// The width and height an encoded rendition declares.
fn encoded_size(bytes: &[u8], content_type: &str) -> (u32, u32) {
    match content_type {
        "image/jpeg" => {
            let header = turbojpeg::read_header(bytes).unwrap();
            (header.width as u32, header.height as u32)
        }
        _ => {
            let reader = png::Decoder::new(std::io::Cursor::new(bytes))
                .read_info()
                .unwrap();
            (reader.info().width, reader.info().height)
        }
    }
}

fn jpeg_rgb(bytes: &[u8]) -> Vec<u8> {
    let image = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).unwrap();
    assert_eq!(image.pitch, image.width * 3);
    image.pixels
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{needle:?} not found"))
}

#[test]
fn item_and_tile_counts_are_bounded() {
    // iinf (version 0) claiming 65535 items.
    let mut many_items = sample(SMALL_HEIF);
    let at = find(&many_items, b"iinf") + 8;
    many_items[at..at + 2].copy_from_slice(&[0xFF, 0xFF]);
    let err = decode(&many_items, &limits()).err().unwrap();
    assert!(
        matches!(&err, RenditionError::Corrupt(m) if m.contains("items")),
        "{err:?}"
    );
    // The iPhone's grid (6 rows, 8 columns of 512x512 tiles for 4032x3024) claiming 256 x 256.
    let mut many_tiles = sample(IPHONE);
    let at = find(&many_tiles, &[0, 0, 5, 7, 0x0F, 0xC0, 0x0B, 0xD0]);
    many_tiles[at + 2..at + 4].copy_from_slice(&[0xFF, 0xFF]);
    let err = decode(&many_tiles, &limits()).err().unwrap();
    assert!(
        matches!(&err, RenditionError::Corrupt(m) if m.contains("tiles")),
        "{err:?}"
    );
}

#[test]
fn damaged_files_are_refused_never_a_panic() {
    for name in [SMALL_HEIF, CHEERS, FOX_8BIT, TRANSPARENT, PITM] {
        let bytes = sample(name);
        for cut in [12, 100, bytes.len() / 2, bytes.len() - 1] {
            let err = decode(&bytes[..cut], &limits()).err();
            assert!(
                matches!(err, Some(RenditionError::Corrupt(_))),
                "{name} cut at {cut}: {err:?}"
            );
        }
        // Flipped bytes through the whole file: refused or decoded, never a panic.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..16 {
            let mut damaged = bytes.clone();
            for _ in 0..8 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % damaged.len() as u64) as usize;
                damaged[at] ^= (state >> 32) as u8 | 1;
            }
            let _ = decode(&damaged, &limits());
        }
    }
}

#[test]
fn exif_orientation_inside_a_heic_is_not_applied_twice() {
    // The iPhone file says "rotate 90" twice: irot 3 and EXIF orientation 6. HEIF readers apply
    // irot only (ISO/IEC 23008-12: transformative properties), so the photo is portrait.
    let bytes = sample(IPHONE);
    assert_eq!(
        Orientation::from_exif_container(&bytes),
        Orientation::Rotate90
    );
    let shown = rendered(IPHONE);
    assert_eq!((shown.width, shown.height), (3024, 4032));
    let largest = &shown.renditions[0];
    assert!(
        largest.height > largest.width,
        "portrait: {}x{}",
        largest.width,
        largest.height
    );
}
