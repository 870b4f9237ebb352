/*
** test_amx.c — the AMX tile loops (src/encoder/quant_amx_impl.h) run on a
** C model of the eight tile registers, on any CPU: the model holds the
** tile configuration and faults (abort, so the test fails loudly) on
** everything the hardware rejects — a tile used before ldtilecfg or after
** tilerelease, rows > 16 or more than 64 bytes per row, operand shapes
** that do not chain (A's bytes per row / 4 = B's rows, B and C the same
** width, A and C the same rows). Loads and stores go through memcpy, so
** under ASan a tile read past a buffer is caught, which the hardware
** build (not instrumented) cannot show. Outputs are compared with the
** scalar twins that share nothing with the loops: q8_linear_ref bit for
** bit, bf16_linear_ref within float32 summation order.
**
** test_kernels.c runs the same loops on real tiles when the CPU has AMX.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "encoder/dispatch.h"
#include "encoder/quant.h"
#include "encoder/quant_isa.h"
#include "test.h"
#include "test_rand.h"
#include "test_q8_case.h"

/* ------------------------------------------------------- the tile model */

typedef struct amx_model {
  unsigned char cfg[64];
  int loaded;
  unsigned loads, dps;
  uint8_t t[8][16][64];
} amx_model;

static unsigned long long model_dps; /* instructions the loops issued, over the whole run */

static void fault(const char *what, int t) {
  fprintf(stderr, "AMX model: %s (tile %d)\n", what, t);
  abort();
}
static unsigned colsb(const amx_model *m, int t) {
  uint16_t c;
  memcpy(&c, m->cfg + 16 + 2 * t, 2);
  return c;
}
static unsigned rows(const amx_model *m, int t) { return m->cfg[48 + t]; }
static void use(const amx_model *m, int t) {
  if (!m->loaded) fault("tile instruction without a loaded tile configuration", t);
  if (t < 0 || t > 7) fault("no such tile", t);
  if (rows(m, t) == 0 || colsb(m, t) == 0) fault("tile not configured", t);
}

static void model_loadcfg(amx_model *m, const void *c) {
  memcpy(m->cfg, c, 64);
  if (m->cfg[0] != 1) fault("palette is not 1", -1);
  for (int i = 1; i < 16; i++)
    if (m->cfg[i]) fault("start_row/reserved bytes not zero", -1);
  for (int t = 0; t < 16; t++) {
    unsigned cb = colsb(m, t), r = rows(m, t);
    if (t >= 8 && (cb || r)) fault("palette 1 has 8 tiles", t);
    if (cb > 64 || r > 16 || (cb == 0) != (r == 0)) fault("bad tile shape", t);
  }
  memset(m->t, 0, sizeof m->t); /* ldtilecfg zeroes the tiles */
  m->loaded = 1;
}
static void model_zero(amx_model *m, int t) {
  use(m, t);
  memset(m->t[t], 0, sizeof m->t[t]);
}
static void model_load(amx_model *m, int t, const void *p, long stride) {
  use(m, t);
  memset(m->t[t], 0, sizeof m->t[t]);
  for (unsigned r = 0; r < rows(m, t); r++) memcpy(m->t[t][r], (const char *)p + r * stride, colsb(m, t));
  m->loads++;
}
static void model_store(amx_model *m, int t, void *p, long stride) {
  use(m, t);
  for (unsigned r = 0; r < rows(m, t); r++) memcpy((char *)p + r * stride, m->t[t][r], colsb(m, t));
}
static void shapes_chain(const amx_model *m, int c, int a, int b) {
  use(m, c), use(m, a), use(m, b);
  if (c == a || c == b || a == b) fault("operands must be three different tiles", c);
  if (colsb(m, a) % 4 || colsb(m, c) % 4) fault("bytes per row not a multiple of 4", c);
  if (rows(m, b) != colsb(m, a) / 4) fault("B rows != A bytes per row / 4", b);
  if (colsb(m, b) != colsb(m, c)) fault("B and C widths differ", b);
  if (rows(m, a) != rows(m, c)) fault("A and C rows differ", a);
}
static void model_dpbusd(amx_model *m, int c, int a, int b) {
  shapes_chain(m, c, a, b);
  for (unsigned i = 0; i < rows(m, c); i++)
    for (unsigned n = 0; n < colsb(m, c) / 4; n++) {
      int32_t acc;
      memcpy(&acc, &m->t[c][i][4 * n], 4);
      uint32_t s = (uint32_t)acc; /* the hardware wraps */
      for (unsigned k = 0; k < colsb(m, a) / 4; k++)
        for (int j = 0; j < 4; j++)
          s += (uint32_t)((int32_t)m->t[a][i][4 * k + j] * (int32_t)(int8_t)m->t[b][k][4 * n + j]);
      memcpy(&m->t[c][i][4 * n], &s, 4);
    }
  m->dps++;
  model_dps++;
}
/* bf16 → f32 with denormals as zero, as tdpbf16ps reads them */
static float bf16_daz(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  if ((h & 0x7F80) == 0) h &= 0x8000;
  return bf16_to_f32(h);
}
static void model_dpbf16ps(amx_model *m, int c, int a, int b) {
  shapes_chain(m, c, a, b);
  for (unsigned i = 0; i < rows(m, c); i++)
    for (unsigned n = 0; n < colsb(m, c) / 4; n++) {
      float acc;
      memcpy(&acc, &m->t[c][i][4 * n], 4);
      /* even and odd products, each exact in float32; the hardware's
      ** order and internal rounding may differ, which the tolerance of the
      ** tests allows (the same as for vdpbf16ps) */
      for (unsigned k = 0; k < colsb(m, a) / 4; k++) {
        acc += bf16_daz(&m->t[a][i][4 * k]) * bf16_daz(&m->t[b][k][4 * n]);
        acc += bf16_daz(&m->t[a][i][4 * k + 2]) * bf16_daz(&m->t[b][k][4 * n + 2]);
      }
      memcpy(&m->t[c][i][4 * n], &acc, 4);
    }
  m->dps++;
  model_dps++;
}

