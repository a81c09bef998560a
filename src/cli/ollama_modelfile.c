/* ollama_modelfile.c — the Modelfile language of `ollama create` (Ollama's
 * docs/modelfile.mdx and parser package): instructions FROM, PARAMETER,
 * TEMPLATE, SYSTEM, ADAPTER, LICENSE, MESSAGE, REQUIRES, RENDERER, PARSER,
 * one per line, case-insensitive, '#' comments, values bare, "quoted" or
 * """multi-line"""; and its translation into an /api/create request with
 * parameters typed as Ollama's options. Not here: FROM and ADAPTER, which
 * need the file system and the server (ollama_transfer.c). */
#include "cli/ollama_cli.h"

#include "base/buf.h"
#include "base/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const instructions[] = {"from",     "adapter", "parameter", "template",
                                           "system",   "license", "message",   "requires",
                                           "renderer", "parser",  NULL};

enum param_type { P_INT, P_FLOAT, P_BOOL, P_STRINGS };

/* Ollama's api.Options and api.Runner keys (and removed ones the server
 * still accepts and ignores), with their JSON types. */
static const struct {
	const char *name;
	enum param_type type;
} params[] = {
    {"num_keep", P_INT},
    {"seed", P_INT},
    {"num_predict", P_INT},
    {"top_k", P_INT},
    {"top_p", P_FLOAT},
    {"min_p", P_FLOAT},
    {"typical_p", P_FLOAT},
    {"repeat_last_n", P_INT},
    {"temperature", P_FLOAT},
    {"repeat_penalty", P_FLOAT},
    {"presence_penalty", P_FLOAT},
    {"frequency_penalty", P_FLOAT},
    {"stop", P_STRINGS},
    {"num_ctx", P_INT},
    {"num_batch", P_INT},
    {"num_gpu", P_INT},
    {"main_gpu", P_INT},
    {"use_mmap", P_BOOL},
    {"num_thread", P_INT},
    {"draft_num_predict", P_INT},
    {"mirostat", P_INT},
    {"mirostat_tau", P_FLOAT},
    {"mirostat_eta", P_FLOAT},
    {"tfs_z", P_FLOAT},
    {"penalize_newline", P_BOOL},
    {"numa", P_BOOL},
    {"low_vram", P_BOOL},
    {"f16_kv", P_BOOL},
    {"logits_all", P_BOOL},
    {"vocab_only", P_BOOL},
    {"use_mlock", P_BOOL},
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void add_cmd(struct ollama_modelfile *mf, const char *name, char *key, char *value)
{
	if (mf->n == mf->cap) {
		mf->cap = mf->cap ? mf->cap * 2 : 8;
		mf->cmds = xrealloc(mf->cmds, (size_t)mf->cap * sizeof *mf->cmds);
	}
	struct ollama_modelfile_cmd *c = &mf->cmds[mf->n++];
	snprintf(c->name, sizeof c->name, "%s", name);
	c->key = key;
	c->value = value;
}

/* Reads a value at *pp: """multi-line""", "quoted" (\" and \\ escapes) or
 * the rest of the line, trimmed. NULL with err on an unterminated quote. */
static char *read_value(const char **pp, const char *end, int *line, char err[ERR_MSG_LEN])
{
	const char *p = *pp;
	struct buf v = BUF_INIT;
	if (end - p >= 3 && !strncmp(p, "\"\"\"", 3)) {
		const char *q = p + 3;
		while (q + 3 <= end && strncmp(q, "\"\"\"", 3))
			*line += *q++ == '\n';
		if (q + 3 > end) {
			err_set(err, ERR_INVALID, "line %d: unterminated \"\"\" quote", *line);
			return NULL;
		}
		buf_append(&v, p + 3, (size_t)(q - p - 3));
		p = q + 3;
	} else if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
				p++;
			*line += *p == '\n';
			buf_putc(&v, *p);
		}
		if (p >= end) {
			buf_release(&v);
			err_set(err, ERR_INVALID, "line %d: unterminated quote", *line);
			return NULL;
		}
		p++;
	} else {
		const char *s = p;
		while (p < end && *p != '\n')
			p++;
		const char *e = p;
		while (e > s && is_blank(e[-1]))
			e--;
		buf_append(&v, s, (size_t)(e - s));
	}
	while (p < end && *p != '\n') /* anything after a closing quote is dropped */
		p++;
	*pp = p;
	buf_putc(&v, 0);
	return v.data;
}

