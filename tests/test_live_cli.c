/*
** test_live_cli.c — the live-index commands on bad input, through the CLI
** ($BLEND_BIN): unknown ids to delete (reported; --strict fails and
** commits nothing), ids from a file and stdin, an index locked by another
** writer, a MANIFEST naming a missing or truncated segment, live-docs files
** that do not match their segment, and a full disk during commit (a small
** tmpfs; skipped where mount is not allowed). Each must give a clear error
** and exit 1 — never a crash — and leave the previous generation intact and
** openable; after a full disk, the next commit works once space is back.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

static char out_path[600], err_path[600];
static char err_text[8192];

/* Run `blend ARGS` (a shell fragment); exit code, or -1 when it did not
** exit normally (a crash). stderr lands in err_text. */
static int blend(const char *fmt, ...) {
  if (!out_path[0]) {
    snprintf(out_path, sizeof out_path, "%s/cli.out", test_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/cli.err", test_tmpdir());
  }
  char args[2048], cmd[3000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", test_blend_bin(), args, out_path, err_path);
  int st = system(cmd);
  err_text[0] = 0;
  FILE *f = fopen(err_path, "r");
  if (f) {
    size_t n = fread(err_text, 1, sizeof err_text - 1, f);
    err_text[n] = 0;
    fclose(f);
  }
  if (st == -1 || !WIFEXITED(st)) return -1;
  int code = WEXITSTATUS(st);
  return code > 2 && code != 127 ? -code : code; /* 3+ (sanitizer, signal via sh): a failure */
}

static const char *out_text(void) {
  static char buf[1 << 16];
  buf[0] = 0;
  FILE *f = fopen(out_path, "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
  }
  return buf;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* A JSONL batch of n docs "PREFIX<i>" into path. */
static void write_batch(const char *path, const char *prefix, int n, int words) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  for (int i = 0; i < n; i++) {
    fprintf(f, "{\"_id\":\"%s%d\",\"title\":\"title %d\",\"text\":\"", prefix, i, i);
    for (int w = 0; w < words; w++) fprintf(f, "%sword%d", w ? " " : "", (i * 31 + w * 7) % 5000);
    fputs("\"}\n", f);
  }
  fclose(f);
}

static const char *path_in(const char *name) {
  static char buf[8][600];
  static int at;
  char *p = buf[at++ % 8];
  snprintf(p, 600, "%s/%s", test_tmpdir(), name);
  return p;
}

/* live docs and generation of dir via the library; -1 when it does not open */
static long long index_docs(const char *dir, unsigned long long *gen) {
  blend_index *ix;
  if (blend_index_open(dir, &ix, NULL)) return -1;
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  if (gen) *gen = st.generation;
  blend_index_close(ix);
  return (long long)st.docs;
}

static int have_bin(void) { return access(test_blend_bin(), X_OK) == 0; }

TEST(delete_unknown_ids_and_strict) {
  if (!have_bin()) SKIP("no blend binary (set BLEND_BIN)");
  const char *dir = path_in("del-ix"), *batch = path_in("del.jsonl");
  write_batch(batch, "d", 20, 5);
  REQUIRE(blend("index -q --input '%s' --index '%s'", batch, dir) == 0);
  unsigned long long g0 = 0, g = 0;
  REQUIRE(index_docs(dir, &g0) == 20);
  /* unknown ids: reported, exit 0, the known one deleted */
  CHECK_EQ_INT(blend("delete --index '%s' d1 nosuch1 nosuch2", dir), 0);
  CHECKF(strstr(err_text, "deleted 1") && strstr(err_text, "2 ids not found") && strstr(err_text, "nosuch1"),
         "stderr: %s", err_text);
  CHECK_EQ_INT(index_docs(dir, &g), 19);
  CHECK(g == g0 + 1);
  /* only unknown ids: nothing to commit, no new generation */
  CHECK_EQ_INT(blend("delete --index '%s' nosuch3", dir), 0);
  CHECK_EQ_INT(index_docs(dir, &g0), 19);
  CHECK(g0 == g);
  /* --strict: exit 1, nothing committed, not even the known ids */
  CHECK_EQ_INT(blend("delete --index '%s' --strict d2 nosuch4", dir), 1);
  CHECKF(strstr(err_text, "nosuch4") && strstr(err_text, "nothing was deleted"), "stderr: %s", err_text);
  CHECK_EQ_INT(index_docs(dir, &g), 19);
  CHECK(g == g0);
  CHECK_EQ_INT(blend("get --index '%s' d2", dir), 0);
  /* ids from a file and from stdin (blank lines and CRLF tolerated) */
  const char *ids = path_in("ids.txt");
  write_file(ids, "d3\r\n\nd4\nd5\n");
  CHECK_EQ_INT(blend("delete --index '%s' --ids '%s'", dir, ids), 0);
  CHECK_EQ_INT(index_docs(dir, NULL), 16);
  CHECK_EQ_INT(blend("delete --index '%s' - < '%s'", dir, ids), 0); /* already gone: reported */
  CHECKF(strstr(err_text, "3 ids not found"), "stderr: %s", err_text);
  write_file(ids, "d6\nd7\n");
  CHECK_EQ_INT(blend("delete --index '%s' - < '%s'", dir, ids), 0);
  CHECK_EQ_INT(index_docs(dir, NULL), 14);
  CHECK_EQ_INT(blend("delete --index '%s' --ids '%s/none.txt'", dir, test_tmpdir()), 1);
  /* get: a deleted id is an error naming it, the others still print */
  CHECK_EQ_INT(blend("get --index '%s' d0 d3", dir), 1);
  CHECKF(strstr(err_text, "d3"), "stderr: %s", err_text);
  CHECKF(strstr(out_text(), "\"_id\":\"d0\""), "stdout: %s", out_text());
  /* stats --json tells the deletions */
  CHECK_EQ_INT(blend("stats --index '%s' --json", dir), 0);
  CHECKF(strstr(out_text(), "\"docs\":14,\"deleted\":6"), "stats: %s", out_text());
  CHECK_EQ_INT(blend("merge --index '%s'", dir), 0);
  CHECK_EQ_INT(blend("stats --index '%s' --json", dir), 0);
  CHECKF(strstr(out_text(), "\"docs\":14,\"deleted\":0,\"segments\":1"), "stats: %s", out_text());
  /* usage errors */
  CHECK_EQ_INT(blend("delete --index '%s'", dir), 2);
  CHECK_EQ_INT(blend("merge --index '%s' --max-segments 0", dir), 2); /* a bad option value is a usage error */
  /* a mistyped directory is an error, and is not created */
  CHECK_EQ_INT(blend("delete --index '%s/missing' d1", test_tmpdir()), 1);
  CHECKF(strstr(err_text, "not a blend index"), "stderr: %s", err_text);
  CHECK_EQ_INT(blend("merge --index '%s/missing'", test_tmpdir()), 1);
  char missing[700];
  snprintf(missing, sizeof missing, "%s/missing", test_tmpdir());
  CHECK(access(missing, F_OK) != 0);
}

TEST(commands_on_a_locked_index) {
  if (!have_bin()) SKIP("no blend binary (set BLEND_BIN)");
  const char *dir = path_in("lock-ix"), *batch = path_in("lock.jsonl");
  write_batch(batch, "l", 10, 5);
  REQUIRE(blend("index -q --input '%s' --index '%s'", batch, dir) == 0);
  unsigned long long g0 = 0, g = 0;
  REQUIRE(index_docs(dir, &g0) == 10);
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  blend_error err = {0};
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  char pid[32];
  snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
  write_batch(batch, "m", 5, 5);
  const char *cmds[] = {"index -q --append --input '%s' --index '%s'", "index -q --input '%s' --index '%s'",
                        "delete --ids '%s' --index '%s'", "merge --max-segments 1 --index '%s'"};
  for (int c = 0; c < 4; c++) {
    int rc = c == 3 ? blend(cmds[c], dir) : blend(cmds[c], c == 2 ? path_in("ids-none") : batch, dir);
    CHECKF(rc == 1, "%s: exit %d", cmds[c], rc);
    CHECKF(strstr(err_text, "locked") && strstr(err_text, pid), "%s: stderr: %s", cmds[c], err_text);
  }
  CHECK_EQ_INT(index_docs(dir, &g), 10);
  CHECK(g == g0);
  /* readers are never locked out */
  CHECK_EQ_INT(blend("search --index '%s' word1", dir), 0);
  CHECK_EQ_INT(blend("stats --index '%s'", dir), 0);
  blend_writer_close(w);
  CHECK_EQ_INT(blend(cmds[0], batch, dir), 0);
  CHECK_EQ_INT(index_docs(dir, NULL), 15);
}

/* Copy src to a fresh dst. */
static void copy_dir(const char *src, const char *dst) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dst, src, dst);
  if (system(cmd) != 0) test_fail(__FILE__, __LINE__, "cp failed");
}

