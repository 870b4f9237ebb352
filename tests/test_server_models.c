/*
** test_server_models.c — `blend serve` with models, through the pure
** handler: "rerank": true with the --rerank-model cross-encoder (order and
** _explanation against blend_rerank run here on the same texts; lexical,
** dense-free hybrid; the bad requests), and POST /docs without a "vector"
** on an index whose vectors a model made (encoded by that model: a dense
** query of the document's own text finds it at cosine 1), plus the
** refusals when no model can encode.
** Fixtures: ../shared/fixtures/cross-tiny-random, bert-tiny-random.
*/
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "blend.h"
#include "server/server.h"
#include "test.h"

typedef struct fixture {
  api_server s;
  api_worker *w;
  api_response *r;
} fixture;

static int setup(fixture *f, const char *dir, const char *rerank_model) {
  server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  server_limits_default(&cfg.limits);
  cfg.index_dir = dir;
  cfg.threads = 1;
  cfg.rerank_model = rerank_model;
  blend_error err = {0};
  if (api_server_init(&f->s, &cfg, &err)) {
    fprintf(stderr, "api_server_init: %s\n", err.message);
    return -1;
  }
  f->w = api_worker_get(&f->s);
  f->r = api_worker_response(f->w);
  return f->w ? 0 : -1;
}

static const char *body(fixture *f) {
  bbuf_putc(&f->r->body, 0);
  f->r->body.len--;
  return (const char *)f->r->body.data;
}

static int call(fixture *f, const char *method, const char *uri, const char *b) {
  api_request q = {0};
  q.method = method;
  q.uri = uri;
  q.body = b;
  q.body_len = b ? strlen(b) : 0;
  q.start_ns = api_now_ns();
  api_handle(&f->s, f->w, &q, f->r);
  return f->r->status;
}

#define HAS(f, s) CHECKF(strstr(body(f), s) != NULL, "missing %s in %.600s", s, body(f))

static const char *texts[][3] = {
    {"a", "Apples", "Apples are red fruit grown in orchards."},
    {"b", "Bananas", "Bananas are a yellow fruit from the tropics."},
    {"c", "Cherries", "Cherries are a small red fruit with a stone."},
    {"d", "Dates", "Dates are a sweet fruit of the date palm."},
    {"e", "Elder", "Elderberries: a dark fruit, cooked before eating."},
};
#define NTEXTS 5

static int build_plain(const char *dir) {
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  if (blend_writer_open(dir, &cfg, &w, &err)) return -1;
  for (int i = 0; i < NTEXTS; i++) {
    blend_field_value fv[] = {{"title", texts[i][1], strlen(texts[i][1])}, {"text", texts[i][2], strlen(texts[i][2])}};
    blend_doc d = {.id = texts[i][0], .id_len = 1, .fields = fv, .nfields = 2};
    if (blend_writer_add(w, &d, &err)) return -1;
  }
  int rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  return rc ? -1 : 0;
}

/* the cross-encoder's logit of (query, text of doc id), computed here */
static double logit_of(blend_model *m, const char *query, const char *id) {
  for (int i = 0; i < NTEXTS; i++)
    if (!strcmp(texts[i][0], id)) {
      const char *t = texts[i][2];
      size_t n = strlen(t);
      float sc;
      blend_error e;
      if (blend_rerank(m, query, strlen(query), &t, &n, 1, &sc, &e)) return NAN;
      return sc;
    }
  return NAN;
}

/* Check a search answer: the first nr hits are ordered by the logits this
** test computes, their _score and _explanation.rerank.value are those
** logits; returns the number of hits (-1: unparsable). */
static int check_reranked(fixture *f, blend_model *m, const char *query, int nr) {
  cJSON *o = cJSON_Parse(body(f));
  const cJSON *hits = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "hits"), "hits");
  if (!cJSON_IsArray(hits)) {
    cJSON_Delete(o);
    return -1;
  }
  int n = 0;
  double prev = INFINITY;
  for (const cJSON *h = hits->child; h; h = h->next, n++) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(h, "_id"));
    double score = cJSON_GetNumberValue(cJSON_GetObjectItem(h, "_score"));
    const cJSON *rr = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "_explanation"), "rerank");
    if (n < nr) {
      double want = logit_of(m, query, id ? id : "");
      CHECK_NEAR(score, want, 1e-4);
      CHECKF(rr != NULL, "hit %d (%s): no _explanation.rerank", n, id ? id : "?");
      CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(rr, "value")), want, 1e-4);
      CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(rr, "first_stage_rank")) >= 1);
      CHECKF(score <= prev + 1e-9, "hit %d out of rerank order: %g after %g", n, score, prev);
      prev = score;
    } else {
      CHECKF(rr == NULL, "hit %d: reranked past rerank_depth", n);
    }
  }
  cJSON_Delete(o);
  return n;
}

