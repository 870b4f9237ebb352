/*
** hub.c — blend_model_pull: download an encoder's files from a Hugging
** Face-compatible hub with libcurl, the way huggingface_hub does it:
**
**   1. GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true lists the
**      files ("siblings") with sizes, LFS SHA-256s and git blob ids, and the
**      commit the revision points at ("sha").
**   2. Each wanted file comes from {endpoint}/{repo}/resolve/{commit}/{path}
**      (pinned to that commit so a branch moving mid-pull cannot mix
**      versions); the hub redirects LFS files to a CDN, which we follow.
**
** Crash and network safety: bytes land in DIR/.partial/<path>.part (locked
** with flock against a concurrent pull); a rerun resumes with
** "Range: bytes=N-", appending on 206 and starting over on 200. A file is
** renamed into DIR only after its size and checksum match, and after fsync.
** The library never prints: progress goes to the caller's callback.
*/
#include "hub/hub.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sha256.h"
#include "util/util.h"

/* ------------------------------------------------------------ file choice */

static const char *const wanted[] = {
    "config.json",          "modules.json",      "sentence_bert_config.json",
    "config_sentence_transformers.json",         "1_Pooling/config.json",
    "special_tokens_map.json", "tokenizer_config.json", "vocab.txt",
    "tokenizer.json",       "model.safetensors", NULL};

const char *const *hub_wanted_files(void) { return wanted; }

static int wanted_index(const char *p) {
  for (int i = 0; wanted[i]; i++)
    if (!strcmp(wanted[i], p)) return i;
  return -1;
}

static int is_hex(const char *s, size_t n) {
  if (strlen(s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
          (s[i] >= 'A' && s[i] <= 'F')))
      return 0;
  return 1;
}

static void lower_copy(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = (char)((src[i] >= 'A' && src[i] <= 'F') ? src[i] - 'A' + 'a' : src[i]);
  dst[n] = 0;
}

/* A JSON number that is a byte count: integral, >= 0, exact in a double. */
static int json_size(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return -1;
  double d = v->valuedouble;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) return -1;
  *out = (uint64_t)d;
  return 0;
}

void hub_listing_free(hub_listing *l) {
  if (!l) return;
  free(l->files);
  l->files = NULL;
  l->n = 0;
}

