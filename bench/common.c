/*
** common.c — shared BEIR reading, query passes, nDCG@10 and result lines for
** the lexical bench drivers. Everything an engine does not own lives here so
** the three drivers time the same surrounding work.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const bench_lucene_stopwords[] = {
    "a",     "an",   "and",  "are",   "as",    "at",    "be",   "but",  "by",
    "for",   "if",   "in",   "into",  "is",    "it",    "no",   "not",  "of",
    "on",    "or",   "such", "that",  "the",   "their", "then", "there",
    "these", "they", "this", "to",    "was",   "will",  "with", NULL};

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

long bench_peak_rss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_maxrss; /* KiB on Linux */
}

uint64_t bench_file_bytes(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static uint64_t g_du_total; /* nftw has no context pointer; bench is single-threaded */
static int du_cb(const char *p, const struct stat *st, int type, struct FTW *f) {
  (void)p; (void)f;
  if (type == FTW_F) g_du_total += (uint64_t)st->st_size;
  return 0;
}

uint64_t bench_path_bytes(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return (uint64_t)st.st_size;
  g_du_total = 0;
  nftw(path, du_cb, 16, FTW_PHYS);
  return g_du_total;
}

static int rm_cb(const char *p, const struct stat *st, int type, struct FTW *f) {
  (void)st; (void)f;
  return (type == FTW_DP ? rmdir(p) : unlink(p)) == 0 ? 0 : -1;
}

int bench_rm_rf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path);
  return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

const char *bench_basename(const char *path) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  static char buf[256]; /* single-threaded driver helper */
  size_t s = n;
  while (s > 0 && path[s - 1] != '/') s--;
  size_t len = n - s < sizeof buf - 1 ? n - s : sizeof buf - 1;
  memcpy(buf, path + s, len);
  buf[len] = 0;
  return buf;
}

/* ------------------------------------------------------------ corpus */

static const char *json_str(const cJSON *o, const char *key, size_t *len) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v) || !v->valuestring) { *len = 0; return NULL; }
  *len = strlen(v->valuestring);
  return v->valuestring;
}

int bench_corpus_foreach(const char *path, bench_doc_fn fn, void *ctx,
                         uint64_t *ndocs) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "bench: %s: %s\n", path, strerror(errno)); return -1; }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t lineno = 0, docs = 0;
  int rc = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) continue;
    cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
    if (!o || !cJSON_IsObject(o)) {
      fprintf(stderr, "bench: %s:%llu: not a JSON object\n", path, (unsigned long long)lineno);
      cJSON_Delete(o);
      rc = -1;
      break;
    }
    bench_doc d;
    d.id = json_str(o, "_id", &d.id_len);
    d.title = json_str(o, "title", &d.title_len);
    d.text = json_str(o, "text", &d.text_len);
    if (!d.id) {
      fprintf(stderr, "bench: %s:%llu: missing string \"_id\"\n", path, (unsigned long long)lineno);
      cJSON_Delete(o);
      rc = -1;
      break;
    }
    if (!d.title) d.title = "";
    if (!d.text) d.text = "";
    docs++;
    rc = fn(ctx, &d);
    cJSON_Delete(o);
    if (rc) break;
  }
  free(line);
  fclose(f);
  if (ndocs) *ndocs = docs;
  return rc;
}

static int parse_only_cb(void *ctx, const bench_doc *d) {
  *(size_t *)ctx += d->id_len + d->title_len + d->text_len;
  return 0;
}

double bench_parse_only_seconds(const char *corpus_path) {
  size_t sink = 0;
  double t0 = bench_now();
  if (bench_corpus_foreach(corpus_path, parse_only_cb, &sink, NULL) != 0) return -1;
  return bench_now() - t0;
}

/* ------------------------------------------------- queries and qrels */

typedef struct qrel_row {
  char *qid, *docid;
  int rel;
} qrel_row;

static int qrel_cmp(const void *a, const void *b) {
  return strcmp(((const qrel_row *)a)->qid, ((const qrel_row *)b)->qid);
}

