/*
** hybrid.c — the hybrid query over an index: every leg retrieves its own
** candidates to its depth (BM25 flat / multifield through blend_search,
** dense through blend_search_vector, an external run's results for the
** query), the candidates are merged by document into a candidates × legs
** table, missing cells are optionally completed with the leg's exact score,
** then fused (fuse.c), ordered stably, reranked and paged.
**
** Why a default depth of 100 per leg: fusion only sees what the legs
** return, so the fused list depends on depth (a document at rank 150 of
** both legs can never be fused); 100 covers Recall@100 of each leg and is
** what Bruch et al. and most hybrid engines use, at a cost of a few
** hundred candidates per query. Larger depths change min-max / z-score
** statistics too (more low scores), which tuning accounts for.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "fusion/fusion.h"
#include "index/index.h"
#include "rerank/rerank.h"
#include "util/util.h"

struct blend_hybrid {
  blend_index *ix;
  blend_searcher *s;
  /* candidates of the current query */
  uint32_t ncand, cap;
  uint32_t *doc;             /* [cap] document number (UINT32_MAX-i: run-only docs) */
  uint32_t *idoff;           /* [cap] offset of the id in ids */
  blend_leg_score *cells;    /* [cap × BLEND_MAX_LEGS] candidate-major, nlegs stride */
  double *fused;
  uint32_t *order;
  const char **idp;          /* [cap] id pointers into ids (after ids stop growing) */
  uint32_t *hmap;            /* doc → candidate + 1, open addressing */
  uint32_t hcap;
  bbuf ids;
  blend_hybrid_hit *hits;
  float *rr;                 /* rerank scores */
  uint32_t *tmp;             /* docs to complete / rerank */
  float *tmps;
  float *qvec;
  uint32_t qcap;
  double lower[BLEND_MAX_LEGS], upper[BLEND_MAX_LEGS]; /* tmm bounds of the query */
  fusion_scratch fs;
};

int blend_hybrid_new(blend_index *ix, blend_hybrid **out, blend_error *err) {
  *out = NULL;
  blend_hybrid *h = calloc(1, sizeof *h);
  if (!h) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  h->ix = ix;
  int rc = blend_searcher_new(ix, &h->s, err);
  if (rc) {
    free(h);
    return rc;
  }
  *out = h;
  return BLEND_OK;
}

void blend_hybrid_free(blend_hybrid *h) {
  if (!h) return;
  blend_searcher_free(h->s);
  free(h->doc);
  free(h->idoff);
  free(h->cells);
  free(h->fused);
  free(h->order);
  free(h->idp);
  free(h->hmap);
  bbuf_free(&h->ids);
  free(h->hits);
  free(h->rr);
  free(h->tmp);
  free(h->tmps);
  free(h->qvec);
  fusion_scratch_free(&h->fs);
  free(h);
}

blend_searcher *blend_hybrid_searcher(blend_hybrid *h) { return h->s; }

#define GROW(p, n)                                              \
  do {                                                          \
    void *np_ = realloc((p), (size_t)(n) * sizeof *(p));        \
    if (!np_) return -1;                                        \
    (p) = np_;                                                  \
  } while (0)

/* Room for need candidates over nlegs legs. */
static int reserve(blend_hybrid *h, uint32_t need) {
  if (need <= h->cap) return 0;
  uint32_t cap = need < 256 ? 256 : need;
  GROW(h->doc, cap);
  GROW(h->idoff, cap);
  GROW(h->cells, (size_t)cap * BLEND_MAX_LEGS);
  GROW(h->fused, cap);
  GROW(h->order, cap);
  GROW(h->idp, cap);
  GROW(h->hits, cap);
  GROW(h->rr, cap);
  GROW(h->tmp, cap);
  GROW(h->tmps, cap);
  h->cap = cap;
  return 0;
}

static uint32_t hslot(uint32_t doc, uint32_t mask) {
  uint32_t x = doc * 0x9e3779b1u;
  return (x ^ (x >> 15)) & mask;
}

/* The candidate of doc, added (with every cell missing) when new. */
static int candidate(blend_hybrid *h, uint32_t nlegs, uint32_t doc, uint32_t *out) {
  uint32_t mask = h->hcap - 1, j = hslot(doc, mask);
  while (h->hmap[j]) {
    if (h->doc[h->hmap[j] - 1] == doc) {
      *out = h->hmap[j] - 1;
      return 0;
    }
    j = (j + 1) & mask;
  }
  uint32_t c = h->ncand++;
  h->hmap[j] = c + 1;
  h->doc[c] = doc;
  h->idoff[c] = UINT32_MAX;
  for (uint32_t l = 0; l < nlegs; l++) h->cells[(size_t)c * nlegs + l] = (blend_leg_score){.raw = NAN};
  *out = c;
  return 0;
}

