/*
** cmd_tune.c — `blend tune`: grid search of hybrid fusion (normaliser ×
** fusion × weights / RRF k) on labelled queries, over external runs or
** over an index's legs. Prints the table (the best setting of each
** normaliser × fusion), writes an SVG plot of the metric against α, and
** with --folds N reports only the N-fold cross-validated (held-out)
** figure of the tuning. With --index the chosen setting is stored in the
** index (DIR/hybrid.json) as its hybrid default.
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fusion/fusion.h"
#include "ingest/vectors.h"
#include "util/util.h"

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
    "  --test-qrels FILE  after tuning, score the chosen settings once on these\n"
    "                     queries (nDCG@10, Recall@100): each leg alone, the untuned\n"
    "                     defaults, the best of each normalisation x fusion, the choice\n"
    "  --plot FILE        SVG plot path (default tune.svg; --plot none: no plot)\n"
    "  --depth N          candidates per leg (runs: default all; index: 100)\n"
    "  --complete-scores  (index) score missing candidates exactly\n"
    "  --legs L,L         (index) legs: bm25, bm25-multi, dense\n"
    "  --model DIR        (index) query encoder for a dense leg\n"
    "  --query-vectors F  (index) query vectors for the dense leg (JSONL {_id, vector},\n"
    "                     or raw float32 rows with --query-vector-ids FILE)\n"
    "  --no-store         (index) do not write DIR/hybrid.json\n"
    "  --all              print every grid point, not only the best per family\n"
    "exit status: 0 ok, 1 runtime error, 2 usage error\n";

typedef struct tune_args {
  hybrid_opts ho;
  const char *qrels, *index, *queries, *metric, *plot, *qvecs, *qvec_ids, *test_qrels;
  const char *runs[BLEND_MAX_LEGS];
  uint32_t nruns, folds;
  int all, no_store;
} tune_args;


/* The best config of each normaliser × fusion family (RRF: one family). */
static uint32_t family_bests(const tune_config *cfg, uint32_t n, uint32_t *best_out) {
  uint32_t nb = 0;
  for (int f = BLEND_FUSION_CC; f <= BLEND_FUSION_COMBMAX; f++)
    for (int norm = BLEND_NORM_NONE; norm <= BLEND_NORM_BORDA; norm++) {
      if (f == BLEND_FUSION_RRF && norm) continue;
      int best = -1;
      for (uint32_t c = 0; c < n; c++)
        if (cfg[c].fo.fusion == f && (f == BLEND_FUSION_RRF || cfg[c].fo.norm == norm) &&
            (best < 0 || cfg[c].mean > cfg[best].mean + 1e-12))
          best = (int)c;
      if (best >= 0) best_out[nb++] = (uint32_t)best;
    }
  return nb;
}

static const char *params_of(const tune_config *c) {
  const char *p = strchr(c->label, ' ');
  if (c->fo.fusion != BLEND_FUSION_RRF && p) p = strchr(p + 1, ' ');
  return p ? p + 1 : "";
}

static void print_family_table(const tune_config *cfg, uint32_t n, const char *metric, int all) {
  printf("%-8s %-8s %-26s %10s\n", "norm", "fusion", "best parameters", metric);
  if (all) {
    for (uint32_t c = 0; c < n; c++) printf("%-44s %10.4f\n", cfg[c].label, cfg[c].mean);
    return;
  }
  uint32_t best[64], nb = family_bests(cfg, n, best);
  for (uint32_t i = 0; i < nb; i++) {
    const tune_config *c = &cfg[best[i]];
    printf("%-8s %-8s %-26s %10.4f\n", c->fo.fusion == BLEND_FUSION_RRF ? "-" : blend_norm_name(c->fo.norm),
           blend_fusion_name(c->fo.fusion), params_of(c), c->mean);
  }
}

