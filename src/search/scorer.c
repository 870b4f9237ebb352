/*
** scorer.c — BM25 term and phrase scorers and the top-k heap.
**
** BM25 as Lucene computes it: score = w · tf / (tf + K[norm]) with
** w = boost · idf, idf = ln(1 + (N − df + 0.5)/(df + 0.5)) and
** K[norm] = k1 · (1 − b + b · len(norm)/avgdl). Phrases score like Lucene's
** PhraseQuery: the phrase frequency as tf and the sum of the terms' idfs.
*/
#include "search/scorer.h"

static void phrase_find(scorer *s, uint32_t target);

void phrase_advance(scorer *s, uint32_t target) { phrase_find(s, target); }

float scorer_block_bound(scorer *s, uint32_t target, uint32_t *last) {
  uint32_t mtf;
  uint8_t mn;
  if (s->is_phrase || !pcursor_block_bound(s->pc, target, last, &mtf, &mn)) {
    *last = s->is_phrase && s->doc != DOC_END ? DOC_END - 1 : DOC_END;
    return s->is_phrase ? s->upper : 0.0f;
  }
  return bm25(s->weight, mtf, s->K[mn]) * BOUND_SLACK;
}

float scorer_window_bound(scorer *s, uint32_t lo, uint32_t hi) {
  if (s->doc >= hi) return 0.0f;
  if (s->is_phrase) return s->upper * BOUND_SLACK;
  uint32_t mtf;
  uint8_t mn;
  if (!pcursor_window_bound(s->pc, lo, hi, &mtf, &mn)) return 0.0f;
  return bm25(s->weight, mtf, s->K[mn]) * BOUND_SLACK;
}

/* Count occurrences of the phrase in the current (common) doc. */
static uint32_t phrase_freq(scorer *s) {
  uint32_t *pos0 = s->posbuf;
  uint32_t n0 = pcursor_positions(s->parts[0], pos0, POS_CAP);
  uint32_t *cur = s->posbuf + POS_CAP;
  uint32_t nmatch = n0;
  /* candidates: start positions p with p + rel[i] in part i for all i */
  for (uint32_t i = 1; i < s->nparts && nmatch; i++) {
    uint32_t ni = pcursor_positions(s->parts[i], cur, POS_CAP);
    uint32_t w = 0, j = 0;
    for (uint32_t a = 0; a < nmatch; a++) {
      uint32_t want = pos0[a] + s->rel[i];
      while (j < ni && cur[j] < want) j++;
      if (j < ni && cur[j] == want) pos0[w++] = pos0[a];
    }
    nmatch = w;
  }
  return nmatch;
}

static void phrase_find(scorer *s, uint32_t target) {
  for (;;) {
    /* leapfrog all parts to a common doc ≥ target */
    uint32_t d = target;
    int again = 1;
    while (again) {
      again = 0;
      for (uint32_t i = 0; i < s->nparts; i++) {
        pcursor *c = s->parts[i];
        if (c->doc < d) pcursor_advance(c, d);
        if (c->doc == DOC_END) {
          s->doc = DOC_END;
          return;
        }
        if (c->doc > d) {
          d = c->doc;
          again = 1;
        }
      }
    }
    uint32_t f = phrase_freq(s);
    if (f > 0) {
      s->doc = d;
      s->phrase_tf = f;
      return;
    }
    target = d + 1;
  }
}

void scorer_init_phrase(scorer *s) {
  s->doc = 0;
  phrase_find(s, 0);
}

/* ---- top-k heap */
static inline int worse(const topk *t, uint32_t a, uint32_t b) {
  return t->score[a] < t->score[b] || (t->score[a] == t->score[b] && t->doc[a] > t->doc[b]);
}

static void swap(topk *t, uint32_t a, uint32_t b) {
  float s = t->score[a];
  t->score[a] = t->score[b];
  t->score[b] = s;
  uint32_t d = t->doc[a];
  t->doc[a] = t->doc[b];
  t->doc[b] = d;
}

static void sift_down(topk *t, uint32_t i, uint32_t n) {
  for (;;) {
    uint32_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && worse(t, l, m)) m = l;
    if (r < n && worse(t, r, m)) m = r;
    if (m == i) return;
    swap(t, i, m);
    i = m;
  }
}

void topk_push(topk *t, uint32_t doc, float score) {
  if (t->allow) {
    uint32_t l = doc - t->allow_base;
    if (!((t->allow[l >> 6] >> (l & 63)) & 1)) return; /* deleted or filtered out */
  }
  t->scored++;
  if (t->k == 0) return;
  if (t->n < t->k) {
    uint32_t i = t->n++;
    t->score[i] = score;
    t->doc[i] = doc;
    while (i > 0) {
      uint32_t p = (i - 1) / 2;
      if (!worse(t, i, p)) break;
      swap(t, i, p);
      i = p;
    }
    return;
  }
  if (score < t->score[0] || (score == t->score[0] && doc > t->doc[0])) return;
  t->score[0] = score;
  t->doc[0] = doc;
  sift_down(t, 0, t->n);
}

void topk_sort(topk *t) {
  /* heap sort: repeatedly move the worst to the end */
  for (uint32_t n = t->n; n > 1; n--) {
    swap(t, 0, n - 1);
    sift_down(t, 0, n - 1);
  }
}
