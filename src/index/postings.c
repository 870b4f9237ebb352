/*
** postings.c — the postings cursor: walks one term's doc ids block by block
** (128 docs, streamvbyte), decodes term frequencies only when scored and
** positions only when a phrase asks, and exposes each block's (max tf,
** min norm) from the skip table for block-max pruning. Every block is
** bounds-checked against its section before decoding, and decoded doc ids
** must increase and stay below the segment's document count; a cursor that
** meets corrupt data marks itself corrupt and ends.
*/
#include <string.h>

#include <streamvbyte.h>
#include <streamvbytedelta.h>

#include "index/index.h"

/* bytes of data described by one control byte (1-4 bytes per value) */
static const uint8_t svb_len[256] = {
#define L1(c) (((c) & 3) + 1)
#define E(c) (L1(c) + L1((c) >> 2) + L1((c) >> 4) + L1((c) >> 6))
#define R4(c) E(c), E(c + 1), E(c + 2), E(c + 3)
#define R16(c) R4(c), R4(c + 4), R4(c + 8), R4(c + 12)
#define R64(c) R16(c), R16(c + 16), R16(c + 32), R16(c + 48)
    R64(0), R64(64), R64(128), R64(192)};
/* 0124 variant: 0, 1, 2 or 4 bytes per value */
static const uint8_t svb0124_len[256] = {
#undef L1
#define L1(c) (((c) & 3) == 3 ? 4 : ((c) & 3))
    R64(0), R64(64), R64(128), R64(192)};
#undef L1
#undef E
#undef R4
#undef R16
#undef R64

/* Exact encoded size of n values, or SIZE_MAX if it exceeds avail. */
static size_t svb_size(const uint8_t *p, size_t avail, uint32_t n, const uint8_t *table) {
  size_t ctrl = (n + 3) / 4;
  if (ctrl > avail) return SIZE_MAX;
  size_t data = 0;
  for (size_t i = 0; i < ctrl; i++) data += table[p[i]];
  /* the last control byte may describe fewer than 4 values */
  uint32_t rem = n % 4;
  if (rem) {
    uint8_t c = p[ctrl - 1];
    for (uint32_t k = rem; k < 4; k++) {
      uint32_t code = (c >> (2 * k)) & 3;
      data -= table == svb_len ? code + 1 : (code == 3 ? 4 : code);
    }
  }
  if (ctrl + data > avail) return SIZE_MAX;
  return ctrl + data;
}

static void mark_end(pcursor *c, int corrupt) {
  c->doc = DOC_END;
  c->n = c->i = 0;
  c->block = c->nblocks;
  c->corrupt |= corrupt;
}

static int load_block(pcursor *c, uint32_t b) {
  const uint8_t *start = c->data;
  uint32_t prev = 0;
  if (c->skip) {
    const uint8_t *e = c->skip + (size_t)b * SKIP_ENTRY;
    uint32_t off = rd_u32(e + 4);
    if (off > (size_t)(c->data_end - c->data)) return -1;
    start = c->data + off;
    if (b > 0) prev = rd_u32(e - SKIP_ENTRY);
  }
  uint32_t cnt = b + 1 < c->nblocks ? BLOCK : c->te.df - BLOCK * (c->nblocks - 1);
  size_t avail = (size_t)(c->data_end - start);
  size_t dn = svb_size(start, avail, cnt, svb_len);
  if (dn == SIZE_MAX) return -1;
  streamvbyte_delta_decode(start, c->docs, cnt, prev);
  /* strictly increasing (a wrapped delta sum breaks this), without an early
     exit so the compiler vectorises it */
  uint32_t bad = b > 0 && c->docs[0] <= prev;
  for (uint32_t i = 1; i < cnt; i++) bad |= c->docs[i] <= c->docs[i - 1];
  uint32_t last = c->docs[cnt - 1];
  if (bad || last >= c->seg->ndocs) return -1;
  if (c->skip && rd_u32(c->skip + (size_t)b * SKIP_ENTRY) != last) return -1;
  c->freq_ptr = start + dn;
  c->tfs_ready = 0;
  c->block = b;
  c->n = cnt;
  c->i = 0;
  c->pos_i = UINT32_MAX;
  return 0;
}

void pcursor_init(pcursor *c, const segment *s, const term_entry *te) {
  c->seg = s;
  c->te = *te;
  c->corrupt = 0;
  c->nblocks = (te->df + BLOCK - 1) / BLOCK;
  const uint8_t *p = s->postings.p + te->post_off;
  size_t skip_bytes = c->nblocks > 1 ? (size_t)c->nblocks * SKIP_ENTRY : 0;
  if (skip_bytes > te->post_len) {
    mark_end(c, 1);
    return;
  }
  c->skip = c->nblocks > 1 ? p : NULL;
  c->data = p + skip_bytes;
  c->data_end = p + te->post_len;
  c->pos_base = s->positions_sec.p + te->pos_off;
  c->pos_end = c->pos_base + te->pos_len;
  if (load_block(c, 0)) {
    mark_end(c, 1);
    return;
  }
  c->doc = c->docs[0];
}

