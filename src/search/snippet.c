/*
** snippet.c — a short excerpt of a stored field around the densest run of
** query-term matches, with the matches wrapped in caller-chosen markers.
** Matching uses the index's analyzer, so "running" highlights "runs".
*/
#include <stdlib.h>
#include <string.h>

#include "search/search.h"

typedef struct span {
  uint32_t start, end;
  uint32_t clause; /* which query term matched (distinct terms rank windows) */
} span;

typedef struct snip_ctx {
  const query *q;
  span *spans;
  uint32_t n, cap;
  int failed;
} snip_ctx;

static int on_doc_token(void *ctx, const blend_token *t) {
  snip_ctx *c = ctx;
  int hit = 0;
  uint32_t clause = 0;
  for (uint32_t i = 0; i < c->q->nclauses && !hit; i++) {
    const qclause *cl = &c->q->clauses[i];
    if (cl->occur == OCCUR_MUST_NOT) continue;
    for (uint32_t k = 0; k < cl->nterms; k++)
      if (cl->term_len[k] == t->term_len && !memcmp(qterm(c->q, cl, k), t->term, t->term_len)) {
        hit = 1;
        clause = i * QUERY_MAX_PHRASE + k;
        break;
      }
  }
  if (!hit) return 0;
  if (c->n == c->cap) {
    uint32_t cap = c->cap ? c->cap * 2 : 64;
    span *p = realloc(c->spans, cap * sizeof *p);
    if (!p) {
      c->failed = 1;
      return -1;
    }
    c->spans = p;
    c->cap = cap;
  }
  c->spans[c->n++] = (span){t->start, t->end, clause};
  return 0;
}

/* Move i back to a UTF-8 character start. */
static size_t char_start(const char *s, size_t i) {
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
  return i;
}

static int put_text(bbuf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (bbuf_putc(b, (uint8_t)c)) return -1;
  }
  return 0;
}

int blend_searcher_snippet(blend_searcher *s, uint32_t doc, const char *field, const char *qtext,
                           size_t max_bytes, const char *open, const char *close, const char **out,
                           blend_error *err) {
  const char *text;
  size_t len;
  int rc = blend_searcher_doc_field(s, doc, field, &text, &len, err);
  if (rc) return rc;
  if (max_bytes < 16) max_bytes = 16;
  query q = {0};
  rc = searcher_parse(s, &q, qtext ? qtext : "", err);
  if (rc) {
    query_free(&q);
    return rc;
  }
  snip_ctx c = {&q, NULL, 0, 0, 0};
  blend_analyze(searcher_analyzer(s), text, len, on_doc_token, &c);
  /* best window: the start match whose window holds the most distinct
     query terms, then the most matches */
  uint32_t best = 0, best_count = 0;
  uint64_t best_rank = 0;
  for (uint32_t i = 0, j = 0; i < c.n; i++) {
    if (j < i) j = i;
    while (j < c.n && c.spans[j].end - c.spans[i].start <= max_bytes) j++;
    uint64_t seen = 0;
    for (uint32_t k = i; k < j; k++) seen |= 1ull << (c.spans[k].clause % 63);
    uint64_t rank = (uint64_t)__builtin_popcountll(seen) << 32 | (j - i);
    if (rank > best_rank) {
      best_rank = rank;
      best_count = j - i;
      best = i;
    }
  }
  size_t from = 0;
  if (best_count > 0) {
    size_t lead = max_bytes / 5;
    from = c.spans[best].start > lead ? c.spans[best].start - lead : 0;
    /* start at a word boundary */
    while (from > 0 && from < c.spans[best].start && text[from - 1] != ' ') from++;
  }
  from = char_start(text, from);
  size_t to = from + max_bytes < len ? from + max_bytes : len;
  if (to < len) {
    size_t t2 = to;
    while (t2 > from && text[t2] != ' ') t2--;
    if (t2 > from) to = t2;
    to = char_start(text, to);
  }
  bbuf *b = searcher_snippet_buf(s);
  b->len = 0;
  int bad = 0;
  if (from > 0) bad |= bbuf_append(b, "…", strlen("…"));
  size_t at = from;
  for (uint32_t i = 0; i < c.n && !bad; i++) {
    if (c.spans[i].start < at || c.spans[i].end > to) continue;
    bad |= put_text(b, text + at, c.spans[i].start - at);
    bad |= bbuf_append(b, open, strlen(open));
    bad |= put_text(b, text + c.spans[i].start, c.spans[i].end - c.spans[i].start);
    bad |= bbuf_append(b, close, strlen(close));
    at = c.spans[i].end;
  }
  if (!bad && at < to) bad |= put_text(b, text + at, to - at);
  if (!bad && to < len) bad |= bbuf_append(b, "…", strlen("…"));
  bad |= bbuf_putc(b, 0);
  free(c.spans);
  query_free(&q);
  if (bad || c.failed) return blend_seterr(err, BLEND_ENOMEM, "out of memory building a snippet");
  b->len--;
  *out = (const char *)b->data;
  return BLEND_OK;
}
