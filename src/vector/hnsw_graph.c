/*
** hnsw_graph.c — the HNSW GRAPH payload: serialised from the build-time
** graph (fixed slots) into the compact CSR layout documented in
** vec_internal.h, and validated on open so that every id, offset, degree
** and level the search will follow is known to be in range. The search
** then trusts the view and never bounds-checks in its inner loop.
*/
#include <stdlib.h>
#include <string.h>

#include "vector/vec_internal.h"

static int pad64(bbuf *b, size_t base) {
  static const uint8_t z[64] = {0};
  size_t r = (b->len - base) % 64;
  return r ? bbuf_append(b, z, 64 - r) : 0;
}

static int put_u32s(bbuf *b, const uint32_t *v, size_t n) {
  return bbuf_append(b, v, n * sizeof *v); /* little-endian host (checked) */
}

int vec_hnsw_serialise(const hnsw_mem *g, bbuf *out) {
  size_t base = out->len;
  uint32_t n = g->n;
  uint64_t nl0 = 0, upper_words = 0;
  for (uint32_t i = 0; i < n; i++) nl0 += hnsw_mem_list(g, i, 0)[0];
  for (uint32_t l = 1; l <= g->max_level; l++) {
    uint64_t cnt = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++)
      if (g->level[i] >= l) cnt++, nl += hnsw_mem_list(g, i, l)[0];
    upper_words += 2 + cnt + (cnt + 1) + nl;
  }
  uint8_t h[VEC_GRAPH_HEADER] = {0};
  wr_u32(h + 0, VEC_GRAPH_MAGIC);
  wr_u32(h + 4, VEC_GRAPH_VERSION);
  wr_u32(h + 8, n);
  wr_u32(h + 12, g->M);
  wr_u32(h + 16, g->M0);
  wr_u32(h + 20, g->efc);
  wr_u32(h + 24, g->max_level);
  wr_u32(h + 28, g->entry);
  memcpy(h + 32, &g->seed, 8);
  memcpy(h + 40, &nl0, 8);
  memcpy(h + 48, &upper_words, 8);
  if (bbuf_append(out, h, sizeof h)) return -1;
  /* off0 */
  uint32_t acc = 0;
  if (bbuf_reserve(out, ((size_t)n + 1) * 4)) return -1;
  for (uint32_t i = 0; i < n; i++) {
    if (put_u32s(out, &acc, 1)) return -1;
    acc += hnsw_mem_list(g, i, 0)[0];
  }
  if (put_u32s(out, &acc, 1) || pad64(out, base)) return -1;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t *li = hnsw_mem_list(g, i, 0);
    if (put_u32s(out, li + 1, li[0])) return -1;
  }
  if (pad64(out, base) || bbuf_append(out, g->level, n) || pad64(out, base)) return -1;
  for (uint32_t l = 1; l <= g->max_level; l++) {
    uint32_t cnt = 0, nl = 0;
    for (uint32_t i = 0; i < n; i++)
      if (g->level[i] >= l) cnt++, nl += hnsw_mem_list(g, i, l)[0];
    uint32_t hd[2] = {cnt, nl};
    if (put_u32s(out, hd, 2)) return -1;
    for (uint32_t i = 0; i < n; i++)
      if (g->level[i] >= l && put_u32s(out, &i, 1)) return -1;
    uint32_t o = 0;
    for (uint32_t i = 0; i < n; i++)
      if (g->level[i] >= l) {
        if (put_u32s(out, &o, 1)) return -1;
        o += hnsw_mem_list(g, i, l)[0];
      }
    if (put_u32s(out, &o, 1)) return -1;
    for (uint32_t i = 0; i < n; i++)
      if (g->level[i] >= l) {
        const uint32_t *li = hnsw_mem_list(g, i, l);
        if (put_u32s(out, li + 1, li[0])) return -1;
      }
  }
  return pad64(out, base);
}

#define CORRUPT(...) blend_seterr(err, BLEND_ECORRUPT, "vector graph: " __VA_ARGS__)

static size_t up64(size_t x) { return (x + 63) & ~(size_t)63; }

