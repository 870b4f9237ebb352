/*
** qrels.c — relevance judgements: parse TREC qrels ("qid iter docid rel") or
** BEIR TSV ("query-id\tcorpus-id\tscore" with a header line), keep one
** judgement per (query, doc) — a repeated pair replaces the earlier value,
** last one wins — and precompute each query's relevant count and ideal gains.
*/
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

/* A field of a line: bytes [s, s + len). */
typedef struct field {
  const char *s;
  size_t len;
} field;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Split on runs of whitespace (tabs_only: on single tabs, trimming spaces
** around each field). Returns the number of fields found; at most max are
** stored, the count keeps going so callers can report it. */
static size_t split(const char *p, const char *end, int tabs_only, field *f, size_t max) {
  size_t n = 0;
  if (tabs_only) {
    for (;;) {
      const char *t = memchr(p, '\t', (size_t)(end - p));
      const char *fe = t ? t : end;
      const char *a = p, *b = fe;
      while (a < b && is_space(*a)) a++;
      while (b > a && is_space(b[-1])) b--;
      if (n < max) f[n] = (field){a, (size_t)(b - a)};
      n++;
      if (!t) break;
      p = t + 1;
    }
    return n;
  }
  while (p < end) {
    while (p < end && is_space(*p)) p++;
    if (p == end) break;
    const char *s = p;
    while (p < end && !is_space(*p)) p++;
    if (n < max) f[n] = (field){s, (size_t)(p - s)};
    n++;
  }
  return n;
}

/* Parse a decimal integer that fits in int32 (optional sign). */
static int parse_int(field f, int32_t *out) {
  size_t i = 0;
  int neg = 0;
  if (f.len && (f.s[0] == '-' || f.s[0] == '+')) neg = f.s[i++] == '-';
  if (i == f.len) return -1;
  int64_t v = 0;
  for (; i < f.len; i++) {
    if (f.s[i] < '0' || f.s[i] > '9') return -1;
    v = v * 10 + (f.s[i] - '0');
    if (v > (int64_t)INT32_MAX + 1) return -1;
  }
  if (neg) v = -v;
  if (v > INT32_MAX || v < INT32_MIN) return -1;
  *out = (int32_t)v;
  return 0;
}

void blend_qrels_free(blend_qrels *q) {
  if (!q) return;
  idtab_free(&q->ids);
  free(q->keys);
  free(q->rel);
  free(q->nrel);
  free(q->gstart);
  free(q->gains);
  free(q);
}

static int add_judgement(blend_qrels *qr, field qid, field doc, int32_t rel) {
  uint32_t q;
  if (idtab_query(&qr->ids, qid.s, qid.len, &q)) return -1;
  uint64_t h = pair_hash(q, doc.s, doc.len);
  uint32_t i = pairset_find(&qr->ids.sets[q], qr->keys, (const char *)qr->ids.strings.data, q, doc.s,
                            doc.len, h);
  if (i != UINT32_MAX) { /* repeated judgement: last one wins */
    qr->rel[i] = rel;
    qr->duplicates++;
    return 0;
  }
  if (qr->n == qr->cap) {
    if (qr->cap >= UINT32_MAX / 2) return -1;
    uint32_t ncap = qr->cap ? qr->cap * 2 : 256;
    eval_pair *k = realloc(qr->keys, (size_t)ncap * sizeof *k);
    if (!k) return -1;
    qr->keys = k;
    int32_t *r = realloc(qr->rel, (size_t)ncap * sizeof *r);
    if (!r) return -1;
    qr->rel = r;
    qr->cap = ncap;
  }
  uint32_t off;
  if (idtab_string(&qr->ids, doc.s, doc.len, &off)) return -1;
  qr->keys[qr->n] = (eval_pair){q, off};
  qr->rel[qr->n] = rel;
  if (pairset_insert(&qr->ids.sets[q], h, qr->n)) return -1;
  qr->n++;
  return 0;
}

static int cmp_desc(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x < y) - (x > y);
}

/* Per query: count of rel > 0 and those gains sorted descending. */
static int finish(blend_qrels *qr) {
  uint32_t nq = qr->ids.nq;
  qr->nrel = calloc(nq ? nq : 1, sizeof *qr->nrel);
  qr->gstart = calloc((size_t)nq + 1, sizeof *qr->gstart);
  if (!qr->nrel || !qr->gstart) return -1;
  size_t total = 0;
  for (uint32_t i = 0; i < qr->n; i++)
    if (qr->rel[i] > 0) qr->nrel[qr->keys[i].q]++, total++;
  qr->gains = malloc((total ? total : 1) * sizeof *qr->gains);
  if (!qr->gains) return -1;
  for (uint32_t q = 0; q < nq; q++) qr->gstart[q + 1] = qr->gstart[q] + qr->nrel[q];
  uint32_t *fill = calloc(nq ? nq : 1, sizeof *fill);
  if (!fill) return -1;
  for (uint32_t i = 0; i < qr->n; i++) {
    uint32_t q = qr->keys[i].q;
    if (qr->rel[i] > 0) qr->gains[qr->gstart[q] + fill[q]++] = qr->rel[i];
  }
  free(fill);
  for (uint32_t q = 0; q < nq; q++)
    qsort(qr->gains + qr->gstart[q], qr->nrel[q], sizeof *qr->gains, cmp_desc);
  return 0;
}

