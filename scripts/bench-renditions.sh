#!/usr/bin/env bash
# Rendition benchmark: the four renditions of each benchmark photo, one thread, median time and
# peak memory, ours (tools/rendition-bench, release build) and sharp's (bench/sharp, installed from
# npm into that folder) in the same run, plus PSNR of every rendition against a Lanczos3 reference.
# Prints a table; asserts nothing.
#
#   scripts/bench-renditions.sh [ITERATIONS] [PHOTO...]   # default 15 runs, ../shared/bench/*
#
# The defaults add the 12 MP iPhone HEIC from ../shared/samples and a 12 MP AVIF made from the
# 12 MP JPEG with libheif's heif-enc (libaom, quality 60) into the run's state folder. sharp's
# prebuilt libvips reads AVIF but not HEIC (its libheif has no HEVC decoder): HEIC photos are
# measured on our side only.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ITERATIONS="${1:-15}"
shift || true
PHOTOS=("$@")
if [[ ${#PHOTOS[@]} -eq 0 ]]; then
  BENCH_DIR="$ROOT/../shared/bench"
  PHOTOS=("$BENCH_DIR/photo-12mp.jpg" "$BENCH_DIR/photo-24mp.jpg" "$BENCH_DIR/photo-12mp.png" "$BENCH_DIR/photo-12mp.webp"
    "$ROOT/../shared/samples/ianare__iphone_13_pro_max.HEIC" "$STATE_DIR/bench-photos/photo-12mp.avif")
fi

"$ROOT/scripts/bootstrap.sh"
avif="$STATE_DIR/bench-photos/photo-12mp.avif"
if [[ " ${PHOTOS[*]} " == *" $avif "* && ! -r "$avif" ]]; then
  log "encoding a 12 MP AVIF from photo-12mp.jpg (heif-enc, libaom)"
  mkdir -p "$(dirname "$avif")"
  heif-enc -q 60 -p speed=8 "$ROOT/../shared/bench/photo-12mp.jpg" -o "$avif" >/dev/null
fi
for photo in "${PHOTOS[@]}"; do [[ -r "$photo" ]] || die "no photo at $photo"; done
SHARP_PHOTOS=()
for photo in "${PHOTOS[@]}"; do
  case "${photo,,}" in *.heic | *.heif) ;; *) SHARP_PHOTOS+=("$photo") ;; esac
done
command -v node >/dev/null || die "node (20.9 or later) is required for the sharp baseline"
out="$STATE_DIR/bench-renditions"
rm -rf "$out" && mkdir -p "$out"

if [[ ! -d "$ROOT/bench/sharp/node_modules/sharp" ]]; then
  log "installing sharp into bench/sharp (npm ci)"
  (cd "$ROOT/bench/sharp" && npm ci --no-audit --no-fund --silent)
fi
log "sharp: $ITERATIONS runs per photo"
(cd "$ROOT/bench/sharp" && node bench.mjs --iterations "$ITERATIONS" --out "$out/sharp" "${SHARP_PHOTOS[@]}") >"$out/sharp.jsonl"
head -1 "$out/sharp.jsonl"

log "release build of rendition-bench"
cargo build --release --quiet -p rendition-bench
log "ours: $ITERATIONS runs per photo"
"$ROOT/target/release/rendition-bench" --iterations "$ITERATIONS" \
  --sharp-results "$out/sharp.jsonl" --sharp-out "$out/sharp" "${PHOTOS[@]}"
