/*
** bench_gemm.c — throughput of the encoder's linear layers: cblas_sgemm vs
** blend's f32_linear vs q8_linear (int8 VNNI), at 1 and 2 threads, on
** MiniLM-L6 shapes, plus the machine's measured f32 FMA (zmm, or ymm on AVX2-only
** CPUs, also on 2 threads at once) and int8 VNNI peaks
** (tight register-only loops) so each figure reads as a fraction of peak.
** With AMX (and the tile permission) the int8 peak is AMX tdpbusd's, as
** q8_linear runs on tiles there; the AMX bf16 peak is printed too.
** On CPUs with AVX-VNNI whose default int8 build is another (AVX-512 VNNI),
** two more columns run the AVX-VNNI build forced on the same matrix against
** the ymm vpdpbusd peak.
**
**   build/release/bench_gemm [reps [shape-substring]]
**   (median of reps runs, default 7; e.g. "ffn2" runs only those shapes)
**
** OpenBLAS threads are set with openblas_set_num_threads; ours run as
** q8_linear_part / f32_linear_part tasks on the encoder's persistent
** thread pool (threadpool.h), the way the forward pass calls them. GFLOP/s counts 2·rows·in·out for every path (int8
** multiply-adds counted the same way, "GOP/s").
*/
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder/amx_tilecfg.h"
#include "encoder/dispatch.h"
#include "encoder/quant.h"
#include "util/threadpool.h"

#include "util/cpu.h"

void openblas_set_num_threads(int n);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: on a shared machine it excludes time
** other processes held the core, so 1-thread figures stay comparable. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all threads, spinning included). */
static double proc_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double minimum(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] < m) m = v[i];
  return m;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return v[n / 2];
}

/* Peak throughput of one instruction: 12 independent register chains
** (more than latency × throughput) in a hand-written loop, so nothing but
** the instruction itself is measured. Returns instructions per second. */
/* (compiled for AVX-512 whatever -march says; run only after the CPU check) */
#define PEAK_LOOP(INSN)                                                        \
  __asm__ volatile("vpxord %%zmm0, %%zmm0, %%zmm0\n\t"                        \
                   "vmovdqa64 %%zmm0, %%zmm1\n\t"                              \
                   "1:\n\t" INSN(0) INSN(1) INSN(2) INSN(3) INSN(4) INSN(5)    \
                   INSN(6) INSN(7) INSN(8) INSN(9) INSN(10) INSN(11)          \
                   "dec %0\n\t"                                               \
                   "jnz 1b\n\t"                                               \
                   : "+r"(iters)                                              \
                   :                                                          \
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",  \
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",       \
                     "xmm13", "cc")
#define FMA_I(r) "vfmadd231ps %%zmm12, %%zmm13, %%zmm" #r "\n\t"
#define DPB_I(r) "vpdpbusd %%zmm12, %%zmm13, %%zmm" #r "\n\t"
#define BF16_I(r) "vdpbf16ps %%zmm12, %%zmm13, %%zmm" #r "\n\t"

__attribute__((target("avx512f"))) static double peak_fma(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP(FMA_I);
  t = cpu_now() - t;
  return 2.0 * 16 * 12 * n / t / 1e9; /* 16 lanes × 2 flops */
}

__attribute__((target("avx512f,avx512vnni"))) static double peak_vnni(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP(DPB_I);
  t = cpu_now() - t;
  return 128.0 * 12 * n / t / 1e9; /* 64 u8×s8 multiply-adds × 2 ops */
}

__attribute__((target("avx512f,avx512bf16"))) static double peak_bf16(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP(BF16_I);
  t = cpu_now() - t;
  return 64.0 * 12 * n / t / 1e9; /* 32 bf16 multiply-adds × 2 flops */
}

/* The same on AVX2 (ymm, 8 lanes): the ceiling on CPUs without AVX-512. */
#define PEAK_LOOP_Y(INSN)                                                      \
  __asm__ volatile("vxorps %%ymm0, %%ymm0, %%ymm0\n\t"                        \
                   "vmovaps %%ymm0, %%ymm1\n\t"                               \
                   "1:\n\t" INSN(0) INSN(1) INSN(2) INSN(3) INSN(4) INSN(5)    \
                   INSN(6) INSN(7) INSN(8) INSN(9) INSN(10) INSN(11)          \
                   "dec %0\n\t"                                               \
                   "jnz 1b\n\t"                                               \
                   : "+r"(iters)                                              \
                   :                                                          \
                   : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",  \
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",       \
                     "xmm13", "xmm14", "cc")
