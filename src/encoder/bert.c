/*
** bert.c — loading BERT weights from a model directory and the float32
** forward pass (see bert.h).
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoder/bert.h"

#include "encoder/attention_int.h"
#include "encoder/kernels.h"
#include "util/util.h"

/* ------------------------------------------------------------------ load */

static float *own(bert_model *m, size_t nfloats) {
  if (m->nowned == m->capowned) {
    size_t cap = m->capowned ? m->capowned * 2 : 32;
    void **o = realloc(m->owned, cap * sizeof *o);
    if (!o) return NULL;
    m->owned = o;
    m->capowned = cap;
  }
  float *p = aligned_alloc(64, (nfloats * sizeof(float) + 63) / 64 * 64);
  if (p) m->owned[m->nowned++] = p;
  return p;
}

/* Look up prefix+name, check dtype and shape, and return float32 values:
** straight from the mapping for aligned F32, else a widened copy. */
static int get_w(bert_model *m, const char *prefix, const char *name, uint32_t ndim,
                 uint64_t d0, uint64_t d1, const float **out, blend_error *err) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", prefix, name);
  const st_tensor *t = st_find(m->st, full);
  uint64_t shape[2] = {d0, d1};
  int rc = st_check(m->st, full, t, ndim, shape, err);
  if (rc) return rc;
  if (t->dtype == ST_F32 && ((uintptr_t)t->data & 3) == 0) {
    *out = (const float *)(const void *)t->data;
    return BLEND_OK;
  }
  float *p = own(m, t->nelem ? t->nelem : 1);
  if (!p) return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory for '%s'", st_label(m->st), full);
  st_to_f32(t, p);
  *out = p;
  return BLEND_OK;
}

/* Copy prefix+name (shape [d0] or [d0, d1]) widened into dst. */
static int copy_w(bert_model *m, const char *prefix, const char *name, uint32_t ndim, uint64_t d0,
                  uint64_t d1, float *dst, blend_error *err) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", prefix, name);
  const st_tensor *t = st_find(m->st, full);
  uint64_t shape[2] = {d0, d1};
  int rc = st_check(m->st, full, t, ndim, shape, err);
  if (rc) return rc;
  st_to_f32(t, dst);
  return BLEND_OK;
}

/* Fill a linear layer from prefix+wname / prefix+bname (W [out, in]). */
static int get_linear(bert_model *m, const char *p, const char *wname, const char *bname,
                      uint32_t out, uint32_t in, bert_linear *lin, blend_error *err) {
  int rc;
  lin->out = out;
  lin->in = in;
  if ((rc = get_w(m, p, wname, 2, out, in, &lin->w, err)) ||
      (rc = get_w(m, p, bname, 1, out, 0, &lin->b, err)))
    return rc;
  return BLEND_OK;
}

