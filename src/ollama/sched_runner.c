/* sched_runner.c — one loaded model's worker thread: admits queued jobs
 * into free slots (the slot whose KV cache shares the longest prefix with
 * the job's prompt first), starts them, and steps every running sequence
 * together in one forward pass per token (continuous batching). Jobs whose
 * client stopped reading are skipped until it reads again; cancelled jobs
 * end at once. Keep-alive bookkeeping happens when a job ends. */
#include "ollama/sched_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define PAUSED_WAIT_MS 2

void sched__runner_idle(struct sched_runner *r, int64_t now)
{
	if (r->keep_alive_ns < 0 || r->keep_alive_ns >= INT64_MAX - now)
		r->expires_ns = INT64_MAX; /* forever (or beyond the clock's range) */
	else if (r->keep_alive_ns == 0)
		r->expires_ns = now;
	else
		r->expires_ns = now + r->keep_alive_ns;
}

void sched__attach(struct sched_runner *r, struct sched_job *j)
{
	j->runner = r;
	j->state = JOB_QUEUED;
	j->next = NULL;
	if (r->state == RUNNER_READY)
		j->ready_ns = time_mono_ns();
	if (j->keep_alive_set)
		r->keep_alive_ns = j->keep_alive_ns;
	r->refs++;
	r->expires_ns = INT64_MAX;
	if (r->q_tail)
		r->q_tail->next = j;
	else
		r->q_head = j;
	r->q_tail = j;
	r->n_queued++;
	pthread_cond_signal(&r->wake);
}

void sched__job_end(struct sched_runner *r, struct sched_job *j, struct engine_seq *seq, int rc)
{
	struct sched *s = r->s;
	pthread_mutex_lock(&s->mu);
	if (j->state == JOB_RUNNING) {
		r->n_busy--;
		s->n_running--;
	}
	j->state = JOB_DONE;
	j->seq = NULL;
	if (--r->refs == 0) {
		sched__runner_idle(r, time_mono_ns());
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == ERR_CANCELLED && !j->err[0])
		snprintf(j->err, sizeof j->err, "request canceled");
	j->ops->done(j, seq, rc);
}

/* mu held: cancelled queued jobs are unlinked into *dead. */
static void reap_queue(struct sched_runner *r, struct sched_job **dead)
{
	struct sched_job **pp = &r->q_head, *last = NULL;
	while (*pp) {
		struct sched_job *j = *pp;
		if (atomic_load(&j->cancel) || r->stop) {
			*pp = j->next;
			r->n_queued--;
			j->next = *dead;
			*dead = j;
			continue;
		}
		last = j;
		pp = &j->next;
	}
	r->q_tail = last;
}

static int64_t common_prefix(struct engine_seq *seq, const int32_t *t, int64_t n)
{
	int64_t np = engine_seq_n_past(seq);
	const int32_t *have = engine_seq_tokens(seq);
	int64_t k = 0;
	while (k < np && k < n && have[k] == t[k])
		k++;
	return k;
}

/* The free slot for j: same context size and longest cached prefix, else a
 * never used slot, else the least recently used one. */
static struct sched_slot *pick_slot(struct sched_runner *r, struct sched_job *j)
{
	struct sched_slot *best = NULL, *empty = NULL, *lru = NULL;
	int64_t best_k = 0;
	for (int i = 0; i < r->n_slots; i++) {
		struct sched_slot *sl = &r->slots[i];
		if (sl->job)
			continue;
		if (!sl->seq) {
			if (!empty)
				empty = sl;
			continue;
		}
		if (!lru || sl->last_used < lru->last_used)
			lru = sl;
		if (j->tokens && engine_seq_n_ctx(sl->seq) == j->n_ctx) {
			int64_t k = common_prefix(sl->seq, j->tokens, j->n_tokens);
			if (k > best_k) {
				best_k = k;
				best = sl;
			}
		}
	}
	return best ? best : empty ? empty : lru;
}

static int64_t job_ctx(struct sched_runner *r, const struct sched_job *j)
{
	int64_t n = j->num_ctx > 0 ? j->num_ctx : r->n_ctx_default;
	if (n > r->n_ctx_train)
		n = r->n_ctx_train;
	return n < 4 ? 4 : n;
}

/* Gives the slot a sequence of n_ctx tokens (reallocating on a change of
 * size: the model itself is never reloaded for that). */
