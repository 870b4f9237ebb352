/*
** hnsw_build.c — building the HNSW graph (Malkov & Yashunin 2016/2018, the
** design hnswlib implements; this is an independent implementation).
**
** Deterministic parallel build: nodes are inserted in doc order, in batches.
** Within a batch every node is inserted against the graph as it stood
** before the batch (frozen), so the nodes of a batch are independent and
** any thread may take any of them:
**   phase A (parallel over the batch's nodes): greedy descent to the node's
**     top layer, beam search with efConstruction on each layer below, then
**     the heuristic neighbour selection (Alg. 4, as hnswlib's
**     getNeighborsByHeuristic2) over the search results plus the other
**     nodes of the batch (so batch-mates still link to each other);
**     the node writes only its own lists.
**   phase B (parallel over link targets): the reverse links, grouped by
**     (layer, target) in sorted order; a list that overflows (M on upper
**     layers, M0 = 2M on layer 0) is re-selected by the same heuristic.
**   then the entry point moves to the lowest-id node of a new top layer.
** Each phase is a pure function of the graph before it, so the graph
** depends only on (rows, M, efConstruction, seed), never on the thread
** count or scheduling. Batches grow with the graph (a quarter of the nodes
** inserted so far, at most BATCH_MAX), which keeps the frozen view a good
** approximation of sequential insertion.
**
** Levels come from the seed: level(i) = floor(-ln(u_i) / ln(M)) with u_i in
** (0, 1] from a hash of (seed, i), capped at VEC_MAX_LEVEL.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/threadpool.h"
#include "vector/vec_internal.h"

#define BATCH_MAX 256

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint32_t vec_hnsw_level(uint64_t seed, uint32_t i, uint32_t M) {
  uint64_t h = splitmix64(splitmix64(seed) ^ (0x632be59bd9b4e019ull * ((uint64_t)i + 1)));
  double u = ((double)(h >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
  double lv = -log(u) / log((double)M);
  return lv >= VEC_MAX_LEVEL ? VEC_MAX_LEVEL : (uint32_t)lv;
}

typedef struct wscratch {
  uint16_t *mark;
  uint16_t gen;
  vec_hit *cand, *res, *tmp;
  size_t cand_cap, res_cap, tmp_cap;
  float *mate_sc; /* scores to the batch's nodes */
  uint32_t sel[512];
} wscratch;

typedef struct edge {
  uint32_t l, t, src;
} edge;

typedef struct build {
  const float *rows;
  size_t stride;
  uint32_t n, dim;
  int metric;
  const vec_kernels *k;
  hnsw_mem g;
  int have_entry;
  uint32_t b0, b1; /* the current batch */
  wscratch *ws;
  int nw;
  edge *edges;
  size_t nedges, edges_cap;
  size_t *groups; /* start of each (l, t) group in edges, plus the end */
  size_t ngroups;
  int failed;     /* ENOMEM inside a worker */
} build;

static inline const float *brow(const build *b, uint32_t u) { return b->rows + (size_t)u * b->stride; }

static inline float bscore(const build *b, const float *qa, uint32_t v) {
  if (b->metric == VEC_L2) return vec_sane(-b->k->l2(qa, brow(b, v), b->dim));
  return vec_sane(b->k->dot(qa, brow(b, v), b->dim));
}

static void bscore_batch(const build *b, const float *qa, const uint32_t *ids, uint32_t m,
                         float *sc) {
  uint32_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const float *r[4] = {brow(b, ids[i]), brow(b, ids[i + 1]), brow(b, ids[i + 2]),
                         brow(b, ids[i + 3])};
    if (b->metric == VEC_L2) {
      b->k->l2_4(qa, r, b->dim, sc + i);
      for (int j = 0; j < 4; j++) sc[i + j] = vec_sane(-sc[i + j]);
    } else {
      b->k->dot4(qa, r, b->dim, sc + i);
      for (int j = 0; j < 4; j++) sc[i + j] = vec_sane(sc[i + j]);
    }
  }
  for (; i < m; i++) sc[i] = bscore(b, qa, ids[i]);
}

static int visit_begin(wscratch *w, uint32_t n) {
  if (++w->gen == 0) {
    memset(w->mark, 0, (size_t)n * sizeof *w->mark);
    w->gen = 1;
  }
  return 0;
}

