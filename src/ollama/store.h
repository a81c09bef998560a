/* store.h — the model store, in Ollama's on-disk layout (reference
 * ollama-api.md §3.3, §3.5), so an existing Ollama store works as is:
 *
 *   ROOT/manifests/<host>/<namespace>/<model>/<tag>   Docker v2 schema 2 JSON
 *   ROOT/blobs/sha256-<64 hex>                         content-addressed bytes
 *
 * ROOT is GPURUN_MODELS, else OLLAMA_MODELS, else $GPURUN_HOME/models, else
 * ~/.gpurun/models. No network here (registry.h pulls and pushes) and no
 * template parsing (template.h).
 *
 * Invariants
 * - Every write is atomic: blobs and manifests are written to a temporary
 *   file in the same folder (named with a leading '.', which no valid blob or
 *   tag name has), fsynced, renamed into place, and the folder fsynced. A
 *   failure or crash leaves the store exactly as it was.
 * - A blob is only ever renamed into place after its sha256 was checked
 *   against its name.
 * - A manifest is only written when every blob it references exists.
 * - Thread-safety: a struct store may be used from many threads at once.
 *   Manifest writes, copies, deletes, blob adoption, garbage collection and
 *   pins are serialized by one internal mutex; reads take no lock (files are
 *   replaced by rename, so a reader sees the old or the new file). Blobs a
 *   running pull or create needs are pinned (store_pin): garbage collection
 *   never removes a pinned blob.
 * Ownership: structs filled by store_* are owned by the caller and released
 * with their _release/_free function; strings in them are heap copies. */
#ifndef GPURUN_OLLAMA_STORE_H
#define GPURUN_OLLAMA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ollama/names.h"

#define STORE_MT_MANIFEST     "application/vnd.docker.distribution.manifest.v2+json"
#define STORE_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define STORE_MT_CONFIG       "application/vnd.docker.container.image.v1+json"
#define STORE_MT_MODEL        "application/vnd.ollama.image.model"
#define STORE_MT_TEMPLATE     "application/vnd.ollama.image.template"
#define STORE_MT_PROMPT       "application/vnd.ollama.image.prompt" /* legacy template */
#define STORE_MT_SYSTEM       "application/vnd.ollama.image.system"
#define STORE_MT_PARAMS       "application/vnd.ollama.image.params"
#define STORE_MT_LICENSE      "application/vnd.ollama.image.license"
#define STORE_MT_MESSAGES     "application/vnd.ollama.image.messages"
#define STORE_MT_PROJECTOR    "application/vnd.ollama.image.projector"
#define STORE_MT_ADAPTER      "application/vnd.ollama.image.adapter"

/* "sha256:" + 64 hex digits. */
#define STORE_DIGEST_LEN 71
/* Limits on what is read into memory from a blob (text layers, config). */
#define STORE_TEXT_MAX (8u << 20)
/* Manifests larger than this are refused (from disk or from a registry). */
#define STORE_MANIFEST_MAX (4u << 20)

/* ---- digests ---- */

/* True for "sha256:<64 hex>" or "sha256-<64 hex>" (hex of either case, as
 * Ollama's ^sha256[:-][0-9a-fA-F]{64}$). */
bool store_digest_valid(const char *digest);
/* Copies a valid digest in its "sha256:<hex>" form; ERR_INVALID otherwise. */
int store_digest_normalize(const char *digest, char out[STORE_DIGEST_LEN + 1]);

/* ---- manifests (the JSON document) ---- */

struct store_layer {
	char *media_type;                  /* never NULL after a parse */
	char digest[STORE_DIGEST_LEN + 1]; /* "" for an absent config */
	int64_t size;                      /* bytes */
	char *from;                        /* optional, NULL when absent */
	char *name;                        /* optional, NULL when absent */
};

struct store_manifest {
	int schema_version; /* 2 */
	char *media_type;   /* STORE_MT_MANIFEST unless the registry said otherwise */
	struct store_layer config;
	struct store_layer *layers; /* n_layers, in manifest order */
	size_t n_layers;
};

