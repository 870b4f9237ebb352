/*
** test_attention_int.c — the integer attention (attention_int.h): its
** AVX-512 VNNI and AVX-VNNI builds against the scalar twin bit for bit (one key block and
** several, head sizes 16 to 256, zero rows and channels, peaky and flat
** softmax rows), both against the float64 reference within the error the
** quantization allows, and the head sizes that fall back to float32. A
** build is a visible SKIP on a CPU without its unit.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/attention_int.h"
#include "encoder/dispatch.h"
#include "encoder/kernels.h"
#include "test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)(uint32_t)(rng_state >> 32) / 4294967296.0f * 2.0f - 1.0f;
}

#define NEED_VNNI()                                                                  \
  do {                                                                               \
    cpu_features f_;                                                                 \
    cpu_detect(&f_);                                                                 \
    if (!enc_isa_supported(&f_, ENC_AVX512_VNNI))                                    \
      SKIP("this CPU cannot run the avx512-vnni integer attention (no AVX-512 VNNI)"); \
  } while (0)

/* q, k, v interleaved as the forward pass lays them out (row stride 3d). */
static float *make_qkv(size_t T, size_t d, float amp) {
  float *p = malloc(T * 3 * d * sizeof *p);
  for (size_t i = 0; i < T * 3 * d; i++) p[i] = (frand() + frand()) * amp;
  return p;
}

static int same_bits(const float *a, const float *b, size_t n, size_t *at) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(a + i, b + i, 4)) {
      *at = i;
      return 0;
    }
  return 1;
}

typedef void (*att_fn)(const float *, const float *, const float *, size_t, size_t, size_t, float,
                       float *, size_t, float *);

static void build_vs_twin(att_fn build, const char *name) {
  size_t Ts[] = {1, 2, 7, 33, 128, 256, 257, 300, 515}, ds[] = {16, 32, 48, 64, 128, 256};
  for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++)
    for (size_t di = 0; di < sizeof ds / sizeof *ds; di++) {
      size_t T = Ts[ti], d = ds[di], ld = 3 * d;
      if (T > 300 && d > 64) continue; /* the twin is O(T²d) scalar: keep the suite quick */
      float amp = ti % 2 ? 3.0f : 0.5f; /* peaky and flat softmax rows */
      float *qkv = make_qkv(T, d, amp);
      if (T > 3) { /* a zero query row, a zero key row, a zero value channel */
        memset(qkv + 1 * ld, 0, d * 4);
        memset(qkv + 2 * ld + d, 0, d * 4);
        for (size_t j = 0; j < T; j++) qkv[j * ld + 2 * d + d / 2] = 0;
      }
      float *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4);
      float *scr = malloc(k_attention_int_scratch(T, d) * 4);
      float scale = 1.0f / sqrtf((float)d);
      build(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o1, d, scr);
      k_ref_attention_int(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o2, d);
      size_t at = 0;
      int same = same_bits(o1, o2, T * d, &at);
      CHECKF(same, "%s integer attention T %zu d %zu: build %.9g vs twin %.9g at [%zu][%zu]", name,
             T, d, o1[at], o2[at], at / d, at % d);
      free(qkv), free(o1), free(o2), free(scr);
    }
}

TEST(attention_int_avx512vnni_matches_twin_bit_for_bit) {
  NEED_VNNI();
  build_vs_twin(k_attention_int_avx512vnni, "avx512-vnni");
}

TEST(attention_int_avxvnni_matches_twin_bit_for_bit) {
  cpu_features f;
  cpu_detect(&f);
  if (!enc_isa_supported(&f, ENC_AVX_VNNI))
    SKIP("this CPU cannot run the avx-vnni integer attention (no AVX-VNNI)");
  build_vs_twin(k_attention_int_avxvnni, "avx-vnni");
}

/* The twin (and so the build) against float64 attention: the error the
** 12/15/8-bit quantization allows, relative to the output's size. */
TEST(attention_int_close_to_float) {
  size_t Ts[] = {1, 9, 128, 300}, ds[] = {32, 64};
  for (size_t ti = 0; ti < 4; ti++)
    for (size_t di = 0; di < 2; di++) {
      size_t T = Ts[ti], d = ds[di], ld = 3 * d;
      float *qkv = make_qkv(T, d, 1.0f);
      float *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4);
      uint8_t *mask = malloc(T);
      memset(mask, 1, T);
      float scale = 2.0f / sqrtf((float)d);
      k_ref_attention_int(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o1, d);
      k_ref_attention(qkv, qkv + d, qkv + 2 * d, ld, T, d, mask, scale, o2, d);
      double err = 0, mag = 0;
      for (size_t i = 0; i < T * d; i++) {
        err = fmax(err, fabs(o1[i] - o2[i]));
        mag = fmax(mag, fabs(o2[i]));
      }
      CHECKF(err <= 0.02 * mag, "T %zu d %zu: max error %.3g for outputs up to %.3g", T, d, err, mag);
      CHECKF(err > 0, "T %zu d %zu: exactly the float result: is it quantising?", T, d);
      free(qkv), free(o1), free(o2), free(mask);
    }
}

/* Head sizes the integer kernel does not take run the float32 AVX-512
** kernel, with its results. */
TEST(attention_int_falls_back_for_odd_heads) {
  NEED_VNNI();
  size_t ds[] = {24, 40, 272};
  for (size_t di = 0; di < 3; di++) {
    size_t T = 50, d = ds[di], ld = 3 * d;
    float *qkv = make_qkv(T, d, 1.0f);
    float *o1 = malloc(T * d * 4), *o2 = malloc(T * d * 4);
    size_t ns = k_attention_int_scratch(T, d), nf = k_attention_scratch(T, d);
    float *scr = malloc((ns > nf ? ns : nf) * 4);
    float scale = 1.0f / sqrtf((float)d);
    k_attention_int_avx512vnni(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o1, d, scr);
    k_attention_avx512(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o2, d, scr);
    size_t at = 0;
    CHECKF(same_bits(o1, o2, T * d, &at), "d %zu: not the float32 kernel's result", d);
    cpu_features f;
    cpu_detect(&f);
    if (enc_isa_supported(&f, ENC_AVX_VNNI)) {
      k_attention_int_avxvnni(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o1, d, scr);
      k_attention_avx2(qkv, qkv + d, qkv + 2 * d, ld, T, d, scale, o2, d, scr);
      CHECKF(same_bits(o1, o2, T * d, &at), "avx-vnni d %zu: not the AVX2 float32 kernel's", d);
    }
    free(qkv), free(o1), free(o2), free(scr);
  }
}
