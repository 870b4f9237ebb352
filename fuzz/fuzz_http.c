/*
** fuzz_http.c — libFuzzer target for blend serve's request → response path:
** the pure handler (src/server/api.c) with a fake connection, over a small
** index built once. The input is split into method, raw URI and body at
** the first two 0xFF bytes (so every part can hold any byte); an API key is
** configured so auth paths run. Every answer must be a status in 200..599
** and, for JSON answers, start with '{' — anything else (or any crash,
** leak or UB) is a failure. This covers the JSON query parser
** (search_req_json), the query-string parser (search_req_query) and the
** document parser of POST /docs too, and with ../shared's tiny
** cross-encoder (BLEND_SHARED) the rerank path.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api_server srv;
static api_worker *worker;

static void setup(void) {
  char dir[] = "/tmp/blend-fuzz-http-XXXXXX";
  if (!mkdtemp(dir)) abort();
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, NULL)) abort();
  const char *texts[] = {"white matter of the brain", "apples are red fruit", "cell protein gene cancer",
                         "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 covid-19", "the mouse and the drug dose"};
  for (int d = 0; d < 50; d++) {
    char id[16];
    snprintf(id, sizeof id, d % 7 ? "d%d" : "d/%d x", d);
    const char *t = texts[d % 5];
    blend_field_value f[2] = {{"title", texts[(d + 1) % 5], strlen(texts[(d + 1) % 5])}, {"text", t, strlen(t)}};
    blend_doc doc = {.id = id, .id_len = strlen(id), .fields = f, .nfields = 2};
    if (blend_writer_add(w, &doc, NULL)) abort();
  }
  if (blend_writer_commit(w, NULL)) abort();
  blend_writer_close(w);
  server_config sc;
  memset(&sc, 0, sizeof sc);
  server_limits_default(&sc.limits);
  sc.index_dir = dir;
  sc.threads = 1;
  sc.api_key = "fuzz-key";
  sc.cors = "*";
  /* the tiny random cross-encoder, when ../shared is there, so "rerank":
     true runs past its checks (else it is the clear 400 without a model) */
  static char rr[1024];
  const char *sh = getenv("BLEND_SHARED") ? getenv("BLEND_SHARED") : "../shared";
  snprintf(rr, sizeof rr, "%s/fixtures/cross-tiny-random", sh);
  char cfgjson[1100];
  snprintf(cfgjson, sizeof cfgjson, "%s/config.json", rr);
  if (access(cfgjson, R_OK) == 0) sc.rerank_model = rr;
  if (api_server_init(&srv, &sc, NULL)) abort();
  worker = api_worker_get(&srv);
  if (!worker) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!worker) setup();
  const uint8_t *a = memchr(data, 0xFF, size);
  const uint8_t *b = a ? memchr(a + 1, 0xFF, size - (size_t)(a + 1 - data)) : NULL;
  size_t mlen = a ? (size_t)(a - data) : 0;
  size_t ulen = a ? (b ? (size_t)(b - a - 1) : size - mlen - 1) : size;
  const uint8_t *u = a ? a + 1 : data;
  char method[16];
  static const char *methods[] = {"GET", "POST", "DELETE", "PUT", "OPTIONS", "HEAD"};
  if (mlen && mlen < sizeof method) {
    memcpy(method, data, mlen);
    method[mlen] = 0;
  } else snprintf(method, sizeof method, "%s", methods[size % 6]);
  char *uri = malloc(ulen + 2);
  uri[0] = '/';
  memcpy(uri + 1, u, ulen);
  uri[ulen + 1] = 0; /* the http layer hands a NUL-terminated raw URI */
  api_request q = {0};
  q.method = method;
  q.uri = (ulen && u[0] == '/') ? uri + 1 : uri;
  q.body = b ? (const char *)b + 1 : NULL;
  q.body_len = b ? size - (size_t)(b + 1 - data) : 0;
  q.api_key = size % 3 == 0 ? "fuzz-key" : size % 3 == 1 ? "wrong" : NULL;
  /* writes run (the writer parses and buffers them); commits would only
     make every run write segment files: they get the wrong key */
  if (memmem(uri, ulen + 1, "commit", 6)) q.api_key = "wrong";
  q.start_ns = api_now_ns();
  api_response *r = api_worker_response(worker);
  api_handle(&srv, worker, &q, r);
  if (r->status < 200 || r->status > 599) abort();
  if (r->status != 204 && !strncmp(r->content_type, "application/json", 16) && (r->body.len == 0 || r->body.data[0] != '{'))
    abort();
  free(uri);
  return 0;
}
