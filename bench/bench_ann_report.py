#!/usr/bin/python3
"""bench_ann_report.py — turn bench/bench_ann.sh's JSON lines into the "Dense vectors (ANN)"
section of bench/RESULTS.md: QPS vs recall@10 per engine and ef (medians over rounds), QPS at
recall@10 >= 0.95 with the ratios the issue asks for, build time, memory per vector, and the exact
scan's GB/s against the machine's measured streaming-read bandwidth.
Usage: bench_ann_report.py LOG.jsonl --cmd "..." --commit SHA [--results bench/RESULTS.md]"""
import argparse, datetime, json, re, statistics, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument('log')
ap.add_argument('--cmd', default='bench/bench_ann.sh')
ap.add_argument('--commit', default='?')
ap.add_argument('--results')
a = ap.parse_args()

runs, loads = [], []
for line in open(a.log):
    line = line.strip()
    if not line:
        continue
    try:
        o = json.loads(line)
    except ValueError:
        continue
    loads.append(float(o.get('load', '0 0 0').split()[0]))
    runs.append(o['run'])

def med(xs):
    xs = [x for x in xs if x is not None and x >= 0]
    return statistics.median(xs) if xs else None

def name(r):
    if r.get('peer') == 'blend-exact':
        return 'blend-exact-%dt' % r.get('scan_threads', 1)
    return r.get('peer', '?')

by = {}
for r in runs:
    if 'error' in r:
        continue
    by.setdefault(name(r), []).append(r)

def zen(family, model):
    """AMD core generation from cpuid family/model (lscpu's model name is just "AMD EPYC" in VMs)."""
    if family == 23:
        return 'Zen 1' if model < 0x30 else 'Zen 2'
    if family == 25:
        return 'Zen 4' if model in range(0x10, 0x20) or model in range(0x60, 0x80) or model in range(0xa0, 0xb0) else 'Zen 3'
    return 'Zen 5' if family == 26 else None

def cpu_model():
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
    except OSError:
        return '?'
    m = re.search(r'Model name:\s*(.*)', out)
    name = m.group(1).strip() if m else '?'
    fam, mod = re.search(r'CPU family:\s*(\d+)', out), re.search(r'\nModel:\s*(\d+)', out)
    flags = re.search(r'Flags:\s*(.*)', out)
    simd = 'AVX-512' if flags and 'avx512f' in flags.group(1).split() else 'AVX2' if flags and 'avx2' in flags.group(1).split() else 'no AVX2'
    gen = zen(int(fam.group(1)), int(mod.group(1))) if fam and mod and 'AMD' in name else None
    return f"{name}{' ' + gen if gen else ''}, {simd}"

order = ['blend-int8', 'blend-f32', 'hnswlib', 'usearch-f16', 'usearch-f32', 'usearch-i8',
         'faiss-hnsw', 'faiss-hnsw-sq8']
engines = [e for e in order if e in by] + [e for e in by if e not in order and e.startswith(('blend-', 'hnsw', 'usearch', 'faiss')) and not e.startswith('blend-exact')]

def curve(e):
    pts = {}
    for r in by[e]:
        for c in r.get('curve', []):
            pts.setdefault(c['ef'], []).append(c)
    out = []
    for ef in sorted(pts):
        cs = pts[ef]
        rk = [k for k in cs[0] if k.startswith('recall_at_')][0]
        out.append({'ef': ef, 'recall': med([c[rk] for c in cs]), 'qps': med([c['qps'] for c in cs]),
                    'cpu_qps': med([c['cpu_qps'] for c in cs]), 'p50': med([c['p50_us'] for c in cs]),
                    'p99': med([c['p99_us'] for c in cs]), 'n': len(cs)})
    return out

