/* ollama_transfer.c — `gpurun pull`, `push` and `create` against a model
 * server, with Ollama's progress display on stderr (cmd/cmd.go PullHandler,
 * PushHandler, CreateHandler): /api/pull and /api/push streams; for create,
 * the Modelfile is parsed here, a local FROM/ADAPTER file is uploaded with
 * HEAD then POST /api/blobs/sha256:<hex>, and /api/create gets `files`.
 * Not here: the registry protocol (the server speaks it). */
#include "cli/cli.h"
#include "cli/ollama_cli.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/sha256.h"
#include "ollama/names.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MODELFILE_MAX (16u << 20) /* bytes */
struct view {
	struct ollama_progress p;
	const char *verb;
	char digest[80]; /* upload in progress, for its spinner text */
};

static int on_line(void *user, const cJSON *obj, char err[ERR_MSG_LEN])
{
	struct view *v = user;
	(void)err;
	ollama_progress_update(&v->p, obj, v->verb);
	return 0;
}

static void on_tick(void *user, int64_t sent, int64_t total)
{
	struct view *v = user;
	if (v->digest[0] && total > 0) {
		char msg[160];
		snprintf(msg, sizeof msg, "copying file %s %d%%", v->digest,
		         (int)(100 * sent / total));
		ollama_progress_message(&v->p, msg);
	}
	ollama_progress_tick(&v->p);
}

/* Streams path with req, the progress shown as Ollama shows it. */
static int transfer(const struct ollama_client *c, const char *path, cJSON *req, struct view *v,
                    char err[ERR_MSG_LEN])
{
	ollama_client_interrupted = 0;
	ollama_client_catch_interrupt(true);
	int rc = ollama_client_stream(c, path, req, on_line, on_tick, v, err);
	ollama_client_catch_interrupt(false);
	ollama_progress_stop(&v->p);
	return rc;
}

int ollama_cli_pull(const struct ollama_client *c, const char *name, bool insecure,
                    char err[ERR_MSG_LEN])
{
	struct view v = {.verb = "pulling"};
	ollama_progress_init(&v.p, stderr);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", name);
	if (insecure)
		cJSON_AddTrueToObject(req, "insecure");
	cJSON_AddTrueToObject(req, "stream");
	int rc = transfer(c, "/api/pull", req, &v, err);
	cJSON_Delete(req);
	return rc;
}

static int usage(struct flag *flags, bool help, const char *text)
{
	fprintf(help ? stdout : stderr, "Usage:\n  %s\n", text);
	if (help) {
		printf("\nFlags:\n");
		flags_print_help(flags);
	}
	return help ? 0 : 2;
}

static int parse(struct flag *flags, int argc, char **argv, const char **pos, int *npos)
{
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, npos, err)) {
		fprintf(stderr, "Error: %s\n", err);
		return 2;
	}
	return 0;
}

