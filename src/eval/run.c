/*
** run.c — retrieval runs: (qid, docid, score) triples built in memory or
** read from TREC run files ("qid Q0 docid rank score tag"), ranked the way
** trec_eval ranks them (the rank column is ignored: score descending, ties
** by docid in descending strcmp order) and written back in TREC format.
** A (qid, docid) pair may appear once: trec_eval rejects duplicates, and so
** does blend, at the line (or blend_run_add call) that repeats it.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

int blend_run_new(blend_run **out, blend_error *err) {
  blend_run *r = calloc(1, sizeof *r);
  if (!r || idtab_init(&r->ids)) {
    free(r);
    *out = NULL;
    return blend_seterr(err, BLEND_ENOMEM, "run: out of memory");
  }
  *out = r;
  return BLEND_OK;
}

void blend_run_free(blend_run *r) {
  if (!r) return;
  idtab_free(&r->ids);
  free(r->keys);
  free(r->score);
  free(r->line);
  free(r);
}

size_t blend_run_size(const blend_run *r) { return r->n; }

/* Add one triple. name/line locate it in a file for messages (line 0: API). */
static int run_add(blend_run *r, const char *qid, size_t qlen, const char *doc, size_t dlen,
                   double score, const char *name, uint32_t line, blend_error *err) {
  char where[300];
  if (line) snprintf(where, sizeof where, "%s:%u: ", name, line);
  else where[0] = 0;
  if (!qlen || !dlen)
    return blend_seterr(err, BLEND_EINVAL, "%sempty %s", where, qlen ? "document id" : "query id");
  if (!isfinite(score))
    return blend_seterr(err, BLEND_EINVAL, "%sscore of '%.*s' is not a finite number", where,
                        (int)(dlen > 60 ? 60 : dlen), doc);
  uint32_t q;
  if (idtab_query(&r->ids, qid, qlen, &q))
    return blend_seterr(err, BLEND_ENOMEM, "%sout of memory", where);
  uint64_t h = pair_hash(q, doc, dlen);
  uint32_t i =
      pairset_find(&r->ids.sets[q], r->keys, (const char *)r->ids.strings.data, q, doc, dlen, h);
  if (i != UINT32_MAX) {
    char first[40] = "";
    if (r->line[i]) snprintf(first, sizeof first, " (first on line %u)", r->line[i]);
    return blend_seterr(err, BLEND_EINVAL, "%sduplicate document '%.*s' for query '%.*s'%s",
                        where, (int)(dlen > 60 ? 60 : dlen), doc, (int)(qlen > 60 ? 60 : qlen),
                        qid, first);
  }
  if (r->n == r->cap) {
    if (r->cap >= UINT32_MAX / 2) return blend_seterr(err, BLEND_ENOMEM, "%srun too large", where);
    uint32_t ncap = r->cap ? r->cap * 2 : 1024;
    eval_pair *k = realloc(r->keys, (size_t)ncap * sizeof *k);
    if (k) r->keys = k;
    double *s = k ? realloc(r->score, (size_t)ncap * sizeof *s) : NULL;
    if (s) r->score = s;
    uint32_t *l = s ? realloc(r->line, (size_t)ncap * sizeof *l) : NULL;
    if (!l) return blend_seterr(err, BLEND_ENOMEM, "%sout of memory", where);
    r->line = l;
    r->cap = ncap;
  }
  uint32_t off;
  if (idtab_string(&r->ids, doc, dlen, &off) || pairset_insert(&r->ids.sets[q], h, r->n))
    return blend_seterr(err, BLEND_ENOMEM, "%sout of memory", where);
  r->keys[r->n] = (eval_pair){q, off};
  r->score[r->n] = score;
  r->line[r->n] = line;
  r->n++;
  return BLEND_OK;
}

int blend_run_add(blend_run *r, const char *qid, const char *docid, double score,
                  blend_error *err) {
  return run_add(r, qid, strlen(qid), docid, strlen(docid), score, NULL, 0, err);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

int eval_run_parse(const char *name, const char *data, size_t len, blend_run **out,
                   blend_error *err) {
  blend_run *r;
  *out = NULL;
  int rc = blend_run_new(&r, err);
  if (rc) return rc;
  const char *p = data, *end = data + len;
  if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) p += 3; /* UTF-8 byte order mark */
  uint32_t lineno = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end, *c = p;
    p = nl ? nl + 1 : end;
    lineno++;
    if (memchr(c, 0, (size_t)(le - c))) {
      blend_run_free(r);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: NUL byte in line", name, lineno);
    }
    while (c < le && is_space(*c)) c++;
    if (c == le || *c == '#') continue; /* blank lines and comments, as trec_eval */
    /* Fields: qid Q0 docid rank score tag; anything after the tag is ignored
    ** (as trec_eval does). */
    const char *fs[6];
    size_t fl[6], n = 0;
    while (c < le && n < 6) {
      const char *s = c;
      while (c < le && !is_space(*c)) c++;
      fs[n] = s;
      fl[n++] = (size_t)(c - s);
      while (c < le && is_space(*c)) c++;
    }
    if (n < 6) {
      blend_run_free(r);
      return blend_seterr(err, BLEND_EINVAL,
                          "%s:%u: expected 6 fields (qid Q0 docid rank score tag), found %zu",
                          name, lineno, n);
    }
    char num[64];
    double score = 0;
    int ok = fl[4] < sizeof num;
    if (ok) {
      memcpy(num, fs[4], fl[4]);
      num[fl[4]] = 0;
      char *e;
      score = strtod(num, &e);
      ok = e != num && *e == 0;
    }
    if (!ok) {
      blend_run_free(r);
      return blend_seterr(err, BLEND_EINVAL, "%s:%u: score '%.*s' is not a number", name, lineno,
                          (int)(fl[4] > 40 ? 40 : fl[4]), fs[4]);
    }
    rc = run_add(r, fs[0], fl[0], fs[2], fl[2], score, name, lineno, err);
    if (rc) {
      blend_run_free(r);
      return rc;
    }
  }
  *out = r;
  return BLEND_OK;
}

