/* admin_format_test.c — gcloud's --format for the platform verbs: format
 * strings (kinds, attributes, key lists, bad input), key paths (dots,
 * indices, quoted names), value() scalars as Python prints them, csv and
 * table output, gcloud's sorted JSON, YAML out and back in. */
#include "support/support.h"

#include "base/json.h"
#include "platform/admin_format.h"

#include <stdlib.h>
#include <string.h>

static const char *svc_json =
    "{\"metadata\":{\"name\":\"hello\",\"labels\":{\"cloud.googleapis.com/location\":\"local\"}},"
    "\"spec\":{\"template\":{\"spec\":{\"containerConcurrency\":80,\"containers\":[{\"image\":"
    "\"gpurun/hello\",\"args\":[\"a\",\"b\"]}]}},\"traffic\":[{\"latestRevision\":true,"
    "\"percent\":100}]},\"status\":{\"url\":\"http://hello.localhost:8080\",\"ready\":false,"
    "\"ratio\":0.25,\"none\":null,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
    "{\"type\":\"RoutesReady\",\"status\":\"False\"}]}}";

static cJSON *svc(void)
{
	cJSON *j = json_parse(svc_json, strlen(svc_json), NULL);
	assert_non_null(j);
	return j;
}

/* Renders j (one resource) with format s into a static buffer. */
static const char *render(const char *s, const cJSON *j, bool list)
{
	static struct buf out;
	struct admin_format f;
	char err[ERR_MSG_LEN];
	if (admin_format_parse(s, &f, err))
		fail_msg("parse '%s': %s", s, err);
	buf_reset(&out);
	admin_format_render(&f, j, list, &out);
	admin_format_release(&f);
	return out.data ? out.data : "";
}

static void test_admin_format_parse_kinds_and_errors(void **state)
{
	struct admin_format f;
	char err[ERR_MSG_LEN];
	assert_int_equal(admin_format_parse(NULL, &f, err), 0);
	assert_int_equal(f.kind, ADMIN_FORMAT_DEFAULT);
	assert_int_equal(admin_format_parse("json", &f, err), 0);
	assert_int_equal(f.kind, ADMIN_FORMAT_JSON);
	assert_int_equal(admin_format_parse("export", &f, err), 0);
	assert_int_equal(f.kind, ADMIN_FORMAT_YAML);
	assert_int_equal(admin_format_parse("value(status.url, metadata.name:label=N)", &f, err),
	                 0);
	assert_int_equal(f.kind, ADMIN_FORMAT_VALUE);
	assert_int_equal(f.n_keys, 2);
	assert_string_equal(f.keys[0].path, "status.url");
	assert_string_equal(f.keys[1].path, "metadata.name");
	assert_string_equal(f.keys[1].label, "N");
	admin_format_release(&f);
	assert_int_equal(admin_format_parse("csv[no-heading,separator=';'](a,b)", &f, err), 0);
	assert_true(f.no_heading);
	assert_string_equal(f.separator, ";");
	admin_format_release(&f);
	/* a comma inside quotes is part of the key */
	assert_int_equal(admin_format_parse("value(metadata.labels.'a,b')", &f, err), 0);
	assert_int_equal(f.n_keys, 1);
	assert_string_equal(f.keys[0].path, "metadata.labels.'a,b'");
	admin_format_release(&f);

	const char *bad[] = {"xml",          "value",    "value()",           "value(a",
	                     "table[box(a)", "json(a)x", "value(a,,:label=x)"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		if (admin_format_parse(bad[i], &f, err) == 0)
			fail_msg("'%s' parsed", bad[i]);
		assert_true(strlen(err) > 0);
		assert_non_null(strstr(err, "--format"));
	}
}

