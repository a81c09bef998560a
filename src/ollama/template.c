/* template.c — struct template: its arena, parsing entry point, and the
 * identifier scan behind Ollama's Template.Vars(). The lexer, parser,
 * executor, functions, values and Ollama layer are the other template_*.c
 * files. */
#include "ollama/template_internal.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tmpl_arena_chunk {
	struct tmpl_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *tmpl__alloc(struct template *t, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct tmpl_arena_chunk *c = t->arena;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 32768 ? n : 32768;
		c = xmalloc(sizeof *c + cap);
		c->next = t->arena;
		c->used = 0;
		c->cap = cap;
		t->arena = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *tmpl__strdup(struct template *t, const char *s, size_t n)
{
	char *p = tmpl__alloc(t, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int template_parse(const char *text, size_t len, struct template **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (len > TEMPLATE_OUTPUT_MAX)
		return err_set(err, ERR_TOO_LARGE, "template: larger than %u bytes",
		               TEMPLATE_OUTPUT_MAX);
	struct template *t = xcalloc(1, sizeof *t);
	t->src = xmalloc(len + 1);
	memcpy(t->src, text, len);
	t->src[len] = '\0';
	t->src_len = len;
	int rc = tmpl__parse(t, err);
	if (rc < 0) {
		template_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void template_free(struct template *t)
{
	if (!t)
		return;
	for (struct tmpl_arena_chunk *c = t->arena, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->src);
	free(t);
}

/* ---- Ollama's Identifiers(): fields and $-paths, not chains ---- */

static bool uses_list(const struct tmpl_list *l, const char *ident);

static bool uses_pipe(const struct tmpl_pipe *p, const char *ident)
{
	for (int i = 0; p && i < p->n_cmds; i++) {
		for (int j = 0; j < p->cmds[i]->n_args; j++) {
			const struct tmpl_arg *a = p->cmds[i]->args[j];
			if (a->type == ARG_PIPE && uses_pipe(a->pipe, ident))
				return true;
			if (a->type != ARG_FIELD && a->type != ARG_VAR)
				continue;
			for (int k = 0; k < a->n_ident; k++)
				if (!strcasecmp(a->ident[k], ident))
					return true;
		}
	}
	return false;
}

static bool uses_list(const struct tmpl_list *l, const char *ident)
{
	for (int i = 0; i < l->n; i++) {
		const struct tmpl_node *n = l->nodes[i];
		if (uses_pipe(n->pipe, ident) || uses_list(&n->list, ident) ||
		    uses_list(&n->else_list, ident))
			return true;
	}
	return false;
}

bool template_uses(const struct template *t, const char *ident)
{
	return uses_list(&t->root, ident);
}
