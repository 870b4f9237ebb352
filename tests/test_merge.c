/*
** test_merge.c — the structural merger (src/index/seg_merge.c) against a
** fresh build: after a merge, a REPLACE build of the same live documents,
** added in the merged segment's document order, must give
**  - the same segment, structure by structure: field table and statistics,
**    norms, and term for term the same dictionary with the same decoded
**    postings (docs, tfs, positions); then every section byte for byte
**    (postings, dictionary, stored fields, ids, id dictionary, metadata
**    columns, vector store and HNSW graph);
**  - the same top-k ids and scores for flat, multifield and weighted
**    queries under every top-k algorithm, with and without metadata
**    filters; the same dense hits (exact scan and HNSW, filtered too); the
**    same stored fields and `blend get` output.
** Sources have fields created in different orders, deletions in every
** segment, a segment whose documents are all deleted, updated documents,
** terms that vanish with their documents, long fields (norms inexact), a
** model-free vector field (l2 int8, cosine f32, dot f32), and flat-only /
** position-free indexes. Both force_merge(1) and the tiered policy's
** merges (a full tier, and a segment expunged for its deletions) are
** checked. Fixed seeds: a failure reproduces.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "blend.h"
#include "index/index.h"
#include "test.h"

#define NIDS 420
#define VDIM 8
#define TEXT_CAP 800

/* ------------------------------------------------------------- documents */

static uint64_t mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 32);
}

typedef struct gdoc {
  char id[16];
  char title[TEXT_CAP], text[TEXT_CAP], abstract[TEXT_CAP];
  blend_field_value f[3];
  size_t nf;
  blend_meta_value meta[2];
  size_t nmeta;
  char kind[4];
  float vec[VDIM];
} gdoc;

/* Zipf-like words plus one word unique to this version of the document,
** which vanishes from the index when the version is deleted or replaced. */
static void words(char *out, uint32_t ntok, uint64_t *h, uint32_t i, uint32_t ver) {
  size_t at = 0;
  out[0] = 0;
  for (uint32_t k = 0; k < ntok && at + 16 < TEXT_CAP; k++) {
    *h = mix(*h);
    uint32_t r = (uint32_t)(*h % 60), w = (uint32_t)((*h >> 20) % (r + 1));
    if (k == ntok / 2) at += (size_t)snprintf(out + at, TEXT_CAP - at, "%su%uv%u", k ? " " : "", i, ver);
    else at += (size_t)snprintf(out + at, TEXT_CAP - at, "%sw%02u", k ? " " : "", w);
  }
}

/* Document i in version ver (deterministic). */
static void gen_doc(uint32_t i, uint32_t ver, gdoc *d) {
  uint64_t h = mix((uint64_t)i * 0x9E3779B97F4A7C15ull + ver);
  snprintf(d->id, sizeof d->id, "d%u", i);
  int has_title = h % 4 != 0, has_abs = (h >> 8) % 3 == 0;
  uint32_t order = (uint32_t)((h >> 16) % 6);
  words(d->title, 1 + (uint32_t)((h >> 24) % 5), &h, i, ver);
  words(d->text, (h >> 32) % 5 ? 1 + (uint32_t)(h % 30) : 30 + (uint32_t)(h % 45), &h, i, ver);
  words(d->abstract, 20 + (uint32_t)(h % 40), &h, i, ver);
  blend_field_value all[3] = {{"title", d->title, strlen(d->title)},
                              {"text", d->text, strlen(d->text)},
                              {"abstract", d->abstract, strlen(d->abstract)}};
  static const uint8_t perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  d->nf = 0;
  for (int k = 0; k < 3; k++) {
    uint8_t f = perms[order][k];
    if ((f == 0 && !has_title) || (f == 2 && !has_abs)) continue;
    d->f[d->nf++] = all[f];
  }
  h = mix(h);
  d->nmeta = 0;
  if (h % 5) d->meta[d->nmeta++] = (blend_meta_value){"year", BLEND_META_NUMBER, 1990.0 + (double)(h % 30), NULL, 0};
  if ((h >> 8) % 10 < 7) {
    snprintf(d->kind, sizeof d->kind, "%c", 'a' + (int)((h >> 16) % 3));
    d->meta[d->nmeta++] = (blend_meta_value){"kind", BLEND_META_STRING, 0, d->kind, 1};
  }
  for (int k = 0; k < VDIM; k++) {
    h = mix(h);
    d->vec[k] = (float)((double)(h >> 40) / (double)(1ull << 24) - 0.5);
  }
}