static int load_layer(bert_model *m, const char *prefix, uint32_t li, bert_layer *L,
                      blend_error *err) {
  uint64_t H = m->cfg.hidden, NI = m->cfg.intermediate;
  char p[64];
  snprintf(p, sizeof p, "%sencoder.layer.%u.", prefix, li);
  float *w = own(m, 3 * H * H), *b = own(m, 3 * H);
  if (!w || !b) return blend_seterr(err, BLEND_ENOMEM, "out of memory loading layer %u", li);
  static const char *qkv[3] = {"query", "key", "value"};
  int rc;
  for (int i = 0; i < 3; i++) {
    char n[96];
    snprintf(n, sizeof n, "attention.self.%s.weight", qkv[i]);
    if ((rc = copy_w(m, p, n, 2, H, H, w + (size_t)i * H * H, err))) return rc;
    snprintf(n, sizeof n, "attention.self.%s.bias", qkv[i]);
    if ((rc = copy_w(m, p, n, 1, H, 0, b + (size_t)i * H, err))) return rc;
  }
  L->qkv.w = w;
  L->qkv.b = b;
  L->qkv.out = (uint32_t)(3 * H);
  L->qkv.in = (uint32_t)H;
  if ((rc = get_linear(m, p, "attention.output.dense.weight", "attention.output.dense.bias",
                       (uint32_t)H, (uint32_t)H, &L->ao, err)) ||
      (rc = get_w(m, p, "attention.output.LayerNorm.weight", 1, H, 0, &L->ln1_g, err)) ||
      (rc = get_w(m, p, "attention.output.LayerNorm.bias", 1, H, 0, &L->ln1_b, err)) ||
      (rc = get_linear(m, p, "intermediate.dense.weight", "intermediate.dense.bias", (uint32_t)NI,
                       (uint32_t)H, &L->in, err)) ||
      (rc = get_linear(m, p, "output.dense.weight", "output.dense.bias", (uint32_t)H,
                       (uint32_t)NI, &L->out, err)) ||
      (rc = get_w(m, p, "output.LayerNorm.weight", 1, H, 0, &L->ln2_g, err)) ||
      (rc = get_w(m, p, "output.LayerNorm.bias", 1, H, 0, &L->ln2_b, err)))
    return rc;
  bert_linear *lins[4] = {&L->qkv, &L->ao, &L->in, &L->out};
  for (int i = 0; i < 4; i++) {
    bert_linear *lin = lins[i];
    /* bf16 mode: the attention block's projections stay float32 (bert.h) */
    lin->prec = m->backend == BERT_BF16 && i < 2 ? BERT_F32_PACKED : m->backend;
    if (lin->prec == BERT_F32_PACKED)
      rc = f32_pack(lin->w, lin->out, lin->in, &lin->pk, err);
    else if (lin->prec == BERT_INT8)
      rc = q8_quantize(lin->w, lin->out, lin->in, &lin->q8, err);
    else if (lin->prec == BERT_BF16)
      rc = bf16_pack(lin->w, lin->out, lin->in, &lin->bf, err);
    if (rc) return rc;
  }
  return BLEND_OK;
}

int bert_load(const char *dir, int threads, int backend, bert_model **out, blend_error *err) {
  int cap = enc_isa_cap_from_env(err);
  if (cap < 0) {
    *out = NULL;
    return BLEND_EINVAL;
  }
  return bert_load_ex(dir, threads, backend, cap, out, err);
}

int bert_load_ex(const char *dir, int threads, int backend, int isa_cap, bert_model **out,
                 blend_error *err) {
  *out = NULL;
  if (backend != BERT_F32_PACKED && backend != BERT_INT8 && backend != BERT_F32_BLAS &&
      backend != BERT_BF16)
    return blend_seterr(err, BLEND_EINVAL, "unknown encoder backend %d", backend);
  bert_model *m = calloc(1, sizeof *m);
  if (!m) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  m->backend = backend;
  cpu_detect(&m->cpu);
  enc_kernels_select(&m->cpu, isa_cap, &m->kern);
  m->vops = k_vec_ops_for(m->kern.vec);
  pthread_mutex_init(&m->blas_lock, NULL);
  pthread_mutex_init(&m->scratch_lock, NULL);
  if (backend == BERT_BF16 && m->kern.bf16 == ENC_SCALAR) {
    char feats[256];
    cpu_feature_list(&m->cpu, feats, sizeof feats);
    int rc0 = blend_seterr(err, BLEND_EUNSUPPORTED,
                           "BF16 precision needs a CPU with AVX-512 BF16 (vdpbf16ps); this one "
                           "(%s) has: %s — use f32 or int8",
                           m->cpu.brand[0] ? m->cpu.brand : "unknown CPU", feats[0] ? feats : "none");
    bert_free(m);
    return rc0;
  }
  int rc = bert_config_load(dir, &m->cfg, err);
  if (rc) goto fail;
  char path[2048];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if ((rc = st_open(path, &m->st, err))) goto fail;
  const char *prefix = st_find(m->st, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
  if (st_find(m->st, "classifier.weight")) m->cfg.cross = 1;
  bert_config *c = &m->cfg;
  uint64_t H = c->hidden;
  if ((rc = get_w(m, prefix, "embeddings.word_embeddings.weight", 2, c->vocab, H, &m->word, err)) ||
      (rc = get_w(m, prefix, "embeddings.position_embeddings.weight", 2, c->max_position, H,
                  &m->pos, err)) ||
      (rc = get_w(m, prefix, "embeddings.token_type_embeddings.weight", 2, c->type_vocab, H,
                  &m->type, err)) ||
      (rc = get_w(m, prefix, "embeddings.LayerNorm.weight", 1, H, 0, &m->emb_ln_g, err)) ||
      (rc = get_w(m, prefix, "embeddings.LayerNorm.bias", 1, H, 0, &m->emb_ln_b, err)))
    goto fail;
  m->layers = calloc(c->layers, sizeof *m->layers);
  if (!m->layers) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto fail;
  }
  for (uint32_t l = 0; l < c->layers; l++)
    if ((rc = load_layer(m, prefix, l, &m->layers[l], err))) goto fail;
  if (c->cross) {
    if (c->num_labels != 1) {
      rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s/config.json: cross-encoders with %u labels are not supported (1)",
                        dir, c->num_labels);
      goto fail;
    }
    if ((rc = get_w(m, prefix, "pooler.dense.weight", 2, H, H, &m->pool_w, err)) ||
        (rc = get_w(m, prefix, "pooler.dense.bias", 1, H, 0, &m->pool_b, err)) ||
        (rc = get_w(m, "", "classifier.weight", 2, 1, H, &m->cls_w, err)) ||
        (rc = get_w(m, "", "classifier.bias", 1, 1, 0, &m->cls_b, err)))
      goto fail;
  }
  if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  m->threads = threads;
  m->pool = tpool_new(threads);
  if (!m->pool) {
    rc = blend_seterr(err, BLEND_ENOMEM, "cannot start %d threads", threads);
    goto fail;
  }
  m->threads = tpool_size(m->pool);
  bert_set_kernels(m, &m->kern); /* every packed matrix on the chosen builds */
  *out = m;
  return BLEND_OK;
