/*
** maxscore.c — MaxScore (Turtle & Flood 1995) for disjunctions of terms,
** scored in windows of documents as Lucene's MaxScoreBulkScorer does.
**
** Scorers are ordered by their list-wide upper bound; the lowest ones whose
** bounds sum to at most the current threshold are "non-essential": a doc
** that only they contain cannot enter the top k. For each window of WINDOW
** doc ids, the essential lists are walked term-at-a-time into a dense score
** accumulator (no per-candidate merging of cursors); then each candidate in
** doc order is completed by probing the non-essential lists, and abandoned
** as soon as its partial score plus their remaining bounds cannot beat the
** threshold. Windows start small and double, so the partition is
** refreshed often while the threshold is still rising. Scores are summed in double, so the result is bit-identical to
** exhaustive.c's.
*/
#include <stdlib.h>
#include <string.h>

#include "search/scorer.h"

#define WINDOW 4096

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
  double score[WINDOW];       /* accumulated essential scores, window-relative */
  uint64_t hit[WINDOW / 64];  /* which window docs any essential list matched */
  memset(score, 0, sizeof score);
  memset(hit, 0, sizeof hit);
  uint32_t first = 0;         /* scorers [0, first) are non-essential */
  uint32_t width = 128;       /* windows grow as the threshold settles */
  for (;;) {
    double theta = topk_threshold(t);
    while (first < n && cum[first] <= theta) first++;
    if (first == n) return;
    uint32_t lo = DOC_END;
    for (uint32_t i = first; i < n; i++)
      if (sc[i].doc < lo) lo = sc[i].doc;
    if (lo == DOC_END) return;
    uint32_t hi = lo + width < lo ? DOC_END : lo + width;
    if (width < WINDOW) width *= 2;
    /* term at a time over the window */
    for (uint32_t i = first; i < n; i++) {
      scorer *s = &sc[i];
      while (s->doc < hi) {
        uint32_t r = s->doc - lo;
        score[r] += scorer_score(s);
        hit[r >> 6] |= 1ull << (r & 63);
        scorer_next(s);
      }
    }
    /* complete the candidates in doc order */
    for (uint32_t w = 0; w < (hi - lo + 63) / 64 && w < WINDOW / 64; w++) {
      uint64_t bits = hit[w];
      hit[w] = 0;
      while (bits) {
        uint32_t r = w * 64 + (uint32_t)__builtin_ctzll(bits);
        bits &= bits - 1;
        uint32_t d = lo + r;
        double s = score[r];
        score[r] = 0;
        theta = topk_threshold(t);
        int alive = 1;
        for (uint32_t i = first; i-- > 0;) {
          if (s + cum[i] <= theta) {
            alive = 0;
            break;
          }
          if (sc[i].doc < d) scorer_advance(&sc[i], d);
          if (sc[i].doc == d) s += scorer_score(&sc[i]);
        }
        if (alive) topk_push(t, base + d, (float)s);
      }
    }
  }
}
