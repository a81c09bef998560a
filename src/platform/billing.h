/* billing.h — usage and cost from ledger rows, Cloud Run's model
 * (reference §3.1-3.5):
 *
 *   lifetime  = [start, exit) of an instance (exit missing: still running,
 *               billed up to the report's end), clipped to [since, until)
 *   instance-based (always for GPUs): billed = lifetime
 *   request-based: billed = the union of startup [start, ready), every
 *               request span and shutdown [stop, exit), clipped; plus, for an
 *               instance kept by min-instances, idle = lifetime - billed at
 *               the idle rates; each request pays the per-request fee
 *   each instance's billed (and idle) time is rounded up to 100 ms
 *   vCPU-seconds = billed x vCPUs, GiB-seconds = billed x memory / 2^30,
 *   GPU-seconds = lifetime (rounded) x GPUs — "GPU is billed for the entire
 *   duration of the instance lifecycle"
 *   cost = the sum of each quantity x its price; for a service that reports
 *   tokens (the model server), cost per 1,000 tokens = cost / tokens x 1000.
 *
 * Prices come from $GPURUN_HOME/prices.json (billing_prices_load), defaults
 * Cloud Run's published Tier-1 prices. Computing and rendering are pure:
 * no clock, no I/O except the price file; any thread. */
#ifndef GPURUN_PLATFORM_BILLING_H
#define GPURUN_PLATFORM_BILLING_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/ledger.h"

#define BILLING_GPU_TYPES_MAX       16
#define BILLING_ROUNDING_NS_DEFAULT 100000000LL /* "rounded up to the nearest 100 millisecond" */

struct billing_gpu_price {
	char type[64]; /* "nvidia-l4" */
	double per_s;
};

struct billing_prices {
	char currency[8];
	int64_t rounding_ns;
	double ib_vcpu_s, ib_gib_s;                          /* instance-based */
	double rb_vcpu_s, rb_gib_s, rb_per_million_requests; /* request-based, active */
	double rb_idle_vcpu_s, rb_idle_gib_s;                /* request-based idle min-instances */
	double gpu_default_s;                                /* a GPU of unknown type */
	struct billing_gpu_price gpu[BILLING_GPU_TYPES_MAX];
	int n_gpu;
};

void billing_prices_default(struct billing_prices *p);
/* Overrides p's values with the keys present in j (prices.json's shape, as
 * billing_prices_to_json writes it); unknown keys and negative prices are
 * errors. */
int billing_prices_from_json(const cJSON *j, struct billing_prices *p, char err[ERR_MSG_LEN]);
cJSON *billing_prices_to_json(const struct billing_prices *p);
/* Defaults, then the file's values; a missing file is not an error. */
int billing_prices_load(const char *path, struct billing_prices *p, char err[ERR_MSG_LEN]);
/* Writes p (0644, atomically) so the user can edit it. */
int billing_prices_save(const char *path, const struct billing_prices *p);
double billing_gpu_price(const struct billing_prices *p, const char *type);

struct billing_usage {
	double billed_s; /* billable instance time (rounded) */
	double idle_s;   /* idle min-instance time at the idle rate (rounded) */
	double vcpu_s, gib_s, gpu_s;
	double idle_vcpu_s, idle_gib_s;
	int64_t requests;
	int64_t tokens;
	double cost_cpu, cost_memory, cost_gpu, cost_requests, cost_idle, cost;
};

struct billing_instance {
	char *service, *revision, *instance, *gpu_type;
	bool instance_based;
	int64_t cpu_milli, memory_bytes;
	int gpus;
	int64_t start_ns, end_ns; /* clipped to the window */
	bool running;             /* no exit row yet */
	double wall_s;            /* end - start, unrounded */
	struct billing_usage u;
};

struct billing_service {
	char *service;
	int64_t instances;
	int modes; /* bit 0: request-based seen, bit 1: instance-based seen */
	struct billing_usage u;
	double cost_per_1k_tokens; /* 0 when the service reported no tokens */
};

struct billing_report {
	struct billing_instance *instances; /* by service, then start */
	int64_t n_instances;
	struct billing_service *services; /* by name */
	int64_t n_services;
	struct billing_usage total;
	int64_t since_ns, until_ns;
	char currency[8];
};

struct billing_filter {
	const char *service; /* NULL: every service */
	int64_t since_ns;    /* 0: from the beginning */
	int64_t until_ns;    /* the report's end: now */
};

/* rows: any order; rows of other services are skipped when filtered. */
int billing_compute(const struct ledger_row *rows, int64_t n, const struct billing_prices *p,
                    const struct billing_filter *f, struct billing_report *out);
void billing_report_release(struct billing_report *r);

enum billing_format { BILLING_FORMAT_TABLE, BILLING_FORMAT_JSON, BILLING_FORMAT_CSV };
bool billing_format_parse(const char *s, enum billing_format *f);
/* Appends the report: per service and a total; per_instance adds a line per
 * instance (table and CSV; JSON always carries both). */
void billing_report_render(const struct billing_report *r, enum billing_format f, bool per_instance,
                           struct buf *out);

#endif
