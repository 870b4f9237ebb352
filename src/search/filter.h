/*
** filter.h — filters compiled against one segment into an allow bitmap
** (live documents that pass every condition), and the per-searcher scratch
** that dense search and filtered lexical search share.
*/
#ifndef BLEND_SEARCH_FILTER_H
#define BLEND_SEARCH_FILTER_H

#include "index/index.h"

typedef struct vec_scratch vec_scratch;

/* Searcher scratch owned by the filter/dense code (searcher.c holds the
** pointer and frees it with searcher_ext_free). */
typedef struct searcher_ext {
  uint64_t *allow;        /* bitmap of the current segment */
  size_t allow_words;
  vec_scratch *vs;
  void *hits;             /* vec_hit [cap] */
  uint32_t hits_cap;
  blend_hit *out;         /* merged results [cap] */
  uint32_t out_cap;
  float *qbuf;            /* the query vector, normalised if cosine */
  uint32_t qcap;
} searcher_ext;

void searcher_ext_free(searcher_ext *x);
searcher_ext *searcher_ext_get(blend_searcher *s); /* created on first use; NULL on ENOMEM */
blend_index *searcher_index(blend_searcher *s);

/* Check f's fields against the index: BLEND_EINVAL naming an unknown one. */
int filter_check(const blend_filter *f, const blend_index *ix, blend_error *err);
/* The allow bitmap of segment s: live documents passing f (f may be NULL).
** *bits = NULL when every document is allowed (no filter, no deletions).
** *count = number allowed. */
int filter_segment(const blend_filter *f, const segment *s, searcher_ext *x, const uint64_t **bits,
                   uint32_t *count, blend_error *err);
/* Does the document pass f (live-ness not checked)? */
int filter_doc(const blend_filter *f, const segment *s, uint32_t doc);

#endif
