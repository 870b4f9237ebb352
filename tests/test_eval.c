/*
** test_eval.c — qrels/run parsing and trec_eval-exact metrics: hand-computed
** values on small cases (ties, unjudged docs, graded relevance, cutoffs past
** the ranking, missing and unjudged queries), a naive reference evaluator
** compared with the library on random runs, run file round trips, and the
** `blend eval` command on an external run.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blend.h"
#include "eval/eval.h"
#include "test.h"

static char *write_tmp(const char *name, const char *text) {
  static char paths[16][512];
  static int next;
  char *p = paths[next++ % 16];
  snprintf(p, 512, "%s/%s", test_tmpdir(), name);
  FILE *f = fopen(p, "w");
  if (!f) return NULL;
  fputs(text, f);
  fclose(f);
  return p;
}

static blend_qrels *qrels_from(const char *name, const char *text) {
  blend_qrels *q = NULL;
  blend_error err = {0};
  const char *p = write_tmp(name, text);
  if (!p || blend_qrels_load(p, &q, &err)) {
    fprintf(stderr, "qrels load failed: %s\n", err.message);
    return NULL;
  }
  return q;
}

static blend_run *run_from(const char *name, const char *text) {
  blend_run *r = NULL;
  blend_error err = {0};
  const char *p = write_tmp(name, text);
  if (!p || blend_run_load(p, &r, &err)) {
    fprintf(stderr, "run load failed: %s\n", err.message);
    return NULL;
  }
  return r;
}

/* Evaluate one metric; returns the mean (per-query values via *e). */
static double eval1(const blend_qrels *q, const blend_run *r, const char *metric, int ignore_ids,
                    blend_eval_result **keep) {
  blend_eval_result *e = NULL;
  blend_error err = {0};
  blend_eval_options o = {ignore_ids};
  const char *m[1] = {metric};
  if (blend_evaluate(q, r, m, 1, &o, &e, &err)) {
    fprintf(stderr, "evaluate %s: %s\n", metric, err.message);
    return NAN;
  }
  double v = blend_eval_mean(e, 0);
  if (keep) *keep = e;
  else blend_eval_free(e);
  return v;
}

static double query_value(const blend_eval_result *e, const char *qid) {
  for (uint32_t i = 0; i < blend_eval_queries(e); i++)
    if (!strcmp(blend_eval_query_id(e, i), qid)) return blend_eval_value(e, i, 0);
  return NAN;
}

/* ---- ranking */

