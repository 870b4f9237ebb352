/*
** rerank.h — the cross-encoder stage over fused hits: reads each hit's
** stored field, scores (query, text) pairs in one batch with blend_rerank
** (the model truncates pairs to its maximum length, longest first).
*/
#ifndef BLEND_RERANK_H
#define BLEND_RERANK_H

#include <stdint.h>

#include "blend.h"

/* scores[i] = the cross-encoder logit of (query, field text of docs[i]).
** A document without the field (or docs[i] == UINT32_MAX, a run's document
** the index does not hold) is scored on empty text. */
int rerank_docs(blend_model *m, blend_searcher *s, const char *query, const char *field,
                const uint32_t *docs, uint32_t n, float *scores, blend_error *err);

#endif