fail:
  bert_free(m);
  return rc;
}

void bert_set_kernels(bert_model *m, const enc_kernels *k) {
  m->kern = *k;
  m->vops = k_vec_ops_for(k->vec);
  for (uint32_t l = 0; m->layers && l < m->cfg.layers; l++) {
    bert_linear *lins[4] = {&m->layers[l].qkv, &m->layers[l].ao, &m->layers[l].in,
                            &m->layers[l].out};
    for (int i = 0; i < 4; i++) {
      lins[i]->pk.isa = k->f32;
      lins[i]->q8.isa = k->q8;
      lins[i]->bf.isa = k->bf16;
    }
  }
}

void bert_free(bert_model *m) {
  if (!m) return;
  tpool_free(m->pool);
  for (uint32_t l = 0; m->layers && l < m->cfg.layers; l++) {
    bert_linear *lins[4] = {&m->layers[l].qkv, &m->layers[l].ao, &m->layers[l].in,
                            &m->layers[l].out};
    for (int i = 0; i < 4; i++) {
      f32_packed_free(&lins[i]->pk);
      q8_free(&lins[i]->q8);
      bf16_packed_free(&lins[i]->bf);
    }
  }
  for (size_t i = 0; i < m->nowned; i++) free(m->owned[i]);
  free(m->owned);
  free(m->layers);
  st_close(m->st);
  pthread_mutex_destroy(&m->blas_lock);
  pthread_mutex_destroy(&m->scratch_lock);
  free(m->scratch);
  free(m);
}

static int check_inputs(const bert_model *m, size_t n, const int32_t *const *ids,
                        const int32_t *const *types, const uint32_t *lens, blend_error *err) {
  for (size_t s = 0; s < n; s++) {
    if (lens[s] == 0)
      return blend_seterr(err, BLEND_EINVAL, "sequence %zu is empty (needs at least [CLS])", s);
    if (lens[s] > m->cfg.max_position)
      return blend_seterr(err, BLEND_EINVAL,
                          "sequence %zu has %u tokens; the model takes at most %u", s, lens[s],
                          m->cfg.max_position);
    for (uint32_t i = 0; i < lens[s]; i++) {
      if (ids[s][i] < 0 || (uint32_t)ids[s][i] >= m->cfg.vocab)
        return blend_seterr(err, BLEND_EINVAL, "sequence %zu: token id %d out of range (vocab %u)",
                            s, ids[s][i], m->cfg.vocab);
      if (types && types[s] && (types[s][i] < 0 || (uint32_t)types[s][i] >= m->cfg.type_vocab))
        return blend_seterr(err, BLEND_EINVAL,
                            "sequence %zu: token type id %d out of range (type_vocab_size %u)", s,
                            types[s][i], m->cfg.type_vocab);
    }
  }
  return BLEND_OK;
}

