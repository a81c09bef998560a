/* oci_manifest.c — parsing Docker v2 / OCI manifests and indexes (see
 * oci_manifest.h). Every field read comes from an untrusted registry: types
 * and digests are checked, nothing asserts. Schema 1 manifests are refused. */
#include "platform/oci_manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mem.h"

static const char *const layer_types[] = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
};

bool oci_layer_type_supported(const char *media_type)
{
	if (!media_type)
		return false;
	for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
		if (strcmp(media_type, layer_types[i]) == 0)
			return true;
	return false;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void desc_release(struct oci_descriptor *d)
{
	free(d->media_type);
	free(d->os);
	free(d->arch);
	free(d->variant);
	memset(d, 0, sizeof(*d));
}

static int desc_parse(const cJSON *j, const char *what, struct oci_descriptor *d,
                      char err[ERR_MSG_LEN])
{
	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(j))
		return err_set(err, ERR_INVALID, "manifest: %s is not an object", what);
	const char *digest = json_str(j, "digest", NULL);
	if (!oci_digest_valid(digest))
		return err_set(err, ERR_INVALID, "manifest: %s has no valid sha256 digest ('%s')",
		               what, digest ? digest : "");
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
	if (!cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 9.0e15 ||
	    size->valuedouble != (double)(int64_t)size->valuedouble)
		return err_set(err, ERR_INVALID, "manifest: %s %s has no valid size", what, digest);
	d->size = (int64_t)size->valuedouble;
	d->media_type = dup_or_null(json_str(j, "mediaType", NULL));
	const cJSON *plat = cJSON_GetObjectItemCaseSensitive(j, "platform");
	if (cJSON_IsObject(plat)) {
		d->os = dup_or_null(json_str(plat, "os", NULL));
		d->arch = dup_or_null(json_str(plat, "architecture", NULL));
		d->variant = dup_or_null(json_str(plat, "variant", NULL));
	}
	return 0;
}

static int items_parse(const cJSON *arr, const char *what, struct oci_manifest *m,
                       char err[ERR_MSG_LEN])
{
	if (!cJSON_IsArray(arr))
		return err_set(err, ERR_INVALID, "manifest: '%s' is missing or not an array", what);
	int n = cJSON_GetArraySize(arr);
	if (n > OCI_LAYERS_MAX)
		return err_set(err, ERR_TOO_LARGE, "manifest: %d %s (at most %d)", n, what,
		               OCI_LAYERS_MAX);
	m->items = xcalloc(n ? (size_t)n : 1, sizeof(*m->items));
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		char name[48];
		snprintf(name, sizeof(name), "%s[%lld]", what, (long long)m->n_items);
		int rc = desc_parse(it, name, &m->items[m->n_items], err);
		m->n_items++;
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int image_check(struct oci_manifest *m, const cJSON *j, char err[ERR_MSG_LEN])
{
	int rc =
	    desc_parse(cJSON_GetObjectItemCaseSensitive(j, "config"), "config", &m->config, err);
	if (rc < 0)
		return rc;
	if ((rc = items_parse(cJSON_GetObjectItemCaseSensitive(j, "layers"), "layers", m, err)) < 0)
		return rc;
	for (int64_t i = 0; i < m->n_items; i++) {
		const char *mt = m->items[i].media_type;
		if (!oci_layer_type_supported(mt))
			return err_set(
			    err, ERR_UNSUPPORTED,
			    "manifest: layer %lld (%s) has media type '%s', which is not "
			    "a tar layer this runtime unpacks",
			    (long long)i, m->items[i].digest, mt ? mt : "(none)");
	}
	return 0;
}

int oci_manifest_parse(const char *p, size_t n, const char *content_type, struct oci_manifest *m,
                       char err[ERR_MSG_LEN])
{
	memset(m, 0, sizeof(*m));
	if (n > OCI_MANIFEST_MAX)
		return err_set(err, ERR_TOO_LARGE, "manifest: %zu bytes (at most %u)", n,
		               OCI_MANIFEST_MAX);
	char jerr[ERR_MSG_LEN];
	cJSON *j = json_parse(p, n, jerr);
	if (!j)
		return err_set(err, ERR_INVALID, "manifest: not JSON: %s", jerr);
	int rc = 0;
	if (!cJSON_IsObject(j) || json_i64(j, "schemaVersion", 0) != 2) {
		rc = err_set(err, ERR_UNSUPPORTED,
		             "manifest: schemaVersion %lld is not supported (only 2)",
		             (long long)json_i64(j, "schemaVersion", 0));
		goto out;
	}
	const char *mt = json_str(j, "mediaType", NULL);
	if (!mt && content_type && *content_type) {
		size_t k = strcspn(content_type, "; \t");
		m->media_type = xstrndup(content_type, k);
	} else {
		m->media_type = dup_or_null(mt);
	}
	mt = m->media_type;
	bool has_manifests = json_has(j, "manifests");
	bool is_index =
	    mt ? (strcmp(mt, OCI_MT_OCI_INDEX) == 0 || strcmp(mt, OCI_MT_DOCKER_LIST) == 0)
	       : has_manifests;
	bool is_image =
	    mt ? (strcmp(mt, OCI_MT_OCI_MANIFEST) == 0 || strcmp(mt, OCI_MT_DOCKER_MANIFEST) == 0)
	       : !has_manifests;
	if (is_index) {
		m->kind = OCI_MANIFEST_INDEX;
		rc = items_parse(cJSON_GetObjectItemCaseSensitive(j, "manifests"), "manifests", m,
		                 err);
	} else if (is_image) {
		m->kind = OCI_MANIFEST_IMAGE;
		rc = image_check(m, j, err);
	} else {
		rc =
		    err_set(err, ERR_UNSUPPORTED, "manifest: media type '%s' is not supported", mt);
	}
out:
	cJSON_Delete(j);
	if (rc < 0)
		oci_manifest_release(m);
	return rc;
}

void oci_manifest_release(struct oci_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	desc_release(&m->config);
	for (int64_t i = 0; i < m->n_items; i++)
		desc_release(&m->items[i]);
	free(m->items);
	memset(m, 0, sizeof(*m));
}

const struct oci_descriptor *oci_manifest_pick(const struct oci_manifest *idx, const char *os,
                                               const char *arch, char err[ERR_MSG_LEN])
{
	for (int64_t i = 0; i < idx->n_items; i++) {
		const struct oci_descriptor *d = &idx->items[i];
		if (d->os && d->arch && strcmp(d->os, os) == 0 && strcmp(d->arch, arch) == 0)
			return d;
	}
	char have[160] = "";
	size_t used = 0;
	for (int64_t i = 0; i < idx->n_items && used < sizeof(have) - 1; i++) {
		const struct oci_descriptor *d = &idx->items[i];
		int k = snprintf(have + used, sizeof(have) - used, "%s%s/%s", i ? ", " : "",
		                 d->os ? d->os : "?", d->arch ? d->arch : "?");
		used += k > 0 ? (size_t)k : 0;
	}
	err_set(err, ERR_NOT_FOUND, "image index has no %s/%s manifest (it has: %s)", os, arch,
	        idx->n_items ? have : "nothing");
	return NULL;
}
