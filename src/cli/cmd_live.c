/*
** cmd_live.c — the live-index commands: `blend delete` (by id, from the
** command line, a file or stdin), `blend get` (a stored document as JSON),
** `blend stats` (documents, deletions, segments, terms, bytes) and `blend
** merge` (force-merge down to N segments).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

static const char delete_usage[] =
    "usage: blend delete --index DIR [--strict] [--ids FILE | -] [ID...]\n"
    "\n"
    "Delete documents by id and commit. Ids come from the arguments, from FILE\n"
    "(one per line) or from stdin ('-'). An id that is not in the index is reported\n"
    "and skipped; with --strict it is an error and nothing is committed.\n";

/* delete and merge need an existing index: a writer would create an empty
** one (and a delete would commit it) in a mistyped directory */
static int need_index(const char *dir) {
  char path[4096 + 16];
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  if (access(path, F_OK) == 0) return 0;
  return cli_fail("%s: not a blend index (no MANIFEST; build one with 'blend index')", dir);
}

/* A writer on the existing index in dir (append mode); 0, or 1 after
** printing why not. */
static int open_writer(const char *dir, blend_writer **w) {
  blend_error err = {0};
  blend_index_config cfg;
  blend_index_config_default(&cfg);
  if (need_index(dir)) return 1;
  if (blend_writer_open_mode(dir, &cfg, BLEND_WRITE_APPEND, w, &err)) return cli_fail_err(&err);
  return 0;
}


static int delete_one(blend_writer *w, const char *id, size_t len, unsigned long long *deleted,
                      unsigned long long *unknown, const char **first_unknown, blend_error *err) {
  int found;
  if (blend_writer_delete(w, id, len, &found, err)) return 1;
  if (found) (*deleted)++;
  else if (!(*unknown)++ && first_unknown) *first_unknown = strndup(id, len);
  return 0;
}

int cmd_delete(int argc, char **argv) {
  const char *dir = NULL, *ids_file = NULL;
  int strict = 0, first_id = argc;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(delete_usage, stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--index") || !strcmp(argv[i], "-x")) && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--ids") && i + 1 < argc) ids_file = argv[++i];
    else if (!strcmp(argv[i], "-")) ids_file = "-";
    else if (!strcmp(argv[i], "--strict")) strict = 1;
    else if (!strcmp(argv[i], "--")) {
      first_id = i + 1;
      break;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "blend: unknown option %s\n", argv[i]);
      fputs(delete_usage, stderr);
      return 2;
    } else {
      first_id = i;
      break;
    }
  }
  if (!dir || (first_id >= argc && !ids_file)) {
    fputs(delete_usage, stderr);
    return 2;
  }
  blend_error err = {0};
  blend_writer *w;
  if (open_writer(dir, &w)) return 1;
  unsigned long long deleted = 0, unknown = 0;
  const char *first_unknown = NULL;
  int rc = 0;
  for (int i = first_id; i < argc && !rc; i++)
    rc = delete_one(w, argv[i], strlen(argv[i]), &deleted, &unknown, &first_unknown, &err);
  if (ids_file && !rc) {
    FILE *f = strcmp(ids_file, "-") ? fopen(ids_file, "r") : stdin;
    if (!f) rc = cli_fail("%s: %s", ids_file, strerror(errno)) + 2; /* printed: exit 1 */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!rc && f && (n = getline(&line, &cap, f)) > 0) {
      while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
      if (n > 0) rc = delete_one(w, line, (size_t)n, &deleted, &unknown, &first_unknown, &err);
    }
    free(line);
    if (f && f != stdin) fclose(f);
  }
  if (rc == 1) rc = cli_fail_err(&err);
  if (!rc && unknown && strict) {
    rc = cli_fail("%llu ids are not in the index (first: '%s'); nothing was deleted (--strict)", unknown,
                  first_unknown ? first_unknown : "");
  }
  if (!rc && blend_writer_commit(w, &err)) rc = cli_fail_err(&err);
  blend_writer_close(w);
  if (!rc) {
    fprintf(stderr, "deleted %llu documents", deleted);
    if (unknown) fprintf(stderr, "; %llu ids not found (first: '%s')", unknown, first_unknown ? first_unknown : "");
    fputc('\n', stderr);
  }
  free((char *)first_unknown);
  return rc ? (rc == 2 ? 2 : 1) : 0;
}

