/*
** vectors.c — loads a user's vector file (JSONL or raw float32 + ids) into
** one dense array with an id → row map, validating every row.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ingest/ingest.h"
#include "ingest/vectors.h"

struct vector_file {
  uint32_t dim;
  size_t n, cap;
  float *rows;
  uint8_t *used;
  strmap *ids;
  bbuf idtext;      /* ids, NUL-separated, in row order */
  bbuf idoff;       /* u64 offset of row i's id */
};

void vector_file_free(vector_file *v) {
  if (!v) return;
  free(v->rows);
  free(v->used);
  strmap_free(v->ids);
  bbuf_free(&v->idtext);
  bbuf_free(&v->idoff);
  free(v);
}

uint32_t vector_file_dim(const vector_file *v) { return v->dim; }
size_t vector_file_count(const vector_file *v) { return v->n; }

static int add_row(vector_file *v, const char *id, size_t len, const float *row, const char *where,
                   blend_error *err) {
  if (len == 0) return blend_seterr(err, BLEND_EINVAL, "%s: empty id", where);
  if (memchr(id, 0, len)) return blend_seterr(err, BLEND_EINVAL, "%s: id contains U+0000", where);
  for (uint32_t i = 0; i < v->dim; i++)
    if (!isfinite(row[i]))
      return blend_seterr(err, BLEND_EINVAL, "%s: vector component %u is not finite", where, i);
  if (v->n > UINT32_MAX - 2) return blend_seterr(err, BLEND_EUNSUPPORTED, "%s: too many vectors", where);
  uint32_t val = (uint32_t)v->n;
  int r = strmap_upsert(v->ids, id, len, &val);
  if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (r == 0) return blend_seterr(err, BLEND_EINVAL, "%s: duplicate id '%.*s'", where, (int)(len > 100 ? 100 : len), id);
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 1024;
    float *p = realloc(v->rows, cap * v->dim * sizeof *p);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    v->rows = p;
    v->cap = cap;
  }
  memcpy(v->rows + v->n * v->dim, row, v->dim * sizeof *row);
  if (bbuf_put_u64(&v->idoff, v->idtext.len) || bbuf_append(&v->idtext, id, len) || bbuf_putc(&v->idtext, 0))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  v->n++;
  return BLEND_OK;
}

static int load_jsonl(vector_file *v, const char *path, blend_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return blend_seterr(err, errno == ENOENT ? BLEND_ENOTFOUND : BLEND_EIO, "%s: %s", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned long long lineno = 0;
  float *row = NULL;
  int rc = BLEND_OK;
  char where[4200];
  while (rc == BLEND_OK && (len = getline(&line, &cap, f)) > 0) {
    lineno++;
    snprintf(where, sizeof where, "%s:%llu", path, lineno);
    size_t i = 0;
    while (i < (size_t)len && strchr(" \t\r\n", line[i])) i++;
    if (i == (size_t)len) continue;
    ingest_doc d;
    static const char *const nofields[1] = {NULL};
    blend_error lerr;
    rc = ingest_parse_line(line, (size_t)len, "_id", nofields, 0, &d, &lerr);
    if (rc) {
      rc = blend_seterr(err, rc, "%s: %s", where, lerr.message);
      break;
    }
    cJSON *vec = cJSON_GetObjectItemCaseSensitive((cJSON *)d.json, "vector");
    int n = cJSON_IsArray(vec) ? cJSON_GetArraySize(vec) : -1;
    if (n <= 0 || n > 65536) {
      ingest_doc_free(&d);
      rc = blend_seterr(err, BLEND_EINVAL, "%s: \"vector\" must be an array of 1-65536 numbers", where);
      break;
    }
    if (v->dim == 0) v->dim = (uint32_t)n;
    if ((uint32_t)n != v->dim) {
      ingest_doc_free(&d);
      rc = blend_seterr(err, BLEND_EINVAL, "%s: vector has %d dimensions, expected %u", where, n, v->dim);
      break;
    }
    if (!row && !(row = malloc(v->dim * sizeof *row))) {
      ingest_doc_free(&d);
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
      break;
    }
    int k = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, vec) {
      if (!cJSON_IsNumber(it)) {
        rc = blend_seterr(err, BLEND_EINVAL, "%s: vector component %d is not a number", where, k);
        break;
      }
      row[k++] = (float)it->valuedouble;
    }
    if (!rc) rc = add_row(v, d.doc.id, d.doc.id_len, row, where, err);
    ingest_doc_free(&d);
  }
  if (rc == BLEND_OK && ferror(f)) rc = blend_seterr(err, BLEND_EIO, "%s: read error", path);
  free(row);
  free(line);
  fclose(f);
  return rc;
}

