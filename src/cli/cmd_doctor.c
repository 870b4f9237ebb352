/*
** cmd_doctor.c — `blend doctor`: what this machine gives blend's kernels.
** Prints the CPU and the features the OS lets programs use (cpuid + xgetbv),
** AMX (listed? tile permission granted by the kernel?), the instruction set
** the binary was compiled for, and the kernel build every encoder unit and
** the vector scan pick at load on this CPU. `blend --version` prints the
** same in one line (cli_version_line).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "encoder/dispatch.h"
#include "util/cpu.h"
#include "vector/vector.h"

static const char *compiled_for(void) {
#if defined(__AVX512F__)
  return "AVX-512 (-march includes it; this binary needs AVX-512)";
#elif defined(__AVX2__)
  return "x86-64-v3 (AVX2 baseline)";
#elif defined(__SSE4_2__)
  return "x86-64-v2 (SSE4.2 baseline; AVX2/AVX-512 kernels chosen at run time)";
#elif defined(__x86_64__)
  return "x86-64 (SSE2 baseline; AVX2/AVX-512 kernels chosen at run time)";
#else
  return "a non-x86 target (portable C kernels only)";
#endif
}

void cli_version_line(FILE *f) {
  cpu_features c;
  cpu_detect(&c);
  enc_kernels k;
  int cap = enc_isa_cap_from_env(NULL);
  enc_kernels_select(&c, cap < 0 ? ENC_CAP_NONE : cap, &k);
  fprintf(f, "cpu: %s; kernels: f32 %s, int8 %s, bf16 %s, vectors %s (blend doctor for more)\n",
          c.brand[0] ? c.brand : "unknown", enc_isa_name(k.f32), enc_isa_name(k.q8),
          k.bf16 != ENC_SCALAR ? enc_isa_name(k.bf16) : "unavailable", vec_kernel_name());
}

int cmd_doctor(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: blend doctor\n\n"
             "Print the CPU, the SIMD features usable on it, AMX availability, and the\n"
             "kernels blend's encoder and vector search choose here (at model load).\n"
             "BLEND_ISA_CAP=<set> (scalar, avx2, avx-vnni, avx512, avx512-vnni, avx512-bf16,\n"
             "amx-int8, amx-bf16) keeps every model load at or below that kernel set.\n");
      return 0;
    }
    fprintf(stderr, "blend doctor: unknown option '%s' (see --help)\n", argv[i]);
    return 2;
  }
  cpu_features c;
  cpu_detect(&c);
  char feats[512];
  cpu_feature_list(&c, feats, sizeof feats);
  printf("blend %s\n", BLEND_VERSION);
  printf("cpu:            %s (%s)\n", c.brand[0] ? c.brand : "unknown", c.vendor[0] ? c.vendor : "?");
  printf("features:       %s\n", feats[0] ? feats : "(none beyond the baseline)");
  printf("os state:       avx %s, avx-512 %s, amx tiles %s (XCR0)\n", c.os_avx ? "on" : "off",
         c.os_avx512 ? "on" : "off", c.os_amx ? "on" : "off");
  if (!c.amx_tile) {
    printf("amx:            not on this CPU (no AMX-TILE in cpuid)\n");
  } else {
    int rc = c.amx_perm ? 0 : cpu_request_amx(&c);
    printf("amx:            tile%s%s; tile-data permission %s%s%s\n", c.amx_int8 ? " int8" : "",
           c.amx_bf16 ? " bf16" : "", rc == 0 ? "granted" : "refused (",
           rc == 0 ? "" : strerror(errno), rc == 0 ? "" : ") - the AVX-512 kernels run");
  }
  printf("compiled for:   %s\n", compiled_for());
  enc_kernels k;
  blend_error err = {0};
  int cap = enc_isa_cap_from_env(&err);
  if (cap < 0) {
    fprintf(stderr, "blend doctor: %s\n", err.message);
    return 1;
  }
  enc_kernels_select(&c, cap, &k);
  if (cap != ENC_CAP_NONE)
    printf("encoder kernels (chosen once, at model load; capped by BLEND_ISA_CAP=%s):\n",
           enc_isa_name(cap));
  else
    printf("encoder kernels (chosen once, at model load):\n");
  printf("  f32 linear    %s\n", enc_isa_name(k.f32));
  printf("  int8 linear   %s%s\n", enc_isa_name(k.q8),
         k.q8 == ENC_AMX_INT8    ? " (tdpbusd tiles)"
         : k.q8 == ENC_AVX512_VNNI ? " (vpdpbusd)"
         : k.q8 == ENC_AVX_VNNI  ? " (vpdpbusd ymm, VEX)"
         : k.q8 == ENC_AVX2      ? " (vpmaddwd, exact)"
                                 : "");
  if (k.bf16 != ENC_SCALAR)
    printf("  bf16 linear   %s; --bf16 available\n",
           k.bf16 == ENC_AMX_BF16 ? "amx-bf16 (tdpbf16ps tiles)" : "avx512-bf16 (vdpbf16ps)");
  else if (cap < ENC_AVX512_BF16 && enc_isa_supported(&c, ENC_AVX512_BF16))
    printf("  bf16 linear   unavailable under BLEND_ISA_CAP: --bf16 fails\n");
  else
    printf("  bf16 linear   unavailable: --bf16 fails on this CPU (needs AVX-512 BF16)\n");
  printf("  attention     %s (f32 and bf16 precisions); int8 precision %s\n", enc_isa_name(k.vec),
         k.att == ENC_AVX512_BF16   ? "avx512-bf16 (QK and PV in bf16)"
         : k.att == ENC_AVX512_VNNI ? "avx512-vnni (QK and PV in int16, vpdpwssd)"
         : k.att == ENC_AVX_VNNI    ? "avx-vnni (QK and PV in int16, vpdpwssd ymm)"
                                    : enc_isa_name(k.att));
  printf("  elementwise   %s (GELU, LayerNorm)\n", enc_isa_name(k.vec));
  printf("vector kernels: %s\n", vec_kernel_name());
  return 0;
}
