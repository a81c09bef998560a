/* constrain.c — building and checking constraint programs (constrain.h):
 * nodes and edges appended in any order, then frozen by
 * constrain_prog_finish(), which groups edges by owner, computes each node's
 * shortest value and first bytes, and refuses what the automaton cannot
 * follow. It knows nothing of JSON Schema; the server compiles that. */
#include "engine/constrain_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(void **a, int32_t *cap, int32_t need, size_t es)
{
	if (need <= *cap)
		return true;
	int32_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	size_t bytes;
	void *n = size_mul((size_t)nc, es, &bytes) ? realloc(*a, bytes) : NULL;
	if (!n)
		return false;
	*a = n;
	*cap = nc;
	return true;
}

struct constrain_prog *constrain_prog_new(void)
{
	struct constrain_prog *p = try_calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->root = -1;
	int32_t any = constrain_prog_node(p, CONSTRAIN_ANY);
	int32_t words = constrain_prog_node(p, CONSTRAIN_LITERAL);
	if (any != CNODE_ANY || words != CNODE_WORDS ||
	    constrain_prog_literal(p, words, "true", 4) ||
	    constrain_prog_literal(p, words, "false", 5) ||
	    constrain_prog_literal(p, words, "null", 4)) {
		constrain_prog_free(p);
		return NULL;
	}
	return p;
}

void constrain_prog_free(struct constrain_prog *p)
{
	if (!p)
		return;
	free(p->nodes);
	free(p->edges);
	free(p->bytes);
	free(p);
}

int32_t constrain_prog_node(struct constrain_prog *p, enum constrain_type type)
{
	if (p->frozen || (unsigned)type > CONSTRAIN_UNION)
		return ERR_INVALID;
	if (!grow((void **)&p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof *p->nodes))
		return ERR_NOMEM;
	p->nodes[p->n_nodes] = (struct cnode){.type = (uint8_t)type,
	                                      .item = CNODE_ANY,
	                                      .max_items = -1,
	                                      .lo = -CONSTRAIN_INT_MAX,
	                                      .hi = CONSTRAIN_INT_MAX};
	return p->n_nodes++;
}

static bool valid_node(const struct constrain_prog *p, int32_t id)
{
	return id >= 0 && id < p->n_nodes;
}

static int add_edge(struct constrain_prog *p, int32_t owner, int32_t child, const char *b,
                    size_t len, bool required)
{
	if (p->frozen || len > UINT16_MAX)
		return ERR_INVALID;
	if (!grow((void **)&p->edges, &p->cap_edges, p->n_edges + 1, sizeof *p->edges))
		return ERR_NOMEM;
	if (p->n_bytes + len > p->cap_bytes) {
		size_t nc = (p->cap_bytes ? p->cap_bytes * 2 : 256) + len;
		char *nb = realloc(p->bytes, nc);
		if (!nb)
			return ERR_NOMEM;
		p->bytes = nb;
		p->cap_bytes = nc;
	}
	if (len)
		memcpy(p->bytes + p->n_bytes, b, len);
	p->edges[p->n_edges++] = (struct cedge){.owner = owner,
	                                        .child = child,
	                                        .off = (uint32_t)p->n_bytes,
	                                        .len = (uint32_t)len,
	                                        .required = required};
	p->n_bytes += len;
	p->nodes[owner].count++;
	return 0;
}

int constrain_prog_prop(struct constrain_prog *p, int32_t obj, const char *key, size_t len,
                        bool required, int32_t value)
{
	if (!valid_node(p, obj) || !valid_node(p, value) ||
	    p->nodes[obj].type != CONSTRAIN_OBJECT || len < 2 || key[0] != '"' ||
	    key[len - 1] != '"')
		return ERR_INVALID;
	return add_edge(p, obj, value, key, len, required);
}

int constrain_prog_items(struct constrain_prog *p, int32_t arr, int32_t item, int32_t min,
                         int32_t max)
{
	if (p->frozen || !valid_node(p, arr) || !valid_node(p, item) ||
	    p->nodes[arr].type != CONSTRAIN_ARRAY || min < 0 || (max >= 0 && max < min))
		return ERR_INVALID;
	p->nodes[arr].item = item;
	p->nodes[arr].min_items = min;
	p->nodes[arr].max_items = max;
	return 0;
}

