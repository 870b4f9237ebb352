/*
** searcher.c — the Searcher: per-thread state over a shared index. A
** search parses the query with the index's own analyzer, computes
** collection-wide BM25 weights, then for each segment builds scorers and
** runs one top-k algorithm into a shared collector (the threshold carries
** across segments). Stored fields, ids and explanations are read on demand.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/filter.h"
#include "analysis/analysis.h"
#include "search/scorer.h"
#include "search/search.h"

/* Scoring units (clause × field) of one query: the top-k algorithms keep
** per-scorer arrays of this size on the stack. */
#define MAX_SCORERS (QUERY_MAX_CLAUSES * 4)
/* Postings cursors of one query per segment: a term unit takes one, a
** phrase unit one per term. The cursor array grows to what a query needs
** (a cursor is ~1 KB) up to this bound; a bigger query is refused. */
#define MAX_PARTS (MAX_SCORERS * 2)
#define INITIAL_PARTS 256
/* Distinct words the searcher's analyzer caches (queries, snippets) before
** it forgets them all: a few MB at most, whatever the process has seen. */
#define SEARCHER_MAX_TERMS 16384

struct blend_searcher {
  blend_index *ix;
  blend_analyzer *an;
  query q;
  /* per-field BM25 norm caches for the current k1/b */
  float K[MAX_FIELDS][256];
  float cache_k1, cache_b;
  int cache_ready;
  /* per-query scratch, sized once */
  scorer *sc;
  pcursor *pcs;       /* [pcs_cap] one per scorer part */
  pcursor **parts;    /* [pcs_cap] */
  uint32_t pcs_cap;
  uint32_t *posbuf;   /* phrases: 2 × POS_CAP */
  topk top;
  blend_hit *hits;
  blend_term_score *explain;
  uint32_t explain_cap;
  uint32_t cap_k;
  store_scratch store;
  bbuf snippet;
  /* dictionary entries of single-term units, [unit × segment], looked up
     once per query for the statistics and reused by the scorers */
  term_entry *tec;
  int8_t *tec_found;
  uint32_t tec_cap;
  searcher_ext *ext;  /* filters and dense search (filter.c, dense.c) */
};

searcher_ext *searcher_ext_get(blend_searcher *s) {
  if (!s->ext) s->ext = calloc(1, sizeof *s->ext);
  return s->ext;
}
blend_index *searcher_index(blend_searcher *s) { return s->ix; }

void blend_search_options_default(blend_search_options *o) {
  memset(o, 0, sizeof *o);
  o->k = 10;
  o->k1 = 0.9f;
  o->b = 0.4f;
  o->field_mode = BLEND_FIELDS_FLAT;
  o->algorithm = BLEND_TOPK_AUTO;
}

