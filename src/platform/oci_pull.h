/* oci_pull.h — pulling an image over the registry HTTP API v2 (OCI
 * distribution-spec 1.x) into the image store: resolve a tag to a manifest
 * digest (following an index or Docker manifest list to linux/amd64), then
 * fetch the config and every layer, each verified against its digest.
 *
 * Transport: libcurl, blocking — call it from a worker thread, never from the
 * event loop. Auth: anonymous or Basic, and the Bearer token challenge
 * (WWW-Authenticate: Bearer realm=...,service=...,scope=...). Loopback
 * registries (127.0.0.0/8, localhost, [::1]) are spoken to over http; other
 * hosts over https unless opts.insecure.
 *
 * Atomicity: every blob lands in the store whole and verified or not at all;
 * a failed pull leaves no partial file (blobs fetched whole before the failure
 * stay: they are valid and the next pull reuses them). */
#ifndef GPURUN_PLATFORM_OCI_PULL_H
#define GPURUN_PLATFORM_OCI_PULL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "platform/oci_manifest.h"
#include "platform/oci_ref.h"
#include "platform/oci_store.h"

#define OCI_CONFIG_MAX (8u << 20) /* bytes of image config JSON */

/* what: "manifest", "config" or "layer"; total < 0 when unknown. */
typedef void (*oci_pull_progress_fn)(void *data, const char *what, const char *digest, int64_t done,
                                     int64_t total);

struct oci_pull_opts {
	bool insecure;        /* plain http even for a non-loopback host */
	const char *username; /* NULL: anonymous */
	const char *password;
	const char *os;   /* "linux" */
	const char *arch; /* "amd64" */
	long connect_timeout_s;
	long stall_timeout_s; /* abort a transfer that moves no byte for this long */
	oci_pull_progress_fn progress;
	void *progress_data;
};

/* A pulled (or loaded) image: its platform manifest and that manifest's
 * digest, which names the image everywhere (revisions, the rootfs cache). */
struct oci_image {
	char digest[OCI_DIGEST_LEN + 1];
	struct oci_manifest manifest; /* kind == OCI_MANIFEST_IMAGE */
};

void oci_pull_opts_init(struct oci_pull_opts *o);

/* Pulls ref into st. A reference with a digest whose manifest and blobs are
 * all in the store already needs no network. */
int oci_pull(const struct oci_store *st, const struct oci_ref *ref, const struct oci_pull_opts *o,
             struct oci_image *img, char err[ERR_MSG_LEN]);
/* Loads an image already in the store by manifest digest (no network);
 * ERR_NOT_FOUND when the manifest or a blob is missing. */
int oci_image_load(const struct oci_store *st, const char *digest, struct oci_image *img,
                   char err[ERR_MSG_LEN]);
void oci_image_release(struct oci_image *img);

#endif