/* Name of the first file in dir whose name contains pat. */
static int find_file(const char *dir, const char *pat, char *out, size_t cap) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "ls '%s' | grep -F -- '%s' | head -1", dir, pat);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  int ok = fgets(out, (int)cap, p) != NULL;
  pclose(p);
  if (!ok) return -1;
  out[strcspn(out, "\n")] = 0;
  return 0;
}

/* Every command that opens dir fails cleanly, naming what is wrong. */
static int full_checks = 1; /* every command, else stats + delete + append */
static void expect_clean_failure(const char *dir, const char *batch, const char *what, const char *must) {
  static const char *cmds[] = {"stats --index '%s'", "delete --index '%s' b1", "search --index '%s' word1",
                               "get --index '%s' b1", "merge --index '%s'"};
  for (int c = 0; c < (full_checks ? 5 : 2); c++) {
    int rc = blend(cmds[c], dir);
    CHECKF(rc == 1, "%s: %s: exit %d (stderr %s)", what, cmds[c], rc, err_text);
    CHECKF(strstr(err_text, must), "%s: %s: stderr lacks '%s': %s", what, cmds[c], must, err_text);
  }
  int rc = blend("index -q --append --input '%s' --index '%s'", batch, dir);
  CHECKF(rc == 1, "%s: index --append: exit %d", what, rc);
  CHECKF(strstr(err_text, must), "%s: index --append: stderr lacks '%s': %s", what, must, err_text);
}

