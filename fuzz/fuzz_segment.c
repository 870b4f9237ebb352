/*
** fuzz_segment.c — libFuzzer target for the segment reader on hostile
** files. The harness recomputes the header and section checksums of its
** input, so mutations reach the structural checks behind them (offsets,
** dictionary entries, postings blocks, stored fields) instead of stopping
** at a checksum mismatch. Seeds: real segments (fuzz/corpus/segment).
*/
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blend.h"
#include "index/format.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void fix_checksums(uint8_t *p, size_t size) {
  if (size < SEG_HEADER_SIZE) return;
  uint32_t nsec = rd_u32(p + 20);
  if (nsec > 64 || SEG_HEADER_SIZE + (size_t)nsec * SEG_SECTION_SIZE > size) return;
  for (uint32_t i = 0; i < nsec; i++) {
    uint8_t *e = p + SEG_HEADER_SIZE + (size_t)i * SEG_SECTION_SIZE;
    uint64_t off = rd_u64(e + 8), len = rd_u64(e + 16);
    if (off <= size && len <= size - off) wr_u32(e + 24, crc32c(0, p + off, len));
  }
  wr_u32(p + SEG_HEADER_SIZE - 4, crc32c(crc32c(0, p, SEG_HEADER_SIZE - 4), p + SEG_HEADER_SIZE,
                                          (size_t)nsec * SEG_SECTION_SIZE));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) {
    strcpy(dir, "/tmp/blend-fuzz-seg-XXXXXX");
    if (!mkdtemp(dir)) abort();
    char mp[128];
    snprintf(mp, sizeof mp, "%s/MANIFEST", dir);
    FILE *f = fopen(mp, "w");
    fputs("{\"format\":1,\"generation\":1,\"analyzer\":{\"stemmer\":\"porter\",\"stopwords\":\"english\","
          "\"cjk_bigrams\":1},\"positions\":1,\"segments\":[{\"name\":\"seg-000001-0.bseg\"}]}",
          f);
    fclose(f);
  }
  uint8_t *copy = malloc(size + 1);
  memcpy(copy, data, size);
  fix_checksums(copy, size);
  char sp[128];
  snprintf(sp, sizeof sp, "%s/seg-000001-0.bseg", dir);
  FILE *f = fopen(sp, "wb");
  fwrite(copy, 1, size, f);
  fclose(f);
  free(copy);
  blend_index *ix;
  if (blend_index_open(dir, &ix, NULL) != BLEND_OK) return 0;
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  blend_searcher *s;
  if (blend_searcher_new(ix, &s, NULL) == BLEND_OK) {
    static const char *queries[] = {"cell protein", "\"white matter\"", "+gene -mouse", "title:cancer risk",
                                    "a b c d e f g h"};
    blend_search_options o;
    blend_search_options_default(&o);
    for (int a = BLEND_TOPK_EXHAUSTIVE; a <= BLEND_TOPK_BMW; a++)
      for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        blend_results r;
        o.algorithm = a;
        o.explain = 1;
        if (blend_search(s, queries[q], &o, &r, NULL) != BLEND_OK) continue;
        for (uint32_t i = 0; i < r.count; i++) {
          const char *t;
          size_t n;
          blend_searcher_doc_id(s, r.hits[i].doc, &t, &n, NULL);
          blend_searcher_doc_field(s, r.hits[i].doc, "text", &t, &n, NULL);
        }
      }
    const char *t;
    size_t n;
    for (uint32_t d = 0; d < st.docs && d < 50; d++) blend_searcher_doc_field(s, d, "title", &t, &n, NULL);
    blend_searcher_free(s);
  }
  blend_index_close(ix);
  return 0;
}
