/*
** bench_live.c — blend side of the live-index bench (live_common.h has the
** workload; bench/live.sh runs it against peer_fts5_live.c).
**
**   bench_live DATA_DIR INDEX_DIR
**
** One writer (APPEND, tiered merge policy on, as `blend index --append`
** runs it) adds SciFact + NFCorpus in batches of 1,000 documents, one
** durable commit each (segment + live-docs + directory fsync + manifest
** rename); then deletes 1% of the documents in one commit; then times
** blend_index_open of the unchanged index, blend_index_refresh with nothing
** new and after a one-document commit; then the test queries (flat BM25,
** top 10) with no writer, and while force_merge(1) rewrites every segment
** in the main thread (the query thread searches the snapshot it had, then
** refreshes between passes). Prints one JSON line.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "common.h"
#include "live_common.h"

static int die(const char *what, const blend_error *e) {
  fprintf(stderr, "bench_live: %s: %s\n", what, e->message);
  return 1;
}

static int add_doc(blend_writer *w, const live_doc *d, blend_error *err) {
  blend_field_value f[2] = {{"title", d->title, d->title_len}, {"text", d->text, d->text_len}};
  blend_doc doc = {.id = d->id, .id_len = d->id_len, .fields = f, .nfields = 2};
  return blend_writer_add(w, &doc, err);
}

typedef struct qthread {
  const char *dir;
  const live_corpus *c;
  atomic_int *phase;  /* 0 warm, 1 measuring, 2 stop */
  live_lat lat;       /* latencies of queries that ran while phase == 1 */
  uint64_t generations;
  int failed;
} qthread;

static void *query_loop(void *arg) {
  qthread *q = arg;
  blend_error err = {0};
  blend_index *ix;
  if (blend_index_open(q->dir, &ix, &err)) {
    q->failed = 1;
    return NULL;
  }
  blend_search_options o;
  blend_search_options_default(&o);
  uint64_t last_gen = 0;
  while (atomic_load(q->phase) < 2) {
    blend_searcher *s;
    if (blend_searcher_new(ix, &s, &err)) {
      q->failed = 1;
      break;
    }
    blend_index_stats st;
    blend_index_stats_get(ix, &st);
    if (st.generation != last_gen) q->generations++;
    last_gen = st.generation;
    for (size_t i = 0; i < q->c->nqueries && atomic_load(q->phase) < 2; i++) {
      int measuring = atomic_load(q->phase) == 1;
      double t0 = bench_now();
      blend_results r;
      if (blend_search(s, q->c->queries[i], &o, &r, &err)) continue; /* (rejected queries: none in BEIR) */
      double t1 = bench_now();
      if (measuring && atomic_load(q->phase) == 1) live_lat_add(&q->lat, t1 - t0);
    }
    blend_searcher_free(s);
    int changed;
    if (blend_index_refresh(&ix, &changed, &err)) {
      q->failed = 1;
      break;
    }
  }
  blend_index_close(ix);
  return NULL;
}