/* --------------------------------------------------------------- forward */

enum epilogue { EPI_NONE, EPI_GELU, EPI_ADD_LN };

typedef struct fwd {
  bert_model *m;
  size_t n, M, H, NI, d, Tmax;
  const int32_t *const *ids;
  const int32_t *const *types;
  const uint32_t *lens;
  size_t *off;              /* [n+1] first row of each sequence */
  float *x, *qkv, *ctx, *inter;
  float *att_scratch;       /* per worker */
  size_t att_stride;
  const bert_layer *L;
  /* current GEMM */
  const float *ga;
  const bert_linear *glin;
  float *gy;
  size_t gldy, chunk;
  atomic_int failed;        /* a backend's error code (allocation) */
  int gsplit_cols, gepi;
  const float *ln_g, *ln_b; /* for EPI_ADD_LN: y = LN(y + x) stored into x */
} fwd;

static void embed_task(void *ctx, size_t s, int worker) {
  fwd *f = ctx;
  const bert_model *m = f->m;
  size_t H = f->H;
  for (uint32_t p = 0; p < f->lens[s]; p++) {
    float *row = f->x + (f->off[s] + p) * H;
    const float *w = m->word + (size_t)f->ids[s][p] * H, *ps = m->pos + (size_t)p * H;
    int32_t tt = f->types && f->types[s] ? f->types[s][p] : 0;
    const float *ty = m->type + (size_t)tt * H;
    for (size_t i = 0; i < H; i++) row[i] = w[i] + ps[i] + ty[i];
    m->vops->add_layernorm(row, NULL, H, m->emb_ln_g, m->emb_ln_b, m->cfg.ln_eps);
  }
}

/* y rows [r0, r1) (x, y already offset to r0; y row stride ldy), columns
** [c0, c1) of lin. */
static void linear_block(fwd *f, const bert_linear *lin, const float *x, size_t rows, size_t c0,
                         size_t c1, float *y, size_t ldy) {
  int rc = 0;
  switch (lin->prec) {
    case BERT_F32_PACKED:
      rc = f32_linear_block(x, (uint32_t)rows, &lin->pk, (uint32_t)c0, (uint32_t)c1, lin->b, y,
                            ldy);
      break;
    case BERT_INT8:
      rc = q8_linear_block(x, (uint32_t)rows, &lin->q8, (uint32_t)c0, (uint32_t)c1, lin->b, y,
                           ldy);
      break;
    case BERT_BF16:
      rc = bf16_linear_block(x, (uint32_t)rows, &lin->bf, (uint32_t)c0, (uint32_t)c1, lin->b, y,
                             ldy);
      break;
    default:
      /* the linked OpenBLAS may be a serial build that is not safe to call
      ** from several threads at once */
      pthread_mutex_lock(&f->m->blas_lock);
      k_linear(x, rows, lin->in, lin->w + c0 * lin->in, c1 - c0, lin->b + c0, y + c0, ldy);
      pthread_mutex_unlock(&f->m->blas_lock);
  }
  if (rc) atomic_store(&f->failed, rc);
}

