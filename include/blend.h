/*
** blend.h — the one public header of libblend, a hybrid search engine.
**
** Conventions (every call follows them):
**  - Handles are opaque. Each object is created by a *_open / *_new call and
**    released by the matching *_close / *_free call, which accepts NULL.
**  - Calls that can fail return an int status (BLEND_OK == 0 on success) and,
**    when the caller passes a non-NULL blend_error, fill it with a code and a
**    human-readable message naming the file, line or field at fault.
**  - The library never prints and never exits. There is no global mutable
**    state: several indexes and models can live in one process.
**  - Thread safety: an opened blend_index and blend_model are read-only and
**    may be shared by any number of threads (model calls take their own
**    scratch); a blend_searcher, blend_analyzer or blend_writer holds
**    per-thread state and is used by one thread at a time.
*/
#ifndef BLEND_H
#define BLEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BLEND_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum blend_status {
  BLEND_OK = 0,
  BLEND_EINVAL = 1,      /* bad argument or bad input (query, option, JSON) */
  BLEND_EIO = 2,         /* file system error */
  BLEND_ECORRUPT = 3,    /* index / model file fails validation */
  BLEND_ENOMEM = 4,      /* allocation failed */
  BLEND_ENOTFOUND = 5,   /* missing file, field, tensor or document */
  BLEND_EUNSUPPORTED = 6,/* valid input this build cannot handle */
  BLEND_ENETWORK = 7,    /* download failed */
  BLEND_ELOCKED = 8      /* another writer holds the index lock */
};

#define BLEND_ERROR_MAX 512

typedef struct blend_error {
  int code;                      /* one of enum blend_status */
  char message[BLEND_ERROR_MAX]; /* NUL-terminated, empty when code == 0 */
} blend_error;

/* A short static name for a status code ("ok", "invalid input", ...). */
const char *blend_status_name(int code);

/* -------------------------------------------------------------- analysis */

/* How text becomes terms. Stored inside every index, so query-time analysis
** always matches index-time analysis. Zero-initialise and call
** blend_analyzer_config_default() to get blend's defaults. */
typedef struct blend_analyzer_config {
  char stemmer[32];    /* Snowball algorithm name ("porter", "english",
                          "french", ...) or "none". Default "porter". */
  char stopwords[32];  /* "english" (Lucene/Anserini default set) or "none". */
  int cjk_bigrams;     /* 1: index Han/Kana/Hangul runs as overlapping
                          character bigrams (default 1). */
} blend_analyzer_config;

void blend_analyzer_config_default(blend_analyzer_config *cfg);

typedef struct blend_analyzer blend_analyzer;

/* Create an analyzer. Fails with BLEND_EINVAL for an unknown stemmer or
** stopword list. */
int blend_analyzer_new(const blend_analyzer_config *cfg, blend_analyzer **out,
                       blend_error *err);
void blend_analyzer_free(blend_analyzer *a);

/* One analysed token: a NUL-terminated term, its position (0-based, counting
** removed stopwords so phrase gaps are preserved) and its byte span in the
** input text (for highlighting). */
typedef struct blend_token {
  const char *term;
  uint32_t term_len;
  uint32_t position;
  uint32_t start, end; /* byte offsets into the analysed text */
  uint32_t term_id;    /* dense id of the term text, equal for equal terms
                          over the analyzer's lifetime */
} blend_token;

/* Analyse text (UTF-8, len bytes). Calls fn for each token; the token's term
** pointer is valid only during the callback. Invalid UTF-8 sequences are
** treated as separators (never an error). Returns BLEND_OK or the first
** non-zero value returned by fn. */
typedef int (*blend_token_fn)(void *ctx, const blend_token *tok);
int blend_analyze(blend_analyzer *a, const char *text, size_t len,
                  blend_token_fn fn, void *ctx);

/* ----------------------------------------------------------------- index */

/* A document to add: an external id and named text fields. */
typedef struct blend_field_value {
  const char *name;  /* e.g. "title", "text" */
  const char *text;  /* UTF-8 */
  size_t len;
} blend_field_value;

/* Filter metadata of a document: a named number or string (the BEIR
** "metadata" object's scalar members, and JSONL fields named by
** --meta-fields). Filters test equality and numeric ranges on these. */
enum blend_meta_kind { BLEND_META_NUMBER = 1, BLEND_META_STRING = 2 };

typedef struct blend_meta_value {
  const char *name;   /* 1-63 bytes */
  int kind;           /* enum blend_meta_kind */
  double number;      /* BLEND_META_NUMBER */
  const char *text;   /* BLEND_META_STRING: UTF-8, len bytes */
  size_t len;
} blend_meta_value;

typedef struct blend_doc {
  const char *id;
  size_t id_len;
  const blend_field_value *fields;
  size_t nfields;
  const blend_meta_value *meta;   /* may be NULL */
  size_t nmeta;
  const float *vector;            /* the document's own vector (dim floats of
                                     the index's vector field), or NULL: the
                                     writer's model encodes it, if it has one */
  uint32_t vector_dim;
} blend_doc;

/* ---- the vector field (dense leg) */
enum blend_metric { BLEND_METRIC_COSINE = 0, BLEND_METRIC_DOT = 1, BLEND_METRIC_L2 = 2 };
enum blend_vector_dtype { BLEND_VECTOR_F32 = 0, BLEND_VECTOR_INT8 = 1 };

