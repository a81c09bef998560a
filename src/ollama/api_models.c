/* api_models.c — the small routes: GET|HEAD / ("Ollama is running"),
 * /api/version, GET|HEAD /api/tags, GET /api/ps, POST /api/copy,
 * DELETE /api/delete, and GET /metrics (reference ollama-api.md §1.3,
 * §1.7, §1.8; metrics are ours). Tags and ps run on the loop thread (a few
 * small reads); copy and delete write manifests under the store lock, so
 * they run on a task thread. /api/show is in api_show.c. */
#include "ollama/server_internal.h"

#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_root(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	api_reply(c, 200, "text/plain; charset=utf-8", "Ollama is running", 17);
}

void api_version(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	const char *b = "{\"version\":\"" SERVER_VERSION "\"}";
	api_reply(c, 200, CT_JSON, b, strlen(b));
}

void api_metrics(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	struct sched_stats st;
	sched_stats(c->srv->sched, &st);
	struct metrics_gauges g = {st.loaded, st.waiting, st.running, st.loads, st.unloads};
	struct buf b = BUF_INIT;
	metrics_render(c->srv->metrics, &g, &b);
	api_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	buf_release(&b);
}

static void model_entry(struct buf *b, const struct store_entry *e)
{
	char name[NAMES_STR_MAX];
	names_shortest(&e->name, name, sizeof name);
	const struct store_layer *ml = store_manifest_find(&e->manifest, STORE_MT_MODEL);
	buf_puts(b, "{\"name\":");
	jstr(b, name);
	buf_puts(b, ",\"model\":");
	jstr(b, name);
	buf_puts(b, ",\"modified_at\":");
	jtime(b, e->modified_ns);
	buf_printf(b, ",\"size\":%lld,\"digest\":\"%s\",\"details\":", (long long)e->size,
	           e->digest);
	api_details_json(e, ml && ml->from ? ml->from : "", b);
	buf_putc(b, '}');
}

void api_tags(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	struct store_entry *e = NULL;
	size_t n = 0;
	int rc = store_list(c->srv->store, &e, &n);
	if (rc < 0) {
		api_reply_error(c, 500, err_str(rc));
		return;
	}
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"models\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		model_entry(&b, &e[i]);
	}
	buf_puts(&b, "]}");
	store_entries_free(e, n);
	api_reply_json(c, 200, &b);
	buf_release(&b);
}

void api_ps(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	struct sched_loaded *l = NULL;
	int n = 0;
	sched_list(c->srv->sched, &l, &n);
	struct buf b = BUF_INIT;
	buf_puts(&b, "{\"models\":[");
	for (int i = 0; i < n; i++) {
		buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
		jstr(&b, l[i].name);
		buf_puts(&b, ",\"model\":");
		jstr(&b, l[i].name);
		buf_printf(&b, ",\"size\":%lld,\"digest\":\"%s\",\"details\":%s,\"expires_at\":",
		           (long long)l[i].size, l[i].digest, l[i].details_json);
		jtime(&b, l[i].expires_wall_ns == INT64_MAX ? INT64_MAX - 1 : l[i].expires_wall_ns);
		buf_printf(&b, ",\"size_vram\":%lld,\"context_length\":%lld}",
		           (long long)l[i].size_vram, (long long)l[i].n_ctx);
	}
	buf_puts(&b, "]}");
	sched_loaded_free(l, n);
	api_reply_json(c, 200, &b);
	buf_release(&b);
}

/* "model" (or the deprecated "name") of a body. */
static const char *model_field(const cJSON *body)
{
	const char *m = json_str(body, "model", "");
	return *m ? m : json_str(body, "name", "");
}

/* /api/copy and /api/delete: the loop thread parses the body; the store
 * work (manifest writes with fsync, under the store lock that pull and
 * push threads hold for long stretches) runs on a task thread. */
