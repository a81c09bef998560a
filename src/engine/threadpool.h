/* threadpool.h — a persistent pool of worker threads for the forward pass.
 *
 * threadpool_run() runs one function on every thread of the pool at once
 * (the caller is thread 0) and returns when all have finished: a parallel
 * region. Inside the region threadpool_barrier() synchronises all threads;
 * every thread must call it the same number of times. Workers spin briefly,
 * then sleep between regions, so an idle pool costs nothing.
 *
 * Ownership: the pool owns its threads; threadpool_free() joins them. One
 * region at a time: callers serialise threadpool_run() themselves. */
#ifndef GPURUN_ENGINE_THREADPOOL_H
#define GPURUN_ENGINE_THREADPOOL_H

#include <stddef.h>

typedef void (*threadpool_fn)(void *arg, int ith, int nth);

struct threadpool;

/* n_threads >= 1 (1 = no worker threads, the caller does everything).
 * NULL when a thread cannot be created. */
struct threadpool *threadpool_new(int n_threads);
void threadpool_free(struct threadpool *tp); /* NULL is a no-op */
int threadpool_size(const struct threadpool *tp);

/* Runs fn(arg, ith, nth) on all nth threads; returns when all returned. */
void threadpool_run(struct threadpool *tp, threadpool_fn fn, void *arg);
/* The same on the first n threads only (1 <= n <= size; small jobs, where
 * waking and synchronising more threads costs more than it saves). */
void threadpool_run_n(struct threadpool *tp, threadpool_fn fn, void *arg, int n);
/* Inside a region: returns when every thread of the region has arrived. Writes
 * made before the barrier are visible to every thread after it. */
void threadpool_barrier(struct threadpool *tp);
/* Bytes a thread will read soon after a barrier. */
struct tp_range {
	const void *p;
	size_t n;
};
/* threadpool_barrier, and while this thread waits for the others, it
 * prefetches the ranges r[0, n_r) into its L2, in order, as far as the
 * wait allows (decode: the memory bus would idle while the threads meet;
 * the waiting one warms the weights of its next chunk instead). */
void threadpool_barrier_pf(struct threadpool *tp, const struct tp_range *r, int n_r);

/* Physical cores of this machine (distinct package/core ids), at least 1. */
int threadpool_physical_cores(void);

#endif
