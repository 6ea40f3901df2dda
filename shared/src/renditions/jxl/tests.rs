//! JPEG XL on files made at test time by libjxl's `cjxl` from generated images (lossy XYB, lossless
//! modular, a losslessly recompressed JPEG, alpha, grey, Display P3, an animation, an EXIF-rotated
//! JPEG), checked against libjxl's own `djxl` (Debian `libjxl-tools`, installed by
//! `scripts/bootstrap.sh`), with limits and damaged files.

use std::path::Path;
use std::process::Command;

use turbojpeg::Subsamp;

use super::*;
use crate::domain::{ImageLimits, RenditionSizes, detect_content};
use crate::renditions::tests::{
    Picture, card, exif, icc_segment, jpeg_with, png_rgba, psnr, render_ok, scratch_dir,
    with_segment,
};
use crate::renditions::{RenditionError, render};

fn run(dir: &Path, tool: &str, args: &[&str]) {
    let output = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} (Debian libjxl-tools, scripts/bootstrap.sh) must be installed: {e}")
        });
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `input` (named with the extension cjxl reads it by) encoded by `cjxl` with `args`.
pub(crate) fn cjxl(input: &[u8], extension: &str, args: &[&str]) -> Vec<u8> {
    let dir = scratch_dir("jxl-test");
    let source = format!("in.{extension}");
    std::fs::write(dir.join(&source), input).unwrap();
    let mut all = vec![source.as_str(), "out.jxl", "--quiet"];
    all.extend(args);
    run(&dir, "cjxl", &all);
    let jxl = std::fs::read(dir.join("out.jxl")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    jxl
}

/// libjxl's decode of `jxl` as 8-bit RGBA (no colour management, like our raw decode).
fn djxl(jxl: &[u8]) -> Picture {
    let dir = scratch_dir("jxl-test");
    std::fs::write(dir.join("in.jxl"), jxl).unwrap();
    run(&dir, "djxl", &["in.jxl", "out.png", "--quiet"]);
    let png = std::fs::read(dir.join("out.png")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Picture::decode(&png)
}

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

/// Our decode at full resolution as RGBA, with the orientation the pipeline would apply.
fn decoded(jxl: &[u8]) -> (Picture, Orientation) {
    let Decoded {
        raster,
        orientation,
    } = decode(jxl, &limits()).unwrap_or_else(|e| panic!("{e}"));
    let rgba = match raster.pixels {
        Pixels::Rgb(p) => p
            .data
            .chunks_exact(3)
            .flat_map(|c| [c[0], c[1], c[2], 255])
            .collect(),
        Pixels::Rgba(p) => p.data,
        Pixels::YCbCr { .. } => panic!("JPEG XL pixels are RGB"),
    };
    let picture = Picture {
        width: raster.width,
        height: raster.height,
        rgba,
        indexed: false,
    };
    (picture, orientation)
}

/// A photograph-like 8-bit RGB image: smooth gradients with fine texture, so that it is neither a
/// graphic nor trivially compressible.
pub(crate) fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let texture = ((x * 7 + y * 13) % 17) as u8;
            rgb.extend([
                (x * 200 / width) as u8 + texture,
                (y * 200 / height) as u8 + texture,
                ((x + y) * 100 / (width + height)) as u8 + 60 + texture,
            ]);
        }
    }
    rgb
}

pub(crate) fn png_rgb(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    png_rgba(width, height, |x, y| {
        let i = ((y * width + x) * 3) as usize;
        [rgb[i], rgb[i + 1], rgb[i + 2], 255]
    })
}

