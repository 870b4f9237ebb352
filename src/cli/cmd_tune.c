/*
** cmd_tune.c — `blend tune`: grid search of hybrid fusion (normaliser ×
** fusion × weights / RRF k) on labelled queries, over external runs or
** over an index's legs. Prints the table (the best setting of each
** normaliser × fusion), writes an SVG plot of the metric against α, and
** with --folds N reports only the N-fold cross-validated (held-out)
** figure of the tuning. With --index the chosen setting is stored in the
** index (DIR/hybrid.json) as its hybrid default.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fusion/fusion.h"

static const char usage_text[] =
    "usage: blend tune --qrels FILE RUN1.trec RUN2.trec ... [options]\n"
    "       blend tune --index DIR --queries Q --qrels FILE [--legs L,L] [options]\n"
    "\n"
    "Grid-search normalisation x fusion x weights (alpha) / RRF k on the judged\n"
    "queries of --qrels, print the best setting of each normalisation x fusion,\n"
    "and plot the metric against alpha. With --index, the legs are run on the index\n"
    "and the chosen setting is stored in it (DIR/hybrid.json): a later\n"
    "`blend search --mode hybrid` without --legs uses it.\n"
    "\n"
    "options:\n"
    "  --metric M         metric to maximise (default ndcg@10)\n"
    "  --folds N          N-fold cross-validation over queries: report the held-out\n"
    "                     figure only (when a single qrels split exists)\n"
    "  --plot FILE        SVG plot path (default tune.svg; --plot none: no plot)\n"
    "  --depth N          candidates per leg (runs: default all; index: 100)\n"
    "  --complete-scores  (index) score missing candidates exactly\n"
    "  --legs L,L         (index) legs: bm25, bm25-multi, dense\n"
    "  --model DIR        (index) query encoder for a dense leg\n"
    "  --no-store         (index) do not write DIR/hybrid.json\n"
    "  --all              print every grid point, not only the best per family\n"
    "exit status: 0 ok, 1 runtime error, 2 usage error\n";

typedef struct tune_args {
  hybrid_opts ho;
  const char *qrels, *index, *queries, *metric, *plot;
  const char *runs[BLEND_MAX_LEGS];
  uint32_t nruns, folds;
  int all, no_store;
} tune_args;


static void print_family_table(const tune_config *cfg, uint32_t n, const char *metric, int all) {
  printf("%-8s %-8s %-26s %10s\n", "norm", "fusion", "best parameters", metric);
  if (all) {
    for (uint32_t c = 0; c < n; c++) printf("%-44s %10.4f\n", cfg[c].label, cfg[c].mean);
    return;
  }
  for (int f = BLEND_FUSION_CC; f <= BLEND_FUSION_COMBMAX; f++)
    for (int norm = BLEND_NORM_NONE; norm <= BLEND_NORM_BORDA; norm++) {
      if (f == BLEND_FUSION_RRF && norm) continue;
      int best = -1;
      for (uint32_t c = 0; c < n; c++)
        if (cfg[c].fo.fusion == f && (f == BLEND_FUSION_RRF || cfg[c].fo.norm == norm) &&
            (best < 0 || cfg[c].mean > cfg[best].mean + 1e-12))
          best = (int)c;
      if (best < 0) continue;
      const char *p = strchr(cfg[best].label, ' ');
      if (f != BLEND_FUSION_RRF && p) p = strchr(p + 1, ' ');
      printf("%-8s %-8s %-26s %10.4f\n", f == BLEND_FUSION_RRF ? "-" : blend_norm_name(norm),
             blend_fusion_name(f), p ? p + 1 : "", cfg[best].mean);
    }
}

/* Score each leg alone (1/rank, one-hot weight: exactly its own order). */
static int single_legs(const tune_set *s, const char *metric, const char *const *names,
                       double *out, blend_error *err) {
  for (uint32_t l = 0; l < s->nlegs; l++) {
    tune_config c;
    memset(&c, 0, sizeof c);
    blend_fusion_options_default(&c.fo);
    c.fo.norm = BLEND_NORM_RANK;
    c.fo.nweights = s->nlegs;
    c.fo.weights[l] = 1;
    if (tune_evaluate(s, metric, &c, 1, NULL, err)) return 1;
    out[l] = c.mean;
    printf("leg %u alone: %-40s %s %.4f\n", l + 1, names[l], metric, c.mean);
  }
  return 0;
}

