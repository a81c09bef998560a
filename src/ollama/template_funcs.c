/* template_funcs.c — the built-in functions of Go's text/template (funcs.go:
 * not, len, index, slice, eq, ne, lt, le, gt, ge, print, printf, println;
 * and/or are special forms in template_exec.c) and Ollama's additions (json,
 * currentDate, yesterdayDate). Error texts follow Go's "error calling X: ...".
 * printf implements the verbs templates use: %v %s %d %q %t %f %e %g %x %X %c
 * %% with flags, width and precision. */
#include "ollama/template_internal.h"

#include "base/gojson.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct template_value value;

static value *arity(struct tmpl_exec *x, const char *name, int want, int got)
{
	return tmpl__fail(x, "wrong number of args for %s: want %d got %d", name, want, got);
}

static value *fn_not(struct tmpl_exec *x, value **a, int n)
{
	if (n != 1)
		return arity(x, "not", 1, n);
	return template_value_bool(!tmpl__truth(a[0]));
}

static value *fn_len(struct tmpl_exec *x, value **a, int n)
{
	if (n != 1)
		return arity(x, "len", 1, n);
	switch (a[0]->kind) {
	case TEMPLATE_STRING: return template_value_int((int64_t)a[0]->s.n);
	case TEMPLATE_LIST: return template_value_int((int64_t)a[0]->list.n);
	case TEMPLATE_MAP: return template_value_int((int64_t)a[0]->map.n);
	case TEMPLATE_NIL: return tmpl__fail(x, "error calling len: len of nil pointer");
	default: return tmpl__fail(x, "error calling len: len of type %s", tmpl__type_name(a[0]));
	}
}

/* An integer argument in [0, max]. */
static bool int_arg(struct tmpl_exec *x, const value *v, const char *fn, int64_t max, int64_t *out)
{
	if (v->kind != TEMPLATE_INT) {
		tmpl__fail(x, "error calling %s: cannot index slice/array with type %s", fn,
		           tmpl__type_name(v));
		return false;
	}
	if (v->i < 0 || v->i > max) {
		tmpl__fail(x, "error calling %s: index out of range: %lld", fn, (long long)v->i);
		return false;
	}
	*out = v->i;
	return true;
}

/* item[key] for one index step; a new reference, or NULL after an error. */
static value *index_one(struct tmpl_exec *x, const value *item, const value *key)
{
	int64_t k;
	switch (item->kind) {
	case TEMPLATE_LIST:
		if (!int_arg(x, key, "index", (int64_t)item->list.n - 1, &k))
			return NULL;
		return template_value_ref(item->list.v[k]);
	case TEMPLATE_STRING:
		if (!int_arg(x, key, "index", (int64_t)item->s.n - 1, &k))
			return NULL;
		return template_value_int((unsigned char)item->s.p[k]);
	case TEMPLATE_MAP: {
		if (key->kind != TEMPLATE_STRING)
			return tmpl__fail(
			    x, "error calling index: value has type %s; should be string",
			    tmpl__type_name(key));
		value *v = template_map_get(item, key->s.p);
		return v ? template_value_ref(v) : template_value_nil();
	}
	case TEMPLATE_NIL: return tmpl__fail(x, "error calling index: index of untyped nil");
	default:
		return tmpl__fail(x, "error calling index: can't index item of type %s",
		                  tmpl__type_name(item));
	}
}

static value *fn_index(struct tmpl_exec *x, value **a, int n)
{
	if (n < 1)
		return tmpl__fail(x, "wrong number of args for index: want at least 1 got 0");
	value *item = template_value_ref(a[0]);
	for (int i = 1; i < n && item; i++) {
		value *next = index_one(x, item, a[i]);
		template_value_free(item);
		item = next;
	}
	return item;
}

