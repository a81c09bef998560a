/* openai_models.c — GET /v1/models and GET /v1/models/{model} (reference
 * ollama-api.md §2.3): the store's models as OpenAI model objects, "created"
 * the manifest's modification time, "owned_by" the namespace. Unlike
 * Ollama, an empty store lists "data": [] rather than null (clients iterate
 * it). */
#include "ollama/server_internal.h"

#include <stdio.h>
#include <string.h>

static void model_object(struct buf *b, const char *id, const struct store_entry *e)
{
	buf_puts(b, "{\"id\":");
	jstr(b, id);
	buf_printf(b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":",
	           (long long)(e->modified_ns / 1000000000LL));
	jstr(b, e->name.ns);
	buf_putc(b, '}');
}

void openai_models(const struct api_route *rt, struct http_req *req)
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
	buf_puts(&b, "{\"object\":\"list\",\"data\":[");
	for (size_t i = 0; i < n; i++) {
		char name[NAMES_STR_MAX];
		names_shortest(&e[i].name, name, sizeof name);
		if (i)
			buf_putc(&b, ',');
		model_object(&b, name, &e[i]);
	}
	buf_puts(&b, "]}");
	store_entries_free(e, n);
	api_reply_json(c, 200, &b);
	buf_release(&b);
}

void openai_model(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	struct slice p = http_req_path(req);
	size_t pre = strlen("/v1/models/");
	char id[NAMES_STR_MAX + 1], msg[NAMES_STR_MAX + 64];
	struct model_name n, r;
	struct store_entry *e = NULL;
	size_t cnt = 0;
	if (p.n - pre == 0 || p.n - pre >= sizeof id) {
		api_reply_error(c, 400, NAMES_ERR_INVALID);
		return;
	}
	memcpy(id, p.p + pre, p.n - pre);
	id[p.n - pre] = 0;
	if (names_parse(id, &n, NULL) < 0) {
		api_reply_error(c, 400, NAMES_ERR_INVALID);
		return;
	}
	store_resolve(c->srv->store, &n, &r);
	store_list(c->srv->store, &e, &cnt);
	for (size_t i = 0; i < cnt; i++) {
		if (!names_equal_fold(&e[i].name, &r))
			continue;
		struct buf b = BUF_INIT;
		model_object(&b, id, &e[i]);
		api_reply_json(c, 200, &b);
		buf_release(&b);
		store_entries_free(e, cnt);
		return;
	}
	store_entries_free(e, cnt);
	snprintf(msg, sizeof msg, "model \"%s\" not found", id);
	api_reply_error(c, 404, msg);
}
