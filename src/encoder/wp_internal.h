/*
** wp_internal.h — the loaded WordPiece tokenizer as wordpiece.c (loading,
** framing, truncation) and wp_tokenize.c (text → word pieces) share it.
** Read-only after load, so one tokenizer serves any number of threads.
*/
#ifndef BLEND_WP_INTERNAL_H
#define BLEND_WP_INTERNAL_H

#include <stdint.h>

#include "encoder/wordpiece.h"
#include "util/util.h"

/* Longest word (in code points) the tokenizer will look up; longer words are
** [UNK]. HF's default max_input_chars_per_word is 100; tokenizer.json may set
** another value, which must not exceed this bound (it sizes stack buffers). */
#define WP_MAX_WORD_CHARS 1024

/* Number of special tokens recognised literally inside input text. */
#define WP_NSPECIAL 5

typedef struct wp_special {
  const char *text; /* e.g. "[SEP]" (points into the tokenizer's arena) */
  uint32_t len;
  int32_t id;       /* -1 when the vocabulary lacks it */
} wp_special;

struct wp_tokenizer {
  uint32_t n;          /* id_to_token length (max id + 1) */
  const char **tok;    /* [n] token strings (NULL for ids the vocab skips) */
  uint32_t *toklen;    /* [n] byte lengths */
  char *arena;         /* backing storage of the token strings */
  strmap *vocab;       /* token → id */
  strmap *cont;        /* continuation tokens without their prefix → id */
  uint32_t max_len;    /* longest key in vocab, bytes */
  uint32_t max_cont;   /* longest key in cont, bytes */
  char prefix[16];     /* continuing_subword_prefix, "##" */
  uint32_t prefix_len;
  uint32_t max_chars;  /* max_input_chars_per_word */
  int lowercase, strip_accents, chinese;
  int32_t unk, cls, sep, pad, mask;
  wp_special special[WP_NSPECIAL];
  uint8_t special_first[256]; /* 1 for bytes that start a special token */
  char special_names[WP_NSPECIAL][64];
};

/* Append one id (type id `type`) to e, growing it; 0 or -1 (ENOMEM). */
int wp_push(wp_encoding *e, int32_t id, int32_t type);
/* Make room for `extra` more entries; 0 or -1. */
int wp_reserve(wp_encoding *e, uint32_t extra);

#endif
