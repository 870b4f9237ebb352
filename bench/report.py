#!/usr/bin/env python3
"""report.py — turn the lexical bench's JSON lines into Markdown tables.

    report.py RESULTS.jsonl [--results bench/RESULTS.md] [--command "make bench"]

Reads the lines the drivers print (phase "index" / "query", one per run;
several index runs of an engine are summarised by their median wall time)
plus one "meta" line written by bench/run.sh, prints the Markdown section
and, with --results, replaces the text between <!-- lexical:begin --> and
<!-- lexical:end --> in that file (other sections are kept; the markers are
appended if missing).
"""
import argparse
import json
import statistics
import sys

BEGIN, END = "<!-- lexical:begin -->", "<!-- lexical:end -->"
BLENDS = ["blend", "blend-flat"]
ENGINE_ORDER = BLENDS + ["xapian", "xapian-stemall", "fts5", "fts5-stop"]
LABEL = {
    "blend": "blend",
    "blend-flat": "blend (flat only)",
    "xapian": "Xapian (STEM_SOME)",
    "xapian-stemall": "Xapian (STEM_ALL)",
    "fts5": "SQLite FTS5",
    "fts5-stop": "SQLite FTS5 (query stopwords dropped)",
}
GOAL_QPS, GOAL_INDEX = 3.0, 2.0

ANALYSIS_NOTES = """\
**Where the engines' analysis and scoring differ** (each engine is run the way
its documentation recommends, configured as close to blend as it allows):

| | blend | Xapian | SQLite FTS5 |
|---|---|---|---|
| tokenizer | UAX#29-style words, NFKC case fold, possessives | Xapian TermGenerator (Unicode word chars, lower-case) | `unicode61` (Unicode alnum runs, case fold, diacritics removed) |
| stemmer | Snowball `porter` (original Porter) | Snowball `english` (= Porter2) — a different, newer algorithm; `BENCH_XAPIAN_STEMMER=porter` switches it | `porter` tokenizer (original Porter) |
| stemming strategy | every term stemmed | STEM_SOME row: index stemmed **and** unstemmed terms, capitalised query words stay unstemmed (Xapian's default); STEM_ALL row: stemmed only, like blend | every term stemmed |
| stopwords | Lucene/Anserini English list (33 words) removed at index and query time | **given the same 33-word list** (SimpleStopper, STOP_ALL at index time, QueryParser stopper) for fairness — Xapian has none by default | FTS5 has no stopword support: `the`, `of`, `in` … are indexed. Row *SQLite FTS5*: they are also ORed into the query; row *(query stopwords dropped)*: same index, the 33 words left out of the query (the closest FTS5 gets to blend's work; its index columns are the FTS5 row's) |
| fields | `title` + `text`, searched flat (one BM25 over both). Row *blend*: the default config, which posts every token twice — to the flat `contents` field and to its own field (`field_views=1`, for multi-field BM25 and `field:` queries), more indexing work than the peers do. Row *blend (flat only)*: `field_views=0`, the one flat term space the peers build | title then text in one term space (position gap), one BM25 | columns `title`, `text` (+ `id UNINDEXED`); `bm25()` sums hits over columns with equal weights, document length = whole row: flat |
| BM25 | k1=0.9, b=0.4, idf = ln(1 + (N−n+0.5)/(n+0.5)) (Lucene) | `BM25Weight(k1=0.9, k2=0, k3=1, b=0.4, min_normlen=0)`: same k1, b; min_normlen=0 removes Xapian's length clamp; idf = ln((N−n+0.5)/(n+0.5)), with ratios < 2 mapped to ratio/2+1 (Xapian's positive-idf fix); document length counts unstemmed+stemmed terms under STEM_SOME | `bm25()` fixed k1=1.2, b=0.75 (not configurable); idf = ln((N−n+0.5)/(n+0.5)), floored at 1e-6 |
| query | raw query text through blend's parser (free words = OR) | QueryParser, default flags, default op OR (a query that fails to parse is re-parsed with no flags) | the query's runs of ASCII letters/digits and non-ASCII bytes, each quoted `"…"`, joined with OR; `ORDER BY bm25(t) LIMIT 10` |
| stored | fields title, text, id (zstd blocks) | document data = id+title+text, id also in value slot 0 | table content (id, title, text) |
| positions | yes | yes | yes (`detail=full`) |
| commit | blend_writer_commit (fsync + manifest switch) | one `commit()` (fsync), glass backend | one transaction (synchronous=FULL) + `'optimize'` (merge to one b-tree) inside the timed indexing |
"""

