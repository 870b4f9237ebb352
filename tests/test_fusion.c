/*
** test_fusion.c — the fusion core on hand-computed cases: every
** normaliser (with its degenerate inputs: one candidate, all equal, NaN),
** every fusion function, missing-score conventions (zero vs completion),
** the stable order under ties and shuffles, thresholds, option checks,
** and run fusion over small in-memory runs (disjoint query sets, depth).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "fusion/fusion.h"
#include "test.h"

#define TOL 1e-12

static void norm3(int norm, const double *raw, uint32_t n, double lo, double hi, double T,
                  double *out) {
  uint32_t rank[16];
  for (uint32_t i = 0; i < n; i++) rank[i] = i + 1; /* raw given best first */
  fusion_normalize(norm, raw, rank, n, n, lo, hi, T, out);
}

TEST(minmax_hand) {
  double raw[] = {3, 2, 1}, out[3];
  norm3(BLEND_NORM_MINMAX, raw, 3, NAN, NAN, 1, out);
  CHECK_NEAR(out[0], 1, TOL);
  CHECK_NEAR(out[1], 0.5, TOL);
  CHECK_NEAR(out[2], 0, TOL);
  /* one candidate, and all equal: each is the leg's best → 1 */
  double one[] = {7.5}, eq[] = {2, 2, 2};
  norm3(BLEND_NORM_MINMAX, one, 1, NAN, NAN, 1, out);
  CHECK_NEAR(out[0], 1, TOL);
  norm3(BLEND_NORM_MINMAX, eq, 3, NAN, NAN, 1, out);
  CHECK(out[0] == 1 && out[1] == 1 && out[2] == 1);
}

TEST(zscore_hand) {
  double raw[] = {3, 2, 1}, out[3];
  norm3(BLEND_NORM_ZSCORE, raw, 3, NAN, NAN, 1, out);
  double sd = sqrt(2.0 / 3.0); /* population σ of 1,2,3 */
  CHECK_NEAR(out[0], 1 / sd, TOL);
  CHECK_NEAR(out[1], 0, TOL);
  CHECK_NEAR(out[2], -1 / sd, TOL);
  double eq[] = {4, 4}, one[] = {9};
  norm3(BLEND_NORM_ZSCORE, eq, 2, NAN, NAN, 1, out);
  CHECK(out[0] == 0 && out[1] == 0);
  norm3(BLEND_NORM_ZSCORE, one, 1, NAN, NAN, 1, out);
  CHECK(out[0] == 0);
  /* SPLADE-sized scores: two-pass σ keeps precision */
  double big[] = {203252, 203203, 202910}, b[3];
  norm3(BLEND_NORM_ZSCORE, big, 3, NAN, NAN, 1, b);
  double m = (203252.0 + 203203 + 202910) / 3, v = 0;
  for (int i = 0; i < 3; i++) v += (big[i] - m) * (big[i] - m);
  CHECK_NEAR(b[0], (big[0] - m) / sqrt(v / 3), 1e-12);
}

TEST(softmax_hand) {
  double raw[] = {log(2.0), 0}, out[2];
  norm3(BLEND_NORM_SOFTMAX, raw, 2, NAN, NAN, 1, out);
  CHECK_NEAR(out[0], 2.0 / 3, TOL);
  CHECK_NEAR(out[1], 1.0 / 3, TOL);
  double raw2[] = {2 * log(2.0), 0};
  norm3(BLEND_NORM_SOFTMAX, raw2, 2, NAN, NAN, 2, out); /* T = 2 halves the gap */
  CHECK_NEAR(out[0], 2.0 / 3, TOL);
  double huge[] = {1e6, 1e6 - 1}, eq[] = {5, 5, 5, 5};
  norm3(BLEND_NORM_SOFTMAX, huge, 2, NAN, NAN, 1, out); /* no overflow */
  CHECK_NEAR(out[0], 1 / (1 + exp(-1.0)), 1e-12);
  double o4[4];
  norm3(BLEND_NORM_SOFTMAX, eq, 4, NAN, NAN, 1, o4);
  CHECK_NEAR(o4[3], 0.25, TOL);
}

