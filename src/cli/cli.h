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
int cmd_embed(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_model(int argc, char **argv);

/* "blend: <message>" on stderr; returns 1 for `return cli_fail(...)`. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print err's message the same way; returns 1. */
int cli_fail_err(const blend_error *err);

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

/* Apply one of the shared search options (k1, b, fields, field-weight,
** algorithm) to o; returns 0, or 2 after printing a usage error. */
int cli_search_option(blend_search_options *o, const char *name, const char *val);
#define CLI_SEARCH_OPTIONS_HELP                                                   \
  "      --k1 X, --b X      BM25 parameters (default 0.9, 0.4)\n"                 \
  "      --fields MODE      flat (default: one 'contents' field) or multi (sum of\n" \
  "                         per-field BM25, as Anserini's multifield)\n"          \
  "      --field-weight F=W weight of field F in multi mode (default 1)\n"        \
  "      --algorithm A      auto (default), maxscore, bmw or exhaustive\n"

/* Write s as a JSON string literal (with quotes) to f. */
void cli_json_string(FILE *f, const char *s, size_t len);

#endif
