/* api_modelfile.c — the legacy Modelfile text of /api/create's "modelfile"
 * field (Ollama's parser/parser.go grammar): one command per line (FROM,
 * TEMPLATE, SYSTEM, PARAMETER key value, LICENSE, MESSAGE role text,
 * ADAPTER), case-insensitive, "#" comments, values bare to the end of the
 * line, "quoted" (with \" and \\ escapes) or """triple-quoted""" across
 * lines. PARAMETER values get their option's type. No I/O here. */
#include "ollama/server_internal.h"

#include "base/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void modelfile_release(struct modelfile *mf)
{
	free(mf->from);
	free(mf->template_text);
	free(mf->system);
	for (int i = 0; i < mf->n_licenses; i++)
		free(mf->licenses[i]);
	free(mf->licenses);
	cJSON_Delete(mf->params);
	cJSON_Delete(mf->messages);
	memset(mf, 0, sizeof *mf);
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A word of non-blank characters; *end after it. */
static char *word(const char *p, const char **end)
{
	const char *s = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	*end = p;
	return xstrndup(s, (size_t)(p - s));
}

/* The value at p: """...""", "..." or the rest of the line. */
static int value(const char *p, const char **end, char **out, int line, char err[ERR_MSG_LEN])
{
	if (!strncmp(p, "\"\"\"", 3)) {
		const char *close = strstr(p + 3, "\"\"\"");
		if (!close)
			return err_set(err, ERR_INVALID, "line %d: unterminated \"\"\" string",
			               line);
		*out = xstrndup(p + 3, (size_t)(close - p - 3));
		*end = close + 3;
		return 0;
	}
	if (*p == '"') {
		struct buf b = BUF_INIT;
		const char *q = p + 1;
		for (; *q && *q != '"'; q++) {
			if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
				q++;
			buf_putc(&b, *q);
		}
		if (*q != '"') {
			buf_release(&b);
			return err_set(err, ERR_INVALID, "line %d: unterminated quoted string",
			               line);
		}
		*out = b.data ? buf_steal(&b) : xstrdup("");
		*end = q + 1;
		return 0;
	}
	const char *e = p;
	while (*e && *e != '\n')
		e++;
	const char *t = e;
	while (t > p && isspace((unsigned char)t[-1]))
		t--;
	*out = xstrndup(p, (size_t)(t - p));
	*end = e;
	return 0;
}

static int message(struct modelfile *mf, const char *role, char *text, char err[ERR_MSG_LEN])
{
	if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))
		return err_set(err, ERR_INVALID,
		               "role must be one of \"system\", \"user\", or \"assistant\"");
	if (!mf->messages)
		mf->messages = cJSON_CreateArray();
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", text);
	cJSON_AddItemToArray(mf->messages, m);
	return 0;
}

static int command(struct modelfile *mf, const char *cmd, const char **pp, int line,
                   char err[ERR_MSG_LEN])
{
	const char *p = skip_blank(*pp);
	char *key = NULL, *val = NULL;
	int rc = 0;
	bool keyed = !strcmp(cmd, "parameter") || !strcmp(cmd, "message");
	if (keyed) {
		key = word(p, &p);
		for (char *k = key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		p = skip_blank(p);
	}
	if (keyed && !*key)
		rc = err_set(err, ERR_INVALID, "line %d: %s needs a name and a value", line, cmd);
	if (!rc)
		rc = value(p, &p, &val, line, err);
	if (rc)
		goto out;
	if (!strcmp(cmd, "from")) {
		free(mf->from);
		mf->from = val;
		val = NULL;
	} else if (!strcmp(cmd, "template") || !strcmp(cmd, "system")) {
		char **dst = cmd[0] == 't' ? &mf->template_text : &mf->system;
		free(*dst);
		*dst = val;
		val = NULL;
	} else if (!strcmp(cmd, "license")) {
		mf->licenses =
		    xrealloc(mf->licenses, (size_t)(mf->n_licenses + 1) * sizeof(char *));
		mf->licenses[mf->n_licenses++] = val;
		val = NULL;
	} else if (!strcmp(cmd, "parameter")) {
		if (!mf->params)
			mf->params = cJSON_CreateObject();
		rc = gen_options_param_json(mf->params, key, val, err);
	} else if (!strcmp(cmd, "message")) {
		rc = message(mf, key, val, err);
	} else if (!strcmp(cmd, "adapter")) {
		mf->has_adapter = true;
	}
out:
	free(key);
	free(val);
	*pp = p;
	return rc;
}

static bool known(const char *cmd)
{
	static const char *const cmds[] = {"from",    "license",   "template", "system",
	                                   "adapter", "parameter", "message"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i]))
			return true;
	return false;
}

int modelfile_parse(const char *text, struct modelfile *mf, char err[ERR_MSG_LEN])
{
	memset(mf, 0, sizeof *mf);
	const char *p = text;
	int line = 1, rc = 0;
	while (!rc) {
		while (isspace((unsigned char)*p))
			line += *p++ == '\n';
		if (!*p)
			break;
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		const char *s = p;
		char *cmd = word(p, &p);
		for (char *k = cmd; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		if (!known(cmd))
			rc = err_set(err, ERR_INVALID,
			             "line %d: command must be one of \"from\", \"license\", "
			             "\"template\", \"system\", \"adapter\", \"parameter\", or "
			             "\"message\"",
			             line);
		else
			rc = command(mf, cmd, &p, line, err);
		free(cmd);
		for (; s < p; s++)
			line += *s == '\n';
	}
	if (!rc && !mf->from)
		rc = err_set(err, ERR_INVALID, "no FROM line for the model was specified");
	if (rc)
		modelfile_release(mf);
	return rc;
}