static value *fn_slice(struct tmpl_exec *x, value **a, int n)
{
	if (n < 1)
		return tmpl__fail(x, "wrong number of args for slice: want at least 1 got 0");
	value *item = a[0];
	if (n > 4)
		return tmpl__fail(x, "error calling slice: too many slice indexes: %d", n - 1);
	if (item->kind == TEMPLATE_NIL)
		return tmpl__fail(x, "error calling slice: slice of untyped nil");
	if (item->kind != TEMPLATE_LIST && item->kind != TEMPLATE_STRING)
		return tmpl__fail(x, "error calling slice: can't slice item of type %s",
		                  tmpl__type_name(item));
	if (item->kind == TEMPLATE_STRING && n == 4)
		return tmpl__fail(x, "error calling slice: cannot 3-index slice a string");
	size_t len = item->kind == TEMPLATE_LIST ? item->list.n : item->s.n;
	int64_t idx[3] = {0, (int64_t)len, (int64_t)len};
	for (int i = 1; i < n; i++)
		if (!int_arg(x, a[i], "slice", (int64_t)len, &idx[i - 1]))
			return NULL;
	if (n == 3 && idx[0] > idx[1])
		return tmpl__fail(x, "error calling slice: invalid slice index: %lld > %lld",
		                  (long long)idx[0], (long long)idx[1]);
	if (n == 4 && (idx[0] > idx[1] || idx[1] > idx[2]))
		return tmpl__fail(x, "error calling slice: invalid slice index");
	if (item->kind == TEMPLATE_STRING)
		return template_value_strn(item->s.p + idx[0], (size_t)(idx[1] - idx[0]));
	value *out = template_value_list();
	out->as_json = item->as_json;
	for (int64_t i = idx[0]; i < idx[1]; i++)
		template_list_append(out, template_value_ref(item->list.v[i]));
	return out;
}

/* ---- comparisons (Go's eq/lt rules: same basic kind, or an error) ---- */

enum basic { B_INVALID, B_BOOL, B_INT, B_FLOAT, B_STRING, B_OTHER };

static enum basic basic(const value *v)
{
	switch (v->kind) {
	case TEMPLATE_NIL: return B_INVALID;
	case TEMPLATE_BOOL: return B_BOOL;
	case TEMPLATE_INT: return B_INT;
	case TEMPLATE_FLOAT: return B_FLOAT;
	case TEMPLATE_STRING: return B_STRING;
	default: return B_OTHER;
	}
}

/* -1 error, 0 false, 1 true. */
static int equal(struct tmpl_exec *x, const char *fn, const value *a, const value *b)
{
	enum basic ka = basic(a), kb = basic(b);
	if (ka != kb) {
		if (ka == B_INVALID || kb == B_INVALID)
			return 0;
		tmpl__fail(x, "error calling %s: incompatible types for comparison", fn);
		return -1;
	}
	switch (ka) {
	case B_INVALID: return 1;
	case B_BOOL: return a->b == b->b;
	case B_INT: return a->i == b->i;
	case B_FLOAT: return a->f == b->f;
	case B_STRING: return a->s.n == b->s.n && !memcmp(a->s.p, b->s.p, a->s.n);
	default: return a == b; /* lists and maps: identity, as Go's interface equality */
	}
}

static value *fn_eq(struct tmpl_exec *x, value **a, int n)
{
	if (n < 2)
		return tmpl__fail(x, "error calling eq: missing argument for comparison");
	for (int i = 1; i < n; i++) {
		int r = equal(x, "eq", a[0], a[i]);
		if (r < 0)
			return NULL;
		if (r)
			return template_value_bool(true);
	}
	return template_value_bool(false);
}

static value *fn_ne(struct tmpl_exec *x, value **a, int n)
{
	if (n != 2)
		return arity(x, "ne", 2, n);
	int r = equal(x, "ne", a[0], a[1]);
	return r < 0 ? NULL : template_value_bool(!r);
}

