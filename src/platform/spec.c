/* spec.c — service spec defaults, deep copies, quantities and validation
 * against Cloud Run's limits (reference/cloudrun-knative.md §1.4-1.7, §1.16,
 * §2.1). JSON lives in spec_json.c, deploy flags in spec_flags.c, traffic
 * targets in spec_traffic.c. */
#include "platform/spec.h"

#include "base/mem.h"
#include "base/timeutil.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spec_init(struct spec *s)
{
	memset(s, 0, sizeof *s);
	s->port = SPEC_PORT_DEFAULT;
	s->cpu_milli = SPEC_CPU_DEFAULT_MILLI;
	s->memory_bytes = SPEC_MEMORY_DEFAULT;
	s->max_instances = SPEC_MAX_INSTANCES_DEFAULT;
	s->concurrency = SPEC_CONCURRENCY_DEFAULT;
	s->timeout_s = SPEC_TIMEOUT_DEFAULT_S;
	s->idle_timeout_s = SPEC_IDLE_TIMEOUT_DEFAULT_S;
	s->cpu_throttling = true;
	s->startup_cpu_boost = true;
	s->probe.kind = SPEC_PROBE_TCP;
	s->probe.timeout_s = SPEC_PROBE_BUDGET_DEFAULT_S;
	s->probe.period_s = SPEC_PROBE_BUDGET_DEFAULT_S;
	s->probe.failure_threshold = 1;
	s->scaling.utilization_pct = 70;
	s->scaling.window_s = 60;
	s->scaling.panic_window_pct = 10.0;
	s->scaling.panic_threshold_pct = 200.0;
	s->region = xstrdup(SPEC_REGION_DEFAULT);
}

void spec_kvs_release(struct spec_kvs *l)
{
	for (int64_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void spec_strv_release(struct spec_strv *v)
{
	for (int64_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

void spec_release(struct spec *s)
{
	if (!s)
		return;
	free(s->image);
	spec_strv_release(&s->command);
	spec_strv_release(&s->args);
	free(s->container_name);
	spec_kvs_release(&s->env);
	free(s->gpu_type);
	free(s->probe.path);
	spec_kvs_release(&s->annotations);
	free(s->region);
	spec_kvs_release(&s->labels);
	spec_kvs_release(&s->service_annotations);
	memset(s, 0, sizeof *s);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void kvs_copy(struct spec_kvs *dst, const struct spec_kvs *src)
{
	dst->n = 0;
	dst->items = NULL;
	for (int64_t i = 0; i < src->n; i++)
		spec_kvs_set(dst, src->items[i].name, src->items[i].value);
}

static void strv_copy(struct spec_strv *dst, const struct spec_strv *src)
{
	dst->n = 0;
	dst->v = NULL;
	for (int64_t i = 0; i < src->n; i++)
		spec_strv_push(dst, src->v[i]);
}

void spec_copy(struct spec *dst, const struct spec *src)
{
	*dst = *src;
	dst->image = dup_or_null(src->image);
	strv_copy(&dst->command, &src->command);
	strv_copy(&dst->args, &src->args);
	dst->container_name = dup_or_null(src->container_name);
	kvs_copy(&dst->env, &src->env);
	dst->gpu_type = dup_or_null(src->gpu_type);
	dst->probe.path = dup_or_null(src->probe.path);
	kvs_copy(&dst->annotations, &src->annotations);
	dst->region = dup_or_null(src->region);
	kvs_copy(&dst->labels, &src->labels);
	kvs_copy(&dst->service_annotations, &src->service_annotations);
}

void spec_kvs_set(struct spec_kvs *l, const char *name, const char *value)
{
	for (int64_t i = 0; i < l->n; i++) {
		if (!strcmp(l->items[i].name, name)) {
			free(l->items[i].value);
			l->items[i].value = xstrdup(value);
			return;
		}
	}
	l->items = xrealloc(l->items, sizeof(*l->items) * (size_t)(l->n + 1));
	l->items[l->n].name = xstrdup(name);
	l->items[l->n].value = xstrdup(value);
	l->n++;
}

bool spec_kvs_remove(struct spec_kvs *l, const char *name)
{
	for (int64_t i = 0; i < l->n; i++) {
		if (strcmp(l->items[i].name, name))
			continue;
		free(l->items[i].name);
		free(l->items[i].value);
		memmove(&l->items[i], &l->items[i + 1], sizeof(*l->items) * (size_t)(l->n - i - 1));
		l->n--;
		return true;
	}
	return false;
}

const char *spec_kvs_get(const struct spec_kvs *l, const char *name)
{
	for (int64_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].name, name))
			return l->items[i].value;
	return NULL;
}

void spec_strv_push(struct spec_strv *v, const char *s)
{
	v->v = xrealloc(v->v, sizeof(char *) * (size_t)(v->n + 1));
	v->v[v->n++] = xstrdup(s);
}

bool spec_image_is_builtin(const char *image)
{
	return image && (!strcmp(image, SPEC_IMAGE_OLLAMA) || !strcmp(image, SPEC_IMAGE_HELLO));
}

bool spec_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > SPEC_NAME_MAX || !(name[0] >= 'a' && name[0] <= 'z') ||
	    name[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

int spec_name_check(const char *what, const char *name, char err[ERR_MSG_LEN])
{
	if (spec_name_valid(name))
		return 0;
	return err_set(err, ERR_INVALID,
	               "invalid %s '%s': use lowercase letters, digits and '-', start with a "
	               "letter, do not end with '-', at most %d characters",
	               what, name ? name : "", SPEC_NAME_MAX);
}

/* Parses "123", "1.5" into value * 10^scale (scale <= 9); *end after it. */
static bool parse_fixed(const char *s, int scale, int64_t *out, const char **end)
{
	int64_t v = 0;
	const char *p = s;
	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++)
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
			return false;
	int frac = 0;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		for (; isdigit((unsigned char)*p); p++, frac++) {
			if (frac >= scale) {
				if (*p != '0')
					return false; /* finer than the unit */
				continue;
			}
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, *p - '0', &v))
				return false;
		}
	}
	for (; frac < scale; frac++)
		if (__builtin_mul_overflow(v, 10, &v))
			return false;
	*out = v;
	*end = p;
	return true;
}

