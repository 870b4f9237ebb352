/*
** harness.c — main() for every test program: runs registered tests, prints
** one line per failure or skip, and a closing "N passed, N failed, N skipped"
** line that scripts/run-tests.sh adds up over all programs.
*/
#include <stdarg.h>
#include <stdlib.h>
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
