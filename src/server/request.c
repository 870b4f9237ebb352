/*
** request.c — parsing and checking search requests. JSON bodies go through
** cJSON after util/json_nul marks escaped NULs (dropped from the query
** text, as the analyzers treat them as nothing); query strings are
** percent-decoded here. Both end in one search_req, then one check of
** the limits, so GET and POST cannot drift apart.
*/
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"
#include "server/request.h"
#include "util/json_nul.h"

void req_scratch_free(req_scratch *sc) {
  bbuf_free(&sc->text);
  free(sc->vec);
  memset(sc, 0, sizeof *sc);
}

static void req_default(search_req *r) {
  memset(r, 0, sizeof *r);
  blend_search_options_default(&r->opts);
  r->k = 10;
  r->source = 1;
  strcpy(r->hl_field, "text");
  r->hl_size = 200;
  r->alpha = -1;
  r->rrf_k = -1;
}

long url_decode(const char *src, size_t n, char *dst, int plus_space) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = src[i];
    if (c == '%') {
      if (i + 2 >= n) return -1;
      int h = 0;
      for (int j = 1; j <= 2; j++) {
        char d = src[i + (size_t)j];
        int v = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10
              : d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
        if (v < 0) return -1;
        h = h * 16 + v;
      }
      dst[o++] = (char)h;
      i += 2;
    } else dst[o++] = plus_space && c == '+' ? ' ' : c;
  }
  dst[o] = 0;
  return (long)o;
}

/* ---- typed field readers (the value as text: JSON scalar or query param) */

static int bad(blend_error *err, const char *field, const char *why) {
  return blend_seterr(err, BLEND_EINVAL, "field \"%s\": %s", field, why);
}

/* A whole number in [0, max], from text. */
static int parse_uint(const char *field, const char *s, uint64_t max, uint32_t *out, blend_error *err) {
  if (!*s) return bad(err, field, "empty");
  if (*s == '-') return bad(err, field, "must not be negative");
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return bad(err, field, "not a whole number");
    v = v * 10 + (uint64_t)(*p - '0');
    if (v > max) return blend_seterr(err, BLEND_EINVAL, "field \"%s\": %s exceeds the limit %llu", field,
                                     strlen(s) > 20 ? "value" : s, (unsigned long long)max);
  }
  *out = (uint32_t)v;
  return BLEND_OK;
}

static int parse_double(const char *field, const char *s, double lo, double hi, double *out,
                        blend_error *err) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !isfinite(v)) return bad(err, field, "not a finite number");
  if (v < lo || v > hi)
    return blend_seterr(err, BLEND_EINVAL, "field \"%s\": %g is outside [%g, %g]", field, v, lo, hi);
  *out = v;
  return BLEND_OK;
}

static int parse_bool(const char *field, const char *s, int *out, blend_error *err) {
  if (!strcmp(s, "true") || !strcmp(s, "1")) *out = 1;
  else if (!strcmp(s, "false") || !strcmp(s, "0")) *out = 0;
  else return bad(err, field, "not true or false");
  return BLEND_OK;
}

static char *keep(req_scratch *sc, const char *s, size_t n) {
  /* strings live in sc->text; offsets are stable once parsing ends, so
     store offsets first and fix pointers at the end (see finish) */
  size_t at = sc->text.len;
  if (bbuf_append(&sc->text, s, n) || bbuf_putc(&sc->text, 0)) return NULL;
  return (char *)(uintptr_t)(at + 1); /* an offset + 1, resolved later */
}

static const char *resolve(const req_scratch *sc, const char *p) {
  return p ? (const char *)sc->text.data + ((uintptr_t)p - 1) : NULL;
}

