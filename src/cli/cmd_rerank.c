/*
** cmd_rerank.c — `blend rerank`: score documents from stdin against a query
** with a cross-encoder model directory and print them best first as
** "score<TAB>document".
*/
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/json_nul.h"

static void rerank_usage(FILE *f) {
  fputs("usage: blend rerank --model DIR --query TEXT [options] < docs\n"
        "\n"
        "Score each document against the query with a BERT cross-encoder\n"
        "(BertForSequenceClassification, 1 label) and print \"score<TAB>doc\" lines,\n"
        "best first (ties keep input order). The score is the raw logit; apply a\n"
        "sigmoid for sentence-transformers' CrossEncoder.predict value.\n"
        "Input: one document per line; a line starting with '{' is a JSON object\n"
        "whose text is taken from --field, and is printed back as given.\n"
        "\n"
        "options:\n"
        "  --model DIR        model directory (required)\n"
        "  --query TEXT       the query (required)\n"
        "  -k N               print only the best N (default: all)\n"
        "  --field NAME       JSON field holding the text (default text)\n"
        "  --batch N          pairs per forward pass (default 32)\n"
        "  --threads N        worker threads (default: all online cores)\n"
        "  --max-length N     tokens per pair (default: the model's, at most 512)\n"
        "  --int8             int8-quantised linear layers (faster, approximate)\n"
        "  --bf16             feed-forward layers in bf16 (float32 sums), attention in\n"
        "                     float32: cosine >= 0.9999 to f32 (needs a CPU with\n"
        "                     AVX-512 BF16: fails with a message elsewhere;\n"
        "                     `blend doctor` shows what this CPU has)\n"
        "  -h, --help         this help\n"
        "\n"
        "exit status: 0 ok, 1 runtime error (model, input), 2 usage error\n",
        f);
}

typedef struct doc {
  char *line;   /* as printed (line_len bytes: may hold raw NUL bytes) */
  size_t line_len;
  char *text;   /* as scored (== line for plain text) */
  size_t len;
  size_t order;
  float score;
} doc;

static int by_score(const void *a, const void *b) {
  const doc *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

int cmd_rerank(int argc, char **argv) {
  const char *model_dir = NULL, *query = NULL, *field = "text";
  long k = 0;
  blend_model_options opts;
  blend_model_options_default(&opts);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      rerank_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--int8")) {
      opts.precision = BLEND_PRECISION_INT8;
    } else if (!strcmp(a, "--bf16")) {
      opts.precision = BLEND_PRECISION_BF16;
    } else if (!strcmp(a, "--model") || !strcmp(a, "--query") || !strcmp(a, "--field") ||
               !strcmp(a, "-k") || !strcmp(a, "--batch") || !strcmp(a, "--threads") ||
               !strcmp(a, "--max-length")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "blend rerank: %s needs a value\n", a);
        return 2;
      }
      const char *v = argv[++i];
      long n = 0;
      if (!strcmp(a, "--model")) model_dir = v;
      else if (!strcmp(a, "--query")) query = v;
      else if (!strcmp(a, "--field")) field = v;
      else if ((n = cli_parse_count(v, 1L << 30)) < 0) {
        fprintf(stderr, "blend rerank: %s needs a positive integer, not '%s'\n", a, v);
        return 2;
      } else if (!strcmp(a, "-k")) k = n;
      else if (!strcmp(a, "--batch")) opts.batch = (uint32_t)(n > (1 << 20) ? 1 << 20 : n);
      else if (!strcmp(a, "--threads")) opts.threads = (int)(n > 256 ? 256 : n);
      else opts.max_length = (uint32_t)(n > (1 << 20) ? 1 << 20 : n);
    } else {
      fprintf(stderr, "blend rerank: unknown argument '%s'\n\n", a);
      rerank_usage(stderr);
      return 2;
    }
  }
  if (!model_dir || !query) {
    fprintf(stderr, "blend rerank: %s is required\n\n", !model_dir ? "--model DIR" : "--query TEXT");
    rerank_usage(stderr);
    return 2;
  }
  blend_model *m = NULL;
  blend_error err = {0};
  if (blend_model_open(model_dir, &opts, &m, &err)) return cli_fail_err(&err);
  if (!blend_model_is_cross_encoder(m)) {
    blend_model_close(m);
    return cli_fail("%s is a bi-encoder, not a cross-encoder: use 'blend embed'", model_dir);
  }
  doc *docs = NULL;
  size_t n = 0, cap = 0, lcap = 0;
  char *line = NULL;
  ssize_t len;
  int rc = 0;
  while (!rc && (len = getline(&line, &lcap, stdin)) >= 0) {
    size_t l = (size_t)len;
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) l--;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      doc *d = realloc(docs, cap * sizeof *d);
      if (!d) {
        rc = cli_fail("out of memory");
        break;
      }
      docs = d;
    }
    doc *d = &docs[n];
    memset(d, 0, sizeof *d);
    d->order = n;
    d->line = malloc(l + 1); /* not strndup: a raw NUL byte would cut it short of l */
    if (!d->line) {
      rc = cli_fail("out of memory");
      break;
    }
    memcpy(d->line, line, l);
    d->line[l] = 0;
    d->line_len = l;
    n++;
    json_nul nul = {0};
    size_t bad;
    if (l && line[0] == '{' && json_nul_protect(line, l, &nul, &bad)) {
      rc = cli_fail("stdin line %zu: raw NUL byte or unrepresentable U+0000", n);
    } else if (l && line[0] == '{') {
      /* an escaped U+0000 is dropped from the text, not cut at */
      cJSON *o = cJSON_ParseWithLength(line, l);
      const cJSON *t = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, field) : NULL;
      if (!cJSON_IsString(t)) {
        rc = cli_fail(o ? "stdin line %zu: no string field \"%s\""
                        : "stdin line %zu: starts with '{' but is not JSON (%s)",
                      n, o ? field : "parse error");
      } else {
        d->text = strdup(t->valuestring);
        if (!d->text) rc = cli_fail("out of memory");
        else d->len = json_nul_strip(&nul, d->text);
      }
      cJSON_Delete(o);
    } else {
      d->text = d->line;
      d->len = l;
    }
  }
  free(line);
  if (!rc && ferror(stdin)) rc = cli_fail("read error on stdin");
  if (!rc && n) {
    const char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens);
    float *scores = malloc(n * sizeof *scores);
    if (!texts || !lens || !scores) rc = cli_fail("out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
      texts[i] = docs[i].text;
      lens[i] = docs[i].len;
    }
    if (!rc && blend_rerank(m, query, strlen(query), texts, lens, n, scores, &err))
      rc = cli_fail_err(&err);
    if (!rc) {
      for (size_t i = 0; i < n; i++) docs[i].score = scores[i];
      qsort(docs, n, sizeof *docs, by_score);
      size_t show = k && (size_t)k < n ? (size_t)k : n;
      for (size_t i = 0; i < show; i++) {
        printf("%.6f\t", docs[i].score);
        fwrite(docs[i].line, 1, docs[i].line_len, stdout);
        putchar('\n');
      }
      if (fflush(stdout) || ferror(stdout)) rc = cli_fail("write error on stdout");
    }
    free(texts);
    free(lens);
    free(scores);
  }
  for (size_t i = 0; i < n; i++) {
    if (docs[i].text != docs[i].line) free(docs[i].text);
    free(docs[i].line);
  }
  free(docs);
  blend_model_close(m);
  return rc;
}
