//! The header that lets rav1d's aarch64 assembly build (`.cargo/rav1d/src/arm/asm-offsets.h`, put
//! on the include path by `.cargo/config.toml`; rav1d's crates.io package lacks it) gives the
//! film-grain assembly the byte offsets of `Dav1dFilmGrainData`'s fields. A wrong offset would not
//! fail the build: the assembly would read the wrong field. This checks each against the layout
//! the compiler gives the Rust struct, and the motion-vector projection's offsets against a copy of
//! the private rav1d struct they index (rav1d is pinned to the version the copy was made from).

use std::collections::BTreeMap;
use std::mem::offset_of;

use rav1d::include::dav1d::headers::Dav1dFilmGrainData as Fgd;

const HEADER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cargo/rav1d/src/arm/asm-offsets.h"
);

/// `#define NAME VALUE` lines of the header, by name.
fn defines() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(HEADER).unwrap_or_else(|e| panic!("{HEADER}: {e}"));
    text.lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

/// Each expected `(name, offset)` is defined with that value, and the header defines no other
/// name with `prefix` (none added without a check).
fn check(prefix: &str, expected: &[(&str, usize)]) {
    let defines = defines();
    for (name, offset) in expected {
        assert_eq!(defines.get(*name), Some(offset), "{name} in {HEADER}");
    }
    for name in defines.keys().filter(|name| name.starts_with(prefix)) {
        assert!(
            expected.iter().any(|(checked, _)| checked == name),
            "{name} in {HEADER} is not checked"
        );
    }
}

#[test]
fn film_grain_offsets_match_dav1d_film_grain_data() {
    let expected = [
        ("FGD_SEED", offset_of!(Fgd, seed)),
        ("FGD_SCALING_SHIFT", offset_of!(Fgd, scaling_shift)),
        ("FGD_AR_COEFF_LAG", offset_of!(Fgd, ar_coeff_lag)),
        ("FGD_AR_COEFFS_Y", offset_of!(Fgd, ar_coeffs_y)),
        ("FGD_AR_COEFFS_UV", offset_of!(Fgd, ar_coeffs_uv)),
        ("FGD_AR_COEFF_SHIFT", offset_of!(Fgd, ar_coeff_shift)),
        ("FGD_GRAIN_SCALE_SHIFT", offset_of!(Fgd, grain_scale_shift)),
        ("FGD_UV_MULT", offset_of!(Fgd, uv_mult)),
        ("FGD_UV_LUMA_MULT", offset_of!(Fgd, uv_luma_mult)),
        ("FGD_UV_OFFSET", offset_of!(Fgd, uv_offset)),
        (
            "FGD_CLIP_TO_RESTRICTED_RANGE",
            offset_of!(Fgd, clip_to_restricted_range),
        ),
    ];
    check("FGD_", &expected);
}

/// rav1d 1.1.0's `AsmRefMvsFrame` (src/refmvs.rs, private), field for field: the frame state
/// `load_tmvs` in refmvs.S reads. Its pointee types do not change the layout, so they are `()`.
#[repr(C)]
#[allow(dead_code)]
struct Frame {
    frm_hdr: *const (),
    iw4: i32,
    ih4: i32,
    iw8: i32,
    ih8: i32,
    sbsz: i32,
    use_ref_frame_mvs: i32,
    sign_bias: [u8; 7],
    mfmv_sign: [u8; 7],
    pocdiff: [i8; 7],
    mfmv_ref: [u8; 3],
    mfmv_ref2cur: [i32; 3],
    mfmv_ref2ref: [[i32; 7]; 3],
    n_mfmvs: i32,
    n_blocks: i32,
    rp: *mut (),
    rp_ref: *const *mut (),
    rp_proj: *mut (),
    rp_stride: isize,
    r: *mut (),
    n_tile_threads: i32,
    n_frame_threads: i32,
}

#[test]
fn refmvs_offsets_match_the_frame_layout() {
    // The hand-worked offsets in the header against the compiler's, for the 64-bit layout the
    // header is for (the test machines are 64-bit too).
    let expected = [
        ("RMVSF_IW8", offset_of!(Frame, iw8)),
        ("RMVSF_IH8", offset_of!(Frame, ih8)),
        ("RMVSF_MFMV_REF", offset_of!(Frame, mfmv_ref)),
        ("RMVSF_MFMV_REF2CUR", offset_of!(Frame, mfmv_ref2cur)),
        ("RMVSF_MFMV_REF2REF", offset_of!(Frame, mfmv_ref2ref)),
        ("RMVSF_N_MFMVS", offset_of!(Frame, n_mfmvs)),
        ("RMVSF_RP_REF", offset_of!(Frame, rp_ref)),
        ("RMVSF_RP_PROJ", offset_of!(Frame, rp_proj)),
        ("RMVSF_RP_STRIDE", offset_of!(Frame, rp_stride)),
        ("RMVSF_N_TILE_THREADS", offset_of!(Frame, n_tile_threads)),
    ];
    check("RMVSF_", &expected);
}
