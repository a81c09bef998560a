/* server_util.c — helpers every route uses: Go-compatible JSON text
 * (strings, RFC 3339 times), request bodies and type-checked members with
 * Go's unmarshal messages, keep_alive values (reference ollama-api.md
 * §1.2), and opening a model of the store by name (§1.1 name rules, §1.9
 * errors) with its "details" object (§1.7). */
#include "ollama/server_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jstr(struct buf *b, const char *s)
{
	s = s ? s : "";
	gojson_append_str(b, s, strlen(s));
}

void jf32(struct buf *b, double v)
{
	char tmp[32];
	for (int p = 1; p <= 9; p++) {
		snprintf(tmp, sizeof tmp, "%.*g", p, v);
		if ((float)strtod(tmp, NULL) == (float)v)
			break;
	}
	gojson_append_float(b, strtod(tmp, NULL));
}

void jtime(struct buf *b, int64_t wall_ns)
{
	char t[48];
	time_format_rfc3339(wall_ns, t, sizeof t);
	buf_printf(b, "\"%s\"", t);
}

cJSON *api_body_json(struct api_call *c)
{
	struct slice body = http_req_body(c->req);
	struct slice t = slice_trim(body);
	if (t.n == 0) {
		api_reply_error(c, 400, "missing request body");
		return NULL;
	}
	char err[ERR_MSG_LEN];
	cJSON *j = json_parse(body.p, body.n, err);
	if (!j) {
		api_reply_error(c, 400, err);
		return NULL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		api_reply_error(c, 400,
		                "json: cannot unmarshal value into Go value of type request");
		return NULL;
	}
	return j;
}

static const char *json_kind(const cJSON *v)
{
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "bool";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	return "object";
}

static bool type_error(struct api_call *c, const cJSON *v, const char *key, const char *want)
{
	char msg[ERR_MSG_LEN];
	snprintf(msg, sizeof msg, "json: cannot unmarshal %s into Go struct field .%s of type %s",
	         json_kind(v), key, want);
	api_reply_error(c, 400, msg);
	return false;
}

bool api_str(struct api_call *c, const cJSON *o, const char *key, const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v))
		return type_error(c, v, key, "string");
	*out = v->valuestring;
	return true;
}

bool api_bool(struct api_call *c, const cJSON *o, const char *key, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsBool(v))
		return type_error(c, v, key, "bool");
	*out = cJSON_IsTrue(v);
	return true;
}

bool api_num(struct api_call *c, const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsNumber(v))
		return type_error(c, v, key, "float64");
	*out = v->valuedouble;
	return true;
}

void api_msg_add(cJSON *arr, const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", text);
	cJSON_AddItemToArray(arr, m);
}

bool api_fail(struct api_call *c, int status, const char *fmt, ...)
{
	char msg[ERR_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_reply_error(c, status, msg);
	return false;
}

void api_progress(struct api_call *c, bool stream, struct buf *line, struct buf *last,
                  const struct registry_progress *p, atomic_bool *cancel)
{
	struct buf *out = stream ? line : last;
	buf_reset(out);
	registry_progress_json(p, out);
	if (!stream)
		return;
	buf_putc(out, '\n');
	if (api_call_write(c, out->data, out->len, true) == ERR_CANCELLED && cancel)
		atomic_store(cancel, true);
}

/* Go's time.ParseDuration errors: a bare number lacks its unit. */
static bool bare_number(const char *s)
{
	char *end;
	strtod(s, &end);
	return end != s && *end == 0;
}

int api_keep_alive(const cJSON *o, bool *set, int64_t *ns, char err[ERR_MSG_LEN])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "keep_alive");
	*set = false;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		double secs = v->valuedouble;
		*ns = secs < 0 || !isfinite(secs) || secs * 1e9 >= 9.2e18 ? SCHED_KEEP_FOREVER
		                                                          : (int64_t)(secs * 1e9);
		*set = true;
		return 0;
	}
	if (!cJSON_IsString(v))
		return err_set(err, ERR_INVALID, "Unsupported type: '%s'",
		               cJSON_IsBool(v) ? "bool" : json_kind(v));
	const char *s = v->valuestring;
	if (!time_parse_duration(s, ns))
		return err_set(err, ERR_INVALID, "time: %s \"%s\"",
		               bare_number(s) && strcmp(s, "0") != 0 ? "missing unit in duration"
		                                                     : "invalid duration",
		               s);
	if (*ns < 0)
		*ns = SCHED_KEEP_FOREVER;
	*set = true;
	return 0;
}

