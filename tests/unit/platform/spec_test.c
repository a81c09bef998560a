/* spec_test.c — spec defaults, quantities, the validation table (Cloud Run's
 * limits), JSON round trips, deploy flags with gcloud update semantics,
 * traffic targets. */
#include "support/support.h"

#include "base/json.h"
#include "platform/spec.h"

#include <stdlib.h>
#include <string.h>

static int apply(struct spec *s, const char *json, char *err)
{
	cJSON *j = json_parse(json, strlen(json), err);
	assert_non_null(j);
	int rc = spec_patch_apply(s, j, err);
	cJSON_Delete(j);
	return rc;
}

static void test_spec_defaults_are_cloud_runs(void **state)
{
	struct spec s;
	char err[ERR_MSG_LEN];
	spec_init(&s);
	assert_int_equal(s.port, 8080);
	assert_int_equal(s.cpu_milli, 1000);
	assert_int_equal(s.memory_bytes, 512LL << 20);
	assert_int_equal(s.concurrency, 80);
	assert_int_equal(s.timeout_s, 300);
	assert_int_equal(s.max_instances, 100);
	assert_int_equal(s.min_instances, 0);
	assert_false(s.allow_unauthenticated);
	assert_true(s.cpu_throttling);
	assert_int_equal(spec_validate(&s, err), ERR_INVALID); /* no image, no command */
	assert_non_null(strstr(err, "--image"));
	assert_int_equal(apply(&s, "{\"image\":\"gpurun/ollama\"}", err), 0);
	assert_int_equal(spec_validate(&s, err), 0);
	spec_release(&s);
}

