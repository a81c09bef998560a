/* sched.c — the scheduler's front and its manager thread: configuration
 * from the environment, submission (fast path to a loaded model, else the
 * load queue), loading one model at a time, eviction when max_loaded is
 * reached, keep-alive expiry, and listings for /api/ps and /metrics.
 * Semantics: reference ollama-api.md §4.1-4.2. The per-model worker thread
 * is in sched_runner.c. */
#include "ollama/sched_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- configuration ---- */

/* GPURUN_name, else OLLAMA_name, trimmed of spaces and quotes (Ollama's
 * envconfig.Var). NULL when unset or empty. */
static const char *env_var(const char *name, char *tmp, size_t cap)
{
	char key[64];
	snprintf(key, sizeof key, "GPURUN_%s", name);
	const char *v = getenv(key);
	if (!v || !*v) {
		snprintf(key, sizeof key, "OLLAMA_%s", name);
		v = getenv(key);
	}
	if (!v)
		return NULL;
	while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '"' || v[n - 1] == '\''))
		n--;
	if (!n || n >= cap)
		return NULL;
	memcpy(tmp, v, n);
	tmp[n] = 0;
	return tmp;
}

bool sched_parse_keep_alive_env(const char *s, int64_t *ns)
{
	int64_t secs;
	if (str_to_i64(s, &secs)) {
		*ns = secs < 0 ? SCHED_KEEP_FOREVER : secs * 1000000000LL;
		return secs < INT64_MAX / 1000000000LL;
	}
	if (!time_parse_duration(s, ns))
		return false;
	if (*ns < 0)
		*ns = SCHED_KEEP_FOREVER;
	return true;
}

static int env_int(const char *name, int *out, int min, char err[ERR_MSG_LEN])
{
	char tmp[64];
	const char *v = env_var(name, tmp, sizeof tmp);
	int64_t x;
	if (!v)
		return 0;
	if (!str_to_i64(v, &x) || x < min || x > 1000000)
		return err_set(err, ERR_INVALID,
		               "GPURUN_%s/OLLAMA_%s=%s: expected an integer >= %d", name, name, v,
		               min);
	*out = (int)x;
	return 0;
}

int sched_config_from_env(struct sched_config *c, char err[ERR_MSG_LEN])
{
	memset(c, 0, sizeof *c);
	c->max_loaded = 3;
	c->num_parallel = 1;
	c->max_queue = 512;
	c->keep_alive_ns = 5 * 60 * 1000000000LL;
	c->default_ctx = 4096;
	c->kv_type = ENGINE_KV_F16;
	char tmp[64];
	const char *ka = env_var("KEEP_ALIVE", tmp, sizeof tmp);
	if (ka && !sched_parse_keep_alive_env(ka, &c->keep_alive_ns))
		return err_set(err, ERR_INVALID, "KEEP_ALIVE=%s: not a duration", ka);
	int ctx = 0, max_loaded = 0;
	int rc = env_int("NUM_PARALLEL", &c->num_parallel, 1, err);
	if (!rc)
		rc = env_int("MAX_LOADED_MODELS", &max_loaded, 0, err);
	if (!rc)
		rc = env_int("MAX_QUEUE", &c->max_queue, 1, err);
	if (!rc)
		rc = env_int("CONTEXT_LENGTH", &ctx, 0, err);
	if (rc)
		return rc;
	if (max_loaded > 0) /* 0: automatic, 3 per GPU (3 on CPU) */
		c->max_loaded = max_loaded;
	if (ctx > 0)
		c->default_ctx = ctx < 4 ? 4 : ctx;
	return 0;
}

/* ---- lifecycle ---- */

static void *manager_main(void *arg);

struct sched *sched_new(const struct sched_config *cfg)
{
	struct sched *s = xcalloc(1, sizeof *s);
	s->cfg = *cfg;
	if (s->cfg.num_parallel < 1)
		s->cfg.num_parallel = 1;
	if (s->cfg.max_loaded < 1)
		s->cfg.max_loaded = 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->manager, NULL, manager_main, s)) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return NULL;
	}
	return s;
}

const struct sched_config *sched_config(const struct sched *s)
{
	return &s->cfg;
}

void sched_job_init(struct sched_job *j, const struct sched_job_ops *ops, void *user)
{
	memset(j, 0, sizeof *j);
	j->ops = ops;
	j->user = user;
	atomic_init(&j->cancel, false);
	j->state = JOB_NEW;
}

