/* server_format.c — Ollama's "format" (and OpenAI's response_format) compiled
 * into an engine constraint program (engine/constrain.h): "json" is any
 * object; a JSON Schema object is compiled from the subset Ollama's grammar
 * converter covers: type (one or a list), properties + required (in schema
 * order; no other members), items, minItems/maxItems, enum, const,
 * anyOf/oneOf, allOf of one schema, and local $ref (JSON pointers into the
 * schema, as pydantic's "#/$defs/Name"), expanded in place; a recursive $ref
 * is refused; string minLength/maxLength; integer minimum/maximum and
 * their exclusive forms. Patterns and bounds of "number" are not enforced. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "engine/constrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) (snprintf(err, ERR_MSG_LEN, __VA_ARGS__), ERR_INVALID)

#define REF_NEST_MAX 16 /* $refs being expanded inside each other */
#define REF_USES_MAX                                                                               \
	256 /* $ref expansions in one schema (bounds a schema that                                 \
	     * references one definition many times over) */

/* A compile: the program, the whole schema for $ref, the $ref targets now
 * being expanded (to refuse recursion), the expansions so far. */
struct fctx {
	struct constrain_prog *p;
	const cJSON *root;
	const cJSON *active[REF_NEST_MAX];
	int n_active, uses;
};

static int32_t compile(struct fctx *c, const cJSON *s, int depth, char *err);

/* A LITERAL node of the JSON texts of vals (one value or an array). */
static int32_t literals(struct fctx *c, const cJSON *vals, bool many, char *err)
{
	struct constrain_prog *p = c->p;
	int32_t n = constrain_prog_node(p, CONSTRAIN_LITERAL);
	if (many && (!cJSON_IsArray(vals) || cJSON_GetArraySize(vals) == 0))
		return FAIL("enum must be a non-empty array");
	for (const cJSON *v = many ? vals->child : vals; n >= 0 && v; v = many ? v->next : NULL) {
		char *txt = cJSON_PrintUnformatted(v);
		int rc = txt ? constrain_prog_literal(p, n, txt, strlen(txt)) : ERR_NOMEM;
		free(txt);
		if (rc)
			return rc;
	}
	return n;
}

static int32_t object(struct fctx *c, const cJSON *s, int depth, char *err)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
	if (props && !cJSON_IsObject(props))
		return FAIL("properties must be an object");
	int32_t obj = constrain_prog_node(c->p, CONSTRAIN_OBJECT);
	for (const cJSON *pr = props ? props->child : NULL; obj >= 0 && pr; pr = pr->next) {
		int32_t v = compile(c, pr, depth + 1, err);
		if (v < 0)
			return v;
		bool required = false;
		for (const cJSON *r = cJSON_IsArray(req) ? req->child : NULL; r; r = r->next)
			required |= cJSON_IsString(r) && !strcmp(r->valuestring, pr->string);
		cJSON *name = cJSON_CreateString(pr->string);
		char *key = name ? cJSON_PrintUnformatted(name) : NULL;
		int rc =
		    key ? constrain_prog_prop(c->p, obj, key, strlen(key), required, v) : ERR_NOMEM;
		free(key);
		cJSON_Delete(name);
		if (rc)
			return rc;
	}
	return obj;
}

static int32_t array(struct fctx *c, const cJSON *s, int depth, char *err)
{
	struct constrain_prog *p = c->p;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
	int32_t arr = constrain_prog_node(p, CONSTRAIN_ARRAY);
	int32_t it = items ? compile(c, items, depth + 1, err) : 0; /* 0: any value */
	double mn = json_num(s, "minItems", 0), mx = json_num(s, "maxItems", -1);
	if (arr < 0 || it < 0)
		return arr < 0 ? arr : it;
	if (mn < 0 || mn > 1000 || mx > 1e6 || (mx >= 0 && mx < mn))
		return FAIL("bad minItems/maxItems");
	return constrain_prog_items(p, arr, it, (int32_t)mn, (int32_t)mx) ? ERR_INVALID : arr;
}

/* A string with its minLength/maxLength. */
static int32_t string(struct fctx *c, const cJSON *s, char *err)
{
	int32_t n = constrain_prog_node(c->p, CONSTRAIN_STRING);
	double mn = json_num(s, "minLength", 0), mx = json_num(s, "maxLength", -1);
	if (n < 0)
		return n;
	if (mn < 0 || mn > 10000 || mx > 1e6 || (mx >= 0 && mx < mn))
		return FAIL("bad minLength/maxLength");
	return constrain_prog_length(c->p, n, (int32_t)mn, (int32_t)mx) ? ERR_INVALID : n;
}