int blend_searcher_new(blend_index *ix, blend_searcher **out, blend_error *err) {
  *out = NULL;
  blend_searcher *s = calloc(1, sizeof *s);
  if (!s) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  s->ix = ix;
  int rc = blend_analyzer_new(&ix->analyzer, &s->an, err);
  if (rc) {
    free(s);
    return rc;
  }
  /* a searcher may live as long as a server: flat analyzer memory */
  analyzer_bound_terms(s->an, SEARCHER_MAX_TERMS);
  s->sc = calloc(MAX_SCORERS, sizeof *s->sc);
  s->pcs = calloc(INITIAL_PARTS, sizeof *s->pcs);
  s->parts = calloc(INITIAL_PARTS, sizeof *s->parts);
  s->pcs_cap = INITIAL_PARTS;
  s->posbuf = malloc(2 * POS_CAP * sizeof *s->posbuf);
  if (!s->sc || !s->pcs || !s->parts || !s->posbuf) {
    blend_searcher_free(s);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  *out = s;
  return BLEND_OK;
}

void blend_searcher_free(blend_searcher *s) {
  if (!s) return;
  blend_analyzer_free(s->an);
  query_free(&s->q);
  free(s->sc);
  free(s->pcs);
  free(s->parts);
  free(s->posbuf);
  free(s->top.score);
  free(s->top.doc);
  free(s->hits);
  free(s->explain);
  store_scratch_free(&s->store);
  bbuf_free(&s->snippet);
  free(s->tec);
  free(s->tec_found);
  searcher_ext_free(s->ext);
  free(s);
}

static int lookup_field(void *ctx, const char *name, size_t len) {
  blend_index *ix = ctx;
  for (uint32_t f = 0; f < ix->nfields; f++)
    if (strlen(ix->field_names[f]) == len && !memcmp(ix->field_names[f], name, len)) return (int)f;
  return -1;
}

static void prepare_norm_cache(blend_searcher *s, float k1, float b) {
  if (s->cache_ready && s->cache_k1 == k1 && s->cache_b == b) return;
  for (uint32_t f = 0; f < s->ix->nfields; f++) {
    double n = (double)s->ix->docs_with[f];
    float avgdl = n > 0 ? (float)((double)s->ix->sum_dl[f] / n) : 1.0f;
    if (avgdl <= 0) avgdl = 1.0f;
    for (int i = 0; i < 256; i++)
      s->K[f][i] = k1 * ((1 - b) + b * (float)norm_decode((uint8_t)i) / avgdl);
  }
  s->cache_k1 = k1;
  s->cache_b = b;
  s->cache_ready = 1;
}

static float field_weight(const blend_search_options *o, const char *name) {
  for (uint32_t i = 0; i < o->nfield_weights && i < BLEND_MAX_FIELD_WEIGHTS; i++)
    if (!strcmp(o->field_weights[i].name, name)) return o->field_weights[i].weight;
  return 1.0f;
}

static float idf(const blend_index *ix, uint32_t field, uint64_t df) {
  double n = (double)ix->docs_with[field];
  if ((double)df > n) n = (double)df;
  return (float)log(1.0 + (n - (double)df + 0.5) / ((double)df + 0.5));
}

/* A unit of scoring: one clause on one field. */
typedef struct unit {
  uint32_t clause, field;
  float weight;
  int cached; /* single term: entries in the searcher's tec arrays */
} unit;

/* Sum of df over segments; when tec is given, each segment's entry (and
** whether it was found) is stored there. */
static uint64_t global_df(const blend_index *ix, uint32_t field, const char *term, size_t len,
                          int *corrupt, term_entry *tec, int8_t *found) {
  uint64_t df = 0;
  term_entry te;
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    /* fields are numbered per segment: find this one by name */
    const segment *seg = &ix->segs[i];
    int sf = -1;
    for (uint32_t f = 0; f < seg->nfields && sf < 0; f++)
      if (!strcmp(seg->field_names[f], ix->field_names[field])) sf = (int)f;
    if (sf < 0) {
      if (found) found[i] = 0;
      continue;
    }
    int r = segment_term(seg, (uint32_t)sf, term, len, tec ? &tec[i] : &te);
    if (r < 0) *corrupt = 1;
    if (found) found[i] = (int8_t)(r > 0);
    if (r > 0) df += tec ? tec[i].df : te.df;
  }
  return df;
}

/* Build the scorers of one segment; returns count, or -1 if a must clause
** cannot match here. */
static int build_scorers(blend_searcher *s, uint32_t segno, const unit *units, uint32_t nunits,
                         int *corrupt) {
  const segment *seg = &s->ix->segs[segno];
  uint32_t nsc = 0, npc = 0;
  /* map segment field index from index field name */
  for (uint32_t u = 0; u < nunits; u++) {
    const qclause *c = &s->q.clauses[units[u].clause];
    int sf = -1;
    for (uint32_t f = 0; f < seg->nfields; f++)
      if (!strcmp(seg->field_names[f], s->ix->field_names[units[u].field])) sf = (int)f;
    term_entry te[QUERY_MAX_PHRASE];
    int found = sf >= 0;
    if (found && c->nterms == 1 && units[u].cached) {
      size_t at = (size_t)u * s->ix->nsegs + segno;
      found = s->tec_found[at];
      te[0] = s->tec[at];
    } else
    for (uint32_t t = 0; found && t < c->nterms; t++) {
      int r = segment_term(seg, (uint32_t)sf, qterm(&s->q, c, t), c->term_len[t], &te[t]);
      if (r < 0) *corrupt = 1;
      if (r <= 0) found = 0;
    }
    if (!found || (c->nterms > 1 && !seg->positions)) continue;
    scorer *sc = &s->sc[nsc++];
    memset(sc, 0, sizeof *sc);
    sc->occur = c->occur;
    sc->clause = units[u].clause;
    sc->field = units[u].field;
    sc->weight = units[u].weight;
    sc->K = s->K[units[u].field];
    sc->norms = seg->norms[sf];
    if (c->nterms == 1) {
      sc->pc = &s->pcs[npc++];
      pcursor_init(sc->pc, seg, &te[0]);
      sc->doc = sc->pc->doc;
      sc->upper = bm25(sc->weight, te[0].max_tf, sc->K[te[0].min_norm]);
    } else {
      sc->is_phrase = 1;
      sc->parts = &s->parts[npc];
      sc->nparts = c->nterms;
      sc->rel = c->pos;
      sc->posbuf = s->posbuf;
      for (uint32_t t = 0; t < c->nterms; t++) {
        s->parts[npc] = &s->pcs[npc];
        pcursor_init(&s->pcs[npc], seg, &te[t]);
        npc++;
      }
      /* tf ≤ min tf of parts; bm25 grows with tf, so the smallest max_tf
         and the smallest min norm bound it */
      uint32_t mtf = UINT32_MAX;
      uint8_t mn = 255;
      for (uint32_t t = 0; t < c->nterms; t++) {
        if (te[t].max_tf < mtf) mtf = te[t].max_tf;
        if (te[t].min_norm < mn) mn = te[t].min_norm;
      }
      sc->upper = bm25(sc->weight, mtf, sc->K[mn]);
      scorer_init_phrase(sc);
    }
  }
  /* a must clause (over one or several fields) with no scorer here means
     no document of this segment can match */
  for (uint32_t u = 0; u < nunits; u++) {
    if (s->q.clauses[units[u].clause].occur != OCCUR_MUST) continue;
    int have = 0;
    for (uint32_t i = 0; i < nsc && !have; i++) have = s->sc[i].clause == units[u].clause;
    if (!have) return -1;
  }
  return (int)nsc;
}

