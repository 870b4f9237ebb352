/*
** writer.c — the IndexWriter: one writer per index at a time (DIR/LOCK),
** documents buffered in a docbuf until commit, deletions recorded against
** the committed segments' live-docs bitmaps, and the commit that turns both
** into a new generation. Merging lives in merge.c.
**
** Commit order (a crash anywhere leaves the previous generation intact):
**   1. the new segment file, written and fsynced;
**   2. a new live-docs file per segment that lost documents, fsynced;
**   3. fsync of the directory (the new names are durable);
**   4. MANIFEST.tmp written + fsynced, renamed over MANIFEST, directory
**      fsynced (file_write_atomic);
**   5. files no longer named are removed (garbage collection).
** Until step 4's rename, readers and a restarted writer see the previous
** generation; files left by a crash are garbage that the next commit removes.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "index/build.h"
#include "index/index.h"
#include "index/writer.h"
#include "util/sha256.h"

#define ENCODE_BATCH 256

static int lock_index(blend_writer *w, blend_error *err) {
  char path[4096 + 16];
  snprintf(path, sizeof path, "%s/LOCK", w->dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return blend_seterr(err, BLEND_EIO, "%s: %s", path, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (pid > 0)
      return blend_seterr(err, BLEND_ELOCKED, "%s: index is locked by another writer (pid %ld)", w->dir, pid);
    return blend_seterr(err, BLEND_ELOCKED, "%s: index is locked by another writer", w->dir);
  }
  /* the kernel drops an flock when its holder dies, so a lock file left by a
     dead process is simply taken over here */
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
    close(fd);
    return blend_seterr(err, BLEND_EIO, "%s: cannot write the lock file", path);
  }
  w->lock_fd = fd;
  return BLEND_OK;
}

/* Load the committed generation this writer builds on (APPEND), with a
** private copy of every segment's live-docs bitmap for deletions. */
static int load_base(blend_writer *w, blend_error *err) {
  blend_index *old = w->ix;
  w->ix = NULL;
  free(w->live);
  free(w->dirty);
  w->live = NULL;
  w->dirty = NULL;
  if (w->base.nsegs == 0) {
    blend_index_close(old);
    return BLEND_OK;
  }
  /* after a commit, refresh: the segments the new generation keeps are
     shared as they are, not mapped and checksummed again (a full reopen
     made every commit cost a pass over the whole index) */
  int rc, changed;
  if (old) {
    rc = blend_index_refresh(&old, &changed, err);
    if (rc) blend_index_close(old);
    else w->ix = old;
  } else {
    rc = blend_index_open(w->dir, &w->ix, err);
  }
  if (rc) return rc;
  if (w->ix->generation != w->base.generation)
    return blend_seterr(err, BLEND_EIO, "%s: the index changed under the writer", w->dir);
  w->live = calloc(w->ix->nsegs, sizeof *w->live);
  w->dirty = calloc(w->ix->nsegs, 1);
  if (!w->live || !w->dirty) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (uint32_t i = 0; i < w->ix->nsegs; i++) {
    segment *s = &w->ix->segs[i];
    size_t words = ((size_t)s->ndocs + 63) / 64;
    w->live[i] = malloc(words * 8 + 8);
    if (!w->live[i]) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    if (s->live) memcpy(w->live[i], s->live, words * 8);
    else {
      memset(w->live[i], 0xff, words * 8);
      if (s->ndocs % 64) w->live[i][words - 1] = (1ull << (s->ndocs % 64)) - 1;
    }
  }
  return BLEND_OK;
}

static void free_base_live(blend_writer *w) {
  for (uint32_t i = 0; w->ix && w->live && i < w->ix->nsegs; i++) free(w->live[i]);
  free(w->live);
  free(w->dirty);
  w->live = NULL;
  w->dirty = NULL;
}

int blend_writer_open(const char *dir, const blend_index_config *cfg, blend_writer **out,
                      blend_error *err) {
  return blend_writer_open_mode(dir, cfg, BLEND_WRITE_REPLACE, out, err);
}

