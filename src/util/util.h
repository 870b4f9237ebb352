/*
** util.h — small shared pieces: error reporting into blend_error, growable
** byte buffers, a string→u32 hash map, file mapping and atomic file writes.
** Every module includes this; nothing here keeps global state.
*/
#ifndef BLEND_UTIL_H
#define BLEND_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blend.h"

/* Fill err (if non-NULL) and return code. */
int blend_seterr(blend_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void blend_clearerr(blend_error *err);

/* ---- growable byte buffer */
typedef struct bbuf {
  uint8_t *data;
  size_t len, cap;
} bbuf;

int bbuf_reserve(bbuf *b, size_t extra);            /* 0 or -1 (ENOMEM) */
int bbuf_append(bbuf *b, const void *p, size_t n);
int bbuf_putc(bbuf *b, uint8_t c);
int bbuf_put_u32(bbuf *b, uint32_t v);              /* little-endian */
int bbuf_put_u64(bbuf *b, uint64_t v);
int bbuf_printf(bbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bbuf_free(bbuf *b);

/* Append a LEB128 varint (inline: the indexer's hottest call). */
static inline int bbuf_put_varint(bbuf *b, uint64_t v) {
  if (b->cap - b->len < 10 && bbuf_reserve(b, 10)) return -1;
  uint8_t *p = b->data + b->len;
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  b->len = (size_t)(p - b->data);
  return 0;
}

/* Read a LEB128 varint from [*pp, end); returns -1 on truncation/overflow. */
static inline int varint_read(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  if (p < end && *p < 0x80) { /* the common one-byte case */
    *out = *p;
    *pp = p + 1;
    return 0;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) return -1;
    uint8_t c = *p++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *pp = p;
      *out = v;
      return 0;
    }
  }
  return -1;
}

static inline uint32_t rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd_u64(const uint8_t *p) {
  return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}
static inline void wr_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* ---- string → uint32 hash map (open addressing; keys are copied into an
** internal arena so callers may pass transient strings) */
typedef struct strmap strmap;
strmap *strmap_new(void);
void strmap_free(strmap *m);
/* Find key; if absent insert it with value *val. Returns 1 if inserted,
** 0 if found (then *val receives the stored value), -1 on ENOMEM. */
int strmap_upsert(strmap *m, const char *key, size_t len, uint32_t *val);
/* Returns 1 and *val if present, else 0. */
int strmap_get(const strmap *m, const char *key, size_t len, uint32_t *val);
void strmap_set(strmap *m, const char *key, size_t len, uint32_t val); /* key must exist */
size_t strmap_count(const strmap *m);
/* Iterate: i from 0 while strmap_next returns 1. Keys are not NUL-terminated
** and are valid until the next insertion. */
int strmap_next(const strmap *m, size_t *i, const char **key, size_t *len, uint32_t *val);

uint64_t hash_bytes(const void *p, size_t n);      /* FNV-1a-ish 64-bit */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* ---- files */
typedef struct mapped_file {
  const uint8_t *data;
  size_t size;
} mapped_file;

int file_map(const char *path, mapped_file *out, blend_error *err);
void file_unmap(mapped_file *m);
/* Read a whole file into malloc'd memory (NUL-terminated). */
int file_read_all(const char *path, char **data, size_t *len, blend_error *err);
/* Write data to path via a temp file + fsync + rename (atomic replace). */
int file_write_atomic(const char *path, const void *data, size_t len, blend_error *err);
/* Write data to a new file and fsync it (no rename). */
int file_write_sync(const char *path, const void *data, size_t len, blend_error *err);
int dir_fsync(const char *dir, blend_error *err);
int dir_ensure(const char *dir, blend_error *err);

/* Monotonic clock in seconds. */
double now_seconds(void);

#endif
