/*
** postings_writer.c — the postings encoder: each term's postings as 128-doc
** blocks (streamvbyte doc deltas + streamvbyte-0124 tf−1) with a skip table
** of per-block {last doc, offsets, max tf, min norm} when it has more than
** one block, positions as varints, and its entry in the front-coded
** dictionary (blocks of TD_BLOCK with a block index). Two producers feed it
** terms in key order: postings_write here (a docbuf's inverted terms, sorted
** by (field, bytes), deleted documents dropped and the rest renumbered) and
** the structural merger (seg_merge.c), so a merged segment's postings are
** encoded exactly as a fresh build's. Layout: format.h.
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

int postings_out_begin(postings_out *o, seg_build *sb) {
  memset(o, 0, sizeof *o);
  o->td = seg_build_add(sb, SEC_TERMDICT, 0);
  o->ti = seg_build_add(sb, SEC_TERMINDEX, 0);
  o->po = seg_build_add(sb, SEC_POSTINGS, 0);
  o->pp = seg_build_add(sb, SEC_POSITIONS, 0);
  return o->td && o->ti && o->po && o->pp ? 0 : -1;
}

void postings_out_free(postings_out *o) {
  free(o->docs);
  free(o->tfs);
  free(o->pos_doc_off);
  bbuf_free(&o->pos);
  bbuf_free(&o->blocks);
  bbuf_free(&o->skip);
  bbuf_free(&o->index);
  o->docs = o->tfs = o->pos_doc_off = NULL;
  o->cap = 0;
}

int postings_out_reserve(postings_out *o, size_t n) {
  if (n <= o->cap) return 0;
  size_t cap = o->cap ? o->cap : 1024;
  while (cap < n) cap *= 2;
  uint32_t *a = realloc(o->docs, cap * 4), *b = a ? realloc(o->tfs, cap * 4) : NULL;
  if (a) o->docs = a;
  if (b) o->tfs = b;
  uint32_t *c = b ? realloc(o->pos_doc_off, (cap + 1) * 4) : NULL;
  if (c) o->pos_doc_off = c;
  if (!a || !b || !c) return -1;
  o->cap = cap;
  return 0;
}

/* The blocks and skip table of the n docs in o. */
static int encode_blocks(postings_out *o, uint32_t n, const uint8_t *norms, uint32_t *max_tf_out,
                         uint8_t *min_norm_out) {
  o->blocks.len = 0;
  o->skip.len = 0;
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
      if (o->tfs[lo + i] > bmax) bmax = o->tfs[lo + i];
      uint8_t nv = norms[o->docs[lo + i]];
      if (nv < bmin) bmin = nv;
      minus1[i] = o->tfs[lo + i] - 1;
    }
    if (nblocks > 1) {
      if (bbuf_put_u32(&o->skip, o->docs[lo + cnt - 1]) ||
          bbuf_put_u32(&o->skip, (uint32_t)o->blocks.len) ||
          bbuf_put_u32(&o->skip, o->pos_doc_off[lo]) || bbuf_put_u32(&o->skip, bmax) ||
          bbuf_putc(&o->skip, bmin) || bbuf_putc(&o->skip, 0) || bbuf_putc(&o->skip, 0) ||
          bbuf_putc(&o->skip, 0))
        return -1;
    }
    if (o->blocks.len > UINT32_MAX) return -2;
    size_t dn = streamvbyte_delta_encode(o->docs + lo, cnt, tmp, prev_last);
    if (bbuf_append(&o->blocks, tmp, dn)) return -1;
    size_t fn = streamvbyte_encode_0124(minus1, cnt, tmp);
    if (bbuf_append(&o->blocks, tmp, fn)) return -1;
    prev_last = o->docs[lo + cnt - 1];
    if (bmax > max_tf) max_tf = bmax;
    if (bmin < min_norm) min_norm = bmin;
  }
  *max_tf_out = max_tf;
  *min_norm_out = min_norm;
  return 0;
}

