/*
** quant_avxvnni.c — the int8 linear layer on AVX-VNNI: the VEX-encoded,
** 256-bit vpdpbusd (u8 × s8 → s32, four products per lane) of CPUs that
** have VNNI but not AVX-512 (Alder Lake and later Intel desktop and
** E-core parts; Zen 5 also has it). Activations quantized to u8 with a
** zero point (q8_quantize_rows_avx2u8, quant_avx2.c), as for the AVX-512
** VNNI build, so the weight layout is q8_matrix's own; the epilogue is
** quant_avx2.c's; exact integer sums, so outputs equal the scalar twin's
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
        q8_epilogue8_avx2(C + 16 * r, zp[i + r], sx[i + r], q, n, c0, c1, bias, yr);
        q8_epilogue8_avx2(C + 16 * r + 8, zp[i + r], sx[i + r], q, n + 8, c0, c1, bias, yr);
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