static int start_query(blend_hybrid *h, uint32_t maxcand) {
  if (reserve(h, maxcand)) return -1;
  uint32_t hc = 64;
  while (hc < 2 * maxcand) hc <<= 1;
  if (hc > h->hcap) {
    uint32_t *m = realloc(h->hmap, hc * sizeof *m);
    if (!m) return -1;
    h->hmap = m;
    h->hcap = hc;
  }
  memset(h->hmap, 0, h->hcap * sizeof *h->hmap);
  h->ncand = 0;
  h->ids.len = 0;
  return 0;
}

/* Results of one leg (hits best first) into the table. */
static void add_hits(blend_hybrid *h, uint32_t nlegs, uint32_t leg, const blend_hit *hits,
                     uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t c;
    candidate(h, nlegs, hits[i].doc, &c);
    blend_leg_score *e = &h->cells[(size_t)c * nlegs + leg];
    e->raw = hits[i].score;
    e->rank = i + 1;
    e->retrieved = 1;
  }
}

typedef struct run_item {
  double score;
  const char *doc;
} run_item;

static int cmp_run_item(const void *a, const void *b) {
  const run_item *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return strcmp(y->doc, x->doc); /* trec_eval: ties by docid descending */
}

/* A run leg: the run's documents for the query, ranked as trec_eval ranks.
** Documents the index does not hold get pseudo document numbers from the
** top of the range, and keep their run id. */
static int add_run(blend_hybrid *h, uint32_t nlegs, uint32_t leg, const blend_leg *l,
                   uint32_t depth, uint32_t *pseudo, blend_error *err) {
  const blend_run *r = l->run;
  uint32_t q;
  if (!r || !l->run_query) return blend_seterr(err, BLEND_EINVAL, "run leg %u: no run or query id", leg + 1);
  if (!strmap_get(r->ids.qmap, l->run_query, strlen(l->run_query), &q)) return BLEND_OK; /* empty leg */
  const char *strings = (const char *)r->ids.strings.data;
  uint32_t n = 0;
  for (uint32_t i = 0; i < r->n; i++) n += r->keys[i].q == q;
  run_item *it = malloc((n ? n : 1) * sizeof *it);
  if (!it) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  n = 0;
  for (uint32_t i = 0; i < r->n; i++)
    if (r->keys[i].q == q) it[n++] = (run_item){r->score[i], strings + r->keys[i].doc};
  qsort(it, n, sizeof *it, cmp_run_item);
  if (n > depth) n = depth;
  int rc = BLEND_OK;
  for (uint32_t i = 0; i < n && !rc; i++) {
    uint32_t doc, c;
    if (blend_searcher_find(h->s, it[i].doc, strlen(it[i].doc), &doc, NULL)) doc = (*pseudo)--;
    if (h->ncand == h->cap && reserve(h, h->cap * 2)) {
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
      break;
    }
    candidate(h, nlegs, doc, &c);
    if (doc >= h->ix->ndocs && h->idoff[c] == UINT32_MAX) {
      h->idoff[c] = (uint32_t)h->ids.len;
      if (bbuf_append(&h->ids, it[i].doc, strlen(it[i].doc) + 1))
        rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    }
    blend_leg_score *e = &h->cells[(size_t)c * nlegs + leg];
    e->raw = it[i].score;
    e->rank = i + 1;
    e->retrieved = 1;
  }
  free(it);
  return rc;
}

/* The dense query vector: the leg's, or the query text encoded. */
static int dense_vector(blend_hybrid *h, const blend_hybrid_query *q, const blend_leg *l,
                        const float **vec, uint32_t *dim, blend_error *err) {
  uint32_t d = h->ix->vector.dim;
  if (!d)
    return blend_seterr(err, BLEND_EINVAL,
                        "%s: a dense leg needs a vector field, and this index has none (index "
                        "with --model or --vectors, or use --legs bm25,bm25-multi)",
                        h->ix->dir);
  if (l->vector) {
    if (l->dim != d)
      return blend_seterr(err, BLEND_EINVAL, "dense leg: query vector has %u dimensions, the index %u",
                          l->dim, d);
    *vec = l->vector;
    *dim = d;
    return BLEND_OK;
  }
  if (!q->query_model)
    return blend_seterr(err, BLEND_EINVAL,
                        "dense leg: no query vector and no query model to encode the text with");
  if (d > h->qcap) {
    float *v = realloc(h->qvec, d * sizeof *v);
    if (!v) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    h->qvec = v;
    h->qcap = d;
  }
  int rc = blend_index_embed_query(h->ix, q->query_model, q->text, strlen(q->text), h->qvec, err);
  if (rc) return rc;
  *vec = h->qvec;
  *dim = d;
  return BLEND_OK;
}

