#!/usr/bin/env bash
# make demo: index blend's own documentation (ships with every checkout),
# run a few queries, then hybrid search: with a bi-encoder (MODEL=DIR, a
# Hugging Face / sentence-transformers directory) the index gets a dense
# leg and queries print fused results with each leg's explain; without one
# it says so and fuses the two lexical legs (BM25 flat + multifield). When
# ../shared/data/beir/scifact exists, SciFact is indexed and evaluated too.
set -euo pipefail
cd "$(dirname "$0")/.."
BLEND=${1:-build/release/blend}
work=$(mktemp -d /tmp/blend-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Indexing blend's own documentation (*.md in this checkout)"
mkdir -p "$work/docs"
# a flat copy, so ids are readable paths
for f in README.md ARCHITECTURE.md docs/*.md bench/README.md fuzz/README.md; do
  [ -f "$f" ] || continue
  mkdir -p "$work/docs/$(dirname "$f")"
  cp "$f" "$work/docs/$f"
done
"$BLEND" index --input "$work/docs" --index "$work/docs-index"

for q in 'atomic commit manifest' 'block-max WAND pruning' '"stored fields"' '+encoder -python'; do
  say "blend search '$q'"
  "$BLEND" search --index "$work/docs-index" -k 3 "$q"
done

MODEL=${MODEL:-}
if [ -n "$MODEL" ] && [ -f "$MODEL/model.safetensors" ]; then
  say "Hybrid: re-indexing with a dense leg encoded by $MODEL"
  "$BLEND" index --input "$work/docs" --index "$work/docs-index" --model "$MODEL"
  say "blend search --mode hybrid --explain 'how are segments merged after deletes'"
  "$BLEND" search --index "$work/docs-index" --mode hybrid --explain -k 3 "how are segments merged after deletes"
else
  say "Hybrid: no model given (MODEL=DIR, e.g. one fetched with 'blend model pull sentence-transformers/all-MiniLM-L6-v2'): fusing the lexical legs"
  "$BLEND" search --index "$work/docs-index" --mode hybrid --legs bm25,bm25-multi --explain -k 3 \
    "how are segments merged after deletes"
fi

SCIFACT=${BLEND_SHARED:-../shared}/data/beir/scifact
if [ -f "$SCIFACT/corpus.jsonl" ]; then
  say "SciFact (BEIR): index 5,183 abstracts"
  "$BLEND" index --input "$SCIFACT/corpus.jsonl" --index "$work/scifact"
  say "blend search 'microstructural development of white matter'"
  "$BLEND" search --index "$work/scifact" -k 3 "microstructural development of white matter"
  say "SciFact test queries, BM25 flat (Anserini: nDCG@10 0.6789, R@100 0.9253)"
  "$BLEND" eval --index "$work/scifact" --queries "$SCIFACT/queries.jsonl" \
    --qrels "$SCIFACT/qrels/test.tsv" --metrics ndcg@10,recall@100,mrr@10,map@100
  say "SciFact test queries, hybrid of BM25 flat + multifield (min-max, convex combination)"
  "$BLEND" eval --index "$work/scifact" --mode hybrid --legs bm25,bm25-multi --queries "$SCIFACT/queries.jsonl" \
    --qrels "$SCIFACT/qrels/test.tsv" --metrics ndcg@10,recall@100
else
  say "SciFact not found at $SCIFACT: skipping the evaluation"
fi
