/* platform_services.c — `gpurun services list|describe|delete|update-traffic|
 * replace|export` as gcloud run services has them (reference §1.12-1.14):
 * the same subcommands, flags and human output, `--format` for scripts
 * (value(status.url), json, yaml, export). The describe text is in
 * platform_describe.c. */
#include "cli/cli.h"
#include "cli/platform_client.h"
#include "cli/platform_cli.h"

#include "base/file.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "platform/knative.h"
#include "platform/spec.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int list(int argc, char **argv)
{
	struct platform_args a;
	cJSON *j;
	char err[ERR_MSG_LEN];
	int rc =
	    platform_args_parse(&a, argc, argv, NULL, 0, 0, "gpurun services list [--format F]");
	if (rc >= 0)
		return rc;
	struct platform_client c;
	platform_client_init(&c);
	if (platform_call_json(&c, "GET", "/v1/services", NULL, &j, err)) {
		platform_args_release(&a);
		return platform_fail(err);
	}
	if (a.fmt.kind != ADMIN_FORMAT_DEFAULT) {
		platform_format_print(&a.fmt, j, true);
	} else if (cJSON_GetArraySize(j) == 0) {
		fprintf(stderr, "Listed 0 items.\n");
	} else {
		struct admin_format t;
		admin_format_parse("table(ok:label='',name:label=SERVICE,region:label=REGION,"
		                   "url:label=URL,deployed:label='LAST DEPLOYED AT',"
		                   "instances:label=INSTANCES)",
		                   &t, err);
		cJSON *rows = cJSON_CreateArray(), *it;
		cJSON_ArrayForEach(it, j)
		{
			cJSON_AddItemToArray(rows, platform_service_row(it));
		}
		platform_format_print(&t, rows, true);
		cJSON_Delete(rows);
		admin_format_release(&t);
	}
	cJSON_Delete(j);
	platform_args_release(&a);
	return 0;
}

static int describe(int argc, char **argv)
{
	struct platform_args a;
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, NULL, 0, 1,
	                             "gpurun services describe NAME [--format F]");
	if (rc >= 0)
		return rc;
	if (platform_check_name(a.pos[0])) {
		platform_args_release(&a);
		return 1;
	}
	struct platform_client c;
	struct buf path = BUF_INIT;
	platform_client_init(&c);
	bool export = a.format && !strcmp(a.format, "export");
	buf_printf(&path, "/v1/services/%s%s", a.pos[0], export ? ":export" : "");
	if (export) {
		struct buf y = BUF_INIT;
		rc = platform_call(&c, "GET", path.data, NULL, NULL, 0, &y, err);
		if (!rc)
			fwrite(y.data ? y.data : "", 1, y.len, stdout);
		buf_release(&y);
	} else {
		cJSON *j;
		rc = platform_call_json(&c, "GET", path.data, NULL, &j, err);
		if (!rc && a.fmt.kind == ADMIN_FORMAT_DEFAULT)
			platform_describe_print(j, stdout);
		else if (!rc)
			platform_format_print(&a.fmt, j, false);
		if (!rc)
			cJSON_Delete(j);
	}
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static int export_cmd(int argc, char **argv)
{
	struct platform_args a;
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, NULL, 0, 1, "gpurun services export NAME");
	if (rc >= 0)
		return rc;
	if (platform_check_name(a.pos[0])) {
		platform_args_release(&a);
		return 1;
	}
	struct platform_client c;
	struct buf path = BUF_INIT, y = BUF_INIT;
	platform_client_init(&c);
	buf_printf(&path, "/v1/services/%s:export", a.pos[0]);
	rc = platform_call(&c, "GET", path.data, NULL, NULL, 0, &y, err);
	if (!rc)
		fwrite(y.data ? y.data : "", 1, y.len, stdout);
	buf_release(&y);
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

/* gcloud asks before deleting when someone is at the terminal. */
static bool confirm(const char *what, bool quiet)
{
	if (quiet || !isatty(STDIN_FILENO))
		return true;
	fprintf(stderr, "%s will be deleted.\n\nDo you want to continue (Y/n)?  ", what);
	char line[32];
	if (!fgets(line, sizeof line, stdin))
		return false;
	return line[0] == '\n' || line[0] == 'y' || line[0] == 'Y';
}

