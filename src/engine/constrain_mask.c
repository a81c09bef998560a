/* constrain_mask.c — which tokens may come next under a constraint.
 * The vocabulary's token bytes are sorted once per model, with each one's
 * common prefix with the one before; the mask walks them in that order and
 * resumes the automaton from the state after the shared prefix, so a step
 * feeds each distinct trie edge once and skips every token under a refused
 * prefix. Control tokens never match (only EOG ends the output). */
#include "engine/constrain_internal.h"

#include "base/mem.h"
#include "engine/tokenizer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct constrain_vocab {
	int64_t n_vocab;
	int64_t n;          /* tokens with text */
	int32_t *order;     /* (n) ids sorted by bytes */
	uint16_t *lcp;      /* (n) common prefix with the previous entry */
	const char **bytes; /* (n_vocab) piece of each id (NULL: never allowed) */
	uint16_t *len;      /* (n_vocab) */
	uint8_t *plain;     /* (n_vocab) 1: whole UTF-8 characters, no control byte, quote
	                     * or backslash: string content that changes no state */
	int max_len;
};

struct constrain_run {
	const struct constrain_prog *p;
	const struct constrain_vocab *v;
	struct constrain_state cur;
	struct constrain_state *tmp; /* (max_len + 1) states after each prefix length */
	uint64_t *allow;             /* (n_vocab bits) */
	const int32_t *eog;
	int64_t n_eog;
};

static const struct constrain_vocab *sort_vocab; /* qsort has no user pointer */

static int cmp_bytes(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	const struct constrain_vocab *v = sort_vocab;
	size_t lx = v->len[x], ly = v->len[y];
	int c = memcmp(v->bytes[x], v->bytes[y], lx < ly ? lx : ly);
	return c ? c : lx < ly ? -1 : lx > ly ? 1 : x - y;
}

static bool usable(const struct tokenizer *t, int32_t id, struct slice s)
{
	unsigned bad = TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_UNKNOWN | TOKENIZER_ATTR_UNUSED;
	return s.n > 0 && s.n <= UINT16_MAX && !(tokenizer_attr(t, id) & bad);
}

static bool is_plain(const char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t b = (uint8_t)p[i];
		int more = b < 0x80                 ? 0
		           : b >= 0xC2 && b <= 0xDF ? 1
		           : b >= 0xE0 && b <= 0xEF ? 2
		           : b >= 0xF0 && b <= 0xF4 ? 3
		                                    : -1;
		if (more < 0 || b < 0x20 || b == '"' || b == '\\' || i + more >= n)
			return false;
		for (int k = 1; k <= more; k++)
			if (((uint8_t)p[i + k] & 0xC0) != 0x80)
				return false;
		i += 1 + more;
	}
	return true;
}

struct constrain_vocab *constrain_vocab_new(const struct tokenizer *t)
{
	static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
	int64_t nv = tokenizer_n_vocab(t);
	struct constrain_vocab *v = try_calloc(1, sizeof *v);
	if (!v)
		return NULL;
	v->n_vocab = nv;
	v->order = try_malloc_array((size_t)nv, sizeof *v->order);
	v->lcp = try_malloc_array((size_t)nv, sizeof *v->lcp);
	v->bytes = try_calloc((size_t)nv, sizeof *v->bytes);
	v->len = try_calloc((size_t)nv, sizeof *v->len);
	v->plain = try_calloc((size_t)nv, sizeof *v->plain);
	if (!v->order || !v->lcp || !v->bytes || !v->len || !v->plain) {
		constrain_vocab_free(v);
		return NULL;
	}
	for (int32_t id = 0; id < nv; id++) {
		struct slice s = tokenizer_piece(t, id);
		if (!usable(t, id, s))
			continue;
		v->bytes[id] = s.p;
		v->len[id] = (uint16_t)s.n;
		v->order[v->n++] = id;
		v->plain[id] = is_plain(s.p, s.n);
		if ((int)s.n > v->max_len)
			v->max_len = (int)s.n;
	}
	pthread_mutex_lock(&sort_lock);
	sort_vocab = v;
	qsort(v->order, (size_t)v->n, sizeof *v->order, cmp_bytes);
	pthread_mutex_unlock(&sort_lock);
	for (int64_t i = 0; i < v->n; i++) {
		int32_t a = i ? v->order[i - 1] : -1, b = v->order[i];
		uint16_t k = 0;
		while (a >= 0 && k < v->len[a] && k < v->len[b] && v->bytes[a][k] == v->bytes[b][k])
			k++;
		v->lcp[i] = k;
	}
	return v;
}

