/*
** test_vector.c — the dense-vector field (src/vector): every SIMD kernel the
** CPU has against the scalar twin (bit for bit), the exact scan against a
** double-precision brute force and across kernels/threads, HNSW recall@10 vs
** exact on clustered vectors at default parameters, build determinism across
** thread counts, persistence, filtered search down to 0.1% selectivity,
** int8 + rescoring recall, and bad input / hostile payloads.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_rand.h"
#include "util/util.h"
#include "vector/vec_internal.h"
#include "vector/vector.h"

/* ---------------------------------------------------------------- data */

static float gauss(void) {
  float s = 0;
  for (int i = 0; i < 4; i++) s += frand();
  return s * 0.8660254f;
}

/* Embedding-like data: cluster centres in a low-dimensional latent space
** projected up, a shared mean direction, per-point noise (not uniform
** noise, which makes every ANN method look alike). */
static float *clustered(uint32_t n, uint32_t dim, uint32_t clusters, uint64_t seed) {
  test_rng_seed(seed * 0x2545F4914F6CDD1Dull + 1);
  uint32_t lat = 16;
  float *P = malloc(sizeof(float) * lat * dim), *C = malloc(sizeof(float) * clusters * lat);
  float *mean = malloc(sizeof(float) * dim), *x = malloc(sizeof(float) * (size_t)n * dim);
  for (uint32_t i = 0; i < lat * dim; i++) P[i] = gauss();
  for (uint32_t i = 0; i < clusters * lat; i++) C[i] = gauss() * 2.0f;
  for (uint32_t d = 0; d < dim; d++) mean[d] = gauss() * 0.7f;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t c = rnd() % clusters;
    float z[16];
    for (uint32_t j = 0; j < lat; j++) z[j] = C[c * lat + j] + gauss() * 0.8f;
    for (uint32_t d = 0; d < dim; d++) {
      float s = 0;
      for (uint32_t j = 0; j < lat; j++) s += z[j] * P[j * dim + d];
      x[(size_t)i * dim + d] = s * 0.25f + mean[d] + gauss() * 0.35f;
    }
  }
  free(P), free(C), free(mean);
  return x;
}

/* Payloads as the segment holds them: 64-byte aligned copies. */
typedef struct payload {
  void *store, *graph;
  size_t store_len, graph_len;
} payload;

static void *aligned_copy(const void *p, size_t n) {
  void *q = NULL;
  if (posix_memalign(&q, 64, n ? (n + 63) & ~(size_t)63 : 64)) return NULL;
  if (n) memcpy(q, p, n);
  return q;
}

static int build_payload(const float *x, uint32_t n, uint32_t dim, const vec_build_params *bp,
                         payload *pl) {
  bbuf s = {0}, g = {0};
  blend_error e = {0};
  int rc = vec_build(x, n, dim, bp, &s, &g, &e);
  if (rc) {
    fprintf(stderr, "vec_build: %s\n", e.message);
    bbuf_free(&s), bbuf_free(&g);
    return rc;
  }
  pl->store = aligned_copy(s.data, s.len);
  pl->store_len = s.len;
  pl->graph = g.len ? aligned_copy(g.data, g.len) : NULL;
  pl->graph_len = g.len;
  bbuf_free(&s), bbuf_free(&g);
  return 0;
}
static void payload_free(payload *pl) { free(pl->store), free(pl->graph); }

static vec_field *open_payload(const payload *pl, const vec_kernels *k) {
  vec_field *f = NULL;
  blend_error e = {0};
  if (vec_field_open_ex(pl->store, pl->store_len, pl->graph, pl->graph_len, k, &f, &e)) {
    fprintf(stderr, "vec_field_open: %s\n", e.message);
    return NULL;
  }
  return f;
}

static vec_search_params sp(uint32_t k, uint32_t ef, int exact) {
  vec_search_params p;
  memset(&p, 0, sizeof p);
  p.k = k;
  p.ef = ef;
  p.exact = exact;
  return p;
}

static const char *const kernel_names[] = {"scalar", "avx2", "avx512"};

/* ---------------------------------------------------------------- kernels */

