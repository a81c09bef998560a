/* store_manifest_fuzz.c — libFuzzer target for Ollama manifests as a
 * registry serves them (untrusted JSON): any byte string parses or fails
 * with a message. A manifest that parses is serialized, and that JSON must
 * parse back to the same layers, sizes and digests. */
#include "ollama/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool same_layer(const struct store_layer *a, const struct store_layer *b)
{
	return !strcmp(a->media_type, b->media_type) && !strcmp(a->digest, b->digest) &&
	       a->size == b->size;
}

static void roundtrip(const struct store_manifest *m)
{
	struct buf out = BUF_INIT;
	store_manifest_serialize(m, &out);
	struct store_manifest m2;
	char err[ERR_MSG_LEN];
	if (store_manifest_parse(out.data, out.len, &m2, err) != 0)
		abort(); /* what we write must read back */
	if (m2.n_layers != m->n_layers || store_manifest_size(&m2) != store_manifest_size(m))
		abort();
	if (m->config.media_type && !same_layer(&m->config, &m2.config))
		abort();
	for (size_t i = 0; i < m->n_layers; i++) {
		if (!store_digest_valid(m->layers[i].digest) ||
		    !same_layer(&m->layers[i], &m2.layers[i]))
			abort();
		if (store_manifest_find(m, m->layers[i].media_type) == NULL)
			abort();
	}
	store_manifest_release(&m2);
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	/* An exact-size copy so ASan flags any read past the end. */
	char *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	memcpy(p, d, size);
	struct store_manifest m;
	char err[ERR_MSG_LEN] = "";
	if (store_manifest_parse(p, size, &m, err) == 0) {
		roundtrip(&m);
		store_manifest_release(&m);
	} else if (!err[0]) {
		abort(); /* a failure must come with a message */
	}
	free(p);
	return 0;
}