int hub_parse_listing(const char *json, size_t len, const char *what, hub_listing *out,
                      blend_error *err) {
  memset(out, 0, sizeof *out);
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) return blend_seterr(err, BLEND_ECORRUPT, "%s: hub answered with invalid JSON", what);
  int rc = BLEND_OK;
  hub_file found[16];
  int have[16] = {0};
  int has_index = 0, has_bin = 0;
  const cJSON *sib = cJSON_GetObjectItemCaseSensitive(root, "siblings");
  if (!cJSON_IsObject(root) || !cJSON_IsArray(sib)) {
    rc = blend_seterr(err, BLEND_ECORRUPT, "%s: model info has no \"siblings\" array", what);
    goto done;
  }
  const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "sha");
  if (cJSON_IsString(sha) && is_hex(sha->valuestring, 40)) lower_copy(out->commit, sha->valuestring, 40);
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, sib) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "rfilename");
    if (!cJSON_IsObject(e) || !cJSON_IsString(name)) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: siblings[%d] has no \"rfilename\" string", what, i);
      goto done;
    }
    const char *p = name->valuestring;
    if (!strcmp(p, "model.safetensors.index.json")) has_index = 1;
    if (!strcmp(p, "pytorch_model.bin") || !strcmp(p, "pytorch_model.bin.index.json")) has_bin = 1;
    int w = wanted_index(p);
    if (w < 0) {
      i++;
      continue;
    }
    if (have[w]) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: siblings lists \"%s\" twice", what, p);
      goto done;
    }
    hub_file *f = &found[w];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", p);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size");
    if (size && !cJSON_IsNull(size)) {
      if (json_size(size, &f->size)) {
        rc = blend_seterr(err, BLEND_ECORRUPT, "%s: siblings[%d] (%s): \"size\" is not a byte count",
                          what, i, p);
        goto done;
      }
      f->has_size = 1;
    }
    const cJSON *blob = cJSON_GetObjectItemCaseSensitive(e, "blobId");
    if (blob && !cJSON_IsNull(blob)) {
      if (!cJSON_IsString(blob) || !is_hex(blob->valuestring, 40)) {
        rc = blend_seterr(err, BLEND_ECORRUPT, "%s: siblings[%d] (%s): \"blobId\" is not 40 hex digits",
                          what, i, p);
        goto done;
      }
      lower_copy(f->blob_id, blob->valuestring, 40);
    }
    const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(e, "lfs");
    if (lfs && !cJSON_IsNull(lfs)) {
      const cJSON *lsha = cJSON_GetObjectItemCaseSensitive(lfs, "sha256");
      const cJSON *lsize = cJSON_GetObjectItemCaseSensitive(lfs, "size");
      uint64_t ls;
      if (!cJSON_IsObject(lfs) || !cJSON_IsString(lsha) || !is_hex(lsha->valuestring, 64)) {
        rc = blend_seterr(err, BLEND_ECORRUPT,
                          "%s: siblings[%d] (%s): \"lfs.sha256\" is not 64 hex digits", what, i, p);
        goto done;
      }
      lower_copy(f->sha256, lsha->valuestring, 64);
      if (lsize && !cJSON_IsNull(lsize)) {
        if (json_size(lsize, &ls) || (f->has_size && ls != f->size)) {
          rc = blend_seterr(err, BLEND_ECORRUPT,
                            "%s: siblings[%d] (%s): \"lfs.size\" is invalid or disagrees with \"size\"",
                            what, i, p);
          goto done;
        }
        f->size = ls;
        f->has_size = 1;
      }
    }
    have[w] = 1;
    i++;
  }
  int w_st = wanted_index("model.safetensors"), w_cfg = wanted_index("config.json");
  if (!have[w_st]) {
    if (has_index)
      rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s: weights are sharded (model.safetensors.index.json); blend reads a "
                        "single model.safetensors only",
                        what);
    else
      rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s: repository has no model.safetensors%s; blend reads safetensors "
                        "weights only (look for a revision that has them, e.g. a refs/pr/N "
                        "safetensors conversion)",
                        what, has_bin ? " (only pytorch_model.bin)" : "");
    goto done;
  }
  if (!have[w_cfg]) {
    rc = blend_seterr(err, BLEND_EUNSUPPORTED,
                      "%s: repository has no config.json; not a Transformers encoder", what);
    goto done;
  }
  size_t n = 0;
  for (int w = 0; wanted[w]; w++) n += (size_t)have[w];
  out->files = calloc(n, sizeof *out->files);
  if (!out->files) {
    rc = blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", what);
    goto done;
  }
  for (int w = 0; wanted[w]; w++)
    if (have[w]) out->files[out->n++] = found[w];
done:
  cJSON_Delete(root);
  if (rc) hub_listing_free(out);
  return rc;
}

/* ----------------------------------------------------------- small helpers */

static int part_ok(const char *s, size_t n) {
  if (n == 0 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return 0;
    if (i && (c == '.' || c == '-') && s[i - 1] == c) return 0;
  }
  return 1;
}

int hub_check_repo_id(const char *id, blend_error *err) {
  size_t n = id ? strlen(id) : 0;
  const char *slash = id ? strchr(id, '/') : NULL;
  int ok = n > 0 && n <= 96;
  if (ok && slash)
    ok = !strchr(slash + 1, '/') && part_ok(id, (size_t)(slash - id)) &&
         part_ok(slash + 1, strlen(slash + 1));
  else if (ok)
    ok = part_ok(id, n);
  if (!ok)
    return blend_seterr(err, BLEND_EINVAL,
                        "invalid repository id '%s': expected ORG/NAME of letters, digits, "
                        "'_', '.', '-'",
                        id ? id : "");
  return BLEND_OK;
}

char *hub_url_escape(const char *s, int keep_slash) {
  static const char hx[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *o = malloc(3 * n + 1), *q = o;
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      *q++ = (char)c;
    } else {
      *q++ = '%';
      *q++ = hx[c >> 4];
      *q++ = hx[c & 15];
    }
  }
  *q = 0;
  return o;
}

static int parse_u64(const char **p, uint64_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  if (*s < '0' || *s > '9') return -1;
  while (*s >= '0' && *s <= '9') {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
    s++;
  }
  *p = s;
  *out = v;
  return 0;
}