static int load_raw(vector_file *v, const char *path, const char *ids_path, uint32_t dim, blend_error *err) {
  char *ids;
  size_t ilen;
  int rc = file_read_all(ids_path, &ids, &ilen, err);
  if (rc) return rc;
  size_t nids = 0;
  for (size_t i = 0; i < ilen; i++) nids += ids[i] == '\n';
  if (ilen && ids[ilen - 1] != '\n') nids++;
  mapped_file mf;
  rc = file_map(path, &mf, err);
  if (rc) {
    free(ids);
    return rc;
  }
  if (nids == 0) rc = blend_seterr(err, BLEND_EINVAL, "%s: no ids", ids_path);
  else if (dim == 0 && mf.size % (nids * 4) == 0) dim = (uint32_t)(mf.size / (nids * 4));
  if (!rc && (dim == 0 || mf.size != (size_t)nids * dim * 4))
    rc = blend_seterr(err, BLEND_EINVAL, "%s: %zu bytes, but %zu ids (%s) × %u dimensions × 4 bytes = %zu", path,
                      mf.size, nids, ids_path, dim, (size_t)nids * dim * 4);
  v->dim = dim;
  float *row = rc ? NULL : malloc(dim * sizeof *row);
  if (!rc && !row) rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  char where[4200];
  size_t at = 0;
  for (size_t r = 0; !rc && r < nids; r++) {
    size_t e = at;
    while (e < ilen && ids[e] != '\n') e++;
    size_t l = e;
    if (l > at && ids[l - 1] == '\r') l--;
    snprintf(where, sizeof where, "%s:%zu", ids_path, r + 1);
    memcpy(row, mf.data + r * dim * 4, dim * 4);
    rc = add_row(v, ids + at, l - at, row, where, err);
    at = e + 1;
  }
  free(row);
  file_unmap(&mf);
  free(ids);
  return rc;
}

int vector_file_load(const char *path, const char *ids_path, uint32_t dim, vector_file **out, blend_error *err) {
  *out = NULL;
  vector_file *v = calloc(1, sizeof *v);
  if (!v || !(v->ids = strmap_new())) {
    free(v);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  v->dim = dim;
  int rc = ids_path ? load_raw(v, path, ids_path, dim, err) : load_jsonl(v, path, err);
  if (!rc && v->n == 0) rc = blend_seterr(err, BLEND_EINVAL, "%s: no vectors", path);
  if (!rc && !(v->used = calloc(v->n, 1))) rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (rc) {
    vector_file_free(v);
    return rc;
  }
  *out = v;
  return BLEND_OK;
}

const float *vector_file_get(vector_file *v, const char *id, size_t len) {
  uint32_t r;
  if (!strmap_get(v->ids, id, len, &r)) return NULL;
  v->used[r] = 1;
  return v->rows + (size_t)r * v->dim;
}

const char *vector_file_unused(const vector_file *v, size_t *nunused) {
  const char *first = NULL;
  size_t n = 0;
  for (size_t r = 0; r < v->n; r++)
    if (!v->used[r]) {
      if (!first) first = (const char *)v->idtext.data + rd_u64(v->idoff.data + 8 * r);
      n++;
    }
  if (nunused) *nunused = n;
  return first;
}