fn mean_rgb(picture: &Picture, x0: u32, y0: u32, x1: u32, y1: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = picture.at(x, y);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

#[test]
fn lossy_lossless_and_recompressed_jpeg_files_decode_as_libjxl_does() {
    let (width, height) = (320, 240);
    let rgb = photo(width, height);
    let png = png_rgb(&rgb, width, height);
    let files = [
        ("lossy (VarDCT, XYB)", cjxl(&png, "png", &["-d", "1"])),
        ("lossless (modular)", cjxl(&png, "png", &["-d", "0"])),
        (
            "recompressed JPEG",
            cjxl(&jpeg_with(&rgb, width, height, Subsamp::Sub2x2), "jpg", &[]),
        ),
    ];
    for (what, jxl) in &files {
        assert_eq!(
            detect_content(jxl, None).unwrap().mime,
            "image/jxl",
            "{what}"
        );
        let (ours, orientation) = decoded(jxl);
        assert_eq!(orientation, Orientation::Normal, "{what}");
        assert_eq!((ours.width, ours.height), (width, height), "{what}");
        let reference = djxl(jxl);
        let db = psnr(&ours.rgba, 4, &reference.rgba, 4);
        // Measured: 54 dB or more; libjxl rounds a few samples differently.
        assert!(db >= 45.0, "{what}: {db:.1} dB against djxl");
    }
    // Lossless is lossless.
    let (lossless, _) = decoded(&files[1].1);
    let source: Vec<u8> = rgb
        .chunks_exact(3)
        .flat_map(|c| [c[0], c[1], c[2], 255])
        .collect();
    assert!(
        lossless.rgba == source,
        "lossless JPEG XL differs from its source"
    );

    let rendered = render(
        &files[0].1,
        "image/jxl",
        &RenditionSizes::default(),
        &limits(),
    )
    .unwrap();
    assert_eq!((rendered.width, rendered.height), (width, height));
    assert_eq!(rendered.renditions.len(), 4);
    assert!(
        rendered
            .renditions
            .iter()
            .all(|r| r.content_type == "image/jpeg"),
        "a photograph becomes JPEG"
    );
}

#[test]
fn the_header_orientation_is_applied_once() {
    // cjxl moves a JPEG's EXIF orientation into the JPEG XL header, which the decoder applies;
    // the EXIF block it also keeps must not turn the picture a second time.
    let (width, height) = (200, 100);
    let rgb = card(width, height, [220, 20, 20], [20, 20, 220]);
    let jpeg = with_segment(
        &jpeg_with(&rgb, width, height, Subsamp::None),
        0xE1,
        &exif(6),
    );
    let jxl = cjxl(&jpeg, "jpg", &[]);
    let rendered = render(&jxl, "image/jxl", &RenditionSizes::default(), &limits()).unwrap();
    assert_eq!((rendered.width, rendered.height), (height, width));
    let largest = Picture::of(&rendered.renditions[0]);
    assert_eq!((largest.width, largest.height), (height, width));
    // Orientation 6 turns the picture 90 degrees clockwise: the left (red) half is now on top.
    let top = mean_rgb(&largest, 0, 30, largest.width, 80);
    let bottom = mean_rgb(
        &largest,
        0,
        largest.height - 50,
        largest.width,
        largest.height,
    );
    assert!(top[0] > 180.0 && top[2] < 60.0, "top {top:?}");
    assert!(bottom[2] > 180.0 && bottom[0] < 60.0, "bottom {bottom:?}");
}

#[test]
fn alpha_and_grey_come_through_exactly_from_lossless_files() {
    let (width, height) = (96, 64);
    let pixel = |x: u32, y: u32| [(x * 2) as u8, (y * 3) as u8, 128, ((x + y) * 2) as u8];
    let jxl = cjxl(&png_rgba(width, height, pixel), "png", &["-d", "0"]);
    let Decoded { raster, .. } = decode(&jxl, &limits()).unwrap();
    let Pixels::Rgba(rgba) = raster.pixels else {
        panic!("alpha kept")
    };
    let source: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| pixel(x, y)))
        .collect();
    assert!(rgba.data == source, "straight alpha, exactly");
    let rendered = render(&jxl, "image/jxl", &RenditionSizes::default(), &limits()).unwrap();
    assert!(
        rendered
            .renditions
            .iter()
            .all(|r| r.content_type == "image/png")
    );

    // A greyscale PNG (cjxl keeps it one channel) comes out as RGB with R = G = B.
    let mut grey_png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut grey_png, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        let grey: Vec<u8> = (0..width * height).map(|i| (i % 251) as u8).collect();
        writer.write_image_data(&grey).unwrap();
    }
    let (ours, _) = decoded(&cjxl(&grey_png, "png", &["-d", "0"]));
    for (i, p) in ours.rgba.chunks_exact(4).enumerate() {
        let v = (i % 251) as u8;
        assert_eq!(p, [v, v, v, 255], "pixel {i}");
    }
}

#[test]
fn display_p3_comes_out_in_srgb_as_the_same_jpeg_does() {
    // The same numbers in a Display P3 JPEG and in JPEG XL files made from it (a lossless
    // recompression keeps the ICC profile; a lossy one codes XYB and names P3 in its header) must
    // render as the JPEG renders: converted to sRGB, so more saturated than untagged.
    let (width, height) = (200, 100);
    let rgb = card(width, height, [200, 60, 60], [200, 60, 60]);
    let p3_jpeg = with_segment(
        &jpeg_with(&rgb, width, height, Subsamp::None),
        0xE2,
        &icc_segment(&moxcms::ColorProfile::new_display_p3()),
    );
    let red_of = |bytes: &[u8], mime: &str| {
        let renditions = render_ok(bytes, mime);
        mean_rgb(&Picture::of(&renditions[0]), 20, 40, 180, 90)
    };
    let jpeg_red = red_of(&p3_jpeg, "image/jpeg");
    let untagged = red_of(&jpeg_with(&rgb, width, height, Subsamp::None), "image/jpeg");
    assert!(
        jpeg_red[0] > untagged[0] + 8.0,
        "{jpeg_red:?} vs {untagged:?}"
    );
    for (what, jxl) in [
        ("recompressed", cjxl(&p3_jpeg, "jpg", &[])),
        (
            "lossy",
            cjxl(&p3_jpeg, "jpg", &["--lossless_jpeg=0", "-d", "1"]),
        ),
    ] {
        let red = red_of(&jxl, "image/jxl");
        for c in 0..3 {
            assert!(
                (red[c] - jpeg_red[c]).abs() < 4.0,
                "{what}: {red:?} vs the JPEG's {jpeg_red:?}"
            );
        }
    }
}

