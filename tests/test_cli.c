/*
** test_cli.c — bad input through the `blend` binary: every case gets a
** clear message, a non-zero exit where it is an error, and never a crash or
** a half-written index.
*/
#include <stdlib.h>

#include "test.h"

static char out[65536];

/* a shell command's exit status; its stdout+stderr in out */
#define sh(...) test_sh(out, sizeof out, __VA_ARGS__)

static const char *T(const char *name) {
  static char p[4][600];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", test_tmpdir(), name);
  return p[i];
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, len, f);
  fclose(f);
}

static const char good[] =
    "{\"_id\": \"a\", \"title\": \"Apples\", \"text\": \"Apples are red fruit.\"}\n"
    "{\"_id\": \"b\", \"title\": \"Bananas\", \"text\": \"Bananas are yellow fruit.\"}\n";

TEST(malformed_line_names_file_and_line_and_keeps_index) {
  const char *bin = test_blend_bin();
  const char *c1 = T("good.jsonl"), *c2 = T("bad.jsonl"), *ix = T("ix-malformed");
  write_file(c1, good, strlen(good));
  REQUIRE(sh("%s index -q --input %s --index %s", bin, c1, ix) == 0);
  const char bad[] = "{\"_id\": \"c\", \"text\": \"cherry\"}\n{\"_id\": \"d\", \"text\": \"x\"\n{\"_id\": \"e\", \"text\": \"elderberry\"}\n";
  write_file(c2, bad, strlen(bad));
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c2, ix), 1);
  CHECK(strstr(out, "bad.jsonl:2:") != NULL);
  CHECK(strstr(out, "unchanged") != NULL);
  /* the previous index is untouched */
  CHECK_EQ_INT(sh("%s search --index %s --json apples", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"a\"") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json cherry", bin, ix), 0);
  CHECK(strstr(out, "\"id\"") == NULL);
  /* --skip-invalid indexes the rest and says why it skipped */
  CHECK_EQ_INT(sh("%s index --skip-invalid --input %s --index %s", bin, c2, ix), 0);
  CHECK(strstr(out, "skipped 1 invalid") != NULL);
  CHECK(strstr(out, "bad.jsonl:2:") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json elderberry", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"e\"") != NULL);
}

TEST(invalid_utf8_missing_id_wrong_types) {
  const char *bin = test_blend_bin();
  const char *c = T("c.jsonl"), *ix = T("ix-bad");
  const char utf[] = "{\"_id\": \"a\", \"text\": \"ok\"}\n{\"_id\": \"b\", \"text\": \"bad \xff byte\"}\n";
  write_file(c, utf, sizeof utf - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 1);
  CHECK(strstr(out, "c.jsonl:2: invalid UTF-8") != NULL);
  const char noid[] = "{\"title\": \"t\", \"text\": \"no id\"}\n";
  write_file(c, noid, sizeof noid - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 1);
  CHECK(strstr(out, "c.jsonl:1: missing or empty id") != NULL);
  const char num[] = "{\"_id\": \"a\", \"text\": 42}\n";
  write_file(c, num, sizeof num - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 1);
  CHECK(strstr(out, "field \"text\" is not a string") != NULL);
  const char arr[] = "[1, 2]\n";
  write_file(c, arr, sizeof arr - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 1);
  CHECK(strstr(out, "not a JSON object") != NULL);
  /* numeric ids, blank lines and empty documents are fine */
  const char ok[] = "{\"_id\": 7, \"text\": \"seven\"}\n\n{\"_id\": \"e\", \"title\": \"\", \"text\": \"\"}\n";
  write_file(c, ok, sizeof ok - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 0);
  CHECK(strstr(out, "1 documents have no text") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json seven", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"7\"") != NULL);
}

TEST(duplicate_ids_are_reported) {
  const char *bin = test_blend_bin();
  const char *c = T("dup.jsonl"), *ix = T("ix-dup");
  const char d[] = "{\"_id\": \"a\", \"text\": \"old text\"}\n{\"_id\": \"a\", \"text\": \"new text\"}\n";
  write_file(c, d, sizeof d - 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 0);
  CHECK(strstr(out, "1 duplicate ids") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json old", bin, ix), 0);
  CHECK(strstr(out, "\"id\"") == NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json new", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"a\"") != NULL);
}

TEST(ten_megabyte_document) {
  const char *bin = test_blend_bin();
  const char *c = T("big.jsonl"), *ix = T("ix-big");
  size_t n = 10u << 20;
  char *buf = malloc(n + 200);
  size_t len = (size_t)sprintf(buf, "{\"_id\": \"big\", \"text\": \"");
  const char *words[] = {"alpha ", "beta ", "gamma ", "delta "};
  while (len < n) {
    const char *w = words[(len / 7) % 4];
    memcpy(buf + len, w, strlen(w));
    len += strlen(w);
  }
  len += (size_t)sprintf(buf + len, "needle\"}\n");
  write_file(c, buf, len);
  free(buf);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, c, ix), 0);
  CHECK_EQ_INT(sh("%s search --index %s --json needle", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"big\"") != NULL);
}

