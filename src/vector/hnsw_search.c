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
** Speed: a search is bound by reading rows scattered over memory (~740
** float32 rows of 1.5 KB per query at ef=40 on 100k x 384). A node's
** unvisited neighbours are gathered first (marking them; int8 codes are
** prefetched then), then scored in order four at a time by the dot4 kernel
** while whole float32 rows are prefetched a few rows ahead of it; the upper
** layers' lists are scored the same way.
*/
#include <string.h>

#include "vector/vec_internal.h"

/* float32 rows: how many rows past the batch being scored are prefetched
** whole (all their cache lines). Zen 1, 100k x 384, ef=40: 3,064 QPS with
** no row prefetch, 3,845 with this (median of 3 alternating runs); 0 or 8
** rows ahead measured the same within noise, every other line was ~12%
** slower. */
#define ROW_AHEAD 4u
/* int8 codes: lines of each neighbour's code row prefetched when gathered
** (a 384-d code row is 6 lines, so all of it). */
#define CODE_LINES 8u

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

/* The prefetch helpers must be inlined: a call to a separate function whose
** only effect is __builtin_prefetch is "pure" to GCC's IPA and is deleted
** (that silently removed the old per-neighbour prefetch: hnsw_search.o had
** one prefetch instruction left, for the next candidate's links). */
#define PF_INLINE static inline __attribute__((always_inline))

PF_INLINE void prefetch_code(const walker *w, uint32_t u) {
  const char *p = (const char *)(w->f->codes + (size_t)u * w->f->stride_i8);
  size_t lines = (w->f->stride_i8 + 63u) / 64u;
  if (lines > CODE_LINES) lines = CODE_LINES;
  for (size_t i = 0; i < lines; i++) __builtin_prefetch(p + 64 * i, 0, 3);
}

PF_INLINE void prefetch_rows(const vec_field *f, const uint32_t *ids, uint32_t lo, uint32_t hi) {
  size_t bytes = (size_t)f->dim * sizeof(float);
  for (uint32_t t = lo; t < hi; t++) {
    const char *p = (const char *)vec_row(f, ids[t]);
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
  }
}

/* Score ids[0..m) into sc[], in order: four at a time for float32 rows
** (dot4 loads each query chunk once for four rows), whole rows prefetched
** ROW_AHEAD rows ahead of the kernel. int8 codes were prefetched when the
** ids were gathered. */
static void score_batch(walker *w, const uint32_t *ids, uint32_t m, float *sc) {
  uint32_t i = 0;
  const vec_field *f = w->f;
  if (!w->iq) {
    prefetch_rows(f, ids, 0, m < 4 + ROW_AHEAD ? m : 4 + ROW_AHEAD);
    for (; i + 4 <= m; i += 4) {
      uint32_t lo = i + 4 + ROW_AHEAD, hi = lo + 4 < m ? lo + 4 : m;
      if (lo < hi) prefetch_rows(f, ids, lo, hi);
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

/* Greedy descent from the entry point to layer 1's closest node. Each list
** is scored as one prefetched batch (it was one cold row after another:
** ~84 rows per query on 100k x 384), then walked in order as before. */
static vec_hit descend(walker *w, float *sc) {
  const vec_field *f = w->f;
  vec_hit cur = {f->entry, walk_score(w, f->entry)};
  for (uint32_t l = f->max_level; l >= 1; l--) {
    const vec_layer *L = &f->up[l];
    for (int changed = 1; changed;) {
      changed = 0;
      uint32_t slot;
      if (!vec_layer_find(L, cur.doc, &slot)) break; /* cannot happen: validated */
      const uint32_t *lk = L->links + L->off[slot];
      uint32_t deg = L->off[slot + 1] - L->off[slot];
      if (w->iq)
        for (uint32_t j = 0; j < deg; j++) prefetch_code(w, lk[j]);
      score_batch(w, lk, deg, sc);
      for (uint32_t j = 0; j < deg; j++) {
        vec_hit x = {lk[j], sc[j]};
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

  uint32_t ids[512];
  float sc[512]; /* one node's list (M0 <= 512, validated) */
  vec_hit ep = descend(&w, sc);
  mark[ep.doc] = gen;
  vec_best_push(cand, &ncand, ep);
  if (allowed(allow, ep.doc)) vec_worst_push(res, &nres, ep);
  while (ncand) {
    vec_hit c = vec_best_pop(cand, &ncand);
    if (nres >= beam && !vec_better(c, res[0])) break;
    const uint32_t *lk = f->links0 + f->off0[c.doc];
    uint32_t deg = f->off0[c.doc + 1] - f->off0[c.doc], m = 0;
    for (uint32_t j = 0; j < deg; j++) {
      uint32_t v = lk[j];
      if (mark[v] == gen) continue;
      mark[v] = gen;
      if (w.iq) prefetch_code(&w, v);
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
