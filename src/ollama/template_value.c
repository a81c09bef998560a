/* template_value.c — the data a template reads: reference-counted values,
 * their truth, and how they print (fmt's %v, or Go's json.Marshal for values
 * flagged as_json, the way Ollama's tool types print through String()). */
#include "ollama/template_internal.h"

#include "base/gojson.h"
#include "base/mem.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* One nil shared by everyone; its count never reaches zero. */
static struct template_value nil_value = {.refs = INT_MAX / 2, .kind = TEMPLATE_NIL};

static struct template_value *make(enum template_kind kind)
{
	struct template_value *v = xcalloc(1, sizeof *v);
	atomic_init(&v->refs, 1);
	v->kind = kind;
	return v;
}

struct template_value *template_value_nil(void)
{
	return &nil_value;
}

struct template_value *template_value_bool(bool b)
{
	struct template_value *v = make(TEMPLATE_BOOL);
	v->b = b;
	return v;
}

struct template_value *template_value_int(int64_t i)
{
	struct template_value *v = make(TEMPLATE_INT);
	v->i = i;
	return v;
}

struct template_value *template_value_float(double f)
{
	struct template_value *v = make(TEMPLATE_FLOAT);
	v->f = f;
	return v;
}

struct template_value *template_value_strn(const char *s, size_t n)
{
	struct template_value *v = make(TEMPLATE_STRING);
	v->s.p = xmalloc(n + 1);
	if (n)
		memcpy(v->s.p, s, n);
	v->s.p[n] = '\0';
	v->s.n = n;
	return v;
}

struct template_value *template_value_str(const char *s)
{
	return template_value_strn(s ? s : "", s ? strlen(s) : 0);
}

struct template_value *template_value_list(void)
{
	return make(TEMPLATE_LIST);
}

struct template_value *template_value_map(void)
{
	return make(TEMPLATE_MAP);
}

struct template_value *template_value_ref(struct template_value *v)
{
	if (v && v != &nil_value)
		atomic_fetch_add(&v->refs, 1);
	return v;
}

void template_value_free(struct template_value *v)
{
	if (!v || v == &nil_value || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	if (v->kind == TEMPLATE_STRING) {
		free(v->s.p);
	} else if (v->kind == TEMPLATE_LIST) {
		for (size_t i = 0; i < v->list.n; i++)
			template_value_free(v->list.v[i]);
		free(v->list.v);
	} else if (v->kind == TEMPLATE_MAP) {
		for (size_t i = 0; i < v->map.n; i++) {
			free(v->map.keys[i]);
			template_value_free(v->map.vals[i]);
		}
		free(v->map.keys);
		free(v->map.vals);
	}
	free(v);
}

void template_list_append(struct template_value *list, struct template_value *item)
{
	if (!list || list->kind != TEMPLATE_LIST) {
		template_value_free(item);
		return;
	}
	if (list->list.n == list->list.cap) {
		list->list.cap = list->list.cap ? 2 * list->list.cap : 4;
		list->list.v = xrealloc(list->list.v, list->list.cap * sizeof *list->list.v);
	}
	list->list.v[list->list.n++] = item ? item : &nil_value;
}

struct template_value *template_list_get(const struct template_value *list, size_t i)
{
	if (!list || list->kind != TEMPLATE_LIST || i >= list->list.n)
		return NULL;
	return list->list.v[i];
}

size_t template_list_len(const struct template_value *list)
{
	return list && list->kind == TEMPLATE_LIST ? list->list.n : 0;
}

void template_map_set(struct template_value *map, const char *key, struct template_value *v)
{
	if (!map || map->kind != TEMPLATE_MAP) {
		template_value_free(v);
		return;
	}
	v = v ? v : &nil_value;
	for (size_t i = 0; i < map->map.n; i++) {
		if (!strcmp(map->map.keys[i], key)) {
			template_value_free(map->map.vals[i]);
			map->map.vals[i] = v;
			return;
		}
	}
	if (map->map.n == map->map.cap) {
		map->map.cap = map->map.cap ? 2 * map->map.cap : 8;
		map->map.keys = xrealloc(map->map.keys, map->map.cap * sizeof *map->map.keys);
		map->map.vals = xrealloc(map->map.vals, map->map.cap * sizeof *map->map.vals);
	}
	map->map.keys[map->map.n] = xstrdup(key);
	map->map.vals[map->map.n++] = v;
}

struct template_value *template_map_get(const struct template_value *map, const char *key)
{
	if (!map || map->kind != TEMPLATE_MAP)
		return NULL;
	for (size_t i = 0; i < map->map.n; i++)
		if (!strcmp(map->map.keys[i], key))
			return map->map.vals[i];
	return NULL;
}

void template_value_set_json(struct template_value *v, bool as_json)
{
	if (v && (v->kind == TEMPLATE_LIST || v->kind == TEMPLATE_MAP))
		v->as_json = as_json;
}

enum template_kind template_value_kind(const struct template_value *v)
{
	return v ? v->kind : TEMPLATE_NIL;
}

struct template_value *template_value_from_json(const cJSON *j, bool as_json)
{
	if (!j || cJSON_IsNull(j))
		return &nil_value;
	if (cJSON_IsBool(j))
		return template_value_bool(cJSON_IsTrue(j));
	if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		/* the range first: converting a double outside it is undefined */
		if (d > -9.2e18 && d < 9.2e18 && d == (double)(int64_t)d)
			return template_value_int((int64_t)d);
		return template_value_float(d);
	}
	if (cJSON_IsString(j))
		return template_value_str(j->valuestring);
	struct template_value *v = cJSON_IsArray(j) ? template_value_list() : template_value_map();
	v->as_json = as_json;
	const cJSON *c;
	cJSON_ArrayForEach(c, j)
	{
		if (v->kind == TEMPLATE_LIST)
			template_list_append(v, template_value_from_json(c, as_json));
		else
			template_map_set(v, c->string ? c->string : "",
			                 template_value_from_json(c, as_json));
	}
	return v;
}

