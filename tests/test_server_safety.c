/*
** test_server_safety.c — regression tests for what a network service would
** expose to anyone: oversized queries (clause, phrase and cursor bounds:
** an error or results, never a crash), the query path's bounded analyzer
** memory, and strings with an embedded U+0000 (never cut silently).
*/
#include <stdlib.h>

#include "analysis/analysis.h"
#include "blend.h"
#include "search/search.h"
#include "test.h"

static char dirbuf[4][600];
static const char *T(const char *name) {
  static int i;
  i = (i + 1) % 4;
  snprintf(dirbuf[i], sizeof dirbuf[i], "%s/%s", test_tmpdir(), name);
  return dirbuf[i];
}

static char out[65536];
/* a shell command's exit status; its stdout+stderr in out */
#define sh(...) test_sh(out, sizeof out, __VA_ARGS__)

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(data, 1, len, f);
  fclose(f);
}

/* The word w<i>: distinct for every i, never a stopword, stems to itself. */
static int word(char *dst, uint32_t i) { return sprintf(dst, "w%ux", i); }

/* nphrases quoted phrases of plen words each: w0x..w(plen-1)x shifted by
** the phrase number, so they are distinct clauses. */
static char *phrase_query(uint32_t nphrases, uint32_t plen) {
  char *q = malloc((size_t)nphrases * plen * 12 + nphrases * 3 + 1);
  size_t at = 0;
  for (uint32_t p = 0; p < nphrases; p++) {
    q[at++] = '"';
    for (uint32_t t = 0; t < plen; t++) {
      if (t) q[at++] = ' ';
      at += (size_t)word(q + at, p == 0 ? t : p * 1000 + t);
    }
    q[at++] = '"';
    q[at++] = ' ';
  }
  q[at] = 0;
  return q;
}

/* An index of a few documents; doc "p" holds the phrase w0x w1x ... w31x. */
static blend_index *open_small_index(const char *dir) {
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, &err)) return NULL;
  char text[1024];
  int at = 0;
  for (uint32_t i = 0; i < 32; i++) {
    at += word(text + at, i);
    text[at++] = ' ';
  }
  text[at] = 0;
  blend_field_value f1[] = {{"title", "phrase doc", 10}, {"text", text, (size_t)at}};
  blend_doc d1 = {.id = "p", .id_len = 1, .fields = f1, .nfields = 2};
  blend_field_value f2[] = {{"title", "other", 5}, {"text", "w1x w0x apples", 14}};
  blend_doc d2 = {.id = "q", .id_len = 1, .fields = f2, .nfields = 2};
  /* doc "r" holds every word of phrase_query(140, 32) but its first phrase,
     so every phrase gets its cursors in the segment (the crash needed that) */
  char *all = phrase_query(140, 32);
  size_t first = strchr(all + 1, '"') - all + 1;
  blend_field_value f3[] = {{"title", "all", 3}, {"text", all + first, strlen(all + first)}};
  blend_doc d3 = {.id = "r", .id_len = 1, .fields = f3, .nfields = 2};
  int rc = blend_writer_add(w, &d1, &err) || blend_writer_add(w, &d2, &err) ||
           blend_writer_add(w, &d3, &err) || blend_writer_commit(w, &err);
  free(all);
  blend_writer_close(w);
  blend_index *ix = NULL;
  if (rc || blend_index_open(dir, &ix, &err)) return NULL;
  return ix;
}

