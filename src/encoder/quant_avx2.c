/*
** quant_avx2.c — the int8 linear layer on AVX2 (CPUs without VNNI): exact
** u8 × s8 products through 16-bit lanes (vpmovsxbw / vpmaddwd → s32), never
** vpmaddubsw, whose saturating 16-bit pair sums would break exactness
** (255·127·2 > 32767). Output equals the scalar twin's bit for bit.
** Tile: 2 rows × one 16-channel block; per 4-byte input group each row's
** four activations are broadcast as 16-bit words and multiplied with the
** block's 64 weights (4 ymm of 16 words). Compiled under a target pragma;
** quant.c calls it only when the CPU has AVX2.
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif

#include <immintrin.h>
#include <string.h>

#include "encoder/quant_isa.h"

void q8_quantize_rows_avx2(const float *x, uint32_t in, uint32_t in_pad, uint32_t r0,
                           uint32_t nr, uint8_t *A, float *sx, int32_t *zp) {
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (uint32_t i = 0; i < nr; i++) {
    const float *xr = x + (size_t)(r0 + i) * in;
    uint8_t *ar = A + (size_t)i * in_pad;
    /* min/max (starting at 0; NaN in x keeps the running value, as the twin) */
    __m256 mn0 = _mm256_setzero_ps(), mx0 = mn0, mn1 = mn0, mx1 = mn0;
    uint32_t k = 0;
    for (; k + 16 <= in; k += 16) {
      __m256 v0 = _mm256_loadu_ps(xr + k), v1 = _mm256_loadu_ps(xr + k + 8);
      mn0 = _mm256_min_ps(v0, mn0), mx0 = _mm256_max_ps(v0, mx0);
      mn1 = _mm256_min_ps(v1, mn1), mx1 = _mm256_max_ps(v1, mx1);
    }
    float mnv[8], mxv[8];
    _mm256_storeu_ps(mnv, _mm256_min_ps(mn0, mn1));
    _mm256_storeu_ps(mxv, _mm256_max_ps(mx0, mx1));
    float mn = 0.0f, mx = 0.0f;
    for (int t = 0; t < 8; t++) {
      if (mnv[t] < mn) mn = mnv[t];
      if (mxv[t] > mx) mx = mxv[t];
    }
    for (; k < in; k++) {
      if (xr[k] < mn) mn = xr[k];
      if (xr[k] > mx) mx = xr[k];
    }
    float inv;
    q8_params_from_range(mn, mx, &sx[i], &inv, &zp[i]);
    __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)-zp[i]),
           hi = _mm256_set1_ps((float)(255 - zp[i]));
    __m256i vzp = _mm256_set1_epi32(zp[i]);
    for (k = 0; k + 32 <= in; k += 32) {
      __m256i q[4];
      for (int t = 0; t < 4; t++) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xr + k + 8 * t), vinv);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi); /* NaN → lo, as the twin */
        q[t] = _mm256_add_epi32(_mm256_cvtps_epi32(v), vzp);
      }
      __m256i p = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256((__m256i *)(void *)(ar + k), _mm256_permutevar8x32_epi32(p, perm));
    }
    if (k < in) q8_quantize_row_ref(xr + k, in - k, inv, zp[i], ar + k);
    for (uint32_t kk = in; kk < in_pad; kk++) ar[kk] = 0;
  }
}

/* Four 16-bit copies of the 4 activation bytes at a. */
static inline __m256i bcast4(const uint8_t *a) {
  uint64_t w = (uint64_t)a[0] | (uint64_t)a[1] << 16 | (uint64_t)a[2] << 32 | (uint64_t)a[3] << 48;
  return _mm256_set1_epi64x((long long)w);
}

/* 8 channel sums from two accumulators of channel pairs (see the layout
** note in q8_tiles_avx2). */
static inline __m256i fold(__m256i a0, __m256i a1) {
  const __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  return _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(a0, a1), perm);
}

