//! JPEG through libjpeg-turbo's TurboJPEG 3 API: decoded straight to YCbCr planes at the largest
//! DCT scale (1, 1/2, 1/4, 1/8) that still covers the largest rendition, so a 24 MP photo is never
//! expanded to 24 MP of RGB. CMYK and YCCK (Adobe) JPEGs are decoded to CMYK and converted to sRGB.
//!
//! Damaged files: libjpeg reports damage in the entropy-coded data (a marker where data should be,
//! stray bytes between markers, a bad Huffman code) as *warnings*, fills what it could not decode
//! and writes every row; browsers and Pillow show such files. These are logged and rendered. A file
//! whose data ends before the picture does (libjpeg's "Premature end of JPEG file", or no EOI
//! marker after the scans of a file that warned) is refused as truncated: libjpeg would paint the
//! missing part grey, and an upload cut short is better retried than kept (README, "Formats").
//!
//! The `turbojpeg` crate turns every warning into an error and returns no header after one, so the
//! decoder is driven through `turbojpeg-sys` directly; all `unsafe` is in [`Decompressor`].

use std::ffi::{CStr, c_int};

use turbojpeg::ScalingFactor;
use turbojpeg_sys as tj;

use super::colour::{self, CmykConversion};
use super::decode::Raster;
use super::format;
use super::pixels::{Interleaved, Pixels, Plane};
use super::{DecodeLimits, RenditionError};
use crate::domain::fit_within;

/// Progressive scans a JPEG may have. Real encoders write at most a few dozen; without a limit a
/// small file with thousands of scans keeps a core busy for minutes ("Two Issues with the JPEG
/// Standard", linked from libjpeg-turbo's `TJPARAM_SCANLIMIT`). 500 is what libjpeg-turbo's own
/// fuzzers allow.
const MAX_SCANS: c_int = 500;

/// The start of libjpeg's warnings (jerror.h, `JWRN_*`) after which every row has been written.
const RECOVERABLE_WARNINGS: [&str; 5] = [
    "Corrupt JPEG data",
    "Unknown Adobe color transform code",
    "Inconsistent progression sequence",
    "Warning: unknown JFIF revision number",
    "Invalid SOS parameters for sequential JPEG",
];

/// libjpeg's `JWRN_JPEG_EOF`: the data ran out and the rest of the picture was filled in.
const TRUNCATED_WARNING: &str = "Premature end of JPEG file";

pub(crate) fn decode(
    bytes: &[u8],
    largest_side: u32,
    limits: &DecodeLimits,
) -> Result<Raster, RenditionError> {
    let mut decompressor = Decompressor::new(limits)?;
    let header = decompressor.header(bytes)?;
    limits.check(u64::from(header.width), u64::from(header.height))?;
    let (width, height) = (header.width, header.height);

    let (target_w, target_h) = fit_within(width, height, largest_side);
    let scale = shrink_on_load(width, height, target_w, target_h);
    decompressor.set_scale(scale)?;
    let (scaled_w, scaled_h) = (scale.scale(width as usize), scale.scale(height as usize));

    let markers = Markers::read(bytes);
    let cmyk = [tj::TJCS_TJCS_CMYK, tj::TJCS_TJCS_YCCK]
        .map(|cs| cs as c_int)
        .contains(&header.colorspace);
    let needs_rgb = header.colorspace == tj::TJCS_TJCS_RGB as c_int
        || header.subsamp == tj::TJSAMP_TJSAMP_UNKNOWN as c_int
        // Small images become PNG renditions, which are written from RGB.
        || format::is_small(width, height)
        || markers
            .icc_profile
            .as_deref()
            .is_some_and(colour::needs_conversion);
    let mut icc_profile = markers.icc_profile;
    let pixels = if cmyk {
        let mut cmyk =
            decompressor.decode_packed(bytes, tj::TJPF_TJPF_CMYK, 4, scaled_w, scaled_h)?;
        // Adobe's applications write CMYK inverted (255 = no ink) and mark it with APP14;
        // libjpeg leaves the values as stored.
        if markers.adobe {
            cmyk.iter_mut().for_each(|v| *v = 255 - *v);
        }
        let rgb = match icc_profile.as_deref().and_then(CmykConversion::from_icc) {
            Some(conversion) => conversion.apply(&cmyk)?,
            None => colour::naive_cmyk_to_rgb(&cmyk),
        };
        // Converted to sRGB already.
        icc_profile = None;
        Pixels::Rgb(Interleaved {
            data: rgb,
            width: scaled_w as u32,
            height: scaled_h as u32,
        })
    } else if needs_rgb {
        let rgb = decompressor.decode_packed(bytes, tj::TJPF_TJPF_RGB, 3, scaled_w, scaled_h)?;
        Pixels::Rgb(Interleaved {
            data: rgb,
            width: scaled_w as u32,
            height: scaled_h as u32,
        })
    } else {
        // Planes are kept only for sRGB images: nothing converts them later.
        icc_profile = None;
        decompressor.decode_planes(bytes, scaled_w, scaled_h, header.subsamp)?
    };

    if !decompressor.warnings.is_empty() {
        // libjpeg reports only its first warning: a damaged file that is also cut short may not
        // say "premature end", so the end of image is looked for too.
        if !markers
            .scan_start
            .is_some_and(|start| has_end_of_image(&bytes[start..]))
        {
            return Err(truncated(&decompressor.warnings.join("; ")));
        }
        tracing::warn!(
            warnings = %decompressor.warnings.join("; "),
            "JPEG with recoverable damage rendered"
        );
    }
    Ok(Raster {
        pixels,
        width,
        height,
        icc_profile,
    })
}

