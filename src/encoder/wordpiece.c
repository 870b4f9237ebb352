/*
** wordpiece.c — loading a BERT WordPiece tokenizer from a Hugging Face model
** directory (vocab.txt, else tokenizer.json's WordPiece vocab; options from
** tokenizer_config.json), and the [CLS]/[SEP] framing with single-text and
** longest_first pair truncation. Text → pieces is in wp_tokenize.c.
*/
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "encoder/wp_internal.h"

/* ------------------------------------------------------------ encodings */

int wp_reserve(wp_encoding *e, uint32_t extra) {
  if (extra <= e->cap - e->len) return 0;
  if (e->len > UINT32_MAX / 2 || extra > UINT32_MAX / 2 - e->len) return -1;
  uint32_t need = e->len + extra, cap = e->cap ? e->cap : 64;
  while (cap < need) cap *= 2;
  int32_t *ids = realloc(e->ids, (size_t)cap * sizeof *ids);
  if (!ids) return -1;
  e->ids = ids;
  int32_t *tt = realloc(e->type_ids, (size_t)cap * sizeof *tt);
  if (!tt) return -1;
  e->type_ids = tt;
  e->cap = cap;
  return 0;
}

int wp_push(wp_encoding *e, int32_t id, int32_t type) {
  if (e->len == e->cap && wp_reserve(e, 1)) return -1;
  e->ids[e->len] = id;
  e->type_ids[e->len] = type;
  e->len++;
  return 0;
}

void wp_encoding_free(wp_encoding *e) {
  if (!e) return;
  free(e->ids);
  free(e->type_ids);
  e->ids = e->type_ids = NULL;
  e->len = e->cap = 0;
}

/* ---------------------------------------------------------------- lookup */

uint32_t wp_vocab_size(const wp_tokenizer *t) { return t ? t->n : 0; }

const char *wp_id_to_token(const wp_tokenizer *t, int32_t id) {
  if (!t || id < 0 || (uint32_t)id >= t->n) return NULL;
  return t->tok[id];
}

int32_t wp_token_to_id(const wp_tokenizer *t, const char *tok, size_t len) {
  uint32_t id;
  if (!t || !tok || !strmap_get(t->vocab, tok, len, &id)) return -1;
  return (int32_t)id;
}

int32_t wp_pad_id(const wp_tokenizer *t) { return t ? t->pad : -1; }

void wp_tokenizer_free(wp_tokenizer *t) {
  if (!t) return;
  strmap_free(t->vocab);
  strmap_free(t->cont);
  free(t->tok);
  free(t->toklen);
  free(t->arena);
  free(t);
}

/* --------------------------------------------------------------- loading */

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int alloc_tokens(wp_tokenizer *t, uint32_t n, const char *path, blend_error *err) {
  t->n = n;
  t->tok = calloc(n ? n : 1, sizeof *t->tok);
  t->toklen = calloc(n ? n : 1, sizeof *t->toklen);
  if (!t->tok || !t->toklen) return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
  return BLEND_OK;
}

/* vocab.txt: one token per line, id = 0-based line number. Lines end with
** \n, \r\n or a lone \r (Python's universal newlines, as transformers reads
** the file); the last line needs no terminator. The file buffer becomes the
** token arena: terminators are overwritten with NULs in place. */
static int load_vocab_txt(wp_tokenizer *t, const char *path, blend_error *err) {
  char *data;
  size_t len;
  int rc = file_read_all(path, &data, &len, err);
  if (rc) return rc;
  t->arena = data;
  size_t lines = 0;
  for (size_t i = 0; i < len; i++) {
    if (data[i] == '\n' || (data[i] == '\r' && (i + 1 == len || data[i + 1] != '\n'))) lines++;
  }
  if (len && data[len - 1] != '\n' && data[len - 1] != '\r') lines++;
  if (lines == 0) return blend_seterr(err, BLEND_ECORRUPT, "%s: empty vocabulary", path);
  if (lines > (size_t)INT32_MAX)
    return blend_seterr(err, BLEND_EUNSUPPORTED, "%s: too many tokens", path);
  rc = alloc_tokens(t, (uint32_t)lines, path, err);
  if (rc) return rc;
  uint32_t id = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len && id < lines; i++) {
    int end_line = i == len || data[i] == '\n' || data[i] == '\r';
    if (!end_line) continue;
    t->tok[id] = data + start;
    t->toklen[id] = (uint32_t)(i - start);
    id++;
    if (i < len && data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') data[i++] = 0;
    if (i < len) data[i] = 0;
    start = i + 1;
  }
  return BLEND_OK;
}

