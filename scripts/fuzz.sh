#!/usr/bin/env bash
# Bounded fuzzing of the parsing entry points with cargo-fuzz (libFuzzer, nightly, AddressSanitizer):
#   multipart  the upload form parser (Content-Type and body)
#   content    content detection and the image header check
#   image_decode  the rendition pipeline (decoders, resize, orientation, encoders) on any image bytes
# Each target starts from its committed seed corpus (fuzz/corpus/<target>, copied to .local so runs
# do not dirty the repo) and runs SECONDS (default 60) with a 512 MB RSS and 64 MB allocation cap.
# Exits non-zero on any crash, panic, leak or limit breach; reproducers land in fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS]
#   FUZZ_TARGETS="image_decode" scripts/fuzz.sh 120   # only some targets
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_PER_TARGET="${1:-60}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# cargo fuzz builds with debug assertions, under which rav1d records a backtrace for every buffer
# borrow it checks: with RUST_BACKTRACE=1 in the environment that made one 640x427 AVIF take 45 s
# (a libFuzzer timeout) instead of 1.6 s. Panics still print their backtraces (RUST_BACKTRACE).
export RUST_LIB_BACKTRACE=0

cd "$ROOT/fuzz"
for target in ${FUZZ_TARGETS:-multipart content image_decode}; do
  corpus="$STATE_DIR/fuzz-corpus/$target"
  mkdir -p "$corpus"
  cp -n "corpus/$target/"* "$corpus/"
  # Real HEIC/AVIF files are read from ../shared/samples (never committed): the small ones seed
  # the decoder target, whose mutations then reach the HEIF container, HEVC and AV1 decoders.
  if [[ "$target" == image_decode ]]; then
    for sample in ianare__samplefilehub.heif mdex__cheers_1440x960.heic pillow__transparency.avif \
      pillow__rot1mir0.avif avifsamples__fox.profile0.8bpc.yuv420.avif; do
      if [[ -f "$ROOT/../shared/samples/$sample" ]]; then
        cp -n "$ROOT/../shared/samples/$sample" "$corpus/"
      fi
    done
  fi
  log "fuzzing $target for ${SECONDS_PER_TARGET}s"
  run_log="$STATE_DIR/fuzz-$target.log"
  if cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=10 \
    -print_final_stats=1 >"$run_log" 2>&1; then
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$run_log" || tail -n 3 "$run_log"
  else
    tail -n 40 "$run_log" >&2
    die "fuzz target $target failed; reproducer in fuzz/artifacts/$target"
  fi
done
log "no crashes"
