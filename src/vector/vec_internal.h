/*
** vec_internal.h — what the files of src/vector share and nobody else sees:
** the kernel table, the opened field (a validated view over the mapped
** payloads), the per-thread scratch, the top-k / candidate heaps, and the
** byte layouts of the two payloads (documented once, here).
*/
#ifndef BLEND_VEC_INTERNAL_H
#define BLEND_VEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vector/vector.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "src/vector reads little-endian floats straight from the mapped payload"
#endif

/* ---------------------------------------------------------------- kernels
** Float kernels accumulate element d into lane d % 64 with a fused
** multiply-add, then reduce the 64 lanes in one fixed tree (see
** kernels.c), so every path returns the bit-identical float for any n.
** The integer kernel is exact by construction. */
struct vec_kernels {
  const char *name;
  float (*dot)(const float *a, const float *b, size_t n);   /* Σ a·b */
  float (*l2)(const float *a, const float *b, size_t n);    /* Σ (a-b)² */
  /* Σ c·q over n bytes, n a multiple of 64 (codes unsigned, query signed,
  ** |q| <= 127, n <= 65536: the int32 sum cannot overflow). */
  int32_t (*dot_u8s8)(const uint8_t *c, const int8_t *q, size_t n);
  /* four rows against one query: out[i] = dot(q, r[i]) exactly as dot() */
  void (*dot4)(const float *q, const float *const r[4], size_t n, float out[4]);
  void (*l2_4)(const float *q, const float *const r[4], size_t n, float out[4]);
};

extern const vec_kernels vec_kernels_scalar;
#if defined(__x86_64__) || defined(__i386__)
#define VEC_HAVE_X86 1
extern const vec_kernels vec_kernels_avx2;
extern const vec_kernels vec_kernels_avx512;
#endif

/* ---------------------------------------------------------------- store
** STORE payload (little-endian; every array starts on a 64-byte boundary
** relative to the payload start, which is itself 64-byte aligned):
**   header, 64 bytes:
**     0 magic "BVS1"      4 version (1)     8 dim        12 n
**    16 metric           20 dtype          24 stride_f32 (floats per row,
**                                             dim rounded up to 16)
**    28 stride_i8 (bytes per row, dim rounded up to 64; 0 for f32)
**    32 off_rows u64     40 off_codes u64  48 off_ranges u64  56 off_norms u64
**     (the int8 offsets are 0 for f32)
**   rows   : n × stride_f32 float32, zero padding (normalised for cosine)
**   codes  : n × stride_i8 uint8, zero padding            (int8 only)
**   ranges : scale[dim] float32 then min[dim] float32       (int8 only)
**            x[d] ≈ min[d] + scale[d]·code[d]
**   norms  : n float32, Σ x̂² of the decoded row            (int8 only) */
#define VEC_STORE_MAGIC 0x31535642u /* "BVS1" */
#define VEC_STORE_VERSION 1u
#define VEC_STORE_HEADER 64u
#define VEC_MAX_DIM 65536u

/* ---------------------------------------------------------------- graph
** GRAPH payload (little-endian, arrays 64-byte aligned):
**   header, 64 bytes:
**     0 magic "BHN1"   4 version (1)   8 n   12 M   16 M0 (= 2M)
**    20 ef_construction   24 max_level   28 entry
**    32 seed u64   40 nlinks0 u64   48 upper_words u64   56 reserved u64
**   off0   : (n+1) u32, node u's layer-0 links are links0[off0[u]..off0[u+1])
**   links0 : nlinks0 u32
**   levels : n u8 (the top layer of each node)
**   upper  : upper_words u32 — for each layer l = 1..max_level:
**              count_l, nlinks_l, nodes_l[count_l] (ascending: every node
**              with level >= l), off_l[count_l+1], links_l[nlinks_l]
** Every link is a node id < n present on that layer; a layer-0 list holds at
** most M0 links, an upper one at most M. */
#define VEC_GRAPH_MAGIC 0x314e4842u /* "BHN1" */
#define VEC_GRAPH_VERSION 1u
#define VEC_GRAPH_HEADER 64u
#define VEC_MAX_LEVEL 24u

typedef struct vec_layer {
  uint32_t count;          /* nodes on this layer */
  const uint32_t *nodes;   /* ascending node ids */
  const uint32_t *off;     /* count+1 offsets into links */
  const uint32_t *links;
} vec_layer;

