/* names.c — Ollama model-name parsing, validation, display and the manifest
 * tree walk (see names.h). Follows ollama/ollama:types/model/name.go
 * (ParseNameBare, cutPromised, isValidPart, DisplayShortest, Filepath). */
#include "ollama/names.h"

#include "base/file.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum part_kind { PART_HOST, PART_NAMESPACE, PART_MODEL, PART_TAG };

static bool alnum_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool part_valid(enum part_kind kind, const char *s)
{
	size_t n = strlen(s);
	size_t max = kind == PART_HOST ? NAMES_HOST_MAX : NAMES_PART_MAX;
	if (n < 1 || n > max || !alnum_(s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (alnum_(c) || c == '-')
			continue;
		if (c == '.' && kind != PART_NAMESPACE)
			continue;
		if (c == ':' && kind == PART_HOST)
			continue;
		return false;
	}
	return true;
}

bool names_valid(const struct model_name *n)
{
	return part_valid(PART_HOST, n->host) && part_valid(PART_NAMESPACE, n->ns) &&
	       part_valid(PART_MODEL, n->model) && part_valid(PART_TAG, n->tag) &&
	       (!strcmp(n->scheme, "https") || !strcmp(n->scheme, "http"));
}

/* Copies a part; false when it does not fit (the name is then invalid). */
static bool put(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* Ollama's cutPromised: split at the last sep; an empty side is a missing
 * part, which makes the whole name invalid. */
static bool cut_last(char *s, char sep, char **after, bool *bad)
{
	char *p = strrchr(s, sep);
	if (!p)
		return false;
	*p = '\0';
	*after = p + 1;
	if (!s[0] || !p[1])
		*bad = true;
	return true;
}

static int split(char *s, struct model_name *out)
{
	bool bad = false;
	char *tag = NULL, *model = NULL, *ns = NULL, *host = NULL;
	char *colon = strrchr(s, ':'), *slash = strrchr(s, '/');
	if (colon && (!slash || colon > slash))
		cut_last(s, ':', &tag, &bad);
	if (!cut_last(s, '/', &model, &bad)) {
		model = s;
	} else if (!cut_last(s, '/', &ns, &bad)) {
		ns = s;
	} else {
		char *sep = strstr(s, "://");
		host = s;
		if (sep) {
			*sep = '\0';
			if (!put(out->scheme, sizeof out->scheme, s))
				bad = true;
			host = sep + 3;
		}
	}
	if (bad)
		return ERR_INVALID;
	if ((tag && !put(out->tag, sizeof out->tag, tag)) ||
	    !put(out->model, sizeof out->model, model) ||
	    (ns && !put(out->ns, sizeof out->ns, ns)) ||
	    (host && !put(out->host, sizeof out->host, host)))
		return ERR_INVALID;
	return 0;
}

int names_parse(const char *s, struct model_name *out, char err[ERR_MSG_LEN])
{
	memset(out, 0, sizeof *out);
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > NAMES_STR_MAX + 16)
		return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
	char *copy = xstrndup(s, len);
	int rc = split(copy, out);
	free(copy);
	if (rc < 0)
		goto out_invalid;
	if (!out->scheme[0])
		strcpy(out->scheme, "https");
	if (!out->host[0])
		strcpy(out->host, NAMES_DEFAULT_HOST);
	if (!out->ns[0])
		strcpy(out->ns, NAMES_DEFAULT_NAMESPACE);
	if (!out->tag[0])
		strcpy(out->tag, NAMES_DEFAULT_TAG);
	if (names_valid(out))
		return 0;
out_invalid:
	memset(out, 0, sizeof *out);
	return err_set(err, ERR_INVALID, NAMES_ERR_INVALID);
}

char *names_full(const struct model_name *n, char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
	return out;
}

char *names_shortest(const struct model_name *n, char *out, size_t size)
{
	if (strcasecmp(n->host, NAMES_DEFAULT_HOST) != 0)
		snprintf(out, size, "%s/%s/%s:%s", n->host, n->ns, n->model, n->tag);
	else if (strcasecmp(n->ns, NAMES_DEFAULT_NAMESPACE) != 0)
		snprintf(out, size, "%s/%s:%s", n->ns, n->model, n->tag);
	else
		snprintf(out, size, "%s:%s", n->model, n->tag);
	return out;
}

char *names_repository(const struct model_name *n, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", n->ns, n->model);
	return out;
}

bool names_equal_fold(const struct model_name *a, const struct model_name *b)
{
	return !strcasecmp(a->host, b->host) && !strcasecmp(a->ns, b->ns) &&
	       !strcasecmp(a->model, b->model) && !strcasecmp(a->tag, b->tag);
}

char *names_rel_path(const struct model_name *n, char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s/%s", n->host, n->ns, n->model, n->tag);
	return out;
}

int names_from_rel_path(const char *rel, struct model_name *out)
{
	memset(out, 0, sizeof *out);
	char *parts[4];
	char *copy = xstrdup(rel);
	char *p = copy;
	int rc = ERR_INVALID;
	for (int i = 0; i < 4; i++) {
		parts[i] = p;
		char *slash = strchr(p, '/');
		if ((i < 3) != (slash != NULL))
			goto out_copy;
		if (slash) {
			*slash = '\0';
			p = slash + 1;
		}
	}
	strcpy(out->scheme, "https");
	if (put(out->host, sizeof out->host, parts[0]) && put(out->ns, sizeof out->ns, parts[1]) &&
	    put(out->model, sizeof out->model, parts[2]) &&
	    put(out->tag, sizeof out->tag, parts[3]) && names_valid(out))
		rc = 0;
out_copy:
	free(copy);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}

/* ---- the manifests/STAR/STAR/STAR/STAR walk ---- */

struct name_vec {
	struct model_name *v;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of dir, without "." and "..". *out xmalloc'd. */
static int read_sorted(const char *dir, char ***out, size_t *n)
{
	DIR *d = opendir(dir);
	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof **out, cmp_str);
	return 0;
}

static void add_leaf(struct name_vec *vec, const char *path, const char *rel)
{
	struct stat st;
	struct model_name name;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	if (names_from_rel_path(rel, &name) < 0)
		return;
	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 16;
		vec->v = xrealloc(vec->v, vec->cap * sizeof *vec->v);
	}
	vec->v[vec->n++] = name;
}

static int walk(struct name_vec *vec, const char *dir, const char *rel, int depth)
{
	char **ents;
	size_t n;
	int rc = read_sorted(dir, &ents, &n);
	for (size_t i = 0; i < n; i++) {
		char *path = file_path_join(dir, ents[i]);
		char *sub = rel[0] ? file_path_join(rel, ents[i]) : xstrdup(ents[i]);
		if (depth == 3)
			add_leaf(vec, path, sub);
		else if (ents[i][0] != '.' && rc == 0)
			rc = walk(vec, path, sub, depth + 1);
		free(sub);
		free(path);
		free(ents[i]);
	}
	free(ents);
	return depth == 0 ? rc : 0; /* an unreadable subfolder hides only itself */
}

int names_list(const char *manifests_dir, struct model_name **out, size_t *n)
{
	struct name_vec vec = {NULL, 0, 0};
	int rc = walk(&vec, manifests_dir, "", 0);
	if (rc < 0) {
		free(vec.v);
		*out = NULL;
		*n = 0;
		return rc;
	}
	*out = vec.v;
	*n = vec.n;
	return 0;
}