/* Score configs chosen on the tuning queries once on the test queries. */
static int test_report(const tune_args *a, tune_set *test, const tune_config *cfg, uint32_t n,
                       uint32_t chosen, const char *const *names) {
  static const char *const metrics[] = {"ndcg@10", "recall@100"};
  enum { NM = 2 };
  blend_error err = {0};
  uint32_t best[64], nb = family_bests(cfg, n, best);
  /* rows: single legs, untuned defaults, the family bests, the overall choice */
  enum { MAXROWS = 96 };
  tune_config rows[MAXROWS];
  const char *kind[MAXROWS];
  uint32_t nr = 0;
  blend_fusion_options def;
  blend_fusion_options_default(&def);
  def.complete_scores = a->ho.fo.complete_scores;
  rows[nr].fo = def;
  snprintf(rows[nr].label, sizeof rows[nr].label, "minmax cc equal weights");
  kind[nr++] = "untuned";
  rows[nr].fo = def;
  rows[nr].fo.fusion = BLEND_FUSION_RRF;
  snprintf(rows[nr].label, sizeof rows[nr].label, "rrf k=60 equal weights");
  kind[nr++] = "untuned";
  for (uint32_t i = 0; i < nb && nr < MAXROWS - 1; i++) {
    rows[nr] = cfg[best[i]];
    kind[nr++] = "family";
  }
  rows[nr] = cfg[chosen];
  kind[nr++] = "TUNED";
  double v[MAXROWS][NM], alone[BLEND_MAX_LEGS][NM];
  for (int m = 0; m < NM; m++) {
    if (tune_evaluate(test, metrics[m], rows, nr, NULL, &err)) return cli_fail_err(&err);
    for (uint32_t r = 0; r < nr; r++) v[r][m] = rows[r].mean;
    for (uint32_t l = 0; l < test->nlegs; l++)
      if (tune_leg_alone(test, l, metrics[m], &alone[l][m], &err)) return cli_fail_err(&err);
  }
  printf("\nscored once on %s (%u queries), settings chosen on %s:\n", a->test_qrels, test->nq,
         a->qrels);
  printf("%-8s %-44s %10s %10s\n", "", "setting", metrics[0], metrics[1]);
  for (uint32_t l = 0; l < test->nlegs; l++) {
    char label[80];
    snprintf(label, sizeof label, "%s alone", names[l]);
    printf("%-8s %-44s %10.4f %10.4f\n", "leg", label, alone[l][0], alone[l][1]);
  }
  for (uint32_t r = 0; r < nr; r++)
    printf("%-8s %-44s %10.4f %10.4f\n", kind[r], rows[r].label, v[r][0], v[r][1]);
  return 0;
}

/* Score each leg alone (as blend eval scores it). */
static int single_legs(const tune_set *s, const char *metric, const char *const *names,
                       double *out, blend_error *err) {
  for (uint32_t l = 0; l < s->nlegs; l++) {
    if (tune_leg_alone(s, l, metric, &out[l], err)) return 1;
    printf("leg %u alone: %-40s %s %.4f\n", l + 1, names[l], metric, out[l]);
  }
  return 0;
}

/* Run the grid on s; prints, plots; *chosen = the best config on all of s. */
static int tune_run(const tune_args *a, tune_set *s, tune_set *test, const char *const *names,
                    const char *title, tune_config *chosen) {
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
  if (test && (rc = test_report(a, test, cfg, n, best, names))) goto out;
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
  blend_qrels *tq = NULL;
  tune_set ts = {0};
  if (!rc && a->test_qrels) {
    if (blend_qrels_load(a->test_qrels, &tq, &err)) rc = cli_fail_err(&err);
    else if (tune_set_from_table(tq, &t, &ts, &err)) rc = cli_fail("%s: %s", a->test_qrels, err.message);
  }
  if (!rc) {
    tune_config chosen;
    char title[256];
    snprintf(title, sizeof title, "blend tune: %u runs, %s", a->nruns, a->qrels);
    rc = tune_run(a, &s, ts.qr ? &ts : NULL, a->runs, title, &chosen);
  }
  tune_set_free(&s);
  tune_set_free(&ts);
  blend_qrels_free(tq);
  fuse_table_free(&t);
  for (uint32_t r = 0; r < a->nruns; r++) blend_run_free(runs[r]);
  blend_qrels_free(qr);
  return rc;
}

/* ---- the index form */

/* BEIR queries.jsonl: qid → text (last one wins), as blend eval reads it. */
static int load_queries(const char *path, strmap **ids, bbuf *text, uint32_t **off, uint32_t *n) {
  char *data;
  size_t len;
  blend_error err = {0};
  if (file_read_all(path, &data, &len, &err)) return cli_fail_err(&err);
  *ids = strmap_new();
  uint32_t cap = 0;
  *off = NULL;
  *n = 0;
  int rc = *ids ? 0 : cli_fail("out of memory");
  unsigned line = 0;
  for (char *p = data, *end = data + len; p < end && !rc;) {
    char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *st = p;
    p = nl ? nl + 1 : end;
    line++;
    while (st < le && (*st == ' ' || *st == '\t' || *st == '\r')) st++;
    if (st == le) continue;
    cJSON *j = cJSON_ParseWithLength(st, (size_t)(le - st));
    cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "_id") : NULL;
    cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
    char idbuf[64];
    const char *qid = NULL;
    if (cJSON_IsString(id)) qid = id->valuestring;
    else if (cJSON_IsNumber(id)) snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble), qid = idbuf;
    if (!qid || !*qid || !cJSON_IsString(t)) {
      rc = cli_fail("%s:%u: expected a JSON object with \"_id\" and \"text\"", path, line);
    } else {
      uint32_t v = *n;
      int ins = strmap_upsert(*ids, qid, strlen(qid), &v);
      if (ins && *n == cap) {
        cap = cap ? cap * 2 : 1024;
        uint32_t *no = realloc(*off, cap * sizeof *no);
        if (!no) rc = cli_fail("out of memory");
        else *off = no;
      }
      if (!rc && ins >= 0) {
        (*off)[v] = (uint32_t)text->len;
        if (ins) (*n)++;
        /* bag of words: query syntax neutralised as blend eval does */
        int start = 1;
        for (const char *c = t->valuestring; *c; c++) {
          char ch = *c;
          if (ch == '"' || ch == ':' || (start && (ch == '+' || ch == '-'))) ch = ' ';
          start = ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
          bbuf_putc(text, (uint8_t)ch);
        }
        bbuf_putc(text, 0);
      } else if (ins < 0) rc = cli_fail("out of memory");
    }
    cJSON_Delete(j);
  }
  free(data);
  return rc;
}

