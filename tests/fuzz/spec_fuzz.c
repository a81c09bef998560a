/* spec_fuzz.c — libFuzzer target for service specs as the admin API takes
 * them: any byte string is parsed as JSON and goes through spec_from_json,
 * spec_patch_apply on a valid GPU-less service, spec_traffic_from_json and
 * spec_validate; a spec that reads must write JSON that reads back to an
 * equal template. The bytes, split at NULs, are also Kubernetes quantities
 * and gcloud seconds (spec_parse_cpu/memory/seconds), whose canonical forms
 * must parse back to the same values. */
#include "base/json.h"
#include "platform/spec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const struct spec *s)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *j = spec_to_json(s);
	struct spec s2;
	if (spec_from_json(j, &s2, err) != 0)
		abort(); /* what we write must read back */
	if (!spec_template_equal(s, &s2))
		abort();
	struct spec c;
	spec_copy(&c, s);
	if (!spec_template_equal(s, &c))
		abort();
	spec_release(&c);
	spec_release(&s2);
	cJSON_Delete(j);
}

static void document(const cJSON *doc)
{
	struct spec s;
	char err[ERR_MSG_LEN] = "";
	if (spec_from_json(doc, &s, err) == 0) {
		spec_validate(&s, err);
		roundtrip(&s);
		spec_release(&s);
	} else if (!err[0]) {
		abort();
	}
	spec_init(&s);
	s.image = strdup("gpurun/hello");
	err[0] = '\0';
	if (spec_patch_apply(&s, doc, err) != 0 && !err[0])
		abort();
	if (spec_validate(&s, err) == 0)
		roundtrip(&s);
	spec_release(&s);
	struct spec_traffic *t = NULL;
	int64_t n = 0;
	if (spec_traffic_from_json(doc, &t, &n, err) == 0) {
		if (spec_traffic_validate(t, n, err) == 0 && spec_traffic_pick(t, n, 12345) >= n)
			abort();
		cJSON *back = spec_traffic_to_json(t, n);
		cJSON_Delete(back);
		spec_traffic_free_array(t, n);
	}
}

static void quantities(const char *s)
{
	char err[ERR_MSG_LEN], out[64];
	int64_t v, v2;
	/* "Nm" is read as N * 1000 / 1000: past INT64_MAX / 1000 only the vCPU
	 * form reads (far beyond any real cpu count) */
	if (spec_parse_cpu(s, &v, err) == 0 && v >= 0 && v <= INT64_MAX / 1000) {
		spec_format_cpu(v, out, sizeof out);
		if (spec_parse_cpu(out, &v2, err) != 0 || v2 != v)
			abort(); /* the canonical cpu form does not read back */
	}
	/* memory is read as fixed point (value * 10^6): plain byte counts past
	 * INT64_MAX / 10^6 (9.2 TB, beyond the limits) do not read back */
	if (spec_parse_memory(s, &v, err) == 0 && v >= 0 && v <= INT64_MAX / 1000000) {
		spec_format_memory(v, out, sizeof out);
		if (spec_parse_memory(out, &v2, err) != 0 || v2 != v)
			abort(); /* the canonical memory form does not read back */
	}
	int secs;
	if (spec_parse_seconds("timeout", s, SPEC_TIMEOUT_MAX_S, &secs, err) == 0 &&
	    (secs < 0 || secs > SPEC_TIMEOUT_MAX_S))
		abort();
	spec_parse_seconds("idle-timeout", s, SPEC_IDLE_TIMEOUT_MAX_S, &secs, err);
	spec_name_valid(s);
	spec_revision_name_check("svc", s, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	char *p = malloc(size + 1);
	if (!p)
		return 0;
	memcpy(p, d, size);
	p[size] = '\0';
	char err[ERR_MSG_LEN];
	cJSON *doc = json_parse(p, size, err);
	if (doc) {
		document(doc);
		cJSON_Delete(doc);
	}
	for (size_t i = 0; i <= size; i += strlen(p + i) + 1)
		quantities(p + i);
	free(p);
	return 0;
}
