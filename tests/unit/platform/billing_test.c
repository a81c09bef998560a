/* billing_test.c — billing arithmetic on hand-made ledgers: instance-based
 * (GPU) lifetimes, request-based unions of overlapping spans, idle
 * min-instances, 100 ms rounding, --since/--service windows, tokens per
 * 1,000, the price file, and the three renderings. Expected values are
 * worked by hand from reference §3 prices in the comments. */
#include "support/support.h"

#include "base/file.h"
#include "base/json.h"
#include "platform/billing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S          1000000000LL
#define MS         1000000LL
#define GI         (1LL << 30)
#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-9 * (1 + fabs((double)(b))))

static struct ledger_row ev(enum ledger_kind k, const char *svc, const char *inst, int64_t at)
{
	struct ledger_row r = {
	    .kind = k, .at_ns = at, .service = svc, .revision = "rev", .instance = inst};
	return r;
}

static struct ledger_row start(const char *svc, const char *inst, int64_t at, int64_t milli,
                               int64_t mem, int gpus, bool ib)
{
	struct ledger_row r = ev(LEDGER_INSTANCE_START, svc, inst, at);
	r.cpu_milli = milli;
	r.memory_bytes = mem;
	r.gpus = gpus;
	r.instance_based = ib;
	return r;
}

static struct ledger_row req(const char *svc, const char *inst, int64_t a, int64_t b, int64_t tok)
{
	struct ledger_row r = ev(LEDGER_REQUEST, svc, inst, b);
	r.start_ns = a;
	r.status = 200;
	r.tokens = tok;
	return r;
}

static void compute(const struct ledger_row *rows, int64_t n, const char *svc, int64_t since,
                    int64_t until, struct billing_report *out)
{
	struct billing_prices p;
	billing_prices_default(&p);
	struct billing_filter f = {svc, since, until};
	assert_int_equal(billing_compute(rows, n, &p, &f, out), 0);
}

static void test_billing_instance_based_gpu(void **state)
{
	/* 4 vCPU, 16 GiB, one L4; up 61.05 s (SIGTERM at 60.05 s, gone 1 s later) */
	struct ledger_row rows[] = {
	    start("ollama", "i1", 0, 4000, 16 * GI, 1, true),
	    ev(LEDGER_INSTANCE_READY, "ollama", "i1", 2300 * MS),
	    req("ollama", "i1", 3 * S, 10 * S, 100),
	    req("ollama", "i1", 4 * S, 12 * S, 120),
	    req("ollama", "i1", 30 * S, 31 * S, 80),
	    ev(LEDGER_INSTANCE_STOP, "ollama", "i1", 60050 * MS),
	    ev(LEDGER_INSTANCE_EXIT, "ollama", "i1", 61050 * MS),
	};
	struct billing_report r;
	compute(rows, 7, NULL, 0, 100 * S, &r);
	assert_int_equal(r.n_instances, 1);
	const struct billing_instance *in = &r.instances[0];
	assert_true(in->instance_based);
	assert_false(in->running);
	assert_true(NEAR(in->wall_s, 61.05));
	assert_true(NEAR(in->u.billed_s, 61.1)); /* rounded up to 100 ms */
	assert_true(fabs(in->u.billed_s - in->wall_s) < 1.0);
	assert_true(NEAR(in->u.vcpu_s, 244.4));
	assert_true(NEAR(in->u.gib_s, 977.6));
	assert_true(NEAR(in->u.gpu_s, 61.1));
	assert_int_equal(in->u.requests, 3);
	assert_int_equal(in->u.tokens, 300);
	/* 244.4 x 0.000018 + 977.6 x 0.000002 + 61.1 x 0.0001867; no request fee */
	double want = 244.4 * 0.000018 + 977.6 * 0.000002 + 61.1 * 0.0001867;
	assert_true(NEAR(in->u.cost, want));
	assert_true(NEAR(in->u.cost_requests, 0));
	assert_int_equal(r.n_services, 1);
	assert_true(NEAR(r.services[0].cost_per_1k_tokens, want / 300 * 1000));
	assert_true(NEAR(r.total.cost, want));
	billing_report_release(&r);
}

