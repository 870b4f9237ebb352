/*
** attention_int.h — attention for one sequence and one head with both
** products in integers, for the int8 precision on CPUs with VNNI but no
** AVX-512 BF16 (AVX-512 VNNI: Cascade Lake, Ice Lake; AVX-VNNI: Alder Lake
** and later): without it their int8 layers would still run attention as
** float32 GEMMs.
**
** Why 16-bit integers and not int8: softmax probabilities of a 128-token
** row are ~1/128 each, which 8 bits hold to ±25%; 15 bits hold them to
** 0.2%. vpdpwssd multiplies 16-bit pairs at the rate vdpbf16ps multiplies
** bf16 pairs, so the wider operands cost nothing:
**   S = scale·Q·Kᵀ — Q and K rows quantized symmetrically to ±2047 (12
**       bits, one scale per row), exact int32 sums (|q·k| ≤ 2047²·d, d ≤ 256);
**   online softmax in float32 per block of up to 256 keys; P = exp(S − max)
**       in [0, 1] quantized to 0..32767, and the row sums taken of those
**       integers, so the weights used are exactly the weights normalised;
**   out = P·V — V quantized to ±127 per channel per key block, exact int32
**       sums (32767·127·256 < 2³¹).
** Same contract as k_attention (kernels.h): q, k, v rows of stride ld,
** out rows of stride ldo, scale = 1/√d. Head sizes not a multiple of 16 or
** over 256 fall back to the float32 AVX-512 kernel.
*/
#ifndef BLEND_ATTENTION_INT_H
#define BLEND_ATTENTION_INT_H

#include <stddef.h>

/* Floats of scratch the integer kernel needs (a bound, alignment included). */
size_t k_attention_int_scratch(size_t T, size_t d);

/* The AVX-512 VNNI build (vpdpwssd); call only when the CPU has it. */
void k_attention_int_avx512vnni(const float *q, const float *k, const float *v, size_t ld,
                                size_t T, size_t d, float scale, float *out, size_t ldo,
                                float *scratch);

/* The AVX-VNNI build (VEX vpdpwssd on ymm); call only when the CPU has it.
** Head sizes it does not take fall back to the AVX2 float32 kernel. */
void k_attention_int_avxvnni(const float *q, const float *k, const float *v, size_t ld,
                             size_t T, size_t d, float scale, float *out, size_t ldo,
                             float *scratch);

/* Its scalar twin: the same quantization, the same integer sums and the
** same float operations in the same order (fmaf where the build fuses), so
** the two agree bit for bit. d must be a multiple of 16 and at most 256. */
void k_ref_attention_int(const float *q, const float *k, const float *v, size_t ld, size_t T,
                         size_t d, float scale, float *out, size_t ldo);

#endif
