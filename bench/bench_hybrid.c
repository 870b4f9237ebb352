/*
** bench_hybrid.c — hybrid query benchmarks (driven by bench/hybrid.sh):
**
**   latency INDEX QUERIES QRELS THREADS f32|int8 [PASSES]
**       end-to-end hybrid query latency — query encoding with the index's
**       model + BM25 flat leg + dense leg (HNSW) + min-max cc fusion, top 10 —
**       over every judged query, one at a time; p50 / p99 / mean in ms.
**   qps INDEX QUERIES QRELS QVEC.f32 QIDS.txt [PASSES]
**       hybrid throughput with the query vectors given (no encoding), single
**       thread: BM25 flat + dense (exact scan and HNSW), depth 100 each, RRF
**       k = 60 and min-max cc, top 10; QPS (median pass) and nDCG@10.
**   rerank INDEX QUERIES QRELS CROSS_MODEL DEPTH THREADS f32|int8 NQ PAIRS_OUT [PASSES]
**       cross-encoder rerank of the BM25 top DEPTH of the first NQ judged
**       queries (max_length 256): pairs/s of the rerank stage (stored-text
**       fetch + tokenisation + forward pass), median pass; writes the
**       (query, document) pairs as TSV for the PyTorch peer.
**
** Each prints one JSON line. Queries are BEIR queries.jsonl lines; the
** query syntax is neutralised as blend eval does.
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blend.h"
#include "ingest/vectors.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const blend_error *err) {
  fprintf(stderr, "bench_hybrid: %s: %s\n", what, err ? err->message : "");
  exit(1);
}

typedef struct qset {
  uint32_t n;
  char **id, **text;
} qset;

/* The judged queries (qrels order) with their text. */
static qset load(const char *queries, const blend_qrels *qr) {
  qset q = {0};
  FILE *f = fopen(queries, "r");
  if (!f) die(queries, NULL);
  uint32_t nq = blend_qrels_queries(qr);
  char **texts = calloc(nq, sizeof *texts);
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    cJSON *j = cJSON_Parse(line);
    cJSON *id = cJSON_GetObjectItem(j, "_id"), *t = cJSON_GetObjectItem(j, "text");
    if (cJSON_IsString(id) && cJSON_IsString(t))
      for (uint32_t i = 0; i < nq; i++)
        if (!strcmp(blend_qrels_query_id(qr, i), id->valuestring)) {
          free(texts[i]);
          texts[i] = strdup(t->valuestring);
          int start = 1;
          for (char *c = texts[i]; *c; c++) {
            if (*c == '"' || *c == ':' || (start && (*c == '+' || *c == '-'))) *c = ' ';
            start = *c == ' ';
          }
        }
    cJSON_Delete(j);
  }
  free(line);
  fclose(f);
  q.id = calloc(nq, sizeof *q.id);
  q.text = calloc(nq, sizeof *q.text);
  for (uint32_t i = 0; i < nq; i++)
    if (texts[i]) {
      q.id[q.n] = strdup(blend_qrels_query_id(qr, i));
      q.text[q.n++] = texts[i];
    }
  free(texts);
  return q;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double ndcg10(const blend_qrels *qr, const blend_run *run) {
  const char *m[] = {"ndcg@10"};
  blend_eval_result *e;
  blend_error err = {0};
  if (blend_evaluate(qr, run, m, 1, NULL, &e, &err)) die("evaluate", &err);
  double v = blend_eval_mean(e, 0);
  blend_eval_free(e);
  return v;
}

static void setup(blend_hybrid_query *q, int fusion, int exact) {
  blend_hybrid_query_default(q);
  q->nlegs = 2;
  blend_leg_default(&q->legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q->legs[1], BLEND_LEG_DENSE);
  q->legs[1].exact = exact;
  q->fusion.fusion = fusion;
  q->k = 10;
}

