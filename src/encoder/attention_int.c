/*
** attention_int.c — the scalar twin of the integer attention
** (attention_int.h) and its scratch bound. The twin runs the SIMD build's
** algorithm step for step: the same blocks of keys, the same quantization
** (lrintf = vcvtps2dq's round-to-nearest-even), exact int32 sums, and the
** same float operations in the same order, fused with fmaf where the build
** uses an FMA — so a test can ask the two for identical bits.
*/
#include "encoder/attention_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/attention_int_impl.h"

size_t k_attention_int_scratch(size_t T, size_t d) {
  size_t kb = ATT_INT_KEY_BLOCK, np = (T < kb ? T : kb) + 31;
  np = np / 32 * 32;
  /* int16 Q [T][d] and its scales; key pair words [d/2][np] and scales;
  ** scores [T][np]; int16 P [T][np]; value pair words [np/2][d] and
  ** scales; running max and sum: in floats, plus 64-byte alignment */
  return T * d / 2 + T + d / 2 * np + np + T * np + T * np / 2 + np / 2 * d + d + 2 * T + 9 * 16;
}

/* Symmetric quantization of n values to ±qmax; returns the scale. */
static float quant_row(const float *x, size_t n, size_t stride, float qmax, int16_t *out,
                       size_t ostride) {
  float a = 0;
  for (size_t c = 0; c < n; c++) a = fmaxf(a, fabsf(x[c * stride]));
  float inv = a > 0 ? qmax / a : 0;
  for (size_t c = 0; c < n; c++) out[c * ostride] = (int16_t)lrintf(x[c * stride] * inv);
  return a / qmax;
}

void k_ref_attention_int(const float *q, const float *k, const float *v, size_t ld, size_t T,
                         size_t d, float scale, float *out, size_t ldo) {
  size_t kb = T < ATT_INT_KEY_BLOCK ? T : ATT_INT_KEY_BLOCK;
  int16_t *Q = malloc(T * d * sizeof *Q), *K = malloc(kb * d * sizeof *K),
          *V = malloc(kb * d * sizeof *V), *P = malloc(T * kb * sizeof *P);
  float *qs = malloc(T * sizeof *qs), *ks = malloc(kb * sizeof *ks), *vs = malloc(d * sizeof *vs),
        *S = malloc(T * kb * sizeof *S), *m = malloc(T * sizeof *m), *l = malloc(T * sizeof *l);
  if (!Q || !K || !V || !P || !qs || !ks || !vs || !S || !m || !l) goto done;
  for (size_t i = 0; i < T; i++) qs[i] = quant_row(q + i * ld, d, 1, ATT_INT_QK_MAX, Q + i * d, 1) * scale;
  for (size_t jb = 0; jb < T; jb += kb) {
    size_t n = T - jb < kb ? T - jb : kb;
    for (size_t j = 0; j < n; j++)
      ks[j] = quant_row(k + (jb + j) * ld, d, 1, ATT_INT_QK_MAX, K + j * d, 1);
    for (size_t c = 0; c < d; c++) vs[c] = quant_row(v + jb * ld + c, n, ld, ATT_INT_V_MAX, V + c, d);
    for (size_t i = 0; i < T; i++) {
      float mb = -INFINITY;
      for (size_t j = 0; j < n; j++) {
        int32_t acc = 0;
        for (size_t c = 0; c < d; c++) acc += (int32_t)Q[i * d + c] * K[j * d + c];
        S[i * kb + j] = (float)acc * ks[j] * qs[i];
        mb = fmaxf(mb, S[i * kb + j]);
      }
      float *o = out + i * ldo;
      if (jb == 0) {
        m[i] = mb;
        l[i] = 0;
      } else if (mb > m[i]) {
        float r = att_int_exp(m[i] - mb);
        l[i] *= r;
        for (size_t c = 0; c < d; c++) o[c] *= r;
        m[i] = mb;
      }
      int32_t sum = 0;
      for (size_t j = 0; j < n; j++) {
        P[i * kb + j] = (int16_t)lrintf(att_int_exp(S[i * kb + j] - m[i]) * ATT_INT_P_MAX);
        sum += P[i * kb + j];
      }
      l[i] += (float)sum;
      for (size_t c = 0; c < d; c++) {
        int32_t acc = 0;
        for (size_t j = 0; j < n; j++) acc += (int32_t)P[i * kb + j] * V[j * d + c];
        o[c] = jb == 0 ? (float)acc * vs[c] : fmaf((float)acc, vs[c], o[c]);
      }
    }
  }
  for (size_t i = 0; i < T; i++) {
    float inv = 1.0f / l[i];
    for (size_t c = 0; c < d; c++) out[i * ldo + c] *= inv;
  }
done:
  free(Q), free(K), free(V), free(P), free(qs), free(ks), free(vs), free(S), free(m), free(l);
}
