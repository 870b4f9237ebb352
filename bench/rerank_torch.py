#!/usr/bin/python3
"""PyTorch float32 peer for blend's rerank stage (bench/hybrid.sh): scores the
same (query, document) pairs that bench_hybrid's rerank mode wrote, one batch
per query (the rerank depth), with ../shared/tools/reference_bert.py's BERT
in float32 with torch's fused ops. Tokenisation (pair encoding, longest-first
truncation to max_length) is done up front and NOT timed — blend's figure
includes its tokenisation, so the comparison favours PyTorch.
Usage: rerank_torch.py MODEL_DIR PAIRS.tsv THREADS [PASSES] [MAX_LENGTH]
Prints one JSON line."""
import json, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools"))
shared_tools = os.environ.get("BLEND_SHARED_TOOLS")
if shared_tools:
    sys.path.insert(0, shared_tools)
import reference_bert  # noqa: E402
import torch  # noqa: E402

model, pairs_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
passes = int(sys.argv[4]) if len(sys.argv) > 4 else 3
max_length = int(sys.argv[5]) if len(sys.argv) > 5 else 256
torch.set_num_threads(threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
ref = reference_bert.BertReference(model, "f32", fused=True)
groups, order = {}, []
for line in open(pairs_path, encoding="utf-8"):
    qid, q, d = line.rstrip("\n").split("\t", 2)
    if qid not in groups:
        groups[qid] = []
        order.append(qid)
    groups[qid].append(ref.tokenizer.encode_pair(q, d, max_length))
batches = [groups[q] for q in order]
npairs = sum(len(b) for b in batches)
rates = []
with torch.inference_mode():
    for b in batches[:2]:  # warm-up
        ref.score_ids([e[0] for e in b], [e[1] for e in b])
    for _ in range(passes):
        t0 = time.perf_counter()
        for b in batches:
            ref.score_ids([e[0] for e in b], [e[1] for e in b])
        rates.append(npairs / (time.perf_counter() - t0))
rates.sort()
print(json.dumps({"bench": "rerank", "engine": "pytorch-f32", "torch": torch.__version__,
                  "threads": threads, "depth": len(batches[0]) if batches else 0,
                  "queries": len(batches), "pairs": npairs, "max_length": max_length,
                  "pairs_per_s": round(rates[len(rates) // 2], 1), "min": round(rates[0], 1),
                  "max": round(rates[-1], 1)}))
