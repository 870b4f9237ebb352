/*
** query.h — the parsed query: clauses of analysed terms or phrases, each
** with an occurrence (should / must / must not) and a field (or the
** default fields). query.c parses the user syntax into it.
*/
#ifndef BLEND_SEARCH_QUERY_H
#define BLEND_SEARCH_QUERY_H

#include <stdint.h>

#include "blend.h"

enum occur { OCCUR_SHOULD = 0, OCCUR_MUST = 1, OCCUR_MUST_NOT = 2 };

#define QUERY_MAX_CLAUSES 1024
#define QUERY_MAX_PHRASE 32
#define QUERY_DEFAULT_FIELD (-1)

typedef struct qclause {
  int occur;
  int field;              /* index field number, or QUERY_DEFAULT_FIELD */
  uint32_t nterms;        /* 1 = term query, >1 = phrase */
  uint32_t term_off[QUERY_MAX_PHRASE]; /* offsets of NUL-terminated terms in query.text */
  uint32_t term_len[QUERY_MAX_PHRASE];
  uint32_t pos[QUERY_MAX_PHRASE];      /* relative positions (stopword gaps kept) */
  float boost;            /* repeated terms add up, as Anserini's bag of words */
  uint32_t display_off;   /* the terms joined by spaces (explain), in query.text */
} qclause;

typedef struct query {
  qclause *clauses;
  uint32_t nclauses, cap;
  char *text;             /* term storage */
  uint32_t text_len, text_cap;
} query;

/* Parse q with analyzer a; field names resolve through lookup(ctx, name)
** (returns field number or -1: then "name:" is plain text). */
typedef int (*field_lookup_fn)(void *ctx, const char *name, size_t len);
int query_parse(query *out, const char *q, blend_analyzer *a, field_lookup_fn lookup, void *ctx,
                blend_error *err);
void query_free(query *q);
static inline const char *qterm(const query *q, const qclause *c, uint32_t i) {
  return q->text + c->term_off[i];
}

#endif
