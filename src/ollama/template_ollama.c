/* template_ollama.c — Ollama's use of Go templates (template/template.go):
 * Parse appends {{ .Response }} to templates that mention neither .Messages
 * nor .Response; Execute collates the chat, then either hands the whole
 * conversation to a .Messages template, or runs a legacy .System/.Prompt/
 * .Response template once per round and cuts the last round after
 * {{ .Response }} (deleteNode). Reference ollama-api.md §5.1. */
#include "ollama/template_internal.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- parse ---- */

static void append_response(struct template *t)
{
	struct tmpl_arg *a = tmpl__alloc(t, sizeof *a);
	a->type = ARG_FIELD;
	a->ident = tmpl__alloc(t, sizeof *a->ident);
	a->ident[0] = tmpl__strdup(t, "Response", 8);
	a->n_ident = 1;
	a->off = (uint32_t)t->src_len;
	struct tmpl_cmd *c = tmpl__alloc(t, sizeof *c);
	c->args = tmpl__alloc(t, sizeof *c->args);
	c->args[0] = a;
	c->n_args = 1;
	struct tmpl_pipe *p = tmpl__alloc(t, sizeof *p);
	p->cmds = tmpl__alloc(t, sizeof *p->cmds);
	p->cmds[0] = c;
	p->n_cmds = 1;
	struct tmpl_node *n = tmpl__alloc(t, sizeof *n);
	n->type = NODE_ACTION;
	n->pipe = p;
	n->off = (uint32_t)t->src_len;
	struct tmpl_node **nodes = tmpl__alloc(t, (size_t)(t->root.n + 1) * sizeof *nodes);
	if (t->root.n)
		memcpy(nodes, t->root.nodes, (size_t)t->root.n * sizeof *nodes);
	nodes[t->root.n++] = n;
	t->root.nodes = nodes;
}

/* deleteNode: a copy of the tree in which everything after the first
 * .Response field (in walk order) is gone. */
struct cutter {
	struct template *t;
	bool cut;
};

static bool response_field(const struct tmpl_arg *a)
{
	for (int i = 0; a->type == ARG_FIELD && i < a->n_ident; i++)
		if (!strcmp(a->ident[i], "Response"))
			return true;
	return false;
}

static struct tmpl_pipe *cut_pipe(struct cutter *c, const struct tmpl_pipe *p);

static struct tmpl_arg *cut_arg(struct cutter *c, struct tmpl_arg *a)
{
	if (response_field(a)) {
		c->cut = true;
		return a;
	}
	if (c->cut)
		return NULL;
	if (a->type != ARG_PIPE)
		return a;
	struct tmpl_pipe *p = cut_pipe(c, a->pipe);
	if (!p)
		return NULL;
	struct tmpl_arg *copy = tmpl__alloc(c->t, sizeof *copy);
	*copy = *a;
	copy->pipe = p;
	return copy;
}

static struct tmpl_pipe *cut_pipe(struct cutter *c, const struct tmpl_pipe *p)
{
	if (c->cut)
		return NULL;
	struct tmpl_pipe *np = tmpl__alloc(c->t, sizeof *np);
	*np = *p;
	np->cmds = tmpl__alloc(c->t, (size_t)p->n_cmds * sizeof *np->cmds);
	for (int i = 0; i < p->n_cmds; i++) {
		struct tmpl_cmd *cmd = tmpl__alloc(c->t, sizeof *cmd);
		cmd->args = tmpl__alloc(c->t, (size_t)p->cmds[i]->n_args * sizeof *cmd->args);
		for (int j = 0; j < p->cmds[i]->n_args; j++) {
			struct tmpl_arg *a = cut_arg(c, p->cmds[i]->args[j]);
			if (a)
				cmd->args[cmd->n_args++] = a;
		}
		if (cmd->n_args == 0)
			return NULL;
		np->cmds[i] = cmd;
	}
	return np;
}

static void cut_list(struct cutter *c, const struct tmpl_list *in, struct tmpl_list *out);