/* Set one scalar option from its text form (shared by JSON and GET). */
static int set_option(search_req *r, req_scratch *sc, const char *name, const char *v, size_t vlen,
                      const server_limits *lim, blend_error *err) {
  uint32_t u;
  double d;
  int rc;
  if (!strcmp(name, "q") || !strcmp(name, "query")) {
    if (vlen > lim->max_query)
      return blend_seterr(err, BLEND_EINVAL, "field \"%s\": query of %zu bytes, limit %zu", name, vlen,
                          lim->max_query);
    char *p = keep(sc, v, vlen);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    r->q = p;
    r->qlen = vlen;
  } else if (!strcmp(name, "k") || !strcmp(name, "size")) {
    if ((rc = parse_uint(name, v, lim->max_k, &r->k, err))) return rc;
  } else if (!strcmp(name, "offset") || !strcmp(name, "from")) {
    if ((rc = parse_uint(name, v, lim->max_offset, &r->offset, err))) return rc;
  } else if (!strcmp(name, "mode")) {
    if (!strcmp(v, "lexical")) r->mode = MODE_LEXICAL;
    else if (!strcmp(v, "dense")) r->mode = MODE_DENSE;
    else if (!strcmp(v, "hybrid")) r->mode = MODE_HYBRID;
    else return bad(err, name, "use lexical, dense or hybrid");
  } else if (!strcmp(name, "fields")) {
    if (!strcmp(v, "flat")) r->opts.field_mode = BLEND_FIELDS_FLAT;
    else if (!strcmp(v, "multi")) r->opts.field_mode = BLEND_FIELDS_MULTI;
    else return bad(err, name, "use flat or multi");
  } else if (!strcmp(name, "algorithm")) {
    if (!strcmp(v, "auto")) r->opts.algorithm = BLEND_TOPK_AUTO;
    else if (!strcmp(v, "maxscore")) r->opts.algorithm = BLEND_TOPK_MAXSCORE;
    else if (!strcmp(v, "bmw")) r->opts.algorithm = BLEND_TOPK_BMW;
    else if (!strcmp(v, "exhaustive")) r->opts.algorithm = BLEND_TOPK_EXHAUSTIVE;
    else return bad(err, name, "use auto, maxscore, bmw or exhaustive");
  } else if (!strcmp(name, "k1")) {
    if ((rc = parse_double(name, v, 0, 100, &d, err))) return rc;
    r->opts.k1 = (float)d;
  } else if (!strcmp(name, "b")) {
    if ((rc = parse_double(name, v, 0, 1, &d, err))) return rc;
    r->opts.b = (float)d;
  } else if (!strcmp(name, "explain")) {
    if ((rc = parse_bool(name, v, &r->explain, err))) return rc;
  } else if (!strcmp(name, "highlight")) {
    if ((rc = parse_bool(name, v, &r->highlight, err))) return rc;
  } else if (!strcmp(name, "highlight_field")) {
    if (vlen == 0 || vlen >= sizeof r->hl_field || memchr(v, 0, vlen)) return bad(err, name, "not a field name");
    memcpy(r->hl_field, v, vlen + 1);
    r->highlight = 1;
  } else if (!strcmp(name, "highlight_size")) {
    if ((rc = parse_uint(name, v, lim->max_highlight, &r->hl_size, err))) return rc;
    r->highlight = 1;
  } else if (!strcmp(name, "source")) {
    if ((rc = parse_bool(name, v, &r->source, err))) return rc;
  } else if (!strcmp(name, "norm")) {
    if ((rc = blend_norm_parse(v, &r->norm, err))) return bad(err, name, err->message);
    r->has_norm = 1;
  } else if (!strcmp(name, "fusion")) {
    if ((rc = blend_fusion_parse(v, &r->fusion, err))) return bad(err, name, err->message);
    r->has_fusion = 1;
  } else if (!strcmp(name, "alpha")) {
    if ((rc = parse_double(name, v, 0, 1, &r->alpha, err))) return rc;
  } else if (!strcmp(name, "rrf_k")) {
    if ((rc = parse_double(name, v, 1e-9, 1e9, &r->rrf_k, err))) return rc;
  } else if (!strcmp(name, "depth")) {
    if ((rc = parse_uint(name, v, 10000, &u, err))) return rc;
    if (u == 0) return bad(err, name, "must be at least 1");
    r->depth = u;
  } else if (!strcmp(name, "ef")) {
    if ((rc = parse_uint(name, v, 10000, &r->ef, err))) return rc;
  } else if (!strcmp(name, "exact")) {
    if ((rc = parse_bool(name, v, &r->exact, err))) return rc;
  } else if (!strcmp(name, "rerank")) {
    if ((rc = parse_bool(name, v, &r->rerank, err))) return rc;
  } else if (!strcmp(name, "rerank_depth")) {
    if ((rc = parse_uint(name, v, lim->max_rerank_depth, &u, err))) return rc;
    if (u == 0) return bad(err, name, "must be at least 1");
    r->rerank_depth = u;
  } else if (!strcmp(name, "rerank_field")) {
    if (vlen == 0 || vlen >= sizeof r->rerank_field || memchr(v, 0, vlen)) return bad(err, name, "not a field name");
    memcpy(r->rerank_field, v, vlen + 1);
  } else if (!strcmp(name, "filter")) {
    if (r->nfilters == REQ_MAX_FILTERS)
      return blend_seterr(err, BLEND_EINVAL, "field \"filter\": more than %d conditions", REQ_MAX_FILTERS);
    if (vlen == 0 || vlen > 1024 || memchr(v, 0, vlen)) return bad(err, name, "empty, too long or holds U+0000");
    char *p = keep(sc, v, vlen);
    if (!p) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    r->filters[r->nfilters++] = p;
  } else {
    size_t n = strlen(name);
    return blend_seterr(err, BLEND_EINVAL, "unknown field \"%.*s\"", (int)(n > 64 ? 64 : n), name);
  }
  return BLEND_OK;
}

