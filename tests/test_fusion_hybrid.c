/*
** test_fusion_hybrid.c — the hybrid query over a small synthetic index
** (random words, 8-d vectors): the fused list equals fusion computed here
** by hand from the legs' own blend_search / blend_search_vector results;
** score completion gives exactly the scores a full search gives; the tmm
** upper bound holds; offset pages tile the full list; a threshold cuts;
** the stored setting round-trips; a dense leg on an index without vectors
** and bad options are errors; and rerank order equals sorting by
** blend_rerank's own scores of the same texts (cross-tiny-random).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "test.h"

#define NDOCS 300
#define DIM 8
static const char *words[] = {"alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa",
                              "lambda", "theta", "zeta", "rho", "tau", "phi", "chi", "psi"};
static char titles[NDOCS][64], texts[NDOCS][256], ids[NDOCS][16];
static float vecs[NDOCS][DIM];

static uint32_t rng = 12345;
static uint32_t rnd(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

/* Build the index once per variant (with / without vectors). */
static const char *make_index(int with_vectors) {
  static char dirs[2][600];
  char *dir = dirs[with_vectors];
  if (dir[0]) return dir;
  snprintf(dir, 600, "%s/hyb%d", test_tmpdir(), with_vectors);
  rng = 12345;
  for (int d = 0; d < NDOCS; d++) {
    snprintf(ids[d], sizeof ids[d], "d%03d", d);
    int n = 0;
    for (int w = 0; w < 2; w++) n += snprintf(titles[d] + n, sizeof titles[d] - n, "%s ", words[rnd() % 15]);
    n = 0;
    int len = 3 + rnd() % 20;
    for (int w = 0; w < len; w++) n += snprintf(texts[d] + n, sizeof texts[d] - n, "%s ", words[rnd() % 15]);
    for (int k = 0; k < DIM; k++) vecs[d][k] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
  }
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  if (with_vectors) blend_vector_config_default(&cfg.vector, DIM);
  blend_writer *w;
  blend_error err = {0};
  if (blend_writer_open(dir, &cfg, &w, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return NULL;
  }
  for (int d = 0; d < NDOCS; d++) {
    blend_field_value f[] = {{"title", titles[d], strlen(titles[d])}, {"text", texts[d], strlen(texts[d])}};
    blend_doc doc = {0};
    doc.id = ids[d];
    doc.id_len = strlen(ids[d]);
    doc.fields = f;
    doc.nfields = 2;
    if (with_vectors) {
      doc.vector = vecs[d];
      doc.vector_dim = DIM;
    }
    if (blend_writer_add(w, &doc, &err)) {
      fprintf(stderr, "%s\n", err.message);
      return NULL;
    }
  }
  if (blend_writer_commit(w, &err)) {
    fprintf(stderr, "%s\n", err.message);
    return NULL;
  }
  blend_writer_close(w);
  return dir;
}

typedef struct env {
  blend_index *ix;
  blend_hybrid *h;
  blend_searcher *s; /* a second searcher for the reference legs */
} env;

static int env_open(env *e, int with_vectors) {
  memset(e, 0, sizeof *e);
  const char *dir = make_index(with_vectors);
  blend_error err = {0};
  if (!dir || blend_index_open(dir, &e->ix, &err) || blend_hybrid_new(e->ix, &e->h, &err) ||
      blend_searcher_new(e->ix, &e->s, &err)) {
    fprintf(stderr, "open: %s\n", err.message);
    return -1;
  }
  return 0;
}

static void env_close(env *e) {
  blend_searcher_free(e->s);
  blend_hybrid_free(e->h);
  blend_index_close(e->ix);
}

/* A reference leg: doc → raw score, from the plain search. */
typedef struct ref_leg {
  uint32_t n;
  uint32_t doc[400];
  double raw[400];
} ref_leg;

static double ref_get(const ref_leg *l, uint32_t doc, int *found) {
  for (uint32_t i = 0; i < l->n; i++)
    if (l->doc[i] == doc) {
      *found = 1;
      return l->raw[i];
    }
  *found = 0;
  return 0;
}

static void ref_minmax(const ref_leg *l, double *lo, double *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (uint32_t i = 0; i < l->n; i++) {
    *lo = fmin(*lo, l->raw[i]);
    *hi = fmax(*hi, l->raw[i]);
  }
}

static void bm25_leg(env *e, const char *q, int multi, uint32_t depth, ref_leg *out) {
  blend_search_options o;
  blend_search_options_default(&o);
  o.k = depth;
  o.field_mode = multi ? BLEND_FIELDS_MULTI : BLEND_FIELDS_FLAT;
  blend_results r;
  out->n = 0;
  if (blend_search(e->s, q, &o, &r, NULL)) return;
  for (uint32_t i = 0; i < r.count; i++) {
    out->doc[out->n] = r.hits[i].doc;
    out->raw[out->n++] = r.hits[i].score;
  }
}

static const float qv[DIM] = {0.3f, -0.2f, 0.9f, 0.1f, -0.5f, 0.4f, 0.0f, 0.7f};

TEST(hybrid_equals_hand_fusion) {
  env e;
  REQUIRE(env_open(&e, 1) == 0);
  const char *query = "alpha gamma omega";
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.text = query;
  q.nlegs = 2;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q.legs[1], BLEND_LEG_DENSE);
  q.legs[0].depth = 40;
  q.legs[1].depth = 30;
  q.legs[1].vector = qv;
  q.legs[1].dim = DIM;
  q.legs[1].exact = 1;
  q.fusion.alpha = 0.6;
  q.k = 1000;
  blend_hybrid_results r;
  blend_error err = {0};
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  ref_leg a, b;
  bm25_leg(&e, query, 0, 40, &a);
  blend_dense_options d;
  blend_dense_options_default(&d);
  d.k = 30;
  d.exact = 1;
  blend_results vr;
  REQUIRE(blend_search_vector(e.s, qv, DIM, &d, &vr, &err) == 0);
  b.n = 0;
  for (uint32_t i = 0; i < vr.count; i++) b.doc[b.n] = vr.hits[i].doc, b.raw[b.n++] = vr.hits[i].score;
  CHECK_EQ_INT(r.leg_hits[0], a.n);
  CHECK_EQ_INT(r.leg_hits[1], b.n);
  double alo, ahi, blo, bhi;
  ref_minmax(&a, &alo, &ahi);
  ref_minmax(&b, &blo, &bhi);
  REQUIRE(r.count == r.total && r.count > 30);
  double prev = INFINITY;
  for (uint32_t i = 0; i < r.count; i++) {
    const blend_hybrid_hit *h = &r.hits[i];
    int fa, fb;
    double ra = ref_get(&a, h->doc, &fa), rb = ref_get(&b, h->doc, &fb);
    double want = (fa ? 0.6 * (ra - alo) / (ahi - alo) : 0) + (fb ? 0.4 * (rb - blo) / (bhi - blo) : 0);
    CHECK_NEAR(h->fused, want, 1e-9);
    CHECK(fa || fb);
    CHECK(h->legs[0].retrieved == fa && h->legs[1].retrieved == fb);
    if (fa) CHECK_NEAR(h->legs[0].raw, ra, 0);
    CHECK(h->fused <= prev);
    if (h->fused == prev) CHECK(strcmp(r.hits[i - 1].id, h->id) > 0); /* ties: id descending */
    prev = h->fused;
    CHECK_EQ_INT(h->fused_rank, i + 1);
    CHECK(isnan(h->rerank));
  }
  env_close(&e);
}

