/*
** quant_bf16.c — BF16 linear layers (see quant.h): float32 → bf16 rounding,
** weight packing, the scalar (emulating) build, splitting into parts, and
** dispatch to the AMX-BF16 (quant_amx.c) and AVX-512 BF16
** (quant_bf16_avx512.c) builds by the matrix's isa. bf16_linear_ref is the
** twin the tests compare every build with.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/dispatch.h"
#include "encoder/quant.h"
#include "encoder/quant_isa.h"
#include "util/util.h"

enum { BNR = 32, BMR = 12 };

uint16_t bf16_from_f32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  if ((u & 0x7F800000u) == 0) return (uint16_t)((u >> 16) & 0x8000);       /* denormal → ±0 */
  u += 0x7FFFu + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

void bf16_packed_free(bf16_packed *p) {
  if (!p) return;
  free(p->w);
  memset(p, 0, sizeof *p);
}

static inline size_t widx(const bf16_packed *p, uint32_t n, uint32_t k) {
  return (((size_t)(n / BNR) * (p->in_pad / 2) + k / 2) * BNR + n % BNR) * 2 + (k & 1);
}

int bf16_pack(const float *W, uint32_t out, uint32_t in, bf16_packed *p, blend_error *err) {
  memset(p, 0, sizeof *p);
  if (!W || out == 0 || in == 0)
    return blend_seterr(err, BLEND_EINVAL, "bf16_pack: empty weight matrix [%u, %u]", out, in);
  if (out > (1u << 24) || in > (1u << 24))
    return blend_seterr(err, BLEND_EINVAL, "bf16_pack: weight matrix [%u, %u] too large", out, in);
  p->out = out;
  p->in = in;
  p->in_pad = (in + 31) / 32 * 32; /* an AMX tile row is 32 inputs (the others step 2) */
  p->out_pad = (out + BNR - 1) / BNR * BNR;
  size_t bytes = (size_t)p->out_pad * p->in_pad * 2;
  void *mem = NULL;
  if (posix_memalign(&mem, 64, (bytes + 63) / 64 * 64) != 0) {
    memset(p, 0, sizeof *p);
    return blend_seterr(err, BLEND_ENOMEM, "bf16_pack: out of memory for [%u, %u]", out, in);
  }
  p->w = mem;
  memset(p->w, 0, bytes);
  for (uint32_t n = 0; n < out; n++)
    for (uint32_t k = 0; k < in; k++) {
      float v = W[(size_t)n * in + k];
      if (!isfinite(v)) {
        bf16_packed_free(p);
        return blend_seterr(err, BLEND_EINVAL, "bf16_pack: non-finite weight at row %u, column %u",
                            n, k);
      }
      p->w[widx(p, n, k)] = bf16_from_f32(v);
    }
  p->isa = enc_kernels_default().bf16;
  return 0;
}

void bf16_linear_ref(const float *x, uint32_t rows, const bf16_packed *p, const float *bias,
                     float *y) {
  for (uint32_t r = 0; r < rows; r++)
    for (uint32_t n = 0; n < p->out; n++) {
      double s = bias ? bias[n] : 0.0;
      for (uint32_t k = 0; k < p->in; k++)
        s += (double)bf16_to_f32(bf16_from_f32(x[(size_t)r * p->in + k])) *
             bf16_to_f32(p->w[widx(p, n, k)]);
      y[(size_t)r * p->out + n] = (float)s;
    }
}

/* The scalar build: the same rounding, float32 sums. */
static void block_scalar(const float *x, const bf16_packed *p, const float *bias, float *y,
                         size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1,
                         uint16_t *A) {
  for (uint32_t r = r0; r < r1; r++) {
    for (uint32_t k = 0; k < p->in; k++) A[k] = bf16_from_f32(x[(size_t)r * p->in + k]);
    for (uint32_t n = c0; n < c1; n++) {
      float s = bias ? bias[n] : 0.0f;
      for (uint32_t k = 0; k < p->in; k++) s += bf16_to_f32(A[k]) * bf16_to_f32(p->w[widx(p, n, k)]);
      y[(size_t)r * ldy + n] = s;
    }
  }
}

static int bf16_block(const float *x, const bf16_packed *p, const float *bias, float *y,
                      size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  if (r0 >= r1 || c0 >= c1) return 0;
  uint16_t *A = NULL;
  size_t arows = BF16_MC > AMX_BF16_MC ? BF16_MC : AMX_BF16_MC;
  if (posix_memalign((void **)&A, 64, arows * p->in_pad * 2 + 64) != 0) return BLEND_ENOMEM;
  if (p->isa == ENC_AMX_BF16) bf16_block_amx(x, p, bias, y, ldy, r0, r1, c0, c1, A);
  else if (p->isa == ENC_AVX512_BF16) bf16_block_avx512(x, p, bias, y, ldy, r0, r1, c0, c1, A);
  else block_scalar(x, p, bias, y, ldy, r0, r1, c0, c1, A);
  free(A);
  return 0;
}

const char *bf16_kernel_name(const bf16_packed *p) { return enc_isa_name(p->isa); }

int bf16_linear_block(const float *x, uint32_t rows, const bf16_packed *p, uint32_t c0,
                      uint32_t c1, const float *bias, float *y, size_t ldy) {
  if (c1 > p->out) c1 = p->out;
  if (ldy < c1) return BLEND_EINVAL;
  return bf16_block(x, p, bias, y, ldy, 0, rows, c0, c1);
}

int bf16_linear_part(const float *x, uint32_t rows, const bf16_packed *p, const float *bias,
                     float *y, unsigned part, unsigned nparts) {
  if (nparts == 0) nparts = 1;
  if (part >= nparts) return 0;
  uint32_t panels = p->out_pad / BNR;
  if (nparts == 1) return bf16_block(x, p, bias, y, p->out, 0, rows, 0, p->out);
  if (rows >= (uint32_t)nparts * BMR * 2 || panels < nparts) {
    uint64_t per = ((uint64_t)rows + nparts - 1) / nparts;
    per = (per + BMR - 1) / BMR * BMR;
    uint64_t a = per * part, b = a + per;
    return bf16_block(x, p, bias, y, p->out, (uint32_t)(a < rows ? a : rows),
                      (uint32_t)(b < rows ? b : rows), 0, p->out);
  }
  uint32_t c0 = (uint32_t)((uint64_t)panels * part / nparts) * BNR;
  uint32_t c1 = (uint32_t)((uint64_t)panels * (part + 1) / nparts) * BNR;
  return bf16_block(x, p, bias, y, p->out, 0, rows, c0, c1 < p->out ? c1 : p->out);
}

typedef struct bf16_args {
  const float *x;
  uint32_t rows;
  const bf16_packed *p;
  const float *bias;
  float *y;
} bf16_args;

static int bf16_part(void *ctx, unsigned part, unsigned nparts) {
  bf16_args *a = ctx;
  return bf16_linear_part(a->x, a->rows, a->p, a->bias, a->y, part, nparts);
}

int bf16_linear(const float *x, uint32_t rows, const bf16_packed *p, const float *bias, float *y,
                unsigned nthreads) {
  uint64_t work = (uint64_t)rows * p->in * p->out_pad;
  if (nthreads > 64) nthreads = 64;
  if (nthreads > 1 && work / nthreads < (4u << 20)) nthreads = work >> 22 > 1 ? (unsigned)(work >> 22) : 1;
  bf16_args a = {x, rows, p, bias, y};
  return quant_run_parts(bf16_part, &a, nthreads);
}
