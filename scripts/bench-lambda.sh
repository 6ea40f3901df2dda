#!/usr/bin/env bash
# Lambda budgets: binary and zip size per function for x86_64 and arm64 (release profile, as
# `sam build` makes them), cold start under a local Runtime API (lambda-bench), and the handlers'
# own CPU per request (criterion). Prints everything; asserts nothing.
#
#   scripts/bench-lambda.sh [RUNS]      # RUNS cold starts per function (default 30)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS="${1:-30}"
FUNCTIONS=(upload-private upload-public get-asset)

"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
bins=()
for f in "${FUNCTIONS[@]}"; do bins+=(--bin "$f"); done

sizes() {
  local arch="$1" dir="$2"
  for f in "${FUNCTIONS[@]}"; do
    local bin="$dir/$f/bootstrap"
    local zip="$STATE_DIR/bench-$arch-$f.zip"
    rm -f "$zip"
    (cd "$(dirname "$bin")" && python3 -c "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED,compresslevel=9); z.write('bootstrap'); z.close()" "$zip")
    printf '%-8s %-16s %10s bytes  %10s bytes zipped\n' "$arch" "$f" "$(stat -c %s "$bin")" "$(stat -c %s "$zip")"
  done
}

mkdir -p "$STATE_DIR"
log "release build, x86_64"
cargo lambda build --release --x86-64 "${bins[@]}" --lambda-dir "$STATE_DIR/lambda-x86_64" >/dev/null
arm=1
if ! rustup target list --installed | grep -q aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || arm=0
fi
if [[ $arm == 1 ]]; then
  log "release build, arm64"
  cargo lambda build --release --arm64 "${bins[@]}" --lambda-dir "$STATE_DIR/lambda-arm64" >/dev/null
fi

log "binary sizes"
sizes x86_64 "$STATE_DIR/lambda-x86_64"
if [[ $arm == 1 ]]; then sizes arm64 "$STATE_DIR/lambda-arm64"; else echo "arm64: aarch64 target not installable here, skipped"; fi

log "cold start (x86_64 binaries, local Runtime API, $RUNS runs each)"
cargo build --release -p lambda-bench --quiet
args=()
for f in "${FUNCTIONS[@]}"; do args+=("$f=$STATE_DIR/lambda-x86_64/$f/bootstrap"); done
"$ROOT/target/release/lambda-bench" --runs "$RUNS" "${args[@]}"

log "handler CPU per request, storage in memory (criterion)"
cargo bench -p asset-service --bench handlers -- --noplot 2>&1 | grep -E "^[a-z_]+/|time:"
