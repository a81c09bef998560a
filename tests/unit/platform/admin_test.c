/* admin_test.c — the admin API's logic on a scratch state: deploy flags ->
 * spec -> immutable revision (names, update semantics, traffic, --no-traffic,
 * --tag), request validation and its messages and HTTP statuses, GPU and
 * region placement, gcloud's --to-revisions arithmetic, the Knative JSON a
 * service and its revisions read as, export -> replace round trips, delete,
 * billing and --since, identity tokens. */
#include "support/support.h"

#include "base/file.h"
#include "base/json.h"
#include "platform/admin_format.h"
#include "platform/admin_internal.h"
#include "platform/auth.h"
#include "platform/daemon.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1764340000000000000LL /* 2025-11-28T14:26:40Z */

struct fixture {
	struct state *st;
	struct gpu_inventory inv;
	struct admin_ctx c;
	char *home;
};

static char *url_of(void *data, const char *service)
{
	char *u = malloc(128);
	snprintf(u, 128, "http://%s.localhost:8080", service);
	return u;
}

static int setup(void **state)
{
	static int n;
	struct fixture *f = calloc(1, sizeof *f);
	char name[32], err[ERR_MSG_LEN];
	snprintf(name, sizeof name, "home%d", n++);
	f->home = file_path_join(test_tmp_dir(), name);
	assert_int_equal(file_mkdir_p(f->home, 0700), 0);
	char *db = file_path_join(f->home, "state.db");
	if (state_open(db, &f->st, err))
		fail_msg("state_open: %s", err);
	free(db);
	snprintf(f->inv.source, sizeof f->inv.source, "test");
	f->c = (struct admin_ctx){.st = f->st,
	                          .gpus = &f->inv,
	                          .region = "local",
	                          .home = f->home,
	                          .url = url_of,
	                          .now_ns = NOW};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	state_close(f->st);
	free(f->home);
	free(f);
	return 0;
}

static cJSON *js(const char *s)
{
	cJSON *j = json_parse(s, strlen(s), NULL);
	if (!j)
		fail_msg("bad test JSON: %s", s);
	return j;
}

/* Deploys body (JSON text, NULL: none); fails the test on an error. */
static cJSON *deploy_ok(struct fixture *f, const char *svc, const char *body)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *b = body ? js(body) : NULL, *out = NULL;
	int rc = admin__deploy(&f->c, svc, b, &out, err);
	cJSON_Delete(b);
	if (rc)
		fail_msg("deploy %s %s: %s", svc, body ? body : "", err);
	f->c.now_ns += 1000000000LL;
	return out;
}

/* Deploys and expects an error whose message holds want; returns the code. */
static int deploy_err(struct fixture *f, const char *svc, const char *body, const char *want)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *b = body ? js(body) : NULL, *out = NULL;
	int rc = admin__deploy(&f->c, svc, b, &out, err);
	cJSON_Delete(b);
	if (rc == 0)
		fail_msg("deploy %s %s succeeded", svc, body);
	assert_null(out);
	if (!strstr(err, want))
		fail_msg("deploy %s %s: message '%s' lacks '%s'", svc, body, err, want);
	return rc;
}

static const char *str_at(const cJSON *j, const char *path)
{
	const char *s = cJSON_GetStringValue(admin_format_get(j, path));
	return s ? s : "(missing)";
}

static double num_at(const cJSON *j, const char *path)
{
	const cJSON *v = admin_format_get(j, path);
	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", path);
	return v->valuedouble;
}

