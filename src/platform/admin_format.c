/* admin_format.c — gcloud's --format: parsing the format string, resolving
 * projection keys against a resource, and the value/csv/table/json printers
 * (gcloud topic formats, topic projections). YAML in and out lives in
 * admin_format_yaml.c. Transforms (`.scope()`, `.date()`) and `[]` list
 * slices are not supported: such a key reads as missing. */
#include "platform/admin_format.h"

#include "base/json.h"
#include "base/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum admin_format_kind kind;
	bool wants_keys;
} kinds[] = {
    {"json", ADMIN_FORMAT_JSON, false},   {"yaml", ADMIN_FORMAT_YAML, false},
    {"export", ADMIN_FORMAT_YAML, false}, {"value", ADMIN_FORMAT_VALUE, true},
    {"csv", ADMIN_FORMAT_CSV, true},      {"table", ADMIN_FORMAT_TABLE, true},
    {"none", ADMIN_FORMAT_NONE, false},   {"default", ADMIN_FORMAT_DEFAULT, false},
};

/* Length of s up to the first top-level stop character (outside quotes and
 * brackets), or to the end. */
static size_t scan(const char *s, size_t n, const char *stops)
{
	char quote = 0;
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '\'' || c == '"') {
			quote = c;
		} else if (c == '[' || c == '(') {
			depth++;
		} else if ((c == ']' || c == ')') && depth > 0) {
			depth--;
		} else if (depth == 0 && strchr(stops, c)) {
			return i;
		}
	}
	return n;
}

static char *trimmed_dup(const char *s, size_t n)
{
	struct slice t = slice_trim((struct slice){s, n});
	return xstrndup(t.p, t.n);
}

static int parse_attrs(const char *s, size_t n, struct admin_format *f, char err[ERR_MSG_LEN])
{
	while (n > 0) {
		size_t k = scan(s, n, ",");
		char *a = trimmed_dup(s, k);
		size_t l = strlen(a);
		if (!strncmp(a, "separator=", 10) && l > 12 && (a[10] == '\'' || a[10] == '"') &&
		    a[l - 1] == a[10] && l - 12 < sizeof f->separator) {
			snprintf(f->separator, sizeof f->separator, "%.*s", (int)(l - 12), a + 11);
		} else if (!strncmp(a, "separator=", 10) && l - 10 < sizeof f->separator) {
			snprintf(f->separator, sizeof f->separator, "%s", a + 10);
		} else if (!strcmp(a, "no-heading")) {
			f->no_heading = true;
		} else if (!strcmp(a, "separator") || !strncmp(a, "separator=", 10)) {
			free(a);
			return err_set(err, ERR_INVALID, "--format: bad separator attribute");
		}
		/* other attributes (box, title, ...) change nothing here */
		free(a);
		s += k < n ? k + 1 : k;
		n -= k < n ? k + 1 : k;
	}
	return 0;
}

static int parse_key(const char *s, size_t n, struct admin_format *f, char err[ERR_MSG_LEN])
{
	if (f->n_keys == ADMIN_FORMAT_KEYS_MAX)
		return err_set(err, ERR_TOO_LARGE, "--format: more than %d keys",
		               ADMIN_FORMAT_KEYS_MAX);
	size_t k = scan(s, n, ":");
	struct admin_format_key *key = &f->keys[f->n_keys];
	key->path = trimmed_dup(s, k);
	key->label = NULL;
	f->n_keys++;
	if (!key->path[0])
		return err_set(err, ERR_INVALID, "--format: empty key");
	while (k < n) {
		s += k + 1;
		n -= k + 1;
		k = scan(s, n, ":");
		char *a = trimmed_dup(s, k);
		if (!strncmp(a, "label=", 6)) {
			free(key->label);
			size_t l = strlen(a + 6);
			char *v = a + 6;
			if (l >= 2 && (v[0] == '\'' || v[0] == '"') && v[l - 1] == v[0])
				key->label = xstrndup(v + 1, l - 2);
			else
				key->label = xstrdup(v);
		}
		free(a);
	}
	return 0;
}