int api_model_open(struct api_call *c, const char *name, struct store_model *sm,
                   struct model_name *mn, const char *not_found)
{
	char err[ERR_MSG_LEN];
	struct model_name parsed;
	memset(sm, 0, sizeof *sm);
	if (!name || !*name) {
		api_reply_error(c, 400, "model is required");
		return ERR_INVALID;
	}
	if (names_parse(name, &parsed, err) < 0) {
		api_reply_error(c, 400, NAMES_ERR_INVALID);
		return ERR_INVALID;
	}
	store_resolve(c->srv->store, &parsed, mn);
	int rc = store_model_load(c->srv->store, mn, sm, err);
	if (rc == ERR_NOT_FOUND) {
		char msg[ERR_MSG_LEN + NAMES_STR_MAX];
		snprintf(msg, sizeof msg, not_found, name);
		api_reply_error(c, 404, msg);
	} else if (rc < 0) {
		log_warn("serve: model %s: %s", name, err);
		api_reply_error(c, 500, err);
	}
	return rc;
}

static void str_member(struct buf *out, const cJSON *cfg, const char *key)
{
	jstr(out, json_str(cfg, key, ""));
}

void api_details_json(const struct store_entry *e, const char *parent, struct buf *out)
{
	cJSON *cfg = e->config_json ? cJSON_Parse(e->config_json) : NULL;
	buf_puts(out, "{\"parent_model\":");
	jstr(out, parent);
	buf_puts(out, ",\"format\":");
	str_member(out, cfg, "model_format");
	buf_puts(out, ",\"family\":");
	str_member(out, cfg, "model_family");
	buf_puts(out, ",\"families\":");
	const cJSON *fams = cJSON_GetObjectItemCaseSensitive(cfg, "model_families");
	if (cJSON_IsArray(fams)) {
		buf_putc(out, '[');
		const cJSON *f;
		int i = 0;
		cJSON_ArrayForEach(f, fams)
		{
			if (i++)
				buf_putc(out, ',');
			jstr(out, cJSON_IsString(f) ? f->valuestring : "");
		}
		buf_putc(out, ']');
	} else {
		buf_puts(out, "null");
	}
	buf_puts(out, ",\"parameter_size\":");
	str_member(out, cfg, "model_type");
	buf_puts(out, ",\"quantization_level\":");
	str_member(out, cfg, "file_type");
	buf_putc(out, '}');
	cJSON_Delete(cfg);
}

void api_job_submit(struct api_call *c, struct sched_job *j, const struct sched_job_ops *ops,
                    const struct store_model *sm, const char *display, const struct buf *details,
                    int64_t num_ctx, void (*on_cancel)(struct api_call *c))
{
	bool ka_set = j->keep_alive_set;
	int64_t ka = j->keep_alive_ns;
	sched_job_init(j, ops, c);
	j->keep_alive_set = ka_set;
	j->keep_alive_ns = ka;
	j->model.path = sm->model_path;
	j->model.name = display;
	j->model.digest = sm->entry.digest;
	j->model.size = sm->entry.size;
	j->model.details_json = details->data;
	j->num_ctx = num_ctx;
	/* Watch first: once submitted, the job belongs to a scheduler thread. */
	api_call_watch(c, on_cancel);
	if (sched_submit(c->srv->sched, j) == ERR_BUSY) {
		c->on_cancel = NULL;
		api_reply_error(
		    c, 503, "server busy, please try again.  maximum pending requests exceeded");
	}
}
