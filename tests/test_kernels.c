/*
** test_kernels.c — every SIMD build of the encoder kernels the machine can
** run, forced one at a time, against its scalar twin: int8 linear bit for
** bit, f32 linear / elementwise / attention within float tolerance. A build
** the CPU lacks is reported as SKIP (with the missing unit), never passed
** silently. Also the dispatch rules (enc_kernels_select caps, names).
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/dispatch.h"
#include "encoder/kernels.h"
#include "encoder/quant.h"
#include "encoder/quant_isa.h"
#include "test.h"
#include "test_rand.h"
#include "test_q8_case.h"


/* SKIP the calling test unless this CPU runs isa. */
#define NEED(isa)                                                                            \
  do {                                                                                       \
    cpu_features f_;                                                                         \
    cpu_detect(&f_);                                                                         \
    if (!enc_isa_supported(&f_, isa)) {                                                      \
      char why_[160];                                                                        \
      snprintf(why_, sizeof why_, "this CPU cannot run the %s build (%s)", enc_isa_name(isa), \
               f_.brand[0] ? f_.brand : "unknown CPU");                                      \
      SKIP(why_);                                                                            \
    }                                                                                        \
  } while (0)

typedef struct shape {
  uint32_t rows, in, out;
} shape;
static const shape shapes[] = {{1, 1, 1},     {1, 5, 1},      {3, 3, 17},    {7, 67, 33},
                               {6, 64, 64},   {13, 130, 100}, {12, 384, 70}, {1, 1536, 16},
                               {25, 100, 65}, {97, 12, 130},  {5, 7, 300},   {104, 64, 200},
                               {70, 516, 480},
                               /* AVX2 int8 edges: K tails past a 16-value quantize step
                               ** (15, 17, 33), row pairs with a single last row across
                               ** 96-row activation chunks (193 = 2·96 + 1, 98), one
                               ** channel past a block (17), a partial last block (31);
                               ** rows cover every remainder of the 6-row VNNI tiles */
                               {2, 15, 16},   {3, 17, 48},    {98, 33, 31},  {193, 20, 17}};

/* int8: the forced build equals q8_linear_ref bit for bit (NaN/inf inputs,
** zero rows and skewed rows included), whole matrix and column ranges. */
static void q8_vs_twin(int isa) {
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    q8_case c;
    REQUIRE(q8_case_new(&c, sh.rows, sh.in, sh.out, s % 2 ? 0.9f : 0.0f) == 0);
    size_t ny = (size_t)sh.rows * sh.out, bad, first;
    float *yf = malloc(ny * 4);
    c.q.isa = isa;
    CHECK_STR(q8_kernel_name(&c.q), enc_isa_name(isa));
    for (unsigned thr = 1; thr <= 2; thr++) {
      memset(yf, 0xFF, ny * 4);
      REQUIRE(q8_linear(c.x, sh.rows, &c.q, c.b, yf, thr) == 0);
      bad = q8_case_wrong(&c, yf, 0, sh.out, &first);
      CHECKF(bad == 0, "%s shape %ux%u->%u thr %u: %zu of %zu differ from the twin, first [%zu] %.9g vs %.9g",
             enc_isa_name(isa), sh.rows, sh.in, sh.out, thr, bad, ny, first, c.yr[first], yf[first]);
    }
    /* a column range that starts and ends inside 16-channel blocks */
    uint32_t c0 = sh.out / 3, c1 = sh.out - sh.out / 5;
    memset(yf, 0xFF, ny * 4);
    REQUIRE(q8_linear_block(c.x, sh.rows, &c.q, c0, c1, c.b, yf, sh.out) == 0);
    bad = q8_case_wrong(&c, yf, c0, c1, &first);
    CHECKF(bad == 0, "%s block [%u,%u) of %ux%u->%u: %zu wrong", enc_isa_name(isa), c0, c1, sh.rows,
           sh.in, sh.out, bad);
    q8_case_free(&c);
    free(yf);
  }
}

