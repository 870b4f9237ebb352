/*
** test_e2e_scifact.c — end to end on the real SciFact corpus (release
** build): the CLI indexes it and `blend eval` must reach Anserini's BM25
** effectiveness; then thousands of random queries check that MaxScore and
** block-max WAND return exactly the exhaustive top k. Skipped visibly when
** ../shared is absent.
*/
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "blend.h"
#include "test.h"

static char scifact[600], ixdir[600];

static int have_scifact(void) {
  const char *sh = test_shared_dir();
  if (!sh) return 0;
  snprintf(scifact, sizeof scifact, "%s/data/beir/scifact", sh);
  char p[700];
  snprintf(p, sizeof p, "%s/corpus.jsonl", scifact);
  FILE *f = fopen(p, "r");
  if (!f) return 0;
  fclose(f);
  snprintf(ixdir, sizeof ixdir, "%s/scifact-index", test_tmpdir());
  return 1;
}

static double json_number(const char *json, const char *key) {
  cJSON *o = cJSON_Parse(json);
  cJSON *v = cJSON_GetObjectItem(o, key);
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
  cJSON_Delete(o);
  return d;
}

static int run_capture(const char *cmd, char *out, size_t cap) {
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  size_t n = fread(out, 1, cap - 1, f);
  out[n] = 0;
  return pclose(f);
}

TEST(scifact_bm25_effectiveness) {
  if (!have_scifact()) SKIP("../shared/data/beir/scifact not found");
  char cmd[4096], out[4096];
  snprintf(cmd, sizeof cmd, "%s index -q --input %s/corpus.jsonl --index %s", test_blend_bin(), scifact, ixdir);
  REQUIRE(system(cmd) == 0);
  snprintf(cmd, sizeof cmd,
           "%s eval --index %s --queries %s/queries.jsonl --qrels %s/qrels/test.tsv "
           "--metrics ndcg@10,recall@100 --json 2>/dev/null",
           test_blend_bin(), ixdir, scifact, scifact);
  REQUIRE(run_capture(cmd, out, sizeof out) == 0);
  double ndcg = json_number(out, "ndcg@10"), recall = json_number(out, "recall@100");
  printf("# scifact flat: ndcg@10 %.4f recall@100 %.4f (Anserini 0.6789 / 0.9253)\n", ndcg, recall);
  CHECKF(ndcg >= 0.669, "nDCG@10 %.4f < 0.669", ndcg);
  CHECKF(recall >= 0.915, "recall@100 %.4f < 0.915", recall);
  CHECK_EQ_INT((int)json_number(out, "queries"), 300);
  /* multifield */
  snprintf(cmd, sizeof cmd,
           "%s eval --index %s --queries %s/queries.jsonl --qrels %s/qrels/test.tsv "
           "--metrics ndcg@10 --fields multi --json 2>/dev/null",
           test_blend_bin(), ixdir, scifact, scifact);
  REQUIRE(run_capture(cmd, out, sizeof out) == 0);
  ndcg = json_number(out, "ndcg@10");
  printf("# scifact multifield: ndcg@10 %.4f (Anserini 0.6647)\n", ndcg);
  CHECKF(ndcg >= 0.655, "multifield nDCG@10 %.4f < 0.655", ndcg);
}

/* Random queries from the real query vocabulary. */
TEST(scifact_pruning_equals_exhaustive) {
  if (!have_scifact()) SKIP("../shared/data/beir/scifact not found");
  char p[700];
  snprintf(p, sizeof p, "%s/corpus.jsonl", scifact);
  char dir[700];
  snprintf(dir, sizeof dir, "%s/scifact-api", test_tmpdir());
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  blend_error err = {0};
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  blend_ingest_stats st;
  REQUIRE(blend_ingest(w, p, NULL, &st, &err) == 0);
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  blend_searcher *s;
  REQUIRE(blend_searcher_new(ix, &s, &err) == 0);

  /* words of the real queries */
  snprintf(p, sizeof p, "%s/queries.jsonl", scifact);
  char *data;
  FILE *f = fopen(p, "r");
  REQUIRE(f);
  static char words[20000][32];
  int nw = 0;
  char line[8192];
  static char queries[1200][512];
  int nq = 0;
  while (fgets(line, sizeof line, f)) {
    cJSON *o = cJSON_Parse(line);
    cJSON *t = cJSON_GetObjectItem(o, "text");
    if (cJSON_IsString(t)) {
      if (nq < 1200) snprintf(queries[nq++], 512, "%s", t->valuestring);
      char *copy = strdup(t->valuestring);
      for (char *tok = strtok(copy, " ,.;()"); tok && nw < 20000; tok = strtok(NULL, " ,.;()"))
        if (strlen(tok) < 32) strcpy(words[nw++], tok);
      free(copy);
    }
    cJSON_Delete(o);
  }
  fclose(f);
  (void)data;
  REQUIRE(nw > 1000);
  uint64_t rng = 1234567;
  int mismatches = 0, checked = 0;
  const uint32_t ks[] = {10, 100, 1000};
  const int algos[] = {BLEND_TOPK_MAXSCORE, BLEND_TOPK_BMW};
  uint32_t *rd = malloc(1000 * sizeof *rd);
  float *rs = malloc(1000 * sizeof *rs);
  blend_search_options o;
  blend_search_options_default(&o);
  for (int q = 0; q < 3000; q++) {
    char query[1024];
    if (q < nq) snprintf(query, sizeof query, "%s", queries[q]);
    else {
      size_t ql = 0;
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      int nt = 1 + (int)((rng >> 33) % 12);
      for (int i = 0; i < nt; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        ql += (size_t)snprintf(query + ql, sizeof query - ql, "%s ", words[(rng >> 33) % (uint64_t)nw]);
      }
    }
    o.k = ks[q % 3];
    o.algorithm = BLEND_TOPK_EXHAUSTIVE;
    blend_results r;
    REQUIRE(blend_search(s, query, &o, &r, &err) == 0);
    uint32_t n = r.count;
    for (uint32_t i = 0; i < n; i++) {
      rd[i] = r.hits[i].doc;
      rs[i] = r.hits[i].score;
    }
    for (int a = 0; a < 2; a++) {
      o.algorithm = algos[a];
      REQUIRE(blend_search(s, query, &o, &r, &err) == 0);
      int same = r.count == n;
      for (uint32_t i = 0; same && i < n; i++) same = r.hits[i].doc == rd[i] && r.hits[i].score == rs[i];
      checked++;
      if (!same && mismatches++ < 5) printf("mismatch: algorithm %d k %u query '%s'\n", algos[a], o.k, query);
    }
  }
  printf("# %d (query, k, algorithm) runs compared with exhaustive search\n", checked);
  CHECK_EQ_INT(mismatches, 0);
  free(rd);
  free(rs);
  blend_searcher_free(s);
  blend_index_close(ix);
}
