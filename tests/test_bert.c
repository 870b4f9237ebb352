/*
** test_bert.c — the BERT forward pass against the independent float64
** PyTorch reference outputs in ../shared/fixtures (random-weight models in the
** real Hugging Face layout): F32/F16/BF16 bi-encoders from the stored
** input_ids, a padded batch, the F16 cross-encoder, end-to-end from text via
** the public API, the padded simple twin, thread sharing and config errors.
*/
#include <cjson/cJSON.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blend.h"
#include "encoder/bert.h"
#include "encoder/dispatch.h"
#include "encoder/kernels.h"
#include "test.h"
#include "util/util.h"

#define EMB_TOL 1e-5
#define COS_TOL 0.999999
#define SCORE_TOL 1e-4
#define INT8_MIN_COS 0.999

/* One reference record. */
typedef struct rec {
  char *id, *text, *query, *doc;
  int32_t *ids, *types;
  uint32_t len;
  double *emb;
  uint32_t dim;
  double score;
  int has_nul; /* text holds U+0000, which cJSON's C strings cut off */
} rec;

typedef struct recs {
  rec *r;
  size_t n;
} recs;

static int32_t *int_array(const cJSON *a, uint32_t *len) {
  int n = cJSON_GetArraySize(a);
  int32_t *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  int i = 0;
  for (const cJSON *e = a ? a->child : NULL; e; e = e->next) v[i++] = (int32_t)e->valuedouble;
  *len = (uint32_t)n;
  return v;
}

static double *dbl_array(const cJSON *a, uint32_t *len) {
  int n = cJSON_GetArraySize(a);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  int i = 0;
  for (const cJSON *e = a ? a->child : NULL; e; e = e->next) v[i++] = e->valuedouble;
  *len = (uint32_t)n;
  return v;
}

static char *str_dup(const cJSON *s) { return cJSON_IsString(s) ? strdup(s->valuestring) : NULL; }

static int load_recs(const char *path, recs *out) {
  char *data;
  size_t len;
  out->r = NULL;
  out->n = 0;
  if (file_read_all(path, &data, &len, NULL)) return -1;
  size_t cap = 0;
  for (char *line = data, *nl; line < data + len; line = nl + 1) {
    nl = memchr(line, '\n', (size_t)(data + len - line));
    if (!nl) nl = data + len;
    if (nl == line) continue;
    cJSON *o = cJSON_ParseWithLength(line, (size_t)(nl - line));
    if (!o) continue;
    if (out->n == cap) {
      cap = cap ? cap * 2 : 64;
      out->r = realloc(out->r, cap * sizeof *out->r);
    }
    rec *r = &out->r[out->n++];
    memset(r, 0, sizeof *r);
    r->has_nul = memmem(line, (size_t)(nl - line), "\\u0000", 6) != NULL;
    r->id = str_dup(cJSON_GetObjectItem(o, "id"));
    r->text = str_dup(cJSON_GetObjectItem(o, "text"));
    r->query = str_dup(cJSON_GetObjectItem(o, "query"));
    r->doc = str_dup(cJSON_GetObjectItem(o, "document"));
    r->ids = int_array(cJSON_GetObjectItem(o, "input_ids"), &r->len);
    uint32_t tl;
    const cJSON *tt = cJSON_GetObjectItem(o, "token_type_ids");
    if (tt) r->types = int_array(tt, &tl);
    const cJSON *e = cJSON_GetObjectItem(o, "embedding");
    if (e) r->emb = dbl_array(e, &r->dim);
    const cJSON *sc = cJSON_GetObjectItem(o, "score");
    if (sc) r->score = sc->valuedouble;
    cJSON_Delete(o);
  }
  free(data);
  return 0;
}

static void free_recs(recs *rs) {
  for (size_t i = 0; i < rs->n; i++) {
    rec *r = &rs->r[i];
    free(r->id);
    free(r->text);
    free(r->query);
    free(r->doc);
    free(r->ids);
    free(r->types);
    free(r->emb);
  }
  free(rs->r);
}

static const char *fixture(const char *name) {
  static char path[1024];
  const char *sh = test_shared_dir();
  if (!sh) return NULL;
  snprintf(path, sizeof path, "%s/fixtures/%s", sh, name);
  if (access(path, R_OK) != 0) return NULL;
  return path;
}

/* Compare one embedding with the reference; returns 1 if within tolerance. */
static int emb_ok(const float *got, const double *want, uint32_t dim, const char *what,
                  double *worst) {
  double mx = 0, dot = 0, na = 0, nb = 0;
  for (uint32_t i = 0; i < dim; i++) {
    double d = fabs(got[i] - want[i]);
    if (d > mx) mx = d;
    dot += got[i] * want[i];
    na += (double)got[i] * got[i];
    nb += want[i] * want[i];
  }
  double cos = dot / sqrt(na * nb);
  if (mx > *worst) *worst = mx;
  if (!(mx <= EMB_TOL && cos >= COS_TOL)) {
    test_fail(__FILE__, __LINE__, "%s: max abs diff %.3g, cosine %.9f", what, mx, cos);
    return 0;
  }
  return 1;
}

