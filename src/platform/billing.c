/* billing.c — usage and cost per instance and per service from ledger rows
 * (the formulas are in billing.h; Cloud Run's model, reference §3). Rows are
 * grouped by instance; a request-based instance's billable time is the union
 * of its startup, request spans and shutdown, so concurrent requests are not
 * billed twice. Rendering is billing_report.c, prices billing_prices.c. */
#include "platform/billing.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

struct ival {
	int64_t a, b;
};

static int cmp_idx(const void *x, const void *y, void *ctx)
{
	const struct ledger_row *rows = ctx;
	const struct ledger_row *a = &rows[*(const int64_t *)x];
	const struct ledger_row *b = &rows[*(const int64_t *)y];
	int c = strcmp(a->instance ? a->instance : "", b->instance ? b->instance : "");
	if (c)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return a->at_ns < b->at_ns ? -1 : a->at_ns > b->at_ns;
}

static int cmp_ival(const void *x, const void *y)
{
	const struct ival *a = x, *b = y;
	return a->a < b->a ? -1 : a->a > b->a;
}

static int64_t round_up(int64_t ns, int64_t unit)
{
	if (ns <= 0)
		return 0;
	if (unit <= 1)
		return ns;
	return (ns + unit - 1) / unit * unit;
}

/* Total length of the union of v[0..n) clipped to [lo, hi). Sorts v. */
static int64_t union_len(struct ival *v, int64_t n, int64_t lo, int64_t hi)
{
	qsort(v, (size_t)n, sizeof *v, cmp_ival);
	int64_t total = 0, cur_a = 0, cur_b = 0;
	bool open = false;
	for (int64_t i = 0; i < n; i++) {
		int64_t a = v[i].a < lo ? lo : v[i].a, b = v[i].b > hi ? hi : v[i].b;
		if (b <= a)
			continue;
		if (open && a <= cur_b) {
			if (b > cur_b)
				cur_b = b;
			continue;
		}
		if (open)
			total += cur_b - cur_a;
		cur_a = a;
		cur_b = b;
		open = true;
	}
	if (open)
		total += cur_b - cur_a;
	return total;
}

/* The instance's events, found in its group of rows. */
struct events {
	const struct ledger_row *start;
	int64_t ready, stop, exit; /* -1 when absent */
	int64_t n_requests;
};

static void scan(const struct ledger_row *rows, const int64_t *g, int64_t n, struct events *e)
{
	memset(e, 0, sizeof *e);
	e->ready = e->stop = e->exit = -1;
	for (int64_t i = 0; i < n; i++) {
		const struct ledger_row *r = &rows[g[i]];
		switch (r->kind) {
		case LEDGER_INSTANCE_START:
			if (!e->start)
				e->start = r;
			break;
		case LEDGER_INSTANCE_READY:
			if (e->ready < 0)
				e->ready = r->at_ns;
			break;
		case LEDGER_INSTANCE_STOP:
			if (e->stop < 0)
				e->stop = r->at_ns;
			break;
		case LEDGER_INSTANCE_EXIT:
			if (e->exit < 0)
				e->exit = r->at_ns;
			break;
		case LEDGER_REQUEST: e->n_requests++; break;
		}
	}
}

static void price_usage(struct billing_usage *u, const struct billing_instance *in,
                        const struct billing_prices *p)
{
	double vcpu = (double)in->cpu_milli / 1000.0, gib = (double)in->memory_bytes / GIB;
	u->vcpu_s = u->billed_s * vcpu;
	u->gib_s = u->billed_s * gib;
	u->idle_vcpu_s = u->idle_s * vcpu;
	u->idle_gib_s = u->idle_s * gib;
	if (in->instance_based) {
		u->cost_cpu = u->vcpu_s * p->ib_vcpu_s;
		u->cost_memory = u->gib_s * p->ib_gib_s;
	} else {
		u->cost_cpu = u->vcpu_s * p->rb_vcpu_s;
		u->cost_memory = u->gib_s * p->rb_gib_s;
		u->cost_requests = (double)u->requests * p->rb_per_million_requests / 1e6;
		u->cost_idle =
		    u->idle_vcpu_s * p->rb_idle_vcpu_s + u->idle_gib_s * p->rb_idle_gib_s;
	}
	u->cost_gpu = u->gpu_s * billing_gpu_price(p, in->gpu_type);
	u->cost = u->cost_cpu + u->cost_memory + u->cost_gpu + u->cost_requests + u->cost_idle;
}

