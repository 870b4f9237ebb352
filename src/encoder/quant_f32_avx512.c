/*
** quant_f32_avx512.c — the f32 linear layer on AVX-512F: a 12×32 FMA
** register tile over the 32-channel panels of f32_pack, blocked over K
** (F32_FKC) and rows (F32_FMC) so the activation block stays in L2 and the
** panel slice in L1. Compiled under a target pragma; quant_f32.c calls it
** only when the CPU has AVX-512.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), apply_to = function)
#endif

#include <immintrin.h>

#include "encoder/quant_isa.h"

enum { FMR = 12 };

/* rows [0, mr) × 32 channels from panel slice B (kc × 32), A with stride
** lda; first K block starts from the bias, later ones from y. */
static inline __attribute__((always_inline)) void
fkernel(const float *A, size_t lda, const float *B, uint32_t kc, const int mr, int first,
        const float *bias, uint32_t n0, uint32_t c0, uint32_t c1, float *y, size_t ldy) {
  __m512 acc[FMR][2];
  __mmask16 m0 = (__mmask16)quant_col_mask(n0, c0, c1), m1 = (__mmask16)quant_col_mask(n0 + 16, c0, c1);
  if (first) {
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + n0) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + n0 + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) acc[i][0] = b0, acc[i][1] = b1;
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      acc[i][0] = _mm512_maskz_loadu_ps(m0, y + i * ldy + n0);
      acc[i][1] = _mm512_maskz_loadu_ps(m1, y + i * ldy + n0 + 16);
    }
  }
  for (uint32_t k = 0; k < kc; k++) {
    __m512 w0 = _mm512_load_ps(B + (size_t)k * F32_FNR), w1 = _mm512_load_ps(B + (size_t)k * F32_FNR + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      __m512 a = _mm512_set1_ps(A[i * lda + k]);
      acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
    }
  }
  if (m0 == 0xFFFF && m1 == 0xFFFF) { /* plain stores: masked ones are slow on some cores (Zen 4) */
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      _mm512_storeu_ps(y + i * ldy + n0, acc[i][0]);
      _mm512_storeu_ps(y + i * ldy + n0 + 16, acc[i][1]);
    }
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      _mm512_mask_storeu_ps(y + i * ldy + n0, m0, acc[i][0]);
      _mm512_mask_storeu_ps(y + i * ldy + n0 + 16, m1, acc[i][1]);
    }
  }
}

static void fkernel_dispatch(const float *A, size_t lda, const float *B, uint32_t kc, int mr,
                             int first, const float *bias, uint32_t n0, uint32_t c0, uint32_t c1,
                             float *y, size_t ldy) {
  switch (mr) {
#define FCASE(m) case m: fkernel(A, lda, B, kc, m, first, bias, n0, c0, c1, y, ldy); break;
    FCASE(12) FCASE(11) FCASE(10) FCASE(9) FCASE(8) FCASE(7)
    FCASE(6) FCASE(5) FCASE(4) FCASE(3) FCASE(2) FCASE(1)
#undef FCASE
    default: break;
  }
}

void f32_block_avx512(const float *x, const f32_packed *p, const float *bias, float *y,
                      size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  uint32_t in = p->in;
  if (r0 >= r1 || c0 >= c1) return;
  uint32_t p0 = c0 / F32_FNR, p1 = (c1 + F32_FNR - 1) / F32_FNR;
  for (uint32_t rc = r0; rc < r1; rc += F32_FMC) {
    uint32_t rce = r1 - rc < F32_FMC ? r1 : rc + F32_FMC;
    for (uint32_t k0 = 0; k0 < in; k0 += F32_FKC) {
      uint32_t kc = in - k0 < F32_FKC ? in - k0 : F32_FKC;
      for (uint32_t pn = p0; pn < p1; pn++) {
        const float *B = p->w + ((size_t)pn * in + k0) * F32_FNR;
        for (uint32_t r = rc; r < rce; r += FMR) {
          int mr = (int)(rce - r < FMR ? rce - r : FMR);
          fkernel_dispatch(x + (size_t)r * in + k0, in, B, kc, mr, k0 == 0, bias, pn * F32_FNR, c0,
                           c1, y + (size_t)r * ldy, ldy);
        }
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