TEST(score_completion_is_exact) {
  env e;
  REQUIRE(env_open(&e, 1) == 0);
  const char *query = "beta kappa";
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.text = query;
  q.nlegs = 3;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q.legs[1], BLEND_LEG_BM25_MULTI);
  blend_leg_default(&q.legs[2], BLEND_LEG_DENSE);
  q.legs[0].depth = 10;
  q.legs[1].depth = 10;
  q.legs[2].depth = 10;
  q.legs[2].vector = qv;
  q.legs[2].dim = DIM;
  q.legs[2].exact = 1;
  q.fusion.complete_scores = 1;
  q.k = 1000;
  blend_hybrid_results r;
  blend_error err = {0};
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  ref_leg full_flat, full_multi;
  bm25_leg(&e, query, 0, NDOCS, &full_flat);
  bm25_leg(&e, query, 1, NDOCS, &full_multi);
  uint32_t completed = 0;
  for (uint32_t i = 0; i < r.count; i++) {
    const blend_hybrid_hit *h = &r.hits[i];
    int f;
    double want = ref_get(&full_flat, h->doc, &f);
    CHECK_NEAR(h->legs[0].raw, want, 0); /* exact: 0 when the query does not match */
    want = ref_get(&full_multi, h->doc, &f);
    CHECK_NEAR(h->legs[1].raw, want, 0);
    float cs;
    REQUIRE(blend_searcher_vector_scores(e.s, qv, DIM, &h->doc, 1, &cs, &err) == 0);
    CHECK_NEAR(h->legs[2].raw, cs, 0);
    for (int l = 0; l < 3; l++) {
      CHECK(h->legs[l].rank > 0);
      completed += h->legs[l].completed;
      CHECK(h->legs[l].completed == !h->legs[l].retrieved);
    }
  }
  CHECK(completed > 0);
  /* the tmm bound holds for every document */
  double up;
  blend_search_options o;
  blend_search_options_default(&o);
  REQUIRE(blend_search_upper_bound(e.s, query, &o, &up, &err) == 0);
  CHECK(up > 0);
  for (uint32_t i = 0; i < full_flat.n; i++) CHECK(full_flat.raw[i] <= up);
  CHECK(full_flat.raw[0] > up * 0.3); /* and is not absurdly loose here */
  env_close(&e);
}