TEST(ties_rank_by_docid_descending_and_rank_column_is_ignored) {
  /* Equal scores: trec_eval orders by docid in descending strcmp order, so
  ** d3 > d2 > d1; the rank column (d1 claims rank 1) plays no part. */
  blend_qrels *q = qrels_from("t.qrels", "q1 0 d1 1\n");
  blend_run *r = run_from("t.run",
                          "q1 Q0 d1 1 1.0 x\n"
                          "q1 Q0 d3 2 1.0 x\n"
                          "q1 Q0 d2 3 1.0 x\n"
                          "q1 Q0 d10 4 2.0 x\n");
  REQUIRE(q && r);
  CHECK_NEAR(eval1(q, r, "mrr", 0, NULL), 0.25, 1e-15); /* d10 d3 d2 d1 */
  CHECK_NEAR(eval1(q, r, "p@3", 0, NULL), 0.0, 0);
  CHECK_NEAR(eval1(q, r, "p@4", 0, NULL), 0.25, 1e-15);

  /* The written run lists the same order with ranks 1..4. */
  char path[512];
  snprintf(path, sizeof path, "%s/ties.out", test_tmpdir());
  blend_error err = {0};
  REQUIRE(blend_run_write(r, path, "tag1", &err) == BLEND_OK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = fopen(path, "r");
  REQUIRE(f);
  text = calloc(1, 4096);
  len = fread(text, 1, 4095, f);
  fclose(f);
  CHECK(len > 0);
  CHECK_STR(text,
            "q1 Q0 d10 1 2 tag1\n"
            "q1 Q0 d3 2 1 tag1\n"
            "q1 Q0 d2 3 1 tag1\n"
            "q1 Q0 d1 4 1 tag1\n");
  free(text);
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(docid_tie_order_is_bytewise_strcmp) {
  /* Byte order, not case-folded: "b" > "a1" > "a" > "B"; all tie at 0.5,
  ** so a ranks third. */
  blend_qrels *q = qrels_from("b.qrels", "q 0 a 1\n");
  blend_run *r = run_from("b.run", "q Q0 a 1 0.5 t\nq Q0 B 1 0.5 t\nq Q0 b 1 0.5 t\nq Q0 a1 1 0.5 t\n");
  REQUIRE(q && r);
  CHECK_NEAR(eval1(q, r, "mrr", 0, NULL), 1.0 / 3, 1e-15);
  blend_qrels_free(q);
  blend_run_free(r);
}

/* ---- hand-computed metric values */

/* Qrels for q1: a=3, b=2, c=0, d=1 (R = 3, ideal gains 3,2,1).
** Run for q1, best first: e (unjudged), b, c, a; d is not retrieved. */
static const char *QRELS1 = "q1 0 a 3\nq1 0 b 2\nq1 0 c 0\nq1 0 d 1\n";
static const char *RUN1 =
    "q1 Q0 e 1 4.0 t\nq1 Q0 b 2 3.0 t\nq1 Q0 c 3 2.0 t\nq1 Q0 a 4 1.0 t\n";

TEST(graded_ndcg_with_unjudged_docs) {
  blend_qrels *q = qrels_from("g.qrels", QRELS1);
  blend_run *r = run_from("g.run", RUN1);
  REQUIRE(q && r);
  double l3 = log2(3.0), l5 = log2(5.0);
  /* ndcg@3: DCG = 2/log2(3); IDCG = 3/1 + 2/log2(3) + 1/log2(4). */
  CHECK_NEAR(eval1(q, r, "ndcg@3", 0, NULL), (2 / l3) / (3 + 2 / l3 + 0.5), 1e-12);
  CHECK_NEAR(eval1(q, r, "ndcg@3", 0, NULL), 0.2649930, 1e-7);
  /* ndcg@1: nothing relevant at rank 1. */
  CHECK_NEAR(eval1(q, r, "ndcg@1", 0, NULL), 0.0, 0);
  /* ndcg@2: DCG = 2/log2(3); IDCG = 3 + 2/log2(3). */
  CHECK_NEAR(eval1(q, r, "ndcg@2", 0, NULL), (2 / l3) / (3 + 2 / l3), 1e-12);
  /* Uncut and @10 (past the ranking): a at rank 4 counts, d never. */
  double full = (2 / l3 + 3 / l5) / (3 + 2 / l3 + 0.5);
  CHECK_NEAR(eval1(q, r, "ndcg", 0, NULL), full, 1e-12);
  CHECK_NEAR(eval1(q, r, "ndcg@10", 0, NULL), full, 1e-12);
  CHECK_NEAR(eval1(q, r, "ndcg_cut_10", 0, NULL), full, 1e-12);
  CHECK_NEAR(full, 0.536322, 1e-6); /* (1.261860 + 1.292030) / 4.761860 */
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(recall_precision_map_mrr_by_hand) {
  blend_qrels *q = qrels_from("h.qrels", QRELS1);
  blend_run *r = run_from("h.run", RUN1);
  REQUIRE(q && r);
  /* Relevant (rel > 0) ranks: b at 2, a at 4. R = 3 (a, b, d). */
  CHECK_NEAR(eval1(q, r, "recall@1", 0, NULL), 0.0, 0);
  CHECK_NEAR(eval1(q, r, "recall@3", 0, NULL), 1.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "recall@4", 0, NULL), 2.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "recall@100", 0, NULL), 2.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "recall", 0, NULL), 2.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "p@2", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "p@4", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "p@10", 0, NULL), 0.2, 1e-15); /* missing ranks are nonrelevant */
  CHECK_NEAR(eval1(q, r, "P_10", 0, NULL), 0.2, 1e-15);
  /* map@3: precision 1/2 at rank 2, over R = 3. map: (1/2 + 2/4) / 3. */
  CHECK_NEAR(eval1(q, r, "map@1", 0, NULL), 0.0, 0);
  CHECK_NEAR(eval1(q, r, "map@3", 0, NULL), 0.5 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "map", 0, NULL), 1.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "map_cut_1000", 0, NULL), 1.0 / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "mrr", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "recip_rank", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "mrr@2", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "mrr@1", 0, NULL), 0.0, 0);
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(missing_unjudged_and_extra_queries) {
  /* q1 as above; q2 has only rel=0 judgements (trec_eval still evaluates it:
  ** every measure 0, counted in the mean); q3 is judged but absent from the
  ** run (counts 0, as trec_eval -c); q9 is in the run only (skipped). */
  char qrels[512];
  snprintf(qrels, sizeof qrels, "%sq2 0 x 0\nq2 0 y 0\nq3 0 z 1\n", QRELS1);
  blend_qrels *q = qrels_from("m.qrels", qrels);
  char run[512];
  snprintf(run, sizeof run, "%sq2 Q0 x 1 5 t\nq2 Q0 w 2 4 t\nq9 Q0 z 1 1 t\n", RUN1);
  blend_run *r = run_from("m.run", run);
  REQUIRE(q && r);
  CHECK_EQ_INT(blend_qrels_queries(q), 3);
  CHECK_EQ_INT(blend_qrels_relevant(q, 0), 3);
  CHECK_EQ_INT(blend_qrels_relevant(q, 1), 0);
  CHECK_EQ_INT(blend_qrels_relevant(q, 2), 1);
  blend_eval_result *e = NULL;
  CHECK_NEAR(eval1(q, r, "mrr", 0, &e), 0.5 / 3, 1e-15);
  REQUIRE(e);
  CHECK_EQ_INT(blend_eval_queries(e), 3);
  CHECK_EQ_INT(blend_eval_matched(e), 2);
  CHECK_EQ_INT(blend_eval_skipped(e), 1);
  CHECK_NEAR(query_value(e, "q1"), 0.5, 1e-15);
  CHECK_NEAR(query_value(e, "q2"), 0.0, 0);
  CHECK_NEAR(query_value(e, "q3"), 0.0, 0);
  CHECK(isnan(query_value(e, "q9")));
  CHECK_STR(blend_eval_query_id(e, 0), "q1"); /* qrels order */
  CHECK_STR(blend_eval_query_id(e, 2), "q3");
  blend_eval_free(e);
  double l3 = log2(3.0);
  CHECK_NEAR(eval1(q, r, "ndcg@3", 0, NULL), (2 / l3) / (3 + 2 / l3 + 0.5) / 3, 1e-12);
  CHECK_NEAR(eval1(q, r, "recall@4", 0, NULL), (2.0 / 3) / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "map", 0, NULL), (1.0 / 3) / 3, 1e-15);
  CHECK_NEAR(eval1(q, r, "p@2", 0, NULL), 0.5 / 3, 1e-15);
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(empty_run_scores_zero_everywhere) {
  blend_qrels *q = qrels_from("e.qrels", QRELS1);
  blend_run *r = NULL;
  blend_error err = {0};
  REQUIRE(q && blend_run_new(&r, &err) == BLEND_OK);
  const char *ms[] = {"ndcg@10", "recall@100", "mrr@10", "map@100", "p@10", "ndcg", "map", "mrr"};
  blend_eval_result *e = NULL;
  REQUIRE(blend_evaluate(q, r, ms, 8, NULL, &e, &err) == BLEND_OK);
  CHECK_EQ_INT(blend_eval_queries(e), 1);
  CHECK_EQ_INT(blend_eval_matched(e), 0);
  for (size_t m = 0; m < 8; m++) CHECK_NEAR(blend_eval_mean(e, m), 0.0, 0);
  CHECK_STR(blend_eval_metric_name(e, 0), "ndcg@10");
  CHECK_STR(blend_eval_metric_name(e, 5), "ndcg");
  blend_eval_free(e);
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(ignore_identical_ids_drops_self_matches) {
  /* BEIR option: query "d1" retrieving doc "d1" first. */
  blend_qrels *q = qrels_from("i.qrels", "d1 0 d2 1\n");
  blend_run *r = run_from("i.run", "d1 Q0 d1 1 9 t\nd1 Q0 d2 2 8 t\n");
  REQUIRE(q && r);
  CHECK_NEAR(eval1(q, r, "mrr", 0, NULL), 0.5, 1e-15);
  CHECK_NEAR(eval1(q, r, "mrr", 1, NULL), 1.0, 1e-15);
  CHECK_NEAR(eval1(q, r, "p@1", 1, NULL), 1.0, 1e-15);
  blend_qrels_free(q);
  blend_run_free(r);
}

TEST(api_run_matches_file_run) {
  blend_qrels *q = qrels_from("a.qrels", QRELS1);
  blend_run *r = NULL;
  blend_error err = {0};
  REQUIRE(q && blend_run_new(&r, &err) == BLEND_OK);
  CHECK(blend_run_add(r, "q1", "a", 1.0, &err) == BLEND_OK);
  CHECK(blend_run_add(r, "q1", "e", 4.0, &err) == BLEND_OK);
  CHECK(blend_run_add(r, "q1", "c", 2.0, &err) == BLEND_OK);
  CHECK(blend_run_add(r, "q1", "b", 3.0, &err) == BLEND_OK);
  CHECK_EQ_INT(blend_run_size(r), 4);
  /* duplicate pair, empty ids, NaN: rejected, run unchanged */
  CHECK(blend_run_add(r, "q1", "b", 7.0, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "duplicate document 'b' for query 'q1'") != NULL);
  CHECK(blend_run_add(r, "", "b", 7.0, &err) == BLEND_EINVAL);
  CHECK(blend_run_add(r, "q1", "", 7.0, &err) == BLEND_EINVAL);
  CHECK(blend_run_add(r, "q1", "n", NAN, &err) == BLEND_EINVAL);
  CHECK(blend_run_add(r, "q1", "n", INFINITY, &err) == BLEND_EINVAL);
  CHECK_EQ_INT(blend_run_size(r), 4);
  CHECK_NEAR(eval1(q, r, "map", 0, NULL), 1.0 / 3, 1e-15);
  double l3 = log2(3.0);
  CHECK_NEAR(eval1(q, r, "ndcg@3", 0, NULL), (2 / l3) / (3 + 2 / l3 + 0.5), 1e-12);
  blend_qrels_free(q);
  blend_run_free(r);
}

/* ---- parsing */

TEST(qrels_formats_comments_and_last_one_wins) {
  blend_qrels *q = qrels_from("f1.qrels",
                              "# comment\n\n"
                              "q1 0 d1 1\n"
                              "q1\t0\td2\t2\r\n"
                              "q2 Q0 d1 0\n"
                              "q1 0 d1 0\n"); /* replaces d1's 1 */
  REQUIRE(q);
  int rel = -9;
  CHECK(blend_qrels_get(q, "q1", "d1", &rel) == 1 && rel == 0);
  CHECK(blend_qrels_get(q, "q1", "d2", &rel) == 1 && rel == 2);
  CHECK(blend_qrels_get(q, "q1", "d3", &rel) == 0);
  CHECK(blend_qrels_get(q, "q3", "d1", &rel) == 0);
  CHECK_EQ_INT(blend_qrels_duplicates(q), 1);
  CHECK_EQ_INT(blend_qrels_relevant(q, 0), 1);
  CHECK_STR(blend_qrels_query_id(q, 1), "q2");
  blend_qrels_free(q);

  q = qrels_from("f2.tsv", "query-id\tcorpus-id\tscore\nPLAIN-1\tMED 10\t2\nPLAIN-1\tMED-2\t1\n");
  REQUIRE(q);
  CHECK(blend_qrels_get(q, "PLAIN-1", "MED 10", &rel) == 1 && rel == 2); /* tabs only */
  CHECK_EQ_INT(blend_qrels_relevant(q, 0), 2);
  blend_qrels_free(q);

  q = qrels_from("f4.txt", "\xef\xbb\xbfq7 0 d1 3\n"); /* byte order mark skipped */
  REQUIRE(q);
  CHECK(blend_qrels_get(q, "q7", "d1", &rel) == 1 && rel == 3);
  blend_qrels_free(q);

  q = qrels_from("f3.txt", "q1 d1 1\nq1 d2 0\n"); /* three columns, no header */
  REQUIRE(q);
  CHECK(blend_qrels_get(q, "q1", "d1", &rel) == 1 && rel == 1);
  blend_qrels_free(q);
}

static void expect_qrels_error(const char *text, const char *needle) {
  blend_qrels *q = NULL;
  blend_error err = {0};
  const char *p = write_tmp("bad.qrels", text);
  CHECKF(blend_qrels_load(p, &q, &err) == BLEND_EINVAL, "loaded bad qrels: %s", text);
  CHECKF(q == NULL, "output set on error");
  CHECKF(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
  CHECKF(strstr(err.message, "bad.qrels") != NULL, "message '%s' lacks file name", err.message);
  blend_qrels_free(q);
}

TEST(qrels_errors_name_file_and_line) {
  expect_qrels_error("q1 0 d1 1\nq1 0 d2\n", "bad.qrels:2: expected 4 fields");
  expect_qrels_error("q1 0 d1 1\nq1 0 d2 x\n", "bad.qrels:2: relevance 'x' is not an integer");
  expect_qrels_error("q1 0 d1 1.5\n", ":1: relevance '1.5'");
  expect_qrels_error("q1 0 d1 99999999999\n", ":1: relevance");
  expect_qrels_error("query-id\tcorpus-id\tscore\nq1\td1\n", "bad.qrels:2: expected 3 fields");
  expect_qrels_error("query-id\tcorpus-id\tscore\nq1\t\t1\n", ":2: empty document id");
  expect_qrels_error("a b c d e\n", ":1: not qrels");
  expect_qrels_error("", "no judgements");
  expect_qrels_error("# only a comment\n", "no judgements");
  blend_qrels *q = NULL;
  blend_error err = {0};
  CHECK(blend_qrels_load("/nonexistent/qrels.tsv", &q, &err) == BLEND_ENOTFOUND);
  CHECK(strstr(err.message, "/nonexistent/qrels.tsv") != NULL);
}

static void expect_run_error(const char *text, const char *needle) {
  blend_run *r = NULL;
  blend_error err = {0};
  const char *p = write_tmp("bad.run", text);
  CHECKF(blend_run_load(p, &r, &err) == BLEND_EINVAL, "loaded bad run: %s", text);
  CHECKF(r == NULL, "output set on error");
  CHECKF(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'", err.message, needle);
  blend_run_free(r);
}

TEST(run_parsing_and_errors) {
  blend_run *r = run_from("ok.run",
                          "# comment\n\n"
                          "q1 Q0 d1 1 1.5e1 tag extra fields ignored\n"
                          "q1\tQ0\td2\t2\t-3\ttag\r\n"
                          "q2 Q0 d1 1 0 tag");
  REQUIRE(r);
  CHECK_EQ_INT(blend_run_size(r), 3);
  blend_run_free(r);
  r = run_from("bom.run", "\xef\xbb\xbfq1 Q0 d1 1 1 t\n");
  REQUIRE(r);
  blend_qrels *q = qrels_from("bom.qrels", "q1 0 d1 1\n");
  REQUIRE(q);
  CHECK_NEAR(eval1(q, r, "mrr", 0, NULL), 1.0, 0);
  blend_qrels_free(q);
  blend_run_free(r);
  expect_run_error("q1 Q0 d1 1 2 t\nq1 Q0 d2 2 1\n", "bad.run:2: expected 6 fields");
  expect_run_error("q1 Q0 d1 1 abc t\n", "bad.run:1: score 'abc' is not a number");
  expect_run_error("q1 Q0 d1 1 1.5x t\n", ":1: score '1.5x'");
  expect_run_error("q1 Q0 d1 1 nan t\n", ":1: score of 'd1' is not a finite number");
  expect_run_error("q1 Q0 d1 1 2 t\nq2 Q0 d1 1 2 t\nq1 Q0 d1 3 1 t\n",
                   "bad.run:3: duplicate document 'd1' for query 'q1' (first on line 1)");
  blend_run *r2 = NULL;
  blend_error err = {0};
  CHECK(eval_run_parse("mem", "q1 Q0 d1 1 2 t\n\0\n", 17, &r2, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "mem:2: NUL byte") != NULL);
}

TEST(metric_names) {
  uint32_t k = 99;
  blend_error err = {0};
  CHECK(blend_eval_metric_cutoff("ndcg@10", &k, &err) == BLEND_OK && k == 10);
  CHECK(blend_eval_metric_cutoff("NDCG@1000", &k, &err) == BLEND_OK && k == 1000);
  CHECK(blend_eval_metric_cutoff("ndcg_cut.5", &k, &err) == BLEND_OK && k == 5);
  CHECK(blend_eval_metric_cutoff("recall_100", &k, &err) == BLEND_OK && k == 100);
  CHECK(blend_eval_metric_cutoff("map", &k, &err) == BLEND_OK && k == 0);
  CHECK(blend_eval_metric_cutoff("recip_rank", &k, &err) == BLEND_OK && k == 0);
  CHECK(blend_eval_metric_cutoff("bpref", &k, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "unknown metric 'bpref'") != NULL);
  CHECK(blend_eval_metric_cutoff("p", &k, &err) == BLEND_EINVAL);
  CHECK(blend_eval_metric_cutoff("ndcg@0", &k, &err) == BLEND_EINVAL);
  CHECK(blend_eval_metric_cutoff("ndcg@", &k, &err) == BLEND_EINVAL);
  CHECK(blend_eval_metric_cutoff("ndcg@1x", &k, &err) == BLEND_EINVAL);
  CHECK(blend_eval_metric_cutoff("ndcg@999999999999", &k, &err) == BLEND_EINVAL);
  eval_metric m;
  CHECK(eval_metric_parse("P.20", &m, &err) == BLEND_OK);
  CHECK_STR(m.name, "p@20");
  CHECK(eval_metric_parse("map_cut_100", &m, &err) == BLEND_OK);
  CHECK_STR(m.name, "map@100");
}

/* ---- the naive twin: trec_eval's definitions written the slow, obvious way */

typedef struct ref_doc {
  char id[16];
  double score;
} ref_doc;
typedef struct ref_judg {
  char q[8], d[16];
  int rel;
} ref_judg;

static int ref_rel(const ref_judg *j, int nj, const char *q, const char *d, int *found) {
  int rel = 0;
  *found = 0;
  for (int i = 0; i < nj; i++) /* last one wins */
    if (!strcmp(j[i].q, q) && !strcmp(j[i].d, d)) rel = j[i].rel, *found = 1;
  return rel;
}

/* Value of one metric for one query, straight from the definitions. */
static double ref_metric(const char *kind, int cut, const char *q, ref_doc *docs, int n,
                         const ref_judg *j, int nj) {
  /* rank: selection sort by (score desc, id desc) */
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++) {
      int swap = docs[b].score > docs[a].score ||
                 (docs[b].score == docs[a].score && strcmp(docs[b].id, docs[a].id) > 0);
      if (swap) {
        ref_doc t = docs[a];
        docs[a] = docs[b];
        docs[b] = t;
      }
    }
  int lim = cut && cut < n ? cut : n, found;
  /* all judged rels of q, unique by doc (last wins) */
  int gains[256], ng = 0, R = 0;
  for (int i = 0; i < nj; i++) {
    if (strcmp(j[i].q, q)) continue;
    int later = 0;
    for (int k = i + 1; k < nj; k++)
      if (!strcmp(j[k].q, q) && !strcmp(j[k].d, j[i].d)) later = 1;
    if (later) continue;
    if (j[i].rel > 0) gains[ng++] = j[i].rel, R++;
  }
  if (!strcmp(kind, "ndcg")) {
    double dcg = 0, idcg = 0;
    for (int r = 1; r <= lim; r++) {
      int g = ref_rel(j, nj, q, docs[r - 1].id, &found);
      if (g > 0) dcg += g / log2(r + 1.0);
    }
    for (int a = 0; a < ng; a++) /* sort gains descending */
      for (int b = a + 1; b < ng; b++)
        if (gains[b] > gains[a]) {
          int t = gains[a];
          gains[a] = gains[b];
          gains[b] = t;
        }
    for (int r = 1; r <= ng && (!cut || r <= cut); r++) idcg += gains[r - 1] / log2(r + 1.0);
    return idcg > 0 ? dcg / idcg : 0;
  }
  int relret = 0;
  double ap = 0;
  for (int r = 1; r <= lim; r++)
    if (ref_rel(j, nj, q, docs[r - 1].id, &found) > 0) {
      relret++;
      ap += (double)relret / r;
      if (!strcmp(kind, "mrr")) return 1.0 / r;
    }
  if (!strcmp(kind, "mrr")) return 0;
  if (!strcmp(kind, "recall")) return R ? (double)relret / R : 0;
  if (!strcmp(kind, "p")) return (double)relret / cut;
  return R ? ap / R : 0; /* map */
}

static uint64_t rng_state = 0x1234567;
static uint32_t rnd(uint32_t n) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng_state >> 33) % n;
}

