/* gateway.h — the pure pieces of the daemon's gateway and activator, kept
 * apart so they can be tested without sockets or processes: Host parsing
 * (NAME.localhost[:PORT], TAG---NAME.localhost as Cloud Run's tagged URLs,
 * custom domains), the activator's hold window (Cloud Run: max(10 s,
 * 3.5 x average start time), reference §1.2, §1.9), the instance pick
 * (least loaded ready instance under containerConcurrency) and the token
 * count found in a model server's response line (Ollama's eval_count,
 * OpenAI's completion_tokens). No I/O, no clock, no allocation. */
#ifndef GPURUN_PLATFORM_GATEWAY_H
#define GPURUN_PLATFORM_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/spec.h"

#define GATEWAY_HOST_MAX 255
#define GATEWAY_TAG_SEP  "---"
/* Service annotation listing extra Host names routed to the service. */
#define GATEWAY_DOMAINS_ANNOTATION "gpurun.dev/domains"

struct gateway_host {
	char host[GATEWAY_HOST_MAX + 1]; /* lower-cased, without the port */
	char service[SPEC_NAME_MAX + 1]; /* from NAME.localhost; "" for other hosts */
	char tag[SPEC_NAME_MAX + 1];     /* from TAG---NAME.localhost; "" when untagged */
	int port;                        /* -1 when the Host has none */
};

/* Parses a Host header value (n bytes). 0 with out filled, ERR_INVALID for
 * an empty, oversized or malformed value (bad characters, bad port). */
int gateway_host_parse(const char *p, size_t n, struct gateway_host *out);
/* True when host (lower-case, no port) is one of the comma-separated names
 * of list (case-insensitive, spaces ignored). */
bool gateway_domain_match(const char *list, const char *host);
/* How long the activator holds a request: max(floor_ms, 3.5 x average start
 * time); avg_start_ns 0 (no start seen yet) gives floor_ms. */
int64_t gateway_hold_ms(int64_t avg_start_ns, int64_t floor_ms);
/* What becomes of a held request at now (any clock, the same for all three
 * times): 0 keep holding, 504 its request timeout passed (that wins: the
 * timeout counts the wait, Cloud Run §1.2), 429 its hold window passed. */
int gateway_held_verdict(int64_t now, int64_t hold_deadline, int64_t deadline);
/* Among n instances (ready[i], active[i] requests each), the index of the
 * ready one with the fewest requests and room under cc (0: no limit);
 * -1 when none has room. Ties go to the lower index. */
int gateway_pick(const bool *ready, const int *active, int n, int cc);
/* Instances needed to give every one of in_flight requests a slot at cc per
 * instance (0: no limit: 1 when anything is in flight). */
int gateway_capacity_need(int64_t in_flight, int cc);
/* The tokens a model-server response line reports ("eval_count":N or
 * "completion_tokens":N); -1 when the line has none. */
int64_t gateway_tokens_scan(const char *line, size_t n);

#endif
