/*
** test_e2e_dense.c — the dense leg end to end through the CLI on real
** SciFact texts with the random-weight fixture model: `blend index --model`
** then `blend search --mode dense --exact` must return exactly the top 10 of
** a brute-force cosine over `blend embed` outputs (title + " " + text, as
** the index encodes them); HNSW agrees on most of it; `blend eval --mode
** dense` runs; --vectors (JSONL and raw .f32 + ids) builds the same index;
** and the model identity is enforced at query time.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "test.h"

static char out[1 << 24];

/* a shell command's exit status; its stdout+stderr in out */
#define sh(...) test_sh(out, sizeof out, __VA_ARGS__)

#define NDOCS 300
static char ids[NDOCS][64];
static float *emb; /* [NDOCS][dim] */
static int dim;

static const char *T(const char *name) {
  static char p[8][600];
  static int i;
  i = (i + 1) % 8;
  snprintf(p[i], sizeof p[i], "%s/%s", test_tmpdir(), name);
  return p[i];
}

/* The first NDOCS SciFact documents into corpus.jsonl, and "title text" of
** each into texts.jsonl for blend embed. */
static int prepare(const char *corpus, const char *texts) {
  char path[600];
  snprintf(path, sizeof path, "%s/data/beir/scifact/corpus.jsonl", test_shared_dir());
  FILE *in = fopen(path, "r"), *c = fopen(corpus, "w"), *t = fopen(texts, "w");
  if (!in || !c || !t) return -1;
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (n < NDOCS && getline(&line, &cap, in) > 0) {
    fputs(line, c);
    cJSON *j = cJSON_Parse(line);
    cJSON *id = cJSON_GetObjectItem(j, "_id"), *ti = cJSON_GetObjectItem(j, "title"),
          *tx = cJSON_GetObjectItem(j, "text");
    snprintf(ids[n], sizeof ids[n], "%s", id->valuestring);
    size_t tl = strlen(ti->valuestring), xl = strlen(tx->valuestring);
    char *joined = malloc(tl + xl + 2);
    if (tl && xl) sprintf(joined, "%s %s", ti->valuestring, tx->valuestring);
    else sprintf(joined, "%s%s", ti->valuestring, tx->valuestring);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "_id", ids[n]);
    cJSON_AddStringToObject(o, "text", joined);
    char *s = cJSON_PrintUnformatted(o);
    fprintf(t, "%s\n", s);
    free(s);
    free(joined);
    cJSON_Delete(o);
    cJSON_Delete(j);
    n++;
  }
  free(line);
  fclose(in);
  fclose(c);
  fclose(t);
  return n == NDOCS ? 0 : -1;
}

static int read_embeddings(const char *text, float *dst, int rows) {
  int r = 0;
  for (const char *p = text; *p && r < rows;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    cJSON *j = cJSON_ParseWithLength(p, len);
    cJSON *e = cJSON_GetObjectItem(j, "embedding");
    if (cJSON_IsArray(e)) {
      dim = cJSON_GetArraySize(e);
      int k = 0;
      cJSON *it;
      cJSON_ArrayForEach(it, e) dst[(size_t)r * dim + k++] = (float)it->valuedouble;
      r++;
    }
    cJSON_Delete(j);
    p = nl ? nl + 1 : p + len;
  }
  return r;
}

static double cosine(const float *a, const float *b) {
  double ab = 0, aa = 0, bb = 0;
  for (int d = 0; d < dim; d++) ab += (double)a[d] * b[d], aa += (double)a[d] * a[d], bb += (double)b[d] * b[d];
  return ab / sqrt(aa * bb);
}