int hub_parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total) {
  while (*v == ' ') v++;
  if (strncasecmp(v, "bytes", 5)) return -1;
  v += 5;
  while (*v == ' ') v++;
  if (parse_u64(&v, start) || *v++ != '-' || parse_u64(&v, end) || *v++ != '/') return -1;
  if (*v == '*') {
    *total = UINT64_MAX;
    v++;
  } else if (parse_u64(&v, total) || *end >= *total) {
    return -1;
  }
  while (*v == ' ' || *v == '\r' || *v == '\n') v++;
  return (*v || *start > *end) ? -1 : 0;
}

/* Keep printable ASCII only: header values and bodies go into messages. */
static void clean_copy(char *dst, size_t cap, const char *src, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < n && j + 1 < cap; i++) {
    unsigned char c = (unsigned char)src[i];
    dst[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
  }
  while (j && dst[j - 1] == ' ') j--;
  dst[j] = 0;
}

/* ------------------------------------------------------------- HTTP layer */

/* Headers of the most recent response (a redirect chain resets them). */
typedef struct http_resp {
  long status;
  char error_code[64];     /* X-Error-Code */
  char error_message[200]; /* X-Error-Message */
  char content_range[96];
} http_resp;

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  http_resp *r = ud;
  size_t n = size * nitems;
  if (n >= 5 && !memcmp(buf, "HTTP/", 5)) {
    memset(r, 0, sizeof *r);
    const char *sp = memchr(buf, ' ', n);
    if (sp) r->status = strtol(sp + 1, NULL, 10);
    return n;
  }
  const char *colon = memchr(buf, ':', n);
  if (!colon) return n;
  size_t klen = (size_t)(colon - buf);
  const char *v = colon + 1, *end = buf + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  size_t vlen = (size_t)(end - v);
#define HDR_IS(name) (klen == sizeof(name) - 1 && !strncasecmp(buf, name, klen))
  if (HDR_IS("x-error-code")) clean_copy(r->error_code, sizeof r->error_code, v, vlen);
  else if (HDR_IS("x-error-message")) clean_copy(r->error_message, sizeof r->error_message, v, vlen);
  else if (HDR_IS("content-range")) clean_copy(r->content_range, sizeof r->content_range, v, vlen);
#undef HDR_IS
  return n;
}

typedef struct pull_ctx {
  CURL *curl;
  blend_pull_options o;
  char endpoint[512];
  char *auth;         /* "Authorization: Bearer ..." or NULL */
  const char *repo;
  const char *rev;    /* as the user gave it, for messages */
  char *ref_escaped;  /* commit (or revision) used in resolve URLs */
  const char *dir;
  blend_pull_result *res;
  char errbuf[CURL_ERROR_SIZE];
  /* stall watchdog of the current request */
  double last_data;     /* when bytes last arrived */
  curl_off_t last_now;  /* bytes received by then */
  int stalled;
} pull_ctx;

/* libcurl's low-speed limit averages over a window of several seconds; this
** gives up exactly stall_timeout seconds after the last byte arrived. */
static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow) {
  pull_ctx *pc = ud;
  double t = now_seconds();
  if (dlnow != pc->last_now) {
    pc->last_now = dlnow;
    pc->last_data = t;
  } else if (t - pc->last_data >= (double)pc->o.stall_timeout) {
    pc->stalled = 1;
    return 1;
  }
  return 0;
}

static void setup_request(pull_ctx *pc, const char *url, struct curl_slist *hdrs, http_resp *r) {
  CURL *c = pc->curl;
  curl_easy_reset(c); /* keeps the connection cache */
  pc->errbuf[0] = 0;
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, pc->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, pc->o.connect_timeout);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, pc->o.stall_timeout);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "blend/" BLEND_VERSION);
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  /* Custom Authorization headers are not sent to another host after a
  ** redirect (libcurl's default), as huggingface_hub drops them for the CDN. */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, pc);
  pc->last_data = now_seconds();
  pc->last_now = 0;
  pc->stalled = 0;
  memset(r, 0, sizeof *r);
}