TEST(missing_truncated_and_mismatched_files) {
  if (!have_bin()) SKIP("no blend binary (set BLEND_BIN)");
  const char *base = path_in("bad-base"), *batch = path_in("bad.jsonl"), *dir = path_in("bad-ix");
  /* two segments, the first with deletions (a live-docs file) */
  write_batch(batch, "b", 300, 12);
  REQUIRE(blend("index -q --input '%s' --index '%s'", batch, base) == 0);
  write_batch(batch, "c", 200, 12);
  REQUIRE(blend("index -q --append --input '%s' --index '%s'", batch, base) == 0);
  REQUIRE(blend("delete --index '%s' b3 b4 c5", base) == 0);
  REQUIRE(index_docs(base, NULL) == 497);
  char seg1[256], seg2[256], liv[256], path[1000];
  REQUIRE(find_file(base, "seg-000001-0.bseg", seg1, sizeof seg1) == 0);
  REQUIRE(find_file(base, "seg-000002-1.bseg", seg2, sizeof seg2) == 0);
  REQUIRE(find_file(base, ".liv", liv, sizeof liv) == 0);

  /* a segment named by the manifest is missing */
  copy_dir(base, dir);
  snprintf(path, sizeof path, "%s/%s", dir, seg2);
  REQUIRE(unlink(path) == 0);
  expect_clean_failure(dir, batch, "missing segment", "missing");
  CHECKF(strstr(err_text, seg2), "message does not name %s: %s", seg2, err_text);

  full_checks = 0;
  /* truncated segments: half, to the header, to nothing */
  static const double cut[] = {0.5, 0.999, 0.0};
  for (int k = 0; k < 3; k++) {
    copy_dir(base, dir);
    snprintf(path, sizeof path, "%s/%s", dir, seg1);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    off_t len = k == 2 ? 40 : (off_t)(st.st_size * cut[k]);
    REQUIRE(truncate(path, len) == 0);
    expect_clean_failure(dir, batch, "truncated segment", seg1);
  }

  /* a flipped byte inside a section: checksum */
  copy_dir(base, dir);
  snprintf(path, sizeof path, "%s/%s", dir, seg2);
  {
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    unsigned char c;
    REQUIRE(pread(fd, &c, 1, 5000) == 1);
    c ^= 0x10;
    REQUIRE(pwrite(fd, &c, 1, 5000) == 1);
    close(fd);
  }
  expect_clean_failure(dir, batch, "flipped byte", "checksum");

  full_checks = 1;
  /* live docs: missing, of another size (another segment's), a flipped bit
     (crc), and a valid file of the wrong generation (other deletions) */
  copy_dir(base, dir);
  snprintf(path, sizeof path, "%s/%s", dir, liv);
  REQUIRE(unlink(path) == 0);
  expect_clean_failure(dir, batch, "missing live docs", "live-docs");

  copy_dir(base, dir);
  {
    /* a live-docs file made for the 200-doc segment, put in place of the
       300-doc segment's */
    char other[1000], cmd[3000];
    snprintf(other, sizeof other, "%s/other", test_tmpdir());
    copy_dir(base, other);
    REQUIRE(blend("delete --index '%s' c7", other) == 0);
    snprintf(cmd, sizeof cmd, "cp \"$(ls -d '%s'/seg-000002-1.*.liv | tail -1)\" '%s/%s'", other, dir, liv);
    REQUIRE(system(cmd) == 0);
    expect_clean_failure(dir, batch, "live docs of another segment", "does not match");
  }

  copy_dir(base, dir);
  snprintf(path, sizeof path, "%s/%s", dir, liv);
  {
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    unsigned char c;
    REQUIRE(pread(fd, &c, 1, 30) == 1);
    c ^= 0x01;
    REQUIRE(pwrite(fd, &c, 1, 30) == 1);
    close(fd);
  }
  expect_clean_failure(dir, batch, "flipped live bit", "does not match");

  full_checks = 0;
  /* a well-formed live-docs file with other deletions than the manifest says */
  copy_dir(base, dir);
  {
    char other[1000], cmd[3000];
    snprintf(other, sizeof other, "%s/other2", test_tmpdir());
    copy_dir(base, other);
    REQUIRE(blend("delete --index '%s' b10 b11", other) == 0);
    snprintf(cmd, sizeof cmd, "cp \"$(ls -d '%s'/seg-000001-0.*.liv | tail -1)\" '%s/%s'", other, dir, liv);
    REQUIRE(system(cmd) == 0);
    expect_clean_failure(dir, batch, "live docs of another generation", "manifest says");
  }

  /* a manifest that is not JSON, or names a file outside the index */
  copy_dir(base, dir);
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  write_file(path, "{\"format\": 2, \"generation\": ");
  expect_clean_failure(dir, batch, "truncated manifest", "manifest");
  copy_dir(base, dir);
  {
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "sed -i 's#\"%s\"#\"../%s\"#' '%s'", seg1, seg1, path);
    REQUIRE(system(cmd) == 0);
  }
  expect_clean_failure(dir, batch, "manifest naming ../", "manifest");

  /* and the untouched copy still works */
  CHECK_EQ_INT(index_docs(base, NULL), 497);
  CHECK_EQ_INT(blend("search --index '%s' word1", base), 0);
}

