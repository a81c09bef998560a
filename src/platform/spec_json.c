/* spec_json.c — the spec as JSON (admin API bodies, stored revisions) and
 * patches that change only the keys they hold (gcloud's update semantics).
 * Types are checked strictly: a document is untrusted input. Ranges are
 * spec_validate()'s job, after the patch. */
#include "platform/spec.h"

#include "base/json.h"
#include "base/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int (*field_fn)(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN]);

static int type_err(const char *key, const char *want, char err[ERR_MSG_LEN])
{
	return err_set(err, ERR_INVALID, "field '%s' must be %s", key, want);
}

static int get_int(const char *key, const cJSON *v, int *out, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble) || v->valuedouble < -2147483648.0 ||
	    v->valuedouble > 2147483647.0)
		return type_err(key, "an integer", err);
	*out = (int)v->valuedouble;
	return 0;
}

static int get_str(const char *key, const cJSON *v, bool nullable, char **out,
                   char err[ERR_MSG_LEN])
{
	if (nullable && cJSON_IsNull(v)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return type_err(key, nullable ? "a string or null" : "a string", err);
	free(*out);
	*out = xstrdup(v->valuestring);
	return 0;
}

static int get_bool(const char *key, const cJSON *v, bool *out, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsBool(v))
		return type_err(key, "true or false", err);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_strv(const char *key, const cJSON *v, struct spec_strv *out, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsArray(v))
		return type_err(key, "an array of strings", err);
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it))
			return type_err(key, "an array of strings", err);
	}
	spec_strv_release(out);
	cJSON_ArrayForEach(it, v)
	{
		spec_strv_push(out, it->valuestring);
	}
	return 0;
}

/* {"K":"V"} or [{"name":"K","value":"V"}] */
static int get_kvs(const char *key, const cJSON *v, struct spec_kvs *out, char err[ERR_MSG_LEN])
{
	struct spec_kvs l = {0};
	const cJSON *it;
	if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(it, v)
		{
			if (!cJSON_IsString(it))
				goto bad;
			spec_kvs_set(&l, it->string, it->valuestring);
		}
	} else if (cJSON_IsArray(v)) {
		cJSON_ArrayForEach(it, v)
		{
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
			const cJSON *val = cJSON_GetObjectItemCaseSensitive(it, "value");
			if (!cJSON_IsString(n) || (val && !cJSON_IsString(val)))
				goto bad;
			spec_kvs_set(&l, n->valuestring, val ? val->valuestring : "");
		}
	} else {
		goto bad;
	}
	spec_kvs_release(out);
	*out = l;
	return 0;
bad:
	spec_kvs_release(&l);
	return type_err(key, "an object of strings or a [{\"name\",\"value\"}] list", err);
}

static int f_image(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_str("image", v, true, &s->image, err);
}
static int f_command(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_strv("command", v, &s->command, err);
}
static int f_args(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_strv("args", v, &s->args, err);
}
static int f_container_name(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_str("container_name", v, true, &s->container_name, err);
}
static int f_port(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_int("port", v, &s->port, err);
}
static int f_env(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_kvs("env", v, &s->env, err);
}

static int f_env_update(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	struct spec_kvs add = {0};
	int rc = get_kvs("env_update", v, &add, err);
	for (int64_t i = 0; rc == 0 && i < add.n; i++)
		spec_kvs_set(&s->env, add.items[i].name, add.items[i].value);
	spec_kvs_release(&add);
	return rc;
}

static int f_env_remove(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	struct spec_strv names = {0};
	int rc = get_strv("env_remove", v, &names, err);
	for (int64_t i = 0; rc == 0 && i < names.n; i++)
		spec_kvs_remove(&s->env, names.v[i]);
	spec_strv_release(&names);
	return rc;
}

static int f_cpu(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	if (cJSON_IsNumber(v)) {
		double m = v->valuedouble * 1000.0;
		if (!isfinite(m) || m < 0 || m > 1e12 || m != floor(m))
			return err_set(err, ERR_INVALID, "invalid cpu %g", v->valuedouble);
		s->cpu_milli = (int64_t)m;
		return 0;
	}
	if (!cJSON_IsString(v))
		return type_err("cpu", "a string such as \"1\" or \"500m\"", err);
	return spec_parse_cpu(v->valuestring, &s->cpu_milli, err);
}