static int parse_keys(const char *s, size_t n, struct admin_format *f, char err[ERR_MSG_LEN])
{
	while (n > 0) {
		size_t k = scan(s, n, ",");
		struct slice t = slice_trim((struct slice){s, k});
		if (t.n > 0) {
			int rc = parse_key(t.p, t.n, f, err);
			if (rc)
				return rc;
		}
		s += k < n ? k + 1 : k;
		n -= k < n ? k + 1 : k;
	}
	return 0;
}

static int parse_body(const char *s, struct admin_format *f, char err[ERR_MSG_LEN])
{
	size_t len = strlen(s), name_n = strcspn(s, "[(");
	struct slice name = slice_trim((struct slice){s, name_n});
	size_t i;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (slice_eq(name, kinds[i].name))
			break;
	if (i == sizeof kinds / sizeof kinds[0])
		return err_set(err, ERR_INVALID,
		               "--format: unknown format '%.*s' (json, yaml, value(...), "
		               "csv(...), table(...))",
		               (int)name.n, name.p);
	f->kind = kinds[i].kind;
	snprintf(f->separator, sizeof f->separator, "%s", f->kind == ADMIN_FORMAT_CSV ? "," : "\t");
	const char *p = s + name_n, *end = s + len;
	int rc = 0;
	if (p < end && *p == '[') {
		size_t k = scan(p + 1, (size_t)(end - p - 1), "]");
		if (p + 1 + k >= end)
			return err_set(err, ERR_INVALID, "--format: '[' without ']'");
		rc = parse_attrs(p + 1, k, f, err);
		p += k + 2;
	}
	if (!rc && p < end && *p == '(') {
		size_t k = scan(p + 1, (size_t)(end - p - 1), ")");
		if (p + 1 + k >= end)
			return err_set(err, ERR_INVALID, "--format: '(' without ')'");
		rc = parse_keys(p + 1, k, f, err);
		p += k + 2;
	}
	if (!rc && slice_trim((struct slice){p, (size_t)(end - p)}).n)
		rc = err_set(err, ERR_INVALID, "--format: unexpected '%s'", p);
	if (!rc && kinds[i].wants_keys && f->n_keys == 0)
		rc = err_set(err, ERR_INVALID,
		             "--format: %s() needs at least one key, as in "
		             "%s(status.url)",
		             kinds[i].name, kinds[i].name);
	return rc;
}

int admin_format_parse(const char *s, struct admin_format *f, char err[ERR_MSG_LEN])
{
	memset(f, 0, sizeof *f);
	snprintf(f->separator, sizeof f->separator, "\t");
	if (!s || !s[0])
		return 0;
	int rc = parse_body(s, f, err);
	if (rc)
		admin_format_release(f);
	return rc;
}

void admin_format_release(struct admin_format *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n_keys; i++) {
		free(f->keys[i].path);
		free(f->keys[i].label);
	}
	memset(f, 0, sizeof *f);
}

/* ---- key resolution ---- */

/* One name segment at *p: quoted, or up to '.' / '['. Into out (cap). */
static bool segment(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	size_t n = 0;
	if (*s == '\'' || *s == '"') {
		const char *e = strchr(s + 1, *s);
		if (!e || (size_t)(e - s - 1) >= cap)
			return false;
		n = (size_t)(e - s - 1);
		memcpy(out, s + 1, n);
		*p = e + 1;
	} else {
		n = strcspn(s, ".[");
		if (n == 0 || n >= cap)
			return false;
		memcpy(out, s, n);
		*p = s + n;
	}
	out[n] = 0;
	return true;
}

static const cJSON *index_of(const cJSON *j, const char **p)
{
	char *end;
	long i = strtol(*p + 1, &end, 10);
	if (end == *p + 1 || *end != ']' || !cJSON_IsArray(j))
		return NULL;
	*p = end + 1;
	int n = cJSON_GetArraySize(j);
	if (i < 0)
		i += n;
	return i < 0 || i >= n ? NULL : cJSON_GetArrayItem(j, (int)i);
}

const cJSON *admin_format_get(const cJSON *j, const char *path)
{
	const char *p = path;
	char name[256];
	while (j && *p) {
		if (*p == '[') {
			j = index_of(j, &p);
			if (*p == '.')
				p++;
			continue;
		}
		if (!segment(&p, name, sizeof name) || !cJSON_IsObject(j))
			return NULL;
		j = cJSON_GetObjectItemCaseSensitive(j, name);
		if (*p == '.')
			p++;
		else if (*p && *p != '[')
			return NULL;
	}
	return j;
}

