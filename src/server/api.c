/*
** api.c — the request handler of `blend serve`, a pure function of the
** request (method, raw URI, API key, Origin, body) and the index: it
** touches no socket, so tests and the fuzzer drive it directly.
**
** Routes:  GET  /                 the web page (page.c)
**          GET  /health           liveness, never needs the key
**          GET  /stats            index statistics
**          GET|POST /search       search (request.c parses both forms)
**          GET  /docs/{id}        a stored document, by the index's id dictionary
**          POST /docs             add / replace documents (the one writer)
**          DELETE /docs/{id}      delete one;  POST /commit  publish pending writes
** Searches run on the worker's snapshot (a committed generation); a commit
** opens the new generation and workers move to it at their next request.
** Order of checks: route (404) → method (405) → key (401) → limits → work.
** Answers follow Elasticsearch's shape: took, hits.total, hits.hits[] with
** _id, _score, _source, highlight, _explanation; errors are
** {"error":{"type","reason"},"status"}.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "index/index.h"
#include "ingest/ingest.h"
#include "rerank/rerank.h"
#include "server/json_w.h"
#include "server/request.h"
#include "server/server.h"
#include "util/json_nul.h"
#include "util/sha256.h"

struct api_worker {
  snapshot *snap;     /* the generation this worker searches (one ref) */
  blend_index *ix;    /* snap->ix */
  blend_searcher *s;
  req_scratch sc;
  char *idbuf;      /* decoded document id */
  size_t idcap;
  api_response resp;  /* reused: its body keeps its capacity */
  bbuf hits;          /* the hits array, built before the header (took) */
  blend_hybrid *h;    /* hybrid state (its own searcher), made on first use */
};

api_response *api_worker_response(api_worker *w) { return &w->resp; }

void server_limits_default(server_limits *l) {
  l->max_body = 1 << 20;
  l->max_query = 4096;
  l->max_k = 1000;
  l->max_offset = 10000;
  l->max_explain_k = 100;
  l->max_highlight = 1000;
  l->max_inflight = 256;
  l->max_connections = 1024;
  l->per_ip = 512;
  l->idle_timeout_s = 10;
  l->body_timeout_ms = 10000;
  l->budget_ms = 2000;
  l->max_rerank_depth = 100;
}

uint64_t api_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static snapshot *snap_new(blend_index *ix) {
  snapshot *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->ix = ix;
  atomic_init(&p->refs, 1);
  return p;
}

static void snap_release(snapshot *p) {
  if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
    blend_index_close(p->ix);
    free(p);
  }
}

static snapshot *snap_acquire(api_server *s) {
  pthread_mutex_lock(&s->snap_lock);
  snapshot *p = s->cur;
  atomic_fetch_add(&p->refs, 1);
  pthread_mutex_unlock(&s->snap_lock);
  return p;
}

static void hash_key(const char *k, uint8_t out[32]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, k, strlen(k));
  sha256_final(&c, out);
}

/* The models, once at start: the cross-encoder (an error stops the start:
** the operator asked for it) and the index's own bi-encoder for documents
** written without a vector (a failure only refuses such documents, with
** the reason: reads and writes with vectors still work). */
static int open_models(api_server *s, const server_config *cfg, blend_error *err) {
  blend_model_options o;
  blend_model_options_default(&o);
  o.threads = cfg->threads > 0 ? cfg->threads : 0;
  if (cfg->rerank_model) {
    blend_error e = {0};
    int rc = blend_model_open(cfg->rerank_model, &o, &s->rmodel, &e);
    if (rc) return blend_seterr(err, rc, "--rerank-model %s: %s", cfg->rerank_model, e.message);
    if (!blend_model_is_cross_encoder(s->rmodel))
      return blend_seterr(err, BLEND_EINVAL, "--rerank-model %s: a bi-encoder, not a cross-encoder",
                          cfg->rerank_model);
    const char *base = strrchr(cfg->rerank_model, '/');
    snprintf(s->rmodel_name, sizeof s->rmodel_name, "%s", base && base[1] ? base + 1 : cfg->rerank_model);
  }
  if (blend_index_vector_config(s->ix, &s->vc, NULL) == BLEND_OK && s->vc.model_sha256[0]) {
    if (cfg->query_int8) o.precision = BLEND_PRECISION_INT8;
    blend_error e = {0};
    if (blend_index_open_query_model(s->ix, NULL, &o, &s->dmodel, &e))
      snprintf(s->dmodel_err, sizeof s->dmodel_err, "the index's vectors were made by %s, which cannot encode new documents: %s",
               s->vc.model_dir, e.message);
  }
  return BLEND_OK;
}

int api_server_init(api_server *s, const server_config *cfg, blend_error *err) {
  memset(s, 0, sizeof *s);
  s->cfg = *cfg;
  /* the writer and every commit reopen the directory: keep our own copy */
  char *dir = strdup(cfg->index_dir ? cfg->index_dir : "");
  if (!dir) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  s->cfg.index_dir = dir;
  if (cfg->api_key) {
    if (!cfg->api_key[0]) return blend_seterr(err, BLEND_EINVAL, "--api-key must not be empty");
    hash_key(cfg->api_key, (uint8_t *)s->key_hash);
    s->has_key = 1;
    s->cfg.api_key = NULL; /* only the hash is kept */
  }
  if (pthread_key_create(&s->worker_key, NULL)) {
    free(dir);
    return blend_seterr(err, BLEND_ENOMEM, "cannot create a thread key");
  }
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->model_lock, NULL);
  pthread_mutex_init(&s->snap_lock, NULL);
  pthread_mutex_init(&s->write_lock, NULL);
  int rc = blend_index_open(dir, &s->ix, err);
  if (!rc && !(s->cur = snap_new(s->ix))) rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
  if (!rc) rc = open_models(s, cfg, err);
  if (rc) {
    blend_model_close(s->rmodel);
    blend_model_close(s->dmodel);
    if (s->cur) snap_release(s->cur);
    else if (s->ix) blend_index_close(s->ix);
    free(dir);
    pthread_key_delete(s->worker_key);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->model_lock);
    pthread_mutex_destroy(&s->snap_lock);
    pthread_mutex_destroy(&s->write_lock);
    return rc;
  }
  return BLEND_OK;
}

