# Shared helpers for the project's scripts. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STATE_DIR="$ROOT/.local"
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Waits until "$1" answers HTTP (any status), for at most $2 seconds.
wait_for_http() {
  local url="$1" limit="${2:-60}" i
  for ((i = 0; i < limit * 4; i++)); do
    if curl -s -o /dev/null --max-time 2 "$url"; then return 0; fi
    sleep 0.25
  done
  return 1
}

# Starts moto's server on 127.0.0.1:$1 in the background; prints its pid.
start_local_aws() {
  local port="$1" logfile="$STATE_DIR/moto-$1.log"
  mkdir -p "$STATE_DIR"
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/moto-api/"; then
    die "port $port is already in use (a local AWS stand-in from an earlier run?)"
  fi
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
  local pid=$!
  wait_for_http "http://127.0.0.1:$port/moto-api/" 60 || { cat "$logfile" >&2; die "moto did not start on port $port"; }
  echo "$pid"
}

# Environment the functions, the admin command and the tests share for a local stack on port $1.
local_aws_env() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  # Never let a developer's ~/.aws profile or IMDS leak into a local run.
  export AWS_EC2_METADATA_DISABLED=true
  unset AWS_PROFILE AWS_SESSION_TOKEN
}
