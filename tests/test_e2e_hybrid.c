/*
** test_e2e_hybrid.c — the hybrid command line end to end on SciFact and the
** TREC-COVID run pair: `blend tune --index` stores a setting that a later
** `blend search --mode hybrid` without --legs uses; `blend eval --mode
** hybrid` agrees with tune's held-out scoring of the same setting; stable
** paging through --offset; `blend tune --folds 5` on TREC-COVID reports a
** held-out figure; and bad input (unknown names, weight counts, a dense
** leg without vectors, a split with no judged query) fails with a clear
** message and the right exit status.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

static char out[1 << 20];

/* a shell command's exit status; its stdout+stderr in out */
#define sh(...) test_sh(out, sizeof out, __VA_ARGS__)

static const char *scifact(void) {
  static char p[600];
  const char *s = test_shared_dir();
  if (!s) return NULL;
  snprintf(p, sizeof p, "%s/data/beir/scifact", s);
  struct stat st;
  return stat(p, &st) ? NULL : p;
}

static const char *index_dir(void) {
  static char dir[600];
  if (dir[0]) return dir;
  snprintf(dir, sizeof dir, "%s/sf", test_tmpdir());
  if (sh("%s index --input %s/corpus.jsonl --index %s -q", test_blend_bin(), scifact(), dir)) {
    fprintf(stderr, "%s", out);
    dir[0] = 0;
    return NULL;
  }
  return dir;
}

/* The number after "label" in out (first occurrence), or -1. */
static double value_after(const char *label) {
  const char *p = strstr(out, label);
  if (!p) return -1;
  p += strlen(label);
  while (*p == ' ' || *p == ':' || *p == '\t') p++;
  return atof(p);
}

TEST(tune_stores_setting_search_uses_it) {
  const char *sf = scifact();
  if (!sf) SKIP("../shared/data/beir/scifact not found");
  const char *ix = index_dir(), *b = test_blend_bin();
  REQUIRE(ix);
  char svg[700];
  snprintf(svg, sizeof svg, "%s/plot.svg", test_tmpdir());
  int st = sh("%s tune --index %s --queries %s/queries.jsonl --qrels %s/qrels/train.tsv --legs "
              "bm25,bm25-multi --fusion rrf --plot %s --test-qrels %s/qrels/test.tsv",
              b, ix, sf, sf, svg, sf);
  CHECKF(st == 0, "tune failed: %s", out);
  CHECK(strstr(out, "stored ") != NULL);
  CHECK(strstr(out, "leg      bm25 alone") != NULL);
  /* the leg alone is scored as blend eval scores it (README: 0.6789) */
  CHECK_NEAR(value_after("leg      bm25 alone"), 0.6789, 0.00005);
  double tuned_test = value_after("TUNED");
  (void)tuned_test;
  double untuned = -1;
  const char *u = strstr(out, "untuned  minmax cc equal weights");
  if (u) untuned = atof(u + strlen("untuned  minmax cc equal weights"));
  CHECK(untuned > 0.6 && untuned < 0.8);
  char path[700];
  snprintf(path, sizeof path, "%s/hybrid.json", ix);
  struct stat s;
  CHECK(stat(path, &s) == 0);
  CHECK(sh("grep -c '<polyline' %s", svg) == 0 && atoi(out) >= 9);
  /* search without --legs: the stored legs */
  st = sh("%s search --index %s --mode hybrid --json --explain -k 3 'gut microbiome'", b, ix);
  CHECKF(st == 0, "%s", out);
  CHECK(strstr(out, "\"leg\":\"bm25\"") && strstr(out, "\"leg\":\"bm25-multi\""));
  CHECK(strstr(out, "\"fused_rank\":1") != NULL);
  /* eval of the untuned default agrees with tune's scoring of it */
  st = sh("%s eval --index %s --mode hybrid --legs bm25,bm25-multi --norm minmax --fusion cc "
          "--queries %s/queries.jsonl --qrels %s/qrels/test.tsv --metrics ndcg@10",
          b, ix, sf, sf);
  CHECKF(st == 0, "%s", out);
  CHECK_NEAR(value_after("ndcg@10"), untuned, 0.00005);
}

