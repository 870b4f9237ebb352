/*
** writer.c — IndexWriter: buffers documents in memory (inverted per term as
** varint runs of doc delta, tf and positions, plus stored fields), then on
** commit writes one immutable segment, fsyncs it, and atomically switches
** the MANIFEST. Until the switch readers see the previous generation; a
** crash at any point leaves it intact.
**
** Duplicate ids: the later document wins. The earlier one is marked deleted
** and dropped (with its postings, norms and stored fields) when the segment
** is written, so statistics count live documents only.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <streamvbyte.h>
#include <streamvbytedelta.h>
#include <zstd.h>

#include "analysis/analysis.h"
#include "index/format.h"
#include "index/index.h"
#include "util/util.h"

/* A term's postings while indexing, appended token by token with no
** per-document buffering: for each document, varint doc delta (from the
** term's previous document; the first is the doc itself), then one varint
** per occurrence, position delta + 1 (so never 0; 1 per occurrence when
** positions are off), then a 0 that closes the document — written when the
** term's next document starts, so the last document is closed by the end of
** the buffer. */
typedef struct term_buf {
  bbuf post;
  uint32_t last_doc;
  uint32_t ndocs;   /* docs in buffer (incl. later-deleted ones) */
  uint32_t term;    /* analyzer term id */
  uint32_t field;
  uint32_t last_pos; /* previous position in the current document */
} term_buf;

struct blend_writer {
  char *dir;
  blend_index_config cfg;
  blend_analyzer *an;
  char *fields[MAX_FIELDS];  /* fields[0] = FLAT_FIELD */
  uint32_t nfields;
  uint32_t slot_cap;
  uint32_t *slot[MAX_FIELDS]; /* [field][analyzer term id] → index into tb, or NONE */
  term_buf *tb;
  uint32_t nterms, tb_cap;
  bbuf lens[MAX_FIELDS];     /* u32 field length (tokens) per doc */
  bbuf stored;               /* per doc: varint nfields, (varint field, varint len, bytes)... */
  bbuf stored_off;           /* u64 offset per doc into stored */
  bbuf ids;                  /* id bytes */
  bbuf ids_off;              /* u32 per doc */
  strmap *id_map;            /* id → doc */
  uint8_t *deleted;          /* per doc flag */
  uint32_t ndocs, deleted_cap;
  uint64_t duplicates;
  /* analysis callback state */
  uint32_t cur_doc, cur_field, pos_base, field_len, flat_len;
  int failed;
};

void blend_index_config_default(blend_index_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  blend_analyzer_config_default(&cfg->analyzer);
  cfg->positions = 1;
  cfg->field_views = 1;
}

