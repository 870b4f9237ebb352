/*
** dense.c — the dense leg: nearest-neighbour search over every segment's
** vector field (HNSW or exact, with the snapshot's deletions and the
** caller's filter as an allow bitmap), merged into one top k with global
** document numbers; exact per-document scores for hybrid score completion;
** lookups by external id; and query encoding with the model recorded in
** the index, which must be the model that built it.
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/filter.h"
#include "search/search.h"
#include "util/sha256.h"
#include "vector/vector.h"

void blend_dense_options_default(blend_dense_options *o) {
  memset(o, 0, sizeof *o);
  o->k = 10;
}

void searcher_ext_free(searcher_ext *x) {
  if (!x) return;
  free(x->allow);
  vec_scratch_free(x->vs);
  free(x->hits);
  free(x->out);
  free(x->qbuf);
  free(x);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return 0;
  void *q = realloc(*p, (size_t)need * elem);
  if (!q) return -1;
  *p = q;
  *cap = need;
  return 0;
}

static int cmp_hits(const void *a, const void *b) {
  const blend_hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->doc < y->doc ? -1 : x->doc > y->doc;
}

int blend_search_vector(blend_searcher *s, const float *vec, uint32_t dim, const blend_dense_options *opts,
                        blend_results *out, blend_error *err) {
  blend_dense_options def;
  if (!opts) {
    blend_dense_options_default(&def);
    opts = &def;
  }
  memset(out, 0, sizeof *out);
  blend_index *ix = searcher_index(s);
  if (!ix->vector.dim)
    return blend_seterr(err, BLEND_EINVAL,
                        "%s: the index has no vector field (build it with 'blend index --model DIR' or --vectors FILE)",
                        ix->dir);
  if (!vec || dim != ix->vector.dim)
    return blend_seterr(err, BLEND_EINVAL, "query vector has %u dimensions, the index's vectors have %u", dim,
                        ix->vector.dim);
  for (uint32_t i = 0; i < dim; i++)
    if (!isfinite(vec[i])) return blend_seterr(err, BLEND_EINVAL, "query vector component %u is not finite", i);
  if (opts->k > 100000) return blend_seterr(err, BLEND_EINVAL, "k must be at most 100000");
  int rc = filter_check(opts->filter, ix, err);
  if (rc) return rc;
  searcher_ext *x = searcher_ext_get(s);
  if (!x || (!x->vs && !(x->vs = vec_scratch_new()))) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  uint32_t k = opts->k;
  if (k == 0) return BLEND_OK;
  uint64_t total = (uint64_t)k * (ix->nsegs ? ix->nsegs : 1);
  if (total > UINT32_MAX / 2 || grow(&x->hits, &x->hits_cap, k, sizeof(vec_hit)) ||
      grow((void **)&x->out, &x->out_cap, (uint32_t)total, sizeof(blend_hit)))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  uint32_t n = 0;
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    const segment *seg = &ix->segs[i];
    const uint64_t *bits;
    uint32_t allowed;
    rc = filter_segment(opts->filter, seg, x, &bits, &allowed, err);
    if (rc) return rc;
    if (allowed == 0) continue;
    vec_search_params p = {0};
    p.k = k;
    p.ef = opts->ef;
    p.exact = opts->exact;
    p.allow = bits;
    p.allow_count = allowed;
    p.rescore = opts->rescore;
    p.threads = opts->threads;
    uint32_t got = 0;
    rc = vec_search(seg->vec, x->vs, vec, &p, x->hits, &got, err);
    if (rc) return rc;
    const vec_hit *h = x->hits;
    for (uint32_t j = 0; j < got; j++)
      x->out[n++] = (blend_hit){seg->base + h[j].doc, h[j].score, 0, NULL};
  }
  qsort(x->out, n, sizeof *x->out, cmp_hits);
  out->count = n < k ? n : k;
  out->hits = x->out;
  out->matched = n;
  return BLEND_OK;
}

int blend_searcher_vector_scores(blend_searcher *s, const float *vec, uint32_t dim, const uint32_t *docs,
                                 size_t n, float *scores, blend_error *err) {
  blend_index *ix = searcher_index(s);
  if (!ix->vector.dim || dim != ix->vector.dim)
    return blend_seterr(err, BLEND_EINVAL, "query vector has %u dimensions, the index's vectors have %u", dim,
                        ix->vector.dim);
  for (size_t i = 0; i < n; i++) {
    uint32_t local;
    const segment *seg = index_segment_of(ix, docs[i], &local, NULL);
    if (!seg) return blend_seterr(err, BLEND_ENOTFOUND, "no document %u", docs[i]);
    scores[i] = vec_score(seg->vec, vec, local);
  }
  return BLEND_OK;
}

int blend_searcher_find(blend_searcher *s, const char *id, size_t len, uint32_t *doc, blend_error *err) {
  blend_index *ix = searcher_index(s);
  /* newest segment first: an id lives in at most one segment as a live
     document, and later segments hold the newer versions */
  for (uint32_t i = ix->nsegs; i-- > 0;) {
    uint32_t d;
    if (segment_find_id(&ix->segs[i], id, len, &d) && segment_is_live(&ix->segs[i], d)) {
      *doc = ix->segs[i].base + d;
      return BLEND_OK;
    }
  }
  return blend_seterr(err, BLEND_ENOTFOUND, "no document with id '%.*s'", (int)(len > 200 ? 200 : len), id);
}

