/* admin_internal.h — the admin API's logic without HTTP or the daemon:
 * each call takes a struct admin_ctx (the state, the node's GPUs, region and
 * home, a URL maker) and answers JSON, so admin.c is only routing and tests
 * drive the logic on a scratch state. Calls return 0 or a negative code with
 * a user-facing message in err; admin__http_status maps the code. Every
 * cJSON *out is the caller's to cJSON_Delete. Loop thread only (the state). */
#ifndef GPURUN_PLATFORM_ADMIN_INTERNAL_H
#define GPURUN_PLATFORM_ADMIN_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/gpu.h"
#include "platform/spec.h"
#include "platform/state.h"

#define ADMIN_TOKEN_TTL_MAX_S (24 * 3600)
#define ADMIN_DEFAULT_SUBJECT "local-user"
#define ADMIN_LOGS_LIMIT_MAX  100000

struct admin_ctx {
	struct state *st;
	const struct gpu_inventory *gpus;
	const char *region; /* the daemon's region: deploys elsewhere are refused */
	const char *home;   /* $GPURUN_HOME: prices.json, logs/ */
	/* The service's URL (http://NAME.localhost:PORT), malloc'd. */
	char *(*url)(void *data, const char *service);
	/* Its live instances as a JSON array (status.instances); NULL: the
	 * state's rows of instances not stopped. */
	cJSON *(*instances)(void *data, const char *service);
	/* Signs an identity token for audience, valid ttl_s, appended to out. */
	int (*sign)(void *data, const char *audience, int64_t ttl_s, struct buf *out);
	void *data;
	int64_t now_ns; /* wall clock of the request */
};

/* 400 for invalid input, 404, 409 (exists, busy), 413, else 500. */
int admin__http_status(int rc);

/* ---- services (admin_deploy.c) ---- */

/* POST /v1/services/NAME:deploy. body: {"spec": patch (spec_patch_apply
 * keys, only the given ones change), "no_traffic": bool, "tag": "t",
 * "revision_suffix": "s", "traffic": [targets]}; every key optional. Makes
 * a new immutable revision. *out: {"service": <service>, "revision": name,
 * "created": bool (the service is new), "percent": traffic percent the new
 * revision serves, "url": url}. */
int admin__deploy(const struct admin_ctx *c, const char *service, const cJSON *body, cJSON **out,
                  char err[ERR_MSG_LEN]);
/* POST /v1/services:replace with Knative YAML. *out as admin__deploy's,
 * "revision" null when the template named an existing equal revision (no
 * new one), plus "warnings": [lines]. */
int admin__replace(const struct admin_ctx *c, const char *yaml, size_t len, cJSON **out,
                   char err[ERR_MSG_LEN]);
int admin__delete(const struct admin_ctx *c, const char *service, char err[ERR_MSG_LEN]);
/* The spec's region must be the daemon's; --gpu N must fit the devices not
 * held by other services' live instances. */
int admin__check_placement(const struct admin_ctx *c, const char *service, const struct spec *s,
                           char err[ERR_MSG_LEN]);

/* ---- traffic (admin_traffic.c) ---- */

/* One assignment of `update-traffic --to-revisions`: revision "LATEST" is
 * the latest revision. */
struct admin_assign {
	const char *revision;
	int percent;
};

/* gcloud's --to-revisions rule on the split cur[0..n): the assigned targets
 * get their percents; when they sum under 100, the unassigned targets that
 * serve traffic are scaled to share the rest (largest remainders); tagged
 * targets stay (at 0% when dropped), untagged 0% targets go. *out is
 * xmalloc'd (spec_traffic_free_array). */
int admin__traffic_assign(const struct spec_traffic *cur, int64_t n, const struct admin_assign *a,
                          int64_t na, struct spec_traffic **out, int64_t *nout,
                          char err[ERR_MSG_LEN]);
/* POST /v1/services/NAME:traffic. body: {"to_revisions": {"REV": pct,
 * "LATEST": pct}} | {"to_latest": true} | {"traffic": [targets]}.
 * *out: the service. */
int admin__traffic(const struct admin_ctx *c, const char *service, const cJSON *body, cJSON **out,
                   char err[ERR_MSG_LEN]);

/* ---- views (admin_view.c) ---- */

/* A service as Knative JSON (the YAML of knative_export, with status: url,
 * conditions, latest revisions, traffic resolved to revision names) plus
 * metadata.generation/creationTimestamp and status.instances (live ones). */
int admin__service_json(const struct admin_ctx *c, const char *service, cJSON **out,
                        char err[ERR_MSG_LEN]);
/* Every service, by name: a JSON array. */
int admin__services_json(const struct admin_ctx *c, cJSON **out, char err[ERR_MSG_LEN]);
/* The service as Knative YAML without status (gcloud's --format export):
 * what admin__replace takes back unchanged. */
int admin__service_export(const struct admin_ctx *c, const char *service, struct buf *out,
                          char err[ERR_MSG_LEN]);
/* Revisions as Knative Revision JSON, newest first; service NULL: all. */
int admin__revisions_json(const struct admin_ctx *c, const char *service, cJSON **out,
                          char err[ERR_MSG_LEN]);
int admin__revision_json(const struct admin_ctx *c, const char *name, cJSON **out,
                         char err[ERR_MSG_LEN]);
int admin__revision_delete(const struct admin_ctx *c, const char *name, char err[ERR_MSG_LEN]);
/* "2026-11-28T15:44:08Z" (seconds: Kubernetes' timestamps). out >= 32. */
void admin__timestamp(int64_t wall_ns, char *out, size_t n);

/* ---- billing and tokens (admin_usage.c) ---- */

/* --since: a Go duration back from now ("1h30m"), RFC 3339
 * ("2026-11-28T15:00:00Z", offsets allowed), a date ("2026-11-28", UTC) or
 * Unix seconds. */
int admin__parse_since(const char *s, int64_t now_ns, int64_t *since_ns, char err[ERR_MSG_LEN]);
/* GET /v1/billing: the report from the ledger, priced from
 * $home/prices.json (written with the defaults when missing, for the user
 * to edit), rendered as format ("table", "json", "csv"). */
int admin__billing(const struct admin_ctx *c, const char *service, const char *since,
                   const char *format, bool per_instance, struct buf *out, char err[ERR_MSG_LEN]);
/* POST /v1/tokens. body: {"audience": url, "ttl_seconds": n}; the audience
 * (a service URL, as the gateway checks it) defaults to AUTH_AUDIENCE_ANY,
 * the TTL to AUTH_TTL_DEFAULT_S. *out: {"token", "audience", "expires_at"}. */
int admin__token(const struct admin_ctx *c, const cJSON *body, cJSON **out, char err[ERR_MSG_LEN]);

/* ---- logs (admin_logs.c) ---- */

struct http_req;
struct daemon;
/* GET /v1/services/NAME/logs: answers (or streams, with follow=1) r. */
void admin__logs(struct http_req *r, struct daemon *d, const char *service);

#endif