TEST(q8_scalar_matches_twin) { q8_vs_twin(ENC_SCALAR); }
TEST(q8_avx2_matches_twin) {
  NEED(ENC_AVX2);
  q8_vs_twin(ENC_AVX2);
}
TEST(q8_avxvnni_matches_twin) {
  NEED(ENC_AVX_VNNI);
  q8_vs_twin(ENC_AVX_VNNI);
}
TEST(q8_avx512vnni_matches_twin) {
  NEED(ENC_AVX512_VNNI);
  q8_vs_twin(ENC_AVX512_VNNI);
}
TEST(q8_amx_matches_twin) {
  NEED(ENC_AMX_INT8);
  q8_vs_twin(ENC_AMX_INT8);
}

/* f32: within 1e-5 of the double-accumulated naive loop, relative to the
** magnitude of the summed terms, and nothing written outside [c0, c1). */
static void f32_vs_twin(int isa) {
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    float *W = rand_buf((size_t)sh.out * sh.in, 0.05f, 0.0f), *x = rand_buf((size_t)sh.rows * sh.in, 1.0f, 0.2f);
    float *b = rand_buf(sh.out, 0.1f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *yr = malloc(ny * 4), *yf = malloc(ny * 4);
    f32_packed p;
    REQUIRE(f32_pack(W, sh.out, sh.in, &p, NULL) == 0);
    p.isa = isa;
    CHECK_STR(f32_kernel_name(&p), enc_isa_name(isa));
    f32_linear_ref(x, sh.rows, W, sh.out, sh.in, b, yr);
    uint32_t c0 = sh.out / 3, c1 = sh.out - sh.out / 5;
    for (int pass = 0; pass < 2; pass++) {
      for (size_t i = 0; i < ny; i++) yf[i] = NAN;
      if (pass == 0) REQUIRE(f32_linear(x, sh.rows, &p, b, yf, 2) == 0);
      else REQUIRE(f32_linear_block(x, sh.rows, &p, c0, c1, b, yf, sh.out) == 0);
      double worst = 0;
      size_t outside = 0;
      for (uint32_t r = 0; r < sh.rows; r++)
        for (uint32_t n = 0; n < sh.out; n++) {
          size_t i = (size_t)r * sh.out + n;
          if (pass == 1 && (n < c0 || n >= c1)) {
            outside += !isnan(yf[i]);
            continue;
          }
          double mag = fabs(b[n]);
          for (uint32_t k = 0; k < sh.in; k++)
            mag += fabs((double)x[(size_t)r * sh.in + k] * W[(size_t)n * sh.in + k]);
          double e = fabs((double)yf[i] - yr[i]) / (mag + 1e-30);
          if (!(e <= worst)) worst = e;
        }
      CHECKF(worst < 1e-5 && outside == 0, "%s shape %ux%u->%u pass %d: worst relative error %g, %zu written outside",
             enc_isa_name(isa), sh.rows, sh.in, sh.out, pass, worst, outside);
    }
    f32_packed_free(&p);
    free(W), free(x), free(b), free(yr), free(yf);
  }
}

TEST(f32_scalar_matches_twin) { f32_vs_twin(ENC_SCALAR); }
TEST(f32_avx2_matches_twin) {
  NEED(ENC_AVX2);
  f32_vs_twin(ENC_AVX2);
}
TEST(f32_avx512_matches_twin) {
  NEED(ENC_AVX512);
  f32_vs_twin(ENC_AVX512);
}

