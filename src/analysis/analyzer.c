/*
** analyzer.c — the Analyzer: text → terms with positions and byte spans.
**
** Pipeline (Anserini's default English analysis, with Unicode folding):
**   segmenter (UAX #29 words) → NFKC + case folding (utf8proc; ASCII fast
**   path) → English possessive removal ('s) → stopwords → Snowball stemmer.
** Runs of CJK characters become overlapping bigrams (a lone character stays
** a unigram), as Lucene's CJKBigramFilter does. Removed stopwords still take
** a position, so phrase queries keep their gaps.
** An analyzer owns a Snowball stemmer and scratch buffers: one per thread.
** Term ids are dense and stable for the analyzer's lifetime (the indexer
** keys arrays by them). A long-lived query-side analyzer (a searcher in a
** server) would keep an id for every word it ever saw, so it can be bounded
** (analyzer_bound_terms): when a table fills, every cached term is forgotten
** and ids start again from 0 — fine there, since queries and snippets use
** term text, never ids.
*/
#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "analysis/analysis.h"
#include "util/util.h"

#define MAX_TERM_BYTES 255
#define STOPWORD UINT32_MAX
#define STEM_CACHE_MAX 500000
#define FRONT_SIZE 4096

struct blend_analyzer {
  blend_analyzer_config cfg;
  struct sb_stemmer *stemmer; /* NULL when stemming is off */
  const stopword_set *stop;
  /* Term ids: every distinct emitted term gets a dense id for the
  ** analyzer's lifetime, so the indexer can use arrays instead of a second
  ** hash lookup per token. */
  strmap *terms;              /* term text → term id */
  bbuf term_text;             /* per id: u8 length, bytes, NUL */
  bbuf term_off;              /* u32 offset in term_text per id */
  /* Surface cache: the stemmer is the indexer's largest cost and words
  ** repeat. Reset when large; term ids survive the reset. */
  strmap *surface;            /* normalised word → term id, or STOPWORD */
  /* A small direct-mapped cache in front of `surface`: the frequent words
  ** (most tokens) stay in L1 instead of missing cache in the big table. */
  struct front_entry {
    uint64_t hash;
    uint32_t id;
    uint8_t len;
    char key[19];
  } front[FRONT_SIZE];
  int32_t *cps;               /* scratch code points for normalisation */
  size_t cps_cap;
  int ids_only;               /* tokens carry term_id only (the indexer) */
  uint32_t max_terms;         /* 0: unbounded; else forget all past this */
  uint64_t forgets;           /* times the tables were emptied (tests) */
  char term[4 * MAX_TERM_BYTES + 8];
};

void blend_analyzer_config_default(blend_analyzer_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->stemmer, "porter");
  strcpy(cfg->stopwords, "english");
  cfg->cjk_bigrams = 1;
}

int blend_analyzer_new(const blend_analyzer_config *cfg, blend_analyzer **out, blend_error *err) {
  *out = NULL;
  blend_analyzer *a = calloc(1, sizeof *a);
  if (!a) return blend_seterr(err, BLEND_ENOMEM, "analyzer: out of memory");
  a->cfg = *cfg;
  a->terms = strmap_new();
  a->surface = strmap_new();
  if (!a->terms || !a->surface) {
    strmap_free(a->terms);
    strmap_free(a->surface);
    free(a);
    return blend_seterr(err, BLEND_ENOMEM, "analyzer: out of memory");
  }
  a->cfg.stemmer[sizeof a->cfg.stemmer - 1] = 0;
  a->cfg.stopwords[sizeof a->cfg.stopwords - 1] = 0;
  a->stop = stopwords_get(a->cfg.stopwords);
  if (!a->stop) {
    blend_analyzer_free(a);
    return blend_seterr(err, BLEND_EINVAL, "unknown stopword list '%s' (use english or none)",
                        cfg->stopwords);
  }
  if (strcmp(a->cfg.stemmer, "none") != 0) {
    a->stemmer = sb_stemmer_new(a->cfg.stemmer, "UTF_8");
    if (!a->stemmer) {
      blend_analyzer_free(a);
      return blend_seterr(err, BLEND_EINVAL,
                          "unknown stemmer '%s' (use none, porter, english, french, german, ...)",
                          cfg->stemmer);
    }
  }
  *out = a;
  return BLEND_OK;
}

void blend_analyzer_free(blend_analyzer *a) {
  if (!a) return;
  if (a->stemmer) sb_stemmer_delete(a->stemmer);
  strmap_free(a->terms);
  strmap_free(a->surface);
  bbuf_free(&a->term_text);
  bbuf_free(&a->term_off);
  free(a->cps);
  free(a);
}

