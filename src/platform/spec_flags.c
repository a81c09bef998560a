/* spec_flags.c — `gpurun deploy` flags to a spec patch, with gcloud run
 * deploy's meanings (reference §1.13): only the flags given go into the
 * patch, lists split on ',' unless "^D^" picks another delimiter, and
 * "default" resets --min-instances, --max-instances and --concurrency. */
#include "platform/spec.h"

#include "base/mem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void spec_flags_init(struct spec_flags *f)
{
	memset(f, 0, sizeof *f);
}

void spec_flags_release(struct spec_flags *f)
{
	flag_list_release(&f->env);
	flag_list_release(&f->set_env_vars);
	flag_list_release(&f->update_env_vars);
	flag_list_release(&f->remove_env_vars);
}

int spec_flags_add(struct spec_flags *f, struct flag *t, int cap)
{
	const struct flag tab[SPEC_FLAGS_COUNT] = {
	    {"image", 0, FLAG_STRING, &f->image, "image to run (gpurun/ollama: the model server)",
	     false},
	    {"command", 0, FLAG_STRING, &f->command, "entrypoint, comma-separated", false},
	    {"args", 0, FLAG_STRING, &f->args, "arguments, comma-separated", false},
	    {"port", 0, FLAG_STRING, &f->port, "port the workload listens on (default 8080)",
	     false},
	    {"cpu", 0, FLAG_STRING, &f->cpu, "vCPUs per instance: 1, 2, 0.5, 500m", false},
	    {"memory", 0, FLAG_STRING, &f->memory, "memory per instance: 512Mi, 2Gi", false},
	    {"gpu", 0, FLAG_STRING, &f->gpu, "GPUs per instance, given out exclusively", false},
	    {"gpu-type", 0, FLAG_STRING, &f->gpu_type, "GPU type label (nvidia-l4, ...)", false},
	    {"min-instances", 0, FLAG_STRING, &f->min_instances, "instances kept warm (0)", false},
	    {"max-instances", 0, FLAG_STRING, &f->max_instances, "instance ceiling (100)", false},
	    {"concurrency", 0, FLAG_STRING, &f->concurrency, "requests per instance, 1-1000 (80)",
	     false},
	    {"timeout", 0, FLAG_STRING, &f->timeout, "request timeout: 300, 10m (max 1h)", false},
	    {"idle-timeout", 0, FLAG_STRING, &f->idle_timeout,
	     "scale an instance away after this idle time (15m; 10m with a GPU)", false},
	    {"region", 0, FLAG_STRING, &f->region, "region name (the daemon's: local)", false},
	    {"startup-probe", 0, FLAG_STRING, &f->startup_probe,
	     "tcpSocket.port=P | httpGet.path=/p,initialDelaySeconds=N,periodSeconds=N,...", false},
	    {"env", 0, FLAG_LIST, &f->env, "K=V environment variable (repeatable)", false},
	    {"set-env-vars", 0, FLAG_LIST, &f->set_env_vars, "K=V,... replaces all variables",
	     false},
	    {"update-env-vars", 0, FLAG_LIST, &f->update_env_vars, "K=V,... adds or changes",
	     false},
	    {"remove-env-vars", 0, FLAG_LIST, &f->remove_env_vars, "K,... removes", false},
	    {"clear-env-vars", 0, FLAG_BOOL, &f->clear_env_vars, "removes every variable", false},
	    {"allow-unauthenticated", 0, FLAG_BOOL, &f->allow_unauthenticated,
	     "public service (--no-allow-unauthenticated: private)", false},
	    {"cpu-throttling", 0, FLAG_BOOL, &f->cpu_throttling,
	     "request-based billing (--no-cpu-throttling: instance-based)", false},
	    {"cpu-boost", 0, FLAG_BOOL, &f->cpu_boost, "startup CPU boost", false},
	};
	if (cap < SPEC_FLAGS_COUNT)
		return -EINVAL;
	memcpy(t, tab, sizeof tab);
	return SPEC_FLAGS_COUNT;
}

/* gcloud list syntax: "a,b" or "^D^aDb" (see `gcloud topic escaping`). */
static void split_list(const char *s, struct spec_strv *out)
{
	const char *delim = ",";
	char dbuf[16];
	if (s[0] == '^') {
		const char *e = strchr(s + 1, '^');
		if (e && e > s + 1 && (size_t)(e - s - 1) < sizeof dbuf) {
			memcpy(dbuf, s + 1, (size_t)(e - s - 1));
			dbuf[e - s - 1] = 0;
			delim = dbuf;
			s = e + 1;
		}
	}
	size_t dn = strlen(delim);
	for (;;) {
		const char *e = strstr(s, delim);
		char *item = e ? xstrndup(s, (size_t)(e - s)) : xstrdup(s);
		if (item[0])
			spec_strv_push(out, item);
		free(item);
		if (!e)
			break;
		s = e + dn;
	}
}

static void split_lists(const struct flag_list *l, struct spec_strv *out)
{
	for (int i = 0; i < l->n; i++)
		split_list(l->items[i], out);
}

