/*
** index.h — internal view of an opened index: segments (memory-mapped,
** validated at open), the term dictionary, postings cursors and stored
** fields. Shared by the search module.
*/
#ifndef BLEND_INDEX_INDEX_H
#define BLEND_INDEX_INDEX_H

#include <stdint.h>

#include "blend.h"
#include "index/format.h"
#include "util/util.h"

#define DOC_END UINT32_MAX

typedef struct section_ref {
  const uint8_t *p;
  uint64_t len;
} section_ref;

/* What a segment file holds that does not change: its mapping and the
** structures validated or built at open. Shared (reference-counted) by
** every snapshot that includes the segment, so a refresh reopens only new
** segments. */
typedef struct segment_core segment_core;

typedef struct meta_col {
  char name[64];
  const uint8_t *kind;     /* [ndocs] 0 absent, BLEND_META_NUMBER, BLEND_META_STRING */
  const uint8_t *num;      /* [ndocs] f64, 8-byte aligned */
  const uint8_t *str_off;  /* [ndocs + 1] u32 */
  const uint8_t *str;
  uint32_t str_len;
} meta_col;

typedef struct vec_field vec_field;

/* One segment as a snapshot sees it: the file's contents (pointers into the
** shared mapping) plus this generation's live documents. */
typedef struct segment {
  char path[4096];
  char name[64];
  uint32_t crc;              /* header crc (identity across generations) */
  segment_core *core;
  mapped_file mf;
  uint32_t ndocs;
  uint32_t base;             /* first global doc number */
  uint32_t nfields;
  int positions;
  int field_views;
  char field_names[MAX_FIELDS][32];
  uint64_t sum_dl[MAX_FIELDS];
  uint32_t docs_with[MAX_FIELDS];
  const uint8_t *norms[MAX_FIELDS];
  section_ref termdict, termindex, postings, positions_sec, ids, store, storeindex;
  section_ref iddict, meta, vecstore, hnsw;
  uint32_t td_blocks;
  uint64_t *td_prefix;       /* [td_blocks] first 8 bytes of each block's first
                                key, big-endian: a cache-friendly binary search */
  uint32_t store_blocks;
  uint32_t nmeta;
  meta_col metas[MAX_META];
  vec_field *vec;            /* NULL when the segment has no vectors */
  /* this snapshot's deletions: NULL when none (owned by the snapshot) */
  uint64_t *live;            /* bit set = live, ceil(ndocs/64) words */
  uint32_t ndeleted;
} segment;

static inline int segment_is_live(const segment *s, uint32_t doc) {
  return !s->live || (s->live[doc >> 6] >> (doc & 63)) & 1;
}

struct blend_index {
  char dir[4096];
  blend_analyzer_config analyzer;
  int positions;
  int field_views;       /* every segment has per-field postings */
  uint64_t generation;
  segment *segs;
  uint32_t nsegs;
  uint32_t ndocs;        /* documents in the segment files (live or not) */
  uint64_t ndeleted;     /* of them deleted in this generation */
  uint32_t nfields;
  char field_names[MAX_FIELDS][32];
  uint64_t sum_dl[MAX_FIELDS];
  uint64_t docs_with[MAX_FIELDS];
  uint64_t bytes_on_disk;
  uint32_t nmeta;
  char meta_names[MAX_META][64];
  blend_vector_config vector;  /* dim 0: no vector field */
  char *hybrid;          /* stored hybrid default (JSON), or NULL */
};

/* A term's dictionary entry within one segment. */
typedef struct term_entry {
  uint32_t df;
  uint64_t cf;
  uint64_t post_off, post_len;
  uint64_t pos_off, pos_len;
  uint32_t max_tf;
  uint8_t min_norm;
} term_entry;

/* Open (map + validate) the segment file at path. */
int segment_open(segment *s, const char *path, blend_error *err);
/* A copy of an open segment for another snapshot (shares the core; live
** docs are not copied). */
void segment_share(segment *dst, const segment *src);
void segment_close(segment *s);
/* The terms of one field in key order (the structural merger's k-way
** merge): after segment_terms_begin, each segment_terms_next gives the
** next term (key = u8 field + term bytes, klen bytes) with its entry,
** checked as segment_term checks it, and keys strictly increasing. */
typedef struct term_iter {
  const segment *seg;
  const uint8_t *p, *end;
  uint32_t field;
  char key[MAX_TERM + 2];
  uint32_t klen;
  term_entry te;
} term_iter;
void segment_terms_begin(term_iter *it, const segment *s, uint32_t field);
/* 1: a term; 0: the field has no more; -1: corrupt. */
int segment_terms_next(term_iter *it);
/* Local doc of an external id via the id dictionary: 1 found, 0 absent
** (deleted documents are found too: check segment_is_live). */
int segment_find_id(const segment *s, const char *id, size_t len, uint32_t *doc);
/* Look up field+term; 1 found, 0 absent, -1 corrupt. */
int segment_term(const segment *s, uint32_t field, const char *term, size_t len, term_entry *te);
/* The segment holding global doc number doc (NULL past the end); *local
** its number there, *segno (if non-NULL) the segment's index. */
const segment *index_segment_of(const blend_index *ix, uint32_t doc, uint32_t *local, uint32_t *segno);
/* Field index by name in the index (-1 if absent). */
int index_field(const blend_index *ix, const char *name);
/* A new handle on dir's newest generation that shares old's unchanged
** segments (no re-mapping, no re-checksumming); unlike blend_index_refresh,
** old stays open for the readers still using it. *out is NULL when the
** generation has not moved. (The server's snapshots.) */
int index_open_newer(const char *dir, const blend_index *old, blend_index **out, blend_error *err);

