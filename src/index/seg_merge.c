/*
** seg_merge.c — the structural merger: writes one new segment from the
** live documents of several open segments without analysing any text, as
** Lucene and tantivy merge. Documents keep segment order, then doc order;
** each source gets a map old doc → new doc (NONE when deleted).
**
**  - fields: numbered in order of first appearance in the live documents'
**    stored records (what a fresh build of the same documents does); each
**    source's field numbers are mapped onto them;
**  - stored fields: every block decompressed, each live record copied with
**    its field numbers mapped; ids, metadata and vector rows copied per
**    document. These go through the ordinary serializers (store_writer.c,
**    vector_writer.c: int8 codes are requantised and the HNSW graph rebuilt
**    from the copied f32 rows), so their sections are a fresh build's;
**  - norms copied through the maps; postings: per field, a k-way merge of
**    the sources' sorted term dictionaries; for each term the sources'
**    postings are decoded in source order, deleted documents dropped, doc
**    numbers mapped, positions copied as bytes, and everything re-encoded
**    by postings_writer.c's encoder (blocks, skip table, block-max data).
**    A term left without documents is dropped;
**  - field statistics recomputed from the live documents: a document's
**    field length is the sum of its tfs in that field's postings (each
**    token is one occurrence), which is also checked against the copied
**    norm. A flat-only segment has no per-field postings, so there a
**    field's sum is the sources' sums minus the lengths of their deleted
**    documents: exact from the norm below 24 tokens, else counted by
**    analysing that deleted field's stored text (the only analysis here).
** BM25 statistics, postings and stored fields thus equal those of a fresh
** build of the same live documents. A merged segment has positions / field
** views only when every source has them.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/build.h"
#include "vector/vector.h"

#define NONE UINT32_MAX

typedef struct merger {
  const blend_index_config *cfg;
  const merge_src *src;
  uint32_t nsrc;
  uint32_t **newdoc;              /* [src][old doc] → new doc, NONE when deleted */
  uint32_t ndocs;                 /* documents of the new segment */
  const char *fields[MAX_FIELDS]; /* new field names, [0] = FLAT_FIELD */
  uint32_t nfields;
  uint32_t (*fmap)[MAX_FIELDS];   /* [src][source field] → new field, NONE when unused */
  uint8_t *norms[MAX_FIELDS];     /* [field][new doc] */
  uint32_t *lens[MAX_FIELDS];     /* [field][new doc] tokens, summed from postings */
  int positions, views;
  docbuf b;                       /* ids, stored records, metadata, vectors for the serializers */
  blend_error *err;
} merger;

static int nomem(merger *m) { return blend_seterr(m->err, BLEND_ENOMEM, "out of memory while merging"); }

static int corrupt(merger *m, const segment *s, const char *what) {
  return blend_seterr(m->err, BLEND_ECORRUPT, "%s: %s", s->path, what);
}

static int live_bit(const uint64_t *bits, uint32_t d) { return (int)((bits[d >> 6] >> (d & 63)) & 1); }

static int map_docs(merger *m) {
  m->newdoc = calloc(m->nsrc, sizeof *m->newdoc);
  m->fmap = malloc(m->nsrc * sizeof *m->fmap + 1);
  if (!m->newdoc || !m->fmap) return nomem(m);
  memset(m->fmap, 0xff, m->nsrc * sizeof *m->fmap);
  uint64_t n = 0;
  for (uint32_t i = 0; i < m->nsrc; i++) {
    const segment *s = m->src[i].seg;
    m->newdoc[i] = malloc(((size_t)s->ndocs + 1) * sizeof **m->newdoc);
    if (!m->newdoc[i]) return nomem(m);
    for (uint32_t d = 0; d < s->ndocs; d++) m->newdoc[i][d] = live_bit(m->src[i].live, d) ? (uint32_t)n++ : NONE;
    m->fmap[i][0] = 0;
    if (n >= UINT32_MAX - 1)
      return blend_seterr(m->err, BLEND_EUNSUPPORTED, "too many documents in one segment");
  }
  m->ndocs = (uint32_t)n;
  return BLEND_OK;
}