TEST(vector_kernels_match_scalar_twin_bit_for_bit) {
  const vec_kernels *ref = vec_kernels_by_name("scalar");
  REQUIRE(ref && vec_kernels_best());
  int tested = 0;
  size_t sizes[] = {1, 3, 15, 16, 17, 31, 63, 64, 65, 100, 127, 128, 129, 200, 384, 385, 768, 1000};
  float *a = malloc(4 * 1024), *r[4];
  for (int i = 0; i < 4; i++) r[i] = malloc(4 * 1024);
  uint8_t *c = malloc(1024);
  int8_t *q = malloc(1024);
  for (int ki = 1; ki < 3; ki++) {
    const vec_kernels *k = vec_kernels_by_name(kernel_names[ki]);
    if (!k) continue;
    tested++;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
      size_t n = sizes[si];
      for (int rep = 0; rep < 20; rep++) {
        for (size_t d = 0; d < n; d++) {
          a[d] = gauss() * (rep % 3 ? 1.0f : 1e-3f);
          for (int i = 0; i < 4; i++) r[i][d] = gauss() + (float)(rep % 5) * 0.1f;
        }
        const float *rr[4] = {r[0], r[1], r[2], r[3]};
        float o1[4], o2[4];
        for (int i = 0; i < 4; i++) {
          float x = ref->dot(a, r[i], n), y = k->dot(a, r[i], n);
          CHECKF(memcmp(&x, &y, 4) == 0, "%s dot n=%zu: %.9g vs %.9g", k->name, n, x, y);
          x = ref->l2(a, r[i], n), y = k->l2(a, r[i], n);
          CHECKF(memcmp(&x, &y, 4) == 0, "%s l2 n=%zu: %.9g vs %.9g", k->name, n, x, y);
        }
        ref->dot4(a, rr, n, o1);
        k->dot4(a, rr, n, o2);
        CHECKF(memcmp(o1, o2, sizeof o1) == 0, "%s dot4 n=%zu", k->name, n);
        for (int i = 0; i < 4; i++)
          CHECKF(o1[i] == ref->dot(a, r[i], n), "scalar dot4 != dot at n=%zu", n);
        ref->l2_4(a, rr, n, o1);
        k->l2_4(a, rr, n, o2);
        CHECKF(memcmp(o1, o2, sizeof o1) == 0, "%s l2_4 n=%zu", k->name, n);
        if (n % 64 == 0) {
          for (size_t d = 0; d < n; d++) {
            c[d] = (uint8_t)(rep == 0 ? 255 : rnd());
            q[d] = (int8_t)(rep == 0 ? (d & 1 ? 127 : -127) : (int)(rnd() % 255) - 127);
          }
          CHECK_EQ_INT(ref->dot_u8s8(c, q, n), k->dot_u8s8(c, q, n));
        }
      }
    }
  }
  /* the scalar dot is a real dot product */
  float x[3] = {1, 2, 3}, y[3] = {4, -5, 6};
  CHECK(ref->dot(x, y, 3) == 12.0f);
  CHECK(ref->l2(x, y, 3) == 9.0f + 49.0f + 9.0f);
  free(a), free(c), free(q);
  for (int i = 0; i < 4; i++) free(r[i]);
  if (!tested) SKIP("this CPU has neither AVX2 nor AVX-512: only the scalar path exists");
}

TEST(vector_kernel_names) {
  CHECK(vec_kernels_by_name("scalar") != NULL);
  CHECK(vec_kernels_by_name("nope") == NULL);
  CHECK(vec_kernels_by_name(NULL) == NULL);
  CHECK_STR(vec_kernel_name(), vec_kernels_name(vec_kernels_best()));
  CHECK_EQ_INT(vec_metric_parse("l2"), VEC_L2);
  CHECK_EQ_INT(vec_metric_parse("cosine"), VEC_COSINE);
  CHECK_EQ_INT(vec_metric_parse("euclid"), -1);
  CHECK_EQ_INT(vec_dtype_parse("int8"), VEC_I8);
  CHECK_STR(vec_dtype_name(VEC_F32), "f32");
}

/* ---------------------------------------------------------------- exact */

/* Brute force in double, as an independent reference. */
static double ref_score(const float *x, const float *q, uint32_t dim, int metric) {
  double s = 0, nx = 0, nq = 0;
  for (uint32_t d = 0; d < dim; d++) {
    if (metric == VEC_L2) s -= ((double)x[d] - q[d]) * ((double)x[d] - q[d]);
    else s += (double)x[d] * q[d];
    nx += (double)x[d] * x[d];
    nq += (double)q[d] * q[d];
  }
  if (metric == VEC_COSINE) s /= sqrt(nx) * sqrt(nq);
  return s;
}

