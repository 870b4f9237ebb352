#!/usr/bin/env bash
# bench/encoder.sh — the encoder half of `make bench`: blend's native BERT
# encoder (f32 and int8) side by side with PyTorch f32 on a MiniLM-L6-shaped
# random-weight model, SciFact title+text, batch 32, max_length 128, at 1 and
# 2 threads. Runs the engines alternately (round-robin, one timed pass each
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
#   ENC_NO_TORCH=1   skip the PyTorch peer
#   ENC_TORCH_BLAS_DIR  OpenBLAS build PyTorch loads via LD_LIBRARY_PATH
#                    [/usr/lib/x86_64-linux-gnu/openblas-openmp, if present]
#   BENCH_NO_RESULTS=1  print only, leave bench/RESULTS.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
T_START=$(date +%s)

KNOBS=""  # the knobs the caller set, quoted in RESULTS.md
for v in BLEND_BUILD BENCH_OUT ENC_MODEL ENC_DATA ENC_THREADS ENC_ROUNDS ENC_BATCHES ENC_WARMUP \
         ENC_FID_DOCS ENC_FID_QUERIES ENC_NO_TORCH ENC_TORCH_BLAS_DIR; do
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
make --no-print-directory BUILD="$B" MODE=release "$B/libblend.a" "$B/bench_encoder" "$B/bench_gemm" >&2
BLEND_LIBS=$( (make -pq -f Makefile 2>/dev/null || true) | sed -n 's/^LIBS := //p' | head -1)
[ -n "$BLEND_LIBS" ] || BLEND_LIBS="-lutf8proc -lstemmer -lzstd -lcjson -lstreamvbyte -lopenblas -lcurl -lm -lpthread"
cc -std=c11 -O2 -g -march=native -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
   -Wmissing-prototypes -Wvla -D_GNU_SOURCE -Iinclude -Isrc -o "$OUT/encoder_fidelity" \
   bench/encoder_fidelity.c "$B/libblend.a" $BLEND_LIBS

MAKE_MODEL="$PY $TOOLS/make_random_bert.py --kind bi --hidden 384 --layers 6 --heads 12 --intermediate 1536 --dtype f32 --seed 3 --vocab ../shared/models/all-MiniLM-L6-v2/vocab.txt --out $MODEL"
if [ ! -f "$MODEL/model.safetensors" ] || [ ! -f "$MODEL/config.json" ]; then
  echo "encoder: generating $MODEL" >&2
  $MAKE_MODEL >&2
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
BLEND_CMD="$B/bench_encoder --model $MODEL --data $DATA $COMMON --threads N [--int8]"
TORCH_CMD="$TORCH_ENV $PY $TOOLS/reference_bert.py bench --model $MODEL --data $DATA $COMMON --threads N"
{
  printf '{"phase":"meta","load":%s,"date":%s,"cpu":%s,"cores":%s,"kernel":%s,"cc":%s,"blend_rev":%s,"rounds":%s,"batches":%s,"warmup":%s,"threads":%s,"model_cmd":%s,"blend_cmd":%s,"torch_cmd":%s,"fid_cmd":%s}\n' \
    "$(loadavg)" "$(json_str "$(date -u '+%Y-%m-%d %H:%M UTC')")" \
    "$(json_str "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)")" "$(nproc)" \
    "$(json_str "$(uname -sr)")" "$(json_str "$(cc --version | head -1)")" "$(json_str "$rev")" \
    "$ROUNDS" "$BATCHES" "$WARMUP" "$(json_str "$THREADS")" "$(json_str "$MAKE_MODEL")" \
    "$(json_str "$BLEND_CMD")" "$(json_str "$TORCH_CMD")" \
    "$(json_str "$OUT/encoder_fidelity --model $MODEL --data $DATA --docs $FID_DOCS --queries $FID_QUERIES --threads 2 --max-length 128")"
} > "$RES"

# machine peaks (register-only FMA / VNNI loops, one core); no GEMM shapes
peak=$("$B/bench_gemm" 1 no-shape | sed -n 's/^peak f32 FMA (1 core): \([0-9.]*\) GFLOP\/s; peak int8 vpdpbusd (1 core): \([0-9.]*\) GOP\/s$/\1 \2/p')
read -r PF PV <<< "${peak:-0 0}"
printf '{"phase":"peak","f32_gflops_core":%s,"int8_gops_core":%s}\n' "$PF" "$PV" >> "$RES"

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
[ $TORCH = 1 ] && ENGINES+=(torch)
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

echo "encoder: int8 vs f32 fidelity on $FID_DOCS docs + $FID_QUERIES queries" >&2
"$OUT/encoder_fidelity" --model "$MODEL" --data "$DATA" --docs "$FID_DOCS" --queries "$FID_QUERIES" \
  --threads 2 --max-length 128 >> "$RES"

printf '{"phase":"meta_end","load":%s,"seconds":%s}\n' "$(loadavg)" "$(($(date +%s) - T_START))" >> "$RES"

if [ -n "${MAKELEVEL:-}" ]; then how="make bench"; else how="bench/encoder.sh"; fi
how="$KNOBS$how"
if [ "${BENCH_NO_RESULTS:-0}" = 1 ]; then
  $PY bench/encoder_report.py "$RES" --command "$how"
else
  $PY bench/encoder_report.py "$RES" --command "$how" --results bench/RESULTS.md
fi