/* Score completion of one leg: exact scores of the candidates it missed. */
static int complete_leg(blend_hybrid *h, const blend_hybrid_query *q, uint32_t leg,
                        const float *vec, uint32_t dim, blend_error *err) {
  uint32_t nlegs = q->nlegs, n = 0;
  const blend_leg *l = &q->legs[leg];
  if (l->kind == BLEND_LEG_RUN) return BLEND_OK; /* an external run cannot score more */
  for (uint32_t c = 0; c < h->ncand; c++)
    if (h->cells[(size_t)c * nlegs + leg].rank == 0 && h->doc[c] < h->ix->ndocs)
      h->tmp[n++] = h->doc[c];
  if (!n) return BLEND_OK;
  int rc;
  if (l->kind == BLEND_LEG_DENSE) {
    rc = blend_searcher_vector_scores(h->s, vec, dim, h->tmp, n, h->tmps, err);
  } else {
    blend_search_options o = l->bm25;
    o.field_mode = l->kind == BLEND_LEG_BM25_MULTI ? BLEND_FIELDS_MULTI : BLEND_FIELDS_FLAT;
    rc = blend_search_score_docs(h->s, q->text, &o, h->tmp, n, h->tmps, err);
  }
  if (rc) return rc;
  n = 0;
  for (uint32_t c = 0; c < h->ncand; c++) {
    blend_leg_score *e = &h->cells[(size_t)c * nlegs + leg];
    if (e->rank == 0 && h->doc[c] < h->ix->ndocs) {
      e->raw = h->tmps[n++];
      e->completed = 1;
    }
  }
  return BLEND_OK;
}

static int cmp_rerank(const void *a, const void *b, void *ctx) {
  const blend_hybrid *h = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (h->rr[x] != h->rr[y]) return h->rr[x] > h->rr[y] ? -1 : 1;
  return x < y ? -1 : x > y; /* x, y are fused positions: keep fused order */
}

