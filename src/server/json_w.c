/*
** json_w.c — the JSON writer of the server's answers (see json_w.h).
** Allocation failures are sticky in the bbuf (a short answer at worst);
** http.c checks nothing else, so every writer here is total.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/json_w.h"

/* Length of a valid UTF-8 sequence at s[0..n), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned min, cp;
  if ((c & 0xE0) == 0xC0) k = 1, min = 0x80, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) k = 2, min = 0x800, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) k = 3, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (k >= n) return 0;
  for (size_t j = 1; j <= k; j++) {
    if ((s[j] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[j] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return k + 1;
}

void jw_str(bbuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  bbuf_putc(b, '"');
  size_t run = 0; /* bytes copied as they are, flushed in one append */
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i++;
      run++;
      continue;
    }
    if (c >= 0x80) {
      size_t k = utf8_seq(s + i, n - i);
      if (k) {
        i += k;
        run += k;
        continue;
      }
    }
    bbuf_append(b, s + i - run, run);
    run = 0;
    if (c == '"') bbuf_append(b, "\\\"", 2);
    else if (c == '\\') bbuf_append(b, "\\\\", 2);
    else if (c == '\n') bbuf_append(b, "\\n", 2);
    else if (c == '\t') bbuf_append(b, "\\t", 2);
    else if (c == '\r') bbuf_append(b, "\\r", 2);
    else if (c < 0x20) bbuf_printf(b, "\\u%04x", c);
    else bbuf_append(b, "\xEF\xBF\xBD", 3); /* an invalid byte: U+FFFD */
    i++;
  }
  bbuf_append(b, s + n - run, run);
  bbuf_putc(b, '"');
}

void jw_raw(bbuf *b, const char *s) { bbuf_append(b, s, strlen(s)); }

void jw_num(bbuf *b, double v) {
  if (!isfinite(v)) {
    jw_raw(b, "null");
    return;
  }
  bbuf_printf(b, "%.9g", v);
}

void jw_u64(bbuf *b, uint64_t v) { bbuf_printf(b, "%llu", (unsigned long long)v); }

void jw_key(bbuf *b, int *first, const char *key) {
  if (!*first) bbuf_putc(b, ',');
  *first = 0;
  jw_cstr(b, key);
  bbuf_putc(b, ':');
}
