/*
** wordpiece.h — BERT WordPiece tokenizer, exactly as Hugging Face's
** BertTokenizer(Fast) for uncased and cased vocabularies: text cleaning,
** CJK spacing, optional lowercasing + accent stripping, punctuation
** splitting, greedy longest-match-first with "##" continuations, [UNK] for
** words over 100 code points, [CLS]/[SEP] framing, pair encoding with
** token_type_ids and longest_first truncation.
**
** A loaded tokenizer is read-only and may be shared between threads; each
** call writes into a caller-owned wp_encoding.
*/
#ifndef BLEND_WORDPIECE_H
#define BLEND_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

typedef struct wp_tokenizer wp_tokenizer;

/* Load from a model directory: vocab.txt (or tokenizer.json's WordPiece
** vocab when vocab.txt is absent) and tokenizer_config.json (do_lower_case,
** default true; strip_accents follows do_lower_case unless set;
** tokenize_chinese_chars, default true; special token names, default
** [PAD] [UNK] [CLS] [SEP] [MASK]). vocab.txt lines may end in \n, \r\n or \r,
** the last one needs no terminator; a token listed twice maps to its last
** id, as in HF. From tokenizer.json also continuing_subword_prefix and
** max_input_chars_per_word (≤ 1024). [UNK], [CLS] and [SEP] must exist
** (error naming the vocabulary file); [PAD]/[MASK] may be absent (-1).
** Errors: BLEND_ENOTFOUND (no directory / no vocabulary file), BLEND_ECORRUPT
** (empty vocabulary, bad JSON or field), BLEND_EUNSUPPORTED (not WordPiece). */
int wp_tokenizer_load(const char *model_dir, wp_tokenizer **out, blend_error *err);
void wp_tokenizer_free(wp_tokenizer *t);

uint32_t wp_vocab_size(const wp_tokenizer *t);
/* Token string for an id (NULL if out of range). */
const char *wp_id_to_token(const wp_tokenizer *t, int32_t id);

/* Output of one encode call; reused across calls (grown as needed). */
typedef struct wp_encoding {
  int32_t *ids;       /* [len] token ids, with [CLS] ... [SEP] */
  int32_t *type_ids;  /* [len] token_type_ids (0 for single texts) */
  uint32_t len, cap;
} wp_encoding;

void wp_encoding_free(wp_encoding *e);

/* Encode one text: [CLS] pieces [SEP]. max_length 0 = no truncation;
** otherwise keep the first max_length-2 pieces. */
int wp_encode(const wp_tokenizer *t, const char *text, size_t len, uint32_t max_length,
              wp_encoding *out, blend_error *err);

/* Encode a pair: [CLS] a [SEP] b [SEP], type ids 0 then 1, longest_first
** truncation to max_length (0 = none) as the HF fast tokenizer does. */
int wp_encode_pair(const wp_tokenizer *t, const char *a, size_t alen, const char *b,
                   size_t blen, uint32_t max_length, wp_encoding *out, blend_error *err);

/* Word pieces of a text without [CLS]/[SEP] or truncation, appended to out
** (ids only; type ids 0). Exposed for tests and for pair truncation. */
int wp_tokenize(const wp_tokenizer *t, const char *text, size_t len, wp_encoding *out,
                blend_error *err);

/* wp_tokenize with options. max_pieces > 0 stops once this call has
** appended that many pieces (the exact prefix of the full tokenization;
** wp_encode uses it so long documents are not word-pieced past max_length).
** WP_SIMPLE turns off the fast paths (ASCII shortcut, vocabulary-length cap
** on candidate pieces): the simple twin that tests compare the fast path with. */
#define WP_SIMPLE 1u
int wp_tokenize_ex(const wp_tokenizer *t, const char *text, size_t len, uint32_t max_pieces,
                   unsigned flags, wp_encoding *out, blend_error *err);

/* Id of an exact token string, or -1 if it is not in the vocabulary. */
int32_t wp_token_to_id(const wp_tokenizer *t, const char *tok, size_t len);
/* Id of [PAD] (0 for BERT vocabularies; -1 if the vocabulary has none). */
int32_t wp_pad_id(const wp_tokenizer *t);

/* Invalid UTF-8 in text is never an error: each byte that does not start a
** well-formed sequence (overlong forms, surrogates, > U+10FFFF, truncated
** sequences) is read as U+FFFD, which text cleaning drops, as HF drops a
** literal U+FFFD. So "ab\xffcd" tokenizes like "abcd". */

#endif