/* Active time of a request-based instance within [lo, hi). */
static int64_t active_ns(const struct ledger_row *rows, const int64_t *g, int64_t n,
                         const struct events *e, int64_t end, int64_t lo, int64_t hi)
{
	struct ival *v = xmalloc(sizeof *v * (size_t)(e->n_requests + 2));
	int64_t k = 0;
	v[k++] = (struct ival){e->start->at_ns, e->ready >= 0 ? e->ready : end};
	if (e->stop >= 0)
		v[k++] = (struct ival){e->stop, end};
	for (int64_t i = 0; i < n; i++)
		if (rows[g[i]].kind == LEDGER_REQUEST)
			v[k++] = (struct ival){rows[g[i]].start_ns, rows[g[i]].at_ns};
	int64_t len = union_len(v, k, lo, hi);
	free(v);
	return len;
}

/* Fills in from one instance's rows; false when it falls outside the window. */
static bool instance_bill(const struct ledger_row *rows, const int64_t *g, int64_t n,
                          const struct billing_prices *p, const struct billing_filter *f,
                          struct billing_instance *in)
{
	struct events e;
	scan(rows, g, n, &e);
	if (!e.start)
		return false; /* nothing to price it by */
	memset(in, 0, sizeof *in);
	const struct ledger_row *s = e.start;
	int64_t end = e.exit >= 0 ? e.exit : f->until_ns;
	int64_t lo = s->at_ns > f->since_ns ? s->at_ns : f->since_ns;
	int64_t hi = end < f->until_ns ? end : f->until_ns;
	int64_t life = hi > lo ? hi - lo : 0;
	struct billing_usage *u = &in->u;
	for (int64_t i = 0; i < n; i++) {
		const struct ledger_row *r = &rows[g[i]];
		if (r->kind == LEDGER_REQUEST && r->at_ns >= f->since_ns &&
		    r->at_ns < f->until_ns) {
			u->requests++;
			u->tokens += r->tokens > 0 ? r->tokens : 0;
		}
	}
	if (life == 0 && u->requests == 0)
		return false;
	in->instance_based = s->instance_based;
	in->cpu_milli = s->cpu_milli;
	in->memory_bytes = s->memory_bytes;
	in->gpus = s->gpus;
	in->start_ns = lo;
	in->end_ns = hi > lo ? hi : lo;
	in->running = e.exit < 0;
	in->wall_s = (double)life / 1e9;
	int64_t life_billed = round_up(life, p->rounding_ns);
	if (in->instance_based) {
		u->billed_s = (double)life_billed / 1e9;
	} else {
		int64_t act = active_ns(rows, g, n, &e, end, lo, hi);
		u->billed_s = (double)round_up(act, p->rounding_ns) / 1e9;
		if (s->min_instance)
			u->idle_s = (double)round_up(life - act, p->rounding_ns) / 1e9;
	}
	u->gpu_s = (double)life_billed / 1e9 * s->gpus;
	price_usage(u, in, p);
	in->service = xstrdup(s->service ? s->service : "");
	in->revision = xstrdup(s->revision ? s->revision : "");
	in->instance = xstrdup(s->instance ? s->instance : "");
	in->gpu_type = s->gpu_type ? xstrdup(s->gpu_type) : NULL;
	return true;
}