TEST(random_runs_match_naive_reference) {
  const char *metrics[] = {"ndcg@1", "ndcg@3", "ndcg@10", "ndcg", "recall@2", "recall@10",
                           "recall", "mrr@1",  "mrr@3",   "mrr",  "map@2",    "map@10",
                           "map",    "p@1",    "p@5",     "p@20"};
  const size_t nm = sizeof metrics / sizeof *metrics;
  int checked = 0;
  for (int trial = 0; trial < 60; trial++) {
    enum { NQ = 6 };
    ref_judg judg[200];
    int nj = 0;
    char qtext[8192] = "", rtext[16384] = "";
    /* qrels: queries q0..q4 (q5 appears only in the run), graded 0..3,
    ** some repeated pairs (last one wins) */
    for (int i = 0; i < 40 + (int)rnd(40); i++) {
      ref_judg *jj = &judg[nj++];
      snprintf(jj->q, sizeof jj->q, "q%u", rnd(NQ - 1));
      snprintf(jj->d, sizeof jj->d, "d%u", rnd(25));
      jj->rel = (int)rnd(4) - (rnd(10) == 0); /* occasionally -1 */
      char line[64];
      snprintf(line, sizeof line, "%s 0 %s %d\n", jj->q, jj->d, jj->rel);
      strcat(qtext, line);
    }
    ref_doc docs[NQ][25];
    int nd[NQ] = {0};
    for (int q = 0; q < NQ; q++) {
      if (rnd(6) == 0) continue; /* some queries retrieve nothing */
      for (int d = 0; d < 25; d++) {
        if (rnd(3) == 0) continue;
        ref_doc *x = &docs[q][nd[q]++];
        snprintf(x->id, sizeof x->id, "d%d", d);
        x->score = (double)rnd(5) * 0.5; /* many ties */
        char line[80];
        snprintf(line, sizeof line, "q%d Q0 %s %u %g run\n", q, x->id, rnd(100), x->score);
        strcat(rtext, line);
      }
    }
    blend_qrels *qr = qrels_from("rand.qrels", qtext);
    blend_run *run = run_from("rand.run", rtext);
    REQUIRE(qr && run);
    blend_eval_result *e = NULL;
    blend_error err = {0};
    REQUIRE(blend_evaluate(qr, run, metrics, nm, NULL, &e, &err) == BLEND_OK);
    for (size_t m = 0; m < nm; m++) {
      char kind[16];
      int cut = 0;
      sscanf(metrics[m], "%15[a-z]@%d", kind, &cut);
      double sum = 0;
      for (uint32_t i = 0; i < blend_eval_queries(e); i++) {
        const char *qid = blend_eval_query_id(e, i);
        int q = atoi(qid + 1);
        double want = ref_metric(kind, cut, qid, docs[q], nd[q], judg, nj);
        double got = blend_eval_value(e, i, m);
        CHECKF(fabs(want - got) <= 1e-12, "trial %d %s %s: %.15g vs reference %.15g", trial,
               metrics[m], qid, got, want);
        sum += want;
        checked++;
      }
      CHECK_NEAR(blend_eval_mean(e, m), sum / blend_eval_queries(e), 1e-12);
    }
    blend_eval_free(e);
    blend_qrels_free(qr);
    blend_run_free(run);
    if (test_failed_now()) return;
  }
  CHECK(checked > 1000);
}