/* One chunk of a GEMM: rows [r0, r1) (row split) or columns (column split),
** then the fused epilogue when it applies to whole rows. */
static void gemm_task(void *ctx, size_t t, int worker) {
  fwd *f = ctx;
  const bert_linear *lin = f->glin;
  if (!f->gsplit_cols) {
    size_t r0 = t * f->chunk, r1 = r0 + f->chunk < f->M ? r0 + f->chunk : f->M;
    if (r0 >= r1) return;
    float *y = f->gy + r0 * f->gldy;
    linear_block(f, lin, f->ga + r0 * lin->in, r1 - r0, 0, lin->out, y, f->gldy);
    if (f->gepi == EPI_GELU) {
      for (size_t r = r0; r < r1; r++) f->m->vops->gelu(f->gy + r * f->gldy, lin->out);
    } else if (f->gepi == EPI_ADD_LN) {
      for (size_t r = r0; r < r1; r++)
        f->m->vops->add_layernorm(f->x + r * f->H, f->gy + r * f->gldy, f->H, f->ln_g,
                                  f->ln_b, f->m->cfg.ln_eps);
    }
  } else {
    size_t c0 = t * f->chunk, c1 = c0 + f->chunk < lin->out ? c0 + f->chunk : lin->out;
    if (c0 >= c1) return;
    linear_block(f, lin, f->ga, f->M, c0, c1, f->gy, f->gldy);
    if (f->gepi == EPI_GELU)
      for (size_t r = 0; r < f->M; r++) f->m->vops->gelu(f->gy + r * f->gldy + c0, c1 - c0);
  }
}

static void ln_task(void *ctx, size_t t, int worker) {
  fwd *f = ctx;
  size_t r0 = t * f->chunk, r1 = r0 + f->chunk < f->M ? r0 + f->chunk : f->M;
  for (size_t r = r0; r < r1; r++)
    f->m->vops->add_layernorm(f->x + r * f->H, f->gy + r * f->gldy, f->H, f->ln_g, f->ln_b,
                              f->m->cfg.ln_eps);
}

/* Rows per task when the linear layers split rows (0: too few rows, split
** columns). Chunks are small enough that a chunk's outputs are still in L2
** when its epilogue (GELU, add + LayerNorm) and, in the FFN, the second
** product read them, and many per thread, handed out dynamically, so a
** thread that loses its core to another process does not hold up the
** others. CHUNK_ROWS measured on Zen 1 (512 KB L2), MiniLM-L6 f32; on Zen 5
** (1 MB L2) 32 to 192 rows are within noise of each other. */
enum { CHUNK_ROWS = 60 };
static size_t row_chunk(const fwd *f) {
  size_t nt = (size_t)f->m->threads;
  if (nt > 1 && f->M < 32 * nt) return 0;
  return CHUNK_ROWS;
}

/* y = a · linᵀ + b over f->M rows, with an epilogue, split across threads. */
static void gemm(fwd *f, const float *a, const bert_linear *lin, float *y, size_t ldy, int epi,
                 const float *g, const float *beta) {
  size_t nt = (size_t)f->m->threads, N = lin->out, chunk = row_chunk(f);
  f->ga = a;
  f->glin = lin;
  f->gy = y;
  f->gldy = ldy;
  f->gepi = epi;
  f->ln_g = g;
  f->ln_b = beta;
  if (f->m->backend == BERT_F32_BLAS) {
    f->gsplit_cols = 0;
    f->chunk = f->M;
    gemm_task(f, 0, 0);
    return;
  }
  if (chunk) {
    f->gsplit_cols = 0;
    f->chunk = chunk;
    tpool_run(f->m->pool, (f->M + chunk - 1) / chunk, gemm_task, f);
    return;
  }
  /* few rows (short single texts): split the output columns in blocks of 32 */
  f->gsplit_cols = 1;
  f->chunk = ((N + nt - 1) / nt + 31) / 32 * 32;
  tpool_run(f->m->pool, (N + f->chunk - 1) / f->chunk, gemm_task, f);
  if (epi == EPI_ADD_LN) {
    f->chunk = (f->M + nt - 1) / nt;
    tpool_run(f->m->pool, nt, ln_task, f);
  }
}

/* The feed-forward block of one row chunk: inter = GELU(x·W1ᵀ + b1), then
** x = LN(x + inter·W2ᵀ + b2), so the chunk's intermediate rows (4× wider
** than x) go from the first product to the second through L2, not memory. */
static void ffn_task(void *ctx, size_t t, int worker) {
  fwd *f = ctx;
  const bert_layer *L = f->L;
  size_t r0 = t * f->chunk, r1 = r0 + f->chunk < f->M ? r0 + f->chunk : f->M, H = f->H,
         NI = f->NI;
  if (r0 >= r1) return;
  float *inter = f->inter + r0 * NI, *y = f->ctx + r0 * H;
  linear_block(f, &L->in, f->x + r0 * H, r1 - r0, 0, NI, inter, NI);
  for (size_t r = 0; r < r1 - r0; r++) f->m->vops->gelu(inter + r * NI, NI);
  linear_block(f, &L->out, inter, r1 - r0, 0, H, y, H);
  for (size_t r = 0; r < r1 - r0; r++)
    f->m->vops->add_layernorm(f->x + (r0 + r) * H, y + r * H, H, L->ln2_g, L->ln2_b,
                              f->m->cfg.ln_eps);
}

