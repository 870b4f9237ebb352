/*
** analysis.h — internal pieces of the Analyzer: the word segmenter (a
** UAX #29-style word-boundary scanner) and stopword lists.
*/
#ifndef BLEND_ANALYSIS_H
#define BLEND_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

enum seg_kind { SEG_WORD = 1, SEG_CJK = 2 };

typedef struct seg_token {
  size_t start, end; /* byte span in the text */
  int kind;          /* SEG_WORD or SEG_CJK (one ideograph/kana/hangul char) */
  int ascii;         /* every byte < 0x80: folding is a table lookup */
} seg_token;

/* Find the next token at or after *pos; returns 0 at end of text. Invalid
** UTF-8 bytes are separators. */
int seg_next(const uint8_t *s, size_t len, size_t *pos, seg_token *tok);

/* Stopword set lookup: list name → set (NULL if unknown). "none" → empty. */
typedef struct stopword_set stopword_set;
const stopword_set *stopwords_get(const char *name);
int stopwords_contains(const stopword_set *set, const char *term, size_t len);

/* Text of an analyzer-local term id (see blend_token.term_id). */
const char *analyzer_term(const blend_analyzer *a, uint32_t id, uint32_t *len);
uint32_t analyzer_term_count(const blend_analyzer *a);
/* When on, tokens carry only term_id (term NULL, term_len 0): the indexer
** needs no text per token, and looking it up costs cache misses. */
void analyzer_ids_only(blend_analyzer *a, int on);
/* Bound the term table and the surface cache to max_terms entries each
** (0: unbounded, the default): past that, every term is forgotten and ids
** restart, so ids are then only valid within one token callback. For
** long-lived query-side analyzers, whose callers use term text. */
void analyzer_bound_terms(blend_analyzer *a, uint32_t max_terms);
/* What the caches hold now (tests: memory stays flat). */
typedef struct analyzer_cache {
  uint32_t terms;      /* term ids assigned */
  size_t surface;      /* surface forms cached */
  size_t term_bytes;   /* capacity of the term text + offset buffers */
  uint64_t forgets;    /* times the tables were emptied */
} analyzer_cache;
void analyzer_cache_stats(const blend_analyzer *a, analyzer_cache *out);

#endif
