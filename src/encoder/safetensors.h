/*
** safetensors.h — reader for Hugging Face .safetensors files: an 8-byte
** little-endian header length N, N bytes of JSON describing each tensor
** (dtype, shape, data_offsets relative to the data area), then raw
** little-endian tensor data.
**
** Opening validates everything a later reader relies on, so a hostile file
** yields a clear error (naming the file, tensor and problem) and never an
** out-of-bounds read: header length within the file and under a sane cap,
** well-formed JSON, known dtypes, shape product × dtype size == the offsets'
** span (with overflow checks), offsets inside the data area, no two tensors
** overlapping, no duplicate names.
*/
#ifndef BLEND_SAFETENSORS_H
#define BLEND_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

/* Largest JSON header accepted (real checkpoints have a few hundred KB). */
#define ST_MAX_HEADER (64u << 20)
#define ST_MAX_DIMS 8

enum st_dtype {
  ST_F32, ST_F16, ST_BF16, ST_F64,
  ST_I64, ST_I32, ST_I16, ST_I8, ST_U64, ST_U32, ST_U16, ST_U8, ST_BOOL,
  ST_F8_E4M3, ST_F8_E5M2
};

typedef struct st_tensor {
  const char *name;          /* NUL-terminated, owned by the st_file */
  int dtype;                 /* enum st_dtype */
  uint32_t ndim;
  uint64_t shape[ST_MAX_DIMS];
  uint64_t nelem;            /* product of shape (1 for a scalar) */
  const uint8_t *data;       /* start of the tensor's bytes */
  uint64_t nbytes;
} st_tensor;

typedef struct st_file st_file;

/* Map and validate path. */
int st_open(const char *path, st_file **out, blend_error *err);

/* Validate an in-memory image (buf must outlive the st_file; not copied).
** label names the source in error messages. Used by st_open and the fuzzer. */
int st_parse(const uint8_t *buf, size_t len, const char *label, st_file **out,
             blend_error *err);

void st_close(st_file *f);

const char *st_label(const st_file *f);  /* the path given to st_open */
size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);   /* sorted by name */
const st_tensor *st_find(const st_file *f, const char *name);

const char *st_dtype_name(int dtype);
size_t st_dtype_size(int dtype);

/* Bit-exact widening of half-precision formats. */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t b);

/* Check that t (which may be NULL = missing) is a floating tensor
** (F32/F16/BF16) of exactly the given shape; the error names file + tensor. */
int st_check(const st_file *f, const char *name, const st_tensor *t, uint32_t ndim,
             const uint64_t *shape, blend_error *err);

/* Copy t's values to dst (t->nelem floats), widening F16/BF16 exactly.
** t must have passed st_check. */
void st_to_f32(const st_tensor *t, float *dst);

#endif
