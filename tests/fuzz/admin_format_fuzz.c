/* admin_format_fuzz.c — libFuzzer target for gcloud's --format projection
 * and for the YAML the platform verbs read. The first input byte picks the
 * form of the rest: a --format string (admin_format_parse, then rendered on
 * a fixed Knative-shaped service, alone and as a list, and used as a key
 * path), or a YAML document (admin_format_yaml_to_json; JSON that comes
 * out must print as YAML that reads back to equal JSON). Errors carry a
 * message; nothing may crash or leak. */
#include "base/json.h"
#include "platform/admin_format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char svc_json[] =
    "[{\"metadata\":{\"name\":\"hello\",\"annotations\":{\"a.b/c\":\"x\"},"
    "\"labels\":{\"cloud.googleapis.com/location\":\"local\"}},"
    "\"spec\":{\"template\":{\"spec\":{\"containerConcurrency\":80,\"containers\":[{\"image\":"
    "\"gpurun/hello\",\"args\":[\"a\",\"b\"],\"env\":[]}]}},\"traffic\":[{\"latestRevision\":"
    "true,\"percent\":100}]},\"status\":{\"url\":\"http://hello.localhost:8080\",\"ready\":false,"
    "\"ratio\":0.25,\"big\":1e300,\"neg\":-3,\"none\":null,\"s\":\"yes\",\"e\":\"\","
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
    "{\"type\":\"RoutesReady\",\"status\":\"False\",\"message\":\"a\\tb\\nc: d\"}]}},"
    "{\"metadata\":{\"name\":\"other\"},\"status\":[1,[2,[3]],{}]}]";

static cJSON *svcs;

static void format(const char *s)
{
	struct admin_format f;
	char err[ERR_MSG_LEN] = "";
	if (admin_format_parse(s, &f, err) != 0) {
		if (!err[0])
			abort(); /* a failure must come with a message */
		return;
	}
	if (f.n_keys < 0 || f.n_keys > ADMIN_FORMAT_KEYS_MAX ||
	    !memchr(f.separator, '\0', sizeof f.separator))
		abort();
	struct buf out = BUF_INIT;
	admin_format_render(&f, svcs, true, &out);
	admin_format_render(&f, cJSON_GetArrayItem(svcs, 0), false, &out);
	admin_format_render(&f, cJSON_GetArrayItem(svcs, 1), false, &out);
	buf_release(&out);
	admin_format_release(&f);
}

static void path(const char *s)
{
	struct buf out = BUF_INIT;
	for (int i = 0; i < 2; i++) {
		const cJSON *v = admin_format_get(cJSON_GetArrayItem(svcs, i), s);
		if (v)
			admin_format_scalar(v, &out);
	}
	buf_release(&out);
}

static void yaml(const char *p, size_t n)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *j = admin_format_yaml_to_json(p, n, err);
	if (!j) {
		if (!err[0])
			abort();
		return;
	}
	struct buf y = BUF_INIT, js = BUF_INIT;
	if (admin_format_yaml(j, &y, err) != 0)
		abort(); /* JSON from YAML must print as YAML */
	cJSON *back = admin_format_yaml_to_json(y.data ? y.data : "", y.len, err);
	if (!back)
		abort(); /* our YAML does not read back */
	/* Printed, not cJSON_Compare: that one fails on duplicate keys, which
	 * this reader keeps in order (it only reads our own exports). */
	char *a = cJSON_PrintUnformatted(j), *b = cJSON_PrintUnformatted(back);
	if (!a || !b || strcmp(a, b) != 0)
		abort(); /* ... to the same JSON */
	cJSON_free(a);
	cJSON_free(b);
	admin_format_json(j, &js);
	cJSON_Delete(back);
	cJSON_Delete(j);
	buf_release(&y);
	buf_release(&js);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (!svcs && !(svcs = json_parse(svc_json, sizeof svc_json - 1, NULL)))
		abort();
	if (size < 1)
		return 0;
	char *p = malloc(size);
	if (!p)
		return 0;
	memcpy(p, d + 1, size - 1);
	p[size - 1] = '\0';
	if (d[0] & 1) {
		yaml(p, size - 1); /* exact length: the NUL is not part of it */
	} else {
		format(p);
		path(p);
	}
	free(p);
	return 0;
}
