/*
** attention_bf16.c — attention for one sequence and one head with both
** products in BF16 on AVX-512 BF16 (vdpbf16ps, float32 accumulation):
** S = scale·Q·Kᵀ with Q and K rounded to bf16, the online softmax of
** kernels_impl.h in float32, then out = P·V with P and V rounded to bf16.
** Used by the int8 precision (no float32 GEMM left in its layers).
** Keys go in blocks of up to 256 (running max / sum across blocks), as the
** f32 kernel. Head sizes that are not a multiple of 16 (or over 1024) use
** the f32 AVX-512 kernel instead. Compiled under a target pragma; called only when the CPU
** has AVX-512 BF16.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"))), apply_to = function)
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "encoder/exp_avx512.h"
#include "encoder/kernels.h"
#include "encoder/kernels_math.h"
#include "encoder/quant.h"
#include "encoder/quant_isa.h"

#define BH(v) ((__m512bh)(v))
enum { KEY_BLOCK = 256 };

static size_t r32(size_t n) { return (n + 31) / 32 * 32; }
static void *align64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static inline uint32_t pair(const uint16_t *h) {
  uint32_t w;
  memcpy(&w, h, 4);
  return w;
}

/* S[i][j] = scale · Σ_c Q[i][c]·K[j][c], 8 query rows × 32 keys per step
** (16 accumulators: each broadcast of a query pair feeds two vdpbf16ps);
** Qb rows of d bf16, Kp: key pair words [d/2][np], np a multiple of 32.
** Rows past T are clamped to T−1 (computed, not stored). */
static void scores_bf16(const uint16_t *Qb, size_t T, size_t d, const uint32_t *Kp, size_t np,
                        float scale, float *S) {
  size_t d2 = d / 2;
  __m512 vs = _mm512_set1_ps(scale);
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const uint16_t *qr[8];
    for (int r = 0; r < 8; r++) qr[r] = Qb + (i0 + r < T ? i0 + r : T - 1) * d;
    for (size_t j0 = 0; j0 < np; j0 += 32) {
      __m512 a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
      for (size_t c2 = 0; c2 < d2; c2++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Kp + c2 * np + j0));
        __m512i b1 = _mm512_loadu_si512((const void *)(Kp + c2 * np + j0 + 16));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
          __m512i q2 = _mm512_set1_epi32((int)pair(qr[r] + 2 * c2));
          a[r][0] = _mm512_dpbf16_ps(a[r][0], BH(q2), BH(b0));
          a[r][1] = _mm512_dpbf16_ps(a[r][1], BH(q2), BH(b1));
        }
      }
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        _mm512_storeu_ps(S + (i0 + r) * np + j0, _mm512_mul_ps(a[r][0], vs));
        _mm512_storeu_ps(S + (i0 + r) * np + j0 + 16, _mm512_mul_ps(a[r][1], vs));
      }
    }
  }
}

/* out[i][c] (+)= Σ_j P[i][j]·V[j][c], 8 rows × 32 channels per step (16
** channels when d is an odd multiple of 16); Pb rows of np bf16, Vp: value
** pair words [np/2][d]. */
static void values_bf16(const uint16_t *Pb, size_t np, size_t npairs, const uint32_t *Vp, size_t T,
                        size_t d, float *out, size_t ldo, int accumulate) {
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const uint16_t *pr[8];
    for (int r = 0; r < 8; r++) pr[r] = Pb + (i0 + r < T ? i0 + r : T - 1) * np;
    size_t c0 = 0;
    for (; c0 + 32 <= d; c0 += 32) {
      __m512 a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_ps();
      for (size_t j2 = 0; j2 < npairs; j2++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0));
        __m512i b1 = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0 + 16));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
          __m512i p2 = _mm512_set1_epi32((int)pair(pr[r] + 2 * j2));
          a[r][0] = _mm512_dpbf16_ps(a[r][0], BH(p2), BH(b0));
          a[r][1] = _mm512_dpbf16_ps(a[r][1], BH(p2), BH(b1));
        }
      }
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        _mm512_storeu_ps(o, accumulate ? _mm512_add_ps(a[r][0], _mm512_loadu_ps(o)) : a[r][0]);
        _mm512_storeu_ps(o + 16, accumulate ? _mm512_add_ps(a[r][1], _mm512_loadu_ps(o + 16)) : a[r][1]);
      }
    }
    for (; c0 < d; c0 += 16) {
      __m512 a[8];
      for (int r = 0; r < 8; r++) a[r] = _mm512_setzero_ps();
      for (size_t j2 = 0; j2 < npairs; j2++) {
        __m512i b = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
          a[r] = _mm512_dpbf16_ps(a[r], BH(_mm512_set1_epi32((int)pair(pr[r] + 2 * j2))), BH(b));
      }
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        _mm512_storeu_ps(o, accumulate ? _mm512_add_ps(a[r], _mm512_loadu_ps(o)) : a[r]);
      }
    }
  }
}

