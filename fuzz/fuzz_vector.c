/*
** fuzz_vector.c — libFuzzer target for the vector field reader: the input
** is u32 store_len, then the STORE payload, then the GRAPH payload (both
** copied to 64-byte aligned buffers, as a segment maps them). Whatever
** vec_field_open accepts is searched (HNSW, exact, filtered, int8), so a
** validation gap shows up as an out-of-bounds read. Invariants beyond "no
** crash": hits are < n, within k, allowed by the filter, and sorted.
** Seeds (fuzz/corpus/vector): tiny payloads written by vec_build (n 1..60,
** dim 3..17, f32 and int8, all three metrics).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "vector/vector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *aligned_copy(const uint8_t *p, size_t n) {
  void *q = NULL;
  if (posix_memalign(&q, 64, n ? (n + 63) & ~(size_t)63 : 64)) abort();
  if (n) memcpy(q, p, n);
  return q;
}

static void check_hits(const vec_hit *h, uint32_t nh, uint32_t k, uint32_t n, const uint64_t *allow) {
  if (nh > k) abort();
  for (uint32_t i = 0; i < nh; i++) {
    if (h[i].doc >= n) abort();
    if (allow && !((allow[h[i].doc / 64] >> (h[i].doc % 64)) & 1)) abort();
    if (i && h[i - 1].score < h[i].score) abort(); /* NaN compares false: allowed */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  size_t sl = rd_u32(data);
  if (sl > size - 4) sl = size - 4;
  const uint8_t *sp = data + 4, *gp = sp + sl;
  size_t gl = size - 4 - sl;
  void *st = aligned_copy(sp, sl), *gr = aligned_copy(gp, gl);
  vec_field *f = NULL;
  blend_error err;
  if (vec_field_open(st, sl, gl ? gr : NULL, gl, &f, &err) == BLEND_OK) {
    uint32_t n = vec_field_count(f), dim = vec_field_dim(f);
    float *q = malloc((size_t)dim * sizeof *q);
    for (uint32_t d = 0; d < dim; d++) q[d] = (float)((d * 7) % 5) - 2.0f;
    uint64_t *allow = calloc((size_t)n / 64 + 1, 8);
    uint32_t na = 0;
    for (uint32_t i = 0; i < n; i += 3) allow[i / 64] |= 1ull << (i % 64), na++;
    vec_scratch *s = vec_scratch_new();
    vec_hit h[16];
    uint32_t nh;
    for (int mode = 0; mode < 4; mode++) {
      vec_search_params p = {.k = 16, .ef = 8, .exact = mode == 1};
      if (mode >= 2) p.allow = allow, p.allow_count = mode == 3 ? na : n; /* 3: a true count, 2: a lie */
      if (vec_search(f, s, q, &p, h, &nh, &err) == BLEND_OK)
        check_hits(h, nh, 16, n, p.allow);
    }
    if (n) (void)vec_score(f, q, n - 1);
    (void)vec_field_bytes(f);
    vec_scratch_free(s);
    free(allow);
    free(q);
    vec_field_close(f);
  }
  free(st);
  free(gr);
  return 0;
}