static struct tmpl_node *cut_node(struct cutter *c, struct tmpl_node *n)
{
	if (c->cut)
		return NULL;
	if (n->type == NODE_TEXT || n->type == NODE_BREAK || n->type == NODE_CONTINUE)
		return n;
	struct tmpl_node *copy = tmpl__alloc(c->t, sizeof *copy);
	*copy = *n;
	if (n->type == NODE_ACTION) {
		copy->pipe = cut_pipe(c, n->pipe);
		return copy->pipe ? copy : NULL;
	}
	/* if / range / with: the condition is not walked, the branches are */
	cut_list(c, &n->list, &copy->list);
	copy->has_else = n->has_else && !c->cut;
	memset(&copy->else_list, 0, sizeof copy->else_list);
	if (copy->has_else)
		cut_list(c, &n->else_list, &copy->else_list);
	return copy;
}

static void cut_list(struct cutter *c, const struct tmpl_list *in, struct tmpl_list *out)
{
	out->nodes = tmpl__alloc(c->t, (size_t)(in->n + 1) * sizeof *out->nodes);
	out->n = 0;
	for (int i = 0; i < in->n; i++) {
		struct tmpl_node *n = cut_node(c, in->nodes[i]);
		if (n)
			out->nodes[out->n++] = n;
	}
}

int template_ollama_parse(const char *text, size_t len, struct template **out,
                          char err[ERR_MSG_LEN])
{
	int rc = template_parse(text, len, out, err);
	if (rc < 0)
		return rc;
	struct template *t = *out;
	if (!template_uses(t, "messages") && !template_uses(t, "response"))
		append_response(t);
	struct cutter c = {t, false};
	cut_list(&c, &t->root, &t->cut);
	t->has_cut = true;
	t->ollama = true;
	return 0;
}

/* ---- execute ---- */

struct collated {
	const struct template_message *m; /* the first message of the run */
	struct buf content;               /* merged contents */
};

/* Ollama's collate(): system texts joined for .System; consecutive messages
 * of one role (tool excepted) merged with "\n\n". */
static size_t collate(const struct template_values *v, struct collated *out, struct buf *system)
{
	size_t n = 0, n_system = 0;
	for (size_t i = 0; i < v->n_messages; i++) {
		const struct template_message *m = &v->messages[i];
		const char *role = m->role ? m->role : "", *content = m->content ? m->content : "";
		if (!strcmp(role, "system")) {
			if (n_system++)
				buf_puts(system, "\n\n");
			buf_puts(system, content);
		}
		if (n > 0 && !strcmp(out[n - 1].m->role ? out[n - 1].m->role : "", role) &&
		    strcmp(role, "tool") != 0) {
			buf_puts(&out[n - 1].content, "\n\n");
			buf_puts(&out[n - 1].content, content);
			continue;
		}
		out[n].m = m;
		buf_init(&out[n].content);
		buf_puts(&out[n].content, content);
		n++;
	}
	return n;
}

static struct template_value *str_or_empty(const char *s)
{
	return template_value_str(s ? s : "");
}

static struct template_value *message_value(const struct collated *c)
{
	const struct template_message *m = c->m;
	struct template_value *v = template_value_map();
	template_map_set(v, "Role", str_or_empty(m->role));
	template_map_set(
	    v, "Content",
	    template_value_strn(c->content.data ? c->content.data : "", c->content.len));
	template_map_set(v, "Thinking", str_or_empty(m->thinking));
	template_map_set(v, "ToolCalls",
	                 m->tool_calls ? template_value_ref(m->tool_calls) : template_value_list());
	template_map_set(v, "ToolName", str_or_empty(m->tool_name));
	template_map_set(v, "ToolCallID", str_or_empty(m->tool_call_id));
	return v;
}

static void think_fields(struct template_value *d, const struct template_values *v)
{
	template_map_set(d, "Think", template_value_bool(v->think));
	template_map_set(d, "ThinkLevel", str_or_empty(v->think_level));
	template_map_set(d, "IsThinkSet", template_value_bool(v->is_think_set));
}

