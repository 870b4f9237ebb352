/*
** test_index.c — writer → segment → searcher round trips on small corpora:
** BM25 values against the formula, query syntax, duplicates, stored
** fields, atomic commits, corruption, and MaxScore / block-max WAND against
** exhaustive scoring on a synthetic corpus with many postings blocks.
*/
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

static char dirbuf[512];
static const char *fresh_dir(const char *name) {
  snprintf(dirbuf, sizeof dirbuf, "%s/%s", test_tmpdir(), name);
  return dirbuf;
}

static int add(blend_writer *w, const char *id, const char *title, const char *text) {
  blend_field_value f[2] = {{"title", title, strlen(title)}, {"text", text, strlen(text)}};
  blend_doc d = {.id = id, .id_len = strlen(id), .fields = f, .nfields = 2};
  blend_error err = {0};
  int rc = blend_writer_add(w, &d, &err);
  if (rc) printf("add %s: %s\n", id, err.message);
  return rc;
}

static const char *corpus[][3] = {
    {"d1", "Cats", "the cat sat on the mat"},
    {"d2", "Dogs", "dogs chase cats and cats chase mice"},
    {"d3", "Birds", "birds sing in the morning"},
    {"d4", "Mixed", "a cat and a dog and a bird"},
    {"d5", "Empty", ""},
};

static blend_index *build_small(const char *name) {
  const char *dir = fresh_dir(name);
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  blend_error err = {0};
  if (blend_writer_open(dir, &cfg, &w, &err)) return NULL;
  for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++)
    add(w, corpus[i][0], corpus[i][1], corpus[i][2]);
  int rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  if (rc) return NULL;
  blend_index *ix;
  if (blend_index_open(dir, &ix, &err)) return NULL;
  return ix;
}

static const char *hit_id(blend_searcher *s, const blend_results *r, uint32_t i) {
  static char buf[64];
  const char *id;
  size_t n;
  if (blend_searcher_doc_id(s, r->hits[i].doc, &id, &n, NULL)) return "?";
  snprintf(buf, sizeof buf, "%.*s", (int)n, id);
  return buf;
}