static int json_bool_field(const cJSON *obj, const char *name, int *out, const char *path,
                           blend_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!v || cJSON_IsNull(v)) return BLEND_OK;
  if (!cJSON_IsBool(v))
    return blend_seterr(err, BLEND_ECORRUPT, "%s: field \"%s\" is not true/false/null", path, name);
  *out = cJSON_IsTrue(v) ? 1 : 0;
  return BLEND_OK;
}

/* A token name field: a string, or an AddedToken object {"content": ...}. */
static int json_token_field(const cJSON *obj, const char *name, char *dst, size_t cap,
                            const char *path, blend_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!v || cJSON_IsNull(v)) return BLEND_OK;
  if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
  if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= cap)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: field \"%s\" is not a token string", path, name);
  strcpy(dst, v->valuestring);
  return BLEND_OK;
}

static int read_json(const char *path, cJSON **out, blend_error *err) {
  char *data;
  size_t len;
  *out = NULL;
  int rc = file_read_all(path, &data, &len, err);
  if (rc) return rc;
  cJSON *root = cJSON_ParseWithLength(data, len);
  free(data);
  if (!root) return blend_seterr(err, BLEND_ECORRUPT, "%s: not valid JSON", path);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return blend_seterr(err, BLEND_ECORRUPT, "%s: not a JSON object", path);
  }
  *out = root;
  return BLEND_OK;
}

/* tokenizer_config.json: do_lower_case (default true), strip_accents (null
** = follow do_lower_case), tokenize_chinese_chars (default true), special
** token names. BertTokenizerFast applies these over tokenizer.json's
** normalizer, so they (or their defaults) always win. */
static int load_config(wp_tokenizer *t, const char *path, blend_error *err) {
  cJSON *root;
  int rc = read_json(path, &root, err);
  if (rc) return rc;
  int strip = -1;
  static const char *const fields[WP_NSPECIAL] = {"pad_token", "unk_token", "cls_token",
                                                  "sep_token", "mask_token"};
  rc = json_bool_field(root, "do_lower_case", &t->lowercase, path, err);
  if (!rc) rc = json_bool_field(root, "strip_accents", &strip, path, err);
  if (!rc) rc = json_bool_field(root, "tokenize_chinese_chars", &t->chinese, path, err);
  for (int k = 0; k < WP_NSPECIAL && !rc; k++)
    rc = json_token_field(root, fields[k], t->special_names[k], sizeof t->special_names[k], path,
                          err);
  cJSON_Delete(root);
  t->strip_accents = strip;
  return rc;
}

/* tokenizer.json: model.vocab {token: id}, model.continuing_subword_prefix,
** model.max_input_chars_per_word. */
static int load_tokenizer_json(wp_tokenizer *t, const char *path, blend_error *err) {
  cJSON *root;
  int rc = read_json(path, &root, err);
  if (rc) return rc;
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
  const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
  const cJSON *maxc = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
  size_t count = 0, bytes = 0;
  double maxid = -1;
  const cJSON *it;
  if (!cJSON_IsObject(model)) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: no \"model\" object", path);
    goto done;
  }
  if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "WordPiece") != 0)) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: model.type is %s, not WordPiece", path,
                      cJSON_IsString(type) ? type->valuestring : "not a string");
    goto done;
  }
  if (prefix && !cJSON_IsNull(prefix)) {
    if (!cJSON_IsString(prefix) || strlen(prefix->valuestring) >= sizeof t->prefix) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: bad model.continuing_subword_prefix", path);
      goto done;
    }
    strcpy(t->prefix, prefix->valuestring);
  }
  if (maxc && !cJSON_IsNull(maxc)) {
    if (!cJSON_IsNumber(maxc) || maxc->valuedouble < 1 || maxc->valuedouble > WP_MAX_WORD_CHARS ||
        maxc->valuedouble != floor(maxc->valuedouble)) {
      rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s: model.max_input_chars_per_word must be an integer 1..%d", path,
                        WP_MAX_WORD_CHARS);
      goto done;
    }
    t->max_chars = (uint32_t)maxc->valuedouble;
  }
  if (!cJSON_IsObject(vocab)) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: no model.vocab object", path);
    goto done;
  }
  cJSON_ArrayForEach(it, vocab) {
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 24) ||
        it->valuedouble != floor(it->valuedouble) || !it->string) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: model.vocab[\"%.40s\"] is not an id 0..2^24",
                        path, it->string ? it->string : "");
      goto done;
    }
    if (it->valuedouble > maxid) maxid = it->valuedouble;
    count++;
    bytes += strlen(it->string) + 1;
  }
  if (!count) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: empty vocabulary", path);
    goto done;
  }
  rc = alloc_tokens(t, (uint32_t)maxid + 1, path, err);
  if (rc) goto done;
  t->arena = malloc(bytes);
  if (!t->arena) {
    rc = blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
    goto done;
  }
  char *p = t->arena;
  cJSON_ArrayForEach(it, vocab) {
    uint32_t id = (uint32_t)it->valuedouble;
    size_t n = strlen(it->string);
    if (t->tok[id]) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: model.vocab gives id %u to both \"%.40s\" and \"%.40s\"",
                        path, id, t->tok[id], it->string);
      goto done;
    }
    memcpy(p, it->string, n + 1);
    t->tok[id] = p;
    t->toklen[id] = (uint32_t)n;
    p += n + 1;
  }
