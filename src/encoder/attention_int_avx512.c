/*
** attention_int_avx512.c — the integer attention of attention_int.h on
** AVX-512 VNNI: both products with vpdpwssd (pairs of int16 products summed
** into int32 lanes) in 8-row × 32-column register tiles, the layout of
** attention_bf16.c with int16 pairs where that file has bf16 pairs.
** Compiled under a target pragma; called only when the CPU has AVX-512
** VNNI. No fp-contract pragma: every fused multiply-add here is written
** out, so the scalar twin (attention_int.c) can match it bit for bit.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "encoder/exp_avx512.h"
#include "encoder/attention_int.h"
#include "encoder/attention_int_impl.h"
#include "encoder/kernels.h"

static size_t r32(size_t n) { return (n + 31) / 32 * 32; }
static void *align64(void *p) { return (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static inline uint32_t word(const int16_t *h) {
  uint32_t w;
  memcpy(&w, h, 4);
  return w;
}

static inline __mmask16 lanes(size_t j, size_t n) {
  return j >= n ? 0 : n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
}

/* One row of d (a multiple of 16) floats to ±qmax int16; returns the scale. */
static float quant_row(const float *x, size_t d, float qmax, int16_t *out) {
  __m512 a = _mm512_setzero_ps();
  for (size_t c = 0; c < d; c += 16) a = _mm512_max_ps(a, _mm512_abs_ps(_mm512_loadu_ps(x + c)));
  float am = _mm512_reduce_max_ps(a);
  __m512 inv = _mm512_set1_ps(am > 0 ? qmax / am : 0);
  for (size_t c = 0; c < d; c += 16)
    _mm256_storeu_si256((__m256i *)(out + c),
                        _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + c), inv))));
  return am / qmax;
}

/* S[i][j] = (Σ_c Q[i][c]·K[j][c]) · ks[j] · qs[i] for 8 rows × 32 keys per
** step; rows past T clamped to T−1 (computed, not stored). */
static void scores(const int16_t *Q, const float *qs, size_t T, size_t d, const uint32_t *Kp,
                   const float *ks, size_t np, float *S) {
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const int16_t *qr[8];
    for (int r = 0; r < 8; r++) qr[r] = Q + (i0 + r < T ? i0 + r : T - 1) * d;
    for (size_t j0 = 0; j0 < np; j0 += 32) {
      __m512i a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_si512();
      for (size_t c2 = 0; c2 < d / 2; c2++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Kp + c2 * np + j0));
        __m512i b1 = _mm512_loadu_si512((const void *)(Kp + c2 * np + j0 + 16));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
          __m512i q2 = _mm512_set1_epi32((int)word(qr[r] + 2 * c2));
          a[r][0] = _mm512_dpwssd_epi32(a[r][0], q2, b0);
          a[r][1] = _mm512_dpwssd_epi32(a[r][1], q2, b1);
        }
      }
      __m512 k0 = _mm512_loadu_ps(ks + j0), k1 = _mm512_loadu_ps(ks + j0 + 16);
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        __m512 s = _mm512_set1_ps(qs[i0 + r]);
        _mm512_storeu_ps(S + (i0 + r) * np + j0,
                         _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[r][0]), k0), s));
        _mm512_storeu_ps(S + (i0 + r) * np + j0 + 16,
                         _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a[r][1]), k1), s));
      }
    }
  }
}

static inline __m512 put(__m512i acc, __m512 vs, const float *o, int first) {
  __m512 x = _mm512_cvtepi32_ps(acc);
  return first ? _mm512_mul_ps(x, vs) : _mm512_fmadd_ps(x, vs, _mm512_loadu_ps(o));
}

/* out[i][c] = (Σ_j P[i][j]·V[j][c]) · vs[c] (+ out[i][c] after the first
** block), 8 rows × 32 channels per step (16 for an odd multiple of 16). */
static void values(const int16_t *P, size_t np, size_t npairs, const uint32_t *Vp, const float *vs,
                   size_t T, size_t d, float *out, size_t ldo, int first) {
  for (size_t i0 = 0; i0 < T; i0 += 8) {
    const int16_t *pr[8];
    for (int r = 0; r < 8; r++) pr[r] = P + (i0 + r < T ? i0 + r : T - 1) * np;
    size_t c0 = 0;
    for (; c0 + 32 <= d; c0 += 32) {
      __m512i a[8][2];
#pragma GCC unroll 8
      for (int r = 0; r < 8; r++) a[r][0] = a[r][1] = _mm512_setzero_si512();
      for (size_t j2 = 0; j2 < npairs; j2++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0));
        __m512i b1 = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0 + 16));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
          __m512i p2 = _mm512_set1_epi32((int)word(pr[r] + 2 * j2));
          a[r][0] = _mm512_dpwssd_epi32(a[r][0], p2, b0);
          a[r][1] = _mm512_dpwssd_epi32(a[r][1], p2, b1);
        }
      }
      __m512 v0 = _mm512_loadu_ps(vs + c0), v1 = _mm512_loadu_ps(vs + c0 + 16);
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        __m512 y0 = put(a[r][0], v0, o, first), y1 = put(a[r][1], v1, o + 16, first);
        _mm512_storeu_ps(o, y0);
        _mm512_storeu_ps(o + 16, y1);
      }
    }
    for (; c0 < d; c0 += 16) {
      __m512i a[8];
      for (int r = 0; r < 8; r++) a[r] = _mm512_setzero_si512();
      for (size_t j2 = 0; j2 < npairs; j2++) {
        __m512i b = _mm512_loadu_si512((const void *)(Vp + j2 * d + c0));
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++)
          a[r] = _mm512_dpwssd_epi32(a[r], _mm512_set1_epi32((int)word(pr[r] + 2 * j2)), b);
      }
      __m512 v0 = _mm512_loadu_ps(vs + c0);
      for (size_t r = 0; r < 8 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        _mm512_storeu_ps(o, put(a[r], v0, o, first));
      }
    }
  }
}