/* An integer within minimum/maximum and exclusiveMinimum/exclusiveMaximum
 * (numbers, or draft 4's booleans that make minimum/maximum exclusive),
 * kept to the 16 digits an integer may have. */
static int32_t integer(struct fctx *c, const cJSON *s, char *err)
{
	const double big = 1e16; /* past the 16 digits; exact as a double */
	double lo = -big, hi = big;
	const cJSON *mn = cJSON_GetObjectItemCaseSensitive(s, "minimum");
	const cJSON *mx = cJSON_GetObjectItemCaseSensitive(s, "maximum");
	const cJSON *xmn = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum");
	const cJSON *xmx = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum");
	if (cJSON_IsNumber(mn))
		lo = cJSON_IsTrue(xmn) ? floor(mn->valuedouble) + 1 : ceil(mn->valuedouble);
	if (cJSON_IsNumber(mx))
		hi = cJSON_IsTrue(xmx) ? ceil(mx->valuedouble) - 1 : floor(mx->valuedouble);
	if (cJSON_IsNumber(xmn))
		lo = fmax(lo, floor(xmn->valuedouble) + 1);
	if (cJSON_IsNumber(xmx))
		hi = fmin(hi, ceil(xmx->valuedouble) - 1);
	if (lo > hi || lo >= big || hi <= -big)
		return FAIL("minimum/maximum leave no integer (or none of at most 16 digits)");
	const int64_t most = 9999999999999999LL;
	int32_t n = constrain_prog_node(c->p, CONSTRAIN_INTEGER);
	if (n < 0)
		return n;
	int rc = constrain_prog_range(c->p, n, lo <= -big ? -most : (int64_t)lo,
	                              hi >= big ? most : (int64_t)hi);
	return rc ? ERR_INVALID : n;
}

/* One named type. */
static int32_t typed(struct fctx *c, const cJSON *s, const char *t, int depth, char *err)
{
	if (!strcmp(t, "object"))
		return object(c, s, depth, err);
	if (!strcmp(t, "array"))
		return array(c, s, depth, err);
	if (!strcmp(t, "string"))
		return string(c, s, err);
	if (!strcmp(t, "number"))
		return constrain_prog_node(c->p, CONSTRAIN_NUMBER);
	if (!strcmp(t, "integer"))
		return integer(c, s, err);
	cJSON *lits = !strcmp(t, "boolean") ? cJSON_Parse("[true,false]")
	              : !strcmp(t, "null")  ? cJSON_Parse("[null]")
	                                    : NULL;
	if (!lits)
		return FAIL("unsupported type \"%.64s\"", t);
	int32_t n = literals(c, lits, true, err);
	cJSON_Delete(lits);
	return n;
}

/* A union of alternatives: a list of type names, or anyOf/oneOf schemas. */
static int32_t alts(struct fctx *c, const cJSON *s, const cJSON *list, bool names, int depth,
                    char *err)
{
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
		return FAIL("type, anyOf and oneOf lists must be non-empty arrays");
	bool has_number = false;
	for (const cJSON *a = list->child; names && a; a = a->next)
		has_number |= cJSON_IsString(a) && !strcmp(a->valuestring, "number");
	int32_t u = constrain_prog_node(c->p, CONSTRAIN_UNION);
	for (const cJSON *a = list->child; u >= 0 && a; a = a->next) {
		if (names && !cJSON_IsString(a))
			return FAIL("type must be a string or a list of strings");
		if (names && has_number && !strcmp(a->valuestring, "integer"))
			continue; /* number already takes integers */
		int32_t ch =
		    names ? typed(c, s, a->valuestring, depth, err) : compile(c, a, depth + 1, err);
		if (ch < 0)
			return ch;
		int rc = constrain_prog_alt(c->p, u, ch);
		if (rc)
			return rc;
	}
	return u;
}

/* The schema a local $ref names: "#" or "#/a/b" (a JSON pointer: "~1" is
 * "/", "~0" is "~", %XX decoded), NULL when there is none. */
static const cJSON *ref_target(const cJSON *root, const char *ref)
{
	if (ref[0] != '#' || (ref[1] && ref[1] != '/'))
		return NULL;
	const cJSON *at = root;
	for (const char *t = ref + 1; at && *t == '/';) {
		char tok[256];
		size_t n = 0;
		for (t++; *t && *t != '/'; t++) {
			char ch = *t;
			unsigned hx;
			if (ch == '~' && (t[1] == '0' || t[1] == '1'))
				ch = *++t == '0' ? '~' : '/';
			else if (ch == '%' && sscanf(t + 1, "%2x", &hx) == 1 && t[1] && t[2])
				ch = (char)hx, t += 2;
			if (n + 1 >= sizeof tok)
				return NULL;
			tok[n++] = ch;
		}
		tok[n] = 0;
		char *end;
		long i = strtol(tok, &end, 10);
		at = cJSON_IsArray(at)
		         ? (n && !*end && i >= 0 ? cJSON_GetArrayItem(at, (int)i) : NULL)
		         : cJSON_GetObjectItemCaseSensitive(at, tok);
	}
	return at;
}