/* ---- postings cursor over one term in one segment (doc ids local) */
typedef struct pcursor {
  const segment *seg;
  term_entry te;
  const uint8_t *skip;   /* nblocks × SKIP_ENTRY, NULL when one block */
  const uint8_t *data, *data_end;
  const uint8_t *pos_base, *pos_end;
  uint32_t nblocks, block;
  uint32_t n, i;         /* docs in the current block, index of current */
  uint32_t doc;          /* current doc, DOC_END when exhausted */
  int corrupt;
  const uint8_t *freq_ptr;
  int tfs_ready;
  const uint8_t *pos_ptr; /* positions of doc index pos_i in this block */
  uint32_t pos_i;
  uint32_t docs[BLOCK];
  uint32_t tfs[BLOCK];
} pcursor;

void pcursor_init(pcursor *c, const segment *s, const term_entry *te);
/* Move to the first doc ≥ target (target > current). */
void pcursor_advance(pcursor *c, uint32_t target);
static inline void pcursor_next(pcursor *c) {
  if (c->i + 1 < c->n) c->doc = c->docs[++c->i];
  else pcursor_advance(c, c->doc + 1);
}
void pcursor_decode_tfs(pcursor *c);
static inline uint32_t pcursor_tf(pcursor *c) {
  if (!c->tfs_ready) pcursor_decode_tfs(c);
  return c->tfs[c->i];
}
/* Positions of the current doc into out (cap entries); returns count. */
uint32_t pcursor_positions(pcursor *c, uint32_t *out, uint32_t cap);
/* Block-max support: the last doc and (max tf, min norm) of the block that
** contains target, without decoding it. Returns 0 past the end. */
/* (max tf, min norm) over the blocks that may hold docs in [lo, hi);
** returns 0 when the cursor has no doc below hi. */
int pcursor_window_bound(pcursor *c, uint32_t lo, uint32_t hi, uint32_t *max_tf, uint8_t *min_norm);
int pcursor_block_bound(pcursor *c, uint32_t target, uint32_t *last_doc, uint32_t *max_tf,
                        uint8_t *min_norm);

/* ---- stored fields */
/* A small LRU of decompressed stored-field blocks: a hit's _source,
** snippet and rerank text read the same block several times per request,
** and popular documents recur across requests. Keyed by the segment's
** core (shared by every snapshot holding the segment: stored fields never
** change) and the block number. A text returned by segment_doc_field stays
** valid until STORE_CACHE_BLOCKS other blocks have been loaded. Zero
** initialised = empty. */
#define STORE_CACHE_BLOCKS 16
typedef struct store_block_cache {
  const segment_core *core; /* NULL: empty */
  uint32_t block;
  uint32_t used;            /* LRU tick of the last use */
  bbuf raw;                 /* the decompressed block */
} store_block_cache;

typedef struct store_scratch {
  void *dctx;         /* ZSTD_DCtx, created on first use, reused */
  store_block_cache ent[STORE_CACHE_BLOCKS];
  uint32_t tick;
  uint32_t seg, block; /* unused since the cache (callers may still set them) */
} store_scratch;

void store_scratch_free(store_scratch *sc);
int segment_doc_id(const segment *s, uint32_t doc, const char **id, size_t *len);
int segment_doc_field(const segment *s, store_scratch *sc, uint32_t segno, uint32_t doc,
                      uint32_t field, const char **text, size_t *len, blend_error *err);
/* Stored-field block b decompressed (valid as segment_doc_field's texts
** are), holding the records of docs [*first, *last) in order: per doc
** varint nfields, then per field varint field, varint len, bytes. */
int segment_store_block(const segment *s, store_scratch *sc, uint32_t b, const uint8_t **raw, size_t *len,
                        uint32_t *first, uint32_t *last, blend_error *err);

#endif
