/*
** hybrid_cli.c — the hybrid side of the command line: parsing of the
** hybrid options shared by `blend search`, `blend eval`, `blend fuse` and
** `blend tune` (--mode --legs --norm --fusion --alpha --weights --rrf-k
** --depth --complete-scores --offset --rerank ...), and the --mode hybrid
** paths of search (printing, explain) and eval. Every check the library
** makes again is made here first so a usage error names the option.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

void hybrid_opts_init(hybrid_opts *o) {
  memset(o, 0, sizeof *o);
  blend_fusion_options_default(&o->fo);
  o->rerank_depth = 20;
  o->rerank_field = "text";
}

static int usage(const char *fmt, const char *a, const char *b) {
  fputs("blend: ", stderr);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  return -1;
}

static int num(const char *name, const char *v, double *out) {
  char *e;
  errno = 0;
  *out = strtod(v, &e);
  if (e == v || *e || errno || !isfinite(*out))
    return usage("--%s: not a finite number: '%s'", name, v);
  return 0;
}

static int count(const char *name, const char *v, uint32_t lo, uint32_t hi, uint32_t *out) {
  char *e;
  errno = 0;
  long long x = strtoll(v, &e, 10);
  if (e == v || *e || errno || x < (long long)lo || x > (long long)hi) {
    char range[64];
    snprintf(range, sizeof range, "an integer %u..%u", lo, hi);
    fprintf(stderr, "blend: --%s: expected %s, not '%s'\n", name, range, v);
    return -1;
  }
  *out = (uint32_t)x;
  return 0;
}

static const char *const value_opts[] = {
    "mode",  "legs", "norm",   "fusion",       "alpha",        "weights",  "rrf-k",
    "depth", "temperature",    "threshold",    "offset",       "ef",       "model",
    "rerank", "rerank-depth",  "rerank-field", "threads"};
static const char *const flag_opts[] = {"complete-scores", "exact", "int8"};

int hybrid_opts_takes_value(const char *name) {
  for (size_t i = 0; i < sizeof value_opts / sizeof *value_opts; i++)
    if (!strcmp(name, value_opts[i])) return 1;
  return 0;
}

static int is_flag(const char *name) {
  for (size_t i = 0; i < sizeof flag_opts / sizeof *flag_opts; i++)
    if (!strcmp(name, flag_opts[i])) return 1;
  return 0;
}

int hybrid_opts_set(hybrid_opts *o, const char *n, const char *v) {
  blend_error err = {0};
  double d;
  if (is_flag(n)) {
    if (v) return usage("--%s takes no value (got '%s')", n, v);
    if (!strcmp(n, "complete-scores")) o->fo.complete_scores = 1, o->given |= HYBRID_GIVEN_COMPLETE;
    else if (!strcmp(n, "exact")) o->exact = 1;
    else o->int8 = 1;
    return 1;
  }
  if (!hybrid_opts_takes_value(n)) return 0;
  if (!v) return usage("--%s needs a value%s", n, "");
  if (!strcmp(n, "mode")) {
    if (!strcmp(v, "lexical") || !strcmp(v, "bm25")) o->mode = HYBRID_MODE_LEXICAL;
    else if (!strcmp(v, "dense")) o->mode = HYBRID_MODE_DENSE;
    else if (!strcmp(v, "hybrid")) o->mode = HYBRID_MODE_HYBRID;
    else return usage("--mode: use lexical, dense or hybrid, not '%s'%s", v, "");
  } else if (!strcmp(n, "legs")) {
    char buf[256];
    if (strlen(v) >= sizeof buf) return usage("--legs: too long%s%s", "", "");
    snprintf(buf, sizeof buf, "%s", v);
    o->nlegs = 0;
    for (char *p = buf, *tok; (tok = strsep(&p, ","));) {
      if (!*tok) continue;
      if (o->nlegs == BLEND_MAX_LEGS) return usage("--legs: at most 8 legs%s%s", "", "");
      int kind;
      if (blend_leg_parse(tok, &kind, &err) || kind == BLEND_LEG_RUN)
        return usage("--legs: %s%s", err.message[0] ? err.message : "a run is not an index leg",
                     " (legs: bm25, bm25-multi, dense)");
      o->legs[o->nlegs++] = kind;
    }
    if (!o->nlegs) return usage("--legs is empty%s%s", "", "");
  } else if (!strcmp(n, "norm")) {
    if (blend_norm_parse(v, &o->fo.norm, &err)) return usage("--norm: %s%s", err.message, "");
    o->given |= HYBRID_GIVEN_NORM;
  } else if (!strcmp(n, "fusion")) {
    if (blend_fusion_parse(v, &o->fo.fusion, &err)) return usage("--fusion: %s%s", err.message, "");
    o->given |= HYBRID_GIVEN_FUSION;
  } else if (!strcmp(n, "alpha")) {
    if (num(n, v, &d)) return -1;
    if (d < 0 || d > 1) return usage("--alpha must be in [0, 1], not '%s'%s", v, "");
    o->fo.alpha = d;
    o->fo.nweights = 0;
    o->given |= HYBRID_GIVEN_WEIGHTS;
  } else if (!strcmp(n, "weights")) {
    char buf[512];
    if (strlen(v) >= sizeof buf) return usage("--weights: too long%s%s", "", "");
    snprintf(buf, sizeof buf, "%s", v);
    o->fo.nweights = 0;
    for (char *p = buf, *tok; (tok = strsep(&p, ","));) {
      if (o->fo.nweights == BLEND_MAX_LEGS) return usage("--weights: at most 8%s%s", "", "");
      if (num(n, tok, &d)) return -1;
      if (d < 0) return usage("--weights: weight '%s' is negative (weights are >= 0)%s", tok, "");
      o->fo.weights[o->fo.nweights++] = d;
    }
    o->fo.alpha = -1;
    o->given |= HYBRID_GIVEN_WEIGHTS;
  } else if (!strcmp(n, "rrf-k")) {
    if (num(n, v, &d)) return -1;
    if (d <= 0) return usage("--rrf-k must be > 0, not '%s'%s", v, "");
    o->fo.rrf_k = d;
    o->given |= HYBRID_GIVEN_RRFK;
  } else if (!strcmp(n, "temperature")) {
    if (num(n, v, &d)) return -1;
    if (d <= 0) return usage("--temperature must be > 0, not '%s'%s", v, "");
    o->fo.temperature = d;
  } else if (!strcmp(n, "threshold")) {
    if (num(n, v, &d)) return -1;
    o->fo.has_threshold = 1;
    o->fo.threshold = d;
  } else if (!strcmp(n, "depth")) {
    if (count(n, v, 1, 100000, &o->depth)) return -1;
    o->given |= HYBRID_GIVEN_DEPTH;
  } else if (!strcmp(n, "offset")) {
    if (count(n, v, 0, 1000000, &o->offset)) return -1;
  } else if (!strcmp(n, "ef")) {
    if (count(n, v, 1, 100000, &o->ef)) return -1;
  } else if (!strcmp(n, "rerank-depth")) {
    if (count(n, v, 1, 10000, &o->rerank_depth)) return -1;
  } else if (!strcmp(n, "threads")) {
    uint32_t t;
    if (count(n, v, 0, 1024, &t)) return -1;
    o->threads = (int)t;
  } else if (!strcmp(n, "model")) o->model = v;
  else if (!strcmp(n, "rerank")) o->rerank = v;
  else if (!strcmp(n, "rerank-field")) o->rerank_field = v;
  return 1;
}

int hybrid_opts_parse(int *i, int argc, char **argv, hybrid_opts *o) {
  const char *a = argv[*i];
  if (strncmp(a, "--", 2)) return 0;
  char name[64];
  const char *eq = strchr(a, '='), *val = NULL;
  size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
  if (len >= sizeof name) return 0;
  memcpy(name, a + 2, len);
  name[len] = 0;
  if (eq) val = eq + 1;
  if (!is_flag(name) && !hybrid_opts_takes_value(name)) return 0;
  if (!eq && hybrid_opts_takes_value(name)) {
    if (*i + 1 >= argc) return usage("--%s needs a value%s", name, "");
    val = argv[++*i];
  }
  return hybrid_opts_set(o, name, val);
}

/* ---- the hybrid engine of one CLI run */

