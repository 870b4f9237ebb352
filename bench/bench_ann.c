/*
** bench_ann.c — blend's side of the ANN benchmark: the same protocol and the
** same JSON line as ../shared/tools/peers/ann_bench.cc (hnswlib, FAISS,
** usearch), so rows compare directly.
**
** Loads N x DIM float32 base rows and NQ x DIM queries (raw little-endian, as
** gen_ann_vectors.py and `blend embed --format f32` write them), builds a
** vector field (vec_build: store + HNSW with --M / --efc / --build-threads),
** opens it from 64-byte aligned copies of the two payloads (as a segment
** holds them), then for each ef runs one untimed warm-up pass (which also
** gives recall@k against gt.i32) plus --passes timed passes, one query per
** call on one thread; QPS is the median pass. --lib:
**   blend-f32 | blend-int8   HNSW (int8: traversal on codes, float rescoring)
**   blend-exact              the exact scan (--scan-threads threads)
**   bandwidth                a streaming-read kernel over a buffer much larger
**                            than the caches (1 and 2 threads): the machine's
**                            memory bandwidth the exact scan is compared with
** Usage: bench_ann --lib LIB --base base.f32 --queries queries.f32 --dim 384
**        [--gt gt.i32 --gtk 100] [--M 16] [--efc 200] [--ef 10,20,40,80,160,320]
**        [--k 10] [--build-threads 1] [--passes 3] [--kernel avx512|avx2|scalar]
**        [--scan-threads 1] [--nq-max N] [--seed 42] [--rescore R]
*/
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "util/util.h"
#include "vector/vector.h"

static float *load_f32(const char *path, size_t dim, size_t *rows) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "bench_ann: cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (sz < 0 || sz % (long)(dim * 4)) {
    fprintf(stderr, "bench_ann: %s: size %ld is not a multiple of dim*4\n", path, sz);
    exit(2);
  }
  *rows = (size_t)sz / (dim * 4);
  float *v = malloc((size_t)sz + 4);
  if (!v || fread(v, 1, (size_t)sz, f) != (size_t)sz) {
    fprintf(stderr, "bench_ann: short read %s\n", path);
    exit(2);
  }
  fclose(f);
  return v;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* 64-byte aligned, as a segment section; BENCH_HUGE=1 asks for transparent
** huge pages (fewer TLB misses on random row reads). */
static void *aligned_copy(const void *p, size_t n) {
  void *q = NULL;
  int huge = getenv("BENCH_HUGE") != NULL;
  size_t sz = huge ? (n + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1) : (n ? (n + 63) & ~(size_t)63 : 64);
  if (posix_memalign(&q, huge ? (2u << 20) : 64, sz ? sz : 64)) exit(3);
  if (huge) madvise(q, sz, MADV_HUGEPAGE);
  if (n) memcpy(q, p, n);
  return q;
}

/* ---- memory bandwidth: each thread sums its share of a 1 GiB buffer */
typedef struct bw_job {
  const float *p;
  size_t n;
  float out;
} bw_job;

