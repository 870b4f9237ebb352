/*
** fuzz_trec.c — libFuzzer target for the evaluation parsers: the input is
** parsed as qrels and as a TREC run; when it holds a "%%\n" separator the
** part before is parsed as qrels and the part after as a run, and a
** successful pair is evaluated with every metric kind (exercising ranking,
** lookups and the metric arithmetic on hostile ids and scores).
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "eval/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void evaluate(const blend_qrels *q, const blend_run *r, int ignore) {
  static const char *const ms[] = {"ndcg@1", "ndcg@10", "ndcg", "recall@5", "recall",
                                   "mrr@3",  "mrr",     "map@2", "map",     "p@4"};
  blend_eval_options o = {ignore};
  blend_eval_result *e = NULL;
  blend_error err;
  if (blend_evaluate(q, r, ms, sizeof ms / sizeof *ms, &o, &e, &err) == BLEND_OK) {
    for (size_t m = 0; m < blend_eval_metrics(e); m++) {
      double v = blend_eval_mean(e, m);
      if (!(v >= 0 && v <= 1.0000001)) abort(); /* every metric is a fraction */
      for (uint32_t i = 0; i < blend_eval_queries(e); i++) {
        double x = blend_eval_value(e, i, m);
        if (!(x >= 0 && x <= 1.0000001)) abort();
      }
    }
    blend_eval_free(e);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  blend_error err;
  blend_qrels *q = NULL;
  blend_run *r = NULL;
  if (eval_qrels_parse("fuzz", s, size, &q, &err) == BLEND_OK) blend_qrels_free(q);
  if (eval_run_parse("fuzz", s, size, &r, &err) == BLEND_OK) blend_run_free(r);
  const char *sep = memmem(s, size, "%%\n", 3);
  if (!sep) return 0;
  size_t qlen = (size_t)(sep - s);
  q = NULL;
  r = NULL;
  if (eval_qrels_parse("fuzz.qrels", s, qlen, &q, &err) == BLEND_OK &&
      eval_run_parse("fuzz.run", sep + 3, size - qlen - 3, &r, &err) == BLEND_OK) {
    evaluate(q, r, 0);
    evaluate(q, r, 1);
  }
  blend_qrels_free(q);
  blend_run_free(r);
  return 0;
}
