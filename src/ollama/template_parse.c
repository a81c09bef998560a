/* template_parse.c — the Go text/template parser (text/template/parse/
 * parse.go) over template_lex.c's tokens: lists of text and actions, if /
 * range / with with their else branches ("else if" and "else with" nest as
 * Go does), break / continue, pipelines with declarations, commands and
 * operands with chained fields. Variables and function names are checked at
 * parse time, as Go does. No execution here (template_exec.c). */
#include "ollama/template_internal.h"

#include "base/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	struct template *t;
	struct tmpl_token *toks;
	size_t n, pos;
	char *err;
	int rc;
	const char **vars;
	int n_vars, cap_vars;
	int range_depth, depth;
};

enum stop { STOP_EOF, STOP_END, STOP_ELSE };

static bool failed(const struct parser *p)
{
	return p->rc < 0;
}

__attribute__((format(printf, 2, 3))) static void perr(struct parser *p, const char *fmt, ...)
{
	if (p->rc < 0)
		return;
	char msg[ERR_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int line = p->toks[p->pos < p->n ? p->pos : p->n - 1].line;
	p->rc = err_set(p->err, ERR_INVALID, "template: :%d: %s", line, msg);
}

static const struct tmpl_token *peek(const struct parser *p)
{
	return &p->toks[p->pos];
}

static const struct tmpl_token *next(struct parser *p)
{
	const struct tmpl_token *t = &p->toks[p->pos];
	if (t->type != TK_EOF)
		p->pos++;
	return t;
}

static const char *tok_text(const struct parser *p, const struct tmpl_token *t)
{
	static _Thread_local char buf[64];
	if (t->type == TK_EOF)
		return "EOF";
	snprintf(buf, sizeof buf, "%.*s", (int)(t->len > 40 ? 40 : t->len), p->t->src + t->off);
	return buf;
}

static void unexpected(struct parser *p, const struct tmpl_token *t, const char *context)
{
	if (t->type == TK_EOF)
		perr(p, "unexpected EOF");
	else
		perr(p, "unexpected \"%s\" in %s", tok_text(p, t), context);
}

static bool expect(struct parser *p, enum tmpl_tok type, const char *context)
{
	const struct tmpl_token *t = next(p);
	if (t->type == type)
		return true;
	unexpected(p, t, context);
	return false;
}

/* ---- variables in scope ---- */

static void push_var(struct parser *p, const char *name)
{
	if (p->n_vars == p->cap_vars) {
		p->cap_vars = p->cap_vars ? 2 * p->cap_vars : 16;
		p->vars = xrealloc(p->vars, (size_t)p->cap_vars * sizeof *p->vars);
	}
	p->vars[p->n_vars++] = name;
}

static bool has_var(const struct parser *p, const char *name)
{
	for (int i = p->n_vars - 1; i >= 0; i--)
		if (!strcmp(p->vars[i], name))
			return true;
	return false;
}

/* ---- literals ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | cp >> 6));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xe0 | cp >> 12));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | cp >> 18));
		buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

/* One escape after a backslash (Go's strconv.UnquoteChar); s points past the
 * backslash. Returns bytes consumed, 0 when invalid. */
static size_t unescape(const char *s, size_t n, char quote, struct buf *out)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\";
	if (n == 0)
		return 0;
	const char *m = strchr(simple, s[0]);
	if (s[0] && m && (m - simple) % 2 == 0) {
		buf_putc(out, m[1]);
		return 1;
	}
	if (s[0] == quote) {
		buf_putc(out, quote);
		return 1;
	}
	int digits = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : s[0] == 'U' ? 8 : 0;
	uint32_t v = 0;
	if (digits) {
		if (n < (size_t)digits + 1)
			return 0;
		for (int i = 1; i <= digits; i++) {
			int h = hexval(s[i]);
			if (h < 0)
				return 0;
			v = v * 16 + (uint32_t)h;
		}
		if (s[0] == 'x')
			buf_putc(out, (char)v);
		else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
			return 0;
		else
			put_utf8(out, v);
		return (size_t)digits + 1;
	}
	if (n >= 3 && s[0] >= '0' && s[0] <= '7' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' &&
	    s[2] <= '7') {
		v = (uint32_t)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
		if (v > 255)
			return 0;
		buf_putc(out, (char)v);
		return 3;
	}
	return 0;
}

