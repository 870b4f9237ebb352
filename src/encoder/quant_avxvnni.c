/*
** quant_avxvnni.c — the int8 linear layer on AVX-VNNI: the VEX-encoded,
** 256-bit vpdpbusd (u8 × s8 → s32, four products per lane) of CPUs that
** have VNNI but not AVX-512 (Alder Lake and later Intel desktop and
** E-core parts; Zen 5 also has it). Activations quantized to u8 with a
** zero point, as for the AVX-512 VNNI build, so the weight layout is
** q8_matrix's own; exact integer sums, so outputs equal the scalar twin's
** bit for bit.
**
** Tile: 6 rows × one 16-channel block (two ymm per row: channels 0-7 and
** 8-15), 12 accumulators, the block's two weight registers and two
** broadcasts — all 16 ymm registers. Per 4-input group: 2 weight loads,
** 6 broadcasts from memory, 12 vpdpbusd. Compiled under a target
** pragma; quant.c calls it only when the CPU has AVX-VNNI.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma,avxvnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avxvnni"))), apply_to = function)
#endif

#include <immintrin.h>
#include <string.h>

#include "encoder/quant_isa.h"

enum { MR = 6 };

void q8_quantize_rows_avx2u8(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                             uint32_t nr, uint8_t *A, float *sx, int32_t *zp) {
  for (uint32_t i = 0; i < nr; i++) {
    const float *xr = x + (size_t)(r0 + i) * in;
    uint8_t *ar = A + (size_t)i * in_pad;
    /* min/max starting at 0 (NaN in x keeps the running value, as the twin) */
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
    float inv;
    q8_params_from_range(mn, mx, &sx[i], &inv, &zp[i]);
    __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)-zp[i]),
           hi = _mm256_set1_ps((float)(255 - zp[i]));
    __m256i vzp = _mm256_set1_epi32(zp[i]);
    for (k = 0; k + 16 <= in; k += 16) {
      __m256i q[2];
      for (int t = 0; t < 2; t++) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + k + 8 * t), vinv);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi); /* NaN → lo, as the twin */
        q[t] = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
      }
      /* 0..255: both unsigned packs are exact; undo their lane interleave */
      __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(q[0], q[1]), 0xD8);
      __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(w, w), 0xD8);
      _mm_storeu_si128((__m128i *)(void *)(ar + k), _mm256_castsi256_si128(b));
    }
    if (k < in) q8_quantize_row_ref(xr + k, in - k, inv, zp[i], ar + k);
    for (uint32_t kk = in; kk < in_pad; kk++) ar[kk] = 0;
  }
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

/* The k loop of mr rows (1..MR) × one 16-channel block, in assembly: GCC 12
** keeps the intrinsic version's accumulators on the stack (~210 GOP/s on
** Zen 5, ffn1 shape). Row r accumulates channels 0-7 in ymm(2r) and 8-15 in
** ymm(2r+1); ymm12/13 hold the group's weights, ymm14/15 the broadcast
** activations. All 12 accumulators are stored to C ([12][8] int32), rows
** >= mr as zeros. */
#define AV_ROW(BC, R0, R1, ADDR)                       \
  "vpbroadcastd " ADDR ", %%ymm" BC "\n\t"             \
  "%{vex%} vpdpbusd %%ymm12, %%ymm" BC ", %%ymm" R0 "\n\t" \
  "%{vex%} vpdpbusd %%ymm13, %%ymm" BC ", %%ymm" R1 "\n\t"
#define AV_ROW0 AV_ROW("14", "0", "1", "(%[A])")
#define AV_ROW1 AV_ROW("15", "2", "3", "(%[A],%[lda])")
#define AV_ROW2 AV_ROW("14", "4", "5", "(%[A],%[lda2])")
#define AV_ROW3 AV_ROW("15", "6", "7", "(%[A3])")
#define AV_ROW4 AV_ROW("14", "8", "9", "(%[A3],%[lda])")
#define AV_ROW5 AV_ROW("15", "10", "11", "(%[A3],%[lda2])")

