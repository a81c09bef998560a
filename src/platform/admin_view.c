/* admin_view.c — services and revisions as the admin API shows them:
 * Knative serving.knative.dev/v1 objects (reference §1.14, §4.1) made by
 * knative_export and read back as JSON, so `describe --format json`,
 * `--format yaml`, `value(...)` and `export` spell every field alike. The
 * status is gpurun's: a deployed service is Ready (instances start on
 * demand), "latest" traffic is resolved to its revision, status.instances
 * lists the live instances and status.lastInstanceFailure the latest one
 * that crashed, ran out of memory or failed its startup probe (gpurun
 * extensions). */
#include "platform/admin_internal.h"

#include "base/json.h"
#include "base/mem.h"
#include "platform/admin_format.h"
#include "platform/knative.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void admin__timestamp(int64_t wall_ns, char *out, size_t n)
{
	time_t t = (time_t)(wall_ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void ksvc_from(const struct state_service *s, struct knative_service *k)
{
	knative_service_init(k);
	k->name = xstrdup(s->name);
	k->revision_name = s->latest_revision ? xstrdup(s->latest_revision) : NULL;
	spec_release(&k->spec);
	spec_copy(&k->spec, &s->spec);
	k->traffic = xcalloc((size_t)(s->n_traffic > 0 ? s->n_traffic : 1), sizeof *k->traffic);
	for (int64_t i = 0; i < s->n_traffic; i++)
		spec_traffic_copy(&k->traffic[i], &s->traffic[i]);
	k->n_traffic = s->n_traffic;
}

/* YAML text to JSON, or an internal error: our own YAML must read back. */
static int yaml_json(const struct buf *y, cJSON **out, char err[ERR_MSG_LEN])
{
	*out = admin_format_yaml_to_json(y->data ? y->data : "", y->len, err);
	return *out ? 0 : -EIO;
}

static cJSON *state_instances(const struct admin_ctx *c, const char *service)
{
	struct state_instance *in;
	int64_t n;
	char ts[32];
	cJSON *a = cJSON_CreateArray();
	if (state_instance_list(c->st, service, true, &in, &n))
		return a;
	for (int64_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", in[i].id);
		cJSON_AddStringToObject(o, "revision", in[i].revision);
		cJSON_AddStringToObject(o, "state", state_instance_phase_str(in[i].phase));
		cJSON_AddNumberToObject(o, "port", in[i].port);
		cJSON_AddNumberToObject(o, "pid", in[i].pid);
		cJSON_AddStringToObject(o, "gpus", in[i].gpus ? in[i].gpus : "");
		admin__timestamp(in[i].start_ns, ts, sizeof ts);
		cJSON_AddStringToObject(o, "startTime", ts);
		if (in[i].ready_ns) {
			admin__timestamp(in[i].ready_ns, ts, sizeof ts);
			cJSON_AddStringToObject(o, "readyTime", ts);
		}
		cJSON_AddItemToArray(a, o);
	}
	state_instance_free_array(in, n);
	return a;
}

/* The most recent instance that did not end by being stopped (a crash, an
 * OOM kill, a failed startup probe), with its reason; NULL when none. */
static cJSON *last_failure(const struct admin_ctx *c, const char *service)
{
	struct state_instance *in;
	int64_t n, best = -1;
	char ts[32];
	if (state_instance_list(c->st, service, false, &in, &n))
		return NULL;
	for (int64_t i = 0; i < n; i++)
		if (in[i].reason && strncmp(in[i].reason, "stopped", 7) &&
		    (best < 0 || in[i].stop_ns > in[best].stop_ns))
			best = i;
	cJSON *o = NULL;
	if (best >= 0) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", in[best].id);
		cJSON_AddStringToObject(o, "revision", in[best].revision);
		cJSON_AddStringToObject(o, "reason", in[best].reason);
		admin__timestamp(in[best].stop_ns, ts, sizeof ts);
		cJSON_AddStringToObject(o, "time", ts);
	}
	state_instance_free_array(in, n);
	return o;
}

static int service_json(const struct admin_ctx *c, const struct state_service *s, cJSON **out,
                        char err[ERR_MSG_LEN])
{
	static const struct knative_condition conds[] = {
	    {"Ready", "True", NULL, NULL},
	    {"ConfigurationsReady", "True", NULL, NULL},
	    {"RoutesReady", "True", NULL, NULL},
	};
	struct knative_service k;
	struct buf y = BUF_INIT;
	char *url = c->url ? c->url(c->data, s->name) : NULL;
	char ts[32];
	ksvc_from(s, &k);
	struct spec_traffic *rt = xcalloc((size_t)(s->n_traffic + 1), sizeof *rt);
	for (int64_t i = 0; i < s->n_traffic; i++) {
		rt[i] = s->traffic[i]; /* borrowed: latest resolved to its revision */
		if (rt[i].latest) {
			rt[i].latest = false;
			rt[i].revision = s->latest_revision;
		}
	}
	struct knative_status st = {
	    .url = url,
	    .observed_generation = s->generation,
	    .latest_created_revision = s->latest_revision,
	    .latest_ready_revision = s->latest_revision,
	    .conditions = conds,
	    .n_conditions = 3,
	    .traffic = rt,
	    .n_traffic = s->n_traffic,
	};
	int rc = knative_export(&k, &st, &y, err);
	if (!rc)
		rc = yaml_json(&y, out, err);
	if (!rc) {
		cJSON *md = cJSON_GetObjectItemCaseSensitive(*out, "metadata");
		cJSON_AddNumberToObject(md, "generation", (double)s->generation);
		admin__timestamp(s->created_ns, ts, sizeof ts);
		cJSON_AddStringToObject(md, "creationTimestamp", ts);
		cJSON *status = cJSON_GetObjectItemCaseSensitive(*out, "status");
		cJSON *inst =
		    c->instances ? c->instances(c->data, s->name) : state_instances(c, s->name);
		cJSON_AddItemToObject(status, "instances", inst);
		cJSON *fail = last_failure(c, s->name);
		if (fail) /* a gpurun extension, as instances */
			cJSON_AddItemToObject(status, "lastInstanceFailure", fail);
	}
	free(rt);
	free(url);
	buf_release(&y);
	knative_service_release(&k);
	return rc;
}

static int get_service(const struct admin_ctx *c, const char *name, struct state_service *s,
                       char err[ERR_MSG_LEN])
{
	int rc = spec_name_check("service name", name, err);
	if (rc) {
		memset(s, 0, sizeof *s);
		return rc;
	}
	rc = state_service_get(c->st, name, s);
	if (rc == ERR_NOT_FOUND)
		return err_set(err, rc, "service %s not found", name);
	return rc ? err_set(err, rc, "state: %s", err_str(rc)) : 0;
}

int admin__service_json(const struct admin_ctx *c, const char *service, cJSON **out,
                        char err[ERR_MSG_LEN])
{
	struct state_service s;
	*out = NULL;
	int rc = get_service(c, service, &s, err);
	if (!rc)
		rc = service_json(c, &s, out, err);
	state_service_release(&s);
	return rc;
}

int admin__services_json(const struct admin_ctx *c, cJSON **out, char err[ERR_MSG_LEN])
{
	struct state_service *s;
	int64_t n;
	*out = NULL;
	int rc = state_service_list(c->st, &s, &n);
	if (rc) {
		state_service_free_array(s, n);
		return err_set(err, rc, "state: %s", err_str(rc));
	}
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		cJSON *j;
		rc = service_json(c, &s[i], &j, err);
		if (!rc)
			cJSON_AddItemToArray(a, j);
	}
	state_service_free_array(s, n);
	if (rc)
		cJSON_Delete(a);
	else
		*out = a;
	return rc;
}

