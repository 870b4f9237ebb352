/*
** quant.c — int8 linear layers: weight quantization and packing, per-row
** activation quantization, the scalar build, dispatch to the AVX-512 VNNI
** (quant_vnni.c), AMX-INT8 (quant_amx.c), AVX-VNNI (quant_avxvnni.c) and
** AVX2 (quant_avx2.c)
** builds by the matrix's isa, the
** scalar twin and work splitting.
** See quant.h for the math; every path below computes the same integers.
*/
#include "encoder/quant.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#include "encoder/dispatch.h"
#include "encoder/quant_isa.h"

/* MC rows of activations are quantized at a time (MC × in_pad bytes stays
** in L2; a multiple of the AMX tile pair's 32 rows); MR is the row
** granularity of the splits (the VNNI tile's rows). */
enum { MR = 6, MC = 96 };

static uint32_t round_up(uint32_t v, uint32_t m) { return (v + m - 1) / m * m; }

static void *alloc64(size_t n) {
  void *p = NULL;
  if (n == 0) n = 64;
  if (posix_memalign(&p, 64, (n + 63) & ~(size_t)63) != 0) return NULL;
  return p;
}

/* ------------------------------------------------------------ weights */

void q8_free(q8_matrix *q) {
  if (!q) return;
  free(q->w);
  free(q->scale);
  free(q->wsum);
  memset(q, 0, sizeof *q);
}

int q8_quantize(const float *W, uint32_t out, uint32_t in, q8_matrix *q, blend_error *err) {
  memset(q, 0, sizeof *q);
  if (!W || out == 0 || in == 0)
    return blend_seterr(err, BLEND_EINVAL, "q8_quantize: empty weight matrix [%u, %u]", out, in);
  /* in <= 65536 keeps every int32 sum of u8·s8 products (<= 255·127·in) exact. */
  if (out > (1u << 24) || in > 65536)
    return blend_seterr(err, BLEND_EINVAL, "q8_quantize: weight matrix [%u, %u] too large", out, in);
  /* in padded to 64: an AMX tile row is 64 inputs (the other builds step 4) */
  uint32_t out_pad = round_up(out, 16), in_pad = round_up(in, 64);
  q->w = alloc64((size_t)out_pad * in_pad);
  q->scale = alloc64(sizeof(float) * out_pad);
  q->wsum = alloc64(sizeof(int32_t) * out_pad);
  if (!q->w || !q->scale || !q->wsum) {
    q8_free(q);
    return blend_seterr(err, BLEND_ENOMEM, "q8_quantize: out of memory for [%u, %u]", out, in);
  }
  memset(q->w, 0, (size_t)out_pad * in_pad);
  memset(q->scale, 0, sizeof(float) * out_pad);
  memset(q->wsum, 0, sizeof(int32_t) * out_pad);
  q->isa = enc_kernels_default().q8;
  q->out = out;
  q->in = in;
  q->out_pad = out_pad;
  q->in_pad = in_pad;
  for (uint32_t n = 0; n < out; n++) {
    const float *row = W + (size_t)n * in;
    float amax = 0.0f;
    for (uint32_t k = 0; k < in; k++) {
      if (!isfinite(row[k])) {
        q8_free(q);
        return blend_seterr(err, BLEND_EINVAL,
                            "q8_quantize: non-finite weight at row %u, column %u", n, k);
      }
      float a = fabsf(row[k]);
      if (a > amax) amax = a;
    }
    if (amax == 0.0f) continue; /* scale 0, weights 0: output is the bias */
    double inv = 127.0 / amax;  /* double: finite even for subnormal amax */
    int8_t *blk = q->w + (size_t)(n >> 4) * in_pad * 16 + (n & 15) * 4;
    int32_t sum = 0;
    for (uint32_t k = 0; k < in; k++) {
      double v = nearbyint(row[k] * inv);
      if (v > 127.0) v = 127.0;
      if (v < -127.0) v = -127.0;
      int8_t w8 = (int8_t)v;
      blk[(size_t)(k >> 2) * 64 + (k & 3)] = w8;
      sum += w8;
    }
    q->scale[n] = amax / 127.0f;
    q->wsum[n] = sum;
  }
  return 0;
}

