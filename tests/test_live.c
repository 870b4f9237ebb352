/*
** test_live.c — the live index through the library API, checked against
** plain models:
**  - random add / update / delete / commit / merge / force-merge sequences
**    against an in-memory map of the live documents (live set, id lookups,
**    stored text), the pruning algorithms against exhaustive search on the
**    multi-segment, deleted-from indexes they produce (flat, multifield,
**    field weights), and after force_merge(1) the top-k (ids and scores,
**    bit-exact) of a fresh REPLACE rebuild of the same live documents;
**  - segments whose fields were created in different orders (field-scoped
**    queries, explain, stored fields);
**  - negative / non-finite field weights rejected;
**  - an independent BM25 oracle over long documents, with Lucene's
**    SmallFloat length quantisation written here from its definition;
**  - df counting deleted-but-unmerged documents (as Lucene), until a merge;
**  - two writers (BLEND_ELOCKED naming the holder's pid, a dead holder's
**    lock taken over) and a reader process searching while a writer
**    commits and merges.
** Fixed seeds: a failure reproduces.
*/
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

/* ------------------------------------------------------------- helpers */

static uint64_t rng_state;
static uint32_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static uint32_t rnd_below(uint32_t n) { return n ? rnd() % n : 0; }

/* Where the model tests write: /dev/shm when there is one, since they run
** hundreds of commits and fsync on a real disk would make them take
** minutes (durability is what test_live_crash.c checks, on disk). */
static char shm_dir[64];
static void remove_shm_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", shm_dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", shm_dir);
}
static const char *work_dir(void) {
  if (!shm_dir[0]) {
    snprintf(shm_dir, sizeof shm_dir, "/dev/shm/blend-live-XXXXXX");
    if (access("/dev/shm", W_OK) == 0 && mkdtemp(shm_dir)) atexit(remove_shm_dir);
    else snprintf(shm_dir, sizeof shm_dir, "%s", test_tmpdir());
  }
  return shm_dir;
}

static const char *sub_dir(const char *name) {
  static char buf[8][512];
  static int at;
  char *p = buf[at++ % 8];
  snprintf(p, 512, "%s/%s", work_dir(), name);
  return p;
}

#define VOCAB 40
/* Zipf-like: low word numbers are common (long postings, several blocks). */
static void random_text(char *out, size_t cap, uint32_t ntok) {
  size_t at = 0;
  out[0] = 0;
  for (uint32_t i = 0; i < ntok && at + 8 < cap; i++) {
    uint32_t r = rnd_below(VOCAB), w = rnd_below(r + 1);
    at += (size_t)snprintf(out + at, cap - at, "%sw%02u", i ? " " : "", w);
  }
}

/* ------------------------------------------------------------- the model */

#define MAX_IDS 700
#define TEXT_CAP 400

typedef struct mdoc {
  int live;
  int has_title, title_first;
  char title[TEXT_CAP];
  char text[TEXT_CAP];
} mdoc;

typedef struct model {
  mdoc d[MAX_IDS];
  uint32_t nids; /* ids "id0".."id<nids-1>" have been used */
} model;

static void id_of(uint32_t i, char *buf) { sprintf(buf, "id%u", i); }

static uint32_t model_live(const model *m) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < m->nids; i++) n += m->d[i].live;
  return n;
}

static int writer_add_doc(blend_writer *w, uint32_t i, const mdoc *d) {
  char id[16];
  id_of(i, id);
  blend_field_value f[2];
  size_t nf = 0;
  blend_field_value title = {"title", d->title, strlen(d->title)}, text = {"text", d->text, strlen(d->text)};
  if (d->has_title && d->title_first) f[nf++] = title;
  f[nf++] = text;
  if (d->has_title && !d->title_first) f[nf++] = title;
  blend_doc doc = {.id = id, .id_len = strlen(id), .fields = f, .nfields = nf};
  blend_error err = {0};
  int rc = blend_writer_add(w, &doc, &err);
  if (rc) printf("add %s: %s\n", id, err.message);
  return rc;
}

static void random_doc(mdoc *d) {
  d->live = 1;
  d->has_title = rnd_below(4) != 0;
  d->title_first = rnd_below(2);
  random_text(d->title, sizeof d->title, 1 + rnd_below(4));
  /* lengths cross 24 tokens, where norms stop being exact */
  random_text(d->text, sizeof d->text, rnd_below(8) ? 1 + rnd_below(30) : 30 + rnd_below(40));
  if (!d->has_title) d->title[0] = 0;
}

/* The index in dir holds exactly m's live documents. */
static int check_live_set(const char *dir, const model *m, const char *when) {
  blend_error err = {0};
  blend_index *ix;
  if (blend_index_open(dir, &ix, &err)) {
    test_fail(__FILE__, __LINE__, "%s: open: %s", when, err.message);
    return -1;
  }
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECKF(st.docs == model_live(m), "%s: %llu live docs, model has %u", when, (unsigned long long)st.docs,
         model_live(m));
  blend_searcher *s;
  if (blend_searcher_new(ix, &s, &err)) {
    blend_index_close(ix);
    return -1;
  }
  int bad = 0;
  for (uint32_t i = 0; i < m->nids && bad < 5; i++) {
    char id[16];
    id_of(i, id);
    uint32_t doc;
    int rc = blend_searcher_find(s, id, strlen(id), &doc, NULL);
    if (rc != (m->d[i].live ? BLEND_OK : BLEND_ENOTFOUND)) {
      test_fail(__FILE__, __LINE__, "%s: find(%s) = %d, model says %s", when, id, rc,
                m->d[i].live ? "live" : "absent");
      bad++;
      continue;
    }
    if (!m->d[i].live) continue;
    const char *t, *got;
    size_t n, gl;
    if (blend_searcher_doc_id(s, doc, &got, &gl, NULL) || gl != strlen(id) || memcmp(got, id, gl)) {
      test_fail(__FILE__, __LINE__, "%s: find(%s) gave a doc with another id", when, id);
      bad++;
    }
    rc = blend_searcher_doc_field(s, doc, "text", &t, &n, NULL);
    if (rc || n != strlen(m->d[i].text) || memcmp(t, m->d[i].text, n)) {
      test_fail(__FILE__, __LINE__, "%s: %s text differs (rc %d)", when, id, rc);
      bad++;
    }
    rc = blend_searcher_doc_field(s, doc, "title", &t, &n, NULL);
    if (m->d[i].has_title ? (rc || n != strlen(m->d[i].title) || memcmp(t, m->d[i].title, n))
                          : (rc != BLEND_ENOTFOUND && !(rc == 0 && n == 0))) {
      test_fail(__FILE__, __LINE__, "%s: %s title differs (rc %d)", when, id, rc);
      bad++;
    }
  }
  blend_searcher_free(s);
  blend_index_close(ix);
  return bad ? -1 : 0;
}