static void number(double v, struct buf *out)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9.007199254740992e15)
		buf_printf(out, "%.0f", v);
	else
		buf_printf(out, "%.17g", v);
}

void admin_format_scalar(const cJSON *j, struct buf *out)
{
	const cJSON *it;
	bool first = true;
	if (!j || cJSON_IsNull(j))
		return;
	if (cJSON_IsBool(j)) {
		buf_puts(out, cJSON_IsTrue(j) ? "True" : "False");
	} else if (cJSON_IsNumber(j)) {
		number(j->valuedouble, out);
	} else if (cJSON_IsString(j)) {
		buf_puts(out, j->valuestring);
	} else if (cJSON_IsArray(j)) {
		cJSON_ArrayForEach(it, j)
		{
			if (!first)
				buf_putc(out, ';');
			first = false;
			admin_format_scalar(it, out);
		}
	} else if (cJSON_IsObject(j)) {
		cJSON_ArrayForEach(it, j)
		{
			if (!first)
				buf_putc(out, ';');
			first = false;
			buf_printf(out, "%s=", it->string);
			admin_format_scalar(it, out);
		}
	}
}

/* ---- value, csv, table ---- */

/* gcloud's default heading: the last name of the key, snake_case, upper. */
static void heading(const struct admin_format_key *k, bool upper, struct buf *out)
{
	if (k->label) {
		buf_puts(out, k->label);
		return;
	}
	const char *p = k->path;
	char name[256] = "";
	while (*p) {
		if (*p == '[') {
			const char *e = strchr(p, ']');
			p = e ? e + 1 : p + strlen(p);
			continue;
		}
		if (!segment(&p, name, sizeof name))
			break;
		if (*p == '.')
			p++;
	}
	for (const char *c = name; *c; c++) {
		if (upper && isupper((unsigned char)*c) && c > name)
			buf_putc(out, '_');
		buf_putc(out, upper ? (char)toupper((unsigned char)*c) : *c);
	}
}

static void csv_cell(const char *s, const char *sep, struct buf *out)
{
	if (!strpbrk(s, "\"\n\r") && !strstr(s, sep)) {
		buf_puts(out, s);
		return;
	}
	buf_putc(out, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_putc(out, '"');
		buf_putc(out, *s);
	}
	buf_putc(out, '"');
}

static void line(const struct admin_format *f, const cJSON *r, struct buf *out)
{
	struct buf v = BUF_INIT;
	for (int i = 0; i < f->n_keys; i++) {
		if (i)
			buf_puts(out, f->separator);
		buf_reset(&v);
		admin_format_scalar(admin_format_get(r, f->keys[i].path), &v);
		if (f->kind == ADMIN_FORMAT_CSV)
			csv_cell(v.data ? v.data : "", f->separator, out);
		else
			buf_puts(out, v.data ? v.data : "");
	}
	buf_putc(out, '\n');
	buf_release(&v);
}

/* Display columns of UTF-8 text: code points (no wide characters here). */
static size_t cols(const struct buf *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		n += ((unsigned char)b->data[i] & 0xc0) != 0x80;
	return n;
}

static void table(const struct admin_format *f, const cJSON *const *rs, int n, struct buf *out)
{
	int rows = n + (f->no_heading ? 0 : 1), nk = f->n_keys;
	struct buf *cells = xcalloc((size_t)rows * (size_t)nk, sizeof *cells);
	size_t *w = xcalloc((size_t)nk, sizeof *w);
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < nk; k++) {
			struct buf *c = &cells[r * nk + k];
			if (!f->no_heading && r == 0)
				heading(&f->keys[k], true, c);
			else
				admin_format_scalar(
				    admin_format_get(rs[r - (f->no_heading ? 0 : 1)],
				                     f->keys[k].path),
				    c);
			if (cols(c) > w[k])
				w[k] = cols(c);
		}
	for (int r = 0; r < rows; r++) {
		for (int k = 0; k < nk; k++) {
			const struct buf *c = &cells[r * nk + k];
			buf_puts(out, c->data ? c->data : "");
			for (size_t pad = cols(c); k + 1 < nk && pad < w[k] + 2; pad++)
				buf_putc(out, ' ');
		}
		buf_putc(out, '\n');
	}
	for (int i = 0; i < rows * nk; i++)
		buf_release(&cells[i]);
	free(cells);
	free(w);
}

