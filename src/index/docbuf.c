/*
** docbuf.c — the documents of one new segment, held in memory until
** commit: each is inverted (per (field, term) a growable buffer of varints:
** doc delta, position deltas, a closing 0), its text fields, id and
** metadata are stored, and its vector kept in a dense [doc × dim] array.
** Two views of the text are inverted: the flat field `contents` (all text
** fields, positions continuing across fields with a gap) and, unless the
** index is flat-only, each source field on its own.
**
** Duplicate ids: the later document wins; the earlier one is marked
** deleted and dropped (postings, norms, stored fields, vector) when the
** segment is written, so its statistics count live documents only.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/build.h"

#define NONE UINT32_MAX

int docbuf_init(docbuf *b, const blend_index_config *cfg, blend_error *err) {
  memset(b, 0, sizeof *b);
  b->cfg = *cfg;
  b->id_map = strmap_new();
  b->fields[0] = strdup(FLAT_FIELD);
  b->nfields = 1;
  if (!b->id_map || !b->fields[0]) {
    docbuf_free(b);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  int rc = blend_analyzer_new(&cfg->analyzer, &b->an, err);
  if (rc) {
    docbuf_free(b);
    return rc;
  }
  analyzer_ids_only(b->an, 1);
  return BLEND_OK;
}

void docbuf_free(docbuf *b) {
  blend_analyzer_free(b->an);
  for (uint32_t i = 0; i < b->nfields; i++) {
    free(b->fields[i]);
    bbuf_free(&b->lens[i]);
  }
  for (uint32_t i = 0; i < b->nterms; i++) bbuf_free(&b->tb[i].post);
  free(b->tb);
  for (uint32_t f = 0; f < MAX_FIELDS; f++) free(b->slot[f]);
  for (uint32_t i = 0; i < b->nmeta; i++) free(b->meta_names[i]);
  strmap_free(b->id_map);
  bbuf_free(&b->stored);
  bbuf_free(&b->stored_off);
  bbuf_free(&b->ids);
  bbuf_free(&b->ids_off);
  bbuf_free(&b->meta);
  bbuf_free(&b->meta_off);
  free(b->vecs);
  free(b->has_vec);
  free(b->deleted);
  memset(b, 0, sizeof *b);
}

int docbuf_field(docbuf *b, const char *name, blend_error *err) {
  for (uint32_t i = 1; i < b->nfields; i++)
    if (!strcmp(b->fields[i], name)) return (int)i;
  if (!strcmp(name, FLAT_FIELD))
    return -blend_seterr(err, BLEND_EINVAL, "field name '%s' is reserved", FLAT_FIELD);
  if (!*name || strlen(name) > 31)
    return -blend_seterr(err, BLEND_EINVAL, "field name '%s' must have 1-31 bytes", name);
  if (b->nfields == MAX_FIELDS)
    return -blend_seterr(err, BLEND_EINVAL, "too many fields (max %d)", MAX_FIELDS - 1);
  b->fields[b->nfields] = strdup(name);
  if (!b->fields[b->nfields]) return -blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (b->slot_cap) {
    b->slot[b->nfields] = malloc(b->slot_cap * sizeof(uint32_t));
    if (!b->slot[b->nfields]) return -blend_seterr(err, BLEND_ENOMEM, "out of memory");
    memset(b->slot[b->nfields], 0xff, b->slot_cap * sizeof(uint32_t));
  }
  /* earlier documents had this field empty */
  for (uint32_t d = 0; d < b->ndocs; d++)
    if (bbuf_put_u32(&b->lens[b->nfields], 0)) return -blend_seterr(err, BLEND_ENOMEM, "out of memory");
  return (int)b->nfields++;
}

int docbuf_meta_col(docbuf *b, const char *name) {
  for (uint32_t i = 0; i < b->nmeta; i++)
    if (!strcmp(b->meta_names[i], name)) return (int)i;
  if (b->nmeta == MAX_META) return -1;
  b->meta_names[b->nmeta] = strdup(name);
  if (!b->meta_names[b->nmeta]) return -1;
  return (int)b->nmeta++;
}

/* Make the slot arrays cover analyzer term id t. */
static int cover_term(docbuf *b, uint32_t t) {
  if (t < b->slot_cap) return 0;
  uint64_t cap = b->slot_cap ? b->slot_cap : 8192;
  while (cap <= t) cap *= 2;
  if (cap > UINT32_MAX) return -1;
  for (uint32_t f = 0; f < b->nfields; f++) {
    uint32_t *p = realloc(b->slot[f], cap * sizeof *p);
    if (!p) return -1;
    memset(p + b->slot_cap, 0xff, (cap - b->slot_cap) * sizeof *p);
    b->slot[f] = p;
  }
  b->slot_cap = (uint32_t)cap;
  return 0;
}