fn truncated(detail: &str) -> RenditionError {
    RenditionError::Corrupt(format!(
        "{detail}: the JPEG data ends before the picture does (truncated file)"
    ))
}

/// The smallest DCT scale whose output still covers `target_w` x `target_h`.
fn shrink_on_load(width: u32, height: u32, target_w: u32, target_h: u32) -> ScalingFactor {
    [8, 4, 2]
        .into_iter()
        .map(|denom| ScalingFactor::new(1, denom))
        .find(|scale| {
            scale.scale(width as usize) >= target_w as usize
                && scale.scale(height as usize) >= target_h as usize
        })
        .unwrap_or(ScalingFactor::ONE)
}

/// An EOI marker: entropy-coded data never contains FF D9 (a data FF is always followed by 00 or
/// a restart marker), so one found after the first scan starts is the end of the image.
fn has_end_of_image(scans: &[u8]) -> bool {
    scans.windows(2).rev().any(|pair| pair == [0xFF, 0xD9])
}

/// What the header says, in TurboJPEG's terms.
struct Header {
    width: u32,
    height: u32,
    /// `TJSAMP_*`; `TJSAMP_UNKNOWN` for sampling factors TurboJPEG has no plane layout for.
    subsamp: c_int,
    /// `TJCS_*`
    colorspace: c_int,
}

/// A TurboJPEG decompression handle. Every call's outcome goes through [`Self::check`], which keeps
/// recoverable warnings and turns everything else into [`RenditionError::Corrupt`].
struct Decompressor {
    handle: tj::tjhandle,
    /// libjpeg's recoverable warnings so far, logged once the image is decoded.
    warnings: Vec<String>,
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init, is not null, and is destroyed exactly once.
        unsafe { tj::tj3Destroy(self.handle) }
    }
}

impl Decompressor {
    fn new(limits: &DecodeLimits) -> Result<Self, RenditionError> {
        // SAFETY: tj3Init has no preconditions; it returns a handle or null.
        let handle = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if handle.is_null() {
            return Err(RenditionError::Internal(
                "libjpeg-turbo could not make a decompressor".into(),
            ));
        }
        let mut this = Self {
            handle,
            warnings: Vec::new(),
        };
        this.set(tj::TJPARAM_TJPARAM_SCANLIMIT, MAX_SCANS)?;
        // The limits are checked from the header first; this makes libjpeg-turbo refuse too.
        let max_pixels = c_int::try_from(limits.max_pixels).unwrap_or(c_int::MAX);
        this.set(tj::TJPARAM_TJPARAM_MAXPIXELS, max_pixels)?;
        Ok(this)
    }