static int ensure_k(blend_searcher *s, uint32_t k) {
  if (k <= s->cap_k) return 0;
  float *sc = realloc(s->top.score, k * sizeof *sc);
  if (sc) s->top.score = sc;
  uint32_t *d = realloc(s->top.doc, k * sizeof *d);
  if (d) s->top.doc = d;
  blend_hit *h = realloc(s->hits, k * sizeof *h);
  if (h) s->hits = h;
  if (!sc || !d || !h) return -1;
  s->cap_k = k;
  return 0;
}

/* Room for n postings cursors (grown once per larger query, never shrunk). */
static int ensure_parts(blend_searcher *s, size_t n) {
  if (n <= s->pcs_cap) return 0;
  pcursor *p = realloc(s->pcs, n * sizeof *p);
  if (p) s->pcs = p;
  pcursor **q = realloc(s->parts, n * sizeof *q);
  if (q) s->parts = q;
  if (!p || !q) return -1;
  s->pcs_cap = (uint32_t)n;
  return 0;
}

static int explain_hits(blend_searcher *s, const unit *units, uint32_t nunits, blend_results *out,
                        blend_error *err);

int blend_search(blend_searcher *s, const char *qtext, const blend_search_options *opts,
                 blend_results *out, blend_error *err) {
  blend_search_options def;
  if (!opts) {
    blend_search_options_default(&def);
    opts = &def;
  }
  memset(out, 0, sizeof *out);
  if (!qtext) return blend_seterr(err, BLEND_EINVAL, "query is NULL");
  if (!(opts->k1 >= 0) || !(opts->b >= 0 && opts->b <= 1))
    return blend_seterr(err, BLEND_EINVAL, "BM25 parameters out of range (k1 ≥ 0, 0 ≤ b ≤ 1)");
  if (opts->k > 100000) return blend_seterr(err, BLEND_EINVAL, "k must be at most 100000");
  /* a negative weight turns score upper bounds into lower bounds, so
     MaxScore/BMW would prune documents exhaustive search keeps */
  if (opts->nfield_weights > BLEND_MAX_FIELD_WEIGHTS)
    return blend_seterr(err, BLEND_EINVAL, "%u field weights, at most %d", opts->nfield_weights,
                        BLEND_MAX_FIELD_WEIGHTS);
  for (uint32_t i = 0; i < opts->nfield_weights; i++)
    if (!(opts->field_weights[i].weight >= 0) || isinf(opts->field_weights[i].weight))
      return blend_seterr(err, BLEND_EINVAL, "field weight %.32s=%g: must be finite and at least 0",
                          opts->field_weights[i].name, (double)opts->field_weights[i].weight);
  blend_index *ix = s->ix;
  int rc = query_parse(&s->q, qtext, s->an, lookup_field, ix, err);
  if (rc) return rc;
  prepare_norm_cache(s, opts->k1, opts->b);
  if (ensure_k(s, opts->k ? opts->k : 1)) return blend_seterr(err, BLEND_ENOMEM, "out of memory");

  /* expand clauses over fields and compute global weights */
  unit units[MAX_SCORERS];
  uint32_t nunits = 0;
  int corrupt = 0;
  size_t need = (size_t)MAX_SCORERS * ix->nsegs;
  if (ix->nsegs && need > s->tec_cap) {
    /* sized for the largest query once, so later queries do not allocate */
    term_entry *t = realloc(s->tec, need * sizeof *t);
    if (t) s->tec = t;
    int8_t *f = t ? realloc(s->tec_found, need) : NULL;
    if (f) s->tec_found = f;
    if (!t || !f) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    s->tec_cap = (uint32_t)need;
  }
  /* size the query before expanding it: every unit and cursor must fit */
  size_t want_units = 0, want_parts = 0;
  for (uint32_t ci = 0; ci < s->q.nclauses; ci++) {
    const qclause *c = &s->q.clauses[ci];
    size_t nf = c->field == QUERY_DEFAULT_FIELD && opts->field_mode == BLEND_FIELDS_MULTI
                    ? (ix->nfields > 1 ? ix->nfields - 1 : 0)
                    : 1;
    want_units += nf;
    want_parts += nf * c->nterms;
  }
  if (want_units > MAX_SCORERS)
    return blend_seterr(err, BLEND_EINVAL,
                        "query too complex: %zu clause×field scorers, limit %u (fewer clauses, "
                        "or flat fields)",
                        want_units, MAX_SCORERS);
  if (want_parts > MAX_PARTS)
    return blend_seterr(err, BLEND_EINVAL,
                        "query too complex: %zu term lookups (phrase terms × fields), limit %u",
                        want_parts, MAX_PARTS);
  if (ensure_parts(s, want_parts)) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  int pure_terms = 1;
  for (uint32_t ci = 0; ci < s->q.nclauses; ci++) {
    const qclause *c = &s->q.clauses[ci];
    uint32_t fields[MAX_FIELDS], nf = 0;
    if ((c->field > 0 || (c->field == QUERY_DEFAULT_FIELD && opts->field_mode == BLEND_FIELDS_MULTI)) &&
        !ix->field_views)
      return blend_seterr(err, BLEND_EUNSUPPORTED,
                          "%s: built without field views (blend index --flat-only): only the flat "
                          "'contents' field is searchable",
                          ix->dir);
    if (c->field != QUERY_DEFAULT_FIELD) fields[nf++] = (uint32_t)c->field;
    else if (opts->field_mode == BLEND_FIELDS_MULTI) {
      for (uint32_t f = 1; f < ix->nfields; f++) fields[nf++] = f;
    } else fields[nf++] = 0;
    for (uint32_t k = 0; k < nf && nunits < MAX_SCORERS; k++) {
      float w = 0;
      int cached = c->nterms == 1;
      size_t at = (size_t)nunits * ix->nsegs;
      for (uint32_t t = 0; t < c->nterms; t++)
        w += idf(ix, fields[k],
                 global_df(ix, fields[k], qterm(&s->q, c, t), c->term_len[t], &corrupt,
                           cached ? s->tec + at : NULL, cached ? s->tec_found + at : NULL));
      float fw = c->field == QUERY_DEFAULT_FIELD && opts->field_mode == BLEND_FIELDS_MULTI
                     ? field_weight(opts, ix->field_names[fields[k]])
                     : 1.0f;
      units[nunits++] = (unit){ci, fields[k], w * c->boost * fw, cached};
    }
    if (c->occur != OCCUR_SHOULD || c->nterms > 1) pure_terms = 0;
  }
  out->nquery_terms = s->q.nclauses;
  topk *t = &s->top;
  t->k = opts->k;
  t->n = 0;
  t->scored = 0;
  int algo = opts->algorithm;
  if (!pure_terms) algo = BLEND_TOPK_EXHAUSTIVE;
  else if (algo == BLEND_TOPK_AUTO) algo = BLEND_TOPK_MAXSCORE;
  if (opts->filter) {
    rc = filter_check(opts->filter, ix, err);
    if (rc) return rc;
  }
  searcher_ext *ext = searcher_ext_get(s);
  if (!ext) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < ix->nsegs && nunits > 0 && opts->k > 0; i++) {
    const segment *seg = &ix->segs[i];
    uint32_t allowed;
    rc = filter_segment(opts->filter, seg, ext, &t->allow, &allowed, err);
    if (rc) return rc;
    t->allow_base = seg->base;
    if (allowed == 0) continue;
    int n = build_scorers(s, i, units, nunits, &corrupt);
    if (n <= 0) continue;
    if (algo == BLEND_TOPK_MAXSCORE) run_maxscore(s->sc, (uint32_t)n, seg->base, t);
    else if (algo == BLEND_TOPK_BMW) run_bmw(s->sc, (uint32_t)n, seg->base, t);
    else run_exhaustive(s->sc, (uint32_t)n, seg->base, t);
    for (int j = 0; j < n; j++) {
      if (s->sc[j].pc && s->sc[j].pc->corrupt) corrupt = 1;
      for (uint32_t p = 0; s->sc[j].is_phrase && p < s->sc[j].nparts; p++)
        if (s->sc[j].parts[p]->corrupt) corrupt = 1;
    }
  }
  t->allow = NULL;
  if (corrupt)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: index data is corrupt (postings or dictionary)", ix->dir);
  topk_sort(t);
  for (uint32_t i = 0; i < t->n; i++) {
    s->hits[i].doc = t->doc[i];
    s->hits[i].score = t->score[i];
    s->hits[i].nterms = 0;
    s->hits[i].terms = NULL;
  }
  out->count = t->n;
  out->hits = s->hits;
  out->matched = t->scored;
  if (opts->explain) return explain_hits(s, units, nunits, out, err);
  return BLEND_OK;
}

