//! The rendition pipeline on real encoded images, built here so each test shows what it feeds in.

use std::io::Cursor;

use turbojpeg::{Image, PixelFormat, Subsamp};

use super::*;
use crate::domain::RenditionSize::{Large, LargeX2, Medium, Thumb};

fn sizes() -> RenditionSizes {
    RenditionSizes::default()
}

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

/// An RGB test card: left half `left`, right half `right`, a horizontal gradient band on top so the
/// image is not flat.
pub(crate) fn card(width: u32, height: u32, left: [u8; 3], right: [u8; 3]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            if y < height / 8 {
                let v = (x * 255 / width.max(1)) as u8;
                rgb.extend([v, v, v]);
            } else if x < width / 2 {
                rgb.extend(left);
            } else {
                rgb.extend(right);
            }
        }
    }
    rgb
}

pub(crate) fn jpeg_with(rgb: &[u8], width: u32, height: u32, subsamp: Subsamp) -> Vec<u8> {
    let image = Image {
        pixels: rgb,
        width: width as usize,
        pitch: width as usize * 3,
        height: height as usize,
        format: PixelFormat::RGB,
    };
    turbojpeg::compress(image, 92, subsamp).unwrap().to_vec()
}

pub(crate) fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let rgb = card(width, height, [200, 30, 30], [30, 30, 200]);
    jpeg_with(&rgb, width, height, Subsamp::Sub2x2)
}

/// `jpeg` with a segment inserted right after SOI.
pub(crate) fn with_segment(jpeg: &[u8], marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, marker]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend(&jpeg[2..]);
    out
}