/* An index holds at most one vector field. Its shape, search structures and
** the identity of the model that produced it are stored in the index, so a
** query is always encoded by the same model (a different one is an error). */
typedef struct blend_vector_config {
  uint32_t dim;              /* 0: the index has no vector field */
  int metric;                /* enum blend_metric (default cosine) */
  int dtype;                 /* enum blend_vector_dtype: int8 adds scalar-
                                quantised codes searched with f32 rescoring */
  int hnsw;                  /* build an HNSW graph per segment (default 1) */
  uint32_t hnsw_m;           /* hnswlib's M (default 16: M links per node on
                                upper layers, 2M on layer 0) */
  uint32_t hnsw_ef_construction; /* default 200 */
  uint64_t hnsw_seed;        /* default 42; the graph is deterministic per seed */
  int threads;               /* graph build threads, <= 0: online cores */
  /* model identity ("" when the vectors came from the user) */
  char model_dir[1024];      /* absolute path of the model directory */
  char model_name[128];      /* its directory name */
  char model_sha256[65];     /* SHA-256 of its model.safetensors */
  char pooling[16];          /* mean | cls | max */
  int normalize;             /* 1 when the model L2-normalises embeddings */
  uint32_t max_length;       /* tokens the documents were truncated to */
  char doc_prefix[128];      /* prepended to document text before encoding */
  char query_prefix[128];    /* prepended to query text before encoding */
  char text_fields[256];     /* comma-separated fields that were encoded */
} blend_vector_config;

typedef struct blend_index_config {
  blend_analyzer_config analyzer;
  int positions;         /* store positions (phrase queries). Default 1. */
  int field_views;       /* 1: also index each field on its own (field:term
                            queries, multifield BM25). 0: only the flat
                            'contents' field — faster to build, smaller.
                            Default 1. */
  blend_vector_config vector; /* dim 0 (default): no vector field */
} blend_index_config;

void blend_index_config_default(blend_index_config *cfg);
/* Defaults of a vector field of dimension dim (cosine, f32, HNSW M=16,
** efConstruction=200, seed 42). */
void blend_vector_config_default(blend_vector_config *v, uint32_t dim);

typedef struct blend_writer blend_writer;

/* How a writer treats the index already in dir. */
enum blend_write_mode {
  BLEND_WRITE_REPLACE = 0, /* the commit replaces every document (a rebuild) */
  BLEND_WRITE_APPEND = 1   /* add a segment per commit; added documents with
                              an existing id replace it; deletes allowed */
};

/* Open a writer on dir (created if missing). Only one writer at a time:
** the writer holds DIR/LOCK (an flock, released by the kernel when the
** process dies, so a stale lock never blocks); a second writer fails with
** BLEND_ELOCKED naming the holder's pid. Nothing is visible to readers until
** blend_writer_commit() succeeds; an interrupted writer leaves the previous
** generation intact and openable. In APPEND mode the index's own analyzer,
** fields option and vector field are kept (cfg's are ignored, except that
** an index without a vector field may not gain one). */
int blend_writer_open(const char *dir, const blend_index_config *cfg,
                      blend_writer **out, blend_error *err);
int blend_writer_open_mode(const char *dir, const blend_index_config *cfg, int mode,
                           blend_writer **out, blend_error *err);

/* Add a document. A document whose id was already added in this writer
** (or, in APPEND mode, is in the index) replaces the earlier one (last one
** wins). Texts are copied. With a vector field, doc->vector must be given
** (dim finite floats) unless a model is attached (blend_writer_set_model). */
int blend_writer_add(blend_writer *w, const blend_doc *doc, blend_error *err);

/* Delete the document with this id (APPEND mode, or documents added by this
** writer). *found (if non-NULL) is 1 when it existed. Takes effect at commit. */
int blend_writer_delete(blend_writer *w, const char *id, size_t id_len, int *found,
                        blend_error *err);

/* Number of documents added so far that replaced an earlier same-id one. */
uint64_t blend_writer_duplicates(const blend_writer *w);

/* Attach a bi-encoder: documents added without a vector are encoded from
** their text fields (the named ones joined by a space; NULL = every text
** field) with doc_prefix prepended, batched. Sets the index's vector field
** (dimension = the model's, cosine) and records the model's identity. */
typedef struct blend_model blend_model;
int blend_writer_set_model(blend_writer *w, blend_model *m, const char *model_dir,
                           const char *text_fields, const char *doc_prefix,
                           const char *query_prefix, blend_error *err);

/* Write segment files and live-docs, fsync them and the directory, then
** atomically switch the manifest (rename + directory fsync). On success
** the writer stays open for more documents (the next commit makes another
** segment). Then merges segments by the tiered merge policy unless
** disabled with blend_writer_set_merge(w, 0). A merge that fails after a
** successful commit (e.g. no room for the merged segment) does not fail the
** commit: the documents are committed, the index stays valid with more
** segments, and the merge is tried again after the next commit
** (blend_writer_force_merge reports such errors). */
int blend_writer_commit(blend_writer *w, blend_error *err);
void blend_writer_set_merge(blend_writer *w, int enabled);

/* Merge segments until at most max_segments remain (>= 1), dropping
** deleted documents; crash-safe like a commit. */
int blend_writer_force_merge(blend_writer *w, uint32_t max_segments, blend_error *err);

/* Release the writer (and its lock); uncommitted work is discarded. */
void blend_writer_close(blend_writer *w);

typedef struct blend_index blend_index;

/* Open the committed generation in dir (memory-mapped, read-only). The
** reader keeps seeing that generation, whatever later commits do, until it
** is closed or refreshed. Segments are checksummed in full when first
** opened; a refresh reuses the segments it already has open. */
int blend_index_open(const char *dir, blend_index **out, blend_error *err);
void blend_index_close(blend_index *ix);

/* Move *ix to the newest committed generation: *ix is replaced by a new
** handle (sharing unchanged segments) and the old one is closed, or left
** alone when nothing changed (*changed = 0). Searchers made on the old
** handle must be freed first. */
int blend_index_refresh(blend_index **ix, int *changed, blend_error *err);

typedef struct blend_index_stats {
  uint64_t docs;          /* live documents */
  uint64_t deleted;       /* deleted documents not yet merged away */
  uint64_t generation;    /* the committed generation this reader sees */
  uint64_t terms;         /* distinct terms over all fields */
  uint64_t postings;      /* (term, doc) pairs over all fields */
  uint64_t bytes_on_disk; /* files of the committed generation */
  uint32_t segments;
  uint32_t fields;
} blend_index_stats;