/* Decodes a "..." or `...` token into an arena string. */
static bool unquote(struct parser *p, const struct tmpl_token *t, struct tmpl_arg *a)
{
	const char *s = p->t->src + t->off + 1;
	size_t n = t->len - 2;
	if (t->type == TK_RAW) {
		struct buf b = BUF_INIT;
		for (size_t i = 0; i < n; i++) /* Go drops carriage returns from raw strings */
			if (s[i] != '\r')
				buf_putc(&b, s[i]);
		a->s = tmpl__strdup(p->t, b.data ? b.data : "", b.len);
		a->s_len = b.len;
		buf_release(&b);
		return true;
	}
	struct buf b = BUF_INIT;
	bool ok = true;
	for (size_t i = 0; i < n && ok;) {
		if (s[i] != '\\') {
			buf_putc(&b, s[i++]);
			continue;
		}
		size_t k = unescape(s + i + 1, n - i - 1, '"', &b);
		ok = k > 0;
		i += 1 + k;
	}
	if (ok) {
		a->s = tmpl__strdup(p->t, b.data ? b.data : "", b.len);
		a->s_len = b.len;
	} else {
		perr(p, "invalid syntax");
	}
	buf_release(&b);
	return ok;
}

static bool parse_char(struct parser *p, const struct tmpl_token *t, struct tmpl_arg *a)
{
	const unsigned char *s = (const unsigned char *)p->t->src + t->off + 1;
	size_t n = t->len - 2;
	struct buf b = BUF_INIT;
	size_t used = 0;
	if (n > 0 && s[0] == '\\')
		used = 1 + unescape((const char *)s + 1, n - 1, '\'', &b);
	else if (n > 0)
		buf_append(&b, s, used = n);
	uint32_t cp = 0;
	const unsigned char *u = (const unsigned char *)b.data;
	size_t bl = b.len;
	if (bl == 1)
		cp = u[0];
	else if (bl == 2 && (u[0] & 0xe0) == 0xc0)
		cp = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	else if (bl == 3 && (u[0] & 0xf0) == 0xe0)
		cp = (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
	else if (bl == 4 && (u[0] & 0xf8) == 0xf0)
		cp = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
		     (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	bool ok = bl >= 1 && bl <= 4 && used == n && (bl == 1 || cp >= 0x80);
	buf_release(&b);
	if (!ok) {
		perr(p, "malformed character constant: %s", tok_text(p, t));
		return false;
	}
	a->is_int = true;
	a->i = cp;
	return true;
}

static bool parse_number(struct parser *p, const struct tmpl_token *t, struct tmpl_arg *a)
{
	char text[128], clean[128];
	if (t->len >= sizeof text) {
		perr(p, "number syntax too long");
		return false;
	}
	memcpy(text, p->t->src + t->off, t->len);
	text[t->len] = '\0';
	size_t k = 0;
	for (size_t i = 0; text[i]; i++)
		if (text[i] != '_')
			clean[k++] = text[i];
	clean[k] = '\0';
	bool hex = strstr(clean, "0x") || strstr(clean, "0X");
	bool floaty = !hex && strpbrk(clean, ".eE");
	char *end;
	errno = 0;
	if (!floaty) {
		bool neg = clean[0] == '-';
		const char *digits = clean + (clean[0] == '-' || clean[0] == '+');
		int base = 10;
		if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
			base = 16, digits += 2;
		else if (digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O'))
			base = 8, digits += 2;
		else if (digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B'))
			base = 2, digits += 2;
		else if (digits[0] == '0' && digits[1])
			base = 8, digits += 1;
		long long v = strtoll(digits, &end, base);
		if (*end || errno || end == digits) {
			perr(p, "illegal number syntax: \"%s\"", text);
			return false;
		}
		a->is_int = true;
		a->i = neg ? -v : v;
		return true;
	}
	a->f = strtod(clean, &end);
	if (*end || errno) {
		perr(p, "illegal number syntax: \"%s\"", text);
		return false;
	}
	return true;
}

/* ---- pipelines ---- */

static struct tmpl_pipe *pipeline(struct parser *p, const char *context, enum tmpl_tok end);

static struct tmpl_arg *new_arg(struct parser *p, enum tmpl_arg_type type,
                                const struct tmpl_token *t)
{
	struct tmpl_arg *a = tmpl__alloc(p->t, sizeof *a);
	a->type = type;
	a->off = t->off;
	a->len = t->len;
	return a;
}

static void add_ident(struct parser *p, struct tmpl_arg *a, const char *s, size_t n)
{
	char **v = tmpl__alloc(p->t, (size_t)(a->n_ident + 1) * sizeof *v);
	if (a->n_ident)
		memcpy(v, a->ident, (size_t)a->n_ident * sizeof *v);
	v[a->n_ident++] = tmpl__strdup(p->t, s, n);
	a->ident = v;
}

static struct tmpl_arg *term_var(struct parser *p, const struct tmpl_token *t)
{
	struct tmpl_arg *a = new_arg(p, ARG_VAR, t);
	add_ident(p, a, p->t->src + t->off, t->len);
	if (!has_var(p, a->ident[0]))
		perr(p, "undefined variable \"%s\"", a->ident[0]);
	return a;
}

static struct tmpl_arg *term(struct parser *p)
{
	const struct tmpl_token *t = next(p);
	const char *s = p->t->src + t->off;
	struct tmpl_arg *a;
	switch (t->type) {
	case TK_IDENT:
		if (!tmpl__is_func(s, t->len))
			perr(p, "function \"%.*s\" not defined", (int)t->len, s);
		a = new_arg(p, ARG_IDENT, t);
		a->s = tmpl__strdup(p->t, s, t->len);
		a->s_len = t->len;
		return a;
	case TK_DOT: return new_arg(p, ARG_DOT, t);
	case TK_NIL: return new_arg(p, ARG_NIL, t);
	case TK_VAR: return term_var(p, t);
	case TK_FIELD:
		a = new_arg(p, ARG_FIELD, t);
		add_ident(p, a, s + 1, t->len - 1);
		return a;
	case TK_BOOL:
		a = new_arg(p, ARG_BOOL, t);
		a->b = s[0] == 't';
		return a;
	case TK_NUMBER:
		a = new_arg(p, ARG_NUMBER, t);
		parse_number(p, t, a);
		return a;
	case TK_CHAR:
		a = new_arg(p, ARG_NUMBER, t);
		parse_char(p, t, a);
		return a;
	case TK_STRING:
	case TK_RAW:
		a = new_arg(p, ARG_STRING, t);
		unquote(p, t, a);
		return a;
	case TK_LPAREN:
		if (++p->depth > TMPL_MAX_DEPTH) {
			perr(p, "max depth exceeded");
			return NULL;
		}
		a = new_arg(p, ARG_PIPE, t);
		a->pipe = pipeline(p, "parenthesized pipeline", TK_RPAREN);
		p->depth--;
		if (a->pipe)
			a->len = p->toks[p->pos - 1].off + 1 - a->off;
		return a;
	default: p->pos--; return NULL;
	}
}

static struct tmpl_arg *operand(struct parser *p)
{
	struct tmpl_arg *a = term(p);
	if (!a || failed(p) || peek(p)->type != TK_FIELD || peek(p)->space_before)
		return a;
	if (a->type == ARG_BOOL || a->type == ARG_STRING || a->type == ARG_NUMBER ||
	    a->type == ARG_NIL || a->type == ARG_DOT) {
		perr(p, "unexpected . after term \"%.*s\"", (int)a->len, p->t->src + a->off);
		return NULL;
	}
	if (a->type != ARG_FIELD && a->type != ARG_VAR) {
		struct tmpl_arg *chain = new_arg(p, ARG_CHAIN, peek(p));
		chain->off = a->off;
		chain->term = a;
		a = chain;
	}
	while (peek(p)->type == TK_FIELD && !peek(p)->space_before) {
		const struct tmpl_token *f = next(p);
		add_ident(p, a, p->t->src + f->off + 1, f->len - 1);
		a->len = f->off + f->len - a->off;
	}
	return a;
}

static struct tmpl_cmd *command(struct parser *p)
{
	struct tmpl_cmd *c = tmpl__alloc(p->t, sizeof *c);
	struct tmpl_arg *args[64];
	for (;;) {
		struct tmpl_arg *a = operand(p);
		if (failed(p))
			return NULL;
		if (a) {
			if (c->n_args == 64) {
				perr(p, "too many arguments");
				return NULL;
			}
			args[c->n_args++] = a;
		}
		const struct tmpl_token *t = peek(p);
		if (t->type == TK_RIGHT || t->type == TK_RPAREN)
			break;
		if (t->type == TK_PIPE) {
			next(p);
			break;
		}
		if (!a || !t->space_before) {
			unexpected(p, next(p), "operand");
			return NULL;
		}
	}
	if (c->n_args == 0) {
		perr(p, "empty command");
		return NULL;
	}
	c->args = tmpl__alloc(p->t, (size_t)c->n_args * sizeof *c->args);
	memcpy(c->args, args, (size_t)c->n_args * sizeof *args);
	return c;
}

static void add_decl(struct parser *p, struct tmpl_pipe *pipe, const struct tmpl_token *v)
{
	char **d = tmpl__alloc(p->t, (size_t)(pipe->n_decl + 1) * sizeof *d);
	if (pipe->n_decl)
		memcpy(d, pipe->decl, (size_t)pipe->n_decl * sizeof *d);
	d[pipe->n_decl++] = tmpl__strdup(p->t, p->t->src + v->off, v->len);
	pipe->decl = d;
}

/* "$x :=", "$x =", and in range "$i, $e :=". */
static void declarations(struct parser *p, struct tmpl_pipe *pipe, const char *context)
{
	while (!failed(p) && peek(p)->type == TK_VAR) {
		size_t save = p->pos;
		const struct tmpl_token *v = next(p);
		const struct tmpl_token *op = peek(p);
		if (op->type == TK_DECLARE || op->type == TK_ASSIGN) {
			next(p);
			pipe->is_assign = op->type == TK_ASSIGN;
			add_decl(p, pipe, v);
			const char *name = pipe->decl[pipe->n_decl - 1];
			if (pipe->is_assign && !has_var(p, name))
				perr(p, "undefined variable \"%s\"", name);
			for (int i = 0; i < pipe->n_decl; i++)
				push_var(p, pipe->decl[i]);
			return;
		}
		if (op->type == TK_COMMA) {
			next(p);
			add_decl(p, pipe, v);
			if (strcmp(context, "range") || pipe->n_decl >= 2)
				perr(p, "too many declarations in %s", context);
			else if (peek(p)->type != TK_VAR)
				perr(p, "range can only initialize variables");
			continue;
		}
		p->pos = save; /* "$x" was an operand */
		if (pipe->n_decl)
			perr(p, "range can only initialize variables");
		return;
	}
}

static struct tmpl_pipe *pipeline(struct parser *p, const char *context, enum tmpl_tok end)
{
	struct tmpl_pipe *pipe = tmpl__alloc(p->t, sizeof *pipe);
	const struct tmpl_token *first = peek(p);
	pipe->off = first->off;
	pipe->line = first->line;
	declarations(p, pipe, context);
	struct tmpl_cmd *cmds[64];
	while (!failed(p)) {
		const struct tmpl_token *t = peek(p);
		if (t->type == end) {
			next(p);
			break;
		}
		if (t->type == TK_EOF || t->type == TK_RIGHT || t->type == TK_RPAREN ||
		    t->type == TK_PIPE || t->type == TK_COMMA || t->type == TK_DECLARE ||
		    t->type == TK_ASSIGN ||
		    (t->type >= TK_IF && t->type != TK_NIL && t->type != TK_BOOL)) {
			unexpected(p, next(p), context);
			break;
		}
		if (pipe->n_cmds == 64) {
			perr(p, "pipeline too long");
			break;
		}
		struct tmpl_cmd *c = command(p);
		if (c)
			cmds[pipe->n_cmds++] = c;
	}
	if (failed(p))
		return NULL;
	if (pipe->n_cmds == 0) {
		perr(p, "missing value for %s", context);
		return NULL;
	}
	for (int i = 1; i < pipe->n_cmds; i++) {
		enum tmpl_arg_type ty = cmds[i]->args[0]->type;
		if (ty == ARG_BOOL || ty == ARG_DOT || ty == ARG_NIL || ty == ARG_NUMBER ||
		    ty == ARG_STRING) {
			perr(p, "non executable command in pipeline stage %d", i + 1);
			return NULL;
		}
	}
	pipe->cmds = tmpl__alloc(p->t, (size_t)pipe->n_cmds * sizeof *cmds);
	memcpy(pipe->cmds, cmds, (size_t)pipe->n_cmds * sizeof *cmds);
	pipe->len = p->toks[p->pos - 1].off - pipe->off;
	return pipe;
}

/* ---- lists and control structures ---- */

static void parse_list(struct parser *p, struct tmpl_list *list, enum stop *stop);

static void list_add(struct parser *p, struct tmpl_list *l, struct tmpl_node *n)
{
	struct tmpl_node **v = tmpl__alloc(p->t, (size_t)(l->n + 1) * sizeof *v);
	if (l->n)
		memcpy(v, l->nodes, (size_t)l->n * sizeof *v);
	v[l->n++] = n;
	l->nodes = v;
}

static struct tmpl_node *new_node(struct parser *p, enum tmpl_node_type type,
                                  const struct tmpl_token *t)
{
	struct tmpl_node *n = tmpl__alloc(p->t, sizeof *n);
	n->type = type;
	n->off = t->off;
	n->len = t->len;
	n->line = t->line;
	return n;
}

static struct tmpl_node *control(struct parser *p, enum tmpl_node_type type,
                                 const struct tmpl_token *kw)
{
	static const char *names[] = {
	    [NODE_IF] = "if", [NODE_RANGE] = "range", [NODE_WITH] = "with"};
	if (++p->depth > TMPL_MAX_DEPTH) {
		perr(p, "max depth exceeded");
		return NULL;
	}
	int mark = p->n_vars;
	struct tmpl_node *n = new_node(p, type, kw);
	n->pipe = pipeline(p, names[type], TK_RIGHT);
	enum stop stop = STOP_EOF;
	p->range_depth += type == NODE_RANGE;
	if (!failed(p))
		parse_list(p, &n->list, &stop);
	p->range_depth -= type == NODE_RANGE;
	if (!failed(p) && stop == STOP_ELSE) {
		n->has_else = true;
		enum tmpl_tok chain = type == NODE_IF     ? TK_IF
		                      : type == NODE_WITH ? TK_WITH
		                                          : TK_EOF;
		if (peek(p)->type == chain && chain != TK_EOF) {
			/* {{else if x}} is {{else}}{{if x}}...{{end}}{{end}}: one {{end}} closes
			 * both */
			const struct tmpl_token *kw2 = next(p);
			list_add(p, &n->else_list, control(p, type, kw2));
		} else if (expect(p, TK_RIGHT, "else")) {
			parse_list(p, &n->else_list, &stop);
			if (!failed(p) && stop != STOP_END)
				perr(p, "expected end; found %s",
				     stop == STOP_EOF ? "EOF" : "{{else}}");
		}
	} else if (!failed(p) && stop != STOP_END) {
		perr(p, "unexpected EOF");
	}
	p->n_vars = mark;
	p->depth--;
	return failed(p) ? NULL : n;
}

static struct tmpl_node *loop_control(struct parser *p, const struct tmpl_token *kw)
{
	bool brk = kw->type == TK_BREAK;
	if (!expect(p, TK_RIGHT, brk ? "{{break}}" : "{{continue}}"))
		return NULL;
	if (p->range_depth == 0) {
		perr(p, "{{%s}} outside {{range}}", brk ? "break" : "continue");
		return NULL;
	}
	return new_node(p, brk ? NODE_BREAK : NODE_CONTINUE, kw);
}

/* After "{{": one action. Sets *stop for {{end}} and {{else}}. */
static struct tmpl_node *action(struct parser *p, enum stop *stop)
{
	const struct tmpl_token *t = next(p);
	switch (t->type) {
	case TK_IF: return control(p, NODE_IF, t);
	case TK_RANGE: return control(p, NODE_RANGE, t);
	case TK_WITH: return control(p, NODE_WITH, t);
	case TK_BREAK:
	case TK_CONTINUE: return loop_control(p, t);
	case TK_END:
		if (expect(p, TK_RIGHT, "end"))
			*stop = STOP_END;
		return NULL;
	case TK_ELSE: /* control() reads the rest: "}}", or "if ..." / "with ..." */
		*stop = STOP_ELSE;
		return NULL;
	case TK_DEFINE:
	case TK_TEMPLATE:
	case TK_BLOCK: perr(p, "{{%s}} is not supported", tok_text(p, t)); return NULL;
	default: break;
	}
	p->pos--;
	struct tmpl_node *n = new_node(p, NODE_ACTION, t);
	n->pipe = pipeline(p, "command", TK_RIGHT);
	return failed(p) ? NULL : n;
}

static void parse_list(struct parser *p, struct tmpl_list *list, enum stop *stop)
{
	*stop = STOP_EOF;
	while (!failed(p)) {
		const struct tmpl_token *t = next(p);
		if (t->type == TK_EOF)
			return;
		if (t->type == TK_TEXT) {
			struct tmpl_node *n = new_node(p, NODE_TEXT, t);
			n->text = p->t->src + t->off;
			n->text_len = t->len;
			list_add(p, list, n);
			continue;
		}
		if (t->type != TK_LEFT) {
			unexpected(p, t, "input");
			return;
		}
		struct tmpl_node *n = action(p, stop);
		if (n)
			list_add(p, list, n);
		if (*stop != STOP_EOF)
			return;
	}
}

int tmpl__parse(struct template *t, char err[ERR_MSG_LEN])
{
	struct parser p = {.t = t, .err = err};
	int rc = tmpl__lex(t->src, t->src_len, &p.toks, &p.n, err);
	if (rc < 0)
		return rc;
	push_var(&p, "$");
	enum stop stop;
	parse_list(&p, &t->root, &stop);
	if (!failed(&p) && stop != STOP_EOF) {
		p.pos--;
		perr(&p, "unexpected {{%s}}", stop == STOP_END ? "end" : "else");
	}
	free(p.vars);
	free(p.toks);
	return p.rc;
}
