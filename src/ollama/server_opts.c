/* server_opts.c — request options (Ollama's api.Options, reference
 * ollama-api.md §1.2: defaults of v0.33, type checks with Ollama's messages,
 * removed and unknown keys accepted), and the server's configuration from
 * the environment, including Ollama's OLLAMA_HOST parsing (§4.1). */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_INT, OPT_FLOAT, OPT_BOOL, OPT_STRINGS };
enum opt_field {
	F_NONE, /* accepted (runner options we decide ourselves), no effect */
	F_NUM_CTX,
	F_NUM_PREDICT,
	F_NUM_KEEP,
	F_TEMPERATURE,
	F_TOP_K,
	F_TOP_P,
	F_MIN_P,
	F_REPEAT_PENALTY,
	F_REPEAT_LAST_N,
	F_PRESENCE,
	F_FREQUENCY,
	F_SEED,
	F_STOP,
};

static const struct {
	const char *key;
	enum opt_type type;
	enum opt_field field;
} options[] = {
    {"num_ctx", OPT_INT, F_NUM_CTX},
    {"num_predict", OPT_INT, F_NUM_PREDICT},
    {"num_keep", OPT_INT, F_NUM_KEEP},
    {"temperature", OPT_FLOAT, F_TEMPERATURE},
    {"top_k", OPT_INT, F_TOP_K},
    {"top_p", OPT_FLOAT, F_TOP_P},
    {"min_p", OPT_FLOAT, F_MIN_P},
    {"typical_p", OPT_FLOAT, F_NONE},
    {"repeat_penalty", OPT_FLOAT, F_REPEAT_PENALTY},
    {"repeat_last_n", OPT_INT, F_REPEAT_LAST_N},
    {"presence_penalty", OPT_FLOAT, F_PRESENCE},
    {"frequency_penalty", OPT_FLOAT, F_FREQUENCY},
    {"seed", OPT_INT, F_SEED},
    {"stop", OPT_STRINGS, F_STOP},
    {"num_batch", OPT_INT, F_NONE},
    {"num_gpu", OPT_INT, F_NONE},
    {"main_gpu", OPT_INT, F_NONE},
    {"use_mmap", OPT_BOOL, F_NONE},
    {"num_thread", OPT_INT, F_NONE},
    {"draft_num_predict", OPT_INT, F_NONE},
};

void gen_options_init(struct gen_options *o)
{
	memset(o, 0, sizeof *o);
	o->num_predict = -1;
	o->num_keep = 4;
	sampler_params_default(&o->sampling);
	o->sampling.temperature = 0.8f;
	o->sampling.top_k = 40;
	o->sampling.top_p = 0.9f;
	o->sampling.min_p = 0.0f;
	o->sampling.repeat_penalty = 1.0f; /* 1.1 until v0.5 */
	o->sampling.repeat_last_n = 64;
	o->sampling.presence_penalty = 0.0f;
	o->sampling.frequency_penalty = 0.0f;
	o->sampling.seed = -1;
}

static void clear_stop(struct gen_options *o)
{
	for (int i = 0; i < o->n_stop; i++)
		free(o->stop[i]);
	memset(o->stop, 0, sizeof o->stop);
	o->n_stop = 0;
}

void gen_options_release(struct gen_options *o)
{
	clear_stop(o);
}

int gen_options_set_stop(struct gen_options *o, const cJSON *v, char err[ERR_MSG_LEN])
{
	if (cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		clear_stop(o);
		o->stop[o->n_stop++] = xstrdup(v->valuestring);
		return 0;
	}
	if (!cJSON_IsArray(v))
		return err_set(err, ERR_INVALID, "option \"stop\" must be of type array");
	const cJSON *e;
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e))
			return err_set(err, ERR_INVALID,
			               "option \"stop\" must be of an array of strings");
	}
	clear_stop(o);
	cJSON_ArrayForEach(e, v)
	{
		if (o->n_stop < ENGINE_MAX_STOP - 1 && e->valuestring[0])
			o->stop[o->n_stop++] = xstrdup(e->valuestring);
	}
	return 0;
}