static bool matches(const char *s, const char *re)
{
	regex_t r;
	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

#define HELLO "{\"spec\":{\"command\":[\"/bin/gpurun\"],\"args\":[\"hello\"]}}"

static void test_admin_deploy_makes_revision_and_routes_latest(void **state)
{
	struct fixture *f = *state;
	cJSON *r = deploy_ok(f, "hello", HELLO);
	const char *rev = str_at(r, "revision");
	assert_true(matches(rev, "^hello-00001-[a-z]{3}$"));
	assert_true(cJSON_IsTrue(admin_format_get(r, "created")));
	assert_int_equal((int)num_at(r, "percent"), 100);
	assert_string_equal(str_at(r, "url"), "http://hello.localhost:8080");
	const cJSON *s = admin_format_get(r, "service");
	assert_string_equal(str_at(s, "apiVersion"), "serving.knative.dev/v1");
	assert_string_equal(str_at(s, "kind"), "Service");
	assert_string_equal(str_at(s, "metadata.name"), "hello");
	assert_string_equal(str_at(s, "metadata.labels.'cloud.googleapis.com/location'"), "local");
	assert_string_equal(str_at(s, "status.url"), "http://hello.localhost:8080");
	assert_string_equal(str_at(s, "status.address.url"), "http://hello.localhost:8080");
	assert_string_equal(str_at(s, "status.latestReadyRevisionName"), rev);
	assert_string_equal(str_at(s, "status.latestCreatedRevisionName"), rev);
	assert_string_equal(str_at(s, "status.conditions[0].type"), "Ready");
	assert_string_equal(str_at(s, "status.conditions[0].status"), "True");
	assert_string_equal(str_at(s, "status.traffic[0].revisionName"), rev);
	assert_int_equal((int)num_at(s, "status.traffic[0].percent"), 100);
	assert_true(cJSON_IsTrue(admin_format_get(s, "spec.traffic[0].latestRevision")));
	assert_string_equal(str_at(s, "spec.template.metadata.name"), rev);
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].command[0]"),
	                    "/bin/gpurun");
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].args[0]"), "hello");
	assert_int_equal((int)num_at(s, "spec.template.spec.containerConcurrency"), 80);
	assert_int_equal((int)num_at(s, "spec.template.spec.timeoutSeconds"), 300);
	assert_int_equal((int)num_at(s, "metadata.generation"), 1);
	assert_true(cJSON_IsArray(admin_format_get(s, "status.instances")));
	/* private by default: no invoker-iam-disabled annotation */
	assert_null(
	    admin_format_get(s, "metadata.annotations.'run.googleapis.com/invoker-iam-disabled'"));
	cJSON_Delete(r);
}

static void test_admin_deploy_update_semantics(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	cJSON_Delete(deploy_ok(f, "hello",
	                       "{\"spec\":{\"command\":[\"/bin/gpurun\"],\"args\":[\"hello\"],"
	                       "\"concurrency\":7,\"env\":{\"A\":\"1\",\"B\":\"2\"},"
	                       "\"allow_unauthenticated\":true}}"));
	/* only the given flags change */
	cJSON *r = deploy_ok(f, "hello", "{\"spec\":{\"env_update\":{\"B\":\"3\",\"C\":\"4\"}}}");
	const cJSON *s = admin_format_get(r, "service");
	assert_true(matches(str_at(r, "revision"), "^hello-00002-[a-z]{3}$"));
	assert_false(cJSON_IsTrue(admin_format_get(r, "created")));
	assert_int_equal((int)num_at(s, "spec.template.spec.containerConcurrency"), 7);
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].args[0]"), "hello");
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].env[1].value"), "3");
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].env[2].name"), "C");
	assert_string_equal(
	    str_at(s, "metadata.annotations.'run.googleapis.com/invoker-iam-disabled'"), "true");
	cJSON_Delete(r);
	/* a deploy with no flags still makes a revision (gcloud does too) */
	r = deploy_ok(f, "hello", NULL);
	assert_true(matches(str_at(r, "revision"), "^hello-00003-[a-z]{3}$"));
	cJSON_Delete(r);
	cJSON *revs;
	assert_int_equal(admin__revisions_json(&f->c, "hello", &revs, err), 0);
	assert_int_equal(cJSON_GetArraySize(revs), 3);
	assert_true(matches(str_at(revs, "[0].metadata.name"), "^hello-00003-"));
	assert_true(matches(str_at(revs, "[2].metadata.name"), "^hello-00001-"));
	assert_string_equal(str_at(revs, "[0].kind"), "Revision");
	assert_string_equal(str_at(revs, "[0].metadata.labels.'serving.knative.dev/service'"),
	                    "hello");
	assert_string_equal(
	    str_at(revs, "[2].metadata.labels.'serving.knative.dev/configurationGeneration'"), "1");
	assert_int_equal((int)num_at(revs, "[0].status.trafficPercent"), 100);
	assert_int_equal((int)num_at(revs, "[1].status.trafficPercent"), 0);
	assert_string_equal(str_at(revs, "[1].status.conditions[1].status"), "False");
	/* revisions are immutable: the first still has concurrency 7 and B=2 */
	assert_int_equal((int)num_at(revs, "[2].spec.containerConcurrency"), 7);
	assert_string_equal(str_at(revs, "[2].spec.containers[0].env[1].value"), "2");
	cJSON_Delete(revs);
	/* --revision-suffix names it */
	r = deploy_ok(f, "hello", "{\"revision_suffix\":\"v4\"}");
	assert_string_equal(str_at(r, "revision"), "hello-v4");
	cJSON_Delete(r);
	deploy_err(f, "hello", "{\"revision_suffix\":\"v4\"}", "already exists");
}