/* A clear message for a failed HTTP status. file is NULL for the listing. */
static int http_error(pull_ctx *pc, const http_resp *r, const char *url, const char *file,
                      blend_error *err) {
  char extra[240] = "";
  if (r->error_message[0]) snprintf(extra, sizeof extra, " (hub says: %s)", r->error_message);
  const char *code = r->error_code;
  long s = r->status;
  if (!strcmp(code, "RepoNotFound") || (s == 404 && !file && !code[0]))
    return blend_seterr(err, BLEND_ENOTFOUND,
                        "repository '%s' not found on %s (HTTP %ld%s)%s — check the name; a "
                        "private repository needs HF_TOKEN",
                        pc->repo, pc->endpoint, s, pc->auth ? ", token sent" : "", extra);
  if (!strcmp(code, "RevisionNotFound"))
    return blend_seterr(err, BLEND_ENOTFOUND, "revision '%s' not found in '%s' (HTTP %ld)%s",
                        pc->rev, pc->repo, s, extra);
  if (!strcmp(code, "EntryNotFound") || (s == 404 && file))
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: file not found in '%s' at '%s' (HTTP %ld, %s)%s",
                        file, pc->repo, pc->rev, s, url, extra);
  if (s == 401 || s == 403 || !strcmp(code, "GatedRepo"))
    return blend_seterr(err, BLEND_ENETWORK,
                        "access to '%s' denied (HTTP %ld, %s)%s — %s", pc->repo, s, url, extra,
                        pc->auth ? "the token (HF_TOKEN) was rejected or lacks access to this "
                                   "repository; gated models need their terms accepted on the hub"
                                 : "the repository is private or gated: set HF_TOKEN to an access "
                                   "token");
  if (s >= 500)
    return blend_seterr(err, BLEND_ENETWORK, "hub server error HTTP %ld for %s%s — try again later",
                        s, url, extra);
  return blend_seterr(err, BLEND_ENETWORK, "unexpected HTTP %ld for %s%s", s, url, extra);
}

/* libcurl's reason, with a hint for the timeouts we set. */
static const char *curl_reason(pull_ctx *pc, CURLcode rc, char *buf, size_t cap) {
  const char *why = pc->errbuf[0] ? pc->errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_ABORTED_BY_CALLBACK && pc->stalled)
    snprintf(buf, cap, "stalled: no data for %lds (the stall timeout)", pc->o.stall_timeout);
  else if (rc == CURLE_OPERATION_TIMEDOUT)
    snprintf(buf, cap, "%s (stalled or too slow: under 1 KB/s for %lds, or no connection "
             "within %lds)", why, pc->o.stall_timeout, pc->o.connect_timeout);
  else
    snprintf(buf, cap, "%s", why);
  return buf;
}

static int curl_error(pull_ctx *pc, CURLcode rc, const char *url, const char *what,
                      blend_error *err) {
  char why[300];
  return blend_seterr(err, BLEND_ENETWORK, "%s: network error for %s: %s", what, url,
                      curl_reason(pc, rc, why, sizeof why));
}

/* ------------------------------------------------------------ the listing */

typedef struct mem_sink {
  bbuf b;
  http_resp *r;
} mem_sink;

static size_t on_mem(char *p, size_t size, size_t nmemb, void *ud) {
  mem_sink *m = ud;
  size_t n = size * nmemb;
  if (m->b.len + n > ((size_t)64 << 20)) return 0; /* a listing is never this big */
  return bbuf_append(&m->b, p, n) ? 0 : n;
}

static int fetch_listing(pull_ctx *pc, hub_listing *out, blend_error *err) {
  int rc;
  char what[400];
  snprintf(what, sizeof what, "%s@%s", pc->repo, pc->rev);
  char *rev = hub_url_escape(pc->rev, 0);
  bbuf url = {0};
  if (!rev || bbuf_printf(&url, "%s/api/models/%s/revision/%s?blobs=true", pc->endpoint, pc->repo,
                          rev) || bbuf_putc(&url, 0)) {
    free(rev);
    bbuf_free(&url);
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }
  free(rev);
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Accept: application/json");
  if (pc->auth) h = curl_slist_append(h, pc->auth);
  http_resp r;
  mem_sink m = {{0}, &r};
  setup_request(pc, (char *)url.data, h, &r);
  curl_easy_setopt(pc->curl, CURLOPT_WRITEFUNCTION, on_mem);
  curl_easy_setopt(pc->curl, CURLOPT_WRITEDATA, &m);
  CURLcode cr = curl_easy_perform(pc->curl);
  curl_slist_free_all(h);
  if (cr != CURLE_OK)
    rc = curl_error(pc, cr, (char *)url.data, "listing repository files", err);
  else if (r.status != 200)
    rc = http_error(pc, &r, (char *)url.data, NULL, err);
  else
    rc = hub_parse_listing((const char *)m.b.data, m.b.len, what, out, err);
  bbuf_free(&m.b);
  bbuf_free(&url);
  return rc;
}