/* The scalar epilogues: the twin's arithmetic (the AVX-512 ones in
** quant_amx.c are tested on real tiles by test_kernels.c). */
static void model_q8_epilogue(const int32_t *C, int nrows, const float *sx, const int32_t *zp,
                              const q8_matrix *q, uint32_t n, uint32_t c0, uint32_t c1,
                              const float *bias, float *y, size_t ldy) {
  for (int r = 0; r < nrows; r++)
    for (uint32_t c = 0; c < 16; c++) {
      uint32_t col = n + c;
      if (col < c0 || col >= c1) continue;
      int32_t acc = C[16 * r + c] - zp[r] * q->wsum[col];
      y[r * ldy + col] = fmaf((float)acc, sx[r] * q->scale[col], bias ? bias[col] : 0.0f);
    }
}
static void model_bf16_epilogue(const float *C, int nrows, uint32_t n, uint32_t c0, uint32_t c1,
                                const float *bias, float *y, size_t ldy) {
  for (int r = 0; r < nrows; r++)
    for (uint32_t c = 0; c < 16; c++) {
      uint32_t col = n + c;
      if (col >= c0 && col < c1) y[r * ldy + col] = C[16 * r + c] + (bias ? bias[col] : 0.0f);
    }
}
static void model_round_row(const float *x, uint32_t n, uint16_t *out) {
  for (uint32_t k = 0; k < n; k++) out[k] = bf16_from_f32(x[k]);
}

#define AMX_STATE                                                                            \
  amx_model amx_m_;                                                                          \
  memset(&amx_m_, 0, sizeof amx_m_)
#define AMX_LOADCFG(c) model_loadcfg(&amx_m_, c)
#define AMX_ZERO(t) model_zero(&amx_m_, t)
#define AMX_LOAD(t, p, s) model_load(&amx_m_, t, p, (long)(s))
#define AMX_STORE(t, p, s) model_store(&amx_m_, t, p, (long)(s))
#define AMX_DPBUSD(c, a, b) model_dpbusd(&amx_m_, c, a, b)
#define AMX_DPBF16PS(c, a, b) model_dpbf16ps(&amx_m_, c, a, b)
#define AMX_RELEASE() (amx_m_.loaded = 0)
#define AMX_Q8_EPILOGUE model_q8_epilogue
#define AMX_BF16_EPILOGUE model_bf16_epilogue
#define AMX_BF16_ROUND_ROW model_round_row
#define AMX_Q8_TILES model_q8_tiles
#define AMX_BF16_BLOCK model_bf16_block
#include "encoder/quant_amx_impl.h"

