/* admin.h — the daemon's admin API: JSON over HTTP/1.1 on the unix socket
 * $GPURUN_HOME/gpurun.sock (mode 0600: whoever can open it is the owner),
 * what the Cloud-Run-style verbs (`gpurun deploy`, `services`, `revisions`,
 * `logs`, `billing`, `auth`) call. Resources are Knative
 * serving.knative.dev/v1 objects (reference §1.14); semantics are gcloud
 * run's (§1.12-1.13). Errors are {"error": "message"} with 400 (bad input),
 * 404 (no such service or revision), 409 (exists, busy: GPUs, a revision
 * still serving), 413, 500.
 *
 *   GET    /v1/services                     [service...] (Knative JSON with status)
 *   GET    /v1/services/NAME                service: status.url, conditions,
 *                                           traffic, latest revisions, instances
 *   POST   /v1/services/NAME:deploy         {"spec": {fields to change}, "no_traffic",
 *                                            "tag", "revision_suffix", "traffic"}
 *                                           -> {"service", "revision", "created",
 *                                               "percent", "url"}; a new revision
 *   POST   /v1/services/NAME:traffic        {"to_revisions": {"REV"|"LATEST": pct}}
 *                                           | {"to_latest": true} | {"traffic": [...]}
 *   GET    /v1/services/NAME:export         Knative YAML without status
 *   POST   /v1/services:replace             Knative YAML body -> as :deploy,
 *                                           plus "warnings"
 *   DELETE /v1/services/NAME                {"deleted": NAME}
 *   GET    /v1/services/NAME/logs?limit=N&follow=1   text lines
 *                                           "TIME INSTANCE STREAM TEXT", streamed
 *                                           (chunked) until the client leaves
 *   GET    /v1/revisions[?service=S]        [revision...] newest first
 *   GET    /v1/revisions/NAME, DELETE /v1/revisions/NAME
 *   GET    /v1/billing?service=&since=&format=table|json|csv&instances=0|1
 *   POST   /v1/tokens                       {"audience": URL, "ttl_seconds": N}
 *                                           -> {"token", "audience", "expires_at"}
 *   GET    /v1/info                         {"region", "gateway_port", "gpus": {...}}
 *
 * Every handler runs on the daemon's loop thread and tells the daemon
 * (daemon_service_changed) after a change to a service. */
#ifndef GPURUN_PLATFORM_ADMIN_H
#define GPURUN_PLATFORM_ADMIN_H

struct http_router;
struct daemon;

#define ADMIN_API_PREFIX "/v1/"

/* Adds the routes above to r; d must outlive the router. Returns 0. */
int admin_register(struct http_router *r, struct daemon *d);

#endif
