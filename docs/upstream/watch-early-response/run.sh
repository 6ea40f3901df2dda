#!/usr/bin/env bash
# Runs one case: `./run.sh BIN [MODE] [RESPONSE_BYTES]`, BIN = large-response | python-client.
# Starts `cargo lambda watch` on 127.0.0.1:9300, sends 4 concurrent and then 6 sequential GETs
# (8 s client timeout each), prints each status (000 = no answer), stops watch.
set -uo pipefail
cd "$(dirname "$0")"
bin="${1:-large-response}"; export MODE="${2:-reuse}" RESPONSE_BYTES="${3:-4194304}"
cargo build --release --bin "$bin" -q
setsid cargo lambda watch --release -A 127.0.0.1 -P 9300 --ignore-changes >watch.log 2>&1 &
watch=$!
trap 'kill -TERM -- -$watch 2>/dev/null' EXIT
until curl -s -o /dev/null -m 1 http://127.0.0.1:9300/lambda-url/none; do sleep 0.2; done
get() { curl -s -o /dev/null -m 8 -w "$1:%{http_code} " "http://127.0.0.1:9300/lambda-url/$bin/"; }
for i in 1 2 3 4; do get "c$i" & done; wait
for i in 1 2 3 4 5 6; do get "s$i"; done
echo
