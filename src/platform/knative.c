/* knative.c — Knative Service YAML to a spec (see knative.h for the mapping).
 * The YAML becomes a spec JSON patch, so defaults, GPU shapes and validation
 * are spec_json.c's and spec.c's; this file checks shapes and types only.
 * Export is knative_export.c. Follows serving.knative.dev/v1 (§4.1-4.3) and
 * Cloud Run's annotations (§1.14). */
#include "platform/knative.h"

#include "base/mem.h"
#include "platform/knative_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct ctx {
	yaml_document_t *doc;
	struct buf *warn;
	char *err;
	cJSON *patch;
	struct knative_service *out;
	cJSON *env_entry; /* the env item being read */
	bool api_version, kind;
};

typedef int (*pair_fn)(struct ctx *c, const char *path, const char *key, yaml_node_t *v);

static yaml_node_t *node_at(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

/* The scalar's text, or NULL (with err) when v is not a scalar or holds NUL. */
static const char *scalar(struct ctx *c, const char *path, yaml_node_t *v)
{
	if (!v || v->type != YAML_SCALAR_NODE) {
		err_set(c->err, ERR_INVALID, "%s: expected a single value", path);
		return NULL;
	}
	const char *s = (const char *)v->data.scalar.value;
	if (strlen(s) != v->data.scalar.length) {
		err_set(c->err, ERR_INVALID, "%s: holds a NUL byte", path);
		return NULL;
	}
	return s;
}

static void warn(struct ctx *c, const char *path)
{
	if (c->warn)
		buf_printf(c->warn, "%s: not supported by gpurun, ignored\n", path);
}

/* Calls fn for each key of mapping v; rejects non-mappings, non-scalar and
 * duplicate keys. */
static int each_pair(struct ctx *c, const char *path, yaml_node_t *v, pair_fn fn)
{
	if (!v || v->type != YAML_MAPPING_NODE)
		return err_set(c->err, ERR_INVALID, "%s: expected a mapping", path);
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		char kpath[KNATIVE_PATH_MAX];
		const char *key = scalar(c, path, node_at(c, p->key));
		if (!key)
			return ERR_INVALID;
		for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node_at(c, q->key);
			if (!strcmp((const char *)k2->data.scalar.value, key))
				return err_set(c->err, ERR_INVALID, "%s: duplicate key '%s'", path,
				               key);
		}
		snprintf(kpath, sizeof kpath, "%s.%s", path, key);
		int rc = fn(c, kpath, key, node_at(c, p->value));
		if (rc)
			return rc;
	}
	return 0;
}

static int to_int(struct ctx *c, const char *path, yaml_node_t *v, int64_t lo, int64_t hi, int *out)
{
	const char *s = scalar(c, path, v);
	int64_t x;
	if (!s)
		return ERR_INVALID;
	if (!str_to_i64(s, &x) || x < lo || x > hi)
		return err_set(c->err, ERR_INVALID,
		               "%s: '%s' is not a whole number from %" PRId64 " to %" PRId64, path,
		               s, lo, hi);
	*out = (int)x;
	return 0;
}

static int to_bool(struct ctx *c, const char *path, yaml_node_t *v, bool *out)
{
	const char *s = scalar(c, path, v);
	if (!s)
		return ERR_INVALID;
	if (!strcmp(s, "true") || !strcmp(s, "True"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "False"))
		*out = false;
	else
		return err_set(c->err, ERR_INVALID, "%s: '%s' is not \"true\" or \"false\"", path,
		               s);
	return 0;
}

static cJSON *patch_obj(struct ctx *c, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(c->patch, key);
	if (!o)
		o = cJSON_AddObjectToObject(c->patch, key);
	return o;
}

static int set_str_in(struct ctx *c, cJSON *o, const char *path, const char *key, yaml_node_t *v)
{
	const char *s = scalar(c, path, v);
	if (!s)
		return ERR_INVALID;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, s);
	return 0;
}

/* ---- metadata ---- */

static int p_label(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, KNATIVE_LABEL_LOCATION))
		return set_str_in(c, c->patch, path, "region", v);
	return set_str_in(c, patch_obj(c, "labels"), path, key, v);
}

static int p_svc_annotation(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, KNATIVE_ANN_PUBLIC)) {
		bool b;
		int rc = to_bool(c, path, v, &b);
		if (!rc)
			cJSON_AddBoolToObject(c->patch, "allow_unauthenticated", b);
		return rc;
	}
	return set_str_in(c, patch_obj(c, "service_annotations"), path, key, v);
}

