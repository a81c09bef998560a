/* admin.c — the admin API's routes (the table is in admin.h): paths and
 * query strings to admin_internal.h calls, their JSON to responses, and the
 * daemon told about every change. The logic lives in admin_deploy.c,
 * admin_traffic.c, admin_view.c and admin_usage.c; log streaming in
 * admin_logs.c. */
#include "platform/admin.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "http/http.h"
#include "platform/admin_format.h"
#include "platform/admin_internal.h"
#include "platform/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *url_cb(void *data, const char *service)
{
	return daemon_service_url(data, service);
}

static cJSON *instances_cb(void *data, const char *service)
{
	struct daemon_instance_info *in = NULL;
	int64_t n = 0;
	char ts[32];
	cJSON *a = cJSON_CreateArray();
	if (daemon_service_instances(data, service, &in, &n))
		return a;
	for (int64_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", in[i].id);
		cJSON_AddStringToObject(o, "revision", in[i].revision);
		cJSON_AddStringToObject(o, "state", in[i].state ? in[i].state : "");
		cJSON_AddNumberToObject(o, "port", in[i].port);
		cJSON_AddNumberToObject(o, "pid", in[i].pid);
		cJSON_AddNumberToObject(o, "inFlight", in[i].in_flight);
		admin__timestamp(in[i].started_ns, ts, sizeof ts);
		cJSON_AddStringToObject(o, "startTime", ts);
		if (in[i].ready_ns) {
			admin__timestamp(in[i].ready_ns, ts, sizeof ts);
			cJSON_AddStringToObject(o, "readyTime", ts);
		}
		cJSON_AddBoolToObject(o, "adopted", in[i].adopted);
		cJSON_AddItemToArray(a, o);
	}
	free(in);
	return a;
}

static int sign_cb(void *data, const char *aud, int64_t ttl_s, struct buf *out)
{
	return daemon_identity_token(data, aud, ttl_s, out);
}

static void ctx_init(struct admin_ctx *c, struct daemon *d)
{
	memset(c, 0, sizeof *c);
	c->st = daemon_state(d);
	c->gpus = daemon_gpus(d);
	c->region = daemon_region(d);
	c->home = daemon_home(d);
	c->url = url_cb;
	c->instances = instances_cb;
	c->sign = sign_cb;
	c->data = d;
	c->now_ns = time_wall_ns();
}

static void fail(struct http_req *r, int rc, const char *msg)
{
	int status = admin__http_status(rc);
	if (status >= 500)
		log_error("admin: %s %.*s: %s", http_req_method(r), (int)http_req_target(r).n,
		          http_req_target(r).p, msg);
	http_respond_error(r, status, msg[0] ? msg : err_str(rc));
}

/* Responds with j (freed) or the error. */
static void reply(struct http_req *r, int rc, cJSON *j, const char *err)
{
	if (rc) {
		cJSON_Delete(j);
		fail(r, rc, err);
		return;
	}
	struct buf b = BUF_INIT;
	json_append(&b, j);
	http_respond(r, 200, "application/json", b.data, b.len);
	buf_release(&b);
	cJSON_Delete(j);
}

/* The JSON body, or NULL (an empty body); false after answering 400. */
static bool body_json(struct http_req *r, cJSON **out)
{
	struct slice b = http_req_body(r);
	char err[ERR_MSG_LEN];
	*out = NULL;
	if (slice_trim(b).n == 0)
		return true;
	*out = json_parse(b.p, b.n, err);
	if (!*out) {
		http_respond_error(r, 400, err);
		return false;
	}
	return true;
}

static void query(struct http_req *r, const char *name, char *out, size_t cap)
{
	if (http_req_query_get(r, name, out, cap) < 0)
		out[0] = 0;
}

/* ---- /v1/services ---- */

static void services_list(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "";
	cJSON *j;
	ctx_init(&c, data);
	int rc = admin__services_json(&c, &j, err);
	reply(r, rc, j, err);
}

