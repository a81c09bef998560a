/* knative_test.c — Knative Service YAML: import of Cloud Run's documented
 * shape (reference §1.14), export(import(y)) keeping every field, idempotent
 * re-export, and a table of malformed and hostile documents. */
#include "support/support.h"

#include "base/timeutil.h"
#include "platform/knative.h"

#include <stdlib.h>
#include <string.h>

static const char full_yaml[] =
    "apiVersion: serving.knative.dev/v1\n"
    "kind: Service\n"
    "metadata:\n"
    "  name: ollama-gemma\n"
    "  namespace: '123456'\n"
    "  uid: 0000-1111\n"
    "  labels:\n"
    "    cloud.googleapis.com/location: us-central1\n"
    "    team: ml\n"
    "  annotations:\n"
    "    run.googleapis.com/ingress: all\n"
    "    run.googleapis.com/invoker-iam-disabled: 'true'\n"
    "spec:\n"
    "  template:\n"
    "    metadata:\n"
    "      name: ollama-gemma-v1\n"
    "      annotations:\n"
    "        autoscaling.knative.dev/minScale: '1'\n"
    "        autoscaling.knative.dev/max-scale: '3'\n"
    "        autoscaling.knative.dev/target: '3'\n"
    "        autoscaling.knative.dev/window: 90s\n"
    "        autoscaling.knative.dev/panic-threshold-percentage: '150.5'\n"
    "        run.googleapis.com/cpu-throttling: 'false'\n"
    "        run.googleapis.com/startup-cpu-boost: 'true'\n"
    "        run.googleapis.com/execution-environment: gen2\n"
    "        gpurun.dev/idle-timeout: 2m\n"
    "    spec:\n"
    "      containerConcurrency: 4\n"
    "      timeoutSeconds: 600\n"
    "      nodeSelector:\n"
    "        run.googleapis.com/accelerator: nvidia-l4\n"
    "      containers:\n"
    "      - name: ollama\n"
    "        image: gpurun/ollama\n"
    "        command: [/bin/sh]\n"
    "        args: ['-c', 'exec serve --verbose']\n"
    "        ports: [{name: http1, containerPort: 11434}]\n"
    "        env:\n"
    "        - {name: OLLAMA_NUM_PARALLEL, value: '4'}\n"
    "        - name: GREETING\n"
    "          value: \"h\\u00e9llo: world # not a comment\"\n"
    "        - name: EMPTY\n"
    "        resources:\n"
    "          limits: {cpu: '8', memory: 32Gi, nvidia.com/gpu: '1'}\n"
    "        startupProbe:\n"
    "          httpGet: {path: /api/version, port: 11434}\n"
    "          initialDelaySeconds: 1\n"
    "          timeoutSeconds: 5\n"
    "          periodSeconds: 10\n"
    "          failureThreshold: 24\n"
    "  traffic:\n"
    "  - revisionName: ollama-gemma-v1\n"
    "    percent: 90\n"
    "  - latestRevision: true\n"
    "    percent: 10\n"
    "    tag: canary\n"
    "status:\n"
    "  url: https://ignored.example\n";