static void test_billing_request_based_union(void **state)
{
	/* startup [0, 0.5), requests [1, 3) and [2, 4) overlap, [10, 10.05),
	 * shutdown [20, 20.2): active 0.5 + 3 + 0.05 + 0.2 = 3.75 s -> 3.8 s */
	struct ledger_row rows[] = {
	    start("hello", "h1", 0, 1000, 512LL << 20, 0, false),
	    ev(LEDGER_INSTANCE_READY, "hello", "h1", 500 * MS),
	    req("hello", "h1", 1 * S, 3 * S, 0),
	    req("hello", "h1", 2 * S, 4 * S, 0),
	    req("hello", "h1", 10 * S, 10050 * MS, 0),
	    ev(LEDGER_INSTANCE_STOP, "hello", "h1", 20 * S),
	    ev(LEDGER_INSTANCE_EXIT, "hello", "h1", 20200 * MS),
	};
	struct billing_report r;
	compute(rows, 7, NULL, 0, 100 * S, &r);
	const struct billing_instance *in = &r.instances[0];
	assert_false(in->instance_based);
	assert_true(NEAR(in->u.billed_s, 3.8));
	assert_true(NEAR(in->u.vcpu_s, 3.8));
	assert_true(NEAR(in->u.gib_s, 1.9));
	assert_true(NEAR(in->u.idle_s, 0)); /* not a min instance */
	assert_int_equal(in->u.requests, 3);
	double want = 3.8 * 0.000024 + 1.9 * 0.0000025 + 3 * 0.40 / 1e6;
	assert_true(NEAR(in->u.cost, want));
	assert_true(NEAR(r.services[0].cost_per_1k_tokens, 0));
	billing_report_release(&r);
	/* the same instance kept by min-instances pays its idle time too:
	 * 20.2 - 3.75 = 16.45 s -> 16.5 s at the idle rates */
	rows[0].min_instance = true;
	compute(rows, 7, NULL, 0, 100 * S, &r);
	in = &r.instances[0];
	assert_true(NEAR(in->u.idle_s, 16.5));
	assert_true(NEAR(in->u.cost_idle, 16.5 * 0.0000025 + 16.5 * 0.5 * 0.0000025));
	billing_report_release(&r);
}

static void test_billing_rounding_and_windows(void **state)
{
	struct ledger_row rows[] = {
	    start("a", "x", 0, 2000, 1 * GI, 0, true),
	    ev(LEDGER_INSTANCE_EXIT, "a", "x", 1),          /* 1 ns of life */
	    start("a", "y", 10 * S, 1000, 1 * GI, 0, true), /* runs 10 s .. 110 s */
	    ev(LEDGER_INSTANCE_EXIT, "a", "y", 110 * S),
	    start("a", "z", 100 * S, 1000, 1 * GI, 0, true), /* still running */
	    start("b", "w", 0, 1000, 1 * GI, 0, true),
	    ev(LEDGER_INSTANCE_EXIT, "b", "w", 5 * S),
	};
	struct billing_report r;
	compute(rows, 7, NULL, 0, 130 * S, &r);
	assert_int_equal(r.n_instances, 4);
	assert_string_equal(r.instances[0].instance, "x");
	assert_true(NEAR(r.instances[0].u.billed_s, 0.1)); /* 1 ns bills 100 ms */
	assert_true(NEAR(r.instances[1].u.billed_s, 100));
	assert_true(r.instances[2].running);
	assert_true(NEAR(r.instances[2].u.billed_s, 30)); /* up to "now" */
	assert_int_equal(r.n_services, 2);
	assert_int_equal(r.services[0].instances, 3);
	assert_true(NEAR(r.services[0].u.billed_s, 130.1));
	billing_report_release(&r);
	/* --since 50 s: x and w are outside; y counts 60 s, z 30 s */
	compute(rows, 7, NULL, 50 * S, 130 * S, &r);
	assert_int_equal(r.n_instances, 2);
	assert_true(NEAR(r.instances[0].u.billed_s, 60));
	assert_int_equal(r.instances[0].start_ns, 50 * S);
	assert_true(NEAR(r.total.billed_s, 90));
	billing_report_release(&r);
	/* --service b */
	compute(rows, 7, "b", 0, 130 * S, &r);
	assert_int_equal(r.n_services, 1);
	assert_string_equal(r.services[0].service, "b");
	assert_true(NEAR(r.total.vcpu_s, 5));
	billing_report_release(&r);
}

