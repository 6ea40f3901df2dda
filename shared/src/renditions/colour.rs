//! Colour management: images that carry an ICC profile other than sRGB (Display P3 from phones,
//! Adobe RGB from cameras) are converted to sRGB, because renditions carry no profile and browsers
//! show untagged images as sRGB.

use std::sync::Arc;

use moxcms::{ColorProfile, DataColorSpace, Layout, Transform8BitExecutor, TransformOptions};

use super::RenditionError;

/// A ready-made profile-to-sRGB transform for RGB or RGBA pixels.
pub(crate) struct SrgbConversion {
    transform: Arc<Transform8BitExecutor>,
}

impl SrgbConversion {
    /// `None` when the profile is sRGB already, is not an RGB profile, or cannot be read: an
    /// unreadable profile is treated as absent rather than refusing the image.
    pub fn from_icc(icc: &[u8], alpha: bool) -> Option<Self> {
        let profile = ColorProfile::new_from_slice(icc).ok()?;
        if !differs_from_srgb(&profile) {
            return None;
        }
        let layout = if alpha { Layout::Rgba } else { Layout::Rgb };
        let transform = profile
            .create_transform_8bit(
                layout,
                &ColorProfile::new_srgb(),
                layout,
                TransformOptions::default(),
            )
            .ok()?;
        Some(Self { transform })
    }

    pub fn apply(&self, data: &mut Vec<u8>) -> Result<(), RenditionError> {
        let mut converted = vec![0; data.len()];
        self.transform
            .transform(data, &mut converted)
            .map_err(|err| RenditionError::Internal(format!("colour conversion: {err:?}")))?;
        *data = converted;
        Ok(())
    }
}

/// A CMYK-profile-to-sRGB transform: print files carry the profile of the press they were made
/// for, and only that profile says which RGB colour an ink mix is.
pub(crate) struct CmykConversion {
    transform: Arc<Transform8BitExecutor>,
}

impl CmykConversion {
    /// `None` when `icc` is not a readable CMYK profile (the caller falls back to the naive
    /// formula). Perceptual intent, the profile's default and what browsers use.
    pub fn from_icc(icc: &[u8]) -> Option<Self> {
        let profile = ColorProfile::new_from_slice(icc).ok()?;
        if profile.color_space != DataColorSpace::Cmyk {
            return None;
        }
        // moxcms reads 8-bit CMYK through the four-channel `Rgba` layout.
        let transform = profile
            .create_transform_8bit(
                Layout::Rgba,
                &ColorProfile::new_srgb(),
                Layout::Rgb,
                TransformOptions::default(),
            )
            .ok()?;
        Some(Self { transform })
    }

    /// Tightly packed CMYK (0 = no ink) to RGB.
    pub fn apply(&self, cmyk: &[u8]) -> Result<Vec<u8>, RenditionError> {
        let mut rgb = vec![0; cmyk.len() / 4 * 3];
        self.transform
            .transform(cmyk, &mut rgb)
            .map_err(|err| RenditionError::Internal(format!("CMYK conversion: {err:?}")))?;
        Ok(rgb)
    }
}

/// CMYK (0 = no ink) to RGB without a profile: each ink removes its complement's share of the
/// light, black removes from all three. What browsers and Pillow do for untagged CMYK.
pub(crate) fn naive_cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let white = 255 - u32::from(p[3]);
            [p[0], p[1], p[2]].map(|ink| (((255 - u32::from(ink)) * white + 127) / 255) as u8)
        })
        .collect()
}

/// Whether pixels tagged with `icc` need converting to look right as sRGB.
pub(crate) fn needs_conversion(icc: &[u8]) -> bool {
    ColorProfile::new_from_slice(icc).is_ok_and(|profile| differs_from_srgb(&profile))
}

/// An RGB profile whose primaries are not sRGB's. Tone curves are not compared: "sRGB" profiles in
/// the wild encode the same curve in several ways, none of them visibly different.
fn differs_from_srgb(profile: &ColorProfile) -> bool {
    if profile.color_space != DataColorSpace::Rgb {
        return false;
    }
    let srgb = ColorProfile::new_srgb();
    let close = |a: moxcms::Xyzd, b: moxcms::Xyzd| {
        (a.x - b.x).abs() < 0.003 && (a.y - b.y).abs() < 0.003 && (a.z - b.z).abs() < 0.003
    };
    !(close(profile.red_colorant, srgb.red_colorant)
        && close(profile.green_colorant, srgb.green_colorant)
        && close(profile.blue_colorant, srgb.blue_colorant))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(profile: &ColorProfile) -> Vec<u8> {
        profile.encode().expect("moxcms encodes its own profiles")
    }

    #[test]
    fn srgb_profiles_are_left_alone() {
        let srgb = encoded(&ColorProfile::new_srgb());
        assert!(!needs_conversion(&srgb));
        assert!(SrgbConversion::from_icc(&srgb, false).is_none());
    }

    #[test]
    fn display_p3_red_becomes_the_most_saturated_srgb_red() {
        let p3 = encoded(&ColorProfile::new_display_p3());
        assert!(needs_conversion(&p3));
        let conversion = SrgbConversion::from_icc(&p3, false).expect("P3 needs converting");
        // P3's pure red lies outside sRGB: it clips to sRGB red, and a P3 grey stays grey.
        let mut pixels = vec![255, 0, 0, 128, 128, 128];
        conversion.apply(&mut pixels).unwrap();
        assert!(
            pixels[0] == 255 && pixels[1] < 10 && pixels[2] < 10,
            "{pixels:?}"
        );
        assert!(pixels[3].abs_diff(128) <= 2 && pixels[3] == pixels[4] && pixels[4] == pixels[5]);
    }

    #[test]
    fn unreadable_profiles_are_ignored() {
        assert!(!needs_conversion(b"not a profile"));
        assert!(SrgbConversion::from_icc(b"not a profile", true).is_none());
    }
}