static void test_admin_deploy_validation(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(deploy_err(f, "Bad_Name", HELLO, "service name"), ERR_INVALID);
	deploy_err(f, "x", "[1]", "JSON object");
	deploy_err(f, "x", "{\"bogus\":1}", "unknown field 'bogus'");
	deploy_err(f, "x", "{\"spec\":{\"bogus\":1}}", "unknown field 'bogus'");
	deploy_err(f, "x", "{\"spec\":5}", "'spec' must be an object");
	deploy_err(f, "x", "{\"spec\":{}}", "give --image or --command");
	deploy_err(f, "x", "{\"spec\":{\"image\":\"gpurun/hello\",\"concurrency\":5000}}",
	           "concurrency");
	deploy_err(f, "x", "{\"spec\":{\"image\":\"gpurun/hello\",\"region\":\"us-central1\"}}",
	           "region 'us-central1' is not served here: this daemon's region is 'local'");
	deploy_err(f, "x", "{\"spec\":{\"image\":\"gpurun/hello\"},\"no_traffic\":1}",
	           "'no_traffic' must be true or false");
	deploy_err(f, "x", "{\"spec\":{\"image\":\"gpurun/hello\"},\"tag\":\"Bad!\"}", "--tag");
	deploy_err(f, "x", "{\"spec\":{\"image\":\"gpurun/hello\"},\"no_traffic\":true}",
	           "--no-traffic needs an existing service");
	deploy_err(f, "x",
	           "{\"spec\":{\"image\":\"gpurun/hello\"},\"traffic\":[{\"revision\":"
	           "\"x-nope\",\"percent\":100}]}",
	           "x-nope");
	/* nothing half-made */
	char err[ERR_MSG_LEN];
	cJSON *out;
	assert_int_equal(admin__service_json(&f->c, "x", &out, err), ERR_NOT_FOUND);
	assert_string_equal(err, "service x not found");
	assert_int_equal(admin__http_status(ERR_NOT_FOUND), 404);
	assert_int_equal(admin__http_status(ERR_INVALID), 400);
	assert_int_equal(admin__http_status(ERR_BUSY), 409);
	assert_int_equal(admin__http_status(-EIO), 500);
}

static void test_admin_deploy_gpus_against_inventory(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	int idx[4];
	const char *gpu1 = "{\"spec\":{\"image\":\"gpurun/ollama\",\"gpu\":1}}";
	assert_int_equal(
	    deploy_err(f, "llm", gpu1, "not enough GPUs: requested 1, node has 0 free"), ERR_BUSY);
	f->inv.n = 2;
	for (int i = 0; i < 2; i++) {
		f->inv.dev[i].index = i;
		snprintf(f->inv.dev[i].id, GPU_ID_MAX, "GPU-%d", i);
	}
	deploy_err(f, "llm", "{\"spec\":{\"image\":\"gpurun/ollama\",\"gpu\":3}}",
	           "not enough GPUs: requested 3, node has 2 free");
	deploy_err(f, "llm",
	           "{\"spec\":{\"image\":\"gpurun/ollama\",\"gpu\":1,\"min_instances\":3}}",
	           "requested 3 (1 per instance x 3 min-instances), node has 2 free");
	/* a GPU held by another service's instance is not free */
	assert_int_equal(state_gpu_allocate(f->st, "other-1", 1, &f->inv, NOW, idx, err), 0);
	deploy_err(f, "llm", "{\"spec\":{\"image\":\"gpurun/ollama\",\"gpu\":2}}",
	           "not enough GPUs: requested 2, node has 1 free");
	cJSON *r = deploy_ok(f, "llm", gpu1);
	const cJSON *s = admin_format_get(r, "service");
	/* turning a GPU on picks Cloud Run's GPU shape and instance-based billing */
	assert_string_equal(
	    str_at(s, "spec.template.spec.containers[0].resources.limits.'nvidia.com/gpu'"), "1");
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].resources.limits.memory"),
	                    "16Gi");
	assert_string_equal(
	    str_at(s, "spec.template.metadata.annotations.'run.googleapis.com/cpu-throttling'"),
	    "false");
	cJSON_Delete(r);
	/* the service's own live instance gives its GPU to the next revision */
	struct state_instance in = {.id = "llm-own",
	                            .service = "llm",
	                            .revision = "llm-00001-abc",
	                            .phase = STATE_INSTANCE_READY,
	                            .gpus = "GPU-1",
	                            .start_ns = NOW};
	assert_int_equal(state_instance_insert(f->st, &in), 0);
	assert_int_equal(state_gpu_allocate(f->st, "llm-own", 1, &f->inv, NOW, idx, err), 0);
	cJSON_Delete(deploy_ok(f, "llm", NULL));
	deploy_err(f, "other", gpu1, "node has 0 free");
}