/* Beam search of width ef on layer l of the frozen graph from ep; the
** results are left in w->res sorted best first; returns their count, or
** (size_t)-1 on ENOMEM. */
static size_t search_layer(build *b, wscratch *w, const float *qa, vec_hit ep, uint32_t l,
                           uint32_t ef) {
  const hnsw_mem *g = &b->g;
  visit_begin(w, b->n);
  size_t nres = 0, ncand = 0;
  if (vec_scratch_reserve(&w->res, &w->res_cap, (size_t)ef + 1) ||
      vec_scratch_reserve(&w->cand, &w->cand_cap, (size_t)ef + g->M0 + 1))
    return (size_t)-1;
  w->mark[ep.doc] = w->gen;
  vec_best_push(w->cand, &ncand, ep);
  vec_worst_push(w->res, &nres, ep);
  uint32_t ids[512];
  float sc[512];
  while (ncand) {
    vec_hit c = vec_best_pop(w->cand, &ncand);
    if (nres >= ef && !vec_better(c, w->res[0])) break;
    const uint32_t *li = hnsw_mem_list(g, c.doc, l);
    uint32_t m = 0;
    for (uint32_t j = 1; j <= li[0]; j++) {
      uint32_t v = li[j];
      if (w->mark[v] == w->gen) continue;
      w->mark[v] = w->gen;
      __builtin_prefetch(brow(b, v), 0, 3);
      __builtin_prefetch((const char *)brow(b, v) + 64, 0, 3);
      ids[m++] = v;
    }
    bscore_batch(b, qa, ids, m, sc);
    if (ncand + m > w->cand_cap && vec_scratch_reserve(&w->cand, &w->cand_cap, ncand + m))
      return (size_t)-1;
    for (uint32_t j = 0; j < m; j++) {
      vec_hit x = {ids[j], sc[j]};
      if (nres < ef || vec_better(x, w->res[0])) {
        vec_best_push(w->cand, &ncand, x);
        vec_topk_offer(w->res, &nres, ef, x);
      }
    }
  }
  vec_hits_sort(w->res, nres);
  return nres;
}

static vec_hit greedy(build *b, const float *qa, vec_hit cur, uint32_t l) {
  for (int changed = 1; changed;) {
    changed = 0;
    const uint32_t *li = hnsw_mem_list(&b->g, cur.doc, l);
    for (uint32_t j = 1; j <= li[0]; j++) {
      vec_hit x = {li[j], bscore(b, qa, li[j])};
      if (vec_better(x, cur)) {
        cur = x;
        changed = 1;
      }
    }
  }
  return cur;
}

/* Heuristic selection: walk the candidates best first and keep one unless it
** is closer to an already kept neighbour than to the base node. C must be
** sorted best first and hold distinct nodes. */
static uint32_t select_neighbours(const build *b, const vec_hit *C, size_t nc, uint32_t Mmax,
                                  uint32_t *out) {
  uint32_t sel = 0;
  if (nc <= Mmax) {
    for (size_t i = 0; i < nc; i++) out[sel++] = C[i].doc;
    return sel;
  }
  for (size_t i = 0; i < nc && sel < Mmax; i++) {
    const float *rc = brow(b, C[i].doc);
    int good = 1;
    for (uint32_t j = 0; j < sel && good; j++)
      if (bscore(b, rc, out[j]) > C[i].score) good = 0;
    if (good) out[sel++] = C[i].doc;
  }
  return sel;
}

static void set_list(hnsw_mem *g, uint32_t u, uint32_t l, const uint32_t *ids, uint32_t m) {
  uint32_t *li = hnsw_mem_list(g, u, l);
  li[0] = m;
  memcpy(li + 1, ids, (size_t)m * sizeof *ids);
}

