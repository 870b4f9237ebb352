/*
** quant_vnni.c — the int8 linear layer on AVX-512 VNNI: activation rows
** quantized 64 values per step, and a 6-row × 4-block (64 channels) tile of
** vpdpbusd (u8 × s8 → s32) accumulators, written in assembly because GCC 12
** spills the accumulators of the intrinsic version. Exact integer sums, so
** every output equals the scalar twin's bit for bit. Compiled under a target
** pragma; quant.c calls it only when the CPU has AVX-512 VNNI.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#endif

#include <immintrin.h>
#include <string.h>

#include "encoder/quant_isa.h"

/* Register tile: MR rows × NV 16-channel blocks, 24 of the 32 zmm
** registers as accumulators. */
enum { MR = 6, NV = 4 };

void q8_quantize_rows_avx512(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                             uint32_t nr, uint8_t *A, float *sx, int32_t *zp) {
  for (uint32_t i = 0; i < nr; i++) {
    const float *xr = x + (size_t)(r0 + i) * in;
    uint8_t *ar = A + (size_t)i * in_pad;
    float inv;
    /* min/max over four independent register chains (latency-bound otherwise) */
    __m512 mn0 = _mm512_setzero_ps(), mx0 = mn0, mn1 = mn0, mx1 = mn0, mn2 = mn0, mx2 = mn0,
           mn3 = mn0, mx3 = mn0;
    uint32_t k = 0;
    for (; k + 64 <= in; k += 64) {
      __m512 v0 = _mm512_loadu_ps(xr + k), v1 = _mm512_loadu_ps(xr + k + 16);
      __m512 v2 = _mm512_loadu_ps(xr + k + 32), v3 = _mm512_loadu_ps(xr + k + 48);
      mn0 = _mm512_min_ps(v0, mn0), mx0 = _mm512_max_ps(v0, mx0); /* NaN in v → keep acc */
      mn1 = _mm512_min_ps(v1, mn1), mx1 = _mm512_max_ps(v1, mx1);
      mn2 = _mm512_min_ps(v2, mn2), mx2 = _mm512_max_ps(v2, mx2);
      mn3 = _mm512_min_ps(v3, mn3), mx3 = _mm512_max_ps(v3, mx3);
    }
    for (; k < in; k += 16) {
      uint32_t left = in - k;
      __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
      __m512 v = _mm512_maskz_loadu_ps(m, xr + k);
      mn0 = _mm512_min_ps(v, mn0), mx0 = _mm512_max_ps(v, mx0);
    }
    mn0 = _mm512_min_ps(_mm512_min_ps(mn0, mn1), _mm512_min_ps(mn2, mn3));
    mx0 = _mm512_max_ps(_mm512_max_ps(mx0, mx1), _mm512_max_ps(mx2, mx3));
    q8_params_from_range(_mm512_reduce_min_ps(mn0), _mm512_reduce_max_ps(mx0), &sx[i], &inv, &zp[i]);
    /* u = sat_u8(cvt(x·inv) + zp): |x·inv| <= ~256 for finite rows and NaN
    ** converts to INT_MIN, so saturating packs give exactly the scalar
    ** twin's clamp-then-round. 64 values per step: two signed packs to
    ** int16, one unsigned pack to u8, one permute to undo lane interleave. */
    __m512 vinv = _mm512_set1_ps(inv);
    __m512i vzp = _mm512_set1_epi32(zp[i]);
    const __m512i perm = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    for (k = 0; k + 64 <= in; k += 64) {
      __m512i q0 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k), vinv)), vzp);
      __m512i q1 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k + 16), vinv)), vzp);
      __m512i q2 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k + 32), vinv)), vzp);
      __m512i q3 = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + k + 48), vinv)), vzp);
      __m512i p = _mm512_packus_epi16(_mm512_packs_epi32(q0, q1), _mm512_packs_epi32(q2, q3));
      _mm512_storeu_si512((void *)(ar + k), _mm512_permutexvar_epi32(perm, p));
    }
    __m512 lo = _mm512_set1_ps((float)-zp[i]), hi = _mm512_set1_ps((float)(255 - zp[i]));
    for (; k < in; k += 16) {
      uint32_t left = in - k;
      __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + k), vinv);
      v = _mm512_max_ps(v, lo); /* NaN → lo, as in the scalar twin */
      v = _mm512_min_ps(v, hi);
      __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), vzp);
      _mm_mask_storeu_epi8(ar + k, m, _mm512_cvtepi32_epi8(q));
    }
    for (uint32_t kk = in; kk < in_pad; kk++) ar[kk] = 0;
  }
}

