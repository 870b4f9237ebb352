/*
** dispatch.c — picks the encoder's kernel builds from the CPU features
** (see dispatch.h). Pure functions of the feature struct: no cached state.
*/
#include "encoder/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int enc_isa_supported(const cpu_features *f, int isa) {
  int avx512 = f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->fma;
  switch (isa) {
    case ENC_SCALAR: return 1;
    case ENC_AVX2: return f->avx2 && f->fma;
    case ENC_AVX_VNNI: return f->avx2 && f->fma && f->avxvnni;
    case ENC_AVX512: return avx512;
    case ENC_AVX512_VNNI: return avx512 && f->avx512vnni;
    case ENC_AVX512_BF16: return avx512 && f->avx512bf16;
    case ENC_AMX_INT8:
      return avx512 && f->avx512vnni && f->amx_tile && f->amx_int8 && f->os_amx && f->amx_perm;
    case ENC_AMX_BF16:
      return avx512 && f->avx512bf16 && f->amx_tile && f->amx_bf16 && f->os_amx && f->amx_perm;
    default: return 0;
  }
}

static int best(const cpu_features *f, int cap, const int *order, int n) {
  for (int i = 0; i < n; i++)
    if (order[i] <= cap && enc_isa_supported(f, order[i])) return order[i];
  return ENC_SCALAR;
}

void enc_kernels_select(const cpu_features *f, int cap, enc_kernels *k) {
  static const int f32[] = {ENC_AVX512, ENC_AVX2};
  static const int q8[] = {ENC_AMX_INT8, ENC_AVX512_VNNI, ENC_AVX_VNNI, ENC_AVX2};
  static const int bf16[] = {ENC_AMX_BF16, ENC_AVX512_BF16};
  static const int att[] = {ENC_AVX512_BF16, ENC_AVX512_VNNI, ENC_AVX_VNNI};
  k->f32 = best(f, cap, f32, 2);
  k->q8 = best(f, cap, q8, 4);
  k->bf16 = best(f, cap, bf16, 2);
  k->vec = k->f32;
  /* int8 precision's attention: bf16 products, else int16 ones on VNNI
  ** (attention_int.h), else the float32 build */
  k->att = best(f, cap, att, 3);
  if (k->att == ENC_SCALAR) k->att = k->vec;
}

enc_kernels enc_kernels_default(void) {
  cpu_features f;
  enc_kernels k;
  cpu_detect(&f);
  enc_kernels_select(&f, ENC_CAP_NONE, &k);
  return k;
}

const char *enc_isa_name(int isa) {
  switch (isa) {
    case ENC_SCALAR: return "scalar";
    case ENC_AVX2: return "avx2";
    case ENC_AVX_VNNI: return "avx-vnni";
    case ENC_AVX512: return "avx512";
    case ENC_AVX512_VNNI: return "avx512-vnni";
    case ENC_AVX512_BF16: return "avx512-bf16";
    case ENC_AMX_INT8: return "amx-int8";
    case ENC_AMX_BF16: return "amx-bf16";
    default: return "?";
  }
}

int enc_isa_from_name(const char *name) {
  for (int isa = ENC_SCALAR; isa <= ENC_CAP_NONE; isa++)
    if (!strcmp(enc_isa_name(isa), name)) return isa;
  return -1;
}

int enc_isa_cap_from_env(blend_error *err) {
  const char *v = getenv("BLEND_ISA_CAP");
  if (!v || !*v) return ENC_CAP_NONE;
  int cap = enc_isa_from_name(v);
  if (cap < 0)
    blend_seterr(err, BLEND_EINVAL,
                 "BLEND_ISA_CAP=%s names no kernel set (scalar, avx2, avx-vnni, avx512, "
                 "avx512-vnni, avx512-bf16, amx-int8, amx-bf16)", v);
  return cap;
}

char *enc_kernels_describe(const enc_kernels *k, char *buf, unsigned long n) {
  snprintf(buf, n,
           "f32 linear %s, int8 linear %s, bf16 linear %s, elementwise %s, "
           "attention %s (int8 precision %s)",
           enc_isa_name(k->f32), enc_isa_name(k->q8),
           k->bf16 == ENC_SCALAR ? "unavailable (no AVX-512 BF16)" : enc_isa_name(k->bf16),
           enc_isa_name(k->vec), enc_isa_name(k->vec), enc_isa_name(k->att));
  return buf;
}
