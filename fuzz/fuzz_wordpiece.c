/*
** fuzz_wordpiece.c — libFuzzer target for the WordPiece tokenizer: arbitrary
** bytes (invalid UTF-8, controls, marks, specials, huge words) encoded as a
** text and as a pair with a small max_length, checking the invariants a
** caller relies on: fast path == simple twin, truncation keeps an exact
** prefix, lengths within max_length, [CLS]/[SEP] framing, type ids 0 then 1.
**
** The tokenizer is loaded once, from $BLEND_SHARED/models/all-MiniLM-L6-v2 or
** ../shared/models/all-MiniLM-L6-v2; without them a tiny vocabulary is
** written to a temporary directory.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/wordpiece.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wp_tokenizer *tok;

static void must(int cond) {
  if (!cond) __builtin_trap();
}

static wp_tokenizer *load_any(void) {
  char dir[1024];
  wp_tokenizer *t = NULL;
  const char *sh = getenv("BLEND_SHARED");
  snprintf(dir, sizeof dir, "%s/models/all-MiniLM-L6-v2", sh && *sh ? sh : "../shared");
  if (wp_tokenizer_load(dir, &t, NULL) == 0) return t;
  char tmp[] = "/tmp/fuzz-wordpiece-XXXXXX";
  must(mkdtemp(tmp) != NULL);
  snprintf(dir, sizeof dir, "%s/vocab.txt", tmp);
  static const char v[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n##a\nb\n##b\nab\n.\n,\n"
                          "\xc3\xa9\n##\xc3\xa9\n\xe4\xb8\xad\n##s\nthe\n";
  FILE *f = fopen(dir, "wb");
  must(f != NULL);
  must(fwrite(v, 1, sizeof v - 1, f) == sizeof v - 1);
  must(fclose(f) == 0);
  must(wp_tokenizer_load(tmp, &t, NULL) == 0);
  remove(dir);
  remove(tmp);
  return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!tok) tok = load_any();
  const char *text = (const char *)data;
  wp_encoding full = {0}, e = {0}, twin = {0};

  /* single text: untruncated, fast == simple */
  must(wp_encode(tok, text, size, 0, &full, NULL) == 0);
  must(full.len >= 2);
  must(wp_tokenize_ex(tok, text, size, 0, WP_SIMPLE, &twin, NULL) == 0);
  must(twin.len == full.len - 2);
  must(twin.len == 0 || memcmp(twin.ids, full.ids + 1, twin.len * sizeof(int32_t)) == 0);
  for (uint32_t i = 0; i < full.len; i++) {
    must(wp_id_to_token(tok, full.ids[i]) != NULL);
    must(full.type_ids[i] == 0);
  }

  /* truncated: an exact prefix, [CLS] ... [SEP] */
  uint32_t ml = size ? data[0] % 24 : 5;
  must(wp_encode(tok, text, size, ml, &e, NULL) == 0);
  uint32_t keep = ml == 0 ? full.len - 2 : ml < 2 ? 0 : ml - 2;
  if (keep > full.len - 2) keep = full.len - 2;
  must(e.len == keep + 2);
  must(e.ids[0] == full.ids[0] && e.ids[e.len - 1] == full.ids[full.len - 1]);
  must(memcmp(e.ids + 1, full.ids + 1, keep * sizeof(int32_t)) == 0);

  /* pair: split at the first NUL byte (or the middle) */
  const uint8_t *z = memchr(data, 0, size);
  size_t alen = z ? (size_t)(z - data) : size / 2;
  const char *b = text + (z ? alen + 1 : alen);
  size_t blen = size - (size_t)(b - text);
  wp_encoding pa = {0}, pb = {0};
  must(wp_tokenize(tok, text, alen, &pa, NULL) == 0);
  must(wp_tokenize(tok, b, blen, &pb, NULL) == 0);
  for (uint32_t m = 0; m < 2; m++) {
    uint32_t pml = m ? ml + 3 : 0;
    must(wp_encode_pair(tok, text, alen, b, blen, pml, &e, NULL) == 0);
    must(e.len >= 3);
    if (pml) must(e.len <= pml || pml < 3);
    else must(e.len == pa.len + pb.len + 3);
    uint32_t zeros = 0; /* [CLS] a(k1) [SEP] have type id 0 */
    while (zeros < e.len && e.type_ids[zeros] == 0) zeros++;
    must(zeros >= 2 && zeros < e.len);
    uint32_t k1 = zeros - 2;
    uint32_t k2 = e.len - 3 - k1;
    must(k1 <= pa.len && k2 <= pb.len);
    must(k1 == 0 || memcmp(e.ids + 1, pa.ids, k1 * sizeof(int32_t)) == 0);
    must(k2 == 0 || memcmp(e.ids + 2 + k1, pb.ids, k2 * sizeof(int32_t)) == 0);
    must(e.ids[1 + k1] == e.ids[e.len - 1]);
    for (uint32_t i = 2 + k1; i < e.len; i++) must(e.type_ids[i] == 1);
  }
  wp_encoding_free(&pa);
  wp_encoding_free(&pb);
  wp_encoding_free(&full);
  wp_encoding_free(&e);
  wp_encoding_free(&twin);
  return 0;
}
