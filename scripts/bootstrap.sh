#!/usr/bin/env bash
# Installs what the local stack and the tests need and is not part of a Rust toolchain:
# moto's server and cargo-lambda (with its bundled zig) from PyPI into ./.venv.
# Safe to run again: it only reinstalls when scripts/requirements-dev.txt changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v cargo >/dev/null || die "cargo is required (install Rust with rustup)"
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"

stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$ROOT/scripts/requirements-dev.txt" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
log "installing moto and cargo-lambda into .venv"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-dev.txt"
echo "$want" >"$stamp"