static const char *queries[] = {
    "w00",         "w01 w02",           "w03 w00 w07 w11",       "w05 w06 w08 w09 w10 w12",
    "title:w01",   "title:w00 text:w02", "w13 w14 w15 w16 w17 w18 w19 w20 w21", "w30 w31 w00",
};
#define NQUERIES (sizeof queries / sizeof *queries)

static void set_mode(blend_search_options *o, int mode) {
  blend_search_options_default(o);
  if (mode >= 1) o->field_mode = BLEND_FIELDS_MULTI;
  if (mode == 2) {
    strcpy(o->field_weights[0].name, "title");
    o->field_weights[0].weight = 2.5f;
    strcpy(o->field_weights[1].name, "text");
    o->field_weights[1].weight = 0.25f;
    o->nfield_weights = 2;
  }
  if (mode == 3) { /* a zero weight is allowed, and prunes a whole field */
    strcpy(o->field_weights[0].name, "title");
    o->field_weights[0].weight = 0.0f;
    o->nfield_weights = 1;
    o->k1 = 1.2f;
    o->b = 0.75f;
  }
}

/* MaxScore and BMW equal exhaustive search (ids, scores bit-exact), and no
** hit is a deleted document. */
static void check_pruning(const char *dir, const model *m, const char *when) {
  blend_index *ix;
  blend_searcher *s;
  blend_error err = {0};
  if (blend_index_open(dir, &ix, &err) || blend_searcher_new(ix, &s, &err)) {
    test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
    return;
  }
  static const uint32_t ks[] = {1, 7, 50};
  int bad = 0;
  for (uint32_t q = 0; q < NQUERIES && bad < 3; q++)
    for (int mode = 0; mode < 4 && bad < 3; mode++)
      for (uint32_t ki = 0; ki < 3 && bad < 3; ki++) {
        blend_search_options o;
        set_mode(&o, mode);
        o.k = ks[ki];
        o.algorithm = BLEND_TOPK_EXHAUSTIVE;
        blend_results r;
        if (blend_search(s, queries[q], &o, &r, &err)) {
          test_fail(__FILE__, __LINE__, "%s: %s: %s", when, queries[q], err.message);
          bad++;
          continue;
        }
        uint32_t n = r.count;
        blend_hit want[50];
        memcpy(want, r.hits, n * sizeof *want);
        for (uint32_t h = 0; h < n; h++) {
          const char *id;
          size_t len;
          blend_searcher_doc_id(s, want[h].doc, &id, &len, NULL);
          uint32_t i = (uint32_t)strtoul(id + 2, NULL, 10);
          if (i >= m->nids || !m->d[i].live) {
            test_fail(__FILE__, __LINE__, "%s: %s returned deleted doc %.*s", when, queries[q], (int)len, id);
            bad++;
          }
        }
        for (int algo = BLEND_TOPK_MAXSCORE; algo <= BLEND_TOPK_BMW; algo++) {
          o.algorithm = algo;
          if (blend_search(s, queries[q], &o, &r, &err)) {
            test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
            bad++;
            continue;
          }
          int same = r.count == n;
          for (uint32_t h = 0; same && h < n; h++)
            same = r.hits[h].doc == want[h].doc && r.hits[h].score == want[h].score;
          if (!same) {
            test_fail(__FILE__, __LINE__, "%s: '%s' mode %d k %u: %s differs from exhaustive (%u vs %u hits)",
                      when, queries[q], mode, ks[ki], algo == BLEND_TOPK_MAXSCORE ? "maxscore" : "bmw", r.count,
                      n);
            bad++;
          }
        }
      }
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* After force_merge(1): a fresh REPLACE build of the same live documents,
** added in the merged segment's document order (ties break by internal doc
** number), gives bit-identical top-k lists. */
static void check_rebuild(const char *dir, const model *m, const char *rebuild_dir, const char *when) {
  blend_error err = {0};
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, &err) || blend_searcher_new(ix, &s, &err)) {
    test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
    return;
  }
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECKF(st.segments <= 1 && st.deleted == 0, "%s: after force_merge(1): %u segments, %llu deleted", when,
         st.segments, (unsigned long long)st.deleted);
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open_mode(rebuild_dir, &cfg, BLEND_WRITE_REPLACE, &w, &err)) {
    test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
    goto out;
  }
  for (uint32_t d = 0; d < st.docs; d++) {
    const char *id;
    size_t len;
    if (blend_searcher_doc_id(s, d, &id, &len, NULL)) break;
    uint32_t i = (uint32_t)strtoul(id + 2, NULL, 10);
    writer_add_doc(w, i, &m->d[i]);
  }
  int rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  if (rc) {
    test_fail(__FILE__, __LINE__, "%s: rebuild: %s", when, err.message);
    goto out;
  }
  blend_index *rx;
  blend_searcher *rs;
  if (blend_index_open(rebuild_dir, &rx, &err) || blend_searcher_new(rx, &rs, &err)) {
    test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
    goto out;
  }
  int bad = 0;
  for (uint32_t q = 0; q < NQUERIES && bad < 3; q++)
    for (int mode = 0; mode < 4 && bad < 3; mode++) {
      blend_search_options o;
      set_mode(&o, mode);
      o.k = 20;
      blend_results a, b;
      if (blend_search(s, queries[q], &o, &a, &err)) break;
      uint32_t n = a.count;
      blend_hit want[20];
      memcpy(want, a.hits, n * sizeof *want);
      if (blend_search(rs, queries[q], &o, &b, &err)) break;
      int same = b.count == n;
      for (uint32_t h = 0; same && h < n; h++) {
        const char *ia, *ib;
        size_t la, lb;
        blend_searcher_doc_id(s, want[h].doc, &ia, &la, NULL);
        blend_searcher_doc_id(rs, b.hits[h].doc, &ib, &lb, NULL);
        same = la == lb && !memcmp(ia, ib, la) && want[h].score == b.hits[h].score;
        if (!same)
          test_fail(__FILE__, __LINE__, "%s: '%s' mode %d hit %u: merged %.*s %.9g, rebuilt %.*s %.9g", when,
                    queries[q], mode, h, (int)la, ia, (double)want[h].score, (int)lb, ib,
                    (double)b.hits[h].score);
      }
      if (!same) {
        if (b.count != n) test_fail(__FILE__, __LINE__, "%s: '%s': %u vs %u hits", when, queries[q], n, b.count);
        bad++;
      }
    }
  blend_searcher_free(rs);
  blend_index_close(rx);