int blend_run_load(const char *path, blend_run **out, blend_error *err) {
  char *data;
  size_t len;
  *out = NULL;
  int rc = file_read_all(path, &data, &len, err);
  if (rc) return rc;
  rc = eval_run_parse(path, data, len, out, err);
  free(data);
  return rc;
}

typedef struct rank_item {
  double score;
  const char *doc;
  uint32_t idx;
} rank_item;

/* trec_eval's comp_sim_docno: higher score first, then strcmp(b, a). */
static int cmp_trec(const void *a, const void *b) {
  const rank_item *x = a, *y = b;
  if (x->score > y->score) return -1;
  if (x->score < y->score) return 1;
  return strcmp(y->doc, x->doc);
}

int eval_run_rank(const blend_run *r, uint32_t **start_out, uint32_t **order_out,
                  blend_error *err) {
  uint32_t nq = r->ids.nq;
  uint32_t *start = calloc((size_t)nq + 2, sizeof *start);
  uint32_t *order = malloc((r->n ? r->n : 1) * sizeof *order);
  uint32_t maxlen = 0;
  if (!start || !order) goto oom;
  /* Counting sort by query (stable: entries keep insertion order). */
  for (uint32_t i = 0; i < r->n; i++) start[r->keys[i].q + 2]++;
  for (uint32_t q = 0; q < nq; q++) {
    if (start[q + 2] > maxlen) maxlen = start[q + 2];
    start[q + 2] += start[q + 1];
  }
  for (uint32_t i = 0; i < r->n; i++) order[start[r->keys[i].q + 1]++] = i;
  /* Now start[q] is the beginning of query q. Sort each slice. */
  rank_item *tmp = malloc((maxlen ? maxlen : 1) * sizeof *tmp);
  if (!tmp) goto oom;
  const char *strings = (const char *)r->ids.strings.data;
  for (uint32_t q = 0; q < nq; q++) {
    uint32_t a = start[q], n = start[q + 1] - a;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t e = order[a + j];
      tmp[j] = (rank_item){r->score[e], strings + r->keys[e].doc, e};
    }
    qsort(tmp, n, sizeof *tmp, cmp_trec);
    for (uint32_t j = 0; j < n; j++) order[a + j] = tmp[j].idx;
  }
  free(tmp);
  *start_out = start;
  *order_out = order;
  return BLEND_OK;
oom:
  free(start);
  free(order);
  *start_out = *order_out = NULL;
  return blend_seterr(err, BLEND_ENOMEM, "run: out of memory while ranking");
}

/* Shortest %g text that reads back as exactly v (so a written run ranks
** exactly like the in-memory one). Starting at 9 digits loses nothing: if
** a shorter decimal reads back as v, v lies within 1e-16 of it, so %.9g
** rounds to that decimal and strips the trailing zeros. */
static void format_score(char *buf, size_t cap, double v) {
  for (int prec = 9; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

int blend_run_write(const blend_run *r, const char *path, const char *tag, blend_error *err) {
  if (!tag || !*tag) tag = "blend";
  for (const char *t = tag; *t; t++)
    if (is_space(*t) || *t == '\n')
      return blend_seterr(err, BLEND_EINVAL, "run tag '%s' contains whitespace", tag);
  /* Ids from blend_run_add may hold whitespace, which TREC files cannot. */
  const char *strings = (const char *)r->ids.strings.data;
  for (size_t i = 0; i < r->ids.strings.len; i++)
    if (is_space(strings[i]) || strings[i] == '\n') {
      size_t s = i;
      while (s > 0 && strings[s - 1]) s--;
      return blend_seterr(err, BLEND_EINVAL, "id '%s' contains whitespace: not writable as a TREC run",
                          strings + s);
    }
  uint32_t *start, *order;
  int rc = eval_run_rank(r, &start, &order, err);
  if (rc) return rc;
  FILE *f = fopen(path, "w");
  if (!f) {
    free(start);
    free(order);
    return blend_seterr(err, BLEND_EIO, "%s: cannot create: %s", path, strerror(errno));
  }
  char num[64];
  for (uint32_t q = 0; q < r->ids.nq; q++) {
    for (uint32_t j = start[q]; j < start[q + 1]; j++) {
      uint32_t e = order[j];
      format_score(num, sizeof num, r->score[e]);
      fprintf(f, "%s Q0 %s %u %s %s\n", strings + r->ids.qid[q], strings + r->keys[e].doc,
              j - start[q] + 1, num, tag);
    }
  }
  free(start);
  free(order);
  int bad = ferror(f);
  if (fclose(f) || bad)
    return blend_seterr(err, BLEND_EIO, "%s: write error: %s", path, strerror(errno));
  return BLEND_OK;
}
