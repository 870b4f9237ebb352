#!/usr/bin/env bash
# bench/run.sh — `make bench`: blend's lexical engine side by side with Xapian
# and SQLite FTS5 on BEIR scifact and nfcorpus (indexing and top-10 BM25
# queries, single thread). Builds the drivers with cc/g++, runs every engine,
# prints the Markdown tables and rewrites the lexical section of
# bench/RESULTS.md (between <!-- lexical:begin --> and <!-- lexical:end -->).
#
# Environment (defaults in brackets):
#   BLEND_BUILD      build dir holding libblend.a [build/release]
#   BENCH_OUT        scratch dir for binaries, indexes, runs [build/bench]
#   BENCH_DATA       BEIR root [../shared/data/beir]
#   BENCH_DATASETS   ["scifact nfcorpus"]
#   BENCH_ENGINES    ["blend blend-flat xapian xapian-stemall fts5 fts5-stop"]
#                    (fts5-stop queries the fts5 index without stopwords: run after fts5)
#   BENCH_PASSES     timed query passes after one warm-up [10]
#   BENCH_INDEX_RUNS indexing runs per engine, median reported [5]
#   BENCH_MIN_SECONDS  more query passes (up to 256) until they cover this [2]
#   BENCH_NO_RESULTS=1  print only, leave bench/RESULTS.md alone
set -euo pipefail
cd "$(dirname "$0")/.."

KNOBS=""  # the knobs the caller set, to quote the exact command in RESULTS.md
for v in BLEND_BUILD BENCH_OUT BENCH_DATA BENCH_DATASETS BENCH_ENGINES BENCH_PASSES BENCH_INDEX_RUNS BENCH_MIN_SECONDS; do
  if [ -n "${!v:-}" ]; then KNOBS+="$v=\"${!v}\" "; fi
done
BLEND_BUILD=${BLEND_BUILD:-build/release}
OUT=${BENCH_OUT:-build/bench}
DATA=${BENCH_DATA:-../shared/data/beir}
DATASETS=${BENCH_DATASETS:-"scifact nfcorpus"}
ENGINES=${BENCH_ENGINES:-"blend blend-flat xapian xapian-stemall fts5 fts5-stop"}
PASSES=${BENCH_PASSES:-10}
INDEX_RUNS=${BENCH_INDEX_RUNS:-5}
mkdir -p "$OUT"

CFLAGS="-std=c11 -O2 -g -march=native -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
        -Wstrict-prototypes -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Iinclude -Ibench"
CXXFLAGS="-std=c++17 -O2 -g -march=native -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude -Ibench"
# link blend exactly as the Makefile does (its LIBS, read from make's database)
BLEND_LIBS=$( (make -pq -f Makefile 2>/dev/null || true) | sed -n 's/^LIBS := //p' | head -1)
[ -n "$BLEND_LIBS" ] || BLEND_LIBS="-lutf8proc -lstemmer -lzstd -lcjson -lstreamvbyte -lopenblas -lcurl -lm -lpthread"

echo "bench: building drivers in $OUT" >&2
cc $CFLAGS -c bench/common.c -o "$OUT/common.o"
have=()
if cc $CFLAGS -o "$OUT/peer_fts5" bench/peer_fts5.c "$OUT/common.o" -lsqlite3 -lcjson -lm; then
  have+=(fts5 fts5-stop)
else
  echo "bench: peer_fts5 did not build (libsqlite3-dev missing?) — skipping FTS5" >&2
fi
if g++ $CXXFLAGS -o "$OUT/peer_xapian" bench/peer_xapian.cc "$OUT/common.o" -lxapian -lcjson -lm; then
  have+=(xapian xapian-stemall)
else
  echo "bench: peer_xapian did not build (libxapian-dev/g++ missing?) — skipping Xapian" >&2
fi
if [ -f "$BLEND_BUILD/libblend.a" ] &&
   cc $CFLAGS -o "$OUT/bench_lexical" bench/bench_lexical.c "$OUT/common.o" \
      "$BLEND_BUILD/libblend.a" $BLEND_LIBS; then
  have+=(blend blend-flat)
else
  echo "bench: bench_lexical did not build against $BLEND_BUILD/libblend.a — skipping blend" >&2
fi

driver() { # engine -> command prefix
  case $1 in
    blend) echo "env BENCH_BLEND_FIELD_VIEWS=1 $OUT/bench_lexical" ;;
    blend-flat) echo "env BENCH_BLEND_FIELD_VIEWS=0 $OUT/bench_lexical" ;;
    xapian) echo "env BENCH_XAPIAN_STEM=some $OUT/peer_xapian" ;;
    xapian-stemall) echo "env BENCH_XAPIAN_STEM=all $OUT/peer_xapian" ;;
    fts5) echo "$OUT/peer_fts5" ;;
    fts5-stop) echo "env BENCH_FTS5_QUERY_STOPWORDS=drop $OUT/peer_fts5" ;;
  esac
}
index_path() { # engine dataset
  case $1 in fts5|fts5-stop) echo "$OUT/idx/$2.fts5.db" ;; *) echo "$OUT/idx/$2.$1" ;; esac
}

