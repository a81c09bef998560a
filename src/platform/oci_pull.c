/* oci_pull.c — pull orchestration (see oci_pull.h): tag -> manifest (through
 * an index when there is one) -> config and layers into the store, every
 * byte sha256-verified. The HTTP side is oci_registry.c; unpacking is
 * oci_unpack.c. */
#include "platform/oci_pull.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "platform/oci_internal.h"

void oci_pull_opts_init(struct oci_pull_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->os = "linux";
	o->arch = "amd64";
	o->connect_timeout_s = 10;
	o->stall_timeout_s = 60;
}

void oci_image_release(struct oci_image *img)
{
	if (!img)
		return;
	oci_manifest_release(&img->manifest);
	memset(img, 0, sizeof(*img));
}

struct mem_sink {
	struct buf b;
	size_t max;
};

static int mem_write(void *data, const void *p, size_t n)
{
	struct mem_sink *s = data;
	if (s->b.len + n > s->max)
		return ERR_TOO_LARGE;
	buf_append(&s->b, p, n);
	return 0;
}

/* Fetches a manifest by tag or digest; its digest is the sha256 of the bytes
 * received (checked against name when name is a digest). Stored in st. */
static int fetch_manifest(struct oci_reg *r, const struct oci_store *st, const char *name,
                          struct oci_manifest *m, char digest[OCI_DIGEST_LEN + 1],
                          char err[ERR_MSG_LEN])
{
	struct mem_sink s = {BUF_INIT, OCI_MANIFEST_MAX};
	char ctype[128] = "";
	int rc = oci__reg_get(r, "manifests", name, OCI_MANIFEST_ACCEPT, mem_write, &s, ctype, err);
	if (rc == ERR_TOO_LARGE)
		rc = err_set(err, rc, "manifest %s: larger than %u bytes", name, OCI_MANIFEST_MAX);
	if (rc < 0)
		goto out;
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(s.b.data ? s.b.data : "", s.b.len, hex);
	snprintf(digest, OCI_DIGEST_LEN + 1, "sha256:%s", hex);
	if (oci_digest_valid(name) && strcmp(name, digest) != 0) {
		rc = err_set(err, ERR_DIGEST,
		             "manifest %s: the registry sent content hashing to %s; refused", name,
		             digest);
		goto out;
	}
	if ((rc = oci_manifest_parse(s.b.data ? s.b.data : "", s.b.len, ctype, m, err)) < 0)
		goto out;
	rc = oci_store_put_blob(st, digest, s.b.data ? s.b.data : "", s.b.len, err);
out:
	buf_release(&s.b);
	return rc;
}

struct blob_sink {
	struct oci_blob_writer w;
	const struct oci_pull_opts *o;
	const char *what;
	char *err;
};

static int blob_write(void *data, const void *p, size_t n)
{
	struct blob_sink *s = data;
	int rc = oci_blob_writer_write(&s->w, p, n, s->err);
	if (rc == 0 && s->o->progress)
		s->o->progress(s->o->progress_data, s->what, s->w.digest, s->w.written,
		               s->w.expect_size);
	return rc;
}

static int fetch_blob(struct oci_reg *r, const struct oci_store *st, const struct oci_pull_opts *o,
                      const char *what, int64_t index, const struct oci_descriptor *d,
                      char err[ERR_MSG_LEN])
{
	if (oci_store_has_blob(st, d->digest)) {
		if (o->progress)
			o->progress(o->progress_data, what, d->digest, d->size, d->size);
		return 0;
	}
	struct blob_sink s = {.o = o, .what = what, .err = err};
	int rc = oci_blob_writer_open(&s.w, st, d->digest, d->size, err);
	if (rc < 0)
		return rc;
	rc = oci__reg_get(r, "blobs", d->digest, NULL, blob_write, &s, NULL, err);
	if (rc < 0) {
		oci_blob_writer_abort(&s.w);
	} else {
		rc = oci_blob_writer_commit(&s.w, err);
	}
	if (rc < 0 && index >= 0) {
		char inner[ERR_MSG_LEN];
		snprintf(inner, sizeof(inner), "%s", err);
		err_set(err, rc, "%s %lld: %s", what, (long long)index, inner);
	}
	return rc;
}