int spec_parse_cpu(const char *s, int64_t *milli, char err[ERR_MSG_LEN])
{
	const char *end;
	int64_t v;
	if (!s || !parse_fixed(s, 3, &v, &end))
		goto bad;
	if (*end == 'm') {
		/* "500m": v holds 500000 (value * 1000); millicores must be whole */
		if (end[1] || v % 1000)
			goto bad;
		v /= 1000;
	} else if (*end) {
		goto bad;
	}
	*milli = v;
	return 0;
bad:
	return err_set(err, ERR_INVALID,
	               "invalid cpu '%s': use a number of vCPUs (\"1\", \"0.5\") "
	               "or millicores (\"500m\")",
	               s ? s : "");
}

static const struct {
	const char *suffix;
	int64_t mult;
} mem_units[] = {
    {"Ki", 1LL << 10},   {"Mi", 1LL << 20},      {"Gi", 1LL << 30}, {"Ti", 1LL << 40},
    {"Pi", 1LL << 50},   {"k", 1000LL},          {"K", 1000LL},     {"M", 1000000LL},
    {"G", 1000000000LL}, {"T", 1000000000000LL}, {"", 1},
};

int spec_parse_memory(const char *s, int64_t *bytes, char err[ERR_MSG_LEN])
{
	const char *end;
	int64_t v; /* value * 10^6 */
	if (!s || !parse_fixed(s, 6, &v, &end))
		goto bad;
	for (size_t i = 0; i < sizeof mem_units / sizeof mem_units[0]; i++) {
		if (strcmp(end, mem_units[i].suffix))
			continue;
		__int128 b = (__int128)v * mem_units[i].mult;
		/* Kubernetes rounds fractional bytes up */
		__int128 whole = (b + 999999) / 1000000;
		if (whole > INT64_MAX)
			return err_set(err, ERR_TOO_LARGE, "memory '%s' is too large", s);
		*bytes = (int64_t)whole;
		return 0;
	}
bad:
	return err_set(err, ERR_INVALID,
	               "invalid memory '%s': use a number with a unit such as \"512Mi\" or \"2Gi\"",
	               s ? s : "");
}