/* ------------------------------------------------------------ the tests */


typedef struct shape {
  uint32_t rows, in, out;
} shape;
/* every remainder that matters: rows 1, 15/16/17 (one tile, a tile and a
** row), 31/32/33 (the row pair), past the 96-row chunk; in below, at and
** past one 64-input (32-pair) step; out a single block, an odd number of
** blocks, a partial panel */
static const shape shapes[] = {{1, 1, 1},     {1, 64, 16},    {15, 65, 17},  {16, 128, 32},
                               {17, 130, 48}, {31, 7, 100},   {32, 384, 64}, {33, 200, 33},
                               {97, 96, 70},  {193, 40, 130}, {40, 1536, 16}, {5, 3, 300}};

enum { MC = 96 }; /* quant.c's activation chunk */

/* q8_block's AMX branch, with the model's loops: rows quantized MC at a
** time into round_up(mc, 16) zeroed rows (exactly what quant.c allocates),
** the tiles over blocks [c0/16, ceil(c1/16)). */
static void model_q8_linear(const float *x, uint32_t nrows, const q8_matrix *q, uint32_t c0,
                            uint32_t c1, const float *bias, float *y, size_t ldy) {
  uint32_t mc = nrows < MC ? nrows : MC;
  size_t arows = (mc + 15) / 16 * 16;
  uint8_t *A = calloc(arows, q->in_pad);
  float sx[MC];
  int32_t zp[MC];
  for (uint32_t rc = 0; rc < nrows; rc += mc) {
    uint32_t nr = nrows - rc < mc ? nrows - rc : mc;
    for (uint32_t i = 0; i < nr; i++) {
      float inv;
      const float *xr = x + (size_t)(rc + i) * q->in;
      q8_row_params(xr, q->in, &sx[i], &inv, &zp[i]);
      memset(A + (size_t)i * q->in_pad, 0, q->in_pad);
      q8_quantize_row_ref(xr, q->in, inv, zp[i], A + (size_t)i * q->in_pad);
    }
    model_q8_tiles(A, q->in_pad, nr, sx, zp, q, c0 / 16, (c1 + 15) / 16, c0, c1, bias,
                   y + (size_t)rc * ldy, ldy);
  }
  free(A);
}

TEST(amx_int8_tile_loops_match_twin_bit_for_bit) {
  unsigned long long before = model_dps;
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    q8_case c;
    REQUIRE(q8_case_new(&c, sh.rows, sh.in, sh.out, s % 2 ? 0.9f : 0.0f) == 0);
    REQUIRE(c.q.in_pad % 64 == 0);
    size_t ny = (size_t)sh.rows * sh.out;
    float *ym = malloc(ny * 4);
    uint32_t ranges[2][2] = {{0, sh.out}, {sh.out / 3, sh.out - sh.out / 5}};
    for (int pass = 0; pass < 2; pass++) {
      uint32_t c0 = ranges[pass][0], c1 = ranges[pass][1];
      memset(ym, 0xFF, ny * 4);
      model_q8_linear(c.x, sh.rows, &c.q, c0, c1, c.b, ym, sh.out);
      size_t first, bad = q8_case_wrong(&c, ym, c0, c1, &first);
      CHECKF(bad == 0, "shape %ux%u->%u columns [%u,%u): %zu of %zu wrong, first [%zu] %.9g vs %.9g",
             sh.rows, sh.in, sh.out, c0, c1, bad, ny, first, c.yr[first], ym[first]);
    }
    q8_case_free(&c);
    free(ym);
  }
  CHECK(model_dps > before); /* the loops ran on the model */
}