/// A GIF of `colours.len()` full frames, each of one palette colour, shown for `delay` 1/100 s.
fn gif_animation(colours: &[[u8; 3]], delay: u16) -> Vec<u8> {
    let (width, height) = (64u16, 48u16);
    let palette: Vec<u8> = colours.concat();
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).unwrap();
        for index in 0..colours.len() {
            let frame = gif::Frame {
                width,
                height,
                delay,
                buffer: std::borrow::Cow::Owned(vec![index as u8; 64 * 48]),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

#[test]
fn an_animation_renders_its_first_displayed_frame() {
    let colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255]];
    let first_of = |gif: &[u8]| {
        let jxl = cjxl(gif, "gif", &[]);
        let rendered = render(&jxl, "image/jxl", &RenditionSizes::default(), &limits()).unwrap();
        assert_eq!((rendered.width, rendered.height), (64, 48));
        Picture::of(&rendered.renditions[0]).at(10, 10)
    };
    assert_eq!(first_of(&gif_animation(&colours, 10)), [255, 0, 0, 255]);
    // A frame of no duration is not displayed on its own: the decoder composites it into the next
    // frame that has a duration (here the last), as djxl does.
    assert_eq!(first_of(&gif_animation(&colours, 0)), [0, 0, 255, 255]);
}

#[test]
fn size_limits_are_checked_from_the_header() {
    let (width, height) = (320, 240);
    let jxl = cjxl(
        &png_rgb(&photo(width, height), width, height),
        "png",
        &["-d", "1"],
    );
    // The upload's check, from the header alone.
    let content = detect_content(&jxl, None).unwrap();
    assert_eq!(
        content.check_image(
            &jxl,
            ImageLimits {
                max_pixels: 1_000_000,
                max_side: 1_000
            }
        ),
        Ok(Some((width, height)))
    );
    assert!(
        content
            .check_image(
                &jxl,
                ImageLimits {
                    max_pixels: 70_000,
                    max_side: 1_000
                }
            )
            .is_err()
    );
    // The decoder's own check, before it allocates the picture.
    let small = DecodeLimits {
        max_pixels: 70_000,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode(&jxl, &small),
        Err(RenditionError::TooLarge {
            width: 320,
            height: 240,
            ..
        })
    ));
    // A side over the limit, in a file of a few hundred bytes.
    let long = png_rgba(20_001, 1, |_, _| [10, 20, 30, 255]);
    let long_jxl = cjxl(&long, "png", &["-d", "0"]);
    assert!(long_jxl.len() < 2_000);
    assert!(
        detect_content(&long_jxl, None)
            .unwrap()
            .check_image(&long_jxl, ImageLimits::default())
            .is_err()
    );
    assert!(matches!(
        decode(&long_jxl, &limits()),
        Err(RenditionError::TooLarge {
            width: 20_001,
            height: 1,
            ..
        })
    ));
}

#[test]
fn damaged_files_are_refused_never_a_panic() {
    let (width, height) = (160, 120);
    let rgb = photo(width, height);
    let png = png_rgb(&rgb, width, height);
    for jxl in [
        cjxl(&png, "png", &["-d", "1"]),
        cjxl(&png, "png", &["-d", "0"]),
        cjxl(&jpeg_with(&rgb, width, height, Subsamp::Sub2x2), "jpg", &[]),
    ] {
        // Cut short anywhere: refused as truncated or corrupt, never a half picture.
        for cut in [16, 40, jxl.len() / 4, jxl.len() / 2, jxl.len() - 10] {
            match decode(&jxl[..cut], &limits()) {
                Err(RenditionError::Corrupt(_)) => {}
                Err(other) => panic!("cut at {cut}: {other}"),
                Ok(_) => panic!("cut at {cut} of {} decoded", jxl.len()),
            }
        }
        // Bytes flipped anywhere: a picture or a refusal, never an internal failure.
        for position in (0..jxl.len()).step_by(jxl.len() / 97 + 1) {
            let mut damaged = jxl.clone();
            damaged[position] ^= 0x5A;
            match decode(&damaged, &limits()) {
                Ok(decoded) => assert!(decoded.raster.width * decoded.raster.height > 0),
                Err(RenditionError::Internal(detail)) => panic!("at {position}: {detail}"),
                Err(_) => {}
            }
        }
    }
}
