/*
** segment.c — opens one segment file: maps it, checks the header, the
** section table (every section inside the file, checksums match) and the
** per-field metadata, id dictionary, metadata columns and vector field, so
** later reads only need cheap bounds checks. Also the term dictionary
** lookup, the id lookup and the stored-field reader.
**
** The mapping and what open builds from it live in a reference-counted
** core shared by every snapshot (generation) that includes the segment:
** checksums are verified once, when a process first opens the file, and a
** refresh to a newer generation reuses open segments as they are.
*/
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "index/index.h"
#include "vector/vector.h"

struct segment_core {
  atomic_int refs;
  mapped_file mf;
  uint64_t *td_prefix;
  vec_field *vec;
};

#define BAD(...) blend_seterr(err, BLEND_ECORRUPT, __VA_ARGS__)

/* The first 8 bytes of a key as a big-endian integer (zero padded): keys
** order like their prefixes, except that equal prefixes need a full compare. */
static uint64_t key_prefix(const char *k, uint32_t len) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < 8; i++) v = v << 8 | (i < len ? (uint8_t)k[i] : 0);
  return v;
}

static int id_cmp(const segment *s, uint32_t doc, const char *id, size_t len) {
  const char *p;
  size_t n;
  segment_doc_id(s, doc, &p, &n);
  size_t m = n < len ? n : len;
  int c = memcmp(p, id, m);
  if (c) return c;
  return n < len ? -1 : n > len;
}

/* The id dictionary must be a permutation of [0, ndocs) in strictly
** ascending id order: then lookups by binary search are exact. */
static int open_iddict(segment *s, blend_error *err) {
  if (s->iddict.len != 4 * (uint64_t)s->ndocs) return BAD("%s: id dictionary has the wrong size", s->path);
  uint8_t *seen = calloc((size_t)s->ndocs + 1, 1);
  if (!seen) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  int rc = BLEND_OK;
  for (uint32_t i = 0; i < s->ndocs && !rc; i++) {
    uint32_t d = rd_u32(s->iddict.p + 4 * (size_t)i);
    if (d >= s->ndocs || seen[d]) rc = BAD("%s: id dictionary is not a permutation", s->path);
    else seen[d] = 1;
    if (!rc && i > 0) {
      const char *p;
      size_t n;
      segment_doc_id(s, d, &p, &n);
      if (id_cmp(s, rd_u32(s->iddict.p + 4 * (size_t)(i - 1)), p, n) >= 0)
        rc = BAD("%s: id dictionary is not sorted (or holds a duplicate id)", s->path);
    }
  }
  free(seen);
  return rc;
}

static int open_meta(segment *s, blend_error *err) {
  if (!s->meta.p) return BLEND_OK;
  const uint8_t *p = s->meta.p, *base = s->meta.p, *end = s->meta.p + s->meta.len;
  if (end - p < 4) return BAD("%s: metadata section is truncated", s->path);
  uint32_t n = rd_u32(p);
  p += 4;
  if (n > MAX_META) return BAD("%s: metadata section has %u columns", s->path, n);
  for (uint32_t c = 0; c < n; c++) {
    meta_col *m = &s->metas[c];
    if (end - p < 2) goto bad;
    uint32_t nl = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    p += 2;
    if (nl == 0 || nl > 63 || (size_t)(end - p) < nl) goto bad;
    memcpy(m->name, p, nl);
    m->name[nl] = 0;
    p += nl;
    if ((size_t)(end - p) < s->ndocs) goto bad;
    m->kind = p;
    p += s->ndocs;
    while ((size_t)(p - base) % 8) {
      if (p >= end) goto bad;
      p++;
    }
    uint64_t need = 8 * (uint64_t)s->ndocs + 4 * ((uint64_t)s->ndocs + 1);
    if ((uint64_t)(end - p) < need) goto bad;
    m->num = p;
    p += 8 * (size_t)s->ndocs;
    m->str_off = p;
    p += 4 * ((size_t)s->ndocs + 1);
    uint32_t total = rd_u32(m->str_off + 4 * (size_t)s->ndocs);
    if ((uint64_t)(end - p) < total) goto bad;
    for (uint32_t d = 0; d < s->ndocs; d++) {
      if (m->kind[d] > BLEND_META_STRING) goto bad;
      if (rd_u32(m->str_off + 4 * (size_t)d) > rd_u32(m->str_off + 4 * (size_t)d + 4)) goto bad;
    }
    if (rd_u32(m->str_off) != 0) goto bad;
    m->str = p;
    m->str_len = total;
    p += total;
  }
  s->nmeta = n;
  return BLEND_OK;
bad:
  return BAD("%s: metadata section is malformed", s->path);
}