/* GELU, residual + LayerNorm and attention of one build vs the twins. */
static void vec_vs_twin(int isa) {
  const k_vec_ops *o = k_vec_ops_for(isa);
  float x[2001], g[2001];
  for (int i = 0; i <= 2000; i++) x[i] = -8.0f + (float)i * 0.008f;
  memcpy(g, x, sizeof x);
  o->gelu(g, 2001);
  double mx = 0;
  for (int i = 0; i <= 2000; i++) mx = fmax(mx, fabs(g[i] - k_ref_gelu(x[i])));
  CHECKF(mx < 2e-6, "%s gelu vs erf twin: %.3g", o->name, mx);
  float a[383], r[383], g2[383], b2[383], t[383];
  for (int i = 0; i < 383; i++) {
    a[i] = sinf((float)i) * 3.0f + 0.5f;
    r[i] = cosf((float)i * 0.7f);
    g2[i] = 1.0f + 0.01f * (float)(i % 7);
    b2[i] = 0.02f * (float)(i % 5);
    t[i] = a[i] + r[i];
  }
  o->add_layernorm(a, r, 383, g2, b2, 1e-12f);
  k_ref_layernorm(t, 383, g2, b2, 1e-12f);
  mx = 0;
  for (int i = 0; i < 383; i++) mx = fmax(mx, fabs(a[i] - t[i]));
  CHECKF(mx < 2e-6, "%s layernorm vs twin: %.3g", o->name, mx);
  /* attention: short, ragged, not a multiple of the 6-query tile and multi-block
  ** (T > 256, > 512) sequences; head sizes 32, 24, 64 and 40 (tails of 16),
  ** 18 (a tail of the 4-step reduction) */
  size_t Ts[] = {1, 7, 100, 128, 300, 515}, ds[] = {32, 24, 64, 40, 18};
  for (size_t ti = 0; ti < 6; ti++)
    for (size_t di = 0; di < 5; di++) {
      size_t T = Ts[ti], d = ds[di], ld = 3 * d;
      float *qkv = rand_buf(T * ld, 1.0f, 0.0f), *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4);
      float *scr = malloc(k_attention_scratch(T, d) * 4);
      uint8_t *mask = malloc(T);
      memset(mask, 1, T);
      o->attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, 0.5f, o1, d, scr);
      k_ref_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, mask, 0.5f, o2, d);
      mx = 0;
      for (size_t i = 0; i < T * d; i++) mx = fmax(mx, fabs(o1[i] - o2[i]));
      CHECKF(mx < 1e-5, "%s attention T %zu d %zu vs twin: %.3g", o->name, T, d, mx);
      free(qkv), free(o1), free(o2), free(scr), free(mask);
    }
}

TEST(vec_scalar_matches_twin) { vec_vs_twin(ENC_SCALAR); }
TEST(vec_avx2_matches_twin) {
  NEED(ENC_AVX2);
  vec_vs_twin(ENC_AVX2);
}
TEST(vec_avx512_matches_twin) {
  NEED(ENC_AVX512);
  vec_vs_twin(ENC_AVX512);
}

/* Selection: caps are honoured, nothing is picked the CPU lacks, a CPU
** with nothing runs scalar (AMX rules: test_amx.c). */
TEST(dispatch_rules) {
  cpu_features f;
  cpu_detect(&f);
  enc_kernels k;
  for (int cap = ENC_SCALAR; cap <= ENC_CAP_NONE; cap++) {
    enc_kernels_select(&f, cap, &k);
    int u[] = {k.f32, k.q8, k.bf16, k.vec, k.att};
    for (int i = 0; i < 5; i++) {
      CHECKF(u[i] <= cap, "cap %d: unit %d got %d", cap, i, u[i]);
      CHECKF(enc_isa_supported(&f, u[i]), "cap %d: unit %d got unsupported %s", cap, i,
             enc_isa_name(u[i]));
    }
  }
  cpu_features none;
  memset(&none, 0, sizeof none);
  enc_kernels_select(&none, ENC_CAP_NONE, &k);
  CHECK(k.f32 == ENC_SCALAR && k.q8 == ENC_SCALAR && k.bf16 == ENC_SCALAR && k.vec == ENC_SCALAR);
  CHECK(!enc_isa_supported(&none, ENC_AVX2));
  /* a CPU that lists AVX-512 but whose OS does not save zmm state: not usable */
  cpu_features half = f;
  half.avx512f = 0;
  CHECK(!enc_isa_supported(&half, ENC_AVX512) && !enc_isa_supported(&half, ENC_AVX512_VNNI));
  /* AVX-VNNI without AVX-512 (Alder Lake; Zen 5 with AVX-512 off): int8 runs
  ** vpdpbusd ymm, the rest AVX2; and the order AVX-512 VNNI > AVX-VNNI > AVX2 */
  cpu_features adl;
  memset(&adl, 0, sizeof adl);
  adl.avx2 = adl.fma = adl.avxvnni = 1;
  enc_kernels_select(&adl, ENC_CAP_NONE, &k);
  CHECK(k.q8 == ENC_AVX_VNNI && k.f32 == ENC_AVX2 && k.vec == ENC_AVX2);
  enc_kernels_select(&adl, ENC_AVX2, &k);
  CHECK(k.q8 == ENC_AVX2);
  adl.fma = 0; /* VEX VNNI is only taken with the AVX2 + FMA it is built with */
  CHECK(!enc_isa_supported(&adl, ENC_AVX_VNNI));
  if (enc_isa_supported(&f, ENC_AVX512_VNNI) && f.avxvnni) {
    enc_kernels_select(&f, ENC_AVX_VNNI, &k);
    CHECK(k.q8 == ENC_AVX_VNNI);
    enc_kernels_select(&f, ENC_CAP_NONE, &k);
    CHECK(k.q8 == ENC_AVX512_VNNI);
  }
  char buf[512];
  enc_kernels_select(&f, ENC_CAP_NONE, &k);
  enc_kernels_describe(&k, buf, sizeof buf);
  CHECK(strstr(buf, enc_isa_name(k.q8)) != NULL);
  CHECK_STR(enc_isa_name(ENC_AVX512_VNNI), "avx512-vnni");
  CHECK_STR(enc_isa_name(ENC_AVX_VNNI), "avx-vnni");
  char feats[512];
  cpu_feature_list(&f, feats, sizeof feats);
  if (f.avx2) CHECK(strstr(feats, "avx2") != NULL);
  if (!f.amx_tile) CHECK(cpu_request_amx(&f) == -1);
}