/* acc[i][j] (16 channels of block j for row i) = Σ_g u·q − zp_i·wsum, then
** y = (float)acc · (sx_i·sw) + b with fmadd, as the scalar twin's fmaf. */
static inline __attribute__((always_inline)) void
kernel_vnni(const uint8_t *A, size_t lda, const int8_t *B, size_t bstride, uint32_t ngroups,
            const int mr, const int nv, const float *sx, const int32_t *zp,
            const q8_matrix *q, uint32_t n0, uint32_t c0, uint32_t c1, const float *bias, float *y,
            size_t ldy) {
  __m512i acc[MR][NV];
#pragma GCC unroll 8
  for (int j = 0; j < nv; j++) {
    __m512i ws = _mm512_load_si512((const void *)(q->wsum + n0 + 16 * j));
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) acc[i][j] = _mm512_mullo_epi32(_mm512_set1_epi32(-zp[i]), ws);
  }
  for (uint32_t g = 0; g < ngroups; g++) {
    __m512i b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < nv; j++) b[j] = _mm512_load_si512((const void *)(B + j * bstride + (size_t)g * 64));
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
      int32_t a4;
      memcpy(&a4, A + i * lda + (size_t)g * 4, 4);
      __m512i a = _mm512_set1_epi32(a4);
#pragma GCC unroll 8
      for (int j = 0; j < nv; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], a, b[j]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < nv; j++) {
    uint32_t n = n0 + 16 * (uint32_t)j;
    __mmask16 m = (__mmask16)quant_col_mask(n, c0, c1);
    __m512 sw = _mm512_load_ps(q->scale + n);
    __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + n) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
      __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[i]), sw);
      __m512 r = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][j]), s, bv);
      _mm512_mask_storeu_ps(y + i * ldy + n, m, r);
    }
  }
}

/* Tiles of mr (1..6) rows × 4 blocks, the hot path, in assembly: GCC 12
** spills the accumulators of the intrinsic version to the stack. Row i
** accumulates block j in zmm(4i+j); zmm24..27 hold the four weight blocks of
** a 4-byte input group, zmm28/29 the broadcast activations. Sums start at
** zero; the epilogue subtracts zp·wsum (exact integer arithmetic either
** way). All 24 accumulators are stored to C, rows >= mr as zeros. */
#define Q8_ROW(BC, R0, R1, R2, R3, ADDR)                                   \
  "vpbroadcastd " ADDR ", %%zmm" BC "\n\t"                                 \
  "vpdpbusd %%zmm24, %%zmm" BC ", %%zmm" R0 "\n\t"                         \
  "vpdpbusd %%zmm25, %%zmm" BC ", %%zmm" R1 "\n\t"                         \
  "vpdpbusd %%zmm26, %%zmm" BC ", %%zmm" R2 "\n\t"                         \
  "vpdpbusd %%zmm27, %%zmm" BC ", %%zmm" R3 "\n\t"
#define Q8_ROW0 Q8_ROW("28", "0", "1", "2", "3", "(%[A])")
#define Q8_ROW1 Q8_ROW("29", "4", "5", "6", "7", "(%[A],%[lda])")
#define Q8_ROW2 Q8_ROW("28", "8", "9", "10", "11", "(%[A],%[lda2])")
#define Q8_ROW3 Q8_ROW("29", "12", "13", "14", "15", "(%[A3])")
#define Q8_ROW4 Q8_ROW("28", "16", "17", "18", "19", "(%[A3],%[lda])")
#define Q8_ROW5 Q8_ROW("29", "20", "21", "22", "23", "(%[A3],%[lda2])")