/* Forward every record's stored input_ids in one batch (and each alone),
** compare with the stored embeddings. */
static void check_bi_fixture_cap(const char *name, size_t expect_lines, int backend, int cap) {
  const char *dir = fixture(name);
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  CHECK_EQ_INT(rs.n, expect_lines);
  bert_model *m = NULL;
  blend_error err = {0};
  int rc = bert_load_ex(dir, 2, backend, cap, &m, &err);
  CHECKF(rc == 0, "bert_load: %s", err.message);
  if (rc) {
    free_recs(&rs);
    return;
  }
  uint32_t H = m->cfg.hidden;
  CHECK_EQ_INT(m->cfg.pooling, BERT_POOL_MEAN);
  CHECK(m->cfg.normalize);
  CHECK(!m->cfg.cross);
  const int32_t **ids = malloc(rs.n * sizeof *ids);
  uint32_t *lens = malloc(rs.n * sizeof *lens);
  float *out = malloc(rs.n * H * sizeof *out), *one = malloc(H * sizeof *one);
  for (size_t i = 0; i < rs.n; i++) {
    ids[i] = rs.r[i].ids;
    lens[i] = rs.r[i].len;
  }
  rc = bert_forward(m, rs.n, ids, NULL, lens, out, &err);
  CHECKF(rc == 0, "bert_forward: %s", err.message);
  double worst = 0, worst_diff_single = 0;
  for (size_t i = 0; i < rs.n && !rc; i++) {
    REQUIRE(rs.r[i].dim == H);
    emb_ok(out + i * H, rs.r[i].emb, H, rs.r[i].id, &worst);
    /* alone: same numbers as inside the batch */
    CHECK(bert_forward(m, 1, &ids[i], NULL, &lens[i], one, &err) == 0);
    emb_ok(one, rs.r[i].emb, H, rs.r[i].id, &worst);
    for (uint32_t k = 0; k < H; k++) {
      double d = fabs(one[k] - out[i * H + k]);
      if (d > worst_diff_single) worst_diff_single = d;
    }
  }
  CHECKF(worst_diff_single <= 1e-6, "batch vs single differ by %.3g", worst_diff_single);
  printf("  %s (%s, f32 linear %s, elementwise %s): %zu texts, max abs diff vs reference %.3g, "
         "batch vs single %.3g\n", name, backend == BERT_F32_BLAS ? "cblas" : "packed",
         enc_isa_name(m->kern.f32), enc_isa_name(m->kern.vec), rs.n, worst, worst_diff_single);
  free(ids);
  free(lens);
  free(out);
  free(one);
  bert_free(m);
  free_recs(&rs);
}

static void check_bi_fixture(const char *name, size_t expect_lines, int backend) {
  check_bi_fixture_cap(name, expect_lines, backend, ENC_CAP_NONE);
}

TEST(bi_f32_reference) { check_bi_fixture("bert-tiny-random", 85, BERT_F32_PACKED); }
TEST(bi_f32_reference_cblas) { check_bi_fixture("bert-tiny-random", 85, BERT_F32_BLAS); }
TEST(bi_f16_reference) { check_bi_fixture("bert-tiny-random-f16", 20, BERT_F32_PACKED); }
TEST(bi_bf16_reference) { check_bi_fixture("bert-tiny-random-bf16", 20, BERT_F32_PACKED); }

/* The padded batch of 8: the packed fast path and the padded, masked twin
** must both give the single-text embeddings. */
TEST(padded_batch_changes_nothing) {
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference-batch.json", dir);
  char *data;
  size_t len;
  REQUIRE(file_read_all(path, &data, &len, NULL) == 0);
  cJSON *o = cJSON_ParseWithLength(data, len);
  free(data);
  REQUIRE(o);
  const cJSON *ia = cJSON_GetObjectItem(o, "input_ids"), *ea = cJSON_GetObjectItem(o, "embeddings");
  size_t n = (size_t)cJSON_GetArraySize(ia);
  CHECK_EQ_INT(n, 8);
  bert_model *m = NULL;
  blend_error err = {0};
  int rc = bert_load(dir, 2, BERT_F32_PACKED, &m, &err);
  CHECKF(rc == 0, "bert_load: %s", err.message);
  if (rc) {
    cJSON_Delete(o);
    return;
  }
  uint32_t H = m->cfg.hidden;
  int32_t *ids[8];
  uint32_t lens[8];
  double *want[8];
  const cJSON *ie = ia->child, *ee = ea->child;
  for (size_t i = 0; i < n && i < 8; i++, ie = ie->next, ee = ee->next) {
    uint32_t d;
    ids[i] = int_array(ie, &lens[i]);
    want[i] = dbl_array(ee, &d);
    CHECK_EQ_INT(d, H);
  }
  CHECK_EQ_INT(lens[2], 128); /* the longest: the others are padded to it */
  float *fast = malloc(n * H * sizeof *fast), *ref = malloc(n * H * sizeof *ref);
  CHECK(bert_forward(m, n, (const int32_t *const *)ids, NULL, lens, fast, &err) == 0);
  CHECKF(bert_forward_ref(m, n, (const int32_t *const *)ids, NULL, lens, ref, &err) == 0, "%s",
         err.message);
  double worst = 0, twin = 0;
  for (size_t i = 0; i < n; i++) {
    char what[64];
    snprintf(what, sizeof what, "batch[%zu] fast", i);
    emb_ok(fast + i * H, want[i], H, what, &worst);
    snprintf(what, sizeof what, "batch[%zu] padded twin", i);
    emb_ok(ref + i * H, want[i], H, what, &worst);
    for (uint32_t k = 0; k < H; k++)
      if (fabs(fast[i * H + k] - ref[i * H + k]) > twin) twin = fabs(fast[i * H + k] - ref[i * H + k]);
  }
  CHECKF(twin <= 1e-5, "fast vs twin %.3g", twin);
  printf("  batch of 8: max abs diff vs reference %.3g, fast vs padded twin %.3g\n", worst, twin);
  for (size_t i = 0; i < n; i++) {
    free(ids[i]);
    free(want[i]);
  }
  free(fast);
  free(ref);
  bert_free(m);
  cJSON_Delete(o);
}

