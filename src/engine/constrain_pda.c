/* constrain_pda.c — the pushdown automaton over output bytes: one frame per
 * open value (object, array, string, number, literal), JSON's grammar
 * (RFC 8259) narrowed by the program's nodes, whitespace runs capped, UTF-8
 * inside strings checked by its lead bytes. Also the fewest bytes that
 * complete a state, which lets the mask keep every output finishable. */
#include "engine/constrain_internal.h"

#include <string.h>

enum {
	S_DOC,
	S_DOC_END,
	S_VAL,
	S_OBJ_OPEN,
	S_OBJ_KEY,
	S_OBJ_GKEY,
	S_OBJ_COLON,
	S_OBJ_VALUE,
	S_OBJ_NEXT,
	S_OBJ_COMMA,
	S_ARR_OPEN,
	S_ARR_VALUE,
	S_ARR_NEXT,
	S_ARR_COMMA,
	S_STR,
	S_NUM,
	S_LIT,
};
enum { N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
/* A step's outcome: refused; consumed; consumed and the frame is finished;
 * not consumed and the frame is finished (feed the parent); not consumed,
 * the top changed (feed the new top). */
enum { R_NO, R_OK, R_DONE, R_POP, R_AGAIN };
#define ESC_AFTER_BACKSLASH 5 /* string aux; 1..4: \u hex digits still due */

static bool is_ws(uint8_t b)
{
	return b == ' ' || b == '\t' || b == '\n' || b == '\r';
}

static bool is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static bool ws_ok(uint8_t st)
{
	switch (st) {
	case S_DOC:
	case S_DOC_END:
	case S_VAL:
	case S_OBJ_OPEN:
	case S_OBJ_COLON:
	case S_OBJ_NEXT:
	case S_OBJ_COMMA:
	case S_ARR_OPEN:
	case S_ARR_NEXT:
	case S_ARR_COMMA: return true;
	}
	return false;
}

void constrain_state_init(const struct constrain_prog *p, struct constrain_state *s)
{
	s->depth = 1;
	s->ws = 0;
	s->f[0] = (struct constrain_frame){.node = p->root, .st = S_DOC};
}

void constrain_state_copy(struct constrain_state *dst, const struct constrain_state *src)
{
	memcpy(dst, src, offsetof(struct constrain_state, f) + src->depth * sizeof src->f[0]);
}

static bool push(struct constrain_state *s, int32_t node, uint8_t st)
{
	if (s->depth >= CONSTRAIN_MAX_DEPTH)
		return false;
	s->f[s->depth++] = (struct constrain_frame){.node = node, .st = st};
	return true;
}

static void child_done(struct constrain_state *s)
{
	struct constrain_frame *f = &s->f[--s->depth - 1];
	switch (f->st) {
	case S_DOC: f->st = S_DOC_END; break;
	case S_OBJ_GKEY: f->st = S_OBJ_COLON; break;
	case S_OBJ_VALUE: f->st = S_OBJ_NEXT; break;
	case S_ARR_VALUE:
		f->st = S_ARR_NEXT;
		f->idx++;
		break;
	}
}

static bool lead_has(const struct cnode *n, uint8_t b)
{
	return n->lead[b >> 6] >> (b & 63) & 1;
}

/* Literal matching shared by literal sets and object keys: the alive
 * edges whose byte at pos is b. */
static uint32_t match(const struct constrain_prog *p, int32_t node, uint32_t alive, uint16_t pos,
                      uint8_t b)
{
	uint32_t out = 0;
	for (uint32_t m = alive; m; m &= m - 1) {
		int j = __builtin_ctz(m);
		const struct cedge *e = cedge_of(p, node, j);
		if (e->len > pos && (uint8_t)p->bytes[e->off + pos] == b)
			out |= 1u << j;
	}
	return out;
}

/* -1: none of alive ends at pos; else the one that does. */
static int ended(const struct constrain_prog *p, int32_t node, uint32_t alive, uint16_t pos,
                 bool *longer)
{
	int end = -1;
	*longer = false;
	for (uint32_t m = alive; m; m &= m - 1) {
		int j = __builtin_ctz(m);
		if (cedge_of(p, node, j)->len == pos)
			end = j;
		else
			*longer = true;
	}
	return end;
}

static int lit_step(const struct constrain_prog *p, struct constrain_frame *f, uint8_t b)
{
	bool longer;
	uint32_t next = match(p, f->node, f->aux, f->pos, b);
	if (!next)
		return ended(p, f->node, f->aux, f->pos, &longer) >= 0 ? R_POP : R_NO;
	f->aux = next;
	f->pos++;
	return ended(p, f->node, next, f->pos, &longer) >= 0 && !longer ? R_DONE : R_OK;
}

static int num_step(struct constrain_frame *f, uint8_t b, bool integer)
{
	bool dig = is_digit(b), frac = !integer && b == '.',
	     exp = !integer && (b == 'e' || b == 'E');
	switch (f->n) {
	case N_MINUS:
		f->n = b == '0' ? N_ZERO : N_INT;
		f->idx = 1;
		return dig ? R_OK : R_NO;
	case N_ZERO:
	case N_INT:
	case N_FRAC:
		if (dig && f->n != N_ZERO) {
			return f->idx++ < CONSTRAIN_MAX_DIGITS ? R_OK : R_NO;
		} else if (frac && f->n != N_FRAC) {
			f->n = N_DOT;
			return R_OK;
		} else if (exp) {
			f->n = N_E;
			return R_OK;
		}
		return dig ? R_NO : R_POP;
	case N_DOT:
		f->n = N_FRAC;
		f->idx = 1;
		return dig ? R_OK : R_NO;
	case N_E:
		if (b == '+' || b == '-') {
			f->n = N_ESIGN;
			return R_OK;
		}
		/* fallthrough */
	case N_ESIGN:
		f->n = N_EXP;
		f->idx = 1;
		return dig ? R_OK : R_NO;
	case N_EXP:
		if (dig)
			return f->idx++ < 3 ? R_OK : R_NO;
		return R_POP;
	}
	return R_NO;
}

static const int64_t pow10_tab[CONSTRAIN_MAX_DIGITS + 1] = {1LL,
                                                            10LL,
                                                            100LL,
                                                            1000LL,
                                                            10000LL,
                                                            100000LL,
                                                            1000000LL,
                                                            10000000LL,
                                                            100000000LL,
                                                            1000000000LL,
                                                            10000000000LL,
                                                            100000000000LL,
                                                            1000000000000LL,
                                                            10000000000000LL,
                                                            100000000000000LL,
                                                            1000000000000000LL,
                                                            10000000000000000LL};

/* The fewest more digits after which an integer can end inside n's bounds,
 * -1 when it never can: d digits so far (0 after a lone '-') of value m, neg
 * when a '-' came first. "0" and "-0" take no more digits. */
static int int_more(const struct cnode *n, bool neg, int64_t m, int d)
{
	for (int j = 0; d + j <= CONSTRAIN_MAX_DIGITS; j++) {
		int64_t a, b;
		if (d == 0) {
			if (j == 0)
				continue;
			a = j == 1 ? 0 : pow10_tab[j - 1];
			b = pow10_tab[j] - 1;
		} else {
			if (m == 0 && j > 0)
				break;
			a = m * pow10_tab[j];
			b = a + pow10_tab[j] - 1;
		}
		if ((neg ? -b : a) <= n->hi && (neg ? -a : b) >= n->lo)
			return j;
	}
	return -1;
}

/* An INTEGER node's digits, kept only while the value can still end in
 * its bounds (f->val, f->idx digits, f->aux the sign). */
static int int_step(const struct cnode *n, struct constrain_frame *f, uint8_t b)
{
	if (!is_digit(b)) /* the number ends before b */
		return f->n != N_MINUS && int_more(n, f->aux, f->val, f->idx) == 0 ? R_POP : R_NO;
	if (f->n == N_ZERO || f->idx >= CONSTRAIN_MAX_DIGITS)
		return R_NO;
	int64_t m = f->val * 10 + (b - '0');
	if (int_more(n, f->aux, m, f->idx + 1) < 0)
		return R_NO;
	f->val = m;
	f->idx++;
	f->n = f->idx == 1 && m == 0 ? N_ZERO : N_INT;
	return R_OK;
}

static int int_start(const struct cnode *n, struct constrain_frame *f, uint8_t b)
{
	f->st = S_NUM;
	f->aux = b == '-';
	f->val = 0;
	f->idx = 0;
	f->n = N_MINUS;
	if (b == '-')
		return int_more(n, true, 0, 0) >= 0 ? R_OK : R_NO;
	return int_step(n, f, b);
}

/* A string's characters are counted as they start (f->idx) against the
 * node's bounds (min_items/max_items; a free string has none). */
static int str_step(const struct cnode *nd, struct constrain_frame *f, uint8_t b)
{
	if (f->n)
		return (b & 0xC0) == 0x80 ? (f->n--, R_OK) : R_NO;
	if (f->aux == ESC_AFTER_BACKSLASH) {
		f->aux = b == 'u' ? 4 : 0;
		return b == 'u' || (b && strchr("\"\\/bfnrt", b)) ? R_OK : R_NO;
	}
	if (f->aux) {
		bool hex = is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
		return hex ? (f->aux--, R_OK) : R_NO;
	}
	if (b == '"')
		return f->idx >= nd->min_items ? R_DONE : R_NO;
	if (nd->max_items >= 0 && f->idx >= nd->max_items)
		return R_NO;
	f->idx++;
	if (b == '\\') {
		f->aux = ESC_AFTER_BACKSLASH;
		return R_OK;
	}
	if (b < 0x20)
		return R_NO;
	f->n = b < 0x80 ? 0 : b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : 3;
	return b < 0x80 || b <= 0xF4 ? (b >= 0x80 && b < 0xC2 ? R_NO : R_OK) : R_NO;
}

/* The alternative of a union that can start with b (at most one). */
static int32_t resolve(const struct constrain_prog *p, int32_t node, uint8_t b)
{
	const struct cnode *n = &p->nodes[node];
	if (!lead_has(n, b))
		return -1;
	for (int32_t j = 0; n->type == CONSTRAIN_UNION && j < n->count; j++) {
		int32_t c = cedge_of(p, node, j)->child;
		if (lead_has(&p->nodes[c], b))
			return resolve(p, c, b);
	}
	return node;
}

static int val_start(const struct constrain_prog *p, struct constrain_frame *f, uint8_t b)
{
	int32_t node = resolve(p, f->node, b);
	if (node < 0)
		return R_NO;
	uint8_t type = p->nodes[node].type;
	f->node = node;
	if (b == '{' && (type == CONSTRAIN_ANY || type == CONSTRAIN_OBJECT))
		f->st = S_OBJ_OPEN;
	else if (b == '[' && (type == CONSTRAIN_ANY || type == CONSTRAIN_ARRAY))
		f->st = S_ARR_OPEN;
	else if (b == '"' && (type == CONSTRAIN_ANY || type == CONSTRAIN_STRING))
		f->st = S_STR;
	else if (type == CONSTRAIN_ANY && (b == 't' || b == 'f' || b == 'n'))
		f->node = CNODE_WORDS;
	else if (type == CONSTRAIN_INTEGER)
		return int_start(&p->nodes[node], f, b);
	else if (type != CONSTRAIN_LITERAL) {
		f->st = S_NUM;
		f->n = b == '-' ? N_MINUS : b == '0' ? N_ZERO : N_INT;
		f->idx = 1;
		return R_OK;
	}
	if (p->nodes[f->node].type != CONSTRAIN_LITERAL)
		return R_OK;
	f->st = S_LIT;
	f->aux = (uint32_t)(((uint64_t)1 << p->nodes[f->node].count) - 1);
	f->pos = 0;
	return lit_step(p, f, b);
}

/* Keys that may come next: from idx up to the first required one. */
static uint32_t key_candidates(const struct constrain_prog *p, const struct constrain_frame *f)
{
	uint32_t m = 0;
	for (int32_t j = f->idx; j < p->nodes[f->node].count; j++) {
		m |= 1u << j;
		if (cedge_of(p, f->node, j)->required)
			break;
	}
	return m;
}

static bool obj_close_ok(const struct constrain_prog *p, const struct constrain_frame *f)
{
	return cobj_free(p, f->node) || key_candidates(p, f) == 0 ||
	       !cedge_of(p, f->node, 31 - __builtin_clz(key_candidates(p, f)))->required;
}

static int obj_key_start(const struct constrain_prog *p, struct constrain_state *s,
                         struct constrain_frame *f)
{
	if (cobj_free(p, f->node)) {
		f->st = S_OBJ_GKEY;
		return push(s, CNODE_ANY, S_STR) ? R_OK : R_NO;
	}
	f->aux = key_candidates(p, f);
	f->pos = 1;
	f->st = S_OBJ_KEY;
	return f->aux ? R_OK : R_NO;
}

static int obj_step(const struct constrain_prog *p, struct constrain_state *s,
                    struct constrain_frame *f, uint8_t b)
{
	bool longer;
	int j;
	switch (f->st) {
	case S_OBJ_OPEN:
	case S_OBJ_COMMA:
		if (b == '}' && f->st == S_OBJ_OPEN)
			return obj_close_ok(p, f) ? R_DONE : R_NO;
		return b == '"' ? obj_key_start(p, s, f) : R_NO;
	case S_OBJ_KEY:
		f->aux = match(p, f->node, f->aux, f->pos++, b);
		if (!f->aux)
			return R_NO;
		if ((j = ended(p, f->node, f->aux, f->pos, &longer)) >= 0) {
			f->idx = j + 1;
			f->st = S_OBJ_COLON;
		}
		return R_OK;
	case S_OBJ_COLON:
		if (b != ':')
			return R_NO;
		f->st = S_OBJ_VALUE;
		j = cobj_free(p, f->node) ? CNODE_ANY : cedge_of(p, f->node, f->idx - 1)->child;
		return push(s, j, S_VAL) ? R_OK : R_NO;
	case S_OBJ_NEXT:
		if (b == '}')
			return obj_close_ok(p, f) ? R_DONE : R_NO;
		if (b != ',' || (!cobj_free(p, f->node) && f->idx >= p->nodes[f->node].count))
			return R_NO;
		f->st = S_OBJ_COMMA;
		return R_OK;
	}
	return R_NO;
}

static int arr_step(const struct constrain_prog *p, struct constrain_state *s,
                    struct constrain_frame *f, uint8_t b)
{
	const struct cnode *n = &p->nodes[f->node];
	int32_t item = n->type == CONSTRAIN_ANY ? CNODE_ANY : n->item;
	int32_t min = n->type == CONSTRAIN_ANY ? 0 : n->min_items;
	int32_t max = n->type == CONSTRAIN_ANY ? -1 : n->max_items;
	switch (f->st) {
	case S_ARR_OPEN:
		if (b == ']')
			return min == 0 ? R_DONE : R_NO;
		if (max == 0)
			return R_NO;
		break;
	case S_ARR_NEXT:
		if (b == ']')
			return f->idx >= min ? R_DONE : R_NO;
		if (b != ',' || (max >= 0 && f->idx >= max))
			return R_NO;
		f->st = S_ARR_COMMA;
		return R_OK;
	case S_ARR_COMMA: break;
	default: return R_NO;
	}
	f->st = S_ARR_VALUE;
	return push(s, item, S_VAL) ? R_AGAIN : R_NO;
}

static int step(const struct constrain_prog *p, struct constrain_state *s, uint8_t b)
{
	struct constrain_frame *f = &s->f[s->depth - 1];
	switch (f->st) {
	case S_DOC: return push(s, p->root, S_VAL) ? R_AGAIN : R_NO;
	case S_VAL: return val_start(p, f, b);
	case S_STR: return str_step(&p->nodes[f->node], f, b);
	case S_NUM:
		if (p->nodes[f->node].type == CONSTRAIN_INTEGER)
			return int_step(&p->nodes[f->node], f, b);
		return num_step(f, b, false);
	case S_LIT: return lit_step(p, f, b);
	case S_ARR_OPEN:
	case S_ARR_NEXT:
	case S_ARR_COMMA: return arr_step(p, s, f, b);
	default: return obj_step(p, s, f, b);
	}
}

/* Between tokens: nothing, one space, or a newline and at most
 * CONSTRAIN_MAX_WS spaces or tabs (llama.cpp's JSON grammar) — so a model
 * cannot spend its budget on blank lines. ws: 1 after the space, 2 + k
 * after the newline and k indents. */
static bool ws_step(struct constrain_state *s, uint8_t b)
{
	if (s->ws == 0 && (b == ' ' || b == '\n')) {
		s->ws = b == ' ' ? 1 : 2;
		return true;
	}
	if (s->ws >= 2 && s->ws < 2 + CONSTRAIN_MAX_WS && (b == ' ' || b == '\t')) {
		s->ws++;
		return true;
	}
	return false;
}

bool constrain_state_feed(const struct constrain_prog *p, struct constrain_state *s, uint8_t b)
{
	for (;;) {
		if (s->depth == 0)
			return false;
		if (is_ws(b) && ws_ok(s->f[s->depth - 1].st))
			return ws_step(s, b);
		int r = step(p, s, b);
		if (r == R_NO)
			return false;
		if (r == R_POP || r == R_DONE)
			child_done(s);
		if (r == R_OK || r == R_DONE) {
			s->ws = 0;
			return true;
		}
	}
}

bool constrain_state_feed_n(const struct constrain_prog *p, struct constrain_state *s,
                            const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!constrain_state_feed(p, s, (uint8_t)b[i]))
			return false;
	return true;
}

