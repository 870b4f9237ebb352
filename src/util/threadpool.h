/*
** threadpool.h — a small fixed pool of worker threads that run one parallel
** loop at a time: tpool_run(p, n, fn, ctx) calls fn(ctx, i, worker) for every
** i < n across the caller and the workers and returns when all are done.
** A pool is owned by a loaded model; if another thread is already running a
** loop on it, tpool_run simply runs the loop on the calling thread, so a
** model shared by several threads stays correct (just not nested-parallel).
*/
#ifndef BLEND_THREADPOOL_H
#define BLEND_THREADPOOL_H

#include <stddef.h>

typedef struct tpool tpool;
typedef void (*tpool_fn)(void *ctx, size_t task, int worker);

/* nthreads counts the caller: 1 = no worker threads. NULL on failure. */
tpool *tpool_new(int nthreads);
void tpool_free(tpool *p);
int tpool_size(const tpool *p);

/* Run fn over tasks 0..n-1; worker is in [0, tpool_size(p)) and identifies
** the thread (for per-thread scratch). p may be NULL (runs inline). */
void tpool_run(tpool *p, size_t n, tpool_fn fn, void *ctx);

#endif
