/*
** test_safetensors.c — the .safetensors reader on valid and hostile files:
** every malformed header or tensor entry must give a clear error naming the
** file and tensor, never a crash (this program runs under ASan/UBSan).
** Model-level checks (wrong dtype, shape vs config.json, missing tensor,
** truncation) mutate the real fixture file's header.
*/
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoder/bert.h"
#include "encoder/safetensors.h"
#include "test.h"
#include "util/util.h"

/* header JSON + data → a safetensors image (caller frees). */
static uint8_t *image(const char *json, const void *data, size_t dlen, size_t *len) {
  size_t h = strlen(json);
  *len = 8 + h + dlen;
  uint8_t *b = malloc(*len + 1);
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h >> (8 * i));
  memcpy(b + 8, json, h);
  if (dlen) memcpy(b + 8 + h, data, dlen);
  return b;
}

/* Parse json+data; expect failure whose message contains each of the
** NULL-terminated needles. */
static void expect_bad(const char *json, const void *data, size_t dlen, int code,
                       const char *n1, const char *n2) {
  size_t len;
  uint8_t *b = image(json, data, dlen, &len);
  st_file *f = NULL;
  blend_error err = {0};
  int rc = st_parse(b, len, "x.safetensors", &f, &err);
  CHECKF(rc == code, "expected %d got %d for %s (%s)", code, rc, json, err.message);
  CHECK(f == NULL);
  CHECKF(strstr(err.message, "x.safetensors") != NULL, "no file name: %s", err.message);
  if (n1) CHECKF(strstr(err.message, n1) != NULL, "'%s' not in: %s", n1, err.message);
  if (n2) CHECKF(strstr(err.message, n2) != NULL, "'%s' not in: %s", n2, err.message);
  st_close(f);
  free(b);
}

TEST(valid_file_reads_values) {
  float data[6] = {1, 2, 3, 4, 5, 6};
  uint16_t half[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
  uint8_t buf[32];
  memcpy(buf, data, 24);
  memcpy(buf + 24, half, 4);
  const char *json =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[24,28]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
      "\"ids\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[28,28]}}";
  size_t len;
  uint8_t *b = image(json, buf, 28, &len);
  st_file *f = NULL;
  blend_error err = {0};
  REQUIRE(st_parse(b, len, "ok.safetensors", &f, &err) == 0);
  CHECK_EQ_INT(st_count(f), 3);
  CHECK_STR(st_at(f, 0)->name, "a"); /* sorted by name */
  const st_tensor *a = st_find(f, "a"), *h = st_find(f, "b");
  REQUIRE(a && h);
  CHECK(st_find(f, "c") == NULL);
  CHECK_EQ_INT(a->ndim, 2);
  CHECK_EQ_INT(a->shape[1], 3);
  uint64_t shape[2] = {2, 3};
  CHECK(st_check(f, "a", a, 2, shape, &err) == 0);
  float out[6];
  st_to_f32(a, out);
  CHECK(out[5] == 6.0f);
  st_to_f32(h, out);
  CHECK(out[0] == 1.0f && out[1] == -2.0f);
  /* shape and dtype checks name the tensor */
  uint64_t wrong[2] = {3, 2};
  CHECK(st_check(f, "a", a, 2, wrong, &err) == BLEND_ECORRUPT);
  CHECKF(strstr(err.message, "'a'") && strstr(err.message, "[2, 3]") && strstr(err.message, "[3, 2]"),
         "%s", err.message);
  CHECK(st_check(f, "ids", st_find(f, "ids"), 1, shape, &err) == BLEND_EUNSUPPORTED);
  CHECKF(strstr(err.message, "'ids'") && strstr(err.message, "I64"), "%s", err.message);
  CHECK(st_check(f, "zz", NULL, 1, shape, &err) == BLEND_ENOTFOUND);
  CHECKF(strstr(err.message, "missing tensor 'zz'"), "%s", err.message);
  st_close(f);
  free(b);
}

TEST(half_precision_widening_is_exact) {
  /* every F16 value against its definition */
  for (uint32_t h = 0; h < 65536; h++) {
    uint32_t e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) continue;
    if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp(1.0 + m / 1024.0, (int)e - 15);
    if (h & 0x8000) v = -v;
    float got = st_f16_to_f32((uint16_t)h);
    if ((double)got != v) {
      CHECKF(0, "f16 %04x: %.10g != %.10g", h, got, v);
      break;
    }
  }
  CHECK(isinf(st_f16_to_f32(0x7c00)) && isnan(st_f16_to_f32(0x7e00)));
  CHECK(st_bf16_to_f32(0x3f80) == 1.0f && st_bf16_to_f32(0xc040) == -3.0f);
  CHECK(st_bf16_to_f32(0x0001) == ldexpf(1.0f, -133)); /* subnormal */
}

