/* gateway_metrics.c — the gateway's counters and their Prometheus text
 * exposition (format 0.0.4): requests by service and status, request
 * latency, cold starts and their duration, time to first byte of held
 * requests, instances per service and state, held requests, tokens. Kept
 * per service name, so a deleted and redeployed service keeps counting. */
#include "platform/daemon_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[GW_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,   0.5,   1,      2.5,   5,    10,    30,   60};

void gw_hist_add(struct gw_hist *h, double s)
{
	int i = 0;
	while (i < GW_LAT_BUCKETS && s > bounds[i])
		i++;
	h->count[i]++;
	h->sum += s;
	h->n++;
}

struct gw_svc_metrics *gw_metrics_for(struct daemon *d, const char *service)
{
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		if (!strcmp(m->service, service))
			return m;
	struct gw_svc_metrics *m = xcalloc(1, sizeof *m);
	snprintf(m->service, sizeof m->service, "%s", service);
	m->next = d->metrics;
	d->metrics = m;
	return m;
}

void gw_metrics_free(struct daemon *d)
{
	while (d->metrics) {
		struct gw_svc_metrics *n = d->metrics->next;
		free(d->metrics);
		d->metrics = n;
	}
}

static void hist(struct buf *o, const char *name, const char *svc, const struct gw_hist *h)
{
	int64_t cum = 0;
	for (int i = 0; i <= GW_LAT_BUCKETS; i++) {
		cum += h->count[i];
		if (i < GW_LAT_BUCKETS)
			buf_printf(o, "%s_bucket{service=\"%s\",le=\"%g\"} %lld\n", name, svc,
			           bounds[i], (long long)cum);
		else
			buf_printf(o, "%s_bucket{service=\"%s\",le=\"+Inf\"} %lld\n", name, svc,
			           (long long)cum);
	}
	buf_printf(o, "%s_sum{service=\"%s\"} %.6f\n", name, svc, h->sum);
	buf_printf(o, "%s_count{service=\"%s\"} %lld\n", name, svc, (long long)h->n);
}

static void header(struct buf *o, const char *name, const char *type, const char *help)
{
	buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct buf *o, struct daemon *d, const char *name, const char *help, size_t off)
{
	header(o, name, "counter", help);
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		buf_printf(o, "%s{service=\"%s\"} %lld\n", name, m->service,
		           (long long)*(const int64_t *)((const char *)m + off));
}

static void instances(struct buf *o, struct daemon *d)
{
	header(o, "gpurun_instances", "gauge", "Instances by service and state.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next) {
		int64_t n[3] = {0, 0, 0}, held = 0;
		for (struct rev *rv = d->revs; rv; rv = rv->next) {
			if (strcmp(rv->service, m->service))
				continue;
			n[0] += rv->n_starting;
			n[1] += rv->n_ready;
			n[2] += rv->n_stopping;
			held += rv->n_held;
		}
		buf_printf(o, "gpurun_instances{service=\"%s\",state=\"starting\"} %lld\n",
		           m->service, (long long)n[0]);
		buf_printf(o, "gpurun_instances{service=\"%s\",state=\"ready\"} %lld\n", m->service,
		           (long long)n[1]);
		buf_printf(o, "gpurun_instances{service=\"%s\",state=\"stopping\"} %lld\n",
		           m->service, (long long)n[2]);
	}
	header(o, "gpurun_held_requests", "gauge", "Requests held by the activator now.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		buf_printf(o, "gpurun_held_requests{service=\"%s\"} %lld\n", m->service,
		           (long long)daemon_service_held(d, m->service));
}

void daemon_metrics_render(struct daemon *d, struct buf *o)
{
	header(o, "gpurun_requests_total", "counter", "Requests by service and HTTP status.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		for (int i = 0; i < GW_STATUS_SLOTS && m->status[i].code; i++)
			buf_printf(o, "gpurun_requests_total{service=\"%s\",code=\"%d\"} %lld\n",
			           m->service, m->status[i].code, (long long)m->status[i].n);
	header(o, "gpurun_request_duration_seconds", "histogram",
	       "Arrival to last byte, by service.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		hist(o, "gpurun_request_duration_seconds", m->service, &m->latency);
	header(o, "gpurun_cold_start_duration_seconds", "histogram",
	       "Instance spawn to ready, by service.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		hist(o, "gpurun_cold_start_duration_seconds", m->service, &m->cold_start);
	header(o, "gpurun_held_first_byte_seconds", "histogram",
	       "Held (activator) requests: arrival to first byte.");
	for (struct gw_svc_metrics *m = d->metrics; m; m = m->next)
		hist(o, "gpurun_held_first_byte_seconds", m->service, &m->first_byte);
	counter(o, d, "gpurun_cold_starts_total", "Instances started.",
	        offsetof(struct gw_svc_metrics, cold_starts));
	counter(o, d, "gpurun_start_failures_total", "Instances that failed to start.",
	        offsetof(struct gw_svc_metrics, start_failures));
	counter(o, d, "gpurun_instance_crashes_total", "Instances that exited unasked.",
	        offsetof(struct gw_svc_metrics, crashes));
	counter(o, d, "gpurun_rejected_requests_total", "Held requests answered 429.",
	        offsetof(struct gw_svc_metrics, rejected_429));
	counter(o, d, "gpurun_timeouts_total", "Requests past their timeout (504).",
	        offsetof(struct gw_svc_metrics, timeouts_504));
	counter(o, d, "gpurun_tokens_total", "Tokens generated (model-server services).",
	        offsetof(struct gw_svc_metrics, tokens));
	instances(o, d);
}
