/*
** test_wordpiece.c — the BERT WordPiece tokenizer against the shared
** fixtures (Hugging Face BertTokenizerFast outputs, checked by an independent
** reference), its fast path against its simple twin, loading from
** tokenizer.json alone, vocab file quirks, options, truncation, invalid
** UTF-8 and load errors.
*/
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "encoder/wordpiece.h"
#include "test.h"
#include "util/util.h"

/* ------------------------------------------------------------ helpers */

static char *path_join(char *buf, size_t cap, const char *a, const char *b) {
  snprintf(buf, cap, "%s/%s", a, b);
  return buf;
}

static int write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) == 0 && w == len ? 0 : -1;
}

static int copy_file(const char *from, const char *to) {
  char *data;
  size_t len;
  if (file_read_all(from, &data, &len, NULL)) return -1;
  int rc = write_file(to, data, len);
  free(data);
  return rc;
}

/* A fresh sub-directory of the test's temporary directory. */
static const char *subdir(const char *name) {
  static char buf[8][512];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, 512, "%s/%s", test_tmpdir(), name);
  mkdir(p, 0755);
  return p;
}

/* cJSON stores strings NUL-terminated, which loses "\u0000" inside fixture
** texts; this decodes the raw JSON string value of a top-level key with its
** real length. Returns 0 and a malloc'd buffer, or -1. */
static int json_raw_string(const char *line, const char *key, char **out, size_t *outlen) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  const char *p = strstr(line, pat);
  if (!p) return -1;
  p += strlen(pat);
  bbuf b = {0};
  while (*p && *p != '"') {
    if (*p != '\\') {
      bbuf_putc(&b, (uint8_t)*p++);
      continue;
    }
    p++;
    char e = *p++;
    uint32_t cp;
    switch (e) {
    case 'n': bbuf_putc(&b, '\n'); continue;
    case 't': bbuf_putc(&b, '\t'); continue;
    case 'r': bbuf_putc(&b, '\r'); continue;
    case 'b': bbuf_putc(&b, '\b'); continue;
    case 'f': bbuf_putc(&b, '\f'); continue;
    case 'u':
      if (sscanf(p, "%4x", &cp) != 1) goto bad;
      p += 4;
      if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
        uint32_t lo;
        if (sscanf(p + 2, "%4x", &lo) != 1) goto bad;
        p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      if (cp < 0x80) bbuf_putc(&b, (uint8_t)cp);
      else if (cp < 0x800) {
        bbuf_putc(&b, (uint8_t)(0xC0 | cp >> 6));
        bbuf_putc(&b, (uint8_t)(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        bbuf_putc(&b, (uint8_t)(0xE0 | cp >> 12));
        bbuf_putc(&b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        bbuf_putc(&b, (uint8_t)(0x80 | (cp & 0x3F)));
      } else {
        bbuf_putc(&b, (uint8_t)(0xF0 | cp >> 18));
        bbuf_putc(&b, (uint8_t)(0x80 | ((cp >> 12) & 0x3F)));
        bbuf_putc(&b, (uint8_t)(0x80 | ((cp >> 6) & 0x3F)));
        bbuf_putc(&b, (uint8_t)(0x80 | (cp & 0x3F)));
      }
      continue;
    default: bbuf_putc(&b, (uint8_t)e); continue; /* \" \\ \/ */
    }
  }
  if (*p != '"') goto bad;
  bbuf_putc(&b, 0);
  *out = (char *)b.data;
  *outlen = b.len - 1;
  return 0;
bad:
  bbuf_free(&b);
  return -1;
}

/* One JSONL fixture: lines split on '\n' only. */
typedef struct jsonl {
  char *data;
  size_t len, pos;
  char *line; /* current raw line (NUL-terminated in place) */
  cJSON *obj; /* current parsed line */
} jsonl;

static int jsonl_open(jsonl *j, const char *path) {
  memset(j, 0, sizeof *j);
  return file_read_all(path, &j->data, &j->len, NULL);
}

static int jsonl_next(jsonl *j) {
  cJSON_Delete(j->obj);
  j->obj = NULL;
  while (j->pos < j->len) {
    char *s = j->data + j->pos, *nl = memchr(s, '\n', j->len - j->pos);
    size_t n = nl ? (size_t)(nl - s) : j->len - j->pos;
    j->pos += n + 1;
    if (!n) continue;
    s[n] = 0;
    j->line = s;
    j->obj = cJSON_ParseWithLength(s, n);
    return j->obj ? 1 : -1;
  }
  return 0;
}

static void jsonl_close(jsonl *j) {
  cJSON_Delete(j->obj);
  free(j->data);
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

static uint32_t jmaxlen(const cJSON *o) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "max_length");
  return cJSON_IsNumber(v) ? (uint32_t)v->valuedouble : 0;
}

/* Compare ids with a JSON int array; on mismatch print the case id, the
** first differing position and both sequences. Returns 1 when equal. */
static int same_ids(const char *what, const char *id, const int32_t *got, uint32_t n,
                    const cJSON *want) {
  int wn = cJSON_GetArraySize(want), first = -1;
  for (int i = 0; i < wn || i < (int)n; i++) {
    const cJSON *w = i < wn ? cJSON_GetArrayItem(want, i) : NULL;
    if (i >= (int)n || !w || (int32_t)w->valuedouble != got[i]) {
      first = i;
      break;
    }
  }
  if (first < 0) return 1;
  bbuf b = {0};
  bbuf_printf(&b, "%s mismatch in case %s at position %d\n  want:", what, id, first);
  for (int i = 0; i < wn; i++) bbuf_printf(&b, " %d", (int)cJSON_GetArrayItem(want, i)->valuedouble);
  bbuf_printf(&b, "\n  got: ");
  for (uint32_t i = 0; i < n; i++) bbuf_printf(&b, " %d", got[i]);
  bbuf_putc(&b, 0);
  test_fail(__FILE__, __LINE__, "%s", (char *)b.data);
  bbuf_free(&b);
  return 0;
}

static const char *model_dir(char *buf, size_t cap) {
  const char *sh = test_shared_dir();
  if (!sh) return NULL;
  snprintf(buf, cap, "%s/models/all-MiniLM-L6-v2", sh);
  return buf;
}

static wp_tokenizer *load_or_fail(const char *dir) {
  wp_tokenizer *t = NULL;
  blend_error err = {0};
  if (wp_tokenizer_load(dir, &t, &err)) test_fail(__FILE__, __LINE__, "load %s: %s", dir, err.message);
  return t;
}

/* Fast path vs its simple twin on one text. */
static int twin_agrees(const wp_tokenizer *t, const char *text, size_t len) {
  wp_encoding a = {0}, b = {0};
  int ok = wp_tokenize_ex(t, text, len, 0, 0, &a, NULL) == 0 &&
           wp_tokenize_ex(t, text, len, 0, WP_SIMPLE, &b, NULL) == 0 && a.len == b.len &&
           (a.len == 0 || memcmp(a.ids, b.ids, a.len * sizeof *a.ids) == 0);
  wp_encoding_free(&a);
  wp_encoding_free(&b);
  return ok;
}

/* Run every case of bert-uncased.jsonl through t; returns the pass count. */
static int run_single_fixture(const wp_tokenizer *t, const char *path, int *total, int twin) {
  jsonl j;
  if (jsonl_open(&j, path)) {
    test_fail(__FILE__, __LINE__, "cannot read %s", path);
    return 0;
  }
  wp_encoding e = {0};
  int pass = 0, r;
  *total = 0;
  while ((r = jsonl_next(&j)) != 0) {
    if (r < 0) {
      test_fail(__FILE__, __LINE__, "%s: bad JSON line", path);
      continue;
    }
    (*total)++;
    char *text;
    size_t len;
    if (json_raw_string(j.line, "text", &text, &len)) {
      test_fail(__FILE__, __LINE__, "%s: no text in %s", path, jstr(j.obj, "id"));
      continue;
    }
    blend_error err = {0};
    int rc = wp_encode(t, text, len, 0, &e, &err);
    CHECKF(rc == 0, "%s: %s", jstr(j.obj, "id"), err.message);
    int ok = rc == 0 && same_ids("input_ids", jstr(j.obj, "id"), e.ids, e.len,
                                 cJSON_GetObjectItemCaseSensitive(j.obj, "input_ids"));
    if (twin && !twin_agrees(t, text, len)) {
      test_fail(__FILE__, __LINE__, "fast path and WP_SIMPLE differ on %s", jstr(j.obj, "id"));
      ok = 0;
    }
    pass += ok;
    free(text);
  }
  wp_encoding_free(&e);
  jsonl_close(&j);
  return pass;
}

/* ---------------------------------------------------------- fixtures */

TEST(fixture_bert_uncased) {
  char dir[512], path[600];
  if (!model_dir(dir, sizeof dir)) SKIP("../shared not found");
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  CHECK_EQ_INT(wp_vocab_size(t), 30522);
  int total = 0;
  int pass = run_single_fixture(
      t, path_join(path, sizeof path, test_shared_dir(), "fixtures/tokenizer/bert-uncased.jsonl"),
      &total, 1);
  printf("  bert-uncased.jsonl: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(total, 305);
  CHECK_EQ_INT(pass, total);
  wp_tokenizer_free(t);
}

TEST(fixture_special_in_text) {
  char dir[512], path[600];
  if (!model_dir(dir, sizeof dir)) SKIP("../shared not found");
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  int total = 0;
  int pass = run_single_fixture(
      t,
      path_join(path, sizeof path, test_shared_dir(),
                "fixtures/tokenizer/bert-uncased-special-in-text.jsonl"),
      &total, 1);
  printf("  bert-uncased-special-in-text.jsonl: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(total, 4);
  CHECK_EQ_INT(pass, total);
  wp_tokenizer_free(t);
}

/* Pair files: keys for the two texts, their ids and type ids. */
static int run_pair_fixture(const wp_tokenizer *t, const char *path, const char *ka,
                            const char *kb, int *total) {
  jsonl j;
  if (jsonl_open(&j, path)) {
    test_fail(__FILE__, __LINE__, "cannot read %s", path);
    return 0;
  }
  wp_encoding e = {0};
  int pass = 0, r;
  *total = 0;
  while ((r = jsonl_next(&j)) != 0) {
    if (r < 0) {
      test_fail(__FILE__, __LINE__, "%s: bad JSON line", path);
      continue;
    }
    (*total)++;
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    if (json_raw_string(j.line, ka, &a, &alen) || json_raw_string(j.line, kb, &b, &blen)) {
      test_fail(__FILE__, __LINE__, "%s: missing texts in %s", path, jstr(j.obj, "id"));
      free(a);
      continue;
    }
    blend_error err = {0};
    int rc = wp_encode_pair(t, a, alen, b, blen, jmaxlen(j.obj), &e, &err);
    CHECKF(rc == 0, "%s: %s", jstr(j.obj, "id"), err.message);
    int ok = rc == 0 &&
             same_ids("input_ids", jstr(j.obj, "id"), e.ids, e.len,
                      cJSON_GetObjectItemCaseSensitive(j.obj, "input_ids")) &&
             same_ids("token_type_ids", jstr(j.obj, "id"), e.type_ids, e.len,
                      cJSON_GetObjectItemCaseSensitive(j.obj, "token_type_ids"));
    pass += ok;
    free(a);
    free(b);
  }
  wp_encoding_free(&e);
  jsonl_close(&j);
  return pass;
}

TEST(fixture_pairs) {
  char dir[512], path[600];
  if (!model_dir(dir, sizeof dir)) SKIP("../shared not found");
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  int total = 0;
  int pass = run_pair_fixture(t,
                              path_join(path, sizeof path, test_shared_dir(),
                                        "fixtures/tokenizer/bert-uncased-pairs.jsonl"),
                              "a", "b", &total);
  printf("  bert-uncased-pairs.jsonl: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(total, 14);
  CHECK_EQ_INT(pass, total);
  wp_tokenizer_free(t);
}

TEST(fixture_bert_tiny_random_ids) {
  char dir[512], path[600];
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not found");
  snprintf(dir, sizeof dir, "%s/fixtures/bert-tiny-random", sh);
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  jsonl j;
  REQUIRE(jsonl_open(&j, path_join(path, sizeof path, dir, "reference.jsonl")) == 0);
  wp_encoding e = {0};
  int pass = 0, total = 0, r;
  while ((r = jsonl_next(&j)) != 0) {
    REQUIRE(r > 0);
    total++;
    char *text;
    size_t len;
    REQUIRE(json_raw_string(j.line, "text", &text, &len) == 0);
    uint32_t ml = jmaxlen(j.obj);
    CHECK_EQ_INT(ml, 128);
    CHECK(wp_encode(t, text, len, ml, &e, NULL) == 0);
    pass += same_ids("input_ids", jstr(j.obj, "id"), e.ids, e.len,
                     cJSON_GetObjectItemCaseSensitive(j.obj, "input_ids"));
    free(text);
  }
  printf("  bert-tiny-random/reference.jsonl: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(total, 85);
  CHECK_EQ_INT(pass, total);
  wp_encoding_free(&e);
  jsonl_close(&j);
  wp_tokenizer_free(t);
}

TEST(fixture_cross_tiny_random_ids) {
  char dir[512], path[600];
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not found");
  snprintf(dir, sizeof dir, "%s/fixtures/cross-tiny-random", sh);
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  int total = 0;
  int pass = run_pair_fixture(t, path_join(path, sizeof path, dir, "reference.jsonl"), "query",
                              "document", &total);
  printf("  cross-tiny-random/reference.jsonl: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(total, 61);
  CHECK_EQ_INT(pass, total);
  wp_tokenizer_free(t);
}

/* Behaviour where HF builds disagree: blend follows the reference's "fast"
** flavor (Rust tokenizers < 0.23 for pair truncation, final sigma, private
** use, the CJK Extension E gap; Unicode >= 14 tables for newer characters). */
TEST(fixture_divergent_follows_fast) {
  char path[600];
  char dir[512];
  if (!model_dir(dir, sizeof dir)) SKIP("../shared not found");
  wp_tokenizer *t = load_or_fail(dir);
  REQUIRE(t);
  jsonl j;
  REQUIRE(jsonl_open(&j, path_join(path, sizeof path, test_shared_dir(),
                                   "fixtures/tokenizer/bert-uncased-divergent.jsonl")) == 0);
  wp_encoding e = {0};
  int r, n = 0;
  while ((r = jsonl_next(&j)) != 0) {
    REQUIRE(r > 0);
    const char *id = jstr(j.obj, "id");
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    const cJSON *want;
    if (strncmp(id, "pair:", 5) == 0) {
      REQUIRE(json_raw_string(j.line, "a", &a, &alen) == 0);
      REQUIRE(json_raw_string(j.line, "b", &b, &blen) == 0);
      CHECK(wp_encode_pair(t, a, alen, b, blen, jmaxlen(j.obj), &e, NULL) == 0);
      want = cJSON_GetObjectItemCaseSensitive(j.obj, "hf_tokenizers_before_0.23");
      same_ids("token_type_ids", id, e.type_ids, e.len,
               cJSON_GetObjectItemCaseSensitive(want, "token_type_ids"));
    } else {
      REQUIRE(json_raw_string(j.line, "text", &a, &alen) == 0);
      CHECK(wp_encode(t, a, alen, 0, &e, NULL) == 0);
      /* the reference's fast flavor: Rust tokenizers < 0.23, except for
      ** characters newer than the Rust library's Unicode tables */
      want = cJSON_GetObjectItemCaseSensitive(j.obj, "this_reference_fast_flavor");
      CHECK(twin_agrees(t, a, alen));
    }
    if (cJSON_IsObject(want)) want = cJSON_GetObjectItemCaseSensitive(want, "input_ids");
    REQUIRE(cJSON_IsArray(want));
    same_ids("input_ids", id, e.ids, e.len, want);
    n++;
    free(a);
    free(b);
  }
  CHECK_EQ_INT(n, 8);
  wp_encoding_free(&e);
  jsonl_close(&j);
  wp_tokenizer_free(t);
}

TEST(load_from_tokenizer_json_alone) {
  char dir[512], from[600], to[600], path[600];
  if (!model_dir(dir, sizeof dir)) SKIP("../shared not found");
  const char *d = subdir("json-only");
  REQUIRE(copy_file(path_join(from, sizeof from, dir, "tokenizer.json"),
                    path_join(to, sizeof to, d, "tokenizer.json")) == 0);
  REQUIRE(copy_file(path_join(from, sizeof from, dir, "tokenizer_config.json"),
                    path_join(to, sizeof to, d, "tokenizer_config.json")) == 0);
  wp_tokenizer *tj = load_or_fail(d), *tv = load_or_fail(dir);
  REQUIRE(tj && tv);
  CHECK_EQ_INT(wp_vocab_size(tj), wp_vocab_size(tv));
  for (int32_t id = 0; id < (int32_t)wp_vocab_size(tv); id += 997)
    CHECK_STR(wp_id_to_token(tj, id), wp_id_to_token(tv, id));
  CHECK_EQ_INT(wp_pad_id(tj), 0);
  int total = 0;
  int pass = run_single_fixture(
      tj, path_join(path, sizeof path, test_shared_dir(), "fixtures/tokenizer/bert-uncased.jsonl"),
      &total, 0);
  printf("  bert-uncased.jsonl via tokenizer.json: %d/%d identical\n", pass, total);
  CHECK_EQ_INT(pass, total);
  CHECK(total > 0);
  wp_tokenizer_free(tj);
  wp_tokenizer_free(tv);
}

/* ------------------------------------------------- tiny hand-made vocab */

static const char tiny_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"  /* 0-4 */
    "hello\nworld\n##s\na\n##a\n"          /* 5-9 */
    "cafe\ncaf\xc3\xa9\n.\n,\nHello\n"            /* 10-14 */
    "i\n##\xcc\x87\nb\n##b\nuna\n##ffa\n##ble\n"   /* 15-21 */
    "un\n";                                /* 22 */

static wp_tokenizer *tiny(const char *name, const char *vocab, size_t vlen, const char *config) {
  const char *d = subdir(name);
  char p[600];
  if (write_file(path_join(p, sizeof p, d, "vocab.txt"), vocab, vlen)) return NULL;
  if (config && write_file(path_join(p, sizeof p, d, "tokenizer_config.json"), config,
                           strlen(config)))
    return NULL;
  return load_or_fail(d);
}

/* Encode text and compare with the given ids (terminated by -1). */
static int enc_is(const wp_tokenizer *t, const char *text, size_t len, const int32_t *want) {
  wp_encoding e = {0};
  int ok = wp_encode(t, text, len, 0, &e, NULL) == 0;
  uint32_t n = 0;
  while (want[n] >= 0) n++;
  ok = ok && e.len == n && memcmp(e.ids, want, n * sizeof *want) == 0;
  if (!ok) {
    printf("  \"%.*s\" ->", (int)len, text);
    for (uint32_t i = 0; i < e.len; i++) printf(" %d", e.ids[i]);
    printf("\n");
  }
  ok = ok && twin_agrees(t, text, len);
  wp_encoding_free(&e);
  return ok;
}
#define ENC_IS(t, s, ...) CHECK(enc_is(t, s, sizeof(s) - 1, (const int32_t[]){__VA_ARGS__, -1}))

TEST(vocab_crlf_and_missing_final_newline) {
  const char v[] = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello\r\nworld\r\n##s";
  wp_tokenizer *t = tiny("crlf", v, sizeof v - 1, NULL);
  REQUIRE(t);
  CHECK_EQ_INT(wp_vocab_size(t), 8);
  CHECK_STR(wp_id_to_token(t, 7), "##s");
  CHECK_STR(wp_id_to_token(t, 5), "hello");
  CHECK(wp_id_to_token(t, 8) == NULL);
  CHECK(wp_id_to_token(t, -1) == NULL);
  ENC_IS(t, "Hellos WORLD", 2, 5, 7, 6, 3);
  wp_tokenizer_free(t);
  /* old Mac line ends and a trailing empty line (which is a token) */
  const char v2[] = "[PAD]\r[UNK]\r[CLS]\r[SEP]\rhello\r\r";
  t = tiny("cr", v2, sizeof v2 - 1, NULL);
  REQUIRE(t);
  CHECK_EQ_INT(wp_vocab_size(t), 6);
  CHECK_STR(wp_id_to_token(t, 4), "hello");
  CHECK_STR(wp_id_to_token(t, 5), "");
  CHECK_EQ_INT(wp_token_to_id(t, "[MASK]", 6), -1);
  ENC_IS(t, "hello [MASK]", 2, 4, 1, 1, 1, 3); /* [ mask ] → [UNK] x3 */
  wp_tokenizer_free(t);
}

TEST(vocab_duplicates_and_named_specials) {
  /* a token listed twice maps to its last id (HF builds a dict) */
  const char v[] = "[UNK]\n[CLS]\n[SEP]\nhello\n##s\nhello\n##s\n";
  wp_tokenizer *t = tiny("dup", v, sizeof v - 1, NULL);
  REQUIRE(t);
  CHECK_EQ_INT(wp_vocab_size(t), 7);
  CHECK_STR(wp_id_to_token(t, 3), "hello");
  ENC_IS(t, "hellos", 1, 5, 6, 2);
  wp_tokenizer_free(t);
  /* special token names from tokenizer_config.json (string or AddedToken) */
  const char v2[] = "<pad>\n<unk>\n<s>\n</s>\na\nb\n";
  t = tiny("named", v2, sizeof v2 - 1,
           "{\"unk_token\": {\"content\": \"<unk>\", \"lstrip\": false}, \"cls_token\": \"<s>\","
           " \"sep_token\": \"</s>\", \"pad_token\": \"<pad>\", \"mask_token\": null}");
  REQUIRE(t);
  CHECK_EQ_INT(wp_pad_id(t), 0);
  ENC_IS(t, "a</s>b <s> x", 2, 4, 3, 5, 2, 1, 3);
  wp_tokenizer_free(t);
}

TEST(wordpiece_rules) {
  wp_tokenizer *t = tiny("rules", tiny_vocab, sizeof tiny_vocab - 1, NULL);
  REQUIRE(t);
  ENC_IS(t, "unaffable", 2, 19, 20, 21, 3);
  ENC_IS(t, "hello,world.", 2, 5, 13, 6, 12, 3);
  ENC_IS(t, "helloz", 2, 1, 3);       /* one unmatched position → whole word [UNK] */
  ENC_IS(t, "hello\xe2\x80\x8bs", 2, 5, 7, 3); /* U+200B (Cf) vanishes and glues */
  ENC_IS(t, "Caf\xc3\xa9", 2, 10, 3);        /* accents stripped */
  ENC_IS(t, "", 2, 3);
  ENC_IS(t, " \t\n\r", 2, 3);
  /* 100 code points: looked up; 101: [UNK] without lookup */
  char w[103];
  memset(w, 'a', sizeof w);
  wp_encoding e = {0};
  CHECK(wp_encode(t, w, 100, 0, &e, NULL) == 0);
  CHECK_EQ_INT(e.len, 102);
  CHECK_EQ_INT(e.ids[1], 8);
  CHECK_EQ_INT(e.ids[100], 9);
  CHECK(wp_encode(t, w, 101, 0, &e, NULL) == 0);
  CHECK_EQ_INT(e.len, 3);
  CHECK_EQ_INT(e.ids[1], 1);
  /* 100 letters + combining accents count as 100 (marks are stripped first) */
  bbuf b = {0};
  for (int i = 0; i < 100; i++) bbuf_append(&b, "a\xcc\x81", 3);
  CHECK(wp_encode(t, (char *)b.data, b.len, 0, &e, NULL) == 0);
  CHECK_EQ_INT(e.len, 102);
  bbuf_free(&b);
  /* literal specials; "[MASK]" is special only where the vocab has it */
  ENC_IS(t, "a[SEP]b", 2, 8, 3, 17, 3);
  ENC_IS(t, "[sep]", 2, 1, 1, 1, 3);
  wp_encoding_free(&e);
  wp_tokenizer_free(t);
}

TEST(options_cased_and_no_strip) {
  wp_tokenizer *t = tiny("cased", tiny_vocab, sizeof tiny_vocab - 1, "{\"do_lower_case\": false}");
  REQUIRE(t);
  ENC_IS(t, "Hello", 2, 14, 3);
  ENC_IS(t, "hello", 2, 5, 3);
  ENC_IS(t, "caf\xc3\xa9", 2, 11, 3); /* strip_accents null follows do_lower_case=false */
  wp_tokenizer_free(t);
  t = tiny("nostrip", tiny_vocab, sizeof tiny_vocab - 1,
           "{\"do_lower_case\": true, \"strip_accents\": false}");
  REQUIRE(t);
  ENC_IS(t, "CAF\xc3\x89", 2, 11, 3);
  /* İ lowercases (full mapping, as Python/Rust) to i + U+0307 */
  ENC_IS(t, "\xc4\xb0", 2, 15, 16, 3);
  wp_tokenizer_free(t);
  t = tiny("strip", tiny_vocab, sizeof tiny_vocab - 1, "{\"do_lower_case\": false, \"strip_accents\": true}");
  REQUIRE(t);
  ENC_IS(t, "caf\xc3\xa9 Hello \xc4\xb0", 2, 10, 14, 1, 3); /* İ → I (not in vocab) */
  wp_tokenizer_free(t);
  t = tiny("nocjk", "[UNK]\n[CLS]\n[SEP]\n\xe4\xb8\xad\xe6\x96\x87\n\xe4\xb8\xad\n##\xe6\x96\x87\n",
           strlen("[UNK]\n[CLS]\n[SEP]\n\xe4\xb8\xad\xe6\x96\x87\n\xe4\xb8\xad\n##\xe6\x96\x87\n"),
           "{\"tokenize_chinese_chars\": false}");
  REQUIRE(t);
  ENC_IS(t, "\xe4\xb8\xad\xe6\x96\x87", 1, 3, 2); /* 中文 stays one word */
  CHECK_EQ_INT(wp_pad_id(t), -1);
  wp_tokenizer_free(t);
  t = tiny("cjk", "[UNK]\n[CLS]\n[SEP]\n\xe4\xb8\xad\xe6\x96\x87\n\xe4\xb8\xad\n\xe6\x96\x87\n",
           strlen("[UNK]\n[CLS]\n[SEP]\n\xe4\xb8\xad\xe6\x96\x87\n\xe4\xb8\xad\n\xe6\x96\x87\n"),
           NULL);
  REQUIRE(t);
  ENC_IS(t, "\xe4\xb8\xad\xe6\x96\x87", 1, 4, 5, 2);
  wp_tokenizer_free(t);
}

TEST(invalid_utf8_is_dropped) {
  wp_tokenizer *t = tiny("utf8", tiny_vocab, sizeof tiny_vocab - 1, NULL);
  REQUIRE(t);
  ENC_IS(t, "hel\xfflo", 2, 5, 3);               /* stray byte: dropped, glues */
  ENC_IS(t, "hello\xe2\x82", 2, 5, 3);           /* truncated sequence at the end */
  ENC_IS(t, "a\xc0\xaf" "b", 2, 8, 18, 3);         /* overlong '/' is not a slash */
  ENC_IS(t, "a\xed\xa0\x80" "b", 2, 8, 18, 3);     /* UTF-16 surrogate */
  ENC_IS(t, "a\xf4\x90\x80\x80" "b", 2, 8, 18, 3); /* > U+10FFFF */
  ENC_IS(t, "\x80\x80\x80", 2, 3);
  ENC_IS(t, "a\xef\xbf\xbd" "b", 2, 8, 18, 3);     /* a real U+FFFD is dropped too */
  /* every byte value in every position: no crash, fast == simple */
  char buf[4];
  for (int x = 0; x < 256; x++)
    for (int y = 0; y < 256; y += 7) {
      buf[0] = 'a';
      buf[1] = (char)x;
      buf[2] = (char)y;
      buf[3] = (char)0xb0;
      CHECK(twin_agrees(t, buf, 4));
    }
  wp_tokenizer_free(t);
}

TEST(truncation_single) {
  wp_tokenizer *t = tiny("trunc", tiny_vocab, sizeof tiny_vocab - 1, NULL);
  REQUIRE(t);
  const char *s = "hello world hellos a b unaffable";
  wp_encoding full = {0}, e = {0};
  REQUIRE(wp_encode(t, s, strlen(s), 0, &full, NULL) == 0);
  CHECK_EQ_INT(full.len, 11);
  for (uint32_t ml = 1; ml <= 14; ml++) {
    REQUIRE(wp_encode(t, s, strlen(s), ml, &e, NULL) == 0);
    uint32_t keep = ml < 2 ? 0 : ml - 2 < full.len - 2 ? ml - 2 : full.len - 2;
    CHECK_EQ_INT(e.len, keep + 2);
    CHECK_EQ_INT(e.ids[0], 2);
    CHECK_EQ_INT(e.ids[e.len - 1], 3);
    CHECK(memcmp(e.ids + 1, full.ids + 1, keep * sizeof(int32_t)) == 0);
    for (uint32_t i = 0; i < e.len; i++) CHECK_EQ_INT(e.type_ids[i], 0);
  }
  /* max_pieces stops early at an exact prefix, also inside a word */
  wp_encoding p = {0};
  for (uint32_t k = 1; k <= 9; k++) {
    p.len = 0;
    REQUIRE(wp_tokenize_ex(t, s, strlen(s), k, 0, &p, NULL) == 0);
    CHECK_EQ_INT(p.len, k);
    CHECK(memcmp(p.ids, full.ids + 1, k * sizeof(int32_t)) == 0);
  }
  wp_encoding_free(&p);
  wp_encoding_free(&full);
  wp_encoding_free(&e);
  wp_tokenizer_free(t);
}

/* Pair of n1 and n2 one-piece words ("a" = 8, "b" = 17). */
static void pair_case(const wp_tokenizer *t, uint32_t n1, uint32_t n2, uint32_t ml, uint32_t k1,
                      uint32_t k2) {
  char a[200] = "", b[200] = "";
  for (uint32_t i = 0; i < n1; i++) strcat(a, "a ");
  for (uint32_t i = 0; i < n2; i++) strcat(b, "b ");
  wp_encoding e = {0};
  if (wp_encode_pair(t, a, strlen(a), b, strlen(b), ml, &e, NULL)) {
    test_fail(__FILE__, __LINE__, "encode_pair failed");
    return;
  }
  uint32_t ga = 0, gb = 0;
  for (uint32_t i = 0; i < e.len; i++) {
    ga += e.ids[i] == 8;
    gb += e.ids[i] == 17;
  }
  CHECKF(ga == k1 && gb == k2 && e.len == k1 + k2 + 3,
         "pair %u+%u max_length %u: kept %u+%u, want %u+%u", n1, n2, ml, ga, gb, k1, k2);
  CHECKF(e.ids[0] == 2 && e.ids[1 + k1] == 3 && e.ids[e.len - 1] == 3, "pair framing");
  for (uint32_t i = 0; i < e.len; i++) CHECK_EQ_INT(e.type_ids[i], i < 2 + k1 ? 0 : 1);
  wp_encoding_free(&e);
}

TEST(truncation_pair_longest_first) {
  wp_tokenizer *t = tiny("pair", tiny_vocab, sizeof tiny_vocab - 1, NULL);
  REQUIRE(t);
  pair_case(t, 3, 4, 0, 3, 4);    /* no limit */
  pair_case(t, 3, 4, 10, 3, 4);   /* fits exactly */
  pair_case(t, 2, 20, 13, 2, 8);  /* B=10, shorter ≤ B/2: only the longer is cut */
  pair_case(t, 20, 2, 13, 8, 2);
  pair_case(t, 5, 5, 13, 5, 5);
  pair_case(t, 6, 9, 13, 5, 5);   /* B=10 even: both to 5 */
  pair_case(t, 9, 6, 13, 5, 5);
  /* odd B (Rust tokenizers < 0.23): the longer first gets the odd token,
  ** equal lengths or a longer second give it to the second */
  pair_case(t, 9, 6, 12, 5, 4);
  pair_case(t, 6, 9, 12, 4, 5);
  pair_case(t, 7, 7, 12, 4, 5);
  pair_case(t, 0, 9, 12, 0, 9);
  pair_case(t, 0, 12, 12, 0, 9);
  pair_case(t, 3, 3, 3, 0, 0);    /* B = 0 */
  pair_case(t, 3, 3, 1, 0, 0);
  pair_case(t, 0, 0, 0, 0, 0);
  wp_tokenizer_free(t);
}

/* ------------------------------------------------- fast vs simple twin */

TEST(fast_path_matches_simple_twin_random) {
  wp_tokenizer *t = tiny("twin", tiny_vocab, sizeof tiny_vocab - 1, NULL);
  REQUIRE(t);
  static const char *const atoms[] = {
      "a", "b", "A", "B", "hello", "s", "un", "affable", " ", "\t", "\n", ".", ",", "-", "$",
      "\x01", "\x7f", "\xc3\xa9", "e\xcc\x81", "\xc4\xb0", "\xcc\x81", "\xe2\x80\x8b",
      "\xe4\xb8\xad", "\xea\xb0\x80", "\xef\xbc\xa1", "\xc2\xa0", "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
      "\xe2\x82\xac", "\xff", "\xe2\x82", "[SEP]", "[", "]", "\xd9\x8b", "\xf0\x9d\x85\xa5",
      "\xf0\x9d\x85\xad", "\xcd\x85", "\xef\xbf\xbd", "\xe1\xbf\xaf", "\xce\xa3", "\xe2\x84\xab"};
  uint64_t seed = 12345;
  char buf[512];
  int bad = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = 0;
    int k = (int)(seed % 24) + 1;
    for (int i = 0; i < k; i++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      const char *a = atoms[(seed >> 33) % (sizeof atoms / sizeof *atoms)];
      size_t l = strlen(a);
      if (n + l >= sizeof buf) break;
      memcpy(buf + n, a, l);
      n += l;
    }
    if (!twin_agrees(t, buf, n) && bad++ < 5)
      test_fail(__FILE__, __LINE__, "fast != simple on \"%.*s\"", (int)n, buf);
  }
  CHECK_EQ_INT(bad, 0);
  wp_tokenizer_free(t);
}

/* Canonical reordering (part of NFD) of kept non-starters: U+1D16D (Mc,
** ccc 226) before U+1D165 (Mc, ccc 216) is reordered; Mn marks between them
** are stripped without ending the run. */
TEST(nfd_canonical_order) {
  const char v[] = "[UNK]\n[CLS]\n[SEP]\na\n##\xf0\x9d\x85\xa5\n##\xf0\x9d\x85\xad\n";
  wp_tokenizer *t = tiny("order", v, sizeof v - 1, NULL);
  REQUIRE(t);
  /* a + 1D16D + U+0301 + 1D165 → NFD: a 1D165 0301 1D16D → strip: a 1D165 1D16D */
  ENC_IS(t, "a\xf0\x9d\x85\xad\xcc\x81\xf0\x9d\x85\xa5", 1, 3, 4, 5, 2);
  wp_tokenizer_free(t);
}

/* ---------------------------------------------------------- errors */

static void expect_load_error(const char *dir, int code, const char *needle) {
  wp_tokenizer *t = (wp_tokenizer *)1;
  blend_error err = {0};
  int rc = wp_tokenizer_load(dir, &t, &err);
  CHECKF(rc == code, "load %s: rc %d (%s), want %d", dir, rc, err.message, code);
  CHECK(t == NULL);
  CHECKF(strstr(err.message, needle) != NULL, "error \"%s\" lacks \"%s\"", err.message, needle);
}

TEST(load_errors) {
  char p[600];
  expect_load_error("/nonexistent/model", BLEND_ENOTFOUND, "/nonexistent/model");
  const char *d = subdir("err-none");
  expect_load_error(d, BLEND_ENOTFOUND, "no vocab.txt or tokenizer.json");
  d = subdir("err-empty");
  REQUIRE(write_file(path_join(p, sizeof p, d, "vocab.txt"), "", 0) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "vocab.txt: empty vocabulary");
  d = subdir("err-nounk");
  REQUIRE(write_file(path_join(p, sizeof p, d, "vocab.txt"), "[PAD]\n[CLS]\n[SEP]\nx\n", 20) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "vocab.txt: vocabulary has no [UNK] token");
  d = subdir("err-nosep");
  REQUIRE(write_file(path_join(p, sizeof p, d, "vocab.txt"), "[UNK]\n[CLS]\n", 12) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "no [SEP] token");
  d = subdir("err-config");
  REQUIRE(write_file(path_join(p, sizeof p, d, "vocab.txt"), "[UNK]\n[CLS]\n[SEP]\n", 18) == 0);
  REQUIRE(write_file(path_join(p, sizeof p, d, "tokenizer_config.json"), "{\"do_lower_case\": 1}",
                     20) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "tokenizer_config.json: field \"do_lower_case\"");
  REQUIRE(write_file(p, "{\"do_lower_case\": tru", 21) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "tokenizer_config.json: not valid JSON");
  d = subdir("err-json");
  const char *j1 = "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}";
  REQUIRE(write_file(path_join(p, sizeof p, d, "tokenizer.json"), j1, strlen(j1)) == 0);
  expect_load_error(d, BLEND_EUNSUPPORTED, "tokenizer.json: model.type is BPE");
  const char *j2 = "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": -1}}}";
  REQUIRE(write_file(p, j2, strlen(j2)) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "model.vocab[\"[CLS]\"]");
  const char *j3 = "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 0, \"[SEP]\": 1}}}";
  REQUIRE(write_file(p, j3, strlen(j3)) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "gives id 0 to both");
  const char *j4 = "{\"model\": {\"vocab\": {}}}";
  REQUIRE(write_file(p, j4, strlen(j4)) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "tokenizer.json: empty vocabulary");
  const char *j5 = "[1, 2]";
  REQUIRE(write_file(p, j5, strlen(j5)) == 0);
  expect_load_error(d, BLEND_ECORRUPT, "tokenizer.json: not a JSON object");
  /* ids with gaps: the missing ids have no token */
  const char *j6 = "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 5, \"[SEP]\": 7, \"x\": 2}}}";
  REQUIRE(write_file(p, j6, strlen(j6)) == 0);
  wp_tokenizer *t = load_or_fail(d);
  REQUIRE(t);
  CHECK_EQ_INT(wp_vocab_size(t), 8);
  CHECK(wp_id_to_token(t, 1) == NULL);
  ENC_IS(t, "x y", 5, 2, 0, 7);
  wp_tokenizer_free(t);
}
