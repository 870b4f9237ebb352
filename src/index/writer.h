/*
** writer.h — the writer's state, shared by writer.c (adds, deletes,
** commit) and merge.c (merge policy and merger).
*/
#ifndef BLEND_INDEX_WRITER_H
#define BLEND_INDEX_WRITER_H

#include "index/build.h"

typedef struct pending_text {
  uint32_t doc;   /* buffer doc waiting for its vector */
  char *text;     /* doc prefix + fields, NUL-terminated */
  size_t len;
} pending_text;

struct blend_writer {
  char *dir;
  int mode;                  /* enum blend_write_mode */
  int lock_fd;
  int merge;                 /* run the merge policy after commits */
  blend_index_config cfg;
  manifest base;             /* the committed generation this writer builds on */
  blend_index *ix;           /* its segments (id lookups, merging); NULL when none */
  uint64_t **live;           /* [segment] private live bitmap, edited by deletes */
  uint8_t *dirty;            /* [segment] deletions since the last commit */
  docbuf buf;                /* documents of the next segment */
  uint64_t duplicates;
  blend_model *model;        /* encodes documents without vectors, or NULL */
  pending_text *pending;
  uint32_t npending, pending_cap;
};

/* The manifest of the next generation, before its segments are listed. */
int writer_next_manifest(blend_writer *w, manifest *next, blend_error *err);
/* Steps 3-5 of a commit: fsync dir, switch the manifest, collect garbage,
** and rebase the writer on the new generation (next is consumed). */
int writer_commit_generation(blend_writer *w, manifest *next, blend_error *err);
/* Run the tiered merge policy once the commit is done. */
int writer_maybe_merge(blend_writer *w, blend_error *err);

#endif