static void worker_free(api_worker *w) {
  if (!w) return;
  blend_searcher_free(w->s);
  blend_hybrid_free(w->h);
  snap_release(w->snap);
  req_scratch_free(&w->sc);
  free(w->idbuf);
  bbuf_free(&w->resp.body);
  bbuf_free(&w->hits);
  free(w);
}

void api_server_free(api_server *s) {
  for (uint32_t i = 0; i < s->nworkers; i++) worker_free(s->workers[i]);
  free(s->workers);
  blend_model_close(s->qmodel);
  blend_writer_close(s->wr); /* uncommitted writes are dropped: api_commit first */
  blend_model_close(s->dmodel); /* after the writer, which borrows it */
  blend_model_close(s->rmodel);
  snap_release(s->cur);
  free((char *)s->cfg.index_dir);
  pthread_key_delete(s->worker_key);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->model_lock);
  pthread_mutex_destroy(&s->snap_lock);
  pthread_mutex_destroy(&s->write_lock);
  memset(s, 0, sizeof *s);
}

/* Move w to the newest generation if a commit made one. */
static int worker_sync(api_server *s, api_worker *w, blend_error *e) {
  pthread_mutex_lock(&s->snap_lock);
  snapshot *cur = s->cur;
  if (cur == w->snap) {
    pthread_mutex_unlock(&s->snap_lock);
    return 0;
  }
  atomic_fetch_add(&cur->refs, 1);
  pthread_mutex_unlock(&s->snap_lock);
  blend_searcher *ns;
  if (blend_searcher_new(cur->ix, &ns, e)) {
    snap_release(cur);
    return -1;
  }
  blend_searcher_free(w->s);
  blend_hybrid_free(w->h);
  w->h = NULL;
  snap_release(w->snap);
  w->snap = cur;
  w->ix = cur->ix;
  w->s = ns;
  return 0;
}

api_worker *api_worker_get(api_server *s) {
  api_worker *w = pthread_getspecific(s->worker_key);
  if (w) return w;
  w = calloc(1, sizeof *w);
  if (!w) return NULL;
  blend_error err;
  w->snap = snap_acquire(s);
  w->ix = w->snap->ix;
  if (blend_searcher_new(w->ix, &w->s, &err)) {
    snap_release(w->snap);
    free(w);
    return NULL;
  }
  pthread_mutex_lock(&s->lock);
  if (s->nworkers == s->cap_workers) {
    uint32_t cap = s->cap_workers ? s->cap_workers * 2 : 16;
    api_worker **p = realloc(s->workers, cap * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&s->lock);
      worker_free(w);
      return NULL;
    }
    s->workers = p;
    s->cap_workers = cap;
  }
  s->workers[s->nworkers++] = w;
  pthread_mutex_unlock(&s->lock);
  pthread_setspecific(s->worker_key, w);
  return w;
}

/* ---- answers */

static const char *JSON = "application/json; charset=utf-8";

static const char *error_type(int status) {
  switch (status) {
  case 400: return "bad_request";
  case 401: return "unauthorized";
  case 404: return "not_found";
  case 405: return "method_not_allowed";
  case 413: return "payload_too_large";
  case 501: return "not_implemented";
  case 503: return "unavailable";
  default: return "internal_error";
  }
}

static void fail(api_response *r, int status, const char *reason) {
  r->status = status;
  r->content_type = JSON;
  r->body.len = 0;
  jw_raw(&r->body, "{\"error\":{\"type\":");
  jw_cstr(&r->body, error_type(status));
  jw_raw(&r->body, ",\"reason\":");
  jw_cstr(&r->body, reason);
  bbuf_printf(&r->body, "},\"status\":%d}", status);
}

static void fail_err(api_response *r, const blend_error *e) {
  int st = e->code == BLEND_EINVAL || e->code == BLEND_EUNSUPPORTED ? 400
         : e->code == BLEND_ENOTFOUND ? 404
         : 500;
  fail(r, st, e->message);
}

/* Constant-time key check: both sides hashed, then every byte compared. */
static int key_ok(const api_server *s, const char *key) {
  uint8_t h[32];
  const char *k = key ? key : "";
  hash_key(k, h);
  volatile uint8_t diff = key ? 0 : 1; /* volatile: no early exit */
  for (int i = 0; i < 32; i++) diff |= (uint8_t)(h[i] ^ (uint8_t)s->key_hash[i]);
  return diff == 0;
}

static int over_budget(const api_server *s, const api_request *q) {
  return s->cfg.limits.budget_ms && api_now_ns() - q->start_ns > (uint64_t)s->cfg.limits.budget_ms * 1000000ull;
}

/* ---- documents */

static void put_source(api_server *s, api_worker *w, uint32_t doc, bbuf *b) {
  jw_raw(b, "{");
  int first = 1;
  for (uint32_t f = 1; f < w->ix->nfields; f++) {
    const char *text;
    size_t n;
    blend_error e;
    if (blend_searcher_doc_field(w->s, doc, w->ix->field_names[f], &text, &n, &e)) continue;
    jw_key(b, &first, w->ix->field_names[f]);
    jw_str(b, text, n);
  }
  jw_raw(b, "}");
}

static void get_doc(api_server *s, api_worker *w, const char *raw_id, size_t raw_len, api_response *r) {
  if (raw_len == 0) return fail(r, 404, "no document id in the path (GET /docs/{id})");
  if (raw_len > 3 * 1024) return fail(r, 400, "document id longer than 1024 bytes");
  if (raw_len + 1 > w->idcap) {
    char *p = realloc(w->idbuf, raw_len + 1);
    if (!p) return fail(r, 500, "out of memory");
    w->idbuf = p;
    w->idcap = raw_len + 1;
  }
  long n = url_decode(raw_id, raw_len, w->idbuf, 0);
  if (n < 0) return fail(r, 400, "document id: bad %-escape");
  if (memchr(w->idbuf, 0, (size_t)n)) return fail(r, 400, "document id contains U+0000");
  uint32_t doc;
  blend_error e;
  if (blend_searcher_find(w->s, w->idbuf, (size_t)n, &doc, &e)) {
    if (e.code == BLEND_ENOTFOUND) {
      r->status = 404;
      r->content_type = JSON;
      jw_raw(&r->body, "{\"_id\":");
      jw_str(&r->body, w->idbuf, (size_t)n);
      jw_raw(&r->body, ",\"found\":false,\"error\":{\"type\":\"not_found\",\"reason\":\"no document with this id\"},\"status\":404}");
      return;
    }
    return fail_err(r, &e);
  }
  r->status = 200;
  r->content_type = JSON;
  jw_raw(&r->body, "{\"_id\":");
  jw_str(&r->body, w->idbuf, (size_t)n);
  jw_raw(&r->body, ",\"found\":true,\"_source\":");
  put_source(s, w, doc, &r->body);
  jw_raw(&r->body, "}");
}

