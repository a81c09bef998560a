/* constrain_internal.h — the frozen program's layout, shared by
 * constrain.c (builder), constrain_pda.c (automaton) and constrain_mask.c.
 * Not for callers outside these files. */
#ifndef GPURUN_ENGINE_CONSTRAIN_INTERNAL_H
#define GPURUN_ENGINE_CONSTRAIN_INTERNAL_H

#include "engine/constrain.h"

/* The largest integer magnitude: CONSTRAIN_MAX_DIGITS nines. */
#define CONSTRAIN_INT_MAX 9999999999999999LL

/* Built-in nodes of every program. */
#define CNODE_ANY   0 /* any value; also the members of a free object, items of a free array */
#define CNODE_WORDS 1 /* true, false, null */

struct cnode {
	uint8_t type;  /* enum constrain_type */
	int32_t first; /* first edge (after finish) */
	int32_t count; /* edges */
	int32_t item;  /* array: item node */
	int32_t min_items, max_items; /* array: items; string: characters (max -1: any) */
	int64_t lo, hi;               /* integer: value bounds */
	int64_t min_len;  /* fewest bytes of a value of this node */
	uint64_t lead[4]; /* bytes a value may start with (bit set) */
};

/* A property (key bytes, value node, required), a literal (bytes) or a
 * union alternative (child). */
struct cedge {
	int32_t owner;
	int32_t child;
	uint32_t off, len; /* in prog->bytes */
	bool required;
	int64_t tail; /* objects: sum over required props k >= this of
	               * (comma + key + colon + min value) bytes */
};

struct constrain_prog {
	struct cnode *nodes;
	int32_t n_nodes, cap_nodes;
	struct cedge *edges;
	int32_t n_edges, cap_edges;
	char *bytes;
	size_t n_bytes, cap_bytes;
	int32_t root;
	bool frozen;
};

static inline const struct cedge *cedge_of(const struct constrain_prog *p, int32_t node, int32_t j)
{
	return &p->edges[p->nodes[node].first + j];
}

/* tail of property j of object node (0 past the last). */
static inline int64_t cobj_tail(const struct constrain_prog *p, int32_t node, int32_t j)
{
	return j < p->nodes[node].count ? cedge_of(p, node, j)->tail : 0;
}

/* An object that accepts any members. */
static inline bool cobj_free(const struct constrain_prog *p, int32_t node)
{
	return p->nodes[node].type == CONSTRAIN_ANY || p->nodes[node].count == 0;
}

/* The top of s is inside a string with no escape or character pending and
 * no length bounds: any plain text (constrain_mask.c) keeps s as it is. */
bool constrain__in_plain_string(const struct constrain_prog *p, const struct constrain_state *s);

#endif