static const char *read_word(const char **pp, const char *end, size_t *n)
{
	const char *p = *pp;
	while (p < end && is_blank(*p))
		p++;
	const char *s = p;
	while (p < end && !is_blank(*p) && *p != '\n')
		p++;
	*n = (size_t)(p - s);
	while (p < end && is_blank(*p))
		p++;
	*pp = p;
	return s;
}

static bool known_instruction(const char *s, size_t n, char out[16])
{
	for (const char *const *i = instructions; *i; i++)
		if (strlen(*i) == n && !strncasecmp(*i, s, n)) {
			snprintf(out, 16, "%s", *i);
			return true;
		}
	return false;
}

/* Parses one instruction starting at *pp (a non-blank, non-comment line). */
static int parse_one(struct ollama_modelfile *mf, const char **pp, const char *end, int *line,
                     char err[ERR_MSG_LEN])
{
	size_t n;
	const char *w = read_word(pp, end, &n);
	char name[16];
	if (!known_instruction(w, n, name))
		return err_set(
		    err, ERR_INVALID,
		    "line %d: command must be one of \"from\", \"license\", \"template\", "
		    "\"system\", \"adapter\", \"renderer\", \"parser\", \"parameter\", "
		    "\"message\", or \"requires\"",
		    *line);
	char *key = NULL;
	if (!strcmp(name, "parameter") || !strcmp(name, "message")) {
		const char *k = read_word(pp, end, &n);
		if (!n)
			return err_set(err, ERR_INVALID, "line %d: missing %s for %s", *line,
			               name[0] == 'p' ? "name" : "role", name);
		key = xstrndup(k, n);
	}
	char *value = read_value(pp, end, line, err);
	if (!value) {
		free(key);
		return ERR_INVALID;
	}
	if (!*value && strcmp(name, "system") && strcmp(name, "template")) {
		free(key);
		free(value);
		return err_set(err, ERR_INVALID, "line %d: missing value for %s", *line, name);
	}
	add_cmd(mf, name, key, value);
	return 0;
}

int ollama_modelfile_parse(const char *text, size_t len, struct ollama_modelfile *mf,
                           char err[ERR_MSG_LEN])
{
	memset(mf, 0, sizeof *mf);
	const char *p = text, *end = text + len;
	int line = 1;
	bool from = false;
	while (p < end) {
		if (*p == '\n') {
			line++;
			p++;
			continue;
		}
		if (is_blank(*p)) {
			p++;
			continue;
		}
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		int rc = parse_one(mf, &p, end, &line, err);
		if (rc) {
			ollama_modelfile_release(mf);
			return rc;
		}
		from |= !strcmp(mf->cmds[mf->n - 1].name, "from");
	}
	if (!from) {
		ollama_modelfile_release(mf);
		return err_set(err, ERR_INVALID, "no FROM line");
	}
	return 0;
}

void ollama_modelfile_release(struct ollama_modelfile *mf)
{
	for (int i = 0; i < mf->n; i++) {
		free(mf->cmds[i].key);
		free(mf->cmds[i].value);
	}
	free(mf->cmds);
	memset(mf, 0, sizeof *mf);
}

static cJSON *typed(enum param_type t, const char *v, char err[ERR_MSG_LEN])
{
	int64_t i;
	double d;
	switch (t) {
	case P_INT:
		if (str_to_i64(v, &i))
			return cJSON_CreateNumber((double)i);
		err_set(err, ERR_INVALID, "invalid int value [%s]", v);
		return NULL;
	case P_FLOAT:
		if (str_to_double(v, &d))
			return cJSON_CreateNumber(d);
		err_set(err, ERR_INVALID, "invalid float value [%s]", v);
		return NULL;
	case P_BOOL:
		if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "t"))
			return cJSON_CreateTrue();
		if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "f"))
			return cJSON_CreateFalse();
		err_set(err, ERR_INVALID, "invalid bool value [%s]", v);
		return NULL;
	case P_STRINGS: break;
	}
	return NULL;
}