/* ---- stats */

static void stats(api_server *s, api_worker *w, api_response *r) {
  blend_index *ix = w->ix;
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  bbuf *b = &r->body;
  r->status = 200;
  r->content_type = JSON;
  bbuf_printf(b,
              "{\"documents\":%llu,\"deleted\":%llu,\"segments\":%u,\"generation\":%llu,\"terms\":%llu,"
              "\"postings\":%llu,\"bytes_on_disk\":%llu,\"fields\":[",
              (unsigned long long)st.docs, (unsigned long long)st.deleted, st.segments,
              (unsigned long long)st.generation, (unsigned long long)st.terms,
              (unsigned long long)st.postings, (unsigned long long)st.bytes_on_disk);
  for (uint32_t f = 1; f < ix->nfields; f++) {
    if (f > 1) bbuf_putc(b, ',');
    jw_cstr(b, ix->field_names[f]);
  }
  jw_raw(b, "],\"meta_fields\":[");
  for (uint32_t i = 0; i < blend_index_meta_fields(ix); i++) {
    if (i) bbuf_putc(b, ',');
    jw_cstr(b, blend_index_meta_field(ix, i));
  }
  jw_raw(b, "],\"vector\":");
  const blend_vector_config *v = &ix->vector;
  if (!v->dim) jw_raw(b, "null");
  else {
    static const char *metric[] = {"cosine", "dot", "l2"};
    bbuf_printf(b, "{\"dim\":%u,\"metric\":\"%s\",\"dtype\":\"%s\",\"hnsw\":%s,\"model\":", v->dim,
                v->metric >= 0 && v->metric <= 2 ? metric[v->metric] : "?",
                v->dtype == BLEND_VECTOR_INT8 ? "int8" : "f32", v->hnsw ? "true" : "false");
    if (v->model_name[0]) jw_cstr(b, v->model_name);
    else jw_raw(b, "null");
    jw_raw(b, "}");
  }
  pthread_mutex_lock(&s->write_lock);
  unsigned long long pending = s->pending;
  pthread_mutex_unlock(&s->write_lock);
  bbuf_printf(b, ",\"pending_writes\":%llu,\"server\":{", pending);
  jw_raw(b, "\"rerank_model\":");
  if (s->rmodel) jw_cstr(b, s->rmodel_name);
  else jw_raw(b, "null");
  jw_raw(b, ",\"encodes_documents\":");
  jw_raw(b, s->dmodel ? "true" : "false");
  bbuf_printf(b, ",\"threads\":%d,\"requests\":%llu,\"errors\":%llu}}",
              s->cfg.threads, (unsigned long long)atomic_load(&s->requests),
              (unsigned long long)atomic_load(&s->errors));
}

/* ---- search */

static int query_model(api_server *s, const blend_index *ix, blend_model **m, blend_error *err) {
  pthread_mutex_lock(&s->model_lock);
  if (s->qmodel_state == 0) {
    blend_model_options o;
    blend_model_options_default(&o);
    o.threads = 1; /* each HTTP worker encodes on its own thread */
    if (s->cfg.query_int8) o.precision = BLEND_PRECISION_INT8;
    blend_error e = {0};
    if (blend_index_open_query_model(ix, NULL, &o, &s->qmodel, &e) == 0) s->qmodel_state = 1;
    else {
      s->qmodel_state = -1;
      snprintf(s->qmodel_err, sizeof s->qmodel_err, "%s", e.message);
    }
  }
  int ok = s->qmodel_state == 1;
  *m = s->qmodel;
  pthread_mutex_unlock(&s->model_lock);
  if (!ok) return blend_seterr(err, BLEND_EINVAL, "dense query text: %s", s->qmodel_err);
  return BLEND_OK;
}

static const char *rerank_field(const search_req *q) { return q->rerank_field[0] ? q->rerank_field : "text"; }

/* "rerank":{...} of a reranked hit's _explanation: the cross-encoder's
** logit and where the first stage had put the hit. */
static void put_rerank(api_server *s, const search_req *q, double logit, double first, uint32_t first_rank,
                       bbuf *b) {
  jw_raw(b, "\"rerank\":{\"model\":");
  jw_cstr(b, s->rmodel_name);
  jw_raw(b, ",\"field\":");
  jw_cstr(b, rerank_field(q));
  jw_raw(b, ",\"value\":");
  jw_num(b, logit);
  jw_raw(b, ",\"first_stage_score\":");
  jw_num(b, first);
  bbuf_printf(b, ",\"first_stage_rank\":%u}", first_rank);
}