TEST(written_run_reloads_to_identical_scores) {
  /* float-derived scores with ties and tiny gaps must survive the text
  ** round trip bit for bit, so the file ranks exactly as memory does. */
  blend_run *r = NULL;
  blend_error err = {0};
  REQUIRE(blend_run_new(&r, &err) == BLEND_OK);
  char qrels[4096] = "";
  for (int q = 0; q < 5; q++)
    for (int d = 0; d < 40; d++) {
      char qid[16], did[16];
      snprintf(qid, sizeof qid, "Q%d", q);
      snprintf(did, sizeof did, "D%d", d);
      float s = (float)rnd(1000) / 7.0f + (float)rnd(3) * 1e-6f;
      REQUIRE(blend_run_add(r, qid, did, (double)s, &err) == BLEND_OK);
      if (d % 5 == 0) {
        char line[64];
        snprintf(line, sizeof line, "%s 0 %s %d\n", qid, did, 1 + d % 3);
        strcat(qrels, line);
      }
    }
  char path[512];
  snprintf(path, sizeof path, "%s/rt.run", test_tmpdir());
  REQUIRE(blend_run_write(r, path, NULL, &err) == BLEND_OK);
  blend_run *back = NULL;
  REQUIRE(blend_run_load(path, &back, &err) == BLEND_OK);
  CHECK_EQ_INT(blend_run_size(back), 200);
  blend_qrels *q = qrels_from("rt.qrels", qrels);
  REQUIRE(q);
  const char *ms[] = {"ndcg@10", "map", "mrr", "recall@7", "p@3"};
  blend_eval_result *a = NULL, *b = NULL;
  REQUIRE(blend_evaluate(q, r, ms, 5, NULL, &a, &err) == BLEND_OK);
  REQUIRE(blend_evaluate(q, back, ms, 5, NULL, &b, &err) == BLEND_OK);
  for (uint32_t i = 0; i < blend_eval_queries(a); i++)
    for (size_t m = 0; m < 5; m++) CHECK(blend_eval_value(a, i, m) == blend_eval_value(b, i, m));
  /* and writing the reloaded run gives the same bytes */
  char path2[512];
  snprintf(path2, sizeof path2, "%s/rt2.run", test_tmpdir());
  REQUIRE(blend_run_write(back, path2, NULL, &err) == BLEND_OK);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", path, path2);
  CHECK(system(cmd) == 0);
  /* ids with whitespace cannot be written */
  CHECK(blend_run_add(r, "Q 9", "D1", 1, &err) == BLEND_OK);
  CHECK(blend_run_write(r, path2, NULL, &err) == BLEND_EINVAL);
  CHECK(strstr(err.message, "'Q 9'") != NULL);
  blend_eval_free(a);
  blend_eval_free(b);
  blend_qrels_free(q);
  blend_run_free(r);
  blend_run_free(back);
}