#define FMA_Y(r) "vfmadd231ps %%ymm12, %%ymm13, %%ymm" #r "\n\t"
/* int8 without VNNI: the exact step of quant_avx2.c (16 multiply-adds) and
** MLAS's vpmaddubsw step widened by vpmaddwd with ones (32, saturating). */
#define MADDWD_Y(r) "vpmaddwd %%ymm12, %%ymm13, %%ymm14\n\tvpaddd %%ymm14, %%ymm" #r ", %%ymm" #r "\n\t"
#define MADDUBSW_Y(r)                                                          \
  "vpmaddubsw %%ymm12, %%ymm13, %%ymm14\n\tvpmaddwd %%ymm14, %%ymm1, %%ymm14\n\t" \
  "vpaddd %%ymm14, %%ymm" #r ", %%ymm" #r "\n\t"

#define DPB_Y(r) "%{vex%} vpdpbusd %%ymm12, %%ymm13, %%ymm" #r "\n\t"
__attribute__((target("avx2,avxvnni"))) static double peak_vnni_ymm(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP_Y(DPB_Y);
  t = cpu_now() - t;
  return 64.0 * 12 * n / t / 1e9; /* 32 u8×s8 multiply-adds × 2 ops */
}

__attribute__((target("avx2,fma"))) static double peak_fma_avx2(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP_Y(FMA_Y);
  t = cpu_now() - t;
  return 2.0 * 8 * 12 * n / t / 1e9; /* 8 lanes × 2 flops */
}

/* GOP/s (2 ops per multiply-add) of the two int8 steps above: on AMD Zen 1
** both issue at the f32 FMA rate (the one vector integer multiplier takes a
** ymm vpmaddwd or vpmaddubsw every 2 cycles), so int8 gains no compute. */
__attribute__((target("avx2"))) static double peak_maddwd_avx2(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP_Y(MADDWD_Y);
  t = cpu_now() - t;
  return 2.0 * 16 * 12 * n / t / 1e9;
}
__attribute__((target("avx2"))) static double peak_maddubsw_avx2(void) {
  long n = 50000000, iters = n;
  double t = cpu_now();
  PEAK_LOOP_Y(MADDUBSW_Y);
  t = cpu_now() - t;
  return 2.0 * 32 * 12 * n / t / 1e9;
}

/* The AVX2 peak loop on every worker of a 2-thread pool at once, wall time:
** whether the two vCPUs behave as two cores (2× the 1-thread figure). */
typedef struct peak2 {
  double gflops[2];
} peak2;
static void peak2_task(void *ctx, size_t task, int worker) {
  ((peak2 *)ctx)->gflops[task] = peak_fma_avx2();
}

typedef struct job {
  const float *x, *b;
  float *y;
  uint32_t rows;
  const q8_matrix *q, *qy;
  const f32_packed *fp;
  unsigned nparts;
} job;

static void q8_task(void *ctx, size_t task, int worker) {
  job *j = ctx;
  q8_linear_part(j->x, j->rows, j->q, j->b, j->y, (unsigned)task, j->nparts);
}

static void q8y_task(void *ctx, size_t task, int worker) {
  job *j = ctx;
  q8_linear_part(j->x, j->rows, j->qy, j->b, j->y, (unsigned)task, j->nparts);
}

static void f32_task(void *ctx, size_t task, int worker) {
  job *j = ctx;
  f32_linear_part(j->x, j->rows, j->fp, j->b, j->y, (unsigned)task, j->nparts);
}