TEST(rerank_lexical_and_hybrid) {
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not available");
  char model[600], dir[600];
  snprintf(model, sizeof model, "%s/fixtures/cross-tiny-random", sh);
  snprintf(dir, sizeof dir, "%s/ix-rerank", test_tmpdir());
  REQUIRE(build_plain(dir) == 0);
  blend_model *m;
  blend_error e = {0};
  REQUIRE(blend_model_open(model, NULL, &m, &e) == 0);
  fixture f;
  REQUIRE(setup(&f, dir, model) == 0);
  /* lexical, every hit reranked (5 hits, depth 20) */
  CHECK_EQ_INT(call(&f, "GET", "/search?q=red+fruit&k=5&rerank=true&source=false", NULL), 200);
  CHECK_EQ_INT(check_reranked(&f, m, "red fruit", 5), 5);
  HAS(&f, "\"first_stage_score\":");
  HAS(&f, "\"model\":\"cross-tiny-random\"");
  /* POST, depth 2: only the first two first-stage hits are rescored */
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"q\":\"fruit\",\"k\":5,\"rerank\":true,\"rerank_depth\":2,\"explain\":true}"), 200);
  CHECK_EQ_INT(check_reranked(&f, m, "fruit", 2), 5);
  HAS(&f, "cross-encoder rerank of bm25");
  HAS(&f, "\"details\":[{"); /* the BM25 explain is still there */
  /* paging happens after the rerank: offset 1 starts at the second reranked hit */
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&k=5&rerank=true&source=false", NULL), 200);
  cJSON *all = cJSON_Parse(body(&f));
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&k=1&offset=1&rerank=true&source=false", NULL), 200);
  cJSON *page = cJSON_Parse(body(&f));
  const cJSON *h1 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(all, "hits"), "hits"), 1);
  const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(page, "hits"), "hits"), 0);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(h1, "_id")), cJSON_GetStringValue(cJSON_GetObjectItem(p0, "_id")));
  cJSON_Delete(all);
  cJSON_Delete(page);
  /* rerank on another stored field */
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank=true&rerank_field=title&source=false", NULL), 200);
  HAS(&f, "\"field\":\"title\"");
  /* hybrid (no vectors: BM25 flat + multifield) through the hybrid query's rerank stage */
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"q\":\"red fruit\",\"mode\":\"hybrid\",\"k\":5,\"rerank\":true,\"source\":false}"), 200);
  CHECK_EQ_INT(check_reranked(&f, m, "red fruit", 5), 5);
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"q\":\"fruit\",\"mode\":\"hybrid\",\"k\":5,\"rerank\":true,\"rerank_depth\":3,\"explain\":true}"), 200);
  CHECK_EQ_INT(check_reranked(&f, m, "fruit", 3), 5);
  HAS(&f, "cross-encoder rerank of minmax + cc");
  HAS(&f, "\"legs\":[{\"leg\":\"bm25\"");
  CHECK_EQ_INT(call(&f, "GET", "/stats", NULL), 200);
  HAS(&f, "\"rerank_model\":\"cross-tiny-random\"");
  /* bad requests */
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank=true&rerank_depth=101", NULL), 400);
  HAS(&f, "rerank_depth");
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank=true&rerank_depth=0", NULL), 400);
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank_depth=5", NULL), 400);
  HAS(&f, "only with \\\"rerank\\\": true");
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank=true&rerank_field=nope", NULL), 400);
  HAS(&f, "no stored field \\\"nope\\\"");
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"q\":\"fruit\",\"rerank\":\"yes\"}"), 400);
  HAS(&f, "must be true or false");
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"mode\":\"dense\",\"vector\":[1,2],\"rerank\":true}"), 400);
  HAS(&f, "needs \\\"q\\\"");
  api_server_free(&f.s);
  /* a server without --rerank-model: a clear 400 */
  REQUIRE(setup(&f, dir, NULL) == 0);
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&rerank=true", NULL), 400);
  HAS(&f, "start it with --rerank-model");
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit&mode=hybrid&rerank=true", NULL), 400);
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit", NULL), 200);
  api_server_free(&f.s);
  /* a bi-encoder or a missing directory as --rerank-model: the start fails */
  char bi[600];
  snprintf(bi, sizeof bi, "%s/fixtures/bert-tiny-random", sh);
  server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  server_limits_default(&cfg.limits);
  cfg.index_dir = dir;
  cfg.threads = 1;
  cfg.rerank_model = bi;
  api_server s;
  CHECK(api_server_init(&s, &cfg, &e) != 0);
  CHECKF(strstr(e.message, "not a cross-encoder") != NULL, "%s", e.message);
  cfg.rerank_model = "/nonexistent/model";
  CHECK(api_server_init(&s, &cfg, &e) != 0);
  CHECKF(strstr(e.message, "--rerank-model /nonexistent/model") != NULL, "%s", e.message);
  blend_model_close(m);
}