int segment_find_id(const segment *s, const char *id, size_t len, uint32_t *doc) {
  uint32_t lo = 0, hi = s->ndocs;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t d = rd_u32(s->iddict.p + 4 * (size_t)mid);
    int c = id_cmp(s, d, id, len);
    if (c == 0) {
      *doc = d;
      return 1;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

int segment_open(segment *s, const char *path, blend_error *err) {
  memset(s, 0, sizeof *s);
  snprintf(s->path, sizeof s->path, "%s", path);
  int rc = file_map(path, &s->mf, err);
  if (rc) return rc;
  const uint8_t *p = s->mf.data;
  size_t size = s->mf.size;
  if (size < SEG_HEADER_SIZE || memcmp(p, SEG_MAGIC, 8) != 0) {
    rc = BAD("%s: not a blend segment (bad magic)", path);
    goto fail;
  }
  if (rd_u32(p + 8) != SEG_VERSION) {
    rc = BAD("%s: unsupported segment version %u", path, rd_u32(p + 8));
    goto fail;
  }
  s->ndocs = rd_u32(p + 12);
  s->nfields = rd_u32(p + 16);
  uint32_t nsec = rd_u32(p + 20);
  s->positions = (rd_u32(p + 24) & SEG_FLAG_POSITIONS) != 0;
  s->field_views = (rd_u32(p + 24) & SEG_FLAG_FIELD_VIEWS) != 0;
  if (s->nfields == 0 || s->nfields > MAX_FIELDS || nsec > 64 ||
      SEG_HEADER_SIZE + (uint64_t)nsec * SEG_SECTION_SIZE > size) {
    rc = BAD("%s: bad header (fields %u, sections %u)", path, s->nfields, nsec);
    goto fail;
  }
  uint32_t hcrc = crc32c(crc32c(0, p, SEG_HEADER_SIZE - 4), p + SEG_HEADER_SIZE,
                         (size_t)nsec * SEG_SECTION_SIZE);
  if (hcrc != rd_u32(p + SEG_HEADER_SIZE - 4)) {
    rc = BAD("%s: checksum mismatch in the header or section table", path);
    goto fail;
  }
  section_ref fields = {0};
  for (uint32_t i = 0; i < nsec; i++) {
    const uint8_t *e = p + SEG_HEADER_SIZE + (size_t)i * SEG_SECTION_SIZE;
    uint32_t kind = rd_u32(e), field = rd_u32(e + 4);
    uint64_t off = rd_u64(e + 8), len = rd_u64(e + 16);
    uint32_t crc = rd_u32(e + 24);
    if (off > size || len > size - off || size - off - len < SEG_PAD) {
      rc = BAD("%s: section %u (kind %u) lies outside the file", path, i, kind);
      goto fail;
    }
    section_ref r = {p + off, len};
    if (crc32c(0, r.p, r.len) != crc) {
      rc = BAD("%s: checksum mismatch in section %u (kind %u)", path, i, kind);
      goto fail;
    }
    switch (kind) {
      case SEC_FIELDS: fields = r; break;
      case SEC_NORMS:
        if (field >= s->nfields || len != s->ndocs) {
          rc = BAD("%s: norms section for field %u has %llu bytes, want %u", path, field,
                   (unsigned long long)len, s->ndocs);
          goto fail;
        }
        s->norms[field] = r.p;
        break;
      case SEC_TERMDICT: s->termdict = r; break;
      case SEC_TERMINDEX: s->termindex = r; break;
      case SEC_POSTINGS: s->postings = r; break;
      case SEC_POSITIONS: s->positions_sec = r; break;
      case SEC_IDS: s->ids = r; break;
      case SEC_STORE: s->store = r; break;
      case SEC_STOREINDEX: s->storeindex = r; break;
      case SEC_IDDICT: s->iddict = r; break;
      case SEC_META: s->meta = r; break;
      case SEC_VECSTORE: s->vecstore = r; break;
      case SEC_HNSW: s->hnsw = r; break;
      default: break; /* unknown sections from newer minor versions are skipped */
    }
  }
  if (!s->termdict.p || !s->termindex.p || !s->postings.p || !s->positions_sec.p || !s->ids.p ||
      !s->store.p || !s->storeindex.p || !s->iddict.p) {
    rc = BAD("%s: a required section is missing", path);
    goto fail;
  }
  /* fields */
  if (!fields.p) goto badfields;
  const uint8_t *q = fields.p, *end = fields.p + fields.len;
  for (uint32_t f = 0; f < s->nfields; f++) {
    if (end - q < 2) goto badfields;
    uint32_t nl = (uint32_t)q[0] | (uint32_t)q[1] << 8;
    q += 2;
    if (nl == 0 || nl > 31 || (size_t)(end - q) < nl + 12u) goto badfields;
    memcpy(s->field_names[f], q, nl);
    s->field_names[f][nl] = 0;
    q += nl;
    s->sum_dl[f] = rd_u64(q);
    s->docs_with[f] = rd_u32(q + 8);
    q += 12;
    if (!s->norms[f] && s->ndocs) goto badfields;
  }
  if (!s->termindex.p || s->termindex.len < 4) {
    rc = BAD("%s: missing term index", path);
    goto fail;
  }
  s->td_blocks = rd_u32(s->termindex.p);
  if ((uint64_t)s->td_blocks * 4 + 4 != s->termindex.len) {
    rc = BAD("%s: term index size mismatch", path);
    goto fail;
  }
  s->td_prefix = malloc(((size_t)s->td_blocks + 1) * sizeof *s->td_prefix);
  if (!s->td_prefix) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto fail;
  }
  for (uint32_t b = 0; b < s->td_blocks; b++) {
    uint32_t off = rd_u32(s->termindex.p + 4 + 4 * (size_t)b);
    const uint8_t *kq = s->termdict.p + off, *tend = s->termdict.p + s->termdict.len;
    uint64_t shared, slen;
    if (off >= s->termdict.len || varint_read(&kq, tend, &shared) || varint_read(&kq, tend, &slen) ||
        shared != 0 || slen == 0 || slen > MAX_TERM + 1 || slen > (uint64_t)(tend - kq)) {
      rc = BAD("%s: term index entry %u out of range", path, b);
      goto fail;
    }
    s->td_prefix[b] = key_prefix((const char *)kq, (uint32_t)slen);
  }
  if (!s->ids.p || s->ids.len < 4 * ((uint64_t)s->ndocs + 1) ||
      rd_u32(s->ids.p + 4 * (size_t)s->ndocs) != s->ids.len - 4 * ((uint64_t)s->ndocs + 1)) {
    rc = BAD("%s: document id section is inconsistent", path);
    goto fail;
  }
  for (uint32_t d = 0; d < s->ndocs; d++)
    if (rd_u32(s->ids.p + 4 * (size_t)d) > rd_u32(s->ids.p + 4 * (size_t)d + 4)) {
      rc = BAD("%s: document id offsets not increasing at doc %u", path, d);
      goto fail;
    }
  if (!s->storeindex.p || s->storeindex.len < 12) {
    rc = BAD("%s: missing stored-field index", path);
    goto fail;
  }
  s->store_blocks = rd_u32(s->storeindex.p);
  if ((uint64_t)s->store_blocks * 16 + 12 != s->storeindex.len) {
    rc = BAD("%s: stored-field index size mismatch", path);
    goto fail;
  }
  rc = open_iddict(s, err);
  if (!rc) rc = open_meta(s, err);
  if (!rc && s->vecstore.p) {
    rc = vec_field_open(s->vecstore.p, s->vecstore.len, s->hnsw.p, s->hnsw.len, &s->vec, err);
    if (rc) {
      char msg[BLEND_ERROR_MAX];
      snprintf(msg, sizeof msg, "%s", err ? err->message : "");
      rc = blend_seterr(err, rc, "%s: vector section: %s", path, msg);
    } else if (vec_field_count(s->vec) != s->ndocs) {
      rc = BAD("%s: vector section holds %u vectors for %u documents", path, vec_field_count(s->vec), s->ndocs);
    }
  }
  if (rc) goto fail;
  s->core = calloc(1, sizeof *s->core);
  if (!s->core) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto fail;
  }
  atomic_init(&s->core->refs, 1);
  s->core->mf = s->mf;
  s->core->td_prefix = s->td_prefix;
  s->core->vec = s->vec;
  s->crc = hcrc;
  return BLEND_OK;
badfields:
  rc = BAD("%s: field table is malformed", path);
fail:
  vec_field_close(s->vec);
  s->vec = NULL;
  free(s->td_prefix);
  s->td_prefix = NULL;
  file_unmap(&s->mf);
  return rc;
}