void k_attention_int_avx512vnni(const float *q, const float *k, const float *v, size_t ld,
                                size_t T, size_t d, float scale, float *out, size_t ldo,
                                float *scratch) {
  if (d % 16 != 0 || d > ATT_INT_MAX_D) {
    k_attention_avx512(q, k, v, ld, T, d, scale, out, ldo, scratch);
    return;
  }
  size_t kb = T < ATT_INT_KEY_BLOCK ? T : ATT_INT_KEY_BLOCK, np = r32(kb);
  int16_t *Q = align64(scratch);
  float *qs = align64(Q + T * d);
  uint32_t *Kp = align64(qs + T);
  float *ks = align64(Kp + d / 2 * np), *S = align64(ks + np);
  int16_t *P = align64(S + T * np);
  uint32_t *Vp = align64(P + T * np);
  float *vs = align64(Vp + np / 2 * d), *mrow = align64(vs + d), *lrow = align64(mrow + T);
  int16_t tmp[ATT_INT_MAX_D];
  float vinv[ATT_INT_MAX_D];
  for (size_t i = 0; i < T; i++) qs[i] = quant_row(q + i * ld, d, ATT_INT_QK_MAX, Q + i * d) * scale;
  for (size_t jb = 0; jb < T; jb += kb) {
    size_t n = T - jb < kb ? T - jb : kb, npb = r32(n), npairs = (n + 1) / 2;
    /* keys: pair words transposed to [d/2][npb], zero beyond n */
    for (size_t j = 0; j < npb; j++) {
      if (j < n) ks[j] = quant_row(k + (jb + j) * ld, d, ATT_INT_QK_MAX, tmp);
      else ks[j] = 0, memset(tmp, 0, d * sizeof *tmp);
      for (size_t c2 = 0; c2 < d / 2; c2++) Kp[c2 * npb + j] = word(tmp + 2 * c2);
    }
    /* values: one scale per channel over the block's keys; rows 2j2, 2j2+1
    ** interleaved per channel, [npairs][d] */
    for (size_t c = 0; c < d; c += 16) {
      __m512 a = _mm512_setzero_ps();
      for (size_t j = 0; j < n; j++) a = _mm512_max_ps(a, _mm512_abs_ps(_mm512_loadu_ps(v + (jb + j) * ld + c)));
      __mmask16 nz = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_GT_OQ);
      _mm512_storeu_ps(vs + c, _mm512_div_ps(a, _mm512_set1_ps(ATT_INT_V_MAX)));
      _mm512_storeu_ps(vinv + c, _mm512_maskz_div_ps(nz, _mm512_set1_ps(ATT_INT_V_MAX), a));
    }
    for (size_t j2 = 0; j2 < npairs; j2++) {
      const float *v0 = v + (jb + 2 * j2) * ld, *v1 = v0 + ld;
      int odd = 2 * j2 + 1 < n;
      for (size_t c = 0; c < d; c += 16) {
        __m512 inv = _mm512_loadu_ps(vinv + c);
        __m512i t0 = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(v0 + c), inv));
        __m512i t1 = odd ? _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(v1 + c), inv))
                         : _mm512_setzero_si512();
        __m512i w = _mm512_or_si512(_mm512_and_si512(t0, _mm512_set1_epi32(0xFFFF)),
                                    _mm512_slli_epi32(t1, 16));
        _mm512_storeu_si512((void *)(Vp + j2 * d + c), w);
      }
    }
    scores(Q, qs, T, d, Kp, ks, npb, S);
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
        float r = att_int_exp(mrow[i] - mb);
        lrow[i] *= r;
        float *o = out + i * ldo;
        for (size_t c = 0; c < d; c++) o[c] *= r;
        mrow[i] = mb;
      }
      __m512 vm = _mm512_set1_ps(mrow[i]), pmax = _mm512_set1_ps(ATT_INT_P_MAX);
      __m512i sum = _mm512_setzero_si512();
      for (size_t j = 0; j < npb; j += 16) { /* P = exp(S − m) to 0..32767, 0 past n */
        __m512i p = _mm512_maskz_cvtps_epi32(
            lanes(j, n), _mm512_mul_ps(exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j), vm)), pmax));
        sum = _mm512_add_epi32(sum, p);
        _mm256_storeu_si256((__m256i *)(P + i * npb + j), _mm512_cvtepi32_epi16(p));
      }
      lrow[i] += (float)_mm512_reduce_add_epi32(sum);
    }
    values(P, npb, npairs, Vp, vs, T, d, out, ldo, jb == 0);
  }
  for (size_t i = 0; i < T; i++) {
    float inv = 1.0f / lrow[i], *o = out + i * ldo;
    for (size_t c = 0; c < d; c++) o[c] *= inv;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
