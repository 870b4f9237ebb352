/*
** peer_fts5_live.c — SQLite FTS5 side of the live-index bench: the same
** workload as bench_live.c (live_common.h), done the way an application
** keeps a live FTS5 index.
**
**   peer_fts5_live DATA_DIR DB_FILE
**
** Schema: t = fts5(id UNINDEXED, title, text, tokenize='porter unicode61')
** with its default automerge (FTS5's incremental segment merging), and
** ids(id TEXT PRIMARY KEY, rid INTEGER) to delete by external id. WAL
** journal (readers run while a writer writes, as blend's do) with
** synchronous=FULL, so every commit is durable as blend's is. Each batch of
** 1,000 documents is one transaction; the 1% deletes one transaction; the
** merge is FTS5's 'optimize'; "open" is sqlite3_open_v2 + preparing the
** query (schema read). Queries: the OR of the query's quoted word runs,
** ORDER BY bm25(t) LIMIT 10, as bench/peer_fts5.c, on a second connection
** in a second thread (while 'optimize' runs on the writer's connection).
** There is no refresh to time: a reader sees the newest commit at its next
** read transaction. Prints one JSON line.
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "live_common.h"

static int fail(sqlite3 *db, const char *what) {
  fprintf(stderr, "peer_fts5_live: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
  return 1;
}

static int exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "peer_fts5_live: %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return 1;
  }
  return 0;
}

static int is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* "w1" OR "w2" ... (a run cannot contain '"'); returns its length. */
static size_t build_match(const char *q, char *buf, size_t cap) {
  size_t n = 0;
  const unsigned char *p = (const unsigned char *)q;
  while (*p) {
    while (*p && !is_word_byte(*p)) p++;
    if (!*p) break;
    const unsigned char *s = p;
    while (*p && is_word_byte(*p)) p++;
    size_t l = (size_t)(p - s);
    if (n + l + 8 >= cap) break;
    if (n) {
      memcpy(buf + n, " OR ", 4);
      n += 4;
    }
    buf[n++] = '"';
    memcpy(buf + n, s, l);
    n += l;
    buf[n++] = '"';
  }
  buf[n] = 0;
  return n;
}

typedef struct reader {
  sqlite3 *db;
  sqlite3_stmt *sel;
  char buf[65536];
} reader;

static int reader_open(const char *path, reader *r) {
  if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return fail(r->db, "open");
  if (exec(r->db, "PRAGMA mmap_size=1073741824")) return 1;
  if (sqlite3_prepare_v2(r->db, "SELECT id, bm25(t) FROM t WHERE t MATCH ?1 ORDER BY bm25(t) LIMIT 10", -1, &r->sel,
                         NULL) != SQLITE_OK)
    return fail(r->db, "prepare");
  return 0;
}

static void reader_close(reader *r) {
  sqlite3_finalize(r->sel);
  sqlite3_close(r->db);
}

static int reader_query(reader *r, const char *q) {
  size_t n = build_match(q, r->buf, sizeof r->buf);
  if (!n) return 0;
  sqlite3_bind_text(r->sel, 1, r->buf, (int)n, SQLITE_STATIC);
  int rc, hits = 0;
  while ((rc = sqlite3_step(r->sel)) == SQLITE_ROW) hits++;
  sqlite3_reset(r->sel);
  return rc == SQLITE_DONE ? hits : -1;
}

typedef struct qthread {
  const char *path;
  const live_corpus *c;
  atomic_int *phase;
  live_lat lat;
  int failed;
} qthread;

static void *query_loop(void *arg) {
  qthread *q = arg;
  reader *r = calloc(1, sizeof *r);
  if (!r || reader_open(q->path, r)) {
    q->failed = 1;
    free(r);
    return NULL;
  }
  while (atomic_load(q->phase) < 2)
    for (size_t i = 0; i < q->c->nqueries && atomic_load(q->phase) < 2; i++) {
      int measuring = atomic_load(q->phase) == 1;
      double t0 = bench_now();
      if (reader_query(r, q->c->queries[i]) < 0) q->failed = 1;
      double t1 = bench_now();
      if (measuring && atomic_load(q->phase) == 1) live_lat_add(&q->lat, t1 - t0);
    }
  reader_close(r);
  free(r);
  return NULL;
}

typedef struct writer {
  sqlite3 *db;
  sqlite3_stmt *ins, *map, *find, *del, *unmap;
} writer;