void segment_share(segment *dst, const segment *src) {
  *dst = *src;
  dst->live = NULL;
  dst->ndeleted = 0;
  atomic_fetch_add(&src->core->refs, 1);
}

void segment_close(segment *s) {
  free(s->live);
  s->live = NULL;
  if (s->core && atomic_fetch_sub(&s->core->refs, 1) == 1) {
    vec_field_close(s->core->vec);
    free(s->core->td_prefix);
    file_unmap(&s->core->mf);
    free(s->core);
  }
  s->core = NULL;
}

/* Decode one dictionary entry at *p into key (prefix-shared with the
** previous key in keybuf/keylen). Returns -1 when malformed. */
static int read_entry(const uint8_t **pp, const uint8_t *end, char *keybuf, uint32_t *keylen,
                      term_entry *te) {
  uint64_t shared, suffix, df, cfx, po, pl, xo, xl, mt;
  if (varint_read(pp, end, &shared) || varint_read(pp, end, &suffix)) return -1;
  if (shared > *keylen || shared + suffix > MAX_TERM + 1 || suffix > (uint64_t)(end - *pp)) return -1;
  memcpy(keybuf + shared, *pp, suffix);
  *pp += suffix;
  *keylen = (uint32_t)(shared + suffix);
  if (varint_read(pp, end, &df) || varint_read(pp, end, &cfx) || varint_read(pp, end, &po) ||
      varint_read(pp, end, &pl) || varint_read(pp, end, &xo) || varint_read(pp, end, &xl) ||
      varint_read(pp, end, &mt) || *pp >= end)
    return -1;
  te->df = (uint32_t)df;
  te->cf = df + cfx;
  te->post_off = po;
  te->post_len = pl;
  te->pos_off = xo;
  te->pos_len = xl;
  te->max_tf = (uint32_t)mt;
  te->min_norm = *(*pp)++;
  return 0;
}

