/* oci_config.c — image config parsing, the image User resolved against the
 * rootfs' passwd/group files, and the process argv rules (see oci_config.h).
 * The runtime config.json itself is written by oci_rtspec.c. */
#include "platform/oci_config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "base/mem.h"
#include "platform/oci_internal.h"

#define PASSWD_MAX (4u << 20)

static int strv_from_json(const cJSON *arr, const char *what, struct spec_strv *v,
                          char err[ERR_MSG_LEN])
{
	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr))
		return err_set(err, ERR_INVALID, "image config: %s is not an array", what);
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it))
			return err_set(err, ERR_INVALID, "image config: %s has a non-string item",
			               what);
		if (v->n >= SPEC_ARGS_MAX)
			return err_set(err, ERR_TOO_LARGE, "image config: %s has too many items",
			               what);
		spec_strv_push(v, it->valuestring);
	}
	return 0;
}

static int ports_from_json(const cJSON *obj, struct oci_image_config *c)
{
	if (!cJSON_IsObject(obj))
		return 0;
	c->ports = xcalloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(int));
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		int64_t port;
		char num[16];
		const char *slash = strchr(it->string, '/');
		size_t n = slash ? (size_t)(slash - it->string) : strlen(it->string);
		if (n == 0 || n >= sizeof(num) || (slash && strcmp(slash, "/tcp") != 0))
			continue;
		memcpy(num, it->string, n);
		num[n] = 0;
		if (str_to_i64(num, &port) && port > 0 && port < 65536)
			c->ports[c->n_ports++] = (int)port;
	}
	return 0;
}

static char *str_or_null(const cJSON *obj, const char *key)
{
	const char *s = json_str(obj, key, NULL);
	return s && *s ? xstrdup(s) : NULL;
}

int oci_image_config_parse(const char *p, size_t n, struct oci_image_config *c,
                           char err[ERR_MSG_LEN])
{
	memset(c, 0, sizeof(*c));
	char jerr[ERR_MSG_LEN];
	cJSON *j = json_parse(p, n, jerr);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return err_set(err, ERR_INVALID, "image config: not a JSON object%s%s",
		               j ? "" : ": ", j ? "" : jerr);
	}
	c->os = str_or_null(j, "os");
	c->arch = str_or_null(j, "architecture");
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
	int rc = 0;
	if (cJSON_IsObject(cfg)) {
		if ((rc = strv_from_json(cJSON_GetObjectItemCaseSensitive(cfg, "Entrypoint"),
		                         "Entrypoint", &c->entrypoint, err)) < 0 ||
		    (rc = strv_from_json(cJSON_GetObjectItemCaseSensitive(cfg, "Cmd"), "Cmd",
		                         &c->cmd, err)) < 0 ||
		    (rc = strv_from_json(cJSON_GetObjectItemCaseSensitive(cfg, "Env"), "Env",
		                         &c->env, err)) < 0)
			goto out;
		c->working_dir = str_or_null(cfg, "WorkingDir");
		c->user = str_or_null(cfg, "User");
		ports_from_json(cJSON_GetObjectItemCaseSensitive(cfg, "ExposedPorts"), c);
	}
	if (c->os && strcmp(c->os, "linux") != 0)
		rc = err_set(err, ERR_UNSUPPORTED, "image config: os '%s' (only linux runs here)",
		             c->os);
out:
	cJSON_Delete(j);
	if (rc < 0)
		oci_image_config_release(c);
	return rc;
}

void oci_image_config_release(struct oci_image_config *c)
{
	if (!c)
		return;
	spec_strv_release(&c->entrypoint);
	spec_strv_release(&c->cmd);
	spec_strv_release(&c->env);
	free(c->working_dir);
	free(c->user);
	free(c->ports);
	free(c->os);
	free(c->arch);
	memset(c, 0, sizeof(*c));
}

/* Reads rootfs/etc/<file> without following a symlink anywhere on the way. */
static int read_etc(const char *rootfs, const char *file, struct buf *out)
{
	int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	char path[64];
	snprintf(path, sizeof(path), "etc/%s", file);
	int dfd, rc;
	const char *name;
	char err[ERR_MSG_LEN];
	rc = oci__open_parent(root, path, false, 0, &dfd, &name, err);
	close(root);
	if (rc < 0)
		return rc;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return -errno;
	char tmp[8192];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0 || out->len + (size_t)n > PASSWD_MAX)
			break;
		buf_append(out, tmp, (size_t)n);
	}
	close(fd);
	return 0;
}

