/*
** ids.c — id storage shared by qrels and runs: query ids interned to dense
** indices, document ids in one string arena, and a hash set that finds the
** entry for a (query, document) pair in O(1) so evaluating thousands of
** queries never scans per-query lists.
*/
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

uint64_t pair_hash(uint32_t q, const char *doc, size_t len) {
  uint64_t h = hash_bytes(doc, len) ^ ((uint64_t)q * 0x9e3779b97f4a7c15ull);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  return h;
}

static int key_equal(const eval_pair *k, const char *strings, uint32_t q, const char *doc,
                     size_t len) {
  if (k->q != q) return 0;
  const char *s = strings + k->doc;
  return memcmp(s, doc, len) == 0 && s[len] == 0;
}

uint32_t pairset_find(const pairset *s, const eval_pair *keys, const char *strings, uint32_t q,
                      const char *doc, size_t len, uint64_t h) {
  if (!s->cap) return UINT32_MAX;
  size_t mask = s->cap - 1, j = (size_t)h & mask;
  uint32_t h32 = (uint32_t)h;
  for (;;) {
    uint32_t e = s->idx[j];
    if (!e) return UINT32_MAX;
    if (s->hash[j] == h32 && key_equal(&keys[e - 1], strings, q, doc, len)) return e - 1;
    j = (j + 1) & mask;
  }
}

static void place(uint32_t *idx, uint32_t *hash, size_t cap, uint64_t h, uint32_t e) {
  size_t mask = cap - 1, j = (size_t)h & mask;
  while (idx[j]) j = (j + 1) & mask;
  idx[j] = e;
  hash[j] = (uint32_t)h;
}

int pairset_insert(pairset *s, uint64_t h, uint32_t i) {
  if ((s->count + 1) * 2 > s->cap) {
    /* The full hash is not kept, so slots are re-placed from the stored low
    ** 32 bits: the table never exceeds 2^32 slots, so those bits suffice. */
    size_t ncap = s->cap ? s->cap * 2 : 64;
    if (ncap > ((size_t)1 << 32)) return -1;
    uint32_t *ni = calloc(ncap, sizeof *ni), *nh = malloc(ncap * sizeof *nh);
    if (!ni || !nh) {
      free(ni);
      free(nh);
      return -1;
    }
    for (size_t j = 0; j < s->cap; j++)
      if (s->idx[j]) place(ni, nh, ncap, s->hash[j], s->idx[j]);
    free(s->idx);
    free(s->hash);
    s->idx = ni;
    s->hash = nh;
    s->cap = ncap;
  }
  place(s->idx, s->hash, s->cap, h, i + 1);
  s->count++;
  return 0;
}

void pairset_free(pairset *s) {
  free(s->idx);
  free(s->hash);
  memset(s, 0, sizeof *s);
}

int idtab_init(idtab *t) {
  memset(t, 0, sizeof *t);
  t->qmap = strmap_new();
  return t->qmap ? 0 : -1;
}

void idtab_free(idtab *t) {
  strmap_free(t->qmap);
  bbuf_free(&t->strings);
  free(t->qid);
  memset(t, 0, sizeof *t);
}

int idtab_string(idtab *t, const char *s, size_t len, uint32_t *off) {
  if (t->strings.len + len + 1 > UINT32_MAX) return -1; /* offsets are 32-bit */
  *off = (uint32_t)t->strings.len;
  if (bbuf_append(&t->strings, s, len) || bbuf_putc(&t->strings, 0)) return -1;
  return 0;
}

int idtab_query(idtab *t, const char *qid, size_t len, uint32_t *q) {
  if (strmap_get(t->qmap, qid, len, q)) return 0;
  /* New query: make room first so a failure leaves the table consistent. */
  if (t->nq == t->qcap) {
    if (t->qcap >= UINT32_MAX / 2) return -1;
    uint32_t ncap = t->qcap ? t->qcap * 2 : 64;
    uint32_t *n = realloc(t->qid, (size_t)ncap * sizeof *n);
    if (!n) return -1;
    t->qid = n;
    t->qcap = ncap;
  }
  uint32_t off, v = t->nq;
  if (idtab_string(t, qid, len, &off)) return -1;
  if (strmap_upsert(t->qmap, qid, len, &v) < 0) return -1;
  t->qid[t->nq] = off;
  *q = t->nq++;
  return 0;
}
