/*
** manifest.c — the MANIFEST of a generation, and the live-docs files it
** names. A commit is: write new segment and live-docs files, fsync each,
** fsync the directory, then write MANIFEST.tmp, fsync it, rename it over
** MANIFEST and fsync the directory again (file_write_atomic). A crash before
** the rename leaves the previous generation; after it, the new one. Files
** that no manifest names are garbage from older or interrupted commits.
**
** MANIFEST (JSON): {"format": 2, "generation": G, "next_segment": S,
**   "analyzer": {"stemmer","stopwords","cjk_bigrams"}, "positions": 0|1,
**   "field_views": 0|1, "docs": live docs, "fields": [...], "meta": [...],
**   "vector": null | {"dim","metric","dtype","hnsw","M","ef_construction",
**     "seed","model_dir","model_name","model_sha256","pooling","normalize",
**     "max_length","doc_prefix","query_prefix","text_fields"},
**   "hybrid": null | {the setting stored by blend tune},
**   "segments": [{"name","docs","deleted","bytes","crc","live"}]}
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "index/build.h"
#include "vector/vector.h"

static int get_str(cJSON *o, const char *name, char *dst, size_t cap) {
  cJSON *v = cJSON_GetObjectItem(o, name);
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) return -1;
  strcpy(dst, v->valuestring);
  return 0;
}

static int get_num(cJSON *o, const char *name, double lo, double hi, double *out) {
  cJSON *v = cJSON_GetObjectItem(o, name);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return -1;
  *out = v->valuedouble;
  return 0;
}

void manifest_free(manifest *m) {
  free(m->segs);
  free(m->hybrid);
  memset(m, 0, sizeof *m);
}

int manifest_add_seg(manifest *m, const manifest_seg *s) {
  if (m->nsegs == m->cap) {
    uint32_t cap = m->cap ? m->cap * 2 : 8;
    manifest_seg *p = realloc(m->segs, cap * sizeof *p);
    if (!p) return -1;
    m->segs = p;
    m->cap = cap;
  }
  m->segs[m->nsegs++] = *s;
  return 0;
}

static int read_vector(cJSON *v, blend_vector_config *vc) {
  double d, metric, dtype, hnsw, M, efc, seed, norm, maxlen;
  char mname[16], dname[16];
  if (get_num(v, "dim", 1, 65536, &d) || get_str(v, "metric", mname, sizeof mname) ||
      get_str(v, "dtype", dname, sizeof dname) || get_num(v, "hnsw", 0, 1, &hnsw) ||
      get_num(v, "M", 2, 256, &M) || get_num(v, "ef_construction", 1, 1e6, &efc) ||
      get_num(v, "seed", 0, 9007199254740992.0, &seed) || get_num(v, "normalize", 0, 1, &norm) ||
      get_num(v, "max_length", 0, 1e6, &maxlen) ||
      get_str(v, "model_dir", vc->model_dir, sizeof vc->model_dir) ||
      get_str(v, "model_name", vc->model_name, sizeof vc->model_name) ||
      get_str(v, "model_sha256", vc->model_sha256, sizeof vc->model_sha256) ||
      get_str(v, "pooling", vc->pooling, sizeof vc->pooling) ||
      get_str(v, "doc_prefix", vc->doc_prefix, sizeof vc->doc_prefix) ||
      get_str(v, "query_prefix", vc->query_prefix, sizeof vc->query_prefix) ||
      get_str(v, "text_fields", vc->text_fields, sizeof vc->text_fields))
    return -1;
  metric = vec_metric_parse(mname);
  dtype = vec_dtype_parse(dname);
  if (metric < 0 || dtype < 0) return -1;
  vc->dim = (uint32_t)d;
  vc->metric = (int)metric;
  vc->dtype = (int)dtype;
  vc->hnsw = (int)hnsw;
  vc->hnsw_m = (uint32_t)M;
  vc->hnsw_ef_construction = (uint32_t)efc;
  vc->hnsw_seed = (uint64_t)seed;
  vc->normalize = (int)norm;
  vc->max_length = (uint32_t)maxlen;
  return 0;
}

int manifest_read(const char *dir, manifest *m, blend_error *err) {
  memset(m, 0, sizeof *m);
  char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
  char *text;
  size_t len;
  int rc = file_read_all(path, &text, &len, err);
  if (rc == BLEND_ENOTFOUND)
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: not a blend index (no %s; build one with 'blend index')",
                        dir, MANIFEST_NAME);
  if (rc) return rc;
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  if (!j) return blend_seterr(err, BLEND_ECORRUPT, "%s: manifest is not valid JSON", path);
  double fmt = 0, gen, nextseg, v;
  rc = BLEND_ECORRUPT;
  const char *what = "format";
  if (get_num(j, "format", 0, 1e9, &fmt)) goto bad;
  if (fmt != MANIFEST_FORMAT) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                      "%s: index format %.0f, this blend reads format %d: rebuild the index with 'blend index'",
                      path, fmt, MANIFEST_FORMAT);
    goto out;
  }
  blend_index_config_default(&m->cfg);
  cJSON *an = cJSON_GetObjectItem(j, "analyzer");
  what = "generation";
  if (get_num(j, "generation", 0, 9007199254740992.0, &gen) ||
      get_num(j, "next_segment", 0, 9007199254740992.0, &nextseg))
    goto bad;
  m->generation = (uint64_t)gen;
  m->next_segment = (uint64_t)nextseg;
  what = "analyzer";
  if (!cJSON_IsObject(an) || get_str(an, "stemmer", m->cfg.analyzer.stemmer, sizeof m->cfg.analyzer.stemmer) ||
      get_str(an, "stopwords", m->cfg.analyzer.stopwords, sizeof m->cfg.analyzer.stopwords) ||
      get_num(an, "cjk_bigrams", 0, 1, &v))
    goto bad;
  m->cfg.analyzer.cjk_bigrams = (int)v;
  what = "positions";
  if (get_num(j, "positions", 0, 1, &v)) goto bad;
  m->cfg.positions = (int)v;
  what = "field_views";
  if (get_num(j, "field_views", 0, 1, &v)) goto bad;
  m->cfg.field_views = (int)v;
  what = "fields";
  cJSON *fa = cJSON_GetObjectItem(j, "fields"), *it;
  if (!cJSON_IsArray(fa) || cJSON_GetArraySize(fa) > MAX_FIELDS) goto bad;
  cJSON_ArrayForEach(it, fa) {
    if (!cJSON_IsString(it) || strlen(it->valuestring) > 31) goto bad;
    strcpy(m->fields[m->nfields++], it->valuestring);
  }
  what = "meta";
  cJSON *ma = cJSON_GetObjectItem(j, "meta");
  if (!cJSON_IsArray(ma) || cJSON_GetArraySize(ma) > MAX_META) goto bad;
  cJSON_ArrayForEach(it, ma) {
    if (!cJSON_IsString(it) || strlen(it->valuestring) > 63 || !*it->valuestring) goto bad;
    strcpy(m->meta[m->nmeta++], it->valuestring);
  }
  what = "vector";
  cJSON *vo = cJSON_GetObjectItem(j, "vector");
  if (vo && !cJSON_IsNull(vo) && (!cJSON_IsObject(vo) || read_vector(vo, &m->cfg.vector))) goto bad;
  cJSON *hy = cJSON_GetObjectItem(j, "hybrid");
  if (hy && cJSON_IsObject(hy)) {
    m->hybrid = cJSON_PrintUnformatted(hy);
    if (!m->hybrid) goto nomem;
  }
  what = "segments";
  cJSON *sa = cJSON_GetObjectItem(j, "segments");
  if (!cJSON_IsArray(sa) || cJSON_GetArraySize(sa) > 100000) goto bad;
  cJSON_ArrayForEach(it, sa) {
    manifest_seg s = {0};
    double docs, del, bytes, crc;
    if (get_str(it, "name", s.name, sizeof s.name) || strchr(s.name, '/') || s.name[0] == '.' ||
        get_num(it, "docs", 1, 4294967294.0, &docs) || get_num(it, "deleted", 0, docs, &del) ||
        get_num(it, "bytes", 0, 1e18, &bytes) || get_num(it, "crc", 0, 4294967295.0, &crc) ||
        get_str(it, "live", s.live, sizeof s.live) || strchr(s.live, '/') || s.live[0] == '.' ||
        (del > 0) != (s.live[0] != 0))
      goto bad;
    s.docs = (uint32_t)docs;
    s.deleted = (uint32_t)del;
    s.bytes = (uint64_t)bytes;
    s.crc = (uint32_t)crc;
    if (manifest_add_seg(m, &s)) goto nomem;
  }
  rc = BLEND_OK;
  goto out;
nomem:
  rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  goto out;
bad:
  rc = blend_seterr(err, BLEND_ECORRUPT, "%s: manifest has a missing or invalid \"%s\"", path, what);
out:
  cJSON_Delete(j);
  if (rc) manifest_free(m);
  return rc;
}

static cJSON *vector_json(const blend_vector_config *vc) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "dim", vc->dim);
  cJSON_AddStringToObject(o, "metric", vec_metric_name(vc->metric));
  cJSON_AddStringToObject(o, "dtype", vec_dtype_name(vc->dtype));
  cJSON_AddNumberToObject(o, "hnsw", vc->hnsw ? 1 : 0);
  cJSON_AddNumberToObject(o, "M", vc->hnsw_m);
  cJSON_AddNumberToObject(o, "ef_construction", vc->hnsw_ef_construction);
  cJSON_AddNumberToObject(o, "seed", (double)vc->hnsw_seed);
  cJSON_AddStringToObject(o, "model_dir", vc->model_dir);
  cJSON_AddStringToObject(o, "model_name", vc->model_name);
  cJSON_AddStringToObject(o, "model_sha256", vc->model_sha256);
  cJSON_AddStringToObject(o, "pooling", vc->pooling);
  cJSON_AddNumberToObject(o, "normalize", vc->normalize ? 1 : 0);
  cJSON_AddNumberToObject(o, "max_length", vc->max_length);
  cJSON_AddStringToObject(o, "doc_prefix", vc->doc_prefix);
  cJSON_AddStringToObject(o, "query_prefix", vc->query_prefix);
  cJSON_AddStringToObject(o, "text_fields", vc->text_fields);
  return o;
}

int manifest_write(const char *dir, const manifest *m, blend_error *err) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  cJSON_AddNumberToObject(j, "format", MANIFEST_FORMAT);
  cJSON_AddNumberToObject(j, "generation", (double)m->generation);
  cJSON_AddNumberToObject(j, "next_segment", (double)m->next_segment);
  cJSON *an = cJSON_AddObjectToObject(j, "analyzer");
  cJSON_AddStringToObject(an, "stemmer", m->cfg.analyzer.stemmer);
  cJSON_AddStringToObject(an, "stopwords", m->cfg.analyzer.stopwords);
  cJSON_AddNumberToObject(an, "cjk_bigrams", m->cfg.analyzer.cjk_bigrams ? 1 : 0);
  cJSON_AddNumberToObject(j, "positions", m->cfg.positions ? 1 : 0);
  cJSON_AddNumberToObject(j, "field_views", m->cfg.field_views ? 1 : 0);
  uint64_t live = 0;
  for (uint32_t i = 0; i < m->nsegs; i++) live += m->segs[i].docs - m->segs[i].deleted;
  cJSON_AddNumberToObject(j, "docs", (double)live);
  cJSON *fa = cJSON_AddArrayToObject(j, "fields");
  for (uint32_t f = 0; f < m->nfields; f++) cJSON_AddItemToArray(fa, cJSON_CreateString(m->fields[f]));
  cJSON *ma = cJSON_AddArrayToObject(j, "meta");
  for (uint32_t f = 0; f < m->nmeta; f++) cJSON_AddItemToArray(ma, cJSON_CreateString(m->meta[f]));
  if (m->cfg.vector.dim) cJSON_AddItemToObject(j, "vector", vector_json(&m->cfg.vector));
  else cJSON_AddNullToObject(j, "vector");
  cJSON *hy = m->hybrid ? cJSON_Parse(m->hybrid) : NULL;
  if (hy) cJSON_AddItemToObject(j, "hybrid", hy);
  else cJSON_AddNullToObject(j, "hybrid");
  cJSON *sa = cJSON_AddArrayToObject(j, "segments");
  for (uint32_t i = 0; i < m->nsegs; i++) {
    const manifest_seg *s = &m->segs[i];
    cJSON *so = cJSON_CreateObject();
    cJSON_AddStringToObject(so, "name", s->name);
    cJSON_AddNumberToObject(so, "docs", s->docs);
    cJSON_AddNumberToObject(so, "deleted", s->deleted);
    cJSON_AddNumberToObject(so, "bytes", (double)s->bytes);
    cJSON_AddNumberToObject(so, "crc", s->crc);
    cJSON_AddStringToObject(so, "live", s->live);
    cJSON_AddItemToArray(sa, so);
  }
  char *text = cJSON_Print(j);
  cJSON_Delete(j);
  if (!text) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
  int rc = file_write_atomic(path, text, strlen(text), err);
  free(text);
  return rc;
}

void manifest_collect_garbage(const char *dir, const manifest *m) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[4096 + 300];
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    int ours = !strncmp(n, "seg-", 4) || !strncmp(n, MANIFEST_NAME ".tmp", strlen(MANIFEST_NAME) + 4);
    if (!ours) continue;
    int keep = 0;
    for (uint32_t i = 0; i < m->nsegs && !keep; i++)
      keep = !strcmp(n, m->segs[i].name) || (m->segs[i].live[0] && !strcmp(n, m->segs[i].live));
    if (keep) continue;
    snprintf(path, sizeof path, "%s/%s", dir, n);
    unlink(path);
  }
  closedir(d);
}

int live_write(const char *dir, const char *name, const uint64_t *bits, uint32_t ndocs,
               uint32_t deleted, blend_error *err) {
  size_t words = ((size_t)ndocs + 63) / 64;
  size_t len = LIVE_HEADER + words * 8;
  uint8_t *buf = calloc(1, len);
  if (!buf) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  memcpy(buf, LIVE_MAGIC, 8);
  wr_u32(buf + 8, ndocs);
  wr_u32(buf + 12, deleted);
  memcpy(buf + LIVE_HEADER, bits, words * 8);
  wr_u32(buf + 16, crc32c(0, buf + LIVE_HEADER, words * 8));
  char path[4096 + 128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int rc = file_write_sync(path, buf, len, err);
  free(buf);
  return rc;
}

int live_read(const char *dir, const char *name, uint32_t ndocs, uint64_t **bits, uint32_t *deleted,
              blend_error *err) {
  char path[4096 + 128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *data;
  size_t len;
  *bits = NULL;
  int rc = file_read_all(path, &data, &len, err);
  if (rc == BLEND_ENOTFOUND) return blend_seterr(err, BLEND_ECORRUPT, "%s: live-docs file is missing", path);
  if (rc) return rc;
  size_t words = ((size_t)ndocs + 63) / 64;
  const uint8_t *p = (const uint8_t *)data;
  if (len != LIVE_HEADER + words * 8 || memcmp(p, LIVE_MAGIC, 8) || rd_u32(p + 8) != ndocs ||
      rd_u32(p + 16) != crc32c(0, p + LIVE_HEADER, words * 8)) {
    free(data);
    return blend_seterr(err, BLEND_ECORRUPT, "%s: live-docs file does not match its segment (%u docs)", path, ndocs);
  }
  uint64_t *b = malloc(words * 8 + 8);
  if (!b) {
    free(data);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  memcpy(b, p + LIVE_HEADER, words * 8);
  uint32_t want_deleted = rd_u32(p + 12);
  uint32_t live = 0;
  for (size_t i = 0; i < words; i++) live += (uint32_t)__builtin_popcountll(b[i]);
  if (ndocs % 64 && (b[words - 1] >> (ndocs % 64))) live = UINT32_MAX; /* bits past the end */
  free(data);
  if (live == UINT32_MAX || ndocs - live != want_deleted) {
    free(b);
    return blend_seterr(err, BLEND_ECORRUPT, "%s: live-docs count does not match its bitmap", path);
  }
  *deleted = ndocs - live;
  *bits = b;
  return BLEND_OK;
}
