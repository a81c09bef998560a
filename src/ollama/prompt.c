/* prompt.c — messages from request JSON (Ollama's api.Message and OpenAI's
 * chat message shapes), Ollama's assembly of chat and generate prompts,
 * and chat truncation to the context (server/prompt.go chatPrompt), on top
 * of template.h's rendering. No tokenizer here: counts come by callback. */
#include "ollama/prompt.h"

#include "base/json.h"
#include "base/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prompt_msg_init(struct prompt_msg *m, const char *role, const char *content)
{
	memset(m, 0, sizeof *m);
	m->role = xstrdup(role ? role : "");
	m->content = xstrdup(content ? content : "");
	m->thinking = xstrdup("");
	m->tool_name = xstrdup("");
	m->tool_call_id = xstrdup("");
}

static void msg_release(struct prompt_msg *m)
{
	free(m->role);
	free(m->content);
	free(m->thinking);
	free(m->tool_name);
	free(m->tool_call_id);
	template_value_free(m->tool_calls);
}

void prompt_msgs_free(struct prompt_msg *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		msg_release(&m[i]);
	free(m);
}

/* A string member: absent or null -> def; another type -> error. */
static int str_field(const cJSON *o, const char *key, const char *def, char **out,
                     char err[ERR_MSG_LEN])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
		return err_set(err, ERR_INVALID,
		               "json: cannot unmarshal %s into Go struct field Message.messages.%s "
		               "of type string",
		               cJSON_IsNumber(v)  ? "number"
		               : cJSON_IsBool(v)  ? "bool"
		               : cJSON_IsArray(v) ? "array"
		                                  : "object",
		               key);
	free(*out);
	*out = xstrdup(cJSON_IsString(v) ? v->valuestring : def);
	return 0;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* One tool call, Go-shaped: {ID, Function{Index, Name, Arguments}}.
 * args_as_string: OpenAI's arguments are a JSON text. */
static int tool_call_value(const cJSON *tc, int index, bool args_as_string,
                           struct template_value **out, char err[ERR_MSG_LEN])
{
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
	if (!cJSON_IsObject(fn))
		return err_set(err, ERR_INVALID, "invalid tool call: missing function");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	cJSON *parsed = NULL;
	if (args_as_string && cJSON_IsString(args)) {
		parsed = cJSON_Parse(args->valuestring);
		if (!parsed || !cJSON_IsObject(parsed)) {
			cJSON_Delete(parsed);
			return err_set(err, ERR_INVALID, "invalid tool call arguments");
		}
		args = parsed;
	}
	struct template_value *f = template_value_map();
	template_map_set(f, "Index", template_value_int(json_i64(fn, "index", index)));
	template_map_set(f, "Name", template_value_str(json_str(fn, "name", "")));
	struct template_value *a = args && cJSON_IsObject(args)
	                               ? template_value_from_json(args, true)
	                               : template_value_map();
	template_value_set_json(a, true);
	template_map_set(f, "Arguments", a);
	cJSON_Delete(parsed);
	struct template_value *v = template_value_map();
	template_map_set(v, "ID", template_value_str(json_str(tc, "id", "")));
	template_map_set(v, "Function", f);
	*out = v;
	return 0;
}

static int tool_calls_value(const cJSON *arr, bool args_as_string, struct template_value **out,
                            char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return err_set(err, ERR_INVALID, "invalid tool_calls: expected an array");
	if (cJSON_GetArraySize(arr) == 0)
		return 0;
	struct template_value *list = template_value_list();
	int i = 0;
	const cJSON *tc;
	cJSON_ArrayForEach(tc, arr)
	{
		struct template_value *v = NULL;
		int rc = tool_call_value(tc, i++, args_as_string, &v, err);
		if (rc) {
			template_value_free(list);
			return rc;
		}
		template_list_append(list, v);
	}
	*out = list;
	return 0;
}

