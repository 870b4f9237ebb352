/*
** kernels_avx2.c — AVX2 + FMA distance kernels (target attributes; chosen
** at run time). The 64 lanes of kernels.c's summation order live in eight
** ymm accumulators (element d in accumulator (d/8)%8, lane d%8) and are
** folded in the same tree, so results equal the scalar twin bit for bit.
** Integer: u8/s8 widened to 16 bits and vpmaddwd (exact; no saturation).
*/
#include "vector/vec_internal.h"

#ifdef VEC_HAVE_X86
#include <immintrin.h>

#define T2 __attribute__((target("avx2,fma")))

/* accumulator Aj holds lanes 8j..8j+7; fold64: s = (l[i]+l[i+16]) + (l[i+32]+l[i+48])
** → low half (A0+A2)+(A4+A6), high half (A1+A3)+(A5+A7); then 16 → 1. */
#define FOLD8(A, outv)                                                          \
  do {                                                                          \
    __m256 lo_ = _mm256_add_ps(_mm256_add_ps(A##0, A##2), _mm256_add_ps(A##4, A##6)); \
    __m256 hi_ = _mm256_add_ps(_mm256_add_ps(A##1, A##3), _mm256_add_ps(A##5, A##7)); \
    __m256 t_ = _mm256_add_ps(lo_, hi_);                                        \
    __m128 u_ = _mm_add_ps(_mm256_castps256_ps128(t_), _mm256_extractf128_ps(t_, 1)); \
    __m128 v_ = _mm_add_ps(u_, _mm_movehl_ps(u_, u_));                          \
    __m128 w_ = _mm_add_ss(v_, _mm_shuffle_ps(v_, v_, 1));                      \
    (outv) = _mm_cvtss_f32(w_);                                                 \
  } while (0)

/* mask for a tail of `left` (< 8 or more) floats */
T2 static inline __m256i tail_mask8(size_t left) {
  static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  size_t k = left >= 8 ? 8 : left;
  return _mm256_loadu_si256((const __m256i *)(m + 8 - k));
}

/* Eight named accumulators A0..A7, every chunk written out: with an array
** indexed by a loop variable (the tail loop was one) GCC kept the array in
** memory, a load and a store around every FMA, which held the kernel to
** ~13 GB/s in L1 on Zen 1 (now ~28 GB/s, 120 cycles per 384-d row). */
#define EACH8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define LD(p, j) _mm256_loadu_ps((p) + d + 8 * (j))
/* chunk j of the last n - d < 64 elements, masked when partial (zeros past n) */
#define LDT(p, j) _mm256_maskload_ps((p) + d + 8 * (j), tail_mask8(n - d - 8 * (j)))

T2 static float dot_avx2(const float *a, const float *b, size_t n) {
  __m256 A0 = _mm256_setzero_ps(), A1 = A0, A2 = A0, A3 = A0, A4 = A0, A5 = A0, A6 = A0, A7 = A0;
  size_t d = 0;
#define DOT_FULL(j) A##j = _mm256_fmadd_ps(LD(a, j), LD(b, j), A##j);
#define DOT_TAIL(j) if (d + 8 * j < n) A##j = _mm256_fmadd_ps(LDT(a, j), LDT(b, j), A##j);
  for (; d + 64 <= n; d += 64) { EACH8(DOT_FULL) }
  EACH8(DOT_TAIL)
  float r;
  FOLD8(A, r);
  return r;
}

T2 static float l2_avx2(const float *a, const float *b, size_t n) {
  __m256 A0 = _mm256_setzero_ps(), A1 = A0, A2 = A0, A3 = A0, A4 = A0, A5 = A0, A6 = A0, A7 = A0;
  size_t d = 0;
#define L2_STEP(j, x) { __m256 x_ = (x); A##j = _mm256_fmadd_ps(x_, x_, A##j); }
#define L2_FULL(j) L2_STEP(j, _mm256_sub_ps(LD(a, j), LD(b, j)))
#define L2_TAIL(j) if (d + 8 * j < n) L2_STEP(j, _mm256_sub_ps(LDT(a, j), LDT(b, j)))
  for (; d + 64 <= n; d += 64) { EACH8(L2_FULL) }
  EACH8(L2_TAIL)
  float r;
  FOLD8(A, r);
  return r;
}

/* 16 ymm registers do not hold four rows' 32 accumulators: row by row. */
T2 static void dot4_avx2(const float *q, const float *const r[4], size_t n, float out[4]) {
  for (int i = 0; i < 4; i++) out[i] = dot_avx2(q, r[i], n);
}
T2 static void l2_4_avx2(const float *q, const float *const r[4], size_t n, float out[4]) {
  for (int i = 0; i < 4; i++) out[i] = l2_avx2(q, r[i], n);
}

T2 static int32_t dot_u8s8_avx2(const uint8_t *c, const int8_t *q, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
  for (size_t d = 0; d < n; d += 32) {
    __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + d)));
    __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(c + d + 16)));
    __m256i q0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + d)));
    __m256i q1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + d + 16)));
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(c0, q0));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(c1, q1));
  }
  __m256i s = _mm256_add_epi32(a0, a1);
  __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  return _mm_cvtsi128_si32(t);
}

const vec_kernels vec_kernels_avx2 = {"avx2", dot_avx2, l2_avx2, dot_u8s8_avx2, dot4_avx2,
                                      l2_4_avx2};
#endif