int postings_out_term(postings_out *o, const char *key, uint32_t klen, uint32_t n, const uint8_t *norms) {
  if (n == 0) return 0; /* every document of the term is gone: so is the term */
  if (o->pos.len > UINT32_MAX) return -2; /* skip entries hold u32 offsets */
  o->pos_doc_off[n] = (uint32_t)o->pos.len;
  uint64_t cf = 0;
  for (uint32_t i = 0; i < n; i++) cf += o->tfs[i];
  uint32_t max_tf;
  uint8_t min_norm;
  int rc = encode_blocks(o, n, norms, &max_tf, &min_norm);
  if (rc) return rc;
  sec *td = o->td, *po = o->po, *pp = o->pp;
  uint64_t post_off = po->b.len, pos_off = pp->b.len;
  if (bbuf_append(&po->b, o->skip.data, o->skip.len) || bbuf_append(&po->b, o->blocks.data, o->blocks.len) ||
      bbuf_append(&pp->b, o->pos.data, o->pos.len))
    return -1;
  uint32_t shared = 0;
  if (o->written % TD_BLOCK == 0) {
    if (bbuf_put_u32(&o->index, (uint32_t)td->b.len)) return -1;
  } else {
    uint32_t m = o->prev_len < klen ? o->prev_len : klen;
    while (shared < m && o->prev[shared] == key[shared]) shared++;
  }
  if (bbuf_put_varint(&td->b, shared) || bbuf_put_varint(&td->b, klen - shared) ||
      bbuf_append(&td->b, key + shared, klen - shared) || bbuf_put_varint(&td->b, n) ||
      bbuf_put_varint(&td->b, cf - n) || bbuf_put_varint(&td->b, post_off) ||
      bbuf_put_varint(&td->b, po->b.len - post_off) || bbuf_put_varint(&td->b, pos_off) ||
      bbuf_put_varint(&td->b, pp->b.len - pos_off) || bbuf_put_varint(&td->b, max_tf) ||
      bbuf_putc(&td->b, min_norm))
    return -1;
  memcpy(o->prev, key, klen);
  o->prev_len = klen;
  o->written++;
  return 0;
}

int postings_out_end(postings_out *o, uint64_t *nterms_out) {
  if (bbuf_put_u32(&o->ti->b, (uint32_t)(o->index.len / 4)) ||
      bbuf_append(&o->ti->b, o->index.data, o->index.len))
    return -1;
  *nterms_out = o->written;
  return 0;
}

/* Decode one docbuf term's buffer into o: deleted docs dropped, the rest
** renumbered. Returns the number of docs kept, or -1. */
static int decode_term(const docbuf *w, const term_buf *t, const uint32_t *remap, postings_out *o) {
  if (postings_out_reserve(o, t->ndocs)) return -1;
  o->pos.len = 0;
  const uint8_t *p = t->post.data, *end = p + t->post.len;
  uint32_t doc = 0, n = 0;
  for (uint32_t i = 0; i < t->ndocs; i++) {
    uint64_t delta, v;
    if (varint_read(&p, end, &delta)) return -1;
    doc = i == 0 ? (uint32_t)delta : doc + (uint32_t)delta;
    int live = !w->deleted[doc];
    uint32_t tf = 0;
    size_t pos_start = o->pos.len;
    while (p < end && *p != 0) {
      if (varint_read(&p, end, &v)) return -1;
      if (live && w->cfg.positions && bbuf_put_varint(&o->pos, v - 1)) return -1;
      tf++;
    }
    if (p < end) p++; /* the document's closing 0 */
    if (live) {
      if (pos_start > UINT32_MAX) return -2;
      o->docs[n] = remap[doc];
      o->tfs[n] = tf;
      o->pos_doc_off[n] = (uint32_t)pos_start;
      n++;
    }
  }
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
  postings_out o;
  int rc = postings_out_begin(&o, sb);
  char key[MAX_TERM + 2];
  for (uint32_t i = 0; i < n && !rc; i++) {
    int df = decode_term(w, &w->tb[st[i].id], remap, &o);
    if (df < 0) {
      rc = df;
      break;
    }
    key[0] = (char)st[i].field;
    memcpy(key + 1, st[i].key, st[i].len);
    rc = postings_out_term(&o, key, st[i].len + 1, (uint32_t)df, cnorms[st[i].field]);
  }
  if (!rc) rc = postings_out_end(&o, nterms_out);
  postings_out_free(&o);
  free(st);
  return rc;
}