/* -------------------------------------------------------- activations */

void q8_params_from_range(float mn, float mx, float *scale, float *inv, int32_t *zp) {
  if (mn > 0.0f) mn = 0.0f;
  if (mx < 0.0f) mx = 0.0f;
  float range = mx - mn;
  if (!(range > 0.0f)) { /* all zeros: everything maps to zp 0 */
    *scale = 1.0f;
    *inv = 1.0f;
    *zp = 0;
    return;
  }
  float s = range / 255.0f, iv = 1.0f / s;
  if (!isfinite(iv)) { /* range below ~1e-36: treat the row as zeros (error < 1e-36) */
    *scale = 1.0f;
    *inv = 0.0f;
    *zp = 0;
    return;
  }
  float z = nearbyintf(-mn * iv);
  z = fmaxf(z, 0.0f); /* fmaxf/fminf also turn NaN (from inf ranges) into a bound */
  z = fminf(z, 255.0f);
  *scale = s;
  *inv = iv;
  *zp = (int32_t)z;
}

void q8_row_params(const float *x, uint32_t n, float *scale, float *inv, int32_t *zp) {
  float mn = 0.0f, mx = 0.0f;
  for (uint32_t k = 0; k < n; k++) {
    if (x[k] < mn) mn = x[k];
    if (x[k] > mx) mx = x[k];
  }
  q8_params_from_range(mn, mx, scale, inv, zp);
}

/* u = nearbyint(clamp(x·inv, −zp, 255−zp)) + zp: clamping before rounding
** to integer bounds equals clamping after, and keeps the conversion defined;
** NaN compares false and becomes the lower bound. */
void q8_quantize_row_ref(const float *x, uint32_t n, float inv, int32_t zp, uint8_t *u) {
  float lo = (float)-zp, hi = (float)(255 - zp);
  for (uint32_t k = 0; k < n; k++) {
    float v = x[k] * inv;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    u[k] = (uint8_t)((int32_t)nearbyintf(v) + zp);
  }
}

/* Quantize rows [r0, r0+nr) of x into A (stride in_pad, zero padded) for
** the u8 builds (the AVX2 build has its own, into u16). */
static void quantize_rows(int isa, const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                          uint32_t nr, uint8_t *A, float *sx, int32_t *zp) {
  if (isa == ENC_AVX512_VNNI || isa == ENC_AMX_INT8) {
    q8_quantize_rows_avx512(x, in, in_pad, r0, nr, A, sx, zp);
    return;
  }
  if (isa == ENC_AVX_VNNI) {
    q8_quantize_rows_avx2u8(x, in, in_pad, r0, nr, A, sx, zp);
    return;
  }
  for (uint32_t i = 0; i < nr; i++) {
    const float *xr = x + (size_t)(r0 + i) * in;
    uint8_t *ar = A + (size_t)i * in_pad;
    float inv;
    q8_row_params(xr, in, &sx[i], &inv, &zp[i]);
    q8_quantize_row_ref(xr, in, inv, zp[i], ar);
    for (uint32_t kk = in; kk < in_pad; kk++) ar[kk] = 0;
  }
}

/* ------------------------------------------------------------ kernels */

/* Portable fallback: the same integer sums, one output at a time. */
static void kernel_portable(const uint8_t *A, size_t lda, uint32_t mr, const float *sx,
                            const int32_t *zp, const q8_matrix *q, uint32_t n0, uint32_t n1,
                            const float *bias, float *y, size_t ldy) {
  for (uint32_t i = 0; i < mr; i++) {
    const uint8_t *a = A + i * lda;
    for (uint32_t n = n0; n < n1; n++) {
      const int8_t *blk = q->w + (size_t)(n >> 4) * q->in_pad * 16 + (n & 15) * 4;
      int32_t acc = -zp[i] * q->wsum[n];
      for (uint32_t g = 0; g < q->in_pad / 4; g++)
        for (int t = 0; t < 4; t++) acc += (int32_t)a[4 * g + t] * blk[(size_t)g * 64 + t];
      y[i * ldy + n] = fmaf((float)acc, sx[i] * q->scale[n], bias ? bias[n] : 0.0f);
    }
  }
}