struct hybrid_cli {
  blend_index *ix;
  blend_hybrid *h;
  blend_hybrid_query q;
  blend_model *qmodel, *rmodel;
  uint32_t dense_dim;
};

void hybrid_cli_close(hybrid_cli *c) {
  if (!c) return;
  blend_hybrid_free(c->h);
  blend_model_close(c->qmodel);
  blend_model_close(c->rmodel);
  free(c);
}

blend_searcher *hybrid_cli_searcher(hybrid_cli *c) { return blend_hybrid_searcher(c->h); }
blend_hybrid *hybrid_cli_hybrid(hybrid_cli *c) { return c->h; }
const blend_hybrid_query *hybrid_cli_query_of(const hybrid_cli *c) { return &c->q; }

int hybrid_cli_open(blend_index *ix, const hybrid_opts *ho, const blend_search_options *so,
                    int have_vectors, hybrid_cli **out) {
  *out = NULL;
  blend_error err = {0};
  hybrid_cli *c = calloc(1, sizeof *c);
  if (!c) return cli_fail("out of memory");
  c->ix = ix;
  blend_hybrid_query *q = &c->q;
  blend_hybrid_query_default(q);
  q->fusion = ho->fo;
  int stored = 0;
  if (ho->nlegs) {
    q->nlegs = ho->nlegs;
    for (uint32_t l = 0; l < ho->nlegs; l++) blend_leg_default(&q->legs[l], ho->legs[l]);
  } else {
    if (blend_hybrid_query_defaults(ix, q, &stored, &err)) {
      hybrid_cli_close(c);
      return cli_fail_err(&err);
    }
    /* options given on the command line win over the stored ones */
    if (ho->given & HYBRID_GIVEN_NORM) q->fusion.norm = ho->fo.norm;
    if (ho->given & HYBRID_GIVEN_FUSION) q->fusion.fusion = ho->fo.fusion;
    if (ho->given & HYBRID_GIVEN_WEIGHTS) {
      q->fusion.alpha = ho->fo.alpha;
      q->fusion.nweights = ho->fo.nweights;
      memcpy(q->fusion.weights, ho->fo.weights, sizeof q->fusion.weights);
    }
    if (ho->given & HYBRID_GIVEN_RRFK) q->fusion.rrf_k = ho->fo.rrf_k;
    if (ho->given & HYBRID_GIVEN_COMPLETE) q->fusion.complete_scores = ho->fo.complete_scores;
    q->fusion.temperature = ho->fo.temperature;
  }
  q->fusion.has_threshold = ho->fo.has_threshold;
  q->fusion.threshold = ho->fo.threshold;
  int dense = 0;
  for (uint32_t l = 0; l < q->nlegs; l++) {
    blend_leg *leg = &q->legs[l];
    if (ho->given & HYBRID_GIVEN_DEPTH) leg->depth = ho->depth;
    if (leg->kind == BLEND_LEG_DENSE) {
      dense = 1;
      if (ho->ef) leg->ef = ho->ef;
      if (ho->exact) leg->exact = 1;
    } else if (!stored || so->nfield_weights || so->k1 != 0.9f || so->b != 0.4f) {
      leg->bm25 = *so;
    }
  }
  q->filter = so->filter;
  q->offset = ho->offset;
  if (blend_fusion_options_check(&q->fusion, q->nlegs, &err)) {
    hybrid_cli_close(c);
    fprintf(stderr, "blend: %s\n", err.message);
    return 2;
  }
  blend_vector_config vc;
  if (dense && blend_index_vector_config(ix, &vc, NULL)) {
    hybrid_cli_close(c);
    return cli_fail("%s: the dense leg needs a vector field, and this index has none (index with "
                    "--model or --vectors, or choose --legs bm25,bm25-multi)",
                    "index");
  }
  if (dense) c->dense_dim = vc.dim;
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = ho->threads;
  if (ho->int8) mo.precision = BLEND_PRECISION_INT8;
  if (dense && !have_vectors &&
      blend_index_open_query_model(ix, ho->model, &mo, &c->qmodel, &err)) {
    hybrid_cli_close(c);
    return cli_fail_err(&err);
  }
  q->query_model = c->qmodel;
  if (ho->rerank) {
    if (blend_model_open(ho->rerank, &mo, &c->rmodel, &err)) {
      hybrid_cli_close(c);
      return cli_fail("--rerank: %s", err.message);
    }
    if (!blend_model_is_cross_encoder(c->rmodel)) {
      hybrid_cli_close(c);
      return cli_fail("--rerank %s: a bi-encoder, not a cross-encoder", ho->rerank);
    }
    q->rerank_model = c->rmodel;
    q->rerank_depth = ho->rerank_depth;
    q->rerank_field = ho->rerank_field;
  }
  if (blend_hybrid_new(ix, &c->h, &err)) {
    hybrid_cli_close(c);
    return cli_fail_err(&err);
  }
  *out = c;
  return 0;
}

