#!/usr/bin/env bash
# bench/encoder.sh — the encoder half of `make bench`: blend's native BERT
# encoder (f32, int8, bf16) side by side with PyTorch f32 and dynamic int8 and
# ONNX Runtime f32 and int8 (npm onnxruntime-node, via ../shared/tools/ort_peer)
# on a MiniLM-L6-shaped random-weight model, SciFact title+text, batch 32,
# max_length 128, at 1 and 2 threads; plus cross-encoder rerank latency of 20
# (query, document) pairs at 256 tokens (blend f32/int8/bf16 vs ONNX Runtime). Runs the engines alternately (round-robin, one timed pass each
# per round, so they share the machine's noise), measures int8-vs-f32 cosine
# on real texts, single-text latency, load time, peak RSS and the fraction of
# the machine's measured peak FLOP/s, then rewrites the encoder section of
# bench/RESULTS.md (between <!-- encoder:begin --> and <!-- encoder:end -->).
#
# Environment (defaults in brackets):
#   BLEND_BUILD      build dir for libblend.a and the drivers [build/release]
#   BENCH_OUT        scratch dir [build/bench]
#   ENC_MODEL        model dir, generated once if absent [$BENCH_OUT/minilm-random]
#   ENC_DATA         BEIR dataset dir [../shared/data/beir/scifact]
#   ENC_THREADS      thread counts ["1 2"]
#   ENC_ROUNDS       rounds; each engine gives one timed pass per round [5]
#   ENC_BATCHES      batches of 32 texts per timed pass [8]
#   ENC_WARMUP       untimed warm-up batches per run [2]
#   ENC_FID_DOCS / ENC_FID_QUERIES  texts for the int8 fidelity check [1000 / 200]
#   ENC_NO_TORCH=1   skip the PyTorch peers
#   ENC_NO_ORT=1     skip the ONNX Runtime peers
#   ENC_ORT_WORK     node_modules, ONNX models and token dumps [$BENCH_OUT/ortpeer]
#   ENC_ENGINES      engines to time [all available: blend-f32 blend-int8 blend-bf16
#                    torch torch-int8 ort-f32 ort-int8]
#   ENC_TORCH_BLAS_DIR  OpenBLAS build PyTorch loads via LD_LIBRARY_PATH
#                    [/usr/lib/x86_64-linux-gnu/openblas-openmp, if present]
#   BENCH_NO_RESULTS=1  print only, leave bench/RESULTS.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
T_START=$(date +%s)

KNOBS=""  # the knobs the caller set, quoted in RESULTS.md
for v in BLEND_BUILD BENCH_OUT ENC_MODEL ENC_DATA ENC_THREADS ENC_ROUNDS ENC_BATCHES ENC_WARMUP \
         ENC_FID_DOCS ENC_FID_QUERIES ENC_NO_TORCH ENC_TORCH_BLAS_DIR ENC_NO_ORT ENC_ORT_WORK ENC_ENGINES; do
  if [ -n "${!v:-}" ]; then KNOBS+="$v=\"${!v}\" "; fi
done
B=${BLEND_BUILD:-build/release}
OUT=${BENCH_OUT:-build/bench}
MODEL=${ENC_MODEL:-$OUT/minilm-random}
DATA=${ENC_DATA:-../shared/data/beir/scifact}
THREADS=${ENC_THREADS:-"1 2"}
ROUNDS=${ENC_ROUNDS:-5}
BATCHES=${ENC_BATCHES:-8}
WARMUP=${ENC_WARMUP:-2}
FID_DOCS=${ENC_FID_DOCS:-1000}
FID_QUERIES=${ENC_FID_QUERIES:-200}
PY=/usr/bin/python3
TOOLS=../shared/tools
mkdir -p "$OUT"

