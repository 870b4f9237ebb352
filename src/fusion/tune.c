/*
** tune.c — fusion tuning from labelled queries: the grid (normaliser ×
** fusion × weights / RRF k), scoring every grid point on every query with
** trec_eval's arithmetic (eval_metric_value over the fused order, which is
** trec_eval's order), and N-fold cross-validation that reports only
** held-out figures. The candidates × legs tables are built once; each grid
** point re-fuses them (fusion_fuse is idempotent on its inputs).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "fusion/fusion.h"
#include "util/util.h"

/* Weight vectors on the simplex with the given step (w ≥ 0, Σ = 1). */
static uint32_t simplex(uint32_t nlegs, uint32_t steps, double *out /* [max × nlegs] */,
                        uint32_t max) {
  uint32_t n = 0, c[BLEND_MAX_LEGS] = {0};
  for (;;) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < nlegs; i++) sum += c[i];
    if (sum <= steps && n < max) {
      for (uint32_t i = 0; i + 1 < nlegs; i++) out[n * nlegs + i] = (double)c[i] / steps;
      out[n * nlegs + nlegs - 1] = (double)(steps - sum) / steps;
      n++;
    }
    uint32_t i = 0;
    while (i + 1 < nlegs && ++c[i] > steps) c[i++] = 0;
    if (i + 1 >= nlegs) break;
  }
  return n;
}

