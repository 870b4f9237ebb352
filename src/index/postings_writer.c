/*
** postings_writer.c — serializes the inverted terms of a docbuf: terms
** sorted by (field, bytes) into the front-coded dictionary (blocks of
** TD_BLOCK with a block index), each term's postings as 128-doc blocks
** (streamvbyte doc deltas + streamvbyte-0124 tf−1) with a skip table of
** per-block {last doc, offsets, max tf, min norm} when it has more than one
** block, and positions as varints. Deleted documents are dropped and the
** rest renumbered on the way. Layout: format.h.
*/
#include <stdlib.h>
#include <string.h>

#include <streamvbyte.h>
#include <streamvbytedelta.h>

#include "index/build.h"

#define NONE UINT32_MAX

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

static int encode_term(docbuf *w, const term_buf *t, const uint32_t *remap,
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
      if (pos_start > UINT32_MAX) return -2; /* skip entries hold u32 offsets */
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
    if (ps->blocks.len > UINT32_MAX) return -2;
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

int postings_write(docbuf *w, const uint32_t *remap, seg_build *sb, const uint8_t *const *cnorms,
                   uint64_t *nterms_out) {
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
  sec *td = seg_build_add(sb, SEC_TERMDICT, 0), *ti = seg_build_add(sb, SEC_TERMINDEX, 0);
  sec *po = seg_build_add(sb, SEC_POSTINGS, 0), *pp = seg_build_add(sb, SEC_POSITIONS, 0);
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
    if (df == -2) rc = -2;
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

