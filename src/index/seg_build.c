/*
** seg_build.c — lays out one segment file: the 64-byte header, the section
** table, then each section at a 64-byte aligned offset followed by SEG_PAD
** zero bytes (SIMD decoders may over-read), every section crc32c-checked,
** and the header's own crc over header + table. The file is written to its
** final name and fsynced; it only becomes part of the index when a manifest
** names it.
*/
#include <string.h>

#include "index/build.h"

sec *seg_build_add(seg_build *sb, uint32_t kind, uint32_t field) {
  if (sb->nsec == sizeof sb->secs / sizeof sb->secs[0]) return NULL;
  sec *s = &sb->secs[sb->nsec++];
  s->kind = kind;
  s->field = field;
  memset(&s->b, 0, sizeof s->b);
  return s;
}

void seg_build_free(seg_build *sb) {
  for (uint32_t i = 0; i < sb->nsec; i++) bbuf_free(&sb->secs[i].b);
  sb->nsec = 0;
}

int seg_build_write(const char *path, seg_build *sb, uint32_t ndocs, uint32_t nfields,
                    uint32_t flags, uint64_t *bytes, uint32_t *crc_out, blend_error *err) {
  bbuf f = {0};
  uint8_t hdr[SEG_HEADER_SIZE] = {0};
  memcpy(hdr, SEG_MAGIC, 8);
  wr_u32(hdr + 8, SEG_VERSION);
  wr_u32(hdr + 12, ndocs);
  wr_u32(hdr + 16, nfields);
  wr_u32(hdr + 20, sb->nsec);
  wr_u32(hdr + 24, flags);
  int rc = BLEND_ENOMEM;
  if (bbuf_append(&f, hdr, sizeof hdr)) goto out;
  size_t table = f.len;
  static const uint8_t zero[SEG_ALIGN + SEG_PAD];
  for (uint32_t i = 0; i < sb->nsec; i++)
    if (bbuf_append(&f, zero, SEG_SECTION_SIZE)) goto out;
  for (uint32_t i = 0; i < sb->nsec; i++) {
    sec *s = &sb->secs[i];
    if (f.len % SEG_ALIGN && bbuf_append(&f, zero, SEG_ALIGN - f.len % SEG_ALIGN)) goto out;
    uint64_t off = f.len;
    if (bbuf_append(&f, s->b.data, s->b.len) || bbuf_append(&f, zero, SEG_PAD)) goto out;
    uint8_t *e = f.data + table + (size_t)i * SEG_SECTION_SIZE;
    wr_u32(e, s->kind);
    wr_u32(e + 4, s->field);
    wr_u32(e + 8, (uint32_t)off);
    wr_u32(e + 12, (uint32_t)(off >> 32));
    wr_u32(e + 16, (uint32_t)s->b.len);
    wr_u32(e + 20, (uint32_t)((uint64_t)s->b.len >> 32));
    wr_u32(e + 24, crc32c(0, s->b.data ? s->b.data : zero, s->b.len));
  }
  uint32_t crc = crc32c(crc32c(0, f.data, SEG_HEADER_SIZE - 4), f.data + table,
                        (size_t)sb->nsec * SEG_SECTION_SIZE);
  wr_u32(f.data + SEG_HEADER_SIZE - 4, crc);
  rc = file_write_sync(path, f.data, f.len, err);
  *bytes = f.len;
  *crc_out = crc;
out:
  if (rc == BLEND_ENOMEM) blend_seterr(err, rc, "%s: out of memory", path);
  bbuf_free(&f);
  return rc;
}