/* Finds name in a passwd/group text: field 0
 * is the name, field 2 the id, field 3 (passwd) the primary group. */
static bool db_lookup(const char *text, const char *name, int64_t *id, int64_t *gid)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n');
		const char *f[4] = {line, NULL, NULL, NULL};
		int k = 1;
		for (const char *p = line; p < end && k < 4; p++)
			if (*p == ':')
				f[k++] = p + 1;
		size_t nl = f[1] ? (size_t)(f[1] - line - 1) : 0;
		if (k >= 3 && nl == strlen(name) && strncmp(line, name, nl) == 0) {
			char num[24];
			size_t n = strcspn(f[2], ":\n");
			snprintf(num, sizeof(num), "%.*s", (int)(n < 23 ? n : 23), f[2]);
			if (!str_to_i64(num, id))
				return false;
			if (gid && k == 4) {
				n = strcspn(f[3], ":\n");
				snprintf(num, sizeof(num), "%.*s", (int)(n < 23 ? n : 23), f[3]);
				if (!str_to_i64(num, gid))
					*gid = *id;
			}
			return true;
		}
		line = *end ? end + 1 : NULL;
	}
	return false;
}

static int resolve_one(const char *rootfs, const char *file, const char *s, int64_t *id,
                       int64_t *gid, char err[ERR_MSG_LEN])
{
	if (str_to_i64(s, id)) {
		if (*id < 0 || *id > 0xfffffffeLL)
			return err_set(err, ERR_INVALID, "image User: id %s out of range", s);
		return 0;
	}
	struct buf b = BUF_INIT;
	int rc = read_etc(rootfs, file, &b);
	bool found = rc == 0 && db_lookup(b.data ? b.data : "", s, id, gid);
	buf_release(&b);
	if (!found)
		return err_set(err, ERR_NOT_FOUND, "image User: no %s '%s' in the image's /etc/%s",
		               strcmp(file, "passwd") == 0 ? "user" : "group", s, file);
	return 0;
}

int oci_user_resolve(const char *rootfs, const char *user, uid_t *uid, gid_t *gid,
                     char err[ERR_MSG_LEN])
{
	*uid = 0;
	*gid = 0;
	if (!user || !*user)
		return 0;
	char u[256];
	if (snprintf(u, sizeof(u), "%s", user) >= (int)sizeof(u))
		return err_set(err, ERR_TOO_LARGE, "image User: too long");
	char *colon = strchr(u, ':');
	if (colon)
		*colon = 0;
	int64_t id = 0, g = -1;
	int rc = resolve_one(rootfs, "passwd", u, &id, &g, err);
	if (rc < 0)
		return rc;
	if (g < 0)
		g = 0; /* a numeric uid: group 0, as Docker has it */
	if (colon && (rc = resolve_one(rootfs, "group", colon + 1, &g, NULL, err)) < 0)
		return rc;
	*uid = (uid_t)id;
	*gid = (gid_t)g;
	return 0;
}

int oci_process_args(const struct oci_run_config *rc, const char ***argv, int64_t *argc,
                     char err[ERR_MSG_LEN])
{
	const struct oci_image_config *img = rc->image;
	bool cmd_given = rc->command && rc->command->n > 0;
	const struct spec_strv *head = cmd_given ? rc->command : img ? &img->entrypoint : NULL;
	const struct spec_strv *tail = rc->args && rc->args->n > 0 ? rc->args
	                               : cmd_given || !img         ? NULL
	                                                           : &img->cmd;
	int64_t n = (head ? head->n : 0) + (tail ? tail->n : 0);
	*argv = NULL;
	*argc = 0;
	if (n == 0)
		return err_set(err, ERR_INVALID,
		               "the image has no Entrypoint or Cmd and no command was given");
	const char **v = xcalloc((size_t)n + 1, sizeof(char *));
	int64_t k = 0;
	for (int64_t i = 0; head && i < head->n; i++)
		v[k++] = head->v[i];
	for (int64_t i = 0; tail && i < tail->n; i++)
		v[k++] = tail->v[i];
	*argv = v;
	*argc = n;
	return 0;
}
