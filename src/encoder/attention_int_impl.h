/*
** attention_int_impl.h — what the integer attention's scalar twin and its
** SIMD build share: the quantization ranges, the key block, and the exp
** both evaluate (the Cephes polynomial of kernels_math.h, written with
** explicit fused multiply-adds so the scalar twin gives the SIMD lanes'
** bits). Not a public header.
*/
#ifndef BLEND_ATTENTION_INT_IMPL_H
#define BLEND_ATTENTION_INT_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Q and K to ±2047: |Σ q·k| ≤ 2047²·256 < 2³¹ for head sizes up to 256.
** P to 0..32767 and V to ±127: Σ over 256 keys ≤ 32767·127·256 < 2³¹. */
#define ATT_INT_QK_MAX 2047.0f
#define ATT_INT_P_MAX 32767.0f
#define ATT_INT_V_MAX 127.0f
enum { ATT_INT_KEY_BLOCK = 256, ATT_INT_MAX_D = 256 };

static inline float att_int_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = fmaf(x, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
  float r = fmaf(-n, 0.693359375f, x);
  r = fmaf(-n, -2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = fmaf(p, r, 1.3981999507e-3f);
  p = fmaf(p, r, 8.3334519073e-3f);
  p = fmaf(p, r, 4.1665795894e-2f);
  p = fmaf(p, r, 1.6666665459e-1f);
  p = fmaf(p, r, 5.0000001201e-1f);
  p = fmaf(p, r * r, r) + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, 4);
  return p * s;
}

#endif
