/*
** scan.c — the exact float32 top-k scan, the simple twin every other path
** is measured against. All docs (four rows per kernel call, the query
** loaded once for four rows) or only the docs whose bit is set in the
** allow bitmap. Large fields are split into contiguous doc ranges over
** several threads, each with its own heap; the heaps are merged under the
** one strict order (score, then doc), so the result does not depend on the
** split.
*/
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vector/vec_internal.h"

/* Below this many floats a scan runs on the caller's thread: starting
** threads costs tens of microseconds, a 1M-float scan takes ~100. */
#define SCAN_PAR_MIN_FLOATS (1u << 20)
#define SCAN_MAX_THREADS 64
/* No software prefetch: the rows are read in address order, which the
** hardware stream prefetcher follows on its own. On Zen 1 (100k x 384,
** one thread) prefetching 4 rows 8 rows ahead with the non-temporal hint
** cut the scan from 11.3 to 7.4-8.5 GB/s, and T0/NTA hints at 1-16 KB
** ahead all stayed below the unprefetched loop (bench/RESULTS.md). */

typedef struct scan_job {
  const vec_field *f;
  const vec_query *q;
  const uint64_t *allow;
  uint32_t lo, hi; /* doc range */
  size_t k;
  vec_hit *heap;   /* k slots */
  size_t nheap;
} scan_job;

static void scan_all(scan_job *j) {
  const vec_field *f = j->f;
  const vec_query *q = j->q;
  size_t nh = 0, k = j->k;
  vec_hit *h = j->heap;
  uint32_t d = j->lo;
  float sc[4];
  int l2 = f->metric == VEC_L2;
  for (; d + 4 <= j->hi; d += 4) {
    const float *r[4] = {vec_row(f, d), vec_row(f, d + 1), vec_row(f, d + 2), vec_row(f, d + 3)};
    if (l2) {
      f->k->l2_4(q->q, r, f->dim, sc);
      for (int i = 0; i < 4; i++) sc[i] = vec_sane(-sc[i]);
    } else {
      f->k->dot4(q->q, r, f->dim, sc);
      for (int i = 0; i < 4; i++) sc[i] = vec_sane(sc[i] * q->qscale);
    }
    for (int i = 0; i < 4; i++) {
      vec_hit x = {d + (uint32_t)i, sc[i]};
      if (nh < k || vec_better(x, h[0])) vec_topk_offer(h, &nh, k, x);
    }
  }
  for (; d < j->hi; d++) {
    vec_hit x = {d, vec_row_score(f, q, vec_row(f, d))};
    vec_topk_offer(h, &nh, k, x);
  }
  j->nheap = nh;
}

static void scan_allowed(scan_job *j) {
  const vec_field *f = j->f;
  size_t nh = 0;
  for (uint32_t w = j->lo / 64; (uint64_t)w * 64 < j->hi; w++) {
    uint64_t bits = j->allow[w];
    while (bits) {
      uint32_t d = w * 64 + (uint32_t)__builtin_ctzll(bits);
      bits &= bits - 1;
      if (d < j->lo || d >= j->hi) continue;
      vec_hit x = {d, vec_row_score(f, j->q, vec_row(f, d))};
      vec_topk_offer(j->heap, &nh, j->k, x);
    }
  }
  j->nheap = nh;
}

static void *scan_thread(void *arg) {
  scan_job *j = arg;
  if (j->allow) scan_allowed(j);
  else scan_all(j);
  return NULL;
}

int vec_exact_search(const vec_field *f, vec_scratch *s, const vec_query *q,
                     const vec_search_params *p, vec_hit *out, uint32_t *nout, blend_error *err) {
  size_t k = p->k < f->n ? p->k : f->n;
  *nout = 0;
  if (k == 0) return BLEND_OK;
  int T = p->threads > 1 ? p->threads : 1;
  if (T > SCAN_MAX_THREADS) T = SCAN_MAX_THREADS;
  if ((uint64_t)f->n * f->dim < SCAN_PAR_MIN_FLOATS) T = 1;
  if ((uint32_t)T > f->n / 64 + 1) T = (int)(f->n / 64 + 1);
  if (vec_scratch_reserve(&s->tmp, &s->tmp_cap, (size_t)T * k + k))
    return blend_seterr(err, BLEND_ENOMEM, "vector search: out of memory");
  scan_job jobs[SCAN_MAX_THREADS];
  /* ranges split on 64-doc boundaries, so bitmap words are not shared */
  uint32_t per = (uint32_t)(((f->n + (uint32_t)T - 1) / (uint32_t)T + 63) & ~63u);
  for (int t = 0; t < T; t++) {
    uint64_t lo = (uint64_t)per * t, hi = lo + per;
    if (lo > f->n) lo = f->n;
    if (hi > f->n || t == T - 1) hi = f->n;
    jobs[t] = (scan_job){f, q, p->allow, (uint32_t)lo, (uint32_t)hi, k, s->tmp + (size_t)t * k, 0};
  }
  pthread_t th[SCAN_MAX_THREADS];
  int started = 0;
  for (int t = 1; t < T; t++) {
    if (pthread_create(&th[t], NULL, scan_thread, &jobs[t])) break;
    started = t;
  }
  scan_thread(&jobs[0]);
  for (int t = started + 1; t < T; t++) scan_thread(&jobs[t]); /* threads we could not start */
  for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
  vec_hit *h = s->tmp + (size_t)T * k;
  size_t nh = 0;
  for (int t = 0; t < T; t++)
    for (size_t i = 0; i < jobs[t].nheap; i++) vec_topk_offer(h, &nh, k, jobs[t].heap[i]);
  vec_hits_sort(h, nh);
  memcpy(out, h, nh * sizeof *h);
  *nout = (uint32_t)nh;
  return BLEND_OK;
}
