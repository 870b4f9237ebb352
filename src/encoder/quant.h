/*
** quant.h — int8 linear layers for the BERT encoder (y = x·Wᵀ + b with W
** stored [out, in] row-major, the Hugging Face layout).
**
** Weights: symmetric per-output-channel int8 (scale = max|w|/127), packed
** once by q8_quantize into the layout the VNNI kernel streams.
** Activations: dynamic per-row (per-token) asymmetric uint8 with a zero
** point, so vpdpbusd (u8×s8) applies directly:
**     Σ x·w ≈ sx·sw · (Σ u·q − zp·Σ q)          (Σ q = wsum, precomputed)
** Accumulation is exact int32, so every build (AVX-512 VNNI, AVX2, scalar:
** picked at run time by the matrix's isa) and the scalar twin q8_linear_ref
** produce bit-identical outputs (NaN inputs included: they quantize to 0):
** same quantization arithmetic, same integer sums, same float epilogue
**     y = fmaf((float)(Σ u·q − zp·wsum), sx·sw, b).
**
** Threading: a q8_matrix is read-only after q8_quantize and may be shared.
** q8_linear_part computes a deterministic share of the output (rows when
** there are enough, else 16-column blocks), so a caller's thread pool runs
** parts 0..n-1 and gets exactly the result of one call; q8_linear does the
** same with short-lived pthreads. No global state.
**
** f32_linear: the same y = x·Wᵀ + b in float with pre-packed weights
** (f32_pack) and an AVX-512 FMA micro-kernel; see bench/bench_gemm.c for
** whether it beats cblas_sgemm on the encoder's shapes.
*/
#ifndef BLEND_QUANT_H
#define BLEND_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

/* Weight layout: output channels in blocks of 16 (out_pad = out rounded up
** to 16, padding rows are zero), input in groups of 4 (in_pad = in rounded
** up to 64, an AMX tile row, zero padded). Block b, group g holds 64 bytes: for channel c in
** 0..15 the four weights W[16b+c][4g..4g+3]. Use q8_weight_at to read. */
typedef struct q8_matrix {
  int8_t *w;       /* packed, (out_pad/16) blocks × in_pad × 16 bytes, 64-aligned */
  float *scale;    /* [out_pad] per output channel (0 for padding/all-zero rows) */
  int32_t *wsum;   /* [out_pad] Σ_k q[n][k], for the activation zero point */
  uint32_t out, in;
  uint32_t out_pad, in_pad;
  int isa;         /* enum enc_isa of the kernels that run it (dispatch.h):
                      q8_quantize sets this CPU's best; tests may lower it */
} q8_matrix;

static inline int8_t q8_weight_at(const q8_matrix *q, uint32_t n, uint32_t k) {
  return q->w[(size_t)(n >> 4) * q->in_pad * 16 + (size_t)(k >> 2) * 64 + (n & 15) * 4 + (k & 3)];
}

/* Quantize W [out, in] (row-major float). Fails with BLEND_EINVAL on zero
** sizes, in > 65536 (keeps int32 sums exact) or a non-finite weight
** (named by row/column), BLEND_ENOMEM on
** allocation failure. On failure *q is left zeroed (q8_free is safe). */
int q8_quantize(const float *W, uint32_t out, uint32_t in, q8_matrix *q, blend_error *err);
void q8_free(q8_matrix *q);

/* y[rows, out] = x[rows, in] · Wᵀ + bias (bias may be NULL). Rows of x and
** y are contiguous (stride in / out). x and y must not overlap.
** nthreads <= 1 runs on the caller's thread; small problems ignore extra
** threads; if a thread cannot be created its share runs on the caller.
** Returns 0 or BLEND_ENOMEM (scratch allocation; y is then incomplete). */
int q8_linear(const float *x, uint32_t rows, const q8_matrix *q, const float *bias,
              float *y, unsigned nthreads);

/* One share of q8_linear: parts 0..nparts-1 together write every output
** exactly once and the result equals q8_linear bit for bit, whatever nparts.
** Each part allocates its own small scratch. Returns 0 or BLEND_ENOMEM. */
int q8_linear_part(const float *x, uint32_t rows, const q8_matrix *q, const float *bias,
                   float *y, unsigned part, unsigned nparts);

/* The building block for callers that split work themselves (e.g. the
** forward pass's gemm tasks): rows [0, rows) of x (stride in) times output
** channels [c0, c1) (any range; c1 is clamped to out), written at
** y[r·ldy + n] for n in [c0, c1) with bias[n] — absolute column indices,
** so y and bias point at column 0. Row splits: pass x + r0·in, y + r0·ldy.
** Whole 16-channel blocks are computed, so ranges aligned to 16 waste
** nothing. Every value equals q8_linear's for the same row and column.
** Returns 0, BLEND_EINVAL (ldy < c1) or BLEND_ENOMEM. */
int q8_linear_block(const float *x, uint32_t rows, const q8_matrix *q, uint32_t c0, uint32_t c1,
                    const float *bias, float *y, size_t ldy);

/* Scalar twin with identical math; tests compare q8_linear with it. */
int q8_linear_ref(const float *x, uint32_t rows, const q8_matrix *q, const float *bias,
                  float *y);