TEST(bm25_matches_lucene_formula) {
  blend_index *ix = build_small("bm25");
  REQUIRE(ix);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_search_options o;
  blend_search_options_default(&o);
  blend_results r;
  REQUIRE(blend_search(s, "cat", &o, &r, NULL) == 0);
  /* flat field "contents": title + text. d1: cats + cat sat mat → cat tf 2, len 4;
     d2: dogs dog chase cat cat chase mice → tf 2, len 7; d4: mixed cat dog bird → tf 1, len 4 */
  REQUIRE(r.count == 3);
  double N = 5, df = 3, avgdl = (4 + 7 + 4 + 4 + 1) / 5.0; /* d3: birds bird sing morn; d5: empty */
  double idf = log(1 + (N - df + 0.5) / (df + 0.5));
  double k1 = 0.9, b = 0.4;
  double s1 = idf * 2 / (2 + k1 * (1 - b + b * 4 / avgdl));
  double s2 = idf * 2 / (2 + k1 * (1 - b + b * 7 / avgdl));
  double s4 = idf * 1 / (1 + k1 * (1 - b + b * 4 / avgdl));
  CHECK_STR(hit_id(s, &r, 0), "d1");
  CHECK_NEAR(r.hits[0].score, s1, 1e-5);
  CHECK_STR(hit_id(s, &r, 1), "d2");
  CHECK_NEAR(r.hits[1].score, s2, 1e-5);
  CHECK_STR(hit_id(s, &r, 2), "d4");
  CHECK_NEAR(r.hits[2].score, s4, 1e-5);
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* Run q and check the hit count and, when given, the first hit's id. */
static void expect(blend_searcher *s, const blend_search_options *o, const char *q, uint32_t count,
                   const char *first) {
  blend_results r;
  blend_error err = {0};
  if (blend_search(s, q, o, &r, &err) != 0) {
    test_fail(__FILE__, __LINE__, "search '%s': %s", q, err.message);
    return;
  }
  CHECKF(r.count == count, "'%s': %u hits, want %u", q, r.count, count);
  if (first && r.count) CHECKF(!strcmp(hit_id(s, &r, 0), first), "'%s': first hit %s, want %s", q,
                               hit_id(s, &r, 0), first);
}

TEST(query_syntax) {
  blend_index *ix = build_small("syntax");
  REQUIRE(ix);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_search_options o;
  blend_search_options_default(&o);
  expect(s, &o, "+cat -dog", 1, "d1");
  expect(s, &o, "\"chase cats\"", 1, "d2");
  expect(s, &o, "\"cats chase dogs\"", 0, NULL);
  /* removed stopwords keep their positions: "sat on the mat" matches, "sat mat" does not */
  expect(s, &o, "\"sat on the mat\"", 1, "d1");
  expect(s, &o, "\"sat mat\"", 0, NULL);
  expect(s, &o, "title:dog", 1, "d2");
  expect(s, &o, "-cat", 0, NULL);
  expect(s, &o, "", 0, NULL);
  expect(s, &o, "zebra", 0, NULL);
  blend_results r;
  REQUIRE(blend_search(s, "the and of", &o, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 0);
  CHECK_EQ_INT(r.nquery_terms, 0);
  /* unknown field name: the text is searched as is */
  REQUIRE(blend_search(s, "nosuchfield:cat", &o, &r, NULL) == 0);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(explain_adds_up_and_multifield) {
  blend_index *ix = build_small("explain");
  REQUIRE(ix);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_search_options o;
  blend_search_options_default(&o);
  o.explain = 1;
  blend_results r;
  REQUIRE(blend_search(s, "cat dog mice", &o, &r, NULL) == 0);
  REQUIRE(r.count > 0);
  for (uint32_t i = 0; i < r.count; i++) {
    double sum = 0;
    for (uint32_t t = 0; t < r.hits[i].nterms; t++) sum += r.hits[i].terms[t].score;
    CHECK_NEAR(sum, r.hits[i].score, 1e-5);
  }
  /* a phrase is explained as one clause: its terms joined, the phrase frequency as tf */
  REQUIRE(blend_search(s, "\"chase cats\" mice", &o, &r, NULL) == 0);
  REQUIRE(r.count == 1 && r.hits[0].nterms == 2);
  CHECK_STR(r.hits[0].terms[0].term, "chase cat");
  CHECK_EQ_INT(r.hits[0].terms[0].tf, 1);
  CHECK_NEAR(r.hits[0].terms[0].score + r.hits[0].terms[1].score, r.hits[0].score, 1e-5);
  o.field_mode = BLEND_FIELDS_MULTI;
  strcpy(o.field_weights[0].name, "title");
  o.field_weights[0].weight = 0;
  o.nfield_weights = 1;
  REQUIRE(blend_search(s, "dogs", &o, &r, NULL) == 0);
  /* title weight 0: only the text field counts; d2 and d4 both have "dog" in text */
  CHECK_EQ_INT(r.count, 2);
  /* a must clause over several fields is met by any of them */
  expect(s, &o, "+birds +morning", 1, "d3"); /* "morning" only in d3's text */
  expect(s, &o, "+mixed cat", 1, "d4");      /* "mixed" only in d4's title */
  expect(s, &o, "+zebra cat", 0, NULL);      /* a must term in no field matches nothing */
  expect(s, &o, "cat -mixed", 2, NULL);      /* a must-not term in any field excludes */
  for (uint32_t i = 0; i < r.count; i++)
    for (uint32_t t = 0; t < r.hits[i].nterms; t++)
      if (!strcmp(r.hits[i].terms[t].field, "title")) CHECK(r.hits[i].terms[t].score == 0);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(stored_fields_and_snippets) {
  blend_index *ix = build_small("stored");
  REQUIRE(ix);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_results r;
  REQUIRE(blend_search(s, "morning", NULL, &r, NULL) == 0);
  REQUIRE(r.count == 1);
  const char *t;
  size_t n;
  REQUIRE(blend_searcher_doc_field(s, r.hits[0].doc, "title", &t, &n, NULL) == 0);
  CHECK(n == 5 && !memcmp(t, "Birds", 5));
  const char *snip;
  REQUIRE(blend_searcher_snippet(s, r.hits[0].doc, "text", "mornings", 100, "<", ">", &snip, NULL) == 0);
  CHECK_STR(snip, "birds sing in the <morning>");
  /* the window with the most distinct query terms wins over a denser one */
  REQUIRE(blend_search(s, "chase mice", NULL, &r, NULL) == 0);
  REQUIRE(r.count == 1);
  REQUIRE(blend_searcher_snippet(s, r.hits[0].doc, "text", "chase mice", 24, "<", ">", &snip, NULL) == 0);
  CHECK(strstr(snip, "<mice>") != NULL);
  blend_error err = {0};
  CHECK_EQ_INT(blend_searcher_doc_field(s, r.hits[0].doc, "nope", &t, &n, &err), BLEND_ENOTFOUND);
  CHECK_EQ_INT(blend_searcher_doc_id(s, 99, &t, &n, &err), BLEND_ENOTFOUND);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.docs, 5);
  CHECK(st.terms > 10);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(duplicate_ids_last_wins) {
  const char *dir = fresh_dir("dups");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, NULL) == 0);
  add(w, "a", "", "apple banana");
  add(w, "b", "", "cherry");
  add(w, "a", "", "durian");
  CHECK_EQ_INT(blend_writer_duplicates(w), 1);
  REQUIRE(blend_writer_commit(w, NULL) == 0);
  blend_writer_close(w);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, NULL) == 0);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_results r;
  REQUIRE(blend_search(s, "apple", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 0);
  REQUIRE(blend_search(s, "durian cherry", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 2);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.docs, 2);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(uncommitted_writer_leaves_index_intact) {
  blend_index *ix = build_small("atomic");
  REQUIRE(ix);
  blend_index_close(ix);
  const char *dir = fresh_dir("atomic");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, NULL) == 0);
  add(w, "z", "zebra", "zebra");
  blend_writer_close(w); /* no commit */
  /* a crash between writing a segment and switching the manifest */
  char junk[600];
  snprintf(junk, sizeof junk, "%s/seg-000099-0.bseg", dir);
  FILE *f = fopen(junk, "w");
  fputs("half written", f);
  fclose(f);
  snprintf(junk, sizeof junk, "%s/MANIFEST.tmp.123", dir);
  f = fopen(junk, "w");
  fputs("{", f);
  fclose(f);
  REQUIRE(blend_index_open(dir, &ix, NULL) == 0);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_results r;
  REQUIRE(blend_search(s, "zebra", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 0);
  REQUIRE(blend_search(s, "cat", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 3);
  blend_searcher_free(s);
  /* the next commit replaces the generation and removes the garbage */
  REQUIRE(blend_writer_open(dir, &cfg, &w, NULL) == 0);
  add(w, "z", "zebra", "zebra");
  REQUIRE(blend_writer_commit(w, NULL) == 0);
  blend_writer_close(w);
  CHECK(access(junk, F_OK) != 0);
  blend_index *ix2;
  REQUIRE(blend_index_open(dir, &ix2, NULL) == 0);
  REQUIRE(blend_searcher_new(ix2, &s, NULL) == 0);
  REQUIRE(blend_search(s, "zebra", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 1);
  blend_searcher_free(s);
  /* the old reader still works on its mapped generation */
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  REQUIRE(blend_search(s, "cat", NULL, &r, NULL) == 0);
  CHECK_EQ_INT(r.count, 3);
  blend_searcher_free(s);
  blend_index_close(ix);
  blend_index_close(ix2);
}

static char *seg_path(const char *dir) {
  static char p[700];
  char cmd[700];
  snprintf(cmd, sizeof cmd, "ls %s/seg-*.bseg", dir);
  FILE *f = popen(cmd, "r");
  if (!f || !fgets(p, sizeof p, f)) p[0] = 0;
  if (f) pclose(f);
  p[strcspn(p, "\n")] = 0;
  return p;
}

TEST(corrupt_or_missing_index_is_an_error) {
  blend_index *ix = build_small("corrupt");
  REQUIRE(ix);
  blend_index_close(ix);
  const char *dir = fresh_dir("corrupt");
  char *sp = seg_path(dir);
  REQUIRE(sp[0]);
  blend_error err = {0};
  /* flip one byte in the middle */
  FILE *f = fopen(sp, "r+b");
  REQUIRE(f);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, size / 2, SEEK_SET);
  int c = fgetc(f);
  fseek(f, size / 2, SEEK_SET);
  fputc(c ^ 0x5a, f);
  fclose(f);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ECORRUPT);
  CHECK(strstr(err.message, "checksum") != NULL);
  /* truncated */
  CHECK(truncate(sp, size / 3) == 0);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ECORRUPT);
  CHECK(truncate(sp, 10) == 0);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ECORRUPT);
  CHECK(strstr(err.message, "not a blend segment") != NULL);
  unlink(sp);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ECORRUPT);
  CHECK(strstr(err.message, "missing") != NULL);
  char mp[600];
  snprintf(mp, sizeof mp, "%s/MANIFEST", dir);
  f = fopen(mp, "w");
  fputs("{not json", f);
  fclose(f);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ECORRUPT);
  /* an index of the previous format (1): a rebuild, named as such */
  f = fopen(mp, "w");
  fputs("{\"format\": 1, \"generation\": 1, \"analyzer\": {\"stemmer\": \"porter\", \"stopwords\": "
        "\"english\", \"cjk_bigrams\": 1}, \"segments\": [{\"name\": \"seg-000001-0.bseg\"}]}",
        f);
  fclose(f);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_EUNSUPPORTED);
  CHECK(strstr(err.message, "format 1") != NULL && strstr(err.message, "format 2") != NULL &&
        strstr(err.message, "rebuild") != NULL);
  unlink(mp);
  CHECK_EQ_INT(blend_index_open(dir, &ix, &err), BLEND_ENOTFOUND);
  CHECK(strstr(err.message, "not a blend index") != NULL);
  CHECK_EQ_INT(blend_index_open("/nonexistent/blend", &ix, &err), BLEND_ENOTFOUND);
}

