#!/usr/bin/env bash
# Index-time encoding: `blend index --model` on SciFact with a MiniLM-L6-shaped
# random-weight model (made by ../shared/tools/make_random_bert.py), f32 and
# int8, 1 and 2 threads. Reports docs/s of the whole run and the encoder's
# share of it: the time `blend embed` needs for the same texts (title + " " +
# text) divided by the index time. Runs alternate configurations per round;
# figures are medians over ROUNDS (default 3). DOCS=N uses the first N
# documents only.
#   usage: bench/index_encode.sh [BLEND_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/release/blend}
SHARED=${BLEND_SHARED:-$(cd .. && pwd)/shared}
ROUNDS=${ROUNDS:-3}
W=${WORK:-/tmp/blend-bench-encode}
mkdir -p "$W"
MODEL=$W/minilm-l6-random
[ -f "$MODEL/model.safetensors" ] || /usr/bin/python3 "$SHARED/tools/make_random_bert.py" --kind bi \
  --hidden 384 --layers 6 --heads 12 --intermediate 1536 --max-seq-length 256 \
  --vocab "$SHARED/models/all-MiniLM-L6-v2/vocab.txt" --out "$MODEL" >/dev/null
CORPUS=$SHARED/data/beir/scifact/corpus.jsonl
if [ -n "${DOCS:-}" ]; then head -n "$DOCS" "$CORPUS" > "$W/corpus.jsonl"; CORPUS=$W/corpus.jsonl; fi
/usr/bin/python3 - "$CORPUS" > "$W/texts.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    t = " ".join(x for x in (d.get("title", ""), d.get("text", "")) if x)
    print(json.dumps({"_id": d["_id"], "text": t}))
PY
N=$(wc -l < "$CORPUS")
echo "# $(date -u +%FT%TZ) $(lscpu | sed -n 's/Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $BIN ($(git rev-parse --short HEAD)), $N SciFact documents, model $MODEL (MiniLM-L6 shape, max_seq_length 256)"
declare -A IX EM
for r in $(seq "$ROUNDS"); do
  for prec in f32 int8; do
    for th in 1 2; do
      flag=""; [ $prec = int8 ] && flag=--int8
      t0=$(date +%s.%N)
      "$BIN" index -q --input "$CORPUS" --index "$W/ix" --model "$MODEL" $flag --threads $th
      t1=$(date +%s.%N)
      "$BIN" embed --model "$MODEL" $flag --threads $th < "$W/texts.jsonl" > /dev/null
      t2=$(date +%s.%N)
      IX[$prec-$th]+="$(echo "$t1 - $t0" | bc) "
      EM[$prec-$th]+="$(echo "$t2 - $t1" | bc) "
    done
  done
done
med() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "| precision | threads | index s | docs/s | embed-only s | encoder share |\n|---|---:|---:|---:|---:|---:|\n"
for prec in f32 int8; do for th in 1 2; do
  i=$(echo "${IX[$prec-$th]}" | med); e=$(echo "${EM[$prec-$th]}" | med)
  printf "| %s | %d | %.1f | %.0f | %.1f | %.0f%% |\n" $prec $th "$i" "$(echo "$N / $i" | bc -l)" "$e" "$(echo "100 * $e / $i" | bc -l)"
done; done
