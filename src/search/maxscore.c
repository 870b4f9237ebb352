/*
** maxscore.c — block-max MaxScore (Turtle & Flood 1995; with per-window
** block bounds as Lucene's MaxScoreBulkScorer) for disjunctions of terms.
**
** Documents are scored in windows [lo, hi). For each window every list gets
** a bound from the block maxima of its blocks overlapping the window; lists
** ordered by that bound whose bounds sum to at most the current threshold
** are "non-essential" there: a doc only they contain cannot enter the top
** k. The essential lists are walked term-at-a-time into a dense score
** accumulator; then each candidate, in doc order, is completed by probing
** the non-essential lists and abandoned as soon as its partial score plus
** their remaining bounds cannot beat the threshold. Windows start small and
** double, so bounds are refreshed while the threshold is still rising.
** Scores are summed in double, so the result is bit-identical to
** exhaustive.c's.
*/
#include <string.h>

#include "search/scorer.h"

#define WINDOW 4096

void run_maxscore(scorer *sc, uint32_t n, uint32_t base, topk *t) {
  if (n == 0) return;
  uint32_t ord[QUERY_MAX_CLAUSES * 4];
  float wub[QUERY_MAX_CLAUSES * 4];
  double cum[QUERY_MAX_CLAUSES * 4];
  double score[WINDOW];      /* accumulated essential scores, window-relative */
  uint64_t hit[WINDOW / 64]; /* window docs matched by an essential list */
  memset(score, 0, sizeof score);
  memset(hit, 0, sizeof hit);
  uint32_t width = 128;
  for (;;) {
    uint32_t lo = DOC_END;
    for (uint32_t i = 0; i < n; i++)
      if (sc[i].doc < lo) lo = sc[i].doc;
    if (lo == DOC_END) return;
    uint32_t hi = lo + width < lo || lo + width > DOC_END ? DOC_END : lo + width;
    if (width < WINDOW) width *= 2;
    double theta = topk_threshold(t);
    /* window bounds, lists ordered by them (insertion sort: n is small) */
    for (uint32_t i = 0; i < n; i++) {
      float b = scorer_window_bound(&sc[i], lo, hi);
      uint32_t j = i;
      while (j > 0 && wub[j - 1] > b) {
        wub[j] = wub[j - 1];
        ord[j] = ord[j - 1];
        j--;
      }
      wub[j] = b;
      ord[j] = i;
    }
    double acc = 0;
    uint32_t first = 0; /* ord[0, first) are non-essential in this window */
    for (uint32_t j = 0; j < n; j++) {
      acc += wub[j];
      cum[j] = acc;
      if (acc <= theta) first = j + 1;
    }
    /* term at a time over the essential lists */
    uint32_t any = 0;
    for (uint32_t j = first; j < n; j++) {
      scorer *s = &sc[ord[j]];
      while (s->doc < hi) {
        uint32_t r = s->doc - lo;
        score[r] += scorer_score(s);
        hit[r >> 6] |= 1ull << (r & 63);
        any = 1;
        scorer_next(s);
      }
    }
    /* complete the candidates in doc order */
    for (uint32_t w = 0; any && w < (hi - lo + 63) / 64 && w < WINDOW / 64; w++) {
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
        for (uint32_t j = first; j-- > 0;) {
          if (s + cum[j] <= theta) {
            alive = 0;
            break;
          }
          scorer *x = &sc[ord[j]];
          if (x->doc < d) scorer_advance(x, d);
          if (x->doc == d) s += scorer_score(x);
        }
        if (alive) topk_push(t, base + d, (float)s);
      }
    }
    /* docs of the window left in non-essential lists cannot make the top k */
    if (hi == DOC_END) return;
    for (uint32_t j = 0; j < first; j++)
      if (sc[ord[j]].doc < hi) scorer_advance(&sc[ord[j]], hi);
  }
}
