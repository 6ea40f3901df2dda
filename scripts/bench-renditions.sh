#!/usr/bin/env bash
# Rendition benchmark: the four renditions of each benchmark photo, one thread, median time and
# peak memory, ours (tools/rendition-bench, release build) and sharp's (bench/sharp, installed from
# npm into that folder) alternating round after round (ours, sharp, ours, sharp, ...), plus PSNR of
# every rendition against a Lanczos3 reference. The TIFF is made from the 12 MP PNG at bench time
# (LZW, horizontal predictor) under .local/, never committed. Prints a table; asserts nothing.
#
#   scripts/bench-renditions.sh [ITERATIONS] [PHOTO...]   # default 15 runs a round, ../shared/bench/* + TIFF
#   ROUNDS=5 (default) sets the number of alternating rounds.
#
# The defaults also take the 12 MP iPhone HEIC from ../shared/samples and a 12 MP AVIF made from the
# 12 MP JPEG with libheif's heif-enc (libaom, quality 60) and a 12 MP JPEG XL made from the PNG with
# libjxl's cjxl (distance 1), both under .local/. sharp's prebuilt libvips reads AVIF but not HEIC
# (its libheif has no HEVC decoder) nor JPEG XL: those are measured on our side only
# (rendition-bench skips sharp for them).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ITERATIONS="${1:-15}"
ROUNDS="${ROUNDS:-5}"
shift || true
PHOTOS=("$@")
out="$STATE_DIR/bench-renditions"
rm -rf "$out" && mkdir -p "$out"

"$ROOT/scripts/bootstrap.sh"
command -v node >/dev/null || die "node (20.9 or later) is required for the sharp baseline"
if [[ ! -d "$ROOT/bench/sharp/node_modules/sharp" ]]; then
  log "installing sharp into bench/sharp (npm ci)"
  (cd "$ROOT/bench/sharp" && npm ci --no-audit --no-fund --silent)
fi
log "release build of rendition-bench"
cargo build --release --quiet -p rendition-bench
bench="$ROOT/target/release/rendition-bench"

if [[ ${#PHOTOS[@]} -eq 0 ]]; then
  BENCH_DIR="$ROOT/../shared/bench"
  log "making a 12 MP TIFF from photo-12mp.png"
  "$bench" --make-tiff "$BENCH_DIR/photo-12mp.png" "$out/photo-12mp.tiff"
  log "encoding a 12 MP AVIF from photo-12mp.jpg (heif-enc, libaom)"
  heif-enc -q 60 -p speed=8 "$BENCH_DIR/photo-12mp.jpg" -o "$out/photo-12mp.avif" >/dev/null
  log "encoding a 12 MP JPEG XL from photo-12mp.png (cjxl, distance 1)"
  cjxl "$BENCH_DIR/photo-12mp.png" "$out/photo-12mp.jxl" -d 1 --quiet
  PHOTOS=("$BENCH_DIR/photo-12mp.jpg" "$BENCH_DIR/photo-24mp.jpg" "$BENCH_DIR/photo-12mp.png"
    "$BENCH_DIR/photo-12mp.webp" "$out/photo-12mp.tiff"
    "$ROOT/../shared/samples/ianare__iphone_13_pro_max.HEIC" "$out/photo-12mp.avif"
    "$out/photo-12mp.jxl")
fi
for photo in "${PHOTOS[@]}"; do [[ -r "$photo" ]] || die "no photo at $photo"; done

(cd "$ROOT/bench/sharp" && node -e "const s=require('sharp');console.log(JSON.stringify({sharp:s.versions.sharp,vips:s.versions.vips}))")
log "ours and sharp alternating: $ROUNDS rounds of $ITERATIONS runs per photo"
"$bench" --iterations "$ITERATIONS" --rounds "$ROUNDS" \
  --sharp-bench "$ROOT/bench/sharp/bench.mjs" --sharp-out "$out/sharp" "${PHOTOS[@]}"