/* An empty schema-2 manifest (no config, no layers). */
void store_manifest_init(struct store_manifest *m);
void store_manifest_release(struct store_manifest *m);
/* Parses an untrusted manifest; every digest and size is checked. */
int store_manifest_parse(const char *json, size_t len, struct store_manifest *out,
                         char err[ERR_MSG_LEN]);
/* Appends the manifest as Go's json.Marshal of Ollama's Manifest writes it
 * (compact; schemaVersion, mediaType, config, layers; from/name omitted when
 * empty), so its sha256 matches what Ollama computes for the same model. */
void store_manifest_serialize(const struct store_manifest *m, struct buf *out);
/* Appends a layer (copies the strings). Use for config with
 * store_manifest_set_config. */
void store_manifest_add_layer(struct store_manifest *m, const char *media_type, const char *digest,
                              int64_t size);
void store_manifest_set_config(struct store_manifest *m, const char *media_type, const char *digest,
                               int64_t size);
/* Sum of layer sizes plus the config size (Ollama's Manifest.Size);
 * INT64_MAX when the sum would overflow. */
int64_t store_manifest_size(const struct store_manifest *m);
/* The first layer with that media type, or NULL. */
const struct store_layer *store_manifest_find(const struct store_manifest *m,
                                              const char *media_type);

/* ---- the store ---- */

struct store;

/* The root the environment selects (see the top of this file) into out. */
int store_root_default(char *out, size_t size);
/* Opens (creating manifests/ and blobs/ when missing) the store at root, or at
 * store_root_default() when root is NULL. */
int store_open(const char *root, struct store **out, char err[ERR_MSG_LEN]);
void store_free(struct store *s);
const char *store_root(const struct store *s);
const char *store_blobs_dir(const struct store *s);
const char *store_manifests_dir(const struct store *s);

/* ROOT/blobs/sha256-<hex> for a valid digest (either form), else NULL.
 * xmalloc'd. */
char *store_blob_path(const struct store *s, const char *digest);
/* ROOT/blobs/sha256-<hex>-partial: where a download in progress lives. */
char *store_blob_partial_path(const struct store *s, const char *digest);
/* ROOT/manifests/<host>/<ns>/<model>/<tag>. xmalloc'd. */
char *store_manifest_path(const struct store *s, const struct model_name *n);
bool store_blob_exists(const struct store *s, const char *digest);
/* Size in bytes of an existing blob; -ENOENT when missing. */
int store_blob_size(const struct store *s, const char *digest, int64_t *size);

/* Creating blobs. A writer streams bytes into a temporary file in blobs/
 * while hashing them; commit checks the digest (when one was expected; error
 * `digest mismatch, expected "sha256:A", got "sha256:B"`, ERR_DIGEST), fsyncs
 * and renames the file into place (an existing blob of that digest is kept).
 * A writer is used by one thread at a time. */
struct store_blob_writer;
int store_blob_writer_new(struct store *s, const char *expect_digest,
                          struct store_blob_writer **out, char err[ERR_MSG_LEN]);
int store_blob_writer_write(struct store_blob_writer *w, const void *p, size_t n,
                            char err[ERR_MSG_LEN]);
/* Frees w whatever the result; digest_out (may be NULL) gets "sha256:<hex>". */
int store_blob_writer_commit(struct store_blob_writer *w, char digest_out[STORE_DIGEST_LEN + 1],
                             char err[ERR_MSG_LEN]);
/* Discards the temporary file and frees w. NULL is a no-op. */
void store_blob_writer_abort(struct store_blob_writer *w);
/* One-shot forms: from memory, and from a file (copied, not moved). */
int store_blob_put(struct store *s, const void *p, size_t n, const char *expect_digest,
                   char digest_out[STORE_DIGEST_LEN + 1], char err[ERR_MSG_LEN]);
int store_blob_put_file(struct store *s, const char *path, const char *expect_digest,
                        char digest_out[STORE_DIGEST_LEN + 1], int64_t *size,
                        char err[ERR_MSG_LEN]);