/* Copy the hybrid's candidate table of one query into fq. */
static int keep_table(blend_hybrid *h, uint32_t nlegs, fuse_query *fq, double *lo, double *hi) {
  uint32_t n;
  blend_leg_score *cells;
  const char *const *ids;
  const double *l, *u;
  hybrid_table(h, &n, &cells, &ids, &l, &u);
  size_t bytes = 0;
  for (uint32_t c = 0; c < n; c++) bytes += strlen(ids[c]) + 1;
  char *block = malloc((n ? n : 1) * sizeof(char *) + bytes);
  fq->cells = malloc(((size_t)n * nlegs + 1) * sizeof *fq->cells);
  if (!block || !fq->cells) {
    free(block);
    return -1;
  }
  fq->ids = (const char **)block;
  char *str = block + (n ? n : 1) * sizeof(char *);
  for (uint32_t c = 0; c < n; c++) {
    size_t len = strlen(ids[c]) + 1;
    memcpy(str, ids[c], len);
    fq->ids[c] = str;
    str += len;
  }
  memcpy(fq->cells, cells, (size_t)n * nlegs * sizeof *cells);
  fq->ncand = n;
  memcpy(lo, l, nlegs * sizeof *lo);
  memcpy(hi, u, nlegs * sizeof *hi);
  return 0;
}

/* Run every qrels query through the legs; keep the candidate tables. */
static int index_set(const tune_args *a, hybrid_cli *hc, vector_file *qv, strmap *qids,
                     const bbuf *qtext_, const uint32_t *qoff, const blend_qrels *qr, tune_set *s_) {
  blend_error err = {0};
  const bbuf qtext = *qtext_;
  tune_set s = {0};
  int rc = 0;
  uint32_t nlegs = hybrid_cli_query_of(hc)->nlegs;
  s.qr = qr;
  s.nlegs = nlegs;
  s.nq = blend_qrels_queries(qr);
  s.owns_queries = 1;
  s.q = calloc(s.nq ? s.nq : 1, sizeof *s.q);
  s.lower = calloc((size_t)s.nq * nlegs + 1, sizeof *s.lower);
  s.upper = calloc((size_t)s.nq * nlegs + 1, sizeof *s.upper);
  if (!s.q || !s.lower || !s.upper) {
    rc = cli_fail("out of memory");
    goto fail;
  }
  uint32_t no_text = 0;
  double t0 = now_seconds();
  for (uint32_t i = 0; i < s.nq; i++) {
    const char *qid = blend_qrels_query_id(qr, i);
    uint32_t qi;
    if (!strmap_get(qids, qid, strlen(qid), &qi)) {
      no_text++;
      continue;
    }
    const float *vec = NULL;
    uint32_t dim = 0;
    if (qv) {
      vec = vector_file_get(qv, qid, strlen(qid));
      dim = vector_file_dim(qv);
      if (!vec) {
        rc = cli_fail("query '%s' has no vector in %s", qid, a->qvecs);
        goto fail;
      }
    }
    blend_hybrid_results r;
    if (hybrid_cli_query(hc, (const char *)qtext.data + qoff[qi], vec, dim, 1, &r, &err)) {
      rc = cli_fail("query '%s': %s", qid, err.message);
      goto fail;
    }
    if (keep_table(hybrid_cli_hybrid(hc), nlegs, &s.q[i], s.lower + (size_t)i * nlegs,
                   s.upper + (size_t)i * nlegs)) {
      rc = cli_fail("out of memory");
      goto fail;
    }
  }
  fprintf(stderr, "blend tune: ran %u queries through %u legs in %.2f s\n", s.nq - no_text, nlegs,
          now_seconds() - t0);
  if (no_text)
    fprintf(stderr, "blend tune: warning: %u qrels queries have no text in %s; they score 0\n",
            no_text, a->queries);
  *s_ = s;
  return 0;
fail:
  tune_set_free(&s);
  return rc;
}

