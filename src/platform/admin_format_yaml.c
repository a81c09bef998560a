/* admin_format_yaml.c — JSON values as block YAML and one YAML document as
 * JSON, through libyaml (YAML 1.1 event and document APIs). Used by
 * `--format yaml` and to turn knative_export's YAML into the admin API's
 * JSON so both spell a service the same way. Core-schema typing only:
 * null/~/empty, true/false, integers and floats; tags and aliases are not
 * interpreted (aliases are refused: no billion laughs). */
#include "platform/admin_format.h"

#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct em {
	yaml_emitter_t e;
	yaml_event_t ev;
	bool failed;
};

static void emit(struct em *m)
{
	if (!m->failed && !yaml_emitter_emit(&m->e, &m->ev))
		m->failed = true;
}

static bool is_number(const char *s)
{
	char *end;
	if (!s[0] || strchr(" \t", s[0]))
		return false;
	double v = strtod(s, &end);
	(void)v;
	return *end == 0;
}

/* A plain scalar s would not read back as the string s. */
static bool typed(const char *s)
{
	static const char *words[] = {
	    "y",    "Y",    "yes",  "Yes",   "YES",   "n",     "N",    "no",   "No",   "NO",
	    "true", "True", "TRUE", "false", "False", "FALSE", "on",   "On",   "ON",   "off",
	    "Off",  "OFF",  "null", "Null",  "NULL",  "~",     ".nan", ".inf", "-.inf"};
	if (!s[0] || is_number(s))
		return true;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static void scalar(struct em *m, const char *s, bool quote_if_typed)
{
	yaml_scalar_style_t st =
	    quote_if_typed && typed(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;
	yaml_scalar_event_initialize(&m->ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1,
	                             quote_if_typed, st);
	emit(m);
}

static void node(struct em *m, const cJSON *j, int depth)
{
	const cJSON *it;
	char b[64];
	if (depth > ADMIN_FORMAT_DEPTH_MAX) {
		m->failed = true;
		return;
	}
	if (cJSON_IsObject(j)) {
		yaml_mapping_start_event_initialize(&m->ev, NULL, NULL, 1,
		                                    YAML_BLOCK_MAPPING_STYLE);
		emit(m);
		cJSON_ArrayForEach(it, j)
		{
			scalar(m, it->string, true);
			node(m, it, depth + 1);
		}
		yaml_mapping_end_event_initialize(&m->ev);
		emit(m);
	} else if (cJSON_IsArray(j)) {
		yaml_sequence_start_event_initialize(&m->ev, NULL, NULL, 1,
		                                     YAML_BLOCK_SEQUENCE_STYLE);
		emit(m);
		cJSON_ArrayForEach(it, j)
		{
			node(m, it, depth + 1);
		}
		yaml_sequence_end_event_initialize(&m->ev);
		emit(m);
	} else if (cJSON_IsString(j)) {
		scalar(m, j->valuestring, true);
	} else if (cJSON_IsNumber(j)) {
		double v = j->valuedouble;
		if (isfinite(v) && v == floor(v) && fabs(v) < 9.007199254740992e15)
			snprintf(b, sizeof b, "%.0f", v);
		else
			snprintf(b, sizeof b, "%.17g", v);
		scalar(m, b, false);
	} else if (cJSON_IsBool(j)) {
		scalar(m, cJSON_IsTrue(j) ? "true" : "false", false);
	} else {
		scalar(m, "null", false);
	}
}

static int write_out(void *data, unsigned char *p, size_t n)
{
	buf_append(data, p, n);
	return 1;
}

int admin_format_yaml(const cJSON *j, struct buf *out, char err[ERR_MSG_LEN])
{
	struct em m = {.failed = false};
	if (!yaml_emitter_initialize(&m.e))
		return err_set(err, ERR_NOMEM, "YAML emitter: out of memory");
	yaml_emitter_set_output(&m.e, write_out, out);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, -1);
	yaml_stream_start_event_initialize(&m.ev, YAML_UTF8_ENCODING);
	emit(&m);
	yaml_document_start_event_initialize(&m.ev, NULL, NULL, NULL, 1);
	emit(&m);
	node(&m, j, 0);
	yaml_document_end_event_initialize(&m.ev, 1);
	emit(&m);
	yaml_stream_end_event_initialize(&m.ev);
	emit(&m);
	int rc = m.failed ? err_set(err, ERR_INVALID, "YAML emitter: %s",
	                            m.e.problem ? m.e.problem : "nesting too deep")
	                  : 0;
	yaml_emitter_delete(&m.e);
	return rc;
}

/* ---- YAML to JSON ---- */

static cJSON *plain_scalar(const char *s)
{
	static const char *t[] = {"true", "True", "TRUE"}, *f[] = {"false", "False", "FALSE"};
	static const char *nul[] = {"", "~", "null", "Null", "NULL"};
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, nul[i]))
			return cJSON_CreateNull();
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, t[i]))
			return cJSON_CreateTrue();
		if (!strcmp(s, f[i]))
			return cJSON_CreateFalse();
	}
	char *end;
	if (s[0] && !strchr(" \t", s[0]) && strcspn(s, "0123456789") < strlen(s)) {
		double v = strtod(s, &end);
		if (*end == 0 && isfinite(v) && !strpbrk(s, "xX"))
			return cJSON_CreateNumber(v);
	}
	return cJSON_CreateString(s);
}

