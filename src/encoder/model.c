/*
** model.c — the public encoder API (blend_model_*, blend_embed,
** blend_rerank): tokenizer + BERT weights + batching.
*/
#include <stdlib.h>
#include <string.h>

#include "encoder/bert.h"
#include "encoder/wordpiece.h"
#include "util/util.h"

struct blend_model {
  bert_model *bert;
  wp_tokenizer *tok;
  blend_model_options opts;
  uint32_t max_length;
};

void blend_model_options_default(blend_model_options *o) {
  memset(o, 0, sizeof *o);
  o->threads = 0;
  o->max_length = 0;
  o->precision = BLEND_PRECISION_F32;
  o->batch = 32;
}

int blend_model_open(const char *dir, const blend_model_options *opts, blend_model **out,
                     blend_error *err) {
  *out = NULL;
  blend_model_options o;
  if (opts) o = *opts;
  else blend_model_options_default(&o);
  if (o.batch == 0) o.batch = 32;
  if (o.precision != BLEND_PRECISION_F32 && o.precision != BLEND_PRECISION_INT8 &&
      o.precision != BLEND_PRECISION_BF16)
    return blend_seterr(err, BLEND_EINVAL, "unknown precision %d", o.precision);
  blend_model *m = calloc(1, sizeof *m);
  if (!m) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  m->opts = o;
  int backend = o.precision == BLEND_PRECISION_INT8   ? BERT_INT8
                : o.precision == BLEND_PRECISION_BF16 ? BERT_BF16
                                                      : BERT_F32_PACKED;
  int rc = bert_load(dir, o.threads, backend, &m->bert, err);
  if (!rc) rc = wp_tokenizer_load(dir, &m->tok, err);
  if (rc) {
    blend_model_close(m);
    return rc;
  }
  const bert_config *c = &m->bert->cfg;
  if (wp_vocab_size(m->tok) > c->vocab) {
    rc = blend_seterr(err, BLEND_ECORRUPT,
                      "%s: the vocabulary has %u tokens but config.json's vocab_size is %u", dir,
                      wp_vocab_size(m->tok), c->vocab);
    blend_model_close(m);
    return rc;
  }
  uint32_t ml = o.max_length ? o.max_length : c->max_seq_length;
  if (ml > c->max_position) ml = c->max_position;
  if (ml < 3) ml = 3;
  m->max_length = ml;
  *out = m;
  return BLEND_OK;
}

void blend_model_close(blend_model *m) {
  if (!m) return;
  bert_free(m->bert);
  wp_tokenizer_free(m->tok);
  free(m);
}

int blend_model_is_cross_encoder(const blend_model *m) { return m->bert->cfg.cross; }
uint32_t blend_model_dim(const blend_model *m) { return m->bert->cfg.hidden; }
uint32_t blend_model_max_length(const blend_model *m) { return m->max_length; }
const char *blend_model_pooling(const blend_model *m) {
  switch (m->bert->cfg.pooling) {
    case BERT_POOL_CLS: return "cls";
    case BERT_POOL_MAX: return "max";
    default: return "mean";
  }
}
int blend_model_normalizes(const blend_model *m) { return m->bert->cfg.normalize != 0; }

int blend_embed_ids(blend_model *m, const int32_t *const *ids, const uint32_t *lens, size_t n,
                    float *out, blend_error *err) {
  if (m->bert->cfg.cross)
    return blend_seterr(err, BLEND_EINVAL, "this model is a cross-encoder: use rerank, not embed");
  size_t H = m->bert->cfg.hidden;
  for (size_t i = 0; i < n; i += m->opts.batch) {
    size_t k = n - i < m->opts.batch ? n - i : m->opts.batch;
    int rc = bert_forward(m->bert, k, ids + i, NULL, lens + i, out + i * H, err);
    if (rc) return rc;
  }
  return BLEND_OK;
}

int blend_rerank_ids(blend_model *m, const int32_t *const *ids, const int32_t *const *type_ids,
                     const uint32_t *lens, size_t n, float *scores, blend_error *err) {
  if (!m->bert->cfg.cross)
    return blend_seterr(err, BLEND_EINVAL, "this model is a bi-encoder: use embed, not rerank");
  for (size_t i = 0; i < n; i += m->opts.batch) {
    size_t k = n - i < m->opts.batch ? n - i : m->opts.batch;
    int rc = bert_forward(m->bert, k, ids + i, type_ids ? type_ids + i : NULL, lens + i,
                          scores + i, err);
    if (rc) return rc;
  }
  return BLEND_OK;
}