/* ---- real data */

TEST(nfcorpus_qrels_perfect_run) {
  const char *shared = test_shared_dir();
  if (!shared) SKIP("../shared not found (set BLEND_SHARED)");
  char path[600];
  snprintf(path, sizeof path, "%s/data/beir/nfcorpus/qrels/test.tsv", shared);
  if (access(path, R_OK)) SKIP("nfcorpus qrels missing");
  blend_qrels *q = NULL;
  blend_error err = {0};
  REQUIRE(blend_qrels_load(path, &q, &err) == BLEND_OK);
  CHECK_EQ_INT(blend_qrels_queries(q), 323);
  CHECK_EQ_INT(blend_qrels_duplicates(q), 0);
  /* A run that scores each judged doc by its relevance is ideal: ndcg 1 at
  ** every cut, recall 1, map 1; mrr 1 (the first doc is relevant). */
  blend_run *r = NULL;
  REQUIRE(blend_run_new(&r, &err) == BLEND_OK);
  FILE *f = fopen(path, "r");
  REQUIRE(f);
  char line[512], qid[128], did[128];
  int rel, lines = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%127s %127s %d", qid, did, &rel) == 3) {
      CHECK(blend_run_add(r, qid, did, rel, &err) == BLEND_OK);
      lines++;
    }
  fclose(f);
  CHECK_EQ_INT(lines, 12334);
  const char *ms[] = {"ndcg@10", "ndcg", "recall@1000", "map", "mrr@10", "p@1"};
  blend_eval_result *e = NULL;
  REQUIRE(blend_evaluate(q, r, ms, 6, NULL, &e, &err) == BLEND_OK);
  for (size_t m = 0; m < 6; m++) CHECK_NEAR(blend_eval_mean(e, m), 1.0, 1e-12);
  CHECK_EQ_INT(blend_eval_matched(e), 323);
  blend_eval_free(e);
  blend_qrels_free(q);
  blend_run_free(r);
}

