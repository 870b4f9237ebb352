/*
** attention_int_avxvnni.c — the integer attention of attention_int.h on
** AVX-VNNI (the VEX vpdpwssd on ymm of Alder Lake and later, Zen 5): the
** algorithm of attention_int_avx512.c in 8-lane vectors, 4-row × 16-column
** register tiles, and lane masks built from compares where AVX-512 has
** mask registers. Bit for bit the scalar twin's result (attention_int.c).
** Compiled under a target pragma; called only when the CPU has AVX-VNNI.
** No fp-contract pragma: every fused multiply-add is written out.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#pragma GCC target("avx2,fma,avxvnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avxvnni"))), apply_to = function)
#endif

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "encoder/exp_avx2.h"
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

/* All-ones in lanes j + t < n. */
static inline __m256i lanes(size_t j, size_t n) {
  int left = j >= n ? 0 : n - j >= 8 ? 8 : (int)(n - j);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

static inline int32_t hsum8i(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

static inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* 16 int32 (two vectors, each ±32767 at most) to 16 int16 in order. */
static inline void store16(int16_t *out, __m256i a, __m256i b) {
  _mm256_storeu_si256((__m256i *)(void *)out,
                      _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
}

/* One row of d (a multiple of 16) floats to ±qmax int16; returns the scale. */
static float quant_row(const float *x, size_t d, float qmax, int16_t *out) {
  __m256 a = _mm256_setzero_ps();
  for (size_t c = 0; c < d; c += 8) a = _mm256_max_ps(a, abs8(_mm256_loadu_ps(x + c)));
  float am = hmax8(a);
  __m256 inv = _mm256_set1_ps(am > 0 ? qmax / am : 0);
  for (size_t c = 0; c < d; c += 16)
    store16(out + c, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c), inv)),
            _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + c + 8), inv)));
  return am / qmax;
}

/* S[i][j] = (Σ_c Q[i][c]·K[j][c]) · ks[j] · qs[i], 4 rows × 16 keys per step. */
static void scores(const int16_t *Q, const float *qs, size_t T, size_t d, const uint32_t *Kp,
                   const float *ks, size_t np, float *S) {
  for (size_t i0 = 0; i0 < T; i0 += 4) {
    const int16_t *qr[4];
    for (int r = 0; r < 4; r++) qr[r] = Q + (i0 + r < T ? i0 + r : T - 1) * d;
    for (size_t j0 = 0; j0 < np; j0 += 16) {
      __m256i a[4][2];
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
      for (size_t c2 = 0; c2 < d / 2; c2++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(Kp + c2 * np + j0));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(Kp + c2 * np + j0 + 8));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
          __m256i q2 = _mm256_set1_epi32((int)word(qr[r] + 2 * c2));
          a[r][0] = _mm256_dpwssd_avx_epi32(a[r][0], q2, b0);
          a[r][1] = _mm256_dpwssd_avx_epi32(a[r][1], q2, b1);
        }
      }
      __m256 k0 = _mm256_loadu_ps(ks + j0), k1 = _mm256_loadu_ps(ks + j0 + 8);
      for (size_t r = 0; r < 4 && i0 + r < T; r++) {
        __m256 s = _mm256_set1_ps(qs[i0 + r]);
        _mm256_storeu_ps(S + (i0 + r) * np + j0,
                         _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a[r][0]), k0), s));
        _mm256_storeu_ps(S + (i0 + r) * np + j0 + 8,
                         _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a[r][1]), k1), s));
      }
    }
  }
}

static inline __m256 put(__m256i acc, __m256 vs, const float *o, int first) {
  __m256 x = _mm256_cvtepi32_ps(acc);
  return first ? _mm256_mul_ps(x, vs) : _mm256_fmadd_ps(x, vs, _mm256_loadu_ps(o));
}

