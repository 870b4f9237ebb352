/*
** test_fusion_ranx.c — `blend fuse` against an independent implementation
** of ranx's definitions, written here without calling blend's fusion code:
** min-max (denominator max(max − min, 1e-9)) and z-score (population σ,
** max(σ, 1e-9)) convex combination with missing documents at 0, and RRF
** 1/(k + rank) summed over runs, on the TREC-COVID pair (Pyserini BM25 flat
** and SPLADE++, ../shared/runs/trec-covid). Ranks within a run and the
** fused order use trec_eval's order (score desc, docid desc). Checks
** identical rankings and scores within 1e-6, plus the bad-input errors of
** the command.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"

/* ---- the reference: plain arrays, linear scans, qsort */
typedef struct ent {
  char q[32], d[64];
  double s;
} ent;

typedef struct runf {
  ent *e;
  int n;
} runf;

static int load(const char *path, runf *r) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  r->n = 0;
  r->e = malloc(200000 * sizeof *r->e);
  char q[64], d[128], tag[64];
  int rank;
  double s;
  while (r->n < 200000 && fscanf(f, "%63s Q0 %127s %d %lf %63s", q, d, &rank, &s, tag) == 5) {
    snprintf(r->e[r->n].q, sizeof r->e[r->n].q, "%s", q);
    snprintf(r->e[r->n].d, sizeof r->e[r->n].d, "%s", d);
    r->e[r->n++].s = s;
  }
  fclose(f);
  return 0;
}

static int cmp_ent(const void *a, const void *b) {
  const ent *x = a, *y = b;
  int c = strcmp(x->q, y->q);
  if (c) return c;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return strcmp(y->d, x->d);
}

