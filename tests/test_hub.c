/*
** test_hub.c — blend_model_pull and `blend model pull` against
** tests/hubserver.py, a loopback stand-in for the Hugging Face hub serving
** ../shared/fixtures/bert-tiny-random as "test/bert-tiny". Covers a full pull
** (byte-identical files, nothing else fetched, the directory loads and embeds
** like the original), idempotent re-pull and repair of a damaged file,
** resume after a cut or stalled connection (the server logs the Range header
** it got), a server that ignores Range, a stale partial, a corrupted blob
** (sha256 error naming both hashes, no file), HTTP errors (404 repo,
** revision and file, 401, 403, 503), the token (not forwarded to another
** host), a refused connection, the CLI; plus SHA-256 (fast path vs portable
** twin), SHA-1, JSON listing and helper checks without a server.
** Never contacts anything but 127.0.0.1 / localhost.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blend.h"
#include "hub/hub.h"
#include "test.h"
#include "util/sha256.h"
#include "util/util.h"

#define REPO "test/bert-tiny"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static const char *fixture_files[] = {
    "config.json",           "config_sentence_transformers.json", "model.safetensors",
    "modules.json",          "sentence_bert_config.json",         "special_tokens_map.json",
    "tokenizer_config.json", "vocab.txt",                         "1_Pooling/config.json",
    NULL};
#define NFIXTURE 9
#define MODEL_SIZE 17547912u
#define MODEL_SHA "1fc1e752cc067a74f29250c9783715b4731044f7f29577debb31b543df4e738b"

/* ------------------------------------------------------------ test server */

typedef struct server {
  pid_t pid;
  int port;
  char url[64];
  char log[512];
} server;

static const char *fixture_dir(void) {
  static char path[600];
  const char *sh = test_shared_dir();
  if (!sh) return NULL;
  snprintf(path, sizeof path, "%s/fixtures/bert-tiny-random", sh);
  return access(path, R_OK) == 0 ? path : NULL;
}

/* Servers still running when the program exits (a REQUIRE left a test
** early) are stopped then. */
static pid_t live[8];

static void stop_pid(pid_t pid) {
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  for (int i = 0; i < 8; i++)
    if (live[i] == pid) live[i] = 0;
}

static void stop_all(void) {
  for (int i = 0; i < 8; i++)
    if (live[i] > 0) stop_pid(live[i]);
}

static void server_stop(server *s) {
  if (s->pid > 0) stop_pid(s->pid);
  s->pid = 0;
}

/* Why the server cannot run, or NULL. */
static const char *server_unavailable(void) {
  if (!fixture_dir()) return "fixtures/bert-tiny-random not found (set BLEND_SHARED)";
  if (access("tests/hubserver.py", R_OK) != 0) return "tests/hubserver.py not found (run from the repo root)";
  static int python = -1; /* checked once: starting python3 is slow */
  if (python < 0) python = system("python3 -c '' >/dev/null 2>&1") == 0;
  if (!python) return "python3 is not installed";
  return NULL;
}

