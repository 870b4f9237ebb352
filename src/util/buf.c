/*
** buf.c — growable byte buffer (bbuf) and LEB128 varints.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int bbuf_reserve(bbuf *b, size_t extra) {
  if (b->len + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra) cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int bbuf_append(bbuf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  if (bbuf_reserve(b, n)) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int bbuf_putc(bbuf *b, uint8_t c) {
  if (b->len == b->cap && bbuf_reserve(b, 1)) return -1;
  b->data[b->len++] = c;
  return 0;
}

int bbuf_put_u32(bbuf *b, uint32_t v) {
  uint8_t t[4];
  wr_u32(t, v);
  return bbuf_append(b, t, 4);
}

int bbuf_put_u64(bbuf *b, uint64_t v) {
  return bbuf_put_u32(b, (uint32_t)v) | bbuf_put_u32(b, (uint32_t)(v >> 32));
}

int bbuf_printf(bbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || bbuf_reserve(b, (size_t)n + 1)) return -1;
  va_start(ap, fmt);
  vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void bbuf_free(bbuf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
