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
  uint32_t mask = s->cap - 1, j = (uint32_t)h & mask, h32 = (uint32_t)h;
  for (;;) {
    pairslot e = s->slot[j];
    if (!e.idx) return UINT32_MAX;
    if (e.hash == h32 && key_equal(&keys[e.idx - 1], strings, q, doc, len)) return e.idx - 1;
    j = (j + 1) & mask;
  }
}

static void place(pairslot *slot, uint32_t cap, uint32_t h32, uint32_t e) {
  uint32_t mask = cap - 1, j = h32 & mask;
  while (slot[j].idx) j = (j + 1) & mask;
  slot[j] = (pairslot){e, h32};
}

int pairset_insert(pairset *s, uint64_t h, uint32_t i) {
  if (((uint64_t)s->count + 1) * 2 > s->cap) {
    /* Slots are re-placed from the stored low 32 bits of the hash: tables
    ** never exceed 2^31 slots, so those bits suffice. */
    if (s->cap >= (1u << 31)) return -1;
    uint32_t ncap = s->cap ? s->cap * 2 : 4;
    pairslot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (uint32_t j = 0; j < s->cap; j++)
      if (s->slot[j].idx) place(ns, ncap, s->slot[j].hash, s->slot[j].idx);
    free(s->slot);
    s->slot = ns;
    s->cap = ncap;
  }
  place(s->slot, s->cap, (uint32_t)h, i + 1);
  s->count++;
  return 0;
}

void pairset_free(pairset *s) {
  free(s->slot);
  memset(s, 0, sizeof *s);
}

int idtab_init(idtab *t) {
  memset(t, 0, sizeof *t);
  t->qmap = strmap_new();
  return t->qmap ? 0 : -1;
}

void idtab_free(idtab *t) {
  for (uint32_t q = 0; q < t->nq; q++) pairset_free(&t->sets[q]);
  free(t->sets);
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
    pairset *ps = realloc(t->sets, (size_t)ncap * sizeof *ps);
    if (!ps) return -1;
    t->sets = ps;
    t->qcap = ncap;
  }
  uint32_t off, v = t->nq;
  if (idtab_string(t, qid, len, &off)) return -1;
  if (strmap_upsert(t->qmap, qid, len, &v) < 0) return -1;
  t->qid[t->nq] = off;
  memset(&t->sets[t->nq], 0, sizeof *t->sets);
  *q = t->nq++;
  return 0;
}
