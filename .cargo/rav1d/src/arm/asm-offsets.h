/*
 * Field offsets that rav1d 1.1.0's aarch64 assembly includes as "src/arm/asm-offsets.h".
 *
 * Why this file exists: rav1d keeps this header in its repository, but its Cargo.toml
 * (`exclude = ["*.h", ...]`) leaves it out of the crates.io package, so the aarch64 build of
 * the published crate fails (rav1d issue #1449, docs/upstream/rav1d-aarch64-package/README.md).
 * .cargo/config.toml puts the folder above `src/` on CPATH, which the C compiler searches
 * after rav1d's own `-I .`: the include resolves here and nowhere else.
 *
 * Written for this project from the layouts of the two `#[repr(C)]` structs the assembly
 * reads, in rav1d 1.1.0 (the version is pinned with `=` in the workspace Cargo.toml):
 *  - `Dav1dFilmGrainData` (include/dav1d/headers.rs, `#[repr(C, align(16))]`), read by
 *    src/arm/64/filmgrain{,16}.S. shared/tests/rav1d_asm_offsets.rs checks every FGD_ value
 *    against `offset_of!` of that public type.
 *  - `AsmRefMvsFrame` (src/refmvs.rs, private), read by src/arm/64/refmvs.S (load_tmvs):
 *    a pointer then `c_int`, byte-array and pointer fields, on LP64. The same test checks the
 *    RMVSF_ values against a field-for-field copy of that struct.
 * Upgrading rav1d means re-deriving these, or deleting this file once the package ships it.
 */

#ifndef ARM_ASM_OFFSETS_H
#define ARM_ASM_OFFSETS_H

#include "config.h"

/* Dav1dFilmGrainData */
#define FGD_SEED                     0   /* seed: c_uint */
#define FGD_SCALING_SHIFT            88  /* after y_points [[u8;2];14], uv_points [[[u8;2];10];2] */
#define FGD_AR_COEFF_LAG             92
#define FGD_AR_COEFFS_Y              96  /* [i8; 24] */
#define FGD_AR_COEFFS_UV             120 /* [[i8; 28]; 2] */
#define FGD_AR_COEFF_SHIFT           176 /* u64, 16-byte aligned through the struct's align(16) */
#define FGD_GRAIN_SCALE_SHIFT        184
#define FGD_UV_MULT                  188 /* [c_int; 2] */
#define FGD_UV_LUMA_MULT             196 /* [c_int; 2] */
#define FGD_UV_OFFSET                204 /* [c_int; 2]; overlap_flag: c_int at 212 */
#define FGD_CLIP_TO_RESTRICTED_RANGE 216

#if ARCH_AARCH64
/* AsmRefMvsFrame: _frm_hdr pointer at 0, then iw4 8, ih4 12, iw8 16, ih8 20, sbsz 24,
 * use_ref_frame_mvs 28, sign_bias [u8;7] 32, mfmv_sign [u8;7] 39, pocdiff [i8;7] 46,
 * mfmv_ref [u8;3] 53, mfmv_ref2cur [i32;3] 56, mfmv_ref2ref [[i32;7];3] 68, n_mfmvs 152,
 * n_blocks 156, rp 160, rp_ref 168, rp_proj 176, rp_stride 184, r 192, n_tile_threads 200. */
#define RMVSF_IW8                    16
#define RMVSF_IH8                    20
#define RMVSF_MFMV_REF               53
#define RMVSF_MFMV_REF2CUR           56
#define RMVSF_MFMV_REF2REF           68
#define RMVSF_N_MFMVS                152
#define RMVSF_RP_REF                 168
#define RMVSF_RP_PROJ                176
#define RMVSF_RP_STRIDE              184
#define RMVSF_N_TILE_THREADS         200
#endif

#endif /* ARM_ASM_OFFSETS_H */
