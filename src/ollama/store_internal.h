/* store_internal.h — the store's private state and helpers shared by
 * store.c, store_blob.c, store_manifest.c and store_model.c. */
#ifndef GPURUN_OLLAMA_STORE_INTERNAL_H
#define GPURUN_OLLAMA_STORE_INTERNAL_H

#include <pthread.h>

#include "ollama/store.h"

struct store_pin_slot {
	char digest[STORE_DIGEST_LEN + 1]; /* normalized "sha256:<hex>" */
	int count;
};

struct store {
	char *root;
	char *blobs;          /* root/blobs */
	char *manifests;      /* root/manifests */
	pthread_mutex_t lock; /* manifest writes, deletes, adoption, GC, pins */
	struct store_pin_slot *pins;
	size_t n_pins, cap_pins;
};

/* Writes data to a '.'-named temporary file in path's folder, fsyncs it,
 * renames it over path and fsyncs the folder. */
int store__write_atomic(const char *path, const void *data, size_t len, char err[ERR_MSG_LEN]);
/* True when digest (normalized) is pinned. Caller holds s->lock. */
bool store__pinned(const struct store *s, const char *digest);
/* Reads a blob into a NUL-terminated heap string, at most max bytes. */
int store__read_blob(const struct store *s, const char *digest, size_t max, char **out,
                     char err[ERR_MSG_LEN]);
/* Adds every digest referenced by any manifest to *set (xmalloc'd array of
 * normalized digests, *n entries). -errno / ERR_INVALID when some manifest
 * cannot be read or parsed. Caller holds s->lock. */
int store__referenced(struct store *s, char (**set)[STORE_DIGEST_LEN + 1], size_t *n);

#endif
