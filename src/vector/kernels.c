/*
** kernels.c — the portable scalar twin of every distance kernel, the one
** fixed summation order all paths share, and run-time dispatch.
**
** Summation order (float kernels): element d goes to lane d % 64 through a
** fused multiply-add (fmaf: one rounding, as the SIMD FMA); the 64 lanes are
** then folded as s[i] = (l[i]+l[i+16]) + (l[i+32]+l[i+48]) (16 lanes),
** then halves 8, 4, 2, 1. AVX-512 keeps the 64 lanes in four zmm
** accumulators, AVX2 in eight ymm, so all three return the same bits — the
** exact scan, HNSW and vec_score agree to the last bit on every machine.
** Integer kernels are exact whatever the order.
*/
#include <math.h>
#include <string.h>

#include "vector/vec_internal.h"

static float fold64(const float l[64]) {
  float s[16], t[8], u[4];
  for (int i = 0; i < 16; i++) s[i] = (l[i] + l[i + 16]) + (l[i + 32] + l[i + 48]);
  for (int i = 0; i < 8; i++) t[i] = s[i] + s[i + 8];
  for (int i = 0; i < 4; i++) u[i] = t[i] + t[i + 4];
  float v0 = u[0] + u[2], v1 = u[1] + u[3];
  return v0 + v1;
}

static float dot_scalar(const float *a, const float *b, size_t n) {
  float l[64] = {0};
  for (size_t d = 0; d < n; d++) l[d & 63] = fmaf(a[d], b[d], l[d & 63]);
  return fold64(l);
}

static float l2_scalar(const float *a, const float *b, size_t n) {
  float l[64] = {0};
  for (size_t d = 0; d < n; d++) {
    float x = a[d] - b[d];
    l[d & 63] = fmaf(x, x, l[d & 63]);
  }
  return fold64(l);
}

static int32_t dot_u8s8_scalar(const uint8_t *c, const int8_t *q, size_t n) {
  int32_t s = 0;
  for (size_t d = 0; d < n; d++) s += (int32_t)c[d] * (int32_t)q[d];
  return s;
}

static void dot4_scalar(const float *q, const float *const r[4], size_t n, float out[4]) {
  for (int i = 0; i < 4; i++) out[i] = dot_scalar(q, r[i], n);
}
static void l2_4_scalar(const float *q, const float *const r[4], size_t n, float out[4]) {
  for (int i = 0; i < 4; i++) out[i] = l2_scalar(q, r[i], n);
}

const vec_kernels vec_kernels_scalar = {"scalar", dot_scalar, l2_scalar, dot_u8s8_scalar,
                                        dot4_scalar, l2_4_scalar};

/* ---- dispatch: decided from cpuid (libgcc's __builtin_cpu_supports, which
** also checks that the OS saves the wide registers) on every call; there is
** nothing cached, so no global state. */
#ifdef VEC_HAVE_X86
static int cpu_has_avx512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
static int cpu_has_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

const vec_kernels *vec_kernels_best(void) {
#ifdef VEC_HAVE_X86
  if (cpu_has_avx512()) return &vec_kernels_avx512;
  if (cpu_has_avx2()) return &vec_kernels_avx2;
#endif
  return &vec_kernels_scalar;
}

const vec_kernels *vec_kernels_by_name(const char *name) {
  if (!name) return NULL;
  if (!strcmp(name, "scalar")) return &vec_kernels_scalar;
#ifdef VEC_HAVE_X86
  if (!strcmp(name, "avx2")) return cpu_has_avx2() ? &vec_kernels_avx2 : NULL;
  if (!strcmp(name, "avx512")) return cpu_has_avx512() ? &vec_kernels_avx512 : NULL;
#endif
  return NULL;
}

const char *vec_kernels_name(const vec_kernels *k) { return k ? k->name : "none"; }
const char *vec_kernel_name(void) { return vec_kernels_best()->name; }
