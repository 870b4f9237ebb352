/*
** peer_fts5.c — SQLite FTS5 side of the lexical bench.
**
**   peer_fts5 index DATASET_DIR DB_FILE
**   peer_fts5 query DATASET_DIR DB_FILE [PASSES] [RUN_FILE]
**
** Index: one FTS5 table (id UNINDEXED, title, text) with the
** 'porter unicode61' tokenizer, all rows in one transaction, then FTS5's
** 'optimize' (merge to one b-tree, its best query layout), SQLite's default
** durable commit. Query: the query's word runs, each quoted as an FTS5
** string and joined with OR, ORDER BY bm25(t) LIMIT 10, db memory-mapped
** (PRAGMA mmap_size) as blend maps its index. BENCH_FTS5_QUERY_STOPWORDS=drop
** leaves the 33 Lucene stopwords out of the query (the index keeps them: FTS5
** has no stopword support), so FTS5 does not OR in `the`, `of`, ... the way
** blend and Xapian do not. Prints one JSON line.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int check(sqlite3 *db, int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fprintf(stderr, "peer_fts5: %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
  }
  return 0;
}

static int exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "peer_fts5: %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

typedef struct index_ctx {
  sqlite3 *db;
  sqlite3_stmt *ins;
} index_ctx;

static int add_doc(void *vctx, const bench_doc *d) {
  index_ctx *c = vctx;
  sqlite3_bind_text(c->ins, 1, d->id, (int)d->id_len, SQLITE_STATIC);
  sqlite3_bind_text(c->ins, 2, d->title, (int)d->title_len, SQLITE_STATIC);
  sqlite3_bind_text(c->ins, 3, d->text, (int)d->text_len, SQLITE_STATIC);
  int rc = sqlite3_step(c->ins);
  sqlite3_reset(c->ins);
  return check(c->db, rc, "insert") ? 1 : 0;
}

static int do_index(const char *dataset, const char *dbpath) {
  char corpus[4096];
  snprintf(corpus, sizeof corpus, "%s/corpus.jsonl", dataset);
  bench_rm_rf(dbpath);
  double parse_s = bench_parse_only_seconds(corpus);
  if (parse_s < 0) return 1;

  double t0 = bench_now(), c0 = bench_cpu_seconds();
  index_ctx c = {0};
  if (check(c.db, sqlite3_open(dbpath, &c.db), dbpath)) return 1;
  if (exec(c.db, "CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED, title, text,"
                 " tokenize='porter unicode61')") ||
      exec(c.db, "BEGIN"))
    return 1;
  if (check(c.db, sqlite3_prepare_v2(c.db, "INSERT INTO t(id, title, text) VALUES(?1, ?2, ?3)",
                                     -1, &c.ins, NULL), "prepare insert"))
    return 1;
  uint64_t docs = 0;
  if (bench_corpus_foreach(corpus, add_doc, &c, &docs) != 0) return 1;
  sqlite3_finalize(c.ins);
  if (exec(c.db, "COMMIT") || exec(c.db, "INSERT INTO t(t) VALUES('optimize')")) return 1;
  if (sqlite3_close(c.db) != SQLITE_OK) { fprintf(stderr, "peer_fts5: close failed\n"); return 1; }
  double secs = bench_now() - t0;
  double cpu = bench_cpu_seconds() - c0;

  char ver[64];
  snprintf(ver, sizeof ver, "SQLite %s", sqlite3_libversion());
  bench_print_index("fts5", ver, bench_basename(dataset), docs, bench_file_bytes(corpus),
                    parse_s, secs, cpu, bench_path_bytes(dbpath),
                    "porter unicode61, no stopwords, positions (detail=full), "
                    "1 transaction + optimize, synchronous=FULL");
  return 0;
}

typedef struct query_ctx {
  sqlite3 *db;
  sqlite3_stmt *sel;
  int drop_stopwords;  /* BENCH_FTS5_QUERY_STOPWORDS=drop */
  char *buf;
  size_t cap;
} query_ctx;

