/*
** wp_tokenize.c — text → WordPiece ids, in one streaming pass, exactly as
** Hugging Face's BertTokenizerFast (BertNormalizer + BertPreTokenizer +
** WordPiece, tokenizers ≤ 0.22):
**
**   literal special tokens ([CLS], [SEP], ...) split out of the raw text
**   → clean (drop NUL, U+FFFD, Cc/Cf/Co/Cs except \t\n\r; whitespace → break)
**   → CJK ideographs become words of their own
**   → NFD + drop Mn (strip_accents) → per-character lowercase
**   → split on whitespace, every punctuation character is a word
**   → greedy longest-match-first WordPiece per word ([UNK] for the whole
**     word if any position fails or it exceeds max_input_chars_per_word).
**
** Word boundaries (space, punctuation, CJK) all have canonical combining
** class 0, so NFD's canonical reordering never crosses them and every stage
** can run per word. Nothing is allocated per character: the current word
** lives in a fixed buffer on the stack (a word longer than the limit is only
** counted, since it becomes [UNK] whatever it holds).
*/
#include <string.h>
#include <utf8proc.h>

#include "encoder/wp_internal.h"

#define NO_RUN UINT32_MAX

typedef struct wstate {
  const wp_tokenizer *t;
  wp_encoding *out;
  uint32_t limit;  /* stop once out->len reaches this */
  int full;        /* limit reached (or out of memory): stop */
  int oom;
  int simple;      /* WP_SIMPLE: no fast paths */
  uint32_t n;      /* code points in the current word, saturating at max_chars + 1 */
  uint32_t run;    /* start of the pending run of kept non-starters, or NO_RUN */
  uint32_t w[WP_MAX_WORD_CHARS + 1];
} wstate;

/* ---------------------------------------------------------------- output */

static void emit(wstate *st, int32_t id) {
  if (st->full) return;
  if (wp_push(st->out, id, 0)) {
    st->oom = 1;
    st->full = 1;
    return;
  }
  if (st->out->len >= st->limit) st->full = 1;
}

/* Greedy longest-match-first over the current word (n <= max_chars). */
static void wordpiece(wstate *st) {
  const wp_tokenizer *t = st->t;
  uint8_t b[WP_MAX_WORD_CHARS * 4];
  uint32_t off[WP_MAX_WORD_CHARS + 1];
  int32_t ids[WP_MAX_WORD_CHARS];
  uint32_t n = st->n, nb = 0, np = 0;
  for (uint32_t i = 0; i < n; i++) {
    off[i] = nb;
    nb += (uint32_t)utf8proc_encode_char((utf8proc_int32_t)st->w[i], b + nb);
  }
  off[n] = nb;
  for (uint32_t start = 0; start < n;) {
    const strmap *m = start ? t->cont : t->vocab;
    uint32_t end = n;
    if (!st->simple) {
      /* No vocabulary entry is longer than cap bytes: skip candidates
      ** that cannot match. */
      uint32_t cap = start ? t->max_cont : t->max_len;
      while (end > start && off[end] - off[start] > cap) end--;
    }
    uint32_t id = 0;
    int found = 0;
    for (; end > start; end--) {
      if (strmap_get(m, (const char *)b + off[start], off[end] - off[start], &id)) {
        found = 1;
        break;
      }
    }
    if (!found) {
      emit(st, t->unk);
      return;
    }
    ids[np++] = (int32_t)id;
    start = end;
  }
  for (uint32_t i = 0; i < np; i++) emit(st, ids[i]);
}

/* -------------------------------------------------------------- the word */

static void append(wstate *st, uint32_t c) {
  if (st->n < st->t->max_chars) st->w[st->n++] = c;
  else st->n = st->t->max_chars + 1; /* too long: [UNK] whatever follows */
}

/* Canonical ordering (part of NFD) of the pending run of non-starters:
** a stable sort by combining class. Sorting only the kept (non-Mn) members
** gives the same relative order as sorting the whole run and then dropping
** the Mn ones, so dropped marks are never stored. */
static void end_run(wstate *st) {
  uint32_t r = st->run;
  if (r == NO_RUN) return;
  st->run = NO_RUN;
  if (st->n > st->t->max_chars) return;
  for (uint32_t i = r + 1; i < st->n; i++) {
    uint32_t x = st->w[i];
    int cx = utf8proc_get_property((utf8proc_int32_t)x)->combining_class;
    uint32_t j = i;
    while (j > r && utf8proc_get_property((utf8proc_int32_t)st->w[j - 1])->combining_class > cx) {
      st->w[j] = st->w[j - 1];
      j--;
    }
    st->w[j] = x;
  }
}

static void flush(wstate *st) {
  end_run(st);
  if (!st->n) return;
  if (st->n > st->t->max_chars) emit(st, st->t->unk);
  else wordpiece(st);
  st->n = 0;
}

/* --------------------------------------------------- character classes */

static int is_punct(uint32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126))
    return 1;
  if (c < 128) return 0;
  switch (utf8proc_category((utf8proc_int32_t)c)) {
  case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
  case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
  case UTF8PROC_CATEGORY_PO:
    return 1;
  default:
    return 0;
  }
}

/* CJK Unified Ideographs blocks as the Rust tokenizers spell them (its
** Extension E range starts at U+2B920, not U+2B820 as in Python). */
static int is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ------------------------------------------------------- normalization */

/* A normalized character with combining class 0 (or any character when
** accents are kept): lowercase it, then punctuation or part of the word. */
static void add_char(wstate *st, uint32_t c) {
  if (st->t->lowercase) {
    if (c == 0x130) { /* İ: Unicode's full lowercase is "i" + U+0307 */
      append(st, 'i');
      append(st, 0x307);
      return;
    }
    c = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
  }
  if (is_punct(c)) {
    flush(st);
    append(st, c);
    flush(st);
  } else {
    append(st, c);
  }
}