METHOD_NOTES = """\
**Method.** Every engine runs through a small driver built against the same
`bench/common.c`: corpus.jsonl is read line by line with getline + cJSON and
handed to the engine (that reading is inside the indexing time for all three;
a parse-only pass is run first, which also warms the page cache; its time is
quoted under each table as "shared JSON reading"). Indexing = open a fresh index, add every document,
commit to disk, close; wall seconds by CLOCK_MONOTONIC; MB/s = corpus.jsonl
bytes / index seconds; index MB = apparent size of the index directory/file
(`du -sb`); peak RSS = `getrusage` ru_maxrss of the indexing process / of the
query process (separate processes). Queries: every query id in
qrels/test.tsv with its text from queries.jsonl, top-10, one thread,
in-process: one warm-up pass, then at least `BENCH_PASSES` timed passes, more
(up to 256) until they cover 2 s so that fast engines are not judged on a few
milliseconds; QPS = queries / median pass time (min–max QPS over passes in
brackets). Each hit's external doc id is fetched inside the timed loop for
every engine. nDCG@10 is computed by the
driver from the last pass with trec_eval semantics (hits ranked by score,
ties by docid descending; graded gain, log2 discount; queries without hits
count 0; identical query/doc ids not removed) — it equals libblend's
`blend_evaluate` on the TREC run files written to `build/bench/runs/`.
Index figures are the median of the index runs. Drivers: `-O2 -march=native`; Xapian and SQLite are the Debian
packages (generic `-O2` builds). Machines are shared and noisy: the numbers are
medians, small differences are not significant — on this 2-core VM, full runs
of the same code hours apart moved the sub-second indexing times (blend,
FTS5) by up to ±25% in CPU time as well as wall time, so an indexing ratio
near 1× says "about even", not who is faster.
"""


