/*
** test_live_crash.c — the crash-safety harness: runs `blend index --append`,
** `blend delete` and `blend merge` (the CLI under test, $BLEND_BIN) on an
** index on disk and SIGKILLs them at random moments — from the start-up to
** inside the commit and the merges that follow it — then checks that the
** index opens and holds exactly the documents of the state before the
** command or of the state after it (a command that exits 0 must give the
** state after), never anything else, and that the next command works on
** whatever the crash left behind.
**
** The kill delay is uniform over 0..1.2 × the command's running time, as
** measured on the runs that completed, so every phase is hit in proportion
** to its length; no hook in the library. Trials: $BLEND_CRASH_TRIALS
** (default 32, for make check); the seed: $BLEND_CRASH_SEED. The counts of
** each outcome are printed:
**   BLEND_CRASH_TRIALS=600 build/release/tests/test_live_crash
*/
#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

static uint64_t rng_state;
static uint32_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}
static uint32_t rnd_below(uint32_t n) { return n ? rnd() % n : 0; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------- the model */

#define MAX_IDS 60000

typedef struct state {
  uint32_t version[MAX_IDS]; /* 0 = absent, else the version of its text */
  uint32_t nids;
} state;

static void doc_text(uint32_t id, uint32_t version, char *out, size_t cap) {
  /* a deterministic text per (id, version): long enough that a batch of a
     few thousand documents takes a while to index and commit */
  uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull ^ version * 0xBF58476D1CE4E5B9ull;
  size_t at = (size_t)snprintf(out, cap, "v%u d%u", version, id);
  for (int i = 0; i < 24 && at + 12 < cap; i++) {
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    at += (size_t)snprintf(out + at, cap - at, " w%u", (unsigned)(h >> 40) % 3000);
  }
}

/* Read what the index in dir holds into st (ids below nids). */
static int read_state(const char *dir, uint32_t nids, state *st, uint64_t *gen, char *why, size_t cap) {
  blend_error err = {0};
  blend_index *ix;
  if (blend_index_open(dir, &ix, &err)) {
    snprintf(why, cap, "open: %s", err.message);
    return -1;
  }
  blend_index_stats s;
  blend_index_stats_get(ix, &s);
  *gen = s.generation;
  blend_searcher *se;
  if (blend_searcher_new(ix, &se, &err)) {
    blend_index_close(ix);
    snprintf(why, cap, "searcher: %s", err.message);
    return -1;
  }
  int rc = 0;
  uint64_t live = 0;
  st->nids = nids;
  memset(st->version, 0, nids * sizeof *st->version);
  /* walk documents in internal order (stored-field blocks decompress once
     each); a document is live when its id finds it */
  for (uint32_t doc = 0; !rc; doc++) {
    const char *idp;
    size_t idn;
    if (blend_searcher_doc_id(se, doc, &idp, &idn, NULL)) break;
    char id[32];
    if (idn < 2 || idn > 16 || idp[0] != 'd') {
      snprintf(why, cap, "doc %u has a foreign id '%.*s'", doc, (int)(idn > 20 ? 20 : idn), idp);
      rc = -1;
      break;
    }
    memcpy(id, idp, idn);
    id[idn] = 0;
    uint32_t found;
    if (blend_searcher_find(se, id, idn, &found, NULL) || found != doc) continue; /* deleted or replaced */
    uint32_t i = (uint32_t)strtoul(id + 1, NULL, 10);
    if (i >= nids) {
      snprintf(why, cap, "live id %s was never added", id);
      rc = -1;
      break;
    }
    live++;
    const char *t;
    size_t n;
    if (blend_searcher_doc_field(se, doc, "text", &t, &n, &err)) {
      snprintf(why, cap, "%s: stored text: %s", id, err.message);
      rc = -1;
      break;
    }
    char want[512];
    unsigned v = 0;
    if (n < 2 || t[0] != 'v' || sscanf(t + 1, "%u", &v) != 1 || v == 0) {
      snprintf(why, cap, "%s: stored text '%.40s' is not ours", id, t);
      rc = -1;
      break;
    }
    doc_text(i, v, want, sizeof want);
    if (n != strlen(want) || memcmp(t, want, n)) {
      snprintf(why, cap, "%s: stored text of version %u is damaged", id, v);
      rc = -1;
    }
    if (st->version[i]) {
      snprintf(why, cap, "%s is live twice", id);
      rc = -1;
    }
    st->version[i] = v;
  }
  /* nothing but our ids: the live count is the ids found */
  if (!rc && live != s.docs) {
    snprintf(why, cap, "index has %llu live documents, %llu of them with known ids",
             (unsigned long long)s.docs, (unsigned long long)live);
    rc = -1;
  }
  /* a search sees exactly the live documents too */
  if (!rc) {
    blend_search_options o;
    blend_search_options_default(&o);
    o.k = 100000;
    blend_results r;
    if (blend_search(se, "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10", &o, &r, &err)) {
      snprintf(why, cap, "search: %s", err.message);
      rc = -1;
    }
    for (uint32_t h = 0; !rc && h < r.count; h++) {
      const char *id;
      size_t n;
      blend_searcher_doc_id(se, r.hits[h].doc, &id, &n, NULL);
      uint32_t i = (uint32_t)strtoul(id + 1, NULL, 10);
      if (i >= nids || !st->version[i]) {
        snprintf(why, cap, "search returned %.*s, which is not live", (int)n, id);
        rc = -1;
      }
    }
  }
  blend_searcher_free(se);
  blend_index_close(ix);
  return rc;
}

static int same_state(const state *a, const state *b, uint32_t nids) {
  for (uint32_t i = 0; i < nids; i++)
    if (a->version[i] != b->version[i]) return 0;
  return 1;
}

/* ------------------------------------------------------ running blend */

/* Run argv; SIGKILL it after kill_after seconds unless it ends first
** (kill_after < 0: never). With watch_dir, the clock starts only when the
** command creates its first new index file (a segment, live-docs file or
** MANIFEST.tmp — it is committing), seen through inotify: kills aimed at
** the commit itself. Returns the wait status; *killed when killed; *secs
** = how long it ran. */
static int run_blend(char *const argv[], double kill_after, const char *watch_dir, int *killed, double *secs,
                     const char *log) {
  *killed = 0;
  int ino = -1;
  if (watch_dir) {
    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino >= 0 && inotify_add_watch(ino, watch_dir, IN_CREATE) < 0) {
      close(ino);
      ino = -1;
    }
  }
  double t0 = now(), armed = watch_dir && ino >= 0 ? -1 : t0;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (armed < 0) {
      char ev[4096] __attribute__((aligned(8)));
      ssize_t n = read(ino, ev, sizeof ev);
      for (ssize_t at = 0; n > 0 && at < n;) {
        const struct inotify_event *e = (const struct inotify_event *)(ev + at);
        if (e->len && (!strncmp(e->name, "seg-", 4) || !strncmp(e->name, "MANIFEST.tmp", 12))) armed = now();
        at += (ssize_t)(sizeof *e + e->len);
      }
    }
    if (kill_after >= 0 && armed >= 0 && now() - armed >= kill_after) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      break;
    }
    struct timespec ts = {0, armed < 0 ? 20000 : 50000}; /* 20 µs while watching, else 50 µs */
    nanosleep(&ts, NULL);
  }
  if (ino >= 0) close(ino);
  *secs = now() - t0;
  return status;
}

