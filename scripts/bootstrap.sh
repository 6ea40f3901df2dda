#!/usr/bin/env bash
# Installs what the local stack and the tests need and is not part of a Rust toolchain:
# moto's server and cargo-lambda (with its bundled zig) from PyPI into ./.venv, and the real HTTP
# clients the upload tests drive (Chromium and Node from Debian, form-data from npm), build tools
# (cmake, nasm), libheif's heif-convert (reference decoder of the HEIC/AVIF tests), libjxl's
# cjxl/djxl (they make and check the JPEG XL test files), ffmpeg (makes the test videos) and jq
# (the README's direct-upload commands read JSON with it).
# Safe to run again: it only reinstalls when scripts/requirements-dev.txt changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v cargo >/dev/null || die "cargo is required (install Rust with rustup)"
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"

# Debian packages, installed only when missing: cmake and nasm build libjpeg-turbo (turbojpeg
# crate) and rav1d's assembly; test-only: libheif's heif-convert is the reference decoder the
# HEIC/AVIF tests compare against, libjxl's cjxl/djxl make the JPEG XL test files and are the
# reference decoder those tests compare against, and the real-client tests (shared/tests/real_clients.rs) drive
# headless Chromium and Node's own fetch and the form-data package (curl and Python's
# requests/httpx come with the above / the venv).
apt_missing=()
command -v cmake >/dev/null || apt_missing+=(cmake)
command -v nasm >/dev/null || apt_missing+=(nasm)
command -v heif-convert >/dev/null || apt_missing+=(libheif-examples)
command -v cjxl >/dev/null || apt_missing+=(libjxl-tools)
# ffmpeg makes the H.264/MP4 and VP8/WebM videos the video e2e test uploads and Chromium plays.
command -v ffmpeg >/dev/null || apt_missing+=(ffmpeg)
command -v chromium >/dev/null || apt_missing+=(chromium)
# jq reads the JSON answers in the README's direct-upload sequence (start, parts, complete).
command -v jq >/dev/null || apt_missing+=(jq)
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
if ((${#apt_missing[@]})); then
  log "installing ${apt_missing[*]} (Debian packages)"
  sudo_cmd=""
  [[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi
clients="$ROOT/tests/clients/node"
if [[ ! -f "$clients/node_modules/.package-lock.json" ]] ||
  ! cmp -s "$clients/package-lock.json" "$clients/node_modules/.lock-installed"; then
  log "installing the Node test clients into tests/clients/node (npm ci)"
  (cd "$clients" && npm ci --no-audit --no-fund --silent)
  cp "$clients/package-lock.json" "$clients/node_modules/.lock-installed"
fi

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
