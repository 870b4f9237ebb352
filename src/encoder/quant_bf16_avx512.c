/*
** quant_bf16_avx512.c — the BF16 linear layer on AVX-512 BF16: activation
** rows rounded to bf16 with vcvtne2ps2bf16, then a 12-row × 32-channel tile
** of vdpbf16ps (pairs of bf16 products summed into float32 lanes) over the
** panels of bf16_pack, blocked over K (BF16_KC) and rows (BF16_MC).
** Compiled under a target pragma; quant_bf16.c calls it only when the CPU
** has AVX-512 BF16.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"))), apply_to = function)
#endif

#include <immintrin.h>
#include <string.h>

#include "encoder/quant_isa.h"

enum { BMR = 12, BNR = 32 };

#define BH(v) ((__m512bh)(v))

void bf16_round_row_avx512(const float *x, uint32_t n, uint16_t *out) {
  uint32_t k = 0;
  for (; k + 32 <= n; k += 32) {
    __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k));
    _mm512_storeu_si512((void *)(out + k), (__m512i)h);
  }
  for (; k < n; k += 16) {
    uint32_t left = n - k;
    __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, x + k));
    _mm256_mask_storeu_epi16(out + k, m, (__m256i)h);
  }
}

static inline __attribute__((always_inline)) void
bkernel(const uint16_t *A, size_t lda, const uint16_t *B, uint32_t npairs, const int mr, int first,
        const float *bias, uint32_t n0, uint32_t c0, uint32_t c1, float *y, size_t ldy) {
  __m512 acc[BMR][2];
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
  for (uint32_t g = 0; g < npairs; g++) {
    __m512i w0 = _mm512_load_si512((const void *)(B + (size_t)g * 64));
    __m512i w1 = _mm512_load_si512((const void *)(B + (size_t)g * 64 + 32));
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      int32_t a2;
      memcpy(&a2, A + i * lda + 2 * g, 4);
      __m512i a = _mm512_set1_epi32(a2);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], BH(a), BH(w0));
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], BH(a), BH(w1));
    }
  }
  if (m0 == 0xFFFF && m1 == 0xFFFF) {
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

static void bkernel_dispatch(const uint16_t *A, size_t lda, const uint16_t *B, uint32_t npairs,
                             int mr, int first, const float *bias, uint32_t n0, uint32_t c0,
                             uint32_t c1, float *y, size_t ldy) {
  switch (mr) {
#define BCASE(m) case m: bkernel(A, lda, B, npairs, m, first, bias, n0, c0, c1, y, ldy); break;
    BCASE(12) BCASE(11) BCASE(10) BCASE(9) BCASE(8) BCASE(7)
    BCASE(6) BCASE(5) BCASE(4) BCASE(3) BCASE(2) BCASE(1)
#undef BCASE
    default: break;
  }
}

void bf16_block_avx512(const float *x, const bf16_packed *p, const float *bias, float *y,
                       size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1,
                       uint16_t *A) {
  uint32_t in = p->in, in_pad = p->in_pad, p0 = c0 / BNR, p1 = (c1 + BNR - 1) / BNR;
  for (uint32_t rc = r0; rc < r1; rc += BF16_MC) {
    uint32_t rce = r1 - rc < BF16_MC ? r1 : rc + BF16_MC;
    for (uint32_t r = rc; r < rce; r++) {
      uint16_t *ar = A + (size_t)(r - rc) * in_pad;
      bf16_round_row_avx512(x + (size_t)r * in, in, ar);
      for (uint32_t k = in; k < in_pad; k++) ar[k] = 0;
    }
    for (uint32_t k0 = 0; k0 < in_pad; k0 += BF16_KC) {
      uint32_t kc = in_pad - k0 < BF16_KC ? in_pad - k0 : BF16_KC;
      for (uint32_t pn = p0; pn < p1; pn++) {
        const uint16_t *B = p->w + ((size_t)pn * (in_pad / 2) + k0 / 2) * 64;
        for (uint32_t r = rc; r < rce; r += BMR) {
          int mr = (int)(rce - r < BMR ? rce - r : BMR);
          bkernel_dispatch(A + (size_t)(r - rc) * in_pad + k0, in_pad, B, kc / 2, mr, k0 == 0,
                           bias, pn * BNR, c0, c1, y + (size_t)r * ldy, ldy);
        }
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
