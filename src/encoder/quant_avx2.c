/*
** quant_avx2.c — the int8 linear layer on AVX2 (CPUs without VNNI): exact
** u8 × s8 products through 16-bit lanes (vpmovsxbw / vpmaddwd → s32), never
** vpmaddubsw, whose saturating 16-bit pair sums would break exactness
** (255·127·2 > 32767), and whose widening step (vpmaddwd by ones) costs the
** same multiplier slot anyway. Output equals the scalar twin's bit for bit.
**
** Measured on AMD Zen 1 (bench_gemm's AVX2 peak lines): vpmaddwd ymm issues
** once per 2 cycles, as does vpmaddubsw, on the one integer multiplier, so
** 8 multiply-adds a cycle is the bound — the f32 FMA rate. vpmovsxbw, the
** activation broadcast and vpaddd run on other pipes beside it; what keeps
** a kernel below the bound is anything else in the loop (the front end
** issues ~4 instructions a cycle), so the loop holds only those four.
**
** Activations arrive widened to u16 (q8_quantize_rows_avx2 writes them so),
** and each row's four values of a 4-input group are one 8-byte vpbroadcastq
** from memory. Tile: 2 rows × one 16-channel block, 8 accumulators; per
** group the block's 64 weights are widened once (4 × vpmovsxbw) and used by
** both rows. Compiled under a target pragma; quant.c calls it only when the
** CPU has AVX2.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif

#include <immintrin.h>

#include "encoder/quant_isa.h"

/* Row min/max (starting at 0; NaN in x keeps the running value, as the
** twin) and the row's quantization parameters. */
static void row_params(const float *xr, uint32_t in, float *sx, float *inv, int32_t *zp) {
  __m256 mn0 = _mm256_setzero_ps(), mx0 = mn0, mn1 = mn0, mx1 = mn0;
  uint32_t k = 0;
  for (; k + 16 <= in; k += 16) {
    __m256 v0 = _mm256_loadu_ps(xr + k), v1 = _mm256_loadu_ps(xr + k + 8);
    mn0 = _mm256_min_ps(v0, mn0), mx0 = _mm256_max_ps(v0, mx0);
    mn1 = _mm256_min_ps(v1, mn1), mx1 = _mm256_max_ps(v1, mx1);
  }
  float mnv[8], mxv[8];
  _mm256_storeu_ps(mnv, _mm256_min_ps(mn0, mn1));
  _mm256_storeu_ps(mxv, _mm256_max_ps(mx0, mx1));
  float mn = 0.0f, mx = 0.0f;
  for (int t = 0; t < 8; t++) {
    if (mnv[t] < mn) mn = mnv[t];
    if (mxv[t] > mx) mx = mxv[t];
  }
  for (; k < in; k++) {
    if (xr[k] < mn) mn = xr[k];
    if (xr[k] > mx) mx = xr[k];
  }
  q8_params_from_range(mn, mx, sx, inv, zp);
}

/* Values k..k+15 of a row quantized (0..255, in int32 lanes) and packed to
** 16 u16 in order: the unsigned pack is exact; it interleaves lanes. */
static inline __m256i quant16(const float *xr, __m256 vinv, __m256 lo, __m256 hi, __m256i vzp) {
  __m256i q[2];
  for (int t = 0; t < 2; t++) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + 8 * t), vinv);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi); /* NaN → lo, as the twin */
    q[t] = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
  }
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(q[0], q[1]), 0xD8);
}

/* Both activation layouts: u16 (this file's kernel) or u8 (AVX-VNNI's). */
static void quantize_rows(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0, uint32_t nr,
                          void *A, int u8, float *sx, int32_t *zp) {
  for (uint32_t i = 0; i < nr; i++) {
    const float *xr = x + (size_t)(r0 + i) * in;
    uint16_t *a16 = (uint16_t *)A + (size_t)i * in_pad;
    uint8_t *a8 = (uint8_t *)A + (size_t)i * in_pad;
    float inv;
    row_params(xr, in, &sx[i], &inv, &zp[i]);
    __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)-zp[i]),
           hi = _mm256_set1_ps((float)(255 - zp[i]));
    __m256i vzp = _mm256_set1_epi32(zp[i]);
    uint32_t k = 0;
    for (; k + 16 <= in; k += 16) {
      __m256i w = quant16(xr + k, vinv, lo, hi, vzp);
      if (u8)
        _mm_storeu_si128((__m128i *)(void *)(a8 + k),
                         _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0xD8)));
      else
        _mm256_storeu_si256((__m256i *)(void *)(a16 + k), w);
    }
    uint8_t u[16] = {0}; /* the tail (< 16 values), then zero padding */
    if (k < in) q8_quantize_row_ref(xr + k, in - k, inv, zp[i], u);
    for (uint32_t kk = k; kk < in_pad; kk++) {
      uint8_t val = kk < in ? u[kk - k] : 0;
      if (u8) a8[kk] = val;
      else a16[kk] = val;
    }
  }
}

void q8_quantize_rows_avx2(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                           uint32_t nr, uint16_t *A, float *sx, int32_t *zp) {
  quantize_rows(x, in, in_pad, r0, nr, A, 0, sx, zp);
}

void q8_quantize_rows_avx2u8(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                             uint32_t nr, uint8_t *A, float *sx, int32_t *zp) {
  quantize_rows(x, in, in_pad, r0, nr, A, 1, sx, zp);
}

/* 8 channel sums from two accumulators of channel pairs (see the layout
** note in q8_tiles_avx2). */
static inline __m256i fold(__m256i a0, __m256i a1) {
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  return _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(a0, a1), perm);
}