static void attention_task(void *ctx, size_t t, int worker) {
  fwd *f = ctx;
  size_t heads = f->m->cfg.heads, s = t / heads, h = t % heads, H = f->H, d = f->d;
  const float *q = f->qkv + f->off[s] * 3 * H + h * d;
  const bert_model *m = f->m;
  /* int8: both attention products in BF16 when the CPU has it, else in
  ** int16 on AVX-512 VNNI or AVX-VNNI (attention_int.h), so no float32
  ** GEMM is left in its layers. The bf16 precision keeps float32 attention (bert.h). */
  int i8 = m->backend == BERT_INT8;
  (i8 && m->kern.att == ENC_AVX512_BF16    ? k_attention_bf16
   : i8 && m->kern.att == ENC_AVX512_VNNI ? k_attention_int_avx512vnni
   : i8 && m->kern.att == ENC_AVX_VNNI    ? k_attention_int_avxvnni
                                           : m->vops->attention)(
      q, q + H, q + 2 * H, 3 * H, f->lens[s], d, 1.0f / sqrtf((float)d),
      f->ctx + f->off[s] * H + h * d, H, f->att_scratch + (size_t)worker * f->att_stride);
}

/* Bi-encoder pooling of sequence rows [off, off+len) of x into out[H]. */
static void pool_rows(const bert_config *c, const float *x, size_t len, size_t H, float *out) {
  if (c->pooling == BERT_POOL_CLS) {
    memcpy(out, x, H * sizeof *out);
  } else if (c->pooling == BERT_POOL_MAX) {
    memcpy(out, x, H * sizeof *out);
    for (size_t r = 1; r < len; r++)
      for (size_t i = 0; i < H; i++)
        if (x[r * H + i] > out[i]) out[i] = x[r * H + i];
  } else {
    for (size_t i = 0; i < H; i++) out[i] = 0;
    for (size_t r = 0; r < len; r++)
      for (size_t i = 0; i < H; i++) out[i] += x[r * H + i];
    for (size_t i = 0; i < H; i++) out[i] /= (float)len;
  }
  if (c->normalize) {
    double ss = 0;
    for (size_t i = 0; i < H; i++) ss += (double)out[i] * out[i];
    double nrm = sqrt(ss);
    float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
    for (size_t i = 0; i < H; i++) out[i] *= inv;
  }
}

/* Cross-encoder head on one [CLS] row: classifier(tanh(pooler(h))). */
static float cross_head(const bert_model *m, const float *cls, float *tmp) {
  size_t H = m->cfg.hidden;
  for (size_t o = 0; o < H; o++) {
    double s = m->pool_b[o];
    for (size_t i = 0; i < H; i++) s += (double)m->pool_w[o * H + i] * cls[i];
    tmp[o] = (float)tanh(s);
  }
  double s = m->cls_b[0];
  for (size_t i = 0; i < H; i++) s += (double)m->cls_w[i] * tmp[i];
  return (float)s;
}