/* Latencies of every test query, `passes` times, on an idle index. */
static int idle_queries(const char *dir, const live_corpus *c, int passes, live_lat *lat) {
  blend_error err = {0};
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, &err) || blend_searcher_new(ix, &s, &err)) return die("open", &err);
  blend_search_options o;
  blend_search_options_default(&o);
  for (int p = 0; p <= passes; p++)
    for (size_t i = 0; i < c->nqueries; i++) {
      double t0 = bench_now();
      blend_results r;
      blend_search(s, c->queries[i], &o, &r, &err);
      if (p > 0) live_lat_add(lat, bench_now() - t0); /* pass 0 warms up */
    }
  blend_searcher_free(s);
  blend_index_close(ix);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: bench_live DATA_DIR INDEX_DIR\n");
    return 2;
  }
  const char *dir = argv[2];
  live_corpus c;
  if (live_load(argv[1], &c)) return 1;
  bench_rm_rf(dir);
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err)) return die("writer", &err);

  /* 1. batches of 1,000 documents, a commit each */
  size_t nb = (c.n + LIVE_BATCH - 1) / LIVE_BATCH;
  double *batch_s = calloc(nb, sizeof *batch_s), *commit_s = calloc(nb, sizeof *commit_s);
  double t_add = bench_now(), cpu_add = bench_cpu_seconds();
  for (size_t b = 0; b < nb; b++) {
    double t0 = bench_now();
    for (size_t i = b * LIVE_BATCH; i < c.n && i < (b + 1) * LIVE_BATCH; i++)
      if (add_doc(w, &c.docs[i], &err)) return die("add", &err);
    double t1 = bench_now();
    if (blend_writer_commit(w, &err)) return die("commit", &err);
    batch_s[b] = bench_now() - t0;
    commit_s[b] = bench_now() - t1;
  }
  double add_s = bench_now() - t_add, add_cpu = bench_cpu_seconds() - cpu_add;

  /* 2. delete 1% in one commit */
  double t0 = bench_now();
  for (size_t k = 0; k < c.ndel; k++) {
    const live_doc *d = &c.docs[c.del[k]];
    int found;
    if (blend_writer_delete(w, d->id, d->id_len, &found, &err) || !found) return die("delete", &err);
  }
  if (blend_writer_commit(w, &err)) return die("commit deletes", &err);
  double delete_s = bench_now() - t0;

  /* 3. reopen: open of the unchanged index, refresh with nothing new, and
     refresh after a one-document commit (shares every old segment) */
  double open_ms[21], refresh_ms[51], refresh_commit_ms[11], one_commit_ms[11];
  for (int i = 0; i < 21; i++) {
    double a = bench_now();
    blend_index *ix;
    if (blend_index_open(dir, &ix, &err)) return die("open", &err);
    open_ms[i] = (bench_now() - a) * 1e3;
    blend_index_close(ix);
  }
  blend_index *rix;
  if (blend_index_open(dir, &rix, &err)) return die("open", &err);
  for (int i = 0; i < 51; i++) {
    int changed;
    double a = bench_now();
    if (blend_index_refresh(&rix, &changed, &err)) return die("refresh", &err);
    refresh_ms[i] = (bench_now() - a) * 1e3;
  }
  blend_writer_set_merge(w, 0);
  for (int i = 0; i < 11; i++) {
    live_doc one = c.docs[c.del[i]]; /* re-add a deleted document */
    double a0 = bench_now();
    if (add_doc(w, &one, &err) || blend_writer_commit(w, &err)) return die("one-doc commit", &err);
    one_commit_ms[i] = (bench_now() - a0) * 1e3;
    int changed;
    double a = bench_now();
    if (blend_index_refresh(&rix, &changed, &err) || !changed) return die("refresh after commit", &err);
    refresh_commit_ms[i] = (bench_now() - a) * 1e3;
  }
  blend_index_close(rix);
  blend_index_stats st;
  {
    blend_index *ix;
    if (blend_index_open(dir, &ix, &err)) return die("open", &err);
    blend_index_stats_get(ix, &st);
    blend_index_close(ix);
  }
  uint32_t segs_before_merge = st.segments;

  /* 4. queries on an idle index */
  live_lat idle = {0};
  if (idle_queries(dir, &c, live_passes(), &idle)) return 1;

  /* 5. queries while force_merge(1) runs */
  atomic_int phase = 0;
  qthread q = {dir, &c, &phase, {0}, 0, 0};
  pthread_t th;
  pthread_create(&th, NULL, query_loop, &q);
  struct timespec warm = {0, 200 * 1000 * 1000};
  nanosleep(&warm, NULL);
  atomic_store(&phase, 1);
  t0 = bench_now();
  double merge_cpu0 = live_thread_cpu();
  if (blend_writer_force_merge(w, 1, &err)) return die("force merge", &err);
  double merge_cpu = live_thread_cpu() - merge_cpu0;
  double merge_s = bench_now() - t0;
  atomic_store(&phase, 2);
  pthread_join(th, NULL);
  blend_writer_close(w);
  if (q.failed) return die("query thread", &err);
  {
    blend_index *ix;
    if (blend_index_open(dir, &ix, &err)) return die("open", &err);
    blend_index_stats_get(ix, &st);
    blend_index_close(ix);
  }
  printf("{\"engine\":\"blend\",\"version\":\"%s\",\"docs\":%zu,\"corpus_bytes\":%llu,\"batches\":%zu,"
         "\"add_s\":%.4f,\"add_cpu_s\":%.4f,\"batch_median_s\":%.4f,\"batch_max_s\":%.4f,"
         "\"commit_median_s\":%.4f,\"deleted\":%zu,\"delete_s\":%.4f,\"segments_before_merge\":%u,"
         "\"one_doc_commit_ms\":%.3f,\"merge_s\":%.4f,\"merge_cpu_s\":%.4f,\"open_ms\":%.3f,\"refresh_unchanged_ms\":%.4f,\"refresh_after_commit_ms\":%.3f,"
         "\"q_idle_p50_us\":%.1f,\"q_idle_p99_us\":%.1f,\"q_merge_p50_us\":%.1f,\"q_merge_p99_us\":%.1f,"
         "\"q_merge_count\":%zu,\"final_docs\":%llu,\"final_segments\":%u,\"final_bytes\":%llu}\n",
         BLEND_VERSION, c.n, (unsigned long long)c.bytes, nb, add_s, add_cpu, live_median(batch_s, nb),
         live_percentile(batch_s, nb, 100), live_median(commit_s, nb), c.ndel, delete_s, segs_before_merge,
         live_median(one_commit_ms + 1, 10), merge_s, merge_cpu,
         live_median(open_ms + 1, 20), live_median(refresh_ms + 1, 50), live_median(refresh_commit_ms + 1, 10),
         live_percentile(idle.v, idle.n, 50) * 1e6, live_percentile(idle.v, idle.n, 99) * 1e6,
         live_percentile(q.lat.v, q.lat.n, 50) * 1e6, live_percentile(q.lat.v, q.lat.n, 99) * 1e6, q.lat.n,
         (unsigned long long)st.docs, st.segments, (unsigned long long)st.bytes_on_disk);
  return 0;
}