/* Random shapes and column ranges beyond the fixed list: int8 on the model
** equals the twin bit for bit. */
TEST(amx_int8_random_shapes) {
  for (int it = 0; it < 40; it++) {
    uint32_t rows = 1 + rnd() % 200, in = 1 + rnd() % 700, out = 1 + rnd() % 300;
    uint32_t c0 = rnd() % out, c1 = c0 + 1 + rnd() % (out - c0);
    q8_case c;
    REQUIRE(q8_case_new(&c, rows, in, out, 0.3f) == 0);
    size_t ny = (size_t)rows * out;
    float *ym = malloc(ny * 4);
    memset(ym, 0xFF, ny * 4);
    model_q8_linear(c.x, rows, &c.q, c0, c1, c.b, ym, out);
    size_t first, bad = q8_case_wrong(&c, ym, c0, c1, &first);
    CHECKF(bad == 0, "shape %ux%u->%u columns [%u,%u): %zu wrong", rows, in, out, c0, c1, bad);
    q8_case_free(&c);
    free(ym);
  }
}

/* bf16_block's AMX branch with the model's loops; A is exactly the 64 rows
** × in_pad bf16_block_amx is promised. */
TEST(amx_bf16_tile_loops_match_twin) {
  unsigned long long before = model_dps;
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
    shape sh = shapes[s];
    float *W = rand_buf((size_t)sh.out * sh.in, 0.05f, 0.0f);
    float *x = rand_buf((size_t)sh.rows * sh.in, 1.0f, 0.2f);
    float *b = rand_buf(sh.out, 0.1f, 0.0f);
    size_t ny = (size_t)sh.rows * sh.out;
    float *yr = malloc(ny * 4), *ym = malloc(ny * 4);
    bf16_packed p;
    REQUIRE(bf16_pack(W, sh.out, sh.in, &p, NULL) == 0);
    REQUIRE(p.in_pad % 32 == 0);
    bf16_linear_ref(x, sh.rows, &p, b, yr);
    uint16_t *A = malloc((size_t)AMX_BF16_MC * p.in_pad * 2);
    memset(A, 0xFF, (size_t)AMX_BF16_MC * p.in_pad * 2); /* NaN bits: padding must be rewritten */
    uint32_t ranges[2][2] = {{0, sh.out}, {sh.out / 3, sh.out - sh.out / 5}};
    for (int pass = 0; pass < 2; pass++) {
      uint32_t c0 = ranges[pass][0], c1 = ranges[pass][1];
      for (size_t i = 0; i < ny; i++) ym[i] = NAN;
      /* rows split in two calls, as a row split of bf16_linear_part would */
      uint32_t mid = pass ? sh.rows / 2 : 0;
      model_bf16_block(x, &p, b, ym, sh.out, 0, mid, c0, c1, A);
      model_bf16_block(x, &p, b, ym, sh.out, mid, sh.rows, c0, c1, A);
      double worst = 0;
      size_t outside = 0;
      for (uint32_t r = 0; r < sh.rows; r++)
        for (uint32_t n = 0; n < sh.out; n++) {
          size_t i = (size_t)r * sh.out + n;
          if (n < c0 || n >= c1) {
            outside += !isnan(ym[i]);
            continue;
          }
          double mag = fabs(b[n]);
          for (uint32_t k = 0; k < sh.in; k++)
            mag += fabs((double)x[(size_t)r * sh.in + k] * W[(size_t)n * sh.in + k]);
          double e = fabs((double)ym[i] - yr[i]) / (mag + 1e-30);
          if (!(e <= worst)) worst = e;
        }
      CHECKF(worst < 2e-6 && outside == 0,
             "shape %ux%u->%u columns [%u,%u): vs twin %g, %zu written outside", sh.rows, sh.in,
             sh.out, c0, c1, worst, outside);
    }
    free(A);
    bf16_packed_free(&p);
    free(W), free(x), free(b), free(yr), free(ym);
  }
  CHECK(model_dps > before);
}

/* The model itself: a hand-checked product (u8 × s8 signedness, 4-byte
** groups) and the faults it must raise are what make the tests above mean
** something. */
TEST(amx_model_dpbusd_known_answer) {
  _Alignas(64) amx_tilecfg cfg;
  amx_config_full(&cfg);
  amx_model m;
  memset(&m, 0, sizeof m);
  model_loadcfg(&m, &cfg);
  uint8_t a[16][64], bm[16][64];
  for (int i = 0; i < 16; i++)
    for (int k = 0; k < 64; k++) a[i][k] = (uint8_t)(200 + i), bm[i][k] = (uint8_t)(k % 4 == 0 ? 0x80 : 1);
  model_load(&m, 4, a, 64);
  model_load(&m, 6, bm, 64);
  model_zero(&m, 0);
  model_dpbusd(&m, 0, 4, 6);
  int32_t c[16][16];
  model_store(&m, 0, c, 64);
  /* row i: 16 groups × (a·(−128) + 3·a) = 16 · (200 + i) · (−125) */
  for (int i = 0; i < 16; i++)
    for (int n = 0; n < 16; n++) CHECK_EQ_INT(c[i][n], 16 * (200 + i) * -125);
}