static bool output_only(const char *key)
{
	static const char *keys[] = {
	    "uid",      "resourceVersion", "generation",       "creationTimestamp",
	    "selfLink", "managedFields",   "deletionTimestamp"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!strcmp(key, keys[i]))
			return true;
	return false;
}

static int p_metadata(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	const char *s;
	if (!strcmp(key, "name") || !strcmp(key, "namespace")) {
		if (!(s = scalar(c, path, v)))
			return ERR_INVALID;
		char **dst = !strcmp(key, "name") ? &c->out->name : &c->out->namespace_;
		free(*dst);
		*dst = xstrdup(s);
		return 0;
	}
	if (!strcmp(key, "labels"))
		return each_pair(c, path, v, p_label);
	if (!strcmp(key, "annotations"))
		return each_pair(c, path, v, p_svc_annotation);
	if (!output_only(key))
		warn(c, path);
	return 0;
}

/* ---- template annotations ---- */

static int scale_bound(struct ctx *c, const char *path, const char *field, yaml_node_t *v)
{
	int x;
	int rc = to_int(c, path, v, 0, SPEC_MAX_INSTANCES_LIMIT, &x);
	if (rc)
		return rc;
	if (x == 0 && !strcmp(field, "max_instances"))
		x = SPEC_MAX_INSTANCES_LIMIT; /* Knative: 0 = unlimited */
	cJSON *old = cJSON_GetObjectItemCaseSensitive(c->patch, field);
	if (old && old->valuedouble != x)
		return err_set(c->err, ERR_INVALID,
		               "%s: both spellings given with different values", path);
	cJSON_DeleteItemFromObjectCaseSensitive(c->patch, field);
	cJSON_AddNumberToObject(c->patch, field, x);
	return 0;
}

static int seconds(struct ctx *c, const char *path, yaml_node_t *v, int64_t max, int *out)
{
	const char *s = scalar(c, path, v);
	return s ? spec_parse_seconds(path, s, max, out, c->err) : ERR_INVALID;
}

static int pct(struct ctx *c, const char *path, yaml_node_t *v, cJSON *o, const char *key)
{
	const char *s = scalar(c, path, v);
	double d;
	if (!s)
		return ERR_INVALID;
	if (!str_to_double(s, &d))
		return err_set(c->err, ERR_INVALID, "%s: '%s' is not a number", path, s);
	cJSON_AddNumberToObject(o, key, d);
	return 0;
}

/* 0: handled, 1: not a scaling key we map, < 0: error */
static int scaling_annotation(struct ctx *c, const char *path, const char *name, yaml_node_t *v)
{
	static const struct {
		const char *ann, *field;
		int kind; /* 0 int, 1 seconds, 2 percent */
		int hi;
	} map[] = {
	    {"target", "target", 0, SPEC_CONCURRENCY_MAX},
	    {"target-utilization-percentage", "target_utilization_percentage", 0, 100},
	    {"window", "window_seconds", 1, 3600},
	    {"scale-down-delay", "scale_down_delay_seconds", 1, 3600},
	    {"panic-window-percentage", "panic_window_percentage", 2, 0},
	    {"panic-threshold-percentage", "panic_threshold_percentage", 2, 0},
	};
	cJSON *sc = patch_obj(c, "scaling");
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		if (strcmp(name, map[i].ann))
			continue;
		if (map[i].kind == 2)
			return pct(c, path, v, sc, map[i].field);
		int x;
		int rc = map[i].kind == 0 ? to_int(c, path, v, 0, map[i].hi, &x)
		                          : seconds(c, path, v, map[i].hi, &x);
		if (!rc)
			cJSON_AddNumberToObject(sc, map[i].field, x);
		return rc;
	}
	return 1;
}

static int p_template_annotation(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	bool b;
	int x, rc;
	if (!strcmp(key, KNATIVE_ANN_MIN_SCALE) || !strcmp(key, KNATIVE_ANN_MIN_SCALE_OLD))
		return scale_bound(c, path, "min_instances", v);
	if (!strcmp(key, KNATIVE_ANN_MAX_SCALE) || !strcmp(key, KNATIVE_ANN_MAX_SCALE_OLD))
		return scale_bound(c, path, "max_instances", v);
	if (!strcmp(key, KNATIVE_ANN_CPU_THROTTLING) || !strcmp(key, KNATIVE_ANN_CPU_BOOST)) {
		if ((rc = to_bool(c, path, v, &b)))
			return rc;
		cJSON_AddBoolToObject(
		    c->patch,
		    strcmp(key, KNATIVE_ANN_CPU_BOOST) ? "cpu_throttling" : "startup_cpu_boost", b);
		return 0;
	}
	if (!strcmp(key, KNATIVE_ANN_IDLE_TIMEOUT)) {
		if ((rc = seconds(c, path, v, SPEC_IDLE_TIMEOUT_MAX_S, &x)))
			return rc;
		cJSON_AddNumberToObject(c->patch, "idle_timeout_seconds", x);
		return 0;
	}
	if (!strncmp(key, KNATIVE_AUTOSCALING_PREFIX, strlen(KNATIVE_AUTOSCALING_PREFIX))) {
		rc = scaling_annotation(c, path, key + strlen(KNATIVE_AUTOSCALING_PREFIX), v);
		if (rc <= 0)
			return rc;
	}
	return set_str_in(c, patch_obj(c, "annotations"), path, key, v);
}