out:
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* One random sequence of operations on dir, checked against the model. */
static void run_sequence(uint64_t seed, uint32_t nops, const char *name) {
  rng_state = seed;
  static model m, committed;
  memset(&m, 0, sizeof m);
  const char *dir = sub_dir(name);
  char rebuild[600];
  snprintf(rebuild, sizeof rebuild, "%s-rebuild", dir);
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  committed = m;
  uint32_t commits = 0, merges = 0, rebuilds = 0;
  char when[128];
  for (uint32_t op = 0; op < nops && !test_failed_now(); op++) {
    uint32_t r = rnd_below(100);
    snprintf(when, sizeof when, "seed %llu op %u", (unsigned long long)seed, op);
    if (r < 45 && m.nids < MAX_IDS) { /* add a new document */
      uint32_t i = m.nids++;
      random_doc(&m.d[i]);
      REQUIRE(writer_add_doc(w, i, &m.d[i]) == 0);
    } else if (r < 60 && m.nids) { /* update (same id), live or deleted */
      uint32_t i = rnd_below(m.nids);
      random_doc(&m.d[i]);
      REQUIRE(writer_add_doc(w, i, &m.d[i]) == 0);
    } else if (r < 75 && m.nids) { /* delete, sometimes an absent id */
      uint32_t i = rnd_below(m.nids + 3);
      char id[16];
      id_of(i, id);
      int found = -1;
      REQUIRE(blend_writer_delete(w, id, strlen(id), &found, &err) == 0);
      int want = i < m.nids && m.d[i].live;
      CHECKF(found == want, "%s: delete %s found %d, model %d", when, id, found, want);
      if (i < m.nids) m.d[i].live = 0;
    } else if (r < 88) { /* commit (merge policy on or off) */
      blend_writer_set_merge(w, rnd_below(3) != 0);
      REQUIRE(blend_writer_commit(w, &err) == 0);
      committed = m;
      commits++;
      if (check_live_set(dir, &m, when)) {
        blend_writer_close(w);
        return;
      }
      if (rnd_below(2)) check_pruning(dir, &m, when);
    } else if (r < 93) { /* a reader sees only the last commit */
      if (check_live_set(dir, &committed, when)) {
        blend_writer_close(w);
        return;
      }
    } else if (r < 97) { /* force merge, possibly with uncommitted work */
      uint32_t max = 1 + rnd_below(3);
      if (rnd_below(2)) { /* only deletions pending: the merge must keep them */
        REQUIRE(blend_writer_commit(w, &err) == 0);
        for (uint32_t k = 0, n = 1 + rnd_below(4); k < n && m.nids; k++) {
          uint32_t i = rnd_below(m.nids);
          char id[16];
          id_of(i, id);
          REQUIRE(blend_writer_delete(w, id, strlen(id), NULL, &err) == 0);
          m.d[i].live = 0;
        }
      }
      REQUIRE(blend_writer_force_merge(w, max, &err) == 0);
      /* a force merge commits what the writer holds first */
      committed = m;
      merges++;
      /* pending deletions the merge did not commit are still pending */
      REQUIRE(blend_writer_commit(w, &err) == 0);
      if (check_live_set(dir, &m, when)) {
        blend_writer_close(w);
        return;
      }
      if (max == 1) {
        check_rebuild(dir, &m, rebuild, when);
        rebuilds++;
      }
    } else { /* close and reopen the writer: the uncommitted work is lost */
      blend_writer_close(w);
      m = committed;
      REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
    }
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  check_live_set(dir, &m, "final commit");
  check_pruning(dir, &m, "final commit");
  REQUIRE(blend_writer_force_merge(w, 1, &err) == 0);
  blend_writer_close(w);
  check_live_set(dir, &m, "final merge");
  check_rebuild(dir, &m, rebuild, "final merge");
  CHECK(commits > 5 && merges > 0 && rebuilds > 0);
}

TEST(model_random_sequences) {
  run_sequence(1, 900, "model1");
  run_sequence(20260815, 900, "model2");
  run_sequence(77, 600, "model3");
}

/* Deletions pending in segments a force merge does not pick must survive
** it (and be committed), not be dropped with the writer's rebase. */
TEST(force_merge_keeps_pending_deletes) {
  const char *dir = sub_dir("pending-del");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  static model m;
  memset(&m, 0, sizeof m);
  rng_state = 5;
  for (uint32_t seg = 0; seg < 4; seg++) { /* segments of 40, 30, 20, 10 docs */
    for (uint32_t k = 0; k < 40 - 10 * seg; k++) {
      uint32_t i = m.nids++;
      random_doc(&m.d[i]);
      REQUIRE(writer_add_doc(w, i, &m.d[i]) == 0);
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  /* delete from the biggest (not picked by a merge down to 3) and the smallest */
  const uint32_t del[] = {0, 1, 2, 95, 99};
  for (size_t k = 0; k < sizeof del / sizeof *del; k++) {
    char id[16];
    id_of(del[k], id);
    int found;
    REQUIRE(blend_writer_delete(w, id, strlen(id), &found, &err) == 0);
    CHECK(found);
    m.d[del[k]].live = 0;
  }
  REQUIRE(blend_writer_force_merge(w, 3, &err) == 0);
  blend_writer_close(w);
  check_live_set(dir, &m, "after force_merge(3) with pending deletes");
}

/* ------------------------------------------- fields in different orders */

static void add2(blend_writer *w, const char *id, const char *f1, const char *t1, const char *f2, const char *t2) {
  blend_field_value f[2] = {{f1, t1, strlen(t1)}, {f2, t2 ? t2 : "", t2 ? strlen(t2) : 0}};
  blend_doc d = {.id = id, .id_len = strlen(id), .fields = f, .nfields = f2 ? 2 : 1};
  blend_error err = {0};
  if (blend_writer_add(w, &d, &err)) test_fail(__FILE__, __LINE__, "add %s: %s", id, err.message);
}

static int search_ids(blend_searcher *s, const char *q, int mode, int algo, char *out, size_t cap) {
  blend_search_options o;
  blend_search_options_default(&o);
  o.field_mode = mode;
  o.algorithm = algo;
  o.k = 10;
  blend_results r;
  blend_error err = {0};
  out[0] = 0;
  if (blend_search(s, q, &o, &r, &err)) {
    snprintf(out, cap, "error: %s", err.message);
    return -1;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < r.count; i++) {
    const char *id;
    size_t n;
    blend_searcher_doc_id(s, r.hits[i].doc, &id, &n, NULL);
    at += (size_t)snprintf(out + at, cap - at, "%s%.*s", i ? "," : "", (int)n, id);
  }
  return (int)r.count;
}

TEST(fields_created_in_different_orders) {
  const char *dir = sub_dir("field-order");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  /* segment 1: fields contents, text, title */
  add2(w, "s1-text-only", "text", "alpha gamma", NULL, NULL);
  add2(w, "s1-beta-title", "text", "zeta", "title", "beta");
  REQUIRE(blend_writer_commit(w, &err) == 0);
  /* segment 2: fields contents, title, text */
  add2(w, "s2-alpha-title", "title", "alpha", "text", "delta");
  add2(w, "s2-other", "title", "omega", "text", "epsilon");
  REQUIRE(blend_writer_commit(w, &err) == 0);
  /* segment 3: a third field first, then text */
  add2(w, "s3-notes", "notes", "alpha beta", "text", "theta");
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);

  blend_index *ix;
  blend_searcher *s;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.segments, 3);
  char got[256];
  static const struct {
    const char *q, *want;
  } cases[] = {
      {"title:alpha", "s2-alpha-title"}, {"title:beta", "s1-beta-title"}, {"text:alpha", "s1-text-only"},
      {"text:delta", "s2-alpha-title"},  {"notes:alpha", "s3-notes"},     {"notes:beta", "s3-notes"},
      {"text:theta", "s3-notes"},        {"title:omega", "s2-other"},     {"text:zeta", "s1-beta-title"},
      {"title:theta", ""},               {"notes:delta", ""},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (int algo = BLEND_TOPK_EXHAUSTIVE; algo <= BLEND_TOPK_BMW; algo++) {
      search_ids(s, cases[c].q, BLEND_FIELDS_FLAT, algo, got, sizeof got);
      CHECKF(!strcmp(got, cases[c].want), "%s (algo %d): got [%s], want [%s]", cases[c].q, algo, got,
             cases[c].want);
    }
  /* explain names the right field and counts df in that field only */
  blend_search_options o;
  blend_search_options_default(&o);
  o.explain = 1;
  blend_results r;
  REQUIRE(blend_search(s, "title:alpha", &o, &r, &err) == 0);
  REQUIRE(r.count == 1);
  REQUIRE(r.hits[0].nterms == 1);
  CHECK_STR(r.hits[0].terms[0].field, "title");
  CHECK_EQ_INT(r.hits[0].terms[0].df, 1);
  CHECK_EQ_INT(r.hits[0].terms[0].tf, 1);
  CHECK_NEAR(r.hits[0].terms[0].score, r.hits[0].score, 1e-6);
  /* multifield "alpha": three docs, each via its own field, explained per field */
  o.field_mode = BLEND_FIELDS_MULTI;
  REQUIRE(blend_search(s, "alpha", &o, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 3);
  for (uint32_t h = 0; h < r.count; h++) {
    const char *id;
    size_t n;
    blend_searcher_doc_id(s, r.hits[h].doc, &id, &n, NULL);
    const char *want = !strncmp(id, "s1", 2) ? "text" : !strncmp(id, "s2", 2) ? "title" : "notes";
    CHECKF(r.hits[h].nterms == 1 && !strcmp(r.hits[h].terms[0].field, want), "%.*s: explained by %s, want %s",
           (int)n, id, r.hits[h].nterms ? r.hits[h].terms[0].field : "-", want);
    if (r.hits[h].nterms) CHECK_EQ_INT(r.hits[h].terms[0].df, 1);
  }
  /* stored fields by name, whatever the segment's field numbering */
  uint32_t doc;
  const char *t;
  size_t n;
  REQUIRE(blend_searcher_find(s, "s2-alpha-title", 14, &doc, &err) == 0);
  REQUIRE(blend_searcher_doc_field(s, doc, "title", &t, &n, &err) == 0);
  CHECK(n == 5 && !memcmp(t, "alpha", 5));
  REQUIRE(blend_searcher_doc_field(s, doc, "text", &t, &n, &err) == 0);
  CHECK(n == 5 && !memcmp(t, "delta", 5));
  blend_searcher_free(s);
  blend_index_close(ix);

  /* and the same after merging them into one segment */
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  REQUIRE(blend_writer_force_merge(w, 1, &err) == 0);
  blend_writer_close(w);
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    search_ids(s, cases[c].q, BLEND_FIELDS_FLAT, BLEND_TOPK_AUTO, got, sizeof got);
    CHECKF(!strcmp(got, cases[c].want), "merged: %s: got [%s], want [%s]", cases[c].q, got, cases[c].want);
  }
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* Like Lucene, a deleted document not merged away yet still counts in N
** and df; a merge drops it from both. */
TEST(deleted_documents_count_in_df_until_merged) {
  const char *dir = sub_dir("df-deleted");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  char id[16];
  for (int i = 0; i < 10; i++) {
    sprintf(id, "d%d", i);
    add2(w, id, "text", i < 4 ? "apple pie" : "banana split", NULL, NULL);
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  int found;
  REQUIRE(blend_writer_delete(w, "d0", 2, &found, &err) == 0 && found);
  REQUIRE(blend_writer_delete(w, "d1", 2, &found, &err) == 0 && found);
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_index *ix;
  blend_searcher *s;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  blend_search_options o;
  blend_search_options_default(&o);
  o.explain = 1;
  blend_results r;
  REQUIRE(blend_search(s, "apple", &o, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 2);
  REQUIRE(r.count > 0 && r.hits[0].nterms == 1);
  CHECK_EQ_INT(r.hits[0].terms[0].df, 4);
  /* idf with N = 10, df = 4 (deleted still counted) */
  double idf = log(1 + (10 - 4 + 0.5) / (4 + 0.5));
  double avgdl = 2.0, K = 0.9 * (1 - 0.4 + 0.4 * 2 / avgdl);
  CHECK_NEAR(r.hits[0].score, idf * 1 / (1 + K), 1e-6);
  blend_searcher_free(s);
  blend_index_close(ix);
  REQUIRE(blend_writer_force_merge(w, 1, &err) == 0);
  blend_writer_close(w);
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  REQUIRE(blend_search(s, "apple", &o, &r, &err) == 0);
  CHECK_EQ_INT(r.count, 2);
  REQUIRE(r.count > 0 && r.hits[0].nterms == 1);
  CHECK_EQ_INT(r.hits[0].terms[0].df, 2);
  idf = log(1 + (8 - 2 + 0.5) / (2 + 0.5));
  CHECK_NEAR(r.hits[0].score, idf * 1 / (1 + K), 1e-6);
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* ------------------------------------------------------- field weights */

TEST(bad_field_weights_rejected) {
  const char *dir = sub_dir("weights");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  add2(w, "a", "title", "alpha", "text", "beta");
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  blend_index *ix;
  blend_searcher *s;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  const float bad[] = {-1.0f, -0.0001f, NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    for (int algo = BLEND_TOPK_AUTO; algo <= BLEND_TOPK_BMW; algo++) {
      blend_search_options o;
      blend_search_options_default(&o);
      o.field_mode = BLEND_FIELDS_MULTI;
      o.algorithm = algo;
      strcpy(o.field_weights[0].name, "text");
      o.field_weights[0].weight = 1.0f;
      strcpy(o.field_weights[1].name, "title");
      o.field_weights[1].weight = bad[i];
      o.nfield_weights = 2;
      blend_results r;
      memset(&err, 0, sizeof err);
      int rc = blend_search(s, "alpha beta", &o, &r, &err);
      CHECKF(rc == BLEND_EINVAL, "weight %g algo %d: rc %d", (double)bad[i], algo, rc);
      CHECKF(strstr(err.message, "title") != NULL, "message does not name the field: %s", err.message);
    }
  blend_search_options o;
  blend_search_options_default(&o);
  o.field_mode = BLEND_FIELDS_MULTI;
  o.nfield_weights = BLEND_MAX_FIELD_WEIGHTS + 1;
  blend_results r;
  CHECK(blend_search(s, "alpha", &o, &r, NULL) == BLEND_EINVAL);
  o.nfield_weights = 1;
  strcpy(o.field_weights[0].name, "title");
  o.field_weights[0].weight = 0.0f; /* zero is a valid weight */
  CHECK(blend_search(s, "alpha beta", &o, &r, NULL) == BLEND_OK && r.count == 1);
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* ------------------------------------------------ BM25 oracle, long docs */

/* Lucene's SmallFloat (org.apache.lucene.util.SmallFloat), written from its
** definition: longToInt4 keeps 4 significant bits with an implicit leading
** one; intToByte4 stores small values exactly below NUM_FREE_VALUES =
** 255 - longToInt4(Integer.MAX_VALUE). */
static int oracle_long_to_int4(uint64_t i) {
  int num_bits = 0;
  for (uint64_t v = i; v; v >>= 1) num_bits++;
  if (num_bits < 4) return (int)i;
  int shift = num_bits - 4;
  int encoded = (int)(i >> shift) & 0x07;
  return encoded | (shift + 1) << 3;
}
static uint64_t oracle_int4_to_long(int i) {
  uint64_t bits = (uint64_t)(i & 0x07);
  int shift = (i >> 3) - 1;
  return shift == -1 ? bits : (bits | 0x08) << shift;
}
static int oracle_free_values(void) { return 255 - oracle_long_to_int4(2147483647u); }
static int oracle_int_to_byte4(uint32_t i) {
  int nf = oracle_free_values();
  return (int)i < nf ? (int)i : nf + oracle_long_to_int4(i - (uint32_t)nf);
}
static uint32_t oracle_byte4_to_int(int b) {
  int nf = oracle_free_values();
  return b < nf ? (uint32_t)b : (uint32_t)(nf + oracle_int4_to_long(b - nf));
}

TEST(smallfloat_oracle_self_check) {
  /* known points of Lucene's table */
  CHECK_EQ_INT(oracle_free_values(), 24);
  CHECK_EQ_INT(oracle_byte4_to_int(oracle_int_to_byte4(23)), 23);
  CHECK_EQ_INT(oracle_byte4_to_int(oracle_int_to_byte4(24)), 24);
  CHECK_EQ_INT(oracle_byte4_to_int(oracle_int_to_byte4(100)), 96); /* 76 → 72 (4 significant bits) */
  CHECK_EQ_INT(oracle_byte4_to_int(255), 2013265944u);
  for (uint32_t len = 0; len < 5000; len++) { /* decode(encode(len)) ≤ len, monotone */
    uint32_t d = oracle_byte4_to_int(oracle_int_to_byte4(len));
    CHECK(d <= len);
    if (len) CHECK(oracle_int_to_byte4(len) >= oracle_int_to_byte4(len - 1));
  }
}

#define ORACLE_DOCS 300
#define ORACLE_VOCAB 12

TEST(bm25_oracle_long_documents) {
  const char *dir = sub_dir("oracle");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  strcpy(cfg.analyzer.stemmer, "none");
  strcpy(cfg.analyzer.stopwords, "none");
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  static uint32_t tf[ORACLE_DOCS][ORACLE_VOCAB], len[ORACLE_DOCS];
  rng_state = 424242;
  uint64_t sum = 0;
  for (uint32_t d = 0; d < ORACLE_DOCS; d++) {
    /* every length 0..139 twice, then longer ones, up to 1500 tokens */
    len[d] = d < 280 ? d / 2 : 200 + rnd_below(1300);
    size_t at = 0;
    static char big[1500 * 6];
    for (uint32_t t = 0; t < len[d]; t++) {
      uint32_t v = rnd_below(ORACLE_VOCAB);
      v = rnd_below(v + 1);
      tf[d][v]++;
      at += (size_t)sprintf(big + at, "%st%u", t ? " " : "", v);
    }
    big[at] = 0;
    sum += len[d];
    char id[16];
    sprintf(id, "o%u", d);
    blend_field_value f = {"text", big, at};
    blend_doc doc = {.id = id, .id_len = strlen(id), .fields = &f, .nfields = 1};
    REQUIRE(blend_writer_add(w, &doc, &err) == 0);
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  blend_index *ix;
  blend_searcher *s;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
  static const struct {
    float k1, b;
  } params[] = {{0.9f, 0.4f}, {1.2f, 0.75f}, {2.0f, 1.0f}};
  static const char *qs[] = {"t0", "t3", "t11", "t1 t5", "t2 t7 t9", "text:t4 text:t6"};
  /* N and avgdl over documents that have the field (Lucene's docCount) */
  uint32_t with = 0;
  for (uint32_t d = 0; d < ORACLE_DOCS; d++) with += len[d] > 0;
  double N = with, avgdl = (double)(float)((double)sum / N);
  int checked_long = 0, bad = 0;
  for (size_t p = 0; p < 3; p++)
    for (size_t qi = 0; qi < sizeof qs / sizeof *qs; qi++)
      for (int mode = 0; mode < 2; mode++) {
        blend_search_options o;
        blend_search_options_default(&o);
        o.k1 = params[p].k1;
        o.b = params[p].b;
        o.k = ORACLE_DOCS;
        o.field_mode = mode ? BLEND_FIELDS_MULTI : BLEND_FIELDS_FLAT;
        blend_results r;
        REQUIRE(blend_search(s, qs[qi], &o, &r, &err) == 0);
        /* the oracle: Lucene's BM25 with quantised lengths */
        uint32_t terms[4], nt = 0;
        for (const char *c = qs[qi]; (c = strchr(c, 't')) && nt < 4; c++)
          if (c[1] >= '0' && c[1] <= '9') terms[nt++] = (uint32_t)strtoul(c + 1, NULL, 10);
        double want[ORACLE_DOCS];
        uint32_t nmatch = 0;
        for (uint32_t d = 0; d < ORACLE_DOCS; d++) {
          want[d] = 0;
          int match = 0;
          for (uint32_t t = 0; t < nt; t++) {
            if (!tf[d][terms[t]]) continue;
            uint32_t df = 0;
            for (uint32_t e = 0; e < ORACLE_DOCS; e++) df += tf[e][terms[t]] > 0;
            double idf = log(1 + (N - df + 0.5) / (df + 0.5));
            double dl = oracle_byte4_to_int(oracle_int_to_byte4(len[d]));
            double K = params[p].k1 * (1 - params[p].b + params[p].b * dl / avgdl);
            want[d] += idf * tf[d][terms[t]] / (tf[d][terms[t]] + K);
            match = 1;
          }
          nmatch += match;
        }
        CHECKF(r.count == nmatch, "%s: %u hits, oracle %u", qs[qi], r.count, nmatch);
        for (uint32_t h = 0; h < r.count && bad < 10; h++) {
          const char *id;
          size_t n;
          blend_searcher_doc_id(s, r.hits[h].doc, &id, &n, NULL);
          uint32_t d = (uint32_t)strtoul(id + 1, NULL, 10);
          /* float scoring vs double oracle: far tighter than one length step */
          if (!(fabs(r.hits[h].score - want[d]) <= 2e-6 * want[d] + 1e-7)) {
            test_fail(__FILE__, __LINE__, "%s k1=%g b=%g: doc %u (len %u) blend %.9g oracle %.9g", qs[qi],
                      (double)params[p].k1, (double)params[p].b, d, len[d], (double)r.hits[h].score, want[d]);
            bad++;
          }
          if (len[d] >= 24) checked_long++;
        }
      }
  CHECK(checked_long > 1000);
  /* an off-by-one in the length decoder is visible: length 40 scored as 41
     moves a score by more than the tolerance above */
  {
    double K40 = 0.9 * (1 - 0.4 + 0.4 * 40 / avgdl), K41 = 0.9 * (1 - 0.4 + 0.4 * 41 / avgdl);
    CHECK(fabs(1 / (1 + K40) - 1 / (1 + K41)) > 1e-5);
  }
  blend_searcher_free(s);
  blend_index_close(ix);
}

/* ------------------------------------------------------------ two writers */

TEST(second_writer_gets_elocked_with_pid) {
  const char *dir = sub_dir("locked");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *a, *b = NULL;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &a, &err) == 0);
  int rc = blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &b, &err);
  CHECK_EQ_INT(rc, BLEND_ELOCKED);
  CHECK(b == NULL);
  char pid[32];
  snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
  CHECKF(strstr(err.message, pid) != NULL, "message lacks '%s': %s", pid, err.message);
  /* REPLACE mode is locked out too */
  CHECK_EQ_INT(blend_writer_open(dir, &cfg, &b, &err), BLEND_ELOCKED);
  add2(a, "x", "text", "hello", NULL, NULL);
  REQUIRE(blend_writer_commit(a, &err) == 0);
  blend_writer_close(a);
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &b, &err) == 0);
  blend_writer_close(b);

  /* a holder that dies without closing: the kernel drops its flock */
  int go[2], ready[2];
  REQUIRE(pipe(go) == 0 && pipe(ready) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    blend_writer *cw;
    char c = blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &cw, NULL) == 0 ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(3);
    if (read(go[0], &c, 1) != 1) _exit(4);
    _exit(0); /* no close: the lock file keeps the dead pid */
  }
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  CHECK(c == 'y');
  rc = blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &b, &err);
  CHECK_EQ_INT(rc, BLEND_ELOCKED);
  snprintf(pid, sizeof pid, "pid %ld", (long)child);
  CHECKF(strstr(err.message, pid) != NULL, "message lacks '%s': %s", pid, err.message);
  CHECK(write(go[1], "x", 1) == 1);
  int status;
  REQUIRE(waitpid(child, &status, 0) == child);
  close(go[0]);
  close(go[1]);
  close(ready[0]);
  close(ready[1]);
  /* the stale lock (file still names the dead pid) is taken over */
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &b, &err) == 0);
  add2(b, "y", "text", "world", NULL, NULL);
  REQUIRE(blend_writer_commit(b, &err) == 0);
  blend_writer_close(b);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  CHECK_EQ_INT(st.docs, 2);
  blend_index_close(ix);
}