static char *xstrndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) { fprintf(stderr, "bench: out of memory\n"); exit(1); }
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) { fprintf(stderr, "bench: out of memory\n"); exit(1); }
  return q;
}

int bench_queries_load(const char *dir, bench_queries *out) {
  memset(out, 0, sizeof *out);
  char path[4096];
  snprintf(path, sizeof path, "%s/qrels/test.tsv", dir);
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "bench: %s: %s\n", path, strerror(errno)); return -1; }
  qrel_row *rows = NULL;
  size_t nrows = 0, cap_rows = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  unsigned long long lineno = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) continue;
    if (lineno == 1 && strncmp(line, "query-id", 8) == 0) continue; /* BEIR header */
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (!t1 || !t2) {
      fprintf(stderr, "bench: %s:%llu: expected query-id<TAB>corpus-id<TAB>score\n", path, lineno);
      free(line); fclose(f);
      return -1;
    }
    if (nrows == cap_rows) {
      cap_rows = cap_rows ? 2 * cap_rows : 1024;
      rows = xrealloc(rows, cap_rows * sizeof *rows);
    }
    rows[nrows].qid = xstrndup(line, (size_t)(t1 - line));
    rows[nrows].docid = xstrndup(t1 + 1, (size_t)(t2 - t1 - 1));
    rows[nrows].rel = atoi(t2 + 1);
    nrows++;
  }
  fclose(f);
  qsort(rows, nrows, sizeof *rows, qrel_cmp);

  snprintf(path, sizeof path, "%s/queries.jsonl", dir);
  f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "bench: %s: %s\n", path, strerror(errno)); free(line); return -1; }
  size_t cap_q = 0;
  lineno = 0;
  int rc = 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) continue;
    cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
    size_t idlen, tlen;
    const char *id = o ? json_str(o, "_id", &idlen) : NULL;
    const char *text = o ? json_str(o, "text", &tlen) : NULL;
    if (!id || !text) {
      fprintf(stderr, "bench: %s:%llu: need string \"_id\" and \"text\"\n", path, lineno);
      cJSON_Delete(o);
      rc = -1;
      break;
    }
    qrel_row key = {.qid = (char *)id};
    qrel_row *hit = bsearch(&key, rows, nrows, sizeof *rows, qrel_cmp);
    if (hit) {
      while (hit > rows && strcmp(hit[-1].qid, id) == 0) hit--;
      if (out->n == cap_q) {
        cap_q = cap_q ? 2 * cap_q : 256;
        out->q = xrealloc(out->q, cap_q * sizeof *out->q);
      }
      bench_query *q = &out->q[out->n++];
      q->id = xstrndup(id, idlen);
      q->text = xstrndup(text, tlen);
      q->judged = NULL;
      q->njudged = 0;
      for (qrel_row *r = hit; r < rows + nrows && strcmp(r->qid, id) == 0; r++) {
        q->judged = xrealloc(q->judged, (q->njudged + 1) * sizeof *q->judged);
        q->judged[q->njudged].docid = xstrndup(r->docid, strlen(r->docid));
        q->judged[q->njudged].rel = r->rel;
        q->njudged++;
      }
    }
    cJSON_Delete(o);
  }
  free(line);
  fclose(f);
  for (size_t i = 0; i < nrows; i++) { free(rows[i].qid); free(rows[i].docid); }
  free(rows);
  if (rc == 0 && out->n == 0) {
    fprintf(stderr, "bench: %s: no query of qrels/test.tsv found\n", path);
    rc = -1;
  }
  return rc;
}

void bench_queries_free(bench_queries *qs) {
  for (size_t i = 0; i < qs->n; i++) {
    for (size_t j = 0; j < qs->q[i].njudged; j++) free(qs->q[i].judged[j].docid);
    free(qs->q[i].judged);
    free(qs->q[i].id);
    free(qs->q[i].text);
  }
  free(qs->q);
  memset(qs, 0, sizeof *qs);
}