static int p_template_meta(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "name")) {
		const char *s = scalar(c, path, v);
		if (!s)
			return ERR_INVALID;
		free(c->out->revision_name);
		c->out->revision_name = xstrdup(s);
		return 0;
	}
	if (!strcmp(key, "annotations"))
		return each_pair(c, path, v, p_template_annotation);
	if (!output_only(key))
		warn(c, path);
	return 0;
}

/* ---- containers[0] ---- */

static int strv(struct ctx *c, const char *path, yaml_node_t *v, const char *key)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return err_set(c->err, ERR_INVALID, "%s: expected a list", path);
	cJSON *a = cJSON_AddArrayToObject(c->patch, key);
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		const char *s = scalar(c, path, node_at(c, *i));
		if (!s)
			return ERR_INVALID;
		cJSON_AddItemToArray(a, cJSON_CreateString(s));
	}
	return 0;
}

static int p_env_entry(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "name") || !strcmp(key, "value"))
		return set_str_in(c, c->env_entry, path, key, v);
	if (!strcmp(key, "valueFrom"))
		return err_set(c->err, ERR_UNSUPPORTED,
		               "%s: secrets and config maps are not supported; give value", path);
	warn(c, path);
	return 0;
}

static int env_list(struct ctx *c, const char *path, yaml_node_t *v)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return err_set(c->err, ERR_INVALID, "%s: expected a list", path);
	cJSON *a = cJSON_AddArrayToObject(c->patch, "env");
	int64_t idx = 0;
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++, idx++) {
		char ipath[KNATIVE_PATH_MAX];
		snprintf(ipath, sizeof ipath, "%s[%" PRId64 "]", path, idx);
		c->env_entry = cJSON_CreateObject();
		cJSON_AddItemToArray(a, c->env_entry);
		int rc = each_pair(c, ipath, node_at(c, *i), p_env_entry);
		if (rc)
			return rc;
		if (!cJSON_GetObjectItemCaseSensitive(c->env_entry, "name"))
			return err_set(c->err, ERR_INVALID, "%s: name is missing", ipath);
	}
	return 0;
}

static int p_port(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	int x;
	const char *s;
	if (!strcmp(key, "containerPort")) {
		int rc = to_int(c, path, v, 1, 65535, &x);
		if (!rc)
			cJSON_AddNumberToObject(c->patch, "port", x);
		return rc;
	}
	if (!strcmp(key, "name")) {
		if (!(s = scalar(c, path, v)))
			return ERR_INVALID;
		if (strcmp(s, "http1"))
			return err_set(c->err, ERR_UNSUPPORTED,
			               "%s: '%s': only HTTP/1 (http1) is supported", path, s);
		return 0;
	}
	if (!strcmp(key, "protocol")) {
		if (!(s = scalar(c, path, v)))
			return ERR_INVALID;
		return strcmp(s, "TCP") ? err_set(c->err, ERR_UNSUPPORTED, "%s: only TCP", path)
		                        : 0;
	}
	warn(c, path);
	return 0;
}

static int ports(struct ctx *c, const char *path, yaml_node_t *v)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return err_set(c->err, ERR_INVALID, "%s: expected a list", path);
	int64_t n = v->data.sequence.items.top - v->data.sequence.items.start;
	if (n > 1)
		return err_set(c->err, ERR_UNSUPPORTED, "%s: only one port can receive requests",
		               path);
	if (n == 0)
		return 0;
	char ipath[KNATIVE_PATH_MAX];
	snprintf(ipath, sizeof ipath, "%s[0]", path);
	return each_pair(c, ipath, node_at(c, v->data.sequence.items.start[0]), p_port);
}

static int p_limit(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	int x;
	if (!strcmp(key, "cpu") || !strcmp(key, "memory"))
		return set_str_in(c, c->patch, path, key, v);
	if (!strcmp(key, KNATIVE_RES_GPU)) {
		int rc = to_int(c, path, v, 0, SPEC_GPU_MAX, &x);
		if (!rc)
			cJSON_AddNumberToObject(c->patch, "gpu", x);
		return rc;
	}
	warn(c, path);
	return 0;
}

