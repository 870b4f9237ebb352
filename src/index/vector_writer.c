/*
** vector_writer.c — serializes a docbuf's vectors: the live documents'
** rows, in segment order, go through vec_build (src/vector) into two
** sections, SEC_VECSTORE and SEC_HNSW. Every live document must have its
** vector by now (given with the document, or encoded by the writer's model).
*/
#include <stdlib.h>
#include <string.h>

#include "index/build.h"
#include "vector/vector.h"

int vectors_write(docbuf *b, const uint32_t *remap, uint32_t live, seg_build *sb, blend_error *err) {
  const blend_vector_config *vc = &b->cfg.vector;
  if (vc->dim == 0) return BLEND_OK;
  float *rows = malloc(((size_t)live + 1) * vc->dim * sizeof *rows);
  if (!rows) return blend_seterr(err, BLEND_ENOMEM, "out of memory for vectors");
  for (uint32_t d = 0; d < b->ndocs; d++) {
    if (remap[d] == UINT32_MAX) continue;
    if (!b->has_vec[d]) {
      uint64_t a = rd_u64(b->ids_off.data + 8 * (size_t)d);
      uint64_t e = d + 1 < b->ndocs ? rd_u64(b->ids_off.data + 8 * (size_t)d + 8) : b->ids.len;
      free(rows);
      return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has no vector (the index has a %u-d vector field)",
                          (int)(e - a), (const char *)b->ids.data + a, vc->dim);
    }
    memcpy(rows + (size_t)remap[d] * vc->dim, b->vecs + (size_t)d * vc->dim, vc->dim * sizeof *rows);
  }
  vec_build_params p;
  vec_build_params_default(&p);
  p.metric = vc->metric;
  p.dtype = vc->dtype;
  p.M = vc->hnsw_m;
  p.ef_construction = vc->hnsw_ef_construction;
  p.seed = vc->hnsw_seed;
  p.threads = vc->threads;
  p.hnsw = vc->hnsw;
  p.unit_rows = b->unit_vecs; /* normalising them again would move their last bits */
  sec *st = seg_build_add(sb, SEC_VECSTORE, 0), *gr = seg_build_add(sb, SEC_HNSW, 0);
  int rc = st && gr ? vec_build(rows, live, vc->dim, &p, &st->b, &gr->b, err)
                    : blend_seterr(err, BLEND_ENOMEM, "too many sections");
  free(rows);
  return rc;
}