/* One lexical or dense hit; rr: its rerank logit (the hit's _score), or
** NULL when it was not reranked. rank: its first-stage rank. */
static void put_hit(api_server *s, api_worker *w, const search_req *q, const blend_hit *h, uint32_t rank,
                    const char *leg, const float *rr, bbuf *b) {
  const char *id;
  size_t idn;
  blend_error e;
  double score = rr ? (double)*rr : h->score;
  jw_raw(b, "{\"_id\":");
  if (blend_searcher_doc_id(w->s, h->doc, &id, &idn, &e) == 0) jw_str(b, id, idn);
  else jw_raw(b, "null");
  jw_raw(b, ",\"_score\":");
  jw_num(b, score);
  if (q->source) {
    jw_raw(b, ",\"_source\":");
    put_source(s, w, h->doc, b);
  }
  if (q->highlight && q->q) {
    const char *snip;
    if (blend_searcher_snippet(w->s, h->doc, q->hl_field, q->q, q->hl_size, "<em>", "</em>", &snip, &e) == 0) {
      jw_raw(b, ",\"highlight\":{");
      jw_cstr(b, q->hl_field);
      jw_raw(b, ":[");
      jw_cstr(b, snip);
      jw_raw(b, "]}");
    }
  }
  if (!q->explain && rr) {
    jw_raw(b, ",\"_explanation\":{\"value\":");
    jw_num(b, score);
    jw_raw(b, ",\"description\":\"cross-encoder rerank\",");
    put_rerank(s, q, *rr, h->score, rank, b);
    jw_raw(b, "}");
  } else if (q->explain) {
    /* one leg (lexical or dense): raw = normalised = contribution */
    jw_raw(b, ",\"_explanation\":{\"value\":");
    jw_num(b, score);
    jw_raw(b, ",\"description\":");
    if (rr) {
      bbuf_printf(b, "\"cross-encoder rerank of %s\",", leg);
      put_rerank(s, q, *rr, h->score, rank, b);
    } else jw_cstr(b, leg);
    jw_raw(b, ",\"legs\":[{\"leg\":");
    jw_cstr(b, leg);
    bbuf_printf(b, ",\"rank\":%u,\"raw\":", rank);
    jw_num(b, h->score);
    jw_raw(b, ",\"norm\":");
    jw_num(b, h->score);
    jw_raw(b, ",\"weight\":1,\"contribution\":");
    jw_num(b, h->score);
    jw_raw(b, "}],\"details\":[");
    for (uint32_t t = 0; t < h->nterms; t++) {
      const blend_term_score *ts = &h->terms[t];
      if (t) bbuf_putc(b, ',');
      jw_raw(b, "{\"field\":");
      jw_cstr(b, ts->field);
      jw_raw(b, ",\"term\":");
      jw_cstr(b, ts->term);
      jw_raw(b, ",\"score\":");
      jw_num(b, ts->score);
      bbuf_printf(b, ",\"tf\":%u,\"df\":%u}", ts->tf, ts->df);
    }
    jw_raw(b, "]}");
  }
  jw_raw(b, "}");
}

/* _source and highlight of a hit, from searcher sr */
static void put_doc_parts(api_server *s, api_worker *w, blend_searcher *sr, const search_req *q, uint32_t doc,
                          bbuf *b) {
  blend_error e;
  if (q->source) {
    jw_raw(b, ",\"_source\":");
    blend_searcher *keep = w->s;
    w->s = sr;
    put_source(s, w, doc, b);
    w->s = keep;
  }
  const char *snip;
  if (q->highlight && q->q &&
      blend_searcher_snippet(sr, doc, q->hl_field, q->q, q->hl_size, "<em>", "</em>", &snip, &e) == 0) {
    jw_raw(b, ",\"highlight\":{");
    jw_cstr(b, q->hl_field);
    jw_raw(b, ":[");
    jw_cstr(b, snip);
    jw_raw(b, "]}");
  }
}

/* mode hybrid: the library's hybrid query (legs from the index's stored
** setting, else BM25 + dense, or BM25 flat + multifield without vectors),
** with the request's fusion knobs on top. */
static void hybrid(api_server *s, api_worker *w, const api_request *rq, const search_req *q,
                   const blend_filter *filter, api_response *r) {
  blend_error e = {0};
  if (!w->h && blend_hybrid_new(w->ix, &w->h, &e)) return fail_err(r, &e);
  blend_hybrid_query hq;
  blend_hybrid_query_default(&hq);
  hq.text = q->q;
  if (blend_hybrid_query_defaults(w->ix, &hq, NULL, &e)) return fail_err(r, &e);
  hq.k = q->k;
  hq.offset = q->offset;
  hq.filter = filter;
  if (q->has_norm) hq.fusion.norm = q->norm;
  if (q->has_fusion) hq.fusion.fusion = q->fusion;
  if (q->alpha >= 0) hq.fusion.alpha = q->alpha;
  if (q->rrf_k > 0) hq.fusion.rrf_k = q->rrf_k;
  for (uint32_t i = 0; i < hq.nlegs; i++) {
    blend_leg *l = &hq.legs[i];
    if (q->depth) l->depth = q->depth;
    if (l->kind == BLEND_LEG_BM25 || l->kind == BLEND_LEG_BM25_MULTI) {
      l->bm25.k1 = q->opts.k1;
      l->bm25.b = q->opts.b;
      if (q->opts.nfield_weights) {
        memcpy(l->bm25.field_weights, q->opts.field_weights, sizeof l->bm25.field_weights);
        l->bm25.nfield_weights = q->opts.nfield_weights;
      }
    }
    if (l->kind == BLEND_LEG_DENSE) {
      l->ef = q->ef;
      l->exact = q->exact;
      if (q->vector) {
        l->vector = q->vector;
        l->dim = q->dim;
      } else if (!hq.query_model && query_model(s, w->ix, &hq.query_model, &e)) return fail_err(r, &e);
    }
  }
  if (q->rerank) {
    hq.rerank_model = s->rmodel;
    hq.rerank_depth = q->rerank_depth ? q->rerank_depth : 20;
    hq.rerank_field = rerank_field(q);
  }
  if (blend_fusion_options_check(&hq.fusion, hq.nlegs, &e)) return fail(r, 400, e.message);
  blend_hybrid_results res;
  if (blend_hybrid_search(w->h, &hq, &res, &e)) return fail_err(r, &e);
  if (over_budget(s, rq)) return fail(r, 503, "time budget exceeded (search)");
  blend_searcher *sr = blend_hybrid_searcher(w->h);
  bbuf *hb = &w->hits;
  hb->len = 0;
  for (uint32_t i = 0; i < res.count; i++) {
    const blend_hybrid_hit *h = &res.hits[i];
    if (i) bbuf_putc(hb, ',');
    jw_raw(hb, "{\"_id\":");
    jw_cstr(hb, h->id ? h->id : "");
    jw_raw(hb, ",\"_score\":");
    jw_num(hb, h->score);
    if (h->doc != UINT32_MAX) put_doc_parts(s, w, sr, q, h->doc, hb);
    int reranked = q->rerank && !isnan(h->rerank);
    if (!q->explain && reranked) {
      jw_raw(hb, ",\"_explanation\":{\"value\":");
      jw_num(hb, h->score);
      jw_raw(hb, ",\"description\":\"cross-encoder rerank\",");
      put_rerank(s, q, h->rerank, h->fused, h->fused_rank, hb);
      jw_raw(hb, "}");
    } else if (q->explain) {
      jw_raw(hb, ",\"_explanation\":{\"value\":");
      jw_num(hb, h->score);
      bbuf_printf(hb, ",\"description\":\"%s%s + %s\",", reranked ? "cross-encoder rerank of " : "",
                  blend_norm_name(hq.fusion.norm), blend_fusion_name(hq.fusion.fusion));
      if (reranked) {
        put_rerank(s, q, h->rerank, h->fused, h->fused_rank, hb);
        bbuf_putc(hb, ',');
      }
      jw_raw(hb, "\"fused\":");
      jw_num(hb, h->fused);
      bbuf_printf(hb, ",\"fused_rank\":%u,\"legs\":[", h->fused_rank);
      for (uint32_t l = 0; l < res.nlegs; l++) {
        const blend_leg_score *ls = &h->legs[l];
        if (l) bbuf_putc(hb, ',');
        jw_raw(hb, "{\"leg\":");
        jw_cstr(hb, blend_leg_name(hq.legs[l].kind));
        bbuf_printf(hb, ",\"rank\":%u,\"retrieved\":%s,\"raw\":", ls->rank, ls->retrieved ? "true" : "false");
        jw_num(hb, ls->raw);
        jw_raw(hb, ",\"norm\":");
        jw_num(hb, ls->norm);
        jw_raw(hb, ",\"weight\":");
        jw_num(hb, ls->weight);
        jw_raw(hb, ",\"contribution\":");
        jw_num(hb, ls->contribution);
        jw_raw(hb, "}");
      }
      jw_raw(hb, "],\"details\":[]}");
    }
    jw_raw(hb, "}");
    if ((i & 7) == 7 && over_budget(s, rq)) return fail(r, 503, "time budget exceeded (building hits)");
  }
  bbuf *b = &r->body;
  r->status = 200;
  r->content_type = JSON;
  bbuf_printf(b, "{\"took\":%llu,\"timed_out\":false,\"mode\":\"hybrid\",\"legs\":[",
              (unsigned long long)((api_now_ns() - rq->start_ns) / 1000000));
  for (uint32_t l = 0; l < res.nlegs; l++) {
    if (l) bbuf_putc(b, ',');
    jw_cstr(b, blend_leg_name(hq.legs[l].kind));
  }
  bbuf_printf(b, "],\"hits\":{\"total\":{\"value\":%u,\"relation\":\"eq\"},\"max_score\":", res.total);
  if (res.count) jw_num(b, res.hits[0].score);
  else jw_raw(b, "null");
  jw_raw(b, ",\"hits\":[");
  bbuf_append(b, hb->data ? (const char *)hb->data : "", hb->len);
  jw_raw(b, "]}}");
}

