/*
** jsonl.c — one JSONL line → one document: strict JSON (cJSON), UTF-8
** validated, an id (string or integer) and string text fields.
** An escaped U+0000 is never cut at (cJSON's strings have no length; see
** util/json_nul.h): in the id or a key the line is refused, in any other
** string the NUL is dropped ("nul\u0000char" → "nulchar", as Hugging
** Face's tokenizer reads it). A raw 0x00 byte is invalid JSON: refused.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/ingest.h"
#include "util/json_nul.h"

int utf8_valid(const char *str, size_t n, size_t *bad) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    unsigned min;
    if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, c &= 0x07;
    else goto fail;
    for (size_t j = 1; j <= k; j++) {
      if (i + j >= n || (s[i + j] & 0xC0) != 0x80) goto fail;
      c = (c << 6) | (s[i + j] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) goto fail;
    i += k + 1;
  }
  return 1;
fail:
  if (bad) *bad = i;
  return 0;
}

void ingest_doc_free(ingest_doc *d) {
  cJSON_Delete(d->json);
  d->json = NULL;
}

/* After parsing a line that had \u0000 escapes: a key holding one is an
** error (field lookups would see a cut name), other strings drop them. */
static int nul_walk(cJSON *n, const json_nul *st, blend_error *err) {
  for (; n; n = n->next) {
    if (json_nul_has(st, n->string))
      return blend_seterr(err, BLEND_EINVAL, "a field name contains U+0000");
    if (cJSON_IsString(n)) json_nul_strip(st, n->valuestring);
    if (n->child && nul_walk(n->child, st, err)) return BLEND_EINVAL;
  }
  return BLEND_OK;
}

int ingest_parse_line(const char *line, size_t len, const char *id_field,
                      const char *const *fields, size_t nfields, ingest_doc *d, blend_error *err) {
  memset(&d->doc, 0, sizeof d->doc);
  d->json = NULL;
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) i++;
  if (i == len) return BLEND_OK; /* blank line */
  size_t bad;
  if (!utf8_valid(line, len, &bad))
    return blend_seterr(err, BLEND_EINVAL, "invalid UTF-8 at byte %zu", bad + 1);
  json_nul nul = {0};
  char *copy = NULL; /* the line with its \u0000 escapes marked */
  if (json_nul_suspect(line, len)) {
    copy = malloc(len);
    if (!copy) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    memcpy(copy, line, len);
    int r = json_nul_protect(copy, len, &nul, &bad);
    if (r) {
      free(copy);
      return r == -1 ? blend_seterr(err, BLEND_EINVAL,
                                    "raw NUL byte at byte %zu (JSON needs the escape \\u0000)", bad + 1)
                     : blend_seterr(err, BLEND_EUNSUPPORTED, "cannot represent U+0000 in this line");
    }
  }
  const char *src = copy ? copy : line;
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(src, len, &end, 0);
  if (!o) {
    size_t at = end ? (size_t)(end - src) : 0;
    const char *ep = cJSON_GetErrorPtr();
    if (ep && ep >= src && ep <= src + len) at = (size_t)(ep - src);
    free(copy);
    return blend_seterr(err, BLEND_EINVAL, "malformed JSON near byte %zu", at + 1);
  }
  if (end) end = line + (end - src); /* same offsets in the caller's line */
  free(copy);
  d->json = o;
  if (nul.active) {
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, id_field);
    if (cJSON_IsString(id) && json_nul_has(&nul, id->valuestring)) {
      ingest_doc_free(d);
      return blend_seterr(err, BLEND_EINVAL, "id contains U+0000");
    }
    if (nul_walk(o->child, &nul, err)) {
      ingest_doc_free(d);
      return BLEND_EINVAL;
    }
  }
  if (end) {
    while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end < line + len) {
      ingest_doc_free(d);
      return blend_seterr(err, BLEND_EINVAL, "unexpected text after the JSON object at byte %zu",
                          (size_t)(end - line) + 1);
    }
  }
  if (!cJSON_IsObject(o)) {
    ingest_doc_free(d);
    return blend_seterr(err, BLEND_EINVAL, "line is not a JSON object");
  }
  cJSON *id = cJSON_GetObjectItemCaseSensitive(o, id_field);
  if (cJSON_IsString(id) && id->valuestring[0]) {
    d->doc.id = id->valuestring;
    d->doc.id_len = strlen(id->valuestring);
  } else if (cJSON_IsNumber(id) && id->valuedouble == (double)(long long)id->valuedouble) {
    snprintf(d->idbuf, sizeof d->idbuf, "%lld", (long long)id->valuedouble);
    d->doc.id = d->idbuf;
    d->doc.id_len = strlen(d->idbuf);
  } else {
    ingest_doc_free(d);
    return blend_seterr(err, BLEND_EINVAL, "missing or empty id field \"%s\"", id_field);
  }
  if (nfields > INGEST_MAX_FIELDS) nfields = INGEST_MAX_FIELDS;
  for (size_t f = 0; f < nfields; f++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[f]);
    const char *text = "";
    if (cJSON_IsString(v)) text = v->valuestring;
    else if (v && !cJSON_IsNull(v)) {
      ingest_doc_free(d);
      memset(&d->doc, 0, sizeof d->doc);
      return blend_seterr(err, BLEND_EINVAL, "field \"%s\" is not a string", fields[f]);
    }
    d->fields[f].name = fields[f];
    d->fields[f].text = text;
    d->fields[f].len = strlen(text);
  }
  d->doc.fields = d->fields;
  d->doc.nfields = nfields;
  return BLEND_OK;
}