void blend_index_stats_get(const blend_index *ix, blend_index_stats *out);

/* Name of field i of the index (0 = the flat "contents" field), i < the
** stats' fields; NULL past the end. */
const char *blend_index_field_name(const blend_index *ix, uint32_t i);

/* The analyzer configuration stored in the index. */
const blend_analyzer_config *blend_index_analyzer_config(const blend_index *ix);

/* Stored fields of an internal document number (as returned in hits).
** *text is valid until the searcher that produced it runs another call or
** is freed; fields that do not exist yield BLEND_ENOTFOUND. */
typedef struct blend_searcher blend_searcher;
int blend_searcher_doc_id(blend_searcher *s, uint32_t doc, const char **id,
                          size_t *len, blend_error *err);
int blend_searcher_doc_field(blend_searcher *s, uint32_t doc,
                             const char *field, const char **text, size_t *len,
                             blend_error *err);

/* ---------------------------------------------------------------- ingest */

/* Feeding a writer from files. JSONL: one JSON object per line, with an id
** field (default "_id"; a number is taken as its decimal text) and text
** fields (default "title,text"; a missing or null field is empty, any other
** non-string is an error). Lines must be valid UTF-8; blank lines are
** ignored. A directory: every *.txt and *.md file below it (sorted, symlinks
** not followed), id = path relative to the directory, title = first
** non-empty line (Markdown '#' marks removed), text = the whole file. */
typedef struct blend_ingest_options {
  const char *id_field;          /* JSONL id field; NULL = "_id" */
  const char *const *fields;     /* JSONL text fields; NULL = {"title","text"} */
  size_t nfields;
  int skip_invalid;              /* 1: skip bad lines/files and count them */
  /* filter metadata: the scalar members of a JSONL "metadata" object (as
     BEIR corpora have) always, plus these top-level fields (strings,
     numbers, booleans as "true"/"false"; null = absent) */
  const char *const *meta_fields;
  size_t nmeta_fields;
  /* the document's vector, when vectors come from elsewhere: return NULL
     when id has none (then the writer's model, if any, encodes it) */
  const float *(*vector_for)(void *ctx, const char *id, size_t len);
  void *vector_ctx;
  uint32_t vector_dim;           /* floats in what vector_for returns */
  /* called every ~1000 documents and at the end (may be NULL) */
  void (*progress)(void *ctx, uint64_t docs, uint64_t bytes);
  void *progress_ctx;
} blend_ingest_options;

typedef struct blend_ingest_stats {
  uint64_t docs;          /* documents added */
  uint64_t bytes;         /* input bytes read */
  uint64_t skipped;       /* invalid lines/files skipped (skip_invalid) */
  uint64_t empty;         /* documents with no text at all */
  char first_skip[BLEND_ERROR_MAX]; /* why the first skipped line was skipped */
} blend_ingest_stats;

/* Add every document of a JSONL file (path "-" = stdin) or of a directory
** tree to w. On the first invalid line (without skip_invalid) fails with
** BLEND_EINVAL and a message "FILE:LINE: problem"; nothing is committed. */
int blend_ingest(blend_writer *w, const char *path, const blend_ingest_options *opts,
                 blend_ingest_stats *stats, blend_error *err);

/* ---------------------------------------------------------------- search */

enum blend_field_mode {
  BLEND_FIELDS_FLAT = 0,   /* one "contents" field: all text fields joined */
  BLEND_FIELDS_MULTI = 1   /* sum of per-field BM25, weighted */
};

enum blend_topk_algo {
  BLEND_TOPK_AUTO = 0,       /* the fastest exact algorithm */
  BLEND_TOPK_EXHAUSTIVE = 1, /* score every matching document (the twin) */
  BLEND_TOPK_MAXSCORE = 2,
  BLEND_TOPK_BMW = 3         /* block-max WAND */
};

#define BLEND_MAX_FIELD_WEIGHTS 8

typedef struct blend_filter blend_filter;
typedef struct blend_search_options {
  uint32_t k;            /* number of hits (default 10) */
  const blend_filter *filter; /* only documents passing it (NULL: all) */
  float k1, b;           /* BM25 parameters (default 0.9, 0.4) */
  int field_mode;        /* enum blend_field_mode */
  int algorithm;         /* enum blend_topk_algo */
  int explain;           /* 1: fill per-term contributions */
  /* multifield weights; a field not named has weight 1 */
  struct { char name[32]; float weight; } field_weights[BLEND_MAX_FIELD_WEIGHTS];
  uint32_t nfield_weights;
} blend_search_options;

void blend_search_options_default(blend_search_options *o);

/* One query clause's share of a hit's score (explain): a term, or a phrase
** whose term text is its analysed terms joined by spaces (tf = phrase
** frequency, idf = the sum of the terms' idfs). */
typedef struct blend_term_score {
  const char *field;
  const char *term;
  float score;
  uint32_t tf;
  uint32_t df;          /* 0 for phrases */
} blend_term_score;

typedef struct blend_hit {
  uint32_t doc;          /* internal document number */
  float score;
  uint32_t nterms;       /* explain entries (0 without explain) */
  const blend_term_score *terms;
} blend_hit;

typedef struct blend_results {
  uint32_t count;              /* hits, best first; ties by ascending doc id */
  const blend_hit *hits;
  uint64_t matched;            /* documents scored (for diagnostics) */
  uint32_t nquery_terms;       /* analysed query terms, after stopwords */
} blend_results;

/* A searcher holds per-thread scratch over a shared index. */
int blend_searcher_new(blend_index *ix, blend_searcher **out, blend_error *err);
void blend_searcher_free(blend_searcher *s);

/* Parse and run a query. Syntax: free words (OR, BM25), +word (must),
** -word (must not), "a phrase", field:word, field:"a phrase".
** The results stay valid until the next call on this searcher.
** An empty query, or one of only stopwords, yields zero hits (BLEND_OK). */
int blend_search(blend_searcher *s, const char *query,
                 const blend_search_options *opts, blend_results *out,
                 blend_error *err);