static const segment *seg_of(const blend_index *ix, uint32_t doc, uint32_t *local, uint32_t *segno) {
  return index_segment_of(ix, doc, local, segno);
}

/* Recompute each hit's per-clause contributions with fresh cursors. */
static int explain_hits(blend_searcher *s, const unit *units, uint32_t nunits, blend_results *out,
                        blend_error *err) {
  uint32_t need = out->count * (nunits ? nunits : 1);
  if (need > s->explain_cap) {
    blend_term_score *p = realloc(s->explain, need * sizeof *p);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    s->explain = p;
    s->explain_cap = need;
  }
  uint32_t used = 0;
  for (uint32_t h = 0; h < out->count; h++) {
    uint32_t local, segno;
    const segment *seg = seg_of(s->ix, s->hits[h].doc, &local, &segno);
    s->hits[h].terms = s->explain + used;
    if (!seg) continue;
    int corrupt = 0;
    int n = build_scorers(s, segno, units, nunits, &corrupt);
    for (int j = 0; j < n; j++) {
      scorer *sc = &s->sc[j];
      if (sc->occur == OCCUR_MUST_NOT) continue;
      scorer_advance(sc, local);
      if (sc->doc != local) continue;
      const qclause *c = &s->q.clauses[sc->clause];
      blend_term_score *e = &s->explain[used++];
      e->field = s->ix->field_names[sc->field];
      e->term = s->q.text + c->display_off; /* a phrase: its terms joined by spaces */
      e->tf = scorer_tf(sc);
      e->score = scorer_score(sc);
      e->df = 0;
      term_entry te;
      if (c->nterms == 1) {
        for (uint32_t i = 0; i < s->ix->nsegs; i++) {
          int sf = -1;
          for (uint32_t f = 0; f < s->ix->segs[i].nfields; f++)
            if (!strcmp(s->ix->segs[i].field_names[f], e->field)) sf = (int)f;
          if (sf >= 0 && segment_term(&s->ix->segs[i], (uint32_t)sf, e->term, c->term_len[0], &te) > 0)
            e->df += te.df;
        }
      }
      s->hits[h].nterms++;
    }
  }
  return BLEND_OK;
}