/* ---- pruning equivalence on a synthetic corpus */

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void word(char *out, uint32_t i) { snprintf(out, 16, "w%ux", i); }

/* Zipf-ish: low word numbers are frequent */
static uint32_t zipf(uint32_t vocab) {
  uint32_t r = rnd(vocab);
  return (r * (uint64_t)rnd(vocab)) / vocab;
}

TEST(pruning_equals_exhaustive_synthetic) {
  const char *dir = fresh_dir("synthetic");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  strcpy(cfg.analyzer.stemmer, "none");
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, NULL) == 0);
  enum { DOCS = 4000, VOCAB = 600 };
  char text[8192], id[32], t[16];
  for (int d = 0; d < DOCS; d++) {
    size_t len = 0;
    int n = 1 + (int)rnd(60) + (rnd(10) == 0 ? (int)rnd(400) : 0);
    for (int i = 0; i < n; i++) {
      word(t, zipf(VOCAB));
      len += (size_t)snprintf(text + len, sizeof text - len, "%s ", t);
    }
    snprintf(id, sizeof id, "doc%d", d);
    REQUIRE(add(w, id, "", text) == 0);
  }
  REQUIRE(blend_writer_commit(w, NULL) == 0);
  blend_writer_close(w);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, NULL) == 0);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, NULL) == 0);
  blend_search_options o;
  blend_search_options_default(&o);
  const uint32_t ks[] = {1, 10, 100};
  const int algos[] = {BLEND_TOPK_MAXSCORE, BLEND_TOPK_BMW};
  uint32_t *rd = malloc(100 * sizeof *rd);
  float *rs = malloc(100 * sizeof *rs);
  int mismatches = 0;
  for (int q = 0; q < 300; q++) {
    char query[512];
    size_t ql = 0;
    int nt = 1 + (int)rnd(8);
    for (int i = 0; i < nt; i++) {
      word(t, rnd(4) == 0 ? rnd(VOCAB) : zipf(VOCAB));
      ql += (size_t)snprintf(query + ql, sizeof query - ql, "%s ", t);
    }
    for (int ki = 0; ki < 3; ki++) {
      o.k = ks[ki];
      o.algorithm = BLEND_TOPK_EXHAUSTIVE;
      blend_results r;
      REQUIRE(blend_search(s, query, &o, &r, NULL) == 0);
      uint32_t n = r.count;
      for (uint32_t i = 0; i < n; i++) {
        rd[i] = r.hits[i].doc;
        rs[i] = r.hits[i].score;
      }
      for (int a = 0; a < 2; a++) {
        o.algorithm = algos[a];
        REQUIRE(blend_search(s, query, &o, &r, NULL) == 0);
        int same = r.count == n;
        for (uint32_t i = 0; same && i < n; i++)
          same = r.hits[i].doc == rd[i] && r.hits[i].score == rs[i];
        if (!same && mismatches++ < 5)
          printf("mismatch: algo %d k %u query '%s'\n", algos[a], o.k, query);
      }
    }
  }
  CHECK_EQ_INT(mismatches, 0);
  free(rd);
  free(rs);
  blend_searcher_free(s);
  blend_index_close(ix);
}