/* ------------------------------------- a reader process during writes */

#define RW_BATCH 30
#define RW_COMMITS 24

/* The reader's invariant: a snapshot holds whole batches only, the last two
** committed ones (j-1 and j), each with all RW_BATCH documents, and a term
** every document has matches exactly the live documents. Returns a failure
** description, or NULL. */
static const char *reader_check(blend_index *ix, uint64_t *gen_out, char *why, size_t cap) {
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  *gen_out = st.generation;
  blend_searcher *s;
  if (blend_searcher_new(ix, &s, NULL)) return "searcher";
  blend_search_options o;
  blend_search_options_default(&o);
  o.k = 4 * RW_BATCH;
  o.algorithm = BLEND_TOPK_EXHAUSTIVE;
  blend_results r;
  const char *bad = NULL;
  if (blend_search(s, "everyone", &o, &r, NULL)) bad = "search failed";
  else if (r.count != st.docs) {
    snprintf(why, cap, "gen %llu: 'everyone' matched %u, %llu live", (unsigned long long)st.generation, r.count,
             (unsigned long long)st.docs);
    bad = why;
  } else {
    uint32_t per[RW_COMMITS + 2] = {0};
    for (uint32_t h = 0; h < r.count && !bad; h++) {
      const char *id;
      size_t n;
      blend_searcher_doc_id(s, r.hits[h].doc, &id, &n, NULL);
      unsigned j = (unsigned)strtoul(id + 1, NULL, 10);
      if (j > RW_COMMITS) bad = "unknown batch";
      else per[j]++;
      const char *t;
      size_t tl;
      char want[64];
      snprintf(want, sizeof want, "everyone batch%u", j);
      if (blend_searcher_doc_field(s, r.hits[h].doc, "text", &t, &tl, NULL) || tl != strlen(want) ||
          memcmp(t, want, tl))
        bad = "stored text of a hit is wrong";
    }
    unsigned present = 0, hi = 0;
    for (unsigned j = 0; j <= RW_COMMITS && !bad; j++) {
      if (per[j] && per[j] != RW_BATCH) {
        snprintf(why, cap, "gen %llu: batch %u half there (%u docs)", (unsigned long long)st.generation, j, per[j]);
        bad = why;
      }
      if (per[j]) {
        present++;
        hi = j;
      }
    }
    if (!bad && (present > 2 || (present == 2 && !per[hi - 1]))) {
      snprintf(why, cap, "gen %llu: batches not the last two (%u present, newest %u)",
               (unsigned long long)st.generation, present, hi);
      bad = why;
    }
  }
  blend_searcher_free(s);
  return bad;
}