TEST(cross_f16_reference) {
  const char *dir = fixture("cross-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  CHECK_EQ_INT(rs.n, 61);
  bert_model *m = NULL;
  blend_error err = {0};
  int rc = bert_load(dir, 2, BERT_F32_PACKED, &m, &err);
  CHECKF(rc == 0, "bert_load: %s", err.message);
  if (rc) {
    free_recs(&rs);
    return;
  }
  CHECK(m->cfg.cross);
  const int32_t **ids = malloc(rs.n * sizeof *ids), **types = malloc(rs.n * sizeof *types);
  uint32_t *lens = malloc(rs.n * sizeof *lens);
  float *sc = malloc(rs.n * sizeof *sc), ref[4];
  for (size_t i = 0; i < rs.n; i++) {
    ids[i] = rs.r[i].ids;
    types[i] = rs.r[i].types;
    lens[i] = rs.r[i].len;
  }
  CHECKF(bert_forward(m, rs.n, ids, types, lens, sc, &err) == 0, "%s", err.message);
  double worst = 0;
  for (size_t i = 0; i < rs.n; i++) {
    double d = fabs(sc[i] - rs.r[i].score);
    if (d > worst) worst = d;
    CHECKF(d <= SCORE_TOL, "%s: score %.9f vs reference %.9f", rs.r[i].id, sc[i], rs.r[i].score);
  }
  /* the padded twin on a few pairs of different lengths */
  CHECK(bert_forward_ref(m, 4, ids, types, lens, ref, &err) == 0);
  for (size_t i = 0; i < 4; i++) CHECK_NEAR(ref[i], rs.r[i].score, SCORE_TOL);
  printf("  cross-encoder: %zu pairs, max |score diff| %.3g\n", rs.n, worst);
  free(ids);
  free(types);
  free(lens);
  free(sc);
  bert_free(m);
  free_recs(&rs);
}

/* Kernels against their scalar twins. */
TEST(kernels_match_twins) {
  float x[2001];
  for (int i = 0; i <= 2000; i++) x[i] = -8.0f + (float)i * 0.008f;
  float g[2001];
  memcpy(g, x, sizeof x);
  k_gelu(g, 2001);
  double mx = 0;
  for (int i = 0; i <= 2000; i++) mx = fmax(mx, fabs(g[i] - k_ref_gelu(x[i])));
  CHECKF(mx < 2e-6, "gelu vs erf twin: %.3g", mx);
  /* exp over the softmax range, relative */
  float e[2001], xs[2001];
  for (int i = 0; i <= 2000; i++) xs[i] = -80.0f + (float)i * 0.04f;
  k_exp(xs, e, 2001);
  mx = 0;
  for (int i = 0; i <= 2000; i++) mx = fmax(mx, fabs(e[i] / exp((double)xs[i]) - 1));
  CHECKF(mx < 5e-7, "exp relative error %.3g", mx);
  /* residual + LayerNorm vs the double twin (n = 383: a ragged tail) */
  float a[383], r[383], g2[383], b2[383], t[383];
  for (int i = 0; i < 383; i++) {
    a[i] = sinf((float)i) * 3.0f + 0.5f;
    r[i] = cosf((float)i * 0.7f);
    g2[i] = 1.0f + 0.01f * (float)(i % 7);
    b2[i] = 0.02f * (float)(i % 5);
    t[i] = a[i] + r[i];
  }
  k_add_layernorm(a, r, 383, g2, b2, 1e-12f);
  k_ref_layernorm(t, 383, g2, b2, 1e-12f);
  mx = 0;
  for (int i = 0; i < 383; i++) mx = fmax(mx, fabs(a[i] - t[i]));
  CHECKF(mx < 2e-6, "layernorm vs twin: %.3g", mx);
  /* attention: a long sequence (several key blocks) vs the masked twin */
  size_t T = 300, d = 32, ld = 3 * d;
  float *qkv = malloc(T * ld * sizeof *qkv), *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4);
  float *scr = malloc(k_attention_scratch(T, d) * 4);
  uint8_t *mask = malloc(T);
  unsigned s = 1;
  for (size_t i = 0; i < T * ld; i++) {
    s = s * 1103515245u + 12345u;
    qkv[i] = (float)((s >> 8) & 0xffff) / 65536.0f * 6.0f - 3.0f;
  }
  memset(mask, 1, T);
  k_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, 0.5f, o1, d, scr);
  k_ref_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, mask, 0.5f, o2, d);
  mx = 0;
  for (size_t i = 0; i < T * d; i++) mx = fmax(mx, fabs(o1[i] - o2[i]));
  CHECKF(mx < 1e-5, "attention vs twin: %.3g", mx);
  /* masking the tail keys of the twin == the fast kernel on the prefix */
  memset(mask + 100, 0, T - 100);
  k_attention(qkv, qkv + d, qkv + 2 * d, ld, 100, d, 0.5f, o1, d, scr);
  k_ref_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, mask, 0.5f, o2, d);
  mx = 0;
  for (size_t i = 0; i < 100 * d; i++) mx = fmax(mx, fabs(o1[i] - o2[i]));
  CHECKF(mx < 1e-5, "masked attention vs prefix: %.3g", mx);
  free(qkv);
  free(o1);
  free(o2);
  free(scr);
  free(mask);
}

