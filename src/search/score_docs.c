/*
** score_docs.c — lexical scores on demand, for hybrid fusion: the exact
** BM25 score of given documents (score completion) and a query's
** theoretical upper bound (tmm normalisation). Completion runs the normal
** search restricted to the documents by an id allow-list, so its scores
** are blend_search's by construction; the bound mirrors searcher.c's
** weights (idf × boost × field weight) with each term's list-wide
** (max tf, min norm) impact.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/filter.h"
#include "search/scorer.h"
#include "search/search.h"

int blend_search_score_docs(blend_searcher *s, const char *text,
                            const blend_search_options *opts, const uint32_t *docs,
                            uint32_t n, float *scores, blend_error *err) {
  for (uint32_t i = 0; i < n; i++) scores[i] = 0;
  if (!n) return BLEND_OK;
  blend_search_options o;
  if (opts) o = *opts;
  else blend_search_options_default(&o);
  /* ids of the documents (doc_id's strings only live until the next call) */
  char **ids = calloc(n, sizeof *ids);
  size_t *lens = calloc(n, sizeof *lens);
  blend_filter *f = NULL;
  int rc = ids && lens ? blend_filter_new(&f, err) : blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (uint32_t i = 0; !rc && i < n; i++) {
    const char *id;
    size_t len;
    if (blend_searcher_doc_id(s, docs[i], &id, &len, NULL)) continue; /* scores 0 */
    ids[i] = malloc(len + 1);
    if (!ids[i]) {
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
      break;
    }
    memcpy(ids[i], id, len);
    ids[i][len] = 0;
    lens[i] = len;
  }
  uint32_t m = 0;
  for (uint32_t i = 0; !rc && i < n; i++)
    if (ids[i]) ids[m] = ids[i], lens[m++] = lens[i];
  if (!rc && m) rc = blend_filter_allow_ids(f, (const char *const *)ids, lens, m, err);
  if (!rc && m) {
    o.k = n;
    o.filter = f;
    o.explain = 0;
    blend_results r;
    rc = blend_search(s, text, &o, &r, err);
    /* map hits back (n is a leg's depth: a few hundred, so a scan is fine
       next to the search itself) */
    for (uint32_t h = 0; !rc && h < r.count; h++)
      for (uint32_t i = 0; i < n; i++)
        if (docs[i] == r.hits[h].doc) scores[i] = r.hits[h].score;
  }
  for (uint32_t i = 0; ids && i < m; i++) free(ids[i]);
  free(ids);
  free(lens);
  blend_filter_free(f);
  return rc;
}

static int field_of(void *ctx, const char *name, size_t len) {
  blend_index *ix = ctx;
  for (uint32_t f = 0; f < ix->nfields; f++)
    if (strlen(ix->field_names[f]) == len && !memcmp(ix->field_names[f], name, len)) return (int)f;
  return -1;
}

static float fweight(const blend_search_options *o, const char *name) {
  for (uint32_t i = 0; i < o->nfield_weights && i < BLEND_MAX_FIELD_WEIGHTS; i++)
    if (!strcmp(o->field_weights[i].name, name)) return o->field_weights[i].weight;
  return 1.0f;
}

/* The segment's field number of index field f, or -1. */
static int seg_field(const blend_index *ix, const segment *seg, uint32_t f) {
  for (uint32_t i = 0; i < seg->nfields; i++)
    if (!strcmp(seg->field_names[i], ix->field_names[f])) return (int)i;
  return -1;
}

int blend_search_upper_bound(blend_searcher *s, const char *text,
                             const blend_search_options *opts, double *upper,
                             blend_error *err) {
  *upper = 0;
  blend_search_options def;
  if (!opts) {
    blend_search_options_default(&def);
    opts = &def;
  }
  blend_index *ix = searcher_index(s);
  query q = {0};
  int rc = query_parse(&q, text, searcher_analyzer(s), field_of, ix, err);
  if (rc) {
    query_free(&q);
    return rc;
  }
  double total = 0;
  for (uint32_t ci = 0; ci < q.nclauses; ci++) {
    const qclause *c = &q.clauses[ci];
    if (c->occur == OCCUR_MUST_NOT) continue;
    uint32_t fields[MAX_FIELDS], nf = 0;
    if (c->field != QUERY_DEFAULT_FIELD) fields[nf++] = (uint32_t)c->field;
    else if (opts->field_mode == BLEND_FIELDS_MULTI)
      for (uint32_t f = 1; f < ix->nfields; f++) fields[nf++] = f;
    else fields[nf++] = 0;
    for (uint32_t k = 0; k < nf; k++) {
      uint32_t f = fields[k];
      double n = (double)ix->docs_with[f];
      double avgdl = n > 0 ? (double)ix->sum_dl[f] / n : 1.0;
      if (avgdl <= 0) avgdl = 1.0;
      double w = 0, best = 0;
      uint32_t mtf = 0;
      uint8_t mn = 255;
      for (uint32_t t = 0; t < c->nterms; t++) {
        uint64_t df = 0;
        for (uint32_t i = 0; i < ix->nsegs; i++) {
          const segment *seg = &ix->segs[i];
          int sf = seg_field(ix, seg, f);
          term_entry te;
          if (sf < 0 || segment_term(seg, (uint32_t)sf, qterm(&q, c, t), c->term_len[t], &te) <= 0)
            continue;
          df += te.df;
          if (te.max_tf > mtf) mtf = te.max_tf;
          if (te.min_norm < mn) mn = te.min_norm;
        }
        double N = n > (double)df ? n : (double)df;
        w += log(1.0 + (N - (double)df + 0.5) / ((double)df + 0.5));
      }
      if (!mtf) continue; /* a term no segment holds contributes nothing */
      double fw = c->field == QUERY_DEFAULT_FIELD && opts->field_mode == BLEND_FIELDS_MULTI
                      ? fweight(opts, ix->field_names[f])
                      : 1.0;
      w *= c->boost * fw;
      if (c->nterms == 1) {
        double K = opts->k1 * ((1 - opts->b) + opts->b * (double)norm_decode(mn) / avgdl);
        best = w * mtf / (mtf + K);
      } else {
        best = w; /* tf/(tf + K) < 1 */
      }
      total += best;
    }
  }
  query_free(&q);
  /* the scorers round to float: leave room for that */
  *upper = total * BOUND_SLACK;
  return BLEND_OK;
}
