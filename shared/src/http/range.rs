//! Byte ranges of a GET (RFC 9110 §14, §13.1.5): which part of a representation a request asks
//! for. Pure rules over the request's method and headers and the representation's ETag and length.
//!
//! Parsing and the check against the length are `http-range-header`'s (strict RFC 9110 grammar,
//! fuzzed). `headers::Range` does not fit: its `satisfiable_ranges` drops a suffix longer than
//! the representation (RFC 9110 §14.1.2: that selects all of it), lets a first byte past the end
//! through, and skips malformed specs instead of telling the caller the header is invalid.
//! `If-Range` is `headers`' typed header with its strong comparison.

use std::ops::RangeInclusive;

use headers::{ETag, HeaderMapExt, IfRange};
use http_range_header::RangeUnsatisfiableError;
use lambda_http::http::{HeaderMap, Method, header};

/// What to send of a representation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// All of it, `200`: no `Range`, a `Range` this service ignores (see [`requested_part`]), or
    /// an `If-Range` that does not match.
    Whole,
    /// One range, `206`: first and last byte offsets, both inclusive, within the representation.
    Bytes(RangeInclusive<u64>),
    /// No range of the request starts inside the representation: `416`.
    Unsatisfiable,
}

/// The part of a representation of `len` bytes, with entity tag `etag` (`"..."`, strong), that a
/// request asks for. Rules, in RFC 9110's order:
/// - only a GET has ranges (§14.2: range handling is defined for GET alone); a HEAD is answered as
///   the whole GET would be;
/// - `If-Range` (§13.1.5, evaluated after `If-None-Match`, which the caller has answered): an
///   entity tag must equal `etag` by strong comparison, otherwise the whole representation is sent.
///   An HTTP-date never matches, since this service sends no `Last-Modified` (a date cannot
///   vouch for a representation whose modification time the client was never told); an invalid
///   `If-Range` does not match either;
/// - a `Range` that is not a valid `bytes` range set (other units, bad syntax, more than one
///   `Range` field, more than 100 ranges or more than two that overlap) is ignored (§14.2: a
///   server MAY ignore it): `Whole`;
/// - no range starts inside the representation: `Unsatisfiable` (§14.1.2, §15.5.17). A suffix
///   longer than the representation selects all of it, a last byte past the end is the end;
/// - several ranges: those that overlap or touch are coalesced (§14.2 allows it). If that leaves
///   one range, it is sent; if it leaves several, the whole representation is sent with `200`
///   instead of a `multipart/byteranges` body (§14.2: a server MAY ignore `Range`). Inline bodies
///   are at most a few MB, and browsers' media players and download managers ask for one range.
pub fn requested_part(method: &Method, headers: &HeaderMap, etag: &str, len: u64) -> Part {
    if method != Method::GET {
        return Part::Whole;
    }
    let mut fields = headers.get_all(header::RANGE).iter();
    let (Some(range), None) = (fields.next(), fields.next()) else {
        return Part::Whole;
    };
    let Ok(range) = range.to_str() else {
        return Part::Whole;
    };
    if headers.contains_key(header::IF_RANGE) && !if_range_matches(headers, etag) {
        return Part::Whole;
    }
    let ranges = match http_range_header::parse_range_header(range)
        .and_then(|parsed| parsed.validate(len))
    {
        Ok(ranges) => ranges,
        Err(RangeUnsatisfiableError::Unsatisfiable) => return Part::Unsatisfiable,
        // Invalid or intolerable: ignored. (`RangeUnsatisfiableError` is non-exhaustive.)
        Err(_) => return Part::Whole,
    };
    let mut coalesced = coalesce(ranges);
    match (coalesced.pop(), coalesced.is_empty()) {
        (Some(only), true) => Part::Bytes(only),
        // Several disjoint ranges, or none (an empty representation).
        _ => Part::Whole,
    }
}

fn if_range_matches(headers: &HeaderMap, etag: &str) -> bool {
    let Ok(Some(if_range)) = headers.typed_try_get::<IfRange>() else {
        return false;
    };
    let Ok(etag) = etag.parse::<ETag>() else {
        return false;
    };
    !if_range.is_modified(Some(&etag), None)
}