/* AMX: tdpbusd / tdpbf16ps on four independent accumulator tiles (A in
** tmm4, B in tmm6, loaded with random bytes: zero operands draw less power
** and could show an optimistic peak). One tdpbusd is
** 16·16·64 multiply-adds, one tdpbf16ps 16·16·32. */
#define AMX_PEAK_LOOP(INSN)                                                    \
  __asm__ volatile("ldtilecfg %1\n\t"                                         \
                   "tilezero %%tmm0\n\t tilezero %%tmm1\n\t tilezero %%tmm2\n\t" \
                   "tilezero %%tmm3\n\t"                                      \
                   "tileloadd (%2,%3,1), %%tmm4\n\t tileloadd 1024(%2,%3,1), %%tmm6\n\t" \
                   "1:\n\t" INSN(0) INSN(1) INSN(2) INSN(3)                     \
                   "dec %0\n\t"                                               \
                   "jnz 1b\n\t"                                               \
                   "tilerelease\n\t"                                          \
                   : "+r"(iters)                                              \
                   : "m"(cfg), "r"(rnd_tiles), "r"(64L)                      \
                   : "cc", "memory")
#define TDPBUSD_I(c) "tdpbusd %%tmm6, %%tmm4, %%tmm" #c "\n\t"
#define TDPBF16_I(c) "tdpbf16ps %%tmm6, %%tmm4, %%tmm" #c "\n\t"
/* 2 KB of random bytes for the A and B tiles (finite bf16 values too). */
static void amx_rand(uint8_t *p) {
  uint32_t x = 12345;
  for (int i = 0; i < 2048; i++) x = x * 1664525u + 1013904223u, p[i] = (uint8_t)(x >> 24) & 0x3F;
}
/* bf16: tdpbf16ps (16·16·32 multiply-adds each), else tdpbusd (16·16·64). */
__attribute__((target("amx-tile,amx-int8,amx-bf16"))) static double peak_amx(int bf16) {
  _Alignas(64) amx_tilecfg cfg;
  _Alignas(64) uint8_t rnd_tiles[2048];
  amx_rand(rnd_tiles);
  amx_config_full(&cfg);
  long n = 2000000, iters = n;
  double t = cpu_now();
  if (bf16) AMX_PEAK_LOOP(TDPBF16_I);
  else AMX_PEAK_LOOP(TDPBUSD_I);
  t = cpu_now() - t;
  return 2.0 * 16 * 16 * (bf16 ? 32 : 64) * 4 * n / t / 1e9;
}