/* End to end from text through the public API (tokenizer + forward). */
TEST(embed_text_end_to_end) {
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  blend_model_options o;
  blend_model_options_default(&o);
  o.threads = 2;
  o.batch = 16;
  blend_model *m = NULL;
  blend_error err = {0};
  int rc = blend_model_open(dir, &o, &m, &err);
  CHECKF(rc == 0, "open: %s", err.message);
  if (rc) {
    free_recs(&rs);
    return;
  }
  CHECK_EQ_INT(blend_model_dim(m), 128);
  CHECK_EQ_INT(blend_model_max_length(m), 128);
  CHECK(!blend_model_is_cross_encoder(m));
  const char **texts = malloc(rs.n * sizeof *texts);
  size_t *lens = malloc(rs.n * sizeof *lens);
  float *out = malloc(rs.n * 128 * sizeof *out);
  for (size_t i = 0; i < rs.n; i++) {
    texts[i] = rs.r[i].text;
    lens[i] = strlen(rs.r[i].text);
  }
  CHECKF(blend_embed(m, texts, lens, rs.n, out, &err) == 0, "%s", err.message);
  double worst = 0;
  size_t skipped = 0;
  for (size_t i = 0; i < rs.n; i++) {
    if (rs.r[i].has_nul) {
      skipped++;
      continue;
    }
    emb_ok(out + i * 128, rs.r[i].emb, 128, rs.r[i].id, &worst);
  }
  printf("  embed from text: %zu texts (%zu with U+0000 not comparable), max abs diff %.3g\n",
         rs.n, skipped, worst);
  /* a cross-encoder call on a bi-encoder is refused */
  float sc;
  CHECK(blend_rerank(m, "q", 1, texts, lens, 1, &sc, &err) == BLEND_EINVAL);
  free(texts);
  free(lens);
  free(out);
  blend_model_close(m);
  free_recs(&rs);
}