static void test_spec_quantities(void **state)
{
	static const struct {
		const char *s;
		int64_t milli;
	} cpu_ok[] = {{"1", 1000}, {"0.5", 500}, {"500m", 500},  {"1000m", 1000},
	              {"2", 2000}, {"0.08", 80}, {"8.000", 8000}};
	static const char *cpu_bad[] = {"", "m", "1.5m", "0.0005", "-1", "1e3", "1 ", "abc", "1x"};
	static const struct {
		const char *s;
		int64_t bytes;
	} mem_ok[] = {{"512Mi", 512LL << 20}, {"2Gi", 2LL << 30},         {"1G", 1000000000LL},
	              {"1024Ki", 1LL << 20},  {"536870912", 536870912LL}, {"1.5Gi", 3LL << 29},
	              {"128M", 128000000LL}};
	static const char *mem_bad[] = {"",    "Gi", "512MB", "-1Gi", "1.5.1Gi", "99999999999999Pi",
	                                "2 Gi"};
	char err[ERR_MSG_LEN], out[32];
	int64_t v;
	for (size_t i = 0; i < sizeof cpu_ok / sizeof cpu_ok[0]; i++) {
		assert_int_equal(spec_parse_cpu(cpu_ok[i].s, &v, err), 0);
		assert_int_equal(v, cpu_ok[i].milli);
	}
	for (size_t i = 0; i < sizeof cpu_bad / sizeof cpu_bad[0]; i++)
		assert_int_equal(spec_parse_cpu(cpu_bad[i], &v, err), ERR_INVALID);
	for (size_t i = 0; i < sizeof mem_ok / sizeof mem_ok[0]; i++) {
		assert_int_equal(spec_parse_memory(mem_ok[i].s, &v, err), 0);
		assert_int_equal(v, mem_ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof mem_bad / sizeof mem_bad[0]; i++)
		assert_true(spec_parse_memory(mem_bad[i], &v, err) < 0);
	spec_format_cpu(500, out, sizeof out);
	assert_string_equal(out, "500m");
	spec_format_cpu(4000, out, sizeof out);
	assert_string_equal(out, "4");
	spec_format_memory(16LL << 30, out, sizeof out);
	assert_string_equal(out, "16Gi");
	spec_format_memory(1000000000LL, out, sizeof out);
	assert_string_equal(out, "1000000000");
	int secs;
	assert_int_equal(spec_parse_seconds("timeout", "10m5s", 3600, &secs, err), 0);
	assert_int_equal(secs, 605);
	assert_int_equal(spec_parse_seconds("timeout", "300", 3600, &secs, err), 0);
	assert_int_equal(secs, 300);
	assert_int_equal(spec_parse_seconds("timeout", "2h", 3600, &secs, err), ERR_INVALID);
	assert_int_equal(spec_parse_seconds("timeout", "1.5s", 3600, &secs, err), ERR_INVALID);
}

/* Each patch is applied to a spec with an image; want NULL = valid, else a
 * fragment of the error message. */
static void test_spec_validation_table(void **state)
{
	static const struct {
		const char *patch, *want;
	} cases[] = {
	    {"{}", NULL},
	    {"{\"concurrency\":1000}", NULL},
	    {"{\"concurrency\":1001}", "concurrency must be between 1 and 1000"},
	    {"{\"concurrency\":0}", "concurrency"},
	    {"{\"timeout_seconds\":3600}", NULL},
	    {"{\"timeout_seconds\":3601}", "timeout"},
	    {"{\"timeout_seconds\":\"1h1s\"}", "timeout"},
	    {"{\"timeout_seconds\":0}", "timeout"},
	    {"{\"cpu\":\"0.5\"}", "concurrency must be 1"},
	    {"{\"cpu\":\"0.5\",\"concurrency\":1}", NULL},
	    {"{\"cpu\":\"0.05\",\"concurrency\":1}", "below the minimum"},
	    {"{\"cpu\":\"3\",\"memory\":\"2Gi\"}", "allowed values"},
	    {"{\"cpu\":\"1.5\"}", "whole numbers"},
	    {"{\"cpu\":\"1\",\"memory\":\"8Gi\"}", "does not fit cpu 1"},
	    {"{\"cpu\":\"2\",\"memory\":\"8Gi\"}", NULL},
	    {"{\"cpu\":\"8\",\"memory\":\"32Gi\"}", NULL},
	    {"{\"cpu\":\"4\",\"memory\":\"1Gi\"}", "does not fit"},
	    {"{\"memory\":\"64Mi\"}", "below the minimum"},
	    {"{\"max_instances\":0}", "max-instances"},
	    {"{\"min_instances\":5,\"max_instances\":3}", "min-instances"},
	    {"{\"port\":0}", "port"},
	    {"{\"port\":70000}", "port"},
	    {"{\"env\":{\"PORT\":\"1\"}}", "reserved"},
	    {"{\"env\":{\"K_SERVICE\":\"x\"}}", "reserved"},
	    {"{\"env\":{\"1BAD\":\"x\"}}", "invalid environment variable name"},
	    {"{\"env\":{\"GOOD_1\":\"x\"}}", NULL},
	    {"{\"gpu\":1}", NULL},
	    {"{\"gpu\":1,\"cpu_throttling\":true}", "--no-cpu-throttling"},
	    {"{\"gpu\":1,\"memory\":\"8Gi\"}", "16Gi"},
	    {"{\"gpu\":9}", "gpu"},
	    {"{\"region\":\"Bad Region\"}", "region"},
	    {"{\"idle_timeout_seconds\":0}", "idle-timeout"},
	    {"{\"idle_timeout_seconds\":\"2s\"}", NULL},
	    {"{\"image\":\"has space\"}", "invalid image"},
	    {"{\"image\":null}", "--image or --command"},
	    {"{\"image\":null,\"command\":[\"/bin/sh\"]}", NULL},
	    {"{\"startup_probe\":{\"type\":\"http\"}}", "httpGet.path"},
	    {"{\"startup_probe\":{\"type\":\"http\",\"path\":\"/healthz\"}}", NULL},
	    {"{\"startup_probe\":{\"period_seconds\":10,\"timeout_seconds\":20}}",
	     "timeoutSeconds"},
	    {"{\"scaling\":{\"window_seconds\":5}}", "window"},
	    {"{\"scaling\":{\"panic_threshold_percentage\":100}}", "panic-threshold"},
	    {"{\"scaling\":{\"target_utilization_percentage\":0}}", "utilization"},
	    {"{\"bogus\":1}", "unknown field 'bogus'"},
	    {"{\"port\":\"80\"}", "must be an integer"},
	    {"{\"port\":80.5}", "must be an integer"},
	    {"{\"args\":[1]}", "array of strings"},
	    {"{\"env\":[{\"value\":\"x\"}]}", "env"},
	    {"{\"allow_unauthenticated\":\"yes\"}", "true or false"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s;
		char err[ERR_MSG_LEN] = "";
		spec_init(&s);
		s.image = strdup("gpurun/ollama");
		int rc = apply(&s, cases[i].patch, err);
		if (rc == 0)
			rc = spec_validate(&s, err);
		if (!cases[i].want) {
			if (rc != 0)
				fail_msg("case %zu %s: unexpected error: %s", i, cases[i].patch,
				         err);
		} else if (rc == 0 || !strstr(err, cases[i].want)) {
			fail_msg("case %zu %s: want error with '%s', got rc %d '%s'", i,
			         cases[i].patch, cases[i].want, rc, err);
		}
		spec_release(&s);
	}
}

static void test_spec_json_round_trip(void **state)
{
	struct spec a, b;
	char err[ERR_MSG_LEN];
	spec_init(&a);
	assert_int_equal(
	    apply(&a,
	          "{\"image\":\"example/app:1\",\"command\":[\"/bin/app\"],"
	          "\"args\":[\"--x\",\"a,b\"],\"port\":9000,\"env\":{\"A\":\"1\",\"B\":\"\"},"
	          "\"cpu\":\"2\",\"memory\":\"4Gi\",\"min_instances\":1,"
	          "\"max_instances\":7,\"concurrency\":4,\"timeout_seconds\":\"10m\","
	          "\"idle_timeout_seconds\":30,\"gpu_type\":\"nvidia-l4\","
	          "\"startup_probe\":{\"type\":\"http\",\"path\":\"/ready\",\"period_seconds\":5,"
	          "\"timeout_seconds\":2,\"failure_threshold\":12},"
	          "\"scaling\":{\"target\":3,\"window_seconds\":\"2m\"},"
	          "\"annotations\":{\"x.io/a\":\"1\"},\"labels\":{\"team\":\"ml\"},"
	          "\"allow_unauthenticated\":true,\"region\":\"eu-local\"}",
	          err),
	    0);
	assert_int_equal(spec_validate(&a, err), 0);
	cJSON *ja = spec_to_json(&a);
	assert_int_equal(spec_from_json(ja, &b, err), 0);
	cJSON *jb = spec_to_json(&b);
	assert_true(cJSON_Compare(ja, jb, true));
	assert_int_equal(b.timeout_s, 600);
	assert_int_equal(b.scaling.window_s, 120);
	assert_string_equal(b.args.v[1], "a,b");
	assert_true(spec_template_equal(&a, &b));
	free(b.region);
	b.region = strdup("other");
	b.allow_unauthenticated = false;
	assert_true(spec_template_equal(&a, &b)); /* service-level only */
	b.concurrency = 5;
	assert_false(spec_template_equal(&a, &b));
	struct spec c;
	spec_copy(&c, &a);
	assert_true(spec_template_equal(&a, &c));
	spec_release(&c);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	spec_release(&a);
	spec_release(&b);
}

/* Parses argv with the deploy flags and applies the patch to s. */
static int deploy_flags(struct spec *s, int argc, char **argv, char *err)
{
	struct spec_flags f;
	struct flag table[SPEC_FLAGS_COUNT + 2];
	memset(table, 0, sizeof table);
	spec_flags_init(&f);
	bool async = false;
	int n = spec_flags_add(&f, table, SPEC_FLAGS_COUNT + 1);
	assert_int_equal(n, SPEC_FLAGS_COUNT);
	table[n] = (struct flag){"async", 0, FLAG_BOOL, &async, "caller's own flag", false};
	const char *pos[16];
	int npos;
	int rc = flags_parse(table, argc, argv, pos, &npos, err);
	cJSON *patch = NULL;
	if (!rc)
		rc = spec_flags_patch(&f, table, &patch, err);
	if (!rc)
		rc = spec_patch_apply(s, patch, err);
	if (!rc)
		rc = spec_validate(s, err);
	cJSON_Delete(patch);
	spec_flags_release(&f);
	return rc;
}

static void test_spec_flags_update_changes_only_given(void **state)
{
	struct spec s;
	char err[ERR_MSG_LEN];
	spec_init(&s);
	char *a1[] = {
	    "svc",       "--image", "gpurun/ollama", "--port", "11434", "--concurrency",
	    "4",         "--env",   "A=1,B=2",       "--env",  "C=3",   "--allow-unauthenticated",
	    "--timeout", "10m",     "--async"};
	assert_int_equal(deploy_flags(&s, 15, a1, err), 0);
	assert_int_equal(s.port, 11434);
	assert_int_equal(s.concurrency, 4);
	assert_int_equal(s.timeout_s, 600);
	assert_int_equal(s.env.n, 3);
	assert_string_equal(spec_kvs_get(&s.env, "C"), "3");
	assert_true(s.allow_unauthenticated);
	/* an update with two flags leaves everything else alone */
	char *a2[] = {"--max-instances",   "3", "--update-env-vars", "B=20",
	              "--remove-env-vars", "A"};
	assert_int_equal(deploy_flags(&s, 6, a2, err), 0);
	assert_int_equal(s.max_instances, 3);
	assert_int_equal(s.port, 11434);
	assert_int_equal(s.concurrency, 4);
	assert_true(s.allow_unauthenticated);
	assert_int_equal(s.env.n, 2);
	assert_string_equal(spec_kvs_get(&s.env, "B"), "20");
	assert_null(spec_kvs_get(&s.env, "A"));
	char *a3[] = {"--no-allow-unauthenticated",
	              "--concurrency",
	              "default",
	              "--args",
	              "^:^-c:echo a,b",
	              "--command",
	              "/bin/sh"};
	assert_int_equal(deploy_flags(&s, 7, a3, err), 0);
	assert_false(s.allow_unauthenticated);
	assert_int_equal(s.concurrency, 80);
	assert_int_equal(s.args.n, 2);
	assert_string_equal(s.args.v[1], "echo a,b");
	assert_string_equal(s.command.v[0], "/bin/sh");
	char *a4[] = {"--set-env-vars", "Z=9", "--update-env-vars", "Y=1"};
	assert_int_equal(deploy_flags(&s, 4, a4, err), ERR_INVALID);
	char *a5[] = {"--concurrency", "many"};
	assert_int_equal(deploy_flags(&s, 2, a5, err), ERR_INVALID);
	assert_non_null(strstr(err, "--concurrency"));
	char *a6[] = {"--env", "NOEQUALS"};
	assert_int_equal(deploy_flags(&s, 2, a6, err), ERR_INVALID);
	char *a7[] = {"--clear-env-vars"};
	assert_int_equal(deploy_flags(&s, 1, a7, err), 0);
	assert_int_equal(s.env.n, 0);
	spec_release(&s);
}

static void test_spec_flags_gpu_shape_and_probe(void **state)
{
	struct spec s;
	char err[ERR_MSG_LEN];
	spec_init(&s);
	char *a1[] = {"--image", "gpurun/ollama", "--gpu", "1", "--region", "local"};
	assert_int_equal(deploy_flags(&s, 6, a1, err), 0);
	assert_int_equal(s.gpu, 1);
	assert_int_equal(s.cpu_milli, 4000);
	assert_int_equal(s.memory_bytes, 16LL << 30);
	assert_false(s.cpu_throttling);
	assert_int_equal(s.idle_timeout_s, 600);
	spec_release(&s);
	spec_init(&s);
	char *a2[] = {"--image",  "x",    "--gpu",          "1", "--cpu", "8",
	              "--memory", "32Gi", "--idle-timeout", "2s"};
	assert_int_equal(deploy_flags(&s, 10, a2, err), 0);
	assert_int_equal(s.cpu_milli, 8000);
	assert_int_equal(s.idle_timeout_s, 2);
	char *a3[] = {"--startup-probe", "httpGet.path=/ready,periodSeconds=5,timeoutSeconds=1"};
	assert_int_equal(deploy_flags(&s, 2, a3, err), 0);
	assert_int_equal(s.probe.kind, SPEC_PROBE_HTTP);
	assert_string_equal(s.probe.path, "/ready");
	assert_int_equal(s.probe.period_s, 5);
	/* Cloud Run's flag, every key */
	char *a3b[] = {"--startup-probe", "httpGet.path=/ready,initialDelaySeconds=0,"
	                                  "timeoutSeconds=1,periodSeconds=1,failureThreshold=3"};
	assert_int_equal(deploy_flags(&s, 2, a3b, err), 0);
	assert_int_equal(s.probe.kind, SPEC_PROBE_HTTP);
	assert_string_equal(s.probe.path, "/ready");
	assert_int_equal(s.probe.initial_delay_s, 0);
	assert_int_equal(s.probe.timeout_s, 1);
	assert_int_equal(s.probe.period_s, 1);
	assert_int_equal(s.probe.failure_threshold, 3);
	char *a3c[] = {"--startup-probe", "tcpSocket.port=8080,timeoutSeconds=1,periodSeconds=1"};
	assert_int_equal(deploy_flags(&s, 2, a3c, err), 0);
	assert_int_equal(s.probe.kind, SPEC_PROBE_TCP);
	assert_null(s.probe.path);
	assert_int_equal(s.probe.port, 8080);
	char *a4[] = {"--startup-probe", "grpc.port=1"};
	assert_int_equal(deploy_flags(&s, 2, a4, err), ERR_INVALID);
	char *a5[] = {"--gpu", "1", "--cpu-throttling"};
	spec_release(&s);
	spec_init(&s);
	s.image = strdup("x");
	assert_int_equal(deploy_flags(&s, 3, a5, err), ERR_INVALID);
	spec_release(&s);
}

static void test_spec_names(void **state)
{
	assert_true(spec_name_valid("ollama-service"));
	assert_true(spec_name_valid("a"));
	assert_false(spec_name_valid("Ollama"));
	assert_false(spec_name_valid("1abc"));
	assert_false(spec_name_valid("abc-"));
	assert_false(spec_name_valid(""));
	assert_false(spec_name_valid("a_b"));
	assert_false(spec_name_valid("a234567890123456789012345678901234567890123456789x"));
	assert_true(spec_name_valid("a23456789012345678901234567890123456789012345678"));
}

static void test_spec_traffic_split(void **state)
{
	char err[ERR_MSG_LEN];
	struct spec_traffic t[3] = {{"svc-00001-abc", false, 10, NULL},
	                            {"svc-00002-def", false, 90, "blue"},
	                            {NULL, true, 0, "next"}};
	assert_int_equal(spec_traffic_validate(t, 3, err), 0);
	int hits[3] = {0};
	for (uint32_t r = 0; r < 1000; r++)
		hits[spec_traffic_pick(t, 3, r)]++;
	assert_int_equal(hits[0], 100);
	assert_int_equal(hits[1], 900);
	assert_int_equal(hits[2], 0);
	t[0].percent = 20;
	assert_int_equal(spec_traffic_validate(t, 3, err), ERR_INVALID);
	assert_non_null(strstr(err, "add up to 100"));
	t[0].percent = 10;
	t[2].tag = "blue";
	assert_int_equal(spec_traffic_validate(t, 3, err), ERR_INVALID);
	t[2].tag = "next";
	t[0].revision = "Bad_Name";
	assert_int_equal(spec_traffic_validate(t, 3, err), ERR_INVALID);
	const char *js = "[{\"latest\":true,\"percent\":100},{\"revision\":\"s-1\",\"percent\":0,"
	                 "\"tag\":\"old\"}]";
	cJSON *j = json_parse(js, strlen(js), err);
	struct spec_traffic *out;
	int64_t n;
	assert_int_equal(spec_traffic_from_json(j, &out, &n, err), 0);
	assert_int_equal(n, 2);
	assert_true(out[0].latest);
	assert_string_equal(out[1].tag, "old");
	cJSON *back = spec_traffic_to_json(out, n);
	assert_true(cJSON_Compare(j, back, true));
	cJSON_Delete(back);
	cJSON_Delete(j);
	spec_traffic_free_array(out, n);
	js = "[{\"latest\":true,\"percent\":50}]";
	j = json_parse(js, strlen(js), err);
	assert_int_equal(spec_traffic_from_json(j, &out, &n, err), ERR_INVALID);
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spec_defaults_are_cloud_runs),
	    cmocka_unit_test(test_spec_quantities),
	    cmocka_unit_test(test_spec_validation_table),
	    cmocka_unit_test(test_spec_json_round_trip),
	    cmocka_unit_test(test_spec_flags_update_changes_only_given),
	    cmocka_unit_test(test_spec_flags_gpu_shape_and_probe),
	    cmocka_unit_test(test_spec_names),
	    cmocka_unit_test(test_spec_traffic_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
