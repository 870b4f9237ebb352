/*
** format.h — the on-disk index format (version 1), shared by the writer and
** the readers. All integers little-endian. Version 2 (this one) added
** 64-byte aligned sections, the id dictionary, metadata columns, the vector
** store and its HNSW graph, and per-generation live-docs files; version 1
** indexes are refused with a message to rebuild.
**
** DIR/MANIFEST   JSON, replaced atomically (temp + fsync + rename) by each
**                commit (manifest.c documents the keys): format, generation,
**                analyzer, fields, meta fields, the vector field (dimension,
**                metric, dtype, HNSW parameters, the model's identity and
**                prefixes), and the segments, each {"name","docs","bytes",
**                "crc","deleted","live"}. Files no manifest names are garbage
**                from an earlier or interrupted commit and are removed by a
**                later commit once no open reader can need them.
** DIR/seg-G-S.liv  live docs of segment seg-G-S written by generation L
**                (file name <segment>.<L>.liv): magic "BLENDLIV", u32 ndocs,
**                u32 deleted count, u32 crc32c of the bitmap, u32 pad, then
**                ceil(ndocs/64) u64 words, bit set = document live.
** DIR/seg-G-S.bseg  one immutable segment:
**   header   64 bytes: magic "BLENDSEG", u32 version, u32 ndocs,
**            u32 nfields, u32 nsections, u32 flags (SEG_FLAG_*), pad,
**            u32 crc32c of header bytes 0..59 and the section table at 60
**   sections nsections × 32 bytes: u32 kind, u32 field, u64 offset,
**            u64 length, u32 crc32c, u32 pad
**   data     each section 64-byte aligned (SIMD loads of vectors, cache
**            lines), followed by 32 zero bytes so SIMD decoders may over-read.
** Sections:
**   SEC_FIELDS     per field: u16 name_len, name, u64 sum_dl, u32 docs_with_field
**   SEC_NORMS      per field (field = index): u8 norm[ndocs], Lucene's
**                  SmallFloat.intToByte4(field length in tokens)
**   SEC_TERMDICT   entries sorted by key = u8 field + term bytes, in blocks of
**                  TD_BLOCK; each entry: varint shared prefix, varint suffix
**                  len, suffix, varint df, varint cf-df, varint postings off,
**                  varint postings len, varint positions off, varint
**                  positions len, varint max_tf, u8 min_norm
**   SEC_TERMINDEX  u32 count of blocks, then u32 offset of each block in
**                  SEC_TERMDICT (the first entry of a block has prefix 0)
**   SEC_POSTINGS   per term: if nblocks > 1 a skip table of nblocks × 20
**                  bytes {u32 last_doc, u32 data_off, u32 pos_off, u32
**                  max_tf, u8 min_norm, 3 pad}; then the blocks: BLOCK docs
**                  (128, the last may be shorter) as streamvbyte deltas from
**                  the previous block's last doc, then streamvbyte-0124 of
**                  tf-1. data_off is relative to the end of the skip table.
**   SEC_POSITIONS  per term, per doc in order: tf varints, delta-coded
**                  positions. pos_off is relative to the term's start.
**   SEC_IDS        u32 offsets[ndocs+1], then the external ids' bytes
**   SEC_STORE      zstd blocks of stored fields; SEC_STOREINDEX: u32 nblocks,
**                  then per block {u32 first_doc, u64 offset, u32 clen}, then
**                  a final u64 end offset. A block decompresses to, per doc,
**                  per field: varint len + bytes.
*/
#ifndef BLEND_INDEX_FORMAT_H
#define BLEND_INDEX_FORMAT_H

#include <stdint.h>

#define SEG_MAGIC "BLENDSEG"
#define SEG_VERSION 2
#define SEG_HEADER_SIZE 64
#define SEG_SECTION_SIZE 32
#define SEG_PAD 32
#define SEG_ALIGN 64
#define SEG_FLAG_POSITIONS 1u   /* positions stored */
#define SEG_FLAG_FIELD_VIEWS 2u /* per-field postings besides 'contents' */
#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_FORMAT 2
#define LIVE_MAGIC "BLENDLIV"
#define LIVE_HEADER 24

#define BLOCK 128
#define TD_BLOCK 16
#define SKIP_ENTRY 20
#define MAX_FIELDS 16
#define MAX_META 32
#define MAX_TERM 255
#define FLAT_FIELD "contents"
#define STORE_BLOCK_BYTES 16384

enum section_kind {
  SEC_FIELDS = 1,
  SEC_NORMS = 2,
  SEC_TERMDICT = 3,
  SEC_TERMINDEX = 4,
  SEC_POSTINGS = 5,
  SEC_POSITIONS = 6,
  SEC_IDS = 7,
  SEC_STORE = 8,
  SEC_STOREINDEX = 9,
  SEC_IDDICT = 10,
  SEC_META = 11,
  SEC_VECSTORE = 12,
  SEC_HNSW = 13
};

/* Lucene's SmallFloat.intToByte4 / byte4ToInt: lengths 0..23 exact, then
** 4 significant bits. Monotone, so a block's minimum norm bounds its score. */
static inline uint8_t norm_encode(uint32_t len) {
  enum { FREE = 24 };
  if (len < FREE) return (uint8_t)len;
  uint64_t i = len - FREE;
  int bits = 64 - __builtin_clzll(i | 1);
  int enc;
  if (bits < 4) enc = (int)i;
  else {
    int shift = bits - 4;
    enc = (int)((i >> shift) & 7) | ((shift + 1) << 3);
  }
  return (uint8_t)(FREE + enc);
}

static inline uint32_t norm_decode(uint8_t b) {
  enum { FREE = 24 };
  if (b < FREE) return b;
  int i = b - FREE;
  uint64_t bits = (uint64_t)(i & 7);
  int shift = (i >> 3) - 1;
  uint64_t dec = shift == -1 ? bits : (bits | 8) << shift;
  return (uint32_t)(FREE + dec);
}

#endif
