/*
** http.c — HTTP/1.1 for `blend serve`, on GNU libmicrohttpd.
**
** Why libmicrohttpd: a small, long-maintained C library (GNU, in Debian),
** HTTP/1.1 with keep-alive and pipelining, and the protections a public
** service needs built in: a pool of worker threads each running its own
** epoll loop (MHD_USE_EPOLL_INTERNAL_THREAD + MHD_OPTION_THREAD_POOL_SIZE),
** a total connection limit, a per-client-address limit, an idle timeout per
** connection, a per-connection memory cap for headers, and a quiesce call
** for graceful shutdown. (civetweb and mongoose are comparable but embed as
** source files; libh2o/libevhtp pull in more than blend needs.)
**
** Each MHD worker thread gets its own api_worker (searcher) on first use, so
** a request runs start to finish on one thread with no locks. The request
** is collected here (raw URI from the URI log callback, so %00 in a query
** is never cut by a C string, and the body up to max_body), then handed to
** the pure handler api_handle().
**
** Slow clients: headers are read by the event loop (a slow client holds a
** connection slot, never a thread), bounded by the idle timeout, the
** per-address limit and the connection limit; a body must arrive within
** body_timeout_ms or the connection is closed. Overload: past max_inflight
** open connections a request is answered 503 at once instead of queueing.
*/
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

typedef struct http_req {
  struct http_req *next_job; /* write queue */
  struct MHD_Connection *conn;
  const char *method;  /* static string: the write methods */
  int job;             /* 0 none, 1 queued (connection suspended), 2 answered */
  api_response resp;   /* the write thread's answer (owned body) */
  char *api_key, *origin;
  char *uri;           /* raw, as received */
  bbuf body;
  size_t declared;     /* Content-Length, when given */
  int too_large;
  int started;         /* first handler call seen */
  int answering;       /* counted in s->active: body complete, being answered */
  uint64_t start_ns;
} http_req;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)c;
  (void)cls;
  http_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->uri = strdup(uri ? uri : "");
  r->start_ns = api_now_ns();
  return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)c;
  (void)toe;
  api_server *s = cls;
  http_req *r = *con_cls;
  if (!r) return;
  if (r->answering) atomic_fetch_sub(&s->active, 1);
  bbuf_free(&r->resp.body);
  free(r->api_key);
  free(r->origin);
  free(r->uri);
  bbuf_free(&r->body);
  free(r);
  *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  (void)c;
  (void)socket_context;
  api_server *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&s->inflight, 1);
  else atomic_fetch_sub(&s->inflight, 1);
}

static void quiet_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  (void)fmt;
  (void)ap; /* the library never prints; errors reach clients as JSON */
}

