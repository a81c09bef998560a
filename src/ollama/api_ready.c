/* api_ready.c — GET /readyz (ours; Ollama has only "GET /", which stays 200
 * even while generation hangs, ollama-api.md §7 item 9): 200 with the
 * scheduler's counts when the server takes requests; with ?model=NAME, 200
 * only when that model is loaded in memory and 503 while it is not (a
 * deploy or load balancer can wait for a warm model). Never loads a model. */
#include "ollama/server_internal.h"

#include "ollama/names.h"

#include <string.h>

/* Whether a loaded model's display name is name (both parsed, case folded). */
static bool loaded_as(const char *display, const struct model_name *want)
{
	struct model_name n;
	return names_parse(display, &n, NULL) == 0 && names_equal_fold(&n, want);
}

void api_ready(const struct api_route *rt, struct http_req *req)
{
	struct api_call *c = api_call_alloc(rt, req, sizeof *c, NULL);
	char q[NAMES_STR_MAX + 1] = "";
	struct model_name want;
	int qn = http_req_query_get(req, "model", q, sizeof q);
	bool by_model = qn != ERR_NOT_FOUND;
	if (by_model && (qn <= 0 || names_parse(q, &want, NULL))) {
		api_reply_error(c, 400, "invalid model name");
		return;
	}
	struct sched_stats st;
	sched_stats(c->srv->sched, &st);
	struct sched_loaded *l = NULL;
	int n = 0, found = -1;
	sched_list(c->srv->sched, &l, &n);
	for (int i = 0; by_model && found < 0 && i < n; i++)
		if (loaded_as(l[i].name, &want))
			found = i;
	struct buf b = BUF_INIT;
	if (by_model && found < 0) {
		char shortest[NAMES_STR_MAX + 1];
		buf_printf(&b, "model \"%s\" is not loaded",
		           names_shortest(&want, shortest, sizeof shortest));
		api_reply_error(c, 503, b.data);
	} else {
		buf_printf(&b, "{\"status\":\"ready\",\"loaded\":%d,\"running\":%d,\"queued\":%d",
		           st.loaded, st.running, st.waiting);
		if (found >= 0) {
			buf_puts(&b, ",\"model\":");
			jstr(&b, l[found].name);
		}
		buf_putc(&b, '}');
		api_reply_json(c, 200, &b);
	}
	buf_release(&b);
	sched_loaded_free(l, n);
}