static struct sched_runner *find_runner(struct sched *s, const char *path)
{
	for (struct sched_runner *r = s->runners; r; r = r->next)
		if (r->state != RUNNER_UNLOADING && !strcmp(r->path, path))
			return r;
	return NULL;
}

static void runner_destroy(struct sched_runner *r)
{
	for (int i = 0; i < r->n_slots; i++)
		engine_seq_free(r->slots[i].seq);
	engine_model_free(r->model);
	pthread_cond_destroy(&r->wake);
	free(r->slots);
	free(r->step_seqs);
	free(r->admitting);
	free(r->path);
	free(r->name);
	free(r->details_json);
	free(r);
}

/* mu held on entry and on return (dropped while the thread is joined). */
static void unload_locked(struct sched *s, struct sched_runner *r)
{
	struct sched_runner **pp = &s->runners;
	while (*pp && *pp != r)
		pp = &(*pp)->next;
	if (*pp)
		*pp = r->next;
	s->n_runners--;
	s->unloads++;
	r->state = RUNNER_UNLOADING;
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&s->mu);
	if (r->has_thread)
		pthread_join(r->thread, NULL);
	log_info("sched: unloaded %s", r->name);
	runner_destroy(r);
	pthread_mutex_lock(&s->mu);
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->manager, NULL);
	pthread_mutex_lock(&s->mu);
	while (s->runners)
		unload_locked(s, s->runners);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- submission ---- */

/* mu held: jobs that wait for a load, or for a slot beyond those free. */
static int queued_locked(const struct sched *s)
{
	int n = s->n_pending;
	for (const struct sched_runner *r = s->runners; r; r = r->next) {
		int backlog = r->n_queued - (r->n_slots - r->n_busy);
		n += backlog > 0 ? backlog : 0;
	}
	return n;
}

