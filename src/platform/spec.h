/* spec.h — a service's specification: what to run (image or command), its
 * resources, scaling bounds and limits, with Cloud Run's defaults and limits
 * (reference/cloudrun-knative.md §1.3-1.7, §1.13, §1.16, §2.1, §4.3).
 *
 * Ownership: a struct spec owns every string and array it points to.
 * spec_init() fills the defaults, spec_release() frees, spec_copy() deep-copies.
 * A spec is plain data: no I/O, no globals, usable from any thread.
 *
 * Changes arrive as a JSON patch (the admin API's body, the deploy flags, a
 * Knative YAML): keys present change, keys absent keep their value — gcloud's
 * "update changes only the given flags". spec_from_json() is spec_init() then
 * spec_patch_apply() of a whole document; spec_to_json() writes every key.
 *
 * Service-level fields (allow_unauthenticated, region, labels,
 * service_annotations) change without a new revision; every other field is
 * part of the revision template (spec_template_equal()). */
#ifndef GPURUN_PLATFORM_SPEC_H
#define GPURUN_PLATFORM_SPEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/flags.h"

#define SPEC_NAME_MAX                   49 /* Cloud Run service names: DNS label, at most 49 chars */
#define SPEC_REVISION_NAME_MAX          63
#define SPEC_PORT_DEFAULT               8080
#define SPEC_CPU_DEFAULT_MILLI          1000
#define SPEC_CPU_MIN_MILLI              80
#define SPEC_CPU_MAX_MILLI              8000  /* without a GPU */
#define SPEC_GPU_CPU_MAX_MILLI          96000 /* local GPU boxes have no Cloud Run SKU cap */
#define SPEC_GPU_CPU_MIN_MILLI          4000  /* Cloud Run's L4 minimum shape (§2.1) */
#define SPEC_MEMORY_DEFAULT             (512LL << 20)
#define SPEC_MEMORY_MIN                 (128LL << 20)
#define SPEC_MEMORY_MAX                 (32LL << 30) /* without a GPU */
#define SPEC_GPU_MEMORY_MIN             (16LL << 30) /* L4 minimum shape */
#define SPEC_GPU_MEMORY_MAX             (1024LL << 30)
#define SPEC_GPU_MAX                    8
#define SPEC_CONCURRENCY_DEFAULT        80
#define SPEC_CONCURRENCY_MAX            1000
#define SPEC_TIMEOUT_DEFAULT_S          300
#define SPEC_TIMEOUT_MAX_S              3600
#define SPEC_MAX_INSTANCES_DEFAULT      100
#define SPEC_MAX_INSTANCES_LIMIT        1000
#define SPEC_IDLE_TIMEOUT_DEFAULT_S     900 /* Cloud Run keeps idle instances up to 15 min */
#define SPEC_GPU_IDLE_TIMEOUT_DEFAULT_S 600 /* ... and GPU instances up to 10 min */
#define SPEC_IDLE_TIMEOUT_MAX_S         86400
#define SPEC_ENV_VALUE_MAX              (32 * 1024)
#define SPEC_ARGS_MAX                   1000
#define SPEC_ENV_MAX                    1000
#define SPEC_REGION_DEFAULT             "local"
#define SPEC_IMAGE_OLLAMA               "gpurun/ollama" /* the built-in model server: `gpurun serve` */
#define SPEC_IMAGE_HELLO                "gpurun/hello"
#define SPEC_PROBE_BUDGET_DEFAULT_S     240 /* Cloud Run's default TCP startup probe */

struct spec_kv {
	char *name;
	char *value;
};

/* An ordered list of name=value pairs (env, annotations, labels). */
struct spec_kvs {
	struct spec_kv *items;
	int64_t n;
};

struct spec_strv {
	char **v;
	int64_t n;
};

enum spec_probe_kind { SPEC_PROBE_TCP, SPEC_PROBE_HTTP };

/* Startup probe, Kubernetes field meanings. The instance is ready when a TCP
 * connect (or an HTTP GET of path answering 200-399) succeeds; it has
 * initial_delay_s + max(period_s * failure_threshold, timeout_s) to get there. */
