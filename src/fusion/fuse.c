/*
** fuse.c — the fusion core: fusion options (defaults, checks, the weight
** each leg gets), the candidates × legs table → fused score (convex
** combination, RRF, CombSUM, CombMNZ, CombMAX) and the stable fused order.
**
** Conventions (docs/fusion.md): a cell with a non-finite score is missing;
** a missing cell counts 0 after normalisation (as ranx and Elasticsearch);
** with score completion the caller fills missing cells with the leg's
** exact score first, and the leg is re-ranked and normalised over the
** completed list. Ties in the fused score break by id, descending.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion/fusion.h"
#include "util/util.h"

void blend_fusion_options_default(blend_fusion_options *o) {
  memset(o, 0, sizeof *o);
  o->norm = BLEND_NORM_MINMAX;
  o->fusion = BLEND_FUSION_CC;
  o->alpha = -1;
  o->rrf_k = 60;
  o->temperature = 1;
}

int blend_fusion_options_check(const blend_fusion_options *o, uint32_t nlegs, blend_error *err) {
  if (nlegs == 0) return blend_seterr(err, BLEND_EINVAL, "hybrid query has no legs");
  if (nlegs > BLEND_MAX_LEGS)
    return blend_seterr(err, BLEND_EINVAL, "at most %d legs, not %u", BLEND_MAX_LEGS, nlegs);
  if (o->norm < BLEND_NORM_NONE || o->norm > BLEND_NORM_BORDA)
    return blend_seterr(err, BLEND_EINVAL, "--norm: unknown normalisation %d", o->norm);
  if (o->fusion < BLEND_FUSION_CC || o->fusion > BLEND_FUSION_COMBMAX)
    return blend_seterr(err, BLEND_EINVAL, "--fusion: unknown fusion %d", o->fusion);
  if (o->alpha >= 0 || isnan(o->alpha)) {
    if (!(o->alpha <= 1))
      return blend_seterr(err, BLEND_EINVAL, "--alpha must be in [0, 1], not %g", o->alpha);
    if (nlegs != 2)
      return blend_seterr(err, BLEND_EINVAL,
                          "--alpha weighs two legs (α, 1−α); with %u legs use --weights", nlegs);
    if (o->nweights)
      return blend_seterr(err, BLEND_EINVAL, "give --alpha or --weights, not both");
  }
  if (o->nweights) {
    if (o->nweights != nlegs)
      return blend_seterr(err, BLEND_EINVAL, "--weights: %u weights for %u legs", o->nweights,
                          nlegs);
    double sum = 0;
    for (uint32_t i = 0; i < o->nweights; i++) {
      if (!isfinite(o->weights[i]) || o->weights[i] < 0)
        return blend_seterr(err, BLEND_EINVAL,
                            "--weights: weight %u is %g (weights are finite and >= 0)", i + 1,
                            o->weights[i]);
      sum += o->weights[i];
    }
    if (sum <= 0) return blend_seterr(err, BLEND_EINVAL, "--weights: all weights are 0");
  }
  if (!(o->rrf_k > 0) || !isfinite(o->rrf_k))
    return blend_seterr(err, BLEND_EINVAL, "--rrf-k must be a number > 0, not %g", o->rrf_k);
  if (!(o->temperature > 0) || !isfinite(o->temperature))
    return blend_seterr(err, BLEND_EINVAL, "--temperature must be a number > 0, not %g",
                        o->temperature);
  if (o->has_threshold && isnan(o->threshold))
    return blend_seterr(err, BLEND_EINVAL, "--threshold is not a number");
  return BLEND_OK;
}

void blend_fusion_weights(const blend_fusion_options *o, uint32_t nlegs, double *w) {
  for (uint32_t i = 0; i < nlegs; i++) {
    if (o->nweights == nlegs) w[i] = o->weights[i];
    else if (o->alpha >= 0 && nlegs == 2) w[i] = i == 0 ? o->alpha : 1 - o->alpha;
    else w[i] = o->fusion == BLEND_FUSION_CC ? 1.0 / nlegs : 1.0;
  }
}

void fusion_scratch_free(fusion_scratch *s) {
  free(s->raw);
  free(s->norm);
  free(s->rank);
  free(s->idx);
  memset(s, 0, sizeof *s);
}

static int scratch_reserve(fusion_scratch *s, uint32_t n) {
  if (n <= s->cap) return 0;
  uint32_t cap = n < 256 ? 256 : n;
  double *raw = realloc(s->raw, cap * sizeof *raw);
  if (raw) s->raw = raw;
  double *nm = realloc(s->norm, cap * sizeof *nm);
  if (nm) s->norm = nm;
  uint32_t *rk = realloc(s->rank, cap * sizeof *rk);
  if (rk) s->rank = rk;
  uint32_t *ix = realloc(s->idx, cap * sizeof *ix);
  if (ix) s->idx = ix;
  if (!raw || !nm || !rk || !ix) return -1;
  s->cap = cap;
  return 0;
}

/* Order of one leg's present cells: raw desc, then the leg's own rank
** (retrieved before completed), then candidate number. */
typedef struct leg_sort {
  const blend_leg_score *cells;
  uint32_t nlegs, leg;
} leg_sort;