struct model_call {
	struct api_call call;
	struct model_name src, dst; /* the source (copy) or the model (delete), as parsed */
	char *as_sent;              /* the name as the client sent it, for a 404 */
};

static void model_call_destroy(struct api_call *c)
{
	struct model_call *m = (struct model_call *)c;
	free(m->as_sent);
	free(m);
}

static void copy_task(struct api_call *c)
{
	struct model_call *m = (struct model_call *)c;
	char msg[ERR_MSG_LEN + NAMES_STR_MAX], err[ERR_MSG_LEN];
	struct model_name r;
	store_resolve(c->srv->store, &m->src, &r);
	int rc = store_copy(c->srv->store, &r, &m->dst, err);
	if (rc == ERR_NOT_FOUND) {
		snprintf(msg, sizeof msg, "model \"%s\" not found", m->as_sent);
		api_reply_error(c, 404, msg);
	} else if (rc < 0) {
		api_reply_error(c, 500, err);
	} else {
		api_reply(c, 200, NULL, "", 0);
	}
}

static void delete_task(struct api_call *c)
{
	struct model_call *m = (struct model_call *)c;
	char msg[ERR_MSG_LEN + NAMES_STR_MAX], err[ERR_MSG_LEN];
	struct store_model sm;
	struct model_name r;
	char *path = NULL;
	store_resolve(c->srv->store, &m->src, &r);
	if (store_model_load(c->srv->store, &r, &sm, err) == 0) {
		path = sm.model_path ? xstrdup(sm.model_path) : NULL;
		store_model_release(&sm);
	}
	int rc = store_delete(c->srv->store, &r, err);
	if (rc == ERR_NOT_FOUND) {
		snprintf(msg, sizeof msg, "model '%s' not found", m->as_sent);
		api_reply_error(c, 404, msg);
	} else if (rc < 0) {
		api_reply_error(c, 500, err);
	} else {
		if (path && !file_exists(path)) /* its blob is gone: free the memory */
			sched_unload(c->srv->sched, path);
		api_reply(c, 200, NULL, "", 0);
	}
	free(path);
}

static void model_call_run(struct model_call *m, void (*fn)(struct api_call *c))
{
	if (api_call_spawn(&m->call, fn))
		api_reply_error(&m->call, 500, "cannot start a task thread");
}

void api_copy(const struct api_route *rt, struct http_req *req)
{
	struct model_call *m = api_call_alloc(rt, req, sizeof *m, model_call_destroy);
	struct api_call *c = &m->call;
	cJSON *body = api_body_json(c);
	if (!body)
		return;
	const char *src = json_str(body, "source", ""), *dst = json_str(body, "destination", "");
	char msg[ERR_MSG_LEN + NAMES_STR_MAX];
	if (names_parse(src, &m->src, NULL) < 0) {
		snprintf(msg, sizeof msg, "source \"%s\" is invalid", src);
		api_reply_error(c, 400, msg);
	} else if (names_parse(dst, &m->dst, NULL) < 0) {
		snprintf(msg, sizeof msg, "destination \"%s\" is invalid", dst);
		api_reply_error(c, 400, msg);
	} else {
		m->as_sent = xstrdup(src);
		model_call_run(m, copy_task);
	}
	cJSON_Delete(body);
}

void api_delete(const struct api_route *rt, struct http_req *req)
{
	struct model_call *m = api_call_alloc(rt, req, sizeof *m, model_call_destroy);
	struct api_call *c = &m->call;
	cJSON *body = api_body_json(c);
	if (!body)
		return;
	const char *name = model_field(body);
	if (!*name) {
		api_reply_error(c, 400, "model is required");
	} else if (names_parse(name, &m->src, NULL) < 0) {
		api_reply_error(c, 400, NAMES_ERR_INVALID);
	} else {
		m->as_sent = xstrdup(name);
		model_call_run(m, delete_task);
	}
	cJSON_Delete(body);
}
