/*
** fuzz_hub.c — libFuzzer target for what `blend model pull` parses from a
** hub it does not control: the model-info listing JSON, Content-Range
** headers, repository ids and URL escaping. A listing that parses must only
** name wanted files, with hashes of the right length.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hub_listing l;
  memset(&l, 0, sizeof l);
  if (hub_parse_listing((const char *)data, size, "fuzz/model", &l, NULL) == BLEND_OK) {
    for (size_t i = 0; i < l.n; i++) {
      int wanted = 0;
      for (const char *const *w = hub_wanted_files(); *w; w++)
        if (!strcmp(*w, l.files[i].path)) wanted = 1;
      if (!wanted) __builtin_trap();
      size_t h = strlen(l.files[i].sha256);
      if (h != 0 && h != 64) __builtin_trap();
    }
    hub_listing_free(&l);
  }
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = 0;
  uint64_t a, b, c;
  if (hub_parse_content_range(s, &a, &b, &c) == 0 && a > b) __builtin_trap();
  hub_check_repo_id(s, NULL);
  char *e = hub_url_escape(s, size & 1);
  free(e);
  free(s);
  return 0;
}