TEST(amx_dispatch_rules) {
  /* a Sapphire Rapids-like CPU: AMX for int8 and bf16 linear, only with the
  ** tile permission; attention and f32 stay on AVX-512 */
  cpu_features spr;
  memset(&spr, 0, sizeof spr);
  spr.avx2 = spr.fma = spr.avx512f = spr.avx512bw = spr.avx512vl = spr.avx512dq = 1;
  spr.avx512vnni = spr.avx512bf16 = spr.amx_tile = spr.amx_int8 = spr.amx_bf16 = 1;
  spr.os_amx = spr.amx_perm = 1;
  enc_kernels k;
  enc_kernels_select(&spr, ENC_CAP_NONE, &k);
  CHECK(k.q8 == ENC_AMX_INT8 && k.bf16 == ENC_AMX_BF16);
  CHECK(k.f32 == ENC_AVX512 && k.vec == ENC_AVX512 && k.att == ENC_AVX512_BF16);
  enc_kernels_select(&spr, ENC_AVX512_BF16, &k); /* --cap avx512-bf16 */
  CHECK(k.q8 == ENC_AVX512_VNNI && k.bf16 == ENC_AVX512_BF16);
  enc_kernels_select(&spr, ENC_AMX_INT8, &k);
  CHECK(k.q8 == ENC_AMX_INT8 && k.bf16 == ENC_AVX512_BF16);
  cpu_features refused = spr;
  refused.amx_perm = 0; /* Linux said no (old kernel, seccomp): AVX-512 runs */
  enc_kernels_select(&refused, ENC_CAP_NONE, &k);
  CHECK(k.q8 == ENC_AVX512_VNNI && k.bf16 == ENC_AVX512_BF16);
  cpu_features nostate = spr;
  nostate.os_amx = 0; /* XCR0 without the tile state */
  CHECK(!enc_isa_supported(&nostate, ENC_AMX_INT8) && !enc_isa_supported(&nostate, ENC_AMX_BF16));
  CHECK_STR(enc_isa_name(ENC_AMX_INT8), "amx-int8");
  CHECK_STR(enc_isa_name(ENC_AMX_BF16), "amx-bf16");
  /* this machine: AMX picked exactly when it is usable */
  cpu_features f;
  cpu_detect(&f);
  enc_kernels_select(&f, ENC_CAP_NONE, &k);
  CHECK((k.q8 == ENC_AMX_INT8) == enc_isa_supported(&f, ENC_AMX_INT8));
  if (!f.amx_tile) CHECK(!f.amx_perm);
}

/* Each misuse the hardware faults on aborts the model (run in a child). */
static int model_faults(int which) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(3);
    _Alignas(64) amx_tilecfg cfg;
    amx_config_full(&cfg);
    amx_model m;
    memset(&m, 0, sizeof m);
    static uint8_t buf[64 * 64];
    if (which == 0) model_zero(&m, 0); /* before ldtilecfg */
    if (which == 1) cfg.rows[6] = 8;   /* B rows != A bytes / 4 */
    if (which == 2) cfg.colsb[0] = 32; /* C narrower than B */
    if (which == 3) cfg.rows[9] = 1;   /* a ninth tile */
    model_loadcfg(&m, &cfg);
    model_load(&m, 4, buf, 64);
    model_load(&m, 6, buf, 64);
    if (which == 4) model_dpbusd(&m, 4, 4, 6); /* C is A */
    model_dpbusd(&m, 0, 4, 6);
    if (which == 5) {
      m.loaded = 0; /* tilerelease, then a load */
      model_load(&m, 4, buf, 64);
    }
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st);
}

TEST(amx_model_faults_like_the_hardware) {
  for (int which = 0; which < 6; which++) CHECKF(model_faults(which), "misuse %d was not caught", which);
  CHECK(!model_faults(-1)); /* the same sequence, used correctly, runs */
}
