/* platform_misc.c — the smaller Cloud-Run-style verbs: `gpurun revisions
 * list|describe|delete`, `gpurun logs read|tail`, `gpurun billing report`
 * and `gpurun auth print-identity-token` (gcloud run revisions, gcloud beta
 * run services logs, gcloud auth print-identity-token; reference §1.10,
 * §1.13). */
#include "cli/cli.h"
#include "cli/platform_cli.h"
#include "cli/platform_client.h"

#include "base/json.h"
#include "base/mem.h"
#include "platform/spec.h"

#include <stdlib.h>
#include <string.h>

/* ---- revisions ---- */

static cJSON *revision_row(const cJSON *r)
{
	cJSON *o = cJSON_CreateObject();
	int pct = (int)json_num(cJSON_GetObjectItemCaseSensitive(r, "status"), "trafficPercent", 0);
	char p[16];
	snprintf(p, sizeof p, "%d%%", pct);
	cJSON_AddStringToObject(o, "ok", "\xe2\x9c\x94");
	cJSON_AddStringToObject(o, "name",
	                        cJSON_GetStringValue(admin_format_get(r, "metadata.name")));
	cJSON_AddStringToObject(o, "active", pct > 0 ? "yes" : "");
	cJSON_AddStringToObject(o, "traffic", p);
	const char *svc = cJSON_GetStringValue(
	    admin_format_get(r, "metadata.labels.'serving.knative.dev/service'"));
	cJSON_AddStringToObject(o, "service", svc ? svc : "");
	const char *ts = cJSON_GetStringValue(admin_format_get(r, "metadata.creationTimestamp"));
	cJSON_AddStringToObject(o, "deployed", ts ? ts : "");
	return o;
}