TEST(tmm_hand) {
  double raw[] = {5, 2}, out[2];
  norm3(BLEND_NORM_TMM, raw, 2, 0, 10, 1, out); /* both bounds theoretical */
  CHECK_NEAR(out[0], 0.5, TOL);
  CHECK_NEAR(out[1], 0.2, TOL);
  norm3(BLEND_NORM_TMM, raw, 2, 0, NAN, 1, out); /* Bruch et al.: theoretical min, observed max */
  CHECK_NEAR(out[0], 1, TOL);
  CHECK_NEAR(out[1], 0.4, TOL);
  double cosv[] = {0.5, -1};
  norm3(BLEND_NORM_TMM, cosv, 2, -1, 1, 1, out);
  CHECK_NEAR(out[0], 0.75, TOL);
  CHECK_NEAR(out[1], 0, TOL);
  norm3(BLEND_NORM_TMM, raw, 1, 5, 5, 1, out); /* empty range → 1 */
  CHECK_NEAR(out[0], 1, TOL);
}

TEST(dbsf_hand) {
  double raw[] = {3, 2, 1}, out[3];
  norm3(BLEND_NORM_DBSF, raw, 3, NAN, NAN, 1, out);
  double sd = sqrt(2.0 / 3.0);
  CHECK_NEAR(out[0], (3 - (2 - 3 * sd)) / (6 * sd), TOL);
  CHECK_NEAR(out[1], 0.5, TOL);
  /* one outlier among 11: its z is √10 > 3, so it clips to 1 */
  double o[11] = {1}, r[11];
  norm3(BLEND_NORM_DBSF, o, 11, NAN, NAN, 1, r);
  CHECK(r[0] == 1);
  CHECK(r[1] > 0 && r[1] < 0.5);
  double eq[] = {3, 3};
  norm3(BLEND_NORM_DBSF, eq, 2, NAN, NAN, 1, out);
  CHECK(out[0] == 0.5 && out[1] == 0.5);
}

TEST(rank_and_borda_hand) {
  double raw[] = {9, 8, 7}, out[3];
  uint32_t rank[] = {1, 2, 3};
  fusion_normalize(BLEND_NORM_RANK, raw, rank, 3, 5, NAN, NAN, 1, out);
  CHECK_NEAR(out[2], 1.0 / 3, TOL);
  fusion_normalize(BLEND_NORM_BORDA, raw, rank, 3, 5, NAN, NAN, 1, out); /* C = 5 */
  CHECK_NEAR(out[0], 1.0, TOL);
  CHECK_NEAR(out[1], 0.8, TOL);
  CHECK_NEAR(out[2], 0.6, TOL);
  fusion_normalize(BLEND_NORM_NONE, raw, rank, 3, 5, NAN, NAN, 1, out);
  CHECK(out[1] == 8);
}

/* The small table used below (2 legs, candidates A B C D):
**   A: leg0 10 (rank 1)          leg1 —
**   B: leg0  5 (rank 2)          leg1 0.9 (rank 1)
**   C: leg0 —                    leg1 0.5 (rank 2)
**   D: leg0 NaN                  leg1 —          (no usable score) */
static const char *ids4[] = {"A", "B", "C", "D"};
static void table4(blend_leg_score *c) {
  for (int i = 0; i < 8; i++) c[i] = (blend_leg_score){.raw = NAN};
  c[0] = (blend_leg_score){.raw = 10, .rank = 1, .retrieved = 1};
  c[2] = (blend_leg_score){.raw = 5, .rank = 2, .retrieved = 1};
  c[3] = (blend_leg_score){.raw = 0.9, .rank = 1, .retrieved = 1};
  c[5] = (blend_leg_score){.raw = 0.5, .rank = 2, .retrieved = 1};
  c[6] = (blend_leg_score){.raw = NAN, .rank = 3, .retrieved = 1};
}

static uint32_t fuse4(const blend_fusion_options *o, double *fused, uint32_t *order,
                      blend_leg_score *cells) {
  fusion_scratch s = {0};
  table4(cells);
  int rc = fusion_fuse(o, 2, 4, cells, NULL, NULL, fused, &s);
  fusion_scratch_free(&s);
  if (rc) return 0;
  return fusion_order(4, fused, ids4, o, order);
}

