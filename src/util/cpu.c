/*
** cpu.c — run-time CPU feature detection (see cpu.h): cpuid leaves 1, 7
** (subleaves 0 and 1) and 0x80000002..4 for the brand, xgetbv for the OS
** register state, arch_prctl for the AMX permission.
*/
#include "util/cpu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CPU_X86 1
#else
#define CPU_X86 0
#endif

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

#if CPU_X86
static unsigned long long xgetbv0(void) {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}
#endif

void cpu_detect(cpu_features *f) {
  memset(f, 0, sizeof *f);
#if CPU_X86
  unsigned a, b, c, d, max;
  if (!__get_cpuid(0, &max, &b, &c, &d)) return;
  memcpy(f->vendor, &b, 4);
  memcpy(f->vendor + 4, &d, 4);
  memcpy(f->vendor + 8, &c, 4);
  unsigned ext;
  if (__get_cpuid(0x80000000, &ext, &b, &c, &d) && ext >= 0x80000004) {
    unsigned r[12];
    for (unsigned i = 0; i < 3; i++)
      __get_cpuid(0x80000002 + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    memcpy(f->brand, r, 48);
    f->brand[48] = 0;
    char *s = f->brand;
    while (*s == ' ') s++;
    memmove(f->brand, s, strlen(s) + 1);
    for (size_t n = strlen(f->brand); n && f->brand[n - 1] == ' '; n--) f->brand[n - 1] = 0;
  }
  __get_cpuid(1, &a, &b, &c, &d);
  f->sse42 = (c >> 20) & 1;
  f->popcnt = (c >> 23) & 1;
  f->fma = (c >> 12) & 1;
  f->f16c = (c >> 29) & 1;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  f->os_avx = (xcr0 & 0x6) == 0x6;                     /* XMM | YMM */
  f->os_avx512 = f->os_avx && (xcr0 & 0xE0) == 0xE0;   /* opmask | ZMM_Hi256 | Hi16_ZMM */
  f->os_amx = (xcr0 & 0x60000) == 0x60000;             /* XTILECFG | XTILEDATA */
  f->avx = avx && f->os_avx;
  if (!f->avx) f->fma = f->f16c = 0;
  if (max >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    unsigned sub1 = a;
    f->avx2 = f->avx && ((b >> 5) & 1);
    f->bmi2 = (b >> 8) & 1;
    if (f->os_avx512) {
      f->avx512f = (b >> 16) & 1;
      f->avx512dq = f->avx512f && ((b >> 17) & 1);
      f->avx512cd = f->avx512f && ((b >> 28) & 1);
      f->avx512bw = f->avx512f && ((b >> 30) & 1);
      f->avx512vl = f->avx512f && ((b >> 31) & 1);
      f->avx512vbmi = f->avx512f && ((c >> 1) & 1);
      f->avx512vnni = f->avx512f && ((c >> 11) & 1);
      f->avx512fp16 = f->avx512f && ((d >> 23) & 1);
    }
    f->amx_bf16 = (d >> 22) & 1;
    f->amx_tile = (d >> 24) & 1;
    f->amx_int8 = (d >> 25) & 1;
    if (sub1 >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      f->avxvnni = f->avx2 && ((a >> 4) & 1);
      f->avx512bf16 = f->avx512f && ((a >> 5) & 1);
    }
  }
  if (f->amx_tile && f->os_amx) f->amx_perm = cpu_request_amx(f) == 0;
#endif
}

int cpu_request_amx(const cpu_features *f) {
  if (!f->amx_tile) {
    errno = ENOTSUP;
    return -1;
  }
#if defined(__linux__) && defined(__x86_64__)
  unsigned long bits = 0;
  if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) == 0 &&
      (bits & (1ul << XFEATURE_XTILEDATA)))
    return 0;
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return -1;
  return 0;
#else
  errno = ENOTSUP;
  return -1;
#endif
}

char *cpu_feature_list(const cpu_features *f, char *buf, unsigned long n) {
  const struct {
    unsigned on;
    const char *name;
  } t[] = {{f->sse42, "sse4.2"},        {f->popcnt, "popcnt"},       {f->avx, "avx"},
           {f->avx2, "avx2"},           {f->fma, "fma"},             {f->f16c, "f16c"},
           {f->bmi2, "bmi2"},           {f->avx512f, "avx512f"},     {f->avx512dq, "avx512dq"},
           {f->avx512cd, "avx512cd"},   {f->avx512bw, "avx512bw"},   {f->avx512vl, "avx512vl"},
           {f->avx512vbmi, "avx512vbmi"}, {f->avx512vnni, "avx512vnni"},
           {f->avx512bf16, "avx512bf16"}, {f->avx512fp16, "avx512fp16"},
           {f->avxvnni, "avxvnni"},     {f->amx_tile, "amx-tile"},   {f->amx_int8, "amx-int8"},
           {f->amx_bf16, "amx-bf16"}};
  size_t len = 0;
  if (n) buf[0] = 0;
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    if (!t[i].on) continue;
    int w = snprintf(buf + len, n > len ? n - len : 0, "%s%s", len ? " " : "", t[i].name);
    if (w < 0 || (size_t)w >= (n > len ? n - len : 0)) break;
    len += (size_t)w;
  }
  return buf;
}
