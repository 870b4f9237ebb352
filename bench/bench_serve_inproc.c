/*
** bench_serve_inproc.c — the in-process twin of bench/serve.sh: the same
** SciFact queries run through blend_search (k=10, plus each hit's external
** id, what GET /search?source=false returns) on T threads, one searcher
** each, for S seconds. Prints queries/s. With a fifth argument "source",
** every hit's stored title and text are read too (what _source costs
** without HTTP and JSON).
** usage: bench_serve_inproc INDEX QUERIES.txt THREADS SECONDS [source]
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blend.h"

static char **queries;
static size_t nq;
static blend_index *ix;
static double seconds;
static atomic_ullong total;
static int with_source;
static atomic_ullong sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  size_t i = (size_t)(uintptr_t)arg * 997;
  blend_searcher *s;
  blend_error err;
  if (blend_searcher_new(ix, &s, &err)) return NULL;
  blend_search_options o;
  blend_search_options_default(&o);
  unsigned long long n = 0;
  double end = now() + seconds;
  while (now() < end) {
    for (int r = 0; r < 64; r++, n++) {
      blend_results res;
      if (blend_search(s, queries[i++ % nq], &o, &res, &err)) abort();
      for (uint32_t h = 0; h < res.count; h++) {
        const char *id;
        size_t len;
        blend_searcher_doc_id(s, res.hits[h].doc, &id, &len, &err);
        if (with_source) {
          static const char *const fields[] = {"title", "text"};
          for (int f = 0; f < 2; f++)
            if (blend_searcher_doc_field(s, res.hits[h].doc, fields[f], &id, &len, &err) == 0)
              atomic_fetch_add_explicit(&sink, len, memory_order_relaxed);
        }
      }
    }
  }
  blend_searcher_free(s);
  atomic_fetch_add(&total, n);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "source"))) {
    fprintf(stderr, "usage: %s INDEX QUERIES.txt THREADS SECONDS [source]\n", argv[0]);
    return 2;
  }
  with_source = argc == 6;
  blend_error err;
  if (blend_index_open(argv[1], &ix, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  FILE *f = fopen(argv[2], "r");
  if (!f) return 1;
  char line[65536];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (nq == cap) queries = realloc(queries, (cap = cap ? cap * 2 : 1024) * sizeof *queries);
    queries[nq++] = strdup(line);
  }
  fclose(f);
  int threads = atoi(argv[3]);
  seconds = atof(argv[4]);
  pthread_t th[64];
  double t0 = now();
  for (int t = 0; t < threads && t < 64; t++) pthread_create(&th[t], NULL, run, (void *)(uintptr_t)t);
  for (int t = 0; t < threads && t < 64; t++) pthread_join(th[t], NULL);
  double el = now() - t0;
  printf("inproc-summary threads=%d queries=%llu seconds=%.2f qps=%.0f%s\n", threads,
         (unsigned long long)atomic_load(&total), el, (double)atomic_load(&total) / el,
         with_source ? " (with title+text of every hit)" : "");
  blend_index_close(ix);
  return 0;
}
