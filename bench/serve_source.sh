#!/usr/bin/env bash
# bench/serve_source.sh — _source cost under wrk: two blend binaries (e.g.
# before/after a stored-fields change) alternate within each round on the
# same SciFact index, lexical GET /search?q=...&k=10 with _source (title +
# text of every hit) and without; medians by hand into bench/RESULTS.md.
#   bench/serve_source.sh BIN_A BIN_B [SECONDS] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2; SECS=${3:-10}; ROUNDS=${4:-3}; CONNS=${5:-32}
SF=${BLEND_SHARED:-../shared}/data/beir/scifact
W=${W:-/tmp/blend-serve-source}; mkdir -p "$W"
[ -d "$W/sf" ] || "$A" index -q --input "$SF/corpus.jsonl" --index "$W/sf"
python3 - "$SF/queries.jsonl" "$W" <<'PY'
import json, sys, urllib.parse
qs = [json.loads(l)["text"] for l in open(sys.argv[1]) if l.strip()]
for name, extra in (("paths.txt", {"source": "false"}), ("paths_source.txt", {})):
    with open(sys.argv[2] + "/" + name, "w") as f:
        for q in qs: f.write("/search?" + urllib.parse.urlencode({"q": q, "k": 10, **extra}) + "\n")
PY
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
run() { # BIN PATHS
  "$1" serve --index "$W/sf" --port 0 --threads 2 2> "$W/serve.log" &
  local pid=$!
  for _ in $(seq 300); do grep -q listening "$W/serve.log" && break; sleep 0.1; done
  local port; port=$(sed -n 's/.*127.0.0.1:\([0-9]*\)\/.*/\1/p' "$W/serve.log")
  BLEND_PATHS=$2 wrk -t2 -c"$CONNS" -d1s -s bench/serve_wrk.lua "http://127.0.0.1:$port" > /dev/null
  BLEND_PATHS=$2 wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s bench/serve_wrk.lua "http://127.0.0.1:$port" | grep wrk-summary
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for r in $(seq "$ROUNDS"); do
  for which in A B; do
    bin=$A; [ $which = B ] && bin=$B
    echo "round $r $which source load=$(cut -d' ' -f1 /proc/loadavg) $(run "$bin" "$W/paths_source.txt")"
  done
  for which in A B; do
    bin=$A; [ $which = B ] && bin=$B
    echo "round $r $which nosource load=$(cut -d' ' -f1 /proc/loadavg) $(run "$bin" "$W/paths.txt")"
  done
done