static void services_replace(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "";
	cJSON *j = NULL;
	ctx_init(&c, data);
	struct slice b = http_req_body(r);
	int rc = admin__replace(&c, b.p ? b.p : "", b.n, &j, err);
	if (!rc) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "service"),
		                                     "metadata"),
		    "name"));
		if (name)
			daemon_service_changed(data, name);
	}
	reply(r, rc, j, err);
}

static void service_action(struct http_req *r, struct daemon *d, const char *name,
                           const char *action)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "";
	cJSON *body = NULL, *j = NULL;
	bool post = !strcmp(http_req_method(r), "POST");
	bool get = !strcmp(http_req_method(r), "GET");
	int rc;
	ctx_init(&c, d);
	if (!strcmp(action, "export") && get) {
		struct buf y = BUF_INIT;
		rc = admin__service_export(&c, name, &y, err);
		if (rc)
			fail(r, rc, err);
		else
			http_respond(r, 200, "application/yaml", y.data, y.len);
		buf_release(&y);
		return;
	}
	if (!post || (strcmp(action, "deploy") && strcmp(action, "traffic"))) {
		http_respond_error(r, post || get ? 404 : 405, "no such service action");
		return;
	}
	if (!body_json(r, &body))
		return;
	if (!strcmp(action, "deploy"))
		rc = admin__deploy(&c, name, body, &j, err);
	else
		rc = admin__traffic(&c, name, body ? body : cJSON_CreateObject(), &j, err);
	if (!rc)
		daemon_service_changed(d, name);
	cJSON_Delete(body);
	reply(r, rc, j, err);
}

static void service_one(struct http_req *r, struct daemon *d, const char *name)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "";
	cJSON *j = NULL;
	int rc;
	ctx_init(&c, d);
	if (!strcmp(http_req_method(r), "GET")) {
		rc = admin__service_json(&c, name, &j, err);
	} else if (!strcmp(http_req_method(r), "DELETE")) {
		rc = admin__delete(&c, name, err);
		if (!rc) {
			daemon_service_changed(d, name);
			j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "deleted", name);
		}
	} else {
		http_resp_header(r, "Allow", "GET, DELETE");
		http_respond_error(r, 405, "method not allowed");
		return;
	}
	reply(r, rc, j, err);
}

/* /v1/services/NAME[:action | /logs] */
static void services_prefix(struct http_req *r, void *data)
{
	struct slice p = http_req_path(r);
	size_t pre = strlen("/v1/services/");
	char rest[128];
	if (p.n - pre >= sizeof rest) {
		http_respond_error(r, 404, "no such service");
		return;
	}
	memcpy(rest, p.p + pre, p.n - pre);
	rest[p.n - pre] = 0;
	char *colon = strchr(rest, ':'), *slash = strchr(rest, '/');
	if (slash && !colon && !strcmp(slash, "/logs")) {
		*slash = 0;
		if (strcmp(http_req_method(r), "GET"))
			http_respond_error(r, 405, "method not allowed");
		else
			admin__logs(r, data, rest);
		return;
	}
	if (slash) {
		http_respond_error(r, 404, "not found");
		return;
	}
	if (colon) {
		*colon = 0;
		service_action(r, data, rest, colon + 1);
		return;
	}
	service_one(r, data, rest);
}

/* ---- /v1/revisions ---- */

static void revisions_list(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "", svc[128];
	cJSON *j = NULL;
	ctx_init(&c, data);
	query(r, "service", svc, sizeof svc);
	int rc = admin__revisions_json(&c, svc[0] ? svc : NULL, &j, err);
	reply(r, rc, j, err);
}