TEST(cc_minmax_alpha) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.alpha = 0.3;
  double f[4];
  uint32_t ord[4];
  blend_leg_score c[8];
  uint32_t n = fuse4(&o, f, ord, c);
  CHECK_EQ_INT(n, 3); /* D has no usable score */
  CHECK_NEAR(f[0], 0.3, TOL);  /* A: 0.3·1 + missing (0) */
  CHECK_NEAR(f[1], 0.7, TOL);  /* B: 0.3·0 + 0.7·1 */
  CHECK_NEAR(f[2], 0.0, TOL);  /* C: 0.7·0 */
  CHECK(ord[0] == 1 && ord[1] == 0 && ord[2] == 2);
  CHECK_NEAR(c[3].contribution, 0.7, TOL);
  CHECK_NEAR(c[3].weight, 0.7, TOL);
  CHECK(c[1].rank == 0 && c[1].contribution == 0); /* A has no leg1 score */
  CHECK(c[6].rank == 0 && isnan(c[6].raw));       /* NaN is missing */
  /* default weights: 1/2 each */
  blend_fusion_options_default(&o);
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[1], 0.5, TOL);
}

TEST(rrf_weights) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.fusion = BLEND_FUSION_RRF;
  double f[4];
  uint32_t ord[4];
  blend_leg_score c[8];
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[0], 1.0 / 61, TOL);
  CHECK_NEAR(f[1], 1.0 / 62 + 1.0 / 61, TOL);
  CHECK_NEAR(f[2], 1.0 / 62, TOL);
  CHECK(ord[0] == 1 && ord[1] == 0 && ord[2] == 2);
  o.rrf_k = 10;
  o.nweights = 2;
  o.weights[0] = 2;
  o.weights[1] = 0.5;
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[0], 2.0 / 11, TOL);
  CHECK_NEAR(f[1], 2.0 / 12 + 0.5 / 11, TOL);
  CHECK_NEAR(c[2].norm, 1.0 / 12, TOL); /* explain: 1/(k+rank) */
}

TEST(combsum_mnz_max) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  double f[4];
  uint32_t ord[4];
  blend_leg_score c[8];
  o.fusion = BLEND_FUSION_COMBSUM;
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[0], 1, TOL);
  CHECK_NEAR(f[1], 1, TOL); /* 0 + 1 */
  /* tie A/B at 1: id descending puts B first */
  CHECK(ord[0] == 1 && ord[1] == 0);
  o.fusion = BLEND_FUSION_COMBMNZ;
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[0], 1, TOL);
  CHECK_NEAR(f[1], 2, TOL); /* (0 + 1) × 2 legs */
  CHECK_NEAR(c[3].contribution, 2, TOL);
  o.fusion = BLEND_FUSION_COMBMAX;
  o.norm = BLEND_NORM_NONE;
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[0], 10, TOL);
  CHECK_NEAR(f[1], 5, TOL);
  CHECK_NEAR(f[2], 0.5, TOL);
  /* missing counts 0, also for max: z-scores below 0 lose to a missing leg */
  o.norm = BLEND_NORM_ZSCORE;
  fuse4(&o, f, ord, c);
  CHECK_NEAR(f[1], 1, TOL);  /* B: max(−1, +1) */
  CHECK_NEAR(f[2], 0, TOL);  /* C: max(missing 0, −1) */
}

