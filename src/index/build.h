/*
** build.h — the writer side of a segment, split by structure as Lucene and
** tantivy do: the document buffer (docbuf.c: inversion, stored fields, ids,
** metadata, vectors of the documents of one new segment), then one
** serializer per structure at commit — postings + term dictionary
** (postings_writer.c), ids + id dictionary + stored fields + metadata
** (store_writer.c), vectors (vector_writer.c) — and the segment file that
** lays their sections out (seg_build.c). The structural merger
** (seg_merge.c) feeds the same serializers from open segments.
** manifest.c writes the generation.
*/
#ifndef BLEND_INDEX_BUILD_H
#define BLEND_INDEX_BUILD_H

#include "analysis/analysis.h"
#include "index/format.h"
#include "index/index.h"
#include "util/util.h"

/* ---- a segment under construction: its sections, in file order */
typedef struct sec {
  uint32_t kind, field;
  bbuf b;
} sec;

typedef struct seg_build {
  sec secs[16 + MAX_FIELDS];
  uint32_t nsec;
} seg_build;

sec *seg_build_add(seg_build *sb, uint32_t kind, uint32_t field);
void seg_build_free(seg_build *sb);
/* Lay out header, section table and 64-byte aligned sections; write path
** and fsync it. */
int seg_build_write(const char *path, seg_build *sb, uint32_t ndocs, uint32_t nfields,
                    uint32_t flags, uint64_t *bytes, uint32_t *crc_out, blend_error *err);

/* ---- the documents of one new segment, in memory */

/* A term's postings while indexing, appended token by token with no
** per-document buffering: for each document, varint doc delta (from the
** term's previous document; the first is the doc itself), then one varint
** per occurrence, position delta + 1 (so never 0; 1 per occurrence when
** positions are off), then a 0 that closes the document — written when the
** term's next document starts, so the last document is closed by the end of
** the buffer. */
typedef struct term_buf {
  bbuf post;
  uint32_t last_doc;
  uint32_t ndocs;    /* docs in buffer (incl. later-deleted ones) */
  uint32_t term;     /* analyzer term id */
  uint32_t field;
  uint32_t last_pos; /* previous position in the current document */
} term_buf;

typedef struct docbuf {
  blend_index_config cfg;
  blend_analyzer *an;
  char *fields[MAX_FIELDS];   /* fields[0] = FLAT_FIELD */
  uint32_t nfields;
  uint32_t slot_cap;
  uint32_t *slot[MAX_FIELDS]; /* [field][analyzer term id] → index into tb, or NONE */
  term_buf *tb;
  uint32_t nterms, tb_cap;
  bbuf lens[MAX_FIELDS];      /* u32 field length (tokens) per doc */
  bbuf stored;                /* per doc: varint nfields, (varint field, varint len, bytes)... */
  bbuf stored_off;            /* u64 offset per doc into stored */
  bbuf ids;                   /* id bytes */
  bbuf ids_off;               /* u64 per doc */
  char *meta_names[MAX_META];
  uint32_t nmeta;
  bbuf meta;                  /* per doc: varint count, (varint col, u8 kind, f64 | varint len + bytes) */
  bbuf meta_off;              /* u64 per doc */
  float *vecs;                /* [ndocs × dim] when the index has a vector field */
  size_t vec_cap;             /* docs vecs has room for */
  uint8_t *has_vec;           /* per doc: vector present (an attached model fills later) */
  int unit_vecs;              /* vecs are stored (normalised) rows copied by a merge */
  strmap *id_map;             /* id → doc */
  uint8_t *deleted;           /* per doc flag */
  uint32_t ndocs, deleted_cap, live;
  /* analysis callback state */
  uint32_t cur_doc, cur_field, pos_base, field_len, flat_len;
  int failed;
} docbuf;

int docbuf_init(docbuf *b, const blend_index_config *cfg, blend_error *err);
void docbuf_free(docbuf *b);
/* Add doc as the next document; *replaced = 1 when it replaced a document
** of this buffer with the same id. */
int docbuf_add(docbuf *b, const blend_doc *doc, int *replaced, blend_error *err);
/* Mark the buffered document with this id deleted; returns 1 if it was there. */
int docbuf_delete(docbuf *b, const char *id, size_t len);
int docbuf_field(docbuf *b, const char *name, blend_error *err); /* id, or -code */
/* Meta column of name (created when absent); -1 when too many. */
int docbuf_meta_col(docbuf *b, const char *name);