static int env_object(const char *flag, const struct flag_list *l, cJSON **out,
                      char err[ERR_MSG_LEN])
{
	struct spec_strv items = {0};
	split_lists(l, &items);
	cJSON *o = cJSON_CreateObject();
	for (int64_t i = 0; i < items.n; i++) {
		char *eq = strchr(items.v[i], '=');
		if (!eq || eq == items.v[i]) {
			int rc = err_set(err, ERR_INVALID, "--%s: '%s' is not KEY=VALUE", flag,
			                 items.v[i]);
			cJSON_Delete(o);
			spec_strv_release(&items);
			return rc;
		}
		*eq = 0;
		cJSON_DeleteItemFromObjectCaseSensitive(o, items.v[i]);
		cJSON_AddStringToObject(o, items.v[i], eq + 1);
	}
	spec_strv_release(&items);
	*out = o;
	return 0;
}

static cJSON *strv_array(const struct spec_strv *v)
{
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; i < v->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v->v[i]));
	return a;
}

static cJSON *list_array(const char *s)
{
	struct spec_strv v = {0};
	split_list(s, &v);
	cJSON *a = strv_array(&v);
	spec_strv_release(&v);
	return a;
}

/* Integer flag; "default" gives def. */
static int int_flag(const char *flag, const char *v, int def, int64_t lo, int64_t hi, int *out,
                    char err[ERR_MSG_LEN])
{
	int64_t x;
	if (!strcmp(v, "default")) {
		*out = def;
		return 0;
	}
	if (!str_to_i64(v, &x) || x < lo || x > hi)
		return err_set(err, ERR_INVALID,
		               "--%s: '%s' is not a number from %" PRId64 " to %" PRId64, flag, v,
		               lo, hi);
	*out = (int)x;
	return 0;
}

static int probe_patch(const char *s, cJSON **out, char err[ERR_MSG_LEN])
{
	struct spec_strv kv = {0};
	split_list(s, &kv);
	cJSON *o = cJSON_CreateObject();
	int rc = 0, port = 0, delay = 0, timeout = SPEC_PROBE_BUDGET_DEFAULT_S;
	int period = SPEC_PROBE_BUDGET_DEFAULT_S, failures = 1;
	const char *path = NULL;
	for (int64_t i = 0; rc == 0 && i < kv.n; i++) {
		char *k = kv.v[i], *eq = strchr(k, '=');
		if (!eq) {
			rc = err_set(err, ERR_INVALID, "--startup-probe: '%s' is not KEY=VALUE", k);
			break;
		}
		*eq = 0;
		const char *v = eq + 1;
		if (!strcmp(k, "httpGet.path"))
			path = v;
		else if (!strcmp(k, "tcpSocket.port") || !strcmp(k, "httpGet.port"))
			rc = int_flag(k, v, 0, 0, 65535, &port, err);
		else if (!strcmp(k, "initialDelaySeconds"))
			rc = int_flag(k, v, 0, 0, 240, &delay, err);
		else if (!strcmp(k, "timeoutSeconds"))
			rc = int_flag(k, v, SPEC_PROBE_BUDGET_DEFAULT_S, 1, 240, &timeout, err);
		else if (!strcmp(k, "periodSeconds"))
			rc = int_flag(k, v, SPEC_PROBE_BUDGET_DEFAULT_S, 1, 240, &period, err);
		else if (!strcmp(k, "failureThreshold"))
			rc = int_flag(k, v, 1, 1, 1000, &failures, err);
		else
			rc = err_set(err, ERR_INVALID, "--startup-probe: unknown key '%s'", k);
		if (!rc && !strncmp(k, "httpGet.", 8))
			cJSON_AddStringToObject(o, "type", "http");
	}
	if (!rc) {
		if (!cJSON_GetObjectItemCaseSensitive(o, "type"))
			cJSON_AddStringToObject(o, "type", "tcp");
		if (path)
			cJSON_AddStringToObject(o, "path", path);
		else
			cJSON_AddNullToObject(o, "path");
		cJSON_AddNumberToObject(o, "port", port);
		cJSON_AddNumberToObject(o, "initial_delay_seconds", delay);
		cJSON_AddNumberToObject(o, "timeout_seconds", timeout);
		cJSON_AddNumberToObject(o, "period_seconds", period);
		cJSON_AddNumberToObject(o, "failure_threshold", failures);
	}
	spec_strv_release(&kv);
	if (rc) {
		cJSON_Delete(o);
		return rc;
	}
	*out = o;
	return 0;
}

static bool given(const struct flag *table, const void *value)
{
	for (const struct flag *t = table; t->name; t++)
		if (t->value == value)
			return t->seen;
	return false;
}

