/*
** store.c — the writer side of a vector field: vec_build() validates the
** parameters, writes the STORE payload (float32 rows, normalised for
** cosine, and for int8 the ranges, codes and decoded norms; layout in
** vec_internal.h) and hands the stored rows to the HNSW builder, so the
** graph is built over exactly the vectors that are searched.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vector/vec_internal.h"

static const char *const metric_names[] = {"cosine", "dot", "l2"};
static const char *const dtype_names[] = {"f32", "int8"};

int vec_metric_parse(const char *s) {
  for (int i = 0; i < 3; i++)
    if (s && !strcmp(s, metric_names[i])) return i;
  return -1;
}
const char *vec_metric_name(int m) { return m >= 0 && m < 3 ? metric_names[m] : "unknown"; }
int vec_dtype_parse(const char *s) {
  if (s && (!strcmp(s, "f32") || !strcmp(s, "float32"))) return VEC_F32;
  if (s && (!strcmp(s, "int8") || !strcmp(s, "i8"))) return VEC_I8;
  return -1;
}
const char *vec_dtype_name(int d) { return d >= 0 && d < 2 ? dtype_names[d] : "unknown"; }

void vec_build_params_default(vec_build_params *p) {
  memset(p, 0, sizeof *p);
  p->metric = VEC_COSINE;
  p->dtype = VEC_F32;
  p->M = 16;
  p->ef_construction = 200;
  p->seed = 42;
  p->threads = 0;
  p->hnsw = 1;
  p->kernels = NULL;
  p->unit_rows = 0;
}

float vec_inv_norm(const float *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
}

static size_t up64(size_t x) { return (x + 63) & ~(size_t)63; }

int vec_build(const float *rows, uint32_t n, uint32_t dim, const vec_build_params *p,
              bbuf *store_out, bbuf *graph_out, blend_error *err) {
  if (!p || !store_out || !graph_out || (n && !rows))
    return blend_seterr(err, BLEND_EINVAL, "vec_build: missing argument");
  if (dim == 0 || dim > VEC_MAX_DIM)
    return blend_seterr(err, BLEND_EINVAL, "vector dimension %u out of range [1, %u]", dim,
                        VEC_MAX_DIM);
  if (p->metric < 0 || p->metric > VEC_L2)
    return blend_seterr(err, BLEND_EINVAL, "unknown vector metric %d", p->metric);
  if (p->dtype != VEC_F32 && p->dtype != VEC_I8)
    return blend_seterr(err, BLEND_EINVAL, "unknown vector dtype %d", p->dtype);
  if (p->hnsw && (p->M < 2 || p->M > 256))
    return blend_seterr(err, BLEND_EINVAL, "HNSW M %u out of range [2, 256]", p->M);
  if (p->hnsw && (p->ef_construction < 1 || p->ef_construction > 100000))
    return blend_seterr(err, BLEND_EINVAL, "HNSW efConstruction %u out of range [1, 100000]",
                        p->ef_construction);
  const vec_kernels *k = p->kernels ? p->kernels : vec_kernels_best();
  uint32_t sf = (dim + 15) & ~15u, si = p->dtype == VEC_I8 ? (dim + 63) & ~63u : 0;
  size_t rows_bytes = up64((size_t)n * sf * 4);
  size_t o_rows = VEC_STORE_HEADER, o_codes = 0, o_ranges = 0, o_norms = 0;
  size_t total = o_rows + rows_bytes;
  if (p->dtype == VEC_I8) {
    o_codes = total;
    total += up64((size_t)n * si);
    o_ranges = total;
    total += up64((size_t)dim * 8);
    o_norms = total;
    total += up64((size_t)n * 4);
  }
  size_t base = store_out->len;
  if (base % 64)
    return blend_seterr(err, BLEND_EINVAL, "vec_build: store buffer length %zu not 64-aligned", base);
  if (bbuf_reserve(store_out, total)) return blend_seterr(err, BLEND_ENOMEM, "vector store: out of memory");
  uint8_t *s = store_out->data + base;
  memset(s, 0, total);
  wr_u32(s + 0, VEC_STORE_MAGIC);
  wr_u32(s + 4, VEC_STORE_VERSION);
  wr_u32(s + 8, dim);
  wr_u32(s + 12, n);
  wr_u32(s + 16, (uint32_t)p->metric);
  wr_u32(s + 20, (uint32_t)p->dtype);
  wr_u32(s + 24, sf);
  wr_u32(s + 28, si);
  uint64_t offs[4] = {o_rows, o_codes, o_ranges, o_norms};
  memcpy(s + 32, offs, sizeof offs);
  float *out_rows = (float *)(s + o_rows);
  for (uint32_t i = 0; i < n; i++) {
    const float *x = rows + (size_t)i * dim;
    float *y = out_rows + (size_t)i * sf;
    if (p->metric == VEC_COSINE && !p->unit_rows) {
      float inv = vec_inv_norm(x, dim);
      for (uint32_t d = 0; d < dim; d++) y[d] = x[d] * inv;
    } else {
      memcpy(y, x, (size_t)dim * 4);
    }
  }
  if (p->dtype == VEC_I8) {
    float *scale = (float *)(s + o_ranges), *vmin = scale + dim;
    float *norms = (float *)(s + o_norms);
    vec_i8_train(out_rows, n, dim, sf, scale, vmin);
    for (uint32_t i = 0; i < n; i++) {
      uint8_t *c = s + o_codes + (size_t)i * si;
      vec_i8_encode(out_rows + (size_t)i * sf, dim, scale, vmin, c);
      norms[i] = vec_i8_norm2(c, dim, scale, vmin);
    }
  }
  store_out->len = base + total;
  if (!p->hnsw || n == 0) return BLEND_OK;
  /* the graph is built over the stored (normalised) rows */
  int rc = vec_hnsw_build((const float *)(store_out->data + base + o_rows), n, dim, sf, p->metric, p,
                          k, graph_out, err);
  return rc;
}