struct spec_probe {
	enum spec_probe_kind kind;
	char *path; /* HTTP only; NULL for TCP */
	int port;   /* 0 = the instance's port */
	int initial_delay_s;
	int timeout_s;
	int period_s;
	int failure_threshold;
};

/* Knative autoscaling annotations (§4.3); 0 for target means "derive it from
 * the concurrency". */
struct spec_scaling {
	int target;                 /* autoscaling.knative.dev/target, requests per instance */
	int utilization_pct;        /* target-utilization-percentage, default 70 */
	int window_s;               /* window (stable), default 60, 6..3600 */
	double panic_window_pct;    /* default 10, 1..100 */
	double panic_threshold_pct; /* default 200, 110..1000 */
	int scale_down_delay_s;     /* default 0, 0..3600 */
};

struct spec {
	/* revision template */
	char *image; /* "gpurun/ollama", an OCI reference, or NULL when command is set */
	struct spec_strv command; /* entrypoint; overrides the image's */
	struct spec_strv args;
	char *container_name; /* Knative containers[0].name, kept for round trips; may be NULL */
	int port;             /* the port the workload listens on inside its own network */
	struct spec_kvs env;
	int64_t cpu_milli; /* vCPU * 1000 */
	int64_t memory_bytes;
	int gpu;        /* whole devices, exclusive */
	char *gpu_type; /* nodeSelector run.googleapis.com/accelerator; may be NULL */
	int min_instances;
	int max_instances;
	int concurrency;     /* containerConcurrency: hard limit of requests per instance */
	int timeout_s;       /* request timeout */
	int idle_timeout_s;  /* scale an instance away after this long without requests */
	bool cpu_throttling; /* true: request-based billing; false: instance-based */
	bool startup_cpu_boost;
	struct spec_probe probe;
	struct spec_scaling scaling;
	struct spec_kvs annotations; /* other revision annotations, kept verbatim */
	/* service level */
	char *region;
	bool allow_unauthenticated;
	struct spec_kvs labels;              /* metadata.labels other than the location */
	struct spec_kvs service_annotations; /* metadata.annotations other than the ones mapped */
};

/* A traffic target (Knative TrafficTarget): a revision or "the latest", a
 * percent (0-100) and an optional tag. */
struct spec_traffic {
	char *revision; /* NULL when latest */
	bool latest;
	int percent;
	char *tag; /* NULL when untagged */
};

void spec_init(struct spec *s);
void spec_release(struct spec *s);
void spec_copy(struct spec *dst, const struct spec *src);

/* Checks every field against the limits above; the message names the field
 * the way the flag or YAML spells it. */
int spec_validate(const struct spec *s, char err[ERR_MSG_LEN]);
/* True when a and b would produce the same revision. */
bool spec_template_equal(const struct spec *a, const struct spec *b);
/* True for images this binary runs itself: "gpurun/ollama" (`gpurun serve`)
 * and "gpurun/hello" (`gpurun hello`). */
bool spec_image_is_builtin(const char *image);

/* Service names: lowercase letters, digits and '-', a letter first, no '-'
 * last, at most SPEC_NAME_MAX characters. Tags follow the same rule. */
bool spec_name_valid(const char *name);
int spec_name_check(const char *what, const char *name, char err[ERR_MSG_LEN]);

/* Revision names: "<service>-<suffix>", lowercase letters, digits and '-',
 * not ending with '-', at most SPEC_REVISION_NAME_MAX characters (Knative). */
int spec_revision_name_check(const char *service, const char *rev, char err[ERR_MSG_LEN]);

/* Kubernetes quantities: cpu "1", "0.5", "500m"; memory "512Mi", "2Gi",
 * "1G", "1024Ki", "536870912". Whole-string, overflow-checked. */
