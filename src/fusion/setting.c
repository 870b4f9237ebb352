/*
** setting.c — the index's stored hybrid default: DIR/hybrid.json, written
** atomically by `blend tune --index` and read by a hybrid query given no
** legs. Layout (version 1):
**   {"version": 1, "legs": [{"kind": "bm25", "depth": 100, "k1": 0.9,
**     "b": 0.4, "field_weights": {"title": 1}} ...], "norm": "minmax",
**    "fusion": "cc", "weights": [0.5, 0.5], "rrf_k": 60, "temperature": 1,
**    "complete_scores": false, "note": "tuned ..."}
** The manifest's "hybrid" member, when present, holds the same object.
*/
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fusion/fusion.h"
#include "index/index.h"
#include "util/util.h"

void blend_leg_default(blend_leg *l, int kind) {
  memset(l, 0, sizeof *l);
  l->kind = kind;
  l->depth = BLEND_DEFAULT_DEPTH;
  blend_search_options_default(&l->bm25);
}

void blend_hybrid_query_default(blend_hybrid_query *q) {
  memset(q, 0, sizeof *q);
  blend_fusion_options_default(&q->fusion);
  q->k = 10;
  q->rerank_depth = 20;
}

static int bad(const char *where, const char *what, blend_error *err) {
  return blend_seterr(err, BLEND_ECORRUPT, "%s: %s", where, what);
}

static int parse_setting(const char *where, const char *text, blend_hybrid_query *q,
                         blend_error *err) {
  cJSON *j = cJSON_Parse(text);
  if (!j || !cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return bad(where, "not a JSON object", err);
  }
  int rc = BLEND_OK;
  blend_fusion_options fo;
  blend_fusion_options_default(&fo);
  blend_leg legs[BLEND_MAX_LEGS];
  uint32_t nlegs = 0;
  cJSON *jl = cJSON_GetObjectItemCaseSensitive(j, "legs"), *it;
  if (!cJSON_IsArray(jl) || cJSON_GetArraySize(jl) < 1 || cJSON_GetArraySize(jl) > BLEND_MAX_LEGS) {
    rc = bad(where, "\"legs\" must be an array of 1..8 legs", err);
    goto out;
  }
  cJSON_ArrayForEach(it, jl) {
    cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");
    int kind;
    if (!cJSON_IsString(k) || blend_leg_parse(k->valuestring, &kind, NULL) || kind == BLEND_LEG_RUN) {
      rc = bad(where, "a leg has no valid \"kind\" (bm25, bm25-multi, dense)", err);
      goto out;
    }
    blend_leg *l = &legs[nlegs++];
    blend_leg_default(l, kind);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "depth");
    if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= 100000)
      l->depth = (uint32_t)d->valuedouble;
    cJSON *k1 = cJSON_GetObjectItemCaseSensitive(it, "k1"), *b = cJSON_GetObjectItemCaseSensitive(it, "b");
    if (cJSON_IsNumber(k1) && k1->valuedouble >= 0) l->bm25.k1 = (float)k1->valuedouble;
    if (cJSON_IsNumber(b) && b->valuedouble >= 0 && b->valuedouble <= 1) l->bm25.b = (float)b->valuedouble;
    cJSON *fw = cJSON_GetObjectItemCaseSensitive(it, "field_weights"), *w;
    cJSON_ArrayForEach(w, fw) {
      if (!cJSON_IsNumber(w) || !w->string || strlen(w->string) >= sizeof l->bm25.field_weights[0].name ||
          l->bm25.nfield_weights == BLEND_MAX_FIELD_WEIGHTS)
        continue;
      snprintf(l->bm25.field_weights[l->bm25.nfield_weights].name,
               sizeof l->bm25.field_weights[0].name, "%s", w->string);
      l->bm25.field_weights[l->bm25.nfield_weights++].weight = (float)w->valuedouble;
    }
    cJSON *ef = cJSON_GetObjectItemCaseSensitive(it, "ef");
    if (cJSON_IsNumber(ef) && ef->valuedouble >= 1) l->ef = (uint32_t)ef->valuedouble;
    l->exact = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "exact"));
  }
  cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "norm"), *f = cJSON_GetObjectItemCaseSensitive(j, "fusion");
  if (!cJSON_IsString(n) || blend_norm_parse(n->valuestring, &fo.norm, NULL) || !cJSON_IsString(f) ||
      blend_fusion_parse(f->valuestring, &fo.fusion, NULL)) {
    rc = bad(where, "\"norm\" or \"fusion\" missing or unknown", err);
    goto out;
  }
  cJSON *ws = cJSON_GetObjectItemCaseSensitive(j, "weights");
  if (cJSON_IsArray(ws)) {
    cJSON_ArrayForEach(it, ws) {
      if (!cJSON_IsNumber(it) || fo.nweights == BLEND_MAX_LEGS) {
        rc = bad(where, "\"weights\" must be numbers", err);
        goto out;
      }
      fo.weights[fo.nweights++] = it->valuedouble;
    }
  }
  cJSON *rk = cJSON_GetObjectItemCaseSensitive(j, "rrf_k"), *t = cJSON_GetObjectItemCaseSensitive(j, "temperature");
  if (cJSON_IsNumber(rk)) fo.rrf_k = rk->valuedouble;
  if (cJSON_IsNumber(t)) fo.temperature = t->valuedouble;
  fo.complete_scores = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete_scores"));
  blend_error e2 = {0};
  if (blend_fusion_options_check(&fo, nlegs, &e2)) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: %s", where, e2.message);
    goto out;
  }
  memcpy(q->legs, legs, sizeof legs);
  q->nlegs = nlegs;
  /* keep the caller's threshold; take the stored fusion */
  fo.has_threshold = q->fusion.has_threshold;
  fo.threshold = q->fusion.threshold;
  q->fusion = fo;