/* ---- truth, names, printing ---- */

bool tmpl__truth(const struct template_value *v)
{
	if (!v)
		return false;
	switch (v->kind) {
	case TEMPLATE_BOOL: return v->b;
	case TEMPLATE_INT: return v->i != 0;
	case TEMPLATE_FLOAT: return v->f != 0;
	case TEMPLATE_STRING: return v->s.n > 0;
	case TEMPLATE_LIST: return v->list.n > 0;
	case TEMPLATE_MAP: return v->map.n > 0;
	default: return false;
	}
}

const char *tmpl__type_name(const struct template_value *v)
{
	static const char *names[] = {"<nil>",
	                              "bool",
	                              "int",
	                              "float64",
	                              "string",
	                              "[]interface {}",
	                              "map[string]interface {}"};
	return names[v ? v->kind : TEMPLATE_NIL];
}

void tmpl__json(struct buf *out, const struct template_value *v)
{
	switch (v ? v->kind : TEMPLATE_NIL) {
	case TEMPLATE_NIL: buf_puts(out, "null"); return;
	case TEMPLATE_BOOL: buf_puts(out, v->b ? "true" : "false"); return;
	case TEMPLATE_INT: buf_printf(out, "%lld", (long long)v->i); return;
	case TEMPLATE_FLOAT: gojson_append_float(out, v->f); return;
	case TEMPLATE_STRING: gojson_append_str(out, v->s.p, v->s.n); return;
	case TEMPLATE_LIST:
		buf_putc(out, '[');
		for (size_t i = 0; i < v->list.n; i++) {
			if (i)
				buf_putc(out, ',');
			tmpl__json(out, v->list.v[i]);
		}
		buf_putc(out, ']');
		return;
	case TEMPLATE_MAP:
		buf_putc(out, '{');
		for (size_t i = 0; i < v->map.n; i++) {
			if (i)
				buf_putc(out, ',');
			gojson_append_str(out, v->map.keys[i], strlen(v->map.keys[i]));
			buf_putc(out, ':');
			tmpl__json(out, v->map.vals[i]);
		}
		buf_putc(out, '}');
		return;
	}
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

static void print_value(struct buf *out, const struct template_value *v, bool nested);

/* fmt prints maps sorted by key: map[a:1 b:2]. */
static void print_map(struct buf *out, const struct template_value *v)
{
	char ***order = xcalloc(v->map.n + 1, sizeof *order);
	for (size_t i = 0; i < v->map.n; i++)
		order[i] = &v->map.keys[i];
	qsort(order, v->map.n, sizeof *order, cmp_keys);
	buf_puts(out, "map[");
	for (size_t i = 0; i < v->map.n; i++) {
		size_t k = (size_t)(order[i] - v->map.keys);
		if (i)
			buf_putc(out, ' ');
		buf_puts(out, v->map.keys[k]);
		buf_putc(out, ':');
		print_value(out, v->map.vals[k], true);
	}
	buf_putc(out, ']');
	free(order);
}

static void print_value(struct buf *out, const struct template_value *v, bool nested)
{
	if (v && v->as_json) {
		tmpl__json(out, v);
		return;
	}
	switch (v ? v->kind : TEMPLATE_NIL) {
	case TEMPLATE_NIL: buf_puts(out, nested ? "<nil>" : "<no value>"); return;
	case TEMPLATE_BOOL: buf_puts(out, v->b ? "true" : "false"); return;
	case TEMPLATE_INT: buf_printf(out, "%lld", (long long)v->i); return;
	case TEMPLATE_FLOAT: gojson_append_float_v(out, v->f); return;
	case TEMPLATE_STRING: buf_append(out, v->s.p, v->s.n); return;
	case TEMPLATE_LIST:
		buf_putc(out, '[');
		for (size_t i = 0; i < v->list.n; i++) {
			if (i)
				buf_putc(out, ' ');
			print_value(out, v->list.v[i], true);
		}
		buf_putc(out, ']');
		return;
	case TEMPLATE_MAP: print_map(out, v); return;
	}
}

void tmpl__print(struct buf *out, const struct template_value *v)
{
	print_value(out, v, false);
}