int blend_writer_open(const char *dir, const blend_index_config *cfg, blend_writer **out,
                      blend_error *err) {
  *out = NULL;
  int rc = dir_ensure(dir, err);
  if (rc) return rc;
  if (access(dir, W_OK) != 0)
    return blend_seterr(err, BLEND_EIO, "%s: not writable: %s", dir, strerror(errno));
  blend_writer *w = calloc(1, sizeof *w);
  if (!w) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  w->cfg = *cfg;
  w->dir = strdup(dir);
  w->id_map = strmap_new();
  w->fields[0] = strdup(FLAT_FIELD);
  w->nfields = 1;
  if (!w->dir || !w->id_map || !w->fields[0]) {
    blend_writer_close(w);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  rc = blend_analyzer_new(&cfg->analyzer, &w->an, err);
  if (rc) {
    blend_writer_close(w);
    return rc;
  }
  analyzer_ids_only(w->an, 1);
  *out = w;
  return BLEND_OK;
}

void blend_writer_close(blend_writer *w) {
  if (!w) return;
  free(w->dir);
  blend_analyzer_free(w->an);
  for (uint32_t i = 0; i < w->nfields; i++) {
    free(w->fields[i]);
    bbuf_free(&w->lens[i]);
  }
  for (uint32_t i = 0; i < w->nterms; i++) bbuf_free(&w->tb[i].post);
  free(w->tb);
  for (uint32_t f = 0; f < MAX_FIELDS; f++) free(w->slot[f]);
  strmap_free(w->id_map);
  bbuf_free(&w->stored);
  bbuf_free(&w->stored_off);
  bbuf_free(&w->ids);
  bbuf_free(&w->ids_off);
  free(w->deleted);
  free(w);
}

uint64_t blend_writer_duplicates(const blend_writer *w) { return w->duplicates; }

static int field_id(blend_writer *w, const char *name, blend_error *err) {
  for (uint32_t i = 1; i < w->nfields; i++)
    if (!strcmp(w->fields[i], name)) return (int)i;
  if (!strcmp(name, FLAT_FIELD))
    return blend_seterr(err, BLEND_EINVAL, "field name '%s' is reserved", FLAT_FIELD) * -1;
  if (!*name || strlen(name) > 31)
    return blend_seterr(err, BLEND_EINVAL, "field name '%s' must have 1-31 bytes", name) * -1;
  if (w->nfields == MAX_FIELDS)
    return blend_seterr(err, BLEND_EINVAL, "too many fields (max %d)", MAX_FIELDS - 1) * -1;
  w->fields[w->nfields] = strdup(name);
  if (!w->fields[w->nfields]) return -BLEND_ENOMEM;
  if (w->slot_cap) {
    w->slot[w->nfields] = malloc(w->slot_cap * sizeof(uint32_t));
    if (!w->slot[w->nfields]) return -BLEND_ENOMEM;
    memset(w->slot[w->nfields], 0xff, w->slot_cap * sizeof(uint32_t));
  }
  /* earlier documents had this field empty */
  for (uint32_t d = 0; d < w->ndocs; d++)
    if (bbuf_put_u32(&w->lens[w->nfields], 0)) return -BLEND_ENOMEM;
  return (int)w->nfields++;
}

#define NONE UINT32_MAX

/* Make the slot arrays cover analyzer term id t. */
static int cover_term(blend_writer *w, uint32_t t) {
  if (t < w->slot_cap) return 0;
  uint32_t cap = w->slot_cap ? w->slot_cap : 8192;
  while (cap <= t) cap *= 2;
  for (uint32_t f = 0; f < w->nfields; f++) {
    uint32_t *p = realloc(w->slot[f], cap * sizeof *p);
    if (!p) return -1;
    memset(p + w->slot_cap, 0xff, (cap - w->slot_cap) * sizeof *p);
    w->slot[f] = p;
  }
  w->slot_cap = cap;
  return 0;
}

/* Record an occurrence of term id t in field f at pos. */
static int touch(blend_writer *w, uint32_t f, uint32_t t, uint32_t pos) {
  uint32_t idx = w->slot[f][t];
  if (idx == NONE) {
    if (w->nterms == w->tb_cap) {
      uint32_t cap = w->tb_cap ? w->tb_cap * 2 : 8192;
      term_buf *p = realloc(w->tb, cap * sizeof *p);
      if (!p) return -1;
      w->tb = p;
      w->tb_cap = cap;
    }
    idx = w->nterms++;
    memset(&w->tb[idx], 0, sizeof(term_buf));
    w->tb[idx].term = t;
    w->tb[idx].field = f;
    w->slot[f][t] = idx;
  }
  term_buf *tb = &w->tb[idx];
  uint32_t doc = w->cur_doc;
  if (tb->ndocs == 0 || tb->last_doc != doc) {
    if (tb->ndocs && bbuf_putc(&tb->post, 0)) return -1;
    if (bbuf_put_varint(&tb->post, tb->ndocs ? doc - tb->last_doc : doc)) return -1;
    tb->last_doc = doc;
    tb->ndocs++;
    tb->last_pos = 0;
  }
  uint32_t v = w->cfg.positions ? pos - tb->last_pos + 1 : 1;
  tb->last_pos = pos;
  return bbuf_put_varint(&tb->post, v);
}

static int on_token(void *ctx, const blend_token *t) {
  blend_writer *w = ctx;
  uint32_t num = t->term_id; /* terms are at most MAX_TERM bytes by construction */
  if (cover_term(w, num) || touch(w, 0, num, w->pos_base + t->position) ||
      (w->cfg.field_views && touch(w, w->cur_field, num, t->position))) {
    w->failed = 1;
    return -1;
  }
  w->field_len++;
  w->flat_len = w->pos_base + t->position + 1;
  return 0;
}

int blend_writer_add(blend_writer *w, const blend_doc *doc, blend_error *err) {
  if (!doc->id || doc->id_len == 0) return blend_seterr(err, BLEND_EINVAL, "document has an empty id");
  if (doc->id_len > 1024) return blend_seterr(err, BLEND_EINVAL, "document id longer than 1024 bytes");
  if (w->ndocs == UINT32_MAX - 1) return blend_seterr(err, BLEND_EINVAL, "too many documents");
  if (doc->nfields > MAX_FIELDS - 1)
    return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has %zu fields (max %d)", (int)doc->id_len,
                        doc->id, doc->nfields, MAX_FIELDS - 1);
  uint32_t d = w->ndocs;
  uint32_t fids[MAX_FIELDS];
  for (size_t f = 0; f < doc->nfields; f++) {
    int id = field_id(w, doc->fields[f].name, err);
    if (id < 0) return err && err->code ? err->code : BLEND_ENOMEM;
    fids[f] = (uint32_t)id;
    for (size_t g = 0; g < f; g++)
      if (fids[g] == fids[f])
        return blend_seterr(err, BLEND_EINVAL, "document '%.*s' has field '%s' twice",
                            (int)doc->id_len, doc->id, doc->fields[f].name);
  }
  /* invert */
  uint32_t flens[MAX_FIELDS] = {0};
  w->cur_doc = d;
  w->pos_base = 0;
  w->flat_len = 0;
  uint32_t flat_tokens = 0;
  for (size_t f = 0; f < doc->nfields; f++) {
    w->cur_field = fids[f];
    w->field_len = 0;
    blend_analyze(w->an, doc->fields[f].text, doc->fields[f].len, on_token, w);
    if (w->failed) return blend_seterr(err, BLEND_ENOMEM, "out of memory while indexing");
    flens[fids[f]] = w->field_len;
    flat_tokens += w->field_len;
    w->pos_base = w->flat_len + 1; /* a gap between fields keeps phrases inside one */
  }
  flens[0] = flat_tokens;
  for (uint32_t f = 0; f < w->nfields; f++) {
    if (bbuf_put_u32(&w->lens[f], flens[f])) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  /* stored fields and id */
  if (bbuf_put_u64(&w->stored_off, w->stored.len) || bbuf_put_varint(&w->stored, doc->nfields))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (size_t f = 0; f < doc->nfields; f++)
    if (bbuf_put_varint(&w->stored, fids[f]) || bbuf_put_varint(&w->stored, doc->fields[f].len) ||
        bbuf_append(&w->stored, doc->fields[f].text, doc->fields[f].len))
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (bbuf_put_u32(&w->ids_off, (uint32_t)w->ids.len) || bbuf_append(&w->ids, doc->id, doc->id_len))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (w->ndocs == w->deleted_cap) {
    uint32_t cap = w->deleted_cap ? w->deleted_cap * 2 : 1024;
    uint8_t *p = realloc(w->deleted, cap);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    w->deleted = p;
    w->deleted_cap = cap;
  }
  w->deleted[d] = 0;
  uint32_t v = d;
  int r = strmap_upsert(w->id_map, doc->id, doc->id_len, &v);
  if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (r == 0) { /* duplicate id: the new document replaces the old */
    w->deleted[v] = 1;
    strmap_set(w->id_map, doc->id, doc->id_len, d);
    w->duplicates++;
  }
  w->ndocs++;
  return BLEND_OK;
}

/* ---------------------------------------------------------------- commit */

typedef struct sec {
  uint32_t kind, field;
  bbuf b;
} sec;

typedef struct seg_build {
  sec secs[8 + MAX_FIELDS];
  uint32_t nsec;
} seg_build;

static sec *new_sec(seg_build *sb, uint32_t kind, uint32_t field) {
  sec *s = &sb->secs[sb->nsec++];
  s->kind = kind;
  s->field = field;
  memset(&s->b, 0, sizeof s->b);
  return s;
}

typedef struct sorted_term {
  const char *key;  /* term bytes (without the field) */
  uint32_t len, id, field;
} sorted_term;

static int cmp_terms(const void *a, const void *b) {
  const sorted_term *x = a, *y = b;
  if (x->field != y->field) return x->field < y->field ? -1 : 1;
  uint32_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Decode one term's buffer, drop deleted docs, renumber, and encode its
** postings and positions. Returns df (0: all docs deleted) or -1. */
typedef struct post_scratch {
  uint32_t *docs, *tfs;
  size_t cap;
  bbuf pos;      /* positions of this term (all docs) */
  bbuf blocks;   /* encoded blocks */
  bbuf skip;
  uint32_t *pos_doc_off; /* start of each doc's positions in pos */
} post_scratch;

static int grow_scratch(post_scratch *ps, size_t n) {
  if (n <= ps->cap) return 0;
  size_t cap = ps->cap ? ps->cap : 1024;
  while (cap < n) cap *= 2;
  uint32_t *a = realloc(ps->docs, cap * 4), *b = a ? realloc(ps->tfs, cap * 4) : NULL;
  if (a) ps->docs = a;
  if (b) ps->tfs = b;
  uint32_t *c = b ? realloc(ps->pos_doc_off, (cap + 1) * 4) : NULL;
  if (c) ps->pos_doc_off = c;
  if (!a || !b || !c) return -1;
  ps->cap = cap;
  return 0;
}

static int encode_term(blend_writer *w, const term_buf *t, const uint32_t *remap,
                       const uint8_t *norms, post_scratch *ps, uint32_t *max_tf_out,
                       uint8_t *min_norm_out, uint64_t *cf_out) {
  if (grow_scratch(ps, t->ndocs)) return -1;
  ps->pos.len = 0;
  ps->blocks.len = 0;
  ps->skip.len = 0;
  const uint8_t *p = t->post.data, *end = p + t->post.len;
  uint32_t doc = 0, n = 0;
  uint64_t cf = 0;
  for (uint32_t i = 0; i < t->ndocs; i++) {
    uint64_t delta, v;
    if (varint_read(&p, end, &delta)) return -1;
    doc = i == 0 ? (uint32_t)delta : doc + (uint32_t)delta;
    int live = !w->deleted[doc];
    uint32_t tf = 0;
    size_t pos_start = ps->pos.len;
    while (p < end && *p != 0) {
      if (varint_read(&p, end, &v)) return -1;
      if (live && w->cfg.positions && bbuf_put_varint(&ps->pos, v - 1)) return -1;
      tf++;
    }
    if (p < end) p++; /* the document's closing 0 */
    if (live) {
      ps->docs[n] = remap[doc];
      ps->tfs[n] = tf;
      ps->pos_doc_off[n] = (uint32_t)pos_start;
      cf += tf;
      n++;
    }
  }
  if (n == 0) return 0;
  ps->pos_doc_off[n] = (uint32_t)ps->pos.len;
  uint32_t nblocks = (n + BLOCK - 1) / BLOCK;
  uint32_t max_tf = 0;
  uint8_t min_norm = 255;
  uint32_t prev_last = 0;
  uint8_t tmp[BLOCK * 4 + BLOCK / 4 + 16];
  uint32_t minus1[BLOCK];
  for (uint32_t b = 0; b < nblocks; b++) {
    uint32_t lo = b * BLOCK, cnt = n - lo < BLOCK ? n - lo : BLOCK;
    uint32_t bmax = 0;
    uint8_t bmin = 255;
    for (uint32_t i = 0; i < cnt; i++) {
      if (ps->tfs[lo + i] > bmax) bmax = ps->tfs[lo + i];
      uint8_t nv = norms[ps->docs[lo + i]];
      if (nv < bmin) bmin = nv;
      minus1[i] = ps->tfs[lo + i] - 1;
    }
    if (nblocks > 1) {
      if (bbuf_put_u32(&ps->skip, ps->docs[lo + cnt - 1]) ||
          bbuf_put_u32(&ps->skip, (uint32_t)ps->blocks.len) ||
          bbuf_put_u32(&ps->skip, ps->pos_doc_off[lo]) || bbuf_put_u32(&ps->skip, bmax) ||
          bbuf_putc(&ps->skip, bmin) || bbuf_putc(&ps->skip, 0) || bbuf_putc(&ps->skip, 0) ||
          bbuf_putc(&ps->skip, 0))
        return -1;
    }
    size_t dn = streamvbyte_delta_encode(ps->docs + lo, cnt, tmp, prev_last);
    if (bbuf_append(&ps->blocks, tmp, dn)) return -1;
    size_t fn = streamvbyte_encode_0124(minus1, cnt, tmp);
    if (bbuf_append(&ps->blocks, tmp, fn)) return -1;
    prev_last = ps->docs[lo + cnt - 1];
    if (bmax > max_tf) max_tf = bmax;
    if (bmin < min_norm) min_norm = bmin;
  }
  *max_tf_out = max_tf;
  *min_norm_out = min_norm;
  *cf_out = cf;
  return (int)n;
}

static int build_termdict(blend_writer *w, const uint32_t *remap, seg_build *sb,
                          const uint8_t *const *cnorms, uint64_t *nterms_out) {
  sorted_term *st = malloc((w->nterms + 1) * sizeof *st);
  if (!st) return -1;
  uint32_t n = 0, nids = analyzer_term_count(w->an);
  if (nids > w->slot_cap) nids = w->slot_cap;
  for (uint32_t val = 0; val < nids; val++)
    for (uint32_t f = 0; f < w->nfields; f++) {
      uint32_t idx = w->slot[f][val];
      if (idx == NONE) continue;
      uint32_t klen;
      st[n].key = analyzer_term(w->an, val, &klen);
      st[n].len = klen;
      st[n].id = idx;
      st[n].field = f;
      n++;
    }
  qsort(st, n, sizeof *st, cmp_terms);
  sec *td = new_sec(sb, SEC_TERMDICT, 0), *ti = new_sec(sb, SEC_TERMINDEX, 0);
  sec *po = new_sec(sb, SEC_POSTINGS, 0), *pp = new_sec(sb, SEC_POSITIONS, 0);
  post_scratch ps = {0};
  int rc = -1;
  uint32_t written = 0;
  bbuf index = {0};
  char prev[MAX_TERM + 2], cur[MAX_TERM + 2];
  uint32_t prev_len = 0;
  for (uint32_t i = 0; i < n; i++) {
    const term_buf *t = &w->tb[st[i].id];
    uint32_t field = st[i].field;
    cur[0] = (char)field;
    memcpy(cur + 1, st[i].key, st[i].len);
    uint32_t cur_len = st[i].len + 1;
    uint32_t max_tf;
    uint8_t min_norm;
    uint64_t cf;
    int df = encode_term(w, t, remap, cnorms[field], &ps, &max_tf, &min_norm, &cf);
    if (df < 0) goto out;
    if (df == 0) continue;
    uint64_t post_off = po->b.len, pos_off = pp->b.len;
    if (bbuf_append(&po->b, ps.skip.data, ps.skip.len) ||
        bbuf_append(&po->b, ps.blocks.data, ps.blocks.len) ||
        bbuf_append(&pp->b, ps.pos.data, ps.pos.len))
      goto out;
    uint32_t shared = 0;
    if (written % TD_BLOCK == 0) {
      if (bbuf_put_u32(&index, (uint32_t)td->b.len)) goto out;
    } else {
      uint32_t m = prev_len < cur_len ? prev_len : cur_len;
      while (shared < m && prev[shared] == cur[shared]) shared++;
    }
    if (bbuf_put_varint(&td->b, shared) || bbuf_put_varint(&td->b, cur_len - shared) ||
        bbuf_append(&td->b, cur + shared, cur_len - shared) ||
        bbuf_put_varint(&td->b, (uint64_t)df) || bbuf_put_varint(&td->b, cf - (uint64_t)df) ||
        bbuf_put_varint(&td->b, post_off) || bbuf_put_varint(&td->b, po->b.len - post_off) ||
        bbuf_put_varint(&td->b, pos_off) || bbuf_put_varint(&td->b, pp->b.len - pos_off) ||
        bbuf_put_varint(&td->b, max_tf) || bbuf_putc(&td->b, min_norm))
      goto out;
    memcpy(prev, cur, cur_len);
    prev_len = cur_len;
    written++;
  }
  if (bbuf_put_u32(&ti->b, (uint32_t)(index.len / 4)) || bbuf_append(&ti->b, index.data, index.len))
    goto out;
  *nterms_out = written;
  rc = 0;
out:
  bbuf_free(&index);
  free(ps.docs);
  free(ps.tfs);
  free(ps.pos_doc_off);
  bbuf_free(&ps.pos);
  bbuf_free(&ps.blocks);
  bbuf_free(&ps.skip);
  free(st);
  return rc;
}

static int build_store(blend_writer *w, seg_build *sb) {
  sec *ids = new_sec(sb, SEC_IDS, 0), *sd = new_sec(sb, SEC_STORE, 0),
      *si = new_sec(sb, SEC_STOREINDEX, 0);
  const uint8_t *offs = w->ids_off.data, *soffs = w->stored_off.data;
  uint32_t live = 0;
  bbuf idx = {0}, raw = {0}, cbuf = {0};
  int rc = -1;
  uint32_t nblocks = 0, block_first = 0;
  ZSTD_CCtx *zc = ZSTD_createCCtx(); /* one context: creating one per block costs more than compressing */
  if (!zc) return -1;
  uint32_t id_bytes = 0;
  for (uint32_t d = 0; d < w->ndocs; d++)
    if (!w->deleted[d]) {
      uint32_t a = rd_u32(offs + 4 * d), b = d + 1 < w->ndocs ? rd_u32(offs + 4 * d + 4) : (uint32_t)w->ids.len;
      id_bytes += b - a;
      live++;
    }
  /* SEC_IDS: offsets then bytes */
  uint32_t acc = 0;
  for (uint32_t d = 0; d < w->ndocs; d++) {
    if (w->deleted[d]) continue;
    uint32_t a = rd_u32(offs + 4 * d), b = d + 1 < w->ndocs ? rd_u32(offs + 4 * d + 4) : (uint32_t)w->ids.len;
    if (bbuf_put_u32(&ids->b, acc)) goto out;
    acc += b - a;
  }
  if (bbuf_put_u32(&ids->b, acc)) goto out;
  for (uint32_t d = 0; d < w->ndocs; d++) {
    if (w->deleted[d]) continue;
    uint32_t a = rd_u32(offs + 4 * d), b = d + 1 < w->ndocs ? rd_u32(offs + 4 * d + 4) : (uint32_t)w->ids.len;
    if (bbuf_append(&ids->b, w->ids.data + a, b - a)) goto out;
  }
  (void)id_bytes;
  /* stored fields in zstd blocks */
  uint32_t nd = 0;
  for (uint32_t d = 0; d <= w->ndocs; d++) {
    int flush = d == w->ndocs ? raw.len > 0 : 0;
    if (d < w->ndocs && !w->deleted[d]) {
      uint64_t a = rd_u64(soffs + 8 * d), b = d + 1 < w->ndocs ? rd_u64(soffs + 8 * d + 8) : w->stored.len;
      if (raw.len == 0) block_first = nd;
      if (bbuf_append(&raw, w->stored.data + a, b - a)) goto out;
      nd++;
      flush = raw.len >= STORE_BLOCK_BYTES;
    }
    if (flush) {
      size_t bound = ZSTD_compressBound(raw.len);
      cbuf.len = 0;
      if (bbuf_reserve(&cbuf, bound)) goto out;
      size_t c = ZSTD_compressCCtx(zc, cbuf.data, bound, raw.data, raw.len, 1);
      if (ZSTD_isError(c)) goto out;
      if (bbuf_put_u32(&idx, block_first) || bbuf_put_u64(&idx, sd->b.len) ||
          bbuf_put_u32(&idx, (uint32_t)raw.len) || bbuf_append(&sd->b, cbuf.data, c))
        goto out;
      nblocks++;
      raw.len = 0;
    }
  }
  if (bbuf_put_u32(&si->b, nblocks) || bbuf_append(&si->b, idx.data, idx.len) ||
      bbuf_put_u64(&si->b, sd->b.len))
    goto out;
  rc = 0;
out:
  ZSTD_freeCCtx(zc);
  bbuf_free(&idx);
  bbuf_free(&raw);
  bbuf_free(&cbuf);
  return rc;
}

static int write_segment(const char *path, seg_build *sb, uint32_t ndocs, uint32_t nfields,
                         uint32_t flags, uint64_t *bytes, uint32_t *crc_out, blend_error *err) {
  bbuf f = {0};
  uint8_t hdr[SEG_HEADER_SIZE] = {0};
  memcpy(hdr, SEG_MAGIC, 8);
  wr_u32(hdr + 8, SEG_VERSION);
  wr_u32(hdr + 12, ndocs);
  wr_u32(hdr + 16, nfields);
  wr_u32(hdr + 20, sb->nsec);
  wr_u32(hdr + 24, flags);
  int rc = BLEND_ENOMEM;
  if (bbuf_append(&f, hdr, sizeof hdr)) goto out;
  size_t table = f.len;
  uint8_t zero[SEG_SECTION_SIZE + SEG_PAD] = {0};
  for (uint32_t i = 0; i < sb->nsec; i++)
    if (bbuf_append(&f, zero, SEG_SECTION_SIZE)) goto out;
  for (uint32_t i = 0; i < sb->nsec; i++) {
    sec *s = &sb->secs[i];
    while (f.len % 16)
      if (bbuf_putc(&f, 0)) goto out;
    uint64_t off = f.len;
    if (bbuf_append(&f, s->b.data, s->b.len) || bbuf_append(&f, zero, SEG_PAD)) goto out;
    uint8_t *e = f.data + table + (size_t)i * SEG_SECTION_SIZE;
    wr_u32(e, s->kind);
    wr_u32(e + 4, s->field);
    wr_u32(e + 8, (uint32_t)off);
    wr_u32(e + 12, (uint32_t)(off >> 32));
    wr_u32(e + 16, (uint32_t)s->b.len);
    wr_u32(e + 20, (uint32_t)((uint64_t)s->b.len >> 32));
    wr_u32(e + 24, crc32c(0, s->b.data ? s->b.data : zero, s->b.len));
  }
  /* the header's last 4 bytes: crc of the rest of the header and the table */
  uint32_t crc = crc32c(crc32c(0, f.data, SEG_HEADER_SIZE - 4), f.data + table,
                        (size_t)sb->nsec * SEG_SECTION_SIZE);
  wr_u32(f.data + SEG_HEADER_SIZE - 4, crc);
  rc = file_write_sync(path, f.data, f.len, err);
  *bytes = f.len;
  *crc_out = crc;
out:
  if (rc == BLEND_ENOMEM) blend_seterr(err, rc, "%s: out of memory", path);
  bbuf_free(&f);
  return rc;
}

static cJSON *analyzer_json(const blend_analyzer_config *a) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "stemmer", a->stemmer);
  cJSON_AddStringToObject(o, "stopwords", a->stopwords);
  cJSON_AddNumberToObject(o, "cjk_bigrams", a->cjk_bigrams);
  return o;
}

