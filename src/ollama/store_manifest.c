/* store_manifest.c — digests and the manifest document: parsing untrusted
 * Docker v2 schema 2 / OCI manifest JSON and writing it back the way Go's
 * json.Marshal writes Ollama's manifest.Manifest (reference §3.3). */
#include "ollama/store_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool store_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256", 6) != 0 || (d[6] != ':' && d[6] != '-'))
		return false;
	for (int i = 0; i < 64; i++)
		if (!is_hex(d[7 + i]))
			return false;
	return d[71] == '\0';
}

int store_digest_normalize(const char *digest, char out[STORE_DIGEST_LEN + 1])
{
	if (!store_digest_valid(digest)) {
		out[0] = '\0';
		return ERR_INVALID;
	}
	memcpy(out, digest, STORE_DIGEST_LEN + 1);
	out[6] = ':';
	return 0;
}

void store_manifest_init(struct store_manifest *m)
{
	memset(m, 0, sizeof *m);
	m->schema_version = 2;
	m->media_type = xstrdup(STORE_MT_MANIFEST);
}

static void layer_release(struct store_layer *l)
{
	free(l->media_type);
	free(l->from);
	free(l->name);
	memset(l, 0, sizeof *l);
}

void store_manifest_release(struct store_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	layer_release(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		layer_release(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof *m);
}

static void layer_set(struct store_layer *l, const char *mt, const char *digest, int64_t size)
{
	layer_release(l);
	l->media_type = xstrdup(mt);
	snprintf(l->digest, sizeof l->digest, "%s", digest ? digest : "");
	if (l->digest[0])
		l->digest[6] = ':';
	l->size = size;
}

void store_manifest_add_layer(struct store_manifest *m, const char *media_type, const char *digest,
                              int64_t size)
{
	m->layers = xrealloc(m->layers, (m->n_layers + 1) * sizeof *m->layers);
	memset(&m->layers[m->n_layers], 0, sizeof *m->layers);
	layer_set(&m->layers[m->n_layers++], media_type, digest, size);
}

void store_manifest_set_config(struct store_manifest *m, const char *media_type, const char *digest,
                               int64_t size)
{
	layer_set(&m->config, media_type, digest, size);
}

int64_t store_manifest_size(const struct store_manifest *m)
{
	/* Each size is at most 2^53, but 4096 layers of it overflow: saturate. */
	int64_t total = m->config.digest[0] ? m->config.size : 0;
	for (size_t i = 0; i < m->n_layers; i++)
		if (__builtin_add_overflow(total, m->layers[i].size, &total))
			return INT64_MAX;
	return total;
}

const struct store_layer *store_manifest_find(const struct store_manifest *m,
                                              const char *media_type)
{
	for (size_t i = 0; i < m->n_layers; i++)
		if (!strcmp(m->layers[i].media_type, media_type))
			return &m->layers[i];
	return NULL;
}

/* 2^53: the largest size a JSON double states exactly. */
#define SIZE_LIMIT 9007199254740992.0

/* RFC 6838 media type names are printable ASCII. Anything else would be
 * written back escaped (invalid UTF-8 as \ufffd, three bytes each), so a
 * manifest we accepted could grow past the length limit on disk and no
 * longer read back. */
static bool media_type_ok(const char *mt)
{
	size_t n = 0;
	for (; mt[n]; n++)
		if (mt[n] < 0x21 || mt[n] > 0x7e)
			return false;
	return n <= 255;
}

static int parse_layer(const cJSON *j, struct store_layer *l, const char *what,
                       char err[ERR_MSG_LEN])
{
	memset(l, 0, sizeof *l);
	if (!cJSON_IsObject(j))
		return err_set(err, ERR_INVALID, "manifest: %s is not an object", what);
	const char *mt = json_str(j, "mediaType", NULL);
	const char *digest = json_str(j, "digest", NULL);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
	if (!mt || !media_type_ok(mt))
		return err_set(err, ERR_INVALID, "manifest: %s has no valid mediaType", what);
	if (!digest || store_digest_normalize(digest, l->digest) < 0 || digest[6] != ':')
		return err_set(err, ERR_INVALID, "manifest: %s has an invalid digest", what);
	double v = cJSON_IsNumber(size) ? size->valuedouble : -1;
	if (v < 0 || v > SIZE_LIMIT || v != (double)(int64_t)v)
		return err_set(err, ERR_INVALID, "manifest: %s has an invalid size", what);
	l->size = (int64_t)v;
	l->media_type = xstrdup(mt);
	const char *from = json_str(j, "from", NULL), *name = json_str(j, "name", NULL);
	l->from = from && *from ? xstrdup(from) : NULL;
	l->name = name && *name ? xstrdup(name) : NULL;
	return 0;
}

static int parse_doc(const cJSON *doc, struct store_manifest *m, char err[ERR_MSG_LEN])
{
	if (!cJSON_IsObject(doc))
		return err_set(err, ERR_INVALID, "manifest: not a JSON object");
	int64_t sv = json_i64(doc, "schemaVersion", -1);
	if (sv != 2)
		return err_set(err, ERR_UNSUPPORTED, "manifest: unsupported schemaVersion");
	m->schema_version = 2;
	const char *mt = json_str(doc, "mediaType", STORE_MT_MANIFEST);
	m->media_type = xstrdup(media_type_ok(mt) ? mt : STORE_MT_MANIFEST);
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(doc, "config");
	int rc;
	/* Go writes an absent config as {"mediaType":"","digest":"","size":0} */
	bool no_cfg =
	    !cfg || cJSON_IsNull(cfg) || (cJSON_IsObject(cfg) && !*json_str(cfg, "digest", ""));
	if (!no_cfg && (rc = parse_layer(cfg, &m->config, "config", err)) < 0)
		return rc;
	const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
	if (layers && !cJSON_IsNull(layers) && !cJSON_IsArray(layers))
		return err_set(err, ERR_INVALID, "manifest: layers is not an array");
	int n = layers ? cJSON_GetArraySize(layers) : 0;
	if (n > 4096)
		return err_set(err, ERR_TOO_LARGE, "manifest: too many layers (%d)", n);
	m->layers = n ? xcalloc((size_t)n, sizeof *m->layers) : NULL;
	const cJSON *l;
	cJSON_ArrayForEach(l, layers)
	{
		char what[32];
		snprintf(what, sizeof what, "layer %zu", m->n_layers);
		if ((rc = parse_layer(l, &m->layers[m->n_layers], what, err)) < 0)
			return rc;
		m->n_layers++;
	}
	return 0;
}

int store_manifest_parse(const char *json, size_t len, struct store_manifest *out,
                         char err[ERR_MSG_LEN])
{
	memset(out, 0, sizeof *out);
	if (len > STORE_MANIFEST_MAX)
		return err_set(err, ERR_TOO_LARGE, "manifest: larger than %u bytes",
		               STORE_MANIFEST_MAX);
	char perr[ERR_MSG_LEN];
	cJSON *doc = json_parse(json, len, perr);
	if (!doc)
		return err_set(err, ERR_INVALID, "manifest: %s", perr);
	int rc = parse_doc(doc, out, err);
	cJSON_Delete(doc);
	if (rc < 0)
		store_manifest_release(out);
	return rc;
}

static void put_layer(struct buf *out, const struct store_layer *l)
{
	buf_puts(out, "{\"mediaType\":");
	gojson_append_str(out, l->media_type ? l->media_type : "",
	                  l->media_type ? strlen(l->media_type) : 0);
	buf_puts(out, ",\"digest\":");
	gojson_append_str(out, l->digest, strlen(l->digest));
	buf_printf(out, ",\"size\":%lld", (long long)l->size);
	if (l->from) {
		buf_puts(out, ",\"from\":");
		gojson_append_str(out, l->from, strlen(l->from));
	}
	if (l->name) {
		buf_puts(out, ",\"name\":");
		gojson_append_str(out, l->name, strlen(l->name));
	}
	buf_putc(out, '}');
}

void store_manifest_serialize(const struct store_manifest *m, struct buf *out)
{
	const char *mt = m->media_type ? m->media_type : STORE_MT_MANIFEST;
	buf_printf(out, "{\"schemaVersion\":%d,\"mediaType\":", m->schema_version);
	gojson_append_str(out, mt, strlen(mt));
	buf_puts(out, ",\"config\":");
	put_layer(out, &m->config);
	buf_puts(out, ",\"layers\":[");
	for (size_t i = 0; i < m->n_layers; i++) {
		if (i)
			buf_putc(out, ',');
		put_layer(out, &m->layers[i]);
	}
	buf_puts(out, "]}");
}