/* One code point of the NFD decomposition (strip_accents mode). */
static void add_decomposed(wstate *st, uint32_t d) {
  const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)d);
  if (p->combining_class) {
    if (p->category == UTF8PROC_CATEGORY_MN) return; /* stripped; the run goes on */
    if (st->run == NO_RUN) st->run = st->n;
    append(st, st->t->lowercase ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)d) : d);
    return;
  }
  end_run(st);
  if (p->category == UTF8PROC_CATEGORY_MN) return;
  add_char(st, d);
}

static void normalize(wstate *st, uint32_t c) {
  if (!st->t->strip_accents) {
    add_char(st, c);
    return;
  }
  utf8proc_int32_t d[8];
  int bc = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, d, 8, UTF8PROC_DECOMPOSE, &bc);
  if (n < 1 || n > 8) {
    d[0] = (utf8proc_int32_t)c;
    n = 1;
  }
  for (utf8proc_ssize_t k = 0; k < n; k++) add_decomposed(st, (uint32_t)d[k]);
}

/* General path: one code point of the (cleaned-up) input. */
static void process_cp(wstate *st, uint32_t c) {
  if (c == 0 || c == 0xFFFD) return;
  if (c == '\t' || c == '\n' || c == '\r') {
    flush(st);
    return;
  }
  switch (utf8proc_category((utf8proc_int32_t)c)) {
  case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
  case UTF8PROC_CATEGORY_CS:
    return;
  case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
    flush(st);
    return;
  default:
    break;
  }
  if (st->t->chinese && is_cjk(c)) {
    flush(st);
    normalize(st, c);
    flush(st);
    return;
  }
  normalize(st, c);
}

/* Fast path for ASCII, identical to process_cp on it: no decomposition,
** no marks, classes known by range. */
static void process_ascii(wstate *st, uint32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
    end_run(st);
    append(st, c);
  } else if (c >= 'A' && c <= 'Z') {
    end_run(st);
    append(st, st->t->lowercase ? c + 32 : c);
  } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
    flush(st);
  } else if (c < 32 || c == 127) {
    /* Cc: dropped */
  } else { /* every other printable ASCII character is punctuation */
    flush(st);
    append(st, c);
    flush(st);
  }
}

/* Strict UTF-8 decoding; anything malformed is one byte read as U+FFFD. */
static uint32_t decode_utf8(const uint8_t *s, size_t n, size_t *adv) {
  uint32_t c = s[0];
  *adv = 1;
  if (c < 0x80) return c;
  if (c >= 0xC2 && c < 0xE0) {
    if (n >= 2 && (s[1] & 0xC0) == 0x80) {
      *adv = 2;
      return (c & 0x1F) << 6 | (s[1] & 0x3F);
    }
  } else if (c >= 0xE0 && c < 0xF0) {
    if (n >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
      uint32_t cp = (c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
        *adv = 3;
        return cp;
      }
    }
  } else if (c >= 0xF0 && c < 0xF5) {
    if (n >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
      uint32_t cp = (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                    (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
      if (cp >= 0x10000 && cp <= 0x10FFFF) {
        *adv = 4;
        return cp;
      }
    }
  }
  return 0xFFFD;
}

/* Longest special token starting at s, or NULL. */
static const wp_special *special_at(const wp_tokenizer *t, const uint8_t *s, size_t n) {
  const wp_special *best = NULL;
  for (int k = 0; k < WP_NSPECIAL; k++) {
    const wp_special *sp = &t->special[k];
    if (sp->id < 0 || sp->len == 0 || sp->len > n) continue;
    if (memcmp(s, sp->text, sp->len) == 0 && (!best || sp->len > best->len)) best = sp;
  }
  return best;
}

int wp_tokenize_ex(const wp_tokenizer *t, const char *text, size_t len, uint32_t max_pieces,
                   unsigned flags, wp_encoding *out, blend_error *err) {
  if (!t || !out || (!text && len))
    return blend_seterr(err, BLEND_EINVAL, "wordpiece: NULL argument");
  wstate st;
  st.t = t;
  st.out = out;
  st.limit = max_pieces && max_pieces <= UINT32_MAX - out->len ? out->len + max_pieces
                                                                : UINT32_MAX;
  st.full = st.oom = 0;
  st.simple = (flags & WP_SIMPLE) != 0;
  st.n = 0;
  st.run = NO_RUN;
  if (st.out->len >= st.limit) return BLEND_OK;
  const uint8_t *s = (const uint8_t *)text;
  size_t i = 0;
  while (i < len && !st.full) {
    uint32_t c = s[i];
    if (t->special_first[c]) {
      const wp_special *sp = special_at(t, s + i, len - i);
      if (sp) {
        flush(&st);
        emit(&st, sp->id);
        i += sp->len;
        continue;
      }
    }
    if (c < 0x80 && !st.simple) {
      process_ascii(&st, c);
      i++;
      continue;
    }
    size_t adv;
    c = decode_utf8(s + i, len - i, &adv);
    i += adv;
    process_cp(&st, c);
  }
  if (!st.full) flush(&st);
  if (st.oom) return blend_seterr(err, BLEND_ENOMEM, "wordpiece: out of memory");
  return BLEND_OK;
}

int wp_tokenize(const wp_tokenizer *t, const char *text, size_t len, wp_encoding *out,
                blend_error *err) {
  return wp_tokenize_ex(t, text, len, 0, 0, out, err);
}