/// A minimal big-endian EXIF block: orientation, and a GPS IFD pointer so there is location data
/// that must not survive.
pub(crate) fn exif(orientation: u16) -> Vec<u8> {
    let mut body = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    body.extend(2u16.to_be_bytes());
    body.extend([0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    body.extend(orientation.to_be_bytes());
    body.extend([0, 0]);
    // GPSInfo IFD pointer (0x8825) to an empty IFD right after this one.
    body.extend([0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    body.extend(0u32.to_be_bytes());
    body.extend(0u16.to_be_bytes());
    body.extend(0u32.to_be_bytes());
    body
}

pub(crate) fn icc_segment(profile: &moxcms::ColorProfile) -> Vec<u8> {
    let mut body = b"ICC_PROFILE\0\x01\x01".to_vec();
    body.extend(profile.encode().unwrap());
    body
}

pub(crate) fn png_rgba(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    let mut data = Vec::new();
    for y in 0..height {
        for x in 0..width {
            data.extend(pixel(x, y));
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

fn gif_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
        let mut encoder = gif::Encoder::new(&mut out, width, height, &palette).unwrap();
        for i in 0..frames {
            let frame = gif::Frame {
                width,
                height,
                buffer: std::borrow::Cow::Owned(vec![
                    (i % 3) as u8;
                    usize::from(width) * usize::from(height)
                ]),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    out
}

fn webp_lossless(width: u32, height: u32, rgba: bool) -> Vec<u8> {
    let channels = if rgba { 4 } else { 3 };
    let mut data = vec![0u8; (width * height) as usize * channels];
    for (i, px) in data.chunks_exact_mut(channels).enumerate() {
        px[0] = (i % 251) as u8;
        px[1] = 90;
        px[2] = 160;
        if rgba {
            px[3] = if (i as u32 % width) < width / 2 {
                0
            } else {
                255
            };
        }
    }
    let mut out = Vec::new();
    let color = if rgba {
        image_webp::ColorType::Rgba8
    } else {
        image_webp::ColorType::Rgb8
    };
    image_webp::WebPEncoder::new(&mut out)
        .encode(&data, width, height, color)
        .unwrap();
    out
}

/// An animated WebP of `frames` full-canvas lossless frames, the n-th in colour `colours[n % 3]`,
/// assembled from the chunks of still images (image-webp has no animation encoder).
fn animated_webp(width: u32, height: u32, frames: usize) -> Vec<u8> {
    let colours = [[220u8, 20, 20], [20, 220, 20], [20, 20, 220]];
    let chunk = |tag: &[u8], body: &[u8]| {
        let mut out = tag.to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        out
    };
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![0x02, 0, 0, 0];
    vp8x.extend(u24(width - 1));
    vp8x.extend(u24(height - 1));
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]));
    for n in 0..frames {
        let pixels: Vec<u8> = (0..width * height).flat_map(|_| colours[n % 3]).collect();
        let mut still = Vec::new();
        image_webp::WebPEncoder::new(&mut still)
            .encode(&pixels, width, height, image_webp::ColorType::Rgb8)
            .unwrap();
        // A still lossless file is RIFF, size, WEBP, then the one VP8L chunk.
        let vp8l = &still[12..];
        let mut anmf = [u24(0), u24(0), u24(width - 1), u24(height - 1), u24(100)].concat();
        anmf.push(0);
        anmf.extend(vp8l);
        body.extend(chunk(b"ANMF", &anmf));
    }
    chunk(b"RIFF", &body)
}

pub(crate) fn render_ok(bytes: &[u8], mime: &str) -> Vec<Rendition> {
    render(bytes, mime, &sizes(), &limits())
        .expect("renders")
        .renditions
}

fn dims(renditions: &[Rendition]) -> Vec<(RenditionSize, u32, u32)> {
    renditions
        .iter()
        .map(|r| (r.size, r.width, r.height))
        .collect()
}

/// Decodes a JPEG rendition and checks its header agrees with what `render` said.
fn decoded_jpeg(rendition: &Rendition) -> turbojpeg::Image<Vec<u8>> {
    assert_eq!(rendition.content_type, "image/jpeg");
    let image = turbojpeg::decompress(&rendition.bytes, PixelFormat::RGB).unwrap();
    assert_eq!(
        (image.width as u32, image.height as u32),
        (rendition.width, rendition.height)
    );
    image
}

fn pixel(image: &turbojpeg::Image<Vec<u8>>, x: usize, y: usize) -> [u8; 3] {
    let i = y * image.pitch + x * 3;
    [image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]]
}

/// A rendition of either format decoded to RGBA, checked against what `render` said.
pub(crate) struct Picture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    /// For PNGs: whether it is a palette PNG.
    pub indexed: bool,
}

impl Picture {
    pub fn of(rendition: &Rendition) -> Self {
        let picture = Self::decode(&rendition.bytes);
        assert_eq!(
            (picture.width, picture.height),
            (rendition.width, rendition.height)
        );
        picture
    }

    pub fn decode(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"\x89PNG") {
            let mut decoder = png::Decoder::new(Cursor::new(bytes));
            decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
            let mut reader = decoder.read_info().unwrap();
            let indexed = reader.info().color_type == png::ColorType::Indexed;
            let mut rgba = vec![0; reader.output_buffer_size().unwrap()];
            let frame = reader.next_frame(&mut rgba).unwrap();
            assert_eq!(frame.color_type, png::ColorType::Rgba);
            Self {
                width: frame.width,
                height: frame.height,
                rgba,
                indexed,
            }
        } else {
            let image = turbojpeg::decompress(bytes, PixelFormat::RGBA).unwrap();
            Self {
                width: image.width as u32,
                height: image.height as u32,
                rgba: image.pixels,
                indexed: false,
            }
        }
    }

    pub fn at(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        self.rgba[i..i + 4].try_into().unwrap()
    }
}

#[test]
fn each_size_fits_its_box_with_the_aspect_ratio_kept() {
    let landscape = render_ok(&jpeg(4000, 1000), "image/jpeg");
    assert_eq!(
        dims(&landscape),
        [
            (LargeX2, 2048, 512),
            (Large, 1024, 256),
            (Medium, 480, 120),
            (Thumb, 160, 40)
        ]
    );
    let portrait = render_ok(&jpeg(900, 1800), "image/jpeg");
    assert_eq!(
        dims(&portrait),
        [
            (LargeX2, 900, 1800),
            (Large, 512, 1024),
            (Medium, 240, 480),
            (Thumb, 80, 160)
        ]
    );
    let square = render_ok(&jpeg(1000, 1000), "image/jpeg");
    assert_eq!(
        dims(&square),
        [
            (LargeX2, 1000, 1000),
            (Large, 1000, 1000),
            (Medium, 480, 480),
            (Thumb, 160, 160)
        ]
    );
    for rendition in landscape.iter().chain(&portrait).chain(&square) {
        decoded_jpeg(rendition);
    }
}

#[test]
fn small_images_are_never_upscaled() {
    let renditions = render_ok(&jpeg(120, 90), "image/jpeg");
    assert!(renditions.iter().all(|r| (r.width, r.height) == (120, 90)));
}

#[test]
fn dct_scaled_decoding_keeps_colours_and_geometry() {
    // 5000 px wide: decoded at 1/2 scale, still covering 2048.
    let renditions = render_ok(&jpeg(5000, 500), "image/jpeg");
    assert_eq!(dims(&renditions)[0], (LargeX2, 2048, 205));
    let large = decoded_jpeg(&renditions[0]);
    let [r, _, b] = pixel(&large, 200, 150);
    assert!(r > 150 && b < 80, "left stays red");
    let [r, _, b] = pixel(&large, 1800, 150);
    assert!(b > 150 && r < 80, "right stays blue");
}

#[test]
fn configured_sizes_are_honoured() {
    let sizes = RenditionSizes::new([50, 100, 200, 300]).unwrap();
    let renditions = render(&jpeg(600, 400), "image/jpeg", &sizes, &limits())
        .unwrap()
        .renditions;
    assert_eq!(
        dims(&renditions),
        [
            (LargeX2, 300, 200),
            (Large, 200, 133),
            (Medium, 100, 67),
            (Thumb, 50, 33)
        ]
    );
}

#[test]
fn exif_orientation_is_applied_and_then_dropped() {
    // Stored 400x200: red on the left, blue on the right. Orientation 6 means "rotate 90 degrees
    // clockwise to display": upright it is 200x400 with red on top.
    let rotated = with_segment(&jpeg(400, 200), 0xE1, &exif(6));
    let renditions = render_ok(&rotated, "image/jpeg");
    assert_eq!(dims(&renditions)[3], (Thumb, 80, 160));
    let upright = decoded_jpeg(&renditions[0]);
    assert_eq!((upright.width, upright.height), (200, 400));
    let [r, _, b] = pixel(&upright, 80, 120);
    assert!(r > 150 && b < 80, "top is red: {:?}", [r, b]);
    let [r, _, b] = pixel(&upright, 80, 300);
    assert!(b > 150 && r < 80, "bottom is blue: {:?}", [r, b]);
    for rendition in &renditions {
        assert_eq!(
            Orientation::from_exif_container(&rendition.bytes),
            Orientation::Normal
        );
    }
}

#[test]
fn no_metadata_reaches_a_rendition() {
    let tagged = with_segment(
        &with_segment(&jpeg(300, 200), 0xE1, &exif(1)),
        0xE2,
        &icc_segment(&moxcms::ColorProfile::new_srgb()),
    );
    assert!(tagged.windows(4).any(|w| w == b"Exif"));
    let renditions = render_ok(&tagged, "image/jpeg");
    let alpha = render_ok(
        &png_rgba(64, 64, |x, _| [9, 9, 9, (x * 4) as u8]),
        "image/png",
    );
    for rendition in renditions.iter().chain(&alpha) {
        let bytes = &rendition.bytes;
        for needle in [
            &b"Exif"[..],
            b"ICC_PROFILE",
            b"eXIf",
            b"iCCP",
            b"http://ns.adobe.com",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{:?}",
                rendition.size
            );
        }
    }
}

#[test]
fn opaque_renditions_are_progressive_jpegs() {
    for rendition in render_ok(&jpeg(800, 600), "image/jpeg") {
        let header = turbojpeg::read_header(&rendition.bytes).unwrap();
        assert!(header.is_progressive);
        assert_eq!(header.subsamp, Subsamp::Sub2x2);
    }
}

#[test]
fn display_p3_is_converted_and_srgb_left_as_is() {
    let rgb = card(200, 100, [200, 60, 60], [200, 60, 60]);
    let plain = jpeg_with(&rgb, 200, 100, Subsamp::None);
    let p3 = with_segment(
        &plain,
        0xE2,
        &icc_segment(&moxcms::ColorProfile::new_display_p3()),
    );
    let srgb = with_segment(
        &plain,
        0xE2,
        &icc_segment(&moxcms::ColorProfile::new_srgb()),
    );
    let red_of = |bytes: &[u8]| {
        let renditions = render_ok(bytes, "image/jpeg");
        pixel(&decoded_jpeg(&renditions[0]), 100, 70)
    };
    let untagged = red_of(&plain);
    assert_eq!(
        red_of(&srgb),
        untagged,
        "sRGB-tagged pixels are not touched"
    );
    let converted = red_of(&p3);
    // The same numbers mean a more saturated red in P3: in sRGB, red rises and green/blue fall.
    assert!(
        converted[0] > untagged[0] + 8,
        "{converted:?} vs {untagged:?}"
    );
    assert!(
        converted[1] + 8 < untagged[1],
        "{converted:?} vs {untagged:?}"
    );
}

#[test]
fn transparency_is_kept_as_png() {
    let half_clear = png_rgba(300, 200, |x, _| {
        if x < 150 {
            [255, 0, 0, 0]
        } else {
            [0, 0, 255, 255]
        }
    });
    let renditions = render_ok(&half_clear, "image/png");
    assert_eq!(dims(&renditions)[3], (Thumb, 160, 107));
    for rendition in &renditions {
        assert_eq!(rendition.content_type, "image/png");
        let picture = Picture::of(rendition);
        assert_eq!(picture.at(0, 0)[3], 0, "left edge stays transparent");
        let (right, bottom) = (picture.width - 1, picture.height - 1);
        assert_eq!(
            picture.at(right, bottom),
            [0, 0, 255, 255],
            "right edge stays opaque blue"
        );
    }
    // Two colours unscaled: a palette PNG with the transparency in tRNS.
    assert!(Picture::of(&renditions[0]).indexed);
}

#[test]
fn opaque_png_and_every_input_format_render() {
    let opaque_png = png_rgba(640, 480, |x, y| [(x % 256) as u8, (y % 256) as u8, 7, 255]);
    let greyscale_jpeg = {
        let rgb = card(500, 300, [90, 90, 90], [200, 200, 200]);
        let image = Image {
            pixels: &rgb[..],
            width: 500,
            pitch: 1500,
            height: 300,
            format: PixelFormat::RGB,
        };
        turbojpeg::compress(image, 90, Subsamp::Gray)
            .unwrap()
            .to_vec()
    };
    let full_chroma_jpeg = jpeg_with(
        &card(500, 300, [1, 2, 3], [4, 5, 6]),
        500,
        300,
        Subsamp::None,
    );
    // (input type, input, rendition type, largest rendition size)
    type Case = (&'static str, Vec<u8>, &'static str, (u32, u32));
    let cases: [Case; 6] = [
        ("image/png", opaque_png, "image/jpeg", (640, 480)),
        ("image/jpeg", greyscale_jpeg, "image/jpeg", (500, 300)),
        ("image/jpeg", full_chroma_jpeg, "image/jpeg", (500, 300)),
        // Palette images and few colours: graphics.
        (
            "image/gif",
            gif_frames(300, 200, 3),
            "image/png",
            (300, 200),
        ),
        (
            "image/webp",
            webp_lossless(320, 240, false),
            "image/png",
            (320, 240),
        ),
        (
            "image/webp",
            webp_lossless(320, 240, true),
            "image/png",
            (320, 240),
        ),
    ];
    for (mime, bytes, output, (width, height)) in cases {
        let renditions = render_ok(&bytes, mime);
        assert_eq!(renditions.len(), 4, "{mime}");
        assert_eq!(
            (renditions[0].width, renditions[0].height),
            (width, height),
            "{mime}"
        );
        assert!(
            renditions.iter().all(|r| r.content_type == output),
            "{mime} -> {output}"
        );
    }
}

#[test]
fn the_first_gif_frame_is_the_one_rendered() {
    // Frame 0 is palette index 0 (red); later frames are green and blue.
    let renditions = render_ok(&gif_frames(64, 64, 3), "image/gif");
    assert_eq!(Picture::of(&renditions[0]).at(32, 32), [255, 0, 0, 255]);
}

#[test]
fn the_first_frame_of_an_animated_webp_is_the_one_rendered() {
    let renditions = render_ok(&animated_webp(48, 32, 3), "image/webp");
    assert_eq!(dims(&renditions)[0], (LargeX2, 48, 32));
    let [r, g, b, _] = Picture::of(&renditions[0]).at(24, 16);
    assert!(r > 215 && g < 25 && b < 25, "{:?}", [r, g, b]);

    let tight = DecodeLimits {
        max_frames: 2,
        ..limits()
    };
    let too_long = render(&animated_webp(8, 8, 3), "image/webp", &sizes(), &tight);
    assert_eq!(
        too_long,
        Err(RenditionError::TooManyFrames { max_frames: 2 })
    );
}

#[test]
fn formats_without_renditions_are_named() {
    let err = render(b"\0\0\x01\0", "image/x-icon", &sizes(), &limits()).unwrap_err();
    assert_eq!(
        err,
        RenditionError::UnsupportedFormat("image/x-icon".into())
    );
    assert!(
        err.to_string()
            .contains("image/x-icon images get no renditions")
    );
}

#[test]
fn pixel_side_and_frame_limits_are_checked_before_decoding() {
    let tight = DecodeLimits {
        max_pixels: 10_000,
        max_side: 150,
        max_frames: 4,
    };
    let too_many_pixels = render(&jpeg(120, 120), "image/jpeg", &sizes(), &tight);
    assert!(matches!(
        too_many_pixels,
        Err(RenditionError::TooLarge {
            width: 120,
            height: 120,
            ..
        })
    ));
    let too_wide = render(
        &png_rgba(151, 2, |_, _| [0; 4]),
        "image/png",
        &sizes(),
        &tight,
    );
    assert!(matches!(
        too_wide,
        Err(RenditionError::TooLarge { width: 151, .. })
    ));
    let webp_too_tall = render(
        &webp_lossless(2, 151, false),
        "image/webp",
        &sizes(),
        &tight,
    );
    assert!(matches!(
        webp_too_tall,
        Err(RenditionError::TooLarge { height: 151, .. })
    ));
    let gif_too_large = render(&gif_frames(151, 1, 1), "image/gif", &sizes(), &tight);
    assert!(matches!(
        gif_too_large,
        Err(RenditionError::TooLarge { .. })
    ));

    assert!(render(&gif_frames(8, 8, 4), "image/gif", &sizes(), &tight).is_ok());
    let animation = render(&gif_frames(8, 8, 5), "image/gif", &sizes(), &tight);
    assert_eq!(
        animation,
        Err(RenditionError::TooManyFrames { max_frames: 4 })
    );
}

#[test]
fn truncated_and_corrupt_images_are_errors() {
    let whole = jpeg(400, 300);
    let truncated = &whole[..whole.len() / 2];
    assert!(matches!(
        render(truncated, "image/jpeg", &sizes(), &limits()),
        Err(RenditionError::Corrupt(_))
    ));

    let png = png_rgba(100, 100, |x, y| [x as u8, y as u8, 0, 255]);
    let truncated_png = &png[..png.len() - 40];
    assert!(matches!(
        render(truncated_png, "image/png", &sizes(), &limits()),
        Err(RenditionError::Corrupt(_))
    ));

    let gif = gif_frames(50, 50, 1);
    assert!(render(&gif[..30], "image/gif", &sizes(), &limits()).is_err());
    let webp = webp_lossless(50, 50, false);
    assert!(render(&webp[..webp.len() / 2], "image/webp", &sizes(), &limits()).is_err());
}

#[test]
fn a_gif_whose_first_frame_is_empty_does_not_panic() {
    // 2x2 screen, first image descriptor 0x0 at the origin.
    let gif = b"GIF89a\x02\0\x02\0\x80\0\0\0\0\0\xff\xff\xff,\0\0\0\0\0\0\0\0\0\x02\x02D\x01\0;";
    let _ = render(gif, "image/gif", &sizes(), &limits());
}

/// Every prefix and a spread of single-byte corruptions of each format: an error or a rendition,
/// never a panic. (The fuzz target `image_decode` does this at scale.)
#[test]
fn damaged_inputs_never_panic() {
    let samples = [
        ("image/jpeg", jpeg(64, 48)),
        (
            "image/png",
            png_rgba(40, 30, |x, y| [x as u8, y as u8, 3, (x * 6) as u8]),
        ),
        ("image/gif", gif_frames(20, 10, 2)),
        ("image/webp", webp_lossless(24, 16, true)),
        ("image/jpeg", cmyk_jpeg(24, 16, true)),
        ("image/tiff", {
            let rgb: Vec<u8> = (0..12 * 8 * 3).map(|i| (i * 7 % 256) as u8).collect();
            tiff_file(&[tiff_page(12, 8, 2, &[8, 8, 8], vec![&rgb])])
        }),
        (
            "image/bmp",
            bmp(
                9,
                4,
                8,
                &[[1, 2, 3, 0], [200, 100, 0, 0]],
                &vec![vec![0, 1, 1, 0, 1, 0, 0, 1, 1]; 4],
            ),
        ),
    ];
    for (mime, bytes) in &samples {
        for end in (0..bytes.len()).step_by(7) {
            let _ = render(&bytes[..end], mime, &sizes(), &limits());
        }
        for at in (0..bytes.len()).step_by(5) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5A;
            let _ = render(&damaged, mime, &sizes(), &limits());
        }
    }
}

