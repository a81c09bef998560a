/* sched_internal.h — the scheduler's runner and state, shared by sched.c
 * (submission, manager thread, listing) and sched_runner.c (a model's worker
 * thread). One mutex (sched.mu) guards every field below that more than one
 * thread touches; slot contents are the runner thread's alone. */
#ifndef GPURUN_OLLAMA_SCHED_INTERNAL_H
#define GPURUN_OLLAMA_SCHED_INTERNAL_H

#include "ollama/sched.h"

enum job_state { JOB_NEW, JOB_PENDING, JOB_QUEUED, JOB_RUNNING, JOB_DONE };
enum runner_state { RUNNER_LOADING, RUNNER_READY, RUNNER_UNLOADING };

struct sched_slot {
	struct engine_seq *seq; /* NULL until first used */
	struct sched_job *job;  /* running here, or NULL */
	int64_t last_used;      /* mono ns */
};

struct sched_runner {
	struct sched *s;
	char *path, *name, *details_json;
	char digest[65];
	int64_t size;
	struct engine_model *model; /* NULL while loading */
	int64_t n_ctx_train, n_ctx_default;
	enum runner_state state;
	int refs;                          /* jobs attached: queued or running */
	int64_t keep_alive_ns;             /* session duration */
	int64_t expires_ns;                /* mono; INT64_MAX while busy or forever */
	struct sched_job *q_head, *q_tail; /* waiting for a slot */
	int n_queued;
	struct sched_slot *slots;
	int n_slots;
	int n_busy;                    /* slots reserved or running */
	struct engine_seq **step_seqs; /* n_slots, the runner thread's scratch */
	struct sched_job **admitting;  /* n_slots, the runner thread's scratch */
	int64_t kv_bytes;              /* KV caches allocated, for /api/ps */
	pthread_t thread;
	bool has_thread;
	bool stop;
	pthread_cond_t wake;
	struct sched_runner *next;
};

struct sched {
	struct sched_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the manager's */
	struct sched_runner *runners;
	int n_runners;
	struct sched_job *p_head, *p_tail; /* waiting for their model to load */
	int n_pending;                     /* jobs in the p_ list */
	int n_running;
	bool stop;
	pthread_t manager;
	int64_t loads, unloads;
};

/* sched_runner.c */
void *sched__runner_main(void *arg);
/* mu held: queues j on r (r->refs counted, keep-alive updated). */
void sched__attach(struct sched_runner *r, struct sched_job *j);
/* mu NOT held: ends j (state, refs, idle time) and runs its done callback. */
void sched__job_end(struct sched_runner *r, struct sched_job *j, struct engine_seq *seq, int rc);
/* mu held: the runner's idle deadline from its keep-alive. */
void sched__runner_idle(struct sched_runner *r, int64_t now);

#endif