/// Sorted, with overlapping and adjacent ranges merged into one.
fn coalesce(mut ranges: Vec<RangeInclusive<u64>>) -> Vec<RangeInclusive<u64>> {
    ranges.sort_by_key(|range| *range.start());
    let mut merged: Vec<RangeInclusive<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if *range.start() <= last.end().saturating_add(1) => {
                *last = *last.start()..=(*last.end()).max(*range.end());
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;

    const ETAG: &str = "\"abc\"";

    fn part(method: Method, headers: &[(&str, &str)], len: u64) -> Part {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        requested_part(&method, &map, ETAG, len)
    }

    fn get(range: &str, len: u64) -> Part {
        part(Method::GET, &[("range", range)], len)
    }

    #[test]
    fn single_ranges_as_browsers_send_them() {
        assert_eq!(get("bytes=0-99", 1000), Part::Bytes(0..=99));
        // Media players open with an open-ended range from 0 and seek with one from an offset.
        assert_eq!(get("bytes=0-", 1000), Part::Bytes(0..=999));
        assert_eq!(get("bytes=600-", 1000), Part::Bytes(600..=999));
        assert_eq!(get("bytes=-500", 1000), Part::Bytes(500..=999));
        assert_eq!(get("bytes=999-999", 1000), Part::Bytes(999..=999));
        // The unit is case-insensitive (RFC 9110 §14.1).
        assert_eq!(get("Bytes=1-2", 1000), Part::Bytes(1..=2));
    }

    #[test]
    fn ranges_are_cut_to_the_representation() {
        // A last byte past the end means the end; a suffix longer than the whole means the whole.
        assert_eq!(get("bytes=900-5000", 1000), Part::Bytes(900..=999));
        assert_eq!(get("bytes=-5000", 1000), Part::Bytes(0..=999));
    }

    #[test]
    fn ranges_wholly_past_the_end_are_unsatisfiable() {
        assert_eq!(get("bytes=1000-", 1000), Part::Unsatisfiable);
        assert_eq!(get("bytes=1000-1010", 1000), Part::Unsatisfiable);
        assert_eq!(get("bytes=-0", 1000), Part::Unsatisfiable);
        assert_eq!(get("bytes=2000-3000,5000-", 1000), Part::Unsatisfiable);
        // One satisfiable range is enough (RFC 9110 §14.1.2).
        assert_eq!(get("bytes=5000-,10-19", 1000), Part::Bytes(10..=19));
    }

    #[test]
    fn invalid_range_headers_are_ignored() {
        for range in [
            "bytes=abc",
            "bytes=5-1",
            "items=0-10",
            "bytes 0-10",
            "0-10",
            "bytes=",
            "bytes=--5",
            "bytes=+1-2",
        ] {
            assert_eq!(get(range, 1000), Part::Whole, "{range}");
        }
        // Two Range fields are not one range set.
        assert_eq!(
            part(
                Method::GET,
                &[("range", "bytes=0-1"), ("range", "bytes=5-6")],
                1000
            ),
            Part::Whole
        );
    }

    #[test]
    fn several_ranges_are_coalesced_or_answered_whole() {
        assert_eq!(get("bytes=0-10,5-20", 1000), Part::Bytes(0..=20));
        assert_eq!(get("bytes=11-20,0-10", 1000), Part::Bytes(0..=20));
        assert_eq!(get("bytes=0-10,12-20", 1000), Part::Whole);
        assert_eq!(get("bytes=0-1,-2", 1000), Part::Whole);
    }

    #[test]
    fn only_get_has_ranges() {
        for method in [Method::HEAD, Method::POST] {
            assert_eq!(part(method, &[("range", "bytes=0-1")], 1000), Part::Whole);
        }
        assert_eq!(part(Method::GET, &[], 1000), Part::Whole);
    }

    #[test]
    fn if_range_needs_the_same_strong_etag() {
        let with = |if_range: &str, range: &str| {
            part(
                Method::GET,
                &[("range", range), ("if-range", if_range)],
                1000,
            )
        };
        assert_eq!(with(ETAG, "bytes=0-9"), Part::Bytes(0..=9));
        assert_eq!(with("\"other\"", "bytes=0-9"), Part::Whole);
        // Weak tags never match in a strong comparison.
        assert_eq!(with("W/\"abc\"", "bytes=0-9"), Part::Whole);
        // No Last-Modified is ever sent, so no date can vouch for the client's copy.
        assert_eq!(
            with("Sun, 29 Nov 2026 10:00:00 GMT", "bytes=0-9"),
            Part::Whole
        );
        assert_eq!(with("garbage", "bytes=0-9"), Part::Whole);
        // A failed If-Range sends the whole, even for a range that could not be satisfied.
        assert_eq!(with("\"other\"", "bytes=5000-"), Part::Whole);
        assert_eq!(with(ETAG, "bytes=5000-"), Part::Unsatisfiable);
    }

    #[test]
    fn an_empty_representation_has_no_part_to_send() {
        assert_eq!(get("bytes=-5", 0), Part::Whole);
        assert_eq!(get("bytes=0-", 0), Part::Unsatisfiable);
    }
}