/* ------------------------------------------------------------ search */

void bench_hits_put(bench_hits *h, const char *id, size_t len, double score) {
  if (h->count >= BENCH_K) return;
  if (len > BENCH_ID_MAX - 1) len = BENCH_ID_MAX - 1;
  memcpy(h->id[h->count], id, len);
  h->id[h->count][len] = 0;
  h->score[h->count] = score;
  h->count++;
}

static int cmp_int_desc(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x < y) - (x > y);
}

/* trec_eval's ranking of a run: score descending, ties by docid descending. */
static const bench_hits *g_sort_hits; /* qsort has no context; single-threaded */
static int cmp_trec(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  double sx = g_sort_hits->score[x], sy = g_sort_hits->score[y];
  if (sx != sy) return sx < sy ? 1 : -1;
  return -strcmp(g_sort_hits->id[x], g_sort_hits->id[y]);
}

double bench_ndcg10(const bench_query *q, const bench_hits *h) {
  double dcg = 0, idcg = 0;
  uint32_t order[BENCH_K], n = h->count < BENCH_K ? h->count : BENCH_K;
  for (uint32_t i = 0; i < n; i++) order[i] = i;
  g_sort_hits = h;
  qsort(order, n, sizeof *order, cmp_trec);
  for (uint32_t i = 0; i < n; i++) {
    const char *id = h->id[order[i]];
    for (size_t j = 0; j < q->njudged; j++) {
      if (strcmp(q->judged[j].docid, id) == 0) {
        if (q->judged[j].rel > 0) dcg += q->judged[j].rel / log2((double)i + 2.0);
        break;
      }
    }
  }
  int *rels = malloc((q->njudged + 1) * sizeof *rels);
  if (!rels) return 0;
  for (size_t j = 0; j < q->njudged; j++) rels[j] = q->judged[j].rel;
  qsort(rels, q->njudged, sizeof *rels, cmp_int_desc);
  for (size_t j = 0; j < q->njudged && j < BENCH_K; j++)
    if (rels[j] > 0) idcg += rels[j] / log2((double)j + 2.0);
  free(rels);
  return idcg > 0 ? dcg / idcg : 0.0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int bench_run_queries(const bench_queries *qs, int passes, bench_search_fn fn,
                      void *ctx, const char *run_path, const char *tag,
                      bench_query_report *out) {
  memset(out, 0, sizeof *out);
  if (passes < 1) passes = 1;
  if (passes > BENCH_MAX_PASSES) passes = BENCH_MAX_PASSES;
  bench_hits *hits = calloc(qs->n, sizeof *hits);
  if (!hits) return -1;
  out->queries = qs->n;
  /* Fast engines finish a pass in a few ms, where one burst from another job
  ** moves the median: keep adding passes (up to BENCH_MAX_PASSES) until the timed passes
  ** cover BENCH_MIN_SECONDS (default 2). */
  const char *ms = getenv("BENCH_MIN_SECONDS");
  double min_total = ms && *ms ? atof(ms) : 2.0, total = 0;
  int want = passes;
  passes = 0;
  double secs[BENCH_MAX_PASSES], cpus[BENCH_MAX_PASSES];
  for (int p = -1; p < BENCH_MAX_PASSES && (p < want || total < min_total); p++) { /* p == -1: warm-up */
    size_t errors = 0;
    double t0 = bench_now(), c0 = bench_cpu_seconds();
    for (size_t i = 0; i < qs->n; i++) {
      hits[i].count = 0;
      if (fn(ctx, qs->q[i].text, &hits[i]) != 0) { errors++; hits[i].count = 0; }
    }
    double dt = bench_now() - t0, dc = bench_cpu_seconds() - c0;
    if (p >= 0) {
      out->pass_seconds[p] = dt; secs[p] = dt; cpus[p] = dc;
      total += dt;
      passes = p + 1;
    }
    out->errors = errors;
  }
  out->passes = passes;
  qsort(secs, (size_t)passes, sizeof *secs, cmp_double);
  double med = passes % 2 ? secs[passes / 2]
                          : 0.5 * (secs[passes / 2 - 1] + secs[passes / 2]);
  out->qps_median = (double)qs->n / med;
  qsort(cpus, (size_t)passes, sizeof *cpus, cmp_double);
  double cmed = passes % 2 ? cpus[passes / 2]
                           : 0.5 * (cpus[passes / 2 - 1] + cpus[passes / 2]);
  out->qps_cpu_median = cmed > 0 ? (double)qs->n / cmed : 0;
  out->qps_min = (double)qs->n / secs[passes - 1];
  out->qps_max = (double)qs->n / secs[0];
  double sum = 0;
  for (size_t i = 0; i < qs->n; i++) {
    sum += bench_ndcg10(&qs->q[i], &hits[i]);
    if (hits[i].count == 0) out->empty++;
  }
  out->ndcg10 = qs->n ? sum / (double)qs->n : 0;
  if (run_path) {
    FILE *f = fopen(run_path, "w");
    if (!f) {
      fprintf(stderr, "bench: %s: %s\n", run_path, strerror(errno));
      free(hits);
      return -1;
    }
    for (size_t i = 0; i < qs->n; i++)
      for (uint32_t r = 0; r < hits[i].count; r++)
        fprintf(f, "%s Q0 %s %u %.9g %s\n", qs->q[i].id, hits[i].id[r], r + 1,
                hits[i].score[r], tag);
    fclose(f);
  }
  free(hits);
  return 0;
}

/* ------------------------------------------------------------ output */

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void print_head(const char *engine, const char *version,
                       const char *dataset, const char *phase) {
  printf("{\"engine\":");
  json_string(stdout, engine);
  printf(",\"version\":");
  json_string(stdout, version);
  printf(",\"dataset\":");
  json_string(stdout, dataset);
  printf(",\"phase\":\"%s\"", phase);
}

void bench_print_index(const char *engine, const char *version,
                       const char *dataset, uint64_t docs,
                       uint64_t corpus_bytes, double parse_s, double seconds,
                       double cpu_seconds, uint64_t index_bytes,
                       const char *notes) {
  print_head(engine, version, dataset, "index");
  printf(",\"docs\":%llu,\"corpus_bytes\":%llu,\"parse_only_s\":%.4f"
         ",\"seconds\":%.4f,\"cpu_seconds\":%.4f,\"docs_per_s\":%.1f,\"mb_per_s\":%.3f"
         ",\"index_bytes\":%llu,\"peak_rss_kb\":%ld,\"notes\":",
         (unsigned long long)docs, (unsigned long long)corpus_bytes, parse_s,
         seconds, cpu_seconds, seconds > 0 ? (double)docs / seconds : 0.0,
         seconds > 0 ? (double)corpus_bytes / 1e6 / seconds : 0.0,
         (unsigned long long)index_bytes, bench_peak_rss_kb());
  json_string(stdout, notes);
  printf("}\n");
  fflush(stdout);
}

void bench_print_query(const char *engine, const char *version,
                       const char *dataset, const bench_query_report *r,
                       const char *notes) {
  print_head(engine, version, dataset, "query");
  printf(",\"queries\":%zu,\"passes\":%d,\"qps_median\":%.1f,\"qps_min\":%.1f"
         ",\"qps_max\":%.1f,\"qps_cpu_median\":%.1f,\"ndcg10\":%.4f,\"errors\":%zu,\"empty\":%zu"
         ",\"peak_rss_kb\":%ld,\"pass_seconds\":[",
         r->queries, r->passes, r->qps_median, r->qps_min, r->qps_max,
         r->qps_cpu_median, r->ndcg10, r->errors, r->empty, bench_peak_rss_kb());
  for (int i = 0; i < r->passes; i++)
    printf("%s%.5f", i ? "," : "", r->pass_seconds[i]);
  printf("],\"notes\":");
  json_string(stdout, notes);
  printf("}\n");
  fflush(stdout);
}