/* bf16 rounding: the vector conversion equals bf16_from_f32 bit for bit on
** ties, NaN, infinities, denormals, signed zeros and random values. */
TEST(bf16_rounding_matches_twin) {
  NEED(ENC_AVX512_BF16);
  enum { N = 4099 };
  float *x = malloc(N * 4);
  uint16_t *h = malloc(N * 2);
  uint32_t special[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u,
                        0x7F800001u, 0xFFC00001u, 0x00000001u, 0x807FFFFFu, 0x00800000u,
                        0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7FFFFFu, 0x3F807FFFu};
  for (int i = 0; i < N; i++) {
    uint32_t u = i < 15 ? special[i] : rnd();
    memcpy(&x[i], &u, 4);
  }
  bf16_round_row_avx512(x, N, h);
  size_t bad = 0;
  for (int i = 0; i < N; i++) {
    uint16_t t = bf16_from_f32(x[i]);
    if (t != h[i] && bad++ < 3) {
      uint32_t u;
      memcpy(&u, &x[i], 4);
      test_fail(__FILE__, __LINE__, "bf16(0x%08x): vector 0x%04x, twin 0x%04x", u, h[i], t);
    }
  }
  CHECKF(bad == 0, "%zu of %d conversions differ", bad, N);
  CHECK(bf16_from_f32(1.0f) == 0x3F80);
  CHECK(bf16_to_f32(bf16_from_f32(3.0f)) == 3.0f);
  free(x), free(h);
}