    fn set(&mut self, param: tj::TJPARAM, value: c_int) -> Result<(), RenditionError> {
        // SAFETY: a valid handle; tj3Set rejects unknown parameters and values itself.
        if unsafe { tj::tj3Set(self.handle, param as c_int, value) } != 0 {
            return Err(RenditionError::Internal(self.message()));
        }
        Ok(())
    }

    fn get(&mut self, param: tj::TJPARAM) -> c_int {
        // SAFETY: a valid handle; unknown parameters answer -1.
        unsafe { tj::tj3Get(self.handle, param as c_int) }
    }

    fn message(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by the handle (or a
        // thread-local one), valid until the next call on this handle; it is copied at once.
        unsafe { CStr::from_ptr(tj::tj3GetErrorStr(self.handle)) }
            .to_string_lossy()
            .into_owned()
    }

    /// The outcome of a TurboJPEG call. TurboJPEG answers -1 after a warning too, with the error
    /// code `TJERR_WARNING`, and keeps that code if a fatal error follows a warning: a warning is
    /// therefore only taken as one when its message is one of libjpeg's recoverable warnings.
    fn check(&mut self, status: c_int) -> Result<(), RenditionError> {
        if status == 0 {
            return Ok(());
        }
        let message = self.message();
        // SAFETY: a valid handle.
        let code = unsafe { tj::tj3GetErrorCode(self.handle) };
        if code == tj::TJERR_TJERR_WARNING as c_int {
            if message.starts_with(TRUNCATED_WARNING) {
                return Err(truncated(&message));
            }
            if RECOVERABLE_WARNINGS.iter().any(|w| message.starts_with(w)) {
                if !self.warnings.contains(&message) {
                    self.warnings.push(message);
                }
                return Ok(());
            }
        }
        Err(RenditionError::Corrupt(message))
    }

    fn header(&mut self, bytes: &[u8]) -> Result<Header, RenditionError> {
        // SAFETY: a valid handle; libjpeg-turbo reads at most `bytes.len()` bytes.
        let status =
            unsafe { tj::tj3DecompressHeader(self.handle, bytes.as_ptr(), bytes.len() as _) };
        self.check(status)?;
        let dimension = |value: c_int| {
            u32::try_from(value).map_err(|_| RenditionError::Corrupt("bad JPEG dimensions".into()))
        };
        Ok(Header {
            width: dimension(self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH))?,
            height: dimension(self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT))?,
            subsamp: self.get(tj::TJPARAM_TJPARAM_SUBSAMP),
            colorspace: self.get(tj::TJPARAM_TJPARAM_COLORSPACE),
        })
    }

    fn set_scale(&mut self, scale: ScalingFactor) -> Result<(), RenditionError> {
        let factor = tj::tjscalingfactor {
            num: scale.num() as c_int,
            denom: scale.denom() as c_int,
        };
        // SAFETY: a valid handle; unsupported factors are refused with -1.
        if unsafe { tj::tj3SetScalingFactor(self.handle, factor) } != 0 {
            return Err(RenditionError::Internal(self.message()));
        }
        Ok(())
    }

    /// The whole image as `width` x `height` (the scaled header size) packed pixels of `format`
    /// (`TJPF_*`, `channels` bytes each).
    fn decode_packed(
        &mut self,
        bytes: &[u8],
        format: tj::TJPF,
        channels: usize,
        width: usize,
        height: usize,
    ) -> Result<Vec<u8>, RenditionError> {
        let pitch = width * channels;
        let mut pixels = vec![0u8; pitch * height];
        let pitch = c_int::try_from(pitch).map_err(|_| RenditionError::Internal("pitch".into()))?;
        // SAFETY: the header of these same bytes, read on this handle, and the scale set on it
        // make libjpeg-turbo write exactly `height` rows of `width` pixels, `pitch` bytes apart,
        // which is what `pixels` holds; it reads at most `bytes.len()` bytes.
        let status = unsafe {
            tj::tj3Decompress8(
                self.handle,
                bytes.as_ptr(),
                bytes.len() as _,
                pixels.as_mut_ptr(),
                pitch,
                format as c_int,
            )
        };
        self.check(status)?;
        Ok(pixels)
    }

    /// The image as its own Y, Cb and Cr planes (just Y for greyscale), at the scaled size.
    fn decode_planes(
        &mut self,
        bytes: &[u8],
        width: usize,
        height: usize,
        subsamp: c_int,
    ) -> Result<Pixels, RenditionError> {
        let planes = if subsamp == tj::TJSAMP_TJSAMP_GRAY as c_int {
            1
        } else {
            3
        };
        let size = |component: c_int| -> Result<(usize, usize), RenditionError> {
            // SAFETY: pure functions of their arguments; -1 for invalid ones.
            let (w, h) = unsafe {
                (
                    tj::tj3YUVPlaneWidth(component, width as c_int, subsamp),
                    tj::tj3YUVPlaneHeight(component, height as c_int, subsamp),
                )
            };
            match (usize::try_from(w), usize::try_from(h)) {
                (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
                _ => Err(RenditionError::Internal("YUV plane size".into())),
            }
        };
        let sizes = (0..planes)
            .map(|component| size(component as c_int))
            .collect::<Result<Vec<_>, _>>()?;
        let mut buffers: Vec<Vec<u8>> = sizes.iter().map(|(w, h)| vec![0u8; w * h]).collect();
        let mut pointers = [std::ptr::null_mut::<u8>(); 3];
        let mut strides: [c_int; 3] = [0; 3];
        for (i, buffer) in buffers.iter_mut().enumerate() {
            pointers[i] = buffer.as_mut_ptr();
            strides[i] = sizes[i].0 as c_int;
        }
        // SAFETY: each plane buffer is exactly tj3YUVPlaneWidth x tj3YUVPlaneHeight of the
        // scaled size and subsampling this handle decodes (header of these bytes, scale set on
        // it), with that width as its stride; greyscale images write only the first plane.
        let status = unsafe {
            tj::tj3DecompressToYUVPlanes8(
                self.handle,
                bytes.as_ptr(),
                bytes.len() as _,
                pointers.as_mut_ptr(),
                strides.as_mut_ptr(),
            )
        };
        self.check(status)?;

        let mut buffers = buffers.into_iter();
        let luma = buffers.next().expect("at least one plane");
        let (stride, rows) = sizes[0];
        let y = Plane {
            data: luma,
            stride,
            rows,
            width: width as u32,
            height: height as u32,
        };
        // Chroma planes are exactly the subsampled picture: only luma is padded to whole
        // chroma blocks.
        let chroma = match (buffers.next(), buffers.next()) {
            (Some(cb), Some(cr)) => {
                let (w, h) = sizes[1];
                let plane = |data| Plane::tight(data, w as u32, h as u32);
                Some([plane(cb), plane(cr)])
            }
            _ => None,
        };
        Ok(Pixels::YCbCr { y, chroma })
    }
}

