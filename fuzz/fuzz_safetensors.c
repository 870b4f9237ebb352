/*
** fuzz_safetensors.c — libFuzzer target: arbitrary bytes through the
** .safetensors parser and validator (st_parse, from memory), then every
** accepted tensor is looked up, shape-checked and widened to float32, so
** ASan catches any read outside the validated spans.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a private copy so the tail of the buffer is exactly the input's end */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  st_file *f = NULL;
  blend_error err;
  if (st_parse(buf, size, "fuzz.safetensors", &f, &err) == BLEND_OK) {
    for (size_t i = 0; i < st_count(f); i++) {
      const st_tensor *t = st_at(f, i);
      if (st_find(f, t->name) != t) abort();
      if (st_check(f, t->name, t, t->ndim, t->shape, &err) != BLEND_OK) continue;
      float *out = malloc(t->nelem ? t->nelem * sizeof(float) : 1);
      if (out) st_to_f32(t, out);
      free(out);
    }
    st_close(f);
  }
  free(buf);
  return 0;
}