/* The scalar build over 16-channel blocks [b0, b1), stores within [c0, c1). */
static void tiles_scalar(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                         const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                         uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  uint32_t n0 = b0 * 16 > c0 ? b0 * 16 : c0, n1 = b1 * 16 < c1 ? b1 * 16 : c1;
  kernel_portable(A, lda, nr, sx, zp, q, n0, n1, bias, y, ldy);
}

/* Rows [r0, r1) × output channels [c0, c1) (c1 <= out), with the matrix's
** isa. Whole 16-channel blocks are computed; stores are limited to the
** range. */
static int q8_block(const float *x, const q8_matrix *q, const float *bias, float *y, size_t ldy,
                    uint32_t r0, uint32_t r1, uint32_t c0, uint32_t c1) {
  if (r0 >= r1 || c0 >= c1) return 0;
  int isa = q->isa;
  q8_tiles_fn tiles = isa == ENC_AMX_INT8     ? q8_tiles_amx
                     : isa == ENC_AVX512_VNNI ? q8_tiles_avx512vnni
                     : isa == ENC_AVX_VNNI    ? q8_tiles_avxvnni
                                              : tiles_scalar;
  uint32_t b0 = c0 / 16, b1 = (c1 + 15) / 16;
  uint32_t mc = r1 - r0 < MC ? r1 - r0 : MC;
  size_t esize = isa == ENC_AVX2 ? sizeof(uint16_t) : 1; /* AVX2: u16 activations */
  /* AMX reads whole 16-row tiles: rows past the last are zeros (or the
  ** previous chunk's rows), computed and thrown away — rows never mix */
  size_t arows = isa == ENC_AMX_INT8 ? round_up(mc, 16) : mc;
  void *A = alloc64(arows * q->in_pad * esize);
  float sx[MC];
  int32_t zp[MC];
  if (!A) return BLEND_ENOMEM;
  if (isa == ENC_AMX_INT8) memset(A, 0, arows * q->in_pad);
  size_t lda = q->in_pad;
  for (uint32_t rc = r0; rc < r1; rc += mc) {
    uint32_t nr = r1 - rc < mc ? r1 - rc : mc;
    float *yc = y + (size_t)rc * ldy;
    if (isa == ENC_AVX2) {
      q8_quantize_rows_avx2(x, q->in, q->in_pad, rc, nr, A, sx, zp);
      q8_tiles_avx2(A, lda, nr, sx, zp, q, b0, b1, c0, c1, bias, yc, ldy);
      continue;
    }
    quantize_rows(isa, x, q->in, q->in_pad, rc, nr, A, sx, zp);
    tiles(A, lda, nr, sx, zp, q, b0, b1, c0, c1, bias, yc, ldy);
  }
  free(A);
  return 0;
}

const char *q8_kernel_name(const q8_matrix *q) { return enc_isa_name(q->isa); }

/* ---------------------------------------------------------- splitting */

/* Rows when each part gets a few register tiles' worth, else channel
** blocks. Depends only on (rows, blocks, nparts), so any split computes
** the same values. */
static void split(uint32_t rows, uint32_t blocks, unsigned part, unsigned nparts, uint32_t *r0,
                  uint32_t *r1, uint32_t *b0, uint32_t *b1) {
  if (nparts <= 1) {
    *r0 = 0, *r1 = rows, *b0 = 0, *b1 = blocks;
  } else if (rows >= (uint32_t)nparts * MR * 4 || blocks < nparts) {
    uint64_t per = ((uint64_t)rows + nparts - 1) / nparts;
    per = (per + MR - 1) / MR * MR;
    uint64_t a = per * part, b = a + per;
    *r0 = (uint32_t)(a < rows ? a : rows);
    *r1 = (uint32_t)(b < rows ? b : rows);
    *b0 = 0, *b1 = blocks;
  } else {
    uint64_t a = (uint64_t)blocks * part / nparts, b = (uint64_t)blocks * (part + 1) / nparts;
    *r0 = 0, *r1 = rows, *b0 = (uint32_t)a, *b1 = (uint32_t)b;
  }
}