#define AV_TILE_ASM(ROWS)                                                                   \
  __asm__ volatile(                                                                         \
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t vpxor %%ymm1, %%ymm1, %%ymm1\n\t"                   \
      "vpxor %%ymm2, %%ymm2, %%ymm2\n\t vpxor %%ymm3, %%ymm3, %%ymm3\n\t"                   \
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t vpxor %%ymm5, %%ymm5, %%ymm5\n\t"                   \
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t vpxor %%ymm7, %%ymm7, %%ymm7\n\t"                   \
      "vpxor %%ymm8, %%ymm8, %%ymm8\n\t vpxor %%ymm9, %%ymm9, %%ymm9\n\t"                   \
      "vpxor %%ymm10, %%ymm10, %%ymm10\n\t vpxor %%ymm11, %%ymm11, %%ymm11\n\t"             \
      "test %[n], %[n]\n\t"                                                                 \
      "jz 2f\n\t"                                                                           \
      ".p2align 5\n"                                                                        \
      "1:\n\t"                                                                              \
      "vmovdqa (%[B]), %%ymm12\n\t"                                                         \
      "vmovdqa 32(%[B]), %%ymm13\n\t" ROWS                                                  \
      "add $4, %[A]\n\t"                                                                    \
      "add $4, %[A3]\n\t"                                                                   \
      "add $64, %[B]\n\t"                                                                   \
      "dec %[n]\n\t"                                                                        \
      "jnz 1b\n"                                                                            \
      "2:\n\t"                                                                              \
      "vmovdqa %%ymm0, 0(%[C])\n\t vmovdqa %%ymm1, 32(%[C])\n\t"                            \
      "vmovdqa %%ymm2, 64(%[C])\n\t vmovdqa %%ymm3, 96(%[C])\n\t"                           \
      "vmovdqa %%ymm4, 128(%[C])\n\t vmovdqa %%ymm5, 160(%[C])\n\t"                         \
      "vmovdqa %%ymm6, 192(%[C])\n\t vmovdqa %%ymm7, 224(%[C])\n\t"                         \
      "vmovdqa %%ymm8, 256(%[C])\n\t vmovdqa %%ymm9, 288(%[C])\n\t"                         \
      "vmovdqa %%ymm10, 320(%[C])\n\t vmovdqa %%ymm11, 352(%[C])\n\t"                       \
      : [A] "+r"(A), [A3] "+r"(A3), [B] "+r"(B), [n] "+r"(n)                                \
      : [lda] "r"(lda), [lda2] "r"(lda2), [C] "r"(C)                                        \
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",     \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory")

static void tile(const uint8_t *A, size_t lda, int mr, const int8_t *B, uint32_t ngroups,
                 int32_t *C /* [12][8], 32-aligned */) {
  const uint8_t *A3 = mr > 3 ? A + 3 * lda : A; /* rows 3..5 (only formed when they exist) */
  size_t lda2 = 2 * lda, n = ngroups;
  switch (mr) {
    case 6: AV_TILE_ASM(AV_ROW0 AV_ROW1 AV_ROW2 AV_ROW3 AV_ROW4 AV_ROW5); break;
    case 5: AV_TILE_ASM(AV_ROW0 AV_ROW1 AV_ROW2 AV_ROW3 AV_ROW4); break;
    case 4: AV_TILE_ASM(AV_ROW0 AV_ROW1 AV_ROW2 AV_ROW3); break;
    case 3: AV_TILE_ASM(AV_ROW0 AV_ROW1 AV_ROW2); break;
    case 2: AV_TILE_ASM(AV_ROW0 AV_ROW1); break;
    default: AV_TILE_ASM(AV_ROW0); break;
  }
}

void q8_tiles_avxvnni(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                      const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                      uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  uint32_t ng = q->in_pad / 4;
  _Alignas(32) int32_t C[2 * MR * 8];
  for (uint32_t bb = b0; bb < b1; bb++) {
    const int8_t *B = q->w + (size_t)bb * q->in_pad * 16;
    uint32_t n = bb * 16;
    for (uint32_t i = 0; i < nr; i += MR) {
      int mr = (int)(nr - i < MR ? nr - i : MR);
      tile(A + i * lda, lda, mr, B, ng, C);
      for (int r = 0; r < mr; r++) {
        float *yr = y + (size_t)(i + r) * ldy;
        __m256i a0 = _mm256_load_si256((const __m256i *)(const void *)(C + 16 * r));
        __m256i a1 = _mm256_load_si256((const __m256i *)(const void *)(C + 16 * r + 8));
        epilogue8(a0, zp[i + r], sx[i + r], q, n, c0, c1, bias, yr);
        epilogue8(a1, zp[i + r], sx[i + r], q, n + 8, c0, c1, bias, yr);
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
