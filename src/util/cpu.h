/*
** cpu.h — what the x86-64 CPU (and the OS) can run, found at run time with
** cpuid and xgetbv, so one build picks its SIMD kernels on whatever machine
** it runs on. A feature counts only when the OS also saves its register
** state (XCR0), so "avx512f" means "usable", not just "listed".
**
** AMX: the tile registers need the Linux permission ARCH_REQ_XCOMP_PERM
** (arch_prctl) before the first tile instruction; cpu_request_amx asks for
** it (once per process is enough; asking again is harmless). cpu_detect
** asks when the CPU lists AMX-TILE and the OS enables the tile state, and
** records the answer in amx_perm.
** No global state: callers keep the struct they filled.
*/
#ifndef BLEND_CPU_H
#define BLEND_CPU_H

typedef struct cpu_features {
  char vendor[13];   /* "GenuineIntel", "AuthenticAMD", ... ("" off x86) */
  char brand[49];    /* the processor brand string, trimmed */
  unsigned sse42 : 1, popcnt : 1, avx : 1, avx2 : 1, fma : 1, f16c : 1, bmi2 : 1;
  unsigned avx512f : 1, avx512bw : 1, avx512vl : 1, avx512dq : 1, avx512cd : 1;
  unsigned avx512vnni : 1, avx512bf16 : 1, avx512fp16 : 1, avx512vbmi : 1;
  unsigned avxvnni : 1;                     /* VEX-encoded VNNI on ymm (Alder Lake, Zen 5) */
  unsigned amx_tile : 1, amx_int8 : 1, amx_bf16 : 1; /* listed by cpuid */
  unsigned os_avx : 1, os_avx512 : 1, os_amx : 1;    /* state enabled in XCR0 */
  unsigned amx_perm : 1; /* Linux granted the tile data state (cpu_request_amx) */
} cpu_features;

/* Fill f from cpuid/xgetbv (zeroes everything off x86-64). */
void cpu_detect(cpu_features *f);

/* Linux: request the AMX tile data state for this process. 0 when granted
** (or already granted), -1 when the CPU, kernel or OS refuses (errno set);
** a CPU without AMX gets -1 without asking. */
int cpu_request_amx(const cpu_features *f);

/* Append the names of the usable features ("avx2 fma avx512f ...") to buf
** (size n, always NUL-terminated). Returns buf. */
char *cpu_feature_list(const cpu_features *f, char *buf, unsigned long n);

#endif