/* The new field of source i's field f, created on first use. */
static int new_field(merger *m, uint32_t i, uint32_t f, uint32_t *out) {
  uint32_t g = m->fmap[i][f];
  if (g == NONE) {
    const char *name = m->src[i].seg->field_names[f];
    for (g = 1; g < m->nfields && strcmp(m->fields[g], name); g++) {
    }
    if (g == m->nfields) {
      if (m->nfields == MAX_FIELDS)
        return blend_seterr(m->err, BLEND_EUNSUPPORTED, "merged segment would have too many fields (max %d)",
                            MAX_FIELDS - 1);
      if (!(m->norms[g] = calloc((size_t)m->ndocs + 1, 1)) ||
          !(m->lens[g] = calloc((size_t)m->ndocs + 1, sizeof **m->lens)))
        return nomem(m);
      m->fields[m->nfields++] = name;
    }
    m->fmap[i][f] = g;
  }
  *out = g;
  return BLEND_OK;
}

/* Copy the stored record at *pp (doc d of source i, new doc nd) with its
** field numbers mapped, and its norms. */
static int copy_record(merger *m, uint32_t i, uint32_t d, uint32_t nd, const uint8_t **pp, const uint8_t *end) {
  const segment *s = m->src[i].seg;
  uint64_t nf, fid, len;
  if (varint_read(pp, end, &nf) || nf > MAX_FIELDS - 1) return corrupt(m, s, "malformed stored record");
  int live = nd != NONE;
  if (live && (bbuf_put_u64(&m->b.stored_off, m->b.stored.len) || bbuf_put_varint(&m->b.stored, nf)))
    return nomem(m);
  for (uint64_t k = 0; k < nf; k++) {
    if (varint_read(pp, end, &fid) || varint_read(pp, end, &len) || len > (uint64_t)(end - *pp) || fid == 0 ||
        fid >= s->nfields)
      return corrupt(m, s, "malformed stored record");
    if (live) {
      uint32_t g = 0;
      int rc = new_field(m, i, (uint32_t)fid, &g);
      if (rc) return rc;
      if (bbuf_put_varint(&m->b.stored, g) || bbuf_put_varint(&m->b.stored, len) ||
          bbuf_append(&m->b.stored, *pp, len))
        return nomem(m);
      m->norms[g][nd] = s->norms[fid][d];
    }
    *pp += len;
  }
  if (live) m->norms[0][nd] = s->norms[0][d];
  return BLEND_OK;
}

/* Id, metadata record (docbuf's layout) and vector row of one live doc. */
static int copy_doc(merger *m, uint32_t i, uint32_t d, uint32_t nd) {
  const segment *s = m->src[i].seg;
  docbuf *b = &m->b;
  const char *id;
  size_t idlen;
  segment_doc_id(s, d, &id, &idlen);
  if (bbuf_put_u64(&b->ids_off, b->ids.len) || bbuf_append(&b->ids, id, idlen)) return nomem(m);
  uint32_t nmeta = 0;
  for (uint32_t c = 0; c < s->nmeta; c++) nmeta += s->metas[c].kind[d] != 0;
  if (bbuf_put_u64(&b->meta_off, b->meta.len) || bbuf_put_varint(&b->meta, nmeta)) return nomem(m);
  for (uint32_t c = 0; c < s->nmeta; c++) {
    const meta_col *mc = &s->metas[c];
    uint8_t kind = mc->kind[d];
    if (!kind) continue;
    int col = docbuf_meta_col(b, mc->name);
    if (col < 0) return blend_seterr(m->err, BLEND_EUNSUPPORTED, "too many metadata fields (max %d)", MAX_META);
    if (bbuf_put_varint(&b->meta, (uint64_t)col) || bbuf_putc(&b->meta, kind)) return nomem(m);
    if (kind == BLEND_META_NUMBER) {
      if (bbuf_append(&b->meta, mc->num + 8 * (size_t)d, 8)) return nomem(m);
    } else {
      uint32_t a = rd_u32(mc->str_off + 4 * (size_t)d), e = rd_u32(mc->str_off + 4 * (size_t)d + 4);
      if (bbuf_put_varint(&b->meta, e - a) || bbuf_append(&b->meta, mc->str + a, e - a)) return nomem(m);
    }
  }
  uint32_t dim = m->cfg->vector.dim;
  if (dim) {
    const float *row = vec_field_row(s->vec, d);
    for (uint32_t k = 0; k < dim; k++)
      if (!isfinite(row[k])) return corrupt(m, s, "a stored vector is not finite");
    memcpy(b->vecs + (size_t)nd * dim, row, dim * sizeof *row);
    b->has_vec[nd] = 1;
  }
  return BLEND_OK;
}

