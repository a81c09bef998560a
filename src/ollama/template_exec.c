/* template_exec.c — executing a parsed template (Go's text/template/exec.go):
 * pipelines and commands, fields on maps (a missing key is nil), variables
 * and their scopes, if / with / range with else, break and continue, and the
 * short-circuit and/or. Errors carry Go's "executing ... at <node>" form.
 * Output size and steps are bounded. Built-in functions are
 * template_funcs.c; values and printing template_value.c. */
#include "ollama/template_internal.h"

#include "base/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tmpl_var {
	const char *name;
	struct template_value *v;
};

enum flow { FLOW_NORMAL, FLOW_BREAK, FLOW_CONTINUE };

struct tmpl_exec {
	const struct template *t;
	struct buf *out;
	size_t start, max_out;
	char *err;
	int rc;
	struct tmpl_var *vars;
	int n_vars, cap_vars;
	long long steps;
	enum flow flow;
	uint32_t at_off, at_len; /* the node being evaluated, for messages */
};

struct template_value *tmpl__fail(struct tmpl_exec *x, const char *fmt, ...)
{
	if (x->rc < 0)
		return NULL;
	char msg[ERR_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int line = 1, col = 0; /* Go counts the column in bytes from 0 */
	for (uint32_t i = 0; i < x->at_off && i < x->t->src_len; i++) {
		col++;
		if (x->t->src[i] == '\n')
			line++, col = 0;
	}
	int n = x->at_len > 40 ? 40 : (int)x->at_len;
	x->rc = err_set(x->err, ERR_INVALID, "template: :%d:%d: executing \"\" at <%.*s>: %s", line,
	                col, n, x->t->src + x->at_off, msg);
	return NULL;
}

static bool step(struct tmpl_exec *x)
{
	if (x->rc < 0)
		return false;
	if (++x->steps > TMPL_MAX_STEPS) {
		tmpl__fail(x, "execution exceeded %lld steps", TMPL_MAX_STEPS);
		return false;
	}
	return true;
}

/* ---- variables ---- */

static void push_var(struct tmpl_exec *x, const char *name, struct template_value *v)
{
	if (x->n_vars == x->cap_vars) {
		x->cap_vars = x->cap_vars ? 2 * x->cap_vars : 16;
		x->vars = xrealloc(x->vars, (size_t)x->cap_vars * sizeof *x->vars);
	}
	x->vars[x->n_vars++] = (struct tmpl_var){name, template_value_ref(v)};
}

static void pop_vars(struct tmpl_exec *x, int mark)
{
	while (x->n_vars > mark)
		template_value_free(x->vars[--x->n_vars].v);
}

static struct tmpl_var *find_var(struct tmpl_exec *x, const char *name)
{
	for (int i = x->n_vars - 1; i >= 0; i--)
		if (!strcmp(x->vars[i].name, name))
			return &x->vars[i];
	return NULL;
}

static void set_var(struct tmpl_exec *x, const char *name, struct template_value *v)
{
	struct tmpl_var *var = find_var(x, name);
	if (!var) {
		tmpl__fail(x, "undefined variable: %s", name);
		return;
	}
	template_value_free(var->v);
	var->v = template_value_ref(v);
}

/* ---- evaluation ---- */

static struct template_value *eval_pipe(struct tmpl_exec *x, struct template_value *dot,
                                        const struct tmpl_pipe *pipe, bool declare);

static void at(struct tmpl_exec *x, const struct tmpl_arg *a)
{
	x->at_off = a->off;
	x->at_len = a->len;
}

/* recv.name; takes the reference to recv, returns a new one. */
static struct template_value *field(struct tmpl_exec *x, struct template_value *recv,
                                    const char *name)
{
	struct template_value *r = NULL;
	if (recv->kind == TEMPLATE_MAP) {
		r = template_map_get(recv, name);
		if (!r && recv->as_json && name[0] >= 'A' && name[0] <= 'Z') {
			/* a Go struct's field through its lowerCamel JSON key */
			char *lower = xstrdup(name);
			lower[0] = (char)(lower[0] - 'A' + 'a');
			r = template_map_get(recv, lower);
			free(lower);
		}
		r = template_value_ref(r ? r : template_value_nil());
	} else if (recv->kind == TEMPLATE_NIL) {
		tmpl__fail(x, "nil pointer evaluating interface {}.%s", name);
	} else {
		tmpl__fail(x, "can't evaluate field %s in type %s", name, tmpl__type_name(recv));
	}
	template_value_free(recv);
	return r;
}

static struct template_value *fields(struct tmpl_exec *x, struct template_value *v,
                                     char *const *ident, int n)
{
	for (int i = 0; i < n && v; i++)
		v = field(x, v, ident[i]);
	return v;
}

static struct template_value *call(struct tmpl_exec *x, struct template_value *dot,
                                   const struct tmpl_cmd *cmd, struct template_value *final);

static struct template_value *eval_arg(struct tmpl_exec *x, struct template_value *dot,
                                       const struct tmpl_arg *a)
{
	if (!step(x))
		return NULL;
	at(x, a);
	struct tmpl_var *var;
	switch (a->type) {
	case ARG_FIELD: return fields(x, template_value_ref(dot), a->ident, a->n_ident);
	case ARG_VAR:
		var = find_var(x, a->ident[0]);
		if (!var)
			return tmpl__fail(x, "undefined variable: %s", a->ident[0]);
		return fields(x, template_value_ref(var->v), a->ident + 1, a->n_ident - 1);
	case ARG_CHAIN: {
		struct template_value *v = eval_arg(x, dot, a->term);
		at(x, a);
		return v ? fields(x, v, a->ident, a->n_ident) : NULL;
	}
	case ARG_DOT: return template_value_ref(dot);
	case ARG_NIL: return template_value_nil();
	case ARG_BOOL: return template_value_bool(a->b);
	case ARG_NUMBER: return a->is_int ? template_value_int(a->i) : template_value_float(a->f);
	case ARG_STRING: return template_value_strn(a->s, a->s_len);
	case ARG_PIPE: return eval_pipe(x, dot, a->pipe, true);
	case ARG_IDENT: {
		struct tmpl_cmd c = {(struct tmpl_arg **)&a, 1};
		return call(x, dot, &c, NULL);
	}
	}
	return NULL;
}

/* and / or: evaluate lazily, return the deciding operand. */
static struct template_value *and_or(struct tmpl_exec *x, struct template_value *dot,
                                     const struct tmpl_cmd *cmd, struct template_value *final,
                                     bool is_or)
{
	int n = cmd->n_args - 1 + (final != NULL);
	if (n < 1)
		return tmpl__fail(x, "wrong number of args for %s: want at least 1 got 0",
		                  is_or ? "or" : "and");
	struct template_value *v = NULL;
	for (int i = 1; i < cmd->n_args; i++) {
		template_value_free(v);
		if (!(v = eval_arg(x, dot, cmd->args[i])))
			return NULL;
		if (tmpl__truth(v) == is_or)
			return v;
	}
	if (final) {
		template_value_free(v);
		v = template_value_ref(final);
	}
	return v;
}

static struct template_value *call(struct tmpl_exec *x, struct template_value *dot,
                                   const struct tmpl_cmd *cmd, struct template_value *final)
{
	const struct tmpl_arg *fa = cmd->args[0];
	if (!strcmp(fa->s, "and") || !strcmp(fa->s, "or"))
		return and_or(x, dot, cmd, final, fa->s[0] == 'o');
	tmpl_fn fn = tmpl__func(fa->s, fa->s_len);
	if (!fn)
		return tmpl__fail(x, "\"%s\" is not a defined function", fa->s);
	struct template_value *args[66];
	int n = 0;
	for (int i = 1; i < cmd->n_args; i++) {
		if (!(args[n] = eval_arg(x, dot, cmd->args[i])))
			break;
		n++;
	}
	struct template_value *r = NULL;
	if (x->rc == 0) {
		if (final)
			args[n++] = template_value_ref(final);
		const struct tmpl_arg *last = cmd->args[cmd->n_args - 1];
		x->at_off = fa->off; /* Go names the whole command: <index .L 5> */
		x->at_len = last->off + last->len - fa->off;
		r = fn(x, args, n);
	}
	for (int i = 0; i < n; i++)
		template_value_free(args[i]);
	return r;
}

static struct template_value *eval_command(struct tmpl_exec *x, struct template_value *dot,
                                           const struct tmpl_cmd *cmd, struct template_value *final)
{
	const struct tmpl_arg *first = cmd->args[0];
	if (first->type == ARG_IDENT)
		return call(x, dot, cmd, final);
	at(x, first);
	if (cmd->n_args > 1 || final) {
		if (first->type == ARG_FIELD || first->type == ARG_CHAIN)
			return tmpl__fail(x, "%s is not a method but has arguments",
			                  first->ident[first->n_ident - 1]);
		int n = first->len > 60 ? 60 : (int)first->len;
		return tmpl__fail(x, "can't give argument to non-function %.*s", n,
		                  x->t->src + first->off);
	}
	if (first->type == ARG_NIL)
		return tmpl__fail(x, "nil is not a command");
	return eval_arg(x, dot, first);
}

static struct template_value *eval_pipe(struct tmpl_exec *x, struct template_value *dot,
                                        const struct tmpl_pipe *pipe, bool declare)
{
	struct template_value *v = NULL;
	for (int i = 0; i < pipe->n_cmds; i++) {
		struct template_value *next = eval_command(x, dot, pipe->cmds[i], v);
		template_value_free(v);
		if (!(v = next))
			return NULL;
	}
	for (int i = 0; declare && i < pipe->n_decl; i++) {
		if (pipe->is_assign)
			set_var(x, pipe->decl[i], v);
		else
			push_var(x, pipe->decl[i], v);
	}
	return v;
}

/* ---- walking ---- */

static void walk_list(struct tmpl_exec *x, struct template_value *dot, const struct tmpl_list *l);

static void emit(struct tmpl_exec *x, const char *p, size_t n)
{
	if (x->out->len - x->start + n > x->max_out) {
		tmpl__fail(x, "output exceeds %zu bytes", x->max_out);
		return;
	}
	buf_append(x->out, p, n);
}

static void print_value(struct tmpl_exec *x, const struct template_value *v)
{
	struct buf tmp = BUF_INIT;
	tmpl__print(&tmp, v);
	emit(x, tmp.data ? tmp.data : "", tmp.len);
	buf_release(&tmp);
}

static void walk_if_with(struct tmpl_exec *x, struct template_value *dot, const struct tmpl_node *n)
{
	int mark = x->n_vars;
	struct template_value *v = eval_pipe(x, dot, n->pipe, true);
	if (v && tmpl__truth(v))
		walk_list(x, n->type == NODE_WITH ? v : dot, &n->list);
	else if (v && n->has_else)
		walk_list(x, dot, &n->else_list);
	template_value_free(v);
	pop_vars(x, mark);
}

/* One range iteration: key/index and element into the declared variables. */
static bool iterate(struct tmpl_exec *x, const struct tmpl_node *n, struct template_value *key,
                    struct template_value *elem)
{
	if (!step(x)) {
		template_value_free(key);
		return false;
	}
	int mark = x->n_vars;
	const struct tmpl_pipe *p = n->pipe;
	struct template_value *first = p->n_decl > 1 ? key : elem;
	if (p->n_decl > 0)
		p->is_assign ? set_var(x, p->decl[0], first) : push_var(x, p->decl[0], first);
	if (p->n_decl > 1)
		p->is_assign ? set_var(x, p->decl[1], elem) : push_var(x, p->decl[1], elem);
	walk_list(x, elem, &n->list);
	pop_vars(x, mark);
	template_value_free(key);
	bool go_on = x->rc == 0 && x->flow != FLOW_BREAK;
	x->flow = FLOW_NORMAL;
	return go_on;
}

static int cmp_key(const void *a, const void *b, void *map)
{
	const struct template_value *m = map;
	return strcmp(m->map.keys[*(const size_t *)a], m->map.keys[*(const size_t *)b]);
}

static void walk_range(struct tmpl_exec *x, struct template_value *dot, const struct tmpl_node *n)
{
	int mark = x->n_vars;
	struct template_value *v = eval_pipe(x, dot, n->pipe, false);
	if (!v)
		return;
	size_t count = 0;
	if (v->kind == TEMPLATE_LIST) {
		count = v->list.n;
		for (size_t i = 0;
		     i < count && iterate(x, n, template_value_int((int64_t)i), v->list.v[i]); i++)
			;
	} else if (v->kind == TEMPLATE_MAP) {
		count = v->map.n;
		size_t *order = xcalloc(count + 1, sizeof *order);
		for (size_t i = 0; i < count; i++)
			order[i] = i;
		qsort_r(order, count, sizeof *order, cmp_key, v);
		for (size_t i = 0;
		     i < count && iterate(x, n, template_value_str(v->map.keys[order[i]]),
		                          v->map.vals[order[i]]);
		     i++)
			;
		free(order);
	} else if (v->kind == TEMPLATE_INT && n->pipe->n_decl > 1) {
		tmpl__fail(x, "can't use %lld to iterate over more than one variable",
		           (long long)v->i);
	} else if (v->kind == TEMPLATE_INT) {
		count = v->i > 0 ? (size_t)v->i : 0;
		for (int64_t i = 0; i < v->i; i++) {
			struct template_value *e = template_value_int(i);
			bool go_on = iterate(x, n, NULL, e);
			template_value_free(e);
			if (!go_on)
				break;
		}
	} else if (v->kind != TEMPLATE_NIL) {
		tmpl__fail(x, "range can't iterate over %s", tmpl__type_name(v));
	}
	if (count == 0 && x->rc == 0 && n->has_else)
		walk_list(x, dot, &n->else_list);
	template_value_free(v);
	pop_vars(x, mark);
}

static void walk_node(struct tmpl_exec *x, struct template_value *dot, const struct tmpl_node *n)
{
	x->at_off = n->off;
	x->at_len = n->len;
	switch (n->type) {
	case NODE_TEXT: emit(x, n->text, n->text_len); return;
	case NODE_ACTION: {
		struct template_value *v = eval_pipe(x, dot, n->pipe, true);
		if (v && n->pipe->n_decl == 0)
			print_value(x, v);
		template_value_free(v);
		return;
	}
	case NODE_IF:
	case NODE_WITH: walk_if_with(x, dot, n); return;
	case NODE_RANGE: walk_range(x, dot, n); return;
	case NODE_BREAK: x->flow = FLOW_BREAK; return;
	case NODE_CONTINUE: x->flow = FLOW_CONTINUE; return;
	}
}

static void walk_list(struct tmpl_exec *x, struct template_value *dot, const struct tmpl_list *l)
{
	for (int i = 0; i < l->n && x->flow == FLOW_NORMAL && step(x); i++)
		walk_node(x, dot, l->nodes[i]);
}

int tmpl__execute_list(const struct template *t, const struct tmpl_list *list,
                       const struct template_value *data, struct buf *out, struct tmpl_budget *b,
                       char err[ERR_MSG_LEN])
{
	struct template_value *dot = (struct template_value *)(data ? data : template_value_nil());
	struct tmpl_exec x = {.t = t,
	                      .out = out,
	                      .start = b->start,
	                      .err = err,
	                      .max_out = b->max_out,
	                      .steps = b->steps};
	push_var(&x, "$", dot);
	walk_list(&x, dot, list);
	pop_vars(&x, 0);
	free(x.vars);
	b->steps = x.steps;
	return x.rc;
}

int template_execute(const struct template *t, const struct template_value *data, struct buf *out,
                     size_t max_output, char err[ERR_MSG_LEN])
{
	struct tmpl_budget b = {out->len, max_output ? max_output : TEMPLATE_OUTPUT_MAX, 0};
	return tmpl__execute_list(t, &t->root, data, out, &b, err);
}