static void search(api_server *s, api_worker *w, const api_request *rq, const search_req *q, api_response *r) {
  blend_error e = {0};
  blend_filter *filter = NULL;
  if (q->nfilters) {
    if (blend_filter_new(&filter, &e)) return fail_err(r, &e);
    for (uint32_t i = 0; i < q->nfilters; i++)
      if (blend_filter_add(filter, q->filters[i], &e)) {
        blend_filter_free(filter);
        return fail(r, 400, e.message);
      }
  }
  if (q->rerank) {
    if (!s->rmodel) {
      blend_filter_free(filter);
      return fail(r, 400, "\"rerank\": this server has no cross-encoder (start it with --rerank-model DIR)");
    }
    uint32_t f = 1;
    while (f < w->ix->nfields && strcmp(w->ix->field_names[f], rerank_field(q))) f++;
    if (f == w->ix->nfields) {
      blend_filter_free(filter);
      char why[128];
      snprintf(why, sizeof why, "field \"rerank_field\": the index has no stored field \"%s\"", rerank_field(q));
      return fail(r, 400, why);
    }
  }
  uint32_t want = q->k + q->offset;
  /* rerank: the first stage retrieves at least rerank_depth hits */
  uint32_t depth = q->rerank ? (q->rerank_depth ? q->rerank_depth : 20) : 0;
  uint32_t fetch = want > depth ? want : depth;
  blend_results res;
  int rc;
  const char *leg;
  if (q->mode == MODE_HYBRID) {
    hybrid(s, w, rq, q, filter, r);
    blend_filter_free(filter);
    return;
  } else if (q->mode == MODE_DENSE) {
    leg = "dense";
    blend_dense_options o;
    blend_dense_options_default(&o);
    o.k = fetch;
    o.ef = q->ef;
    o.exact = q->exact;
    o.filter = filter;
    const float *vec = q->vector;
    uint32_t dim = q->dim;
    float *enc = NULL;
    if (!vec) {
      blend_model *m;
      if ((rc = query_model(s, w->ix, &m, &e)) == 0) {
        dim = blend_model_dim(m);
        enc = malloc(dim * sizeof *enc);
        if (!enc) rc = blend_seterr(&e, BLEND_ENOMEM, "out of memory");
        else rc = blend_index_embed_query(w->ix, m, q->q, q->qlen, enc, &e);
        vec = enc;
      }
    } else rc = 0;
    if (rc == 0) rc = blend_search_vector(w->s, vec, dim, &o, &res, &e);
    free(enc);
  } else {
    leg = "bm25";
    blend_search_options o = q->opts;
    o.k = fetch;
    o.explain = q->explain;
    o.filter = filter;
    rc = blend_search(w->s, q->q, &o, &res, &e);
  }
  blend_filter_free(filter);
  if (rc) return fail_err(r, &e);
  if (over_budget(s, rq)) return fail(r, 503, "time budget exceeded (search)");
  /* rerank: the top `depth` hits, reordered by the cross-encoder's logit
     (ties keep the first-stage order); the rest follow in their order */
  uint32_t nr = q->rerank ? (depth < res.count ? depth : res.count) : 0;
  uint32_t *order = NULL;
  float *logit = NULL;
  if (nr) {
    order = malloc(nr * sizeof *order);
    logit = malloc(nr * sizeof *logit);
    uint32_t *docs = malloc(nr * sizeof *docs);
    rc = order && logit && docs ? 0 : blend_seterr(&e, BLEND_ENOMEM, "out of memory");
    for (uint32_t i = 0; !rc && i < nr; i++) docs[i] = res.hits[i].doc, order[i] = i;
    if (!rc) rc = rerank_docs(s->rmodel, w->s, q->q, rerank_field(q), docs, nr, logit, &e);
    free(docs);
    for (uint32_t i = 1; !rc && i < nr; i++) { /* stable insertion sort: nr <= max_rerank_depth */
      uint32_t x = order[i], j = i;
      while (j > 0 && logit[order[j - 1]] < logit[x]) order[j] = order[j - 1], j--;
      order[j] = x;
    }
    if (rc) {
      free(order);
      free(logit);
      return fail_err(r, &e);
    }
    if (over_budget(s, rq)) {
      free(order);
      free(logit);
      return fail(r, 503, "time budget exceeded (rerank)");
    }
  }
  uint32_t end = res.count < want ? res.count : want;
  double max_score = 0;
  for (uint32_t p = 0; p < res.count; p++) {
    double v = p < nr ? logit[p] : res.hits[p].score;
    if (p == 0 || v > max_score) max_score = v;
  }
  /* hits first, so took covers building them */
  bbuf *hb = &w->hits;
  hb->len = 0;
  for (uint32_t i = q->offset; i < end; i++) {
    uint32_t at = i < nr ? order[i] : i;
    if (i > q->offset) bbuf_putc(hb, ',');
    put_hit(s, w, q, &res.hits[at], at + 1, leg, i < nr ? &logit[at] : NULL, hb);
    if ((i & 7) == 7 && over_budget(s, rq)) {
      free(order);
      free(logit);
      return fail(r, 503, "time budget exceeded (building hits)");
    }
  }
  free(order);
  free(logit);
  bbuf *b = &r->body;
  r->status = 200;
  r->content_type = JSON;
  bbuf_printf(b, "{\"took\":%llu,\"timed_out\":false,\"mode\":",
              (unsigned long long)((api_now_ns() - rq->start_ns) / 1000000));
  jw_cstr(b, q->mode == MODE_DENSE ? "dense" : "lexical");
  int exact_total = q->mode == MODE_LEXICAL && (q->opts.algorithm == BLEND_TOPK_EXHAUSTIVE || res.count < fetch);
  bbuf_printf(b, ",\"hits\":{\"total\":{\"value\":%llu,\"relation\":\"%s\"},\"max_score\":",
              (unsigned long long)(q->mode == MODE_LEXICAL ? res.matched : res.count),
              exact_total ? "eq" : "gte");
  if (res.count) jw_num(b, max_score);
  else jw_raw(b, "null");
  jw_raw(b, ",\"hits\":[");
  bbuf_append(b, hb->data ? (const char *)hb->data : "", hb->len);
  jw_raw(b, "]}}");
}

