/* ledger.h — the usage ledger's row: what metering records and billing
 * prices. An instance's life is four events (start: spawned, with the shape
 * it is billed for; ready: its port answered; stop: SIGTERM sent; exit: the
 * process is gone) and every request is one span on one instance. Times are
 * wall-clock nanoseconds (time_wall_ns), so a ledger outlives restarts.
 *
 * Strings: rows the caller builds borrow them; rows read back from the state
 * (struct ledger_rows) own them and ledger_rows_release frees them. */
#ifndef GPURUN_PLATFORM_LEDGER_H
#define GPURUN_PLATFORM_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

enum ledger_kind {
	LEDGER_INSTANCE_START,
	LEDGER_INSTANCE_READY,
	LEDGER_INSTANCE_STOP, /* SIGTERM sent: the shutdown period starts (still billed) */
	LEDGER_INSTANCE_EXIT,
	LEDGER_REQUEST,
};

struct ledger_row {
	int64_t seq; /* assigned by the state; 0 before */
	enum ledger_kind kind;
	int64_t at_ns; /* the event; for a request, when it ended */
	const char *service;
	const char *revision;
	const char *instance;
	/* LEDGER_INSTANCE_START: the shape this instance is billed for */
	int64_t cpu_milli;
	int64_t memory_bytes;
	int gpus;
	const char *gpu_type; /* NULL: the price table's default GPU */
	bool instance_based;  /* billing mode: instance-based (true) or request-based */
	bool min_instance;    /* kept up by min-instances (request-based idle rate) */
	/* LEDGER_REQUEST */
	int64_t start_ns;
	int status;     /* HTTP status sent to the client */
	int64_t tokens; /* tokens generated (model-server responses), else 0 */
	const char *request_id;
};

struct ledger_rows {
	struct ledger_row *rows;
	int64_t n;
};

const char *ledger_kind_str(enum ledger_kind k); /* "instance_start", ..., "request" */
bool ledger_kind_parse(const char *s, enum ledger_kind *k);
void ledger_rows_release(struct ledger_rows *r);

#endif