static int env_patch(const struct spec_flags *f, const struct flag *t, cJSON *p,
                     char err[ERR_MSG_LEN])
{
	bool set = given(t, &f->set_env_vars),
	     clear = given(t, &f->clear_env_vars) && f->clear_env_vars;
	if (set && clear)
		return err_set(err, ERR_INVALID,
		               "--set-env-vars and --clear-env-vars exclude each "
		               "other");
	if ((set || clear) && (given(t, &f->update_env_vars) || given(t, &f->remove_env_vars)))
		return err_set(err, ERR_INVALID,
		               "--set-env-vars/--clear-env-vars cannot be combined "
		               "with --update-env-vars or --remove-env-vars");
	cJSON *o;
	int rc;
	if (clear)
		cJSON_AddItemToObject(p, "env", cJSON_CreateObject());
	if (set) {
		if ((rc = env_object("set-env-vars", &f->set_env_vars, &o, err)))
			return rc;
		cJSON_AddItemToObject(p, "env", o);
	}
	if (given(t, &f->remove_env_vars)) {
		struct spec_strv names = {0};
		split_lists(&f->remove_env_vars, &names);
		cJSON_AddItemToObject(p, "env_remove", strv_array(&names));
		spec_strv_release(&names);
	}
	if (given(t, &f->update_env_vars) || given(t, &f->env)) {
		struct flag_list all = {0};
		const struct flag_list *ls[2] = {&f->update_env_vars, &f->env};
		for (int k = 0; k < 2; k++)
			for (int i = 0; i < ls[k]->n; i++) {
				all.items =
				    xrealloc(all.items, sizeof(char *) * (size_t)(all.n + 1));
				all.items[all.n++] = ls[k]->items[i];
			}
		rc = env_object("env", &all, &o, err);
		flag_list_release(&all);
		if (rc)
			return rc;
		cJSON_AddItemToObject(p, "env_update", o);
	}
	return 0;
}

static int scalar_patch(const struct spec_flags *f, const struct flag *t, cJSON *p,
                        char err[ERR_MSG_LEN])
{
	int rc = 0, v;
	if (given(t, &f->image))
		cJSON_AddStringToObject(p, "image", f->image);
	if (given(t, &f->command))
		cJSON_AddItemToObject(p, "command", list_array(f->command));
	if (given(t, &f->args))
		cJSON_AddItemToObject(p, "args", list_array(f->args));
	if (given(t, &f->cpu))
		cJSON_AddStringToObject(p, "cpu", f->cpu);
	if (given(t, &f->memory))
		cJSON_AddStringToObject(p, "memory", f->memory);
	if (given(t, &f->gpu_type))
		cJSON_AddStringToObject(p, "gpu_type", f->gpu_type);
	if (given(t, &f->timeout))
		cJSON_AddStringToObject(p, "timeout_seconds", f->timeout);
	if (given(t, &f->idle_timeout))
		cJSON_AddStringToObject(p, "idle_timeout_seconds", f->idle_timeout);
	if (given(t, &f->region))
		cJSON_AddStringToObject(p, "region", f->region);
	const struct {
		const char *flag, *key;
		const char *const *val;
		int def;
		int64_t hi;
	} ints[] = {
	    {"port", "port", &f->port, SPEC_PORT_DEFAULT, 65535},
	    {"gpu", "gpu", &f->gpu, 0, SPEC_GPU_MAX},
	    {"min-instances", "min_instances", &f->min_instances, 0, SPEC_MAX_INSTANCES_LIMIT},
	    {"max-instances", "max_instances", &f->max_instances, SPEC_MAX_INSTANCES_DEFAULT,
	     SPEC_MAX_INSTANCES_LIMIT},
	    {"concurrency", "concurrency", &f->concurrency, SPEC_CONCURRENCY_DEFAULT,
	     SPEC_CONCURRENCY_MAX},
	};
	for (size_t i = 0; rc == 0 && i < sizeof ints / sizeof ints[0]; i++) {
		if (!given(t, ints[i].val))
			continue;
		rc = int_flag(ints[i].flag, *ints[i].val, ints[i].def, 0, ints[i].hi, &v, err);
		if (!rc)
			cJSON_AddNumberToObject(p, ints[i].key, v);
	}
	return rc;
}

int spec_flags_patch(const struct spec_flags *f, const struct flag *t, cJSON **patch,
                     char err[ERR_MSG_LEN])
{
	*patch = NULL;
	cJSON *p = cJSON_CreateObject(), *probe;
	int rc = scalar_patch(f, t, p, err);
	if (!rc)
		rc = env_patch(f, t, p, err);
	if (!rc && given(t, &f->startup_probe)) {
		rc = probe_patch(f->startup_probe, &probe, err);
		if (!rc)
			cJSON_AddItemToObject(p, "startup_probe", probe);
	}
	if (rc) {
		cJSON_Delete(p);
		return rc;
	}
	if (given(t, &f->allow_unauthenticated))
		cJSON_AddBoolToObject(p, "allow_unauthenticated", f->allow_unauthenticated);
	if (given(t, &f->cpu_throttling))
		cJSON_AddBoolToObject(p, "cpu_throttling", f->cpu_throttling);
	if (given(t, &f->cpu_boost))
		cJSON_AddBoolToObject(p, "startup_cpu_boost", f->cpu_boost);
	*patch = p;
	return 0;
}
