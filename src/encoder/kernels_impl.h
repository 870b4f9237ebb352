/*
** kernels_impl.h — the bodies of the vectorisable float32 kernels (add +
** LayerNorm, exp, erf, GELU, blockwise attention), written once and compiled
** several times: kernels.c includes it for the baseline build (names as in
** kernels.h), kernels_avx2.c and kernels_avx512.c under a target pragma
** (names with a _avx2 / _avx512 suffix). Before including, define
** KN(name) (the function name to emit). Not a public header.
**
** Loops are written so the compiler vectorises them without -ffast-math:
** reductions go through 16 independent partial sums, and exp/erf are
** branch-free polynomials instead of libm calls.
*/
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "encoder/kernels.h"
#include "encoder/kernels_math.h"

#define LANES 16
#define KEY_BLOCK 256

/* The 16-float vector helpers below are static inline; GCC's note that
** returning them by value would change the ABI without AVX-512 does not
** concern functions that are never called across translation units. */
#pragma GCC diagnostic ignored "-Wpsabi"

static float sum16(const float *acc) {
  float s = 0;
  for (int i = 0; i < LANES; i++) s += acc[i];
  return s;
}

void KN(k_add_layernorm)(float *x, const float *res, size_t n, const float *g, const float *b,
                     float eps) {
  float acc[LANES] = {0};
  size_t i = 0;
  if (res) {
    for (; i + LANES <= n; i += LANES)
      for (int j = 0; j < LANES; j++) {
        x[i + j] += res[i + j];
        acc[j] += x[i + j];
      }
    for (; i < n; i++) {
      x[i] += res[i];
      acc[0] += x[i];
    }
  } else {
    for (; i + LANES <= n; i += LANES)
      for (int j = 0; j < LANES; j++) acc[j] += x[i + j];
    for (; i < n; i++) acc[0] += x[i];
  }
  float mean = sum16(acc) / (float)n;
  float vacc[LANES] = {0};
  for (i = 0; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) {
      float d = x[i + j] - mean;
      vacc[j] += d * d;
    }
  for (; i < n; i++) vacc[0] += (x[i] - mean) * (x[i] - mean);
  float rstd = 1.0f / sqrtf(sum16(vacc) / (float)n + eps);
  for (i = 0; i < n; i++) x[i] = (x[i] - mean) * rstd * g[i] + b[i];
}

void KN(k_exp)(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = exp1(x[i]);
}

void KN(k_erf)(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = erf1(x[i]);
}

/* A build that defines KN_OWN_GELU_ATTENTION supplies its own k_gelu and
** k_attention (kernels_avx2.c: explicit 256-bit tiles, because the 16-wide
** vectors below need 16 ymm accumulators on AVX2 and spill). */
#ifndef KN_OWN_GELU_ATTENTION
void KN(k_gelu)(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float z = x[i];
    x[i] = 0.5f * z * (1.0f + erf1(z * 0.70710678118654752f));
  }
}

/* A build that defines KN_OWN_ATTENTION supplies its own k_attention
** (attention_f32_avx512.c: explicit 8 × 32 register tiles). */
#ifndef KN_OWN_ATTENTION
/* The 16-float vector helpers below are static inline; GCC's note that
** returning them by value would change the ABI without AVX-512 does not
** concern functions that are never called across translation units. */

/* 16-float vectors (GCC/clang vector extensions: AVX-512 with -march on a
** machine that has it, narrower registers elsewhere). Unaligned access. */
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
static inline v16 ld16(const float *p) { return *(const v16u *)(const void *)p; }
static inline void st16(float *p, v16 v) { *(v16u *)(void *)p = v; }
static inline v16 bc16(float x) {
  const v16 zero = {0};
  return x - zero; /* x − 0 == x exactly (also for −0), so this folds to a broadcast */
}

static size_t round32(size_t n) { return (n + 31) / 32 * 32; }

/* S[i][j] = scale · q_i · k_j for i < T, j < np (np multiple of 32; kt holds
** the keys transposed, zero beyond the block), 8 queries × 16 keys at a time:
** each query value feeds one FMA, so it becomes an embedded-broadcast
** operand instead of a separate broadcast instruction. */
static void scores(const float *q, size_t ld, size_t T, size_t d, const float *kt, size_t np,
                   float scale, float *S) {
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const float *qr[8];
    for (int r = 0; r < 8; r++) qr[r] = q + (i0 + r < T ? i0 + r : T - 1) * ld;
    for (size_t j0 = 0; j0 < np; j0 += 16) {
      v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
      for (size_t c = 0; c < d; c++) {
        v16 b = ld16(kt + c * np + j0);
        a0 += bc16(qr[0][c]) * b;
        a1 += bc16(qr[1][c]) * b;
        a2 += bc16(qr[2][c]) * b;
        a3 += bc16(qr[3][c]) * b;
        a4 += bc16(qr[4][c]) * b;
        a5 += bc16(qr[5][c]) * b;
        a6 += bc16(qr[6][c]) * b;
        a7 += bc16(qr[7][c]) * b;
      }
      v16 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
      for (size_t r = 0; r < 8 && i0 + r < T; r++) st16(S + (i0 + r) * np + j0, acc[r] * scale);
    }
  }
}