/// A CMYK JPEG as Photoshop writes it: an Adobe APP14 segment and inverted values.
pub(crate) fn cmyk_jpeg(width: u32, height: u32, adobe: bool) -> Vec<u8> {
    // Ink amounts: cyan on the left, magenta on the right, no black.
    let cmyk: Vec<u8> = (0..width * height)
        .flat_map(|i| {
            if i % width < width / 2 {
                [255, 0, 0, 0]
            } else {
                [0, 255, 0, 0]
            }
        })
        .map(|ink| if adobe { 255 - ink } else { ink })
        .collect();
    let image = Image {
        pixels: &cmyk[..],
        width: width as usize,
        pitch: width as usize * 4,
        height: height as usize,
        format: PixelFormat::CMYK,
    };
    // Plain CMYK (TurboJPEG's default is YCCK), written with an Adobe marker.
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(95).unwrap();
    compressor.set_subsamp(Subsamp::None).unwrap();
    compressor
        .set_colorspace(turbojpeg::Colorspace::CMYK)
        .unwrap();
    let jpeg = compressor.compress_to_vec(image).unwrap();
    if adobe { jpeg } else { strip_adobe(&jpeg) }
}

/// `jpeg` without its APP14 "Adobe" segment.
fn strip_adobe(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut pos = 2;
    while jpeg[pos] == 0xFF && jpeg[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        if !(jpeg[pos + 1] == 0xEE && jpeg[pos + 4..].starts_with(b"Adobe")) {
            out.extend(&jpeg[pos..pos + 2 + len]);
        }
        pos += 2 + len;
    }
    out.extend(&jpeg[pos..]);
    out
}

