/* gateway.c — the gateway's front: its HTTP server on GPURUN_GATEWAY, Host
 * routing to a service (NAME.localhost[:PORT], TAG---NAME.localhost for a
 * tagged revision, the service URL's host, custom domains), identity-token
 * checks for private services (401 without a token, 403 with a bad one;
 * reference §1.10), the traffic split across revisions, and the platform's
 * own routes on hosts that name no service (GET /metrics, /healthz; else
 * 404 JSON). What happens to a request once routed is gateway_proxy.c. */
#include "platform/daemon_internal.h"

#include "base/log.h"
#include "base/timeutil.h"

#include <stdio.h>
#include <string.h>

static bool svc_has_host(const struct svc *s, const char *host)
{
	for (int i = 0; i < s->n_domains; i++)
		if (!strcmp(s->domains[i], host))
			return true;
	return false;
}

static struct svc *route(struct daemon *d, const struct gateway_host *h)
{
	if (h->service[0])
		return daemon__svc_find(d, h->service);
	for (struct svc *s = d->svcs; s; s = s->next)
		if (svc_has_host(s, h->host))
			return s;
	return NULL;
}

static void count_status(struct daemon *d, const char *service, int status)
{
	struct gw_svc_metrics *m = gw_metrics_for(d, service);
	for (int i = 0; i < GW_STATUS_SLOTS; i++) {
		if (m->status[i].code == status || !m->status[i].code) {
			m->status[i].code = status;
			m->status[i].n++;
			return;
		}
	}
}

static bool authorized(struct daemon *d, struct http_req *r, struct svc *s)
{
	struct slice a = http_req_header(r, "X-Serverless-Authorization");
	if (!a.p)
		a = http_req_header(r, "Authorization");
	char value[AUTH_TOKEN_MAX + 16];
	if (a.p)
		snprintf(value, sizeof value, "%.*s", (int)(a.n < sizeof value - 1 ? a.n : 0), a.p);
	char as_addressed[GATEWAY_HOST_MAX + 16];
	struct slice hv = http_req_header(r, "Host");
	snprintf(as_addressed, sizeof as_addressed, "http://%.*s",
	         (int)(hv.n < GATEWAY_HOST_MAX ? hv.n : 0), hv.p ? hv.p : "");
	/* the user's own token (print-identity-token without --audience) opens
	 * every service, as Cloud Run takes a user's gcloud token (§1.10) */
	const char *auds[3] = {s->url, as_addressed, AUTH_AUDIENCE_ANY};
	char err[ERR_MSG_LEN];
	enum auth_result res = auth_header_verify(d->key, sizeof d->key, a.p ? value : NULL, auds,
	                                          3, time_wall_ns() / 1000000000LL, NULL, err);
	if (res == AUTH_OK)
		return true;
	int status = auth_result_http_status(res);
	char msg[ERR_MSG_LEN + 64];
	if (status == 401) {
		http_resp_header(r, "WWW-Authenticate", "Bearer");
		snprintf(msg, sizeof msg,
		         "unauthorized: service %s is private; send Authorization: Bearer "
		         "$(gpurun auth print-identity-token)",
		         s->name);
	} else {
		snprintf(msg, sizeof msg, "forbidden: %s", err[0] ? err : auth_result_str(res));
	}
	count_status(d, s->name, status);
	http_respond_error(r, status, msg);
	return false;
}

/* The revision for this request: a tag's, or one drawn by percent. */
static struct rev *pick_target(struct daemon *d, struct svc *s, const struct gateway_host *h)
{
	if (h->tag[0]) {
		for (int i = 0; i < s->n_targets; i++)
			if (s->targets[i].tag && !strcmp(s->targets[i].tag, h->tag))
				return s->targets[i].rev;
		return NULL;
	}
	int total = 0;
	for (int i = 0; i < s->n_targets; i++)
		total += s->targets[i].rev ? s->targets[i].percent : 0;
	if (total <= 0)
		return NULL;
	int draw = (int)(daemon__rand(d) % (uint64_t)total);
	for (int i = 0; i < s->n_targets; i++) {
		if (!s->targets[i].rev)
			continue;
		draw -= s->targets[i].percent;
		if (draw < 0)
			return s->targets[i].rev;
	}
	return NULL;
}

static void platform_route(struct daemon *d, struct http_req *r, const struct gateway_host *h,
                           bool host_ok)
{
	struct slice path = http_req_path(r);
	if (host_ok && !h->service[0] && slice_eq(path, "/metrics")) {
		struct buf b = BUF_INIT;
		daemon_metrics_render(d, &b);
		http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
		buf_release(&b);
		return;
	}
	if (host_ok && !h->service[0] && slice_eq(path, "/healthz")) {
		http_respond(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
		return;
	}
	char msg[GATEWAY_HOST_MAX + 64];
	snprintf(msg, sizeof msg, "no service for host '%s'", host_ok ? h->host : "");
	http_respond_error(r, 404, msg);
}

void gateway_handle(struct http_req *r, void *data)
{
	struct daemon *d = data;
	struct slice hv = http_req_header(r, "Host");
	struct gateway_host h;
	bool host_ok = hv.p && gateway_host_parse(hv.p, hv.n, &h) == 0;
	struct svc *s = host_ok ? route(d, &h) : NULL;
	if (!s) {
		platform_route(d, r, &h, host_ok);
		return;
	}
	if (d->shutting_down) {
		count_status(d, s->name, 503);
		http_respond_error(r, 503, "the platform is shutting down");
		return;
	}
	if (!s->allow_unauth && !authorized(d, r, s))
		return;
	struct rev *rv = pick_target(d, s, &h);
	if (!rv) {
		int status = h.tag[0] ? 404 : 503;
		count_status(d, s->name, status);
		http_respond_error(r, status,
		                   h.tag[0] ? "no revision has this tag"
		                            : "no revision of the service takes traffic");
		return;
	}
	struct gw_exchange *x = gw_exchange_new(d, r, rv, s->name);
	/* first come, first served: behind held requests, a newcomer waits */
	struct inst *in = rv->n_held ? NULL : activator_pick(rv);
	if (in)
		gw_dispatch(x, in);
	else
		activator_hold(x);
}

static bool stream_bodies(struct http_req *r, void *data)
{
	return true; /* bodies flow to the instance as they arrive, any size */
}

int gateway_start(struct daemon *d, const char *host, int port, char err[ERR_MSG_LEN])
{
	struct http_server_config cfg;
	http_server_config_init(&cfg);
	cfg.handler = gateway_handle;
	cfg.data = d;
	cfg.stream_body = stream_bodies;
	cfg.max_conns = 16384;
	d->gw = http_server_new(d->loop, &cfg);
	int rc = http_server_listen(d->gw, host, port, err);
	if (rc) {
		http_server_free(d->gw);
		d->gw = NULL;
		return rc;
	}
	d->gw_port = http_server_port(d->gw);
	return 0;
}
