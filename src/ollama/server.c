/* server.c — `gpurun serve`'s process: opens the store, the registry
 * client, the scheduler and the metrics, registers the routes, wraps them
 * with CORS (OLLAMA_ORIGINS semantics), OPTIONS preflights and the optional
 * API key, runs the HTTP loop, and shuts down gracefully on SIGINT/SIGTERM
 * (reference ollama-api.md §1.1, §4.2 "Signals"). The routes themselves
 * are in api_*.c and openai*.c. */
#include "ollama/server_internal.h"

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "engine/cpu_features.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route_def {
	const char *method, *path;
	int flags;
	bool openai;
	void (*fn)(const struct api_route *rt, struct http_req *req);
	const char *label; /* NULL: the path */
};

static const struct route_def routes[] = {
    {"GET", "/", 0, false, api_root, NULL},
    {"HEAD", "/", 0, false, api_root, NULL},
    {"GET", "/api/version", 0, false, api_version, NULL},
    {"HEAD", "/api/version", 0, false, api_version, NULL},
    {"GET", "/api/tags", 0, false, api_tags, NULL},
    {"HEAD", "/api/tags", 0, false, api_tags, NULL},
    {"POST", "/api/show", 0, false, api_show, NULL},
    {"GET", "/api/ps", 0, false, api_ps, NULL},
    {"POST", "/api/generate", 0, false, api_generate, NULL},
    {"POST", "/api/chat", 0, false, api_chat, NULL},
    {"POST", "/api/embed", 0, false, api_embed, NULL},
    {"POST", "/api/embeddings", 0, false, api_embeddings, NULL},
    {"POST", "/api/pull", 0, false, api_pull, NULL},
    {"POST", "/api/push", 0, false, api_push, NULL},
    {"POST", "/api/create", 0, false, api_create, NULL},
    {"POST", "/api/copy", 0, false, api_copy, NULL},
    {"DELETE", "/api/delete", 0, false, api_delete, NULL},
    {"HEAD", "/api/blobs/", HTTP_ROUTE_PREFIX, false, api_blob_head, "/api/blobs/:digest"},
    {"POST", "/api/blobs/", HTTP_ROUTE_PREFIX | HTTP_ROUTE_STREAM_BODY, false, api_blob_post,
     "/api/blobs/:digest"},
    {"POST", "/v1/chat/completions", 0, true, openai_chat, NULL},
    {"POST", "/v1/completions", 0, true, openai_completions, NULL},
    {"POST", "/v1/embeddings", 0, true, openai_embeddings, NULL},
    {"POST", "/v1/responses", 0, true, openai_responses, NULL},
    {"POST", "/v1/messages", 0, true, anthropic_messages, NULL},
    {"GET", "/v1/models", 0, true, openai_models, NULL},
    {"GET", "/v1/models/", HTTP_ROUTE_PREFIX, true, openai_model, "/v1/models/:model"},
    {"GET", "/metrics", 0, false, api_metrics, NULL},
    {"GET", "/readyz", 0, false, api_ready, NULL},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

struct server_state {
	struct server srv;
	struct api_route rt[N_ROUTES];
};

/* ---- routing, CORS and auth ---- */

static void dispatch(struct http_req *req, void *data)
{
	const struct api_route *rt = data;
	rt->fn(rt, req);
}

static bool origin_allowed(const struct server *srv, const char *o)
{
	static const char *const builtin[] = {
	    "http://localhost", "https://localhost", "http://localhost:*", "https://localhost:*",
	    "http://127.0.0.1", "https://127.0.0.1", "http://127.0.0.1:*", "https://127.0.0.1:*",
	    "http://0.0.0.0",   "https://0.0.0.0",   "http://0.0.0.0:*",   "https://0.0.0.0:*",
	    "app://*",          "file://*",          "tauri://*",          "vscode-webview://*",
	    "vscode-file://*",
	};
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		if (!fnmatch(builtin[i], o, 0))
			return true;
	for (int i = 0; i < srv->cfg.n_origins; i++)
		if (!fnmatch(srv->cfg.origins[i], o, 0))
			return true;
	return false;
}

/* Adds the CORS answer headers; true for a preflight (already answered). */
static bool cors(struct server *srv, struct http_req *req)
{
	struct slice os = http_req_header(req, "Origin");
	bool preflight = !strcmp(http_req_method(req), "OPTIONS");
	char origin[512];
	if (!os.p || os.n >= sizeof origin) {
		if (preflight)
			http_respond(req, 204, NULL, "", 0);
		return preflight;
	}
	memcpy(origin, os.p, os.n);
	origin[os.n] = 0;
	bool ok = origin_allowed(srv, origin);
	if (ok) {
		http_resp_header(req, "Access-Control-Allow-Origin", origin);
		http_resp_header(req, "Vary", "Origin");
	}
	if (!preflight)
		return false;
	if (ok) {
		http_resp_header(req, "Access-Control-Allow-Methods",
		                 "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
		http_resp_header(
		    req, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, "
		    "OpenAI-Beta, x-stainless-arch, x-stainless-async, "
		    "x-stainless-custom-poll-interval, x-stainless-helper-method, "
		    "x-stainless-lang, x-stainless-os, x-stainless-package-version, "
		    "x-stainless-poll-helper, x-stainless-retry-count, "
		    "x-stainless-runtime, x-stainless-runtime-version, "
		    "x-stainless-timeout");
		http_resp_header(req, "Access-Control-Max-Age", "43200");
	}
	http_respond(req, ok ? 204 : 403, NULL, "", 0);
	return true;
}

/* Authorization: Bearer <key>, or x-api-key: <key> as Anthropic's clients
 * send it. */
static bool key_ok(const struct server *srv, struct http_req *req)
{
	const char *key = srv->cfg.api_key;
	struct slice h = http_req_header(req, "Authorization"), tok;
	if (h.p && h.n >= 7 && !strncasecmp(h.p, "Bearer ", 7))
		tok = slice_trim((struct slice){h.p + 7, h.n - 7});
	else if ((h = http_req_header(req, "x-api-key")).p)
		tok = slice_trim(h);
	else
		return false;
	size_t kn = strlen(key);
	unsigned char diff = tok.n != kn;
	for (size_t i = 0; i < kn; i++) /* constant time in the key */
		diff |= (unsigned char)(key[i] ^ (i < tok.n ? tok.p[i] : 0));
	return diff == 0;
}

static void unauthorized(struct server *srv, struct http_req *req)
{
	struct slice path = http_req_path(req);
	bool openai = slice_has_prefix(path, "/v1/");
	const char *body = openai ? "{\"error\":{\"message\":\"unauthorized: a valid API key is "
	                            "required (Authorization: Bearer <key>)\",\"type\":"
	                            "\"invalid_request_error\",\"param\":null,\"code\":"
	                            "\"invalid_api_key\"}}"
	                          : "{\"error\":\"unauthorized: a valid API key is required "
	                            "(Authorization: Bearer <key>)\"}";
	http_resp_header(req, "WWW-Authenticate", "Bearer");
	http_respond(req, 401, CT_JSON, body, strlen(body));
	metrics_request(srv->metrics, "unauthorized", 401, 0);
}

static void handle(struct http_req *req, void *data)
{
	struct server *srv = data;
	if (cors(srv, req))
		return;
	struct slice path = http_req_path(req);
	const char *m = http_req_method(req);
	bool open = (slice_eq(path, "/") && (!strcmp(m, "GET") || !strcmp(m, "HEAD"))) ||
	            (slice_eq(path, "/readyz") && !strcmp(m, "GET")); /* probes carry no key */
	if (srv->cfg.api_key && !open && !key_ok(srv, req)) {
		unauthorized(srv, req);
		return;
	}
	http_router_dispatch(req, srv->router);
}

static bool wants_stream(struct http_req *req, void *data)
{
	struct server *srv = data;
	return http_router_wants_stream(req, srv->router);
}

/* ---- calls handed back by workers ---- */

void server__call_finish(struct api_call *c)
{
	struct server *srv = c->srv;
	int status;
	if (c->stream) {
		status = http_stream_end(c->stream) == 0 ? 200 : 499;
	} else {
		if (!c->status)
			api_call_set(c, 500, CT_JSON, "{\"error\":\"internal error\"}", 26);
		int rc = http_respond(c->req, c->status, c->ctype, c->body.data, c->body.len);
		status = rc == ERR_CANCELLED ? 499 : c->status;
	}
	if (atomic_load(&c->cancelled))
		status = 499;
	metrics_request(srv->metrics, c->route, status, time_mono_ns() - c->t0);
	buf_release(&c->body);
	c->destroy(c);
}

static void done_cb(uv_async_t *a)
{
	struct server *srv = a->data;
	pthread_mutex_lock(&srv->done_mu);
	struct api_call *list = srv->done_head;
	srv->done_head = srv->done_tail = NULL;
	pthread_mutex_unlock(&srv->done_mu);
	while (list) {
		struct api_call *c = list;
		list = c->next;
		server__call_finish(c);
	}
}

/* ---- life ---- */

static void http_done(struct http_server *s, void *data)
{
	struct server *srv = data;
	uv_close((uv_handle_t *)&srv->done_async, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct server *srv = h->data;
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("serve: signal %d, shutting down (grace %lld ms)", sig,
	         (long long)srv->cfg.grace_ms);
	uv_signal_stop(&srv->sigterm);
	uv_signal_stop(&srv->sigint);
	http_server_shutdown(srv->http, srv->cfg.grace_ms, http_done, srv);
}

static void log_backend(const struct server *srv)
{
	const struct cpu_features *f = cpu_features_get();
	const char *isa = f->avx512vnni ? "AVX-512 VNNI"
	                  : f->avx512f  ? "AVX-512"
	                  : f->avx2     ? "AVX2"
	                                : "scalar";
	const char *nt = getenv("GPURUN_NUM_THREAD");
	int threads = srv->cfg.sched.n_threads > 0 ? srv->cfg.sched.n_threads
	              : nt && atoi(nt) > 0         ? atoi(nt)
	                                           : f->n_physical;
	const struct sched_config *sc = &srv->cfg.sched;
	log_info("serve: backend CPU (%s%s), %d threads per model (%d cores, %d logical CPUs); "
	         "a usable GPU takes each model at load (GPURUN_NUM_GPU=0: CPU only)",
	         isa, f->f16c ? ", F16C" : "", threads, f->n_physical, f->n_logical);
	log_info("serve: num_parallel %d, max_loaded_models %d, max_queue %d, keep_alive %s, "
	         "context %lld",
	         sc->num_parallel, sc->max_loaded, sc->max_queue,
	         sc->keep_alive_ns == SCHED_KEEP_FOREVER ? "forever" : "set",
	         (long long)sc->default_ctx);
}

static struct http_router *make_router(struct server_state *st)
{
	struct http_router *rt = http_router_new();
	for (size_t i = 0; i < N_ROUTES; i++) {
		st->rt[i] =
		    (struct api_route){&st->srv, routes[i].label ? routes[i].label : routes[i].path,
		                       routes[i].openai, routes[i].fn};
		http_router_add(rt, routes[i].method, routes[i].path, routes[i].flags, dispatch,
		                &st->rt[i]);
	}
	return rt;
}

static int open_parts(struct server *srv, char err[ERR_MSG_LEN])
{
	int rc = store_open(srv->cfg.models_dir, &srv->store, err);
	if (rc)
		return rc;
	if (srv->cfg.prune) {
		int removed = 0;
		store_prune(srv->store, 3600LL * 1000000000LL, &removed);
		if (removed)
			log_info("serve: pruned %d unused blob(s)", removed);
	}
	rc = registry_new(srv->store, NULL, &srv->registry);
	if (rc)
		return err_set(err, rc, "registry client: %s", err_str(rc));
	srv->sched = sched_new(&srv->cfg.sched);
	if (!srv->sched)
		return err_set(err, ERR_NOMEM, "cannot start the scheduler");
	srv->metrics = metrics_new();
	return 0;
}

static void close_parts(struct server *srv)
{
	sched_free(srv->sched);
	while (atomic_load(&srv->tasks) > 0)
		time_sleep_ms(5);
	registry_free(srv->registry);
	store_free(srv->store);
	metrics_free(srv->metrics);
}

static int serve_loop(struct server_state *st, char err[ERR_MSG_LEN])
{
	struct server *srv = &st->srv;
	struct http_server_config hc;
	http_server_config_init(&hc);
	hc.max_body_bytes = 64u << 20; /* chat histories with images */
	hc.handler = handle;
	hc.stream_body = wants_stream;
	hc.data = srv;
	srv->http = http_server_new(srv->loop, &hc);
	int rc = http_server_listen(srv->http, srv->cfg.host, srv->cfg.port, err);
	if (rc) {
		http_server_free(srv->http);
		uv_run(srv->loop, UV_RUN_DEFAULT);
		return rc;
	}
	uv_async_init(srv->loop, &srv->done_async, done_cb);
	srv->done_async.data = srv;
	uv_signal_init(srv->loop, &srv->sigterm);
	uv_signal_init(srv->loop, &srv->sigint);
	srv->sigterm.data = srv->sigint.data = srv;
	uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
	uv_signal_start(&srv->sigint, on_signal, SIGINT);
	log_info("serve: listening on http://%s:%d (store %s)", srv->cfg.host,
	         http_server_port(srv->http), store_root(srv->store));
	if (srv->cfg.api_key)
		log_info("serve: API key required (GPURUN_API_KEY)");
	log_backend(srv);
	uv_run(srv->loop, UV_RUN_DEFAULT);
	http_server_free(srv->http);
	return 0;
}

int server_run(const struct server_config *cfg)
{
	struct server_state *st = xcalloc(1, sizeof *st);
	struct server *srv = &st->srv;
	char err[ERR_MSG_LEN] = "";
	srv->cfg = *cfg;
	srv->loop = uv_default_loop();
	srv->loop_thread = pthread_self();
	pthread_mutex_init(&srv->done_mu, NULL);
	atomic_init(&srv->tasks, 0);
	int rc = open_parts(srv, err);
	if (!rc) {
		srv->router = make_router(st);
		rc = serve_loop(st, err);
	}
	if (rc)
		fprintf(stderr, "gpurun serve: %s\n", err[0] ? err : err_str(rc));
	close_parts(srv);
	http_router_free(srv->router);
	pthread_mutex_destroy(&srv->done_mu);
	uv_loop_close(srv->loop);
	free(st);
	if (!rc)
		log_info("serve: stopped");
	return rc ? 1 : 0;
}