/* Every seg-* file in dir is named by its MANIFEST. */
static int no_leftovers(const char *dir, char *why, size_t cap) {
  char path[700];
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  FILE *f = fopen(path, "r");
  if (!f) return snprintf(why, cap, "no MANIFEST"), -1;
  static char man[1 << 20];
  size_t n = fread(man, 1, sizeof man - 1, f);
  fclose(f);
  man[n] = 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "MANIFEST") || !strcmp(e->d_name, "LOCK")) continue;
    char quoted[300];
    snprintf(quoted, sizeof quoted, "\"%s\"", e->d_name);
    if (!strstr(man, quoted)) {
      snprintf(why, cap, "leftover file %s after a successful commit", e->d_name);
      rc = -1;
    }
  }
  closedir(d);
  return rc;
}

enum { OP_APPEND, OP_DELETE, OP_MERGE, NOPS };
static const char *op_name[NOPS] = {"index --append", "delete", "merge"};

TEST(sigkill_during_append_delete_merge) {
  const char *bin = test_blend_bin();
  if (access(bin, X_OK) != 0) SKIP("no blend binary (set BLEND_BIN)");
  const char *env = getenv("BLEND_CRASH_TRIALS");
  int trials = env && *env ? atoi(env) : 32;
  env = getenv("BLEND_CRASH_SEED");
  rng_state = env && *env ? strtoull(env, NULL, 10) : 8;
  if (!rng_state) rng_state = 8;
  int verbose = getenv("BLEND_CRASH_VERBOSE") != NULL;
  char dir[600], batch[600], ids[600], logf[600];
  snprintf(dir, sizeof dir, "%s/crash-ix", test_tmpdir());
  snprintf(batch, sizeof batch, "%s/batch.jsonl", test_tmpdir());
  snprintf(ids, sizeof ids, "%s/ids.txt", test_tmpdir());
  snprintf(logf, sizeof logf, "%s/blend.log", test_tmpdir());
  static state model, after, seen;
  memset(&model, 0, sizeof model);
  uint32_t version = 1;
  double est[NOPS] = {0.3, 0.1, 0.2}; /* seconds, refined by completed runs */
  int outcome[NOPS][3] = {{0}}; /* completed, killed→before, killed→after */
  int broken = 0, failed_exit = 0, kills[2] = {0, 0};
  char why[600], text[512];
  for (int t = 0; t < trials && broken == 0 && failed_exit == 0; t++) {
    int op = t == 0 ? OP_APPEND : (int)rnd_below(10) < 6 ? OP_APPEND : rnd_below(2) ? OP_DELETE : OP_MERGE;
    after = model;
    char *argv[12];
    int ac = 0;
    argv[ac++] = (char *)bin;
    char maxs[16];
    if (op == OP_APPEND) {
      FILE *f = fopen(batch, "w");
      REQUIRE(f);
      uint32_t n = t == 0 ? 3000 : 300 + rnd_below(1700);
      for (uint32_t k = 0; k < n; k++) {
        /* new ids, and updates of existing (live or deleted) ones */
        uint32_t i = (model.nids && rnd_below(10) < 3) || after.nids == MAX_IDS ? rnd_below(model.nids) : after.nids++;
        doc_text(i, version, text, sizeof text);
        fprintf(f, "{\"_id\":\"d%u\",\"title\":\"t%u\",\"text\":\"%s\"}\n", i, version, text);
        after.version[i] = version;
      }
      fclose(f);
      version++;
      argv[ac++] = "index";
      argv[ac++] = "--append";
      argv[ac++] = "-q";
      argv[ac++] = "--input";
      argv[ac++] = batch;
      argv[ac++] = "--index";
      argv[ac++] = dir;
    } else if (op == OP_DELETE) {
      FILE *f = fopen(ids, "w");
      REQUIRE(f);
      uint32_t n = 1 + rnd_below(model.nids / 20 + 1);
      for (uint32_t k = 0; k < n; k++) {
        uint32_t i = rnd_below(model.nids + 10); /* some are not in the index */
        fprintf(f, "d%u\n", i);
        if (i < MAX_IDS) after.version[i] = 0;
      }
      fclose(f);
      argv[ac++] = "delete";
      argv[ac++] = "--index";
      argv[ac++] = dir;
      argv[ac++] = "--ids";
      argv[ac++] = ids;
    } else {
      snprintf(maxs, sizeof maxs, "%u", 1 + rnd_below(4));
      argv[ac++] = "merge";
      argv[ac++] = "--index";
      argv[ac++] = dir;
      argv[ac++] = "--max-segments";
      argv[ac++] = maxs;
    }
    argv[ac] = NULL;
    if (after.nids < model.nids) after.nids = model.nids;
    uint64_t gen_before = 0;
    if (t > 0) {
      REQUIRE(read_state(dir, model.nids, &seen, &gen_before, why, sizeof why) == 0);
    }
    /* 1 in 6 runs to completion; the rest are killed at a random moment of
       their run, or (half of them) a log-uniform 10 µs - 50 ms after they
       start writing the commit's files */
    int mode = t == 0 || rnd_below(6) == 0 ? 0 : rnd_below(2) ? 1 : 2;
    double delay = mode == 0   ? -1
                   : mode == 1 ? est[op] * 1.2 * rnd_below(1000001) / 1e6
                               : 1e-5 * exp(log(5000.0) * rnd_below(1000001) / 1e6);
    int killed;
    double secs;
    int status = run_blend(argv, delay, mode == 2 ? dir : NULL, &killed, &secs, logf);
    if (killed) kills[mode == 2]++;
    if (verbose)
      printf("trial %d %s delay %.1f ms ran %.1f ms killed %d status %d\n", t, op_name[op], delay * 1e3, secs * 1e3,
             killed, status);
    uint64_t gen = 0;
    if (read_state(dir, after.nids, &seen, &gen, why, sizeof why)) {
      test_fail(__FILE__, __LINE__, "trial %d (%s, killed %d after %.1f ms): index broken: %s", t, op_name[op], killed,
                secs * 1e3, why);
      broken++;
      break;
    }
    int is_before = same_state(&seen, &model, after.nids), is_after = same_state(&seen, &after, after.nids);
    if (op == OP_MERGE && is_before && killed) { /* a merge changes no document: tell by generation */
      is_after = gen != gen_before;
      is_before = !is_after;
    }
    if (!killed) {
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        FILE *f = fopen(logf, "r");
        char msg[300] = "";
        if (f) {
          size_t n = fread(msg, 1, sizeof msg - 1, f);
          msg[n] = 0;
          fclose(f);
        }
        test_fail(__FILE__, __LINE__, "trial %d: blend %s failed (status %d): %s", t, op_name[op], status, msg);
        failed_exit++;
        break;
      }
      est[op] = 0.7 * est[op] + 0.3 * secs;
      if (!is_after) {
        test_fail(__FILE__, __LINE__, "trial %d: blend %s exited 0 but the index is not the state after it", t,
                  op_name[op]);
        broken++;
        break;
      }
      outcome[op][0]++;
      model = after;
    } else if (is_after) {
      outcome[op][2]++;
      model = after;
    } else if (is_before) {
      outcome[op][1]++;
    } else {
      test_fail(__FILE__, __LINE__, "trial %d: killed blend %s after %.1f ms: the index is neither before nor after",
                t, op_name[op], secs * 1e3);
      broken++;
      break;
    }
    model.nids = after.nids;
  }
  /* after all that, a commit works and leaves no garbage behind */
  if (broken == 0 && failed_exit == 0) {
    FILE *f = fopen(batch, "w");
    REQUIRE(f);
    after = model;
    for (uint32_t k = 0; k < 50; k++) {
      uint32_t i = after.nids < MAX_IDS ? after.nids++ : rnd_below(after.nids);
      doc_text(i, version, text, sizeof text);
      fprintf(f, "{\"_id\":\"d%u\",\"text\":\"%s\"}\n", i, text);
      after.version[i] = version;
    }
    fclose(f);
    char *argv[] = {(char *)bin, "index", "--append", "-q", "--input", batch, "--index", dir, NULL};
    int killed;
    double secs;
    int status = run_blend(argv, -1, NULL, &killed, &secs, logf);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "final append failed (status %d)", status);
    uint64_t gen;
    CHECKF(read_state(dir, after.nids, &seen, &gen, why, sizeof why) == 0, "final: %s", why);
    if (verbose) printf("final append: status %d, %.1f ms, generation %llu\n", status, secs * 1e3, (unsigned long long)gen);
    CHECK(same_state(&seen, &after, after.nids));
    if (no_leftovers(dir, why, sizeof why)) {
      test_fail(__FILE__, __LINE__, "%s", why);
      if (getenv("BLEND_CRASH_KEEP")) {
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", getenv("BLEND_CRASH_KEEP"), dir,
                 getenv("BLEND_CRASH_KEEP"));
        if (system(cmd) != 0) printf("could not keep %s\n", dir);
      }
    }
  }
  int total = 0;
  printf("crash trials (seed %s):\n", getenv("BLEND_CRASH_SEED") ? getenv("BLEND_CRASH_SEED") : "8");
  for (int op = 0; op < NOPS; op++) {
    printf("  %-16s completed %4d  killed->before %4d  killed->after %4d\n", op_name[op], outcome[op][0],
           outcome[op][1], outcome[op][2]);
    total += outcome[op][0] + outcome[op][1] + outcome[op][2];
  }
  printf("  total %d trials (%d killed at a random moment, %d during the commit's writes), broken %d, failed %d\n",
         total, kills[0], kills[1], broken, failed_exit);
  CHECK(total >= trials || broken || failed_exit);
  /* the harness must actually kill commands in both halves of their life */
  if (trials >= 30) {
    int before = 0, afterc = 0;
    for (int op = 0; op < NOPS; op++) {
      before += outcome[op][1];
      afterc += outcome[op][2];
    }
    CHECKF(before > 0 && afterc + outcome[OP_APPEND][0] > 0, "kills never landed (before %d, after %d)", before,
           afterc);
  }
}
