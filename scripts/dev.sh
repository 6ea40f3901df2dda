#!/usr/bin/env bash
# Runs the whole service locally: moto on 127.0.0.1:4566 as the AWS stand-in, the bucket and table,
# a development API key (printed), and the three functions under `cargo lambda watch` on
# http://127.0.0.1:9000 with the real API paths; `s3-event-relay` hands the bucket's staging/
# events (moto -> SQS) to the finalize function through watch, as S3 invokes it on AWS.
# Ctrl-C stops everything it started.
#
#   scripts/dev.sh            # AWS_PORT=4566 WATCH_PORT=9000 by default
set -euo pipefail
source "$(dirname "$0")/lib.sh"

AWS_PORT="${AWS_PORT:-4566}"
WATCH_PORT="${WATCH_PORT:-9000}"
export ASSETS_TABLE="${ASSETS_TABLE:-assets-local}"
export ASSETS_BUCKET="${ASSETS_BUCKET:-assets-local}"
export ASSETS_EVENTS_QUEUE="${ASSETS_EVENTS_QUEUE:-assets-local-events}"
export SIGNING_SECRET_ID="${SIGNING_SECRET_ID:-assets-local-signing}"
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://127.0.0.1:$WATCH_PORT}"
export LOG_LEVEL="${LOG_LEVEL:-info}"

"$ROOT/scripts/bootstrap.sh"
local_aws_env "$AWS_PORT"
mkdir -p "$STATE_DIR"

moto_pid=""
watch_pid=""
relay_pid=""
cleanup() {
  trap - EXIT INT TERM
  # With the output piped (`scripts/dev.sh 2>&1 | tee dev.log`), Ctrl-C ends the reader too: a
  # write to the closed pipe must neither kill this clean-up (SIGPIPE) nor end it (set -e), or
  # watch and the functions it started keep running.
  trap '' PIPE
  set +e
  log "stopping"
  stop_process "$relay_pid"
  stop_process "$watch_pid"
  stop_process "$moto_pid"
}
trap cleanup EXIT INT TERM

log "building the workspace (debug)"
cargo build --workspace --quiet

log "starting the local AWS stand-in (moto) on 127.0.0.1:$AWS_PORT"
moto_pid=$(start_local_aws "$AWS_PORT")

"$ROOT/target/debug/asset-admin" setup
log "creating a development API key for company 'dev-company'"
DEV_KEY=$("$ROOT/target/debug/asset-admin" key create dev-company | tail -n 1)

log "starting cargo lambda watch on http://127.0.0.1:$WATCH_PORT"
watch_pid=$(start_watch "$WATCH_PORT" "$STATE_DIR/watch.log")
warm_functions "http://127.0.0.1:$WATCH_PORT"

log "relaying the bucket's staging/ events (queue $ASSETS_EVENTS_QUEUE) to upload-finalize"
relay_pid=$(start_event_relay "$WATCH_PORT" "$STATE_DIR/events.log")

cat <<INFO

The asset service is running.
  API:        http://127.0.0.1:$WATCH_PORT/api/v1/partner/asset/
  API key:    $DEV_KEY
  Local AWS:  $AWS_ENDPOINT_URL (bucket $ASSETS_BUCKET, table $ASSETS_TABLE)
  Logs:       $STATE_DIR/watch.log, $STATE_DIR/events.log (S3 events -> upload-finalize)

Try:
  curl -s -H "X-Api-Key: $DEV_KEY" -F name=Logo -F file=@shared/tests/fixtures/logo.png \\
       http://127.0.0.1:$WATCH_PORT/api/v1/partner/asset/upload/public

Ctrl-C stops the service and the local AWS stand-in.
INFO

# Follow the functions' logs until watch exits or Ctrl-C.
tail -n +1 --pid="$watch_pid" -f "$STATE_DIR/watch.log"
