/*
** test_server_browser.c — the web page in a real browser: starts `blend
** serve` on a small index and runs tests/browser/browser.mjs (headless
** Debian Chromium driven by playwright-core), which types a query and checks
** the rendered hits, highlights, per-leg explain and URL; the screenshot is
** saved next to the blend binary under test (build/<mode>/server-page.png).
** Skips, visibly, only when node, chromium or playwright-core is missing
** (scripts/install-deps.sh installs all three).
*/
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blend.h"
#include "test.h"

static int make_index(const char *dir) {
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, &err)) return -1;
  const char *docs[][3] = {
      {"d1", "White matter imaging", "Diffusion imaging of cerebral white matter in newborns <b>not bold</b>."},
      {"d2", "Grey matter", "Cortical grey matter thickness and white matter volume."},
      {"d3", "Apples", "Apples are red fruit."}};
  for (int i = 0; i < 3; i++) {
    blend_field_value f[] = {{"title", docs[i][1], strlen(docs[i][1])}, {"text", docs[i][2], strlen(docs[i][2])}};
    blend_doc d = {.id = docs[i][0], .id_len = 2, .fields = f, .nfields = 2};
    if (blend_writer_add(w, &d, &err)) return -1;
  }
  int rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  return rc;
}

TEST(page_in_headless_chromium) {
  const char *bin = test_blend_bin();
  if (!bin) SKIP("BLEND_BIN not set");
  if (system("command -v node >/dev/null 2>&1") != 0) SKIP("node is not installed (scripts/install-deps.sh)");
  if (access("/usr/bin/chromium", X_OK) != 0 && !getenv("CHROMIUM"))
    SKIP("chromium is not installed (scripts/install-deps.sh)");
  if (access("tests/browser/node_modules/playwright-core", R_OK) != 0)
    SKIP("playwright-core is not installed in tests/browser (scripts/install-deps.sh)");
  char dir[600], log[700], shot[700], cmd[2400];
  snprintf(dir, sizeof dir, "%s/ix-browser", test_tmpdir());
  REQUIRE(make_index(dir) == 0);
  snprintf(log, sizeof log, "%s/serve.log", test_tmpdir());
  const char *slash = strrchr(bin, '/');
  snprintf(shot, sizeof shot, "%.*s/server-page.png", slash ? (int)(slash - bin) : 1, slash ? bin : ".");
  pid_t pid = fork();
  if (pid == 0) {
    snprintf(cmd, sizeof cmd, "exec %s serve --index %s --port 0 --threads 2 2>%s", bin, dir, log);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  int port = 0;
  for (int i = 0; i < 200 && !port; i++) {
    FILE *f = fopen(log, "r");
    char line[1024] = "";
    if (f) {
      if (!fgets(line, sizeof line, f)) line[0] = 0;
      fclose(f);
    }
    const char *at = strstr(line, "127.0.0.1:");
    if (at) port = atoi(at + 10);
    else {
      struct timespec ts = {0, 50 * 1000000};
      nanosleep(&ts, NULL);
    }
  }
  if (port) {
    snprintf(cmd, sizeof cmd, "node tests/browser/browser.mjs http://127.0.0.1:%d %s 'white matter' 2>&1", port, shot);
    FILE *p = popen(cmd, "r");
    char out[8192] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    int st = p ? pclose(p) : -1;
    printf("  %s", out);
    CHECKF(st == 0, "browser test failed: %s", out);
    CHECK(access(shot, R_OK) == 0);
    printf("  screenshot: %s\n", shot);
  } else test_fail(__FILE__, __LINE__, "the server did not start");
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
