/*
** test_quant.c — int8 and f32 linear layers (src/encoder/quant*.c): the
** fast paths against their scalar twins (bit-identical for int8, 1e-4 for
** f32), int8 accuracy against float math, quantization round trips, work
** splitting across parts/threads, odd shapes and bad input.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/quant.h"
#include "test.h"
#include "test_rand.h"

static float gauss(void) {
  float s = 0;
  for (int i = 0; i < 4; i++) s += frand();
  return s * 0.8660254f; /* ~unit variance */
}

static float *gauss_buf(size_t n, float amp, float offset) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = gauss() * amp + offset;
  return p;
}

typedef struct shape {
  uint32_t rows, in, out;
} shape;

static const shape odd_shapes[] = {
    {1, 1, 1},    {1, 5, 1},     {3, 3, 17},   {7, 67, 33},   {6, 64, 64},  {13, 130, 100},
    {12, 384, 70}, {1, 1536, 16}, {25, 100, 65}, {200, 68, 47}, {97, 12, 130}, {5, 7, 300},
    /* every row-tail size (1..5 after full 6-row tiles) with 4-block tiles */
    {2, 40, 64},  {3, 100, 128}, {10, 33, 64}, {104, 64, 200}, {11, 20, 64},
    /* big enough (>= 8M multiply-adds per thread) for q8_linear to start threads */
    {70, 516, 480},
};

/* Fast q8_linear equals the scalar twin bit for bit, at 1..3 threads. */
TEST(q8_linear_matches_ref_exactly) {
  for (size_t s = 0; s < sizeof odd_shapes / sizeof *odd_shapes; s++) {
    shape sh = odd_shapes[s];
    float *W = gauss_buf((size_t)sh.out * sh.in, 0.05f, 0.0f);
    /* skewed activations (like GELU output) exercise the zero point */
    float *x = gauss_buf((size_t)sh.rows * sh.in, 1.0f, s % 2 ? 0.7f : 0.0f);
    float *b = gauss_buf(sh.out, 0.1f, 0.0f);
    float *yr = malloc(sizeof(float) * sh.rows * sh.out), *yf = malloc(sizeof(float) * sh.rows * sh.out);
    q8_matrix q;
    REQUIRE(q8_quantize(W, sh.out, sh.in, &q, NULL) == 0);
    for (int withbias = 0; withbias < 2; withbias++) {
      REQUIRE(q8_linear_ref(x, sh.rows, &q, withbias ? b : NULL, yr) == 0);
      for (unsigned thr = 1; thr <= 3; thr++) {
        memset(yf, 0xFF, sizeof(float) * sh.rows * sh.out); /* NaN sentinel */
        REQUIRE(q8_linear(x, sh.rows, &q, withbias ? b : NULL, yf, thr) == 0);
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < (size_t)sh.rows * sh.out; i++)
          if (memcmp(&yr[i], &yf[i], sizeof(float)) != 0 && bad++ == 0) first = i;
        CHECKF(bad == 0, "shape %ux%u->%u bias %d thr %u: %zu differ, first [%zu] %.9g vs %.9g",
               sh.rows, sh.in, sh.out, withbias, thr, bad, first, yr[first], yf[first]);
      }
    }
    q8_free(&q);
    free(W), free(x), free(b), free(yr), free(yf);
  }
}