static void test_knative_import_maps_every_field(void **state)
{
	struct knative_service k;
	struct buf warn = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	int rc = knative_import(full_yaml, strlen(full_yaml), &k, &warn, err);
	if (rc)
		fail_msg("import: %s", err);
	const struct spec *s = &k.spec;
	assert_string_equal(k.name, "ollama-gemma");
	assert_string_equal(k.namespace_, "123456");
	assert_string_equal(k.revision_name, "ollama-gemma-v1");
	assert_string_equal(s->region, "us-central1");
	assert_string_equal(spec_kvs_get(&s->labels, "team"), "ml");
	assert_string_equal(spec_kvs_get(&s->service_annotations, "run.googleapis.com/ingress"),
	                    "all");
	assert_true(s->allow_unauthenticated);
	assert_int_equal(s->min_instances, 1);
	assert_int_equal(s->max_instances, 3);
	assert_int_equal(s->scaling.target, 3);
	assert_int_equal(s->scaling.window_s, 90);
	assert_true(s->scaling.panic_threshold_pct == 150.5);
	assert_false(s->cpu_throttling);
	assert_true(s->startup_cpu_boost);
	assert_string_equal(
	    spec_kvs_get(&s->annotations, "run.googleapis.com/execution-environment"), "gen2");
	assert_int_equal(s->idle_timeout_s, 120);
	assert_int_equal(s->concurrency, 4);
	assert_int_equal(s->timeout_s, 600);
	assert_string_equal(s->gpu_type, "nvidia-l4");
	assert_string_equal(s->container_name, "ollama");
	assert_string_equal(s->image, "gpurun/ollama");
	assert_string_equal(s->command.v[0], "/bin/sh");
	assert_string_equal(s->args.v[1], "exec serve --verbose");
	assert_int_equal(s->port, 11434);
	assert_int_equal(s->env.n, 3);
	assert_string_equal(spec_kvs_get(&s->env, "GREETING"),
	                    "h\xc3\xa9llo: world # not a comment");
	assert_string_equal(spec_kvs_get(&s->env, "EMPTY"), "");
	assert_int_equal(s->cpu_milli, 8000);
	assert_int_equal(s->memory_bytes, 32LL << 30);
	assert_int_equal(s->gpu, 1);
	assert_int_equal(s->probe.kind, SPEC_PROBE_HTTP);
	assert_string_equal(s->probe.path, "/api/version");
	assert_int_equal(s->probe.failure_threshold, 24);
	assert_int_equal(k.n_traffic, 2);
	assert_string_equal(k.traffic[0].revision, "ollama-gemma-v1");
	assert_true(k.traffic[1].latest);
	assert_string_equal(k.traffic[1].tag, "canary");
	assert_int_equal(warn.len, 0); /* uid and status are output-only, no warning */
	buf_release(&warn);
	knative_service_release(&k);
}

static void test_knative_round_trip_keeps_every_field(void **state)
{
	struct knative_service a, b;
	struct buf y1 = BUF_INIT, y2 = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(knative_import(full_yaml, strlen(full_yaml), &a, NULL, err), 0);
	assert_int_equal(knative_export(&a, NULL, &y1, err), 0);
	if (knative_import(y1.data, y1.len, &b, NULL, err))
		fail_msg("re-import: %s\n%s", err, y1.data);
	cJSON *ja = spec_to_json(&a.spec), *jb = spec_to_json(&b.spec);
	if (!cJSON_Compare(ja, jb, true)) {
		char *sa = cJSON_Print(ja), *sb = cJSON_Print(jb);
		fail_msg("spec changed in the round trip:\n%s\n%s", sa, sb);
	}
	assert_string_equal(a.revision_name, b.revision_name);
	assert_string_equal(b.namespace_, "123456");
	cJSON *ta = spec_traffic_to_json(a.traffic, a.n_traffic);
	cJSON *tb = spec_traffic_to_json(b.traffic, b.n_traffic);
	assert_true(cJSON_Compare(ta, tb, true));
	assert_int_equal(knative_export(&b, NULL, &y2, err), 0);
	assert_string_equal(y1.data, y2.data); /* export is canonical */
	/* quoting keeps Kubernetes' string-typed values strings */
	assert_non_null(strstr(y1.data, "autoscaling.knative.dev/maxScale: \"3\""));
	assert_non_null(strstr(y1.data, "nvidia.com/gpu: \"1\""));
	assert_non_null(strstr(y1.data, "latestRevision: true"));
	assert_non_null(strstr(y1.data, "containerPort: 11434"));
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	cJSON_Delete(ta);
	cJSON_Delete(tb);
	buf_release(&y1);
	buf_release(&y2);
	knative_service_release(&a);
	knative_service_release(&b);
}

static void test_knative_export_status_and_defaults(void **state)
{
	const char *y =
	    "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\n"
	    "spec:\n  template:\n    spec:\n      containers: [{image: example/hello}]\n";
	struct knative_service k;
	char err[ERR_MSG_LEN];
	assert_int_equal(knative_import(y, strlen(y), &k, NULL, err), 0);
	assert_int_equal(k.spec.concurrency, 80);
	assert_int_equal(k.spec.port, 8080);
	assert_int_equal(k.n_traffic, 0);
	struct knative_condition cond[] = {
	    {"Ready", "True", NULL, NULL},
	    {"RoutesReady", "False", "Starting", "no: instance yet"}};
	struct spec_traffic tr = {"hello-00001-abc", false, 100, "v1"};
	struct knative_status st = {"http://hello.localhost:8080",
	                            3,
	                            "hello-00001-abc",
	                            "hello-00001-abc",
	                            cond,
	                            2,
	                            &tr,
	                            1};
	struct buf out = BUF_INIT;
	assert_int_equal(knative_export(&k, &st, &out, err), 0);
	assert_non_null(strstr(out.data, "url: http://hello.localhost:8080"));
	assert_non_null(strstr(out.data, "latestReadyRevisionName: hello-00001-abc"));
	assert_non_null(strstr(out.data, "url: http://v1---hello.localhost:8080"));
	assert_non_null(strstr(out.data, "message: 'no: instance yet'"));
	assert_non_null(strstr(out.data, "observedGeneration: 3"));
	/* the status is output only: importing the export ignores it */
	struct knative_service k2;
	assert_int_equal(knative_import(out.data, out.len, &k2, NULL, err), 0);
	assert_int_equal(k2.n_traffic, 1);
	assert_true(k2.traffic[0].latest);
	knative_service_release(&k2);
	buf_release(&out);
	knative_service_release(&k);
}