int bert_forward(bert_model *m, size_t n, const int32_t *const *ids,
                 const int32_t *const *types, const uint32_t *lens, float *out,
                 blend_error *err) {
  if (n == 0) return BLEND_OK;
  int rc = check_inputs(m, n, ids, types, lens, err);
  if (rc) return rc;
  const bert_config *c = &m->cfg;
  fwd f = {0};
  f.m = m;
  f.n = n;
  f.H = c->hidden;
  f.NI = c->intermediate;
  f.d = c->hidden / c->heads;
  f.ids = ids;
  f.types = types;
  f.lens = lens;
  f.off = malloc((n + 1) * sizeof *f.off);
  if (!f.off) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  f.off[0] = 0;
  for (size_t s = 0; s < n; s++) {
    f.off[s + 1] = f.off[s] + lens[s];
    if (lens[s] > f.Tmax) f.Tmax = lens[s];
  }
  f.M = f.off[n];
  size_t M = f.M, H = f.H, NI = f.NI;
  int nw = tpool_size(m->pool);
  size_t att_f = k_attention_scratch(f.Tmax, f.d), att_i = k_attention_int_scratch(f.Tmax, f.d);
  f.att_stride = ((att_f > att_i ? att_f : att_i) + 15) / 16 * 16;
  /* one block for all activations: the model's cached block when no other
  ** thread is using it (saves page faults on every call), else a private one */
  size_t fx = (M * H + 15) / 16 * 16, fq = (M * 3 * H + 15) / 16 * 16,
         fi = (M * NI + 15) / 16 * 16, fa = (size_t)nw * f.att_stride;
  size_t need = (2 * fx + fq + fi + fa) * sizeof(float);
  float *block = NULL;
  int cached = pthread_mutex_trylock(&m->scratch_lock) == 0;
  if (cached) {
    if (m->scratch_bytes < need) {
      free(m->scratch);
      m->scratch = aligned_alloc(64, need);
      m->scratch_bytes = m->scratch ? need : 0;
    }
    block = m->scratch;
  } else {
    block = aligned_alloc(64, need);
  }
  if (!block) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory for a batch of %zu tokens", M);
    goto done;
  }
  f.x = block;
  f.ctx = f.x + fx;
  f.qkv = f.ctx + fx;
  f.inter = f.qkv + fq;
  f.att_scratch = f.inter + fi;
  tpool_run(m->pool, n, embed_task, &f);
  for (uint32_t l = 0; l < c->layers; l++) {
    const bert_layer *L = &m->layers[l];
    f.L = L;
    gemm(&f, f.x, &L->qkv, f.qkv, 3 * H, EPI_NONE, NULL, NULL);
    tpool_run(m->pool, n * c->heads, attention_task, &f);
    /* attention output projection into the (now free) qkv buffer, then
    ** x = LN(x + proj) fused per row chunk */
    gemm(&f, f.ctx, &L->ao, f.qkv, H, EPI_ADD_LN, L->ln1_g, L->ln1_b);
    size_t chunk = row_chunk(&f);
    if (chunk && m->backend != BERT_F32_BLAS) {
      f.chunk = chunk;
      tpool_run(m->pool, (M + chunk - 1) / chunk, ffn_task, &f);
    } else {
      gemm(&f, f.x, &L->in, f.inter, NI, EPI_GELU, NULL, NULL);
      gemm(&f, f.inter, &L->out, f.ctx, H, EPI_ADD_LN, L->ln2_g, L->ln2_b);
    }
  }
  if ((rc = atomic_load(&f.failed))) {
    rc = blend_seterr(err, rc, "a linear layer failed in the forward pass (%s)",
                      blend_status_name(rc));
    goto done;
  }
  for (size_t s = 0; s < n; s++) {
    const float *rows = f.x + f.off[s] * H;
    if (c->cross) out[s] = cross_head(m, rows, f.ctx);
    else pool_rows(c, rows, lens[s], H, out + s * H);
  }
done:
  free(f.off);
  if (cached) pthread_mutex_unlock(&m->scratch_lock);
  else free(block);
  return rc;
}

/* ------------------------------------------------------ reference twin */

/* y[r] = W x[r] + b with double accumulation, for rows r < M. */
static void ref_linear(const float *x, size_t M, size_t K, const float *W, size_t N,
                       const float *b, float *y) {
  for (size_t r = 0; r < M; r++)
    for (size_t o = 0; o < N; o++) {
      double s = b[o];
      for (size_t i = 0; i < K; i++) s += (double)x[r * K + i] * W[o * K + i];
      y[r * N + o] = (float)s;
    }
}

