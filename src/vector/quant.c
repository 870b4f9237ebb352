/*
** quant.c — int8 scalar quantisation of the stored rows and of the query.
**
** Rows: per-dimension min-max ranges (FAISS SQ8's scheme), code
** c = round((x - min[d]) / scale[d]) in [0, 255], scale = (max-min)/255.
** Per-dimension ranges suit embeddings, whose dimensions have very
** different spreads (one shared scale wastes most of the 256 levels on the
** narrow ones; usearch's fixed-scale i8 tops out near 0.93 recall).
**
** Query: the approximate inner product with a decoded row is
**   Σ q[d]·(min[d] + scale[d]·c[d]) = Σ (q[d]·scale[d])·c[d] + Σ q[d]·min[d].
** The first term is an integer dot product once q[d]·scale[d] is quantised
** to int8 with one per-query scale a: qq[d] = round(q[d]·scale[d] / a),
** a = max|q·scale| / 127, so the kernel is u8 × s8 → int32 (vpdpbusd) and
** exact; b = Σ q·min is a float constant. The approximation only ranks
** candidates: every returned score is rescored in float32.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vector/vec_internal.h"

void vec_i8_train(const float *rows, uint32_t n, uint32_t dim, size_t stride, float *scale,
                  float *vmin) {
  for (uint32_t d = 0; d < dim; d++) {
    float lo = n ? rows[d] : 0.0f, hi = lo;
    for (uint32_t i = 1; i < n; i++) {
      float x = rows[(size_t)i * stride + d];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    float sc = (float)(((double)hi - (double)lo) / 255.0);
    vmin[d] = lo;
    scale[d] = (isfinite(sc) && sc > 0) ? sc : 0.0f;
  }
}

void vec_i8_encode(const float *x, uint32_t dim, const float *scale, const float *vmin,
                   uint8_t *codes) {
  for (uint32_t d = 0; d < dim; d++) {
    long c = 0;
    if (scale[d] > 0) c = lrint(((double)x[d] - vmin[d]) / scale[d]);
    codes[d] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
  }
}

float vec_i8_norm2(const uint8_t *codes, uint32_t dim, const float *scale, const float *vmin) {
  double s = 0;
  for (uint32_t d = 0; d < dim; d++) {
    double x = (double)vmin[d] + (double)scale[d] * codes[d];
    s += x * x;
  }
  return (float)s;
}

int vec_i8_query_prep(const vec_field *f, vec_scratch *s, const vec_query *q, vec_i8_query *out) {
  uint32_t dim = f->dim;
  if (s->qq_cap < f->stride_i8) {
    int8_t *p = realloc(s->qq, f->stride_i8);
    if (!p) return -1;
    s->qq = p;
    s->qq_cap = f->stride_i8;
  }
  if (s->qf_cap < dim) {
    float *p = realloc(s->qf, (size_t)dim * sizeof *p);
    if (!p) return -1;
    s->qf = p;
    s->qf_cap = dim;
  }
  double amax = 0, b = 0, qn = 0;
  for (uint32_t d = 0; d < dim; d++) {
    double qd = (double)q->q[d] * q->qscale;
    double v = qd * f->scale[d];
    s->qf[d] = (float)v;
    if (fabs(v) > amax) amax = fabs(v);
    b += qd * f->vmin[d];
    qn += qd * qd;
  }
  memset(s->qq, 0, f->stride_i8);
  double a = amax / 127.0;
  if (a > 0)
    for (uint32_t d = 0; d < dim; d++) {
      long c = lrint(s->qf[d] / a);
      s->qq[d] = (int8_t)(c < -127 ? -127 : c > 127 ? 127 : c);
    }
  out->qq = s->qq;
  out->a = (float)a;
  out->b = (float)b;
  out->qnorm2 = (float)qn;
  return 0;
}
