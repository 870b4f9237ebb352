/*
** quant_amx_impl.h — the AMX tile loops of the int8 and bf16 linear layers,
** written once against a handful of tile macros so two builds share them:
** quant_amx.c maps the macros to the AMX instructions (ldtilecfg,
** tileloadd, tdpbusd, tdpbf16ps, tilestored), and tests/test_amx.c maps
** them to a C model of the tile registers that checks every shape rule the
** hardware would fault on. So the loops, the tile shapes and the weight
** addressing are tested on any CPU, and on an AMX CPU the same loops run on
** the tiles and are compared with the same scalar twins.
**
** The includer defines, before including:
**   AMX_STATE                 declarations the other macros use (or nothing)
**   AMX_LOADCFG(cfg)          load an amx_tilecfg
**   AMX_ZERO(t) AMX_LOAD(t, ptr, stride) AMX_STORE(t, ptr, stride)
**   AMX_DPBUSD(c, a, b)       c += a(u8) · b(s8), int32
**   AMX_DPBF16PS(c, a, b)     c += a(bf16) · b(bf16), float32
**   AMX_RELEASE()
**   AMX_Q8_EPILOGUE(C, rows, sx, zp, q, n, c0, c1, bias, y, ldy)
**       16 channels from n of rows 0..rows-1 of a 16×16 int32 tile C:
**       y = fmaf((float)(C − zp·wsum), sx·sw, b), stores within [c0, c1)
**   AMX_BF16_EPILOGUE(C, rows, n, c0, c1, bias, y, ldy)   y = C + b
**   AMX_BF16_ROUND_ROW(x, n, out)   n floats to bf16 (bf16_from_f32's bits)
**   AMX_Q8_TILES, AMX_BF16_BLOCK    the names of the two functions
** Tile numbers are literals (the instructions encode them): tmm0..3 the
** accumulators of (A0,B0) (A0,B1) (A1,B0) (A1,B1), tmm4/5 two 16-row
** activation tiles, tmm6/7 two 16-channel weight tiles.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "encoder/amx_tilecfg.h"
#include "encoder/quant_isa.h"

#define AMX_ZERO_ACCUMULATORS()                                                              \
  do {                                                                                       \
    AMX_ZERO(0);                                                                             \
    AMX_ZERO(1);                                                                             \
    AMX_ZERO(2);                                                                             \
    AMX_ZERO(3);                                                                             \
  } while (0)

/* int8: the q8_tiles_fn contract (quant_isa.h) with two more conditions
** the caller meets: q->in_pad is a multiple of 64 (q8_quantize pads so),
** and A has round_up(nr, 16) readable rows of lda bytes (rows past nr are
** computed and thrown away). Row pairs of 16-row tiles × pairs of
** 16-channel blocks; the weight block's 64-byte groups are B's rows as
** packed (stride 64), so no repacking. */
static void AMX_Q8_TILES(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                         const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                         uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  AMX_STATE;
  _Alignas(64) amx_tilecfg cfg;
  _Alignas(64) int32_t C[4][256];
  amx_config_full(&cfg);
  AMX_LOADCFG(&cfg);
  size_t bstride = (size_t)q->in_pad * 16;
  uint32_t nk = q->in_pad / 64;
  for (uint32_t bb = b0; bb < b1; bb += 2) {
    int two_b = bb + 1 < b1;
    const int8_t *B0 = q->w + bb * bstride, *B1 = two_b ? B0 + bstride : B0;
    for (uint32_t i = 0; i < nr; i += 32) {
      int two_a = i + 16 < nr;
      const uint8_t *A0 = A + i * lda, *A1 = two_a ? A0 + 16 * lda : A0;
      AMX_ZERO_ACCUMULATORS();
      for (uint32_t kk = 0; kk < nk; kk++) {
        AMX_LOAD(4, A0 + 64 * (size_t)kk, lda);
        AMX_LOAD(6, B0 + 1024 * (size_t)kk, 64);
        AMX_DPBUSD(0, 4, 6);
        if (two_b) {
          AMX_LOAD(7, B1 + 1024 * (size_t)kk, 64);
          AMX_DPBUSD(1, 4, 7);
        }
        if (two_a) {
          AMX_LOAD(5, A1 + 64 * (size_t)kk, lda);
          AMX_DPBUSD(2, 5, 6);
          if (two_b) AMX_DPBUSD(3, 5, 7);
        }
      }
      AMX_STORE(0, C[0], 64);
      if (two_b) AMX_STORE(1, C[1], 64);
      if (two_a) AMX_STORE(2, C[2], 64);
      if (two_a && two_b) AMX_STORE(3, C[3], 64);
      int rows0 = (int)(nr - i < 16 ? nr - i : 16), rows1 = two_a ? (int)(nr - i - 16 < 16 ? nr - i - 16 : 16) : 0;
      float *y0 = y + (size_t)i * ldy, *y1 = two_a ? y0 + 16 * ldy : y0;
      AMX_Q8_EPILOGUE(C[0], rows0, sx + i, zp + i, q, bb * 16, c0, c1, bias, y0, ldy);
      if (two_b) AMX_Q8_EPILOGUE(C[1], rows0, sx + i, zp + i, q, bb * 16 + 16, c0, c1, bias, y0, ldy);
      if (two_a) {
        AMX_Q8_EPILOGUE(C[2], rows1, sx + i + 16, zp + i + 16, q, bb * 16, c0, c1, bias, y1, ldy);
        if (two_b)
          AMX_Q8_EPILOGUE(C[3], rows1, sx + i + 16, zp + i + 16, q, bb * 16 + 16, c0, c1, bias, y1,
                          ldy);
      }
    }
  }
  AMX_RELEASE();
}