TEST(vector_exact_scan_matches_brute_force_all_metrics_and_kernels) {
  uint32_t n = 700, dim = 37, k = 10;
  float *x = clustered(n, dim, 8, 1), *q = clustered(20, dim, 8, 1);
  for (int metric = 0; metric < 3; metric++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.metric = metric;
    bp.hnsw = 0;
    payload pl = {0};
    REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
    CHECK(pl.graph_len == 0);
    vec_scratch *s = vec_scratch_new();
    vec_hit ref_hits[10];
    for (uint32_t qi = 0; qi < 20; qi++) {
      const float *qq = q + (size_t)qi * dim;
      uint32_t nref = 0;
      for (int ki = 0; ki < 3; ki++) {
        const vec_kernels *kt = vec_kernels_by_name(kernel_names[ki]);
        if (!kt) continue;
        vec_field *f = open_payload(&pl, kt);
        REQUIRE(f);
        CHECK(!vec_field_has_graph(f));
        vec_hit h[10];
        uint32_t nh = 0;
        vec_search_params p = sp(k, 0, 0);
        REQUIRE(vec_search(f, s, qq, &p, h, &nh, NULL) == 0);
        CHECK_EQ_INT(nh, k);
        if (ki == 0) {
          memcpy(ref_hits, h, sizeof h);
          nref = nh;
          /* against double brute force: the same ranking up to float noise */
          double best = -INFINITY;
          uint32_t bi = 0;
          for (uint32_t i = 0; i < n; i++) {
            double r = ref_score(x + (size_t)i * dim, qq, dim, metric);
            if (r > best) best = r, bi = i;
          }
          CHECKF(h[0].doc == bi || fabs(h[0].score - best) < 1e-4 * (1 + fabs(best)),
                 "metric %d: top %u vs brute force %u", metric, h[0].doc, bi);
          for (uint32_t i = 0; i < nh; i++) {
            double r = ref_score(x + (size_t)h[i].doc * dim, qq, dim, metric);
            CHECK_NEAR(h[i].score, r, 1e-4 * (1 + fabs(r)));
            if (i) CHECK(h[i - 1].score >= h[i].score);
            /* vec_score returns the very same float */
            CHECK(vec_score(f, qq, h[i].doc) == h[i].score);
          }
        } else {
          CHECK_EQ_INT(nh, nref);
          CHECKF(memcmp(h, ref_hits, nh * sizeof *h) == 0, "kernel %s differs from scalar",
                 kernel_names[ki]);
        }
        vec_field_close(f);
      }
    }
    vec_scratch_free(s);
    payload_free(&pl);
  }
  free(x), free(q);
}

TEST(vector_exact_scan_threads_give_identical_hits) {
  uint32_t n = 3000, dim = 384, k = 20; /* >= 1M floats: the threaded path */
  float *x = clustered(n, dim, 20, 2), *q = clustered(5, dim, 20, 3);
  vec_build_params bp;
  vec_build_params_default(&bp);
  bp.hnsw = 0;
  payload pl = {0};
  REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
  vec_field *f = open_payload(&pl, NULL);
  REQUIRE(f);
  vec_scratch *s = vec_scratch_new();
  uint64_t *allow = calloc((n + 63) / 64, 8);
  uint32_t na = 0;
  for (uint32_t i = 0; i < n; i += 3) allow[i / 64] |= 1ull << (i % 64), na++;
  for (uint32_t qi = 0; qi < 5; qi++) {
    for (int filt = 0; filt < 2; filt++) {
      vec_hit h1[20], h2[20];
      uint32_t n1 = 0, n2 = 0;
      vec_search_params p = sp(k, 0, 1);
      if (filt) p.allow = allow, p.allow_count = na;
      p.threads = 1;
      REQUIRE(vec_search(f, s, q + (size_t)qi * dim, &p, h1, &n1, NULL) == 0);
      p.threads = 3;
      REQUIRE(vec_search(f, s, q + (size_t)qi * dim, &p, h2, &n2, NULL) == 0);
      CHECK_EQ_INT(n1, k);
      CHECK_EQ_INT(n1, n2);
      CHECK(memcmp(h1, h2, n1 * sizeof *h1) == 0);
      if (filt)
        for (uint32_t i = 0; i < n1; i++) CHECK(h1[i].doc % 3 == 0);
    }
  }
  free(allow);
  vec_scratch_free(s);
  vec_field_close(f);
  payload_free(&pl);
  free(x), free(q);
}

/* ---------------------------------------------------------------- HNSW */

static double recall_at(const vec_hit *a, uint32_t na, const vec_hit *truth, uint32_t nt) {
  uint32_t hit = 0;
  for (uint32_t i = 0; i < na; i++)
    for (uint32_t j = 0; j < nt; j++)
      if (a[i].doc == truth[j].doc) {
        hit++;
        break;
      }
  return nt ? (double)hit / nt : 1.0;
}