/// What the marker segments before the first scan say.
#[derive(Debug, Default, PartialEq)]
struct Markers {
    /// The APP2 "ICC_PROFILE" chunks, joined in sequence order.
    icc_profile: Option<Vec<u8>>,
    /// An APP14 "Adobe" segment: CMYK is stored inverted.
    adobe: bool,
    /// Where the first SOS marker is.
    scan_start: Option<usize>,
}

impl Markers {
    /// Walks the segments as libjpeg does: bytes that are not a marker are skipped (they are the
    /// "extraneous bytes" libjpeg warns about), and so are fill bytes (FF FF) and stuffed FF 00.
    fn read(bytes: &[u8]) -> Self {
        const ICC: &[u8] = b"ICC_PROFILE\0";
        let mut markers = Self::default();
        let mut chunks: Vec<(u8, &[u8])> = Vec::new();
        let mut pos = 2;
        while pos + 1 < bytes.len() {
            if bytes[pos] != 0xFF || matches!(bytes[pos + 1], 0xFF | 0x00) {
                pos += 1;
                continue;
            }
            let marker = bytes[pos + 1];
            match marker {
                0xDA => {
                    markers.scan_start = Some(pos);
                    break;
                }
                0xD9 => break,
                // Markers without a length: TEM and the restart markers.
                0x01 | 0xD0..=0xD7 => {
                    pos += 2;
                    continue;
                }
                _ => {}
            }
            let Some(len) = bytes.get(pos + 2..pos + 4) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let Some(body) = bytes.get(pos + 4..(pos + 2 + len).max(pos + 4)) else {
                break;
            };
            match marker {
                0xE2 => {
                    if let Some(rest) = body.strip_prefix(ICC)
                        && rest.len() > 2
                    {
                        chunks.push((rest[0], &rest[2..]));
                    }
                }
                0xEE if body.starts_with(b"Adobe") => markers.adobe = true,
                _ => {}
            }
            pos += 2 + len.max(2);
        }
        if !chunks.is_empty() {
            chunks.sort_by_key(|(sequence, _)| *sequence);
            markers.icc_profile = Some(
                chunks
                    .into_iter()
                    .flat_map(|(_, data)| data.iter().copied())
                    .collect(),
            );
        }
        markers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dct_scale_is_the_smallest_that_still_covers_the_largest_rendition() {
        // 12 MP: half of 4000 is 2000, short of 2048, so it decodes at full size.
        assert_eq!(shrink_on_load(4000, 3000, 2048, 1536), ScalingFactor::ONE);
        // 24 MP: half of 6000 is 3000 >= 2048, a quarter (1500) is not.
        assert_eq!(
            shrink_on_load(6000, 4000, 2048, 1365),
            ScalingFactor::new(1, 2)
        );
        assert_eq!(
            shrink_on_load(17000, 1000, 2048, 120),
            ScalingFactor::new(1, 8)
        );
        assert_eq!(shrink_on_load(300, 200, 300, 200), ScalingFactor::ONE);
    }

    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut seg = vec![0xFF, marker];
        seg.extend(((body.len() + 2) as u16).to_be_bytes());
        seg.extend(body);
        seg
    }

