//! Writes the seed corpus of the `image_decode` fuzz target: small, valid images of every format
//! and flavour the pipeline handles, so the fuzzer starts inside each decoder rather than at its
//! first magic-number check.

use std::path::Path;

use turbojpeg::{Image, PixelFormat, Subsamp};

fn rgb(width: usize, height: usize) -> Vec<u8> {
    (0..width * height)
        .flat_map(|i| [(i * 7 % 256) as u8, (i / width * 9 % 256) as u8, 128])
        .collect()
}

fn jpeg(width: usize, height: usize, subsamp: Subsamp) -> Vec<u8> {
    let pixels = rgb(width, height);
    let image = Image {
        pixels: &pixels[..],
        width,
        pitch: width * 3,
        height,
        format: PixelFormat::RGB,
    };
    turbojpeg::compress(image, 85, subsamp).unwrap().to_vec()
}

fn with_segment(jpeg: &[u8], marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, marker]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend(&jpeg[2..]);
    out
}

fn png(width: u32, height: u32, color: png::ColorType, channels: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..(width * height) as usize * channels)
        .map(|i| (i * 31 % 256) as u8)
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&data).unwrap();
    writer.finish().unwrap();
    out
}

fn webp(width: u32, height: u32, alpha: bool) -> Vec<u8> {
    let channels = if alpha { 4 } else { 3 };
    let data: Vec<u8> = (0..(width * height) as usize * channels)
        .map(|i| (i * 13 % 256) as u8)
        .collect();
    let color = if alpha {
        image_webp::ColorType::Rgba8
    } else {
        image_webp::ColorType::Rgb8
    };
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&data, width, height, color)
        .unwrap();
    out
}

pub fn write(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    // Orientation 6 in a big-endian EXIF block.
    let exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0";
    let mut icc = b"ICC_PROFILE\0\x01\x01".to_vec();
    icc.extend(
        truncated_icc_header()
            .into_iter()
            .chain(std::iter::repeat_n(0, 16)),
    );
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("jpeg-420", jpeg(40, 30, Subsamp::Sub2x2)),
        ("jpeg-444", jpeg(17, 9, Subsamp::None)),
        ("jpeg-422", jpeg(24, 16, Subsamp::Sub2x1)),
        ("jpeg-gray", jpeg(16, 16, Subsamp::Gray)),
        ("jpeg-exif", with_segment(&jpeg(32, 16, Subsamp::Sub2x2), 0xE1, exif)),
        ("jpeg-icc", with_segment(&jpeg(16, 16, Subsamp::Sub2x2), 0xE2, &icc)),
        ("png-rgb", png(20, 10, png::ColorType::Rgb, 3)),
        ("png-rgba", png(12, 12, png::ColorType::Rgba, 4)),
        ("png-gray", png(9, 7, png::ColorType::Grayscale, 1)),
        ("png-gray-alpha", png(8, 8, png::ColorType::GrayscaleAlpha, 2)),
        ("webp-rgb", webp(16, 12, false)),
        ("webp-rgba", webp(10, 10, true)),
        (
            "gif-two-frames",
            b"GIF89a\x02\0\x02\0\x80\0\0\0\0\0\xff\xff\xff!\xf9\x04\x01\0\0\0\0,\0\0\0\0\x02\0\x02\0\0\x02\x02D\x01\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;".to_vec(),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// A truncated ICC header: enough for the profile parser to start reading, not to succeed.
fn truncated_icc_header() -> Vec<u8> {
    let mut header = vec![0u8; 128];
    header[0..4].copy_from_slice(&128u32.to_be_bytes());
    header[12..16].copy_from_slice(b"mntr");
    header[16..20].copy_from_slice(b"RGB ");
    header[20..24].copy_from_slice(b"XYZ ");
    header[36..40].copy_from_slice(b"acsp");
    header
}
