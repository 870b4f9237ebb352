/*
** amx_tilecfg.h — the 64-byte operand of ldtilecfg (palette 1) and the one
** configuration blend uses: eight tiles of 16 rows × 64 bytes. Shared by
** the tile loops (quant_amx_impl.h) and bench_gemm's AMX peak loops.
*/
#ifndef BLEND_AMX_TILECFG_H
#define BLEND_AMX_TILECFG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct amx_tilecfg {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16]; /* bytes per row of tile t */
  uint8_t rows[16];
} amx_tilecfg;
_Static_assert(sizeof(amx_tilecfg) == 64 && offsetof(amx_tilecfg, colsb) == 16 &&
                   offsetof(amx_tilecfg, rows) == 48,
               "ldtilecfg's 64-byte layout");

/* Every tile 16 rows × 64 bytes: int8 A is 16 rows × 64 inputs, B is 16
** groups of 4 inputs × 16 channels, C 16 × 16 int32; bf16 A 16 rows × 32
** inputs, B 16 pairs × 16 channels, C 16 × 16 float32. */
static inline void amx_config_full(amx_tilecfg *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->palette = 1;
  for (int t = 0; t < 8; t++) {
    cfg->colsb[t] = 64;
    cfg->rows[t] = 16;
  }
}

#endif
