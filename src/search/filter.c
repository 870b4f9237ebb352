/*
** filter.c — blend_filter: conditions on metadata fields (=, !=, <, <=, >,
** >=) and an id allow-list, evaluated per segment into a bitmap of allowed
** documents by scanning the metadata columns (O(documents) per segment and
** query, a few microseconds per thousand documents). Lexical search skips
** documents outside the bitmap at collection; dense search passes it to
** the vector search, which honours it during graph traversal.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/filter.h"
#include "vector/vector.h"

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
#define FILTER_MAX_CONDS 64 /* a segment's columns are looked up once per condition, into a stack array */

typedef struct cond {
  char field[64];
  int op;
  int is_num;      /* the value parses as a number */
  double num;
  char *str;
  size_t len;
} cond;

struct blend_filter {
  cond *conds;
  uint32_t n, cap;
  strmap *ids;     /* allow-list, NULL: none */
};

int blend_filter_new(blend_filter **out, blend_error *err) {
  *out = calloc(1, sizeof **out);
  return *out ? BLEND_OK : blend_seterr(err, BLEND_ENOMEM, "out of memory");
}

void blend_filter_free(blend_filter *f) {
  if (!f) return;
  for (uint32_t i = 0; i < f->n; i++) free(f->conds[i].str);
  free(f->conds);
  strmap_free(f->ids);
  free(f);
}

int blend_filter_add(blend_filter *f, const char *c, blend_error *err) {
  const char *p = c;
  while (*p && !strchr("=!<>", *p)) p++;
  size_t nl = (size_t)(p - c);
  if (!*p || nl == 0 || nl > 63)
    return blend_seterr(err, BLEND_EINVAL, "filter '%s': use FIELD=VALUE, FIELD!=VALUE, FIELD>=X, FIELD>X, FIELD<=X or FIELD<X", c);
  if (f->n == FILTER_MAX_CONDS)
    return blend_seterr(err, BLEND_EINVAL, "filter '%s': at most %d conditions", c, FILTER_MAX_CONDS);
  cond k = {0};
  memcpy(k.field, c, nl);
  if (p[0] == '=') k.op = OP_EQ, p += 1;
  else if (p[0] == '!' && p[1] == '=') k.op = OP_NE, p += 2;
  else if (p[0] == '<' && p[1] == '=') k.op = OP_LE, p += 2;
  else if (p[0] == '>' && p[1] == '=') k.op = OP_GE, p += 2;
  else if (p[0] == '<') k.op = OP_LT, p += 1;
  else if (p[0] == '>') k.op = OP_GT, p += 1;
  else return blend_seterr(err, BLEND_EINVAL, "filter '%s': unknown operator", c);
  char *end;
  errno = 0;
  double v = strtod(p, &end);
  k.is_num = *p && !*end && errno == 0 && isfinite(v);
  k.num = v;
  if (k.op >= OP_LT && !k.is_num)
    return blend_seterr(err, BLEND_EINVAL, "filter '%s': '%s' is not a number", c, p);
  k.len = strlen(p);
  k.str = strdup(p);
  if (!k.str) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (f->n == f->cap) {
    uint32_t cap = f->cap ? f->cap * 2 : 4;
    cond *q = realloc(f->conds, cap * sizeof *q);
    if (!q) {
      free(k.str);
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    }
    f->conds = q;
    f->cap = cap;
  }
  f->conds[f->n++] = k;
  return BLEND_OK;
}

int blend_filter_allow_ids(blend_filter *f, const char *const *ids, const size_t *lens, size_t n,
                           blend_error *err) {
  if (!f->ids && !(f->ids = strmap_new())) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    uint32_t v = 0;
    if (strmap_upsert(f->ids, ids[i], lens ? lens[i] : strlen(ids[i]), &v) < 0)
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  return BLEND_OK;
}