int bert_forward_ref(const bert_model *m, size_t n, const int32_t *const *ids,
                     const int32_t *const *types, const uint32_t *lens, float *out,
                     blend_error *err) {
  if (n == 0) return BLEND_OK;
  int rc = check_inputs(m, n, ids, types, lens, err);
  if (rc) return rc;
  const bert_config *c = &m->cfg;
  size_t T = 0, H = c->hidden, NI = c->intermediate, d = H / c->heads;
  for (size_t s = 0; s < n; s++)
    if (lens[s] > T) T = lens[s];
  size_t M = n * T;
  float *x = malloc(M * H * 4), *q = malloc(M * 3 * H * 4), *ctx = malloc(M * H * 4),
        *inter = malloc(M * NI * 4), *tmp = malloc(M * H * 4);
  uint8_t *mask = calloc(M, 1);
  if (!x || !q || !ctx || !inter || !tmp || !mask) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t s = 0; s < n; s++)
    for (size_t p = 0; p < T; p++) {
      int real = p < lens[s];
      mask[s * T + p] = (uint8_t)real;
      int32_t id = real ? ids[s][p] : 0; /* [PAD] */
      int32_t tt = real && types && types[s] ? types[s][p] : 0;
      float *row = x + (s * T + p) * H;
      for (size_t i = 0; i < H; i++)
        row[i] = m->word[(size_t)id * H + i] + m->pos[p * H + i] + m->type[(size_t)tt * H + i];
      k_ref_layernorm(row, H, m->emb_ln_g, m->emb_ln_b, c->ln_eps);
    }
  for (uint32_t l = 0; l < c->layers; l++) {
    const bert_layer *L = &m->layers[l];
    ref_linear(x, M, H, L->qkv.w, 3 * H, L->qkv.b, q);
    for (size_t s = 0; s < n; s++)
      for (size_t h = 0; h < c->heads; h++) {
        const float *qs = q + s * T * 3 * H + h * d;
        k_ref_attention(qs, qs + H, qs + 2 * H, 3 * H, T, d, mask + s * T,
                        1.0f / sqrtf((float)d), ctx + s * T * H + h * d, H);
      }
    ref_linear(ctx, M, H, L->ao.w, H, L->ao.b, tmp);
    for (size_t r = 0; r < M; r++) {
      for (size_t i = 0; i < H; i++) x[r * H + i] += tmp[r * H + i];
      k_ref_layernorm(x + r * H, H, L->ln1_g, L->ln1_b, c->ln_eps);
    }
    ref_linear(x, M, H, L->in.w, NI, L->in.b, inter);
    for (size_t i = 0; i < M * NI; i++) inter[i] = k_ref_gelu(inter[i]);
    ref_linear(inter, M, NI, L->out.w, H, L->out.b, tmp);
    for (size_t r = 0; r < M; r++) {
      for (size_t i = 0; i < H; i++) x[r * H + i] += tmp[r * H + i];
      k_ref_layernorm(x + r * H, H, L->ln2_g, L->ln2_b, c->ln_eps);
    }
  }
  for (size_t s = 0; s < n; s++) {
    const float *rows = x + s * T * H;
    if (c->cross) {
      out[s] = cross_head(m, rows, tmp);
      continue;
    }
    float *o = out + s * H;
    /* masked pooling over the padded rows, in double */
    for (size_t i = 0; i < H; i++) {
      double acc = c->pooling == BERT_POOL_MAX ? -INFINITY : 0;
      for (size_t p = 0; p < T; p++) {
        if (!mask[s * T + p]) continue;
        double v = rows[p * H + i];
        if (c->pooling == BERT_POOL_MAX) acc = v > acc ? v : acc;
        else if (c->pooling == BERT_POOL_MEAN || p == 0) acc += v;
      }
      o[i] = (float)(c->pooling == BERT_POOL_MEAN ? acc / (double)lens[s] : acc);
    }
    if (c->normalize) {
      double ss = 0;
      for (size_t i = 0; i < H; i++) ss += (double)o[i] * o[i];
      double nrm = sqrt(ss);
      for (size_t i = 0; i < H; i++) o[i] = (float)(o[i] / (nrm > 1e-12 ? nrm : 1e-12));
    }
  }
done:
  free(x);
  free(q);
  free(ctx);
  free(inter);
  free(tmp);
  free(mask);
  return rc;
}
