/*
** error.c — status names and filling a caller's blend_error.
*/
#include <stdio.h>

#include "util/util.h"

const char *blend_status_name(int code) {
  switch (code) {
    case BLEND_OK: return "ok";
    case BLEND_EINVAL: return "invalid input";
    case BLEND_EIO: return "I/O error";
    case BLEND_ECORRUPT: return "corrupt file";
    case BLEND_ENOMEM: return "out of memory";
    case BLEND_ENOTFOUND: return "not found";
    case BLEND_EUNSUPPORTED: return "unsupported";
    case BLEND_ENETWORK: return "network error";
    case BLEND_ELOCKED: return "index locked";
    default: return "unknown error";
  }
}

int blend_seterr(blend_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

void blend_clearerr(blend_error *err) {
  if (err) {
    err->code = 0;
    err->message[0] = 0;
  }
}