/* Start hubserver.py with extra options (NULL-terminated); returns 0. */
static int server_start(server *s, const char *name, const char *const *extra) {
  memset(s, 0, sizeof *s);
  /* loopback only: a proxy from the environment must not see these requests */
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  setenv("NO_PROXY", "127.0.0.1,localhost", 1);
  snprintf(s->log, sizeof s->log, "%s/%s.log", test_tmpdir(), name);
  unlink(s->log);
  const char *argv[32];
  int n = 0;
  argv[n++] = "python3";
  argv[n++] = "tests/hubserver.py";
  argv[n++] = "--root";
  argv[n++] = fixture_dir();
  argv[n++] = "--repo";
  argv[n++] = REPO;
  argv[n++] = "--log";
  argv[n++] = s->log;
  for (int i = 0; extra && extra[i] && n < 31; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char errlog[600];
    snprintf(errlog, sizeof errlog, "%s.stderr", s->log);
    int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e >= 0) dup2(e, 2);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execvp("python3", (char *const *)argv);
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  static int registered;
  if (!registered) atexit(stop_all);
  registered = 1;
  for (int i = 0; i < 8; i++)
    if (!live[i]) {
      live[i] = pid;
      break;
    }
  char line[32] = {0};
  size_t got = 0;
  struct pollfd p = {fds[0], POLLIN, 0};
  while (got < sizeof line - 1 && !strchr(line, '\n')) {
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t r = read(fds[0], line + got, sizeof line - 1 - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fds[0]);
  s->port = atoi(line);
  if (s->port <= 0) {
    server_stop(s);
    return -1;
  }
  snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
  return 0;
}

static char *slurp(const char *path, size_t *len) {
  char *d = NULL;
  size_t n = 0;
  if (file_read_all(path, &d, &n, NULL)) return NULL;
  if (len) *len = n;
  return d;
}

static int count_in_log(const server *s, const char *needle) {
  char *log = slurp(s->log, NULL);
  int c = 0;
  for (const char *p = log; p && (p = strstr(p, needle)); p++) c++;
  free(log);
  return c;
}

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  int same = x && y && na == nb && !memcmp(x, y, na);
  free(x);
  free(y);
  return same;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void opts_for(blend_pull_options *o, const server *s) {
  blend_pull_options_default(o);
  o->endpoint = s->url;
  o->token = ""; /* never pick up a real token from the environment */
  o->connect_timeout = 5;
  o->stall_timeout = 5;
}

static void check_all_identical(const char *dir) {
  for (int i = 0; fixture_files[i]; i++) {
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/%s", dir, fixture_files[i]);
    snprintf(b, sizeof b, "%s/%s", fixture_dir(), fixture_files[i]);
    CHECKF(same_file(a, b), "%s differs from the fixture (or is missing)", a);
  }
}

#define START(s, name, ...)                                               \
  do {                                                                    \
    const char *why_ = server_unavailable();                              \
    if (why_) SKIP(why_);                                                 \
    const char *extra_[] = {__VA_ARGS__};                                 \
    REQUIRE(server_start(&(s), name, extra_) == 0);                       \
  } while (0)

/* ---------------------------------------------------------- digest checks */

static void hex256(const void *p, size_t n, char out[65]) {
  sha256_ctx c;
  uint8_t d[32];
  sha256_init(&c);
  sha256_update(&c, p, n);
  sha256_final(&c, d);
  hex_encode(d, 32, out);
}

TEST(sha256_known_vectors) {
  char h[65];
  hex256("", 0, h);
  CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hex256("abc", 3, h);
  CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  hex256(m448, strlen(m448), h);
  CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* one million 'a' in odd-sized pieces: exercises the block buffering */
  char a[997];
  memset(a, 'a', sizeof a);
  sha256_ctx c;
  sha256_init(&c);
  size_t left = 1000000;
  for (size_t k = 1; left; k = k % 997 + 1) {
    size_t take = k < left ? k : left;
    sha256_update(&c, a, take);
    left -= take;
  }
  uint8_t d[32];
  sha256_final(&c, d);
  hex_encode(d, 32, h);
  CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* lengths around the padding boundary (55, 56, 64 bytes) */
  hex256(a, 55, h);
  CHECK_STR(h, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  hex256(a, 56, h);
  CHECK_STR(h, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  hex256(a, 64, h);
  CHECK_STR(h, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

/* The SHA-NI fast path against its portable twin: every length 0..300 and
** a few large buffers, fed in irregular pieces. */
TEST(sha256_fast_matches_portable) {
  if (!sha256_fast_available()) SKIP("CPU lacks SHA extensions: only the portable path runs");
  size_t n = 3 << 20;
  uint8_t *buf = malloc(n);
  REQUIRE(buf);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)x;
  }
  for (size_t len = 0; len <= 300 + 3; len++) {
    size_t L = len <= 300 ? len : (len == 301 ? 65537 : len == 302 ? 1000003 : n);
    uint8_t d0[32], d1[32];
    sha256_ctx a, b;
    sha256_init_impl(&a, 0);
    sha256_init_impl(&b, 1);
    CHECK(a.fast == 0 && b.fast == 1);
    sha256_update(&a, buf, L);
    for (size_t off = 0, step = 1; off < L; off += step, step = step * 3 % 257 + 1)
      sha256_update(&b, buf + off, step < L - off ? step : L - off);
    sha256_final(&a, d0);
    sha256_final(&b, d1);
    CHECKF(!memcmp(d0, d1, 32), "length %zu: fast and portable SHA-256 differ", L);
  }
  free(buf);
}

TEST(sha1_known_vectors) {
  sha1_ctx c;
  uint8_t d[20];
  char h[41];
  sha1_init(&c);
  sha1_update(&c, "abc", 3);
  sha1_final(&c, d);
  hex_encode(d, 20, h);
  CHECK_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
  sha1_init(&c);
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha1_update(&c, m, strlen(m));
  sha1_final(&c, d);
  hex_encode(d, 20, h);
  CHECK_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  /* git's id of the blob "hello\n" (git hash-object) */
  char path[600];
  snprintf(path, sizeof path, "%s/hello.txt", test_tmpdir());
  REQUIRE(file_write_sync(path, "hello\n", 6, NULL) == 0);
  char s256[65], s1[41];
  REQUIRE(file_sha256(path, s256, s1, NULL) == 0);
  CHECK_STR(s1, "ce013625030ba8dba906f756967f9e9ca394464a");
  CHECK_STR(s256, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
}

TEST(sha256_matches_fixture_sums) {
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not found (set BLEND_SHARED)");
  char sums[600];
  snprintf(sums, sizeof sums, "%s/fixtures/SHA256SUMS", sh);
  char *txt = slurp(sums, NULL);
  if (!txt) SKIP("fixtures/SHA256SUMS not found");
  int checked = 0;
  for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
    if (strlen(line) < 67 || strncmp(line + 66, "bert-tiny-random/", 17)) continue;
    char want[65], got[65], path[1024];
    memcpy(want, line, 64);
    want[64] = 0;
    snprintf(path, sizeof path, "%s/fixtures/%s", sh, line + 66);
    CHECKF(file_sha256(path, got, NULL, NULL) == 0, "hash %s", path);
    CHECKF(!strcmp(got, want), "%s: %s != %s", path, got, want);
    checked++;
  }
  free(txt);
  CHECK(checked >= NFIXTURE);
}

/* ------------------------------------------------------ listing and helpers */

static int parse(const char *json, hub_listing *l, blend_error *e) {
  return hub_parse_listing(json, strlen(json), "x/y@main", l, e);
}

TEST(listing_selects_encoder_files) {
  const char *json =
      "{\"sha\":\"ABCDEF0123456789abcdef0123456789abcdef01\",\"siblings\":["
      "{\"rfilename\":\"pytorch_model.bin\",\"size\":10,\"lfs\":{\"sha256\":\"" MODEL_SHA "\",\"size\":10}},"
      "{\"rfilename\":\"model.safetensors\",\"size\":5,\"blobId\":\"ce013625030ba8dba906f756967f9e9ca394464a\","
      "\"lfs\":{\"sha256\":\"" MODEL_SHA "\",\"size\":5}},"
      "{\"rfilename\":\"onnx/model.onnx\"},{\"rfilename\":\"README.md\",\"size\":3},"
      "{\"rfilename\":\"vocab.txt\",\"size\":7,\"blobId\":\"CE013625030ba8dba906f756967f9e9ca394464a\"},"
      "{\"rfilename\":\"1_Pooling/config.json\"},"
      "{\"rfilename\":\"config.json\",\"size\":0}]}";
  hub_listing l;
  blend_error e = {0};
  REQUIRE(parse(json, &l, &e) == BLEND_OK);
  REQUIRE(l.n == 4);
  /* download order: config first, weights last */
  CHECK_STR(l.files[0].path, "config.json");
  CHECK(l.files[0].has_size && l.files[0].size == 0);
  CHECK_STR(l.files[1].path, "1_Pooling/config.json");
  CHECK(!l.files[1].has_size && !l.files[1].sha256[0] && !l.files[1].blob_id[0]);
  CHECK_STR(l.files[2].path, "vocab.txt");
  CHECK_STR(l.files[2].blob_id, "ce013625030ba8dba906f756967f9e9ca394464a");
  CHECK(!l.files[2].sha256[0]);
  CHECK_STR(l.files[3].path, "model.safetensors");
  CHECK_STR(l.files[3].sha256, MODEL_SHA);
  CHECK(l.files[3].size == 5);
  CHECK_STR(l.commit, "abcdef0123456789abcdef0123456789abcdef01");
  hub_listing_free(&l);
  const char *const *w = hub_wanted_files();
  int nw = 0;
  while (w[nw]) nw++;
  CHECK_EQ_INT(nw, 10);
  CHECK_STR(w[nw - 1], "model.safetensors");
}

TEST(listing_rejects_bad_json) {
  static const struct {
    const char *json, *needle;
    int code;
  } cases[] = {
      {"not json", "invalid JSON", BLEND_ECORRUPT},
      {"[]", "siblings", BLEND_ECORRUPT},
      {"{\"siblings\":{}}", "siblings", BLEND_ECORRUPT},
      {"{\"siblings\":[1]}", "siblings[0]", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":7}]}", "rfilename", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\",\"size\":-1}]}", "\"size\"", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\",\"size\":1.5}]}", "\"size\"", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\",\"size\":\"3\"}]}", "\"size\"", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\",\"size\":1e300}]}", "\"size\"", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\",\"blobId\":\"xyz\"}]}", "blobId", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"model.safetensors\",\"lfs\":{\"sha256\":\"abc\"}}]}",
       "lfs.sha256", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"model.safetensors\",\"lfs\":7}]}", "lfs.sha256",
       BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"model.safetensors\",\"size\":4,\"lfs\":{\"sha256\":\"" MODEL_SHA
       "\",\"size\":5}}]}",
       "lfs.size", BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"vocab.txt\"},{\"rfilename\":\"vocab.txt\"}]}", "twice",
       BLEND_ECORRUPT},
      {"{\"siblings\":[{\"rfilename\":\"config.json\"},{\"rfilename\":\"pytorch_model.bin\"}]}",
       "only pytorch_model.bin", BLEND_EUNSUPPORTED},
      {"{\"siblings\":[{\"rfilename\":\"config.json\"},"
       "{\"rfilename\":\"model.safetensors.index.json\"},"
       "{\"rfilename\":\"model-00001-of-00002.safetensors\"}]}",
       "sharded", BLEND_EUNSUPPORTED},
      {"{\"siblings\":[{\"rfilename\":\"model.safetensors\"}]}", "config.json", BLEND_EUNSUPPORTED},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    hub_listing l;
    blend_error e = {0};
    int rc = parse(cases[i].json, &l, &e);
    CHECKF(rc == cases[i].code, "case %zu (%s): rc %d", i, cases[i].json, rc);
    CHECKF(strstr(e.message, cases[i].needle) && strstr(e.message, "x/y@main"),
           "case %zu: message '%s' lacks '%s'", i, e.message, cases[i].needle);
    CHECK(l.files == NULL && l.n == 0);
  }
}

TEST(repo_ids_and_urls) {
  static const char *good[] = {"test/bert-tiny", "sentence-transformers/all-MiniLM-L6-v2",
                               "bert-base-uncased", "a/b", "BAAI/bge-small-en-v1.5", NULL};
  static const char *bad[] = {"", "/x", "x/", "a/b/c", "../x", "a/..", "a/.hidden", "-a/b",
                              "a/b-", "a--b/c", "a/b..c", "a b/c", "a/b?x", "a\\b/c", NULL};
  for (int i = 0; good[i]; i++) CHECKF(hub_check_repo_id(good[i], NULL) == 0, "'%s' refused", good[i]);
  for (int i = 0; bad[i]; i++) {
    blend_error e = {0};
    CHECKF(hub_check_repo_id(bad[i], &e) == BLEND_EINVAL, "'%s' accepted", bad[i]);
  }
  char *s = hub_url_escape("refs/pr/1 ä~", 0);
  CHECK_STR(s, "refs%2Fpr%2F1%20%C3%A4~");
  free(s);
  s = hub_url_escape("1_Pooling/config.json", 1);
  CHECK_STR(s, "1_Pooling/config.json");
  free(s);
  uint64_t a, b, t;
  CHECK(hub_parse_content_range("bytes 100-199/200", &a, &b, &t) == 0 && a == 100 && b == 199 &&
        t == 200);
  CHECK(hub_parse_content_range("bytes 5-9/*", &a, &b, &t) == 0 && t == UINT64_MAX);
  CHECK(hub_parse_content_range("bytes 100-199/150", &a, &b, &t) != 0);
  CHECK(hub_parse_content_range("bytes 9-5/20", &a, &b, &t) != 0);
  CHECK(hub_parse_content_range("bytes */200", &a, &b, &t) != 0);
  CHECK(hub_parse_content_range("items 1-2/3", &a, &b, &t) != 0);
  CHECK(hub_parse_content_range("bytes 1-2/3x", &a, &b, &t) != 0);
  CHECK(hub_parse_content_range("bytes 99999999999999999999-1/2", &a, &b, &t) != 0);
}

/* ------------------------------------------------------------ full pulls */

typedef struct events {
  int start, data, done, skip;
  uint64_t first_start_bytes_model; /* START offset reported for the weights */
} events;

static int on_event(void *ctx, const blend_pull_event *ev) {
  events *e = ctx;
  switch (ev->kind) {
    case BLEND_PULL_START:
      e->start++;
      if (!strcmp(ev->file, "model.safetensors")) e->first_start_bytes_model = ev->bytes;
      break;
    case BLEND_PULL_DATA: e->data++; break;
    case BLEND_PULL_DONE: e->done++; break;
    case BLEND_PULL_SKIP: e->skip++; break;
  }
  return 0;
}

TEST(pull_full_then_idempotent) {
  server s;
  START(s, "full", NULL);
  char dir[600];
  snprintf(dir, sizeof dir, "%s/full/nested/model", test_tmpdir());
  blend_pull_options o;
  opts_for(&o, &s);
  events ev = {0};
  o.progress = on_event;
  o.progress_ctx = &ev;
  blend_pull_result r;
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECKF(rc == BLEND_OK, "pull: %s", e.message);
  check_all_identical(dir);
  CHECK_EQ_INT(r.files, NFIXTURE);
  CHECK_EQ_INT(r.downloaded, NFIXTURE);
  CHECK_EQ_INT(r.skipped, 0);
  CHECK_EQ_INT(ev.done, NFIXTURE);
  CHECK(ev.data > 0);
  CHECK(r.bytes_total > MODEL_SIZE && r.bytes_downloaded == r.bytes_total);
  char p[1024];
  snprintf(p, sizeof p, "%s/reference.jsonl", dir);
  CHECK(!exists(p)); /* only encoder files */
  snprintf(p, sizeof p, "%s/.partial", dir);
  CHECK(!exists(p)); /* tidied up */
  /* the protocol as huggingface_hub speaks it */
  CHECK_EQ_INT(count_in_log(&s, "GET /api/models/" REPO "/revision/main?blobs=true"), 1);
  CHECK_EQ_INT(count_in_log(&s, "/resolve/" COMMIT "/model.safetensors"), 1);
  CHECK_EQ_INT(count_in_log(&s, "GET /blobs/" MODEL_SHA), 1); /* redirect followed */
  CHECK_EQ_INT(count_in_log(&s, "/resolve/" COMMIT "/1_Pooling/config.json"), 1);
  CHECK_EQ_INT(count_in_log(&s, "pytorch_model.bin"), 0);
  CHECK_EQ_INT(count_in_log(&s, "onnx"), 0);
  CHECK_EQ_INT(count_in_log(&s, "auth=yes"), 0);

  /* the pulled directory is a loadable model that embeds exactly as the
  ** original fixture does */
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = 1;
  blend_model *pulled = NULL, *orig = NULL;
  rc = blend_model_open(dir, &mo, &pulled, &e);
  CHECKF(rc == BLEND_OK, "open pulled model: %s", e.message);
  rc = blend_model_open(fixture_dir(), &mo, &orig, &e);
  CHECKF(rc == BLEND_OK, "open fixture model: %s", e.message);
  if (pulled && orig) {
    CHECK(!blend_model_is_cross_encoder(pulled));
    CHECK_EQ_INT(blend_model_dim(pulled), blend_model_dim(orig));
    const char *text = "Downloaded models embed like local ones.";
    size_t len = strlen(text);
    uint32_t dim = blend_model_dim(orig);
    float *va = calloc(dim, sizeof *va), *vb = calloc(dim, sizeof *vb);
    REQUIRE(va && vb);
    CHECK(blend_embed(pulled, &text, &len, 1, va, &e) == BLEND_OK);
    CHECK(blend_embed(orig, &text, &len, 1, vb, &e) == BLEND_OK);
    CHECK(!memcmp(va, vb, dim * sizeof *va));
    free(va);
    free(vb);
  }
  blend_model_close(pulled);
  blend_model_close(orig);

  /* again: everything verified in place, nothing downloaded */
  memset(&ev, 0, sizeof ev);
  rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECKF(rc == BLEND_OK, "re-pull: %s", e.message);
  CHECK_EQ_INT(r.downloaded, 0);
  CHECK_EQ_INT(r.skipped, NFIXTURE);
  CHECK_EQ_INT(r.bytes_downloaded, 0);
  CHECK_EQ_INT(ev.skip, NFIXTURE);
  CHECK_EQ_INT(count_in_log(&s, "/resolve/"), NFIXTURE);
  CHECK_EQ_INT(count_in_log(&s, "GET /api/models/"), 2);

  /* a damaged local file (same size) is detected and replaced */
  snprintf(p, sizeof p, "%s/vocab.txt", dir);
  size_t n;
  char *v = slurp(p, &n);
  REQUIRE(v && n > 10);
  v[5] ^= 1;
  REQUIRE(file_write_sync(p, v, n, NULL) == 0);
  free(v);
  rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECKF(rc == BLEND_OK, "repair pull: %s", e.message);
  CHECK_EQ_INT(r.downloaded, 1);
  check_all_identical(dir);
  server_stop(&s);
}

TEST(pull_resumes_after_cut_connection) {
  server s;
  START(s, "cut", "--cut-after", "5000000", NULL);
  char dir[600], final[700], part[700];
  snprintf(dir, sizeof dir, "%s/cut", test_tmpdir());
  snprintf(final, sizeof final, "%s/model.safetensors", dir);
  snprintf(part, sizeof part, "%s/.partial/model.safetensors.part", dir);
  blend_pull_options o;
  opts_for(&o, &s);
  blend_pull_result r;
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, s.url) && strstr(e.message, "model.safetensors") &&
             strstr(e.message, "resume"),
         "message: %s", e.message);
  CHECK(!exists(final)); /* never a half file under the final name */
  long long got = file_size(part);
  CHECKF(got > 0 && got <= 5000000, "partial size %lld", got);
  CHECK_EQ_INT(r.downloaded, NFIXTURE - 1); /* the small files are done */

  events ev = {0};
  o.progress = on_event;
  o.progress_ctx = &ev;
  rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECKF(rc == BLEND_OK, "resume: %s", e.message);
  char range[64];
  snprintf(range, sizeof range, "range=bytes=%lld-", got);
  /* the resolve request and the redirected blob request both carry Range */
  CHECKF(count_in_log(&s, range) == 2, "log lacks two '%s'", range);
  CHECK_EQ_INT(ev.first_start_bytes_model, got);
  CHECK_EQ_INT(r.downloaded, 1);
  CHECK_EQ_INT(r.skipped, NFIXTURE - 1);
  CHECK_EQ_INT(r.bytes_downloaded, MODEL_SIZE - (uint64_t)got);
  check_all_identical(dir);
  CHECK(!exists(part));
  server_stop(&s);
}

TEST(pull_resumes_after_stall) {
  server s;
  START(s, "stall", "--stall-after", "3000000", NULL);
  char dir[600], final[700], part[700];
  snprintf(dir, sizeof dir, "%s/stall", test_tmpdir());
  snprintf(final, sizeof final, "%s/model.safetensors", dir);
  snprintf(part, sizeof part, "%s/.partial/model.safetensors.part", dir);
  blend_pull_options o;
  opts_for(&o, &s);
  o.stall_timeout = 1; /* a stalled server fails the pull instead of hanging it */
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, s.url) && strstr(e.message, "stalled"), "message: %s", e.message);
  CHECK(!exists(final));
  long long got = file_size(part);
  CHECKF(got > 0 && got <= 3000000, "partial size %lld", got);
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECKF(rc == BLEND_OK, "resume: %s", e.message);
  char range[64];
  snprintf(range, sizeof range, "range=bytes=%lld-", got);
  CHECKF(count_in_log(&s, range) >= 1, "log lacks '%s'", range);
  check_all_identical(dir);
  server_stop(&s);
}

