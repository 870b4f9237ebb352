/*
** sha256.h — SHA-256 (FIPS 180-4) for verifying downloaded model files
** against the hub's LFS checksums, and SHA-1 for the git blob ids the hub
** reports for small (non-LFS) files. Plain portable C: no crypto library is
** a build dependency (SHA-256 uses the x86 SHA extensions when the CPU has
** them). Streaming: init, update any number of times, final.
*/
#ifndef BLEND_SHA256_H
#define BLEND_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

typedef struct sha256_ctx {
  uint32_t h[8];
  uint64_t len;      /* bytes hashed so far */
  uint8_t buf[64];
  size_t nbuf;
  int fast;          /* 1: x86 SHA extensions, 0: portable C */
} sha256_ctx;

/* Uses the CPU's SHA extensions when present (checked with cpuid), else
** portable C; both give identical results (tests compare them). */
void sha256_init(sha256_ctx *c);
/* fast = 0 forces the portable implementation (the twin tests compare). */
void sha256_init_impl(sha256_ctx *c, int fast);
/* 1 when this CPU has the SHA extensions sha256_init() would use. */
int sha256_fast_available(void);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[32]);

typedef struct sha1_ctx {
  uint32_t h[5];
  uint64_t len;
  uint8_t buf[64];
  size_t nbuf;
} sha1_ctx;

void sha1_init(sha1_ctx *c);
void sha1_update(sha1_ctx *c, const void *data, size_t n);
void sha1_final(sha1_ctx *c, uint8_t out[20]);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Hash a whole file: its SHA-256 as hex (65 bytes with the NUL) and, when
** git_sha1_hex is non-NULL, its git blob id (41 bytes): the SHA-1 of
** "blob <size>\0" followed by the content. */
int file_sha256(const char *path, char sha256_hex[65], char *git_sha1_hex, blend_error *err);

#endif