/* Mean recall@k of HNSW (ef) against the exact scan over nq queries. */
static double field_recall(vec_field *f, const float *q, uint32_t nq, uint32_t dim, uint32_t k,
                           uint32_t ef) {
  vec_scratch *s = vec_scratch_new();
  vec_hit h[64], t[64];
  double sum = 0;
  for (uint32_t i = 0; i < nq; i++) {
    uint32_t nh = 0, nt = 0;
    vec_search_params p = sp(k, ef, 0), pe = sp(k, 0, 1);
    vec_search(f, s, q + (size_t)i * dim, &p, h, &nh, NULL);
    vec_search(f, s, q + (size_t)i * dim, &pe, t, &nt, NULL);
    sum += recall_at(h, nh, t, nt);
  }
  vec_scratch_free(s);
  return sum / nq;
}

TEST(vector_hnsw_recall_at_default_params) {
  uint32_t n = 4000, dim = 64, nq = 200;
  float *x = clustered(n, dim, 40, 4), *q = clustered(nq, dim, 40, 5);
  for (int metric = 0; metric < 3; metric++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.metric = metric;
    bp.threads = 2;
    payload pl = {0};
    double t0 = now_seconds();
    REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
    double bt = now_seconds() - t0;
    vec_field *f = open_payload(&pl, NULL);
    REQUIRE(f && vec_field_has_graph(f));
    double r = field_recall(f, q, nq, dim, 10, 0);
    double r16 = field_recall(f, q, nq, dim, 10, 16);
    printf("  hnsw %s n=%u dim=%u M=16 efC=200: build %.2fs, recall@10 ef=64 %.4f, ef=16 %.4f\n",
           vec_metric_name(metric), n, dim, bt, r, r16);
    /* raw inner product is not a metric (maximum inner-product search):
    ** graphs built on it are known to be weaker, in hnswlib as here */
    double want = metric == VEC_DOT ? 0.85 : 0.95;
    CHECKF(r >= want, "%s recall@10 %.4f < %.2f", vec_metric_name(metric), r, want);
    CHECK(r16 <= r + 0.01); /* a wider beam is not worse */
    vec_field_close(f);
    payload_free(&pl);
  }
  free(x), free(q);
}

TEST(vector_hnsw_build_is_deterministic_across_threads) {
  uint32_t n = 1500, dim = 32;
  float *x = clustered(n, dim, 10, 6);
  vec_build_params bp;
  vec_build_params_default(&bp);
  bp.M = 8;
  bp.ef_construction = 64;
  payload p1 = {0}, p2 = {0}, p3 = {0};
  bp.threads = 1;
  REQUIRE(build_payload(x, n, dim, &bp, &p1) == 0);
  bp.threads = 3;
  REQUIRE(build_payload(x, n, dim, &bp, &p2) == 0);
  CHECK_EQ_INT(p1.graph_len, p2.graph_len);
  CHECK(p1.graph_len == p2.graph_len && memcmp(p1.graph, p2.graph, p1.graph_len) == 0);
  CHECK(p1.store_len == p2.store_len && memcmp(p1.store, p2.store, p1.store_len) == 0);
  bp.seed = 7; /* another seed: other levels, another graph */
  REQUIRE(build_payload(x, n, dim, &bp, &p3) == 0);
  CHECK(p3.graph_len != p1.graph_len || memcmp(p3.graph, p1.graph, p1.graph_len) != 0);
  payload_free(&p1), payload_free(&p2), payload_free(&p3);
  free(x);
}

TEST(vector_persisted_field_gives_identical_results) {
  uint32_t n = 2000, dim = 48, nq = 30;
  float *x = clustered(n, dim, 16, 7), *q = clustered(nq, dim, 16, 8);
  for (int dtype = 0; dtype < 2; dtype++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.dtype = dtype;
    bbuf s = {0}, g = {0};
    REQUIRE(vec_build(x, n, dim, &bp, &s, &g, NULL) == 0);
    /* through the file system and mmap, as a segment would be read */
    char sp_[512], gp[512];
    snprintf(sp_, sizeof sp_, "%s/vec%d.store", test_tmpdir(), dtype);
    snprintf(gp, sizeof gp, "%s/vec%d.graph", test_tmpdir(), dtype);
    REQUIRE(file_write_atomic(sp_, s.data, s.len, NULL) == 0);
    REQUIRE(file_write_atomic(gp, g.data, g.len, NULL) == 0);
    mapped_file ms = {0}, mg = {0};
    REQUIRE(file_map(sp_, &ms, NULL) == 0 && file_map(gp, &mg, NULL) == 0);
    vec_field *fm = NULL;
    REQUIRE(vec_field_open(ms.data, ms.size, mg.data, mg.size, &fm, NULL) == 0);
    payload pl = {aligned_copy(s.data, s.len), aligned_copy(g.data, g.len), s.len, g.len};
    vec_field *fb = open_payload(&pl, NULL);
    REQUIRE(fb);
    CHECK_EQ_INT(vec_field_dtype(fm), dtype);
    CHECK_EQ_INT(vec_field_count(fm), n);
    CHECK_EQ_INT(vec_field_dim(fm), dim);
    vec_scratch *sc = vec_scratch_new();
    for (uint32_t i = 0; i < nq; i++) {
      vec_hit h1[10], h2[10];
      uint32_t n1, n2;
      vec_search_params p = sp(10, 40, 0);
      REQUIRE(vec_search(fm, sc, q + (size_t)i * dim, &p, h1, &n1, NULL) == 0);
      REQUIRE(vec_search(fb, sc, q + (size_t)i * dim, &p, h2, &n2, NULL) == 0);
      CHECK_EQ_INT(n1, 10);
      CHECK(n1 == n2 && memcmp(h1, h2, n1 * sizeof *h1) == 0);
    }
    vec_scratch_free(sc);
    vec_field_close(fm), vec_field_close(fb);
    file_unmap(&ms), file_unmap(&mg);
    payload_free(&pl);
    bbuf_free(&s), bbuf_free(&g);
  }
  free(x), free(q);
}

