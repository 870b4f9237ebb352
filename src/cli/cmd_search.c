/*
** cmd_search.c — `blend search`: run one query, print ranked hits with a
** title and a highlighted snippet, as text or one JSON object per hit.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

static const char usage_text[] =
    "usage: blend search --index DIR [options] QUERY...\n"
    "       blend search --index DIR --mode dense [--vector '[...]'] [QUERY...]\n"
    "\n"
    "Lexical query syntax: words (any may match, ranked by BM25), +word (must\n"
    "match), -word (must not match), \"a phrase\", field:word, field:\"a phrase\".\n"
    "Dense mode encodes QUERY with the index's model (or takes --vector) and\n"
    "returns its nearest documents (HNSW, or --exact).\n"
    "\n"
    "options:\n"
    "  -x, --index DIR        index directory (required)\n"
    "  -k N                   number of hits (default 10)\n"
    "      --json             one JSON object per hit: rank, id, score, title, snippet\n"
    "      --explain          each matching term's field, tf, df and score\n"
    "      --snippet-bytes N  snippet length (default 200; 0 = no snippet)\n" CLI_SEARCH_OPTIONS_HELP
    "dense (--mode dense):\n"
    "      --vector '[..]'    the query vector (JSON array) instead of encoding QUERY\n"
    "      --ef N             HNSW candidate list (default max(k, 64))\n"
    "      --exact            exact scan instead of HNSW\n"
    "      --model DIR        the query encoder (default: the one recorded in the index;\n"
    "                         it must be the same model)\n"
    "      --int8, --threads N  int8 query encoding; encoder threads\n" HYBRID_OPTIONS_HELP
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

/* Hits of the dense leg: the query vector from --vector or the index's
** encoder. */
static int dense_search(blend_index *ix, blend_searcher *s, const cli_query_opts *q, const char *query,
                        blend_results *r, blend_error *err) {
  blend_vector_config vc;
  if (blend_index_vector_config(ix, &vc, err)) return cli_fail_err(err);
  float *vec = NULL;
  int rc = 0;
  if (q->vector) {
    if (cli_parse_vector(q->vector, vc.dim, &vec, "--vector")) return 1;
  } else {
    if (!*query) return cli_fail("dense search needs a QUERY or --vector");
    blend_model *m;
    if (cli_open_query_model(ix, q, &m)) return 1;
    vec = malloc(vc.dim * sizeof *vec);
    if (!vec) rc = cli_fail("out of memory");
    else if (blend_index_embed_query(ix, m, query, strlen(query), vec, err)) rc = cli_fail_err(err);
    blend_model_close(m);
  }
  blend_dense_options d;
  blend_dense_options_default(&d);
  d.k = q->so.k;
  d.ef = q->ho.ef;
  d.exact = q->ho.exact;
  d.filter = q->so.filter;
  if (!rc && blend_search_vector(s, vec, vc.dim, &d, r, err)) rc = cli_fail_err(err);
  free(vec);
  return rc;
}

