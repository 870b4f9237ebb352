#!/usr/bin/env python3
"""bench/live_report.py — Markdown tables of the live-index bench (bench/live.sh):
medians over rounds of the JSON lines bench_live / peer_fts5_live print, with
the min-max spread of the noisiest figures."""
import json, statistics, sys

res, cpu, ncpu, cmd, rev = sys.argv[1:6]
rows = [json.loads(l) for l in open(res) if l.strip()]
engines = []
for r in rows:
    if r["engine"] not in engines:
        engines.append(r["engine"])
by = {e: [r for r in rows if r["engine"] == e] for e in engines}
name = {"blend": "blend", "fts5": "SQLite FTS5"}


def med(e, k):
    v = [r[k] for r in by[e] if k in r]
    return statistics.median(v) if v else None


def spread(e, k):
    v = [r[k] for r in by[e] if k in r]
    return (min(v), max(v)) if v else (None, None)


def fmt(v, f):
    return "—" if v is None else f.format(v)


first = by[engines[0]][0]
docs, mb = first["docs"], first["corpus_bytes"] / 1e6
out = []
out.append("## Live index (incremental writes, deletes, merge, reopen)")
out.append("")
out.append(f"SciFact + NFCorpus ({docs:,} documents, {mb:.1f} MB of id+title+text) added in "
           f"{first['batches']} batches of 1,000 with a durable commit each, then "
           f"{first['deleted']} documents (1%) deleted in one commit, 10 one-document commits, "
           f"a merge to one segment while a second thread runs the test queries of both "
           f"datasets, and opens of the unchanged index. Medians of {len(by[engines[0]])} rounds, "
           f"engines alternating within rounds; CPU: {cpu} ({ncpu} cores, shared with other jobs: "
           f"wall times are noisy, CPU seconds less so). Index on the local disk (fsync is real). "
           f"Command: `{cmd}` (blend {rev}).")
out.append("")
hdr = "| | " + " | ".join(name.get(e, e) for e in engines) + " |"
out.append(hdr)
out.append("|---|" + "---:|" * len(engines))


def row(label, k, f, scale=1.0, sp=False):
    cells = []
    for e in engines:
        m = med(e, k)
        c = fmt(None if m is None else m * scale, f)
        if sp and m is not None and len(by[e]) > 1:
            lo, hi = spread(e, k)
            c += " (" + fmt(lo * scale, f) + "–" + fmt(hi * scale, f) + ")"
        cells.append(c)
    out.append(f"| {label} | " + " | ".join(cells) + " |")


for e in engines:
    for r in by[e]:
        r["add_docs_per_s"] = r["docs"] / r["add_s"]
        r["add_docs_per_cpu_s"] = r["docs"] / r["add_cpu_s"]
row("add 1,000-doc batches: docs/s (wall)", "add_docs_per_s", "{:,.0f}", sp=True)
row("add: docs per CPU second", "add_docs_per_cpu_s", "{:,.0f}")
row("batch (add + commit) median, ms", "batch_median_s", "{:.0f}", 1e3)
row("commit of a 1,000-doc batch, median ms", "commit_median_s", "{:.0f}", 1e3, sp=True)
row("one-document commit, median ms", "one_doc_commit_ms", "{:.1f}", sp=True)
row("delete 1% (88 ids) + commit, ms", "delete_s", "{:.0f}", 1e3, sp=True)
row("segments before the merge", "segments_before_merge", "{:.0f}")
row("merge to one segment, s (wall)", "merge_s", "{:.2f}", sp=True)
row("merge, CPU s of the merging thread", "merge_cpu_s", "{:.2f}", sp=True)
row("open the unchanged index, ms", "open_ms", "{:.2f}", sp=True)
row("refresh, nothing new, ms", "refresh_unchanged_ms", "{:.3f}")
row("refresh after a one-doc commit, ms", "refresh_after_commit_ms", "{:.2f}")
row("query p50 idle, µs", "q_idle_p50_us", "{:,.0f}", sp=True)
row("query p99 idle, µs", "q_idle_p99_us", "{:,.0f}")
row("query p50 during the merge, µs", "q_merge_p50_us", "{:,.0f}", sp=True)
row("query p99 during the merge, µs", "q_merge_p99_us", "{:,.0f}")
row("queries answered during the merge", "q_merge_count", "{:,.0f}")
row("final size on disk, MB", "final_bytes", "{:.1f}", 1e-6)
out.append("")
out.append("FTS5 setup: `fts5(id UNINDEXED, title, text, tokenize='porter unicode61')` with its default "
           "automerge, an `ids(id PRIMARY KEY, rid)` table to delete by external id, WAL journal with "
           "`synchronous=FULL` (each commit durable, readers concurrent with the writer); merge = "
           "`'optimize'`; open = `sqlite3_open_v2` + preparing the query. FTS5 has no refresh: a reader "
           "sees the newest commit at its next read transaction. blend: one writer in APPEND mode with "
           "the tiered merge policy on (as `blend index --append`), commit = segment + live-docs + "
           "directory fsync + manifest rename + directory fsync; merge = `blend_writer_force_merge(w, 1)`; "
           "queries: flat BM25 top 10 (FTS5: OR of the query's words, `ORDER BY bm25(t) LIMIT 10`).")
print("\n".join(out))