int sched_submit(struct sched *s, struct sched_job *j)
{
	pthread_mutex_lock(&s->mu);
	struct sched_runner *r = find_runner(s, j->model.path);
	bool slot_free = r && r->n_busy + r->n_queued < r->n_slots;
	if (s->stop || (!slot_free && queued_locked(s) >= s->cfg.max_queue)) {
		pthread_mutex_unlock(&s->mu);
		return ERR_BUSY;
	}
	if (r) {
		sched__attach(r, j);
	} else {
		j->state = JOB_PENDING;
		j->next = NULL;
		s->n_pending++;
		if (s->p_tail)
			s->p_tail->next = j;
		else
			s->p_head = j;
		s->p_tail = j;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void sched_job_cancel(struct sched *s, struct sched_job *j)
{
	pthread_mutex_lock(&s->mu);
	atomic_store(&j->cancel, true);
	if (j->seq)
		engine_seq_cancel(j->seq);
	if (j->state == JOB_QUEUED && j->runner)
		pthread_cond_signal(&j->runner->wake);
	else if (j->state == JOB_PENDING)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

bool sched_unload(struct sched *s, const char *path)
{
	pthread_mutex_lock(&s->mu);
	struct sched_runner *r = find_runner(s, path);
	if (r) {
		r->keep_alive_ns = 0;
		if (r->refs == 0)
			r->expires_ns = time_mono_ns();
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return r != NULL;
}

bool sched_is_loaded(struct sched *s, const char *path)
{
	pthread_mutex_lock(&s->mu);
	bool yes = find_runner(s, path) != NULL;
	pthread_mutex_unlock(&s->mu);
	return yes;
}

/* ---- manager ---- */

/* mu held: unlinks pending jobs that were cancelled into *dead. */
static void reap_pending(struct sched *s, struct sched_job **dead)
{
	struct sched_job **pp = &s->p_head, *last = NULL;
	while (*pp) {
		struct sched_job *j = *pp;
		if (atomic_load(&j->cancel) || s->stop) {
			*pp = j->next;
			s->n_pending--;
			j->state = JOB_DONE;
			j->next = *dead;
			*dead = j;
			continue;
		}
		last = j;
		pp = &j->next;
	}
	s->p_tail = last;
}

static void end_dead(struct sched_job *dead, int rc)
{
	while (dead) {
		struct sched_job *j = dead;
		dead = j->next;
		if (rc == ERR_CANCELLED)
			snprintf(j->err, sizeof j->err, "request canceled");
		j->ops->done(j, NULL, rc);
	}
}

/* mu held: an expired idle runner, or the idle one to evict for a load. */
static struct sched_runner *pick_unload(struct sched *s, int64_t now, bool need_room)
{
	struct sched_runner *best = NULL;
	for (struct sched_runner *r = s->runners; r; r = r->next) {
		if (r->state != RUNNER_READY || r->refs > 0)
			continue;
		if (r->expires_ns <= now)
			return r;
		if (need_room && (!best || r->keep_alive_ns < best->keep_alive_ns))
			best = r;
	}
	return best;
}

static struct sched_runner *runner_new(struct sched *s, struct sched_job *j)
{
	struct sched_runner *r = xcalloc(1, sizeof *r);
	r->s = s;
	r->path = xstrdup(j->model.path);
	r->name = xstrdup(j->model.name ? j->model.name : j->model.path);
	r->details_json = xstrdup(j->model.details_json ? j->model.details_json : "{}");
	snprintf(r->digest, sizeof r->digest, "%s", j->model.digest ? j->model.digest : "");
	r->size = j->model.size;
	r->state = RUNNER_LOADING;
	r->keep_alive_ns = s->cfg.keep_alive_ns;
	r->expires_ns = INT64_MAX;
	r->n_slots = s->cfg.num_parallel;
	r->slots = xcalloc((size_t)r->n_slots, sizeof *r->slots);
	r->step_seqs = xcalloc((size_t)r->n_slots, sizeof *r->step_seqs);
	r->admitting = xcalloc((size_t)r->n_slots, sizeof *r->admitting);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	r->next = s->runners;
	s->runners = r;
	s->n_runners++;
	return r;
}

/* mu held on entry and return: loads r's model with the lock dropped. */
static void load_locked(struct sched *s, struct sched_runner *r)
{
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	lp.n_threads = s->cfg.n_threads;
	lp.kv_type = s->cfg.kv_type;
	lp.n_ctx = s->cfg.default_ctx;
	char err[ERR_MSG_LEN] = "";
	pthread_mutex_unlock(&s->mu);
	int64_t t0 = time_mono_ns();
	struct engine_model *m = engine_model_load(r->path, &lp, err);
	if (m) {
		const struct engine_model_info *mi = engine_model_info(m);
		log_info("sched: loaded %s in %.1f ms on %s (%d threads%s%s)", r->name,
		         (double)(time_mono_ns() - t0) / 1e6, mi->backend ? mi->backend : "cpu",
		         mi->n_threads, mi->backend_note && *mi->backend_note ? "; " : "",
		         mi->backend_note ? mi->backend_note : "");
	}
	pthread_mutex_lock(&s->mu);
	if (m) {
		const struct engine_model_info *info = engine_model_info(m);
		r->model = m;
		r->n_ctx_train = info->n_ctx_train > 0 ? info->n_ctx_train : s->cfg.default_ctx;
		r->n_ctx_default =
		    s->cfg.default_ctx < r->n_ctx_train ? s->cfg.default_ctx : r->n_ctx_train;
		r->state = RUNNER_READY;
		s->loads++;
		int64_t now = time_mono_ns();
		for (struct sched_job *j = r->q_head; j; j = j->next)
			j->ready_ns = now;
		if (pthread_create(&r->thread, NULL, sched__runner_main, r) == 0) {
			r->has_thread = true;
			return;
		}
		snprintf(err, sizeof err, "cannot start a runner thread");
	}
	log_error("sched: loading %s: %s", r->name, err);
	/* Fail every job waiting on this runner, then drop it. */
	struct sched_job *dead = r->q_head;
	for (struct sched_job *j = dead; j; j = j->next) {
		j->state = JOB_DONE;
		snprintf(j->err, sizeof j->err, "%s", err);
	}
	r->q_head = r->q_tail = NULL;
	r->refs = 0;
	unload_locked(s, r);
	s->unloads--;
	pthread_mutex_unlock(&s->mu);
	end_dead(dead, ERR_INVALID);
	pthread_mutex_lock(&s->mu);
}

/* mu held: the head pending job gets its runner. False when it must wait
 * (every loaded model is busy and max_loaded is reached). */
static bool place_pending(struct sched *s, int64_t now)
{
	struct sched_job *j = s->p_head;
	struct sched_runner *r = find_runner(s, j->model.path);
	if (!r && s->n_runners >= s->cfg.max_loaded) {
		struct sched_runner *victim = pick_unload(s, now, true);
		if (!victim)
			return false;
		unload_locked(s, victim);
		return true; /* state changed: look again */
	}
	s->p_head = j->next;
	if (!s->p_head)
		s->p_tail = NULL;
	s->n_pending--;
	if (r) {
		sched__attach(r, j);
		return true;
	}
	r = runner_new(s, j);
	sched__attach(r, j);
	load_locked(s, r);
	return true;
}

static void wait_until(struct sched *s, int64_t deadline)
{
	if (deadline == INT64_MAX) {
		pthread_cond_wait(&s->cv, &s->mu);
		return;
	}
	struct timespec ts = {.tv_sec = deadline / 1000000000LL,
	                      .tv_nsec = deadline % 1000000000LL};
	pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void *manager_main(void *arg)
{
	struct sched *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct sched_job *dead = NULL;
		reap_pending(s, &dead);
		if (dead) {
			pthread_mutex_unlock(&s->mu);
			end_dead(dead, ERR_CANCELLED);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		int64_t now = time_mono_ns();
		struct sched_runner *expired = pick_unload(s, now, false);
		if (expired) {
			unload_locked(s, expired);
			continue;
		}
		if (s->p_head && place_pending(s, now))
			continue;
		int64_t next = INT64_MAX;
		for (struct sched_runner *r = s->runners; r; r = r->next)
			if (r->state == RUNNER_READY && r->refs == 0 && r->expires_ns < next)
				next = r->expires_ns;
		wait_until(s, next);
	}
	struct sched_job *dead = NULL;
	reap_pending(s, &dead);
	pthread_mutex_unlock(&s->mu);
	end_dead(dead, ERR_CANCELLED);
	return NULL;
}

/* ---- listings ---- */

int sched_list(struct sched *s, struct sched_loaded **out, int *n)
{
	pthread_mutex_lock(&s->mu);
	struct sched_loaded *l = xcalloc((size_t)s->n_runners + 1, sizeof *l);
	int k = 0;
	int64_t now = time_mono_ns(), wall = time_wall_ns();
	for (struct sched_runner *r = s->runners; r; r = r->next) {
		struct sched_loaded *e = &l[k++];
		e->name = xstrdup(r->name);
		e->path = xstrdup(r->path);
		e->details_json = xstrdup(r->details_json);
		memcpy(e->digest, r->digest, sizeof e->digest);
		e->size = r->size + r->kv_bytes;
		const struct engine_model_info *mi = r->model ? engine_model_info(r->model) : NULL;
		if (mi && mi->backend && strncmp(mi->backend, "cpu", 3))
			e->size_vram = e->size; /* weights and KV caches live on the device */
		int64_t left = r->refs > 0 || r->expires_ns == INT64_MAX ? r->keep_alive_ns
		                                                         : r->expires_ns - now;
		if (left < 0)
			left = 0;
		e->expires_wall_ns = left >= INT64_MAX - wall ? INT64_MAX : wall + left;
		e->n_ctx = r->n_ctx_default;
		e->busy_slots = r->n_busy;
		e->queued = r->n_queued;
	}
	pthread_mutex_unlock(&s->mu);
	/* Longest remaining keep-alive first (Ollama's PsHandler). */
	for (int i = 1; i < k; i++)
		for (int m = i; m > 0 && l[m].expires_wall_ns > l[m - 1].expires_wall_ns; m--) {
			struct sched_loaded t = l[m];
			l[m] = l[m - 1];
			l[m - 1] = t;
		}
	*out = l;
	*n = k;
	return 0;
}

void sched_loaded_free(struct sched_loaded *l, int n)
{
	for (int i = 0; l && i < n; i++) {
		free(l[i].name);
		free(l[i].path);
		free(l[i].details_json);
	}
	free(l);
}

void sched_stats(struct sched *s, struct sched_stats *st)
{
	pthread_mutex_lock(&s->mu);
	st->loaded = s->n_runners;
	st->waiting = queued_locked(s);
	st->running = s->n_running;
	st->loads = s->loads;
	st->unloads = s->unloads;
	pthread_mutex_unlock(&s->mu);
}
