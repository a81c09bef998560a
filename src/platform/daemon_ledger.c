/* daemon_ledger.c — the daemon's state writer: one thread with its own
 * SQLite connection that appends ledger rows and instance rows in arrival
 * order, committing whatever queued up since the last commit (group
 * commit), at most one commit per LEDGER_COMMIT_MS: a busy gateway pays one
 * fsync per few hundred requests, not one per request. The loop thread
 * never waits for a fsync; a row is on disk within LEDGER_COMMIT_MS plus
 * one commit of the loop handing it over, which it does once per loop
 * iteration (ledger_writer_kick). */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "platform/state.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEDGER_COMMIT_MS 10
#define LEDGER_BATCH_MAX 512 /* queued ops that commit at once, interval or not */

enum op_kind { OP_ROW, OP_INSTANCE, OP_PHASE };

struct op {
	struct op *next;
	enum op_kind kind;
	struct ledger_row row;
	struct state_instance inst;
	char strs[]; /* the strings the row or instance points at */
};

struct oplist {
	struct op *head, *tail;
};

struct ledger_writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv, done_cv;
	struct oplist local; /* loop thread only: not yet handed over */
	struct oplist queue; /* guarded by mu */
	int64_t queued;      /* ops in queue, guarded by mu */
	int64_t local_n;     /* ops in local (loop thread) */
	int flushing;        /* ledger_writer_flush waiting, guarded by mu */
	bool stop, busy;
	bool want_work;  /* the thread waits for a first op (not for its interval), mu */
	int64_t written; /* rows on disk, guarded by mu */
	int64_t failed;
	struct state *st;
};

static void push(struct oplist *l, struct op *o)
{
	o->next = NULL;
	if (l->tail)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
}

/* One allocation for the op and its strings: n strings in, pointers out. */
static struct op *op_new(enum op_kind kind, const char *const *in, const char **out, int n)
{
	size_t len[8], total = 0;
	for (int i = 0; i < n; i++) {
		len[i] = in[i] ? strlen(in[i]) + 1 : 0;
		total += len[i];
	}
	struct op *o = xmalloc(sizeof *o + total);
	memset(o, 0, sizeof *o);
	o->kind = kind;
	char *p = o->strs;
	for (int i = 0; i < n; i++) {
		out[i] = in[i] ? memcpy(p, in[i], len[i]) : NULL;
		p += len[i];
	}
	return o;
}

void ledger_writer_row(struct ledger_writer *w, const struct ledger_row *row)
{
	const char *in[5] = {row->service, row->revision, row->instance, row->request_id,
	                     row->gpu_type};
	const char *out[5];
	struct op *o = op_new(OP_ROW, in, out, 5);
	o->row = *row;
	o->row.service = out[0] ? out[0] : "";
	o->row.revision = out[1] ? out[1] : "";
	o->row.instance = out[2] ? out[2] : "";
	o->row.request_id = out[3];
	o->row.gpu_type = out[4];
	push(&w->local, o);
	w->local_n++;
}

void ledger_writer_instance(struct ledger_writer *w, const struct state_instance *in)
{
	const char *s[4] = {in->id, in->service, in->revision, in->gpus ? in->gpus : ""};
	const char *out[4];
	struct op *o = op_new(OP_INSTANCE, s, out, 4);
	o->inst = *in;
	o->inst.id = (char *)out[0];
	o->inst.service = (char *)out[1];
	o->inst.revision = (char *)out[2];
	o->inst.gpus = (char *)out[3];
	o->inst.reason = NULL;
	push(&w->local, o);
	w->local_n++;
}

void ledger_writer_phase(struct ledger_writer *w, const char *id, enum state_instance_phase ph,
                         int64_t at_ns, int exit_status, const char *reason)
{
	const char *s[2] = {id, reason};
	const char *out[2];
	struct op *o = op_new(OP_PHASE, s, out, 2);
	o->inst.id = (char *)out[0];
	o->inst.phase = ph;
	o->inst.stop_ns = at_ns;
	o->inst.exit_status = exit_status;
	o->inst.reason = (char *)out[1];
	push(&w->local, o);
	w->local_n++;
}

