/*
** exhaustive.c — document-at-a-time scoring of every candidate: the simple,
** always-correct twin of the pruning algorithms, and the path for queries
** with must / must-not clauses and phrases. A candidate must match every
** must clause (in any of its fields) and no must-not clause (in any field); its score sums the should and must
** scorers positioned on it (in double, so the sum does not depend on order).
*/
#include "search/scorer.h"

void run_exhaustive(scorer *sc, uint32_t n, uint32_t base, topk *t) {
  int has_pos = 0;
  for (uint32_t i = 0; i < n; i++)
    if (sc[i].occur != OCCUR_MUST_NOT) has_pos = 1;
  if (!has_pos) return; /* a purely negative query matches nothing */
  for (;;) {
    uint32_t d = DOC_END;
    for (uint32_t i = 0; i < n; i++)
      if (sc[i].occur != OCCUR_MUST_NOT && sc[i].doc < d) d = sc[i].doc;
    if (d == DOC_END) return;
    int ok = 1;
    for (uint32_t i = 0; i < n && ok;) {
      if (sc[i].occur == OCCUR_MUST) {
        /* a must clause's scorers (one per field) are adjacent: any may match */
        uint32_t j = i;
        int any = 0;
        for (; j < n && sc[j].occur == OCCUR_MUST && sc[j].clause == sc[i].clause; j++)
          any |= sc[j].doc == d;
        ok = any;
        i = j;
        continue;
      }
      if (sc[i].occur == OCCUR_MUST_NOT) {
        if (sc[i].doc < d) scorer_advance(&sc[i], d);
        if (sc[i].doc == d) ok = 0;
      }
      i++;
    }
    double score = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (sc[i].occur == OCCUR_MUST_NOT || sc[i].doc != d) continue;
      if (ok) score += scorer_score(&sc[i]);
      scorer_next(&sc[i]);
    }
    if (ok) topk_push(t, base + d, (float)score);
  }
}
