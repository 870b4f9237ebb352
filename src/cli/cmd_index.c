/*
** cmd_index.c — `blend index`: build an index from JSONL, a BEIR corpus or
** a directory of .txt/.md files, and commit it atomically.
*/
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "ingest/vectors.h"
#include "util/util.h"
#include "vector/vector.h"

static const char usage_text[] =
    "usage: blend index --input PATH --index DIR [options]\n"
    "\n"
    "Build a new index generation in DIR (or, with --append, add a segment) from PATH: a JSONL file (BEIR corpus.jsonl\n"
    "by default: _id, title, text), '-' for stdin, or a directory of .txt/.md files.\n"
    "The previous generation stays readable until the new one is committed; if\n"
    "indexing fails or is interrupted, DIR is left as it was.\n"
    "\n"
    "options:\n"
    "  -i, --input PATH       corpus to index (required)\n"
    "  -x, --index DIR        index directory (created if missing; required)\n"
    "      --id-field NAME    JSONL id field (default _id)\n"
    "      --fields A,B,...   JSONL text fields, indexed separately and as one flat\n"
    "                         'contents' field (default title,text)\n"
    "      --stemmer NAME     porter (default), english, french, german, ... or none\n"
    "      --stopwords NAME   english (default, Lucene's list) or none\n"
    "      --no-cjk-bigrams   index CJK characters one by one instead of as bigrams\n"
    "      --no-positions     do not store positions (smaller; no phrase queries)\n"
    "      --flat-only        index only the flat 'contents' field (faster, smaller;\n"
    "                         no field:term queries or --fields multi)\n"
    "      --skip-invalid     skip malformed lines/files and report how many\n"
    "      --append           add to the index instead of rebuilding it: one new\n"
    "                         segment per run; a document whose id exists replaces it\n"
    "      --meta-fields A,B  JSONL fields kept as filter metadata (besides the\n"
    "                         members of a BEIR \"metadata\" object)\n"
    "\n"
    "dense vectors (one vector field per index):\n"
    "      --model DIR        encode documents with this bi-encoder (HF directory)\n"
    "      --int8             encode with int8-quantised linear layers (faster)\n"
    "      --bf16             encode in bf16 (needs AVX-512 BF16; see blend doctor)\n"
    "      --threads N        encoder and HNSW build threads (default: all cores)\n"
    "      --vector-fields A,B  text fields to encode, joined by a space (default: all)\n"
    "      --doc-prefix S     prepended to each document before encoding (e.g. \"passage: \")\n"
    "      --query-prefix S   stored; prepended to queries at search time (\"query: \")\n"
    "      --vectors FILE     the documents' own vectors: JSONL {\"_id\", \"vector\": [...]}\n"
    "                         or raw float32 rows (FILE.f32) with --vector-ids IDS.txt\n"
    "      --vector-ids FILE  ids of the rows of a raw --vectors file, one per line\n"
    "      --metric M         cosine (default), dot or l2\n"
    "      --vector-dtype T   f32 (default) or int8 (scalar-quantised codes searched\n"
    "                         first, best candidates rescored in f32)\n"
    "      --hnsw-m M         HNSW links per node (2M on layer 0; default 16)\n"
    "      --hnsw-ef-construction N  build beam width (default 200)\n"
    "      --hnsw-seed S      graph seed (default 42; same seed, same graph)\n"
    "      --no-hnsw          exact search only (no graph)\n"
    "  -q, --quiet            no summary\n"
    "  -h, --help             this help\n";

typedef struct progress_ctx {
  cli_progress bar;
} progress_ctx;

static void on_progress(void *ctx, uint64_t docs, uint64_t bytes) {
  progress_ctx *p = ctx;
  cli_progress_update(&p->bar, docs, bytes);
}

/* The document encoder's options: --threads, and --int8 (1) / --bf16 (2). */
static blend_model_options encoder_options(int threads, int precision_flag) {
  blend_model_options mo;
  blend_model_options_default(&mo);
  mo.threads = threads;
  mo.precision = precision_flag == 2 ? BLEND_PRECISION_BF16
                 : precision_flag     ? BLEND_PRECISION_INT8
                                      : BLEND_PRECISION_F32;
  return mo;
}

static const float *vector_lookup(void *ctx, const char *id, size_t len) {
  return vector_file_get(ctx, id, len);
}

