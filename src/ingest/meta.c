/*
** meta.c — filter metadata from a parsed JSONL line: the scalar members of
** a "metadata" object (BEIR corpora carry one per document) and any
** top-level fields the user names (--meta-fields).
*/
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/ingest.h"

static int set(ingest_doc *d, const char *name, cJSON *v, int strict, blend_error *err) {
  blend_meta_value mv = {name, 0, 0, NULL, 0};
  if (cJSON_IsNull(v)) return 0;
  if (cJSON_IsNumber(v)) {
    mv.kind = BLEND_META_NUMBER;
    mv.number = v->valuedouble;
  } else if (cJSON_IsString(v)) {
    mv.kind = BLEND_META_STRING;
    mv.text = v->valuestring;
    mv.len = strlen(v->valuestring);
  } else if (cJSON_IsBool(v)) {
    mv.kind = BLEND_META_STRING;
    mv.text = cJSON_IsTrue(v) ? "true" : "false";
    mv.len = strlen(mv.text);
  } else {
    if (strict) return blend_seterr(err, BLEND_EINVAL, "metadata field \"%s\" is not a string, number or boolean", name);
    return 0; /* nested BEIR metadata: not filterable, skipped */
  }
  if (strlen(name) == 0 || strlen(name) > 63) {
    if (strict) return blend_seterr(err, BLEND_EINVAL, "metadata field name \"%s\" must have 1-63 bytes", name);
    return 0;
  }
  for (size_t i = 0; i < d->doc.nmeta; i++)
    if (!strcmp(d->meta[i].name, name)) {
      d->meta[i] = mv;
      return 0;
    }
  if (d->doc.nmeta == INGEST_MAX_META)
    return blend_seterr(err, BLEND_EINVAL, "more than %d metadata fields", INGEST_MAX_META);
  d->meta[d->doc.nmeta++] = mv;
  return 0;
}

int ingest_parse_meta(ingest_doc *d, const char *const *names, size_t n, blend_error *err) {
  cJSON *o = d->json;
  d->doc.meta = d->meta;
  d->doc.nmeta = 0;
  if (!o) return BLEND_OK;
  cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata"), *it;
  if (cJSON_IsObject(md))
    cJSON_ArrayForEach(it, md) if (it->string && set(d, it->string, it, 0, err)) return BLEND_EINVAL;
  for (size_t i = 0; i < n; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);
    if (v && set(d, names[i], v, 1, err)) return BLEND_EINVAL;
  }
  return BLEND_OK;
}