TEST(cli_serve_rerank_model_option) {
  const char *bin = test_blend_bin(), *sh = test_shared_dir();
  if (!bin || !sh) SKIP("BLEND_BIN or ../shared not available");
  char dir[600], cmd[2048];
  snprintf(dir, sizeof dir, "%s/ix-rerank-cli", test_tmpdir());
  REQUIRE(build_plain(dir) == 0);
  /* a bi-encoder is refused at start, before listening */
  snprintf(cmd, sizeof cmd, "%s serve --index %s --port 0 --rerank-model %s/fixtures/bert-tiny-random 2>&1 | grep -q 'not a cross-encoder'",
           bin, dir, sh);
  CHECK_EQ_INT(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s serve --index %s --port 0 --rerank-model %s/fixtures/bert-tiny-random 2>/dev/null", bin, dir, sh);
  int st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  snprintf(cmd, sizeof cmd, "%s serve --help | grep -q 'rerank_depth'", bin);
  CHECK_EQ_INT(system(cmd), 0);
}

/* An index whose vectors model_dir made (f32). */
static int build_with_model(const char *dir, const char *model_dir) {
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_writer *w;
  blend_model *m;
  if (blend_model_open(model_dir, NULL, &m, &err)) return -1;
  if (blend_writer_open(dir, &cfg, &w, &err)) return -1;
  int rc = blend_writer_set_model(w, m, model_dir, "title,text", "", "", &err);
  for (int i = 0; i < NTEXTS && !rc; i++) {
    blend_field_value fv[] = {{"title", texts[i][1], strlen(texts[i][1])}, {"text", texts[i][2], strlen(texts[i][2])}};
    blend_doc d = {.id = texts[i][0], .id_len = 1, .fields = fv, .nfields = 2};
    rc = blend_writer_add(w, &d, &err);
  }
  if (!rc) rc = blend_writer_commit(w, &err);
  blend_writer_close(w);
  blend_model_close(m);
  if (rc) fprintf(stderr, "build_with_model: %s\n", err.message);
  return rc ? -1 : 0;
}

static double top_hit(fixture *f, char *id, size_t cap) {
  cJSON *o = cJSON_Parse(body(f));
  const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "hits"), "hits"), 0);
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(h, "_id"));
  snprintf(id, cap, "%s", s ? s : "");
  double v = h ? cJSON_GetNumberValue(cJSON_GetObjectItem(h, "_score")) : NAN;
  cJSON_Delete(o);
  return v;
}