static int f_memory(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	if (cJSON_IsNumber(v)) {
		if (!isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 9e18 ||
		    v->valuedouble != floor(v->valuedouble))
			return err_set(err, ERR_INVALID, "invalid memory %g", v->valuedouble);
		s->memory_bytes = (int64_t)v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v))
		return type_err("memory", "a string such as \"512Mi\"", err);
	return spec_parse_memory(v->valuestring, &s->memory_bytes, err);
}

static int f_gpu(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_int("gpu", v, &s->gpu, err);
}
static int f_gpu_type(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_str("gpu_type", v, true, &s->gpu_type, err);
}
static int f_min(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_int("min_instances", v, &s->min_instances, err);
}
static int f_max(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_int("max_instances", v, &s->max_instances, err);
}
static int f_concurrency(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_int("concurrency", v, &s->concurrency, err);
}

static int get_seconds(const char *key, const cJSON *v, int64_t max, int *out,
                       char err[ERR_MSG_LEN])
{
	if (cJSON_IsString(v))
		return spec_parse_seconds(key, v->valuestring, max, out, err);
	return get_int(key, v, out, err);
}

static int f_timeout(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_seconds("timeout_seconds", v, SPEC_TIMEOUT_MAX_S, &s->timeout_s, err);
}
static int f_idle(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_seconds("idle_timeout_seconds", v, SPEC_IDLE_TIMEOUT_MAX_S, &s->idle_timeout_s,
	                   err);
}
static int f_throttling(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_bool("cpu_throttling", v, &s->cpu_throttling, err);
}
static int f_boost(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_bool("startup_cpu_boost", v, &s->startup_cpu_boost, err);
}
static int f_region(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_str("region", v, false, &s->region, err);
}
static int f_public(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_bool("allow_unauthenticated", v, &s->allow_unauthenticated, err);
}
static int f_annotations(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_kvs("annotations", v, &s->annotations, err);
}
static int f_labels(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_kvs("labels", v, &s->labels, err);
}
static int f_svc_annotations(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	return get_kvs("service_annotations", v, &s->service_annotations, err);
}

static int f_probe(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsObject(v))
		return type_err("startup_probe", "an object", err);
	struct spec_probe *p = &s->probe;
	const cJSON *it;
	int rc = 0;
	cJSON_ArrayForEach(it, v)
	{
		const char *k = it->string;
		if (!strcmp(k, "type")) {
			if (!cJSON_IsString(it) ||
			    (strcmp(it->valuestring, "tcp") && strcmp(it->valuestring, "http")))
				return type_err("startup_probe.type", "\"tcp\" or \"http\"", err);
			p->kind =
			    strcmp(it->valuestring, "http") ? SPEC_PROBE_TCP : SPEC_PROBE_HTTP;
		} else if (!strcmp(k, "path")) {
			rc = get_str("startup_probe.path", it, true, &p->path, err);
		} else if (!strcmp(k, "port")) {
			rc = get_int("startup_probe.port", it, &p->port, err);
		} else if (!strcmp(k, "initial_delay_seconds")) {
			rc = get_int(k, it, &p->initial_delay_s, err);
		} else if (!strcmp(k, "timeout_seconds")) {
			rc = get_int(k, it, &p->timeout_s, err);
		} else if (!strcmp(k, "period_seconds")) {
			rc = get_int(k, it, &p->period_s, err);
		} else if (!strcmp(k, "failure_threshold")) {
			rc = get_int(k, it, &p->failure_threshold, err);
		} else {
			return err_set(err, ERR_INVALID, "unknown field 'startup_probe.%s'", k);
		}
		if (rc)
			return rc;
	}
	if (p->kind == SPEC_PROBE_TCP) {
		free(p->path);
		p->path = NULL;
	}
	return 0;
}

static int get_pct(const char *key, const cJSON *v, double *out, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return type_err(key, "a number", err);
	*out = v->valuedouble;
	return 0;
}

