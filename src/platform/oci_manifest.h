/* oci_manifest.h — image manifests and indexes as registries serve them:
 * Docker Image Manifest V2 schema 2 and manifest lists, OCI image-spec 1.x
 * manifests and indexes. Parsing only: no I/O.
 *
 * Ownership: a struct oci_manifest owns its descriptors and their strings;
 * oci_manifest_release() frees them. Every digest in a parsed manifest is a
 * valid sha256 digest and every size is >= 0 (anything else is an error). */
#ifndef GPURUN_PLATFORM_OCI_MANIFEST_H
#define GPURUN_PLATFORM_OCI_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "platform/oci_ref.h"

#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define OCI_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define OCI_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
/* The Accept header a pull sends: all four manifest kinds. */
#define OCI_MANIFEST_ACCEPT                                                                        \
	OCI_MT_OCI_INDEX ", " OCI_MT_OCI_MANIFEST ", " OCI_MT_DOCKER_LIST                          \
	                 ", " OCI_MT_DOCKER_MANIFEST

#define OCI_MANIFEST_MAX (4u << 20) /* bytes; registries cap manifests at 4 MiB */
#define OCI_LAYERS_MAX   1000

enum oci_manifest_kind { OCI_MANIFEST_IMAGE, OCI_MANIFEST_INDEX };

struct oci_descriptor {
	char *media_type;
	char digest[OCI_DIGEST_LEN + 1];
	int64_t size;
	char *os;      /* index entries: platform.os, else NULL */
	char *arch;    /* index entries: platform.architecture */
	char *variant; /* index entries: platform.variant, may be NULL */
};

struct oci_manifest {
	enum oci_manifest_kind kind;
	char *media_type;
	struct oci_descriptor config; /* images only */
	struct oci_descriptor *items; /* layers (images, in order: base first) or manifests */
	int64_t n_items;
};

/* content_type: the response's Content-Type (may be NULL); the document's own
 * mediaType wins when present. Refuses schema 1 and unknown layer types. */
int oci_manifest_parse(const char *p, size_t n, const char *content_type, struct oci_manifest *m,
                       char err[ERR_MSG_LEN]);
void oci_manifest_release(struct oci_manifest *m);
/* The index entry for os/arch (variant ignored); NULL with a message listing
 * the platforms the index has. */
const struct oci_descriptor *oci_manifest_pick(const struct oci_manifest *idx, const char *os,
                                               const char *arch, char err[ERR_MSG_LEN]);
/* True for a layer media type this runtime unpacks (tar, tar+gzip, tar+zstd). */
bool oci_layer_type_supported(const char *media_type);

#endif