TEST(pull_restarts_when_server_ignores_range) {
  server s;
  START(s, "norange", "--ignore-range", NULL);
  char dir[600], part[700];
  snprintf(dir, sizeof dir, "%s/norange", test_tmpdir());
  REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
  snprintf(dir, sizeof dir, "%s/norange/.partial", test_tmpdir());
  REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
  /* a stale partial of garbage: a 200 answer must replace it, not extend it */
  snprintf(part, sizeof part, "%s/model.safetensors.part", dir);
  REQUIRE(file_write_sync(part, "garbage garbage garbage", 23, NULL) == 0);
  snprintf(dir, sizeof dir, "%s/norange", test_tmpdir());
  blend_pull_options o;
  opts_for(&o, &s);
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECKF(rc == BLEND_OK, "pull: %s", e.message);
  CHECK(count_in_log(&s, "range=bytes=23-") >= 1); /* it did ask to resume */
  check_all_identical(dir);
  server_stop(&s);
}

TEST(pull_refetches_whole_when_resumed_file_mismatches) {
  server s;
  START(s, "stale", NULL);
  char dir[600], part[700];
  snprintf(dir, sizeof dir, "%s/stale", test_tmpdir());
  REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
  snprintf(dir, sizeof dir, "%s/stale/.partial", test_tmpdir());
  REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
  /* a partial from "another version": resuming it yields a wrong checksum */
  snprintf(part, sizeof part, "%s/model.safetensors.part", dir);
  REQUIRE(file_write_sync(part, "stale stale stale stale", 23, NULL) == 0);
  snprintf(dir, sizeof dir, "%s/stale", test_tmpdir());
  blend_pull_options o;
  opts_for(&o, &s);
  blend_pull_result r;
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, &r, &e);
  CHECKF(rc == BLEND_OK, "pull: %s", e.message);
  CHECK_EQ_INT(count_in_log(&s, "GET /blobs/" MODEL_SHA " range=bytes=23-"), 1);
  CHECK_EQ_INT(count_in_log(&s, "GET /blobs/" MODEL_SHA " range=-"), 1); /* then whole */
  check_all_identical(dir);
  server_stop(&s);
}