/* Does layer L contain node u? Binary search over its ascending nodes. */
static inline int vec_layer_find(const vec_layer *L, uint32_t u, uint32_t *slot) {
  uint32_t lo = 0, hi = L->count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (L->nodes[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  if (lo < L->count && L->nodes[lo] == u) {
    *slot = lo;
    return 1;
  }
  return 0;
}

struct vec_field {
  const vec_kernels *k;
  uint32_t dim, n;
  int metric, dtype;
  uint32_t stride_f32;     /* floats between rows */
  uint32_t stride_i8;      /* bytes between code rows */
  const float *rows;       /* n × stride_f32 */
  const uint8_t *codes;    /* n × stride_i8 (int8) */
  const float *scale, *vmin; /* dim each (int8) */
  const float *norms;      /* n (int8) */
  size_t store_len, graph_len;
  size_t rows_bytes, codes_bytes; /* the arrays' sizes, for the memory figures */
  /* graph (has_graph == 0: none) */
  int has_graph;
  uint32_t M, M0, efc, max_level, entry;
  uint64_t seed;
  const uint32_t *off0, *links0;
  const uint8_t *levels;
  vec_layer up[VEC_MAX_LEVEL + 1]; /* up[l] for 1 <= l <= max_level */
};

/* ---------------------------------------------------------------- scratch */
struct vec_scratch {
  uint16_t *mark;          /* visited marks (generation counter), mark_cap nodes */
  size_t mark_cap;
  uint16_t gen;
  vec_hit *cand;           /* candidate heap (best on top) */
  size_t cand_cap;
  vec_hit *res;            /* result heap (worst on top) */
  size_t res_cap;
  vec_hit *tmp;            /* exact scan: per-thread top-k, merge space */
  size_t tmp_cap;
  int8_t *qq;              /* quantised query, stride_i8 bytes */
  size_t qq_cap;
  float *qf;               /* int8 path: the query scaled per dimension */
  size_t qf_cap;
};

/* Start a fresh visited generation over n nodes; -1 on ENOMEM. */
int vec_scratch_visit_begin(vec_scratch *s, uint32_t n);
int vec_scratch_reserve(vec_hit **p, size_t *cap, size_t need);

/* ---------------------------------------------------------------- heaps
** "a better than b": higher score, ties by lower doc — one strict order used
** by every path, so the top-k set is unique whatever the search order. */
static inline int vec_better(vec_hit a, vec_hit b) {
  return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

/* Min-heap of the k best so far: h[0] is the worst kept. */
static inline void vec_worst_sift_down(vec_hit *h, size_t n, size_t i) {
  vec_hit x = h[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && vec_better(h[c], h[c + 1])) c++;
    if (!vec_better(x, h[c])) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}
static inline void vec_worst_push(vec_hit *h, size_t *n, vec_hit x) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!vec_better(h[p], x)) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}
/* Offer x to a top-k heap of capacity k. */
static inline void vec_topk_offer(vec_hit *h, size_t *n, size_t k, vec_hit x) {
  if (*n < k) vec_worst_push(h, n, x);
  else if (k && vec_better(x, h[0])) {
    h[0] = x;
    vec_worst_sift_down(h, *n, 0);
  }
}

/* Max-heap (best on top): the HNSW candidate queue. */
static inline void vec_best_push(vec_hit *h, size_t *n, vec_hit x) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!vec_better(x, h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = x;
}
static inline vec_hit vec_best_pop(vec_hit *h, size_t *n) {
  vec_hit top = h[0], x = h[--(*n)];
  size_t i = 0, m = *n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && vec_better(h[c + 1], h[c])) c++;
    if (!vec_better(h[c], x)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = x;
  return top;
}

/* Sort hits best first (heap contents → ranked list). */
void vec_hits_sort(vec_hit *h, size_t n);

/* ---------------------------------------------------------------- scoring */
/* 1/‖x‖ computed in double (0 for a zero vector). */
float vec_inv_norm(const float *x, size_t n);

/* Score of a stored row for a query prepared by vec_query_prep: the same
** formula vec_score and every search path use, so scores are comparable. */
typedef struct vec_query {
  const float *q;  /* the caller's raw query (dim floats) */
  float qscale;    /* cosine: 1/‖q‖, else 1 */
} vec_query;

/* A NaN score (only possible from a hostile payload's NaN/Inf rows) ranks
** last, so the order of vec_better stays total and heaps stay sorted. */
static inline float vec_sane(float s) { return s == s ? s : -__builtin_inff(); }

static inline float vec_row_score(const vec_field *f, const vec_query *q, const float *row) {
  if (f->metric == VEC_L2) return vec_sane(-f->k->l2(q->q, row, f->dim));
  return vec_sane(f->k->dot(q->q, row, f->dim) * q->qscale);
}
static inline const float *vec_row(const vec_field *f, uint32_t doc) {
  return f->rows + (size_t)doc * f->stride_f32;
}

/* ---------------------------------------------------------------- int8 */
/* Quantiser over the rows: per-dimension scale/min (min-max ranges). */
void vec_i8_train(const float *rows, uint32_t n, uint32_t dim, size_t stride, float *scale,
                  float *vmin);
void vec_i8_encode(const float *x, uint32_t dim, const float *scale, const float *vmin,
                   uint8_t *codes);
/* Σ decoded² of one code row. */
float vec_i8_norm2(const uint8_t *codes, uint32_t dim, const float *scale, const float *vmin);

/* A query prepared for the int8 approximate score:
**   approx(doc) = a·Σ c[d]·qq[d] + b  (+ l2 terms), see quant.c. */
typedef struct vec_i8_query {
  const int8_t *qq;  /* stride_i8 bytes, zero padded */
  float a, b;        /* scale and offset of the integer dot */
  float qnorm2;      /* l2: ‖q‖² */
} vec_i8_query;
int vec_i8_query_prep(const vec_field *f, vec_scratch *s, const vec_query *q, vec_i8_query *out);
static inline float vec_i8_score(const vec_field *f, const vec_i8_query *iq, uint32_t doc) {
  int32_t dot = f->k->dot_u8s8(f->codes + (size_t)doc * f->stride_i8, iq->qq, f->stride_i8);
  float ip = iq->a * (float)dot + iq->b;
  if (f->metric == VEC_L2) return vec_sane(-(iq->qnorm2 - 2.0f * ip + f->norms[doc]));
  return vec_sane(ip);
}

/* ---------------------------------------------------------------- search */
/* Exact float32 top-k over all docs or the allowed ones; hits best first. */
int vec_exact_search(const vec_field *f, vec_scratch *s, const vec_query *q,
                     const vec_search_params *p, vec_hit *out, uint32_t *nout, blend_error *err);

/* HNSW search. Returns the number of hits written to out (best first), or
** (uint32_t)-1 when the visit budget was exhausted (caller falls back to the
** exact scan). visit_limit 0 = no limit. */
int vec_hnsw_search(const vec_field *f, vec_scratch *s, const vec_query *q,
                    const vec_search_params *p, uint32_t visit_limit, vec_hit *out,
                    uint32_t *nout, int *exhausted, blend_error *err);

/* The graph while it is built: fixed-size slots, so threads can write their
** own nodes' lists without moving anything. */
typedef struct hnsw_mem {
  uint32_t n, M, M0, efc, max_level, entry;
  uint64_t seed;
  uint8_t *level;      /* n */
  uint32_t *l0;        /* n × (1+M0): count, then links */
  uint64_t *up_off;    /* n: start of node's upper slots in up (level × (1+M)) */
  uint32_t *up;        /* Σ level × (1+M) */
} hnsw_mem;
static inline uint32_t *hnsw_mem_list(const hnsw_mem *g, uint32_t node, uint32_t l) {
  if (l == 0) return g->l0 + (size_t)node * (1 + g->M0);
  return g->up + g->up_off[node] + (size_t)(l - 1) * (1 + g->M);
}
/* Serialise a built graph as the GRAPH payload (appends to out). */
int vec_hnsw_serialise(const hnsw_mem *g, bbuf *out);

/* Graph payload: build (hnsw_build.c) and validate/open (hnsw_graph.c). */
int vec_hnsw_build(const float *rows, uint32_t n, uint32_t dim, size_t stride, int metric,
                   const vec_build_params *p, const vec_kernels *k, bbuf *out, blend_error *err);
int vec_hnsw_open(vec_field *f, const uint8_t *g, size_t len, blend_error *err);

/* Level of node i for (seed, M): floor(-ln(u)·mL), mL = 1/ln(M), u from a hash. */
uint32_t vec_hnsw_level(uint64_t seed, uint32_t i, uint32_t M);

#endif