/* ---------------------------------------------------------------- filters */

TEST(vector_filtered_search_never_leaks_and_returns_k) {
  uint32_t n = 5000, dim = 32, k = 10;
  float *x = clustered(n, dim, 30, 9), *q = clustered(40, dim, 30, 10);
  vec_build_params bp;
  vec_build_params_default(&bp);
  bp.M = 12;
  bp.ef_construction = 100;
  payload pl = {0};
  REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
  vec_field *f = open_payload(&pl, NULL);
  REQUIRE(f);
  vec_scratch *s = vec_scratch_new();
  uint64_t *allow = calloc((n + 63) / 64, 8);
  /* 50%, 10%, 1%, 0.1% (5 docs: fewer than k) and 0.02% (1 doc) */
  const uint32_t every[] = {2, 10, 100, 1000, 5000};
  for (size_t si = 0; si < sizeof every / sizeof *every; si++) {
    memset(allow, 0, (n + 63) / 64 * 8);
    uint32_t na = 0;
    for (uint32_t i = 0; i < n; i++)
      if ((i * 2654435761u) % every[si] == 0) allow[i / 64] |= 1ull << (i % 64), na++;
    double rsum = 0;
    for (uint32_t qi = 0; qi < 40; qi++) {
      vec_hit h[10], t[10];
      uint32_t nh = 0, nt = 0;
      vec_search_params p = sp(k, 64, 0);
      p.allow = allow;
      p.allow_count = na;
      REQUIRE(vec_search(f, s, q + (size_t)qi * dim, &p, h, &nh, NULL) == 0);
      CHECKF(nh == (na < k ? na : k), "1/%u: %u hits, %u allowed", every[si], nh, na);
      for (uint32_t i = 0; i < nh; i++)
        CHECKF((allow[h[i].doc / 64] >> (h[i].doc % 64)) & 1, "1/%u: doc %u filtered out",
               every[si], h[i].doc);
      p.exact = 1;
      REQUIRE(vec_search(f, s, q + (size_t)qi * dim, &p, t, &nt, NULL) == 0);
      rsum += recall_at(h, nh, t, nt);
    }
    printf("  filter 1/%u (%u docs): recall@10 vs exact filtered %.4f\n", every[si], na, rsum / 40);
    CHECKF(rsum / 40 >= 0.9, "1/%u: filtered recall %.3f", every[si], rsum / 40);
  }
  /* an empty filter: zero hits, no error */
  memset(allow, 0, (n + 63) / 64 * 8);
  vec_hit h[10];
  uint32_t nh = 99;
  vec_search_params p = sp(k, 64, 0);
  p.allow = allow;
  p.allow_count = 0;
  CHECK(vec_search(f, s, q, &p, h, &nh, NULL) == 0 && nh == 0);
  free(allow);
  vec_scratch_free(s);
  vec_field_close(f);
  payload_free(&pl);
  free(x), free(q);
}

/* ---------------------------------------------------------------- int8 */