int blend_writer_open_mode(const char *dir, const blend_index_config *cfg, int mode, blend_writer **out,
                           blend_error *err) {
  *out = NULL;
  if (mode != BLEND_WRITE_REPLACE && mode != BLEND_WRITE_APPEND)
    return blend_seterr(err, BLEND_EINVAL, "unknown write mode %d", mode);
  int rc = dir_ensure(dir, err);
  if (rc) return rc;
  if (access(dir, W_OK) != 0)
    return blend_seterr(err, BLEND_EIO, "%s: not writable: %s", dir, strerror(errno));
  blend_writer *w = calloc(1, sizeof *w);
  if (!w) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  w->lock_fd = -1;
  w->mode = mode;
  w->merge = mode == BLEND_WRITE_APPEND;
  w->dir = strdup(dir);
  if (!w->dir) {
    free(w);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  rc = lock_index(w, err);
  if (rc) goto fail;
  blend_error tmp;
  int have = manifest_read(dir, &w->base, &tmp);
  if (mode == BLEND_WRITE_APPEND) {
    if (have == BLEND_OK) {
      w->cfg = w->base.cfg;
      if (cfg->vector.dim && !w->cfg.vector.dim && w->base.nsegs > 0) {
        rc = blend_seterr(err, BLEND_EINVAL, "%s: the index has no vector field; rebuild it to add one", dir);
        goto fail;
      }
      if (!w->cfg.vector.dim) w->cfg.vector = cfg->vector;
    } else if (have == BLEND_ENOTFOUND) {
      w->cfg = *cfg;
      memset(&w->base, 0, sizeof w->base);
    } else {
      rc = blend_seterr(err, have, "%s", tmp.message);
      goto fail;
    }
  } else {
    /* a rebuild keeps only the generation counters of what was there, and
       works even when the old index is unreadable */
    uint64_t gen = have == BLEND_OK ? w->base.generation : 0, next = have == BLEND_OK ? w->base.next_segment : 0;
    if (have == BLEND_OK) manifest_free(&w->base);
    memset(&w->base, 0, sizeof w->base);
    w->base.generation = gen;
    w->base.next_segment = next;
    w->cfg = *cfg;
  }
  rc = load_base(w, err);
  if (!rc) rc = docbuf_init(&w->buf, &w->cfg, err);
  if (rc) goto fail;
  *out = w;
  return BLEND_OK;
fail:
  blend_writer_close(w);
  return rc;
}

void blend_writer_close(blend_writer *w) {
  if (!w) return;
  docbuf_free(&w->buf);
  free_base_live(w);
  blend_index_close(w->ix);
  manifest_free(&w->base);
  for (uint32_t i = 0; i < w->npending; i++) free(w->pending[i].text);
  free(w->pending);
  if (w->lock_fd >= 0) close(w->lock_fd); /* releases the flock */
  free(w->dir);
  free(w);
}

uint64_t blend_writer_duplicates(const blend_writer *w) { return w->duplicates; }
void blend_writer_set_merge(blend_writer *w, int enabled) { w->merge = enabled != 0; }

/* Mark the committed document with this id deleted; 1 if it was live. */
static int delete_committed(blend_writer *w, const char *id, size_t len) {
  int found = 0;
  for (uint32_t i = 0; w->ix && i < w->ix->nsegs; i++) {
    uint32_t d;
    if (!segment_find_id(&w->ix->segs[i], id, len, &d)) continue;
    if ((w->live[i][d >> 6] >> (d & 63)) & 1) {
      w->live[i][d >> 6] &= ~(1ull << (d & 63));
      w->dirty[i] = 1;
      found = 1;
    }
  }
  return found;
}

int blend_writer_set_model(blend_writer *w, blend_model *m, const char *model_dir, const char *text_fields,
                           const char *doc_prefix, const char *query_prefix, blend_error *err) {
  if (blend_model_is_cross_encoder(m))
    return blend_seterr(err, BLEND_EINVAL, "%s: a cross-encoder cannot make document vectors", model_dir);
  blend_vector_config *vc = &w->cfg.vector;
  uint32_t dim = blend_model_dim(m);
  char abs[PATH_MAX];
  if (!realpath(model_dir, abs)) return blend_seterr(err, BLEND_ENOTFOUND, "%s: %s", model_dir, strerror(errno));
  char weights[PATH_MAX + 32], sha[65];
  snprintf(weights, sizeof weights, "%s/model.safetensors", abs);
  int rc = file_sha256(weights, sha, NULL, err);
  if (rc) return rc;
  const char *name = strrchr(abs, '/') ? strrchr(abs, '/') + 1 : abs;
  if (!text_fields) text_fields = "";
  if (!doc_prefix) doc_prefix = "";
  if (!query_prefix) query_prefix = "";
  if (strlen(abs) >= sizeof vc->model_dir || strlen(name) >= sizeof vc->model_name ||
      strlen(doc_prefix) >= sizeof vc->doc_prefix || strlen(query_prefix) >= sizeof vc->query_prefix ||
      strlen(text_fields) >= sizeof vc->text_fields)
    return blend_seterr(err, BLEND_EINVAL, "model path, prefix or field list too long");
  if (w->base.nsegs > 0 || w->buf.ndocs > 0) {
    /* appending to an index: the model must be the one that built it */
    if (vc->dim != dim || strcmp(vc->model_sha256, sha) || strcmp(vc->pooling, blend_model_pooling(m)) ||
        vc->normalize != blend_model_normalizes(m))
      return blend_seterr(err, BLEND_EINVAL,
                          "%s: not the model this index's vectors were made with (%s, %u-d, sha256 %.12s)",
                          model_dir, vc->model_name[0] ? vc->model_name : "user vectors", vc->dim,
                          vc->model_sha256[0] ? vc->model_sha256 : "-");
  } else {
    blend_vector_config keep = *vc;
    blend_vector_config_default(vc, dim);
    if (keep.dim == dim || keep.dim == 0) { /* keep the caller's metric, HNSW and dtype choices */
      vc->metric = keep.metric;
      vc->dtype = keep.dtype;
      vc->hnsw = keep.hnsw;
      vc->hnsw_m = keep.hnsw_m ? keep.hnsw_m : vc->hnsw_m;
      vc->hnsw_ef_construction = keep.hnsw_ef_construction ? keep.hnsw_ef_construction : vc->hnsw_ef_construction;
      vc->hnsw_seed = keep.hnsw_seed;
      vc->threads = keep.threads;
    }
    strcpy(vc->model_dir, abs);
    strcpy(vc->model_name, name);
    strcpy(vc->model_sha256, sha);
    snprintf(vc->pooling, sizeof vc->pooling, "%s", blend_model_pooling(m));
    vc->normalize = blend_model_normalizes(m);
    vc->max_length = blend_model_max_length(m);
    strcpy(vc->doc_prefix, doc_prefix);
    strcpy(vc->query_prefix, query_prefix);
    strcpy(vc->text_fields, text_fields);
    w->buf.cfg.vector = *vc;
  }
  w->model = m;
  return BLEND_OK;
}

static int flush_pending(blend_writer *w, blend_error *err) {
  if (w->npending == 0) return BLEND_OK;
  uint32_t dim = w->cfg.vector.dim;
  const char **texts = malloc(w->npending * sizeof *texts);
  size_t *lens = malloc(w->npending * sizeof *lens);
  float *out = malloc((size_t)w->npending * dim * sizeof *out);
  int rc = BLEND_ENOMEM;
  if (!texts || !lens || !out) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto out;
  }
  for (uint32_t i = 0; i < w->npending; i++) {
    texts[i] = w->pending[i].text;
    lens[i] = w->pending[i].len;
  }
  rc = blend_embed(w->model, texts, lens, w->npending, out, err);
  if (rc) goto out;
  for (uint32_t i = 0; i < w->npending; i++) {
    uint32_t d = w->pending[i].doc;
    memcpy(w->buf.vecs + (size_t)d * dim, out + (size_t)i * dim, dim * sizeof *out);
    w->buf.has_vec[d] = 1;
  }
out:
  for (uint32_t i = 0; i < w->npending; i++) free(w->pending[i].text);
  w->npending = 0;
  free(texts);
  free(lens);
  free(out);
  return rc;
}