static int tune_index(tune_args *a) {
  blend_error err = {0};
  blend_qrels *qr = NULL;
  blend_index *ix = NULL;
  hybrid_cli *hc = NULL;
  vector_file *qv = NULL;
  strmap *qids = NULL;
  bbuf qtext = {0};
  uint32_t *qoff = NULL, nqueries = 0;
  tune_set s = {0}, ts = {0};
  blend_qrels *tq = NULL;
  int rc = 0;
  if (blend_qrels_load(a->qrels, &qr, &err)) return cli_fail_err(&err);
  if (load_queries(a->queries, &qids, &qtext, &qoff, &nqueries)) {
    rc = 1;
    goto out;
  }
  if (blend_index_open(a->index, &ix, &err)) {
    rc = cli_fail_err(&err);
    goto out;
  }
  blend_search_options so;
  blend_search_options_default(&so);
  if (a->qvecs && vector_file_load(a->qvecs, a->qvec_ids, 0, &qv, &err)) {
    rc = cli_fail_err(&err);
    goto out;
  }
  if ((rc = hybrid_cli_open(ix, &a->ho, &so, qv != NULL, &hc))) goto out;
  const blend_hybrid_query *hq = hybrid_cli_query_of(hc);
  uint32_t nlegs = hq->nlegs;
  if ((rc = index_set(a, hc, qv, qids, &qtext, qoff, qr, &s))) goto out;
  if (a->test_qrels) {
    if (blend_qrels_load(a->test_qrels, &tq, &err)) {
      rc = cli_fail_err(&err);
      goto out;
    }
    if ((rc = index_set(a, hc, qv, qids, &qtext, qoff, tq, &ts))) goto out;
    if (tune_set_rels(&ts, &err)) {
      rc = cli_fail("%s: %s", a->test_qrels, err.message);
      goto out;
    }
  }
  if (tune_set_rels(&s, &err)) {
    rc = cli_fail("%s: %s", a->qrels, err.message);
    goto out;
  }
  const char *names[BLEND_MAX_LEGS];
  for (uint32_t l = 0; l < nlegs; l++) names[l] = blend_leg_name(hq->legs[l].kind);
  char title[512];
  snprintf(title, sizeof title, "blend tune: %s, %s", a->index, a->qrels);
  tune_config chosen;
  rc = tune_run(a, &s, ts.qr ? &ts : NULL, names, title, &chosen);
  if (!rc && !a->no_store) {
    blend_hybrid_query keep = *hq;
    keep.fusion = chosen.fo;
    keep.fusion.has_threshold = 0;
    char note[300];
    snprintf(note, sizeof note, "blend tune: %s (%s) on %s", chosen.label, a->metric, a->qrels);
    if (blend_hybrid_setting_save(a->index, &keep, note, &err)) rc = cli_fail_err(&err);
    else fprintf(stderr, "blend tune: stored %s as the hybrid default of %s\n", chosen.label, a->index);
  }
out:
  tune_set_free(&s);
  tune_set_free(&ts);
  blend_qrels_free(tq);
  hybrid_cli_close(hc);
  vector_file_free(qv);
  blend_index_close(ix);
  blend_qrels_free(qr);
  strmap_free(qids);
  bbuf_free(&qtext);
  free(qoff);
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
             !strcmp(o, "--metric") || !strcmp(o, "--folds") || !strcmp(o, "--plot") ||
             !strcmp(o, "--query-vectors") || !strcmp(o, "--query-vector-ids") ||
             !strcmp(o, "--test-qrels")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "blend tune: %s needs a value\n", o);
        return 2;
      }
      const char *v = argv[++i];
      if (!strcmp(o, "--qrels")) a.qrels = v;
      else if (!strcmp(o, "--index")) a.index = v;
      else if (!strcmp(o, "--queries")) a.queries = v;
      else if (!strcmp(o, "--plot")) a.plot = v;
      else if (!strcmp(o, "--query-vectors")) a.qvecs = v;
      else if (!strcmp(o, "--test-qrels")) a.test_qrels = v;
      else if (!strcmp(o, "--query-vector-ids")) a.qvec_ids = v;
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
    if (a.nruns || !a.queries) {
      fprintf(stderr, "blend tune: --index needs --queries FILE (and no run files)\n");
      return 2;
    }
    return tune_index(&a);
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
