/* autoscaler.h — Knative's pod autoscaler (KPA) for one revision, as pure
 * functions over a clock the caller passes in (reference §4.3-4.5):
 *
 *   TV   = max(0.01, target x utilization)      target: containerConcurrency,
 *                                                or the target annotation if lower
 *   obs_stable, obs_panic = time-weighted average in-flight requests over the
 *          stable window (60 s) and the panic window (10% of it: 6 s), kept in
 *          1-second buckets
 *   R    = max(1, ready instances)
 *   dspc = ceil(obs_stable / TV), dppc = ceil(obs_panic / TV)
 *   maxUp = ceil(1000 x R), maxDown = floor(R / 2) (0 when not reachable)
 *   desiredStable = clamp(dspc, maxDown, maxUp), desiredPanic likewise
 *   panic starts (or extends) when dppc / R >= 2.0, and ends once not over the
 *   threshold and a stable window has passed since it last was; in panic the
 *   count is max(stable, panic, the highest count of this panic): it never
 *   goes down. scale-down-delay keeps the highest count of that window.
 *
 * gpurun's serverless rules on top (Cloud Run semantics, §1.3, §4.5):
 *   - a request in flight (held by the activator or on an instance) means at
 *     least max(1, activation_scale) instances: scale from zero at once;
 *   - no request in flight for idle_timeout: 0 instances (then min_scale),
 *     whatever the windows still remember — this is the scale-to-zero grace;
 *   - until then, an instance that is up stays up (the windows may say 0);
 *   - the result is clamped to [min_scale, max_scale].
 *
 * Threading: a struct kpa belongs to one thread (the daemon's loop); no
 * locks, no clock reads, no allocation after kpa_init. */
#ifndef GPURUN_PLATFORM_AUTOSCALER_H
#define GPURUN_PLATFORM_AUTOSCALER_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/spec.h"

#define KPA_NS_PER_S    1000000000LL
#define KPA_TICK_NS     (2 * KPA_NS_PER_S) /* Knative decides every 2 s */
#define KPA_TARGET_MIN  0.01
#define KPA_DELAY_SLOTS 64

struct kpa_config {
	double target;                /* requests per instance before utilization (> 0) */
	double utilization;           /* 0.70 */
	int64_t stable_window_ns;     /* 60 s; 6 s .. 1 h */
	double panic_window_pct;      /* 10: panic window = 6 s */
	double panic_threshold;       /* 2.0 (200%) */
	double max_scale_up_rate;     /* 1000 */
	double max_scale_down_rate;   /* 2 */
	int min_scale;                /* 0 */
	int max_scale;                /* 0 = unlimited */
	int activation_scale;         /* 1 */
	int64_t idle_timeout_ns;      /* scale to zero after this long with nothing in flight */
	int64_t scale_down_delay_ns;  /* 0 */
	double target_burst_capacity; /* 211; 0: activator only at zero; -1: always */
	bool reachable;               /* the revision takes traffic */
};

struct kpa_bucket {
	int64_t sec;     /* which second since the epoch of the clock this slot holds */
	double integral; /* in-flight requests x seconds within that second */
};

struct kpa {
	struct kpa_config cfg;
	struct kpa_bucket *buckets; /* ring, one per second of the stable window (+1) */
	int64_t n_buckets;
	int64_t first_ns; /* first observation, -1 before it */
	int64_t last_ns;  /* integrated up to here */
	int64_t in_flight;
	int64_t last_active_ns; /* last moment in_flight was > 0 */
	int64_t panic_time_ns;  /* -1 when not panicking */
	int max_panic_pods;
	struct {
		int64_t at_ns;
		int desired;
	} delay[KPA_DELAY_SLOTS];
	int n_delay;
};

struct kpa_decision {
	int desired;                  /* instances wanted now */
	bool panic;                   /* in panic mode */
	bool idle;                    /* nothing in flight for idle_timeout */
	double stable_concurrency;    /* obs_stable */
	double panic_concurrency;     /* obs_panic */
	double target;                /* TV */
	double excess_burst_capacity; /* < 0: keep the activator in the path */
};

/* Knative's defaults with target 100, idle timeout 15 min. */
void kpa_config_default(struct kpa_config *c);
/* From a revision's spec: target = min(scaling.target, concurrency) when the
 * annotation is set, else concurrency; utilization, windows, threshold,
 * min/max instances, idle timeout and scale-down delay from the spec. */
void kpa_config_from_spec(struct kpa_config *c, const struct spec *s);

/* now_ns: any monotonic clock, the same in every call. */
int kpa_init(struct kpa *k, const struct kpa_config *c, int64_t now_ns);
void kpa_release(struct kpa *k);
/* Changes bounds and targets; a different stable window restarts the
 * observations. */
int kpa_config_set(struct kpa *k, const struct kpa_config *c, int64_t now_ns);

/* The revision's in-flight count changed to in_flight at now_ns (a request
 * arrived at the activator or an instance, or one finished). Times never go
 * backwards; an earlier now_ns counts as now. */
void kpa_observe(struct kpa *k, int64_t now_ns, int64_t in_flight);
/* One decision (call every KPA_TICK_NS, and at once when a request finds no
 * instance). ready: instances ready to serve now. */
void kpa_decide(struct kpa *k, int64_t now_ns, int ready, struct kpa_decision *d);
/* Average in-flight requests over the last window_ns (for metrics). */
double kpa_average(struct kpa *k, int64_t now_ns, int64_t window_ns);

#endif
