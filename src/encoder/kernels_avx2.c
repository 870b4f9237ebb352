/*
** kernels_avx2.c — kernels_impl.h compiled for AVX2 + FMA (Haswell and later, Zen 1 and later),
** whatever -march the library is built with: the functions carry the
** target through a pragma and are only called after the CPU check in
** dispatch.c. Names: k_*_avx2 (see kernels.h).
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("avx2,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif

#define KN(name) name##_avx2
#include "encoder/kernels_impl.h"
#undef KN

#if defined(__clang__)
#pragma clang attribute pop
#endif
