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

/* ---- tuning */

/* One point of the grid. */
typedef struct tune_config {
  blend_fusion_options fo;
  char label[96];           /* "minmax cc a=0.30", "rrf k=60 w=1,1", ... */
  double mean;              /* metric over the tuning queries */
} tune_config;

/* The grid for nlegs legs: every normaliser × {cc over α (2 legs) or a
** weight simplex (3+), combsum, combmnz, combmax}, and RRF over k × weights.
** Returns the count (configs malloc'd into *out). base supplies
** complete_scores, temperature and threshold. */
uint32_t tune_grid(uint32_t nlegs, const blend_fusion_options *base, tune_config **out);

/* Per-query metric values of every config: value[c × nq + i] for query i of
** the qrels. rels[i] holds, per candidate of fuse query i, its judged
** relevance; nrel, gains as for eval_metric_value. Fills values. */

/* An SVG line plot: x = α in [0, 1] for nseries series of npoints each
** (NaN: no point), metric on y. Written atomically to path. */
int tune_plot_svg(const char *path, const char *title, const char *ylabel,
                  const char *const *series_names, uint32_t nseries, const double *x,
                  const double *y /* [nseries × npoints] */, uint32_t npoints,
                  blend_error *err);

/* Deterministic fold of query i among nfolds (a hash of its id, so folds do
** not depend on file order). */
uint32_t tune_fold(const char *qid, uint32_t nfolds);

#endif