TEST(pull_detects_corrupt_blob) {
  server s;
  START(s, "corrupt", "--corrupt-at", "1000", NULL);
  char dir[600], final[700], part[700];
  snprintf(dir, sizeof dir, "%s/corrupt", test_tmpdir());
  snprintf(final, sizeof final, "%s/model.safetensors", dir);
  snprintf(part, sizeof part, "%s/.partial/model.safetensors.part", dir);
  blend_pull_options o;
  opts_for(&o, &s);
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ECORRUPT);
  CHECKF(strstr(e.message, "model.safetensors") && strstr(e.message, "sha256") &&
             strstr(e.message, MODEL_SHA),
         "message: %s", e.message);
  /* the other hash is named too: 64 hex digits that are not the expected ones */
  const char *has = strstr(e.message, "download has ");
  CHECKF(has && strspn(has + 13, "0123456789abcdef") == 64 && strncmp(has + 13, MODEL_SHA, 64),
         "message lacks the actual hash: %s", e.message);
  CHECK(!exists(final));
  CHECK(!exists(part));
  server_stop(&s);
}

TEST(pull_http_errors_are_clear) {
  server s;
  char control[600];
  snprintf(control, sizeof control, "%s/errors.control", test_tmpdir());
  START(s, "errors", "--control", control, NULL);
  char dir[600];
  blend_pull_options o;
  opts_for(&o, &s);
  blend_error e = {0};
  snprintf(dir, sizeof dir, "%s/err-repo", test_tmpdir());
  int rc = blend_model_pull("test/nope", dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENOTFOUND);
  CHECKF(strstr(e.message, "'test/nope' not found") && strstr(e.message, s.url), "404 repo: %s",
         e.message);
  CHECK(!exists(dir)); /* nothing created for a repository that does not exist */

  o.revision = "v9";
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENOTFOUND);
  CHECKF(strstr(e.message, "revision 'v9' not found"), "bad revision: %s", e.message);
  o.revision = NULL;

  REQUIRE(file_write_sync(control, "config.json 503\n", 16, NULL) == 0);
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, "503") && strstr(e.message, "server error") &&
             strstr(e.message, "config.json"),
         "503: %s", e.message);

  /* a listed file that is gone (404), then one that is gated (403) */
  REQUIRE(file_write_sync(control, "vocab.txt 404\n", 14, NULL) == 0);
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENOTFOUND);
  CHECKF(strstr(e.message, "vocab.txt: file not found in '" REPO "'") &&
             strstr(e.message, "/resolve/"),
         "404 file: %s", e.message);
  REQUIRE(file_write_sync(control, "model.safetensors 403\n", 22, NULL) == 0);
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, "denied (HTTP 403") && strstr(e.message, "HF_TOKEN"), "403: %s",
         e.message);
  char p[700];
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  CHECK(!exists(p));
  unlink(control);
  rc = blend_model_pull(REPO, dir, &o, NULL, &e); /* the hub recovered */
  CHECKF(rc == BLEND_OK, "after errors: %s", e.message);
  check_all_identical(dir);
  server_stop(&s);

  /* nothing listens on port 1 of loopback: the error names the URL */
  o.endpoint = "http://127.0.0.1:1";
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, "http://127.0.0.1:1/api/models/" REPO), "refused: %s", e.message);

  o.endpoint = "ftp://127.0.0.1";
  CHECK_EQ_INT(blend_model_pull(REPO, dir, &o, NULL, &e), BLEND_EINVAL);
  CHECK_EQ_INT(blend_model_pull("../etc", dir, &o, NULL, &e), BLEND_EINVAL);
}