static int keycmp(const char *a, uint32_t alen, const char *b, uint32_t blen) {
  uint32_t n = alen < blen ? alen : blen;
  int c = memcmp(a, b, n);
  if (c) return c;
  return alen < blen ? -1 : alen > blen;
}

int segment_term(const segment *s, uint32_t field, const char *term, size_t len, term_entry *te) {
  if (len > MAX_TERM || s->td_blocks == 0) return 0;
  char key[MAX_TERM + 2], cur[MAX_TERM + 2];
  key[0] = (char)field;
  memcpy(key + 1, term, len);
  uint32_t klen = (uint32_t)len + 1;
  const uint8_t *td = s->termdict.p, *end = td + s->termdict.len;
  /* binary search the last block whose first key ≤ key */
  uint32_t lo = 0, hi = s->td_blocks;
  uint64_t kp = key_prefix(key, klen);
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (s->td_prefix[mid] != kp) {
      if (s->td_prefix[mid] < kp) lo = mid;
      else hi = mid;
      continue;
    }
    /* equal prefixes: compare the block's first key (stored whole) in place */
    const uint8_t *p = td + rd_u32(s->termindex.p + 4 + 4 * (size_t)mid);
    uint64_t shared, slen;
    if (varint_read(&p, end, &shared) || varint_read(&p, end, &slen) || shared != 0 ||
        slen > (uint64_t)(end - p))
      return -1;
    if (keycmp((const char *)p, (uint32_t)slen, key, klen) <= 0) lo = mid;
    else hi = mid;
  }
  const uint8_t *p = td + rd_u32(s->termindex.p + 4 + 4 * (size_t)lo);
  uint32_t clen = 0;
  for (int i = 0; i < TD_BLOCK && p < end; i++) {
    if (read_entry(&p, end, cur, &clen, te)) return -1;
    int c = keycmp(cur, clen, key, klen);
    if (c == 0) {
      if (te->df == 0 || te->df > s->ndocs || te->post_off > s->postings.len ||
          te->post_len > s->postings.len - te->post_off || te->pos_off > s->positions_sec.len ||
          te->pos_len > s->positions_sec.len - te->pos_off)
        return -1;
      return 1;
    }
    if (c > 0) return 0;
  }
  return 0;
}

