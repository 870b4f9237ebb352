/*
** common.h — what every lexical bench driver (blend, Xapian, SQLite FTS5)
** shares, so the engines do exactly the same work around their own calls:
** BEIR JSONL reading (cJSON), test queries + qrels, the timed query passes,
** nDCG@10, peak RSS, on-disk size and the JSON result lines report.py reads.
** Plain C so the C++ Xapian driver can include it too.
*/
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_K 10          /* top-k of every query */
#define BENCH_ID_MAX 64     /* external doc ids are copied into fixed slots */
#define BENCH_MAX_PASSES 256 /* timed query passes at most */

/* ------------------------------------------------------------ corpus */

/* One corpus.jsonl record; pointers are valid only during the callback.
** A missing "title" gives title_len 0 (title ""). */
typedef struct bench_doc {
  const char *id;
  size_t id_len;
  const char *title;
  size_t title_len;
  const char *text;
  size_t text_len;
} bench_doc;

/* Return 0 to continue, non-zero to stop (that value is returned). */
typedef int (*bench_doc_fn)(void *ctx, const bench_doc *d);

/* Stream corpus.jsonl line by line (getline + cJSON). Returns 0, the
** callback's non-zero value, or -1 after printing an error naming the
** file and line. *ndocs (may be NULL) receives the records seen. */
int bench_corpus_foreach(const char *path, bench_doc_fn fn, void *ctx,
                         uint64_t *ndocs);

/* ------------------------------------------------- queries and qrels */

typedef struct bench_judgement {
  char *docid;
  int rel;
} bench_judgement;

typedef struct bench_query {
  char *id;
  char *text;
  bench_judgement *judged;  /* qrels/test.tsv rows of this query */
  size_t njudged;
} bench_query;

/* The test queries: every query id in qrels/test.tsv, in the order of
** queries.jsonl, with its judgements. */
typedef struct bench_queries {
  bench_query *q;
  size_t n;
} bench_queries;

int bench_queries_load(const char *dataset_dir, bench_queries *out);
void bench_queries_free(bench_queries *qs);

/* ------------------------------------------------------------ search */

/* One query's top-k, filled by an engine: external ids, best first. */
typedef struct bench_hits {
  uint32_t count;
  char id[BENCH_K][BENCH_ID_MAX];
  double score[BENCH_K];
} bench_hits;

/* Copy an id into a hit slot (truncating beyond BENCH_ID_MAX-1 bytes). */
void bench_hits_put(bench_hits *h, const char *id, size_t len, double score);

/* Run one query; fill *out (count = 0 first). Return 0, or non-zero for a
** query the engine rejected (counted as an error, zero hits). */
typedef int (*bench_search_fn)(void *ctx, const char *query, bench_hits *out);

typedef struct bench_query_report {
  size_t queries;
  int passes;               /* timed passes run (after one warm-up pass) */
  double pass_seconds[BENCH_MAX_PASSES];
  double qps_median, qps_min, qps_max;
  double qps_cpu_median;    /* queries / median CPU seconds of a pass */
  double ndcg10;            /* mean over the test queries, last pass */
  size_t errors;            /* queries the engine rejected */
  size_t empty;             /* queries with zero hits */
} bench_query_report;

/* One warm-up pass then at least `passes` timed passes over every test
** query (more, up to BENCH_MAX_PASSES, until they add up to BENCH_MIN_SECONDS, default 2),
** all in this thread; hits of the last pass are scored (nDCG@10) and, when
** run_path is non-NULL, written as a TREC run tagged `tag`. */
int bench_run_queries(const bench_queries *qs, int passes, bench_search_fn fn,
                      void *ctx, const char *run_path, const char *tag,
                      bench_query_report *out);

/* nDCG@10 with trec_eval semantics: hits re-ranked as trec_eval ranks a run
** (score descending, ties by docid descending), gain = relevance grade, log2
** discount, ideal ranking from the judgements, a query without hits scores 0.
** Equals `blend eval` / trec_eval ndcg_cut_10 on the written run file. */
double bench_ndcg10(const bench_query *q, const bench_hits *h);

/* -------------------------------------------------------------- misc */

double bench_now(void);               /* monotonic seconds */
/* User + system CPU seconds of this process: less sensitive than wall time
** to other jobs on a shared machine (reported next to it). */
double bench_cpu_seconds(void);
long bench_peak_rss_kb(void);         /* getrusage ru_maxrss */
uint64_t bench_file_bytes(const char *path);   /* 0 if missing */
/* Apparent size of a file or of every file under a directory (du -sb). */
uint64_t bench_path_bytes(const char *path);
/* Last path component of a dataset dir ("scifact"). */
const char *bench_basename(const char *path);
/* Remove a file or a directory tree (for a fresh index). */
int bench_rm_rf(const char *path);

/* Time a parse-only pass over corpus.jsonl (cJSON, no engine): shows how
** much of each engine's indexing time is shared JSON reading, and puts the
** file in the page cache so every engine starts warm. */
double bench_parse_only_seconds(const char *corpus_path);

/* Print the JSON result lines report.py aggregates (one line to stdout). */
void bench_print_index(const char *engine, const char *version,
                       const char *dataset, uint64_t docs,
                       uint64_t corpus_bytes, double parse_s, double seconds,
                       double cpu_seconds, uint64_t index_bytes,
                       const char *notes);
void bench_print_query(const char *engine, const char *version,
                       const char *dataset, const bench_query_report *r,
                       const char *notes);

/* The Lucene/Anserini English stopword list blend uses (33 words), NULL
** terminated, for giving Xapian the same stopper. */
extern const char *const bench_lucene_stopwords[];

#ifdef __cplusplus
}
#endif
#endif /* BENCH_COMMON_H */
