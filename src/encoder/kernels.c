/*
** kernels.c — float32 kernels of the BERT forward pass (see kernels.h):
** the baseline build of kernels_impl.h (whatever -march the library is
** built with), the OpenBLAS linear layer, tanh, and the exact scalar twins
** the tests compare every build (baseline, AVX2, AVX-512) against.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/dispatch.h"
#include "encoder/kernels.h"
#include "encoder/quant.h"

void k_linear(const float *x, size_t M, size_t K, const float *W, size_t N, const float *b,
              float *y, size_t ldy) {
  if (!M || !N) return;
  float beta = 0;
  if (b) {
    for (size_t i = 0; i < M; i++) memcpy(y + i * ldy, b, N * sizeof *y);
    beta = 1;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, x, (int)K,
              W, (int)K, beta, y, (int)ldy);
}

#define KN(name) name
#include "encoder/kernels_impl.h"
#undef KN

void k_tanh(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

static size_t round32_(size_t n) { return (n + 31) / 32 * 32; }

size_t k_attention_scratch(size_t T, size_t d) {
  /* keys of one block transposed [d][kb32] + scores [T][kb32] + running max
  ** and sum per query; the BF16 attention needs less (bf16 copies) */
  size_t kb = round32_(T < KEY_BLOCK ? T : KEY_BLOCK);
  size_t f32 = d * kb + T * kb + 2 * T + LANES;
  /* bf16 (attention_bf16.c): Q T·d/2, keys d·kb/2, scores T·kb, P T·kb/2,
  ** values kb·d/2, max/sum 2T, plus 64-byte alignment of six arrays */
  size_t bf16 = T * d / 2 + d * kb + T * kb * 3 / 2 + 2 * T + 6 * 16;
  /* AVX2 (kernels_avx2.c): all keys transposed [d][T16] + 6 rows of scores */
  size_t avx2 = (d + 6) * ((T + 15) / 16 * 16);
  size_t most = f32 > bf16 ? f32 : bf16;
  return most > avx2 ? most : avx2;
}

/* ---- exact simple twins ---- */

float k_ref_gelu(float x) { return (float)(0.5 * x * (1.0 + erf((double)x / sqrt(2.0)))); }

void k_ref_layernorm(float *x, size_t n, const float *g, const float *b, float eps) {
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; i++) mean += x[i];
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  var /= (double)n;
  double rstd = 1.0 / sqrt(var + eps);
  for (size_t i = 0; i < n; i++) x[i] = (float)((x[i] - mean) * rstd * g[i] + b[i]);
}

void k_ref_attention(const float *q, const float *k, const float *v, size_t ld, size_t T,
                     size_t d, const uint8_t *mask, float scale, float *out, size_t ldo) {
  for (size_t i = 0; i < T; i++) {
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < T; j++) {
      if (!mask[j]) continue;
      double s = 0;
      for (size_t c = 0; c < d; c++) s += (double)q[i * ld + c] * k[j * ld + c];
      s *= scale;
      if (s > mx) mx = s;
    }
    for (size_t c = 0; c < d; c++) out[i * ldo + c] = 0;
    double acc[1024];
    size_t dd = d < 1024 ? d : 1024;
    for (size_t c = 0; c < dd; c++) acc[c] = 0;
    for (size_t j = 0; j < T; j++) {
      if (!mask[j]) continue;
      double s = 0;
      for (size_t c = 0; c < d; c++) s += (double)q[i * ld + c] * k[j * ld + c];
      double p = exp(s * scale - mx);
      sum += p;
      for (size_t c = 0; c < dd; c++) acc[c] += p * v[j * ld + c];
    }
    for (size_t c = 0; c < dd; c++) out[i * ldo + c] = (float)(acc[c] / sum);
  }
}

void k_ref_attention_bf16(const float *q, const float *k, const float *v, size_t ld, size_t T,
                          size_t d, float scale, float *out, size_t ldo) {
#define R(x) ((double)bf16_to_f32(bf16_from_f32(x)))
  double *s = malloc(T * sizeof *s);
  if (!s) return;
  for (size_t i = 0; i < T; i++) {
    double mx = -INFINITY, sum = 0;
    for (size_t j = 0; j < T; j++) {
      double a = 0;
      for (size_t c = 0; c < d; c++) a += R(q[i * ld + c]) * R(k[j * ld + c]);
      s[j] = (double)(float)(a * scale);
      if (s[j] > mx) mx = s[j];
    }
    for (size_t j = 0; j < T; j++) {
      float p = (float)exp(s[j] - mx);
      sum += p;
      s[j] = R(p);
    }
    for (size_t c = 0; c < d; c++) {
      double a = 0;
      for (size_t j = 0; j < T; j++) a += s[j] * R(v[j * ld + c]);
      out[i * ldo + c] = (float)(a / sum);
    }
  }
  free(s);
#undef R
}

/* ---- the builds, by isa (dispatch.h) ---- */

static const k_vec_ops ops_scalar = {"scalar", k_add_layernorm, k_gelu, k_attention};
static const k_vec_ops ops_avx2 = {"avx2", k_add_layernorm_avx2, k_gelu_avx2, k_attention_avx2};
static const k_vec_ops ops_avx512 = {"avx512", k_add_layernorm_avx512, k_gelu_avx512,
                                     k_attention_avx512};

const k_vec_ops *k_vec_ops_for(int isa) {
  if (isa >= ENC_AVX512) return &ops_avx512;
  if (isa == ENC_AVX2) return &ops_avx2;
  return &ops_scalar;
}
