/* oci_ref.h — container image references: HOST[:PORT]/REPO[:TAG][@sha256:HEX],
 * with Docker's defaults (no host: docker.io; a one-part repo on docker.io:
 * library/REPO; no tag and no digest: latest). Grammar as the distribution
 * project's reference package states it (lowercase path components joined by
 * '.', '_', '__' or '-' runs; tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
 *
 * Ownership: a struct oci_ref owns its strings; oci_ref_release() frees them.
 * Only sha256 digests are accepted: the blob store is sha256-addressed. */
#ifndef GPURUN_PLATFORM_OCI_REF_H
#define GPURUN_PLATFORM_OCI_REF_H

#include <stdbool.h>

#include "base/err.h"

#define OCI_REF_MAX        512                    /* whole reference, characters */
#define OCI_DIGEST_LEN     (7 + 64)               /* "sha256:" + 64 hex */
#define OCI_DOCKER_HUB     "docker.io"            /* the name a reference without a host gets */
#define OCI_DOCKER_HUB_API "registry-1.docker.io" /* where docker.io is served */

struct oci_ref {
	char *host;   /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *repo;   /* "library/busybox", "team/app" */
	char *tag;    /* "latest" by default; NULL when only a digest was given */
	char *digest; /* "sha256:<64 lowercase hex>" or NULL */
};

/* Parses s; on error r is left empty and err says which part is wrong. */
int oci_ref_parse(const char *s, struct oci_ref *r, char err[ERR_MSG_LEN]);
void oci_ref_release(struct oci_ref *r);
/* "HOST/REPO:TAG@DIGEST" with every default spelled out. xmalloc'd. */
char *oci_ref_format(const struct oci_ref *r);
/* The host the registry API is reached at (docker.io -> registry-1.docker.io). */
const char *oci_ref_api_host(const struct oci_ref *r);
/* True for localhost, 127.0.0.0/8 and [::1], with or without a port: such
 * registries are spoken to over plain http unless told otherwise. */
bool oci_ref_host_is_loopback(const char *host);
/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool oci_digest_valid(const char *d);

#endif
