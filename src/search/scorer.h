/*
** scorer.h — scorers over one segment: a BM25 term scorer (a postings
** cursor with its weight and the field's norm cache) or a phrase scorer
** (a conjunction of cursors checked for consecutive positions). The top-k
** algorithms (exhaustive.c, maxscore.c, bmw.c) drive arrays of them and
** feed a topk collector.
*/
#ifndef BLEND_SEARCH_SCORER_H
#define BLEND_SEARCH_SCORER_H

#include "index/index.h"
#include "search/query.h"

/* Relative slack on score upper bounds: float rounding in the per-term
** score must never make a bound smaller than a real score. */
#define BOUND_SLACK 1.00001f

typedef struct scorer {
  int occur;
  int is_phrase;
  uint32_t clause;        /* index into the query's clauses (explain) */
  uint32_t field;
  float weight;           /* boost × idf (phrases: sum of idfs) */
  float upper;            /* max score over the whole list */
  const float *K;         /* [256] k1·(1−b+b·len/avgdl) by norm byte */
  const uint8_t *norms;   /* [ndocs] of the field in this segment */
  uint32_t doc;           /* current doc (DOC_END when done) */
  /* term */
  pcursor *pc;
  /* phrase */
  pcursor **parts;
  uint32_t nparts;
  const uint32_t *rel;    /* relative positions of parts */
  uint32_t phrase_tf;     /* phrase frequency at doc */
  uint32_t *posbuf;       /* scratch [nparts × POS_CAP] */
} scorer;

#define POS_CAP 4096

static inline float bm25(float weight, uint32_t tf, float K) {
  float f = (float)tf;
  return weight * (f / (f + K));
}

void phrase_advance(scorer *s, uint32_t target);

static inline void scorer_advance(scorer *s, uint32_t target) {
  if (s->doc == DOC_END) return;
  if (s->is_phrase) {
    phrase_advance(s, target);
    return;
  }
  if (target > s->pc->doc) pcursor_advance(s->pc, target);
  s->doc = s->pc->doc;
}

static inline void scorer_next(scorer *s) {
  if (!s->is_phrase && s->doc != DOC_END) {
    pcursor_next(s->pc);
    s->doc = s->pc->doc;
  } else {
    scorer_advance(s, s->doc + 1);
  }
}

/* tf or phrase frequency at s->doc */
static inline uint32_t scorer_tf(scorer *s) {
  return s->is_phrase ? s->phrase_tf : pcursor_tf(s->pc);
}

static inline float scorer_score(scorer *s) { /* at s->doc */
  return bm25(s->weight, scorer_tf(s), s->K[s->norms[s->doc]]);
}
/* Score bound for the block holding target; DOC_END in *last when none. */
float scorer_block_bound(scorer *s, uint32_t target, uint32_t *last);
/* Bound on the score of any doc of s in [lo, hi) (0: none there). */
float scorer_window_bound(scorer *s, uint32_t lo, uint32_t hi);
void scorer_init_phrase(scorer *s);  /* position the phrase on its first match */

/* Top-k collector: a binary min-heap, worst hit (lowest score, then highest
** doc) at the root. */
typedef struct topk {
  uint32_t k, n;
  float *score;
  uint32_t *doc;
  uint64_t scored;
  const uint64_t *allow;  /* this segment's allowed docs (live, passing the
                             filter), bit (doc − allow_base); NULL: all */
  uint32_t allow_base;
} topk;

static inline float topk_threshold(const topk *t) {
  return t->n < t->k ? -1.0f : t->score[0];
}
void topk_push(topk *t, uint32_t doc, float score);
/* Sort hits best first (score desc, doc asc) in place. */
void topk_sort(topk *t);

/* The algorithms. base is added to local doc numbers before collecting. */
void run_exhaustive(scorer *sc, uint32_t n, uint32_t base, topk *t);
void run_maxscore(scorer *sc, uint32_t n, uint32_t base, topk *t);
void run_bmw(scorer *sc, uint32_t n, uint32_t base, topk *t);

#endif