TEST(rerank_text_end_to_end) {
  const char *dir = fixture("cross-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  blend_model_options o;
  blend_model_options_default(&o);
  o.max_length = 256;
  blend_model *m = NULL;
  blend_error err = {0};
  int rc = blend_model_open(dir, &o, &m, &err);
  CHECKF(rc == 0, "open: %s", err.message);
  if (rc) {
    free_recs(&rs);
    return;
  }
  CHECK(blend_model_is_cross_encoder(m));
  double worst = 0;
  for (size_t i = 0; i < rs.n; i++) {
    const char *doc = rs.r[i].doc;
    size_t dl = strlen(doc);
    float sc = 0;
    CHECKF(blend_rerank(m, rs.r[i].query, strlen(rs.r[i].query), &doc, &dl, 1, &sc, &err) == 0,
           "%s", err.message);
    double d = fabs(sc - rs.r[i].score);
    if (d > worst) worst = d;
    CHECKF(d <= SCORE_TOL, "%s: %.9f vs %.9f", rs.r[i].id, sc, rs.r[i].score);
  }
  printf("  rerank from text: %zu pairs, max |diff| %.3g\n", rs.n, worst);
  blend_model_close(m);
  free_recs(&rs);
}

typedef struct share_arg {
  blend_model *m;
  const int32_t *const *ids;
  const uint32_t *lens;
  size_t n;
  float *out;
  int rc;
} share_arg;

static void *share_main(void *p) {
  share_arg *a = p;
  for (int rep = 0; rep < 3 && !a->rc; rep++)
    a->rc = blend_embed_ids(a->m, a->ids, a->lens, a->n, a->out, NULL);
  return NULL;
}

/* One model used by several threads at once gives the single-thread answers. */
TEST(model_shared_between_threads) {
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  blend_model *m = NULL;
  blend_error err = {0};
  blend_model_options o;
  blend_model_options_default(&o);
  o.threads = 2;
  int rc = blend_model_open(dir, &o, &m, &err);
  CHECKF(rc == 0, "open: %s", err.message);
  if (rc) {
    free_recs(&rs);
    return;
  }
  size_t n = 12;
  const int32_t *ids[12];
  uint32_t lens[12];
  for (size_t i = 0; i < n; i++) {
    ids[i] = rs.r[i * 7].ids;
    lens[i] = rs.r[i * 7].len;
  }
  share_arg a[3];
  pthread_t th[3];
  for (int t = 0; t < 3; t++) {
    a[t] = (share_arg){m, ids, lens, n, malloc(n * 128 * sizeof(float)), 0};
    pthread_create(&th[t], NULL, share_main, &a[t]);
  }
  for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
  double worst = 0;
  for (int t = 0; t < 3; t++) {
    CHECK_EQ_INT(a[t].rc, 0);
    for (size_t i = 0; i < n; i++)
      emb_ok(a[t].out + i * 128, rs.r[i * 7].emb, 128, rs.r[i * 7].id, &worst);
    free(a[t].out);
  }
  blend_model_close(m);
  free_recs(&rs);
}

/* A copy of a fixture directory with config.json replaced (weights linked). */
static const char *model_variant(const char *src, const char *name, const char *key,
                                 const char *json_value) {
  static char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
  mkdir(dir, 0755);
  const char *files[] = {"model.safetensors", "vocab.txt", "tokenizer_config.json",
                         "modules.json", "sentence_bert_config.json", "1_Pooling"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/%s", src, files[i]);
    snprintf(b, sizeof b, "%s/%s", dir, files[i]);
    if (symlink(a, b) != 0) return NULL;
  }
  char p[1200], *text;
  size_t len;
  snprintf(p, sizeof p, "%s/config.json", src);
  if (file_read_all(p, &text, &len, NULL)) return NULL;
  cJSON *c = cJSON_Parse(text);
  free(text);
  cJSON_DeleteItemFromObject(c, key);
  cJSON_AddItemToObject(c, key, cJSON_Parse(json_value));
  char *out = cJSON_Print(c);
  snprintf(p, sizeof p, "%s/config.json", dir);
  int rc = file_write_atomic(p, out, strlen(out), NULL);
  free(out);
  cJSON_Delete(c);
  return rc ? NULL : dir;
}

TEST(config_errors_are_clear) {
  const char *src = fixture("bert-tiny-random");
  if (!src) SKIP("../shared/fixtures not found");
  char srcdir[PATH_MAX];
  REQUIRE(realpath(src, srcdir) != NULL);
  blend_model *m = NULL;
  blend_error err = {0};
  /* unsupported activation */
  const char *d = model_variant(srcdir, "act", "hidden_act", "\"gelu_new\"");
  REQUIRE(d);
  CHECK(blend_model_open(d, NULL, &m, &err) == BLEND_EUNSUPPORTED);
  CHECKF(strstr(err.message, "hidden_act") && strstr(err.message, "gelu_new") &&
             strstr(err.message, "config.json"),
         "message: %s", err.message);
  /* a config whose shapes disagree with the weights: names the tensor */
  d = model_variant(srcdir, "inter", "intermediate_size", "256");
  REQUIRE(d);
  CHECK(blend_model_open(d, NULL, &m, &err) == BLEND_ECORRUPT);
  CHECKF(strstr(err.message, "encoder.layer.0.intermediate.dense.weight") &&
             strstr(err.message, "[512, 128]"),
         "message: %s", err.message);
  /* missing directory: names the file */
  CHECK(blend_model_open("/nonexistent/model", NULL, &m, &err) == BLEND_ENOTFOUND);
  CHECKF(strstr(err.message, "/nonexistent/model/config.json") != NULL, "message: %s",
         err.message);
  CHECK(m == NULL);
}

/* int8 linear layers: approximate, but must stay close to the float
** reference (cosine) and keep the ranking of cross-encoder scores. */
/* A quantised / reduced-precision backend on the bi-encoder fixture: every
** embedding within min_cos of the float64 reference (and not suspiciously
** exact). */
/* The bi-encoder fixture's reference texts as a batch for bert_forward,
** with the model loaded at (backend, cap) on 2 threads. */
typedef struct ref_batch {
  recs rs;
  const int32_t **ids;
  uint32_t *lens;
  bert_model *m;
} ref_batch;

static int ref_batch_open(int backend, int cap, ref_batch *b) {
  memset(b, 0, sizeof *b);
  const char *dir = fixture("bert-tiny-random");
  if (!dir) return 1;
  char path[1200];
  snprintf(path, sizeof path, "%s/reference.jsonl", dir);
  if (load_recs(path, &b->rs) != 0) {
    CHECKF(0, "cannot read %s", path);
    return -1;
  }
  blend_error err = {0};
  int rc = bert_load_ex(dir, 2, backend, cap, &b->m, &err);
  CHECKF(rc == 0, "bert_load: %s", err.message);
  if (rc) {
    free_recs(&b->rs);
    return -1;
  }
  b->ids = malloc(b->rs.n * sizeof *b->ids);
  b->lens = malloc(b->rs.n * sizeof *b->lens);
  for (size_t i = 0; i < b->rs.n; i++) b->ids[i] = b->rs.r[i].ids, b->lens[i] = b->rs.r[i].len;
  return 0;
}

static void ref_batch_close(ref_batch *b) {
  free(b->ids);
  free(b->lens);
  bert_free(b->m);
  free_recs(&b->rs);
}

static void check_close_to_reference(int backend, int cap, double want_cos) {
  ref_batch rb;
  int rc = ref_batch_open(backend, cap, &rb);
  if (rc > 0) SKIP("../shared/fixtures not found");
  if (rc < 0) return;
  recs rs = rb.rs;
  bert_model *m = rb.m;
  blend_error err = {0};
  uint32_t H = m->cfg.hidden;
  const int32_t **ids = rb.ids;
  uint32_t *lens = rb.lens;
  float *out = malloc(rs.n * H * sizeof *out);
  CHECK(bert_forward(m, rs.n, ids, NULL, lens, out, &err) == 0);
  double min_cos = 1, max_abs = 0;
  for (size_t i = 0; i < rs.n; i++) {
    double dot = 0, na = 0, nb = 0;
    for (uint32_t k = 0; k < H; k++) {
      double a = out[i * H + k], b = rs.r[i].emb[k];
      dot += a * b;
      na += a * a;
      nb += b * b;
      max_abs = fmax(max_abs, fabs(a - b));
    }
    min_cos = fmin(min_cos, dot / sqrt(na * nb));
  }
  const char *what = backend == BERT_INT8 ? "int8" : "bf16";
  CHECKF(min_cos >= want_cos, "%s min cosine %.6f < %.6f", what, min_cos, want_cos);
  CHECKF(max_abs > 1e-6, "%s suspiciously exact (%.3g): is it really quantising?", what, max_abs);
  printf("  %s bi-encoder (linear %s, attention %s): min cosine vs float64 reference %.6f, max abs "
         "diff %.3g\n", what, enc_isa_name(backend == BERT_INT8 ? m->kern.q8 : m->kern.bf16),
         backend == BERT_INT8 ? enc_isa_name(m->kern.att) : enc_isa_name(m->kern.vec), min_cos,
         max_abs);
  free(out);
  ref_batch_close(&rb);
}

/* BLEND_ISA_CAP caps what a load picks; a value naming nothing fails with
** the variable named, never a silent full-speed load. */
TEST(isa_cap_from_environment) {
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  bert_model *m = NULL;
  blend_error err = {0};
  setenv("BLEND_ISA_CAP", "scalar", 1);
  CHECK(bert_load(dir, 1, BERT_INT8, &m, &err) == 0);
  if (m) CHECK(m->kern.q8 == ENC_SCALAR && m->kern.f32 == ENC_SCALAR && m->kern.att == ENC_SCALAR);
  bert_free(m);
  m = NULL;
  setenv("BLEND_ISA_CAP", "avx513", 1);
  CHECK(bert_load(dir, 1, BERT_INT8, &m, &err) == BLEND_EINVAL && m == NULL);
  CHECK(strstr(err.message, "BLEND_ISA_CAP=avx513") != NULL);
  unsetenv("BLEND_ISA_CAP");
  CHECK(bert_load(dir, 1, BERT_INT8, &m, &err) == 0);
  if (m) CHECK(m->kern.q8 == enc_kernels_default().q8);
  bert_free(m);
}

TEST(int8_backend_close_to_reference) { check_close_to_reference(BERT_INT8, ENC_CAP_NONE, INT8_MIN_COS); }

/* SKIP unless this CPU runs isa (a visible line naming the missing unit). */
#define NEED_ISA(isa)                                                                    \
  do {                                                                                   \
    cpu_features f_;                                                                     \
    cpu_detect(&f_);                                                                     \
    if (!enc_isa_supported(&f_, isa)) SKIP("this CPU lacks the " #isa " kernels' unit");  \
  } while (0)

/* The whole forward pass forced onto each build the machine has (f32 vs the
** float64 reference at the usual 1e-5; int8 at its cosine bound). */
TEST(forward_scalar_build) {
  check_bi_fixture_cap("bert-tiny-random", 85, BERT_F32_PACKED, ENC_SCALAR);
  check_close_to_reference(BERT_INT8, ENC_SCALAR, INT8_MIN_COS);
}
TEST(forward_avx2_build) {
  NEED_ISA(ENC_AVX2);
  check_bi_fixture_cap("bert-tiny-random", 85, BERT_F32_PACKED, ENC_AVX2);
  check_close_to_reference(BERT_INT8, ENC_AVX2, INT8_MIN_COS);
}
TEST(forward_avxvnni_build) {
  NEED_ISA(ENC_AVX_VNNI);
  check_close_to_reference(BERT_INT8, ENC_AVX_VNNI, INT8_MIN_COS); /* int16 attention */
}
TEST(forward_avx512_build) {
  NEED_ISA(ENC_AVX512_VNNI);
  check_bi_fixture_cap("bert-tiny-random", 85, BERT_F32_PACKED, ENC_AVX512_VNNI);
  check_close_to_reference(BERT_INT8, ENC_AVX512_VNNI, INT8_MIN_COS); /* int16 attention */
}
TEST(forward_bf16_build) {
  NEED_ISA(ENC_AVX512_BF16);
  check_close_to_reference(BERT_BF16, ENC_AVX512_BF16, 0.9999);
  check_close_to_reference(BERT_INT8, ENC_AVX512_BF16, INT8_MIN_COS); /* bf16 attention */
}
TEST(forward_amx_build) {
  NEED_ISA(ENC_AMX_INT8);
  check_close_to_reference(BERT_INT8, ENC_AMX_INT8, INT8_MIN_COS);
  NEED_ISA(ENC_AMX_BF16);
  check_close_to_reference(BERT_BF16, ENC_AMX_BF16, 0.9999);
}

/* The int8 linear builds compute the same integers, so with everything
** else pinned (elementwise and attention on one float build) the whole
** forward pass gives the same embedding bits on every int8 build the CPU
** has: scalar, AVX2, AVX-VNNI, AVX-512 VNNI and AMX tiles — the builds
** inside a real model, with its shapes, splits and threads. */
TEST(int8_forward_identical_on_every_int8_build) {
  ref_batch bt;
  int rc = ref_batch_open(BERT_INT8, ENC_CAP_NONE, &bt);
  if (rc > 0) SKIP("../shared/fixtures not found");
  if (rc < 0) return;
  bert_model *m = bt.m;
  blend_error err = {0};
  size_t n = bt.rs.n;
  uint32_t H = m->cfg.hidden;
  float *first = malloc(n * H * sizeof *first), *out = malloc(n * H * sizeof *out);
  static const int builds[] = {ENC_SCALAR, ENC_AVX2, ENC_AVX_VNNI, ENC_AVX512_VNNI, ENC_AMX_INT8};
  enc_kernels k = m->kern;
  k.att = k.vec; /* float32 attention: the int8 precision's bf16/int16 ones differ by build */
  int ran = 0;
  for (size_t b = 0; b < sizeof builds / sizeof *builds; b++) {
    if (!enc_isa_supported(&m->cpu, builds[b])) {
      printf("  int8 build %s: not on this CPU, skipped\n", enc_isa_name(builds[b]));
      continue;
    }
    k.q8 = builds[b];
    bert_set_kernels(m, &k);
    CHECK(bert_forward(m, n, bt.ids, NULL, bt.lens, ran ? out : first, &err) == 0);
    if (ran) {
      size_t bad = 0;
      for (size_t i = 0; i < n * H; i++) bad += memcmp(&first[i], &out[i], 4) != 0;
      CHECKF(bad == 0, "int8 build %s: %zu of %zu embedding values differ from the %s build's",
             enc_isa_name(builds[b]), bad, n * (size_t)H, enc_isa_name(builds[0]));
    }
    ran++;
  }
  CHECK(ran >= 1);
  free(first), free(out);
  ref_batch_close(&bt);
}

/* bf16 mode multiplies the feed-forward layers in bf16 and keeps the
** attention block's projections in float32 (bf16 there costs real texts
** their 0.9999 cosine): every layer, and the int8 and f32 modes untouched. */
TEST(bf16_mode_layer_precisions) {
  NEED_ISA(ENC_AVX512_BF16);
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  static const int backends[3] = {BERT_BF16, BERT_INT8, BERT_F32_PACKED};
  for (int b = 0; b < 3; b++) {
    bert_model *m = NULL;
    blend_error err = {0};
    int rc = bert_load(dir, 1, backends[b], &m, &err);
    CHECKF(rc == 0, "load: %s", err.message);
    if (rc) return;
    int attn = backends[b] == BERT_BF16 ? BERT_F32_PACKED : backends[b];
    for (uint32_t l = 0; l < m->cfg.layers; l++) {
      const bert_layer *L = &m->layers[l];
      CHECK_EQ_INT(L->qkv.prec, attn);
      CHECK_EQ_INT(L->ao.prec, attn);
      CHECK_EQ_INT(L->in.prec, backends[b]);
      CHECK_EQ_INT(L->out.prec, backends[b]);
    }
    bert_free(m);
  }
}

/* --bf16 on a CPU without AVX-512 BF16 (simulated by capping the kernels):
** a clear error, no silent fallback. */
TEST(bf16_without_unit_fails_clearly) {
  const char *dir = fixture("bert-tiny-random");
  if (!dir) SKIP("../shared/fixtures not found");
  bert_model *m = NULL;
  blend_error err = {0};
  CHECK_EQ_INT(bert_load_ex(dir, 1, BERT_BF16, ENC_AVX512_VNNI, &m, &err), BLEND_EUNSUPPORTED);
  CHECK(m == NULL);
  CHECKF(strstr(err.message, "AVX-512 BF16") != NULL, "message: %s", err.message);
}

/* Run a shell command; capture stdout (malloc'd) and the exit status. */
static char *run_cmd(const char *cmd, int *status, size_t *len) {
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  bbuf b = {0};
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, p)) > 0) bbuf_append(&b, tmp, n);
  bbuf_putc(&b, 0);
  int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (len) *len = b.len - 1;
  return (char *)b.data;
}