int admin__service_export(const struct admin_ctx *c, const char *service, struct buf *out,
                          char err[ERR_MSG_LEN])
{
	struct state_service s;
	struct knative_service k;
	int rc = get_service(c, service, &s, err);
	if (!rc) {
		ksvc_from(&s, &k);
		rc = knative_export(&k, NULL, out, err);
		knative_service_release(&k);
	}
	state_service_release(&s);
	return rc;
}

/* ---- revisions ---- */

static int percent_of(const struct state_service *s, const char *rev)
{
	int p = 0;
	for (int64_t i = 0; s && i < s->n_traffic; i++) {
		const char *r = s->traffic[i].latest ? s->latest_revision : s->traffic[i].revision;
		if (r && !strcmp(r, rev))
			p += s->traffic[i].percent;
	}
	return p;
}

static cJSON *condition(const char *type, bool ok, const char *reason)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "status", ok ? "True" : "False");
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

static cJSON *revision_metadata(const struct state_revision *r, cJSON *tmpl_md)
{
	char ts[32], gen[32];
	cJSON *md = cJSON_CreateObject();
	cJSON_AddStringToObject(md, "name", r->name);
	cJSON *l = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(l, "serving.knative.dev/service", r->service);
	cJSON_AddStringToObject(l, "serving.knative.dev/configuration", r->service);
	snprintf(gen, sizeof gen, "%" PRId64, r->generation);
	cJSON_AddStringToObject(l, "serving.knative.dev/configurationGeneration", gen);
	cJSON_AddStringToObject(l, "cloud.googleapis.com/location",
	                        r->spec.region ? r->spec.region : SPEC_REGION_DEFAULT);
	cJSON *ann = tmpl_md ? cJSON_DetachItemFromObject(tmpl_md, "annotations") : NULL;
	cJSON_AddItemToObject(md, "annotations", ann ? ann : cJSON_CreateObject());
	admin__timestamp(r->created_ns, ts, sizeof ts);
	cJSON_AddStringToObject(md, "creationTimestamp", ts);
	return md;
}