void ledger_writer_kick(struct ledger_writer *w)
{
	if (!w || !w->local.head)
		return;
	pthread_mutex_lock(&w->mu);
	if (w->queue.tail)
		w->queue.tail->next = w->local.head;
	else
		w->queue.head = w->local.head;
	w->queue.tail = w->local.tail;
	w->queued += w->local_n;
	/* a thread waiting out its commit interval is not woken for every
	 * loop turn (a context switch each): only for work, or a full batch */
	if (w->want_work || w->queued >= LEDGER_BATCH_MAX)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->local.head = w->local.tail = NULL;
	w->local_n = 0;
}

/* Runs consecutive rows as one append; instance rows one by one. */
static int64_t apply(struct ledger_writer *w, struct op *ops)
{
	int64_t rows = 0;
	struct ledger_row batch[LEDGER_BATCH_MAX];
	int nb = 0;
	for (struct op *o = ops; o; o = o->next) {
		if (o->kind == OP_ROW) {
			batch[nb++] = o->row;
			if (nb < LEDGER_BATCH_MAX && o->next && o->next->kind == OP_ROW)
				continue;
			int rc = state_ledger_append(w->st, batch, nb);
			if (rc) {
				log_error("ledger: %d rows not written: %s", nb, err_str(rc));
				w->failed += nb;
			} else {
				rows += nb;
			}
			nb = 0;
		} else if (o->kind == OP_INSTANCE) {
			int rc = state_instance_insert(w->st, &o->inst);
			if (rc)
				log_error("state: instance %s: %s", o->inst.id, err_str(rc));
		} else {
			int rc = state_instance_set_phase(w->st, o->inst.id, o->inst.phase,
			                                  o->inst.stop_ns, o->inst.exit_status,
			                                  o->inst.reason);
			if (rc)
				log_error("state: instance %s phase: %s", o->inst.id, err_str(rc));
		}
	}
	return rows;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* mu held: waits for work, then until the commit interval since last has
 * passed (unless enough is queued, or a flush or stop wants it now). */
static void wait_batch(struct ledger_writer *w, int64_t last)
{
	w->want_work = true;
	while (!w->queue.head && !w->stop)
		pthread_cond_wait(&w->cv, &w->mu);
	w->want_work = false;
	int64_t until = last + LEDGER_COMMIT_MS * 1000000LL;
	while (!w->stop && !w->flushing && w->queued < LEDGER_BATCH_MAX) {
		int64_t now = mono_ns();
		if (now >= until)
			break;
		struct timespec ts = {.tv_sec = until / 1000000000LL,
		                      .tv_nsec = until % 1000000000LL};
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
}

static void *writer_main(void *arg)
{
	struct ledger_writer *w = arg;
	int64_t last = 0;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		wait_batch(w, last);
		if (!w->queue.head && w->stop)
			break;
		struct op *ops = w->queue.head;
		w->queue.head = w->queue.tail = NULL;
		w->queued = 0;
		w->busy = true;
		pthread_mutex_unlock(&w->mu);
		last = mono_ns();
		int64_t rows = apply(w, ops);
		while (ops) {
			struct op *n = ops->next;
			free(ops);
			ops = n;
		}
		pthread_mutex_lock(&w->mu);
		w->busy = false;
		w->written += rows;
		pthread_cond_broadcast(&w->done_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ledger_writer_start(const char *path, struct ledger_writer **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	struct ledger_writer *w = xcalloc(1, sizeof *w);
	int rc = state_open(path, &w->st, err);
	if (rc) {
		free(w);
		return rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&w->done_cv, NULL);
	rc = pthread_create(&w->th, NULL, writer_main, w);
	if (rc) {
		state_close(w->st);
		free(w);
		return err_set(err, -rc, "ledger writer thread: %s", strerror(rc));
	}
	pthread_setname_np(w->th, "gpurun-ledger"); /* top -H, /proc/PID/task/TID/comm */
	*out = w;
	return 0;
}

void ledger_writer_flush(struct ledger_writer *w)
{
	if (!w)
		return;
	ledger_writer_kick(w);
	pthread_mutex_lock(&w->mu);
	w->flushing++;
	pthread_cond_signal(&w->cv);
	while (w->queue.head || w->busy)
		pthread_cond_wait(&w->done_cv, &w->mu);
	w->flushing--;
	pthread_mutex_unlock(&w->mu);
}

int64_t ledger_writer_written(struct ledger_writer *w)
{
	pthread_mutex_lock(&w->mu);
	int64_t n = w->written;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void ledger_writer_stop(struct ledger_writer *w)
{
	if (!w)
		return;
	ledger_writer_kick(w);
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	state_close(w->st);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->done_cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