static int add_doc(blend_writer *w, uint32_t i, uint32_t ver, int with_vec) {
  static gdoc d;
  gen_doc(i, ver, &d);
  blend_doc doc = {.id = d.id, .id_len = strlen(d.id), .fields = d.f, .nfields = d.nf, .meta = d.meta,
                   .nmeta = d.nmeta, .vector = with_vec ? d.vec : NULL, .vector_dim = with_vec ? VDIM : 0};
  blend_error err = {0};
  int rc = blend_writer_add(w, &doc, &err);
  if (rc) printf("add %s: %s\n", d.id, err.message);
  return rc;
}

static int del_doc(blend_writer *w, uint32_t i) {
  char id[16];
  snprintf(id, sizeof id, "d%u", i);
  blend_error err = {0};
  return blend_writer_delete(w, id, strlen(id), NULL, &err);
}

/* The live documents: ver[i] = current version, 0 = absent. */
typedef struct corpus {
  uint32_t ver[NIDS];
  uint32_t next_ver;
} corpus;

static uint64_t rng;
static uint32_t rnd_below(uint32_t n) {
  rng = mix(rng + 1);
  return (uint32_t)(rng % n);
}

static const char *dir_for(const char *name) {
  static char buf[8][600];
  static int at;
  char *p = buf[at++ % 8];
  snprintf(p, 600, "%s/%s", test_tmpdir(), name);
  return p;
}

/* ------------------------------------------------- structural comparison */