TEST(dense_search_equals_brute_force_over_blend_embed) {
  if (!test_shared_dir()) SKIP("no ../shared");
  const char *bin = test_blend_bin();
  char model[600];
  snprintf(model, sizeof model, "%s/fixtures/bert-tiny-random", test_shared_dir());
  const char *corpus = T("sf300.jsonl"), *texts = T("sf300-texts.jsonl"), *ix = T("ix-dense");
  REQUIRE(prepare(corpus, texts) == 0);
  REQUIRE(sh("%s index -q --input %s --index %s --model %s", bin, corpus, ix, model) == 0);
  REQUIRE(sh("%s embed --model %s < %s", bin, model, texts) == 0);
  emb = malloc((size_t)NDOCS * 1024 * sizeof *emb);
  REQUIRE(read_embeddings(out, emb, NDOCS) == NDOCS);
  const char *queries[] = {"cancer cells", "vitamin D deficiency and bone density", "protein folding",
                           "randomized controlled trial of statins"};
  int exact_match = 0, hnsw_overlap = 0, total = 0;
  for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
    REQUIRE(sh("echo '%s' | %s embed --model %s", queries[qi], bin, model) == 0);
    float q[1024];
    REQUIRE(read_embeddings(out, q, 1) == 1);
    int best[10];
    double bs[10];
    for (int k = 0; k < 10; k++) best[k] = -1, bs[k] = -2;
    for (int i = 0; i < NDOCS; i++) {
      double s = cosine(q, emb + (size_t)i * dim);
      int j = 9;
      if (s <= bs[9]) continue;
      while (j > 0 && bs[j - 1] < s) {
        bs[j] = bs[j - 1];
        best[j] = best[j - 1];
        j--;
      }
      bs[j] = s;
      best[j] = i;
    }
    for (int mode = 0; mode < 2; mode++) {
      REQUIRE(sh("%s search --index %s --mode dense %s --json -k 10 --snippet-bytes 0 '%s'", bin, ix,
                 mode ? "" : "--exact", queries[qi]) == 0);
      int rank = 0;
      for (const char *p = out; *p && rank < 10;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        cJSON *j = cJSON_ParseWithLength(p, len);
        cJSON *id = cJSON_GetObjectItem(j, "id"), *sc = cJSON_GetObjectItem(j, "score");
        if (cJSON_IsString(id)) {
          if (mode == 0) {
            CHECKF(!strcmp(id->valuestring, ids[best[rank]]), "query %zu rank %d: %s, brute force %s", qi,
                   rank + 1, id->valuestring, ids[best[rank]]);
            CHECK_NEAR(sc->valuedouble, bs[rank], 2e-5);
            exact_match += !strcmp(id->valuestring, ids[best[rank]]);
          } else {
            for (int k = 0; k < 10; k++) hnsw_overlap += !strcmp(id->valuestring, ids[best[k]]);
          }
          rank++;
        }
        cJSON_Delete(j);
        p = nl ? nl + 1 : p + len;
      }
      CHECK_EQ_INT(rank, 10);
    }
    total += 10;
  }
  printf("  exact dense = brute force on %d/%d ranks; HNSW recall@10 %.3f\n", exact_match, total,
         (double)hnsw_overlap / total);
  CHECK(hnsw_overlap >= total * 9 / 10);
  /* eval runs over every judged query */
  char qp[600], qr[600];
  snprintf(qp, sizeof qp, "%s/data/beir/scifact/queries.jsonl", test_shared_dir());
  snprintf(qr, sizeof qr, "%s/data/beir/scifact/qrels/test.tsv", test_shared_dir());
  CHECK_EQ_INT(sh("%s eval --index %s --mode dense --queries %s --qrels %s --metrics ndcg@10 --json", bin, ix, qp, qr), 0);
  CHECK(strstr(out, "\"ndcg@10\"") != NULL);
  /* the wrong model at query time is refused */
  char other[600];
  snprintf(other, sizeof other, "%s/fixtures/bert-tiny-random-f16", test_shared_dir());
  CHECK_EQ_INT(sh("%s search --index %s --mode dense --model %s 'x'", bin, ix, other), 1);
  CHECK(strstr(out, "differ") != NULL || strstr(out, "not the model") != NULL);
  /* the metric and dtype asked for are the ones stored, with a model too */
  const char *ix8 = T("ix-int8");
  REQUIRE(sh("%s index -q --input %s --index %s --model %s --metric dot --vector-dtype int8", bin, corpus, ix8,
             model) == 0);
  REQUIRE(sh("%s stats --index %s --json", bin, ix8) == 0);
  CHECK(strstr(out, "\"metric\":\"dot\"") != NULL);
  CHECK(strstr(out, "\"dtype\":\"int8\"") != NULL);
  /* a lexical-only index asked for the dense leg */
  const char *lex = T("ix-lex");
  REQUIRE(sh("%s index -q --input %s --index %s", bin, corpus, lex) == 0);
  CHECK_EQ_INT(sh("%s search --index %s --mode dense 'x'", bin, lex), 1);
  CHECK(strstr(out, "no vector field") != NULL);
}