TEST(cli_embed_and_rerank) {
  const char *bi = fixture("bert-tiny-random");
  if (!bi) SKIP("../shared/fixtures not found");
  char bidir[PATH_MAX], crossdir[PATH_MAX];
  REQUIRE(realpath(bi, bidir));
  const char *cr = fixture("cross-tiny-random");
  REQUIRE(cr && realpath(cr, crossdir));
  const char *bin = test_blend_bin();
  if (access(bin, X_OK) != 0) SKIP("blend binary not built");
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/reference.jsonl", bidir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  /* JSONL input with ids: records 0..4 */
  char in[PATH_MAX], cmd[4 * PATH_MAX];
  snprintf(in, sizeof in, "%s/embed-in.jsonl", test_tmpdir());
  FILE *f = fopen(in, "w");
  REQUIRE(f);
  for (size_t i = 0; i < 5; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "_id", rs.r[i].id);
    cJSON_AddStringToObject(o, "text", rs.r[i].text);
    char *s = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(o);
  }
  fclose(f);
  int st;
  size_t len;
  snprintf(cmd, sizeof cmd, "%s embed --model '%s' --batch 2 --threads 2 < '%s'", bin, bidir, in);
  char *out = run_cmd(cmd, &st, &len);
  REQUIRE(out);
  CHECK_EQ_INT(st, 0);
  size_t lines = 0;
  double worst = 0;
  for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
    *nl = 0;
    cJSON *o = cJSON_Parse(line);
    REQUIRE(o && lines < 5);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "id")), rs.r[lines].id);
    uint32_t d;
    double *e = dbl_array(cJSON_GetObjectItem(o, "embedding"), &d);
    CHECK_EQ_INT(d, 128);
    float v[128];
    for (uint32_t k = 0; k < 128 && k < d; k++) v[k] = (float)e[k];
    if (d == 128) emb_ok(v, rs.r[lines].emb, 128, rs.r[lines].id, &worst);
    free(e);
    cJSON_Delete(o);
  }
  CHECK_EQ_INT(lines, 5);
  free(out);
  /* raw float32 rows */
  snprintf(cmd, sizeof cmd, "%s embed --model '%s' --format f32 < '%s'", bin, bidir, in);
  out = run_cmd(cmd, &st, &len);
  CHECK_EQ_INT(st, 0);
  CHECK_EQ_INT(len, 5 * 128 * 4);
  if (len == 5 * 128 * 4) {
    float v[128];
    memcpy(v, out + 3 * 128 * 4, sizeof v);
    emb_ok(v, rs.r[3].emb, 128, "f32 row 3", &worst);
  }
  free(out);
  /* usage and runtime errors */
  snprintf(cmd, sizeof cmd, "%s embed < /dev/null 2>/dev/null", bin);
  free(run_cmd(cmd, &st, NULL));
  CHECK_EQ_INT(st, 2);
  snprintf(cmd, sizeof cmd, "%s embed --model /nonexistent/m < /dev/null 2>&1", bin);
  out = run_cmd(cmd, &st, NULL);
  CHECK_EQ_INT(st, 1);
  CHECKF(out && strstr(out, "/nonexistent/m/config.json"), "message: %s", out ? out : "");
  free(out);
  snprintf(cmd, sizeof cmd, "%s embed --model '%s' < '%s' 2>&1", bin, crossdir, in);
  out = run_cmd(cmd, &st, NULL);
  CHECK_EQ_INT(st, 1);
  CHECKF(out && strstr(out, "cross-encoder"), "message: %s", out ? out : "");
  free(out);
  free_recs(&rs);

  /* rerank: documents of the first reference query, best first */
  snprintf(path, sizeof path, "%s/reference.jsonl", crossdir);
  REQUIRE(load_recs(path, &rs) == 0);
  snprintf(in, sizeof in, "%s/rerank-in.jsonl", test_tmpdir());
  f = fopen(in, "w");
  REQUIRE(f);
  size_t ndocs = 0;
  double best = -1e9;
  for (size_t i = 0; i < rs.n; i++) {
    if (strcmp(rs.r[i].query, rs.r[0].query)) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", rs.r[i].id);
    cJSON_AddStringToObject(o, "text", rs.r[i].doc);
    char *s = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", s);
    free(s);
    cJSON_Delete(o);
    ndocs++;
    if (rs.r[i].score > best) best = rs.r[i].score;
  }
  fclose(f);
  REQUIRE(ndocs >= 2);
  char *q = strdup(rs.r[0].query);
  for (char *c = q; *c; c++)
    if (*c == '\'') *c = ' ';
  snprintf(cmd, sizeof cmd, "%s rerank --model '%s' --max-length 256 --query '%s' -k 1 < '%s'",
           bin, crossdir, q, in);
  out = run_cmd(cmd, &st, NULL);
  CHECK_EQ_INT(st, 0);
  double top = out ? atof(out) : 0;
  if (!strchr(rs.r[0].query, '\'')) CHECK_NEAR(top, best, 1e-4);
  CHECKF(out && strchr(out, '\t') && strchr(out, '\n') == strrchr(out, '\n'), "output: %s",
         out ? out : "");
  free(out);
  free(q);
  printf("  CLI: 5 embeddings (max abs diff %.3g), rerank of %zu docs top score %.6f\n", worst,
         ndocs, top);
  free_recs(&rs);
}

