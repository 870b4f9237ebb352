/*
** live_common.h — the live-index workload both drivers run (bench_live.c
** for blend, peer_fts5_live.c for SQLite FTS5), so they do the same work:
** SciFact + NFCorpus read into memory (ids prefixed "sf:" / "nf:"), added in
** batches of LIVE_BATCH documents with one durable commit each, then 1% of
** the documents deleted (a seeded choice) in one commit, a merge to one
** segment, reopen timings, and the test queries of both datasets timed
** with no writer and while a merge runs.
*/
#ifndef BENCH_LIVE_COMMON_H
#define BENCH_LIVE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_BATCH 1000

typedef struct live_doc {
  char *id, *title, *text;
  size_t id_len, title_len, text_len;
} live_doc;

typedef struct live_corpus {
  live_doc *docs;
  size_t n;
  uint64_t bytes;       /* id + title + text bytes */
  size_t *del;          /* indexes of the documents to delete (1%) */
  size_t ndel;
  char **queries;       /* test queries of both datasets */
  size_t nqueries;
} live_corpus;

/* Load DATA/scifact and DATA/nfcorpus (corpus.jsonl, test queries). */
int live_load(const char *data_dir, live_corpus *c);

/* Percentile p (0..100) of n values (sorts a copy). */
double live_percentile(const double *v, size_t n, double p);
double live_median(const double *v, size_t n);

/* Growable list of latencies (seconds). */
typedef struct live_lat {
  double *v;
  size_t n, cap;
} live_lat;
void live_lat_add(live_lat *l, double s);

/* CPU seconds of the calling thread (a merge, apart from the query thread
** running beside it). */
double live_thread_cpu(void);
/* Timed passes over the test queries on an idle index, after one warm-up
** pass: $BENCH_LIVE_PASSES, default 1. */
int live_passes(void);

#endif