/* out[i][0..d) (+)= Σ_{j<n} P[i][j] · v_j, 8 queries × 16 columns at a time
** (embedded-broadcast FMAs as in scores); accumulate != 0 adds to what out
** holds. */
static void weighted_values(const float *P, size_t np, size_t n, const float *v, size_t ld,
                            size_t T, size_t d, float *out, size_t ldo, int accumulate) {
  size_t dv = d / 16 * 16;
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const float *pr[8];
    for (int r = 0; r < 8; r++) pr[r] = P + (i0 + r < T ? i0 + r : T - 1) * np;
    for (size_t c0 = 0; c0 < dv; c0 += 16) {
      v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};
      for (size_t j = 0; j < n; j++) {
        v16 b = ld16(v + j * ld + c0);
        a0 += bc16(pr[0][j]) * b;
        a1 += bc16(pr[1][j]) * b;
        a2 += bc16(pr[2][j]) * b;
        a3 += bc16(pr[3][j]) * b;
        a4 += bc16(pr[4][j]) * b;
        a5 += bc16(pr[5][j]) * b;
        a6 += bc16(pr[6][j]) * b;
        a7 += bc16(pr[7][j]) * b;
      }
      v16 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        st16(o, accumulate ? acc[r] + ld16(o) : acc[r]);
      }
    }
    /* head sizes that are not a multiple of 16: plain loops for the rest */
    for (size_t r = 0; r < 8 && i0 + r < T; r++)
      for (size_t c = dv; c < d; c++) {
        float a = accumulate ? out[(i0 + r) * ldo + c] : 0.0f;
        for (size_t j = 0; j < n; j++) a += pr[r][j] * v[j * ld + c];
        out[(i0 + r) * ldo + c] = a;
      }
  }
}

/* Blockwise (flash-style) attention: for each block of keys, S = scale·Q·Kᵀ,
** per query row update the running max m and sum l (rescaling the partial
** output when m grows), P = exp(S − m), out += P·V. One pass over the keys,
** exact softmax at the end: out /= l. No BLAS here, so any number of threads
** may run it at once. */
void KN(k_attention)(const float *q, const float *k, const float *v, size_t ld, size_t T, size_t d,
                 float scale, float *out, size_t ldo, float *scratch) {
  size_t kb = T < KEY_BLOCK ? T : KEY_BLOCK, np = round32(kb);
  float *kt = scratch, *S = kt + d * np, *mrow = S + T * np, *lrow = mrow + T;
  for (size_t jb = 0; jb < T; jb += kb) {
    size_t n = T - jb < kb ? T - jb : kb, npb = round32(n);
    for (size_t c = 0; c < d; c++) {
      float *row = kt + c * npb;
      for (size_t j = 0; j < n; j++) row[j] = k[(jb + j) * ld + c];
      for (size_t j = n; j < npb; j++) row[j] = 0;
    }
    scores(q, ld, T, d, kt, npb, scale, S);
    for (size_t i = 0; i < T; i++) {
      float *row = S + i * npb;
      float bm[LANES];
      for (int t = 0; t < LANES; t++) bm[t] = -INFINITY;
      size_t j = 0;
      for (; j + LANES <= n; j += LANES)
        for (int t = 0; t < LANES; t++) bm[t] = row[j + t] > bm[t] ? row[j + t] : bm[t];
      for (; j < n; j++) bm[0] = row[j] > bm[0] ? row[j] : bm[0];
      float mb = bm[0];
      for (int t = 1; t < LANES; t++) mb = bm[t] > mb ? bm[t] : mb;
      if (jb == 0) {
        mrow[i] = mb;
        lrow[i] = 0;
      } else if (mb > mrow[i]) { /* new running max: rescale what was accumulated */
        float r = exp1(mrow[i] - mb);
        lrow[i] *= r;
        float *o = out + i * ldo;
        for (size_t c = 0; c < d; c++) o[c] *= r;
        mrow[i] = mb;
      }
      float m = mrow[i], ls[LANES] = {0};
      for (j = 0; j + LANES <= n; j += LANES)
        for (int t = 0; t < LANES; t++) {
          row[j + t] = exp1(row[j + t] - m);
          ls[t] += row[j + t];
        }
      for (; j < n; j++) {
        row[j] = exp1(row[j] - m);
        ls[0] += row[j];
      }
      lrow[i] += sum16(ls);
    }
    weighted_values(S, npb, n, v + jb * ld, ld, T, d, out, ldo, jb != 0);
  }
  for (size_t i = 0; i < T; i++) {
    float inv = 1.0f / lrow[i], *o = out + i * ldo;
    for (size_t c = 0; c < d; c++) o[c] *= inv;
  }
}

#endif /* KN_OWN_ATTENTION */
#endif /* KN_OWN_GELU_ATTENTION */