/* Everything the manifest names is present (and was verified on the way in). */
static bool image_complete(const struct oci_store *st, const struct oci_manifest *m)
{
	if (!oci_store_has_blob(st, m->config.digest))
		return false;
	for (int64_t i = 0; i < m->n_items; i++)
		if (!oci_store_has_blob(st, m->items[i].digest))
			return false;
	return true;
}

static int resolve(struct oci_reg *r, const struct oci_store *st, const struct oci_ref *ref,
                   const struct oci_pull_opts *o, struct oci_image *img, char err[ERR_MSG_LEN])
{
	const char *name = ref->digest ? ref->digest : ref->tag;
	struct oci_manifest top;
	char digest[OCI_DIGEST_LEN + 1];
	int rc = fetch_manifest(r, st, name, &top, digest, err);
	if (rc < 0)
		return rc;
	if (top.kind == OCI_MANIFEST_IMAGE) {
		img->manifest = top;
		snprintf(img->digest, sizeof(img->digest), "%s", digest);
		return 0;
	}
	const struct oci_descriptor *d = oci_manifest_pick(&top, o->os, o->arch, err);
	if (!d) {
		oci_manifest_release(&top);
		return ERR_NOT_FOUND;
	}
	snprintf(img->digest, sizeof(img->digest), "%s", d->digest);
	oci_manifest_release(&top);
	rc = fetch_manifest(r, st, img->digest, &img->manifest, digest, err);
	if (rc == 0 && img->manifest.kind != OCI_MANIFEST_IMAGE) {
		oci_manifest_release(&img->manifest);
		rc = err_set(err, ERR_UNSUPPORTED, "manifest %s: an index inside an index",
		             img->digest);
	}
	return rc;
}

int oci_pull(const struct oci_store *st, const struct oci_ref *ref, const struct oci_pull_opts *o,
             struct oci_image *img, char err[ERR_MSG_LEN])
{
	memset(img, 0, sizeof(*img));
	char lerr[ERR_MSG_LEN];
	if (ref->digest && oci_image_load(st, ref->digest, img, lerr) == 0)
		return 0;
	struct oci_reg *r = oci__reg_new(ref, o);
	if (!r)
		return err_set(err, ERR_NOMEM, "registry: cannot start a curl session");
	int rc = resolve(r, st, ref, o, img, err);
	if (rc < 0)
		goto out;
	if (image_complete(st, &img->manifest))
		goto out;
	if ((rc = fetch_blob(r, st, o, "config", -1, &img->manifest.config, err)) < 0)
		goto out;
	for (int64_t i = 0; i < img->manifest.n_items && rc == 0; i++)
		rc = fetch_blob(r, st, o, "layer", i, &img->manifest.items[i], err);
out:
	oci__reg_free(r);
	if (rc < 0)
		oci_image_release(img);
	return rc;
}

int oci_image_load(const struct oci_store *st, const char *digest, struct oci_image *img,
                   char err[ERR_MSG_LEN])
{
	memset(img, 0, sizeof(*img));
	struct buf b = BUF_INIT;
	int rc = oci_store_read_blob(st, digest, OCI_MANIFEST_MAX, &b, err);
	if (rc < 0)
		goto out;
	if ((rc = oci_manifest_parse(b.data, b.len, NULL, &img->manifest, err)) < 0)
		goto out;
	if (img->manifest.kind != OCI_MANIFEST_IMAGE) {
		rc = err_set(err, ERR_UNSUPPORTED, "image %s: is an index, not an image manifest",
		             digest);
		goto out;
	}
	if (!image_complete(st, &img->manifest)) {
		rc = err_set(err, ERR_NOT_FOUND, "image %s: some of its blobs are not in the store",
		             digest);
		goto out;
	}
	snprintf(img->digest, sizeof(img->digest), "%s", digest);
out:
	buf_release(&b);
	if (rc < 0)
		oci_image_release(img);
	return rc;
}
