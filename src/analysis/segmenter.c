/*
** segmenter.c — splits text into words following the core of Unicode
** UAX #29 word boundaries, as Lucene's StandardTokenizer does:
**   letters and digits join (WB5, WB8-10); a letter run continues across
**   one ' . : · ’ between letters (WB6/7); a digit run across one , . ; '
**   between digits (WB11/12); '_' joins (WB13a/b). Ideographs, kana and
**   hangul are returned one character at a time (SEG_CJK) for bigramming.
** Invalid UTF-8 bytes, punctuation, symbols and spaces separate words.
*/
#include <utf8proc.h>

#include "analysis/analysis.h"

enum cclass { C_OTHER, C_LETTER, C_DIGIT, C_EXTEND, C_UNDERSCORE, C_MIDLETTER, C_MIDNUM, C_MIDNUMLET, C_CJK };

static int is_cjk(int32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2FFFF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
         (c >= 0xFF66 && c <= 0xFF9F) || (c >= 0x1100 && c <= 0x11FF) ||
         (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x3130 && c <= 0x318F);
}

/* ASCII classes by table: most text is ASCII */
#define L C_LETTER
#define D C_DIGIT
static const uint8_t ascii_class[128] = {
    ['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D, ['5'] = D, ['6'] = D, ['7'] = D,
    ['8'] = D, ['9'] = D,
    ['a'] = L, ['b'] = L, ['c'] = L, ['d'] = L, ['e'] = L, ['f'] = L, ['g'] = L, ['h'] = L,
    ['i'] = L, ['j'] = L, ['k'] = L, ['l'] = L, ['m'] = L, ['n'] = L, ['o'] = L, ['p'] = L,
    ['q'] = L, ['r'] = L, ['s'] = L, ['t'] = L, ['u'] = L, ['v'] = L, ['w'] = L, ['x'] = L,
    ['y'] = L, ['z'] = L,
    ['A'] = L, ['B'] = L, ['C'] = L, ['D'] = L, ['E'] = L, ['F'] = L, ['G'] = L, ['H'] = L,
    ['I'] = L, ['J'] = L, ['K'] = L, ['L'] = L, ['M'] = L, ['N'] = L, ['O'] = L, ['P'] = L,
    ['Q'] = L, ['R'] = L, ['S'] = L, ['T'] = L, ['U'] = L, ['V'] = L, ['W'] = L, ['X'] = L,
    ['Y'] = L, ['Z'] = L,
    ['_'] = C_UNDERSCORE, [':'] = C_MIDLETTER, [','] = C_MIDNUM, [';'] = C_MIDNUM,
    ['.'] = C_MIDNUMLET, ['\''] = C_MIDNUMLET};
#undef L
#undef D

static enum cclass classify(int32_t c) {
  if (c < 0x80) return (enum cclass)ascii_class[c];
  if (is_cjk(c)) return C_CJK;
  switch (c) {
    case 0x00B7: case 0x0387: case 0x05F4: case 0x2027: case 0xFE13: case 0xFE55: case 0xFF1A:
      return C_MIDLETTER;
    case 0x2018: case 0x2019: case 0x2024: case 0xFE52: case 0xFF07: case 0xFF0E:
      return C_MIDNUMLET;
    case 0x066C: case 0xFE50: case 0xFE54: case 0xFF0C: case 0xFF1B:
      return C_MIDNUM;
    case 0x203F: case 0x2040: case 0x2054: case 0xFE33: case 0xFE34: case 0xFE4D:
    case 0xFE4E: case 0xFE4F: case 0xFF3F:
      return C_UNDERSCORE;
    default: break;
  }
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
      return C_LETTER;
    case UTF8PROC_CATEGORY_ND: return C_DIGIT;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
      return C_EXTEND;
    default: return C_OTHER;
  }
}

/* Decode one code point at s[i]; invalid bytes decode as -1 with length 1. */
static int32_t decode(const uint8_t *s, size_t len, size_t i, size_t *n) {
  if (s[i] < 0x80) {
    *n = 1;
    return s[i];
  }
  utf8proc_int32_t c;
  utf8proc_ssize_t r = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &c);
  if (r <= 0) {
    *n = 1;
    return -1;
  }
  *n = (size_t)r;
  return c;
}

int seg_next(const uint8_t *s, size_t len, size_t *pos, seg_token *tok) {
  size_t i = *pos, n;
  enum cclass cls = C_OTHER;
  /* skip separators */
  while (i < len) {
    if (s[i] < 0x80) {
      n = 1;
      cls = (enum cclass)ascii_class[s[i]];
    } else {
      int32_t c = decode(s, len, i, &n);
      cls = c < 0 ? C_OTHER : classify(c);
    }
    if (cls == C_LETTER || cls == C_DIGIT || cls == C_CJK) break;
    i += n;
  }
  if (i >= len) {
    *pos = len;
    return 0;
  }
  tok->start = i;
  int ascii = n == 1;
  if (cls == C_CJK) {
    tok->end = i + n;
    tok->kind = SEG_CJK;
    tok->ascii = 0;
    *pos = i + n;
    return 1;
  }
  enum cclass last = cls; /* last letter-or-digit class, for mid rules */
  i += n;
  while (i < len) {
    /* a run of ASCII letters or digits, the common case */
    while (i < len && s[i] < 0x80) {
      enum cclass a = (enum cclass)ascii_class[s[i]];
      if (a != C_LETTER && a != C_DIGIT) break;
      last = a;
      i++;
    }
    if (i >= len) break;
    int32_t c;
    enum cclass k;
    if (s[i] < 0x80) {
      c = s[i];
      n = 1;
      k = (enum cclass)ascii_class[c];
    } else {
      c = decode(s, len, i, &n);
      k = c < 0 ? C_OTHER : classify(c);
      ascii = 0;
    }
    if (k == C_LETTER || k == C_DIGIT) {
      last = k;
      i += n;
    } else if (k == C_EXTEND || k == C_UNDERSCORE) {
      i += n;
    } else if (k == C_MIDLETTER || k == C_MIDNUM || k == C_MIDNUMLET) {
      if (i + n >= len) break;
      size_t n2;
      int32_t c2 = decode(s, len, i + n, &n2);
      enum cclass k2 = c2 < 0 ? C_OTHER : classify(c2);
      if (n2 > 1) ascii = 0;
      int ok = 0;
      if (last == C_LETTER && k2 == C_LETTER) ok = (k == C_MIDLETTER || k == C_MIDNUMLET);
      else if (last == C_DIGIT && k2 == C_DIGIT) ok = (k == C_MIDNUM || k == C_MIDNUMLET);
      if (k == C_MIDNUMLET && c == '\'' && last == C_DIGIT) ok = 0;
      if (!ok) break;
      last = k2;
      i += n + n2;
    } else {
      break;
    }
  }
  tok->end = i;
  tok->kind = SEG_WORD;
  tok->ascii = ascii;
  *pos = i;
  return 1;
}
