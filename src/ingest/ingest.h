/*
** ingest.h — turning input records into blend_docs. The line parser is
** separate from file handling so the fuzzer can drive it directly.
*/
#ifndef BLEND_INGEST_H
#define BLEND_INGEST_H

#include "blend.h"
#include "util/util.h"

#define INGEST_MAX_FIELDS 15

#define INGEST_MAX_META 32

typedef struct ingest_doc {
  void *json;                 /* cJSON tree owning the strings */
  char idbuf[64];             /* numeric ids as text */
  blend_doc doc;
  blend_field_value fields[INGEST_MAX_FIELDS];
  blend_meta_value meta[INGEST_MAX_META];
} ingest_doc;

/* Parse one JSONL line into d (free with ingest_doc_free). On failure
** returns BLEND_EINVAL with a message (no file/line prefix). A blank line
** gives BLEND_OK with d->doc.id == NULL. */
int ingest_parse_line(const char *line, size_t len, const char *id_field,
                      const char *const *fields, size_t nfields, ingest_doc *d, blend_error *err);
void ingest_doc_free(ingest_doc *d);

/* Fill d->doc.meta from the parsed line: the scalar members of its
** "metadata" object, then the named top-level fields (which win). A named
** field holding an object or array is BLEND_EINVAL. */
int ingest_parse_meta(ingest_doc *d, const char *const *names, size_t n, blend_error *err);

/* Is s[0..n) valid UTF-8? On failure *bad gets the offset of the first bad byte. */
int utf8_valid(const char *s, size_t n, size_t *bad);

#endif
