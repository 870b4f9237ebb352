/*
** bert.h — a loaded BERT encoder (weights as float32) and its forward pass.
**
** bert_forward packs the sequences of a batch back to back (no padding at
** all: every GEMM runs over exactly the real tokens; only attention needs
** sequence boundaries), runs the post-LN BERT layers, then pools (bi-encoder:
** mean / CLS / max + optional L2 normalisation) or scores (cross-encoder:
** tanh pooler on [CLS] → classifier logit).
** bert_forward_ref is its exact simple twin: padded batch with an attention
** mask (padding keys get −∞), naive loops, double accumulation.
*/
#ifndef BLEND_BERT_H
#define BLEND_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"
#include "encoder/model_config.h"
#include "encoder/safetensors.h"
#include "encoder/threadpool.h"

typedef struct bert_layer {
  const float *qkv_w, *qkv_b;   /* fused [3H, H], [3H] (query, key, value) */
  const float *ao_w, *ao_b;     /* attention.output.dense [H, H] */
  const float *ln1_g, *ln1_b;   /* attention.output.LayerNorm */
  const float *in_w, *in_b;     /* intermediate.dense [I, H] */
  const float *out_w, *out_b;   /* output.dense [H, I] */
  const float *ln2_g, *ln2_b;   /* output.LayerNorm */
} bert_layer;

typedef struct bert_model {
  bert_config cfg;
  st_file *st;
  const float *word, *pos, *type;  /* [V, H], [P, H], [TV, H] */
  const float *emb_ln_g, *emb_ln_b;
  bert_layer *layers;
  const float *pool_w, *pool_b;    /* cross-encoder pooler [H, H] */
  const float *cls_w, *cls_b;      /* classifier [1, H], [1] */
  void **owned;                    /* widened / fused copies to free */
  size_t nowned, capowned;
  tpool *pool;
  int threads;
  int blas_threads;                /* 1: split GEMMs over our pool; >1: OpenBLAS threads */
} bert_model;

/* Load dir/config.json (+ sentence-transformers files) and
** dir/model.safetensors. threads <= 0: online cores. */
int bert_load(const char *dir, int threads, bert_model **out, blend_error *err);
void bert_free(bert_model *m);

/* Forward n sequences: ids[i] (lens[i] tokens, with [CLS]/[SEP]),
** types[i] token_type_ids (types NULL or types[i] NULL = all 0).
** out: bi-encoder n × hidden floats; cross-encoder n scores.
** Fails with BLEND_EINVAL for an empty sequence, one longer than
** max_position_embeddings, or an id / type id out of range. */
int bert_forward(bert_model *m, size_t n, const int32_t *const *ids,
                 const int32_t *const *types, const uint32_t *lens, float *out,
                 blend_error *err);
int bert_forward_ref(const bert_model *m, size_t n, const int32_t *const *ids,
                     const int32_t *const *types, const uint32_t *lens, float *out,
                     blend_error *err);

#endif
