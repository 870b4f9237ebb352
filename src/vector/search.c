/*
** search.c — vec_search(): checks the query, then routes it to the exact
** scan or to HNSW, with the filter rules of vector.h (an exact fallback
** whenever the graph cannot deliver min(k, allowed) hits or would cost more
** than scanning the allowed docs). Also the per-thread scratch and the
** final ordering of hits.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vector/vec_internal.h"

vec_scratch *vec_scratch_new(void) { return calloc(1, sizeof(vec_scratch)); }

void vec_scratch_free(vec_scratch *s) {
  if (!s) return;
  free(s->mark);
  free(s->cand);
  free(s->res);
  free(s->tmp);
  free(s->qq);
  free(s->qf);
  free(s);
}

int vec_scratch_reserve(vec_hit **p, size_t *cap, size_t need) {
  if (*cap >= need) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  vec_hit *q = realloc(*p, c * sizeof *q);
  if (!q) return -1;
  *p = q;
  *cap = c;
  return 0;
}

/* Visited marks: a node is visited when mark[node] == gen. Bumping gen
** clears every mark at once; the array is wiped only when gen wraps. */
int vec_scratch_visit_begin(vec_scratch *s, uint32_t n) {
  if (s->mark_cap < n) {
    uint16_t *m = calloc(n, sizeof *m);
    if (!m) return -1;
    free(s->mark);
    s->mark = m;
    s->mark_cap = n;
    s->gen = 0;
  }
  if (++s->gen == 0) {
    memset(s->mark, 0, s->mark_cap * sizeof *s->mark);
    s->gen = 1;
  }
  return 0;
}

/* Heapsort under the heap's own order (worst on top → best first at the
** end). Unlike qsort it stays in bounds even if a NaN score from a hostile
** payload makes the comparison inconsistent. */
void vec_hits_sort(vec_hit *h, size_t n) {
  for (size_t i = n / 2; i-- > 0;) vec_worst_sift_down(h, n, i);
  for (size_t m = n; m > 1; m--) {
    vec_hit t = h[0];
    h[0] = h[m - 1];
    h[m - 1] = t;
    vec_worst_sift_down(h, m - 1, 0);
  }
  /* now worst-first-popped went to the end: h is best first */
}

/* Below this many allowed docs per unit of ef a filtered query goes straight
** to the exact scan: an unfiltered HNSW search computes roughly 10·ef..30·ef
** distances, so scanning fewer allowed docs than that is cheaper. */
#define FILTER_EXACT_PER_EF 10u

int vec_search(const vec_field *f, vec_scratch *s, const float *query, const vec_search_params *p,
               vec_hit *out, uint32_t *nout, blend_error *err) {
  if (!f || !s || !query || !p || !nout || (p->k && !out))
    return blend_seterr(err, BLEND_EINVAL, "vec_search: missing argument");
  *nout = 0;
  for (uint32_t d = 0; d < f->dim; d++)
    if (!isfinite(query[d]))
      return blend_seterr(err, BLEND_EINVAL, "query vector component %u is not finite", d);
  if (p->k == 0 || f->n == 0) return BLEND_OK;
  vec_query q = {query, f->metric == VEC_COSINE ? vec_inv_norm(query, f->dim) : 1.0f};
  uint32_t allowed = f->n;
  if (p->allow) allowed = p->allow_count < f->n ? p->allow_count : f->n;
  uint32_t want = p->k < allowed ? p->k : allowed;
  if (want == 0) return BLEND_OK;
  uint32_t ef = p->ef ? p->ef : 64;
  if (ef < p->k) ef = p->k;
  if (p->exact || !f->has_graph ||
      (p->allow && (uint64_t)allowed <= (uint64_t)ef * FILTER_EXACT_PER_EF))
    return vec_exact_search(f, s, &q, p, out, nout, err);
  int exhausted = 0;
  int rc = vec_hnsw_search(f, s, &q, p, p->allow ? allowed : 0, out, nout, &exhausted, err);
  if (rc) return rc;
  if (exhausted || *nout < want) return vec_exact_search(f, s, &q, p, out, nout, err);
  return BLEND_OK;
}
