/*
** model_config.c — reading a model directory's JSON configuration files
** (see model_config.h).
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/model_config.h"
#include "util/util.h"

/* Parse dir/rel into *root. Missing file: BLEND_ENOTFOUND (message set). */
static int load_json(const char *dir, const char *rel, cJSON **root, char *path, size_t pcap,
                     blend_error *err) {
  *root = NULL;
  snprintf(path, pcap, "%s/%s", dir, rel);
  char *text;
  size_t len;
  int rc = file_read_all(path, &text, &len, err);
  if (rc) return rc;
  *root = cJSON_ParseWithLength(text, len);
  free(text);
  if (!*root) return blend_seterr(err, BLEND_ECORRUPT, "%s: not valid JSON", path);
  if (!cJSON_IsObject(*root) && !cJSON_IsArray(*root)) {
    cJSON_Delete(*root);
    *root = NULL;
    return blend_seterr(err, BLEND_ECORRUPT, "%s: not a JSON object", path);
  }
  return BLEND_OK;
}

/* A positive integer field ≤ max; def (if non-zero) when absent. */
static int get_u32(const char *path, const cJSON *o, const char *key, uint32_t def, uint32_t max,
                   uint32_t *out, blend_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v) {
    if (def) {
      *out = def;
      return BLEND_OK;
    }
    return blend_seterr(err, BLEND_ECORRUPT, "%s: missing \"%s\"", path, key);
  }
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
  if (!(d >= 1 && d <= max && floor(d) == d))
    return blend_seterr(err, BLEND_ECORRUPT, "%s: \"%s\" must be an integer in 1..%u", path, key,
                        max);
  *out = (uint32_t)d;
  return BLEND_OK;
}

static int is_true(const cJSON *o, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

static int load_pooling(const char *dir, const char *sub, bert_config *cfg, blend_error *err) {
  char rel[1024], path[2048];
  snprintf(rel, sizeof rel, "%s%sconfig.json", sub, *sub ? "/" : "");
  cJSON *p;
  int rc = load_json(dir, rel, &p, path, sizeof path, err);
  if (rc) return rc;
  static const char *unsupported[] = {"pooling_mode_mean_sqrt_len_tokens",
                                      "pooling_mode_weightedmean_tokens",
                                      "pooling_mode_lasttoken"};
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (is_true(p, unsupported[i])) {
      cJSON_Delete(p);
      return blend_seterr(err, BLEND_EUNSUPPORTED, "%s: %s is not supported", path,
                          unsupported[i]);
    }
  int mean = is_true(p, "pooling_mode_mean_tokens"), cls = is_true(p, "pooling_mode_cls_token"),
      max = is_true(p, "pooling_mode_max_tokens");
  const cJSON *dim = cJSON_GetObjectItemCaseSensitive(p, "word_embedding_dimension");
  int dim_bad = dim && (!cJSON_IsNumber(dim) || dim->valuedouble != cfg->hidden);
  cJSON_Delete(p);
  if (mean + cls + max != 1)
    return blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, "
                        "pooling_mode_max_tokens must be true",
                        path);
  if (dim_bad)
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: word_embedding_dimension differs from hidden_size %u", path,
                        cfg->hidden);
  cfg->pooling = mean ? BERT_POOL_MEAN : cls ? BERT_POOL_CLS : BERT_POOL_MAX;
  return BLEND_OK;
}

/* modules.json: find the Pooling module's directory and a Normalize module. */
static int load_modules(const char *dir, bert_config *cfg, blend_error *err) {
  char path[2048];
  cJSON *m;
  int rc = load_json(dir, "modules.json", &m, path, sizeof path, err);
  if (rc == BLEND_ENOTFOUND) {
    blend_clearerr(err);
    return BLEND_OK; /* plain transformers checkpoint: mean pooling, no normalize */
  }
  if (rc) return rc;
  if (!cJSON_IsArray(m)) {
    cJSON_Delete(m);
    return blend_seterr(err, BLEND_ECORRUPT, "%s: expected a JSON array", path);
  }
  char pool_dir[1024] = "";
  int have_pool = 0;
  for (const cJSON *e = m->child; e; e = e->next) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(e, "path");
    if (!cJSON_IsString(type)) continue;
    const char *t = type->valuestring;
    if (ends_with(t, ".Pooling") || !strcmp(t, "Pooling")) {
      if (!cJSON_IsString(sub) || strstr(sub->valuestring, "..") || sub->valuestring[0] == '/') {
        cJSON_Delete(m);
        return blend_seterr(err, BLEND_ECORRUPT, "%s: Pooling module needs a relative \"path\"",
                            path);
      }
      snprintf(pool_dir, sizeof pool_dir, "%s", sub->valuestring);
      have_pool = 1;
    } else if (ends_with(t, ".Normalize") || !strcmp(t, "Normalize")) {
      cfg->normalize = 1;
    } else if (!ends_with(t, ".Transformer") && strcmp(t, "Transformer")) {
      rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: module type \"%.200s\" is not supported",
                        path, t);
      cJSON_Delete(m);
      return rc;
    }
  }
  cJSON_Delete(m);
  return have_pool ? load_pooling(dir, pool_dir, cfg, err) : BLEND_OK;
}

