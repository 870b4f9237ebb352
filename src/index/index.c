/*
** index.c — a reader's snapshot of one committed generation: reads
** MANIFEST, opens its segments (or shares them with the snapshot being
** refreshed), loads each segment's live-docs bitmap, and sums per-field
** statistics over segments, since BM25 needs collection-wide values.
**
** Statistics and deletions: like Lucene, deleted documents that are not
** merged away yet still count in N, df and average field length; a merge
** (or `blend merge --max-segments 1`) drops them, after which scores equal
** those of a fresh index of the live documents.
**
** A commit may delete an old generation's files right after it switches
** the manifest. An open snapshot keeps its mapped files (POSIX unlink), and
** an open that races a commit (the manifest it read names a file already
** gone) reads the new manifest and tries again.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "index/build.h"
#include "index/index.h"

void blend_vector_config_default(blend_vector_config *v, uint32_t dim) {
  memset(v, 0, sizeof *v);
  v->dim = dim;
  v->metric = BLEND_METRIC_COSINE;
  v->dtype = BLEND_VECTOR_F32;
  v->hnsw = 1;
  v->hnsw_m = 16;
  v->hnsw_ef_construction = 200;
  v->hnsw_seed = 42;
}

void blend_index_config_default(blend_index_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  blend_analyzer_config_default(&cfg->analyzer);
  cfg->positions = 1;
  cfg->field_views = 1;
}

static const segment *find_shared(const blend_index *old, const manifest_seg *ms) {
  for (uint32_t i = 0; old && i < old->nsegs; i++)
    if (!strcmp(old->segs[i].name, ms->name) && old->segs[i].crc == ms->crc) return &old->segs[i];
  return NULL;
}

/* Open the generation m describes, sharing segments with old where possible. */
static int open_snapshot(const char *dir, const manifest *m, const blend_index *old, blend_index **out,
                         blend_error *err) {
  blend_index *ix = calloc(1, sizeof *ix);
  if (!ix) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  snprintf(ix->dir, sizeof ix->dir, "%s", dir);
  ix->analyzer = m->cfg.analyzer;
  ix->generation = m->generation;
  ix->positions = 1;
  ix->field_views = 1;
  ix->vector = m->cfg.vector;
  ix->nmeta = m->nmeta;
  memcpy(ix->meta_names, m->meta, sizeof ix->meta_names);
  int rc = BLEND_OK;
  if (m->hybrid && !(ix->hybrid = strdup(m->hybrid))) goto nomem;
  ix->segs = calloc((size_t)m->nsegs + 1, sizeof(segment));
  if (!ix->segs) goto nomem;
  for (uint32_t i = 0; i < m->nsegs; i++) {
    const manifest_seg *ms = &m->segs[i];
    segment *s = &ix->segs[i];
    const segment *shared = find_shared(old, ms);
    if (shared) {
      segment_share(s, shared);
    } else {
      char spath[4096 + 300];
      snprintf(spath, sizeof spath, "%s/%s", dir, ms->name);
      rc = segment_open(s, spath, err);
      if (rc == BLEND_ENOTFOUND)
        rc = blend_seterr(err, BLEND_ECORRUPT, "%s: segment file %s named by the manifest is missing", dir, ms->name);
      if (rc) goto fail;
      snprintf(s->name, sizeof s->name, "%s", ms->name);
    }
    ix->nsegs++;
    if (s->ndocs != ms->docs || s->crc != ms->crc) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s/%s: segment does not match the manifest (%u docs, want %u)",
                        dir, ms->name, s->ndocs, ms->docs);
      goto fail;
    }
    if (ms->live[0]) {
      rc = live_read(dir, ms->live, s->ndocs, &s->live, &s->ndeleted, err);
      if (rc) goto fail;
      if (s->ndeleted != ms->deleted) {
        rc = blend_seterr(err, BLEND_ECORRUPT, "%s/%s: %u deleted documents, the manifest says %u", dir,
                          ms->live, s->ndeleted, ms->deleted);
        goto fail;
      }
    }
    if (ix->vector.dim && s->vec == NULL) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s/%s: segment has no vector section", dir, ms->name);
      goto fail;
    }
    s->base = ix->ndocs;
    if ((uint64_t)ix->ndocs + s->ndocs >= DOC_END) {
      rc = blend_seterr(err, BLEND_EUNSUPPORTED, "%s: more than 4 billion documents", dir);
      goto fail;
    }
    ix->ndocs += s->ndocs;
    ix->ndeleted += s->ndeleted;
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
  if (ix->nfields == 0) { /* an empty index still has the flat field */
    strcpy(ix->field_names[0], FLAT_FIELD);
    ix->nfields = 1;
  }
  *out = ix;
  return BLEND_OK;