static bool completable(const struct constrain_prog *p, const struct constrain_frame *f)
{
	bool longer;
	if (f->st == S_NUM && p->nodes[f->node].type == CONSTRAIN_INTEGER)
		return f->n != N_MINUS && int_more(&p->nodes[f->node], f->aux, f->val, f->idx) == 0;
	if (f->st == S_NUM)
		return f->n == N_ZERO || f->n == N_INT || f->n == N_FRAC || f->n == N_EXP;
	return f->st == S_LIT && ended(p, f->node, f->aux, f->pos, &longer) >= 0;
}

bool constrain_state_complete(const struct constrain_prog *p, const struct constrain_state *s)
{
	if (s->depth == 1)
		return s->f[0].st == S_DOC_END;
	return s->depth == 2 && s->f[0].st == S_DOC && completable(p, &s->f[1]);
}

/* Fewest bytes after the key prefix of alive props: rest of the key, colon,
 * the value, the required props after it, the closing brace. */
static int64_t key_cost(const struct constrain_prog *p, const struct constrain_frame *f,
                        uint32_t alive, uint16_t pos)
{
	int64_t best = INT64_MAX;
	for (uint32_t m = alive; m; m &= m - 1) {
		int j = __builtin_ctz(m);
		const struct cedge *e = cedge_of(p, f->node, j);
		int64_t c = (int64_t)e->len - pos + 1 + p->nodes[e->child].min_len +
		            cobj_tail(p, f->node, j + 1) + 1;
		if (c < best)
			best = c;
	}
	return best == INT64_MAX ? 0 : best;
}

