/*
** kernels_avx2.c — the float32 kernels for AVX2 + FMA (Haswell and later, Zen 1 and later),
** whatever -march the library is built with: the functions carry the
** target through a pragma and are only called after the CPU check in
** dispatch.c. Names: k_*_avx2 (see kernels.h).
**
** LayerNorm, exp and erf are kernels_impl.h compiled here. GELU and
** attention are written with 256-bit intrinsics instead: GCC leaves the
** generic GELU loop scalar, and the generic attention's 8 × 16-float tiles
** need 16 ymm accumulators (plus operands) on AVX2, so they spill. Here
** both attention products run on the 6 × 16 register tile of the f32
** linear layer (12 accumulators, one broadcast per 2 FMAs), six query rows
** at a time: scores against all keys, an exact two-pass softmax on those
** rows while they sit in L1, then P·V. exp and erf use the polynomials of
** kernels_math.h, so the results match the other builds to rounding.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif

#include <immintrin.h>

#define KN_OWN_GELU_ATTENTION
#define KN(name) name##_avx2
#include "encoder/exp_avx2.h"
#include "encoder/kernels_impl.h"
#undef KN

#define INLINE static inline __attribute__((always_inline))

/* erf1 of kernels_math.h on 8 lanes. */
INLINE __m256 erf8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
  __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
  return _mm256_div_ps(_mm256_mul_ps(x, p), q);
}

INLINE __m256 gelu8(__m256 z) {
  __m256 e = erf8(_mm256_mul_ps(z, _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), z), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* Lanes [0, n) of 8 set (n <= 8). */
INLINE __m256i mask8(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void k_gelu_avx2(float *x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    __m256i m = mask8(n - i);
    _mm256_maskstore_ps(x + i, m, gelu8(_mm256_maskload_ps(x + i, m)));
  }
}

/* ------------------------------------------------------------ attention */

enum { AQ = 6 }; /* query rows per register tile */

/* acc[i] (2 × 8 lanes) = Σ_k A[i·lda + k] · B[k·ldb + 0..16) for i < mr,
** k < K. The B columns past the valid ones are read only when full (else
** through the masks m0, m1). */
INLINE void tile(const float *A, size_t lda, const float *B, size_t ldb, size_t K, const int mr,
                 const int full, __m256i m0, __m256i m1, __m256 acc[AQ][2]) {
  for (int i = 0; i < mr; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (size_t k = 0; k < K; k++) {
    const float *b = B + k * ldb;
    __m256 b0 = full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
    __m256 b1 = full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1);
    for (int i = 0; i < mr; i++) {
      __m256 a = _mm256_broadcast_ss(A + i * lda + k);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
}

/* S[i][0..np) = scale · q_i · kt (np a multiple of 16; kt is d × np, the
** keys transposed, zero past T), then keys j >= T set to −∞. */
INLINE void scores_rows(const float *q, size_t ld, size_t d, const float *kt, size_t np,
                        size_t T, float scale, const int mr, float *S) {
  __m256 acc[AQ][2], sc = _mm256_set1_ps(scale);
  __m256i none = _mm256_setzero_si256();
  for (size_t j0 = 0; j0 < np; j0 += 16) {
    tile(q, ld, kt + j0, np, d, mr, 1, none, none, acc);
    for (int i = 0; i < mr; i++) {
      _mm256_storeu_ps(S + i * np + j0, _mm256_mul_ps(acc[i][0], sc));
      _mm256_storeu_ps(S + i * np + j0 + 8, _mm256_mul_ps(acc[i][1], sc));
    }
  }
  for (int i = 0; i < mr; i++)
    for (size_t j = T; j < np; j++) S[i * np + j] = -INFINITY;
}

/* Row s[0..np) (np a multiple of 16, −∞ past the real keys) = exp(s − max);
** returns 1 / Σ. */
INLINE float softmax_row(float *s, size_t np) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  for (size_t j = 0; j < np; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(s + j));
  m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 1));
  m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0x4E));
  m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, 0xB1));
  __m256 l = _mm256_setzero_ps();
  for (size_t j = 0; j < np; j += 8) {
    __m256 x = _mm256_loadu_ps(s + j);
    /* exp8 clamps at −87, so −∞ lanes give 2^-126: zero them exactly */
    __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(x, m)),
                             _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
    _mm256_storeu_ps(s + j, e);
    l = _mm256_add_ps(l, e);
  }
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return 1.0f / _mm_cvtss_f32(h);
}

/* out[i][0..d) = inv[i] · Σ_{j<T} P[i][j] · v_j for i < mr. */
INLINE void values_rows(const float *P, size_t np, const float *v, size_t ld, size_t T,
                        size_t d, const float *inv, const int mr, float *out, size_t ldo) {
  __m256 acc[AQ][2];
  for (size_t c0 = 0; c0 < d; c0 += 16) {
    size_t w = d - c0 < 16 ? d - c0 : 16;
    __m256i m0 = mask8(w < 8 ? w : 8), m1 = mask8(w > 8 ? w - 8 : 0);
    if (w == 16) tile(P, np, v + c0, ld, T, mr, 1, m0, m1, acc);
    else tile(P, np, v + c0, ld, T, mr, 0, m0, m1, acc);
    for (int i = 0; i < mr; i++) {
      __m256 s = _mm256_set1_ps(inv[i]);
      float *o = out + i * ldo + c0;
      if (w == 16) {
        _mm256_storeu_ps(o, _mm256_mul_ps(acc[i][0], s));
        _mm256_storeu_ps(o + 8, _mm256_mul_ps(acc[i][1], s));
      } else {
        _mm256_maskstore_ps(o, m0, _mm256_mul_ps(acc[i][0], s));
        _mm256_maskstore_ps(o + 8, m1, _mm256_mul_ps(acc[i][1], s));
      }
    }
  }
}

/* Queries [i0, i0 + mr): scores, softmax, P·V. */
INLINE void attend_rows(const float *q, const float *v, size_t ld, size_t T, size_t d,
                        const float *kt, size_t np, float scale, const int mr, float *S,
                        float *out, size_t ldo) {
  float inv[AQ];
  scores_rows(q, ld, d, kt, np, T, scale, mr, S);
  for (int i = 0; i < mr; i++) inv[i] = softmax_row(S + i * np, np);
  values_rows(S, np, v, ld, T, d, inv, mr, out, ldo);
}

/* Scratch: keys transposed [d][np] and the scores of AQ rows [AQ][np]. No
** key blocking: AQ rows of scores are small for any T, and the two-pass
** softmax over all keys is exact. */
void k_attention_avx2(const float *q, const float *k, const float *v, size_t ld, size_t T,
                      size_t d, float scale, float *out, size_t ldo, float *scratch) {
  size_t np = (T + 15) / 16 * 16;
  float *kt = scratch, *S = kt + d * np;
  for (size_t c = 0; c < d; c++) {
    float *row = kt + c * np;
    for (size_t j = 0; j < T; j++) row[j] = k[j * ld + c];
    for (size_t j = T; j < np; j++) row[j] = 0;
  }
  size_t i = 0;
  for (; i + AQ <= T; i += AQ)
    attend_rows(q + i * ld, v, ld, T, d, kt, np, scale, AQ, S, out + i * ldo, ldo);
  switch (T - i) {
#define REST(m)                                                                          \
  case m: attend_rows(q + i * ld, v, ld, T, d, kt, np, scale, m, S, out + i * ldo, ldo); \
    break;
    REST(5) REST(4) REST(3) REST(2) REST(1)
#undef REST
    default: break;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