static void set_number(struct gen_options *o, enum opt_field f, double v)
{
	int64_t i = v > 9e18 ? INT64_MAX : v < -9e18 ? INT64_MIN : (int64_t)v;
	int ii = i > INT32_MAX ? INT32_MAX : i < INT32_MIN ? INT32_MIN : (int)i;
	switch (f) {
	case F_NUM_CTX: o->num_ctx = i; break;
	case F_NUM_PREDICT: o->num_predict = i; break;
	case F_NUM_KEEP: o->num_keep = i; break;
	case F_TEMPERATURE: o->sampling.temperature = (float)v; break;
	case F_TOP_K: o->sampling.top_k = ii; break;
	case F_TOP_P: o->sampling.top_p = (float)v; break;
	case F_MIN_P: o->sampling.min_p = (float)v; break;
	case F_REPEAT_PENALTY: o->sampling.repeat_penalty = (float)v; break;
	case F_REPEAT_LAST_N: o->sampling.repeat_last_n = ii; break;
	case F_PRESENCE: o->sampling.presence_penalty = (float)v; break;
	case F_FREQUENCY: o->sampling.frequency_penalty = (float)v; break;
	case F_SEED: o->sampling.seed = i; break;
	default: break;
	}
}

static int apply_one(struct gen_options *o, const cJSON *v, int k, char err[ERR_MSG_LEN])
{
	const char *key = options[k].key;
	if (cJSON_IsNull(v))
		return 0;
	switch (options[k].type) {
	case OPT_INT:
	case OPT_FLOAT:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
			return err_set(err, ERR_INVALID, "option \"%s\" must be of type %s", key,
			               options[k].type == OPT_INT ? "integer" : "float32");
		set_number(o, options[k].field, v->valuedouble);
		return 0;
	case OPT_BOOL:
		if (!cJSON_IsBool(v))
			return err_set(err, ERR_INVALID, "option \"%s\" must be of type boolean",
			               key);
		return 0;
	case OPT_STRINGS: return gen_options_set_stop(o, v, err);
	}
	return 0;
}

int gen_options_apply(struct gen_options *o, const cJSON *obj, char err[ERR_MSG_LEN])
{
	if (!obj || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj))
		return err_set(err, ERR_INVALID,
		               "json: cannot unmarshal %s into Go struct field "
		               ".options of type map[string]interface {}",
		               cJSON_IsArray(obj) ? "array" : "value");
	const cJSON *v;
	cJSON_ArrayForEach(v, obj)
	{
		int k = -1;
		for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
			if (!strcmp(options[i].key, v->string))
				k = (int)i;
		if (k < 0) {
			log_warn("serve: invalid option provided: %s (ignored)", v->string);
			continue;
		}
		int rc = apply_one(o, v, k, err);
		if (rc)
			return rc;
	}
	return 0;
}

int gen_options_apply_text(struct gen_options *o, const char *json, char err[ERR_MSG_LEN])
{
	if (!json || !*json)
		return 0;
	cJSON *j = cJSON_Parse(json);
	if (!j)
		return err_set(err, ERR_INVALID, "the model's parameters are not valid JSON");
	int rc = gen_options_apply(o, j, err);
	cJSON_Delete(j);
	return rc;
}

/* ---- configuration ---- */

/* Trims spaces and surrounding quotes, as Ollama's envconfig.Var. */
static const char *env_trim(const char *name, char *tmp, size_t cap)
{
	const char *v = getenv(name);
	if (!v)
		return NULL;
	while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '"' || v[n - 1] == '\''))
		n--;
	if (!n || n >= cap)
		return NULL;
	memcpy(tmp, v, n);
	tmp[n] = 0;
	return tmp;
}

static bool parse_port(const char *s, int *port)
{
	int64_t p;
	if (!str_to_i64(s, &p) || p < 0 || p > 65535)
		return false;
	*port = (int)p;
	return true;
}