/// A real file from the shared sample collection (`../shared/samples/` beside the repository; its
/// README names each file's source). Never copied into the project.
pub(crate) fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn rendered(bytes: &[u8], mime: &str) -> Rendered {
    render(bytes, mime, &sizes(), &limits()).expect("renders")
}

/// Mean absolute difference per channel between two equally sized RGBA pictures.
fn mean_error(a: &Picture, b: &Picture) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let sum: u64 = a
        .rgba
        .iter()
        .zip(&b.rgba)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.rgba.len() as f64
}

// ---- damaged JPEGs: libjpeg's warnings ----

#[test]
fn jpegs_with_recoverable_damage_are_rendered() {
    // FF 00 where a marker should be, and stray bytes between markers: libjpeg warns, writes every
    // row, and browsers show both files.
    // (file, size in its frame header)
    for (name, size) in [
        ("pillow__jpeg_ff00_header.jpg", (300, 225)),
        ("pillow__junk_jpeg_header.jpg", (1024, 768)),
    ] {
        let bytes = sample(name);
        let rendered = rendered(&bytes, "image/jpeg");
        assert_eq!((rendered.width, rendered.height), size, "{name}");
        let largest = Picture::of(&rendered.renditions[0]);
        // The picture is there: not one flat colour (what a failed decode leaves).
        let first = largest.at(0, 0);
        assert!(
            (0..largest.height)
                .step_by(7)
                .any(|y| largest.at(largest.width / 2, y) != first),
            "{name}"
        );
    }
}

#[test]
fn truncated_jpegs_are_refused_as_truncated() {
    // Cut inside the scan of a clean file: libjpeg says "premature end of JPEG file".
    let whole = jpeg(400, 300);
    let err = render(
        &whole[..whole.len() * 2 / 3],
        "image/jpeg",
        &sizes(),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RenditionError::Corrupt(detail) if detail.contains("truncated")),
        "{err}"
    );
    // A damaged file cut short warns about the damage first, so only the missing EOI tells.
    let damaged = sample("pillow__junk_jpeg_header.jpg");
    let err = render(
        &damaged[..damaged.len() - 4000],
        "image/jpeg",
        &sizes(),
        &limits(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RenditionError::Corrupt(detail) if detail.contains("truncated")),
        "{err}"
    );
    // Without its last two bytes (the EOI) a clean file is truncated too.
    let err = render(&whole[..whole.len() - 2], "image/jpeg", &sizes(), &limits()).unwrap_err();
    assert!(matches!(err, RenditionError::Corrupt(_)));
}

#[test]
fn a_fatal_jpeg_error_after_a_warning_is_still_an_error() {
    // Stray bytes (a warning), then a quantisation table that is cut short (fatal).
    let whole = jpeg(64, 48);
    let mut broken = whole[..2].to_vec();
    broken.extend(b"junk");
    broken.extend([0xFF, 0xDB, 0x00, 0x05, 0x00, 0x01]);
    broken.extend(&whole[2..]);
    assert!(matches!(
        render(&broken, "image/jpeg", &sizes(), &limits()),
        Err(RenditionError::Corrupt(_))
    ));
}

// ---- CMYK and YCCK JPEGs ----

#[test]
fn cmyk_jpegs_are_converted_to_srgb() {
    // Adobe CMYK with an embedded press profile, and Pillow's CMYK sample.
    for name in [
        "sharp__Channel_digital_image_CMYK_color.jpg",
        "pillow__pil_sample_cmyk.jpg",
    ] {
        let bytes = sample(name);
        let header = turbojpeg::read_header(&bytes).unwrap();
        assert!(
            matches!(
                header.colorspace,
                turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
            ),
            "{name}: {:?}",
            header.colorspace
        );
        let rendered = rendered(&bytes, "image/jpeg");
        assert_eq!(
            (rendered.width as usize, rendered.height as usize),
            (header.width, header.height)
        );
        for rendition in &rendered.renditions {
            assert_eq!(rendition.content_type, "image/jpeg", "{name}");
            Picture::of(rendition);
        }
    }
}

#[test]
fn cmyk_without_a_profile_follows_the_adobe_rule() {
    // Photoshop's inverted CMYK with the Adobe marker, and plain CMYK without it: both show cyan
    // on the left and magenta on the right.
    for adobe in [true, false] {
        let bytes = cmyk_jpeg(96, 64, adobe);
        assert_eq!(bytes.windows(5).any(|w| w == b"Adobe"), adobe);
        let picture = Picture::of(&render_ok(&bytes, "image/jpeg")[0]);
        let [r, g, b, _] = picture.at(20, 30);
        assert!(
            r < 30 && g > 225 && b > 225,
            "adobe {adobe}: cyan, got {:?}",
            [r, g, b]
        );
        let [r, g, b, _] = picture.at(76, 30);
        assert!(
            r > 225 && g < 30 && b > 225,
            "adobe {adobe}: magenta, got {:?}",
            [r, g, b]
        );
    }
}

#[test]
fn a_cmyk_profile_is_applied() {
    // The Adobe CMYK sample carries a press profile: its conversion differs from the naive
    // formula (the profile's inks are not ideal) and matches libvips/lcms (README: 32.6 dB).
    let bytes = sample("sharp__Channel_digital_image_CMYK_color.jpg");
    let with_profile = Picture::of(&render_ok(&bytes, "image/jpeg")[0]);
    let mut without = Vec::new();
    let mut pos = 2;
    without.extend(&bytes[..2]);
    while bytes[pos] == 0xFF && bytes[pos + 1] != 0xDA {
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if !(bytes[pos + 1] == 0xE2 && bytes[pos + 4..].starts_with(b"ICC_PROFILE")) {
            without.extend(&bytes[pos..pos + 2 + len]);
        }
        pos += 2 + len;
    }
    without.extend(&bytes[pos..]);
    let naive = Picture::of(&render_ok(&without, "image/jpeg")[0]);
    assert!(
        mean_error(&with_profile, &naive) > 5.0,
        "{}",
        mean_error(&with_profile, &naive)
    );
}

// ---- the rendition format fits the picture ----

/// A palette PNG: 1, 2, 4 or 8 bits an index.
fn png_palette(
    width: u32,
    height: u32,
    palette: &[[u8; 3]],
    index: impl Fn(u32, u32) -> u8,
) -> Vec<u8> {
    let data: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| index(x, y))
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette.concat());
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