static int add_doc(writer *w, const live_doc *d, sqlite3_int64 rid) {
  sqlite3_bind_int64(w->ins, 1, rid);
  sqlite3_bind_text(w->ins, 2, d->id, (int)d->id_len, SQLITE_STATIC);
  sqlite3_bind_text(w->ins, 3, d->title, (int)d->title_len, SQLITE_STATIC);
  sqlite3_bind_text(w->ins, 4, d->text, (int)d->text_len, SQLITE_STATIC);
  int rc = sqlite3_step(w->ins);
  sqlite3_reset(w->ins);
  if (rc != SQLITE_DONE) return fail(w->db, "insert");
  sqlite3_bind_text(w->map, 1, d->id, (int)d->id_len, SQLITE_STATIC);
  sqlite3_bind_int64(w->map, 2, rid);
  rc = sqlite3_step(w->map);
  sqlite3_reset(w->map);
  return rc == SQLITE_DONE ? 0 : fail(w->db, "insert id");
}

static int delete_doc(writer *w, const live_doc *d) {
  sqlite3_bind_text(w->find, 1, d->id, (int)d->id_len, SQLITE_STATIC);
  int rc = sqlite3_step(w->find);
  sqlite3_int64 rid = rc == SQLITE_ROW ? sqlite3_column_int64(w->find, 0) : -1;
  sqlite3_reset(w->find);
  if (rid < 0) return fail(w->db, "find id");
  sqlite3_bind_int64(w->del, 1, rid);
  rc = sqlite3_step(w->del);
  sqlite3_reset(w->del);
  if (rc != SQLITE_DONE) return fail(w->db, "delete");
  sqlite3_bind_text(w->unmap, 1, d->id, (int)d->id_len, SQLITE_STATIC);
  rc = sqlite3_step(w->unmap);
  sqlite3_reset(w->unmap);
  return rc == SQLITE_DONE ? 0 : fail(w->db, "delete id");
}