/* Build a display snippet for doc from field: about max_bytes of text
** around the densest run of query-term matches, with matches wrapped in
** open/close (e.g. "\x1b[1m" / "\x1b[0m" or "<b>" / "</b>"). The returned
** string is owned by the searcher and valid until its next call. */
int blend_searcher_snippet(blend_searcher *s, uint32_t doc, const char *field,
                           const char *query, size_t max_bytes,
                           const char *open, const char *close,
                           const char **out, blend_error *err);

/* ------------------------------------------------------- filters, dense */

/* A filter over document metadata and ids, for lexical and dense search:
** all of its conditions must hold (AND). Build once; it is evaluated per
** segment when a search uses it. */
int blend_filter_new(blend_filter **out, blend_error *err);
void blend_filter_free(blend_filter *f);
/* Add a condition "FIELD=VALUE", "FIELD!=VALUE", "FIELD>=X", "FIELD>X",
** "FIELD<=X" or "FIELD<X". '=' compares numbers numerically when both the
** value and the document's value are numbers, else as strings; the
** comparisons need numbers. FIELD is a metadata field of the index;
** BLEND_EINVAL names the condition when malformed. A document without the
** field fails every condition on it except '!='. At most 64 conditions. */
int blend_filter_add(blend_filter *f, const char *condition, blend_error *err);
/* Restrict to these external ids (an allow-list; calls accumulate). */
int blend_filter_allow_ids(blend_filter *f, const char *const *ids, const size_t *lens, size_t n,
                           blend_error *err);

/* Metadata fields of the index (names valid while the index is open). */
uint32_t blend_index_meta_fields(const blend_index *ix);
const char *blend_index_meta_field(const blend_index *ix, uint32_t i);

/* The index's vector field, or BLEND_ENOTFOUND when it has none. */
int blend_index_vector_config(const blend_index *ix, blend_vector_config *out, blend_error *err);

typedef struct blend_model_options blend_model_options;
/* Open the bi-encoder that built the index's vectors, for query encoding:
** model_dir NULL means the directory recorded at index time. The model's
** dimension, pooling, normalisation and weights (SHA-256 of
** model.safetensors) must match the index's record, else BLEND_EINVAL
** saying what differs. opts as for blend_model_open. */
int blend_index_open_query_model(const blend_index *ix, const char *model_dir,
                                 const blend_model_options *opts, blend_model **out,
                                 blend_error *err);
/* Encode a query with the index's query prefix: out[dim]. */
int blend_index_embed_query(const blend_index *ix, blend_model *m, const char *text, size_t len,
                            float *out, blend_error *err);

typedef struct blend_dense_options {
  uint32_t k;          /* hits (default 10) */
  uint32_t ef;         /* HNSW candidate list size (0: max(k, 64)) */
  int exact;           /* 1: exact scan instead of HNSW */
  uint32_t rescore;    /* int8 fields: candidates rescored in f32 (0: auto) */
  int threads;         /* exact-scan threads (<= 1: the caller's thread) */
  const blend_filter *filter; /* NULL: no filter */
} blend_dense_options;
void blend_dense_options_default(blend_dense_options *o);

/* Nearest documents to vec (dim floats, the index's dimension; not
** normalised, blend does that for cosine). Scores: cosine similarity, dot
** product, or negative squared L2 distance — higher is better. Hits use the
** same document numbers as blend_search and stay valid until the next call
** on this searcher. With a filter, returns min(k, documents passing) hits:
** the graph search honours the filter and falls back to the exact scan
** when the filter is too selective for the graph. */
int blend_search_vector(blend_searcher *s, const float *vec, uint32_t dim,
                        const blend_dense_options *opts, blend_results *out, blend_error *err);

/* Exact vector scores of given documents (hybrid score completion). */
int blend_searcher_vector_scores(blend_searcher *s, const float *vec, uint32_t dim,
                                 const uint32_t *docs, size_t n, float *scores, blend_error *err);

/* The live document with this external id: BLEND_OK and *doc, or
** BLEND_ENOTFOUND. */
int blend_searcher_find(blend_searcher *s, const char *id, size_t len, uint32_t *doc,
                        blend_error *err);

/* ------------------------------------------------------------ evaluation */

/* trec_eval-compatible evaluation (semantics of trec_eval 9.x, checked
** against its source): qrels, runs, nDCG / recall / MRR / MAP / P. */

typedef struct blend_qrels blend_qrels;
typedef struct blend_run blend_run;

/* Load relevance judgements. Formats (chosen by the first content line):
**   TREC qrels  "qid iter docid rel" (whitespace separated, iter ignored);
**   BEIR TSV    "query-id\tcorpus-id\tscore" after a header line (a first
**               line of three tab-separated fields whose last is not an
**               integer is taken as the header);
**   3 columns   "qid docid rel" without header.
** rel is an integer; rel > 0 is relevant and is the nDCG gain. Blank lines
** and lines starting with '#' are skipped. A repeated (qid, docid) pair
** replaces the earlier judgement: last one wins (trec_eval would refuse the
** file). Errors name the file and line. */
int blend_qrels_load(const char *path, blend_qrels **out, blend_error *err);
void blend_qrels_free(blend_qrels *q);
/* Queries in the qrels, in order of first appearance; i < queries. */
uint32_t blend_qrels_queries(const blend_qrels *q);
const char *blend_qrels_query_id(const blend_qrels *q, uint32_t i);
/* Number of judged documents with rel > 0 for query i. */
uint32_t blend_qrels_relevant(const blend_qrels *q, uint32_t i);
/* Judgements that replaced an earlier one for the same (qid, docid). */
uint64_t blend_qrels_duplicates(const blend_qrels *q);
/* 1 and *rel (if non-NULL) when (qid, docid) is judged, else 0. */
int blend_qrels_get(const blend_qrels *q, const char *qid, const char *docid, int *rel);