/* NFKC + case fold s[0..n) into a->term; returns byte length or -1 when the
** result does not fit a term. */
static int normalize(blend_analyzer *a, const uint8_t *s, size_t n, int ascii) {
  if (ascii) {
    if (n > MAX_TERM_BYTES) return -1;
    for (size_t i = 0; i < n; i++) {
      uint8_t c = s[i];
      a->term[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    a->term[n] = 0;
    return (int)n;
  }
  if (n > MAX_TERM_BYTES) return -1;
  const int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                   UTF8PROC_IGNORE;
  for (;;) {
    utf8proc_ssize_t r = utf8proc_decompose(s, (utf8proc_ssize_t)n, a->cps,
                                            (utf8proc_ssize_t)a->cps_cap, opts);
    if (r < 0) return -1;
    if ((size_t)r > a->cps_cap) {
      int32_t *p = realloc(a->cps, ((size_t)r + 16) * sizeof *p);
      if (!p) return -1;
      a->cps = p;
      a->cps_cap = (size_t)r + 16;
      continue;
    }
    r = utf8proc_normalize_utf32(a->cps, r, opts);
    if (r < 0) return -1;
    size_t out = 0;
    for (utf8proc_ssize_t i = 0; i < r; i++) {
      if (out + 4 > MAX_TERM_BYTES) return -1;
      out += (size_t)utf8proc_encode_char(a->cps[i], (utf8proc_uint8_t *)a->term + out);
    }
    a->term[out] = 0;
    return (int)out;
  }
}

static size_t strip_possessive(const char *t, size_t n) {
  if (n >= 3 && t[n - 1] == 's') {
    if (t[n - 2] == '\'') return n - 2;
    /* U+2019 ’ and U+FF07 ＇ */
    if (n >= 5 && (uint8_t)t[n - 4] == 0xE2 && (uint8_t)t[n - 3] == 0x80 && (uint8_t)t[n - 2] == 0x99)
      return n - 4;
    if (n >= 5 && (uint8_t)t[n - 4] == 0xEF && (uint8_t)t[n - 3] == 0xBC && (uint8_t)t[n - 2] == 0x87)
      return n - 4;
  }
  return n;
}

/* Bounded mode: drop every term, its id and every cached surface form
** (the new maps are made first, so a failed allocation leaves a working
** analyzer). Buffers keep their capacity, which the bound also bounds. */
static int forget_terms(blend_analyzer *a) {
  strmap *t = strmap_new(), *s = strmap_new();
  if (!t || !s) {
    strmap_free(t);
    strmap_free(s);
    return -1;
  }
  strmap_free(a->terms);
  strmap_free(a->surface);
  a->terms = t;
  a->surface = s;
  a->term_text.len = 0;
  a->term_off.len = 0;
  memset(a->front, 0, sizeof a->front);
  a->forgets++;
  return 0;
}

/* The id of term text t, adding it. */
static int term_id(blend_analyzer *a, const char *t, size_t len, uint32_t *id) {
  if (a->max_terms && a->term_off.len / 4 >= a->max_terms && !strmap_get(a->terms, t, len, id) &&
      forget_terms(a))
    return -1;
  uint32_t v = (uint32_t)(a->term_off.len / 4);
  int r = strmap_upsert(a->terms, t, len, &v);
  if (r < 0) return -1;
  if (r == 1 && (bbuf_put_u32(&a->term_off, (uint32_t)a->term_text.len) ||
                 bbuf_putc(&a->term_text, (uint8_t)len) || bbuf_append(&a->term_text, t, len) ||
                 bbuf_putc(&a->term_text, 0)))
    return -1;
  *id = v;
  return 0;
}

const char *analyzer_term(const blend_analyzer *a, uint32_t id, uint32_t *len) {
  if (id >= a->term_off.len / 4) return NULL;
  const uint8_t *p = a->term_text.data + rd_u32(a->term_off.data + 4 * (size_t)id);
  *len = p[0];
  return (const char *)p + 1;
}

uint32_t analyzer_term_count(const blend_analyzer *a) { return (uint32_t)(a->term_off.len / 4); }

void analyzer_ids_only(blend_analyzer *a, int on) { a->ids_only = on; }

void analyzer_bound_terms(blend_analyzer *a, uint32_t max_terms) {
  a->max_terms = max_terms;
  if (max_terms && (analyzer_term_count(a) > max_terms || strmap_count(a->surface) > max_terms))
    forget_terms(a); /* a failure keeps the tables: the next new term retries */
}

void analyzer_cache_stats(const blend_analyzer *a, analyzer_cache *out) {
  out->terms = analyzer_term_count(a);
  out->surface = strmap_count(a->surface);
  out->term_bytes = a->term_text.cap + a->term_off.cap;
  out->forgets = a->forgets;
}

static int emit_id(blend_analyzer *a, uint32_t id, uint32_t pos, size_t start, size_t end,
                   blend_token_fn fn, void *ctx) {
  uint32_t len = 0;
  const char *text = a->ids_only ? NULL : analyzer_term(a, id, &len);
  blend_token t = {text, len, pos, (uint32_t)start, (uint32_t)end, id};
  return fn(ctx, &t);
}

static int emit_word(blend_analyzer *a, const uint8_t *s, const seg_token *st, uint32_t *pos,
                     blend_token_fn fn, void *ctx) {
  int n = normalize(a, s + st->start, st->end - st->start, st->ascii);
  uint32_t p = (*pos)++;
  if (n <= 0) return 0;
  size_t len = (size_t)n;
  len = strip_possessive(a->term, len);
  a->term[len] = 0;
  /* cached: stopword, or the term id of the stem */
  uint32_t id;
  uint64_t h = hash_bytes(a->term, len);
  struct front_entry *fe = &a->front[h & (FRONT_SIZE - 1)];
  if (fe->hash == h && fe->len == len && !memcmp(fe->key, a->term, len)) {
    if (fe->id == STOPWORD) return 0;
    return emit_id(a, fe->id, p, st->start, st->end, fn, ctx);
  }
  if (strmap_get(a->surface, a->term, len, &id)) {
    if (len <= sizeof fe->key) {
      fe->hash = h;
      fe->len = (uint8_t)len;
      fe->id = id;
      memcpy(fe->key, a->term, len);
    }
    if (id == STOPWORD) return 0;
    return emit_id(a, id, p, st->start, st->end, fn, ctx);
  }
  const char *term = a->term;
  size_t tlen = len;
  int stop = stopwords_contains(a->stop, a->term, len);
  if (!stop && a->stemmer) {
    const sb_symbol *r = sb_stemmer_stem(a->stemmer, (const sb_symbol *)a->term, (int)len);
    if (r) {
      term = (const char *)r;
      tlen = (size_t)sb_stemmer_length(a->stemmer);
    }
  }
  if (tlen > MAX_TERM_BYTES) tlen = MAX_TERM_BYTES;
  if (stop || tlen == 0) id = STOPWORD; /* an empty stem is dropped like a stopword */
  else if (term_id(a, term, tlen, &id)) return -1;
  if (strmap_count(a->surface) >= (a->max_terms ? a->max_terms : STEM_CACHE_MAX)) {
    /* bound memory on huge vocabularies (term ids survive: only the
       surface → id shortcut goes) */
    strmap_free(a->surface);
    a->surface = strmap_new();
    if (!a->surface) return -1;
  }
  if (strmap_upsert(a->surface, a->term, len, &id) < 0) return -1;
  if (id == STOPWORD) return 0;
  return emit_id(a, id, p, st->start, st->end, fn, ctx);
}

/* Emit one CJK unit (a character or a bigram spanning [start, end)). */
static int emit_cjk(blend_analyzer *a, const uint8_t *s, size_t start, size_t end, uint32_t pos,
                    blend_token_fn fn, void *ctx) {
  int n = normalize(a, s + start, end - start, 0);
  if (n <= 0) return 0;
  uint32_t id;
  if (term_id(a, a->term, (size_t)n, &id)) return -1;
  return emit_id(a, id, pos, start, end, fn, ctx);
}

int blend_analyze(blend_analyzer *a, const char *text, size_t len, blend_token_fn fn, void *ctx) {
  const uint8_t *s = (const uint8_t *)text;
  size_t at = 0;
  uint32_t pos = 0;
  seg_token st;
  int have = seg_next(s, len, &at, &st);
  while (have) {
    int rc;
    if (st.kind == SEG_WORD) {
      rc = emit_word(a, s, &st, &pos, fn, ctx);
      if (rc) return rc;
      have = seg_next(s, len, &at, &st);
      continue;
    }
    /* a run of adjacent CJK characters */
    seg_token prev = st;
    int run = 1;
    have = seg_next(s, len, &at, &st);
    if (!a->cfg.cjk_bigrams) {
      if ((rc = emit_cjk(a, s, prev.start, prev.end, pos++, fn, ctx))) return rc;
      continue;
    }
    while (have && st.kind == SEG_CJK && st.start == prev.end) {
      if ((rc = emit_cjk(a, s, prev.start, st.end, pos++, fn, ctx))) return rc;
      prev = st;
      run++;
      have = seg_next(s, len, &at, &st);
    }
    if (run == 1 && (rc = emit_cjk(a, s, prev.start, prev.end, pos++, fn, ctx))) return rc;
  }
  return BLEND_OK;
}