int hybrid_cli_query(hybrid_cli *c, const char *text, const float *vec, uint32_t dim, uint32_t k,
                     blend_hybrid_results *out, blend_error *err) {
  c->q.text = text;
  c->q.k = k;
  for (uint32_t l = 0; l < c->q.nlegs; l++)
    if (c->q.legs[l].kind == BLEND_LEG_DENSE) {
      c->q.legs[l].vector = vec;
      c->q.legs[l].dim = vec ? dim : 0;
    }
  return blend_hybrid_search(c->h, &c->q, out, err);
}

int hybrid_cli_add_run(const blend_hybrid_results *r, const char *qid, blend_run *run,
                       blend_error *err) {
  for (uint32_t i = 0; i < r->count; i++) {
    /* reranked results: scores that keep the final order (logits of the
       reranked block and fused scores after it are not comparable) */
    double s = r->reranked ? (double)(r->count - i) : r->hits[i].fused;
    int rc = blend_run_add(run, qid, r->hits[i].id, s, err);
    if (rc) return rc;
  }
  return BLEND_OK;
}

static void json_num(double v) {
  if (isfinite(v)) printf("%.9g", v);
  else printf("null");
}

static void print_explain(const hybrid_cli *c, const blend_hybrid_hit *h, int json) {
  const blend_hybrid_query *q = &c->q;
  if (json) {
    printf(",\"legs\":[");
    for (uint32_t l = 0; l < q->nlegs; l++) {
      const blend_leg_score *e = &h->legs[l];
      printf("%s{\"leg\":\"%s\",\"raw\":", l ? "," : "", blend_leg_name(q->legs[l].kind));
      json_num(e->raw);
      printf(",\"rank\":%u,\"retrieved\":%s,\"completed\":%s,\"norm\":", e->rank,
             e->retrieved ? "true" : "false", e->completed ? "true" : "false");
      json_num(e->norm);
      printf(",\"weight\":");
      json_num(e->weight);
      printf(",\"contribution\":");
      json_num(e->contribution);
      printf("}");
    }
    printf("]");
    return;
  }
  printf("      %-11s %12s %6s %10s %8s %12s\n", "leg", "raw", "rank", "norm", "weight",
         "contribution");
  for (uint32_t l = 0; l < q->nlegs; l++) {
    const blend_leg_score *e = &h->legs[l];
    if (!e->rank) {
      printf("      %-11s %12s %6s %10s %8.4f %12.6f  (not retrieved: counts 0)\n",
             blend_leg_name(q->legs[l].kind), "-", "-", "-", e->weight, 0.0);
      continue;
    }
    printf("      %-11s %12.6f %6u %10.6f %8.4f %12.6f%s\n", blend_leg_name(q->legs[l].kind),
           e->raw, e->rank, e->norm, e->weight, e->contribution,
           e->completed ? "  (score completed)" : "");
  }
  printf("      fused %.6f (%s %s, fused rank %u)", h->fused,
         q->fusion.fusion == BLEND_FUSION_RRF ? "-" : blend_norm_name(q->fusion.norm),
         blend_fusion_name(q->fusion.fusion), h->fused_rank);
  if (!isnan(h->rerank)) printf("  rerank %.6f", h->rerank);
  putchar('\n');
}

