/*
** fuse_runs.c — fusion of external TREC runs (`blend fuse`, `blend tune`
** over runs): each run is one leg; per query the candidates are the union
** of every run's top `depth` documents, ranked within each run as trec_eval
** ranks it (score desc, ties by docid desc), then fused by the core.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "fusion/fusion.h"
#include "util/util.h"

void fuse_table_free(fuse_table *t) {
  for (uint32_t i = 0; t->q && i < t->nq; i++) {
    free(t->q[i].ids);
    free(t->q[i].cells);
  }
  free(t->q);
  free(t->qids);
  memset(t, 0, sizeof *t);
}

typedef struct ranked {
  uint32_t *start, *order;
} ranked;

int fuse_table_build(const blend_run *const *runs, uint32_t nruns, uint32_t depth,
                     fuse_table *t, blend_error *err) {
  memset(t, 0, sizeof *t);
  if (nruns == 0) return blend_seterr(err, BLEND_EINVAL, "no runs to fuse");
  if (nruns > BLEND_MAX_LEGS)
    return blend_seterr(err, BLEND_EINVAL, "at most %d runs, not %u", BLEND_MAX_LEGS, nruns);
  ranked rk[BLEND_MAX_LEGS] = {{0}};
  strmap *qmap = strmap_new(), *dmap = NULL;
  uint32_t *qrun = NULL; /* [nq × nruns] run query index + 1, 0 = absent */
  int rc = BLEND_OK;
  uint32_t qcap = 0;
  if (!qmap) goto oom;
  for (uint32_t r = 0; r < nruns; r++) {
    rc = eval_run_rank(runs[r], &rk[r].start, &rk[r].order, err);
    if (rc) goto fail;
  }
  /* the union of query ids, first run's order first */
  for (uint32_t r = 0; r < nruns; r++) {
    const blend_run *run = runs[r];
    const char *strings = (const char *)run->ids.strings.data;
    for (uint32_t q = 0; q < run->ids.nq; q++) {
      const char *qid = strings + run->ids.qid[q];
      uint32_t v = t->nq;
      int ins = strmap_upsert(qmap, qid, strlen(qid), &v);
      if (ins < 0) goto oom;
      if (ins) {
        if (t->nq == qcap) {
          qcap = qcap ? qcap * 2 : 64;
          const char **nq = realloc(t->qids, qcap * sizeof *nq);
          if (nq) t->qids = nq;
          uint32_t *nr = nq ? realloc(qrun, (size_t)qcap * nruns * sizeof *nr) : NULL;
          if (!nr) goto oom;
          qrun = nr;
        }
        t->qids[t->nq] = qid;
        memset(qrun + (size_t)t->nq * nruns, 0, nruns * sizeof *qrun);
        t->nq++;
      }
      qrun[(size_t)v * nruns + r] = q + 1;
    }
  }
  if (nruns > 1) {
    uint32_t common = 0;
    for (uint32_t q = 0; q < t->nq; q++) {
      uint32_t in = 0;
      for (uint32_t r = 0; r < nruns; r++) in += qrun[(size_t)q * nruns + r] != 0;
      common += in == nruns;
    }
    if (!common && t->nq) {
      rc = blend_seterr(err, BLEND_EINVAL,
                        "the runs have no query in common (disjoint query sets): nothing to fuse");
      goto fail;
    }
  }
  t->nlegs = nruns;
  t->q = calloc(t->nq ? t->nq : 1, sizeof *t->q);
  if (!t->q) goto oom;
  for (uint32_t q = 0; q < t->nq; q++) {
    /* candidates: union of each run's top depth */
    uint32_t cap = 0;
    for (uint32_t r = 0; r < nruns; r++) {
      uint32_t rq = qrun[(size_t)q * nruns + r];
      if (!rq) continue;
      uint32_t n = rk[r].start[rq] - rk[r].start[rq - 1];
      cap += depth && n > depth ? depth : n;
    }
    fuse_query *fq = &t->q[q];
    fq->ids = malloc((cap ? cap : 1) * sizeof *fq->ids);
    fq->cells = malloc((size_t)(cap ? cap : 1) * nruns * sizeof *fq->cells);
    strmap_free(dmap);
    dmap = strmap_new();
    if (!fq->ids || !fq->cells || !dmap) goto oom;
    for (uint32_t r = 0; r < nruns; r++) {
      uint32_t rq = qrun[(size_t)q * nruns + r];
      if (!rq) continue;
      const blend_run *run = runs[r];
      const char *strings = (const char *)run->ids.strings.data;
      uint32_t a = rk[r].start[rq - 1], n = rk[r].start[rq] - a;
      if (depth && n > depth) n = depth;
      for (uint32_t j = 0; j < n; j++) {
        uint32_t e = rk[r].order[a + j];
        const char *doc = strings + run->keys[e].doc;
        uint32_t c = fq->ncand;
        int ins = strmap_upsert(dmap, doc, strlen(doc), &c);
        if (ins < 0) goto oom;
        if (ins) {
          fq->ids[c] = doc;
          for (uint32_t l = 0; l < nruns; l++)
            fq->cells[(size_t)c * nruns + l] = (blend_leg_score){.raw = NAN};
          fq->ncand++;
        }
        blend_leg_score *cell = &fq->cells[(size_t)c * nruns + r];
        cell->raw = run->score[e];
        cell->rank = j + 1;
        cell->retrieved = 1;
      }
    }
  }
  goto done;
