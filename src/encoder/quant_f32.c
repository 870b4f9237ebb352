/*
** quant_f32.c — f32 linear layer y = x·Wᵀ + b with W pre-packed into
** 32-channel panels (f32_pack) and an AVX-512 12×32 FMA register tile,
** blocked over K (KC) and rows (MC) so the activation block stays in L2 and
** the panel slice in L1. Without AVX-512 a plain loop over the same packed
** layout is used. f32_linear_ref is the naive twin the tests compare with.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/quant.h"
#include "util/util.h"

#if defined(__AVX512F__)
#define F32_AVX512 1
#include <immintrin.h>
#else
#define F32_AVX512 0
#endif

enum { FMR = 12, FNR = 32, FKC = 384, FMC = 72 }; /* FKC 384 measured best (256..768) */

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

#if F32_AVX512
/* Store mask for the 16 channels starting at n, limited to [c0, c1). */
static inline uint32_t col_mask(uint32_t n, uint32_t c0, uint32_t c1) {
  uint32_t lo = c0 > n ? c0 - n : 0, hi = c1 >= n + 16 ? 16 : c1 > n ? c1 - n : 0;
  if (lo >= hi) return 0;
  return (hi >= 16 ? 0xFFFFu : (1u << hi) - 1) & ~((1u << lo) - 1);
}

/* rows [0, mr) × 32 channels from panel slice B (kc × 32), A with stride
** lda; first K block starts from the bias, later ones from y. */
static inline __attribute__((always_inline)) void
fkernel(const float *A, size_t lda, const float *B, uint32_t kc, const int mr, int first,
        const float *bias, uint32_t n0, uint32_t c0, uint32_t c1, float *y, size_t ldy) {
  __m512 acc[FMR][2];
  __mmask16 m0 = (__mmask16)col_mask(n0, c0, c1), m1 = (__mmask16)col_mask(n0 + 16, c0, c1);
  if (first) {
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias + n0) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + n0 + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) acc[i][0] = b0, acc[i][1] = b1;
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      acc[i][0] = _mm512_maskz_loadu_ps(m0, y + i * ldy + n0);
      acc[i][1] = _mm512_maskz_loadu_ps(m1, y + i * ldy + n0 + 16);
    }
  }
  for (uint32_t k = 0; k < kc; k++) {
    __m512 w0 = _mm512_load_ps(B + (size_t)k * FNR), w1 = _mm512_load_ps(B + (size_t)k * FNR + 16);
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      __m512 a = _mm512_set1_ps(A[i * lda + k]);
      acc[i][0] = _mm512_fmadd_ps(a, w0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, w1, acc[i][1]);
    }
  }
  if (m0 == 0xFFFF && m1 == 0xFFFF) { /* plain stores: masked ones are slow on some cores (Zen 4) */
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      _mm512_storeu_ps(y + i * ldy + n0, acc[i][0]);
      _mm512_storeu_ps(y + i * ldy + n0 + 16, acc[i][1]);
    }
  } else {
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
      _mm512_mask_storeu_ps(y + i * ldy + n0, m0, acc[i][0]);
      _mm512_mask_storeu_ps(y + i * ldy + n0 + 16, m1, acc[i][1]);
    }
  }
}

static void fkernel_dispatch(const float *A, size_t lda, const float *B, uint32_t kc, int mr,
                             int first, const float *bias, uint32_t n0, uint32_t c0, uint32_t c1,
                             float *y, size_t ldy) {
  switch (mr) {
#define FCASE(m) case m: fkernel(A, lda, B, kc, m, first, bias, n0, c0, c1, y, ldy); break;
    FCASE(12) FCASE(11) FCASE(10) FCASE(9) FCASE(8) FCASE(7)
    FCASE(6) FCASE(5) FCASE(4) FCASE(3) FCASE(2) FCASE(1)
#undef FCASE
    default: break;
  }
}
#endif

/* Rows [r0, r1) × output channels [c0, c1) (c1 <= out): whole panels are
** computed, stores masked to the range. */
static void f32_block(const float *x, const f32_packed *p, const float *bias, float *y,
                      size_t ldy, uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  uint32_t in = p->in;
  if (r0 >= r1 || c0 >= c1) return;
#if F32_AVX512
  uint32_t p0 = c0 / FNR, p1 = (c1 + FNR - 1) / FNR;
  for (uint32_t rc = r0; rc < r1; rc += FMC) {
    uint32_t rce = r1 - rc < FMC ? r1 : rc + FMC;
    for (uint32_t k0 = 0; k0 < in; k0 += FKC) {
      uint32_t kc = in - k0 < FKC ? in - k0 : FKC;
      for (uint32_t pn = p0; pn < p1; pn++) {
        const float *B = p->w + ((size_t)pn * in + k0) * FNR;
        for (uint32_t r = rc; r < rce; r += FMR) {
          int mr = (int)(rce - r < FMR ? rce - r : FMR);
          fkernel_dispatch(x + (size_t)r * in + k0, in, B, kc, mr, k0 == 0, bias, pn * FNR, c0,
                           c1, y + (size_t)r * ldy, ldy);
        }
      }
    }
  }
#else
  for (uint32_t r = r0; r < r1; r++)
    for (uint32_t n = c0; n < c1; n++) {
      const float *B = p->w + (size_t)(n / FNR) * in * FNR + n % FNR;
      float s = bias ? bias[n] : 0.0f;
      for (uint32_t k = 0; k < in; k++) s += x[(size_t)r * in + k] * B[(size_t)k * FNR];
      y[(size_t)r * ldy + n] = s;
    }
#endif
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

const char *f32_kernel_name(void) { return F32_AVX512 ? "avx512" : "portable"; }

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
