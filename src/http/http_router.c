/* http_router.c — maps (method, path or path prefix) to handlers. Exact
 * paths win over prefixes, longer prefixes over shorter; an unknown path is
 * 404 and a known path with another method 405 (with Allow), both as JSON
 * {"error": ...} like the rest of gpurun. A linear scan: routers hold tens
 * of routes. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

struct route {
	char *method; /* NULL: any */
	char *path;
	size_t path_len;
	int flags;
	http_handler_fn fn;
	void *data;
};

struct http_router {
	struct route *routes;
	int n, cap;
};

struct http_router *http_router_new(void)
{
	return xcalloc(1, sizeof(struct http_router));
}

void http_router_free(struct http_router *rt)
{
	if (!rt)
		return;
	for (int i = 0; i < rt->n; i++) {
		free(rt->routes[i].method);
		free(rt->routes[i].path);
	}
	free(rt->routes);
	free(rt);
}

void http_router_add(struct http_router *rt, const char *method, const char *path, int flags,
                     http_handler_fn fn, void *data)
{
	if (rt->n == rt->cap) {
		rt->cap = rt->cap ? rt->cap * 2 : 16;
		rt->routes = xrealloc(rt->routes, (size_t)rt->cap * sizeof *rt->routes);
	}
	struct route *e = &rt->routes[rt->n++];
	e->method = method ? xstrdup(method) : NULL;
	e->path = xstrdup(path);
	e->path_len = strlen(path);
	e->flags = flags;
	e->fn = fn;
	e->data = data;
}

static bool path_match(const struct route *e, struct slice path)
{
	if (e->flags & HTTP_ROUTE_PREFIX)
		return path.n >= e->path_len && memcmp(path.p, e->path, e->path_len) == 0;
	return path.n == e->path_len && memcmp(path.p, e->path, e->path_len) == 0;
}

/* Best route for the request; *path_seen tells whether any method matched. */
static const struct route *find(const struct http_router *rt, const struct http_req *r,
                                bool *path_seen)
{
	const struct route *best = NULL;
	struct slice path = http_req_path(r);
	const char *m = http_req_method(r);
	*path_seen = false;
	for (int i = 0; i < rt->n; i++) {
		const struct route *e = &rt->routes[i];
		if (!path_match(e, path))
			continue;
		*path_seen = true;
		bool head_ok = e->method && !strcmp(m, "HEAD") && !strcmp(e->method, "GET");
		if (e->method && strcmp(e->method, m) && !head_ok)
			continue;
		bool exact = !(e->flags & HTTP_ROUTE_PREFIX);
		if (!best)
			best = e;
		else if (exact && (best->flags & HTTP_ROUTE_PREFIX))
			best = e;
		else if (!exact && (best->flags & HTTP_ROUTE_PREFIX) &&
		         e->path_len > best->path_len)
			best = e;
	}
	return best;
}

bool http_router_wants_stream(struct http_req *r, void *router)
{
	bool seen;
	const struct route *e = find(router, r, &seen);
	r->route = e; /* dispatch need not search again */
	return e && (e->flags & HTTP_ROUTE_STREAM_BODY);
}

static void not_allowed(const struct http_router *rt, struct http_req *r)
{
	struct buf allow = BUF_INIT;
	struct slice path = http_req_path(r);
	for (int i = 0; i < rt->n; i++) {
		const struct route *e = &rt->routes[i];
		if (!e->method || !path_match(e, path))
			continue;
		if (allow.len)
			buf_puts(&allow, ", ");
		buf_puts(&allow, e->method);
	}
	if (allow.len)
		http_resp_header(r, "Allow", allow.data);
	buf_release(&allow);
	http_respond_error(r, 405, "method not allowed");
}

void http_router_dispatch(struct http_req *r, void *router)
{
	struct http_router *rt = router;
	bool seen = true;
	const struct route *e = r->route;
	if (!e || e < rt->routes || e >= rt->routes + rt->n) /* a hint from another router */
		e = find(rt, r, &seen);
	if (e)
		e->fn(r, e->data);
	else if (seen)
		not_allowed(rt, r);
	else
		http_respond_error(r, 404, "not found");
}

void http_router_attach(struct http_router *rt, struct http_server_config *cfg)
{
	cfg->handler = http_router_dispatch;
	cfg->stream_body = http_router_wants_stream;
	cfg->data = rt;
}