static int delete_cmd(int argc, char **argv)
{
	struct platform_args a;
	bool quiet = false;
	struct flag extra[] = {{"quiet", 'q', FLAG_BOOL, &quiet, "do not ask", false}};
	char err[ERR_MSG_LEN], what[128];
	int rc = platform_args_parse(&a, argc, argv, extra, 1, 1,
	                             "gpurun services delete NAME [--quiet]");
	if (rc >= 0)
		return rc;
	if (platform_check_name(a.pos[0])) {
		platform_args_release(&a);
		return 1;
	}
	snprintf(what, sizeof what, "Service [%s]", a.pos[0]);
	if (!confirm(what, quiet)) {
		platform_args_release(&a);
		return platform_fail("Aborted by user.");
	}
	struct platform_client c;
	struct buf path = BUF_INIT;
	platform_client_init(&c);
	buf_printf(&path, "/v1/services/%s", a.pos[0]);
	rc = platform_call_json(&c, "DELETE", path.data, NULL, NULL, err);
	if (!rc)
		fprintf(stderr, "Deleted service [%s].\n", a.pos[0]);
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

/* "R1=50,R2=50" (repeatable) into {"R1": 50, ...}. */
static int assignments(const struct flag_list *l, cJSON *o, char err[ERR_MSG_LEN])
{
	for (int i = 0; i < l->n; i++) {
		char *s = xstrdup(l->items[i]), *save = NULL;
		for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(t, '=');
			int64_t v;
			if (!eq || eq == t || !str_to_i64(eq + 1, &v) || v < 0 || v > 100) {
				err_set(err, ERR_INVALID,
				        "--to-revisions: '%s' is not REVISION=PERCENT (0-100)", t);
				free(s);
				return ERR_INVALID;
			}
			*eq = 0;
			cJSON_DeleteItemFromObjectCaseSensitive(o, t);
			cJSON_AddNumberToObject(o, t, (double)v);
		}
		free(s);
	}
	return 0;
}

static int update_traffic(int argc, char **argv)
{
	struct platform_args a;
	struct flag_list to = {0};
	bool latest = false;
	struct flag extra[] = {
	    {"to-revisions", 0, FLAG_LIST, &to, "REV=PERCENT,... (LATEST: the latest revision)",
	     false},
	    {"to-latest", 0, FLAG_BOOL, &latest, "100% to the latest revision", false},
	};
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, extra, 2, 1,
	                             "gpurun services update-traffic NAME "
	                             "--to-revisions R1=P1,R2=P2 | --to-latest");
	if (rc < 0 && platform_check_name(a.pos[0])) {
		platform_args_release(&a);
		rc = 1;
	}
	if (rc >= 0) {
		flag_list_release(&to);
		return rc;
	}
	cJSON *body = cJSON_CreateObject(), *res = NULL;
	rc = 0;
	if (latest && !to.n) {
		cJSON_AddTrueToObject(body, "to_latest");
	} else if (!latest && to.n) {
		rc = assignments(&to, cJSON_AddObjectToObject(body, "to_revisions"), err);
	} else {
		rc = err_set(err, ERR_INVALID, "give one of --to-revisions or --to-latest");
	}
	struct platform_client c;
	struct buf path = BUF_INIT;
	platform_client_init(&c);
	buf_printf(&path, "/v1/services/%s:traffic", a.pos[0]);
	if (!rc)
		rc = platform_call_json(&c, "POST", path.data, body, &res, err);
	if (!rc && a.fmt.kind != ADMIN_FORMAT_DEFAULT) {
		platform_format_print(&a.fmt, res, false);
	} else if (!rc) {
		fprintf(stderr, "\xe2\x9c\x93 Updating traffic... Done.\n"
		                "  \xe2\x9c\x93 Routing traffic...\nDone.\n");
		platform_traffic_print(res, stderr);
	}
	cJSON_Delete(res);
	cJSON_Delete(body);
	buf_release(&path);
	flag_list_release(&to);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static int replace(int argc, char **argv)
{
	struct platform_args a;
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, NULL, 0, 1,
	                             "gpurun services replace FILE.yaml [--format F]");
	if (rc >= 0)
		return rc;
	struct buf y = BUF_INIT;
	rc = file_read_all(a.pos[0], &y, KNATIVE_YAML_MAX + 1);
	if (rc) {
		err_set(err, rc, "cannot read %s: %s", a.pos[0], err_str(rc));
	} else if (y.len > KNATIVE_YAML_MAX) {
		rc = err_set(err, ERR_TOO_LARGE, "%s is larger than %d bytes", a.pos[0],
		             KNATIVE_YAML_MAX);
	}
	struct platform_client c;
	struct buf ans = BUF_INIT;
	cJSON *res = NULL;
	platform_client_init(&c);
	if (!rc)
		rc = platform_call(&c, "POST", "/v1/services:replace", "application/yaml", y.data,
		                   y.len, &ans, err);
	if (!rc && !(res = json_parse(ans.data, ans.len, err)))
		rc = ERR_PROTOCOL;
	if (!rc)
		platform_replace_print(res, &a.fmt);
	cJSON_Delete(res);
	buf_release(&ans);
	buf_release(&y);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static const struct platform_sub subs[] = {
    {"list", list, "List the services"},
    {"describe", describe, "Show a service (--format 'value(status.url)', json, yaml, export)"},
    {"delete", delete_cmd, "Delete a service"},
    {"update-traffic", update_traffic, "Split traffic between revisions"},
    {"replace", replace, "Create or replace a service from Knative YAML"},
    {"export", export_cmd, "Print a service as Knative YAML (for replace)"},
    {NULL, NULL, NULL},
};

int cmd_services(int argc, char **argv)
{
	return platform_sub_run("services", subs, argc, argv);
}
