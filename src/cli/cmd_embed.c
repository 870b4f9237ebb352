/*
** cmd_embed.c — `blend embed`: encode texts from stdin with a bi-encoder
** model directory and write one vector per input, as JSON lines or raw
** little-endian float32 rows. Input is streamed in batches, so memory stays
** bounded whatever the input size.
*/
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/json_nul.h"

static void embed_usage(FILE *f) {
  fputs("usage: blend embed --model DIR [options] < texts\n"
        "\n"
        "Encode texts with a BERT-family bi-encoder (a Hugging Face /\n"
        "sentence-transformers directory with config.json, model.safetensors,\n"
        "vocab.txt). Input: one text per line; a line starting with '{' is a JSON\n"
        "object whose text is taken from --field (its \"_id\" or \"id\" is echoed).\n"
        "\n"
        "options:\n"
        "  --model DIR        model directory (required)\n"
        "  --format FMT       jsonl (default): {\"embedding\":[...]} per input, with\n"
        "                     \"id\" when the input object has one;\n"
        "                     f32: raw little-endian float32 rows of dim values\n"
        "  --field NAME       JSON field holding the text (default text)\n"
        "  --batch N          texts per forward pass (default 32)\n"
        "  --threads N        worker threads (default: all online cores)\n"
        "  --max-length N     tokens per text incl. [CLS]/[SEP] (default: the model's)\n"
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

typedef struct item {
  char *text;
  size_t len;
  char *id; /* NULL when absent */
} item;

/* Turn one input line into an item. Returns 0, or 1 (message printed). */
static int parse_line(char *line, size_t len, const char *field, unsigned long lineno, item *it) {
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
  it->id = NULL;
  if (len && line[0] == '{') {
    /* an escaped U+0000 must not cut the text: mark it, then drop it as
       Hugging Face's tokenizer does ("nul\u0000char" → "nulchar") */
    json_nul nul;
    size_t bad;
    int r = json_nul_protect(line, len, &nul, &bad);
    if (r == -1)
      return cli_fail("stdin line %lu: raw NUL byte at byte %zu (JSON needs the escape \\u0000)",
                      lineno, bad + 1);
    if (r) return cli_fail("stdin line %lu: cannot represent U+0000 in this line", lineno);
    cJSON *o = cJSON_ParseWithLength(line, len);
    if (!o || !cJSON_IsObject(o)) {
      cJSON_Delete(o);
      return cli_fail("stdin line %lu: starts with '{' but is not a JSON object", lineno);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, field);
    if (!cJSON_IsString(t)) {
      cJSON_Delete(o);
      return cli_fail("stdin line %lu: no string field \"%s\"", lineno, field);
    }
    it->text = strdup(t->valuestring);
    it->len = it->text ? json_nul_strip(&nul, it->text) : 0;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "_id");
    if (!id) id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (cJSON_IsString(id) && json_nul_has(&nul, id->valuestring)) {
      cJSON_Delete(o);
      free(it->text);
      return cli_fail("stdin line %lu: id contains U+0000", lineno);
    }
    if (cJSON_IsString(id)) it->id = strdup(id->valuestring);
    else if (cJSON_IsNumber(id)) it->id = cJSON_PrintUnformatted(id);
    cJSON_Delete(o);
  } else {
    it->text = malloc(len + 1);
    if (it->text) {
      memcpy(it->text, line, len);
      it->text[len] = 0;
    }
    it->len = len;
  }
  if (!it->text) return cli_fail("out of memory");
  return 0;
}

static int write_batch(blend_model *m, item *items, size_t n, int f32, float *vec,
                       const char **texts, size_t *lens) {
  blend_error err = {0};
  uint32_t dim = blend_model_dim(m);
  for (size_t i = 0; i < n; i++) {
    texts[i] = items[i].text;
    lens[i] = items[i].len;
  }
  if (blend_embed(m, texts, lens, n, vec, &err)) return cli_fail_err(&err);
  for (size_t i = 0; i < n; i++) {
    const float *v = vec + i * dim;
    if (f32) {
      if (fwrite(v, sizeof *v, dim, stdout) != dim) return cli_fail("write error on stdout");
      continue;
    }
    fputc('{', stdout);
    if (items[i].id) {
      fputs("\"id\":", stdout);
      cli_json_string(stdout, items[i].id, strlen(items[i].id));
      fputc(',', stdout);
    }
    fputs("\"embedding\":[", stdout);
    for (uint32_t k = 0; k < dim; k++) printf(k ? ",%.9g" : "%.9g", v[k]);
    fputs("]}\n", stdout);
  }
  if (ferror(stdout)) return cli_fail("write error on stdout");
  return 0;
}

int cmd_embed(int argc, char **argv) {
  const char *model_dir = NULL, *field = "text", *format = "jsonl";
  blend_model_options opts;
  blend_model_options_default(&opts);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_val = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      embed_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--int8")) {
      opts.precision = BLEND_PRECISION_INT8;
    } else if (!strcmp(a, "--bf16")) {
      opts.precision = BLEND_PRECISION_BF16;
    } else if (!strcmp(a, "--model") || !strcmp(a, "--format") || !strcmp(a, "--field") ||
               !strcmp(a, "--batch") || !strcmp(a, "--threads") || !strcmp(a, "--max-length")) {
      if (!has_val) {
        fprintf(stderr, "blend embed: %s needs a value\n", a);
        return 2;
      }
      const char *v = argv[++i];
      long n = 0;
      if (!strcmp(a, "--model")) model_dir = v;
      else if (!strcmp(a, "--format")) format = v;
      else if (!strcmp(a, "--field")) field = v;
      else if ((n = cli_parse_count(v, 1 << 20)) < 0) {
        fprintf(stderr, "blend embed: %s needs a positive integer, not '%s'\n", a, v);
        return 2;
      } else if (!strcmp(a, "--batch")) opts.batch = (uint32_t)n;
      else if (!strcmp(a, "--threads")) opts.threads = (int)(n > 256 ? 256 : n);
      else opts.max_length = (uint32_t)n;
    } else {
      fprintf(stderr, "blend embed: unknown argument '%s'\n\n", a);
      embed_usage(stderr);
      return 2;
    }
  }
  if (!model_dir) {
    fputs("blend embed: --model DIR is required\n\n", stderr);
    embed_usage(stderr);
    return 2;
  }
  int f32 = 0;
  if (!strcmp(format, "f32")) f32 = 1;
  else if (strcmp(format, "jsonl")) {
    fprintf(stderr, "blend embed: --format must be jsonl or f32, not '%s'\n", format);
    return 2;
  }
  blend_model *m = NULL;
  blend_error err = {0};
  if (blend_model_open(model_dir, &opts, &m, &err)) return cli_fail_err(&err);
  if (blend_model_is_cross_encoder(m)) {
    blend_model_close(m);
    return cli_fail("%s is a cross-encoder: use 'blend rerank'", model_dir);
  }
  size_t bs = opts.batch, n = 0;
  item *items = calloc(bs, sizeof *items);
  float *vec = malloc(bs * blend_model_dim(m) * sizeof *vec);
  const char **texts = malloc(bs * sizeof *texts);
  size_t *lens = malloc(bs * sizeof *lens);
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned long lineno = 0;
  int rc = (!items || !vec || !texts || !lens) ? cli_fail("out of memory") : 0;
  while (!rc && (len = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    rc = parse_line(line, (size_t)len, field, lineno, &items[n]);
    if (rc) break;
    if (++n == bs) {
      rc = write_batch(m, items, n, f32, vec, texts, lens);
      for (size_t i = 0; i < n; i++) {
        free(items[i].text);
        free(items[i].id);
      }
      n = 0;
    }
  }
  if (!rc && n) rc = write_batch(m, items, n, f32, vec, texts, lens);
  for (size_t i = 0; i < n; i++) {
    free(items[i].text);
    free(items[i].id);
  }
  if (!rc && ferror(stdin)) rc = cli_fail("read error on stdin");
  if (!rc && fflush(stdout)) rc = cli_fail("write error on stdout");
  free(line);
  free(items);
  free(vec);
  free(texts);
  free(lens);
  blend_model_close(m);
  return rc;
}
