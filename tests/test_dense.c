/*
** test_dense.c — the dense leg through the index: documents with vectors
** (given, or encoded by the index's model), one or several segments with
** deletions, against a brute-force cosine written here; filters on
** metadata (never a filtered-out hit, k hits whenever k pass, down to 0.1%
** selectivity); persistence (reopen = same results); lookups by id; the
** model identity check; and `blend search --mode dense` equal to a brute
** force over `blend embed` outputs on SciFact texts.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

#define DIM 24
#define NDOC 2000

static char dirbuf[600];
static const char *fresh_dir(const char *name) {
  snprintf(dirbuf, sizeof dirbuf, "%s/%s", test_tmpdir(), name);
  return dirbuf;
}

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}
static double gauss(void) {
  double u = urand() + 1e-12, v = urand();
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* Clustered vectors: 20 centres, noise around them. */
static float vecs[NDOC][DIM];
static void make_vectors(void) {
  static float centres[20][DIM];
  for (int c = 0; c < 20; c++)
    for (int d = 0; d < DIM; d++) centres[c][d] = (float)gauss();
  for (int i = 0; i < NDOC; i++) {
    int c = (int)(urand() * 20);
    for (int d = 0; d < DIM; d++) vecs[i][d] = centres[c][d] + 0.35f * (float)gauss();
  }
}

static void docid(char *buf, int i) { snprintf(buf, 32, "doc%04d", i); }

/* Add docs [lo, hi) with metadata: "bucket" = i % 1000 (number), "parity"
** = "even"/"odd" (string). */
static int add_range(blend_writer *w, int lo, int hi) {
  for (int i = lo; i < hi; i++) {
    char id[32], text[64];
    docid(id, i);
    snprintf(text, sizeof text, "document number %d", i);
    blend_field_value f[1] = {{"text", text, strlen(text)}};
    blend_meta_value m[2] = {{"bucket", BLEND_META_NUMBER, (double)(i % 1000), NULL, 0},
                             {"parity", BLEND_META_STRING, 0, i % 2 ? "odd" : "even", i % 2 ? 3 : 4}};
    blend_doc d = {.id = id, .id_len = strlen(id), .fields = f, .nfields = 1, .meta = m, .nmeta = 2,
                   .vector = vecs[i], .vector_dim = DIM};
    blend_error err = {0};
    if (blend_writer_add(w, &d, &err)) {
      printf("add %s: %s\n", id, err.message);
      return -1;
    }
  }
  return 0;
}