static int is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* "w1" OR "w2" OR ... from the query's runs of ASCII alphanumerics and
** non-ASCII bytes; a run cannot contain '"', so no escaping is needed. */
static int is_stopword(const unsigned char *w, size_t n) {
  for (size_t i = 0; bench_lucene_stopwords[i]; i++) {
    const char *s = bench_lucene_stopwords[i];
    if (strlen(s) != n) continue;
    size_t k = 0;
    while (k < n && (w[k] | 0x20) == (unsigned char)s[k]) k++;
    if (k == n) return 1;
  }
  return 0;
}

static size_t build_match(query_ctx *c, const char *q) {
  size_t need = strlen(q) * 6 + 16, n = 0;
  if (need > c->cap) {
    c->cap = need;
    c->buf = realloc(c->buf, c->cap);
    if (!c->buf) { fprintf(stderr, "peer_fts5: out of memory\n"); exit(1); }
  }
  const unsigned char *p = (const unsigned char *)q;
  while (*p) {
    while (*p && !is_word_byte(*p)) p++;
    if (!*p) break;
    const unsigned char *s = p;
    while (*p && is_word_byte(*p)) p++;
    if (c->drop_stopwords && is_stopword(s, (size_t)(p - s))) continue;
    if (n) { memcpy(c->buf + n, " OR ", 4); n += 4; }
    c->buf[n++] = '"';
    memcpy(c->buf + n, s, (size_t)(p - s));
    n += (size_t)(p - s);
    c->buf[n++] = '"';
  }
  c->buf[n] = 0;
  return n;
}

static int search(void *vctx, const char *query, bench_hits *out) {
  query_ctx *c = vctx;
  size_t n = build_match(c, query);
  if (n == 0) return 0;
  sqlite3_bind_text(c->sel, 1, c->buf, (int)n, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(c->sel)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(c->sel, 0);
    int len = sqlite3_column_bytes(c->sel, 0);
    bench_hits_put(out, id ? id : "", id ? (size_t)len : 0, -sqlite3_column_double(c->sel, 1));
  }
  sqlite3_reset(c->sel);
  return rc == SQLITE_DONE ? 0 : 1;
}

static int do_query(const char *dataset, const char *dbpath, int passes, const char *run) {
  bench_queries qs;
  if (bench_queries_load(dataset, &qs) != 0) return 1;
  query_ctx c = {0};
  const char *qs_env = getenv("BENCH_FTS5_QUERY_STOPWORDS");
  c.drop_stopwords = qs_env && strcmp(qs_env, "drop") == 0;
  const char *engine = c.drop_stopwords ? "fts5-stop" : "fts5";
  if (check(c.db, sqlite3_open_v2(dbpath, &c.db, SQLITE_OPEN_READONLY, NULL), dbpath)) return 1;
  /* memory-map the db file like blend maps its index (no page-cache copies) */
  if (exec(c.db, "PRAGMA mmap_size=1073741824")) return 1;
  if (check(c.db, sqlite3_prepare_v2(c.db,
                                     "SELECT id, bm25(t) FROM t WHERE t MATCH ?1"
                                     " ORDER BY bm25(t) LIMIT 10",
                                     -1, &c.sel, NULL), "prepare select"))
    return 1;
  bench_query_report r;
  if (bench_run_queries(&qs, passes, search, &c, run, engine, &r) != 0) return 1;
  char ver[64];
  snprintf(ver, sizeof ver, "SQLite %s", sqlite3_libversion());
  bench_print_query(engine, ver, bench_basename(dataset), &r,
                    c.drop_stopwords
                        ? "OR of quoted word runs minus the 33 Lucene stopwords, ORDER BY bm25(t) "
                          "LIMIT 10 (k1=1.2 b=0.75 fixed)"
                        : "OR of quoted word runs, ORDER BY bm25(t) LIMIT 10 (k1=1.2 b=0.75 fixed)");
  sqlite3_finalize(c.sel);
  sqlite3_close(c.db);
  free(c.buf);
  bench_queries_free(&qs);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "index") == 0) return do_index(argv[2], argv[3]);
  if (argc >= 4 && strcmp(argv[1], "query") == 0)
    return do_query(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 10, argc > 5 ? argv[5] : NULL);
  fprintf(stderr, "usage: peer_fts5 index DATASET_DIR DB_FILE\n"
                  "       peer_fts5 query DATASET_DIR DB_FILE [PASSES] [RUN_FILE]\n");
  return 2;
}