/* <0, 0, >0; *ok false after an error. */
static int order(struct tmpl_exec *x, const char *fn, const value *a, const value *b, bool *ok)
{
	enum basic ka = basic(a), kb = basic(b);
	*ok = false;
	if (ka == B_INVALID || kb == B_INVALID || ka == B_BOOL || ka == B_OTHER || kb == B_BOOL ||
	    kb == B_OTHER) {
		tmpl__fail(x, "error calling %s: invalid type for comparison", fn);
		return 0;
	}
	if (ka != kb) {
		tmpl__fail(x, "error calling %s: incompatible types for comparison", fn);
		return 0;
	}
	*ok = true;
	if (ka == B_INT)
		return (a->i > b->i) - (a->i < b->i);
	if (ka == B_FLOAT)
		return (a->f > b->f) - (a->f < b->f);
	size_t m = a->s.n < b->s.n ? a->s.n : b->s.n;
	int c = memcmp(a->s.p, b->s.p, m);
	return c ? c : (a->s.n > b->s.n) - (a->s.n < b->s.n);
}

#define ORDER_FN(NAME, TEST)                                                                       \
	static value *fn_##NAME(struct tmpl_exec *x, value **a, int n)                             \
	{                                                                                          \
		if (n != 2)                                                                        \
			return arity(x, #NAME, 2, n);                                              \
		bool ok;                                                                           \
		int c = order(x, #NAME, a[0], a[1], &ok);                                          \
		return ok ? template_value_bool(TEST) : NULL;                                      \
	}
ORDER_FN(lt, c < 0)
ORDER_FN(le, c <= 0)
ORDER_FN(gt, c > 0)
ORDER_FN(ge, c >= 0)

/* ---- printing ---- */

/* Go's Sprint adds a space between operands when neither is a string;
 * Sprintln always does and ends with a newline. */
static value *sprint(value **a, int n, bool ln)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < n; i++) {
		bool str = a[i]->kind == TEMPLATE_STRING;
		bool prev_str = i > 0 && a[i - 1]->kind == TEMPLATE_STRING;
		if (i > 0 && (ln || (!str && !prev_str)))
			buf_putc(&b, ' ');
		tmpl__print(&b, a[i]);
	}
	if (ln)
		buf_putc(&b, '\n');
	value *v = template_value_strn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return v;
}

static value *fn_print(struct tmpl_exec *x, value **a, int n)
{
	return sprint(a, n, false);
}

static value *fn_println(struct tmpl_exec *x, value **a, int n)
{
	return sprint(a, n, true);
}

