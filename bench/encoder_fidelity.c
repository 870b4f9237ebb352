/*
** encoder_fidelity.c — how closely blend's int8 (or bf16) encoder follows
** its f32 encoder on real text, through the public API only: opens one model
** directory twice (BLEND_PRECISION_F32 and _INT8 or _BF16), embeds the first --docs
** SciFact documents (title + " " + text) and the first --queries queries
** with both, and prints one JSON line with the cosine between the two
** embeddings of each text: min, p1, p50 and mean, over all texts and per kind.
**
**   bench/encoder.sh builds it against libblend.a:
**   encoder_fidelity --model DIR [--data BEIR_DIR] [--docs 1000]
**                    [--queries 300] [--threads 2] [--max-length 128]
**                    [--precision int8|bf16]
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blend.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Read up to max texts from a BEIR jsonl file: title + " " + text when the
** record has a title field (corpus), else text (queries). Returns the count. */
static size_t read_texts(const char *path, size_t max, char **texts, size_t *lens) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "encoder_fidelity: cannot open %s\n", path);
    return 0;
  }
  char *line = NULL;
  size_t cap = 0, n = 0;
  while (n < max && getline(&line, &cap, f) > 0) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *ti = cJSON_GetObjectItem(j, "title"), *tx = cJSON_GetObjectItem(j, "text");
    if (cJSON_IsString(tx)) {
      const char *t = cJSON_IsString(ti) ? ti->valuestring : "";
      size_t a = strlen(t), b = strlen(tx->valuestring);
      char *s = malloc(a + b + 2);
      if (!s) break;
      size_t k = 0;
      if (a) {
        memcpy(s, t, a);
        s[a] = ' ';
        k = a + 1;
      }
      memcpy(s + k, tx->valuestring, b + 1);
      texts[n] = s;
      lens[n] = k + b;
      n++;
    }
    cJSON_Delete(j);
  }
  free(line);
  fclose(f);
  return n;
}

typedef struct stats {
  double min, p1, p50, mean;
} stats;

static stats summarise(const double *cos, size_t n) {
  stats s = {0, 0, 0, 0};
  if (!n) return s;
  double *v = malloc(n * sizeof *v), sum = 0;
  if (!v) return s;
  memcpy(v, cos, n * sizeof *v);
  qsort(v, n, sizeof *v, cmp_d);
  for (size_t i = 0; i < n; i++) sum += v[i];
  s.min = v[0];
  s.p1 = v[(size_t)((double)(n - 1) * 0.01)];
  s.p50 = v[(n - 1) / 2];
  s.mean = sum / (double)n;
  free(v);
  return s;
}

static void usage(void) {
  fputs("usage: encoder_fidelity --model DIR [--data BEIR_DIR] [--docs N] [--queries N]\n"
        "                        [--threads N] [--max-length N] [--precision int8|bf16]\n",
        stderr);
}

int main(int argc, char **argv) {
  const char *model_dir = NULL, *data = "../shared/data/beir/scifact", *precision = "int8";
  int threads = 2, max_length = 128;
  long ndocs = 1000, nqueries = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--model")) model_dir = v;
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--docs")) ndocs = atol(v);
    else if (!strcmp(a, "--queries")) nqueries = atol(v);
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--max-length")) max_length = atoi(v);
    else if (!strcmp(a, "--precision") && (!strcmp(v, "int8") || !strcmp(v, "bf16")))
      precision = v;
    else {
      usage();
      return 2;
    }
  }
  if (!model_dir || argc % 2 == 0 || ndocs < 0 || nqueries < 0 || ndocs + nqueries < 1) {
    usage();
    return 2;
  }
  size_t cap = (size_t)(ndocs + nqueries);
  char **texts = calloc(cap, sizeof *texts);
  size_t *lens = calloc(cap, sizeof *lens);
  char path[4096];
  snprintf(path, sizeof path, "%s/corpus.jsonl", data);
  size_t nd = ndocs ? read_texts(path, (size_t)ndocs, texts, lens) : 0;
  snprintf(path, sizeof path, "%s/queries.jsonl", data);
  size_t nq = nqueries ? read_texts(path, (size_t)nqueries, texts + nd, lens + nd) : 0;
  size_t n = nd + nq;
  if (nd < (size_t)ndocs || nq < (size_t)nqueries) {
    fprintf(stderr, "encoder_fidelity: only %zu docs and %zu queries in %s\n", nd, nq, data);
    return 1;
  }

  blend_error err = {0};
  blend_model *m[2] = {NULL, NULL};
  float *emb[2] = {NULL, NULL};
  double secs[2] = {0, 0};
  uint32_t dim = 0;
  for (int p = 0; p < 2; p++) {
    blend_model_options o;
    blend_model_options_default(&o);
    o.threads = threads;
    o.max_length = (uint32_t)max_length;
    o.precision = !p ? BLEND_PRECISION_F32
                  : !strcmp(precision, "bf16") ? BLEND_PRECISION_BF16 : BLEND_PRECISION_INT8;
    if (blend_model_open(model_dir, &o, &m[p], &err)) {
      fprintf(stderr, "encoder_fidelity: %s\n", err.message);
      return 1;
    }
    dim = blend_model_dim(m[p]);
    emb[p] = malloc(n * dim * sizeof(float));
    if (!emb[p]) return 1;
    double t = now_s();
    if (blend_embed(m[p], (const char *const *)texts, lens, n, emb[p], &err)) {
      fprintf(stderr, "encoder_fidelity: %s\n", err.message);
      return 1;
    }
    secs[p] = now_s() - t;
  }
  double *cos = malloc(n * sizeof *cos);
  for (size_t i = 0; i < n; i++) {
    const float *a = emb[0] + i * dim, *b = emb[1] + i * dim;
    double ab = 0, aa = 0, bb = 0;
    for (uint32_t k = 0; k < dim; k++) {
      ab += (double)a[k] * b[k];
      aa += (double)a[k] * a[k];
      bb += (double)b[k] * b[k];
    }
    cos[i] = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
  }
  stats all = summarise(cos, n), d = summarise(cos, nd), q = summarise(cos + nd, nq);
  printf("{\"phase\":\"fidelity\",\"precision\":\"%s\",\"model\":\"%s\",\"threads\":%d,\"max_length\":%d,"
         "\"texts\":%zu,\"docs\":%zu,\"queries\":%zu,"
         "\"cos_min\":%.6f,\"cos_p1\":%.6f,\"cos_p50\":%.6f,\"cos_mean\":%.6f,"
         "\"docs_cos_min\":%.6f,\"docs_cos_mean\":%.6f,"
         "\"queries_cos_min\":%.6f,\"queries_cos_mean\":%.6f,"
         "\"f32_s\":%.3f,\"%s_s\":%.3f}\n",
         precision, model_dir, threads, max_length, n, nd, nq, all.min, all.p1, all.p50, all.mean, d.min,
         d.mean, q.min, q.mean, secs[0], precision, secs[1]);
  for (size_t i = 0; i < n; i++) free(texts[i]);
  free(texts);
  free(lens);
  free(cos);
  for (int p = 0; p < 2; p++) {
    free(emb[p]);
    blend_model_close(m[p]);
  }
  return 0;
}
