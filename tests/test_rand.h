/*
** test_rand.h — deterministic random numbers for the tests (xorshift64), so
** a failure reproduces run after run. Each test program that includes it
** has its own state; test_rng_seed restarts it.
*/
#ifndef BLEND_TEST_RAND_H
#define BLEND_TEST_RAND_H

#include <stdint.h>

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

#endif