/* A probe without a port follows the container's port: exporting it must not
 * pin today's port, or a later port change would leave the probe behind. */
static void test_knative_probe_port_follows_container(void **state)
{
	const char *y =
	    "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: p}\n"
	    "spec:\n  template:\n    spec:\n      containers:\n      - image: example/p\n"
	    "        ports: [{containerPort: 9000}]\n";
	struct knative_service a, b;
	struct buf out = BUF_INIT;
	char err[ERR_MSG_LEN];
	assert_int_equal(knative_import(y, strlen(y), &a, NULL, err), 0);
	assert_int_equal(a.spec.probe.port, 0);
	assert_int_equal(knative_export(&a, NULL, &out, err), 0);
	assert_int_equal(knative_import(out.data, out.len, &b, NULL, err), 0);
	assert_int_equal(b.spec.port, 9000);
	assert_int_equal(b.spec.probe.port, 0);
	cJSON *ja = spec_to_json(&a.spec), *jb = spec_to_json(&b.spec);
	assert_true(cJSON_Compare(ja, jb, true));
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	buf_release(&out);
	knative_service_release(&a);
	knative_service_release(&b);
}

static void test_knative_warns_on_unsupported(void **state)
{
	const char *y = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a}\n"
	                "spec:\n  template:\n    spec:\n      serviceAccountName: x@y\n"
	                "      containers:\n      - image: i\n        volumeMounts: [{name: v}]\n";
	struct knative_service k;
	struct buf warn = BUF_INIT;
	char err[ERR_MSG_LEN];
	assert_int_equal(knative_import(y, strlen(y), &k, &warn, err), 0);
	assert_non_null(strstr(warn.data, ".spec.template.spec.serviceAccountName"));
	assert_non_null(strstr(warn.data, ".spec.template.spec.containers[0].volumeMounts"));
	buf_release(&warn);
	knative_service_release(&k);
}

#define HDR    "apiVersion: serving.knative.dev/v1\nkind: Service\n"
#define TPL(c) HDR "metadata: {name: a}\nspec:\n  template:\n    spec:\n      containers:\n" c

