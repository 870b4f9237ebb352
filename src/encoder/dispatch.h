/*
** dispatch.h — which SIMD build of each encoder kernel runs, chosen once at
** model load from the CPU's features (util/cpu.h), never per call:
**
**   unit          paths (best first)                         twin the tests use
**   f32 linear    ENC_AVX512, ENC_AVX2 (+FMA), ENC_SCALAR     f32_linear_ref
**   int8 linear   ENC_AMX_INT8, ENC_AVX512_VNNI,              q8_linear_ref (bit-exact)
**                 ENC_AVX_VNNI, ENC_AVX2, ENC_SCALAR
**   bf16 linear   ENC_AMX_BF16, ENC_AVX512_BF16 (vdpbf16ps),  bf16_linear_ref
**                 ENC_SCALAR*
**   attention     int8 precision: ENC_AVX512_BF16 (bf16), ENC_AVX512_VNNI or
**                 ENC_AVX_VNNI (int16);
**                 else, and f32/bf16 precisions: ENC_AVX512, ENC_AVX2, ENC_SCALAR
**   elementwise   ENC_AVX512, ENC_AVX2, ENC_SCALAR (GELU, LayerNorm)
**
** *the scalar bf16 path is the emulating twin, used by tests only: asking
** for BF16 precision on a CPU without AVX-512 BF16 fails (BLEND_EUNSUPPORTED).
** The AMX paths (quant_amx.c) need the tile permission Linux grants at
** cpu_detect (cpu_features.amx_perm); on a CPU that lists AMX but is refused
** it, the AVX-512 paths run.
*/
#ifndef BLEND_ENC_DISPATCH_H
#define BLEND_ENC_DISPATCH_H

#include "blend.h"
#include "util/cpu.h"

enum enc_isa {
  ENC_SCALAR = 0,      /* portable C, compiled for the library's baseline -march */
  ENC_AVX2 = 1,        /* AVX2 + FMA */
  ENC_AVX_VNNI = 2,    /* AVX2 + VEX vpdpbusd on ymm (int8 linear only) */
  ENC_AVX512 = 3,      /* AVX-512 F/BW/VL/DQ */
  ENC_AVX512_VNNI = 4, /* + VNNI (vpdpbusd) */
  ENC_AVX512_BF16 = 5, /* + BF16 (vdpbf16ps, vcvtne2ps2bf16) */
  ENC_AMX_INT8 = 6,    /* AVX-512 VNNI + AMX-INT8 tiles (tdpbusd; int8 linear only) */
  ENC_AMX_BF16 = 7,    /* AVX-512 BF16 + AMX-BF16 tiles (tdpbf16ps; bf16 linear only) */
  ENC_CAP_NONE = ENC_AMX_BF16 /* as a cap: every path this CPU has */
};

/* The kernels one loaded model uses. */
typedef struct enc_kernels {
  int f32;   /* f32 linear layers */
  int q8;    /* int8 linear layers */
  int bf16;  /* bf16 linear layers; ENC_SCALAR = this CPU has no BF16 unit */
  int vec;   /* elementwise + f32 attention */
  int att;   /* attention of the int8 precision: ENC_AVX512_BF16, ENC_AVX512_VNNI
                or ENC_AVX_VNNI (int16), or = vec (f32) */
} enc_kernels;

/* 1 when this CPU (and OS) can run kernels built for isa. */
int enc_isa_supported(const cpu_features *f, int isa);

/* The best path of every unit for this CPU, none above cap (ENC_CAP_NONE:
** no cap; tests and --cap pass lower caps to force a path). */
void enc_kernels_select(const cpu_features *f, int cap, enc_kernels *k);

/* enc_kernels_select for this CPU with no cap (runs cpuid: call at load,
** not per batch). Matrices packed by q8_quantize / f32_pack / bf16_pack
** start with these paths. */
enc_kernels enc_kernels_default(void);

/* "scalar", "avx2", "avx-vnni", "avx512", "avx512-vnni", "avx512-bf16",
** "amx-int8", "amx-bf16". */
const char *enc_isa_name(int isa);

/* The isa named name (enc_isa_name's names), or -1. */
int enc_isa_from_name(const char *name);

/* The cap the environment sets: BLEND_ISA_CAP=<isa name> (e.g. avx512-bf16
** keeps a model off AMX), ENC_CAP_NONE when unset or empty; -1 when it
** names no isa, with err (may be NULL) set to BLEND_EINVAL and a message
** listing the names. Read at model load, by blend doctor and --version. */
int enc_isa_cap_from_env(blend_error *err);

/* One line naming the kernels of k, e.g. "f32 linear avx512, int8 linear
** avx512-vnni, ...", into buf (size n). Returns buf. */
char *enc_kernels_describe(const enc_kernels *k, char *buf, unsigned long n);

#endif