static int field_selected(const char *list, const char *name) {
  if (!*list) return 1;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == n && !memcmp(p, name, n)) return 1;
    if (!c) break;
    p = c + 1;
  }
  return 0;
}

/* Queue doc's text for the model: doc_prefix + the chosen fields joined by
** a space. */
static int queue_encode(blend_writer *w, uint32_t d, const blend_doc *doc, blend_error *err) {
  bbuf t = {0};
  const blend_vector_config *vc = &w->cfg.vector;
  int first = 1, bad = bbuf_append(&t, vc->doc_prefix, strlen(vc->doc_prefix));
  for (size_t f = 0; f < doc->nfields && !bad; f++) {
    if (!field_selected(vc->text_fields, doc->fields[f].name) || doc->fields[f].len == 0) continue;
    if (!first) bad = bbuf_putc(&t, ' ');
    bad = bad || bbuf_append(&t, doc->fields[f].text, doc->fields[f].len);
    first = 0;
  }
  bad = bad || bbuf_putc(&t, 0);
  if (!bad && w->npending == w->pending_cap) {
    uint32_t cap = w->pending_cap ? w->pending_cap * 2 : ENCODE_BATCH;
    void *p = realloc(w->pending, cap * sizeof *w->pending);
    if (!p) bad = 1;
    else {
      w->pending = p;
      w->pending_cap = cap;
    }
  }
  if (bad) {
    bbuf_free(&t);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  w->pending[w->npending].doc = d;
  w->pending[w->npending].text = (char *)t.data;
  w->pending[w->npending].len = t.len - 1;
  w->npending++;
  return w->npending >= ENCODE_BATCH ? flush_pending(w, err) : BLEND_OK;
}

int blend_writer_add(blend_writer *w, const blend_doc *doc, blend_error *err) {
  if (w->cfg.vector.dim && !doc->vector && !w->model)
    return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has no vector (the index has a %u-d vector field)",
                        (int)doc->id_len, doc->id ? doc->id : "", w->cfg.vector.dim);
  uint32_t d = w->buf.ndocs;
  int replaced;
  int rc = docbuf_add(&w->buf, doc, &replaced, err);
  if (rc) return rc;
  if (delete_committed(w, doc->id, doc->id_len)) replaced = 1;
  if (replaced) w->duplicates++;
  if (w->cfg.vector.dim && !doc->vector) return queue_encode(w, d, doc, err);
  return BLEND_OK;
}