/* bf16: the bf16_block_avx512 contract (quant_isa.h) for p->in_pad a
** multiple of 32 (bf16_pack pads so), with A scratch for AMX_BF16_MC rows ×
** in_pad values (quant_isa.h). A 32-channel panel's pair rows are 128
** bytes: its first and second 16 channels are two B tiles at stride 128. */
static void AMX_BF16_BLOCK(const float *x, const bf16_packed *p, const float *bias, float *y,
                           size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1,
                           uint16_t *A) {
  AMX_STATE;
  _Alignas(64) amx_tilecfg cfg;
  _Alignas(64) float C[4][256];
  uint32_t in = p->in, in_pad = p->in_pad, p0 = c0 / 32, p1 = (c1 + 31) / 32, nk = in_pad / 32;
  size_t lda = (size_t)in_pad * 2;
  amx_config_full(&cfg);
  AMX_LOADCFG(&cfg);
  for (uint32_t rc = r0; rc < r1; rc += AMX_BF16_MC) {
    uint32_t nrc = r1 - rc < AMX_BF16_MC ? r1 - rc : AMX_BF16_MC;
    for (uint32_t r = 0; r < nrc; r++) {
      uint16_t *ar = A + (size_t)r * in_pad;
      AMX_BF16_ROUND_ROW(x + (size_t)(rc + r) * in, in, ar);
      for (uint32_t k = in; k < in_pad; k++) ar[k] = 0; /* 0 · weight padding, never 0 · NaN */
    }
    /* rows nrc.. of the last 16-row tile are read and thrown away */
    for (uint32_t r = nrc; r < (nrc + 15) / 16 * 16; r++) memset(A + (size_t)r * in_pad, 0, lda);
    for (uint32_t pn = p0; pn < p1; pn++) {
      const uint16_t *B0 = p->w + (size_t)pn * (in_pad / 2) * 64, *B1 = B0 + 32;
      for (uint32_t i = 0; i < nrc; i += 32) {
        int two_a = i + 16 < nrc;
        const uint16_t *A0 = A + (size_t)i * in_pad, *A1 = two_a ? A0 + (size_t)16 * in_pad : A0;
        AMX_ZERO_ACCUMULATORS();
        for (uint32_t kk = 0; kk < nk; kk++) {
          AMX_LOAD(4, A0 + 32 * (size_t)kk, lda);
          AMX_LOAD(6, B0 + 1024 * (size_t)kk, 128);
          AMX_LOAD(7, B1 + 1024 * (size_t)kk, 128);
          AMX_DPBF16PS(0, 4, 6);
          AMX_DPBF16PS(1, 4, 7);
          if (two_a) {
            AMX_LOAD(5, A1 + 32 * (size_t)kk, lda);
            AMX_DPBF16PS(2, 5, 6);
            AMX_DPBF16PS(3, 5, 7);
          }
        }
        AMX_STORE(0, C[0], 64);
        AMX_STORE(1, C[1], 64);
        if (two_a) {
          AMX_STORE(2, C[2], 64);
          AMX_STORE(3, C[3], 64);
        }
        int rows0 = (int)(nrc - i < 16 ? nrc - i : 16);
        int rows1 = two_a ? (int)(nrc - i - 16 < 16 ? nrc - i - 16 : 16) : 0;
        float *y0 = y + (size_t)(rc + i) * ldy, *y1 = two_a ? y0 + 16 * ldy : y0;
        AMX_BF16_EPILOGUE(C[0], rows0, pn * 32, c0, c1, bias, y0, ldy);
        AMX_BF16_EPILOGUE(C[1], rows0, pn * 32 + 16, c0, c1, bias, y0, ldy);
        if (two_a) {
          AMX_BF16_EPILOGUE(C[2], rows1, pn * 32, c0, c1, bias, y1, ldy);
          AMX_BF16_EPILOGUE(C[3], rows1, pn * 32 + 16, c0, c1, bias, y1, ldy);
        }
      }
    }
  }
  AMX_RELEASE();
}
