#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this):
#   1. formatting and clippy (warnings are errors);
#   2. one debug build of the workspace and its tests;
#   3. a private local AWS stand-in (moto) and `cargo lambda watch` on test ports;
#   4. every test: unit, storage tests through the real SDK against moto, and end-to-end over HTTP.
# Ports can be moved with TEST_AWS_PORT / TEST_WATCH_PORT; nothing listens beyond 127.0.0.1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

AWS_PORT="${TEST_AWS_PORT:-4599}"
WATCH_PORT="${TEST_WATCH_PORT:-9099}"

"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"

log "template: cfn-lint and sam validate --lint"
cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1 --template-file template.yaml
# Again after SAM's transform: only there do the API's edges to its functions exist, and with them
# a dependency cycle through the CDN (scripts/sam_transform.py).
transformed="$(mktemp --suffix=.json)"
AWS_DEFAULT_REGION=us-east-1 python "$ROOT/scripts/sam_transform.py" template.yaml >"$transformed"
cfn-lint "$transformed"
rm -f "$transformed"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Exactly what `cargo lambda watch` runs (`cargo run --bin`), so it starts the functions without
# rebuilding them; the test targets (with dev-dependency features) are built by `cargo test` below.
log "building the functions and tools (debug)"
cargo build --workspace --bins --quiet

local_aws_env "$AWS_PORT"
export ASSETS_TABLE="assets-e2e"
export ASSETS_BUCKET="assets-e2e"
export ASSETS_EVENTS_QUEUE="assets-e2e-events"
export SIGNING_SECRET_ID="assets-e2e-signing"
export PUBLIC_BASE_URL="http://127.0.0.1:$WATCH_PORT"
# The production upload limit; an inline limit just under it, so a 4 MB original is answered inline
# through the emulator (shared/tests/e2e_watch.rs) and a generated document above it is redirected.
export INLINE_MAX_BYTES=4000000
export MAX_UPLOAD_BYTES=4194304
export LOG_LEVEL=info
mkdir -p "$STATE_DIR"

moto_pid=""
watch_pid=""
relay_pid=""
cleanup() {
  stop_process "$relay_pid"
  stop_process "$watch_pid"
  stop_process "$moto_pid"
}
trap cleanup EXIT INT TERM

log "starting moto on 127.0.0.1:$AWS_PORT"
moto_pid=$(start_local_aws "$AWS_PORT")
"$ROOT/target/debug/asset-admin" setup

log "starting cargo lambda watch on 127.0.0.1:$WATCH_PORT"
# Several instances per function, as Lambda scales out under concurrent load.
watch_pid=$(start_watch "$WATCH_PORT" "$STATE_DIR/watch-test.log" --ignore-changes --concurrency 4)
warm_functions "http://127.0.0.1:$WATCH_PORT"
log "starting s3-event-relay (staging/ events -> upload-finalize)"
relay_pid=$(start_event_relay "$WATCH_PORT" "$STATE_DIR/events-test.log")

log "running the tests"
export E2E_BASE_URL="http://127.0.0.1:$WATCH_PORT"
export REQUIRE_LOCAL_AWS=1
export LOAD_REPORT="$STATE_DIR/load-report.txt"
rm -f "$LOAD_REPORT"
status=0
extra_passed=0
extra_failed=0
cargo test --workspace --all-targets "$@" 2>&1 | tee "$STATE_DIR/test-output.log" || status=$?
[[ -f "$LOAD_REPORT" ]] && cat "$LOAD_REPORT"
if [[ $status -eq 0 ]]; then
  # The contract, fuzzed: every response must be declared in openapi.yaml (status, content type,
  # headers, JSON schema) and none may be a 5xx. Bounded by schemathesis.toml.
  log "schemathesis against openapi.yaml"
  export SCHEMATHESIS_BASE_URL="$E2E_BASE_URL"
  SCHEMATHESIS_API_KEY=$("$ROOT/target/debug/asset-admin" key create schemathesis 2>/dev/null | tail -n 1)
  export SCHEMATHESIS_API_KEY
  if st run openapi.yaml >"$STATE_DIR/schemathesis.log" 2>&1; then
    tail -n 12 "$STATE_DIR/schemathesis.log"
    extra_passed=$((extra_passed + 1))
  else
    cat "$STATE_DIR/schemathesis.log" >&2
    extra_failed=$((extra_failed + 1))
    status=1
  fi
fi
if [[ $status -ne 0 ]]; then
  log "tests failed; last lines of the functions' log:"
  tail -n 40 "$STATE_DIR/watch-test.log" >&2 || true
  log "last lines of the S3 event relay's log:"
  tail -n 20 "$STATE_DIR/events-test.log" >&2 || true
fi
if [[ $status -eq 0 ]]; then
  # The deployment build, offline, as an operator runs it (x86_64 here; README for arm64), with one
  # difference: no LTO, 16 codegen units. The release profile's fat LTO links each function
  # single-threaded for minutes, ten times over; what this check is for (the template's build
  # metadata, every function compiling and linking for Lambda with the release opt-levels) does
  # not depend on it, and the README's size and speed figures are measured with the real profile.
  log "sam build (rust-cargolambda, x86_64, release without LTO)"
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  # Every function in one cargo run first (they link in parallel); sam's own per-function
  # `cargo lambda build --release --bin X` then finds each one built.
  functions=(functions/*/)
  functions=("${functions[@]#functions/}")
  functions=("${functions[@]%/}")
  cargo lambda build --release "${functions[@]/#/--bin=}" >"$STATE_DIR/sam-build.log" 2>&1 &&
    SAM_CLI_TELEMETRY=0 sam build --beta-features --no-cached --parameter-overrides Architecture=x86_64 \
      --build-dir "$STATE_DIR/sam-build" >>"$STATE_DIR/sam-build.log" 2>&1 || {
    tail -n 40 "$STATE_DIR/sam-build.log" >&2
    die "sam build failed"
  }
  for fn in "${functions[@]}"; do
    logical="$(sed -E 's/(^|-)([a-z])/\U\2/g' <<<"$fn")Function"
    [[ -x "$STATE_DIR/sam-build/$logical/bootstrap" ]] || die "sam build made no bootstrap for $fn ($logical)"
  done
fi
# One closing line for the whole suite (cargo prints one per test binary, the last often empty).
awk -v p="$extra_passed" -v f="$extra_failed" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$STATE_DIR/test-output.log"
exit "$status"