TEST(vector_int8_rescoring_recall_close_to_f32) {
  uint32_t n = 4000, dim = 96, nq = 100;
  float *x = clustered(n, dim, 40, 11), *q = clustered(nq, dim, 40, 12);
  double r[2];
  size_t bytes[2], resident[2];
  for (int dtype = 0; dtype < 2; dtype++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.dtype = dtype;
    bp.threads = 2;
    payload pl = {0};
    REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
    vec_field *f = open_payload(&pl, NULL);
    REQUIRE(f);
    r[dtype] = field_recall(f, q, nq, dim, 10, 40);
    bytes[dtype] = vec_field_bytes(f);
    resident[dtype] = vec_field_resident_bytes(f);
    /* int8 scores are exact float32 scores after rescoring */
    vec_scratch *s = vec_scratch_new();
    vec_hit h[10];
    uint32_t nh;
    vec_search_params p = sp(10, 40, 0);
    REQUIRE(vec_search(f, s, q, &p, h, &nh, NULL) == 0);
    for (uint32_t i = 0; i < nh; i++) CHECK(h[i].score == vec_score(f, q, h[i].doc));
    vec_scratch_free(s);
    vec_field_close(f);
    payload_free(&pl);
  }
  printf("  recall@10 ef=40: f32 %.4f, int8+rescore %.4f; resident bytes/vector f32 %.0f, int8 %.0f\n",
         r[0], r[1], (double)resident[0] / n, (double)resident[1] / n);
  CHECKF(r[1] >= r[0] - 0.02, "int8 recall %.4f vs f32 %.4f", r[1], r[0]);
  /* at 96-d the graph weighs more than at 384-d (where int8 is ~30%) */
  CHECK(resident[1] * 2 < resident[0]);
  CHECK(bytes[1] > bytes[0]); /* int8 keeps the f32 rows for rescoring */
  free(x), free(q);
}

/* The int8 approximate score tracks the float score (a quantiser bug
** would still pass the recall test thanks to rescoring). */
TEST(vector_int8_approximate_score_is_close) {
  uint32_t n = 300, dim = 64;
  float *x = clustered(n, dim, 5, 13), *q = clustered(10, dim, 5, 14);
  for (int metric = 0; metric < 3; metric++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.dtype = VEC_I8;
    bp.metric = metric;
    bp.hnsw = 0;
    payload pl = {0};
    REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
    vec_field *f = open_payload(&pl, NULL);
    REQUIRE(f);
    vec_scratch *s = vec_scratch_new();
    for (uint32_t qi = 0; qi < 10; qi++) {
      const float *qq = q + (size_t)qi * dim;
      vec_query vq = {qq, metric == VEC_COSINE ? vec_inv_norm(qq, dim) : 1.0f};
      vec_i8_query iq;
      REQUIRE(vec_i8_query_prep(f, s, &vq, &iq) == 0);
      double maxerr = 0, spread = 0;
      for (uint32_t i = 0; i < n; i++) {
        double e = vec_row_score(f, &vq, vec_row(f, i)), a = vec_i8_score(f, &iq, i);
        if (fabs(a - e) > maxerr) maxerr = fabs(a - e);
        if (fabs(e) > spread) spread = fabs(e);
      }
      CHECKF(maxerr < 0.03 * spread, "metric %d: int8 error %.4g of %.4g", metric, maxerr, spread);
    }
    vec_scratch_free(s);
    vec_field_close(f);
    payload_free(&pl);
  }
  free(x), free(q);
}

/* ---------------------------------------------------------------- edges */

TEST(vector_small_fields_and_k_beyond_n) {
  float x[3 * 5] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0.6f, 0.8f, 0, 0, 0};
  for (uint32_t n = 0; n <= 3; n++) {
    vec_build_params bp;
    vec_build_params_default(&bp);
    payload pl = {0};
    REQUIRE(build_payload(x, n, 5, &bp, &pl) == 0);
    CHECK((pl.graph_len > 0) == (n > 0));
    vec_field *f = open_payload(&pl, NULL);
    REQUIRE(f);
    vec_scratch *s = vec_scratch_new();
    vec_hit h[8];
    uint32_t nh = 99;
    float qv[5] = {1, 0.1f, 0, 0, 0};
    vec_search_params p = sp(8, 0, 0);
    CHECK(vec_search(f, s, qv, &p, h, &nh, NULL) == 0);
    CHECK_EQ_INT(nh, n);
    if (n >= 1) CHECK_EQ_INT(h[0].doc, 0);
    if (n == 3) CHECK_EQ_INT(h[1].doc, 2);
    vec_scratch_free(s);
    vec_field_close(f);
    payload_free(&pl);
  }
}

