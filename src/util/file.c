/*
** file.c — mapping files read-only, reading them whole, and writing them so
** that a crash never leaves a half-written file under the final name
** (temp file + fsync + rename + directory fsync). Also crc32c and a clock.
*/
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

int file_map(const char *path, mapped_file *out, blend_error *err) {
  out->data = NULL;
  out->size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return blend_seterr(err, errno == ENOENT ? BLEND_ENOTFOUND : BLEND_EIO, "%s: %s", path,
                        strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return blend_seterr(err, BLEND_EIO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return blend_seterr(err, BLEND_EIO, "%s: not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    out->data = (const uint8_t *)"";
    return BLEND_OK;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) return blend_seterr(err, BLEND_EIO, "%s: mmap: %s", path, strerror(e));
  out->data = p;
  out->size = (size_t)st.st_size;
  return BLEND_OK;
}

void file_unmap(mapped_file *m) {
  if (m->size) munmap((void *)m->data, m->size);
  m->data = NULL;
  m->size = 0;
}

int file_read_all(const char *path, char **data, size_t *len, blend_error *err) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    return blend_seterr(err, errno == ENOENT ? BLEND_ENOTFOUND : BLEND_EIO, "%s: %s", path,
                        strerror(errno));
  bbuf b = {0};
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
    if (bbuf_append(&b, tmp, n)) {
      fclose(f);
      bbuf_free(&b);
      return blend_seterr(err, BLEND_ENOMEM, "%s: out of memory", path);
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad || bbuf_putc(&b, 0)) {
    bbuf_free(&b);
    return blend_seterr(err, BLEND_EIO, "%s: read error", path);
  }
  *data = (char *)b.data;
  *len = b.len - 1;
  return BLEND_OK;
}

static int write_fd_all(int fd, const void *data, size_t len) {
  const uint8_t *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int file_write_sync(const char *path, const void *data, size_t len, blend_error *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return blend_seterr(err, BLEND_EIO, "%s: %s", path, strerror(errno));
  if (write_fd_all(fd, data, len) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(path);
    return blend_seterr(err, BLEND_EIO, "%s: write: %s", path, strerror(e));
  }
  if (close(fd) != 0) return blend_seterr(err, BLEND_EIO, "%s: close: %s", path, strerror(errno));
  return BLEND_OK;
}

int dir_fsync(const char *dir, blend_error *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return blend_seterr(err, BLEND_EIO, "%s: %s", dir, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return blend_seterr(err, BLEND_EIO, "%s: fsync: %s", dir, strerror(errno));
  return BLEND_OK;
}

int file_write_atomic(const char *path, const void *data, size_t len, blend_error *err) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return blend_seterr(err, BLEND_EINVAL, "%s: path too long", path);
  int rc = file_write_sync(tmp, data, len, err);
  if (rc) return rc;
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return blend_seterr(err, BLEND_EIO, "%s: rename: %s", path, strerror(e));
  }
  char d[4096];
  snprintf(d, sizeof d, "%s", path);
  return dir_fsync(dirname(d), err);
}

int dir_ensure(const char *dir, blend_error *err) {
  struct stat st;
  if (stat(dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return blend_seterr(err, BLEND_EIO, "%s: not a directory", dir);
    return BLEND_OK;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return blend_seterr(err, BLEND_EIO, "%s: mkdir: %s", dir, strerror(errno));
  return BLEND_OK;
}

double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n) {
  const uint8_t *s = p;
  crc = ~crc;
#if defined(__SSE4_2__)
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, s, 8);
    crc = (uint32_t)__builtin_ia32_crc32di(crc, v);
    s += 8;
    n -= 8;
  }
  while (n--) crc = __builtin_ia32_crc32qi(crc, *s++);
#else
  while (n--) {
    crc ^= *s++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
  }
#endif
  return ~crc;
}