static int latency(int argc, char **argv) {
  if (argc < 7) return 2;
  const char *ixdir = argv[2], *queries = argv[3], *qrels = argv[4];
  int threads = atoi(argv[5]), int8 = !strcmp(argv[6], "int8");
  int passes = argc > 7 ? atoi(argv[7]) : 3;
  blend_error err = {0};
  blend_qrels *qr;
  blend_index *ix;
  blend_hybrid *h;
  blend_model *m;
  if (blend_qrels_load(qrels, &qr, &err)) die(qrels, &err);
  qset qs = load(queries, qr);
  if (blend_index_open(ixdir, &ix, &err) || blend_hybrid_new(ix, &h, &err)) die(ixdir, &err);
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = threads;
  mo.precision = int8 ? BLEND_PRECISION_INT8 : BLEND_PRECISION_F32;
  if (blend_index_open_query_model(ix, NULL, &mo, &m, &err)) die("query model", &err);
  blend_hybrid_query q;
  setup(&q, BLEND_FUSION_CC, 0);
  q.query_model = m;
  double *lat = malloc((size_t)qs.n * passes * sizeof *lat), enc = 0, legs = 0, fuse = 0;
  uint32_t nl = 0;
  blend_hybrid_results r;
  for (uint32_t i = 0; i < qs.n && i < 20; i++) { /* warm-up */
    q.text = qs.text[i];
    if (blend_hybrid_search(h, &q, &r, &err)) die("search", &err);
  }
  /* the encoding share, measured separately on the same texts */
  uint32_t dim = blend_model_dim(m);
  float *v = malloc(dim * sizeof *v);
  double te = now();
  for (uint32_t i = 0; i < qs.n; i++)
    if (blend_index_embed_query(ix, m, qs.text[i], strlen(qs.text[i]), v, &err)) die("embed", &err);
  enc = (now() - te) / qs.n;
  for (int p = 0; p < passes; p++)
    for (uint32_t i = 0; i < qs.n; i++) {
      q.text = qs.text[i];
      double t0 = now();
      if (blend_hybrid_search(h, &q, &r, &err)) die("search", &err);
      lat[nl++] = now() - t0;
      legs += r.seconds_legs;
      fuse += r.seconds_fuse;
    }
  qsort(lat, nl, sizeof *lat, cmp_d);
  double mean = 0;
  for (uint32_t i = 0; i < nl; i++) mean += lat[i];
  mean /= nl;
  printf("{\"bench\":\"hybrid-latency\",\"index\":\"%s\",\"threads\":%d,\"precision\":\"%s\","
         "\"queries\":%u,\"samples\":%u,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,"
         "\"encode_ms\":%.3f,\"legs_ms\":%.3f,\"fuse_ms\":%.4f}\n",
         ixdir, threads, int8 ? "int8" : "f32", qs.n, nl, 1e3 * lat[nl / 2],
         1e3 * lat[(size_t)(nl * 0.99)], 1e3 * mean, 1e3 * enc, 1e3 * legs / nl, 1e3 * fuse / nl);
  free(v);
  free(lat);
  blend_model_close(m);
  blend_hybrid_free(h);
  blend_index_close(ix);
  blend_qrels_free(qr);
  return 0;
}

static int qps(int argc, char **argv) {
  if (argc < 7) return 2;
  const char *ixdir = argv[2], *queries = argv[3], *qrels = argv[4];
  int passes = argc > 7 ? atoi(argv[7]) : 5;
  blend_error err = {0};
  blend_qrels *qr;
  blend_index *ix;
  blend_hybrid *h;
  vector_file *vf;
  if (blend_qrels_load(qrels, &qr, &err)) die(qrels, &err);
  qset qs = load(queries, qr);
  if (blend_index_open(ixdir, &ix, &err) || blend_hybrid_new(ix, &h, &err)) die(ixdir, &err);
  if (vector_file_load(argv[5], argv[6], 0, &vf, &err)) die(argv[5], &err);
  uint32_t dim = vector_file_dim(vf);
  const float **vec = calloc(qs.n, sizeof *vec);
  for (uint32_t i = 0; i < qs.n; i++)
    if (!(vec[i] = vector_file_get(vf, qs.id[i], strlen(qs.id[i])))) die(qs.id[i], NULL);
  static const struct {
    const char *name;
    int fusion, exact;
  } modes[] = {{"rrf-exact", BLEND_FUSION_RRF, 1},
               {"rrf-hnsw", BLEND_FUSION_RRF, 0},
               {"cc-minmax-exact", BLEND_FUSION_CC, 1},
               {"cc-minmax-hnsw", BLEND_FUSION_CC, 0}};
  for (size_t mi = 0; mi < sizeof modes / sizeof *modes; mi++) {
    blend_hybrid_query q;
    setup(&q, modes[mi].fusion, modes[mi].exact);
    q.legs[1].dim = dim;
    double rates[64], cpu_rates[64];
    int np = passes < 64 ? passes : 64;
    blend_run *run = NULL;
    for (int p = -1; p < np; p++) { /* pass -1: warm-up, and the run scored */
      if (p < 0 && blend_run_new(&run, &err)) die("run", &err);
      double t0 = now(), c0 = cpu_now();
      blend_hybrid_results r;
      for (uint32_t i = 0; i < qs.n; i++) {
        q.text = qs.text[i];
        q.legs[1].vector = vec[i];
        if (blend_hybrid_search(h, &q, &r, &err)) die("search", &err);
        for (uint32_t k = 0; p < 0 && k < r.count; k++)
          if (blend_run_add(run, qs.id[i], r.hits[k].id, r.hits[k].fused, &err)) die("run", &err);
      }
      if (p >= 0) rates[p] = qs.n / (now() - t0), cpu_rates[p] = qs.n / (cpu_now() - c0);
    }
    qsort(rates, (size_t)np, sizeof *rates, cmp_d);
    qsort(cpu_rates, (size_t)np, sizeof *cpu_rates, cmp_d);
    printf("{\"bench\":\"hybrid-qps\",\"engine\":\"blend\",\"mode\":\"%s\",\"index\":\"%s\","
           "\"queries\":%u,\"passes\":%d,\"qps\":%.1f,\"qps_min\":%.1f,\"qps_max\":%.1f,"
           "\"cpu_qps\":%.1f,\"ndcg10\":%.4f}\n",
           modes[mi].name, ixdir, qs.n, np, rates[np / 2], rates[0], rates[np - 1],
           cpu_rates[np / 2], ndcg10(qr, run));
    blend_run_free(run);
  }
  vector_file_free(vf);
  blend_hybrid_free(h);
  blend_index_close(ix);
  blend_qrels_free(qr);
  return 0;
}

