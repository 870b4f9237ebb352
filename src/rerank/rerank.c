/*
** rerank.c — rescoring of the top fused candidates with a cross-encoder.
** The stored texts are copied out first (a searcher's field text lives
** only until its next call), then scored as one batch, so the model's
** packing and threads see every pair at once.
*/
#include <stdlib.h>
#include <string.h>

#include "rerank/rerank.h"
#include "util/util.h"

int rerank_docs(blend_model *m, blend_searcher *s, const char *query, const char *field,
                const uint32_t *docs, uint32_t n, float *scores, blend_error *err) {
  if (!n) return BLEND_OK;
  if (!blend_model_is_cross_encoder(m))
    return blend_seterr(err, BLEND_EINVAL, "--rerank: the model is a bi-encoder, not a cross-encoder");
  bbuf texts = {0};
  size_t *off = malloc(n * sizeof *off), *lens = malloc(n * sizeof *lens);
  const char **ptrs = malloc(n * sizeof *ptrs);
  int rc = off && lens && ptrs ? BLEND_OK : blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (uint32_t i = 0; !rc && i < n; i++) {
    const char *t = "";
    size_t len = 0;
    if (docs[i] != UINT32_MAX && blend_searcher_doc_field(s, docs[i], field, &t, &len, NULL))
      t = "", len = 0;
    off[i] = texts.len;
    lens[i] = len;
    if (bbuf_append(&texts, t, len) || bbuf_putc(&texts, 0))
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  if (!rc) {
    for (uint32_t i = 0; i < n; i++) ptrs[i] = (const char *)texts.data + off[i];
    rc = blend_rerank(m, query, strlen(query), ptrs, lens, n, scores, err);
  }
  bbuf_free(&texts);
  free(off);
  free(lens);
  free(ptrs);
  return rc;
}