RES="$OUT/results.jsonl"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src include 2>/dev/null || rev="$rev+dirty"
export BENCH_BLEND_REV="$rev"
json_str() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
{
  printf '{"phase":"meta","load":%s,"date":%s,"cpu":%s,"cores":%s,"kernel":%s,"cc":%s,"cxx":%s,"blend_rev":%s,"settings":%s}\n' \
    "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")" \
    "$(json_str "$(date -u '+%Y-%m-%d %H:%M UTC')")" \
    "$(json_str "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)")" \
    "$(nproc)" \
    "$(json_str "$(uname -sr)")" \
    "$(json_str "$(cc --version | head -1)")" \
    "$(json_str "$(g++ --version 2>/dev/null | head -1)")" \
    "$(json_str "$rev")" \
    "$(json_str "BENCH_PASSES=$PASSES (+1 warm-up; more until ${BENCH_MIN_SECONDS:-2} s), BENCH_INDEX_RUNS=$INDEX_RUNS, datasets: $DATASETS")"
} > "$RES"

mkdir -p "$OUT/idx" "$OUT/runs"
for ds in $DATASETS; do
  [ -f "$DATA/$ds/corpus.jsonl" ] || { echo "bench: $DATA/$ds/corpus.jsonl missing" >&2; exit 1; }
  for e in $ENGINES; do
    [[ " ${have[*]} " == *" $e "* ]] || continue
    cmd=$(driver "$e")
    ix=$(index_path "$e" "$ds")
    ok=1
    runs=$INDEX_RUNS
    [ "$e" = fts5-stop ] && runs=0  # same index as fts5, only the queries differ
    [ $runs = 0 ] && [ ! -f "$ix" ] && { echo "bench: $ix missing (run fts5 first)" >&2; ok=0; }
    for ((i = 1; ok == 1 && i <= runs; i++)); do
      echo "bench: $ds $e index ($i/$runs)" >&2
      if ! $cmd index "$DATA/$ds" "$ix" >> "$RES"; then ok=0; break; fi
    done
    if [ $ok = 1 ]; then
      echo "bench: $ds $e query ($PASSES passes)" >&2
      $cmd query "$DATA/$ds" "$ix" "$PASSES" "$OUT/runs/$ds.$e.trec" >> "$RES" || ok=0
    fi
    # cross-check the driver's nDCG@10 with blend's own evaluator on the run file
    if [ $ok = 1 ] && [ -x "$BLEND_BUILD/blend" ] &&
       j=$("$BLEND_BUILD/blend" eval --run "$OUT/runs/$ds.$e.trec" \
             --qrels "$DATA/$ds/qrels/test.tsv" --metrics ndcg@10 --json 2>/dev/null); then
      python3 -c 'import json,sys; d=json.loads(sys.argv[3]); print(json.dumps({"phase":"eval_check","engine":sys.argv[1],"dataset":sys.argv[2],"ndcg10":d["ndcg@10"]}))' \
        "$e" "$ds" "$j" >> "$RES" || true
    fi
    [ $ok = 1 ] || echo "bench: $ds $e FAILED (see above); its row is left out" >&2
  done
  # What a user sees: the blend CLI end to end (process start, blend's own
  # JSONL reader, commit), outside the table.
  if [[ " $ENGINES " == *" blend "* ]] && [ -x "$BLEND_BUILD/blend" ]; then
    for ((i = 1; i <= INDEX_RUNS; i++)); do
      echo "bench: $ds blend CLI index ($i/$INDEX_RUNS)" >&2
      ix="$OUT/idx/$ds.blend-cli"
      rm -rf "$ix"
      if /usr/bin/time -f '%e %M' -o "$OUT/time.txt" "$BLEND_BUILD/blend" index -q \
           --input "$DATA/$ds/corpus.jsonl" --index "$ix" >&2; then
        read -r secs rss < "$OUT/time.txt"
        printf '{"phase":"cli_index","engine":"blend","dataset":"%s","seconds":%s,"peak_rss_kb":%s,"index_bytes":%s,"corpus_bytes":%s}\n' \
          "$ds" "$secs" "$rss" "$(du -sb "$ix" | cut -f1)" "$(stat -c %s "$DATA/$ds/corpus.jsonl")" >> "$RES"
      else
        echo "bench: blend index CLI failed on $ds" >&2
        break
      fi
    done
  fi
done

printf '{"phase":"meta_end","load":%s}\n' "$(json_str "$(cut -d' ' -f1-3 /proc/loadavg)")" >> "$RES"

# The exact command, for RESULTS.md: `make bench` or run.sh with its knobs.
if [ -n "${MAKELEVEL:-}" ]; then how="make bench"; else how="make MODE=release && bench/run.sh"; fi
how="$KNOBS$how"
if [ "${BENCH_NO_RESULTS:-0}" = 1 ]; then
  python3 bench/report.py "$RES" --command "$how"
else
  python3 bench/report.py "$RES" --command "$how" --results bench/RESULTS.md
fi