/* out[i][c] = (Σ_j P[i][j]·V[j][c]) · vs[c] (+ out after the first block),
** 4 rows × 16 channels per step (d is a multiple of 16). */
static void values(const int16_t *P, size_t np, size_t npairs, const uint32_t *Vp, const float *vs,
                   size_t T, size_t d, float *out, size_t ldo, int first) {
  for (size_t i0 = 0; i0 < T; i0 += 4) {
    const int16_t *pr[4];
    for (int r = 0; r < 4; r++) pr[r] = P + (i0 + r < T ? i0 + r : T - 1) * np;
    for (size_t c0 = 0; c0 < d; c0 += 16) {
      __m256i a[4][2];
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++) a[r][0] = a[r][1] = _mm256_setzero_si256();
      for (size_t j2 = 0; j2 < npairs; j2++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(Vp + j2 * d + c0));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(Vp + j2 * d + c0 + 8));
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
          __m256i p2 = _mm256_set1_epi32((int)word(pr[r] + 2 * j2));
          a[r][0] = _mm256_dpwssd_avx_epi32(a[r][0], p2, b0);
          a[r][1] = _mm256_dpwssd_avx_epi32(a[r][1], p2, b1);
        }
      }
      __m256 v0 = _mm256_loadu_ps(vs + c0), v1 = _mm256_loadu_ps(vs + c0 + 8);
      for (size_t r = 0; r < 4 && i0 + r < T; r++) {
        float *o = out + (i0 + r) * ldo + c0;
        __m256 y0 = put(a[r][0], v0, o, first), y1 = put(a[r][1], v1, o + 8, first);
        _mm256_storeu_ps(o, y0);
        _mm256_storeu_ps(o + 8, y1);
      }
    }
  }
}

void k_attention_int_avxvnni(const float *q, const float *k, const float *v, size_t ld,
                             size_t T, size_t d, float scale, float *out, size_t ldo,
                             float *scratch) {
  if (d % 16 != 0 || d > ATT_INT_MAX_D) {
    k_attention_avx2(q, k, v, ld, T, d, scale, out, ldo, scratch);
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
    for (size_t j = 0; j < npb; j++) {
      if (j < n) ks[j] = quant_row(k + (jb + j) * ld, d, ATT_INT_QK_MAX, tmp);
      else ks[j] = 0, memset(tmp, 0, d * sizeof *tmp);
      for (size_t c2 = 0; c2 < d / 2; c2++) Kp[c2 * npb + j] = word(tmp + 2 * c2);
    }
    for (size_t c = 0; c < d; c += 8) {
      __m256 a = _mm256_setzero_ps();
      for (size_t j = 0; j < n; j++) a = _mm256_max_ps(a, abs8(_mm256_loadu_ps(v + (jb + j) * ld + c)));
      __m256 nz = _mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_GT_OQ);
      _mm256_storeu_ps(vs + c, _mm256_div_ps(a, _mm256_set1_ps(ATT_INT_V_MAX)));
      _mm256_storeu_ps(vinv + c, _mm256_and_ps(nz, _mm256_div_ps(_mm256_set1_ps(ATT_INT_V_MAX), a)));
    }
    for (size_t j2 = 0; j2 < npairs; j2++) {
      const float *v0 = v + (jb + 2 * j2) * ld, *v1 = v0 + ld;
      int odd = 2 * j2 + 1 < n;
      for (size_t c = 0; c < d; c += 8) {
        __m256 inv = _mm256_loadu_ps(vinv + c);
        __m256i t0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v0 + c), inv));
        __m256i t1 = odd ? _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v1 + c), inv))
                         : _mm256_setzero_si256();
        __m256i w = _mm256_or_si256(_mm256_and_si256(t0, _mm256_set1_epi32(0xFFFF)),
                                    _mm256_slli_epi32(t1, 16));
        _mm256_storeu_si256((__m256i *)(void *)(Vp + j2 * d + c), w);
      }
    }
    scores(Q, qs, T, d, Kp, ks, npb, S);
    for (size_t i = 0; i < T; i++) {
      const float *row = S + i * npb;
      __m256 vmax = _mm256_set1_ps(-INFINITY);
      for (size_t j = 0; j < n; j += 8)
        vmax = _mm256_blendv_ps(vmax, _mm256_max_ps(vmax, _mm256_loadu_ps(row + j)),
                                _mm256_castsi256_ps(lanes(j, n)));
      float mb = hmax8(vmax);
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
      __m256 vm = _mm256_set1_ps(mrow[i]), pmax = _mm256_set1_ps(ATT_INT_P_MAX);
      __m256i sum = _mm256_setzero_si256();
      for (size_t j = 0; j < npb; j += 16) { /* P = exp(S − m) to 0..32767, 0 past n */
        __m256i p0 = _mm256_and_si256(
            lanes(j, n), _mm256_cvtps_epi32(_mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm)), pmax)));
        __m256i p1 = _mm256_and_si256(
            lanes(j + 8, n),
            _mm256_cvtps_epi32(_mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j + 8), vm)), pmax)));
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(p0, p1));
        store16(P + i * npb + j, p0, p1);
      }
      lrow[i] += (float)hsum8i(sum);
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
