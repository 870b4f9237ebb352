/*
** cli.h — the blend command-line tool: one binary, one function per
** subcommand (cmd_<name>.c), plus shared helpers for messages and progress.
** A subcommand returns the process exit status: 0 ok, 1 runtime error,
** 2 usage error.
*/
#ifndef BLEND_CLI_H
#define BLEND_CLI_H

#include <stdio.h>

#include "blend.h"

int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_fuse(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* One line for --version: CPU and the kernels chosen on it (cmd_doctor.c). */
void cli_version_line(FILE *f);

/* "blend: <message>" on stderr; returns 1 for `return cli_fail(...)`. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print err's message the same way; returns 1. */
int cli_fail_err(const blend_error *err);
/* A decimal count in [1, max]; -1 when s is not one. */
long cli_parse_count(const char *s, long max);

/* A progress line on stderr, redrawn at most ~10 times a second, only when
** stderr is a terminal. total_bytes may be 0 (unknown: no ETA). */
typedef struct cli_progress {
  int enabled;
  double start, last;
  unsigned long long total_bytes;
  const char *what;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *what, unsigned long long total_bytes);
void cli_progress_update(cli_progress *p, unsigned long long items, unsigned long long bytes);
void cli_progress_done(cli_progress *p, unsigned long long items, unsigned long long bytes);

/* ---- hybrid search options (src/cli/hybrid_cli.c), shared by search, eval,
** fuse and tune. */
enum hybrid_mode { HYBRID_MODE_LEXICAL = 0, HYBRID_MODE_DENSE = 1, HYBRID_MODE_HYBRID = 2 };
typedef struct hybrid_opts {
  int mode;                     /* enum hybrid_mode (--mode; default lexical) */
  int legs[BLEND_MAX_LEGS];     /* --legs bm25,bm25-multi,dense (enum blend_leg_kind) */
  uint32_t nlegs;               /* 0: the index's stored setting, else the default */
  blend_fusion_options fo;      /* --norm --fusion --alpha --weights --rrf-k
                                   --temperature --complete-scores --threshold */
  uint32_t given;               /* HYBRID_GIVEN_* bits: options set explicitly */
  uint32_t depth;               /* --depth (0: default 100; fuse: all) */
  uint32_t offset;              /* --offset */
  uint32_t ef;                  /* --ef (dense HNSW) */
  int exact;                    /* --exact (dense exact scan) */
  const char *model;            /* --model DIR (query encoder; default: the index's) */
  const char *rerank;           /* --rerank MODEL_DIR */
  uint32_t rerank_depth;        /* --rerank-depth (default 20) */
  const char *rerank_field;     /* --rerank-field (default text) */
  int int8;                     /* --int8: int8 encoders (query and rerank) */
  int threads;                  /* --threads (encoders) */
} hybrid_opts;
#define HYBRID_GIVEN_NORM 1u
#define HYBRID_GIVEN_FUSION 2u
#define HYBRID_GIVEN_WEIGHTS 4u /* --alpha or --weights */
#define HYBRID_GIVEN_RRFK 8u
#define HYBRID_GIVEN_DEPTH 16u
#define HYBRID_GIVEN_COMPLETE 32u

void hybrid_opts_init(hybrid_opts *o);
/* Try argv[*i] as a hybrid option ("--name value" or "--name=value"):
** returns 1 when consumed, with *i left on the last argument it used (its
** value), so a `for (i = 1; i < argc; i++)` loop goes on after it; 0 when it is not
** a hybrid option, -1 after printing a usage error (exit status 2). */
int hybrid_opts_parse(int *i, int argc, char **argv, hybrid_opts *o);
/* The same for getopt-style callers: name without dashes, val NULL for a
** flag. Returns 1 consumed, 0 not ours, -1 usage error printed. */
int hybrid_opts_set(hybrid_opts *o, const char *name, const char *val);
/* 1 when name (without dashes) is a hybrid option taking a value. */
int hybrid_opts_takes_value(const char *name);
#define HYBRID_OPTIONS_HELP                                                              \
  "hybrid (--mode hybrid):\n"                                                            \
  "      --mode M           lexical (default), dense or hybrid\n"                        \
  "      --legs L,L         bm25, bm25-multi, dense (default: the index's tuned setting,\n" \
  "                         else bm25,dense, or bm25,bm25-multi without vectors)\n"      \
  "      --norm N           none, minmax (default), zscore, softmax, tmm, dbsf, rank, borda\n" \
  "      --fusion F         cc (default), rrf, combsum, combmnz, combmax\n"              \
  "      --alpha A          two legs: weights A, 1-A (first leg = lexical)\n"            \
  "      --weights W,W      one weight per leg (>= 0)\n"                                 \
  "      --rrf-k K          RRF's k (default 60)\n"                                      \
  "      --temperature T    softmax temperature (default 1)\n"                           \
  "      --depth N          candidates per leg (default 100)\n"                          \
  "      --complete-scores  score a leg's missing candidates exactly (else they count 0)\n" \
  "      --threshold X      drop fused scores below X\n"                                 \
  "      --offset N         skip the first N fused hits (stable paging)\n"              \
  "      --model DIR        query encoder for the dense leg (default: the index's)\n"    \
  "      --ef N, --exact    dense leg: HNSW ef, or an exact scan\n"                       \
  "      --rerank DIR       rerank the top fused hits with this cross-encoder\n"         \
  "      --rerank-depth N   hits reranked (default 20)\n"                                \
  "      --rerank-field F   stored field given to the cross-encoder (default text)\n"    \
  "      --int8             int8 encoders (query encoding and rerank)\n"

/* ---- the --mode hybrid paths (hybrid_cli.c). How cmd_search / cmd_eval
** call them:
**   search: after parsing (so = BM25 options incl. k, explain, filter),
**     return hybrid_cli_search(ix, &ho, &so, vector_or_NULL, dim, query,
**                              json, snippet_bytes);
**   eval: hybrid_cli_open(ix, &ho, &so, have_query_vectors, &hc) once, then
**     per query hybrid_cli_query(hc, text, vec_or_NULL, dim, k, &res, &err)
**     and hybrid_cli_add_run(&res, qid, run, &err); hybrid_cli_close(hc).
** Each returns an exit status (0 ok, 1 runtime error, 2 usage error) except
** hybrid_cli_query / hybrid_cli_add_run, which return a blend status. */
typedef struct hybrid_cli hybrid_cli;
int hybrid_cli_open(blend_index *ix, const hybrid_opts *ho, const blend_search_options *so,
                    int have_vectors, hybrid_cli **out);
int hybrid_cli_query(hybrid_cli *c, const char *text, const float *vec, uint32_t dim, uint32_t k,
                     blend_hybrid_results *out, blend_error *err);
int hybrid_cli_add_run(const blend_hybrid_results *r, const char *qid, blend_run *run,
                       blend_error *err);
blend_searcher *hybrid_cli_searcher(hybrid_cli *c);
blend_hybrid *hybrid_cli_hybrid(hybrid_cli *c);
const blend_hybrid_query *hybrid_cli_query_of(const hybrid_cli *c);
void hybrid_cli_close(hybrid_cli *c);
int hybrid_cli_search(blend_index *ix, const hybrid_opts *ho, const blend_search_options *so,
                      const float *vector, uint32_t dim, const char *query, int json,
                      long snippet_bytes);

/* ---- options shared by `blend search` and `blend eval` (search_opts.c) */
#define CLI_MAX_FILTERS 32
typedef struct cli_query_opts {
  blend_search_options so;          /* BM25: --k1 --b --fields --field-weight --algorithm */
  hybrid_opts ho;                   /* --mode, legs, fusion, dense and rerank options */
  const char *filters[CLI_MAX_FILTERS]; /* --filter COND (repeatable) */
  size_t nfilters;
  const char *vector;               /* --vector '[...]' (search) */
  const char *query_vectors;        /* --query-vectors FILE (eval) */
} cli_query_opts;
void cli_query_opts_init(cli_query_opts *q);
/* name without dashes, val NULL for a flag: 1 consumed, 0 not a shared
** option, -1 after printing a usage error. */
int cli_query_opts_set(cli_query_opts *q, const char *name, const char *val);
int cli_query_opts_takes_value(const char *name);
/* Compile the --filter conditions (and set q->so.filter); 0 or exit 1. */
int cli_query_opts_finish(cli_query_opts *q, blend_filter **filter);
/* A JSON array of dim finite numbers → malloc'd floats; 0 or exit 1. */
int cli_parse_vector(const char *text, uint32_t dim, float **out, const char *what);
/* The index's query encoder (--model overrides its directory); 0 or 1. */
int cli_open_query_model(const blend_index *ix, const cli_query_opts *q, blend_model **m);
#define CLI_SEARCH_OPTIONS_HELP                                                   \
  "      --k1 X, --b X      BM25 parameters (default 0.9, 0.4)\n"                 \
  "      --fields MODE      flat (default: one 'contents' field) or multi (sum of\n" \
  "                         per-field BM25, as Anserini's multifield)\n"          \
  "      --field-weight F=W weight of field F in multi mode (default 1)\n"        \
  "      --algorithm A      auto (default), maxscore, bmw or exhaustive\n"        \
  "      --filter COND      only documents whose metadata satisfy COND: F=V, F!=V,\n" \
  "                         F>=X, F>X, F<=X, F<X (repeatable: all must hold)\n"

/* Write s as a JSON string literal (with quotes) to f. */
void cli_json_string(FILE *f, const char *s, size_t len);

#endif