done:
  cJSON_Delete(root);
  return rc;
}

/* Hash maps for lookup: full tokens, and continuation tokens without their
** prefix (so "##" + piece needs no string building). A token listed twice
** maps to its last id, as HF's dict-based vocab loading does. */
static int build_maps(wp_tokenizer *t, const char *path, blend_error *err) {
  t->vocab = strmap_new();
  t->cont = strmap_new();
  if (!t->vocab || !t->cont) return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
  t->prefix_len = (uint32_t)strlen(t->prefix);
  for (uint32_t id = 0; id < t->n; id++) {
    const char *s = t->tok[id];
    uint32_t len = t->toklen[id], v = id;
    if (!s) continue;
    int r = strmap_upsert(t->vocab, s, len, &v);
    if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
    if (r == 0) strmap_set(t->vocab, s, len, id);
    if (len > t->max_len) t->max_len = len;
    if (len >= t->prefix_len && memcmp(s, t->prefix, t->prefix_len) == 0) {
      uint32_t clen = len - t->prefix_len;
      v = id;
      r = strmap_upsert(t->cont, s + t->prefix_len, clen, &v);
      if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
      if (r == 0) strmap_set(t->cont, s + t->prefix_len, clen, id);
      if (clen > t->max_cont) t->max_cont = clen;
    }
  }
  return BLEND_OK;
}