/* Record an occurrence of term id t in field f at pos. */
static int touch(docbuf *b, uint32_t f, uint32_t t, uint32_t pos) {
  uint32_t idx = b->slot[f][t];
  if (idx == NONE) {
    if (b->nterms == b->tb_cap) {
      uint64_t cap = b->tb_cap ? (uint64_t)b->tb_cap * 2 : 8192;
      if (cap >= NONE) return -1;
      term_buf *p = realloc(b->tb, cap * sizeof *p);
      if (!p) return -1;
      b->tb = p;
      b->tb_cap = (uint32_t)cap;
    }
    idx = b->nterms++;
    memset(&b->tb[idx], 0, sizeof(term_buf));
    b->tb[idx].term = t;
    b->tb[idx].field = f;
    b->slot[f][t] = idx;
  }
  term_buf *tb = &b->tb[idx];
  uint32_t doc = b->cur_doc;
  if (tb->ndocs == 0 || tb->last_doc != doc) {
    if (tb->ndocs && bbuf_putc(&tb->post, 0)) return -1;
    if (bbuf_put_varint(&tb->post, tb->ndocs ? doc - tb->last_doc : doc)) return -1;
    tb->last_doc = doc;
    tb->ndocs++;
    tb->last_pos = 0;
  }
  uint32_t v = b->cfg.positions ? pos - tb->last_pos + 1 : 1;
  tb->last_pos = pos;
  return bbuf_put_varint(&tb->post, v);
}

static int on_token(void *ctx, const blend_token *t) {
  docbuf *b = ctx;
  uint32_t num = t->term_id; /* terms are at most MAX_TERM bytes by construction */
  if (b->pos_base + (uint64_t)t->position >= UINT32_MAX - 2 || cover_term(b, num) ||
      touch(b, 0, num, b->pos_base + t->position) ||
      (b->cfg.field_views && touch(b, b->cur_field, num, t->position))) {
    b->failed = 1;
    return -1;
  }
  b->field_len++;
  b->flat_len = b->pos_base + t->position + 1;
  return 0;
}

static int grow_docs(docbuf *b, blend_error *err) {
  if (b->ndocs < b->deleted_cap) return 0;
  uint64_t cap = b->deleted_cap ? (uint64_t)b->deleted_cap * 2 : 1024;
  if (cap > UINT32_MAX) cap = UINT32_MAX;
  uint8_t *p = realloc(b->deleted, cap);
  if (p) b->deleted = p;
  uint8_t *q = p ? realloc(b->has_vec, cap) : NULL;
  if (q) b->has_vec = q;
  if (!p || !q) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  b->deleted_cap = (uint32_t)cap;
  return 0;
}

static int store_vector(docbuf *b, uint32_t d, const blend_doc *doc, blend_error *err) {
  uint32_t dim = b->cfg.vector.dim;
  b->has_vec[d] = 0;
  if (!dim) {
    if (doc->vector)
      return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has a vector but the index has no vector field",
                          (int)doc->id_len, doc->id);
    return 0;
  }
  if (b->vec_cap <= d) {
    size_t cap = b->vec_cap ? b->vec_cap * 2 : 1024;
    while (cap <= d) cap *= 2;
    float *p = realloc(b->vecs, cap * dim * sizeof *p);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory for vectors");
    b->vecs = p;
    b->vec_cap = cap;
  }
  if (!doc->vector) return 0;
  if (doc->vector_dim != dim)
    return blend_seterr(err, BLEND_EINVAL, "document '%.*s': vector has %u dimensions, the index has %u",
                        (int)doc->id_len, doc->id, doc->vector_dim, dim);
  for (uint32_t i = 0; i < dim; i++)
    if (!isfinite(doc->vector[i]))
      return blend_seterr(err, BLEND_EINVAL, "document '%.*s': vector component %u is not finite",
                          (int)doc->id_len, doc->id, i);
  memcpy(b->vecs + (size_t)d * dim, doc->vector, dim * sizeof(float));
  b->has_vec[d] = 1;
  return 0;
}