/* Per-call batch of encodings and the pointer arrays bert_forward takes. */
typedef struct enc_batch {
  wp_encoding *enc;
  const int32_t **ids, **types;
  uint32_t *lens;
  int *rc;
  blend_error *err;
  size_t cap;
  /* the texts being encoded (tokenization runs on the model's threads) */
  const blend_model *m;
  const char *query;
  size_t qlen;
  const char *const *texts;
  const size_t *tlens;
} enc_batch;

static int batch_init(enc_batch *b, size_t cap) {
  b->cap = cap;
  b->enc = calloc(cap, sizeof *b->enc);
  b->ids = calloc(cap, sizeof *b->ids);
  b->types = calloc(cap, sizeof *b->types);
  b->lens = calloc(cap, sizeof *b->lens);
  b->rc = calloc(cap, sizeof *b->rc);
  b->err = calloc(cap, sizeof *b->err);
  return b->enc && b->ids && b->types && b->lens && b->rc && b->err ? 0 : -1;
}

static void batch_free(enc_batch *b) {
  if (b->enc)
    for (size_t i = 0; i < b->cap; i++) wp_encoding_free(&b->enc[i]);
  free(b->enc);
  free(b->ids);
  free(b->types);
  free(b->lens);
  free(b->rc);
  free(b->err);
}

static void encode_task(void *ctx, size_t j, int worker) {
  enc_batch *b = ctx;
  const blend_model *m = b->m;
  if (b->query)
    b->rc[j] = wp_encode_pair(m->tok, b->query, b->qlen, b->texts[j], b->tlens[j], m->max_length,
                              &b->enc[j], &b->err[j]);
  else
    b->rc[j] = wp_encode(m->tok, b->texts[j], b->tlens[j], m->max_length, &b->enc[j], &b->err[j]);
  b->ids[j] = b->enc[j].ids;
  b->types[j] = b->enc[j].type_ids;
  b->lens[j] = b->enc[j].len;
}

/* Tokenize k texts (pairs with b->query when set) in parallel. */
static int encode_batch(blend_model *m, enc_batch *b, const char *const *texts,
                        const size_t *lens, size_t k, blend_error *err) {
  b->m = m;
  b->texts = texts;
  b->tlens = lens;
  tpool_run(m->bert->pool, k, encode_task, b);
  for (size_t j = 0; j < k; j++)
    if (b->rc[j]) {
      if (err) *err = b->err[j];
      return b->rc[j];
    }
  return BLEND_OK;
}

/* Shared driver of blend_embed (query NULL) and blend_rerank. */
static int encode_and_run(blend_model *m, const char *query, size_t qlen,
                          const char *const *texts, const size_t *lens, size_t n, float *out,
                          blend_error *err) {
  size_t per = query ? 1 : m->bert->cfg.hidden, bs = m->opts.batch;
  enc_batch b = {0};
  if (batch_init(&b, n < bs ? (n ? n : 1) : bs)) {
    batch_free(&b);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  b.query = query;
  b.qlen = qlen;
  int rc = BLEND_OK;
  for (size_t i = 0; i < n && !rc; i += bs) {
    size_t k = n - i < bs ? n - i : bs;
    rc = encode_batch(m, &b, texts + i, lens + i, k, err);
    if (!rc)
      rc = bert_forward(m->bert, k, b.ids, query ? b.types : NULL, b.lens, out + i * per, err);
  }
  batch_free(&b);
  return rc;
}

int blend_embed(blend_model *m, const char *const *texts, const size_t *lens, size_t n,
                float *out, blend_error *err) {
  if (m->bert->cfg.cross)
    return blend_seterr(err, BLEND_EINVAL, "this model is a cross-encoder: use rerank, not embed");
  return encode_and_run(m, NULL, 0, texts, lens, n, out, err);
}

int blend_rerank(blend_model *m, const char *query, size_t qlen, const char *const *docs,
                 const size_t *lens, size_t n, float *scores, blend_error *err) {
  if (!m->bert->cfg.cross)
    return blend_seterr(err, BLEND_EINVAL, "this model is a bi-encoder: use embed, not rerank");
  if (!query) return blend_seterr(err, BLEND_EINVAL, "rerank: query is NULL");
  return encode_and_run(m, query, qlen, docs, lens, n, scores, err);
}
