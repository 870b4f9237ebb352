/*
** harness.c — main() for every test program: runs registered tests, prints
** one line per failure or skip, and a closing "N passed, N failed, N skipped"
** line that scripts/run-tests.sh adds up over all programs.
*/
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 1024

static struct {
  const char *name;
  test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failed, cur_skipped;
static const char *cur_name;
static char tmpdir[256];

void test_register(const char *name, test_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stdout, "FAIL %s (%s:%d): ", cur_name, file, line);
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
  cur_failed++;
}

void test_skip(const char *why) {
  fprintf(stdout, "SKIP %s: %s\n", cur_name, why);
  cur_skipped = 1;
}

int test_failed_now(void) { return cur_failed > 0; }

const char *test_shared_dir(void) {
  static char path[512];
  const char *env = getenv("BLEND_SHARED");
  snprintf(path, sizeof path, "%s", env && *env ? env : "../shared");
  if (access(path, R_OK) != 0) return NULL;
  return path;
}

static void remove_tmpdir(void) {
  if (tmpdir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
}

const char *test_tmpdir(void) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/blend-test-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      exit(2);
    }
    atexit(remove_tmpdir);
  }
  return tmpdir;
}

const char *test_blend_bin(void) {
  const char *env = getenv("BLEND_BIN");
  return env && *env ? env : "build/release/blend";
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0, skipped = 0;
  for (int i = 0; i < ntests; i++) {
    if (argc > 1) {
      int want = 0;
      for (int j = 1; j < argc; j++)
        if (strcmp(argv[j], tests[i].name) == 0) want = 1;
      if (!want) continue;
    }
    cur_name = tests[i].name;
    cur_failed = 0;
    cur_skipped = 0;
    tests[i].fn();
    if (cur_failed) failed++;
    else if (cur_skipped) skipped++;
    else passed++;
  }
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

int test_sh(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || cap == 0) return -1;
  char *cmd = malloc((size_t)n + 16);
  if (!cmd) return -1;
  va_start(ap, fmt);
  vsnprintf(cmd, (size_t)n + 1, fmt, ap);
  va_end(ap);
  memcpy(cmd + n, " 2>&1", 6);
  FILE *f = popen(cmd, "r");
  free(cmd);
  if (!f) return -1;
  size_t got = fread(out, 1, cap - 1, f);
  out[got] = 0;
  char sink[4096]; /* drain what did not fit, so the child never blocks on a full pipe */
  while (fread(sink, 1, sizeof sink, f) > 0) {
  }
  int st = pclose(f);
  if (st == -1) return -1;
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WEXITSTATUS(st);
}
