/*
** quant_amx.c — the int8 and bf16 linear layers on AMX tiles (tdpbusd,
** tdpbf16ps: 16×16 outputs of 64 int8 or 32 bf16 products per row per
** instruction). The tile loops are quant_amx_impl.h's, shared with the
** tile model tests/test_amx.c runs on CPUs without AMX; this file maps
** them to the instructions and supplies AVX-512 epilogues (the int8 one
** does the scalar twin's arithmetic, so outputs are bit-exact). Compiled
** under a target pragma; quant.c and quant_bf16.c call it only when
** dispatch.c found AMX and Linux granted the tile state.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,amx-tile,amx-int8,amx-bf16")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,amx-tile,amx-int8,amx-bf16"))), apply_to = function)
#endif

#include <immintrin.h>

#include "encoder/quant_isa.h"

/* Our own asm for the memory operands: GCC 12's _tile_loadconfig names
** only 8 bytes of the config and _tile_loadd none, so stores just before
** them could be moved past them. Every statement clobbers "memory" so
** their order is the written one by the documented rule, not by GCC's
** habit of keeping volatile asm in order. Tile numbers are pasted into the
** text (GCC has no tmm register class, so nothing else touches them). */
#define AMX_STATE ((void)0)
#define AMX_LOADCFG(c) __asm__ volatile("ldtilecfg %0" ::"m"(*(const amx_tilecfg *)(c)) : "memory")
#define AMX_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::: "memory")
#define AMX_LOAD(t, p, s)                                                                    \
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(p)), "r"((long)(s)) \
                   : "memory")
#define AMX_STORE(t, p, s)                                                                   \
  __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"((void *)(p)), "r"((long)(s))   \
                   : "memory")
#define AMX_DPBUSD(c, a, b) \
  __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")
#define AMX_DPBF16PS(c, a, b) \
  __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::: "memory")
#define AMX_RELEASE() __asm__ volatile("tilerelease" ::: "memory")

static inline void q8_epilogue_amx(const int32_t *C, int rows, const float *sx, const int32_t *zp,
                                   const q8_matrix *q, uint32_t n, uint32_t c0, uint32_t c1,
                                   const float *bias, float *y, size_t ldy) {
  __mmask16 m = (__mmask16)quant_col_mask(n, c0, c1);
  if (!m) return;
  __m512 sw = _mm512_load_ps(q->scale + n);
  __m512i ws = _mm512_load_si512((const void *)(q->wsum + n));
  __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + n) : _mm512_setzero_ps();
  for (int r = 0; r < rows; r++) {
    __m512i acc = _mm512_load_si512((const void *)(C + 16 * r));
    acc = _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(zp[r]), ws));
    __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[r]), sw);
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, bv);
    if (m == 0xFFFF) _mm512_storeu_ps(y + r * ldy + n, v);
    else _mm512_mask_storeu_ps(y + r * ldy + n, m, v);
  }
}

static inline void bf16_epilogue_amx(const float *C, int rows, uint32_t n, uint32_t c0, uint32_t c1,
                                     const float *bias, float *y, size_t ldy) {
  __mmask16 m = (__mmask16)quant_col_mask(n, c0, c1);
  if (!m) return;
  __m512 bv = bias ? _mm512_maskz_loadu_ps(m, bias + n) : _mm512_setzero_ps();
  for (int r = 0; r < rows; r++) {
    __m512 v = _mm512_add_ps(_mm512_load_ps(C + 16 * r), bv);
    if (m == 0xFFFF) _mm512_storeu_ps(y + r * ldy + n, v);
    else _mm512_mask_storeu_ps(y + r * ldy + n, m, v);
  }
}

#define AMX_Q8_EPILOGUE q8_epilogue_amx
#define AMX_BF16_EPILOGUE bf16_epilogue_amx
#define AMX_BF16_ROUND_ROW bf16_round_row_avx512
#define AMX_Q8_TILES tiles_amx
#define AMX_BF16_BLOCK block_amx
#include "encoder/quant_amx_impl.h"

void q8_tiles_amx(const uint8_t *A, size_t lda, uint32_t nr, const float *sx, const int32_t *zp,
                  const q8_matrix *q, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1,
                  const float *bias, float *y, size_t ldy) {
  tiles_amx(A, lda, nr, sx, zp, q, b0, b1, c0, c1, bias, y, ldy);
}

void bf16_block_amx(const float *x, const bf16_packed *p, const float *bias, float *y, size_t ldy,
                    uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1, uint16_t *A) {
  block_amx(x, p, bias, y, ldy, r0, r1, c0, c1, A);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