__attribute__((target("avx512f"))) static void *bw_read(void *arg) {
  bw_job *j = arg;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 64 <= j->n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(j->p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(j->p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(j->p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(j->p + i + 48));
  }
  j->out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  return NULL;
}

__attribute__((target("avx2"))) static void *bw_read_avx2(void *arg) {
  bw_job *j = arg;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= j->n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(j->p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(j->p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(j->p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(j->p + i + 24));
  }
  float t[8];
  _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  j->out = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
  return NULL;
}

static double bandwidth(int threads, int passes) {
  void *(*rd)(void *) = __builtin_cpu_supports("avx512f") ? bw_read : bw_read_avx2;
  size_t n = (size_t)1 << 28; /* 1 GiB of floats */
  float *buf = NULL;
  if (posix_memalign((void **)&buf, 64, n * 4)) exit(3);
  for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
  double best[16];
  int np = 0;
  for (int p = 0; p <= passes; p++) {
    bw_job jobs[8];
    pthread_t th[8];
    double t0 = now_seconds();
    for (int t = 0; t < threads; t++) {
      jobs[t] = (bw_job){buf + n / threads * t, n / threads, 0};
      pthread_create(&th[t], NULL, rd, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    double dt = now_seconds() - t0;
    if (p) best[np++] = (double)n * 4 / dt / 1e9;
  }
  free(buf);
  qsort(best, (size_t)np, sizeof *best, cmp_d);
  return best[np / 2];
}

int main(int argc, char **argv) {
  const char *lib = NULL, *basep = NULL, *qp = NULL, *gtp = NULL, *kernel = NULL, *cache = NULL;
  size_t dim = 0, gtk = 100, k = 10, nq_max = 0;
  unsigned M = 16, efc = 200, rescore = 0;
  int bthreads = 1, passes = 3, sthreads = 1;
  uint64_t seed = 42;
  char eflist_s[256] = "10,20,40,80,160,320";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name) (!strcmp(a, name) && ++i < argc)
    if (OPT("--lib")) lib = v;
    else if (OPT("--base")) basep = v;
    else if (OPT("--queries")) qp = v;
    else if (OPT("--gt")) gtp = v;
    else if (OPT("--dim")) dim = strtoul(v, NULL, 10);
    else if (OPT("--gtk")) gtk = strtoul(v, NULL, 10);
    else if (OPT("--k")) k = strtoul(v, NULL, 10);
    else if (OPT("--M")) M = (unsigned)strtoul(v, NULL, 10);
    else if (OPT("--efc")) efc = (unsigned)strtoul(v, NULL, 10);
    else if (OPT("--ef")) snprintf(eflist_s, sizeof eflist_s, "%s", v);
    else if (OPT("--build-threads")) bthreads = atoi(v);
    else if (OPT("--scan-threads")) sthreads = atoi(v);
    else if (OPT("--passes")) passes = atoi(v);
    else if (OPT("--kernel")) kernel = v;
    else if (OPT("--nq-max")) nq_max = strtoul(v, NULL, 10);
    else if (OPT("--seed")) seed = strtoull(v, NULL, 10);
    else if (OPT("--rescore")) rescore = (unsigned)strtoul(v, NULL, 10);
    else if (OPT("--cache")) cache = v;
    else {
      fprintf(stderr, "bench_ann: unknown option %s\n", a);
      return 2;
    }
  }
  if (passes < 1 || passes > 15) passes = 3;
  if (lib && !strcmp(lib, "bandwidth")) {
    double b1 = bandwidth(1, passes), b2 = bandwidth(2, passes);
    printf("{\"peer\":\"bandwidth\",\"read_gb_s_1t\":%.2f,\"read_gb_s_2t\":%.2f,\"passes\":%d}\n", b1, b2,
           passes);
    return 0;
  }
  if (!lib || !basep || !qp || !dim || k == 0 || k > 1000) {
    fprintf(stderr, "usage: see the header of bench/bench_ann.c\n");
    return 2;
  }
  const vec_kernels *kt = kernel ? vec_kernels_by_name(kernel) : vec_kernels_best();
  if (!kt) {
    fprintf(stderr, "bench_ann: kernel %s unavailable on this CPU\n", kernel);
    return 2;
  }
  size_t n, nq;
  float *base = load_f32(basep, dim, &n), *queries = load_f32(qp, dim, &nq);
  if (nq_max && nq > nq_max) nq = nq_max;
  int32_t *gt = malloc(nq * k * sizeof *gt);
  vec_scratch *s = vec_scratch_new();
  if (gtp) {
    FILE *f = fopen(gtp, "rb");
    int32_t *row = malloc(gtk * 4);
    if (!f || gtk < k) {
      fprintf(stderr, "bench_ann: cannot use %s\n", gtp);
      return 2;
    }
    for (size_t q = 0; q < nq; q++) {
      if (fread(row, 4, gtk, f) != gtk) {
        fprintf(stderr, "bench_ann: gt file too short\n");
        return 2;
      }
      memcpy(gt + q * k, row, k * 4);
    }
    fclose(f);
    free(row);
  }
  int is_exact = !strcmp(lib, "blend-exact");
  vec_build_params bp;
  vec_build_params_default(&bp);
  bp.metric = VEC_COSINE; /* the rows are normalised: cosine = inner product */
  bp.dtype = !strcmp(lib, "blend-int8") ? VEC_I8 : VEC_F32;
  bp.M = M;
  bp.ef_construction = efc;
  bp.seed = seed;
  bp.threads = bthreads;
  bp.hnsw = !is_exact;
  bp.kernels = kt;
  if (strcmp(lib, "blend-f32") && strcmp(lib, "blend-int8") && !is_exact) {
    fprintf(stderr, "bench_ann: unknown --lib %s\n", lib);
    return 2;
  }
  bbuf sb = {0}, gb = {0};
  blend_error err = {0};
  double build_s = -1, build_cpu_s = -1;
  char cs[1024] = "", cg[1024] = "";
  char *cdata = NULL;
  size_t clen_ = 0;
  if (cache) { /* search tuning: reuse payloads built by an earlier run (build figures then -1) */
    snprintf(cs, sizeof cs, "%s.%s.store", cache, lib);
    snprintf(cg, sizeof cg, "%s.%s.graph", cache, lib);
  }
  if (cache && file_read_all(cs, &cdata, &clen_, NULL) == 0) {
    bbuf_append(&sb, cdata, clen_);
    free(cdata);
    if (file_read_all(cg, &cdata, &clen_, NULL) == 0) bbuf_append(&gb, cdata, clen_), free(cdata);
  } else {
    double c0 = cpu_s(), t0 = now_seconds();
    if (vec_build(base, (uint32_t)n, (uint32_t)dim, &bp, &sb, &gb, &err)) {
      fprintf(stderr, "bench_ann: %s\n", err.message);
      return 1;
    }
    build_s = now_seconds() - t0, build_cpu_s = cpu_s() - c0;
    if (cache) {
      file_write_atomic(cs, sb.data, sb.len, NULL);
      file_write_atomic(cg, gb.data, gb.len, NULL);
    }
  }
  void *st = aligned_copy(sb.data, sb.len), *gr = gb.len ? aligned_copy(gb.data, gb.len) : NULL;
  size_t st_len = sb.len, gr_len = gb.len;
  bbuf_free(&sb), bbuf_free(&gb);
  vec_field *fld = NULL;
  if (vec_field_open_ex(st, st_len, gr, gr_len, kt, &fld, &err)) {
    fprintf(stderr, "bench_ann: %s\n", err.message);
    return 1;
  }
  if (!gtp) /* ground truth from the exact scan */
    for (size_t q = 0; q < nq; q++) {
      vec_search_params p = {.k = (uint32_t)k, .exact = 1, .threads = 2};
      vec_hit h[1000];
      uint32_t nh = 0;
      vec_search(fld, s, queries + q * dim, &p, h, &nh, NULL);
      for (size_t j = 0; j < k; j++) gt[q * k + j] = j < nh ? (int32_t)h[j].doc : -1;
    }
  size_t efs[32], nef = 0;
  for (char *tok = strtok(eflist_s, ","); tok && nef < 32; tok = strtok(NULL, ",")) efs[nef++] = strtoul(tok, NULL, 10);
  if (is_exact) efs[0] = 0, nef = 1;
  vec_hit *hits = malloc(k * sizeof *hits);
  double *lat = malloc(nq * sizeof *lat);
  char curve[8192] = "";
  size_t clen = 0;
  for (size_t e = 0; e < nef; e++) {
    /* int8: rescore the whole beam unless --rescore says otherwise, so the
    ** beam width is ef, as for every other engine */
    uint32_t rs = rescore ? rescore : (uint32_t)(efs[e] > k ? efs[e] : k);
    vec_search_params p = {.k = (uint32_t)k, .ef = (uint32_t)efs[e], .exact = is_exact,
                           .threads = sthreads, .rescore = rs};
    size_t good = 0;
    double rates[16], cpurates[16];
    int nr = 0;
    for (int pass = 0; pass <= passes; pass++) {
      double ps = now_seconds(), pc = cpu_s();
      for (size_t q = 0; q < nq; q++) {
        double qs = now_seconds();
        uint32_t nh = 0;
        if (vec_search(fld, s, queries + q * dim, &p, hits, &nh, &err)) {
          fprintf(stderr, "bench_ann: %s\n", err.message);
          return 1;
        }
        if (pass == passes) lat[q] = (now_seconds() - qs) * 1e6;
        if (pass == 0)
          for (uint32_t i = 0; i < nh; i++)
            for (size_t j = 0; j < k; j++)
              if ((int32_t)hits[i].doc == gt[q * k + j]) {
                good++;
                break;
              }
      }
      if (pass) {
        rates[nr] = nq / (now_seconds() - ps);
        double dc = cpu_s() - pc;
        cpurates[nr++] = nq / (dc > 1e-9 ? dc : 1e-9);
      }
    }
    qsort(rates, (size_t)nr, sizeof *rates, cmp_d);
    qsort(cpurates, (size_t)nr, sizeof *cpurates, cmp_d);
    qsort(lat, nq, sizeof *lat, cmp_d);
    double mean = 0;
    for (size_t q = 0; q < nq; q++) mean += lat[q];
    mean /= (double)nq;
    char extra[96] = "";
    if (is_exact)
      snprintf(extra, sizeof extra, ",\"scan_gb_s\":%.2f,\"scan_cpu_gb_s\":%.2f",
               (double)n * dim * 4 / (mean * 1e3), (double)n * dim * 4 * cpurates[nr / 2] / 1e9);
    clen += (size_t)snprintf(curve + clen, sizeof curve - clen,
                             "%s{\"ef\":%zu,\"recall_at_%zu\":%.4f,\"qps\":%.1f,\"cpu_qps\":%.1f,"
                             "\"mean_us\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f%s}",
                             e ? "," : "", efs[e], k, (double)good / (double)(nq * k), rates[nr / 2],
                             cpurates[nr / 2], mean, lat[nq / 2], lat[(size_t)(nq * 0.99)], extra);
  }
  printf("{\"peer\":\"%s\",\"version\":\"%s\",\"kernel\":\"%s\",\"n\":%zu,\"dim\":%zu,\"nq\":%zu,\"k\":%zu,"
         "\"M\":%u,\"efc\":%u,\"build_threads\":%d,\"scan_threads\":%d,\"build_s\":%.3f,\"build_cpu_s\":%.3f,"
         "\"bytes_per_vector\":%.1f,\"resident_bytes_per_vector\":%.1f,\"graph_bytes_per_vector\":%.1f,"
         "\"serialized_bytes\":%zu,\"gt\":\"%s\",\"passes\":%d,\"curve\":[%s]}\n",
         lib, BLEND_VERSION, vec_kernels_name(kt), n, dim, nq, k, is_exact ? 0 : M, is_exact ? 0 : efc,
         bthreads, sthreads, build_s, build_cpu_s, (double)vec_field_bytes(fld) / n,
         (double)vec_field_resident_bytes(fld) / n, (double)gr_len / n, st_len + gr_len,
         gtp ? "file" : "computed", passes, curve);
  vec_field_close(fld);
  vec_scratch_free(s);
  free(st), free(gr), free(base), free(queries), free(gt), free(hits), free(lat);
  return 0;
}