/* An in-memory run: (qid, docid, score) triples. Adding a (qid, docid) pair
** twice fails with BLEND_EINVAL (trec_eval rejects such runs too); so does
** an empty id or a non-finite score. */
int blend_run_new(blend_run **out, blend_error *err);
int blend_run_add(blend_run *r, const char *qid, const char *docid,
                  double score, blend_error *err);
/* Number of (qid, docid) triples. */
size_t blend_run_size(const blend_run *r);
/* Load a TREC run file ("qid Q0 docid rank score tag"; fields after the tag,
** blank lines and '#' lines are ignored, as trec_eval does). The rank column
** is ignored: ranking is always by score. A duplicate (qid, docid) is an
** error naming both lines. */
int blend_run_load(const char *path, blend_run **out, blend_error *err);
/* Write in TREC format, ranked as trec_eval ranks (score desc, then docid
** in descending strcmp order), rank column 1..n, each score printed with
** the fewest digits that read back as the same double. tag NULL = "blend".
** Fails if an id contains whitespace. */
int blend_run_write(const blend_run *r, const char *path, const char *tag,
                    blend_error *err);
void blend_run_free(blend_run *r);

/* Metric names: "ndcg@K", "recall@K", "mrr@K", "map@K", "p@K" and, without
** cut, "ndcg", "recall", "mrr", "map" (K in 1..1e8). trec_eval spellings are
** accepted too: ndcg_cut_K (or ndcg_cut.K), recall_K, P_K, map_cut_K,
** recip_rank. Definitions (rank r counted from 1, rel from the qrels,
** unjudged = 0; R = judged docs with rel > 0):
**   ndcg@K   trec_eval ndcg_cut: sum_{r<=K, rel>0} rel/log2(r+1) over the
**            same sum for the ideal ranking of all judged rel > 0 docs.
**   recall@K relevant in top K / R (0 when R = 0).
**   p@K      relevant in top K / K (missing ranks count as nonrelevant).
**   map@K    trec_eval map_cut: sum of precision at each relevant rank
**            <= K, divided by R.
**   mrr@K    1/rank of the first relevant doc within the top K. trec_eval's
**            recip_rank has no cut: "mrr" equals it; "mrr@10" is the
**            BEIR-style cut version.
** Checks a name: BLEND_OK and *cut (if non-NULL) = its cutoff, 0 when
** uncut; BLEND_EINVAL with a message for an unknown or malformed name. */
int blend_eval_metric_cutoff(const char *name, uint32_t *cut, blend_error *err);

typedef struct blend_eval_options {
  int ignore_identical_ids; /* drop run docs whose id equals the query id
                               before ranking (BEIR option) */
} blend_eval_options;

typedef struct blend_eval_result blend_eval_result;

/* Score run against qrels with trec_eval semantics: ranking by score desc,
** ties broken by docid desc (as trec_eval sorts); relevance > 0 is
** relevant; nDCG uses graded gains and log2 discounts. Every query of the
** qrels is evaluated and averaged, as `trec_eval -c` does: one missing
** from the run (or with no results) scores 0 on every metric; one whose
** judgements are all rel <= 0 is evaluated too and scores 0 (trec_eval
** counts it as well). Run queries without judgements are skipped. */
int blend_evaluate(const blend_qrels *q, const blend_run *r,
                   const char *const *metrics, size_t nmetrics,
                   const blend_eval_options *opts, blend_eval_result **out,
                   blend_error *err);
uint32_t blend_eval_queries(const blend_eval_result *e);      /* evaluated */
uint32_t blend_eval_matched(const blend_eval_result *e); /* ... with >= 1 run doc */
uint32_t blend_eval_skipped(const blend_eval_result *e); /* run queries not in qrels */
size_t blend_eval_metrics(const blend_eval_result *e);
/* Canonical name of a metric ("ndcg@10", "mrr", ...). */
const char *blend_eval_metric_name(const blend_eval_result *e, size_t metric);
double blend_eval_mean(const blend_eval_result *e, size_t metric);
/* Per-query values, in qrels order: i < blend_eval_queries(e). */
const char *blend_eval_query_id(const blend_eval_result *e, uint32_t i);
double blend_eval_value(const blend_eval_result *e, uint32_t i, size_t metric);
void blend_eval_free(blend_eval_result *e);

/* --------------------------------------------------------------- encoder */

/* Encoders (bi-encoders and cross-encoders of the BERT family) are declared
** below this line by the encoder module. */

/* A BERT-family model loaded from a Hugging Face / sentence-transformers
** directory: config.json, model.safetensors (F32, F16 or BF16 weights; F16
** and BF16 are widened exactly to float32 at load), vocab.txt,
** tokenizer_config.json, and for bi-encoders modules.json,
** 1_Pooling/config.json (mean, CLS or max pooling) and
** sentence_bert_config.json (max_seq_length). A Normalize entry in
** modules.json means L2-normalised embeddings. Cross-encoders
** (BertForSequenceClassification with one label) are detected from
** config.json's architectures or a classifier tensor.
**
** An open blend_model is read-only and may be shared by any number of
** threads: each call allocates its own scratch. Calls made while another
** thread is running one on the same model still work but run on the calling
** thread alone instead of the model's worker threads. */
typedef struct blend_model blend_model;

enum blend_precision {
  BLEND_PRECISION_F32 = 0,  /* float32 arithmetic (matches PyTorch to ~1e-7) */
  BLEND_PRECISION_INT8 = 1, /* int8-quantised linear layers (faster, approximate); attention
                               in BF16 on CPUs with AVX-512 BF16, else float32 */
  BLEND_PRECISION_BF16 = 2  /* feed-forward layers (2/3 of the work) in bf16 weights and
                               activations with float32 sums; the attention block stays
                               float32 (cosine >= 0.9999 to F32); needs AVX-512 BF16:
                               blend_model_open fails with BLEND_EUNSUPPORTED on other CPUs */
};

