/*
** cmd_eval.c — `blend eval`: score a BM25 configuration (run every judged
** BEIR query through the index) or an existing TREC run against qrels, with
** trec_eval's arithmetic (src/eval). Prints a table, one JSON line, and
** optionally per-query values; can write the run it made in TREC format.
*/
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ingest/vectors.h"
#include "util/json_nul.h"
#include "util/util.h"

#define DEFAULT_METRICS "ndcg@10,recall@100,mrr@10,map@100,p@10"
#define DEFAULT_DEPTH 1000 /* as Anserini's BEIR runs */
#define MAX_METRICS 64

static void usage(FILE *f) {
  fprintf(f,
          "usage: blend eval --index DIR --queries queries.jsonl --qrels FILE [options]\n"
          "       blend eval --run FILE.trec --qrels FILE [options]   (--run - : stdin)\n"
          "\n"
          "Score BM25 search over an index (first form: every query of the qrels is\n"
          "searched) or an existing TREC run (second form) against relevance judgements,\n"
          "with trec_eval's arithmetic.\n"
          "\n"
          "options:\n"
          "  --qrels FILE           TREC qrels (qid iter docid rel) or BEIR TSV\n"
          "                         (query-id corpus-id score, with header); rel > 0 is\n"
          "                         relevant and is the nDCG gain; repeated pairs: last wins\n"
          "  --metrics LIST         comma-separated (default " DEFAULT_METRICS ")\n"
          "                         ndcg@K recall@K mrr@K map@K p@K, or uncut ndcg recall\n"
          "                         mrr map; trec_eval names (ndcg_cut_10, P_5, recip_rank)\n"
          "                         work too\n"
          "  --json                 print one JSON line {\"queries\": N, \"ndcg@10\": ...}\n"
          "  --per-query            also print each query's values (TSV, or JSON lines)\n"
          "  --ignore-identical-ids drop retrieved docs whose id equals the query id (BEIR's\n"
          "                         evaluate() default; matters on ArguAna and Quora)\n"
          "\n"
          "search form:\n"
          "  --index DIR            index built by `blend index`\n"
          "  --queries FILE         BEIR queries.jsonl ({\"_id\": ..., \"text\": ...} per line);\n"
          "                         text is searched as a bag of words (quotes, +/- prefixes\n"
          "                         and field: syntax are neutralised)\n"
          "  -k N                   hits per query (default: the largest cutoff, at least "
          "%d)\n"
          "  --run FILE             also write the run in TREC format\n"
          "  --tag NAME             run tag written in the run (default blend)\n"
          CLI_SEARCH_OPTIONS_HELP
          "  --mode dense           nearest-neighbour search over the vector field: every\n"
          "                         query is encoded by the index's model (batched)\n"
          "  --query-vectors FILE   dense: the queries' vectors (JSONL {\"_id\", \"vector\"})\n"
          "  --ef N, --exact        dense: HNSW candidate list, or an exact scan\n"
          "  --model DIR, --int8, --threads N  dense: query encoder options\n"
          HYBRID_OPTIONS_HELP
          "\n"
          "Semantics (as trec_eval 9): ranking by score, ties by docid in descending byte\n"
          "order; the rank column of a run is ignored; a duplicate (qid, docid) in a run is\n"
          "an error. Every qrels query counts in the mean, as `trec_eval -c`: one with no\n"
          "results scores 0, one judged only rel <= 0 scores 0. Run queries without\n"
          "judgements are skipped. mrr@K is recip_rank cut at K (BEIR's MRR@K); mrr is\n"
          "trec_eval's uncut recip_rank.\n"
          "\n"
          "exit status: 0 ok, 1 runtime error, 2 usage error\n",
          DEFAULT_DEPTH);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("blend eval: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n(see blend eval --help)\n", stderr);
  return 2;
}

typedef struct opts {
  const char *index, *queries, *qrels, *run, *tag;
  char metrics_buf[1024];
  const char *metrics[MAX_METRICS];
  size_t nmetrics;
  int json, per_query, ignore_ids;
  long k;
  int search_opts;      /* a search option was given (needs --index) */
  cli_query_opts q;
} opts;

/* Parse argv; returns 0, or an exit status (2 usage, 0 for --help) + 100. */
static int parse_args(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  cli_query_opts_init(&o->q);
  o->k = -1;
  snprintf(o->metrics_buf, sizeof o->metrics_buf, "%s", DEFAULT_METRICS);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    char name[64];
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = 0;
      val = eq + 1;
      a = name;
    }