/* ---- the CLI on an external run */

static int run_cli(const char *args, char *out, size_t cap) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s eval %s 2>&1", test_blend_bin(), args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_scores_external_run) {
  if (access(test_blend_bin(), X_OK)) SKIP("blend binary not built (set BLEND_BIN)");
  const char *qp = write_tmp("cli.qrels", QRELS1);
  const char *rp = write_tmp("cli.run", RUN1);
  char args[1400], out[8192];
  snprintf(args, sizeof args, "--run %s --qrels %s --metrics ndcg@3,map,mrr@1,p@10 --json", rp,
           qp);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
  CHECK(strstr(out, "\"queries\": 1") != NULL);
  CHECK(strstr(out, "\"map\": 0.333333") != NULL);
  CHECK(strstr(out, "\"mrr@1\": 0,") != NULL || strstr(out, "\"mrr@1\": 0.0") != NULL);
  CHECK(strstr(out, "\"p@10\": 0.2") != NULL);
  CHECKF(strstr(out, "\"ndcg@3\": 0.264993") != NULL, "output: %s", out);
  /* the run on stdin */
  snprintf(args, sizeof args, "--run - --qrels %s --metrics map --json < %s", qp, rp);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
  CHECKF(strstr(out, "\"map\": 0.333333") != NULL, "output: %s", out);
  /* table with per-query rows */
  snprintf(args, sizeof args, "--run %s --qrels %s --metrics map --per-query", rp, qp);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
  CHECKF(strstr(out, "q1\t0.3333") != NULL, "output: %s", out);
  CHECKF(strstr(out, "map") != NULL && strstr(out, "0.3333") != NULL, "output: %s", out);
  /* errors: bad metric is a usage error (2), a bad file a runtime error (1) */
  snprintf(args, sizeof args, "--run %s --qrels %s --metrics bogus@3", rp, qp);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 2);
  CHECK(strstr(out, "unknown metric 'bogus@3'") != NULL);
  const char *bad = write_tmp("cli_bad.run", "q1 Q0 d1 1 2 t\nq1 Q0 d1\n");
  snprintf(args, sizeof args, "--run %s --qrels %s", bad, qp);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 1);
  CHECKF(strstr(out, "cli_bad.run:2:") != NULL, "output: %s", out);
  CHECK_EQ_INT(run_cli("--qrels x", out, sizeof out), 2);
  CHECK_EQ_INT(run_cli("--help", out, sizeof out), 0);
  CHECK(strstr(out, "--qrels") != NULL);
}

