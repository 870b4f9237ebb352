/*
** bmw.c — Block-Max WAND (Ding & Suel 2011) for disjunctions of terms.
** Cursors are kept sorted by current doc. The pivot is the first cursor at
** which the summed list bounds exceed the threshold; then the bounds of the
** blocks holding the pivot doc are summed: if they cannot beat the
** threshold, every doc up to the nearest block end is skipped, otherwise
** the pivot is scored fully (or the cursors before it move up to it).
*/
#include "search/scorer.h"

static void sort_by_doc(scorer **c, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) { /* insertion sort: nearly sorted */
    scorer *x = c[i];
    uint32_t j = i;
    while (j > 0 && c[j - 1]->doc > x->doc) {
      c[j] = c[j - 1];
      j--;
    }
    c[j] = x;
  }
}

void run_bmw(scorer *sc, uint32_t n, uint32_t base, topk *t) {
  scorer *c[QUERY_MAX_CLAUSES * 4];
  for (uint32_t i = 0; i < n; i++) c[i] = &sc[i];
  for (;;) {
    sort_by_doc(c, n);
    double theta = topk_threshold(t);
    double acc = 0;
    uint32_t p = n;
    for (uint32_t i = 0; i < n && c[i]->doc != DOC_END; i++) {
      acc += (double)c[i]->upper * BOUND_SLACK;
      if (acc > theta) {
        p = i;
        break;
      }
    }
    if (p == n) return;
    uint32_t pivot = c[p]->doc;
    while (p + 1 < n && c[p + 1]->doc == pivot) p++;
    double bound = 0;
    uint32_t next = p + 1 < n ? c[p + 1]->doc : DOC_END;
    for (uint32_t i = 0; i <= p; i++) {
      uint32_t last;
      bound += scorer_block_bound(c[i], pivot, &last);
      if (last != DOC_END && last + 1 < next) next = last + 1;
    }
    if (bound > theta) {
      if (c[0]->doc == pivot) {
        double score = 0;
        for (uint32_t i = 0; i <= p; i++) {
          score += scorer_score(c[i]);
          scorer_next(c[i]);
        }
        topk_push(t, base + pivot, (float)score);
      } else {
        for (uint32_t i = 0; i < p && c[i]->doc < pivot; i++) scorer_advance(c[i], pivot);
      }
    } else {
      if (next <= pivot) next = pivot + 1;
      for (uint32_t i = 0; i <= p; i++)
        if (c[i]->doc < next) scorer_advance(c[i], next);
    }
  }
}