static struct template_value *legacy_data(const char *system, const char *prompt,
                                          const char *response, const struct template_values *v)
{
	struct template_value *d = template_value_map();
	template_map_set(d, "System", template_value_str(system));
	template_map_set(d, "Prompt", template_value_str(prompt));
	template_map_set(d, "Response", template_value_str(response));
	think_fields(d, v);
	return d;
}

struct legacy {
	const struct template *t;
	const struct template_values *v;
	struct buf *out;
	char *err;
	const char *system, *prompt, *response;
	struct tmpl_budget budget; /* one for all rounds: a request sets their number */
};

static int legacy_round(struct legacy *l)
{
	struct template_value *d = legacy_data(l->system, l->prompt, l->response, l->v);
	int rc = tmpl__execute_list(l->t, &l->t->root, d, l->out, &l->budget, l->err);
	template_value_free(d);
	l->system = l->prompt = l->response = "";
	return rc;
}

static int render_legacy(const struct template *t, const struct template_values *v,
                         const struct collated *msgs, size_t n, struct buf *out,
                         char err[ERR_MSG_LEN])
{
	struct legacy l = {t, v, out, err, "", "", "", {out->len, TEMPLATE_OUTPUT_MAX, 0}};
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *role = msgs[i].m->role ? msgs[i].m->role : "";
		const char *content = msgs[i].content.data ? msgs[i].content.data : "";
		if (!strcmp(role, "system")) {
			if (*l.prompt || *l.response)
				rc = legacy_round(&l);
			l.system = content;
		} else if (!strcmp(role, "user")) {
			if (*l.response)
				rc = legacy_round(&l);
			l.prompt = content;
		} else if (!strcmp(role, "assistant")) {
			l.response = content;
		}
	}
	if (rc < 0)
		return rc;
	struct template_value *d = legacy_data(l.system, l.prompt, l.response, v);
	rc = tmpl__execute_list(t, t->has_cut ? &t->cut : &t->root, d, out, &l.budget, err);
	template_value_free(d);
	return rc;
}

static struct template_value *messages_data(const struct template_values *v,
                                            const struct collated *msgs, size_t n,
                                            const char *system)
{
	struct template_value *d = template_value_map();
	template_map_set(d, "System", template_value_str(system));
	struct template_value *list = template_value_list();
	for (size_t i = 0; i < n; i++)
		template_list_append(list, message_value(&msgs[i]));
	template_map_set(d, "Messages", list);
	struct template_value *tools =
	    v->tools ? template_value_ref(v->tools) : template_value_list();
	template_value_set_json(tools, true);
	template_map_set(d, "Tools", tools);
	template_map_set(d, "Response", template_value_str(""));
	think_fields(d, v);
	return d;
}

int template_render(const struct template *t, const struct template_values *v, struct buf *out,
                    char err[ERR_MSG_LEN])
{
	if (v->prompt && *v->prompt && v->suffix && *v->suffix) {
		struct template_value *d = template_value_map();
		template_map_set(d, "Prompt", template_value_str(v->prompt));
		template_map_set(d, "Suffix", template_value_str(v->suffix));
		template_map_set(d, "Response", template_value_str(""));
		think_fields(d, v);
		int rc = template_execute(t, d, out, 0, err);
		template_value_free(d);
		return rc;
	}
	struct collated *msgs = xcalloc(v->n_messages + 1, sizeof *msgs);
	struct buf system = BUF_INIT;
	size_t n = collate(v, msgs, &system);
	const char *sys = system.data ? system.data : "";
	int rc;
	if (template_uses(t, "messages")) {
		struct template_value *d = messages_data(v, msgs, n, sys);
		rc = template_execute(t, d, out, 0, err);
		template_value_free(d);
	} else {
		rc = render_legacy(t, v, msgs, n, out, err);
	}
	for (size_t i = 0; i < n; i++)
		buf_release(&msgs[i].content);
	free(msgs);
	buf_release(&system);
	return rc;
}