/* ---- writes: one writer (APPEND mode) under write_lock */

static int writer_ready(api_server *s, blend_error *e) {
  if (s->wr) return 0;
  blend_index_config cfg;
  blend_index_config_default(&cfg); /* append mode keeps the index's own config */
  int rc = blend_writer_open_mode(s->cfg.index_dir, &cfg, BLEND_WRITE_APPEND, &s->wr, e);
  /* documents without a vector are encoded by the index's model, as
     `blend index --append` does */
  if (!rc && s->dmodel &&
      (rc = blend_writer_set_model(s->wr, s->dmodel, s->vc.model_dir, s->vc.text_fields, s->vc.doc_prefix,
                                   s->vc.query_prefix, e))) {
    blend_writer_close(s->wr);
    s->wr = NULL;
  }
  return rc;
}

/* under write_lock */
static int commit_locked(api_server *s, blend_error *e) {
  if (!s->wr || !s->pending) return 0;
  int rc = blend_writer_commit(s->wr, e);
  if (rc) return rc;
  s->pending = 0;
  /* the new generation shares the current one's unchanged segments: only
     the new segment is mapped and checksummed (the current snapshot is
     only read here; its refs keep it open) */
  blend_index *nix;
  pthread_mutex_lock(&s->snap_lock);
  snapshot *base = s->cur;
  atomic_fetch_add(&base->refs, 1);
  pthread_mutex_unlock(&s->snap_lock);
  rc = index_open_newer(s->cfg.index_dir, base->ix, &nix, e);
  snap_release(base);
  if (rc) return rc;
  if (!nix) return 0; /* nothing new on disk */
  snapshot *p = snap_new(nix);
  if (!p) {
    blend_index_close(nix);
    return blend_seterr(e, BLEND_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&s->snap_lock);
  snapshot *old = s->cur;
  s->cur = p;
  pthread_mutex_unlock(&s->snap_lock);
  snap_release(old);
  return 0;
}

int api_commit(api_server *s, blend_error *err) {
  pthread_mutex_lock(&s->write_lock);
  int rc = commit_locked(s, err);
  pthread_mutex_unlock(&s->write_lock);
  return rc;
}

/* A document's "vector" member, if any, into out (dim floats). */
static int doc_vector(const ingest_doc *d, float *out, uint32_t cap, uint32_t *dim, blend_error *e) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)d->json, "vector");
  *dim = 0;
  if (!v) return 0;
  if (!cJSON_IsArray(v)) return blend_seterr(e, BLEND_EINVAL, "\"vector\" is not an array of numbers");
  uint32_t n = 0;
  for (const cJSON *c = v->child; c; c = c->next) {
    if (n == cap) return blend_seterr(e, BLEND_EINVAL, "\"vector\" has more than %u values", cap);
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || fabs(c->valuedouble) > 3.4e38)
      return blend_seterr(e, BLEND_EINVAL, "\"vector\" value %u is not a finite float", n);
    out[n++] = (float)c->valuedouble;
  }
  *dim = n;
  return 0;
}

