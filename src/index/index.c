/*
** index.c — opens the committed generation of an index: reads MANIFEST,
** opens its segments, and sums per-field statistics (N, total length, docs
** with the field) over segments, since BM25 needs collection-wide values.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "index/index.h"

static int manifest_str(cJSON *o, const char *name, char *dst, size_t cap) {
  cJSON *v = cJSON_GetObjectItem(o, name);
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) return -1;
  strcpy(dst, v->valuestring);
  return 0;
}

int blend_index_open(const char *dir, blend_index **out, blend_error *err) {
  *out = NULL;
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: no such index directory", dir);
  char path[4096 + 64];
  snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
  char *text;
  size_t len;
  int rc = file_read_all(path, &text, &len, err);
  if (rc == BLEND_ENOTFOUND)
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: not a blend index (no %s; build one with 'blend index')",
                        dir, MANIFEST_NAME);
  if (rc) return rc;
  cJSON *m = cJSON_ParseWithLength(text, len);
  free(text);
  if (!m) return blend_seterr(err, BLEND_ECORRUPT, "%s: manifest is not valid JSON", path);
  blend_index *ix = calloc(1, sizeof *ix);
  if (!ix) {
    cJSON_Delete(m);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  snprintf(ix->dir, sizeof ix->dir, "%s", dir);
  cJSON *fmt = cJSON_GetObjectItem(m, "format"), *an = cJSON_GetObjectItem(m, "analyzer");
  cJSON *segs = cJSON_GetObjectItem(m, "segments"), *gen = cJSON_GetObjectItem(m, "generation");
  cJSON *cjk = cJSON_GetObjectItem(an, "cjk_bigrams");
  if (!cJSON_IsNumber(fmt) || fmt->valueint != MANIFEST_FORMAT) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: unsupported index format", path);
    goto fail;
  }
  if (!cJSON_IsObject(an) || manifest_str(an, "stemmer", ix->analyzer.stemmer, sizeof ix->analyzer.stemmer) ||
      manifest_str(an, "stopwords", ix->analyzer.stopwords, sizeof ix->analyzer.stopwords) ||
      !cJSON_IsNumber(cjk) || !cJSON_IsArray(segs) || !cJSON_IsNumber(gen)) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: manifest lacks analyzer, generation or segments", path);
    goto fail;
  }
  ix->analyzer.cjk_bigrams = cjk->valueint;
  ix->generation = (uint64_t)gen->valuedouble;
  int nsegs = cJSON_GetArraySize(segs);
  if (nsegs < 0 || nsegs > 4096) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: bad segment count", path);
    goto fail;
  }
  ix->segs = calloc((size_t)nsegs + 1, sizeof(segment));
  if (!ix->segs) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto fail;
  }
  ix->positions = 1;
  ix->field_views = 1;
  for (int i = 0; i < nsegs; i++) {
    cJSON *so = cJSON_GetArrayItem(segs, i);
    char name[256];
    if (manifest_str(so, "name", name, sizeof name) || strchr(name, '/')) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: segment %d has no valid name", path, i);
      goto fail;
    }
    char spath[4096 + 300];
    snprintf(spath, sizeof spath, "%s/%s", dir, name);
    segment *s = &ix->segs[i];
    rc = segment_open(s, spath, err);
    if (rc) {
      if (rc == BLEND_ENOTFOUND)
        rc = blend_seterr(err, BLEND_ECORRUPT, "%s: segment file %s is missing", dir, name);
      goto fail;
    }
    ix->nsegs++;
    s->base = ix->ndocs;
    if ((uint64_t)ix->ndocs + s->ndocs >= DOC_END) {
      rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: more than 4 billion documents", dir);
      goto fail;
    }
    ix->ndocs += s->ndocs;
    ix->bytes_on_disk += s->mf.size;
    if (!s->positions) ix->positions = 0;
    if (!s->field_views) ix->field_views = 0;
    for (uint32_t f = 0; f < s->nfields; f++) {
      int g = index_field(ix, s->field_names[f]);
      if (g < 0) {
        if (ix->nfields == MAX_FIELDS) {
          rc = blend_seterr(err, BLEND_ECORRUPT, "%s: too many fields", dir);
          goto fail;
        }
        g = (int)ix->nfields++;
        strcpy(ix->field_names[g], s->field_names[f]);
      }
      ix->sum_dl[g] += s->sum_dl[f];
      ix->docs_with[g] += s->docs_with[f];
    }
  }
  cJSON_Delete(m);
  *out = ix;
  return BLEND_OK;
fail:
  cJSON_Delete(m);
  blend_index_close(ix);
  return rc;
}

void blend_index_close(blend_index *ix) {
  if (!ix) return;
  for (uint32_t i = 0; i < ix->nsegs; i++) segment_close(&ix->segs[i]);
  free(ix->segs);
  free(ix);
}

int index_field(const blend_index *ix, const char *name) {
  for (uint32_t f = 0; f < ix->nfields; f++)
    if (!strcmp(ix->field_names[f], name)) return (int)f;
  return -1;
}

const blend_analyzer_config *blend_index_analyzer_config(const blend_index *ix) {
  return &ix->analyzer;
}

void blend_index_stats_get(const blend_index *ix, blend_index_stats *out) {
  memset(out, 0, sizeof *out);
  out->docs = ix->ndocs;
  out->segments = ix->nsegs;
  out->fields = ix->nfields;
  out->bytes_on_disk = ix->bytes_on_disk;
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    const segment *s = &ix->segs[i];
    /* walk the dictionary once: terms and postings counts */
    const uint8_t *p = s->termdict.p, *end = p + s->termdict.len;
    uint64_t shared, suffix, v;
    while (p < end) {
      if (varint_read(&p, end, &shared) || varint_read(&p, end, &suffix) ||
          suffix > (uint64_t)(end - p))
        break;
      p += suffix;
      uint64_t df;
      if (varint_read(&p, end, &df)) break;
      int bad = 0;
      for (int k = 0; k < 6; k++)
        if (varint_read(&p, end, &v)) bad = 1;
      if (bad || p >= end) break;
      p++;
      out->terms++;
      out->postings += df;
    }
  }
}