void spec_format_cpu(int64_t milli, char *out, size_t n)
{
	if (milli % 1000 == 0)
		snprintf(out, n, "%" PRId64, milli / 1000);
	else
		snprintf(out, n, "%" PRId64 "m", milli);
}

void spec_format_memory(int64_t bytes, char *out, size_t n)
{
	static const char *units[] = {"Ti", "Gi", "Mi", "Ki"};
	static const int shifts[] = {40, 30, 20, 10};
	for (int i = 0; i < 4; i++) {
		int64_t m = 1LL << shifts[i];
		if (bytes > 0 && bytes % m == 0) {
			snprintf(out, n, "%" PRId64 "%s", bytes / m, units[i]);
			return;
		}
	}
	snprintf(out, n, "%" PRId64, bytes);
}

int spec_parse_seconds(const char *what, const char *s, int64_t max_s, int *out,
                       char err[ERR_MSG_LEN])
{
	int64_t v;
	if (s && str_to_i64(s, &v)) {
		/* bare number = seconds */
	} else {
		int64_t ns;
		if (!s || !time_parse_duration(s, &ns))
			return err_set(err, ERR_INVALID,
			               "invalid %s '%s': use seconds (\"300\") or a duration "
			               "(\"5m\", \"1h\")",
			               what, s ? s : "");
		if (ns % 1000000000LL)
			return err_set(err, ERR_INVALID, "invalid %s '%s': whole seconds only",
			               what, s);
		v = ns / 1000000000LL;
	}
	if (v < 0 || v > max_s)
		return err_set(err, ERR_INVALID,
		               "%s must be between 0 and %" PRId64 " seconds, got %s", what, max_s,
		               s);
	*out = (int)v;
	return 0;
}

static bool env_name_ok(const char *n)
{
	if (!n[0] || isdigit((unsigned char)n[0]))
		return false;
	for (const char *p = n; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

static int check_env(const struct spec_kvs *env, char err[ERR_MSG_LEN])
{
	static const char *reserved[] = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"};
	if (env->n > SPEC_ENV_MAX)
		return err_set(err, ERR_INVALID,
		               "too many environment variables (%" PRId64 ", at most %d)", env->n,
		               SPEC_ENV_MAX);
	for (int64_t i = 0; i < env->n; i++) {
		const struct spec_kv *kv = &env->items[i];
		if (!env_name_ok(kv->name))
			return err_set(
			    err, ERR_INVALID,
			    "invalid environment variable name '%s': use letters, digits, "
			    "'_', '.', '-', not starting with a digit",
			    kv->name);
		for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++)
			if (!strcmp(kv->name, reserved[r]))
				return err_set(
				    err, ERR_INVALID,
				    "environment variable %s is reserved: the platform sets "
				    "it",
				    kv->name);
		if (strlen(kv->value) > SPEC_ENV_VALUE_MAX)
			return err_set(err, ERR_INVALID,
			               "environment variable %s is longer than %d bytes", kv->name,
			               SPEC_ENV_VALUE_MAX);
	}
	return 0;
}

/* Cloud Run's CPU -> memory bands (§1.6); GPU shapes have their own floor. */
static int check_cpu_memory(const struct spec *s, char err[ERR_MSG_LEN])
{
	char cpu[32], mem[32];
	spec_format_cpu(s->cpu_milli, cpu, sizeof cpu);
	spec_format_memory(s->memory_bytes, mem, sizeof mem);
	if (s->cpu_milli < SPEC_CPU_MIN_MILLI)
		return err_set(err, ERR_INVALID, "cpu %s is below the minimum of 0.08", cpu);
	if (s->memory_bytes < SPEC_MEMORY_MIN)
		return err_set(err, ERR_INVALID, "memory %s is below the minimum of 128Mi", mem);
	if (s->cpu_milli < 1000 && s->concurrency > 1)
		return err_set(err, ERR_INVALID,
		               "cpu %s is below 1: concurrency must be 1 "
		               "(--concurrency 1)",
		               cpu);
	if (s->cpu_milli > 1000 && s->cpu_milli % 1000)
		return err_set(err, ERR_INVALID,
		               "cpu %s: above 1 vCPU only whole numbers are "
		               "allowed",
		               cpu);
	if (s->gpu > 0) {
		if (s->cpu_milli < SPEC_GPU_CPU_MIN_MILLI || s->cpu_milli > SPEC_GPU_CPU_MAX_MILLI)
			return err_set(err, ERR_INVALID,
			               "cpu %s: a GPU instance needs 4 to 96 vCPUs", cpu);
		if (s->memory_bytes < SPEC_GPU_MEMORY_MIN || s->memory_bytes > SPEC_GPU_MEMORY_MAX)
			return err_set(err, ERR_INVALID,
			               "memory %s: a GPU instance needs 16Gi to 1Ti", mem);
		return 0;
	}
	static const struct {
		int64_t cpu_below_or_eq, mem_min, mem_max;
	} bands[] = {
	    {499, SPEC_MEMORY_MIN, 512LL << 20}, {999, SPEC_MEMORY_MIN, 1LL << 30},
	    {1000, SPEC_MEMORY_MIN, 4LL << 30},  {2000, SPEC_MEMORY_MIN, 8LL << 30},
	    {4000, 2LL << 30, 16LL << 30},       {6000, 4LL << 30, 24LL << 30},
	    {8000, 4LL << 30, 32LL << 30},
	};
	int64_t c = s->cpu_milli;
	if (c > 1000 && c != 2000 && c != 4000 && c != 6000 && c != 8000)
		return err_set(err, ERR_INVALID,
		               "cpu %s: allowed values are 0.08-1, 2, 4, 6 or 8 "
		               "(more with a GPU)",
		               cpu);
	for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++) {
		if (c > bands[i].cpu_below_or_eq)
			continue;
		if (s->memory_bytes > bands[i].mem_max || s->memory_bytes < bands[i].mem_min) {
			char lo[32], hi[32];
			spec_format_memory(bands[i].mem_min, lo, sizeof lo);
			spec_format_memory(bands[i].mem_max, hi, sizeof hi);
			return err_set(err, ERR_INVALID,
			               "memory %s does not fit cpu %s: allowed %s to %s "
			               "(raise --cpu for more memory)",
			               mem, cpu, lo, hi);
		}
		return 0;
	}
	return 0;
}

