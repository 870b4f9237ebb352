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