static void test_admin_deploy_no_traffic_and_tag(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	cJSON *r = deploy_ok(f, "web", HELLO);
	char *v1 = strdup(str_at(r, "revision"));
	cJSON_Delete(r);
	r = deploy_ok(f, "web", "{\"spec\":{\"concurrency\":5},\"no_traffic\":true}");
	assert_int_equal((int)num_at(r, "percent"), 0);
	const cJSON *s = admin_format_get(r, "service");
	assert_string_equal(str_at(s, "spec.traffic[0].revisionName"), v1);
	assert_int_equal((int)num_at(s, "spec.traffic[0].percent"), 100);
	cJSON_Delete(r);
	r = deploy_ok(f, "web", "{\"tag\":\"canary\",\"no_traffic\":true}");
	char *v3 = strdup(str_at(r, "revision"));
	s = admin_format_get(r, "service");
	assert_int_equal(cJSON_GetArraySize(admin_format_get(s, "spec.traffic")), 2);
	assert_string_equal(str_at(s, "spec.traffic[1].revisionName"), v3);
	assert_string_equal(str_at(s, "spec.traffic[1].tag"), "canary");
	assert_int_equal((int)num_at(s, "spec.traffic[1].percent"), 0);
	/* the tag's URL, as Cloud Run's TAG---SERVICE */
	assert_string_equal(str_at(s, "status.traffic[1].url"),
	                    "http://canary---web.localhost:8080");
	cJSON_Delete(r);
	/* the tag moves to the next revision that takes it */
	r = deploy_ok(f, "web", "{\"tag\":\"canary\",\"no_traffic\":true}");
	s = admin_format_get(r, "service");
	assert_int_equal(cJSON_GetArraySize(admin_format_get(s, "spec.traffic")), 2);
	assert_string_equal(str_at(s, "spec.traffic[1].revisionName"), str_at(r, "revision"));
	cJSON_Delete(r);
	/* revisions still serving cannot go; the others can */
	assert_int_equal(admin__revision_delete(&f->c, v1, err), ERR_BUSY);
	assert_int_equal(admin__revision_delete(&f->c, v3, err), 0);
	free(v1);
	free(v3);
}

/* ---- traffic ---- */

static void check_split(const struct spec_traffic *t, int64_t n, const char *want)
{
	struct buf b = BUF_INIT;
	for (int64_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s=%d%s%s", i ? "," : "", t[i].latest ? "LATEST" : t[i].revision,
		           t[i].percent, t[i].tag ? "#" : "", t[i].tag ? t[i].tag : "");
	if (strcmp(b.data ? b.data : "", want))
		fail_msg("split '%s', want '%s'", b.data ? b.data : "", want);
	buf_release(&b);
}

