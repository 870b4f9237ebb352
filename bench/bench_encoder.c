/*
** bench_encoder.c — encoder throughput driver, comparable with
** `reference_bert.py bench` (PyTorch): loads a model directory, tokenizes
** SciFact title + " " + text up front (not timed), then times forward +
** pooling + normalisation over --batches batches of --batch texts,
** --repeat times after --warmup untimed batches, and prints one JSON line:
** median/best/worst sentences/s (wall clock), sentences per CPU-second
** (process CPU time: at 1 thread, the rate an idle core would give when
** other work shares the machine), end-to-end sentences/s including
** tokenization, single short text (~12 tokens) latency, load time, peak RSS.
**
**   make BUILD=build/release MODE=release build/release/bench_encoder
**   build/release/bench_encoder --model /tmp/minilm-random --threads 1
*/
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "blend.h"
#include "encoder/bert.h"
#include "encoder/dispatch.h"
#include "encoder/wordpiece.h"
#include "util/util.h"

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fputs("usage: bench_encoder [--model DIR] [--data BEIR_DIR] [--threads N] [--batch N]\n"
        "                     [--batches N] [--max-length N] [--warmup N] [--repeat N] [--int8 | --bf16]\n"
        "                     [--att-f32] [--cap scalar|avx2|avx-vnni|avx512|avx512-vnni|avx512-bf16|amx-int8|amx-bf16]\n"
        "                     [--rerank N [--dump-tokens FILE]]   (cross-encoder latency)\n"
        "                     [--cblas]\n",
        stderr);
}

/* --rerank N: latency of scoring N (query, document) pairs with a
** cross-encoder — the first SciFact query against the first N documents,
** truncated longest-first to max_length — through blend_rerank (tokenization
** included) and blend_rerank_ids (forward only), median of 21 calls after 3
** warm-ups. --dump-tokens writes the pair ids, padded to the longest, in
** ort_bench.js's tokens.json layout (token type ids are fed as zeros there:
** the same cost). */
static int bench_rerank(blend_model *m, wp_tokenizer *tok, char **texts, size_t *tlens, size_t np,
                        const char *data, uint32_t max_length, int threads, const char *dump,
                        double load_s, const char *precision) {
  blend_error err = {0};
  if (!blend_model_is_cross_encoder(m)) {
    fprintf(stderr, "bench_encoder: --rerank needs a cross-encoder model\n");
    return 1;
  }
  char path[2048], *q = NULL;
  snprintf(path, sizeof path, "%s/queries.jsonl", data);
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  if (f && getline(&line, &cap, f) > 0) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *tx = cJSON_GetObjectItem(j, "text");
    if (cJSON_IsString(tx)) q = strdup(tx->valuestring);
    cJSON_Delete(j);
  }
  free(line);
  if (f) fclose(f);
  if (!q) {
    fprintf(stderr, "bench_encoder: no query in %s\n", path);
    return 1;
  }
  wp_encoding *enc = calloc(np, sizeof *enc);
  const int32_t **ids = calloc(np, sizeof *ids), **types = calloc(np, sizeof *types);
  uint32_t *lens = calloc(np, sizeof *lens), T = 0;
  float *scores = calloc(np, sizeof *scores);
  double toks = 0;
  for (size_t i = 0; i < np; i++) {
    if (wp_encode_pair(tok, q, strlen(q), texts[i], tlens[i], max_length, &enc[i], &err)) {
      fprintf(stderr, "bench_encoder: %s\n", err.message);
      return 1;
    }
    ids[i] = enc[i].ids, types[i] = enc[i].type_ids, lens[i] = enc[i].len;
    T = lens[i] > T ? lens[i] : T;
    toks += lens[i];
  }
  double lat[21], fwd[21];
  for (int r = 0; r < 24; r++) {
    double s = now_seconds();
    if (blend_rerank(m, q, strlen(q), (const char *const *)texts, tlens, np, scores, &err)) {
      fprintf(stderr, "bench_encoder: %s\n", err.message);
      return 1;
    }
    double e = now_seconds();
    blend_rerank_ids(m, ids, types, lens, np, scores, &err);
    if (r >= 3) lat[r - 3] = e - s, fwd[r - 3] = now_seconds() - e;
  }
  qsort(lat, 21, sizeof *lat, cmp_d);
  qsort(fwd, 21, sizeof *fwd, cmp_d);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"engine\":\"blend\",\"mode\":\"rerank\",\"precision\":\"%s\",\"threads\":%d,"
         "\"pairs\":%zu,\"max_length\":%u,\"mean_tokens\":%.1f,\"rerank_ms_median\":%.3f,"
         "\"rerank_ms_min\":%.3f,\"forward_ms_median\":%.3f,\"load_s\":%.4f,\"peak_rss_mb\":%.1f}\n",
         precision, threads, np, max_length, toks / (double)np, lat[10] * 1e3, lat[0] * 1e3,
         fwd[10] * 1e3, load_s, (double)ru.ru_maxrss / 1024.0);
  if (dump) {
    FILE *o = fopen(dump, "w");
    if (!o) {
      fprintf(stderr, "bench_encoder: cannot write %s\n", dump);
      return 1;
    }
    fprintf(o, "{\"source\":\"bench_encoder --rerank (blend tokenizer, pairs)\",\"batch\":%zu,"
               "\"batches\":1,\"warmup\":1,\"max_length\":%u,\"hidden\":%u,"
               "\"layouts\":{\"torch\":{\"warmup\":[0],\"timed\":[0]}},\"batch_data\":[{\"T\":%u,"
               "\"input_ids\":[", np, max_length, blend_model_dim(m), T);
    for (size_t i = 0; i < np; i++) {
      fputs(i ? ",[" : "[", o);
      for (uint32_t k = 0; k < T; k++) fprintf(o, "%s%d", k ? "," : "", k < lens[i] ? ids[i][k] : 0);
      fputc(']', o);
    }
    fputs("],\"attention_mask\":[", o);
    for (size_t i = 0; i < np; i++) {
      fputs(i ? ",[" : "[", o);
      for (uint32_t k = 0; k < T; k++) fprintf(o, "%s%d", k ? "," : "", k < lens[i]);
      fputc(']', o);
    }
    fputs("]}]}\n", o);
    fclose(o);
  }
  for (size_t i = 0; i < np; i++) wp_encoding_free(&enc[i]);
  free(enc), free(ids), free(types), free(lens), free(scores), free(q);
  return 0;
}