/* Compiles what s's $ref names in place of s. */
static int32_t ref(struct fctx *c, const cJSON *r, int depth, char *err)
{
	if (!cJSON_IsString(r))
		return FAIL("$ref must be a string");
	const cJSON *t = ref_target(c->root, r->valuestring);
	if (!t)
		return FAIL(
		    "$ref \"%.100s\" names nothing in the schema (only local refs, \"#/...\")",
		    r->valuestring);
	for (int i = 0; i < c->n_active; i++)
		if (c->active[i] == t)
			return FAIL(
			    "$ref \"%.100s\" is recursive; recursive schemas are not supported",
			    r->valuestring);
	if (c->n_active == REF_NEST_MAX || ++c->uses > REF_USES_MAX)
		return FAIL("the schema expands to more than %d $ref uses", REF_USES_MAX);
	c->active[c->n_active++] = t;
	int32_t n = compile(c, t, depth, err);
	c->n_active--;
	return n;
}

static int32_t compile(struct fctx *c, const cJSON *s, int depth, char *err)
{
	if (depth > CONSTRAIN_MAX_DEPTH - 4)
		return FAIL("the schema nests too deep");
	if (cJSON_IsTrue(s))
		return 0;
	if (!cJSON_IsObject(s))
		return FAIL("a schema must be an object");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
	const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
	if (!any)
		any = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(s, "allOf");
	if (cJSON_HasObjectItem(s, "$ref")) /* its siblings add no constraint we enforce */
		return ref(c, cJSON_GetObjectItemCaseSensitive(s, "$ref"), depth, err);
	if (all && (!cJSON_IsArray(all) || cJSON_GetArraySize(all) != 1))
		return FAIL("allOf is supported with exactly one schema");
	if (all)
		return compile(c, all->child, depth + 1, err);
	if (cJSON_HasObjectItem(s, "const"))
		return literals(c, cJSON_GetObjectItemCaseSensitive(s, "const"), false, err);
	if (cJSON_HasObjectItem(s, "enum"))
		return literals(c, cJSON_GetObjectItemCaseSensitive(s, "enum"), true, err);
	if (any)
		return alts(c, s, any, false, depth, err);
	if (cJSON_IsString(t))
		return typed(c, s, t->valuestring, depth, err);
	if (t)
		return alts(c, s, t, true, depth, err);
	if (cJSON_HasObjectItem(s, "properties"))
		return object(c, s, depth, err);
	if (cJSON_HasObjectItem(s, "items"))
		return array(c, s, depth, err);
	return 0; /* any value */
}

int format_compile_schema(const cJSON *schema, struct constrain_prog **out, char err[ERR_MSG_LEN])
{
	char why[ERR_MSG_LEN] = "out of memory";
	struct constrain_prog *p = constrain_prog_new();
	struct fctx c = {.p = p, .root = schema};
	int32_t root = p ? compile(&c, schema, 0, why) : ERR_NOMEM;
	if (root == ERR_INVALID && !strcmp(why, "out of memory"))
		snprintf(why, sizeof why, "a keyword has a bad value");
	if (root >= 0 && constrain_prog_finish(p, root, why))
		root = ERR_INVALID;
	if (root < 0) {
		constrain_prog_free(p);
		snprintf(err, ERR_MSG_LEN, "invalid JSON schema in format: %.200s", why);
		return root == ERR_NOMEM ? ERR_NOMEM : ERR_INVALID;
	}
	*out = p;
	return 0;
}

int format_compile(const cJSON *f, struct constrain_prog **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (!f || cJSON_IsNull(f) || (cJSON_IsString(f) && !f->valuestring[0]))
		return 0;
	if (cJSON_IsString(f) && !strcmp(f->valuestring, "json")) {
		*out = constrain_prog_json();
		return *out ? 0 : err_set(err, ERR_NOMEM, "out of memory");
	}
	if (cJSON_IsObject(f))
		return format_compile_schema(f, out, err);
	char *txt = cJSON_PrintUnformatted(f);
	snprintf(err, ERR_MSG_LEN,
	         "invalid format: %.100s; expected \"json\" or a valid JSON Schema object",
	         txt ? txt : "?");
	free(txt);
	return ERR_INVALID;
}