int cmd_search(int argc, char **argv) {
  const char *dir = NULL;
  int json = 0;
  long snippet_bytes = 200;
  cli_query_opts q;
  cli_query_opts_init(&q);
  char *end;
  int first_word = argc;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || !strcmp(a, "-") || (a[1] != '-' && a[1] != 'x' && a[1] != 'k' && a[1] != 'h')) {
      first_word = i;
      break;
    }
    if (!strcmp(a, "--")) {
      first_word = i + 1;
      break;
    }
    char name[64];
    const char *val = NULL;
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + (a[1] == '-' ? 2 : 1));
    if (nl >= sizeof name) return cli_fail("unknown option %s", a) + 1;
    memcpy(name, a + (a[1] == '-' ? 2 : 1), nl);
    name[nl] = 0;
    if (eq) val = eq + 1;
    if (!strcmp(name, "h") || !strcmp(name, "help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    int takes = !strcmp(name, "x") || !strcmp(name, "index") || !strcmp(name, "k") ||
                !strcmp(name, "snippet-bytes") || cli_query_opts_takes_value(name);
    if (takes && !val) {
      if (i + 1 >= argc) return cli_fail("%s needs a value", a) + 1;
      val = argv[++i];
    }
    if (!strcmp(name, "x") || !strcmp(name, "index")) dir = val;
    else if (!strcmp(name, "k")) {
      long k = strtol(val, &end, 10);
      if (*end || end == val || k < 0 || k > 100000) return cli_fail("-k: expected 0..100000, got %s", val) + 1;
      q.so.k = (uint32_t)k;
    } else if (!strcmp(name, "json")) json = 1;
    else if (!strcmp(name, "explain")) q.so.explain = 1;
    else if (!strcmp(name, "snippet-bytes")) {
      snippet_bytes = strtol(val, &end, 10);
      if (*end || end == val || snippet_bytes < 0 || snippet_bytes > 100000)
        return cli_fail("--snippet-bytes: expected 0..100000, got %s", val) + 1;
    } else {
      int r = cli_query_opts_set(&q, name, val);
      if (r < 0) return 2;
      if (r == 0) {
        fprintf(stderr, "blend: unknown option %s\n", a);
        fputs(usage_text, stderr);
        return 2;
      }
    }
  }
  int dense = q.ho.mode == HYBRID_MODE_DENSE;
  if (!dir || (first_word >= argc && !((dense || q.ho.mode == HYBRID_MODE_HYBRID) && q.vector))) {
    fputs(usage_text, stderr);
    return 2;
  }
  int hybrid = q.ho.mode == HYBRID_MODE_HYBRID;
  if (q.vector && !dense && !hybrid) return cli_fail("--vector needs --mode dense or hybrid");
  int optind_words = first_word;
  blend_filter *filter = NULL;
  if (cli_query_opts_finish(&q, &filter)) return 1;
  bbuf qb = {0};
  for (int i = optind_words; i < argc; i++) {
    if (i > optind_words) bbuf_putc(&qb, ' ');
    bbuf_append(&qb, argv[i], strlen(argv[i]));
  }
  bbuf_putc(&qb, 0);
  const char *query = (const char *)qb.data;

  blend_error err = {0};
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, &err)) {
    bbuf_free(&qb);
    blend_filter_free(filter);
    return cli_fail_err(&err);
  }
  if (blend_searcher_new(ix, &s, &err)) {
    blend_index_close(ix);
    bbuf_free(&qb);
    blend_filter_free(filter);
    return cli_fail_err(&err);
  }
  blend_results r;
  int rc;
  if (hybrid) {
    float *vec = NULL;
    blend_vector_config vc = {0};
    rc = 0;
    if (q.vector) {
      if (blend_index_vector_config(ix, &vc, &err)) rc = cli_fail_err(&err);
      else if (cli_parse_vector(q.vector, vc.dim, &vec, "--vector")) rc = 1;
    }
    blend_searcher_free(s);
    s = NULL;
    if (!rc) rc = hybrid_cli_search(ix, &q.ho, &q.so, vec, vc.dim, query, json, snippet_bytes);
    free(vec);
    goto out;
  }
  if (dense) rc = dense_search(ix, s, &q, query, &r, &err);
  else if ((rc = blend_search(s, query, &q.so, &r, &err))) cli_fail_err(&err);
  if (rc) goto out;
  if (!dense && r.nquery_terms == 0 && !json)
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
    if (snippet_bytes > 0 && *query &&
        blend_searcher_snippet(s, h->doc, "text", query, (size_t)snippet_bytes, open, close, &snip, NULL))
      snip = "";
    if (json) {
      printf("{\"rank\":%u,\"id\":", i + 1);
      cli_json_string(stdout, id, idlen);
      printf(",\"score\":%.6f,\"title\":", h->score);
      cli_json_string(stdout, tcopy ? tcopy : "", tcopy ? strlen(tcopy) : 0);
      printf(",\"snippet\":");
      cli_json_string(stdout, snip, strlen(snip));
      if (q.so.explain && !dense) {
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
      if (q.so.explain && !dense) print_explain_text(h);
    }
    free(tcopy);
  }
out:
  blend_filter_free(filter);
  blend_searcher_free(s);
  blend_index_close(ix);
  bbuf_free(&qb);
  return rc == 2 ? 2 : rc ? 1 : 0;
}