typedef struct shape {
  const char *name;
  uint32_t rows, in, out;
} shape;

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 7;
  if (reps < 1) reps = 1;
  cpu_features cpu;
  cpu_detect(&cpu);
  double pf = cpu.avx512f ? peak_fma() : 0, pv = cpu.avx512vnni ? peak_vnni() : 0;
  double pb = cpu.avx512bf16 ? peak_bf16() : 0, pvy = cpu.avxvnni ? peak_vnni_ymm() : 0;
  if (!cpu.avx512f && cpu.avx2 && cpu.fma) pf = peak_fma_avx2();
  /* the int8 unit the default kernel uses: zmm vpdpbusd, else the VEX ymm
  ** one, else AVX2's exact vpmaddwd step */
  const char *unit = "vpdpbusd zmm";
  int amx8 = enc_isa_supported(&cpu, ENC_AMX_INT8), amxb = enc_isa_supported(&cpu, ENC_AMX_BF16);
  double pav = amx8 ? peak_amx(0) : 0, pab = amxb ? peak_amx(1) : 0;
  double pv_zmm = pv;
  if (amx8) pv = pav, unit = "AMX tdpbusd";
  else if (!cpu.avx512vnni && cpu.avxvnni) pv = pvy, unit = "vpdpbusd ymm VEX";
  else if (!cpu.avx512vnni && cpu.avx2) pv = peak_maddwd_avx2(), unit = "vpmaddwd ymm";
  printf("peak f32 FMA (1 core, %s): %.1f GFLOP/s; peak int8 (1 core, %s): %.1f GOP/s\n",
         cpu.avx512f ? "zmm" : "ymm", pf, unit, pv);
  if (amx8) printf("peak int8 vpdpbusd zmm, AVX-512 VNNI (1 core): %.1f GOP/s\n", pv_zmm);
  if (cpu.avxvnni) printf("peak int8 vpdpbusd ymm VEX, AVX-VNNI (1 core): %.1f GOP/s\n", pvy);
  printf("peak bf16 vdpbf16ps (1 core): %.1f GFLOP/s\n", pb);
  if (amxb) printf("peak bf16 AMX tdpbf16ps (1 core): %.1f GFLOP/s\n", pab);
  if (cpu.avx2 && cpu.fma) {
    tpool *pool = tpool_new(2);
    peak2 p2 = {{0, 0}};
    double t = now();
    tpool_run(pool, 2, peak2_task, &p2);
    t = now() - t;
    tpool_free(pool);
    printf("peak f32 ymm FMA on 2 threads at once: %.1f + %.1f GFLOP/s (thread CPU time), "
           "%.1f GFLOP/s wall\n", p2.gflops[0], p2.gflops[1], 2 * 2.0 * 8 * 12 * 50000000 / t / 1e9);
  }
  if (cpu.avx2 && !cpu.avx512vnni && !cpu.avxvnni) {
    /* q8%pk below is then against the exact vpmaddwd step, the AVX2 kernel's */
    printf("peak int8 ymm (1 core): vpmaddwd+vpaddd (exact, quant_avx2.c) %.1f GOP/s; "
           "vpmaddubsw+vpmaddwd+vpaddd (saturating) %.1f GOP/s\n", pv, peak_maddubsw_avx2());
  }
  if (argc > 2 && !strcmp(argv[2], "no-shape")) return 0;
  /* the AVX-VNNI build's own columns where it is not already the q8 one */
  int vy = cpu.avxvnni && enc_kernels_default().q8 != ENC_AVX_VNNI;
  shape shapes[] = {
      {"qkv 4096x384>1152", 4096, 384, 1152}, {"attn 4096x384>384", 4096, 384, 384},
      {"ffn1 4096x384>1536", 4096, 384, 1536}, {"ffn2 4096x1536>384", 4096, 1536, 384},
      {"qkv 128x384>1152", 128, 384, 1152},   {"attn 128x384>384", 128, 384, 384},
      {"ffn1 128x384>1536", 128, 384, 1536},  {"ffn2 128x1536>384", 128, 1536, 384},
      {"qkv 12x384>1152", 12, 384, 1152},     {"attn 12x384>384", 12, 384, 384},
      {"ffn1 12x384>1536", 12, 384, 1536},    {"ffn2 12x1536>384", 12, 1536, 384},
  };
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  printf("load average %.2f (2 cores shared with other work: medians are wall time; 'best' is\n"
         "the fastest run, measured in thread CPU time at 1 thread, wall time at 2)\n", load[0]);
  printf("q8eff (2 threads): q8 work per process CPU-second relative to the 1-thread best;\n"
         "~1.0 means two free cores would give ~2x\n");
  if (vy)
    printf("q8vy: the AVX-VNNI build (vpdpbusd ymm) forced, GOP/s median/best; vy%%pk: best\n"
           "against the ymm vpdpbusd peak\n");
  printf("%-20s %3s | %7s %7s %7s | %7s %7s %7s | %6s %6s %6s %6s", "shape", "thr", "sgemm",
         "f32", "q8", "sgemm", "f32", "q8", "q8/sg", "sg%pk", "q8%pk", "q8eff");
  printf(vy ? " | %7s %7s %6s\n" : "\n", "q8vy", "q8vy", "vy%pk");
  printf("%-20s %3s | %23s | %23s | %6s %6s %6s", "", "", "median GFLOP/s (GOP/s)",
         "best GFLOP/s (GOP/s)", "best", "best", "best");
  printf(vy ? "        | %7s %7s %6s\n" : "\n", "median", "best", "best");
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    if (argc > 2 && !strstr(sh.name, argv[2])) continue;
    size_t nx = (size_t)sh.rows * sh.in, nw = (size_t)sh.out * sh.in, ny = (size_t)sh.rows * sh.out;
    float *x = malloc(nx * 4), *W = malloc(nw * 4), *b = malloc(sh.out * 4), *y = malloc(ny * 4);
    srand(1);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (size_t i = 0; i < nw; i++) W[i] = ((float)rand() / (float)RAND_MAX - 0.5f) * 0.1f;
    for (size_t i = 0; i < sh.out; i++) b[i] = 0.01f * (float)i;
    q8_matrix q;
    f32_packed fp;
    if (q8_quantize(W, sh.out, sh.in, &q, NULL) || f32_pack(W, sh.out, sh.in, &fp, NULL)) return 1;
    q8_matrix qy = q; /* the same packed weights, run by the AVX-VNNI build */
    qy.isa = ENC_AVX_VNNI;
    double flop = 2.0 * sh.rows * sh.in * sh.out;
    /* small shapes run many times per sample to get above timer noise */
    int inner = sh.rows < 64 ? 200 : sh.rows < 1024 ? 20 : 1;
    double q1 = 0; /* 1-thread best q8 rate */
    for (int thr = 1; thr <= 2; thr++) {
      tpool *pool = tpool_new(thr);
      if (!pool) return 1;
      /* single-threaded runs are one part; threaded ones split each layer
      ** into one part per thread */
      job jb = {x, b, y, sh.rows, &q, &qy, &fp, (unsigned)thr};
      double t_sg[64], t_f[64], t_q[64], c_sg[64], c_f[64], c_q[64], p_q[64], t_y[64], c_y[64];
      int n = reps > 64 ? 64 : reps;
      openblas_set_num_threads(thr);
      for (int r = 0; r <= n; r++) { /* r == 0 is warm-up */
        double t = now(), c = cpu_now();
        for (int i = 0; i < inner; i++) {
          for (uint32_t rr = 0; rr < sh.rows; rr++) memcpy(y + (size_t)rr * sh.out, b, sh.out * 4);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)sh.rows, (int)sh.out,
                      (int)sh.in, 1.0f, x, (int)sh.in, W, (int)sh.in, 1.0f, y, (int)sh.out);
        }
        if (r) t_sg[r - 1] = (now() - t) / inner, c_sg[r - 1] = (cpu_now() - c) / inner;
        t = now(), c = cpu_now();
        for (int i = 0; i < inner; i++) tpool_run(pool, jb.nparts, f32_task, &jb);
        if (r) t_f[r - 1] = (now() - t) / inner, c_f[r - 1] = (cpu_now() - c) / inner;
        t = now(), c = cpu_now();
        double pc = proc_cpu_now();
        for (int i = 0; i < inner; i++) tpool_run(pool, jb.nparts, q8_task, &jb);
        if (r) t_q[r - 1] = (now() - t) / inner, c_q[r - 1] = (cpu_now() - c) / inner;
        if (r) p_q[r - 1] = (proc_cpu_now() - pc) / inner;
        if (!vy) continue;
        t = now(), c = cpu_now();
        for (int i = 0; i < inner; i++) tpool_run(pool, jb.nparts, q8y_task, &jb);
        if (r) t_y[r - 1] = (now() - t) / inner, c_y[r - 1] = (cpu_now() - c) / inner;
      }
      double bs = flop / minimum(thr == 1 ? c_sg : t_sg, n) / 1e9;
      double bf = flop / minimum(thr == 1 ? c_f : t_f, n) / 1e9;
      double bq = flop / minimum(thr == 1 ? c_q : t_q, n) / 1e9;
      double gs = flop / median(t_sg, n) / 1e9, gf = flop / median(t_f, n) / 1e9,
             gq = flop / median(t_q, n) / 1e9;
      if (thr == 1) q1 = bq;
      printf("%-20s %3d | %7.1f %7.1f %7.1f | %7.1f %7.1f %7.1f | %5.2fx %5.0f%% %5.0f%% ", sh.name,
             thr, gs, gf, gq, bs, bf, bq, bq / bs, 100.0 * bs / (pf * thr), 100.0 * bq / (pv * thr));
      if (thr == 1)
        printf("%6s", "-");
      else
        printf("%6.2f", flop / minimum(p_q, n) / 1e9 / q1);
      if (vy) {
        double gy = flop / median(t_y, n) / 1e9, by = flop / minimum(thr == 1 ? c_y : t_y, n) / 1e9;
        printf(" | %7.1f %7.1f %5.0f%%", gy, by, 100.0 * by / (pvy * thr));
      }
      printf("\n");
      tpool_free(pool);
    }
    q8_free(&q);
    f32_packed_free(&fp);
    free(x), free(W), free(b), free(y);
  }
  return 0;
}