nomem:
  rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
fail:
  blend_index_close(ix);
  return rc;
}

static int open_latest(const char *dir, const blend_index *old, blend_index **out, blend_error *err) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: no such index directory", dir);
  int rc = BLEND_OK;
  *out = NULL;
  for (int attempt = 0; attempt < 20; attempt++) {
    manifest m;
    rc = manifest_read(dir, &m, err);
    if (rc) return rc;
    uint64_t g = m.generation;
    if (old && old->generation == g) {
      manifest_free(&m);
      return BLEND_OK; /* unchanged: *out stays NULL */
    }
    rc = open_snapshot(dir, &m, old, out, err);
    manifest_free(&m);
    if (rc != BLEND_ENOTFOUND && rc != BLEND_ECORRUPT) return rc;
    /* A file may have been removed by a commit that replaced this manifest
       after we read it: retry while the generation moves on. */
    manifest again;
    if (manifest_read(dir, &again, NULL) != BLEND_OK) return rc;
    int moved = again.generation != g;
    manifest_free(&again);
    if (!moved) return rc;
  }
  return rc;
}

int blend_index_open(const char *dir, blend_index **out, blend_error *err) {
  *out = NULL;
  return open_latest(dir, NULL, out, err);
}

int index_open_newer(const char *dir, const blend_index *old, blend_index **out, blend_error *err) {
  *out = NULL;
  return open_latest(dir, old, out, err);
}

int blend_index_refresh(blend_index **ixp, int *changed, blend_error *err) {
  blend_index *nix = NULL;
  if (changed) *changed = 0;
  int rc = open_latest((*ixp)->dir, *ixp, &nix, err);
  if (rc) return rc;
  if (!nix) return BLEND_OK;
  blend_index_close(*ixp);
  *ixp = nix;
  if (changed) *changed = 1;
  return BLEND_OK;
}

void blend_index_close(blend_index *ix) {
  if (!ix) return;
  for (uint32_t i = 0; i < ix->nsegs; i++) segment_close(&ix->segs[i]);
  free(ix->segs);
  free(ix->hybrid);
  free(ix);
}

const segment *index_segment_of(const blend_index *ix, uint32_t doc, uint32_t *local, uint32_t *segno) {
  uint32_t lo = 0, hi = ix->nsegs;
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (ix->segs[mid].base <= doc) lo = mid;
    else hi = mid;
  }
  if (ix->nsegs == 0 || doc - ix->segs[lo].base >= ix->segs[lo].ndocs) return NULL;
  *local = doc - ix->segs[lo].base;
  if (segno) *segno = lo;
  return &ix->segs[lo];
}

int index_field(const blend_index *ix, const char *name) {
  for (uint32_t f = 0; f < ix->nfields; f++)
    if (!strcmp(ix->field_names[f], name)) return (int)f;
  return -1;
}

const blend_analyzer_config *blend_index_analyzer_config(const blend_index *ix) {
  return &ix->analyzer;
}

const char *blend_index_field_name(const blend_index *ix, uint32_t i) {
  return i < ix->nfields ? ix->field_names[i] : NULL;
}

uint32_t blend_index_meta_fields(const blend_index *ix) { return ix->nmeta; }
const char *blend_index_meta_field(const blend_index *ix, uint32_t i) {
  return i < ix->nmeta ? ix->meta_names[i] : NULL;
}

int blend_index_vector_config(const blend_index *ix, blend_vector_config *out, blend_error *err) {
  if (!ix->vector.dim)
    return blend_seterr(err, BLEND_ENOTFOUND,
                        "%s: the index has no vector field (build it with 'blend index --model DIR' or --vectors FILE)",
                        ix->dir);
  *out = ix->vector;
  return BLEND_OK;
}

void blend_index_stats_get(const blend_index *ix, blend_index_stats *out) {
  memset(out, 0, sizeof *out);
  out->docs = ix->ndocs - ix->ndeleted;
  out->deleted = ix->ndeleted;
  out->generation = ix->generation;
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