/* Moves a file already verified to hold digest's bytes (it must be on the
 * store's filesystem, e.g. a finished partial download) into place as that
 * blob. If the blob already exists the file is removed instead. */
int store_blob_adopt(struct store *s, const char *digest, const char *path, char err[ERR_MSG_LEN]);

/* Pins keep blobs safe from garbage collection while a pull or create that
 * will reference them runs. Counted: pin twice, unpin twice. */
void store_pin(struct store *s, const char *digest);
void store_unpin(struct store *s, const char *digest);

/* ---- manifests in the store ---- */

/* The existing manifest name equal to n ignoring case (Ollama's
 * getExistingName), else n itself. */
void store_resolve(struct store *s, const struct model_name *n, struct model_name *out);
/* Reads and parses n's manifest. ERR_NOT_FOUND when there is none.
 * digest_hex (may be NULL) gets the sha256 of the file's bytes. */
int store_manifest_read(struct store *s, const struct model_name *n, struct store_manifest *out,
                        char digest_hex[65], char err[ERR_MSG_LEN]);
/* Writes n's manifest atomically after checking every referenced blob
 * exists (ERR_NOT_FOUND otherwise). When previous is not NULL it receives the
 * manifest this write replaced (empty when there was none). */
int store_manifest_write(struct store *s, const struct model_name *n,
                         const struct store_manifest *m, struct store_manifest *previous,
                         char err[ERR_MSG_LEN]);

/* ---- models ---- */

struct store_entry {
	struct model_name name;
	char digest[65];     /* sha256 hex of the manifest file */
	int64_t size;        /* store_manifest_size */
	int64_t modified_ns; /* manifest mtime, wall-clock ns */
	struct store_manifest manifest;
	char *config_json; /* the config blob, NULL if absent/unreadable */
};

/* Every valid manifest, most recently modified first (Ollama's /api/tags
 * order); unreadable or corrupt manifests are skipped with a warning. */
int store_list(struct store *s, struct store_entry **out, size_t *n);
void store_entries_free(struct store_entry *e, size_t n);

struct store_model {
	struct store_entry entry;
	char *model_path;    /* the GGUF (model layer) blob, NULL when none */
	char *parent;        /* the model layer's "from", NULL when none */
	char *template_text; /* template (or legacy prompt) layer, NULL when none */
	char *system_text;
	char *params_json;   /* JSON object of options, NULL when none */
	char *messages_json; /* JSON array of messages, NULL when none */
	char **licenses;     /* n_licenses texts */
	size_t n_licenses;
	char **projectors; /* blob paths */
	size_t n_projectors;
	char **adapters; /* blob paths */
	size_t n_adapters;
};

/* Loads everything the server needs to know about n (Ollama's GetModel).
 * ERR_NOT_FOUND when n has no manifest; an error naming the digest when a
 * layer's blob is missing or a text layer is too large. */
int store_model_load(struct store *s, const struct model_name *n, struct store_model *out,
                     char err[ERR_MSG_LEN]);
void store_model_release(struct store_model *m);

/* Writes dst's manifest with the bytes of src's (same blobs). ERR_NOT_FOUND
 * when src has none. */
int store_copy(struct store *s, const struct model_name *src, const struct model_name *dst,
               char err[ERR_MSG_LEN]);
/* Removes n's manifest, prunes the folders it leaves empty, then removes the
 * blobs of n no longer referenced by any manifest (Ollama's Manifest.Remove
 * then RemoveLayers). ERR_NOT_FOUND when n has no manifest. */
int store_delete(struct store *s, const struct model_name *n, char err[ERR_MSG_LEN]);
/* Removes each listed blob that no manifest references and no pin holds.
 * When any manifest cannot be read, nothing is removed (safety first). */
int store_remove_unused(struct store *s, const char *const *digests, size_t n);
/* Start-up garbage collection (Ollama's PruneLayers): removes every blob no
 * manifest references, and stray temporary or partial files older than
 * keep_ns nanoseconds. *removed (may be NULL) counts removed files. */
int store_prune(struct store *s, int64_t keep_ns, int *removed);

#endif
