/* names.h — Ollama model names: "[scheme://][host/][namespace/]model[:tag]".
 * Parsing follows Ollama's types/model/name.go (reference ollama-api.md §1.1,
 * §3.1): the tag is cut at the last ':' after the last '/', then model,
 * namespace and host from the right; missing parts take the defaults
 * registry.ollama.ai / library / latest (scheme https). Validation is
 * Ollama's part grammar. No I/O here except names_list (a directory walk).
 *
 * Invariants: a struct model_name filled by names_parse is valid (every part
 * non-empty and within its grammar) and NUL-terminated; it owns no heap
 * memory, so it may be copied by value. Case is kept as written: the on-disk
 * path uses it verbatim, and names_equal_fold compares the way Ollama matches
 * a request against existing manifests (ASCII case-insensitive). */
#ifndef GPURUN_OLLAMA_NAMES_H
#define GPURUN_OLLAMA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define NAMES_DEFAULT_HOST      "registry.ollama.ai"
#define NAMES_DEFAULT_NAMESPACE "library"
#define NAMES_DEFAULT_TAG       "latest"
#define NAMES_HOST_MAX          350 /* bytes, Ollama's limit for the host part */
#define NAMES_PART_MAX          80  /* bytes, for namespace, model and tag */
/* Enough for "host/namespace/model:tag" and for "host/namespace/model/tag". */
#define NAMES_STR_MAX (NAMES_HOST_MAX + 3 * NAMES_PART_MAX + 4)

/* The error text Ollama returns for an unparsable name (400). */
#define NAMES_ERR_INVALID "invalid model name"

struct model_name {
	char scheme[8]; /* "https" (default) or "http" when the name said so */
	char host[NAMES_HOST_MAX + 1];
	char ns[NAMES_PART_MAX + 1];
	char model[NAMES_PART_MAX + 1];
	char tag[NAMES_PART_MAX + 1];
};

/* Parses s with Ollama's rules and fills defaults. ERR_INVALID with
 * NAMES_ERR_INVALID in err (may be NULL) when a part is empty, too long or
 * has a character its grammar forbids, or the scheme is not http/https. */
int names_parse(const char *s, struct model_name *out, char err[ERR_MSG_LEN]);

/* True when every part satisfies Ollama's grammar (host [A-Za-z0-9_]
 * then [A-Za-z0-9_.:-], 1..350; namespace [A-Za-z0-9_] then [A-Za-z0-9_-],
 * 1..80; model and tag [A-Za-z0-9_] then [A-Za-z0-9_.-], 1..80). */
bool names_valid(const struct model_name *n);

/* "host/namespace/model:tag" (Ollama's Name.String). Returns out. */
char *names_full(const struct model_name *n, char *out, size_t size);
/* Ollama's DisplayShortest: drops the default host (and then the default
 * namespace), always keeps the tag: "gemma3:latest", "mattw/x:latest",
 * "127.0.0.1:5000/library/stories260k:latest". Returns out. */
char *names_shortest(const struct model_name *n, char *out, size_t size);
/* "namespace/model", the repository part of registry URLs. Returns out. */
char *names_repository(const struct model_name *n, char *out, size_t size);

/* ASCII case-insensitive equality of host, namespace, model and tag. */
bool names_equal_fold(const struct model_name *a, const struct model_name *b);

/* "host/namespace/model/tag", the manifest's path below manifests/.
 * Returns out. */
char *names_rel_path(const struct model_name *n, char *out, size_t size);
/* The inverse: a path below manifests/ ("h/ns/m/t") to a name; ERR_INVALID
 * when it does not have four valid parts. */
int names_from_rel_path(const char *rel, struct model_name *out);

/* Lists every valid name under manifests_dir (Ollama globs
 * manifests/STAR/STAR/STAR/STAR): regular files four levels down whose parts
 * form a valid name. Entries that are not (temporary files begin with '.',
 * which no valid tag does) are skipped. The result is sorted by path, like
 * Go's filepath.Glob; *out is xmalloc'd (free() it), *n its length. A missing
 * manifests_dir lists nothing. -errno on an unreadable directory. */
int names_list(const char *manifests_dir, struct model_name **out, size_t *n);

#endif
