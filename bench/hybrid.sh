#!/usr/bin/env bash
# bench/hybrid.sh — the hybrid part of `make bench`:
#   1. hybrid query latency on NFCorpus (query encoding with a MiniLM-L6-shaped
#      random model + BM25 flat + dense HNSW + min-max cc, top 10), 1 and 2
#      threads, f32 and int8 encoding: p50 / p99;
#   2. cross-encoder rerank of the BM25 top 20 and top 100 (SciFact, max_length
#      256): blend f32 / int8 vs PyTorch f32 on the same pairs, pairs/s;
#   3. hybrid throughput with the query vectors given (no encoding), one core,
#      SciFact with gen_hash_vectors.py stand-in vectors: blend (RRF and min-max
#      cc, exact and HNSW) vs LanceDB and SQLite FTS5 + sqlite-vec (RRF), QPS and
#      nDCG@10 — the peers only when their npm packages are installed.
# Engines alternate within rounds (the machine is shared); medians are quoted.
# Prints JSON lines; bench/RESULTS.md's Hybrid section quotes them by hand.
#
# Environment (defaults in brackets):
#   BLEND_BUILD   build dir [build/release]      BENCH_OUT  scratch [build/bench]
#   HYB_ROUNDS    rounds [3]                     HYB_PEERS  0 to skip the peers [1]
#   HYB_RERANK_Q20 / HYB_RERANK_Q100  queries reranked at depth 20 / 100 [5 / 2]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BLEND_BUILD:-build/release}
OUT=${BENCH_OUT:-build/bench}/hybrid
ROUNDS=${HYB_ROUNDS:-3}
DATA=../shared/data/beir
TOOLS=../shared/tools
PY=/usr/bin/python3
mkdir -p "$OUT"
make --no-print-directory BUILD="$B" MODE=release "$B/blend" "$B/bench_hybrid" >&2
echo "hybrid: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

[ -d "$OUT/minilm-random" ] || $PY $TOOLS/make_random_bert.py --kind bi --hidden 384 --layers 6 --heads 12 \
  --intermediate 1536 --max-seq-length 256 --vocab ../shared/models/all-MiniLM-L6-v2/vocab.txt --out "$OUT/minilm-random" >&2
[ -d "$OUT/cross-random" ] || $PY $TOOLS/make_random_bert.py --kind cross --hidden 384 --layers 6 --heads 12 \
  --intermediate 1536 --vocab ../shared/models/all-MiniLM-L6-v2/vocab.txt --out "$OUT/cross-random" >&2
[ -f "$OUT/nf-dense/MANIFEST" ] || "$B/blend" index --input $DATA/nfcorpus/corpus.jsonl --index "$OUT/nf-dense" \
  --model "$OUT/minilm-random" --int8 -q
[ -f "$OUT/sf/MANIFEST" ] || "$B/blend" index --input $DATA/scifact/corpus.jsonl --index "$OUT/sf" -q
[ -f "$OUT/sf_vec/queries.f32" ] || $PY $TOOLS/peers/gen_hash_vectors.py $DATA/scifact/corpus.jsonl \
  $DATA/scifact/queries.jsonl "$OUT/sf_vec" >&2
[ -f "$OUT/sf-hash/MANIFEST" ] || "$B/blend" index --input $DATA/scifact/corpus.jsonl --index "$OUT/sf-hash" \
  --vectors "$OUT/sf_vec/corpus.f32" --vector-ids "$OUT/sf_vec/corpus_ids.txt" -q

NF=$DATA/nfcorpus SF=$DATA/scifact
for r in $(seq "$ROUNDS"); do
  for t in 1 2; do for p in int8 f32; do
    "$B/bench_hybrid" latency "$OUT/nf-dense" $NF/queries.jsonl $NF/qrels/test.tsv $t $p 1
  done; done
done
Q20=${HYB_RERANK_Q20:-5} Q100=${HYB_RERANK_Q100:-2}
for r in $(seq "$ROUNDS"); do
  for d in 20 100; do
    nq=$Q20; [ $d = 100 ] && nq=$Q100
    for p in f32 int8; do
      "$B/bench_hybrid" rerank "$OUT/sf" $SF/queries.jsonl $SF/qrels/test.tsv "$OUT/cross-random" $d 1 $p $nq \
        "$OUT/pairs$d.tsv" 1
    done
    BLEND_SHARED_TOOLS=$TOOLS $PY bench/rerank_torch.py "$OUT/cross-random" "$OUT/pairs$d.tsv" 1 1 256 || true
  done
done
for r in $(seq "$ROUNDS"); do
  taskset -c 0 "$B/bench_hybrid" qps "$OUT/sf-hash" $SF/queries.jsonl $SF/qrels/test.tsv \
    "$OUT/sf_vec/queries.f32" "$OUT/sf_vec/query_ids.txt" 5
done
if [ "${HYB_PEERS:-1}" = 1 ]; then
  if [ -d /tmp/peers/sqlite-vec/node_modules/sqlite-vec-linux-x64 ]; then
    taskset -c 0 $PY $TOOLS/peers/hybrid_sqlitevec_fts5_bench.py $SF/corpus.jsonl $SF/queries.jsonl \
      $SF/qrels/test.tsv "$OUT/sf_vec/corpus.f32" "$OUT/sf_vec/queries.f32" 384 "$OUT/sv.db" "$OUT/sv" 5 || true
  else echo "hybrid: sqlite-vec not installed (see ../shared/tools/peers/README.md): skipped" >&2; fi
  if [ -d /tmp/peers/lancedb/node_modules/@lancedb ]; then
    taskset -c 0 node $TOOLS/peers/hybrid_lancedb_bench.mjs $SF/corpus.jsonl $SF/queries.jsonl $SF/qrels/test.tsv \
      "$OUT/sf_vec/corpus.f32" "$OUT/sf_vec/queries.f32" 384 "$OUT/lance_db" "$OUT/lance" 5 || true
  else echo "hybrid: LanceDB not installed (see ../shared/tools/peers/README.md): skipped" >&2; fi
fi