/* ---------------------------------------------------------- full disk */

#define BIG_DOCS 1500

static char mounted[600];
static void unmount_tmpfs(void) {
  if (mounted[0]) umount2(mounted, MNT_DETACH);
  mounted[0] = 0;
}

TEST(full_disk_during_commit) {
  if (!have_bin()) SKIP("no blend binary (set BLEND_BIN)");
  const char *mnt = path_in("tmpfs");
  snprintf(mounted, sizeof mounted, "%s", mnt);
  mkdir(mnt, 0755);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
    mounted[0] = 0;
    char why[200];
    snprintf(why, sizeof why, "cannot mount a tmpfs here (%s): the full-disk case needs root", strerror(errno));
    SKIP(why);
  }
  atexit(unmount_tmpfs); /* also when a REQUIRE leaves early */
  char dir[700], filler[700];
  snprintf(dir, sizeof dir, "%s/ix", mnt);
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  const char *small = path_in("disk-small.jsonl"), *big = path_in("disk-big.jsonl");
  write_batch(small, "s", 200, 10);
  write_batch(big, "g", BIG_DOCS, 20);
  { /* and updates of committed documents: the commit rewrites a live-docs file too */
    FILE *f = fopen(big, "a");
    REQUIRE(f);
    for (int i = 10; i < 15; i++) fprintf(f, "{\"_id\":\"s%d\",\"text\":\"updated\"}\n", i);
    fclose(f);
  }
  int failures = 0, successes = 0, where[3] = {0, 0, 0};
  /* leave less and less room: the commit fails at its segment, its
     live-docs files or its manifest */
  /* the first run measures the new segment (no filler); then around it, in
     4 KB pages (tmpfs), so the failure lands on each file of the commit */
  int seg_kb = 0;
  static const int around[] = {-1000000, 8, -2, -1, 0, 1, 2, 3, 4, 6};
  for (size_t step = 0; step < sizeof around / sizeof *around && !test_failed_now(); step++) {
    int room_kb = step == 0 ? -1 : around[step] == 8 ? 8 : around[step] == -2 ? seg_kb / 2 : seg_kb + 4 * around[step];
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, filler);
    REQUIRE(system(cmd) == 0);
    REQUIRE(blend("index -q --input '%s' --index '%s'", small, dir) == 0);
    REQUIRE(blend("delete --index '%s' s1 s2", dir) == 0); /* a live-docs file to rewrite */
    unsigned long long g0 = 0, g = 0;
    REQUIRE(index_docs(dir, &g0) == 198);
    /* fill the file system up to room_kb free */
    snprintf(cmd, sizeof cmd,
             "avail=$(df -k --output=avail '%s' | tail -1); n=$((avail - %d)); [ %d -ge 0 ] && [ $n -gt 0 ] && "
             "dd if=/dev/zero of='%s' bs=1k count=$n 2>/dev/null; true",
             mnt, room_kb, room_kb, filler);
    REQUIRE(system(cmd) == 0);
    /* deletes and adds in one commit: a segment, live-docs files, the manifest */
    int rc = blend("index -q --append --input '%s' --index '%s'", big, dir);
    long long docs = index_docs(dir, &g);
    if (rc == 0 && step == 0) {
      snprintf(cmd, sizeof cmd, "ls -S '%s' | head -1", dir);
      FILE *p = popen(cmd, "r");
      char name[300] = "";
      if (p) {
        if (!fgets(name, sizeof name, p)) name[0] = 0;
        pclose(p);
      }
      name[strcspn(name, "\n")] = 0;
      char segp[1100];
      snprintf(segp, sizeof segp, "%s/%s", dir, name);
      struct stat sst;
      REQUIRE(stat(segp, &sst) == 0);
      seg_kb = (int)(sst.st_size / 1024) + 1;
    }
    if (rc == 0) {
      successes++;
      CHECKF(docs == 198 + BIG_DOCS, "room %d KB: append succeeded but the index has %lld docs", room_kb, docs);
    } else {
      failures++;
      CHECKF(rc == 1, "room %d KB: exit %d: %s", room_kb, rc, err_text);
      CHECKF(strstr(err_text, "No space left"), "room %d KB: stderr: %s", room_kb, err_text);
      CHECKF(docs == 198 && g == g0, "room %d KB: previous generation not intact (%lld docs, gen %llu vs %llu)",
             room_kb, docs, g, g0);
      where[strstr(err_text, "MANIFEST") ? 2 : strstr(err_text, ".liv") ? 1 : 0]++;
      /* a delete on the full disk fails the same way or succeeds, never breaks */
      int drc = blend("delete --index '%s' s3", dir);
      long long d2 = index_docs(dir, NULL);
      CHECKF((drc == 0 && d2 == 197) || (drc == 1 && d2 == 198), "room %d KB: delete on a full disk: exit %d, %lld docs",
             room_kb, drc, d2);
      /* space back: the next commit works and leaves nothing behind */
      unlink(filler);
      CHECK_EQ_INT(blend("index -q --append --input '%s' --index '%s'", big, dir), 0);
      CHECK_EQ_INT(index_docs(dir, NULL), (drc == 0 ? 197 : 198) + BIG_DOCS);
      snprintf(cmd, sizeof cmd, "cd '%s' && for f in seg-* MANIFEST.tmp*; do [ -e \"$f\" ] || continue; "
               "grep -q \"\\\"$f\\\"\" MANIFEST || echo \"$f\"; done", dir);
      FILE *p = popen(cmd, "r");
      char left[300] = "";
      if (p) {
        if (!fgets(left, sizeof left, p)) left[0] = 0;
        pclose(p);
      }
      CHECKF(!left[0], "room %d KB: leftover after the next commit: %s", room_kb, left);
    }
  }
  unmount_tmpfs();
  printf("full disk (new segment %d KB): %d commits failed (segment %d, live docs %d, manifest %d), %d fitted\n", seg_kb, failures, where[0],
         where[1], where[2], successes);
  CHECK(failures >= 3);
}

