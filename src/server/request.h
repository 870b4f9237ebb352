/*
** request.h — a search request (POST /search JSON body, or GET /search
** query parameters) parsed and checked against the server's limits. Every
** rejection names the field and why; unknown fields are rejected too (a
** typo must not be silently ignored).
*/
#ifndef BLEND_SERVER_REQUEST_H
#define BLEND_SERVER_REQUEST_H

#include "server/server.h"

enum search_mode { MODE_LEXICAL = 0, MODE_DENSE = 1, MODE_HYBRID = 2 };

#define REQ_MAX_FILTERS 16
#define REQ_MAX_DIM 4096

typedef struct search_req {
  const char *q;            /* query text (NUL-terminated, NULs dropped), or NULL */
  size_t qlen;
  int mode;                 /* enum search_mode */
  uint32_t k, offset;
  blend_search_options opts;/* k1, b, field mode, weights, algorithm */
  int explain;
  int highlight;            /* 1: snippets of hl_field */
  char hl_field[32];
  uint32_t hl_size;
  int source;               /* 1: stored fields in _source (default) */
  const float *vector;      /* dense query vector, or NULL */
  uint32_t dim;
  /* hybrid knobs (validated; used when the hybrid API is present) */
  int norm, fusion, has_norm, has_fusion;
  double alpha, rrf_k;      /* < 0: not given */
  uint32_t depth;           /* 0: not given */
  uint32_t ef;              /* dense: HNSW ef (0: default) */
  int exact;                /* dense: exact scan */
  const char *filters[REQ_MAX_FILTERS];
  uint32_t nfilters;
  /* cross-encoder rerank of the top rerank_depth first-stage hits over
     the stored field rerank_field (needs the server's --rerank-model) */
  int rerank;
  uint32_t rerank_depth;    /* 0: not given (20) */
  char rerank_field[32];    /* "": not given ("text") */
} search_req;

/* Scratch the parsed request points into (one per worker, reused). */
typedef struct req_scratch {
  bbuf text;                /* strings: query, filters */
  float *vec;               /* [REQ_MAX_DIM] */
} req_scratch;

void req_scratch_free(req_scratch *sc);

/* Parse; BLEND_OK, or BLEND_EINVAL with err naming the field. */
int search_req_json(const char *body, size_t len, const server_limits *lim, req_scratch *sc,
                    search_req *r, blend_error *err);
/* qs: the raw query string (after '?', percent-encoded), len bytes. */
int search_req_query(const char *qs, size_t len, const server_limits *lim, req_scratch *sc,
                     search_req *r, blend_error *err);

/* Percent-decode src[0..n) into dst (room for n + 1); '+' is a space when
** plus_space. Returns the decoded length, or -1 on a bad escape. The result
** may hold NUL bytes (the caller decides). */
long url_decode(const char *src, size_t n, char *dst, int plus_space);

#endif
