//! Content policy: the type of an upload comes from its bytes (magic numbers via `infer`), never
//! from the client's `Content-Type` or filename, and only an allow-list of passive formats is kept.

use super::AssetType;

/// What the bytes turned out to be, and how they may be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectedContent {
    pub mime: &'static str,
    pub extension: &'static str,
    pub asset_type: AssetType,
    /// Browsers render these as pictures and nothing else, so they may be shown inline; everything
    /// else is served as a download.
    pub inline_safe: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContentRejection {
    #[error("the file is empty")]
    Empty,
    #[error("content of type {0} is not accepted")]
    NotAllowed(String),
    #[error("markup (HTML, SVG, XML) can carry script and is not accepted")]
    Markup,
    #[error("the content could not be identified as an accepted format")]
    Unrecognised,
    #[error(
        "the image is {width}x{height} pixels; the limit is {max_pixels} pixels and {max_side} pixels a side"
    )]
    ImageTooLarge {
        width: u64,
        height: u64,
        max_pixels: u64,
        max_side: u64,
    },
    #[error("the image's header cannot be read: the file is corrupt or truncated")]
    UnreadableImage,
    #[error("assetType {declared} does not match the content, which is {detected} ({mime})")]
    TypeMismatch {
        declared: AssetType,
        detected: AssetType,
        mime: &'static str,
    },
}

struct Allowed {
    mime: &'static str,
    extension: &'static str,
    asset_type: AssetType,
    inline_safe: bool,
}

const fn allow(
    mime: &'static str,
    extension: &'static str,
    asset_type: AssetType,
    inline_safe: bool,
) -> Allowed {
    Allowed {
        mime,
        extension,
        asset_type,
        inline_safe,
    }
}

use AssetType::{Audio, Document, Image, Other, Video};

/// Binary formats detected by `infer` that the service keeps. Scripts, executables, HTML/XML, fonts,
/// archives other than plain zip and everything unknown are refused.
const ALLOWED: &[Allowed] = &[
    allow("image/jpeg", "jpg", Image, true),
    allow("image/png", "png", Image, true),
    allow("image/gif", "gif", Image, true),
    allow("image/webp", "webp", Image, true),
    allow("image/avif", "avif", Image, true),
    allow("image/heic", "heic", Image, true),
    allow("image/heif", "heif", Image, true),
    allow("image/bmp", "bmp", Image, true),
    allow("image/jxl", "jxl", Image, true),
    allow("image/tiff", "tiff", Image, false),
    allow("application/pdf", "pdf", Document, false),
    allow("application/rtf", "rtf", Document, false),
    allow("application/msword", "doc", Document, false),
    allow("application/vnd.ms-excel", "xls", Document, false),
    allow("application/vnd.ms-powerpoint", "ppt", Document, false),
    allow(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
        Document,
        false,
    ),
    allow(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        Document,
        false,
    ),
    allow(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
        Document,
        false,
    ),
    allow(
        "application/vnd.oasis.opendocument.text",
        "odt",
        Document,
        false,
    ),
    allow(
        "application/vnd.oasis.opendocument.spreadsheet",
        "ods",
        Document,
        false,
    ),
    allow(
        "application/vnd.oasis.opendocument.presentation",
        "odp",
        Document,
        false,
    ),
    allow("video/mp4", "mp4", Video, false),
    allow("video/webm", "webm", Video, false),
    allow("video/quicktime", "mov", Video, false),
    allow("audio/mpeg", "mp3", Audio, false),
    allow("audio/m4a", "m4a", Audio, false),
    allow("audio/ogg", "ogg", Audio, false),
    allow("audio/x-flac", "flac", Audio, false),
    allow("audio/x-wav", "wav", Audio, false),
    allow("audio/aac", "aac", Audio, false),
    allow("application/zip", "zip", Other, false),
];

const PLAIN_TEXT: Allowed = allow("text/plain; charset=utf-8", "txt", Document, false);
const CSV: Allowed = allow("text/csv; charset=utf-8", "csv", Document, false);

/// How much of a text file is inspected for markup; markup shows itself at the start.
const MARKUP_SCAN_BYTES: usize = 4096;