echo "encoder: building drivers in $B" >&2
make --no-print-directory BUILD="$B" MODE=release "$B/libblend.a" "$B/bench_encoder" "$B/bench_gemm" "$B/blend" >&2
BLEND_LIBS=$( (make -pq -f Makefile 2>/dev/null || true) | sed -n 's/^LIBS := //p' | head -1)
[ -n "$BLEND_LIBS" ] || BLEND_LIBS="-lutf8proc -lstemmer -lzstd -lcjson -lstreamvbyte -lopenblas -lcurl -lm -lpthread"
cc -std=c11 -O2 -g -march=x86-64-v2 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Iinclude -Isrc -o "$OUT/encoder_fidelity" \
   bench/encoder_fidelity.c "$B/libblend.a" $BLEND_LIBS

MAKE_MODEL="$PY $TOOLS/make_random_bert.py --kind bi --hidden 384 --layers 6 --heads 12 --intermediate 1536 --dtype f32 --seed 3 --vocab ../shared/models/all-MiniLM-L6-v2/vocab.txt --out $MODEL"
if [ ! -f "$MODEL/model.safetensors" ] || [ ! -f "$MODEL/config.json" ]; then
  echo "encoder: generating $MODEL" >&2
  $MAKE_MODEL >&2
fi
CROSS=${ENC_CROSS_MODEL:-$OUT/cross-random}
MAKE_CROSS="$PY $TOOLS/make_random_bert.py --kind cross --hidden 384 --layers 6 --heads 12 --intermediate 1536 --dtype f32 --seed 5 --vocab ../shared/models/all-MiniLM-L6-v2/vocab.txt --out $CROSS"
[ -f "$CROSS/model.safetensors" ] || { echo "encoder: generating $CROSS" >&2; $MAKE_CROSS >&2; }

# ONNX Runtime (../shared/tools/ort_peer/README.md): onnxruntime-node from npm,
# the model exported with PyTorch and quantised (quantize_dynamic's defaults),
# the very token ids reference_bert.py bench times.
ORTW=${ENC_ORT_WORK:-$OUT/ortpeer}
ORTH=$TOOLS/ort_peer
ORT=1
if [ "${ENC_NO_ORT:-0}" = 1 ] || ! command -v node >/dev/null; then
  echo "encoder: ONNX Runtime peer skipped (ENC_NO_ORT=1 or node missing)" >&2; ORT=0
else
  mkdir -p "$ORTW"
  ORTW=$(cd "$ORTW" && pwd)  # ort_bench.js require()s the module path: relative paths would resolve against ../shared
  export ORT_NODE_MODULE=$ORTW/node_modules/onnxruntime-node REF_TOOLS=$TOOLS
  $PY -c 'import onnx' 2>/dev/null || apt-get install -y -qq python3-onnx >&2 || true
  if [ ! -f "$ORT_NODE_MODULE/package.json" ]; then
    (cd "$ORTW" && { [ -f package.json ] || npm init -y >/dev/null; } &&
       ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund onnxruntime-node@1.30.0 >&2) || ORT=0
  fi
  if [ $ORT = 1 ] && [ ! -f "$ORTW/model.onnx" ]; then
    $PY "$ORTH/ort_export.py" export --model "$MODEL" --data "$DATA" --out "$ORTW/model.onnx" >"$ORTW/export.json" 2>"$ORTW/export.err" || ORT=0
  fi
  if [ $ORT = 1 ] && [ ! -f "$ORTW/model.int8.onnx" ]; then
    $PY "$ORTH/ort_export.py" quantize --in "$ORTW/model.onnx" --out "$ORTW/model.int8.onnx" >/dev/null || ORT=0
  fi
  if [ $ORT = 1 ] && [ ! -f "$ORTW/tokens.json" ]; then
    $PY "$ORTH/ort_export.py" dump --model "$MODEL" --data "$DATA" --out "$ORTW/tokens.json" >/dev/null 2>"$ORTW/dump.err" || ORT=0
  fi
  [ $ORT = 1 ] || echo "encoder: ONNX Runtime setup failed — peer skipped (see $ORTW)" >&2
fi

