#!/usr/bin/env bash
# bench/live.sh — the live-index bench: blend (bench_live.c) side by side
# with SQLite FTS5 (peer_fts5_live.c) doing the same work on SciFact +
# NFCorpus (8,816 documents): batches of 1,000 added with a durable commit
# each, 1% deleted in one commit, one-document commits, a merge to one
# segment ('optimize' for FTS5), open / refresh of an unchanged index, and
# query latency idle and while the merge runs. Engines alternate within each
# round (ABBA...); medians over rounds. Writes the tables to stdout and into
# bench/RESULTS.md between <!-- live:begin --> and <!-- live:end -->.
#
# Environment (defaults in brackets):
#   BLEND_BUILD       build dir holding libblend.a [build/release]
#   BENCH_OUT         scratch dir: binaries, indexes, results [build/bench-live]
#   BENCH_DATA        BEIR root [../shared/data/beir]
#   BENCH_LIVE_ROUNDS rounds, each runs every engine once [3]
#   BENCH_LIVE_PASSES timed passes of idle queries after a warm-up [1]
#   BENCH_NO_RESULTS=1  print only, leave bench/RESULTS.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
KNOBS=""
for v in BLEND_BUILD BENCH_OUT BENCH_DATA BENCH_LIVE_ROUNDS BENCH_LIVE_PASSES; do
  if [ -n "${!v:-}" ]; then KNOBS+="$v=\"${!v}\" "; fi
done
BLEND_BUILD=${BLEND_BUILD:-build/release}
OUT=${BENCH_OUT:-build/bench-live}
DATA=${BENCH_DATA:-../shared/data/beir}
ROUNDS=${BENCH_LIVE_ROUNDS:-3}
mkdir -p "$OUT"
for d in scifact nfcorpus; do
  [ -f "$DATA/$d/corpus.jsonl" ] || { echo "bench/live.sh: $DATA/$d/corpus.jsonl missing — skipped" >&2; exit 0; }
done

CFLAGS="-std=c11 -O2 -g -march=native -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
        -Wstrict-prototypes -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Iinclude -Ibench"
BLEND_LIBS=$( (make -pq -f Makefile 2>/dev/null || true) | sed -n 's/^LIBS := //p' | head -1)
[ -n "$BLEND_LIBS" ] || BLEND_LIBS="-lutf8proc -lstemmer -lzstd -lcjson -lstreamvbyte -lopenblas -lcurl -lm -lpthread"
BLAS_DIR=/usr/lib/x86_64-linux-gnu/openblas-serial
cc $CFLAGS -c bench/common.c -o "$OUT/common.o"
cc $CFLAGS -c bench/live_common.c -o "$OUT/live_common.o"
engines=()
if cc $CFLAGS -o "$OUT/bench_live" bench/bench_live.c "$OUT/common.o" "$OUT/live_common.o" \
      "$BLEND_BUILD/libblend.a" -L$BLAS_DIR -Wl,-rpath,$BLAS_DIR $BLEND_LIBS -lpthread; then
  engines+=(blend)
else
  echo "bench/live.sh: bench_live did not build against $BLEND_BUILD/libblend.a" >&2
fi
if cc $CFLAGS -o "$OUT/peer_fts5_live" bench/peer_fts5_live.c "$OUT/common.o" "$OUT/live_common.o" \
      -lsqlite3 -lcjson -lm -lpthread; then
  engines+=(fts5)
else
  echo "bench/live.sh: peer_fts5_live did not build (libsqlite3-dev missing? BLEND_BENCH_DEPS=1 scripts/install-deps.sh)" >&2
fi
[ ${#engines[@]} -gt 0 ] || exit 1

RES="$OUT/live.jsonl"
: > "$RES"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src include 2>/dev/null || rev="$rev+dirty"
for r in $(seq 1 "$ROUNDS"); do
  order=("${engines[@]}")
  if [ $((r % 2)) -eq 0 ]; then order=($(printf '%s\n' "${engines[@]}" | tac)); fi
  for e in "${order[@]}"; do
    echo "bench/live.sh: round $r/$ROUNDS: $e" >&2
    case $e in
      blend) line=$("$OUT/bench_live" "$DATA" "$OUT/ix.blend") ;;
      fts5) line=$("$OUT/peer_fts5_live" "$DATA" "$OUT/ix.fts5.db") ;;
    esac
    echo "${line%\}},\"round\":$r,\"rev\":\"$rev\"}" >> "$RES"
  done
done
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CMD="${KNOBS}bench/live.sh"
python3 bench/live_report.py "$RES" "$CPU" "$(nproc)" "$CMD" "$rev" > "$OUT/live.md"
cat "$OUT/live.md"
if [ "${BENCH_NO_RESULTS:-0}" != 1 ]; then
  python3 - "$OUT/live.md" bench/RESULTS.md <<'PY'
import sys, re
sec = open(sys.argv[1]).read().strip()
path = sys.argv[2]
text = open(path).read()
block = "<!-- live:begin -->\n" + sec + "\n<!-- live:end -->"
if "<!-- live:begin -->" in text:
    text = re.sub(r"<!-- live:begin -->.*?<!-- live:end -->", lambda m: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + block + "\n"
open(path, "w").write(text)
PY
  echo "bench/live.sh: bench/RESULTS.md live section updated" >&2
fi
