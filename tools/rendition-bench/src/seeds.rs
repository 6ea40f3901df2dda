//! Writes the seed corpus of the `image_decode` fuzz target: small, valid images of every format
//! and flavour the pipeline handles (JPEG incl. CMYK/YCCK and recoverable damage, PNG, GIF, WebP,
//! TIFF, BMP), so the fuzzer starts inside each decoder rather than at its first magic-number
//! check.

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

/// An 8-bit RGB PNG of `data`.
fn png_of(data: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
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

/// A CMYK JPEG as Photoshop writes it (Adobe APP14, inverted values); `ycck` for the
/// YCbCr-transformed variant.
fn cmyk_jpeg(width: usize, height: usize, ycck: bool) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width * height * 4)
        .map(|i| (i * 29 % 256) as u8)
        .collect();
    let image = Image {
        pixels: &pixels[..],
        width,
        pitch: width * 4,
        height,
        format: PixelFormat::CMYK,
    };
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_subsamp(Subsamp::None).unwrap();
    let colorspace = if ycck {
        turbojpeg::Colorspace::YCCK
    } else {
        turbojpeg::Colorspace::CMYK
    };
    compressor.set_colorspace(colorspace).unwrap();
    compressor.compress_to_vec(image).unwrap()
}

/// A little-endian one-strip TIFF: `(tag, type, values)` entries besides size and strip tags.
fn tiff(width: u32, height: u32, tags: &[(u16, u16, &[u32])], strip: &[u8]) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    let strip_at = 8u32;
    let mut extra = Vec::new();
    let mut entries: Vec<(u16, u16, Vec<u32>)> =
        tags.iter().map(|(t, k, v)| (*t, *k, v.to_vec())).collect();
    entries.extend([
        (256, 4, vec![width]),
        (257, 4, vec![height]),
        (273, 4, vec![strip_at]),
        (278, 4, vec![height]),
        (279, 4, vec![strip.len() as u32]),
    ]);
    entries.sort_by_key(|e| e.0);
    let values_at = strip_at as usize + strip.len() + strip.len() % 2;
    let mut fields = Vec::new();
    for (tag, kind, values) in &entries {
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
            let mut inline = bytes;
            inline.resize(4, 0);
            inline
        } else {
            let at = (values_at + extra.len()) as u32;
            extra.extend(bytes);
            at.to_le_bytes().to_vec()
        };
        fields.push((*tag, *kind, values.len() as u32, field));
    }
    let ifd_at = (values_at + extra.len()) as u32;
    out.extend(ifd_at.to_le_bytes());
    out.extend(strip);
    if strip.len() % 2 == 1 {
        out.push(0);
    }
    out.extend(extra);
    out.extend((fields.len() as u16).to_le_bytes());
    for (tag, kind, count, field) in fields {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(field);
    }
    out.extend(0u32.to_le_bytes());
    out
}