static void assign(const struct spec_traffic *cur, int64_t n, const struct admin_assign *a,
                   int64_t na, const char *want)
{
	struct spec_traffic *t;
	int64_t m;
	char err[ERR_MSG_LEN] = "";
	int rc = admin__traffic_assign(cur, n, a, na, &t, &m, err);
	if (!want) {
		assert_int_equal(rc, ERR_INVALID);
		assert_true(strlen(err) > 0);
		return;
	}
	if (rc)
		fail_msg("assign: %s", err);
	check_split(t, m, want);
	spec_traffic_free_array(t, m);
}

static void test_admin_traffic_to_revisions_rule(void **state)
{
	struct spec_traffic latest[] = {{NULL, true, 100, NULL}};
	struct spec_traffic two[] = {{"r1", false, 40, NULL}, {"r2", false, 60, NULL}};
	struct spec_traffic three[] = {
	    {"r1", false, 30, NULL}, {"r2", false, 30, NULL}, {"r3", false, 40, NULL}};
	struct spec_traffic tagged[] = {{NULL, true, 100, NULL}, {"r1", false, 0, "old"}};
	assign(latest, 1, (struct admin_assign[]){{"r1", 50}, {"r2", 50}}, 2, "r1=50,r2=50");
	/* gcloud's documented example: r1 40 -> 45 scales r2 60 -> 55 */
	assign(two, 2, (struct admin_assign[]){{"r1", 45}}, 1, "r1=45,r2=55");
	/* 50 left over 30:40 -> 21.4 and 28.6: the larger remainder takes the point */
	assign(three, 3, (struct admin_assign[]){{"r1", 50}}, 1, "r1=50,r2=21,r3=29");
	assign(latest, 1, (struct admin_assign[]){{"r1", 10}}, 1, "LATEST=90,r1=10");
	assign(two, 2, (struct admin_assign[]){{"LATEST", 100}}, 1, "LATEST=100");
	/* tagged targets stay at 0%, untagged 0% ones go */
	assign(tagged, 2, (struct admin_assign[]){{"r2", 100}}, 1, "r1=0#old,r2=100");
	assign(tagged, 2, (struct admin_assign[]){{"r1", 30}}, 1, "LATEST=70,r1=30#old");
	assign(two, 2, (struct admin_assign[]){{"r1", 60}, {"r2", 50}}, 2, NULL); /* > 100 */
	assign(two, 2, (struct admin_assign[]){{"r1", 10}, {"r1", 10}}, 2, NULL); /* twice */
	assign(two, 2, (struct admin_assign[]){{"r1", -1}}, 1, NULL);
	assign(two, 2, (struct admin_assign[]){{"r1", 101}}, 1, NULL);
	/* under 100 with nobody else serving */
	assign(two, 2, (struct admin_assign[]){{"r1", 30}, {"r2", 30}}, 2, NULL);
}

static void test_admin_traffic_route(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN] = "", body[256];
	cJSON *r = deploy_ok(f, "t", HELLO);
	char *v1 = strdup(str_at(r, "revision"));
	cJSON_Delete(r);
	r = deploy_ok(f, "t", "{\"spec\":{\"concurrency\":9}}");
	char *v2 = strdup(str_at(r, "revision"));
	cJSON_Delete(r);
	snprintf(body, sizeof body, "{\"to_revisions\":{\"%s\":25,\"%s\":75}}", v1, v2);
	cJSON *b = js(body), *out;
	assert_int_equal(admin__traffic(&f->c, "t", b, &out, err), 0);
	cJSON_Delete(b);
	assert_string_equal(str_at(out, "status.traffic[0].revisionName"), v1);
	assert_int_equal((int)num_at(out, "status.traffic[0].percent"), 25);
	assert_int_equal((int)num_at(out, "status.traffic[1].percent"), 75);
	assert_int_equal(cJSON_GetArraySize(admin_format_get(out, "spec.traffic")), 2);
	cJSON_Delete(out);
	b = js("{\"to_latest\":true}");
	assert_int_equal(admin__traffic(&f->c, "t", b, &out, err), 0);
	cJSON_Delete(b);
	assert_true(cJSON_IsTrue(admin_format_get(out, "spec.traffic[0].latestRevision")));
	assert_int_equal(cJSON_GetArraySize(admin_format_get(out, "spec.traffic")), 1);
	assert_string_equal(str_at(out, "status.traffic[0].revisionName"), v2);
	cJSON_Delete(out);
	const char *bad[][2] = {
	    {"{}", "exactly one"},
	    {"{\"to_latest\":true,\"to_revisions\":{\"a\":1}}", "exactly one"},
	    {"{\"to_revisions\":{}}", "at least one"},
	    {"{\"to_revisions\":{\"t-nope\":100}}", "t-nope"},
	    {"{\"to_revisions\":{\"x\":\"50\"}}", "integer"},
	    {"{\"to_revisions\":{\"x\":1e300}}", "0 to 100"}, /* no cast out of int's range */
	    {"{\"to_revisions\":{\"x\":-4294967296}}", "0 to 100"},
	    {"{\"traffic\":[{\"latest\":true,\"percent\":90}]}", "100"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = js(bad[i][0]);
		err[0] = 0;
		out = NULL;
		assert_int_equal(admin__traffic(&f->c, "t", b, &out, err), ERR_INVALID);
		assert_null(out);
		if (!strstr(err, bad[i][1]))
			fail_msg("%s: '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
		cJSON_Delete(b);
	}
	b = js("{\"to_latest\":true}");
	assert_int_equal(admin__traffic(&f->c, "nope", b, &out, err), ERR_NOT_FOUND);
	cJSON_Delete(b);
	free(v1);
	free(v2);
}

/* ---- export, replace, delete ---- */

static cJSON *replace_ok(struct fixture *f, const char *yaml)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *out = NULL;
	if (admin__replace(&f->c, yaml, strlen(yaml), &out, err))
		fail_msg("replace: %s\n%s", err, yaml);
	f->c.now_ns += 1000000000LL;
	return out;
}