/* Go's strconv.Quote, for %q. */
static void quote(struct buf *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = c == '"'    ? "\\\""
		                : c == '\\' ? "\\\\"
		                : c == '\n' ? "\\n"
		                : c == '\t' ? "\\t"
		                : c == '\r' ? "\\r"
		                            : NULL;
		if (e)
			buf_puts(b, e);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

struct spec {
	bool minus, plus, space, zero, sharp;
	int width, prec; /* -1 when absent */
	char verb;
};

static void pad(struct buf *out, const struct spec *sp, const char *s, size_t n, bool numeric)
{
	size_t w = sp->width > 0 ? (size_t)sp->width : 0;
	size_t fill = w > n ? w - n : 0;
	if (sp->minus) {
		buf_append(out, s, n);
		for (size_t i = 0; i < fill; i++)
			buf_putc(out, ' ');
		return;
	}
	size_t sign = numeric && sp->zero && n && (s[0] == '-' || s[0] == '+');
	buf_append(out, s, sign);
	for (size_t i = 0; i < fill; i++)
		buf_putc(out, numeric && sp->zero ? '0' : ' ');
	buf_append(out, s + sign, n - sign);
}

static void format_float(struct buf *b, const struct spec *sp, double f)
{
	char fmt[16];
	if ((sp->verb == 'g' || sp->verb == 'v') && sp->prec < 0) {
		if (sp->plus && f >= 0)
			buf_putc(b, '+');
		gojson_append_float_v(b, f);
		return;
	}
	snprintf(fmt, sizeof fmt, "%%%s.*%c", sp->plus ? "+" : "",
	         sp->verb == 'v' ? 'g' : sp->verb);
	buf_printf(b, fmt, sp->prec < 0 ? 6 : sp->prec, f);
}

static void bad_verb(struct buf *b, char verb, const value *v)
{
	buf_printf(b, "%%!%c(%s=", verb, tmpl__type_name(v));
	tmpl__print(b, v);
	buf_putc(b, ')');
}

static void format_one(struct buf *out, const struct spec *sp, const value *v)
{
	struct buf b = BUF_INIT;
	bool numeric = v->kind == TEMPLATE_INT || v->kind == TEMPLATE_FLOAT;
	char verb = sp->verb;
	if (verb == 'v' && v->kind != TEMPLATE_FLOAT)
		verb = v->kind == TEMPLATE_INT ? 'd' : 's';
	if (verb == 's' && v->kind == TEMPLATE_STRING) {
		size_t n = v->s.n;
		if (sp->prec >= 0 && (size_t)sp->prec < n)
			n = (size_t)sp->prec;
		buf_append(&b, v->s.p, n);
	} else if (verb == 's' && v->kind != TEMPLATE_INT && v->kind != TEMPLATE_FLOAT) {
		tmpl__print(&b, v);
	} else if (verb == 'd' && v->kind == TEMPLATE_INT) {
		buf_printf(&b, sp->plus ? "%+lld" : "%lld", (long long)v->i);
	} else if (verb && strchr("feEgGv", verb) && numeric) { /* strchr finds the NUL too */
		struct spec f = *sp;
		f.verb = verb;
		format_float(&b, &f, v->kind == TEMPLATE_INT ? (double)v->i : v->f);
	} else if (verb == 'q' && v->kind == TEMPLATE_STRING) {
		quote(&b, v->s.p, v->s.n);
	} else if (verb == 't' && v->kind == TEMPLATE_BOOL) {
		buf_puts(&b, v->b ? "true" : "false");
	} else if ((verb == 'x' || verb == 'X') && v->kind == TEMPLATE_INT) {
		buf_printf(&b, verb == 'x' ? "%llx" : "%llX", (unsigned long long)v->i);
	} else if ((verb == 'x' || verb == 'X') && v->kind == TEMPLATE_STRING) {
		for (size_t i = 0; i < v->s.n; i++)
			buf_printf(&b, verb == 'x' ? "%02x" : "%02X", (unsigned char)v->s.p[i]);
	} else if (verb == 'c' && v->kind == TEMPLATE_INT && v->i >= 0 && v->i < 0x110000) {
		char tmp[8];
		uint32_t c = (uint32_t)v->i;
		int k = c < 0x80      ? (tmp[0] = (char)c, 1)
		        : c < 0x800   ? (tmp[0] = (char)(0xc0 | c >> 6),
                                       tmp[1] = (char)(0x80 | (c & 0x3f)), 2)
		        : c < 0x10000 ? (tmp[0] = (char)(0xe0 | c >> 12),
		                         tmp[1] = (char)(0x80 | ((c >> 6) & 0x3f)),
		                         tmp[2] = (char)(0x80 | (c & 0x3f)), 3)
		                      : (tmp[0] = (char)(0xf0 | c >> 18),
		                         tmp[1] = (char)(0x80 | ((c >> 12) & 0x3f)),
		                         tmp[2] = (char)(0x80 | ((c >> 6) & 0x3f)),
		                         tmp[3] = (char)(0x80 | (c & 0x3f)), 4);
		buf_append(&b, tmp, (size_t)k);
	} else {
		bad_verb(&b, sp->verb, v);
		numeric = false;
	}
	pad(out, sp, b.data ? b.data : "", b.len, numeric && verb != 's');
	buf_release(&b);
}

/* Parses flags, width and precision after '%'; returns the verb's index. */
static size_t parse_spec(const char *f, size_t i, size_t n, struct spec *sp)
{
	*sp = (struct spec){.width = -1, .prec = -1};
	for (; i < n && f[i] && strchr("-+ 0#", f[i]); i++) {
		sp->minus |= f[i] == '-';
		sp->plus |= f[i] == '+';
		sp->space |= f[i] == ' ';
		sp->zero |= f[i] == '0';
		sp->sharp |= f[i] == '#';
	}
	for (; i < n && f[i] >= '0' && f[i] <= '9'; i++)
		sp->width = ((sp->width < 0 ? 0 : sp->width) * 10 + (f[i] - '0')) % 1000000;
	if (i < n && f[i] == '.') {
		sp->prec = 0;
		for (i++; i < n && f[i] >= '0' && f[i] <= '9'; i++)
			sp->prec = (sp->prec * 10 + (f[i] - '0')) % 1000000;
	}
	if (sp->width > 4096)
		sp->width = 4096;
	return i;
}

static value *fn_printf(struct tmpl_exec *x, value **a, int n)
{
	if (n < 1 || a[0]->kind != TEMPLATE_STRING)
		return tmpl__fail(x, "error calling printf: the format must be a string");
	const char *f = a[0]->s.p;
	size_t len = a[0]->s.n;
	struct buf b = BUF_INIT;
	int arg = 1;
	for (size_t i = 0; i < len; i++) {
		if (f[i] != '%') {
			buf_putc(&b, f[i]);
			continue;
		}
		struct spec sp;
		i = parse_spec(f, i + 1, len, &sp);
		if (i >= len) {
			buf_puts(&b, "%!(NOVERB)");
			break;
		}
		sp.verb = f[i];
		if (sp.verb == '%')
			buf_putc(&b, '%');
		else if (arg >= n)
			buf_printf(&b, "%%!%c(MISSING)", sp.verb);
		else
			format_one(&b, &sp, a[arg++]);
	}
	for (int i = arg; i < n; i++) {
		buf_puts(&b, i == arg ? "%!(EXTRA " : ", ");
		buf_printf(&b, "%s=", tmpl__type_name(a[i]));
		tmpl__print(&b, a[i]);
		if (i == n - 1)
			buf_putc(&b, ')');
	}
	value *v = template_value_strn(b.data ? b.data : "", b.len);
	buf_release(&b);
	return v;
}

/* ---- Ollama's additions ---- */

static value *fn_json(struct tmpl_exec *x, value **a, int n)
{
	if (n != 1)
		return arity(x, "json", 1, n);
	struct buf b = BUF_INIT;
	tmpl__json(&b, a[0]);
	value *v = template_value_strn(b.data, b.len);
	buf_release(&b);
	return v;
}

static value *date(int days_back)
{
	time_t now = time(NULL) - (time_t)days_back * 86400;
	struct tm tm;
	localtime_r(&now, &tm);
	char s[16];
	strftime(s, sizeof s, "%Y-%m-%d", &tm);
	return template_value_str(s);
}

static value *fn_current_date(struct tmpl_exec *x, value **a, int n)
{
	return n ? arity(x, "currentDate", 0, n) : date(0);
}

static value *fn_yesterday_date(struct tmpl_exec *x, value **a, int n)
{
	return n ? arity(x, "yesterdayDate", 0, n) : date(1);
}

static const struct {
	const char *name;
	tmpl_fn fn;
} funcs[] = {
    {"and", NULL},
    {"or", NULL},
    {"not", fn_not},
    {"len", fn_len},
    {"index", fn_index},
    {"slice", fn_slice},
    {"eq", fn_eq},
    {"ne", fn_ne},
    {"lt", fn_lt},
    {"le", fn_le},
    {"gt", fn_gt},
    {"ge", fn_ge},
    {"print", fn_print},
    {"printf", fn_printf},
    {"println", fn_println},
    {"json", fn_json},
    {"currentDate", fn_current_date},
    {"yesterdayDate", fn_yesterday_date},
};

static int lookup(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
		if (strlen(funcs[i].name) == n && !memcmp(funcs[i].name, name, n))
			return (int)i;
	return -1;
}

bool tmpl__is_func(const char *name, size_t n)
{
	return lookup(name, n) >= 0;
}

tmpl_fn tmpl__func(const char *name, size_t n)
{
	int i = lookup(name, n);
	return i < 0 ? NULL : funcs[i].fn;
}
