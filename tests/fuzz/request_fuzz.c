/* request_fuzz.c — libFuzzer target for the JSON body of a generate, chat or
 * embed request, through the entry points the handlers use: "options" (or
 * the whole document) with gen_options_apply, "stop" with
 * gen_options_set_stop, "keep_alive" with api_keep_alive, "messages" with
 * prompt_msgs_parse and prompt_msgs_parse_openai, "tools" with
 * prompt_tools_value, then a chat rendered with a fixed tool-aware template
 * the way the chat handler assembles it; the text itself also goes through
 * gen_options_apply_text as a stored params layer. Errors must carry a
 * message; nothing may crash or leak. */
#include "ollama/prompt.h"
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char tmpl_text[] =
    "{{- if .System }}<sys>{{ .System }}{{ end }}{{ if .Tools }}<tools>{{ range .Tools }}"
    "{{ . }} {{ .Function.Name }}{{ end }}{{ end }}{{ range $i, $m := .Messages }}<{{ .Role }}>"
    "{{ .Content }}{{ if .Thinking }}({{ .Thinking }}){{ end }}{{ range .ToolCalls }}"
    "[{{ .Function.Name }} {{ .Function.Arguments }} {{ .Function.Index }}]{{ end }}"
    "{{ if .ToolName }}{{ .ToolName }}{{ end }}{{ end }}<assistant>";

static struct template *tmpl;

static void check(int rc, const char *err, const struct gen_options *o)
{
	if (rc && !err[0])
		abort(); /* a failure must come with a message */
	if (o->n_stop < 0 || o->n_stop >= ENGINE_MAX_STOP)
		abort();
	for (int i = 0; i < o->n_stop; i++)
		if (!o->stop[i])
			abort();
}

static void options(const cJSON *doc)
{
	struct gen_options o;
	char err[ERR_MSG_LEN] = "";
	gen_options_init(&o);
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(doc, "options");
	check(gen_options_apply(&o, opts ? opts : doc, err), err, &o);
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(doc, "stop");
	if (stop) {
		err[0] = '\0';
		check(gen_options_set_stop(&o, stop, err), err, &o);
	}
	bool set;
	int64_t ns = 0;
	err[0] = '\0';
	if (cJSON_IsObject(doc) && api_keep_alive(doc, &set, &ns, err) != 0 && !err[0])
		abort();
	gen_options_release(&o);
}

static void chat(const cJSON *doc, bool openai)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, "messages");
	if (!arr)
		return;
	struct prompt_msg *msgs = NULL;
	size_t n = 0;
	char err[ERR_MSG_LEN] = "";
	int rc = openai ? prompt_msgs_parse_openai(arr, &msgs, &n, err)
	                : prompt_msgs_parse(arr, &msgs, &n, err);
	if (rc != 0) {
		if (!err[0])
			abort();
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!msgs[i].role || !msgs[i].content || !msgs[i].thinking || !msgs[i].tool_name ||
		    !msgs[i].tool_call_id)
			abort();                         /* strings are never NULL after a parse */
	struct prompt_msg *sys = calloc(1, sizeof *sys); /* the model's messages layer */
	if (!sys)
		abort();
	prompt_msg_init(sys, "system", "model system");
	size_t n_all = 0;
	struct prompt_msg *all = prompt_chat_msgs(sys, 1, msgs, n, "be brief", &n_all);
	struct template_value *tools =
	    prompt_tools_value(cJSON_GetObjectItemCaseSensitive(doc, "tools"));
	struct buf out = BUF_INIT;
	err[0] = '\0';
	if (prompt_render(tmpl, all, n_all, &(struct prompt_vars){.tools = tools}, NULL, NULL, &out,
	                  err) != 0 &&
	    !err[0])
		abort();
	template_value_free(tools);
	buf_release(&out);
	prompt_msgs_free(all, n_all);
	prompt_msgs_free(sys, 1);
	prompt_msgs_free(msgs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (!tmpl) {
		char err[ERR_MSG_LEN];
		log_set_level(LOG_ERROR); /* unknown options are logged as warnings */
		if (prompt_template_parse(tmpl_text, &tmpl, err) != 0)
			abort();
	}
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, d, size);
	text[size] = '\0';
	char err[ERR_MSG_LEN];
	cJSON *doc = json_parse(text, size, err);
	if (doc) {
		options(doc);
		chat(doc, false);
		chat(doc, true);
		cJSON_Delete(doc);
	}
	struct gen_options o;
	gen_options_init(&o);
	err[0] = '\0';
	check(gen_options_apply_text(&o, text, err), err, &o);
	gen_options_release(&o);
	free(text);
	return 0;
}