/* Cross-field checks and pointer fix-up, shared by both forms. */
static int finish(search_req *r, req_scratch *sc, const server_limits *lim, blend_error *err) {
  r->q = resolve(sc, r->q);
  for (uint32_t i = 0; i < r->nfilters; i++) r->filters[i] = resolve(sc, r->filters[i]);
  if (r->q && memchr(r->q, 0, r->qlen)) {
    /* a NUL in query text is no character: drop it (never cut at it) */
    char *w = (char *)r->q;
    size_t o = 0;
    for (size_t i = 0; i < r->qlen; i++)
      if (r->q[i]) w[o++] = r->q[i];
    w[o] = 0;
    r->qlen = o;
  }
  if ((uint64_t)r->k + r->offset > lim->max_offset + (uint64_t)lim->max_k)
    return blend_seterr(err, BLEND_EINVAL, "k + offset exceeds %u", lim->max_offset + lim->max_k);
  if (r->explain && r->k + r->offset > lim->max_explain_k)
    return blend_seterr(err, BLEND_EINVAL, "explain: k + offset is %u, limit %u with explain",
                        r->k + r->offset, lim->max_explain_k);
  if (r->mode == MODE_LEXICAL && !r->q)
    return blend_seterr(err, BLEND_EINVAL, "field \"q\": required for mode lexical");
  if (r->mode == MODE_DENSE && !r->q && !r->vector)
    return blend_seterr(err, BLEND_EINVAL, "mode dense needs \"q\" (encoded by the index's model) or \"vector\"");
  if (r->mode == MODE_HYBRID && !r->q)
    return blend_seterr(err, BLEND_EINVAL, "field \"q\": required for mode hybrid");
  if ((r->rerank_depth || r->rerank_field[0]) && !r->rerank)
    return blend_seterr(err, BLEND_EINVAL, "field \"%s\": only with \"rerank\": true",
                        r->rerank_depth ? "rerank_depth" : "rerank_field");
  if (r->rerank && !r->q)
    return blend_seterr(err, BLEND_EINVAL,
                        "field \"rerank\": needs \"q\" (the cross-encoder scores the query text against each hit)");
  if (r->alpha >= 0 && r->mode != MODE_HYBRID)
    return blend_seterr(err, BLEND_EINVAL, "field \"alpha\": only with mode hybrid");
  return BLEND_OK;
}