/* OpenAI content: a string, or parts [{"type":"text","text"}, {"type":"image_url"}]. */
static int openai_content(const cJSON *c, struct prompt_msg *m, char err[ERR_MSG_LEN])
{
	if (!c || cJSON_IsNull(c))
		return 0;
	if (cJSON_IsString(c)) {
		free(m->content);
		m->content = xstrdup(c->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(c))
		return err_set(err, ERR_INVALID, "invalid message content type");
	struct buf b = BUF_INIT;
	const cJSON *part;
	cJSON_ArrayForEach(part, c)
	{
		const char *type = json_str(part, "type", "");
		if (!strcmp(type, "text")) {
			buf_puts(&b, json_str(part, "text", ""));
		} else if (!strcmp(type, "image_url") || !strcmp(type, "input_audio")) {
			m->n_images++;
		} else {
			buf_release(&b);
			return err_set(err, ERR_INVALID, "invalid message format");
		}
	}
	free(m->content);
	m->content = b.data ? buf_steal(&b) : xstrdup("");
	return 0;
}

static int parse_one(const cJSON *o, struct prompt_msg *m, bool openai, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsObject(o))
		return err_set(err, ERR_INVALID,
		               "json: cannot unmarshal %s into Go value of type "
		               "api.Message",
		               cJSON_IsString(o) ? "string" : "value");
	int rc = str_field(o, "role", "", &m->role, err);
	if (!rc && !openai)
		rc = str_field(o, "content", "", &m->content, err);
	if (!rc && openai)
		rc = openai_content(cJSON_GetObjectItemCaseSensitive(o, "content"), m, err);
	if (!rc)
		rc = str_field(o, openai ? "reasoning" : "thinking", "", &m->thinking, err);
	if (!rc)
		rc = str_field(o, openai ? "name" : "tool_name", "", &m->tool_name, err);
	if (!rc)
		rc = str_field(o, "tool_call_id", "", &m->tool_call_id, err);
	if (!rc)
		rc = tool_calls_value(cJSON_GetObjectItemCaseSensitive(o, "tool_calls"), openai,
		                      &m->tool_calls, err);
	if (rc)
		return rc;
	lower(m->role);
	const cJSON *images = cJSON_GetObjectItemCaseSensitive(o, "images");
	if (cJSON_IsArray(images))
		m->n_images += cJSON_GetArraySize(images);
	return 0;
}

/* A tool message answering an OpenAI tool call names the function through
 * the call's id. */
static void openai_tool_names(const cJSON *arr, struct prompt_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].role, "tool") || m[i].tool_name[0] || !m[i].tool_call_id[0])
			continue;
		const cJSON *o;
		cJSON_ArrayForEach(o, arr)
		{
			const cJSON *tc;
			cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(o, "tool_calls"))
			{
				if (strcmp(json_str(tc, "id", ""), m[i].tool_call_id))
					continue;
				const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
				free(m[i].tool_name);
				m[i].tool_name = xstrdup(json_str(fn, "name", ""));
			}
		}
	}
}

static int parse_all(const cJSON *arr, struct prompt_msg **out, size_t *n, bool openai,
                     char err[ERR_MSG_LEN])
{
	*out = NULL;
	*n = 0;
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return err_set(err, ERR_INVALID,
		               "json: cannot unmarshal %s into Go struct field "
		               "ChatRequest.messages of type []api.Message",
		               cJSON_IsString(arr) ? "string" : "value");
	size_t cnt = (size_t)cJSON_GetArraySize(arr);
	struct prompt_msg *m = xcalloc(cnt + 1, sizeof *m);
	size_t k = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		prompt_msg_init(&m[k], "", "");
		int rc = parse_one(o, &m[k++], openai, err);
		if (rc) {
			prompt_msgs_free(m, k);
			return rc;
		}
	}
	if (openai)
		openai_tool_names(arr, m, k);
	*out = m;
	*n = k;
	return 0;
}

int prompt_msgs_parse(const cJSON *arr, struct prompt_msg **out, size_t *n, char err[ERR_MSG_LEN])
{
	return parse_all(arr, out, n, false, err);
}

int prompt_msgs_parse_openai(const cJSON *arr, struct prompt_msg **out, size_t *n,
                             char err[ERR_MSG_LEN])
{
	return parse_all(arr, out, n, true, err);
}

struct template_value *prompt_tools_value(const cJSON *tools)
{
	if (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0)
		return NULL;
	struct template_value *v = template_value_from_json(tools, true);
	template_value_set_json(v, true);
	return v;
}

int prompt_template_parse(const char *text, struct template **out, char err[ERR_MSG_LEN])
{
	if (!text || !*text)
		text = TEMPLATE_OLLAMA_DEFAULT;
	return template_ollama_parse(text, strlen(text), out, err);
}

/* ---- assembly ---- */

static void msg_copy(struct prompt_msg *dst, const struct prompt_msg *src)
{
	dst->role = xstrdup(src->role);
	dst->content = xstrdup(src->content);
	dst->thinking = xstrdup(src->thinking);
	dst->tool_name = xstrdup(src->tool_name);
	dst->tool_call_id = xstrdup(src->tool_call_id);
	dst->tool_calls = src->tool_calls ? template_value_ref(src->tool_calls) : NULL;
	dst->n_images = src->n_images;
}

