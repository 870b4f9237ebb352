/*
** maxscore.c — MaxScore (Turtle & Flood 1995) for disjunctions of terms.
** Scorers are ordered by their list-wide upper bound; the lowest ones whose
** bounds sum to at most the current threshold are "non-essential": a doc
** that only they contain cannot enter the top k, so candidates come from
** the essential lists only, and non-essential lists are probed (and the
** candidate abandoned) while the partial score plus remaining bounds can
** still beat the threshold.
*/
#include <stdlib.h>

#include "search/scorer.h"

static int by_upper(const void *a, const void *b) {
  const scorer *x = a, *y = b;
  return x->upper < y->upper ? -1 : x->upper > y->upper;
}

void run_maxscore(scorer *sc, uint32_t n, uint32_t base, topk *t) {
  if (n == 0) return;
  qsort(sc, n, sizeof *sc, by_upper);
  double cum[QUERY_MAX_CLAUSES * 4];
  double acc = 0;
  for (uint32_t i = 0; i < n; i++) {
    acc += (double)sc[i].upper * BOUND_SLACK;
    cum[i] = acc;
  }
  uint32_t first = 0; /* scorers [0, first) are non-essential */
  for (;;) {
    double theta = topk_threshold(t);
    while (first < n && cum[first] <= theta) first++;
    if (first == n) return;
    uint32_t d = DOC_END;
    for (uint32_t i = first; i < n; i++)
      if (sc[i].doc < d) d = sc[i].doc;
    if (d == DOC_END) return;
    double score = 0;
    for (uint32_t i = first; i < n; i++)
      if (sc[i].doc == d) {
        score += scorer_score(&sc[i]);
        scorer_next(&sc[i]);
      }
    int alive = 1;
    for (uint32_t i = first; i-- > 0;) {
      if (score + cum[i] <= theta) {
        alive = 0;
        break;
      }
      if (sc[i].doc < d) scorer_advance(&sc[i], d);
      if (sc[i].doc == d) score += scorer_score(&sc[i]);
    }
    if (alive) topk_push(t, base + d, (float)score);
  }
}
