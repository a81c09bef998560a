/* api_show.c — POST /api/show (reference ollama-api.md §1.7): license,
 * modelfile, parameters (Ollama's "%-30s %#v" lines), template (Ollama's
 * default "{{ .Prompt }}" when the model has none), system, details,
 * messages, model_info from the GGUF metadata (keys sorted like a Go map,
 * large arrays emptied unless verbose, general.parameter_count added),
 * tensors (verbose), capabilities and modified_at. Runs on a task thread:
 * reading a GGUF header can take a while. */
#include "ollama/server_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/mem.h"
#include "gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct show_call {
	struct api_call call;
	char *name;
	bool verbose;
};

static void show_destroy(struct api_call *c)
{
	struct show_call *s = (struct show_call *)c;
	free(s->name);
	free(s);
}

static void scalar(struct buf *b, enum gguf_vtype t, const struct gguf_value *v)
{
	switch (t) {
	case GGUF_VT_BOOL: buf_puts(b, v->v.u64 ? "true" : "false"); break;
	case GGUF_VT_UINT8:
	case GGUF_VT_UINT16:
	case GGUF_VT_UINT32:
	case GGUF_VT_UINT64: buf_printf(b, "%llu", (unsigned long long)v->v.u64); break;
	case GGUF_VT_FLOAT32: jf32(b, v->v.f64); break;
	case GGUF_VT_FLOAT64: gojson_append_float(b, v->v.f64); break;
	case GGUF_VT_STRING: gojson_append_str(b, v->v.str.p, v->v.str.n); break;
	default: buf_printf(b, "%lld", (long long)v->v.i64); break;
	}
}

static void array(struct buf *b, const struct gguf_value *v, bool verbose)
{
	buf_putc(b, '[');
	for (uint64_t i = 0; verbose && i < v->v.arr.n; i++) {
		if (i)
			buf_putc(b, ',');
		enum gguf_vtype et = v->v.arr.type;
		if (et == GGUF_VT_STRING) {
			struct slice s = gguf_arr_get_str(v, i);
			gojson_append_str(b, s.p, s.n);
		} else if (et == GGUF_VT_FLOAT32) {
			jf32(b, gguf_arr_get_f64(v, i));
		} else if (et == GGUF_VT_FLOAT64) {
			gojson_append_float(b, gguf_arr_get_f64(v, i));
		} else if (et == GGUF_VT_ARRAY) {
			buf_puts(b, "[]");
		} else if (et == GGUF_VT_BOOL) {
			buf_puts(b, gguf_arr_get_i64(v, i) ? "true" : "false");
		} else {
			buf_printf(b, "%lld", (long long)gguf_arr_get_i64(v, i));
		}
	}
	buf_putc(b, ']');
}

static int kv_cmp(const void *a, const void *b)
{
	const struct gguf_kv *x = *(const struct gguf_kv *const *)a;
	const struct gguf_kv *y = *(const struct gguf_kv *const *)b;
	size_t n = x->key.n < y->key.n ? x->key.n : y->key.n;
	int c = memcmp(x->key.p, y->key.p, n);
	return c ? c : (x->key.n > y->key.n) - (x->key.n < y->key.n);
}

#define PARAM_COUNT_KEY "general.parameter_count"

static bool key_after_count(const struct gguf_kv *k)
{
	struct gguf_kv pc = {.key = SLICE_LIT(PARAM_COUNT_KEY)};
	const struct gguf_kv *a = k, *b = &pc;
	return kv_cmp(&a, &b) > 0;
}