/* ---- JSON */

static int json_weights(search_req *r, const cJSON *o, blend_error *err) {
  if (!cJSON_IsObject(o)) return bad(err, "field_weights", "not an object of field: weight");
  r->opts.nfield_weights = 0;
  for (const cJSON *c = o->child; c; c = c->next) {
    if (r->opts.nfield_weights == BLEND_MAX_FIELD_WEIGHTS)
      return blend_seterr(err, BLEND_EINVAL, "field \"field_weights\": more than %d fields",
                          BLEND_MAX_FIELD_WEIGHTS);
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || c->valuedouble < 0 || c->valuedouble > 1000)
      return blend_seterr(err, BLEND_EINVAL, "field \"field_weights.%.32s\": not a number in [0, 1000]",
                          c->string);
    if (strlen(c->string) >= sizeof r->opts.field_weights[0].name)
      return bad(err, "field_weights", "field name too long");
    strcpy(r->opts.field_weights[r->opts.nfield_weights].name, c->string);
    r->opts.field_weights[r->opts.nfield_weights++].weight = (float)c->valuedouble;
  }
  return BLEND_OK;
}

static int json_vector(search_req *r, req_scratch *sc, const cJSON *a, blend_error *err) {
  if (!cJSON_IsArray(a)) return bad(err, "vector", "not an array of numbers");
  int n = cJSON_GetArraySize(a);
  if (n <= 0 || n > REQ_MAX_DIM)
    return blend_seterr(err, BLEND_EINVAL, "field \"vector\": %d values, need 1..%d", n, REQ_MAX_DIM);
  if (!sc->vec && !(sc->vec = malloc(REQ_MAX_DIM * sizeof *sc->vec)))
    return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  int i = 0;
  for (const cJSON *c = a->child; c; c = c->next, i++) {
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble) || fabs(c->valuedouble) > 3.4e38)
      return blend_seterr(err, BLEND_EINVAL, "field \"vector\": value %d is not a finite float", i);
    sc->vec[i] = (float)c->valuedouble;
  }
  r->vector = sc->vec;
  r->dim = (uint32_t)n;
  return BLEND_OK;
}

/* A JSON scalar as option text. */
static int json_scalar(const cJSON *c, char *buf, size_t cap, const char **s, size_t *n) {
  if (cJSON_IsString(c)) {
    *s = c->valuestring;
    *n = strlen(c->valuestring);
  } else if (cJSON_IsBool(c)) {
    *s = cJSON_IsTrue(c) ? "true" : "false";
    *n = strlen(*s);
  } else if (cJSON_IsNumber(c)) {
    double v = c->valuedouble;
    if (!isfinite(v)) return -1;
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, cap, "%.0f", v);
    else if (fabs(v) >= 1e15) snprintf(buf, cap, "%s99999999999999999999", v < 0 ? "-" : ""); /* past any limit */
    else snprintf(buf, cap, "%.17g", v);
    *s = buf;
    *n = strlen(buf);
  } else return -1;
  return 0;
}

