#!/usr/bin/env bash
# bench/serve.sh — blend serve under wrk on loopback: lexical GET /search on
# the SciFact test queries, against the same queries in process.
#   bench/serve.sh [SECONDS] [CONNECTIONS]      (defaults 30, 32)
# Prints wrk and in-process summaries and RSS at two points; the figures go
# by hand into bench/RESULTS.md ("Server" section) with the CPU and load.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}; CONNS=${2:-32}
BUILD=${BUILD:-build/release}
SF=${BLEND_SHARED:-../shared}/data/beir/scifact
W=$BUILD/bench-serve; mkdir -p "$W"
make -s MODE=release BUILD="$BUILD" "$BUILD/blend" "$BUILD/bench_serve_inproc"
[ -d "$W/sf" ] || "$BUILD/blend" index -q --input "$SF/corpus.jsonl" --index "$W/sf"
# queries: the text of every SciFact query (one per line) and as GET paths
python3 - "$SF/queries.jsonl" "$W" <<'PY'
import json, sys, urllib.parse
qs = [json.loads(l)["text"] for l in open(sys.argv[1]) if l.strip()]
open(sys.argv[2] + "/queries.txt", "w").write("".join(q.replace("\n", " ") + "\n" for q in qs))
with open(sys.argv[2] + "/paths.txt", "w") as f:
    for q in qs: f.write("/search?" + urllib.parse.urlencode({"q": q, "k": 10, "source": "false"}) + "\n")
with open(sys.argv[2] + "/paths_source.txt", "w") as f:
    for q in qs: f.write("/search?" + urllib.parse.urlencode({"q": q, "k": 10}) + "\n")
PY
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/blend" serve --index "$W/sf" --port 0 --threads 2 2> "$W/serve.log" &
PID=$!; trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$W/serve.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/.*/\1/p' "$W/serve.log")
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
# warm-up: about 10k requests, then RSS
BLEND_PATHS=$W/paths.txt wrk -t2 -c"$CONNS" -d2s -s bench/serve_wrk.lua "http://127.0.0.1:$PORT" | grep wrk-summary
echo "rss_kb_after_warmup=$(rss)"
for round in 1 2 3; do
  echo "round $round"
  BLEND_PATHS=$W/paths.txt wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/serve_wrk.lua "http://127.0.0.1:$PORT" | grep wrk-summary
  "$BUILD/bench_serve_inproc" "$W/sf" "$W/queries.txt" 2 "$SECS"
done
echo "with _source (stored fields in every hit):"
BLEND_PATHS=$W/paths_source.txt wrk -t2 -c"$CONNS" -d"${SECS}s" -s bench/serve_wrk.lua "http://127.0.0.1:$PORT" | grep wrk-summary
echo "rss_kb_at_end=$(rss) requests_served=$(curl -s "http://127.0.0.1:$PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["requests"])')"
