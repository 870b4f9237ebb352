/*
** server.h — `blend serve`: a JSON search service over one index.
**
** Two layers, so the protocol logic can be tested and fuzzed without sockets:
**   api.c   a pure handler: (method, raw URI, a few headers, body) →
**           (status, content type, body). Routing, auth, limits, JSON in
**           and out, the endpoints. It runs on the calling thread with that
**           thread's own searcher (api_worker).
**   http.c  libmicrohttpd glue: a thread pool of epoll loops, connection
**           limits and timeouts, body collection with a size cap, the
**           overload counter (→ 503), graceful stop.
** The index is opened once and shared read-only by every worker thread.
*/
#ifndef BLEND_SERVER_H
#define BLEND_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "blend.h"
#include "util/util.h"

/* Limits: every one answers a clear 4xx (or 503) when exceeded. */
typedef struct server_limits {
  size_t max_body;          /* request body bytes (413), default 1 MiB */
  size_t max_query;         /* query text bytes (400), default 4096 */
  uint32_t max_k;           /* k (400), default 1000 */
  uint32_t max_offset;      /* offset (400), default 10000 */
  uint32_t max_explain_k;   /* explain only for k + offset <= this, default 100 */
  uint32_t max_highlight;   /* highlight fragment bytes, default 1000 */
  uint32_t max_inflight;    /* open connections beyond this get 503, default 256 */
  uint32_t max_connections; /* hard socket cap (refused), default 1024 */
  uint32_t per_ip;          /* connections per client address, default 512 */
  uint32_t idle_timeout_s;  /* an idle connection is closed, default 10 */
  uint32_t body_timeout_ms; /* a request body must arrive within this, default 10000 */
  uint32_t budget_ms;       /* per-request time budget (503 past it), default 2000 */
  uint32_t max_rerank_depth;/* rerank_depth (400), default 100 */
} server_limits;

void server_limits_default(server_limits *l);

typedef struct server_config {
  const char *index_dir;
  const char *bind;         /* IPv4/IPv6 literal, default "127.0.0.1" */
  uint16_t port;            /* 0: any free port */
  int threads;              /* worker threads (<= 0: online cores) */
  const char *api_key;      /* NULL: no auth */
  int api_key_reads;        /* 1: reads need the key too */
  const char *cors;         /* allowed origin ("*" or one origin), NULL: off */
  int query_int8;           /* encode dense query text (and new documents) with int8 linear layers */
  const char *rerank_model; /* cross-encoder directory for "rerank": true, or NULL */
  server_limits limits;
} server_config;

typedef struct api_worker api_worker;

/* A committed generation of the index, shared by the workers that search
** it: refs counts them plus one for being current. A commit opens the new
** generation and makes it current; each worker moves to it at its next
** request, and the last one to leave an old snapshot closes it. */
typedef struct snapshot {
  blend_index *ix;
  atomic_int refs;
} snapshot;

/* Shared state: the index, configuration, workers, counters. */
typedef struct api_server {
  server_config cfg;
  char key_hash[32];        /* SHA-256 of the API key (compared in constant time) */
  int has_key;
  blend_index *ix;          /* the first snapshot's index (config, fields) */
  snapshot *cur;            /* newest committed generation (under snap_lock) */
  pthread_mutex_t snap_lock;
  /* the one writer (live index), opened on the first write */
  pthread_mutex_t write_lock;
  blend_writer *wr;
  uint64_t pending;         /* writes since the last commit */
  pthread_key_t worker_key; /* this thread's api_worker */
  pthread_mutex_t lock;     /* guards workers */
  api_worker **workers;
  uint32_t nworkers, cap_workers;
  atomic_uint_fast64_t requests, errors;
  atomic_uint inflight;     /* open connections (http.c) */
  atomic_uint active;       /* complete requests being answered (http.c) */
  atomic_uint_fast64_t overloaded; /* 503s for too many connections */
  /* the index's bi-encoder, opened on the first dense query with text */
  pthread_mutex_t model_lock;
  blend_model *qmodel;
  int qmodel_state;         /* 0 not tried, 1 open, -1 failed (qmodel_err) */
  char qmodel_err[BLEND_ERROR_MAX];
  /* the cross-encoder (--rerank-model), opened at start, shared */
  blend_model *rmodel;
  char rmodel_name[256];
  /* the bi-encoder that encodes documents written without a "vector"
     when the index's vectors were made by a model (opened at start,
     checked by SHA-256; given to the writer) */
  blend_model *dmodel;
  char dmodel_err[BLEND_ERROR_MAX]; /* why it could not be opened ("" if no model) */
  blend_vector_config vc;   /* the index's vector field (model dir, fields, prefixes) */
  /* writes (POST /docs, DELETE, POST /commit) run on one thread of their
     own (http.c): a write that waits for the writer lock during a commit
     suspends its connection instead of stalling a search thread */
  pthread_t write_thread;
  int write_thread_on;
  pthread_mutex_t jobs_lock;
  pthread_cond_t jobs_cond;
  void *jobs_head, *jobs_tail; /* struct http_req queue */
  int jobs_stop;
  void *daemon;             /* struct MHD_Daemon * */
  uint16_t bound_port;
} api_server;

/* Open the index and prepare; no socket yet. */
int api_server_init(api_server *s, const server_config *cfg, blend_error *err);
void api_server_free(api_server *s);
/* This thread's worker (created on first use; freed by api_server_free). */
api_worker *api_worker_get(api_server *s);

/* One request as the handler sees it. uri is raw (percent-encoded, with
** its query string); body may hold any bytes. */
typedef struct api_request {
  const char *method;
  const char *uri;
  const char *api_key;      /* X-API-Key, or the token of "Authorization: Bearer" */
  const char *origin;       /* Origin header (CORS) */
  const char *body;
  size_t body_len;
  int body_too_large;       /* http.c stopped reading past max_body */
  uint64_t start_ns;        /* when the request began (time budget) */
} api_request;

typedef struct api_response {
  int status;
  const char *content_type; /* static string */
  bbuf body;                /* owned by the worker; valid until its next request */
  const char *allow;        /* Allow header for 405, or NULL */
  int cors;                 /* 1: add the CORS headers */
  int www_auth;             /* 1: add WWW-Authenticate (401) */
} api_response;

/* The worker's response object (its body buffer is reused). */
api_response *api_worker_response(api_worker *w);

/* Handle one request: fills resp (never fails; errors are JSON answers). */
void api_handle(api_server *s, api_worker *w, const api_request *req, api_response *resp);

uint64_t api_now_ns(void);

/* Commit pending writes and publish the new generation (the commit
** interval and shutdown call it). 0 when nothing was pending or all went
** well; else BLEND_* with err. */
int api_commit(api_server *s, blend_error *err);

/* http.c: start listening (bind/port from the config) / stop (stop
** accepting, let in-flight requests finish up to grace_ms, close). */
int http_start(api_server *s, blend_error *err);
void http_stop(api_server *s, uint32_t grace_ms);

/* The embedded web page (page.c). */
extern const char server_page_html[];
size_t server_page_len(void);

#endif