static void test_admin_format_get_paths(void **state)
{
	cJSON *j = svc();
	assert_string_equal(cJSON_GetStringValue(admin_format_get(j, "status.url")),
	                    "http://hello.localhost:8080");
	assert_string_equal(
	    cJSON_GetStringValue(admin_format_get(j, "spec.template.spec.containers[0].image")),
	    "gpurun/hello");
	assert_string_equal(cJSON_GetStringValue(admin_format_get(j, "status.conditions[-1].type")),
	                    "RoutesReady");
	assert_string_equal(cJSON_GetStringValue(admin_format_get(
	                        j, "metadata.labels.'cloud.googleapis.com/location'")),
	                    "local");
	assert_string_equal(cJSON_GetStringValue(admin_format_get(
	                        j, "metadata.labels.\"cloud.googleapis.com/location\"")),
	                    "local");
	assert_null(admin_format_get(j, "status.conditions[2]"));
	assert_null(admin_format_get(j, "status.url.more"));
	assert_null(admin_format_get(j, "nope.deeper"));
	assert_null(admin_format_get(j, "status.conditions[x]"));
	assert_null(admin_format_get(j, "metadata.labels.'unterminated"));
	cJSON_Delete(j);
}

static void test_admin_format_value_scalars(void **state)
{
	cJSON *j = svc();
	assert_string_equal(render("value(status.url)", j, false), "http://hello.localhost:8080\n");
	assert_string_equal(render("value(metadata.name,status.url)", j, false),
	                    "hello\thttp://hello.localhost:8080\n");
	/* Python's spellings: True/False, integers without a fraction, lists
	 * joined by ';', mappings k=v, missing and null empty */
	assert_string_equal(render("value(status.ready,spec.traffic[0].latestRevision)", j, false),
	                    "False\tTrue\n");
	assert_string_equal(
	    render("value(spec.template.spec.containerConcurrency,status.ratio)", j, false),
	    "80\t0.25\n");
	assert_string_equal(render("value(spec.template.spec.containers[0].args)", j, false),
	                    "a;b\n");
	assert_string_equal(render("value(metadata.labels)", j, false),
	                    "cloud.googleapis.com/location=local\n");
	assert_string_equal(render("value(status.none,missing,status.url)", j, false),
	                    "\t\thttp://hello.localhost:8080\n");
	assert_string_equal(render("value[separator=','](metadata.name,status.url)", j, false),
	                    "hello,http://hello.localhost:8080\n");
	/* a list: one line per resource */
	cJSON *a = cJSON_CreateArray();
	cJSON_AddItemToArray(a, cJSON_Duplicate(j, true));
	cJSON_AddItemToArray(a, cJSON_Duplicate(j, true));
	assert_string_equal(render("value(metadata.name)", a, true), "hello\nhello\n");
	cJSON_Delete(a);
	cJSON_Delete(j);
}

static void test_admin_format_csv_and_table(void **state)
{
	const char *doc = "[{\"n\":\"a\",\"v\":\"x,y\",\"q\":\"say \\\"hi\\\"\",\"longName\":1},"
	                  "{\"n\":\"bbb\",\"v\":\"z\",\"q\":\"\",\"longName\":22}]";
	cJSON *j = json_parse(doc, strlen(doc), NULL);
	assert_non_null(j);
	assert_string_equal(render("csv(n,v,q)", j, true),
	                    "n,v,q\na,\"x,y\",\"say \"\"hi\"\"\"\nbbb,z,\n");
	assert_string_equal(render("csv[no-heading](n)", j, true), "a\nbbb\n");
	/* headings: labels, else the last name in SNAKE_CASE upper */
	assert_string_equal(render("table(n:label=NAME,longName,v)", j, true),
	                    "NAME  LONG_NAME  V\n"
	                    "a     1          x,y\n"
	                    "bbb   22         z\n");
	assert_string_equal(render("table[no-heading](n,v)", j, true), "a    x,y\nbbb  z\n");
	/* widths count characters, not bytes */
	const char *u = "[{\"ok\":\"\u2714\",\"n\":\"a\"}]";
	cJSON *uj = json_parse(u, strlen(u), NULL);
	assert_string_equal(render("table(ok:label=OK,n:label=N)", uj, true),
	                    "OK  N\n\xe2\x9c\x94   a\n");
	cJSON_Delete(uj);
	cJSON *empty = cJSON_CreateArray();
	assert_string_equal(render("table(n)", empty, true), "");
	cJSON_Delete(empty);
	cJSON_Delete(j);
}