int vec_hnsw_open(vec_field *f, const uint8_t *g, size_t len, blend_error *err) {
  if (len < VEC_GRAPH_HEADER) return CORRUPT("%zu bytes, shorter than its header", len);
  if (rd_u32(g) != VEC_GRAPH_MAGIC) return CORRUPT("bad magic");
  if (rd_u32(g + 4) != VEC_GRAPH_VERSION) return CORRUPT("version %u unsupported", rd_u32(g + 4));
  uint32_t n = rd_u32(g + 8), M = rd_u32(g + 12), M0 = rd_u32(g + 16), efc = rd_u32(g + 20);
  uint32_t max_level = rd_u32(g + 24), entry = rd_u32(g + 28);
  uint64_t seed = rd_u64(g + 32), nl0 = rd_u64(g + 40), upper_words = rd_u64(g + 48);
  if (n != f->n) return CORRUPT("%u nodes but the vector store holds %u", n, f->n);
  if (n == 0) return CORRUPT("a graph over zero vectors");
  if (M < 2 || M > 256 || M0 < M || M0 > 512) return CORRUPT("M %u / M0 %u out of range", M, M0);
  if (max_level > VEC_MAX_LEVEL) return CORRUPT("max level %u > %u", max_level, VEC_MAX_LEVEL);
  if (entry >= n) return CORRUPT("entry point %u >= %u nodes", entry, n);
  if (nl0 > (uint64_t)n * M0) return CORRUPT("%llu layer-0 links exceed %u x %u", (unsigned long long)nl0, n, M0);
  /* sizes: n <= 2^32, so every term below fits easily in 64 bits */
  size_t o_off0 = VEC_GRAPH_HEADER;
  size_t o_links0 = o_off0 + up64(((size_t)n + 1) * 4);
  size_t o_levels = o_links0 + up64((size_t)nl0 * 4);
  size_t o_upper = o_levels + up64(n);
  if (o_upper > len) return CORRUPT("truncated: layer 0 needs %zu bytes, have %zu", o_upper, len);
  if (upper_words > (len - o_upper) / 4)
    return CORRUPT("truncated: upper layers need %llu words", (unsigned long long)upper_words);
  if (up64(o_upper + (size_t)upper_words * 4) != len)
    return CORRUPT("%zu bytes, but its counts say %zu", len, up64(o_upper + (size_t)upper_words * 4));
  const uint32_t *off0 = (const uint32_t *)(g + o_off0);
  const uint32_t *links0 = (const uint32_t *)(g + o_links0);
  const uint8_t *levels = g + o_levels;
  if (off0[0] != 0 || off0[n] != nl0) return CORRUPT("layer-0 offsets do not span the links");
  for (uint32_t i = 0; i < n; i++) {
    if (off0[i + 1] < off0[i] || off0[i + 1] - off0[i] > M0)
      return CORRUPT("node %u: layer-0 degree invalid", i);
    if (levels[i] > max_level) return CORRUPT("node %u: level %u > max level %u", i, levels[i], max_level);
  }
  for (uint64_t j = 0; j < nl0; j++)
    if (links0[j] >= n) return CORRUPT("layer-0 link %u >= %u nodes", links0[j], n);
  if (levels[entry] != max_level) return CORRUPT("entry point %u is not on the top layer", entry);
  memset(f->up, 0, sizeof f->up);
  const uint32_t *w = (const uint32_t *)(g + o_upper), *wend = w + upper_words;
  for (uint32_t l = 1; l <= max_level; l++) {
    if (wend - w < 2) return CORRUPT("layer %u: truncated header", l);
    uint32_t cnt = w[0], nl = w[1];
    w += 2;
    if (cnt > n || (uint64_t)nl > (uint64_t)cnt * M) return CORRUPT("layer %u: counts invalid", l);
    if ((uint64_t)(wend - w) < (uint64_t)cnt * 2 + 1 + nl) return CORRUPT("layer %u: truncated", l);
    vec_layer *L = &f->up[l];
    L->count = cnt;
    L->nodes = w;
    L->off = w + cnt;
    L->links = w + 2 * (size_t)cnt + 1;
    w = L->links + nl;
    uint32_t expect = 0;
    for (uint32_t i = 0; i < n; i++) expect += levels[i] >= l;
    if (expect != cnt) return CORRUPT("layer %u lists %u nodes, levels say %u", l, cnt, expect);
    if (L->off[0] != 0 || L->off[cnt] != nl) return CORRUPT("layer %u: offsets do not span the links", l);
    for (uint32_t i = 0; i < cnt; i++) {
      if (L->nodes[i] >= n || levels[L->nodes[i]] < l || (i && L->nodes[i] <= L->nodes[i - 1]))
        return CORRUPT("layer %u: node list invalid at %u", l, i);
      if (L->off[i + 1] < L->off[i] || L->off[i + 1] - L->off[i] > M)
        return CORRUPT("layer %u: degree invalid at %u", l, i);
    }
    for (uint32_t j = 0; j < nl; j++)
      if (L->links[j] >= n || levels[L->links[j]] < l)
        return CORRUPT("layer %u: link %u is not a node of the layer", l, L->links[j]);
  }
  if (w != wend) return CORRUPT("%zu unused words after the upper layers", (size_t)(wend - w));
  f->has_graph = 1;
  f->M = M;
  f->M0 = M0;
  f->efc = efc;
  f->max_level = max_level;
  f->entry = entry;
  f->seed = seed;
  f->off0 = off0;
  f->links0 = links0;
  f->levels = levels;
  f->graph_len = len;
  return BLEND_OK;
}