TEST(score_completion_reranks_leg) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.complete_scores = 1;
  blend_leg_score c[8];
  table4(c);
  /* C's leg0 score computed: 7, between A (10) and B (5) */
  c[4] = (blend_leg_score){.raw = 7, .completed = 1};
  /* A's leg1 score computed: 0.1 */
  c[1] = (blend_leg_score){.raw = 0.1, .completed = 1};
  double f[4];
  fusion_scratch s = {0};
  REQUIRE(fusion_fuse(&o, 2, 4, c, NULL, NULL, f, &s) == 0);
  fusion_scratch_free(&s);
  CHECK_EQ_INT(c[0].rank, 1);
  CHECK_EQ_INT(c[4].rank, 2);
  CHECK_EQ_INT(c[2].rank, 3);
  CHECK_NEAR(c[4].norm, 0.4, TOL);                  /* (7−5)/(10−5) */
  CHECK_NEAR(c[1].norm, 0, TOL);                    /* leg1 min is now 0.1 */
  CHECK_NEAR(f[2], 0.5 * 0.4 + 0.5 * 0.5, TOL);     /* C: leg1 (0.5−0.1)/0.8 */
  /* MNZ counts retrieving legs, not completed ones */
  o.fusion = BLEND_FUSION_COMBMNZ;
  table4(c);
  c[4] = (blend_leg_score){.raw = 7, .completed = 1};
  REQUIRE(fusion_fuse(&o, 2, 4, c, NULL, NULL, f, &s) == 0);
  fusion_scratch_free(&s);
  CHECK_NEAR(f[2], (0.4 + 0) * 1, TOL); /* leg1 min-max: C is 0 */
}

TEST(empty_leg_and_single_candidate) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  blend_leg_score c[2] = {{.raw = 3, .rank = 1, .retrieved = 1}, {.raw = NAN}};
  double f[1];
  uint32_t ord[1];
  fusion_scratch s = {0};
  REQUIRE(fusion_fuse(&o, 2, 1, c, NULL, NULL, f, &s) == 0);
  CHECK_NEAR(f[0], 0.5, TOL); /* min-max of one candidate is 1, weight 1/2 */
  const char *id[] = {"x"};
  CHECK_EQ_INT(fusion_order(1, f, id, &o, ord), 1);
  /* no candidates at all */
  CHECK(fusion_fuse(&o, 2, 0, c, NULL, NULL, f, &s) == 0);
  CHECK_EQ_INT(fusion_order(0, f, id, &o, ord), 0);
  fusion_scratch_free(&s);
}

TEST(threshold) {
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.alpha = 0.3;
  o.has_threshold = 1;
  o.threshold = 0.3;
  double f[4];
  uint32_t ord[4];
  blend_leg_score c[8];
  CHECK_EQ_INT(fuse4(&o, f, ord, c), 2); /* B 0.7, A 0.3; C 0 dropped */
}

/* Many ties: the order depends only on (score, id), not on input order,
** so offset pages neither repeat nor drop a hit. */
TEST(stable_order_under_shuffle) {
  enum { N = 60 };
  char names[N][8];
  const char *ids[N];
  double fused[N];
  for (int i = 0; i < N; i++) {
    snprintf(names[i], sizeof names[i], "d%02d", i);
    ids[i] = names[i];
    fused[i] = (double)(i % 4); /* 15-way ties */
  }
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  uint32_t ref[N], got[N];
  REQUIRE(fusion_order(N, fused, ids, &o, ref) == N);
  const char *ref_ids[N];
  for (int i = 0; i < N; i++) ref_ids[i] = ids[ref[i]];
  for (int i = 1; i < N; i++) {
    double a = fused[ref[i - 1]], b = fused[ref[i]];
    CHECK(a > b || (a == b && strcmp(ids[ref[i - 1]], ids[ref[i]]) > 0));
  }
  srand(7);
  for (int round = 0; round < 20; round++) {
    /* shuffle the candidates (ids and scores together) */
    for (int i = N - 1; i > 0; i--) {
      int j = rand() % (i + 1);
      const char *t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
      double d = fused[i];
      fused[i] = fused[j];
      fused[j] = d;
    }
    REQUIRE(fusion_order(N, fused, ids, &o, got) == N);
    for (int i = 0; i < N; i++) CHECK_STR(ids[got[i]], ref_ids[i]);
  }
}

