/* oci_manifest_fuzz.c — libFuzzer target for what a registry serves during a
 * pull: the first input byte picks the Content-Type the document arrives
 * with (none, each of the four manifest kinds, an image config); the rest
 * is parsed as a manifest or index (oci_manifest_parse, then
 * oci_manifest_pick for linux/amd64) and as an image config
 * (oci_image_config_parse). Errors carry a message; every digest that
 * comes out is valid, every size >= 0, every layer a tar layer; nothing may
 * crash or leak. */
#include "platform/oci_config.h"
#include "platform/oci_manifest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const types[] = {
    NULL,
    OCI_MT_DOCKER_MANIFEST,
    OCI_MT_DOCKER_LIST,
    OCI_MT_OCI_MANIFEST,
    OCI_MT_OCI_INDEX,
    OCI_MT_OCI_CONFIG,
    "application/json; charset=utf-8",
    "",
};

static void descriptor(const struct oci_descriptor *d, bool layer)
{
	if (!oci_digest_valid(d->digest) || d->size < 0)
		abort();
	if (layer && (!d->media_type || !oci_layer_type_supported(d->media_type)))
		abort(); /* an image's layers are tar layers this runtime unpacks */
}

static void manifest(const char *p, size_t n, const char *ctype)
{
	struct oci_manifest m;
	char err[ERR_MSG_LEN] = "";
	if (oci_manifest_parse(p, n, ctype, &m, err) != 0) {
		if (!err[0])
			abort(); /* a failure must come with a message */
		return;
	}
	if (m.n_items < 0 || (m.n_items > 0 && !m.items))
		abort();
	bool index = m.kind == OCI_MANIFEST_INDEX;
	if (!index)
		descriptor(&m.config, false);
	for (int64_t i = 0; i < m.n_items; i++)
		descriptor(&m.items[i], !index);
	if (index) {
		err[0] = '\0';
		if (!oci_manifest_pick(&m, "linux", "amd64", err) && !err[0])
			abort();
	}
	oci_manifest_release(&m);
}

static void config(const char *p, size_t n)
{
	struct oci_image_config c;
	char err[ERR_MSG_LEN] = "";
	if (oci_image_config_parse(p, n, &c, err) != 0) {
		if (!err[0])
			abort();
		return;
	}
	for (int i = 0; i < c.n_ports; i++)
		if (c.ports[i] < 1 || c.ports[i] > 65535)
			abort(); /* an exposed port outside 1..65535 */
	oci_image_config_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (size < 1)
		return 0;
	/* An exact-size copy so ASan flags any read past the end. */
	char *p = malloc(size - 1 ? size - 1 : 1);
	if (!p)
		return 0;
	memcpy(p, d + 1, size - 1);
	manifest(p, size - 1, types[d[0] % (sizeof types / sizeof types[0])]);
	config(p, size - 1);
	free(p);
	return 0;
}
