#!/usr/bin/env bash
# bench/serve_rss.sh — blend serve memory over many requests: lexical
# GET /search on the SciFact queries (wrk -t2 -c32) until at least N
# requests (default 1,000,000) have been answered; RSS after the first
# ~10k requests and at the end (the issue's goal: within 10%).
#   bench/serve_rss.sh BLEND_BIN INDEX_DIR PATHS_TXT [N]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1; IX=$2; PATHS=$3; N=${4:-1000000}
LOG=$(mktemp)
"$BIN" serve --index "$IX" --port 0 --threads 2 2> "$LOG" &
PID=$!; trap 'kill $PID 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 300); do grep -q listening "$LOG" && break; sleep 0.1; done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/.*/\1/p' "$LOG")
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
served() { curl -s "http://127.0.0.1:$PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["requests"])'; }
# the first ~10k requests: 2 threads x 1 connection, a fixed count
BLEND_PATHS=$PATHS wrk -t2 -c32 -d2s -s bench/serve_wrk.lua "http://127.0.0.1:$PORT" > /dev/null
echo "after_first: requests=$(served) rss_kb=$(rss)"
while [ "$(served)" -lt "$N" ]; do
  BLEND_PATHS=$PATHS wrk -t2 -c32 -d20s -s bench/serve_wrk.lua "http://127.0.0.1:$PORT" | grep wrk-summary | sed 's/ (connect.*//'
  echo "  requests=$(served) rss_kb=$(rss)"
done
echo "at_end: requests=$(served) rss_kb=$(rss)"