TEST(vectors_from_a_file_build_the_same_dense_leg) {
  if (!test_shared_dir() || !emb || dim == 0) SKIP("needs the previous test's embeddings");
  const char *bin = test_blend_bin();
  char corpus[600], vj[600], vf[600], vi[600];
  snprintf(corpus, sizeof corpus, "%s", T("sf300.jsonl"));
  snprintf(vj, sizeof vj, "%s", T("vecs.jsonl"));
  snprintf(vf, sizeof vf, "%s", T("vecs.f32"));
  snprintf(vi, sizeof vi, "%s", T("vecs.ids"));
  FILE *j = fopen(vj, "w"), *f = fopen(vf, "wb"), *i = fopen(vi, "w");
  REQUIRE(j && f && i);
  for (int r = 0; r < NDOCS; r++) {
    fprintf(j, "{\"_id\": \"%s\", \"vector\": [", ids[r]);
    for (int d = 0; d < dim; d++) fprintf(j, "%s%.9g", d ? "," : "", emb[(size_t)r * dim + d]);
    fprintf(j, "]}\n");
    fwrite(emb + (size_t)r * dim, sizeof(float), (size_t)dim, f);
    fprintf(i, "%s\n", ids[r]);
  }
  fclose(j);
  fclose(f);
  fclose(i);
  char vec[65536];
  size_t at = (size_t)snprintf(vec, sizeof vec, "[");
  for (int d = 0; d < dim; d++) at += (size_t)snprintf(vec + at, sizeof vec - at, "%s%.9g", d ? "," : "", emb[d]);
  snprintf(vec + at, sizeof vec - at, "]");
  char ix1[600], ix2[600];
  snprintf(ix1, sizeof ix1, "%s", T("ix-vj"));
  snprintf(ix2, sizeof ix2, "%s", T("ix-vf"));
  REQUIRE(sh("%s index -q --input %s --index %s --vectors %s", bin, corpus, ix1, vj) == 0);
  REQUIRE(sh("%s index -q --input %s --index %s --vectors %s --vector-ids %s", bin, corpus, ix2, vf, vi) == 0);
  char a[4096], b[4096];
  REQUIRE(sh("%s search --index %s --mode dense --exact --json -k 5 --snippet-bytes 0 --vector '%s'", bin, ix1, vec) == 0);
  snprintf(a, sizeof a, "%s", out);
  REQUIRE(sh("%s search --index %s --mode dense --exact --json -k 5 --snippet-bytes 0 --vector '%s'", bin, ix2, vec) == 0);
  snprintf(b, sizeof b, "%s", out);
  CHECK_STR(a, b);
  CHECK(strstr(a, ids[0]) != NULL); /* a document's own vector finds it */
  /* bad vector files */
  char bad[600];
  snprintf(bad, sizeof bad, "%s", T("bad.jsonl"));
  FILE *g = fopen(bad, "w");
  fprintf(g, "{\"_id\": \"%s\", \"vector\": [1, 2]}\n{\"_id\": \"x\", \"vector\": [1, 2, 3]}\n", ids[0]);
  fclose(g);
  CHECK_EQ_INT(sh("%s index -q --input %s --index %s --vectors %s", bin, corpus, T("ix-bad"), bad), 1);
  CHECK(strstr(out, "bad.jsonl:2") != NULL);
  g = fopen(bad, "w");
  fprintf(g, "{\"_id\": \"%s\", \"vector\": [1, 2]}\n{\"_id\": \"%s\", \"vector\": [1, 2]}\n", ids[0], ids[0]);
  fclose(g);
  CHECK_EQ_INT(sh("%s index -q --input %s --index %s --vectors %s", bin, corpus, T("ix-bad"), bad), 1);
  CHECKF(strstr(out, "duplicate") != NULL, "got: %s", out);
  g = fopen(bad, "w");
  fprintf(g, "{\"_id\": \"%s\", \"vector\": [1, 2]}\n", ids[0]);
  fclose(g);
  CHECK_EQ_INT(sh("%s index -q --input %s --index %s --vectors %s", bin, corpus, T("ix-bad"), bad), 1);
  CHECK(strstr(out, "no vector") != NULL);
  CHECK_EQ_INT(sh("truncate -s 100 %s && %s index -q --input %s --index %s --vectors %s --vector-ids %s", vf, bin,
                  corpus, T("ix-bad"), vf, vi), 1);
  CHECK(strstr(out, "bytes") != NULL);
  CHECK_EQ_INT(sh("%s search --index %s --mode dense --vector '[1,2]'", bin, ix1), 1);
  CHECK(strstr(out, "dimensions") != NULL);
}