/* Run the grid on s; prints, plots; *chosen = the best config on all of s. */
static int tune_run(const tune_args *a, tune_set *s, const char *const *names, const char *title,
                    tune_config *chosen) {
  blend_error err = {0};
  tune_config *cfg = NULL;
  uint32_t n = tune_grid(s->nlegs, &a->ho.fo, &cfg);
  if (!n) return cli_fail("tune: out of memory");
  double *values = malloc((size_t)n * s->nq * sizeof *values);
  if (!values) {
    free(cfg);
    return cli_fail("tune: out of memory");
  }
  double single[BLEND_MAX_LEGS];
  int rc = 0;
  printf("tuning on %u queries (%u judged with results), %u legs, %u settings, metric %s\n",
         s->nq, s->judged, s->nlegs, n, a->metric);
  if (single_legs(s, a->metric, names, single, &err) ||
      tune_evaluate(s, a->metric, cfg, n, values, &err)) {
    rc = cli_fail_err(&err);
    goto out;
  }
  print_family_table(cfg, n, a->metric, a->all);
  uint32_t best = 0;
  for (uint32_t c = 1; c < n; c++)
    if (cfg[c].mean > cfg[best].mean + 1e-12) best = c;
  *chosen = cfg[best];
  if (a->folds) {
    tune_folds_result fr;
    if (tune_folds(s, values, cfg, n, a->folds, &fr, &err)) {
      rc = cli_fail_err(&err);
      goto out;
    }
    for (uint32_t f = 0; f < fr.nfolds; f++)
      printf("fold %u/%u: %u held-out queries, chose %-32s held-out %s %.4f\n", f + 1, fr.nfolds,
             fr.queries[f], cfg[fr.chosen[f]].label, a->metric, fr.fold_mean[f]);
    printf("held-out %s (%u-fold cross-validation over queries): %.4f\n", a->metric, fr.nfolds,
           fr.heldout);
    printf("setting chosen on all queries: %s\n", cfg[best].label);
  } else {
    printf("best: %s  %s %.4f (on the tuning queries)\n", cfg[best].label, a->metric,
           cfg[best].mean);
  }
  if (a->plot && strcmp(a->plot, "none")) {
    if (tune_plot_svg(a->plot, title, a->metric, cfg, n, s->nlegs, &err)) rc = cli_fail_err(&err);
    else fprintf(stderr, "blend tune: plot written to %s\n", a->plot);
  }
out:
  free(values);
  free(cfg);
  return rc;
}

static int tune_runs(tune_args *a) {
  blend_error err = {0};
  blend_qrels *qr = NULL;
  blend_run *runs[BLEND_MAX_LEGS] = {0};
  fuse_table t = {0};
  tune_set s = {0};
  int rc = 0;
  if (blend_qrels_load(a->qrels, &qr, &err)) return cli_fail_err(&err);
  for (uint32_t r = 0; r < a->nruns && !rc; r++)
    if (blend_run_load(a->runs[r], &runs[r], &err)) rc = cli_fail_err(&err);
  if (!rc && fuse_table_build((const blend_run *const *)runs, a->nruns, a->ho.depth, &t, &err))
    rc = cli_fail_err(&err);
  if (!rc && tune_set_from_table(qr, &t, &s, &err)) rc = cli_fail("%s: %s", a->qrels, err.message);
  if (!rc) {
    tune_config chosen;
    char title[256];
    snprintf(title, sizeof title, "blend tune: %u runs, %s", a->nruns, a->qrels);
    rc = tune_run(a, &s, a->runs, title, &chosen);
  }
  tune_set_free(&s);
  fuse_table_free(&t);
  for (uint32_t r = 0; r < a->nruns; r++) blend_run_free(runs[r]);
  blend_qrels_free(qr);
  return rc;
}

int cmd_tune(int argc, char **argv) {
  tune_args a;
  memset(&a, 0, sizeof a);
  hybrid_opts_init(&a.ho);
  a.metric = "ndcg@10";
  a.plot = "tune.svg";
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    int r = hybrid_opts_parse(&i, argc, argv, &a.ho);
    if (r < 0) return 2;
    if (r) continue;
    if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(o, "--all")) a.all = 1;
    else if (!strcmp(o, "--no-store")) a.no_store = 1;
    else if (!strcmp(o, "--qrels") || !strcmp(o, "--index") || !strcmp(o, "--queries") ||
             !strcmp(o, "--metric") || !strcmp(o, "--folds") || !strcmp(o, "--plot")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "blend tune: %s needs a value\n", o);
        return 2;
      }
      const char *v = argv[++i];
      if (!strcmp(o, "--qrels")) a.qrels = v;
      else if (!strcmp(o, "--index")) a.index = v;
      else if (!strcmp(o, "--queries")) a.queries = v;
      else if (!strcmp(o, "--plot")) a.plot = v;
      else if (!strcmp(o, "--metric")) {
        blend_error err = {0};
        if (blend_eval_metric_cutoff(v, NULL, &err)) {
          fprintf(stderr, "blend tune: --metric: %s\n", err.message);
          return 2;
        }
        a.metric = v;
      } else {
        char *e;
        long f = strtol(v, &e, 10);
        if (*e || e == v || f < 2 || f > TUNE_MAX_FOLDS) {
          fprintf(stderr, "blend tune: --folds must be an integer 2..%d, not '%s'\n",
                  TUNE_MAX_FOLDS, v);
          return 2;
        }
        a.folds = (uint32_t)f;
      }
    } else if (o[0] == '-' && o[1]) {
      fprintf(stderr, "blend tune: unknown option '%s' (see blend tune --help)\n", o);
      return 2;
    } else {
      if (a.nruns == BLEND_MAX_LEGS) {
        fprintf(stderr, "blend tune: at most %d runs\n", BLEND_MAX_LEGS);
        return 2;
      }
      a.runs[a.nruns++] = o;
    }
  }
  if (!a.qrels) {
    fprintf(stderr, "blend tune: --qrels is required (see blend tune --help)\n");
    return 2;
  }
  if (a.index) {
    fprintf(stderr, "blend tune: --index: not available in this build yet\n");
    return 2;
  }
  if (a.nruns < 2) {
    fprintf(stderr, "blend tune: give --index DIR --queries Q, or at least two runs\n");
    return 2;
  }
  if (a.ho.fo.complete_scores) {
    fprintf(stderr, "blend tune: --complete-scores needs --index (a run cannot score a document "
                    "it did not retrieve)\n");
    return 2;
  }
  return tune_runs(&a);
}