static int f_scaling(struct spec *s, const cJSON *v, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsObject(v))
		return type_err("scaling", "an object", err);
	struct spec_scaling *c = &s->scaling;
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		const char *k = it->string;
		int rc;
		if (!strcmp(k, "target"))
			rc = get_int(k, it, &c->target, err);
		else if (!strcmp(k, "target_utilization_percentage"))
			rc = get_int(k, it, &c->utilization_pct, err);
		else if (!strcmp(k, "window_seconds"))
			rc = get_seconds(k, it, 3600, &c->window_s, err);
		else if (!strcmp(k, "panic_window_percentage"))
			rc = get_pct(k, it, &c->panic_window_pct, err);
		else if (!strcmp(k, "panic_threshold_percentage"))
			rc = get_pct(k, it, &c->panic_threshold_pct, err);
		else if (!strcmp(k, "scale_down_delay_seconds"))
			rc = get_seconds(k, it, 3600, &c->scale_down_delay_s, err);
		else
			return err_set(err, ERR_INVALID, "unknown field 'scaling.%s'", k);
		if (rc)
			return rc;
	}
	return 0;
}

static const struct {
	const char *key;
	field_fn fn;
} fields[] = {
    {"image", f_image},
    {"command", f_command},
    {"args", f_args},
    {"container_name", f_container_name},
    {"port", f_port},
    {"env", f_env},
    {"env_update", f_env_update},
    {"env_remove", f_env_remove},
    {"cpu", f_cpu},
    {"memory", f_memory},
    {"gpu", f_gpu},
    {"gpu_type", f_gpu_type},
    {"min_instances", f_min},
    {"max_instances", f_max},
    {"concurrency", f_concurrency},
    {"timeout_seconds", f_timeout},
    {"idle_timeout_seconds", f_idle},
    {"cpu_throttling", f_throttling},
    {"startup_cpu_boost", f_boost},
    {"startup_probe", f_probe},
    {"scaling", f_scaling},
    {"annotations", f_annotations},
    {"region", f_region},
    {"allow_unauthenticated", f_public},
    {"labels", f_labels},
    {"service_annotations", f_svc_annotations},
};

/* Turning a GPU on picks the GPU shape's defaults for what the patch leaves
 * alone: Cloud Run's L4 minimum (4 vCPU, 16 GiB), its 10-minute GPU idle
 * retention, and the instance-based billing GPUs require (§2.1, §2.5). */
static void gpu_defaults(struct spec *s, const cJSON *patch, int gpu_before)
{
	if (gpu_before > 0 || s->gpu <= 0)
		return;
	if (!json_has(patch, "cpu") && s->cpu_milli < SPEC_GPU_CPU_MIN_MILLI)
		s->cpu_milli = SPEC_GPU_CPU_MIN_MILLI;
	if (!json_has(patch, "memory") && s->memory_bytes < SPEC_GPU_MEMORY_MIN)
		s->memory_bytes = SPEC_GPU_MEMORY_MIN;
	if (!json_has(patch, "idle_timeout_seconds") &&
	    s->idle_timeout_s == SPEC_IDLE_TIMEOUT_DEFAULT_S)
		s->idle_timeout_s = SPEC_GPU_IDLE_TIMEOUT_DEFAULT_S;
	if (!json_has(patch, "cpu_throttling"))
		s->cpu_throttling = false;
}

int spec_patch_apply(struct spec *s, const cJSON *patch, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsObject(patch))
		return err_set(err, ERR_INVALID, "a spec must be a JSON object");
	int gpu_before = s->gpu;
	const cJSON *it;
	cJSON_ArrayForEach(it, patch)
	{
		size_t i, n = sizeof fields / sizeof fields[0];
		for (i = 0; i < n; i++)
			if (!strcmp(fields[i].key, it->string))
				break;
		if (i == n)
			return err_set(err, ERR_INVALID, "unknown field '%s'", it->string);
		int rc = fields[i].fn(s, it, err);
		if (rc)
			return rc;
	}
	gpu_defaults(s, patch, gpu_before);
	return 0;
}

