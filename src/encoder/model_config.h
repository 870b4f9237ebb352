/*
** model_config.h — what a BERT model directory says about itself:
** config.json (shape, activation, architecture), and for sentence-transformers
** bi-encoders modules.json → the Pooling module's config.json (pooling mode),
** whether a Normalize module follows, and sentence_bert_config.json
** (max_seq_length). Only values blend can run are accepted; anything else is
** a clear BLEND_EUNSUPPORTED / BLEND_ECORRUPT naming the file and field.
*/
#ifndef BLEND_MODEL_CONFIG_H
#define BLEND_MODEL_CONFIG_H

#include <stdint.h>

#include "blend.h"

enum bert_pooling { BERT_POOL_MEAN = 0, BERT_POOL_CLS = 1, BERT_POOL_MAX = 2 };

typedef struct bert_config {
  uint32_t hidden, layers, heads, intermediate;
  uint32_t max_position, type_vocab, vocab;
  float ln_eps;
  int cross;               /* architectures names *ForSequenceClassification */
  uint32_t num_labels;     /* cross-encoders: 1 */
  int pooling;             /* enum bert_pooling (bi-encoders) */
  int normalize;           /* modules.json lists a Normalize module */
  uint32_t max_seq_length; /* sentence_bert_config.json, else min(512, max_position) */
} bert_config;

/* Read dir/config.json and the sentence-transformers files that exist. */
int bert_config_load(const char *dir, bert_config *cfg, blend_error *err);

#endif