int cmd_index(int argc, char **argv) {
  static const struct option longopts[] = {
      {"input", required_argument, 0, 'i'},   {"index", required_argument, 0, 'x'},
      {"id-field", required_argument, 0, 1},  {"fields", required_argument, 0, 2},
      {"stemmer", required_argument, 0, 3},   {"stopwords", required_argument, 0, 4},
      {"no-cjk-bigrams", no_argument, 0, 5},  {"no-positions", no_argument, 0, 6},
      {"skip-invalid", no_argument, 0, 7},    {"quiet", no_argument, 0, 'q'},
      {"flat-only", no_argument, 0, 8},
      {"append", no_argument, 0, 9},          {"meta-fields", required_argument, 0, 10},
      {"model", required_argument, 0, 11},    {"int8", no_argument, 0, 12},
      {"threads", required_argument, 0, 13},  {"vector-fields", required_argument, 0, 14},
      {"doc-prefix", required_argument, 0, 15}, {"query-prefix", required_argument, 0, 16},
      {"vectors", required_argument, 0, 17},  {"vector-ids", required_argument, 0, 18},
      {"metric", required_argument, 0, 19},   {"vector-dtype", required_argument, 0, 20},
      {"hnsw-m", required_argument, 0, 21},   {"hnsw-ef-construction", required_argument, 0, 22},
      {"hnsw-seed", required_argument, 0, 23}, {"no-hnsw", no_argument, 0, 24},
      {"bf16", no_argument, 0, 60},
      {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
  const char *input = NULL, *dir = NULL, *id_field = NULL;
  char *fields_arg = NULL;
  int quiet = 0;
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  blend_ingest_options io = {0};
  int append = 0, int8 = 0, threads = 0, metric = BLEND_METRIC_COSINE, dtype = BLEND_VECTOR_F32;
  int hnsw = 1;
  unsigned long hnsw_m = 16, hnsw_efc = 200;
  unsigned long long hnsw_seed = 42;
  const char *meta_arg = NULL, *model_dir = NULL, *vector_fields = NULL, *doc_prefix = "",
             *query_prefix = "", *vectors_path = NULL, *vector_ids = NULL;
  char *end;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "i:x:qh", longopts, NULL)) != -1) {
    switch (c) {
      case 'i': input = optarg; break;
      case 'x': dir = optarg; break;
      case 1: id_field = optarg; break;
      case 2: fields_arg = optarg; break;
      case 3:
        if (strlen(optarg) >= sizeof cfg.analyzer.stemmer) return cli_fail("--stemmer: name too long");
        strcpy(cfg.analyzer.stemmer, optarg);
        break;
      case 4:
        if (strlen(optarg) >= sizeof cfg.analyzer.stopwords) return cli_fail("--stopwords: name too long");
        strcpy(cfg.analyzer.stopwords, optarg);
        break;
      case 5: cfg.analyzer.cjk_bigrams = 0; break;
      case 6: cfg.positions = 0; break;
      case 7: io.skip_invalid = 1; break;
      case 8: cfg.field_views = 0; break;
      case 9: append = 1; break;
      case 10: meta_arg = optarg; break;
      case 11: model_dir = optarg; break;
      case 12: int8 = 1; break;
      case 60: int8 = 2; break; /* --bf16 */
      case 13:
        threads = (int)strtol(optarg, &end, 10);
        if (*end || threads < 1 || threads > 1024) return cli_fail("--threads: not a count: %s", optarg) + 1;
        break;
      case 14: vector_fields = optarg; break;
      case 15: doc_prefix = optarg; break;
      case 16: query_prefix = optarg; break;
      case 17: vectors_path = optarg; break;
      case 18: vector_ids = optarg; break;
      case 19:
        if ((metric = vec_metric_parse(optarg)) < 0) return cli_fail("--metric: use cosine, dot or l2") + 1;
        break;
      case 20:
        if ((dtype = vec_dtype_parse(optarg)) < 0) return cli_fail("--vector-dtype: use f32 or int8") + 1;
        break;
      case 21:
        hnsw_m = strtoul(optarg, &end, 10);
        if (*end || hnsw_m < 2 || hnsw_m > 256) return cli_fail("--hnsw-m: use 2..256") + 1;
        break;
      case 22:
        hnsw_efc = strtoul(optarg, &end, 10);
        if (*end || hnsw_efc < 1 || hnsw_efc > 100000) return cli_fail("--hnsw-ef-construction: use 1..100000") + 1;
        break;
      case 23:
        hnsw_seed = strtoull(optarg, &end, 10);
        if (*end || !*optarg) return cli_fail("--hnsw-seed: not a number: %s", optarg) + 1;
        break;
      case 24: hnsw = 0; break;
      case 'q': quiet = 1; break;
      case 'h': fputs(usage_text, stdout); return 0;
      default: fputs(usage_text, stderr); return 2;
    }
  }
  if (!input || !dir || optind < argc) {
    fputs(usage_text, stderr);
    return 2;
  }
  const char *fields[16];
  size_t nfields = 0;
  char *fcopy = NULL;
  if (fields_arg) {
    fcopy = strdup(fields_arg);
    for (char *tok = strtok(fcopy, ","); tok; tok = strtok(NULL, ",")) {
      if (nfields == 15) {
        free(fcopy);
        return cli_fail("--fields: at most 15 fields");
      }
      if (*tok) fields[nfields++] = tok;
    }
    if (!nfields) {
      free(fcopy);
      return cli_fail("--fields: no field names given");
    }
    io.fields = fields;
    io.nfields = nfields;
  }
  io.id_field = id_field;
  const char *metas[32];
  char *mcopy = NULL;
  if (meta_arg) {
    mcopy = strdup(meta_arg);
    for (char *tok = strtok(mcopy, ","); tok; tok = strtok(NULL, ","))
      if (*tok && io.nmeta_fields < 32) metas[io.nmeta_fields++] = tok;
    io.meta_fields = metas;
  }
  if (model_dir && vectors_path) {
    free(fcopy);
    free(mcopy);
    return cli_fail("--model and --vectors exclude each other: vectors come from one source");
  }
  if (vector_ids && !vectors_path) {
    free(fcopy);
    free(mcopy);
    return cli_fail("--vector-ids needs --vectors FILE.f32");
  }

  blend_error err = {0};
  struct stat st;
  unsigned long long total = 0;
  if (strcmp(input, "-") != 0) {
    if (stat(input, &st) != 0) {
      free(fcopy);
      return cli_fail("%s: no such file or directory", input);
    }
    if (S_ISREG(st.st_mode)) total = (unsigned long long)st.st_size;
  }
  vector_file *vf = NULL;
  blend_model *model = NULL;
  if (vectors_path) {
    if (vector_file_load(vectors_path, vector_ids, 0, &vf, &err)) {
      free(fcopy);
      free(mcopy);
      return cli_fail_err(&err);
    }
    blend_vector_config_default(&cfg.vector, vector_file_dim(vf));
    io.vector_for = vector_lookup;
    io.vector_ctx = vf;
    io.vector_dim = vector_file_dim(vf);
  }
  if (model_dir) {
    blend_model_options mo = encoder_options(threads, int8);
    if (blend_model_open(model_dir, &mo, &model, &err)) {
      free(fcopy);
      free(mcopy);
      return cli_fail_err(&err);
    }
    blend_vector_config_default(&cfg.vector, blend_model_dim(model));
  }
  if (cfg.vector.dim) {
    cfg.vector.metric = metric;
    cfg.vector.dtype = dtype;
    cfg.vector.hnsw = hnsw;
    cfg.vector.hnsw_m = (uint32_t)hnsw_m;
    cfg.vector.hnsw_ef_construction = (uint32_t)hnsw_efc;
    cfg.vector.hnsw_seed = hnsw_seed;
    cfg.vector.threads = threads;
  }
  blend_writer *w;
  if (blend_writer_open_mode(dir, &cfg, append ? BLEND_WRITE_APPEND : BLEND_WRITE_REPLACE, &w, &err)) {
    free(fcopy);
    free(mcopy);
    vector_file_free(vf);
    blend_model_close(model);
    return cli_fail_err(&err);
  }
  /* appending to an index whose vectors a model made: encode the new
     documents with that same model (checked by its SHA-256) */
  blend_vector_config have;
  blend_index *cur = NULL;
  if (append && !model && !vf && blend_index_open(dir, &cur, NULL) == BLEND_OK &&
      blend_index_vector_config(cur, &have, NULL) == BLEND_OK && have.model_sha256[0]) {
    blend_model_options mo = encoder_options(threads, int8);
    int r = blend_index_open_query_model(cur, NULL, &mo, &model, &err);
    blend_index_close(cur);
    cur = NULL;
    if (r) {
      blend_writer_close(w);
      free(fcopy);
      free(mcopy);
      return cli_fail("the index's vectors were made by %s, which cannot be used to encode the new documents: %s",
                      have.model_dir, err.message);
    }
    model_dir = have.model_dir; /* have lives until the end of cmd_index */
    vector_fields = have.text_fields;
    doc_prefix = have.doc_prefix;
    query_prefix = have.query_prefix;
  }
  blend_index_close(cur);
  if (model && blend_writer_set_model(w, model, model_dir, vector_fields, doc_prefix, query_prefix, &err)) {
    blend_writer_close(w);
    free(fcopy);
    free(mcopy);
    blend_model_close(model);
    return cli_fail_err(&err);
  }
  progress_ctx pc;
  cli_progress_start(&pc.bar, "indexing", total);
  io.progress = on_progress;
  io.progress_ctx = &pc;
  double t0 = now_seconds();
  blend_ingest_stats is;
  int rc = blend_ingest(w, input, &io, &is, &err);
  cli_progress_done(&pc.bar, is.docs, is.bytes);
  if (!rc && vf) {
    size_t unused;
    const char *first = vector_file_unused(vf, &unused);
    if (first) rc = blend_seterr(&err, BLEND_EINVAL, "%s: %zu vectors have ids the corpus does not have (first: '%s')",
                                 vectors_path, unused, first);
  }
  if (rc) {
    blend_writer_close(w);
    blend_model_close(model);
    vector_file_free(vf);
    free(mcopy);
    free(fcopy);
    cli_fail_err(&err);
    fprintf(stderr, "blend: nothing was committed; %s is unchanged%s\n", dir,
            io.skip_invalid ? "" : " (use --skip-invalid to index the valid lines)");
    return 1;
  }
  if (is.docs == 0 && is.skipped == 0 && !quiet)
    fprintf(stderr, "blend: warning: %s contains no documents\n", input);
  uint64_t dups = blend_writer_duplicates(w);
  double tc = now_seconds();
  rc = blend_writer_commit(w, &err);
  double commit_secs = now_seconds() - tc;
  blend_writer_close(w);
  blend_model_close(model);
  vector_file_free(vf);
  free(mcopy);
  free(fcopy);
  if (rc) return cli_fail_err(&err);
  double secs = now_seconds() - t0;
  if (quiet) return 0;
  blend_index *ix;
  blend_index_stats xs = {0};
  if (blend_index_open(dir, &ix, &err) == BLEND_OK) {
    blend_index_stats_get(ix, &xs);
    blend_index_close(ix);
  }
  fprintf(stderr, "indexed %llu documents (%.1f MB) in %.2fs: %.0f docs/s, %.1f MB/s\n",
          (unsigned long long)is.docs, (double)is.bytes / 1e6, secs, (double)is.docs / secs,
          (double)is.bytes / 1e6 / secs);
  fprintf(stderr, "index %s: %llu live documents, %llu terms, %.1f MB on disk (%.2f× the input)\n", dir,
          (unsigned long long)xs.docs, (unsigned long long)xs.terms, (double)xs.bytes_on_disk / 1e6,
          is.bytes ? (double)xs.bytes_on_disk / (double)is.bytes : 0.0);
  if (cfg.vector.dim || model_dir)
    fprintf(stderr, "vectors: %s%s; commit (incl. %s) %.2fs\n", model_dir ? "encoded by " : "from ",
            model_dir ? model_dir : vectors_path ? vectors_path : "the index",
            hnsw ? "HNSW build" : "vector store", commit_secs);
  if (dups)
    fprintf(stderr, "%llu %s: the last document with each id was kept\n", (unsigned long long)dups,
            append ? "documents replaced an existing id" : "duplicate ids");
  if (is.empty) fprintf(stderr, "%llu documents have no text\n", (unsigned long long)is.empty);
  if (is.skipped)
    fprintf(stderr, "skipped %llu invalid lines/files; first: %s\n", (unsigned long long)is.skipped,
            is.first_skip);
  return 0;
}
