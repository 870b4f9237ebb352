/*
** hnsw_search.c — searching the HNSW graph of an opened field: a greedy
** descent through the upper layers, then a beam search of width ef on
** layer 0 (Malkov & Yashunin, Alg. 2 and 5). Filters are honoured during the
** traversal, hnswlib/Lucene style: the beam walks through filtered-out
** nodes but only allowed ones enter the results; a visit budget (the
** number of allowed docs: the cost of scanning them exactly) bounds a
** traversal that the filter starves, and the caller then scans exactly.
** int8 fields traverse on the integer approximate score and rescore the
** best `rescore` candidates in float32, so returned scores are exact.
**
** Speed: a node's unvisited neighbours are gathered first (marking them and
** prefetching their vectors), then scored four at a time by the dot4
** kernel, which loads each query chunk once for four rows.
*/
#include <string.h>

#include "vector/vec_internal.h"

/* Cache lines of each neighbour's vector prefetched before scoring it. */
#define PREFETCH_LINES 8

typedef struct walker {
  const vec_field *f;
  const vec_query *q;
  const vec_i8_query *iq; /* non-NULL: int8 traversal */
  uint64_t visits;
} walker;

static inline float walk_score(walker *w, uint32_t u) {
  w->visits++;
  if (w->iq) return vec_i8_score(w->f, w->iq, u);
  return vec_row_score(w->f, w->q, vec_row(w->f, u));
}

static inline void prefetch_node(const walker *w, uint32_t u) {
  const char *p;
  size_t bytes;
  if (w->iq) {
    p = (const char *)(w->f->codes + (size_t)u * w->f->stride_i8);
    bytes = w->f->stride_i8;
  } else {
    p = (const char *)vec_row(w->f, u);
    bytes = (size_t)w->f->dim * 4;
  }
  size_t lines = (bytes + 63) / 64;
  if (lines > PREFETCH_LINES) lines = PREFETCH_LINES;
  for (size_t i = 0; i < lines; i++) __builtin_prefetch(p + 64 * i, 0, 3);
}

/* Score ids[0..m) into sc[]: four at a time for float32 rows. */
static void score_batch(walker *w, const uint32_t *ids, uint32_t m, float *sc) {
  uint32_t i = 0;
  const vec_field *f = w->f;
  if (!w->iq) {
    for (; i + 4 <= m; i += 4) {
      const float *r[4] = {vec_row(f, ids[i]), vec_row(f, ids[i + 1]), vec_row(f, ids[i + 2]),
                           vec_row(f, ids[i + 3])};
      if (f->metric == VEC_L2) {
        f->k->l2_4(w->q->q, r, f->dim, sc + i);
        for (int j = 0; j < 4; j++) sc[i + j] = vec_sane(-sc[i + j]);
      } else {
        f->k->dot4(w->q->q, r, f->dim, sc + i);
        for (int j = 0; j < 4; j++) sc[i + j] = vec_sane(sc[i + j] * w->q->qscale);
      }
    }
    w->visits += i;
  }
  for (; i < m; i++) sc[i] = walk_score(w, ids[i]);
}

static inline int allowed(const uint64_t *allow, uint32_t u) {
  return !allow || (allow[u >> 6] >> (u & 63)) & 1;
}

/* Greedy descent from the entry point to layer 1's closest node. */
static vec_hit descend(walker *w) {
  const vec_field *f = w->f;
  vec_hit cur = {f->entry, walk_score(w, f->entry)};
  for (uint32_t l = f->max_level; l >= 1; l--) {
    const vec_layer *L = &f->up[l];
    for (int changed = 1; changed;) {
      changed = 0;
      uint32_t slot;
      if (!vec_layer_find(L, cur.doc, &slot)) break; /* cannot happen: validated */
      for (uint32_t j = L->off[slot]; j < L->off[slot + 1]; j++) {
        vec_hit x = {L->links[j], walk_score(w, L->links[j])};
        if (vec_better(x, cur)) {
          cur = x;
          changed = 1;
        }
      }
    }
  }
  return cur;
}