# PyTorch's BLAS: Debian's python3-torch calls the generic libblas.so.3, which
# the alternatives system may point at OpenBLAS's pthread build. That build
# runs its own threads beside torch's OpenMP pool (oversubscribed at 2
# threads: ~30% slower here); the OpenMP build shares torch's pool, as the
# PyTorch anchor in ../shared/fixtures/README.md assumes. Use it when present.
TORCH_BLAS_DIR=${ENC_TORCH_BLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
TORCH_ENV="OPENBLAS_NUM_THREADS=N OMP_NUM_THREADS=N"
[ -f "$TORCH_BLAS_DIR/libblas.so.3" ] && TORCH_ENV="LD_LIBRARY_PATH=$TORCH_BLAS_DIR $TORCH_ENV"
torch_env() { # threads -> env assignments
  echo "${TORCH_ENV//=N/=$1}"
}
TORCH=1
if [ "${ENC_NO_TORCH:-0}" = 1 ] || ! $PY -c 'import torch' 2>/dev/null; then
  echo "encoder: PyTorch peer skipped (ENC_NO_TORCH=1 or python3-torch missing)" >&2
  TORCH=0
fi

RES="$OUT/encoder.jsonl"
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src include 2>/dev/null || rev="$rev+dirty"
json_str() { $PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
loadavg() { json_str "$(cut -d' ' -f1-3 /proc/loadavg)"; }
COMMON="--batch 32 --batches $BATCHES --max-length 128 --warmup $WARMUP --repeat 1"
BLEND_CMD="$B/bench_encoder --model $MODEL --data $DATA $COMMON --threads N [--int8|--bf16]"
ORT_CMD="node $ORTH/ort_bench.js --model $ORTW/model[.int8].onnx --tokens $ORTW/tokens.json --threads N --rounds 1"
TORCH8_CMD="$TORCH_ENV $PY bench/encoder_torch_int8.py --tools $TOOLS --model $MODEL --data $DATA $COMMON --threads N"
RERANK_CMD="$B/bench_encoder --model $CROSS --data $DATA --max-length 256 --threads N --rerank 20 --dump-tokens $OUT/rerank_tokens.json [--int8|--bf16]; node $ORTH/ort_bench.js --model $ORTW/model[.int8].onnx --tokens $OUT/rerank_tokens.json --threads N --rounds 21"
TORCH_CMD="$TORCH_ENV $PY $TOOLS/reference_bert.py bench --model $MODEL --data $DATA $COMMON --threads N"
{
  printf '{"phase":"meta","load":%s,"date":%s,"cpu":%s,"cores":%s,"kernel":%s,"cc":%s,"blend_rev":%s,"rounds":%s,"batches":%s,"warmup":%s,"threads":%s,"model_cmd":%s,"blend_cmd":%s,"torch_cmd":%s,"fid_cmd":%s,"ort_cmd":%s,"torch8_cmd":%s,"rerank_cmd":%s,"cross_cmd":%s}\n' \
    "$(loadavg)" "$(json_str "$(date -u '+%Y-%m-%d %H:%M UTC')")" \
    "$(json_str "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1) (cpuid family $(lscpu | sed -n 's/^CPU family:[[:space:]]*//p' | head -1) model $(lscpu | sed -n 's/^Model:[[:space:]]*//p' | head -1))")" "$(nproc)" \
    "$(json_str "$(uname -sr)")" "$(json_str "$(cc --version | head -1)")" "$(json_str "$rev")" \
    "$ROUNDS" "$BATCHES" "$WARMUP" "$(json_str "$THREADS")" "$(json_str "$MAKE_MODEL")" \
    "$(json_str "$BLEND_CMD")" "$(json_str "$TORCH_CMD")" \
    "$(json_str "$OUT/encoder_fidelity --model $MODEL --data $DATA --docs $FID_DOCS --queries $FID_QUERIES --threads 2 --max-length 128 --precision int8|bf16")" \
    "$(json_str "$ORT_CMD")" "$(json_str "$TORCH8_CMD")" "$(json_str "$RERANK_CMD")" "$(json_str "$MAKE_CROSS")"
} > "$RES"

# machine peaks (register-only FMA / VNNI loops, one core); no GEMM shapes
gout=$("$B/bench_gemm" 1 no-shape)
# the first figure after "peak f32 FMA (1 core...)", "peak int8 ... (1 core...)", "peak bf16 ..."
peak_of() { echo "$gout" | grep -o "peak $1[^;]*(1 core[^)]*): [0-9.]*" | head -1 | sed 's/.*: //'; }
PF=$(peak_of "f32 FMA"); PV=$(peak_of "int8"); PB=$(peak_of "bf16 AMX" || true)
[ -n "$PB" ] || PB=$(peak_of "bf16")   # the unit blend's bf16 layers run on: AMX tiles when present
PF=${PF:-0}; PV=${PV:-0}
AMX=0; grep -qw amx_tile /proc/cpuinfo && AMX=1
printf '{"phase":"peak","f32_gflops_core":%s,"int8_gops_core":%s,"bf16_gflops_core":%s,"amx":%s,"doctor":%s}\n' \
  "$PF" "$PV" "${PB:-0}" "$AMX" "$(json_str "$("$B/blend" doctor 2>/dev/null | sed -n 's/^  //p' | tr '\n' ';')")" >> "$RES"

# one row per timed pass: {"phase":"pass","engine":...,"threads":...,"round":...,"load":...,"data":{driver JSON}}
row() { # engine threads round json
  printf '{"phase":"pass","engine":"%s","threads":%s,"round":%s,"load":%s,"data":%s}\n' \
    "$1" "$2" "$3" "$(loadavg)" "$4" >> "$RES"
}
run_engine() { # engine threads round
  local e=$1 t=$2 r=$3 j
  case $e in
    blend-f32) j=$("$B/bench_encoder" --model "$MODEL" --data "$DATA" $COMMON --threads "$t") ;;
    blend-int8) j=$("$B/bench_encoder" --model "$MODEL" --data "$DATA" $COMMON --threads "$t" --int8) ;;
    blend-bf16) j=$("$B/bench_encoder" --model "$MODEL" --data "$DATA" $COMMON --threads "$t" --bf16) ;;
    torch-int8)
      j=$(env $(torch_env "$t") /usr/bin/time -f '%M' -o "$OUT/enc_time.txt" \
            $PY bench/encoder_torch_int8.py --tools "$TOOLS" --model "$MODEL" --data "$DATA" $COMMON --threads "$t")
      j=$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); d["peak_rss_mb"]=round(int(open(sys.argv[2]).read().split()[-1])/1024,1); print(json.dumps(d))' \
            "$j" "$OUT/enc_time.txt") ;;
    ort-f32|ort-int8)
      local om=$ORTW/model.onnx; [ "$e" = ort-int8 ] && om=$ORTW/model.int8.onnx
      j=$(/usr/bin/time -f '%M' -o "$OUT/enc_time.txt" node "$ORTH/ort_bench.js" --model "$om" \
            --tokens "$ORTW/tokens.json" --threads "$t" --rounds 1 --label "$e" 2>>"$OUT/ort.err")
      j=$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); r=d["results"][0]; r["peak_rss_mb"]=round(int(open(sys.argv[2]).read().split()[-1])/1024,1); r["ort"]=d["ort"]["node"]; r["mean_tokens"]=None; print(json.dumps(r))' \
            "$j" "$OUT/enc_time.txt") ;;
    torch)
      j=$(env $(torch_env "$t") /usr/bin/time -f '%M' -o "$OUT/enc_time.txt" \
            $PY $TOOLS/reference_bert.py bench --model "$MODEL" --data "$DATA" $COMMON --threads "$t")
      j=$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); d["peak_rss_mb"]=round(int(open(sys.argv[2]).read().split()[-1])/1024,1); print(json.dumps(d))' \
            "$j" "$OUT/enc_time.txt") ;;
  esac
  row "$e" "$t" "$r" "$j"
}

