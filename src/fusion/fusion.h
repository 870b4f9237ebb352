/*
** fusion.h — internals of hybrid fusion (src/fusion): the normalisers, the
** fusion core over a candidates × legs table of blend_leg_score cells, the
** stable fused order, run fusion, tuning (grid, folds, SVG plot) and the
** stored hybrid setting. The public surface is the "fusion / hybrid"
** section of blend.h; this header is for the module, its tests and the CLI.
*/
#ifndef BLEND_FUSION_H
#define BLEND_FUSION_H

#include <stdint.h>

#include "blend.h"

/* Normalise one leg's n present scores raw[0..n) (finite), whose 1-based
** ranks are rank[0..n), into out. ncand is the query's candidate count
** (Borda's C); lower/upper are the theoretical bounds for tmm (NaN: the
** observed min / max); T the softmax temperature. Degenerate cases (n = 1,
** all equal) are defined in docs/fusion.md. */
void fusion_normalize(int norm, const double *raw, const uint32_t *rank, uint32_t n,
                      uint32_t ncand, double lower, double upper, double T, double *out);

/* Reusable buffers of fusion_fuse. */
typedef struct fusion_scratch {
  double *raw, *norm;
  uint32_t *rank, *idx;
  uint32_t cap;
} fusion_scratch;
void fusion_scratch_free(fusion_scratch *s);

/* The fusion core. cells is [ncand × nlegs] (candidate-major): for each
** cell the caller sets raw (NaN when the leg has no score), retrieved and
** completed, and rank (1-based order within the leg, 0 when missing; used
** to order equal raw scores the way the leg ordered them). fusion_fuse
** treats non-finite raw as missing, re-ranks each leg over its present
** cells (completed cells fall into place by score), normalises each leg,
** fills norm / weight / contribution and writes fused[ncand]. lower/upper
** per leg are tmm bounds (NaN: observed). o must have passed
** blend_fusion_options_check. Returns 0 or -1 (out of memory). */
int fusion_fuse(const blend_fusion_options *o, uint32_t nlegs, uint32_t ncand,
                blend_leg_score *cells, const double *lower, const double *upper, double *fused,
                fusion_scratch *s);

/* The fused order: candidates with fused ≥ threshold (when set), by fused
** score descending, ties by id in descending byte order (trec_eval's
** order, so the order printed is the order evaluated and pages are
** stable). Writes the order to order[] and returns its length. */
uint32_t fusion_order(uint32_t ncand, const double *fused, const char *const *ids,
                      const blend_fusion_options *o, uint32_t *order);

/* ---- run fusion shared by blend_fuse_runs and tuning */

/* One query's candidates × legs table built from runs. */
typedef struct fuse_query {
  uint32_t ncand;
  const char **ids;          /* [ncand] document ids (owned by the runs) */
  blend_leg_score *cells;    /* [ncand × nlegs] raw/rank/retrieved set */
} fuse_query;

/* All queries of a set of runs (query order: the first run's, then new
** ones of later runs). */
typedef struct fuse_table {
  uint32_t nlegs, nq;
  const char **qids;         /* [nq] */
  fuse_query *q;             /* [nq] */
} fuse_table;

/* Build the table from runs cut at depth per query (0: all). Fails on
** disjoint query sets. */
int fuse_table_build(const blend_run *const *runs, uint32_t nruns, uint32_t depth,
                     fuse_table *t, blend_error *err);
void fuse_table_free(fuse_table *t);

/* The candidates × legs table of the last blend_hybrid_search on h (all
** candidates, before threshold and paging; cells as fused by that query's
** options) and the legs' tmm bounds. Valid until the next call on h. */
void hybrid_table(blend_hybrid *h, uint32_t *ncand, blend_leg_score **cells, const char *const **ids,
                  const double **lower, const double **upper);

/* ---- tuning */

/* One point of the grid. */
typedef struct tune_config {
  blend_fusion_options fo;
  char label[96];           /* "minmax cc w=0.30,0.70", "rrf k=60 w=0.5,0.5" */
  double mean;              /* metric over the tuning queries */
} tune_config;

/* The grid for nlegs legs: every normaliser × {cc over a weight grid (α in
** steps of 0.05 for two legs, a simplex in steps of 0.1 for three, 0.25 for more), combsum,
** combmnz, combmax}, and RRF over k × weights. base supplies
** complete_scores, temperature and threshold. Returns the count (configs
** malloc'd into *out), 0 on ENOMEM. */
uint32_t tune_grid(uint32_t nlegs, const blend_fusion_options *base, tune_config **out);

/* The labelled queries to tune on: one entry per qrels query (in qrels
** order); a query no leg answered has ncand 0 and scores 0, as in
** blend_evaluate. */
typedef struct tune_set {
  uint32_t nlegs, nq;
  const blend_qrels *qr;
  fuse_query *q;            /* [nq] (borrowed from a fuse_table, or owned) */
  int owns_queries;
  int32_t **rel;            /* [nq][ncand]: judged relevance of each candidate */
  double *lower, *upper;    /* [nq × nlegs] tmm bounds, or NULL (observed) */
  uint32_t judged;          /* queries with at least one rel > 0 judgement */
} tune_set;

/* Align a run table to the qrels queries (borrows t's queries). */
int tune_set_from_table(const blend_qrels *qr, const fuse_table *t, tune_set *s, blend_error *err);
/* Fill rel[] for s->q (already set) from the qrels. */
int tune_set_rels(tune_set *s, blend_error *err);
void tune_set_free(tune_set *s);

/* Score every config: values[c × nq + i] = metric of query i under config
** c (may be NULL), cfg[c].mean = its mean. metric: a name ("ndcg@10"). */
int tune_evaluate(const tune_set *s, const char *metric, tune_config *cfg, uint32_t ncfg,
                  double *values, blend_error *err);

/* One leg alone: its own retrieved candidates ranked as trec_eval ranks
** its run (score desc, id desc), so the figure equals blend eval's. */
int tune_leg_alone(const tune_set *s, uint32_t leg, const char *metric, double *mean,
                   blend_error *err);

/* N-fold cross-validation over queries: queries ordered by a hash of their
** id are dealt round-robin into folds; for each fold, the config with the
** best mean on the other folds is chosen and scored on the fold. */
#define TUNE_MAX_FOLDS 64
typedef struct tune_folds_result {
  uint32_t nfolds;
  double heldout;                    /* mean over all queries of their held-out value */
  uint32_t chosen[TUNE_MAX_FOLDS];   /* config chosen for each fold */
  uint32_t queries[TUNE_MAX_FOLDS];  /* queries in each fold */
  double fold_mean[TUNE_MAX_FOLDS];  /* held-out mean of each fold */
} tune_folds_result;
int tune_folds(const tune_set *s, const double *values, const tune_config *cfg, uint32_t ncfg,
               uint32_t nfolds, tune_folds_result *r, blend_error *err);

/* The plot: metric against the first leg's share of the weight (α for two
** legs), one line per normaliser under cc plus RRF (k = 60), the best
** value at each x over the other weights. Hand-written SVG, written
** atomically to path. */
int tune_plot_svg(const char *path, const char *title, const char *metric,
                  const tune_config *cfg, uint32_t ncfg, uint32_t nlegs, blend_error *err);

#endif
