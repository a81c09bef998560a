/* billing_report.c — a billing report as a table (for people), JSON (for
 * tools; every field) or CSV (for spreadsheets). Amounts keep six decimals:
 * per-second prices are millionths of a dollar. */
#include "platform/billing.h"

#include "base/json.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool billing_format_parse(const char *s, enum billing_format *f)
{
	static const char *names[] = {"table", "json", "csv"};
	for (int i = 0; i < 3; i++) {
		if (!strcasecmp(s, names[i])) {
			*f = (enum billing_format)i;
			return true;
		}
	}
	return false;
}

static const char *mode_str(int modes)
{
	return modes == 3 ? "mixed" : modes == 2 ? "instance" : "request";
}

static void stamp(int64_t ns, char *out, size_t n)
{
	if (ns <= 0)
		snprintf(out, n, "-");
	else
		time_format_rfc3339(ns, out, n);
}

/* ---- table ---- */

/* "2026-11-28T15:44:08Z": seconds are enough for people. */
static void short_stamp(int64_t ns, char *out, size_t n)
{
	stamp(ns, out, n);
	char *dot = strchr(out, '.');
	if (dot)
		strcpy(dot, "Z");
}

static void table_row(struct buf *o, const char *name, const char *n_inst, const char *mode,
                      const struct billing_usage *u, double per_1k)
{
	char k[32] = "-";
	if (per_1k > 0)
		snprintf(k, sizeof k, "%.6f", per_1k);
	buf_printf(o, "%-24s %9s  %-8s %10.1f %10.1f %10.1f %9.1f %9lld %9lld %12.6f %13s\n", name,
	           n_inst, mode, u->billed_s, u->vcpu_s, u->gib_s, u->gpu_s, (long long)u->requests,
	           (long long)u->tokens, u->cost, k);
}

static void render_table(const struct billing_report *r, bool per_instance, struct buf *o)
{
	char a[48], b[48], n[32];
	short_stamp(r->since_ns, a, sizeof a);
	short_stamp(r->until_ns, b, sizeof b);
	buf_printf(o, "usage from %s to %s, %s\n", r->since_ns > 0 ? a : "the first record", b,
	           r->currency);
	buf_printf(o, "%-24s %9s  %-8s %10s %10s %10s %9s %9s %9s %12s %13s\n", "SERVICE",
	           "INSTANCES", "BILLING", "BILLED-S", "VCPU-S", "GIB-S", "GPU-S", "REQUESTS",
	           "TOKENS", "COST", "COST/1K-TOK");
	for (int64_t i = 0; i < r->n_services; i++) {
		const struct billing_service *s = &r->services[i];
		snprintf(n, sizeof n, "%lld", (long long)s->instances);
		table_row(o, s->service, n, mode_str(s->modes), &s->u, s->cost_per_1k_tokens);
	}
	snprintf(n, sizeof n, "%lld", (long long)r->n_instances);
	table_row(o, "TOTAL", n, "", &r->total, 0);
	if (!per_instance || r->n_instances == 0)
		return;
	buf_printf(o, "\n%-32s %-24s %-20s %-20s %-8s %10s %12s\n", "INSTANCE", "SERVICE", "START",
	           "END", "BILLING", "BILLED-S", "COST");
	for (int64_t i = 0; i < r->n_instances; i++) {
		const struct billing_instance *in = &r->instances[i];
		short_stamp(in->start_ns, a, sizeof a);
		if (in->running)
			snprintf(b, sizeof b, "(running)");
		else
			short_stamp(in->end_ns, b, sizeof b);
		buf_printf(o, "%-32s %-24s %-20s %-20s %-8s %10.1f %12.6f\n", in->instance,
		           in->service, a, b, in->instance_based ? "instance" : "request",
		           in->u.billed_s, in->u.cost);
	}
}

/* ---- JSON ---- */

static cJSON *usage_json(const struct billing_usage *u)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "billed_seconds", u->billed_s);
	cJSON_AddNumberToObject(o, "idle_seconds", u->idle_s);
	cJSON_AddNumberToObject(o, "vcpu_seconds", u->vcpu_s);
	cJSON_AddNumberToObject(o, "gib_seconds", u->gib_s);
	cJSON_AddNumberToObject(o, "gpu_seconds", u->gpu_s);
	cJSON_AddNumberToObject(o, "requests", (double)u->requests);
	cJSON_AddNumberToObject(o, "tokens", (double)u->tokens);
	cJSON *c = cJSON_AddObjectToObject(o, "cost");
	cJSON_AddNumberToObject(c, "cpu", u->cost_cpu);
	cJSON_AddNumberToObject(c, "memory", u->cost_memory);
	cJSON_AddNumberToObject(c, "gpu", u->cost_gpu);
	cJSON_AddNumberToObject(c, "requests", u->cost_requests);
	cJSON_AddNumberToObject(c, "idle", u->cost_idle);
	cJSON_AddNumberToObject(c, "total", u->cost);
	return o;
}

