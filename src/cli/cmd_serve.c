/*
** cmd_serve.c — `blend serve`: the HTTP JSON search service and web page
** (src/server) over one index. Parses options, blocks SIGINT/SIGTERM in
** every thread (the server's threads inherit the mask), starts listening,
** and on a signal stops accepting, lets in-flight requests finish, closes.
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/server.h"

static void serve_usage(FILE *f) {
  fputs("usage: blend serve --index DIR [options]\n"
        "\n"
        "Serve the index over HTTP/1.1 (JSON API and a web page at /).\n"
        "Searches run on every worker thread over the newest committed\n"
        "generation; one writer adds, replaces and deletes documents, and a\n"
        "commit every --commit-interval seconds (and at shutdown) makes them\n"
        "searchable. A write is durable once committed (POST /commit, or\n"
        "?commit=true on the write itself). Documents written without a\n"
        "\"vector\" are encoded by the model that made the index's vectors.\n"
        "\n"
        "endpoints:\n"
        "  GET  /                     web page (query and knobs in the URL)\n"
        "  GET  /search?q=...&k=10    search (also POST /search with a JSON body)\n"
        "  GET  /docs/{id}            a stored document\n"
        "  POST /docs                 add or replace documents (JSON array or JSONL)\n"
        "  DELETE /docs/{id}          delete a document\n"
        "  POST /commit               commit pending writes now\n"
        "  GET  /stats, GET /health\n"
        "\n"
        "search fields (GET parameters or POST JSON members; unknown ones are a 400):\n"
        "  q, mode (lexical | dense | hybrid), k, offset, fields (flat | multi),\n"
        "  field_weights (JSON object), k1, b, algorithm, filter (repeatable),\n"
        "  explain, highlight, highlight_field, highlight_size, source, vector,\n"
        "  ef, exact; hybrid: norm, fusion, alpha, rrf_k, depth; rerank, rerank_depth,\n"
        "  rerank_field (with --rerank-model)\n"
        "\n"
        "options:\n"
        "  --index DIR          index directory (required)\n"
        "  --bind ADDR          address to listen on (default 127.0.0.1: loopback only)\n"
        "  --port N             port (default 8900; 0 = any free port, printed)\n"
        "  --threads N          worker threads (default: online cores)\n"
        "  --api-key KEY        writes need this key (X-API-Key or Authorization: Bearer);\n"
        "                       also $BLEND_API_KEY. Compared in constant time, never logged\n"
        "  --api-key-reads      reads need the key too (/health and / stay open)\n"
        "  --cors ORIGIN        allow browser calls from ORIGIN (or *); off by default\n"
        "  --max-body BYTES     request body limit (default 1048576; 413 past it)\n"
        "  --max-query BYTES    query text limit (default 4096)\n"
        "  --max-k N            k limit (default 1000); offset limit 10000\n"
        "  --max-inflight N     open connections before answering 503 (default 256)\n"
        "  --max-connections N  hard connection limit (default 1024)\n"
        "  --per-ip N           connections per client address (default 512)\n"
        "  --timeout S          idle connection timeout in seconds (default 10)\n"
        "  --budget MS          per-request time budget, 503 past it (default 2000)\n"
        "  --commit-interval S  commit pending writes every S seconds (default 1; 0: only\n"
        "                       on POST /commit and at shutdown)\n"
        "  --int8               encode query text (dense/hybrid) and new documents with\n"
        "                       int8 linear layers\n"
        "  --rerank-model DIR   cross-encoder for \"rerank\": true (loaded at start, shared\n"
        "                       by the workers; rerank_depth default 20, at most 100)\n"
        "  -q                   no start/stop lines on stderr\n"
        "  -h, --help           this help\n"
        "\n"
        "exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 error, 2 usage error\n",
        f);
}

static int num(const char *opt, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) {
    fprintf(stderr, "blend serve: %s wants a whole number in %ld..%ld, not '%s'\n", opt, lo, hi, v);
    return -1;
  }
  *out = x;
  return 0;
}

int cmd_serve(int argc, char **argv) {
  server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  server_limits_default(&cfg.limits);
  cfg.bind = "127.0.0.1";
  cfg.port = 8900;
  cfg.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (cfg.threads < 1) cfg.threads = 1;
  cfg.api_key = getenv("BLEND_API_KEY");
  int quiet = 0;
  long commit_interval = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long x;
#define NEED()                                                       \
  do {                                                               \
    if (!v) {                                                        \
      fprintf(stderr, "blend serve: %s needs a value\n", a);         \
      return 2;                                                      \
    }                                                                \
    i++;                                                             \
  } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      serve_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-q")) quiet = 1;
    else if (!strcmp(a, "--api-key-reads")) cfg.api_key_reads = 1;
    else if (!strcmp(a, "--int8")) cfg.query_int8 = 1;
    else if (!strcmp(a, "--index")) { NEED(); cfg.index_dir = v; }
    else if (!strcmp(a, "--bind")) { NEED(); cfg.bind = v; }
    else if (!strcmp(a, "--api-key")) { NEED(); cfg.api_key = v; }
    else if (!strcmp(a, "--cors")) { NEED(); cfg.cors = v; }
    else if (!strcmp(a, "--rerank-model")) { NEED(); cfg.rerank_model = v; }
    else if (!strcmp(a, "--port")) { NEED(); if (num(a, v, 0, 65535, &x)) return 2; cfg.port = (uint16_t)x; }
    else if (!strcmp(a, "--threads")) { NEED(); if (num(a, v, 1, 1024, &x)) return 2; cfg.threads = (int)x; }
    else if (!strcmp(a, "--max-body")) { NEED(); if (num(a, v, 1, 1L << 30, &x)) return 2; cfg.limits.max_body = (size_t)x; }
    else if (!strcmp(a, "--max-query")) { NEED(); if (num(a, v, 1, 1L << 20, &x)) return 2; cfg.limits.max_query = (size_t)x; }
    else if (!strcmp(a, "--max-k")) { NEED(); if (num(a, v, 1, 100000, &x)) return 2; cfg.limits.max_k = (uint32_t)x; }
    else if (!strcmp(a, "--max-inflight")) { NEED(); if (num(a, v, 1, 1000000, &x)) return 2; cfg.limits.max_inflight = (uint32_t)x; }
    else if (!strcmp(a, "--max-connections")) { NEED(); if (num(a, v, 1, 1000000, &x)) return 2; cfg.limits.max_connections = (uint32_t)x; }
    else if (!strcmp(a, "--per-ip")) { NEED(); if (num(a, v, 1, 1000000, &x)) return 2; cfg.limits.per_ip = (uint32_t)x; }
    else if (!strcmp(a, "--timeout")) { NEED(); if (num(a, v, 1, 3600, &x)) return 2; cfg.limits.idle_timeout_s = (uint32_t)x; }
    else if (!strcmp(a, "--commit-interval")) { NEED(); if (num(a, v, 0, 86400, &x)) return 2; commit_interval = x; }
    else if (!strcmp(a, "--budget")) { NEED(); if (num(a, v, 1, 3600000, &x)) return 2; cfg.limits.budget_ms = (uint32_t)x; }
    else {
      fprintf(stderr, "blend serve: unknown option '%s' (see blend serve --help)\n", a);
      return 2;
    }
#undef NEED
  }
  if (!cfg.index_dir) {
    fprintf(stderr, "blend serve: --index DIR is required (see blend serve --help)\n");
    return 2;
  }
  if (cfg.api_key && !cfg.api_key[0]) {
    fprintf(stderr, "blend serve: --api-key must not be empty\n");
    return 2;
  }
  if (cfg.api_key_reads && !cfg.api_key) {
    fprintf(stderr, "blend serve: --api-key-reads needs --api-key\n");
    return 2;
  }
  /* block the stop signals before any thread starts: they inherit it */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  static api_server srv; /* large; one per process run */
  blend_error err = {0};
  if (api_server_init(&srv, &cfg, &err)) return cli_fail_err(&err);
  if (http_start(&srv, &err)) {
    api_server_free(&srv);
    return cli_fail_err(&err);
  }
  blend_index_stats st;
  blend_index_stats_get(srv.ix, &st);
  if (!quiet && srv.dmodel_err[0])
    fprintf(stderr, "blend serve: warning: %s (POST /docs needs a \"vector\" per document)\n", srv.dmodel_err);
  if (!quiet) {
    fprintf(stderr,
            "blend serve: listening on http://%s%s%s:%u/ (index %s: %llu documents; %d threads%s%s)\n",
            strchr(cfg.bind, ':') ? "[" : "", cfg.bind, strchr(cfg.bind, ':') ? "]" : "", srv.bound_port,
            cfg.index_dir, (unsigned long long)st.docs, cfg.threads, srv.has_key ? "; API key required for writes" : "",
            srv.has_key && cfg.api_key_reads ? " and reads" : "");
    fflush(stderr);
  }
  int sig = 0;
  for (;;) { /* wait for a stop signal, committing pending writes on the way */
    struct timespec ts = {commit_interval ? commit_interval : 3600, 0};
    sig = sigtimedwait(&set, NULL, &ts);
    if (sig > 0) break;
    if (commit_interval && api_commit(&srv, &err) && !quiet)
      fprintf(stderr, "blend serve: commit failed: %s\n", err.message);
  }
  if (!quiet) fprintf(stderr, "blend serve: %s: stopping (finishing in-flight requests)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  http_stop(&srv, 10000);
  int rc = 0;
  if (api_commit(&srv, &err)) { /* acknowledged writes */
    fprintf(stderr, "blend serve: final commit failed: %s\n", err.message);
    rc = 1;
  }
  uint64_t req = atomic_load(&srv.requests), errs = atomic_load(&srv.errors);
  api_server_free(&srv);
  if (!quiet) fprintf(stderr, "blend serve: stopped after %llu requests (%llu errors)\n", (unsigned long long)req,
                      (unsigned long long)errs);
  return rc;
}