int main(int argc, char **argv) {
  const char *model_dir = "/tmp/minilm-random", *data = "../shared/data/beir/scifact";
  int threads = 1, batch = 32, batches = 8, max_length = 128, warmup = 3, repeat = 5, int8 = 0;
  int cblas = 0; /* --cblas: time the forward with cblas_sgemm linear layers (one
                    BLAS call at a time) instead of blend's packed kernel */
  int rerank_pairs = 0; /* --rerank N: cross-encoder latency of N (query, doc) pairs */
  const char *dump_tokens = NULL; /* --dump-tokens FILE: those pairs' ids for ort_bench.js */
  int bf16 = 0, att_f32 = 0, isa_cap = ENC_CAP_NONE; /* --bf16; --att-f32: int8/bf16 with float32
                    attention; --cap ISA: no kernel above ISA (scalar, avx2, avx512, ...) */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--int8")) {
      int8 = 1;
      continue;
    }
    if (!strcmp(a, "--cblas")) {
      cblas = 1;
      continue;
    }
    if (!strcmp(a, "--bf16")) {
      bf16 = 1;
      continue;
    }
    if (!strcmp(a, "--att-f32")) {
      att_f32 = 1;
      continue;
    }
    if (!v) {
      usage();
      return 2;
    }
    i++;
    if (!strcmp(a, "--model")) model_dir = v;
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--threads")) threads = atoi(v);
    else if (!strcmp(a, "--batch")) batch = atoi(v);
    else if (!strcmp(a, "--batches")) batches = atoi(v);
    else if (!strcmp(a, "--max-length")) max_length = atoi(v);
    else if (!strcmp(a, "--warmup")) warmup = atoi(v);
    else if (!strcmp(a, "--repeat")) repeat = atoi(v);
    else if (!strcmp(a, "--rerank")) rerank_pairs = atoi(v);
    else if (!strcmp(a, "--dump-tokens")) dump_tokens = v;
    else if (!strcmp(a, "--cap")) {
      isa_cap = enc_isa_from_name(v);
      if (isa_cap < 0) {
        usage();
        return 2;
      }
    } else {
      usage();
      return 2;
    }
  }
  if (batch < 1 || batches < 1 || repeat < 1 || repeat > 100 || max_length < 3) {
    usage();
    return 2;
  }
  blend_error err = {0};
  blend_model_options o;
  blend_model_options_default(&o);
  o.threads = threads;
  o.batch = (uint32_t)batch;
  o.max_length = (uint32_t)max_length;
  o.precision = int8 ? BLEND_PRECISION_INT8 : bf16 ? BLEND_PRECISION_BF16 : BLEND_PRECISION_F32;
  double t0 = now_seconds();
  blend_model *m = NULL;
  if (blend_model_open(model_dir, &o, &m, &err)) {
    fprintf(stderr, "bench_encoder: %s\n", err.message);
    return 1;
  }
  double load_s = now_seconds() - t0;
  wp_tokenizer *tok = NULL;
  if (wp_tokenizer_load(model_dir, &tok, &err)) {
    fprintf(stderr, "bench_encoder: %s\n", err.message);
    return 1;
  }

  /* texts: title + " " + text of the first batch*(batches+warmup) documents */
  size_t ntexts = (size_t)batch * (size_t)(batches + warmup), n = 0;
  char **texts = calloc(ntexts, sizeof *texts);
  size_t *tlens = calloc(ntexts, sizeof *tlens);
  char path[2048];
  snprintf(path, sizeof path, "%s/corpus.jsonl", data);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "bench_encoder: cannot open %s\n", path);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  while (n < ntexts && getline(&line, &cap, f) > 0) {
    cJSON *j = cJSON_Parse(line);
    const cJSON *ti = cJSON_GetObjectItem(j, "title"), *tx = cJSON_GetObjectItem(j, "text");
    if (cJSON_IsString(ti) && cJSON_IsString(tx)) {
      size_t a = strlen(ti->valuestring), b = strlen(tx->valuestring);
      texts[n] = malloc(a + b + 2);
      memcpy(texts[n], ti->valuestring, a);
      texts[n][a] = ' ';
      memcpy(texts[n] + a + 1, tx->valuestring, b + 1);
      tlens[n] = a + b + 1;
      n++;
    }
    cJSON_Delete(j);
  }
  free(line);
  fclose(f);
  if (n < ntexts) {
    fprintf(stderr, "bench_encoder: only %zu texts in %s\n", n, path);
    return 1;
  }
  if (rerank_pairs) return bench_rerank(m, tok, texts, tlens, (size_t)rerank_pairs, data,
                                        (uint32_t)max_length, threads, dump_tokens, load_s,
                                        int8 ? "int8" : bf16 ? "bf16" : "f32");
  wp_encoding *enc = calloc(n, sizeof *enc);
  const int32_t **ids = calloc(n, sizeof *ids);
  uint32_t *lens = calloc(n, sizeof *lens);
  double tokens = 0;
  for (size_t i = 0; i < n; i++) {
    if (wp_encode(tok, texts[i], tlens[i], (uint32_t)max_length, &enc[i], &err)) {
      fprintf(stderr, "bench_encoder: %s\n", err.message);
      return 1;
    }
    ids[i] = enc[i].ids;
    lens[i] = enc[i].len;
    if (i >= (size_t)batch * warmup) tokens += enc[i].len;
  }
  size_t dim = blend_model_dim(m), timed = (size_t)batch * batches, off = (size_t)batch * warmup;
  float *out = malloc(n * dim * sizeof *out);

  for (int w = 0; w < warmup; w++)
    if (blend_embed_ids(m, ids + (size_t)w * batch, lens + (size_t)w * batch, (size_t)batch,
                        out, &err)) {
      fprintf(stderr, "bench_encoder: %s\n", err.message);
      return 1;
    }
  bert_model *bm = NULL;
  int direct = cblas || att_f32 || isa_cap != ENC_CAP_NONE; /* time bert_forward on a bert_model */
  int backend = cblas ? BERT_F32_BLAS : int8 ? BERT_INT8 : bf16 ? BERT_BF16 : BERT_F32_PACKED;
  if (direct && bert_load(model_dir, threads, backend, &bm, &err)) {
    fprintf(stderr, "bench_encoder: %s\n", err.message);
    return 1;
  }
  if (bm && (att_f32 || isa_cap != ENC_CAP_NONE)) {
    enc_kernels k;
    enc_kernels_select(&bm->cpu, isa_cap, &k);
    if (att_f32) k.att = k.vec;
    bert_set_kernels(bm, &k);
  }
  if (bm) bert_forward(bm, (size_t)batch, ids, NULL, lens, out, &err); /* warm-up */
  double rates[100], cpu_rates[100], e2e[100];
  for (int r = 0; r < repeat; r++) {
    double s = now_seconds(), c = cpu_seconds();
    for (int b = 0; b < batches; b++) {
      const int32_t *const *bi = ids + off + (size_t)b * batch;
      const uint32_t *bl = lens + off + (size_t)b * batch;
      if (bm) bert_forward(bm, (size_t)batch, bi, NULL, bl, out, &err);
      else blend_embed_ids(m, bi, bl, (size_t)batch, out, &err);
    }
    rates[r] = (double)timed / (now_seconds() - s);
    cpu_rates[r] = (double)timed / (cpu_seconds() - c);
  }
  /* end to end from text (tokenization inside blend_embed), fewer passes */
  int e2e_rep = repeat < 3 ? repeat : 3;
  for (int r = 0; r < e2e_rep; r++) {
    double s = now_seconds();
    blend_embed(m, (const char *const *)texts + off, tlens + off, timed, out, &err);
    e2e[r] = (double)timed / (now_seconds() - s);
  }
  /* one short query, ~12 tokens */
  const char *q = "What is the effect of vitamin D on bone density?";
  size_t ql = strlen(q);
  double lat[51];
  for (int r = 0; r < 51; r++) {
    double s = now_seconds();
    blend_embed(m, &q, &ql, 1, out, &err);
    lat[r] = now_seconds() - s;
  }
  qsort(rates, (size_t)repeat, sizeof *rates, cmp_d);
  qsort(cpu_rates, (size_t)repeat, sizeof *cpu_rates, cmp_d);
  qsort(e2e, (size_t)e2e_rep, sizeof *e2e, cmp_d);
  qsort(lat, 51, sizeof *lat, cmp_d);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"engine\":\"blend\",\"model\":\"%s\",\"precision\":\"%s\",\"threads\":%d,"
         "\"batch\":%d,\"max_length\":%d,\"texts\":%zu,\"mean_tokens\":%.1f,"
         "\"sentences_per_s_median\":%.2f,\"sentences_per_s_best\":%.2f,"
         "\"sentences_per_s_worst\":%.2f,\"sentences_per_cpu_s_median\":%.2f,"
         "\"end_to_end_sentences_per_s_median\":%.2f,"
         "\"single_text_ms_median\":%.3f,\"load_s\":%.4f,\"peak_rss_mb\":%.1f}\n",
         model_dir, int8 ? (att_f32 ? "int8-attf32" : "int8") : bf16 ? (att_f32 ? "bf16-attf32" : "bf16") : cblas ? "f32-cblas" : "f32", threads, batch, max_length, timed,
         tokens / (double)timed, rates[repeat / 2], rates[repeat - 1], rates[0],
         cpu_rates[repeat / 2], e2e[e2e_rep / 2], lat[25] * 1e3, load_s, (double)ru.ru_maxrss / 1024.0);
  for (size_t i = 0; i < n; i++) {
    wp_encoding_free(&enc[i]);
    free(texts[i]);
  }
  free(enc);
  free(ids);
  free(lens);
  free(texts);
  free(tlens);
  free(out);
  wp_tokenizer_free(tok);
  bert_free(bm);
  blend_model_close(m);
  return 0;
}