/* Parts 0..n-1 write every output exactly once and match one call, for
** both split directions (many rows → rows; few rows → channel blocks). */
TEST(q8_linear_parts_cover_output_once) {
  shape shapes[] = {{150, 40, 50}, {5, 40, 200}, {1, 33, 1}};
  for (size_t s = 0; s < 3; s++) {
    shape sh = shapes[s];
    float *W = gauss_buf((size_t)sh.out * sh.in, 0.05f, 0.0f), *x = gauss_buf((size_t)sh.rows * sh.in, 1.0f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *y1 = malloc(ny * sizeof(float)), *yp = malloc((ny + 16) * sizeof(float));
    q8_matrix q;
    REQUIRE(q8_quantize(W, sh.out, sh.in, &q, NULL) == 0);
    REQUIRE(q8_linear(x, sh.rows, &q, NULL, y1, 1) == 0);
    for (unsigned np = 1; np <= 5; np++) {
      int *hits = calloc(ny, sizeof(int));
      for (unsigned part = 0; part < np; part++) {
        for (size_t i = 0; i < ny + 16; i++) yp[i] = -12345.0f;
        REQUIRE(q8_linear_part(x, sh.rows, &q, NULL, yp, part, np) == 0);
        for (size_t i = 0; i < ny; i++) {
          if (yp[i] == -12345.0f) continue;
          hits[i]++;
          CHECKF(yp[i] == y1[i], "nparts %u part %u: value differs at %zu", np, part, i);
        }
        for (size_t i = ny; i < ny + 16; i++) CHECK(yp[i] == -12345.0f); /* no overrun */
      }
      size_t wrong = 0;
      for (size_t i = 0; i < ny; i++) wrong += hits[i] != 1;
      CHECKF(wrong == 0, "shape %ux%u->%u nparts %u: %zu outputs not written exactly once",
             sh.rows, sh.in, sh.out, np, wrong);
      free(hits);
    }
    q8_free(&q);
    free(W), free(x), free(y1), free(yp);
  }
}

/* The block API (caller-side splits): row ranges via pointer offsets and
** column ranges [c0, c1) into a wider output (ldy > out) reproduce
** q8_linear / f32_linear exactly and leave other columns alone. */
TEST(linear_block_api) {
  uint32_t rows = 20, in = 70, out = 80;
  size_t ldy = 100;
  float *W = gauss_buf((size_t)out * in, 0.05f, 0.0f), *x = gauss_buf((size_t)rows * in, 1.0f, 0.0f);
  float *b = gauss_buf(out, 0.1f, 0.0f);
  float *y1 = malloc(sizeof(float) * rows * out), *yb = malloc(sizeof(float) * rows * ldy);
  q8_matrix q;
  f32_packed p;
  REQUIRE(q8_quantize(W, out, in, &q, NULL) == 0);
  REQUIRE(f32_pack(W, out, in, &p, NULL) == 0);
  for (int f32 = 0; f32 < 2; f32++) {
    REQUIRE((f32 ? f32_linear(x, rows, &p, b, y1, 1) : q8_linear(x, rows, &q, b, y1, 1)) == 0);
    for (size_t i = 0; i < (size_t)rows * ldy; i++) yb[i] = -7.0f;
    /* rows 0..6 all columns; rows 7..19 in column ranges, aligned or not */
    REQUIRE((f32 ? f32_linear_block(x, 7, &p, 0, out, b, yb, ldy)
                 : q8_linear_block(x, 7, &q, 0, out, b, yb, ldy)) == 0);
    const uint32_t cuts[] = {0, 5, 16, 21, 32, 47, 64, 79, 200};
    for (size_t c = 0; c + 1 < sizeof cuts / sizeof *cuts; c++)
      REQUIRE((f32 ? f32_linear_block(x + 7 * in, rows - 7, &p, cuts[c], cuts[c + 1], b, yb + 7 * ldy, ldy)
                   : q8_linear_block(x + 7 * in, rows - 7, &q, cuts[c], cuts[c + 1], b, yb + 7 * ldy, ldy)) == 0);
    size_t bad = 0, touched = 0;
    for (uint32_t r = 0; r < rows; r++) {
      for (uint32_t n = 0; n < out; n++) bad += memcmp(&yb[r * ldy + n], &y1[r * out + n], 4) != 0;
      for (uint32_t n = out; n < ldy; n++) touched += yb[r * ldy + n] != -7.0f;
    }
    CHECKF(bad == 0 && touched == 0, "%s: %zu differ, %zu padding columns written", f32 ? "f32" : "q8",
           bad, touched);
  }
  CHECK(q8_linear_block(x, rows, &q, 0, 50, b, yb, 40) == BLEND_EINVAL); /* ldy < c1 */
  CHECK(f32_linear_block(x, rows, &p, 0, 50, b, yb, 40) == BLEND_EINVAL);
  q8_free(&q);
  f32_packed_free(&p);
  free(W), free(x), free(b), free(y1), free(yb);
}

/* Int8 result is close to float math: relative L2 error of the output and
** per-row cosine, on BERT-like magnitudes (incl. a skewed GELU-like input). */
TEST(q8_linear_accuracy_vs_float) {
  shape shapes[] = {{32, 384, 384}, {16, 1536, 384}, {8, 384, 1152}};
  for (size_t s = 0; s < 3; s++) {
    shape sh = shapes[s];
    float *W = gauss_buf((size_t)sh.out * sh.in, 0.05f, 0.0f);
    float *x = gauss_buf((size_t)sh.rows * sh.in, 1.0f, 0.0f);
    if (s == 1) /* GELU-like: mostly small, some large positive */
      for (size_t i = 0; i < (size_t)sh.rows * sh.in; i++) x[i] = x[i] > 0 ? x[i] * 2.0f : x[i] * 0.05f;
    float *b = gauss_buf(sh.out, 0.1f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *yf = malloc(ny * sizeof(float)), *yq = malloc(ny * sizeof(float));
    q8_matrix q;
    REQUIRE(q8_quantize(W, sh.out, sh.in, &q, NULL) == 0);
    f32_linear_ref(x, sh.rows, W, sh.out, sh.in, b, yf);
    REQUIRE(q8_linear(x, sh.rows, &q, b, yq, 1) == 0);
    double num = 0, den = 0, worst_cos = 1;
    for (uint32_t r = 0; r < sh.rows; r++) {
      double dot = 0, nf = 0, nq = 0;
      for (uint32_t n = 0; n < sh.out; n++) {
        double f = yf[(size_t)r * sh.out + n], g = yq[(size_t)r * sh.out + n];
        num += (f - g) * (f - g), den += f * f;
        dot += f * g, nf += f * f, nq += g * g;
      }
      double c = dot / sqrt(nf * nq);
      if (c < worst_cos) worst_cos = c;
    }
    double rel = sqrt(num / den);
    CHECKF(rel < 0.02, "shape %ux%u->%u: relative L2 error %.4f", sh.rows, sh.in, sh.out, rel);
    CHECKF(worst_cos > 0.999, "shape %ux%u->%u: worst row cosine %.5f", sh.rows, sh.in, sh.out, worst_cos);
    q8_free(&q);
    free(W), free(x), free(b), free(yf), free(yq);
  }
}

/* Weights: w ≈ q·scale within half a step, the largest |w| of a row maps
** to ±127, wsum is the row sum, padding is zero; all-zero rows give bias. */
TEST(q8_quantize_round_trip) {
  uint32_t out = 37, in = 71;
  float *W = gauss_buf((size_t)out * in, 0.05f, 0.0f);
  for (uint32_t k = 0; k < in; k++) W[5 * in + k] = 0.0f; /* all-zero row */
  W[7 * in + 3] = -2.5f;                                    /* dominant negative */
  q8_matrix q;
  REQUIRE(q8_quantize(W, out, in, &q, NULL) == 0);
  CHECK_EQ_INT(q.out_pad, 48);
  CHECK_EQ_INT(q.in_pad, 128); /* whole AMX tile rows of 64 inputs */
  for (uint32_t n = 0; n < out; n++) {
    int32_t sum = 0, amax = 0;
    for (uint32_t k = 0; k < in; k++) {
      int8_t v = q8_weight_at(&q, n, k);
      sum += v;
      if (abs(v) > amax) amax = abs(v);
      float back = v * q.scale[n];
      CHECKF(fabsf(back - W[(size_t)n * in + k]) <= q.scale[n] * 0.5001f + 1e-12f,
             "w[%u][%u]=%g back %g scale %g", n, k, W[(size_t)n * in + k], back, q.scale[n]);
    }
    CHECK_EQ_INT(sum, q.wsum[n]);
    if (n == 5) CHECK(q.scale[5] == 0.0f && amax == 0);
    else CHECK_EQ_INT(amax, 127);
    for (uint32_t k = in; k < q.in_pad; k++) CHECK_EQ_INT(q8_weight_at(&q, n, k), 0); /* input padding */
  }
  CHECK_EQ_INT(q8_weight_at(&q, 7, 3), -127);
  for (uint32_t n = out; n < q.out_pad; n++) {
    CHECK(q.scale[n] == 0.0f && q.wsum[n] == 0);
    for (uint32_t k = 0; k < in; k++) CHECK(q8_weight_at(&q, n, k) == 0);
  }
  float x[71], y[37], b[37];
  for (uint32_t k = 0; k < in; k++) x[k] = frand();
  for (uint32_t n = 0; n < out; n++) b[n] = (float)n;
  REQUIRE(q8_linear(x, 1, &q, b, y, 1) == 0);
  CHECK(y[5] == 5.0f);
  q8_free(&q);
  q8_free(&q); /* idempotent */
  free(W);
}

/* Activations: x ≈ (u − zp)·scale within half a step, zero is exact,
** all-zero and all-positive/all-negative rows behave. */
TEST(q8_activation_round_trip) {
  float rows[4][50];
  for (int k = 0; k < 50; k++) {
    rows[0][k] = gauss();
    rows[1][k] = fabsf(gauss()) + 0.5f; /* all positive: zp 0 */
    rows[2][k] = -fabsf(gauss());       /* all negative: zp 255 */
    rows[3][k] = 0.0f;
  }
  rows[0][10] = 0.0f;
  for (int r = 0; r < 4; r++) {
    float s, inv;
    int32_t zp;
    uint8_t u[50];
    q8_row_params(rows[r], 50, &s, &inv, &zp);
    q8_quantize_row_ref(rows[r], 50, inv, zp, u);
    CHECK(zp >= 0 && zp <= 255);
    if (r == 1) CHECK_EQ_INT(zp, 0);
    if (r == 2) CHECK_EQ_INT(zp, 255);
    for (int k = 0; k < 50; k++) {
      float back = (float)(u[k] - zp) * s;
      CHECKF(fabsf(back - rows[r][k]) <= s * 0.5001f, "row %d k %d: %g vs %g (s %g)", r, k,
             rows[r][k], back, s);
      if (rows[r][k] == 0.0f) CHECK_EQ_INT(u[k], zp);
    }
  }
}

/* Non-finite activations must not crash or trip UBSan (results are
** unspecified); non-finite or empty weights are rejected with a message. */
TEST(q8_bad_input) {
  blend_error err = {0};
  q8_matrix q;
  float W[6] = {0.1f, 0.2f, 0.3f, 0.4f, NAN, 0.6f};
  CHECK(q8_quantize(W, 2, 3, &q, &err) == BLEND_EINVAL);
  CHECKF(strstr(err.message, "row 1, column 1") != NULL, "message: %s", err.message);
  CHECK(q.w == NULL);
  CHECK(q8_quantize(W, 0, 3, &q, &err) == BLEND_EINVAL);
  CHECK(q8_quantize(W, 2, 70000, &q, &err) == BLEND_EINVAL);
  W[4] = 0.5f;
  REQUIRE(q8_quantize(W, 2, 3, &q, NULL) == 0);
  float x[3 * 3] = {NAN, 1.0f, 2.0f, INFINITY, -1.0f, 0.0f, -INFINITY, INFINITY, NAN};
  float y[3 * 2], yr[3 * 2];
  CHECK(q8_linear(x, 3, &q, NULL, y, 2) == 0);
  CHECK(q8_linear_ref(x, 3, &q, NULL, yr) == 0);
  q8_free(&q);
  /* a NaN among finite values quantizes to 0 in both paths (long row: SIMD body + tail) */
  float *W2 = gauss_buf(20 * 100, 0.05f, 0.0f), *x2 = gauss_buf(2 * 100, 1.0f, 0.0f);
  float y2[40], y2r[40];
  x2[3] = NAN, x2[100 + 99] = NAN;
  REQUIRE(q8_quantize(W2, 20, 100, &q, NULL) == 0);
  REQUIRE(q8_linear(x2, 2, &q, NULL, y2, 1) == 0);
  REQUIRE(q8_linear_ref(x2, 2, &q, NULL, y2r) == 0);
  for (int i = 0; i < 40; i++) CHECKF(isfinite(y2[i]) && y2[i] == y2r[i], "[%d] %g vs %g", i, y2[i], y2r[i]);
  /* subnormal-range activations (1/scale overflows) and tiny weights */
  for (int k = 0; k < 100; k++) x2[k] = 1e-39f * (float)(k % 7) - 2e-39f, x2[100 + k] = 1e-30f * (float)k;
  REQUIRE(q8_linear(x2, 2, &q, NULL, y2, 1) == 0);
  REQUIRE(q8_linear_ref(x2, 2, &q, NULL, y2r) == 0);
  for (int i = 0; i < 40; i++) CHECKF(isfinite(y2[i]) && y2[i] == y2r[i], "[%d] %g vs %g", i, y2[i], y2r[i]);
  q8_free(&q);
  for (int k = 0; k < 20 * 100; k++) W2[k] = 1e-40f * (float)(k % 5 - 2);
  REQUIRE(q8_quantize(W2, 20, 100, &q, NULL) == 0);
  CHECK_EQ_INT(q8_weight_at(&q, 0, 0), -127);
  CHECK_EQ_INT(q8_weight_at(&q, 0, 2), 0);
  q8_free(&q);
  free(W2), free(x2);
}

/* f32_linear (packed, AVX-512 when available) vs the naive loop. */
TEST(f32_linear_matches_naive) {
  shape shapes[] = {{1, 1, 1},      {3, 5, 33},      {13, 300, 70}, {30, 384, 64},
                    {100, 513, 31}, {12, 1536, 40}, {64, 300, 256} /* starts threads */};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    float *W = gauss_buf((size_t)sh.out * sh.in, 0.05f, 0.0f), *x = gauss_buf((size_t)sh.rows * sh.in, 1.0f, 0.2f);
    float *b = gauss_buf(sh.out, 0.1f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *yr = malloc(ny * sizeof(float)), *yf = malloc((ny + 16) * sizeof(float));
    f32_packed p;
    REQUIRE(f32_pack(W, sh.out, sh.in, &p, NULL) == 0);
    f32_linear_ref(x, sh.rows, W, sh.out, sh.in, b, yr);
    for (unsigned thr = 1; thr <= 3; thr++) {
      for (size_t i = 0; i < ny + 16; i++) yf[i] = NAN;
      REQUIRE(f32_linear(x, sh.rows, &p, b, yf, thr) == 0);
      double worst = 0;
      for (uint32_t r = 0; r < sh.rows; r++)
        for (uint32_t n = 0; n < sh.out; n++) {
          /* relative to the magnitude of the terms summed */
          double mag = fabs(b[n]);
          for (uint32_t k = 0; k < sh.in; k++)
            mag += fabs((double)x[(size_t)r * sh.in + k] * W[(size_t)n * sh.in + k]);
          double e = fabs((double)yf[(size_t)r * sh.out + n] - yr[(size_t)r * sh.out + n]) / (mag + 1e-30);
          if (!(e <= worst)) worst = e; /* NaN (unwritten) propagates */
        }
      CHECKF(worst < 1e-4, "shape %ux%u->%u thr %u: worst relative error %g", sh.rows, sh.in, sh.out,
             thr, worst);
      for (size_t i = ny; i < ny + 16; i++) CHECK(isnan(yf[i])); /* no overrun */
    }
    for (unsigned np = 2; np <= 4; np++) { /* parts reassemble the same output */
      for (size_t i = 0; i < ny; i++) yf[i] = NAN;
      for (unsigned part = 0; part < np; part++) REQUIRE(f32_linear_part(x, sh.rows, &p, NULL, yf, part, np) == 0);
      size_t unwritten = 0;
      for (size_t i = 0; i < ny; i++) unwritten += isnan(yf[i]);
      CHECKF(unwritten == 0, "shape %ux%u->%u nparts %u: %zu outputs unwritten", sh.rows, sh.in, sh.out, np, unwritten);
    }
    f32_packed_free(&p);
    free(W), free(x), free(b), free(yr), free(yf);
  }
  blend_error err = {0};
  f32_packed p;
  CHECK(f32_pack(NULL, 0, 4, &p, &err) == BLEND_EINVAL);
}