/* Remove files in dir that are neither the manifest nor a kept segment. */
static void collect_garbage(const char *dir, const char *keep) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[4096];
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    int ours = (!strncmp(n, "seg-", 4)) || (!strncmp(n, MANIFEST_NAME ".tmp", strlen(MANIFEST_NAME) + 4));
    if (!ours || !strcmp(n, keep)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, n);
    unlink(path);
  }
  closedir(d);
}

static uint64_t read_generation(const char *dir) {
  char path[4096], *data;
  size_t len;
  snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME);
  if (file_read_all(path, &data, &len, NULL)) return 0;
  cJSON *m = cJSON_Parse(data);
  free(data);
  uint64_t g = 0;
  cJSON *gen = cJSON_GetObjectItem(m, "generation");
  if (cJSON_IsNumber(gen) && gen->valuedouble > 0) g = (uint64_t)gen->valuedouble;
  cJSON_Delete(m);
  return g;
}

int blend_writer_commit(blend_writer *w, blend_error *err) {
  seg_build sb = {0};
  uint32_t *remap = NULL;
  uint8_t *cnorms[MAX_FIELDS] = {0};
  int rc = BLEND_ENOMEM;
  char segname[64], path[4096];
  uint64_t gen = read_generation(w->dir) + 1;
  snprintf(segname, sizeof segname, "seg-%06llu-0.bseg", (unsigned long long)gen);
  if (snprintf(path, sizeof path, "%s/%s", w->dir, segname) >= (int)sizeof path)
    return blend_seterr(err, BLEND_EINVAL, "%s: path too long", w->dir);

  remap = malloc(((size_t)w->ndocs + 1) * sizeof *remap);
  if (!remap) goto fail;
  uint32_t live = 0;
  for (uint32_t d = 0; d < w->ndocs; d++) remap[d] = w->deleted[d] ? UINT32_MAX : live++;

  /* fields + compacted norms */
  sec *fs = new_sec(&sb, SEC_FIELDS, 0);
  for (uint32_t f = 0; f < w->nfields; f++) {
    cnorms[f] = malloc(live + 1);
    if (!cnorms[f]) goto fail;
    uint64_t sum = 0;
    uint32_t with = 0;
    for (uint32_t d = 0; d < w->ndocs; d++) {
      if (w->deleted[d]) continue;
      uint32_t len = rd_u32(w->lens[f].data + 4 * (size_t)d);
      cnorms[f][remap[d]] = norm_encode(len);
      if (len) with++;
      sum += len;
    }
    size_t nl = strlen(w->fields[f]);
    uint8_t l2[2] = {(uint8_t)nl, (uint8_t)(nl >> 8)};
    if (bbuf_append(&fs->b, l2, 2) || bbuf_append(&fs->b, w->fields[f], nl) ||
        bbuf_put_u64(&fs->b, sum) || bbuf_put_u32(&fs->b, with))
      goto fail;
    sec *ns = new_sec(&sb, SEC_NORMS, f);
    if (bbuf_append(&ns->b, cnorms[f], live)) goto fail;
  }
  uint64_t nterms = 0;
  if (build_termdict(w, remap, &sb, (const uint8_t *const *)cnorms, &nterms)) goto fail;
  if (build_store(w, &sb)) goto fail;

  uint64_t bytes;
  uint32_t crc;
  rc = write_segment(path, &sb, live, w->nfields, (w->cfg.positions ? SEG_FLAG_POSITIONS : 0) |
                     (w->cfg.field_views ? SEG_FLAG_FIELD_VIEWS : 0), &bytes, &crc, err);
  if (rc) goto out;
  rc = dir_fsync(w->dir, err);
  if (rc) goto out;

  /* switch the manifest */
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, "format", MANIFEST_FORMAT);
  cJSON_AddNumberToObject(m, "generation", (double)gen);
  cJSON_AddItemToObject(m, "analyzer", analyzer_json(&w->cfg.analyzer));
  cJSON_AddNumberToObject(m, "positions", w->cfg.positions ? 1 : 0);
  cJSON_AddNumberToObject(m, "field_views", w->cfg.field_views ? 1 : 0);
  cJSON_AddNumberToObject(m, "docs", live);
  cJSON_AddNumberToObject(m, "duplicates", (double)w->duplicates);
  cJSON *fa = cJSON_AddArrayToObject(m, "fields");
  for (uint32_t f = 0; f < w->nfields; f++) cJSON_AddItemToArray(fa, cJSON_CreateString(w->fields[f]));
  cJSON *sa = cJSON_AddArrayToObject(m, "segments");
  cJSON *so = cJSON_CreateObject();
  cJSON_AddStringToObject(so, "name", segname);
  cJSON_AddNumberToObject(so, "docs", live);
  cJSON_AddNumberToObject(so, "bytes", (double)bytes);
  cJSON_AddNumberToObject(so, "crc", crc);
  cJSON_AddItemToArray(sa, so);
  char *text = cJSON_Print(m);
  cJSON_Delete(m);
  if (!text) goto fail;
  snprintf(path, sizeof path, "%s/%s", w->dir, MANIFEST_NAME);
  rc = file_write_atomic(path, text, strlen(text), err);
  free(text);
  if (rc) {
    snprintf(path, sizeof path, "%s/%s", w->dir, segname);
    unlink(path);
    goto out;
  }
  collect_garbage(w->dir, segname);
  goto out;
fail:
  rc = blend_seterr(err, BLEND_ENOMEM, "%s: out of memory while writing the index", w->dir);
out:
  for (uint32_t i = 0; i < sb.nsec; i++) bbuf_free(&sb.secs[i].b);
  for (uint32_t f = 0; f < MAX_FIELDS; f++) free(cnorms[f]);
  free(remap);
  return rc;
}
