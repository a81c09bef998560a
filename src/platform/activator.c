/* activator.c — requests that find no instance with room wait here, in
 * arrival order per revision, while the autoscaler starts instances (Cloud
 * Run's pending queue, Knative's activator: reference §1.2, §1.9, §4.5).
 * A held request is sent the moment an instance is ready or one finishes a
 * request; it waits at most max(10 s, 3.5 x the average start time), then
 * gets 429; its request timeout (which counts the wait) gives 504 first. */
#include "platform/daemon_internal.h"

#include "base/timeutil.h"

#include <stdio.h>

#define SWEEP_MS 50

int64_t activator_hold_ms_for(struct rev *rv)
{
	int64_t avg = rv->n_started ? rv->start_ns_sum / rv->n_started : 0;
	return gateway_hold_ms(avg, rv->d->hold_min_ms);
}

#define PICK_CHUNK 64

struct inst *activator_pick(struct rev *rv)
{
	/* gateway_pick over chunks of the list; the best of each chunk competes */
	int cc = rv->spec.concurrency;
	struct inst *best = NULL, *chunk[PICK_CHUNK + 1];
	bool ready[PICK_CHUNK + 1];
	int active[PICK_CHUNK + 1];
	struct inst *in = rv->insts;
	int64_t now = 0; /* read once, and only when an instance is suspect */
	while (in) {
		int n = 0;
		if (best) {
			chunk[n] = best;
			ready[n] = true;
			active[n++] = best->active;
		}
		for (; in && n <= PICK_CHUNK; in = in->next, n++) {
			chunk[n] = in;
			if (in->suspect_until_mono && !now)
				now = time_mono_ns();
			ready[n] = in->phase == INST_READY && in->suspect_until_mono <= now;
			active[n] = in->active;
		}
		int i = gateway_pick(ready, active, n, cc);
		best = i >= 0 ? chunk[i] : best;
	}
	return best;
}

void activator_unlink(struct gw_exchange *x)
{
	struct rev *rv = x->rev;
	if (!x->held)
		return;
	struct gw_exchange **pp = &rv->held_head, *prev = NULL;
	while (*pp && *pp != x) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = x->qnext;
		if (rv->held_tail == x)
			rv->held_tail = prev;
	}
	x->qnext = NULL;
	x->held = false;
	rv->n_held--;
}

void activator_hold(struct gw_exchange *x)
{
	struct rev *rv = x->rev;
	x->state = GW_HELD;
	x->held = x->was_held = true;
	x->hold_deadline_mono = x->t0_mono + activator_hold_ms_for(rv) * 1000000;
	x->qnext = NULL;
	if (rv->held_tail)
		rv->held_tail->qnext = x;
	else
		rv->held_head = x;
	rv->held_tail = x;
	rv->n_held++;
	scaler_observe(rv);
	scaler_decide(rv); /* scale from zero now, not at the next tick */
	activator_sweep_arm(rv->d);
}

void activator_release(struct rev *rv)
{
	while (rv->held_head) {
		struct inst *in = activator_pick(rv);
		if (!in)
			return;
		struct gw_exchange *x = rv->held_head;
		activator_unlink(x);
		gw_dispatch(x, in);
	}
}

void activator_fail_all(struct rev *rv, int status, const char *msg)
{
	while (rv->held_head) {
		struct gw_exchange *x = rv->held_head;
		activator_unlink(x);
		gw_fail(x, status, msg);
	}
}

static void sweep_cb(uv_timer_t *t)
{
	struct daemon *d = t->data;
	activator_sweep(d, time_mono_ns());
	/* held requests may now go to an instance whose suspect window ended */
	for (struct rev *rv = d->revs; rv; rv = rv->next)
		if (rv->held_head)
			activator_release(rv);
	if (!d->xs) {
		uv_timer_stop(&d->sweep);
		d->sweep_on = false;
	}
}

void activator_sweep_arm(struct daemon *d)
{
	if (d->sweep_on)
		return;
	d->sweep_on = true;
	uv_timer_start(&d->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
}

static void expire_held(struct gw_exchange *x, int64_t now, int verdict)
{
	char msg[160];
	activator_unlink(x);
	if (verdict == 504) {
		gw_metrics_for(x->d, x->service)->timeouts_504++;
		gw_fail(x, 504, "upstream request timeout: no instance became ready in time");
		return;
	}
	snprintf(msg, sizeof msg,
	         "The request was aborted because there was no available instance "
	         "(held %lld ms).",
	         (long long)((now - x->t0_mono) / 1000000));
	gw_metrics_for(x->d, x->service)->rejected_429++;
	gw_fail(x, 429, msg);
}

static bool expired(const struct gw_exchange *x, int64_t now)
{
	if (x->state == GW_HELD)
		return gateway_held_verdict(now, x->hold_deadline_mono, x->deadline_mono) != 0;
	return x->state != GW_HELD && x->deadline_mono <= now && !x->timed_out;
}

void activator_sweep(struct daemon *d, int64_t now)
{
	/* ending one exchange may dispatch or end others: rescan after each */
	for (;;) {
		struct gw_exchange *x = d->xs;
		while (x && !expired(x, now))
			x = x->next;
		if (!x)
			return;
		if (x->state == GW_HELD)
			expire_held(
			    x, now,
			    gateway_held_verdict(now, x->hold_deadline_mono, x->deadline_mono));
		else
			gw_timeout(x);
	}
}
