#!/usr/bin/env bash
# Installs what the local stack and the tests need and is not part of a Rust toolchain:
# moto's server and cargo-lambda (with its bundled zig) from PyPI into ./.venv.
# Safe to run again: it only reinstalls when scripts/requirements-dev.txt changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v cargo >/dev/null || die "cargo is required (install Rust with rustup)"
command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"

# Debian packages: cmake and nasm build libjpeg-turbo (turbojpeg crate) and rav1d's assembly;
# test-only: libheif's heif-convert is the reference decoder the HEIC/AVIF tests compare against,
# and Chromium checks that browsers display the renditions (e2e).
apt_packages=()
command -v cmake >/dev/null || apt_packages+=(cmake)
command -v nasm >/dev/null || apt_packages+=(nasm)
command -v heif-convert >/dev/null || apt_packages+=(libheif-examples)
command -v chromium >/dev/null || apt_packages+=(chromium)
if ((${#apt_packages[@]})); then
  log "installing ${apt_packages[*]} (Debian packages)"
  sudo_cmd=""
  [[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${apt_packages[@]}" >/dev/null
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