/* y[n..n+8) = (float)(acc − zp·wsum) · (sx·sw) + b as the twin's fmaf,
** stored only for columns inside [c0, c1). */
static inline void epilogue8(__m256i acc, int32_t zp, float sx, const q8_matrix *q, uint32_t n,
                             uint32_t c0, uint32_t c1, const float *bias, float *y) {
  uint32_t lo = c0 > n ? c0 - n : 0, hi = c1 > n ? c1 - n : 0;
  if (hi > 8) hi = 8;
  if (lo >= hi) return;
  __m256i ws = _mm256_load_si256((const __m256i *)(const void *)(q->wsum + n));
  acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(zp), ws));
  __m256 s = _mm256_mul_ps(_mm256_set1_ps(sx), _mm256_load_ps(q->scale + n));
  if (lo == 0 && hi == 8) {
    __m256 b = bias ? _mm256_loadu_ps(bias + n) : _mm256_setzero_ps();
    _mm256_storeu_ps(y + n, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), s, b));
    return;
  }
  float bb[8] = {0}, t8[8];
  if (bias)
    for (uint32_t t = lo; t < hi; t++) bb[t] = bias[n + t];
  _mm256_storeu_ps(t8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), s, _mm256_loadu_ps(bb)));
  for (uint32_t t = lo; t < hi; t++) y[n + t] = t8[t];
}

void q8_epilogue8_avx2(const int32_t *acc, int32_t zp, float sx, const q8_matrix *q, uint32_t n,
                       uint32_t c0, uint32_t c1, const float *bias, float *y) {
  epilogue8(_mm256_loadu_si256((const __m256i *)(const void *)acc), zp, sx, q, n, c0, c1, bias, y);
}

/* Block layout: group g holds, for channel c in 0..15, 4 weights at byte
** 4c. Loaded as 4 × 16 bytes = channels 0-3, 4-7, 8-11, 12-15, each widened
** to 16 words; vpmaddwd with the row's 4 activations repeated gives per
** channel two partial sums (k0+k1, k2+k3) in adjacent dwords, so after the
** loop hadd + a lane permute yields 8 channel totals. */
void q8_tiles_avx2(const uint16_t *A, size_t lda, uint32_t nr, const float *sx,
                   const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                   uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  uint32_t ng = q->in_pad / 4;
  for (uint32_t bb = b0; bb < b1; bb++) {
    const int8_t *B = q->w + (size_t)bb * q->in_pad * 16;
    uint32_t n = bb * 16;
    for (uint32_t i = 0; i < nr; i += 2) {
      int two = i + 1 < nr;
      const uint16_t *a0 = A + i * lda, *a1 = two ? a0 + lda : a0;
      __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00;
      __m256i s10 = s00, s11 = s00, s12 = s00, s13 = s00;
      /* In assembly: GCC 12 spills an accumulator of the intrinsic version
      ** and adds register moves, and the front end, not the multiplier, then
      ** bounds the loop (Zen 1, ffn 4096 rows: 31.5 GOP/s, here 35.8). One
      ** weight register is widened and used by both rows before the next. */
      const int8_t *bg = B;
      const uint16_t *p0 = a0, *p1 = a1;
      uint32_t left = ng;
      __asm__ volatile(
          "1:\n\t"
          "vpbroadcastq (%[p0]), %%ymm12\n\t"
          "vpbroadcastq (%[p1]), %%ymm13\n\t"
          "vpmovsxbw (%[bg]), %%ymm14\n\t"
          "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
          "vpaddd %%ymm15, %[s00], %[s00]\n\t"
          "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
          "vpaddd %%ymm14, %[s10], %[s10]\n\t"
          "vpmovsxbw 16(%[bg]), %%ymm14\n\t"
          "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
          "vpaddd %%ymm15, %[s01], %[s01]\n\t"
          "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
          "vpaddd %%ymm14, %[s11], %[s11]\n\t"
          "vpmovsxbw 32(%[bg]), %%ymm14\n\t"
          "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
          "vpaddd %%ymm15, %[s02], %[s02]\n\t"
          "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
          "vpaddd %%ymm14, %[s12], %[s12]\n\t"
          "vpmovsxbw 48(%[bg]), %%ymm14\n\t"
          "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"
          "vpaddd %%ymm15, %[s03], %[s03]\n\t"
          "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"
          "vpaddd %%ymm14, %[s13], %[s13]\n\t"
          "add $64, %[bg]\n\t"
          "add $8, %[p0]\n\t"
          "add $8, %[p1]\n\t"
          "dec %[left]\n\t"
          "jnz 1b\n\t"
          : [s00] "+x"(s00), [s01] "+x"(s01), [s02] "+x"(s02), [s03] "+x"(s03),
            [s10] "+x"(s10), [s11] "+x"(s11), [s12] "+x"(s12), [s13] "+x"(s13),
            [bg] "+r"(bg), [p0] "+r"(p0), [p1] "+r"(p1), [left] "+r"(left)
          :
          : "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
      /* s0t: channels 4t..4t+3 as pairs; lane 0 holds channels 4t, 4t+1 */
      float *y0 = y + (size_t)i * ldy;
      epilogue8(fold(s00, s01), zp[i], sx[i], q, n, c0, c1, bias, y0);
      epilogue8(fold(s02, s03), zp[i], sx[i], q, n + 8, c0, c1, bias, y0);
      if (two) {
        epilogue8(fold(s10, s11), zp[i + 1], sx[i + 1], q, n, c0, c1, bias, y0 + ldy);
        epilogue8(fold(s12, s13), zp[i + 1], sx[i + 1], q, n + 8, c0, c1, bias, y0 + ldy);
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