static inline void epilogue8(__m256i acc, int32_t zp, float sx, const q8_matrix *q, uint32_t n,
                             uint32_t c0, uint32_t c1, const float *bias, float *y) {
  uint32_t lo = c0 > n ? c0 - n : 0, hi = c1 > n ? c1 - n : 0;
  if (hi > 8) hi = 8;
  if (lo >= hi) return;
  acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(zp),
                                                 _mm256_loadu_si256((const __m256i *)(const void *)(q->wsum + n))));
  __m256 s = _mm256_mul_ps(_mm256_set1_ps(sx), _mm256_loadu_ps(q->scale + n));
  float bb[8] = {0};
  if (bias)
    for (uint32_t t = lo; t < hi; t++) bb[t] = bias[n + t];
  __m256 r = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), s, _mm256_loadu_ps(bb));
  if (lo == 0 && hi == 8) {
    _mm256_storeu_ps(y + n, r);
    return;
  }
  float t8[8];
  _mm256_storeu_ps(t8, r);
  for (uint32_t t = lo; t < hi; t++) y[n + t] = t8[t];
}

/* Block layout: group g holds, for channel c in 0..15, 4 weights at byte
** 4c. Loaded as 4 × 16 bytes = channels 0-3, 4-7, 8-11, 12-15, each widened
** to 16 words; vpmaddwd with the row's 4 activations repeated gives per
** channel two partial sums (k0+k1, k2+k3) in adjacent dwords, so after the
** loop hadd + a lane permute yields 8 channel totals. */
void q8_tiles_avx2(const uint8_t *A, size_t lda, uint32_t nr, const float *sx,
                   const int32_t *zp, const q8_matrix *q, uint32_t b0, uint32_t b1,
                   uint32_t c0, uint32_t c1, const float *bias, float *y, size_t ldy) {
  uint32_t ng = q->in_pad / 4;
  for (uint32_t bb = b0; bb < b1; bb++) {
    const int8_t *B = q->w + (size_t)bb * q->in_pad * 16;
    uint32_t n = bb * 16;
    for (uint32_t i = 0; i < nr; i += 2) {
      int two = i + 1 < nr;
      const uint8_t *a0 = A + i * lda, *a1 = two ? a0 + lda : a0;
      __m256i s00 = _mm256_setzero_si256(), s01 = s00, s02 = s00, s03 = s00;
      __m256i s10 = s00, s11 = s00, s12 = s00, s13 = s00;
      for (uint32_t g = 0; g < ng; g++) {
        const int8_t *bg = B + (size_t)g * 64;
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)bg));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(bg + 16)));
        __m256i w2 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(bg + 32)));
        __m256i w3 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(const void *)(bg + 48)));
        __m256i x0 = bcast4(a0 + 4 * g), x1 = bcast4(a1 + 4 * g);
        s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(w0, x0));
        s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(w1, x0));
        s02 = _mm256_add_epi32(s02, _mm256_madd_epi16(w2, x0));
        s03 = _mm256_add_epi32(s03, _mm256_madd_epi16(w3, x0));
        s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(w0, x1));
        s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(w1, x1));
        s12 = _mm256_add_epi32(s12, _mm256_madd_epi16(w2, x1));
        s13 = _mm256_add_epi32(s13, _mm256_madd_epi16(w3, x1));
      }
      /* s0t: channels 4t..4t+3 as pairs; lane 0 holds channels 4t, 4t+1 */
      __m256i r0lo = fold(s00, s01), r0hi = fold(s02, s03);
      epilogue8(r0lo, zp[i], sx[i], q, n, c0, c1, bias, y + (size_t)i * ldy);
      epilogue8(r0hi, zp[i], sx[i], q, n + 8, c0, c1, bias, y + (size_t)i * ldy);
      if (two) {
        __m256i r1lo = fold(s10, s11), r1hi = fold(s12, s13);
        epilogue8(r1lo, zp[i + 1], sx[i + 1], q, n, c0, c1, bias, y + (size_t)(i + 1) * ldy);
        epilogue8(r1hi, zp[i + 1], sx[i + 1], q, n + 8, c0, c1, bias, y + (size_t)(i + 1) * ldy);
      }
    }
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