/* Every live document's stored record, id, metadata, vector and norms, in
** new doc order. */
static int stage_docs(merger *m) {
  docbuf *b = &m->b;
  b->cfg = *m->cfg;
  uint32_t dim = m->cfg->vector.dim;
  if (!(m->norms[0] = calloc((size_t)m->ndocs + 1, 1)) || !(m->lens[0] = calloc((size_t)m->ndocs + 1, 4)))
    return nomem(m);
  m->fields[0] = FLAT_FIELD;
  m->nfields = 1;
  if (dim) {
    b->vecs = malloc(((size_t)m->ndocs + 1) * dim * sizeof *b->vecs);
    b->has_vec = calloc((size_t)m->ndocs + 1, 1);
    if (!b->vecs || !b->has_vec) return nomem(m);
    b->vec_cap = m->ndocs;
    b->unit_vecs = 1;
  }
  store_scratch sc = {0};
  int rc = BLEND_OK;
  for (uint32_t i = 0; i < m->nsrc && !rc; i++) {
    const segment *s = m->src[i].seg;
    if (dim && (!s->vec || vec_field_dim(s->vec) != dim)) {
      rc = corrupt(m, s, "segment has no vectors of the index's dimension");
      break;
    }
    uint32_t next = 0; /* blocks must cover the documents in order */
    for (uint32_t blk = 0; blk < s->store_blocks && !rc; blk++) {
      const uint8_t *raw;
      size_t len;
      uint32_t first, last;
      rc = segment_store_block(s, &sc, blk, &raw, &len, &first, &last, m->err);
      if (!rc && first != next) rc = corrupt(m, s, "stored-field blocks do not cover the documents");
      const uint8_t *p = raw, *end = raw + len;
      for (uint32_t d = first; d < last && !rc; d++) {
        uint32_t nd = m->newdoc[i][d];
        rc = copy_record(m, i, d, nd, &p, end);
        if (!rc && nd != NONE) rc = copy_doc(m, i, d, nd);
      }
      next = last;
    }
    if (!rc && next != s->ndocs) rc = corrupt(m, s, "stored-field blocks do not cover the documents");
  }
  store_scratch_free(&sc);
  b->ndocs = m->ndocs;
  return rc;
}

/* Append source i's postings of the term at it (new field g) to o. */
static int append_term(merger *m, uint32_t i, const term_iter *it, uint32_t g, postings_out *o, uint32_t *n) {
  const segment *s = m->src[i].seg;
  const term_entry *te = &it->te;
  if (postings_out_reserve(o, (size_t)*n + te->df)) return nomem(m);
  pcursor c;
  pcursor_init(&c, s, te);
  const uint8_t *pp = s->positions_sec.p + te->pos_off, *pend = pp + te->pos_len;
  uint32_t seen = 0;
  uint64_t v;
  for (; c.doc != DOC_END; pcursor_next(&c)) {
    uint32_t tf = pcursor_tf(&c), nd = m->newdoc[i][c.doc];
    const uint8_t *span = pp;
    if (m->positions)
      for (uint32_t k = 0; k < tf; k++)
        if (varint_read(&pp, pend, &v)) return corrupt(m, s, "malformed positions");
    seen++;
    if (nd == NONE) continue;
    if (o->pos.len > UINT32_MAX)
      return blend_seterr(m->err, BLEND_EUNSUPPORTED, "merged segment would exceed the format's 32-bit offsets");
    o->docs[*n] = nd;
    o->tfs[*n] = tf;
    o->pos_doc_off[*n] = (uint32_t)o->pos.len;
    if (m->positions && bbuf_append(&o->pos, span, (size_t)(pp - span))) return nomem(m);
    m->lens[g][nd] += tf;
    (*n)++;
  }
  if (c.corrupt || seen != te->df) return corrupt(m, s, "malformed postings");
  return BLEND_OK;
}

static int term_cmp(const term_iter *a, const term_iter *b) { /* term bytes, after the field byte */
  uint32_t la = a->klen - 1, lb = b->klen - 1, k = la < lb ? la : lb;
  int c = memcmp(a->key + 1, b->key + 1, k);
  if (c) return c;
  return la < lb ? -1 : la > lb;
}

