/* knative_export.c — a service to Knative serving.knative.dev/v1 Service
 * YAML through libyaml's emitter (so quoting is always right), plus the
 * traffic list reader the importer shares. Annotation values that YAML would
 * read as numbers or booleans are double-quoted: Kubernetes wants strings.
 * minScale/maxScale use the spelling both Cloud Run and Knative accept. */
#include "platform/knative.h"

#include "base/mem.h"
#include "platform/knative_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct em {
	yaml_emitter_t e;
	yaml_event_t ev;
	bool failed;
};

static void emit(struct em *m)
{
	if (!m->failed && !yaml_emitter_emit(&m->e, &m->ev))
		m->failed = true;
}

static void map_start(struct em *m)
{
	yaml_mapping_start_event_initialize(&m->ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
	emit(m);
}

static void map_end(struct em *m)
{
	yaml_mapping_end_event_initialize(&m->ev);
	emit(m);
}

static void seq_start(struct em *m)
{
	yaml_sequence_start_event_initialize(&m->ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
	emit(m);
}

static void seq_end(struct em *m)
{
	yaml_sequence_end_event_initialize(&m->ev);
	emit(m);
}

/* True when a plain scalar s would not read back as the string s. */
static bool looks_typed(const char *s)
{
	static const char *words[] = {"y",     "Y",     "yes",  "Yes",  "YES",  "n",    "N",
	                              "no",    "No",    "NO",   "true", "True", "TRUE", "false",
	                              "False", "FALSE", "on",   "On",   "ON",   "off",  "Off",
	                              "OFF",   "null",  "Null", "NULL", "~"};
	if (!s[0] || strchr("0123456789-+.", s[0]))
		return true;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static void str(struct em *m, const char *s)
{
	yaml_scalar_style_t style =
	    looks_typed(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
	                             style);
	emit(m);
}

static void plain(struct em *m, const char *s)
{
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 0,
	                             YAML_PLAIN_SCALAR_STYLE);
	emit(m);
}

static void kv(struct em *m, const char *k, const char *v)
{
	str(m, k);
	str(m, v);
}

static void kv_num(struct em *m, const char *k, int64_t v)
{
	char b[32];
	snprintf(b, sizeof b, "%" PRId64, v);
	str(m, k);
	plain(m, b);
}

static void kv_int_str(struct em *m, const char *k, int64_t v)
{
	char b[32];
	snprintf(b, sizeof b, "%" PRId64, v);
	kv(m, k, b);
}

static void kv_secs(struct em *m, const char *k, int64_t s)
{
	char b[32];
	snprintf(b, sizeof b, "%" PRId64 "s", s);
	kv(m, k, b);
}

static void kv_pct(struct em *m, const char *k, double v)
{
	char b[32];
	snprintf(b, sizeof b, "%g", v);
	kv(m, k, b);
}

static void kvs(struct em *m, const struct spec_kvs *l)
{
	for (int64_t i = 0; i < l->n; i++)
		kv(m, l->items[i].name, l->items[i].value);
}

static void metadata(struct em *m, const struct knative_service *k)
{
	const struct spec *s = &k->spec;
	str(m, "metadata");
	map_start(m);
	kv(m, "name", k->name);
	if (k->namespace_)
		kv(m, "namespace", k->namespace_);
	str(m, "labels");
	map_start(m);
	kv(m, KNATIVE_LABEL_LOCATION, s->region ? s->region : SPEC_REGION_DEFAULT);
	kvs(m, &s->labels);
	map_end(m);
	if (s->allow_unauthenticated || s->service_annotations.n) {
		str(m, "annotations");
		map_start(m);
		if (s->allow_unauthenticated)
			kv(m, KNATIVE_ANN_PUBLIC, "true");
		kvs(m, &s->service_annotations);
		map_end(m);
	}
	map_end(m);
}

static void template_annotations(struct em *m, const struct spec *s)
{
	const struct spec_scaling *c = &s->scaling;
	str(m, "annotations");
	map_start(m);
	if (s->min_instances > 0)
		kv_int_str(m, KNATIVE_ANN_MIN_SCALE_OLD, s->min_instances);
	kv_int_str(m, KNATIVE_ANN_MAX_SCALE_OLD, s->max_instances);
	if (c->target > 0)
		kv_int_str(m, KNATIVE_AUTOSCALING_PREFIX "target", c->target);
	if (c->utilization_pct != 70)
		kv_int_str(m, KNATIVE_AUTOSCALING_PREFIX "target-utilization-percentage",
		           c->utilization_pct);
	if (c->window_s != 60)
		kv_secs(m, KNATIVE_AUTOSCALING_PREFIX "window", c->window_s);
	if (c->panic_window_pct != 10.0)
		kv_pct(m, KNATIVE_AUTOSCALING_PREFIX "panic-window-percentage",
		       c->panic_window_pct);
	if (c->panic_threshold_pct != 200.0)
		kv_pct(m, KNATIVE_AUTOSCALING_PREFIX "panic-threshold-percentage",
		       c->panic_threshold_pct);
	if (c->scale_down_delay_s != 0)
		kv_secs(m, KNATIVE_AUTOSCALING_PREFIX "scale-down-delay", c->scale_down_delay_s);
	kv(m, KNATIVE_ANN_CPU_THROTTLING, s->cpu_throttling ? "true" : "false");
	kv(m, KNATIVE_ANN_CPU_BOOST, s->startup_cpu_boost ? "true" : "false");
	kv_secs(m, KNATIVE_ANN_IDLE_TIMEOUT, s->idle_timeout_s);
	kvs(m, &s->annotations);
	map_end(m);
}

static void strlist(struct em *m, const char *key, const struct spec_strv *v)
{
	if (!v->n)
		return;
	str(m, key);
	seq_start(m);
	for (int64_t i = 0; i < v->n; i++)
		str(m, v->v[i]);
	seq_end(m);
}

static void probe(struct em *m, const struct spec *s)
{
	const struct spec_probe *p = &s->probe;
	str(m, "startupProbe");
	map_start(m);
	str(m, p->kind == SPEC_PROBE_HTTP ? "httpGet" : "tcpSocket");
	map_start(m);
	if (p->kind == SPEC_PROBE_HTTP)
		kv(m, "path", p->path ? p->path : "/");
	/* port 0 means "the container's port": Knative and Cloud Run default an
	 * omitted probe port to it, so leaving it out keeps export -> import exact */
	if (p->port)
		kv_num(m, "port", p->port);
	map_end(m);
	if (p->initial_delay_s)
		kv_num(m, "initialDelaySeconds", p->initial_delay_s);
	kv_num(m, "timeoutSeconds", p->timeout_s);
	kv_num(m, "periodSeconds", p->period_s);
	kv_num(m, "failureThreshold", p->failure_threshold);
	map_end(m);
}

static void container(struct em *m, const struct spec *s)
{
	char q[32];
	map_start(m);
	if (s->container_name)
		kv(m, "name", s->container_name);
	if (s->image)
		kv(m, "image", s->image);
	strlist(m, "command", &s->command);
	strlist(m, "args", &s->args);
	str(m, "ports");
	seq_start(m);
	map_start(m);
	kv(m, "name", "http1");
	kv_num(m, "containerPort", s->port);
	map_end(m);
	seq_end(m);
	if (s->env.n) {
		str(m, "env");
		seq_start(m);
		for (int64_t i = 0; i < s->env.n; i++) {
			map_start(m);
			kv(m, "name", s->env.items[i].name);
			kv(m, "value", s->env.items[i].value);
			map_end(m);
		}
		seq_end(m);
	}
	str(m, "resources");
	map_start(m);
	str(m, "limits");
	map_start(m);
	spec_format_cpu(s->cpu_milli, q, sizeof q);
	kv(m, "cpu", q);
	spec_format_memory(s->memory_bytes, q, sizeof q);
	kv(m, "memory", q);
	if (s->gpu > 0)
		kv_int_str(m, KNATIVE_RES_GPU, s->gpu);
	map_end(m);
	map_end(m);
	probe(m, s);
	map_end(m);
}

static void traffic(struct em *m, const struct spec_traffic *t, int64_t n, const char *url)
{
	str(m, "traffic");
	seq_start(m);
	for (int64_t i = 0; i < n; i++) {
		map_start(m);
		if (t[i].latest) {
			str(m, "latestRevision");
			plain(m, "true");
		} else {
			kv(m, "revisionName", t[i].revision);
		}
		kv_num(m, "percent", t[i].percent);
		if (t[i].tag)
			kv(m, "tag", t[i].tag);
		if (url && t[i].tag) {
			/* Cloud Run's tag URL: TAG---SERVICE... (§1.12) */
			const char *host = strstr(url, "://");
			char b[512];
			snprintf(b, sizeof b, "%.*s%s---%s", host ? (int)(host - url + 3) : 0, url,
			         t[i].tag, host ? host + 3 : url);
			kv(m, "url", b);
		}
		map_end(m);
	}
	seq_end(m);
}

static void spec_section(struct em *m, const struct knative_service *k)
{
	const struct spec *s = &k->spec;
	str(m, "spec");
	map_start(m);
	str(m, "template");
	map_start(m);
	str(m, "metadata");
	map_start(m);
	if (k->revision_name)
		kv(m, "name", k->revision_name);
	template_annotations(m, s);
	map_end(m);
	str(m, "spec");
	map_start(m);
	kv_num(m, "containerConcurrency", s->concurrency);
	kv_num(m, "timeoutSeconds", s->timeout_s);
	if (s->gpu_type) {
		str(m, "nodeSelector");
		map_start(m);
		kv(m, KNATIVE_SEL_ACCELERATOR, s->gpu_type);
		map_end(m);
	}
	str(m, "containers");
	seq_start(m);
	container(m, s);
	seq_end(m);
	map_end(m);
	map_end(m);
	if (k->n_traffic > 0) {
		traffic(m, k->traffic, k->n_traffic, NULL);
	} else {
		struct spec_traffic all = {NULL, true, 100, NULL};
		traffic(m, &all, 1, NULL);
	}
	map_end(m);
}

static void status_section(struct em *m, const struct knative_status *st)
{
	str(m, "status");
	map_start(m);
	kv_num(m, "observedGeneration", st->observed_generation);
	str(m, "conditions");
	seq_start(m);
	for (int64_t i = 0; i < st->n_conditions; i++) {
		const struct knative_condition *c = &st->conditions[i];
		map_start(m);
		kv(m, "type", c->type);
		kv(m, "status", c->status);
		if (c->reason)
			kv(m, "reason", c->reason);
		if (c->message)
			kv(m, "message", c->message);
		map_end(m);
	}
	seq_end(m);
	if (st->latest_created_revision)
		kv(m, "latestCreatedRevisionName", st->latest_created_revision);
	if (st->latest_ready_revision)
		kv(m, "latestReadyRevisionName", st->latest_ready_revision);
	if (st->n_traffic > 0)
		traffic(m, st->traffic, st->n_traffic, st->url);
	if (st->url) {
		kv(m, "url", st->url);
		str(m, "address");
		map_start(m);
		kv(m, "url", st->url);
		map_end(m);
	}
	map_end(m);
}

static int write_out(void *data, unsigned char *p, size_t n)
{
	buf_append(data, p, n);
	return 1;
}

int knative_export(const struct knative_service *k, const struct knative_status *st,
                   struct buf *out, char err[ERR_MSG_LEN])
{
	struct em m = {.failed = false};
	if (!k->name)
		return err_set(err, ERR_INVALID, "the service has no name");
	if (!yaml_emitter_initialize(&m.e))
		return err_set(err, ERR_NOMEM, "YAML emitter: out of memory");
	yaml_emitter_set_output(&m.e, write_out, out);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, -1);
	yaml_stream_start_event_initialize(&m.ev, YAML_UTF8_ENCODING);
	emit(&m);
	yaml_document_start_event_initialize(&m.ev, NULL, NULL, NULL, 1);
	emit(&m);
	map_start(&m);
	kv(&m, "apiVersion", KNATIVE_API_VERSION);
	kv(&m, "kind", "Service");
	metadata(&m, k);
	spec_section(&m, k);
	if (st)
		status_section(&m, st);
	map_end(&m);
	yaml_document_end_event_initialize(&m.ev, 1);
	emit(&m);
	yaml_stream_end_event_initialize(&m.ev);
	emit(&m);
	int rc = 0;
	if (m.failed)
		rc = err_set(err, ERR_INVALID, "YAML emitter: %s",
		             m.e.problem ? m.e.problem : "failed");
	yaml_emitter_delete(&m.e);
	return rc;
}

/* ---- traffic (import side) ---- */

static const char *tscalar(yaml_document_t *doc, int idx)
{
	yaml_node_t *n = yaml_document_get_node(doc, idx);
	if (!n || n->type != YAML_SCALAR_NODE ||
	    strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static int target(yaml_document_t *doc, const char *path, yaml_node_t *v, struct spec_traffic *t,
                  struct buf *warn, char *err)
{
	if (!v || v->type != YAML_MAPPING_NODE)
		return err_set(err, ERR_INVALID, "%s: expected a mapping", path);
	for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
	     p++) {
		const char *k = tscalar(doc, p->key), *val = tscalar(doc, p->value);
		int64_t x;
		if (!k || !val)
			return err_set(err, ERR_INVALID,
			               "%s: keys and values must be single values", path);
		if (!strcmp(k, "revisionName")) {
			free(t->revision);
			t->revision = xstrdup(val);
		} else if (!strcmp(k, "latestRevision")) {
			if (strcmp(val, "true") && strcmp(val, "false"))
				return err_set(err, ERR_INVALID, "%s.latestRevision: not a boolean",
				               path);
			t->latest = !strcmp(val, "true");
		} else if (!strcmp(k, "percent")) {
			if (!str_to_i64(val, &x) || x < 0 || x > 100)
				return err_set(err, ERR_INVALID, "%s.percent: '%s' is not 0-100",
				               path, val);
			t->percent = (int)x;
		} else if (!strcmp(k, "tag")) {
			free(t->tag);
			t->tag = xstrdup(val);
		} else if (strcmp(k, "url") && warn) {
			buf_printf(warn, "%s.%s: not supported by gpurun, ignored\n", path, k);
		}
	}
	return 0;
}

int knative__import_traffic(yaml_document_t *doc, const char *path, yaml_node_t *v,
                            struct spec_traffic **out, int64_t *n, struct buf *warn, char *err)
{
	if (!v || v->type != YAML_SEQUENCE_NODE)
		return err_set(err, ERR_INVALID, "%s: expected a list", path);
	int64_t cnt = v->data.sequence.items.top - v->data.sequence.items.start;
	if (cnt > 1000)
		return err_set(err, ERR_TOO_LARGE, "%s: too many traffic targets", path);
	spec_traffic_free_array(*out, *n);
	*out = xcalloc((size_t)(cnt ? cnt : 1), sizeof **out);
	*n = cnt;
	for (int64_t i = 0; i < cnt; i++) {
		char ipath[KNATIVE_PATH_MAX];
		snprintf(ipath, sizeof ipath, "%s[%" PRId64 "]", path, i);
		yaml_node_t *item = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
		int rc = target(doc, ipath, item, &(*out)[i], warn, err);
		if (rc)
			return rc;
	}
	return 0;
}