/* bf16 linear: within 2e-6 (relative to the summed magnitudes) of the twin,
** which sums the same bf16 products in double; and about 1e-2 of f32. */
static void bf16_vs_twin(int isa) {
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    float *W = rand_buf((size_t)sh.out * sh.in, 0.05f, 0.0f), *x = rand_buf((size_t)sh.rows * sh.in, 1.0f, 0.2f);
    float *b = rand_buf(sh.out, 0.1f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *yr = malloc(ny * 4), *yf = malloc(ny * 4), *y32 = malloc(ny * 4);
    bf16_packed p;
    REQUIRE(bf16_pack(W, sh.out, sh.in, &p, NULL) == 0);
    p.isa = isa;
    CHECK_STR(bf16_kernel_name(&p), enc_isa_name(isa));
    bf16_linear_ref(x, sh.rows, &p, b, yr);
    f32_linear_ref(x, sh.rows, W, sh.out, sh.in, b, y32);
    uint32_t c0 = sh.out / 3, c1 = sh.out - sh.out / 5;
    for (int pass = 0; pass < 2; pass++) {
      for (size_t i = 0; i < ny; i++) yf[i] = NAN;
      if (pass == 0) REQUIRE(bf16_linear(x, sh.rows, &p, b, yf, 2) == 0);
      else REQUIRE(bf16_linear_block(x, sh.rows, &p, c0, c1, b, yf, sh.out) == 0);
      double worst = 0, worst32 = 0;
      size_t outside = 0;
      for (uint32_t r = 0; r < sh.rows; r++)
        for (uint32_t n = 0; n < sh.out; n++) {
          size_t i = (size_t)r * sh.out + n;
          if (pass == 1 && (n < c0 || n >= c1)) {
            outside += !isnan(yf[i]);
            continue;
          }
          double mag = fabs(b[n]);
          for (uint32_t k = 0; k < sh.in; k++)
            mag += fabs((double)x[(size_t)r * sh.in + k] * W[(size_t)n * sh.in + k]);
          double e = fabs((double)yf[i] - yr[i]) / (mag + 1e-30);
          double e32 = fabs((double)yf[i] - y32[i]) / (mag + 1e-30);
          if (!(e <= worst)) worst = e;
          if (!(e32 <= worst32)) worst32 = e32;
        }
      CHECKF(worst < 2e-6 && worst32 < 1e-2 && outside == 0,
             "%s shape %ux%u->%u pass %d: vs twin %g, vs f32 %g, %zu written outside",
             enc_isa_name(isa), sh.rows, sh.in, sh.out, pass, worst, worst32, outside);
    }
    bf16_packed_free(&p);
    free(W), free(x), free(b), free(yr), free(yf), free(y32);
  }
}

TEST(bf16_scalar_matches_twin) { bf16_vs_twin(ENC_SCALAR); }
TEST(bf16_avx512bf16_matches_twin) {
  NEED(ENC_AVX512_BF16);
  bf16_vs_twin(ENC_AVX512_BF16);
}
TEST(bf16_amx_matches_twin) {
  NEED(ENC_AMX_BF16);
  bf16_vs_twin(ENC_AMX_BF16);
}

/* BF16 attention vs its twin (same bf16 roundings, double sums) and, more
** loosely, vs the f32 twin; multi-block T and a head size that falls back. */
TEST(attention_bf16_matches_twin) {
  NEED(ENC_AVX512_BF16);
  size_t Ts[] = {1, 2, 9, 100, 256, 300}, ds[] = {32, 64, 24};
  for (size_t ti = 0; ti < 6; ti++)
    for (size_t di = 0; di < 3; di++) {
      size_t T = Ts[ti], d = ds[di], ld = 3 * d;
      float *qkv = rand_buf(T * ld, 1.0f, 0.0f), *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4),
            *o3 = malloc(T * d * 4);
      float *scr = malloc(k_attention_scratch(T, d) * 4);
      uint8_t *mask = malloc(T);
      memset(mask, 1, T);
      float scale = 1.0f / sqrtf((float)d) * 2.0f; /* peaky enough to matter */
      k_attention_bf16(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o1, d, scr);
      k_ref_attention_bf16(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o2, d);
      k_ref_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, mask, scale, o3, d);
      double e2 = 0, e3 = 0;
      for (size_t i = 0; i < T * d; i++) {
        e2 = fmax(e2, fabs(o1[i] - o2[i]));
        e3 = fmax(e3, fabs(o1[i] - o3[i]));
      }
      /* the twin rounds P with the global row max: identical for T <= 256 */
      double tol = d % 16 ? 1e-5 : T <= 256 ? 5e-4 : 5e-3;
      if (d % 16) e2 = 0; /* fallback: the f32 kernel, checked against o3 */
      CHECKF(e2 < tol && e3 < (d % 16 ? 1e-5 : 3e-2),
             "bf16 attention T %zu d %zu: vs bf16 twin %.3g, vs f32 twin %.3g", T, d, e2, e3);
      free(qkv), free(o1), free(o2), free(o3), free(scr), free(mask);
    }
}
