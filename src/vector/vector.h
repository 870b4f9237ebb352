/*
** vector.h — blend's dense-vector field: storage (float32, plus int8 scalar
** quantisation searched with float32 rescoring), distance kernels chosen at
** run time (scalar twin, AVX2+FMA, AVX-512 / VNNI), an exact top-k scan and an
** HNSW graph (deterministic multi-threaded build, filtered search, exact
** fallback), each persisted as a position-independent byte payload that the
** segment writer stores as one section.
**
** Two payloads per field:
**   STORE — header (version, dim, n, metric, dtype), float32 rows (normalised
**           for cosine; zero-padded to a 64-byte row stride), and for int8
**           per-dimension ranges + u8 codes (row stride 64 bytes) + per-row
**           squared norms of the decoded codes (for l2).
**   GRAPH — HNSW: per-node levels, layer-0 adjacency (CSR), upper layers
**           (sorted node list + CSR per level), entry point, M, efC, seed.
**           Empty when built with hnsw == 0 or n == 0.
** Both payloads must start at a 64-byte aligned address when opened (the
** segment format aligns its sections); vec_field_open checks this.
**
** Scores: higher = better. cosine: dot of L2-normalised vectors (a zero
** vector stays zero, score 0); dot: raw dot; l2: minus the squared
** distance. vec_search always returns exact float32 scores (int8 candidates
** are rescored in float32), so hits of different segments are comparable.
*/
#ifndef BLEND_VECTOR_H
#define BLEND_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"
#include "util/util.h"

enum vec_metric { VEC_COSINE = 0, VEC_DOT = 1, VEC_L2 = 2 };
enum vec_dtype { VEC_F32 = 0, VEC_I8 = 1 };

/* Parse / name the enums ("cosine", "dot", "l2"; "f32", "int8"). The parsers
** return -1 for an unknown name. */
int vec_metric_parse(const char *s);
const char *vec_metric_name(int metric);
int vec_dtype_parse(const char *s);
const char *vec_dtype_name(int dtype);

typedef struct vec_hit {
  uint32_t doc;  /* local doc number in [0, n) */
  float score;   /* higher = better (see the top of this file) */
} vec_hit;

/* ------------------------------------------------------------ kernels */

/* A table of distance kernels (one per instruction set). Tables are static
** and read-only: the choice is passed explicitly (open/build), so tests and
** benchmarks compare paths without any process-global switch. */
typedef struct vec_kernels vec_kernels;

/* The fastest table this CPU supports (decided by cpuid at run time). */
const vec_kernels *vec_kernels_best(void);
/* The table named "scalar", "avx2" or "avx512"; NULL when the name is unknown
** or this CPU lacks the instructions. */
const vec_kernels *vec_kernels_by_name(const char *name);
const char *vec_kernels_name(const vec_kernels *k);
/* Name of vec_kernels_best() ("avx512", "avx2" or "scalar"). */
const char *vec_kernel_name(void);

/* -------------------------------------------------------------- build */

typedef struct vec_build_params {
  int metric;                  /* enum vec_metric */
  int dtype;                   /* enum vec_dtype */
  uint32_t M;                  /* hnswlib meaning: M links per node on the upper
                                  layers, 2*M on layer 0 */
  uint32_t ef_construction;    /* beam width while inserting */
  uint64_t seed;               /* node levels come from (seed, node id) */
  int threads;                 /* build threads; <= 0: online cores */
  int hnsw;                    /* 0: no graph (exact scan only) */
  const vec_kernels *kernels;  /* NULL: vec_kernels_best() */
  int unit_rows;               /* cosine rows are already normalised (a merge
                                  copies stored rows): kept bit for bit */
} vec_build_params;

/* Defaults: metric cosine, dtype f32, M 16, ef_construction 200 (hnswlib's
** defaults, so figures compare), seed 42, threads 0 (all cores), hnsw 1.
** The graph is a pure function of (rows, M, ef_construction, seed): it is
** identical for any thread count (batched insertion, see hnsw_build.c). */
void vec_build_params_default(vec_build_params *p);