/* Phase A for one node of the batch. */
static void insert_node(void *ctx, size_t task, int worker) {
  build *b = ctx;
  wscratch *w = &b->ws[worker];
  hnsw_mem *g = &b->g;
  uint32_t q = b->b0 + (uint32_t)task, L = g->level[q];
  const float *qa = brow(b, q);
  uint32_t bn = b->b1 - b->b0;
  /* scores to the batch-mates (needed on every layer the node is on) */
  for (uint32_t j = 0; j < bn; j++)
    w->mate_sc[j] = b->b0 + j == q ? 0.0f : bscore(b, qa, b->b0 + j);
  int frozen = b->have_entry;
  uint32_t top = frozen ? g->max_level : 0;
  vec_hit ep = {0, 0};
  if (frozen) {
    ep = (vec_hit){g->entry, bscore(b, qa, g->entry)};
    for (uint32_t l = top; l > L; l--) ep = greedy(b, qa, ep, l);
  }
  for (uint32_t l = L + 1; l-- > 0;) {
    size_t nw = 0;
    if (frozen && l <= top) {
      nw = search_layer(b, w, qa, ep, l, g->efc);
      if (nw == (size_t)-1) {
        b->failed = 1;
        return;
      }
      ep = w->res[0];
    }
    if (vec_scratch_reserve(&w->tmp, &w->tmp_cap, nw + bn)) {
      b->failed = 1;
      return;
    }
    if (nw) memcpy(w->tmp, w->res, nw * sizeof *w->tmp);
    size_t nc = nw;
    for (uint32_t j = 0; j < bn; j++) {
      uint32_t u = b->b0 + j;
      if (u != q && g->level[u] >= l) w->tmp[nc++] = (vec_hit){u, w->mate_sc[j]};
    }
    vec_hits_sort(w->tmp, nc);
    uint32_t m = select_neighbours(b, w->tmp, nc, g->M, w->sel);
    set_list(g, q, l, w->sel, m);
  }
}

/* Phase B for one (layer, target) group of reverse links. */
static void link_back(void *ctx, size_t task, int worker) {
  build *b = ctx;
  wscratch *w = &b->ws[worker];
  hnsw_mem *g = &b->g;
  const edge *e = b->edges + b->groups[task], *end = b->edges + b->groups[task + 1];
  uint32_t l = e->l, t = e->t, maxM = l ? g->M : g->M0;
  uint32_t *li = hnsw_mem_list(g, t, l);
  uint32_t cnt = li[0], add[BATCH_MAX], na = 0;
  for (; e < end; e++) {
    int dup = 0;
    for (uint32_t j = 1; j <= cnt && !dup; j++) dup = li[j] == e->src;
    if (!dup) add[na++] = e->src;
  }
  if (cnt + na <= maxM) {
    memcpy(li + 1 + cnt, add, (size_t)na * sizeof *add);
    li[0] = cnt + na;
    return;
  }
  if (vec_scratch_reserve(&w->tmp, &w->tmp_cap, (size_t)cnt + na)) {
    b->failed = 1;
    return;
  }
  const float *ta = brow(b, t);
  size_t nc = 0;
  for (uint32_t j = 1; j <= cnt; j++) w->tmp[nc++] = (vec_hit){li[j], bscore(b, ta, li[j])};
  for (uint32_t j = 0; j < na; j++) w->tmp[nc++] = (vec_hit){add[j], bscore(b, ta, add[j])};
  vec_hits_sort(w->tmp, nc);
  uint32_t m = select_neighbours(b, w->tmp, nc, maxM, w->sel);
  set_list(g, t, l, w->sel, m);
}

static int edge_cmp(const void *pa, const void *pb) {
  const edge *a = pa, *c = pb;
  if (a->l != c->l) return a->l < c->l ? -1 : 1;
  if (a->t != c->t) return a->t < c->t ? -1 : 1;
  return a->src < c->src ? -1 : a->src > c->src;
}

/* Gather the batch's reverse links and their (layer, target) groups. */
static int collect_edges(build *b) {
  hnsw_mem *g = &b->g;
  b->nedges = 0;
  if (!b->groups && !(b->groups = malloc(sizeof *b->groups))) return -1;
  for (uint32_t q = b->b0; q < b->b1; q++)
    for (uint32_t l = 0; l <= g->level[q]; l++) {
      const uint32_t *li = hnsw_mem_list(g, q, l);
      if (b->nedges + li[0] > b->edges_cap) {
        size_t cap = b->edges_cap ? b->edges_cap * 2 : 4096;
        while (cap < b->nedges + li[0]) cap *= 2;
        edge *ne = realloc(b->edges, cap * sizeof *ne);
        size_t *ng = realloc(b->groups, (cap + 1) * sizeof *ng);
        if (ne) b->edges = ne;
        if (ng) b->groups = ng;
        if (!ne || !ng) return -1;
        b->edges_cap = cap;
      }
      for (uint32_t j = 1; j <= li[0]; j++) b->edges[b->nedges++] = (edge){l, li[j], q};
    }
  if (b->nedges) qsort(b->edges, b->nedges, sizeof *b->edges, edge_cmp);
  b->ngroups = 0;
  for (size_t i = 0; i < b->nedges; i++)
    if (i == 0 || b->edges[i].l != b->edges[i - 1].l || b->edges[i].t != b->edges[i - 1].t)
      b->groups[b->ngroups++] = i;
  b->groups[b->ngroups] = b->nedges;
  return 0;
}