oom:
  rc = blend_seterr(err, BLEND_ENOMEM, "fuse: out of memory");
fail:
  fuse_table_free(t);
done:
  for (uint32_t r = 0; r < nruns; r++) {
    free(rk[r].start);
    free(rk[r].order);
  }
  strmap_free(qmap);
  strmap_free(dmap);
  free(qrun);
  return rc;
}

int blend_fuse_runs(const blend_run *const *runs, uint32_t nruns, const blend_fusion_options *o,
                    uint32_t depth, uint32_t k, blend_run **out, blend_error *err) {
  *out = NULL;
  int rc = blend_fusion_options_check(o, nruns, err);
  if (rc) return rc;
  if (o->complete_scores)
    return blend_seterr(err, BLEND_EINVAL,
                        "--complete-scores needs an index (an external run cannot score a "
                        "document it did not retrieve)");
  fuse_table t;
  rc = fuse_table_build(runs, nruns, depth, &t, err);
  if (rc) return rc;
  blend_run *fr = NULL;
  fusion_scratch s = {0};
  double *fused = NULL;
  uint32_t *order = NULL, cap = 0;
  rc = blend_run_new(&fr, err);
  for (uint32_t q = 0; !rc && q < t.nq; q++) {
    fuse_query *fq = &t.q[q];
    if (fq->ncand > cap) {
      cap = fq->ncand;
      free(fused);
      free(order);
      fused = malloc(cap * sizeof *fused);
      order = malloc(cap * sizeof *order);
      if (!fused || !order) {
        rc = blend_seterr(err, BLEND_ENOMEM, "fuse: out of memory");
        break;
      }
    }
    /* tmm: lower bound 0 (non-negative scorers), upper the observed max */
    static const double zero[BLEND_MAX_LEGS] = {0};
    if (fusion_fuse(o, nruns, fq->ncand, fq->cells, zero, NULL, fused, &s)) {
      rc = blend_seterr(err, BLEND_ENOMEM, "fuse: out of memory");
      break;
    }
    uint32_t n = fusion_order(fq->ncand, fused, fq->ids, o, order);
    if (k && n > k) n = k;
    for (uint32_t i = 0; !rc && i < n; i++)
      rc = blend_run_add(fr, t.qids[q], fq->ids[order[i]], fused[order[i]], err);
  }
  free(fused);
  free(order);
  fusion_scratch_free(&s);
  fuse_table_free(&t);
  if (rc) {
    blend_run_free(fr);
    return rc;
  }
  *out = fr;
  return BLEND_OK;
}