TEST(cli_search_mode_matches_scoring_its_own_run) {
  if (access(test_blend_bin(), X_OK)) SKIP("blend binary not built (set BLEND_BIN)");
  const char *corpus = write_tmp("corpus.jsonl",
                                 "{\"_id\": \"d1\", \"title\": \"apple\", \"text\": \"apple pie recipe\"}\n"
                                 "{\"_id\": \"d2\", \"title\": \"banana\", \"text\": \"banana bread\"}\n"
                                 "{\"_id\": \"d3\", \"title\": \"salad\", \"text\": \"fruit salad with "
                                 "apple and banana and more fruit\"}\n");
  const char *queries = write_tmp("queries.jsonl",
                                  "{\"_id\": \"q1\", \"text\": \"apple pie\"}\n"
                                  "{\"_id\": \"q2\", \"text\": \"banana\"}\n"
                                  "{\"_id\": \"q3\", \"text\": \"\\\"zzz\\\" -yyy +xxx title:www\"}\n"
                                  "{\"_id\": \"q4\", \"text\": \"fruit\"}\n");
  const char *qrels = write_tmp("search.qrels", "q1 0 d1 1\nq2 0 d2 2\nq2 0 d3 1\nq3 0 d1 1\n");
  char cmd[2048], out[8192], out2[8192];
  snprintf(cmd, sizeof cmd, "%s index -q -i %s -x %s/ix >/dev/null 2>&1", test_blend_bin(), corpus,
           test_tmpdir());
  REQUIRE(system(cmd) == 0);
  char run[600];
  snprintf(run, sizeof run, "%s/search.run", test_tmpdir());
  char args[1800];
  snprintf(args, sizeof args,
           "--index %s/ix --queries %s --qrels %s --metrics mrr@10,recall@10,p@1 --run %s --json "
           "--per-query",
           test_tmpdir(), queries, qrels, run);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 0);
  /* q1: d1 has both terms and ranks first; q3: syntax neutralised, no term
  ** matches, scores 0 but counts; q4 has no judgements: not searched. */
  CHECKF(strstr(out, "{\"query\": \"q1\", \"mrr@10\": 1, \"recall@10\": 1, \"p@1\": 1}") != NULL,
         "output: %s", out);
  CHECKF(strstr(out, "{\"query\": \"q3\", \"mrr@10\": 0, \"recall@10\": 0, \"p@1\": 0}") != NULL,
         "output: %s", out);
  CHECKF(strstr(out, "{\"queries\": 3, \"mrr@10\": ") != NULL, "output: %s", out);
  CHECK(strstr(out, "q4") == NULL);
  /* Scoring the written run gives the same numbers. */
  snprintf(args, sizeof args, "--run %s --qrels %s --metrics mrr@10,recall@10,p@1 --json", run,
           qrels);
  CHECK_EQ_INT(run_cli(args, out2, sizeof out2), 0);
  const char *a = strstr(out, "{\"queries\""), *b = strstr(out2, "{\"queries\"");
  size_t la = a ? strcspn(a, "\n") : 0, lb = b ? strcspn(b, "\n") : 1;
  CHECKF(a && b && la == lb && !memcmp(a, b, la), "search: %s\nrun: %s", a ? a : "-",
         b ? b : "-");
  /* A missing index is a runtime error; search options without --index a
  ** usage error. */
  snprintf(args, sizeof args, "--index %s/none --queries %s --qrels %s", test_tmpdir(), queries,
           qrels);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 1);
  snprintf(args, sizeof args, "--run %s --qrels %s -k 10", run, qrels);
  CHECK_EQ_INT(run_cli(args, out, sizeof out), 2);
}