static void build_free(build *b) {
  for (int i = 0; i < b->nw && b->ws; i++) {
    free(b->ws[i].mark);
    free(b->ws[i].cand);
    free(b->ws[i].res);
    free(b->ws[i].tmp);
    free(b->ws[i].mate_sc);
  }
  free(b->ws);
  free(b->edges);
  free(b->groups);
  free(b->g.level);
  free(b->g.l0);
  free(b->g.up_off);
  free(b->g.up);
}

int vec_hnsw_build(const float *rows, uint32_t n, uint32_t dim, size_t stride, int metric,
                   const vec_build_params *p, const vec_kernels *k, bbuf *out, blend_error *err) {
  build b;
  memset(&b, 0, sizeof b);
  b.rows = rows;
  b.stride = stride;
  b.n = n;
  b.dim = dim;
  b.metric = metric;
  b.k = k;
  hnsw_mem *g = &b.g;
  g->n = n;
  g->M = p->M;
  g->M0 = 2 * p->M;
  g->efc = p->ef_construction < p->M ? p->M : p->ef_construction;
  g->seed = p->seed;
  int threads = p->threads > 0 ? p->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  tpool *pool = threads > 1 ? tpool_new(threads) : NULL;
  b.nw = pool ? tpool_size(pool) : 1;
  int rc = BLEND_OK;
  g->level = malloc(n);
  g->up_off = malloc((size_t)n * sizeof *g->up_off);
  g->l0 = malloc((size_t)n * (1 + g->M0) * sizeof *g->l0);
  b.ws = calloc((size_t)b.nw, sizeof *b.ws);
  if (!g->level || !g->up_off || !g->l0 || !b.ws) goto nomem;
  uint64_t up_words = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t lv = vec_hnsw_level(p->seed, i, p->M);
    g->level[i] = (uint8_t)lv;
    g->up_off[i] = up_words;
    up_words += (uint64_t)lv * (1 + g->M);
    g->l0[(size_t)i * (1 + g->M0)] = 0;
  }
  g->up = calloc(up_words ? up_words : 1, sizeof *g->up);
  if (!g->up) goto nomem;
  for (int i = 0; i < b.nw; i++) {
    b.ws[i].mark = calloc(n, sizeof *b.ws[i].mark);
    b.ws[i].mate_sc = malloc(BATCH_MAX * sizeof(float));
    if (!b.ws[i].mark || !b.ws[i].mate_sc) goto nomem;
  }
  for (uint32_t done = 0; done < n;) {
    uint32_t bs = done / 4;
    if (bs < 1) bs = 1;
    if (bs > BATCH_MAX) bs = BATCH_MAX;
    if (bs > n - done) bs = n - done;
    b.b0 = done;
    b.b1 = done + bs;
    tpool_run(pool, bs, insert_node, &b);
    if (b.failed) goto nomem;
    if (collect_edges(&b)) goto nomem;
    tpool_run(pool, b.ngroups, link_back, &b);
    if (b.failed) goto nomem;
    for (uint32_t q = b.b0; q < b.b1; q++)
      if (!b.have_entry || g->level[q] > g->max_level) {
        g->entry = q;
        g->max_level = g->level[q];
        b.have_entry = 1;
      }
    done = b.b1;
  }
  if (vec_hnsw_serialise(g, out)) goto nomem;
  goto done;
nomem:
  rc = blend_seterr(err, BLEND_ENOMEM, "HNSW build: out of memory (%u vectors)", n);
done:
  tpool_free(pool);
  build_free(&b);
  return rc;
}
