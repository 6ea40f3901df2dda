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
  # scripts/moto_server.py: moto_server with its ListParts answer corrected (see the file).
  "$VENV/bin/python" "$ROOT/scripts/moto_server.py" -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
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

# Starts `cargo lambda watch` on 127.0.0.1:$1 in its own process group; prints its pid.
# Extra arguments go to watch. Logs go to $2.
# Every function runs behind `runtime-relay` (cargo's runner for this host, set for watch alone):
# watch 1.9 loses the end of large responses otherwise (README, "Reliability"; tools/runtime-relay).
start_watch() {
  local port="$1" logfile="$2"; shift 2
  local relay="$ROOT/target/debug/runtime-relay" host runner_var
  [[ -x "$relay" ]] || die "$relay is missing (cargo build -p runtime-relay)"
  host="$(rustc -vV | sed -n 's/^host: //p')"
  runner_var="CARGO_TARGET_$(tr 'a-z.-' 'A-Z__' <<<"$host")_RUNNER"
  (cd "$ROOT" && export "$runner_var=$relay" && exec setsid cargo lambda watch -A 127.0.0.1 -P "$port" "$@") >"$logfile" 2>&1 &
  local pid=$!
  local i code
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/" || true)
    [[ "$code" == 404 ]] && { echo "$pid"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  cat "$logfile" >&2
  die "cargo lambda watch did not start on port $port"
}

# Starts `s3-event-relay`, the local stack's S3 -> Lambda (README, "Local stack"): it hands the
# events moto puts on the queue $ASSETS_EVENTS_QUEUE (made by `asset-admin setup`: objects created
# under staging/) to the finalize function through watch on 127.0.0.1:$1; prints its pid. Logs go
# to $2. Start it after `asset-admin setup` (it needs the queue) and `start_watch`.
start_event_relay() {
  local watch_port="$1" logfile="$2"
  local relay="$ROOT/target/debug/s3-event-relay"
  [[ -x "$relay" ]] || die "$relay is missing (cargo build -p s3-event-relay)"
  [[ -n "${ASSETS_EVENTS_QUEUE:-}" ]] || die "ASSETS_EVENTS_QUEUE is not set"
  "$relay" --queue "$ASSETS_EVENTS_QUEUE" --watch "http://127.0.0.1:$watch_port" \
    --function upload-finalize >"$logfile" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 150; i++)); do
    grep -q "relaying S3 events" "$logfile" 2>/dev/null && { echo "$pid"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  cat "$logfile" >&2
  die "s3-event-relay did not start"
}

# Asks each function once so it is compiled and started before anything is timed or tested.
warm_functions() {
  local base="$1"
  curl -s -o /dev/null -m 600 "$base/api/v1/partner/asset/AAAAAAAAAAAAAAAAAAAAAAAA" || true
  curl -s -o /dev/null -m 600 -X POST "$base/api/v1/partner/asset/upload/private" || true
  curl -s -o /dev/null -m 600 -X POST "$base/api/v1/partner/asset/upload/public" || true
}

# Stops a process group started with setsid (watch) or a plain process (moto), then waits for it.
stop_process() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}
