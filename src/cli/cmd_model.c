/*
** cmd_model.c — `blend model pull`: download an encoder from a Hugging
** Face-compatible hub (blend_model_pull) with a progress bar on stderr.
** stdout gets only the model directory, so scripts can capture it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hub/hub.h"
#include "util/util.h"

static void usage(FILE *f) {
  fputs("usage: blend model pull ORG/NAME [--dir DIR] [--endpoint URL] [--revision REV]\n"
        "                         [--connect-timeout SEC] [--stall-timeout SEC] [--quiet]\n"
        "\n"
        "Subcommands:\n"
        "  pull   download a BERT-family encoder (bi-encoder or cross-encoder) from a\n"
        "         Hugging Face-compatible hub into a directory blend can load\n",
        f);
}

static void pull_help(FILE *f) {
  fputs(
      "usage: blend model pull ORG/NAME [options]\n"
      "\n"
      "Download the files a blend encoder needs from a Hugging Face-compatible hub:\n"
      "  config.json, vocab.txt, tokenizer.json, tokenizer_config.json,\n"
      "  special_tokens_map.json, model.safetensors, modules.json,\n"
      "  sentence_bert_config.json, config_sentence_transformers.json,\n"
      "  1_Pooling/config.json (those the repository has). Other weight formats\n"
      "  (pytorch_model.bin, ONNX, ...) are never fetched; a repository without\n"
      "  model.safetensors (or config.json) is refused: blend reads safetensors only.\n"
      "\n"
      "options:\n"
      "  --dir DIR             destination directory, created if missing (default:\n"
      "                        $BLEND_MODELS/ORG__NAME when BLEND_MODELS is set,\n"
      "                        else ./models/ORG__NAME)\n"
      "  --endpoint URL        hub base URL (default: $HF_ENDPOINT, else\n"
      "                        https://huggingface.co)\n"
      "  --revision REV        branch, tag or commit (default: main); files are fetched\n"
      "                        at the commit the revision points to when the pull starts\n"
      "  --connect-timeout SEC give up connecting after SEC seconds (default 15)\n"
      "  --stall-timeout SEC   give up when no data arrives (or under 1 KB/s) for SEC\n"
      "                        seconds (default 30)\n"
      "  -q, --quiet           no progress output\n"
      "  -h, --help            this help\n"
      "\n"
      "environment:\n"
      "  HF_TOKEN              access token for private or gated repositories, sent as\n"
      "                        \"Authorization: Bearer\" (not to other hosts after a\n"
      "                        redirect). When unset, the token file is read as\n"
      "                        huggingface_hub does: $HF_TOKEN_PATH, $HF_HOME/token or\n"
      "                        ~/.cache/huggingface/token. HF_TOKEN= (empty) sends none.\n"
      "  HF_ENDPOINT           hub base URL (a mirror), overridden by --endpoint\n"
      "  BLEND_MODELS          parent directory for default destinations\n"
      "  https_proxy, ...      proxies, as libcurl reads them\n"
      "\n"
      "How it downloads: the file list with sizes and checksums comes from\n"
      "  {endpoint}/api/models/ORG/NAME/revision/REV?blobs=true; each file from\n"
      "  {endpoint}/ORG/NAME/resolve/COMMIT/PATH, following redirects (the hub sends\n"
      "  large files to a CDN). Bytes go to DIR/.partial/PATH.part; an interrupted\n"
      "  pull resumes from there when run again (HTTP Range request). A file enters\n"
      "  DIR only once its size and checksum match the hub's (SHA-256 for LFS files,\n"
      "  git blob id otherwise) and it is synced to disk. A resumed file that fails\n"
      "  its checksum is fetched once more from the start; a fresh download that\n"
      "  fails it is deleted and the pull fails naming both hashes. Files already\n"
      "  in DIR that match are skipped, so pulling again only fetches what changed.\n"
      "\n"
      "output: the model directory on stdout; progress (a bar when stderr is a\n"
      "  terminal, one line per file otherwise) and a summary on stderr.\n"
      "exit status: 0 done, 1 download or verification error, 2 usage error.\n",
      f);
}

typedef struct bar {
  int tty, quiet;
  double start, last;    /* this file's start and last redraw */
  uint64_t from;         /* bytes already on disk when the file started */
  int drawn;
} bar;

static void human(char *out, size_t cap, double b) {
  if (b >= 1e9) snprintf(out, cap, "%.2f GB", b / 1e9);
  else if (b >= 1e6) snprintf(out, cap, "%.1f MB", b / 1e6);
  else if (b >= 1e3) snprintf(out, cap, "%.1f kB", b / 1e3);
  else snprintf(out, cap, "%.0f B", b);
}

static void draw(bar *b, const blend_pull_event *ev, double t) {
  char got[32], tot[32];
  double el = t - b->start;
  double rate = el > 0 ? (double)(ev->bytes - b->from) / el : 0;
  human(got, sizeof got, (double)ev->bytes);
  human(tot, sizeof tot, (double)ev->size);
  fprintf(stderr, "\r[%u/%u] %-24s %9s / %-9s %6.1f MB/s", ev->index + 1, ev->count, ev->file,
          got, ev->size ? tot : "?", rate / 1e6);
  if (ev->size && ev->bytes <= ev->size) {
    double frac = (double)ev->bytes / (double)ev->size;
    char cells[21];
    int k = (int)(frac * 20);
    for (int i = 0; i < 20; i++) cells[i] = i < k ? '#' : '.';
    cells[20] = 0;
    fprintf(stderr, " [%s] %3.0f%%", cells, frac * 100);
    if (rate > 0 && ev->bytes < ev->size)
      fprintf(stderr, " ETA %.0fs", (double)(ev->size - ev->bytes) / rate);
  }
  fputs("\x1b[K", stderr);
  b->drawn = 1;
}