int constrain_prog_length(struct constrain_prog *p, int32_t str, int32_t min, int32_t max)
{
	if (p->frozen || !valid_node(p, str) || p->nodes[str].type != CONSTRAIN_STRING || min < 0 ||
	    (max >= 0 && max < min))
		return ERR_INVALID;
	p->nodes[str].min_items = min;
	p->nodes[str].max_items = max;
	return 0;
}

int constrain_prog_range(struct constrain_prog *p, int32_t integer, int64_t lo, int64_t hi)
{
	if (p->frozen || !valid_node(p, integer) || p->nodes[integer].type != CONSTRAIN_INTEGER ||
	    lo > hi || lo < -CONSTRAIN_INT_MAX || hi > CONSTRAIN_INT_MAX)
		return ERR_INVALID;
	p->nodes[integer].lo = lo;
	p->nodes[integer].hi = hi;
	return 0;
}

int constrain_prog_literal(struct constrain_prog *p, int32_t lit, const char *json, size_t len)
{
	if (!valid_node(p, lit) || p->nodes[lit].type != CONSTRAIN_LITERAL || len == 0)
		return ERR_INVALID;
	return add_edge(p, lit, -1, json, len, false);
}

int constrain_prog_alt(struct constrain_prog *p, int32_t uni, int32_t alt)
{
	if (!valid_node(p, uni) || !valid_node(p, alt) || p->nodes[uni].type != CONSTRAIN_UNION)
		return ERR_INVALID;
	return add_edge(p, uni, alt, NULL, 0, false);
}

/* Groups edges by owner, keeping their order (a stable counting sort). */
static int group_edges(struct constrain_prog *p)
{
	struct cedge *sorted = try_malloc_array((size_t)p->n_edges + 1, sizeof *sorted);
	if (!sorted)
		return ERR_NOMEM;
	int32_t at = 0;
	for (int32_t i = 0; i < p->n_nodes; i++) {
		p->nodes[i].first = at;
		at += p->nodes[i].count;
	}
	int32_t *fill = try_calloc((size_t)p->n_nodes, sizeof *fill);
	if (!fill) {
		free(sorted);
		return ERR_NOMEM;
	}
	for (int32_t e = 0; e < p->n_edges; e++) {
		int32_t o = p->edges[e].owner;
		sorted[p->nodes[o].first + fill[o]++] = p->edges[e];
	}
	free(fill);
	free(p->edges);
	p->edges = sorted;
	p->cap_edges = p->n_edges + 1;
	return 0;
}

static int64_t digits(int64_t v)
{
	int64_t d = 1;
	for (; v >= 10; v /= 10)
		d++;
	return d;
}

static void lead_set(uint64_t *l, uint8_t b)
{
	l[b >> 6] |= 1ull << (b & 63);
}

static void lead_value(uint64_t *l, const char *chars)
{
	for (; *chars; chars++)
		lead_set(l, (uint8_t)*chars);
}

#define FAIL(...) (snprintf(err, ERR_MSG_LEN, __VA_ARGS__), ERR_INVALID)

static int check(struct constrain_prog *p, int32_t id, int depth, char *err);

static int check_children(struct constrain_prog *p, struct cnode *n, int depth, char *err)
{
	for (int32_t j = 0; n->type != CONSTRAIN_LITERAL && j < n->count; j++) {
		int rc = check(p, p->edges[n->first + j].child, depth + 1, err);
		if (rc)
			return rc;
	}
	return n->type == CONSTRAIN_ARRAY ? check(p, n->item, depth + 1, err) : 0;
}

static int lengths_object(struct constrain_prog *p, struct cnode *n, char *err)
{
	if (n->count > CONSTRAIN_MAX_FAN)
		return FAIL("an object has more than %d properties", CONSTRAIN_MAX_FAN);
	int64_t tail = 0;
	for (int32_t j = n->count - 1; j >= 0; j--) {
		struct cedge *e = &p->edges[n->first + j];
		if (e->required)
			tail += 1 + e->len + 1 + p->nodes[e->child].min_len;
		e->tail = tail;
	}
	n->min_len = 2 + (tail > 0 ? tail - 1 : 0);
	lead_set(n->lead, '{');
	return 0;
}