static int count_rows(sqlite3 *db, long long *n) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ids", -1, &st, NULL) != SQLITE_OK) return fail(db, "count");
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: peer_fts5_live DATA_DIR DB_FILE\n");
    return 2;
  }
  const char *path = argv[2];
  live_corpus c;
  if (live_load(argv[1], &c)) return 1;
  char side[4200];
  bench_rm_rf(path);
  snprintf(side, sizeof side, "%s-wal", path);
  bench_rm_rf(side);
  snprintf(side, sizeof side, "%s-shm", path);
  bench_rm_rf(side);
  writer w = {0};
  if (sqlite3_open(path, &w.db) != SQLITE_OK) return fail(w.db, path);
  if (exec(w.db, "PRAGMA journal_mode=WAL") || exec(w.db, "PRAGMA synchronous=FULL") ||
      exec(w.db, "CREATE VIRTUAL TABLE t USING fts5(id UNINDEXED, title, text, tokenize='porter unicode61')") ||
      exec(w.db, "CREATE TABLE ids(id TEXT PRIMARY KEY, rid INTEGER) WITHOUT ROWID"))
    return 1;
  if (sqlite3_prepare_v2(w.db, "INSERT INTO t(rowid, id, title, text) VALUES(?1, ?2, ?3, ?4)", -1, &w.ins, NULL) ||
      sqlite3_prepare_v2(w.db, "INSERT OR REPLACE INTO ids(id, rid) VALUES(?1, ?2)", -1, &w.map, NULL) ||
      sqlite3_prepare_v2(w.db, "SELECT rid FROM ids WHERE id = ?1", -1, &w.find, NULL) ||
      sqlite3_prepare_v2(w.db, "DELETE FROM t WHERE rowid = ?1", -1, &w.del, NULL) ||
      sqlite3_prepare_v2(w.db, "DELETE FROM ids WHERE id = ?1", -1, &w.unmap, NULL))
    return fail(w.db, "prepare");

  /* 1. batches of 1,000 documents, a transaction each */
  size_t nb = (c.n + LIVE_BATCH - 1) / LIVE_BATCH;
  double *batch_s = calloc(nb, sizeof *batch_s), *commit_s = calloc(nb, sizeof *commit_s);
  double t_add = bench_now(), cpu_add = bench_cpu_seconds();
  sqlite3_int64 next_rid = 1;
  for (size_t b = 0; b < nb; b++) {
    double t0 = bench_now();
    if (exec(w.db, "BEGIN")) return 1;
    for (size_t i = b * LIVE_BATCH; i < c.n && i < (b + 1) * LIVE_BATCH; i++)
      if (add_doc(&w, &c.docs[i], next_rid++)) return 1;
    double t1 = bench_now();
    if (exec(w.db, "COMMIT")) return 1;
    batch_s[b] = bench_now() - t0;
    commit_s[b] = bench_now() - t1;
  }
  double add_s = bench_now() - t_add, add_cpu = bench_cpu_seconds() - cpu_add;

  /* 2. delete 1% in one transaction */
  double t0 = bench_now();
  if (exec(w.db, "BEGIN")) return 1;
  for (size_t k = 0; k < c.ndel; k++)
    if (delete_doc(&w, &c.docs[c.del[k]])) return 1;
  if (exec(w.db, "COMMIT")) return 1;
  double delete_s = bench_now() - t0;

  /* 3. open of the unchanged database (+ schema read by prepare), and
     one-document commits */
  double open_ms[21], one_commit_ms[11];
  for (int i = 0; i < 21; i++) {
    double a = bench_now();
    reader r;
    if (reader_open(path, &r)) return 1;
    open_ms[i] = (bench_now() - a) * 1e3;
    reader_close(&r);
  }
  for (int i = 0; i < 11; i++) {
    double a = bench_now();
    if (exec(w.db, "BEGIN") || add_doc(&w, &c.docs[c.del[i]], next_rid++) || exec(w.db, "COMMIT")) return 1;
    one_commit_ms[i] = (bench_now() - a) * 1e3;
  }

  /* 4. queries with no writer */
  live_lat idle = {0};
  {
    reader *r = calloc(1, sizeof *r);
    if (!r || reader_open(path, r)) return 1;
    for (int p = 0; p <= live_passes(); p++)
      for (size_t i = 0; i < c.nqueries; i++) {
        double a = bench_now();
        if (reader_query(r, c.queries[i]) < 0) return fail(r->db, "query");
        if (p > 0) live_lat_add(&idle, bench_now() - a);
      }
    reader_close(r);
    free(r);
  }

  /* 5. queries while 'optimize' runs */
  atomic_int phase = 0;
  qthread q = {path, &c, &phase, {0}, 0};
  pthread_t th;
  pthread_create(&th, NULL, query_loop, &q);
  struct timespec warm = {0, 200 * 1000 * 1000};
  nanosleep(&warm, NULL);
  atomic_store(&phase, 1);
  t0 = bench_now();
  double merge_cpu0 = live_thread_cpu();
  if (exec(w.db, "INSERT INTO t(t) VALUES('optimize')")) return 1;
  double merge_cpu = live_thread_cpu() - merge_cpu0;
  double merge_s = bench_now() - t0;
  atomic_store(&phase, 2);
  pthread_join(th, NULL);
  if (q.failed) return fail(NULL, "query thread");
  long long live = 0;
  if (count_rows(w.db, &live)) return 1;
  exec(w.db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_finalize(w.ins);
  sqlite3_finalize(w.map);
  sqlite3_finalize(w.find);
  sqlite3_finalize(w.del);
  sqlite3_finalize(w.unmap);
  sqlite3_close(w.db);
  printf("{\"engine\":\"fts5\",\"version\":\"SQLite %s\",\"docs\":%zu,\"corpus_bytes\":%llu,\"batches\":%zu,"
         "\"add_s\":%.4f,\"add_cpu_s\":%.4f,\"batch_median_s\":%.4f,\"batch_max_s\":%.4f,"
         "\"commit_median_s\":%.4f,\"deleted\":%zu,\"delete_s\":%.4f,\"one_doc_commit_ms\":%.3f,"
         "\"merge_s\":%.4f,\"merge_cpu_s\":%.4f,\"open_ms\":%.3f,"
         "\"q_idle_p50_us\":%.1f,\"q_idle_p99_us\":%.1f,\"q_merge_p50_us\":%.1f,\"q_merge_p99_us\":%.1f,"
         "\"q_merge_count\":%zu,\"final_docs\":%lld,\"final_bytes\":%llu}\n",
         sqlite3_libversion(), c.n, (unsigned long long)c.bytes, nb, add_s, add_cpu, live_median(batch_s, nb),
         live_percentile(batch_s, nb, 100), live_median(commit_s, nb), c.ndel, delete_s,
         live_median(one_commit_ms + 1, 10), merge_s, merge_cpu, live_median(open_ms + 1, 20),
         live_percentile(idle.v, idle.n, 50) * 1e6, live_percentile(idle.v, idle.n, 99) * 1e6,
         live_percentile(q.lat.v, q.lat.n, 50) * 1e6, live_percentile(q.lat.v, q.lat.n, 99) * 1e6, q.lat.n, live,
         (unsigned long long)bench_file_bytes(path));
  return 0;
}