void segment_terms_begin(term_iter *it, const segment *s, uint32_t field) {
  it->seg = s;
  it->field = field;
  it->klen = 0;
  it->end = s->termdict.p + s->termdict.len;
  it->p = it->end;
  if (s->td_blocks == 0) return;
  /* the first block whose first key's field is >= field; the field's terms
     may begin in the block before it */
  uint32_t lo = 0, hi = s->td_blocks;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (s->td_prefix[mid] >> 56 < field) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) lo--;
  it->p = s->termdict.p + rd_u32(s->termindex.p + 4 + 4 * (size_t)lo);
}

int segment_terms_next(term_iter *it) {
  const segment *s = it->seg;
  for (;;) {
    if (it->p >= it->end) return 0;
    char prev[MAX_TERM + 2];
    uint32_t plen = it->klen;
    memcpy(prev, it->key, plen);
    const uint8_t *at = it->p;
    if (read_entry(&it->p, it->end, it->key, &it->klen, &it->te) || it->klen == 0) return -1;
    if (plen && keycmp(prev, plen, it->key, it->klen) >= 0) return -1;
    uint32_t f = (uint8_t)it->key[0];
    if (f < it->field) continue;
    if (f > it->field) {
      it->p = at; /* stays on the next field's first term */
      it->klen = plen;
      memcpy(it->key, prev, plen);
      return 0;
    }
    const term_entry *te = &it->te;
    if (te->df == 0 || te->df > s->ndocs || te->post_off > s->postings.len ||
        te->post_len > s->postings.len - te->post_off || te->pos_off > s->positions_sec.len ||
        te->pos_len > s->positions_sec.len - te->pos_off)
      return -1;
    return 1;
  }
}

int segment_doc_id(const segment *s, uint32_t doc, const char **id, size_t *len) {
  if (doc >= s->ndocs) return BLEND_ENOTFOUND;
  uint32_t a = rd_u32(s->ids.p + 4 * (size_t)doc), b = rd_u32(s->ids.p + 4 * (size_t)doc + 4);
  *id = (const char *)s->ids.p + 4 * ((size_t)s->ndocs + 1) + a;
  *len = b - a;
  return BLEND_OK;
}

void store_scratch_free(store_scratch *sc) {
  ZSTD_freeDCtx(sc->dctx);
  for (int i = 0; i < STORE_CACHE_BLOCKS; i++) bbuf_free(&sc->ent[i].raw);
  memset(sc, 0, sizeof *sc);
}