static void test_knative_hostile_yaml(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
	    {"", "empty"},
	    {"[1, 2", "YAML line"},
	    {"just a string", "expected a mapping"},
	    {"kind: Service\nmetadata: {name: a}\n", "apiVersion: serving.knative.dev/v1 and kind"},
	    {"apiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "apiVersion must be"},
	    {HDR "metadata: {name: a}\n---\n" HDR "metadata: {name: b}\n", "one YAML document"},
	    {HDR "metadata: {labels: {}}\n", "metadata.name is missing"},
	    {HDR "metadata: {name: Bad_Name}\n", "invalid service name"},
	    {HDR "metadata: {name: a, name: b}\n", "duplicate key"},
	    {HDR "metadata: {name: [a]}\n", "expected a single value"},
	    {HDR "metadata: {name: \"a\\0b\"}\n", "NUL"},
	    {TPL("      - {image: i}\n      - {image: sidecar}\n"), "exactly one container"},
	    {TPL("      - {image: i, ports: [{containerPort: 99999}]}\n"), "containerPort"},
	    {TPL("      - {image: i, ports: [{name: h2c, containerPort: 8080}]}\n"), "http1"},
	    {TPL("      - {image: i, env: [{name: A, valueFrom: {secretKeyRef: {}}}]}\n"),
	     "secrets"},
	    {TPL("      - {image: i, env: [{value: x}]}\n"), "name is missing"},
	    {TPL("      - {image: i, env: {A: b}}\n"), "expected a list"},
	    {TPL("      - {image: i, resources: {limits: {cpu: lots}}}\n"), "invalid cpu"},
	    {TPL("      - {image: i, resources: {limits: {nvidia.com/gpu: '-1'}}}\n"), "gpu"},
	    {TPL("      - {image: i, args: [[nested]]}\n"), "single value"},
	    {TPL("      - {image: i}\n      containerConcurrency: 1e9\n"), "containerConcurrency"},
	    {HDR "metadata: {name: a}\nspec: {template: {spec: {containers: [{image: i}]}, "
	         "metadata: {name: other-1}}}\n",
	     "revision name"},
	    {HDR "metadata: {name: a}\nspec: {traffic: [{percent: 50, latestRevision: true}], "
	         "template: {spec: {containers: [{image: i}]}}}\n",
	     "add up to 100"},
	    {HDR "metadata: {name: a}\nspec: {traffic: [{percent: lots}]}\n", "percent"},
	    {HDR "metadata: &m {name: a, labels: *m}\n", "labels.labels"}, /* a cycle */
	    {HDR "metadata: {name: a, annotations: {run.googleapis.com/invoker-iam-disabled: "
	         "maybe}}\n",
	     "true"},
	    {HDR "metadata: {name: a}\nspec: {template: {metadata: {annotations: "
	         "{autoscaling.knative.dev/minScale: '1', autoscaling.knative.dev/min-scale: "
	         "'2'}}}}\n",
	     "both spellings"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct knative_service k;
		char err[ERR_MSG_LEN] = "";
		int rc = knative_import(cases[i].yaml, strlen(cases[i].yaml), &k, NULL, err);
		if (rc == 0 || !strstr(err, cases[i].want))
			fail_msg("case %zu: want error with '%s', got rc %d '%s'", i, cases[i].want,
			         rc, err);
		knative_service_release(&k);
	}
}

/* An alias bomb and deep nesting are bounded: the walk follows the schema,
 * so neither explodes. */
static void test_knative_alias_bomb_and_depth(void **state)
{
	struct buf y = BUF_INIT;
	buf_puts(&y, HDR "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 20; i++)
		buf_printf(&y, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
		           i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	buf_puts(&y, "metadata: {name: a, labels: *a19}\n");
	struct knative_service k;
	char err[ERR_MSG_LEN] = "";
	assert_int_equal(knative_import(y.data, y.len, &k, NULL, err), ERR_INVALID);
	assert_non_null(strstr(err, "labels"));
	knative_service_release(&k);
	buf_reset(&y);
	/* deep flow nesting makes libyaml quadratic: refused up front, quickly */
	buf_puts(&y, HDR "metadata: {name: a}\nx: ");
	for (int i = 0; i < KNATIVE_YAML_MAX - 100; i++)
		buf_putc(&y, '[');
	int64_t t0 = time_mono_ns();
	assert_int_equal(knative_import(y.data, y.len, &k, NULL, err), ERR_TOO_LARGE);
	assert_non_null(strstr(err, "deeper than"));
	assert_true(time_mono_ns() - t0 < 1000000000LL);
	knative_service_release(&k);
	/* deep block nesting is linear: 1,000 levels parse (and fail on the spec) */
	buf_reset(&y);
	buf_puts(&y, HDR "metadata: {name: a}\nx:\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&y, "%*sk%d:\n", i + 1, "", i);
	t0 = time_mono_ns();
	assert_int_equal(knative_import(y.data, y.len, &k, NULL, err), ERR_INVALID);
	assert_true(time_mono_ns() - t0 < 1000000000LL);
	knative_service_release(&k);
	buf_reset(&y);
	for (int i = 0; i < KNATIVE_YAML_MAX + 1; i++)
		buf_putc(&y, ' ');
	assert_int_equal(knative_import(y.data, y.len, &k, NULL, err), ERR_TOO_LARGE);
	knative_service_release(&k);
	buf_release(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_knative_import_maps_every_field),
	    cmocka_unit_test(test_knative_round_trip_keeps_every_field),
	    cmocka_unit_test(test_knative_export_status_and_defaults),
	    cmocka_unit_test(test_knative_probe_port_follows_container),
	    cmocka_unit_test(test_knative_warns_on_unsupported),
	    cmocka_unit_test(test_knative_hostile_yaml),
	    cmocka_unit_test(test_knative_alias_bomb_and_depth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