int bert_config_load(const char *dir, bert_config *cfg, blend_error *err) {
  memset(cfg, 0, sizeof *cfg);
  char path[2048];
  cJSON *c;
  int rc = load_json(dir, "config.json", &c, path, sizeof path, err);
  if (rc) return rc;
  const cJSON *mt = cJSON_GetObjectItemCaseSensitive(c, "model_type");
  const cJSON *act = cJSON_GetObjectItemCaseSensitive(c, "hidden_act");
  const cJSON *pet = cJSON_GetObjectItemCaseSensitive(c, "position_embedding_type");
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(c, "layer_norm_eps");
  const cJSON *arch = cJSON_GetObjectItemCaseSensitive(c, "architectures");
  const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(c, "id2label");
  const cJSON *nl = cJSON_GetObjectItemCaseSensitive(c, "num_labels");
  if (cJSON_IsString(mt) && strcmp(mt->valuestring, "bert")) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: model_type \"%.100s\" is not supported (bert)",
                      path, mt->valuestring);
    goto done;
  }
  if ((rc = get_u32(path, c, "hidden_size", 0, 65536, &cfg->hidden, err)) ||
      (rc = get_u32(path, c, "num_hidden_layers", 0, 1024, &cfg->layers, err)) ||
      (rc = get_u32(path, c, "num_attention_heads", 0, 1024, &cfg->heads, err)) ||
      (rc = get_u32(path, c, "intermediate_size", 0, 1 << 20, &cfg->intermediate, err)) ||
      (rc = get_u32(path, c, "max_position_embeddings", 512, 1 << 20, &cfg->max_position, err)) ||
      (rc = get_u32(path, c, "type_vocab_size", 2, 1 << 16, &cfg->type_vocab, err)) ||
      (rc = get_u32(path, c, "vocab_size", 0, 1 << 24, &cfg->vocab, err)))
    goto done;
  if (cfg->hidden % cfg->heads) {
    rc = blend_seterr(err, BLEND_ECORRUPT,
                      "%s: hidden_size %u is not a multiple of num_attention_heads %u", path,
                      cfg->hidden, cfg->heads);
    goto done;
  }
  if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu"))) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                      "%s: hidden_act \"%.100s\" is not supported (only \"gelu\", exact erf)",
                      path, cJSON_IsString(act) ? act->valuestring : "?");
    goto done;
  }
  if (pet && (!cJSON_IsString(pet) || strcmp(pet->valuestring, "absolute"))) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                      "%s: position_embedding_type \"%.100s\" is not supported (absolute)", path,
                      cJSON_IsString(pet) ? pet->valuestring : "?");
    goto done;
  }
  cfg->ln_eps = 1e-12f;
  if (eps) {
    if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1)) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: layer_norm_eps must be in (0, 1)", path);
      goto done;
    }
    cfg->ln_eps = (float)eps->valuedouble;
  }
  if (cJSON_IsArray(arch))
    for (const cJSON *a = arch->child; a; a = a->next)
      if (cJSON_IsString(a) && ends_with(a->valuestring, "ForSequenceClassification"))
        cfg->cross = 1;
  cfg->num_labels = 1;
  if (cJSON_IsObject(id2label)) cfg->num_labels = (uint32_t)cJSON_GetArraySize(id2label);
  else if (cJSON_IsNumber(nl) && nl->valuedouble >= 1) cfg->num_labels = (uint32_t)nl->valuedouble;
  cfg->max_seq_length = cfg->max_position < 512 ? cfg->max_position : 512;
  cJSON_Delete(c);
  c = NULL;

  /* sentence-transformers files (all optional) */
  cJSON *s;
  rc = load_json(dir, "sentence_bert_config.json", &s, path, sizeof path, err);
  if (rc == BLEND_OK) {
    const cJSON *msl = cJSON_GetObjectItemCaseSensitive(s, "max_seq_length");
    if (msl && !cJSON_IsNull(msl)) {
      if (!cJSON_IsNumber(msl) || !(msl->valuedouble >= 3) ||
          floor(msl->valuedouble) != msl->valuedouble) {
        cJSON_Delete(s);
        return blend_seterr(err, BLEND_ECORRUPT, "%s: max_seq_length must be an integer >= 3",
                            path);
      }
      double v = msl->valuedouble;
      cfg->max_seq_length = v < cfg->max_position ? (uint32_t)v : cfg->max_position;
    }
    cJSON_Delete(s);
  } else if (rc != BLEND_ENOTFOUND) {
    return rc;
  }
  blend_clearerr(err);
  cfg->pooling = BERT_POOL_MEAN;
  if (!cfg->cross) return load_modules(dir, cfg, err);
  return BLEND_OK;
done:
  cJSON_Delete(c);
  return rc;
}