static int rerank(int argc, char **argv) {
  if (argc < 11) return 2;
  const char *ixdir = argv[2], *queries = argv[3], *qrels = argv[4], *model = argv[5];
  uint32_t depth = (uint32_t)atoi(argv[6]), nq = (uint32_t)atoi(argv[9]);
  int threads = atoi(argv[7]), int8 = !strcmp(argv[8], "int8");
  const char *pairs_out = argv[10];
  int passes = argc > 11 ? atoi(argv[11]) : 3;
  blend_error err = {0};
  blend_qrels *qr;
  blend_index *ix;
  blend_hybrid *h;
  blend_model *m;
  if (blend_qrels_load(qrels, &qr, &err)) die(qrels, &err);
  qset qs = load(queries, qr);
  if (nq > qs.n) nq = qs.n;
  if (blend_index_open(ixdir, &ix, &err) || blend_hybrid_new(ix, &h, &err)) die(ixdir, &err);
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = threads;
  mo.max_length = 256;
  mo.precision = int8 ? BLEND_PRECISION_INT8 : BLEND_PRECISION_F32;
  if (blend_model_open(model, &mo, &m, &err)) die(model, &err);
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.nlegs = 1;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  q.legs[0].depth = depth;
  q.k = depth;
  q.rerank_model = m;
  q.rerank_depth = depth;
  q.rerank_field = "text";
  FILE *pf = fopen(pairs_out, "w");
  if (!pf) die(pairs_out, NULL);
  blend_searcher *s = blend_hybrid_searcher(h);
  double rates[64];
  int np = passes < 64 ? passes : 64;
  uint64_t pairs = 0;
  blend_hybrid_results r;
  for (int p = -1; p < np; p++) {
    double secs = 0;
    pairs = 0;
    for (uint32_t i = 0; i < nq; i++) {
      q.text = qs.text[i];
      if (blend_hybrid_search(h, &q, &r, &err)) die("search", &err);
      secs += r.seconds_rerank;
      pairs += r.reranked;
      for (uint32_t k = 0; p < 0 && k < r.count; k++) {
        const char *t;
        size_t len;
        if (blend_searcher_doc_field(s, r.hits[k].doc, "text", &t, &len, NULL)) t = "", len = 0;
        fprintf(pf, "%s\t%s\t", qs.id[i], qs.text[i]);
        for (size_t c = 0; c < len; c++) fputc(t[c] == '\t' || t[c] == '\n' ? ' ' : t[c], pf);
        fputc('\n', pf);
      }
    }
    if (p < 0) fclose(pf);
    else rates[p] = pairs / secs;
  }
  qsort(rates, (size_t)np, sizeof *rates, cmp_d);
  printf("{\"bench\":\"rerank\",\"engine\":\"blend-%s\",\"threads\":%d,\"depth\":%u,"
         "\"queries\":%u,\"pairs\":%llu,\"max_length\":256,\"pairs_per_s\":%.1f,"
         "\"min\":%.1f,\"max\":%.1f}\n",
         int8 ? "int8" : "f32", threads, depth, nq, (unsigned long long)pairs, rates[np / 2],
         rates[0], rates[np - 1]);
  blend_model_close(m);
  blend_hybrid_free(h);
  blend_index_close(ix);
  blend_qrels_free(qr);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc > 1 && !strcmp(argv[1], "latency")) rc = latency(argc, argv);
  else if (argc > 1 && !strcmp(argv[1], "qps")) rc = qps(argc, argv);
  else if (argc > 1 && !strcmp(argv[1], "rerank")) rc = rerank(argc, argv);
  if (rc == 2) fprintf(stderr, "usage: see the header of bench/bench_hybrid.c\n");
  return rc;
}