/* POST /docs: a JSON array of documents, or JSONL. Every document is
** checked before any is added (a request is all or nothing); ?commit=true
** commits (and publishes) before answering, else the commit interval does. */
static void docs_add(api_server *s, api_worker *w, const api_request *q, const char *qs, api_response *r) {
  const char *b = q->body ? q->body : "";
  size_t n = q->body_len, i = 0;
  while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) i++;
  if (i == n) return fail(r, 400, "body: no documents (a JSON array or JSON lines)");
  const char *fields[MAX_FIELDS];
  size_t nf = 0;
  for (uint32_t f = 1; f < w->ix->nfields && nf < MAX_FIELDS; f++) fields[nf++] = w->ix->field_names[f];
  /* split into one JSON text per document */
  bbuf texts = {0}, offs = {0}; /* texts: NUL-separated; offs: u32 start, u32 len */
  char why[BLEND_ERROR_MAX];
  why[0] = 0;
  if (b[i] == '[') {
    size_t bad;
    if (!utf8_valid(b, n, &bad)) return fail(r, 400, "body: invalid UTF-8");
    /* \u0000 escapes are marked before cJSON parses (util/json_nul.h) and
       written back as \u0000 in each document's text, which the line
       parser then handles like any JSONL line (ids refused, text kept) */
    json_nul nul = {0};
    char *copy = NULL;
    if (json_nul_suspect(b, n)) {
      if (!(copy = malloc(n))) return fail(r, 500, "out of memory");
      memcpy(copy, b, n);
      if (json_nul_protect(copy, n, &nul, &bad)) {
        free(copy);
        return fail(r, 400, "body: raw NUL byte or unrepresentable U+0000");
      }
    }
    cJSON *a = cJSON_ParseWithLength(copy ? copy : b, n);
    free(copy);
    if (!a || !cJSON_IsArray(a)) {
      cJSON_Delete(a);
      return fail(r, 400, "body: malformed JSON array of documents");
    }
    for (const cJSON *c = a->child; c; c = c->next) {
      char *t = cJSON_PrintUnformatted(c);
      if (!t) break;
      size_t start = texts.len;
      for (const char *p = t; *p;) {
        if (nul.active && p[0] == nul.mark[0] && p[1] == nul.mark[1] && p[2] == nul.mark[2]) {
          bbuf_append(&texts, "\\u0000", 6);
          p += 3;
        } else bbuf_putc(&texts, (uint8_t)*p++);
      }
      bbuf_put_u32(&offs, (uint32_t)start);
      bbuf_put_u32(&offs, (uint32_t)(texts.len - start));
      bbuf_putc(&texts, 0);
      free(t);
    }
    cJSON_Delete(a);
  } else {
    for (size_t at = i; at < n;) {
      const char *nl = memchr(b + at, '\n', n - at);
      size_t len = nl ? (size_t)(nl - (b + at)) : n - at;
      bbuf_put_u32(&offs, (uint32_t)texts.len);
      bbuf_put_u32(&offs, (uint32_t)len);
      bbuf_append(&texts, b + at, len);
      bbuf_putc(&texts, 0);
      at += len + 1;
    }
  }
  size_t ndocs = offs.len / 8, nvalid = 0;
  ingest_doc *docs = calloc(ndocs ? ndocs : 1, sizeof *docs);
  float *vecs = NULL;
  uint32_t *dims = calloc(ndocs ? ndocs : 1, sizeof *dims);
  uint32_t vdim = w->ix->vector.dim;
  if (vdim) vecs = malloc((ndocs ? ndocs : 1) * vdim * sizeof *vecs);
  int status = 0;
  if (!docs || !dims || (vdim && !vecs)) status = 500, snprintf(why, sizeof why, "out of memory");
  for (size_t d = 0; d < ndocs && !status; d++) {
    const char *t = (const char *)texts.data + rd_u32(offs.data + 8 * d);
    size_t len = rd_u32(offs.data + 8 * d + 4);
    blend_error e = {0};
    int rc = ingest_parse_line(t, len, "_id", fields, nf, &docs[d], &e);
    if (!rc && !docs[d].doc.id) continue; /* a blank line */
    nvalid = d + 1;
    if (!rc) rc = ingest_parse_meta(&docs[d], NULL, 0, &e);
    if (!rc && vdim) rc = doc_vector(&docs[d], vecs + d * vdim, vdim, &dims[d], &e);
    else if (!rc && cJSON_GetObjectItemCaseSensitive((const cJSON *)docs[d].json, "vector"))
      rc = blend_seterr(&e, BLEND_EINVAL, "\"vector\" given, but the index has no vector field");
    if (!rc && vdim && dims[d] && dims[d] != vdim)
      rc = blend_seterr(&e, BLEND_EINVAL, "\"vector\" has %u values, the index's vectors have %u", dims[d], vdim);
    if (!rc && vdim && !dims[d] && !s->dmodel)
      rc = s->dmodel_err[0] ? blend_seterr(&e, BLEND_EINVAL, "no \"vector\", and %s", s->dmodel_err)
                            : blend_seterr(&e, BLEND_EINVAL,
                                           "no \"vector\" (the index's %u-d vectors were given, not made by a model: send them)",
                                           vdim);
    if (rc) {
      status = 400;
      snprintf(why, sizeof why, "document %zu: %s", d + 1, e.message);
    }
  }
  uint64_t added = 0;
  int commit = strstr(qs, "commit=true") != NULL;
  if (!status) {
    pthread_mutex_lock(&s->write_lock);
    blend_error e = {0};
    int rc = writer_ready(s, &e);
    for (size_t d = 0; d < nvalid && !rc; d++) {
      if (!docs[d].doc.id) continue;
      if (dims[d]) {
        docs[d].doc.vector = vecs + d * vdim;
        docs[d].doc.vector_dim = dims[d];
      }
      rc = blend_writer_add(s->wr, &docs[d].doc, &e);
      if (!rc) added++, s->pending++;
      else snprintf(why, sizeof why, "document %zu: %s", d + 1, e.message);
    }
    if (!rc && commit) rc = commit_locked(s, &e);
    if (rc && !why[0]) snprintf(why, sizeof why, "%s", e.message);
    pthread_mutex_unlock(&s->write_lock);
    if (rc) status = e.code == BLEND_EINVAL ? 400 : e.code == BLEND_ELOCKED ? 503 : 500;
  }
  for (size_t d = 0; d < ndocs; d++) ingest_doc_free(&docs[d]);
  free(docs);
  free(dims);
  free(vecs);
  bbuf_free(&texts);
  bbuf_free(&offs);
  if (status) return fail(r, status, why);
  r->status = 200;
  bbuf_printf(&r->body, "{\"result\":\"added\",\"added\":%llu,\"committed\":%s}", (unsigned long long)added,
              commit ? "true" : "false");
}

