/*
** cmd_search.c — `blend search`: run one query, print ranked hits with a
** title and a highlighted snippet, as text or one JSON object per hit.
*/
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

static const char usage_text[] =
    "usage: blend search --index DIR [options] QUERY...\n"
    "\n"
    "Query syntax: words (any may match, ranked by BM25), +word (must match),\n"
    "-word (must not match), \"a phrase\", field:word, field:\"a phrase\".\n"
    "\n"
    "options:\n"
    "  -x, --index DIR        index directory (required)\n"
    "  -k N                   number of hits (default 10)\n"
    "      --json             one JSON object per hit: rank, id, score, title, snippet\n"
    "      --explain          each matching term's field, tf, df and score\n"
    "      --snippet-bytes N  snippet length (default 200; 0 = no snippet)\n" CLI_SEARCH_OPTIONS_HELP
    "  -h, --help             this help\n";

static void print_explain_text(const blend_hit *h) {
  for (uint32_t t = 0; t < h->nterms; t++) {
    const blend_term_score *e = &h->terms[t];
    if (strchr(e->term, ' '))
      printf("      %-8s \"%s\"  tf=%-4u (phrase) %.4f\n", e->field, e->term, e->tf, e->score);
    else
      printf("      %-8s %-20s tf=%-4u df=%-6u %.4f\n", e->field, e->term, e->tf, e->df, e->score);
  }
}

int cmd_search(int argc, char **argv) {
  static const struct option longopts[] = {
      {"index", required_argument, 0, 'x'}, {"json", no_argument, 0, 1},
      {"explain", no_argument, 0, 2},       {"snippet-bytes", required_argument, 0, 3},
      {"k1", required_argument, 0, 10},     {"b", required_argument, 0, 11},
      {"fields", required_argument, 0, 12}, {"field-weight", required_argument, 0, 13},
      {"algorithm", required_argument, 0, 14}, {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *dir = NULL;
  int json = 0;
  long snippet_bytes = 200;
  blend_search_options so;
  blend_search_options_default(&so);
  int c, idx;
  optind = 1;
  while ((c = getopt_long(argc, argv, "x:k:h", longopts, &idx)) != -1) {
    switch (c) {
      case 'x': dir = optarg; break;
      case 'k': {
        char *end;
        long k = strtol(optarg, &end, 10);
        if (*end || k < 0 || k > 100000) return cli_fail("-k: expected 0..100000, got %s", optarg);
        so.k = (uint32_t)k;
        break;
      }
      case 1: json = 1; break;
      case 2: so.explain = 1; break;
      case 3: snippet_bytes = strtol(optarg, NULL, 10); break;
      case 10: case 11: case 12: case 13: case 14:
        if (cli_search_option(&so, longopts[idx].name, optarg)) return 2;
        break;
      case 'h': fputs(usage_text, stdout); return 0;
      default: fputs(usage_text, stderr); return 2;
    }
  }
  if (!dir || optind >= argc) {
    fputs(usage_text, stderr);
    return 2;
  }
  bbuf qb = {0};
  for (int i = optind; i < argc; i++) {
    if (i > optind) bbuf_putc(&qb, ' ');
    bbuf_append(&qb, argv[i], strlen(argv[i]));
  }
  bbuf_putc(&qb, 0);
  const char *query = (const char *)qb.data;

  blend_error err = {0};
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, &err)) {
    bbuf_free(&qb);
    return cli_fail_err(&err);
  }
  if (blend_searcher_new(ix, &s, &err)) {
    blend_index_close(ix);
    bbuf_free(&qb);
    return cli_fail_err(&err);
  }
  blend_results r;
  int rc = blend_search(s, query, &so, &r, &err);
  if (rc) {
    cli_fail_err(&err);
    goto out;
  }
  if (r.nquery_terms == 0 && !json)
    fprintf(stderr, "blend: the query has no searchable terms (empty, or only stopwords)\n");
  int tty = isatty(1);
  const char *open = json ? "<b>" : tty ? "\x1b[1;33m" : "[", *close = json ? "</b>" : tty ? "\x1b[0m" : "]";
  for (uint32_t i = 0; i < r.count; i++) {
    const blend_hit *h = &r.hits[i];
    const char *id, *title = "", *snip = "";
    size_t idlen, tlen = 0;
    blend_searcher_doc_id(s, h->doc, &id, &idlen, NULL);
    if (blend_searcher_doc_field(s, h->doc, "title", &title, &tlen, NULL)) title = "", tlen = 0;
    char *tcopy = strndup(title, tlen);
    if (snippet_bytes > 0 &&
        blend_searcher_snippet(s, h->doc, "text", query, (size_t)snippet_bytes, open, close, &snip, NULL))
      snip = "";
    if (json) {
      printf("{\"rank\":%u,\"id\":", i + 1);
      cli_json_string(stdout, id, idlen);
      printf(",\"score\":%.6f,\"title\":", h->score);
      cli_json_string(stdout, tcopy ? tcopy : "", tcopy ? strlen(tcopy) : 0);
      printf(",\"snippet\":");
      cli_json_string(stdout, snip, strlen(snip));
      if (so.explain) {
        printf(",\"explain\":[");
        for (uint32_t t = 0; t < h->nterms; t++) {
          printf("%s{\"field\":", t ? "," : "");
          cli_json_string(stdout, h->terms[t].field, strlen(h->terms[t].field));
          printf(",\"term\":");
          cli_json_string(stdout, h->terms[t].term, strlen(h->terms[t].term));
          printf(",\"tf\":%u,\"df\":%u,\"score\":%.6f}", h->terms[t].tf, h->terms[t].df,
                 h->terms[t].score);
        }
        printf("]");
      }
      printf("}\n");
    } else {
      printf("%3u. %.*s  (%.4f)  %s\n", i + 1, (int)idlen, id, h->score, tcopy ? tcopy : "");
      if (*snip) printf("     %s\n", snip);
      if (so.explain) print_explain_text(h);
    }
    free(tcopy);
  }
out:
  blend_searcher_free(s);
  blend_index_close(ix);
  bbuf_free(&qb);
  return rc ? 1 : 0;
}