enum { MODE_UNKNOWN, MODE_TREC, MODE_COL3, MODE_TSV };

int eval_qrels_parse(const char *name, const char *data, size_t len, blend_qrels **out,
                     blend_error *err) {
  *out = NULL;
  blend_qrels *qr = calloc(1, sizeof *qr);
  if (!qr || idtab_init(&qr->ids)) {
    free(qr);
    return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", name);
  }
  int mode = MODE_UNKNOWN, tabs = 0;
  const char *p = data, *end = data + len;
  if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) p += 3; /* UTF-8 byte order mark */
  uint32_t lineno = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *line = p;
    p = nl ? nl + 1 : end;
    lineno++;
    if (memchr(line, 0, (size_t)(le - line))) {
      blend_qrels_free(qr);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: NUL byte in line", name, lineno);
    }
    const char *c = line;
    while (c < le && is_space(*c)) c++;
    if (c == le || *c == '#') continue; /* blank line or comment */
    field f[4];
    if (mode == MODE_UNKNOWN) {
      /* The first content line decides the format. */
      int has_tab = memchr(line, '\t', (size_t)(le - line)) != NULL;
      size_t n = split(line, le, has_tab, f, 4);
      int32_t tmp;
      if (n >= 1 && f[0].len == 8 && !memcmp(f[0].s, "query-id", 8)) {
        mode = MODE_TSV; /* BEIR header */
        tabs = has_tab;
        continue;
      }
      if (n == 3 && has_tab && parse_int(f[2], &tmp)) {
        mode = MODE_TSV; /* some other header: three tab-separated names */
        tabs = 1;
        continue;
      }
      n = split(line, le, 0, f, 4);
      if (n == 4) mode = MODE_TREC;
      else if (n == 3) mode = MODE_COL3, tabs = has_tab;
      else {
        blend_qrels_free(qr);
        return blend_seterr(err, BLEND_EINVAL,
                            "%s:%u: not qrels: expected 4 fields (qid iter docid rel) or a "
                            "BEIR header (query-id corpus-id score), found %zu fields",
                            name, lineno, n);
      }
    }
    size_t want = mode == MODE_TREC ? 4 : 3;
    size_t n = split(line, le, mode != MODE_TREC && tabs, f, 4);
    if (n != want) {
      blend_qrels_free(qr);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: expected %zu fields (%s), found %zu", name,
                          lineno, want,
                          want == 4 ? "qid iter docid rel" : "query-id corpus-id score", n);
    }
    field qid = f[0], doc = f[want == 4 ? 2 : 1], relf = f[want - 1];
    if (!qid.len || !doc.len) {
      blend_qrels_free(qr);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: empty %s", name, lineno,
                          qid.len ? "document id" : "query id");
    }
    int32_t rel;
    if (parse_int(relf, &rel)) {
      blend_qrels_free(qr);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: relevance '%.*s' is not an integer", name,
                          lineno, (int)(relf.len > 40 ? 40 : relf.len), relf.s);
    }
    if (add_judgement(qr, qid, doc, rel)) {
      blend_qrels_free(qr);
      return blend_seterr(err, BLEND_ENOMEM, "%s:%u: out of memory", name, lineno);
    }
  }
  if (!qr->n) {
    blend_qrels_free(qr);
    return blend_seterr(err, BLEND_EINVAL, "%s: no judgements", name);
  }
  if (finish(qr)) {
    blend_qrels_free(qr);
    return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", name);
  }
  *out = qr;
  return BLEND_OK;
}

int blend_qrels_load(const char *path, blend_qrels **out, blend_error *err) {
  char *data;
  size_t len;
  *out = NULL;
  int rc = file_read_all(path, &data, &len, err);
  if (rc) return rc;
  rc = eval_qrels_parse(path, data, len, out, err);
  free(data);
  return rc;
}

int32_t eval_qrels_rel(const blend_qrels *qr, uint32_t q, const char *doc, size_t len) {
  uint32_t i = pairset_find(&qr->ids.sets[q], qr->keys, (const char *)qr->ids.strings.data, q, doc, len,
                            pair_hash(q, doc, len));
  return i == UINT32_MAX ? 0 : qr->rel[i];
}

uint32_t blend_qrels_queries(const blend_qrels *q) { return q->ids.nq; }

const char *blend_qrels_query_id(const blend_qrels *q, uint32_t i) {
  return i < q->ids.nq ? (const char *)q->ids.strings.data + q->ids.qid[i] : NULL;
}

uint32_t blend_qrels_relevant(const blend_qrels *q, uint32_t i) {
  return i < q->ids.nq ? q->nrel[i] : 0;
}

uint64_t blend_qrels_duplicates(const blend_qrels *q) { return q->duplicates; }

int blend_qrels_get(const blend_qrels *qr, const char *qid, const char *docid, int *rel) {
  uint32_t q;
  if (!strmap_get(qr->ids.qmap, qid, strlen(qid), &q)) return 0;
  size_t len = strlen(docid);
  uint32_t i = pairset_find(&qr->ids.sets[q], qr->keys, (const char *)qr->ids.strings.data, q, docid,
                            len, pair_hash(q, docid, len));
  if (i == UINT32_MAX) return 0;
  if (rel) *rel = qr->rel[i];
  return 1;
}