static int slot_seq(struct sched_runner *r, struct sched_slot *sl, int64_t n_ctx, char *err)
{
	if (sl->seq && engine_seq_n_ctx(sl->seq) == n_ctx)
		return 0;
	int64_t before = sl->seq ? engine_seq_n_ctx(sl->seq) : 0;
	engine_seq_free(sl->seq);
	sl->seq = engine_seq_new(r->model, n_ctx, err);
	const struct engine_model_info *mi = engine_model_info(r->model);
	int64_t per_tok = (int64_t)mi->n_layer * mi->n_head_kv * mi->head_dim * 2 *
	                  (r->s->cfg.kv_type == ENGINE_KV_F32 ? 4 : 2);
	pthread_mutex_lock(&r->s->mu);
	r->kv_bytes += ((sl->seq ? n_ctx : 0) - before) * per_tok;
	pthread_mutex_unlock(&r->s->mu);
	return sl->seq ? 0 : ERR_NOMEM;
}

/* Runs a job just taken from the queue: prepare, slot, start. */
static void admit(struct sched_runner *r, struct sched_job *j)
{
	struct sched *s = r->s;
	j->n_ctx = job_ctx(r, j);
	int rc = atomic_load(&j->cancel) ? ERR_CANCELLED : j->ops->prepare(j, r->model, j->n_ctx);
	if (rc != 0) {
		sched__job_end(r, j, NULL, rc == SCHED_NO_SLOT ? 0 : rc);
		return;
	}
	struct sched_slot *sl = pick_slot(r, j);
	rc = slot_seq(r, sl, j->n_ctx, j->err);
	if (rc) {
		sched__job_end(r, j, NULL, rc);
		return;
	}
	engine_seq_cancel_clear(sl->seq);
	pthread_mutex_lock(&s->mu);
	j->seq = sl->seq;
	if (atomic_load(&j->cancel))
		engine_seq_cancel(sl->seq);
	pthread_mutex_unlock(&s->mu);
	sl->job = j;
	sl->last_used = time_mono_ns();
	rc = j->ops->start(j, sl->seq);
	if (rc != 1) {
		sl->job = NULL;
		sched__job_end(r, j, sl->seq,
		               rc < 0 && atomic_load(&j->cancel) ? ERR_CANCELLED : rc);
	}
}

/* One token for every running job that is not paused. */
static void step(struct sched_runner *r)
{
	struct engine_seq **seqs = r->step_seqs;
	int n = 0, running = 0;
	for (int i = 0; i < r->n_slots; i++) {
		struct sched_slot *sl = &r->slots[i];
		if (!sl->job)
			continue;
		running++;
		bool cancel = atomic_load(&sl->job->cancel);
		if (!cancel && sl->job->ops->paused && sl->job->ops->paused(sl->job))
			continue;
		seqs[n++] = sl->seq;
	}
	int rc = n ? engine_gen_step(seqs, n) : 0;
	if (!n && running)
		time_sleep_ms(PAUSED_WAIT_MS);
	for (int i = 0; i < r->n_slots; i++) {
		struct sched_slot *sl = &r->slots[i];
		if (!sl->job || engine_gen_running(sl->seq))
			continue;
		struct sched_job *j = sl->job;
		sl->job = NULL;
		sl->last_used = time_mono_ns();
		int jrc = atomic_load(&j->cancel) ? ERR_CANCELLED : rc < 0 ? rc : 0;
		if (jrc && jrc != ERR_CANCELLED)
			snprintf(j->err, sizeof j->err, "generation failed: %s", err_str(jrc));
		sched__job_end(r, j, sl->seq, jrc);
	}
}

void *sched__runner_main(void *arg)
{
	struct sched_runner *r = arg;
	struct sched *s = r->s;
	struct sched_job **admitting = r->admitting;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct sched_job *dead = NULL;
		reap_queue(r, &dead);
		int n_adm = 0;
		while (r->q_head && r->n_busy < r->n_slots) {
			struct sched_job *j = r->q_head;
			r->q_head = j->next;
			if (!r->q_head)
				r->q_tail = NULL;
			r->n_queued--;
			s->n_running++;
			r->n_busy++;
			j->state = JOB_RUNNING;
			admitting[n_adm++] = j;
		}
		if (!dead && !n_adm && !r->n_busy) {
			if (r->stop)
				break;
			pthread_cond_wait(&r->wake, &s->mu);
			continue;
		}
		if (r->stop)
			for (int i = 0; i < r->n_slots; i++)
				if (r->slots[i].job)
					engine_seq_cancel(r->slots[i].seq);
		pthread_mutex_unlock(&s->mu);
		while (dead) {
			struct sched_job *j = dead;
			dead = j->next;
			sched__job_end(r, j, NULL, ERR_CANCELLED);
		}
		for (int i = 0; i < n_adm; i++)
			admit(r, admitting[i]);
		step(r);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}