/* The crash from review: 140 phrases × 32 words (~31 KB) wrote past the
** searcher's cursor arrays. It now answers (flat fields) or refuses with a
** clear error (multifield: 140 × 32 × 2 cursors is over the bound). */
TEST(many_long_phrases_answer_or_refuse) {
  blend_index *ix = open_small_index(T("ix-phrases"));
  REQUIRE(ix);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  char *q = phrase_query(140, 32);
  CHECK(strlen(q) > 30000);
  blend_results r;
  int rc = blend_search(s, q, NULL, &r, &err);
  CHECKF(rc == 0, "flat: %s", err.message);
  CHECK_EQ_INT(r.count, 2); /* "p" holds the first phrase, "r" the others */
  CHECK_EQ_INT(r.matched, 2);
  /* every top-k algorithm, and explain */
  blend_search_options o;
  blend_search_options_default(&o);
  o.explain = 1;
  o.algorithm = BLEND_TOPK_BMW;
  CHECK(blend_search(s, q, &o, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 2);
  CHECK(r.count == 2 && r.hits[1].nterms == 1 && r.hits[0].nterms == 139);
  o.field_mode = BLEND_FIELDS_MULTI;
  rc = blend_search(s, q, &o, &r, &err);
  CHECK_EQ_INT(rc, BLEND_EINVAL);
  CHECK(strstr(err.message, "query too complex") != NULL);
  /* the searcher still works after the refusal */
  CHECK(blend_search(s, "apples", NULL, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 1);
  free(q);
  blend_searcher_free(s);
  blend_index_close(ix);
}

TEST(clause_and_phrase_limits_are_errors_not_cuts) {
  blend_index *ix = open_small_index(T("ix-limits"));
  REQUIRE(ix);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  blend_results r;
  /* 1024 distinct words: fine; 1025: refused, with the count */
  char *q = malloc(2000 * 8 + 1);
  size_t at = 0;
  for (uint32_t i = 0; i < 1025; i++) {
    at += (size_t)word(q + at, i);
    q[at++] = ' ';
  }
  q[at] = 0;
  CHECK_EQ_INT(blend_search(s, q, NULL, &r, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "1025 clauses, limit 1024") != NULL);
  q[at - strlen("w1024x ")] = 0;
  CHECKF(blend_search(s, q, NULL, &r, &err) == 0, "%s", err.message);
  CHECK_EQ_INT(r.count, 3);
  /* repeats of one word merge into one clause: not a complex query */
  at = 0;
  for (uint32_t i = 0; i < 2000; i++) at += (size_t)sprintf(q + at, "apples ");
  CHECK(blend_search(s, q, NULL, &r, &err) == 0);
  free(q);
  /* a phrase of 33 terms was silently cut to 32 (matching doc p): refused */
  char *p33 = phrase_query(1, 33);
  CHECK_EQ_INT(blend_search(s, p33, NULL, &r, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "phrase of 33 terms, limit 32") != NULL);
  free(p33);
  char *p32 = phrase_query(1, 32);
  CHECK(blend_search(s, p32, NULL, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 1);
  free(p32);
  /* snippets parse the query too: same answer, no crash */
  char *big = phrase_query(140, 32);
  const char *snip;
  CHECK(blend_searcher_snippet(s, 0, "text", big, 200, "<b>", "</b>", &snip, &err) == 0);
  free(big);
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* The same query through the CLI: a clean exit, never a signal. */
TEST(cli_search_survives_the_crash_query) {
  const char *bin = test_blend_bin();
  if (!bin) SKIP("BLEND_BIN not set");
  const char *ix = T("ix-phrases");
  blend_index *x = open_small_index(ix);
  REQUIRE(x);
  blend_index_close(x);
  char *q = phrase_query(140, 32);
  int rc = sh("%s search --index %s '%s'", bin, ix, q);
  CHECKF(rc == 0, "exit %d: %.300s", rc, out);
  rc = sh("%s search --index %s --fields multi '%s'", bin, ix, q);
  CHECKF(rc == 1, "exit %d: %.300s", rc, out);
  CHECK(strstr(out, "query too complex") != NULL);
  free(q);
}

/* ---- (b) the query path's analyzer memory is bounded */

/* 300,000 distinct query words (plus snippets over them) through one
** searcher: the analyzer's tables stay under the bound (they grew by ~176
** bytes a word before), and answers stay right after every forget. */
TEST(searcher_analyzer_memory_is_flat) {
  blend_index *ix = open_small_index(T("ix-flat"));
  REQUIRE(ix);
  blend_searcher *s;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  blend_results r;
  char q[100 * 16];
  analyzer_cache st0, st;
  analyzer_cache_stats(searcher_analyzer(s), &st0);
  size_t peak_bytes = 0, peak_terms = 0, peak_surface = 0, after_10k = 0;
  for (uint32_t batch = 0; batch < 3000; batch++) {
    size_t at = 0;
    for (uint32_t i = 0; i < 100; i++) at += (size_t)sprintf(q + at, "zq%uy ", batch * 100 + i);
    q[at] = 0;
    REQUIRE(blend_search(s, q, NULL, &r, &err) == 0);
    CHECK_EQ_INT(r.count, 0);
    if (batch % 50 == 0) {
      const char *snip;
      CHECK(blend_searcher_snippet(s, 0, "text", q, 100, "[", "]", &snip, &err) == 0);
      CHECK(blend_search(s, "apples", NULL, &r, &err) == 0 && r.count == 1);
    }
    analyzer_cache_stats(searcher_analyzer(s), &st);
    if (st.term_bytes > peak_bytes) peak_bytes = st.term_bytes;
    if (st.terms > peak_terms) peak_terms = st.terms;
    if (st.surface > peak_surface) peak_surface = st.surface;
    if (batch == 99) after_10k = peak_bytes;
  }
  CHECKF(peak_terms <= 16384, "terms %zu", peak_terms);
  CHECKF(peak_surface <= 16384, "surface %zu", peak_surface);
  CHECKF(st.forgets >= 300000 / 16384, "forgets %llu", (unsigned long long)st.forgets);
  /* buffers stop growing once the bound is reached */
  CHECKF(peak_bytes <= after_10k * 2 + 65536, "term bytes %zu after 10k words, %zu peak", after_10k,
         peak_bytes);
  /* the phrase doc is still found by its words after the forgets */
  CHECK(blend_search(s, "\"w3x w4x w5x\"", NULL, &r, &err) == 0 && r.count == 1);
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* The indexer's analyzer is not bounded: term ids stay dense and stable. */
static int count_ids(void *ctx, const blend_token *t) {
  uint32_t *max = ctx;
  if (t->term_id + 1 > *max) *max = t->term_id + 1;
  return 0;
}
TEST(unbounded_analyzer_keeps_every_term_id) {
  blend_analyzer_config cfg;
  blend_analyzer_config_default(&cfg);
  blend_analyzer *a;
  blend_error err = {0};
  REQUIRE(blend_analyzer_new(&cfg, &a, &err) == 0);
  char w[32];
  uint32_t max = 0;
  for (uint32_t i = 0; i < 40000; i++) {
    int n = sprintf(w, "zq%uy", i);
    blend_analyze(a, w, (size_t)n, count_ids, &max);
  }
  CHECK_EQ_INT(max, 40000);
  CHECK_EQ_INT(analyzer_term_count(a), 40000);
  uint32_t again = 0;
  blend_analyze(a, "zq7y", 4, count_ids, &again);
  CHECK_EQ_INT(again, 8); /* id 7, as the first time */
  blend_analyzer_free(a);
}

/* ---- (c) an embedded U+0000 is never a silent cut */

#include "ingest/ingest.h"
#include "util/json_nul.h"

TEST(json_nul_marks_only_real_escapes) {
  json_nul st;
  size_t bad = 99;
  char a[] = "{\"t\":\"a\\u0000b\",\"u\":\"c\\\\u0000d\"}"; /* the second is a literal backslash */
  size_t n = strlen(a);
  CHECK(json_nul_suspect(a, n));
  CHECK_EQ_INT(json_nul_protect(a, n, &st, &bad), 0);
  CHECK(st.active);
  CHECK_EQ_INT(strlen(a), n); /* same length, same offsets */
  CHECK(strstr(a, "a\\ufdd0b") != NULL);
  CHECK(strstr(a, "c\\\\u0000d") != NULL);
  /* a marker the text already uses is not chosen */
  char b[] = "{\"t\":\"\\uFDD0 \xEF\xB7\x91 x\\u0000y\"}";
  CHECK_EQ_INT(json_nul_protect(b, strlen(b), &st, &bad), 0);
  CHECK(strstr(b, "x\\ufdd2y") != NULL);
  char s[] = "x\xEF\xB7\x92y\xEF\xB7\x92";
  CHECK(json_nul_has(&st, s));
  CHECK_EQ_INT(json_nul_strip(&st, s), 2);
  CHECK_STR(s, "xy");
  /* a raw NUL byte is reported with its offset */
  char c[] = "{\"t\":\"ab\0c\"}";
  CHECK_EQ_INT(json_nul_protect(c, sizeof c - 1, &st, &bad), -1);
  CHECK_EQ_INT(bad, 8);
  /* nothing to do: untouched */
  char d[] = "{\"t\":\"plain\"}";
  CHECK(!json_nul_suspect(d, strlen(d)));
}

static int parse(const char *line, ingest_doc *d, blend_error *err) {
  static const char *const fields[] = {"title", "text"};
  return ingest_parse_line(line, strlen(line), "_id", fields, 2, d, err);
}

TEST(jsonl_keeps_text_after_nul_and_refuses_nul_ids) {
  ingest_doc d;
  blend_error err = {0};
  REQUIRE(parse("{\"_id\": \"a\", \"title\": \"nul\\u0000hidden\", \"text\": \"x\\u0000\\u0000y z\"}", &d,
                &err) == 0);
  CHECK(d.doc.nfields == 2 && d.fields[0].len == 9 && !memcmp(d.fields[0].text, "nulhidden", 9));
  CHECK(d.fields[1].len == 4 && !memcmp(d.fields[1].text, "xy z", 4));
  ingest_doc_free(&d);
  CHECK_EQ_INT(parse("{\"_id\": \"b\\u0000x\", \"text\": \"t\"}", &d, &err), BLEND_EINVAL);
  CHECK_STR(err.message, "id contains U+0000");
  CHECK_EQ_INT(parse("{\"_id\": \"b\", \"te\\u0000xt\": \"t\"}", &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "field name contains U+0000") != NULL);
  const char raw[] = "{\"_id\": \"b\", \"text\": \"a\0b\"}";
  CHECK_EQ_INT(ingest_parse_line(raw, sizeof raw - 1, "_id", NULL, 0, &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "raw NUL byte at byte 24") != NULL);
  /* a malformed line after the rewrite still points at the right byte */
  CHECK_EQ_INT(parse("{\"_id\": \"c\", \"text\": \"\\u0000\" x}", &d, &err), BLEND_EINVAL);
  CHECK(strstr(err.message, "malformed JSON near byte 31") != NULL);
}

/* End to end: "nul\u0000hidden" is indexed, stored and found whole; two
** ids that differ after a NUL are refused, not merged. */
TEST(index_finds_text_after_nul) {
  const char *in = T("nul.jsonl"), *dir = T("ix-nul");
  const char good[] = "{\"_id\": \"a\", \"title\": \"nul\\u0000hidden\", \"text\": \"apples\"}\n"
                      "{\"_id\": \"b\", \"title\": \"plain\", \"text\": \"nul\"}\n";
  write_file(in, good, sizeof good - 1);
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  blend_ingest_stats st;
  CHECKF(blend_ingest(w, in, NULL, &st, &err) == 0, "%s", err.message);
  CHECK(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  blend_results r;
  CHECK(blend_search(s, "nulhidden", NULL, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 1);
  const char *text;
  size_t n;
  if (r.count == 1 && blend_searcher_doc_field(s, r.hits[0].doc, "title", &text, &n, &err) == 0)
    CHECK(n == 9 && !memcmp(text, "nulhidden", 9));
  blend_searcher_free(s);
  blend_index_close(ix);
  const char ids[] = "{\"_id\": \"a\", \"text\": \"one\"}\n{\"_id\": \"b\\u0000x\", \"text\": \"two\"}\n";
  write_file(in, ids, sizeof ids - 1);
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  CHECK_EQ_INT(blend_ingest(w, in, NULL, &st, &err), BLEND_EINVAL);
  CHECKF(strstr(err.message, "nul.jsonl:2: id contains U+0000") != NULL, "%s", err.message);
  blend_writer_close(w);
}

/* `blend embed` reads {"text": "nul\u0000char"} as Hugging Face does:
** "nulchar" (reference.jsonl line 70, hard:control-nul). */
TEST(cli_embed_drops_nul_like_the_reference) {
  const char *bin = test_blend_bin(), *sh_dir = test_shared_dir();
  if (!bin || !sh_dir) SKIP("BLEND_BIN or ../shared not available");
  char model[600];
  snprintf(model, sizeof model, "%s/fixtures/bert-tiny-random", sh_dir);
  const char *in = T("nul-embed.jsonl");
  const char lines[] = "{\"id\": \"n\", \"text\": \"nul\\u0000char\"}\n{\"text\": \"nulchar\"}\n"
                       "{\"text\": \"nul\"}\n";
  write_file(in, lines, sizeof lines - 1);
  REQUIRE(sh("%s embed --model %s < %s", bin, model, in) == 0);
  char *l1 = out, *l2 = strchr(l1, '\n');
  REQUIRE(l2);
  *l2++ = 0;
  char *l3 = strchr(l2, '\n');
  REQUIRE(l3);
  *l3++ = 0;
  CHECK(!strncmp(l1, "{\"id\":\"n\",", 10));
  CHECK_STR(strstr(l1, "\"embedding\""), strstr(l2, "\"embedding\"")); /* same as "nulchar" */
  CHECK(strcmp(strstr(l1, "\"embedding\""), strstr(l3, "\"embedding\"")) != 0); /* not "nul" */
  /* and as the PyTorch reference: its first components */
  CHECKF(strstr(l1, "[-0.04626") != NULL, "%.80s", l1);
  /* an id with U+0000 is refused */
  const char bad[] = "{\"id\": \"a\\u0000b\", \"text\": \"x\"}\n";
  write_file(in, bad, sizeof bad - 1);
  CHECK_EQ_INT(sh("%s embed --model %s < %s", bin, model, in), 1);
  CHECK(strstr(out, "line 1: id contains U+0000") != NULL);
}

/* `blend rerank`: an escaped NUL is dropped from JSON texts, and a plain
** line with a raw NUL byte is scored and echoed whole (it was copied with
** strndup, then read past the copy). */
TEST(cli_rerank_nul_texts) {
  const char *bin = test_blend_bin(), *sh_dir = test_shared_dir();
  if (!bin || !sh_dir) SKIP("BLEND_BIN or ../shared not available");
  char model[600];
  snprintf(model, sizeof model, "%s/fixtures/cross-tiny-random", sh_dir);
  const char *in = T("nul-rerank.txt");
  const char lines[] = "{\"text\": \"nul\\u0000char\"}\nnulchar\nraw\0byte line\n";
  write_file(in, lines, sizeof lines - 1);
  REQUIRE(sh("%s rerank --model %s --query q < %s | tr '\\0' @ | grep -c 'raw@byte line'", bin,
             model, in) == 0);
  CHECK_EQ_INT(sh("%s rerank --model %s --query q < %s | cut -f1 | sort | uniq -d | wc -l", bin,
                  model, in),
               0);
  CHECKF(atoi(out) == 1, "scores of nul\\u0000char and nulchar differ: %s", out);
}