def load(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or not line.startswith("{"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"report.py: {path}:{n}: {e}")
    return rows


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def summarise(rows):
    """(dataset, engine) -> dict of the figures the table shows."""
    out = {}
    for r in rows:
        if r.get("phase") not in ("index", "query"):
            continue
        key = (r["dataset"], r["engine"])
        d = out.setdefault(key, {"index": [], "query": [], "version": r.get("version", "")})
        d[r["phase"]].append(r)
    res = {}
    for key, d in out.items():
        s = {"version": d["version"]}
        if d["index"]:
            secs = statistics.median(r["seconds"] for r in d["index"])
            first = d["index"][0]
            s.update(
                docs=first["docs"],
                corpus_bytes=first["corpus_bytes"],
                index_s=secs,
                index_runs=len(d["index"]),
                index_cpu=statistics.median(r.get("cpu_seconds", 0) for r in d["index"]),
                parse_s=statistics.median(r["parse_only_s"] for r in d["index"]),
                docs_per_s=first["docs"] / secs if secs > 0 else None,
                mb_per_s=first["corpus_bytes"] / 1e6 / secs if secs > 0 else None,
                index_mb=statistics.median(r["index_bytes"] for r in d["index"]) / 1e6,
                ratio=statistics.median(r["index_bytes"] for r in d["index"]) / first["corpus_bytes"],
                rss_index_mb=max(r["peak_rss_kb"] for r in d["index"]) / 1024,
                index_notes=first.get("notes", ""),
            )
        if d["query"]:
            q = d["query"][-1]
            s.update(
                queries=q["queries"],
                passes=q["passes"],
                qps=q["qps_median"],
                qps_min=q["qps_min"],
                qps_max=q["qps_max"],
                qps_cpu=q.get("qps_cpu_median"),
                ndcg=q["ndcg10"],
                errors=q["errors"],
                empty=q["empty"],
                rss_query_mb=q["peak_rss_kb"] / 1024,
                query_notes=q.get("notes", ""),
            )
        res[key] = s
    return res


def times(x):
    return "—" if x is None else f"{fmt(x, 2)}×"


def ratio(a, b):
    return a / b if a and b else None


def render(rows, command):
    meta = next((r for r in rows if r.get("phase") == "meta"), {})
    res = summarise(rows)
    datasets = []
    for r in rows:
        if r.get("phase") in ("index", "query") and r["dataset"] not in datasets:
            datasets.append(r["dataset"])
    L = []
    L.append("## Lexical: blend vs Xapian vs SQLite FTS5 (BM25, top-10, single thread)")
    L.append("")
    if meta:
        L.append(f"- Date: {meta.get('date', '?')}")
        end = next((r for r in rows if r.get("phase") == "meta_end"), {})
        L.append(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores "
                 f"(shared with other jobs), {meta.get('kernel', '')}; load average "
                 f"(1/5/15 min) {meta.get('load', '?')} at start, {end.get('load', '?')} at end")
        L.append(f"- Compilers: {meta.get('cc', '?')}; {meta.get('cxx', '?')}")
        L.append(f"- blend: {meta.get('blend_rev', '?')}")
    versions = sorted({s['version'] for s in res.values() if s.get('version')})
    if versions:
        L.append(f"- Engines: {', '.join(versions)}")
    L.append(f"- Command: `{command}`")
    if meta.get("settings"):
        L.append(f"- Settings: {meta['settings']}")
    L.append("")
    for ds in datasets:
        engines = [e for e in ENGINE_ORDER if (ds, e) in res] + sorted(
            e for (d, e) in res if d == ds and e not in ENGINE_ORDER)
        any_s = next(iter(res[(ds, e)] for e in engines))
        docs = any_s.get("docs")
        cb = any_s.get("corpus_bytes")
        nq = next((res[(ds, e)].get("queries") for e in engines if res[(ds, e)].get("queries")), None)
        L.append(f"### {ds} ({docs if docs else '?'} docs, corpus.jsonl "
                 f"{cb / 1e6:.2f} MB, {nq if nq else '?'} test queries)" if cb else f"### {ds}")
        L.append("")
        L.append("| engine | index s | docs/s | MB/s | index MB | index/corpus | QPS (median) "
                 "| peak RSS MB (index / query) | nDCG@10 |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for e in engines:
            s = res[(ds, e)]
            qps = (f"{fmt(s['qps'])} ({fmt(s['qps_min'])}–{fmt(s['qps_max'])})"
                   if s.get("qps") else "—")
            rss = f"{fmt(s.get('rss_index_mb'))} / {fmt(s.get('rss_query_mb'))}"
            nd = fmt(s.get("ndcg"), 4)
            if s.get("errors"):
                nd += f" ({s['errors']} query errors)"
            L.append(f"| {LABEL.get(e, e)} | {fmt(s.get('index_s'), 3)} | {fmt(s.get('docs_per_s'), 0)} "
                     f"| {fmt(s.get('mb_per_s'), 2)} | {fmt(s.get('index_mb'), 2)} "
                     f"| {fmt(s.get('ratio'), 2)} | {qps} | {rss} | {nd} |")
        L.append("")
        L.append("CPU-time view (user+sys of the process; less sensitive to other jobs on a shared "
                 "machine): " + "; ".join(
                     (f"{LABEL.get(e, e)} index {fmt(res[(ds, e)].get('index_cpu'), 3)} CPU s, "
                      if res[(ds, e)].get("index_cpu") is not None else f"{LABEL.get(e, e)} ") +
                     f"{fmt(res[(ds, e)].get('qps_cpu'))} queries per CPU s" for e in engines) + ".")
        cli = [r for r in rows if r.get("phase") == "cli_index" and r.get("dataset") == ds]
        if cli:
            secs = statistics.median(r["seconds"] for r in cli)
            L.append("")
            L.append(f"blend CLI end to end (`blend index -q --input corpus.jsonl --index DIR`: process "
                     f"start, blend's own JSONL reader, commit; `/usr/bin/time`, median of {len(cli)}): "
                     f"{secs:.2f} s, {cli[0]['corpus_bytes'] / 1e6 / secs:.2f} MB/s, "
                     f"index {statistics.median(r['index_bytes'] for r in cli) / 1e6:.2f} MB, "
                     f"peak RSS {max(r['peak_rss_kb'] for r in cli) / 1024:.1f} MB.")
        checks = {r["engine"]: r["ndcg10"] for r in rows
                  if r.get("phase") == "eval_check" and r.get("dataset") == ds}
        if checks:
            bad = [e for e, v in checks.items()
                   if res.get((ds, e), {}).get("ndcg") is not None
                   and abs(v - res[(ds, e)]["ndcg"]) > 5e-5]
            L.append("")
            L.append("nDCG@10 cross-check with `blend eval --run build/bench/runs/<dataset>.<engine>.trec "
                     "--qrels qrels/test.tsv`: " +
                     ("agrees for " + ", ".join(LABEL.get(e, e) for e in checks) + "."
                      if not bad else "DIFFERS for " + ", ".join(
                          f"{LABEL.get(e, e)} ({checks[e]:.4f})" for e in bad) + "."))
        parse = [res[(ds, e)].get("parse_s") for e in engines if res[(ds, e)].get("parse_s") is not None]
        if parse:
            L.append("")
            L.append(f"Shared JSON reading (parse-only pass, inside every engine's index time): "
                     f"{statistics.median(parse):.3f} s.")
        peers = [e for e in engines if e not in BLENDS]
        blends = [e for e in engines if e in BLENDS and res[(ds, e)].get("mb_per_s")
                  and res[(ds, e)].get("qps")]
        L.append("")
        if not peers:
            L.append("No peer ran — ratios not available.")
        elif not blends:
            L.append("blend: no result (driver did not build or run) — ratios not available.")
        else:
            L.append("| ratio | indexing throughput (MB/s) | QPS |")
            L.append("|---|---:|---:|")
            for be in blends:
                b = res[(ds, be)]
                for p in peers:
                    s = res[(ds, p)]
                    ri, rq = ratio(b["mb_per_s"], s.get("mb_per_s")), ratio(b["qps"], s.get("qps"))
                    L.append(f"| {LABEL[be]} / {LABEL.get(p, p)} | {times(ri)} | {times(rq)} |")
            fast_i = max((res[(ds, p)].get("mb_per_s") or 0, p) for p in peers)
            fast_q = max((res[(ds, p)].get("qps") or 0, p) for p in peers)
            L.append("")
            for be in blends:
                b = res[(ds, be)]
                gi, gq = ratio(b["mb_per_s"], fast_i[0]), ratio(b["qps"], fast_q[0])
                # the same comparison in CPU time, which other jobs disturb less
                ci = ratio(min((res[(ds, p)].get("index_cpu") or 0) for p in peers if res[(ds, p)].get("index_cpu")) or None,
                           b.get("index_cpu")) if any(res[(ds, p)].get("index_cpu") for p in peers) else None
                cq = ratio(b.get("qps_cpu"), max(res[(ds, p)].get("qps_cpu") or 0 for p in peers))
                L.append(
                    f"Goal for {LABEL[be]} (≥{GOAL_INDEX:g}× the faster peer in indexing throughput, "
                    f"≥{GOAL_QPS:g}× in QPS): indexing {fmt(gi, 2)}× vs {LABEL.get(fast_i[1])} — "
                    f"{'met' if gi and gi >= GOAL_INDEX else 'NOT met'}; "
                    f"QPS {times(gq)} vs {LABEL.get(fast_q[1])} — "
                    f"{'met' if gq and gq >= GOAL_QPS else 'NOT met'}. "
                    f"In CPU time: indexing {times(ci)}, QPS {times(cq)} the best peer.")
        L.append("")
    L.append(ANALYSIS_NOTES)
    L.append(METHOD_NOTES)
    return "\n".join(L).rstrip() + "\n"


def rewrite(path, section):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# blend benchmark results\n\n"
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jsonl")
    ap.add_argument("--results", help="Markdown file whose lexical section is rewritten")
    ap.add_argument("--command", default="make bench")
    a = ap.parse_args()
    rows = load(a.jsonl)
    if not any(r.get("phase") in ("index", "query") for r in rows):
        sys.exit(f"report.py: {a.jsonl}: no result lines")
    section = render(rows, a.command)
    sys.stdout.write(section)
    if a.results:
        rewrite(a.results, section)


if __name__ == "__main__":
    main()
