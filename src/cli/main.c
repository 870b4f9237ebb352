/*
** main.c — blend's entry point: dispatches to a subcommand.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
    {"index", cmd_index, "build an index from JSONL, BEIR corpus or a folder of .txt/.md"},
    {"search", cmd_search, "run a query against an index (BM25), print ranked hits"},
    {"delete", cmd_delete, "delete documents by id (from arguments, a file or stdin)"},
    {"get", cmd_get, "print stored documents by id"},
    {"stats", cmd_stats, "documents, deletions, segments, terms, size, vector field"},
    {"merge", cmd_merge, "merge segments (--max-segments N), dropping deleted documents"},
    {"eval", cmd_eval, "score queries (or a TREC run) against qrels: nDCG, recall, MRR, MAP"},
    {"embed", cmd_embed, "encode texts to vectors with a BERT-family model directory"},
    {"rerank", cmd_rerank, "score documents against a query with a cross-encoder"},
    {"model", cmd_model, "download a model from a Hugging Face-compatible hub (model pull)"},
    {"doctor", cmd_doctor, "show the CPU features found and the kernels chosen on them"},
    {"serve", cmd_serve, "serve the index over HTTP: JSON search API and a web page"},
    {"fuse", cmd_fuse, "fuse TREC runs (normalisation + fusion), optionally score them"},
    {"tune", cmd_tune, "grid-search hybrid fusion on labelled queries (runs or an index)"},
};

static void usage(FILE *f) {
  fprintf(f,
          "blend %s — hybrid search: BM25 + dense vectors + fusion\n\n"
          "usage: blend <command> [options]   (blend <command> --help for details)\n\n"
          "commands:\n",
          BLEND_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nenvironment:\n"
             "  BLEND_ISA_CAP=<set>  no encoder kernel above <set> (scalar, avx2, avx-vnni, avx512,\n"
             "                       avx512-vnni, avx512-bf16, amx-int8, amx-bf16); see blend doctor\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("blend %s\n", BLEND_VERSION);
    cli_version_line(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "blend: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  fputs("blend: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

long cli_parse_count(const char *s, long max) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < 1 || v > max) return -1;
  return v;
}

int cli_fail_err(const blend_error *err) {
  return cli_fail("%s", err->message[0] ? err->message : blend_status_name(err->code));
}

void cli_progress_start(cli_progress *p, const char *what, unsigned long long total_bytes) {
  p->enabled = isatty(2);
  p->start = p->last = now_seconds();
  p->total_bytes = total_bytes;
  p->what = what;
}

static void progress_draw(cli_progress *p, unsigned long long items, unsigned long long bytes,
                          double t) {
  double el = t - p->start;
  if (el <= 0) el = 1e-9;
  double mb = (double)bytes / 1e6;
  fprintf(stderr, "\r%s: %llu docs  %.0f docs/s  %.1f MB/s", p->what, items,
          (double)items / el, mb / el);
  if (p->total_bytes && bytes) {
    double frac = (double)bytes / (double)p->total_bytes;
    double eta = el / frac - el;
    fprintf(stderr, "  %3.0f%%  ETA %.0fs ", frac * 100, eta > 0 ? eta : 0);
  }
  fputs("\x1b[K", stderr);
}

void cli_progress_update(cli_progress *p, unsigned long long items, unsigned long long bytes) {
  if (!p->enabled) return;
  double t = now_seconds();
  if (t - p->last < 0.1) return;
  p->last = t;
  progress_draw(p, items, bytes, t);
}

void cli_progress_done(cli_progress *p, unsigned long long items, unsigned long long bytes) {
  if (!p->enabled) return;
  progress_draw(p, items, bytes, now_seconds());
  fputc('\n', stderr);
}

void cli_json_string(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\r': fputs("\\r", f); break;
      case '\t': fputs("\\t", f); break;
      default:
        if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
  }
  fputc('"', f);
}
