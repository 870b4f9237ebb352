/*
** sha256.c — SHA-256 and SHA-1 (FIPS 180-4), byte-at-a-time buffering over a
** 64-byte block function, plus whole-file hashing for download checks.
** Verified in tests/test_hub.c against the FIPS examples and sha256sum.
*/
#include "util/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_X86 1
#endif

#include "util/util.h"

static inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static inline uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static inline uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static void sha256_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = k + S1 + ch + K256[i] + w[i];
    uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    k = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

#ifdef SHA256_X86
/* The same compression with the x86 SHA extensions (SHA-NI), ~10x faster.
** State is kept as ABEF/CDGH register pairs, as the instructions want. */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_ni(uint32_t h[8],
                                                                        const uint8_t *p,
                                                                        size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i t = _mm_loadu_si128((const __m128i *)&h[0]);
  __m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]);
  t = _mm_shuffle_epi32(t, 0xB1);            /* CDAB */
  s1 = _mm_shuffle_epi32(s1, 0x1B);          /* EFGH */
  __m128i s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
  s1 = _mm_blend_epi16(s1, t, 0xF0);         /* CDGH */
  while (nblocks--) {
    __m128i abef = s0, cdgh = s1, x[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++) {
      if (g < 4) {
        x[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
      } else { /* W[t..t+3] from the four previous groups */
        __m128i a = _mm_sha256msg1_epu32(x[g & 3], x[(g + 1) & 3]);
        a = _mm_add_epi32(a, _mm_alignr_epi8(x[(g + 3) & 3], x[(g + 2) & 3], 4));
        x[g & 3] = _mm_sha256msg2_epu32(a, x[(g + 3) & 3]);
      }
      __m128i m = _mm_add_epi32(x[g & 3], _mm_loadu_si128((const __m128i *)&K256[4 * g]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, m);
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
    p += 64;
  }
  t = _mm_shuffle_epi32(s0, 0x1B);           /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);          /* DCHG */
  s0 = _mm_blend_epi16(t, s1, 0xF0);         /* DCBA */
  s1 = _mm_alignr_epi8(s1, t, 8);            /* HGFE */
  _mm_storeu_si128((__m128i *)&h[0], s0);
  _mm_storeu_si128((__m128i *)&h[4], s1);
}

static int cpu_has_sha_ni(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9))) return 0;
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1;
}
#else
static int cpu_has_sha_ni(void) { return 0; }
#endif

int sha256_fast_available(void) { return cpu_has_sha_ni(); }

/* Run n whole blocks with the implementation chosen at init. */
static void sha256_blocks(sha256_ctx *c, const uint8_t *p, size_t n) {
#ifdef SHA256_X86
  if (c->fast) {
    sha256_blocks_ni(c->h, p, n);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) sha256_block(c->h, p + 64 * i);
}

void sha256_init_impl(sha256_ctx *c, int fast) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, iv, sizeof iv);
  c->len = 0;
  c->nbuf = 0;
  c->fast = fast && cpu_has_sha_ni();
}

void sha256_init(sha256_ctx *c) { sha256_init_impl(c, 1); }

/* SHA-1's Merkle–Damgård buffering over 64-byte blocks. */
#define MD_UPDATE(c, data, n, block)                                  \
  do {                                                                \
    const uint8_t *p_ = (const uint8_t *)(data);                      \
    size_t n_ = (n);                                                  \
    (c)->len += n_;                                                   \
    if ((c)->nbuf) {                                                  \
      size_t take = 64 - (c)->nbuf < n_ ? 64 - (c)->nbuf : n_;        \
      memcpy((c)->buf + (c)->nbuf, p_, take);                         \
      (c)->nbuf += take; p_ += take; n_ -= take;                      \
      if ((c)->nbuf == 64) { block((c)->h, (c)->buf); (c)->nbuf = 0; } \
    }                                                                 \
    while (n_ >= 64) { block((c)->h, p_); p_ += 64; n_ -= 64; }       \
    if (n_) { memcpy((c)->buf, p_, n_); (c)->nbuf = n_; }             \
  } while (0)