static int64_t obj_cost(const struct constrain_prog *p, const struct constrain_frame *f)
{
	if (cobj_free(p, f->node)) {
		switch (f->st) {
		case S_OBJ_GKEY:
		case S_OBJ_COLON: return 3;
		case S_OBJ_COMMA: return 5;
		default: return 1;
		}
	}
	switch (f->st) {
	case S_OBJ_OPEN: {
		int64_t t = cobj_tail(p, f->node, 0);
		return t > 0 ? t : 1;
	}
	case S_OBJ_COMMA: return key_cost(p, f, key_candidates(p, f), 0);
	case S_OBJ_KEY: return key_cost(p, f, f->aux, f->pos);
	case S_OBJ_COLON:
		return 1 + p->nodes[cedge_of(p, f->node, f->idx - 1)->child].min_len +
		       cobj_tail(p, f->node, f->idx) + 1;
	default: return cobj_tail(p, f->node, f->idx) + 1;
	}
}

static int64_t arr_cost(const struct constrain_prog *p, const struct constrain_frame *f)
{
	const struct cnode *n = &p->nodes[f->node];
	if (n->type == CONSTRAIN_ANY)
		return f->st == S_ARR_COMMA ? 2 : 1;
	int64_t m = n->min_items, l = p->nodes[n->item].min_len, i = f->idx;
	switch (f->st) {
	case S_ARR_OPEN: return m == 0 ? 1 : m * (l + 1);
	case S_ARR_VALUE: return (m - i - 1 > 0 ? m - i - 1 : 0) * (l + 1) + 1;
	case S_ARR_NEXT: return (m - i > 0 ? m - i : 0) * (l + 1) + 1;
	default: return l + (m - i - 1 > 0 ? m - i - 1 : 0) * (l + 1) + 1;
	}
}