#[test]
fn a_tiny_palette_image_keeps_its_red_centre() {
    // 7x7, olive green with one red pixel in the middle: JPEG 4:2:0 averaged it into olive.
    let png = png_palette(7, 7, &[[128, 128, 0], [255, 0, 0]], |x, y| {
        u8::from((x, y) == (3, 3))
    });
    for rendition in render_ok(&png, "image/png") {
        assert_eq!(rendition.content_type, "image/png");
        let picture = Picture::of(&rendition);
        assert!(picture.indexed, "two colours: a palette PNG");
        assert_eq!(picture.at(3, 3), [255, 0, 0, 255]);
        assert_eq!(picture.at(0, 0), [128, 128, 0, 255]);
    }
}

#[test]
fn a_palette_checkerboard_keeps_its_colours_exactly() {
    // pngsuite's basn3p01: 1-bit palette, 32x32, yellow and blue squares.
    let bytes = sample("pngsuite__basn3p01.png");
    let original = Picture::decode(&bytes);
    let rendered = rendered(&bytes, "image/png");
    assert_eq!((rendered.width, rendered.height), (32, 32));
    for rendition in &rendered.renditions {
        assert_eq!(rendition.content_type, "image/png");
        let picture = Picture::of(rendition);
        assert!(picture.indexed);
        assert_eq!(mean_error(&picture, &original), 0.0);
    }
}

#[test]
fn downscaled_graphics_stay_png_and_photographs_become_jpeg() {
    // A 600x400 palette graphic: the unscaled rendition is a palette PNG; resized ones gain
    // in-between colours at the edges and stay PNG (palette or truecolour, by their count).
    let stripes = png_palette(600, 400, &[[255, 255, 0], [0, 0, 255]], |x, _| {
        u8::from(x / 50 % 2 == 1)
    });
    let renditions = render_ok(&stripes, "image/png");
    assert!(renditions.iter().all(|r| r.content_type == "image/png"));
    assert!(Picture::of(&renditions[0]).indexed);
    let thumb = Picture::of(&renditions[3]);
    // Colours away from the stripe edges are exact.
    assert_eq!(thumb.at(6, 50), [255, 255, 0, 255]);
    assert_eq!(thumb.at(20, 50), [0, 0, 255, 255]);

    // A lossless photograph-like image (every pixel its own colour): JPEG.
    let photo = png_rgba(640, 480, |x, y| {
        [
            (x * 7 % 256) as u8,
            (y * 5 % 256) as u8,
            ((x + y) % 256) as u8,
            255,
        ]
    });
    assert!(
        render_ok(&photo, "image/png")
            .iter()
            .all(|r| r.content_type == "image/jpeg")
    );
    // A JPEG original stays JPEG even when it shows a graphic, unless it is small.
    assert!(
        render_ok(&jpeg(400, 300), "image/jpeg")
            .iter()
            .all(|r| r.content_type == "image/jpeg")
    );
    let small = render_ok(&jpeg(64, 64), "image/jpeg");
    assert!(small.iter().all(|r| r.content_type == "image/png"));
    let [r, _, b, _] = Picture::of(&small[0]).at(8, 40);
    assert!(r > 180 && b < 60, "the red half stays red: {r} {b}");
}

// ---- GIF frames past the logical screen ----

#[test]
fn a_gif_first_frame_past_its_screen_grows_the_picture() {
    // 32x32 screen, first frame 16x16 at (24, 24): the picture is 40x40, as Chromium shows it.
    let bytes = sample("imagers__oob.gif");
    let oob = rendered(&bytes, "image/gif");
    assert_eq!((oob.width, oob.height), (40, 40));
    let picture = Picture::of(&oob.renditions[0]);
    assert_eq!((picture.width, picture.height), (40, 40));
    // The frame's far corner is drawn, the screen outside the frame is transparent.
    let mut decoder = gif::DecodeOptions::new();
    decoder.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = decoder.read_info(Cursor::new(&bytes)).unwrap();
    let frame = decoder.read_next_frame().unwrap().unwrap();
    let last = frame.buffer.len() - 4;
    assert_eq!(
        picture.at(39, 39),
        <[u8; 4]>::try_from(&frame.buffer[last..]).unwrap()
    );
    assert_eq!(picture.at(0, 0)[3], 0);

    // Generated: a 4x4 screen and a 6x2 frame at (2, 3): 8x5.
    let mut gif = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut gif, 4, 4, &[255, 0, 0, 0, 0, 255]).unwrap();
        let frame = gif::Frame {
            left: 2,
            top: 3,
            width: 6,
            height: 2,
            buffer: std::borrow::Cow::Owned(vec![1; 12]),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).unwrap();
    }
    let grown = rendered(&gif, "image/gif");
    assert_eq!((grown.width, grown.height), (8, 5));
    assert_eq!(Picture::of(&grown.renditions[0]).at(7, 4), [0, 0, 255, 255]);
    let tight = DecodeLimits {
        max_side: 7,
        ..limits()
    };
    assert!(matches!(
        render(&gif, "image/gif", &sizes(), &tight),
        Err(RenditionError::TooLarge {
            width: 8,
            height: 5,
            ..
        })
    ));
}

// ---- orientation in every container variant ----

/// `webp` with a chunk inserted after the header (turned into an extended VP8X file).
fn webp_with_exif(webp: &[u8], exif: &[u8], width: u32, height: u32) -> Vec<u8> {
    let chunk = |tag: &[u8], body: &[u8]| {
        let mut out = tag.to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        out
    };
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let mut vp8x = vec![0x08, 0, 0, 0];
    vp8x.extend(u24(width - 1));
    vp8x.extend(u24(height - 1));
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(&webp[12..]);
    body.extend(chunk(b"EXIF", exif));
    chunk(b"RIFF", &body)
}