/* The postings of new field g: a k-way merge of the sources' terms. */
static int merge_field(merger *m, uint32_t g, postings_out *o, term_iter *it, int8_t *on) {
  for (uint32_t i = 0; i < m->nsrc; i++) {
    on[i] = 0;
    uint32_t f = 0;
    while (f < m->src[i].seg->nfields && m->fmap[i][f] != g) f++;
    if (f == m->src[i].seg->nfields) continue;
    segment_terms_begin(&it[i], m->src[i].seg, f);
    on[i] = (int8_t)segment_terms_next(&it[i]);
    if (on[i] < 0) return corrupt(m, m->src[i].seg, "malformed term dictionary");
  }
  char key[MAX_TERM + 2];
  for (;;) {
    int lo = -1;
    for (uint32_t i = 0; i < m->nsrc; i++)
      if (on[i] && (lo < 0 || term_cmp(&it[i], &it[lo]) < 0)) lo = (int)i;
    if (lo < 0) return BLEND_OK;
    uint32_t klen = it[lo].klen;
    key[0] = (char)g;
    memcpy(key + 1, it[lo].key + 1, klen - 1);
    uint32_t n = 0;
    o->pos.len = 0;
    for (uint32_t i = (uint32_t)lo; i < m->nsrc; i++) {
      if (!on[i] || (i != (uint32_t)lo && term_cmp(&it[i], &it[lo]) != 0)) continue;
      int rc = append_term(m, i, &it[i], g, o, &n);
      if (rc) return rc;
      if (i != (uint32_t)lo) {
        on[i] = (int8_t)segment_terms_next(&it[i]);
        if (on[i] < 0) return corrupt(m, m->src[i].seg, "malformed term dictionary");
      }
    }
    int r = postings_out_term(o, key, klen, n, m->norms[g]);
    if (r == -2)
      return blend_seterr(m->err, BLEND_EUNSUPPORTED, "merged segment would exceed the format's 32-bit offsets");
    if (r) return nomem(m);
    on[lo] = (int8_t)segment_terms_next(&it[lo]);
    if (on[lo] < 0) return corrupt(m, m->src[lo].seg, "malformed term dictionary");
  }
}

static int write_postings(merger *m, seg_build *sb) {
  postings_out o;
  term_iter *it = malloc(m->nsrc * sizeof *it + 1);
  int8_t *on = malloc(m->nsrc + 1);
  int rc = postings_out_begin(&o, sb) || !it || !on ? nomem(m) : BLEND_OK;
  uint32_t nindexed = m->views ? m->nfields : 1;
  for (uint32_t g = 0; g < nindexed && !rc; g++) rc = merge_field(m, g, &o, it, on);
  uint64_t nterms;
  if (!rc && postings_out_end(&o, &nterms)) rc = nomem(m);
  postings_out_free(&o);
  free(it);
  free(on);
  return rc;
}

static int count_token(void *ctx, const blend_token *t) {
  (*(uint64_t *)ctx)++;
  return 0;
}

/* Tokens of field f of source i's deleted documents (a flat-only source
** has no per-field postings to sum them from). */
static int deleted_length(merger *m, uint32_t i, uint32_t f, blend_analyzer **an, store_scratch *sc,
                          uint64_t *out) {
  const segment *s = m->src[i].seg;
  *out = 0;
  for (uint32_t d = 0; d < s->ndocs; d++) {
    uint8_t nv = s->norms[f][d];
    if (m->newdoc[i][d] != NONE || nv == 0) continue;
    if (nv < 24) { /* lengths below 24 are their own norm */
      *out += nv;
      continue;
    }
    const char *text;
    size_t len;
    int rc = segment_doc_field(s, sc, i, d, f, &text, &len, m->err);
    if (rc) return rc;
    if (!*an && (rc = blend_analyzer_new(&m->cfg->analyzer, an, m->err))) return rc;
    blend_analyze(*an, text, len, count_token, out);
  }
  return BLEND_OK;
}