/* Padding: 0x80, zeros, then the big-endian bit length in the last 8 bytes. */
#define MD_FINAL(c, block)                                            \
  do {                                                                \
    uint64_t bits_ = (c)->len * 8;                                    \
    (c)->buf[(c)->nbuf++] = 0x80;                                     \
    if ((c)->nbuf > 56) {                                             \
      memset((c)->buf + (c)->nbuf, 0, 64 - (c)->nbuf);                \
      block((c)->h, (c)->buf);                                        \
      (c)->nbuf = 0;                                                  \
    }                                                                 \
    memset((c)->buf + (c)->nbuf, 0, 56 - (c)->nbuf);                  \
    for (int i_ = 0; i_ < 8; i_++) (c)->buf[56 + i_] = (uint8_t)(bits_ >> (56 - 8 * i_)); \
    block((c)->h, (c)->buf);                                          \
  } while (0)

void sha256_update(sha256_ctx *c, const void *data, size_t n) {
  const uint8_t *p = data;
  c->len += n;
  if (c->nbuf) {
    size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
    memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take;
    p += take;
    n -= take;
    if (c->nbuf < 64) return;
    sha256_blocks(c, c->buf, 1);
    c->nbuf = 0;
  }
  sha256_blocks(c, p, n / 64);
  p += n / 64 * 64;
  n %= 64;
  if (n) memcpy(c->buf, p, n);
  c->nbuf = n;
}

void sha256_final(sha256_ctx *c, uint8_t out[32]) {
  /* padding: 0x80, zeros, then the big-endian bit length in the last 8 bytes */
  uint64_t bits = c->len * 8;
  c->buf[c->nbuf++] = 0x80;
  if (c->nbuf > 56) {
    memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
    sha256_blocks(c, c->buf, 1);
    c->nbuf = 0;
  }
  memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
  for (int i = 0; i < 8; i++) c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_blocks(c, c->buf, 1);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

static void sha1_block(uint32_t h[5], const uint8_t *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
  for (int i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    uint32_t t = rotl(a, 5) + f + e + k + w[i];
    e = d; d = c; c = rotl(b, 30); b = a; a = t;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void sha1_init(sha1_ctx *c) {
  static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
  memcpy(c->h, iv, sizeof iv);
  c->len = 0;
  c->nbuf = 0;
}

void sha1_update(sha1_ctx *c, const void *data, size_t n) { MD_UPDATE(c, data, n, sha1_block); }

void sha1_final(sha1_ctx *c, uint8_t out[20]) {
  MD_FINAL(c, sha1_block);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(c->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)c->h[i];
  }
}

void hex_encode(const uint8_t *in, size_t n, char *out) {
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hx[in[i] >> 4];
    out[2 * i + 1] = hx[in[i] & 15];
  }
  out[2 * n] = 0;
}

int file_sha256(const char *path, char sha256_hex[65], char *git_sha1_hex, blend_error *err) {
  mapped_file m;
  int rc = file_map(path, &m, err);
  if (rc) return rc;
  sha256_ctx c256;
  sha1_ctx c1;
  sha256_init(&c256);
  sha256_update(&c256, m.data, m.size);
  uint8_t d[32];
  sha256_final(&c256, d);
  hex_encode(d, 32, sha256_hex);
  if (git_sha1_hex) { /* git's blob id: sha1("blob SIZE\0" + content) */
    char hdr[48];
    int n = snprintf(hdr, sizeof hdr, "blob %llu", (unsigned long long)m.size);
    sha1_init(&c1);
    sha1_update(&c1, hdr, (size_t)n + 1); /* includes the NUL */
    sha1_update(&c1, m.data, m.size);
    sha1_final(&c1, d);
    hex_encode(d, 20, git_sha1_hex);
  }
  file_unmap(&m);
  return BLEND_OK;
}