void server_parse_host(const char *s, char *host, size_t cap, int *port)
{
	int def_port = SERVER_DEFAULT_PORT;
	char hp[512];
	s = s ? s : "";
	const char *sep = strstr(s, "://");
	if (sep) {
		if (!strncmp(s, "http://", 7))
			def_port = 80;
		else if (!strncmp(s, "https://", 8))
			def_port = 443;
		s = sep + 3;
	}
	snprintf(hp, sizeof hp, "%s", s);
	char *slash = strchr(hp, '/');
	if (slash)
		*slash = 0;
	*port = def_port;
	/* net.SplitHostPort: "[v6]:p", "h:p" (one colon), ":p". */
	char *colon = strrchr(hp, ':');
	bool bracket = hp[0] == '[';
	char *close = strchr(hp, ']');
	bool split = colon && (bracket ? close && colon == close + 1 : strchr(hp, ':') == colon);
	if (split) {
		*colon = 0;
		if (!parse_port(colon + 1, port)) {
			log_warn("serve: invalid port %s, using default %d", colon + 1, def_port);
			*port = def_port;
		}
		const char *h = hp;
		if (bracket && close) {
			*close = 0;
			h = hp + 1;
		}
		snprintf(host, cap, "%s", *h ? h : "0.0.0.0");
		return;
	}
	const char *h = hp;
	if (bracket && close && close[1] == 0) {
		*close = 0;
		h = hp + 1;
	}
	snprintf(host, cap, "%s", *h ? h : "127.0.0.1");
}

static void split_origins(struct server_config *c, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (!*t)
			continue;
		c->origins = xrealloc(c->origins, (size_t)(c->n_origins + 1) * sizeof *c->origins);
		c->origins[c->n_origins++] = xstrdup(t);
	}
	free(copy);
}

int server_config_from_env(struct server_config *c, char err[ERR_MSG_LEN])
{
	memset(c, 0, sizeof *c);
	char tmp[512];
	const char *h = env_trim("GPURUN_HOST", tmp, sizeof tmp);
	if (!h)
		h = env_trim("OLLAMA_HOST", tmp, sizeof tmp);
	server_parse_host(h, c->host, sizeof c->host, &c->port);
	const char *port = env_trim("PORT", tmp, sizeof tmp);
	if (port && !parse_port(port, &c->port))
		return err_set(err, ERR_INVALID, "PORT=%s is not a port number", port);
	int rc = sched_config_from_env(&c->sched, err);
	if (rc)
		return rc;
	const char *key = env_trim("GPURUN_API_KEY", tmp, sizeof tmp);
	if (key)
		c->api_key = xstrdup(key);
	const char *origins = env_trim("GPURUN_ORIGINS", tmp, sizeof tmp);
	if (!origins)
		origins = env_trim("OLLAMA_ORIGINS", tmp, sizeof tmp);
	if (origins)
		split_origins(c, origins);
	c->grace_ms = 10000;
	c->prune = !getenv("OLLAMA_NOPRUNE") && !getenv("GPURUN_NOPRUNE");
	return 0;
}

void server_config_release(struct server_config *c)
{
	free(c->models_dir);
	free(c->api_key);
	for (int i = 0; i < c->n_origins; i++)
		free(c->origins[i]);
	free(c->origins);
	memset(c, 0, sizeof *c);
}

/* ---- Modelfile PARAMETER values ---- */

int gen_options_param_json(cJSON *params, const char *key, const char *value, char err[ERR_MSG_LEN])
{
	int k = -1;
	for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
		if (!strcmp(options[i].key, key))
			k = (int)i;
	if (k < 0)
		return err_set(err, ERR_INVALID, "unknown parameter '%s'", key);
	double d;
	switch (options[k].type) {
	case OPT_INT:
	case OPT_FLOAT:
		if (!str_to_double(value, &d) || (options[k].type == OPT_INT && d != floor(d)))
			return err_set(err, ERR_INVALID, "invalid %s value [%s]",
			               options[k].type == OPT_INT ? "int" : "float", value);
		cJSON_DeleteItemFromObjectCaseSensitive(params, key);
		cJSON_AddNumberToObject(params, key, d);
		return 0;
	case OPT_BOOL:
		if (strcmp(value, "true") && strcmp(value, "false"))
			return err_set(err, ERR_INVALID, "invalid bool value [%s]", value);
		cJSON_DeleteItemFromObjectCaseSensitive(params, key);
		cJSON_AddBoolToObject(params, key, !strcmp(value, "true"));
		return 0;
	case OPT_STRINGS: {
		cJSON *arr = cJSON_GetObjectItemCaseSensitive(params, key);
		if (!cJSON_IsArray(arr)) {
			cJSON_DeleteItemFromObjectCaseSensitive(params, key);
			arr = cJSON_AddArrayToObject(params, key);
		}
		cJSON_AddItemToArray(arr, cJSON_CreateString(value));
		return 0;
	}
	}
	return 0;
}
