/*
** merge.c — the merge policy and the merger.
**
** Merger (seg_merge.c): the live documents of the chosen segments, in
** segment order then doc order, become one new segment without analysing
** any text: postings are decoded term by term across the sources, deleted
** documents dropped, doc numbers remapped and re-encoded; norms, stored
** fields, ids, metadata and vector rows are copied; field statistics, the
** id dictionary, int8 codes and the HNSW graph are rebuilt — so the
** segment equals a fresh build of the same live documents. The switch is
** an ordinary commit, so a merge is crash-safe the same way: until the
** manifest rename, the old segments are the index.
**
** Policy (after each commit; a simplified form of Lucene's
** TieredMergePolicy): segments are sized by live documents, sizes below
** MERGE_FLOOR count as MERGE_FLOOR, and a segment's tier is
** floor(log10(size / MERGE_FLOOR)). A tier holding MERGE_FACTOR segments
** merges its MERGE_FACTOR smallest into one (similar sizes, so each
** document is rewritten O(log N) times); a segment whose deleted share
** exceeds EXPUNGE_RATIO is rewritten alone to reclaim the space. The
** segment count thus stays bounded by about MERGE_FACTOR per tier.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/writer.h"

#define MERGE_FLOOR 1000.0
#define MERGE_FACTOR 10
#define EXPUNGE_RATIO 0.3

/* Merge the segments whose flags are set in pick into one. */
static int merge_picked(blend_writer *w, const uint8_t *pick, blend_error *err) {
  merge_src *src = malloc(((size_t)w->ix->nsegs + 1) * sizeof *src);
  if (!src) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  uint32_t nsrc = 0;
  for (uint32_t i = 0; i < w->ix->nsegs; i++)
    if (pick[i]) src[nsrc++] = (merge_src){&w->ix->segs[i], w->live[i]};
  manifest next;
  int rc = writer_next_manifest(w, &next, err);
  if (rc) {
    free(src);
    return rc;
  }
  manifest_seg ns = {0};
  char path[4096 + 128];
  snprintf(ns.name, sizeof ns.name, "seg-%06llu-%llu.bseg", (unsigned long long)next.generation,
           (unsigned long long)next.next_segment++);
  snprintf(path, sizeof path, "%s/%s", w->dir, ns.name);
  rc = seg_merge_write(&w->cfg, src, nsrc, path, &ns.docs, &ns.bytes, &ns.crc, err);
  free(src);
  for (uint32_t i = 0; !rc && i < w->ix->nsegs; i++)
    if (!pick[i] && manifest_add_seg(&next, &w->base.segs[i]))
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (!rc && ns.docs && manifest_add_seg(&next, &ns)) rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (!rc) rc = writer_commit_generation(w, &next, err);
  else manifest_free(&next);
  return rc;
}

static uint32_t live_docs(const manifest_seg *s) { return s->docs - s->deleted; }

typedef struct seg_size {
  uint32_t seg;
  uint32_t live;
} seg_size;

static int by_size(const void *a, const void *b) {
  const seg_size *x = a, *y = b;
  if (x->live != y->live) return x->live < y->live ? -1 : 1;
  return x->seg < y->seg ? -1 : x->seg > y->seg;
}

static int tier_of(uint32_t live) {
  double s = live < MERGE_FLOOR ? MERGE_FLOOR : (double)live;
  return (int)floor(log10(s / MERGE_FLOOR));
}

/* One merge the policy wants, in pick; returns 1 if there is one. */
static int policy_pick(const blend_writer *w, uint8_t *pick) {
  uint32_t n = w->base.nsegs;
  memset(pick, 0, n);
  for (uint32_t i = 0; i < n; i++) {
    const manifest_seg *s = &w->base.segs[i];
    if (s->deleted > 0 && (double)s->deleted / s->docs > EXPUNGE_RATIO) {
      pick[i] = 1;
      return 1;
    }
  }
  seg_size *sz = malloc((n + 1) * sizeof *sz);
  if (!sz) return 0;
  for (uint32_t i = 0; i < n; i++) sz[i] = (seg_size){i, live_docs(&w->base.segs[i])};
  qsort(sz, n, sizeof *sz, by_size);
  int found = 0;
  for (uint32_t i = 0; i < n && !found;) {
    uint32_t j = i;
    while (j < n && tier_of(sz[j].live) == tier_of(sz[i].live)) j++;
    if (j - i >= MERGE_FACTOR) {
      for (uint32_t k = i; k < i + MERGE_FACTOR; k++) pick[sz[k].seg] = 1;
      found = 1;
    }
    i = j;
  }
  free(sz);
  return found;
}

int writer_maybe_merge(blend_writer *w, blend_error *err) {
  for (int rounds = 0; rounds < 64 && w->ix; rounds++) {
    uint8_t *pick = malloc(w->base.nsegs + 1);
    if (!pick) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    int want = policy_pick(w, pick);
    int rc = want ? merge_picked(w, pick, err) : BLEND_OK;
    free(pick);
    if (rc || !want) return rc;
  }
  return BLEND_OK;
}

int blend_writer_force_merge(blend_writer *w, uint32_t max_segments, blend_error *err) {
  if (max_segments == 0) return blend_seterr(err, BLEND_EINVAL, "--max-segments must be at least 1");
  /* commit pending adds and deletions first: a merge rebases the writer on
     its new generation, which would drop deletions still pending in the
     segments it does not pick */
  int pending = w->buf.ndocs || w->npending;
  for (uint32_t i = 0; w->ix && i < w->ix->nsegs; i++) pending |= w->dirty[i];
  if (pending) {
    int rc = blend_writer_commit(w, err);
    if (rc) return rc;
  }
  while (w->ix) {
    uint32_t n = w->base.nsegs;
    int any_deleted = 0;
    for (uint32_t i = 0; i < n; i++) any_deleted |= w->base.segs[i].deleted > 0;
    if (n <= max_segments && !(max_segments == 1 && any_deleted)) return BLEND_OK;
    uint8_t *pick = calloc(n + 1, 1);
    seg_size *sz = malloc((n + 1) * sizeof *sz);
    if (!pick || !sz) {
      free(pick);
      free(sz);
      return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) sz[i] = (seg_size){i, live_docs(&w->base.segs[i])};
    qsort(sz, n, sizeof *sz, by_size);
    /* the smallest segments, enough of them to land on max_segments */
    uint32_t take = n > max_segments ? n - max_segments + 1 : n;
    for (uint32_t k = 0; k < take; k++) pick[sz[k].seg] = 1;
    int rc = merge_picked(w, pick, err);
    free(pick);
    free(sz);
    if (rc) return rc;
  }
  return BLEND_OK;
}
