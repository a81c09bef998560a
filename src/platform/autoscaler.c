/* autoscaler.c — the KPA decision (Knative serving's Scale(), reference
 * §4.4) over per-second buckets of time-weighted in-flight requests, plus
 * gpurun's scale-from-zero and idle-timeout rules (see autoscaler.h). No
 * clock reads, no I/O: the daemon drives it, tests drive it with a fake clock. */
#include "platform/autoscaler.h"

#include "base/err.h"
#include "base/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void kpa_config_default(struct kpa_config *c)
{
	memset(c, 0, sizeof *c);
	c->target = 100.0;
	c->utilization = 0.70;
	c->stable_window_ns = 60 * KPA_NS_PER_S;
	c->panic_window_pct = 10.0;
	c->panic_threshold = 2.0;
	c->max_scale_up_rate = 1000.0;
	c->max_scale_down_rate = 2.0;
	c->activation_scale = 1;
	c->idle_timeout_ns = (int64_t)SPEC_IDLE_TIMEOUT_DEFAULT_S * KPA_NS_PER_S;
	c->target_burst_capacity = 211.0;
	c->reachable = true;
}

void kpa_config_from_spec(struct kpa_config *c, const struct spec *s)
{
	kpa_config_default(c);
	int target = s->concurrency;
	if (s->scaling.target > 0 && s->scaling.target < target)
		target = s->scaling.target;
	c->target = target > 0 ? target : 100.0;
	c->utilization = s->scaling.utilization_pct / 100.0;
	c->stable_window_ns = (int64_t)s->scaling.window_s * KPA_NS_PER_S;
	c->panic_window_pct = s->scaling.panic_window_pct;
	c->panic_threshold = s->scaling.panic_threshold_pct / 100.0;
	c->min_scale = s->min_instances;
	c->max_scale = s->max_instances;
	c->idle_timeout_ns = (int64_t)s->idle_timeout_s * KPA_NS_PER_S;
	c->scale_down_delay_ns = (int64_t)s->scaling.scale_down_delay_s * KPA_NS_PER_S;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t window_secs(const struct kpa_config *c)
{
	int64_t s = (c->stable_window_ns + KPA_NS_PER_S - 1) / KPA_NS_PER_S;
	return s < 1 ? 1 : s;
}

int kpa_init(struct kpa *k, const struct kpa_config *c, int64_t now_ns)
{
	memset(k, 0, sizeof *k);
	k->cfg = *c;
	k->n_buckets = window_secs(c) + 1;
	k->buckets = try_calloc((size_t)k->n_buckets, sizeof *k->buckets);
	if (!k->buckets)
		return ERR_NOMEM;
	for (int64_t i = 0; i < k->n_buckets; i++)
		k->buckets[i].sec = INT64_MIN;
	k->first_ns = -1;
	k->last_ns = now_ns;
	k->last_active_ns = now_ns;
	k->panic_time_ns = -1;
	return 0;
}

void kpa_release(struct kpa *k)
{
	if (!k)
		return;
	free(k->buckets);
	k->buckets = NULL;
}

int kpa_config_set(struct kpa *k, const struct kpa_config *c, int64_t now_ns)
{
	if (c->stable_window_ns == k->cfg.stable_window_ns) {
		k->cfg = *c;
		return 0;
	}
	int64_t in_flight = k->in_flight, active = k->last_active_ns;
	kpa_release(k);
	int rc = kpa_init(k, c, now_ns);
	if (rc == 0) {
		k->last_active_ns = active;
		kpa_observe(k, now_ns, in_flight);
	}
	return rc;
}

static int64_t ring(const struct kpa *k, int64_t sec)
{
	int64_t i = sec % k->n_buckets;
	return i < 0 ? i + k->n_buckets : i;
}

static struct kpa_bucket *slot(struct kpa *k, int64_t sec)
{
	struct kpa_bucket *b = &k->buckets[ring(k, sec)];
	if (b->sec != sec) {
		b->sec = sec;
		b->integral = 0;
	}
	return b;
}

/* Integrates the current level from last_ns up to now. */
static void advance(struct kpa *k, int64_t now)
{
	int64_t t = k->last_ns;
	if (now <= t)
		return;
	if (k->first_ns >= 0 && k->in_flight > 0) {
		/* only the seconds still inside the ring matter */
		int64_t oldest = (floor_div(now, KPA_NS_PER_S) - k->n_buckets + 1) * KPA_NS_PER_S;
		if (t < oldest)
			t = oldest;
		while (t < now) {
			int64_t sec = floor_div(t, KPA_NS_PER_S);
			int64_t end = (sec + 1) * KPA_NS_PER_S;
			if (end > now)
				end = now;
			slot(k, sec)->integral += (double)k->in_flight * (double)(end - t) / 1e9;
			t = end;
		}
	}
	if (k->in_flight > 0)
		k->last_active_ns = now;
	k->last_ns = now;
}

void kpa_observe(struct kpa *k, int64_t now, int64_t in_flight)
{
	if (now < k->last_ns)
		now = k->last_ns;
	advance(k, now);
	if (k->first_ns < 0)
		k->first_ns = now;
	if (in_flight > 0 || k->in_flight > 0)
		k->last_active_ns = now;
	k->in_flight = in_flight < 0 ? 0 : in_flight;
}

double kpa_average(struct kpa *k, int64_t now, int64_t window_ns)
{
	if (now < k->last_ns)
		now = k->last_ns;
	advance(k, now);
	if (k->first_ns < 0)
		return 0.0;
	int64_t max_w = (k->n_buckets - 1) * KPA_NS_PER_S;
	int64_t start = now - (window_ns < max_w ? window_ns : max_w);
	if (start < k->first_ns)
		start = k->first_ns;
	if (now <= start)
		return (double)k->in_flight; /* no time has passed: the level itself */
	int64_t s0 = floor_div(start, KPA_NS_PER_S), s1 = floor_div(now - 1, KPA_NS_PER_S);
	double sum = 0;
	for (int64_t sec = s0; sec <= s1; sec++) {
		const struct kpa_bucket *b = &k->buckets[ring(k, sec)];
		if (b->sec != sec)
			continue;
		double part = b->integral;
		if (sec == s0) {
			/* the first bucket may start before the window: prorate it */
			int64_t bs = sec * KPA_NS_PER_S, be = bs + KPA_NS_PER_S;
			if (bs < k->first_ns)
				bs = k->first_ns;
			if (be > now)
				be = now;
			if (be > bs && start > bs)
				part *= (double)(be - start) / (double)(be - bs);
		}
		sum += part;
	}
	return sum / ((double)(now - start) / 1e9);
}

static int clampi(int64_t v, int64_t lo, int64_t hi)
{
	if (v > hi)
		v = hi;
	if (v < lo)
		v = lo;
	return v > INT32_MAX ? INT32_MAX : (int)v;
}

static int ceil_int(double x)
{
	double c = ceil(x - 1e-9); /* 14/7 is 2, not 3, after rounding noise */
	return c > (double)INT32_MAX ? INT32_MAX : (int)c;
}

/* Knative's panic bookkeeping; returns the count before the serverless rules. */
static int kpa_formula(struct kpa *k, int64_t now, int ready, struct kpa_decision *d)
{
	const struct kpa_config *c = &k->cfg;
	double R = ready > 1 ? ready : 1;
	d->target = fmax(KPA_TARGET_MIN, c->target * c->utilization);
	int64_t panic_ns = (int64_t)((double)c->stable_window_ns * c->panic_window_pct / 100.0);
	d->stable_concurrency = kpa_average(k, now, c->stable_window_ns);
	d->panic_concurrency = kpa_average(k, now, panic_ns);
	int dspc = ceil_int(d->stable_concurrency / d->target);
	int dppc = ceil_int(d->panic_concurrency / d->target);
	int64_t max_up = (int64_t)ceil(c->max_scale_up_rate * R);
	int64_t max_down = c->reachable ? (int64_t)floor(R / c->max_scale_down_rate) : 0;
	int stable = clampi(dspc, max_down, max_up), panic = clampi(dppc, max_down, max_up);
	if (c->activation_scale > 1) {
		if (dspc > 0 && stable < c->activation_scale)
			stable = c->activation_scale;
		if (dppc > 0 && panic < c->activation_scale)
			panic = c->activation_scale;
	}
	bool over = (double)dppc / R >= c->panic_threshold;
	if (over) {
		k->panic_time_ns = now; /* start or extend */
	} else if (k->panic_time_ns >= 0 && k->panic_time_ns + c->stable_window_ns <= now) {
		k->panic_time_ns = -1;
		k->max_panic_pods = 0;
	}
	int desired = stable;
	if (k->panic_time_ns >= 0) {
		if (desired < panic)
			desired = panic;
		if (desired > k->max_panic_pods)
			k->max_panic_pods = desired;
		else
			desired = k->max_panic_pods; /* never down while panicking */
	}
	d->panic = k->panic_time_ns >= 0;
	double total = c->target;
	if (c->target_burst_capacity == 0)
		d->excess_burst_capacity = 0;
	else if (c->target_burst_capacity < 0)
		d->excess_burst_capacity = -1;
	else
		d->excess_burst_capacity =
		    floor((double)ready * total - c->target_burst_capacity - d->panic_concurrency);
	return desired;
}

/* Keeps the highest count of the last scale_down_delay. */
static int apply_delay(struct kpa *k, int64_t now, int desired)
{
	if (k->cfg.scale_down_delay_ns <= 0)
		return desired;
	int keep = 0;
	for (int i = 0; i < k->n_delay; i++)
		if (k->delay[i].at_ns + k->cfg.scale_down_delay_ns > now)
			k->delay[keep++] = k->delay[i];
	k->n_delay = keep;
	if (k->n_delay == KPA_DELAY_SLOTS) {
		memmove(&k->delay[0], &k->delay[1], sizeof k->delay[0] * (KPA_DELAY_SLOTS - 1));
		k->n_delay--;
	}
	k->delay[k->n_delay].at_ns = now;
	k->delay[k->n_delay].desired = desired;
	k->n_delay++;
	for (int i = 0; i < k->n_delay; i++)
		if (k->delay[i].desired > desired)
			desired = k->delay[i].desired;
	return desired;
}

void kpa_decide(struct kpa *k, int64_t now, int ready, struct kpa_decision *d)
{
	const struct kpa_config *c = &k->cfg;
	memset(d, 0, sizeof *d);
	if (now < k->last_ns)
		now = k->last_ns;
	int desired = kpa_formula(k, now, ready, d);
	desired = apply_delay(k, now, desired);
	int floor_n = c->activation_scale > 1 ? c->activation_scale : 1;
	if (k->in_flight > 0) {
		if (desired < floor_n)
			desired = floor_n;
	} else if (now - k->last_active_ns >= c->idle_timeout_ns) {
		d->idle = true;
		desired = 0;
		k->panic_time_ns = -1;
		k->max_panic_pods = 0;
		k->n_delay = 0;
		d->panic = false;
	} else if (desired == 0 && ready > 0) {
		desired = 1; /* warm until the idle timeout */
	}
	if (desired < c->min_scale)
		desired = c->min_scale;
	if (c->max_scale > 0 && desired > c->max_scale)
		desired = c->max_scale;
	d->desired = desired;
}