static int cmp_leg(const void *a, const void *b, void *ctx) {
  const leg_sort *ls = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  const blend_leg_score *cx = &ls->cells[(size_t)x * ls->nlegs + ls->leg];
  const blend_leg_score *cy = &ls->cells[(size_t)y * ls->nlegs + ls->leg];
  if (cx->raw != cy->raw) return cx->raw > cy->raw ? -1 : 1;
  uint32_t rx = cx->rank ? cx->rank : UINT32_MAX, ry = cy->rank ? cy->rank : UINT32_MAX;
  if (rx != ry) return rx < ry ? -1 : 1;
  return x < y ? -1 : x > y;
}

int fusion_fuse(const blend_fusion_options *o, uint32_t nlegs, uint32_t ncand,
                blend_leg_score *cells, const double *lower, const double *upper, double *fused,
                fusion_scratch *s) {
  if (scratch_reserve(s, ncand ? ncand : 1)) return -1;
  double w[BLEND_MAX_LEGS];
  blend_fusion_weights(o, nlegs, w);
  for (uint32_t leg = 0; leg < nlegs; leg++) {
    /* the leg's present cells, in its order */
    uint32_t n = 0;
    for (uint32_t c = 0; c < ncand; c++) {
      blend_leg_score *e = &cells[(size_t)c * nlegs + leg];
      e->weight = w[leg];
      e->norm = 0;
      e->contribution = 0;
      if (!isfinite(e->raw)) {
        e->raw = NAN;
        e->rank = 0;
        e->retrieved = e->completed = 0;
        continue;
      }
      s->idx[n++] = c;
    }
    leg_sort ls = {cells, nlegs, leg};
    qsort_r(s->idx, n, sizeof *s->idx, cmp_leg, &ls);
    for (uint32_t i = 0; i < n; i++) {
      blend_leg_score *e = &cells[(size_t)s->idx[i] * nlegs + leg];
      e->rank = i + 1;
      s->raw[i] = e->raw;
      s->rank[i] = i + 1;
    }
    fusion_normalize(o->norm, s->raw, s->rank, n, ncand, lower ? lower[leg] : NAN,
                     upper ? upper[leg] : NAN, o->temperature, s->norm);
    for (uint32_t i = 0; i < n; i++) {
      blend_leg_score *e = &cells[(size_t)s->idx[i] * nlegs + leg];
      e->norm = o->fusion == BLEND_FUSION_RRF ? 1.0 / (o->rrf_k + e->rank) : s->norm[i];
      e->contribution = w[leg] * e->norm;
    }
  }
  for (uint32_t c = 0; c < ncand; c++) {
    blend_leg_score *row = &cells[(size_t)c * nlegs];
    double sum = 0, max = -INFINITY;
    uint32_t hits = 0, present = 0;
    for (uint32_t leg = 0; leg < nlegs; leg++) {
      /* a missing leg counts 0 (after normalisation) in every function */
      sum += row[leg].contribution;
      if (row[leg].contribution > max) max = row[leg].contribution;
      hits += row[leg].retrieved != 0;
      present += row[leg].rank != 0;
    }
    if (!present) {
      fused[c] = NAN; /* no leg has a usable score: not a candidate */
      continue;
    }
    if (o->fusion == BLEND_FUSION_COMBMNZ) {
      for (uint32_t leg = 0; leg < nlegs; leg++) row[leg].contribution *= hits;
      sum *= hits;
    }
    fused[c] = o->fusion == BLEND_FUSION_COMBMAX ? max : sum;
  }
  return 0;
}

typedef struct order_ctx {
  const double *fused;
  const char *const *ids;
} order_ctx;

static int cmp_fused(const void *a, const void *b, void *ctx) {
  const order_ctx *oc = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (oc->fused[x] != oc->fused[y]) return oc->fused[x] > oc->fused[y] ? -1 : 1;
  int c = oc->ids ? strcmp(oc->ids[y], oc->ids[x]) : 0;
  return c ? c : (x < y ? -1 : x > y);
}

uint32_t fusion_order(uint32_t ncand, const double *fused, const char *const *ids,
                      const blend_fusion_options *o, uint32_t *order) {
  uint32_t n = 0;
  for (uint32_t c = 0; c < ncand; c++) {
    if (isnan(fused[c])) continue;
    if (o->has_threshold && fused[c] < o->threshold) continue;
    order[n++] = c;
  }
  order_ctx oc = {fused, ids};
  qsort_r(order, n, sizeof *order, cmp_fused, &oc);
  return n;
}