int blend_searcher_doc_id(blend_searcher *s, uint32_t doc, const char **id, size_t *len,
                          blend_error *err) {
  uint32_t local;
  const segment *seg = seg_of(s->ix, doc, &local, NULL);
  if (!seg || segment_doc_id(seg, local, id, len))
    return blend_seterr(err, BLEND_ENOTFOUND, "no document %u", doc);
  return BLEND_OK;
}

int blend_searcher_doc_field(blend_searcher *s, uint32_t doc, const char *field, const char **text,
                             size_t *len, blend_error *err) {
  uint32_t local, segno;
  const segment *seg = seg_of(s->ix, doc, &local, &segno);
  if (!seg) return blend_seterr(err, BLEND_ENOTFOUND, "no document %u", doc);
  int sf = -1;
  for (uint32_t f = 0; f < seg->nfields; f++)
    if (!strcmp(seg->field_names[f], field)) sf = (int)f;
  if (sf < 0) return blend_seterr(err, BLEND_ENOTFOUND, "no field '%s' in the index", field);
  return segment_doc_field(seg, &s->store, segno, local, (uint32_t)sf, text, len, err);
}

blend_analyzer *searcher_analyzer(blend_searcher *s) { return s->an; }
bbuf *searcher_snippet_buf(blend_searcher *s) { return &s->snippet; }
int searcher_parse(blend_searcher *s, query *q, const char *text, blend_error *err) {
  return query_parse(q, text, s->an, lookup_field, s->ix, err);
}