TEST(paging_tiles_the_list) {
  env e;
  REQUIRE(env_open(&e, 0) == 0);
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.text = "delta sigma rho";
  q.nlegs = 2;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q.legs[1], BLEND_LEG_BM25_MULTI);
  q.fusion.fusion = BLEND_FUSION_RRF; /* RRF: many ties */
  q.k = 1000;
  blend_hybrid_results r;
  blend_error err = {0};
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  uint32_t total = r.count;
  REQUIRE(total > 20);
  char (*all)[16] = malloc(total * sizeof *all);
  for (uint32_t i = 0; i < total; i++) snprintf(all[i], 16, "%s", r.hits[i].id);
  uint32_t seen = 0;
  for (q.offset = 0; q.offset < total + 7; q.offset += 7) {
    q.k = 7;
    REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
    for (uint32_t i = 0; i < r.count; i++) CHECK_STR(r.hits[i].id, all[seen + i]);
    seen += r.count;
  }
  CHECK_EQ_INT(seen, total);
  /* threshold: RRF scores are ~1/(60+rank); keep those above 1/(60+5) */
  q.offset = 0;
  q.k = 1000;
  q.fusion.has_threshold = 1;
  q.fusion.threshold = 1.0 / 65;
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  CHECK(r.count > 0 && r.count < total);
  for (uint32_t i = 0; i < r.count; i++) CHECK(r.hits[i].fused >= 1.0 / 65);
  free(all);
  env_close(&e);
}