static void revisions_one(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "", name[128];
	cJSON *j = NULL;
	struct slice p = http_req_path(r);
	size_t pre = strlen("/v1/revisions/");
	if (strcmp(http_req_method(r), "GET") && strcmp(http_req_method(r), "DELETE")) {
		http_resp_header(r, "Allow", "GET, DELETE");
		http_respond_error(r, 405, "method not allowed");
		return;
	}
	if (p.n - pre >= sizeof name || p.n == pre) {
		http_respond_error(r, 404, "no such revision");
		return;
	}
	memcpy(name, p.p + pre, p.n - pre);
	name[p.n - pre] = 0;
	ctx_init(&c, data);
	int rc = admin__revision_json(&c, name, &j, err);
	if (rc || !strcmp(http_req_method(r), "GET")) {
		reply(r, rc, j, err);
		return;
	}
	const char *owner = cJSON_GetStringValue(
	    admin_format_get(j, "metadata.labels.'serving.knative.dev/service'"));
	char *svc = xstrdup(owner ? owner : "");
	cJSON_Delete(j);
	j = NULL;
	rc = admin__revision_delete(&c, name, err);
	if (!rc) {
		daemon_service_changed(data, svc);
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "deleted", name);
	}
	free(svc);
	reply(r, rc, j, err);
}

/* ---- billing, tokens, info ---- */

static void billing(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "", svc[128], since[64], fmt[16], inst[8];
	struct buf out = BUF_INIT;
	ctx_init(&c, data);
	query(r, "service", svc, sizeof svc);
	query(r, "since", since, sizeof since);
	query(r, "format", fmt, sizeof fmt);
	query(r, "instances", inst, sizeof inst);
	bool per_instance = strcmp(inst, "0") && strcmp(inst, "false");
	int rc = admin__billing(&c, svc, since, fmt, per_instance, &out, err);
	if (rc) {
		fail(r, rc, err);
	} else {
		const char *type = !strcmp(fmt, "json")  ? "application/json"
		                   : !strcmp(fmt, "csv") ? "text/csv; charset=utf-8"
		                                         : "text/plain; charset=utf-8";
		http_respond(r, 200, type, out.data ? out.data : "", out.len);
	}
	buf_release(&out);
}

static void tokens(struct http_req *r, void *data)
{
	struct admin_ctx c;
	char err[ERR_MSG_LEN] = "";
	cJSON *body, *j = NULL;
	if (!body_json(r, &body))
		return;
	ctx_init(&c, data);
	int rc = admin__token(&c, body, &j, err);
	cJSON_Delete(body);
	reply(r, rc, j, err);
}

static void info(struct http_req *r, void *data)
{
	struct daemon *d = data;
	const struct gpu_inventory *g = daemon_gpus(d);
	cJSON *j = cJSON_CreateObject(), *gj, *devs;
	cJSON_AddStringToObject(j, "region", daemon_region(d));
	cJSON_AddStringToObject(j, "home", daemon_home(d));
	cJSON_AddNumberToObject(j, "gateway_port", daemon_gateway_port(d));
	gj = cJSON_AddObjectToObject(j, "gpus");
	cJSON_AddNumberToObject(gj, "count", g ? g->n : 0);
	cJSON_AddNumberToObject(gj, "in_use", g && g->n ? state_gpu_in_use(daemon_state(d), g) : 0);
	cJSON_AddStringToObject(gj, "source", g ? g->source : "none");
	devs = cJSON_AddArrayToObject(gj, "devices");
	for (int i = 0; g && i < g->n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "index", g->dev[i].index);
		cJSON_AddStringToObject(o, "id", g->dev[i].id);
		cJSON_AddStringToObject(o, "name", g->dev[i].name);
		cJSON_AddItemToArray(devs, o);
	}
	reply(r, 0, j, "");
}

int admin_register(struct http_router *rt, struct daemon *d)
{
	http_router_add(rt, "GET", "/v1/services", 0, services_list, d);
	http_router_add(rt, "POST", "/v1/services:replace", 0, services_replace, d);
	http_router_add(rt, NULL, "/v1/services/", HTTP_ROUTE_PREFIX, services_prefix, d);
	http_router_add(rt, "GET", "/v1/revisions", 0, revisions_list, d);
	http_router_add(rt, NULL, "/v1/revisions/", HTTP_ROUTE_PREFIX, revisions_one, d);
	http_router_add(rt, "GET", "/v1/billing", 0, billing, d);
	http_router_add(rt, "POST", "/v1/tokens", 0, tokens, d);
	http_router_add(rt, "GET", "/v1/info", 0, info, d);
	return 0;
}