static void test_admin_export_replace_round_trip(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	struct buf y = BUF_INIT;
	cJSON *r = deploy_ok(f, "rt",
	                     "{\"spec\":{\"image\":\"gpurun/hello\",\"env\":{\"K\":\"v\"},"
	                     "\"min_instances\":1,\"allow_unauthenticated\":true}}");
	char *v1 = strdup(str_at(r, "revision"));
	cJSON_Delete(r);
	assert_int_equal(admin__service_export(&f->c, "rt", &y, err), 0);
	assert_non_null(strstr(y.data, "apiVersion: serving.knative.dev/v1\n"));
	assert_null(strstr(y.data, "status:"));
	assert_non_null(strstr(y.data, v1));
	/* unchanged: no new revision */
	r = replace_ok(f, y.data);
	assert_true(cJSON_IsNull(admin_format_get(r, "revision")));
	assert_false(cJSON_IsTrue(admin_format_get(r, "created")));
	cJSON_Delete(r);
	cJSON *revs;
	assert_int_equal(admin__revisions_json(&f->c, "rt", &revs, err), 0);
	assert_int_equal(cJSON_GetArraySize(revs), 1);
	cJSON_Delete(revs);
	/* a changed template under the same name is a conflict */
	struct buf y2 = BUF_INIT;
	const char *cc = strstr(y.data, "containerConcurrency: 80");
	assert_non_null(cc);
	buf_append(&y2, y.data, (size_t)(cc - y.data));
	buf_puts(&y2, "containerConcurrency: 10");
	buf_puts(&y2, cc + strlen("containerConcurrency: 80"));
	r = NULL;
	assert_int_equal(admin__replace(&f->c, y2.data, y2.len, &r, err), ERR_EXISTS);
	assert_non_null(strstr(err, "different template"));
	/* without the template name it makes a new revision with the change */
	struct buf y3 = BUF_INIT;
	const char *nm = strstr(y2.data, "      name: ");
	assert_non_null(nm);
	buf_append(&y3, y2.data, (size_t)(nm - y2.data));
	buf_puts(&y3, strchr(nm, '\n') + 1);
	r = replace_ok(f, y3.data);
	assert_true(matches(str_at(r, "revision"), "^rt-00002-[a-z]{3}$"));
	const cJSON *s = admin_format_get(r, "service");
	assert_int_equal((int)num_at(s, "spec.template.spec.containerConcurrency"), 10);
	assert_string_equal(str_at(s, "spec.template.spec.containers[0].env[0].name"), "K");
	assert_string_equal(
	    str_at(s, "spec.template.metadata.annotations.'autoscaling.knative.dev/minScale'"),
	    "1");
	assert_string_equal(
	    str_at(s, "metadata.annotations.'run.googleapis.com/invoker-iam-disabled'"), "true");
	cJSON_Delete(r);
	/* replace creates a service that does not exist, under the YAML's name */
	const char *fresh = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n"
	                    "  name: fresh\nspec:\n  template:\n    spec:\n      containers:\n"
	                    "      - image: gpurun/hello\n";
	r = replace_ok(f, fresh);
	assert_true(cJSON_IsTrue(admin_format_get(r, "created")));
	assert_true(matches(str_at(r, "revision"), "^fresh-00001-"));
	assert_string_equal(str_at(r, "service.status.url"), "http://fresh.localhost:8080");
	cJSON_Delete(r);
	r = NULL;
	assert_int_equal(admin__replace(&f->c, "kind: [", 7, &r, err), ERR_INVALID);
	assert_null(r);
	buf_release(&y);
	buf_release(&y2);
	buf_release(&y3);
	free(v1);
}

