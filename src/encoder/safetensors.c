/*
** safetensors.c — mapping and validating .safetensors files (see
** safetensors.h). All checks happen at open time; afterwards every
** st_tensor's [data, data+nbytes) is known to lie inside the mapping.
*/
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/safetensors.h"
#include "util/util.h"

struct st_file {
  mapped_file map;     /* empty for st_parse images */
  char *label;
  st_tensor *t;        /* sorted by name */
  size_t n;
  char *names;         /* arena of NUL-terminated names */
};

static const struct {
  const char *name;
  size_t size;
} dtypes[] = {
    [ST_F32] = {"F32", 4},   [ST_F16] = {"F16", 2},         [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},         [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},   [ST_I8] = {"I8", 1},           [ST_U64] = {"U64", 8},
    [ST_U32] = {"U32", 4},   [ST_U16] = {"U16", 2},         [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *st_dtype_name(int dtype) {
  if (dtype < 0 || dtype >= (int)(sizeof dtypes / sizeof *dtypes)) return "?";
  return dtypes[dtype].name;
}

size_t st_dtype_size(int dtype) {
  if (dtype < 0 || dtype >= (int)(sizeof dtypes / sizeof *dtypes)) return 0;
  return dtypes[dtype].size;
}

float st_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);       /* inf / nan */
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13); /* normal: rebias 15 → 127 */
  } else if (man == 0) {
    bits = sign;                                      /* ±0 */
  } else {                                            /* subnormal: normalise */
    int e = -1;
    do {
      man <<= 1;
      e++;
    } while (!(man & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

float st_bf16_to_f32(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* A JSON number that is a non-negative integer representable exactly. */
static int json_u64(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return -1;
  double d = v->valuedouble;
  if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d) return -1;
  *out = (uint64_t)d;
  return 0;
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

typedef struct span {
  uint64_t begin, end;
  size_t idx;
} span;

static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static int parse_entry(const char *label, const cJSON *e, const uint8_t *data,
                       uint64_t data_len, st_tensor *t, span *sp, blend_error *err) {
  const char *name = e->string;
  if (!cJSON_IsObject(e))
    return blend_seterr(err, BLEND_ECORRUPT, "%s: tensor '%s': entry is not a JSON object",
                        label, name);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off))
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s': needs string \"dtype\", array \"shape\" and "
                        "array \"data_offsets\"",
                        label, name);
  t->dtype = -1;
  for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
    if (!strcmp(dt->valuestring, dtypes[i].name)) t->dtype = (int)i;
  if (t->dtype < 0)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: tensor '%s': unknown dtype \"%.32s\"", label,
                        name, dt->valuestring);
  int nd = cJSON_GetArraySize(sh);
  if (nd > ST_MAX_DIMS)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: tensor '%s': %d dimensions (max %d)", label,
                        name, nd, ST_MAX_DIMS);
  t->ndim = (uint32_t)nd;
  uint64_t n = 1;
  int i = 0;
  for (const cJSON *d = sh->child; d; d = d->next, i++) {
    if (json_u64(d, &t->shape[i]))
      return blend_seterr(err, BLEND_ECORRUPT,
                          "%s: tensor '%s': shape[%d] is not a non-negative integer", label, name,
                          i);
    if (__builtin_mul_overflow(n, t->shape[i], &n))
      return blend_seterr(err, BLEND_ECORRUPT, "%s: tensor '%s': shape overflows", label, name);
  }
  t->nelem = n;
  uint64_t b0, b1, nbytes;
  if (cJSON_GetArraySize(off) != 2 || json_u64(off->child, &b0) || json_u64(off->child->next, &b1))
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s': data_offsets must be two non-negative integers", label,
                        name);
  if (b1 < b0 || b1 > data_len)
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] outside the data area "
                        "(%llu bytes)",
                        label, name, (unsigned long long)b0, (unsigned long long)b1,
                        (unsigned long long)data_len);
  if (__builtin_mul_overflow(n, (uint64_t)dtypes[t->dtype].size, &nbytes) || nbytes != b1 - b0)
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s': shape × %s size = %llu bytes but data_offsets span "
                        "%llu bytes",
                        label, name, dtypes[t->dtype].name, (unsigned long long)nbytes,
                        (unsigned long long)(b1 - b0));
  t->data = data + b0;
  t->nbytes = nbytes;
  sp->begin = b0;
  sp->end = b1;
  return BLEND_OK;
}