static int on_progress(void *ctx, const blend_pull_event *ev) {
  bar *b = ctx;
  if (b->quiet) return 0;
  double t = now_seconds();
  char sz[32];
  human(sz, sizeof sz, (double)ev->size);
  switch (ev->kind) {
    case BLEND_PULL_START:
      b->start = b->last = t;
      b->from = ev->bytes;
      b->drawn = 0;
      if (ev->bytes) {
        char at[32];
        human(at, sizeof at, (double)ev->bytes);
        fprintf(stderr, "%sresuming %s at %s of %s\n", b->tty ? "\r\x1b[K" : "", ev->file, at, sz);
      }
      if (b->tty) draw(b, ev, t);
      break;
    case BLEND_PULL_DATA:
      if (b->tty && t - b->last >= 0.1) {
        b->last = t;
        draw(b, ev, t);
      }
      break;
    case BLEND_PULL_DONE:
      if (b->tty) {
        draw(b, ev, t);
        fputc('\n', stderr);
      } else {
        fprintf(stderr, "[%u/%u] %s: downloaded, %s, verified\n", ev->index + 1, ev->count,
                ev->file, sz);
      }
      break;
    case BLEND_PULL_SKIP:
      fprintf(stderr, "%s[%u/%u] %s: already present, verified\n", b->tty ? "\r\x1b[K" : "",
              ev->index + 1, ev->count, ev->file);
      break;
  }
  return 0;
}

/* "--name value" or "--name=value"; advances *i. Returns the value, or NULL
** when argv[*i] is not this option. Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n)) return NULL;
  if (a[n] == '=') return a + n + 1;
  if (a[n]) return NULL;
  if (*i + 1 >= argc) {
    *missing = 1;
    return NULL;
  }
  return argv[++*i];
}

static int parse_seconds(const char *s, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v <= 0 || v > 86400) return -1;
  *out = v;
  return 0;
}

static int cmd_pull(int argc, char **argv) {
  const char *repo = NULL, *dir = NULL;
  blend_pull_options o;
  blend_pull_options_default(&o);
  int quiet = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    int missing = 0;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      pull_help(stdout);
      return 0;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      quiet = 1;
    } else if ((v = opt_value(argc, argv, &i, "--dir", &missing))) {
      dir = v;
    } else if ((v = opt_value(argc, argv, &i, "--endpoint", &missing))) {
      o.endpoint = v;
    } else if ((v = opt_value(argc, argv, &i, "--revision", &missing))) {
      o.revision = v;
    } else if ((v = opt_value(argc, argv, &i, "--connect-timeout", &missing))) {
      if (parse_seconds(v, &o.connect_timeout)) {
        fprintf(stderr, "blend model pull: --connect-timeout wants seconds (1..86400), got '%s'\n", v);
        return 2;
      }
    } else if ((v = opt_value(argc, argv, &i, "--stall-timeout", &missing))) {
      if (parse_seconds(v, &o.stall_timeout)) {
        fprintf(stderr, "blend model pull: --stall-timeout wants seconds (1..86400), got '%s'\n", v);
        return 2;
      }
    } else if (missing) {
      fprintf(stderr, "blend model pull: %s needs a value\n", a);
      return 2;
    } else if (a[0] == '-') {
      fprintf(stderr, "blend model pull: unknown option '%s' (see blend model pull --help)\n", a);
      return 2;
    } else if (!repo) {
      repo = a;
    } else {
      fprintf(stderr, "blend model pull: one repository at a time ('%s' and '%s')\n", repo, a);
      return 2;
    }
    if (missing) {
      fprintf(stderr, "blend model pull: %s needs a value\n", a);
      return 2;
    }
  }
  if (!repo) {
    fprintf(stderr, "blend model pull: which repository? e.g. blend model pull "
                    "sentence-transformers/all-MiniLM-L6-v2\n\n");
    usage(stderr);
    return 2;
  }
  blend_error err = {0};
  if (hub_check_repo_id(repo, &err)) { /* before it becomes a path below */
    cli_fail_err(&err);
    return 2;
  }
  char defdir[4096];
  if (!dir) {
    const char *root = getenv("BLEND_MODELS");
    char name[256];
    size_t j = 0;
    for (const char *c = repo; *c && j + 3 < sizeof name; c++) {
      if (*c == '/') {
        name[j++] = '_';
        name[j++] = '_';
      } else {
        name[j++] = *c;
      }
    }
    name[j] = 0;
    snprintf(defdir, sizeof defdir, "%s/%s", root && *root ? root : "./models", name);
    dir = defdir;
  }
  bar b = {.tty = isatty(2), .quiet = quiet};
  o.progress = on_progress;
  o.progress_ctx = &b;
  blend_pull_result res;
  int rc = blend_model_pull(repo, dir, &o, &res, &err);
  if (rc) {
    if (b.tty && !quiet) fputs("\r\x1b[K", stderr);
    return cli_fail_err(&err);
  }
  if (!quiet) {
    char got[32], tot[32];
    human(got, sizeof got, (double)res.bytes_downloaded);
    human(tot, sizeof tot, (double)res.bytes_total);
    fprintf(stderr, "%s@%s -> %s: %u files (%s), %u downloaded (%s received), %u already present\n",
            repo, o.revision ? o.revision : "main", dir, res.files, tot, res.downloaded, got,
            res.skipped);
  }
  printf("%s\n", dir);
  return 0;
}

int cmd_model(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    fputs("\nSee blend model pull --help for options.\n", stdout);
    return 0;
  }
  if (!strcmp(argv[1], "pull")) return cmd_pull(argc - 1, argv + 1);
  fprintf(stderr, "blend model: unknown subcommand '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