static void test_admin_delete(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	cJSON *out;
	cJSON_Delete(deploy_ok(f, "gone", HELLO));
	assert_int_equal(admin__delete(&f->c, "gone", err), 0);
	assert_int_equal(admin__service_json(&f->c, "gone", &out, err), ERR_NOT_FOUND);
	assert_int_equal(admin__delete(&f->c, "gone", err), ERR_NOT_FOUND);
	assert_string_equal(err, "service gone not found");
	assert_int_equal(admin__delete(&f->c, "../x", err), ERR_INVALID);
	assert_int_equal(admin__services_json(&f->c, &out, err), 0);
	assert_int_equal(cJSON_GetArraySize(out), 0);
	cJSON_Delete(out);
}

/* ---- billing, tokens ---- */

static void test_admin_since_forms(void **state)
{
	char err[ERR_MSG_LEN];
	int64_t t;
	assert_int_equal(admin__parse_since(NULL, NOW, &t, err), 0);
	assert_int_equal(t, 0);
	assert_int_equal(admin__parse_since("1h30m", NOW, &t, err), 0);
	assert_int_equal(t, NOW - 5400000000000LL);
	assert_int_equal(admin__parse_since("2025-11-28T15:00:00Z", NOW, &t, err), 0);
	assert_int_equal(t, 1764342000000000000LL);
	assert_int_equal(admin__parse_since("2025-11-28T16:00:00.5+01:00", NOW, &t, err), 0);
	assert_int_equal(t, 1764342000500000000LL);
	assert_int_equal(admin__parse_since("2025-11-28", NOW, &t, err), 0);
	assert_int_equal(t, 1764288000000000000LL);
	assert_int_equal(admin__parse_since("1764342000", NOW, &t, err), 0);
	assert_int_equal(t, 1764342000000000000LL);
	const char *bad[] = {"yesterday", "2026-13-01",          "2026-11-28T25:00:00Z",
	                     "-5m",       "2026-11-28T15:00:00", "1h junk"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (admin__parse_since(bad[i], NOW, &t, err) != ERR_INVALID)
			fail_msg("'%s' parsed", bad[i]);
		assert_non_null(strstr(err, "--since"));
	}
}

