/*
** vectors.h — a file of the user's document vectors, loaded whole and
** looked up by id while the corpus is ingested.
*/
#ifndef BLEND_INGEST_VECTORS_H
#define BLEND_INGEST_VECTORS_H

#include "blend.h"
#include "util/util.h"

typedef struct vector_file vector_file;

/* Load path: JSONL lines {"_id": "...", "vector": [...]} or, with ids_path,
** raw little-endian float32 rows (the layout `blend embed --format f32`
** writes) with one id per line of ids_path in row order. dim 0: take it
** from the file (JSONL: the first line; raw: file size / ids). Errors name
** the file and line: wrong dimension, non-finite component, duplicate id,
** a raw file whose size is not ids × dim × 4. */
int vector_file_load(const char *path, const char *ids_path, uint32_t dim, vector_file **out,
                     blend_error *err);
void vector_file_free(vector_file *v);
uint32_t vector_file_dim(const vector_file *v);
size_t vector_file_count(const vector_file *v);
/* The vector of id (marks it used), or NULL. */
const float *vector_file_get(vector_file *v, const char *id, size_t len);
/* The first id never looked up (an id the corpus does not have), or NULL. */
const char *vector_file_unused(const vector_file *v, size_t *nunused);

#endif
