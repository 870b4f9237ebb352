#!/usr/bin/env bash
# make demo: index blend's own documentation (ships with every checkout),
# run a few queries, and — when ../shared/data/beir/scifact exists — index
# SciFact and print its BM25 evaluation against the test qrels.
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

SCIFACT=${BLEND_SHARED:-../shared}/data/beir/scifact
if [ -f "$SCIFACT/corpus.jsonl" ]; then
  say "SciFact (BEIR): index 5,183 abstracts"
  "$BLEND" index --input "$SCIFACT/corpus.jsonl" --index "$work/scifact"
  say "blend search 'microstructural development of white matter'"
  "$BLEND" search --index "$work/scifact" -k 3 "microstructural development of white matter"
  say "SciFact test queries, BM25 flat (Anserini: nDCG@10 0.6789, R@100 0.9253)"
  "$BLEND" eval --index "$work/scifact" --queries "$SCIFACT/queries.jsonl" \
    --qrels "$SCIFACT/qrels/test.tsv" --metrics ndcg@10,recall@100,mrr@10,map@100
else
  say "SciFact not found at $SCIFACT: skipping the evaluation"
fi
