/*
** quant_f32.c — f32 linear layer y = x·Wᵀ + b with W pre-packed into
** 32-channel panels (f32_pack) and an AVX-512 12×32 FMA register tile,
** blocked over K and rows so the activation block stays in L2 and the panel
** slice in L1 (quant_f32_avx512.c), a 6×16 AVX2 tile (quant_f32_avx2.c), or
** a plain loop over the same packed layout (scalar), by the matrix's isa.
** f32_linear_ref is the naive twin the tests compare with.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/quant.h"
#include "util/util.h"

#include "encoder/dispatch.h"
#include "encoder/quant_isa.h"

enum { FMR = 12, FNR = F32_FNR }; /* F32_FKC 384 measured best (256..768) */

void f32_packed_free(f32_packed *p) {
  if (!p) return;
  free(p->w);
  memset(p, 0, sizeof *p);
}

int f32_pack(const float *W, uint32_t out, uint32_t in, f32_packed *p, blend_error *err) {
  memset(p, 0, sizeof *p);
  if (!W || out == 0 || in == 0)
    return blend_seterr(err, BLEND_EINVAL, "f32_pack: empty weight matrix [%u, %u]", out, in);
  if (out > (1u << 24) || in > (1u << 24))
    return blend_seterr(err, BLEND_EINVAL, "f32_pack: weight matrix [%u, %u] too large", out, in);
  uint32_t out_pad = (out + FNR - 1) / FNR * FNR;
  void *mem = NULL;
  if (posix_memalign(&mem, 64, sizeof(float) * out_pad * (size_t)in) != 0)
    return blend_seterr(err, BLEND_ENOMEM, "f32_pack: out of memory for [%u, %u]", out, in);
  float *w = mem;
  for (uint32_t pn = 0; pn < out_pad / FNR; pn++)
    for (uint32_t k = 0; k < in; k++)
      for (uint32_t c = 0; c < FNR; c++) {
        uint32_t n = pn * FNR + c;
        w[((size_t)pn * in + k) * FNR + c] = n < out ? W[(size_t)n * in + k] : 0.0f;
      }
  p->w = w;
  p->isa = enc_kernels_default().f32;
  p->out = out;
  p->in = in;
  p->out_pad = out_pad;
  return 0;
}

void f32_linear_ref(const float *x, uint32_t rows, const float *W, uint32_t out, uint32_t in,
                    const float *bias, float *y) {
  for (uint32_t r = 0; r < rows; r++)
    for (uint32_t n = 0; n < out; n++) {
      double s = bias ? bias[n] : 0.0;
      for (uint32_t k = 0; k < in; k++) s += (double)x[(size_t)r * in + k] * W[(size_t)n * in + k];
      y[(size_t)r * out + n] = (float)s;
    }
}

/* Rows [r0, r1) × output channels [c0, c1) (c1 <= out): whole panels are
** computed, stores masked to the range. */
static void f32_block(const float *x, const f32_packed *p, const float *bias, float *y,
                      size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  uint32_t in = p->in;
  if (r0 >= r1 || c0 >= c1) return;
  if (p->isa >= ENC_AVX512) {
    f32_block_avx512(x, p, bias, y, ldy, r0, r1, c0, c1);
    return;
  }
  if (p->isa == ENC_AVX2) {
    f32_block_avx2(x, p, bias, y, ldy, r0, r1, c0, c1);
    return;
  }
  for (uint32_t r = r0; r < r1; r++)
    for (uint32_t n = c0; n < c1; n++) {
      const float *B = p->w + (size_t)(n / FNR) * in * FNR + n % FNR;
      float s = bias ? bias[n] : 0.0f;
      for (uint32_t k = 0; k < in; k++) s += x[(size_t)r * in + k] * B[(size_t)k * FNR];
      y[(size_t)r * ldy + n] = s;
    }
}

int f32_linear_part(const float *x, uint32_t rows, const f32_packed *p, const float *bias,
                    float *y, unsigned part, unsigned nparts) {
  if (nparts == 0) nparts = 1;
  if (part >= nparts) return 0;
  uint32_t panels = p->out_pad / FNR;
  if (nparts == 1) {
    f32_block(x, p, bias, y, p->out, 0, rows, 0, p->out);
  } else if (rows >= (uint32_t)nparts * FMR * 2 || panels < nparts) {
    uint64_t per = ((uint64_t)rows + nparts - 1) / nparts;
    per = (per + FMR - 1) / FMR * FMR;
    uint64_t a = per * part, b = a + per;
    f32_block(x, p, bias, y, p->out, (uint32_t)(a < rows ? a : rows),
              (uint32_t)(b < rows ? b : rows), 0, p->out);
  } else {
    uint32_t c0 = (uint32_t)((uint64_t)panels * part / nparts) * FNR;
    uint32_t c1 = (uint32_t)((uint64_t)panels * (part + 1) / nparts) * FNR;
    f32_block(x, p, bias, y, p->out, 0, rows, c0, c1 < p->out ? c1 : p->out);
  }
  return 0;
}

const char *f32_kernel_name(const f32_packed *p) { return enc_isa_name(p->isa); }

int f32_linear_block(const float *x, uint32_t rows, const f32_packed *p, uint32_t c0, uint32_t c1,
                     const float *bias, float *y, size_t ldy) {
  if (c1 > p->out) c1 = p->out;
  if (ldy < c1) return BLEND_EINVAL;
  f32_block(x, p, bias, y, ldy, 0, rows, c0, c1);
  return 0;
}

typedef struct f32_args {
  const float *x;
  uint32_t rows;
  const f32_packed *p;
  const float *bias;
  float *y;
} f32_args;

static int f32_part(void *ctx, unsigned part, unsigned nparts) {
  f32_args *a = ctx;
  f32_linear_part(a->x, a->rows, a->p, a->bias, a->y, part, nparts);
  return 0;
}

int f32_linear(const float *x, uint32_t rows, const f32_packed *p, const float *bias, float *y,
               unsigned nthreads) {
  uint64_t work = (uint64_t)rows * p->in * p->out_pad;
  if (nthreads > 64) nthreads = 64; /* quant_run_parts' limit */
  if (nthreads > 1 && work / nthreads < (2u << 20)) nthreads = work >> 21 > 1 ? (unsigned)(work >> 21) : 1;
  f32_args a = {x, rows, p, bias, y};
  return quant_run_parts(f32_part, &a, nthreads);
}