static void test_admin_format_json_sorted(void **state)
{
	const char *doc =
	    "{\"b\":[1,2.5,\"s\\n\"],\"a\":{\"z\":true,\"y\":null},\"c\":{},\"d\":[]}";
	cJSON *j = json_parse(doc, strlen(doc), NULL);
	assert_string_equal(render("json", j, false), "{\n"
	                                              "  \"a\": {\n"
	                                              "    \"y\": null,\n"
	                                              "    \"z\": true\n"
	                                              "  },\n"
	                                              "  \"b\": [\n"
	                                              "    1,\n"
	                                              "    2.5,\n"
	                                              "    \"s\\n\"\n"
	                                              "  ],\n"
	                                              "  \"c\": {},\n"
	                                              "  \"d\": []\n"
	                                              "}\n");
	cJSON_Delete(j);
}

static void test_admin_format_yaml_round_trip(void **state)
{
	cJSON *j = svc();
	cJSON_AddStringToObject(j, "tricky", "true");
	cJSON_AddStringToObject(j, "num", "0042");
	cJSON_AddStringToObject(j, "empty", "");
	struct buf y = BUF_INIT;
	char err[ERR_MSG_LEN];
	assert_int_equal(admin_format_yaml(j, &y, err), 0);
	assert_non_null(strstr(y.data, "url: http://hello.localhost:8080\n"));
	assert_non_null(strstr(y.data, "tricky: \"true\"\n"));
	assert_non_null(strstr(y.data, "containerConcurrency: 80\n"));
	cJSON *back = admin_format_yaml_to_json(y.data, y.len, err);
	if (!back)
		fail_msg("%s", err);
	assert_true(cJSON_Compare(j, back, true));
	cJSON_Delete(back);
	buf_release(&y);
	cJSON_Delete(j);

	/* typing of plain scalars; quoted stay strings */
	const char *doc = "a: 1\nb: '1'\nc: ~\nd: false\ne: 1.5\nf: 0x10\ng: -3\nh:\n";
	back = admin_format_yaml_to_json(doc, strlen(doc), err);
	assert_non_null(back);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(back, "a")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(back, "b")), "1");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(back, "c")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(back, "d")));
	assert_true(cJSON_GetObjectItem(back, "e")->valuedouble == 1.5);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(back, "f")), "0x10");
	assert_true(cJSON_GetObjectItem(back, "g")->valuedouble == -3);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(back, "h")));
	cJSON_Delete(back);
}

static void test_admin_format_yaml_hostile(void **state)
{
	char err[ERR_MSG_LEN];
	const char *bad[] = {
	    "a: [1, 2\n",                            /* unclosed */
	    "a: &x [1]\nb: *x\n",                    /* alias */
	    "? [1, 2]\n: v\n",                       /* non-scalar key */
	    "a: \"\\0\"\n",                          /* NUL inside */
	    "key: value\n  bad indentation: here\n", /* syntax */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		cJSON *j = admin_format_yaml_to_json(bad[i], strlen(bad[i]), err);
		if (j)
			fail_msg("case %zu parsed", i);
		assert_true(strlen(err) > 0);
	}
	/* nesting deeper than the limit */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < ADMIN_FORMAT_DEPTH_MAX + 5; i++)
		buf_puts(&deep, "[");
	for (int i = 0; i < ADMIN_FORMAT_DEPTH_MAX + 5; i++)
		buf_puts(&deep, "]");
	assert_null(admin_format_yaml_to_json(deep.data, deep.len, err));
	assert_non_null(strstr(err, "nested"));
	buf_release(&deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_admin_format_parse_kinds_and_errors),
	    cmocka_unit_test(test_admin_format_get_paths),
	    cmocka_unit_test(test_admin_format_value_scalars),
	    cmocka_unit_test(test_admin_format_csv_and_table),
	    cmocka_unit_test(test_admin_format_json_sorted),
	    cmocka_unit_test(test_admin_format_yaml_round_trip),
	    cmocka_unit_test(test_admin_format_yaml_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