/* A copy of the bi-encoder fixture with its own modules.json and pooling
** config (weights and the rest linked). */
static const char *pooling_variant(const char *src, const char *name, const char *modules,
                                   const char *pooling) {
  static char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
  mkdir(dir, 0755);
  const char *files[] = {"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json",
                         "sentence_bert_config.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/%s", src, files[i]);
    snprintf(b, sizeof b, "%s/%s", dir, files[i]);
    if (symlink(a, b) != 0) return NULL;
  }
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/modules.json", dir);
  if (file_write_atomic(p, modules, strlen(modules), NULL)) return NULL;
  snprintf(p, sizeof p, "%s/1_Pooling", dir);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/1_Pooling/config.json", dir);
  if (file_write_atomic(p, pooling, strlen(pooling), NULL)) return NULL;
  return dir;
}

/* CLS and max pooling, and no Normalize module: the packed fast path must
** agree with the padded twin's independent masked pooling, and only a
** Normalize module makes unit vectors. */
TEST(pooling_modes_and_normalize) {
  const char *src = fixture("bert-tiny-random");
  if (!src) SKIP("../shared/fixtures not found");
  char srcdir[PATH_MAX];
  REQUIRE(realpath(src, srcdir) != NULL);
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/reference.jsonl", srcdir);
  recs rs;
  REQUIRE(load_recs(path, &rs) == 0);
  const char *mods_norm =
      "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
      "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
      "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]";
  const char *mods_plain =
      "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
      "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]";
  struct {
    const char *name, *modules, *pooling;
    int mode, normalize;
  } v[] = {
      {"cls", mods_norm, "{\"word_embedding_dimension\":128,\"pooling_mode_cls_token\":true}",
       BERT_POOL_CLS, 1},
      {"max", mods_norm, "{\"word_embedding_dimension\":128,\"pooling_mode_max_tokens\":true}",
       BERT_POOL_MAX, 1},
      {"mean-plain", mods_plain,
       "{\"word_embedding_dimension\":128,\"pooling_mode_mean_tokens\":true}", BERT_POOL_MEAN, 0},
  };
  size_t n = 10;
  const int32_t *ids[10];
  uint32_t lens[10];
  for (size_t i = 0; i < n; i++) {
    ids[i] = rs.r[i * 8].ids;
    lens[i] = rs.r[i * 8].len;
  }
  for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
    const char *dir = pooling_variant(srcdir, v[k].name, v[k].modules, v[k].pooling);
    REQUIRE(dir);
    bert_model *m = NULL;
    blend_error err = {0};
    int rc = bert_load(dir, 2, BERT_F32_PACKED, &m, &err);
    CHECKF(rc == 0, "%s: %s", v[k].name, err.message);
    if (rc) continue;
    CHECK_EQ_INT(m->cfg.pooling, v[k].mode);
    CHECK_EQ_INT(m->cfg.normalize, v[k].normalize);
    float fast[10 * 128], ref[10 * 128];
    CHECK(bert_forward(m, n, ids, NULL, lens, fast, &err) == 0);
    CHECK(bert_forward_ref(m, n, ids, NULL, lens, ref, &err) == 0);
    double mx = 0, norm_dev = 0, cls_vs_mean = 0;
    for (size_t i = 0; i < n; i++) {
      double nn = 0;
      for (size_t c = 0; c < 128; c++) {
        mx = fmax(mx, fabs(fast[i * 128 + c] - ref[i * 128 + c]));
        nn += (double)fast[i * 128 + c] * fast[i * 128 + c];
        cls_vs_mean = fmax(cls_vs_mean, fabs(fast[i * 128 + c] - rs.r[i * 8].emb[c]));
      }
      norm_dev = fmax(norm_dev, fabs(sqrt(nn) - 1));
    }
    CHECKF(mx <= 1e-5, "%s: fast vs twin %.3g", v[k].name, mx);
    if (v[k].normalize) CHECKF(norm_dev < 1e-5, "%s: not unit length (%.3g)", v[k].name, norm_dev);
    else CHECKF(norm_dev > 1e-2, "%s: unit length without a Normalize module", v[k].name);
    /* a different pooling really is different from the mean reference */
    if (v[k].mode != BERT_POOL_MEAN) CHECKF(cls_vs_mean > 1e-2, "%s equals mean pooling", v[k].name);
    bert_free(m);
  }
  /* unsupported pooling is refused, naming the file and mode */
  const char *bad = pooling_variant(srcdir, "lasttoken", mods_norm,
                                    "{\"pooling_mode_lasttoken\":true}");
  REQUIRE(bad);
  bert_model *m = NULL;
  blend_error err = {0};
  CHECK(bert_load(bad, 1, BERT_F32_PACKED, &m, &err) == BLEND_EUNSUPPORTED);
  CHECKF(strstr(err.message, "1_Pooling/config.json") && strstr(err.message, "lasttoken"),
         "message: %s", err.message);
  free_recs(&rs);
}