#define FLAG(s) (!strcmp(a, s))
#define VALUE()                                                                  \
  (val ? val : (i + 1 < argc ? argv[++i] : (usage_error("%s needs a value", a), (const char *)NULL)))
    if (FLAG("--help") || FLAG("-h")) {
      usage(stdout);
      return 100;
    } else if (FLAG("--json")) o->json = 1;
    else if (FLAG("--per-query")) o->per_query = 1;
    else if (FLAG("--ignore-identical-ids")) o->ignore_ids = 1;
    else if (FLAG("--index") || FLAG("--queries") || FLAG("--qrels") || FLAG("--run") ||
             FLAG("--tag") || FLAG("--metrics") || FLAG("-k") || FLAG("--k")) {
      const char *v = VALUE();
      if (!v) return 102;
      if (FLAG("--index")) o->index = v;
      else if (FLAG("--queries")) o->queries = v;
      else if (FLAG("--qrels")) o->qrels = v;
      else if (FLAG("--run")) o->run = v;
      else if (FLAG("--tag")) o->tag = v;
      else if (FLAG("--metrics")) {
        if (strlen(v) >= sizeof o->metrics_buf) return 100 + usage_error("%s", "--metrics too long");
        snprintf(o->metrics_buf, sizeof o->metrics_buf, "%s", v);
      } else {
        char *e;
        errno = 0;
        long k = strtol(v, &e, 10);
        if (e == v || *e || errno || k < 1 || k > 1000000)
          return 100 + usage_error("-k must be an integer 1..1000000, not '%s'", v);
        o->k = k;
        o->search_opts = 1;
      }
    } else if (!strncmp(a, "--", 2) && cli_query_opts_takes_value(a + 2)) {
      const char *v = VALUE();
      if (!v) return 102;
      if (cli_query_opts_set(&o->q, a + 2, v) <= 0) return 102;
      o->search_opts = 1;
    } else if (!strncmp(a, "--", 2) && !val) {
      int r = cli_query_opts_set(&o->q, a + 2, NULL);
      if (r < 0) return 102;
      if (r == 0) return 100 + usage_error("unknown option '%s'", argv[i]);
      o->search_opts = 1;
    } else {
      return 100 + usage_error("unknown option '%s'", argv[i]);
    }
#undef FLAG
#undef VALUE
  }
  /* Split and validate the metric list before any work. */
  for (char *p = o->metrics_buf, *tok; (tok = strsep(&p, ","));) {
    if (!*tok) continue;
    if (o->nmetrics == MAX_METRICS) return 100 + usage_error("more than %s metrics", "64");
    blend_error err = {0};
    if (blend_eval_metric_cutoff(tok, NULL, &err)) return 100 + usage_error("%s", err.message);
    o->metrics[o->nmetrics++] = tok;
  }
  if (!o->nmetrics) return 100 + usage_error("%s", "--metrics is empty");
  if (!o->qrels) return 100 + usage_error("%s", "--qrels is required");
  if (!o->index && !o->run)
    return 100 + usage_error("%s", "give --index DIR --queries FILE (search) or --run FILE (score a run)");
  if (o->index && !o->queries) return 100 + usage_error("%s", "--index needs --queries FILE");
  if (!o->index && (o->queries || o->search_opts))
    return 100 + usage_error("%s", "search options (--queries, -k, BM25, dense and filter options) need --index");
  if (o->q.query_vectors && o->q.ho.mode == HYBRID_MODE_LEXICAL)
    return 100 + usage_error("%s", "--query-vectors needs --mode dense or hybrid");
  return 0;
}

/* ---- BEIR queries.jsonl */

typedef struct queries {
  strmap *ids; /* _id → index into text offsets */
  bbuf text;   /* NUL-terminated texts */
  uint32_t *off;
  uint32_t n, cap;
} queries;

static void queries_free(queries *q) {
  strmap_free(q->ids);
  bbuf_free(&q->text);
  free(q->off);
}