static int64_t frame_cost(const struct constrain_prog *p, const struct constrain_frame *f, bool top)
{
	bool longer;
	int64_t best = INT64_MAX;
	switch (f->st) {
	case S_DOC: return top ? p->nodes[p->root].min_len : 0;
	case S_DOC_END: return 0;
	case S_VAL: return p->nodes[f->node].min_len;
	case S_STR: {
		int64_t due = p->nodes[f->node].min_items - f->idx; /* a byte each at least */
		return 1 + f->n + (f->aux == ESC_AFTER_BACKSLASH ? 1 : f->aux) +
		       (due > 0 ? due : 0);
	}
	case S_NUM:
		if (p->nodes[f->node].type == CONSTRAIN_INTEGER)
			return int_more(&p->nodes[f->node], f->aux, f->val, f->idx);
		return f->n == N_MINUS || f->n == N_DOT || f->n == N_E || f->n == N_ESIGN;
	case S_LIT:
		if (ended(p, f->node, f->aux, f->pos, &longer) >= 0)
			return 0;
		for (uint32_t m = f->aux; m; m &= m - 1) {
			int64_t c = cedge_of(p, f->node, __builtin_ctz(m))->len - f->pos;
			best = c < best ? c : best;
		}
		return best;
	case S_ARR_OPEN:
	case S_ARR_VALUE:
	case S_ARR_NEXT:
	case S_ARR_COMMA: return arr_cost(p, f);
	default: return obj_cost(p, f);
	}
}

int64_t constrain_state_min_close(const struct constrain_prog *p, const struct constrain_state *s)
{
	int64_t sum = 0;
	for (int i = 0; i < s->depth; i++)
		sum += frame_cost(p, &s->f[i], i == s->depth - 1);
	return sum;
}

bool constrain__in_plain_string(const struct constrain_prog *p, const struct constrain_state *s)
{
	const struct constrain_frame *f = &s->f[s->depth - 1];
	const struct cnode *n = &p->nodes[f->node];
	return f->st == S_STR && f->aux == 0 && f->n == 0 && n->min_items == 0 && n->max_items < 0;
}
