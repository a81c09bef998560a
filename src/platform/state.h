/* state.h — the daemon's durable state in one SQLite file
 * ($GPURUN_HOME/state.db): services, their immutable revisions and traffic
 * split, instances, the usage ledger, signing keys and GPU allocations.
 *
 * Durability: WAL journal, synchronous=FULL — a call that returned 0 has
 * reached the disk, so a crash (of the daemon or the machine) loses no row
 * it reported written. Every multi-row change is one transaction. The file
 * (and its -wal/-shm) is created 0600: it holds the token signing key.
 * Schema: PRAGMA user_version, migrated forward on open; a file from a newer
 * gpurun is refused. Revisions refuse UPDATE and the ledger refuses UPDATE
 * and DELETE (triggers), whatever the caller does.
 *
 * Threading: one struct state is one SQLite connection, used by one thread
 * (the daemon's loop thread). Calls block on disk I/O (a commit is a fsync,
 * ~0.1-1 ms): batch ledger rows (state_ledger_append with n > 1) on hot paths.
 * Strings in out-structures are owned by them; release with the matching
 * *_release / *_free_array. Times are wall-clock nanoseconds. */
#ifndef GPURUN_PLATFORM_STATE_H
#define GPURUN_PLATFORM_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "platform/gpu.h"
#include "platform/ledger.h"
#include "platform/spec.h"

#define STATE_SCHEMA_VERSION  2
#define STATE_BUSY_TIMEOUT_MS 5000

struct state;

/* Opens (creating, mode 0600) and migrates the database at path. */
int state_open(const char *path, struct state **out, char err[ERR_MSG_LEN]);
void state_close(struct state *st); /* NULL is fine */
int state_schema_version(struct state *st);

/* ---- services, revisions, traffic ---- */

struct state_service {
	char *name;
	struct spec spec;             /* current: the latest revision's template + service fields */
	char *latest_revision;        /* latest created; NULL before the first */
	int64_t generation;           /* revisions created so far */
	struct spec_traffic *traffic; /* never empty once deployed */
	int64_t n_traffic;
	int64_t created_ns, updated_ns;
};

struct state_revision {
	char *name;
	char *service;
	int64_t generation; /* 1, 2, ... within the service */
	struct spec spec;   /* immutable */
	int64_t created_ns;
};

struct state_deploy_req {
	const char *service;
	const struct spec *spec;   /* validated by the caller */
	const char *revision_name; /* NULL: "<service>-<NNNNN>-<abc>", as Cloud Run names them */
	/* n_traffic == 0 keeps the split (a new service gets 100% latest) */
	const struct spec_traffic *traffic;
	int64_t n_traffic;
	bool no_traffic; /* gcloud --no-traffic: "latest" stays on the previous revision */
	int64_t now_ns;
};

/* Creates the service if needed and a new immutable revision holding spec,
 * in one transaction. rev_out gets the revision's name. ERR_EXISTS when
 * revision_name is taken; ERR_INVALID (with err) for traffic naming unknown
 * revisions. */
int state_deploy(struct state *st, const struct state_deploy_req *req,
                 char rev_out[SPEC_REVISION_NAME_MAX + 1], char err[ERR_MSG_LEN]);
/* Changes service-level fields only (region, allow_unauthenticated, labels,
 * service annotations); ERR_INVALID when the template differs. */
int state_service_update(struct state *st, const char *name, const struct spec *spec,
                         int64_t now_ns, char err[ERR_MSG_LEN]);
/* Replaces the split; every named revision must belong to the service. */
int state_traffic_set(struct state *st, const char *service, const struct spec_traffic *t,
                      int64_t n, int64_t now_ns, char err[ERR_MSG_LEN]);
/* ERR_NOT_FOUND when absent. */
int state_service_get(struct state *st, const char *name, struct state_service *out);
int state_service_list(struct state *st, struct state_service **out, int64_t *n);
/* Removes the service, its revisions and split. Instances' rows and the
 * ledger stay (history and billing). */
int state_service_delete(struct state *st, const char *name);
void state_service_release(struct state_service *s);
void state_service_free_array(struct state_service *s, int64_t n);

int state_revision_get(struct state *st, const char *name, struct state_revision *out);
/* Newest first. */
int state_revision_list(struct state *st, const char *service, struct state_revision **out,
                        int64_t *n);
/* Refused (ERR_BUSY) while the revision is in the split. */
int state_revision_delete(struct state *st, const char *name, char err[ERR_MSG_LEN]);
void state_revision_release(struct state_revision *r);
void state_revision_free_array(struct state_revision *r, int64_t n);

/* ---- instances ---- */

enum state_instance_phase {
	STATE_INSTANCE_STARTING,
	STATE_INSTANCE_READY,
	STATE_INSTANCE_STOPPING,
	STATE_INSTANCE_STOPPED,
};

struct state_instance {
	char *id;
	char *service;
	char *revision;
	int pid;
	int port;
	enum state_instance_phase phase;
	char *gpus;                          /* CUDA_VISIBLE_DEVICES value, "" for none */
	int64_t start_ns, ready_ns, stop_ns; /* 0 = not yet */
	int exit_status;                     /* when stopped: exit code, or -signal */
	char *reason;                        /* why it stopped; NULL while alive */
};

int state_instance_insert(struct state *st, const struct state_instance *in);
/* Moves an instance forward: READY sets ready_ns, STOPPING sets stop_ns,
 * STOPPED sets exit_status and reason (and stop_ns if still 0). */
int state_instance_set_phase(struct state *st, const char *id, enum state_instance_phase phase,
                             int64_t at_ns, int exit_status, const char *reason);
int state_instance_get(struct state *st, const char *id, struct state_instance *out);
/* service NULL: all; live_only: not STOPPED. Oldest first. */
int state_instance_list(struct state *st, const char *service, bool live_only,
                        struct state_instance **out, int64_t *n);
void state_instance_release(struct state_instance *in);
void state_instance_free_array(struct state_instance *in, int64_t n);
const char *state_instance_phase_str(enum state_instance_phase p);

/* ---- ledger ---- */

/* Appends n rows in one transaction, durable on return; assigns rows[i].seq. */
int state_ledger_append(struct state *st, struct ledger_row *rows, int64_t n);
/* The rows billing needs for [since_ns, now): every event of an instance that
 * had not exited before since_ns, and every request that ended at or after
 * since_ns. service NULL: all. In seq order. */
int state_ledger_read(struct state *st, const char *service, int64_t since_ns,
                      struct ledger_rows *out);
int64_t state_ledger_count(struct state *st);

/* ---- keys ---- */

/* The named secret of len bytes; made from random bytes the first time. */
int state_key_get_or_create(struct state *st, const char *name, uint8_t *key, size_t len,
                            int64_t now_ns);

/* ---- GPUs ---- */

/* Gives instance n devices of inv that no live allocation holds; idx[0..n)
 * receives their indices into inv->dev. ERR_BUSY with a message naming how
 * many are free (and ERR_INVALID when the node has fewer than n at all). */
int state_gpu_allocate(struct state *st, const char *instance, int n,
                       const struct gpu_inventory *inv, int64_t now_ns, int *idx,
                       char err[ERR_MSG_LEN]);
int state_gpu_release(struct state *st, const char *instance);
/* How many of inv's devices are allocated. */
int state_gpu_in_use(struct state *st, const struct gpu_inventory *inv);

#endif
