/* threadpool.c — persistent workers, parallel regions and a spin barrier
 * (see threadpool.h). Workers spin on a generation counter for a short while
 * after a region, then sleep on a condition variable; the barrier spins and
 * yields. No work queue: every region runs on all threads. */
#include "engine/threadpool.h"

#include "base/mem.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_BEFORE_SLEEP 20000 /* polls of the generation before sleeping */
#define SPIN_BEFORE_YIELD 256   /* barrier polls between sched_yield calls */

struct worker {
	struct threadpool *tp;
	int ith;
	pthread_t thread;
};

struct threadpool {
	int n;
	struct worker *workers; /* n - 1 workers; thread 0 is the caller */
	threadpool_fn fn;
	void *arg;
	int n_active;      /* threads in the current region (the caller's view) */
	atomic_uint gen;   /* bumped once per region */
	atomic_int n_done; /* workers finished with the current region */
	atomic_int bar_count;
	atomic_uint bar_phase;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static unsigned long wait_gen(struct threadpool *tp, unsigned long last)
{
	for (int i = 0; i < SPIN_BEFORE_SLEEP; i++) {
		unsigned long g = atomic_load(&tp->gen);
		if (g != last || atomic_load(&tp->stop))
			return g;
		cpu_relax();
	}
	pthread_mutex_lock(&tp->mu);
	unsigned long g;
	while ((g = atomic_load(&tp->gen)) == last && !atomic_load(&tp->stop))
		pthread_cond_wait(&tp->cv, &tp->mu);
	pthread_mutex_unlock(&tp->mu);
	return g;
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct threadpool *tp = w->tp;
	unsigned long last = 0;
	for (;;) {
		last = wait_gen(tp, last);
		if (atomic_load(&tp->stop))
			break;
		int n = (int)(last & 0xffff);
		if (w->ith < n) {
			tp->fn(tp->arg, w->ith, n);
			atomic_fetch_add(&tp->n_done, 1);
		}
	}
	return NULL;
}

struct threadpool *threadpool_new(int n_threads)
{
	if (n_threads < 1)
		n_threads = 1;
	if (n_threads > 4096)
		n_threads = 4096;
	struct threadpool *tp = xcalloc(1, sizeof *tp);
	tp->n = n_threads;
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	tp->workers = xcalloc((size_t)n_threads, sizeof *tp->workers);
	for (int i = 1; i < n_threads; i++) {
		struct worker *w = &tp->workers[i];
		w->tp = tp;
		w->ith = i;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			tp->n = i; /* join the ones that started */
			threadpool_free(tp);
			return NULL;
		}
	}
	return tp;
}

void threadpool_free(struct threadpool *tp)
{
	if (!tp)
		return;
	pthread_mutex_lock(&tp->mu);
	atomic_store(&tp->stop, true);
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	for (int i = 1; i < tp->n; i++)
		pthread_join(tp->workers[i].thread, NULL);
	pthread_mutex_destroy(&tp->mu);
	pthread_cond_destroy(&tp->cv);
	free(tp->workers);
	free(tp);
}

int threadpool_size(const struct threadpool *tp)
{
	return tp->n;
}

void threadpool_run(struct threadpool *tp, threadpool_fn fn, void *arg)
{
	threadpool_run_n(tp, fn, arg, tp->n);
}

void threadpool_run_n(struct threadpool *tp, threadpool_fn fn, void *arg, int n)
{
	n = n < 1 ? 1 : n > tp->n ? tp->n : n;
	tp->n_active = n;
	if (n == 1) {
		fn(arg, 0, 1);
		return;
	}
	tp->fn = fn;
	tp->arg = arg;
	atomic_store(&tp->n_done, 0);
	pthread_mutex_lock(&tp->mu);
	unsigned long g = atomic_load(&tp->gen);
	atomic_store(&tp->gen, ((g >> 16) + 1) << 16 | (unsigned long)n);
	pthread_cond_broadcast(&tp->cv);
	pthread_mutex_unlock(&tp->mu);
	fn(arg, 0, n);
	for (int i = 0; atomic_load(&tp->n_done) != n - 1; i++) {
		if (i % SPIN_BEFORE_YIELD == SPIN_BEFORE_YIELD - 1)
			sched_yield();
		else
			cpu_relax();
	}
}

void threadpool_barrier(struct threadpool *tp)
{
	threadpool_barrier_pf(tp, NULL, 0);
}

/* Lines prefetched between two looks at the barrier. */
#define PF_LINES 4

void threadpool_barrier_pf(struct threadpool *tp, const struct tp_range *r, int n_r)
{
	if (tp->n_active <= 1)
		return;
	unsigned phase = atomic_load(&tp->bar_phase);
	if (atomic_fetch_add(&tp->bar_count, 1) == tp->n_active - 1) {
		atomic_store(&tp->bar_count, 0);
		atomic_fetch_add(&tp->bar_phase, 1);
		return;
	}
	for (int k = 0; k < n_r; k++) {
		const char *p = r[k].p;
		for (size_t o = 0; o < r[k].n; o += 64 * PF_LINES) {
			if (atomic_load(&tp->bar_phase) != phase)
				return;
			for (size_t l = o; l < o + 64 * PF_LINES && l < r[k].n; l += 64)
				__builtin_prefetch(p + l, 0, 2); /* into L2 */
		}
	}
	for (int i = 0; atomic_load(&tp->bar_phase) == phase; i++) {
		if (i % SPIN_BEFORE_YIELD == SPIN_BEFORE_YIELD - 1)
			sched_yield();
		else
			cpu_relax();
	}
}

static int read_int_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int v = -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int threadpool_physical_cores(void)
{
	long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (n_cpu < 1)
		return 1;
	/* Count distinct (package, core) pairs; fall back to the logical count. */
	int cap = (int)(n_cpu > 4096 ? 4096 : n_cpu);
	long *seen = xcalloc((size_t)cap, sizeof *seen);
	int n_seen = 0;
	for (int cpu = 0; cpu < cap; cpu++) {
		char path[128];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
		int core = read_int_file(path);
		snprintf(path, sizeof path,
		         "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
		int pkg = read_int_file(path);
		if (core < 0) {
			n_seen = 0;
			break;
		}
		long key = (long)(pkg < 0 ? 0 : pkg) << 20 | core;
		bool dup = false;
		for (int i = 0; i < n_seen && !dup; i++)
			dup = seen[i] == key;
		if (!dup)
			seen[n_seen++] = key;
	}
	free(seen);
	return n_seen > 0 ? n_seen : (int)n_cpu;
}