static int revisions_list(int argc, char **argv)
{
	struct platform_args a;
	const char *svc = NULL;
	struct flag extra[] = {{"service", 0, FLAG_STRING, &svc, "only this service's", false}};
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, extra, 1, 0,
	                             "gpurun revisions list [--service NAME] [--format F]");
	if (rc >= 0)
		return rc;
	struct platform_client c;
	struct buf path = BUF_INIT;
	cJSON *j = NULL;
	platform_client_init(&c);
	buf_puts(&path, "/v1/revisions");
	if (svc)
		platform_query_add(&path, "service", svc);
	rc = platform_call_json(&c, "GET", path.data, NULL, &j, err);
	if (!rc && a.fmt.kind != ADMIN_FORMAT_DEFAULT) {
		platform_format_print(&a.fmt, j, true);
	} else if (!rc && cJSON_GetArraySize(j) == 0) {
		fprintf(stderr, "Listed 0 items.\n");
	} else if (!rc) {
		struct admin_format t;
		admin_format_parse("table(ok:label='',name:label=REVISION,active:label=ACTIVE,"
		                   "traffic:label=TRAFFIC,service:label=SERVICE,"
		                   "deployed:label=DEPLOYED)",
		                   &t, err);
		cJSON *rows = cJSON_CreateArray(), *it;
		cJSON_ArrayForEach(it, j)
		{
			cJSON_AddItemToArray(rows, revision_row(it));
		}
		platform_format_print(&t, rows, true);
		cJSON_Delete(rows);
		admin_format_release(&t);
	}
	cJSON_Delete(j);
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static int revision_one(int argc, char **argv, const char *method)
{
	struct platform_args a;
	char err[ERR_MSG_LEN], usage[64];
	snprintf(usage, sizeof usage, "gpurun revisions %s REVISION", argv[0]);
	int rc = platform_args_parse(&a, argc, argv, NULL, 0, 1, usage);
	if (rc >= 0)
		return rc;
	struct platform_client c;
	struct buf path = BUF_INIT;
	cJSON *j = NULL;
	platform_client_init(&c);
	if (strlen(a.pos[0]) > SPEC_REVISION_NAME_MAX ||
	    strspn(a.pos[0], "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(a.pos[0])) {
		snprintf(err, sizeof err, "invalid revision name '%s'", a.pos[0]);
		platform_args_release(&a);
		return platform_fail(err);
	}
	buf_printf(&path, "/v1/revisions/%s", a.pos[0]);
	rc = platform_call_json(&c, method, path.data, NULL, &j, err);
	if (!rc && !strcmp(method, "DELETE"))
		fprintf(stderr, "Deleted revision [%s].\n", a.pos[0]);
	else if (!rc)
		platform_format_print(a.fmt.kind == ADMIN_FORMAT_DEFAULT
		                          ? &(struct admin_format){.kind = ADMIN_FORMAT_YAML}
		                          : &a.fmt,
		                      j, false);
	cJSON_Delete(j);
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static int revisions_describe(int argc, char **argv)
{
	return revision_one(argc, argv, "GET");
}

static int revisions_delete(int argc, char **argv)
{
	return revision_one(argc, argv, "DELETE");
}

int cmd_revisions(int argc, char **argv)
{
	static const struct platform_sub subs[] = {
	    {"list", revisions_list, "List revisions, newest first"},
	    {"describe", revisions_describe, "Show a revision"},
	    {"delete", revisions_delete, "Delete a revision that serves no traffic"},
	    {NULL, NULL, NULL},
	};
	return platform_sub_run("revisions", subs, argc, argv);
}

/* ---- logs ---- */

static int logs_common(int argc, char **argv, bool tail)
{
	struct platform_args a;
	int64_t limit = -1;
	bool follow = tail;
	struct flag extra[] = {
	    {"limit", 0, FLAG_INT, &limit, "the last N lines (default 100; 0: all)", false},
	    {"follow", 'f', FLAG_BOOL, &follow, "keep printing new lines until Ctrl-C", false},
	};
	char err[ERR_MSG_LEN], n[32];
	int rc = platform_args_parse(&a, argc, argv, extra, 2, 1,
	                             tail ? "gpurun logs tail NAME"
	                                  : "gpurun logs read NAME [--limit N] [--follow]");
	if (rc >= 0)
		return rc;
	if (platform_check_name(a.pos[0])) {
		platform_args_release(&a);
		return 1;
	}
	struct platform_client c;
	struct buf path = BUF_INIT;
	platform_client_init(&c);
	buf_printf(&path, "/v1/services/%s/logs", a.pos[0]);
	if (limit >= 0) {
		snprintf(n, sizeof n, "%lld", (long long)limit);
		platform_query_add(&path, "limit", n);
	}
	if (follow)
		platform_query_add(&path, "follow", "1");
	rc = platform_stream(&c, path.data, stdout, err);
	buf_release(&path);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

static int logs_read(int argc, char **argv)
{
	return logs_common(argc, argv, false);
}

static int logs_tail(int argc, char **argv)
{
	return logs_common(argc, argv, true);
}

int cmd_logs(int argc, char **argv)
{
	static const struct platform_sub subs[] = {
	    {"read", logs_read, "Print a service's latest log lines (--limit N, --follow)"},
	    {"tail", logs_tail, "Follow a service's logs as they are written"},
	    {NULL, NULL, NULL},
	};
	return platform_sub_run("logs", subs, argc, argv);
}

/* ---- billing ---- */

static int billing_report(int argc, char **argv)
{
	const char *svc = NULL, *since = NULL, *format = NULL;
	bool instances = true, help = false;
	struct flag t[] = {
	    {"service", 0, FLAG_STRING, &svc, "only this service", false},
	    {"since", 0, FLAG_STRING, &since, "from: 1h30m ago, 2026-11-28T15:00:00Z, a date",
	     false},
	    {"format", 0, FLAG_STRING, &format, "table (default), json or csv", false},
	    {"instances", 0, FLAG_BOOL, &instances, "a line per instance (--no-instances: not)",
	     false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {0},
	};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	char err[ERR_MSG_LEN];
	int npos = 0, rc = flags_parse(t, argc - 1, argv + 1, pos, &npos, err);
	free(pos);
	if (rc)
		return platform_fail(err);
	if (help) {
		printf("Usage: gpurun billing report [--service NAME] [--since T] "
		       "[--format table|json|csv]\n\nFlags:\n");
		flags_print_help(t);
		return 0;
	}
	if (npos)
		return platform_fail("billing report takes no arguments; use --service NAME");
	struct platform_client c;
	struct buf path = BUF_INIT, out = BUF_INIT;
	platform_client_init(&c);
	buf_puts(&path, "/v1/billing");
	if (svc)
		platform_query_add(&path, "service", svc);
	if (since)
		platform_query_add(&path, "since", since);
	if (format)
		platform_query_add(&path, "format", format);
	platform_query_add(&path, "instances", instances ? "1" : "0");
	rc = platform_call(&c, "GET", path.data, NULL, NULL, 0, &out, err);
	if (!rc)
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
	buf_release(&out);
	buf_release(&path);
	return rc ? platform_fail(err) : 0;
}

int cmd_billing(int argc, char **argv)
{
	static const struct platform_sub subs[] = {
	    {"report", billing_report, "Usage and cost per service and instance"},
	    {NULL, NULL, NULL},
	};
	return platform_sub_run("billing", subs, argc, argv);
}

/* ---- auth ---- */

/* --audience NAME (no "://") means that service's URL. */
static int audience_url(const struct platform_client *c, const char *aud, char **out,
                        char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (!aud || strstr(aud, "://")) {
		*out = aud ? xstrdup(aud) : NULL;
		return 0;
	}
	if (spec_name_check("--audience", aud, err))
		return ERR_INVALID;
	struct buf path = BUF_INIT;
	cJSON *j = NULL;
	buf_printf(&path, "/v1/services/%s", aud);
	int rc = platform_call_json(c, "GET", path.data, NULL, &j, err);
	const char *url = cJSON_GetStringValue(admin_format_get(j, "status.url"));
	if (!rc)
		*out = xstrdup(url ? url : "");
	cJSON_Delete(j);
	buf_release(&path);
	return rc;
}

static int print_identity_token(int argc, char **argv)
{
	struct platform_args a;
	const char *aud = NULL;
	struct flag extra[] = {
	    {"audience", 0, FLAG_STRING, &aud, "the service URL (or name) the token is for", false},
	};
	char err[ERR_MSG_LEN];
	int rc = platform_args_parse(&a, argc, argv, extra, 1, 0,
	                             "gpurun auth print-identity-token [--audience URL]");
	if (rc >= 0)
		return rc;
	struct platform_client c;
	char *url = NULL;
	cJSON *body = cJSON_CreateObject(), *j = NULL;
	platform_client_init(&c);
	rc = audience_url(&c, aud, &url, err);
	if (!rc && url)
		cJSON_AddStringToObject(body, "audience", url);
	if (!rc)
		rc = platform_call_json(&c, "POST", "/v1/tokens", body, &j, err);
	if (!rc && a.fmt.kind != ADMIN_FORMAT_DEFAULT)
		platform_format_print(&a.fmt, j, false);
	else if (!rc)
		printf("%s\n", json_str(j, "token", ""));
	cJSON_Delete(j);
	cJSON_Delete(body);
	free(url);
	platform_args_release(&a);
	return rc ? platform_fail(err) : 0;
}

int cmd_auth(int argc, char **argv)
{
	static const struct platform_sub subs[] = {
	    {"print-identity-token", print_identity_token,
	     "Print an identity token for a private service (Authorization: Bearer)"},
	    {NULL, NULL, NULL},
	};
	return platform_sub_run("auth", subs, argc, argv);
}