void constrain_vocab_free(struct constrain_vocab *v)
{
	if (!v)
		return;
	free(v->order);
	free(v->lcp);
	free(v->bytes);
	free(v->len);
	free(v->plain);
	free(v);
}

struct constrain_run *constrain_run_new(const struct constrain_prog *p,
                                        const struct constrain_vocab *v, const struct tokenizer *t)
{
	struct constrain_run *r = try_calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->p = p;
	r->v = v;
	r->tmp = try_malloc_array((size_t)v->max_len + 1, sizeof *r->tmp);
	r->allow = try_calloc(((size_t)v->n_vocab + 63) / 64, sizeof *r->allow);
	if (!r->tmp || !r->allow) {
		constrain_run_free(r);
		return NULL;
	}
	r->eog = tokenizer_eog_ids(t, &r->n_eog);
	constrain_state_init(p, &r->cur);
	return r;
}

void constrain_run_free(struct constrain_run *r)
{
	if (!r)
		return;
	free(r->tmp);
	free(r->allow);
	free(r);
}

int64_t constrain_run_mask(struct constrain_run *r, int64_t budget, bool allow_eog)
{
	const struct constrain_vocab *v = r->v;
	memset(r->allow, 0, ((size_t)v->n_vocab + 63) / 64 * sizeof *r->allow);
	int64_t count = 0;
	int valid = 0;       /* bytes of the last walked token whose states are in tmp */
	bool failed = false; /* its byte at valid was refused */
	int common = 0;      /* common prefix of this token and the last walked one */
	bool walked = true;  /* the previous token was walked */
	bool in_str = constrain__in_plain_string(r->p, &r->cur);
	bool str_fits = in_str && constrain_state_min_close(r->p, &r->cur) <= budget - 1;
	constrain_state_copy(&r->tmp[0], &r->cur);
	for (int64_t i = 0; i < v->n; i++) {
		int32_t id = v->order[i];
		common = walked || v->lcp[i] < common ? v->lcp[i] : common;
		walked = false;
		if (in_str && v->plain[id]) { /* string content: the state stays */
			count += str_fits;
			r->allow[id >> 6] |= (uint64_t)str_fits << (id & 63);
			continue;
		}
		if (failed && common > valid)
			continue; /* shares the refused prefix */
		walked = true;
		int len = v->len[id], k = common < valid ? common : valid;
		const char *b = v->bytes[id];
		for (; k < len; k++) {
			constrain_state_copy(&r->tmp[k + 1], &r->tmp[k]);
			if (!constrain_state_feed(r->p, &r->tmp[k + 1], (uint8_t)b[k]))
				break;
		}
		valid = k;
		failed = k < len;
		if (failed || constrain_state_min_close(r->p, &r->tmp[len]) > budget - 1)
			continue;
		r->allow[id >> 6] |= 1ull << (id & 63);
		count++;
	}
	if (allow_eog && constrain_state_complete(r->p, &r->cur))
		for (int64_t i = 0; i < r->n_eog; i++, count++)
			r->allow[r->eog[i] >> 6] |= 1ull << (r->eog[i] & 63);
	return count;
}

const uint64_t *constrain_run_allowed(const struct constrain_run *r)
{
	return r->allow;
}

bool constrain_run_accept(struct constrain_run *r, int32_t id)
{
	if (id < 0 || id >= r->v->n_vocab || !r->v->bytes[id])
		return false;
	struct constrain_state s;
	constrain_state_copy(&s, &r->cur);
	if (!constrain_state_feed_n(r->p, &s, r->v->bytes[id], r->v->len[id]))
		return false;
	constrain_state_copy(&r->cur, &s);
	return true;
}

bool constrain_run_complete(const struct constrain_run *r)
{
	return constrain_state_complete(r->p, &r->cur);
}