TEST(docs_without_vector_are_encoded_by_the_index_model) {
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not available");
  char model[600], dir[600];
  snprintf(model, sizeof model, "%s/fixtures/bert-tiny-random", sh);
  snprintf(dir, sizeof dir, "%s/ix-encode", test_tmpdir());
  REQUIRE(build_with_model(dir, model) == 0);
  fixture f;
  REQUIRE(setup(&f, dir, NULL) == 0);
  CHECK(f.s.dmodel != NULL);
  CHECK_EQ_INT(call(&f, "GET", "/stats", NULL), 200);
  HAS(&f, "\"encodes_documents\":true");
  /* title + text joined by a space, as the index's text_fields say */
  CHECK_EQ_INT(call(&f, "POST", "/docs?commit=true",
                    "{\"_id\":\"new1\",\"title\":\"Quinces\",\"text\":\"Quinces are a hard golden fruit, always cooked.\"}\n"
                    "{\"_id\":\"new2\",\"title\":\"Figs\",\"text\":\"Figs ripen in late summer on the tree.\"}"),
               200);
  HAS(&f, "\"added\":2,\"committed\":true");
  char id[64];
  CHECK_EQ_INT(call(&f, "POST", "/search",
                    "{\"q\":\"Quinces Quinces are a hard golden fruit, always cooked.\",\"mode\":\"dense\",\"exact\":true,\"k\":3,\"source\":false}"),
               200);
  /* query text = the document's encoded text: the same vector, cosine 1 */
  double s1 = top_hit(&f, id, sizeof id);
  CHECK_STR(id, "new1");
  CHECK_NEAR(s1, 1.0, 1e-4);
  CHECK_EQ_INT(call(&f, "POST", "/search",
                    "{\"q\":\"Figs Figs ripen in late summer on the tree.\",\"mode\":\"dense\",\"k\":3,\"source\":false}"),
               200);
  double s2 = top_hit(&f, id, sizeof id);
  CHECK_STR(id, "new2");
  CHECK_NEAR(s2, 1.0, 1e-4);
  /* a document with its own vector is still taken as given */
  char buf[8192];
  size_t at = (size_t)snprintf(buf, sizeof buf, "{\"_id\":\"v1\",\"text\":\"given vector\",\"vector\":[");
  for (int i = 0; i < 128; i++) at += (size_t)snprintf(buf + at, sizeof buf - at, i ? ",%d" : "%d", i == 7);
  snprintf(buf + at, sizeof buf - at, "]}");
  CHECK_EQ_INT(call(&f, "POST", "/docs?commit=true", buf), 200);
  CHECK_EQ_INT(call(&f, "POST", "/search", "{\"mode\":\"dense\",\"exact\":true,\"k\":1,\"source\":false,\"vector\":"
                                           "[0,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                           "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                           "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                           "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"),
               200);
  top_hit(&f, id, sizeof id);
  CHECK_STR(id, "v1");
  api_server_free(&f.s);
  /* after a restart the encoded documents are still found (they were committed) */
  REQUIRE(setup(&f, dir, NULL) == 0);
  CHECK_EQ_INT(call(&f, "POST", "/search",
                    "{\"q\":\"Quinces Quinces are a hard golden fruit, always cooked.\",\"mode\":\"dense\",\"exact\":true,\"k\":1,\"source\":false}"),
               200);
  top_hit(&f, id, sizeof id);
  CHECK_STR(id, "new1");
  api_server_free(&f.s);
}

TEST(docs_without_vector_refused_when_no_model_can_encode) {
  const char *sh = test_shared_dir();
  if (!sh) SKIP("../shared not available");
  /* vectors given by the user: nothing can encode */
  char dir[600];
  snprintf(dir, sizeof dir, "%s/ix-uservec", test_tmpdir());
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_vector_config_default(&cfg.vector, 2);
  blend_writer *w;
  REQUIRE(blend_writer_open(dir, &cfg, &w, &err) == 0);
  float v[2] = {1, 0};
  blend_field_value fv[] = {{"text", "one", 3}};
  blend_doc d = {.id = "x", .id_len = 1, .fields = fv, .nfields = 1, .vector = v, .vector_dim = 2};
  REQUIRE(blend_writer_add(w, &d, &err) == 0);
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  fixture f;
  REQUIRE(setup(&f, dir, NULL) == 0);
  CHECK_EQ_INT(call(&f, "POST", "/docs", "{\"_id\":\"y\",\"text\":\"two\"}"), 400);
  HAS(&f, "not made by a model");
  CHECK_EQ_INT(call(&f, "POST", "/docs", "{\"_id\":\"y\",\"text\":\"two\",\"vector\":[0,1]}"), 200);
  api_server_free(&f.s);
  /* the model that made the vectors is gone: the server starts, reads and
     writes with vectors work, a document without one is refused with why */
  char mcopy[600], dir2[600], cmd[2000];
  snprintf(mcopy, sizeof mcopy, "%s/model-copy", test_tmpdir());
  snprintf(dir2, sizeof dir2, "%s/ix-model-gone", test_tmpdir());
  snprintf(cmd, sizeof cmd, "cp -r %s/fixtures/bert-tiny-random %s", sh, mcopy);
  REQUIRE(system(cmd) == 0);
  REQUIRE(build_with_model(dir2, mcopy) == 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", mcopy);
  REQUIRE(system(cmd) == 0);
  REQUIRE(setup(&f, dir2, NULL) == 0);
  CHECK(f.s.dmodel == NULL);
  CHECK(strstr(f.s.dmodel_err, "cannot encode new documents") != NULL);
  CHECK_EQ_INT(call(&f, "GET", "/search?q=fruit", NULL), 200);
  CHECK_EQ_INT(call(&f, "POST", "/docs", "{\"_id\":\"z\",\"text\":\"zzz\"}"), 400);
  HAS(&f, "cannot encode new documents");
  CHECK_EQ_INT(call(&f, "GET", "/stats", NULL), 200);
  HAS(&f, "\"encodes_documents\":false");
  api_server_free(&f.s);
}
