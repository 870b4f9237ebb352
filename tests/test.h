/*
** test.h — the tiny unit-test harness every tests/test_*.c uses.
**
** TEST(name) { ... } defines and registers a test; CHECK(cond) records a
** failure and continues; REQUIRE(cond) records a failure and leaves the test;
** SKIP("why") ends the test as skipped with a visible reason. harness.c
** provides main(), which runs every test (or those named on the command
** line) and prints "N passed, N failed, N skipped".
*/
#ifndef BLEND_TEST_H
#define BLEND_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *why);
int test_failed_now(void);
/* Path of ../shared (BLEND_SHARED env or "../shared" from the repo root);
** NULL when absent. */
const char *test_shared_dir(void);
/* A fresh temporary directory, removed at exit. */
const char *test_tmpdir(void);
/* Path of the blend CLI binary under test (BLEND_BIN env). */
const char *test_blend_bin(void);
/* Run a shell command (printf-style) with stderr joined to stdout; the first
** cap-1 bytes of the output land NUL-terminated in out (the rest is read and
** dropped). Returns the exit status, 128+signal when killed, -1 if it could
** not run. */
int test_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define TEST(name)                                                          \
  static void name(void);                                                   \
  __attribute__((constructor)) static void register_##name(void) {          \
    test_register(#name, name);                                             \
  }                                                                         \
  static void name(void)

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);         \
  } while (0)
#define CHECKF(cond, ...)                                                   \
  do {                                                                      \
    if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                \
  } while (0)
#define REQUIRE(cond)                                                       \
  do {                                                                      \
    if (!(cond)) {                                                          \
      test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);                  \
      return;                                                               \
    }                                                                       \
  } while (0)
#define CHECK_EQ_INT(a, b)                                                  \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_)                                                           \
      test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)
#define CHECK_STR(a, b)                                                     \
  do {                                                                      \
    const char *a_ = (a), *b_ = (b);                                        \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                  \
      test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,   \
                a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
  } while (0)
#define CHECK_NEAR(a, b, tol)                                               \
  do {                                                                      \
    double a_ = (a), b_ = (b);                                              \
    if (!(fabs(a_ - b_) <= (tol)))                                          \
      test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a,  \
                #b, a_, b_, (double)(tol));                                 \
  } while (0)
#define SKIP(why)                                                           \
  do {                                                                      \
    test_skip(why);                                                         \
    return;                                                                 \
  } while (0)

#endif