static void test_billing_renderings(void **state)
{
	struct ledger_row rows[] = {
	    start("ollama", "i1", 0, 4000, 16 * GI, 1, true),
	    req("ollama", "i1", 1 * S, 2 * S, 1000),
	    ev(LEDGER_INSTANCE_EXIT, "ollama", "i1", 10 * S),
	    start("hello,\"x\"", "h1", 0, 1000, 512LL << 20, 0, false),
	    req("hello,\"x\"", "h1", 1 * S, 2 * S, 0),
	    ev(LEDGER_INSTANCE_EXIT, "hello,\"x\"", "h1", 3 * S),
	};
	struct billing_report r;
	compute(rows, 6, NULL, 0, 20 * S, &r);
	struct buf o = BUF_INIT;
	billing_report_render(&r, BILLING_FORMAT_TABLE, true, &o);
	assert_non_null(strstr(o.data, "SERVICE"));
	assert_non_null(strstr(o.data, "ollama"));
	assert_non_null(strstr(o.data, "TOTAL"));
	assert_non_null(strstr(o.data, "INSTANCE"));
	buf_reset(&o);
	billing_report_render(&r, BILLING_FORMAT_JSON, false, &o);
	char err[ERR_MSG_LEN];
	cJSON *j = json_parse(o.data, o.len, err);
	assert_non_null(j);
	const cJSON *total = cJSON_GetObjectItem(j, "total");
	assert_true(NEAR(json_num(cJSON_GetObjectItem(total, "cost"), "total", -1), r.total.cost));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "instances")), 2);
	const cJSON *svc0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "services"), 1);
	assert_string_equal(json_str(svc0, "service", ""), "ollama");
	assert_string_equal(json_str(svc0, "billing", ""), "instance");
	assert_true(json_num(svc0, "cost_per_1k_tokens", 0) > 0);
	cJSON_Delete(j);
	buf_reset(&o);
	billing_report_render(&r, BILLING_FORMAT_CSV, true, &o);
	int lines = 0;
	for (size_t i = 0; i < o.len; i++)
		lines += o.data[i] == '\n';
	assert_int_equal(lines, 1 + 2 + 2 + 1); /* header, instances, services, total */
	assert_non_null(strstr(o.data, "\"hello,\"\"x\"\"\""));
	buf_release(&o);
	billing_report_release(&r);
	enum billing_format f;
	assert_true(billing_format_parse("CSV", &f));
	assert_int_equal(f, BILLING_FORMAT_CSV);
	assert_false(billing_format_parse("xml", &f));
}

static void test_billing_price_file(void **state)
{
	char *path = file_path_join(test_tmp_dir(), "prices.json");
	struct billing_prices p;
	char err[ERR_MSG_LEN];
	assert_int_equal(billing_prices_load(path, &p, err), 0); /* missing: defaults */
	assert_true(NEAR(p.ib_vcpu_s, 0.000018));
	assert_true(NEAR(billing_gpu_price(&p, "nvidia-rtx-pro-6000"), 0.00036522));
	assert_true(NEAR(billing_gpu_price(&p, "unknown"), 0.0001867));
	const char *edited =
	    "{\"currency\":\"EUR\",\"instance_based\":{\"vcpu_second\":0.00002},"
	    "\"gpu_second\":{\"h200\":0.001,\"default\":0.0005},\"rounding_ms\":1000}";
	assert_int_equal(file_write_atomic(path, edited, strlen(edited), 0644), 0);
	assert_int_equal(billing_prices_load(path, &p, err), 0);
	assert_string_equal(p.currency, "EUR");
	assert_true(NEAR(p.ib_vcpu_s, 0.00002));
	assert_true(NEAR(p.ib_gib_s, 0.000002)); /* untouched keys keep the default */
	assert_true(NEAR(billing_gpu_price(&p, "h200"), 0.001));
	assert_true(NEAR(billing_gpu_price(&p, "x"), 0.0005));
	assert_int_equal(p.rounding_ns, S);
	assert_int_equal(billing_prices_save(path, &p), 0);
	struct billing_prices q;
	assert_int_equal(billing_prices_load(path, &q, err), 0);
	assert_true(NEAR(billing_gpu_price(&q, "h200"), 0.001));
	assert_string_equal(q.currency, "EUR");
	static const char *bad[] = {"{\"instance_based\":{\"vcpu_second\":-1}}", "{\"nope\":1}",
	                            "{\"request_based\":{\"cpu\":1}}", "[1]", "{"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(file_write_atomic(path, bad[i], strlen(bad[i]), 0644), 0);
		assert_int_equal(billing_prices_load(path, &p, err), ERR_INVALID);
		assert_non_null(strstr(err, "prices.json"));
	}
	free(path);
	file_remove_tree(test_tmp_dir());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_billing_instance_based_gpu),
	    cmocka_unit_test(test_billing_request_based_union),
	    cmocka_unit_test(test_billing_rounding_and_windows),
	    cmocka_unit_test(test_billing_renderings),
	    cmocka_unit_test(test_billing_price_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