static void add_time(cJSON *o, const char *k, int64_t ns)
{
	char t[48];
	stamp(ns, t, sizeof t);
	cJSON_AddStringToObject(o, k, t);
}

static void render_json(const struct billing_report *r, struct buf *out)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "currency", r->currency);
	add_time(o, "since", r->since_ns);
	add_time(o, "until", r->until_ns);
	cJSON *svcs = cJSON_AddArrayToObject(o, "services");
	for (int64_t i = 0; i < r->n_services; i++) {
		const struct billing_service *s = &r->services[i];
		cJSON *e = usage_json(&s->u);
		cJSON_AddStringToObject(e, "service", s->service);
		cJSON_AddNumberToObject(e, "instances", (double)s->instances);
		cJSON_AddStringToObject(e, "billing", mode_str(s->modes));
		if (s->cost_per_1k_tokens > 0)
			cJSON_AddNumberToObject(e, "cost_per_1k_tokens", s->cost_per_1k_tokens);
		else
			cJSON_AddNullToObject(e, "cost_per_1k_tokens");
		cJSON_AddItemToArray(svcs, e);
	}
	cJSON *insts = cJSON_AddArrayToObject(o, "instances");
	for (int64_t i = 0; i < r->n_instances; i++) {
		const struct billing_instance *in = &r->instances[i];
		cJSON *e = usage_json(&in->u);
		cJSON_AddStringToObject(e, "instance", in->instance);
		cJSON_AddStringToObject(e, "service", in->service);
		cJSON_AddStringToObject(e, "revision", in->revision);
		cJSON_AddStringToObject(e, "billing", in->instance_based ? "instance" : "request");
		cJSON_AddNumberToObject(e, "vcpus", (double)in->cpu_milli / 1000.0);
		cJSON_AddNumberToObject(e, "memory_bytes", (double)in->memory_bytes);
		cJSON_AddNumberToObject(e, "gpus", in->gpus);
		add_time(e, "start", in->start_ns);
		add_time(e, "end", in->end_ns);
		cJSON_AddBoolToObject(e, "running", in->running);
		cJSON_AddNumberToObject(e, "wall_seconds", in->wall_s);
		cJSON_AddItemToArray(insts, e);
	}
	cJSON_AddItemToObject(o, "total", usage_json(&r->total));
	json_append(out, o);
	buf_putc(out, '\n');
	cJSON_Delete(o);
}

/* ---- CSV (RFC 4180) ---- */

static void csv_field(struct buf *o, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		buf_puts(o, s);
		return;
	}
	buf_putc(o, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_putc(o, '"');
		buf_putc(o, *s);
	}
	buf_putc(o, '"');
}

static void csv_row(struct buf *o, const char *level, const char *svc, const char *rev,
                    const char *inst, const char *mode, int64_t start, int64_t end, bool running,
                    const struct billing_usage *u, double per_1k)
{
	char a[48] = "", b[48] = "";
	if (start > 0)
		time_format_rfc3339(start, a, sizeof a);
	if (end > 0)
		time_format_rfc3339(end, b, sizeof b);
	const char *f[] = {level, svc, rev, inst, mode, a, b};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		csv_field(o, f[i]);
		buf_putc(o, ',');
	}
	buf_printf(o, "%s,%.3f,%.3f,%.3f,%.3f,%.3f,%lld,%lld,%.6f,", running ? "true" : "false",
	           u->billed_s, u->idle_s, u->vcpu_s, u->gib_s, u->gpu_s, (long long)u->requests,
	           (long long)u->tokens, u->cost);
	if (per_1k > 0)
		buf_printf(o, "%.6f", per_1k);
	buf_puts(o, "\r\n");
}

static void render_csv(const struct billing_report *r, bool per_instance, struct buf *o)
{
	buf_puts(o, "level,service,revision,instance,billing,start,end,running,billed_seconds,"
	            "idle_seconds,vcpu_seconds,gib_seconds,gpu_seconds,requests,tokens,cost,"
	            "cost_per_1k_tokens\r\n");
	for (int64_t i = 0; per_instance && i < r->n_instances; i++) {
		const struct billing_instance *in = &r->instances[i];
		csv_row(o, "instance", in->service, in->revision, in->instance,
		        in->instance_based ? "instance" : "request", in->start_ns, in->end_ns,
		        in->running, &in->u, 0);
	}
	for (int64_t i = 0; i < r->n_services; i++) {
		const struct billing_service *s = &r->services[i];
		csv_row(o, "service", s->service, "", "", mode_str(s->modes), r->since_ns,
		        r->until_ns, false, &s->u, s->cost_per_1k_tokens);
	}
	csv_row(o, "total", "", "", "", "", r->since_ns, r->until_ns, false, &r->total, 0);
}

void billing_report_render(const struct billing_report *r, enum billing_format f, bool per_instance,
                           struct buf *out)
{
	switch (f) {
	case BILLING_FORMAT_TABLE: render_table(r, per_instance, out); break;
	case BILLING_FORMAT_JSON: render_json(r, out); break;
	case BILLING_FORMAT_CSV: render_csv(r, per_instance, out); break;
	}
}
