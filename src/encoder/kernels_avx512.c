/*
** kernels_avx512.c — kernels_impl.h compiled for AVX-512 F/BW/VL/DQ (Skylake-SP and later, Zen 4 and later),
** whatever -march the library is built with: the functions carry the
** target through a pragma and are only called after the CPU check in
** dispatch.c. Names: k_*_avx512 (see kernels.h).
*/
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "fp-contract=fast")
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,fma")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), apply_to = function)
#endif

#define KN(name) name##_avx512
#define KN_OWN_ATTENTION /* attention_f32_avx512.c */
#include "encoder/kernels_impl.h"
#undef KN

#if defined(__clang__)
#pragma clang attribute pop
#endif