static int load_queries(const char *path, queries *out) {
  memset(out, 0, sizeof *out);
  char *data;
  size_t len;
  blend_error err = {0};
  if (file_read_all(path, &data, &len, &err)) return cli_fail_err(&err);
  out->ids = strmap_new();
  if (!out->ids) {
    free(data);
    return cli_fail("%s: out of memory", path);
  }
  int rc = 0;
  unsigned line = 0;
  for (char *p = data, *end = data + len; p < end && !rc;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *le = nl ? nl : end, *s = p;
    p = nl ? nl + 1 : end;
    line++;
    while (s < le && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
    if (s == le) continue;
    /* an escaped U+0000 must not cut the id or the text (util/json_nul.h):
       dropped from the text, as the encoder's tokenizer does; refused in ids */
    json_nul nul = {0};
    if (json_nul_suspect(s, (size_t)(le - s))) {
      size_t bad;
      if (json_nul_protect(s, (size_t)(le - s), &nul, &bad)) {
        rc = cli_fail("%s:%u: a raw NUL byte (or no room to mark U+0000) at byte %zu", path, line, bad + 1);
        break;
      }
    }
    cJSON *j = cJSON_ParseWithLength(s, (size_t)(le - s));
    if (!j || !cJSON_IsObject(j)) {
      cJSON_Delete(j);
      rc = cli_fail("%s:%u: not a JSON object", path, line);
      break;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "_id");
    cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    char idbuf[64];
    const char *ids = NULL;
    if (cJSON_IsString(id)) ids = id->valuestring;
    else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
             fabs(id->valuedouble) < 1e15) {
      snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
      ids = idbuf;
    }
    if (nul.active && cJSON_IsString(text)) json_nul_strip(&nul, text->valuestring);
    if (!ids || !*ids) rc = cli_fail("%s:%u: missing or invalid \"_id\"", path, line);
    else if (nul.active && json_nul_has(&nul, ids)) rc = cli_fail("%s:%u: query id contains U+0000", path, line);
    else if (!cJSON_IsString(text)) rc = cli_fail("%s:%u: missing or invalid \"text\"", path, line);
    else {
      uint32_t v = out->n;
      int ins = strmap_upsert(out->ids, ids, strlen(ids), &v);
      if (ins < 0) rc = cli_fail("%s: out of memory", path);
      else {
        if (out->n == out->cap) {
          uint32_t ncap = out->cap ? out->cap * 2 : 1024;
          uint32_t *n = realloc(out->off, ncap * sizeof *n);
          if (!n) rc = cli_fail("%s: out of memory", path);
          else out->off = n, out->cap = ncap;
        }
        if (!rc) {
          uint32_t off = (uint32_t)out->text.len;
          if (bbuf_append(&out->text, text->valuestring, strlen(text->valuestring) + 1))
            rc = cli_fail("%s: out of memory", path);
          else if (ins == 0) out->off[v] = off; /* repeated _id: last one wins */
          else out->off[out->n++] = off;
        }
      }
    }
    cJSON_Delete(j);
  }
  free(data);
  if (rc) queries_free(out);
  return rc;
}

/* Free text → bag of words: neutralise the query syntax (phrases, +/-
** occurrence prefixes, field:term) so BEIR text searches as plain OR of its
** terms, as Anserini does. The characters replaced are separators to the
** analyzer, so the analysed terms are unchanged. */
static void neutralise(char *s) {
  int start = 1;
  for (; *s; s++) {
    char c = *s;
    if (c == '"' || c == ':' || (start && (c == '+' || c == '-'))) *s = ' ';
    start = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';
  }
}

/* The float score as the shortest decimal that reads back as that float,
** then as a double: distinct floats stay distinct and ordered, equal ones
** equal, and the TREC file written later reads back to the same doubles. */
static double float_score(float f) {
  char buf[32];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) break;
  }
  return strtod(buf, NULL);
}