static void doc_delete(api_server *s, api_worker *w, const char *raw_id, size_t raw_len, const char *qs,
                       api_response *r) {
  if (raw_len > 3 * 1024) return fail(r, 400, "document id longer than 1024 bytes");
  if (raw_len + 1 > w->idcap) {
    char *p = realloc(w->idbuf, raw_len + 1);
    if (!p) return fail(r, 500, "out of memory");
    w->idbuf = p;
    w->idcap = raw_len + 1;
  }
  long n = url_decode(raw_id, raw_len, w->idbuf, 0);
  if (n <= 0) return fail(r, 400, "document id: empty or a bad %-escape");
  if (memchr(w->idbuf, 0, (size_t)n)) return fail(r, 400, "document id contains U+0000");
  int commit = strstr(qs, "commit=true") != NULL, found = 0;
  blend_error e = {0};
  pthread_mutex_lock(&s->write_lock);
  int rc = writer_ready(s, &e);
  if (!rc) rc = blend_writer_delete(s->wr, w->idbuf, (size_t)n, &found, &e);
  if (!rc && found) s->pending++;
  if (!rc && commit) rc = commit_locked(s, &e);
  pthread_mutex_unlock(&s->write_lock);
  if (rc) return fail_err(r, &e);
  r->status = found ? 200 : 404;
  jw_raw(&r->body, "{\"_id\":");
  jw_str(&r->body, w->idbuf, (size_t)n);
  bbuf_printf(&r->body, ",\"result\":\"%s\",\"committed\":%s}", found ? "deleted" : "not_found",
              commit ? "true" : "false");
}

/* ---- routing */

static int path_is(const char *path, size_t n, const char *want) {
  return strlen(want) == n && !memcmp(path, want, n);
}

void api_handle(api_server *s, api_worker *w, const api_request *q, api_response *r) {
  r->status = 500;
  r->content_type = JSON;
  r->body.len = 0;
  r->allow = NULL;
  r->cors = s->cfg.cors != NULL;
  r->www_auth = 0;
  atomic_fetch_add(&s->requests, 1);
  const char *m = q->method ? q->method : "";
  const char *uri = q->uri ? q->uri : "";
  const char *qm = strchr(uri, '?');
  size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
  const char *qs = qm ? qm + 1 : "";
  int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
  enum { R_NONE, R_PAGE, R_HEALTH, R_STATS, R_SEARCH, R_DOC, R_DOCS, R_COMMIT } route = R_NONE;
  const char *allow = NULL;
  int write = 0;
  if (path_is(uri, plen, "/") || path_is(uri, plen, "/index.html")) route = R_PAGE, allow = "GET, HEAD";
  else if (path_is(uri, plen, "/health")) route = R_HEALTH, allow = "GET, HEAD";
  else if (path_is(uri, plen, "/stats")) route = R_STATS, allow = "GET, HEAD";
  else if (path_is(uri, plen, "/search")) route = R_SEARCH, allow = "GET, HEAD, POST";
  else if (path_is(uri, plen, "/docs")) route = R_DOCS, allow = "POST", write = 1;
  else if (path_is(uri, plen, "/commit")) route = R_COMMIT, allow = "POST", write = 1;
  else if (plen > 6 && !memcmp(uri, "/docs/", 6)) route = R_DOC, allow = "GET, HEAD, DELETE";
  if (route == R_NONE) {
    fail(r, 404, "no such endpoint (see GET / for the page, /search, /docs/{id}, /stats, /health)");
    goto out;
  }
  if (!strcmp(m, "OPTIONS") && s->cfg.cors) { /* CORS preflight */
    r->status = 204;
    r->allow = allow;
    goto out;
  }
  int ok_method = route == R_SEARCH ? get || post
                : route == R_DOC ? get || !strcmp(m, "DELETE")
                : write ? post
                : get;
  if (!ok_method) {
    r->allow = allow;
    fail(r, 405, "method not allowed here");
    goto out;
  }
  if (route == R_DOC && !strcmp(m, "DELETE")) write = 1;
  if (s->has_key && route != R_HEALTH && route != R_PAGE && (write || s->cfg.api_key_reads) &&
      !key_ok(s, q->api_key)) {
    r->www_auth = 1;
    fail(r, 401, q->api_key ? "wrong API key" : "this endpoint needs the API key (X-API-Key or Authorization: Bearer)");
    goto out;
  }
  if (q->body_too_large) {
    char why[96];
    snprintf(why, sizeof why, "request body over the limit of %zu bytes", s->cfg.limits.max_body);
    fail(r, 413, why);
    goto out;
  }
  if (route == R_STATS || route == R_DOC || route == R_SEARCH) {
    blend_error e = {0};
    if (worker_sync(s, w, &e)) {
      fail_err(r, &e);
      goto out;
    }
  }
  if (route == R_DOC && write) {
    doc_delete(s, w, uri + 6, plen - 6, qs, r);
    goto out;
  }
  switch (route) {
  case R_DOCS:
    docs_add(s, w, q, qs, r);
    break;
  case R_COMMIT: {
    blend_error e = {0};
    if (api_commit(s, &e)) fail_err(r, &e);
    else {
      snapshot *p = snap_acquire(s);
      blend_index_stats st;
      blend_index_stats_get(p->ix, &st);
      snap_release(p);
      r->status = 200;
      bbuf_printf(&r->body, "{\"committed\":true,\"generation\":%llu,\"documents\":%llu}",
                  (unsigned long long)st.generation, (unsigned long long)st.docs);
    }
    break;
  }
  case R_PAGE:
    r->status = 200;
    r->content_type = "text/html; charset=utf-8";
    bbuf_append(&r->body, server_page_html, server_page_len());
    break;
  case R_HEALTH:
    r->status = 200;
    jw_raw(&r->body, "{\"status\":\"ok\"}");
    break;
  case R_STATS:
    stats(s, w, r);
    break;
  case R_DOC:
    get_doc(s, w, uri + 6, plen - 6, r);
    break;
  case R_SEARCH: {
    search_req sq;
    blend_error e = {0};
    int rc = post && q->body_len ? search_req_json(q->body ? q->body : "", q->body_len, &s->cfg.limits, &w->sc, &sq, &e)
                                 : search_req_query(qs, strlen(qs), &s->cfg.limits, &w->sc, &sq, &e);
    if (rc) fail_err(r, &e);
    else search(s, w, q, &sq, r);
    break;
  }
  default:
    fail(r, 404, "no such endpoint");
  }
out:
  if (r->status >= 400) atomic_fetch_add(&s->errors, 1);
}