int blend_writer_delete(blend_writer *w, const char *id, size_t id_len, int *found, blend_error *err) {
  if (!id || id_len == 0) return blend_seterr(err, BLEND_EINVAL, "empty id");
  int f = docbuf_delete(&w->buf, id, id_len);
  if (delete_committed(w, id, id_len)) f = 1;
  if (found) *found = f;
  return BLEND_OK;
}

int writer_commit_generation(blend_writer *w, manifest *next, blend_error *err) {
  int rc = dir_fsync(w->dir, err);
  if (rc) return rc;
  rc = manifest_write(w->dir, next, err);
  if (rc) return rc;
  manifest_collect_garbage(w->dir, next);
  manifest_free(&w->base);
  w->base = *next;
  memset(next, 0, sizeof *next);
  free_base_live(w);
  return load_base(w, err);
}

/* Union the buffer's fields and metadata columns into the manifest's lists. */
static void merge_names(manifest *m, const docbuf *b) {
  for (uint32_t f = 0; f < b->nfields; f++) {
    uint32_t i = 0;
    while (i < m->nfields && strcmp(m->fields[i], b->fields[f])) i++;
    if (i == m->nfields && m->nfields < MAX_FIELDS) strcpy(m->fields[m->nfields++], b->fields[f]);
  }
  for (uint32_t c = 0; c < b->nmeta; c++) {
    uint32_t i = 0;
    while (i < m->nmeta && strcmp(m->meta[i], b->meta_names[c])) i++;
    if (i == m->nmeta && m->nmeta < MAX_META) snprintf(m->meta[m->nmeta++], 64, "%s", b->meta_names[c]);
  }
}

