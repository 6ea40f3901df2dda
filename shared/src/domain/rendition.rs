//! The four renditions of an image asset and the geometry that decides their pixel size.

use std::fmt;

/// A named rendition. Ordered from the largest to the smallest because each one is made from the
/// one before it (a resize cascade).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RenditionSize {
    LargeX2,
    Large,
    Medium,
    Thumb,
}

impl RenditionSize {
    /// Largest first: the order the cascade makes them in.
    pub const ALL: [RenditionSize; 4] = [Self::LargeX2, Self::Large, Self::Medium, Self::Thumb];

    /// The `?size=` value of the GET endpoint and the object-name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Thumb => "thumb",
            Self::Medium => "medium",
            Self::Large => "large",
            Self::LargeX2 => "largeX2",
        }
    }

    /// The size a client named, in any case (`thumb`, `THUMB`, `largex2`): enumerations are read as
    /// forgivingly as `assetType`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw))
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RenditionSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest side, in pixels, of each rendition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenditionSizes {
    longest_side: [u32; 4],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "rendition sizes must be four positive pixel counts, smallest first \
     (thumb <= medium <= large <= largeX2), got {0:?}"
)]
pub struct InvalidRenditionSizes(pub Vec<u32>);

impl Default for RenditionSizes {
    fn default() -> Self {
        Self {
            longest_side: [2048, 1024, 480, 160],
        }
    }
}

impl RenditionSizes {
    /// From `[thumb, medium, large, largeX2]`, the order people write them in.
    pub fn new(smallest_first: [u32; 4]) -> Result<Self, InvalidRenditionSizes> {
        let ascending = smallest_first.windows(2).all(|w| w[0] <= w[1]);
        if smallest_first[0] == 0 || !ascending {
            return Err(InvalidRenditionSizes(smallest_first.to_vec()));
        }
        let [thumb, medium, large, large_x2] = smallest_first;
        Ok(Self {
            longest_side: [large_x2, large, medium, thumb],
        })
    }

    pub fn longest_side(&self, size: RenditionSize) -> u32 {
        self.longest_side[size.index()]
    }

    /// The pixel size of `size` for a `width` x `height` image: the longest side at most the
    /// rendition's, aspect ratio kept, never larger than the source.
    pub fn fit(&self, size: RenditionSize, width: u32, height: u32) -> (u32, u32) {
        fit_within(width, height, self.longest_side(size))
    }
}

/// Scales `width` x `height` down so that its longest side is at most `max_side`, keeping the
/// aspect ratio (rounded to the nearest pixel, never below one). Never scales up.
pub fn fit_within(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_side {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let scaled =
            (u64::from(side) * u64::from(max_side) + u64::from(longest) / 2) / u64::from(longest);
        (scaled as u32).max(1)
    };
    (scale(width), scale(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landscape_portrait_and_square_keep_their_aspect_ratio() {
        let sizes = RenditionSizes::default();
        assert_eq!(sizes.fit(RenditionSize::LargeX2, 4000, 3000), (2048, 1536));
        assert_eq!(sizes.fit(RenditionSize::Large, 4000, 3000), (1024, 768));
        assert_eq!(sizes.fit(RenditionSize::Medium, 4000, 3000), (480, 360));
        assert_eq!(sizes.fit(RenditionSize::Thumb, 4000, 3000), (160, 120));
        assert_eq!(sizes.fit(RenditionSize::Thumb, 3000, 4000), (120, 160));
        assert_eq!(sizes.fit(RenditionSize::Medium, 5000, 5000), (480, 480));
        assert_eq!(sizes.fit(RenditionSize::Large, 6000, 4000), (1024, 683));
    }

    #[test]
    fn small_sources_are_never_upscaled() {
        let sizes = RenditionSizes::default();
        assert_eq!(sizes.fit(RenditionSize::LargeX2, 300, 200), (300, 200));
        assert_eq!(sizes.fit(RenditionSize::Medium, 300, 200), (300, 200));
        assert_eq!(sizes.fit(RenditionSize::Thumb, 300, 200), (160, 107));
        assert_eq!(sizes.fit(RenditionSize::Thumb, 1, 1), (1, 1));
    }

    #[test]
    fn extreme_aspect_ratios_keep_at_least_one_pixel() {
        assert_eq!(fit_within(20_000, 1, 160), (160, 1));
        assert_eq!(fit_within(1, 20_000, 160), (1, 160));
    }

    #[test]
    fn sizes_are_configurable_but_must_ascend() {
        let sizes = RenditionSizes::new([100, 200, 300, 400]).unwrap();
        assert_eq!(sizes.longest_side(RenditionSize::Thumb), 100);
        assert_eq!(sizes.longest_side(RenditionSize::LargeX2), 400);
        assert!(RenditionSizes::new([200, 100, 300, 400]).is_err());
        assert!(RenditionSizes::new([0, 100, 300, 400]).is_err());
    }

    #[test]
    fn query_values_round_trip() {
        for size in RenditionSize::ALL {
            assert_eq!(RenditionSize::parse(size.as_str()), Some(size));
        }
        assert_eq!(RenditionSize::parse("THUMB"), Some(RenditionSize::Thumb));
        assert_eq!(
            RenditionSize::parse("largex2"),
            Some(RenditionSize::LargeX2)
        );
        assert_eq!(RenditionSize::parse("original"), None);
    }
}