void pcursor_advance(pcursor *c, uint32_t target) {
  if (c->doc == DOC_END) return;
  if (target > c->docs[c->n - 1]) {
    uint32_t b = c->block + 1;
    if (c->skip)
      while (b < c->nblocks && rd_u32(c->skip + (size_t)b * SKIP_ENTRY) < target) b++;
    if (b >= c->nblocks) {
      mark_end(c, 0);
      return;
    }
    if (load_block(c, b)) {
      mark_end(c, 1);
      return;
    }
  }
  /* first doc ≥ target in docs[i, n) (the last one is ≥ target): a short
     linear scan for near targets, then a branchless binary search */
  uint32_t lo = c->i, stop = lo + 8 < c->n ? lo + 8 : c->n;
  while (lo < stop && c->docs[lo] < target) lo++;
  uint32_t len = lo < stop ? 1 : c->n - lo;
  while (len > 1) {
    uint32_t half = len / 2;
    lo = c->docs[lo + half - 1] < target ? lo + half : lo;
    len -= half;
  }
  c->i = lo;
  c->doc = c->docs[lo];
}

/* Decode n streamvbyte-0124 values (+1: they are tf-1) from p, whose size
** svb_size() has checked. Written here because the library's 0124 decoder
** is scalar and slow; term frequencies are mostly 1, so control bytes of 0
** (four values without data bytes) take a fast path. */
static void decode_tfs_0124(const uint8_t *ctrl, uint32_t *out, uint32_t n) {
  const uint8_t *data = ctrl + (n + 3) / 4;
  for (uint32_t i = 0; i < n; i += 4) {
    uint8_t c = ctrl[i / 4];
    uint32_t m = n - i < 4 ? n - i : 4;
    if (c == 0) {
      for (uint32_t k = 0; k < m; k++) out[i + k] = 1;
      continue;
    }
    for (uint32_t k = 0; k < m; k++) {
      uint32_t v;
      switch ((c >> (2 * k)) & 3) {
        case 0: v = 0; break;
        case 1: v = data[0]; data += 1; break;
        case 2: v = (uint32_t)data[0] | (uint32_t)data[1] << 8; data += 2; break;
        default: v = rd_u32(data); data += 4; break;
      }
      out[i + k] = v + 1;
    }
  }
}

void pcursor_decode_tfs(pcursor *c) {
  size_t dn = svb_size(c->freq_ptr, (size_t)(c->data_end - c->freq_ptr), c->n, svb0124_len);
  if (dn == SIZE_MAX) {
    c->corrupt = 1;
    for (uint32_t i = 0; i < c->n; i++) c->tfs[i] = 1;
  } else {
    decode_tfs_0124(c->freq_ptr, c->tfs, c->n);
  }
  c->tfs_ready = 1;
}

uint32_t pcursor_positions(pcursor *c, uint32_t *out, uint32_t cap) {
  if (!c->seg->positions || c->doc == DOC_END) return 0;
  pcursor_tf(c);
  if (c->pos_i == UINT32_MAX || c->pos_i > c->i) {
    uint32_t off = c->skip ? rd_u32(c->skip + (size_t)c->block * SKIP_ENTRY + 8) : 0;
    if (off > (size_t)(c->pos_end - c->pos_base)) {
      c->corrupt = 1;
      return 0;
    }
    c->pos_ptr = c->pos_base + off;
    c->pos_i = 0;
  }
  uint64_t v;
  while (c->pos_i < c->i) { /* skip earlier docs' positions */
    for (uint32_t k = 0; k < c->tfs[c->pos_i]; k++)
      if (varint_read(&c->pos_ptr, c->pos_end, &v)) {
        c->corrupt = 1;
        return 0;
      }
    c->pos_i++;
  }
  const uint8_t *p = c->pos_ptr;
  uint32_t tf = c->tfs[c->i], n = 0;
  uint64_t pos = 0;
  for (uint32_t k = 0; k < tf; k++) {
    if (varint_read(&p, c->pos_end, &v)) {
      c->corrupt = 1;
      return n;
    }
    pos += v;
    if (n < cap) out[n++] = (uint32_t)pos;
  }
  return n;
}

int pcursor_block_bound(pcursor *c, uint32_t target, uint32_t *last_doc, uint32_t *max_tf,
                        uint8_t *min_norm) {
  if (c->doc == DOC_END) return 0;
  if (!c->skip) {
    *last_doc = c->docs[c->n - 1];
    if (target > *last_doc) return 0;
    *max_tf = c->te.max_tf;
    *min_norm = c->te.min_norm;
    return 1;
  }
  uint32_t b = c->block;
  while (b < c->nblocks && rd_u32(c->skip + (size_t)b * SKIP_ENTRY) < target) b++;
  if (b >= c->nblocks) return 0;
  const uint8_t *e = c->skip + (size_t)b * SKIP_ENTRY;
  *last_doc = rd_u32(e);
  *max_tf = rd_u32(e + 12);
  *min_norm = e[16];
  return 1;
}

int pcursor_window_bound(pcursor *c, uint32_t lo, uint32_t hi, uint32_t *max_tf, uint8_t *min_norm) {
  if (c->doc == DOC_END || c->doc >= hi) return 0;
  if (!c->skip) {
    *max_tf = c->te.max_tf;
    *min_norm = c->te.min_norm;
    return 1;
  }
  uint32_t mtf = 0;
  uint8_t mn = 255;
  for (uint32_t b = c->block; b < c->nblocks; b++) {
    const uint8_t *e = c->skip + (size_t)b * SKIP_ENTRY;
    uint32_t last = rd_u32(e);
    if (last < lo) continue;
    if (rd_u32(e + 12) > mtf) mtf = rd_u32(e + 12);
    if (e[16] < mn) mn = e[16];
    if (last >= hi - 1) break;
  }
  *max_tf = mtf;
  *min_norm = mn;
  return mtf > 0;
}
