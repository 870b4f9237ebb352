/*
** fuzz_jsonl.c — libFuzzer target for the JSONL reader and the analyzer:
** each input is one line; a parsed document is analysed field by field and
** added to an in-memory writer (never committed).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(void *ctx, const blend_token *t) {
  size_t *n = ctx;
  if (t->end < t->start || t->term_len == 0) __builtin_trap();
  (*n)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static blend_analyzer *an;
  if (!an) {
    blend_analyzer_config c;
    blend_analyzer_config_default(&c);
    if (blend_analyzer_new(&c, &an, NULL)) abort();
  }
  static const char *const fields[] = {"title", "text"};
  ingest_doc d;
  blend_error err;
  if (ingest_parse_line((const char *)data, size, "_id", fields, 2, &d, &err) == BLEND_OK && d.doc.id) {
    for (size_t f = 0; f < d.doc.nfields; f++) {
      size_t n = 0;
      blend_analyze(an, d.doc.fields[f].text, d.doc.fields[f].len, count, &n);
    }
  }
  ingest_doc_free(&d);
  /* the raw bytes as text, too (invalid UTF-8 included) */
  size_t n = 0;
  blend_analyze(an, (const char *)data, size, count, &n);
  return 0;
}