int blend_index_open_query_model(const blend_index *ix, const char *model_dir, const blend_model_options *opts,
                                 blend_model **out, blend_error *err) {
  *out = NULL;
  const blend_vector_config *vc = &ix->vector;
  if (!vc->dim)
    return blend_seterr(err, BLEND_EINVAL, "%s: the index has no vector field to encode queries for", ix->dir);
  if (!vc->model_sha256[0] && !model_dir)
    return blend_seterr(err, BLEND_EINVAL,
                        "%s: the index's vectors came from a file, not a model: give the query vector "
                        "(--vector / --query-vectors)",
                        ix->dir);
  const char *dir = model_dir ? model_dir : vc->model_dir;
  char weights[PATH_MAX + 32], sha[65];
  snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
  int rc = file_sha256(weights, sha, NULL, err);
  if (rc) return rc;
  if (vc->model_sha256[0] && strcmp(sha, vc->model_sha256))
    return blend_seterr(err, BLEND_EINVAL,
                        "%s: model weights differ from the ones that built %s (sha256 %.12s…, index has %.12s…)",
                        dir, ix->dir, sha, vc->model_sha256);
  blend_model_options o;
  if (opts) o = *opts;
  else blend_model_options_default(&o);
  if (vc->max_length && o.max_length == 0) o.max_length = vc->max_length;
  blend_model *m;
  rc = blend_model_open(dir, &o, &m, err);
  if (rc) return rc;
  const char *why = NULL;
  if (blend_model_is_cross_encoder(m)) why = "it is a cross-encoder";
  else if (blend_model_dim(m) != vc->dim) why = "its dimension differs";
  else if (vc->pooling[0] && strcmp(blend_model_pooling(m), vc->pooling)) why = "its pooling differs";
  else if (vc->model_sha256[0] && blend_model_normalizes(m) != vc->normalize) why = "its normalisation differs";
  if (why) {
    blend_model_close(m);
    return blend_seterr(err, BLEND_EINVAL, "%s: not the model that built %s: %s (index: %s, %u-d, %s pooling)", dir,
                        ix->dir, why, vc->model_name, vc->dim, vc->pooling);
  }
  *out = m;
  return BLEND_OK;
}

int blend_index_embed_query(const blend_index *ix, blend_model *m, const char *text, size_t len, float *out,
                            blend_error *err) {
  const char *prefix = ix->vector.query_prefix;
  size_t pl = strlen(prefix);
  if (blend_model_dim(m) != ix->vector.dim)
    return blend_seterr(err, BLEND_EINVAL, "model dimension %u, the index has %u", blend_model_dim(m), ix->vector.dim);
  if (pl == 0) return blend_embed(m, &text, &len, 1, out, err);
  char *buf = malloc(pl + len + 1);
  if (!buf) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  memcpy(buf, prefix, pl);
  memcpy(buf + pl, text, len);
  buf[pl + len] = 0;
  const char *t = buf;
  size_t tl = pl + len;
  int rc = blend_embed(m, &t, &tl, 1, out, err);
  free(buf);
  return rc;
}
