#!/usr/bin/env bash
# The local stack's stall sequence (README, "Reliability") against the deployed shape: the release
# get-asset binary under tools/lambda-bench's Runtime API (which, like Lambda's, reads a response
# whole before acknowledging it), answering a 4.15 MB original (5.5 MB of base64 JSON) and its
# largest rendition: 16 instances at once, then one instance 16 times in a row. Prints figures;
# fails if any answer is missing, not a 200, or short. Not part of the test command (it needs a
# release build).
#
#   scripts/check-large-responses.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
AWS_PORT="${CHECK_AWS_PORT:-4597}"
WATCH_PORT="${CHECK_WATCH_PORT:-9097}"

"$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
log "building (debug for the uploads through watch, release get-asset as deployed)"
cargo build --workspace --bins --quiet
cargo build --release --bin get-asset --bin lambda-bench --quiet

local_aws_env "$AWS_PORT"
export ASSETS_TABLE="assets-check" ASSETS_BUCKET="assets-check" LOG_LEVEL=warn
export PUBLIC_BASE_URL="http://127.0.0.1:$WATCH_PORT"
mkdir -p "$STATE_DIR"
moto_pid=""; watch_pid=""
cleanup() { stop_process "$watch_pid"; stop_process "$moto_pid"; }
trap cleanup EXIT INT TERM
moto_pid=$(start_local_aws "$AWS_PORT")
target/debug/asset-admin setup >/dev/null
key=$(target/debug/asset-admin key create check 2>/dev/null | tail -n 1)
watch_pid=$(start_watch "$WATCH_PORT" "$STATE_DIR/watch-check.log" --ignore-changes)
warm_functions "http://127.0.0.1:$WATCH_PORT"

# The fixture photo with comment segments after SOI: a valid JPEG of exactly 4,150,000 bytes.
photo="$STATE_DIR/check-4mb.jpg"
python3 - "$photo" <<'PY'
import sys
src = open("shared/tests/fixtures/photo.jpg", "rb").read()
out, missing = bytearray(src[:2]), 4_150_000 - len(src)
while missing:
    seg = min(missing, 65537)
    if 0 < missing - seg < 4:
        seg -= 4
    out += b"\xff\xfe" + (seg - 2).to_bytes(2, "big") + b" " * (seg - 4)
    missing -= seg
open(sys.argv[1], "wb").write(out + src[2:])
PY
asset_key=$(curl -sf -H "X-Api-Key: $key" -F file=@"$photo" \
  "http://127.0.0.1:$WATCH_PORT/api/v1/partner/asset/upload/public" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

event() { # $1 = rawQueryString
  python3 - "$asset_key" "$1" <<'PY'
import json, sys
key, query = sys.argv[1], sys.argv[2]
path = f"/api/v1/partner/asset/{key}"
print(json.dumps({
    "version": "2.0", "routeKey": "GET /api/v1/partner/asset/{assetKey}", "rawPath": path,
    "rawQueryString": query, "headers": {"host": "abc.execute-api.us-east-1.amazonaws.com"},
    "queryStringParameters": dict([query.split("=")]) if query else None,
    "pathParameters": {"assetKey": key},
    "requestContext": {"accountId": "123456789012", "apiId": "abc",
        "domainName": "abc.execute-api.us-east-1.amazonaws.com",
        "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "check"},
        "requestId": "check", "routeKey": "GET /api/v1/partner/asset/{assetKey}", "stage": "$default", "timeEpoch": 0},
    "isBase64Encoded": False}))
PY
}
event "" >"$STATE_DIR/check-original.json"
event "size=largeX2" >"$STATE_DIR/check-rendition.json"
for what in original rendition; do
  min=100000; [[ $what == original ]] && min=4150000
  for shape in "16 1" "1 16"; do
    read -r instances invocations <<<"$shape"
    log "$what: $instances instance(s) x $invocations invocation(s)"
    target/release/lambda-bench responses --event "$STATE_DIR/check-$what.json" --min-bytes "$min" \
      --instances "$instances" --invocations "$invocations" "get-asset=target/release/get-asset"
  done
done