/// Identifies `bytes` and applies the allow-list. `filename` is only consulted to tell CSV from
/// plain text once the bytes are known to be harmless UTF-8 text.
pub fn detect_content(
    bytes: &[u8],
    filename: Option<&str>,
) -> Result<DetectedContent, ContentRejection> {
    if bytes.is_empty() {
        return Err(ContentRejection::Empty);
    }
    if let Some(kind) = infer::get(bytes) {
        let mime = heif_brand_mime(bytes).unwrap_or(kind.mime_type());
        if matches!(mime, "text/html" | "text/xml" | "image/svg+xml") {
            return Err(ContentRejection::Markup);
        }
        return ALLOWED
            .iter()
            .find(|a| a.mime == mime)
            .map(Allowed::detected)
            .ok_or_else(|| ContentRejection::NotAllowed(mime.to_owned()));
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| ContentRejection::Unrecognised)?;
    if text.contains('\0') {
        return Err(ContentRejection::Unrecognised);
    }
    if looks_like_markup(text) {
        return Err(ContentRejection::Markup);
    }
    let is_csv = filename.is_some_and(|f| f.to_ascii_lowercase().ends_with(".csv"));
    Ok(if is_csv { CSV } else { PLAIN_TEXT }.detected())
}

/// The type of a HEIF file by its major brand (`ftyp`), which `infer` does not distinguish: the
/// rule of ISO/IEC 23008-12 Annex C (and libheif's `heif_get_file_mime_type`): `heic`, `heix`,
/// `heim`, `heis` are `image/heic`, `avif`/`avis` are `image/avif`, and any other HEIF brand
/// (`mif1`, `msf1`, ...) is `image/heif`. `None` when `bytes` is not a HEIF/AVIF file.
fn heif_brand_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.get(4..8)? != b"ftyp" {
        return None;
    }
    let ftyp_len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let compatible = bytes.get(16..ftyp_len.min(bytes.len())).unwrap_or_default();
    let has_brand = |brand: &[u8]| compatible.chunks_exact(4).any(|b| b == brand);
    Some(match bytes.get(8..12)? {
        b"heic" | b"heix" | b"heim" | b"heis" => "image/heic",
        b"avif" | b"avis" => "image/avif",
        b"mif1" | b"msf1" | b"mif2" if has_brand(b"avif") => "image/avif",
        b"mif1" | b"msf1" | b"mif2" | b"hevc" | b"hevx" => "image/heif",
        _ => return None,
    })
}

impl Allowed {
    fn detected(&self) -> DetectedContent {
        DetectedContent {
            mime: self.mime,
            extension: self.extension,
            asset_type: self.asset_type,
            inline_safe: self.inline_safe,
        }
    }
}

/// How large an image may be. Checked from the header alone, before any pixel is decoded, so a
/// small file that claims enormous dimensions (a decompression bomb) costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_pixels: u64,
    pub max_side: u64,
}

impl ImageLimits {
    /// Whether a `width` x `height` image is within both limits.
    pub fn admits(&self, width: u64, height: u64) -> bool {
        width <= self.max_side
            && height <= self.max_side
            && width.saturating_mul(height) <= self.max_pixels
    }
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_side: 20_000,
        }
    }
}

impl DetectedContent {
    /// Width and height of an image from its header, refused when over `limits`; `Ok(None)` for
    /// content that is not an image.
    pub fn check_image(
        &self,
        bytes: &[u8],
        limits: ImageLimits,
    ) -> Result<Option<(u32, u32)>, ContentRejection> {
        if self.asset_type != AssetType::Image {
            return Ok(None);
        }
        let (width, height) = imagesize::blob_size(bytes)
            .ok()
            .map(|size| (size.width as u64, size.height as u64))
            .or_else(|| (self.mime == "image/jpeg").then(|| jpeg_frame_size(bytes))?)
            .ok_or(ContentRejection::UnreadableImage)?;
        if width == 0 || height == 0 {
            return Err(ContentRejection::UnreadableImage);
        }
        if !limits.admits(width, height) {
            return Err(ContentRejection::ImageTooLarge {
                width,
                height,
                max_pixels: limits.max_pixels,
                max_side: limits.max_side,
            });
        }
        Ok(Some((width as u32, height as u32)))
    }

    /// The client's `assetType` is a claim to check, not a label to trust.
    pub fn check_declared(&self, declared: Option<AssetType>) -> Result<(), ContentRejection> {
        match declared {
            Some(declared) if declared != self.asset_type => Err(ContentRejection::TypeMismatch {
                declared,
                detected: self.asset_type,
                mime: self.mime,
            }),
            _ => Ok(()),
        }
    }
}

