/*
** json_nul.c — marks U+0000 escapes of a JSON text before cJSON parses it
** (see json_nul.h for why). The rewrite keeps every byte offset, so a parse
** error still points at the right byte of the caller's line.
*/
#include <string.h>

#include "util/json_nul.h"

#define NMARKS 32 /* U+FDD0 .. U+FDEF: noncharacters, never in ordinary text */

int json_nul_suspect(const char *text, size_t len) {
  if (memchr(text, 0, len)) return 1;
  return memmem(text, len, "\\u0000", 6) != NULL;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Which of the NMARKS code points occur in text, raw or escaped. Escapes
** are walked left to right, an escaped backslash skipping the next byte. */
static unsigned long used_marks(const char *text, size_t len) {
  unsigned long used = 0;
  for (size_t i = 0; i < len; i++) {
    const unsigned char *u = (const unsigned char *)text + i;
    if (i + 2 < len && u[0] == 0xEF && u[1] == 0xB7 && u[2] >= 0x90 && u[2] <= 0xAF)
      used |= 1ul << (u[2] - 0x90);
    if (u[0] != '\\') continue;
    if (i + 5 < len && u[1] == 'u') {
      int h[4];
      for (int j = 0; j < 4; j++) h[j] = hexval(text[i + 2 + j]);
      if (h[0] == 15 && h[1] == 13 && (h[2] == 13 || h[2] == 14) && h[3] >= 0)
        used |= 1ul << ((h[2] - 13) * 16 + h[3]);
    }
    i++; /* the escaped character */
  }
  return used;
}

int json_nul_protect(char *text, size_t len, json_nul *st, size_t *bad) {
  st->active = 0;
  st->mark[0] = 0;
  const char *z = memchr(text, 0, len);
  if (z) {
    *bad = (size_t)(z - text);
    return -1;
  }
  if (!memmem(text, len, "\\u0000", 6)) return 0;
  unsigned long used = used_marks(text, len);
  int m = 0;
  while (m < NMARKS && (used >> m & 1)) m++;
  if (m == NMARKS) {
    *bad = 0;
    return -2;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i + 5 < len; i++) {
    if (text[i] != '\\') continue;
    if (memcmp(text + i + 1, "u0000", 5) == 0) {
      memcpy(text + i + 1, "ufd", 3);
      text[i + 4] = hex[(0xD0 + m) >> 4 & 15];
      text[i + 5] = hex[(0xD0 + m) & 15];
      st->active = 1;
    }
    i++; /* skip the escaped character: "\\\\" is one escape */
  }
  st->mark[0] = (char)0xEF;
  st->mark[1] = (char)0xB7;
  st->mark[2] = (char)(0x90 + m);
  st->mark[3] = 0;
  return 0;
}

int json_nul_has(const json_nul *st, const char *s) {
  return st->active && s && strstr(s, st->mark) != NULL;
}

size_t json_nul_strip(const json_nul *st, char *s) {
  if (!st->active || !s) return s ? strlen(s) : 0;
  char *w = s;
  for (const char *r = s; *r;) {
    if (r[0] == st->mark[0] && r[1] == st->mark[1] && r[2] == st->mark[2]) {
      r += 3;
      continue;
    }
    *w++ = *r++;
  }
  *w = 0;
  return (size_t)(w - s);
}