int spec_from_json(const cJSON *j, struct spec *s, char err[ERR_MSG_LEN])
{
	spec_init(s);
	int rc = spec_patch_apply(s, j, err);
	if (rc)
		spec_release(s);
	return rc;
}

static cJSON *kvs_json(const struct spec_kvs *l, bool as_list)
{
	cJSON *o = as_list ? cJSON_CreateArray() : cJSON_CreateObject();
	for (int64_t i = 0; i < l->n; i++) {
		if (!as_list) {
			cJSON_AddStringToObject(o, l->items[i].name, l->items[i].value);
			continue;
		}
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", l->items[i].name);
		cJSON_AddStringToObject(e, "value", l->items[i].value);
		cJSON_AddItemToArray(o, e);
	}
	return o;
}

static cJSON *strv_json(const struct spec_strv *v)
{
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; i < v->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v->v[i]));
	return a;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static cJSON *probe_json(const struct spec_probe *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", p->kind == SPEC_PROBE_HTTP ? "http" : "tcp");
	add_str_or_null(o, "path", p->path);
	cJSON_AddNumberToObject(o, "port", p->port);
	cJSON_AddNumberToObject(o, "initial_delay_seconds", p->initial_delay_s);
	cJSON_AddNumberToObject(o, "timeout_seconds", p->timeout_s);
	cJSON_AddNumberToObject(o, "period_seconds", p->period_s);
	cJSON_AddNumberToObject(o, "failure_threshold", p->failure_threshold);
	return o;
}

static cJSON *scaling_json(const struct spec_scaling *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "target", c->target);
	cJSON_AddNumberToObject(o, "target_utilization_percentage", c->utilization_pct);
	cJSON_AddNumberToObject(o, "window_seconds", c->window_s);
	cJSON_AddNumberToObject(o, "panic_window_percentage", c->panic_window_pct);
	cJSON_AddNumberToObject(o, "panic_threshold_percentage", c->panic_threshold_pct);
	cJSON_AddNumberToObject(o, "scale_down_delay_seconds", c->scale_down_delay_s);
	return o;
}

cJSON *spec_to_json(const struct spec *s)
{
	char q[32];
	cJSON *o = cJSON_CreateObject();
	add_str_or_null(o, "image", s->image);
	cJSON_AddItemToObject(o, "command", strv_json(&s->command));
	cJSON_AddItemToObject(o, "args", strv_json(&s->args));
	add_str_or_null(o, "container_name", s->container_name);
	cJSON_AddNumberToObject(o, "port", s->port);
	cJSON_AddItemToObject(o, "env", kvs_json(&s->env, true));
	spec_format_cpu(s->cpu_milli, q, sizeof q);
	cJSON_AddStringToObject(o, "cpu", q);
	spec_format_memory(s->memory_bytes, q, sizeof q);
	cJSON_AddStringToObject(o, "memory", q);
	cJSON_AddNumberToObject(o, "gpu", s->gpu);
	add_str_or_null(o, "gpu_type", s->gpu_type);
	cJSON_AddNumberToObject(o, "min_instances", s->min_instances);
	cJSON_AddNumberToObject(o, "max_instances", s->max_instances);
	cJSON_AddNumberToObject(o, "concurrency", s->concurrency);
	cJSON_AddNumberToObject(o, "timeout_seconds", s->timeout_s);
	cJSON_AddNumberToObject(o, "idle_timeout_seconds", s->idle_timeout_s);
	cJSON_AddBoolToObject(o, "cpu_throttling", s->cpu_throttling);
	cJSON_AddBoolToObject(o, "startup_cpu_boost", s->startup_cpu_boost);
	cJSON_AddItemToObject(o, "startup_probe", probe_json(&s->probe));
	cJSON_AddItemToObject(o, "scaling", scaling_json(&s->scaling));
	cJSON_AddItemToObject(o, "annotations", kvs_json(&s->annotations, false));
	add_str_or_null(o, "region", s->region);
	cJSON_AddBoolToObject(o, "allow_unauthenticated", s->allow_unauthenticated);
	cJSON_AddItemToObject(o, "labels", kvs_json(&s->labels, false));
	cJSON_AddItemToObject(o, "service_annotations", kvs_json(&s->service_annotations, false));
	return o;
}
