/*
** normalize.c — per-leg score normalisers (Bruch, Gai & Ingber's min-max,
** z-score and theoretical min-max; softmax; Qdrant's DBSF; the rank-based
** 1/rank and Borda) and their names. Each maps one leg's present scores to
** comparable values; missing candidates are the fusion core's business.
** Degenerate inputs have fixed results (docs/fusion.md): one candidate or
** all scores equal gives min-max / tmm 1 (every candidate is the leg's
** best), z-score 0 (every candidate is the mean), DBSF 0.5, softmax 1/n.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fusion/fusion.h"
#include "util/util.h"

static const char *const norm_names[] = {"none", "minmax", "zscore", "softmax",
                                         "tmm",  "dbsf",   "rank",   "borda"};
static const char *const fusion_names[] = {"cc", "rrf", "combsum", "combmnz", "combmax"};
static const char *const leg_names[] = {"bm25", "bm25-multi", "dense", "run"};

#define COUNT(a) (sizeof a / sizeof *a)

static int parse_name(const char *what, const char *const *names, size_t n, const char *s,
                      int *out, blend_error *err) {
  for (size_t i = 0; s && i < n; i++)
    if (!strcmp(s, names[i])) {
      *out = (int)i;
      return BLEND_OK;
    }
  char list[200] = "";
  size_t used = 0;
  for (size_t i = 0; i < n && used < sizeof list; i++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
  return blend_seterr(err, BLEND_EINVAL, "unknown %s '%s' (use one of: %s)", what, s ? s : "(null)",
                      list);
}

int blend_norm_parse(const char *name, int *out, blend_error *err) {
  if (name && (!strcmp(name, "min-max") || !strcmp(name, "min_max"))) name = "minmax";
  if (name && (!strcmp(name, "z-score") || !strcmp(name, "zmuv"))) name = "zscore";
  return parse_name("normalisation", norm_names, COUNT(norm_names), name, out, err);
}
int blend_fusion_parse(const char *name, int *out, blend_error *err) {
  if (name && (!strcmp(name, "convex") || !strcmp(name, "wsum"))) name = "cc";
  return parse_name("fusion", fusion_names, COUNT(fusion_names), name, out, err);
}
int blend_leg_parse(const char *name, int *out, blend_error *err) {
  if (name && (!strcmp(name, "bm25-flat") || !strcmp(name, "flat"))) name = "bm25";
  if (name && (!strcmp(name, "multi") || !strcmp(name, "bm25multi"))) name = "bm25-multi";
  return parse_name("leg", leg_names, COUNT(leg_names), name, out, err);
}
const char *blend_norm_name(int v) {
  return v >= 0 && (size_t)v < COUNT(norm_names) ? norm_names[v] : "?";
}
const char *blend_fusion_name(int v) {
  return v >= 0 && (size_t)v < COUNT(fusion_names) ? fusion_names[v] : "?";
}
const char *blend_leg_name(int v) {
  return v >= 0 && (size_t)v < COUNT(leg_names) ? leg_names[v] : "?";
}

static void min_max(const double *x, uint32_t n, double *lo, double *hi) {
  *lo = INFINITY;
  *hi = -INFINITY;
  for (uint32_t i = 0; i < n; i++) {
    if (x[i] < *lo) *lo = x[i];
    if (x[i] > *hi) *hi = x[i];
  }
}

/* Mean and population standard deviation (two passes: exact enough for
** SPLADE's 1e5-sized scores, where Σx² − n·μ² would cancel). */
static void mean_sd(const double *x, uint32_t n, double *mean, double *sd) {
  double s = 0;
  for (uint32_t i = 0; i < n; i++) s += x[i];
  double m = s / n, v = 0;
  for (uint32_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *sd = sqrt(v / n);
}

/* (s − lo) / (hi − lo); a zero or negative range maps everything to 1. */
static void scale(const double *raw, uint32_t n, double lo, double hi, double *out) {
  double range = hi - lo;
  for (uint32_t i = 0; i < n; i++) out[i] = range > 0 ? (raw[i] - lo) / range : 1.0;
}

void fusion_normalize(int norm, const double *raw, const uint32_t *rank, uint32_t n,
                      uint32_t ncand, double lower, double upper, double T, double *out) {
  if (n == 0) return;
  double lo, hi, mean, sd;
  switch (norm) {
    case BLEND_NORM_MINMAX:
      min_max(raw, n, &lo, &hi);
      scale(raw, n, lo, hi, out);
      return;
    case BLEND_NORM_TMM:
      min_max(raw, n, &lo, &hi);
      scale(raw, n, isnan(lower) ? lo : lower, isnan(upper) ? hi : upper, out);
      return;
    case BLEND_NORM_ZSCORE:
      mean_sd(raw, n, &mean, &sd);
      for (uint32_t i = 0; i < n; i++) out[i] = sd > 0 ? (raw[i] - mean) / sd : 0.0;
      return;
    case BLEND_NORM_DBSF:
      mean_sd(raw, n, &mean, &sd);
      for (uint32_t i = 0; i < n; i++) {
        double v = sd > 0 ? (raw[i] - (mean - 3 * sd)) / (6 * sd) : 0.5;
        out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
      return;
    case BLEND_NORM_SOFTMAX: {
      /* shifted by the max so exp never overflows */
      min_max(raw, n, &lo, &hi);
      double sum = 0;
      for (uint32_t i = 0; i < n; i++) sum += out[i] = exp((raw[i] - hi) / T);
      for (uint32_t i = 0; i < n; i++) out[i] /= sum;
      return;
    }
    case BLEND_NORM_RANK:
      for (uint32_t i = 0; i < n; i++) out[i] = 1.0 / rank[i];
      return;
    case BLEND_NORM_BORDA: {
      double c = ncand > n ? ncand : n;
      for (uint32_t i = 0; i < n; i++) out[i] = (c - rank[i] + 1) / c;
      return;
    }
    default:
      memcpy(out, raw, n * sizeof *out);
      return;
  }
}