typedef struct blend_model_options {
  int threads;          /* worker threads incl. the caller; <= 0: online cores */
  uint32_t max_length;  /* tokens per text or pair incl. [CLS]/[SEP]; 0: the
                           model's max_seq_length (bi-encoders) or
                           min(512, max_position_embeddings); capped at
                           max_position_embeddings */
  int precision;        /* enum blend_precision (default F32) */
  uint32_t batch;       /* texts per forward pass (default 32) */
} blend_model_options;

/* Defaults: threads 0 (all cores), max_length 0, F32, batch 32. */
void blend_model_options_default(blend_model_options *o);

/* Load the model in dir. opts may be NULL (defaults). Errors name the file
** (and tensor or field) at fault: a missing config.json or model.safetensors
** is BLEND_ENOTFOUND, an invalid one BLEND_ECORRUPT, an unsupported
** architecture/activation/pooling BLEND_EUNSUPPORTED. The linear layers
** are packed (F32, BF16) or quantised (INT8) once here, for the best
** kernels this CPU runs (chosen once, at load; `blend doctor` lists them).
** BF16 on a CPU without AVX-512 BF16 is BLEND_EUNSUPPORTED. */
int blend_model_open(const char *dir, const blend_model_options *opts, blend_model **out,
                     blend_error *err);
void blend_model_close(blend_model *m);

/* 1 for a cross-encoder (use blend_rerank), 0 for a bi-encoder (blend_embed). */
int blend_model_is_cross_encoder(const blend_model *m);
/* Embedding dimension (the hidden size). */
uint32_t blend_model_dim(const blend_model *m);
/* Effective max_length in tokens (after options and model limits). */
uint32_t blend_model_max_length(const blend_model *m);
/* Pooling of a bi-encoder ("mean", "cls" or "max") and whether it
** L2-normalises its embeddings. */
const char *blend_model_pooling(const blend_model *m);
int blend_model_normalizes(const blend_model *m);

/* Embed n UTF-8 texts (texts[i], lens[i] bytes) with a bi-encoder into
** out[n * dim], row i for text i. Texts longer than max_length tokens are
** truncated (as sentence-transformers does). BLEND_EINVAL on a
** cross-encoder. */
int blend_embed(blend_model *m, const char *const *texts, const size_t *lens, size_t n,
                float *out, blend_error *err);

/* The same from token ids (ids[i]: lens[i] ids including [CLS] and [SEP],
** not truncated; at most max_position_embeddings). */
int blend_embed_ids(blend_model *m, const int32_t *const *ids, const uint32_t *lens, size_t n,
                    float *out, blend_error *err);

/* Score n documents against query with a cross-encoder: scores[i] is the
** raw logit for the pair (query, docs[i]) (apply a sigmoid for
** sentence-transformers' CrossEncoder.predict value). Pairs are encoded
** [CLS] query [SEP] doc [SEP] and truncated longest-first to max_length.
** BLEND_EINVAL on a bi-encoder. */
int blend_rerank(blend_model *m, const char *query, size_t qlen, const char *const *docs,
                 const size_t *lens, size_t n, float *scores, blend_error *err);

/* The same from token ids and token_type_ids (type_ids NULL: all 0). */
int blend_rerank_ids(blend_model *m, const int32_t *const *ids, const int32_t *const *type_ids,
                     const uint32_t *lens, size_t n, float *scores, blend_error *err);

/* model download */

/* Download what a blend encoder needs from a model repository on a Hugging
** Face-compatible hub into a local directory: config.json, vocab.txt,
** tokenizer.json, tokenizer_config.json, special_tokens_map.json,
** model.safetensors, modules.json, sentence_bert_config.json,
** config_sentence_transformers.json and 1_Pooling/config.json, those the
** repository has (other weights formats are never fetched). A repository
** without model.safetensors or config.json fails with BLEND_EUNSUPPORTED.
**
** Files download into dir/.partial/<file>.part and resume from there with an
** HTTP Range request; each is checked against the hub's size and SHA-256
** (LFS files) or git blob id (small files), fsynced and renamed into place,
** so dir never holds a half-written or unverified file. Files already in dir
** that match are skipped: pulling again is cheap and changes nothing.
** Network failures return BLEND_ENETWORK, keep the partial file, and name
** the URL; a checksum mismatch deletes the partial file (BLEND_ECORRUPT). */

enum blend_pull_event_kind {
  BLEND_PULL_START = 0, /* a file's download begins (bytes = resumed offset) */
  BLEND_PULL_DATA = 1,  /* bytes of the file received so far */
  BLEND_PULL_DONE = 2,  /* the file is verified and in place */
  BLEND_PULL_SKIP = 3   /* the file was already present and verified */
};

typedef struct blend_pull_event {
  int kind;               /* enum blend_pull_event_kind */
  const char *file;       /* path inside the repository */
  uint64_t bytes;         /* bytes of this file on disk so far */
  uint64_t size;          /* its expected size (0 when the hub gave none) */
  uint32_t index, count;  /* this file's number (0-based) among count */
} blend_pull_event;

/* Progress callback; a non-zero return cancels the pull (the partial file
** stays for a later resume). */
typedef int (*blend_pull_fn)(void *ctx, const blend_pull_event *ev);

typedef struct blend_pull_options {
  const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co */
  const char *revision;  /* branch, tag or commit; NULL: "main" */
  const char *token;     /* sent as "Authorization: Bearer"; NULL: $HF_TOKEN
                            (none when unset); "" sends none */
  long connect_timeout;  /* seconds to establish a connection (default 15) */
  long stall_timeout;    /* give up when no byte arrives (or under 1 KB/s)
                            for this many seconds (default 30) */
  blend_pull_fn progress;
  void *progress_ctx;
} blend_pull_options;

void blend_pull_options_default(blend_pull_options *o);

typedef struct blend_pull_result {
  uint32_t files;            /* files selected from the repository */
  uint32_t downloaded;       /* fetched by this call */
  uint32_t skipped;          /* already present and verified */
  uint64_t bytes_downloaded; /* received over the network by this call */
  uint64_t bytes_total;      /* size of all selected files */
} blend_pull_result;