int filter_check(const blend_filter *f, const blend_index *ix, blend_error *err) {
  for (uint32_t i = 0; f && i < f->n; i++) {
    uint32_t m = 0;
    while (m < ix->nmeta && strcmp(ix->meta_names[m], f->conds[i].field)) m++;
    if (m == ix->nmeta) {
      char list[512] = "";
      for (uint32_t j = 0; j < ix->nmeta; j++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", j ? ", " : "", ix->meta_names[j]);
      }
      return blend_seterr(err, BLEND_EINVAL, "filter on unknown field '%s' (metadata fields of %s: %s)",
                          f->conds[i].field, ix->dir, ix->nmeta ? list : "none");
    }
  }
  return BLEND_OK;
}

static int cond_holds(const cond *k, const meta_col *m, uint32_t d) {
  int kind = m ? m->kind[d] : 0;
  if (kind == 0) return k->op == OP_NE;
  if (kind == BLEND_META_NUMBER) {
    double v;
    memcpy(&v, m->num + 8 * (size_t)d, sizeof v);
    if (!k->is_num) return k->op == OP_NE; /* a string value never equals a number */
    switch (k->op) {
      case OP_EQ: return v == k->num;
      case OP_NE: return v != k->num;
      case OP_LT: return v < k->num;
      case OP_LE: return v <= k->num;
      case OP_GT: return v > k->num;
      default: return v >= k->num;
    }
  }
  uint32_t a = rd_u32(m->str_off + 4 * (size_t)d), e = rd_u32(m->str_off + 4 * (size_t)d + 4);
  int eq = e - a == k->len && !memcmp(m->str + a, k->str, k->len);
  if (k->op == OP_EQ) return eq;
  if (k->op == OP_NE) return !eq;
  return 0; /* ranges need numbers */
}

static const meta_col *column(const segment *s, const char *name) {
  for (uint32_t c = 0; c < s->nmeta; c++)
    if (!strcmp(s->metas[c].name, name)) return &s->metas[c];
  return NULL;
}

int filter_doc(const blend_filter *f, const segment *s, uint32_t doc) {
  if (!f) return 1;
  if (f->ids) {
    const char *id;
    size_t len;
    uint32_t v;
    segment_doc_id(s, doc, &id, &len);
    if (!strmap_get(f->ids, id, len, &v)) return 0;
  }
  for (uint32_t i = 0; i < f->n; i++)
    if (!cond_holds(&f->conds[i], column(s, f->conds[i].field), doc)) return 0;
  return 1;
}

int filter_segment(const blend_filter *f, const segment *s, searcher_ext *x, const uint64_t **bits,
                   uint32_t *count, blend_error *err) {
  int none = !f || (f->n == 0 && !f->ids);
  if (none && !s->live) {
    *bits = NULL;
    *count = s->ndocs;
    return BLEND_OK;
  }
  size_t words = ((size_t)s->ndocs + 63) / 64;
  if (words + 1 > x->allow_words) {
    uint64_t *p = realloc(x->allow, (words + 1) * 8);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    x->allow = p;
    x->allow_words = words + 1;
  }
  uint32_t n = 0;
  const meta_col *cols[FILTER_MAX_CONDS];
  for (uint32_t i = 0; f && i < f->n; i++) cols[i] = column(s, f->conds[i].field);
  for (size_t w = 0; w < words; w++) {
    uint64_t word = s->live ? s->live[w] : ~0ull;
    if (w == words - 1 && s->ndocs % 64) word &= (1ull << (s->ndocs % 64)) - 1;
    if (!none) {
      for (uint64_t m = word; m; m &= m - 1) {
        uint32_t d = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(m));
        int ok = 1;
        for (uint32_t i = 0; ok && i < f->n; i++) ok = cond_holds(&f->conds[i], cols[i], d);
        if (ok && f->ids) {
          const char *id;
          size_t len;
          uint32_t v;
          segment_doc_id(s, d, &id, &len);
          ok = strmap_get(f->ids, id, len, &v);
        }
        if (!ok) word &= ~(1ull << (d & 63));
      }
    }
    x->allow[w] = word;
    n += (uint32_t)__builtin_popcountll(word);
  }
  *bits = x->allow;
  *count = n;
  return BLEND_OK;
}