    #[test]
    fn icc_chunks_are_joined_in_sequence_order() {
        let app2 = |seq: u8, data: &[u8]| {
            let mut body = b"ICC_PROFILE\0".to_vec();
            body.extend([seq, 2]);
            body.extend(data);
            segment(0xE2, &body)
        };
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(app2(2, b"world"));
        jpeg.extend(app2(1, b"hello "));
        jpeg.extend([0xFF, 0xDA, 0, 2]);
        let markers = Markers::read(&jpeg);
        assert_eq!(markers.icc_profile.as_deref(), Some(&b"hello world"[..]));
        assert_eq!(markers.scan_start, Some(jpeg.len() - 4));
        assert_eq!(Markers::read(&[0xFF, 0xD8, 0xFF, 0xE2]), Markers::default());
        assert_eq!(Markers::read(&[0xFF, 0xD8, 0xFF, 0xDA]).icc_profile, None);
    }

    #[test]
    fn stray_bytes_between_markers_are_skipped_like_libjpeg_does() {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend(b"junk\xFF\x00");
        jpeg.extend(segment(0xEE, b"Adobe\0\x64\0\0\0\0\x02"));
        jpeg.extend([0xFF, 0xFF, 0xFF, 0xDA, 0, 2]);
        let markers = Markers::read(&jpeg);
        assert!(markers.adobe);
        assert_eq!(markers.scan_start, Some(jpeg.len() - 4));
    }

    #[test]
    fn the_end_of_image_is_found_after_the_scans() {
        assert!(has_end_of_image(b"\xFF\xDA\0\x02data\xFF\x00\xFF\xD9"));
        assert!(has_end_of_image(b"\xFF\xDAdata\xFF\xD9trailer"));
        assert!(!has_end_of_image(b"\xFF\xDAdata\xFF\x00\xFF"));
    }
}