static void model_info(struct buf *b, const struct gguf_file *f, bool verbose)
{
	const struct gguf_kv **kv = xcalloc(f->n_kv + 1, sizeof *kv);
	for (uint64_t i = 0; i < f->n_kv; i++)
		kv[i] = &f->kv[i];
	qsort(kv, f->n_kv, sizeof *kv, kv_cmp);
	/* Ollama adds the parameter count when the file lacks it. */
	bool count_done = gguf_find_key(f, PARAM_COUNT_KEY) != NULL;
	buf_putc(b, '{');
	for (uint64_t i = 0; i <= f->n_kv; i++) {
		if (!count_done && (i == f->n_kv || key_after_count(kv[i]))) {
			buf_printf(b, "%s\"" PARAM_COUNT_KEY "\":%llu",
			           b->data[b->len - 1] == '{' ? "" : ",",
			           (unsigned long long)gguf_param_count(f));
			count_done = true;
		}
		if (i == f->n_kv)
			break;
		if (b->data[b->len - 1] != '{')
			buf_putc(b, ',');
		gojson_append_str(b, kv[i]->key.p, kv[i]->key.n);
		buf_putc(b, ':');
		if (kv[i]->value.type == GGUF_VT_ARRAY)
			array(b, &kv[i]->value, verbose);
		else
			scalar(b, kv[i]->value.type, &kv[i]->value);
	}
	buf_putc(b, '}');
	free(kv);
}

static void tensors(struct buf *b, const struct gguf_file *f)
{
	buf_puts(b, ",\"tensors\":[");
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		gojson_append_str(b, t->name.p, t->name.n);
		buf_puts(b, ",\"type\":");
		jstr(b, ggml_type_name(t->type));
		buf_puts(b, ",\"shape\":[");
		for (int d = 0; d < t->n_dims; d++)
			buf_printf(b, d ? ",%lld" : "%lld", (long long)t->ne[d]);
		buf_puts(b, "]}");
	}
	buf_putc(b, ']');
}

/* Ollama's "parameters": one `%-30s %#v` line per value, arrays spread. */
static void parameters(const char *params_json, struct buf *text, struct buf *modelfile)
{
	cJSON *p = params_json ? cJSON_Parse(params_json) : NULL;
	const cJSON *v;
	cJSON_ArrayForEach(v, p)
	{
		const cJSON *items = cJSON_IsArray(v) ? v->child : v;
		for (const cJSON *e = items; e; e = cJSON_IsArray(v) ? e->next : NULL) {
			struct buf val = BUF_INIT;
			if (cJSON_IsString(e))
				json_append_str(&val, e->valuestring, strlen(e->valuestring));
			else if (cJSON_IsNumber(e))
				gojson_append_float_v(&val, e->valuedouble);
			else
				buf_puts(&val, cJSON_IsTrue(e) ? "true" : "false");
			if (text->len)
				buf_putc(text, '\n');
			buf_printf(text, "%-30s %s", v->string, val.data ? val.data : "");
			buf_printf(modelfile, "PARAMETER %s %s\n", v->string,
			           val.data ? val.data : "");
			buf_release(&val);
		}
	}
	cJSON_Delete(p);
}

static void modelfile(struct buf *mf, const char *display, const struct store_model *sm,
                      const char *tmpl, struct buf *params_text)
{
	buf_printf(mf,
	           "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based "
	           "on this, replace FROM with:\n# FROM %s\n\nFROM %s\n",
	           display, sm->model_path ? sm->model_path : "");
	buf_printf(mf, "TEMPLATE \"\"\"%s\"\"\"\n", tmpl);
	if (sm->system_text && *sm->system_text)
		buf_printf(mf, "SYSTEM \"\"\"%s\"\"\"\n", sm->system_text);
	parameters(sm->params_json, params_text, mf);
	for (size_t i = 0; i < sm->n_licenses; i++)
		buf_printf(mf, "LICENSE \"\"\"%s\"\"\"\n", sm->licenses[i]);
}

static void capabilities(struct buf *b, const char *tmpl)
{
	struct template *t = NULL;
	char err[ERR_MSG_LEN];
	buf_puts(b, ",\"capabilities\":[\"completion\"");
	if (prompt_template_parse(tmpl, &t, err) == 0) {
		if (template_uses(t, "Tools"))
			buf_puts(b, ",\"tools\"");
		if (template_uses(t, "Suffix"))
			buf_puts(b, ",\"insert\"");
		if (template_uses(t, "Think"))
			buf_puts(b, ",\"thinking\"");
	}
	template_free(t);
	buf_putc(b, ']');
}