static void test_admin_billing_report(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	struct ledger_row rows[3] = {
	    {.kind = LEDGER_INSTANCE_START,
	     .at_ns = NOW - 10000000000LL,
	     .service = "bill",
	     .revision = "bill-00001-abc",
	     .instance = "bill-00001-abc-1",
	     .cpu_milli = 1000,
	     .memory_bytes = 512LL << 20,
	     .instance_based = true},
	    {.kind = LEDGER_INSTANCE_READY,
	     .at_ns = NOW - 9000000000LL,
	     .service = "bill",
	     .revision = "bill-00001-abc",
	     .instance = "bill-00001-abc-1"},
	    {.kind = LEDGER_INSTANCE_EXIT,
	     .at_ns = NOW - 4000000000LL,
	     .service = "bill",
	     .revision = "bill-00001-abc",
	     .instance = "bill-00001-abc-1"},
	};
	assert_int_equal(state_ledger_append(f->st, rows, 3), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(admin__billing(&f->c, NULL, NULL, "json", true, &out, err), 0);
	cJSON *j = json_parse(out.data, out.len, err);
	assert_non_null(j);
	assert_string_equal(str_at(j, "services[0].service"), "bill");
	assert_string_equal(str_at(j, "instances[0].instance"), "bill-00001-abc-1");
	assert_true(num_at(j, "instances[0].billed_seconds") == 6.0);
	assert_true(num_at(j, "instances[0].wall_seconds") == 6.0);
	cJSON_Delete(j);
	buf_reset(&out);
	assert_int_equal(admin__billing(&f->c, "bill", "2s", "csv", true, &out, err), 0);
	assert_true(str_has_prefix(out.data, "level,service,revision,instance,"));
	assert_null(strstr(out.data, "bill-00001-abc-1")); /* exited before since */
	buf_reset(&out);
	assert_int_equal(admin__billing(&f->c, NULL, NULL, NULL, true, &out, err), 0);
	assert_non_null(strstr(out.data, "bill"));
	/* the price table the user can change is written on first use */
	char *prices = file_path_join(f->home, "prices.json");
	assert_true(file_exists(prices));
	free(prices);
	assert_int_equal(admin__billing(&f->c, NULL, NULL, "xml", true, &out, err), ERR_INVALID);
	assert_non_null(strstr(err, "'xml' is not table, json or csv"));
	assert_int_equal(admin__billing(&f->c, "Bad Name", NULL, NULL, true, &out, err),
	                 ERR_INVALID);
	assert_int_equal(admin__billing(&f->c, NULL, "soon", NULL, true, &out, err), ERR_INVALID);
	buf_release(&out);
}

static void test_admin_token_signed_for_audience(void **state)
{
	struct fixture *f = *state;
	char err[ERR_MSG_LEN];
	uint8_t key[AUTH_KEY_LEN];
	cJSON *b = js("{\"audience\":\"http://p.localhost:8080\",\"ttl_seconds\":60}"), *out;
	assert_int_equal(admin__token(&f->c, b, &out, err), 0);
	cJSON_Delete(b);
	assert_int_equal(state_key_get_or_create(f->st, DAEMON_TOKEN_KEY_NAME, key, sizeof key, 0),
	                 0);
	const char *tok = str_at(out, "token");
	const char *auds[] = {"http://p.localhost:8080/"};
	const char *other[] = {"http://q.localhost:8080"};
	struct auth_claims cl;
	int64_t now_s = NOW / 1000000000LL;
	assert_int_equal(
	    auth_token_verify(key, sizeof key, tok, strlen(tok), auds, 1, now_s, &cl, err),
	    AUTH_OK);
	assert_int_equal(cl.exp - cl.iat, 60);
	assert_int_equal(
	    auth_token_verify(key, sizeof key, tok, strlen(tok), other, 1, now_s, NULL, err),
	    AUTH_WRONG_AUDIENCE);
	assert_int_equal(
	    auth_token_verify(key, sizeof key, tok, strlen(tok), auds, 1, now_s + 61, NULL, err),
	    AUTH_EXPIRED);
	cJSON_Delete(out);
	/* no audience: the user's own token */
	assert_int_equal(admin__token(&f->c, NULL, &out, err), 0);
	assert_string_equal(str_at(out, "audience"), AUTH_AUDIENCE_ANY);
	cJSON_Delete(out);
	b = js("{\"ttl_seconds\":0}");
	assert_int_equal(admin__token(&f->c, b, &out, err), ERR_INVALID);
	cJSON_Delete(b);
	b = js("{\"audience\":5}");
	assert_int_equal(admin__token(&f->c, b, &out, err), ERR_INVALID);
	cJSON_Delete(b);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_admin_deploy_makes_revision_and_routes_latest),
	    T(test_admin_deploy_update_semantics),
	    T(test_admin_deploy_validation),
	    T(test_admin_deploy_gpus_against_inventory),
	    T(test_admin_deploy_no_traffic_and_tag),
	    cmocka_unit_test(test_admin_traffic_to_revisions_rule),
	    T(test_admin_traffic_route),
	    T(test_admin_export_replace_round_trip),
	    T(test_admin_delete),
	    cmocka_unit_test(test_admin_since_forms),
	    T(test_admin_billing_report),
	    T(test_admin_token_signed_for_audience),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	file_remove_tree(test_tmp_dir());
	return rc;
}
