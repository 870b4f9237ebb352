#!/usr/bin/env python3
"""encoder_torch_int8.py — PyTorch dynamic int8 as a peer of blend's int8
encoder: the BERT of ../shared/tools/reference_bert.py (same weights, same
tokenizer, same texts, same batches and padding as `reference_bert.py bench`)
rebuilt with torch.nn.Linear layers, then
torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
(int8 per-tensor weights, activations quantised per batch at run time; what
PyTorch users get for CPU int8). Times forward + mean pooling + L2
normalisation under inference_mode and prints one JSON line with the fields
bench/encoder_report.py reads (sentences/s median, per CPU-second, load,
cosine to the f32 module on the timed texts).

usage: encoder_torch_int8.py --model DIR [--data BEIR] [--batch 32] [--batches 8]
       [--max-length 128] [--warmup 2] [--repeat 1] [--threads N] [--tools ../shared/tools]
"""
import argparse
import json
import math
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="../shared/data/beir/scifact")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tools", default=os.environ.get("REF_TOOLS", "../shared/tools"))
    a = ap.parse_args()
    sys.path.insert(0, a.tools)
    import reference_bert as rb
    import torch
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    nn, F = torch.nn, torch.nn.functional
    t0 = time.perf_counter()
    ref = rb.BertReference(a.model, "f32", fused=True)
    w = ref.w

    def linear(name):
        W = w[name + ".weight"]
        m = nn.Linear(W.shape[1], W.shape[0])
        m.weight.data.copy_(W)
        m.bias.data.copy_(w[name + ".bias"])
        return m

    class Layer(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.q, self.k, self.v = (linear(p + "attention.self." + n) for n in ("query", "key", "value"))
            self.ao, self.i, self.o = (linear(p + n) for n in ("attention.output.dense",
                                                               "intermediate.dense", "output.dense"))
            self.p = p

        def forward(self, x, ext, B, T):
            def heads(t):
                return t.view(B, T, ref.A, ref.D).transpose(1, 2)
            s = torch.matmul(heads(self.q(x)), heads(self.k(x)).transpose(-1, -2)) / math.sqrt(ref.D) + ext
            ctx = torch.matmul(torch.softmax(s, dim=-1), heads(self.v(x))).transpose(1, 2).reshape(B, T, ref.H)
            ln = lambda y, n: F.layer_norm(y, (ref.H,), w[self.p + n + ".weight"], w[self.p + n + ".bias"], ref.eps)
            x = ln(self.ao(ctx) + x, "attention.output.LayerNorm")
            return ln(self.o(F.gelu(self.i(x))) + x, "output.LayerNorm")

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Layer("encoder.layer.%d." % n) for n in range(ref.L)])

        def forward(self, ids, am):
            B, T = ids.shape
            x = (F.embedding(ids, w["embeddings.word_embeddings.weight"])
                 + w["embeddings.position_embeddings.weight"][:T].unsqueeze(0)
                 + w["embeddings.token_type_embeddings.weight"][0])
            x = F.layer_norm(x, (ref.H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], ref.eps)
            m = am.to(x.dtype)
            ext = (1.0 - m)[:, None, None, :] * torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, ext, B, T)
            mm = m.unsqueeze(-1)
            return F.normalize((x * mm).sum(1) / mm.sum(1).clamp(min=1e-9), p=2.0, dim=1)

    f32 = Bert().eval()
    q8 = torch.ao.quantization.quantize_dynamic(f32, {nn.Linear}, dtype=torch.qint8)
    load_s = time.perf_counter() - t0
    n = a.batch * a.batches
    texts = rb._load_texts(a.data, "corpus", n)
    enc = [ref.tokenizer.encode(t, a.max_length) for t in texts]
    batches = []
    for i in range(0, n, a.batch):
        c = enc[i:i + a.batch]
        T = max(len(s) for s in c)
        batches.append((torch.tensor([s + [0] * (T - len(s)) for s in c]),
                        torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in c])))
    with torch.inference_mode():
        for ids, am in batches[:a.warmup]:
            q8(ids, am)
        rates, cpu = [], []
        for _ in range(a.repeat):
            s, c = time.perf_counter(), time.process_time()
            outs = [q8(ids, am) for ids, am in batches]
            rates.append(n / (time.perf_counter() - s))
            cpu.append(n / (time.process_time() - c))
        ref_out = [f32(ids, am) for ids, am in batches]
        cos = torch.cat([(x * y).sum(1) for x, y in zip(outs, ref_out)])
    rates.sort()
    cpu.sort()
    print(json.dumps({"engine": "torch-int8", "threads": a.threads, "sentences": n,
                      "mean_tokens": round(sum(len(s) for s in enc) / n, 2),
                      "sentences_per_s_median": round(rates[len(rates) // 2], 2),
                      "sentences_per_cpu_s_median": round(cpu[len(cpu) // 2], 2),
                      "load_s": round(load_s, 4), "torch": torch.__version__,
                      "cos_to_f32_min": round(float(cos.min()), 6),
                      "cos_to_f32_median": round(float(cos.median()), 6)}))


if __name__ == "__main__":
    main()