int q8_linear_part(const float *x, uint32_t rows, const q8_matrix *q, const float *bias, float *y,
                   unsigned part, unsigned nparts) {
  if (nparts == 0) nparts = 1;
  if (part >= nparts) return 0;
  uint32_t r0, r1, b0, b1;
  split(rows, q->out_pad / 16, part, nparts, &r0, &r1, &b0, &b1);
  uint32_t c1 = b1 * 16 < q->out ? b1 * 16 : q->out;
  return q8_block(x, q, bias, y, q->out, r0, r1, b0 * 16, c1);
}

int q8_linear_block(const float *x, uint32_t rows, const q8_matrix *q, uint32_t c0, uint32_t c1,
                    const float *bias, float *y, size_t ldy) {
  if (c1 > q->out) c1 = q->out;
  if (ldy < c1) return BLEND_EINVAL;
  return q8_block(x, q, bias, y, ldy, 0, rows, c0, c1);
}

typedef struct part_job {
  quant_part_fn fn;
  void *ctx;
  unsigned part, nparts;
  int rc;
} part_job;

static void *part_thread(void *arg) {
  part_job *j = arg;
  j->rc = j->fn(j->ctx, j->part, j->nparts);
  return NULL;
}

enum { MAX_THREADS = 64 };

int quant_run_parts(quant_part_fn fn, void *ctx, unsigned nparts) {
  if (nparts > MAX_THREADS) nparts = MAX_THREADS;
  if (nparts <= 1) return fn(ctx, 0, 1);
  part_job jobs[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  unsigned started = 0;
  for (unsigned t = 0; t < nparts; t++) jobs[t] = (part_job){fn, ctx, t, nparts, 0};
  for (unsigned t = 1; t < nparts; t++) {
    if (pthread_create(&tid[t], NULL, part_thread, &jobs[t]) != 0) break;
    started = t;
  }
  part_thread(&jobs[0]);
  for (unsigned t = 1; t <= started; t++) pthread_join(tid[t], NULL);
  /* Parts no thread took (pthread_create failed) run here. */
  for (unsigned t = started + 1; t < nparts; t++) part_thread(&jobs[t]);
  int rc = 0;
  for (unsigned t = 0; t < nparts; t++)
    if (jobs[t].rc) rc = jobs[t].rc;
  return rc;
}

typedef struct q8_args {
  const float *x;
  uint32_t rows;
  const q8_matrix *q;
  const float *bias;
  float *y;
} q8_args;

static int q8_part(void *ctx, unsigned part, unsigned nparts) {
  q8_args *a = ctx;
  return q8_linear_part(a->x, a->rows, a->q, a->bias, a->y, part, nparts);
}

int q8_linear(const float *x, uint32_t rows, const q8_matrix *q, const float *bias, float *y,
              unsigned nthreads) {
  /* Each extra thread needs ~8M multiply-adds (~40 µs) to repay creating it. */
  uint64_t work = (uint64_t)rows * q->in_pad * q->out_pad;
  if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
  if (nthreads > 1 && work / nthreads < (8u << 20)) nthreads = work >> 23 > 1 ? (unsigned)(work >> 23) : 1;
  q8_args a = {x, rows, q, bias, y};
  return quant_run_parts(q8_part, &a, nthreads);
}

/* --------------------------------------------------------- scalar twin */

int q8_linear_ref(const float *x, uint32_t rows, const q8_matrix *q, const float *bias, float *y) {
  uint8_t *u = malloc(q->in);
  if (!u) return BLEND_ENOMEM;
  for (uint32_t r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * q->in;
    float sx, inv;
    int32_t zp;
    q8_row_params(xr, q->in, &sx, &inv, &zp);
    q8_quantize_row_ref(xr, q->in, inv, zp, u);
    for (uint32_t n = 0; n < q->out; n++) {
      int32_t acc = 0;
      for (uint32_t k = 0; k < q->in; k++) acc += (int32_t)u[k] * q8_weight_at(q, n, k);
      acc -= zp * q->wsum[n];
      y[(size_t)r * q->out + n] = fmaf((float)acc, sx * q->scale[n], bias ? bias[n] : 0.0f);
    }
  }
  free(u);
  return 0;
}
