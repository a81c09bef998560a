/* scaler.c — the autoscaler loop: every tick (Knative's 2 s) and at once
 * when a request finds no room or an instance dies, each revision's KPA
 * (autoscaler.h) turns its observed concurrency into a desired instance
 * count; the activator's hard need (every held request a slot under
 * containerConcurrency) raises it; min/max instances bound it. Instances
 * start to reach it and idle ones stop to come down to it (scale to zero
 * after the idle timeout). Revisions without traffic drain to zero. */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/timeutil.h"

void scaler_observe(struct rev *rv)
{
	kpa_observe(&rv->kpa, time_mono_ns(), rv->active + rv->n_held);
}

static int desired_count(struct rev *rv, int64_t now)
{
	if (!rv->reachable || rv->d->shutting_down)
		return 0;
	struct kpa_decision dec;
	kpa_decide(&rv->kpa, now, rv->n_ready, &dec);
	int want = dec.desired;
	int need = gateway_capacity_need(rv->active + rv->n_held, rv->spec.concurrency);
	if (want < need)
		want = need;
	if (rv->spec.max_instances > 0 && want > rv->spec.max_instances)
		want = rv->spec.max_instances;
	if (want < rv->spec.min_instances)
		want = rv->spec.min_instances;
	return want;
}

/* Stops up to n idle instances, the longest idle first. */
static void stop_idle(struct rev *rv, int n)
{
	while (n-- > 0) {
		struct inst *pick = NULL;
		for (struct inst *in = rv->insts; in; in = in->next) {
			if (in->phase != INST_READY || in->active > 0)
				continue;
			if (!pick || in->idle_since_mono < pick->idle_since_mono)
				pick = in;
		}
		if (!pick)
			return;
		inst_stop(pick, rv->reachable ? "scaled down" : "revision has no traffic");
	}
}

void scaler_decide(struct rev *rv)
{
	int64_t now = time_mono_ns();
	int want = desired_count(rv, now);
	int up = rv->n_ready + rv->n_starting;
	if (want > up) {
		if (now < rv->next_start_mono)
			return; /* crash-loop back-off */
		char err[ERR_MSG_LEN];
		for (int i = up; i < want; i++)
			if (inst_start(rv, err))
				break;
	} else if (want < up && rv->n_held == 0) {
		stop_idle(rv, up - want);
	}
}

void scaler_tick(struct daemon *d)
{
	for (struct rev *rv = d->revs; rv; rv = rv->next) {
		scaler_observe(rv);
		scaler_decide(rv);
		activator_release(rv);
	}
	daemon__revs_gc(d);
}