static int store_meta(docbuf *b, const blend_doc *doc, blend_error *err) {
  if (bbuf_put_u64(&b->meta_off, b->meta.len) || bbuf_put_varint(&b->meta, doc->nmeta))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (size_t i = 0; i < doc->nmeta; i++) {
    const blend_meta_value *v = &doc->meta[i];
    size_t nl = v->name ? strlen(v->name) : 0;
    if (nl == 0 || nl > 63)
      return blend_seterr(err, BLEND_EINVAL, "document '%.*s': metadata field name must have 1-63 bytes",
                          (int)doc->id_len, doc->id);
    if (v->kind != BLEND_META_NUMBER && v->kind != BLEND_META_STRING)
      return blend_seterr(err, BLEND_EINVAL, "document '%.*s': metadata field '%s' has no kind",
                          (int)doc->id_len, doc->id, v->name);
    int col = docbuf_meta_col(b, v->name);
    if (col < 0)
      return blend_seterr(err, BLEND_EINVAL, "too many metadata fields (max %d) at '%s'", MAX_META, v->name);
    if (bbuf_put_varint(&b->meta, (uint64_t)col) || bbuf_putc(&b->meta, (uint8_t)v->kind))
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    if (v->kind == BLEND_META_NUMBER) {
      if (!isfinite(v->number))
        return blend_seterr(err, BLEND_EINVAL, "document '%.*s': metadata field '%s' is not a finite number",
                            (int)doc->id_len, doc->id, v->name);
      if (bbuf_append(&b->meta, &v->number, sizeof v->number))
        return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    } else if (bbuf_put_varint(&b->meta, v->len) || bbuf_append(&b->meta, v->text, v->len)) {
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    }
  }
  return 0;
}

int docbuf_add(docbuf *b, const blend_doc *doc, int *replaced, blend_error *err) {
  *replaced = 0;
  if (!doc->id || doc->id_len == 0) return blend_seterr(err, BLEND_EINVAL, "document has an empty id");
  if (doc->id_len > 1024) return blend_seterr(err, BLEND_EINVAL, "document id longer than 1024 bytes");
  if (memchr(doc->id, 0, doc->id_len))
    return blend_seterr(err, BLEND_EINVAL, "document id contains U+0000");
  if (b->ndocs == UINT32_MAX - 1) return blend_seterr(err, BLEND_EUNSUPPORTED, "too many documents in one segment");
  if (doc->nfields > MAX_FIELDS - 1)
    return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has %zu fields (max %d)", (int)doc->id_len,
                        doc->id, doc->nfields, MAX_FIELDS - 1);
  uint32_t d = b->ndocs;
  int rc = grow_docs(b, err);
  if (rc) return rc;
  rc = store_vector(b, d, doc, err);
  if (rc) return rc;
  uint32_t fids[MAX_FIELDS];
  for (size_t f = 0; f < doc->nfields; f++) {
    int id = docbuf_field(b, doc->fields[f].name, err);
    if (id < 0) return -id;
    fids[f] = (uint32_t)id;
    for (size_t g = 0; g < f; g++)
      if (fids[g] == fids[f])
        return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has field '%s' twice",
                            (int)doc->id_len, doc->id, doc->fields[f].name);
  }
  /* metadata first: it is the only part that can still reject the document
     once inversion has begun */
  size_t meta_len = b->meta.len, meta_off_len = b->meta_off.len;
  rc = store_meta(b, doc, err);
  if (rc) {
    b->meta.len = meta_len;
    b->meta_off.len = meta_off_len;
    return rc;
  }
  /* invert */
  uint32_t flens[MAX_FIELDS] = {0};
  b->cur_doc = d;
  b->pos_base = 0;
  b->flat_len = 0;
  uint64_t flat_tokens = 0;
  for (size_t f = 0; f < doc->nfields; f++) {
    b->cur_field = fids[f];
    b->field_len = 0;
    blend_analyze(b->an, doc->fields[f].text, doc->fields[f].len, on_token, b);
    if (b->failed) return blend_seterr(err, BLEND_ENOMEM, "out of memory (or a field over 4G tokens) while indexing");
    flens[fids[f]] = b->field_len;
    flat_tokens += b->field_len;
    b->pos_base = b->flat_len + 1; /* a gap between fields keeps phrases inside one */
  }
  flens[0] = flat_tokens > UINT32_MAX ? UINT32_MAX : (uint32_t)flat_tokens;
  for (uint32_t f = 0; f < b->nfields; f++)
    if (bbuf_put_u32(&b->lens[f], flens[f])) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  /* stored fields and id */
  if (bbuf_put_u64(&b->stored_off, b->stored.len) || bbuf_put_varint(&b->stored, doc->nfields))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (size_t f = 0; f < doc->nfields; f++)
    if (bbuf_put_varint(&b->stored, fids[f]) || bbuf_put_varint(&b->stored, doc->fields[f].len) ||
        bbuf_append(&b->stored, doc->fields[f].text, doc->fields[f].len))
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (bbuf_put_u64(&b->ids_off, b->ids.len) || bbuf_append(&b->ids, doc->id, doc->id_len))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  b->deleted[d] = 0;
  uint32_t v = d;
  int r = strmap_upsert(b->id_map, doc->id, doc->id_len, &v);
  if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (r == 0) { /* duplicate id: the new document replaces the old */
    if (!b->deleted[v]) b->live--;
    b->deleted[v] = 1;
    strmap_set(b->id_map, doc->id, doc->id_len, d);
    *replaced = 1;
  }
  b->ndocs++;
  b->live++;
  return BLEND_OK;
}

