/* knative_fuzz.c — libFuzzer target for Knative Service YAML import (the
 * `gpurun services replace` input): any byte string imports or fails with a
 * message, and the service is released either way. A service that imports
 * is exported, and that YAML must import again to an equal revision
 * template (export(import(y)) keeps every supported field) whose export is
 * the same YAML (re-export is idempotent). */
#include "platform/knative.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const struct knative_service *k)
{
	struct buf y = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	if (knative_export(k, NULL, &y, err) != 0)
		abort(); /* an imported service must export */
	struct knative_service k2;
	if (knative_import(y.data, y.len, &k2, NULL, err) != 0)
		abort(); /* what we export must import */
	if (!spec_template_equal(&k->spec, &k2.spec) || strcmp(k->name, k2.name) != 0)
		abort(); /* export(import(y)) lost or changed a field */
	struct buf y2 = BUF_INIT;
	if (knative_export(&k2, NULL, &y2, err) != 0 || y2.len != y.len ||
	    memcmp(y.data, y2.data, y.len) != 0)
		abort(); /* re-export is not idempotent */
	knative_service_release(&k2);
	buf_release(&y);
	buf_release(&y2);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	/* An exact-size copy so ASan flags any read past the end. */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, d, size);
	struct knative_service k;
	struct buf warnings = BUF_INIT;
	char err[ERR_MSG_LEN] = "";
	if (knative_import(p, size, &k, &warnings, err) == 0)
		roundtrip(&k);
	else if (!err[0])
		abort(); /* a failure must come with a message */
	knative_service_release(&k);
	buf_release(&warnings);
	free(p);
	return 0;
}
