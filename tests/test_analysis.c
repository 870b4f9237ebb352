/*
** test_analysis.c — the Analyzer: segmentation, folding, possessives,
** stopwords, stemming, CJK bigrams, positions and bad input.
*/
#include <stdlib.h>

#include "blend.h"
#include "test.h"

typedef struct toks {
  char buf[4096];
  size_t len;
  uint32_t pos[256];
  uint32_t start[256], end[256];
  int n;
} toks;

static int collect(void *ctx, const blend_token *t) {
  toks *k = ctx;
  if (k->len) k->buf[k->len++] = ' ';
  memcpy(k->buf + k->len, t->term, t->term_len);
  k->len += t->term_len;
  k->buf[k->len] = 0;
  if (k->n < 256) {
    k->pos[k->n] = t->position;
    k->start[k->n] = t->start;
    k->end[k->n] = t->end;
  }
  k->n++;
  return 0;
}

static const char *run(blend_analyzer *a, const char *text, toks *k) {
  memset(k, 0, sizeof *k);
  blend_analyze(a, text, strlen(text), collect, k);
  return k->buf;
}

static blend_analyzer *make(const char *stemmer, const char *stop) {
  blend_analyzer_config c;
  blend_analyzer_config_default(&c);
  strcpy(c.stemmer, stemmer);
  strcpy(c.stopwords, stop);
  blend_analyzer *a = NULL;
  blend_error err = {0};
  if (blend_analyzer_new(&c, &a, &err)) printf("analyzer: %s\n", err.message);
  return a;
}

TEST(default_english_pipeline) {
  blend_analyzer *a = make("porter", "english");
  REQUIRE(a);
  toks k;
  CHECK_STR(run(a, "The running dogs' owner's houses are in the U.S.A.", &k),
            "run dog owner hous u.s.a");
  CHECK_STR(run(a, "Cats, cats and CATS!", &k), "cat cat cat");
  CHECK_STR(run(a, "covid-19 cases rose 3.5% in 2020", &k), "covid 19 case rose 3.5 2020");
  CHECK_STR(run(a, "don't e.g. 1,000,000 foo_bar", &k), "don't e.g 1,000,000 foo_bar");
  blend_analyzer_free(a);
}

TEST(positions_keep_stopword_gaps) {
  blend_analyzer *a = make("porter", "english");
  toks k;
  run(a, "the cat is on the mat", &k);
  CHECK_EQ_INT(k.n, 2);
  CHECK_EQ_INT(k.pos[0], 1);
  CHECK_EQ_INT(k.pos[1], 5);
  CHECK_EQ_INT(k.start[1], 18);
  CHECK_EQ_INT(k.end[1], 21);
  blend_analyzer_free(a);
}

TEST(unicode_folding) {
  blend_analyzer *a = make("none", "none");
  toks k;
  /* NFKC: ligature fi, full-width letters; case folding incl. ß and Greek */
  CHECK_STR(run(a, "\xef\xac\x81nance \xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 Stra\xc3\x9f" "e \xce\x9f\xce\x94\xce\x9f\xce\xa3", &k),
            "finance abc strasse οδοσ");
  /* composed and decomposed é fold to the same term */
  toks k2;
  run(a, "caf\xc3\xa9", &k);
  run(a, "cafe\xcc\x81", &k2);
  CHECK_STR(k.buf, k2.buf);
  blend_analyzer_free(a);
}

TEST(cjk_bigrams) {
  blend_analyzer *a = make("porter", "english");
  toks k;
  CHECK_STR(run(a, "\xe4\xb8\xad\xe6\x96\x87\xe6\xa3\x80\xe7\xb4\xa2 test", &k),
            "\xe4\xb8\xad\xe6\x96\x87 \xe6\x96\x87\xe6\xa3\x80 \xe6\xa3\x80\xe7\xb4\xa2 test");
  CHECK_STR(run(a, "\xe4\xb8\xad x", &k), "\xe4\xb8\xad x"); /* a lone character stays */
  blend_analyzer_free(a);
}

TEST(invalid_utf8_is_a_separator) {
  blend_analyzer *a = make("porter", "english");
  toks k;
  CHECK_STR(run(a, "abc\xff\xfe" "def \xc3 ghi \xed\xa0\x80 jkl", &k), "abc def ghi jkl");
  blend_analyzer_free(a);
}

TEST(stemmer_languages_and_errors) {
  blend_analyzer *a = make("french", "none");
  REQUIRE(a);
  toks k;
  CHECK_STR(run(a, "continuellement", &k), "continuel");
  blend_analyzer_free(a);
  blend_analyzer_config c;
  blend_analyzer_config_default(&c);
  strcpy(c.stemmer, "klingon");
  blend_error err = {0};
  blend_analyzer *b = NULL;
  CHECK_EQ_INT(blend_analyzer_new(&c, &b, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "klingon") != NULL);
  CHECK(b == NULL);
  blend_analyzer_config_default(&c);
  strcpy(c.stopwords, "elvish");
  CHECK_EQ_INT(blend_analyzer_new(&c, &b, &err), BLEND_EINVAL);
}

TEST(long_tokens_are_dropped) {
  blend_analyzer *a = make("none", "none");
  char big[1200];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  toks k;
  run(a, big, &k);
  CHECK_EQ_INT(k.n, 0);
  blend_analyzer_free(a);
}

TEST(stem_cache_gives_the_same_terms) {
  blend_analyzer *a = make("porter", "english");
  toks k;
  /* the second pass is served from the analyzer's stem cache */
  for (int pass = 0; pass < 2; pass++) {
    CHECK_STR(run(a, "Running runners ran 's the THE", &k), "run runner ran");
    CHECK_EQ_INT(k.pos[2], 2);
  }
  blend_analyzer_free(a);
}