# PyTorch single-text latency and CPU-second rate (reference_bert.py bench
# measures neither): same model class, same eager ops, same query text as
# bench_encoder; latency includes tokenization as blend_embed's does.
torch_extra() { # threads
  env $(torch_env "$1") $PY - "$TOOLS" "$MODEL" "$DATA" "$1" "$BATCHES" <<'EOF'
import json, sys, time
tools, model, data, threads, batches = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, tools)
import reference_bert as rb
import torch
torch.set_num_threads(threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
t0 = time.perf_counter()
ref = rb.BertReference(model, "f32", fused=True)
load_s = time.perf_counter() - t0
tok = ref.tokenizer

def run(enc):
    T = max(len(s) for s in enc)
    ids = [s + [0] * (T - len(s)) for s in enc]
    am = [[1] * len(s) + [0] * (T - len(s)) for s in enc]
    h = ref.encode_hidden(ids, am)
    m = torch.tensor(am, dtype=torch.float32)[:, :, None]
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)

q = "What is the effect of vitamin D on bone density?"
texts = rb._load_texts(data, "corpus", 32 * batches)
enc = [tok.encode(t, 128) for t in texts]
with torch.inference_mode():
    for _ in range(5):
        run([tok.encode(q, 128)])
    lat = []
    for _ in range(51):
        s = time.perf_counter()
        run([tok.encode(q, 128)])
        lat.append(time.perf_counter() - s)
    run(enc[:32])
    w, c = time.perf_counter(), time.process_time()
    for i in range(0, len(enc), 32):
        run(enc[i:i + 32])
    w, c = time.perf_counter() - w, time.process_time() - c
