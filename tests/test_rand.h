/*
** test_rand.h — deterministic random numbers for the tests (xorshift64), so
** a failure reproduces run after run. Each test program that includes it
** has its own state; test_rng_seed restarts it.
*/
#ifndef BLEND_TEST_RAND_H
#define BLEND_TEST_RAND_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t test_rng_state = 0x9E3779B97F4A7C15ull;

static inline void test_rng_seed(uint64_t seed) { test_rng_state = seed ? seed : 1; }

static inline uint32_t rnd(void) {
  test_rng_state ^= test_rng_state << 13;
  test_rng_state ^= test_rng_state >> 7;
  test_rng_state ^= test_rng_state << 17;
  return (uint32_t)(test_rng_state >> 32);
}

/* uniform in [-1, 1) */
static inline float frand(void) { return (float)rnd() / 4294967296.0f * 2.0f - 1.0f; }

/* n values, a sum of three uniforms (bell-shaped, |v| < 3) × amp + offset;
** malloc'd, the caller frees. */
static inline float *rand_buf(size_t n, float amp, float offset) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n && p; i++) p[i] = (frand() + frand() + frand()) * amp + offset;
  return p;
}

/* The int8 kernels' hostile rows, for a rows × in activation matrix with
** more than two rows: row 1 all zero, row 2 starts with NaN (and +inf). */
static inline void hostile_rows(float *x, uint32_t rows, uint32_t in, int with_inf) {
  if (rows <= 2) return;
  memset(x + in, 0, in * sizeof *x);
  x[2 * in] = NAN;
  if (with_inf && in > 1) x[2 * in + 1] = INFINITY;
}

#endif
