/*
** eval.h — internals of the evaluation module (qrels, TREC runs, metrics).
**
** Qrels and runs share one layout: query ids interned in a strmap (qid →
** query index, in order of first appearance), document ids copied into a
** string arena, and per query a small open-addressing hash (pairset) from
** document id to entry, so a lookup never scans a query's list and stays
** in a cache-resident table while one query is evaluated.
** The from-memory parsers are exposed here for the fuzz target and tests.
*/
#ifndef BLEND_EVAL_H
#define BLEND_EVAL_H

#include <stdint.h>

#include "blend.h"
#include "util/util.h"

/* A (query index, document id) key; doc is an offset into the owner's
** string arena, where ids are stored NUL-terminated. */
typedef struct eval_pair {
  uint32_t q;
  uint32_t doc;
} eval_pair;

/* Hash set of entry indices keyed by eval_pair (keys live in the owner).
** One per query: a query's lookups stay in a small, cache-resident table. */
typedef struct pairslot {
  uint32_t idx;  /* entry index + 1; 0 = empty slot */
  uint32_t hash; /* low 32 bits of the key hash, for cheap rejects */
} pairslot;
typedef struct pairset {
  pairslot *slot;
  uint32_t cap;   /* power of two (0 before the first insert) */
  uint32_t count;
} pairset;

uint64_t pair_hash(uint32_t q, const char *doc, size_t len);
/* Entry index of (q, doc) or UINT32_MAX. */
uint32_t pairset_find(const pairset *s, const eval_pair *keys, const char *strings, uint32_t q,
                      const char *doc, size_t len, uint64_t h);
/* Insert entry index i (its key must not be present). 0 or -1 (ENOMEM). */
int pairset_insert(pairset *s, uint64_t h, uint32_t i);
void pairset_free(pairset *s);

/* Interned ids: qid → index, string arena for every id, and per query the
** set of its (query, doc) entries. */
typedef struct idtab {
  strmap *qmap;    /* qid → query index */
  bbuf strings;    /* NUL-terminated ids */
  uint32_t *qid;   /* per query: offset of its id in strings */
  pairset *sets;   /* per query: its entries by document id */
  uint32_t nq, qcap;
} idtab;

int idtab_init(idtab *t);
void idtab_free(idtab *t);
/* Query index of qid, adding it when new. 0 or -1 (ENOMEM / arena full). */
int idtab_query(idtab *t, const char *qid, size_t len, uint32_t *q);
/* Copy a document id into the arena; 0 or -1. */
int idtab_string(idtab *t, const char *s, size_t len, uint32_t *off);

struct blend_qrels {
  idtab ids;
  eval_pair *keys; /* one judgement per (query, doc): last one wins */
  int32_t *rel;
  uint32_t n, cap;
  uint64_t duplicates; /* judgements that replaced an earlier one */
  /* Built once after parsing: */
  uint32_t *nrel;      /* per query: judged docs with rel > 0 */
  uint32_t *gstart;    /* nq + 1 offsets into gains */
  int32_t *gains;      /* per query: rel > 0 values, descending (the ideal ranking) */
};

struct blend_run {
  idtab ids;
  eval_pair *keys;
  double *score;
  uint32_t *line;      /* source line (0 when added through the API) */
  uint32_t n, cap;
};

/* Parse qrels / a TREC run from memory; name is used in messages. */
int eval_qrels_parse(const char *name, const char *data, size_t len, blend_qrels **out,
                     blend_error *err);
int eval_run_parse(const char *name, const char *data, size_t len, blend_run **out,
                   blend_error *err);

/* Relevance of doc for qrels query q: the judged value, or 0 if unjudged. */
int32_t eval_qrels_rel(const blend_qrels *qr, uint32_t q, const char *doc, size_t len);

/* Rank every run query as trec_eval does: score descending, ties by docid
** in descending strcmp order. On success *start has nq + 1 offsets into
** *order (entry indices, best first); caller frees both. */
int eval_run_rank(const blend_run *r, uint32_t **start, uint32_t **order, blend_error *err);

/* One parsed metric name. cut == 0 means no cutoff. */
enum eval_metric_kind { EM_NDCG, EM_RECALL, EM_MRR, EM_MAP, EM_P };
typedef struct eval_metric {
  int kind;
  uint32_t cut;
  char name[40]; /* canonical: "ndcg@10", "map", ... */
} eval_metric;

int eval_metric_parse(const char *s, eval_metric *out, blend_error *err);

/* One query's value for a metric, from the relevance of each ranked doc
** (rels[0] = best; unjudged = 0), the count of judged relevant docs and the
** query's ideal gains (descending). This is the trec_eval arithmetic. */
double eval_metric_value(const eval_metric *m, const int32_t *rels, uint32_t n, uint32_t nrel,
                         const int32_t *gains, uint32_t ngains);

#endif