static enum MHD_Result send_resp(struct MHD_Connection *c, const api_server *s, const api_response *a) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(a->body.len, a->body.len ? a->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  if (!strncmp(a->content_type, "text/html", 9))
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                            "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'");
  else MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (a->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
  if (a->www_auth) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"blend\"");
  if (a->cors && s->cfg.cors) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cfg.cors);
    MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type, X-API-Key, Authorization");
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", a->allow ? a->allow : "GET, POST");
  }
  enum MHD_Result ok = MHD_queue_response(c, (unsigned)a->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* A fixed JSON answer outside the handler (overload, early 413). */
static enum MHD_Result send_fixed(struct MHD_Connection *c, const api_server *s, int status, const char *json) {
  api_response a = {0};
  a.status = status;
  a.content_type = "application/json; charset=utf-8";
  a.cors = s->cfg.cors != NULL;
  bbuf_append(&a.body, json, strlen(json));
  enum MHD_Result ok = send_resp(c, s, &a);
  bbuf_free(&a.body);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls) {
  (void)url;
  (void)version;
  api_server *s = cls;
  http_req *r = *con_cls;
  if (!r) return MHD_NO; /* out of memory in on_uri: drop the connection */
  const server_limits *lim = &s->cfg.limits;
  if (!r->started) {
    r->started = 1;
    if (lim->max_inflight && atomic_load(&s->inflight) > lim->max_inflight) {
      atomic_fetch_add(&s->overloaded, 1);
      return send_fixed(c, s, 503,
                        "{\"error\":{\"type\":\"unavailable\",\"reason\":\"overloaded: too many open "
                        "connections, retry later\"},\"status\":503}");
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
      char *end;
      unsigned long long v = strtoull(cl, &end, 10);
      if (*end || v > lim->max_body) r->too_large = 1;
      else r->declared = (size_t)v;
    }
    if (r->too_large) { /* answer now; MHD closes the connection after it */
      char why[160];
      snprintf(why, sizeof why,
               "{\"error\":{\"type\":\"payload_too_large\",\"reason\":\"request body over the limit of %zu "
               "bytes\"},\"status\":413}",
               lim->max_body);
      return send_fixed(c, s, 413, why);
    }
    return MHD_YES;
  }
  if (*upload_size) {
    if (api_now_ns() - r->start_ns > (uint64_t)lim->body_timeout_ms * 1000000ull) return MHD_NO;
    if (!r->too_large && r->body.len + *upload_size > lim->max_body) r->too_large = 1;
    if (!r->too_large && bbuf_append(&r->body, upload, *upload_size)) return MHD_NO;
    *upload_size = 0; /* consumed (or discarded past the limit) */
    return MHD_YES;
  }
  if (r->job == 2) return send_resp(c, s, &r->resp); /* resumed: the write thread answered */
  if (r->job == 1) return MHD_YES;
  /* the whole request is here: from now on it is in flight (a graceful
     stop waits for it; one still sending its body is not waited for) */
  r->answering = 1;
  atomic_fetch_add(&s->active, 1);
  const char *wm = !strcmp(method, "DELETE") ? "DELETE" : !strcmp(method, "POST") ? "POST" : NULL;
  if (wm && s->write_thread_on &&
      (!strcmp(wm, "DELETE") || !strncmp(r->uri, "/docs", 5) || !strncmp(r->uri, "/commit", 7))) {
    /* a write: to the write thread; this search thread moves on */
    const char *k = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!k && auth && !strncasecmp(auth, "Bearer ", 7)) k = auth + 7;
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if ((k && !(r->api_key = strdup(k))) || (o && !(r->origin = strdup(o))))
      return send_fixed(c, s, 503, "{\"error\":{\"type\":\"unavailable\",\"reason\":\"out of memory\"},\"status\":503}");
    r->method = wm;
    r->conn = c;
    r->job = 1;
    MHD_suspend_connection(c);
    pthread_mutex_lock(&s->jobs_lock);
    if (s->jobs_tail) ((http_req *)s->jobs_tail)->next_job = r;
    else s->jobs_head = r;
    s->jobs_tail = r;
    pthread_cond_signal(&s->jobs_cond);
    pthread_mutex_unlock(&s->jobs_lock);
    return MHD_YES;
  }
  api_worker *w = api_worker_get(s);
  if (!w)
    return send_fixed(c, s, 503, "{\"error\":{\"type\":\"unavailable\",\"reason\":\"out of memory\"},\"status\":503}");
  api_request q = {0};
  q.method = method;
  q.uri = r->uri;
  q.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  q.api_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!q.api_key && auth && !strncasecmp(auth, "Bearer ", 7)) q.api_key = auth + 7;
  q.body = (const char *)r->body.data;
  q.body_len = r->body.len;
  q.body_too_large = r->too_large;
  q.start_ns = r->start_ns;
  api_response *a = api_worker_response(w);
  api_handle(s, w, &q, a);
  return send_resp(c, s, a);
}

