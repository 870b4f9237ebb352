/*
** store_writer.c — serializes what a docbuf keeps per document besides
** postings: the external ids (offsets + bytes) and the id dictionary (doc
** numbers in id order, for lookups by id), the stored text fields in zstd
** blocks of ~STORE_BLOCK_BYTES, and the metadata columns filters read.
** Layouts: format.h.
*/
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "index/build.h"

typedef struct id_ref {
  const uint8_t *p;
  uint32_t len, doc;
} id_ref;

static int cmp_ids(const void *a, const void *b) {
  const id_ref *x = a, *y = b;
  uint32_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->p, y->p, n);
  if (c) return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

static void id_span(const docbuf *b, uint32_t d, uint64_t *a, uint64_t *e) {
  *a = rd_u64(b->ids_off.data + 8 * (size_t)d);
  *e = d + 1 < b->ndocs ? rd_u64(b->ids_off.data + 8 * (size_t)d + 8) : b->ids.len;
}

static int write_ids(docbuf *b, const uint32_t *remap, seg_build *sb) {
  sec *ids = seg_build_add(sb, SEC_IDS, 0), *dict = seg_build_add(sb, SEC_IDDICT, 0);
  uint64_t acc = 0, a, e;
  uint32_t live = 0;
  for (uint32_t d = 0; d < b->ndocs; d++) {
    if (remap[d] == UINT32_MAX) continue;
    id_span(b, d, &a, &e);
    if (bbuf_put_u32(&ids->b, (uint32_t)acc)) return -1;
    acc += e - a;
    if (acc > UINT32_MAX) return -2;
    live++;
  }
  if (bbuf_put_u32(&ids->b, (uint32_t)acc)) return -1;
  id_ref *refs = malloc(((size_t)live + 1) * sizeof *refs);
  if (!refs) return -1;
  uint32_t n = 0;
  for (uint32_t d = 0; d < b->ndocs; d++) {
    if (remap[d] == UINT32_MAX) continue;
    id_span(b, d, &a, &e);
    refs[n++] = (id_ref){b->ids.data + a, (uint32_t)(e - a), remap[d]};
    if (bbuf_append(&ids->b, b->ids.data + a, e - a)) {
      free(refs);
      return -1;
    }
  }
  qsort(refs, n, sizeof *refs, cmp_ids);
  int rc = 0;
  for (uint32_t i = 0; i < n && !rc; i++) rc = bbuf_put_u32(&dict->b, refs[i].doc);
  free(refs);
  return rc;
}

static int write_stored(docbuf *b, const uint32_t *remap, seg_build *sb) {
  sec *sd = seg_build_add(sb, SEC_STORE, 0), *si = seg_build_add(sb, SEC_STOREINDEX, 0);
  const uint8_t *soffs = b->stored_off.data;
  bbuf idx = {0}, raw = {0}, cbuf = {0};
  int rc = -1;
  uint32_t nblocks = 0, block_first = 0;
  ZSTD_CCtx *zc = ZSTD_createCCtx(); /* one context: creating one per block costs more than compressing */
  if (!zc) return -1;
  uint32_t nd = 0;
  for (uint32_t d = 0; d <= b->ndocs; d++) {
    int flush = d == b->ndocs ? raw.len > 0 : 0;
    if (d < b->ndocs && remap[d] != UINT32_MAX) {
      uint64_t x = rd_u64(soffs + 8 * (size_t)d),
               y = d + 1 < b->ndocs ? rd_u64(soffs + 8 * (size_t)d + 8) : b->stored.len;
      if (raw.len == 0) block_first = nd;
      if (bbuf_append(&raw, b->stored.data + x, y - x)) goto out;
      nd++;
      flush = raw.len >= STORE_BLOCK_BYTES;
    }
    if (flush) {
      if (raw.len > (1u << 30)) { /* a block holds one huge document at most; the reader caps at 1 GiB */
        rc = -2;
        goto out;
      }
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

int store_write(docbuf *b, const uint32_t *remap, seg_build *sb) {
  int rc = write_ids(b, remap, sb);
  return rc ? rc : write_stored(b, remap, sb);
}

/* One column at a time: decode every live document's metadata record and
** keep the value of column col. */
int meta_write(docbuf *b, const uint32_t *remap, uint32_t live, seg_build *sb) {
  if (b->nmeta == 0) return 0;
  sec *ms = seg_build_add(sb, SEC_META, 0);
  if (!ms) return -1;
  uint8_t *kind = malloc((size_t)live + 1);
  double *num = malloc(((size_t)live + 1) * sizeof *num);
  int rc = -1;
  if (!kind || !num || bbuf_put_u32(&ms->b, b->nmeta)) goto out;
  for (uint32_t col = 0; col < b->nmeta; col++) {
    memset(kind, 0, live);
    memset(num, 0, live * sizeof *num);
    /* strings must be laid out in doc order: collect (offset, len) first */
    uint64_t *soff = calloc((size_t)live + 1, sizeof *soff);
    uint32_t *slen = calloc((size_t)live + 1, sizeof *slen);
    if (!soff || !slen) {
      free(soff);
      free(slen);
      goto out;
    }
    for (uint32_t d = 0; d < b->ndocs; d++) {
      if (remap[d] == UINT32_MAX) continue;
      uint64_t a = rd_u64(b->meta_off.data + 8 * (size_t)d);
      uint64_t e = d + 1 < b->ndocs ? rd_u64(b->meta_off.data + 8 * (size_t)d + 8) : b->meta.len;
      const uint8_t *p = b->meta.data + a, *end = b->meta.data + e;
      uint64_t cnt, c, l;
      if (varint_read(&p, end, &cnt)) break;
      for (uint64_t i = 0; i < cnt; i++) {
        if (varint_read(&p, end, &c) || p >= end) break;
        uint8_t k = *p++;
        if (k == BLEND_META_NUMBER) {
          double v;
          memcpy(&v, p, sizeof v);
          p += sizeof v;
          if (c == col) kind[remap[d]] = k, num[remap[d]] = v;
        } else {
          if (varint_read(&p, end, &l)) break;
          if (c == col) {
            kind[remap[d]] = k;
            soff[remap[d]] = (uint64_t)(p - b->meta.data);
            slen[remap[d]] = (uint32_t)l;
          }
          p += l;
        }
      }
    }
    size_t nl = strlen(b->meta_names[col]);
    uint8_t l2[2] = {(uint8_t)nl, (uint8_t)(nl >> 8)};
    int bad = bbuf_append(&ms->b, l2, 2) || bbuf_append(&ms->b, b->meta_names[col], nl) ||
              bbuf_append(&ms->b, kind, live);
    while (!bad && ms->b.len % 8) bad = bbuf_putc(&ms->b, 0);
    bad = bad || bbuf_append(&ms->b, num, live * sizeof *num);
    uint64_t acc = 0;
    for (uint32_t d = 0; !bad && d < live; d++) {
      bad = bbuf_put_u32(&ms->b, (uint32_t)acc);
      acc += kind[d] == BLEND_META_STRING ? slen[d] : 0;
      if (acc > UINT32_MAX) bad = 2;
    }
    bad = bad || bbuf_put_u32(&ms->b, (uint32_t)acc);
    for (uint32_t d = 0; !bad && d < live; d++)
      if (kind[d] == BLEND_META_STRING) bad = bbuf_append(&ms->b, b->meta.data + soff[d], slen[d]);
    free(soff);
    free(slen);
    if (bad) {
      rc = bad == 2 ? -2 : -1;
      goto out;
    }
  }
  rc = 0;
out:
  free(kind);
  free(num);
  return rc;
}