int search_req_json(const char *body, size_t len, const server_limits *lim, req_scratch *sc,
                    search_req *r, blend_error *err) {
  req_default(r);
  sc->text.len = 0;
  size_t badat;
  if (!utf8_valid(body, len, &badat))
    return blend_seterr(err, BLEND_EINVAL, "body: invalid UTF-8 at byte %zu", badat + 1);
  json_nul nul = {0};
  char *copy = NULL;
  if (json_nul_suspect(body, len)) {
    if (!(copy = malloc(len))) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
    memcpy(copy, body, len);
    int rc = json_nul_protect(copy, len, &nul, &badat);
    if (rc) {
      free(copy);
      return blend_seterr(err, BLEND_EINVAL, rc == -1 ? "body: raw NUL byte at byte %zu" : "body: cannot represent U+0000",
                          badat + 1);
    }
  }
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(copy ? copy : body, len, &end, 0);
  size_t at = end ? (size_t)(end - (copy ? copy : body)) : 0;
  free(copy);
  if (!o) return blend_seterr(err, BLEND_EINVAL, "body: malformed JSON near byte %zu", at + 1);
  for (; at < len; at++)
    if (body[at] != ' ' && body[at] != '\n' && body[at] != '\r' && body[at] != '\t') {
      cJSON_Delete(o);
      return blend_seterr(err, BLEND_EINVAL, "body: text after the JSON object at byte %zu", at + 1);
    }
  int rc = BLEND_OK;
  if (!cJSON_IsObject(o)) rc = blend_seterr(err, BLEND_EINVAL, "body: not a JSON object");
  for (const cJSON *c = o->child; c && !rc; c = c->next) {
    const char *name = c->string;
    if (json_nul_has(&nul, name)) {
      rc = blend_seterr(err, BLEND_EINVAL, "body: a field name contains U+0000");
      break;
    }
    for (const cJSON *p = o->child; p != c; p = p->next)
      if (!strcmp(p->string, name)) {
        rc = blend_seterr(err, BLEND_EINVAL, "field \"%.64s\" given twice", name);
        break;
      }
    if (rc) break;
    if (!strcmp(name, "field_weights")) rc = json_weights(r, c, err);
    else if (!strcmp(name, "vector")) rc = json_vector(r, sc, c, err);
    else if (!strcmp(name, "filter") && cJSON_IsArray(c)) {
      for (const cJSON *f = c->child; f && !rc; f = f->next)
        rc = cJSON_IsString(f) ? set_option(r, sc, "filter", f->valuestring, strlen(f->valuestring), lim, err)
                               : bad(err, "filter", "conditions must be strings");
    } else if (!strcmp(name, "highlight") && cJSON_IsObject(c)) {
      r->highlight = 1;
      for (const cJSON *h = c->child; h && !rc; h = h->next) {
        char buf[64];
        const char *s;
        size_t n;
        if (json_scalar(h, buf, sizeof buf, &s, &n)) rc = bad(err, "highlight", "values must be scalars");
        else if (!strcmp(h->string, "field")) rc = set_option(r, sc, "highlight_field", s, n, lim, err);
        else if (!strcmp(h->string, "size")) rc = set_option(r, sc, "highlight_size", s, n, lim, err);
        else rc = blend_seterr(err, BLEND_EINVAL, "unknown field \"highlight.%.64s\"", h->string);
      }
    } else {
      char buf[64];
      const char *s;
      size_t n;
      if (json_scalar(c, buf, sizeof buf, &s, &n)) {
        /* unknown names first: "unknown field" beats "wrong type" */
        blend_error tmp;
        if (set_option(r, sc, name, "", 0, lim, &tmp) && strstr(tmp.message, "unknown field"))
          rc = blend_seterr(err, BLEND_EINVAL, "%s", tmp.message);
        else rc = bad(err, name, "wrong type (a string, number or boolean is expected)");
      } else {
        if (cJSON_IsString(c) && nul.active) n = json_nul_strip(&nul, c->valuestring);
        /* numbers must not be given as strings for numeric fields, and
           vice versa for text: the text form is shared, so check kinds */
        int numeric = !strcmp(name, "k") || !strcmp(name, "size") || !strcmp(name, "offset") ||
                      !strcmp(name, "from") || !strcmp(name, "k1") || !strcmp(name, "b") ||
                      !strcmp(name, "alpha") || !strcmp(name, "rrf_k") || !strcmp(name, "depth") ||
                      !strcmp(name, "ef") || !strcmp(name, "rerank_depth");
        int boolean = !strcmp(name, "explain") || !strcmp(name, "highlight") || !strcmp(name, "source") ||
                      !strcmp(name, "exact") || !strcmp(name, "rerank");
        if (numeric && !cJSON_IsNumber(c)) rc = bad(err, name, "must be a number");
        else if (boolean && !cJSON_IsBool(c)) rc = bad(err, name, "must be true or false");
        else if (!numeric && !boolean && !cJSON_IsString(c) && strcmp(name, "filter"))
          rc = set_option(r, sc, name, "", 0, lim, err) && strstr(err->message, "unknown field")
                   ? BLEND_EINVAL
                   : bad(err, name, "must be a string");
        else rc = set_option(r, sc, name, s, n, lim, err);
      }
    }
  }
  cJSON_Delete(o);
  if (rc) return rc;
  return finish(r, sc, lim, err);
}

