/*
** test_q8_case.h — the int8 linear tests' shared pieces: one random case
** (weights, activations with the hostile rows, bias, quantized matrix and
** the scalar twin's output) and the check of an output written only in a
** column range. Used by test_kernels.c (each SIMD build) and test_amx.c
** (the AMX tile loops on the tile model), so both see the same inputs.
** Needs test.h and test_rand.h first.
*/
#ifndef BLEND_TEST_Q8_CASE_H
#define BLEND_TEST_Q8_CASE_H

#include "encoder/quant.h"

typedef struct q8_case {
  uint32_t rows, in, out;
  float *W, *x, *b, *yr; /* yr: q8_linear_ref's output, rows × out */
  q8_matrix q;
} q8_case;

/* x is offset by x_offset (skewed rows move the zero point) and has
** hostile_rows; returns 0, or -1 when quantizing or the twin fails. */
static inline int q8_case_new(q8_case *c, uint32_t rows, uint32_t in, uint32_t out, float x_offset) {
  c->rows = rows, c->in = in, c->out = out;
  c->W = rand_buf((size_t)out * in, 0.05f, 0.0f);
  c->x = rand_buf((size_t)rows * in, 1.0f, x_offset);
  c->b = rand_buf(out, 0.1f, 0.0f);
  c->yr = malloc((size_t)rows * out * 4);
  hostile_rows(c->x, rows, in, 1);
  if (q8_quantize(c->W, out, in, &c->q, NULL) != 0) return -1;
  return q8_linear_ref(c->x, rows, &c->q, c->b, c->yr) == 0 ? 0 : -1;
}

static inline void q8_case_free(q8_case *c) {
  q8_free(&c->q);
  free(c->W), free(c->x), free(c->b), free(c->yr);
}

/* Values of y (rows × out, filled with 0xFF bytes before the call) that
** are wrong: inside [c0, c1) not the twin's bits, outside not untouched.
** *first gets the first wrong index. */
static inline size_t q8_case_wrong(const q8_case *c, const float *y, uint32_t c0, uint32_t c1,
                                   size_t *first) {
  size_t bad = 0;
  *first = 0;
  for (uint32_t r = 0; r < c->rows; r++)
    for (uint32_t n = 0; n < c->out; n++) {
      size_t i = (size_t)r * c->out + n;
      uint32_t got;
      memcpy(&got, &y[i], 4);
      int wrong = n >= c0 && n < c1 ? memcmp(&c->yr[i], &y[i], 4) != 0 : got != 0xFFFFFFFFu;
      if (wrong && bad++ == 0) *first = i;
    }
  return bad;
}

#endif
