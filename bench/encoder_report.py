#!/usr/bin/env python3
"""encoder_report.py — turn bench/encoder.sh's JSON lines into the Markdown
encoder section of bench/RESULTS.md (between <!-- encoder:begin --> and
<!-- encoder:end -->; appended if absent, the rest of the file is kept).

usage: encoder_report.py RESULTS.jsonl [--command CMD] [--results bench/RESULTS.md]
Prints the section; with --results also rewrites it in that file.
"""
import argparse
import json
import os
import statistics
import sys

BEGIN, END = "<!-- encoder:begin -->", "<!-- encoder:end -->"
NAMES = {"blend-f32": "blend f32", "blend-int8": "blend int8", "blend-bf16": "blend bf16",
         "torch": "PyTorch f32", "torch-int8": "PyTorch int8 (dynamic)",
         "ort-f32": "ONNX Runtime f32", "ort-int8": "ONNX Runtime int8 (dynamic)"}
ORDER = ("blend-f32", "blend-bf16", "blend-int8", "torch", "torch-int8", "ort-f32", "ort-int8")
GOALS = {"blend-f32": 2.0, "blend-int8": 4.0}  # × PyTorch f32 sentences/s (issue 7)
# issue 10, on a CPU without AMX: int8 >= 1.3x ONNX Runtime int8; f32 and bf16 reported vs ORT f32
ORT_PEER = {"blend-f32": "ort-f32", "blend-bf16": "ort-f32", "blend-int8": "ort-int8"}
ORT_GOALS = {"blend-int8": 1.3}
UNIT = {"blend-int8": "int8", "torch-int8": "int8", "ort-int8": "int8", "blend-bf16": "bf16+f32"}


def med(v):
    return statistics.median(v) if v else None


def fmt(x, nd=1):
    return "–" if x is None else f"{x:,.{nd}f}"


def model_shape(path):
    try:
        c = json.load(open(os.path.join(path, "config.json"), encoding="utf-8"))
        return c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["num_attention_heads"]
    except (OSError, KeyError, ValueError):
        return 384, 6, 1536, 12


def flops_per_sentence(T, H, L, I):
    """Useful FLOPs of one text of T tokens: every linear layer 2·M·N·K
    (Q, K, V, attention output, FFN in and out) plus attention QKᵀ and PV
    (2·T·T·H each), per layer. Embeddings, LayerNorm, GELU, softmax and
    pooling are left out (under 1%)."""
    return L * (2.0 * T * H * (4 * H + 2 * I) + 4.0 * T * T * H)


def ffn_flops_per_sentence(T, H, L, I):
    """The part of flops_per_sentence in the two feed-forward layers (what
    blend's bf16 mode runs in bf16; the attention block stays f32)."""
    return L * 4.0 * T * H * I