TEST(pull_refuses_repo_without_safetensors) {
  server s;
  START(s, "nost", "--no-safetensors", NULL);
  char dir[600], p[700];
  snprintf(dir, sizeof dir, "%s/nost", test_tmpdir());
  blend_pull_options o;
  opts_for(&o, &s);
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_EUNSUPPORTED);
  CHECKF(strstr(e.message, "no model.safetensors") && strstr(e.message, "pytorch_model.bin"),
         "message: %s", e.message);
  snprintf(p, sizeof p, "%s/config.json", dir);
  CHECK(!exists(p)); /* refused before downloading anything */
  server_stop(&s);
}

TEST(pull_token_and_env) {
  server s;
  START(s, "token", "--token", "s3cret", "--cdn-host", "localhost", NULL);
  char dir[600];
  snprintf(dir, sizeof dir, "%s/token", test_tmpdir());
  blend_pull_options o;
  opts_for(&o, &s);
  blend_error e = {0};
  int rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECK_EQ_INT(rc, BLEND_ENETWORK);
  CHECKF(strstr(e.message, "401") && strstr(e.message, "HF_TOKEN"), "no token: %s", e.message);
  o.token = "wrong";
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  CHECKF(rc != BLEND_OK && strstr(e.message, "rejected"), "bad token: %s", e.message);
  /* HF_TOKEN and HF_ENDPOINT from the environment, as huggingface_hub reads them */
  setenv("HF_TOKEN", "s3cret", 1);
  setenv("HF_ENDPOINT", s.url, 1);
  o.token = NULL;
  o.endpoint = NULL;
  rc = blend_model_pull(REPO, dir, &o, NULL, &e);
  unsetenv("HF_TOKEN");
  unsetenv("HF_ENDPOINT");
  CHECKF(rc == BLEND_OK, "env token: %s", e.message);
  check_all_identical(dir);
  CHECK(count_in_log(&s, "auth=yes") >= NFIXTURE + 1);
  /* the redirect to another host (the "CDN") does not carry the token */
  CHECK_EQ_INT(count_in_log(&s, "GET /blobs/" MODEL_SHA " range=- auth=no"), 1);
  CHECK_EQ_INT(count_in_log(&s, "GET /blobs/" MODEL_SHA " range=- auth=yes"), 0);
  server_stop(&s);
}