TEST(hostile_headers) {
  size_t len;
  st_file *f = NULL;
  blend_error err = {0};
  /* shorter than the length prefix */
  CHECK(st_parse((const uint8_t *)"abc", 3, "x.safetensors", &f, &err) == BLEND_ECORRUPT);
  CHECKF(strstr(err.message, "truncated"), "%s", err.message);
  /* header length beyond the file */
  uint8_t *b = image("{}", NULL, 0, &len);
  b[0] = 200;
  CHECK(st_parse(b, len, "x.safetensors", &f, &err) == BLEND_ECORRUPT);
  CHECKF(strstr(err.message, "header length 200 exceeds the file size"), "%s", err.message);
  b[7] = 0xff; /* absurd length */
  CHECK(st_parse(b, len, "x.safetensors", &f, &err) == BLEND_ECORRUPT);
  free(b);
  expect_bad("{\"a\":", NULL, 0, BLEND_ECORRUPT, "not valid JSON", NULL);
  expect_bad("[1,2]", NULL, 0, BLEND_ECORRUPT, "not a JSON object", NULL);
  expect_bad("{\"a\":1}", NULL, 0, BLEND_ECORRUPT, "'a'", NULL);
  expect_bad("{\"w\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "unknown dtype");
  expect_bad("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", NULL);
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "span");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "shape[0]");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", NULL);
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
             "\"data_offsets\":[0,4]}}",
             "abcd", 4, BLEND_ECORRUPT, "'w'", "overflow");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
             "abcd", 4, BLEND_ECORRUPT, "'w'", "dimensions");
  /* offsets outside the data area, reversed, malformed */
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "outside the data area");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "outside");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "abcd", 4,
             BLEND_ECORRUPT, "'w'", "data_offsets");
  expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", "abcd",
             4, BLEND_ECORRUPT, "'w'", NULL);
  /* overlapping tensors name both */
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             "abcdefgh", 8, BLEND_ECORRUPT, "'b'", "overlaps tensor 'a'");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
             "abcdefgh", 8, BLEND_ECORRUPT, "overlaps", NULL);
  /* the same name twice */
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             "abcdefgh", 8, BLEND_ECORRUPT, "'a' is listed twice", NULL);
}

TEST(missing_file_names_path) {
  st_file *f = NULL;
  blend_error err = {0};
  CHECK(st_open("/nonexistent/model.safetensors", &f, &err) == BLEND_ENOTFOUND);
  CHECKF(strstr(err.message, "/nonexistent/model.safetensors"), "%s", err.message);
}

/* ---- model-level: mutate the fixture's header, load with bert_load ---- */

static char fixture_dir[PATH_MAX];

static int have_fixture(void) {
  const char *sh = test_shared_dir();
  if (!sh) return 0;
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/fixtures/bert-tiny-random", sh);
  return realpath(p, fixture_dir) != NULL;
}

typedef void (*mutate_fn)(cJSON *header);

/* Write dir name/ with the fixture's config files linked and a
** model.safetensors whose header went through fn (data unchanged), truncated
** to keep bytes when keep != 0. Returns the dir. */
static const char *mutated_model(const char *name, mutate_fn fn, size_t keep) {
  static char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), name);
  mkdir(dir, 0755);
  const char *files[] = {"config.json", "vocab.txt", "tokenizer_config.json", "modules.json",
                         "sentence_bert_config.json", "1_Pooling"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/%s", fixture_dir, files[i]);
    snprintf(b, sizeof b, "%s/%s", dir, files[i]);
    if (symlink(a, b) != 0) return NULL;
  }
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/model.safetensors", fixture_dir);
  char *raw;
  size_t len;
  if (file_read_all(p, &raw, &len, NULL)) return NULL;
  uint64_t h = rd_u64((const uint8_t *)raw);
  cJSON *hdr = cJSON_ParseWithLength(raw + 8, h);
  if (fn) fn(hdr);
  char *js = cJSON_PrintUnformatted(hdr);
  cJSON_Delete(hdr);
  size_t jl = strlen(js), pad = (8 - jl % 8) % 8, dl = len - 8 - h;
  bbuf out = {0};
  bbuf_put_u64(&out, jl + pad);
  bbuf_append(&out, js, jl);
  for (size_t i = 0; i < pad; i++) bbuf_putc(&out, ' ');
  bbuf_append(&out, raw + 8 + h, dl);
  free(js);
  free(raw);
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  int rc = file_write_atomic(p, out.data, keep ? keep : out.len, NULL);
  bbuf_free(&out);
  return rc ? NULL : dir;
}

