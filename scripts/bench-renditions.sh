#!/usr/bin/env bash
# Rendition benchmark: the four renditions of each benchmark photo, one thread, median time and
# peak memory, ours (tools/rendition-bench, release build) and sharp's (bench/sharp, installed from
# npm into that folder) in the same run, plus PSNR of every rendition against a Lanczos3 reference.
# Prints a table; asserts nothing.
#
#   scripts/bench-renditions.sh [ITERATIONS] [PHOTO...]   # default 15 runs, ../shared/bench/*
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ITERATIONS="${1:-15}"
shift || true
PHOTOS=("$@")
if [[ ${#PHOTOS[@]} -eq 0 ]]; then
  BENCH_DIR="$ROOT/../shared/bench"
  PHOTOS=("$BENCH_DIR/photo-12mp.jpg" "$BENCH_DIR/photo-24mp.jpg" "$BENCH_DIR/photo-12mp.png" "$BENCH_DIR/photo-12mp.webp")
fi
for photo in "${PHOTOS[@]}"; do [[ -r "$photo" ]] || die "no photo at $photo"; done

"$ROOT/scripts/bootstrap.sh"
command -v node >/dev/null || die "node (20.9 or later) is required for the sharp baseline"
out="$STATE_DIR/bench-renditions"
rm -rf "$out" && mkdir -p "$out"

if [[ ! -d "$ROOT/bench/sharp/node_modules/sharp" ]]; then
  log "installing sharp into bench/sharp (npm ci)"
  (cd "$ROOT/bench/sharp" && npm ci --no-audit --no-fund --silent)
fi
log "sharp: $ITERATIONS runs per photo"
(cd "$ROOT/bench/sharp" && node bench.mjs --iterations "$ITERATIONS" --out "$out/sharp" "${PHOTOS[@]}") >"$out/sharp.jsonl"
head -1 "$out/sharp.jsonl"

log "release build of rendition-bench"
cargo build --release --quiet -p rendition-bench
log "ours: $ITERATIONS runs per photo"
"$ROOT/target/release/rendition-bench" --iterations "$ITERATIONS" \
  --sharp-results "$out/sharp.jsonl" --sharp-out "$out/sharp" "${PHOTOS[@]}"