static int p_resources(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "limits"))
		return each_pair(c, path, v, p_limit);
	warn(c, path);
	return 0;
}

static int p_probe_action(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	cJSON *p = patch_obj(c, "startup_probe");
	int x;
	if (!strcmp(key, "port")) {
		int rc = to_int(c, path, v, 0, 65535, &x);
		if (!rc)
			cJSON_AddNumberToObject(p, "port", x);
		return rc;
	}
	if (!strcmp(key, "path") && strstr(path, "httpGet"))
		return set_str_in(c, p, path, "path", v);
	warn(c, path);
	return 0;
}

static int p_probe(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	static const char *ints[][2] = {{"initialDelaySeconds", "initial_delay_seconds"},
	                                {"timeoutSeconds", "timeout_seconds"},
	                                {"periodSeconds", "period_seconds"},
	                                {"failureThreshold", "failure_threshold"}};
	cJSON *p = patch_obj(c, "startup_probe");
	if (!strcmp(key, "tcpSocket") || !strcmp(key, "httpGet")) {
		cJSON_DeleteItemFromObjectCaseSensitive(p, "type");
		cJSON_AddStringToObject(p, "type", key[0] == 't' ? "tcp" : "http");
		return each_pair(c, path, v, p_probe_action);
	}
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		if (strcmp(key, ints[i][0]))
			continue;
		int x, rc = to_int(c, path, v, 0, 100000, &x);
		if (!rc)
			cJSON_AddNumberToObject(p, ints[i][1], x);
		return rc;
	}
	warn(c, path);
	return 0;
}

static int p_container(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "image"))
		return set_str_in(c, c->patch, path, "image", v);
	if (!strcmp(key, "name"))
		return set_str_in(c, c->patch, path, "container_name", v);
	if (!strcmp(key, "command") || !strcmp(key, "args"))
		return strv(c, path, v, key);
	if (!strcmp(key, "env"))
		return env_list(c, path, v);
	if (!strcmp(key, "ports"))
		return ports(c, path, v);
	if (!strcmp(key, "resources"))
		return each_pair(c, path, v, p_resources);
	if (!strcmp(key, "startupProbe"))
		return each_pair(c, path, v, p_probe);
	warn(c, path);
	return 0;
}

/* ---- template.spec, spec, top ---- */

static int p_node_selector(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, KNATIVE_SEL_ACCELERATOR))
		return set_str_in(c, c->patch, path, "gpu_type", v);
	warn(c, path);
	return 0;
}

static int p_template_spec(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	int x, rc;
	if (!strcmp(key, "containerConcurrency")) {
		if (!(rc = to_int(c, path, v, 0, 100000, &x)))
			cJSON_AddNumberToObject(c->patch, "concurrency",
			                        x ? x : SPEC_CONCURRENCY_MAX); /* 0 = unlimited */
		return rc;
	}
	if (!strcmp(key, "timeoutSeconds")) {
		if (!(rc = to_int(c, path, v, 0, 100000, &x)))
			cJSON_AddNumberToObject(c->patch, "timeout_seconds", x);
		return rc;
	}
	if (!strcmp(key, "nodeSelector"))
		return each_pair(c, path, v, p_node_selector);
	if (!strcmp(key, "containers")) {
		if (!v || v->type != YAML_SEQUENCE_NODE)
			return err_set(c->err, ERR_INVALID, "%s: expected a list", path);
		int64_t n = v->data.sequence.items.top - v->data.sequence.items.start;
		if (n != 1)
			return err_set(c->err, ERR_UNSUPPORTED,
			               "%s: exactly one container is supported, got %" PRId64, path,
			               n);
		char ipath[KNATIVE_PATH_MAX];
		snprintf(ipath, sizeof ipath, "%s[0]", path);
		return each_pair(c, ipath, node_at(c, v->data.sequence.items.start[0]),
		                 p_container);
	}
	warn(c, path);
	return 0;
}

static int p_template(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "metadata"))
		return each_pair(c, path, v, p_template_meta);
	if (!strcmp(key, "spec"))
		return each_pair(c, path, v, p_template_spec);
	warn(c, path);
	return 0;
}

static int p_spec(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	if (!strcmp(key, "template"))
		return each_pair(c, path, v, p_template);
	if (!strcmp(key, "traffic"))
		return knative__import_traffic(c->doc, path, v, &c->out->traffic,
		                               &c->out->n_traffic, c->warn, c->err);
	warn(c, path);
	return 0;
}

