/*
** json_nul.h — embedded U+0000 in JSON strings, around cJSON.
**
** cJSON hands out strings NUL-terminated and without a length, so
** "nul\u0000char" reads back as "nul": a silent cut (and two ids "b\u0000x"
** and "b\u0000y" collide as "b"). json_nul_protect() rewrites, in place and
** at the same length, every \u0000 escape of a JSON text into the escape of
** a Unicode noncharacter (U+FDD0..U+FDEF) that the text does not otherwise
** contain. After cJSON has parsed it, that marker shows where each NUL was:
** callers reject strings holding it (ids, keys: json_nul_has) or drop it
** (text, as Hugging Face's BERT tokenizer drops U+0000: json_nul_strip).
*/
#ifndef BLEND_UTIL_JSON_NUL_H
#define BLEND_UTIL_JSON_NUL_H

#include <stddef.h>

typedef struct json_nul {
  int active;   /* 1: the text held \u0000 escapes, now markers */
  char mark[4]; /* the marker's UTF-8 (3 bytes) + NUL */
} json_nul;

/* 1 when text[0..len) needs json_nul_protect (a raw 0x00 byte or a "\u0000"
** sequence): the common case costs two memchr-speed scans. */
int json_nul_suspect(const char *text, size_t len);

/* Rewrite text[0..len) in place. Returns 0 (st->active says whether any
** escape was rewritten), or -1 with *bad = the offset of a raw 0x00 byte
** (invalid JSON: a string needs the escape), or -2 when every marker
** candidate already occurs in the text (*bad = 0). */
int json_nul_protect(char *text, size_t len, json_nul *st, size_t *bad);

/* Does s (a string cJSON decoded from the protected text) hold a NUL? */
int json_nul_has(const json_nul *st, const char *s);

/* Remove the markers from s in place; returns the new strlen(s). */
size_t json_nul_strip(const json_nul *st, char *s);

#endif