static void csv_heading(const struct admin_format *f, struct buf *out)
{
	struct buf h = BUF_INIT;
	for (int k = 0; k < f->n_keys; k++) {
		if (k)
			buf_puts(out, f->separator);
		buf_reset(&h);
		heading(&f->keys[k], false, &h);
		csv_cell(h.data ? h.data : "", f->separator, out);
	}
	buf_putc(out, '\n');
	buf_release(&h);
}

void admin_format_render(const struct admin_format *f, const cJSON *j, bool list, struct buf *out)
{
	int n = list ? cJSON_GetArraySize(j) : 1;
	const cJSON **rs = xcalloc((size_t)(n > 0 ? n : 1), sizeof *rs);
	for (int i = 0; i < n; i++)
		rs[i] = list ? cJSON_GetArrayItem(j, i) : j;
	switch (f->kind) {
	case ADMIN_FORMAT_JSON:
		admin_format_json(j, out);
		buf_putc(out, '\n');
		break;
	case ADMIN_FORMAT_YAML:
		for (int i = 0; i < n; i++) {
			if (i)
				buf_puts(out, "---\n");
			admin_format_yaml(rs[i], out, NULL);
		}
		break;
	case ADMIN_FORMAT_VALUE:
		for (int i = 0; i < n; i++)
			line(f, rs[i], out);
		break;
	case ADMIN_FORMAT_CSV:
		if (!f->no_heading)
			csv_heading(f, out);
		for (int i = 0; i < n; i++)
			line(f, rs[i], out);
		break;
	case ADMIN_FORMAT_TABLE:
		if (n > 0)
			table(f, rs, n, out);
		break;
	default: break;
	}
	free(rs);
}

/* ---- gcloud's JSON ---- */

static int key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(x->string, y->string);
}

static void indent(int depth, struct buf *out)
{
	buf_putc(out, '\n');
	for (int i = 0; i < depth; i++)
		buf_puts(out, "  ");
}

static void json_value(const cJSON *j, int depth, struct buf *out);

static void json_object(const cJSON *j, int depth, struct buf *out)
{
	int n = cJSON_GetArraySize(j), i = 0;
	if (n == 0) {
		buf_puts(out, "{}");
		return;
	}
	const cJSON **items = xcalloc((size_t)n, sizeof *items), *it;
	cJSON_ArrayForEach(it, j)
	{
		items[i++] = it;
	}
	qsort(items, (size_t)n, sizeof *items, key_cmp);
	buf_putc(out, '{');
	for (i = 0; i < n; i++) {
		indent(depth + 1, out);
		json_append_str(out, items[i]->string, strlen(items[i]->string));
		buf_puts(out, ": ");
		json_value(items[i], depth + 1, out);
		if (i + 1 < n)
			buf_putc(out, ',');
	}
	indent(depth, out);
	buf_putc(out, '}');
	free(items);
}

static void json_value(const cJSON *j, int depth, struct buf *out)
{
	const cJSON *it;
	if (cJSON_IsObject(j)) {
		json_object(j, depth, out);
	} else if (cJSON_IsArray(j)) {
		if (!j->child) {
			buf_puts(out, "[]");
			return;
		}
		buf_putc(out, '[');
		cJSON_ArrayForEach(it, j)
		{
			indent(depth + 1, out);
			json_value(it, depth + 1, out);
			if (it->next)
				buf_putc(out, ',');
		}
		indent(depth, out);
		buf_putc(out, ']');
	} else if (cJSON_IsString(j)) {
		json_append_str(out, j->valuestring, strlen(j->valuestring));
	} else if (cJSON_IsNumber(j)) {
		number(j->valuedouble, out);
	} else if (cJSON_IsBool(j)) {
		buf_puts(out, cJSON_IsTrue(j) ? "true" : "false");
	} else {
		buf_puts(out, "null");
	}
}

void admin_format_json(const cJSON *j, struct buf *out)
{
	json_value(j, 0, out);
}