static void usage_add(struct billing_usage *t, const struct billing_usage *u)
{
	t->billed_s += u->billed_s;
	t->idle_s += u->idle_s;
	t->vcpu_s += u->vcpu_s;
	t->gib_s += u->gib_s;
	t->gpu_s += u->gpu_s;
	t->idle_vcpu_s += u->idle_vcpu_s;
	t->idle_gib_s += u->idle_gib_s;
	t->requests += u->requests;
	t->tokens += u->tokens;
	t->cost_cpu += u->cost_cpu;
	t->cost_memory += u->cost_memory;
	t->cost_gpu += u->cost_gpu;
	t->cost_requests += u->cost_requests;
	t->cost_idle += u->cost_idle;
	t->cost += u->cost;
}

static int cmp_inst(const void *x, const void *y)
{
	const struct billing_instance *a = x, *b = y;
	int c = strcmp(a->service, b->service);
	if (c)
		return c;
	if (a->start_ns != b->start_ns)
		return a->start_ns < b->start_ns ? -1 : 1;
	return strcmp(a->instance, b->instance);
}

static void aggregate(struct billing_report *r)
{
	if (r->n_instances > 1) /* qsort(NULL, 0) is undefined */
		qsort(r->instances, (size_t)r->n_instances, sizeof *r->instances, cmp_inst);
	for (int64_t i = 0; i < r->n_instances; i++) {
		const struct billing_instance *in = &r->instances[i];
		struct billing_service *sv = r->n_services ? &r->services[r->n_services - 1] : NULL;
		if (!sv || strcmp(sv->service, in->service)) {
			r->services = xrealloc(r->services,
			                       sizeof *r->services * (size_t)(r->n_services + 1));
			sv = &r->services[r->n_services++];
			memset(sv, 0, sizeof *sv);
			sv->service = xstrdup(in->service);
		}
		sv->instances++;
		sv->modes |= in->instance_based ? 2 : 1;
		usage_add(&sv->u, &in->u);
		usage_add(&r->total, &in->u);
	}
	for (int64_t i = 0; i < r->n_services; i++) {
		struct billing_service *sv = &r->services[i];
		if (sv->u.tokens > 0)
			sv->cost_per_1k_tokens = sv->u.cost / (double)sv->u.tokens * 1000.0;
	}
}

int billing_compute(const struct ledger_row *rows, int64_t n, const struct billing_prices *p,
                    const struct billing_filter *f, struct billing_report *out)
{
	memset(out, 0, sizeof *out);
	out->since_ns = f->since_ns;
	out->until_ns = f->until_ns;
	snprintf(out->currency, sizeof out->currency, "%s", p->currency);
	int64_t *idx = try_malloc_array((size_t)(n ? n : 1), sizeof *idx);
	if (!idx)
		return ERR_NOMEM;
	int64_t m = 0;
	for (int64_t i = 0; i < n; i++)
		if (!f->service || (rows[i].service && !strcmp(rows[i].service, f->service)))
			idx[m++] = i;
	qsort_r(idx, (size_t)m, sizeof *idx, cmp_idx, (void *)rows);
	for (int64_t i = 0; i < m;) {
		int64_t j = i + 1;
		const char *id = rows[idx[i]].instance ? rows[idx[i]].instance : "";
		while (j < m && !strcmp(rows[idx[j]].instance ? rows[idx[j]].instance : "", id))
			j++;
		struct billing_instance in;
		if (instance_bill(rows, idx + i, j - i, p, f, &in)) {
			out->instances =
			    xrealloc(out->instances,
			             sizeof *out->instances * (size_t)(out->n_instances + 1));
			out->instances[out->n_instances++] = in;
		}
		i = j;
	}
	free(idx);
	aggregate(out);
	return 0;
}

void billing_report_release(struct billing_report *r)
{
	if (!r)
		return;
	for (int64_t i = 0; i < r->n_instances; i++) {
		free(r->instances[i].service);
		free(r->instances[i].revision);
		free(r->instances[i].instance);
		free(r->instances[i].gpu_type);
	}
	free(r->instances);
	for (int64_t i = 0; i < r->n_services; i++)
		free(r->services[i].service);
	free(r->services);
	memset(r, 0, sizeof *r);
}