TEST(queries_that_match_nothing) {
  const char *bin = test_blend_bin();
  const char *c = T("q.jsonl"), *ix = T("ix-q");
  write_file(c, good, strlen(good));
  REQUIRE(sh("%s index -q --input %s --index %s", bin, c, ix) == 0);
  CHECK_EQ_INT(sh("%s search --index %s ''", bin, ix), 0);
  CHECK(strstr(out, "no searchable terms") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s the of and", bin, ix), 0);
  CHECK(strstr(out, "no searchable terms") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s '\"\" + - : title:'", bin, ix), 0);
  CHECK_EQ_INT(sh("%s search --index %s", bin, ix), 2); /* no query at all: usage */
}

TEST(missing_or_corrupt_index) {
  const char *bin = test_blend_bin();
  CHECK_EQ_INT(sh("%s search --index %s apples", bin, T("does-not-exist")), 1);
  CHECK(strstr(out, "no such index directory") != NULL);
  const char *empty = T("empty-dir");
  sh("mkdir -p %s", empty);
  CHECK_EQ_INT(sh("%s search --index %s apples", bin, empty), 1);
  CHECK(strstr(out, "not a blend index") != NULL);
  const char *c = T("g.jsonl"), *ix = T("ix-corrupt");
  write_file(c, good, strlen(good));
  REQUIRE(sh("%s index -q --input %s --index %s", bin, c, ix) == 0);
  /* overwrite the middle of the segment */
  sh("f=$(ls %s/seg-*.bseg); printf 'XXXXXXXXXXXXXXXX' | dd of=$f bs=1 seek=200 conv=notrunc 2>/dev/null", ix);
  CHECK_EQ_INT(sh("%s search --index %s apples", bin, ix), 1);
  CHECK(strstr(out, "checksum mismatch") != NULL);
  CHECK_EQ_INT(sh("%s index --input %s --index /proc/blend-cannot-write", bin, c), 1);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, T("no-such-input.jsonl"), T("ix-x")), 1);
  CHECK(strstr(out, "no such file") != NULL);
}

TEST(text_directory_input) {
  const char *bin = test_blend_bin();
  const char *d = T("docs"), *ix = T("ix-docs");
  sh("mkdir -p %s/sub && printf '# Install guide\\n\\nRun make demo to start.\\n' > %s/install.md && "
     "printf 'Notes about zebras\\n' > %s/sub/z.txt && printf 'ignored' > %s/x.bin",
     d, d, d, d);
  CHECK_EQ_INT(sh("%s index --input %s --index %s", bin, d, ix), 0);
  CHECK(strstr(out, "indexed 2 documents") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json zebra", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"sub/z.txt\"") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --json installing", bin, ix), 0);
  CHECK(strstr(out, "\"title\":\"Install guide\"") != NULL);
}

TEST(eval_queries_with_embedded_nul) {
  const char *bin = test_blend_bin();
  const char *c = T("nulq-corpus.jsonl"), *ix = T("ix-nulq"), *q = T("nulq.jsonl"), *r = T("nulq.tsv");
  write_file(c, good, strlen(good));
  REQUIRE(sh("%s index -q --input %s --index %s", bin, c, ix) == 0);
  const char qs[] = "{\"_id\": \"q1\", \"text\": \"yellow\\u0000 fruit\"}\n{\"_id\": \"q\\u0000x\", \"text\": \"a\"}\n";
  write_file(q, qs, strlen(qs));
  write_file(r, "q1\tb\t1\n", 7);
  CHECK_EQ_INT(sh("%s eval --index %s --queries %s --qrels %s", bin, ix, q, r), 1);
  CHECK(strstr(out, "nulq.jsonl:2: query id contains U+0000") != NULL);
  const char q1[] = "{\"_id\": \"q1\", \"text\": \"yellow\\u0000 fruit\"}\n";
  write_file(q, q1, strlen(q1));
  CHECK_EQ_INT(sh("%s eval --index %s --queries %s --qrels %s --metrics recall@10 --json", bin, ix, q, r), 0);
  CHECK(strstr(out, "\"recall@10\": 1") != NULL); /* the text after the NUL is searched too */
}

TEST(usage_errors_exit_2) {
  const char *bin = test_blend_bin();
  CHECK_EQ_INT(sh("%s", bin), 2);
  CHECK_EQ_INT(sh("%s frobnicate", bin), 2);
  CHECK_EQ_INT(sh("%s index --input x", bin), 2);
  CHECK_EQ_INT(sh("%s search --index x -k -3 q", bin), 2); /* a bad option value is a usage error */
  CHECK(strstr(out, "-k") != NULL);
  CHECK_EQ_INT(sh("%s search --index x --filter nonsense q", bin), 1);
  CHECK(strstr(out, "--filter") != NULL);
  CHECK_EQ_INT(sh("%s --help", bin), 0);
  CHECK(strstr(out, "index") && strstr(out, "search") && strstr(out, "eval"));
}

TEST(flat_only_index) {
  const char *bin = test_blend_bin();
  const char *c = T("flat.jsonl"), *ix = T("ix-flat");
  write_file(c, good, strlen(good));
  CHECK_EQ_INT(sh("%s index -q --flat-only --input %s --index %s", bin, c, ix), 0);
  CHECK_EQ_INT(sh("%s search --index %s --json yellow", bin, ix), 0);
  CHECK(strstr(out, "\"id\":\"b\"") != NULL);
  CHECK(strstr(out, "\"title\":\"Bananas\"") != NULL); /* stored fields are kept */
  CHECK_EQ_INT(sh("%s search --index %s title:bananas", bin, ix), 1);
  CHECK(strstr(out, "--flat-only") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --fields multi bananas", bin, ix), 1);
}
