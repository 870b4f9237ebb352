/*
** quant_f32_avx2.c — the f32 linear layer on AVX2 + FMA: a 6-row × 16-channel
** FMA tile (12 ymm accumulators) over each half of the 32-channel panels of
** f32_pack, blocked over K and rows (constants below, tuned on Zen 1). Compiled under a
** target pragma; quant_f32.c calls it only when the CPU has AVX2 and FMA.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif

#include <immintrin.h>

#include "encoder/quant_isa.h"

/* AMR × 16 register tile; rows blocked by AMC and K by F32_FKC so a 16-channel
** panel slice (F32_FKC × 64 B = 24 KB) stays in L1 and the activation block
** (AMC × F32_FKC floats = 216 KB) in L2. Measured on Zen 1 (bench_gemm,
** 4096-row MiniLM shapes, 1 thread): AMC 144 + K unrolled by 4 gives 35-36
** GFLOP/s (~91% of the core's ymm FMA peak), 72 rows 33-34, K blocks of 128
** or 256 no better. */
enum { AMR = 6, AMC = 144 };

/* Store 8 floats at p, lanes [lo, hi) only. */
static inline void store8(float *p, __m256 v, uint32_t lo, uint32_t hi) {
  if (lo == 0 && hi >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  float t[8];
  _mm256_storeu_ps(t, v);
  for (uint32_t i = lo; i < hi && i < 8; i++) p[i] = t[i];
}
static inline __m256 load8(const float *p, uint32_t lo, uint32_t hi) {
  if (lo == 0 && hi >= 8) return _mm256_loadu_ps(p);
  float t[8] = {0};
  for (uint32_t i = lo; i < hi && i < 8; i++) t[i] = p[i];
  return _mm256_loadu_ps(t);
}

/* rows [0, mr) × 16 channels n0.. from panel slice B (kc rows of 32 floats,
** this half at B), first K block from the bias, later ones from y. */
static inline __attribute__((always_inline)) void
akernel(const float *A, size_t lda, const float *B, uint32_t kc, const int mr, int first,
        const float *bias, uint32_t n0, uint32_t c0, uint32_t c1, float *y, size_t ldy) {
  __m256 acc[AMR][2];
  uint32_t lo0 = c0 > n0 ? c0 - n0 : 0, hi0 = c1 > n0 ? c1 - n0 : 0;
  uint32_t lo1 = c0 > n0 + 8 ? c0 - n0 - 8 : 0, hi1 = c1 > n0 + 8 ? c1 - n0 - 8 : 0;
  if (first) {
    __m256 b0 = bias ? load8(bias + n0, lo0, hi0) : _mm256_setzero_ps();
    __m256 b1 = bias ? load8(bias + n0 + 8, lo1, hi1) : _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) acc[i][0] = b0, acc[i][1] = b1;
  } else {
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
      acc[i][0] = load8(y + i * ldy + n0, lo0, hi0);
      acc[i][1] = load8(y + i * ldy + n0 + 8, lo1, hi1);
    }
  }
#pragma GCC unroll 4
  for (uint32_t k = 0; k < kc; k++) {
    __m256 w0 = _mm256_load_ps(B + (size_t)k * F32_FNR), w1 = _mm256_load_ps(B + (size_t)k * F32_FNR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
      __m256 a = _mm256_broadcast_ss(A + i * lda + k);
      acc[i][0] = _mm256_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, w1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < mr; i++) {
    if (hi0 > lo0) store8(y + i * ldy + n0, acc[i][0], lo0, hi0);
    if (hi1 > lo1) store8(y + i * ldy + n0 + 8, acc[i][1], lo1, hi1);
  }
}

static void akernel_dispatch(const float *A, size_t lda, const float *B, uint32_t kc, int mr,
                             int first, const float *bias, uint32_t n0, uint32_t c0, uint32_t c1,
                             float *y, size_t ldy) {
  switch (mr) {
#define ACASE(m) case m: akernel(A, lda, B, kc, m, first, bias, n0, c0, c1, y, ldy); break;
    ACASE(6) ACASE(5) ACASE(4) ACASE(3) ACASE(2) ACASE(1)
#undef ACASE
    default: break;
  }
}

void f32_block_avx2(const float *x, const f32_packed *p, const float *bias, float *y,
                    size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  uint32_t in = p->in;
  if (r0 >= r1 || c0 >= c1) return;
  uint32_t h0 = c0 / 16, h1 = (c1 + 15) / 16; /* 16-channel halves of panels */
  for (uint32_t rc = r0; rc < r1; rc += AMC) {
    uint32_t rce = r1 - rc < AMC ? r1 : rc + AMC;
    for (uint32_t k0 = 0; k0 < in; k0 += F32_FKC) {
      uint32_t kc = in - k0 < F32_FKC ? in - k0 : F32_FKC;
      for (uint32_t h = h0; h < h1; h++) {
        const float *B = p->w + ((size_t)(h / 2) * in + k0) * F32_FNR + (h % 2) * 16;
        for (uint32_t r = rc; r < rce; r += AMR) {
          int mr = (int)(rce - r < AMR ? rce - r : AMR);
          akernel_dispatch(x + (size_t)r * in + k0, in, B, kc, mr, k0 == 0, bias, h * 16, c0,
                           c1, y + (size_t)r * ldy, ldy);
        }
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