/// `png` with a chunk inserted before IEND.
fn png_with_chunk(png: &[u8], tag: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let iend = png.len() - 12;
    let mut out = png[..iend].to_vec();
    out.extend((data.len() as u32).to_be_bytes());
    out.extend(tag);
    out.extend(data);
    out.extend(crc32(&[&tag[..], data].concat()).to_be_bytes());
    out.extend(&png[iend..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Stored 40x20, left half red, right half blue, with EXIF orientation 6: upright it is 20x40
/// with red on top. Checks the displayed size and where the red went.
fn assert_upright(bytes: &[u8], mime: &str) {
    let rendered = rendered(bytes, mime);
    assert_eq!((rendered.width, rendered.height), (20, 40), "{mime}");
    let picture = Picture::of(&rendered.renditions[0]);
    assert_eq!(picture.at(10, 5), [255, 0, 0, 255], "{mime}: red on top");
    assert_eq!(picture.at(10, 35), [0, 0, 255, 255], "{mime}: blue below");
}

#[test]
fn orientation_is_read_from_every_exif_container_variant() {
    let pixel = |x: u32, _| {
        if x < 20 {
            [255, 0, 0, 255]
        } else {
            [0, 0, 255, 255]
        }
    };
    let png = png_rgba(40, 20, pixel);
    let with_prefix = exif(6);
    let bare = &with_prefix[6..];
    // PNG eXIf: a bare TIFF structure (the spec), or behind "Exif\0\0" (ImageMagick, exiftool).
    assert_upright(&png_with_chunk(&png, b"eXIf", bare), "image/png");
    assert_upright(&png_with_chunk(&png, b"eXIf", &with_prefix), "image/png");
    // WebP EXIF: bare (the spec, libwebp's webpmux), or behind "Exif\0\0" (Pillow).
    let data: Vec<u8> = (0..20)
        .flat_map(|_| {
            (0..40).flat_map(|x| {
                let [r, g, b, _] = pixel(x, 0);
                [r, g, b]
            })
        })
        .collect();
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp)
        .encode(&data, 40, 20, image_webp::ColorType::Rgb8)
        .unwrap();
    assert_upright(&webp_with_exif(&webp, bare, 40, 20), "image/webp");
    assert_upright(&webp_with_exif(&webp, &with_prefix, 40, 20), "image/webp");
}

#[test]
fn a_pillow_webp_with_orientation_6_is_rendered_upright() {
    // 128x128 hopper, stored turned; its EXIF chunk starts with "Exif\0\0" as Pillow writes it.
    let bytes = sample("pillow__hopper_orientation_6.webp");
    assert_eq!(
        Orientation::from_exif_container(&bytes),
        Orientation::Rotate90
    );
    let upright = rendered(&bytes, "image/webp");
    // Against the same pixels turned by hand: the rendition is the turned image.
    let decoded = {
        let mut decoder = image_webp::WebPDecoder::new(Cursor::new(&bytes)).unwrap();
        let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
        decoder.read_image(&mut buf).unwrap();
        let (w, h) = decoder.dimensions();
        let channels = buf.len() / (w * h) as usize;
        let (turned, tw, th) = Orientation::Rotate90.apply(&buf, w, h, channels);
        let rgba: Vec<u8> = turned
            .chunks_exact(channels)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect();
        Picture {
            width: tw,
            height: th,
            rgba,
            indexed: false,
        }
    };
    let ours = Picture::of(&upright.renditions[0]);
    assert!(
        mean_error(&ours, &decoded) < 4.0,
        "{}",
        mean_error(&ours, &decoded)
    );
    let unturned = Picture {
        rgba: {
            let mut decoder = image_webp::WebPDecoder::new(Cursor::new(&bytes)).unwrap();
            let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
            decoder.read_image(&mut buf).unwrap();
            let channels = buf.len() / (128 * 128);
            buf.chunks_exact(channels)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect()
        },
        ..decoded
    };
    assert!(mean_error(&ours, &unturned) > 4.0 * mean_error(&ours, &decoded));
}

// ---- TIFF ----

/// One TIFF page: its tags (tag, TIFF type 3 = SHORT or 4 = LONG, values) besides the size and
/// strip tags, and its strips (one per plane for planar files).
struct TiffPage<'a> {
    width: u32,
    height: u32,
    tags: Vec<(u16, u16, Vec<u32>)>,
    strips: Vec<&'a [u8]>,
}

/// A little-endian TIFF of `pages`, written by hand so every variant the decoder must read can be
/// made (the `tiff` crate's encoder writes no palette, planar, bilevel or JPEG files).
fn tiff_file(pages: &[TiffPage]) -> Vec<u8> {
    let mut out = b"II*\0\0\0\0\0".to_vec();
    let mut link = 4; // where the offset of the next IFD goes
    for page in pages {
        let mut offsets = Vec::new();
        for strip in &page.strips {
            offsets.push(out.len() as u32);
            out.extend(*strip);
            if out.len() % 2 == 1 {
                out.push(0);
            }
        }
        let mut tags = page.tags.clone();
        tags.extend([
            (256, 4, vec![page.width]),
            (257, 4, vec![page.height]),
            (273, 4, offsets),
            (278, 4, vec![page.height]),
            (279, 4, page.strips.iter().map(|s| s.len() as u32).collect()),
        ]);
        tags.sort_by_key(|(tag, ..)| *tag);
        // Values that do not fit the entry's four bytes go before the IFD.
        let mut entries = Vec::new();
        for (tag, kind, values) in &tags {
            let size = if *kind == 3 { 2 } else { 4 };
            let bytes: Vec<u8> = values
                .iter()
                .flat_map(|&v| {
                    if *kind == 3 {
                        (v as u16).to_le_bytes().to_vec()
                    } else {
                        v.to_le_bytes().to_vec()
                    }
                })
                .collect();
            let field = if bytes.len() <= 4 {
                let mut inline = bytes.clone();
                inline.resize(4, 0);
                inline
            } else {
                let at = out.len() as u32;
                out.extend(&bytes);
                if out.len() % 2 == 1 {
                    out.push(0);
                }
                at.to_le_bytes().to_vec()
            };
            let _ = size;
            entries.push((*tag, *kind, values.len() as u32, field));
        }
        let ifd = out.len() as u32;
        out[link..link + 4].copy_from_slice(&ifd.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, count, field) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend(field);
        }
        link = out.len();
        out.extend(0u32.to_le_bytes());
    }
    out
}

const BITS: u16 = 258;
const COMPRESSION: u16 = 259;
const PHOTOMETRIC: u16 = 262;
const ORIENTATION: u16 = 274;
const SAMPLES: u16 = 277;
const PLANAR: u16 = 284;
const COLOR_MAP: u16 = 320;
const EXTRA_SAMPLES: u16 = 338;

fn short(tag: u16, values: &[u32]) -> (u16, u16, Vec<u32>) {
    (tag, 3, values.to_vec())
}

/// A page of `width` x `height` with the usual tags for `photometric` and `bits`.
fn tiff_page<'a>(
    width: u32,
    height: u32,
    photometric: u32,
    bits: &[u32],
    strips: Vec<&'a [u8]>,
) -> TiffPage<'a> {
    TiffPage {
        width,
        height,
        tags: vec![
            short(BITS, bits),
            short(COMPRESSION, &[1]),
            short(PHOTOMETRIC, &[photometric]),
            short(SAMPLES, &[bits.len() as u32]),
        ],
        strips,
    }
}

fn render_tiff(bytes: &[u8]) -> (Rendered, Picture) {
    let rendered = rendered(bytes, "image/tiff");
    let picture = Picture::of(&rendered.renditions[0]);
    (rendered, picture)
}

#[test]
fn tiff_8_and_16_bit_rgb_and_grey_in_every_common_compression() {
    use ::tiff::encoder::{Compression, DeflateLevel, TiffEncoder, colortype};
    let (w, h) = (120u32, 80u32);
    // Left half orange, right half teal, with enough noise to be a photograph.
    let rgb8: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let [a, b, c] = [
                (x * 3 + y * 7) % 40,
                (x * 11 + y * 5) % 40,
                (x * 13 + y * 3) % 40,
            ]
            .map(|v| v as u8);
            if x < w / 2 {
                [210 + a, 100 + b, c]
            } else {
                [c, 120 + a, 140 + b]
            }
        })
        .collect();
    let rgb16: Vec<u16> = rgb8.iter().map(|&v| u16::from(v) * 257).collect();
    let grey8: Vec<u8> = rgb8.chunks_exact(3).map(|p| p[1]).collect();
    let grey16: Vec<u16> = grey8.iter().map(|&v| u16::from(v) * 257).collect();
    type Writer<'a> = dyn Fn(&mut TiffEncoder<&mut Cursor<Vec<u8>>>) + 'a;
    let encode = |compression: Compression, write: &Writer| {
        let mut out = Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(compression);
        write(&mut encoder);
        out.into_inner()
    };
    let files = [
        (
            "RGB8 LZW",
            encode(Compression::Lzw, &|e| {
                e.write_image::<colortype::RGB8>(w, h, &rgb8).unwrap()
            }),
        ),
        (
            "RGB16 Deflate",
            encode(Compression::Deflate(DeflateLevel::Balanced), &|e| {
                e.write_image::<colortype::RGB16>(w, h, &rgb16).unwrap()
            }),
        ),
        (
            "RGB8 PackBits",
            encode(Compression::Packbits, &|e| {
                e.write_image::<colortype::RGB8>(w, h, &rgb8).unwrap()
            }),
        ),
        (
            "Gray8 none",
            encode(Compression::Uncompressed, &|e| {
                e.write_image::<colortype::Gray8>(w, h, &grey8).unwrap()
            }),
        ),
        (
            "Gray16 LZW",
            encode(Compression::Lzw, &|e| {
                e.write_image::<colortype::Gray16>(w, h, &grey16).unwrap()
            }),
        ),
    ];
    for (name, bytes) in files {
        let (rendered, picture) = render_tiff(&bytes);
        assert_eq!((rendered.width, rendered.height), (w, h), "{name}");
        assert_eq!(rendered.renditions[0].content_type, "image/jpeg", "{name}");
        let [r, g, b, _] = picture.at(20, 40);
        let [r2, g2, b2, _] = picture.at(100, 40);
        if name.starts_with("RGB") {
            assert!(
                r > 200 && (95..145).contains(&g) && b < 45,
                "{name}: {:?}",
                [r, g, b]
            );
            assert!(
                r2 < 45 && (115..165).contains(&g2) && (135..185).contains(&b2),
                "{name}: {:?}",
                [r2, g2, b2]
            );
        } else {
            assert!(
                (95..145).contains(&r) && r.abs_diff(g) < 3 && g.abs_diff(b) < 3,
                "{name}: {:?}",
                [r, g, b]
            );
            assert!((115..165).contains(&r2), "{name}: {r2}");
        }
    }
}

