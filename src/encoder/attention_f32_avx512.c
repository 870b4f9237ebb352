/*
** attention_f32_avx512.c — float32 attention for one sequence and one head
** on AVX-512 (k_attention_avx512; same contract and scratch as k_attention
** in kernels.h): the blockwise online softmax of kernels_impl.h with
** explicit 8-row × 32-column register tiles for S = scale·Q·Kᵀ and P·V.
** Why not the generic 16-wide code: its 8 × 16 tiles keep one load and
** eight row pointers per eight FMAs, so the loop ran at ~36% of the FMA
** peak; 8 × 32 tiles with the reduction unrolled by 4 feed sixteen FMAs
** per load pair and step the row pointers once per four. The softmax runs
** in 16-lane vectors (the exp of kernels_math.h, the same operations).
** Compiled under a target pragma; called only when the CPU has AVX-512.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), apply_to = function)
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "encoder/exp_avx512.h"
#include "encoder/kernels.h"
#include "encoder/kernels_math.h"

enum { KEY_BLOCK = 256 }; /* as kernels_impl.h: the scratch bound assumes it */

static size_t r32(size_t n) { return (n + 31) / 32 * 32; }

static inline __mmask16 lanes(size_t j, size_t n) {
  return j >= n ? 0 : n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
}

#define TILE_STEP(acc, qv, b0, b1)            \
  do {                                        \
    acc[0] = _mm512_fmadd_ps(qv, b0, acc[0]); \
    acc[1] = _mm512_fmadd_ps(qv, b1, acc[1]); \
  } while (0)

/* S[i][j] = scale · q_i · k_j, i < T, j < np (np a multiple of 32; kt: the
** block's keys transposed [d][np], zero past its keys). Rows past T are
** clamped to T−1 (computed, not stored). */
static void scores(const float *q, size_t ld, size_t T, size_t d, const float *kt, size_t np,
                   float scale, float *S) {
  __m512 vs = _mm512_set1_ps(scale);
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const float *qr[8];
    for (int r = 0; r < 8; r++) qr[r] = q + (i0 + r < T ? i0 + r : T - 1) * ld;
    for (size_t j0 = 0; j0 < np; j0 += 32) {
      __m512 a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
      const float *kc = kt + j0;
      size_t c = 0;
      for (; c + 4 <= d; c += 4, kc += 4 * np) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
          __m512 b0 = _mm512_loadu_ps(kc + u * np), b1 = _mm512_loadu_ps(kc + u * np + 16);
#pragma GCC unroll 8
          for (int r = 0; r < 8; r++) TILE_STEP(a[r], _mm512_set1_ps(qr[r][c + u]), b0, b1);
        }
      }
      for (; c < d; c++, kc += np) {
        __m512 b0 = _mm512_loadu_ps(kc), b1 = _mm512_loadu_ps(kc + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) TILE_STEP(a[r], _mm512_set1_ps(qr[r][c]), b0, b1);
      }
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        _mm512_storeu_ps(S + (i0 + r) * np + j0, _mm512_mul_ps(a[r][0], vs));
        _mm512_storeu_ps(S + (i0 + r) * np + j0 + 16, _mm512_mul_ps(a[r][1], vs));
      }
    }
  }
}

/* out[i][c] (+)= Σ_{j<n} P[i][j] · v_j[c] for 8 rows × 32 channels per step
** (masked past d); P rows of stride np. */
static void weighted_values(const float *P, size_t np, size_t n, const float *v, size_t ld,
                            size_t T, size_t d, float *out, size_t ldo, int accumulate) {
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const float *pr[8];
    for (int r = 0; r < 8; r++) pr[r] = P + (i0 + r < T ? i0 + r : T - 1) * np;
    for (size_t c0 = 0; c0 < d; c0 += 32) {
      __mmask16 m0 = lanes(c0, d), m1 = lanes(c0 + 16, d);
      __m512 a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
      const float *vj = v + c0;
      size_t j = 0;
      for (; j + 4 <= n; j += 4, vj += 4 * ld) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
          __m512 b0 = _mm512_maskz_loadu_ps(m0, vj + u * ld);
          __m512 b1 = _mm512_maskz_loadu_ps(m1, vj + u * ld + 16);
#pragma GCC unroll 8
          for (int r = 0; r < 8; r++) TILE_STEP(a[r], _mm512_set1_ps(pr[r][j + u]), b0, b1);
        }
      }
      for (; j < n; j++, vj += ld) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, vj), b1 = _mm512_maskz_loadu_ps(m1, vj + 16);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) TILE_STEP(a[r], _mm512_set1_ps(pr[r][j]), b0, b1);
      }
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        if (accumulate) {
          a[r][0] = _mm512_add_ps(a[r][0], _mm512_maskz_loadu_ps(m0, o));
          a[r][1] = _mm512_add_ps(a[r][1], _mm512_maskz_loadu_ps(m1, o + 16));
        }
        _mm512_mask_storeu_ps(o, m0, a[r][0]);
        _mm512_mask_storeu_ps(o + 16, m1, a[r][1]);
      }
    }
  }
}

void k_attention_avx512(const float *q, const float *k, const float *v, size_t ld, size_t T,
                        size_t d, float scale, float *out, size_t ldo, float *scratch) {
  size_t kb = T < KEY_BLOCK ? T : KEY_BLOCK, np = r32(kb);
  float *kt = scratch, *S = kt + d * np, *mrow = S + T * np, *lrow = mrow + T;
  for (size_t jb = 0; jb < T; jb += kb) {
    size_t n = T - jb < kb ? T - jb : kb, npb = r32(n);
    for (size_t c = 0; c < d; c++) {
      float *row = kt + c * npb;
      for (size_t j = 0; j < n; j++) row[j] = k[(jb + j) * ld + c];
      for (size_t j = n; j < npb; j++) row[j] = 0;
    }
    scores(q, ld, T, d, kt, npb, scale, S);
    for (size_t i = 0; i < T; i++) {
      float *row = S + i * npb;
      __m512 vmax = _mm512_set1_ps(-INFINITY);
      for (size_t j = 0; j < n; j += 16)
        vmax = _mm512_mask_max_ps(vmax, lanes(j, n), vmax, _mm512_loadu_ps(row + j));
      float mb = _mm512_reduce_max_ps(vmax);
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
      __m512 vm = _mm512_set1_ps(mrow[i]), ls = _mm512_setzero_ps();
      for (size_t j = 0; j < npb; j += 16) { /* P = exp(S − m), 0 past n */
        __m512 p = _mm512_maskz_mov_ps(lanes(j, n), exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), vm)));
        ls = _mm512_add_ps(ls, p);
        _mm512_storeu_ps(row + j, p);
      }
      lrow[i] += _mm512_reduce_add_ps(ls);
    }
    weighted_values(S, npb, n, v + jb * ld, ld, T, d, out, ldo, jb != 0);
  }
  for (size_t i = 0; i < T; i++) {
    float inv = 1.0f / lrow[i], *o = out + i * ldo;
    for (size_t c = 0; c < d; c++) o[c] *= inv;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
