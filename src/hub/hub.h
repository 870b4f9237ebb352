/*
** hub.h — internals of blend_model_pull (see include/blend.h): which files of
** a Hugging Face-compatible repository an encoder needs, parsing the hub's
** model-info JSON into those files' expected sizes and checksums, and the
** small HTTP helpers (URL escaping, Content-Range). Exposed so tests can feed
** them hostile input without a server.
*/
#ifndef BLEND_HUB_H
#define BLEND_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "blend.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"

/* One file to fetch, as the hub describes it (GET /api/models/{repo}/
** revision/{rev}?blobs=true → "siblings"). */
typedef struct hub_file {
  char path[64];      /* rfilename: always one of hub_wanted_files() */
  uint64_t size;      /* "size" (or "lfs.size"); valid when has_size */
  int has_size;
  char sha256[65];    /* "lfs.sha256", lower-case hex; "" for non-LFS files */
  char blob_id[41];   /* "blobId" (git SHA-1 of the blob); "" when absent */
} hub_file;

typedef struct hub_listing {
  hub_file *files;    /* in download order: small files first, weights last */
  size_t n;
  char commit[41];    /* "sha": the commit the revision resolved to, or "" */
} hub_listing;

/* The repository paths an encoder needs, NULL-terminated, in download order. */
const char *const *hub_wanted_files(void);

/* Parse the model-info JSON; keeps only wanted files. Fails with a message
** naming `what` (e.g. "org/name@main") and the field at fault on malformed
** input, and with BLEND_EUNSUPPORTED when model.safetensors or config.json
** is missing (mentioning sharded or non-safetensors weights if present). */
int hub_parse_listing(const char *json, size_t len, const char *what, hub_listing *out,
                      blend_error *err);
void hub_listing_free(hub_listing *l);

/* Check a repository id the way the hub does: "name" or "org/name", each part
** of [A-Za-z0-9_.-], not starting or ending with '.' or '-', no "--" or "..",
** at most 96 characters. */
int hub_check_repo_id(const char *repo_id, blend_error *err);

/* Percent-encode s (RFC 3986 unreserved characters stay; '/' stays when
** keep_slash). Returns malloc'd memory or NULL. */
char *hub_url_escape(const char *s, int keep_slash);

/* Parse a Content-Range value "bytes START-END/TOTAL" (TOTAL may be "*").
** Returns 0 and fills the fields (total = UINT64_MAX when "*"), or -1. */
int hub_parse_content_range(const char *v, uint64_t *start, uint64_t *end, uint64_t *total);

#endif