static const char get_usage[] =
    "usage: blend get --index DIR ID...\n"
    "\n"
    "Print each stored document as one JSON line: {\"_id\", <field>: <text>, ...}.\n"
    "Exit status 1 when an id is not in the index (the others are still printed).\n";

int cmd_get(int argc, char **argv) {
  const char *dir = NULL;
  int first = argc;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(get_usage, stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--index") || !strcmp(argv[i], "-x")) && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--")) {
      first = i + 1;
      break;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "blend: unknown option %s\n", argv[i]);
      return 2;
    } else {
      first = i;
      break;
    }
  }
  if (!dir || first >= argc) {
    fputs(get_usage, stderr);
    return 2;
  }
  blend_error err = {0};
  blend_index *ix;
  blend_searcher *s;
  if (blend_index_open(dir, &ix, &err)) return cli_fail_err(&err);
  if (blend_searcher_new(ix, &s, &err)) {
    blend_index_close(ix);
    return cli_fail_err(&err);
  }
  int rc = 0;
  for (int i = first; i < argc; i++) {
    uint32_t doc;
    if (blend_searcher_find(s, argv[i], strlen(argv[i]), &doc, &err)) {
      rc = cli_fail_err(&err);
      continue;
    }
    fputs("{\"_id\":", stdout);
    cli_json_string(stdout, argv[i], strlen(argv[i]));
    /* field 0 is the flat view; blend_index_stats_get would walk the whole
       term dictionary just to count fields */
    const char *name;
    for (uint32_t f = 1; (name = blend_index_field_name(ix, f)); f++) {
      const char *text;
      size_t len;
      if (blend_searcher_doc_field(s, doc, name, &text, &len, NULL)) continue;
      fputc(',', stdout);
      cli_json_string(stdout, name, strlen(name));
      fputc(':', stdout);
      cli_json_string(stdout, text, len);
    }
    fputs("}\n", stdout);
  }
  blend_searcher_free(s);
  blend_index_close(ix);
  return rc;
}

static const char stats_usage[] =
    "usage: blend stats --index DIR [--json]\n"
    "\n"
    "Live and deleted documents, segments, generation, terms, postings, fields,\n"
    "metadata fields, the vector field and bytes on disk.\n";