/* ------------------------------------------------------------- downloading */

typedef struct dl_state {
  pull_ctx *pc;
  const hub_file *f;
  http_resp *r;
  int fd;
  uint64_t off;          /* bytes in the .part file */
  uint64_t asked_from;   /* Range start sent (0: no Range) */
  int started;           /* first body byte of a 2xx answer seen */
  uint32_t index, count;
  char why[320];         /* set when the write callback aborts */
  int why_code;          /* its status: BLEND_EIO (local) or BLEND_ENETWORK */
  int cancelled;
} dl_state;

static int emit(dl_state *d, int kind) {
  if (!d->pc->o.progress) return 0;
  blend_pull_event ev = {kind, d->f->path, d->off, d->f->has_size ? d->f->size : 0, d->index,
                         d->count};
  return d->pc->o.progress(d->pc->o.progress_ctx, &ev);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  dl_state *d = ud;
  size_t n = size * nmemb;
  long s = d->r->status;
  if (s != 200 && s != 206) return n; /* error or redirect body: not file content */
  if (!d->started) {
    d->started = 1;
    if (s == 200 && d->off > 0) { /* the server ignored Range: start over */
      if (ftruncate(d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) {
        snprintf(d->why, sizeof d->why, "%s: truncate: %s", d->f->path, strerror(errno));
        d->why_code = BLEND_EIO;
        return 0;
      }
      d->off = 0;
    } else if (s == 206) {
      uint64_t a, b, t;
      if (!d->asked_from || hub_parse_content_range(d->r->content_range, &a, &b, &t) ||
          a != d->asked_from || (d->f->has_size && t != UINT64_MAX && t != d->f->size)) {
        snprintf(d->why, sizeof d->why,
                 "%s: server answered 'Range: bytes=%" PRIu64 "-' with Content-Range '%s'",
                 d->f->path, d->asked_from, d->r->content_range);
        return 0;
      }
    }
  }
  if (d->f->has_size && d->off + n > d->f->size) {
    snprintf(d->why, sizeof d->why, "%s: server sent more than the expected %" PRIu64 " bytes",
             d->f->path, d->f->size);
    return 0;
  }
  for (size_t done = 0; done < n;) {
    ssize_t w = write(d->fd, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      snprintf(d->why, sizeof d->why, "%s: write: %s", d->f->path, strerror(errno));
      d->why_code = BLEND_EIO;
      return 0;
    }
    done += (size_t)w;
  }
  d->off += n;
  d->pc->res->bytes_downloaded += n;
  if (emit(d, BLEND_PULL_DATA)) {
    d->cancelled = 1;
    return 0;
  }
  return n;
}

/* mkdir -p: every missing directory along path (an existing one is fine,
** even where we could not create it). */
static int mkdir_p(const char *path, blend_error *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return blend_seterr(err, BLEND_EINVAL, "%s: path too long", path);
  size_t n = strlen(tmp);
  for (size_t i = 1; i <= n; i++) {
    if (tmp[i] != '/' && tmp[i] != 0) continue;
    char c = tmp[i];
    tmp[i] = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
      int e = errno;
      struct stat st;
      if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return blend_seterr(err, BLEND_EIO, "%s: mkdir: %s", tmp, strerror(e));
    }
    tmp[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return blend_seterr(err, BLEND_EIO, "%s: not a directory", path);
  return BLEND_OK;
}

/* mkdir -p of the directory holding file. */
static int mkdir_parent(const char *file, blend_error *err) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", file);
  char *slash = strrchr(tmp, '/');
  if (!slash) return BLEND_OK;
  *slash = 0;
  return mkdir_p(tmp, err);
}

/* Check a complete file against the hub's checksum: the LFS SHA-256 when
** there is one, else the git blob id. *ok = 1 on a match; got = its hash. */
static int verify(const char *path, const hub_file *f, int *ok, char *got, blend_error *err) {
  char s256[65], s1[41];
  int rc = file_sha256(path, s256, f->sha256[0] ? NULL : s1, err);
  if (rc) return rc;
  if (f->sha256[0]) {
    *ok = !strcmp(s256, f->sha256);
    strcpy(got, s256);
  } else if (f->blob_id[0]) {
    *ok = !strcmp(s1, f->blob_id);
    strcpy(got, s1);
  } else {
    *ok = 1; /* the hub gave no checksum: size is all we can check */
    got[0] = 0;
  }
  return BLEND_OK;
}

/* Is the final file already there, with the right size and checksum? */
static int already_present(const char *final, const hub_file *f) {
  struct stat st;
  if (stat(final, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  if (!f->has_size || (uint64_t)st.st_size != f->size) return 0;
  int ok = 0;
  char got[65];
  if (verify(final, f, &ok, got, NULL)) return 0;
  return ok;
}

static int download_one(pull_ctx *pc, const hub_file *f, uint32_t index, uint32_t count,
                        blend_error *err) {
  int rc = BLEND_OK, fd = -1;
  char final[4096], part[4096];
  char *epath = NULL;
  bbuf url = {0};
  struct curl_slist *h = NULL;
  snprintf(final, sizeof final, "%s/%s", pc->dir, f->path);
  snprintf(part, sizeof part, "%s/.partial/%s.part", pc->dir, f->path);
  dl_state d = {.pc = pc, .f = f, .index = index, .count = count, .fd = -1};

  if (already_present(final, f)) {
    d.off = f->size;
    pc->res->skipped++;
    return emit(&d, BLEND_PULL_SKIP) ? blend_seterr(err, BLEND_EINVAL, "cancelled") : BLEND_OK;
  }
  if ((rc = mkdir_parent(final, err)) || (rc = mkdir_parent(part, err))) return rc;
  fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return blend_seterr(err, BLEND_EIO, "%s: %s", part, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return blend_seterr(err, BLEND_EIO, "%s: another 'blend model pull' is downloading it now",
                        part);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rc = blend_seterr(err, BLEND_EIO, "%s: %s", part, strerror(errno));
    goto out;
  }
  d.fd = fd;
  d.off = (uint64_t)st.st_size;
  if (f->has_size && d.off > f->size) { /* stale leftovers of another version */
    if (ftruncate(fd, 0) != 0) {
      rc = blend_seterr(err, BLEND_EIO, "%s: truncate: %s", part, strerror(errno));
      goto out;
    }
    d.off = 0;
  }
  epath = hub_url_escape(f->path, 1);
  if (!epath || bbuf_printf(&url, "%s/%s/resolve/%s/%s", pc->endpoint, pc->repo, pc->ref_escaped,
                            epath) || bbuf_putc(&url, 0)) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto out;
  }
  const char *u = (const char *)url.data;
  if (emit(&d, BLEND_PULL_START)) {
    rc = blend_seterr(err, BLEND_EINVAL, "cancelled");
    goto out;
  }
  /* A resumed file that fails its checksum may have been a stale partial
  ** (e.g. of an older version of the file): it is fetched once more whole. */
  int whole_retry_left = d.off > 0;
again:
  /* Two rounds at most: a 416 (the partial no longer fits the file) restarts
  ** once from zero. A partial that is already complete needs no request. */
  for (int round = 0; round < 2 && !(f->has_size && d.off == f->size); round++) {
    if (lseek(fd, (off_t)d.off, SEEK_SET) < 0) {
      rc = blend_seterr(err, BLEND_EIO, "%s: seek: %s", part, strerror(errno));
      goto out;
    }
    curl_slist_free_all(h);
    h = NULL;
    char range[64];
    if (pc->auth) h = curl_slist_append(h, pc->auth);
    if (d.off) {
      snprintf(range, sizeof range, "Range: bytes=%" PRIu64 "-", d.off);
      h = curl_slist_append(h, range);
    }
    http_resp r;
    d.r = &r;
    d.asked_from = d.off;
    d.started = 0;
    setup_request(pc, u, h, &r);
    curl_easy_setopt(pc->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(pc->curl, CURLOPT_WRITEDATA, &d);
    CURLcode cr = curl_easy_perform(pc->curl);
    if (d.cancelled) {
      rc = blend_seterr(err, BLEND_EINVAL, "%s: cancelled; %" PRIu64 " bytes kept in %s", f->path,
                        d.off, part);
      goto out;
    }
    if (d.why[0]) {
      rc = blend_seterr(err, d.why_code ? d.why_code : BLEND_ENETWORK, "%s (%s)", d.why, u);
      goto out;
    }
    if (cr != CURLE_OK) {
      char why[300];
      rc = blend_seterr(err, BLEND_ENETWORK,
                        "%s: network error for %s: %s; %" PRIu64 " of %" PRIu64
                        " bytes kept in %s, run the same command again to resume",
                        f->path, u, curl_reason(pc, cr, why, sizeof why), d.off, f->size, part);
      goto out;
    }
    if (r.status == 416 && d.off > 0 && round == 0) {
      if (ftruncate(fd, 0) != 0) {
        rc = blend_seterr(err, BLEND_EIO, "%s: truncate: %s", part, strerror(errno));
        goto out;
      }
      d.off = 0;
      continue;
    }
    if (r.status != 200 && r.status != 206) {
      rc = http_error(pc, &r, u, f->path, err);
      goto out;
    }
    if (r.status == 200 && !d.started && d.off) { /* empty 200 body: the file is empty */
      if (ftruncate(fd, 0) != 0) {
        rc = blend_seterr(err, BLEND_EIO, "%s: truncate: %s", part, strerror(errno));
        goto out;
      }
      d.off = 0;
    }
    break;
  }
  if (f->has_size && d.off != f->size) {
    rc = blend_seterr(err, BLEND_ENETWORK,
                      "%s: incomplete download from %s: %" PRIu64 " of %" PRIu64
                      " bytes; run the same command again to resume",
                      f->path, u, d.off, f->size);
    goto out;
  }
  int ok = 0;
  char got[65];
  if ((rc = verify(part, f, &ok, got, err))) goto out;
  if (!ok && whole_retry_left) {
    whole_retry_left = 0;
    if (ftruncate(fd, 0) != 0) {
      rc = blend_seterr(err, BLEND_EIO, "%s: truncate: %s", part, strerror(errno));
      goto out;
    }
    d.off = 0;
    if (emit(&d, BLEND_PULL_START)) {
      rc = blend_seterr(err, BLEND_EINVAL, "cancelled");
      goto out;
    }
    goto again;
  }
  if (!ok) {
    unlink(part);
    rc = blend_seterr(err, BLEND_ECORRUPT,
                      "%s: %s mismatch: the hub lists %s, the download has %s (from %s); "
                      "the partial file was deleted",
                      f->path, f->sha256[0] ? "sha256" : "git blob id",
                      f->sha256[0] ? f->sha256 : f->blob_id, got, u);
    goto out;
  }
  if (fsync(fd) != 0) {
    rc = blend_seterr(err, BLEND_EIO, "%s: fsync: %s", part, strerror(errno));
    goto out;
  }
  if (rename(part, final) != 0) {
    rc = blend_seterr(err, BLEND_EIO, "rename %s -> %s: %s", part, final, strerror(errno));
    goto out;
  }
  {
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", final);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    if ((rc = dir_fsync(parent, err))) goto out;
  }
  pc->res->downloaded++;
  if (emit(&d, BLEND_PULL_DONE)) rc = blend_seterr(err, BLEND_EINVAL, "cancelled");
out:
  if (fd >= 0) close(fd);
  curl_slist_free_all(h);
  free(epath);
  bbuf_free(&url);
  return rc;
}

/* ------------------------------------------------------------------ public */

void blend_pull_options_default(blend_pull_options *o) {
  memset(o, 0, sizeof *o);
  o->connect_timeout = 15;
  o->stall_timeout = 30;
}

/* The token as huggingface_hub finds it: HF_TOKEN, else the token file
** ($HF_TOKEN_PATH, $HF_HOME/token, ~/.cache/huggingface/token). */
static char *find_token(void) {
  const char *env = getenv("HF_TOKEN");
  if (env) return *env ? strdup(env) : NULL;
  char path[4096];
  const char *p = getenv("HF_TOKEN_PATH"), *home = getenv("HF_HOME"), *h = getenv("HOME");
  if (p && *p) snprintf(path, sizeof path, "%s", p);
  else if (home && *home) snprintf(path, sizeof path, "%s/token", home);
  else if (h && *h) snprintf(path, sizeof path, "%s/.cache/huggingface/token", h);
  else return NULL;
  char *data;
  size_t len;
  if (file_read_all(path, &data, &len, NULL)) return NULL;
  while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
    data[--len] = 0;
  if (!len) {
    free(data);
    return NULL;
  }
  return data;
}

int blend_model_pull(const char *repo_id, const char *dir, const blend_pull_options *opts,
                     blend_pull_result *out, blend_error *err) {
  blend_pull_result res_local;
  blend_pull_result *res = out ? out : &res_local;
  memset(res, 0, sizeof *res);
  int rc = hub_check_repo_id(repo_id, err);
  if (rc) return rc;
  if (!dir || !*dir) return blend_seterr(err, BLEND_EINVAL, "no destination directory");
  pull_ctx pc;
  memset(&pc, 0, sizeof pc);
  if (opts) pc.o = *opts;
  else blend_pull_options_default(&pc.o);
  if (pc.o.connect_timeout <= 0) pc.o.connect_timeout = 15;
  if (pc.o.stall_timeout <= 0) pc.o.stall_timeout = 30;
  pc.repo = repo_id;
  pc.dir = dir;
  pc.res = res;
  pc.rev = pc.o.revision && *pc.o.revision ? pc.o.revision : "main";
  for (const char *c = pc.rev; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      return blend_seterr(err, BLEND_EINVAL, "invalid revision: control character");
  const char *ep = pc.o.endpoint;
  if (!ep || !*ep) ep = getenv("HF_ENDPOINT");
  if (!ep || !*ep) ep = HUB_DEFAULT_ENDPOINT;
  if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
    return blend_seterr(err, BLEND_EINVAL, "endpoint '%s' is not an http:// or https:// URL", ep);
  if (strlen(ep) >= sizeof pc.endpoint)
    return blend_seterr(err, BLEND_EINVAL, "endpoint URL too long");
  snprintf(pc.endpoint, sizeof pc.endpoint, "%s", ep);
  for (size_t n = strlen(pc.endpoint); n && pc.endpoint[n - 1] == '/'; n--) pc.endpoint[n - 1] = 0;

  char *token = pc.o.token ? (*pc.o.token ? strdup(pc.o.token) : NULL) : find_token();
  if (token) {
    for (char *c = token; *c; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f) {
        free(token);
        return blend_seterr(err, BLEND_EINVAL, "the access token contains a control character");
      }
    size_t n = strlen(token) + 32;
    pc.auth = malloc(n);
    if (pc.auth) snprintf(pc.auth, n, "Authorization: Bearer %s", token);
    free(token);
    if (!pc.auth) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  }

  hub_listing l = {0};
  char partial[4096];
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    free(pc.auth);
    return blend_seterr(err, BLEND_ENETWORK, "libcurl initialisation failed");
  }
  pc.curl = curl_easy_init();
  if (!pc.curl) {
    rc = blend_seterr(err, BLEND_ENOMEM, "libcurl: cannot create a handle");
    goto done;
  }
  if ((rc = fetch_listing(&pc, &l, err))) goto done;
  pc.ref_escaped = hub_url_escape(l.commit[0] ? l.commit : pc.rev, 0);
  if (!pc.ref_escaped) {
    rc = blend_seterr(err, BLEND_ENOMEM, "out of memory");
    goto done;
  }
  res->files = (uint32_t)l.n;
  for (size_t i = 0; i < l.n; i++) res->bytes_total += l.files[i].size;
  snprintf(partial, sizeof partial, "%s/.partial", dir);
  if ((rc = mkdir_p(partial, err))) goto done;
  for (size_t i = 0; i < l.n; i++)
    if ((rc = download_one(&pc, &l.files[i], (uint32_t)i, (uint32_t)l.n, err))) goto done;
  /* Tidy up: remove the now-empty .partial tree (failures are harmless). */
  for (size_t i = 0; i < l.n; i++) {
    char sub[4096 + 128];
    const char *slash = strrchr(l.files[i].path, '/');
    if (!slash) continue;
    snprintf(sub, sizeof sub, "%s/%.*s", partial, (int)(slash - l.files[i].path), l.files[i].path);
    rmdir(sub);
  }
  rmdir(partial);
done:
  hub_listing_free(&l);
  free(pc.ref_escaped);
  free(pc.auth);
  if (pc.curl) curl_easy_cleanup(pc.curl);
  curl_global_cleanup();
  return rc;
}