out:
  cJSON_Delete(j);
  return rc;
}

static void setting_path(char *buf, size_t cap, const char *dir) {
  snprintf(buf, cap, "%s/hybrid.json", dir);
}

int blend_hybrid_setting_load(const char *dir, blend_hybrid_query *q, blend_error *err) {
  char path[4200];
  setting_path(path, sizeof path, dir);
  struct stat st;
  if (stat(path, &st))
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: no stored hybrid setting", path);
  char *text;
  size_t len;
  int rc = file_read_all(path, &text, &len, err);
  if (rc) return rc;
  rc = parse_setting(path, text, q, err);
  free(text);
  return rc;
}

int blend_hybrid_setting_save(const char *dir, const blend_hybrid_query *q, const char *note,
                              blend_error *err) {
  int rc = blend_fusion_options_check(&q->fusion, q->nlegs, err);
  if (rc) return rc;
  cJSON *j = cJSON_CreateObject(), *legs = cJSON_AddArrayToObject(j, "legs");
  cJSON_AddNumberToObject(j, "version", 1);
  for (uint32_t i = 0; i < q->nlegs; i++) {
    const blend_leg *l = &q->legs[i];
    if (l->kind == BLEND_LEG_RUN) {
      cJSON_Delete(j);
      return blend_seterr(err, BLEND_EINVAL, "a run leg cannot be stored as an index's default");
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", blend_leg_name(l->kind));
    cJSON_AddNumberToObject(o, "depth", l->depth ? l->depth : BLEND_DEFAULT_DEPTH);
    if (l->kind != BLEND_LEG_DENSE) {
      cJSON_AddNumberToObject(o, "k1", l->bm25.k1);
      cJSON_AddNumberToObject(o, "b", l->bm25.b);
      cJSON *fw = cJSON_AddObjectToObject(o, "field_weights");
      for (uint32_t k = 0; k < l->bm25.nfield_weights && k < BLEND_MAX_FIELD_WEIGHTS; k++)
        cJSON_AddNumberToObject(fw, l->bm25.field_weights[k].name, l->bm25.field_weights[k].weight);
    } else {
      if (l->ef) cJSON_AddNumberToObject(o, "ef", l->ef);
      cJSON_AddBoolToObject(o, "exact", l->exact);
    }
    cJSON_AddItemToArray(legs, o);
  }
  cJSON_AddStringToObject(j, "norm", blend_norm_name(q->fusion.norm));
  cJSON_AddStringToObject(j, "fusion", blend_fusion_name(q->fusion.fusion));
  double w[BLEND_MAX_LEGS];
  blend_fusion_weights(&q->fusion, q->nlegs, w);
  cJSON_AddItemToObject(j, "weights", cJSON_CreateDoubleArray(w, (int)q->nlegs));
  cJSON_AddNumberToObject(j, "rrf_k", q->fusion.rrf_k);
  cJSON_AddNumberToObject(j, "temperature", q->fusion.temperature);
  cJSON_AddBoolToObject(j, "complete_scores", q->fusion.complete_scores);
  if (note) cJSON_AddStringToObject(j, "note", note);
  char *text = cJSON_Print(j);
  cJSON_Delete(j);
  if (!text) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  char path[4200];
  setting_path(path, sizeof path, dir);
  rc = file_write_atomic(path, text, strlen(text), err);
  free(text);
  return rc;
}

int blend_hybrid_query_defaults(const blend_index *ix, blend_hybrid_query *q, int *stored,
                                blend_error *err) {
  if (stored) *stored = 0;
  int rc = blend_hybrid_setting_load(ix->dir, q, err);
  if (rc == BLEND_OK) {
    if (stored) *stored = 1;
    return BLEND_OK;
  }
  if (rc != BLEND_ENOTFOUND) return rc;
  if (ix->hybrid) { /* the same object carried in the manifest */
    rc = parse_setting("MANIFEST \"hybrid\"", ix->hybrid, q, err);
    if (!rc && stored) *stored = 1;
    return rc;
  }
  blend_clearerr(err);
  q->nlegs = 2;
  blend_leg_default(&q->legs[0], BLEND_LEG_BM25);
  blend_leg_default(&q->legs[1], ix->vector.dim ? BLEND_LEG_DENSE : BLEND_LEG_BM25_MULTI);
  blend_fusion_options def;
  blend_fusion_options_default(&def);
  def.has_threshold = q->fusion.has_threshold;
  def.threshold = q->fusion.threshold;
  q->fusion = def;
  return BLEND_OK;
}