#[test]
fn tiff_palette_bilevel_planar_alpha_cmyk_and_jpeg() {
    // 4-bit palette, two pixels a byte: index = x / 2 % 3 into red, green, blue; the colour map
    // is 16-bit.
    let (w, h) = (8u32, 4u32);
    let indices: Vec<u8> = (0..h)
        .flat_map(|_| (0..w / 2).map(|x| ((x % 3) << 4 | (x % 3)) as u8))
        .collect();
    let mut map = vec![0u32; 48];
    map[0] = 0xFFFF; // red[0]
    map[16 + 1] = 0xFFFF; // green[1]
    map[32 + 2] = 0xFFFF; // blue[2]
    let mut palette = tiff_page(w, h, 3, &[4], vec![&indices]);
    palette.tags.push((COLOR_MAP, 3, map));
    let (rendered, picture) = render_tiff(&tiff_file(&[palette]));
    assert_eq!((rendered.width, rendered.height), (8, 4));
    assert_eq!(
        rendered.renditions[0].content_type, "image/png",
        "palette: a graphic"
    );
    // Two pixels per index: red, red, green, green, blue, blue, red, red.
    assert_eq!(picture.at(1, 0), [255, 0, 0, 255]);
    assert_eq!(picture.at(2, 0), [0, 255, 0, 255]);
    assert_eq!(picture.at(5, 3), [0, 0, 255, 255]);

    // 1-bit, WhiteIsZero (photometric 0): a set bit is black.
    let bilevel = [0b1000_0000u8, 0b0100_0000];
    let (_, picture) = render_tiff(&tiff_file(&[tiff_page(3, 2, 0, &[1], vec![&bilevel])]));
    assert_eq!(picture.at(0, 0), [0, 0, 0, 255]);
    assert_eq!(picture.at(1, 0), [255, 255, 255, 255]);
    assert_eq!(picture.at(1, 1), [0, 0, 0, 255]);

    // Planar RGB: all red, then all green, then all blue samples.
    let (red, green, blue) = ([200u8; 6], [100u8; 6], [50u8; 6]);
    let mut planar = tiff_page(3, 2, 2, &[8, 8, 8], vec![&red, &green, &blue]);
    planar.tags.push(short(PLANAR, &[2]));
    let (_, picture) = render_tiff(&tiff_file(&[planar]));
    assert_eq!(picture.at(2, 1), [200, 100, 50, 255]);

    // RGBA with unassociated alpha: transparency kept as PNG.
    let rgba: Vec<u8> = (0..6)
        .flat_map(|i| [10, 20, 30, if i % 2 == 0 { 0 } else { 255 }])
        .collect();
    let mut with_alpha = tiff_page(3, 2, 2, &[8, 8, 8, 8], vec![&rgba]);
    with_alpha.tags.push(short(EXTRA_SAMPLES, &[2]));
    let (rendered, picture) = render_tiff(&tiff_file(&[with_alpha]));
    assert_eq!(rendered.renditions[0].content_type, "image/png");
    assert_eq!(picture.at(0, 0)[3], 0);
    assert_eq!(picture.at(1, 0), [10, 20, 30, 255]);

    // Grey with premultiplied ("associated") alpha: unpremultiplied.
    let grey_alpha = [64u8, 128, 200, 255];
    let mut associated = tiff_page(2, 1, 1, &[8, 8], vec![&grey_alpha]);
    associated.tags.push(short(EXTRA_SAMPLES, &[1]));
    let (_, picture) = render_tiff(&tiff_file(&[associated]));
    assert_eq!(picture.at(0, 0), [127, 127, 127, 128]);
    assert_eq!(picture.at(1, 0), [200, 200, 200, 255]);

    // CMYK (ink amounts, no profile): cyan ink only is cyan, all four is black.
    let cmyk = [255u8, 0, 0, 0, 255, 255, 255, 255];
    let (_, picture) = render_tiff(&tiff_file(&[tiff_page(
        2,
        1,
        5,
        &[8, 8, 8, 8],
        vec![&cmyk],
    )]));
    assert_eq!(picture.at(0, 0), [0, 255, 255, 255]);
    assert_eq!(picture.at(1, 0), [0, 0, 0, 255]);

    // JPEG-compressed YCbCr (compression 7, photometric 6): the strip is a whole JPEG.
    let rgb = card(96, 64, [200, 30, 30], [30, 30, 200]);
    let stream = jpeg_with(&rgb, 96, 64, Subsamp::Sub2x2);
    let mut jpeg_page = tiff_page(96, 64, 6, &[8, 8, 8], vec![&stream]);
    jpeg_page.tags[1] = short(COMPRESSION, &[7]);
    jpeg_page.tags.push(short(530, &[2, 2]));
    let (rendered, picture) = render_tiff(&tiff_file(&[jpeg_page]));
    assert_eq!((rendered.width, rendered.height), (96, 64));
    let [r, _, b, _] = picture.at(20, 40);
    assert!(r > 170 && b < 60, "left stays red: {:?}", [r, b]);
    let [r, _, b, _] = picture.at(80, 40);
    assert!(b > 170 && r < 60, "right stays blue: {:?}", [r, b]);
}

#[test]
fn only_the_first_tiff_page_is_rendered_and_its_orientation_applied() {
    let red: Vec<u8> = [255u8, 0, 0].repeat(40 * 20);
    let blue: Vec<u8> = [0u8, 0, 255].repeat(10 * 10);
    let mut first = tiff_page(40, 20, 2, &[8, 8, 8], vec![&red]);
    first.tags.push(short(ORIENTATION, &[6]));
    let second = tiff_page(10, 10, 2, &[8, 8, 8], vec![&blue]);
    let (rendered, picture) = render_tiff(&tiff_file(&[first, second]));
    assert_eq!(
        (rendered.width, rendered.height),
        (20, 40),
        "page 1, turned upright"
    );
    assert_eq!(picture.at(5, 30), [255, 0, 0, 255]);
}

