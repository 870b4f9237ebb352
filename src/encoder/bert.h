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

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "blend.h"
#include "encoder/dispatch.h"
#include "encoder/kernels.h"
#include "encoder/model_config.h"
#include "encoder/quant.h"
#include "encoder/safetensors.h"
#include "util/threadpool.h"

/* How the linear layers multiply. */
enum bert_backend {
  BERT_F32_PACKED = 0, /* float32, weights pre-packed for blend's AVX-512 kernel */
  BERT_INT8 = 1,       /* int8 weights (per channel) × uint8 activations (per token) */
  BERT_F32_BLAS = 2,   /* float32 via cblas_sgemm on the [out, in] weights */
  BERT_BF16 = 3        /* bf16 weights × bf16 activations, float32 sums (AVX-512 BF16) */
};

/* One linear layer y = x·Wᵀ + b, W [out, in]. */
typedef struct bert_linear {
  const float *w, *b;
  uint32_t out, in;
  int prec;        /* how this layer multiplies (enum bert_backend): the
                      model's backend, except in BERT_BF16 (see bert_load) */
  f32_packed pk;   /* BERT_F32_PACKED */
  q8_matrix q8;    /* BERT_INT8 */
  bf16_packed bf;  /* BERT_BF16 */
} bert_linear;

typedef struct bert_layer {
  bert_linear qkv;              /* fused [3H, H] (query, key, value) */
  bert_linear ao;               /* attention.output.dense [H, H] */
  const float *ln1_g, *ln1_b;   /* attention.output.LayerNorm */
  bert_linear in;               /* intermediate.dense [I, H] */
  bert_linear out;              /* output.dense [H, I] */
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
  int backend;                     /* enum bert_backend */
  cpu_features cpu;                /* found at load */
  enc_kernels kern;                /* the kernel builds chosen at load */
  const k_vec_ops *vops;           /* elementwise + f32 attention build (kern.vec) */
  pthread_mutex_t blas_lock;       /* BERT_F32_BLAS: one cblas call at a time */
  pthread_mutex_t scratch_lock;    /* held while a forward pass uses scratch */
  void *scratch;                   /* cached activation block, grown as needed */
  size_t scratch_bytes;
} bert_model;

/* Load dir/config.json (+ sentence-transformers files) and
** dir/model.safetensors. threads <= 0: online cores. backend: enum
** bert_backend (the linear layers are packed / quantised once here).
** BERT_BF16 on a CPU without AVX-512 BF16 fails with BLEND_EUNSUPPORTED
** (no silent fallback: the caller asked for a precision). In BERT_INT8
** attention runs in BF16 when the CPU has it (kern.att), else in float32.
** BERT_BF16 runs the feed-forward layers (two thirds of the multiply-adds)
** in bf16 and keeps the attention block in float32: the query/key/value and
** attention-output projections and attention itself. With those in bf16 the
** embeddings fall to 0.99969 cosine to float32 on real texts; with them in
** float32 they stay above 0.9999 (bench/RESULTS.md, bf16 fidelity). */
/* The environment variable BLEND_ISA_CAP=<isa> (dispatch.h) caps the
** kernels as bert_load_ex's isa_cap does; a value naming no isa fails with
** BLEND_EINVAL. */
int bert_load(const char *dir, int threads, int backend, bert_model **out, blend_error *err);
/* The same with no kernel above isa_cap (enum enc_isa; ENC_CAP_NONE = no cap), as
** if the CPU stopped there: tests run every path, and a capped BERT_BF16
** load shows the error a CPU without AVX-512 BF16 gets. */
int bert_load_ex(const char *dir, int threads, int backend, int isa_cap, bert_model **out,
                 blend_error *err);
void bert_free(bert_model *m);

/* Switch every kernel of a loaded model to k (each isa must be supported by
** this CPU: enc_isa_supported). The packed layouts do not depend on the
** isa, so this is cheap; tests use it to run one model on every path.
** Not safe while another thread runs a forward pass on m. */
void bert_set_kernels(bert_model *m, const enc_kernels *k);

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
