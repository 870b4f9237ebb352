/*
** query.c — parses blend's query syntax:
**   word        should match (BM25 over the default fields)
**   +word       must match          -word   must not match
**   "a phrase"  consecutive terms (stopword gaps kept), also +"..." -"..."
**   field:word  field:"a phrase"    (an unknown field name is plain text)
** Each word is analysed like the documents; a word yielding several terms
** ("covid-19") gives one clause per term. Repeated should-terms merge into
** one clause whose boost counts them (Anserini's bag-of-words queries).
** Limits: QUERY_MAX_CLAUSES clauses and QUERY_MAX_PHRASE terms per phrase;
** a query over either is refused (BLEND_EINVAL "query too complex"), never
** cut short.
*/
#include <stdlib.h>
#include <string.h>

#include "search/query.h"
#include "util/util.h"

typedef struct collect {
  query *q;
  qclause proto;
  int phrase;          /* collecting a phrase into proto */
  int failed;
  uint32_t over;       /* clauses beyond QUERY_MAX_CLAUSES (an error) */
  uint32_t phrase_terms; /* terms of the phrase being collected, all of them */
  uint32_t long_phrase;  /* terms of the first phrase over QUERY_MAX_PHRASE */
} collect;

static int add_text(query *q, const char *s, uint32_t len, uint32_t *off) {
  if (q->text_len + len + 1 > q->text_cap) {
    uint32_t cap = q->text_cap ? q->text_cap * 2 : 1024;
    while (cap < q->text_len + len + 1) cap *= 2;
    char *p = realloc(q->text, cap);
    if (!p) return -1;
    q->text = p;
    q->text_cap = cap;
  }
  *off = q->text_len;
  memcpy(q->text + q->text_len, s, len);
  q->text[q->text_len + len] = 0;
  q->text_len += len + 1;
  return 0;
}

static int add_clause(query *q, const qclause *c) {
  if (c->occur == OCCUR_SHOULD && c->nterms == 1) {
    for (uint32_t i = 0; i < q->nclauses; i++) {
      qclause *o = &q->clauses[i];
      if (o->occur == OCCUR_SHOULD && o->nterms == 1 && o->field == c->field &&
          o->term_len[0] == c->term_len[0] && !strcmp(qterm(q, o, 0), qterm(q, c, 0))) {
        o->boost += c->boost;
        return 0;
      }
    }
  }
  if (q->nclauses == QUERY_MAX_CLAUSES) return 1; /* the caller reports "too complex" */
  if (q->nclauses == q->cap) {
    uint32_t cap = q->cap ? q->cap * 2 : 16;
    qclause *p = realloc(q->clauses, cap * sizeof *p);
    if (!p) return -1;
    q->clauses = p;
    q->cap = cap;
  }
  q->clauses[q->nclauses++] = *c;
  return 0;
}

static int on_term(void *ctx, const blend_token *t) {
  collect *c = ctx;
  uint32_t off;
  if (add_text(c->q, t->term, t->term_len, &off)) {
    c->failed = 1;
    return -1;
  }
  if (c->phrase) {
    qclause *p = &c->proto;
    c->phrase_terms++;
    if (p->nterms < QUERY_MAX_PHRASE) {
      p->term_off[p->nterms] = off;
      p->term_len[p->nterms] = t->term_len;
      p->pos[p->nterms] = t->position;
      p->nterms++;
    }
    return 0;
  }
  qclause one = c->proto;
  one.nterms = 1;
  one.term_off[0] = off;
  one.term_len[0] = t->term_len;
  one.pos[0] = 0;
  one.display_off = off;
  int r = add_clause(c->q, &one);
  if (r < 0) {
    c->failed = 1;
    return -1;
  }
  if (r > 0) c->over++;
  return 0;
}

int query_parse(query *out, const char *q, blend_analyzer *a, field_lookup_fn lookup, void *ctx,
                blend_error *err) {
  out->nclauses = 0;
  out->text_len = 0;
  const char *p = q;
  collect c = {out, {0}, 0, 0, 0, 0, 0};
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    memset(&c.proto, 0, sizeof c.proto);
    c.proto.field = QUERY_DEFAULT_FIELD;
    c.proto.boost = 1.0f;
    c.phrase_terms = 0;
    if ((*p == '+' || *p == '-') && p[1] && p[1] != ' ' && p[1] != '\t') {
      c.proto.occur = *p == '+' ? OCCUR_MUST : OCCUR_MUST_NOT;
      p++;
    }
    /* field prefix */
    const char *colon = NULL;
    for (const char *s = p; *s && *s != ' ' && *s != '\t' && *s != '"' && *s != '\n'; s++)
      if (*s == ':') {
        colon = s;
        break;
      }
    if (colon && colon > p && lookup) {
      int f = lookup(ctx, p, (size_t)(colon - p));
      if (f >= 0) {
        c.proto.field = f;
        p = colon + 1;
      }
    }
    const char *start, *end;
    if (*p == '"') {
      start = ++p;
      while (*p && *p != '"') p++;
      end = p;
      if (*p == '"') p++;
      c.phrase = 1;
    } else {
      start = p;
      while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
      end = p;
      c.phrase = 0;
    }
    blend_analyze(a, start, (size_t)(end - start), on_term, &c);
    if (c.failed) return blend_seterr(err, BLEND_ENOMEM, "out of memory parsing the query");
    if (c.phrase && c.phrase_terms > QUERY_MAX_PHRASE && !c.long_phrase)
      c.long_phrase = c.phrase_terms;
    if (c.phrase && c.proto.nterms > 0) {
      uint32_t base = c.proto.pos[0];
      for (uint32_t i = 0; i < c.proto.nterms; i++) c.proto.pos[i] -= base;
      /* the display form: terms joined by spaces */
      char joined[QUERY_MAX_PHRASE * (256 + 1)];
      uint32_t at = 0;
      for (uint32_t i = 0; i < c.proto.nterms; i++) {
        if (i) joined[at++] = ' ';
        memcpy(joined + at, out->text + c.proto.term_off[i], c.proto.term_len[i]);
        at += c.proto.term_len[i];
      }
      if (add_text(out, joined, at, &c.proto.display_off))
        return blend_seterr(err, BLEND_ENOMEM, "out of memory");
      int r = add_clause(out, &c.proto);
      if (r < 0) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
      if (r > 0) c.over++;
    }
  }
  /* Cutting a query silently would answer a different question: refuse. */
  if (c.long_phrase)
    return blend_seterr(err, BLEND_EINVAL, "query too complex: a phrase of %u terms, limit %u",
                        c.long_phrase, QUERY_MAX_PHRASE);
  if (c.over)
    return blend_seterr(err, BLEND_EINVAL, "query too complex: %u clauses, limit %u",
                        QUERY_MAX_CLAUSES + c.over, QUERY_MAX_CLAUSES);
  return BLEND_OK;
}

void query_free(query *q) {
  free(q->clauses);
  free(q->text);
  memset(q, 0, sizeof *q);
}