int cmd_pull(int argc, char **argv)
{
	bool help = false, insecure = false;
	struct flag flags[] = {
	    {"insecure", 0, FLAG_BOOL, &insecure, "Use an insecure registry", false},
	    {"help", 'h', FLAG_BOOL, &help, "help for pull", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = parse(flags, argc, argv, pos, &npos);
	if (rc || help || npos != 1) {
		rc = rc ? rc : usage(flags, help, "gpurun pull MODEL [--insecure]");
		goto out;
	}
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	if (ollama_cli_pull(&c, pos[0], insecure, err))
		rc = ollama_cli_fail(err);
out:
	free(pos);
	return rc;
}

/* Where a pushed model can be found: ollama.com's page for its own hosts,
 * else the full name. */
static void push_destination(const char *name)
{
	struct model_name n;
	char full[NAMES_STR_MAX + 1], shortest[NAMES_STR_MAX + 1];
	if (names_parse(name, &n, NULL))
		return;
	names_full(&n, full, sizeof full);
	if (str_has_suffix(n.host, ".ollama.ai") || str_has_suffix(n.host, ".ollama.com")) {
		names_shortest(&n, shortest, sizeof shortest);
		size_t len = strlen(shortest);
		if (str_has_suffix(shortest, ":latest"))
			shortest[len - 7] = 0;
		snprintf(full, sizeof full, "https://ollama.com/%s", shortest);
	}
	printf("\nYou can find your model at:\n\n\t%s\n", full);
}

int cmd_push(int argc, char **argv)
{
	bool help = false, insecure = false;
	struct flag flags[] = {
	    {"insecure", 0, FLAG_BOOL, &insecure, "Use an insecure registry", false},
	    {"help", 'h', FLAG_BOOL, &help, "help for push", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = parse(flags, argc, argv, pos, &npos);
	if (rc || help || npos != 1) {
		rc = rc ? rc : usage(flags, help, "gpurun push MODEL [--insecure]");
		goto out;
	}
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	struct view v = {.verb = "pushing"};
	ollama_progress_init(&v.p, stderr);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", pos[0]);
	if (insecure)
		cJSON_AddTrueToObject(req, "insecure");
	cJSON_AddTrueToObject(req, "stream");
	if (transfer(&c, "/api/push", req, &v, err)) {
		if (strstr(err, "access denied"))
			snprintf(err, ERR_MSG_LEN,
			         "you are not authorized to push to this namespace, "
			         "create the model under a namespace you own");
		rc = ollama_cli_fail(err);
	} else {
		push_destination(pos[0]);
	}
	cJSON_Delete(req);
out:
	free(pos);
	return rc;
}

/* ---- create */

/* A FROM/ADAPTER argument as a path: "~" expanded, relative to the
 * Modelfile's directory. */
static char *expand_path(const char *arg, const char *modelfile)
{
	const char *home = file_home_dir();
	if (!strcmp(arg, "~") && home)
		return xstrdup(home);
	if (!strncmp(arg, "~/", 2) && home)
		return file_path_join(home, arg + 2);
	if (arg[0] == '/')
		return xstrdup(arg);
	char *copy = xstrdup(modelfile);
	char *p = file_path_join(dirname(copy), arg);
	free(copy);
	return p;
}

/* Uploads the file at path unless the server has its digest already. */
static int upload_blob(const struct ollama_client *c, const char *path, struct view *v,
                       char digest[80], char err[ERR_MSG_LEN])
{
	char hex[SHA256_HEX_LEN + 1];
	int rc = sha256_file_hex(path, hex);
	if (rc)
		return err_set(err, rc, "read %s: %s", path, err_str(rc));
	snprintf(digest, 80, "sha256:%s", hex);
	char status[160];
	snprintf(status, sizeof status, "copying file %s", digest);
	ollama_progress_status(&v->p, status);
	snprintf(status, sizeof status, "copying file %s 0%%", digest);
	ollama_progress_message(&v->p, status);
	rc = ollama_client_blob_exists(c, digest, err);
	if (rc == 0) {
		snprintf(v->digest, sizeof v->digest, "%s", digest);
		rc = ollama_client_blob_upload(c, digest, path, on_tick, v, err);
		v->digest[0] = 0;
	}
	if (rc < 0)
		return rc;
	snprintf(status, sizeof status, "copying file %s 100%%", digest);
	ollama_progress_message(&v->p, status);
	return 0;
}

/* FROM and ADAPTER: a local file becomes files/adapters {basename: digest}
 * after its upload; a FROM that names no file is a model name. */
static int add_sources(const struct ollama_client *c, const struct ollama_modelfile *mf,
                       const char *modelfile, cJSON *req, struct view *v, char err[ERR_MSG_LEN])
{
	for (int i = 0; i < mf->n; i++) {
		const struct ollama_modelfile_cmd *cmd = &mf->cmds[i];
		bool from = !strcmp(cmd->name, "from");
		if (!from && strcmp(cmd->name, "adapter"))
			continue;
		char *path = expand_path(cmd->value, modelfile);
		struct stat sb;
		int rc = 0;
		if (stat(path, &sb) != 0) {
			if (from)
				cJSON_AddStringToObject(req, "from", cmd->value);
			else
				rc = err_set(err, -ENOENT, "adapter %s: no such file", cmd->value);
		} else if (S_ISDIR(sb.st_mode)) {
			rc = err_set(err, ERR_UNSUPPORTED,
			             "%s is a directory: only GGUF files can be imported",
			             cmd->value);
		} else {
			char digest[80];
			rc = upload_blob(c, path, v, digest, err);
			const char *member = from ? "files" : "adapters";
			cJSON *map = cJSON_GetObjectItemCaseSensitive(req, member);
			if (!map)
				map = cJSON_AddObjectToObject(req, member);
			char *copy = xstrdup(path);
			if (!rc)
				cJSON_AddStringToObject(map, basename(copy), digest);
			free(copy);
		}
		free(path);
		if (rc)
			return rc;
	}
	return 0;
}

/* Reads and parses the Modelfile, uploads its files and builds the request. */
static int create_request(const struct ollama_client *c, const char *name, const char *file,
                          const char *quantize, struct view *v, cJSON **out, char err[ERR_MSG_LEN])
{
	struct buf text = BUF_INIT;
	struct ollama_modelfile mf;
	int rc = file_read_all(file, &text, MODELFILE_MAX);
	if (rc)
		return rc == -ENOENT ? err_set(err, rc, "specified Modelfile wasn't found")
		                     : err_set(err, rc, "%s: %s", file, err_str(rc));
	ollama_progress_status(&v->p, "gathering model components");
	rc = ollama_modelfile_parse(text.data ? text.data : "", text.len, &mf, err);
	buf_release(&text);
	if (rc)
		return rc;
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", name);
	if (quantize && *quantize)
		cJSON_AddStringToObject(req, "quantize", quantize);
	rc = ollama_modelfile_request(&mf, req, err);
	if (!rc)
		rc = add_sources(c, &mf, file, req, v, err);
	cJSON_AddTrueToObject(req, "stream");
	ollama_modelfile_release(&mf);
	if (rc)
		cJSON_Delete(req);
	else
		*out = req;
	return rc;
}

int cmd_create(int argc, char **argv)
{
	bool help = false;
	const char *file = NULL, *quantize = NULL;
	struct flag flags[] = {{"file", 'f', FLAG_STRING, &file,
	                        "Name of the Modelfile (default \"Modelfile\")", false},
	                       {"quantize", 'q', FLAG_STRING, &quantize,
	                        "Quantize model to this level (e.g. q4_K_M)", false},
	                       {"help", 'h', FLAG_BOOL, &help, "help for create", false},
	                       {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = parse(flags, argc, argv, pos, &npos);
	if (rc || help || npos != 1) {
		rc = rc ? rc : usage(flags, help, "gpurun create MODEL [-f Modelfile] [-q LEVEL]");
		goto out;
	}
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	struct view v = {.verb = "pulling"};
	ollama_progress_init(&v.p, stderr);
	cJSON *req = NULL;
	if (create_request(&c, pos[0], file ? file : "Modelfile", quantize, &v, &req, err)) {
		ollama_progress_stop(&v.p);
		rc = ollama_cli_fail(err);
		goto out;
	}
	if (transfer(&c, "/api/create", req, &v, err))
		rc = ollama_cli_fail(err);
	cJSON_Delete(req);
out:
	free(pos);
	return rc;
}
