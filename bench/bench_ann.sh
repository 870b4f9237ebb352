#!/usr/bin/env bash
# bench/bench_ann.sh — the dense-vector half of `make bench`: blend's HNSW
# (f32, and int8 with float rescoring) and exact scan side by side with
# hnswlib (Debian header compiled -O3 -march=native), FAISS IndexHNSWFlat /
# IndexHNSWSQ8 (Debian's generic libfaiss build) and usearch f32/f16/i8 (npm
# package's C++ headers), on 100k synthetic 384-d embedding-like vectors with
# 1,000 fresh queries and exact ground truth (../shared/tools/peers/
# gen_ann_vectors.py). Same M / efConstruction / ef list / build threads for
# every engine, one query per call on one thread. Engines run round-robin
# (one full run each per round) so they share the machine's noise; the
# report quotes per-engine medians over rounds. Also measures the machine's
# streaming-read bandwidth and the exact scan's GB/s at 1 and 2 threads.
# Rewrites the "Dense vectors (ANN)" section of bench/RESULTS.md (between
# <!-- ann:begin --> and <!-- ann:end -->).
#
# Environment (defaults in brackets):
#   BLEND_BUILD   build dir for libblend.a and bench_ann [build/release]
#   BENCH_OUT     scratch dir [build/bench]
#   ANN_DATA      data dir (base.f32, queries.f32, gt.i32, meta.json), generated if absent [$BENCH_OUT/ann_syn100k]
#   ANN_ROUNDS    rounds [2]
#   ANN_M / ANN_EFC / ANN_EF / ANN_BUILD_THREADS / ANN_PASSES   [16 / 200 / 10,20,40,80,160,320 / 2 / 3]
#   ANN_ENGINES   [blend-f32 blend-int8 hnswlib usearch-f16 usearch-f32 usearch-i8 faiss-hnsw faiss-hnsw-sq8]
#   ANN_ONCE      engines run in the first round only (slow generic builds) [faiss-hnsw faiss-hnsw-sq8]
#   ANN_PEERS_WORK  where ann_peers.sh builds its harness and usearch [$BENCH_OUT/ann_peers]
#   BENCH_NO_RESULTS=1  print only, leave bench/RESULTS.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLEND_BUILD:-build/release}
OUT=${BENCH_OUT:-build/bench}
DATA=${ANN_DATA:-$OUT/ann_syn100k}
ROUNDS=${ANN_ROUNDS:-2}
M=${ANN_M:-16}
EFC=${ANN_EFC:-200}
EF=${ANN_EF:-10,20,40,80,160,320}
BT=${ANN_BUILD_THREADS:-2}
PASSES=${ANN_PASSES:-3}
ENGINES=${ANN_ENGINES:-"blend-f32 blend-int8 hnswlib usearch-f16 usearch-f32 usearch-i8 faiss-hnsw faiss-hnsw-sq8"}
ONCE=${ANN_ONCE-"faiss-hnsw faiss-hnsw-sq8"}
PEERS=../shared/tools/peers
WORK=$(mkdir -p "${ANN_PEERS_WORK:-$OUT/ann_peers}" && cd "${ANN_PEERS_WORK:-$OUT/ann_peers}" && pwd)
PY=/usr/bin/python3
mkdir -p "$OUT"
LOG="$OUT/ann_runs.jsonl"
: > "$LOG"

echo "ann: building bench_ann in $B" >&2
make --no-print-directory BUILD="$B" MODE=release "$B/bench_ann" >&2
if [ ! -f "$DATA/base.f32" ]; then
  echo "ann: generating $DATA" >&2
  $PY "$PEERS/gen_ann_vectors.py" "$DATA" >&2
fi
# usearch: its npm package carries the C++ headers ann_peers.sh compiles (only fetched when a usearch
# engine is asked for: with the package present ann_peers.sh also builds NumKong, ~2.5 min)
if [[ " $ENGINES " == *" usearch-"* ]] && [ ! -f "$WORK/npm/node_modules/usearch/include/usearch/index_dense.hpp" ] &&
   command -v npm >/dev/null; then
  (mkdir -p "$WORK/npm" && cd "$WORK/npm" && npm init -y >/dev/null && npm install usearch >&2) || true
fi
DIM=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['dim'])" "$DATA/meta.json")
GTK=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['gtk'])" "$DATA/meta.json")
COMMON=(--base "$DATA/base.f32" --queries "$DATA/queries.f32" --gt "$DATA/gt.i32" --gtk "$GTK" --dim "$DIM")

run() { # tag, then the command; appends {"round":r,...} to the log
  local r=$1; shift
  local line
  line=$("$@" 2>>"$OUT/ann_stderr.log" | tail -1) || line="{\"peer\":\"$*\",\"error\":\"exit $?\"}"
  [ -n "$line" ] || line="{\"peer\":\"$*\",\"error\":\"no output\"}"
  echo "{\"round\":$r,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"run\":$line}" | tee -a "$LOG" >&2
}

for r in $(seq 1 "$ROUNDS"); do
  echo "ann: round $r/$ROUNDS" >&2
  run "$r" "$B/bench_ann" --lib bandwidth --passes 3
  for st in 1 2; do
    run "$r" "$B/bench_ann" --lib blend-exact "${COMMON[@]}" --scan-threads $st --passes 1 --nq-max 200
  done
  for e in $ENGINES; do
    if [ "$r" -gt 1 ] && [[ " $ONCE " == *" $e "* ]]; then continue; fi
    case $e in
      blend-*) run "$r" "$B/bench_ann" --lib "$e" "${COMMON[@]}" --M "$M" --efc "$EFC" --ef "$EF" \
                   --build-threads "$BT" --passes "$PASSES" ;;
      *) run "$r" env WORK="$WORK" ANN_M="$M" ANN_EFC="$EFC" ANN_EF="$EF" ANN_BUILD_THREADS="$BT" \
             ANN_PASSES="$PASSES" "$PEERS/ann_peers.sh" "$DATA" "$e" ;;
    esac
  done
done

CMD="bench/bench_ann.sh (ANN_ROUNDS=$ROUNDS ANN_M=$M ANN_EFC=$EFC ANN_EF=$EF ANN_BUILD_THREADS=$BT ANN_PASSES=$PASSES)"
if [ "${BENCH_NO_RESULTS:-0}" = 1 ]; then
  $PY bench/bench_ann_report.py "$LOG" --cmd "$CMD" --commit "$(git rev-parse --short HEAD)"
else
  $PY bench/bench_ann_report.py "$LOG" --cmd "$CMD" --commit "$(git rev-parse --short HEAD)" \
      --results bench/RESULTS.md
fi
