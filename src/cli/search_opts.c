/*
** search_opts.c — the options `blend search` and `blend eval` share, parsed
** by one function: BM25 (--k1, --b, --fields, --field-weight, --algorithm),
** filters (--filter, repeatable), the dense leg's query (--vector,
** --query-vectors) and everything hybrid_cli.c parses (--mode, --legs,
** fusion, --ef, --exact, --model, --int8, --threads, rerank). Also the
** dense-query helpers both commands use: open the index's query encoder,
** parse a vector, build the filter.
*/
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"

void cli_query_opts_init(cli_query_opts *q) {
  memset(q, 0, sizeof *q);
  blend_search_options_default(&q->so);
  hybrid_opts_init(&q->ho);
}

static const char *const value_opts[] = {"k1", "b", "fields", "field-weight", "algorithm",
                                         "filter", "vector", "query-vectors", NULL};

int cli_query_opts_takes_value(const char *name) {
  for (int i = 0; value_opts[i]; i++)
    if (!strcmp(name, value_opts[i])) return 1;
  return hybrid_opts_takes_value(name);
}

static int bad(const char *fmt, const char *a) {
  fputs("blend: ", stderr);
  fprintf(stderr, fmt, a);
  fputc('\n', stderr);
  return -1;
}

int cli_query_opts_set(cli_query_opts *q, const char *name, const char *val) {
  blend_search_options *o = &q->so;
  char *end;
  int takes = cli_query_opts_takes_value(name);
  if (takes && !val) return bad("--%s needs a value", name);
  if (!strcmp(name, "k1") || !strcmp(name, "b")) {
    errno = 0;
    float v = strtof(val, &end);
    if (*end || end == val || errno || !isfinite(v)) return bad("not a number: %s", val);
    if (!strcmp(name, "k1")) {
      if (v < 0) return bad("--k1 must be >= 0, not %s", val);
      o->k1 = v;
    } else {
      if (v < 0 || v > 1) return bad("--b must be in [0, 1], not %s", val);
      o->b = v;
    }
    return 1;
  }
  if (!strcmp(name, "fields")) {
    if (!strcmp(val, "flat")) o->field_mode = BLEND_FIELDS_FLAT;
    else if (!strcmp(val, "multi") || !strcmp(val, "multifield")) o->field_mode = BLEND_FIELDS_MULTI;
    else return bad("--fields: use flat or multi, not %s", val);
    return 1;
  }
  if (!strcmp(name, "field-weight")) {
    const char *eq = strchr(val, '=');
    if (!eq || eq == val || (size_t)(eq - val) >= sizeof o->field_weights[0].name)
      return bad("--field-weight: use FIELD=WEIGHT, not %s", val);
    if (o->nfield_weights == BLEND_MAX_FIELD_WEIGHTS) return bad("--field-weight: at most %s", "8");
    errno = 0;
    float w = strtof(eq + 1, &end);
    if (*end || end == eq + 1 || errno || !isfinite(w) || w < 0)
      return bad("--field-weight: the weight must be a finite number >= 0 in %s", val);
    memcpy(o->field_weights[o->nfield_weights].name, val, (size_t)(eq - val));
    o->field_weights[o->nfield_weights].name[eq - val] = 0;
    o->field_weights[o->nfield_weights].weight = w;
    o->nfield_weights++;
    return 1;
  }
  if (!strcmp(name, "algorithm")) {
    if (!strcmp(val, "auto")) o->algorithm = BLEND_TOPK_AUTO;
    else if (!strcmp(val, "exhaustive")) o->algorithm = BLEND_TOPK_EXHAUSTIVE;
    else if (!strcmp(val, "maxscore")) o->algorithm = BLEND_TOPK_MAXSCORE;
    else if (!strcmp(val, "bmw")) o->algorithm = BLEND_TOPK_BMW;
    else return bad("--algorithm: use auto, exhaustive, maxscore or bmw, not %s", val);
    return 1;
  }
  if (!strcmp(name, "filter")) {
    if (q->nfilters == CLI_MAX_FILTERS) return bad("--filter: at most %s", "32");
    q->filters[q->nfilters++] = val;
    return 1;
  }
  if (!strcmp(name, "vector")) {
    q->vector = val;
    return 1;
  }
  if (!strcmp(name, "query-vectors")) {
    q->query_vectors = val;
    return 1;
  }
  return hybrid_opts_set(&q->ho, name, val);
}

int cli_query_opts_finish(cli_query_opts *q, blend_filter **filter) {
  *filter = NULL;
  if (q->nfilters == 0) return 0;
  blend_error err = {0};
  if (blend_filter_new(filter, &err)) return cli_fail_err(&err);
  for (size_t i = 0; i < q->nfilters; i++)
    if (blend_filter_add(*filter, q->filters[i], &err)) {
      blend_filter_free(*filter);
      *filter = NULL;
      return cli_fail("--filter: %s", err.message);
    }
  q->so.filter = *filter;
  return 0;
}

int cli_parse_vector(const char *text, uint32_t dim, float **out, const char *what) {
  *out = NULL;
  cJSON *j = cJSON_Parse(text);
  int n = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
  if (n <= 0) {
    cJSON_Delete(j);
    return cli_fail("%s: expected a JSON array of numbers", what);
  }
  if ((uint32_t)n != dim) {
    cJSON_Delete(j);
    return cli_fail("%s has %d dimensions, the index's vectors have %u", what, n, dim);
  }
  float *v = malloc((size_t)n * sizeof *v);
  int i = 0, rc = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, j) {
    if (!v || !cJSON_IsNumber(it) || !isfinite((float)it->valuedouble)) {
      rc = cli_fail("%s: component %d is not a finite number", what, i);
      break;
    }
    v[i++] = (float)it->valuedouble;
  }
  cJSON_Delete(j);
  if (rc) {
    free(v);
    return rc;
  }
  *out = v;
  return 0;
}

int cli_open_query_model(const blend_index *ix, const cli_query_opts *q, blend_model **m) {
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = q->ho.threads;
  if (q->ho.int8) mo.precision = BLEND_PRECISION_INT8;
  blend_error err = {0};
  if (blend_index_open_query_model(ix, q->ho.model, &mo, m, &err)) return cli_fail_err(&err);
  return 0;
}
