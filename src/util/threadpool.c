/*
** threadpool.c — fixed worker pool for the encoder's parallel loops (see
** threadpool.h). A loop is a job on the caller's stack, published through
** an atomic pointer; tasks are handed out by an atomic counter. The caller
** waits only for the tasks to be done and for workers currently inside the
** job, never for a worker that has not woken up yet: on a machine shared
** with other processes a descheduled worker then costs nothing (the caller
** and the other workers take its share). Workers spin briefly for the next
** loop (a forward pass runs a few dozen in quick succession), then sleep on
** a condition variable.
*/
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "util/threadpool.h"

#define SPIN_ITERS 20000

typedef struct job {
  tpool_fn fn;
  void *ctx;
  size_t n;
  atomic_size_t next;  /* next task index */
  atomic_size_t done;  /* tasks finished */
} job;

struct tpool {
  int n;                    /* threads including the caller */
  pthread_t *th;
  pthread_mutex_t run_lock; /* one loop at a time */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_uint gen;          /* bumped for each loop (and for shutdown) */
  _Atomic(job *) cur;       /* the running loop, NULL between loops */
  atomic_int active;        /* workers that may be touching cur */
  atomic_int stop;
};

typedef struct worker_arg {
  tpool *p;
  int id;
} worker_arg;

static void run_tasks(job *j, int id) {
  size_t i;
  while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
    j->fn(j->ctx, i, id);
    atomic_fetch_add(&j->done, 1);
  }
}

static void *worker_main(void *arg) {
  worker_arg *wa = arg;
  tpool *p = wa->p;
  int id = wa->id;
  free(wa);
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load(&p->gen)) == seen && spins < SPIN_ITERS) {
      spins++;
      if ((spins & 255) == 0) sched_yield();
    }
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    seen = g;
    if (atomic_load(&p->stop)) return NULL;
    /* announce before looking: the caller waits for active == 0 after
    ** clearing cur, so a job seen here stays alive while we use it */
    atomic_fetch_add(&p->active, 1);
    job *j = atomic_load(&p->cur);
    if (j) run_tasks(j, id);
    atomic_fetch_sub(&p->active, 1);
  }
}

tpool *tpool_new(int nthreads) {
  if (nthreads < 1) nthreads = 1;
  tpool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = nthreads;
  pthread_mutex_init(&p->run_lock, NULL);
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  if (nthreads > 1) {
    p->th = calloc((size_t)nthreads - 1, sizeof *p->th);
    if (!p->th) {
      free(p);
      return NULL;
    }
    for (int i = 1; i < nthreads; i++) {
      worker_arg *wa = malloc(sizeof *wa);
      if (wa) {
        wa->p = p;
        wa->id = i;
      }
      if (!wa || pthread_create(&p->th[i - 1], NULL, worker_main, wa) != 0) {
        free(wa);
        p->n = i; /* keep the threads that started */
        break;
      }
    }
  }
  return p;
}

void tpool_free(tpool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->th[i - 1], NULL);
  free(p->th);
  pthread_mutex_destroy(&p->run_lock);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

int tpool_size(const tpool *p) { return p ? p->n : 1; }

void tpool_run(tpool *p, size_t n, tpool_fn fn, void *ctx) {
  if (!p || p->n == 1 || n <= 1 || pthread_mutex_trylock(&p->run_lock) != 0) {
    for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
    return;
  }
  job j = {.fn = fn, .ctx = ctx, .n = n};
  atomic_init(&j.next, 0);
  atomic_init(&j.done, 0);
  atomic_store(&p->cur, &j);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  run_tasks(&j, 0);
  int spins = 0;
  while (atomic_load(&j.done) < n)
    if (++spins > 64) sched_yield();
  atomic_store(&p->cur, NULL);
  while (atomic_load(&p->active) > 0) sched_yield();
  pthread_mutex_unlock(&p->run_lock);
}