int spec_parse_cpu(const char *s, int64_t *milli, char err[ERR_MSG_LEN]);
int spec_parse_memory(const char *s, int64_t *bytes, char err[ERR_MSG_LEN]);
/* Canonical forms: "1", "500m"; "512Mi", "2Gi", else plain bytes. out >= 32. */
void spec_format_cpu(int64_t milli, char *out, size_t n);
void spec_format_memory(int64_t bytes, char *out, size_t n);
/* Seconds as gcloud takes them: a bare integer or a Go duration ("10m5s"),
 * whole seconds, 0..max_s. */
int spec_parse_seconds(const char *what, const char *s, int64_t max_s, int *out,
                       char err[ERR_MSG_LEN]);

/* JSON (admin API, stored revisions). spec_patch_apply changes only the keys
 * present; env may be replaced ("env": [{"name","value"}] or {"K":"V"}),
 * merged ("env_update": {"K":"V"}) or trimmed ("env_remove": ["K"]).
 * Unknown keys and wrong types are errors. A patch that turns a GPU on raises
 * the cpu, memory and idle-timeout defaults to the GPU shape's and selects
 * instance-based billing, unless the same patch sets them. On error s may be
 * partly patched: patch a copy. */
int spec_patch_apply(struct spec *s, const cJSON *patch, char err[ERR_MSG_LEN]);
int spec_from_json(const cJSON *j, struct spec *s, char err[ERR_MSG_LEN]);
cJSON *spec_to_json(const struct spec *s);

/* kv lists */
void spec_kvs_set(struct spec_kvs *l, const char *name, const char *value); /* replace or append */
bool spec_kvs_remove(struct spec_kvs *l, const char *name);
const char *spec_kvs_get(const struct spec_kvs *l, const char *name);
void spec_kvs_release(struct spec_kvs *l);
void spec_strv_push(struct spec_strv *v, const char *s);
void spec_strv_release(struct spec_strv *v);

/* Traffic: percents 0..100 summing to 100, at most one target per revision
 * and one "latest", tags unique and valid. */
int spec_traffic_validate(const struct spec_traffic *t, int64_t n, char err[ERR_MSG_LEN]);
/* The index of the target that receives a request, given a uniform random r:
 * weighted by percent; -1 when every percent is 0. */
int64_t spec_traffic_pick(const struct spec_traffic *t, int64_t n, uint32_t r);
void spec_traffic_copy(struct spec_traffic *dst, const struct spec_traffic *src);
void spec_traffic_release(struct spec_traffic *t);
void spec_traffic_free_array(struct spec_traffic *t, int64_t n);
cJSON *spec_traffic_to_json(const struct spec_traffic *t, int64_t n);
/* [{"revision":"x"|"latest":true,"percent":N,"tag":"t"}]; *out is xmalloc'd. */
int spec_traffic_from_json(const cJSON *j, struct spec_traffic **out, int64_t *n,
                           char err[ERR_MSG_LEN]);

/* `gpurun deploy` / `services update` flags (gcloud run deploy semantics).
 * spec_flags_add() appends the flag entries to the caller's table (which the
 * caller terminates, after its own flags, with a zeroed entry); after
 * flags_parse(), spec_flags_patch() turns the flags that were given — and only
 * those — into a patch for spec_patch_apply(). List values follow gcloud:
 * comma-separated, "^D^a,bDc" picks another delimiter D. */
struct spec_flags {
	const char *image, *command, *args, *port, *cpu, *memory, *gpu, *gpu_type;
	const char *min_instances, *max_instances, *concurrency, *timeout, *idle_timeout;
	const char *region, *startup_probe;
	struct flag_list env, set_env_vars, update_env_vars, remove_env_vars;
	bool clear_env_vars, allow_unauthenticated, cpu_throttling, cpu_boost;
};
#define SPEC_FLAGS_COUNT 23
void spec_flags_init(struct spec_flags *f);
void spec_flags_release(struct spec_flags *f);
/* Writes SPEC_FLAGS_COUNT entries to table[0..) (cap must allow it); returns
 * the count. */
int spec_flags_add(struct spec_flags *f, struct flag *table, int cap);
/* *patch: a new JSON object (possibly empty); NULL on error. */
int spec_flags_patch(const struct spec_flags *f, const struct flag *table, cJSON **patch,
                     char err[ERR_MSG_LEN]);

#endif
