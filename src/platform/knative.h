/* knative.h — a service as Knative serving.knative.dev/v1 Service YAML, in
 * and out (reference/cloudrun-knative.md §1.14, §4.1-4.3), through libyaml.
 *
 * Mapping (import and export agree, so export(import(y)) keeps every field
 * gpurun supports):
 *   metadata.name / namespace          service name / kept as is
 *   metadata.labels[cloud.googleapis.com/location]   spec.region
 *   metadata.annotations[run.googleapis.com/invoker-iam-disabled]  allow_unauthenticated
 *   template.metadata.name             the revision name to create
 *   template annotations: autoscaling.knative.dev/{minScale|min-scale,
 *     maxScale|max-scale, target, target-utilization-percentage, window,
 *     panic-window-percentage, panic-threshold-percentage, scale-down-delay},
 *     run.googleapis.com/{cpu-throttling, startup-cpu-boost},
 *     gpurun.dev/idle-timeout; any other annotation or label is kept verbatim
 *   template.spec.containerConcurrency, timeoutSeconds,
 *     nodeSelector[run.googleapis.com/accelerator] (gpu_type)
 *   containers[0]: name, image, command, args, env (name/value),
 *     ports[0].containerPort, resources.limits {cpu, memory, nvidia.com/gpu},
 *     startupProbe {tcpSocket|httpGet, initialDelaySeconds, timeoutSeconds,
 *     periodSeconds, failureThreshold}
 *   spec.traffic[]: revisionName | latestRevision, percent, tag
 * Fields gpurun does not support (volumes, sidecars' absence aside) are
 * reported as warnings and dropped; output-only fields (status, uid,
 * generation, ...) are ignored. Malformed or hostile YAML (wrong types, more
 * than one container, duplicate keys, more than one document, over
 * KNATIVE_YAML_MAX bytes) is an error with the path of the offending field.
 *
 * Pure data transformation: no I/O, no globals; any thread. */
#ifndef GPURUN_PLATFORM_KNATIVE_H
#define GPURUN_PLATFORM_KNATIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "platform/spec.h"

#define KNATIVE_YAML_MAX         (1 << 20)
#define KNATIVE_API_VERSION      "serving.knative.dev/v1"
#define KNATIVE_ANN_IDLE_TIMEOUT "gpurun.dev/idle-timeout"

struct knative_service {
	char *name;
	char *namespace_;    /* NULL when absent */
	char *revision_name; /* template.metadata.name; NULL: the platform names it */
	struct spec spec;
	struct spec_traffic *traffic; /* n_traffic == 0: 100% to the latest revision */
	int64_t n_traffic;
};

struct knative_condition {
	const char *type;   /* "Ready", "ConfigurationsReady", "RoutesReady" */
	const char *status; /* "True", "False", "Unknown" */
	const char *reason; /* may be NULL */
	const char *message;
};

/* Output-only state written under status: by knative_export. Borrowed. */
struct knative_status {
	const char *url;
	int64_t observed_generation;
	const char *latest_created_revision;
	const char *latest_ready_revision;
	const struct knative_condition *conditions;
	int64_t n_conditions;
	/* the routing in effect, "latest" resolved to revision names */
	const struct spec_traffic *traffic;
	int64_t n_traffic;
};

void knative_service_init(struct knative_service *k);
void knative_service_release(struct knative_service *k);

/* Parses one YAML document into out (initialised here; release it even on
 * error). warnings (may be NULL) receives one line per field dropped. The
 * spec is validated (spec_validate) and so is the traffic. */
int knative_import(const char *yaml, size_t len, struct knative_service *out, struct buf *warnings,
                   char err[ERR_MSG_LEN]);

/* Appends the YAML of k (and of status when not NULL) to out. */
int knative_export(const struct knative_service *k, const struct knative_status *status,
                   struct buf *out, char err[ERR_MSG_LEN]);

#endif
