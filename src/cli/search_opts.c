/*
** search_opts.c — parsing of the BM25/search options shared by `blend
** search` and `blend eval` (--k1, --b, --fields, --field-weight, --algorithm).
*/
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_search_option(blend_search_options *o, const char *name, const char *val) {
  char *end;
  if (!strcmp(name, "k1") || !strcmp(name, "b")) {
    float v = strtof(val, &end);
    if (*end || end == val) return cli_fail("--%s: not a number: %s", name, val) + 1;
    if (!strcmp(name, "k1")) o->k1 = v;
    else o->b = v;
    return 0;
  }
  if (!strcmp(name, "fields")) {
    if (!strcmp(val, "flat")) o->field_mode = BLEND_FIELDS_FLAT;
    else if (!strcmp(val, "multi") || !strcmp(val, "multifield")) o->field_mode = BLEND_FIELDS_MULTI;
    else return cli_fail("--fields: use flat or multi, not %s", val) + 1;
    return 0;
  }
  if (!strcmp(name, "field-weight")) {
    const char *eq = strchr(val, '=');
    if (!eq || eq == val || (size_t)(eq - val) >= sizeof o->field_weights[0].name)
      return cli_fail("--field-weight: use FIELD=WEIGHT, not %s", val) + 1;
    if (o->nfield_weights == BLEND_MAX_FIELD_WEIGHTS) return cli_fail("--field-weight: too many") + 1;
    float w = strtof(eq + 1, &end);
    if (*end || end == eq + 1 || w < 0) return cli_fail("--field-weight: bad weight in %s", val) + 1;
    memcpy(o->field_weights[o->nfield_weights].name, val, (size_t)(eq - val));
    o->field_weights[o->nfield_weights].name[eq - val] = 0;
    o->field_weights[o->nfield_weights].weight = w;
    o->nfield_weights++;
    return 0;
  }
  if (!strcmp(name, "algorithm")) {
    if (!strcmp(val, "auto")) o->algorithm = BLEND_TOPK_AUTO;
    else if (!strcmp(val, "exhaustive")) o->algorithm = BLEND_TOPK_EXHAUSTIVE;
    else if (!strcmp(val, "maxscore")) o->algorithm = BLEND_TOPK_MAXSCORE;
    else if (!strcmp(val, "bmw")) o->algorithm = BLEND_TOPK_BMW;
    else return cli_fail("--algorithm: use auto, exhaustive, maxscore or bmw") + 1;
    return 0;
  }
  return cli_fail("unknown option --%s", name) + 1;
}