#define Q8_TILE_ASM(ROWS)                                                                    \
  __asm__ volatile(                                                                          \
      "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"                                                    \
      "vmovdqa64 %%zmm0, %%zmm1\n\t vmovdqa64 %%zmm0, %%zmm2\n\t vmovdqa64 %%zmm0, %%zmm3\n\t"  \
      "vmovdqa64 %%zmm0, %%zmm4\n\t vmovdqa64 %%zmm0, %%zmm5\n\t vmovdqa64 %%zmm0, %%zmm6\n\t"  \
      "vmovdqa64 %%zmm0, %%zmm7\n\t vmovdqa64 %%zmm0, %%zmm8\n\t vmovdqa64 %%zmm0, %%zmm9\n\t"  \
      "vmovdqa64 %%zmm0, %%zmm10\n\t vmovdqa64 %%zmm0, %%zmm11\n\t vmovdqa64 %%zmm0, %%zmm12\n\t" \
      "vmovdqa64 %%zmm0, %%zmm13\n\t vmovdqa64 %%zmm0, %%zmm14\n\t vmovdqa64 %%zmm0, %%zmm15\n\t" \
      "vmovdqa64 %%zmm0, %%zmm16\n\t vmovdqa64 %%zmm0, %%zmm17\n\t vmovdqa64 %%zmm0, %%zmm18\n\t" \
      "vmovdqa64 %%zmm0, %%zmm19\n\t vmovdqa64 %%zmm0, %%zmm20\n\t vmovdqa64 %%zmm0, %%zmm21\n\t" \
      "vmovdqa64 %%zmm0, %%zmm22\n\t vmovdqa64 %%zmm0, %%zmm23\n\t"                          \
      "test %[n], %[n]\n\t"                                                                  \
      "jz 2f\n\t"                                                                            \
      ".p2align 5\n"                                                                         \
      "1:\n\t"                                                                               \
      "vmovdqa64 (%[B]), %%zmm24\n\t"                                                        \
      "vmovdqa64 (%[B],%[bs]), %%zmm25\n\t"                                                  \
      "vmovdqa64 (%[B],%[bs],2), %%zmm26\n\t"                                                \
      "vmovdqa64 (%[B],%[bs3]), %%zmm27\n\t" ROWS                                            \
      "add $4, %[A]\n\t"                                                                     \
      "add $4, %[A3]\n\t"                                                                    \
      "add $64, %[B]\n\t"                                                                    \
      "dec %[n]\n\t"                                                                         \
      "jnz 1b\n"                                                                             \
      "2:\n\t"                                                                               \
      "vmovdqa64 %%zmm0, 0(%[C])\n\t vmovdqa64 %%zmm1, 64(%[C])\n\t"                         \
      "vmovdqa64 %%zmm2, 128(%[C])\n\t vmovdqa64 %%zmm3, 192(%[C])\n\t"                      \
      "vmovdqa64 %%zmm4, 256(%[C])\n\t vmovdqa64 %%zmm5, 320(%[C])\n\t"                      \
      "vmovdqa64 %%zmm6, 384(%[C])\n\t vmovdqa64 %%zmm7, 448(%[C])\n\t"                      \
      "vmovdqa64 %%zmm8, 512(%[C])\n\t vmovdqa64 %%zmm9, 576(%[C])\n\t"                      \
      "vmovdqa64 %%zmm10, 640(%[C])\n\t vmovdqa64 %%zmm11, 704(%[C])\n\t"                    \
      "vmovdqa64 %%zmm12, 768(%[C])\n\t vmovdqa64 %%zmm13, 832(%[C])\n\t"                    \
      "vmovdqa64 %%zmm14, 896(%[C])\n\t vmovdqa64 %%zmm15, 960(%[C])\n\t"                    \
      "vmovdqa64 %%zmm16, 1024(%[C])\n\t vmovdqa64 %%zmm17, 1088(%[C])\n\t"                  \
      "vmovdqa64 %%zmm18, 1152(%[C])\n\t vmovdqa64 %%zmm19, 1216(%[C])\n\t"                  \
      "vmovdqa64 %%zmm20, 1280(%[C])\n\t vmovdqa64 %%zmm21, 1344(%[C])\n\t"                  \
      "vmovdqa64 %%zmm22, 1408(%[C])\n\t vmovdqa64 %%zmm23, 1472(%[C])\n\t"                  \
      : [A] "+r"(A), [A3] "+r"(A3), [B] "+r"(B), [n] "+r"(n)                                 \
      : [lda] "r"(lda), [lda2] "r"(lda2), [bs] "r"(bstride), [bs3] "r"(bs3), [C] "r"(C)      \
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",      \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18",     \
        "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",     \
        "xmm28", "xmm29", "cc", "memory")