/* Per-row activation quantization used by both paths (exposed for tests):
** range = max(x,0) − min(x,0), scale = range/255, inv = 1/scale,
** zp = nearbyint(−min(x,0)·inv), u[k] = nearbyint(clamp(x[k]·inv, −zp,
** 255−zp)) + zp, so 0 maps exactly to zp. An all-zero row (or a range so
** small that 1/scale overflows) gives scale 1, inv 0, zp 0: all u = 0. */
void q8_row_params(const float *x, uint32_t n, float *scale, float *inv, int32_t *zp);
void q8_quantize_row_ref(const float *x, uint32_t n, float inv, int32_t zp, uint8_t *u);

/* The build that runs q (enc_isa_name of q->isa: "amx-int8",
** "avx512-vnni", "avx-vnni", "avx2" or "scalar"; all compute the same
** integers). */
const char *q8_kernel_name(const q8_matrix *q);

/* ---------------------------------------------------------------- f32 */

/* W [out, in] repacked into 32-channel panels, channel-fastest per k. */
typedef struct f32_packed {
  float *w;        /* (out_pad/32) panels × in × 32 floats, 64-aligned */
  uint32_t out, in, out_pad;
  int isa;         /* enum enc_isa: ENC_AVX512, ENC_AVX2 or ENC_SCALAR (f32_pack: best) */
} f32_packed;

int f32_pack(const float *W, uint32_t out, uint32_t in, f32_packed *p, blend_error *err);
void f32_packed_free(f32_packed *p);

/* y[rows, out] = x[rows, in] · Wᵀ + bias (bias may be NULL), same threading
** contract as q8_linear / q8_linear_part; every value is the same whatever
** the split or thread count. Float sums in a different order from a naive
** loop (blocked over k), so compare with f32_linear_ref to ~1e-6 relative.
** These never fail (they allocate nothing) and return 0. */
int f32_linear(const float *x, uint32_t rows, const f32_packed *p, const float *bias,
               float *y, unsigned nthreads);
int f32_linear_part(const float *x, uint32_t rows, const f32_packed *p, const float *bias,
                    float *y, unsigned part, unsigned nparts);
/* Same contract as q8_linear_block (32-channel panels: ranges aligned to
** 32 waste nothing). */
int f32_linear_block(const float *x, uint32_t rows, const f32_packed *p, uint32_t c0, uint32_t c1,
                     const float *bias, float *y, size_t ldy);
/* "avx512", "avx2" or "scalar" (with "scalar" cblas_sgemm is faster). */
const char *f32_kernel_name(const f32_packed *p);

/* Naive triple loop in double accumulation over the unpacked W, for tests. */
void f32_linear_ref(const float *x, uint32_t rows, const float *W, uint32_t out,
                    uint32_t in, const float *bias, float *y);

/* --------------------------------------------------------------- bf16 */

/* BF16 (bfloat16: the top 16 bits of a float32) weights and activations
** with float32 accumulation (AVX-512 BF16 vdpbf16ps). W [out, in] is packed
** into 32-channel panels of input pairs: panel p, pair g holds for channel
** c in 0..31 the two weights W[32p+c][2g], W[32p+c][2g+1] (in_pad = in
** rounded up to 32, an AMX tile row; out_pad to 32; padding zero). Activation rows are
** rounded to bf16 (round to nearest even) as each block is computed. */
typedef struct bf16_packed {
  uint16_t *w;     /* (out_pad/32) panels × in_pad/2 pairs × 64 values, 64-aligned */
  uint32_t out, in, in_pad, out_pad;
  int isa;         /* ENC_AMX_BF16, ENC_AVX512_BF16, or ENC_SCALAR (the emulating twin) */
} bf16_packed;

/* float32 → bf16 exactly as vcvtne2ps2bf16: round to nearest even, NaN
** stays NaN (quieted), denormal inputs and outputs become signed zeros. */
uint16_t bf16_from_f32(float f);
static inline float bf16_to_f32(uint16_t h) {
  union { uint32_t u; float f; } v = {(uint32_t)h << 16};
  return v.f;
}

/* Fails with BLEND_EINVAL on empty or oversized W or a non-finite weight,
** BLEND_ENOMEM; on failure *p is zeroed. isa starts at this CPU's BF16
** build when it has one, else ENC_SCALAR. */
int bf16_pack(const float *W, uint32_t out, uint32_t in, bf16_packed *p, blend_error *err);
void bf16_packed_free(bf16_packed *p);
/* Same contracts as f32_linear / f32_linear_part / f32_linear_block; the
** calls allocate a small bf16 copy of the activations: 0 or BLEND_ENOMEM. */
int bf16_linear(const float *x, uint32_t rows, const bf16_packed *p, const float *bias,
                float *y, unsigned nthreads);
int bf16_linear_part(const float *x, uint32_t rows, const bf16_packed *p, const float *bias,
                     float *y, unsigned part, unsigned nparts);
int bf16_linear_block(const float *x, uint32_t rows, const bf16_packed *p, uint32_t c0,
                      uint32_t c1, const float *bias, float *y, size_t ldy);
const char *bf16_kernel_name(const bf16_packed *p);
/* The twin: x rounded to bf16, products of the packed bf16 weights summed
** in double. Kernels differ from it only by float32 summation order. */
void bf16_linear_ref(const float *x, uint32_t rows, const bf16_packed *p, const float *bias,
                     float *y);

/* Run fn(ctx, part, nparts) for every part < nparts (at most 64) on
** short-lived threads: the caller runs part 0, and any part no thread could
** be created for. Returns the last non-zero result, or 0. Shared by
** q8_linear and f32_linear. */
typedef int (*quant_part_fn)(void *ctx, unsigned part, unsigned nparts);
int quant_run_parts(quant_part_fn fn, void *ctx, unsigned nparts);

#endif