static double cosine(const float *a, const float *b) {
  double ab = 0, aa = 0, bb = 0;
  for (int d = 0; d < DIM; d++) ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
  return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

/* Brute force top k over live docs passing keep(i). */
typedef int (*keep_fn)(int i);
static int keep_all(int i) { (void)i; return 1; }
static int deleted_mask[NDOC];
static int keep_live(int i) { return !deleted_mask[i]; }
static int brute(const float *q, int k, keep_fn keep, int *out, double *scores) {
  int n = 0;
  for (int i = 0; i < NDOC; i++) {
    if (!keep(i)) continue;
    double s = cosine(q, vecs[i]);
    int j = n < k ? n++ : k;
    if (j == k && !(s > scores[k - 1])) continue;
    if (j == k) j = k - 1;
    while (j > 0 && scores[j - 1] < s) {
      scores[j] = scores[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    scores[j] = s;
    out[j] = i;
  }
  return n;
}

static int hit_num(blend_searcher *s, const blend_hit *h) {
  const char *id;
  size_t n;
  if (blend_searcher_doc_id(s, h->doc, &id, &n, NULL) || n < 4) return -1;
  return atoi(id + 3);
}

static blend_index *build(const char *name, int segments, int delete_every) {
  const char *dir = fresh_dir(name);
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_vector_config_default(&cfg.vector, DIM);
  cfg.vector.threads = 2;
  blend_error err = {0};
  memset(deleted_mask, 0, sizeof deleted_mask);
  for (int s = 0; s < segments; s++) {
    blend_writer *w;
    if (blend_writer_open_mode(dir, &cfg, s ? BLEND_WRITE_APPEND : BLEND_WRITE_REPLACE, &w, &err)) {
      printf("open: %s\n", err.message);
      return NULL;
    }
    blend_writer_set_merge(w, 0);
    int lo = NDOC * s / segments, hi = NDOC * (s + 1) / segments;
    if (add_range(w, lo, hi)) return NULL;
    if (delete_every && s > 0)
      for (int i = 0; i < lo; i += delete_every) {
        char id[32];
        docid(id, i);
        int found;
        blend_writer_delete(w, id, strlen(id), &found, &err);
        if (found) deleted_mask[i] = 1;
      }
    if (blend_writer_commit(w, &err)) {
      printf("commit: %s\n", err.message);
      return NULL;
    }
    blend_writer_close(w);
  }
  blend_index *ix;
  if (blend_index_open(dir, &ix, &err)) {
    printf("open index: %s\n", err.message);
    return NULL;
  }
  return ix;
}

TEST(exact_dense_search_equals_brute_force_over_segments_with_deletions) {
  make_vectors();
  blend_index *ix = build("dense_multi", 4, 7);
  REQUIRE(ix);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.segments, 4);
  REQUIRE(st.deleted > 0);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == BLEND_OK);
  blend_dense_options o;
  blend_dense_options_default(&o);
  o.k = 10;
  o.exact = 1;
  int bad = 0;
  for (int qi = 0; qi < 50; qi++) {
    float q[DIM];
    for (int d = 0; d < DIM; d++) q[d] = vecs[qi * 37 % NDOC][d] + 0.2f * (float)gauss();
    int want[10];
    double ws[10];
    int n = brute(q, 10, keep_live, want, ws);
    blend_results r;
    REQUIRE(blend_search_vector(s, q, DIM, &o, &r, &err) == BLEND_OK);
    CHECK_EQ_INT(r.count, n);
    for (uint32_t i = 0; i < r.count && i < (uint32_t)n; i++) {
      int got = hit_num(s, &r.hits[i]);
      if (got != want[i] && fabs(r.hits[i].score - ws[i]) > 1e-5) bad++;
      CHECK_NEAR(r.hits[i].score, ws[i], 1e-5);
      CHECK(got >= 0 && !deleted_mask[got]);
    }
  }
  CHECK_EQ_INT(bad, 0);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(hnsw_recall_through_the_index_and_reopen_gives_identical_results) {
  make_vectors();
  blend_index *ix = build("dense_hnsw", 2, 0);
  REQUIRE(ix);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == BLEND_OK);
  blend_dense_options o;
  blend_dense_options_default(&o);
  o.k = 10;
  static float qs[100][DIM];
  static uint32_t first[100][10];
  static float first_score[100][10];
  int found = 0, total = 0;
  for (int qi = 0; qi < 100; qi++) {
    for (int d = 0; d < DIM; d++) qs[qi][d] = vecs[qi * 13 % NDOC][d] + 0.3f * (float)gauss();
    int want[10];
    double ws[10];
    brute(qs[qi], 10, keep_all, want, ws);
    blend_results r;
    REQUIRE(blend_search_vector(s, qs[qi], DIM, &o, &r, &err) == BLEND_OK);
    REQUIRE(r.count == 10);
    for (int i = 0; i < 10; i++) {
      first[qi][i] = r.hits[i].doc;
      first_score[qi][i] = r.hits[i].score;
      int g = hit_num(s, &r.hits[i]);
      for (int j = 0; j < 10; j++) found += g == want[j];
    }
    total += 10;
  }
  double recall = (double)found / total;
  printf("  HNSW recall@10 through the index (2 segments, default M/efC/ef): %.4f\n", recall);
  CHECK(recall >= 0.95);
  blend_searcher_free(s);
  blend_index_close(ix);
  REQUIRE(blend_index_open(fresh_dir("dense_hnsw"), &ix, &err) == BLEND_OK);
  REQUIRE(blend_searcher_new(ix, &s, &err) == BLEND_OK);
  int diff = 0;
  for (int qi = 0; qi < 100; qi++) {
    blend_results r;
    REQUIRE(blend_search_vector(s, qs[qi], DIM, &o, &r, &err) == BLEND_OK);
    for (int i = 0; i < 10; i++) diff += r.hits[i].doc != first[qi][i] || r.hits[i].score != first_score[qi][i];
  }
  CHECK_EQ_INT(diff, 0);
  blend_searcher_free(s);
  blend_index_close(ix);
}

static int bucket_lt(int i) { return i % 1000 < 2; } /* 0.2% of docs... */
static int bucket_eq(int i) { return i % 1000 == 7; } /* 0.1% */
static int odd(int i) { return i % 2 == 1; }

TEST(filtered_dense_search_returns_only_allowed_and_k_whenever_k_exist) {
  make_vectors();
  blend_index *ix = build("dense_filter", 2, 0);
  REQUIRE(ix);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == BLEND_OK);
  struct { const char *cond; keep_fn keep; } cases[] = {
      {"bucket<2", bucket_lt}, {"bucket=7", bucket_eq}, {"parity=odd", odd}};
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    blend_filter *f;
    REQUIRE(blend_filter_new(&f, &err) == BLEND_OK);
    REQUIRE(blend_filter_add(f, cases[c].cond, &err) == BLEND_OK);
    int allowed = 0;
    for (int i = 0; i < NDOC; i++) allowed += cases[c].keep(i);
    for (int exact = 0; exact < 2; exact++) {
      blend_dense_options o;
      blend_dense_options_default(&o);
      o.k = 10;
      o.exact = exact;
      o.filter = f;
      for (int qi = 0; qi < 20; qi++) {
        float *q = vecs[qi * 101 % NDOC];
        blend_results r;
        REQUIRE(blend_search_vector(s, q, DIM, &o, &r, &err) == BLEND_OK);
        CHECK_EQ_INT(r.count, allowed < 10 ? allowed : 10);
        for (uint32_t i = 0; i < r.count; i++) CHECK(cases[c].keep(hit_num(s, &r.hits[i])));
      }
    }
    /* the same filter on the lexical leg */
    blend_search_options so;
    blend_search_options_default(&so);
    so.k = 50;
    so.filter = f;
    blend_results r;
    REQUIRE(blend_search(s, "document number", &so, &r, &err) == BLEND_OK);
    CHECK_EQ_INT(r.count, allowed < 50 ? allowed : 50);
    for (uint32_t i = 0; i < r.count; i++) CHECK(cases[c].keep(hit_num(s, &r.hits[i])));
    blend_filter_free(f);
  }
  /* an unknown field is an error naming it */
  blend_filter *f;
  REQUIRE(blend_filter_new(&f, &err) == BLEND_OK);
  REQUIRE(blend_filter_add(f, "colour=red", &err) == BLEND_OK);
  blend_dense_options o;
  blend_dense_options_default(&o);
  o.filter = f;
  blend_results r;
  CHECK_EQ_INT(blend_search_vector(s, vecs[0], DIM, &o, &r, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "colour") != NULL);
  blend_filter_free(f);
  /* malformed conditions */
  REQUIRE(blend_filter_new(&f, &err) == BLEND_OK);
  CHECK_EQ_INT(blend_filter_add(f, "bucket", &err), BLEND_EINVAL);
  CHECK_EQ_INT(blend_filter_add(f, "bucket>=abc", &err), BLEND_EINVAL);
  for (int i = 0; i < 64; i++) CHECK_EQ_INT(blend_filter_add(f, "bucket>=0", &err), BLEND_OK);
  CHECK_EQ_INT(blend_filter_add(f, "bucket>=0", &err), BLEND_EINVAL); /* 65th */
  CHECK(strstr(err.message, "at most 64") != NULL);
  blend_filter_free(f);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(bad_vectors_are_errors) {
  make_vectors();
  const char *dir = fresh_dir("dense_bad");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_vector_config_default(&cfg.vector, DIM);
  blend_writer *w;
  blend_error err = {0};
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == BLEND_OK);
  blend_field_value f[1] = {{"text", "x", 1}};
  float v[DIM];
  memcpy(v, vecs[0], sizeof v);
  blend_doc d = {.id = "a", .id_len = 1, .fields = f, .nfields = 1, .vector = v, .vector_dim = DIM - 1};
  CHECK_EQ_INT(blend_writer_add(w, &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "dimensions") != NULL);
  d.vector_dim = DIM;
  v[3] = NAN;
  CHECK_EQ_INT(blend_writer_add(w, &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "not finite") != NULL);
  d.vector = NULL;
  CHECK_EQ_INT(blend_writer_add(w, &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "no vector") != NULL);
  blend_writer_close(w);
  /* query of the wrong size */
  blend_index *ix = build("dense_q", 1, 0);
  REQUIRE(ix);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, &err) == BLEND_OK);
  blend_results r;
  CHECK_EQ_INT(blend_search_vector(s, vecs[0], DIM + 1, NULL, &r, &err), BLEND_EINVAL);
  float nanq[DIM] = {0};
  nanq[0] = INFINITY;
  CHECK_EQ_INT(blend_search_vector(s, nanq, DIM, NULL, &r, &err), BLEND_EINVAL);
  uint32_t doc;
  CHECK_EQ_INT(blend_searcher_find(s, "doc0042", 7, &doc, &err), BLEND_OK);
  CHECK_EQ_INT(blend_searcher_find(s, "nope", 4, &doc, &err), BLEND_ENOTFOUND);
  blend_searcher_free(s);
  blend_index_close(ix);
}