static int revision_json(const struct state_revision *r, const struct state_service *svc,
                         cJSON **out, char err[ERR_MSG_LEN])
{
	struct knative_service k;
	struct buf y = BUF_INIT;
	cJSON *j = NULL;
	knative_service_init(&k);
	k.name = xstrdup(r->service);
	k.revision_name = xstrdup(r->name);
	spec_release(&k.spec);
	spec_copy(&k.spec, &r->spec);
	int rc = knative_export(&k, NULL, &y, err);
	if (!rc)
		rc = yaml_json(&y, &j, err);
	if (!rc) {
		cJSON *tmpl = (cJSON *)admin_format_get(j, "spec.template");
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "apiVersion", KNATIVE_API_VERSION);
		cJSON_AddStringToObject(o, "kind", "Revision");
		cJSON_AddItemToObject(
		    o, "metadata",
		    revision_metadata(r, cJSON_GetObjectItemCaseSensitive(tmpl, "metadata")));
		cJSON *spec = tmpl ? cJSON_DetachItemFromObject(tmpl, "spec") : NULL;
		cJSON_AddItemToObject(o, "spec", spec ? spec : cJSON_CreateObject());
		int pct = percent_of(svc, r->name);
		cJSON *st = cJSON_AddObjectToObject(o, "status");
		cJSON_AddNumberToObject(st, "observedGeneration", 1);
		cJSON *cs = cJSON_AddArrayToObject(st, "conditions");
		cJSON_AddItemToArray(cs, condition("Ready", true, NULL));
		cJSON_AddItemToArray(cs, condition("Active", pct > 0, pct > 0 ? NULL : "Reserve"));
		cJSON_AddNumberToObject(st, "trafficPercent", pct);
		*out = o;
	}
	cJSON_Delete(j);
	buf_release(&y);
	knative_service_release(&k);
	return rc;
}

static int revisions_of(const struct admin_ctx *c, const char *service, cJSON *a,
                        char err[ERR_MSG_LEN])
{
	struct state_revision *r;
	struct state_service s;
	int64_t n;
	bool have = state_service_get(c->st, service, &s) == 0;
	int rc = state_revision_list(c->st, service, &r, &n);
	if (rc)
		err_set(err, rc, "state: %s", err_str(rc));
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		cJSON *j;
		rc = revision_json(&r[i], have ? &s : NULL, &j, err);
		if (!rc)
			cJSON_AddItemToArray(a, j);
	}
	state_revision_free_array(r, n);
	state_service_release(&s);
	return rc;
}

int admin__revisions_json(const struct admin_ctx *c, const char *service, cJSON **out,
                          char err[ERR_MSG_LEN])
{
	*out = NULL;
	int rc = 0;
	cJSON *a = cJSON_CreateArray();
	if (service) {
		struct state_service s;
		rc = get_service(c, service, &s, err);
		state_service_release(&s);
		if (!rc)
			rc = revisions_of(c, service, a, err);
	} else {
		struct state_service *s;
		int64_t n;
		rc = state_service_list(c->st, &s, &n);
		if (rc)
			err_set(err, rc, "state: %s", err_str(rc));
		for (int64_t i = 0; rc == 0 && i < n; i++)
			rc = revisions_of(c, s[i].name, a, err);
		state_service_free_array(s, n);
	}
	if (rc)
		cJSON_Delete(a);
	else
		*out = a;
	return rc;
}

int admin__revision_json(const struct admin_ctx *c, const char *name, cJSON **out,
                         char err[ERR_MSG_LEN])
{
	struct state_revision r;
	struct state_service s;
	*out = NULL;
	int rc = state_revision_get(c->st, name, &r);
	if (rc == ERR_NOT_FOUND)
		err_set(err, rc, "revision %s not found", name);
	else if (rc)
		err_set(err, rc, "state: %s", err_str(rc));
	if (!rc) {
		bool have = state_service_get(c->st, r.service, &s) == 0;
		rc = revision_json(&r, have ? &s : NULL, out, err);
		state_service_release(&s);
	}
	state_revision_release(&r);
	return rc;
}

int admin__revision_delete(const struct admin_ctx *c, const char *name, char err[ERR_MSG_LEN])
{
	return state_revision_delete(c->st, name, err);
}