lat.sort()
blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
print(json.dumps({"engine": "torch", "threads": threads, "query_tokens": len(tok.encode(q, 128)),
                  "single_text_ms_median": round(lat[25] * 1e3, 3), "load_s": round(load_s, 4),
                  "sentences_per_s_one_pass": round(len(enc) / w, 2),
                  "sentences_per_cpu_s_one_pass": round(len(enc) / c, 2),
                  "torch": torch.__version__, "blas": blas}))
EOF
}

ENGINES=(blend-f32 blend-int8)
"$B/blend" doctor 2>/dev/null | grep -q -- '--bf16 available' && ENGINES+=(blend-bf16)
[ $TORCH = 1 ] && ENGINES+=(torch torch-int8)
[ $ORT = 1 ] && ENGINES+=(ort-f32 ort-int8)
[ -n "${ENC_ENGINES:-}" ] && read -r -a ENGINES <<< "$ENC_ENGINES"
ne=${#ENGINES[@]}
for t in $THREADS; do
  for ((r = 0; r < ROUNDS; r++)); do
    for ((k = 0; k < ne; k++)); do
      e=${ENGINES[$(((k + r) % ne))]}  # rotate the order each round
      echo "encoder: threads $t round $((r + 1))/$ROUNDS $e" >&2
      run_engine "$e" "$t" "$r"
    done
  done
  if [ $TORCH = 1 ]; then
    echo "encoder: threads $t PyTorch latency + CPU time" >&2
    j=$(torch_extra "$t") && printf '{"phase":"torch_extra","load":%s,"data":%s}\n' "$(loadavg)" "$j" >> "$RES"
  fi
done

# cross-encoder rerank: 20 (query, document) pairs at 256 tokens; ONNX Runtime
# runs the bi-encoder export (the same BERT body and shapes; only the tiny
# head differs) on the very token ids blend scored, 21 rounds
for t in $THREADS; do
  for p in f32 int8 bf16; do
    fl=""; [ $p != f32 ] && fl=--$p
    [ $p = bf16 ] && [[ " ${ENGINES[*]} " != *" blend-bf16 "* ]] && continue
    echo "encoder: rerank blend $p threads $t" >&2
    j=$("$B/bench_encoder" --model "$CROSS" --data "$DATA" --max-length 256 --threads "$t" --rerank 20 \
          --dump-tokens "$OUT/rerank_tokens.json" $fl) && printf '{"phase":"rerank","load":%s,"data":%s}\n' "$(loadavg)" "$j" >> "$RES"
  done
  if [ $ORT = 1 ]; then
    for e in ort-f32 ort-int8; do
      om=$ORTW/model.onnx; [ "$e" = ort-int8 ] && om=$ORTW/model.int8.onnx
      echo "encoder: rerank $e threads $t" >&2
      j=$(node "$ORTH/ort_bench.js" --model "$om" --tokens "$OUT/rerank_tokens.json" --threads "$t" \
            --rounds 21 --label "$e" 2>>"$OUT/ort.err") &&
        printf '{"phase":"rerank_ort","engine":"%s","threads":%s,"load":%s,"data":%s}\n' "$e" "$t" "$(loadavg)" "$j" >> "$RES"
    done
  fi
done

for p in int8 bf16; do
  [ $p = bf16 ] && [[ " ${ENGINES[*]} " != *" blend-bf16 "* ]] && continue
  echo "encoder: $p vs f32 fidelity on $FID_DOCS docs + $FID_QUERIES queries" >&2
  "$OUT/encoder_fidelity" --model "$MODEL" --data "$DATA" --docs "$FID_DOCS" --queries "$FID_QUERIES" \
    --threads 2 --max-length 128 --precision $p >> "$RES"
done

# int8/bf16 fidelity beside ONNX Runtime's: every engine's embeddings of the
# texts ort_bench.js times against the PyTorch f32 ones ort_export.py dumped
if [ $ORT = 1 ]; then
  for e in ort-f32 ort-int8; do
    om=$ORTW/model.onnx; [ "$e" = ort-int8 ] && om=$ORTW/model.int8.onnx
    echo "encoder: fidelity $e vs PyTorch f32" >&2
    j=$(node "$ORTH/ort_bench.js" --model "$om" --tokens "$ORTW/tokens.json" --threads 2 --rounds 1 \
          --fidelity --label "$e" 2>>"$OUT/ort.err") &&
      $PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"phase":"peer_fidelity","engine":sys.argv[2],"vs_torch_f32":d["results"][0]["fidelity"]["vs_torch_f32"]}))' \
        "$j" "$e" >> "$RES" || echo "encoder: $e fidelity failed (see $OUT/ort.err)" >&2
  done
  $PY "$ORTH/ort_export.py" texts --tokens "$ORTW/tokens.json" > "$OUT/peer_texts.jsonl"
  for p in f32 int8 bf16; do
    [ $p = bf16 ] && [[ " ${ENGINES[*]} " != *" blend-bf16 "* ]] && continue
    echo "encoder: fidelity blend-$p vs PyTorch f32" >&2
    fl=""; [ $p != f32 ] && fl=--$p
    "$B/blend" embed --model "$MODEL" --field text --format f32 --max-length 128 --threads 2 $fl \
      < "$OUT/peer_texts.jsonl" > "$OUT/peer_blend.$p.f32"
    $PY "$ORTH/ort_export.py" compare --tokens "$ORTW/tokens.json" --f32 "$OUT/peer_blend.$p.f32" --label "blend-$p" |
      $PY -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"phase":"peer_fidelity","engine":d["engine"],"vs_torch_f32":d["vs_torch_f32"]}))' >> "$RES"
  done
fi

printf '{"phase":"meta_end","load":%s,"seconds":%s}\n' "$(loadavg)" "$(($(date +%s) - T_START))" >> "$RES"

if [ -n "${MAKELEVEL:-}" ]; then how="make bench"; else how="bench/encoder.sh"; fi
how="$KNOBS$how"
if [ "${BENCH_NO_RESULTS:-0}" = 1 ]; then
  $PY bench/encoder_report.py "$RES" --command "$how"
else
  $PY bench/encoder_report.py "$RES" --command "$how" --results bench/RESULTS.md
fi
