/*
** field.c — the reader side of a vector field: vec_field_open validates the
** STORE payload (layout in vec_internal.h) and, through hnsw_graph.c, the
** GRAPH payload; accessors, memory figures and the exact one-doc score.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vector/vec_internal.h"

#define CORRUPT(...) blend_seterr(err, BLEND_ECORRUPT, "vector store: " __VA_ARGS__)

static uint64_t up64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }

static int range_ok(uint64_t off, uint64_t size, size_t len, size_t lo) {
  return off % 64 == 0 && off >= lo && off <= len && size <= len - off;
}

int vec_field_open_ex(const void *store, size_t store_len, const void *graph, size_t graph_len,
                      const vec_kernels *k, vec_field **out, blend_error *err) {
  if (!out) return blend_seterr(err, BLEND_EINVAL, "vec_field_open: no output");
  *out = NULL;
  if (!store) return blend_seterr(err, BLEND_EINVAL, "vec_field_open: no store payload");
  if ((uintptr_t)store % 64 || (graph && (uintptr_t)graph % 64))
    return blend_seterr(err, BLEND_EINVAL, "vec_field_open: payload not 64-byte aligned");
  const uint8_t *s = store;
  if (store_len < VEC_STORE_HEADER) return CORRUPT("%zu bytes, shorter than its header", store_len);
  if (rd_u32(s) != VEC_STORE_MAGIC) return CORRUPT("bad magic");
  if (rd_u32(s + 4) != VEC_STORE_VERSION) return CORRUPT("version %u unsupported", rd_u32(s + 4));
  uint32_t dim = rd_u32(s + 8), n = rd_u32(s + 12), metric = rd_u32(s + 16), dtype = rd_u32(s + 20);
  uint32_t sf = rd_u32(s + 24), si = rd_u32(s + 28);
  uint64_t o_rows = rd_u64(s + 32), o_codes = rd_u64(s + 40), o_ranges = rd_u64(s + 48),
           o_norms = rd_u64(s + 56);
  if (dim == 0 || dim > VEC_MAX_DIM) return CORRUPT("dimension %u out of range", dim);
  if (metric > VEC_L2) return CORRUPT("unknown metric %u", metric);
  if (dtype > VEC_I8) return CORRUPT("unknown dtype %u", dtype);
  if (sf != ((dim + 15) & ~15u)) return CORRUPT("row stride %u does not match dimension %u", sf, dim);
  uint32_t want_si = dtype == VEC_I8 ? (dim + 63) & ~63u : 0;
  if (si != want_si) return CORRUPT("code stride %u does not match dimension %u", si, dim);
  uint64_t rows_bytes = (uint64_t)n * sf * 4; /* < 2^32 · 2^16 · 4: no overflow */
  /* the layout is canonical: offsets and total length follow from (n, dim,
  ** dtype), so anything else is corruption (a truncated section included) */
  uint64_t want_end = o_rows + up64(rows_bytes);
  if (o_rows != VEC_STORE_HEADER) return CORRUPT("rows at offset %llu, expected 64", (unsigned long long)o_rows);
  if (dtype == VEC_I8) {
    uint64_t c = want_end, r = c + up64((uint64_t)n * si), m = r + up64((uint64_t)dim * 8);
    if (o_codes != c || o_ranges != r || o_norms != m) return CORRUPT("int8 arrays at unexpected offsets");
    want_end = m + up64((uint64_t)n * 4);
  }
  if (want_end != store_len)
    return CORRUPT("%zu bytes, but %u x %u %s vectors take %llu", store_len, n, dim,
                   vec_dtype_name((int)dtype), (unsigned long long)want_end);
  if (!range_ok(o_rows, rows_bytes, store_len, VEC_STORE_HEADER))
    return CORRUPT("rows (%u x %u floats at %llu) outside the %zu-byte payload", n, dim,
                   (unsigned long long)o_rows, store_len);
  vec_field *f = calloc(1, sizeof *f);
  if (!f) return blend_seterr(err, BLEND_ENOMEM, "vec_field_open: out of memory");
  f->k = k ? k : vec_kernels_best();
  f->dim = dim;
  f->n = n;
  f->metric = (int)metric;
  f->dtype = (int)dtype;
  f->stride_f32 = sf;
  f->stride_i8 = si;
  f->rows = (const float *)(s + o_rows);
  f->rows_bytes = (size_t)rows_bytes;
  f->store_len = store_len;
  int rc = BLEND_OK;
  if (dtype == VEC_I8) {
    uint64_t codes_bytes = (uint64_t)n * si;
    if (!range_ok(o_codes, codes_bytes, store_len, VEC_STORE_HEADER) ||
        !range_ok(o_ranges, (uint64_t)dim * 8, store_len, VEC_STORE_HEADER) ||
        !range_ok(o_norms, (uint64_t)n * 4, store_len, VEC_STORE_HEADER)) {
      rc = CORRUPT("int8 arrays outside the %zu-byte payload", store_len);
      goto fail;
    }
    f->codes = s + o_codes;
    f->codes_bytes = (size_t)codes_bytes;
    f->scale = (const float *)(s + o_ranges);
    f->vmin = f->scale + dim;
    f->norms = (const float *)(s + o_norms);
    for (uint32_t d = 0; d < dim; d++)
      if (!isfinite(f->scale[d]) || f->scale[d] < 0 || !isfinite(f->vmin[d])) {
        rc = CORRUPT("int8 range of dimension %u is not finite", d);
        goto fail;
      }
  } else if (o_codes || o_ranges || o_norms) {
    rc = CORRUPT("float32 store with int8 offsets");
    goto fail;
  }
  if (graph && graph_len) {
    if (n == 0) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "vector graph: present for an empty store");
      goto fail;
    }
    rc = vec_hnsw_open(f, graph, graph_len, err);
    if (rc) goto fail;
  }
  *out = f;
  return BLEND_OK;
fail:
  free(f);
  return rc;
}

int vec_field_open(const void *store, size_t store_len, const void *graph, size_t graph_len,
                   vec_field **out, blend_error *err) {
  return vec_field_open_ex(store, store_len, graph, graph_len, NULL, out, err);
}

void vec_field_close(vec_field *f) { free(f); }

uint32_t vec_field_dim(const vec_field *f) { return f->dim; }
uint32_t vec_field_count(const vec_field *f) { return f->n; }
int vec_field_metric(const vec_field *f) { return f->metric; }
int vec_field_dtype(const vec_field *f) { return f->dtype; }
int vec_field_has_graph(const vec_field *f) { return f->has_graph; }
const float *vec_field_row(const vec_field *f, uint32_t doc) { return vec_row(f, doc); }

size_t vec_field_bytes(const vec_field *f) {
  size_t b = f->rows_bytes + f->graph_len;
  if (f->dtype == VEC_I8) b += f->codes_bytes + (size_t)f->dim * 8 + (size_t)f->n * 4;
  return b;
}

size_t vec_field_resident_bytes(const vec_field *f) {
  if (f->dtype == VEC_I8) return f->codes_bytes + (size_t)f->dim * 8 + (size_t)f->n * 4 + f->graph_len;
  return f->rows_bytes + f->graph_len;
}

float vec_score(const vec_field *f, const float *query, uint32_t doc) {
  if (!f || !query || doc >= f->n) return -INFINITY;
  vec_query q = {query, f->metric == VEC_COSINE ? vec_inv_norm(query, f->dim) : 1.0f};
  return vec_row_score(f, &q, vec_row(f, doc));
}