TEST(vector_ties_break_by_ascending_doc) {
  uint32_t n = 50, dim = 4;
  float *x = calloc((size_t)n * dim, sizeof *x);
  for (uint32_t i = 0; i < n; i++) x[(size_t)i * dim + (i % 2)] = 1; /* two distinct rows */
  vec_build_params bp;
  vec_build_params_default(&bp);
  payload pl = {0};
  REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
  vec_field *f = open_payload(&pl, NULL);
  vec_scratch *s = vec_scratch_new();
  float qv[4] = {1, 0, 0, 0};
  for (int exact = 0; exact < 2; exact++) {
    vec_hit h[5];
    uint32_t nh = 0;
    vec_search_params p = sp(5, 64, exact);
    REQUIRE(vec_search(f, s, qv, &p, h, &nh, NULL) == 0);
    CHECK_EQ_INT(nh, 5);
    for (uint32_t i = 0; i < nh; i++) CHECK_EQ_INT(h[i].doc, 2 * i);
  }
  vec_scratch_free(s);
  vec_field_close(f);
  payload_free(&pl);
  free(x);
}

TEST(vector_bad_arguments_are_einval) {
  float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  vec_build_params bp;
  vec_build_params_default(&bp);
  bbuf s = {0}, g = {0};
  blend_error e = {0};
  CHECK(vec_build(x, 2, 0, &bp, &s, &g, &e) == BLEND_EINVAL);
  bp.M = 1;
  CHECK(vec_build(x, 2, 4, &bp, &s, &g, &e) == BLEND_EINVAL);
  CHECK(strstr(e.message, "M") != NULL);
  vec_build_params_default(&bp);
  bp.metric = 9;
  CHECK(vec_build(x, 2, 4, &bp, &s, &g, &e) == BLEND_EINVAL);
  vec_build_params_default(&bp);
  payload pl = {0};
  REQUIRE(build_payload(x, 2, 4, &bp, &pl) == 0);
  vec_field *f = open_payload(&pl, NULL);
  REQUIRE(f);
  vec_scratch *sc = vec_scratch_new();
  float qv[4] = {1, NAN, 0, 0};
  vec_hit h[2];
  uint32_t nh;
  vec_search_params p = sp(2, 0, 0);
  CHECK(vec_search(f, sc, qv, &p, h, &nh, &e) == BLEND_EINVAL);
  CHECK(strstr(e.message, "component 1") != NULL);
  qv[1] = INFINITY;
  CHECK(vec_search(f, sc, qv, &p, h, &nh, &e) == BLEND_EINVAL);
  /* misaligned payload */
  char *mis = (char *)malloc(pl.store_len + 64);
  char *m1 = mis + (64 - ((uintptr_t)mis % 64)) % 64 + 4;
  memcpy(m1, pl.store, pl.store_len - 4);
  vec_field *f2 = NULL;
  CHECK(vec_field_open(m1, pl.store_len - 4, NULL, 0, &f2, &e) == BLEND_EINVAL);
  free(mis);
  vec_scratch_free(sc);
  vec_field_close(f);
  payload_free(&pl);
  bbuf_free(&s), bbuf_free(&g);
}

/* ---------------------------------------------------------------- hostile */

static int try_open(const void *st, size_t sl, const void *gr, size_t gl, blend_error *e) {
  void *a = aligned_copy(st, sl), *b = gl ? aligned_copy(gr, gl) : NULL;
  vec_field *f = NULL;
  int rc = vec_field_open(a, sl, b, gl, &f, e);
  if (!rc) {
    /* whatever opened must search without crashing */
    vec_scratch *s = vec_scratch_new();
    float *qv = calloc(vec_field_dim(f), sizeof *qv);
    qv[0] = 1;
    vec_hit h[10];
    uint32_t nh;
    vec_search_params p = sp(10, 20, 0);
    vec_search(f, s, qv, &p, h, &nh, NULL);
    free(qv);
    vec_scratch_free(s);
    vec_field_close(f);
  }
  free(a), free(b);
  return rc;
}