cJSON *ollama_modelfile_param(const char *key, const char *const *values, int n,
                              char err[ERR_MSG_LEN])
{
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		if (strcmp(params[i].name, key))
			continue;
		if (params[i].type == P_STRINGS) {
			cJSON *a = cJSON_CreateArray();
			for (int k = 0; k < n; k++)
				cJSON_AddItemToArray(a, cJSON_CreateString(values[k]));
			return a;
		}
		if (n < 1) {
			err_set(err, ERR_INVALID, "missing value for parameter '%s'", key);
			return NULL;
		}
		return typed(params[i].type, values[n - 1], err);
	}
	err_set(err, ERR_INVALID, "unknown parameter '%s'", key);
	return NULL;
}

/* Collects every PARAMETER key's values (repeats make a list) into obj. */
static int add_parameters(const struct ollama_modelfile *mf, cJSON *obj, char err[ERR_MSG_LEN])
{
	const char **vals = xcalloc((size_t)mf->n + 1, sizeof *vals);
	int rc = 0;
	for (int i = 0; i < mf->n && !rc; i++) {
		const struct ollama_modelfile_cmd *c = &mf->cmds[i];
		if (strcmp(c->name, "parameter") || cJSON_GetObjectItemCaseSensitive(obj, c->key))
			continue;
		int n = 0;
		for (int k = i; k < mf->n; k++)
			if (!strcmp(mf->cmds[k].name, "parameter") &&
			    !strcmp(mf->cmds[k].key, c->key))
				vals[n++] = mf->cmds[k].value;
		cJSON *v = ollama_modelfile_param(c->key, vals, n, err);
		if (!v)
			rc = ERR_INVALID;
		else
			cJSON_AddItemToObject(obj, c->key, v);
	}
	free(vals);
	return rc;
}

static void set_str(cJSON *req, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(req, key);
	cJSON_AddStringToObject(req, key, v);
}

int ollama_modelfile_request(const struct ollama_modelfile *mf, cJSON *req, char err[ERR_MSG_LEN])
{
	cJSON *licenses = NULL, *messages = NULL, *parameters = cJSON_CreateObject();
	for (int i = 0; i < mf->n; i++) {
		const struct ollama_modelfile_cmd *c = &mf->cmds[i];
		if (!strcmp(c->name, "template") || !strcmp(c->name, "system") ||
		    !strcmp(c->name, "requires") || !strcmp(c->name, "renderer") ||
		    !strcmp(c->name, "parser")) {
			set_str(req, c->name, c->value);
		} else if (!strcmp(c->name, "license")) {
			if (!licenses)
				licenses = cJSON_AddArrayToObject(req, "license");
			cJSON_AddItemToArray(licenses, cJSON_CreateString(c->value));
		} else if (!strcmp(c->name, "message")) {
			if (strcmp(c->key, "system") && strcmp(c->key, "user") &&
			    strcmp(c->key, "assistant")) {
				cJSON_Delete(parameters);
				return err_set(
				    err, ERR_INVALID,
				    "message role must be one of \"system\", \"user\", or "
				    "\"assistant\"");
			}
			if (!messages)
				messages = cJSON_AddArrayToObject(req, "messages");
			cJSON *m = cJSON_CreateObject();
			cJSON_AddStringToObject(m, "role", c->key);
			cJSON_AddStringToObject(m, "content", c->value);
			cJSON_AddItemToArray(messages, m);
		}
	}
	if (add_parameters(mf, parameters, err)) {
		cJSON_Delete(parameters);
		return ERR_INVALID;
	}
	if (cJSON_GetArraySize(parameters) > 0)
		cJSON_AddItemToObject(req, "parameters", parameters);
	else
		cJSON_Delete(parameters);
	return 0;
}
