/*
** test_store_cache.c — the searcher's cache of decompressed stored-field
** blocks (index.h store_scratch): reads in random order over several
** segments (the same block numbers in each: keys must tell segments
** apart), across more blocks than the cache holds (eviction), with a
** document bigger than 1 MiB in the mix (its buffer is not pinned), give
** exactly the text that was written; a snapshot after a commit that shares
** segments with the old one reads the same texts.
*/
#include <stdlib.h>

#include "blend.h"
#include "test.h"

#define NSEG 3
#define PER_SEG 700

static void text_of(uint32_t i, char *out, size_t cap) {
  /* ~300 bytes, distinct per document */
  size_t at = (size_t)snprintf(out, cap, "doc %u:", i);
  for (uint32_t k = 0; at + 16 < cap && k < 40; k++) at += (size_t)snprintf(out + at, cap - at, " w%u", i * 41 + k);
}

static int add(blend_writer *w, uint32_t i, blend_error *err) {
  char id[32], text[400], title[64];
  snprintf(id, sizeof id, "d%u", i);
  text_of(i, text, sizeof text);
  snprintf(title, sizeof title, "title %u", i);
  blend_field_value fv[] = {{"title", title, strlen(title)}, {"text", text, strlen(text)}};
  blend_doc d = {.id = id, .id_len = strlen(id), .fields = fv, .nfields = 2};
  return blend_writer_add(w, &d, err);
}

static uint32_t rnd(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

static int check_all(blend_index *ix, uint32_t ndocs, size_t big_len, uint64_t seed) {
  blend_searcher *s;
  blend_error err = {0};
  if (blend_searcher_new(ix, &s, &err)) return -1;
  int bad = 0;
  char want[400], wid[32];
  for (int r = 0; r < 6000 && !bad; r++) {
    uint32_t i = r % 500 == 7 ? ndocs : rnd(&seed) % ndocs; /* now and then the big one */
    snprintf(wid, sizeof wid, i == ndocs ? "big" : "d%u", i);
    uint32_t doc;
    if (blend_searcher_find(s, wid, strlen(wid), &doc, &err)) {
      test_fail(__FILE__, __LINE__, "find %s: %s", wid, err.message);
      bad = 1;
      break;
    }
    const char *t;
    size_t n;
    if (blend_searcher_doc_field(s, doc, "text", &t, &n, &err)) {
      test_fail(__FILE__, __LINE__, "text of %s: %s", wid, err.message);
      bad = 1;
      break;
    }
    if (i == ndocs) {
      if (n != big_len || t[0] != 'B' || t[n - 1] != 'Z') {
        test_fail(__FILE__, __LINE__, "big document: %zu bytes, want %zu", n, big_len);
        bad = 1;
      }
      continue;
    }
    text_of(i, want, sizeof want);
    if (n != strlen(want) || memcmp(t, want, n)) {
      test_fail(__FILE__, __LINE__, "text of %s: \"%.*s\" != \"%s\"", wid, (int)(n > 60 ? 60 : n), t, want);
      bad = 1;
    }
    char wt[64];
    snprintf(wt, sizeof wt, "title %u", i);
    if (!bad && (blend_searcher_doc_field(s, doc, "title", &t, &n, &err) || n != strlen(wt) || memcmp(t, wt, n))) {
      test_fail(__FILE__, __LINE__, "title of %s", wid);
      bad = 1;
    }
  }
  blend_searcher_free(s);
  return bad ? -1 : 0;
}

TEST(stored_fields_through_the_block_cache) {
  char dir[600];
  snprintf(dir, sizeof dir, "%s/ix-store-cache", test_tmpdir());
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  blend_writer_set_merge(w, 0); /* keep NSEG segments */
  for (uint32_t sgm = 0; sgm < NSEG; sgm++) {
    for (uint32_t i = 0; i < PER_SEG; i++) REQUIRE(add(w, sgm * PER_SEG + i, &err) == 0);
    if (sgm == 1) { /* a document bigger than 1 MiB: a block of its own */
      size_t n = (3u << 19) + 11;
      char *big = malloc(n);
      REQUIRE(big);
      for (size_t k = 0; k < n; k++) big[k] = (char)('a' + k % 26);
      big[0] = 'B';
      big[n - 1] = 'Z';
      blend_field_value fv[] = {{"title", "big", 3}, {"text", big, n}};
      blend_doc d = {.id = "big", .id_len = 3, .fields = fv, .nfields = 2};
      REQUIRE(blend_writer_add(w, &d, &err) == 0);
      free(big);
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.segments, NSEG);
  CHECK(check_all(ix, NSEG * PER_SEG, (3u << 19) + 11, 1) == 0);
  CHECK(check_all(ix, NSEG * PER_SEG, (3u << 19) + 11, 99) == 0);
  /* one more commit: the new snapshot shares the three segments */
  REQUIRE(add(w, NSEG * PER_SEG, &err) == 0);
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  blend_index *ix2;
  REQUIRE(blend_index_open(dir, &ix2, &err) == 0);
  CHECK(check_all(ix2, NSEG * PER_SEG + 1, (3u << 19) + 11, 7) == 0);
  blend_index_close(ix2);
  blend_index_close(ix);
}