TEST(vector_hostile_payloads_are_ecorrupt) {
  uint32_t n = 300, dim = 20;
  float *x = clustered(n, dim, 5, 15);
  vec_build_params bp;
  vec_build_params_default(&bp);
  bp.dtype = VEC_I8;
  bp.M = 6;
  bp.ef_construction = 40;
  bbuf s = {0}, g = {0};
  REQUIRE(vec_build(x, n, dim, &bp, &s, &g, NULL) == 0);
  blend_error e = {0};
  REQUIRE(try_open(s.data, s.len, g.data, g.len, &e) == 0);
  /* every truncation of either payload */
  for (size_t l = 0; l < s.len; l += (l < 256 ? 1 : 61))
    CHECKF(try_open(s.data, l, g.data, g.len, &e) == BLEND_ECORRUPT, "store cut at %zu", l);
  for (size_t l = 1; l < g.len; l += (l < 256 ? 1 : 7))
    CHECKF(try_open(s.data, s.len, g.data, l, &e) == BLEND_ECORRUPT, "graph cut at %zu", l);
  /* targeted header fields */
  uint8_t *ms = malloc(s.len), *mg = malloc(g.len);
  const struct { int graph; size_t off; uint32_t v; } bad[] = {
      {0, 0, 0x12345678}, {0, 4, 2},  {0, 8, 0},  {0, 8, 70000}, {0, 12, 1u << 30},
      {0, 16, 3},         {0, 20, 2}, {0, 24, 7}, {0, 28, 0},    {0, 32, 1},
      {0, 40, 0xffffff00},
      {1, 0, 0},          {1, 8, 299}, {1, 12, 1}, {1, 16, 600}, {1, 24, 25},
      {1, 28, 300},       {1, 40, 0xffffffff}, {1, 48, 0xfffffff},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    memcpy(ms, s.data, s.len);
    memcpy(mg, g.data, g.len);
    wr_u32((bad[i].graph ? mg : ms) + bad[i].off, bad[i].v);
    CHECKF(try_open(ms, s.len, mg, g.len, &e) == BLEND_ECORRUPT, "field %s+%zu = %u opened",
           bad[i].graph ? "graph" : "store", bad[i].off, bad[i].v);
    CHECK(e.message[0] != 0);
  }
  /* a layer-0 neighbour id out of range */
  memcpy(mg, g.data, g.len);
  size_t o_links0 = 64 + (((size_t)n + 1) * 4 + 63) / 64 * 64;
  wr_u32(mg + o_links0 + 4 * 5, n + 3);
  CHECK(try_open(s.data, s.len, mg, g.len, &e) == BLEND_ECORRUPT);
  CHECK(strstr(e.message, "link") != NULL);
  /* a non-finite int8 range */
  memcpy(ms, s.data, s.len);
  uint64_t o_ranges = rd_u64(ms + 48);
  float nanv = NAN;
  memcpy(ms + o_ranges, &nanv, 4);
  CHECK(try_open(ms, s.len, g.data, g.len, &e) == BLEND_ECORRUPT);
  /* random byte flips: an error or a field that searches, never a crash */
  for (int it = 0; it < 3000; it++) {
    memcpy(ms, s.data, s.len);
    memcpy(mg, g.data, g.len);
    int which = it & 1;
    size_t len = which ? g.len : s.len;
    size_t off = (it % 5 == 0) ? rnd() % 64 : rnd() % len;
    (which ? mg : ms)[off] ^= (uint8_t)(1u << (rnd() % 8));
    int rc = try_open(ms, s.len, mg, g.len, &e);
    CHECK(rc == 0 || rc == BLEND_ECORRUPT);
  }
  free(ms), free(mg);
  bbuf_free(&s), bbuf_free(&g);
  free(x);
}

/* The kernels return the same bits, so the whole graph — built and
** searched with any kernel table — is the same. */
TEST(vector_hnsw_identical_across_kernels) {
  uint32_t n = 800, dim = 40, nq = 20;
  float *x = clustered(n, dim, 8, 16), *q = clustered(nq, dim, 8, 17);
  payload ref = {0};
  vec_hit href[20 * 10];
  uint32_t nref[20];
  int tested = 0;
  for (int ki = 0; ki < 3; ki++) {
    const vec_kernels *kt = vec_kernels_by_name(kernel_names[ki]);
    if (!kt) continue;
    vec_build_params bp;
    vec_build_params_default(&bp);
    bp.M = 8;
    bp.ef_construction = 50;
    bp.dtype = VEC_I8;
    bp.kernels = kt;
    payload pl = {0};
    REQUIRE(build_payload(x, n, dim, &bp, &pl) == 0);
    vec_field *f = open_payload(&pl, kt);
    REQUIRE(f);
    vec_scratch *s = vec_scratch_new();
    for (uint32_t i = 0; i < nq; i++) {
      vec_hit h[10];
      uint32_t nh = 0;
      vec_search_params p = sp(10, 20, 0);
      REQUIRE(vec_search(f, s, q + (size_t)i * dim, &p, h, &nh, NULL) == 0);
      if (ki == 0) {
        memcpy(href + i * 10, h, sizeof h);
        nref[i] = nh;
      } else {
        CHECK(nh == nref[i] && memcmp(h, href + i * 10, nh * sizeof *h) == 0);
      }
    }
    if (ki == 0) {
      ref = pl;
    } else {
      tested++;
      CHECKF(pl.graph_len == ref.graph_len && memcmp(pl.graph, ref.graph, pl.graph_len) == 0,
             "graph built with %s differs from scalar", kernel_names[ki]);
      payload_free(&pl);
    }
    vec_scratch_free(s);
    vec_field_close(f);
  }
  payload_free(&ref);
  free(x), free(q);
  if (!tested) SKIP("only the scalar kernels on this CPU");
}