static cJSON *to_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *err)
{
	if (!n) {
		err_set(err, ERR_INVALID, "YAML: dangling node");
		return NULL;
	}
	if (depth > ADMIN_FORMAT_DEPTH_MAX) {
		err_set(err, ERR_TOO_LARGE, "YAML: nested deeper than %d", ADMIN_FORMAT_DEPTH_MAX);
		return NULL;
	}
	if (n->type == YAML_SCALAR_NODE) {
		const char *s = (const char *)n->data.scalar.value;
		if (strlen(s) != n->data.scalar.length) {
			err_set(err, ERR_INVALID, "YAML: a scalar holds a NUL byte");
			return NULL;
		}
		return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(s)
		                                                       : cJSON_CreateString(s);
	}
	cJSON *o;
	if (n->type == YAML_SEQUENCE_NODE) {
		o = cJSON_CreateArray();
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			cJSON *c = to_json(doc, yaml_document_get_node(doc, *i), depth + 1, err);
			if (!c)
				goto out_fail;
			cJSON_AddItemToArray(o, c);
		}
		return o;
	}
	o = cJSON_CreateObject();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (!k || k->type != YAML_SCALAR_NODE) {
			err_set(err, ERR_INVALID, "YAML: a mapping key is not a string");
			goto out_fail;
		}
		cJSON *c = to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, err);
		if (!c)
			goto out_fail;
		cJSON_AddItemToObject(o, (const char *)k->data.scalar.value, c);
	}
	return o;
out_fail:
	cJSON_Delete(o);
	return NULL;
}

/* Aliases would let a small document expand without bound: refuse them. */
static bool has_alias(const char *yaml, size_t len, char *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	bool alias = false, done = false;
	if (!yaml_parser_initialize(&p))
		return true;
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	while (!done && !alias) {
		if (!yaml_parser_parse(&p, &ev))
			break; /* the loader reports the syntax error */
		alias = ev.type == YAML_ALIAS_EVENT;
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (alias)
		err_set(err, ERR_UNSUPPORTED, "YAML: aliases (*name) are not supported");
	return alias;
}

cJSON *admin_format_yaml_to_json(const char *yaml, size_t len, char err[ERR_MSG_LEN])
{
	yaml_parser_t p;
	yaml_document_t doc;
	cJSON *out = NULL;
	if (has_alias(yaml, len, err))
		return NULL;
	if (!yaml_parser_initialize(&p)) {
		err_set(err, ERR_NOMEM, "YAML parser: out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, &doc)) {
		err_set(err, ERR_INVALID, "YAML: %s at line %zu", p.problem ? p.problem : "error",
		        p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		return NULL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	out = root ? to_json(&doc, root, 0, err) : cJSON_CreateNull();
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return out;
}