#[test]
fn real_tiffs_render() {
    // A scanner-style TIFF with an ICC profile, and sharp's small 8-bit TIFF.
    for (name, size) in [
        ("ianare__BSG1.tiff", (635, 348)),
        ("sharp__8bit_depth.tiff", (21, 21)),
    ] {
        let rendered = rendered(&sample(name), "image/tiff");
        assert_eq!((rendered.width, rendered.height), size, "{name}");
        for rendition in &rendered.renditions {
            Picture::of(rendition);
        }
    }
}

#[test]
fn tiff_limits_and_damage() {
    let pixels = [0u8; 3];
    // The IFD claims 30000 x 2: refused before any pixel buffer.
    let huge = tiff_file(&[tiff_page(30_000, 2, 2, &[8, 8, 8], vec![&pixels])]);
    assert!(matches!(
        render(&huge, "image/tiff", &sizes(), &limits()),
        Err(RenditionError::TooLarge {
            width: 30_000,
            height: 2,
            ..
        })
    ));
    // A strip shorter than the picture, an IFD pointing past the end, floating-point samples.
    let short_strip = tiff_file(&[tiff_page(10, 10, 2, &[8, 8, 8], vec![&pixels])]);
    assert!(render(&short_strip, "image/tiff", &sizes(), &limits()).is_err());
    let mut dangling = short_strip.clone();
    dangling[4..8].copy_from_slice(&1_000_000u32.to_le_bytes());
    assert!(matches!(
        render(&dangling, "image/tiff", &sizes(), &limits()),
        Err(RenditionError::Corrupt(_))
    ));
    // StripOffsets claiming two million values (what fuzzing found): refused before the crate
    // turns them into a 64 MiB vector.
    let mut many = tiff_page(10, 1, 2, &[8, 8, 8], vec![&[0u8; 30][..]]);
    many.tags.push((273, 4, vec![8; 2_000_000]));
    let many = tiff_file(&[many]);
    assert!(matches!(
        render(&many, "image/tiff", &sizes(), &limits()),
        Err(RenditionError::Corrupt(detail)) if detail.contains("too many values")
    ));
    // The fuzzer's case: an ImageWidth entry of 2,097,153 LONGs, its value past the file's end.
    let mut wide = tiff_file(&[tiff_page(1, 1, 1, &[8], vec![&[0u8][..]])]);
    let ifd = u32::from_le_bytes(wide[4..8].try_into().unwrap()) as usize;
    let width_entry = ifd + 2; // the entries are sorted: ImageWidth (256) comes first
    assert_eq!(&wide[width_entry..width_entry + 2], &256u16.to_le_bytes());
    wide[width_entry + 4..width_entry + 8].copy_from_slice(&2_097_153u32.to_le_bytes());
    assert!(matches!(
        render(&wide, "image/tiff", &sizes(), &limits()),
        Err(RenditionError::Corrupt(detail)) if detail.contains("too many values")
    ));
    let floats = [0u8; 4];
    let mut float_page = tiff_page(1, 1, 1, &[32], vec![&floats]);
    float_page.tags.push(short(339, &[3]));
    assert!(matches!(
        render(&tiff_file(&[float_page]), "image/tiff", &sizes(), &limits()),
        Err(RenditionError::UnsupportedFormat(_))
    ));
}

// ---- BMP ----

/// A bottom-up BMP (BITMAPINFOHEADER) of `bits` per pixel with `palette` (BGRA quads).
fn bmp(width: u32, height: u32, bits: u16, palette: &[[u8; 4]], rows: &[Vec<u8>]) -> Vec<u8> {
    let stride = (width as usize * usize::from(bits)).div_ceil(32) * 4;
    let offset = 14 + 40 + palette.len() * 4;
    let size = offset + stride * height as usize;
    let mut out = b"BM".to_vec();
    out.extend((size as u32).to_le_bytes());
    out.extend([0; 4]);
    out.extend((offset as u32).to_le_bytes());
    out.extend(40u32.to_le_bytes());
    out.extend((width as i32).to_le_bytes());
    out.extend((height as i32).to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(bits.to_le_bytes());
    out.extend([0; 4]); // BI_RGB
    out.extend(((stride * height as usize) as u32).to_le_bytes());
    out.extend([0; 8]);
    out.extend((palette.len() as u32).to_le_bytes());
    out.extend([0; 4]);
    for entry in palette {
        out.extend(entry);
    }
    // Bottom-up: the last row first.
    for row in rows.iter().rev() {
        let mut row = row.clone();
        row.resize(stride, 0);
        out.extend(row);
    }
    out
}

#[test]
fn bmps_render_in_their_colours() {
    // The real 24-bit photo.
    let photo = rendered(&sample("ljt__shira_bird8.bmp"), "image/bmp");
    assert_eq!((photo.width, photo.height), (192, 144));
    assert!(
        photo
            .renditions
            .iter()
            .all(|r| r.content_type == "image/jpeg")
    );

    // 8-bit palette, 3x2: blue, green, red / red, red, red (palette entries are BGR0).
    let palette = [[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0]];
    let eight = bmp(3, 2, 8, &palette, &[vec![0, 1, 2], vec![2, 2, 2]]);
    let rendered8 = rendered(&eight, "image/bmp");
    assert_eq!(rendered8.renditions[0].content_type, "image/png");
    let picture = Picture::of(&rendered8.renditions[0]);
    assert_eq!(picture.at(0, 0), [0, 0, 255, 255]);
    assert_eq!(picture.at(1, 0), [0, 255, 0, 255]);
    assert_eq!(picture.at(2, 1), [255, 0, 0, 255]);

    // 1-bit: black and white.
    let one = bmp(
        3,
        1,
        1,
        &[[0, 0, 0, 0], [255, 255, 255, 0]],
        &[vec![0b0100_0000]],
    );
    let picture = Picture::of(&rendered(&one, "image/bmp").renditions[0]);
    assert_eq!(picture.at(0, 0), [0, 0, 0, 255]);
    assert_eq!(picture.at(1, 0), [255, 255, 255, 255]);

    // 24-bit BGR.
    let bgr = bmp(2, 1, 24, &[], &[vec![10, 20, 30, 40, 50, 60]]);
    let picture = Picture::of(&rendered(&bgr, "image/bmp").renditions[0]);
    assert_eq!(picture.at(0, 0), [30, 20, 10, 255]);
}

#[test]
fn bmp_limits_and_damage() {
    let huge = bmp(30_000, 1, 24, &[], &[vec![0; 3]]);
    assert!(matches!(
        render(&huge, "image/bmp", &sizes(), &limits()),
        Err(RenditionError::TooLarge { width: 30_000, .. })
    ));
    let whole = bmp(40, 40, 24, &[], &vec![vec![90; 120]; 40]);
    assert!(render(&whole[..whole.len() / 2], "image/bmp", &sizes(), &limits()).is_err());
    assert!(render(&whole[..30], "image/bmp", &sizes(), &limits()).is_err());
}

/// PSNR over the RGB channels of two equally sized images.
pub(crate) fn psnr(a: &[u8], a_channels: usize, b: &[u8], b_channels: usize) -> f64 {
    let pixels = a.len() / a_channels;
    assert_eq!(pixels, b.len() / b_channels);
    let squared: f64 = (0..pixels)
        .flat_map(|i| (0..3).map(move |c| (i, c)))
        .map(|(i, c)| (f64::from(a[i * a_channels + c]) - f64::from(b[i * b_channels + c])).powi(2))
        .sum();
    let mse = squared / (pixels * 3) as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

/// A new empty folder under the system temp dir, one per call (`prefix`-pid-n): tests run in
/// parallel and external tools write fixed file names into it.
pub(crate) fn scratch_dir(prefix: &str) -> std::path::PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
