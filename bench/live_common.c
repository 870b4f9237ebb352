/*
** live_common.c — loading the live bench's corpus and queries (see
** live_common.h), and small statistics helpers.
*/
#include "live_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

typedef struct load_ctx {
  live_corpus *c;
  const char *prefix;
  size_t cap;
} load_ctx;

static char *dup_prefixed(const char *prefix, const char *s, size_t n, size_t *len) {
  size_t pl = strlen(prefix);
  char *p = malloc(pl + n + 1);
  if (!p) return NULL;
  memcpy(p, prefix, pl);
  memcpy(p + pl, s, n);
  p[pl + n] = 0;
  *len = pl + n;
  return p;
}

static int add(void *vctx, const bench_doc *d) {
  load_ctx *x = vctx;
  live_corpus *c = x->c;
  if (c->n == x->cap) {
    x->cap = x->cap ? x->cap * 2 : 4096;
    live_doc *p = realloc(c->docs, x->cap * sizeof *p);
    if (!p) return 1;
    c->docs = p;
  }
  live_doc *o = &c->docs[c->n];
  o->id = dup_prefixed(x->prefix, d->id, d->id_len, &o->id_len);
  o->title = dup_prefixed("", d->title, d->title_len, &o->title_len);
  o->text = dup_prefixed("", d->text, d->text_len, &o->text_len);
  if (!o->id || !o->title || !o->text) return 1;
  c->bytes += o->id_len + o->title_len + o->text_len;
  c->n++;
  return 0;
}

int live_load(const char *data_dir, live_corpus *c) {
  memset(c, 0, sizeof *c);
  static const char *sets[] = {"scifact", "nfcorpus"}, *pre[] = {"sf:", "nf:"};
  load_ctx x = {c, NULL, 0};
  for (int s = 0; s < 2; s++) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, sets[s]);
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    x.prefix = pre[s];
    if (bench_corpus_foreach(path, add, &x, NULL) != 0) return -1;
    bench_queries qs;
    if (bench_queries_load(dir, &qs) != 0) return -1;
    char **q = realloc(c->queries, (c->nqueries + qs.n) * sizeof *q);
    if (!q) return -1;
    c->queries = q;
    for (size_t i = 0; i < qs.n; i++) c->queries[c->nqueries++] = strdup(qs.q[i].text);
    bench_queries_free(&qs);
  }
  /* 1% of the documents, a fixed pseudo-random choice (no repeats) */
  c->ndel = c->n / 100;
  c->del = malloc((c->ndel + 1) * sizeof *c->del);
  uint8_t *taken = calloc(c->n + 1, 1);
  if (!c->del || !taken) return -1;
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (size_t k = 0; k < c->ndel;) {
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    size_t i = (size_t)(h >> 11) % c->n;
    if (taken[i]) continue;
    taken[i] = 1;
    c->del[k++] = i;
  }
  free(taken);
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double live_percentile(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  double *s = malloc(n * sizeof *s);
  if (!s) return 0;
  memcpy(s, v, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_d);
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  double r = s[i < n ? i : n - 1];
  free(s);
  return r;
}

double live_median(const double *v, size_t n) { return live_percentile(v, n, 50); }

void live_lat_add(live_lat *l, double s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 1024;
    double *p = realloc(l->v, l->cap * sizeof *p);
    if (!p) return;
    l->v = p;
  }
  l->v[l->n++] = s;
}

double live_thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int live_passes(void) {
  const char *e = getenv("BENCH_LIVE_PASSES");
  int n = e && *e ? atoi(e) : 1;
  return n < 1 ? 1 : n > 20 ? 20 : n;
}
