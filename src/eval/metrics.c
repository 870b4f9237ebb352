/*
** metrics.c — score a run against qrels with trec_eval 9.x arithmetic:
** ndcg_cut (gain = rel, discount log2(rank + 1), ideal from all judged
** rel > 0 docs), recall, P, map_cut and recip_rank, each optionally cut at
** K, averaged over every query in the qrels (as `trec_eval -c`: a qrels
** query the run lacks scores 0; a qrels query with only rel <= 0 judgements
** is evaluated too and scores 0, as trec_eval does). Run queries without
** judgements are skipped.
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"

struct blend_eval_result {
  size_t nm;
  eval_metric *m;
  uint32_t nq;
  uint32_t *qoff; /* per query: offset into qids */
  char *qids;
  double *v;      /* nq x nm */
  double *mean;
  uint32_t matched, skipped;
};

static const struct {
  const char *name; /* blend spelling */
  const char *trec; /* trec_eval spelling, before the cutoff */
  int kind;
  int cut_required;
} kinds[] = {
    {"ndcg", "ndcg_cut", EM_NDCG, 0},   {"recall", "recall", EM_RECALL, 0},
    {"mrr", "recip_rank", EM_MRR, 0},   {"map", "map_cut", EM_MAP, 0},
    {"p", "p", EM_P, 1},
};

static int name_eq(const char *a, size_t alen, const char *b) {
  if (strlen(b) != alen) return 0;
  for (size_t i = 0; i < alen; i++)
    if (tolower((unsigned char)a[i]) != b[i]) return 0;
  return 1;
}

int eval_metric_parse(const char *s, eval_metric *out, blend_error *err) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(s), base = len;
  const char *cut = NULL;
  /* "name@K" (blend), "name_K" / "name.K" (trec_eval), or "name". */
  for (size_t i = 0; i < len; i++)
    if (s[i] == '@' || s[i] == '.') {
      base = i;
      cut = s + i + 1;
      break;
    }
  if (!cut && len && isdigit((unsigned char)s[len - 1])) {
    size_t i = len;
    while (i > 0 && isdigit((unsigned char)s[i - 1])) i--;
    if (i > 1 && s[i - 1] == '_') base = i - 1, cut = s + i;
  }
  int kind = -1, cut_required = 0;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    if (name_eq(s, base, kinds[k].name) || name_eq(s, base, kinds[k].trec)) {
      kind = kinds[k].kind;
      cut_required = kinds[k].cut_required;
      break;
    }
  if (kind < 0)
    return blend_seterr(err, BLEND_EINVAL,
                        "unknown metric '%s' (known: ndcg@K, recall@K, mrr@K, map@K, p@K, ndcg, "
                        "recall, mrr, map)",
                        s);
  if (cut) {
    uint64_t k = 0;
    const char *c = cut;
    if (!*c) return blend_seterr(err, BLEND_EINVAL, "metric '%s': missing cutoff after '%c'", s, cut[-1]);
    for (; *c; c++) {
      if (!isdigit((unsigned char)*c) || (k = k * 10 + (uint64_t)(*c - '0')) > 100000000)
        return blend_seterr(err, BLEND_EINVAL, "metric '%s': cutoff must be an integer 1..1e8", s);
    }
    if (k == 0) return blend_seterr(err, BLEND_EINVAL, "metric '%s': cutoff must be >= 1", s);
    out->cut = (uint32_t)k;
  } else if (cut_required) {
    return blend_seterr(err, BLEND_EINVAL, "metric '%s' needs a cutoff (e.g. p@10)", s);
  }
  out->kind = kind;
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    if (kinds[k].kind == kind) {
      if (out->cut) snprintf(out->name, sizeof out->name, "%s@%u", kinds[k].name, out->cut);
      else snprintf(out->name, sizeof out->name, "%s", kinds[k].name);
    }
  return BLEND_OK;
}

int blend_eval_metric_cutoff(const char *name, uint32_t *cut, blend_error *err) {
  eval_metric m;
  int rc = eval_metric_parse(name, &m, err);
  if (!rc && cut) *cut = m.cut;
  return rc;
}

double eval_metric_value(const eval_metric *m, const int32_t *rels, uint32_t n, uint32_t nrel,
                         const int32_t *gains, uint32_t ngains) {
  uint32_t lim = m->cut && m->cut < n ? m->cut : n;
  double sum = 0;
  uint32_t found = 0;
  switch (m->kind) {
    case EM_NDCG: {
      /* m_ndcg_cut.c: sum += gain / log2(i + 2) for gain > 0. */
      for (uint32_t i = 0; i < lim; i++)
        if (rels[i] > 0) sum += (double)rels[i] / log2((double)(i + 2));
      uint32_t ilim = m->cut && m->cut < ngains ? m->cut : ngains;
      double ideal = 0;
      for (uint32_t i = 0; i < ilim; i++) ideal += (double)gains[i] / log2((double)(i + 2));
      return ideal > 0 ? sum / ideal : 0;
    }
    case EM_RECALL:
      if (!nrel) return 0;
      for (uint32_t i = 0; i < lim; i++) found += rels[i] > 0;
      return (double)found / (double)nrel;
    case EM_P:
      /* m_P.c: a cutoff past the ranking counts the missing ranks as
      ** nonrelevant. (Uncut P is rejected by the parser.) */
      for (uint32_t i = 0; i < lim; i++) found += rels[i] > 0;
      return m->cut ? (double)found / (double)m->cut : 0;
    case EM_MAP:
      if (!nrel) return 0;
      for (uint32_t i = 0; i < lim; i++)
        if (rels[i] > 0) sum += (double)++found / (double)(i + 1);
      return sum / (double)nrel;
    case EM_MRR:
      for (uint32_t i = 0; i < lim; i++)
        if (rels[i] > 0) return 1.0 / (double)(i + 1);
      return 0;
  }
  return 0;
}