int blend_hybrid_search(blend_hybrid *h, const blend_hybrid_query *q, blend_hybrid_results *out,
                        blend_error *err) {
  memset(out, 0, sizeof *out);
  if (!q || !q->text) return blend_seterr(err, BLEND_EINVAL, "hybrid query: no text");
  int rc = blend_fusion_options_check(&q->fusion, q->nlegs, err);
  if (rc) return rc;
  uint32_t nlegs = q->nlegs, maxcand = 0;
  for (uint32_t l = 0; l < nlegs; l++) {
    uint32_t d = q->legs[l].depth ? q->legs[l].depth : BLEND_DEFAULT_DEPTH;
    if (d > 100000) return blend_seterr(err, BLEND_EINVAL, "leg %u: depth %u is over 100000", l + 1, d);
    maxcand += d;
  }
  if (start_query(h, maxcand)) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  double t0 = now_seconds();
  double *lower = h->lower, *upper = h->upper;
  const float *vec = NULL;
  uint32_t dim = 0, pseudo = UINT32_MAX - 1;
  for (uint32_t l = 0; l < nlegs; l++) {
    const blend_leg *leg = &q->legs[l];
    uint32_t depth = leg->depth ? leg->depth : BLEND_DEFAULT_DEPTH;
    lower[l] = upper[l] = NAN;
    blend_results r;
    if (leg->kind == BLEND_LEG_BM25 || leg->kind == BLEND_LEG_BM25_MULTI) {
      blend_search_options o = leg->bm25;
      o.k = depth;
      o.field_mode = leg->kind == BLEND_LEG_BM25_MULTI ? BLEND_FIELDS_MULTI : BLEND_FIELDS_FLAT;
      o.filter = q->filter;
      o.explain = 0;
      rc = blend_search(h->s, q->text, &o, &r, err);
      if (rc) return rc;
      add_hits(h, nlegs, l, r.hits, r.count);
      /* tmm bounds (a dictionary lookup per term: computed always, so the
         table serves tuning under any normaliser) */
      lower[l] = 0;
      rc = blend_search_upper_bound(h->s, q->text, &o, &upper[l], err);
      if (rc) return rc;
    } else if (leg->kind == BLEND_LEG_DENSE) {
      rc = dense_vector(h, q, leg, &vec, &dim, err);
      if (rc) return rc;
      blend_dense_options o;
      blend_dense_options_default(&o);
      o.k = depth;
      o.ef = leg->ef;
      o.exact = leg->exact;
      o.filter = q->filter;
      rc = blend_search_vector(h->s, vec, dim, &o, &r, err);
      if (rc) return rc;
      add_hits(h, nlegs, l, r.hits, r.count);
      /* the metric's own range; dot products have no fixed one (observed) */
      if (h->ix->vector.metric == BLEND_METRIC_COSINE) lower[l] = -1, upper[l] = 1;
      else if (h->ix->vector.metric == BLEND_METRIC_L2) upper[l] = 0;
    } else if (leg->kind == BLEND_LEG_RUN) {
      rc = add_run(h, nlegs, l, leg, depth, &pseudo, err);
      if (rc) return rc;
    } else {
      return blend_seterr(err, BLEND_EINVAL, "leg %u: unknown kind %d", l + 1, leg->kind);
    }
    out->leg_upper[l] = upper[l];
  }
  for (uint32_t l = 0; l < nlegs; l++)
    for (uint32_t c = 0; c < h->ncand; c++) out->leg_hits[l] += h->cells[(size_t)c * nlegs + l].retrieved;
  /* external ids (ties in the fused order break on them) */
  for (uint32_t c = 0; c < h->ncand; c++) {
    if (h->idoff[c] != UINT32_MAX) continue;
    const char *id;
    size_t len;
    if (blend_searcher_doc_id(h->s, h->doc[c], &id, &len, err)) return err ? err->code : BLEND_ENOTFOUND;
    h->idoff[c] = (uint32_t)h->ids.len;
    if (bbuf_append(&h->ids, id, len) || bbuf_putc(&h->ids, 0))
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  for (uint32_t c = 0; c < h->ncand; c++) h->idp[c] = (const char *)h->ids.data + h->idoff[c];
  if (q->fusion.complete_scores)
    for (uint32_t l = 0; l < nlegs; l++) {
      rc = complete_leg(h, q, l, vec, dim, err);
      if (rc) return rc;
    }
  double t1 = now_seconds();
  if (fusion_fuse(&q->fusion, nlegs, h->ncand, h->cells, lower, upper, h->fused, &h->fs))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  uint32_t total = fusion_order(h->ncand, h->fused, h->idp, &q->fusion, h->order);
  double t2 = now_seconds();
  /* rerank the top rerank_depth: reorder that block by the cross-encoder */
  uint32_t nr = 0;
  if (q->rerank_model) {
    nr = q->rerank_depth ? q->rerank_depth : 20;
    if (nr > total) nr = total;
    for (uint32_t i = 0; i < nr; i++) h->tmp[i] = h->doc[h->order[i]];
    float *sc = h->tmps;
    rc = rerank_docs(q->rerank_model, h->s, q->text, q->rerank_field ? q->rerank_field : "text",
                     h->tmp, nr, sc, err);
    if (rc) return rc;
    /* rr is indexed by fused position */
    for (uint32_t i = 0; i < nr; i++) h->rr[i] = sc[i];
    for (uint32_t i = 0; i < nr; i++) h->tmp[i] = i;
    qsort_r(h->tmp, nr, sizeof *h->tmp, cmp_rerank, h);
  }
  double t3 = now_seconds();
  /* hits: position p of the final order is fused position pos(p) */
  uint32_t from = q->offset < total ? q->offset : total;
  uint32_t k = q->k ? q->k : 10, to = from + k < total ? from + k : total;
  for (uint32_t p = from; p < to; p++) {
    uint32_t fp = p < nr ? h->tmp[p] : p, c = h->order[fp];
    blend_hybrid_hit *hit = &h->hits[p - from];
    hit->doc = h->doc[c] < h->ix->ndocs ? h->doc[c] : UINT32_MAX;
    hit->id = h->idp[c];
    hit->fused = h->fused[c];
    hit->fused_rank = fp + 1;
    hit->rerank = p < nr ? h->rr[fp] : NAN;
    hit->score = p < nr ? h->rr[fp] : h->fused[c];
    hit->legs = &h->cells[(size_t)c * nlegs];
  }
  out->count = to - from;
  out->hits = h->hits;
  out->nlegs = nlegs;
  out->candidates = h->ncand;
  out->total = total;
  out->reranked = nr;
  out->seconds_legs = t1 - t0;
  out->seconds_fuse = t2 - t1;
  out->seconds_rerank = t3 - t2;
  return BLEND_OK;
}

void hybrid_table(blend_hybrid *h, uint32_t *ncand, blend_leg_score **cells, const char *const **ids,
                  const double **lower, const double **upper) {
  *ncand = h->ncand;
  *cells = h->cells;
  *ids = h->idp;
  *lower = h->lower;
  *upper = h->upper;
}