int writer_next_manifest(blend_writer *w, manifest *next, blend_error *err) {
  memset(next, 0, sizeof *next);
  next->generation = w->base.generation + 1;
  next->next_segment = w->base.next_segment;
  next->cfg = w->cfg;
  memcpy(next->fields, w->base.fields, sizeof next->fields);
  next->nfields = w->base.nfields;
  memcpy(next->meta, w->base.meta, sizeof next->meta);
  next->nmeta = w->base.nmeta;
  if (w->base.hybrid && !(next->hybrid = strdup(w->base.hybrid)))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  return BLEND_OK;
}

int blend_writer_commit(blend_writer *w, blend_error *err) {
  /* a writer whose rebase failed no longer knows the segments to keep */
  if (w->base.nsegs > 0 && !w->ix)
    return blend_seterr(err, BLEND_EIO, "%s: the writer lost track of the index after an error; reopen it", w->dir);
  int rc = flush_pending(w, err);
  if (rc) return rc;
  int changed = w->buf.ndocs > 0 || w->mode == BLEND_WRITE_REPLACE || w->base.generation == 0;
  for (uint32_t i = 0; w->ix && i < w->ix->nsegs; i++) changed |= w->dirty[i];
  if (!changed) return BLEND_OK; /* nothing to commit: no new generation */
  w->mode = BLEND_WRITE_APPEND;   /* later commits of this writer add to the first */
  manifest next;
  rc = writer_next_manifest(w, &next, err);
  if (rc) return rc;
  /* 1. the new segment */
  manifest_seg ns = {0};
  char path[4096 + 128];
  snprintf(ns.name, sizeof ns.name, "seg-%06llu-%llu.bseg", (unsigned long long)next.generation,
           (unsigned long long)next.next_segment++);
  snprintf(path, sizeof path, "%s/%s", w->dir, ns.name);
  rc = docbuf_write_segment(&w->buf, path, &ns.docs, &ns.bytes, &ns.crc, err);
  if (rc) goto fail;
  /* 2. live docs of old segments, and the old segments that stay */
  for (uint32_t i = 0; w->ix && i < w->ix->nsegs; i++) {
    const segment *s = &w->ix->segs[i];
    const manifest_seg *old = &w->base.segs[i];
    manifest_seg ms = *old;
    if (w->dirty[i]) {
      uint32_t live = 0;
      size_t words = ((size_t)s->ndocs + 63) / 64;
      for (size_t k = 0; k < words; k++) live += (uint32_t)__builtin_popcountll(w->live[i][k]);
      ms.deleted = s->ndocs - live;
      if (live == 0) continue; /* every document deleted: drop the segment */
      char base[64];
      snprintf(base, sizeof base, "%.*s", (int)(strlen(old->name) - 5), old->name);
      snprintf(ms.live, sizeof ms.live, "%s.%llu.liv", base, (unsigned long long)next.generation);
      rc = live_write(w->dir, ms.live, w->live[i], s->ndocs, ms.deleted, err);
      if (rc) goto fail;
    }
    if (manifest_add_seg(&next, &ms)) goto nomem;
  }
  if (ns.docs && manifest_add_seg(&next, &ns)) goto nomem;
  merge_names(&next, &w->buf);
  /* 3.-5. */
  rc = writer_commit_generation(w, &next, err);
  if (rc) goto fail;
  docbuf_free(&w->buf);
  rc = docbuf_init(&w->buf, &w->cfg, err);
  if (rc) return rc;
  /* The commit stands from here on: a failing merge (a full disk, say)
     must not report it as failed — the caller would take committed
     documents for lost. The merge is retried after the next commit, and
     blend_writer_force_merge reports its errors. */
  if (w->merge) {
    blend_error merr;
    if (writer_maybe_merge(w, &merr)) {
      /* rebase on whatever generation the disk holds now, whichever step
         of the merge failed */
      manifest m;
      rc = manifest_read(w->dir, &m, err);
      if (rc) return rc;
      free_base_live(w);
      manifest_free(&w->base);
      w->base = m;
      return load_base(w, err);
    }
  }
  return BLEND_OK;
nomem:
  rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
fail:
  manifest_free(&next);
  return rc;
}
