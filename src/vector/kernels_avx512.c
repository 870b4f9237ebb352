/*
** kernels_avx512.c — AVX-512 (F/BW/VL + VNNI) distance kernels, compiled
** with target attributes so they exist whatever -march the build uses and
** run only when vec_kernels_best() saw the instructions. Float kernels keep
** the 64 lanes of kernels.c's summation order in four zmm accumulators
** (element d in accumulator (d/16)%4, lane d%16) and fold them in the same
** tree, so they return the scalar twin's bits. Integer: vpdpbusd.
*/
#include "vector/vec_internal.h"

#ifdef VEC_HAVE_X86
#include <immintrin.h>

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))

/* fold: (a0+a1)+(a2+a3), then 16 → 8 → 4 → 2 → 1 as fold64() */
#define FOLD4(a0, a1, a2, a3, outv)                                              \
  do {                                                                           \
    __m512 s_ = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));     \
    __m256 t_ = _mm256_add_ps(_mm512_castps512_ps256(s_),                        \
                              _mm256_castpd_ps(_mm512_extractf64x4_pd(           \
                                  _mm512_castps_pd(s_), 1)));                    \
    __m128 u_ = _mm_add_ps(_mm256_castps256_ps128(t_), _mm256_extractf128_ps(t_, 1)); \
    __m128 v_ = _mm_add_ps(u_, _mm_movehl_ps(u_, u_));                           \
    __m128 w_ = _mm_add_ss(v_, _mm_shuffle_ps(v_, v_, 1));                       \
    (outv) = _mm_cvtss_f32(w_);                                                  \
  } while (0)

static inline __mmask16 tail_mask(size_t left) {
  return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

T512 static float dot_avx512(const float *a, const float *b, size_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  size_t d = 0;
  for (; d + 64 <= n; d += 64) {
    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), acc[0]);
    acc[1] = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 16), _mm512_loadu_ps(b + d + 16), acc[1]);
    acc[2] = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 32), _mm512_loadu_ps(b + d + 32), acc[2]);
    acc[3] = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 48), _mm512_loadu_ps(b + d + 48), acc[3]);
  }
  for (int g = 0; d < n; d += 16, g++) {
    __mmask16 m = tail_mask(n - d);
    acc[g] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + d), _mm512_maskz_loadu_ps(m, b + d),
                             acc[g]);
  }
  float r;
  FOLD4(acc[0], acc[1], acc[2], acc[3], r);
  return r;
}

T512 static float l2_avx512(const float *a, const float *b, size_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  size_t d = 0;
  for (; d + 64 <= n; d += 64) {
    for (int g = 0; g < 4; g++) {
      __m512 x = _mm512_sub_ps(_mm512_loadu_ps(a + d + 16 * g), _mm512_loadu_ps(b + d + 16 * g));
      acc[g] = _mm512_fmadd_ps(x, x, acc[g]);
    }
  }
  for (int g = 0; d < n; d += 16, g++) {
    __mmask16 m = tail_mask(n - d);
    __m512 x = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + d), _mm512_maskz_loadu_ps(m, b + d));
    acc[g] = _mm512_fmadd_ps(x, x, acc[g]);
  }
  float r;
  FOLD4(acc[0], acc[1], acc[2], acc[3], r);
  return r;
}

/* Four rows against one query: each query chunk is loaded once for four
** rows; sixteen accumulators, each row in its own fixed lane order. */
T512 static void dot4_avx512(const float *q, const float *const r[4], size_t n, float out[4]) {
  __m512 acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int g = 0; g < 4; g++) acc[i][g] = _mm512_setzero_ps();
  const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
  size_t d = 0;
  for (; d + 64 <= n; d += 64) {
    for (int g = 0; g < 4; g++) {
      __m512 vq = _mm512_loadu_ps(q + d + 16 * g);
      acc[0][g] = _mm512_fmadd_ps(vq, _mm512_loadu_ps(r0 + d + 16 * g), acc[0][g]);
      acc[1][g] = _mm512_fmadd_ps(vq, _mm512_loadu_ps(r1 + d + 16 * g), acc[1][g]);
      acc[2][g] = _mm512_fmadd_ps(vq, _mm512_loadu_ps(r2 + d + 16 * g), acc[2][g]);
      acc[3][g] = _mm512_fmadd_ps(vq, _mm512_loadu_ps(r3 + d + 16 * g), acc[3][g]);
    }
  }
  for (int g = 0; d < n; d += 16, g++) {
    __mmask16 m = tail_mask(n - d);
    __m512 vq = _mm512_maskz_loadu_ps(m, q + d);
    acc[0][g] = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(m, r0 + d), acc[0][g]);
    acc[1][g] = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(m, r1 + d), acc[1][g]);
    acc[2][g] = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(m, r2 + d), acc[2][g]);
    acc[3][g] = _mm512_fmadd_ps(vq, _mm512_maskz_loadu_ps(m, r3 + d), acc[3][g]);
  }
  for (int i = 0; i < 4; i++) FOLD4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], out[i]);
}

T512 static void l2_4_avx512(const float *q, const float *const r[4], size_t n, float out[4]) {
  __m512 acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int g = 0; g < 4; g++) acc[i][g] = _mm512_setzero_ps();
  size_t d = 0;
  for (; d + 64 <= n; d += 64) {
    for (int g = 0; g < 4; g++) {
      __m512 vq = _mm512_loadu_ps(q + d + 16 * g);
      for (int i = 0; i < 4; i++) {
        __m512 x = _mm512_sub_ps(vq, _mm512_loadu_ps(r[i] + d + 16 * g));
        acc[i][g] = _mm512_fmadd_ps(x, x, acc[i][g]);
      }
    }
  }
  for (int g = 0; d < n; d += 16, g++) {
    __mmask16 m = tail_mask(n - d);
    __m512 vq = _mm512_maskz_loadu_ps(m, q + d);
    for (int i = 0; i < 4; i++) {
      __m512 x = _mm512_sub_ps(vq, _mm512_maskz_loadu_ps(m, r[i] + d));
      acc[i][g] = _mm512_fmadd_ps(x, x, acc[i][g]);
    }
  }
  for (int i = 0; i < 4; i++) FOLD4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], out[i]);
}

T512 static int32_t dot_u8s8_avx512(const uint8_t *c, const int8_t *q, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
  size_t d = 0;
  for (; d + 128 <= n; d += 128) {
    a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(c + d), _mm512_loadu_si512(q + d));
    a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(c + d + 64), _mm512_loadu_si512(q + d + 64));
  }
  for (; d < n; d += 64)
    a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(c + d), _mm512_loadu_si512(q + d));
  return _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1));
}

const vec_kernels vec_kernels_avx512 = {"avx512", dot_avx512, l2_avx512, dot_u8s8_avx512,
                                        dot4_avx512, l2_4_avx512};
#endif