/* ------------------------------------------------------------------- CLI */

static int run(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_model_pull) {
  const char *bin = test_blend_bin();
  if (access(bin, X_OK) != 0) SKIP("blend binary not built (set BLEND_BIN)");
  char cmd[2048], out[16384];
  snprintf(cmd, sizeof cmd, "%s model 2>&1", bin);
  CHECK_EQ_INT(run(cmd, out, sizeof out), 2);
  CHECKF(strstr(out, "pull"), "usage: %s", out);
  snprintf(cmd, sizeof cmd, "%s model pull --help", bin);
  CHECK_EQ_INT(run(cmd, out, sizeof out), 0);
  static const char *documented[] = {"--dir", "--endpoint", "--revision", "--stall-timeout",
                                     "--connect-timeout", "HF_TOKEN", "HF_ENDPOINT",
                                     "BLEND_MODELS", "./models/ORG__NAME", "model.safetensors",
                                     ".partial", "resume", "SHA-256", NULL};
  for (int i = 0; documented[i]; i++)
    CHECKF(strstr(out, documented[i]), "--help does not mention %s", documented[i]);
  snprintf(cmd, sizeof cmd, "%s model pull 2>&1", bin);
  CHECK_EQ_INT(run(cmd, out, sizeof out), 2);
  snprintf(cmd, sizeof cmd, "%s model pull a/b --bogus 2>&1", bin);
  CHECK_EQ_INT(run(cmd, out, sizeof out), 2);
  snprintf(cmd, sizeof cmd, "%s model pull ../../etc 2>&1", bin);
  CHECK_EQ_INT(run(cmd, out, sizeof out), 2);

  server s;
  START(s, "cli", NULL);
  /* default destination under $BLEND_MODELS, run from another directory */
  char abs[1024];
  REQUIRE(realpath(bin, abs));
  snprintf(cmd, sizeof cmd,
           "cd '%s' && HF_TOKEN= BLEND_MODELS='%s/models' '%s' model pull " REPO
           " --endpoint %s 2>'%s/cli.err'",
           test_tmpdir(), test_tmpdir(), abs, s.url, test_tmpdir());
  int rc = run(cmd, out, sizeof out);
  char errp[700];
  snprintf(errp, sizeof errp, "%s/cli.err", test_tmpdir());
  char *err = slurp(errp, NULL);
  CHECKF(rc == 0, "exit %d: %s", rc, err ? err : "");
  char dir[700];
  snprintf(dir, sizeof dir, "%s/models/test__bert-tiny", test_tmpdir());
  char want[800];
  snprintf(want, sizeof want, "%s\n", dir);
  CHECK_STR(out, want); /* stdout: just the directory */
  CHECKF(err && strstr(err, "model.safetensors") && strstr(err, "9 downloaded"), "stderr: %s",
         err ? err : "");
  free(err);
  check_all_identical(dir);

  /* --dir, --revision=COMMIT; the same files are already there: skipped */
  snprintf(cmd, sizeof cmd, "%s model pull " REPO " --dir '%s' --revision=" COMMIT
           " --endpoint=%s --quiet 2>&1", bin, dir, s.url);
  rc = run(cmd, out, sizeof out);
  CHECKF(rc == 0, "exit %d: %s", rc, out);
  CHECK_EQ_INT(count_in_log(&s, "/revision/" COMMIT "?blobs=true"), 1);
  CHECK_EQ_INT(count_in_log(&s, "/resolve/"), NFIXTURE);

  snprintf(cmd, sizeof cmd, "%s model pull test/missing --dir '%s/x' --endpoint %s 2>&1", bin,
           test_tmpdir(), s.url);
  rc = run(cmd, out, sizeof out);
  CHECK_EQ_INT(rc, 1);
  CHECKF(strstr(out, "not found"), "output: %s", out);
  server_stop(&s);
}