static cJSON *entry(cJSON *h, const char *name) { return cJSON_GetObjectItem(h, name); }

static void set_dtype_i32(cJSON *h) {
  cJSON_ReplaceItemInObject(entry(h, "encoder.layer.0.attention.self.key.weight"), "dtype",
                            cJSON_CreateString("I32"));
}
static void reshape(cJSON *h) {
  int dims[2] = {256, 64};
  cJSON_ReplaceItemInObject(entry(h, "encoder.layer.1.attention.output.dense.weight"), "shape",
                            cJSON_CreateIntArray(dims, 2));
}
static void rename_bias(cJSON *h) {
  cJSON *e = cJSON_DetachItemFromObject(h, "encoder.layer.1.output.dense.bias");
  cJSON_AddItemToObject(h, "encoder.layer.1.output.dense.biaz", e);
}
static void overlap(cJSON *h) {
  cJSON *src = cJSON_GetObjectItem(entry(h, "encoder.layer.0.attention.self.query.weight"),
                                   "data_offsets");
  cJSON_ReplaceItemInObject(entry(h, "encoder.layer.0.attention.self.key.weight"),
                            "data_offsets", cJSON_Duplicate(src, 1));
}
static void add_position_ids(cJSON *h) {
  /* an unused I64 buffer (as transformers < 4.31 saves), zero-sized here */
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "dtype", "I64");
  int dims[2] = {1, 0}, offs[2] = {0, 0};
  cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(dims, 2));
  cJSON_AddItemToObject(e, "data_offsets", cJSON_CreateIntArray(offs, 2));
  cJSON_AddItemToObject(h, "embeddings.position_ids", e);
}

static void expect_load_error(const char *dir, int code, const char *n1, const char *n2) {
  bert_model *m = NULL;
  blend_error err = {0};
  REQUIRE(dir);
  int rc = bert_load(dir, 1, BERT_F32_PACKED, &m, &err);
  CHECKF(rc == code, "expected %d got %d (%s)", code, rc, err.message);
  CHECK(m == NULL);
  CHECKF(strstr(err.message, "model.safetensors") != NULL, "no file name: %s", err.message);
  if (n1) CHECKF(strstr(err.message, n1) != NULL, "'%s' not in: %s", n1, err.message);
  if (n2) CHECKF(strstr(err.message, n2) != NULL, "'%s' not in: %s", n2, err.message);
  bert_free(m);
}

TEST(model_with_hostile_weights) {
  if (!have_fixture()) SKIP("../shared/fixtures not found");
  /* unchanged header rewritten + an extra unused I64 tensor: loads */
  const char *ok = mutated_model("ok", add_position_ids, 0);
  REQUIRE(ok);
  bert_model *m = NULL;
  blend_error err = {0};
  CHECKF(bert_load(ok, 1, BERT_F32_PACKED, &m, &err) == 0, "%s", err.message);
  bert_free(m);
  expect_load_error(mutated_model("dtype", set_dtype_i32, 0), BLEND_EUNSUPPORTED,
                    "encoder.layer.0.attention.self.key.weight", "I32");
  expect_load_error(mutated_model("shape", reshape, 0), BLEND_ECORRUPT,
                    "encoder.layer.1.attention.output.dense.weight", "[256, 64]");
  expect_load_error(mutated_model("missing", rename_bias, 0), BLEND_ENOTFOUND,
                    "missing tensor 'encoder.layer.1.output.dense.bias'", NULL);
  expect_load_error(mutated_model("overlap", overlap, 0), BLEND_ECORRUPT,
                    "encoder.layer.0.attention.self.", "overlaps");
  /* truncated in the data area: the last tensors' offsets run past the end */
  expect_load_error(mutated_model("trunc", NULL, 4000000), BLEND_ECORRUPT, "outside the data area",
                    "tensor '");
  /* truncated inside the header */
  expect_load_error(mutated_model("trunc-hdr", NULL, 100), BLEND_ECORRUPT, "header length", NULL);
}