/* Search every qrels query; fills run. Returns an exit status. */
static int search_all(opts *o, const blend_qrels *qr, blend_run *run) {
  blend_search_options so = o->q.so;
  uint32_t maxcut = 0;
  for (size_t m = 0; m < o->nmetrics; m++) {
    uint32_t c = 0;
    blend_eval_metric_cutoff(o->metrics[m], &c, NULL);
    if (c > maxcut) maxcut = c;
  }
  so.k = o->k > 0 ? (uint32_t)o->k : (maxcut > DEFAULT_DEPTH ? maxcut : DEFAULT_DEPTH);
  if (o->k > 0 && (uint32_t)o->k < maxcut)
    fprintf(stderr, "blend eval: note: -k %ld is below the largest cutoff %u\n", o->k, maxcut);
  int rc = 0;
  int dense = o->q.ho.mode == HYBRID_MODE_DENSE, hybrid = o->q.ho.mode == HYBRID_MODE_HYBRID;
  hybrid_cli *hc = NULL;
  blend_filter *filter = NULL;
  if (cli_query_opts_finish(&o->q, &filter)) return 1;
  so.filter = filter;
  blend_model *model = NULL;
  vector_file *qv = NULL;
  float *qvec = NULL;
  uint32_t dim = 0;
  queries qs;
  if (load_queries(o->queries, &qs)) return 1;
  blend_error err = {0};
  blend_index *ix = NULL;
  blend_searcher *s = NULL;
  blend_hit *hits = NULL;
  char *text = NULL;
  size_t text_cap = 0;
  if (blend_index_open(o->index, &ix, &err) || blend_searcher_new(ix, &s, &err)) {
    rc = cli_fail_err(&err);
    goto done;
  }
  if (o->q.query_vectors) { /* --query-vectors: the dense leg's queries, dense or hybrid */
    blend_vector_config vc;
    if (blend_index_vector_config(ix, &vc, &err) ||
        vector_file_load(o->q.query_vectors, NULL, vc.dim, &qv, &err)) {
      rc = cli_fail_err(&err);
      goto done;
    }
    dim = vc.dim;
  }
  if (hybrid) {
    so.k = o->k > 0 ? (uint32_t)o->k : (maxcut > 100 ? maxcut : 100); /* the fused list: depth-limited */
    rc = hybrid_cli_open(ix, &o->q.ho, &so, qv != NULL, &hc);
    if (rc) goto done;
  }
  if (dense && !qv) { /* encode each query with the index's model */
    blend_vector_config vc;
    if (blend_index_vector_config(ix, &vc, &err)) {
      rc = cli_fail_err(&err);
      goto done;
    }
    dim = vc.dim;
    if (cli_open_query_model(ix, &o->q, &model)) {
      rc = 1;
      goto done;
    }
    qvec = malloc(dim * sizeof *qvec);
    if (!qvec) {
      rc = cli_fail("out of memory");
      goto done;
    }
  }
  blend_dense_options dop;
  blend_dense_options_default(&dop);
  dop.k = so.k;
  dop.ef = o->q.ho.ef;
  dop.exact = o->q.ho.exact;
  dop.filter = filter;
  hits = malloc(so.k * sizeof *hits);
  if (!hits) {
    rc = cli_fail("out of memory");
    goto done;
  }
  uint32_t nq = blend_qrels_queries(qr), searched = 0, no_text = 0;
  const char *first_missing = NULL;
  double t0 = now_seconds();
  for (uint32_t i = 0; i < nq; i++) {
    const char *qid = blend_qrels_query_id(qr, i);
    uint32_t qi;
    if (!strmap_get(qs.ids, qid, strlen(qid), &qi)) {
      if (!no_text++) first_missing = qid;
      continue;
    }
    const char *qt = (const char *)qs.text.data + qs.off[qi];
    size_t tl = strlen(qt) + 1;
    if (tl > text_cap) {
      char *n = realloc(text, tl);
      if (!n) {
        rc = cli_fail("out of memory");
        goto done;
      }
      text = n;
      text_cap = tl;
    }
    memcpy(text, qt, tl);
    blend_results res;
    const float *v = qvec; /* the query's vector: from the file, or encoded below */
    if (qv && !(v = vector_file_get(qv, qid, strlen(qid)))) {
      rc = cli_fail("query '%s' has no vector in %s", qid, o->q.query_vectors);
      goto done;
    }
    if (hybrid) {
      neutralise(text);
      blend_hybrid_results hr;
      if (hybrid_cli_query(hc, text, v, dim, so.k, &hr, &err) ||
          hybrid_cli_add_run(&hr, qid, run, &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
      searched++;
      continue;
    }
    if (dense) {
      if (!qv && blend_index_embed_query(ix, model, text, tl - 1, qvec, &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
      if (blend_search_vector(s, v, dim, &dop, &res, &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
    } else {
      neutralise(text);
      if (blend_search(s, text, &so, &res, &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
    }
    /* Copy the hits: looking up ids is another call on the searcher. */
    uint32_t nh = res.count < so.k ? res.count : so.k;
    memcpy(hits, res.hits, nh * sizeof *hits);
    for (uint32_t h = 0; h < nh; h++) {
      const char *id;
      size_t len;
      if (blend_searcher_doc_id(s, hits[h].doc, &id, &len, &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
      char idbuf[512];
      if (len >= sizeof idbuf) {
        rc = cli_fail("query '%s': document id longer than %zu bytes", qid, sizeof idbuf - 1);
        goto done;
      }
      memcpy(idbuf, id, len);
      idbuf[len] = 0;
      if (blend_run_add(run, qid, idbuf, float_score(hits[h].score), &err)) {
        rc = cli_fail("query '%s': %s", qid, err.message);
        goto done;
      }
    }
    searched++;
  }
  if (!searched) {
    rc = cli_fail("none of the %u qrels queries has text in %s (e.g. '%s'): wrong queries file?",
                  nq, o->queries, first_missing ? first_missing : "");
    goto done;
  }
  double el = now_seconds() - t0;
  fprintf(stderr, "blend eval: searched %u queries in %.2f s (%.0f queries/s, k=%u)\n", searched,
          el, el > 0 ? searched / el : 0.0, so.k);
  if (no_text)
    fprintf(stderr,
            "blend eval: warning: %u qrels queries have no text in %s (e.g. '%s'); they score 0\n",
            no_text, o->queries, first_missing);
done:
  hybrid_cli_close(hc);
  free(qvec);
  vector_file_free(qv);
  blend_model_close(model);
  blend_filter_free(filter);
  free(text);
  free(hits);
  blend_searcher_free(s);
  blend_index_close(ix);
  queries_free(&qs);
  return rc;
}

static void print_results(const opts *o, const blend_eval_result *e) {
  size_t nm = blend_eval_metrics(e);
  uint32_t nq = blend_eval_queries(e);
  if (o->per_query) {
    if (!o->json) {
      fputs("query", stdout);
      for (size_t m = 0; m < nm; m++) printf("\t%s", blend_eval_metric_name(e, m));
      putchar('\n');
    }
    for (uint32_t i = 0; i < nq; i++) {
      const char *qid = blend_eval_query_id(e, i);
      if (o->json) {
        fputs("{\"query\": ", stdout);
        cli_json_string(stdout, qid, strlen(qid));
        for (size_t m = 0; m < nm; m++) {
          printf(", \"%s\": %.10g", blend_eval_metric_name(e, m), blend_eval_value(e, i, m));
        }
        puts("}");
      } else {
        fputs(qid, stdout);
        for (size_t m = 0; m < nm; m++) printf("\t%.4f", blend_eval_value(e, i, m));
        putchar('\n');
      }
    }
    if (!o->json) putchar('\n');
  }
  if (o->json) {
    printf("{\"queries\": %u", nq);
    for (size_t m = 0; m < nm; m++)
      printf(", \"%s\": %.10g", blend_eval_metric_name(e, m), blend_eval_mean(e, m));
    puts("}");
  } else {
    printf("%-14s %8s %8s\n", "metric", "value", "queries");
    for (size_t m = 0; m < nm; m++)
      printf("%-14s %8.4f %8u\n", blend_eval_metric_name(e, m), blend_eval_mean(e, m), nq);
  }
}

int cmd_eval(int argc, char **argv) {
  opts o;
  int st = parse_args(argc, argv, &o);
  if (st) return st - 100;

  blend_error err = {0};
  blend_qrels *qr = NULL;
  blend_run *run = NULL;
  blend_eval_result *e = NULL;
  int rc = 0;
  if (blend_qrels_load(o.qrels, &qr, &err)) return cli_fail_err(&err);
  if (blend_qrels_duplicates(qr))
    fprintf(stderr, "blend eval: note: %llu repeated judgements in %s (last one wins)\n",
            (unsigned long long)blend_qrels_duplicates(qr), o.qrels);

  if (o.index) {
    if (blend_run_new(&run, &err)) {
      rc = cli_fail_err(&err);
      goto done;
    }
    rc = search_all(&o, qr, run);
    if (rc) goto done;
    if (o.run && blend_run_write(run, o.run, o.tag, &err)) {
      rc = cli_fail_err(&err);
      goto done;
    }
  } else if (blend_run_load(strcmp(o.run, "-") ? o.run : "/dev/stdin", &run, &err)) {
    rc = cli_fail_err(&err);
    goto done;
  }

  blend_eval_options eo = {o.ignore_ids};
  if (blend_evaluate(qr, run, o.metrics, o.nmetrics, &eo, &e, &err)) {
    rc = cli_fail_err(&err);
    goto done;
  }
  if (!o.index) {
    if (!blend_eval_matched(e))
      fprintf(stderr, "blend eval: warning: no query of %s appears in %s (check query ids)\n",
              o.run, o.qrels);
    if (blend_eval_skipped(e))
      fprintf(stderr, "blend eval: note: %u run queries have no judgements and were skipped\n",
              blend_eval_skipped(e));
  }
  print_results(&o, e);
  if (fflush(stdout)) rc = cli_fail("write error on stdout");
done:
  blend_eval_free(e);
  blend_run_free(run);
  blend_qrels_free(qr);
  return rc;
}