static int p_top(struct ctx *c, const char *path, const char *key, yaml_node_t *v)
{
	const char *s;
	if (!strcmp(key, "apiVersion") || !strcmp(key, "kind")) {
		if (!(s = scalar(c, path, v)))
			return ERR_INVALID;
		const char *want = key[0] == 'a' ? KNATIVE_API_VERSION : "Service";
		if (strcmp(s, want))
			return err_set(c->err, ERR_INVALID, "%s must be %s, got '%s'", key, want,
			               s);
		*(key[0] == 'a' ? &c->api_version : &c->kind) = true;
		return 0;
	}
	if (!strcmp(key, "metadata"))
		return each_pair(c, path, v, p_metadata);
	if (!strcmp(key, "spec"))
		return each_pair(c, path, v, p_spec);
	if (strcmp(key, "status"))
		warn(c, path);
	return 0;
}

/* libyaml's scanner costs O(depth) per token in flow collections, so
 * "[[[[..." is quadratic: refuse deep bracket nesting before parsing. Every
 * bracket counts, quoted or not — a legitimate service never gets near. */
static int check_flow_depth(const char *p, size_t n, char *err)
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '[' || p[i] == '{') {
			if (++depth > KNATIVE_FLOW_DEPTH_MAX)
				return err_set(err, ERR_TOO_LARGE,
				               "YAML nests brackets deeper than %d levels",
				               KNATIVE_FLOW_DEPTH_MAX);
		} else if ((p[i] == ']' || p[i] == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static int load(const char *yaml, size_t len, yaml_document_t *doc, char *err)
{
	int rc = check_flow_depth(yaml, len, err);
	if (rc)
		return rc;
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return err_set(err, ERR_NOMEM, "YAML parser: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, doc)) {
		rc = err_set(err, ERR_INVALID, "YAML line %zu column %zu: %s",
		             parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		             parser.problem ? parser.problem : "syntax error");
		goto out_parser;
	}
	yaml_document_t next;
	if (!yaml_parser_load(&parser, &next)) {
		rc = err_set(err, ERR_INVALID, "YAML after the first document: %s",
		             parser.problem ? parser.problem : "syntax error");
	} else {
		if (yaml_document_get_root_node(&next))
			rc = err_set(err, ERR_INVALID, "give one YAML document, not several");
		yaml_document_delete(&next);
	}
	if (rc)
		yaml_document_delete(doc);
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}

int knative_import(const char *yaml, size_t len, struct knative_service *out, struct buf *warnings,
                   char err[ERR_MSG_LEN])
{
	knative_service_init(out);
	if (len > KNATIVE_YAML_MAX)
		return err_set(err, ERR_TOO_LARGE, "service YAML is larger than %d bytes",
		               KNATIVE_YAML_MAX);
	yaml_document_t doc;
	int rc = load(yaml, len, &doc, err);
	if (rc)
		return rc;
	struct ctx c = {&doc, warnings, err, cJSON_CreateObject(), out, NULL, false, false};
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = err_set(err, ERR_INVALID, "the YAML document is empty");
		goto out_doc;
	}
	if ((rc = each_pair(&c, "", root, p_top)))
		goto out_doc;
	if (!c.api_version || !c.kind) {
		rc = err_set(err, ERR_INVALID, "apiVersion: %s and kind: Service are required",
		             KNATIVE_API_VERSION);
		goto out_doc;
	}
	if (!out->name) {
		rc = err_set(err, ERR_INVALID, "metadata.name is missing");
		goto out_doc;
	}
	if ((rc = spec_name_check("service name", out->name, err)))
		goto out_doc;
	spec_release(&out->spec);
	if ((rc = spec_from_json(c.patch, &out->spec, err))) {
		spec_init(&out->spec);
		goto out_doc;
	}
	if (!(rc = spec_validate(&out->spec, err)) && out->n_traffic > 0)
		rc = spec_traffic_validate(out->traffic, out->n_traffic, err);
	if (!rc && out->revision_name)
		rc = spec_revision_name_check(out->name, out->revision_name, err);
out_doc:
	cJSON_Delete(c.patch);
	yaml_document_delete(&doc);
	return rc;
}

void knative_service_init(struct knative_service *k)
{
	memset(k, 0, sizeof *k);
	spec_init(&k->spec);
}

void knative_service_release(struct knative_service *k)
{
	if (!k)
		return;
	free(k->name);
	free(k->namespace_);
	free(k->revision_name);
	spec_release(&k->spec);
	spec_traffic_free_array(k->traffic, k->n_traffic);
	memset(k, 0, sizeof *k);
}