/* The write thread: answers queued writes one by one with its own worker,
** then resumes each connection (MHD calls on_request again, which sends
** the answer). */
static void *write_loop(void *arg) {
  api_server *s = arg;
  api_worker *w = api_worker_get(s);
  for (;;) {
    pthread_mutex_lock(&s->jobs_lock);
    while (!s->jobs_head && !s->jobs_stop) pthread_cond_wait(&s->jobs_cond, &s->jobs_lock);
    http_req *r = s->jobs_head;
    if (r) {
      s->jobs_head = r->next_job;
      if (!s->jobs_head) s->jobs_tail = NULL;
    }
    pthread_mutex_unlock(&s->jobs_lock);
    if (!r) break; /* stopping, queue empty */
    api_request q = {0};
    q.method = r->method;
    q.uri = r->uri;
    q.api_key = r->api_key;
    q.origin = r->origin;
    q.body = (const char *)r->body.data;
    q.body_len = r->body.len;
    q.body_too_large = r->too_large;
    q.start_ns = r->start_ns;
    api_response *a = w ? api_worker_response(w) : NULL;
    if (a) {
      api_handle(s, w, &q, a);
      r->resp = *a;
      memset(&r->resp.body, 0, sizeof r->resp.body);
      if (bbuf_append(&r->resp.body, a->body.data ? a->body.data : (const uint8_t *)"", a->body.len)) a = NULL;
    }
    if (!a) {
      static const char oom[] = "{\"error\":{\"type\":\"unavailable\",\"reason\":\"out of memory\"},\"status\":503}";
      r->resp.status = 503;
      r->resp.content_type = "application/json; charset=utf-8";
      r->resp.body.len = 0;
      bbuf_append(&r->resp.body, oom, sizeof oom - 1);
    }
    r->job = 2;
    MHD_resume_connection(r->conn);
  }
  return NULL;
}

int http_start(api_server *s, blend_error *err) {
  const server_config *cfg = &s->cfg;
  const server_limits *lim = &cfg->limits;
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  struct sockaddr *sa;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
  const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
  memset(&a4, 0, sizeof a4);
  memset(&a6, 0, sizeof a6);
  if (inet_pton(AF_INET, bind, &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    a4.sin_port = htons(cfg->port);
    sa = (struct sockaddr *)&a4;
  } else if (inet_pton(AF_INET6, bind, &a6.sin6_addr) == 1) {
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(cfg->port);
    sa = (struct sockaddr *)&a6;
    flags |= MHD_USE_IPv6;
  } else return blend_seterr(err, BLEND_EINVAL, "--bind %s: not an IPv4 or IPv6 address", bind);
  unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 1;
  struct MHD_OptionItem ops[] = {
      {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)quiet_log, NULL},
      {MHD_OPTION_SOCK_ADDR, 0, sa},
      {MHD_OPTION_CONNECTION_LIMIT, lim->max_connections, NULL},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->per_ip, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, lim->idle_timeout_s, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
      {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
      {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
      {MHD_OPTION_END, 0, NULL}};
  struct MHD_Daemon *d = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
                                          MHD_OPTION_END);
  if (!d) return blend_seterr(err, BLEND_EIO, "cannot listen on %s port %u (in use, or not allowed)", bind, cfg->port);
  s->daemon = d;
  pthread_mutex_init(&s->jobs_lock, NULL);
  pthread_cond_init(&s->jobs_cond, NULL);
  s->jobs_head = s->jobs_tail = NULL;
  s->jobs_stop = 0;
  /* without the thread, writes run inline on the search threads */
  s->write_thread_on = pthread_create(&s->write_thread, NULL, write_loop, s) == 0;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  s->bound_port = info ? info->port : cfg->port;
  return BLEND_OK;
}

void http_stop(api_server *s, uint32_t grace_ms) {
  struct MHD_Daemon *d = s->daemon;
  if (!d) return;
  MHD_socket ls = MHD_quiesce_daemon(d); /* stop accepting; keep serving */
  uint64_t until = api_now_ns() + (uint64_t)grace_ms * 1000000ull;
  while (atomic_load(&s->active) > 0 && api_now_ns() < until) {
    struct timespec ts = {0, 5 * 1000000};
    nanosleep(&ts, NULL);
  }
  if (s->write_thread_on) { /* the queue is empty once nothing is active */
    pthread_mutex_lock(&s->jobs_lock);
    s->jobs_stop = 1;
    pthread_cond_signal(&s->jobs_cond);
    pthread_mutex_unlock(&s->jobs_lock);
    pthread_join(s->write_thread, NULL);
    s->write_thread_on = 0;
  }
  MHD_stop_daemon(d);
  pthread_mutex_destroy(&s->jobs_lock);
  pthread_cond_destroy(&s->jobs_cond);
  if (ls != MHD_INVALID_SOCKET) close(ls);
  s->daemon = NULL;
}
