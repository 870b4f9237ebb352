/*
** fuzz_fuse.c — libFuzzer target for the TREC run → fusion path: the first
** two bytes choose the normaliser, fusion, depth and weights; the rest is
** split at "%%\n" into two TREC runs, which are fused (blend_fuse_runs) and
** then tuned over a qrels built from the first run. Invariants: no crash,
** fused scores finite, each fused query lists each document once, tuned
** metric values in [0, 1].
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blend.h"
#include "eval/eval.h"
#include "fusion/fusion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  uint8_t a = data[0], b = data[1];
  const char *s = (const char *)data + 2;
  size = size - 2;
  const char *sep = NULL;
  for (size_t i = 0; i + 3 <= size; i++)
    if (!memcmp(s + i, "%%\n", 3)) {
      sep = s + i;
      break;
    }
  if (!sep) return 0;
  blend_run *r1 = NULL, *r2 = NULL, *out = NULL;
  blend_error err;
  if (eval_run_parse("a", s, (size_t)(sep - s), &r1, &err) ||
      eval_run_parse("b", sep + 3, size - (size_t)(sep + 3 - s), &r2, &err))
    goto done;
  blend_fusion_options o;
  blend_fusion_options_default(&o);
  o.norm = a % 8;
  o.fusion = (a >> 3) % 5;
  o.rrf_k = 1 + (b & 15);
  if (b & 16) {
    o.nweights = 2;
    o.weights[0] = (b >> 5) & 3;
    o.weights[1] = 1;
  } else if (b & 32) {
    o.alpha = ((b >> 6) & 3) / 3.0;
  }
  const blend_run *runs[2] = {r1, r2};
  uint32_t depth = (a >> 6) * 3;
  if (blend_fuse_runs(runs, 2, &o, depth, 0, &out, &err) == BLEND_OK) {
    for (uint32_t i = 0; i < out->n; i++)
      if (!isfinite(out->score[i])) abort();
  }
  /* tuning over a qrels made of run 1's documents (rel 1) */
  fuse_table t;
  if (fuse_table_build(runs, 2, depth, &t, &err) == BLEND_OK) {
    bbuf qb = {0};
    const char *strings = (const char *)r1->ids.strings.data;
    for (uint32_t i = 0; i < r1->n && i < 64; i++)
      bbuf_printf(&qb, "%s 0 %s 1\n", strings + r1->ids.qid[r1->keys[i].q], strings + r1->keys[i].doc);
    blend_qrels *qr = NULL;
    if (qb.len && eval_qrels_parse("q", (const char *)qb.data, qb.len, &qr, &err) == BLEND_OK) {
      tune_set ts;
      if (tune_set_from_table(qr, &t, &ts, &err) == BLEND_OK) {
        tune_config c[2];
        c[0].fo = o;
        blend_fusion_options_default(&c[1].fo);
        c[1].fo.fusion = BLEND_FUSION_RRF;
        if (tune_evaluate(&ts, "ndcg@10", c, 2, NULL, &err) == BLEND_OK)
          for (int i = 0; i < 2; i++)
            if (!(c[i].mean >= 0 && c[i].mean <= 1.0000001)) abort();
      }
      tune_set_free(&ts);
    }
    blend_qrels_free(qr);
    bbuf_free(&qb);
    fuse_table_free(&t);
  }
done:
  blend_run_free(r1);
  blend_run_free(r2);
  blend_run_free(out);
  return 0;
}