TEST(offset_pages_are_stable) {
  const char *sf = scifact();
  if (!sf) SKIP("../shared/data/beir/scifact not found");
  const char *ix = index_dir(), *b = test_blend_bin();
  REQUIRE(ix);
  char ten[1 << 14], page[1 << 14];
  REQUIRE(sh("%s search --index %s --mode hybrid --legs bm25,bm25-multi --fusion rrf --json "
             "--snippet-bytes 0 -k 10 'cancer cell growth' | sed 's/\"rank\":[0-9]*,//'",
             b, ix) == 0);
  snprintf(ten, sizeof ten, "%s", out);
  REQUIRE(sh("%s search --index %s --mode hybrid --legs bm25,bm25-multi --fusion rrf --json "
             "--snippet-bytes 0 -k 5 --offset 5 'cancer cell growth' | sed 's/\"rank\":[0-9]*,//'",
             b, ix) == 0);
  snprintf(page, sizeof page, "%s", out);
  /* the second page is the last five lines of the first ten */
  const char *p = ten;
  for (int i = 0; i < 5 && p; i++) {
    p = strchr(p, '\n');
    if (p) p++;
  }
  REQUIRE(p);
  CHECK_STR(page, p);
}

TEST(bad_input) {
  const char *sf = scifact();
  if (!sf) SKIP("../shared/data/beir/scifact not found");
  const char *ix = index_dir(), *b = test_blend_bin();
  REQUIRE(ix);
  CHECK(sh("%s search --index %s --mode hybrid --legs bm25,dense cells", b, ix) == 1);
  CHECK(strstr(out, "vector field") != NULL);
  CHECK(sh("%s search --index %s --mode hybrid --norm l3 cells", b, ix) == 2);
  CHECK(strstr(out, "unknown normalisation 'l3'") != NULL);
  CHECK(sh("%s search --index %s --mode hybrid --fusion max cells", b, ix) == 2);
  CHECK(sh("%s search --index %s --mode hybrid --legs bm25,bm25-multi --weights 1,2,3 cells", b,
           ix) == 2);
  CHECK(strstr(out, "3 weights for 2 legs") != NULL);
  CHECK(sh("%s search --index %s --mode hybrid --alpha -0.5 cells", b, ix) == 2);
  CHECK(sh("%s search --index %s --mode hybrid --fusion rrf --rrf-k 0 cells", b, ix) == 2);
  CHECK(sh("%s search --index %s --mode hybrid --legs bm25,colbert cells", b, ix) == 2);
  /* a tuning split whose queries are all unjudged (rel 0) */
  char q0[700];
  snprintf(q0, sizeof q0, "%s/zero.tsv", test_tmpdir());
  FILE *f = fopen(q0, "w");
  REQUIRE(f);
  fputs("query-id\tcorpus-id\tscore\n1\t31715818\t0\n3\t14717500\t0\n", f);
  fclose(f);
  CHECK(sh("%s tune --index %s --queries %s/queries.jsonl --qrels %s --legs bm25,bm25-multi "
           "--plot none --no-store",
           b, ix, sf, q0) == 1);
  CHECK(strstr(out, "no judged query") != NULL);
  CHECK(sh("%s tune --qrels %s %s/queries.jsonl", b, q0, sf) == 2); /* one run */
  CHECK(sh("%s tune --index %s --qrels %s --folds 1", b, ix, q0) == 2);
}

TEST(tune_folds_trec_covid) {
  const char *s = test_shared_dir();
  if (!s) SKIP("../shared not found");
  char d[600];
  snprintf(d, sizeof d, "%s/runs/trec-covid", s);
  int st = sh("%s tune --qrels %s/qrels.test.tsv %s/bm25-flat.top100.trec "
              "%s/splade-pp-ed.top100.trec --folds 5 --plot none",
              test_blend_bin(), d, d, d);
  CHECKF(st == 0, "%s", out);
  double held = value_after("(5-fold cross-validation over queries)");
  /* SPLADE++ alone is 0.7274; the cross-validated fusion beats it */
  CHECKF(held > 0.7274 && held < 1, "held-out %f", held);
  CHECK(strstr(out, "fold 5/5") != NULL);
  CHECK(strstr(out, "best:") == NULL); /* no tuned-on figure with --folds */
}