def build(lines, command):
    meta = next((d for d in lines if d.get("phase") == "meta"), {})
    end = next((d for d in lines if d.get("phase") == "meta_end"), {})
    peak = next((d for d in lines if d.get("phase") == "peak"), {})
    fids = {d.get("precision", "int8"): d for d in lines if d.get("phase") == "fidelity"}
    fid = fids.get("int8")
    reranks = [d for d in lines if d.get("phase") == "rerank"]
    reranks_ort = [d for d in lines if d.get("phase") == "rerank_ort"]
    extra = {d["data"]["threads"]: d["data"] for d in lines if d.get("phase") == "torch_extra"}
    passes = [d for d in lines if d.get("phase") == "pass"]
    pf, pv = peak.get("f32_gflops_core") or 0, peak.get("int8_gops_core") or 0
    pb = peak.get("bf16_gflops_core") or 0
    peaks = {"f32": pf, "int8": pv, "bf16": pb}

    agg = {}  # (engine, threads) -> lists
    for p in passes:
        a = agg.setdefault((p["engine"], p["threads"]), {"rate": [], "cpu": [], "lat": [], "load": [],
                                                          "rss": [], "tok": [], "loadavg": []})
        d = p["data"]
        a["rate"].append(d["sentences_per_s_median"])
        if "sentences_per_cpu_s_median" in d:
            a["cpu"].append(d["sentences_per_cpu_s_median"])
        if "single_text_ms_median" in d:
            a["lat"].append(d["single_text_ms_median"])
        if "load_s" in d:
            a["load"].append(d["load_s"])
        if "peak_rss_mb" in d:
            a["rss"].append(d["peak_rss_mb"])
        t = d.get("mean_tokens", d.get("mean_tokens_per_sentence"))
        if t:
            a["tok"].append(t)
        a["loadavg"].append(float(p["load"].split()[0]))
    model = next((p["data"].get("model") for p in passes if p["engine"].startswith("blend")), None)
    H, L, I, A = model_shape(model) if model else (384, 6, 1536, 12)
    toks = [t for a in agg.values() for t in a["tok"]]
    T = med(toks) or 128.0
    F = flops_per_sentence(T, H, L, I)
    Ff = ffn_flops_per_sentence(T, H, L, I)
    if pb and pf:  # bf16 mode's peak: its FFN FLOPs at the bf16 rate, the rest at the f32 rate
        peaks["bf16+f32"] = F / (Ff / pb + (F - Ff) / pf)
    for (e, t), a in agg.items():
        if e == "torch" and t in extra:
            a["cpu"] = [extra[t]["sentences_per_cpu_s_one_pass"]]
            a["lat"] = [extra[t]["single_text_ms_median"]]
            a["load"] = [extra[t]["load_s"]]

    threads = sorted({t for _, t in agg})
    engines = [e for e in ORDER if any(k[0] == e for k in agg)]
    lavg = [x for a in agg.values() for x in a["loadavg"]]
    amx_on = "amx-int8" in (peak.get("doctor") or "")
    o = []
    o.append("## Encoder: blend's BERT encoder vs PyTorch and ONNX Runtime (MiniLM-L6 shape, batch 32, max_length 128)")
    o.append("")
    o.append(f"- Date: {meta.get('date', '?')}; blend {meta.get('blend_rev', '?')}; {meta.get('cc', '')}")
    o.append(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores (shared with other jobs), "
             f"{meta.get('kernel', '')}; load average (1/5/15 min) {meta.get('load', '?')} at start, "
             f"{end.get('load', '?')} at end; measured peak per core: f32 FMA {fmt(pf)} GFLOP/s, "
             + (f"int8 AMX tdpbusd {fmt(pv)} GOP/s, bf16 AMX tdpbf16ps {fmt(pb)} GFLOP/s (`bench_gemm`); "
                "AMX tiles run the int8 and bf16 linear layers" if amx_on else
                f"int8 vpdpbusd {fmt(pv)} GOP/s, bf16 vdpbf16ps {fmt(pb)} GFLOP/s (`bench_gemm`); "
                + ("AMX listed but not usable (no tile permission)" if peak.get("amx") else "no AMX")))
    if peak.get("doctor"):
        o.append(f"- Kernels chosen at load (`blend doctor`): {peak['doctor'].replace(';', '; ').strip('; ')}")
    tv = next(iter(extra.values()), {})
    if tv:
        blas = ", ".join(sorted({"/".join(b.split("/")[-2:]) for b in tv.get("blas", [])
                                 if "blas" in os.path.basename(b)})) or "?"
        o.append(f"- PyTorch {tv.get('torch', '?')} (`reference_bert.py bench`, eager HF-style ops), BLAS "
                 f"loaded: {blas}; run with `OPENBLAS_NUM_THREADS=N` so its N-thread figure uses N cores "
                 "(OpenBLAS otherwise starts one thread per core whatever `torch.set_num_threads` says), "
                 "and with OpenBLAS's OpenMP build when installed (the pthread build's threads compete "
                 "with torch's OpenMP pool at 2 threads)")
    o.append(f"- Model: random weights, hidden {H}, {L} layers, {A} heads, intermediate {I}, vocab of "
             f"all-MiniLM-L6-v2: `{meta.get('model_cmd', '?')}`")
    o.append(f"- Texts: SciFact `title + \" \" + text`, {32 * meta.get('batches', 8)} per timed pass "
             f"({meta.get('batches', 8)} batches of 32, after {meta.get('warmup', '?')} untimed warm-up "
             f"batches), {T:.1f} tokens per text on average; timed: forward + mean pooling + L2 "
             "normalisation on pre-tokenized texts")
    o.append(f"- Passes: {meta.get('rounds', '?')} rounds per thread count; each round runs every engine "
             "once (one timed pass each, order rotated per round), so the engines share the machine's "
             "noise; figures are medians over the rounds"
             + (f"; 1-min load average at the passes {min(lavg):.2f}–{max(lavg):.2f}" if lavg else ""))
    if lavg and max(lavg) > 1.5 * float(meta.get("cores", 2) or 2):
        o.append(f"- **Overloaded machine**: the 1-min load average reached {max(lavg):.1f} on "
                 f"{meta.get('cores', '?')} cores during the passes (other sessions' builds and benchmarks), "
                 "so wall-clock rates and the 2-thread figures mostly measure how much CPU each process "
                 "got; read the per-CPU-second columns (and CPU-s ratios) as the engines' speed, and do "
                 "not read the wall-clock goal checks below as results. Thread scaling could not be "
                 "measured in this run.")
    o.append(f"- Command: `{command}`; per engine: `{meta.get('blend_cmd', '?')}`, "
             f"`{meta.get('torch_cmd', '?')}`, `{meta.get('torch8_cmd', '?')}` and "
             f"`{meta.get('ort_cmd', '?')}` (ONNX Runtime {next((a.get('ort') for p in passes for a in [p['data']] if a.get('ort')), '?')}, "
             "onnxruntime-node, graph optimisation 'all', intraOpNumThreads = threads, fed the token ids "
             "`reference_bert.py bench` times, padded per batch; int8 = `ort_export.py quantize`, "
             "quantize_dynamic's defaults)")
    o.append("")
    o.append("| threads | engine | sentences/s median (min–max) | × PyTorch f32 | × ONNX Runtime | "
             "sentences per CPU-s | × PyTorch (CPU-s) | × ONNX Runtime (CPU-s) | useful GFLOP/s | "
             "% of peak (unit) | % of peak per CPU-s |")
    o.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    oratios = {}
    ratios = {}
    torch_pk = {}  # threads -> PyTorch f32's fraction of the f32 peak
    for t in threads:
        tr = agg.get(("torch", t))
        tr_rate, tr_cpu = (med(tr["rate"]), med(tr["cpu"])) if tr else (None, None)
        for e in engines:
            a = agg.get((e, t))
            if not a:
                continue
            r, c = med(a["rate"]), med(a["cpu"])
            x = r / tr_rate if tr_rate and e != "torch" else None
            xc = c / tr_cpu if tr_cpu and c and e != "torch" else None
            if x:
                ratios[(e, t)] = (x, xc)
            orr = agg.get((ORT_PEER.get(e, ""), t))
            ox = r / med(orr["rate"]) if orr else None
            oxc = c / med(orr["cpu"]) if orr and c and orr["cpu"] else None
            if ox:
                oratios[(e, t)] = (ox, oxc)
            gf = r * F / 1e9
            unit = UNIT.get(e, "f32")
            pu = peaks.get(unit) or 0
            pk = f"{100 * gf / (pu * t):.1f}% {unit}" if pu else "–"
            if e == "torch" and pu:
                torch_pk[t] = gf / (pu * t)
            pkc = f"{100 * c * F / 1e9 / pu:.1f}% {unit}" if pu and c else "–"
            o.append(f"| {t} | {NAMES[e]} | {fmt(r)} ({fmt(min(a['rate']))}–{fmt(max(a['rate']))}) | "
                     f"{'%.2f×' % x if x else '–'} | {'%.2f×' % ox if ox else '–'} | {fmt(c)} | "
                     f"{'%.2f×' % xc if xc else '–'} | {'%.2f×' % oxc if oxc else '–'} | "
                     f"{fmt(gf)} | {pk} | {pkc} |")
    o.append("")
    o.append(f"Useful FLOPs per text at {T:.1f} tokens: {F / 1e9:.2f} GFLOP (every linear layer 2·M·N·K, "
             "plus attention QKᵀ and PV, 2·T²·H each per layer; no padding counted). % of peak = useful "
             "GFLOP/s over threads × the per-core peak; per CPU-s = the same work per second of process CPU "
             "time over one core's peak (less sensitive to other jobs on a shared machine). The unit is "
             "the one the engine's linear layers run on: int8 rows against the int8 unit (vpdpbusd, or AMX tdpbusd where tiles run), the rest "
             "against f32 FMA (all FLOPs counted on that unit); blend bf16 runs its feed-forward layers "
             f"({100 * Ff / F:.0f}% of the FLOPs) on vdpbf16ps and the attention block on f32 FMA, so its "
             "peak is that mix: the time both units at their peaks would take. × ONNX "
             "Runtime compares f32 and bf16 with ONNX Runtime f32, int8 with ONNX Runtime int8. "
             "PyTorch f32's CPU-s figure is from one extra pass in the same process as its latency; "
             "the other engines' from every pass.")
    o.append("")
    if 1 in threads and 2 in threads:
        sc = []
        for e in engines:
            a1, a2 = agg.get((e, 1)), agg.get((e, 2))
            if a1 and a2:
                sc.append(f"{NAMES[e]} {med(a2['rate']) / med(a1['rate']):.2f}×")
        o.append("Thread scaling, 2 threads over 1 (sentences/s medians): " + ", ".join(sc) + ".")
        o.append("")
    pfid = [d for d in lines if d.get("phase") == "peer_fidelity"]
    if pfid:
        n = pfid[0]["vs_torch_f32"]["texts"]
        o.append(f"Fidelity beside ONNX Runtime: cosine to PyTorch f32 on the {n} texts ONNX Runtime is "
                 "timed on (`ort_bench.js --fidelity`; blend via `blend embed --format f32` and "
                 "`ort_export.py compare`):")
        o.append("")
        o.append("| engine | min cosine | mean cosine | max abs diff |")
        o.append("|---|---:|---:|---:|")
        for d in pfid:
            v = d["vs_torch_f32"]
            o.append(f"| {NAMES.get(d['engine'], d['engine'])} | {v['min_cosine']:.5f} | "
                     f"{v['mean_cosine']:.5f} | {v['max_abs_diff']:.2g} |")
        o.append("")
    qt = tv.get("query_tokens", "~12")
    o.append(f"| engine | threads | single text ms (median of 51; {qt}-token query, tokenization included) | "
             "model load s | peak RSS MB |")
    o.append("|---|---:|---:|---:|---:|")
    for t in threads:
        for e in engines:
            a = agg.get((e, t))
            if not a:
                continue
            o.append(f"| {NAMES[e]} | {t} | {fmt(med(a['lat']), 2)} | {fmt(med(a['load']), 3)} | "
                     f"{fmt(max(a['rss']) if a['rss'] else None)} |")
    o.append("")
    o.append("Load is `blend_model_open` (mmap of model.safetensors, then packing the f32 weights or "
             "quantising them to int8) and PyTorch's `BertReference` construction (reads the tensors). "
             "Peak RSS is the whole process (blend: model + 256 tokenized texts + scratch; PyTorch: "
             "interpreter, torch and the model, from `/usr/bin/time`).")
    o.append("")
    for pr, fd in sorted(fids.items()):
        o.append(f"{pr} fidelity (`{meta.get('fid_cmd', 'encoder_fidelity')}`): cosine between blend's {pr} "
                 f"and f32 embeddings of {fd['texts']:,} real SciFact texts ({fd['docs']} documents, "
                 f"{fd['queries']} queries): min {fd['cos_min']:.5f}, p1 {fd['cos_p1']:.5f}, median "
                 f"{fd['cos_p50']:.5f}, mean {fd['cos_mean']:.5f} (documents min {fd['docs_cos_min']:.5f}, "
                 f"queries min {fd['queries_cos_min']:.5f}).")
        o.append("")
    t8 = [p["data"] for p in passes if p["engine"] == "torch-int8" and "cos_to_f32_min" in p["data"]]
    if t8:
        o.append(f"PyTorch dynamic int8 vs its own f32 module on the {t8[0]['sentences']} timed texts: min "
                 f"cosine {min(d['cos_to_f32_min'] for d in t8):.4f}, median {t8[0]['cos_to_f32_median']:.4f}.")
        o.append("")
    if reranks:
        o.append(f"Cross-encoder rerank: 20 (query, document) pairs, first SciFact query × first 20 documents, "
                 f"max_length 256 ({reranks[0]['data']['mean_tokens']:.0f} tokens per pair on average), random "
                 f"cross-encoder of the same shape (`{meta.get('cross_cmd', '?')}`); median of 21 calls. "
                 f"Command: `{meta.get('rerank_cmd', '?')}`. ONNX Runtime runs the bi-encoder export on the "
                 "same token ids (the same BERT body and shapes; only the tiny pooling head differs, "
                 "<0.1% of the work) and gets them pre-tokenized, so compare it with blend's forward-only "
                 "column.")
        o.append("")
        o.append("| threads | engine | rerank ms (tokenization included) | forward only ms | × ONNX Runtime (forward) |")
        o.append("|---:|---|---:|---:|---:|")
        ortl = {}
        for d in reranks_ort:
            r0 = d["data"]["results"][0]
            ortl[(d["engine"], d["threads"])] = 1000.0 * d["data"]["sentences"] / r0["sentences_per_s_median"]
        for t in threads:
            for d in [x["data"] for x in reranks if x["data"]["threads"] == t]:
                peer = ortl.get(("ort-int8" if d["precision"] == "int8" else "ort-f32", t))
                xo = f"{peer / d['forward_ms_median']:.2f}× (vs {'int8' if d['precision'] == 'int8' else 'f32'})" if peer else "–"
                o.append(f"| {t} | blend {d['precision']} | {d['rerank_ms_median']:.1f} | "
                         f"{d['forward_ms_median']:.1f} | {xo} |")
            for e in ("ort-f32", "ort-int8"):
                if (e, t) in ortl:
                    o.append(f"| {t} | {NAMES[e]} | – | {ortl[(e, t)]:.1f} | – |")
        o.append("")
    o.append("Goal checks:")
    o.append("")
    for e, g in GOALS.items():
        for t in threads:
            if (e, t) in ratios:
                x, xc = ratios[(e, t)]
                cpu = f"; per CPU-second {xc:.2f}×" if xc else ""
                why = ""
                if x < g and e == "blend-f32" and torch_pk.get(t, 0) * g > 1:
                    why = (f" (out of reach on this CPU: PyTorch f32 already runs at {100 * torch_pk[t]:.0f}% "
                           f"of the f32 FMA peak, so {g:.0f}× would need {100 * g * torch_pk[t]:.0f}%)")
                o.append(f"- {NAMES[e]} ≥ {g:.0f}× PyTorch f32 sentences/s at {t} thread{'s' if t > 1 else ''}: "
                         f"{x:.2f}× — {'met' if x >= g else 'NOT met'}{cpu}{why}")
    for e, g in ORT_GOALS.items():
        for t in threads:
            if (e, t) in oratios:
                x, xc = oratios[(e, t)]
                o.append(f"- {NAMES[e]} ≥ {g}× ONNX Runtime int8 sentences/s at {t} thread{'s' if t > 1 else ''} "
                         f"(the goal for a CPU without AMX): {x:.2f}× — {'met' if x >= g else 'NOT met'}"
                         + (f"; per CPU-second {xc:.2f}×" if xc else ""))
    amx_goals = {"blend-int8": (2.0, "int8"), "blend-bf16": (3.0, "f32"), "blend-f32": (1.3, "f32")}
    for e in ("blend-int8", "blend-f32", "blend-bf16") if amx_on else ("blend-f32", "blend-bf16"):
        g, peer = amx_goals[e]
        for t in threads:
            if (e, t) in oratios:
                x, xc = oratios[(e, t)]
                head = f"- {NAMES[e]} vs ONNX Runtime {peer} at {t} thread{'s' if t > 1 else ''}: {x:.2f}×"
                cpu = f" (per CPU-second {xc:.2f}×)" if xc else ""
                if amx_on:
                    o.append(f"{head}{cpu} — the AMX-machine goal {g}×: {'met' if x >= g else 'NOT met'}")
                else:
                    o.append(f"{head}{cpu} (the AMX-machine goal is {g}×)")
    if not amx_on:
        o.append("- AMX goals (int8 ≥ 2× ONNX Runtime int8, BF16 ≥ 3× and f32 ≥ 1.3× ONNX Runtime f32): "
                 + ("not testable here — this CPU lists AMX but Linux refused the tile permission"
                    if peak.get("amx") else "not testable here — this CPU has no AMX"))
    pf8 = {d["engine"]: d["vs_torch_f32"]["min_cosine"] for d in pfid}
    if "blend-int8" in pf8 and "ort-int8" in pf8:
        b8, o8 = pf8["blend-int8"], pf8["ort-int8"]
        o.append(f"- int8 fidelity at least ONNX Runtime int8's (min cosine to PyTorch f32, same texts): "
                 f"blend {b8:.4f}, ONNX Runtime {o8:.4f} — {'met' if b8 >= o8 else 'NOT met'}")
    if "bf16" in fids:
        fb = fids["bf16"]
        o.append(f"- bf16 vs f32 cosine ≥ 0.9999 ({fb['texts']:,} texts): median {fb['cos_p50']:.5f}, "
                 f"min {fb['cos_min']:.5f} — {'met on every text' if fb['cos_min'] >= 0.9999 else 'met at the median, NOT on every text' if fb['cos_p50'] >= 0.9999 else 'NOT met'}")
    if fid:
        o.append(f"- int8 vs f32 cosine ≥ 0.99 on every text ({fid['texts']:,} texts): min "
                 f"{fid['cos_min']:.4f} — {'met' if fid['cos_min'] >= 0.99 else 'NOT met'}")
    o.append("")
    if "seconds" in end:
        o.append(f"This section's run took {end['seconds']} s (`bench/encoder.sh`, model generation "
                 "included only when it was missing).")
        o.append("")
    return "\n".join(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--command", default="bench/encoder.sh")
    ap.add_argument("--results")
    a = ap.parse_args()
    lines = []
    for ln in open(a.jsonl, encoding="utf-8"):
        ln = ln.strip()
        if ln:
            lines.append(json.loads(ln))
    sec = build(lines, a.command)
    print(sec)
    if a.results:
        try:
            text = open(a.results, encoding="utf-8").read()
        except FileNotFoundError:
            text = "# blend benchmark results\n"
        block = f"{BEGIN}\n{sec}\n{END}"
        if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
            i, j = text.index(BEGIN), text.index(END) + len(END)
            text = text[:i] + block + text[j:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        tmp = a.results + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
