/*
** kernels_math.h — branch-free float exp and erf (static inline, so each
** SIMD build of the kernels vectorises its own copy): exp to ~2e-7
** relative, erf to ~3e-7 absolute. Not a public header.
*/
#ifndef BLEND_KERNELS_MATH_H
#define BLEND_KERNELS_MATH_H

#include <stdint.h>
#include <string.h>

/* Cephes-style expf: 2^n · p(r), r = x − n·ln2 in [−ln2/2, ln2/2]. */
static inline float exp1(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float t = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5·2^23 */
  float n = t - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, 4);
  return p * s;
}

/* erf as a rational function x·P(x²)/Q(x²) on [−4, 4] (beyond, |erf| = 1 in
** float); the coefficients are those of Eigen/TensorFlow's float erf. */
static inline float erf1(float x) {
  x = x < -4.0f ? -4.0f : x;
  x = x > 4.0f ? 4.0f : x;
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

#endif