static void label_weights(char *buf, size_t cap, const double *w, uint32_t n) {
  size_t used = 0;
  for (uint32_t i = 0; i < n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%.2f", i ? "," : "", w[i]);
}

uint32_t tune_grid(uint32_t nlegs, const blend_fusion_options *base, tune_config **out) {
  enum { MAXW = 512 };
  double *w = malloc(MAXW * BLEND_MAX_LEGS * sizeof *w);
  uint32_t steps = nlegs <= 2 ? 20 : nlegs == 3 ? 10 : 4;
  uint32_t nw = w ? simplex(nlegs, steps, w, MAXW) : 0;
  uint32_t rrf_steps = nlegs <= 2 ? 10 : steps;
  static const double ks[] = {1, 5, 10, 20, 40, 60, 100, 200};
  double *rw = malloc(MAXW * BLEND_MAX_LEGS * sizeof *rw);
  uint32_t nrw = rw ? simplex(nlegs, rrf_steps, rw, MAXW) : 0;
  uint32_t n = 8 * (nw + 3) + 8 * nrw;
  tune_config *c = calloc(n ? n : 1, sizeof *c);
  if (!c || !nw || !nrw) {
    free(c);
    free(w);
    free(rw);
    *out = NULL;
    return 0;
  }
  uint32_t k = 0;
  char wl[64];
  for (int norm = BLEND_NORM_NONE; norm <= BLEND_NORM_BORDA; norm++) {
    for (uint32_t i = 0; i < nw; i++) {
      tune_config *t = &c[k++];
      t->fo = *base;
      t->fo.norm = norm;
      t->fo.fusion = BLEND_FUSION_CC;
      t->fo.alpha = -1;
      t->fo.nweights = nlegs;
      memcpy(t->fo.weights, w + i * nlegs, nlegs * sizeof *w);
      label_weights(wl, sizeof wl, t->fo.weights, nlegs);
      snprintf(t->label, sizeof t->label, "%s cc w=%s", blend_norm_name(norm), wl);
    }
    for (int f = BLEND_FUSION_COMBSUM; f <= BLEND_FUSION_COMBMAX; f++) {
      tune_config *t = &c[k++];
      t->fo = *base;
      t->fo.norm = norm;
      t->fo.fusion = f;
      t->fo.alpha = -1;
      t->fo.nweights = 0;
      snprintf(t->label, sizeof t->label, "%s %s", blend_norm_name(norm), blend_fusion_name(f));
    }
  }
  for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
    for (uint32_t i = 0; i < nrw; i++) {
      tune_config *t = &c[k++];
      t->fo = *base;
      t->fo.norm = BLEND_NORM_NONE; /* RRF uses ranks only */
      t->fo.fusion = BLEND_FUSION_RRF;
      t->fo.rrf_k = ks[ki];
      t->fo.alpha = -1;
      t->fo.nweights = nlegs;
      memcpy(t->fo.weights, rw + i * nlegs, nlegs * sizeof *rw);
      label_weights(wl, sizeof wl, t->fo.weights, nlegs);
      snprintf(t->label, sizeof t->label, "rrf k=%g w=%s", ks[ki], wl);
    }
  free(w);
  free(rw);
  *out = c;
  return k;
}

void tune_set_free(tune_set *s) {
  for (uint32_t i = 0; s->rel && i < s->nq; i++) free(s->rel[i]);
  free(s->rel);
  if (s->owns_queries)
    for (uint32_t i = 0; s->q && i < s->nq; i++) {
      free(s->q[i].ids);
      free(s->q[i].cells);
    }
  free(s->q);
  free(s->lower);
  free(s->upper);
  memset(s, 0, sizeof *s);
}

int tune_set_rels(tune_set *s, blend_error *err) {
  const blend_qrels *qr = s->qr;
  s->rel = calloc(s->nq ? s->nq : 1, sizeof *s->rel);
  if (!s->rel) return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  s->judged = 0;
  for (uint32_t i = 0; i < s->nq; i++) {
    fuse_query *fq = &s->q[i];
    if (qr->nrel[i] && fq->ncand) s->judged++;
    s->rel[i] = malloc((fq->ncand ? fq->ncand : 1) * sizeof **s->rel);
    if (!s->rel[i]) return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
    for (uint32_t c = 0; c < fq->ncand; c++)
      s->rel[i][c] = eval_qrels_rel(qr, i, fq->ids[c], strlen(fq->ids[c]));
  }
  if (!s->judged)
    return blend_seterr(err, BLEND_EINVAL,
                        "no judged query to tune on: none of the %u qrels queries has both a "
                        "relevant (rel > 0) judgement and results",
                        s->nq);
  return BLEND_OK;
}

int tune_set_from_table(const blend_qrels *qr, const fuse_table *t, tune_set *s,
                        blend_error *err) {
  memset(s, 0, sizeof *s);
  s->qr = qr;
  s->nlegs = t->nlegs;
  s->nq = blend_qrels_queries(qr);
  s->q = calloc(s->nq ? s->nq : 1, sizeof *s->q);
  strmap *m = strmap_new();
  if (!s->q || !m) {
    strmap_free(m);
    return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  }
  for (uint32_t i = 0; i < t->nq; i++) {
    uint32_t v = i;
    if (strmap_upsert(m, t->qids[i], strlen(t->qids[i]), &v) < 0) {
      strmap_free(m);
      return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
    }
  }
  for (uint32_t i = 0; i < s->nq; i++) {
    const char *qid = blend_qrels_query_id(qr, i);
    uint32_t v;
    if (strmap_get(m, qid, strlen(qid), &v)) s->q[i] = t->q[v];
  }
  strmap_free(m);
  /* runs: tmm's lower bound is 0 (BM25, SPLADE: non-negative scorers), the
     upper one the observed maximum (Bruch et al.'s definition) */
  s->lower = calloc((size_t)s->nq * s->nlegs + 1, sizeof *s->lower);
  if (!s->lower) return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  return tune_set_rels(s, err);
}

int tune_evaluate(const tune_set *s, const char *metric, tune_config *cfg, uint32_t ncfg,
                  double *values, blend_error *err) {
  eval_metric m;
  int rc = eval_metric_parse(metric, &m, err);
  if (rc) return rc;
  const blend_qrels *qr = s->qr;
  uint32_t maxc = 1;
  for (uint32_t i = 0; i < s->nq; i++)
    if (s->q[i].ncand > maxc) maxc = s->q[i].ncand;
  double *fused = malloc(maxc * sizeof *fused);
  uint32_t *order = malloc(maxc * sizeof *order);
  int32_t *rels = malloc(maxc * sizeof *rels);
  fusion_scratch fs = {0};
  if (!fused || !order || !rels) rc = blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  for (uint32_t c = 0; !rc && c < ncfg; c++) {
    double sum = 0;
    for (uint32_t i = 0; i < s->nq; i++) {
      fuse_query *fq = &s->q[i];
      double v = 0;
      if (fq->ncand) {
        if (fusion_fuse(&cfg[c].fo, s->nlegs, fq->ncand, fq->cells,
                        s->lower ? s->lower + (size_t)i * s->nlegs : NULL,
                        s->upper ? s->upper + (size_t)i * s->nlegs : NULL, fused, &fs)) {
          rc = blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
          break;
        }
        uint32_t n = fusion_order(fq->ncand, fused, fq->ids, &cfg[c].fo, order);
        if (m.cut && n > m.cut) n = m.cut;
        for (uint32_t r = 0; r < n; r++) rels[r] = s->rel[i][order[r]];
        v = eval_metric_value(&m, rels, n, qr->nrel[i], qr->gains + qr->gstart[i],
                              qr->gstart[i + 1] - qr->gstart[i]);
      }
      if (values) values[(size_t)c * s->nq + i] = v;
      sum += v;
    }
    cfg[c].mean = s->nq ? sum / s->nq : 0;
  }
  free(fused);
  free(order);
  free(rels);
  fusion_scratch_free(&fs);
  return rc;
}

/* Folds: queries ordered by a hash of their id (so folds do not depend on
** file order, and neighbouring ids spread out), then dealt round-robin (so
** folds differ in size by at most one). */
typedef struct fold_item {
  uint64_t h;
  const char *id;
  uint32_t i;
} fold_item;

static int cmp_fold(const void *a, const void *b) {
  const fold_item *x = a, *y = b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  return strcmp(x->id, y->id);
}

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

int tune_folds(const tune_set *s, const double *values, const tune_config *cfg, uint32_t ncfg,
               uint32_t nfolds, tune_folds_result *r, blend_error *err) {
  memset(r, 0, sizeof *r);
  if (nfolds < 2 || nfolds > TUNE_MAX_FOLDS)
    return blend_seterr(err, BLEND_EINVAL, "--folds must be 2..%d, not %u", TUNE_MAX_FOLDS, nfolds);
  if (nfolds > s->nq)
    return blend_seterr(err, BLEND_EINVAL, "--folds %u: only %u queries", nfolds, s->nq);
  uint32_t *fold = malloc((s->nq ? s->nq : 1) * sizeof *fold);
  if (!fold) return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  fold_item *it = malloc((s->nq ? s->nq : 1) * sizeof *it);
  if (!it) {
    free(fold);
    return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  }
  for (uint32_t i = 0; i < s->nq; i++) {
    const char *id = blend_qrels_query_id(s->qr, i);
    it[i] = (fold_item){mix(hash_bytes(id, strlen(id))), id, i};
  }
  qsort(it, s->nq, sizeof *it, cmp_fold);
  for (uint32_t j = 0; j < s->nq; j++) {
    fold[it[j].i] = j % nfolds;
    r->queries[j % nfolds]++;
  }
  free(it);
  for (uint32_t f = 0; f < nfolds; f++)
    if (!r->queries[f]) {
      free(fold);
      return blend_seterr(err, BLEND_EINVAL, "--folds %u: fold %u gets no query (use fewer folds)",
                          nfolds, f + 1);
    }
  r->nfolds = nfolds;
  double total = 0;
  for (uint32_t f = 0; f < nfolds; f++) {
    /* choose on the other folds (first best wins: grid order breaks ties) */
    double best = -INFINITY;
    uint32_t bc = 0;
    for (uint32_t c = 0; c < ncfg; c++) {
      double sum = 0;
      for (uint32_t i = 0; i < s->nq; i++)
        if (fold[i] != f) sum += values[(size_t)c * s->nq + i];
      if (sum > best + 1e-12) best = sum, bc = c;
    }
    r->chosen[f] = bc;
    double held = 0;
    for (uint32_t i = 0; i < s->nq; i++)
      if (fold[i] == f) held += values[(size_t)bc * s->nq + i];
    r->fold_mean[f] = held / r->queries[f];
    total += held;
  }
  r->heldout = total / s->nq;
  (void)cfg;
  free(fold);
  return BLEND_OK;
}

typedef struct alone_item {
  double raw;
  const char *id;
  int32_t rel;
} alone_item;

static int cmp_alone(const void *a, const void *b) {
  const alone_item *x = a, *y = b;
  if (x->raw != y->raw) return x->raw > y->raw ? -1 : 1;
  return strcmp(y->id, x->id);
}

int tune_leg_alone(const tune_set *s, uint32_t leg, const char *metric, double *mean,
                   blend_error *err) {
  eval_metric m;
  int rc = eval_metric_parse(metric, &m, err);
  if (rc) return rc;
  const blend_qrels *qr = s->qr;
  uint32_t maxc = 1;
  for (uint32_t i = 0; i < s->nq; i++)
    if (s->q[i].ncand > maxc) maxc = s->q[i].ncand;
  alone_item *it = malloc(maxc * sizeof *it);
  int32_t *rels = malloc(maxc * sizeof *rels);
  if (!it || !rels) {
    free(it);
    free(rels);
    return blend_seterr(err, BLEND_ENOMEM, "tune: out of memory");
  }
  double sum = 0;
  for (uint32_t i = 0; i < s->nq; i++) {
    const fuse_query *fq = &s->q[i];
    uint32_t n = 0;
    for (uint32_t c = 0; c < fq->ncand; c++) {
      const blend_leg_score *e = &fq->cells[(size_t)c * s->nlegs + leg];
      if (e->retrieved && isfinite(e->raw)) it[n++] = (alone_item){e->raw, fq->ids[c], s->rel[i][c]};
    }
    /* trec_eval's order, as blend eval ranks the leg's run */
    qsort(it, n, sizeof *it, cmp_alone);
    if (m.cut && n > m.cut) n = m.cut;
    for (uint32_t r = 0; r < n; r++) rels[r] = it[r].rel;
    sum += eval_metric_value(&m, rels, n, qr->nrel[i], qr->gains + qr->gstart[i],
                             qr->gstart[i + 1] - qr->gstart[i]);
  }
  *mean = s->nq ? sum / s->nq : 0;
  free(it);
  free(rels);
  return BLEND_OK;
}