int hybrid_cli_search(blend_index *ix, const hybrid_opts *ho, const blend_search_options *so,
                      const float *vector, uint32_t dim, const char *query, int json,
                      long snippet_bytes) {
  hybrid_cli *c;
  int rc = hybrid_cli_open(ix, ho, so, vector != NULL, &c);
  if (rc) return rc;
  blend_error err = {0};
  blend_hybrid_results r;
  if (hybrid_cli_query(c, query, vector, dim, so->k, &r, &err)) {
    hybrid_cli_close(c);
    return cli_fail_err(&err);
  }
  if (!json) {
    fprintf(stderr, "blend: hybrid of");
    for (uint32_t l = 0; l < c->q.nlegs; l++)
      fprintf(stderr, "%s %s (%u hits)", l ? "," : "", blend_leg_name(c->q.legs[l].kind), r.leg_hits[l]);
    fprintf(stderr, "; %u candidates, %s %s%s; %.2f ms\n", r.candidates,
            c->q.fusion.fusion == BLEND_FUSION_RRF ? "-" : blend_norm_name(c->q.fusion.norm),
            blend_fusion_name(c->q.fusion.fusion), r.reranked ? ", reranked" : "",
            1e3 * (r.seconds_legs + r.seconds_fuse + r.seconds_rerank));
  }
  blend_searcher *s = blend_hybrid_searcher(c->h);
  int tty = isatty(1);
  const char *open = json ? "<b>" : tty ? "\x1b[1;33m" : "[", *close = json ? "</b>" : tty ? "\x1b[0m" : "]";
  for (uint32_t i = 0; i < r.count; i++) {
    const blend_hybrid_hit *h = &r.hits[i];
    const char *title = "", *snip = "";
    size_t tlen = 0;
    if (h->doc == UINT32_MAX || blend_searcher_doc_field(s, h->doc, "title", &title, &tlen, NULL))
      title = "", tlen = 0;
    char *tcopy = strndup(title, tlen);
    if (h->doc == UINT32_MAX || snippet_bytes <= 0 || !*query ||
        blend_searcher_snippet(s, h->doc, "text", query, (size_t)snippet_bytes, open, close, &snip, NULL))
      snip = "";
    uint32_t rank = ho->offset + i + 1;
    if (json) {
      printf("{\"rank\":%u,\"id\":", rank);
      cli_json_string(stdout, h->id, strlen(h->id));
      printf(",\"score\":");
      json_num(h->score);
      printf(",\"fused\":");
      json_num(h->fused);
      printf(",\"fused_rank\":%u,\"rerank\":", h->fused_rank);
      json_num(h->rerank);
      printf(",\"title\":");
      cli_json_string(stdout, tcopy ? tcopy : "", tcopy ? strlen(tcopy) : 0);
      printf(",\"snippet\":");
      cli_json_string(stdout, snip, strlen(snip));
      if (so->explain) print_explain(c, h, 1);
      printf("}\n");
    } else {
      printf("%3u. %s  (%.4f)  %s\n", rank, h->id, h->score, tcopy ? tcopy : "");
      if (*snip) printf("     %s\n", snip);
      if (so->explain) print_explain(c, h, 0);
    }
    free(tcopy);
  }
  hybrid_cli_close(c);
  return fflush(stdout) ? cli_fail("write error on stdout") : 0;
}
