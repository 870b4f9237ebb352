/*
** fuzz_query.c — libFuzzer target for the query parser and the search path:
** the input is a query run against a small index built once at start-up;
** MaxScore and block-max WAND must return exactly the exhaustive top k.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static blend_searcher *open_index(void) {
  char dir[] = "/tmp/blend-fuzz-query-XXXXXX";
  if (!mkdtemp(dir)) abort();
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, NULL)) abort();
  const char *words[] = {"cell", "protein", "gene", "the", "cancer", "risk", "mouse", "brain",
                         "drug", "dose", "\xe4\xb8\xad\xe6\x96\x87", "caf\xc3\xa9", "covid-19", "t-cell"};
  char text[2048], id[16];
  unsigned r = 7;
  for (int d = 0; d < 600; d++) {
    size_t len = 0;
    int n = 1 + d % 40;
    for (int i = 0; i < n; i++) {
      r = r * 1103515245u + 12345u;
      len += (size_t)snprintf(text + len, sizeof text - len, "%s ", words[(r >> 16) % 14 * ((r >> 8) % 3 ? 1 : 0) % 14]);
    }
    snprintf(id, sizeof id, "d%d", d);
    blend_field_value f[2] = {{"title", words[d % 14], strlen(words[d % 14])}, {"text", text, len}};
    blend_doc doc = {.id = id, .id_len = strlen(id), .fields = f, .nfields = 2};
    if (blend_writer_add(w, &doc, NULL)) abort();
  }
  if (blend_writer_commit(w, NULL)) abort();
  blend_writer_close(w);
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, NULL) || blend_searcher_new(ix, &s, NULL)) abort();
  return s; /* lives for the process */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static blend_searcher *s;
  if (!s) s = open_index();
  char *q = malloc(size + 1);
  memcpy(q, data, size);
  q[size] = 0;
  blend_search_options o;
  blend_search_options_default(&o);
  o.k = size ? 1 + data[0] % 20 : 10;
  o.field_mode = size > 1 && data[1] & 1 ? BLEND_FIELDS_MULTI : BLEND_FIELDS_FLAT;
  o.explain = size > 2 && data[2] & 1;
  blend_results r;
  uint32_t docs[32];
  float scores[32];
  o.algorithm = BLEND_TOPK_EXHAUSTIVE;
  if (blend_search(s, q, &o, &r, NULL) == BLEND_OK) {
    uint32_t n = r.count;
    for (uint32_t i = 0; i < n; i++) {
      docs[i] = r.hits[i].doc;
      scores[i] = r.hits[i].score;
    }
    for (int a = BLEND_TOPK_MAXSCORE; a <= BLEND_TOPK_BMW; a++) {
      o.algorithm = a;
      if (blend_search(s, q, &o, &r, NULL) != BLEND_OK || r.count != n) __builtin_trap();
      for (uint32_t i = 0; i < n; i++)
        if (r.hits[i].doc != docs[i] || r.hits[i].score != scores[i]) __builtin_trap();
    }
    const char *snip;
    if (n) blend_searcher_snippet(s, docs[0], "text", q, 64, "<", ">", &snip, NULL);
  }
  free(q);
  return 0;
}
