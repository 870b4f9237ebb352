/*
** ingest.c — blend_ingest(): streams a JSONL file (or stdin) or a directory
** tree of .txt/.md files into a writer, with line-numbered errors and an
** optional skip-and-count mode for invalid input.
*/
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/ingest.h"

static const char *const default_fields[] = {"title", "text"};

static void note_skip(blend_ingest_stats *st, const char *what) {
  if (st->skipped++ == 0) snprintf(st->first_skip, sizeof st->first_skip, "%s", what);
}

static int ingest_jsonl(blend_writer *w, const char *path, const blend_ingest_options *o,
                        blend_ingest_stats *st, blend_error *err) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f)
    return blend_seterr(err, errno == ENOENT ? BLEND_ENOTFOUND : BLEND_EIO, "%s: %s", path,
                        strerror(errno));
  const char *id_field = o->id_field ? o->id_field : "_id";
  const char *const *fields = o->fields ? o->fields : default_fields;
  size_t nfields = o->fields ? o->nfields : 2;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t lineno = 0;
  int rc = BLEND_OK;
  ingest_doc d;
  blend_error lerr;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    st->bytes += (uint64_t)n;
    blend_clearerr(&lerr);
    rc = ingest_parse_line(line, (size_t)n, id_field, fields, nfields, &d, &lerr);
    if (rc == BLEND_OK && d.doc.id) rc = ingest_parse_meta(&d, o->meta_fields, o->nmeta_fields, &lerr);
    if (rc == BLEND_OK && d.doc.id && o->vector_for) {
      d.doc.vector = o->vector_for(o->vector_ctx, d.doc.id, d.doc.id_len);
      d.doc.vector_dim = d.doc.vector ? o->vector_dim : 0;
    }
    if (rc == BLEND_OK && d.doc.id) {
      int empty = 1;
      for (size_t i = 0; i < d.doc.nfields; i++)
        if (d.doc.fields[i].len) empty = 0;
      rc = blend_writer_add(w, &d.doc, &lerr);
      if (rc == BLEND_OK) {
        st->docs++;
        st->empty += (uint64_t)empty;
      }
    }
    ingest_doc_free(&d);
    if (rc) {
      if (o->skip_invalid && rc == BLEND_EINVAL) {
        char why[BLEND_ERROR_MAX + 64];
        snprintf(why, sizeof why, "%s:%llu: %s", path, (unsigned long long)lineno, lerr.message);
        note_skip(st, why);
        rc = BLEND_OK;
        continue;
      }
      rc = blend_seterr(err, rc, "%s:%llu: %s", path, (unsigned long long)lineno, lerr.message);
      break;
    }
    if (o->progress && st->docs % 100 == 0) o->progress(o->progress_ctx, st->docs, st->bytes);
  }
  if (rc == BLEND_OK && ferror(f)) rc = blend_seterr(err, BLEND_EIO, "%s: read error", path);
  free(line);
  if (f != stdin) fclose(f);
  if (o->progress) o->progress(o->progress_ctx, st->docs, st->bytes);
  return rc;
}

static int has_ext(const char *name, const char *ext) {
  size_t n = strlen(name), e = strlen(ext);
  return n > e && !strcasecmp(name + n - e, ext);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_text_file(blend_writer *w, const char *root, const char *rel,
                         const blend_ingest_options *o, blend_ingest_stats *st, blend_error *err) {
  char path[8192];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  char *data;
  size_t len;
  int rc = file_read_all(path, &data, &len, err);
  if (rc) return rc;
  st->bytes += len;
  size_t bad;
  if (!utf8_valid(data, len, &bad)) {
    free(data);
    if (o->skip_invalid) {
      char why[BLEND_ERROR_MAX];
      snprintf(why, sizeof why, "%s: invalid UTF-8 at byte %zu", path, bad + 1);
      note_skip(st, why);
      return BLEND_OK;
    }
    return blend_seterr(err, BLEND_EINVAL, "%s: invalid UTF-8 at byte %zu", path, bad + 1);
  }
  /* title: first non-empty line, without Markdown heading marks */
  size_t i = 0;
  while (i < len && (data[i] == '\n' || data[i] == '\r' || data[i] == ' ')) i++;
  size_t ts = i;
  while (i < len && data[i] != '\n') i++;
  size_t te = i;
  while (ts < te && (data[ts] == '#' || data[ts] == ' ')) ts++;
  while (te > ts && (data[te - 1] == '\r' || data[te - 1] == ' ')) te--;
  blend_field_value fv[2] = {{"title", data + ts, te - ts}, {"text", data, len}};
  blend_doc doc = {.id = rel, .id_len = strlen(rel), .fields = fv, .nfields = 2};
  rc = blend_writer_add(w, &doc, err);
  if (rc == BLEND_OK) {
    st->docs++;
    st->empty += len == 0;
  }
  free(data);
  if (o->progress && st->docs % 1000 == 0) o->progress(o->progress_ctx, st->docs, st->bytes);
  return rc;
}

static int walk(blend_writer *w, const char *root, const char *rel, const blend_ingest_options *o,
                blend_ingest_stats *st, blend_error *err, int depth) {
  if (depth > 64) return BLEND_OK;
  char dir[8192];
  snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
  DIR *d = opendir(dir);
  if (!d) return blend_seterr(err, BLEND_EIO, "%s: %s", dir, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = BLEND_OK;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **p = realloc(names, cap * sizeof *p);
      if (!p) {
        rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
        break;
      }
      names = p;
    }
    names[n] = strdup(e->d_name);
    if (!names[n]) {
      rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
      break;
    }
    n++;
  }
  closedir(d);
  if (rc == BLEND_OK) qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n && rc == BLEND_OK; i++) {
    char sub[8192], full[8192 + 256];
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]);
    snprintf(full, sizeof full, "%s/%s", root, sub);
    struct stat sb;
    if (lstat(full, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) rc = walk(w, root, sub, o, st, err, depth + 1);
    else if (S_ISREG(sb.st_mode) && (has_ext(names[i], ".txt") || has_ext(names[i], ".md")))
      rc = add_text_file(w, root, sub, o, st, err);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

int blend_ingest(blend_writer *w, const char *path, const blend_ingest_options *opts,
                 blend_ingest_stats *stats, blend_error *err) {
  blend_ingest_options def = {0};
  if (!opts) opts = &def;
  memset(stats, 0, sizeof *stats);
  if (opts->fields && (opts->nfields == 0 || opts->nfields > INGEST_MAX_FIELDS))
    return blend_seterr(err, BLEND_EINVAL, "between 1 and %d text fields", INGEST_MAX_FIELDS);
  struct stat sb;
  if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    int rc = walk(w, path, "", opts, stats, err, 0);
    if (opts->progress) opts->progress(opts->progress_ctx, stats->docs, stats->bytes);
    return rc;
  }
  return ingest_jsonl(w, path, opts, stats, err);
}