struct prompt_msg *prompt_chat_msgs(const struct prompt_msg *model_msgs, size_t n_model,
                                    const struct prompt_msg *req, size_t n_req,
                                    const char *model_system, size_t *n_out)
{
	bool add_sys =
	    model_system && *model_system && (n_req == 0 || strcmp(req[0].role, "system"));
	size_t n = n_model + n_req + (add_sys ? 1 : 0), k = 0;
	struct prompt_msg *m = xcalloc(n + 1, sizeof *m);
	if (add_sys)
		prompt_msg_init(&m[k++], "system", model_system);
	for (size_t i = 0; i < n_model; i++)
		msg_copy(&m[k++], &model_msgs[i]);
	for (size_t i = 0; i < n_req; i++)
		msg_copy(&m[k++], &req[i]);
	*n_out = k;
	return m;
}

struct prompt_msg *prompt_generate_msgs(const char *req_system, const char *model_system,
                                        const struct prompt_msg *model_msgs, size_t n_model,
                                        bool has_context, const char *prompt, size_t *n_out)
{
	const char *sys = req_system && *req_system ? req_system : model_system;
	size_t n = (has_context ? 0 : n_model) + 2, k = 0;
	struct prompt_msg *m = xcalloc(n + 1, sizeof *m);
	if (sys && *sys)
		prompt_msg_init(&m[k++], "system", sys);
	for (size_t i = 0; !has_context && i < n_model; i++)
		msg_copy(&m[k++], &model_msgs[i]);
	prompt_msg_init(&m[k++], "user", prompt);
	*n_out = k;
	return m;
}

/* ---- rendering ---- */

static struct template_message *tmpl_msgs(const struct prompt_msg *const *msgs, size_t n)
{
	struct template_message *t = xcalloc(n + 1, sizeof *t);
	for (size_t i = 0; i < n; i++) {
		t[i].role = msgs[i]->role;
		t[i].content = msgs[i]->content;
		t[i].thinking = msgs[i]->thinking;
		t[i].tool_calls = msgs[i]->tool_calls;
		t[i].tool_name = msgs[i]->tool_name;
		t[i].tool_call_id = msgs[i]->tool_call_id;
	}
	return t;
}

static int render_ptrs(const struct template *t, const struct prompt_msg *const *msgs, size_t n,
                       const struct prompt_vars *vars, const char *prompt, const char *suffix,
                       struct buf *out, char err[ERR_MSG_LEN])
{
	struct template_message *tm = tmpl_msgs(msgs, n);
	struct template_values v = {.messages = tm,
	                            .n_messages = n,
	                            .tools = vars ? vars->tools : NULL,
	                            .prompt = prompt,
	                            .suffix = suffix,
	                            .think = vars && vars->think,
	                            .think_level = vars ? vars->think_level : NULL,
	                            .is_think_set = vars && vars->think_set};
	int rc = template_render(t, &v, out, err);
	free(tm);
	return rc;
}

int prompt_render(const struct template *t, const struct prompt_msg *msgs, size_t n,
                  const struct prompt_vars *vars, const char *prompt, const char *suffix,
                  struct buf *out, char err[ERR_MSG_LEN])
{
	const struct prompt_msg **p = xcalloc(n + 1, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = &msgs[i];
	int rc = render_ptrs(t, p, n, vars, prompt, suffix, out, err);
	free(p);
	return rc;
}

/* Renders the system messages before `from`, then msgs[from..]. */
static int render_from(const struct template *t, const struct prompt_msg *msgs, size_t n,
                       size_t from, const struct prompt_vars *vars, struct buf *out,
                       char err[ERR_MSG_LEN])
{
	const struct prompt_msg **p = xcalloc(n + 1, sizeof *p);
	size_t k = 0;
	for (size_t i = 0; i < from; i++)
		if (!strcmp(msgs[i].role, "system"))
			p[k++] = &msgs[i];
	for (size_t i = from; i < n; i++)
		p[k++] = &msgs[i];
	buf_reset(out);
	int rc = render_ptrs(t, p, k, vars, NULL, NULL, out, err);
	free(p);
	return rc;
}

int prompt_chat(const struct template *t, const struct prompt_msg *msgs, size_t n,
                const struct prompt_vars *vars, int64_t num_ctx, bool truncate,
                prompt_count_fn count, void *ud, struct buf *out, size_t *first,
                char err[ERR_MSG_LEN])
{
	size_t keep = n ? n - 1 : 0;
	for (size_t i = keep; truncate && count && i-- > 0;) {
		int rc = render_from(t, msgs, n, i, vars, out, err);
		if (rc)
			return rc;
		int64_t c = count(ud, out->data ? out->data : "", out->len);
		if (c < 0)
			return err_set(err, (int)c, "tokenizing the prompt failed");
		if (c > num_ctx)
			break;
		keep = i;
	}
	if (!truncate || !count)
		keep = 0;
	if (first)
		*first = keep;
	return render_from(t, msgs, n, keep, vars, out, err);
}
