/*
** strmap.c — open-addressing hash map from byte strings to uint32, with keys
** copied into chunked storage. Used for term dictionaries while indexing and
** for id lookups; lookups never allocate.
*/
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define INLINE_KEY 16

typedef struct slot {
  uint64_t hash;   /* 0 = empty */
  uint32_t len;
  uint32_t val;
  union {          /* keys up to INLINE_KEY bytes live in the slot: one
                      cache line per probe, no pointer chase */
    char inl[INLINE_KEY];
    const char *ptr; /* NUL-terminated copy in the chunks */
  } key;
} slot;

static inline const char *slot_key(const slot *s) {
  return s->len <= INLINE_KEY ? s->key.inl : s->key.ptr;
}

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  char data[];
} chunk;

struct strmap {
  slot *slots;
  size_t cap, count; /* cap is a power of two */
  chunk *chunks;
};

/* 8 bytes at a time, multiply-xorshift mixing: fast for short keys. */
uint64_t hash_bytes(const void *p, size_t n) {
  const uint8_t *s = p;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, s, 8);
    h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    s += 8;
    n -= 8;
  }
  uint64_t v = 0;
  memcpy(&v, s, n);
  h = (h ^ v) * 0x94d049bb133111ebull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h ? h : 1;
}

strmap *strmap_new(void) {
  strmap *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cap = 1024;
  m->slots = calloc(m->cap, sizeof(slot));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

void strmap_free(strmap *m) {
  if (!m) return;
  for (chunk *c = m->chunks, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(m->slots);
  free(m);
}

static const char *copy_key(strmap *m, const char *key, size_t len) {
  chunk *c = m->chunks;
  if (!c || c->used + len + 1 > c->cap) {
    size_t cap = len + 1 > 65536 ? len + 1 : 65536;
    c = malloc(sizeof(chunk) + cap);
    if (!c) return NULL;
    c->next = m->chunks;
    c->used = 0;
    c->cap = cap;
    m->chunks = c;
  }
  char *dst = c->data + c->used;
  memcpy(dst, key, len);
  dst[len] = 0;
  c->used += len + 1;
  return dst;
}

static int grow(strmap *m) {
  size_t ncap = m->cap * 2;
  slot *ns = calloc(ncap, sizeof(slot));
  if (!ns) return -1;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->slots[i].hash) continue;
    size_t j = m->slots[i].hash & (ncap - 1);
    while (ns[j].hash) j = (j + 1) & (ncap - 1);
    ns[j] = m->slots[i];
  }
  free(m->slots);
  m->slots = ns;
  m->cap = ncap;
  return 0;
}

static slot *find(const strmap *m, const char *key, size_t len, uint64_t h) {
  size_t j = h & (m->cap - 1);
  for (;;) {
    slot *s = &m->slots[j];
    if (!s->hash) return s;
    if (s->hash == h && s->len == len && memcmp(slot_key(s), key, len) == 0) return s;
    j = (j + 1) & (m->cap - 1);
  }
}

int strmap_upsert(strmap *m, const char *key, size_t len, uint32_t *val) {
  if ((m->count + 1) * 4 > m->cap * 3 && grow(m)) return -1;
  uint64_t h = hash_bytes(key, len);
  slot *s = find(m, key, len, h);
  if (s->hash) {
    *val = s->val;
    return 0;
  }
  if (len <= INLINE_KEY) {
    memcpy(s->key.inl, key, len);
  } else {
    const char *k = copy_key(m, key, len);
    if (!k) return -1;
    s->key.ptr = k;
  }
  s->hash = h;
  s->len = (uint32_t)len;
  s->val = *val;
  m->count++;
  return 1;
}

int strmap_get(const strmap *m, const char *key, size_t len, uint32_t *val) {
  slot *s = find(m, key, len, hash_bytes(key, len));
  if (!s->hash) return 0;
  *val = s->val;
  return 1;
}

void strmap_set(strmap *m, const char *key, size_t len, uint32_t val) {
  slot *s = find(m, key, len, hash_bytes(key, len));
  if (s->hash) s->val = val;
}

size_t strmap_count(const strmap *m) { return m->count; }

int strmap_next(const strmap *m, size_t *i, const char **key, size_t *len, uint32_t *val) {
  while (*i < m->cap) {
    slot *s = &m->slots[(*i)++];
    if (s->hash) {
      *key = slot_key(s);
      *len = s->len;
      *val = s->val;
      return 1;
    }
  }
  return 0;
}