/* The decompressed block b of s, from the cache or loaded into its least
** recently used entry. */
static int load_store_block(const segment *s, store_scratch *sc, uint32_t b, const bbuf **out,
                            blend_error *err) {
  store_block_cache *victim = NULL; /* the first empty entry, else the least recently used */
  for (int i = 0; i < STORE_CACHE_BLOCKS; i++) {
    store_block_cache *c = &sc->ent[i];
    if (c->core && c->core == s->core && c->block == b) {
      c->used = ++sc->tick;
      *out = &c->raw;
      return BLEND_OK;
    }
    if (!c->core) {
      if (!victim || victim->core) victim = c;
    } else if (!victim || (victim->core && c->used < victim->used)) victim = c;
  }
  const uint8_t *e = s->storeindex.p + 4 + 16 * (size_t)b;
  uint64_t off = rd_u64(e + 4);
  uint32_t rawlen = rd_u32(e + 12);
  uint64_t next = b + 1 < s->store_blocks ? rd_u64(e + 16 + 4) : rd_u64(s->storeindex.p + 4 + 16 * (size_t)s->store_blocks);
  if (off > next || next > s->store.len || rawlen > (1u << 30))
    return blend_seterr(err, BLEND_ECORRUPT, "%s: stored-field block %u out of range", s->path, b);
  victim->core = NULL;
  /* a huge block (one big document) must not pin its buffer in the cache */
  if (victim->raw.cap > (1u << 20) && victim->raw.cap > 2 * ((size_t)rawlen + 1)) bbuf_free(&victim->raw);
  victim->raw.len = 0;
  if (bbuf_reserve(&victim->raw, (size_t)rawlen + 1)) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (!sc->dctx && !(sc->dctx = ZSTD_createDCtx()))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  size_t got = ZSTD_decompressDCtx(sc->dctx, victim->raw.data, rawlen, s->store.p + off, next - off);
  if (ZSTD_isError(got) || got != rawlen)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: stored-field block %u does not decompress", s->path, b);
  victim->raw.len = rawlen;
  victim->core = s->core;
  victim->block = b;
  victim->used = ++sc->tick;
  *out = &victim->raw;
  return BLEND_OK;
}

int segment_store_block(const segment *s, store_scratch *sc, uint32_t b, const uint8_t **raw, size_t *len,
                        uint32_t *first, uint32_t *last, blend_error *err) {
  if (b >= s->store_blocks) return blend_seterr(err, BLEND_ENOTFOUND, "no stored-field block %u", b);
  *first = rd_u32(s->storeindex.p + 4 + 16 * (size_t)b);
  *last = b + 1 < s->store_blocks ? rd_u32(s->storeindex.p + 4 + 16 * (size_t)(b + 1)) : s->ndocs;
  if (*first > *last || *last > s->ndocs)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: stored-field block %u has bad document numbers", s->path, b);
  const bbuf *bb = NULL;
  int rc = load_store_block(s, sc, b, &bb, err);
  if (rc) return rc;
  *raw = bb->data;
  *len = bb->len;
  return BLEND_OK;
}

int segment_doc_field(const segment *s, store_scratch *sc, uint32_t segno, uint32_t doc,
                      uint32_t field, const char **text, size_t *len, blend_error *err) {
  if (doc >= s->ndocs) return blend_seterr(err, BLEND_ENOTFOUND, "no document %u", doc);
  /* the block whose first_doc ≤ doc, by binary search */
  uint32_t lo = 0, hi = s->store_blocks;
  if (hi == 0) return blend_seterr(err, BLEND_ECORRUPT, "%s: no stored fields", s->path);
  while (hi - lo > 1) {
    uint32_t mid = (lo + hi) / 2;
    if (rd_u32(s->storeindex.p + 4 + 16 * (size_t)mid) <= doc) lo = mid;
    else hi = mid;
  }
  const bbuf *raw = NULL;
  int rc = load_store_block(s, sc, lo, &raw, err);
  if (rc) return rc;
  uint32_t first = rd_u32(s->storeindex.p + 4 + 16 * (size_t)lo);
  const uint8_t *p = raw->data, *end = p + raw->len;
  for (uint32_t d = first; d <= doc; d++) {
    uint64_t nf;
    if (varint_read(&p, end, &nf) || nf > MAX_FIELDS) goto bad;
    for (uint64_t f = 0; f < nf; f++) {
      uint64_t fid, l;
      if (varint_read(&p, end, &fid) || varint_read(&p, end, &l) || l > (uint64_t)(end - p)) goto bad;
      if (d == doc && fid == field) {
        *text = (const char *)p;
        *len = l;
        return BLEND_OK;
      }
      p += l;
    }
  }
  return blend_seterr(err, BLEND_ENOTFOUND, "document has no field '%s'",
                      field < s->nfields ? s->field_names[field] : "?");
bad:
  return blend_seterr(err, BLEND_ECORRUPT, "%s: stored fields of doc %u are malformed", s->path, doc);
}