/* A commit that succeeded stays a success when the merge the policy runs
** after it fails (here: no room for the merged segment): exit 0, the
** documents are there, and the merge happens once space is back. */
TEST(merge_failure_after_a_commit_keeps_the_commit) {
  if (!have_bin()) SKIP("no blend binary (set BLEND_BIN)");
  const char *mnt = path_in("tmpfs2");
  snprintf(mounted, sizeof mounted, "%s", mnt);
  mkdir(mnt, 0755);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
    mounted[0] = 0;
    SKIP("cannot mount a tmpfs here: needs root");
  }
  atexit(unmount_tmpfs);
  char dir[700], filler[700], cmd[2000];
  snprintf(dir, sizeof dir, "%s/ix", mnt);
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  const char *batch = path_in("tier.jsonl");
  char prefix[16];
  for (int s = 0; s < 9; s++) { /* nine small segments: one short of a tier merge */
    snprintf(prefix, sizeof prefix, "t%d-", s);
    write_batch(batch, prefix, 150, 20);
    REQUIRE(blend("index -q --append --input '%s' --index '%s'", batch, dir) == 0);
  }
  REQUIRE(blend("stats --index '%s' --json", dir) == 0);
  REQUIRE(strstr(out_text(), "\"segments\":9"));
  /* room for one more small segment, not for the merge of ten */
  snprintf(cmd, sizeof cmd,
           "avail=$(df -k --output=avail '%s' | tail -1); dd if=/dev/zero of='%s' bs=1k count=$((avail - 200)) "
           "2>/dev/null; true",
           mnt, filler);
  REQUIRE(system(cmd) == 0);
  write_batch(batch, "t9-", 150, 20);
  int rc = blend("index -q --append --input '%s' --index '%s'", batch, dir);
  long long docs = index_docs(dir, NULL);
  CHECKF(rc == 0, "the commit succeeded but blend exited %d: %s", rc, err_text);
  CHECK_EQ_INT(docs, 1500);
  /* space back: the next commit runs the merge */
  unlink(filler);
  write_batch(batch, "t10-", 10, 5);
  CHECK_EQ_INT(blend("index -q --append --input '%s' --index '%s'", batch, dir), 0);
  CHECK_EQ_INT(index_docs(dir, NULL), 1510);
  CHECK_EQ_INT(blend("stats --index '%s' --json", dir), 0);
  CHECKF(strstr(out_text(), "\"segments\":2"), "not merged: %s", out_text());
  unmount_tmpfs();
}