TEST(reader_process_during_commits_and_merges) {
  const char *dir = sub_dir("reader");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  char id[32], text[64];
  for (int i = 0; i < RW_BATCH; i++) { /* batch 0 */
    snprintf(id, sizeof id, "b0-%d", i);
    add2(w, id, "text", "everyone batch0", NULL, NULL);
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  /* a reader of this process holds the first generation throughout */
  blend_index *old;
  REQUIRE(blend_index_open(dir, &old, &err) == 0);
  int done[2], result[2];
  REQUIRE(pipe(done) == 0 && pipe(result) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(done[1]);
    blend_index *ix = NULL;
    uint64_t last = 0, gens = 0, rounds = 0;
    char why[256], msg[300] = "ok";
    blend_error cerr = {0};
    if (blend_index_open(dir, &ix, &cerr)) {
      snprintf(msg, sizeof msg, "open: %s", cerr.message);
      goto report;
    }
    for (;;) {
      uint64_t g;
      const char *bad = reader_check(ix, &g, why, sizeof why);
      if (bad) {
        snprintf(msg, sizeof msg, "%s", bad);
        break;
      }
      if (g < last) {
        snprintf(msg, sizeof msg, "generation went back %llu -> %llu", (unsigned long long)last,
                 (unsigned long long)g);
        break;
      }
      if (g != last) gens++;
      last = g;
      rounds++;
      struct timeval tv = {0, 0};
      fd_set fds;
      FD_ZERO(&fds);
      FD_SET(done[0], &fds);
      int fin = select(done[0] + 1, &fds, NULL, NULL, &tv) > 0;
      int changed;
      if (blend_index_refresh(&ix, &changed, &cerr)) {
        snprintf(msg, sizeof msg, "refresh: %s", cerr.message);
        break;
      }
      if (fin && !changed) { /* writer done and we are at the newest */
        char buf[32];
        snprintf(buf, sizeof buf, " %llu %llu %llu", (unsigned long long)g, (unsigned long long)gens,
                 (unsigned long long)rounds);
        strcat(msg, buf);
        break;
      }
    }
  report:
    blend_index_close(ix);
    if (write(result[1], msg, strlen(msg) + 1) < 0) _exit(2);
    _exit(0);
  }
  close(done[0]);
  for (int j = 1; j <= RW_COMMITS; j++) {
    for (int i = 0; i < RW_BATCH; i++) {
      snprintf(id, sizeof id, "b%d-%d", j, i);
      snprintf(text, sizeof text, "everyone batch%d", j);
      add2(w, id, "text", text, NULL, NULL);
    }
    for (int i = 0; j >= 2 && i < RW_BATCH; i++) {
      snprintf(id, sizeof id, "b%d-%d", j - 2, i);
      int found;
      REQUIRE(blend_writer_delete(w, id, strlen(id), &found, &err) == 0 && found);
    }
    blend_writer_set_merge(w, j % 2);
    REQUIRE(blend_writer_commit(w, &err) == 0);
    if (j % 5 == 0) REQUIRE(blend_writer_force_merge(w, j % 10 ? 2 : 1, &err) == 0);
    usleep(2000);
  }
  blend_writer_close(w);
  CHECK(write(done[1], "x", 1) == 1);
  char msg[300] = {0};
  ssize_t got = read(result[0], msg, sizeof msg - 1);
  int status;
  waitpid(child, &status, 0);
  close(done[1]);
  close(result[0]);
  close(result[1]);
  CHECKF(got > 0 && !strncmp(msg, "ok", 2), "reader: %s", got > 0 ? msg : "(no report)");
  blend_index *now;
  REQUIRE(blend_index_open(dir, &now, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(now, &st);
  unsigned long long g = 0, gens = 0, rounds = 0;
  if (got > 0 && sscanf(msg, "ok %llu %llu %llu", &g, &gens, &rounds) == 3) {
    CHECKF(g == st.generation, "reader ended at generation %llu, newest is %llu", g,
           (unsigned long long)st.generation);
    CHECKF(gens >= 2, "reader saw only %llu generations in %llu rounds", gens, rounds);
  }
  blend_index_close(now);
  /* the old snapshot still reads its own generation, although the writer
     has removed its files since */
  char why[256];
  uint64_t og;
  const char *bad = reader_check(old, &og, why, sizeof why);
  CHECKF(!bad, "old snapshot: %s", bad ? bad : "");
  blend_index_stats ost;
  blend_index_stats_get(old, &ost);
  CHECK_EQ_INT(ost.docs, RW_BATCH);
  char seg0[700];
  snprintf(seg0, sizeof seg0, "%s/seg-000001-0.bseg", dir);
  CHECKF(access(seg0, F_OK) != 0, "the first generation's segment was not collected");
  /* refresh moves it to the newest */
  int changed;
  REQUIRE(blend_index_refresh(&old, &changed, &err) == 0);
  CHECK(changed);
  blend_index_stats_get(old, &ost);
  CHECK_EQ_INT(ost.generation, st.generation);
  CHECK_EQ_INT(ost.docs, 2 * RW_BATCH);
  blend_index_close(old);
}

/* ------------------------------------------ the vector field through merges */

#define VDIM 8
#define VDOCS 400

static void vec_of(uint32_t id, uint32_t version, float *v) {
  uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull + version * 0xD1B54A32D192ED03ull + 1;
  for (int d = 0; d < VDIM; d++) {
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    v[d] = (float)((double)(h >> 40) / (double)(1ull << 24) - 0.5);
  }
}

static int add_vec_doc(blend_writer *w, uint32_t i, uint32_t version) {
  char id[16], text[32];
  id_of(i, id);
  snprintf(text, sizeof text, "v%u doc%u", version, i);
  float v[VDIM];
  vec_of(i, version, v);
  blend_field_value f = {"text", text, strlen(text)};
  blend_doc d = {.id = id, .id_len = strlen(id), .fields = &f, .nfields = 1, .vector = v, .vector_dim = VDIM};
  blend_error err = {0};
  int rc = blend_writer_add(w, &d, &err);
  if (rc) printf("add %s: %s\n", id, err.message);
  return rc;
}

/* Exact dense top-k of q: hits are live model documents with their current
** vector (cosine within float rounding, in order). */
static void check_dense(blend_searcher *s, const uint32_t *ver, const float *q, const char *when, int exact) {
  blend_dense_options o;
  blend_dense_options_default(&o);
  o.k = 15;
  o.exact = exact;
  blend_results r;
  blend_error err = {0};
  if (blend_search_vector(s, q, VDIM, &o, &r, &err)) {
    test_fail(__FILE__, __LINE__, "%s: %s", when, err.message);
    return;
  }
  /* brute force over the model */
  double best[15];
  uint32_t bid[15], n = 0;
  for (uint32_t i = 0; i < VDOCS; i++) {
    if (!ver[i]) continue;
    float v[VDIM];
    vec_of(i, ver[i], v);
    double dot = 0, nq = 0, nv = 0;
    for (int d = 0; d < VDIM; d++) {
      dot += (double)q[d] * v[d];
      nq += (double)q[d] * q[d];
      nv += (double)v[d] * v[d];
    }
    double c = dot / sqrt(nq * nv);
    uint32_t j = n < 15 ? n++ : 15;
    if (j == 15 && !(c > best[14])) continue;
    if (j == 15) j = 14;
    while (j > 0 && best[j - 1] < c) {
      best[j] = best[j - 1];
      bid[j] = bid[j - 1];
      j--;
    }
    best[j] = c;
    bid[j] = i;
  }
  CHECKF(r.count == n, "%s: %u dense hits, model %u", when, r.count, n);
  uint32_t same = 0;
  for (uint32_t h = 0; h < r.count && h < n; h++) {
    const char *id;
    size_t len;
    blend_searcher_doc_id(s, r.hits[h].doc, &id, &len, NULL);
    uint32_t i = (uint32_t)strtoul(id + 2, NULL, 10);
    CHECKF(i < VDOCS && ver[i], "%s: dense hit %.*s is not live", when, (int)len, id);
    if (exact) {
      CHECKF(fabs(r.hits[h].score - best[h]) < 1e-5, "%s: hit %u score %.7f, model %.7f", when, h,
             (double)r.hits[h].score, best[h]);
    }
    for (uint32_t k = 0; k < n; k++) same += bid[k] == i;
  }
  /* HNSW on 400 points: near-perfect recall; exact: the same set */
  if (exact) CHECKF(same == n, "%s: exact dense set differs (%u of %u)", when, same, n);
  else CHECKF(same + 2 >= n, "%s: HNSW recall %u of %u", when, same, n);
}

TEST(vector_field_through_updates_deletes_and_merges) {
  const char *dir = sub_dir("vectors");
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_vector_config_default(&cfg.vector, VDIM);
  cfg.vector.threads = 1;
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  static uint32_t ver[VDOCS];
  memset(ver, 0, sizeof ver);
  rng_state = 99;
  uint32_t version = 1;
  for (int round = 0; round < 6; round++) {
    for (int k = 0; k < 120; k++) { /* new and updated documents */
      uint32_t i = rnd_below(VDOCS);
      ver[i] = version++;
      REQUIRE(add_vec_doc(w, i, ver[i]) == 0);
    }
    for (int k = 0; k < 25; k++) {
      uint32_t i = rnd_below(VDOCS);
      char id[16];
      id_of(i, id);
      REQUIRE(blend_writer_delete(w, id, strlen(id), NULL, &err) == 0);
      ver[i] = 0;
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  for (int stage = 0; stage < 2; stage++) {
    if (stage == 1) REQUIRE(blend_writer_force_merge(w, 1, &err) == 0);
    blend_index *ix;
    blend_searcher *s;
    REQUIRE(blend_index_open(dir, &ix, &err) == 0);
    REQUIRE(blend_searcher_new(ix, &s, &err) == 0);
    blend_index_stats st;
    blend_index_stats_get(ix, &st);
    uint32_t live = 0;
    for (uint32_t i = 0; i < VDOCS; i++) live += ver[i] != 0;
    CHECK_EQ_INT(st.docs, live);
    if (stage == 1) CHECK(st.segments == 1 && st.deleted == 0);
    for (uint32_t qn = 0; qn < 12; qn++) {
      float q[VDIM];
      vec_of(100000 + qn, 7, q);
      char when[64];
      snprintf(when, sizeof when, "%s, query %u", stage ? "merged" : "6 segments", qn);
      check_dense(s, ver, q, when, 1);
      check_dense(s, ver, q, when, 0);
    }
    blend_searcher_free(s);
    blend_index_close(ix);
  }
  blend_writer_close(w);
}