static void tile_x4(const uint8_t *A, size_t lda, int mr, const int8_t *B, size_t bstride,
                    uint32_t ngroups, int32_t *C /* [24][16], 64-aligned */) {
  const uint8_t *A3 = mr > 3 ? A + 3 * lda : A; /* rows 3..5 (only formed when they exist) */
  size_t lda2 = 2 * lda, bs3 = 3 * bstride;
  size_t n = ngroups;
  switch (mr) {
    case 6: Q8_TILE_ASM(Q8_ROW0 Q8_ROW1 Q8_ROW2 Q8_ROW3 Q8_ROW4 Q8_ROW5); break;
    case 5: Q8_TILE_ASM(Q8_ROW0 Q8_ROW1 Q8_ROW2 Q8_ROW3 Q8_ROW4); break;
    case 4: Q8_TILE_ASM(Q8_ROW0 Q8_ROW1 Q8_ROW2 Q8_ROW3); break;
    case 3: Q8_TILE_ASM(Q8_ROW0 Q8_ROW1 Q8_ROW2); break;
    case 2: Q8_TILE_ASM(Q8_ROW0 Q8_ROW1); break;
    default: Q8_TILE_ASM(Q8_ROW0); break;
  }
}

static void epilogue_x4(const int32_t *C, int mr, const float *sx, const int32_t *zp,
                        const q8_matrix *q, uint32_t n0, uint32_t c0, uint32_t c1,
                        const float *bias, float *y, size_t ldy) {
  for (int j = 0; j < NV; j++) {
    uint32_t n = n0 + 16 * (uint32_t)j;
    __mmask16 m = (__mmask16)quant_col_mask(n, c0, c1);
    __m512 sw = _mm512_load_ps(q->scale + n);
    __m512i ws = _mm512_load_si512((const void *)(q->wsum + n));
    __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + n) : _mm512_setzero_ps();
    for (int i = 0; i < mr; i++) {
      __m512i acc = _mm512_load_si512((const void *)(C + (i * NV + j) * 16));
      acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(zp[i]), ws));
      __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[i]), sw);
      __m512 r = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, bv);
      if (m == 0xFFFF) /* masked stores are slow on some cores (Zen 4) */
        _mm512_storeu_ps(y + i * ldy + n, r);
      else
        _mm512_mask_storeu_ps(y + i * ldy + n, m, r);
    }
  }
}

#define KCALL(MRc, NVc)                                                                    \
  kernel_vnni(A, lda, B, bstride, ngroups, MRc, NVc, sx, zp, q, n0, c0, c1, bias, y, ldy)

static void kernel_dispatch(const uint8_t *A, size_t lda, const int8_t *B, size_t bstride,
                            uint32_t ngroups, int mr, int nv, const float *sx, const int32_t *zp,
                            const q8_matrix *q, uint32_t n0, uint32_t c0, uint32_t c1,
                            const float *bias, float *y, size_t ldy) {
  if (nv == NV) {
    _Alignas(64) int32_t C[MR * NV * 16];
    /* Fetch the output lines (for writing) now: they arrive during the
    ** k loop instead of stalling the epilogue's stores on misses. */
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < NV; j++) _mm_prefetch((const char *)(y + i * ldy + n0 + 16 * j), _MM_HINT_ET0);
    tile_x4(A, lda, mr, B, bstride, ngroups, C);
    epilogue_x4(C, mr, sx, zp, q, n0, c0, c1, bias, y, ldy);
    return;
  }
  switch (mr * 8 + nv) {
#define KCASE(a, b) case a * 8 + b: KCALL(a, b); break;
    KCASE(6, 3) KCASE(6, 2) KCASE(6, 1)
    KCASE(5, 3) KCASE(5, 2) KCASE(5, 1)
    KCASE(4, 3) KCASE(4, 2) KCASE(4, 1)
    KCASE(3, 3) KCASE(3, 2) KCASE(3, 1)
    KCASE(2, 3) KCASE(2, 2) KCASE(2, 1)
    KCASE(1, 3) KCASE(1, 2) KCASE(1, 1)
#undef KCASE
    default: break;
  }
}

void q8_tiles_avx512vnni(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                         const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                         uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  size_t bstride = (size_t)q->in_pad * 16;
  for (uint32_t bb = b0; bb < b1; bb += NV) {
    uint32_t nv = b1 - bb < NV ? b1 - bb : NV;
    for (uint32_t i = 0; i < nr; i += MR) {
      uint32_t mr = nr - i < MR ? nr - i : MR;
      kernel_dispatch(A + i * lda, lda, q->w + bb * bstride, bstride, q->in_pad / 4, (int)mr,
                      (int)nv, sx + i, zp + i, q, bb * 16, c0, c1, bias, y + (size_t)i * ldy, ldy);
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