static inline __mmask16 lanes(size_t j, size_t n) {
  return j >= n ? 0 : n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
}

void k_attention_bf16(const float *q, const float *k, const float *v, size_t ld, size_t T,
                      size_t d, float scale, float *out, size_t ldo, float *scratch) {
  if (d % 16 != 0 || d > 1024) {
    k_attention_avx512(q, k, v, ld, T, d, scale, out, ldo, scratch);
    return;
  }
  size_t kb = T < KEY_BLOCK ? T : KEY_BLOCK, np = r32(kb);
  uint16_t *Qb = align64(scratch);
  uint32_t *Kp = align64(Qb + T * d);
  float *S = align64(Kp + d / 2 * np);
  uint16_t *Pb = align64(S + T * np);
  uint32_t *Vp = align64(Pb + T * np);
  float *mrow = align64(Vp + np / 2 * d), *lrow = mrow + T;
  uint16_t tmp[2 * 1024];
  for (size_t i = 0; i < T; i++) bf16_round_row_avx512(q + i * ld, (uint32_t)d, Qb + i * d);
  for (size_t jb = 0; jb < T; jb += kb) {
    size_t n = T - jb < kb ? T - jb : kb, npb = r32(n), npairs = (n + 1) / 2;
    /* keys: pair words transposed to [d/2][npb], zero beyond n */
    for (size_t j = 0; j < npb; j++) {
      if (j < n) bf16_round_row_avx512(k + (jb + j) * ld, (uint32_t)d, tmp);
      for (size_t c2 = 0; c2 < d / 2; c2++) Kp[c2 * npb + j] = j < n ? pair(tmp + 2 * c2) : 0;
    }
    /* values: rows 2j2, 2j2+1 interleaved per channel, [npb/2][d] */
    for (size_t j2 = 0; j2 < npairs; j2++) {
      bf16_round_row_avx512(v + (jb + 2 * j2) * ld, (uint32_t)d, tmp);
      if (2 * j2 + 1 < n) bf16_round_row_avx512(v + (jb + 2 * j2 + 1) * ld, (uint32_t)d, tmp + d);
      else memset(tmp + d, 0, d * 2);
      for (size_t c = 0; c < d; c++) Vp[j2 * d + c] = (uint32_t)tmp[c] | (uint32_t)tmp[d + c] << 16;
    }
    scores_bf16(Qb, T, d, Kp, npb, scale, S);
    for (size_t i = 0; i < T; i++) {
      const float *row = S + i * npb;
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
      for (size_t j = 0; j < npb; j += 32) { /* P = exp(S − m), 0 past n, to bf16 */
        __m512 p0 = _mm512_maskz_mov_ps(lanes(j, n), exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), vm)));
        __m512 p1 = _mm512_maskz_mov_ps(lanes(j + 16, n),
                                        exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j + 16), vm)));
        ls = _mm512_add_ps(ls, _mm512_add_ps(p0, p1));
        _mm512_storeu_si512((void *)(Pb + i * npb + j), (__m512i)_mm512_cvtne2ps_pbh(p1, p0));
      }
      lrow[i] += _mm512_reduce_add_ps(ls);
    }
    values_bf16(Pb, npb, npairs, Vp, T, d, out, ldo, jb != 0);
  }
  for (size_t i = 0; i < T; i++) {
    float inv = 1.0f / lrow[i], *o = out + i * ldo;
    for (size_t c = 0; c < d; c++) o[c] *= inv;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