/// Width and height from a JPEG's frame header (SOFn), walking the segments as libjpeg does:
/// stray bytes and FF 00 between segments are skipped. libjpeg warns about them and decodes the
/// picture, browsers show it; `imagesize` gives up on such a file.
fn jpeg_frame_size(bytes: &[u8]) -> Option<(u64, u64)> {
    let mut pos = 2;
    while pos + 1 < bytes.len() {
        let marker = bytes[pos + 1];
        if bytes[pos] != 0xFF || matches!(marker, 0xFF | 0x00) {
            pos += 1;
            continue;
        }
        match marker {
            // No length: TEM and the restart markers.
            0x01 | 0xD0..=0xD7 => {
                pos += 2;
                continue;
            }
            // The scan or the end came before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = bytes.get(pos + 2..pos + 4)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        // SOF0..SOF15, less DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let sof = bytes.get(pos + 4..pos + 9)?;
            let height = u16::from_be_bytes([sof[1], sof[2]]);
            let width = u16::from_be_bytes([sof[3], sof[4]]);
            return Some((u64::from(width), u64::from(height)));
        }
        pos += 2 + len.max(2);
    }
    None
}

fn looks_like_markup(text: &str) -> bool {
    let head = &text[..floor_char_boundary(text, MARKUP_SCAN_BYTES)];
    if head.trim_start().starts_with('<') {
        return true;
    }
    let lower = head.to_ascii_lowercase();
    [
        "<script",
        "<html",
        "<svg",
        "<!doctype",
        "<iframe",
        "<?xml",
        "<body",
    ]
    .iter()
    .any(|tag| lower.contains(tag))
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    (0..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// A download filename for `name`: the asset's name with the detected extension added when the name
/// has none, so a saved file opens with the right program.
pub fn display_filename(name: &str, extension: &str) -> String {
    let has_extension = name
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty() && !ext.contains(' '));
    if has_extension || extension.is_empty() {
        name.to_owned()
    } else {
        format!("{name}.{extension}")
    }
}

/// The extension the allow-list gives a stored content type (used when serving).
pub fn extension_for(mime: &str) -> &'static str {
    ALLOWED
        .iter()
        .chain([&PLAIN_TEXT, &CSV])
        .find(|a| a.mime == mime)
        .map_or("", |a| a.extension)
}