/* The reference fusion of two runs for one query: out gets (doc, score)
** sorted, returns count. mode 0 min-max cc, 1 z-score cc, 2 RRF. */
static int ref_fuse(const ent *a, int na, const ent *b, int nb, int mode, double alpha,
                    double k, ent *out) {
  const ent *legs[2] = {a, b};
  int nl[2] = {na, nb};
  double w[2] = {alpha, 1 - alpha};
  int n = 0;
  for (int l = 0; l < 2; l++) {
    double lo = INFINITY, hi = -INFINITY, mean = 0, var = 0;
    for (int i = 0; i < nl[l]; i++) {
      lo = fmin(lo, legs[l][i].s);
      hi = fmax(hi, legs[l][i].s);
      mean += legs[l][i].s;
    }
    mean /= nl[l];
    for (int i = 0; i < nl[l]; i++) var += (legs[l][i].s - mean) * (legs[l][i].s - mean);
    double sd = sqrt(var / nl[l]);
    for (int i = 0; i < nl[l]; i++) {
      double v;
      if (mode == 0) v = (legs[l][i].s - lo) / fmax(hi - lo, 1e-9);
      else if (mode == 1) v = (legs[l][i].s - mean) / fmax(sd, 1e-9);
      else v = 1.0 / (k + i + 1);
      double add = mode == 2 ? v : w[l] * v;
      int j = 0;
      while (j < n && strcmp(out[j].d, legs[l][i].d)) j++;
      if (j == n) {
        out[n] = legs[l][i];
        out[n++].s = 0;
      }
      out[j].s += add;
    }
  }
  qsort(out, (size_t)n, sizeof *out, cmp_ent);
  return n;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void compare(const char *dir, const char *opts, int mode, double alpha, double k) {
  char bm[600], sp[600], outp[600];
  snprintf(bm, sizeof bm, "%s/bm25-flat.top100.trec", dir);
  snprintf(sp, sizeof sp, "%s/splade-pp-ed.top100.trec", dir);
  snprintf(outp, sizeof outp, "%s/fused-%d.trec", test_tmpdir(), mode);
  REQUIRE(sh("%s fuse %s %s %s --out %s", test_blend_bin(), opts, bm, sp, outp) == 0);
  runf a, b, got;
  REQUIRE(load(bm, &a) == 0 && load(sp, &b) == 0 && load(outp, &got) == 0);
  REQUIRE(a.n == 5000 && b.n == 5000);
  qsort(a.e, (size_t)a.n, sizeof *a.e, cmp_ent);
  qsort(b.e, (size_t)b.n, sizeof *b.e, cmp_ent);
  /* the output file is ranked already; group it by query in file order */
  ent *ref = malloc(400 * sizeof *ref);
  int checked = 0, pos = 0, bad = 0;
  for (int i = 0; i < a.n;) {
    int j = i;
    while (j < a.n && !strcmp(a.e[j].q, a.e[i].q)) j++;
    int bi = 0;
    while (bi < b.n && strcmp(b.e[bi].q, a.e[i].q)) bi++;
    int bj = bi;
    while (bj < b.n && !strcmp(b.e[bj].q, a.e[i].q)) bj++;
    int n = ref_fuse(a.e + i, j - i, b.e + bi, bj - bi, mode, alpha, k, ref);
    /* find this query in the output */
    pos = 0;
    while (pos < got.n && strcmp(got.e[pos].q, a.e[i].q)) pos++;
    for (int r = 0; r < n; r++, pos++) {
      if (pos >= got.n || strcmp(got.e[pos].q, ref[r].q) || strcmp(got.e[pos].d, ref[r].d) ||
          fabs(got.e[pos].s - ref[r].s) > 1e-6) {
        if (bad++ < 3)
          test_fail(__FILE__, __LINE__, "%s: query %s rank %d: blend %s %.9f, reference %s %.9f",
                    opts, ref[r].q, r + 1, pos < got.n ? got.e[pos].d : "-",
                    pos < got.n ? got.e[pos].s : 0, ref[r].d, ref[r].s);
      }
      checked++;
    }
    i = j;
  }
  CHECK(checked > 5000); /* the union is larger than one run */
  CHECK_EQ_INT(got.n, checked);
  free(ref);
  free(a.e);
  free(b.e);
  free(got.e);
}

static const char *covid(void) {
  static char p[600];
  const char *s = test_shared_dir();
  if (!s) return NULL;
  snprintf(p, sizeof p, "%s/runs/trec-covid", s);
  FILE *f = fopen("/dev/null", "r");
  if (f) fclose(f);
  return p;
}

TEST(fuse_minmax_matches_reference) {
  const char *d = covid();
  if (!d) SKIP("../shared not found");
  compare(d, "--norm minmax --fusion cc --alpha 0.3", 0, 0.3, 60);
}

TEST(fuse_zscore_matches_reference) {
  const char *d = covid();
  if (!d) SKIP("../shared not found");
  compare(d, "--norm zscore --fusion cc --alpha 0.5", 1, 0.5, 60);
}

TEST(fuse_rrf_matches_reference) {
  const char *d = covid();
  if (!d) SKIP("../shared not found");
  compare(d, "--fusion rrf --rrf-k 60", 2, 0.5, 60);
  compare(d, "--fusion rrf --rrf-k 10", 2, 0.5, 10);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

TEST(fuse_bad_input) {
  const char *t = test_tmpdir(), *b = test_blend_bin();
  char r1[600], r2[600], dup[600], other[600], err[600];
  snprintf(r1, sizeof r1, "%s/r1.trec", t);
  snprintf(r2, sizeof r2, "%s/r2.trec", t);
  snprintf(dup, sizeof dup, "%s/dup.trec", t);
  snprintf(other, sizeof other, "%s/other.trec", t);
  snprintf(err, sizeof err, "%s/err.txt", t);
  write_file(r1, "q1 Q0 a 1 3 x\nq1 Q0 b 2 2 x\n");
  write_file(r2, "q1 Q0 b 1 9 y\nq1 Q0 c 2 4 y\n");
  write_file(dup, "q1 Q0 a 1 3 x\nq1 Q0 a 2 2 x\n");
  write_file(other, "q9 Q0 a 1 3 x\n");
  CHECK(sh("%s fuse %s %s --out %s/ok.trec", b, r1, r2, t) == 0);
  CHECK(sh("%s fuse --norm l2 %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("grep -q \"unknown normalisation 'l2'\" %s", err) == 0);
  CHECK(sh("%s fuse --fusion borda %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("grep -q \"unknown fusion 'borda'\" %s", err) == 0);
  CHECK(sh("%s fuse --alpha 1.5 %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("grep -q -- '--alpha must be in' %s", err) == 0);
  CHECK(sh("%s fuse --weights 1,1,1 %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("grep -q '3 weights for 2 legs' %s", err) == 0);
  CHECK(sh("%s fuse --weights 1,-2 %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("%s fuse --weights 1,nan %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("%s fuse --fusion rrf --rrf-k 0 %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("grep -q -- '--rrf-k must be > 0' %s", err) == 0);
  CHECK(sh("%s fuse %s %s 2>%s", b, r1, dup, err) == 1);
  CHECK(sh("grep -q 'dup.trec:2: duplicate document' %s", err) == 0);
  CHECK(sh("%s fuse %s %s 2>%s", b, r1, other, err) == 1);
  CHECK(sh("grep -q 'disjoint' %s", err) == 0);
  CHECK(sh("%s fuse --complete-scores %s %s 2>%s", b, r1, r2, err) == 2);
  CHECK(sh("%s fuse %s %s/missing.trec 2>%s", b, r1, t, err) == 1);
}