int cmd_stats(int argc, char **argv) {
  const char *dir = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(stats_usage, stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--index") || !strcmp(argv[i], "-x")) && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--json")) json = 1;
    else {
      fputs(stats_usage, stderr);
      return 2;
    }
  }
  if (!dir) {
    fputs(stats_usage, stderr);
    return 2;
  }
  blend_error err = {0};
  blend_index *ix;
  if (blend_index_open(dir, &ix, &err)) return cli_fail_err(&err);
  blend_index_stats st;
  blend_index_stats_get(ix, &st);
  blend_vector_config vc;
  int has_vec = blend_index_vector_config(ix, &vc, NULL) == BLEND_OK;
  if (json) {
    printf("{\"docs\":%llu,\"deleted\":%llu,\"segments\":%u,\"generation\":%llu,\"terms\":%llu,"
           "\"postings\":%llu,\"bytes\":%llu,\"fields\":[",
           (unsigned long long)st.docs, (unsigned long long)st.deleted, st.segments,
           (unsigned long long)st.generation, (unsigned long long)st.terms, (unsigned long long)st.postings,
           (unsigned long long)st.bytes_on_disk);
    for (uint32_t f = 0; f < st.fields; f++) {
      const char *n = blend_index_field_name(ix, f);
      if (f) fputc(',', stdout);
      cli_json_string(stdout, n, strlen(n));
    }
    printf("],\"meta\":[");
    for (uint32_t m = 0; m < blend_index_meta_fields(ix); m++) {
      const char *n = blend_index_meta_field(ix, m);
      if (m) fputc(',', stdout);
      cli_json_string(stdout, n, strlen(n));
    }
    printf("],\"vector\":");
    if (has_vec) {
      printf("{\"dim\":%u,\"metric\":\"%s\",\"dtype\":\"%s\",\"hnsw\":%s,\"M\":%u,\"ef_construction\":%u,\"model\":",
             vc.dim, vc.metric == BLEND_METRIC_DOT ? "dot" : vc.metric == BLEND_METRIC_L2 ? "l2" : "cosine",
             vc.dtype == BLEND_VECTOR_INT8 ? "int8" : "f32", vc.hnsw ? "true" : "false", vc.hnsw_m,
             vc.hnsw_ef_construction);
      cli_json_string(stdout, vc.model_name, strlen(vc.model_name));
      printf(",\"model_sha256\":");
      cli_json_string(stdout, vc.model_sha256, strlen(vc.model_sha256));
      printf("}");
    } else {
      printf("null");
    }
    printf("}\n");
  } else {
    printf("index        %s (generation %llu)\n", dir, (unsigned long long)st.generation);
    printf("documents    %llu live, %llu deleted (not yet merged away)\n", (unsigned long long)st.docs,
           (unsigned long long)st.deleted);
    printf("segments     %u\n", st.segments);
    printf("terms        %llu (%llu postings)\n", (unsigned long long)st.terms, (unsigned long long)st.postings);
    printf("bytes        %llu (%.1f MB)\n", (unsigned long long)st.bytes_on_disk, (double)st.bytes_on_disk / 1e6);
    printf("fields      ");
    for (uint32_t f = 0; f < st.fields; f++) printf(" %s", blend_index_field_name(ix, f));
    printf("\nmetadata    ");
    for (uint32_t m = 0; m < blend_index_meta_fields(ix); m++) printf(" %s", blend_index_meta_field(ix, m));
    if (has_vec)
      printf("\nvectors      %u-d %s, %s%s, model %s\n", vc.dim,
             vc.metric == BLEND_METRIC_DOT ? "dot" : vc.metric == BLEND_METRIC_L2 ? "l2" : "cosine",
             vc.dtype == BLEND_VECTOR_INT8 ? "int8" : "f32", vc.hnsw ? " + HNSW" : " (exact only)",
             vc.model_name[0] ? vc.model_name : "(user vectors)");
    else printf("\nvectors      none\n");
  }
  blend_index_close(ix);
  return 0;
}

static const char merge_usage[] =
    "usage: blend merge --index DIR [--max-segments N]\n"
    "\n"
    "Merge segments until at most N remain (default 1), dropping deleted documents.\n"
    "Crash-safe like a commit: until the new generation is committed, the old\n"
    "segments are the index. After --max-segments 1 scores equal those of a fresh\n"
    "index of the live documents.\n";

int cmd_merge(int argc, char **argv) {
  const char *dir = NULL;
  unsigned long max = 1;
  for (int i = 1; i < argc; i++) {
    char *end;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(merge_usage, stdout);
      return 0;
    } else if ((!strcmp(argv[i], "--index") || !strcmp(argv[i], "-x")) && i + 1 < argc) dir = argv[++i];
    else if (!strcmp(argv[i], "--max-segments") && i + 1 < argc) {
      max = strtoul(argv[++i], &end, 10);
      if (*end || max < 1 || max > 100000) return cli_fail("--max-segments: expected 1..100000") + 1;
    } else {
      fputs(merge_usage, stderr);
      return 2;
    }
  }
  if (!dir) {
    fputs(merge_usage, stderr);
    return 2;
  }
  blend_error err = {0};
  blend_writer *w;
  if (open_writer(dir, &w)) return 1;
  double t0 = now_seconds();
  int rc = blend_writer_force_merge(w, (uint32_t)max, &err);
  blend_writer_close(w);
  if (rc) return cli_fail_err(&err);
  fprintf(stderr, "merged in %.2fs\n", now_seconds() - t0);
  return 0;
}
