/*
** fuzz_vectorfile.c — libFuzzer target for the user vector-file reader
** (src/ingest/vectors.c): the input, written to a temp file, is read as
** JSONL {"_id", "vector"} lines; or, when it starts with 'R', split at the
** first 0xFF byte into an ids file and a raw float32 file. Any result is
** fine except a crash; a loaded file must be internally consistent.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest/vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (n && fwrite(p, 1, n, f) != n) abort();
  fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char a[64], b[64];
  snprintf(a, sizeof a, "/tmp/fuzz-vf-%d.a", (int)getpid());
  snprintf(b, sizeof b, "/tmp/fuzz-vf-%d.b", (int)getpid());
  vector_file *v = NULL;
  blend_error err;
  if (size > 0 && data[0] == 'R') {
    const uint8_t *sep = memchr(data + 1, 0xFF, size - 1);
    size_t idlen = sep ? (size_t)(sep - data - 1) : size - 1;
    put(a, data + 1, idlen);
    put(b, sep ? sep + 1 : data + size, sep ? size - idlen - 2 : 0);
    vector_file_load(b, a, 0, &v, &err);
  } else {
    put(a, data, size);
    vector_file_load(a, NULL, 0, &v, &err);
  }
  if (v) {
    uint32_t dim = vector_file_dim(v);
    if (dim == 0 || vector_file_count(v) == 0) __builtin_trap();
    const char *first = vector_file_unused(v, NULL);
    if (!first) __builtin_trap(); /* nothing looked up yet: every id is unused */
    const float *row = vector_file_get(v, first, strlen(first));
    if (!row) __builtin_trap();
    for (uint32_t i = 0; i < dim; i++)
      if (!isfinite(row[i])) __builtin_trap();
    vector_file_free(v);
  }
  unlink(a);
  unlink(b);
  return 0;
}