static int check_range(const char *what, int64_t v, int64_t lo, int64_t hi, char err[ERR_MSG_LEN])
{
	if (v < lo || v > hi)
		return err_set(err, ERR_INVALID,
		               "%s must be between %" PRId64 " and %" PRId64 ", got %" PRId64, what,
		               lo, hi, v);
	return 0;
}

static int check_probe(const struct spec_probe *p, char err[ERR_MSG_LEN])
{
	int rc;
	if ((rc = check_range("startup probe periodSeconds", p->period_s, 1, 240, err)) ||
	    (rc = check_range("startup probe timeoutSeconds", p->timeout_s, 1, p->period_s, err)) ||
	    (rc = check_range("startup probe initialDelaySeconds", p->initial_delay_s, 0, 240,
	                      err)) ||
	    (rc = check_range("startup probe failureThreshold", p->failure_threshold, 1, 1000,
	                      err)) ||
	    (rc = check_range("startup probe port", p->port, 0, 65535, err)))
		return rc;
	if (p->kind == SPEC_PROBE_HTTP &&
	    (!p->path || p->path[0] != '/' || strpbrk(p->path, " \r\n")))
		return err_set(err, ERR_INVALID,
		               "startup probe httpGet.path must start with '/' and "
		               "hold no spaces");
	return 0;
}

static int check_scaling(const struct spec_scaling *c, char err[ERR_MSG_LEN])
{
	int rc;
	if ((rc = check_range("autoscaling target", c->target, 0, SPEC_CONCURRENCY_MAX, err)) ||
	    (rc = check_range("autoscaling target-utilization-percentage", c->utilization_pct, 1,
	                      100, err)) ||
	    (rc = check_range("autoscaling window (seconds)", c->window_s, 6, 3600, err)) ||
	    (rc = check_range("autoscaling scale-down-delay (seconds)", c->scale_down_delay_s, 0,
	                      3600, err)))
		return rc;
	if (!(c->panic_window_pct >= 1.0 && c->panic_window_pct <= 100.0))
		return err_set(err, ERR_INVALID,
		               "autoscaling panic-window-percentage must be "
		               "between 1 and 100");
	if (!(c->panic_threshold_pct >= 110.0 && c->panic_threshold_pct <= 1000.0))
		return err_set(err, ERR_INVALID,
		               "autoscaling panic-threshold-percentage must be "
		               "between 110 and 1000");
	return 0;
}