int st_parse(const uint8_t *buf, size_t len, const char *label, st_file **out,
             blend_error *err) {
  *out = NULL;
  if (len < 8)
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: truncated: %zu bytes, shorter than the 8-byte header length", label,
                        len);
  uint64_t hlen = rd_u64(buf);
  if (hlen > len - 8)
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: header length %llu exceeds the file size (%zu bytes): truncated or "
                        "not a safetensors file",
                        label, (unsigned long long)hlen, len);
  if (hlen > ST_MAX_HEADER)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: header length %llu exceeds the %u-byte cap",
                        label, (unsigned long long)hlen, ST_MAX_HEADER);
  const uint8_t *data = buf + 8 + hlen;
  uint64_t data_len = len - 8 - hlen;

  cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
  if (!root)
    return blend_seterr(err, BLEND_ECORRUPT, "%s: header is not valid JSON", label);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return blend_seterr(err, BLEND_ECORRUPT, "%s: header is not a JSON object", label);
  }
  st_file *f = calloc(1, sizeof *f);
  size_t cap = 0, names_len = 0;
  for (const cJSON *e = root->child; e; e = e->next) {
    if (!e->string) continue;
    cap++;
    names_len += strlen(e->string) + 1;
  }
  span *sp = NULL;
  int rc = BLEND_OK;
  if (!f || !(f->label = strdup(label)) || !(f->t = calloc(cap ? cap : 1, sizeof *f->t)) ||
      !(f->names = malloc(names_len ? names_len : 1)) ||
      !(sp = calloc(cap ? cap : 1, sizeof *sp))) {
    rc = blend_seterr(err, BLEND_ENOMEM, "%s: out of memory reading the header", label);
    goto done;
  }
  size_t np = 0;
  for (const cJSON *e = root->child; e; e = e->next) {
    if (!e->string || !strcmp(e->string, "__metadata__")) continue;
    st_tensor *t = &f->t[f->n];
    size_t nl = strlen(e->string) + 1;
    memcpy(f->names + np, e->string, nl);
    t->name = f->names + np;
    np += nl;
    rc = parse_entry(label, e, data, data_len, t, &sp[f->n], err);
    if (rc) goto done;
    sp[f->n].idx = f->n;
    f->n++;
  }
  qsort(sp, f->n, sizeof *sp, cmp_span);
  /* sorted by start, spans are disjoint iff each non-empty span starts at or
  ** after the end of the previous non-empty one (empty spans overlap nothing) */
  const span *prev = NULL;
  for (size_t i = 0; i < f->n; i++) {
    if (sp[i].begin == sp[i].end) continue;
    if (prev && sp[i].begin < prev->end) {
      rc = blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (bytes "
                        "%llu..%llu)",
                        label, f->t[sp[i].idx].name, (unsigned long long)sp[i].begin,
                        (unsigned long long)sp[i].end, f->t[prev->idx].name,
                        (unsigned long long)prev->begin, (unsigned long long)prev->end);
      goto done;
    }
    prev = &sp[i];
  }
  qsort(f->t, f->n, sizeof *f->t, cmp_name);
  for (size_t i = 1; i < f->n; i++)
    if (!strcmp(f->t[i].name, f->t[i - 1].name)) {
      rc = blend_seterr(err, BLEND_ECORRUPT, "%s: tensor '%s' is listed twice", label,
                        f->t[i].name);
      goto done;
    }
done:
  free(sp);
  cJSON_Delete(root);
  if (rc) {
    st_close(f);
    return rc;
  }
  *out = f;
  return BLEND_OK;
}

int st_open(const char *path, st_file **out, blend_error *err) {
  *out = NULL;
  mapped_file m;
  int rc = file_map(path, &m, err);
  if (rc) return rc;
  rc = st_parse(m.data, m.size, path, out, err);
  if (rc) {
    file_unmap(&m);
    return rc;
  }
  (*out)->map = m;
  return BLEND_OK;
}

void st_close(st_file *f) {
  if (!f) return;
  file_unmap(&f->map);
  free(f->label);
  free(f->t);
  free(f->names);
  free(f);
}

const char *st_label(const st_file *f) { return f->label; }
size_t st_count(const st_file *f) { return f->n; }
const st_tensor *st_at(const st_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name) {
  size_t lo = 0, hi = f->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(f->t[mid].name, name);
    if (c == 0) return &f->t[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static void shape_str(char *buf, size_t cap, uint32_t ndim, const uint64_t *shape) {
  size_t p = 0;
  p += (size_t)snprintf(buf + p, cap - p, "[");
  for (uint32_t i = 0; i < ndim && p < cap; i++)
    p += (size_t)snprintf(buf + p, cap - p, "%s%llu", i ? ", " : "",
                          (unsigned long long)shape[i]);
  if (p < cap) snprintf(buf + p, cap - p, "]");
}

int st_check(const st_file *f, const char *name, const st_tensor *t, uint32_t ndim,
             const uint64_t *shape, blend_error *err) {
  if (!t)
    return blend_seterr(err, BLEND_ENOTFOUND, "%s: missing tensor '%s'", f->label, name);
  if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
    return blend_seterr(err, BLEND_EUNSUPPORTED,
                        "%s: tensor '%s' has dtype %s; weights must be F32, F16 or BF16",
                        f->label, name, st_dtype_name(t->dtype));
  int same = t->ndim == ndim;
  for (uint32_t i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
  if (!same) {
    char want[128], got[128];
    shape_str(want, sizeof want, ndim, shape);
    shape_str(got, sizeof got, t->ndim, t->shape);
    return blend_seterr(err, BLEND_ECORRUPT,
                        "%s: tensor '%s' has shape %s but config.json implies %s", f->label, name,
                        got, want);
  }
  return BLEND_OK;
}

void st_to_f32(const st_tensor *t, float *dst) {
  const uint8_t *p = t->data;
  switch (t->dtype) {
    case ST_F32:
      memcpy(dst, p, t->nelem * 4);
      break;
    case ST_F16:
      for (uint64_t i = 0; i < t->nelem; i++)
        dst[i] = st_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
      break;
    case ST_BF16:
      for (uint64_t i = 0; i < t->nelem; i++)
        dst[i] = st_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
      break;
    default:
      break;
  }
}