/* ---- GET query string: name=value&... */

int search_req_query(const char *qs, size_t len, const server_limits *lim, req_scratch *sc,
                     search_req *r, blend_error *err) {
  req_default(r);
  sc->text.len = 0;
  char name[64];
  char *val = malloc(len + 1);
  if (!val) return blend_seterr(err, BLEND_ENOMEM, "out of memory");
  int rc = BLEND_OK;
  size_t i = 0;
  while (i < len && !rc) {
    size_t j = i;
    while (j < len && qs[j] != '&') j++;
    const char *eq = memchr(qs + i, '=', j - i);
    size_t nlen = eq ? (size_t)(eq - (qs + i)) : j - i;
    if (nlen == 0) {
      i = j + 1;
      continue;
    }
    if (nlen >= sizeof name) {
      rc = blend_seterr(err, BLEND_EINVAL, "unknown field \"%.32s...\"", qs + i);
      break;
    }
    long nn = url_decode(qs + i, nlen, name, 1);
    if (nn < 0 || memchr(name, 0, (size_t)nn)) {
      rc = blend_seterr(err, BLEND_EINVAL, "query string: bad escape in a parameter name");
      break;
    }
    long vn = eq ? url_decode(eq + 1, (size_t)(qs + j - eq - 1), val, 1) : 0;
    if (!eq) val[0] = 0;
    if (vn < 0) {
      rc = blend_seterr(err, BLEND_EINVAL, "field \"%s\": bad %%-escape", name);
      break;
    }
    size_t badat;
    if (!utf8_valid(val, (size_t)vn, &badat)) {
      rc = blend_seterr(err, BLEND_EINVAL, "field \"%s\": invalid UTF-8 at byte %zu", name, badat + 1);
      break;
    }
    if (strcmp(name, "q") && strcmp(name, "query") && memchr(val, 0, (size_t)vn)) {
      rc = blend_seterr(err, BLEND_EINVAL, "field \"%s\": holds U+0000", name);
      break;
    }
    int dup = 0;
    if (strcmp(name, "filter")) {
      /* a repeated parameter is ambiguous (which one wins?): refuse */
      for (size_t p = 0; p < i && !dup;) {
        size_t e = p;
        while (e < len && qs[e] != '&') e++;
        const char *q2 = memchr(qs + p, '=', e - p);
        size_t l2 = q2 ? (size_t)(q2 - (qs + p)) : e - p;
        char n2[64];
        if (l2 && l2 < sizeof n2 && url_decode(qs + p, l2, n2, 1) >= 0 && !strcmp(n2, name)) dup = 1;
        p = e + 1;
      }
    }
    if (dup) rc = blend_seterr(err, BLEND_EINVAL, "field \"%s\" given twice", name);
    else rc = set_option(r, sc, name, val, (size_t)vn, lim, err);
    i = j + 1;
  }
  free(val);
  if (rc) return rc;
  return finish(r, sc, lim, err);
}
