/* registry.h — pulling and pushing models over the Docker Registry HTTP API
 * v2 (reference ollama-api.md §1.8, §3.2-3.4, §3.6), on libcurl.
 *
 * Pull: GET the manifest (Docker v2 and OCI Accept types), then each layer and
 * the config blob in manifest order. A blob answered with a redirect (to a
 * pre-signed URL on any host) or with a plain 200 body (registry:2 on disk,
 * where Ollama fails, its issue #7244) both work. Bearer-token challenges
 * (WWW-Authenticate: Bearer realm=,service=,scope=) are answered with an
 * anonymous token, or with basic credentials when given. Large blobs are
 * fetched in up to 16 ranged parts in parallel into
 * blobs/sha256-<hex>-partial, with one small JSON sidecar per part
 * (-partial-N: {"N","Offset","Size","Completed"}, Ollama's format), so an
 * interrupted pull resumes where it stopped. Every blob is sha256-checked
 * before it is renamed into place; the manifest is written last. A failed or
 * cancelled pull leaves no new blob and no manifest (only the partial files,
 * for the next attempt).
 *
 * Push: HEAD each blob (present: skipped), else POST blobs/uploads/ and one
 * monolithic PUT ?digest=; then PUT the manifest.
 *
 * Progress: the callback receives Ollama's exact stream (status strings in
 * registry_pull / registry_push below), on the calling thread. While a blob
 * downloads its line repeats every progress_ms; its last line always has
 * completed == total.
 *
 * Thread-safety: one struct registry serves any number of concurrent pulls and
 * pushes from different threads. Concurrent pulls of the same blob share one
 * download (a per-digest in-flight table): each pull waits for it and sees the
 * same progress; the download stops only when every pull waiting for it has
 * been cancelled. */
#ifndef GPURUN_OLLAMA_REGISTRY_H
#define GPURUN_OLLAMA_REGISTRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ollama/names.h"
#include "ollama/store.h"

/* One line of the progress stream (Ollama's api.ProgressResponse). */
struct registry_progress {
	const char *status; /* "pulling manifest", "pulling 0123456789ab", ... */
	const char *digest; /* "sha256:<hex>" on layer lines, else NULL */
	int64_t total;      /* bytes; 0 means absent (omitempty) */
	int64_t completed;  /* bytes; 0 means absent (omitempty) */
};
typedef void (*registry_progress_fn)(const struct registry_progress *p, void *ud);

/* Appends the line as Ollama writes it, without the newline:
 * {"status":"pulling 0123456789ab","digest":"sha256:...","total":9,"completed":3}
 * (digest, total, completed omitted when empty or 0). */
void registry_progress_json(const struct registry_progress *p, struct buf *out);

struct registry_config {
	int max_parts;         /* parallel ranged parts per blob: 16 */
	int64_t part_min;      /* part size = total/max_parts clamped to [part_min, */
	int64_t part_max;      /*   part_max]: 100 MB, 1000 MB (decimal, as Ollama) */
	int max_retries;       /* per part, after the first try: 6 */
	int retry_base_ms;     /* back-off before try k is retry_base_ms << (k-1): 1000 */
	int stall_s;           /* a part that receives nothing this long is retried: 30 */
	int connect_timeout_s; /* 30 */
	int progress_ms;       /* 60, Ollama's ticker */
	char user_agent[128];  /* "gpurun/0.1 (amd64 linux)" */
};

void registry_config_default(struct registry_config *c);

struct registry;

/* The store must outlive the registry. cfg NULL = defaults. */
int registry_new(struct store *s, const struct registry_config *cfg, struct registry **out);
/* Stops background downloads nobody waits for and frees r. Call it after every
 * registry_pull/registry_push has returned. NULL is a no-op. */
void registry_free(struct registry *r);

struct registry_request {
	bool insecure;                 /* plain http (loopback registries) */
	const atomic_bool *cancel;     /* set by the caller (client disconnect); may be NULL */
	registry_progress_fn progress; /* may be NULL */
	void *progress_ud;
	const char *username; /* optional basic credentials for token realms */
	const char *password;
};

/* Pulls name (scheme https unless insecure or the name said http) into the
 * store. Stream: "pulling manifest"; per layer then config "pulling <12 hex>"
 * (digest, total, completed; one line with completed == total for a blob
 * already present); "verifying sha256 digest"; "writing manifest";
 * "removing unused layers" only when the tag pointed at layers the new
 * manifest no longer uses; "success". Errors (err holds Ollama's text):
 *   ERR_NOT_FOUND  "pull model manifest: file does not exist"
 *   ERR_DIGEST     "digest mismatch, file must be downloaded again: want
 *                   sha256:..., got sha256:..."
 *   ERR_AUTH       "unauthorized: access denied"
 *   ERR_PROTOCOL   "pull model manifest: <status>: <registry body>", ...
 *   ERR_TIMEOUT    "max retries exceeded: <cause>"
 *   ERR_CANCELLED  "context canceled"
 *   ERR_INVALID    "insecure protocol http" */
int registry_pull(struct registry *r, const struct model_name *name,
                  const struct registry_request *req, char err[ERR_MSG_LEN]);

/* Pushes the local model name to its registry. Stream: "retrieving manifest";
 * per layer then config "pushing <12 hex>" (digest, total, completed);
 * "pushing manifest"; "success". ERR_NOT_FOUND when name is not in the store
 * (after the status "couldn't retrieve manifest", as Ollama). */
int registry_push(struct registry *r, const struct model_name *name,
                  const struct registry_request *req, char err[ERR_MSG_LEN]);

#endif