/// A bottom-up BMP with a BITMAPINFOHEADER; rows are padded here.
fn bmp(width: u32, height: u32, bits: u16, palette: &[[u8; 4]], pixels: &[u8]) -> Vec<u8> {
    let stride = (width as usize * usize::from(bits)).div_ceil(32) * 4;
    let row = (width as usize * usize::from(bits)).div_ceil(8);
    let offset = 14 + 40 + palette.len() * 4;
    let mut out = b"BM".to_vec();
    out.extend(((offset + stride * height as usize) as u32).to_le_bytes());
    out.extend([0; 4]);
    out.extend((offset as u32).to_le_bytes());
    out.extend(40u32.to_le_bytes());
    out.extend((width as i32).to_le_bytes());
    out.extend((height as i32).to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(bits.to_le_bytes());
    // BI_RGB, image size (may be 0), resolution.
    out.extend([0; 16]);
    out.extend((palette.len() as u32).to_le_bytes());
    out.extend([0; 4]);
    palette.iter().for_each(|entry| out.extend(entry));
    for y in (0..height as usize).rev() {
        let mut line = pixels[y * row..(y + 1) * row].to_vec();
        line.resize(stride, 0);
        out.extend(line);
    }
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
    let mut junk_jpeg = jpeg(24, 16, Subsamp::Sub2x2);
    // Stray bytes between two segments: libjpeg warns and decodes.
    junk_jpeg.splice(2..2, *b"\xFF\xE0\x00\x04abjunk");
    let rgb16: Vec<u8> = (0..6 * 4 * 3)
        .flat_map(|i: u16| i.wrapping_mul(997).to_le_bytes())
        .collect();
    let palette_map: Vec<u32> = (0..48).map(|i| i * 4369).collect();
    let exif_be = &exif[6..];
    let mut png_exif = png(8, 8, png::ColorType::Rgb, 3);
    let iend = png_exif.len() - 12;
    let mut chunk = (exif_be.len() as u32).to_be_bytes().to_vec();
    chunk.extend(b"eXIf");
    chunk.extend(exif_be);
    chunk.extend(crc32(&chunk[4..]).to_be_bytes());
    png_exif.splice(iend..iend, chunk);
    let seeds = seeds
        .into_iter()
        .chain([
            // Over 64x64: decoded to YCbCr planes and written as JPEG (smaller images become PNG).
            ("jpeg-420-planes", jpeg(80, 60, Subsamp::Sub2x2)),
            ("jpeg-gray-planes", jpeg(72, 64, Subsamp::Gray)),
            ("png-rgb-photo", png_of(&rgb(80, 60), 80, 60)),
            ("jpeg-cmyk-adobe", cmyk_jpeg(16, 8, false)),
            ("jpeg-ycck", cmyk_jpeg(16, 8, true)),
            ("jpeg-junk-between-markers", junk_jpeg),
            ("png-exif-chunk", png_exif),
            (
                "tiff-rgb8",
                tiff(6, 4, &[(258, 3, &[8, 8, 8]), (259, 3, &[1]), (262, 3, &[2]), (277, 3, &[3])], &rgb(6, 4)),
            ),
            (
                "tiff-rgb16-orientation",
                tiff(6, 4, &[(258, 3, &[16, 16, 16]), (259, 3, &[1]), (262, 3, &[2]), (274, 3, &[6]), (277, 3, &[3])], &rgb16),
            ),
            (
                "tiff-palette4",
                tiff(6, 4, &[(258, 3, &[4]), (259, 3, &[1]), (262, 3, &[3]), (277, 3, &[1]), (320, 3, &palette_map)], &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x10, 0x32, 0x54, 0x76]),
            ),
            (
                "tiff-cmyk-alpha",
                tiff(2, 2, &[(258, 3, &[8, 8, 8, 8, 8]), (259, 3, &[1]), (262, 3, &[5]), (277, 3, &[5]), (338, 3, &[2])], &[9; 20]),
            ),
            (
                "tiff-bilevel-packbits",
                // PackBits: a literal run of 2 bytes, then 6 repeats of 0xAA.
                tiff(16, 4, &[(258, 3, &[1]), (259, 3, &[32773]), (262, 3, &[0]), (277, 3, &[1])], &[0x01, 0xF0, 0x0F, 0xFB, 0xAA]),
            ),
            ("bmp-8bit-palette", bmp(5, 3, 8, &[[0, 0, 255, 0], [0, 255, 0, 0], [255, 0, 0, 0]], &[0, 1, 2, 1, 0, 2, 2, 2, 1, 1, 0, 0, 1, 2, 0])),
            ("bmp-24bit", bmp(3, 2, 24, &[], &rgb(3, 2))),
            ("bmp-1bit", bmp(9, 2, 1, &[[0, 0, 0, 0], [255, 255, 255, 0]], &[0b1010_1010, 0b1000_0000, 0b0101_0101, 0])),
            (
                "gif-frame-past-screen",
                b"GIF89a\x02\0\x02\0\x80\0\0\0\0\0\xff\xff\xff,\x01\0\x01\0\x02\0\x02\0\0\x02\x03D\x34\x05\0;".to_vec(),
            ),
        ]);
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
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