void blend_eval_free(blend_eval_result *e) {
  if (!e) return;
  free(e->m);
  free(e->qoff);
  free(e->qids);
  free(e->v);
  free(e->mean);
  free(e);
}

int blend_evaluate(const blend_qrels *q, const blend_run *r, const char *const *metrics,
                   size_t nmetrics, const blend_eval_options *opts, blend_eval_result **out,
                   blend_error *err) {
  *out = NULL;
  if (!nmetrics) return blend_seterr(err, BLEND_EINVAL, "no metrics requested");
  int ignore_ids = opts && opts->ignore_identical_ids;
  blend_eval_result *e = calloc(1, sizeof *e);
  uint32_t *start = NULL, *order = NULL;
  int32_t *rels = NULL;
  if (!e) return blend_seterr(err, BLEND_ENOMEM, "evaluate: out of memory");
  e->nm = nmetrics;
  e->nq = q->ids.nq;
  e->m = calloc(nmetrics, sizeof *e->m);
  e->mean = calloc(nmetrics, sizeof *e->mean);
  e->v = calloc((size_t)e->nq * nmetrics + 1, sizeof *e->v);
  e->qoff = calloc((size_t)e->nq + 1, sizeof *e->qoff);
  e->qids = malloc(q->ids.strings.len + 1);
  if (!e->m || !e->mean || !e->v || !e->qoff || !e->qids) goto oom;
  for (size_t i = 0; i < nmetrics; i++) {
    int rc = eval_metric_parse(metrics[i], &e->m[i], err);
    if (rc) {
      blend_eval_free(e);
      return rc;
    }
  }
  /* Query ids: one compact copy so the result outlives q. */
  const char *qstr = (const char *)q->ids.strings.data;
  size_t used = 0;
  for (uint32_t i = 0; i < e->nq; i++) {
    size_t l = strlen(qstr + q->ids.qid[i]) + 1;
    memcpy(e->qids + used, qstr + q->ids.qid[i], l);
    e->qoff[i] = (uint32_t)used;
    used += l;
  }
  int rc = eval_run_rank(r, &start, &order, err);
  if (rc) {
    blend_eval_free(e);
    return rc;
  }
  uint32_t maxlen = 0;
  for (uint32_t rq = 0; rq < r->ids.nq; rq++) {
    uint32_t len = start[rq + 1] - start[rq];
    if (len > maxlen) maxlen = len;
    uint32_t tmp;
    const char *id = (const char *)r->ids.strings.data + r->ids.qid[rq];
    if (!strmap_get(q->ids.qmap, id, strlen(id), &tmp)) e->skipped++;
  }
  rels = malloc((maxlen ? maxlen : 1) * sizeof *rels);
  if (!rels) goto oom;
  const char *rstr = (const char *)r->ids.strings.data;
  for (uint32_t qi = 0; qi < e->nq; qi++) {
    const char *qid = e->qids + e->qoff[qi];
    size_t qlen = strlen(qid);
    uint32_t rq, n = 0;
    if (r->ids.nq && strmap_get(r->ids.qmap, qid, qlen, &rq)) {
      if (start[rq + 1] > start[rq]) e->matched++;
      for (uint32_t j = start[rq]; j < start[rq + 1]; j++) {
        const char *doc = rstr + r->keys[order[j]].doc;
        size_t dlen = strlen(doc);
        if (ignore_ids && dlen == qlen && !memcmp(doc, qid, qlen)) continue; /* BEIR option */
        rels[n++] = eval_qrels_rel(q, qi, doc, dlen);
      }
    }
    const int32_t *gains = q->gains + q->gstart[qi];
    uint32_t ngains = q->gstart[qi + 1] - q->gstart[qi];
    for (size_t m = 0; m < nmetrics; m++) {
      double v = eval_metric_value(&e->m[m], rels, n, q->nrel[qi], gains, ngains);
      e->v[(size_t)qi * nmetrics + m] = v;
      e->mean[m] += v;
    }
  }
  for (size_t m = 0; m < nmetrics; m++)
    if (e->nq) e->mean[m] /= (double)e->nq;
  free(start);
  free(order);
  free(rels);
  *out = e;
  return BLEND_OK;
oom:
  free(start);
  free(order);
  free(rels);
  blend_eval_free(e);
  return blend_seterr(err, BLEND_ENOMEM, "evaluate: out of memory");
}

uint32_t blend_eval_queries(const blend_eval_result *e) { return e->nq; }
uint32_t blend_eval_matched(const blend_eval_result *e) { return e->matched; }
uint32_t blend_eval_skipped(const blend_eval_result *e) { return e->skipped; }
size_t blend_eval_metrics(const blend_eval_result *e) { return e->nm; }

const char *blend_eval_metric_name(const blend_eval_result *e, size_t metric) {
  return metric < e->nm ? e->m[metric].name : NULL;
}

double blend_eval_mean(const blend_eval_result *e, size_t metric) {
  return metric < e->nm ? e->mean[metric] : NAN;
}

const char *blend_eval_query_id(const blend_eval_result *e, uint32_t i) {
  return i < e->nq ? e->qids + e->qoff[i] : NULL;
}

double blend_eval_value(const blend_eval_result *e, uint32_t i, size_t metric) {
  return i < e->nq && metric < e->nm ? e->v[(size_t)i * e->nm + metric] : NAN;
}
