/*
** cmd_index.c — `blend index`: build an index from JSONL, a BEIR corpus or
** a directory of .txt/.md files, and commit it atomically.
*/
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "util/util.h"

static const char usage_text[] =
    "usage: blend index --input PATH --index DIR [options]\n"
    "\n"
    "Build a new index generation in DIR from PATH: a JSONL file (BEIR corpus.jsonl\n"
    "by default: _id, title, text), '-' for stdin, or a directory of .txt/.md files.\n"
    "The previous generation stays readable until the new one is committed; if\n"
    "indexing fails or is interrupted, DIR is left as it was.\n"
    "\n"
    "options:\n"
    "  -i, --input PATH       corpus to index (required)\n"
    "  -x, --index DIR        index directory (created if missing; required)\n"
    "      --id-field NAME    JSONL id field (default _id)\n"
    "      --fields A,B,...   JSONL text fields, indexed separately and as one flat\n"
    "                         'contents' field (default title,text)\n"
    "      --stemmer NAME     porter (default), english, french, german, ... or none\n"
    "      --stopwords NAME   english (default, Lucene's list) or none\n"
    "      --no-cjk-bigrams   index CJK characters one by one instead of as bigrams\n"
    "      --no-positions     do not store positions (smaller; no phrase queries)\n"
    "      --flat-only        index only the flat 'contents' field (faster, smaller;\n"
    "                         no field:term queries or --fields multi)\n"
    "      --skip-invalid     skip malformed lines/files and report how many\n"
    "  -q, --quiet            no summary\n"
    "  -h, --help             this help\n";

typedef struct progress_ctx {
  cli_progress bar;
} progress_ctx;

static void on_progress(void *ctx, uint64_t docs, uint64_t bytes) {
  progress_ctx *p = ctx;
  cli_progress_update(&p->bar, docs, bytes);
}

int cmd_index(int argc, char **argv) {
  static const struct option longopts[] = {
      {"input", required_argument, 0, 'i'},   {"index", required_argument, 0, 'x'},
      {"id-field", required_argument, 0, 1},  {"fields", required_argument, 0, 2},
      {"stemmer", required_argument, 0, 3},   {"stopwords", required_argument, 0, 4},
      {"no-cjk-bigrams", no_argument, 0, 5},  {"no-positions", no_argument, 0, 6},
      {"skip-invalid", no_argument, 0, 7},    {"quiet", no_argument, 0, 'q'},
      {"flat-only", no_argument, 0, 8},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  const char *input = NULL, *dir = NULL, *id_field = NULL;
  char *fields_arg = NULL;
  int quiet = 0;
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_ingest_options io = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "i:x:qh", longopts, NULL)) != -1) {
    switch (c) {
      case 'i': input = optarg; break;
      case 'x': dir = optarg; break;
      case 1: id_field = optarg; break;
      case 2: fields_arg = optarg; break;
      case 3:
        if (strlen(optarg) >= sizeof cfg.analyzer.stemmer) return cli_fail("--stemmer: name too long");
        strcpy(cfg.analyzer.stemmer, optarg);
        break;
      case 4:
        if (strlen(optarg) >= sizeof cfg.analyzer.stopwords) return cli_fail("--stopwords: name too long");
        strcpy(cfg.analyzer.stopwords, optarg);
        break;
      case 5: cfg.analyzer.cjk_bigrams = 0; break;
      case 6: cfg.positions = 0; break;
      case 7: io.skip_invalid = 1; break;
      case 8: cfg.field_views = 0; break;
      case 'q': quiet = 1; break;
      case 'h': fputs(usage_text, stdout); return 0;
      default: fputs(usage_text, stderr); return 2;
    }
  }
  if (!input || !dir || optind < argc) {
    fputs(usage_text, stderr);
    return 2;
  }
  const char *fields[16];
  size_t nfields = 0;
  char *fcopy = NULL;
  if (fields_arg) {
    fcopy = strdup(fields_arg);
    for (char *tok = strtok(fcopy, ","); tok; tok = strtok(NULL, ",")) {
      if (nfields == 15) {
        free(fcopy);
        return cli_fail("--fields: at most 15 fields");
      }
      if (*tok) fields[nfields++] = tok;
    }
    if (!nfields) {
      free(fcopy);
      return cli_fail("--fields: no field names given");
    }
    io.fields = fields;
    io.nfields = nfields;
  }
  io.id_field = id_field;

  blend_error err = {0};
  struct stat st;
  unsigned long long total = 0;
  if (strcmp(input, "-") != 0) {
    if (stat(input, &st) != 0) {
      free(fcopy);
      return cli_fail("%s: no such file or directory", input);
    }
    if (S_ISREG(st.st_mode)) total = (unsigned long long)st.st_size;
  }
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, &err)) {
    free(fcopy);
    return cli_fail_err(&err);
  }
  progress_ctx pc;
  cli_progress_start(&pc.bar, "indexing", total);
  io.progress = on_progress;
  io.progress_ctx = &pc;
  double t0 = now_seconds();
  blend_ingest_stats is;
  int rc = blend_ingest(w, input, &io, &is, &err);
  cli_progress_done(&pc.bar, is.docs, is.bytes);
  if (rc) {
    blend_writer_close(w);
    free(fcopy);
    cli_fail_err(&err);
    fprintf(stderr, "blend: nothing was committed; %s is unchanged%s\n", dir,
            io.skip_invalid ? "" : " (use --skip-invalid to index the valid lines)");
    return 1;
  }
  if (is.docs == 0 && is.skipped == 0 && !quiet)
    fprintf(stderr, "blend: warning: %s contains no documents\n", input);
  uint64_t dups = blend_writer_duplicates(w);
  rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  free(fcopy);
  if (rc) return cli_fail_err(&err);
  double secs = now_seconds() - t0;
  if (quiet) return 0;
  blend_index *ix;
  blend_index_stats xs = {0};
  if (blend_index_open(dir, &ix, &err) == BLEND_OK) {
    blend_index_stats_get(ix, &xs);
    blend_index_close(ix);
  }
  fprintf(stderr, "indexed %llu documents (%.1f MB) in %.2fs: %.0f docs/s, %.1f MB/s\n",
          (unsigned long long)is.docs, (double)is.bytes / 1e6, secs, (double)is.docs / secs,
          (double)is.bytes / 1e6 / secs);
  fprintf(stderr, "index %s: %llu live documents, %llu terms, %.1f MB on disk (%.2f× the input)\n", dir,
          (unsigned long long)xs.docs, (unsigned long long)xs.terms, (double)xs.bytes_on_disk / 1e6,
          is.bytes ? (double)xs.bytes_on_disk / (double)is.bytes : 0.0);
  if (dups)
    fprintf(stderr, "%llu duplicate ids: the last document with each id was kept\n",
            (unsigned long long)dups);
  if (is.empty) fprintf(stderr, "%llu documents have no text\n", (unsigned long long)is.empty);
  if (is.skipped)
    fprintf(stderr, "skipped %llu invalid lines/files; first: %s\n", (unsigned long long)is.skipped,
            is.first_skip);
  return 0;
}