static int check_keys(const char *what, const struct spec_kvs *l, char err[ERR_MSG_LEN])
{
	for (int64_t i = 0; i < l->n; i++) {
		const char *k = l->items[i].name;
		if (!k[0] || strlen(k) > 253 || strpbrk(k, " \t\r\n:"))
			return err_set(err, ERR_INVALID, "invalid %s key '%s'", what, k);
	}
	return 0;
}

static bool image_ok(const char *im)
{
	size_t n = strlen(im);
	if (n == 0 || n > 1024)
		return false;
	for (const char *p = im; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static int check_workload(const struct spec *s, char err[ERR_MSG_LEN])
{
	if (!s->image && s->command.n == 0)
		return err_set(err, ERR_INVALID, "give --image or --command");
	if (s->image && !image_ok(s->image))
		return err_set(err, ERR_INVALID, "invalid image '%s'", s->image);
	if (s->command.n > 0 && !s->command.v[0][0])
		return err_set(err, ERR_INVALID, "--command: the executable is empty");
	if (s->args.n + s->command.n > SPEC_ARGS_MAX)
		return err_set(err, ERR_INVALID, "too many arguments (at most %d)", SPEC_ARGS_MAX);
	return check_range("port", s->port, 1, 65535, err);
}

int spec_validate(const struct spec *s, char err[ERR_MSG_LEN])
{
	int rc;
	if ((rc = check_workload(s, err)) || (rc = check_env(&s->env, err)))
		return rc;
	if ((rc = check_range("concurrency", s->concurrency, 1, SPEC_CONCURRENCY_MAX, err)) ||
	    (rc = check_range("gpu", s->gpu, 0, SPEC_GPU_MAX, err)) ||
	    (rc = check_cpu_memory(s, err)))
		return rc;
	if (s->gpu > 0 && s->cpu_throttling)
		return err_set(err, ERR_INVALID,
		               "a GPU service needs instance-based billing: "
		               "use --no-cpu-throttling");
	if ((rc = check_range("max-instances", s->max_instances, 1, SPEC_MAX_INSTANCES_LIMIT,
	                      err)) ||
	    (rc = check_range("min-instances", s->min_instances, 0, s->max_instances, err)) ||
	    (rc = check_range("timeout (seconds)", s->timeout_s, 1, SPEC_TIMEOUT_MAX_S, err)) ||
	    (rc = check_range("idle-timeout (seconds)", s->idle_timeout_s, 1,
	                      SPEC_IDLE_TIMEOUT_MAX_S, err)) ||
	    (rc = check_probe(&s->probe, err)) || (rc = check_scaling(&s->scaling, err)))
		return rc;
	if (!s->region || !spec_name_valid(s->region))
		return err_set(err, ERR_INVALID,
		               "invalid region '%s': lowercase letters, digits "
		               "and '-'",
		               s->region ? s->region : "");
	if (s->gpu_type && !spec_name_valid(s->gpu_type))
		return err_set(err, ERR_INVALID, "invalid gpu type '%s'", s->gpu_type);
	if ((rc = check_keys("annotation", &s->annotations, err)) ||
	    (rc = check_keys("annotation", &s->service_annotations, err)) ||
	    (rc = check_keys("label", &s->labels, err)))
		return rc;
	return 0;
}

bool spec_template_equal(const struct spec *a, const struct spec *b)
{
	static const char *service_level[] = {"region", "allow_unauthenticated", "labels",
	                                      "service_annotations"};
	cJSON *ja = spec_to_json(a), *jb = spec_to_json(b);
	for (size_t i = 0; i < sizeof service_level / sizeof service_level[0]; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(ja, service_level[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(jb, service_level[i]);
	}
	bool eq = cJSON_Compare(ja, jb, true);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	return eq;
}
