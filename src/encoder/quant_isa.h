/*
** quant_isa.h — the per-ISA builds of the linear-layer kernels, shared
** between the dispatching files (quant.c, quant_f32.c, quant_bf16.c) and
** the files compiled under a target pragma (quant_*_avx2.c, *_avx512.c).
** Not a public header: callers use quant.h, which picks one of these from
** the matrix's isa field.
*/
#ifndef BLEND_QUANT_ISA_H
#define BLEND_QUANT_ISA_H

#include <stddef.h>
#include <stdint.h>

#include "encoder/quant.h"

/* f32 register tile geometry shared by the builds (panel width FNR is the
** packed layout's, so it is the same for all). */
enum { F32_FNR = 32, F32_FKC = 384, F32_FMC = 72 };

/* Rows [r0, r1) × output channels [c0, c1) (c1 <= out) of y = x·Wᵀ + b. */
void f32_block_avx512(const float *x, const f32_packed *p, const float *bias, float *y,
                      size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1);
void f32_block_avx2(const float *x, const f32_packed *p, const float *bias, float *y,
                    size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1);

/* int8: rows already quantized into A (nr rows, stride lda = in_pad, per-row
** scale sx and zero point zp); 16-channel blocks [b0, b1), stores limited
** to columns [c0, c1). */
typedef void (*q8_tiles_fn)(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                            const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                            uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy);
void q8_tiles_avx512vnni(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                         const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                         uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy);
/* The AVX2 build takes the activations widened to u16 (vpmaddwd's operand
** width), stride lda u16 values. */
void q8_tiles_avx2(const uint16_t *A, size_t lda, uint32_t nr, const float *sx,
                   const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                   uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy);
/* quant_avx2.c's epilogue for 8 channels from n of one row (acc: 8 int32
** sums without the zero-point term), shared with the AVX-VNNI build. */
void q8_epilogue8_avx2(const int32_t *acc, int32_t zp, float sx, const q8_matrix *q, uint32_t n,
                       uint32_t c0, uint32_t c1, const float *bias, float *y);
void q8_tiles_avxvnni(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                      const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                      uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy);
/* AMX-INT8 (quant_amx.c): the same contract, for q->in_pad a multiple of
** 64 (q8_quantize pads so) and A with round_up(nr, 16) readable rows. */
void q8_tiles_amx(const uint8_t *A, size_t lda, uint32_t nr, const float *sx, const int32_t *zp,
                  const q8_matrix *q, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1,
                  const float *bias, float *y, size_t ldy);
/* Per-row activation quantization (same integers as q8_quantize_row_ref;
** the AVX2 build stores each as u16). */
void q8_quantize_rows_avx512(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                             uint32_t nr, uint8_t *A, float *sx, int32_t *zp);
void q8_quantize_rows_avx2(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                           uint32_t nr, uint16_t *A, float *sx, int32_t *zp);
/* The same on AVX2 into u8 (the AVX-VNNI build's operand; quant_avx2.c). */
void q8_quantize_rows_avx2u8(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                             uint32_t nr, uint8_t *A, float *sx, int32_t *zp);
/* params_from_range of quant.c (the shared scalar step of every build). */
void q8_params_from_range(float mn, float mx, float *scale, float *inv, int32_t *zp);

/* bf16: rows [r0, r1) × channels [c0, c1) of y = bf16(x)·Wᵀ + b; A is
** scratch for BF16_MC rows × in_pad bf16 values. */
enum { BF16_MC = 72, BF16_KC = 768, AMX_BF16_MC = 64 /* bf16_block_amx's rows */ };
void bf16_block_avx512(const float *x, const bf16_packed *p, const float *bias, float *y,
                       size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1,
                       uint16_t *A);
/* AMX-BF16 (quant_amx.c): the same for p->in_pad a multiple of 32
** (bf16_pack pads so), A scratch for AMX_BF16_MC rows × in_pad values. */
void bf16_block_amx(const float *x, const bf16_packed *p, const float *bias, float *y, size_t ldy,
                    uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1, uint16_t *A);
/* Round n floats to bf16 (n even or not; the same bits as bf16_from_f32). */
void bf16_round_row_avx512(const float *x, uint32_t n, uint16_t *out);

/* Store mask for the 16 channels starting at n, limited to [c0, c1). */
static inline uint32_t quant_col_mask(uint32_t n, uint32_t c0, uint32_t c1) {
  uint32_t lo = c0 > n ? c0 - n : 0, hi = c1 >= n + 16 ? 16 : c1 > n ? c1 - n : 0;
  if (lo >= hi) return 0;
  return (hi >= 16 ? 0xFFFFu : (1u << hi) - 1) & ~((1u << lo) - 1);
}

#endif