int docbuf_delete(docbuf *b, const char *id, size_t len) {
  uint32_t d;
  if (!strmap_get(b->id_map, id, len, &d) || b->deleted[d]) return 0;
  b->deleted[d] = 1;
  b->live--;
  return 1;
}

/* ---------------------------------------------------------------- commit */

int docbuf_write_segment(docbuf *b, const char *path, uint32_t *ndocs_out, uint64_t *bytes,
                         uint32_t *crc, blend_error *err) {
  seg_build sb = {0};
  uint32_t *remap = NULL;
  uint8_t *cnorms[MAX_FIELDS] = {0};
  int rc = BLEND_ENOMEM;
  *ndocs_out = 0;
  remap = malloc(((size_t)b->ndocs + 1) * sizeof *remap);
  if (!remap) goto fail;
  uint32_t live = 0;
  for (uint32_t d = 0; d < b->ndocs; d++) remap[d] = b->deleted[d] ? UINT32_MAX : live++;
  if (live == 0) {
    free(remap);
    return BLEND_OK;
  }
  /* fields + compacted norms */
  sec *fs = seg_build_add(&sb, SEC_FIELDS, 0);
  for (uint32_t f = 0; f < b->nfields; f++) {
    cnorms[f] = malloc(live + 1);
    if (!cnorms[f]) goto fail;
    uint64_t sum = 0;
    uint32_t with = 0;
    for (uint32_t d = 0; d < b->ndocs; d++) {
      if (b->deleted[d]) continue;
      uint32_t len = rd_u32(b->lens[f].data + 4 * (size_t)d);
      cnorms[f][remap[d]] = norm_encode(len);
      if (len) with++;
      sum += len;
    }
    size_t nl = strlen(b->fields[f]);
    uint8_t l2[2] = {(uint8_t)nl, (uint8_t)(nl >> 8)};
    if (bbuf_append(&fs->b, l2, 2) || bbuf_append(&fs->b, b->fields[f], nl) ||
        bbuf_put_u64(&fs->b, sum) || bbuf_put_u32(&fs->b, with))
      goto fail;
    sec *ns = seg_build_add(&sb, SEC_NORMS, f);
    if (bbuf_append(&ns->b, cnorms[f], live)) goto fail;
  }
  uint64_t nterms = 0;
  int r = postings_write(b, remap, &sb, (const uint8_t *const *)cnorms, &nterms);
  if (!r) r = store_write(b, remap, &sb);
  if (!r) r = meta_write(b, remap, live, &sb);
  if (r == -2) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                      "%s: the segment would exceed the format's 32-bit offsets; index fewer documents per commit", path);
    goto out;
  }
  if (r) goto fail;
  rc = vectors_write(b, remap, live, &sb, err);
  if (rc) goto out;
  rc = seg_build_write(path, &sb, live, b->nfields,
                       (b->cfg.positions ? SEG_FLAG_POSITIONS : 0) |
                           (b->cfg.field_views ? SEG_FLAG_FIELD_VIEWS : 0),
                       bytes, crc, err);
  if (rc == BLEND_OK) *ndocs_out = live;
  goto out;
fail:
  rc = blend_seterr(err, BLEND_ENOMEM, "%s: out of memory while writing the segment", path);
out:
  seg_build_free(&sb);
  for (uint32_t f = 0; f < MAX_FIELDS; f++) free(cnorms[f]);
  free(remap);
  return rc;
}
