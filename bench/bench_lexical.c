/*
** bench_lexical.c — blend side of the lexical bench, through the public API
** only (blend.h), doing the same work as peer_xapian / peer_fts5.
**
**   bench_lexical index DATASET_DIR INDEX_DIR
**   bench_lexical query DATASET_DIR INDEX_DIR [PASSES] [RUN_FILE]
**
** Index: default index config (analyzer "porter" + Lucene English
** stopwords, positions, per-field views; BENCH_BLEND_FIELD_VIEWS=0 for the
** flat field only), fields "title" and "text", one commit.
** Query: the raw query text through blend_search, flat field mode (BM25 over
** title+text as one field, k1=0.9 b=0.4), top-10, the fastest exact top-k
** (BLEND_TOPK_AUTO), external ids resolved for every hit. One JSON line out.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "common.h"

/* BENCH_BLEND_FIELD_VIEWS=0: index only the flat 'contents' field — the
** same single term space the peers build (default: blend's default config,
** which also posts every token to its own field). */
static int field_views(void) {
  const char *v = getenv("BENCH_BLEND_FIELD_VIEWS");
  return !(v && strcmp(v, "0") == 0);
}

static const char *engine_name(void) { return field_views() ? "blend" : "blend-flat"; }

static const char *version(void) {
  static char buf[96];
  const char *rev = getenv("BENCH_BLEND_REV");
  snprintf(buf, sizeof buf, "blend %s%s%s", BLEND_VERSION, rev && *rev ? " " : "",
           rev && *rev ? rev : "");
  return buf;
}

typedef struct index_ctx {
  blend_writer *w;
  blend_error err;
} index_ctx;

static int add_doc(void *vctx, const bench_doc *d) {
  index_ctx *c = vctx;
  blend_field_value f[2] = {{"title", d->title, d->title_len}, {"text", d->text, d->text_len}};
  blend_doc doc = {.id = d->id, .id_len = d->id_len, .fields = f, .nfields = 2};
  return blend_writer_add(c->w, &doc, &c->err) == BLEND_OK ? 0 : 1;
}

static int do_index(const char *dataset, const char *dir) {
  char corpus[4096];
  snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", dataset);
  bench_rm_rf(dir);
  double parse_s = bench_parse_only_seconds(corpus);
  if (parse_s < 0) return 1;

  double t0 = bench_now(), c0 = bench_cpu_seconds();
  index_ctx c = {0};
  blend_index_config cfg;
  memset(&cfg, 0, sizeof cfg);
  blend_index_config_default(&cfg);
  cfg.field_views = field_views();
  if (blend_writer_open(dir, &cfg, &c.w, &c.err) != BLEND_OK) {
    fprintf(stderr, "bench_lexical: %s\n", c.err.message);
    return 1;
  }
  uint64_t docs = 0;
  int rc = bench_corpus_foreach(corpus, add_doc, &c, &docs);
  if (rc > 0) fprintf(stderr, "bench_lexical: add: %s\n", c.err.message);
  if (rc == 0 && blend_writer_commit(c.w, &c.err) != BLEND_OK) {
    fprintf(stderr, "bench_lexical: commit: %s\n", c.err.message);
    rc = 1;
  }
  blend_writer_close(c.w);
  double secs = bench_now() - t0;
  double cpu = bench_cpu_seconds() - c0;
  if (rc) return 1;

  char notes[256];
  snprintf(notes, sizeof notes,
           "analyzer %s, stopwords %s, positions %d, fields title+text, field_views %d",
           cfg.analyzer.stemmer, cfg.analyzer.stopwords, cfg.positions, cfg.field_views);
  bench_print_index(engine_name(), version(), bench_basename(dataset), docs, bench_file_bytes(corpus),
                    parse_s, secs, cpu, bench_path_bytes(dir), notes);
  return 0;
}

typedef struct query_ctx {
  blend_searcher *s;
  blend_search_options opts;
  blend_error err;
  size_t reported;
} query_ctx;

static int search(void *vctx, const char *query, bench_hits *out) {
  query_ctx *c = vctx;
  blend_results res;
  if (blend_search(c->s, query, &c->opts, &res, &c->err) != BLEND_OK) {
    if (c->reported++ < 3) fprintf(stderr, "bench_lexical: query \"%s\": %s\n", query, c->err.message);
    return 1;
  }
  /* copy before resolving ids: results live until the next searcher call */
  uint32_t n = res.count < BENCH_K ? res.count : BENCH_K;
  uint32_t docs[BENCH_K];
  float scores[BENCH_K];
  for (uint32_t i = 0; i < n; i++) {
    docs[i] = res.hits[i].doc;
    scores[i] = res.hits[i].score;
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *id;
    size_t len;
    if (blend_searcher_doc_id(c->s, docs[i], &id, &len, &c->err) != BLEND_OK) return 1;
    bench_hits_put(out, id, len, scores[i]);
  }
  return 0;
}

static int do_query(const char *dataset, const char *dir, int passes, const char *run) {
  bench_queries qs;
  if (bench_queries_load(dataset, &qs) != 0) return 1;
  query_ctx c;
  memset(&c, 0, sizeof c);
  blend_index *ix = NULL;
  if (blend_index_open(dir, &ix, &c.err) != BLEND_OK ||
      blend_searcher_new(ix, &c.s, &c.err) != BLEND_OK) {
    fprintf(stderr, "bench_lexical: %s\n", c.err.message);
    blend_index_close(ix);
    return 1;
  }
  blend_search_options_default(&c.opts);
  c.opts.k = BENCH_K;
  c.opts.field_mode = BLEND_FIELDS_FLAT;
  c.opts.algorithm = BLEND_TOPK_AUTO;
  bench_query_report r;
  int rc = bench_run_queries(&qs, passes, search, &c, run, engine_name(), &r);
  if (rc == 0) {
    blend_index_stats st;
    blend_index_stats_get(ix, &st);
    char notes[256];
    snprintf(notes, sizeof notes,
             "flat BM25 k1=%.2f b=%.2f, TOPK_AUTO; %llu docs, %llu terms, %u segment(s)",
             c.opts.k1, c.opts.b, (unsigned long long)st.docs, (unsigned long long)st.terms,
             st.segments);
    bench_print_query(engine_name(), version(), bench_basename(dataset), &r, notes);
  }
  blend_searcher_free(c.s);
  blend_index_close(ix);
  bench_queries_free(&qs);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "index") == 0) return do_index(argv[2], argv[3]);
  if (argc >= 4 && strcmp(argv[1], "query") == 0)
    return do_query(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 10, argc > 5 ? argv[5] : NULL);
  fprintf(stderr, "usage: bench_lexical index DATASET_DIR INDEX_DIR\n"
                  "       bench_lexical query DATASET_DIR INDEX_DIR [PASSES] [RUN_FILE]\n");
  return 2;
}