/* SEC_FIELDS: per field name, sum of lengths and documents with the field. */
static int write_fields(merger *m, sec *fs) {
  blend_analyzer *an = NULL;
  store_scratch sc = {0};
  int rc = BLEND_OK;
  for (uint32_t g = 0; g < m->nfields && !rc; g++) {
    uint64_t sum = 0;
    uint32_t with = 0;
    int counted = g == 0 || m->views;
    for (uint32_t d = 0; d < m->ndocs; d++) {
      if (counted && norm_encode(m->lens[g][d]) != m->norms[g][d]) {
        rc = blend_seterr(m->err, BLEND_ECORRUPT, "field '%s': a document's norm disagrees with its postings",
                          m->fields[g]);
        break;
      }
      with += m->norms[g][d] != 0;
      sum += m->lens[g][d];
    }
    for (uint32_t i = 0; !counted && !rc && i < m->nsrc; i++)
      for (uint32_t f = 1; f < m->src[i].seg->nfields && !rc; f++) {
        if (m->fmap[i][f] != g) continue;
        uint64_t gone;
        rc = deleted_length(m, i, f, &an, &sc, &gone);
        if (!rc && gone > m->src[i].seg->sum_dl[f]) rc = corrupt(m, m->src[i].seg, "field lengths disagree");
        sum += m->src[i].seg->sum_dl[f] - gone;
      }
    size_t nl = strlen(m->fields[g]);
    uint8_t l2[2] = {(uint8_t)nl, (uint8_t)(nl >> 8)};
    if (!rc && (bbuf_append(&fs->b, l2, 2) || bbuf_append(&fs->b, m->fields[g], nl) ||
                bbuf_put_u64(&fs->b, sum) || bbuf_put_u32(&fs->b, with)))
      rc = nomem(m);
  }
  store_scratch_free(&sc);
  blend_analyzer_free(an);
  return rc;
}

static int serializer_rc(merger *m, int r, const char *path) {
  if (r == -2)
    return blend_seterr(m->err, BLEND_EUNSUPPORTED,
                        "%s: the segment would exceed the format's 32-bit offsets; merge fewer segments", path);
  return r ? nomem(m) : BLEND_OK;
}

int seg_merge_write(const blend_index_config *cfg, const merge_src *src, uint32_t nsrc, const char *path,
                    uint32_t *ndocs_out, uint64_t *bytes, uint32_t *crc, blend_error *err) {
  merger m = {.cfg = cfg, .src = src, .nsrc = nsrc, .err = err};
  seg_build sb = {0};
  uint32_t *ident = NULL;
  *ndocs_out = 0;
  m.positions = cfg->positions;
  m.views = cfg->field_views;
  for (uint32_t i = 0; i < nsrc; i++) {
    m.positions &= src[i].seg->positions;
    m.views &= src[i].seg->field_views;
  }
  int rc = map_docs(&m);
  if (rc || m.ndocs == 0) goto out;
  rc = stage_docs(&m);
  if (rc) goto out;
  /* sections in a fresh build's order: fields, norms, postings, store, meta, vectors */
  sec *fs = seg_build_add(&sb, SEC_FIELDS, 0);
  for (uint32_t g = 0; g < m.nfields; g++) {
    sec *ns = seg_build_add(&sb, SEC_NORMS, g);
    if (!ns || bbuf_append(&ns->b, m.norms[g], m.ndocs)) {
      rc = nomem(&m);
      goto out;
    }
  }
  rc = write_postings(&m, &sb);
  if (!rc) rc = write_fields(&m, fs);
  if (rc) goto out;
  if (!(ident = malloc(((size_t)m.ndocs + 1) * sizeof *ident))) {
    rc = nomem(&m);
    goto out;
  }
  for (uint32_t d = 0; d < m.ndocs; d++) ident[d] = d;
  int r = store_write(&m.b, ident, &sb);
  if (!r) r = meta_write(&m.b, ident, m.ndocs, &sb);
  rc = serializer_rc(&m, r, path);
  if (!rc) rc = vectors_write(&m.b, ident, m.ndocs, &sb, err);
  if (!rc)
    rc = seg_build_write(path, &sb, m.ndocs, m.nfields,
                         (m.positions ? SEG_FLAG_POSITIONS : 0) | (m.views ? SEG_FLAG_FIELD_VIEWS : 0), bytes, crc,
                         err);
  if (!rc) *ndocs_out = m.ndocs;
out:
  seg_build_free(&sb);
  free(ident);
  for (uint32_t i = 0; m.newdoc && i < nsrc; i++) free(m.newdoc[i]);
  free(m.newdoc);
  free(m.fmap);
  for (uint32_t g = 0; g < MAX_FIELDS; g++) {
    free(m.norms[g]);
    free(m.lens[g]);
  }
  docbuf_free(&m.b);
  return rc;
}