int wp_tokenizer_load(const char *model_dir, wp_tokenizer **out, blend_error *err) {
  if (!out) return blend_seterr(err, BLEND_EINVAL, "wp_tokenizer_load: NULL argument");
  *out = NULL;
  if (!model_dir) return blend_seterr(err, BLEND_EINVAL, "wp_tokenizer_load: NULL argument");
  struct stat st;
  if (stat(model_dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: no such model directory", model_dir);
  wp_tokenizer *t = calloc(1, sizeof *t);
  if (!t) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  static const char *const names[WP_NSPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (int k = 0; k < WP_NSPECIAL; k++) strcpy(t->special_names[k], names[k]);
  strcpy(t->prefix, "##");
  t->max_chars = 100;
  t->lowercase = 1;
  t->chinese = 1;
  t->strip_accents = -1;

  char path[4096], vocab_path[4096];
  int rc = BLEND_OK;
  snprintf(path, sizeof path, "%s/tokenizer_config.json", model_dir);
  if (file_exists(path)) rc = load_config(t, path, err);
  if (rc) goto fail;
  if (t->strip_accents < 0) t->strip_accents = t->lowercase;

  snprintf(vocab_path, sizeof vocab_path, "%s/vocab.txt", model_dir);
  if (file_exists(vocab_path)) {
    rc = load_vocab_txt(t, vocab_path, err);
  } else {
    snprintf(vocab_path, sizeof vocab_path, "%s/tokenizer.json", model_dir);
    if (!file_exists(vocab_path)) {
      rc = blend_seterr(err, BLEND_ENOTFOUND, "%s: no vocab.txt or tokenizer.json", model_dir);
      goto fail;
    }
    rc = load_tokenizer_json(t, vocab_path, err);
  }
  if (rc) goto fail;
  rc = build_maps(t, vocab_path, err);
  if (rc) goto fail;

  int32_t *ids[WP_NSPECIAL] = {&t->pad, &t->unk, &t->cls, &t->sep, &t->mask};
  for (int k = 0; k < WP_NSPECIAL; k++) {
    const char *name = t->special_names[k];
    *ids[k] = wp_token_to_id(t, name, strlen(name));
    if (*ids[k] < 0 && (k == 1 || k == 2 || k == 3)) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: vocabulary has no %s token", vocab_path, name);
      goto fail;
    }
    t->special[k].text = name;
    t->special[k].len = (uint32_t)strlen(name);
    t->special[k].id = *ids[k];
    if (*ids[k] >= 0) t->special_first[(uint8_t)name[0]] = 1;
  }
  *out = t;
  return BLEND_OK;
fail:
  wp_tokenizer_free(t);
  return rc;
}

/* ------------------------------------------------------------- encoding */

int wp_encode(const wp_tokenizer *t, const char *text, size_t len, uint32_t max_length,
              wp_encoding *out, blend_error *err) {
  if (!t || !out) return blend_seterr(err, BLEND_EINVAL, "wp_encode: NULL argument");
  out->len = 0;
  if (wp_push(out, t->cls, 0)) return blend_seterr(err, BLEND_ENOMEM, "wordpiece: out of memory");
  if (!max_length || max_length > 2) {
    int rc = wp_tokenize_ex(t, text, len, max_length ? max_length - 2 : 0, 0, out, err);
    if (rc) return rc;
  }
  if (wp_push(out, t->sep, 0)) return blend_seterr(err, BLEND_ENOMEM, "wordpiece: out of memory");
  return BLEND_OK;
}

/* longest_first as the Rust tokenizers (< 0.23) do it: keep the shorter
** sequence whole if it fits in half the budget, else give both half, the
** odd token going to the first only when it is strictly longer. */
static void truncate_pair(uint32_t n1, uint32_t n2, uint32_t budget, uint32_t *k1,
                          uint32_t *k2) {
  *k1 = n1;
  *k2 = n2;
  if ((uint64_t)n1 + n2 <= budget) return;
  int swap = n1 > n2;
  uint32_t s = swap ? n2 : n1, l;
  l = s > budget ? s : (s > budget - s ? s : budget - s);
  if ((uint64_t)s + l > budget) {
    s = budget / 2;
    l = s + budget % 2;
  }
  uint32_t a = swap ? l : s, b = swap ? s : l;
  if (a < *k1) *k1 = a;
  if (b < *k2) *k2 = b;
}

int wp_encode_pair(const wp_tokenizer *t, const char *a, size_t alen, const char *b,
                   size_t blen, uint32_t max_length, wp_encoding *out, blend_error *err) {
  if (!t || !out) return blend_seterr(err, BLEND_EINVAL, "wp_encode_pair: NULL argument");
  out->len = 0;
  if (wp_push(out, t->cls, 0)) return blend_seterr(err, BLEND_ENOMEM, "wordpiece: out of memory");
  int rc = wp_tokenize(t, a, alen, out, err);
  if (rc) return rc;
  uint32_t na = out->len - 1;
  rc = wp_tokenize(t, b, blen, out, err);
  if (rc) return rc;
  uint32_t nb = out->len - 1 - na, k1 = na, k2 = nb;
  if (max_length) truncate_pair(na, nb, max_length > 3 ? max_length - 3 : 0, &k1, &k2);
  if (wp_reserve(out, 2)) return blend_seterr(err, BLEND_ENOMEM, "wordpiece: out of memory");
  /* [CLS] a(na) b(nb) → [CLS] a(k1) [SEP] b(k2) [SEP] */
  memmove(out->ids + 2 + k1, out->ids + 1 + na, (size_t)k2 * sizeof *out->ids);
  out->ids[1 + k1] = t->sep;
  out->ids[2 + k1 + k2] = t->sep;
  out->len = 3 + k1 + k2;
  for (uint32_t i = 0; i < out->len; i++) out->type_ids[i] = i < 2 + k1 ? 0 : 1;
  return BLEND_OK;
}
