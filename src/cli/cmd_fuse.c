/*
** cmd_fuse.c — `blend fuse`: fuse external TREC runs with the same
** normalisers and fusion functions as a hybrid query (ranx-style), write
** the fused run, and optionally score the inputs and the fusion against
** qrels.
*/
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define DEFAULT_METRICS "ndcg@10,recall@100"
#define MAX_RUNS BLEND_MAX_LEGS

static const char usage_text[] =
    "usage: blend fuse [options] RUN1.trec RUN2.trec ... [--qrels FILE] [--out fused.trec]\n"
    "\n"
    "Fuse TREC runs (one leg each; the first is the lexical leg for --alpha): per\n"
    "query, each run's top --depth documents (default: all), ranked as trec_eval\n"
    "ranks them, are normalised per run and fused. Without --out and --qrels the\n"
    "fused run is written to standard output.\n"
    "\n"
    "options:\n"
    "  --norm N           none, minmax (default), zscore, softmax, tmm, dbsf, rank, borda\n"
    "  --fusion F         cc (default), rrf, combsum, combmnz, combmax\n"
    "  --alpha A          two runs: weights A, 1-A\n"
    "  --weights W,W,...  one weight per run (>= 0)\n"
    "  --rrf-k K          RRF's k (default 60)\n"
    "  --temperature T    softmax temperature (default 1)\n"
    "  --threshold X      drop fused scores below X\n"
    "  --depth N          use each run's top N per query (default: all)\n"
    "  -k N               keep the top N fused documents per query (default: all)\n"
    "  --out FILE         write the fused run (TREC format)\n"
    "  --tag NAME         run tag (default blend-fuse)\n"
    "  --qrels FILE       score the input runs and the fusion\n"
    "  --metrics LIST     with --qrels (default " DEFAULT_METRICS ")\n"
    "\n"
    "Missing documents (retrieved by some runs only) count 0 after normalisation,\n"
    "as ranx does. Definitions: docs/fusion.md.\n"
    "exit status: 0 ok, 1 runtime error, 2 usage error\n";

static int eval_line(const blend_qrels *qr, const blend_run *run, const char *label,
                     const char *const *metrics, size_t nm, int header) {
  blend_error err = {0};
  blend_eval_result *e;
  if (blend_evaluate(qr, run, metrics, nm, NULL, &e, &err)) return cli_fail_err(&err);
  if (header) {
    printf("%-40s", "run");
    for (size_t m = 0; m < nm; m++) printf(" %10s", blend_eval_metric_name(e, m));
    printf(" %8s\n", "queries");
  }
  printf("%-40s", label);
  for (size_t m = 0; m < nm; m++) printf(" %10.4f", blend_eval_mean(e, m));
  printf(" %8u\n", blend_eval_queries(e));
  blend_eval_free(e);
  return 0;
}

int cmd_fuse(int argc, char **argv) {
  hybrid_opts ho;
  hybrid_opts_init(&ho);
  const char *paths[MAX_RUNS], *out = NULL, *qrels = NULL, *tag = "blend-fuse";
  char metrics_buf[512] = DEFAULT_METRICS;
  uint32_t npaths = 0, k = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = hybrid_opts_parse(&i, argc, argv, &ho);
    if (r < 0) return 2;
    if (r) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    if (!strcmp(a, "--out") || !strcmp(a, "--qrels") || !strcmp(a, "--metrics") ||
        !strcmp(a, "--tag") || !strcmp(a, "-k")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "blend fuse: %s needs a value\n", a);
        return 2;
      }
      const char *v = argv[++i];
      if (!strcmp(a, "--out")) out = v;
      else if (!strcmp(a, "--qrels")) qrels = v;
      else if (!strcmp(a, "--tag")) tag = v;
      else if (!strcmp(a, "-k")) {
        char *e;
        long x = strtol(v, &e, 10);
        if (*e || e == v || x < 1 || x > 1000000) {
          fprintf(stderr, "blend fuse: -k: expected 1..1000000, not '%s'\n", v);
          return 2;
        }
        k = (uint32_t)x;
      } else {
        if (strlen(v) >= sizeof metrics_buf) {
          fprintf(stderr, "blend fuse: --metrics too long\n");
          return 2;
        }
        snprintf(metrics_buf, sizeof metrics_buf, "%s", v);
      }
      continue;
    }
    if (a[0] == '-' && a[1]) {
      fprintf(stderr, "blend fuse: unknown option '%s' (see blend fuse --help)\n", a);
      return 2;
    }
    if (npaths == MAX_RUNS) {
      fprintf(stderr, "blend fuse: at most %d runs\n", MAX_RUNS);
      return 2;
    }
    paths[npaths++] = a;
  }
  if (npaths < 1) {
    fputs(usage_text, stderr);
    return 2;
  }
  if (ho.mode || ho.nlegs || ho.rerank || ho.offset || ho.model) {
    fprintf(stderr, "blend fuse: --mode, --legs, --offset, --model and --rerank need an index "
                    "(blend search/eval --mode hybrid)\n");
    return 2;
  }
  blend_error err = {0};
  if (blend_fusion_options_check(&ho.fo, npaths, &err)) {
    fprintf(stderr, "blend fuse: %s\n", err.message);
    return 2;
  }
  if (ho.fo.complete_scores) {
    fprintf(stderr, "blend fuse: --complete-scores needs an index: an external run cannot score "
                    "a document it did not retrieve\n");
    return 2;
  }
  const char *metrics[32];
  size_t nm = 0;
  for (char *p = metrics_buf, *tok; (tok = strsep(&p, ","));) {
    if (!*tok) continue;
    if (nm == 32 || blend_eval_metric_cutoff(tok, NULL, &err)) {
      fprintf(stderr, "blend fuse: --metrics: %s\n", nm == 32 ? "too many" : err.message);
      return 2;
    }
    metrics[nm++] = tok;
  }

  blend_run *runs[MAX_RUNS] = {0}, *fused = NULL;
  blend_qrels *qr = NULL;
  int rc = 0;
  for (uint32_t r = 0; r < npaths && !rc; r++)
    if (blend_run_load(strcmp(paths[r], "-") ? paths[r] : "/dev/stdin", &runs[r], &err))
      rc = cli_fail_err(&err);
  if (!rc && qrels && blend_qrels_load(qrels, &qr, &err)) rc = cli_fail_err(&err);
  if (!rc &&
      blend_fuse_runs((const blend_run *const *)runs, npaths, &ho.fo, ho.depth, k, &fused, &err))
    rc = cli_fail_err(&err);
  if (!rc && (out || !qrels) &&
      blend_run_write(fused, out ? out : "/dev/stdout", tag, &err))
    rc = cli_fail_err(&err);
  if (!rc && qr) {
    for (uint32_t r = 0; r < npaths && !rc; r++) rc = eval_line(qr, runs[r], paths[r], metrics, nm, r == 0);
    char label[128];
    snprintf(label, sizeof label, "fused: %s %s", ho.fo.fusion == BLEND_FUSION_RRF ? "-" : blend_norm_name(ho.fo.norm),
             blend_fusion_name(ho.fo.fusion));
    if (!rc) rc = eval_line(qr, fused, label, metrics, nm, 0);
  }
  for (uint32_t r = 0; r < npaths; r++) blend_run_free(runs[r]);
  blend_run_free(fused);
  blend_qrels_free(qr);
  return rc;
}