static int same_section(const section_ref *a, const section_ref *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Term for term: keys, dictionary entries and decoded postings. */
static int compare_terms(const segment *a, const segment *b, uint32_t f, const char *when) {
  term_iter ia, ib;
  segment_terms_begin(&ia, a, f);
  segment_terms_begin(&ib, b, f);
  uint32_t pa[512], pb[512];
  for (uint64_t n = 0;; n++) {
    int ra = segment_terms_next(&ia), rb = segment_terms_next(&ib);
    if (ra < 0 || rb < 0) {
      test_fail(__FILE__, __LINE__, "%s: field %u: corrupt dictionary", when, f);
      return -1;
    }
    if (ra != rb || (ra && (ia.klen != ib.klen || memcmp(ia.key, ib.key, ia.klen)))) {
      test_fail(__FILE__, __LINE__, "%s: field %u term %llu: merged '%.*s', fresh '%.*s'", when, f,
                (unsigned long long)n, ra ? (int)ia.klen - 1 : 5, ra ? ia.key + 1 : "(end)",
                rb ? (int)ib.klen - 1 : 5, rb ? ib.key + 1 : "(end)");
      return -1;
    }
    if (!ra) return 0;
    const term_entry *x = &ia.te, *y = &ib.te;
    if (x->df != y->df || x->cf != y->cf || x->max_tf != y->max_tf || x->min_norm != y->min_norm) {
      test_fail(__FILE__, __LINE__, "%s: term '%.*s': df %u/%u cf %llu/%llu max_tf %u/%u min_norm %u/%u", when,
                (int)ia.klen - 1, ia.key + 1, x->df, y->df, (unsigned long long)x->cf, (unsigned long long)y->cf,
                x->max_tf, y->max_tf, x->min_norm, y->min_norm);
      return -1;
    }
    pcursor ca, cb;
    pcursor_init(&ca, a, x);
    pcursor_init(&cb, b, y);
    for (; ca.doc != DOC_END || cb.doc != DOC_END; pcursor_next(&ca), pcursor_next(&cb)) {
      uint32_t na = ca.doc == DOC_END ? 0 : pcursor_positions(&ca, pa, 512);
      uint32_t nb = cb.doc == DOC_END ? 0 : pcursor_positions(&cb, pb, 512);
      if (ca.doc != cb.doc || (ca.doc != DOC_END && pcursor_tf(&ca) != pcursor_tf(&cb)) || na != nb ||
          memcmp(pa, pb, na * sizeof *pa)) {
        test_fail(__FILE__, __LINE__, "%s: term '%.*s': postings differ at merged doc %u / fresh doc %u", when,
                  (int)ia.klen - 1, ia.key + 1, ca.doc, cb.doc);
        return -1;
      }
    }
    if (ca.corrupt || cb.corrupt) {
      test_fail(__FILE__, __LINE__, "%s: term '%.*s': corrupt postings", when, (int)ia.klen - 1, ia.key + 1);
      return -1;
    }
  }
}

/* Segment a (merged) equals segment b (fresh build of its documents). */
static void compare_segments(const segment *a, const segment *b, const char *when) {
  CHECKF(a->ndocs == b->ndocs && a->nfields == b->nfields && a->positions == b->positions &&
             a->field_views == b->field_views,
         "%s: docs %u/%u fields %u/%u positions %d/%d views %d/%d", when, a->ndocs, b->ndocs, a->nfields,
         b->nfields, a->positions, b->positions, a->field_views, b->field_views);
  if (a->ndocs != b->ndocs || a->nfields != b->nfields) return;
  for (uint32_t f = 0; f < a->nfields; f++) {
    CHECKF(!strcmp(a->field_names[f], b->field_names[f]), "%s: field %u is '%s' merged, '%s' fresh", when, f,
           a->field_names[f], b->field_names[f]);
    CHECKF(a->sum_dl[f] == b->sum_dl[f] && a->docs_with[f] == b->docs_with[f],
           "%s: field '%s': sum_dl %llu/%llu docs_with %u/%u", when, a->field_names[f],
           (unsigned long long)a->sum_dl[f], (unsigned long long)b->sum_dl[f], a->docs_with[f], b->docs_with[f]);
    CHECKF(!memcmp(a->norms[f], b->norms[f], a->ndocs), "%s: norms of '%s' differ", when, a->field_names[f]);
    if (compare_terms(a, b, f, when)) return;
  }
  static const struct {
    const char *name;
    size_t off;
  } secs[] = {
#define S(x) {#x, offsetof(segment, x)}
      S(termdict), S(termindex), S(postings), S(positions_sec), S(ids), S(iddict),
      S(store),    S(storeindex), S(meta),   S(vecstore),      S(hnsw),
#undef S
  };
  for (size_t k = 0; k < sizeof secs / sizeof *secs; k++) {
    const section_ref *x = (const section_ref *)((const char *)a + secs[k].off);
    const section_ref *y = (const section_ref *)((const char *)b + secs[k].off);
    CHECKF(same_section(x, y), "%s: section %s differs (%llu vs %llu bytes)", when, secs[k].name,
           (unsigned long long)x->len, (unsigned long long)y->len);
  }
}

/* ---------------------------------------------------- search comparison */

static const char *queries[] = {
    "w00",       "w01 w02",  "w03 w00 w07 w11", "w05 w06 w08 w09 w10 w12 w13 w14", "title:w01",
    "abstract:w00 text:w02", "\"w00 w01\"", "+w00 -w01 w02", "w40 w41 w00 w55",
};
static const char *filters[] = {NULL, "year>=2005", "kind=b", "kind!=a", "year<1995"};
#define NQ (sizeof queries / sizeof *queries)
#define NF (sizeof filters / sizeof *filters)

static void set_mode(blend_search_options *o, int mode) {
  blend_search_options_default(o);
  if (mode >= 1) o->field_mode = BLEND_FIELDS_MULTI;
  if (mode == 2) {
    strcpy(o->field_weights[0].name, "title");
    o->field_weights[0].weight = 2.5f;
    strcpy(o->field_weights[1].name, "abstract");
    o->field_weights[1].weight = 0.5f;
    o->nfield_weights = 2;
    o->k1 = 1.2f;
    o->b = 0.75f;
  }
}

/* Same hits (ids, scores bit for bit). */
static int same_hits(blend_searcher *sa, const blend_hit *ha, uint32_t na, blend_searcher *sb,
                     const blend_results *rb, const char *when, const char *what) {
  int same = na == rb->count;
  for (uint32_t h = 0; same && h < na; h++) {
    const char *ia, *ib;
    size_t la, lb;
    blend_searcher_doc_id(sa, ha[h].doc, &ia, &la, NULL);
    blend_searcher_doc_id(sb, rb->hits[h].doc, &ib, &lb, NULL);
    same = la == lb && !memcmp(ia, ib, la) && ha[h].score == rb->hits[h].score;
    if (!same)
      test_fail(__FILE__, __LINE__, "%s: %s hit %u: merged %.*s %.9g, fresh %.*s %.9g", when, what, h, (int)la, ia,
                (double)ha[h].score, (int)lb, ib, (double)rb->hits[h].score);
  }
  if (na != rb->count) test_fail(__FILE__, __LINE__, "%s: %s: %u vs %u hits", when, what, na, rb->count);
  return same;
}

static void compare_search(blend_index *xa, blend_index *xb, const corpus *c, int views, int vectors,
                           const char *when) {
  blend_searcher *sa, *sb;
  blend_error err = {0};
  REQUIRE(blend_searcher_new(xa, &sa, &err) == 0);
  REQUIRE(blend_searcher_new(xb, &sb, &err) == 0);
  blend_filter *flt[NF] = {0};
  for (uint32_t k = 1; k < NF; k++) REQUIRE(blend_filter_new(&flt[k], &err) == 0 && blend_filter_add(flt[k], filters[k], &err) == 0);
  int bad = 0;
  char what[200];
  blend_hit want[30];
  for (uint32_t q = 0; q < NQ && bad < 3; q++)
    for (int mode = 0; mode < (views ? 3 : 1) && bad < 3; mode++)
      for (uint32_t k = 0; k < NF && bad < 3; k++)
        for (int algo = BLEND_TOPK_AUTO; algo <= BLEND_TOPK_BMW && bad < 3; algo++) {
          if (!views && strchr(queries[q], ':')) continue;
          blend_search_options o;
          set_mode(&o, mode);
          o.k = 30;
          o.filter = flt[k];
          o.algorithm = algo;
          blend_results ra, rb;
          snprintf(what, sizeof what, "'%s' mode %d filter %s algorithm %d", queries[q], mode,
                   filters[k] ? filters[k] : "-", algo);
          int e1 = blend_search(sa, queries[q], &o, &ra, &err);
          if (e1 == BLEND_EUNSUPPORTED) continue; /* pruning algorithm for a query it does not handle */
          CHECKF(e1 == 0, "%s: %s: %s", when, what, err.message);
          if (e1) {
            bad++;
            continue;
          }
          uint32_t n = ra.count;
          memcpy(want, ra.hits, n * sizeof *want);
          REQUIRE(blend_search(sb, queries[q], &o, &rb, &err) == 0);
          bad += !same_hits(sa, want, n, sb, &rb, when, what);
        }
  for (uint32_t qn = 0; vectors && qn < 12 && bad < 3; qn++) {
    gdoc g;
    gen_doc(100000 + qn, 1, &g);
    for (int exact = 0; exact < 2; exact++)
      for (uint32_t k = 0; k < NF; k++) {
        blend_dense_options o;
        blend_dense_options_default(&o);
        o.k = 20;
        o.exact = exact;
        o.filter = flt[k];
        blend_results ra, rb;
        REQUIRE(blend_search_vector(sa, g.vec, VDIM, &o, &ra, &err) == 0);
        uint32_t n = ra.count;
        memcpy(want, ra.hits, n * sizeof *want);
        REQUIRE(blend_search_vector(sb, g.vec, VDIM, &o, &rb, &err) == 0);
        snprintf(what, sizeof what, "dense query %u %s filter %s", qn, exact ? "exact" : "hnsw",
                 filters[k] ? filters[k] : "-");
        bad += !same_hits(sa, want, n, sb, &rb, when, what);
      }
  }
  /* stored fields: equal to the corpus, in both */
  static const char *fnames[] = {"title", "text", "abstract"};
  for (uint32_t i = 0; i < NIDS && bad < 3; i++) {
    char id[16];
    snprintf(id, sizeof id, "d%u", i);
    uint32_t da, db;
    int fa = blend_searcher_find(sa, id, strlen(id), &da, NULL), fb = blend_searcher_find(sb, id, strlen(id), &db, NULL);
    CHECKF(fa == (c->ver[i] ? BLEND_OK : BLEND_ENOTFOUND) && fb == fa, "%s: find %s: %d / %d (version %u)", when, id,
           fa, fb, c->ver[i]);
    if (fa || fb) continue;
    gdoc g;
    gen_doc(i, c->ver[i], &g);
    for (int f = 0; f < 3; f++) {
      const char *want_text = NULL;
      for (size_t k = 0; k < g.nf; k++)
        if (!strcmp(g.f[k].name, fnames[f])) want_text = g.f[k].text;
      const char *ta, *tb;
      size_t la, lb;
      int ea = blend_searcher_doc_field(sa, da, fnames[f], &ta, &la, NULL);
      int eb = blend_searcher_doc_field(sb, db, fnames[f], &tb, &lb, NULL);
      int ok = want_text ? ea == 0 && eb == 0 && la == strlen(want_text) && lb == la && !memcmp(ta, want_text, la) &&
                               !memcmp(tb, want_text, lb)
                         : ea != 0 && eb != 0;
      if (!ok) {
        test_fail(__FILE__, __LINE__, "%s: %s field %s differs (rc %d / %d)", when, id, fnames[f], ea, eb);
        bad++;
      }
    }
  }
  for (uint32_t k = 1; k < NF; k++) blend_filter_free(flt[k]);
  blend_searcher_free(sa);
  blend_searcher_free(sb);
}

/* `blend get` prints the same documents (fields and metadata) from both. */
static void compare_get(const char *da, const char *db, const corpus *c, const char *when) {
  if (access(test_blend_bin(), X_OK) != 0) return;
  char ids[512] = "";
  size_t at = 0;
  for (uint32_t i = 0, n = 0; i < NIDS && n < 25; i++)
    if (c->ver[i]) at += (size_t)snprintf(ids + at, sizeof ids - at, " d%u", i), n++;
  char *out[2] = {NULL, NULL};
  const char *dirs[2] = {da, db};
  for (int k = 0; k < 2; k++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' get --index '%s'%s", test_blend_bin(), dirs[k], ids);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    out[k] = calloc(1, 1 << 20);
    size_t n = out[k] ? fread(out[k], 1, (1 << 20) - 1, p) : 0;
    CHECKF(pclose(p) == 0 && n > 0, "%s: %s failed", when, cmd);
  }
  CHECKF(out[0] && out[1] && !strcmp(out[0], out[1]), "%s: blend get differs", when);
  free(out[0]);
  free(out[1]);
}

/* ------------------------------------------------------------ the oracle */

/* A fresh index of dir's live documents: one REPLACE-started writer, one
** commit per segment of dir holding that segment's documents in its
** order, merging off; then segment by segment and by search, both equal. */
static void check_against_fresh(const char *dir, const char *fresh, const blend_index_config *cfg,
                                const corpus *c, const char *when) {
  blend_error err = {0};
  blend_index *xa, *xb;
  REQUIRE(blend_index_open(dir, &xa, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(xa, &st);
  CHECKF(st.deleted == 0, "%s: %llu deleted documents left (the oracle needs none)", when,
         (unsigned long long)st.deleted);
  uint32_t live = 0;
  for (uint32_t i = 0; i < NIDS; i++) live += c->ver[i] != 0;
  CHECKF(st.docs == live, "%s: %llu docs, corpus has %u", when, (unsigned long long)st.docs, live);
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(fresh, cfg, BLEND_WRITE_REPLACE, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  for (uint32_t s = 0; s < xa->nsegs; s++) {
    const segment *seg = &xa->segs[s];
    for (uint32_t d = 0; d < seg->ndocs; d++) {
      const char *id;
      size_t len;
      segment_doc_id(seg, d, &id, &len);
      uint32_t i = (uint32_t)strtoul(id + 1, NULL, 10);
      REQUIRE(i < NIDS && c->ver[i]);
      REQUIRE(add_doc(w, i, c->ver[i], cfg->vector.dim > 0) == 0);
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  blend_writer_close(w);
  REQUIRE(blend_index_open(fresh, &xb, &err) == 0);
  CHECKF(xa->nsegs == xb->nsegs, "%s: %u segments, fresh %u", when, xa->nsegs, xb->nsegs);
  for (uint32_t s = 0; s < xa->nsegs && s < xb->nsegs; s++) {
    char w2[160];
    snprintf(w2, sizeof w2, "%s, segment %u (%s)", when, s, xa->segs[s].name);
    compare_segments(&xa->segs[s], &xb->segs[s], w2);
  }
  compare_search(xa, xb, c, cfg->field_views, cfg->vector.dim > 0, when);
  blend_index_close(xa);
  blend_index_close(xb);
  compare_get(dir, fresh, c, when);
}

/* A term of a deleted document version is in some segment of dir (1) or
** in none (0). */
static int term_present(const char *dir, const char *term) {
  blend_index *ix;
  blend_error err = {0};
  if (blend_index_open(dir, &ix, &err)) return -1;
  int found = 0;
  for (uint32_t s = 0; s < ix->nsegs; s++) {
    term_entry te;
    found |= segment_term(&ix->segs[s], 0, term, strlen(term), &te) == 1;
  }
  blend_index_close(ix);
  return found;
}

static void config(blend_index_config *cfg, int views, int positions, int metric, int dtype) {
  blend_index_config_default(cfg);
  cfg->field_views = views;
  cfg->positions = positions;
  if (metric >= 0) {
    blend_vector_config_default(&cfg->vector, VDIM);
    cfg->vector.metric = metric;
    cfg->vector.dtype = dtype;
    cfg->vector.threads = 1;
  }
}

/* -------------------------------------------------------- force_merge(1) */

/* Five commits (fields first seen in different orders), updates and
** deletions in every segment, one segment deleted entirely, then
** force_merge(1) against the fresh build. */
static void force_merge_case(const char *name, const blend_index_config *cfg, uint64_t seed) {
  static corpus c;
  memset(&c, 0, sizeof c);
  rng = seed;
  const char *dir = dir_for(name);
  char fresh[700];
  snprintf(fresh, sizeof fresh, "%s-fresh", dir);
  blend_error err = {0};
  blend_writer *w;
  int vec = cfg->vector.dim > 0;
  REQUIRE(blend_writer_open_mode(dir, cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 0);
  uint32_t first[6];
  char gone[32] = "";
  for (uint32_t commit = 0; commit < 5; commit++) {
    first[commit] = commit * 80;
    for (uint32_t i = first[commit]; i < first[commit] + 80; i++) {
      c.ver[i] = ++c.next_ver;
      REQUIRE(add_doc(w, i, c.ver[i], vec) == 0);
    }
    for (uint32_t k = 0; commit > 0 && k < 12; k++) { /* updates and deletes in earlier segments */
      uint32_t i = rnd_below(first[commit]);
      if (!gone[0] && c.ver[i]) snprintf(gone, sizeof gone, "u%uv%u", i, c.ver[i]);
      if (k % 3 == 0 && c.ver[i]) {
        c.ver[i] = ++c.next_ver;
        REQUIRE(add_doc(w, i, c.ver[i], vec) == 0);
      } else {
        REQUIRE(del_doc(w, i) == 0);
        c.ver[i] = 0;
      }
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  /* every document of the third segment deleted: the segment goes */
  for (uint32_t i = first[2]; i < first[2] + 80; i++) {
    REQUIRE(del_doc(w, i) == 0);
    c.ver[i] = 0;
  }
  for (uint32_t s = 0; s < 5; s++) { /* and deletions left in every other segment */
    uint32_t i = first[s] + 1 + rnd_below(78);
    if (s != 2) REQUIRE(del_doc(w, i) == 0);
    if (s != 2) c.ver[i] = 0;
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  uint32_t with_deleted = 0;
  for (uint32_t s = 0; s < ix->nsegs; s++) with_deleted += ix->segs[s].ndeleted > 0;
  CHECKF(st.segments >= 4 && with_deleted == st.segments, "%s: %u segments, %u with deletions", name,
         st.segments, with_deleted);
  blend_index_close(ix);
  CHECKF(gone[0] && term_present(dir, gone) == 1, "%s: deleted term '%s' should be indexed until the merge", name,
         gone);
  REQUIRE(blend_writer_force_merge(w, 1, &err) == 0);
  blend_writer_close(w);
  CHECKF(term_present(dir, gone) == 0, "%s: term '%s' of deleted documents survived the merge", name, gone);
  check_against_fresh(dir, fresh, cfg, &c, name);
}

TEST(force_merge_equals_fresh_build_l2_int8) {
  blend_index_config cfg;
  config(&cfg, 1, 1, BLEND_METRIC_L2, BLEND_VECTOR_INT8);
  force_merge_case("l2-int8", &cfg, 1);
}

TEST(force_merge_equals_fresh_build_cosine_f32) {
  blend_index_config cfg;
  config(&cfg, 1, 1, BLEND_METRIC_COSINE, BLEND_VECTOR_F32);
  force_merge_case("cosine-f32", &cfg, 2);
}

TEST(force_merge_equals_fresh_build_flat_only) {
  blend_index_config cfg;
  config(&cfg, 0, 1, -1, 0);
  force_merge_case("flat-only", &cfg, 3);
}

TEST(force_merge_equals_fresh_build_without_positions) {
  blend_index_config cfg;
  config(&cfg, 1, 0, BLEND_METRIC_DOT, BLEND_VECTOR_F32);
  force_merge_case("no-positions", &cfg, 4);
}

/* --------------------------------------------------------- policy merges */

/* Ten small commits fill tier 0 and the policy merges them into one (with
** the deletions and updates made meanwhile); then more commits, and a
** segment that loses over 30% of its documents is rewritten alone. Each
** state is checked against a fresh build with the same segments. */
TEST(policy_merges_equal_fresh_builds) {
  static corpus c;
  memset(&c, 0, sizeof c);
  rng = 11;
  blend_index_config cfg;
  config(&cfg, 1, 1, BLEND_METRIC_DOT, BLEND_VECTOR_INT8);
  const char *dir = dir_for("policy");
  char fresh[700];
  blend_error err = {0};
  blend_writer *w;
  REQUIRE(blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, &w, &err) == 0);
  blend_writer_set_merge(w, 1);
  uint32_t next = 0;
  for (uint32_t commit = 0; commit < 10; commit++) {
    for (uint32_t k = 0; k < 30; k++, next++) {
      c.ver[next] = ++c.next_ver;
      REQUIRE(add_doc(w, next, c.ver[next], 1) == 0);
    }
    for (uint32_t k = 0; commit > 0 && k < 6; k++) {
      uint32_t i = rnd_below(next - 30);
      if (k % 2 && c.ver[i]) {
        c.ver[i] = ++c.next_ver;
        REQUIRE(add_doc(w, i, c.ver[i], 1) == 0);
      } else {
        REQUIRE(del_doc(w, i) == 0);
        c.ver[i] = 0;
      }
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  blend_index *ix;
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  CHECKF(ix->nsegs == 1, "the full tier should have merged into one segment, found %u", ix->nsegs);
  blend_index_close(ix);
  snprintf(fresh, sizeof fresh, "%s-fresh1", dir);
  check_against_fresh(dir, fresh, &cfg, &c, "policy: tier merge");
  /* two more segments; then 40% of the first of them deleted */
  uint32_t small = next;
  for (uint32_t commit = 0; commit < 2; commit++) {
    for (uint32_t k = 0; k < 40; k++, next++) {
      c.ver[next] = ++c.next_ver;
      REQUIRE(add_doc(w, next, c.ver[next], 1) == 0);
    }
    REQUIRE(blend_writer_commit(w, &err) == 0);
  }
  for (uint32_t i = small; i < small + 16; i++) {
    REQUIRE(del_doc(w, i) == 0);
    c.ver[i] = 0;
  }
  REQUIRE(blend_writer_commit(w, &err) == 0);
  blend_writer_close(w);
  REQUIRE(blend_index_open(dir, &ix, &err) == 0);
  CHECKF(ix->nsegs == 3 && ix->ndeleted == 0, "after the expunge: %u segments, %llu deleted", ix->nsegs,
         (unsigned long long)ix->ndeleted);
  blend_index_close(ix);
  snprintf(fresh, sizeof fresh, "%s-fresh2", dir);
  check_against_fresh(dir, fresh, &cfg, &c, "policy: expunge");
}