curves = {e: curve(e) for e in engines}
L = []
L.append('## Dense vectors (ANN): blend vs hnswlib, usearch, FAISS (HNSW, top-10, one query per call, one thread)')
L.append('')
L.append('<!-- ann:begin -->')
L.append(f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit `{a.commit}`; CPU {cpu_model()} (2 cores shared with other jobs; load average '
         f'{min(loads):.1f}-{max(loads):.1f} during the runs). Command: `{a.cmd}`.')
n0 = next((r for r in runs if r.get('M')), next((r for r in runs if r.get('n')), {}))
L.append(f"Data: {n0.get('n', '?')} x {n0.get('dim', '?')} synthetic embedding-like vectors "
         f"(../shared/tools/peers/gen_ann_vectors.py: 1000-cluster Gaussian mixture in a 64-d latent space, "
         f"projected, anisotropic, noisy, L2-normalised), {n0.get('nq', '?')} fresh queries, exact ground truth; "
         f"metric inner product (= cosine). M={n0.get('M', '?')}, efConstruction={n0.get('efc', '?')}, "
         f"build threads {n0.get('build_threads', '?')} for every engine. QPS = queries / wall second of a pass, "
         f"median over passes and rounds; cpu_qps = queries / process CPU second (less sensitive to other jobs).")
L.append('Peers: hnswlib = Debian libhnswlib-dev 0.6.2 header compiled here with -O3 -march=native; usearch = npm '
         'package headers + NumKong SIMD (dynamic dispatch); FAISS = Debian libfaiss 1.7.3, a **generic (SSE) build**, '
         'so its rows understate FAISS. blend-int8 = HNSW traversal on int8 codes (per-dimension ranges, u8 x s8 '
         'VNNI dot) with float32 rescoring of the whole beam (rescore = ef), returned scores exact.')
L.append('')
L.append('### QPS vs recall@10')
L.append('')
efs = sorted({p['ef'] for e in engines for p in curves[e]})
L.append('| engine | ' + ' | '.join(f'ef={ef}' for ef in efs) + ' |')
L.append('|---|' + '---|' * len(efs))
for e in engines:
    cells = []
    for ef in efs:
        p = next((p for p in curves[e] if p['ef'] == ef), None)
        cells.append('%.4f / %.0f' % (p['recall'], p['qps']) if p else '')
    L.append(f'| {e} | ' + ' | '.join(cells) + ' |')
L.append('')
L.append('Cells: recall@10 / QPS.')
L.append('')

def at95(e):
    for p in curves[e]:
        if p['recall'] is not None and p['recall'] >= 0.95:
            return p
    return None

L.append('### At recall@10 >= 0.95 (smallest ef of the sweep that reaches it)')
L.append('')
ref_h, ref_u = at95('hnswlib') if 'hnswlib' in curves else None, at95('usearch-f16') if 'usearch-f16' in curves else None
L.append('| engine | ef | recall@10 | QPS | cpu_qps | p50 us | p99 us | x hnswlib (QPS / cpu_qps) | x usearch-f16 (QPS / cpu_qps) |')
L.append('|---|---|---|---|---|---|---|---|---|')
for e in engines:
    p = at95(e)
    if not p:
        L.append(f'| {e} | — | not reached | | | | | | |')
        continue
    xh = '%.2f / %.2f' % (p['qps'] / ref_h['qps'], p['cpu_qps'] / ref_h['cpu_qps']) if ref_h else ''
    xu = '%.2f / %.2f' % (p['qps'] / ref_u['qps'], p['cpu_qps'] / ref_u['cpu_qps']) if ref_u else ''
    L.append(f"| {e} | {p['ef']} | {p['recall']:.4f} | {p['qps']:.0f} | {p['cpu_qps']:.0f} | {p['p50']:.0f} | {p['p99']:.0f} | {xh} | {xu} |")
L.append('')
L.append('### Build time and memory')
L.append('')
L.append('| engine | build s (median) | build CPU s | bytes / vector | resident for search, bytes / vector |')
L.append('|---|---|---|---|---|')
for e in engines:
    rs = by[e]
    b = med([r.get('build_s') for r in rs])
    bc = med([r.get('build_cpu_s') for r in rs])
    if e.startswith('blend'):
        mem = med([r.get('bytes_per_vector') for r in rs])
        res = med([r.get('resident_bytes_per_vector') for r in rs])
        ms = '%.0f (store + graph payloads)' % mem
        rsd = '%.0f' % res
    else:
        mem = med([r.get('bytes_per_vector') for r in rs])
        ms = '%.0f (RSS growth during build)' % mem if mem else '?'
        rsd = 'same'
    L.append(f"| {e} | {b:.1f} | {bc:.1f} | {ms} | {rsd} |" if b is not None else f'| {e} | ? | ? | {ms} | {rsd} |')
f32 = by.get('blend-f32', [{}])[0]
i8 = by.get('blend-int8', [{}])[0]
if f32.get('resident_bytes_per_vector') and i8.get('resident_bytes_per_vector'):
    L.append('')
    L.append('blend int8 keeps the float32 rows in the store for rescoring (only ~ef rows per query are read, so '
             'they may stay paged out); what must be resident for int8 search is codes + ranges + norms + graph: '
             f"{i8['resident_bytes_per_vector']:.0f} B/vector = "
             f"{100 * i8['resident_bytes_per_vector'] / f32['resident_bytes_per_vector']:.1f}% of the f32 index's "
             f"{f32['resident_bytes_per_vector']:.0f} B/vector (rows + graph; graph {f32.get('graph_bytes_per_vector', 0):.0f} B/vector).")
    c8, c32 = curves.get('blend-int8', []), curves.get('blend-f32', [])
    diffs = []
    for p in c8:
        q = next((q for q in c32 if q['ef'] == p['ef']), None)
        if q:
            diffs.append('ef=%d: %+.4f' % (p['ef'], p['recall'] - q['recall']))
    if diffs:
        L.append('int8 + rescoring recall minus f32 recall at the same ef: ' + ', '.join(diffs) + '.')
L.append('')
L.append('### Exact scan vs memory bandwidth')
L.append('')
bw = by.get('bandwidth', [])
b1, b2 = med([r.get('read_gb_s_1t') for r in bw]), med([r.get('read_gb_s_2t') for r in bw])
L.append('| threads | streaming read GB/s (1 GiB buffer, wall) | blend exact scan GB/s (f32 rows, top-10, wall) | fraction | scan GB/s per CPU second |')
L.append('|---|---|---|---|---|')
for t, bwv in ((1, b1), (2, b2)):
    rs = by.get(f'blend-exact-{t}t', [])
    g = med([c.get('scan_gb_s') for r in rs for c in r.get('curve', [])])
    gc = med([c.get('scan_cpu_gb_s') for r in rs for c in r.get('curve', [])])
    if g and bwv:
        L.append(f'| {t} | {bwv:.1f} | {g:.1f} | {100 * g / bwv:.0f}% | {gc:.1f} (all threads\' CPU) |' if gc else f'| {t} | {bwv:.1f} | {g:.1f} | {100 * g / bwv:.0f}% | |')
L.append('')
L.append('<!-- ann:end -->')
text = '\n'.join(L) + '\n'
print(text)
if a.results:
    try:
        cur = open(a.results).read()
    except OSError:
        cur = ''
    m = re.search(r'## Dense vectors \(ANN\)[^\n]*\n\n<!-- ann:begin -->.*?<!-- ann:end -->\n', cur, re.S)
    cur = cur[:m.start()] + text + cur[m.end():] if m else cur.rstrip('\n') + '\n\n' + text
    open(a.results, 'w').write(cur)