TEST(option_checks) {
  blend_fusion_options o;
  blend_error err = {0};
  blend_fusion_options_default(&o);
  CHECK(blend_fusion_options_check(&o, 2, &err) == 0);
  CHECK(blend_fusion_options_check(&o, 0, &err) == BLEND_EINVAL);
  o.alpha = 1.5;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "--alpha") != NULL);
  o.alpha = NAN;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  o.alpha = 0.5;
  CHECK(blend_fusion_options_check(&o, 3, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "--weights") != NULL);
  blend_fusion_options_default(&o);
  o.nweights = 2;
  o.weights[0] = 1;
  o.weights[1] = 1;
  CHECK(blend_fusion_options_check(&o, 3, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "2 weights for 3 legs") != NULL);
  o.weights[1] = -1;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  o.weights[1] = INFINITY;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  o.weights[0] = o.weights[1] = 0;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  blend_fusion_options_default(&o);
  o.rrf_k = 0;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "--rrf-k") != NULL);
  o.rrf_k = -5;
  CHECK(blend_fusion_options_check(&o, 2, &err) == BLEND_EINVAL);
  int v;
  CHECK(blend_norm_parse("minmax", &v, &err) == 0 && v == BLEND_NORM_MINMAX);
  CHECK(blend_norm_parse("dbsf", &v, &err) == 0 && v == BLEND_NORM_DBSF);
  CHECK(blend_norm_parse("l2", &v, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "'l2'") && strstr(err.message, "zscore"));
  CHECK(blend_fusion_parse("rrf", &v, &err) == 0 && v == BLEND_FUSION_RRF);
  CHECK(blend_fusion_parse("condorcet", &v, &err) == BLEND_EINVAL);
  CHECK(blend_leg_parse("bm25-multi", &v, &err) == 0 && v == BLEND_LEG_BM25_MULTI);
  CHECK(blend_leg_parse("colbert", &v, &err) == BLEND_EINVAL);
  for (int i = 0; i <= BLEND_NORM_BORDA; i++)
    CHECK(blend_norm_parse(blend_norm_name(i), &v, NULL) == 0 && v == i);
  for (int i = 0; i <= BLEND_FUSION_COMBMAX; i++)
    CHECK(blend_fusion_parse(blend_fusion_name(i), &v, NULL) == 0 && v == i);
}

static blend_run *mkrun(const char *const *triples, int n) {
  blend_run *r;
  if (blend_run_new(&r, NULL)) return NULL;
  for (int i = 0; i < n; i++)
    if (blend_run_add(r, triples[3 * i], triples[3 * i + 1], atof(triples[3 * i + 2]), NULL)) {
      blend_run_free(r);
      return NULL;
    }
  return r;
}

TEST(fuse_runs_small) {
  static const char *a[] = {"q1", "d1", "3", "q1", "d2", "2", "q1", "d3", "1", "q2", "x", "1"};
  static const char *b[] = {"q1", "d3", "30", "q1", "d4", "10", "q3", "y", "1"};
  blend_run *ra = mkrun(a, 4), *rb = mkrun(b, 3);
  REQUIRE(ra && rb);
  const blend_run *runs[] = {ra, rb};
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.fusion = BLEND_FUSION_RRF;
  blend_run *out = NULL;
  blend_error err = {0};
  REQUIRE(blend_fuse_runs(runs, 2, &o, 0, 0, &out, &err) == 0);
  /* q1: d1 1/61, d2 1/62, d3 1/63 + 1/61, d4 1/62; q2: x; q3: y */
  CHECK_EQ_INT(blend_run_size(out), 6);
  blend_run_free(out);
  /* depth 1: only each run's top document */
  REQUIRE(blend_fuse_runs(runs, 2, &o, 1, 0, &out, &err) == 0);
  CHECK_EQ_INT(blend_run_size(out), 4); /* q1: d1, d3; q2: x; q3: y */
  blend_run_free(out);
  o.complete_scores = 1;
  CHECK(blend_fuse_runs(runs, 2, &o, 0, 0, &out, &err) == BLEND_EINVAL);
  blend_run_free(ra);
  blend_run_free(rb);
  /* disjoint query sets */
  static const char *c[] = {"q7", "d1", "1"};
  static const char *d[] = {"q8", "d1", "1"};
  ra = mkrun(c, 1);
  rb = mkrun(d, 1);
  const blend_run *runs2[] = {ra, rb};
  blend_fusion_options_default(&o);
  CHECK(blend_fuse_runs(runs2, 2, &o, 0, 0, &out, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "disjoint") != NULL);
  blend_run_free(ra);
  blend_run_free(rb);
}
