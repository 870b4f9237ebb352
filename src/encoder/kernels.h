/*
** kernels.h — the float32 building blocks of the BERT forward pass: GEMM
** (OpenBLAS) with fused bias, LayerNorm with fused residual, exact (erf)
** GELU, vectorisable exp/erf, and attention with a one-pass online softmax.
** Each fast kernel has a plain scalar twin (k_ref_*) in the same file that
** tests compare it against.
*/
#ifndef BLEND_KERNELS_H
#define BLEND_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* y[M,N] (row stride ldy) = x[M,K] · W[N,K]ᵀ (+ b[N] when b != NULL).
** Single-threaded; callers split rows or columns across threads. */
void k_linear(const float *x, size_t M, size_t K, const float *W, size_t N, const float *b,
              float *y, size_t ldy);

/* x = LN(x + res) over one row of n, with gamma g, beta b (res may be NULL).
** Biased variance, eps added to the variance (as torch.nn.LayerNorm). */
void k_add_layernorm(float *x, const float *res, size_t n, const float *g, const float *b,
                     float eps);

/* x = GELU(x) = 0.5·x·(1 + erf(x/√2)) in place (exact form; erf to ~1 ulp-ish). */
void k_gelu(float *x, size_t n);

/* Vectorisable elementwise exp and erf, max relative error ~2e-7 (exp) and
** absolute ~3e-7 (erf); used by k_gelu and the attention softmax. */
void k_exp(const float *x, float *y, size_t n);
void k_erf(const float *x, float *y, size_t n);

/* tanh(x) in place (cross-encoder pooler; a handful of values). */
void k_tanh(float *x, size_t n);

/* Attention for one sequence and one head (the f32 build; see below for
** the BF16 one, which takes the same scratch).
** q, k, v: row i at q + i*ld (same ld for all three), d values each;
** out row i at out + i*ldo. T tokens, all of them real (no padding: the
** caller packs sequences). scale = 1/√d. scratch: k_attention_scratch(T, d)
** floats. The generic build processes keys in blocks with an online
** (running max) softmax, the AVX2 one all keys of six queries at a time with
** a two-pass softmax: both are numerically stable for any T. */
size_t k_attention_scratch(size_t T, size_t d);
void k_attention(const float *q, const float *k, const float *v, size_t ld, size_t T, size_t d,
                 float scale, float *out, size_t ldo, float *scratch);

/* ---- the same kernels compiled for AVX2+FMA and AVX-512 (kernels_avx2.c,
** kernels_avx512.c); call them only when the CPU has the unit. The
** unsuffixed ones above are the baseline build (whatever -march says). */
#define K_VEC_DECL(sfx)                                                                      \
  void k_add_layernorm_##sfx(float *x, const float *res, size_t n, const float *g,           \
                             const float *b, float eps);                                     \
  void k_gelu_##sfx(float *x, size_t n);                                                     \
  void k_exp_##sfx(const float *x, float *y, size_t n);                                      \
  void k_erf_##sfx(const float *x, float *y, size_t n);                                      \
  void k_attention_##sfx(const float *q, const float *k, const float *v, size_t ld, size_t T, \
                         size_t d, float scale, float *out, size_t ldo, float *scratch);
K_VEC_DECL(avx2)
K_VEC_DECL(avx512)
#undef K_VEC_DECL

/* Attention with Q·Kᵀ and P·V in BF16 (attention_bf16.c; AVX-512 BF16
** CPUs only), float32 softmax; same contract and scratch as k_attention.
** k_ref_attention_bf16 is its twin: the same bf16 roundings of q, k, v and
** P (P relative to the row max over all keys), sums in double. */
void k_attention_bf16(const float *q, const float *k, const float *v, size_t ld, size_t T,
                      size_t d, float scale, float *out, size_t ldo, float *scratch);
void k_ref_attention_bf16(const float *q, const float *k, const float *v, size_t ld, size_t T,
                          size_t d, float scale, float *out, size_t ldo);

/* One build of the elementwise and attention kernels, picked once (see
** dispatch.h). isa: ENC_SCALAR (baseline), ENC_AVX2 or ENC_AVX512. */
typedef struct k_vec_ops {
  const char *name;
  void (*add_layernorm)(float *x, const float *res, size_t n, const float *g, const float *b,
                        float eps);
  void (*gelu)(float *x, size_t n);
  void (*attention)(const float *q, const float *k, const float *v, size_t ld, size_t T,
                    size_t d, float scale, float *out, size_t ldo, float *scratch);
} k_vec_ops;
const k_vec_ops *k_vec_ops_for(int isa);

/* ---- exact simple twins (scalar, libm, double accumulation) ---- */
float k_ref_gelu(float x);
void k_ref_layernorm(float *x, size_t n, const float *g, const float *b, float eps);
/* Padded attention with a key mask: keys j with mask[j] == 0 get −∞ scores,
** two-pass softmax in double. */
void k_ref_attention(const float *q, const float *k, const float *v, size_t ld, size_t T,
                     size_t d, const uint8_t *mask, float scale, float *out, size_t ldo);

#endif
