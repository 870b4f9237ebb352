/*
** stopwords.c — built-in stopword lists. "english" is Lucene's
** EnglishAnalyzer.ENGLISH_STOP_WORDS_SET, the default of Anserini's BEIR runs.
*/
#include <string.h>

#include "analysis/analysis.h"

struct stopword_set {
  const char *name;
  const char *const *words; /* sorted, NULL-terminated */
};

static const char *const english[] = {
    "a",    "an",   "and",  "are",   "as",    "at",    "be",   "but",  "by",
    "for",  "if",   "in",   "into",  "is",    "it",    "no",   "not",  "of",
    "on",   "or",   "such", "that",  "the",   "their", "then", "there", "these",
    "they", "this", "to",   "was",   "will",  "with",  NULL};
static const char *const none[] = {NULL};

static const stopword_set sets[] = {{"english", english}, {"none", none}};

const stopword_set *stopwords_get(const char *name) {
  for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
    if (!strcmp(sets[i].name, name)) return &sets[i];
  return NULL;
}

int stopwords_contains(const stopword_set *set, const char *term, size_t len) {
  if (len > 5) return 0; /* longest English stopword has 5 letters */
  for (const char *const *w = set->words; *w; w++)
    if ((*w)[0] == term[0] && !strncmp(*w, term, len) && (*w)[len] == 0) return 1;
  return 0;
}