TEST(errors_and_setting) {
  env e;
  REQUIRE(env_open(&e, 0) == 0);
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.text = "alpha";
  blend_hybrid_results r;
  blend_error err = {0};
  CHECK(blend_hybrid_search(e.h, &q, &r, &err) == BLEND_EINVAL); /* no legs */
  q.nlegs = 2;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q.legs[1], BLEND_LEG_DENSE);
  CHECK(blend_hybrid_search(e.h, &q, &r, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "vector field") != NULL);
  q.legs[1].kind = BLEND_LEG_BM25_MULTI;
  q.fusion.alpha = 2;
  CHECK(blend_hybrid_search(e.h, &q, &r, &err) == BLEND_EINVAL);
  q.fusion.alpha = 0.25;
  q.fusion.norm = BLEND_NORM_ZSCORE;
  q.legs[0].depth = 55;
  /* defaults without a stored setting: bm25 + bm25-multi (no vectors) */
  blend_hybrid_query d;
  blend_hybrid_query_default(&d);
  int stored = 1;
  CHECK(blend_hybrid_query_defaults(e.ix, &d, &stored, &err) == 0);
  CHECK(stored == 0 && d.nlegs == 2 && d.legs[1].kind == BLEND_LEG_BM25_MULTI);
  /* store, load back */
  const char *dir = make_index(0);
  REQUIRE(blend_hybrid_setting_save(dir, &q, "test", &err) == 0);
  blend_hybrid_query_default(&d);
  CHECK(blend_hybrid_query_defaults(e.ix, &d, &stored, &err) == 0);
  CHECK(stored == 1);
  CHECK(d.nlegs == 2 && d.legs[0].depth == 55 && d.fusion.norm == BLEND_NORM_ZSCORE);
  double w[BLEND_MAX_LEGS];
  blend_fusion_weights(&d.fusion, 2, w);
  CHECK_NEAR(w[0], 0.25, 1e-12);
  /* a corrupt setting is an error naming the file */
  char path[700];
  snprintf(path, sizeof path, "%s/hybrid.json", dir);
  FILE *f = fopen(path, "w");
  fputs("{\"legs\": [{\"kind\": \"colbert\"}]}", f);
  fclose(f);
  CHECK(blend_hybrid_query_defaults(e.ix, &d, &stored, &err) == BLEND_ECORRUPT);
  CHECK(strstr(err.message, "hybrid.json") != NULL);
  remove(path);
  env_close(&e);
}

TEST(rerank_orders_by_cross_encoder) {
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not found");
  char mdir[600];
  snprintf(mdir, sizeof mdir, "%s/fixtures/cross-tiny-random", sh);
  env e;
  REQUIRE(env_open(&e, 0) == 0);
  blend_model *m;
  blend_error err = {0};
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = 1;
  REQUIRE(blend_model_open(mdir, &mo, &m, &err) == 0);
  blend_hybrid_query q;
  blend_hybrid_query_default(&q);
  q.text = "omega theta";
  q.nlegs = 2;
  blend_leg_default(&q.legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q.legs[1], BLEND_LEG_BM25_MULTI);
  q.k = 30;
  blend_hybrid_results r;
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  uint32_t fused_docs[30], n = r.count;
  for (uint32_t i = 0; i < n; i++) fused_docs[i] = r.hits[i].doc;
  q.rerank_model = m;
  q.rerank_depth = 20;
  q.rerank_field = "text";
  REQUIRE(blend_hybrid_search(e.h, &q, &r, &err) == 0);
  CHECK_EQ_INT(r.reranked, 20);
  /* the reference: blend_rerank over the same 20 texts, sorted */
  const char *docs[20];
  size_t lens[20];
  float sc[20];
  for (int i = 0; i < 20; i++) {
    const char *t;
    size_t len;
    REQUIRE(blend_searcher_doc_field(e.s, fused_docs[i], "text", &t, &len, &err) == 0);
    docs[i] = strndup(t, len);
    lens[i] = len;
  }
  REQUIRE(blend_rerank(m, q.text, strlen(q.text), docs, lens, 20, sc, &err) == 0);
  int used[20] = {0};
  for (uint32_t p = 0; p < 20; p++) {
    /* the best unused reference score, first in fused order on ties */
    int best = -1;
    for (int i = 0; i < 20; i++)
      if (!used[i] && (best < 0 || sc[i] > sc[best])) best = i;
    used[best] = 1;
    CHECK_EQ_INT(r.hits[p].doc, fused_docs[best]);
    CHECK_NEAR(r.hits[p].rerank, sc[best], 0);
    CHECK_EQ_INT(r.hits[p].fused_rank, best + 1);
  }
  for (uint32_t p = 20; p < n; p++) {
    CHECK_EQ_INT(r.hits[p].doc, fused_docs[p]); /* after the block: fused order */
    CHECK(isnan(r.hits[p].rerank));
  }
  for (int i = 0; i < 20; i++) free((void *)docs[i]);
  blend_model_close(m);
  env_close(&e);
}