static void show_body(struct show_call *s, const char *display, const struct store_model *sm,
                      const struct gguf_file *f, struct buf *b)
{
	const char *tmpl = sm->template_text ? sm->template_text : TEMPLATE_OLLAMA_DEFAULT;
	struct buf mf = BUF_INIT, params = BUF_INIT, lic = BUF_INIT;
	modelfile(&mf, display, sm, tmpl, &params);
	for (size_t i = 0; i < sm->n_licenses; i++)
		buf_printf(&lic, "%s%s", i ? "\n" : "", sm->licenses[i]);
	buf_putc(b, '{');
	if (lic.len) {
		buf_puts(b, "\"license\":");
		jstr(b, lic.data);
		buf_putc(b, ',');
	}
	buf_puts(b, "\"modelfile\":");
	jstr(b, mf.data);
	if (params.len) {
		buf_puts(b, ",\"parameters\":");
		jstr(b, params.data);
	}
	buf_puts(b, ",\"template\":");
	jstr(b, tmpl);
	if (sm->system_text && *sm->system_text) {
		buf_puts(b, ",\"system\":");
		jstr(b, sm->system_text);
	}
	buf_puts(b, ",\"details\":");
	api_details_json(&sm->entry, sm->parent ? sm->parent : "", b);
	if (sm->messages_json)
		buf_printf(b, ",\"messages\":%s", sm->messages_json);
	buf_puts(b, ",\"model_info\":");
	if (f)
		model_info(b, f, s->verbose);
	else
		buf_puts(b, "{}");
	if (f && s->verbose)
		tensors(b, f);
	capabilities(b, tmpl);
	buf_puts(b, ",\"modified_at\":");
	jtime(b, sm->entry.modified_ns);
	buf_putc(b, '}');
	buf_release(&mf);
	buf_release(&params);
	buf_release(&lic);
}

static void show_task(struct api_call *c)
{
	struct show_call *s = (struct show_call *)c;
	struct model_name n, r;
	struct store_model sm;
	char err[ERR_MSG_LEN], display[NAMES_STR_MAX], msg[ERR_MSG_LEN + NAMES_STR_MAX];
	if (names_parse(s->name, &n, NULL) < 0) {
		api_reply_error(c, 400, NAMES_ERR_INVALID);
		return;
	}
	store_resolve(c->srv->store, &n, &r);
	names_shortest(&n, display, sizeof display);
	int rc = store_model_load(c->srv->store, &r, &sm, err);
	if (rc == ERR_NOT_FOUND) {
		snprintf(msg, sizeof msg, "model '%s' not found", display);
		api_reply_error(c, 404, msg);
		return;
	}
	if (rc < 0) {
		api_reply_error(c, 500, err);
		return;
	}
	struct gguf_file *f = sm.model_path ? gguf_open(sm.model_path, err) : NULL;
	struct buf b = BUF_INIT;
	show_body(s, display, &sm, f, &b);
	gguf_close(f);
	store_model_release(&sm);
	api_reply_json(c, 200, &b);
	buf_release(&b);
}

void api_show(const struct api_route *rt, struct http_req *req)
{
	struct show_call *s = api_call_alloc(rt, req, sizeof *s, show_destroy);
	cJSON *body = api_body_json(&s->call);
	if (!body)
		return;
	const char *name = json_str(body, "model", "");
	if (!*name)
		name = json_str(body, "name", "");
	s->name = xstrdup(name);
	if (!api_bool(&s->call, body, "verbose", &s->verbose)) {
		cJSON_Delete(body);
		return;
	}
	cJSON_Delete(body);
	if (!*s->name) {
		api_reply_error(&s->call, 400, "model is required");
		return;
	}
	if (api_call_spawn(&s->call, show_task))
		api_reply_error(&s->call, 500, "cannot start a task thread");
}