/* Pull repo_id ("org/name") into dir (created if missing). opts may be
** NULL (defaults), out may be NULL. */
int blend_model_pull(const char *repo_id, const char *dir, const blend_pull_options *opts,
                     blend_pull_result *out, blend_error *err);

/* ======================================================== fusion / hybrid */
/* Hybrid search: several legs (BM25 flat, BM25 multifield, dense, external
** runs) each retrieve their own candidates; each leg's scores are
** normalised over its candidates, fused into one score per candidate, and
** the fused list is optionally reranked by a cross-encoder. Definitions of
** every normaliser and fusion function, and their degenerate cases, are in
** docs/fusion.md. One implementation serves the CLI, the server and library
** users. */

#define BLEND_MAX_LEGS 8

enum blend_norm {
  BLEND_NORM_NONE = 0,    /* raw scores */
  BLEND_NORM_MINMAX = 1,  /* (s − min) / (max − min) over the leg's candidates */
  BLEND_NORM_ZSCORE = 2,  /* (s − mean) / σ (population σ) */
  BLEND_NORM_SOFTMAX = 3, /* exp(s/T) / Σ exp(s/T), temperature T */
  BLEND_NORM_TMM = 4,     /* theoretical min-max: (s − lower) / (upper − lower),
                             the scorer's bounds (BM25: 0 .. the query's bound
                             from its terms' maximum impacts; cosine −1 .. 1) */
  BLEND_NORM_DBSF = 5,    /* (s − (μ−3σ)) / 6σ clipped to [0, 1] (Qdrant DBSF) */
  BLEND_NORM_RANK = 6,    /* 1 / rank */
  BLEND_NORM_BORDA = 7    /* (C − rank + 1) / C, C = candidates of the query */
};

enum blend_fusion {
  BLEND_FUSION_CC = 0,      /* convex combination Σ w_i·norm_i (α: w = α, 1−α) */
  BLEND_FUSION_RRF = 1,     /* Σ w_i / (k + rank_i) (ignores the normaliser) */
  BLEND_FUSION_COMBSUM = 2, /* Σ w_i·norm_i, weights default 1 */
  BLEND_FUSION_COMBMNZ = 3, /* CombSUM × number of legs that retrieved it */
  BLEND_FUSION_COMBMAX = 4  /* max_i w_i·norm_i */
};

/* Name ↔ value: "none" "minmax" "zscore" "softmax" "tmm" "dbsf" "rank"
** "borda"; "cc" "rrf" "combsum" "combmnz" "combmax". Parsing fails with
** BLEND_EINVAL listing the valid names. */
int blend_norm_parse(const char *name, int *out, blend_error *err);
int blend_fusion_parse(const char *name, int *out, blend_error *err);
const char *blend_norm_name(int norm);
const char *blend_fusion_name(int fusion);

typedef struct blend_fusion_options {
  int norm;              /* enum blend_norm (default minmax) */
  int fusion;            /* enum blend_fusion (default cc) */
  double alpha;          /* two legs: weights α, 1−α (lexical leg first, as
                            Bruch et al.); < 0 (default −1): not set */
  double weights[BLEND_MAX_LEGS]; /* one per leg when nweights > 0 (≥ 0, finite) */
  uint32_t nweights;     /* 0: cc 1/N each, the others 1 each */
  double rrf_k;          /* RRF's k (> 0, default 60) */
  double temperature;    /* softmax T (> 0, default 1) */
  int complete_scores;   /* 1: a candidate missing from a leg gets that leg's
                            exact score (its BM25, its cosine) before
                            normalising; 0 (default): it counts 0 after
                            normalisation, as ranx and Elasticsearch do */
  int has_threshold;     /* 1: drop fused scores below threshold */
  double threshold;
} blend_fusion_options;

void blend_fusion_options_default(blend_fusion_options *o);
/* Check o for nlegs legs: α in [0, 1] and only with 2 legs, nweights 0 or
** nlegs, weights finite and ≥ 0 (not all 0), rrf_k > 0, T > 0. BLEND_EINVAL
** names the option. */
int blend_fusion_options_check(const blend_fusion_options *o, uint32_t nlegs, blend_error *err);
/* The weight each leg gets under o (after α and the defaults). */
void blend_fusion_weights(const blend_fusion_options *o, uint32_t nlegs, double *w);

/* One leg's part of a fused candidate (explain). */
typedef struct blend_leg_score {
  double raw;            /* the leg's score; NaN when it has none */
  uint32_t rank;         /* 1-based within the leg; 0: no score */
  int retrieved;         /* 1: in the leg's own top `depth` */
  int completed;         /* 1: raw computed by score completion */
  double norm;           /* normalised score (0 when missing) */
  double weight;
  double contribution;   /* this leg's term of the fused score */
} blend_leg_score;

/* Fuse TREC runs (one leg each, the first run is the "lexical" leg for α):
** each run contributes its top `depth` documents per query (0: all), ranked
** as trec_eval ranks (score desc, ties by docid desc). The fused run holds
** every candidate of every query (cut to k per query when k > 0).
** complete_scores is not possible for external runs (BLEND_EINVAL). Runs
** whose query sets are disjoint are an error. */
int blend_fuse_runs(const blend_run *const *runs, uint32_t nruns, const blend_fusion_options *o,
                    uint32_t depth, uint32_t k, blend_run **out, blend_error *err);

/* ---- exact scores for score completion and theoretical bounds */

/* BM25 scores of given documents for a query, exactly as blend_search
** would score them (the same scorers, restricted to these documents):
** scores[i] for docs[i], 0 for a document the query does not match (or a
** deleted one). opts as for blend_search (k and filter are ignored). */
int blend_search_score_docs(blend_searcher *s, const char *query,
                            const blend_search_options *opts, const uint32_t *docs,
                            uint32_t n, float *scores, blend_error *err);