/* Build both payloads for n rows of dim floats (rows = n*dim floats; the caller
** has checked they are finite). Appends to store_out and graph_out (graph_out
** stays empty when hnsw == 0 or n == 0). BLEND_EINVAL for bad parameters
** (dim 0, dim > 65536, M < 2 or > 256, unknown metric/dtype). */
int vec_build(const float *rows, uint32_t n, uint32_t dim, const vec_build_params *p,
              bbuf *store_out, bbuf *graph_out, blend_error *err);

/* ------------------------------------------------------------- reader */

typedef struct vec_field vec_field;

/* Open a validated, read-only view over the two payloads (graph may be NULL
** with graph_len 0). Everything is checked here — sizes, counts, offsets,
** neighbour ids < n, levels, entry point, arithmetic overflow — so a hostile
** or truncated payload is BLEND_ECORRUPT with a message, never a crash.
** The payload memory must outlive the field. Uses vec_kernels_best(). */
int vec_field_open(const void *store, size_t store_len, const void *graph, size_t graph_len,
                   vec_field **out, blend_error *err);
/* The same with an explicit kernel table (NULL: best). */
int vec_field_open_ex(const void *store, size_t store_len, const void *graph, size_t graph_len,
                      const vec_kernels *k, vec_field **out, blend_error *err);
void vec_field_close(vec_field *f);

uint32_t vec_field_dim(const vec_field *f);
uint32_t vec_field_count(const vec_field *f);
int vec_field_metric(const vec_field *f);
int vec_field_dtype(const vec_field *f);
int vec_field_has_graph(const vec_field *f);
/* Bytes of the payloads in use: f32 rows + int8 codes/ranges/norms + graph. */
size_t vec_field_bytes(const vec_field *f);
/* Bytes that must stay resident for a fast search: for f32 the rows + graph;
** for int8 the codes, ranges, norms and graph (the f32 rows are read only for
** the few rescored candidates per query and may be paged out). */
size_t vec_field_resident_bytes(const vec_field *f);
/* The stored float32 row of doc (normalised for cosine; dim values, more
** may follow as zero padding). */
const float *vec_field_row(const vec_field *f, uint32_t doc);

/* ------------------------------------------------------------- search */

typedef struct vec_search_params {
  uint32_t k;            /* hits wanted */
  uint32_t ef;           /* HNSW beam width; 0: max(k, 64). Raised to k if lower. */
  int exact;             /* 1: exact float32 scan (ignores the graph and int8) */
  const uint64_t *allow; /* optional bitmap over docs [0, n): bit set = allowed
                            (doc d is bit d%64 of word d/64); NULL = all */
  uint32_t allow_count;  /* number of set bits in allow (the caller knows it) */
  uint32_t rescore;      /* int8: the best candidates of the integer traversal
                            rescored in float32 (the beam widens to it if
                            larger than ef); 0: max(ef, 4*k) */
  int threads;           /* exact-scan threads for large fields (<= 1: caller's) */
} vec_search_params;

/* Per-thread scratch (visited marks, heaps, the padded/quantised query),
** grown on demand; one scratch serves any number of fields, one search at a
** time. vec_scratch_new returns NULL on ENOMEM. */
typedef struct vec_scratch vec_scratch;
vec_scratch *vec_scratch_new(void);
void vec_scratch_free(vec_scratch *s);

/* Top-k search. Thread-safe on a shared vec_field (each thread its own
** scratch). out has room for k hits; *nout receives the count. Hits are best
** first, ties by ascending doc. The query (dim floats, finite — else
** BLEND_EINVAL) is normalised here for cosine.
** Routing: exact scan when p->exact, when there is no graph, or when the
** filter is so selective that scanning the allowed docs is cheaper than the
** graph; otherwise HNSW, which traverses through filtered-out nodes but only
** collects allowed ones, and falls back to the exact scan whenever it found
** fewer than min(k, allowed) hits. So a search returns min(k, allowed) hits
** always (allowed = n without a filter). */
int vec_search(const vec_field *f, vec_scratch *s, const float *query, const vec_search_params *p,
               vec_hit *out, uint32_t *nout, blend_error *err);

/* The exact float32 score of one doc for a raw (unnormalised) query of dim
** floats — hybrid "score completion". doc must be < n. */
float vec_score(const vec_field *f, const float *query, uint32_t doc);

#endif