/// Whether a stored content type may be rendered inline by a browser.
pub fn inline_safe(mime: &str) -> bool {
    ALLOWED.iter().any(|a| a.mime == mime && a.inline_safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";
    const PDF: &[u8] = b"%PDF-1.7\n1 0 obj\n";

    #[test]
    fn images_and_documents_are_detected_from_bytes() {
        let png = detect_content(PNG, Some("photo.jpg")).unwrap();
        assert_eq!(
            (png.mime, png.asset_type, png.inline_safe),
            ("image/png", Image, true)
        );
        let jpeg = detect_content(JPEG, None).unwrap();
        assert_eq!(jpeg.mime, "image/jpeg");
        let pdf = detect_content(PDF, Some("x.png")).unwrap();
        assert_eq!(
            (pdf.mime, pdf.asset_type, pdf.inline_safe),
            ("application/pdf", Document, false)
        );
    }

    #[test]
    fn plain_text_and_csv() {
        let txt = detect_content("hello, wörld\n".as_bytes(), Some("notes")).unwrap();
        assert_eq!(txt.mime, "text/plain; charset=utf-8");
        let csv = detect_content(b"a,b\n1,2\n", Some("DATA.CSV")).unwrap();
        assert_eq!(
            (csv.mime, csv.asset_type),
            ("text/csv; charset=utf-8", Document)
        );
    }

    #[test]
    fn active_content_is_refused() {
        for body in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"  <svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            b"<?xml version=\"1.0\"?><svg/>",
            b"hello <script>alert(1)</script>",
        ] {
            assert_eq!(
                detect_content(body, Some("a.txt")),
                Err(ContentRejection::Markup)
            );
        }
        let mut elf = b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
        elf.resize(64, 0);
        assert!(matches!(
            detect_content(&elf, None),
            Err(ContentRejection::NotAllowed(_))
        ));
    }

    #[test]
    fn binary_garbage_and_empty_files_are_refused() {
        assert_eq!(detect_content(b"", None), Err(ContentRejection::Empty));
        assert_eq!(
            detect_content(b"\0\x01\x02\xff\xfe", None),
            Err(ContentRejection::Unrecognised)
        );
        assert_eq!(
            detect_content(b"abc\0def", None),
            Err(ContentRejection::Unrecognised)
        );
    }

    #[test]
    fn a_jpeg_header_behind_stray_bytes_is_still_read() {
        // SOI, an APP0 segment, stray bytes, a stuffed FF 00, then SOF0 of a 300x200 image.
        let mut jpeg = b"\xFF\xD8\xFF\xE0\x00\x04abjunk\xFF\x00".to_vec();
        jpeg.extend(b"\xFF\xC0\x00\x11\x08\x00\xC8\x01\x2C\x03");
        jpeg.extend([0; 9]);
        let content = detect_content(&jpeg, None).unwrap();
        assert_eq!(
            content.check_image(&jpeg, ImageLimits::default()),
            Ok(Some((300, 200)))
        );
        assert_eq!(jpeg_frame_size(b"\xFF\xD8\xFF\xDA\x00\x02"), None);
        assert_eq!(jpeg_frame_size(b"\xFF\xD8\xFF\xC0\x00"), None);
    }

    #[test]
    fn declared_type_must_agree() {
        let png = detect_content(PNG, None).unwrap();
        assert!(png.check_declared(None).is_ok());
        assert!(png.check_declared(Some(Image)).is_ok());
        assert!(matches!(
            png.check_declared(Some(Document)),
            Err(ContentRejection::TypeMismatch {
                detected: Image,
                ..
            })
        ));
    }

    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(b"\x08\x06\0\0\0\0\0\0\0");
        png
    }

    #[test]
    fn image_dimensions_are_read_from_the_header_and_limited() {
        let limits = ImageLimits {
            max_pixels: 1_000_000,
            max_side: 2_000,
        };
        let small = png_header(640, 480);
        let content = detect_content(&small, None).unwrap();
        assert_eq!(content.check_image(&small, limits), Ok(Some((640, 480))));
        for (w, h) in [
            (1_001, 1_000),
            (2_001, 10),
            (100_000, 100_000),
            (u32::MAX, u32::MAX),
        ] {
            let bomb = png_header(w, h);
            assert!(matches!(
                content.check_image(&bomb, limits),
                Err(ContentRejection::ImageTooLarge { .. })
            ));
        }
        assert_eq!(
            content.check_image(&png_header(0, 5), limits),
            Err(ContentRejection::UnreadableImage)
        );
        assert_eq!(
            content.check_image(&small[..12], limits),
            Err(ContentRejection::UnreadableImage)
        );
        let pdf = detect_content(PDF, None).unwrap();
        assert_eq!(pdf.check_image(PDF, limits), Ok(None));
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let len = 16 + 4 * compatible.len();
        let mut out = (len as u32).to_be_bytes().to_vec();
        out.extend_from_slice(b"ftyp");
        out.extend_from_slice(major);
        out.extend_from_slice(&[0; 4]);
        compatible.iter().for_each(|b| out.extend_from_slice(*b));
        // What follows the box is not a brand.
        out.extend_from_slice(b"\0\0\0\x08avif");
        out
    }

    #[test]
    fn heif_files_are_named_by_their_major_brand() {
        let mime = |major, compatible: &[&[u8; 4]]| {
            detect_content(&ftyp(major, compatible), None).map(|c| (c.mime, c.extension))
        };
        assert_eq!(
            mime(b"heic", &[b"mif1", b"heic"]),
            Ok(("image/heic", "heic"))
        );
        assert_eq!(mime(b"heix", &[b"mif1"]), Ok(("image/heic", "heic")));
        assert_eq!(
            mime(b"mif1", &[b"mif1", b"heic"]),
            Ok(("image/heif", "heif"))
        );
        assert_eq!(
            mime(b"avif", &[b"mif1", b"miaf"]),
            Ok(("image/avif", "avif"))
        );
        assert_eq!(mime(b"mif1", &[b"avif"]), Ok(("image/avif", "avif")));
        // An MP4 is not a HEIF image.
        assert_eq!(
            mime(b"isom", &[b"isom", b"mp42"]).map(|m| m.0),
            Ok("video/mp4")
        );
    }

    #[test]
    fn filenames_gain_a_missing_extension() {
        assert_eq!(display_filename("report", "pdf"), "report.pdf");
        assert_eq!(display_filename("report.PDF", "pdf"), "report.PDF");
        assert_eq!(display_filename(".hidden", "txt"), ".hidden.txt");
    }

    #[test]
    fn stored_types_map_back_to_serving_rules() {
        assert_eq!(extension_for("image/jpeg"), "jpg");
        assert_eq!(extension_for("text/csv; charset=utf-8"), "csv");
        assert!(inline_safe("image/webp"));
        assert!(!inline_safe("application/pdf"));
        assert!(!inline_safe("image/svg+xml"));
    }
}