int vec_hnsw_search(const vec_field *f, vec_scratch *s, const vec_query *q,
                    const vec_search_params *p, uint32_t visit_limit, vec_hit *out,
                    uint32_t *nout, int *exhausted, blend_error *err) {
  *nout = 0;
  *exhausted = 0;
  uint32_t k = p->k;
  uint32_t ef = p->ef ? p->ef : 64;
  if (ef < k) ef = k;
  uint32_t beam = ef, rescore = 0;
  vec_i8_query iq;
  walker w = {f, q, NULL, 0};
  if (f->dtype == VEC_I8) {
    rescore = p->rescore ? p->rescore : (ef > 4 * k ? ef : 4 * k);
    if (rescore < k) rescore = k;
    if (beam < rescore) beam = rescore;
    if (vec_i8_query_prep(f, s, q, &iq)) goto nomem;
    w.iq = &iq;
  }
  if (vec_scratch_reserve(&s->res, &s->res_cap, (size_t)beam + 1) ||
      vec_scratch_reserve(&s->cand, &s->cand_cap, (size_t)beam + f->M0 + 1) ||
      vec_scratch_visit_begin(s, f->n))
    goto nomem;
  const uint64_t *allow = p->allow;
  uint16_t *mark = s->mark, gen = s->gen;
  vec_hit *res = s->res, *cand = s->cand;
  size_t nres = 0, ncand = 0;

  vec_hit ep = descend(&w);
  mark[ep.doc] = gen;
  vec_best_push(cand, &ncand, ep);
  if (allowed(allow, ep.doc)) vec_worst_push(res, &nres, ep);
  uint32_t ids[512];
  float sc[512];
  while (ncand) {
    vec_hit c = vec_best_pop(cand, &ncand);
    if (nres >= beam && !vec_better(c, res[0])) break;
    const uint32_t *lk = f->links0 + f->off0[c.doc];
    uint32_t deg = f->off0[c.doc + 1] - f->off0[c.doc], m = 0;
    for (uint32_t j = 0; j < deg; j++) {
      uint32_t v = lk[j];
      if (mark[v] == gen) continue;
      mark[v] = gen;
      prefetch_node(&w, v);
      ids[m++] = v;
    }
    if (ncand) __builtin_prefetch(f->links0 + f->off0[cand[0].doc], 0, 3);
    score_batch(&w, ids, m, sc);
    if (ncand + m > s->cand_cap) {
      if (vec_scratch_reserve(&s->cand, &s->cand_cap, ncand + m)) goto nomem;
      cand = s->cand;
    }
    for (uint32_t j = 0; j < m; j++) {
      vec_hit x = {ids[j], sc[j]};
      if (nres < beam || vec_better(x, res[0])) {
        vec_best_push(cand, &ncand, x);
        if (allowed(allow, x.doc)) vec_topk_offer(res, &nres, beam, x);
      }
    }
    if (visit_limit && w.visits > visit_limit) {
      *exhausted = 1;
      return BLEND_OK;
    }
  }
  vec_hits_sort(res, nres);
  if (w.iq) {
    /* rescore the best `rescore` approximate candidates in float32 */
    size_t r = nres < rescore ? nres : rescore, nk = 0;
    vec_hit *top = s->cand; /* the candidate queue is free now */
    for (size_t i = 0; i < r; i++) {
      vec_hit x = {res[i].doc, vec_row_score(f, q, vec_row(f, res[i].doc))};
      vec_topk_offer(top, &nk, k, x);
    }
    vec_hits_sort(top, nk);
    memcpy(out, top, nk * sizeof *top);
    *nout = (uint32_t)nk;
    return BLEND_OK;
  }
  size_t nk = nres < k ? nres : k;
  memcpy(out, res, nk * sizeof *res);
  *nout = (uint32_t)nk;
  return BLEND_OK;
nomem:
  return blend_seterr(err, BLEND_ENOMEM, "vector search: out of memory");
}