/* The postings encoder (postings_writer.c), fed one term at a time in key
** order (u8 field + term bytes): the caller puts the term's n documents
** (ascending segment doc numbers), their tfs and positions into docs[],
** tfs[], pos and pos_doc_off[] (start of each document's position varints
** in pos; reserve room first), then postings_out_term encodes the blocks,
** skip table and dictionary entry; a term with n = 0 is dropped. */
typedef struct postings_out {
  sec *td, *ti, *po, *pp;  /* SEC_TERMDICT, SEC_TERMINDEX, SEC_POSTINGS, SEC_POSITIONS */
  uint32_t *docs, *tfs;    /* [cap] */
  uint32_t *pos_doc_off;   /* [cap + 1] */
  size_t cap;
  bbuf pos;                /* positions of the current term, all its docs */
  bbuf blocks, skip;       /* encoder scratch */
  bbuf index;              /* u32 offset of each dictionary block */
  char prev[MAX_TERM + 2]; /* previous key (front coding) */
  uint32_t prev_len;
  uint64_t written;        /* terms in the dictionary */
} postings_out;

int postings_out_begin(postings_out *o, seg_build *sb);
int postings_out_reserve(postings_out *o, size_t n);
/* 0, -1 (out of memory) or -2 (an offset would not fit in 32 bits). */
int postings_out_term(postings_out *o, const char *key, uint32_t klen, uint32_t n, const uint8_t *norms);
int postings_out_end(postings_out *o, uint64_t *nterms_out);
void postings_out_free(postings_out *o);

/* Serializers: each appends its sections to sb. remap maps buffer doc
** numbers to segment doc numbers (UINT32_MAX = deleted). They return 0, -1
** (out of memory) or -2 (an offset would not fit the format's 32 bits). */
int postings_write(docbuf *b, const uint32_t *remap, seg_build *sb, const uint8_t *const *norms,
                   uint64_t *nterms_out);
int store_write(docbuf *b, const uint32_t *remap, seg_build *sb);
int meta_write(docbuf *b, const uint32_t *remap, uint32_t live, seg_build *sb);
int vectors_write(docbuf *b, const uint32_t *remap, uint32_t live, seg_build *sb, blend_error *err);

/* Write one complete segment file from b (live docs only). *ndocs_out = docs
** in it (0: nothing written). */
int docbuf_write_segment(docbuf *b, const char *path, uint32_t *ndocs_out, uint64_t *bytes,
                         uint32_t *crc, blend_error *err);

/* ---- a merged segment (seg_merge.c): the live documents of open segments,
** in source order then doc order, written without re-analysis */
typedef struct merge_src {
  const segment *seg;
  const uint64_t *live; /* bit set = live, ceil(ndocs/64) words */
} merge_src;

int seg_merge_write(const blend_index_config *cfg, const merge_src *src, uint32_t nsrc, const char *path,
                    uint32_t *ndocs_out, uint64_t *bytes, uint32_t *crc, blend_error *err);

/* ---- the manifest of one generation (manifest.c) */
typedef struct manifest_seg {
  char name[64];     /* seg-G-S.bseg */
  uint32_t docs;     /* documents in the segment file */
  uint32_t deleted;  /* of them deleted (live-docs file says which) */
  uint64_t bytes;
  uint32_t crc;      /* the segment header's crc32c */
  char live[96];     /* live-docs file name, "" when none deleted */
} manifest_seg;

typedef struct manifest {
  uint64_t generation;
  uint64_t next_segment;   /* counter for new segment names */
  blend_index_config cfg;  /* analyzer, positions, field_views, vector field */
  char fields[MAX_FIELDS][32];
  uint32_t nfields;
  char meta[MAX_META][64];
  uint32_t nmeta;
  manifest_seg *segs;
  uint32_t nsegs, cap;
  char *hybrid;            /* JSON text of the stored hybrid default, or NULL */
} manifest;

/* Read DIR/MANIFEST; BLEND_ENOTFOUND when there is none. */
int manifest_read(const char *dir, manifest *m, blend_error *err);
/* Write DIR/MANIFEST atomically (temp, fsync, rename, directory fsync). */
int manifest_write(const char *dir, const manifest *m, blend_error *err);
void manifest_free(manifest *m);
int manifest_add_seg(manifest *m, const manifest_seg *s);
/* Remove files of dir that the manifest does not name (old segments and
** live-docs, temp files). Open readers keep their mappings (POSIX unlink). */
void manifest_collect_garbage(const char *dir, const manifest *m);

/* Live-docs files: a bitmap per segment (bit set = live). */
int live_write(const char *dir, const char *name, const uint64_t *bits, uint32_t ndocs,
               uint32_t deleted, blend_error *err);
int live_read(const char *dir, const char *name, uint32_t ndocs, uint64_t **bits,
              uint32_t *deleted, blend_error *err);

#endif