/* An upper bound on any document's BM25 score for the query (tmm's upper
** bound): the sum over its clauses × fields of each term's largest
** possible impact, bm25(weight, max tf, shortest norm) over segments
** (phrases: their weight). 0 for a query without terms. */
int blend_search_upper_bound(blend_searcher *s, const char *query,
                             const blend_search_options *opts, double *upper,
                             blend_error *err);

/* ---- the hybrid query over an index */

enum blend_leg_kind {
  BLEND_LEG_BM25 = 0,       /* BM25 over the flat 'contents' field */
  BLEND_LEG_BM25_MULTI = 1, /* BM25 summed over the source fields, weighted */
  BLEND_LEG_DENSE = 2,      /* nearest vectors of the index's vector field */
  BLEND_LEG_RUN = 3         /* an external run's results for one query */
};
/* "bm25" "bm25-multi" "dense" "run". */
int blend_leg_parse(const char *name, int *out, blend_error *err);
const char *blend_leg_name(int kind);

#define BLEND_DEFAULT_DEPTH 100

typedef struct blend_leg {
  int kind;                 /* enum blend_leg_kind */
  uint32_t depth;           /* candidates this leg retrieves (0: 100) */
  /* BM25 legs: k1, b, field weights (k and field_mode are set by the leg) */
  blend_search_options bm25;
  /* dense: the query vector (NULL: the query text encoded with the model
     given to the hybrid query, with the index's query prefix) */
  const float *vector;
  uint32_t dim;
  uint32_t ef;              /* HNSW ef (0: max(depth, 64)) */
  int exact;                /* 1: exact scan */
  /* run: its results for query id run_query */
  const blend_run *run;
  const char *run_query;
} blend_leg;

/* Defaults for a leg of this kind (depth 100, BM25 defaults). */
void blend_leg_default(blend_leg *l, int kind);

typedef struct blend_hybrid_query {
  const char *text;         /* the query (lexical syntax; dense: encoded) */
  blend_leg legs[BLEND_MAX_LEGS];
  uint32_t nlegs;
  blend_fusion_options fusion;
  uint32_t k;               /* hits returned (default 10) */
  uint32_t offset;          /* hits skipped first (paging; stable) */
  const blend_filter *filter; /* every index leg retrieves only documents
                               passing it (NULL: all) */
  blend_model *query_model; /* bi-encoder for a dense leg without vector */
  /* rerank: the top rerank_depth fused hits are rescored by this
     cross-encoder over (text, stored field) and ordered by that score;
     then offset/k apply */
  blend_model *rerank_model;
  uint32_t rerank_depth;    /* default 20 */
  const char *rerank_field; /* stored field (NULL: "text") */
} blend_hybrid_query;

/* Defaults: no legs, fusion defaults, k 10, rerank depth 20. */
void blend_hybrid_query_default(blend_hybrid_query *q);

/* The index's hybrid default, for a query given no legs: the setting
** stored by `blend tune` (DIR/hybrid.json: legs, depth, fusion), else BM25
** flat + dense, or BM25 flat + BM25 multifield when the index has no
** vector field (equal weights, min-max, cc). Overwrites q's legs and
** fusion options; *stored (may be NULL) = 1 when the stored setting was
** used. A corrupt hybrid.json is an error naming it. */
int blend_hybrid_query_defaults(const blend_index *ix, blend_hybrid_query *q, int *stored,
                                blend_error *err);

typedef struct blend_hybrid_hit {
  uint32_t doc;             /* internal document number (UINT32_MAX: a run's
                               document that the index does not hold) */
  const char *id;           /* external id, NUL-terminated */
  double score;             /* the order key: rerank score if reranked, else fused */
  double fused;             /* fused score */
  uint32_t fused_rank;      /* 1-based rank by fused score */
  double rerank;            /* cross-encoder logit; NaN when not reranked */
  const blend_leg_score *legs; /* [nlegs], in the query's leg order */
} blend_hybrid_hit;

typedef struct blend_hybrid_results {
  uint32_t count;           /* hits after offset/k */
  const blend_hybrid_hit *hits;
  uint32_t nlegs;
  uint32_t candidates;      /* distinct candidates over all legs */
  uint32_t total;           /* fused hits (after threshold) before offset/k */
  uint32_t reranked;        /* hits of the order that the cross-encoder scored:
                               the first `reranked` positions are ordered by
                               rerank score, the rest by fused score */
  uint32_t leg_hits[BLEND_MAX_LEGS]; /* candidates each leg retrieved */
  double leg_upper[BLEND_MAX_LEGS];  /* tmm upper bound used per leg */
  double seconds_legs, seconds_fuse, seconds_rerank;
} blend_hybrid_results;

/* Per-thread hybrid state over a shared index: its own searcher and
** scratch, reused across queries. */
typedef struct blend_hybrid blend_hybrid;
int blend_hybrid_new(blend_index *ix, blend_hybrid **out, blend_error *err);
void blend_hybrid_free(blend_hybrid *h);
/* The searcher the hybrid runs on (stored fields, snippets of its hits). */
blend_searcher *blend_hybrid_searcher(blend_hybrid *h);

/* Run the hybrid query. Results (and their strings) stay valid until the
** next call on h. Errors: bad fusion options (as blend_fusion_options_check),
** no legs, a dense leg on an index without vectors, a bad query. */
int blend_hybrid_search(blend_hybrid *h, const blend_hybrid_query *q, blend_hybrid_results *out,
                        blend_error *err);

/* The index's stored hybrid setting (DIR/hybrid.json, written by
** `blend tune --index`): legs (kinds, depth, multifield weights), fusion
** options. BLEND_ENOTFOUND when the index has none. */
int blend_hybrid_setting_load(const char *dir, blend_hybrid_query *q, blend_error *err);
/* Write it atomically (q's legs, depth and fusion; note is stored as-is,
** e.g. the metric and value tuning reached). */
int blend_hybrid_setting_save(const char *dir, const blend_hybrid_query *q, const char *note,
                              blend_error *err);
/* ==================================================== end fusion / hybrid */

#ifdef __cplusplus
}
#endif
#endif /* BLEND_H */