static int lengths_set(struct constrain_prog *p, struct cnode *n, char *err)
{
	if (n->count == 0)
		return FAIL("an enum or anyOf has no alternatives");
	if (n->count > CONSTRAIN_MAX_FAN)
		return FAIL("an enum or anyOf has more than %d alternatives", CONSTRAIN_MAX_FAN);
	n->min_len = INT64_MAX;
	for (int32_t j = 0; j < n->count; j++) {
		const struct cedge *e = &p->edges[n->first + j];
		uint64_t l[4] = {0};
		int64_t len = e->len;
		if (n->type == CONSTRAIN_LITERAL) {
			uint8_t c = (uint8_t)p->bytes[e->off];
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				return FAIL("a literal starts with whitespace");
			lead_set(l, c);
		} else {
			memcpy(l, p->nodes[e->child].lead, sizeof l);
			len = p->nodes[e->child].min_len;
		}
		for (int k = 0; k < 4; k++) {
			if (n->type == CONSTRAIN_UNION && (n->lead[k] & l[k]))
				return FAIL(
				    "anyOf alternatives must start with different characters "
				    "(e.g. not two strings or two numbers)");
			n->lead[k] |= l[k];
		}
		if (len < n->min_len)
			n->min_len = len;
	}
	return 0;
}

/* Computes min_len and lead of id after its children. */
static int check(struct constrain_prog *p, int32_t id, int depth, char *err)
{
	if (depth >= CONSTRAIN_MAX_DEPTH - 1)
		return FAIL("the schema nests deeper than %d levels", CONSTRAIN_MAX_DEPTH - 2);
	struct cnode *n = &p->nodes[id];
	int rc = check_children(p, n, depth, err);
	if (rc)
		return rc;
	memset(n->lead, 0, sizeof n->lead);
	switch ((enum constrain_type)n->type) {
	case CONSTRAIN_ANY:
		n->min_len = 1;
		lead_value(n->lead, "{[\"-0123456789tfn");
		return 0;
	case CONSTRAIN_OBJECT: return lengths_object(p, n, err);
	case CONSTRAIN_ARRAY: {
		int64_t m = n->min_items, l = p->nodes[n->item].min_len;
		n->min_len = 1 + (m == 0 ? 1 : m * (l + 1));
		lead_set(n->lead, '[');
		return 0;
	}
	case CONSTRAIN_STRING:
		n->min_len = 2 + n->min_items;
		lead_set(n->lead, '"');
		return 0;
	case CONSTRAIN_NUMBER:
		n->min_len = 1;
		lead_value(n->lead, "-0123456789");
		return 0;
	case CONSTRAIN_INTEGER: /* the shortest text in [lo, hi] */
		n->min_len = n->lo > 0 ? digits(n->lo) : n->hi < 0 ? 1 + digits(-n->hi) : 1;
		lead_value(n->lead, n->lo >= 0 ? "0123456789" : n->hi < 0 ? "-" : "-0123456789");
		return 0;
	case CONSTRAIN_LITERAL:
	case CONSTRAIN_UNION: return lengths_set(p, n, err);
	}
	return FAIL("unknown node type");
}

int constrain_prog_finish(struct constrain_prog *p, int32_t root, char err[ERR_MSG_LEN])
{
	if (p->frozen || !valid_node(p, root))
		return FAIL("no root node");
	int rc = group_edges(p);
	if (rc)
		return FAIL("out of memory");
	for (int32_t i = 0; i < 2; i++)
		if ((rc = check(p, i, 0, err)))
			return rc;
	if ((rc = check(p, root, 0, err)))
		return rc;
	p->root = root;
	p->frozen = true;
	return 0;
}

struct constrain_prog *constrain_prog_json(void)
{
	struct constrain_prog *p = constrain_prog_new();
	char err[ERR_MSG_LEN];
	int32_t obj = p ? constrain_prog_node(p, CONSTRAIN_OBJECT) : -1;
	if (obj < 0 || constrain_prog_finish(p, obj, err)) {
		constrain_prog_free(p);
		return NULL;
	}
	return p;
}
