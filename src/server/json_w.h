/*
** json_w.h — writing JSON into a bbuf: strings escaped so the output is
** always valid JSON and valid UTF-8 (a control byte or NUL becomes \u00XX,
** an invalid UTF-8 sequence U+FFFD), numbers that round-trip, no NaN.
*/
#ifndef BLEND_SERVER_JSON_W_H
#define BLEND_SERVER_JSON_W_H

#include <stddef.h>
#include <string.h>

#include "util/util.h"

void jw_str(bbuf *b, const char *s, size_t n);
static inline void jw_cstr(bbuf *b, const char *s) { jw_str(b, s, strlen(s)); }
void jw_raw(bbuf *b, const char *s);
/* %.9g for floats' worth of digits; NaN and infinities become null. */
void jw_num(bbuf *b, double v);
void jw_u64(bbuf *b, uint64_t v);
/* "key": (with a leading comma unless first) */
void jw_key(bbuf *b, int *first, const char *key);

#endif
